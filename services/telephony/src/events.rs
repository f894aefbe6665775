//! The stored schema of telephony events: `callcenter.telephony.v1` protobuf messages.

use callcenter_eventlog::RecordedEvent;
use callcenter_kit::{DecodeError, EncodedEvent, Name, PersistedEvent, Schema, decode_name};
use callcenter_proto::telephony::v1 as pb;

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{
    CallEvent, CallPhase, CallerClass, CallerEvent, CallingHours, IvrMenu, IvrMenuEvent,
    IvrMenuProblem, IvrNode, IvrPosition, MenuRef, NotReachedReason, NumberClaimEvent, NumberEvent,
    NumberRoute, OutboundPolicyEvent, OutboundPurpose, PartnerEvent, Party, PhoneNumber, Priority,
    QueueTarget, ReportedCallEvent, ReportedFact, SupervisionMode,
};

/// How telephony's events are stored: every type at version 1, nothing to upcast yet.
pub const SCHEMA: Schema = Schema::V1;

fn optional_name(event: &RecordedEvent, value: &str) -> Result<Option<Name>, DecodeError> {
    (!value.is_empty())
        .then(|| decode_name(event, value))
        .transpose()
}

fn phone(event: &RecordedEvent, value: &str) -> Result<PhoneNumber, DecodeError> {
    PhoneNumber::parse(value).map_err(|reason| DecodeError::new(event, reason))
}

