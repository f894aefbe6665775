//! W3C trace context joins the caller, the gateway, the services and the commits they write.

use callcenter_e2e::{Instance, Mode};
use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_eventlog::{EventStore, StreamKey};
use callcenter_proto::telephony::v1 as telephony;
use callcenter_proto::telephony::v1::telephony_service_client::TelephonyServiceClient;
use callcenter_testkit::TempDir;
use serde_json::json;
use tonic::metadata::MetadataValue;

const HTTP_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const GRPC_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

/// The trace id of the commit that holds the first event of `stream`.
async fn stored_trace_id(store: &SqliteEventStore, stream: &StreamKey) -> String {
    let read = store.read_stream(stream, 0).await.expect("read");
    let traceparent = read.events[0]
        .commit
        .metadata
        .trace
        .traceparent
        .clone()
        .expect("a stored traceparent");
    traceparent.split('-').nth(1).expect("trace id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_trace_is_stored_with_the_commits_it_causes() {
    let directory = TempDir::new("e2e-trace");
    let data_dir = directory.path().join("data");
    let instance = Instance::start(Mode::Dev {
        data_dir: data_dir.clone(),
        extra: vec!["--no-demo".into()],
    })
    .await;
    let admin = instance.token("acme", "tenant_admin", "admin");

    // Over HTTP, through the gateway and its gRPC call to telephony.
    let traceparent = format!("00-{HTTP_TRACE}-00f067aa0ba902b7-01");
    let (status, call) = instance
        .call_with_headers(
            "POST",
            "/v1/calls",
            Some(&admin),
            Some(json!({"caller_number": "1", "dialled_number": "4000", "queue_id": "general"})),
            &[("traceparent", traceparent.as_str())],
        )
        .await;
    assert_eq!(status, 200, "{call}");
    let call_id = call["call_id"].as_str().unwrap();

    // Over gRPC, straight to telephony.
    let channel = tonic::transport::Endpoint::from_shared(instance.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(telephony::AssignNumberRequest {
        number: "4000".into(),
        queue_id: "general".into(),
        request_id: String::new(),
        ..Default::default()
    });
    let metadata = request.metadata_mut();
    metadata.insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {admin}")).unwrap(),
    );
    metadata.insert(
        "traceparent",
        MetadataValue::try_from(format!("00-{GRPC_TRACE}-b7ad6b7169203331-01")).unwrap(),
    );
    TelephonyServiceClient::new(channel)
        .assign_number(request)
        .await
        .unwrap();

    let store = SqliteEventStore::open(&data_dir.join("events.db"))
        .await
        .unwrap();
    let call_stream = StreamKey::new("acme", "telephony", "call", call_id).unwrap();
    assert_eq!(stored_trace_id(&store, &call_stream).await, HTTP_TRACE);
    let number_stream = StreamKey::new("acme", "telephony", "number", "4000").unwrap();
    assert_eq!(stored_trace_id(&store, &number_stream).await, GRPC_TRACE);
    instance.stop().await;
}

/// The trace ids of the commits of `stream` that hold an event of `event_type` (by its name's
/// end, such as `CallRinging`), with the correlation id of each.
async fn traces_of(
    store: &SqliteEventStore,
    stream: &StreamKey,
    event_type: &str,
) -> Vec<(String, String)> {
    let read = store.read_stream(stream, 0).await.expect("read");
    read.events
        .iter()
        .filter(|event| event.event_type.ends_with(event_type))
        .map(|event| {
            let metadata = &event.commit.metadata;
            let traceparent = metadata.trace.traceparent.clone().unwrap_or_default();
            let trace_id = traceparent.split('-').nth(1).unwrap_or_default().to_owned();
            (trace_id, metadata.correlation_id.clone())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_follows_a_call_from_its_report_through_the_reservation_to_the_ring() {
    let directory = TempDir::new("e2e-trace-call");
    let data_dir = directory.path().join("data");
    let instance = Instance::start(Mode::Dev {
        data_dir: data_dir.clone(),
        extra: vec!["--no-demo".into()],
    })
    .await;
    let admin = instance.token("acme", "tenant_admin", "admin");
    instance.open_general_queue(&admin).await;
    let agent = json!({"agent_id": "agent-1", "display_name": "A", "center_id": "langfang",
                       "queue_ids": ["general"]});
    instance.ok("POST", "/v1/agents", &admin, Some(agent)).await;
    for step in ["login", "ready"] {
        let path = format!("/v1/agents/agent-1/{step}");
        instance.ok("POST", &path, &admin, None).await;
    }

    // The call comes in over HTTP in the caller's trace; routing reserves the agent and
    // telephony rings them, each in a background consumer of its own.
    let traceparent = format!("00-{HTTP_TRACE}-00f067aa0ba902b7-01");
    let (status, call) = instance
        .call_with_headers(
            "POST",
            "/v1/calls",
            Some(&admin),
            Some(json!({"caller_number": "13800138000", "dialled_number": "4000"})),
            &[("traceparent", traceparent.as_str())],
        )
        .await;
    assert_eq!(status, 200, "{call}");
    let call_id = call["call_id"].as_str().unwrap().to_owned();
    let call_path = format!("/v1/calls/{call_id}");
    instance
        .poll_until(&call_path, &admin, |call| call["state"] == "ringing")
        .await;

    let store = SqliteEventStore::open(&data_dir.join("events.db"))
        .await
        .unwrap();
    let call_stream = StreamKey::new("acme", "telephony", "call", &call_id).unwrap();
    let agent_stream = StreamKey::new("acme", "routing", "agent", "agent-1").unwrap();
    let queued = traces_of(&store, &call_stream, "CallQueued").await;
    let reserved = traces_of(&store, &agent_stream, "AgentReserved").await;
    let ringing = traces_of(&store, &call_stream, "CallRinging").await;
    assert_eq!(queued.len(), 1);
    assert_eq!(reserved.len(), 1, "one reservation");
    assert_eq!(ringing.len(), 1, "one ring");
    for (hop, (trace_id, correlation_id)) in [
        ("queued", &queued[0]),
        ("reserved", &reserved[0]),
        ("ringing", &ringing[0]),
    ] {
        assert_eq!(
            trace_id, HTTP_TRACE,
            "the {hop} commit joins the caller's trace"
        );
        assert_eq!(
            correlation_id, &queued[0].1,
            "the {hop} commit shares the call's correlation"
        );
    }
    instance.stop().await;
}
