//! Reactors (process managers): turn events into commands, idempotently.
//!
//! A reactor reads a durable subscription and acknowledges a batch once it has reacted to every
//! event in it. A failed reaction makes the whole batch come again, so reactions must be
//! idempotent: commands carry request ids derived from the event they react to.

use std::sync::Arc;
use std::time::Duration;

use callcenter_eventlog::{EventStore, Filter, Name, RecordedEvent, StoreError, SubscriptionSpec};
use tokio_util::sync::CancellationToken;

/// Something that reacts to events.
#[async_trait::async_trait]
pub trait Reactor: Send + Sync + 'static {
    /// The durable subscription's name.
    fn name(&self) -> Name;

    /// Which streams it reads.
    fn filter(&self) -> Filter;

    /// Reacts to one event (doing nothing is a reaction too). An error means "try again later":
    /// the batch is delivered again.
    async fn react(&self, event: &RecordedEvent) -> Result<(), ReactionError>;
}

/// A reaction that should be tried again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReactionError(pub String);

impl From<StoreError> for ReactionError {
    fn from(error: StoreError) -> Self {
        Self(error.to_string())
    }
}

/// Runs a reactor until `shutdown`; failures are logged and retried with a growing pause.
pub async fn run_reactor(
    store: Arc<dyn EventStore>,
    reactor: Arc<dyn Reactor>,
    shutdown: CancellationToken,
) {
    let component = format!("reactor {}", reactor.name());
    crate::restart::run_with_restarts(
        &component,
        &shutdown,
        || react_until_error(&*store, &*reactor, &shutdown),
        |_| {},
    )
    .await;
}

async fn react_until_error(
    store: &dyn EventStore,
    reactor: &dyn Reactor,
    shutdown: &CancellationToken,
) -> Result<(), ReactionError> {
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: reactor.name(),
            filter: reactor.filter(),
            resume_after: None,
            expire_when_idle: None,
        })
        .await?;
    loop {
        let batch = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            batch = subscription.next_batch(100, Duration::from_secs(1)) => batch?,
        };
        let Some(last) = batch.last_position() else {
            continue;
        };
        for event in &batch.events {
            let span = tracing::info_span!(
                "reactor.react",
                reactor = %reactor.name(),
                event_type = %event.event_type,
                position = event.position()
            );
            callcenter_telemetry::continue_trace(&span, &event.commit.metadata.trace);
            tracing::Instrument::instrument(reactor.react(event), span).await?;
        }
        subscription.ack(last).await?;
    }
}
