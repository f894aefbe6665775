//! The command handler: load an aggregate, decide, append with the expected version, retry on
//! conflict.

use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use callcenter_eventlog::{
    AppendRequest, CommitMetadata, EventStore, ExpectedVersion, Name, NewEvent, StoreError,
    StreamEvents, StreamKey, StreamVersion, TenantId, Timestamp,
};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

use crate::aggregate::{DecodeError, EventSourced, PersistedEvent};

/// Who asks for a command, and under which request.
#[derive(Clone, Debug)]
pub struct CommandMeta {
    /// The tenant (always from the verified token, never from a request body).
    pub tenant: TenantId,
    /// Idempotency key; a retry with the same key returns the first result. Generated if absent.
    pub request_id: Option<String>,
    /// Shared by everything one external request causes.
    pub correlation_id: String,
    /// The message that caused this command.
    pub causation_id: String,
    /// A token subject, or `system:<component>`.
    pub actor: String,
    /// When the command was given (read at the edge that received it): the time of events
    /// whose domain form carries none.
    pub at: Timestamp,
}

/// The tenant that holds facts shared by every tenant (which tenant owns a phone number).
///
/// Tenant ids that start with `_` are reserved: no token is ever issued or accepted for them.
pub fn platform_tenant() -> TenantId {
    TenantId::new("_platform").expect("a valid name")
}

/// Whether a tenant id is reserved for the platform (starts with `_`).
pub fn is_reserved_tenant(tenant: &TenantId) -> bool {
    tenant.as_str().starts_with('_')
}

impl CommandMeta {
    /// Metadata for a command the platform issues itself (a reactor, the demo loader).
    pub fn system(tenant: TenantId, component: &str, request_id: impl Into<String>) -> Self {
        let request_id = request_id.into();
        Self {
            tenant,
            correlation_id: request_id.clone(),
            causation_id: request_id.clone(),
            request_id: Some(request_id),
            actor: format!("system:{component}"),
            at: Timestamp::now(),
        }
    }
}

/// An aggregate as loaded from its stream.
#[derive(Clone, Debug)]
pub struct Loaded<A> {
    /// The state after every event.
    pub state: A,
    /// Where the stream stands.
    pub version: StreamVersion,
}

impl<A> Loaded<A> {
    /// Whether the aggregate has any event.
    pub fn exists(&self) -> bool {
        self.version.version() > 0
    }
}

/// The result of a handled command.
#[derive(Clone, Debug)]
pub struct Outcome<A: EventSourced> {
    /// The state after the command.
    pub state: A,
    /// Where the stream stands after the command.
    pub version: StreamVersion,
    /// The events this command appended (empty for a no-op or a duplicate).
    pub new_events: Vec<A::Event>,
    /// True when the request id had been handled before; the state is the current one.
    pub duplicate: bool,
}

impl<A: EventSourced> Outcome<A> {
    /// The aggregate as the command left it.
    pub fn into_loaded(self) -> Loaded<A> {
        Loaded {
            state: self.state,
            version: self.version,
        }
    }
}

/// Why a command did not go through.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error + 'static> {
    /// The aggregate refused it.
    #[error(transparent)]
    Rejected(E),
    /// Other writers kept winning; the caller may retry.
    #[error("the aggregate kept changing: gave up after {attempts} attempts")]
    Contention {
        /// How many times it was tried.
        attempts: usize,
    },
    /// The event log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The command was decided on an older version of the aggregate than the stored one (see
    /// [`CommandHandler::handle_on`]); deciding again on the current one may give another answer.
    #[error("decided on version {expected} of the aggregate, which is at {current} now")]
    Stale {
        /// The version the decision was made on.
        expected: u64,
        /// The stored version.
        current: u64,
    },
}

