//! The stored schema of telephony events: `callcenter.telephony.v1` protobuf messages.

use callcenter_eventlog::RecordedEvent;
use callcenter_kit::{DecodeError, EncodedEvent, Name, PersistedEvent, decode_message};
use callcenter_proto::telephony::v1 as pb;
use prost::Name as _;

use crate::domain::{CallEvent, CallPhase, NumberEvent, Party, PhoneNumber};

fn name(event: &RecordedEvent, value: &str) -> Result<Name, DecodeError> {
    Name::new(value).map_err(|error| DecodeError::new(event, error.to_string()))
}

fn phone(event: &RecordedEvent, value: &str) -> Result<PhoneNumber, DecodeError> {
    PhoneNumber::parse(value).map_err(|reason| DecodeError::new(event, reason))
}

/// The domain party of a stored party.
pub fn party_from_proto(value: i32) -> Party {
    match pb::Party::try_from(value) {
        Ok(pb::Party::Agent) => Party::Agent,
        Ok(pb::Party::System) => Party::System,
        _ => Party::Caller,
    }
}

/// The stored party of a domain party.
pub fn party_to_proto(party: Party) -> pb::Party {
    match party {
        Party::Caller => pb::Party::Caller,
        Party::Agent => pb::Party::Agent,
        Party::System => pb::Party::System,
    }
}

impl PersistedEvent for CallEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            CallEvent::Offered {
                caller_number,
                dialled_number,
                at,
            } => EncodedEvent::from_message(
                *at,
                &pb::CallOffered {
                    caller_number: caller_number.as_str().to_owned(),
                    dialled_number: dialled_number.as_str().to_owned(),
                },
            ),
            CallEvent::Queued { queue_id, at } => EncodedEvent::from_message(
                *at,
                &pb::CallQueued {
                    queue_id: queue_id.to_string(),
                },
            ),
            CallEvent::Ringing { agent_id, at } => EncodedEvent::from_message(
                *at,
                &pb::CallRinging {
                    agent_id: agent_id.to_string(),
                },
            ),
            CallEvent::Answered {
                agent_id,
                queue_id,
                at,
            } => EncodedEvent::from_message(
                *at,
                &pb::CallAnswered {
                    agent_id: agent_id.to_string(),
                    queue_id: queue_id.to_string(),
                },
            ),
            CallEvent::Ended { ended_by, at } => EncodedEvent::from_message(
                *at,
                &pb::CallEnded {
                    ended_by: party_to_proto(*ended_by).into(),
                },
            ),
            CallEvent::Abandoned {
                queue_id,
                phase,
                waited_ms,
                at,
            } => EncodedEvent::from_message(
                *at,
                &pb::CallAbandoned {
                    queue_id: queue_id.to_string(),
                    phase: match phase {
                        CallPhase::Queued => pb::CallPhase::Queued,
                        CallPhase::Ringing => pb::CallPhase::Ringing,
                    }
                    .into(),
                    waited_ms: *waited_ms,
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let at = event.occurred_at;
        let event_type = event.event_type.as_str();
        if event_type == pb::CallOffered::full_name() {
            let offered: pb::CallOffered = decode_message(event)?;
            return Ok(CallEvent::Offered {
                caller_number: phone(event, &offered.caller_number)?,
                dialled_number: phone(event, &offered.dialled_number)?,
                at,
            });
        }
        if event_type == pb::CallQueued::full_name() {
            let queued: pb::CallQueued = decode_message(event)?;
            return Ok(CallEvent::Queued {
                queue_id: name(event, &queued.queue_id)?,
                at,
            });
        }
        if event_type == pb::CallRinging::full_name() {
            let ringing: pb::CallRinging = decode_message(event)?;
            return Ok(CallEvent::Ringing {
                agent_id: name(event, &ringing.agent_id)?,
                at,
            });
        }
        if event_type == pb::CallAnswered::full_name() {
            let answered: pb::CallAnswered = decode_message(event)?;
            return Ok(CallEvent::Answered {
                agent_id: name(event, &answered.agent_id)?,
                queue_id: name(event, &answered.queue_id)?,
                at,
            });
        }
        if event_type == pb::CallEnded::full_name() {
            let ended: pb::CallEnded = decode_message(event)?;
            return Ok(CallEvent::Ended {
                ended_by: party_from_proto(ended.ended_by),
                at,
            });
        }
        if event_type == pb::CallAbandoned::full_name() {
            let abandoned: pb::CallAbandoned = decode_message(event)?;
            let phase = match pb::CallPhase::try_from(abandoned.phase) {
                Ok(pb::CallPhase::Ringing) => CallPhase::Ringing,
                _ => CallPhase::Queued,
            };
            return Ok(CallEvent::Abandoned {
                queue_id: name(event, &abandoned.queue_id)?,
                phase,
                waited_ms: abandoned.waited_ms,
                at,
            });
        }
        Err(DecodeError::unknown_type(event))
    }
}

impl PersistedEvent for NumberEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            NumberEvent::Assigned { queue_id, at } => EncodedEvent::from_message(
                *at,
                &pb::NumberAssigned {
                    queue_id: queue_id.to_string(),
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let assigned: pb::NumberAssigned = decode_message(event)?;
        Ok(NumberEvent::Assigned {
            queue_id: name(event, &assigned.queue_id)?,
            at: event.occurred_at,
        })
    }
}
