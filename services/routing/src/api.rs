//! The API's own messages for what events also store (a queue's routing rules): the gRPC layer
//! maps them to and from the domain here, so that the API and the stored events can change
//! apart. Checks live once, in the stored schema's decoder: an API message is first put in its
//! stored shape, which the decoder then checks.

use callcenter_proto::routing::v1 as pb;

use crate::domain::QueueRouting;
use crate::events::{routing_from_record, routing_to_record};

/// The domain routing rules of an API message; `Err` names the field that is malformed.
pub fn routing_from_api(routing: &pb::QueueRouting) -> Result<QueueRouting, (String, String)> {
    routing_from_record(&pb::QueueRoutingRecord {
        priority: routing.priority,
        required_skills: routing.required_skills.clone(),
        widening: routing
            .widening
            .iter()
            .map(|step| pb::WideningStepRecord {
                after_seconds: step.after_seconds,
                min_proficiency: step.min_proficiency,
                drop_skills: step.drop_skills.clone(),
            })
            .collect(),
        overflow: routing
            .overflow
            .iter()
            .map(|step| pb::OverflowStepRecord {
                after_seconds: step.after_seconds,
                queue_id: step.queue_id.clone(),
            })
            .collect(),
        service_level_percent: routing.service_level_percent,
        service_level_seconds: routing.service_level_seconds,
        max_wait_seconds: routing.max_wait_seconds,
        sticky_seconds: routing.sticky_seconds,
        max_wait_queue_id: routing.max_wait_queue_id.clone(),
    })
}

/// The API message of domain routing rules.
pub fn routing_to_api(routing: &QueueRouting) -> pb::QueueRouting {
    let record = routing_to_record(routing);
    pb::QueueRouting {
        priority: record.priority,
        required_skills: record.required_skills,
        widening: record
            .widening
            .into_iter()
            .map(|step| pb::WideningStep {
                after_seconds: step.after_seconds,
                min_proficiency: step.min_proficiency,
                drop_skills: step.drop_skills,
            })
            .collect(),
        overflow: record
            .overflow
            .into_iter()
            .map(|step| pb::OverflowStep {
                after_seconds: step.after_seconds,
                queue_id: step.queue_id,
            })
            .collect(),
        service_level_percent: record.service_level_percent,
        service_level_seconds: record.service_level_seconds,
        max_wait_seconds: record.max_wait_seconds,
        sticky_seconds: record.sticky_seconds,
        max_wait_queue_id: record.max_wait_queue_id,
    }
}
