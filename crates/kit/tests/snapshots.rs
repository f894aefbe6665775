//! Consumers' snapshots on both event logs (SQLite, JetStream): a view restored from its snapshot
//! reads only the commits after it and ends as a replay from zero does; a snapshot of the
//! previous format is upcast; one that cannot be used (damaged, of an unknown format, beyond the
//! log's head) is set aside and the log replayed. A view holds the log through the commits its
//! filter leaves out (its snapshot and its resume start after them), and a view a follower kept
//! warm (restoring snapshots, never saving one) is resumed by another runner where it stopped.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_eventlog::{EventStore, Filter, Name, Position, RecordedEvent, Snapshot};
use callcenter_kit::{
    Aggregate, CommandHandler, CommandMeta, Consumer, ConsumerError, ConsumerStatus,
    PersistedEvent, Subscribe, WarmView, resume_consumer, run_consumer, snapshot,
};
use callcenter_testkit::TempDir;
use common::{Add, Added, Tally, TallyError, add};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

fn name(value: &str) -> Name {
    Name::new(value).unwrap()
}

/// Totals per tally, with the snapshot formats a real consumer goes through: format 1 wrote
/// the totals as a list of pairs, format 2 (current) as a map.
struct Totals {
    totals: BTreeMap<Name, u64>,
    /// Events folded since this start (not part of the view).
    folded: usize,
    /// The format it writes (1 plays the previous version of the consumer); `None`: no snapshots.
    format: Option<u32>,
    subscription: Name,
    /// Restores snapshots but saves none (a follower).
    follower: bool,
    /// How many events this start had folded at each `act`.
    acted_at: Vec<usize>,
}

impl Totals {
    fn new(subscription: &str, format: Option<u32>) -> Self {
        Self {
            totals: BTreeMap::new(),
            folded: 0,
            format,
            subscription: name(subscription),
            follower: false,
            acted_at: Vec::new(),
        }
    }
}

/// Another aggregate of the same context, which the totals' filter leaves out.
#[derive(Clone, Debug, Default)]
struct Note(Tally);

impl Aggregate for Note {
    const CONTEXT: &'static str = "test";
    const TYPE: &'static str = "note";
    type Command = Add;
    type Event = Added;
    type Error = TallyError;

    fn decide(&self, command: &Add) -> Result<Vec<Added>, TallyError> {
        self.0.decide(command)
    }

    fn evolve(&mut self, event: &Added) {
        self.0.evolve(event);
    }
}

#[async_trait::async_trait]
impl Consumer for Totals {
    fn subscription(&self) -> Subscribe {
        // Two streams, so that JetStream delivers the context's every commit (the note's too)
        // and the runner's subscription leaves out the notes in process.
        let filter = Filter::all()
            .aggregate(name("test"), name("tally"))
            .aggregate(name("test"), name("unused"));
        Subscribe {
            batch_size: 7,
            tick: Duration::from_millis(20),
            follower: self.follower,
            ..Subscribe::view(self.subscription.clone(), filter)
        }
    }

    fn reset(&mut self) {
        self.totals.clear();
        self.folded = 0;
    }

    async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ConsumerError> {
        for event in events {
            let added = Added::decode(event).map_err(|e| ConsumerError(e.to_string()))?;
            *self
                .totals
                .entry(event.stream().aggregate_id.clone())
                .or_default() += added.amount;
            self.folded += 1;
        }
        Ok(())
    }

    fn snapshot_format(&self) -> Option<u32> {
        self.format
    }

    async fn act(&mut self) -> Result<(), ConsumerError> {
        self.acted_at.push(self.folded);
        Ok(())
    }

    fn snapshot(&self) -> Result<Vec<u8>, ConsumerError> {
        match self.format {
            Some(1) => snapshot::encode(&self.totals.iter().collect::<Vec<_>>()),
            _ => snapshot::encode(&self.totals),
        }
    }

    fn restore(&mut self, format: u32, body: &[u8]) -> Result<bool, ConsumerError> {
        self.totals = match format {
            1 => snapshot::decode::<Vec<(Name, u64)>>(body)?
                .into_iter()
                .collect(),
            2 => snapshot::decode(body)?,
            _ => return Ok(false),
        };
        Ok(true)
    }
}

/// Runs `consumer` until it has caught up with the log, then stops it (which saves its
/// snapshot, if it keeps them) and hands it back.
async fn run_until_caught_up(store: &Arc<dyn EventStore>, consumer: Totals) -> Totals {
    run_from(store, consumer, None).await.0
}

