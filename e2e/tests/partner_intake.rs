//! Partner PBX intake through the running binary: a replayed stream with duplicates and reordering
//! yields exactly the same call record as the clean stream; bad events are refused one by one; the
//! watch stream delivers the tenant's call events and resumes from a position.

use std::time::Duration;

use callcenter_e2e::{Instance, Mode};
use callcenter_proto::telephony::v1 as pb;
use callcenter_proto::telephony::v1::partner_call_intake_service_client::PartnerCallIntakeServiceClient;
use callcenter_testkit::TempDir;
use futures_util::StreamExt;
use pb::partner_call_fact::{self as fact, Fact};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

fn request<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

fn at(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: 1_763_800_000 + seconds,
        nanos: 0,
    }
}

/// What an Asterisk-like PBX reports for one answered call: IVR, queue, a missed ring at
/// agent-1, answered by agent-2, hold, resume, hang-up.
fn clean_stream(call_id: &str) -> Vec<pb::PartnerCallEvent> {
    let facts = [
        (
            0,
            Fact::Offered(fact::Offered {
                caller_number: "13800138000".into(),
                dialled_number: "95158".into(),
            }),
        ),
        (
            2,
            Fact::IvrStep(fact::IvrStep {
                node_id: "main".into(),
                input: "1".into(),
            }),
        ),
        (
            4,
            Fact::Queued(fact::Queued {
                queue_id: "repairs".into(),
                priority: pb::Priority::Normal.into(),
            }),
        ),
        (
            10,
            Fact::Ringing(fact::Ringing {
                agent_id: "agent-1".into(),
            }),
        ),
        (
            25,
            Fact::Ringing(fact::Ringing {
                agent_id: "agent-2".into(),
            }),
        ),
        (
            28,
            Fact::Answered(fact::Answered {
                agent_id: "agent-2".into(),
            }),
        ),
        (40, Fact::Held(fact::Held {})),
        (50, Fact::Resumed(fact::Resumed {})),
        (
            90,
            Fact::Ended(fact::Ended {
                ended_by: pb::Party::Agent.into(),
            }),
        ),
    ];
    facts
        .into_iter()
        .enumerate()
        .map(|(index, (seconds, fact))| pb::PartnerCallEvent {
            event_id: format!("{call_id}-{index}"),
            call_id: call_id.into(),
            occurred_at: Some(at(seconds)),
            fact: Some(pb::PartnerCallFact { fact: Some(fact) }),
        })
        .collect()
}

async fn report(
    client: &mut PartnerCallIntakeServiceClient<Channel>,
    token: &str,
    events: Vec<pb::PartnerCallEvent>,
) -> Vec<pb::report_call_events_response::EventResult> {
    client
        .report_call_events(request(token, pb::ReportCallEventsRequest { events }))
        .await
        .expect("report")
        .into_inner()
        .results
}

