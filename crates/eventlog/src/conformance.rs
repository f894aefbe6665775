//! The conformance suite: what every [`EventStore`] backend must do, written once.
//!
//! A backend's test file implements [`Backend`] and expands [`conformance_tests!`](crate::conformance_tests)
//! once, which makes one `#[tokio::test]` per case, so every case runs (in parallel) and is reported
//! by name.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::{
    AppendRequest, Appended, CommitMetadata, EventStore, ExpectedVersion, Filter, Name, NewEvent,
    RecordedEvent, Snapshot, StoreError, StreamKey, StreamVersion, Subscription, SubscriptionSpec,
    Timestamp, TraceContext,
};

/// How the suite opens the backend under test: an isolated log of its own.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// Opens the log; a second call opens the same log again, as a restarted process would.
    async fn open(&self) -> Arc<dyn EventStore>;
    /// Removes everything the log stored.
    async fn destroy(&self);
}

/// Expands to one test per conformance case; `$backend` is an expression whose future yields a
/// [`Backend`].
#[macro_export]
macro_rules! conformance_tests {
    ($backend:expr) => {
        $crate::conformance_tests!(@cases $backend;
            appends_are_read_back_in_order_with_consecutive_versions,
            a_multi_event_commit_has_one_position_and_consecutive_versions,
            reading_after_a_version_returns_only_newer_events,
            an_unknown_stream_reads_as_empty,
            a_stale_expected_version_is_a_conflict_that_names_the_actual_version,
            expecting_no_stream_on_an_existing_stream_is_a_conflict,
            a_retried_append_returns_the_first_result_and_writes_nothing,
            a_late_retry_after_others_appended_is_still_recognised,
            a_version_without_its_position_is_checked_against_the_stream,
            any_version_appends_at_the_tail_and_deduplicates,
            two_writers_racing_on_one_aggregate_yield_exactly_one_winner,
            a_durable_subscription_resumes_after_a_restart,
            a_subscription_sees_only_its_tenant,
            a_subscription_sees_only_its_contexts_and_aggregate_types,
            a_quiet_subscription_sees_each_matching_commit_among_bursts_of_others,
            resume_after_moves_a_subscription_back_for_a_rebuild,
            a_subscription_delivers_live_appends_and_times_out_empty,
            subscription_batches_hold_whole_commits_in_log_order_and_report_lag,
            the_envelope_carries_metadata_and_trace_context,
            invalid_appends_are_rejected_without_writing,
            the_head_is_the_newest_position_and_a_subscription_after_it_sees_only_newer_commits,
            a_consumers_snapshot_is_kept_by_name_and_replaced_by_the_next,
            reading_from_a_known_version_returns_what_followed_and_appends_on_top,
            appends_arriving_together_each_land_or_fail_on_their_own,
        );
    };
    (@cases $backend:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = $backend.await;
                $crate::conformance::$case(&backend).await;
                $crate::conformance::Backend::destroy(&backend).await;
            }
        )+
    };
}

fn name(value: &str) -> Name {
    Name::new(value).expect("valid name")
}

fn key(tenant: &str, context: &str, aggregate_type: &str, id: &str) -> StreamKey {
    StreamKey::new(tenant, context, aggregate_type, id).expect("valid key")
}

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn event(label: &str) -> NewEvent {
    NewEvent {
        event_id: new_id(),
        event_type: "callcenter.test.v1.Happened".into(),
        schema_version: 1,
        occurred_at: Timestamp::from_unix_millis(1_763_800_000_000),
        payload: Bytes::from(label.to_owned()),
    }
}

fn request(
    stream: &StreamKey,
    expected: ExpectedVersion,
    request_id: &str,
    labels: &[&str],
) -> AppendRequest {
    AppendRequest {
        stream: stream.clone(),
        expected,
        metadata: CommitMetadata {
            request_id: request_id.into(),
            ..CommitMetadata::default()
        },
        events: labels.iter().map(|label| event(label)).collect(),
    }
}

async fn append_labels(
    store: &dyn EventStore,
    stream: &StreamKey,
    expected: ExpectedVersion,
    labels: &[&str],
) -> Appended {
    store
        .append(request(stream, expected, &new_id(), labels))
        .await
        .expect("append")
}

