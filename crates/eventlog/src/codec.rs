//! The stored form of a commit, shared by every backend: the `callcenter.eventlog.v1.Commit`
//! protobuf message. Trace context travels beside it (message headers, table columns).

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use callcenter_proto::eventlog::v1 as pb;
use prost::Message;
use prost::encoding::{self, WireType};

use crate::{
    AppendRequest, CommitMetadata, Name, NewEvent, Position, RecordedCommit, RecordedEvent,
    StoreError, StreamKey, Timestamp, TraceContext,
};

/// Encodes a commit whose first event gets `first_version`, as every backend stores it (public
/// so that benchmarks can publish the very same bytes).
///
/// Writes the `Commit` message field by field from the request's own strings, in one buffer of
/// the exact size: building the generated message first would copy every string and the payload
/// once more on each append. The bytes are those the generated message encodes (a test checks).
pub fn encode_commit(request: &AppendRequest, first_version: u64) -> Bytes {
    let stream = &request.stream;
    let metadata = &request.metadata;
    let head: [(u32, &str); 4] = [
        (1, stream.tenant.as_str()),
        (2, stream.context.as_str()),
        (3, stream.aggregate_type.as_str()),
        (4, stream.aggregate_id.as_str()),
    ];
    let tail: [(u32, &str); 4] = [
        (6, &metadata.request_id),
        (7, &metadata.correlation_id),
        (8, &metadata.causation_id),
        (9, &metadata.actor),
    ];
    let length = head
        .iter()
        .chain(&tail)
        .map(|(tag, value)| bytes_len(*tag, value.as_bytes()))
        .sum::<usize>()
        + varint_len(5, first_version)
        + request
            .events
            .iter()
            .map(|event| message_len(10, event_len(event)))
            .sum::<usize>();
    let mut buffer = BytesMut::with_capacity(length);
    for (tag, value) in head {
        put_bytes(&mut buffer, tag, value.as_bytes());
    }
    put_varint(&mut buffer, 5, first_version);
    for (tag, value) in tail {
        put_bytes(&mut buffer, tag, value.as_bytes());
    }
    for event in &request.events {
        encoding::encode_key(10, WireType::LengthDelimited, &mut buffer);
        encoding::encode_varint(event_len(event) as u64, &mut buffer);
        put_event(&mut buffer, event);
    }
    debug_assert_eq!(buffer.len(), length);
    buffer.freeze()
}

/// The encoded length of an `Event` message without its key and length prefix.
fn event_len(event: &NewEvent) -> usize {
    let (seconds, nanos) = proto_timestamp_parts(event.occurred_at);
    bytes_len(1, event.event_id.as_bytes())
        + bytes_len(2, event.event_type.as_bytes())
        + varint_len(3, u64::from(event.schema_version))
        + message_len(4, varint_len(1, seconds) + varint_len(2, nanos))
        + bytes_len(5, &event.payload)
}

fn put_event(buffer: &mut BytesMut, event: &NewEvent) {
    let (seconds, nanos) = proto_timestamp_parts(event.occurred_at);
    put_bytes(buffer, 1, event.event_id.as_bytes());
    put_bytes(buffer, 2, event.event_type.as_bytes());
    put_varint(buffer, 3, u64::from(event.schema_version));
    encoding::encode_key(4, WireType::LengthDelimited, buffer);
    encoding::encode_varint(
        (varint_len(1, seconds) + varint_len(2, nanos)) as u64,
        buffer,
    );
    put_varint(buffer, 1, seconds);
    put_varint(buffer, 2, nanos);
    put_bytes(buffer, 5, &event.payload);
}

/// A timestamp's `seconds` and `nanos` as protobuf writes them on the wire (two's complement
/// varints, as for every `int64` and `int32`).
fn proto_timestamp_parts(timestamp: Timestamp) -> (u64, u64) {
    let timestamp = to_proto_timestamp(timestamp);
    (timestamp.seconds as u64, i64::from(timestamp.nanos) as u64)
}

/// Length of a string or bytes field; proto3 leaves empty ones out.
fn bytes_len(tag: u32, value: &[u8]) -> usize {
    if value.is_empty() {
        0
    } else {
        message_len(tag, value.len())
    }
}

