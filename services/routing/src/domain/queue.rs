//! A queue: where calls wait for agents, in one center, and the rules that route its calls
//! (DOMAIN.md §3): required skills with a minimum proficiency, time-based widening to lower
//! proficiency, overflow to other queues (of any center of the tenant), the queue's priority,
//! its service-level target and maximum wait, and how long a repeat caller waits for their owner.
//!
//! A queue belongs to one **routing domain** of its tenant for good (set when it is created):
//! its calls are routed with the agents of that domain only, and it overflows only to queues of
//! the same domain.

use std::collections::BTreeMap;

use callcenter_kit::{Aggregate, Name, Timestamp};

/// Highest skill proficiency.
pub const MAX_PROFICIENCY: u8 = 5;

/// After `after_seconds` of waiting, agents with at least `min_proficiency` in each required
/// skill may take the call, and the skills in `drop_skills` are no longer required (a wider skill
/// set) — Amazon Connect's routing steps, Genesys's bullseye rings.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WideningStep {
    /// Seconds waited.
    pub after_seconds: u32,
    /// The lowered minimum (1 to 5).
    pub min_proficiency: u8,
    /// Required skills no longer required from this step on.
    pub drop_skills: std::collections::BTreeSet<Name>,
}

/// After `after_seconds` of waiting, agents of another queue (in any center of the tenant) may
/// take the call too.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OverflowStep {
    /// Seconds waited.
    pub after_seconds: u32,
    /// The queue whose agents join.
    pub queue_id: Name,
}

/// How a queue's calls are routed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueRouting {
    /// Calls of queues with a higher priority go first (0 to 9).
    pub priority: u8,
    /// Skill → minimum proficiency (1 to 5); empty: the queue's members take its calls.
    pub required_skills: BTreeMap<Name, u8>,
    /// Lower minimums as the call waits, in order of time.
    pub widening: Vec<WideningStep>,
    /// Other queues whose agents join as the call waits, in order of time.
    pub overflow: Vec<OverflowStep>,
    /// Service-level target: this percentage of calls answered within `service_level_seconds`.
    pub service_level_percent: u8,
    /// See `service_level_percent`.
    pub service_level_seconds: u32,
    /// The longest a caller should wait (0: no limit); shown in the queue view.
    pub max_wait_seconds: u32,
    /// Where a call goes when it has waited `max_wait_seconds` (telephony moves it: any queue of
    /// the tenant, in any center or routing domain); `None`: it stays.
    pub max_wait_queue_id: Option<Name>,
    /// How long a repeat caller's call waits for the agent who owns them before others may
    /// take it (first-contact ownership; 0: no stickiness).
    pub sticky_seconds: u32,
}

impl QueueRouting {
    /// The minimum proficiency a call that waited `waited_ms` needs, per required skill.
    pub fn required_at(&self, waited_ms: i64) -> BTreeMap<Name, u8> {
        let passed = || {
            self.widening
                .iter()
                .filter(move |step| i64::from(step.after_seconds) * 1000 <= waited_ms)
        };
        let floor = passed().map(|step| step.min_proficiency).min();
        self.required_skills
            .iter()
            .filter(|(skill, _)| !passed().any(|step| step.drop_skills.contains(*skill)))
            .map(|(skill, level)| {
                (
                    skill.clone(),
                    floor.map_or(*level, |floor| floor.min(*level)),
                )
            })
            .collect()
    }

    /// The overflow queues open to a call that waited `waited_ms`.
    pub fn overflow_at(&self, waited_ms: i64) -> impl Iterator<Item = &Name> {
        self.overflow
            .iter()
            .filter(move |step| i64::from(step.after_seconds) * 1000 <= waited_ms)
            .map(|step| &step.queue_id)
    }

    /// What is wrong with the rules, if anything; `queue_id` is the queue they are for.
    pub fn problem(&self, queue_id: &Name) -> Option<String> {
        if self.priority > 9 {
            return Some("priority: 0 to 9".into());
        }
        if let Some((skill, _)) = self
            .required_skills
            .iter()
            .find(|(_, level)| !(1..=MAX_PROFICIENCY).contains(*level))
        {
            return Some(format!("required_skills.{skill}: proficiency 1 to 5"));
        }
        if self.widening.windows(2).any(|pair| {
            pair[0].after_seconds >= pair[1].after_seconds
                || pair[0].min_proficiency < pair[1].min_proficiency
                || (pair[0].min_proficiency == pair[1].min_proficiency
                    && pair[1].drop_skills.is_empty())
        }) {
            return Some(
                "widening: steps later in time, each lowering the minimum or dropping skills"
                    .into(),
            );
        }
        if let Some(skill) = self
            .widening
            .iter()
            .flat_map(|step| &step.drop_skills)
            .find(|skill| !self.required_skills.contains_key(*skill))
        {
            return Some(format!("widening: {skill} is not a required skill"));
        }
        if self
            .widening
            .iter()
            .any(|step| !(1..=MAX_PROFICIENCY).contains(&step.min_proficiency))
        {
            return Some("widening: proficiency 1 to 5".into());
        }
        if !self.widening.is_empty() && self.required_skills.is_empty() {
            return Some("widening needs required skills".into());
        }
        if self.overflow.iter().any(|step| &step.queue_id == queue_id) {
            return Some("overflow: a queue cannot overflow to itself".into());
        }
        if let Some(exit) = &self.max_wait_queue_id {
            if exit == queue_id {
                return Some("max_wait_queue_id: a queue cannot send calls to itself".into());
            }
            if self.max_wait_seconds == 0 {
                return Some("max_wait_queue_id needs max_wait_seconds".into());
            }
        }
        if self.service_level_percent > 100 {
            return Some("service_level_percent: 0 to 100".into());
        }
        None
    }
}

