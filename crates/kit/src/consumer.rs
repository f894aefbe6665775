//! The runner of background consumers: timers, distributors, watchers and reactors that fold
//! events into a view and act on it.
//!
//! A [`Consumer`] says what it reads and from where; the runner subscribes, delivers batches of
//! whole commits, acknowledges them, reports where it stands ([`ConsumerStatus`]: position, lag,
//! caught up, last error), restarts it with a growing pause when it fails, and stops it at
//! shutdown (acknowledgements are paced: see [`crate::acks`]). Once the consumer has caught up
//! with the log, it may act after every batch and every tick. What it does because of an event
//! carries that event's [`Cause`]: the commands it issues join the trace and the correlation of
//! the commit that caused them.
//!
//! **Snapshots.** A consumer that rebuilds its view from the beginning of the log may keep
//! snapshots of it ([`Consumer::snapshot_format`]): a (re)start restores the last one and reads only
//! the commits after it, so starting costs the tail of the log, not its history. The runner saves
//! one every [`Subscribe::snapshot_every`] while commits arrive, after every
//! [`SNAPSHOT_EVERY_EVENTS`] events of a catch-up, once caught up after a long catch-up, and at
//! shutdown. A snapshot holds what the events made: what `act` does must not depend on a change
//! that only `act` made to the view (it may be lost with a restart), so a consumer keeps such
//! bookkeeping out of its snapshot and lets the events settle it. A snapshot it cannot read (an
//! older format it does not upcast, a damaged body, a position beyond the log's head) is set
//! aside and the log replayed from the beginning. A view holds the log through the last commit its
//! subscription looked at, including commits its filter left out after its last event
//! ([`callcenter_eventlog::Batch::through`]): its snapshots and restarts start after those too.
//!
//! **Followers.** A [`Subscribe::follower`] keeps warm a view that another process owns (a
//! standby of a routing partition): a subscription of its own, the owner's snapshot restored,
//! none saved, and it never acts. When it stops, [`run_consumer`] returns how far the view holds
//! the log, and [`resume_consumer`] continues that view as the owner's, from there.

use std::time::Duration;

use callcenter_eventlog::{
    EventStore, Filter, Name, Position, RecordedEvent, Snapshot, StoreError, SubscriptionSpec,
    TraceContext,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::handler::CommandMeta;
use crate::projection::ProjectionStatus;

/// Events folded since the last snapshot after which the runner saves one, even while catching
/// up (a process killed during a long catch-up resumes from there).
pub const SNAPSHOT_EVERY_EVENTS: u64 = 50_000;
/// Events of a catch-up after which the runner saves a snapshot as soon as it has caught up.
const SNAPSHOT_AFTER_CATCH_UP: u64 = 1_000;

/// How long a consumer that has not caught up yet waits for a batch: an empty one says it has.
const CATCH_UP_WAIT: Duration = Duration::from_millis(50);

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
    /// How often a consumer that keeps snapshots saves one while commits arrive.
    pub snapshot_every: Duration,
    /// Follows a view that another process owns and saves (a standby): its subscription is its
    /// own for this start (as with `ephemeral`), the owner's last snapshot is restored but none
    /// saved, and it never acts.
    pub follower: bool,
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
            snapshot_every: Duration::from_secs(30),
            follower: false,
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

    /// The format of its snapshots, if it keeps them (only a consumer that starts from the
    /// beginning of the log does). Change it whenever the view's encoding changes.
    fn snapshot_format(&self) -> Option<u32> {
        None
    }

    /// Its view, encoded (see [`crate::snapshot::encode`]): what the events made of it.
    fn snapshot(&self) -> Result<Vec<u8>, ConsumerError> {
        Err(ConsumerError("this consumer keeps no snapshots".into()))
    }

    /// Takes the view from a snapshot written in `format` (after [`Consumer::reset`]): `false`
    /// when it cannot read that format, and the log is replayed instead.
    fn restore(&mut self, format: u32, body: &[u8]) -> Result<bool, ConsumerError> {
        let _ = (format, body);
        Ok(false)
    }

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
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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
/// growing pause. Returns how far its view holds the log when it stopped at `shutdown` (`None`
/// when a failure left it unsettled): a follower's view that another runner may continue
/// ([`resume_consumer`]).
pub async fn run_consumer<C: Consumer>(
    store: &dyn EventStore,
    consumer: &mut C,
    status: &watch::Sender<ConsumerStatus>,
    shutdown: &CancellationToken,
) -> Option<Position> {
    run(store, consumer, None, status, shutdown).await
}

/// A view kept warm by a follower, handed to [`resume_consumer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarmView {
    /// How far the view holds the log (what [`run_consumer`] returned).
    pub through: Position,
    /// Whether it had caught up with the log when handed over: it acts at once, before its
    /// subscription is even made (the view is as current as a caught-up one).
    pub caught_up: bool,
}