/// Everything `subscription` delivers until it stays empty for half a second.
async fn drain(subscription: &mut dyn Subscription) -> Vec<RecordedEvent> {
    let mut seen = Vec::new();
    loop {
        let batch = subscription
            .next_batch(10, Duration::from_millis(500))
            .await
            .expect("batch");
        if batch.events.is_empty() {
            return seen;
        }
        seen.extend(batch.events);
    }
}

fn labels(events: &[RecordedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| String::from_utf8_lossy(&event.payload).into_owned())
        .collect()
}

fn assert_conflict(result: Result<Appended, StoreError>, actual_version: u64) {
    match result {
        Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, actual_version),
        other => panic!("expected a conflict at version {actual_version}, got {other:?}"),
    }
}

const WAIT: Duration = Duration::from_secs(5);

/// Commits are read back in append order, and versions count events from 1.
pub async fn appends_are_read_back_in_order_with_consecutive_versions(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "telephony", "call", "c1");
    let first = append_labels(&*store, &stream, ExpectedVersion::NoStream, &["a"]).await;
    let second = append_labels(
        &*store,
        &stream,
        ExpectedVersion::Exactly(first.stream_version()),
        &["b"],
    )
    .await;
    let third = append_labels(
        &*store,
        &stream,
        ExpectedVersion::Exactly(second.stream_version()),
        &["c"],
    )
    .await;
    assert_eq!((first.first_version, first.last_version), (1, 1));
    assert_eq!((third.first_version, third.last_version), (3, 3));
    assert!(first.position < second.position && second.position < third.position);
    let read = store.read_stream(&stream, 0).await.expect("read");
    assert_eq!(labels(&read.events), ["a", "b", "c"]);
    let versions: Vec<u64> = read.events.iter().map(|e| e.version).collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(read.version, third.stream_version());
}

/// One commit of several events is one position with consecutive versions, read back whole.
pub async fn a_multi_event_commit_has_one_position_and_consecutive_versions(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "telephony", "call", "multi");
    let first = append_labels(
        &*store,
        &stream,
        ExpectedVersion::NoStream,
        &["a", "b", "c"],
    )
    .await;
    assert_eq!((first.first_version, first.last_version), (1, 3));
    let second = append_labels(
        &*store,
        &stream,
        ExpectedVersion::Exactly(first.stream_version()),
        &["d", "e"],
    )
    .await;
    assert_eq!((second.first_version, second.last_version), (4, 5));
    let read = store.read_stream(&stream, 0).await.expect("read");
    assert_eq!(labels(&read.events), ["a", "b", "c", "d", "e"]);
    let positions: Vec<u64> = read.events.iter().map(RecordedEvent::position).collect();
    assert_eq!(
        positions,
        [
            first.position,
            first.position,
            first.position,
            second.position,
            second.position
        ]
    );
}

/// Reading after a version skips what the reader already has, even inside a commit.
pub async fn reading_after_a_version_returns_only_newer_events(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "telephony", "call", "partial");
    let first = append_labels(&*store, &stream, ExpectedVersion::NoStream, &["a", "b"]).await;
    let second = append_labels(
        &*store,
        &stream,
        ExpectedVersion::Exactly(first.stream_version()),
        &["c", "d"],
    )
    .await;
    let after_one = store.read_stream(&stream, 1).await.expect("read");
    assert_eq!(labels(&after_one.events), ["b", "c", "d"]);
    let after_all = store.read_stream(&stream, 4).await.expect("read");
    assert!(after_all.events.is_empty());
    assert_eq!(after_all.version.version(), 4);
    assert_eq!(after_one.version, second.stream_version());
}