/// Length of a length-delimited field holding `length` bytes (a sub-message is always written).
fn message_len(tag: u32, length: usize) -> usize {
    encoding::key_len(tag) + encoding::encoded_len_varint(length as u64) + length
}

/// Length of a varint field; proto3 leaves zeros out.
fn varint_len(tag: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        encoding::key_len(tag) + encoding::encoded_len_varint(value)
    }
}

fn put_bytes(buffer: &mut BytesMut, tag: u32, value: &[u8]) {
    if !value.is_empty() {
        encoding::encode_key(tag, WireType::LengthDelimited, buffer);
        encoding::encode_varint(value.len() as u64, buffer);
        buffer.put_slice(value);
    }
}

fn put_varint(buffer: &mut BytesMut, tag: u32, value: u64) {
    if value != 0 {
        encoding::encode_key(tag, WireType::Varint, buffer);
        encoding::encode_varint(value, buffer);
    }
}

/// A decoded commit: its events and the stream version after it.
#[derive(Debug)]
pub(crate) struct DecodedCommit {
    pub(crate) last_version: u64,
    pub(crate) events: Vec<RecordedEvent>,
}

/// Decodes a stored commit found at `position`; event payloads share `body`'s buffer.
pub(crate) fn decode_commit(
    position: Position,
    body: Bytes,
    trace: TraceContext,
) -> Result<DecodedCommit, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let commit = pb::Commit::decode(body).map_err(|error| corrupt(error.to_string()))?;
    let stream = StreamKey {
        tenant: Name::new(&commit.tenant_id).map_err(|e| corrupt(e.to_string()))?,
        context: Name::new(&commit.context).map_err(|e| corrupt(e.to_string()))?,
        aggregate_type: Name::new(&commit.aggregate_type).map_err(|e| corrupt(e.to_string()))?,
        aggregate_id: Name::new(&commit.aggregate_id).map_err(|e| corrupt(e.to_string()))?,
    };
    if commit.events.is_empty() || commit.first_version == 0 {
        return Err(corrupt("commit without events or with version 0".into()));
    }
    let first_version = commit.first_version;
    let last_version = first_version + commit.events.len() as u64 - 1;
    let recorded_commit = Arc::new(RecordedCommit {
        position,
        stream,
        metadata: CommitMetadata {
            request_id: commit.request_id,
            correlation_id: commit.correlation_id,
            causation_id: commit.causation_id,
            actor: commit.actor,
            trace,
        },
    });
    let events = commit
        .events
        .into_iter()
        .zip(first_version..)
        .map(|(event, version)| RecordedEvent {
            commit: Arc::clone(&recorded_commit),
            version,
            event_id: event.event_id,
            event_type: event.event_type,
            schema_version: event.schema_version,
            occurred_at: event
                .occurred_at
                .map(from_proto_timestamp)
                .unwrap_or_default(),
            payload: event.payload,
        })
        .collect();
    Ok(DecodedCommit {
        last_version,
        events,
    })
}