/// Runs a consumer of the log's beginning ([`StartFrom::Beginning`]) whose view already holds
/// the log through `warm.through` (kept warm by a follower): no reset, no snapshot restored, the
/// first subscription resumes after it, and a view that had caught up acts first. A restart
/// after a failure rebuilds the view as usual.
pub async fn resume_consumer<C: Consumer>(
    store: &dyn EventStore,
    consumer: &mut C,
    warm: WarmView,
    status: &watch::Sender<ConsumerStatus>,
    shutdown: &CancellationToken,
) -> Option<Position> {
    run(store, consumer, Some(warm), status, shutdown).await
}

async fn run<C: Consumer>(
    store: &dyn EventStore,
    consumer: &mut C,
    mut holding: Option<WarmView>,
    status: &watch::Sender<ConsumerStatus>,
    shutdown: &CancellationToken,
) -> Option<Position> {
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
        let holds = holding.take();
        let result = consume(store, consumer, &spec, holds, &mut after, status, shutdown).await;
        let error = match result {
            Ok(through) => return Some(through),
            Err(error) => error,
        };
        let pause = backoff.after_failure(started.elapsed());
        tracing::warn!(component, %error, retry_in = ?pause, "failed, restarting");
        status.send_modify(|status| status.last_error = Some(error.to_string()));
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(pause) => {}
        }
    }
    None
}

/// One run of a consumer, from subscribing until shutdown (how far its view holds the log) or
/// the first failure. `holds`: a view kept warm (see [`resume_consumer`]).
async fn consume<C: Consumer>(
    store: &dyn EventStore,
    consumer: &mut C,
    spec: &Subscribe,
    holds: Option<WarmView>,
    after: &mut Option<Position>,
    status: &watch::Sender<ConsumerStatus>,
    shutdown: &CancellationToken,
) -> Result<Position, ConsumerError> {
    let mut snapshots = Snapshots::new(consumer.snapshot_format(), spec);
    if spec.start == StartFrom::Beginning {
        *after = Some(match holds {
            // Not saved here yet: a snapshot is due at the next occasion.
            Some(warm) => warm.through,
            None => {
                consumer.reset();
                snapshots.restore(store, consumer, &spec.name).await
            }
        });
    }
    // What the view already holds (a restored snapshot, a warm view, or the commits before a
    // restart): the log may hand some of it again, from its last acknowledgement.
    snapshots.position = after.unwrap_or(0);
    let own_subscription = spec.ephemeral || spec.follower;
    let name = if own_subscription {
        Name::new(format!(
            "{}-{}",
            spec.name.as_str().chars().take(30).collect::<String>(),
            uuid::Uuid::now_v7().simple()
        ))
        .map_err(|error| ConsumerError(error.to_string()))?
    } else {
        spec.name.clone()
    };
    if let Some(warm) = holds.filter(|warm| warm.caught_up) {
        // Current already: what is due is done now, not after making the subscription (which
        // on a long log takes a while) and reading what the view already holds.
        status.send_modify(|status| {
            status.checkpoint = warm.through;
            status.caught_up = true;
        });
        consumer.act().await?;
    }
    let subscribing = std::time::Instant::now();
    let mut subscription = store
        .subscribe(SubscriptionSpec {
            name: name.clone(),
            filter: spec.filter.clone(),
            resume_after: *after,
            expire_when_idle: own_subscription.then_some(Duration::from_secs(60)),
        })
        .await?;
    tracing::debug!(consumer = %spec.name, took_ms = subscribing.elapsed().as_millis() as u64, "subscribed");
    let mut caught_up = false;
    let mut acks = crate::acks::AckPacer::default();
    let folded_through = *after;
    // Until it has caught up, an empty batch is not waited for a whole tick: readiness (and
    // the first action) should not wait a tick longer than the log needs.
    let wait = |caught_up: bool| {
        if caught_up {
            spec.tick
        } else {
            spec.tick.min(CATCH_UP_WAIT)
        }
    };
    let result = loop {
        let batch = tokio::select! {
            () = shutdown.cancelled() => {
                acks.ack_at_shutdown(subscription.as_mut()).await;
                snapshots.save(store, consumer, &spec.name).await;
                break Ok(snapshots.position);
            }
            batch = subscription.next_batch(spec.batch_size, wait(caught_up)) => batch,
        };
        let mut batch = match batch {
            Ok(batch) => batch,
            Err(error) => break Err(error.into()),
        };
        if let Some(through) = folded_through.filter(|through| *through > 0) {
            batch.events.retain(|event| event.position() > through);
        }
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
            acks.applied(last, batch.events.len());
        }
        // The view holds the log through what the subscription looked at, including the commits
        // its filter left out after the last event: a snapshot or a resume starts after them.
        let through = batch.passed_through();
        if through > snapshots.position {
            if !matches!(spec.start, StartFrom::Checkpoint) {
                *after = Some(through);
            }
            snapshots.folded(through, batch.events.len());
        }
        if let Err(error) = acks
            .ack_due(subscription.as_mut(), batch.events.is_empty())
            .await
        {
            break Err(error.into());
        }
        let catching_up = !caught_up;
        caught_up |= batch.pending == 0;
        if snapshots.due(caught_up, catching_up && caught_up) {
            snapshots.save(store, consumer, &spec.name).await;
        }
        status.send_modify(|status| {
            status.checkpoint = snapshots.position;
            status.lag = batch.pending;
            status.caught_up |= caught_up;
            status.last_error = None;
        });
        if caught_up
            && !spec.follower
            && let Err(error) = consumer.act().await
        {
            break Err(error);
        }
    };
    if own_subscription {
        let _ = store.delete_subscription(&name).await;
    }
    if spec.start == StartFrom::Beginning {
        *after = Some(0);
    }
    result
}

