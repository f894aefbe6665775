//! How an aggregate's events are persisted (the aggregate's pure shape is in the types crate).

use bytes::Bytes;
use callcenter_eventlog::{Name, RecordedEvent, Timestamp};
pub use callcenter_proto::EventList;

pub use callcenter_types::Aggregate;

/// An aggregate whose events the log stores: what the command handler works on. Every
/// [`Aggregate`] whose events have a [`PersistedEvent`] mapping is one.
pub trait EventSourced: Aggregate<Event: PersistedEvent> {}

impl<A: Aggregate<Event: PersistedEvent>> EventSourced for A {}

/// An event in its stored form: a protobuf payload with its type name and schema version.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedEvent {
    /// Fully qualified protobuf message name.
    pub event_type: String,
    /// Version of the payload schema.
    pub schema_version: u32,
    /// When it happened; `None` for an event whose domain form carries no time (it takes the time
    /// of its command).
    pub occurred_at: Option<Timestamp>,
    /// The encoded payload.
    pub payload: Bytes,
}

impl EncodedEvent {
    /// Encodes a protobuf message as schema version 1.
    pub fn from_message<M: prost::Name>(occurred_at: Timestamp, message: &M) -> Self {
        Self {
            event_type: M::full_name(),
            schema_version: 1,
            occurred_at: Some(occurred_at),
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

/// The schema of an aggregate's stored events: the version each event type is written at now (1
/// unless listed), and how a payload of an older version becomes the current shape (upcasting).
/// The types themselves are the aggregate's list in its proto (`*Events`, an [`EventList`]).
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    /// Event types written at a version above 1, with the version.
    pub versions: &'static [(&'static str, u32)],
    /// The current shape of a payload of an older version.
    pub upcast: Upcaster,
}

/// Turns a stored payload of an older version into the current shape: (event type, stored
/// version, stored payload) to payload; `Err` says why it cannot be read.
pub type Upcaster = fn(&str, u32, &[u8]) -> Result<Vec<u8>, String>;

fn no_upcaster(event_type: &str, version: u32, _: &[u8]) -> Result<Vec<u8>, String> {
    Err(format!("no upcaster from {event_type} v{version}"))
}

impl Schema {
    /// Every type at version 1, nothing to upcast.
    pub const V1: Schema = Schema {
        versions: &[],
        upcast: no_upcaster,
    };

    /// The version `event_type` is written at now.
    pub fn version(&self, event_type: &str) -> u32 {
        self.versions
            .iter()
            .find(|(name, _)| *name == event_type)
            .map_or(1, |(_, version)| *version)
    }

    /// Decodes a stored event into the aggregate's list, upcasting an older payload first; a
    /// newer one (written by a newer release) and a type the list does not hold are errors.
    pub fn decode<L: EventList>(&self, event: &RecordedEvent) -> Result<L, DecodeError> {
        let current = self.version(&event.event_type);
        let upcast;
        let payload: &[u8] = match event.schema_version {
            stored if stored == current => &event.payload,
            stored if stored > current => {
                return Err(DecodeError::new(
                    event,
                    format!(
                        "written at schema version {stored}, this release reads up to {current}"
                    ),
                ));
            }
            stored => {
                upcast = (self.upcast)(&event.event_type, stored, &event.payload)
                    .map_err(|reason| DecodeError::new(event, reason))?;
                &upcast
            }
        };
        match L::decode(&event.event_type, payload) {
            None => Err(DecodeError::unknown_type(event)),
            Some(decoded) => decoded.map_err(|error| DecodeError::new(event, error.to_string())),
        }
    }

    /// The stored form of `message` at `occurred_at`, at the version its type is written at now.
    pub fn encode<M: prost::Message + prost::Name>(
        &self,
        occurred_at: Timestamp,
        message: &M,
    ) -> EncodedEvent {
        EncodedEvent {
            occurred_at: Some(occurred_at),
            ..self.encode_at_command(message)
        }
    }

    /// The stored form of `message` for an event whose domain form carries no time: it is
    /// stored at the time of the command that recorded it.
    pub fn encode_at_command<M: prost::Message + prost::Name>(&self, message: &M) -> EncodedEvent {
        let event_type = M::full_name();
        EncodedEvent {
            schema_version: self.version(&event_type),
            event_type,
            occurred_at: None,
            payload: Bytes::from(message.encode_to_vec()),
        }
    }
}

/// Events other contexts published, as a consumer reads them: decoded into the publisher's list
/// (`L`), or `None` for a type the list does not hold, which is counted
/// (`callcenter_unknown_events_total`) and logged as the consumer's, never silently dropped.
pub fn published<L: EventList>(
    consumer: &str,
    event: &RecordedEvent,
) -> Result<Option<L>, DecodeError> {
    if !L::EVENT_TYPES.contains(&event.event_type.as_str()) {
        unknown_event(consumer, event);
        return Ok(None);
    }
    Schema::V1.decode::<L>(event).map(Some)
}

/// Counts and logs an event that `consumer` does not know.
pub fn unknown_event(consumer: &str, event: &RecordedEvent) {
    static UNKNOWN: std::sync::LazyLock<opentelemetry::metrics::Counter<u64>> =
        std::sync::LazyLock::new(|| {
            callcenter_telemetry::metrics::meter()
                .u64_counter("callcenter_unknown_events")
                .with_description(
                    "Events a consumer received but does not know, by consumer and type",
                )
                .build()
        });
    UNKNOWN.add(
        1,
        &[
            opentelemetry::KeyValue::new("consumer", consumer.to_owned()),
            opentelemetry::KeyValue::new("event_type", event.event_type.clone()),
        ],
    );
    tracing::warn!(
        consumer,
        event_type = %event.event_type,
        position = event.position(),
        "an event this consumer does not know"
    );
}