/// Loads, decides, appends, and retries on conflicts, for one aggregate type.
///
/// **What it remembers.** A handler (and its clones) keeps the aggregates it loaded or wrote
/// last ([`CACHED_AGGREGATES`] of them): a command on one of them is decided on the remembered
/// state and appended with the remembered version, without reading the stream first. The event
/// log's optimistic check is what makes that safe: if another writer moved the stream on, the
/// append is refused as a conflict, the aggregate is read again and the command tried again. A
/// command that the remembered state refuses, finds stale or finds nothing to do for is checked
/// against the events after the remembered version before the answer is given, so every answer
/// is the one the stored stream gives. Under load this takes a read (and, for long-lived
/// aggregates, a snapshot from the object store) off every command (`just bench capacity`).
pub struct CommandHandler<A: EventSourced> {
    store: Arc<dyn EventStore>,
    max_attempts: usize,
    aggregate: PhantomData<fn() -> A>,
    observe: Option<fn(&A::Event)>,
    snapshots: Option<AggregateSnapshots<A>>,
    known: Arc<Mutex<Recent<A>>>,
}

/// How many aggregates a handler remembers (the least recently used go first).
pub const CACHED_AGGREGATES: usize = 4_096;

/// How a handler keeps snapshots of long-lived aggregates (agents, queues, centers): an
/// aggregate is loaded from its last snapshot and the events after it, and a new snapshot is
/// saved once `every` events followed the last. A snapshot keeps the request ids of the
/// aggregate's last [`REMEMBERED_REQUESTS`] commits, so a retry is still recognised.
struct AggregateSnapshots<A> {
    format: u32,
    every: usize,
    encode: fn(&A) -> Result<Vec<u8>, crate::ConsumerError>,
    decode: fn(&[u8]) -> Result<A, crate::ConsumerError>,
}

impl<A> Clone for AggregateSnapshots<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for AggregateSnapshots<A> {}

/// Request ids of an aggregate's last commits that its snapshot keeps, to recognise retries.
pub const REMEMBERED_REQUESTS: usize = 1_000;

/// The layout of an aggregate's snapshot, kept in the stored format's upper half (the lower half
/// is the aggregate's own format): 0 kept request ids as text, 1 keeps their hashes.
const LAYOUT_HASHED_REQUESTS: u32 = 1 << 16;

/// An aggregate's snapshot as stored (layout 0): whose it is, at which version and commit, the
/// request ids of its last commits, and the state encoded by the aggregate's codec.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAggregate {
    stream: String,
    version: u64,
    position: u64,
    requests: Vec<String>,
    state: Vec<u8>,
}

/// An aggregate's snapshot as stored (layout 1): as layout 0, with the request ids hashed
/// ([`request_hash`]).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAggregateHashed {
    stream: String,
    version: u64,
    position: u64,
    requests: Vec<u64>,
    state: Vec<u8>,
}

