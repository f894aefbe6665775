//! The stored form of a commit, shared by every backend: the `callcenter.eventlog.v1.Commit`
//! protobuf message. Trace context travels beside it (message headers, table columns).

use std::sync::Arc;

use bytes::Bytes;
use callcenter_proto::eventlog::v1 as pb;
use prost::Message;

use crate::{
    AppendRequest, CommitMetadata, Name, Position, RecordedCommit, RecordedEvent, StoreError,
    StreamKey, Timestamp, TraceContext,
};

/// Encodes a commit whose first event gets `first_version`, as every backend stores it (public
/// so that benchmarks can publish the very same bytes).
pub fn encode_commit(request: &AppendRequest, first_version: u64) -> Bytes {
    let commit = pb::Commit {
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
    };
    Bytes::from(commit.encode_to_vec())
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