/// A queue definition.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Queue {
    /// Set once created.
    pub definition: Option<QueueDefinition>,
}

/// What a queue is.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueueDefinition {
    /// Its name for people.
    pub display_name: String,
    /// The center it belongs to.
    pub center_id: Name,
    /// The most after-call work after a call from this queue, in seconds; 0: none.
    pub after_call_work_seconds: u32,
    /// The routing domain within the tenant (`None`: the tenant's default domain).
    pub routing_domain: Option<Name>,
    /// How its calls are routed.
    pub routing: QueueRouting,
}

/// The longest after-call work a queue may allow (one hour).
pub const MAX_AFTER_CALL_WORK_SECONDS: u32 = 3_600;

/// What can be asked of a queue.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueCommand {
    /// Defines the queue.
    Create {
        /// Its name for people.
        display_name: String,
        /// The center.
        center_id: Name,
        /// After-call work allowed, in seconds (0 to [`MAX_AFTER_CALL_WORK_SECONDS`]).
        after_call_work_seconds: u32,
        /// The routing domain (`None`: the tenant's default); it never changes.
        routing_domain: Option<Name>,
        /// When.
        at: Timestamp,
    },
    /// Sets how its calls are routed; overflow queues must exist (the caller checks).
    SetRouting {
        /// The rules.
        routing: QueueRouting,
        /// When.
        at: Timestamp,
    },
}

/// What a queue records.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueEvent {
    /// The queue exists.
    Created {
        /// Its name for people.
        display_name: String,
        /// The center.
        center_id: Name,
        /// After-call work allowed, in seconds.
        after_call_work_seconds: u32,
        /// The routing domain (`None`: the tenant's default).
        routing_domain: Option<Name>,
        /// When.
        at: Timestamp,
    },
    /// The routing rules changed.
    RoutingSet {
        /// The rules.
        routing: QueueRouting,
        /// When.
        at: Timestamp,
    },
}

/// Why a queue refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The id is taken by a different definition.
    #[error("queue already exists with another definition")]
    AlreadyExists,
    /// The queue was never created.
    #[error("queue not found")]
    NotFound,
    /// The routing rules are unsound.
    #[error("invalid routing rules: {0}")]
    InvalidRouting(String),
}

impl Aggregate for Queue {
    const CONTEXT: &'static str = "routing";
    const TYPE: &'static str = "queue";
    type Command = QueueCommand;
    type Event = QueueEvent;
    type Error = QueueError;

    fn decide(&self, command: &QueueCommand) -> Result<Vec<QueueEvent>, QueueError> {
        match command {
            QueueCommand::Create {
                display_name,
                center_id,
                after_call_work_seconds,
                routing_domain,
                at,
            } => match &self.definition {
                None => Ok(vec![QueueEvent::Created {
                    display_name: display_name.clone(),
                    center_id: center_id.clone(),
                    after_call_work_seconds: (*after_call_work_seconds)
                        .min(MAX_AFTER_CALL_WORK_SECONDS),
                    routing_domain: routing_domain.clone(),
                    at: *at,
                }]),
                Some(existing)
                    if existing.display_name == *display_name
                        && existing.center_id == *center_id
                        && existing.after_call_work_seconds == *after_call_work_seconds
                        && existing.routing_domain == *routing_domain =>
                {
                    Ok(vec![])
                }
                Some(_) => Err(QueueError::AlreadyExists),
            },
            QueueCommand::SetRouting { routing, at } => {
                let Some(definition) = &self.definition else {
                    return Err(QueueError::NotFound);
                };
                if definition.routing == *routing {
                    return Ok(vec![]);
                }
                Ok(vec![QueueEvent::RoutingSet {
                    routing: routing.clone(),
                    at: *at,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &QueueEvent) {
        match event {
            QueueEvent::Created {
                display_name,
                center_id,
                after_call_work_seconds,
                routing_domain,
                ..
            } => {
                self.definition = Some(QueueDefinition {
                    display_name: display_name.clone(),
                    center_id: center_id.clone(),
                    after_call_work_seconds: *after_call_work_seconds,
                    routing_domain: routing_domain.clone(),
                    routing: QueueRouting::default(),
                });
            }
            QueueEvent::RoutingSet { routing, .. } => {
                if let Some(definition) = &mut self.definition {
                    definition.routing = routing.clone();
                }
            }
        }
    }
}
