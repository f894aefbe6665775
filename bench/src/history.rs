//! `history`: what a long history costs a restart and a takeover, at 0, 100,000 and 1,000,000
//! events (`--events N` measures one size).
//!
//! **The history** is written once per size by the services' own code, in process, on a SQLite
//! log kept under `target/bench-history/` between runs: one tenant, one queue, 200 agents, and
//! calls one after another on each agent (reported, reserved, rung, answered, started, ended,
//! agent ready again), with routing's presence publisher following, until the calls have written
//! the size's events (the presence events come on top; the table shows the log's own count). The
//! JetStream runs copy its commits, in order per aggregate, into a fresh
//! stream.
//!
//! **`callcenter dev`** (release build beside the benchmark, `CALLCENTER_BIN`) on a copy of the
//! history: the first start (every durable consumer and read model of the new process starts from
//! zero, as on a history written elsewhere), then a restart after a graceful stop (what an
//! operator sees after an upgrade): start → ready (`/healthz`) and start → the first routed call
//! (reported over HTTP, ringing at an agent), and the resident memory after it. Before the first
//! start, the latency of agent commands on the agent with the longest history (in process): the
//! first, and the median of 20 that the command handler's memory serves.
//!
//! **JetStream**, `serve` with telephony, two routing replicas (1 partition, 2-second leases) and
//! the gateway: telephony's start → ready (its reactors caught up with the copied history), the
//! owner's start → ready, and a first call (reported → ringing); once the standby follows the
//! partition (after the owner's first snapshot), the owner is killed with SIGKILL and a call
//! offered at once: SIGKILL → the standby takes the lease → the call rings (taken → ring is what
//! resuming the partition costs: the view the standby kept warm, acting at once; the standby's
//! log says how long restoring the owner's snapshot took when it began to follow, and its size),
//! and the standby's resident memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use callcenter_e2e::{Instance, Mode};
use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_eventlog::{
    AppendRequest, EventStore, ExpectedVersion, Filter, Name, NewEvent, RecordedEvent, StreamKey,
    SubscriptionSpec, Timestamp,
};
use callcenter_kit::{CommandMeta, ConsumerStatus, run_consumer};
use callcenter_routing::Routing;
use callcenter_routing::domain::{AgentCommand, Why};
use callcenter_routing::publisher::PresencePublisher;
use callcenter_telephony::Telephony;
use callcenter_telephony::app::NewCall;
use callcenter_telephony::domain::{CallCommand, Party, PhoneNumber, Priority};
use callcenter_testkit::{TempDir, unique_name};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::Options;

/// Agents of the history's tenant.
const AGENTS: usize = 200;
/// Concurrent writers while the history is built (each owns its own agents).
const WRITERS: usize = 20;
/// The history's tenant.
const TENANT: &str = "bench";
/// The layout of the kept histories (bump when the generator changes).
const LAYOUT: &str = "v2";

fn name(value: impl AsRef<str>) -> Name {
    Name::new(value).expect("valid name")
}

/// Runs the benchmark and returns its figures.
pub async fn history(options: &Options) -> BTreeMap<&'static str, Value> {
    let sizes = match options.events {
        Some(events) => vec![events],
        None => vec![0, 100_000, 1_000_000],
    };
    let mut by_size = serde_json::Map::new();
    let mut rows = Vec::new();
    for size in sizes {
        let (template, events) = kept_history(size).await;
        let dev = dev_restarts(&template).await;
        let jetstream = jetstream_takeover(&template).await;
        by_size.insert(
            format!("events_{size}"),
            json!({"events": events, "dev": dev, "jetstream": jetstream}),
        );
        rows.push((events, dev, jetstream));
    }
    print_table(&rows);
    BTreeMap::from([("histories", Value::Object(by_size))])
}