/// A 64-bit FNV-1a hash of `text` from `offset` (stable across builds: snapshots keep them).
fn fnv(text: &str, offset: u64) -> u64 {
    text.bytes().fold(offset, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// How a request id is remembered: two requests of one aggregate are told apart by it (a
/// collision among an aggregate's last thousand commits is a chance of about 1 in 10^13).
fn request_hash(request_id: &str) -> u64 {
    fnv(request_id, 0xcbf2_9ce4_8422_2325)
}

/// The snapshot name of an aggregate's stream: `agg-` and two 64-bit FNV-1a hashes of the
/// stream key (names are short; the snapshot itself says whose it is).
fn snapshot_name(stream: &StreamKey) -> Name {
    let key = stream.to_string();
    Name::new(format!(
        "agg-{:016x}{:016x}",
        fnv(&key, 0xcbf2_9ce4_8422_2325),
        fnv(&key, 0x6c62_272e_07bb_0142)
    ))
    .expect("a valid name")
}

/// An aggregate as a handler knows it.
#[derive(Clone, Debug)]
struct Known<A> {
    state: A,
    version: StreamVersion,
    /// Hashes of the request ids of its last commits (at most [`REMEMBERED_REQUESTS`]), oldest
    /// first.
    requests: VecDeque<u64>,
    /// Whether `requests` holds every commit of the stream.
    every_request: bool,
    /// Events since its last snapshot was saved (or read).
    since_snapshot: usize,
}

impl<A: EventSourced> Known<A> {
    fn empty() -> Self {
        Self {
            state: A::default(),
            version: StreamVersion::EMPTY,
            requests: VecDeque::new(),
            every_request: true,
            since_snapshot: 0,
        }
    }

    fn remember_request(&mut self, hash: u64) {
        self.requests.push_back(hash);
        if self.requests.len() > REMEMBERED_REQUESTS {
            self.requests.pop_front();
            self.every_request = false;
        }
    }

    /// Folds events read after `self.version` (those at or before it are skipped).
    fn fold(&mut self, read: &StreamEvents) -> Result<(), DecodeError> {
        let mut last_position = None;
        let after = self.version.version();
        for recorded in read.events.iter().filter(|event| event.version > after) {
            self.state.evolve(&A::Event::decode(recorded)?);
            self.since_snapshot += 1;
            if last_position != Some(recorded.position()) {
                last_position = Some(recorded.position());
                self.remember_request(request_hash(&recorded.commit.metadata.request_id));
            }
        }
        if read.version.version() >= after {
            self.version = read.version;
        }
        Ok(())
    }
}

/// The aggregates a handler remembers, with when each was last used.
struct Recent<A> {
    entries: HashMap<StreamKey, (Known<A>, u64)>,
    clock: u64,
}

impl<A: EventSourced> Recent<A> {
    fn get(&mut self, stream: &StreamKey) -> Option<Known<A>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(stream).map(|(known, used)| {
            *used = clock;
            known.clone()
        })
    }

    /// Remembers `known` unless a newer version of the aggregate is remembered already.
    fn put(&mut self, stream: &StreamKey, known: Known<A>) {
        self.clock += 1;
        let clock = self.clock;
        match self.entries.get_mut(stream) {
            Some((current, used)) => {
                if current.version.version() <= known.version.version() {
                    *current = known;
                }
                *used = clock;
            }
            None => {
                self.entries.insert(stream.clone(), (known, clock));
            }
        }
        if self.entries.len() > CACHED_AGGREGATES {
            // Forget the least recently used half (amortised: once every half-capacity puts).
            let mut used: Vec<u64> = self.entries.values().map(|(_, used)| *used).collect();
            let middle = used.len() / 2;
            let (_, threshold, _) = used.select_nth_unstable(middle);
            let threshold = *threshold;
            self.entries.retain(|_, (_, used)| *used > threshold);
        }
    }

    fn forget(&mut self, stream: &StreamKey) {
        self.entries.remove(stream);
    }
}

impl<A: EventSourced> std::fmt::Debug for CommandHandler<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandHandler")
            .field("aggregate", &A::TYPE)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl<A: EventSourced> Clone for CommandHandler<A> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            max_attempts: self.max_attempts,
            aggregate: PhantomData,
            observe: self.observe,
            snapshots: self.snapshots,
            known: Arc::clone(&self.known),
        }
    }
}

/// Appends' durations by backend, and the events appended by type.
static APPENDS: LazyLock<(Histogram<f64>, Counter<u64>)> = LazyLock::new(|| {
    let meter = callcenter_telemetry::metrics::meter();
    (
        meter
            .f64_histogram("callcenter_eventlog_append_duration_seconds")
            .with_description("How long appending a commit to the event log took, by backend")
            .with_unit("s")
            .with_boundaries(callcenter_telemetry::metrics::SECONDS.to_vec())
            .build(),
        meter
            .u64_counter("callcenter_events")
            .with_description("Events appended, by event type")
            .build(),
    )
});

