//! `routing`: how fast the router decides, in process, with `--agents` agents (10,000) serving
//! `--queues` queues (1,000) of one tenant.
//!
//! Half of the queues route by a required skill (with a widening step), half by membership;
//! every agent serves three queues and has three skills at random levels, and all are ready.
//! Each measured decision queues one call on a random queue and asks the router what to do; the
//! chosen agent's reservation is fed back and released at once, so the floor stays the same size.
//! Figures: decisions per second and the p50/p99/max latency of one decision.
//!
//! Then end to end through NATS JetStream, in one process: calls are reported to telephony at
//! `--rate` per second, routing's distributor (holding its partition's lease) reserves an agent,
//! and the latency is from the call's report returning to the agent's `AgentReserved` event
//! arriving at a subscriber; each caller hangs up once reserved, which frees the agent.
//!
//! Last, `callcenter simulate` against `callcenter dev` (both built beside the benchmark): 120 s
//! of calls at a constant 3.75 per second, 4 s handling on 20 agents who never refuse (15
//! erlangs, 75% busy), callers who never give up; its service level (answered within 1 s)
//! beside the same calls through an ideal ACD (no routing delay, the scripted agents' answering
//! times kept: the difference is the platform's cost, exactly) and Erlang C's steady state for the load that came (one short run scatters
//! around it by a few points; `over_a_long_run_the_ideal_acd_meets_erlang_c` checks the model
//! against it within one point over ten hours of calls).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
use callcenter_eventlog::lease::LocalLeases;
use callcenter_eventlog::{EventStore, Filter, Name, SubscriptionSpec, Timestamp};
use callcenter_kit::{CommandMeta, decode_message};
use callcenter_routing::Routing;
use callcenter_routing::app::{NewAgent, NewQueue};
use callcenter_routing::domain::{
    ActionKind, AgentCommand, AgentEvent, CallPriority, QueueEvent, QueueRouting, Router, Why,
    WideningStep,
};
use callcenter_telephony::Telephony;
use callcenter_telephony::app::NewCall;
use callcenter_telephony::domain::{CallCommand, PhoneNumber, Priority};
use callcenter_testkit::unique_name;
use tokio_util::sync::CancellationToken;

use crate::Options;
use callcenter_workforce::random::Random;

fn name(value: String) -> Name {
    Name::new(value).expect("valid name")
}

