//! The consumer runner against the real SQLite event log: a view folded from the beginning of
//! the log acts only once caught up, a failure restarts it with its view rebuilt, a consumer that
//! starts after a position sees only what follows, an ephemeral subscription is gone when it
//! stops, and a command issued because of an event joins that event's trace and correlation.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_eventlog::{
    EventStore, Filter, Name, RecordedEvent, StreamKey, SubscriptionSpec, TraceContext,
};
use callcenter_kit::{
    Cause, CommandHandler, CommandMeta, Consumer, ConsumerError, ConsumerStatus, PersistedEvent,
    StartFrom, Subscribe, run_consumer,
};
use callcenter_testkit::TempDir;
use common::{Added, Tally, add};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

fn name(value: &str) -> Name {
    Name::new(value).unwrap()
}

fn meta(request_id: &str) -> CommandMeta {
    CommandMeta::system(name("acme"), "test", request_id)
}

async fn store(directory: &TempDir) -> Arc<dyn EventStore> {
    Arc::new(
        SqliteEventStore::open(&directory.path().join("events.db"))
            .await
            .unwrap(),
    )
}

/// What a test consumer did, for the test to look at.
#[derive(Debug, Default)]
struct Seen {
    total: u64,
    resets: usize,
    acted_with_totals: Vec<u64>,
    fail_once_at: Option<u64>,
}

/// Sums the tallies; fails once when the sum reaches `fail_once_at`.
struct Summing {
    seen: Arc<Mutex<Seen>>,
    subscribe: Subscribe,
}

#[async_trait::async_trait]
impl Consumer for Summing {
    fn subscription(&self) -> Subscribe {
        self.subscribe.clone()
    }

    fn reset(&mut self) {
        let mut seen = self.seen.lock().unwrap();
        seen.total = 0;
        seen.resets += 1;
    }

    async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ConsumerError> {
        let mut seen = self.seen.lock().unwrap();
        for event in events {
            seen.total += Added::decode(event)
                .map_err(|e| ConsumerError(e.to_string()))?
                .amount;
            if seen.fail_once_at == Some(seen.total) {
                seen.fail_once_at = None;
                return Err(ConsumerError("a failure to restart from".into()));
            }
        }
        Ok(())
    }

    async fn act(&mut self) -> Result<(), ConsumerError> {
        let mut seen = self.seen.lock().unwrap();
        let total = seen.total;
        seen.acted_with_totals.push(total);
        Ok(())
    }
}

fn tallies() -> Filter {
    Filter::all().aggregate(name("test"), name("tally"))
}

