//! The stored schema of routing events: `callcenter.routing.v1` protobuf messages.

use callcenter_eventlog::RecordedEvent;
use callcenter_kit::{DecodeError, EncodedEvent, Name, PersistedEvent, Schema, decode_name};
use callcenter_proto::routing::v1 as pb;
use prost::Name as _;

use std::collections::BTreeMap;

use crate::domain::{
    AgentEvent, AgentPresenceEvent, CaseEvent, NotReadyReason, OverflowStep, PresenceState,
    PublishedPresence, QueueEvent, QueueRouting, Why, WideningStep,
};

/// How routing's events are stored. `AgentLoggedIn` is at version 2: the seat is always
/// recorded. Version 1 logins recorded before seats existed name none; they read as the default
/// seat.
pub const SCHEMA: Schema = Schema {
    versions: &[("callcenter.routing.v1.AgentLoggedIn", 2)],
    upcast,
};

/// The current shape of an older stored payload.
fn upcast(event_type: &str, version: u32, payload: &[u8]) -> Result<Vec<u8>, String> {
    use prost::Message as _;
    if event_type == pb::AgentLoggedIn::full_name() && version == 1 {
        let mut login = pb::AgentLoggedIn::decode(payload).map_err(|error| error.to_string())?;
        if login.seat.is_empty() {
            login.seat = default_seat().to_string();
        }
        return Ok(login.encode_to_vec());
    }
    Err(format!("no upcaster from {event_type} v{version}"))
}

/// The message of an optional name, such as a routing domain (empty: none, the default).
pub fn domain_to_proto(domain: Option<&Name>) -> String {
    domain.map(Name::to_string).unwrap_or_default()
}

fn domain_from_proto(event: &RecordedEvent, value: &str) -> Result<Option<Name>, DecodeError> {
    (!value.is_empty())
        .then(|| decode_name(event, value))
        .transpose()
}

/// The message of skills (skill → proficiency).
pub fn skills_to_proto(skills: &BTreeMap<Name, u8>) -> std::collections::HashMap<String, u32> {
    skills
        .iter()
        .map(|(skill, level)| (skill.to_string(), u32::from(*level)))
        .collect()
}

/// The skills of a message; `Err` names the skill that is malformed.
pub fn skills_from_proto(
    skills: &std::collections::HashMap<String, u32>,
) -> Result<BTreeMap<Name, u8>, (String, String)> {
    skills
        .iter()
        .map(|(skill, level)| {
            let name =
                Name::new(skill).map_err(|error| (format!("skills.{skill}"), error.to_string()))?;
            let level = u8::try_from(*level)
                .ok()
                .filter(|level| (1..=5).contains(level))
                .ok_or_else(|| (format!("skills.{skill}"), "proficiency 1 to 5".to_owned()))?;
            Ok((name, level))
        })
        .collect()
}

/// The message of routing rules.
pub fn routing_to_record(routing: &QueueRouting) -> pb::QueueRoutingRecord {
    pb::QueueRoutingRecord {
        priority: u32::from(routing.priority),
        required_skills: skills_to_proto(&routing.required_skills),
        widening: routing
            .widening
            .iter()
            .map(|step| pb::WideningStepRecord {
                after_seconds: step.after_seconds,
                min_proficiency: u32::from(step.min_proficiency),
                drop_skills: step.drop_skills.iter().map(Name::to_string).collect(),
            })
            .collect(),
        overflow: routing
            .overflow
            .iter()
            .map(|step| pb::OverflowStepRecord {
                after_seconds: step.after_seconds,
                queue_id: step.queue_id.to_string(),
            })
            .collect(),
        service_level_percent: u32::from(routing.service_level_percent),
        service_level_seconds: routing.service_level_seconds,
        max_wait_seconds: routing.max_wait_seconds,
        sticky_seconds: routing.sticky_seconds,
        max_wait_queue_id: domain_to_proto(routing.max_wait_queue_id.as_ref()),
    }
}