fn percentile(sorted: &[u64], fraction: f64) -> u64 {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// Through routing's own API: the queue `general`, and agents `a0`, `a1`, … serving it, each
/// created, logged in at desk `desk-<n>` and ready; `meta` names each step's request and `at`
/// gives its time.
pub(crate) async fn staff_general_queue(
    routing: &Routing,
    meta: impl Fn(String) -> CommandMeta,
    agents: usize,
    mut at: impl FnMut() -> Timestamp,
) {
    let queue = NewQueue {
        display_name: "General".into(),
        center_id: name("langfang".into()),
        after_call_work_seconds: 0,
        routing_domain: None,
    };
    routing
        .create_queue(&meta("queue".into()), &name("general".into()), queue, at())
        .await
        .expect("queue");
    for index in 0..agents {
        let agent_id = name(format!("a{index}"));
        let agent = NewAgent {
            display_name: agent_id.to_string(),
            center_id: name("langfang".into()),
            queue_ids: vec![name("general".into())],
            routing_domain: None,
        };
        routing
            .create_agent(&meta(format!("create-{index}")), &agent_id, agent, at())
            .await
            .expect("agent");
        let seat = name(format!("desk-{index}"));
        for (step, command) in [
            ("login", AgentCommand::Login { seat, at: at() }),
            ("ready", AgentCommand::SetReady { at: at() }),
        ] {
            routing
                .agent_command(&meta(format!("{step}-{index}")), &agent_id, command)
                .await
                .expect("presence");
        }
    }
}

/// Offered → reserved through JetStream: `calls` calls at `rate` per second on `agents` agents;
/// returns the latencies in microseconds.
async fn end_to_end(calls: usize, rate: usize, agents: usize) -> Vec<u64> {
    let prefix = unique_name("benchroute");
    let store: Arc<dyn EventStore> = Arc::new(
        JetStreamEventStore::connect(
            &callcenter_testkit::nats_url(),
            JetStreamConfig::new(name(prefix.clone())),
        )
        .await
        .expect("connect"),
    );
    let tenant = name("bench".into());
    let meta = |step: String| CommandMeta::system(tenant.clone(), "bench", step);
    let (telephony, routing) = (
        Telephony::new(Arc::clone(&store)),
        Routing::new(Arc::clone(&store)),
    );
    let at = Timestamp::now();
    staff_general_queue(&routing, meta, agents, || at).await;
    let head = store.head().await.expect("head");
    let mut reserved = store
        .subscribe(SubscriptionSpec {
            name: name(unique_name("bench-watch")),
            filter: Filter::all().aggregate(name("routing".into()), name("agent".into())),
            resume_after: Some(head),
            expire_when_idle: Some(Duration::from_secs(60)),
        })
        .await
        .expect("subscribe");
    let stop = CancellationToken::new();
    let distributor = tokio::spawn(callcenter_routing::run_partitioned_distributors(
        Arc::clone(&store),
        Arc::new(LocalLeases::default()),
        routing.clone(),
        callcenter_routing::DistributorSettings {
            partitions: 1,
            snapshot_every: Duration::from_secs(30),
            warm_standby: false,
        },
        callcenter_routing::RoutingProgress::new(vec![tokio::sync::watch::Sender::default()]),
        stop.clone(),
    ));
    let offered: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let caller = {
        let (offered, telephony, tenant) =
            (Arc::clone(&offered), telephony.clone(), tenant.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            for index in 0..calls {
                let due = Duration::from_secs_f64(index as f64 / rate.max(1) as f64);
                tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
                let call_id = name(format!("call-{index}"));
                let call = NewCall {
                    call_id: Some(call_id.clone()),
                    caller_number: PhoneNumber::parse("13800138000").expect("number"),
                    dialled_number: PhoneNumber::parse("4000").expect("number"),
                    queue_id: Some(name("general".into())),
                    priority: Priority::Normal,
                    at: Timestamp::now(),
                };
                let meta = CommandMeta::system(tenant.clone(), "bench", format!("offer-{index}"));
                telephony.report_call(&meta, call).await.expect("report");
                offered
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(call_id.to_string(), Instant::now());
            }
        })
    };
    let mut latencies = Vec::with_capacity(calls);
    let deadline = Instant::now() + Duration::from_secs(60 + (calls / rate.max(1)) as u64);
    while latencies.len() < calls && Instant::now() < deadline {
        let batch = reserved
            .next_batch(1_000, Duration::from_millis(100))
            .await
            .expect("read");
        let seen = Instant::now();
        for event in &batch.events {
            let Ok(reservation) =
                decode_message::<callcenter_proto::routing::v1::AgentReserved>(event)
            else {
                continue;
            };
            let sent = offered
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&reservation.call_id)
                .copied();
            if let Some(sent) = sent {
                latencies.push(u64::try_from(seen.duration_since(sent).as_micros()).unwrap_or(0));
                // The caller hangs up: the agent is free for the next call.
                let call_id = name(reservation.call_id.clone());
                let meta = CommandMeta::system(tenant.clone(), "bench", format!("gone-{call_id}"));
                let gone = CallCommand::CallerHungUp {
                    at: Timestamp::now(),
                };
                let _ = telephony.handle_call(&meta, &call_id, &gone).await;
            }
        }
        if let Some(last) = batch.last_position() {
            reserved.ack(last).await.expect("ack");
        }
    }
    let _ = caller.await;
    stop.cancel();
    let _ = distributor.await;
    let jetstream = JetStreamEventStore::connect(
        &callcenter_testkit::nats_url(),
        JetStreamConfig::new(name(prefix)),
    )
    .await
    .expect("connect");
    let _ = jetstream.delete_stream().await;
    latencies
}

