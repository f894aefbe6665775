//! The router: which waiting call goes to which ready agent (DOMAIN.md §3), decided from state,
//! not from single events.
//!
//! The router folds call and agent events into a view of every tenant's waiting calls and agents
//! and, from that view alone, derives the actions that bring agents in line with their calls:
//! reserve a ready agent for a waiting call, release a reservation whose call went away, start or
//! end an agent's call when the call was answered or ended. Because actions come from state, a
//! replay after a restart decides exactly what is still missing, whatever order events arrived in.
//!
//! Rules:
//! - **order of calls**: emergency calls first (DOMAIN.md §3), then calls of queues with a higher
//!   priority, then the call that has waited longest (a call that rang unanswered keeps its
//!   place). Calls are served in that order across all queues, each taking its best agent: this
//!   is also how an agent of several queues is arbitrated, deterministically;
//! - **which agents**: a call transferred to one agent waits for that agent only; a repeat
//!   caller's call waits for their owner for the queue's `sticky_seconds` (first-contact
//!   ownership), then goes to anyone: the owner of the caller's open case (the one opened last,
//!   see [`super::case`]), or else the agent who answered them last (within
//!   [`OWNER_WINDOW_MS`]); otherwise the
//!   queue's required skills at their minimum proficiency (lowered by **time-based widening** as
//!   the call waits), or the queue's members when it requires none; and, as the call waits, the
//!   agents of its **overflow** queues, in any center of the tenant;
//! - **best agent**: the queue's own agents before overflow agents, then the highest total
//!   proficiency in the required skills, then the longest idle, then the smaller agent id. Every
//!   reservation records why: the rule and the candidates;
//! - an agent with an action in flight is not given another; tenants never share agents;
//! - a reservation whose call went away (abandoned, answered elsewhere, back in the queue) is
//!   released, and an agent whose call ended or was transferred away is freed into the queue's
//!   after-call work; a ring the agent missed (three rings) leaves the agent not ready "missed";
//! - an agent still in after-call work at the queue's limit is made ready (the overrun recorded).

use std::collections::{BTreeMap, BTreeSet};

use callcenter_kit::{Aggregate, Name, TenantId, Timestamp};

use super::agent::{Agent, AgentEvent, Presence, Why};
use super::queue::{QueueDefinition, QueueEvent, QueueRouting};

/// How long the agent who answered a caller stays their owner for sticky routing (72 hours).
pub const OWNER_WINDOW_MS: i64 = 72 * 3_600_000;

/// An agent or call of one tenant.
pub type Key = (TenantId, Name);

/// How urgent a waiting call is, as routing orders them.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum CallPriority {
    /// An ordinary call.
    #[default]
    Normal,
    /// An emergency: before every normal call.
    Emergency,
}

/// What the router knows about a call.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct CallEntry {
    queue_id: Name,
    arrival: u64,
    priority: CallPriority,
    /// When it entered the queue.
    queued_at: Timestamp,
    /// Who calls, when known.
    caller: Option<String>,
    /// The one agent the call waits for (a transfer to that agent).
    target_agent_id: Option<Name>,
    /// A skill the call itself asks for (chosen in the voice menu).
    required_skill: Option<Name>,
    status: CallStatus,
    /// The agent at whom the call last rang unanswered until it gave up.
    missed_by: Option<Name>,
    /// The agent who answered it last (kept once it is over).
    answered_by: Option<Name>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum CallStatus {
    /// Waiting for an agent.
    Waiting,
    /// An agent is reserved for it.
    Assigned(Name),
    /// An agent answered it.
    Answered(Name),
    /// Ended or abandoned.
    Finished,
}

/// One thing to do to an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// The agent's tenant.
    pub tenant: TenantId,
    /// The agent.
    pub agent_id: Name,
    /// The agent's version the decision was made on (part of the command's request id, so that
    /// a decision retried after a restart is recognised, and a new decision is not).
    pub agent_version: u64,
    /// What to do.
    pub kind: ActionKind,
}

impl ActionKind {
    /// What kind of action it is, in a word.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Reserve { .. } => "reserve",
            ActionKind::Release { .. } => "release",
            ActionKind::StartCall { .. } => "start",
            ActionKind::EndCall { .. } => "end",
            ActionKind::ExpireAfterCallWork { .. } => "expire_acw",
        }
    }

    /// The call the action is about.
    pub fn call_id(&self) -> &Name {
        match self {
            ActionKind::Reserve { call_id, .. }
            | ActionKind::Release { call_id, .. }
            | ActionKind::StartCall { call_id }
            | ActionKind::EndCall { call_id, .. }
            | ActionKind::ExpireAfterCallWork { call_id } => call_id,
        }
    }
}

impl Action {
    /// The idempotency key of the command that carries out this action.
    pub fn request_id(&self) -> String {
        let (kind, call_id) = match &self.kind {
            ActionKind::ExpireAfterCallWork { call_id } => ("expire-acw", call_id),
            other => (other.name(), other.call_id()),
        };
        format!(
            "router-{}-v{}-{kind}-{call_id}",
            self.agent_id, self.agent_version
        )
    }
}

/// The kinds of [`Action`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// Reserve the agent for a waiting call.
    Reserve {
        /// The call.
        call_id: Name,
        /// Its queue.
        queue_id: Name,
        /// Whether the agent was chosen by a rule other than queue membership.
        directed: bool,
        /// Why.
        why: Why,
    },
    /// Release the agent's reservation: the call went away.
    Release {
        /// The call.
        call_id: Name,
        /// Whether it rang at the agent unanswered until it gave up.
        missed: bool,
    },
    /// The agent answered the reserved call.
    StartCall {
        /// The call.
        call_id: Name,
    },
    /// The agent's call ended.
    EndCall {
        /// The call.
        call_id: Name,
        /// The queue it came from (its after-call work limit applies).
        queue_id: Name,
    },
    /// The agent's after-call work reached the queue's limit.
    ExpireAfterCallWork {
        /// The call wrapped up.
        call_id: Name,
    },
}

/// The router's view of every tenant's calls and agents.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Router {
    calls: BTreeMap<Key, CallEntry>,
    agents: BTreeMap<Key, Agent>,
    agent_versions: BTreeMap<Key, u64>,
    arrivals: u64,
    /// Decisions being carried out (kept out of snapshots: a restored router decides again).
    #[serde(skip)]
    in_flight: BTreeSet<Key>,
    queues: BTreeMap<Key, QueueDefinition>,
    /// Caller number of a tenant → the agent who answered them last, and when.
    owners: BTreeMap<(TenantId, String), (Name, Timestamp)>,
    /// Open cases: caller number and owner, and the order they were opened in.
    cases: BTreeMap<Key, (String, Name, u64)>,
    /// Caller number of a tenant → their open cases, in the order opened.
    cases_by_caller: BTreeMap<(TenantId, String), BTreeSet<(u64, Name)>>,
    cases_opened: u64,
    /// Caller numbers of offered calls not yet queued.
    callers: BTreeMap<Key, String>,
    /// Ready agents by (tenant, queue served), longest idle first: where candidates for a queue
    /// are found.
    ready_by_queue: BTreeMap<Key, BTreeSet<Ranked>>,
    /// Ready agents by (tenant, skill held), most proficient first, then longest idle.
    ready_by_skill: BTreeMap<Key, BTreeSet<Ranked>>,
    /// Agents whose presence may need an action (reserved, on a call, in after-call work).
    attended: BTreeSet<Key>,
    /// Calls waiting for an agent.
    waiting: BTreeSet<Key>,
    /// Agents in after-call work, by when it ends.
    after_call_work: BTreeSet<(Timestamp, Key)>,
    /// The attended agents [`Router::decide`] looks at: those whose own state or whose call
    /// changed since [`Router::reviewed`] (`None`: all of them, as after a restore).
    #[serde(skip)]
    review: Option<BTreeSet<Key>>,
}

/// Whether `agent` has every `required` skill at its minimum, or, with none required, serves
/// `queue_id`.
fn meets(agent: &Agent, queue_id: &Name, required: Option<&BTreeMap<Name, u8>>) -> bool {
    match required {
        Some(required) if !required.is_empty() => required
            .iter()
            .all(|(skill, level)| agent.proficiency(skill) >= *level),
        _ => agent.serves(queue_id),
    }
}

