//! Reactors (process managers): turn events into commands, idempotently.
//!
//! A reactor reads a durable subscription and acknowledges a batch once it has reacted to every
//! event in it. A failed reaction makes the whole batch come again, so reactions must be
//! idempotent: commands carry request ids derived from the event they react to.

use std::sync::Arc;
use std::time::Duration;

use callcenter_eventlog::{EventStore, Filter, Name, RecordedEvent, StoreError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::consumer::{Consumer, ConsumerError, ConsumerStatus, Subscribe, run_consumer};

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

/// A reactor as a consumer of its durable subscription: each event is reacted to in a span that
/// continues the trace of its commit, so the commands it issues join the caller's trace.
struct Reacting(Arc<dyn Reactor>);

#[async_trait::async_trait]
impl Consumer for Reacting {
    fn subscription(&self) -> Subscribe {
        Subscribe {
            batch_size: 100,
            tick: Duration::from_secs(1),
            ..Subscribe::durable(self.0.name(), self.0.filter())
        }
    }

    async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ConsumerError> {
        for event in events {
            let span = tracing::info_span!(
                "reactor.react",
                reactor = %self.0.name(),
                event_type = %event.event_type,
                position = event.position()
            );
            callcenter_telemetry::continue_trace(&span, &event.commit.metadata.trace);
            tracing::Instrument::instrument(self.0.react(event), span)
                .await
                .map_err(|error| ConsumerError(error.0))?;
        }
        Ok(())
    }
}

/// Runs a reactor until `shutdown` on the consumer runner; failures are logged and retried with a
/// growing pause.
pub async fn run_reactor(
    store: Arc<dyn EventStore>,
    reactor: Arc<dyn Reactor>,
    status: &watch::Sender<ConsumerStatus>,
    shutdown: CancellationToken,
) {
    run_consumer(&*store, &mut Reacting(reactor), status, &shutdown).await;
}
