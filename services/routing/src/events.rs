//! The stored schema of routing events: `callcenter.routing.v1` protobuf messages.

use callcenter_eventlog::RecordedEvent;
use callcenter_kit::{DecodeError, EncodedEvent, Name, PersistedEvent, decode_message};
use callcenter_proto::routing::v1 as pb;
use prost::Name as _;

use crate::domain::{AgentEvent, QueueEvent};

fn name(event: &RecordedEvent, value: &str) -> Result<Name, DecodeError> {
    Name::new(value).map_err(|error| DecodeError::new(event, error.to_string()))
}

impl PersistedEvent for AgentEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            AgentEvent::Created {
                display_name,
                center_id,
                queue_ids,
                at,
            } => EncodedEvent::from_message(
                *at,
                &pb::AgentCreated {
                    display_name: display_name.clone(),
                    center_id: center_id.to_string(),
                    queue_ids: queue_ids.iter().map(Name::to_string).collect(),
                },
            ),
            AgentEvent::LoggedIn { at } => EncodedEvent::from_message(*at, &pb::AgentLoggedIn {}),
            AgentEvent::Ready { at } => EncodedEvent::from_message(*at, &pb::AgentReady {}),
            AgentEvent::Reserved {
                call_id,
                queue_id,
                at,
            } => EncodedEvent::from_message(
                *at,
                &pb::AgentReserved {
                    call_id: call_id.to_string(),
                    queue_id: queue_id.to_string(),
                },
            ),
            AgentEvent::ReservationReleased { call_id, at } => EncodedEvent::from_message(
                *at,
                &pb::AgentReservationReleased {
                    call_id: call_id.to_string(),
                },
            ),
            AgentEvent::CallStarted { call_id, at } => EncodedEvent::from_message(
                *at,
                &pb::AgentCallStarted {
                    call_id: call_id.to_string(),
                },
            ),
            AgentEvent::CallEnded { call_id, at } => EncodedEvent::from_message(
                *at,
                &pb::AgentCallEnded {
                    call_id: call_id.to_string(),
                },
            ),
            AgentEvent::LoggedOut { at } => EncodedEvent::from_message(*at, &pb::AgentLoggedOut {}),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let at = event.occurred_at;
        let event_type = event.event_type.as_str();
        if event_type == pb::AgentCreated::full_name() {
            let created: pb::AgentCreated = decode_message(event)?;
            return Ok(AgentEvent::Created {
                display_name: created.display_name,
                center_id: name(event, &created.center_id)?,
                queue_ids: created
                    .queue_ids
                    .iter()
                    .map(|queue_id| name(event, queue_id))
                    .collect::<Result<_, _>>()?,
                at,
            });
        }
        if event_type == pb::AgentLoggedIn::full_name() {
            return Ok(AgentEvent::LoggedIn { at });
        }
        if event_type == pb::AgentReady::full_name() {
            return Ok(AgentEvent::Ready { at });
        }
        if event_type == pb::AgentReserved::full_name() {
            let reserved: pb::AgentReserved = decode_message(event)?;
            return Ok(AgentEvent::Reserved {
                call_id: name(event, &reserved.call_id)?,
                queue_id: name(event, &reserved.queue_id)?,
                at,
            });
        }
        if event_type == pb::AgentReservationReleased::full_name() {
            let released: pb::AgentReservationReleased = decode_message(event)?;
            return Ok(AgentEvent::ReservationReleased {
                call_id: name(event, &released.call_id)?,
                at,
            });
        }
        if event_type == pb::AgentCallStarted::full_name() {
            let started: pb::AgentCallStarted = decode_message(event)?;
            return Ok(AgentEvent::CallStarted {
                call_id: name(event, &started.call_id)?,
                at,
            });
        }
        if event_type == pb::AgentCallEnded::full_name() {
            let ended: pb::AgentCallEnded = decode_message(event)?;
            return Ok(AgentEvent::CallEnded {
                call_id: name(event, &ended.call_id)?,
                at,
            });
        }
        if event_type == pb::AgentLoggedOut::full_name() {
            return Ok(AgentEvent::LoggedOut { at });
        }
        Err(DecodeError::unknown_type(event))
    }
}

impl PersistedEvent for QueueEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            QueueEvent::Created {
                display_name,
                center_id,
                at,
            } => EncodedEvent::from_message(
                *at,
                &pb::QueueCreated {
                    display_name: display_name.clone(),
                    center_id: center_id.to_string(),
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let created: pb::QueueCreated = decode_message(event)?;
        Ok(QueueEvent::Created {
            display_name: created.display_name,
            center_id: name(event, &created.center_id)?,
            at: event.occurred_at,
        })
    }
}
