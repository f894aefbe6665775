//! Other contexts' published events, as a consumer reads them: decoded into the publisher's
//! list; a type the list does not hold is counted and logged, never silently dropped.

use std::sync::Arc;

use callcenter_eventlog::{CommitMetadata, RecordedCommit, RecordedEvent, StreamKey, Timestamp};
use callcenter_kit::published;
use callcenter_proto::routing::v1 as routing;
use prost::Message;

fn event(event_type: &str, payload: Vec<u8>) -> RecordedEvent {
    RecordedEvent {
        commit: Arc::new(RecordedCommit {
            position: 7,
            stream: StreamKey::new("acme", "routing", "queue", "general").unwrap(),
            metadata: CommitMetadata::default(),
        }),
        version: 1,
        event_id: "e1".into(),
        event_type: event_type.into(),
        schema_version: 1,
        occurred_at: Timestamp::from_unix_millis(1_796_113_807_000),
        payload: payload.into(),
    }
}

#[test]
fn a_published_event_is_decoded_and_an_unknown_one_is_counted() {
    let _telemetry = callcenter_telemetry::init(&callcenter_telemetry::TelemetryConfig {
        service_name: "kit-test".into(),
        log_filter: "off".into(),
        log_format: callcenter_telemetry::LogFormat::Text,
        otlp_endpoint: None,
    });
    let created = routing::QueueCreated {
        display_name: "General".into(),
        center_id: "langfang".into(),
        ..Default::default()
    };
    let known = event(
        "callcenter.routing.v1.QueueCreated",
        created.encode_to_vec(),
    );
    let decoded = published::<routing::queue_events::Event>("a-consumer", &known).unwrap();
    assert_eq!(
        decoded,
        Some(routing::queue_events::Event::QueueCreated(created))
    );
    // A queue event this release does not know: counted under the consumer's name.
    let unknown = event("callcenter.routing.v1.QueueRenamed", Vec::new());
    let decoded = published::<routing::queue_events::Event>("a-consumer", &unknown).unwrap();
    assert_eq!(decoded, None);
    let metrics = callcenter_telemetry::metrics::prometheus_text();
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("callcenter_unknown_events_total")
                && line.contains(r#"consumer="a-consumer""#)
                && line.contains(r#"event_type="callcenter.routing.v1.QueueRenamed""#)
                && line.ends_with(" 1")),
        "{metrics}"
    );
    // A known type whose payload is broken is an error, not an unknown event.
    let broken = event("callcenter.routing.v1.QueueCreated", vec![0xff, 0xff]);
    assert!(published::<routing::queue_events::Event>("a-consumer", &broken).is_err());
}
