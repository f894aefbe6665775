//! `callcenter-bench <name>`: benchmarks that measure the platform's code side by side with the raw
//! library in the same run (these machines are noisy), print a table, and end with one JSON line.
//!
//! `eventlog`:
//! - appends per second through the JetStream backend (expected-version header, request id in the
//!   body, many aggregates, `--concurrency` appends in flight) against raw async-nats JetStream
//!   publishes of the same payloads to the same server with the same number in flight; then raw
//!   publishes of the very bodies the event log stores, without a header (what the envelope
//!   costs) and with the header it sends (what the sequence check adds: together the server's
//!   share of the gap), and with `Nats-Msg-Id` too (what the duplicate window would cost); and the
//!   embedded SQLite backend with the same workload. Each run also counts the CPU this process and
//!   the NATS server spent per append (from `/proc`), which says where the throughput goes on a
//!   machine whose cores both sides share;
//! - projection catch-up (ProjectionRunner reading JetStream, writing PostgreSQL with its
//!   checkpoint) against a hand-written loader of the same log (raw async-nats pull consumer,
//!   the generated protobuf type, a plain PostgreSQL connection) and against a plain batched
//!   PostgreSQL upsert of the same rows from memory, alternated over three rounds, each with the
//!   CPU per row of this process, the NATS server and the whole machine.
//!
//! `telephony`: SIP calls set up per second and INVITE → queued latency (see [`telephony`]).
//!
//! `routing`: routing decisions per second and their latency in process (see [`routing`]).
//!
//! `erlang`: Erlang C staffing against pyworkforce on 10,000 random cases (see [`erlang`]).
//!
//! `forecast`: the forecast's error on a held-out synthetic history (see [`forecast`]).
//!
//! `roster`: the roster solver against OR-Tools CP-SAT on the shared instance (see [`roster`]).
//!
//! `history`: restart and takeover at 0, 100,000 and 1,000,000 events of history (see
//! [`history`]).
//!
//! `capacity`: the calls per second `serve` completes with ASA under 2 s, and the CPU per call by
//! process (see [`capacity`]).
//!
//! Needs `CALLCENTER_TEST_NATS_URL` and `CALLCENTER_TEST_DATABASE_URL` (`just bench` sets them).

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_eventlog::{
    AppendRequest, CommitMetadata, EventStore, ExpectedVersion, Filter, Name, NewEvent,
    RecordedEvent, StreamKey, SubscriptionSpec, Timestamp, encode_commit,
};
use callcenter_kit::{DecodeError, Projection, ProjectionError, ProjectionRunner, db};
use callcenter_testkit::{PgSchema, TempDir, unique_name};
use futures_util::future::join_all;
use sqlx::{AnyConnection, Connection, QueryBuilder};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bytes of each event payload (about the size of a call event with its numbers and ids).
const PAYLOAD_BYTES: usize = 200;
/// Rows per batch, for the projection and for the plain upsert alike.
const BATCH: usize = 500;

mod capacity;
mod erlang;
mod forecast;
mod history;
mod roster;
mod routing;
mod telephony;