/// Reading from a version whose commit is known (an aggregate's snapshot) returns only the
/// events that followed it, in a later commit or the rest of the same commit; with nothing
/// newer the version is the one read from, and an append expecting it lands.
pub async fn reading_from_a_known_version_returns_what_followed_and_appends_on_top(
    backend: &dyn Backend,
) {
    let store = backend.open().await;
    let stream = key("t1", "routing", "agent", "long-lived");
    let first = append_labels(&*store, &stream, ExpectedVersion::NoStream, &["a", "b"]).await;
    let other = key("t1", "routing", "agent", "other");
    append_labels(&*store, &other, ExpectedVersion::NoStream, &["x"]).await;
    let second = append_labels(
        &*store,
        &stream,
        ExpectedVersion::Exactly(first.stream_version()),
        &["c"],
    )
    .await;
    let after_first = store
        .read_stream_from(&stream, first.stream_version())
        .await
        .expect("read");
    assert_eq!(labels(&after_first.events), ["c"]);
    assert_eq!(after_first.version, second.stream_version());
    let whole = store.read_stream(&stream, 0).await.expect("read");
    let mid_commit = StreamVersion::at(1, whole.events[0].position());
    let rest = store
        .read_stream_from(&stream, mid_commit)
        .await
        .expect("read");
    assert_eq!(labels(&rest.events), ["b", "c"]);
    let nothing_newer = store
        .read_stream_from(&stream, second.stream_version())
        .await
        .expect("read");
    assert!(nothing_newer.events.is_empty());
    assert_eq!(nothing_newer.version, second.stream_version());
    append_labels(
        &*store,
        &stream,
        ExpectedVersion::Exactly(nothing_newer.version),
        &["d"],
    )
    .await;
    let all = store.read_stream(&stream, 0).await.expect("read");
    assert_eq!(labels(&all.events), ["a", "b", "c", "d"]);
}

/// A stream that was never written reads as empty at version 0, ready for a first append.
pub async fn an_unknown_stream_reads_as_empty(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "telephony", "call", "nobody");
    let read = store.read_stream(&stream, 0).await.expect("read");
    assert!(read.events.is_empty());
    assert_eq!(read.version, StreamVersion::EMPTY);
    let appended = append_labels(
        &*store,
        &stream,
        ExpectedVersion::Exactly(read.version),
        &["a"],
    )
    .await;
    assert_eq!(appended.first_version, 1);
}

/// An append that expects an old version fails, says where the stream is, and writes nothing.
pub async fn a_stale_expected_version_is_a_conflict_that_names_the_actual_version(
    backend: &dyn Backend,
) {
    let store = backend.open().await;
    let stream = key("t1", "telephony", "call", "stale");
    let first = append_labels(&*store, &stream, ExpectedVersion::NoStream, &["a"]).await;
    append_labels(
        &*store,
        &stream,
        ExpectedVersion::Exactly(first.stream_version()),
        &["b", "c"],
    )
    .await;
    let stale = store
        .append(request(
            &stream,
            ExpectedVersion::Exactly(first.stream_version()),
            &new_id(),
            &["x"],
        ))
        .await;
    assert_conflict(stale, 3);
    let read = store.read_stream(&stream, 0).await.expect("read");
    assert_eq!(labels(&read.events), ["a", "b", "c"]);
}

/// Creating an aggregate that already exists is a conflict.
pub async fn expecting_no_stream_on_an_existing_stream_is_a_conflict(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "telephony", "call", "exists");
    append_labels(&*store, &stream, ExpectedVersion::NoStream, &["a", "b"]).await;
    let again = store
        .append(request(
            &stream,
            ExpectedVersion::NoStream,
            &new_id(),
            &["x"],
        ))
        .await;
    assert_conflict(again, 2);
}

/// Retrying an append with the same request id returns the first result and writes nothing new.
pub async fn a_retried_append_returns_the_first_result_and_writes_nothing(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "telephony", "call", "retry");
    let original = request(&stream, ExpectedVersion::NoStream, "req-1", &["a", "b"]);
    let first = store.append(original.clone()).await.expect("first");
    assert!(!first.duplicate);
    let retry = store.append(original).await.expect("retry");
    assert!(retry.duplicate);
    assert_eq!(
        (retry.position, retry.first_version, retry.last_version),
        (first.position, first.first_version, first.last_version)
    );
    let read = store.read_stream(&stream, 0).await.expect("read");
    assert_eq!(labels(&read.events), ["a", "b"]);
}

/// A retry that arrives after other commits landed is still recognised as the first one.
pub async fn a_late_retry_after_others_appended_is_still_recognised(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "telephony", "call", "late");
    let opening = append_labels(&*store, &stream, ExpectedVersion::NoStream, &["a"]).await;
    let mine = request(
        &stream,
        ExpectedVersion::Exactly(opening.stream_version()),
        "req-mine",
        &["b"],
    );
    let first = store.append(mine.clone()).await.expect("first");
    append_labels(
        &*store,
        &stream,
        ExpectedVersion::Exactly(first.stream_version()),
        &["c"],
    )
    .await;
    let retry = store.append(mine).await.expect("late retry");
    assert!(retry.duplicate);
    assert_eq!(retry.position, first.position);
    // Someone else's request at that old version is a conflict, not a duplicate.
    let other = store
        .append(request(
            &stream,
            ExpectedVersion::Exactly(opening.stream_version()),
            "req-other",
            &["x"],
        ))
        .await;
    assert_conflict(other, 3);
}