fn print_table(rows: &[(u64, Value, Value)]) {
    let ms = |value: &Value| {
        value
            .as_f64()
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
    };
    let mib = |value: &Value| {
        value
            .as_f64()
            .map_or_else(|| "-".to_owned(), |v| format!("{:.0}", v / 1_048_576.0))
    };
    println!(
        "\n{:>10} | {:>25} | {:>25} | {:>9} | {:>21}",
        "events", "dev first start ms", "dev restart ms", "dev RSS", "agent cmd ms"
    );
    println!(
        "{:>10} | {:>12} {:>12} | {:>12} {:>12} | {:>9} | {:>10} {:>10}",
        "", "ready", "first call", "ready", "first call", "MiB", "first", "p50"
    );
    for (events, dev, _) in rows {
        println!(
            "{:>10} | {:>12} {:>12} | {:>12} {:>12} | {:>9} | {:>10} {:>10}",
            events,
            ms(&dev["first_start_ready_ms"]),
            ms(&dev["first_start_first_call_ms"]),
            ms(&dev["restart_ready_ms"]),
            ms(&dev["restart_first_call_ms"]),
            mib(&dev["restart_rss_bytes"]),
            format!(
                "{:.2}",
                dev["agent_command_first_ms"].as_f64().unwrap_or_default()
            ),
            format!(
                "{:.2}",
                dev["agent_command_p50_ms"].as_f64().unwrap_or_default()
            ),
        );
    }
    println!(
        "\n{:>10} | {:>12} {:>12} {:>12} | {:>12} {:>12} {:>12} {:>12} | {:>9} {:>9}",
        "JetStream",
        "tel. ready",
        "owner ready",
        "a call",
        "kill→taken",
        "restore",
        "taken→ring",
        "kill→ring",
        "owner",
        "standby"
    );
    println!(
        "{:>10} | {:>12} {:>12} {:>12} | {:>12} {:>12} {:>12} {:>12} | {:>9} {:>9}",
        "events", "ms", "ms", "ms", "ms", "ms", "ms", "ms", "RSS MiB", "RSS MiB"
    );
    for (events, _, jetstream) in rows {
        println!(
            "{:>10} | {:>12} {:>12} {:>12} | {:>12} {:>12} {:>12} {:>12} | {:>9} {:>9}",
            events,
            ms(&jetstream["telephony_ready_ms"]),
            ms(&jetstream["owner_ready_ms"]),
            ms(&jetstream["first_call_ms"]),
            ms(&jetstream["kill_to_taken_ms"]),
            ms(&jetstream["standby_restore_ms"]),
            ms(&jetstream["taken_to_ring_ms"]),
            ms(&jetstream["kill_to_ring_ms"]),
            mib(&jetstream["owner_rss_bytes"]),
            mib(&jetstream["standby_rss_bytes"]),
        );
    }
}

/// The kept history of `size` events (built if missing): its SQLite log and its event count.
async fn kept_history(size: usize) -> (PathBuf, u64) {
    let directory = Path::new("target")
        .join("bench-history")
        .join(format!("{LAYOUT}-{size}"));
    let log = directory.join("events.db");
    let done = directory.join("complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).expect("create the history directory");
        let started = Instant::now();
        build_history(&log, size).await;
        std::fs::write(&done, b"").expect("mark the history complete");
        println!(
            "built a history of {size} events in {:.0} s ({})",
            started.elapsed().as_secs_f64(),
            directory.display()
        );
    }
    let events = count_events(&log).await;
    (log, events)
}

async fn count_events(log: &Path) -> u64 {
    let url = format!("sqlite://{}?mode=ro", log.display());
    let pool = callcenter_kit::db::connect(&url)
        .await
        .expect("open the log");
    let events: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(last_version - first_version + 1), 0) AS INTEGER)
         FROM eventlog_commits",
    )
    .fetch_one(&pool)
    .await
    .expect("count events");
    pool.close().await;
    u64::try_from(events).unwrap_or(0)
}