/// Command-line options of every benchmark (each reads its own).
#[derive(Debug)]
struct Options {
    commits: usize,
    concurrency: usize,
    rows: usize,
    /// Calls per sipp run (`telephony`).
    calls: usize,
    /// Calls per second of the paced run (`telephony`).
    rate: usize,
    /// Routing decisions measured (`routing`).
    decisions: usize,
    /// Agents (`routing`).
    agents: usize,
    /// Queues (`routing`).
    queues: usize,
    /// Staffing cases (`erlang`).
    cases: usize,
    /// Seconds our roster solver searches (`roster`).
    seconds: f64,
    /// One history size to measure (`history`; all three when absent).
    events: Option<usize>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        commits: 100_000,
        concurrency: 256,
        rows: 100_000,
        calls: 3_000,
        rate: 100,
        decisions: 20_000,
        agents: 10_000,
        queues: 1_000,
        cases: 10_000,
        seconds: 10.0,
        events: None,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .parse::<usize>()
            .map_err(|error| format!("{flag}: {error}"))?;
        match flag.as_str() {
            "--commits" => options.commits = value,
            "--concurrency" => options.concurrency = value.max(1),
            "--rows" => options.rows = value,
            "--calls" => options.calls = value.max(1),
            "--rate" => options.rate = value.max(1),
            "--decisions" => options.decisions = value.max(1),
            "--agents" => options.agents = value.max(1),
            "--queues" => options.queues = value.max(1),
            "--cases" => options.cases = value.max(2),
            "--seconds" => options.seconds = value.max(1) as f64,
            "--events" => options.events = Some(value),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

fn payload(index: usize) -> Bytes {
    let mut bytes = format!("{index:08}").into_bytes();
    bytes.resize(PAYLOAD_BYTES, b'x');
    Bytes::from(bytes)
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// A one-event commit with the benchmark's payload number `index`.
fn commit(
    stream: StreamKey,
    expected: ExpectedVersion,
    request_id: String,
    index: usize,
) -> AppendRequest {
    AppendRequest {
        stream,
        expected,
        metadata: CommitMetadata {
            request_id,
            correlation_id: "bench".into(),
            causation_id: "bench".into(),
            actor: "bench".into(),
            trace: Default::default(),
        },
        events: vec![NewEvent {
            event_id: uuid::Uuid::now_v7().simple().to_string(),
            event_type: "callcenter.telephony.v1.CallQueued".into(),
            schema_version: 1,
            occurred_at: Timestamp::now(),
            payload: payload(index),
        }],
    }
}

/// `commits` appends over `concurrency` workers, each owning its own aggregates and appending to
/// them one after the other with the expected version of its last append.
async fn append_workload(
    store: Arc<dyn EventStore>,
    commits: usize,
    concurrency: usize,
) -> Duration {
    let per_worker = commits / concurrency;
    let started = Instant::now();
    let workers = (0..concurrency).map(|worker| {
        let store = Arc::clone(&store);
        async move {
            // Four aggregates per worker, appended to in turn.
            let streams: Vec<StreamKey> = (0..4)
                .map(|i| StreamKey::new("bench", "telephony", "call", format!("w{worker}-{i}")))
                .collect::<Result<_, _>>()
                .expect("valid keys");
            let mut versions = vec![ExpectedVersion::NoStream; streams.len()];
            for index in 0..per_worker {
                let slot = index % streams.len();
                let request_id = uuid::Uuid::now_v7().simple().to_string();
                let appended = store
                    .append(commit(
                        streams[slot].clone(),
                        versions[slot],
                        request_id,
                        index,
                    ))
                    .await
                    .expect("append");
                versions[slot] = ExpectedVersion::Exactly(appended.stream_version());
            }
        }
    });
    join_all(workers).await;
    started.elapsed()
}

/// A replay of the SQLite log from its beginning: through a subscription as a consumer reads it
/// (batches of [`BATCH`] commits, each acknowledged), against the floor of the same pages read
/// with plain queries, and what counting the matching commits left after every batch (what the
/// subscription did before it read its lag from the primary key) adds to the replay.
struct SqliteReplay {
    commits: usize,
    subscription: Duration,
    scan: Duration,
    counting_left: Duration,
}

/// Replays the log from the beginning through a new subscription `name` to `filter`, in
/// batches of [`BATCH`] each acknowledged, until nothing comes for `idle`: the events `counted`,
/// and the time taken without that last wait.
async fn replay_through(
    store: &dyn EventStore,
    name: &str,
    filter: Filter,
    idle: Duration,
    counted: impl Fn(&RecordedEvent) -> bool,
) -> (usize, Duration) {
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: Name::new(name).expect("name"),
            filter,
            resume_after: None,
            expire_when_idle: None,
        })
        .await
        .expect("subscribe");
    let started = Instant::now();
    let mut count = 0;
    loop {
        let batch = subscription.next_batch(BATCH, idle).await.expect("batch");
        let Some(last) = batch.last_position() else {
            break;
        };
        count += batch.events.iter().filter(|event| counted(event)).count();
        subscription.ack(last).await.expect("ack");
    }
    (count, started.elapsed().saturating_sub(idle))
}

async fn sqlite_replay(store: &dyn EventStore, path: &std::path::Path) -> SqliteReplay {
    let filter = Filter::all().context(Name::new("telephony").expect("name"));
    let (commits, subscription_elapsed) = replay_through(
        store,
        "bench-replay",
        filter,
        Duration::from_millis(1),
        |_| true,
    )
    .await;

    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open the log");
    let page = i64::try_from(BATCH).expect("small");
    let (mut after, mut boundaries) = (0_i64, Vec::new());
    let started = Instant::now();
    loop {
        let positions: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT position, body FROM eventlog_commits WHERE position > ?1 AND context = ?2 \
             ORDER BY position LIMIT ?3",
        )
        .bind(after)
        .bind("telephony")
        .bind(page)
        .fetch_all(&mut connection)
        .await
        .expect("page");
        let Some((last, _)) = positions.last() else {
            break;
        };
        after = *last;
        boundaries.push(after);
    }
    let scan = started.elapsed();
    let started = Instant::now();
    for after in boundaries {
        let _: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM eventlog_commits WHERE position > ?1 AND context = ?2",
        )
        .bind(after)
        .bind("telephony")
        .fetch_one(&mut connection)
        .await
        .expect("count");
    }
    SqliteReplay {
        commits,
        subscription: subscription_elapsed,
        scan,
        counting_left: started.elapsed(),
    }
}

/// The environment variable naming the NATS server's process id (`scripts/with-services` sets
/// it), for the server's share of the CPU.
const NATS_PID_VAR: &str = "CALLCENTER_TEST_NATS_PID";

/// The measured append workloads in the order of the table: our backend (`None`), then raw
/// publishes with what they send.
const MODES: [(Option<RawHeaders>, &str); 5] = [
    (None, "JetStream backend appends"),
    (Some(RawHeaders::None), "raw async-nats JetStream publishes"),
    (Some(RawHeaders::StoredBody), "  stored bodies, no header"),
    (
        Some(RawHeaders::ExpectedSequence),
        "  stored bodies + expected-sequence header",
    ),
    (
        Some(RawHeaders::ExpectedSequenceAndMsgId),
        "  stored bodies + expected-sequence + msg-id headers",
    ),
];