/// How far a consumer's view holds the log, and when its snapshots are restored and saved.
struct Snapshots {
    format: Option<u32>,
    /// Restores, never saves: the view of a follower, whose snapshots another process saves.
    restore_only: bool,
    every: Duration,
    /// How far the view holds the log, and how many events were folded since the last save.
    position: Position,
    since_saved: u64,
    /// Where the last snapshot saved or restored stands.
    saved_position: Position,
    saved_at: std::time::Instant,
}

impl Snapshots {
    fn new(format: Option<u32>, spec: &Subscribe) -> Self {
        Self {
            format: format.filter(|_| spec.start == StartFrom::Beginning),
            restore_only: spec.follower,
            every: spec.snapshot_every,
            position: 0,
            since_saved: 0,
            saved_position: 0,
            saved_at: std::time::Instant::now(),
        }
    }

    /// Restores the last snapshot into `consumer` (reset) and returns the position to read
    /// after: the snapshot's, or 0 when there is none it can use.
    async fn restore<C: Consumer>(
        &mut self,
        store: &dyn EventStore,
        consumer: &mut C,
        name: &Name,
    ) -> Position {
        let Some(wanted) = self.format else {
            return 0;
        };
        let started = std::time::Instant::now();
        let snapshot = match store.load_snapshot(name).await {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => return 0,
            Err(error) => {
                tracing::warn!(consumer = %name, %error, "cannot load the snapshot, replaying the log");
                return 0;
            }
        };
        let head = store.head().await.unwrap_or(0);
        let set_aside = |why: String| {
            tracing::warn!(consumer = %name, position = snapshot.position, format = snapshot.format,
                           why, "snapshot set aside, replaying the log");
        };
        if snapshot.position > head {
            set_aside(format!("it is beyond the log's head {head}"));
            return 0;
        }
        match consumer.restore(snapshot.format, &snapshot.body) {
            Ok(true) => {
                tracing::info!(
                    consumer = %name,
                    position = snapshot.position,
                    format = snapshot.format,
                    bytes = snapshot.body.len(),
                    took_ms = started.elapsed().as_millis() as u64,
                    "restored from a snapshot"
                );
                self.position = snapshot.position;
                self.saved_position = snapshot.position;
                self.saved_at = std::time::Instant::now();
                snapshot.position
            }
            Ok(false) => {
                consumer.reset();
                set_aside(format!(
                    "format {} is not readable as {wanted}",
                    snapshot.format
                ));
                0
            }
            Err(error) => {
                consumer.reset();
                set_aside(error.to_string());
                0
            }
        }
    }

    /// Notes that the view now holds the log through `position`, `events` more of it folded.
    fn folded(&mut self, position: Position, events: usize) {
        self.position = position;
        self.since_saved += events as u64;
    }

    /// Whether a snapshot is due: many events since the last, a long catch-up just finished, or
    /// the interval passed with the view moved on since (if only past commits its filter left
    /// out: a restart need not look at them again).
    fn due(&self, caught_up: bool, just_caught_up: bool) -> bool {
        self.format.is_some()
            && !self.restore_only
            && self.position > self.saved_position
            && (self.since_saved >= SNAPSHOT_EVERY_EVENTS
                || (just_caught_up && self.since_saved >= SNAPSHOT_AFTER_CATCH_UP)
                || (caught_up && self.saved_at.elapsed() >= self.every))
    }

    /// Saves the view, if it changed since the last save; a failure is logged, and retried at
    /// the next occasion.
    async fn save<C: Consumer>(&mut self, store: &dyn EventStore, consumer: &mut C, name: &Name) {
        let Some(format) = self.format else {
            return;
        };
        if self.restore_only || self.position <= self.saved_position {
            return;
        }
        let started = std::time::Instant::now();
        let saved = match consumer.snapshot() {
            Ok(body) => {
                let snapshot = Snapshot {
                    format,
                    position: self.position,
                    body,
                };
                let bytes = snapshot.body.len();
                store
                    .save_snapshot(name, &snapshot)
                    .await
                    .map(|()| bytes)
                    .map_err(|error| error.to_string())
            }
            Err(error) => Err(error.to_string()),
        };
        self.saved_at = std::time::Instant::now();
        match saved {
            Ok(bytes) => {
                tracing::debug!(consumer = %name, position = self.position, bytes,
                                took_ms = started.elapsed().as_millis() as u64, "snapshot saved");
                self.since_saved = 0;
                self.saved_position = self.position;
            }
            Err(error) => tracing::warn!(consumer = %name, %error, "cannot save a snapshot"),
        }
    }
}