/// Writes the history with the services' own code until its calls have written `size` events.
async fn build_history(log: &Path, size: usize) {
    let sqlite = SqliteEventStore::open(log).await.expect("open the log");
    let store: Arc<dyn EventStore> = Arc::new(sqlite.clone());
    let telephony = Telephony::new(Arc::clone(&store));
    let routing = Routing::new(Arc::clone(&store));
    let meta = |request: String| CommandMeta::system(name(TENANT), "bench-history", request);
    // Long ago, one second per step: every call is over well before the benchmark starts.
    let clock = Arc::new(std::sync::atomic::AtomicI64::new(
        Timestamp::now().unix_millis() - 400 * 86_400_000,
    ));
    let tick = {
        let clock = Arc::clone(&clock);
        move || Timestamp::from_unix_millis(clock.fetch_add(1_000, Ordering::Relaxed))
    };
    crate::routing::staff_general_queue(&routing, &meta, AGENTS, tick.clone()).await;
    // Routing's presence publisher follows, as it does in a running platform.
    let stop = CancellationToken::new();
    let status = tokio::sync::watch::Sender::new(ConsumerStatus::default());
    let publisher = {
        let (store, stop, status, routing) = (
            Arc::clone(&store),
            stop.clone(),
            status.clone(),
            routing.clone(),
        );
        tokio::spawn(async move {
            let mut publisher = PresencePublisher::new(routing);
            run_consumer(&*store, &mut publisher, &status, &stop).await;
        })
    };
    // The calls' own events, counted as they are appended (the presence publisher adds its
    // own on top, and the final count is read from the log).
    let written = Arc::new(AtomicUsize::new(0));
    let writers = (0..WRITERS).map(|writer| {
        let (telephony, routing, written, tick) = (
            telephony.clone(),
            routing.clone(),
            Arc::clone(&written),
            tick.clone(),
        );
        async move {
            let mut call = 0_usize;
            while written.load(Ordering::Relaxed) < size {
                let agent = writer + WRITERS * (call % (AGENTS / WRITERS));
                let appended = one_call(&telephony, &routing, writer, call, agent, &tick).await;
                let before = written.fetch_add(appended, Ordering::Relaxed);
                if (before + appended) / 50_000 > before / 50_000 {
                    println!("history: {} of {size} events", before + appended);
                }
                call += 1;
            }
        }
    });
    futures_util::future::join_all(writers).await;
    let mut caught_up = status.subscribe();
    let _ = tokio::time::timeout(
        Duration::from_secs(600),
        caught_up.wait_for(|status| status.caught_up && status.lag == 0),
    )
    .await;
    stop.cancel();
    let _ = publisher.await;
    drop((store, telephony, routing));
    sqlite.close().await;
}