/// CPU seconds used so far by this process and by the NATS server (user and system time from
/// `/proc`, so Linux only; `None` where it cannot be read). On a machine where client and server
/// share the cores, CPU per append says where throughput goes more steadily than the rate.
#[derive(Clone, Copy)]
struct CpuUse {
    client: Option<f64>,
    server: Option<f64>,
    machine: Option<f64>,
}

impl CpuUse {
    fn now(nats_pid: Option<&str>) -> Self {
        Self {
            client: cpu_seconds("self"),
            server: nats_pid.and_then(cpu_seconds),
            machine: machine_cpu_seconds(),
        }
    }
}

/// CPU seconds the whole machine has spent (user, nice, system, interrupts), from `/proc/stat`:
/// what every process of a run costs together, the database server's included.
fn machine_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    let busy = [0, 1, 2, 5, 6]
        .iter()
        .map(|&index| ticks.get(index))
        .sum::<Option<f64>>()?;
    Some(busy / 100.0)
}

/// User plus system CPU seconds of process `pid` (`self` for this one).
pub(crate) fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name start with the state (field 3); utime and stime are 14 and
    // 15, counted in clock ticks of 1/100 s on Linux.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// One measured run: its rate and the CPU each side spent per append.
struct Run {
    per_second: f64,
    client_micros: Option<f64>,
    server_micros: Option<f64>,
    /// CPU of the whole machine per operation (every process, the databases' included).
    machine_micros: Option<f64>,
}

impl Run {
    fn new(appends: usize, elapsed: Duration, before: CpuUse, after: CpuUse) -> Self {
        // Per append, to a tenth of a microsecond.
        let micros = |before: Option<f64>, after: Option<f64>| {
            Some(((after? - before?) * 1e7 / appends.max(1) as f64).round() / 10.0)
        };
        Self {
            per_second: per_second(appends, elapsed),
            client_micros: micros(before.client, after.client),
            server_micros: micros(before.server, after.server),
            machine_micros: micros(before.machine, after.machine),
        }
    }

    /// The run's line in the table: rate, then CPU per operation of this process, of the NATS
    /// server and of the whole machine.
    fn table_row(&self, label: &str) -> String {
        let micros = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.1}"));
        format!(
            "{label:<52} {:>14.0} {:>14} {:>14} {:>14}\n",
            self.per_second,
            micros(self.client_micros),
            micros(self.server_micros),
            micros(self.machine_micros)
        )
    }

    /// Its CPU per operation, for the JSON line: this process, the NATS server, the machine.
    fn cpu_json(&self) -> serde_json::Value {
        serde_json::json!({
            "client": self.client_micros,
            "nats": self.server_micros,
            "machine": self.machine_micros,
        })
    }

    /// The median of each figure on its own (a CPU figure only if every run has it).
    fn median(runs: Vec<Run>) -> Run {
        let median = |figure: fn(&Run) -> Option<f64>| -> Option<f64> {
            let mut values: Vec<f64> = runs.iter().map(figure).collect::<Option<_>>()?;
            values.sort_by(f64::total_cmp);
            values.get(values.len() / 2).copied()
        };
        Run {
            per_second: median(|run| Some(run.per_second)).unwrap_or_default(),
            client_micros: median(|run| run.client_micros),
            server_micros: median(|run| run.server_micros),
            machine_micros: median(|run| run.machine_micros),
        }
    }
}

/// What a raw publish sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RawHeaders {
    /// The bare payload, no headers.
    None,
    /// The event log's stored body, no headers: what the envelope alone costs.
    StoredBody,
    /// The event log's stored body (the envelope around the payload) with the header the event
    /// log sends, `Nats-Expected-Last-Subject-Sequence`: what the server does for our appends.
    ExpectedSequence,
    /// That and `Nats-Msg-Id`, which the event log sends only without an expected version.
    ExpectedSequenceAndMsgId,
}