fn text(value: Option<&Name>) -> String {
    value.map(Name::to_string).unwrap_or_default()
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

/// The domain priority of a stored priority (unspecified is normal).
pub fn priority_from_proto(value: i32) -> Priority {
    match pb::Priority::try_from(value) {
        Ok(pb::Priority::Emergency) => Priority::Emergency,
        _ => Priority::Normal,
    }
}

/// The stored priority of a domain priority.
pub fn priority_to_proto(priority: Priority) -> pb::Priority {
    match priority {
        Priority::Normal => pb::Priority::Normal,
        Priority::Emergency => pb::Priority::Emergency,
    }
}

/// The domain supervision mode of a stored one, if it names one.
pub fn supervision_mode_from_proto(value: i32) -> Option<SupervisionMode> {
    match pb::SupervisionMode::try_from(value) {
        Ok(pb::SupervisionMode::Listen) => Some(SupervisionMode::Listen),
        Ok(pb::SupervisionMode::Whisper) => Some(SupervisionMode::Whisper),
        Ok(pb::SupervisionMode::Barge) => Some(SupervisionMode::Barge),
        _ => None,
    }
}

/// The stored supervision mode of a domain one.
pub fn supervision_mode_to_proto(mode: SupervisionMode) -> pb::SupervisionMode {
    match mode {
        SupervisionMode::Listen => pb::SupervisionMode::Listen,
        SupervisionMode::Whisper => pb::SupervisionMode::Whisper,
        SupervisionMode::Barge => pb::SupervisionMode::Barge,
    }
}

/// The domain purpose of a stored purpose, if it names one.
pub fn purpose_from_proto(value: i32) -> Option<OutboundPurpose> {
    match pb::OutboundPurpose::try_from(value) {
        Ok(pb::OutboundPurpose::Callback) => Some(OutboundPurpose::Callback),
        Ok(pb::OutboundPurpose::Survey) => Some(OutboundPurpose::Survey),
        Ok(pb::OutboundPurpose::Marketing) => Some(OutboundPurpose::Marketing),
        _ => None,
    }
}

/// The stored purpose of a domain purpose.
pub fn purpose_to_proto(purpose: OutboundPurpose) -> pb::OutboundPurpose {
    match purpose {
        OutboundPurpose::Callback => pb::OutboundPurpose::Callback,
        OutboundPurpose::Survey => pb::OutboundPurpose::Survey,
        OutboundPurpose::Marketing => pb::OutboundPurpose::Marketing,
    }
}

/// The domain reason of a stored reason, if it names one.
pub fn not_reached_from_proto(value: i32) -> Option<NotReachedReason> {
    match pb::NotReachedReason::try_from(value) {
        Ok(pb::NotReachedReason::NoAnswer) => Some(NotReachedReason::NoAnswer),
        Ok(pb::NotReachedReason::Busy) => Some(NotReachedReason::Busy),
        Ok(pb::NotReachedReason::Rejected) => Some(NotReachedReason::Rejected),
        Ok(pb::NotReachedReason::Failed) => Some(NotReachedReason::Failed),
        _ => None,
    }
}

/// The stored reason of a domain reason.
pub fn not_reached_to_proto(reason: NotReachedReason) -> pb::NotReachedReason {
    match reason {
        NotReachedReason::NoAnswer => pb::NotReachedReason::NoAnswer,
        NotReachedReason::Busy => pb::NotReachedReason::Busy,
        NotReachedReason::Rejected => pb::NotReachedReason::Rejected,
        NotReachedReason::Failed => pb::NotReachedReason::Failed,
    }
}

/// The domain calling hours of a message; `Err` says what is malformed.
pub fn calling_hours_from_record(hours: &pb::CallingHoursRecord) -> Result<CallingHours, String> {
    let weekdays: [bool; 7] = hours
        .weekdays
        .as_slice()
        .try_into()
        .map_err(|_| "weekdays must have exactly 7 entries, Monday first".to_owned())?;
    let minute = |value: u32| u16::try_from(value).map_err(|_| "minutes out of range".to_owned());
    Ok(CallingHours {
        utc_offset_minutes: hours.utc_offset_minutes,
        start_minute: minute(hours.start_minute)?,
        end_minute: minute(hours.end_minute)?,
        weekdays,
    })
}

/// The message of domain calling hours.
pub fn calling_hours_to_record(hours: &CallingHours) -> pb::CallingHoursRecord {
    pb::CallingHoursRecord {
        utc_offset_minutes: hours.utc_offset_minutes,
        start_minute: u32::from(hours.start_minute),
        end_minute: u32::from(hours.end_minute),
        weekdays: hours.weekdays.to_vec(),
    }
}

/// The domain class of a stored class (`None` for unspecified or unknown values).
pub fn caller_class_from_proto(value: i32) -> Option<CallerClass> {
    match pb::CallerClass::try_from(value).ok()? {
        pb::CallerClass::Known => Some(CallerClass::Known),
        pb::CallerClass::Vip => Some(CallerClass::Vip),
        pb::CallerClass::Elderly => Some(CallerClass::Elderly),
        pb::CallerClass::Unspecified => None,
    }
}

/// The stored class of a domain class.
pub fn caller_class_to_proto(class: Option<CallerClass>) -> pb::CallerClass {
    match class {
        Some(CallerClass::Known) => pb::CallerClass::Known,
        Some(CallerClass::Vip) => pb::CallerClass::Vip,
        Some(CallerClass::Elderly) => pb::CallerClass::Elderly,
        None => pb::CallerClass::Unspecified,
    }
}

/// The default number of tries at a menu when a message leaves it out.
const DEFAULT_MAX_ATTEMPTS: u8 = 3;

/// The message of a domain menu.
pub fn menu_to_record(menu: &IvrMenu) -> pb::IvrMenuRecord {
    use pb::ivr_node_record::Kind;
    let target = |target: &QueueTarget| pb::IvrQueueTargetRecord {
        queue_id: target.queue_id.to_string(),
        skill: text(target.skill.as_ref()),
        priority: priority_to_proto(target.priority).into(),
    };
    pb::IvrMenuRecord {
        entry_node_id: menu.entry.to_string(),
        nodes: menu
            .nodes
            .iter()
            .map(|(id, node)| pb::IvrNodeRecord {
                node_id: id.to_string(),
                kind: Some(match node {
                    IvrNode::Menu {
                        prompt,
                        choices,
                        max_attempts,
                        fallback,
                    } => Kind::Menu(pb::IvrChoiceMenuRecord {
                        prompt: prompt.clone(),
                        choices: choices
                            .iter()
                            .map(|(key, next)| (key.to_string(), next.to_string()))
                            .collect(),
                        max_attempts: u32::from(*max_attempts),
                        fallback_node_id: fallback.to_string(),
                    }),
                    IvrNode::Hours {
                        open,
                        when_open,
                        when_closed,
                    } => Kind::Hours(pb::IvrBusinessHoursRecord {
                        open: open.iter().map(calling_hours_to_record).collect(),
                        open_node_id: when_open.to_string(),
                        closed_node_id: when_closed.to_string(),
                    }),
                    IvrNode::Queue(queue) => Kind::Queue(target(queue)),
                    IvrNode::SelfService { prompt, service } => {
                        Kind::SelfService(pb::IvrSelfServiceRecord {
                            prompt: prompt.clone(),
                            service: service.to_string(),
                        })
                    }
                }),
            })
            .collect(),
        straight_to_person: menu
            .straight_to_person
            .iter()
            .map(|class| caller_class_to_proto(Some(*class)).into())
            .collect(),
        person_queue: menu.person_queue.as_ref().map(target),
    }
}

/// The domain menu of a message; `Err` lists every malformed field (the soundness checks of
/// [`IvrMenu::problems`] come after).
pub fn menu_from_record(menu: &pb::IvrMenuRecord) -> Result<IvrMenu, Vec<IvrMenuProblem>> {
    use pb::ivr_node_record::Kind;
    let mut problems = Vec::new();
    let mut id = |field: String, value: &str| match Name::new(value) {
        Ok(name) => Some(name),
        Err(error) => {
            problems.push(IvrMenuProblem {
                field,
                description: error.to_string(),
            });
            None
        }
    };
    let entry = id("entry_node_id".into(), &menu.entry_node_id);
    let mut targets = Vec::new();
    let mut nodes = BTreeMap::new();
    for (index, node) in menu.nodes.iter().enumerate() {
        // Nodes are named by their id (by their place when the id is missing).
        let label = if node.node_id.is_empty() {
            index.to_string()
        } else {
            node.node_id.clone()
        };
        let field = |rest: &str| format!("nodes.{label}.{rest}");
        let node_id = id(field("node_id"), &node.node_id);
        let decoded =
            match &node.kind {
                None => {
                    targets.push((
                        field("kind"),
                        "one of menu, hours, queue or self_service".to_owned(),
                    ));
                    None
                }
                Some(Kind::Menu(choice)) => {
                    let mut choices = BTreeMap::new();
                    for (key, next) in &choice.choices {
                        let mut chars = key.chars();
                        let single = match (chars.next(), chars.next()) {
                            (Some(key), None) => Some(key),
                            _ => {
                                targets.push((
                                    field(&format!("menu.choices.{key}")),
                                    "a choice is one key".to_owned(),
                                ));
                                None
                            }
                        };
                        let next = id(field(&format!("menu.choices.{key}")), next);
                        if let (Some(key), Some(next)) = (single, next) {
                            choices.insert(key, next);
                        }
                    }
                    let fallback = id(field("menu.fallback_node_id"), &choice.fallback_node_id);
                    let max_attempts = match choice.max_attempts {
                        0 => DEFAULT_MAX_ATTEMPTS,
                        tries => u8::try_from(tries).unwrap_or(u8::MAX),
                    };
                    fallback.map(|fallback| IvrNode::Menu {
                        prompt: choice.prompt.clone(),
                        choices,
                        max_attempts,
                        fallback,
                    })
                }
                Some(Kind::Hours(hours)) => {
                    let mut open = Vec::new();
                    for (window, hours) in hours.open.iter().enumerate() {
                        match calling_hours_from_record(hours) {
                            Ok(hours) => open.push(hours),
                            Err(reason) => {
                                targets.push((field(&format!("hours.open.{window}")), reason))
                            }
                        }
                    }
                    let when_open = id(field("hours.open_node_id"), &hours.open_node_id);
                    let when_closed = id(field("hours.closed_node_id"), &hours.closed_node_id);
                    when_open
                        .zip(when_closed)
                        .map(|(when_open, when_closed)| IvrNode::Hours {
                            open,
                            when_open,
                            when_closed,
                        })
                }
                Some(Kind::Queue(queue)) => {
                    let queue_id = id(field("queue.queue_id"), &queue.queue_id);
                    let skill = if queue.skill.is_empty() {
                        Some(None)
                    } else {
                        id(field("queue.skill"), &queue.skill).map(Some)
                    };
                    queue_id.zip(skill).map(|(queue_id, skill)| {
                        IvrNode::Queue(QueueTarget {
                            queue_id,
                            skill,
                            priority: priority_from_proto(queue.priority),
                        })
                    })
                }
                Some(Kind::SelfService(leaf)) => id(field("self_service.service"), &leaf.service)
                    .map(|service| IvrNode::SelfService {
                        prompt: leaf.prompt.clone(),
                        service,
                    }),
            };
        if let (Some(node_id), Some(decoded)) = (node_id, decoded)
            && nodes.insert(node_id.clone(), decoded).is_some()
        {
            targets.push((field("node_id"), format!("{node_id} is used twice")));
        }
    }
    let person_queue = match &menu.person_queue {
        None => Some(None),
        Some(queue) => id("person_queue.queue_id".into(), &queue.queue_id).map(|queue_id| {
            Some(QueueTarget {
                queue_id,
                skill: None,
                priority: priority_from_proto(queue.priority),
            })
        }),
    };
    let mut straight_to_person = BTreeSet::new();
    for (index, class) in menu.straight_to_person.iter().enumerate() {
        match caller_class_from_proto(*class) {
            Some(class) => {
                straight_to_person.insert(class);
            }
            None => targets.push((
                format!("straight_to_person.{index}"),
                "a caller class: known, vip or elderly".to_owned(),
            )),
        }
    }
    problems.extend(
        targets
            .into_iter()
            .map(|(field, description)| IvrMenuProblem { field, description }),
    );
    match (entry, person_queue) {
        (Some(entry), Some(person_queue)) if problems.is_empty() => Ok(IvrMenu {
            entry,
            nodes,
            straight_to_person,
            person_queue,
        }),
        _ => Err(problems),
    }
}

impl PersistedEvent for IvrMenuEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            IvrMenuEvent::Published { version, menu, at } => SCHEMA.encode(
                *at,
                &pb::IvrMenuPublished {
                    version: *version,
                    menu: Some(menu_to_record(menu)),
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let pb::ivr_menu_events::Event::IvrMenuPublished(published) = SCHEMA.decode(event)?;
        let menu = menu_from_record(&published.menu.unwrap_or_default())
            .map_err(|problems| DecodeError::new(event, format!("malformed menu: {problems:?}")))?;
        Ok(IvrMenuEvent::Published {
            version: published.version,
            menu,
            at: event.occurred_at,
        })
    }
}

impl PersistedEvent for CallerEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            CallerEvent::ClassSet { class, at } => SCHEMA.encode(
                *at,
                &pb::CallerClassSet {
                    class: caller_class_to_proto(*class).into(),
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let pb::caller_events::Event::CallerClassSet(set) = SCHEMA.decode(event)?;
        Ok(CallerEvent::ClassSet {
            class: caller_class_from_proto(set.class),
            at: event.occurred_at,
        })
    }
}

impl PersistedEvent for CallEvent {
    fn encode(&self) -> EncodedEvent {
        use CallEvent as E;
        match self {
            E::Offered {
                caller_number,
                dialled_number,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CallOffered {
                    caller_number: caller_number.as_str().to_owned(),
                    dialled_number: dialled_number.as_str().to_owned(),
                },
            ),
            E::OutboundStarted {
                customer_number,
                caller_id,
                purpose,
                agent_id,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::OutboundCallStarted {
                    customer_number: customer_number.as_str().to_owned(),
                    caller_id: caller_id.as_str().to_owned(),
                    purpose: purpose_to_proto(*purpose).into(),
                    agent_id: agent_id.to_string(),
                },
            ),
            E::NotReached { reason, at } => SCHEMA.encode(
                *at,
                &pb::CallNotReached {
                    reason: not_reached_to_proto(*reason).into(),
                },
            ),
            E::CallerClassified { class, at } => SCHEMA.encode(
                *at,
                &pb::CallCallerClassified {
                    class: caller_class_to_proto(Some(*class)).into(),
                },
            ),
            E::EnteredIvr { menu, at } => SCHEMA.encode(
                *at,
                &menu
                    .as_ref()
                    .map(|position| pb::CallEnteredIvr {
                        menu_id: position.menu.menu_id.to_string(),
                        menu_version: position.menu.version,
                        node_id: position.node_id.to_string(),
                    })
                    .unwrap_or_default(),
            ),
            E::IvrStepTaken {
                node_id,
                input,
                next_node_id,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CallIvrStepTaken {
                    node_id: node_id.clone(),
                    input: input.clone(),
                    next_node_id: text(next_node_id.as_ref()),
                },
            ),
            E::SelfServed {
                node_id,
                service,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CallSelfServed {
                    node_id: node_id.to_string(),
                    service: service.to_string(),
                },
            ),
            E::Queued {
                queue_id,
                priority,
                target_agent_id,
                required_skill,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CallQueued {
                    queue_id: queue_id.to_string(),
                    priority: priority_to_proto(*priority).into(),
                    target_agent_id: text(target_agent_id.as_ref()),
                    required_skill: text(required_skill.as_ref()),
                },
            ),
            E::Ringing { agent_id, at } => SCHEMA.encode(
                *at,
                &pb::CallRinging {
                    agent_id: agent_id.to_string(),
                },
            ),
            E::ReturnedToQueue {
                agent_id,
                missed,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CallReturnedToQueue {
                    agent_id: agent_id.to_string(),
                    missed: *missed,
                },
            ),
            E::Answered {
                agent_id,
                queue_id,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CallAnswered {
                    agent_id: agent_id.to_string(),
                    queue_id: queue_id.to_string(),
                },
            ),
            E::Held { at } => SCHEMA.encode(*at, &pb::CallHeld {}),
            E::Resumed { at } => SCHEMA.encode(*at, &pb::CallResumed {}),
            E::MaxWaitReached {
                queue_id,
                to_queue_id,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CallMaxWaitReached {
                    queue_id: queue_id.to_string(),
                    to_queue_id: to_queue_id.to_string(),
                },
            ),
            E::Transferred {
                from_agent_id,
                to_queue_id,
                to_agent_id,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CallTransferred {
                    from_agent_id: from_agent_id.to_string(),
                    to_queue_id: to_queue_id.to_string(),
                    to_agent_id: text(to_agent_id.as_ref()),
                },
            ),
            E::SupervisorJoined {
                supervisor_id,
                mode,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CallSupervisorJoined {
                    supervisor_id: supervisor_id.to_string(),
                    mode: supervision_mode_to_proto(*mode).into(),
                },
            ),
            E::SupervisorLeft { supervisor_id, at } => SCHEMA.encode(
                *at,
                &pb::CallSupervisorLeft {
                    supervisor_id: supervisor_id.to_string(),
                },
            ),
            E::Ended { ended_by, at } => SCHEMA.encode(
                *at,
                &pb::CallEnded {
                    ended_by: party_to_proto(*ended_by).into(),
                },
            ),
            E::Abandoned {
                queue_id,
                phase,
                waited_ms,
                position,
                at,
            } => SCHEMA.encode(
                *at,
                &pb::CallAbandoned {
                    queue_id: text(queue_id.as_ref()),
                    phase: match phase {
                        CallPhase::Ivr => pb::CallPhase::Ivr,
                        CallPhase::Queued => pb::CallPhase::Queued,
                        CallPhase::Ringing => pb::CallPhase::Ringing,
                    }
                    .into(),
                    waited_ms: *waited_ms,
                    position: position.unwrap_or(0),
                },
            ),
            E::DispositionSet { agent_id, code, at } => SCHEMA.encode(
                *at,
                &pb::CallDispositionSet {
                    agent_id: agent_id.to_string(),
                    code: code.to_string(),
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        use pb::call_events::Event;
        let at = event.occurred_at;
        match SCHEMA.decode(event)? {
            Event::CallOffered(offered) => Ok(CallEvent::Offered {
                caller_number: phone(event, &offered.caller_number)?,
                dialled_number: phone(event, &offered.dialled_number)?,
                at,
            }),
            Event::OutboundCallStarted(started) => Ok(CallEvent::OutboundStarted {
                customer_number: phone(event, &started.customer_number)?,
                caller_id: phone(event, &started.caller_id)?,
                purpose: purpose_from_proto(started.purpose)
                    .ok_or_else(|| DecodeError::new(event, "unknown outbound purpose"))?,
                agent_id: decode_name(event, &started.agent_id)?,
                at,
            }),
            Event::CallNotReached(not_reached) => Ok(CallEvent::NotReached {
                reason: not_reached_from_proto(not_reached.reason)
                    .ok_or_else(|| DecodeError::new(event, "unknown not-reached reason"))?,
                at,
            }),
            Event::CallCallerClassified(classified) => Ok(CallEvent::CallerClassified {
                class: caller_class_from_proto(classified.class)
                    .ok_or_else(|| DecodeError::new(event, "unknown caller class"))?,
                at,
            }),
            Event::CallEnteredIvr(entered) => {
                let menu = match optional_name(event, &entered.menu_id)? {
                    None => None,
                    Some(menu_id) => Some(IvrPosition {
                        menu: MenuRef {
                            menu_id,
                            version: entered.menu_version,
                        },
                        node_id: decode_name(event, &entered.node_id)?,
                        attempts: 0,
                    }),
                };
                Ok(CallEvent::EnteredIvr { menu, at })
            }
            Event::CallIvrStepTaken(step) => Ok(CallEvent::IvrStepTaken {
                next_node_id: optional_name(event, &step.next_node_id)?,
                node_id: step.node_id,
                input: step.input,
                at,
            }),
            Event::CallSelfServed(served) => Ok(CallEvent::SelfServed {
                node_id: decode_name(event, &served.node_id)?,
                service: decode_name(event, &served.service)?,
                at,
            }),
            Event::CallQueued(queued) => Ok(CallEvent::Queued {
                queue_id: decode_name(event, &queued.queue_id)?,
                priority: priority_from_proto(queued.priority),
                target_agent_id: optional_name(event, &queued.target_agent_id)?,
                required_skill: optional_name(event, &queued.required_skill)?,
                at,
            }),
            Event::CallRinging(ringing) => Ok(CallEvent::Ringing {
                agent_id: decode_name(event, &ringing.agent_id)?,
                at,
            }),
            Event::CallReturnedToQueue(returned) => Ok(CallEvent::ReturnedToQueue {
                agent_id: decode_name(event, &returned.agent_id)?,
                missed: returned.missed,
                at,
            }),
            Event::CallAnswered(answered) => Ok(CallEvent::Answered {
                agent_id: decode_name(event, &answered.agent_id)?,
                queue_id: decode_name(event, &answered.queue_id)?,
                at,
            }),
            Event::CallHeld(_) => Ok(CallEvent::Held { at }),
            Event::CallResumed(_) => Ok(CallEvent::Resumed { at }),
            Event::CallMaxWaitReached(reached) => Ok(CallEvent::MaxWaitReached {
                queue_id: decode_name(event, &reached.queue_id)?,
                to_queue_id: decode_name(event, &reached.to_queue_id)?,
                at,
            }),
            Event::CallTransferred(transferred) => Ok(CallEvent::Transferred {
                from_agent_id: decode_name(event, &transferred.from_agent_id)?,
                to_queue_id: decode_name(event, &transferred.to_queue_id)?,
                to_agent_id: optional_name(event, &transferred.to_agent_id)?,
                at,
            }),
            Event::CallSupervisorJoined(joined) => Ok(CallEvent::SupervisorJoined {
                supervisor_id: decode_name(event, &joined.supervisor_id)?,
                mode: supervision_mode_from_proto(joined.mode)
                    .ok_or_else(|| DecodeError::new(event, "unknown supervision mode"))?,
                at,
            }),
            Event::CallSupervisorLeft(left) => Ok(CallEvent::SupervisorLeft {
                supervisor_id: decode_name(event, &left.supervisor_id)?,
                at,
            }),
            Event::CallEnded(ended) => Ok(CallEvent::Ended {
                ended_by: party_from_proto(ended.ended_by),
                at,
            }),
            Event::CallAbandoned(abandoned) => {
                let phase = match pb::CallPhase::try_from(abandoned.phase) {
                    Ok(pb::CallPhase::Ringing) => CallPhase::Ringing,
                    Ok(pb::CallPhase::Ivr) => CallPhase::Ivr,
                    _ => CallPhase::Queued,
                };
                Ok(CallEvent::Abandoned {
                    queue_id: optional_name(event, &abandoned.queue_id)?,
                    phase,
                    waited_ms: abandoned.waited_ms,
                    position: (abandoned.position > 0).then_some(abandoned.position),
                    at,
                })
            }
            Event::CallDispositionSet(set) => Ok(CallEvent::DispositionSet {
                agent_id: decode_name(event, &set.agent_id)?,
                code: decode_name(event, &set.code)?,
                at,
            }),
        }
    }
}

impl PersistedEvent for NumberEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            NumberEvent::Assigned { route, at } => SCHEMA.encode(
                *at,
                &match route {
                    NumberRoute::Queue(queue_id) => pb::NumberAssigned {
                        queue_id: queue_id.to_string(),
                        ..Default::default()
                    },
                    NumberRoute::Menu(menu_id) => pb::NumberAssigned {
                        ivr_menu_id: menu_id.to_string(),
                        ..Default::default()
                    },
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let pb::number_events::Event::NumberAssigned(assigned) = SCHEMA.decode(event)?;
        let route = if assigned.ivr_menu_id.is_empty() {
            NumberRoute::Queue(decode_name(event, &assigned.queue_id)?)
        } else {
            NumberRoute::Menu(decode_name(event, &assigned.ivr_menu_id)?)
        };
        Ok(NumberEvent::Assigned {
            route,
            at: event.occurred_at,
        })
    }
}

impl PersistedEvent for NumberClaimEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            NumberClaimEvent::Claimed { tenant, at } => SCHEMA.encode(
                *at,
                &pb::NumberClaimed {
                    tenant: tenant.to_string(),
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let pb::number_claim_events::Event::NumberClaimed(claimed) = SCHEMA.decode(event)?;
        Ok(NumberClaimEvent::Claimed {
            tenant: decode_name(event, &claimed.tenant)?,
            at: event.occurred_at,
        })
    }
}

/// The domain fact of a stored (or reported) fact; `Err` names the field that is wrong.
pub fn fact_from_record(
    fact: &pb::ReportedCallFactRecord,
) -> Result<ReportedFact, (String, String)> {
    use pb::reported_call_fact_record::Fact;
    let id = |field: &str, value: &str| {
        Name::new(value).map_err(|_| {
            (
                field.to_owned(),
                "expected 1 to 64 characters of A-Z a-z 0-9 _ -".to_owned(),
            )
        })
    };
    let number = |field: &str, value: &str| {
        PhoneNumber::parse(value).map_err(|reason| (field.to_owned(), reason))
    };
    Ok(match &fact.fact {
        None => return Err(("fact".into(), "is required".into())),
        Some(Fact::Offered(offered)) => ReportedFact::Offered {
            caller_number: number("fact.offered.caller_number", &offered.caller_number)?,
            dialled_number: number("fact.offered.dialled_number", &offered.dialled_number)?,
        },
        Some(Fact::IvrStep(step)) => ReportedFact::IvrStep {
            node_id: step.node_id.clone(),
            input: step.input.clone(),
        },
        Some(Fact::Queued(queued)) => ReportedFact::Queued {
            queue_id: id("fact.queued.queue_id", &queued.queue_id)?,
            priority: priority_from_proto(queued.priority),
        },
        Some(Fact::Ringing(ringing)) => ReportedFact::Ringing {
            agent_id: id("fact.ringing.agent_id", &ringing.agent_id)?,
        },
        Some(Fact::Answered(answered)) => ReportedFact::Answered {
            agent_id: id("fact.answered.agent_id", &answered.agent_id)?,
        },
        Some(Fact::Held(_)) => ReportedFact::Held,
        Some(Fact::Resumed(_)) => ReportedFact::Resumed,
        Some(Fact::Transferred(transferred)) => ReportedFact::Transferred {
            to_queue_id: id("fact.transferred.to_queue_id", &transferred.to_queue_id)?,
            to_agent_id: (!transferred.to_agent_id.is_empty())
                .then(|| id("fact.transferred.to_agent_id", &transferred.to_agent_id))
                .transpose()?,
        },
        Some(Fact::Abandoned(abandoned)) => ReportedFact::Abandoned {
            position: (abandoned.position > 0).then_some(abandoned.position),
        },
        Some(Fact::Ended(ended)) => ReportedFact::Ended {
            ended_by: party_from_proto(ended.ended_by),
        },
    })
}

/// The stored message of a domain fact.
pub fn fact_to_record(fact: &ReportedFact) -> pb::ReportedCallFactRecord {
    use pb::reported_call_fact_record::{self as f, Fact};
    let fact = match fact {
        ReportedFact::Offered {
            caller_number,
            dialled_number,
        } => Fact::Offered(f::Offered {
            caller_number: caller_number.as_str().to_owned(),
            dialled_number: dialled_number.as_str().to_owned(),
        }),
        ReportedFact::IvrStep { node_id, input } => Fact::IvrStep(f::IvrStep {
            node_id: node_id.clone(),
            input: input.clone(),
        }),
        ReportedFact::Queued { queue_id, priority } => Fact::Queued(f::Queued {
            queue_id: queue_id.to_string(),
            priority: priority_to_proto(*priority).into(),
        }),
        ReportedFact::Ringing { agent_id } => Fact::Ringing(f::Ringing {
            agent_id: agent_id.to_string(),
        }),
        ReportedFact::Answered { agent_id } => Fact::Answered(f::Answered {
            agent_id: agent_id.to_string(),
        }),
        ReportedFact::Held => Fact::Held(f::Held {}),
        ReportedFact::Resumed => Fact::Resumed(f::Resumed {}),
        ReportedFact::Transferred {
            to_queue_id,
            to_agent_id,
        } => Fact::Transferred(f::Transferred {
            to_queue_id: to_queue_id.to_string(),
            to_agent_id: text(to_agent_id.as_ref()),
        }),
        ReportedFact::Abandoned { position } => Fact::Abandoned(f::Abandoned {
            position: position.unwrap_or(0),
        }),
        ReportedFact::Ended { ended_by } => Fact::Ended(f::Ended {
            ended_by: party_to_proto(*ended_by).into(),
        }),
    };
    pb::ReportedCallFactRecord { fact: Some(fact) }
}

impl PersistedEvent for ReportedCallEvent {
    fn encode(&self) -> EncodedEvent {
        let ReportedCallEvent::Recorded(event) = self;
        SCHEMA.encode(
            event.occurred_at,
            &pb::PartnerCallEventRecorded {
                event_id: event.event_id.clone(),
                fact: Some(fact_to_record(&event.fact)),
            },
        )
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let pb::reported_call_events::Event::PartnerCallEventRecorded(recorded) =
            SCHEMA.decode(event)?;
        let fact = recorded
            .fact
            .as_ref()
            .ok_or_else(|| DecodeError::new(event, "a recorded partner event without its fact"))
            .and_then(|fact| {
                fact_from_record(fact).map_err(|(field, reason)| {
                    DecodeError::new(event, format!("{field}: {reason}"))
                })
            })?;
        Ok(ReportedCallEvent::Recorded(PartnerEvent {
            event_id: recorded.event_id,
            occurred_at: event.occurred_at,
            fact,
        }))
    }
}

impl PersistedEvent for OutboundPolicyEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            OutboundPolicyEvent::DoNotCallAdded { number, at } => SCHEMA.encode(
                *at,
                &pb::DoNotCallAdded {
                    number: number.as_str().to_owned(),
                },
            ),
            OutboundPolicyEvent::DoNotCallRemoved { number, at } => SCHEMA.encode(
                *at,
                &pb::DoNotCallRemoved {
                    number: number.as_str().to_owned(),
                },
            ),
            OutboundPolicyEvent::CallingHoursSet { hours, at } => SCHEMA.encode(
                *at,
                &pb::CallingHoursSet {
                    hours: hours.as_ref().map(calling_hours_to_record),
                },
            ),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        use pb::outbound_policy_events::Event;
        let at = event.occurred_at;
        match SCHEMA.decode(event)? {
            Event::DoNotCallAdded(added) => Ok(OutboundPolicyEvent::DoNotCallAdded {
                number: phone(event, &added.number)?,
                at,
            }),
            Event::DoNotCallRemoved(removed) => Ok(OutboundPolicyEvent::DoNotCallRemoved {
                number: phone(event, &removed.number)?,
                at,
            }),
            Event::CallingHoursSet(set) => {
                let hours = set
                    .hours
                    .as_ref()
                    .map(calling_hours_from_record)
                    .transpose()
                    .map_err(|reason| DecodeError::new(event, reason))?;
                Ok(OutboundPolicyEvent::CallingHoursSet { hours, at })
            }
        }
    }
}