/// A version given without its commit position is looked up and checked.
pub async fn a_version_without_its_position_is_checked_against_the_stream(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "routing", "agent", "a1");
    append_labels(&*store, &stream, ExpectedVersion::NoStream, &["a", "b"]).await;
    let right = append_labels(
        &*store,
        &stream,
        ExpectedVersion::Exactly(StreamVersion::new(2)),
        &["c"],
    )
    .await;
    assert_eq!(right.first_version, 3);
    let wrong = store
        .append(request(
            &stream,
            ExpectedVersion::Exactly(StreamVersion::new(2)),
            &new_id(),
            &["x"],
        ))
        .await;
    assert_conflict(wrong, 3);
}

/// An append that expects nothing lands at the tail and is still deduplicated by request id.
pub async fn any_version_appends_at_the_tail_and_deduplicates(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "routing", "agent", "any");
    let first = append_labels(&*store, &stream, ExpectedVersion::Any, &["a"]).await;
    let second = append_labels(&*store, &stream, ExpectedVersion::Any, &["b", "c"]).await;
    assert_eq!(first.first_version, 1);
    assert_eq!((second.first_version, second.last_version), (2, 3));
    let repeated = request(&stream, ExpectedVersion::Any, "req-any", &["d"]);
    let landed = store.append(repeated.clone()).await.expect("append");
    let again = store.append(repeated).await.expect("retry");
    assert!(again.duplicate);
    assert_eq!(again.position, landed.position);
    let read = store.read_stream(&stream, 0).await.expect("read");
    assert_eq!(labels(&read.events), ["a", "b", "c", "d"]);
}

/// Two writers that append to one aggregate at the same version: exactly one wins, every time.
pub async fn two_writers_racing_on_one_aggregate_yield_exactly_one_winner(backend: &dyn Backend) {
    const ROUNDS: usize = 300;
    let store = backend.open().await;
    for round in 0..ROUNDS {
        let stream = key("t1", "routing", "agent", &format!("race-{round}"));
        // Half the rounds race to create the aggregate, half race on an existing version.
        let expected = if round % 2 == 0 {
            ExpectedVersion::NoStream
        } else {
            let opened = append_labels(&*store, &stream, ExpectedVersion::NoStream, &["o"]).await;
            ExpectedVersion::Exactly(opened.stream_version())
        };
        let writers: Vec<_> = ["left", "right"]
            .into_iter()
            .map(|side| {
                let store = Arc::clone(&store);
                let request = request(&stream, expected, &format!("{side}-{round}"), &[side]);
                tokio::spawn(async move { store.append(request).await })
            })
            .collect();
        let mut winners = 0;
        let mut conflicts = 0;
        for writer in writers {
            match writer.await.expect("writer task") {
                Ok(appended) => {
                    assert!(!appended.duplicate);
                    winners += 1;
                }
                Err(StoreError::Conflict { .. }) => conflicts += 1,
                Err(other) => panic!("round {round}: unexpected error {other}"),
            }
        }
        assert_eq!((winners, conflicts), (1, 1), "round {round}");
        let read = store.read_stream(&stream, 0).await.expect("read");
        let expected_len = if round % 2 == 0 { 1 } else { 2 };
        assert_eq!(read.events.len(), expected_len, "round {round}");
    }
}