/// The same publishes straight through async-nats: same subjects, payloads and in-flight depth,
/// without the event log's checks. With headers, each publish carries the bytes the event log
/// stores and the headers it may send (with real sequences), which separates the server's cost
/// of the envelope and the checks from the cost of our code.
async fn raw_publish_workload(
    context: &async_nats::jetstream::Context,
    prefix: &str,
    commits: usize,
    concurrency: usize,
    with: RawHeaders,
) -> Duration {
    let per_worker = commits / concurrency;
    let started = Instant::now();
    let workers = (0..concurrency).map(|worker| {
        let context = context.clone();
        async move {
            let mut last_sequences = [0_u64; 4];
            for index in 0..per_worker {
                let slot = index % 4;
                let subject = format!("{prefix}.bench.telephony.call.w{worker}-{slot}");
                let ack = if with == RawHeaders::StoredBody {
                    let stream =
                        StreamKey::new("bench", "telephony", "call", format!("w{worker}-{slot}"))
                            .expect("valid key");
                    let request_id = uuid::Uuid::now_v7().simple().to_string();
                    let stored = commit(stream, ExpectedVersion::Any, request_id, index);
                    let version = (index / 4) as u64 + 1;
                    context
                        .publish(subject, encode_commit(&stored, version))
                        .await
                        .expect("publish")
                        .await
                        .expect("ack")
                } else if with != RawHeaders::None {
                    // The same inputs as the event log's appends: a fresh UUIDv7 request id.
                    let request_id = uuid::Uuid::now_v7().simple().to_string();
                    let mut headers = async_nats::HeaderMap::new();
                    if with == RawHeaders::ExpectedSequenceAndMsgId {
                        let message_id =
                            format!("bench/telephony/call/w{worker}-{slot}/{request_id}");
                        headers.insert("Nats-Msg-Id", message_id.as_str());
                    }
                    headers.insert(
                        "Nats-Expected-Last-Subject-Sequence",
                        last_sequences[slot].to_string().as_str(),
                    );
                    let stream =
                        StreamKey::new("bench", "telephony", "call", format!("w{worker}-{slot}"))
                            .expect("valid key");
                    let stored = commit(stream, ExpectedVersion::Any, request_id, index);
                    let version = (index / 4) as u64 + 1;
                    context
                        .publish_with_headers(subject, headers, encode_commit(&stored, version))
                        .await
                        .expect("publish")
                        .await
                        .expect("ack")
                } else {
                    context
                        .publish(subject, payload(index))
                        .await
                        .expect("publish")
                        .await
                        .expect("ack")
                };
                last_sequences[slot] = ack.sequence;
            }
        }
    });
    join_all(workers).await;
    started.elapsed()
}

/// Upserts one row per event into `bench_rows`, one statement per batch; `round` names its
/// subscription and checkpoint.
struct RowsProjection {
    round: usize,
}

const ROWS_TABLE: &str = "CREATE TABLE IF NOT EXISTS bench_rows (
    tenant_id TEXT NOT NULL,
    row_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, row_id)
)";

const UPSERT_TAIL: &str = " ON CONFLICT (tenant_id, row_id) DO UPDATE SET
    payload = excluded.payload, version = excluded.version";

#[async_trait::async_trait]
impl Projection for RowsProjection {
    fn name(&self) -> Name {
        Name::new(format!("bench-rows-{}", self.round)).expect("valid name")
    }

