//! The projection runner: reads a batch from a durable subscription, applies it to a read model
//! together with the checkpoint in one database transaction, then acknowledges.
//!
//! Replays are safe: whatever the checkpoint already covers is skipped, so a batch delivered twice
//! (a crash between commit and acknowledgement) changes nothing. A read model can be rebuilt from
//! zero: [`ProjectionRunner::rebuild`] empties it and its checkpoint in one transaction, and the
//! subscription is moved back to the start of the log.

use std::sync::Arc;
use std::time::Duration;

use callcenter_eventlog::{
    EventStore, Filter, Name, Position, RecordedEvent, StoreError, SubscriptionSpec, Timestamp,
};
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A read model fed by the event log.
#[async_trait::async_trait]
pub trait Projection: Send + Sync + 'static {
    /// The projection's name: its durable subscription and its checkpoint row.
    fn name(&self) -> Name;

    /// Which streams it reads.
    fn filter(&self) -> Filter;

    /// Applies events (whole commits, in log order, none already covered by the checkpoint)
    /// inside the caller's transaction.
    async fn apply(
        &self,
        connection: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;

    /// Deletes everything the read model holds, inside the caller's transaction.
    async fn reset(&self, connection: &mut AnyConnection) -> Result<(), ProjectionError>;
}

/// Why a batch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database failed.
    #[error("read model database: {0}")]
    Database(#[from] sqlx::Error),
    /// The event log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An event could not be decoded.
    #[error(transparent)]
    Decode(#[from] crate::aggregate::DecodeError),
}

/// Where a projection stands, for readiness checks and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// The last position applied.
    pub checkpoint: Position,
    /// Commits known to be waiting after the checkpoint.
    pub lag: u64,
    /// True once the projection has seen the end of the log at least once.
    pub caught_up: bool,
    /// The last failure, cleared by the next successful batch.
    pub last_error: Option<String>,
}

/// Runs one projection against one read-model database.
pub struct ProjectionRunner {
    store: Arc<dyn EventStore>,
    pool: AnyPool,
    projection: Arc<dyn Projection>,
    batch_size: usize,
    status: watch::Sender<ProjectionStatus>,
}

impl std::fmt::Debug for ProjectionRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionRunner")
            .field("projection", &self.projection.name())
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

/// How long a subscription waits for commits before the runner reports itself caught up.
const IDLE_WAIT: Duration = Duration::from_millis(500);

impl ProjectionRunner {
    /// A runner that applies up to 500 commits per transaction.
    pub fn new(store: Arc<dyn EventStore>, pool: AnyPool, projection: Arc<dyn Projection>) -> Self {
        Self {
            store,
            pool,
            projection,
            batch_size: 500,
            status: watch::Sender::new(ProjectionStatus::default()),
        }
    }

    /// Changes the most commits applied per transaction.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// A live view of the projection's status.
    pub fn status(&self) -> watch::Receiver<ProjectionStatus> {
        self.status.subscribe()
    }

    /// The checkpoint stored in the read-model database.
    pub async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        let stored: Option<i64> =
            sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
                .bind(self.projection.name().to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(stored.map_or(0, |position| u64::try_from(position).unwrap_or(0)))
    }

    /// Empties the read model and its checkpoint in one transaction; the next run starts from
    /// the beginning of the log.
    pub async fn rebuild(&self) -> Result<(), ProjectionError> {
        let mut connection = self.pool.acquire().await?;
        let mut transaction = crate::db::begin_write(&mut connection).await?;
        self.projection.reset(&mut transaction).await?;
        sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
            .bind(self.projection.name().to_string())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        self.status.send_replace(ProjectionStatus::default());
        Ok(())
    }

    /// Applies commits until `shutdown` is cancelled. Failures are logged, shown in the status and
    /// retried from the last checkpoint with a growing pause.
    pub async fn run(&self, shutdown: CancellationToken) {
        let component = format!("projection {}", self.projection.name());
        crate::restart::run_with_restarts(
            &component,
            &shutdown,
            || self.run_until_error(&shutdown),
            |error| {
                self.status
                    .send_modify(|status| status.last_error = Some(error.to_string()));
            },
        )
        .await;
    }