/// Many appends at once (which a backend may write together): each new stream's append lands at
/// its own position, of two racing on one stream exactly one wins, and a retry of a landed
/// request is a duplicate; nothing of a failed append is stored.
pub async fn appends_arriving_together_each_land_or_fail_on_their_own(backend: &dyn Backend) {
    let store = backend.open().await;
    let landed = key("t1", "telephony", "call", "landed-before");
    let first = store
        .append(request(
            &landed,
            ExpectedVersion::NoStream,
            "landed-1",
            &["l"],
        ))
        .await
        .expect("append");
    let mut appends = Vec::new();
    for index in 0..100 {
        let stream = key("t1", "telephony", "call", &format!("alone-{index}"));
        appends.push((
            "alone",
            request(
                &stream,
                ExpectedVersion::NoStream,
                &format!("alone-{index}"),
                &["a"],
            ),
        ));
        let raced = key("t1", "telephony", "call", &format!("raced-{}", index / 2));
        appends.push((
            "raced",
            request(
                &raced,
                ExpectedVersion::NoStream,
                &format!("raced-{index}"),
                &["r"],
            ),
        ));
        if index % 10 == 0 {
            appends.push((
                "retry",
                request(&landed, ExpectedVersion::NoStream, "landed-1", &["l"]),
            ));
        }
    }
    let tasks: Vec<_> = appends
        .into_iter()
        .map(|(kind, request)| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { (kind, store.append(request).await) })
        })
        .collect();
    let mut positions = std::collections::BTreeSet::new();
    let (mut alone, mut raced_wins, mut raced_conflicts, mut retries) = (0, 0, 0, 0);
    for task in tasks {
        match task.await.expect("append task") {
            ("alone", Ok(appended)) => {
                assert!(
                    positions.insert(appended.position),
                    "a position given twice"
                );
                alone += 1;
            }
            ("raced", Ok(appended)) => {
                assert!(
                    positions.insert(appended.position),
                    "a position given twice"
                );
                raced_wins += 1;
            }
            ("raced", Err(StoreError::Conflict { .. })) => raced_conflicts += 1,
            ("retry", Ok(appended)) => {
                assert!(appended.duplicate);
                assert_eq!(appended.position, first.position);
                retries += 1;
            }
            (kind, other) => panic!("{kind}: unexpected {other:?}"),
        }
    }
    assert_eq!(
        (alone, raced_wins, raced_conflicts, retries),
        (100, 50, 50, 10)
    );
    for index in 0..50 {
        let raced = key("t1", "telephony", "call", &format!("raced-{index}"));
        let read = store.read_stream(&raced, 0).await.expect("read");
        assert_eq!(
            read.events.len(),
            1,
            "one winner's event, nothing of the loser's"
        );
    }
    assert_eq!(
        store
            .read_stream(&landed, 0)
            .await
            .expect("read")
            .events
            .len(),
        1
    );
    assert_eq!(
        store.head().await.expect("head"),
        *positions.last().expect("positions")
    );
}

/// A durable subscription picks up after its last acknowledgement when the process restarts.
pub async fn a_durable_subscription_resumes_after_a_restart(backend: &dyn Backend) {
    let stream = key("t1", "telephony", "call", "durable");
    let spec = SubscriptionSpec {
        name: name("reporting"),
        filter: Filter::all(),
        resume_after: None,
        expire_when_idle: None,
    };
    {
        let store = backend.open().await;
        let mut version = ExpectedVersion::NoStream;
        for label in ["a", "b", "c", "d", "e"] {
            let appended = append_labels(&*store, &stream, version, &[label]).await;
            version = ExpectedVersion::Exactly(appended.stream_version());
        }
        let mut subscription = store.subscribe(spec.clone()).await.expect("subscribe");
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let batch = subscription
                .next_batch(3 - seen.len(), WAIT)
                .await
                .expect("batch");
            assert!(!batch.events.is_empty(), "delivery within {WAIT:?}");
            seen.extend(batch.events);
        }
        assert_eq!(labels(&seen), ["a", "b", "c"]);
        subscription.ack(seen[2].position()).await.expect("ack");
        // Delivered but never acknowledged: must come again after the restart.
        let unacked = subscription.next_batch(1, WAIT).await.expect("batch");
        assert_eq!(labels(&unacked.events), ["d"]);
    }
    let store = backend.open().await;
    let mut subscription = store.subscribe(spec).await.expect("resubscribe");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let batch = subscription.next_batch(10, WAIT).await.expect("batch");
        assert!(!batch.events.is_empty(), "delivery within {WAIT:?}");
        seen.extend(batch.events);
    }
    assert_eq!(labels(&seen), ["d", "e"]);
}

