//! The API's own messages for what events also store (calling hours, voice menus, reported
//! facts): the gRPC layer maps them to and from the domain here, so that the API and the stored
//! events can change apart. Checks live once, in the stored schema's decoders: an API message is
//! first put in its stored shape, which the decoder then checks.

use callcenter_proto::telephony::v1 as pb;

use crate::domain::{CallingHours, IvrMenu, IvrMenuProblem, ReportedFact};
use crate::events::{
    calling_hours_from_record, calling_hours_to_record, fact_from_record, menu_from_record,
    menu_to_record,
};

/// The stored shape of API calling hours.
fn hours_record(hours: &pb::CallingHours) -> pb::CallingHoursRecord {
    pb::CallingHoursRecord {
        utc_offset_minutes: hours.utc_offset_minutes,
        start_minute: hours.start_minute,
        end_minute: hours.end_minute,
        weekdays: hours.weekdays.clone(),
    }
}

/// The API shape of stored calling hours.
fn hours_api(hours: pb::CallingHoursRecord) -> pb::CallingHours {
    pb::CallingHours {
        utc_offset_minutes: hours.utc_offset_minutes,
        start_minute: hours.start_minute,
        end_minute: hours.end_minute,
        weekdays: hours.weekdays,
    }
}

/// The domain calling hours of an API message; `Err` says what is malformed.
pub fn calling_hours_from_api(hours: &pb::CallingHours) -> Result<CallingHours, String> {
    calling_hours_from_record(&hours_record(hours))
}

/// The API message of domain calling hours.
pub fn calling_hours_to_api(hours: &CallingHours) -> pb::CallingHours {
    hours_api(calling_hours_to_record(hours))
}

fn target_record(target: &pb::IvrQueueTarget) -> pb::IvrQueueTargetRecord {
    pb::IvrQueueTargetRecord {
        queue_id: target.queue_id.clone(),
        skill: target.skill.clone(),
        priority: target.priority,
    }
}

fn target_api(target: pb::IvrQueueTargetRecord) -> pb::IvrQueueTarget {
    pb::IvrQueueTarget {
        queue_id: target.queue_id,
        skill: target.skill,
        priority: target.priority,
    }
}

/// The domain menu of an API menu; `Err` lists every malformed field (the soundness checks of
/// [`IvrMenu::problems`] come after).
pub fn menu_from_api(menu: &pb::IvrMenu) -> Result<IvrMenu, Vec<IvrMenuProblem>> {
    use pb::ivr_node::Kind;
    use pb::ivr_node_record::Kind as Stored;
    let mut ids: Vec<&String> = menu.nodes.keys().collect();
    ids.sort();
    let nodes = ids
        .into_iter()
        .map(|node_id| pb::IvrNodeRecord {
            node_id: node_id.clone(),
            kind: menu.nodes[node_id].kind.as_ref().map(|kind| match kind {
                Kind::Menu(choice) => Stored::Menu(pb::IvrChoiceMenuRecord {
                    prompt: choice.prompt.clone(),
                    choices: choice.choices.clone(),
                    max_attempts: choice.max_attempts,
                    fallback_node_id: choice.fallback_node_id.clone(),
                }),
                Kind::Hours(hours) => Stored::Hours(pb::IvrBusinessHoursRecord {
                    open: hours.open.iter().map(hours_record).collect(),
                    open_node_id: hours.open_node_id.clone(),
                    closed_node_id: hours.closed_node_id.clone(),
                }),
                Kind::Queue(target) => Stored::Queue(target_record(target)),
                Kind::SelfService(leaf) => Stored::SelfService(pb::IvrSelfServiceRecord {
                    prompt: leaf.prompt.clone(),
                    service: leaf.service.clone(),
                }),
            }),
        })
        .collect();
    menu_from_record(&pb::IvrMenuRecord {
        entry_node_id: menu.entry_node_id.clone(),
        nodes,
        straight_to_person: menu.straight_to_person.clone(),
        person_queue: menu.person_queue.as_ref().map(target_record),
    })
}

/// The API message of a domain menu.
pub fn menu_to_api(menu: &IvrMenu) -> pb::IvrMenu {
    use pb::ivr_node::Kind;
    use pb::ivr_node_record::Kind as Stored;
    let record = menu_to_record(menu);
    let nodes = record
        .nodes
        .into_iter()
        .map(|node| {
            let kind = node.kind.map(|kind| match kind {
                Stored::Menu(choice) => Kind::Menu(pb::IvrChoiceMenu {
                    prompt: choice.prompt,
                    choices: choice.choices,
                    max_attempts: choice.max_attempts,
                    fallback_node_id: choice.fallback_node_id,
                }),
                Stored::Hours(hours) => Kind::Hours(pb::IvrBusinessHours {
                    open: hours.open.into_iter().map(hours_api).collect(),
                    open_node_id: hours.open_node_id,
                    closed_node_id: hours.closed_node_id,
                }),
                Stored::Queue(target) => Kind::Queue(target_api(target)),
                Stored::SelfService(leaf) => Kind::SelfService(pb::IvrSelfService {
                    prompt: leaf.prompt,
                    service: leaf.service,
                }),
            });
            (node.node_id, pb::IvrNode { kind })
        })
        .collect();
    pb::IvrMenu {
        entry_node_id: record.entry_node_id,
        nodes,
        straight_to_person: record.straight_to_person,
        person_queue: record.person_queue.map(target_api),
    }
}

/// The domain fact of a partner's reported fact; `Err` names the field that is wrong.
pub fn fact_from_api(fact: &pb::PartnerCallFact) -> Result<ReportedFact, (String, String)> {
    use pb::partner_call_fact::Fact;
    use pb::reported_call_fact_record::{self as stored, Fact as Stored};
    let fact = fact.fact.as_ref().map(|fact| match fact {
        Fact::Offered(offered) => Stored::Offered(stored::Offered {
            caller_number: offered.caller_number.clone(),
            dialled_number: offered.dialled_number.clone(),
        }),
        Fact::IvrStep(step) => Stored::IvrStep(stored::IvrStep {
            node_id: step.node_id.clone(),
            input: step.input.clone(),
        }),
        Fact::Queued(queued) => Stored::Queued(stored::Queued {
            queue_id: queued.queue_id.clone(),
            priority: queued.priority,
        }),
        Fact::Ringing(ringing) => Stored::Ringing(stored::Ringing {
            agent_id: ringing.agent_id.clone(),
        }),
        Fact::Answered(answered) => Stored::Answered(stored::Answered {
            agent_id: answered.agent_id.clone(),
        }),
        Fact::Held(_) => Stored::Held(stored::Held {}),
        Fact::Resumed(_) => Stored::Resumed(stored::Resumed {}),
        Fact::Transferred(transferred) => Stored::Transferred(stored::Transferred {
            to_queue_id: transferred.to_queue_id.clone(),
            to_agent_id: transferred.to_agent_id.clone(),
        }),
        Fact::Abandoned(abandoned) => Stored::Abandoned(stored::Abandoned {
            position: abandoned.position,
        }),
        Fact::Ended(ended) => Stored::Ended(stored::Ended {
            ended_by: ended.ended_by,
        }),
    });
    fact_from_record(&pb::ReportedCallFactRecord { fact })
}
