//! The pure shape of an aggregate, and how its events are persisted.

use bytes::Bytes;
use callcenter_eventlog::{Name, RecordedEvent, Timestamp};

/// An event-sourced aggregate: a decision function and a fold, with no I/O and no clock.
///
/// `decide` looks at the current state and a command and returns the new events (or why the
/// command is refused); `evolve` applies one event to the state and never fails. Time comes in
/// the command.
pub trait Aggregate: Default + Clone + Send + Sync + 'static {
    /// The bounded context that owns the aggregate, such as `telephony`.
    const CONTEXT: &'static str;
    /// The aggregate's type name inside its context, such as `call`.
    const TYPE: &'static str;
    /// What can be asked of it.
    type Command: Send + Sync;
    /// What it records.
    type Event: PersistedEvent + Clone + std::fmt::Debug + PartialEq + Send + Sync;
    /// Why it refuses a command.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Decides what happens when `command` meets the current state.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Applies one event to the state.
    fn evolve(&mut self, event: &Self::Event);

    /// Folds events into a state, starting from the default.
    fn replay<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self {
        let mut state = Self::default();
        for event in events {
            state.evolve(event);
        }
        state
    }
}

/// An event in its stored form: a protobuf payload with its type name and schema version.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedEvent {
    /// Fully qualified protobuf message name.
    pub event_type: String,
    /// Version of the payload schema.
    pub schema_version: u32,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// The encoded payload.
    pub payload: Bytes,
}

impl EncodedEvent {
    /// Encodes a protobuf message as schema version 1.
    pub fn from_message<M: prost::Name>(occurred_at: Timestamp, message: &M) -> Self {
        Self {
            event_type: M::full_name(),
            schema_version: 1,
            occurred_at,
            payload: Bytes::from(message.encode_to_vec()),
        }
    }
}

/// The mapping between a domain event and its persisted schema (kept apart so that the stored
/// schema can be upcast without touching the domain).
pub trait PersistedEvent: Sized {
    /// Encodes the event.
    fn encode(&self) -> EncodedEvent;
    /// Decodes a stored event; unknown types and malformed payloads are errors.
    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError>;
}

/// A stored event that could not be turned back into a domain event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {event_type} v{schema_version} at position {position}: {reason}")]
pub struct DecodeError {
    /// The stored type name.
    pub event_type: String,
    /// The stored schema version.
    pub schema_version: u32,
    /// Where it is in the log.
    pub position: u64,
    /// What went wrong.
    pub reason: String,
}

impl DecodeError {
    /// An error about `event` for `reason`.
    pub fn new(event: &RecordedEvent, reason: impl Into<String>) -> Self {
        Self {
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            position: event.position(),
            reason: reason.into(),
        }
    }

    /// The error for an event type this decoder does not know.
    pub fn unknown_type(event: &RecordedEvent) -> Self {
        Self::new(event, "unknown event type")
    }
}

/// A name stored in `event` (an id), or the error that says the event is malformed.
pub fn decode_name(event: &RecordedEvent, value: &str) -> Result<Name, DecodeError> {
    Name::new(value).map_err(|error| DecodeError::new(event, error.to_string()))
}

/// Decodes the payload of `event` as protobuf message `M`, checking its type name.
pub fn decode_message<M: prost::Message + prost::Name + Default>(
    event: &RecordedEvent,
) -> Result<M, DecodeError> {
    if event.event_type != M::full_name() {
        return Err(DecodeError::new(
            event,
            format!("expected {}", M::full_name()),
        ));
    }
    M::decode(event.payload.as_ref()).map_err(|error| DecodeError::new(event, error.to_string()))
}
