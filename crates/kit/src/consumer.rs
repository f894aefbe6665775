//! The runner of background consumers: timers, distributors, watchers and reactors that fold
//! events into a view and act on it.
//!
//! A [`Consumer`] says what it reads and from where; the runner subscribes, delivers batches of
//! whole commits, acknowledges them, reports where it stands ([`ConsumerStatus`]: position, lag,
//! caught up, last error), restarts it with a growing pause when it fails, and stops it at
//! shutdown. Once the consumer has caught up with the log, it may act after every batch and every
//! tick. What it does because of an event carries that event's [`Cause`]: the commands it issues
//! join the trace and the correlation of the commit that caused them.

use std::time::Duration;

use callcenter_eventlog::{
    EventStore, Filter, Name, Position, RecordedEvent, StoreError, SubscriptionSpec, TraceContext,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::handler::CommandMeta;
use crate::projection::ProjectionStatus;

/// Where a consumer stands, for readiness checks and the lag metric.
pub type ConsumerStatus = ProjectionStatus;

/// Where a consumer reads from when it (re)starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFrom {
    /// After what its durable subscription acknowledged.
    Checkpoint,
    /// The beginning of the log: its view is rebuilt at every start ([`Consumer::reset`] first).
    Beginning,
    /// After this position at the first start, and after the last commit it saw at a restart.
    After(Position),
}

/// What a consumer reads, and how.
#[derive(Clone, Debug)]
pub struct Subscribe {
    /// The subscription's name (with `ephemeral`, a prefix made unique per start).
    pub name: Name,
    /// Which streams.
    pub filter: Filter,
    /// Where from.
    pub start: StartFrom,
    /// A view of this process only: the subscription is unique to each start, expires when the
    /// process is gone, and is deleted when the consumer stops.
    pub ephemeral: bool,
    /// Most commits per batch.
    pub batch_size: usize,
    /// How long to wait for commits before acting anyway (timers act on the clock).
    pub tick: Duration,
}

impl Subscribe {
    /// A durable subscription `name` of `filter`, from its checkpoint, 500 commits per batch,
    /// acting every 250 ms.
    pub fn durable(name: Name, filter: Filter) -> Self {
        Self {
            name,
            filter,
            start: StartFrom::Checkpoint,
            ephemeral: false,
            batch_size: 500,
            tick: Duration::from_millis(250),
        }
    }

    /// This process's own view of `filter`, rebuilt from the beginning of the log at every start.
    pub fn view(name: Name, filter: Filter) -> Self {
        Self {
            start: StartFrom::Beginning,
            ephemeral: true,
            ..Self::durable(name, filter)
        }
    }
}

/// Why a consumer's step failed: the runner restarts it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConsumerError(pub String);

impl From<StoreError> for ConsumerError {
    fn from(error: StoreError) -> Self {
        Self(error.to_string())
    }
}

impl From<String> for ConsumerError {
    fn from(error: String) -> Self {
        Self(error)
    }
}

/// Something that folds events and acts on what it knows.
#[async_trait::async_trait]
pub trait Consumer: Send + 'static {
    /// What it reads, and how.
    fn subscription(&self) -> Subscribe;

    /// Forgets its view (before a start from the beginning of the log).
    fn reset(&mut self) {}

    /// Folds a batch of whole commits, in log order. An error restarts the consumer, and the
    /// batch comes again.
    async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ConsumerError>;

    /// Once caught up with the log, after every batch and every tick: carries out what is due.
    async fn act(&mut self) -> Result<(), ConsumerError> {
        Ok(())
    }
}

/// What caused a command: the event a consumer reacts to. Commands issued with it join that
/// event's trace and correlation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cause {
    /// The W3C trace of the causing commit.
    pub trace: TraceContext,
    /// The causing commit's correlation id (shared by everything one request caused).
    pub correlation_id: String,
    /// The causing event's id.
    pub event_id: String,
}

impl Cause {
    /// The cause that `event` is.
    pub fn of(event: &RecordedEvent) -> Self {
        Self {
            trace: event.commit.metadata.trace.clone(),
            correlation_id: event.commit.metadata.correlation_id.clone(),
            event_id: event.event_id.clone(),
        }
    }

