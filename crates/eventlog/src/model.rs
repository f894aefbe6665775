//! The values that go into and come out of the event log.

use std::fmt;
use std::sync::Arc;

pub use callcenter_types::{InvalidName, MAX_NAME_LEN, Name, TenantId, Timestamp};

use bytes::Bytes;

use crate::StoreError;

/// Longest request id the log accepts.
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// Most events one commit may hold.
pub const MAX_EVENTS_PER_COMMIT: usize = 500;

/// Identifies one aggregate's stream: tenant, bounded context, aggregate type and id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    /// The tenant that owns the aggregate.
    pub tenant: TenantId,
    /// The bounded context, such as `telephony`.
    pub context: Name,
    /// The aggregate type inside the context, such as `call`.
    pub aggregate_type: Name,
    /// The aggregate's id.
    pub aggregate_id: Name,
}

impl StreamKey {
    /// Builds a key from its four parts, checking each.
    pub fn new(
        tenant: impl AsRef<str>,
        context: impl AsRef<str>,
        aggregate_type: impl AsRef<str>,
        aggregate_id: impl AsRef<str>,
    ) -> Result<Self, InvalidName> {
        Ok(Self {
            tenant: Name::new(tenant)?,
            context: Name::new(context)?,
            aggregate_type: Name::new(aggregate_type)?,
            aggregate_id: Name::new(aggregate_id)?,
        })
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.tenant, self.context, self.aggregate_type, self.aggregate_id
        )
    }
}

impl fmt::Debug for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamKey({self})")
    }
}

/// Position of a commit in the whole log: the JetStream stream sequence, or the SQLite row id.
/// Positions grow with every commit; 0 means "before the first commit".
pub type Position = u64;

/// Where an aggregate's stream stands: its version and, when known, the position of its last commit.
///
/// The version is the aggregate's own event count. The position is the backend's concurrency token
/// (the JetStream subject sequence); it is kept apart from the version and is filled in by reads and
/// appends, so that an append after a read needs no extra round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamVersion {
    version: u64,
    last_position: Option<Position>,
}

impl StreamVersion {
    /// The stream of an aggregate that has no events yet.
    pub const EMPTY: StreamVersion = StreamVersion {
        version: 0,
        last_position: Some(0),
    };

    /// A version whose commit position is unknown (the backend looks it up when appending).
    pub const fn new(version: u64) -> Self {
        if version == 0 {
            return Self::EMPTY;
        }
        Self {
            version,
            last_position: None,
        }
    }

    /// A version together with the position of the commit that holds that version's event.
    pub const fn at(version: u64, last_position: Position) -> Self {
        Self {
            version,
            last_position: Some(last_position),
        }
    }

    /// The number of events in the stream.
    pub const fn version(self) -> u64 {
        self.version
    }

    /// The position of the stream's last commit, if known.
    pub const fn last_position(self) -> Option<Position> {
        self.last_position
    }
}

/// What an append expects the stream to look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version (the request id still deduplicates).
    Any,
    /// The stream must have no events.
    NoStream,
    /// The stream must be exactly at this version.
    Exactly(StreamVersion),
}

impl ExpectedVersion {
    /// The version that is expected, if one is.
    pub fn version(self) -> Option<u64> {
        match self {
            ExpectedVersion::Any => None,
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exactly(stream_version) => Some(stream_version.version()),
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exactly(stream_version) => write!(f, "{}", stream_version.version()),
        }
    }
}

/// W3C trace context (`traceparent`, `tracestate`) carried with a commit in message headers.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TraceContext {
    /// The `traceparent` header value.
    pub traceparent: Option<String>,
    /// The `tracestate` header value.
    pub tracestate: Option<String>,
}

/// Facts about a commit as a whole: why it was written, by whom, under which trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitMetadata {
    /// Idempotency key: a second append with the same key to the same stream is a duplicate.
    pub request_id: String,
    /// Shared by every commit that one external request caused.
    pub correlation_id: String,
    /// The message (request or event) that directly caused this commit.
    pub causation_id: String,
    /// Who caused it: a token subject, or `system:<component>`.
    pub actor: String,
    /// The trace the append ran in.
    pub trace: TraceContext,
}

