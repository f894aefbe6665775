//! The command handler against a real event log (SQLite; the event log's own suite covers JetStream).

mod common;

use std::sync::Arc;

use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_eventlog::{EventStore, Name};
use callcenter_kit::testing::given;
use callcenter_kit::{CommandError, CommandHandler, CommandMeta};
use callcenter_testkit::TempDir;
use common::{Added, Tally, TallyError, add};

async fn store(directory: &TempDir) -> Arc<dyn EventStore> {
    Arc::new(
        SqliteEventStore::open(&directory.path().join("events.db"))
            .await
            .expect("open"),
    )
}

fn meta(request_id: &str) -> CommandMeta {
    CommandMeta {
        tenant: Name::new("t1").unwrap(),
        request_id: Some(request_id.into()),
        correlation_id: "corr".into(),
        causation_id: "cause".into(),
        actor: "tester".into(),
        at: callcenter_kit::Timestamp::from_unix_millis(1_763_800_000_000),
    }
}

#[test]
fn given_when_then_checks_decisions_without_infrastructure() {
    let at = add(0).at;
    let state = given::<Tally>([Added { amount: 600, at }])
        .when(add(300))
        .then([Added { amount: 300, at }]);
    assert_eq!(state.total, 900);
    given::<Tally>([Added { amount: 900, at }])
        .when(add(200))
        .then_error(TallyError::OverLimit { amount: 200 });
    given::<Tally>([]).when(add(0)).then([]);
}

#[tokio::test]
async fn a_handled_command_is_appended_and_returns_the_new_state() {
    let directory = TempDir::new("kit");
    let handler = CommandHandler::<Tally>::new(store(&directory).await);
    let id = Name::new("tally-1").unwrap();
    let first = handler.handle(&meta("r1"), &id, &add(5)).await.unwrap();
    let second = handler.handle(&meta("r2"), &id, &add(7)).await.unwrap();
    assert_eq!(first.state.total, 5);
    assert_eq!(second.state.total, 12);
    assert_eq!(second.version.version(), 2);
    assert_eq!(second.new_events.len(), 1);
    let loaded = handler.load(&Name::new("t1").unwrap(), &id).await.unwrap();
    assert_eq!(loaded.state.total, 12);
    assert!(loaded.exists());
}

#[tokio::test]
async fn a_retried_request_returns_the_first_result_and_appends_nothing() {
    let directory = TempDir::new("kit");
    let handler = CommandHandler::<Tally>::new(store(&directory).await);
    let id = Name::new("tally-1").unwrap();
    handler.handle(&meta("r1"), &id, &add(5)).await.unwrap();
    handler.handle(&meta("r2"), &id, &add(1)).await.unwrap();
    let retry = handler.handle(&meta("r1"), &id, &add(5)).await.unwrap();
    assert!(retry.duplicate);
    assert!(retry.new_events.is_empty());
    assert_eq!(retry.state.total, 6, "nothing was added twice");
    assert_eq!(retry.version.version(), 2);
}

#[tokio::test]
async fn a_refused_command_appends_nothing() {
    let directory = TempDir::new("kit");
    let handler = CommandHandler::<Tally>::new(store(&directory).await);
    let id = Name::new("tally-1").unwrap();
    handler.handle(&meta("r1"), &id, &add(999)).await.unwrap();
    let refused = handler.handle(&meta("r2"), &id, &add(2)).await.unwrap_err();
    assert!(matches!(
        refused,
        CommandError::Rejected(TallyError::OverLimit { amount: 2 })
    ));
    let loaded = handler.load(&Name::new("t1").unwrap(), &id).await.unwrap();
    assert_eq!(loaded.version.version(), 1);
}