/// Runs `consumer` (resuming its view after `holding`, if given) until it has caught up, then
/// stops it; hands it back with how far its view holds the log.
async fn run_from(
    store: &Arc<dyn EventStore>,
    mut consumer: Totals,
    holding: Option<Position>,
) -> (Totals, Option<Position>) {
    let status = watch::Sender::new(ConsumerStatus::default());
    let mut watching = status.subscribe();
    let shutdown = CancellationToken::new();
    let running = {
        let (store, status, shutdown) = (Arc::clone(store), status.clone(), shutdown.clone());
        tokio::spawn(async move {
            let through = match holding {
                Some(through) => {
                    let warm = WarmView {
                        through,
                        caught_up: true,
                    };
                    resume_consumer(&*store, &mut consumer, warm, &status, &shutdown).await
                }
                None => run_consumer(&*store, &mut consumer, &status, &shutdown).await,
            };
            (consumer, through)
        })
    };
    let head = store.head().await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(20),
        watching.wait_for(|status| status.caught_up && status.checkpoint >= head),
    )
    .await
    .expect("caught up in time")
    .unwrap();
    shutdown.cancel();
    running.await.unwrap()
}

async fn add_notes(store: &Arc<dyn EventStore>, count: u64) {
    let handler = CommandHandler::<Note>::new(Arc::clone(store));
    for index in 0..count {
        let meta = CommandMeta::system(name("acme"), "test", format!("n{index}"));
        handler.handle(&meta, &name("n"), &add(1)).await.unwrap();
    }
}

async fn add_tallies(store: &Arc<dyn EventStore>, from: u64, count: u64) {
    let handler = CommandHandler::<Tally>::new(Arc::clone(store));
    for index in from..from + count {
        let id = name(&format!("t{}", index % 5));
        let meta = CommandMeta::system(name("acme"), "test", format!("r{index}"));
        handler
            .handle(&meta, &id, &add(index % 9 + 1))
            .await
            .unwrap();
    }
}

/// What replaying the whole log from zero makes (a consumer without snapshots).
async fn replayed(store: &Arc<dyn EventStore>) -> BTreeMap<Name, u64> {
    let replay = run_until_caught_up(store, Totals::new("replay", None)).await;
    replay.totals
}

async fn a_view_restored_from_its_snapshot_reads_only_the_tail_and_ends_as_a_replay_from_zero(
    store: Arc<dyn EventStore>,
) {
    add_tallies(&store, 0, 30).await;
    let first = run_until_caught_up(&store, Totals::new("totals", Some(2))).await;
    assert_eq!(first.folded, 30);
    let saved = store.load_snapshot(&name("totals")).await.unwrap();
    assert_eq!(
        saved.map(|s| (s.format, s.position)),
        Some((2, store.head().await.unwrap()))
    );

    add_tallies(&store, 30, 10).await;
    let restarted = run_until_caught_up(&store, Totals::new("totals", Some(2))).await;
    assert_eq!(restarted.folded, 10, "only the commits after the snapshot");
    assert_eq!(restarted.totals, replayed(&store).await);
}

async fn a_snapshot_of_the_previous_format_is_upcast_and_an_unusable_one_is_replayed(
    store: Arc<dyn EventStore>,
) {
    add_tallies(&store, 0, 20).await;
    // The previous version of the consumer writes format 1.
    run_until_caught_up(&store, Totals::new("totals", Some(1))).await;
    add_tallies(&store, 20, 4).await;
    let upcast = run_until_caught_up(&store, Totals::new("totals", Some(2))).await;
    assert_eq!(
        upcast.folded, 4,
        "format 1 is read, and only the tail folded"
    );
    let expected = replayed(&store).await;
    assert_eq!(upcast.totals, expected);

    let head = store.head().await.unwrap();
    let unusable = [
        ("damaged", 2, head, vec![0xff; 3]),
        ("of an unknown format", 9, head, vec![]),
        (
            "beyond the log's head",
            2,
            head + 1_000,
            snapshot::encode(&expected).unwrap(),
        ),
    ];
    for (why, format, position, body) in unusable {
        let snapshot = Snapshot {
            format,
            position,
            body,
        };
        store
            .save_snapshot(&name("totals"), &snapshot)
            .await
            .unwrap();
        let rebuilt = run_until_caught_up(&store, Totals::new("totals", Some(2))).await;
        assert_eq!(rebuilt.folded, 24, "a snapshot {why} is set aside");
        assert_eq!(rebuilt.totals, expected, "a snapshot {why}");
    }
}