/// Runs the benchmark and returns its figures.
pub async fn routing(options: &Options) -> BTreeMap<&'static str, serde_json::Value> {
    let tenant = name("bench".into());
    let start = Timestamp::now();
    let mut random = Random::new(0x9E37_79B9_7F4A_7C15);
    let mut router = Router::new();
    let skills: Vec<Name> = (0..50).map(|index| name(format!("s{index}"))).collect();
    let queues: Vec<Name> = (0..options.queues)
        .map(|index| name(format!("q{index}")))
        .collect();
    for (index, queue_id) in queues.iter().enumerate() {
        router.queue_event(
            &tenant,
            queue_id,
            &QueueEvent::Created {
                display_name: queue_id.to_string(),
                center_id: name(format!("c{}", index % 10)),
                after_call_work_seconds: 0,
                routing_domain: None,
                at: start,
            },
        );
        if index % 2 == 0 {
            let routing = QueueRouting {
                required_skills: BTreeMap::from([(skills[index % skills.len()].clone(), 2)]),
                widening: vec![WideningStep {
                    after_seconds: 30,
                    min_proficiency: 1,
                    drop_skills: std::collections::BTreeSet::new(),
                }],
                ..QueueRouting::default()
            };
            router.queue_event(
                &tenant,
                queue_id,
                &QueueEvent::RoutingSet { routing, at: start },
            );
        }
    }
    let mut versions: Vec<u64> = Vec::with_capacity(options.agents);
    let agents: Vec<Name> = (0..options.agents)
        .map(|index| name(format!("a{index}")))
        .collect();
    for (index, agent_id) in agents.iter().enumerate() {
        let queue_ids = (0..3)
            .map(|_| queues[random.below(queues.len())].clone())
            .collect();
        let agent_skills = (0..3)
            .map(|_| {
                (
                    skills[random.below(skills.len())].clone(),
                    1 + random.below(5) as u8,
                )
            })
            .collect();
        let events = [
            AgentEvent::Created {
                display_name: agent_id.to_string(),
                center_id: name(format!("c{}", index % 10)),
                queue_ids,
                routing_domain: None,
                at: start,
            },
            AgentEvent::SkillsSet {
                skills: agent_skills,
                at: start,
            },
            AgentEvent::LoggedIn {
                seat: name(format!("desk-{index}")),
                at: start,
            },
            AgentEvent::Ready {
                at: start.plus_millis(index as i64),
            },
        ];
        for (version, event) in events.iter().enumerate() {
            router.agent_event(&tenant, agent_id, version as u64 + 1, event);
        }
        versions.push(events.len() as u64);
    }

    let slots: HashMap<Name, usize> = agents
        .iter()
        .enumerate()
        .map(|(slot, agent)| (agent.clone(), slot))
        .collect();
    let mut latencies_ns: Vec<u64> = Vec::with_capacity(options.decisions);
    let mut reserved = 0_usize;
    let started = Instant::now();
    for index in 0..options.decisions {
        let now = start.plus_millis(1_000 + index as i64);
        let call_id = name(format!("call-{index}"));
        let queue_id = &queues[random.below(queues.len())];
        router.call_queued(&tenant, &call_id, queue_id, CallPriority::Normal, None, now);
        let decided = Instant::now();
        let actions = router.decide(now);
        latencies_ns.push(u64::try_from(decided.elapsed().as_nanos()).unwrap_or(u64::MAX));
        router.reviewed();
        for action in actions {
            let ActionKind::Reserve {
                call_id, queue_id, ..
            } = action.kind
            else {
                continue;
            };
            reserved += 1;
            let slot = slots[&action.agent_id];
            for event in [
                AgentEvent::Reserved {
                    call_id: call_id.clone(),
                    queue_id,
                    why: Why::default(),
                    at: now,
                },
                AgentEvent::ReservationReleased {
                    call_id: call_id.clone(),
                    missed: false,
                    at: now,
                },
            ] {
                versions[slot] += 1;
                router.agent_event(&tenant, &action.agent_id, versions[slot], &event);
            }
            router.call_finished(&tenant, &call_id);
        }
        // A call nobody could take leaves, so that every decision sees the same floor.
        router.call_finished(&tenant, &call_id);
        if index % 64 == 0 {
            router.forget_finished_calls();
        }
    }
    let elapsed = started.elapsed();
    latencies_ns.sort_unstable();
    let micros = |nanos: u64| (nanos as f64 / 1_000.0 * 10.0).round() / 10.0;
    let per_second = options.decisions as f64 / elapsed.as_secs_f64();
    let (p50, p99, max) = (
        micros(percentile(&latencies_ns, 0.50)),
        micros(percentile(&latencies_ns, 0.99)),
        micros(latencies_ns.last().copied().unwrap_or_default()),
    );
    println!(
        "routing benchmark: {} decisions, {} agents, {} queues (one tenant), in process",
        options.decisions, options.agents, options.queues
    );
    println!("{:<44} {:>14}", "measure", "value");
    println!("{:<44} {:>14.0}", "decisions per second", per_second);
    println!("{:<44} {:>14}", "decision latency p50 (µs)", p50);
    println!("{:<44} {:>14}", "decision latency p99 (µs)", p99);
    println!("{:<44} {:>14}", "decision latency max (µs)", max);
    println!(
        "{:<44} {:>14}",
        "calls reserved (the rest had no agent)", reserved
    );
    let calls = 1_000.min(options.decisions);
    let mut end_to_end_us = end_to_end(calls, options.rate, 100).await;
    end_to_end_us.sort_unstable();
    let millis = |micros: u64| (micros as f64 / 100.0).round() / 10.0;
    let (e2e_p50, e2e_p99) = (
        millis(percentile(&end_to_end_us, 0.50)),
        millis(percentile(&end_to_end_us, 0.99)),
    );
    println!(
        "{:<44} {:>14}",
        "offered -> reserved via JetStream p50 (ms)", e2e_p50
    );
    println!(
        "{:<44} {:>14}",
        "offered -> reserved via JetStream p99 (ms)", e2e_p99
    );
    println!(
        "  ({} of {calls} calls at {}/s on 100 agents were reserved)",
        end_to_end_us.len(),
        options.rate
    );
    let (simulated, ideal, erlang_c) = match simulated_against_erlang_c().await {
        Ok((measured, predicted, figures)) => {
            let ideal = figures["ideal_service_level"].as_f64();
            println!(
                "{:<44} {:>13.1}%",
                "simulated service level (1 s, 20 agents)",
                measured * 100.0
            );
            println!(
                "{:<44} {:>13.1}%",
                "the same calls through an ideal ACD",
                ideal.unwrap_or_default() * 100.0
            );
            println!(
                "{:<44} {:>13.1}%",
                "Erlang C for the same load",
                predicted * 100.0
            );
            println!("  (simulator: {figures})");
            (Some(measured), ideal, Some(predicted))
        }
        Err(error) => {
            println!("simulation skipped: {error}");
            (None, None, None)
        }
    };
    BTreeMap::from([
        ("bench", serde_json::json!("routing")),
        ("simulated_service_level", serde_json::json!(simulated)),
        ("ideal_acd_service_level", serde_json::json!(ideal)),
        ("erlang_c_service_level", serde_json::json!(erlang_c)),
        ("e2e_calls", serde_json::json!(end_to_end_us.len())),
        ("e2e_rate_per_s", serde_json::json!(options.rate)),
        ("offered_to_reserved_p50_ms", serde_json::json!(e2e_p50)),
        ("offered_to_reserved_p99_ms", serde_json::json!(e2e_p99)),
        ("agents", serde_json::json!(options.agents)),
        ("queues", serde_json::json!(options.queues)),
        ("decisions", serde_json::json!(options.decisions)),
        ("decisions_per_s", serde_json::json!(per_second.round())),
        ("decision_p50_us", serde_json::json!(p50)),
        ("decision_p99_us", serde_json::json!(p99)),
        ("decision_max_us", serde_json::json!(max)),
        ("reserved", serde_json::json!(reserved)),
    ])
}