async fn record(
    client: &mut PartnerCallIntakeServiceClient<Channel>,
    token: &str,
    call_id: &str,
) -> pb::GetReportedCallResponse {
    client
        .get_reported_call(request(
            token,
            pb::GetReportedCallRequest {
                call_id: call_id.into(),
            },
        ))
        .await
        .expect("get reported call")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_stream_with_duplicates_and_reordering_gives_the_same_record() {
    let directory = TempDir::new("e2e-intake");
    let instance = Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra: vec!["--no-demo".into()],
    })
    .await;
    let partner = instance.token("acme", "partner", "pbx-1");
    let channel = tonic::transport::Endpoint::from_shared(instance.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = PartnerCallIntakeServiceClient::new(channel);

    // The clean stream, in one request.
    let results = report(&mut client, &partner, clean_stream("ast-1001")).await;
    assert!(
        results
            .iter()
            .all(|r| r.outcome() == pb::EventOutcome::Recorded),
        "{results:?}"
    );

    // The same facts for another call: reordered (the hang-up first), with duplicates, three
    // events per request.
    let facts = clean_stream("ast-1002");
    let order = [8, 5, 0, 3, 3, 7, 1, 8, 6, 2, 4, 0, 5];
    let replay: Vec<_> = order.iter().map(|&index| facts[index].clone()).collect();
    let mut outcomes = Vec::new();
    for chunk in replay.chunks(3) {
        outcomes.extend(report(&mut client, &partner, chunk.to_vec()).await);
    }
    let duplicates = outcomes
        .iter()
        .filter(|r| r.outcome() == pb::EventOutcome::Duplicate)
        .count();
    assert_eq!(duplicates, 4, "{outcomes:?}");

    let clean = record(&mut client, &partner, "ast-1001").await;
    let replayed = record(&mut client, &partner, "ast-1002").await;
    assert_eq!((clean.event_count, replayed.event_count), (9, 9));
    let mut clean_call = clean.call.unwrap();
    let mut replayed_call = replayed.call.unwrap();
    assert_eq!(clean_call.state(), pb::CallState::Ended);
    assert_eq!(clean_call.agent_id, "agent-2");
    clean_call.call_id.clear();
    replayed_call.call_id.clear();
    assert_eq!(
        replayed_call, clean_call,
        "the same record whatever the order"
    );

    // Bad events are refused one by one; the good one in the same request is recorded.
    let mut bad_id = clean_stream("ast-1003").remove(0);
    bad_id.call_id = "ast.1003".into();
    let mut no_time = clean_stream("ast-1004").remove(0);
    no_time.occurred_at = None;
    let good = clean_stream("ast-1005").remove(0);
    let results = report(&mut client, &partner, vec![bad_id, no_time, good]).await;
    let outcomes: Vec<_> = results.iter().map(|r| r.outcome()).collect();
    assert_eq!(
        outcomes,
        vec![
            pb::EventOutcome::Rejected,
            pb::EventOutcome::Rejected,
            pb::EventOutcome::Recorded
        ]
    );
    assert!(results[0].error.contains("call_id"), "{}", results[0].error);
    assert!(
        results[1].error.contains("occurred_at"),
        "{}",
        results[1].error
    );

    // An agent may not report partner events.
    let agent = instance.token("acme", "agent", "agent-1");
    let refused = client
        .report_call_events(request(
            &agent,
            pb::ReportCallEventsRequest {
                events: clean_stream("ast-1006"),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_stream_delivers_the_tenants_call_events_and_resumes() {
    let directory = TempDir::new("e2e-watch");
    let instance = Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra: vec!["--no-demo".into()],
    })
    .await;
    let partner = instance.token("acme", "partner", "pbx-1");
    let stranger = instance.token("globex", "partner", "pbx-9");
    let channel = tonic::transport::Endpoint::from_shared(instance.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = PartnerCallIntakeServiceClient::new(channel);
    report(&mut client, &partner, clean_stream("ast-2001")).await;

    let watch = |token: &str, after: u64| {
        let mut client = client.clone();
        let request = request(
            token,
            pb::WatchCallEventsRequest {
                after_position: after,
            },
        );
        async move {
            client
                .watch_call_events(request)
                .await
                .expect("watch")
                .into_inner()
        }
    };
    let mut stream = watch(&partner, 0).await;
    let mut seen = Vec::new();
    while seen.len() < 9 {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within 10 s")
            .expect("stream open")
            .expect("no error");
        seen.push(item);
    }
    assert!(
        seen.windows(2)
            .all(|pair| pair[0].position < pair[1].position)
    );
    assert!(seen.iter().all(|item| item.call_id == "ast-2001"));
    assert!(
        seen.iter()
            .all(|item| item.event_type == "callcenter.telephony.v1.PartnerCallEventRecorded")
    );
    drop(stream);

    // Resuming after the fifth event delivers the sixth next.
    let mut resumed = watch(&partner, seen[4].position).await;
    let next = tokio::time::timeout(Duration::from_secs(10), resumed.next())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(next.position, seen[5].position);

    // Another tenant's watcher sees none of it.
    let mut other = watch(&stranger, 0).await;
    let nothing = tokio::time::timeout(Duration::from_millis(1500), other.next()).await;
    assert!(nothing.is_err(), "another tenant received {nothing:?}");
    instance.stop().await;
}