/// One call on `agent`, from its report to the agent being ready again.
async fn one_call(
    telephony: &Telephony,
    routing: &Routing,
    writer: usize,
    call: usize,
    agent: usize,
    tick: &(impl Fn() -> Timestamp + Clone),
) -> usize {
    let tenant = name(TENANT);
    let id = format!("w{writer}-c{call}");
    let meta =
        |step: &str| CommandMeta::system(tenant.clone(), "bench-history", format!("{step}-{id}"));
    let call_id = name(&id);
    let agent_id = name(format!("a{agent}"));
    let caller = format!("138{:08}", (writer * 7_919 + call * 104_729) % 100_000_000);
    let report = NewCall {
        call_id: Some(call_id.clone()),
        caller_number: PhoneNumber::parse(&caller).expect("number"),
        dialled_number: PhoneNumber::parse("4000").expect("number"),
        queue_id: Some(name("general")),
        priority: Priority::Normal,
        at: tick(),
    };
    let (_, reported) = telephony
        .report_call(&meta("report"), report)
        .await
        .expect("report");
    let mut appended = reported.new_events.len();
    let reserve = AgentCommand::Reserve {
        call_id: call_id.clone(),
        queue_id: name("general"),
        directed: false,
        why: Why {
            rule: "members".into(),
            candidates: vec![agent_id.clone()],
        },
        at: tick(),
    };
    appended += routing
        .agent_command(&meta("reserve"), &agent_id, reserve)
        .await
        .expect("reserve")
        .new_events
        .len();
    for (step, command) in [
        (
            "ring",
            CallCommand::Ring {
                agent_id: agent_id.clone(),
                at: tick(),
            },
        ),
        (
            "answer",
            CallCommand::Answer {
                agent_id: agent_id.clone(),
                at: tick(),
            },
        ),
    ] {
        appended += telephony
            .handle_call(&meta(step), &call_id, &command)
            .await
            .expect("call step")
            .new_events
            .len();
    }
    let start = AgentCommand::StartCall {
        call_id: call_id.clone(),
        at: tick(),
    };
    appended += routing
        .agent_command(&meta("start"), &agent_id, start)
        .await
        .expect("start")
        .new_events
        .len();
    let end = CallCommand::End {
        ended_by: Party::Caller,
        at: tick(),
    };
    appended += telephony
        .handle_call(&meta("end"), &call_id, &end)
        .await
        .expect("end")
        .new_events
        .len();
    let ended = AgentCommand::EndCall {
        call_id: call_id.clone(),
        after_call_work_seconds: 0,
        at: tick(),
    };
    appended += routing
        .agent_command(&meta("ended"), &agent_id, ended)
        .await
        .expect("ended")
        .new_events
        .len();
    let ready = AgentCommand::SetReady { at: tick() };
    appended
        + routing
            .agent_command(&meta("ready"), &agent_id, ready)
            .await
            .expect("ready")
            .new_events
            .len()
}

/// How long agent commands take on the agent with the longest history (in process, on
/// `log`), median of 20.
/// Returns (the first, which reads the agent's snapshot and the events after it; the median
/// of 20, which the handler's memory of the agent serves).
async fn agent_command_latency(log: &Path) -> (f64, f64) {
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteEventStore::open(log).await.expect("open the log"));
    let routing = Routing::new(store);
    let agent_id = name("a0");
    let mut took = Vec::new();
    for round in 0..20 {
        let command = if round % 2 == 0 {
            AgentCommand::SetNotReady {
                reason: callcenter_routing::domain::NotReadyReason::Break,
                at: Timestamp::now(),
            }
        } else {
            AgentCommand::SetReady {
                at: Timestamp::now(),
            }
        };
        let meta = CommandMeta::system(name(TENANT), "bench", unique_name("latency"));
        let started = Instant::now();
        routing
            .agent_command(&meta, &agent_id, command)
            .await
            .expect("agent command");
        took.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    let first = took[0];
    took.sort_by(f64::total_cmp);
    (first, took[took.len() / 2])
}