/// A subscription narrowed to one tenant never delivers another tenant's commits.
pub async fn a_subscription_sees_only_its_tenant(backend: &dyn Backend) {
    let store = backend.open().await;
    for (tenant, label) in [
        ("acme", "a1"),
        ("globex", "g1"),
        ("acme", "a2"),
        ("globex", "g2"),
    ] {
        let stream = key(tenant, "telephony", "call", label);
        append_labels(&*store, &stream, ExpectedVersion::NoStream, &[label]).await;
    }
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: name("acme-only"),
            filter: Filter::all().tenant(name("acme")),
            resume_after: None,
            expire_when_idle: None,
        })
        .await
        .expect("subscribe");
    let seen = drain(&mut *subscription).await;
    assert_eq!(labels(&seen), ["a1", "a2"]);
    assert!(seen.iter().all(|e| e.stream().tenant.as_str() == "acme"));
}

/// A subscription narrowed to contexts and aggregate types delivers nothing else.
pub async fn a_subscription_sees_only_its_contexts_and_aggregate_types(backend: &dyn Backend) {
    let store = backend.open().await;
    for (context, aggregate_type, id) in [
        ("telephony", "call", "c1"),
        ("routing", "agent", "a1"),
        ("routing", "queue", "q1"),
        ("ticketing", "ticket", "t1"),
        ("telephony", "number", "n1"),
    ] {
        let stream = key("t1", context, aggregate_type, id);
        append_labels(&*store, &stream, ExpectedVersion::NoStream, &[id]).await;
    }
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: name("narrow"),
            filter: Filter::all()
                .context(name("telephony"))
                .aggregate(name("routing"), name("agent")),
            resume_after: None,
            expire_when_idle: None,
        })
        .await
        .expect("subscribe");
    let seen = drain(&mut *subscription).await;
    assert_eq!(labels(&seen), ["c1", "a1", "n1"]);
}

/// A subscription whose streams are quiet while others are busy (it reads past what does not
/// match, once) still sees each matching commit, in order, however it falls between the others.
pub async fn a_quiet_subscription_sees_each_matching_commit_among_bursts_of_others(
    backend: &dyn Backend,
) {
    let store = backend.open().await;
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: name("quiet"),
            // Two kinds of stream, so that JetStream picks them out of a wildcard in process.
            filter: Filter::all()
                .aggregate(name("routing"), name("agent"))
                .aggregate(name("routing"), name("queue")),
            resume_after: None,
            expire_when_idle: None,
        })
        .await
        .expect("subscribe");
    let mut seen = Vec::new();
    for round in 0..3 {
        for call in 0..5 {
            let stream = key("t1", "telephony", "call", &format!("r{round}c{call}"));
            append_labels(&*store, &stream, ExpectedVersion::NoStream, &["call"]).await;
        }
        let quiet = subscription
            .next_batch(10, Duration::from_millis(100))
            .await
            .expect("batch");
        seen.extend(quiet.events);
        let agent = format!("a{round}");
        let stream = key("t1", "routing", "agent", &agent);
        append_labels(&*store, &stream, ExpectedVersion::NoStream, &[&agent]).await;
        let stream = key("t1", "telephony", "call", &format!("r{round}after"));
        append_labels(&*store, &stream, ExpectedVersion::NoStream, &["call"]).await;
    }
    seen.extend(drain(&mut *subscription).await);
    assert_eq!(labels(&seen), ["a0", "a1", "a2"]);
}

/// Asking for commits after an earlier position moves an acknowledged subscription back.
pub async fn resume_after_moves_a_subscription_back_for_a_rebuild(backend: &dyn Backend) {
    let store = backend.open().await;
    let mut positions = Vec::new();
    for label in ["a", "b", "c"] {
        let stream = key("t1", "telephony", "call", label);
        positions.push(
            append_labels(&*store, &stream, ExpectedVersion::NoStream, &[label])
                .await
                .position,
        );
    }
    let spec = |resume_after| SubscriptionSpec {
        name: name("rebuildable"),
        filter: Filter::all(),
        resume_after,
        expire_when_idle: None,
    };
    let mut subscription = store.subscribe(spec(None)).await.expect("subscribe");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let batch = subscription.next_batch(10, WAIT).await.expect("batch");
        assert!(!batch.events.is_empty());
        seen.extend(batch.events);
    }
    subscription.ack(positions[2]).await.expect("ack");
    drop(subscription);

    // The caller's read model only holds "a": the subscription, which acknowledged "c", moves back.
    let mut moved_back = store
        .subscribe(spec(Some(positions[0])))
        .await
        .expect("resubscribe");
    let mut redelivered = Vec::new();
    while redelivered.len() < 2 {
        let batch = moved_back.next_batch(10, WAIT).await.expect("batch");
        assert!(!batch.events.is_empty(), "moved back within {WAIT:?}");
        redelivered.extend(batch.events);
    }
    assert_eq!(labels(&redelivered), ["b", "c"]);
    drop(moved_back);
    let mut rebuilt = store.subscribe(spec(Some(0))).await.expect("rebuild");
    let mut again = Vec::new();
    while again.len() < 3 {
        let batch = rebuilt.next_batch(10, WAIT).await.expect("batch");
        assert!(!batch.events.is_empty(), "rebuild delivers from the start");
        again.extend(batch.events);
    }
    assert_eq!(labels(&again), ["a", "b", "c"]);
}

