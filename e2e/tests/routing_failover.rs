//! Routing as a partitioned single writer: two routing replicas share one partition through a
//! lease in JetStream; the owner is killed with SIGKILL while calls keep coming, and the standby
//! takes over within seconds without giving any agent two calls. A standby keeps the partition
//! warm (it follows the log without routing) and resumes from that view; with the warm standby
//! turned off it resumes from the owner's snapshot.

use std::time::{Duration, Instant};

use callcenter_e2e::{Instance, Mode, delete_event_log, gateway_in_front};
use callcenter_testkit::unique_name;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_routing_replica_takes_over_within_seconds_when_the_owner_is_killed() {
    let prefix = unique_name("failover");
    let secret = unique_name("secret-of-at-least-32-characters");
    let serve = |target: &str, extra: Vec<String>| {
        Mode::serve_without_read_models(target, extra, &prefix, &secret)
    };
    let lease = || {
        ["--lease-seconds", "2", "--routing-snapshot-seconds", "1"]
            .map(str::to_owned)
            .to_vec()
    };
    let telephony = Instance::start(serve("telephony", vec![])).await;
    let owner = Instance::start(serve("routing", lease())).await;
    let took = "routing partition taken by this replica";
    wait_for("an owner", || owner.log_text().contains(took)).await;
    let standby = Instance::start(serve("routing", lease())).await;
    let gateway = gateway_in_front(&telephony, &standby, &prefix, &secret).await;

    let admin = gateway.token("acme", "tenant_admin", "admin");
    gateway.open_general_queue(&admin).await;
    for agent_id in ["agent-1", "agent-2", "agent-3"] {
        let body = json!({"agent_id": agent_id, "display_name": agent_id, "center_id": "langfang",
                          "queue_ids": ["general"]});
        gateway.ok("POST", "/v1/agents", &admin, Some(body)).await;
        for step in ["login", "ready"] {
            let path = format!("/v1/agents/{agent_id}/{step}");
            gateway.ok("POST", &path, &admin, None).await;
        }
    }
    let call = |number: &'static str| {
        let gateway = &gateway;
        let admin = &admin;
        async move {
            let body = json!({"caller_number": number, "dialled_number": "4000"});
            let call = gateway.ok("POST", "/v1/calls", admin, Some(body)).await;
            format!("/v1/calls/{}", call["call_id"].as_str().unwrap())
        }
    };
    let first = call("13800000001").await;
    let first_ringing = gateway
        .poll_until(&first, &admin, |call| call["state"] == "ringing")
        .await;
    assert!(!standby.log_text().contains(took), "the standby waits");
    // Once the owner has saved the partition, the standby follows it.
    wait_for("the standby following", || {
        standby.log_text().contains("following a routing partition")
    })
    .await;

    // The owner crashes; calls keep coming.
    owner.kill().await;
    let killed = Instant::now();
    let second = call("13800000002").await;
    let third = call("13800000003").await;
    let second_ringing = gateway
        .poll_until(&second, &admin, |call| call["state"] == "ringing")
        .await;
    let takeover = killed.elapsed();
    let third_ringing = gateway
        .poll_until(&third, &admin, |call| call["state"] == "ringing")
        .await;
    assert!(
        takeover < Duration::from_secs(5),
        "takeover took {takeover:?}"
    );
    assert!(standby.log_text().contains(took), "{}", standby.log_text());
    assert!(
        standby
            .log_text()
            .contains("routing partition resumed from the view this replica followed"),
        "the standby kept the partition warm:\n{}",
        standby.log_text()
    );
    eprintln!(
        "routing takeover after SIGKILL: {} ms",
        takeover.as_millis()
    );

    // Every call rings at its own agent; no agent holds two.
    let agents: std::collections::BTreeSet<String> =
        [&first_ringing, &second_ringing, &third_ringing]
            .iter()
            .map(|call| call["agent_id"].as_str().unwrap_or_default().to_owned())
            .collect();
    assert_eq!(agents.len(), 3, "{agents:?}");
    for agent_id in ["agent-1", "agent-2", "agent-3"] {
        let agent = gateway
            .ok("GET", &format!("/v1/agents/{agent_id}"), &admin, None)
            .await;
        assert_eq!(agent["state"], "reserved", "{agent}");
    }
    for instance in [gateway, standby, telephony] {
        instance.stop().await;
    }
    delete_event_log(&prefix).await;
}