/// Reports a call over HTTP and waits until it rings at an agent.
async fn routed_call(instance: &Instance, token: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let body = json!({"caller_number": "13900000000", "dialled_number": "4000",
                      "queue_id": "general"});
    let (status, call) = instance
        .call("POST", "/v1/calls", Some(token), Some(body))
        .await;
    if status != 200 {
        println!("reporting a call failed: {status} {call}");
        return None;
    }
    let path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap_or_default());
    while started.elapsed() < limit {
        let (_, call) = instance.call("GET", &path, Some(token), None).await;
        if call["state"] == "ringing" {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// `callcenter dev` on a copy of the history: first start, then a restart.
async fn dev_restarts(template: &Path) -> Value {
    let data = TempDir::new("bench-history-dev");
    let data_dir = data.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data directory");
    std::fs::copy(template, data_dir.join("events.db")).expect("copy the history");
    let (agent_command_first_ms, agent_command_p50_ms) =
        agent_command_latency(&data_dir.join("events.db")).await;
    let mode = Mode::Dev {
        data_dir: data_dir.clone(),
        extra: vec!["--no-demo".into()],
    };
    let mut figures = json!({"agent_command_first_ms": agent_command_first_ms,
                             "agent_command_p50_ms": agent_command_p50_ms});
    for (label, limit) in [("first_start", 1_800), ("restart", 120)] {
        let limit = Duration::from_secs(limit);
        let started = Instant::now();
        let instance = Instance::spawn(mode.clone()).await;
        instance.wait_ready_within(limit).await;
        let ready = started.elapsed();
        let token = instance.token(TENANT, "tenant_admin", "admin");
        let routed = routed_call(&instance, &token, limit).await;
        figures[format!("{label}_ready_ms")] = json!(millis(ready));
        figures[format!("{label}_first_call_ms")] =
            json!(routed.map(|_| millis(started.elapsed())));
        figures[format!("{label}_rss_bytes")] = json!(instance.rss_bytes());
        instance.stop().await;
    }
    figures
}

/// `serve` on JetStream with the history copied in: two routing replicas, the owner killed.
async fn jetstream_takeover(template: &Path) -> Value {
    let prefix = unique_name("benchhist");
    let store = JetStreamEventStore::connect(
        &callcenter_testkit::nats_url(),
        JetStreamConfig::new(name(&prefix)),
    )
    .await
    .expect("connect");
    let copied = copy_history(template, &store).await;
    let secret = unique_name("secret-of-at-least-32-characters");
    let serve = |target: &str, extra: Vec<String>| {
        Mode::serve_without_read_models(target, extra, &prefix, &secret)
    };
    let lease = || vec!["--lease-seconds".to_owned(), "2".to_owned()];
    // Telephony is ready once its consumers and reactors (the ringer) have caught up with the
    // copied history.
    let started = Instant::now();
    let telephony = Instance::spawn(serve("telephony", vec![])).await;
    telephony
        .wait_ready_within(Duration::from_secs(1_800))
        .await;
    let telephony_ready = started.elapsed();
    let started = Instant::now();
    let owner = Instance::spawn(serve("routing", lease())).await;
    owner.wait_ready_within(Duration::from_secs(1_800)).await;
    let owner_ready = started.elapsed();
    let standby = Instance::start(serve("routing", lease())).await;
    let gateway = callcenter_e2e::gateway_in_front(&telephony, &standby, &prefix, &secret).await;
    let token = gateway.token(TENANT, "tenant_admin", "admin");
    let first = routed_call(&gateway, &token, Duration::from_secs(600)).await;
    let owner_rss = owner.rss_bytes();
    // Let the owner save the partition after its catch-up and the first call, and the standby
    // follow it from there.
    let following = Instant::now();
    while !standby.log_text().contains("following a routing partition")
        && following.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    owner.kill().await;
    let killed = Instant::now();
    let taken = "routing partition taken by this replica";
    let watching = async {
        while !standby.log_text().contains(taken) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        killed.elapsed()
    };
    let (kill_to_taken, rang) = tokio::join!(
        watching,
        routed_call(&gateway, &token, Duration::from_secs(600))
    );
    let kill_to_ring = rang.map(|_| killed.elapsed());
    let figures = json!({
        "commits_copied": copied,
        "telephony_ready_ms": millis(telephony_ready),
        "owner_ready_ms": millis(owner_ready),
        "first_call_ms": first.map(millis),
        "owner_rss_bytes": owner_rss,
        "kill_to_taken_ms": millis(kill_to_taken),
        "kill_to_ring_ms": kill_to_ring.map(millis),
        "taken_to_ring_ms": kill_to_ring.map(|ring| millis(ring.saturating_sub(kill_to_taken))),
        "standby_rss_bytes": standby.rss_bytes(),
        "standby_restored_from_snapshot": standby.log_text().contains("restored from a snapshot"),
        "standby_restore_ms": restore_field(&standby.log_text(), "took_ms"),
        "standby_snapshot_bytes": restore_field(&standby.log_text(), "bytes"),
    });
    for instance in [gateway, standby, telephony] {
        instance.stop().await;
    }
    let _ = store.delete_stream().await;
    if let Ok(leases) = callcenter_eventlog::lease::JetStreamLeases::connect(
        &callcenter_testkit::nats_url(),
        &name(&prefix),
        Duration::from_secs(5),
    )
    .await
    {
        let _ = leases.delete_bucket().await;
    }
    figures
}

/// A number the routing distributor's "restored from a snapshot" log line holds (`took_ms`,
/// `bytes`).
fn restore_field(log: &str, field: &str) -> Option<u64> {
    let line = log
        .lines()
        .filter(|line| line.contains("restored from a snapshot"))
        .find(|line| line.contains("routing-distributor"))?;
    let start = line.find(&format!("{field}="))? + field.len() + 1;
    line[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Copies every commit of the SQLite log at `template` into `target`, in order per aggregate
/// (lanes by aggregate, appended concurrently, each with the version its aggregate reached);
/// returns the commits copied.
async fn copy_history(template: &Path, target: &JetStreamEventStore) -> usize {
    const LANES: usize = 64;
    let source = SqliteEventStore::open(template)
        .await
        .expect("open the history");
    let head = source.head().await.expect("head");
    let reader_name = name(unique_name("copy"));
    let mut reader = source
        .subscribe(SubscriptionSpec {
            name: reader_name.clone(),
            filter: Filter::all(),
            resume_after: Some(0),
            expire_when_idle: None,
        })
        .await
        .expect("subscribe");
    let mut versions: BTreeMap<StreamKey, ExpectedVersion> = BTreeMap::new();
    let mut copied = 0;
    let mut position = 0;
    while position < head {
        let batch = reader
            .next_batch(2_000, Duration::from_millis(200))
            .await
            .expect("read");
        let Some(last) = batch.last_position() else {
            break;
        };
        position = last;
        let mut lanes: Vec<Vec<AppendRequest>> = vec![Vec::new(); LANES];
        for request in whole_commits(&batch.events) {
            lanes[lane_of(&request.stream, LANES)].push(request);
        }
        let known = &versions;
        let appended = futures_util::future::join_all(lanes.into_iter().map(|lane| async move {
            let mut reached: BTreeMap<StreamKey, ExpectedVersion> = BTreeMap::new();
            let commits = lane.len();
            for mut request in lane {
                if let Some(expected) = reached.get(&request.stream).or(known.get(&request.stream))
                {
                    request.expected = *expected;
                }
                let stream = request.stream.clone();
                let done = target.append(request).await.expect("append");
                reached.insert(stream, ExpectedVersion::Exactly(done.stream_version()));
            }
            (commits, reached)
        }))
        .await;
        for (commits, reached) in appended {
            copied += commits;
            versions.extend(reached);
        }
        reader.ack(last).await.expect("ack");
    }
    let _ = source.delete_subscription(&reader_name).await;
    source.close().await;
    copied
}

fn lane_of(stream: &StreamKey, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    stream.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// The events of a batch regrouped into the commits they came in (a new stream expects none;
/// the copier sets the version every other commit expects).
fn whole_commits(events: &[RecordedEvent]) -> Vec<AppendRequest> {
    let mut commits: Vec<AppendRequest> = Vec::new();
    let mut last_position = None;
    for event in events {
        let new = NewEvent {
            event_id: event.event_id.clone(),
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            occurred_at: event.occurred_at,
            payload: event.payload.clone(),
        };
        if last_position == Some(event.position()) {
            if let Some(commit) = commits.last_mut() {
                commit.events.push(new);
            }
            continue;
        }
        last_position = Some(event.position());
        commits.push(AppendRequest {
            stream: event.stream().clone(),
            expected: if event.version == 1 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Any
            },
            metadata: event.commit.metadata.clone(),
            events: vec![new],
        });
    }
    commits
}