/// A waiting subscriber gets a commit appended after it started waiting; with none, it times out.
pub async fn a_subscription_delivers_live_appends_and_times_out_empty(backend: &dyn Backend) {
    let store = backend.open().await;
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: name("live"),
            filter: Filter::all(),
            resume_after: None,
            expire_when_idle: None,
        })
        .await
        .expect("subscribe");
    let empty = subscription
        .next_batch(10, Duration::from_millis(200))
        .await
        .expect("batch");
    assert!(empty.events.is_empty());
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let stream = key("t1", "telephony", "call", "live");
            append_labels(&*store, &stream, ExpectedVersion::NoStream, &["late"]).await
        })
    };
    let started = tokio::time::Instant::now();
    let batch = subscription.next_batch(10, WAIT).await.expect("batch");
    assert_eq!(labels(&batch.events), ["late"]);
    assert!(started.elapsed() < Duration::from_secs(2), "woken promptly");
    writer.await.expect("writer");
}

/// Batches are whole commits in log order, at most the requested number, with the lag reported.
pub async fn subscription_batches_hold_whole_commits_in_log_order_and_report_lag(
    backend: &dyn Backend,
) {
    let store = backend.open().await;
    let mut expected_labels = Vec::new();
    for index in 0..10 {
        let stream = key("t1", "telephony", "call", &format!("c{index}"));
        let first = format!("{index}-x");
        let second = format!("{index}-y");
        append_labels(
            &*store,
            &stream,
            ExpectedVersion::NoStream,
            &[&first, &second],
        )
        .await;
        expected_labels.extend([first, second]);
    }
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: name("batches"),
            filter: Filter::all(),
            resume_after: None,
            expire_when_idle: None,
        })
        .await
        .expect("subscribe");
    let mut seen = Vec::new();
    let mut saw_lag = false;
    while seen.len() < 20 {
        let batch = subscription.next_batch(4, WAIT).await.expect("batch");
        assert!(!batch.events.is_empty());
        assert!(
            batch.events.len() <= 8 && batch.events.len() % 2 == 0,
            "whole commits"
        );
        saw_lag |= batch.pending > 0;
        let last = batch.last_position().expect("position");
        seen.extend(batch.events);
        subscription.ack(last).await.expect("ack");
    }
    assert_eq!(labels(&seen), expected_labels);
    let positions: Vec<u64> = seen.iter().map(RecordedEvent::position).collect();
    assert!(positions.windows(2).all(|pair| pair[0] <= pair[1]));
    assert!(saw_lag, "a partial batch reports the commits still waiting");
}