/// Converts to the protobuf well-known timestamp.
pub fn to_proto_timestamp(timestamp: Timestamp) -> prost_types::Timestamp {
    let millis = timestamp.unix_millis();
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: i32::try_from(millis.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

/// Converts from the protobuf well-known timestamp (sub-millisecond digits are dropped).
pub fn from_proto_timestamp(timestamp: prost_types::Timestamp) -> Timestamp {
    Timestamp::from_unix_millis(
        timestamp
            .seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(timestamp.nanos) / 1_000_000),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExpectedVersion, NewEvent};

    #[test]
    fn a_commit_round_trips_with_consecutive_versions() {
        let request = AppendRequest {
            stream: StreamKey::new("t1", "telephony", "call", "c1").unwrap(),
            expected: ExpectedVersion::NoStream,
            metadata: CommitMetadata {
                request_id: "r1".into(),
                correlation_id: "corr".into(),
                causation_id: "cause".into(),
                actor: "agent-7".into(),
                trace: TraceContext::default(),
            },
            events: (0..3)
                .map(|i| NewEvent {
                    event_id: format!("e{i}"),
                    event_type: "callcenter.test.v1.Happened".into(),
                    schema_version: 1,
                    occurred_at: Timestamp::from_unix_millis(1_700_000_000_123 + i),
                    payload: Bytes::from(vec![i as u8]),
                })
                .collect(),
        };
        let body = encode_commit(&request, 5);
        let trace = TraceContext {
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            tracestate: None,
        };
        let decoded = decode_commit(42, body, trace.clone()).unwrap();
        assert_eq!(decoded.last_version, 7);
        assert_eq!(decoded.events[2].commit.metadata.request_id, "r1");
        let versions: Vec<u64> = decoded.events.iter().map(|e| e.version).collect();
        assert_eq!(versions, vec![5, 6, 7]);
        let first = &decoded.events[0];
        assert_eq!(first.position(), 42);
        assert_eq!(first.stream(), &request.stream);
        assert_eq!(
            first.occurred_at,
            Timestamp::from_unix_millis(1_700_000_000_123)
        );
        assert_eq!(first.commit.metadata.actor, "agent-7");
        assert_eq!(first.commit.metadata.trace, trace);
    }

    /// What the generated message encodes: the stored form `encode_commit` must keep writing.
    fn generated_encoding(request: &AppendRequest, first_version: u64) -> Vec<u8> {
        pb::Commit {
            tenant_id: request.stream.tenant.to_string(),
            context: request.stream.context.to_string(),
            aggregate_type: request.stream.aggregate_type.to_string(),
            aggregate_id: request.stream.aggregate_id.to_string(),
            first_version,
            request_id: request.metadata.request_id.clone(),
            correlation_id: request.metadata.correlation_id.clone(),
            causation_id: request.metadata.causation_id.clone(),
            actor: request.metadata.actor.clone(),
            events: request
                .events
                .iter()
                .map(|event| pb::Event {
                    event_id: event.event_id.clone(),
                    event_type: event.event_type.clone(),
                    schema_version: event.schema_version,
                    occurred_at: Some(to_proto_timestamp(event.occurred_at)),
                    payload: event.payload.clone(),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    #[test]
    fn the_stored_form_is_byte_for_byte_the_generated_commit_message() {
        let event = |index: usize, millis: i64, payload: Vec<u8>| NewEvent {
            event_id: if index == 1 {
                String::new()
            } else {
                format!("e{index}")
            },
            event_type: "callcenter.test.v1.Happened".repeat(index % 3),
            schema_version: index as u32 * 300,
            occurred_at: Timestamp::from_unix_millis(millis),
            payload: Bytes::from(payload),
        };
        let metadata = |text: &str| CommitMetadata {
            request_id: text.repeat(2),
            correlation_id: text.into(),
            causation_id: String::new(),
            actor: text.repeat(100),
            trace: TraceContext::default(),
        };
        let requests = [
            // Empty strings, zero versions, a zero timestamp and an empty payload are left out.
            (metadata(""), vec![event(1, 0, vec![])], 1),
            (
                metadata("r"),
                vec![
                    event(0, -1_500, vec![7; 300]),
                    event(2, 1_700_000_000_123, vec![1]),
                    event(4, 999, vec![0; 20_000]),
                ],
                u64::MAX,
            ),
            (
                metadata("request"),
                vec![event(3, i64::MAX / 2, vec![9; 127])],
                128,
            ),
        ];
        for (metadata, events, first_version) in requests {
            let request = AppendRequest {
                stream: StreamKey::new("t1", "telephony", "call", "c-1").unwrap(),
                expected: ExpectedVersion::Any,
                metadata,
                events,
            };
            assert_eq!(
                encode_commit(&request, first_version).as_ref(),
                generated_encoding(&request, first_version).as_slice()
            );
        }
    }

    #[test]
    fn garbage_is_reported_as_corrupt_not_a_panic() {
        let error = decode_commit(
            9,
            Bytes::from_static(b"\xff\xff\xff"),
            TraceContext::default(),
        )
        .unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { position: 9, .. }));
    }

    #[test]
    fn timestamps_before_the_epoch_convert_both_ways() {
        for millis in [-1_500, -1, 0, 1, 1_699_999_999_999] {
            let timestamp = Timestamp::from_unix_millis(millis);
            assert_eq!(
                from_proto_timestamp(to_proto_timestamp(timestamp)),
                timestamp
            );
        }
    }
}