#[tokio::test]
async fn a_command_decided_on_an_older_version_is_refused_as_stale_and_appends_nothing() {
    let directory = TempDir::new("kit");
    let handler = CommandHandler::<Tally>::new(store(&directory).await);
    let id = Name::new("tally-1").unwrap();
    handler.handle(&meta("r1"), &id, &add(5)).await.unwrap();
    // Decided on version 1, and the aggregate is at 1: it lands.
    let landed = handler
        .handle_on(1, &meta("r2"), &id, &add(1))
        .await
        .unwrap();
    assert_eq!(landed.version.version(), 2);
    // Decided on version 1 again, but the aggregate is at 2 now.
    let stale = handler
        .handle_on(1, &meta("r3"), &id, &add(1))
        .await
        .unwrap_err();
    assert!(matches!(
        stale,
        CommandError::Stale {
            expected: 1,
            current: 2
        }
    ));
    let loaded = handler.load(&Name::new("t1").unwrap(), &id).await.unwrap();
    assert_eq!((loaded.version.version(), loaded.state.total), (2, 6));
    // A retry of the request that landed gets its first result, not a refusal.
    let retry = handler
        .handle_on(1, &meta("r2"), &id, &add(1))
        .await
        .unwrap();
    assert!(retry.duplicate && retry.new_events.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_on_one_aggregate_all_land_through_retries() {
    let directory = TempDir::new("kit");
    let handler = CommandHandler::<Tally>::new(store(&directory).await).with_max_attempts(50);
    let id = Name::new("busy").unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let handler = handler.clone();
            let id = id.clone();
            tokio::spawn(async move { handler.handle(&meta(&format!("r{i}")), &id, &add(1)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let loaded = handler.load(&Name::new("t1").unwrap(), &id).await.unwrap();
    assert_eq!(loaded.state.total, 16);
    assert_eq!(loaded.version.version(), 16);
}

/// Wraps the real store: answers the first `conflicts` appends with a conflict, as a busy
/// aggregate would, and counts the events that loading aggregates read.
#[derive(Debug)]
struct Contended {
    inner: Arc<dyn EventStore>,
    conflicts: std::sync::atomic::AtomicUsize,
    events_read: std::sync::atomic::AtomicUsize,
}

impl Contended {
    fn new(inner: &Arc<dyn EventStore>, conflicts: usize) -> Self {
        Self {
            inner: Arc::clone(inner),
            conflicts: std::sync::atomic::AtomicUsize::new(conflicts),
            events_read: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The events read since the last call.
    fn take_read(&self) -> usize {
        self.events_read
            .swap(0, std::sync::atomic::Ordering::SeqCst)
    }

    fn count(&self, read: &callcenter_eventlog::StreamEvents) {
        self.events_read
            .fetch_add(read.events.len(), std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl EventStore for Contended {
    async fn append(
        &self,
        request: callcenter_eventlog::AppendRequest,
    ) -> Result<callcenter_eventlog::Appended, callcenter_eventlog::StoreError> {
        use std::sync::atomic::Ordering;
        if self
            .conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(callcenter_eventlog::StoreError::Conflict {
                stream: request.stream,
                expected: request.expected,
                actual: 0,
            });
        }
        self.inner.append(request).await
    }

    async fn read_stream(
        &self,
        stream: &callcenter_eventlog::StreamKey,
        after_version: u64,
    ) -> Result<callcenter_eventlog::StreamEvents, callcenter_eventlog::StoreError> {
        let read = self.inner.read_stream(stream, after_version).await?;
        self.count(&read);
        Ok(read)
    }

    async fn read_stream_from(
        &self,
        stream: &callcenter_eventlog::StreamKey,
        from: callcenter_eventlog::StreamVersion,
    ) -> Result<callcenter_eventlog::StreamEvents, callcenter_eventlog::StoreError> {
        let read = self.inner.read_stream_from(stream, from).await?;
        self.count(&read);
        Ok(read)
    }

    async fn subscribe(
        &self,
        spec: callcenter_eventlog::SubscriptionSpec,
    ) -> Result<Box<dyn callcenter_eventlog::Subscription>, callcenter_eventlog::StoreError> {
        self.inner.subscribe(spec).await
    }

    async fn head(&self) -> Result<callcenter_eventlog::Position, callcenter_eventlog::StoreError> {
        self.inner.head().await
    }

    async fn delete_subscription(
        &self,
        name: &Name,
    ) -> Result<(), callcenter_eventlog::StoreError> {
        self.inner.delete_subscription(name).await
    }

    async fn save_snapshot(
        &self,
        name: &Name,
        snapshot: &callcenter_eventlog::Snapshot,
    ) -> Result<(), callcenter_eventlog::StoreError> {
        self.inner.save_snapshot(name, snapshot).await
    }

    async fn load_snapshot(
        &self,
        name: &Name,
    ) -> Result<Option<callcenter_eventlog::Snapshot>, callcenter_eventlog::StoreError> {
        self.inner.load_snapshot(name).await
    }

    async fn health(&self) -> Result<(), callcenter_eventlog::StoreError> {
        self.inner.health().await
    }

    fn backend(&self) -> &'static str {
        "contended"
    }
}

#[tokio::test]
async fn conflicts_are_retried_up_to_the_bound_and_then_reported_as_contention() {
    let directory = TempDir::new("kit");
    let real = store(&directory).await;
    let contended =
        |conflicts| -> Arc<dyn EventStore> { Arc::new(Contended::new(&real, conflicts)) };
    let id = Name::new("busy").unwrap();
    let patient = CommandHandler::<Tally>::new(contended(2)).with_max_attempts(3);
    let landed = patient.handle(&meta("r1"), &id, &add(4)).await.unwrap();
    assert_eq!(landed.state.total, 4, "two conflicts, third attempt lands");

    let impatient = CommandHandler::<Tally>::new(contended(3)).with_max_attempts(3);
    let gave_up = impatient
        .handle(&meta("r2"), &id, &add(1))
        .await
        .unwrap_err();
    assert!(matches!(gave_up, CommandError::Contention { attempts: 3 }));
    let loaded = patient.load(&Name::new("t1").unwrap(), &id).await.unwrap();
    assert_eq!(
        loaded.state.total, 4,
        "the abandoned command left nothing behind"
    );
}

/// A switch whose events carry no time of their own.
#[derive(Clone, Debug, Default, PartialEq)]
struct Switch {
    on: bool,
}

#[derive(Clone, Debug, PartialEq)]
struct Flipped;

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("never")]
struct Never;

impl callcenter_kit::Aggregate for Switch {
    const CONTEXT: &'static str = "test";
    const TYPE: &'static str = "switch";
    type Command = ();
    type Event = Flipped;
    type Error = Never;

    fn decide(&self, _: &()) -> Result<Vec<Flipped>, Never> {
        Ok(vec![Flipped])
    }

    fn evolve(&mut self, _: &Flipped) {
        self.on = !self.on;
    }
}

impl callcenter_kit::PersistedEvent for Flipped {
    fn encode(&self) -> callcenter_kit::EncodedEvent {
        callcenter_kit::EncodedEvent {
            event_type: "callcenter.test.v1.Flipped".into(),
            schema_version: 1,
            occurred_at: None,
            payload: bytes::Bytes::new(),
        }
    }

    fn decode(_: &callcenter_eventlog::RecordedEvent) -> Result<Self, callcenter_kit::DecodeError> {
        Ok(Flipped)
    }
}

#[tokio::test]
async fn an_event_without_a_time_of_its_own_is_stored_at_the_time_of_its_command() {
    let directory = TempDir::new("kit-handler-time");
    let store = store(&directory).await;
    let handler = CommandHandler::<Switch>::new(Arc::clone(&store));
    let mut command = meta("flip-1");
    command.at = callcenter_kit::Timestamp::from_unix_millis(1_796_113_807_000);
    handler
        .handle(&command, &Name::new("s1").unwrap(), &())
        .await
        .unwrap();
    let stream = callcenter_eventlog::StreamKey::new("t1", "test", "switch", "s1").unwrap();
    let stored = store.read_stream(&stream, 0).await.unwrap();
    assert_eq!(stored.events[0].occurred_at, command.at);
}

#[tokio::test]
async fn a_long_lived_aggregate_is_loaded_from_its_snapshot_and_still_recognises_old_retries() {
    let directory = TempDir::new("kit");
    let real = store(&directory).await;
    let reading = Arc::new(Contended::new(&real, 0));
    let snapshotting = CommandHandler::<Tally>::new(Arc::clone(&reading) as Arc<dyn EventStore>)
        .with_snapshots(1, 10);
    let plain = CommandHandler::<Tally>::new(Arc::clone(&real));
    let id = Name::new("busy").unwrap();
    for index in 0..25 {
        snapshotting
            .handle(&meta(&format!("r{index}")), &id, &add(index % 4 + 1))
            .await
            .unwrap();
    }
    reading.take_read();
    let tenant = Name::new("t1").unwrap();
    let loaded = snapshotting.load(&tenant, &id).await.unwrap();
    let read = reading.take_read();
    assert!(read < 10, "read {read} events after the snapshot, not 25");
    let replayed = plain.load(&tenant, &id).await.unwrap();
    assert_eq!(loaded.state, replayed.state);
    assert_eq!(loaded.version.version(), replayed.version.version());

    // A retry of a request from before the snapshot is still a duplicate.
    let retried = snapshotting
        .handle(&meta("r1"), &id, &add(2))
        .await
        .unwrap();
    assert!(retried.duplicate);
    assert_eq!(retried.state, replayed.state);
    // So it is for a handler that remembers nothing and reads the snapshot.
    let fresh = CommandHandler::<Tally>::new(Arc::clone(&reading) as Arc<dyn EventStore>)
        .with_snapshots(1, 10);
    let retried = fresh.handle(&meta("r2"), &id, &add(2)).await.unwrap();
    assert!(retried.duplicate);
    assert_eq!(retried.state, replayed.state);
    // A new command appends at the right version on top of the snapshot.
    let next = snapshotting
        .handle(&meta("r-next"), &id, &add(1))
        .await
        .unwrap();
    assert_eq!(next.version.version(), replayed.version.version() + 1);
    assert_eq!(next.state.total, replayed.state.total + 1);

    // Another format's snapshot is not read: the whole stream is.
    let other = CommandHandler::<Tally>::new(Arc::clone(&reading) as Arc<dyn EventStore>)
        .with_snapshots(2, 1_000);
    reading.take_read();
    let whole = other.load(&tenant, &id).await.unwrap();
    assert_eq!(reading.take_read(), 26);
    assert_eq!(whole.state.total, next.state.total);
}

#[tokio::test]
async fn a_remembered_aggregate_takes_commands_without_reading_and_another_writers_change_is_caught()
 {
    let directory = TempDir::new("kit");
    let real = store(&directory).await;
    let reading = Arc::new(Contended::new(&real, 0));
    let here = CommandHandler::<Tally>::new(Arc::clone(&reading) as Arc<dyn EventStore>);
    let elsewhere = CommandHandler::<Tally>::new(Arc::clone(&real));
    let tenant = Name::new("t1").unwrap();
    let id = Name::new("shared").unwrap();
    here.handle(&meta("r1"), &id, &add(100)).await.unwrap();
    reading.take_read();
    for index in 2..12 {
        here.handle(&meta(&format!("r{index}")), &id, &add(1))
            .await
            .unwrap();
    }
    assert_eq!(reading.take_read(), 0, "ten commands, no read");

    // Another writer moves the stream on: the remembered version conflicts, the stream is read
    // again and the command lands on top of the other writer's.
    elsewhere
        .handle(&meta("other-1"), &id, &add(500))
        .await
        .unwrap();
    let landed = here.handle(&meta("r12"), &id, &add(1)).await.unwrap();
    assert_eq!(landed.state.total, 100 + 10 + 500 + 1);
    assert_eq!(landed.version.version(), 13);

    // A refusal is given on the stored stream, not on the memory: the other writer took the
    // tally near its limit, which this handler's memory does not know yet.
    elsewhere
        .handle(&meta("other-2"), &id, &add(380))
        .await
        .unwrap();
    let refused = here.handle(&meta("r13"), &id, &add(10)).await.unwrap_err();
    assert!(matches!(
        refused,
        CommandError::Rejected(TallyError::OverLimit { amount: 10 })
    ));
    // And so is a retry of the other writer's request, and a read.
    let retry = here.handle(&meta("other-2"), &id, &add(380)).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.state.total, 991);
    let loaded = here.load(&tenant, &id).await.unwrap();
    assert_eq!((loaded.state.total, loaded.version.version()), (991, 14));
    let replayed = CommandHandler::<Tally>::new(Arc::clone(&real))
        .load(&tenant, &id)
        .await
        .unwrap();
    assert_eq!(replayed.state, loaded.state);
}