/// The routing rules of a message; `Err` names the field that is malformed (soundness is
/// [`QueueRouting::problem`]'s).
pub fn routing_from_record(
    routing: &pb::QueueRoutingRecord,
) -> Result<QueueRouting, (String, String)> {
    let small = |field: &str, value: u32| {
        u8::try_from(value).map_err(|_| (field.to_owned(), "out of range".to_owned()))
    };
    Ok(QueueRouting {
        priority: small("routing.priority", routing.priority)?,
        required_skills: skills_from_proto(&routing.required_skills)
            .map_err(|(field, reason)| (format!("routing.required_{field}"), reason))?,
        widening: routing
            .widening
            .iter()
            .map(|step| {
                Ok(WideningStep {
                    after_seconds: step.after_seconds,
                    min_proficiency: small(
                        "routing.widening.min_proficiency",
                        step.min_proficiency,
                    )?,
                    drop_skills: step
                        .drop_skills
                        .iter()
                        .map(|skill| {
                            Name::new(skill).map_err(|error| {
                                ("routing.widening.drop_skills".to_owned(), error.to_string())
                            })
                        })
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<_, (String, String)>>()?,
        overflow: routing
            .overflow
            .iter()
            .map(|step| {
                Ok(OverflowStep {
                    after_seconds: step.after_seconds,
                    queue_id: Name::new(&step.queue_id).map_err(|error| {
                        ("routing.overflow.queue_id".to_owned(), error.to_string())
                    })?,
                })
            })
            .collect::<Result<_, (String, String)>>()?,
        service_level_percent: small(
            "routing.service_level_percent",
            routing.service_level_percent,
        )?,
        service_level_seconds: routing.service_level_seconds,
        max_wait_seconds: routing.max_wait_seconds,
        sticky_seconds: routing.sticky_seconds,
        max_wait_queue_id: (!routing.max_wait_queue_id.is_empty())
            .then(|| Name::new(&routing.max_wait_queue_id))
            .transpose()
            .map_err(|error| ("routing.max_wait_queue_id".to_owned(), error.to_string()))?,
    })
}

/// The seat of logins recorded before seats existed, and of logins that name none.
pub fn default_seat() -> Name {
    Name::new("default").expect("valid name")
}

/// The stored reason of a domain reason.
pub fn not_ready_reason_to_proto(reason: NotReadyReason) -> pb::NotReadyReason {
    match reason {
        NotReadyReason::Break => pb::NotReadyReason::Break,
        NotReadyReason::Lunch => pb::NotReadyReason::Lunch,
        NotReadyReason::Training => pb::NotReadyReason::Training,
        NotReadyReason::Meeting => pb::NotReadyReason::Meeting,
        NotReadyReason::Coaching => pb::NotReadyReason::Coaching,
        NotReadyReason::Missed => pb::NotReadyReason::Missed,
    }
}

/// The domain reason of a stored reason (`None` for unspecified or unknown values).
pub fn not_ready_reason_from_proto(value: i32) -> Option<NotReadyReason> {
    match pb::NotReadyReason::try_from(value).ok()? {
        pb::NotReadyReason::Break => Some(NotReadyReason::Break),
        pb::NotReadyReason::Lunch => Some(NotReadyReason::Lunch),
        pb::NotReadyReason::Training => Some(NotReadyReason::Training),
        pb::NotReadyReason::Meeting => Some(NotReadyReason::Meeting),
        pb::NotReadyReason::Coaching => Some(NotReadyReason::Coaching),
        pb::NotReadyReason::Missed => Some(NotReadyReason::Missed),
        pb::NotReadyReason::Unspecified => None,
    }
}

impl PersistedEvent for AgentEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            AgentEvent::Created {
                display_name,
                center_id,
                queue_ids,
                routing_domain,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::AgentCreated {
                    display_name: display_name.clone(),
                    center_id: center_id.to_string(),
                    queue_ids: queue_ids.iter().map(Name::to_string).collect(),
                    routing_domain: domain_to_proto(routing_domain.as_ref()),
                },
            ),
            AgentEvent::RoutingDomainMoved { routing_domain, at } => SCHEMA.encode(
                *at,
                &pb::AgentRoutingDomainMoved {
                    routing_domain: domain_to_proto(routing_domain.as_ref()),
                },
            ),
            AgentEvent::LoggedIn { seat, at } => SCHEMA.encode(
                *at,
                &pb::AgentLoggedIn {
                    seat: seat.to_string(),
                },
            ),
            AgentEvent::SecondLoginRefused { seat, at } => SCHEMA.encode(
                *at,
                &pb::AgentSecondLoginRefused {
                    seat: seat.to_string(),
                },
            ),
            AgentEvent::NotReady { reason, at } => SCHEMA.encode(
                *at,
                &pb::AgentNotReady {
                    reason: not_ready_reason_to_proto(*reason).into(),
                },
            ),
            AgentEvent::AfterCallWorkOverrun { call_id, at } => SCHEMA.encode(
                *at,
                &pb::AgentAfterCallWorkOverrun {
                    call_id: call_id.to_string(),
                },
            ),
            AgentEvent::Ready { at } => SCHEMA.encode(*at, &pb::AgentReady {}),
            AgentEvent::Reserved {
                call_id,
                queue_id,
                why,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::AgentReserved {
                    call_id: call_id.to_string(),
                    queue_id: queue_id.to_string(),
                    rule: why.rule.clone(),
                    candidates: why.candidates.iter().map(Name::to_string).collect(),
                },
            ),
            AgentEvent::ChatCapacitySet { chats, at } => SCHEMA.encode(
                *at,
                &pb::AgentChatCapacitySet {
                    chats: u32::from(*chats),
                },
            ),
            AgentEvent::SkillsSet { skills, at } => SCHEMA.encode(
                *at,
                &pb::AgentSkillsSet {
                    skills: skills_to_proto(skills),
                },
            ),
            AgentEvent::ReservationReleased {
                call_id,
                missed,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::AgentReservationReleased {
                    call_id: call_id.to_string(),
                    missed: *missed,
                },
            ),
            AgentEvent::CallStarted { call_id, at } => SCHEMA.encode(
                *at,
                &pb::AgentCallStarted {
                    call_id: call_id.to_string(),
                },
            ),
            AgentEvent::CallEnded {
                call_id,
                after_call_work_until,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::AgentCallEnded {
                    call_id: call_id.to_string(),
                    after_call_work_seconds: after_call_work_until.map_or(0, |until| {
                        u32::try_from(until.millis_since(*at) / 1000).unwrap_or(u32::MAX)
                    }),
                },
            ),
            AgentEvent::LoggedOut { at } => SCHEMA.encode(*at, &pb::AgentLoggedOut {}),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        use pb::agent_events::Event;
        let at = event.occurred_at;
        match SCHEMA.decode(event)? {
            Event::AgentCreated(created) => Ok(AgentEvent::Created {
                display_name: created.display_name,
                center_id: decode_name(event, &created.center_id)?,
                queue_ids: created
                    .queue_ids
                    .iter()
                    .map(|queue_id| decode_name(event, queue_id))
                    .collect::<Result<_, _>>()?,
                routing_domain: domain_from_proto(event, &created.routing_domain)?,
                at,
            }),
            Event::AgentRoutingDomainMoved(moved) => Ok(AgentEvent::RoutingDomainMoved {
                routing_domain: domain_from_proto(event, &moved.routing_domain)?,
                at,
            }),
            Event::AgentLoggedIn(logged_in) => {
                let seat = decode_name(event, &logged_in.seat)?;
                Ok(AgentEvent::LoggedIn { seat, at })
            }
            Event::AgentSecondLoginRefused(refused) => Ok(AgentEvent::SecondLoginRefused {
                seat: decode_name(event, &refused.seat)?,
                at,
            }),
            Event::AgentNotReady(not_ready) => Ok(AgentEvent::NotReady {
                reason: not_ready_reason_from_proto(not_ready.reason)
                    .ok_or_else(|| DecodeError::new(event, "unknown not-ready reason"))?,
                at,
            }),
            Event::AgentAfterCallWorkOverrun(overrun) => Ok(AgentEvent::AfterCallWorkOverrun {
                call_id: decode_name(event, &overrun.call_id)?,
                at,
            }),
            Event::AgentReady(_) => Ok(AgentEvent::Ready { at }),
            Event::AgentReserved(reserved) => Ok(AgentEvent::Reserved {
                call_id: decode_name(event, &reserved.call_id)?,
                queue_id: decode_name(event, &reserved.queue_id)?,
                why: Why {
                    rule: reserved.rule,
                    candidates: reserved
                        .candidates
                        .iter()
                        .map(|candidate| decode_name(event, candidate))
                        .collect::<Result<_, _>>()?,
                },
                at,
            }),
            Event::AgentChatCapacitySet(set) => Ok(AgentEvent::ChatCapacitySet {
                chats: u8::try_from(set.chats)
                    .map_err(|_| DecodeError::new(event, "chat capacity out of range"))?,
                at,
            }),
            Event::AgentSkillsSet(set) => Ok(AgentEvent::SkillsSet {
                skills: skills_from_proto(&set.skills)
                    .map_err(|(_, reason)| DecodeError::new(event, reason))?,
                at,
            }),
            Event::AgentReservationReleased(released) => Ok(AgentEvent::ReservationReleased {
                call_id: decode_name(event, &released.call_id)?,
                missed: released.missed,
                at,
            }),
            Event::AgentCallStarted(started) => Ok(AgentEvent::CallStarted {
                call_id: decode_name(event, &started.call_id)?,
                at,
            }),
            Event::AgentCallEnded(ended) => Ok(AgentEvent::CallEnded {
                call_id: decode_name(event, &ended.call_id)?,
                after_call_work_until: (ended.after_call_work_seconds > 0)
                    .then(|| at.plus_millis(i64::from(ended.after_call_work_seconds) * 1000)),
                at,
            }),
            Event::AgentLoggedOut(_) => Ok(AgentEvent::LoggedOut { at }),
        }
    }
}

impl PersistedEvent for QueueEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            QueueEvent::Created {
                display_name,
                center_id,
                after_call_work_seconds,
                routing_domain,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::QueueCreated {
                    display_name: display_name.clone(),
                    center_id: center_id.to_string(),
                    after_call_work_seconds: *after_call_work_seconds,
                    routing_domain: domain_to_proto(routing_domain.as_ref()),
                },
            ),
            QueueEvent::RoutingSet { routing, at } => SCHEMA.encode(
                *at,
                &pb::QueueRoutingSet {
                    routing: Some(routing_to_record(routing)),
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        use pb::queue_events::Event;
        match SCHEMA.decode(event)? {
            Event::QueueRoutingSet(set) => Ok(QueueEvent::RoutingSet {
                routing: routing_from_record(&set.routing.unwrap_or_default())
                    .map_err(|(_, reason)| DecodeError::new(event, reason))?,
                at: event.occurred_at,
            }),
            Event::QueueCreated(created) => Ok(QueueEvent::Created {
                display_name: created.display_name,
                center_id: decode_name(event, &created.center_id)?,
                after_call_work_seconds: created.after_call_work_seconds,
                routing_domain: domain_from_proto(event, &created.routing_domain)?,
                at: event.occurred_at,
            }),
        }
    }
}

impl PersistedEvent for CaseEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            CaseEvent::Opened {
                caller_number,
                owner_agent_id,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CaseOpened {
                    caller_number: caller_number.clone(),
                    owner_agent_id: owner_agent_id.to_string(),
                },
            ),
            CaseEvent::OwnerChanged {
                caller_number,
                owner_agent_id,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CaseOwnerChanged {
                    caller_number: caller_number.clone(),
                    owner_agent_id: owner_agent_id.to_string(),
                },
            ),
            CaseEvent::Closed { caller_number, at } => SCHEMA.encode(
                *at,
                &pb::CaseClosed {
                    caller_number: caller_number.clone(),
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        use pb::case_events::Event;
        let at = event.occurred_at;
        match SCHEMA.decode(event)? {
            Event::CaseOpened(opened) => Ok(CaseEvent::Opened {
                owner_agent_id: decode_name(event, &opened.owner_agent_id)?,
                caller_number: opened.caller_number,
                at,
            }),
            Event::CaseOwnerChanged(changed) => Ok(CaseEvent::OwnerChanged {
                owner_agent_id: decode_name(event, &changed.owner_agent_id)?,
                caller_number: changed.caller_number,
                at,
            }),
            Event::CaseClosed(closed) => Ok(CaseEvent::Closed {
                caller_number: closed.caller_number,
                at,
            }),
        }
    }
}

/// The published presence's state as stored.
fn presence_state_to_proto(state: PresenceState) -> pb::AgentState {
    match state {
        PresenceState::LoggedOut => pb::AgentState::LoggedOut,
        PresenceState::NotReady => pb::AgentState::NotReady,
        PresenceState::Ready => pb::AgentState::Ready,
        PresenceState::Reserved => pb::AgentState::Reserved,
        PresenceState::OnCall => pb::AgentState::OnCall,
        PresenceState::AfterCallWork => pb::AgentState::AfterCallWork,
    }
}

/// The stored presence's state.
fn presence_state_from_proto(
    event: &RecordedEvent,
    state: i32,
) -> Result<PresenceState, DecodeError> {
    Ok(match pb::AgentState::try_from(state) {
        Ok(pb::AgentState::LoggedOut) => PresenceState::LoggedOut,
        Ok(pb::AgentState::NotReady) => PresenceState::NotReady,
        Ok(pb::AgentState::Ready) => PresenceState::Ready,
        Ok(pb::AgentState::Reserved) => PresenceState::Reserved,
        Ok(pb::AgentState::OnCall) => PresenceState::OnCall,
        Ok(pb::AgentState::AfterCallWork) => PresenceState::AfterCallWork,
        Ok(pb::AgentState::Unspecified) | Err(_) => {
            return Err(DecodeError::new(event, "unknown agent state"));
        }
    })
}

/// The published fact of an agent's presence.
pub fn presence_to_proto(
    presence: &PublishedPresence,
    agent_version: u64,
) -> pb::AgentPresenceChanged {
    pb::AgentPresenceChanged {
        state: presence_state_to_proto(presence.state).into(),
        reason: presence
            .reason
            .map_or(pb::NotReadyReason::Unspecified, not_ready_reason_to_proto)
            .into(),
        call_id: presence
            .call_id
            .as_ref()
            .map(Name::to_string)
            .unwrap_or_default(),
        center_id: presence
            .center_id
            .as_ref()
            .map(Name::to_string)
            .unwrap_or_default(),
        queue_ids: presence.queue_ids.iter().map(Name::to_string).collect(),
        agent_version,
    }
}

impl PersistedEvent for AgentPresenceEvent {
    fn encode(&self) -> EncodedEvent {
        let AgentPresenceEvent::Changed {
            presence,
            agent_version,
            at,
        } = self;
        SCHEMA.encode(*at, &presence_to_proto(presence, *agent_version))
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let pb::agent_presence_events::Event::AgentPresenceChanged(changed) =
            SCHEMA.decode(event)?;
        let optional = |value: &str| {
            (!value.is_empty())
                .then(|| decode_name(event, value))
                .transpose()
        };
        Ok(AgentPresenceEvent::Changed {
            presence: PublishedPresence {
                state: presence_state_from_proto(event, changed.state)?,
                reason: not_ready_reason_from_proto(changed.reason),
                call_id: optional(&changed.call_id)?,
                center_id: optional(&changed.center_id)?,
                queue_ids: changed
                    .queue_ids
                    .iter()
                    .map(|queue_id| decode_name(event, queue_id))
                    .collect::<Result<_, _>>()?,
            },
            agent_version: changed.agent_version,
            at: event.occurred_at,
        })
    }
}