/// A ready agent in an index, in the order the rules prefer them: most proficient in the
/// index's skill first (0 in a queue's index), then longest idle, then by id.
type Ranked = (std::cmp::Reverse<u8>, Timestamp, Name);

/// One agent the rules allow for a call.
struct Candidate<'a> {
    agent_id: &'a Name,
    /// 0: the queue's own rule; 1: overflow.
    tier: u8,
    score: u32,
    since: Timestamp,
    rule: String,
    outside_queue: bool,
}

impl Router {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// A call reached the platform from `caller`.
    pub fn call_offered(&mut self, tenant: &TenantId, call_id: &Name, caller: &str) {
        self.callers
            .insert((tenant.clone(), call_id.clone()), caller.to_owned());
    }

    /// A queue was defined or its routing rules changed.
    pub fn queue_event(&mut self, tenant: &TenantId, queue_id: &Name, event: &QueueEvent) {
        let key = (tenant.clone(), queue_id.clone());
        let mut queue = crate::domain::Queue {
            definition: self.queues.remove(&key),
        };
        queue.evolve(event);
        if let Some(definition) = queue.definition {
            self.queues.insert(key, definition);
        }
    }

    /// A call entered a queue at `at` (first, or again after a transfer).
    pub fn call_queued(
        &mut self,
        tenant: &TenantId,
        call_id: &Name,
        queue_id: &Name,
        priority: CallPriority,
        target_agent_id: Option<Name>,
        at: Timestamp,
    ) {
        self.arrivals += 1;
        let key = (tenant.clone(), call_id.clone());
        let caller = self
            .callers
            .remove(&key)
            .or_else(|| self.calls.get(&key).and_then(|call| call.caller.clone()));
        let previous = self.calls.get(&key).map(|call| call.status.clone());
        self.calls.insert(
            key.clone(),
            CallEntry {
                queue_id: queue_id.clone(),
                arrival: self.arrivals,
                priority,
                queued_at: at,
                caller,
                target_agent_id,
                required_skill: None,
                status: CallStatus::Waiting,
                missed_by: None,
                answered_by: None,
            },
        );
        self.call_changed(&key, previous.as_ref());
    }

    /// The queued call asks for agents with `skill` (at any proficiency, or the queue's minimum
    /// when the queue requires it too).
    pub fn call_requires_skill(&mut self, tenant: &TenantId, call_id: &Name, skill: &Name) {
        if let Some(call) = self.calls.get_mut(&(tenant.clone(), call_id.clone())) {
            call.required_skill = Some(skill.clone());
        }
    }

    /// A ringing call was not taken: it waits again, at its place. `missed_by` names the agent
    /// when the call rang there unanswered until it gave up (not when the agent declined).
    pub fn call_returned(&mut self, tenant: &TenantId, call_id: &Name, missed_by: Option<&Name>) {
        let key = (tenant.clone(), call_id.clone());
        if let Some(call) = self.calls.get_mut(&key)
            && call.status != CallStatus::Finished
        {
            let previous = std::mem::replace(&mut call.status, CallStatus::Waiting);
            call.missed_by = missed_by.cloned();
            self.call_changed(&key, Some(&previous));
        }
    }

    /// An agent answered a call at `at`; they own its caller for a while.
    pub fn call_answered(
        &mut self,
        tenant: &TenantId,
        call_id: &Name,
        agent_id: &Name,
        at: Timestamp,
    ) {
        let key = (tenant.clone(), call_id.clone());
        if let Some(call) = self.calls.get_mut(&key) {
            let previous =
                std::mem::replace(&mut call.status, CallStatus::Answered(agent_id.clone()));
            call.answered_by = Some(agent_id.clone());
            if let Some(caller) = &call.caller {
                self.owners
                    .insert((tenant.clone(), caller.clone()), (agent_id.clone(), at));
            }
            self.call_changed(&key, Some(&previous));
        }
    }

    /// A case of `caller` is open and owned by `owner` (opened, or handed to a new owner).
    pub fn case_owned(&mut self, tenant: &TenantId, case_id: &Name, caller: &str, owner: &Name) {
        let key = (tenant.clone(), case_id.clone());
        let order = match self.cases.get(&key) {
            Some((_, _, order)) => *order,
            None => {
                self.cases_opened += 1;
                self.cases_opened
            }
        };
        self.cases
            .insert(key, (caller.to_owned(), owner.clone(), order));
        self.cases_by_caller
            .entry((tenant.clone(), caller.to_owned()))
            .or_default()
            .insert((order, case_id.clone()));
    }

    /// A case was closed (or is now routed elsewhere).
    pub fn case_closed(&mut self, tenant: &TenantId, case_id: &Name) {
        let Some((caller, _, order)) = self.cases.remove(&(tenant.clone(), case_id.clone())) else {
            return;
        };
        let by_caller = (tenant.clone(), caller);
        if let Some(open) = self.cases_by_caller.get_mut(&by_caller) {
            open.remove(&(order, case_id.clone()));
            if open.is_empty() {
                self.cases_by_caller.remove(&by_caller);
            }
        }
    }

    /// The owner of the caller's case opened last, if any is open.
    fn case_owner(&self, tenant: &TenantId, caller: &str) -> Option<&Name> {
        let (_, case_id) = self
            .cases_by_caller
            .get(&(tenant.clone(), caller.to_owned()))?
            .last()?;
        self.cases
            .get(&(tenant.clone(), case_id.clone()))
            .map(|(_, owner, _)| owner)
    }

    /// A call ended or was abandoned.
    pub fn call_finished(&mut self, tenant: &TenantId, call_id: &Name) {
        let key = (tenant.clone(), call_id.clone());
        if let Some(call) = self.calls.get_mut(&key) {
            let previous = std::mem::replace(&mut call.status, CallStatus::Finished);
            self.call_changed(&key, Some(&previous));
        }
    }

    /// Keeps the waiting calls' index and the agents to review in step with a change of the
    /// call's status (from `previous`): the agents it named before and names now are looked at
    /// again.
    fn call_changed(&mut self, key: &Key, previous: Option<&CallStatus>) {
        let Some(call) = self.calls.get(key) else {
            return;
        };
        if call.status == CallStatus::Waiting {
            self.waiting.insert(key.clone());
        } else {
            self.waiting.remove(key);
        }
        let named = |status: Option<&CallStatus>| match status {
            Some(CallStatus::Assigned(agent_id) | CallStatus::Answered(agent_id)) => {
                Some(agent_id.clone())
            }
            _ => None,
        };
        let agents = [
            named(previous),
            named(Some(&call.status)),
            call.answered_by.clone(),
        ];
        if let Some(review) = &mut self.review {
            for agent_id in agents.into_iter().flatten() {
                review.insert((key.0.clone(), agent_id));
            }
        }
    }

    /// The actions of the last [`Router::decide`] were handed out: from now on it looks only at
    /// the agents whose state or call changes (and at every waiting call).
    pub fn reviewed(&mut self) {
        self.review = Some(BTreeSet::new());
    }

    fn review_agent(&mut self, key: &Key) {
        if let Some(review) = &mut self.review {
            review.insert(key.clone());
        }
    }

    /// An agent recorded its event number `version`; whatever was in flight for the agent has
    /// landed. An event the view already holds (the agent was put in at a later version) is
    /// skipped.
    pub fn agent_event(
        &mut self,
        tenant: &TenantId,
        agent_id: &Name,
        version: u64,
        event: &AgentEvent,
    ) {
        let key = (tenant.clone(), agent_id.clone());
        if self
            .agent_versions
            .get(&key)
            .is_some_and(|held| *held >= version)
        {
            return;
        }
        self.in_flight.remove(&key);
        self.agent_versions.insert(key.clone(), version);
        self.index_agent(&key, false);
        self.agents.entry(key.clone()).or_default().evolve(event);
        self.index_agent(&key, true);
        let call_key = |call_id: &Name| (tenant.clone(), call_id.clone());
        self.review_agent(&key);
        match event {
            AgentEvent::Reserved { call_id, .. } => {
                let call_key = call_key(call_id);
                if let Some(call) = self.calls.get_mut(&call_key)
                    && call.status == CallStatus::Waiting
                {
                    call.status = CallStatus::Assigned(agent_id.clone());
                    self.call_changed(&call_key, Some(&CallStatus::Waiting));
                }
            }
            AgentEvent::ReservationReleased { call_id, .. } => {
                let call_key = call_key(call_id);
                if let Some(call) = self.calls.get_mut(&call_key)
                    && call.status == CallStatus::Assigned(agent_id.clone())
                {
                    let previous = std::mem::replace(&mut call.status, CallStatus::Waiting);
                    self.call_changed(&call_key, Some(&previous));
                }
            }
            _ => {}
        }
    }