async fn a_view_holds_the_log_through_the_commits_its_filter_leaves_out(
    store: Arc<dyn EventStore>,
) {
    add_tallies(&store, 0, 10).await;
    add_notes(&store, 25).await;
    let first = run_until_caught_up(&store, Totals::new("totals", Some(2))).await;
    assert_eq!(first.folded, 10);
    let head = store.head().await.unwrap();
    let saved = store.load_snapshot(&name("totals")).await.unwrap();
    assert_eq!(
        saved.map(|s| s.position),
        Some(head),
        "the snapshot stands after the notes, not at the last tally"
    );
    add_notes(&store, 5).await;
    add_tallies(&store, 10, 3).await;
    let (restarted, through) = run_from(&store, Totals::new("totals", Some(2)), None).await;
    assert_eq!(restarted.folded, 3);
    assert_eq!(through, Some(store.head().await.unwrap()));
    assert_eq!(restarted.totals, replayed(&store).await);
}

async fn a_view_kept_warm_by_a_follower_is_resumed_where_it_stopped_and_ends_as_a_replay_from_zero(
    store: Arc<dyn EventStore>,
) {
    // The owner saves a snapshot; a follower restores it and follows the log, saving none.
    add_tallies(&store, 0, 20).await;
    run_until_caught_up(&store, Totals::new("totals", Some(2))).await;
    let saved = store.load_snapshot(&name("totals")).await.unwrap().unwrap();
    add_tallies(&store, 20, 6).await;
    add_notes(&store, 4).await;
    let follower = Totals {
        follower: true,
        ..Totals::new("totals", Some(2))
    };
    let (mut warm, through) = run_from(&store, follower, None).await;
    assert_eq!(warm.folded, 6, "the owner's snapshot, then the tail");
    assert!(warm.acted_at.is_empty(), "a follower never acts");
    assert_eq!(through, Some(store.head().await.unwrap()));
    let unchanged = store.load_snapshot(&name("totals")).await.unwrap().unwrap();
    assert_eq!(unchanged.position, saved.position, "a follower saves none");

    // Taken over: the view goes on from where the follower stopped, and saves again. It had
    // caught up, so it acts at once, before reading anything.
    add_tallies(&store, 26, 5).await;
    warm.follower = false;
    let (resumed, _) = run_from(&store, warm, through).await;
    assert_eq!(
        resumed.folded, 11,
        "the follower's six and the five after it"
    );
    assert_eq!(resumed.acted_at.first(), Some(&6), "{:?}", resumed.acted_at);
    assert_eq!(resumed.totals, replayed(&store).await);
    let saved = store.load_snapshot(&name("totals")).await.unwrap().unwrap();
    assert_eq!(saved.position, store.head().await.unwrap());
}

async fn embedded(case: impl AsyncFnOnce(Arc<dyn EventStore>)) {
    let directory = TempDir::new("snapshots");
    let store = SqliteEventStore::open(&directory.path().join("events.db"))
        .await
        .unwrap();
    case(Arc::new(store)).await;
}

async fn jetstream(case: impl AsyncFnOnce(Arc<dyn EventStore>)) {
    let prefix = Name::new(callcenter_testkit::unique_name("snap")).unwrap();
    let store = JetStreamEventStore::connect(
        &callcenter_testkit::nats_url(),
        JetStreamConfig::new(prefix),
    )
    .await
    .unwrap();
    case(Arc::new(store.clone())).await;
    store.delete_stream().await.unwrap();
}

macro_rules! on_both_logs {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::embedded(super::$case).await;
                }
            )+
        }
        mod jetstream {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::jetstream(super::$case).await;
                }
            )+
        }
    };
}

on_both_logs!(
    a_view_restored_from_its_snapshot_reads_only_the_tail_and_ends_as_a_replay_from_zero,
    a_snapshot_of_the_previous_format_is_upcast_and_an_unusable_one_is_replayed,
    a_view_holds_the_log_through_the_commits_its_filter_leaves_out,
    a_view_kept_warm_by_a_follower_is_resumed_where_it_stopped_and_ends_as_a_replay_from_zero,
);