/// One event to append.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// Unique id of the event (UUIDv7 text, for example).
    pub event_id: String,
    /// Fully qualified protobuf name of the payload.
    pub event_type: String,
    /// Version of the payload's schema.
    pub schema_version: u32,
    /// When it happened, as the command said.
    pub occurred_at: Timestamp,
    /// The encoded payload.
    pub payload: Bytes,
}

/// One atomic append: events of one aggregate, with what the stream is expected to be.
#[derive(Clone, Debug)]
pub struct AppendRequest {
    /// The aggregate's stream.
    pub stream: StreamKey,
    /// The optimistic-concurrency expectation.
    pub expected: ExpectedVersion,
    /// Facts about the commit.
    pub metadata: CommitMetadata,
    /// The events, in order; at least one.
    pub events: Vec<NewEvent>,
}

impl AppendRequest {
    /// Checks what every backend requires of an append before touching storage.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.events.is_empty() {
            return Err(StoreError::Invalid(
                "a commit needs at least one event".into(),
            ));
        }
        if self.events.len() > MAX_EVENTS_PER_COMMIT {
            return Err(StoreError::Invalid(format!(
                "a commit holds at most {MAX_EVENTS_PER_COMMIT} events, got {}",
                self.events.len()
            )));
        }
        validate_request_id(&self.metadata.request_id)?;
        for event in &self.events {
            if event.event_type.is_empty() {
                return Err(StoreError::Invalid("event type must not be empty".into()));
            }
        }
        Ok(())
    }
}

/// Checks a request id: 1 to 128 visible ASCII characters.
pub fn validate_request_id(request_id: &str) -> Result<(), StoreError> {
    let visible = request_id.bytes().all(|byte| byte.is_ascii_graphic());
    if request_id.is_empty() || request_id.len() > MAX_REQUEST_ID_LEN || !visible {
        return Err(StoreError::Invalid(format!(
            "request id must be 1 to {MAX_REQUEST_ID_LEN} visible ASCII characters, got {:?}",
            request_id.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

/// The result of an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The commit's position in the log.
    pub position: Position,
    /// Version of the commit's first event.
    pub first_version: u64,
    /// Version of the commit's last event, which is the stream's version after it.
    pub last_version: u64,
    /// True when the request id had already been appended: nothing new was written, and this
    /// describes the first append.
    pub duplicate: bool,
}

impl Appended {
    /// The stream's version right after this commit.
    pub fn stream_version(&self) -> StreamVersion {
        StreamVersion::at(self.last_version, self.position)
    }
}

/// What a commit as a whole looked like when it was read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedCommit {
    /// The commit's position in the log.
    pub position: Position,
    /// The aggregate's stream.
    pub stream: StreamKey,
    /// Facts about the commit.
    pub metadata: CommitMetadata,
}

/// One event as stored, with its envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    /// The commit it belongs to (shared by the commit's events).
    pub commit: Arc<RecordedCommit>,
    /// Per-aggregate sequence of this event, from 1.
    pub version: u64,
    /// Unique id of the event.
    pub event_id: String,
    /// Fully qualified protobuf name of the payload.
    pub event_type: String,
    /// Version of the payload's schema.
    pub schema_version: u32,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// The encoded payload.
    pub payload: Bytes,
}

impl RecordedEvent {
    /// The position of this event's commit.
    pub fn position(&self) -> Position {
        self.commit.position
    }

    /// The aggregate stream this event belongs to.
    pub fn stream(&self) -> &StreamKey {
        &self.commit.stream
    }
}

/// The events of one stream, as read, with where the stream stands.
#[derive(Clone, Debug)]
pub struct StreamEvents {
    /// The events after the requested version, in order.
    pub events: Vec<RecordedEvent>,
    /// The stream's version after the last event (the requested one if nothing newer exists).
    pub version: StreamVersion,
}

/// Which streams a subscription delivers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this tenant's streams, or every tenant's.
    pub tenant: Option<TenantId>,
    /// Only these (context, aggregate type or any) pairs; empty means every stream.
    pub streams: Vec<(Name, Option<Name>)>,
}

impl Filter {
    /// Every commit of every tenant.
    pub fn all() -> Self {
        Self::default()
    }

    /// Adds every aggregate type of `context`.
    pub fn context(mut self, context: Name) -> Self {
        self.streams.push((context, None));
        self
    }

    /// Adds one aggregate type of `context`.
    pub fn aggregate(mut self, context: Name, aggregate_type: Name) -> Self {
        self.streams.push((context, Some(aggregate_type)));
        self
    }

    /// Narrows the filter to one tenant.
    pub fn tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Whether a stream passes the filter.
    pub fn matches(&self, stream: &StreamKey) -> bool {
        self.passes(
            stream.tenant.as_str(),
            stream.context.as_str(),
            stream.aggregate_type.as_str(),
        )
    }

    /// Whether the streams of `aggregate_type` in `context` of `tenant` pass the filter.
    pub fn passes(&self, tenant: &str, context: &str, aggregate_type: &str) -> bool {
        if self.tenant.as_ref().is_some_and(|t| t.as_str() != tenant) {
            return false;
        }
        self.streams.is_empty()
            || self.streams.iter().any(|(c, t)| {
                c.as_str() == context && t.as_ref().is_none_or(|t| t.as_str() == aggregate_type)
            })
    }
}

/// A consumer's view as of a position of the log: a start restores it and reads only the commits
/// after `position`, instead of the whole log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The consumer's format of `body`: a consumer that changed its view's shape reads an older
    /// format or replays the log instead.
    pub format: u32,
    /// The last commit folded into the view.
    pub position: Position,
    /// The view, encoded by the consumer.
    pub body: Vec<u8>,
}