    /// Takes an agent out of the view (it moved to a routing domain routed elsewhere), with the
    /// version of its last event.
    pub fn take_agent(&mut self, tenant: &TenantId, agent_id: &Name) -> Option<(Agent, u64)> {
        let key = (tenant.clone(), agent_id.clone());
        self.index_agent(&key, false);
        self.in_flight.remove(&key);
        let version = self.agent_versions.remove(&key).unwrap_or_default();
        self.agents.remove(&key).map(|agent| (agent, version))
    }

    /// Puts an agent into the view as it stands after its event number `version` (it moved into
    /// a routing domain routed here).
    pub fn put_agent(&mut self, tenant: &TenantId, agent_id: &Name, agent: Agent, version: u64) {
        let key = (tenant.clone(), agent_id.clone());
        self.index_agent(&key, false);
        self.agents.insert(key.clone(), agent);
        self.agent_versions.insert(key.clone(), version);
        self.index_agent(&key, true);
        self.review_agent(&key);
    }

    /// Adds the agent to the indexes its state puts it in (`add`), or takes it out of them.
    fn index_agent(&mut self, key: &Key, add: bool) {
        let Some(agent) = self.agents.get(key) else {
            return;
        };
        let (tenant, agent_id) = key;
        let update = |index: &mut BTreeMap<Key, BTreeSet<Ranked>>, by: &Name, ranked: Ranked| {
            let slot = (tenant.clone(), by.clone());
            if add {
                index.entry(slot).or_default().insert(ranked);
            } else if let Some(agents) = index.get_mut(&slot) {
                agents.remove(&ranked);
                if agents.is_empty() {
                    index.remove(&slot);
                }
            }
        };
        match (&agent.presence, &agent.profile) {
            (Presence::Ready { since }, Some(profile)) => {
                let ranked =
                    |proficiency: u8| (std::cmp::Reverse(proficiency), *since, agent_id.clone());
                for queue_id in &profile.queue_ids {
                    update(&mut self.ready_by_queue, queue_id, ranked(0));
                }
                for (skill, proficiency) in &profile.skills {
                    update(&mut self.ready_by_skill, skill, ranked(*proficiency));
                }
            }
            (
                Presence::Reserved { .. }
                | Presence::OnCall { .. }
                | Presence::AfterCallWork { .. },
                _,
            ) => {
                if let Presence::AfterCallWork { until, .. } = &agent.presence {
                    let due = (*until, key.clone());
                    if add {
                        self.after_call_work.insert(due);
                    } else {
                        self.after_call_work.remove(&due);
                    }
                }
                if add {
                    self.attended.insert(key.clone());
                } else {
                    self.attended.remove(key);
                }
            }
            _ => {}
        }
    }

    /// Ready agents who may qualify for `queue_id` under `required` (its members when empty):
    /// those holding the rarest required skill, or the queue's members.
    fn pool(
        &self,
        tenant: &TenantId,
        queue_id: &Name,
        required: Option<&BTreeMap<Name, u8>>,
    ) -> Option<&BTreeSet<Ranked>> {
        match required {
            Some(required) if !required.is_empty() => required
                .keys()
                .map(|skill| self.ready_by_skill.get(&(tenant.clone(), skill.clone())))
                .min_by_key(|agents| agents.map_or(0, BTreeSet::len))
                .flatten(),
            _ => self.ready_by_queue.get(&(tenant.clone(), queue_id.clone())),
        }
    }

    /// Notes that an action for the agent was sent; the agent gets no other until its next event.
    pub fn mark_in_flight(&mut self, action: &Action) {
        self.in_flight
            .insert((action.tenant.clone(), action.agent_id.clone()));
    }

    /// Forgets an action that failed, so that it can be decided again.
    pub fn clear_in_flight(&mut self, action: &Action) {
        let key = (action.tenant.clone(), action.agent_id.clone());
        self.in_flight.remove(&key);
        self.review_agent(&key);
    }

    /// Drops finished calls that no agent refers to any more (keeps the view small).
    pub fn forget_finished_calls(&mut self) {
        let referenced: BTreeSet<Key> = self
            .agents
            .iter()
            .filter_map(|((tenant, _), agent)| match &agent.presence {
                Presence::Reserved { call_id, .. } | Presence::OnCall { call_id, .. } => {
                    Some((tenant.clone(), call_id.clone()))
                }
                _ => None,
            })
            .collect();
        self.calls
            .retain(|key, call| call.status != CallStatus::Finished || referenced.contains(key));
        // Owners older than the window of the newest answer no longer matter.
        if let Some(newest) = self.owners.values().map(|(_, at)| *at).max() {
            self.owners
                .retain(|_, (_, at)| newest.millis_since(*at) <= OWNER_WINDOW_MS);
        }
    }

    /// Whether the router still knows a call (it forgets finished ones).
    pub fn knows_call(&self, tenant: &TenantId, call_id: &Name) -> bool {
        self.calls.contains_key(&(tenant.clone(), call_id.clone()))
    }

    /// Calls waiting for an agent.
    pub fn waiting_calls(&self) -> usize {
        self.waiting.len()
    }

    fn agent_version(&self, key: &Key) -> u64 {
        self.agent_versions.get(key).copied().unwrap_or_default()
    }

    /// Agents whose after-call work reached its limit at `now` (none with an action in flight).
    pub fn after_call_work_due(&self, now: Timestamp) -> Vec<Action> {
        self.after_call_work
            .iter()
            .take_while(|(until, _)| *until <= now)
            .map(|(_, key)| key)
            .filter(|key| !self.in_flight.contains(*key))
            .filter_map(|key| Some((key, self.agents.get(key)?)))
            .filter_map(|(key, agent)| match &agent.presence {
                Presence::AfterCallWork { call_id, until } if *until <= now => Some(Action {
                    tenant: key.0.clone(),
                    agent_id: key.1.clone(),
                    agent_version: self.agent_version(key),
                    kind: ActionKind::ExpireAfterCallWork {
                        call_id: call_id.clone(),
                    },
                }),
                _ => None,
            })
            .collect()
    }

    fn routing(&self, tenant: &TenantId, queue_id: &Name) -> Option<&QueueRouting> {
        self.queues
            .get(&(tenant.clone(), queue_id.clone()))
            .map(|queue| &queue.routing)
    }

    /// Whether `agent` may take calls of `queue_id` by its base rule: its skills at their
    /// minimums, or membership when it requires none.
    fn qualifies(&self, tenant: &TenantId, queue_id: &Name, agent: &Agent) -> bool {
        let required = self
            .routing(tenant, queue_id)
            .map(|routing| &routing.required_skills);
        meets(agent, queue_id, required)
    }