    fn filter(&self) -> Filter {
        Filter::all()
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let sql = format!(
            "INSERT INTO bench_rows (tenant_id, row_id, payload, version) VALUES {}{UPSERT_TAIL}",
            db::values_placeholders(events.len(), 4)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for event in events {
            let payload = std::str::from_utf8(&event.payload)
                .map_err(|error| DecodeError::new(event, error.to_string()))?;
            query = query
                .bind(event.stream().tenant.as_str())
                .bind(event.stream().aggregate_id.as_str())
                .bind(payload)
                .bind(event.version as i64);
        }
        query.execute(&mut *connection).await?;
        Ok(())
    }

    async fn reset(&self, connection: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM bench_rows")
            .execute(&mut *connection)
            .await?;
        Ok(())
    }
}

/// Writes `rows` one-event commits (one per row) into the log, quickly.
/// The commits of six kinds of stream (ten commits to each aggregate), replayed from the
/// beginning through a JetStream subscription to four of them (as routing's distributor
/// subscribes) against a subscription to every stream with the four counted in process:
/// (matching commits, seconds for the four, seconds for every stream), the faster of two
/// alternated runs each. The backend subscribes to the tenant's wildcard and picks the four out
/// itself (when it gave NATS four filter subjects instead, this ran at 4,268 commits/s against
/// 133,448 for every stream, in commit a2965dc's run), so the two figures should be alike.
async fn filter_subjects_against_wildcard(nats_url: &str, commits: usize) -> (usize, f64, f64) {
    const KINDS: [(&str, &str); 6] = [
        ("telephony", "call"),
        ("routing", "agent"),
        ("workforce", "center"),
        ("routing", "queue"),
        ("routing", "presence"),
        ("routing", "case"),
    ];
    let prefix = unique_name("benchfilter");
    let store = JetStreamEventStore::connect(
        nats_url,
        JetStreamConfig::new(Name::new(&prefix).expect("prefix")),
    )
    .await
    .expect("connect");
    let shared: Arc<dyn EventStore> = Arc::new(store.clone());
    // Ten commits to each aggregate, as calls and agents have many.
    fill_log(Arc::clone(&shared), commits, &KINDS, 10).await;
    let four = Filter::all()
        .aggregate(
            Name::new("routing").expect("name"),
            Name::new("agent").expect("name"),
        )
        .aggregate(
            Name::new("routing").expect("name"),
            Name::new("queue").expect("name"),
        )
        .aggregate(
            Name::new("routing").expect("name"),
            Name::new("case").expect("name"),
        )
        .aggregate(
            Name::new("telephony").expect("name"),
            Name::new("call").expect("name"),
        );
    let wanted = |event: &RecordedEvent| four.matches(&event.commit.stream);
    let replay = |filter: Filter, run: usize| {
        let store = Arc::clone(&shared);
        async move {
            let name = format!("replay-{run}");
            let idle = Duration::from_millis(500);
            let (matched, elapsed) = replay_through(&*store, &name, filter, idle, wanted).await;
            (matched, elapsed.as_secs_f64())
        }
    };
    let mut filtered = f64::MAX;
    let mut wildcard = f64::MAX;
    let mut matched = 0;
    for run in 0..2 {
        let (seen, seconds) = replay(four.clone(), run * 2).await;
        matched = seen;
        filtered = filtered.min(seconds);
        let (seen, seconds) = replay(Filter::all(), run * 2 + 1).await;
        assert_eq!(seen, matched, "both ways see the same commits");
        wildcard = wildcard.min(seconds);
    }
    store.delete_stream().await.expect("clean up");
    (matched, filtered, wildcard)
}

/// Appends `rows` one-event commits, round robin over `kinds` of stream, `per_stream` commits to
/// each aggregate.
async fn fill_log(
    store: Arc<dyn EventStore>,
    rows: usize,
    kinds: &[(&str, &str)],
    per_stream: usize,
) {
    let workers = 256;
    let per_worker = rows.div_ceil(workers);
    join_all((0..workers).map(|worker| {
        let store = Arc::clone(&store);
        async move {
            for index in (worker * per_worker)..((worker + 1) * per_worker).min(rows) {
                store
                    .append(AppendRequest {
                        stream: StreamKey::new(
                            "bench",
                            kinds[index % kinds.len()].0,
                            kinds[index % kinds.len()].1,
                            format!("row-{}", index / (kinds.len() * per_stream)),
                        )
                        .expect("valid key"),
                        expected: if per_stream == 1 {
                            ExpectedVersion::NoStream
                        } else {
                            ExpectedVersion::Any
                        },
                        metadata: CommitMetadata {
                            request_id: format!("fill-{index}"),
                            ..Default::default()
                        },
                        events: vec![NewEvent {
                            event_id: uuid::Uuid::now_v7().simple().to_string(),
                            event_type: "callcenter.telephony.v1.CallQueued".into(),
                            schema_version: 1,
                            occurred_at: Timestamp::now(),
                            payload: payload(index),
                        }],
                    })
                    .await
                    .expect("fill");
            }
        }
    }))
    .await;
}

/// One projection catch-up of the `rows` commits in `store` into a fresh schema: its rate and
/// CPU per row.
async fn projection_round(
    store: &Arc<dyn EventStore>,
    rows: usize,
    round: usize,
    nats_pid: Option<&str>,
) -> Run {
    let schema = PgSchema::create("bench").await;
    let pool = db::connect(&schema.url()).await.expect("pool");
    db::migrate_kit(&pool).await.expect("migrate");
    sqlx::query(ROWS_TABLE).execute(&pool).await.expect("table");
    let runner = ProjectionRunner::new(
        Arc::clone(store),
        pool.clone(),
        Arc::new(RowsProjection { round }),
    )
    .with_batch_size(BATCH);
    let before = CpuUse::now(nats_pid);
    let started = Instant::now();
    runner.catch_up().await.expect("catch up");
    let run = Run::new(rows, started.elapsed(), before, CpuUse::now(nats_pid));
    let projected: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bench_rows")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(projected as usize, rows, "every row projected");
    pool.close().await;
    schema.drop_schema().await;
    run
}

/// What a hand-written loader of the same log would do: a raw async-nats pull consumer over the
/// stream, each commit decoded with the generated protobuf type, batches of [`BATCH`] upserted
/// over a plain PostgreSQL connection, the last message of each batch acknowledged after its
/// commit (no checkpoint table, no backend-neutral driver, no validation of names).
async fn raw_loader(
    context: &async_nats::jetstream::Context,
    stream_name: &str,
    url: &str,
    rows: usize,
    round: usize,
    nats_pid: Option<&str>,
) -> Run {
    use async_nats::jetstream::consumer;
    use callcenter_proto::eventlog::v1 as pb;
    use futures_util::StreamExt as _;
    use prost::Message as _;
    let mut connection = connect_rows_table(url).await;
    let stream = context.get_stream(stream_name).await.expect("stream");
    let before = CpuUse::now(nats_pid);
    let started = Instant::now();
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(format!("raw-loader-{round}")),
            ack_policy: consumer::AckPolicy::All,
            max_ack_pending: 10_000,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(1_000)
        .messages()
        .await
        .expect("messages");
    let mut loaded = 0;
    while loaded < rows {
        let mut batch = Vec::with_capacity(BATCH);
        while batch.len() < BATCH.min(rows - loaded) {
            let message = messages.next().await.expect("message").expect("delivered");
            batch.push(message);
        }
        let decoded: Vec<pb::Commit> = batch
            .iter()
            .map(|message| pb::Commit::decode(message.payload.clone()).expect("commit"))
            .collect();
        let decoded_rows: Vec<Row<'_>> = decoded
            .iter()
            .map(|commit| {
                (
                    commit.tenant_id.as_str(),
                    commit.aggregate_id.as_str(),
                    std::str::from_utf8(&commit.events[0].payload).expect("UTF-8"),
                    commit.first_version as i64,
                )
            })
            .collect();
        upsert_batch(&mut connection, &decoded_rows).await;
        batch
            .last()
            .expect("a batch")
            .ack()
            .await
            .expect("acknowledged");
        loaded += batch.len();
    }
    let run = Run::new(rows, started.elapsed(), before, CpuUse::now(nats_pid));
    drop(messages);
    let _ = stream.delete_consumer(&format!("raw-loader-{round}")).await;
    let _ = connection.close().await;
    run
}

/// A plain PostgreSQL connection to `url`, with `bench_rows` created.
async fn connect_rows_table(url: &str) -> sqlx::PgConnection {
    let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query(ROWS_TABLE)
        .execute(&mut connection)
        .await
        .expect("table");
    connection
}

/// A row of `bench_rows`: tenant, row id, payload, version.
type Row<'a> = (&'a str, &'a str, &'a str, i64);

