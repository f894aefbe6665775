//! The command handler: load an aggregate, decide, append with the expected version, retry on
//! conflict.

use std::marker::PhantomData;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use callcenter_eventlog::{
    AppendRequest, CommitMetadata, EventStore, ExpectedVersion, Name, NewEvent, StoreError,
    StreamKey, StreamVersion, TenantId, Timestamp,
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
pub struct CommandHandler<A: EventSourced> {
    store: Arc<dyn EventStore>,
    max_attempts: usize,
    aggregate: PhantomData<fn() -> A>,
    observe: Option<fn(&A::Event)>,
    snapshots: Option<AggregateSnapshots<A>>,
}

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

/// An aggregate's snapshot as stored: whose it is, at which version and commit, the request
/// ids of its last commits, and the state encoded by the aggregate's codec.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAggregate {
    stream: String,
    version: u64,
    position: u64,
    requests: Vec<String>,
    state: Vec<u8>,
}

/// The snapshot name of an aggregate's stream: `agg-` and two 64-bit FNV-1a hashes of the
/// stream key (names are short; the snapshot itself says whose it is).
fn snapshot_name(stream: &StreamKey) -> Name {
    let key = stream.to_string();
    let fnv = |offset: u64| {
        key.bytes().fold(offset, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    Name::new(format!(
        "agg-{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    ))
    .expect("a valid name")
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
            format,
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

    /// Loads aggregate `id` of `tenant` (the default state if it has no events).
    pub async fn load(
        &self,
        tenant: &TenantId,
        id: &Name,
    ) -> Result<Loaded<A>, CommandError<A::Error>> {
        let (loaded, _) = self.load_checking(tenant, id, None).await?;
        Ok(loaded)
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

    /// Loads, and tells whether a commit with `request_id` is already in the stream.
    async fn load_checking(
        &self,
        tenant: &TenantId,
        id: &Name,
        request_id: Option<&str>,
    ) -> Result<(Loaded<A>, bool), CommandError<A::Error>> {
        let stream = Self::stream_key(tenant, id);
        let restored = match self.snapshots {
            Some(snapshots) => self.restore(&stream, snapshots).await,
            None => None,
        };
        let (mut state, read, mut requests) = match restored {
            Some((state, from, requests)) => {
                let read = self.store.read_stream_from(&stream, from).await?;
                (state, read, requests)
            }
            None => (
                A::default(),
                self.store.read_stream(&stream, 0).await?,
                Vec::new(),
            ),
        };
        let mut seen_request = request_id.is_some_and(|id| requests.iter().any(|r| r == id));
        let mut last_position = None;
        for recorded in &read.events {
            seen_request |= request_id.is_some_and(|id| recorded.commit.metadata.request_id == id);
            state.evolve(&A::Event::decode(recorded)?);
            if self.snapshots.is_some() && last_position != Some(recorded.position()) {
                last_position = Some(recorded.position());
                requests.push(recorded.commit.metadata.request_id.clone());
            }
        }
        if let Some(snapshots) = self.snapshots
            && read.events.len() >= snapshots.every
        {
            self.save(&stream, snapshots, &state, read.version, requests)
                .await;
        }
        Ok((
            Loaded {
                state,
                version: read.version,
            },
            seen_request,
        ))
    }

    /// The aggregate's last snapshot, if there is one this handler can read.
    async fn restore(
        &self,
        stream: &StreamKey,
        snapshots: AggregateSnapshots<A>,
    ) -> Option<(A, StreamVersion, Vec<String>)> {
        let saved = match self.store.load_snapshot(&snapshot_name(stream)).await {
            Ok(saved) => saved?,
            Err(error) => {
                tracing::warn!(%stream, %error, "cannot load the aggregate's snapshot");
                return None;
            }
        };
        if saved.format != snapshots.format {
            return None;
        }
        let stored: StoredAggregate = crate::snapshot::decode(&saved.body)
            .inspect_err(|error| tracing::warn!(%stream, %error, "snapshot set aside"))
            .ok()?;
        if stored.stream != stream.to_string() {
            return None;
        }
        let state = (snapshots.decode)(&stored.state)
            .inspect_err(|error| tracing::warn!(%stream, %error, "snapshot set aside"))
            .ok()?;
        Some((
            state,
            StreamVersion::at(stored.version, stored.position),
            stored.requests,
        ))
    }

    /// Saves the aggregate's snapshot at `version`; a failure only costs the next load a longer
    /// read.
    async fn save(
        &self,
        stream: &StreamKey,
        snapshots: AggregateSnapshots<A>,
        state: &A,
        version: StreamVersion,
        mut requests: Vec<String>,
    ) {
        let Some(position) = version.last_position() else {
            return;
        };
        let excess = requests.len().saturating_sub(REMEMBERED_REQUESTS);
        requests.drain(..excess);
        let body = (snapshots.encode)(state).and_then(|state| {
            crate::snapshot::encode(&StoredAggregate {
                stream: stream.to_string(),
                version: version.version(),
                position,
                requests,
                state,
            })
        });
        let saved = match body {
            Ok(body) => {
                let snapshot = callcenter_eventlog::Snapshot {
                    format: snapshots.format,
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
        if let Err(error) = saved {
            tracing::warn!(%stream, %error, "cannot save the aggregate's snapshot");
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
        let stream = Self::stream_key(&meta.tenant, id);
        for attempt in 1..=self.max_attempts {
            let (loaded, already_handled) = self
                .load_checking(&meta.tenant, id, Some(&request_id))
                .await?;
            if already_handled {
                return Ok(Outcome {
                    state: loaded.state,
                    version: loaded.version,
                    new_events: Vec::new(),
                    duplicate: true,
                });
            }
            let current = loaded.version.version();
            if let Some(expected) = decided_on.filter(|expected| *expected != current) {
                return Err(CommandError::Stale { expected, current });
            }
            let new_events = loaded
                .state
                .decide(command)
                .map_err(CommandError::Rejected)?;
            if new_events.is_empty() {
                return Ok(Outcome {
                    state: loaded.state,
                    version: loaded.version,
                    new_events,
                    duplicate: false,
                });
            }
            let request = AppendRequest {
                stream: stream.clone(),
                expected: ExpectedVersion::Exactly(loaded.version),
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
                    let (current, _) = self.load_checking(&meta.tenant, id, None).await?;
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
                    let mut state = loaded.state;
                    for event in &new_events {
                        state.evolve(event);
                        if let Some(observe) = self.observe {
                            observe(event);
                        }
                    }
                    return Ok(Outcome {
                        state,
                        version: appended.stream_version(),
                        new_events,
                        duplicate: false,
                    });
                }
                Err(StoreError::Conflict { .. }) => {
                    tracing::debug!(%stream, attempt, "conflict, retrying");
                    let pause = Duration::from_millis(rand_millis(attempt));
                    tokio::time::sleep(pause).await;
                }
                Err(error) => return Err(error.into()),
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