impl<A: EventSourced> CommandHandler<A> {
    /// A handler on `store` that tries a command up to 5 times under contention.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            max_attempts: 5,
            aggregate: PhantomData,
            observe: None,
            snapshots: None,
            known: Arc::new(Mutex::new(Recent {
                entries: HashMap::new(),
                clock: 0,
            })),
        }
    }

    /// Keeps snapshots of the aggregates (in `format`), one every `every` events: a long-lived
    /// aggregate is then read from its snapshot and the events after it, not from its first
    /// event. Change `format` whenever the state's shape changes (older snapshots are ignored).
    pub fn with_snapshots(mut self, format: u32, every: usize) -> Self
    where
        A: serde::Serialize + serde::de::DeserializeOwned,
    {
        self.snapshots = Some(AggregateSnapshots {
            format: format & (LAYOUT_HASHED_REQUESTS - 1),
            every: every.max(1),
            encode: crate::snapshot::encode::<A>,
            decode: crate::snapshot::decode::<A>,
        });
        self
    }

    /// Calls `observe` with each event once it is appended (for metrics of the domain, such as
    /// calls answered).
    pub fn observed(mut self, observe: fn(&A::Event)) -> Self {
        self.observe = Some(observe);
        self
    }

    /// Changes how many times a command is tried under contention.
    pub fn with_max_attempts(mut self, max_attempts: usize) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// The stream key of aggregate `id` of `tenant`.
    pub fn stream_key(tenant: &TenantId, id: &Name) -> StreamKey {
        StreamKey {
            tenant: tenant.clone(),
            context: Name::new(A::CONTEXT).expect("aggregate context is a valid name"),
            aggregate_type: Name::new(A::TYPE).expect("aggregate type is a valid name"),
            aggregate_id: id.clone(),
        }
    }

    /// Loads aggregate `id` of `tenant` (the default state if it has no events): the remembered
    /// state and the events after it, or the stream.
    pub async fn load(
        &self,
        tenant: &TenantId,
        id: &Name,
    ) -> Result<Loaded<A>, CommandError<A::Error>> {
        let stream = Self::stream_key(tenant, id);
        let known = match self.remembered(&stream) {
            Some(mut known) => {
                self.catch_up(&stream, &mut known).await?;
                self.remember(&stream, known)
            }
            None => self.read(&stream, None).await?.0,
        };
        Ok(Loaded {
            state: known.state,
            version: known.version,
        })
    }

    /// Loads aggregate `id` of `tenant` as it was at `version` (after its event of that version),
    /// for a consumer that follows the aggregate's events behind its present.
    pub async fn load_at(
        &self,
        tenant: &TenantId,
        id: &Name,
        version: u64,
    ) -> Result<A, CommandError<A::Error>> {
        let read = self
            .store
            .read_stream(&Self::stream_key(tenant, id), 0)
            .await?;
        let mut state = A::default();
        for recorded in read
            .events
            .iter()
            .take_while(|event| event.version <= version)
        {
            state.evolve(&A::Event::decode(recorded)?);
        }
        Ok(state)
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent<A>> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remembered(&self, stream: &StreamKey) -> Option<Known<A>> {
        self.recent().get(stream)
    }

    /// Remembers `known` (unless a newer version is remembered) and returns it.
    fn remember(&self, stream: &StreamKey, known: Known<A>) -> Known<A> {
        self.recent().put(stream, known.clone());
        known
    }

    fn forget(&self, stream: &StreamKey) {
        self.recent().forget(stream);
    }

    /// Reads the aggregate from the store (its last snapshot, if kept, and the events after
    /// it), and tells whether a commit with `request_id` is in what was read.
    async fn read(
        &self,
        stream: &StreamKey,
        request_id: Option<&str>,
    ) -> Result<(Known<A>, bool), CommandError<A::Error>> {
        let restored = match self.snapshots {
            Some(snapshots) => self.restore(stream, snapshots).await,
            None => None,
        };
        let (mut known, read) = match restored {
            Some(known) => {
                let read = self.store.read_stream_from(stream, known.version).await?;
                (known, read)
            }
            None => (Known::empty(), self.store.read_stream(stream, 0).await?),
        };
        let seen = request_id.is_some_and(|id| {
            let hash = request_hash(id);
            known.requests.contains(&hash)
                || read
                    .events
                    .iter()
                    .any(|recorded| recorded.commit.metadata.request_id == id)
        });
        known.fold(&read)?;
        self.save_if_due(stream, &mut known).await;
        Ok((self.remember(stream, known), seen))
    }

    /// Folds the events after what `known` holds.
    async fn catch_up(
        &self,
        stream: &StreamKey,
        known: &mut Known<A>,
    ) -> Result<(), CommandError<A::Error>> {
        let read = self.store.read_stream_from(stream, known.version).await?;
        known.fold(&read)?;
        Ok(())
    }

    /// The aggregate's last snapshot, if there is one this handler can read.
    async fn restore(
        &self,
        stream: &StreamKey,
        snapshots: AggregateSnapshots<A>,
    ) -> Option<Known<A>> {
        let saved = match self.store.load_snapshot(&snapshot_name(stream)).await {
            Ok(saved) => saved?,
            Err(error) => {
                tracing::warn!(%stream, %error, "cannot load the aggregate's snapshot");
                return None;
            }
        };
        let stored = if saved.format == snapshots.format | LAYOUT_HASHED_REQUESTS {
            crate::snapshot::decode::<StoredAggregateHashed>(&saved.body)
        } else if saved.format == snapshots.format {
            crate::snapshot::decode::<StoredAggregate>(&saved.body).map(|stored| {
                StoredAggregateHashed {
                    requests: stored.requests.iter().map(|id| request_hash(id)).collect(),
                    stream: stored.stream,
                    version: stored.version,
                    position: stored.position,
                    state: stored.state,
                }
            })
        } else {
            return None;
        };
        let stored = stored
            .inspect_err(|error| tracing::warn!(%stream, %error, "snapshot set aside"))
            .ok()?;
        if stored.stream != stream.to_string() {
            return None;
        }
        let state = (snapshots.decode)(&stored.state)
            .inspect_err(|error| tracing::warn!(%stream, %error, "snapshot set aside"))
            .ok()?;
        Some(Known {
            state,
            version: StreamVersion::at(stored.version, stored.position),
            requests: stored.requests.into(),
            every_request: false,
            since_snapshot: 0,
        })
    }

    /// Saves the aggregate's snapshot when `every` events followed the last; a failure only
    /// costs a later load a longer read.
    async fn save_if_due(&self, stream: &StreamKey, known: &mut Known<A>) {
        let Some(snapshots) = self.snapshots else {
            return;
        };
        let Some(position) = known.version.last_position() else {
            return;
        };
        if known.since_snapshot < snapshots.every {
            return;
        }
        let body = (snapshots.encode)(&known.state).and_then(|state| {
            crate::snapshot::encode(&StoredAggregateHashed {
                stream: stream.to_string(),
                version: known.version.version(),
                position,
                requests: known.requests.iter().copied().collect(),
                state,
            })
        });
        let saved = match body {
            Ok(body) => {
                let snapshot = callcenter_eventlog::Snapshot {
                    format: snapshots.format | LAYOUT_HASHED_REQUESTS,
                    position,
                    body,
                };
                self.store
                    .save_snapshot(&snapshot_name(stream), &snapshot)
                    .await
                    .map_err(|error| error.to_string())
            }
            Err(error) => Err(error.to_string()),
        };
        match saved {
            Ok(()) => known.since_snapshot = 0,
            Err(error) => tracing::warn!(%stream, %error, "cannot save the aggregate's snapshot"),
        }
    }

    /// Handles `command` for aggregate `id`: the whole load-decide-append cycle, retried on
    /// conflicts.
    pub async fn handle(
        &self,
        meta: &CommandMeta,
        id: &Name,
        command: &A::Command,
    ) -> Result<Outcome<A>, CommandError<A::Error>> {
        self.handle_checked(meta, id, command, None).await
    }

    /// Handles `command`, decided elsewhere on `version` of aggregate `id` (a router's view of
    /// an agent): if the aggregate has moved on since, it is refused as [`CommandError::Stale`]
    /// and nothing is appended, so a decision on a stale view never lands. A retry of a request
    /// that landed returns its first result, as with [`CommandHandler::handle`].
    pub async fn handle_on(
        &self,
        version: u64,
        meta: &CommandMeta,
        id: &Name,
        command: &A::Command,
    ) -> Result<Outcome<A>, CommandError<A::Error>> {
        self.handle_checked(meta, id, command, Some(version)).await
    }

    async fn handle_checked(
        &self,
        meta: &CommandMeta,
        id: &Name,
        command: &A::Command,
        decided_on: Option<u64>,
    ) -> Result<Outcome<A>, CommandError<A::Error>> {
        let request_id = meta
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        callcenter_eventlog::validate_request_id(&request_id)?;
        let hash = request_hash(&request_id);
        let stream = Self::stream_key(&meta.tenant, id);
        for attempt in 1..=self.max_attempts {
            // `verified`: `known` is the stored stream as of this attempt, not only what this
            // handler remembered (which another writer may have moved on from).
            let (mut known, mut verified, mut seen) = match self.remembered(&stream) {
                Some(known) => (known, false, false),
                None => {
                    let (known, seen) = self.read(&stream, Some(&request_id)).await?;
                    (known, true, seen)
                }
            };
            let (new_events, version) = loop {
                seen |= known.requests.contains(&hash);
                if !seen && !known.every_request && self.snapshots.is_none() && !verified {
                    // Too many commits to remember them all: the stream says if it is a retry.
                    (known, seen) = self.read(&stream, Some(&request_id)).await?;
                    verified = true;
                    continue;
                }
                let current = known.version.version();
                let answer = if seen {
                    Err(None)
                } else if let Some(expected) = decided_on.filter(|expected| *expected != current) {
                    Err(Some(CommandError::Stale { expected, current }))
                } else {
                    match known.state.decide(command) {
                        Ok(events) if events.is_empty() => Err(None),
                        Ok(events) => Ok(events),
                        Err(rejected) => Err(Some(CommandError::Rejected(rejected))),
                    }
                };
                match answer {
                    Ok(events) => break (events, known.version),
                    // Answered without appending: only on the stored stream.
                    Err(_) if !verified => {
                        self.catch_up(&stream, &mut known).await?;
                        known = self.remember(&stream, known);
                        verified = true;
                    }
                    Err(Some(error)) => return Err(error),
                    Err(None) => {
                        return Ok(Outcome {
                            state: known.state,
                            version: known.version,
                            new_events: Vec::new(),
                            duplicate: seen,
                        });
                    }
                }
            };
            let request = AppendRequest {
                stream: stream.clone(),
                expected: ExpectedVersion::Exactly(version),
                metadata: CommitMetadata {
                    request_id: request_id.clone(),
                    correlation_id: meta.correlation_id.clone(),
                    causation_id: meta.causation_id.clone(),
                    actor: meta.actor.clone(),
                    trace: callcenter_telemetry::current_trace_context(),
                },
                events: new_events
                    .iter()
                    .map(|event| to_new_event(event, meta.at))
                    .collect(),
            };
            let event_types: Vec<String> = request
                .events
                .iter()
                .map(|event| event.event_type.clone())
                .collect();
            let started = std::time::Instant::now();
            let appended = self.store.append(request).await;
            let backend = KeyValue::new("backend", self.store.backend());
            APPENDS.0.record(
                started.elapsed().as_secs_f64(),
                std::slice::from_ref(&backend),
            );
            match appended {
                Ok(appended) if appended.duplicate => {
                    // The same request landed concurrently: report the stream as it now is.
                    self.forget(&stream);
                    let (current, _) = self.read(&stream, None).await?;
                    return Ok(Outcome {
                        state: current.state,
                        version: current.version,
                        new_events: Vec::new(),
                        duplicate: true,
                    });
                }
                Ok(appended) => {
                    for event_type in event_types {
                        APPENDS.1.add(1, &[KeyValue::new("event_type", event_type)]);
                    }
                    for event in &new_events {
                        known.state.evolve(event);
                        if let Some(observe) = self.observe {
                            observe(event);
                        }
                    }
                    known.version = appended.stream_version();
                    known.since_snapshot += new_events.len();
                    known.remember_request(hash);
                    self.save_if_due(&stream, &mut known).await;
                    let known = self.remember(&stream, known);
                    return Ok(Outcome {
                        state: known.state,
                        version: known.version,
                        new_events,
                        duplicate: false,
                    });
                }
                Err(StoreError::Conflict { .. }) => {
                    self.forget(&stream);
                    tracing::debug!(%stream, attempt, "conflict, retrying");
                    if verified {
                        // Another writer won on the stored stream: let it finish.
                        let pause = Duration::from_millis(rand_millis(attempt));
                        tokio::time::sleep(pause).await;
                    }
                }
                Err(error) => {
                    // Whether it landed is unknown: the next command reads the stream.
                    self.forget(&stream);
                    return Err(error.into());
                }
            }
        }
        Err(CommandError::Contention {
            attempts: self.max_attempts,
        })
    }
}

/// A short, growing, jittered pause before retrying.
fn rand_millis(attempt: usize) -> u64 {
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 4);
    (attempt as u64) * 2 + jitter
}

/// The stored form of `event`; an event whose domain form carries no time takes the command's.
fn to_new_event<E: PersistedEvent>(event: &E, command_at: Timestamp) -> NewEvent {
    let encoded = event.encode();
    NewEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: encoded.event_type,
        schema_version: encoded.schema_version,
        occurred_at: encoded.occurred_at.unwrap_or(command_at),
        payload: encoded.payload,
    }
}