/// Waits until `done` holds for what the consumer saw.
async fn until(seen: &Arc<Mutex<Seen>>, done: impl Fn(&Seen) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done(&seen.lock().unwrap()) {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_view_acts_once_caught_up_and_a_failure_rebuilds_it_from_the_beginning() {
    let directory = TempDir::new("kit-consumer");
    let store = store(&directory).await;
    let handler = CommandHandler::<Tally>::new(Arc::clone(&store));
    for (index, amount) in [5, 7, 11].into_iter().enumerate() {
        let id = name(&format!("t{index}"));
        handler
            .handle(&meta(&format!("r{index}")), &id, &add(amount))
            .await
            .unwrap();
    }
    let seen = Arc::new(Mutex::new(Seen {
        fail_once_at: Some(12),
        ..Seen::default()
    }));
    let mut consumer = Summing {
        seen: Arc::clone(&seen),
        subscribe: Subscribe {
            batch_size: 1,
            tick: Duration::from_millis(50),
            ..Subscribe::view(name("summing"), tallies())
        },
    };
    let status = watch::Sender::new(ConsumerStatus::default());
    let shutdown = CancellationToken::new();
    let runner = {
        let (store, status, shutdown) = (Arc::clone(&store), status.clone(), shutdown.clone());
        tokio::spawn(async move {
            run_consumer(&*store, &mut consumer, &status, &shutdown).await;
        })
    };
    until(&seen, |seen| seen.acted_with_totals.contains(&23)).await;
    {
        let seen = seen.lock().unwrap();
        // The failure at 12 restarted the view from the beginning: reset twice, and it never
        // acted on a partial view (one commit per batch: 5, then 12 failed, then from 0 again).
        assert_eq!(seen.resets, 2);
        assert!(
            seen.acted_with_totals.iter().all(|total| *total == 23),
            "{seen:?}"
        );
    }
    assert!(status.borrow().caught_up);
    assert_eq!(status.borrow().lag, 0);
    // New commits reach the running view.
    handler
        .handle(&meta("r9"), &name("t9"), &add(100))
        .await
        .unwrap();
    until(&seen, |seen| seen.acted_with_totals.contains(&123)).await;
    shutdown.cancel();
    runner.await.unwrap();
}

#[tokio::test]
async fn a_consumer_after_a_position_sees_only_what_follows_and_its_subscription_goes_with_it() {
    let directory = TempDir::new("kit-consumer-after");
    let store = store(&directory).await;
    let handler = CommandHandler::<Tally>::new(Arc::clone(&store));
    handler
        .handle(&meta("r1"), &name("t1"), &add(5))
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut consumer = Summing {
        seen: Arc::clone(&seen),
        subscribe: Subscribe {
            start: StartFrom::After(head),
            tick: Duration::from_millis(50),
            ..Subscribe::view(name("after"), tallies())
        },
    };
    let status = watch::Sender::new(ConsumerStatus::default());
    let shutdown = CancellationToken::new();
    let runner = {
        let (store, status, shutdown) = (Arc::clone(&store), status.clone(), shutdown.clone());
        tokio::spawn(async move {
            run_consumer(&*store, &mut consumer, &status, &shutdown).await;
        })
    };
    handler
        .handle(&meta("r2"), &name("t2"), &add(7))
        .await
        .unwrap();
    until(&seen, |seen| seen.acted_with_totals.contains(&7)).await;
    assert_eq!(
        seen.lock().unwrap().resets,
        0,
        "not a view from the beginning"
    );
    shutdown.cancel();
    runner.await.unwrap();
    // The subscription was this run's own: a durable one of the same name starts afresh.
    let mut again = store
        .subscribe(SubscriptionSpec {
            name: name("after"),
            filter: tallies(),
            resume_after: None,
            expire_when_idle: None,
        })
        .await
        .unwrap();
    let batch = again
        .next_batch(10, Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(
        batch.events.len(),
        2,
        "nothing was acknowledged under that name"
    );
}

#[tokio::test]
async fn a_command_issued_because_of_an_event_joins_its_trace_and_correlation() {
    let _telemetry = callcenter_telemetry::init(&callcenter_telemetry::TelemetryConfig {
        service_name: "kit-test".into(),
        log_filter: "warn".into(),
        log_format: callcenter_telemetry::LogFormat::Text,
        otlp_endpoint: None,
    });
    let directory = TempDir::new("kit-consumer-cause");
    let store = store(&directory).await;
    let handler = CommandHandler::<Tally>::new(Arc::clone(&store));
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let first = {
        let span = tracing::info_span!("request");
        callcenter_telemetry::continue_trace(
            &span,
            &TraceContext {
                traceparent: Some(format!("00-{trace_id}-00f067aa0ba902b7-01")),
                tracestate: None,
            },
        );
        let mut caller = meta("r1");
        caller.correlation_id = "call-42".into();
        tracing::Instrument::instrument(handler.handle(&caller, &name("t1"), &add(5)), span)
            .await
            .unwrap()
    };
    let stream = StreamKey::new("acme", "test", "tally", "t1").unwrap();
    let cause_event = store
        .read_stream(&stream, 0)
        .await
        .unwrap()
        .events
        .remove(0);
    assert_eq!(first.new_events.len(), 1);
    let cause = Cause::of(&cause_event);
    let reaction = cause.meta(name("acme"), "reactor", "reaction-1");
    assert_eq!(reaction.correlation_id, "call-42");
    assert_eq!(reaction.causation_id, cause_event.event_id);
    tracing::Instrument::instrument(
        handler.handle(&reaction, &name("t2"), &add(1)),
        cause.span("react"),
    )
    .await
    .unwrap();
    let effect = StreamKey::new("acme", "test", "tally", "t2").unwrap();
    let effect = store
        .read_stream(&effect, 0)
        .await
        .unwrap()
        .events
        .remove(0);
    let stored = effect.commit.metadata.trace.traceparent.clone().unwrap();
    assert_eq!(stored.split('-').nth(1), Some(trace_id), "{stored}");
    assert_eq!(effect.commit.metadata.correlation_id, "call-42");
    assert_eq!(effect.commit.metadata.causation_id, cause_event.event_id);
}