    /// A span that continues the cause's trace; commits appended inside it carry that trace.
    pub fn span(&self, name: &'static str) -> tracing::Span {
        let span = tracing::info_span!("consumer.act", action = name);
        callcenter_telemetry::continue_trace(&span, &self.trace);
        span
    }

    /// The metadata of a command the platform issues because of this cause.
    pub fn meta(
        &self,
        tenant: crate::TenantId,
        component: &str,
        request_id: impl Into<String>,
    ) -> CommandMeta {
        let mut meta = CommandMeta::system(tenant, component, request_id);
        if !self.correlation_id.is_empty() {
            meta.correlation_id = self.correlation_id.clone();
        }
        if !self.event_id.is_empty() {
            meta.causation_id = self.event_id.clone();
        }
        meta
    }
}

/// Runs `consumer` until `shutdown`: failures are logged, shown in `status` and retried with a
/// growing pause.
pub async fn run_consumer<C: Consumer>(
    store: &dyn EventStore,
    consumer: &mut C,
    status: &watch::Sender<ConsumerStatus>,
    shutdown: &CancellationToken,
) {
    let spec = consumer.subscription();
    let component = format!("consumer {}", spec.name);
    let mut after = match spec.start {
        StartFrom::After(position) => Some(position),
        StartFrom::Beginning => Some(0),
        StartFrom::Checkpoint => None,
    };
    let mut backoff = crate::restart::Backoff::default();
    while !shutdown.is_cancelled() {
        let started = std::time::Instant::now();
        let result = consume(store, consumer, &spec, &mut after, status, shutdown).await;
        let Err(error) = result else {
            return;
        };
        let pause = backoff.after_failure(started.elapsed());
        tracing::warn!(component, %error, retry_in = ?pause, "failed, restarting");
        status.send_modify(|status| status.last_error = Some(error.to_string()));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// One run of a consumer, from subscribing until shutdown or the first failure.
async fn consume<C: Consumer>(
    store: &dyn EventStore,
    consumer: &mut C,
    spec: &Subscribe,
    after: &mut Option<Position>,
    status: &watch::Sender<ConsumerStatus>,
    shutdown: &CancellationToken,
) -> Result<(), ConsumerError> {
    if spec.start == StartFrom::Beginning {
        consumer.reset();
    }
    let name = if spec.ephemeral {
        Name::new(format!(
            "{}-{}",
            spec.name.as_str().chars().take(30).collect::<String>(),
            uuid::Uuid::now_v7().simple()
        ))
        .map_err(|error| ConsumerError(error.to_string()))?
    } else {
        spec.name.clone()
    };
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: name.clone(),
            filter: spec.filter.clone(),
            resume_after: *after,
            expire_when_idle: spec.ephemeral.then_some(Duration::from_secs(60)),
        })
        .await?;
    let mut caught_up = false;
    let result = loop {
        let batch = tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            batch = subscription.next_batch(spec.batch_size, spec.tick) => batch,
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => break Err(error.into()),
        };
        if let Some(last) = batch.last_position() {
            let span = tracing::debug_span!(
                "consumer.apply",
                consumer = %spec.name,
                events = batch.events.len(),
                position = last
            );
            let applied = tracing::Instrument::instrument(consumer.apply(&batch.events), span);
            if let Err(error) = applied.await {
                break Err(error);
            }
            if let Err(error) = subscription.ack(last).await {
                break Err(error.into());
            }
            if !matches!(spec.start, StartFrom::Checkpoint) {
                *after = Some(last);
            }
        }
        caught_up |= batch.pending == 0;
        status.send_modify(|status| {
            if let Some(last) = batch.last_position() {
                status.checkpoint = last;
            }
            status.lag = batch.pending;
            status.caught_up |= caught_up;
            status.last_error = None;
        });
        if caught_up && let Err(error) = consumer.act().await {
            break Err(error);
        }
    };
    if spec.ephemeral {
        let _ = store.delete_subscription(&name).await;
    }
    if spec.start == StartFrom::Beginning {
        *after = Some(0);
    }
    result
}