/// Every envelope field and the W3C trace context come back as they were appended.
pub async fn the_envelope_carries_metadata_and_trace_context(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "telephony", "call", "envelope");
    let trace = TraceContext {
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        tracestate: Some("vendor=value".into()),
    };
    let mut append = request(&stream, ExpectedVersion::NoStream, "req-envelope", &["a"]);
    append.metadata = CommitMetadata {
        request_id: "req-envelope".into(),
        correlation_id: "corr-1".into(),
        causation_id: "cause-1".into(),
        actor: "agent-42".into(),
        trace: trace.clone(),
    };
    append.events[0].schema_version = 3;
    append.events[0].event_type = "callcenter.telephony.v1.CallQueued".into();
    let event_id = append.events[0].event_id.clone();
    store.append(append).await.expect("append");

    let read = store.read_stream(&stream, 0).await.expect("read");
    let from_read = &read.events[0];
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: name("envelope"),
            filter: Filter::all(),
            resume_after: None,
            expire_when_idle: None,
        })
        .await
        .expect("subscribe");
    let batch = subscription.next_batch(10, WAIT).await.expect("batch");
    for recorded in [from_read, &batch.events[0]] {
        assert_eq!(recorded.event_id, event_id);
        assert_eq!(recorded.event_type, "callcenter.telephony.v1.CallQueued");
        assert_eq!(recorded.schema_version, 3);
        assert_eq!(recorded.version, 1);
        assert_eq!(
            recorded.occurred_at,
            Timestamp::from_unix_millis(1_763_800_000_000)
        );
        assert_eq!(recorded.stream(), &stream);
        let metadata = &recorded.commit.metadata;
        assert_eq!(metadata.request_id, "req-envelope");
        assert_eq!(metadata.correlation_id, "corr-1");
        assert_eq!(metadata.causation_id, "cause-1");
        assert_eq!(metadata.actor, "agent-42");
        assert_eq!(metadata.trace, trace);
    }
}

/// Malformed appends are refused with a clear error and leave the stream untouched.
pub async fn invalid_appends_are_rejected_without_writing(backend: &dyn Backend) {
    let store = backend.open().await;
    let stream = key("t1", "telephony", "call", "invalid");
    let empty = store
        .append(request(
            &stream,
            ExpectedVersion::NoStream,
            "req-empty",
            &[],
        ))
        .await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
    let bad_id = store
        .append(request(
            &stream,
            ExpectedVersion::NoStream,
            "has space",
            &["a"],
        ))
        .await;
    assert!(matches!(bad_id, Err(StoreError::Invalid(_))), "{bad_id:?}");
    let too_many: Vec<String> = (0..=crate::MAX_EVENTS_PER_COMMIT)
        .map(|i| i.to_string())
        .collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let oversized = store
        .append(request(
            &stream,
            ExpectedVersion::NoStream,
            "req-big",
            &too_many,
        ))
        .await;
    assert!(
        matches!(oversized, Err(StoreError::Invalid(_))),
        "{oversized:?}"
    );
    let read = store.read_stream(&stream, 0).await.expect("read");
    assert!(read.events.is_empty());
}

/// The head is the newest commit's position; subscribing after it delivers only what comes next.
pub async fn the_head_is_the_newest_position_and_a_subscription_after_it_sees_only_newer_commits(
    backend: &dyn Backend,
) {
    let store = backend.open().await;
    assert_eq!(store.head().await.expect("head"), 0, "an empty log");
    let old = key("t1", "telephony", "call", "old");
    let appended = append_labels(&*store, &old, ExpectedVersion::NoStream, &["old"]).await;
    let head = store.head().await.expect("head");
    assert_eq!(head, appended.position);
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: name("from-head"),
            filter: Filter::all(),
            resume_after: Some(head),
            expire_when_idle: None,
        })
        .await
        .expect("subscribe");
    let new = key("t1", "telephony", "call", "new");
    append_labels(&*store, &new, ExpectedVersion::NoStream, &["new"]).await;
    let batch = subscription.next_batch(10, WAIT).await.expect("batch");
    assert_eq!(labels(&batch.events), ["new"]);
}

/// A consumer's snapshot is kept under its name, whole (large views included), and a newer one
/// replaces it; another consumer's name has none.
pub async fn a_consumers_snapshot_is_kept_by_name_and_replaced_by_the_next(backend: &dyn Backend) {
    let store = backend.open().await;
    let router = name("router-p0");
    assert_eq!(store.load_snapshot(&router).await.expect("load"), None);
    let first = Snapshot {
        format: 1,
        position: 7,
        body: b"seven".to_vec(),
    };
    store.save_snapshot(&router, &first).await.expect("save");
    assert_eq!(
        store.load_snapshot(&router).await.expect("load"),
        Some(first)
    );
    // Larger than one NATS message (1 MiB), as a router of thousands of agents is.
    let large: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let second = Snapshot {
        format: 2,
        position: 9_000_000_000,
        body: large,
    };
    store
        .save_snapshot(&router, &second)
        .await
        .expect("replace");
    assert_eq!(
        store.load_snapshot(&router).await.expect("load"),
        Some(second)
    );
    assert_eq!(
        store
            .load_snapshot(&name("ring-timer"))
            .await
            .expect("load"),
        None
    );
}