/// The simulator against `callcenter dev` (built beside this benchmark): its measured service
/// level and Erlang C's for the load that came, with agents that never refuse, callers who never
/// give up and a constant arrival rate.
pub async fn simulated_against_erlang_c() -> Result<(f64, f64, serde_json::Value), String> {
    let binary = std::env::current_exe()
        .map_err(|error| error.to_string())?
        .with_file_name("callcenter");
    let data = callcenter_testkit::TempDir::new("bench-sim");
    let data_dir = data.path().to_string_lossy().into_owned();
    let mut platform = tokio::process::Command::new(&binary)
        .args(["dev", "--no-demo", "--data-dir", &data_dir])
        .args(["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
        .env("CALLCENTER_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot run {}: {error}", binary.display()))?;
    let stdout = platform.stdout.take().ok_or("no stdout")?;
    let started = callcenter_testkit::callcenter_started(stdout)
        .await
        .ok_or("callcenter dev did not start")?;
    let grpc = callcenter_testkit::started_field(&started, "grpc");
    if grpc.is_empty() {
        return Err(format!("no gRPC address in {started:?}"));
    }
    let token = tokio::process::Command::new(&binary)
        .args([
            "token",
            "--tenant",
            "sim",
            "--roles",
            "tenant_admin,partner",
        ])
        .args(["--data-dir", &data_dir])
        .output()
        .await
        .map_err(|error| error.to_string())?;
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let simulation = tokio::process::Command::new(&binary)
        .args([
            "simulate",
            "--grpc",
            &format!("http://{grpc}"),
            "--token",
            &token,
        ])
        .args([
            "--flat",
            "--spike-seconds",
            "0",
            "--patience-seconds",
            "1000",
        ])
        .args([
            "--seconds",
            "120",
            "--agents",
            "20",
            "--calls-per-second",
            "3.75",
        ])
        .args(["--handle-seconds", "4", "--target-seconds", "1"])
        .output()
        .await
        .map_err(|error| error.to_string())?;
    let _ = platform.start_kill();
    let _ = platform.wait().await;
    let stdout = String::from_utf8_lossy(&simulation.stdout);
    let figures: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| format!("no figures from the simulator:\n{stdout}"))?;
    let measured = figures["service_level"].as_f64().unwrap_or_default();
    let predicted = figures["erlang_c_service_level"]
        .as_f64()
        .unwrap_or_default();
    Ok((measured, predicted, figures))
}