/// Upserts `rows` into `bench_rows` with one statement in a transaction of its own, over a plain
/// PostgreSQL connection.
async fn upsert_batch(connection: &mut sqlx::PgConnection, rows: &[Row<'_>]) {
    let mut transaction = connection.begin().await.expect("begin");
    let mut builder =
        QueryBuilder::new("INSERT INTO bench_rows (tenant_id, row_id, payload, version) ");
    builder.push_values(rows, |mut row, (tenant, id, payload, version)| {
        row.push_bind(*tenant)
            .push_bind(*id)
            .push_bind(*payload)
            .push_bind(*version);
    });
    builder.push(UPSERT_TAIL);
    builder
        .build()
        .execute(&mut *transaction)
        .await
        .expect("upsert");
    transaction.commit().await.expect("commit");
}

/// The same rows upserted from memory straight into PostgreSQL in batches of the same size, each
/// in its own transaction: the database's share alone. Its rate and CPU per row.
async fn plain_upsert(url: &str, rows: usize) -> Run {
    let mut connection = connect_rows_table(url).await;
    let data: Vec<(String, String, String, i64)> = (0..rows)
        .map(|index| {
            (
                "bench".to_owned(),
                format!("row-{index}"),
                String::from_utf8_lossy(&payload(index)).into_owned(),
                1,
            )
        })
        .collect();
    let before = CpuUse::now(None);
    let started = Instant::now();
    for chunk in data.chunks(BATCH) {
        let batch: Vec<Row<'_>> = chunk
            .iter()
            .map(|(tenant, id, payload, version)| {
                (tenant.as_str(), id.as_str(), payload.as_str(), *version)
            })
            .collect();
        upsert_batch(&mut connection, &batch).await;
    }
    let run = Run::new(rows, started.elapsed(), before, CpuUse::now(None));
    let _ = connection.close().await;
    run
}

async fn eventlog(options: &Options) -> BTreeMap<&'static str, serde_json::Value> {
    let nats_url = callcenter_testkit::nats_url();
    let prefix = unique_name("bench");
    let config = JetStreamConfig::new(Name::new(&prefix).expect("prefix"));
    let jetstream = JetStreamEventStore::connect(&nats_url, config.clone())
        .await
        .expect("connect");
    let client = async_nats::connect(&nats_url).await.expect("connect raw");
    let raw = async_nats::jetstream::ContextBuilder::new()
        .max_ack_inflight(16_384)
        .build(client);
    let directory = TempDir::new("bench");
    let sqlite: Arc<dyn EventStore> = Arc::new(
        SqliteEventStore::open(&directory.path().join("events.db"))
            .await
            .expect("sqlite"),
    );
    let (commits, concurrency) = (options.commits, options.concurrency);
    let appended = (commits / concurrency) * concurrency;

    // Warm up both paths (connections, caches) on a stream of their own, then alternate the
    // measured runs, each round on fresh aggregates in a fresh stream.
    let store: Arc<dyn EventStore> = Arc::new(jetstream.clone());
    let warm_prefix = format!("{prefix}w");
    let warm = JetStreamEventStore::connect(
        &nats_url,
        JetStreamConfig::new(Name::new(&warm_prefix).expect("prefix")),
    )
    .await
    .expect("connect");
    append_workload(Arc::new(warm.clone()), concurrency * 4, concurrency).await;
    raw_publish_workload(
        &raw,
        &warm_prefix,
        concurrency * 4,
        concurrency,
        RawHeaders::None,
    )
    .await;
    warm.delete_stream().await.expect("clean up");
    // Each measured run appends to fresh aggregates in a stream of its own; the rounds alternate
    // the modes so that a slow spell of the machine falls on all of them.
    let nats_pid = std::env::var(NATS_PID_VAR).ok();
    let mut runs: [Vec<Run>; MODES.len()] = std::array::from_fn(|_| Vec::new());
    for round in 0..3 {
        for (index, (mode, _)) in MODES.iter().enumerate() {
            let round_prefix = format!("{prefix}{index}r{round}");
            let stream = JetStreamEventStore::connect(
                &nats_url,
                JetStreamConfig::new(Name::new(&round_prefix).expect("prefix")),
            )
            .await
            .expect("connect");
            let cpu_before = CpuUse::now(nats_pid.as_deref());
            let elapsed = match mode {
                None => append_workload(Arc::new(stream.clone()), commits, concurrency).await,
                Some(with) => {
                    raw_publish_workload(&raw, &round_prefix, commits, concurrency, *with).await
                }
            };
            runs[index].push(Run::new(
                appended,
                elapsed,
                cpu_before,
                CpuUse::now(nats_pid.as_deref()),
            ));
            let _ = stream.delete_stream().await;
        }
    }
    let medians = runs.map(Run::median);
    let mut table = String::new();
    for (run, (_, label)) in medians.iter().zip(MODES) {
        table += &run.table_row(label);
    }
    let [ours, raw_bare, raw_bodies, raw_sequence, raw_msg_id] = medians;
    let (jetstream_rate, raw_rate, raw_sequence_rate) = (
        ours.per_second,
        raw_bare.per_second,
        raw_sequence.per_second,
    );
    let sqlite_rate = per_second(
        appended,
        append_workload(Arc::clone(&sqlite), commits, concurrency).await,
    );
    let replay = sqlite_replay(sqlite.as_ref(), &directory.path().join("events.db")).await;
    let replay_rate = per_second(replay.commits, replay.subscription);
    let scan_rate = per_second(replay.commits, replay.scan);

    // Projection catch-up, the hand-written loader and the plain upsert from memory, each into a
    // fresh table, alternated over three rounds (each round's projection and loader are new
    // subscriptions from the first commit).
    let rows = options.rows;
    fill_log(Arc::clone(&store), rows, &[("telephony", "call")], 1).await;
    let mut projection_runs = Vec::new();
    let mut plain_runs = Vec::new();
    let mut loader_runs = Vec::new();
    for round in 0..3 {
        projection_runs.push(projection_round(&store, rows, round, nats_pid.as_deref()).await);
        let plain_schema = PgSchema::create("bench").await;
        plain_runs.push(plain_upsert(&plain_schema.url(), rows).await);
        plain_schema.drop_schema().await;
        let loader_schema = PgSchema::create("bench").await;
        loader_runs.push(
            raw_loader(
                &raw,
                &config.stream_name(),
                &loader_schema.url(),
                rows,
                round,
                nats_pid.as_deref(),
            )
            .await,
        );
        loader_schema.drop_schema().await;
    }
    let projection_run = Run::median(projection_runs);
    let plain_run = Run::median(plain_runs);
    let loader_run = Run::median(loader_runs);
    let projection_rate = projection_run.per_second;
    let plain_rate = plain_run.per_second;

    let (matched, four_filters, one_wildcard) =
        filter_subjects_against_wildcard(&nats_url, rows).await;

    jetstream.delete_stream().await.expect("clean up");

    println!(
        "eventlog benchmark: {appended} appends ({concurrency} in flight, {PAYLOAD_BYTES}-byte payloads), {rows} projected rows"
    );
    println!(
        "{:<52} {:>14} {:>14} {:>14} {:>14}",
        "measure (median of 3)", "per second", "client µs/op", "NATS µs/op", "machine µs/op"
    );
    print!("{table}");
    println!("{:<52} {:>14.0}", "SQLite backend appends", sqlite_rate);
    println!(
        "{:<52} {:>14.0}",
        "SQLite replay from 0 through a subscription", replay_rate
    );
    println!(
        "{:<52} {:>14.0}",
        "SQLite plain paged SELECT of the same commits", scan_rate
    );
    println!(
        "{:<52} {:>14.1}",
        "seconds a COUNT of what is left per batch would add",
        replay.counting_left.as_secs_f64()
    );
    print!(
        "{}",
        projection_run.table_row("projection catch-up rows (JetStream -> PostgreSQL)")
    );
    print!(
        "{}",
        loader_run.table_row("hand-written loader rows (raw JetStream -> PostgreSQL)")
    );
    print!(
        "{}",
        plain_run.table_row("plain batched PostgreSQL upsert rows (from memory)")
    );
    println!(
        "{:<52} {:>14.0}",
        "replay, four kinds of stream (commits/s)",
        rows as f64 / four_filters
    );
    println!(
        "{:<52} {:>14.0}",
        "replay, every stream (commits/s)",
        rows as f64 / one_wildcard
    );
    println!(
        "ratios: JetStream backend / raw = {:.2} (target >= 0.8), / raw with the same bodies and header = {:.2}; \
         raw with the same bodies and header / raw = {:.2} (what the server's check leaves any backend that sends it); \
         projection / plain upsert = {:.2} (target >= 0.8), / hand-written loader of the same log = {:.2}",
        jetstream_rate / raw_rate,
        jetstream_rate / raw_sequence_rate,
        raw_sequence_rate / raw_rate,
        projection_rate / plain_rate,
        projection_rate / loader_run.per_second
    );

    let round2 = |value: f64| (value * 100.0).round() / 100.0;
    BTreeMap::from([
        ("bench", serde_json::json!("eventlog")),
        ("appends", serde_json::json!(appended)),
        ("concurrency", serde_json::json!(concurrency)),
        ("payload_bytes", serde_json::json!(PAYLOAD_BYTES)),
        (
            "jetstream_appends_per_s",
            serde_json::json!(jetstream_rate.round()),
        ),
        ("raw_publishes_per_s", serde_json::json!(raw_rate.round())),
        (
            "jetstream_vs_raw",
            serde_json::json!(round2(jetstream_rate / raw_rate)),
        ),
        (
            "raw_same_bodies_no_header_per_s",
            serde_json::json!(raw_bodies.per_second.round()),
        ),
        (
            "raw_same_bodies_and_header_per_s",
            serde_json::json!(raw_sequence_rate.round()),
        ),
        (
            "jetstream_vs_raw_same_bodies_and_header",
            serde_json::json!(round2(jetstream_rate / raw_sequence_rate)),
        ),
        (
            "raw_same_bodies_with_msg_id_per_s",
            serde_json::json!(raw_msg_id.per_second.round()),
        ),
        (
            "raw_same_bodies_and_header_vs_raw",
            serde_json::json!(round2(raw_sequence_rate / raw_rate)),
        ),
        (
            "client_cpu_us_per_append",
            serde_json::json!({
                "jetstream": ours.client_micros,
                "raw": raw_bare.client_micros,
                "raw_same_bodies_and_header": raw_sequence.client_micros,
            }),
        ),
        (
            "server_cpu_us_per_append",
            serde_json::json!({
                "jetstream": ours.server_micros,
                "raw": raw_bare.server_micros,
                "raw_same_bodies_no_header": raw_bodies.server_micros,
                "raw_same_bodies_and_header": raw_sequence.server_micros,
            }),
        ),
        (
            "sqlite_appends_per_s",
            serde_json::json!(sqlite_rate.round()),
        ),
        ("sqlite_replayed_commits", serde_json::json!(replay.commits)),
        (
            "sqlite_replay_commits_per_s",
            serde_json::json!(replay_rate.round()),
        ),
        (
            "sqlite_plain_scan_commits_per_s",
            serde_json::json!(scan_rate.round()),
        ),
        (
            "sqlite_replay_vs_scan",
            serde_json::json!(round2(replay_rate / scan_rate)),
        ),
        (
            "sqlite_counting_left_per_batch_seconds",
            serde_json::json!(round2(replay.counting_left.as_secs_f64())),
        ),
        ("projected_rows", serde_json::json!(rows)),
        (
            "projection_rows_per_s",
            serde_json::json!(projection_rate.round()),
        ),
        (
            "plain_upsert_rows_per_s",
            serde_json::json!(plain_rate.round()),
        ),
        (
            "cpu_us_per_row",
            serde_json::json!({
                "projection": projection_run.cpu_json(),
                "loader": loader_run.cpu_json(),
                "plain_upsert": plain_run.cpu_json(),
            }),
        ),
        (
            "loader_rows_per_s",
            serde_json::json!(loader_run.per_second.round()),
        ),
        (
            "projection_vs_loader",
            serde_json::json!(round2(projection_rate / loader_run.per_second)),
        ),
        (
            "projection_vs_plain",
            serde_json::json!(round2(projection_rate / plain_rate)),
        ),
        ("replay_commits", serde_json::json!(rows)),
        ("replay_matching_commits", serde_json::json!(matched)),
        (
            "replay_four_streams_commits_per_s",
            serde_json::json!((rows as f64 / four_filters).round()),
        ),
        (
            "replay_every_stream_commits_per_s",
            serde_json::json!((rows as f64 / one_wildcard).round()),
        ),
    ])
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, rest)) = args.split_first() else {
        eprintln!(
            "usage: callcenter-bench eventlog [--commits N] [--concurrency N] [--rows N]\n       \
             callcenter-bench telephony [--calls N] [--rate N]\n       \
             callcenter-bench routing [--decisions N] [--agents N] [--queues N]\n       \
             callcenter-bench erlang [--cases N]\n       \
             callcenter-bench forecast\n       \
             callcenter-bench roster [--seconds N]"
        );
        return std::process::ExitCode::FAILURE;
    };
    let options = match parse_options(rest) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("callcenter-bench: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let figures = match name.as_str() {
        "eventlog" => runtime.block_on(eventlog(&options)),
        "telephony" => runtime.block_on(telephony::telephony(&options)),
        "routing" => runtime.block_on(routing::routing(&options)),
        "erlang" => erlang::erlang(options.cases),
        "forecast" => forecast::forecast_bench(),
        "roster" => roster::roster_bench(options.seconds),
        "history" => runtime.block_on(history::history(&options)),
        "capacity" => runtime.block_on(capacity::capacity(&options)),
        other => {
            eprintln!(
                "callcenter-bench: unknown benchmark {other:?} (known: eventlog, telephony, routing, erlang, forecast, roster, history, capacity)"
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{}", serde_json::to_string(&figures).expect("json"));
    std::process::ExitCode::SUCCESS
}