/// The owner dies while a call rings at the agent it reserved; the agent answers and ends the
/// call before the standby takes over. The standby (not kept warm) resumes the partition from the
/// owner's snapshot and the log after it, and the agent's record shows the call as the call it
/// was (started and ended), not as a released reservation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answered_while_the_routing_owner_is_dead_stays_on_the_agents_record_after_takeover()
{
    let prefix = unique_name("takeover");
    let secret = unique_name("secret-of-at-least-32-characters");
    let serve = |target: &str, extra: Vec<String>| {
        Mode::serve_without_read_models(target, extra, &prefix, &secret)
    };
    let routing = || {
        [
            "--lease-seconds",
            "2",
            "--routing-snapshot-seconds",
            "1",
            "--routing-warm-standby",
            "false",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let telephony = Instance::start(serve("telephony", vec![])).await;
    let owner = Instance::start(serve("routing", routing())).await;
    let took = "routing partition taken by this replica";
    wait_for("an owner", || owner.log_text().contains(took)).await;
    let standby = Instance::start(serve("routing", routing())).await;
    let gateway = gateway_in_front(&telephony, &standby, &prefix, &secret).await;
    let admin = gateway.token("acme", "tenant_admin", "admin");
    let agent = gateway.token("acme", "agent", "agent-1");
    gateway.open_general_queue(&admin).await;
    let body = json!({"agent_id": "agent-1", "display_name": "Agent One", "center_id": "langfang",
                      "queue_ids": ["general"]});
    gateway.ok("POST", "/v1/agents", &admin, Some(body)).await;
    for step in ["login", "ready"] {
        let path = format!("/v1/agents/agent-1/{step}");
        gateway.ok("POST", &path, &admin, None).await;
    }
    let body = json!({"caller_number": "13800000001", "dialled_number": "4000"});
    let call = gateway.ok("POST", "/v1/calls", &admin, Some(body)).await;
    let call_path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    gateway
        .poll_until(&call_path, &admin, |call| call["state"] == "ringing")
        .await;

    // The owner has saved the partition with the ringing call in it.
    use callcenter_eventlog::{EventStore, StreamKey};
    let store = event_log(&prefix).await;
    let call_stream = StreamKey::new(
        "acme",
        "telephony",
        "call",
        call["call_id"].as_str().unwrap(),
    )
    .expect("valid names");
    let events = store
        .read_stream(&call_stream, 0)
        .await
        .expect("read the call");
    let head = events.events.last().expect("the call's events").position();
    let snapshot = callcenter_eventlog::Name::new("routing-distributor-p0").unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let saved = store.load_snapshot(&snapshot).await.expect("load");
        if saved.is_some_and(|saved| saved.position >= head) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot:\n{}",
            owner.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The owner dies; the agent answers and hangs up before anyone routes the partition.
    owner.kill().await;
    gateway
        .ok("POST", &format!("{call_path}/answer"), &agent, None)
        .await;
    gateway
        .ok("POST", &format!("{call_path}/end"), &agent, None)
        .await;
    assert!(
        !standby.log_text().contains(took),
        "the lease has not expired yet"
    );
    let agent_now = gateway
        .poll_until("/v1/agents/agent-1", &admin, |agent| {
            agent["state"] != "reserved"
        })
        .await;
    assert!(standby.log_text().contains(took), "{}", standby.log_text());
    assert!(
        standby.log_text().contains("restored from a snapshot"),
        "{}",
        standby.log_text()
    );
    assert!(
        ["after_call_work", "ready"].contains(&agent_now["state"].as_str().unwrap_or_default()),
        "{agent_now}"
    );
    let record = agent_record(&store, "acme", "agent-1").await;
    assert_eq!(
        record
            .iter()
            .filter(|kind| kind.starts_with("AgentReserv") || kind.starts_with("AgentCall"))
            .collect::<Vec<_>>(),
        ["AgentReserved", "AgentCallStarted", "AgentCallEnded"],
        "{record:?}"
    );
    for instance in [gateway, standby, telephony] {
        instance.stop().await;
    }
    delete_event_log(&prefix).await;
}

/// The test's JetStream event log.
async fn event_log(prefix: &str) -> callcenter_eventlog::jetstream::JetStreamEventStore {
    use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
    let prefix = callcenter_eventlog::Name::new(prefix).expect("valid name");
    JetStreamEventStore::connect(
        &callcenter_testkit::nats_url(),
        JetStreamConfig::new(prefix),
    )
    .await
    .expect("connect")
}

/// The kinds of an agent's events, in order (`AgentReserved`, `AgentCallStarted`, …).
async fn agent_record(
    store: &callcenter_eventlog::jetstream::JetStreamEventStore,
    tenant: &str,
    agent_id: &str,
) -> Vec<String> {
    use callcenter_eventlog::{EventStore, StreamKey};
    let stream = StreamKey::new(tenant, "routing", "agent", agent_id).expect("valid names");
    store
        .read_stream(&stream, 0)
        .await
        .expect("read the agent")
        .events
        .iter()
        .map(|event| {
            event
                .event_type
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// The simulator's last line: its figures.
fn figures(output: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|_| panic!("no figures in:\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_routing_owner_in_the_middle_of_a_simulated_spike_loses_no_call() {
    let prefix = unique_name("spike");
    let secret = unique_name("secret-of-at-least-32-characters");
    let serve = |target: &str, extra: Vec<String>| {
        Mode::serve_without_read_models(target, extra, &prefix, &secret)
    };
    let lease = || vec!["--lease-seconds".to_owned(), "2".to_owned()];
    let telephony = Instance::start(serve("telephony", vec![])).await;
    let owner = Instance::start(serve("routing", lease())).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !owner.log_text().contains("routing partition taken") {
        assert!(Instant::now() < deadline, "no owner");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let standby = Instance::start(serve("routing", lease())).await;
    let token = telephony.token("sim", "tenant_admin,partner", "simulator");
    // 16 s of calls with a 5x spike from 5 s to 11 s; the owner dies at 8 s.
    let simulation = tokio::process::Command::new(callcenter_e2e::binary())
        .args([
            "simulate",
            "--grpc",
            &telephony.grpc,
            "--routing-grpc",
            &standby.grpc,
        ])
        .args(["--token", &token, "--seconds", "16", "--spike-seconds", "6"])
        .args([
            "--agents",
            "12",
            "--calls-per-second",
            "1.5",
            "--handle-seconds",
            "2",
        ])
        .args(["--patience-seconds", "6", "--intervals", "4"])
        .kill_on_drop(true)
        .output();
    let killer = async {
        tokio::time::sleep(Duration::from_secs(8)).await;
        owner.kill().await;
    };
    let (output, ()) = tokio::join!(simulation, killer);
    let output = output.expect("run the simulator");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    let figures = figures(&output);
    let (offered, answered, abandoned) = (
        figures["offered"].as_u64().unwrap(),
        figures["answered"].as_u64().unwrap(),
        figures["abandoned"].as_u64().unwrap(),
    );
    assert!(offered > 20, "{figures}");
    assert_eq!(
        answered + abandoned,
        offered,
        "every call answered or abandoned exactly once: {figures}"
    );
    assert!(answered > 0, "{figures}");
    assert!(
        standby.log_text().contains("routing partition taken"),
        "the standby took over"
    );
    assert_no_agent_held_two_calls(&prefix, "sim").await;
    for instance in [standby, telephony] {
        instance.stop().await;
    }
    delete_event_log(&prefix).await;
}

/// Waits up to 15 s for `done`.
async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_routing_replicas_take_more_partitions_and_a_survivor_takes_them_all() {
    let prefix = unique_name("share");
    let secret = unique_name("secret-of-at-least-32-characters");
    let routing = |extra: &[&str]| {
        let flags = ["--lease-seconds", "2", "--routing-partitions", "4"]
            .iter()
            .chain(extra)
            .map(|flag| (*flag).to_owned())
            .collect();
        Mode::serve_without_read_models("routing", flags, &prefix, &secret)
    };
    let first = Instance::start(routing(&[])).await;
    wait_for("the first replica takes all four", &|| {
        first.routing_partitions_held() == 4
    })
    .await;
    let second = Instance::start(routing(&[])).await;
    wait_for("two partitions each", || {
        first.routing_partitions_held() == 2 && second.routing_partitions_held() == 2
    })
    .await;
    first.kill().await;
    let killed = Instant::now();
    wait_for("the survivor takes all four", &|| {
        second.routing_partitions_held() == 4
    })
    .await;
    eprintln!(
        "four partitions taken over in {} ms",
        killed.elapsed().as_millis()
    );
    second.stop().await;
    delete_event_log(&prefix).await;
}

/// Reads every agent event of `tenant` from the event log and checks that no agent was ever
/// reserved for, or on, a call while it held another.
async fn assert_no_agent_held_two_calls(prefix: &str, tenant: &str) {
    use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
    use callcenter_eventlog::{EventStore, Filter, Name, SubscriptionSpec};
    use callcenter_proto::routing::v1 as pb;
    use prost::Message;
    let name = |value: &str| Name::new(value).expect("valid name");
    let store = JetStreamEventStore::connect(
        &callcenter_testkit::nats_url(),
        JetStreamConfig::new(name(prefix)),
    )
    .await
    .expect("connect");
    let head = store.head().await.expect("head");
    let mut reader = store
        .subscribe(SubscriptionSpec {
            name: name(&unique_name("audit")),
            filter: Filter::all()
                .tenant(name(tenant))
                .aggregate(name("routing"), name("agent")),
            resume_after: Some(0),
            expire_when_idle: Some(Duration::from_secs(30)),
        })
        .await
        .expect("subscribe");
    let mut holding: std::collections::HashMap<String, String> = Default::default();
    let mut read = 0;
    let mut position = 0;
    while position < head {
        let batch = reader
            .next_batch(1_000, Duration::from_millis(500))
            .await
            .expect("read");
        let Some(last) = batch.last_position() else {
            break;
        };
        position = last;
        for event in &batch.events {
            read += 1;
            let agent = event.stream().aggregate_id.to_string();
            let short = event.event_type.rsplit('.').next().unwrap_or_default();
            match short {
                "AgentReserved" => {
                    let call = pb::AgentReserved::decode(event.payload.clone())
                        .expect("AgentReserved")
                        .call_id;
                    if let Some(held) = holding.insert(agent.clone(), call.clone()) {
                        panic!("{agent} was reserved for {call} while holding {held}");
                    }
                }
                "AgentReservationReleased" | "AgentCallEnded" | "AgentLoggedOut" => {
                    holding.remove(&agent);
                }
                _ => {}
            }
        }
        reader.ack(last).await.expect("ack");
    }
    assert!(read > 0, "no agent events of {tenant}");
}