/// How to open a durable subscription.
#[derive(Clone, Debug)]
pub struct SubscriptionSpec {
    /// The durable name; a subscription with the same name resumes where the last one acknowledged.
    pub name: Name,
    /// Which streams to deliver.
    pub filter: Filter,
    /// Deliver only commits after this position. When the durable subscription has already
    /// acknowledged beyond it (a read model rebuilt from zero, a restored database), it is moved
    /// back; when it is behind, it resumes where it was. `None` resumes the durable subscription,
    /// or starts a new one at the beginning of the log.
    pub resume_after: Option<Position>,
    /// Forget the subscription after it has been unused this long (for short-lived watchers
    /// whose process may go away without deleting it); `None` keeps it until deleted.
    pub expire_when_idle: Option<std::time::Duration>,
}

/// A batch of whole commits delivered by a subscription.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// The events of the delivered commits, in log order.
    pub events: Vec<RecordedEvent>,
    /// How many commits are still waiting after this batch (the subscription's lag): on
    /// JetStream those its consumer delivers (every stream of the tenant when the filter names
    /// several, which are picked out in process); on SQLite, the commits of any stream (an upper
    /// bound, read in constant time). Zero only when nothing is left.
    pub pending: u64,
    /// How far the subscription has looked: every commit up to here that its filter takes has
    /// been delivered, in this batch or before. At least the last event's position, and beyond
    /// it when commits the filter leaves out followed (0: nothing looked at yet). A view that
    /// folded the batch holds the log through here, and may resume after it.
    pub through: Position,
}

impl Batch {
    /// Position of the batch's last commit.
    pub fn last_position(&self) -> Option<Position> {
        self.events.last().map(RecordedEvent::position)
    }

    /// How far the subscription has looked ([`Batch::through`], never before the last event).
    pub fn passed_through(&self) -> Position {
        self.through.max(self.last_position().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_rfc3339_utc() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_795_365_007_123, "2026-11-22T16:30:07.123Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ];
        for (millis, text) in cases {
            assert_eq!(Timestamp::from_unix_millis(millis).to_rfc3339(), text);
        }
    }

    #[test]
    fn names_accept_subject_safe_tokens_only() {
        assert!(Name::new("agent-1_A").is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", &"x".repeat(65), "ünï"] {
            assert!(Name::new(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