    /// The ready agents the rules allow for `call` at `now`, best first.
    fn candidates<'a>(
        &'a self,
        tenant: &TenantId,
        call: &CallEntry,
        now: Timestamp,
        taken: &BTreeSet<Key>,
    ) -> Vec<Candidate<'a>> {
        let ready = |agent_id: &Name| -> Option<(&'a Name, &'a Agent, Timestamp)> {
            let (key, agent) = self
                .agents
                .get_key_value(&(tenant.clone(), agent_id.clone()))?;
            if taken.contains(key) {
                return None;
            }
            match agent.presence {
                Presence::Ready { since } => Some((&key.1, agent, since)),
                _ => None,
            }
        };
        let single = |agent_id: &Name, rule: &str| -> Vec<Candidate<'a>> {
            ready(agent_id)
                .map(|(agent_id, _, since)| Candidate {
                    agent_id,
                    tier: 0,
                    score: 0,
                    since,
                    rule: rule.to_owned(),
                    outside_queue: true,
                })
                .into_iter()
                .collect()
        };
        if let Some(target) = &call.target_agent_id {
            return single(target, "directed");
        }
        let waited = now.millis_since(call.queued_at);
        let routing = self.routing(tenant, &call.queue_id);
        if let (Some(routing), Some(caller)) = (routing, &call.caller)
            && i64::from(routing.sticky_seconds) * 1000 > waited
        {
            // The call waits for its owner while the sticky time lasts: the owner of the
            // caller's open case, or else the agent who answered them last.
            if let Some(owner) = self.case_owner(tenant, caller) {
                return single(owner, "case owner");
            }
            if let Some((owner, answered_at)) = self.owners.get(&(tenant.clone(), caller.clone()))
                && now.millis_since(*answered_at) <= OWNER_WINDOW_MS
            {
                return single(owner, "owner");
            }
        }
        let mut required = routing.map(|routing| routing.required_at(waited));
        if let Some(skill) = &call.required_skill {
            required
                .get_or_insert_with(BTreeMap::new)
                .entry(skill.clone())
                .or_insert(1);
        }
        let widened =
            routing.is_some_and(|routing| routing.required_skills != routing.required_at(waited));
        let base_rule = match &required {
            Some(required) if !required.is_empty() && widened => {
                let floor = required.values().min().copied().unwrap_or_default();
                let dropped: Vec<&str> = routing
                    .map(|routing| {
                        routing
                            .required_skills
                            .keys()
                            .filter(|skill| !required.contains_key(*skill))
                            .map(Name::as_str)
                            .collect()
                    })
                    .unwrap_or_default();
                if dropped.is_empty() {
                    format!("skills widened to {floor}")
                } else {
                    format!("skills widened to {floor} without {}", dropped.join(", "))
                }
            }
            Some(required) if !required.is_empty() => "skills".to_owned(),
            _ => "members".to_owned(),
        };
        let overflow: Vec<&Name> = routing
            .map(|routing| routing.overflow_at(waited).collect())
            .unwrap_or_default();
        let score = |agent: &Agent| {
            required.as_ref().map_or(0, |required| {
                required
                    .keys()
                    .map(|skill| u32::from(agent.proficiency(skill)))
                    .sum()
            })
        };
        let mut candidates: Vec<Candidate<'a>> = Vec::new();
        let mut seen: BTreeSet<&Name> = BTreeSet::new();
        // With one required skill or none, the pool's order is the rules' order (proficiency in
        // that skill, then longest idle), so the first few that qualify are the best: the
        // search stops there instead of ranking every ready agent.
        let ordered = required.as_ref().is_none_or(|required| required.len() <= 1);
        let floor = required
            .as_ref()
            .and_then(|required| required.values().next().copied())
            .unwrap_or(0);
        for (std::cmp::Reverse(proficiency), _, agent_id) in self
            .pool(tenant, &call.queue_id, required.as_ref())
            .into_iter()
            .flatten()
        {
            if ordered && (*proficiency < floor || candidates.len() >= Why::MAX_CANDIDATES) {
                break;
            }
            let Some((agent_id, agent, since)) = ready(agent_id) else {
                continue;
            };
            if meets(agent, &call.queue_id, required.as_ref()) {
                seen.insert(agent_id);
                candidates.push(Candidate {
                    agent_id,
                    tier: 0,
                    score: score(agent),
                    since,
                    rule: base_rule.clone(),
                    outside_queue: !agent.serves(&call.queue_id),
                });
            }
        }
        // Overflow agents rank after the queue's own, so they matter only while those are few.
        let overflow = if candidates.len() >= Why::MAX_CANDIDATES {
            Vec::new()
        } else {
            overflow
        };
        for overflow_queue in overflow {
            let overflow_required = self
                .routing(tenant, overflow_queue)
                .map(|routing| &routing.required_skills);
            for (_, _, agent_id) in self
                .pool(tenant, overflow_queue, overflow_required)
                .into_iter()
                .flatten()
            {
                let Some((agent_id, agent, since)) = ready(agent_id) else {
                    continue;
                };
                if seen.contains(agent_id) || !self.qualifies(tenant, overflow_queue, agent) {
                    continue;
                }
                seen.insert(agent_id);
                candidates.push(Candidate {
                    agent_id,
                    tier: 1,
                    score: score(agent),
                    since,
                    rule: format!("overflow to {overflow_queue}"),
                    outside_queue: !agent.serves(&call.queue_id),
                });
            }
        }
        candidates.sort_by(|left, right| {
            (
                left.tier,
                std::cmp::Reverse(left.score),
                left.since,
                left.agent_id,
            )
                .cmp(&(
                    right.tier,
                    std::cmp::Reverse(right.score),
                    right.since,
                    right.agent_id,
                ))
        });
        candidates
    }

    /// What to do at `now`, in a deterministic order.
    pub fn decide(&self, now: Timestamp) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut taken = self.in_flight.clone();
        let attended: Box<dyn Iterator<Item = &Key>> = match &self.review {
            Some(review) => Box::new(review.iter().filter(|key| self.attended.contains(*key))),
            None => Box::new(self.attended.iter()),
        };
        for key @ (tenant, agent_id) in attended {
            let Some(agent) = self.agents.get(key) else {
                continue;
            };
            if taken.contains(key) {
                continue;
            }
            let call = |call_id: &Name| self.calls.get(&(tenant.clone(), call_id.clone()));
            let kind = match &agent.presence {
                Presence::Reserved { call_id, .. } => {
                    let call = call(call_id);
                    // Answered by this agent: just now, or already over when routing saw it (no
                    // replica routed the partition meanwhile). Either way the call it was is
                    // started (and then ended) on the agent's record, not released.
                    let answered_here = call.is_some_and(|call| {
                        call.answered_by.as_ref() == Some(agent_id)
                            && matches!(call.status, CallStatus::Answered(_) | CallStatus::Finished)
                    });
                    match call.map(|call| &call.status) {
                        Some(CallStatus::Assigned(to)) if to == agent_id => None,
                        _ if answered_here => Some(ActionKind::StartCall {
                            call_id: call_id.clone(),
                        }),
                        // Gone unanswered, back in the queue, or with someone else.
                        _ => Some(ActionKind::Release {
                            call_id: call_id.clone(),
                            missed: call.is_some_and(|call| {
                                call.status == CallStatus::Waiting
                                    && call.missed_by.as_ref() == Some(agent_id)
                            }),
                        }),
                    }
                }
                Presence::OnCall { call_id, queue_id } => {
                    match call(call_id).map(|call| &call.status) {
                        None => None,
                        Some(CallStatus::Answered(by)) if by == agent_id => None,
                        // Ended, or transferred away.
                        Some(_) => Some(ActionKind::EndCall {
                            call_id: call_id.clone(),
                            queue_id: queue_id.clone(),
                        }),
                    }
                }
                _ => None,
            };
            if let Some(kind) = kind {
                let key = (tenant.clone(), agent_id.clone());
                actions.push(Action {
                    tenant: tenant.clone(),
                    agent_id: agent_id.clone(),
                    agent_version: self.agent_version(&key),
                    kind,
                });
                taken.insert(key);
            }
        }

        let mut waiting: Vec<(&Key, &CallEntry)> = self
            .waiting
            .iter()
            .filter_map(|key| Some((key, self.calls.get(key)?)))
            .collect();
        waiting.sort_by_key(|((tenant, _), call)| {
            (
                std::cmp::Reverse(call.priority),
                std::cmp::Reverse(
                    self.routing(tenant, &call.queue_id)
                        .map_or(0, |r| r.priority),
                ),
                call.queued_at,
                call.arrival,
            )
        });
        for ((tenant, call_id), call) in waiting {
            let candidates = self.candidates(tenant, call, now, &taken);
            let Some(best) = candidates.first() else {
                continue;
            };
            let why = Why {
                rule: best.rule.clone(),
                candidates: candidates
                    .iter()
                    .take(Why::MAX_CANDIDATES)
                    .map(|candidate| candidate.agent_id.clone())
                    .collect(),
            };
            let key = (tenant.clone(), best.agent_id.clone());
            actions.push(Action {
                tenant: tenant.clone(),
                agent_id: best.agent_id.clone(),
                agent_version: self.agent_version(&key),
                kind: ActionKind::Reserve {
                    call_id: call_id.clone(),
                    queue_id: call.queue_id.clone(),
                    directed: best.outside_queue,
                    why,
                },
            });
            taken.insert(key);
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, name};

    use super::*;
    use crate::domain::{OverflowStep, WideningStep};

    fn ready_agent(router: &mut Router, tenant: &str, agent: &str, queues: &[&str], since: i64) {
        let tenant = name(tenant);
        let agent = name(agent);
        for (version, event) in [
            AgentEvent::Created {
                display_name: agent.to_string(),
                center_id: name("langfang"),
                queue_ids: queues.iter().map(|q| name(q)).collect(),
                routing_domain: None,
                at: at(0),
            },
            AgentEvent::LoggedIn {
                seat: name("desk"),
                at: at(0),
            },
            AgentEvent::Ready { at: at(since) },
        ]
        .into_iter()
        .enumerate()
        {
            router.agent_event(&tenant, &agent, version as u64 + 1, &event);
        }
    }

    fn why(rule: &str, candidates: &[&str]) -> Why {
        Why {
            rule: rule.into(),
            candidates: candidates.iter().map(|agent| name(agent)).collect(),
        }
    }

    fn reserve(tenant: &str, agent: &str, call: &str, queue: &str, candidates: &[&str]) -> Action {
        Action {
            tenant: name(tenant),
            agent_id: name(agent),
            agent_version: 3,
            kind: ActionKind::Reserve {
                call_id: name(call),
                queue_id: name(queue),
                directed: false,
                why: why("members", candidates),
            },
        }
    }

    /// Feeds back the event that an action produces, as the event log would.
    fn land(router: &mut Router, action: &Action) {
        let event = match &action.kind {
            ActionKind::Reserve {
                call_id,
                queue_id,
                why,
                ..
            } => AgentEvent::Reserved {
                call_id: call_id.clone(),
                queue_id: queue_id.clone(),
                why: why.clone(),
                at: at(100),
            },
            ActionKind::Release { call_id, missed } => AgentEvent::ReservationReleased {
                call_id: call_id.clone(),
                missed: *missed,
                at: at(100),
            },
            ActionKind::StartCall { call_id } => AgentEvent::CallStarted {
                call_id: call_id.clone(),
                at: at(100),
            },
            ActionKind::EndCall { call_id, .. } => AgentEvent::CallEnded {
                call_id: call_id.clone(),
                after_call_work_until: None,
                at: at(100),
            },
            ActionKind::ExpireAfterCallWork { call_id } => AgentEvent::AfterCallWorkOverrun {
                call_id: call_id.clone(),
                at: at(100),
            },
        };
        router.agent_event(
            &action.tenant,
            &action.agent_id,
            action.agent_version + 1,
            &event,
        );
    }

    /// A router whose agent-1 is reserved for call `call` of queue general.
    fn reserved_for(call: &str) -> Router {
        let mut router = Router::new();
        ready_agent(&mut router, "demo", "agent-1", &["general"], 10);
        router.call_queued(
            &name("demo"),
            &name(call),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        let reserved = router.decide(at(1));
        land(&mut router, &reserved[0]);
        router
    }

    #[test]
    fn a_router_that_looks_only_at_what_changed_decides_as_one_that_looks_at_everything() {
        // Decisions are made after every batch of events; looking again at every busy agent
        // each time cost more the more agents were busy. Over a long random day of calls, the
        // router that reviews only the agents whose state or call changed decides exactly what
        // a router reviewing all of them decides.
        let tenant = name("demo");
        let mut router = Router::new();
        for agent in 0..6 {
            let queues: &[&str] = if agent % 2 == 0 {
                &["general"]
            } else {
                &["general", "repairs"]
            };
            ready_agent(
                &mut router,
                "demo",
                &format!("agent-{agent}"),
                queues,
                agent,
            );
        }
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let mut calls = 0;
        for step in 0..3_000_i64 {
            let now = at(100 + step);
            match next(6) {
                0 | 1 => {
                    calls += 1;
                    let queue = if next(2) == 0 { "general" } else { "repairs" };
                    router.call_queued(
                        &tenant,
                        &name(&format!("c{calls}")),
                        &name(queue),
                        CallPriority::Normal,
                        None,
                        now,
                    );
                }
                choice => {
                    let known: Vec<(Name, CallStatus)> = router
                        .calls
                        .iter()
                        .map(|((_, call_id), call)| (call_id.clone(), call.status.clone()))
                        .collect();
                    if known.is_empty() {
                        continue;
                    }
                    let (call_id, status) = &known[next(known.len() as u64) as usize];
                    match (choice, status) {
                        (2, CallStatus::Assigned(agent)) => {
                            router.call_answered(&tenant, call_id, agent, now);
                        }
                        (3, CallStatus::Assigned(agent)) => {
                            router.call_returned(&tenant, call_id, Some(agent));
                        }
                        (4, CallStatus::Answered(_) | CallStatus::Waiting) => {
                            router.call_finished(&tenant, call_id);
                        }
                        (5, _) => router.forget_finished_calls(),
                        _ => {}
                    }
                }
            }
            let mut everything = router.clone();
            everything.review = None;
            let actions = router.decide(now);
            assert_eq!(actions, everything.decide(now), "step {step}");
            router.reviewed();
            for action in &actions {
                router.mark_in_flight(action);
                // Now and then an action is refused and decided again later.
                if next(10) == 0 {
                    router.clear_in_flight(action);
                } else {
                    land(&mut router, action);
                }
            }
        }
        assert!(calls > 500);
    }

    #[test]
    fn a_call_answered_and_ended_while_nobody_routed_is_started_and_ended_on_the_agent() {
        // The agent was reserved, then answered and finished the call while no replica owned
        // the partition: after the takeover the router sees both at once.
        let mut router = reserved_for("c1");
        router.call_answered(&name("demo"), &name("c1"), &name("agent-1"), at(5));
        router.call_finished(&name("demo"), &name("c1"));
        let started = router.decide(at(90));
        assert_eq!(
            started.iter().map(|a| a.kind.clone()).collect::<Vec<_>>(),
            [ActionKind::StartCall {
                call_id: name("c1")
            }],
            "the call it was, not a released reservation"
        );
        land(&mut router, &started[0]);
        let ended = router.decide(at(90));
        assert_eq!(
            ended.iter().map(|a| a.kind.clone()).collect::<Vec<_>>(),
            [ActionKind::EndCall {
                call_id: name("c1"),
                queue_id: name("general")
            }]
        );
        // A reserved call that went away unanswered is still released.
        let mut router = reserved_for("c2");
        router.call_finished(&name("demo"), &name("c2"));
        assert!(matches!(
            router.decide(at(90))[0].kind,
            ActionKind::Release { .. }
        ));
    }

    #[test]
    fn the_longest_idle_ready_agent_of_the_queue_gets_the_call() {
        let mut router = Router::new();
        ready_agent(&mut router, "demo", "agent-1", &["general"], 30);
        ready_agent(&mut router, "demo", "agent-2", &["general"], 10);
        ready_agent(&mut router, "demo", "agent-3", &["repairs"], 5);
        router.call_queued(
            &name("demo"),
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        assert_eq!(
            router.decide(at(60)),
            vec![reserve(
                "demo",
                "agent-2",
                "c1",
                "general",
                &["agent-2", "agent-1"]
            )]
        );
    }

    #[test]
    fn calls_are_served_first_come_first_served() {
        let mut router = Router::new();
        router.call_queued(
            &name("demo"),
            &name("late-id-first"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        router.call_queued(
            &name("demo"),
            &name("a-second"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        assert_eq!(
            router.decide(at(60)),
            vec![reserve(
                "demo",
                "agent-1",
                "late-id-first",
                "general",
                &["agent-1"]
            )]
        );
    }

    #[test]
    fn an_agent_with_an_action_in_flight_gets_nothing_else() {
        let mut router = Router::new();
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        router.call_queued(
            &name("demo"),
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        router.call_queued(
            &name("demo"),
            &name("c2"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        let first = router.decide(at(60));
        assert_eq!(first.len(), 1, "one agent, one call at a time");
        router.mark_in_flight(&first[0]);
        assert!(router.decide(at(60)).is_empty(), "nothing decided twice");
        land(&mut router, &first[0]);
        assert!(
            router.decide(at(60)).is_empty(),
            "the agent is reserved now"
        );
        assert_eq!(router.waiting_calls(), 1);
    }

    #[test]
    fn a_reservation_whose_call_went_away_is_released() {
        let mut router = Router::new();
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        router.call_queued(
            &name("demo"),
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        let reserve = router.decide(at(60)).remove(0);
        land(&mut router, &reserve);
        router.call_finished(&name("demo"), &name("c1"));
        let release = router.decide(at(60));
        assert_eq!(
            release,
            vec![Action {
                tenant: name("demo"),
                agent_id: name("agent-1"),
                agent_version: 4,
                kind: ActionKind::Release {
                    call_id: name("c1"),
                    missed: false,
                },
            }]
        );
        land(&mut router, &release[0]);
        assert!(router.decide(at(60)).is_empty());
    }

    #[test]
    fn an_answered_call_starts_and_an_ended_call_frees_the_agent_for_the_next() {
        let mut router = Router::new();
        let demo = name("demo");
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        router.call_queued(
            &demo,
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        let reserve = router.decide(at(60)).remove(0);
        land(&mut router, &reserve);
        router.call_answered(&demo, &name("c1"), &name("agent-1"), at(50));
        let start = router.decide(at(60)).remove(0);
        assert_eq!(
            start.kind,
            ActionKind::StartCall {
                call_id: name("c1")
            }
        );
        land(&mut router, &start);
        router.call_queued(
            &demo,
            &name("c2"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        assert!(router.decide(at(60)).is_empty(), "the agent is on a call");
        router.call_finished(&demo, &name("c1"));
        let end = router.decide(at(60)).remove(0);
        assert_eq!(
            end.kind,
            ActionKind::EndCall {
                call_id: name("c1"),
                queue_id: name("general"),
            }
        );
        land(&mut router, &end);
        let next = router.decide(at(60));
        assert_eq!(next.len(), 1);
        assert_eq!(
            (
                next[0].agent_id.as_str(),
                &next[0].kind,
                next[0].agent_version
            ),
            (
                "agent-1",
                &ActionKind::Reserve {
                    call_id: name("c2"),
                    queue_id: name("general"),
                    directed: false,
                    why: why("members", &["agent-1"]),
                },
                6
            ),
            "ready again, the agent gets the next call"
        );
        assert_ne!(
            next[0].request_id(),
            reserve.request_id(),
            "a new decision has a new request id"
        );
        router.forget_finished_calls();
        assert_eq!(router.waiting_calls(), 1);
    }

    #[test]
    fn emergency_calls_jump_the_queue() {
        let mut router = Router::new();
        let demo = name("demo");
        router.call_queued(
            &demo,
            &name("first"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        router.call_queued(
            &demo,
            &name("urgent"),
            &name("general"),
            CallPriority::Emergency,
            None,
            at(0),
        );
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        assert_eq!(
            router.decide(at(60)),
            vec![reserve(
                "demo",
                "agent-1",
                "urgent",
                "general",
                &["agent-1"]
            )]
        );
    }

    #[test]
    fn a_missed_call_is_released_from_its_agent_and_keeps_its_place() {
        let mut router = Router::new();
        let demo = name("demo");
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        router.call_queued(
            &demo,
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        let reserve_c1 = router.decide(at(60)).remove(0);
        land(&mut router, &reserve_c1);
        router.call_queued(
            &demo,
            &name("c2"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        router.call_returned(&demo, &name("c1"), None);
        let release = router.decide(at(60));
        assert_eq!(
            release.len(),
            1,
            "the agent is busy releasing, nothing else"
        );
        assert_eq!(
            release[0].kind,
            ActionKind::Release {
                call_id: name("c1"),
                missed: false,
            }
        );
        land(&mut router, &release[0]);
        let next = router.decide(at(60));
        assert_eq!(
            next[0].kind,
            ActionKind::Reserve {
                call_id: name("c1"),
                queue_id: name("general"),
                directed: false,
                why: why("members", &["agent-1"]),
            },
            "c1 came before c2 and keeps its place"
        );
    }

    #[test]
    fn a_ring_the_agent_missed_leaves_them_not_ready_and_the_call_goes_to_the_next_agent() {
        let mut router = Router::new();
        let demo = name("demo");
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        ready_agent(&mut router, "demo", "agent-2", &["general"], 2);
        router.call_queued(
            &demo,
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        let reserve = router.decide(at(60)).remove(0);
        assert_eq!(reserve.agent_id, name("agent-1"));
        land(&mut router, &reserve);
        // Three rings without an answer: the call waits again.
        router.call_returned(&demo, &name("c1"), Some(&name("agent-1")));
        let release = router.decide(at(60));
        assert_eq!(
            release[0].kind,
            ActionKind::Release {
                call_id: name("c1"),
                missed: true,
            }
        );
        land(&mut router, &release[0]);
        let next = router.decide(at(60));
        assert_eq!(next.len(), 1);
        assert_eq!(
            next[0].agent_id,
            name("agent-2"),
            "agent-1 is not ready (missed) and gets nothing"
        );
    }

    #[test]
    fn an_agent_still_in_after_call_work_at_the_queue_limit_is_made_ready() {
        let mut router = Router::new();
        let (demo, agent) = (name("demo"), name("agent-1"));
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        for (version, event) in [
            AgentEvent::Reserved {
                call_id: name("c1"),
                queue_id: name("general"),
                why: Why::default(),
                at: at(2),
            },
            AgentEvent::CallStarted {
                call_id: name("c1"),
                at: at(3),
            },
            AgentEvent::CallEnded {
                call_id: name("c1"),
                after_call_work_until: Some(at(40)),
                at: at(10),
            },
        ]
        .into_iter()
        .zip(4..)
        .map(|(event, version)| (version, event))
        {
            router.agent_event(&demo, &agent, version, &event);
        }
        assert!(router.after_call_work_due(at(39)).is_empty());
        assert_eq!(
            router.after_call_work_due(at(40)),
            vec![Action {
                tenant: demo,
                agent_id: agent,
                agent_version: 6,
                kind: ActionKind::ExpireAfterCallWork {
                    call_id: name("c1")
                },
            }]
        );
    }

    #[test]
    fn a_transferred_call_frees_its_agent_and_waits_for_its_target_only() {
        let mut router = Router::new();
        let demo = name("demo");
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        ready_agent(&mut router, "demo", "agent-2", &["repairs"], 2);
        ready_agent(&mut router, "demo", "agent-3", &["general"], 3);
        router.call_queued(
            &demo,
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        let reserve_c1 = router.decide(at(60)).remove(0);
        land(&mut router, &reserve_c1);
        router.call_answered(&demo, &name("c1"), &name("agent-1"), at(50));
        let start = router.decide(at(60)).remove(0);
        land(&mut router, &start);
        // agent-1 hands the call to agent-2, who does not serve "general".
        router.call_queued(
            &demo,
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            Some(name("agent-2")),
            at(0),
        );
        let actions = router.decide(at(60));
        let kinds: Vec<(&str, &ActionKind)> = actions
            .iter()
            .map(|action| (action.agent_id.as_str(), &action.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (
                    "agent-1",
                    &ActionKind::EndCall {
                        call_id: name("c1"),
                        queue_id: name("general"),
                    }
                ),
                (
                    "agent-2",
                    &ActionKind::Reserve {
                        call_id: name("c1"),
                        queue_id: name("general"),
                        directed: true,
                        why: why("directed", &["agent-2"]),
                    }
                ),
            ],
            "agent-3 serves the queue and is ready, but the call waits for agent-2"
        );
    }

    #[test]
    fn tenants_never_share_agents() {
        let mut router = Router::new();
        ready_agent(&mut router, "acme", "agent-1", &["general"], 1);
        router.call_queued(
            &name("globex"),
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        assert!(router.decide(at(60)).is_empty());
        ready_agent(&mut router, "globex", "agent-1", &["general"], 5);
        assert_eq!(
            router.decide(at(60)),
            vec![reserve("globex", "agent-1", "c1", "general", &["agent-1"])]
        );
    }

    #[test]
    fn a_replayed_history_decides_only_what_is_still_missing() {
        // The log after a crash: c1 was reserved and answered, c2 is waiting.
        let demo = name("demo");
        let mut router = Router::new();
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        ready_agent(&mut router, "demo", "agent-2", &["general"], 2);
        router.call_queued(
            &demo,
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        router.agent_event(
            &demo,
            &name("agent-1"),
            4,
            &AgentEvent::Reserved {
                call_id: name("c1"),
                queue_id: name("general"),
                why: Why::default(),
                at: at(3),
            },
        );
        router.call_queued(
            &demo,
            &name("c2"),
            &name("general"),
            CallPriority::Normal,
            None,
            at(0),
        );
        router.call_answered(&demo, &name("c1"), &name("agent-1"), at(50));
        let actions = router.decide(at(60));
        assert_eq!(
            actions,
            vec![
                Action {
                    tenant: demo.clone(),
                    agent_id: name("agent-1"),
                    agent_version: 4,
                    kind: ActionKind::StartCall {
                        call_id: name("c1")
                    },
                },
                reserve("demo", "agent-2", "c2", "general", &["agent-2"]),
            ]
        );
    }

    fn queue(router: &mut Router, tenant: &str, queue_id: &str, routing: QueueRouting) {
        let (tenant, queue_id) = (name(tenant), name(queue_id));
        for event in [
            QueueEvent::Created {
                display_name: queue_id.to_string(),
                center_id: name("langfang"),
                after_call_work_seconds: 0,
                routing_domain: None,
                at: at(0),
            },
            QueueEvent::RoutingSet { routing, at: at(0) },
        ] {
            router.queue_event(&tenant, &queue_id, &event);
        }
    }

    fn skilled_agent(router: &mut Router, agent: &str, skills: &[(&str, u8)], since: i64) {
        ready_agent(router, "demo", agent, &[], since);
        let skills = skills
            .iter()
            .map(|(skill, level)| (name(skill), *level))
            .collect();
        router.agent_event(
            &name("demo"),
            &name(agent),
            4,
            &AgentEvent::SkillsSet { skills, at: at(0) },
        );
    }

    fn billing(level: u8) -> BTreeMap<Name, u8> {
        BTreeMap::from([(name("billing"), level)])
    }

    fn queue_call(router: &mut Router, call: &str, queue: &str, priority: CallPriority, at_s: i64) {
        router.call_queued(
            &name("demo"),
            &name(call),
            &name(queue),
            priority,
            None,
            at(at_s),
        );
    }

    /// (agent, call, rule, candidates) of the reservations decided at `now`.
    fn reservations(router: &Router, now: i64) -> Vec<(String, String, String, Vec<String>)> {
        router
            .decide(at(now))
            .into_iter()
            .filter_map(|action| match action.kind {
                ActionKind::Reserve { call_id, why, .. } => Some((
                    action.agent_id.to_string(),
                    call_id.to_string(),
                    why.rule,
                    why.candidates.iter().map(Name::to_string).collect(),
                )),
                _ => None,
            })
            .collect()
    }

    fn reserved(
        agent: &str,
        call: &str,
        rule: &str,
        candidates: &[&str],
    ) -> (String, String, String, Vec<String>) {
        (
            agent.into(),
            call.into(),
            rule.into(),
            candidates.iter().map(|c| (*c).to_owned()).collect(),
        )
    }

    #[test]
    fn skills_route_a_call_to_the_best_matching_ready_agent_then_the_longest_idle() {
        let mut router = Router::new();
        let rules = QueueRouting {
            required_skills: billing(3),
            ..QueueRouting::default()
        };
        queue(&mut router, "demo", "billing", rules);
        skilled_agent(&mut router, "expert", &[("billing", 5)], 10);
        skilled_agent(&mut router, "able", &[("billing", 3)], 1);
        skilled_agent(&mut router, "novice", &[("billing", 2)], 0);
        queue_call(&mut router, "c1", "billing", CallPriority::Normal, 0);
        assert_eq!(
            reservations(&router, 5),
            [reserved("expert", "c1", "skills", &["expert", "able"])],
            "proficiency first, and the novice is below the minimum"
        );
        let mut router = Router::new();
        queue(
            &mut router,
            "demo",
            "billing",
            QueueRouting {
                required_skills: billing(3),
                ..QueueRouting::default()
            },
        );
        skilled_agent(&mut router, "a", &[("billing", 4)], 10);
        skilled_agent(&mut router, "b", &[("billing", 4)], 2);
        queue_call(&mut router, "c1", "billing", CallPriority::Normal, 0);
        assert_eq!(
            reservations(&router, 5),
            [reserved("b", "c1", "skills", &["b", "a"])],
            "equal proficiency: the longest idle"
        );
    }

    #[test]
    fn of_many_ready_agents_the_ten_best_are_recorded_in_the_rules_order() {
        // Thirty agents with every proficiency and idle time: the candidates recorded are the
        // ten best by proficiency, then longest idle, as ranking all of them would give, and
        // nobody below the minimum.
        let mut router = Router::new();
        let rules = QueueRouting {
            required_skills: billing(3),
            ..QueueRouting::default()
        };
        queue(&mut router, "demo", "billing", rules);
        let mut everyone = Vec::new();
        for index in 0..30_i64 {
            let level = 1 + (index * 7 % 5) as u8;
            let since = index * 13 % 29;
            let agent = format!("a{index:02}");
            skilled_agent(&mut router, &agent, &[("billing", level)], since);
            if level >= 3 {
                everyone.push((std::cmp::Reverse(level), since, agent));
            }
        }
        everyone.sort();
        let best: Vec<&str> = everyone
            .iter()
            .take(Why::MAX_CANDIDATES)
            .map(|(_, _, agent)| agent.as_str())
            .collect();
        queue_call(&mut router, "c1", "billing", CallPriority::Normal, 0);
        assert_eq!(
            reservations(&router, 5),
            [reserved(best[0], "c1", "skills", &best)]
        );
        // By membership alone, the ten longest idle of the queue's members.
        let mut router = Router::new();
        for index in 0..30_i64 {
            let since = index * 13 % 29;
            ready_agent(
                &mut router,
                "demo",
                &format!("m{index:02}"),
                &["general"],
                since,
            );
        }
        let mut members: Vec<(i64, String)> = (0..30_i64)
            .map(|i| (i * 13 % 29, format!("m{i:02}")))
            .collect();
        members.sort();
        let longest: Vec<&str> = members
            .iter()
            .take(Why::MAX_CANDIDATES)
            .map(|(_, agent)| agent.as_str())
            .collect();
        queue_call(&mut router, "c2", "general", CallPriority::Normal, 0);
        assert_eq!(
            reservations(&router, 50),
            [reserved(longest[0], "c2", "members", &longest)]
        );
    }

    #[test]
    fn after_a_while_widening_accepts_a_lower_proficiency() {
        let mut router = Router::new();
        let rules = QueueRouting {
            required_skills: billing(4),
            widening: vec![WideningStep {
                after_seconds: 30,
                min_proficiency: 2,
                drop_skills: BTreeSet::new(),
            }],
            ..QueueRouting::default()
        };
        queue(&mut router, "demo", "billing", rules);
        skilled_agent(&mut router, "novice", &[("billing", 2)], 0);
        queue_call(&mut router, "c1", "billing", CallPriority::Normal, 0);
        assert_eq!(reservations(&router, 29), []);
        assert_eq!(
            reservations(&router, 30),
            [reserved("novice", "c1", "skills widened to 2", &["novice"])]
        );
    }

    #[test]
    fn after_a_while_a_call_overflows_to_a_queue_of_another_center() {
        let mut router = Router::new();
        let rules = QueueRouting {
            overflow: vec![OverflowStep {
                after_seconds: 20,
                queue_id: name("beijing-general"),
            }],
            ..QueueRouting::default()
        };
        queue(&mut router, "demo", "general", rules);
        queue(
            &mut router,
            "demo",
            "beijing-general",
            QueueRouting::default(),
        );
        ready_agent(&mut router, "demo", "beijing-1", &["beijing-general"], 0);
        queue_call(&mut router, "c1", "general", CallPriority::Normal, 0);
        assert_eq!(reservations(&router, 19), []);
        assert_eq!(
            reservations(&router, 20),
            [reserved(
                "beijing-1",
                "c1",
                "overflow to beijing-general",
                &["beijing-1"]
            )]
        );
        let action = router.decide(at(20)).remove(0);
        assert!(
            matches!(action.kind, ActionKind::Reserve { directed: true, .. }),
            "the agent does not serve the queue: routing vouches for them"
        );
        // The queue's own agents come before overflow agents.
        ready_agent(&mut router, "demo", "langfang-1", &["general"], 5);
        assert_eq!(
            reservations(&router, 20),
            [reserved(
                "langfang-1",
                "c1",
                "members",
                &["langfang-1", "beijing-1"]
            )]
        );
    }

    #[test]
    fn a_repeat_caller_waits_for_their_owner_until_the_sticky_timeout() {
        let mut router = Router::new();
        let demo = name("demo");
        let rules = QueueRouting {
            sticky_seconds: 30,
            ..QueueRouting::default()
        };
        queue(&mut router, "demo", "general", rules);
        ready_agent(&mut router, "demo", "owner", &["general"], 50);
        ready_agent(&mut router, "demo", "other", &["general"], 1);
        // The first call of 138-0000 is answered by "owner".
        router.call_offered(&demo, &name("first"), "13800000000");
        queue_call(&mut router, "first", "general", CallPriority::Normal, 0);
        router.call_answered(&demo, &name("first"), &name("owner"), at(60));
        router.call_finished(&demo, &name("first"));
        // The caller calls again: the owner is ready, and gets the call though "other" waited longer.
        router.call_offered(&demo, &name("again"), "13800000000");
        queue_call(&mut router, "again", "general", CallPriority::Normal, 100);
        assert_eq!(
            reservations(&router, 101),
            [reserved("owner", "again", "owner", &["owner"])]
        );
        // The owner is busy: the call waits for them until the sticky time is over.
        router.agent_event(
            &demo,
            &name("owner"),
            4,
            &AgentEvent::NotReady {
                reason: crate::domain::NotReadyReason::Break,
                at: at(100),
            },
        );
        assert_eq!(reservations(&router, 129), []);
        assert_eq!(
            reservations(&router, 130),
            [reserved("other", "again", "members", &["other"])]
        );
        // A call three days after the answer: nobody owns the caller any more, so the ready
        // owner gets no preference over "other", who has been idle longer.
        router.call_finished(&demo, &name("again"));
        router.agent_event(&demo, &name("owner"), 5, &AgentEvent::Ready { at: at(200) });
        let later = 60 + OWNER_WINDOW_MS / 1000 + 1;
        router.call_offered(&demo, &name("later"), "13800000000");
        queue_call(&mut router, "later", "general", CallPriority::Normal, later);
        assert_eq!(
            reservations(&router, later + 1),
            [reserved("other", "later", "members", &["other", "owner"])]
        );
    }

    #[test]
    fn a_repeat_caller_with_an_open_case_waits_for_the_case_owner_first_contact_ownership() {
        let mut router = Router::new();
        let demo = name("demo");
        let rules = QueueRouting {
            sticky_seconds: 30,
            ..QueueRouting::default()
        };
        queue(&mut router, "demo", "general", rules);
        ready_agent(&mut router, "demo", "answerer", &["general"], 40);
        ready_agent(&mut router, "demo", "case-owner", &["general"], 50);
        ready_agent(&mut router, "demo", "other", &["general"], 1);
        // "answerer" took the caller's last call, but "case-owner" owns their open case.
        router.call_offered(&demo, &name("first"), "13800000000");
        queue_call(&mut router, "first", "general", CallPriority::Normal, 0);
        router.call_answered(&demo, &name("first"), &name("answerer"), at(60));
        router.call_finished(&demo, &name("first"));
        router.case_owned(&demo, &name("case-1"), "13800000000", &name("case-owner"));
        router.call_offered(&demo, &name("again"), "13800000000");
        queue_call(&mut router, "again", "general", CallPriority::Normal, 100);
        assert_eq!(
            reservations(&router, 101),
            [reserved(
                "case-owner",
                "again",
                "case owner",
                &["case-owner"]
            )]
        );
        // A second case opened later, owned by "other", takes precedence; closing it hands the
        // caller back to the first case's owner; closing both leaves the last answerer.
        router.case_owned(&demo, &name("case-2"), "13800000000", &name("other"));
        assert_eq!(
            reservations(&router, 101),
            [reserved("other", "again", "case owner", &["other"])]
        );
        router.case_closed(&demo, &name("case-2"));
        router.case_owned(&demo, &name("case-1"), "13800000000", &name("case-owner"));
        assert_eq!(
            reservations(&router, 101),
            [reserved(
                "case-owner",
                "again",
                "case owner",
                &["case-owner"]
            )]
        );
        router.case_closed(&demo, &name("case-1"));
        assert_eq!(
            reservations(&router, 101),
            [reserved("answerer", "again", "owner", &["answerer"])]
        );
        // Past the sticky time, anyone: the longest idle.
        router.case_owned(&demo, &name("case-3"), "13800000000", &name("case-owner"));
        assert_eq!(
            reservations(&router, 130),
            [reserved(
                "other",
                "again",
                "members",
                &["other", "answerer", "case-owner"]
            )]
        );
    }

    #[test]
    fn calls_go_by_emergency_then_queue_priority_then_time_waited_which_arbitrates_an_agent_of_several_queues()
     {
        let mut router = Router::new();
        let priority = |priority| QueueRouting {
            priority,
            ..QueueRouting::default()
        };
        queue(&mut router, "demo", "low", priority(0));
        queue(&mut router, "demo", "high", priority(5));
        ready_agent(&mut router, "demo", "both", &["low", "high"], 0);
        queue_call(&mut router, "old-low", "low", CallPriority::Normal, 0);
        queue_call(&mut router, "new-high", "high", CallPriority::Normal, 50);
        assert_eq!(
            reservations(&router, 60),
            [reserved("both", "new-high", "members", &["both"])],
            "the higher-priority queue first"
        );
        queue_call(
            &mut router,
            "urgent-low",
            "low",
            CallPriority::Emergency,
            55,
        );
        assert_eq!(
            reservations(&router, 60),
            [reserved("both", "urgent-low", "members", &["both"])],
            "an emergency before any queue priority"
        );
        let mut router = Router::new();
        queue(&mut router, "demo", "a", priority(1));
        queue(&mut router, "demo", "b", priority(1));
        ready_agent(&mut router, "demo", "both", &["a", "b"], 0);
        queue_call(&mut router, "newer", "a", CallPriority::Normal, 20);
        queue_call(&mut router, "older", "b", CallPriority::Normal, 10);
        assert_eq!(
            reservations(&router, 60),
            [reserved("both", "older", "members", &["both"])],
            "equal priorities: the call that waited longest"
        );
    }

    #[test]
    fn a_skill_chosen_in_the_voice_menu_narrows_the_queue_to_agents_with_it() {
        let mut router = Router::new();
        ready_agent(&mut router, "demo", "member", &["repairs"], 0);
        skilled_agent(&mut router, "plumber", &[("plumbing", 2)], 5);
        queue_call(&mut router, "c1", "repairs", CallPriority::Normal, 0);
        router.call_requires_skill(&name("demo"), &name("c1"), &name("plumbing"));
        assert_eq!(
            reservations(&router, 1),
            [reserved("plumber", "c1", "skills", &["plumber"])]
        );
    }

    #[test]
    fn after_a_while_widening_drops_a_required_skill_for_a_wider_skill_set() {
        let mut router = Router::new();
        let rules = QueueRouting {
            required_skills: BTreeMap::from([(name("billing"), 3), (name("english"), 3)]),
            widening: vec![WideningStep {
                after_seconds: 20,
                min_proficiency: 3,
                drop_skills: BTreeSet::from([name("english")]),
            }],
            ..QueueRouting::default()
        };
        assert_eq!(rules.problem(&name("billing")), None);
        queue(&mut router, "demo", "billing", rules);
        skilled_agent(&mut router, "chinese-only", &[("billing", 4)], 0);
        queue_call(&mut router, "c1", "billing", CallPriority::Normal, 0);
        assert_eq!(reservations(&router, 19), []);
        assert_eq!(
            reservations(&router, 20),
            [reserved(
                "chinese-only",
                "c1",
                "skills widened to 3 without english",
                &["chinese-only"]
            )]
        );
        let unknown = QueueRouting {
            required_skills: billing(3),
            widening: vec![WideningStep {
                after_seconds: 20,
                min_proficiency: 2,
                drop_skills: BTreeSet::from([name("english")]),
            }],
            ..QueueRouting::default()
        };
        assert_eq!(
            unknown.problem(&name("billing")),
            Some("widening: english is not a required skill".into())
        );
    }
}