    /// Applies every commit that is waiting now, then returns (for tests and one-shot rebuilds).
    pub async fn catch_up(&self) -> Result<Position, ProjectionError> {
        let shutdown = CancellationToken::new();
        let mut status = self.status();
        let run = self.run_until_error(&shutdown);
        tokio::pin!(run);
        loop {
            tokio::select! {
                result = &mut run => {
                    result?;
                    return self.checkpoint().await;
                }
                changed = status.changed() => {
                    if changed.is_err() {
                        return self.checkpoint().await;
                    }
                    let current = status.borrow_and_update().clone();
                    if current.caught_up && current.lag == 0 {
                        shutdown.cancel();
                    }
                }
            }
        }
    }

    /// Applies `events` and moves the checkpoint to `position`, in one transaction.
    async fn apply_with_checkpoint(
        &self,
        name: &Name,
        events: &[RecordedEvent],
        position: Position,
    ) -> Result<(), ProjectionError> {
        let mut connection = self.pool.acquire().await?;
        let mut transaction = crate::db::begin_write(&mut connection).await?;
        self.projection.apply(&mut transaction, events).await?;
        sqlx::query(
            "INSERT INTO projection_checkpoints (name, position, updated_at)
             VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE
             SET position = excluded.position, updated_at = excluded.updated_at",
        )
        .bind(name.to_string())
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(Timestamp::now().unix_millis())
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn run_until_error(&self, shutdown: &CancellationToken) -> Result<(), ProjectionError> {
        let name = self.projection.name();
        let mut checkpoint = self.checkpoint().await?;
        let mut subscription = self
            .store
            .subscribe(SubscriptionSpec {
                name: name.clone(),
                filter: self.projection.filter(),
                resume_after: Some(checkpoint),
                expire_when_idle: None,
            })
            .await?;
        self.status
            .send_modify(|status| status.checkpoint = checkpoint);
        // A batch is acknowledged while the next one is applied: the acknowledgement only has to
        // follow the batch's commit, and waiting for it would leave the database idle for a round
        // trip to the log on every batch (a tenth of catch-up time on the benchmark). While
        // commits stream past, acknowledgements are paced (see [`crate::acks`]): the checkpoint
        // skips what comes again.
        let mut acks = crate::acks::AckPacer::default();
        loop {
            let batch = tokio::select! {
                () = shutdown.cancelled() => None,
                batch = subscription.next_batch(self.batch_size, IDLE_WAIT) => Some(batch?),
            };
            let Some(batch) = batch else {
                // A commit left unacknowledged comes back and the checkpoint skips it.
                acks.ack_at_shutdown(subscription.as_mut()).await;
                return Ok(());
            };
            let Some(last_position) = batch.last_position() else {
                acks.ack_due(subscription.as_mut(), true).await?;
                self.status.send_modify(|status| {
                    status.caught_up = true;
                    status.lag = 0;
                });
                continue;
            };
            let first_fresh = batch
                .events
                .iter()
                .position(|event| event.position() > checkpoint);
            let acknowledge = acks.ack_due(subscription.as_mut(), false);
            if let Some(first_fresh) = first_fresh {
                let fresh = &batch.events[first_fresh..];
                let span = tracing::info_span!(
                    "projection.apply",
                    projection = %name,
                    events = fresh.len(),
                    position = last_position
                );
                if let Some(first) = fresh.first() {
                    callcenter_telemetry::continue_trace(&span, &first.commit.metadata.trace);
                }
                // Instrument the future: an entered span guard must not live across awaits.
                let apply = tracing::Instrument::instrument(
                    self.apply_with_checkpoint(&name, fresh, last_position),
                    span,
                );
                let (applied, acknowledged) = tokio::join!(apply, acknowledge);
                applied?;
                acknowledged?;
                checkpoint = last_position;
            } else {
                acknowledge.await?;
            }
            acks.applied(last_position, batch.events.len());
            self.status.send_modify(|status| {
                status.checkpoint = checkpoint;
                status.lag = batch.pending;
                status.caught_up |= batch.pending == 0;
                status.last_error = None;
            });
        }
    }
}
