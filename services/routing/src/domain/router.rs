//! The router: which waiting call goes to which ready agent (DOMAIN.md §3), decided from state,
//! not from single events.
//!
//! The router folds call and agent events into a view of every tenant's waiting calls and agents
//! and, from that view alone, derives the actions that bring agents in line with their calls:
//! reserve a ready agent for a waiting call, release a reservation whose call went away, start or
//! end an agent's call when the call was answered or ended. Because actions come from state, a
//! replay after a restart decides exactly what is still missing, whatever order events arrived in.
//!
//! Rules of this slice:
//! - emergency calls jump the queue (DOMAIN.md §3); otherwise first come, first served, and a call
//!   that rang unanswered keeps its place;
//! - among the ready agents who serve a call's queue, the one ready the longest gets it (ties: the
//!   smaller agent id); a call transferred to one agent waits for that agent only;
//! - an agent with an action in flight is not given another; tenants never share agents;
//! - a reservation whose call went away (abandoned, answered elsewhere, back in the queue) is
//!   released, and an agent whose call ended or was transferred away is freed into the queue's
//!   after-call work; a ring the agent missed (three rings) leaves the agent not ready "missed";
//! - an agent still in after-call work at the queue's limit is made ready (the overrun recorded).

use std::collections::{BTreeMap, BTreeSet};

use callcenter_kit::{Aggregate, Name, TenantId, Timestamp};

use super::agent::{Agent, AgentEvent, Presence};

/// An agent or call of one tenant.
pub type Key = (TenantId, Name);

/// How urgent a waiting call is, as routing orders them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallPriority {
    /// An ordinary call.
    #[default]
    Normal,
    /// An emergency: before every normal call.
    Emergency,
}

/// What the router knows about a call.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CallEntry {
    queue_id: Name,
    arrival: u64,
    priority: CallPriority,
    /// The one agent the call waits for (a transfer to that agent).
    target_agent_id: Option<Name>,
    status: CallStatus,
    /// The agent at whom the call last rang unanswered until it gave up.
    missed_by: Option<Name>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
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

impl Action {
    /// The idempotency key of the command that carries out this action.
    pub fn request_id(&self) -> String {
        let (kind, call_id) = match &self.kind {
            ActionKind::Reserve { call_id, .. } => ("reserve", call_id),
            ActionKind::Release { call_id, .. } => ("release", call_id),
            ActionKind::StartCall { call_id } => ("start", call_id),
            ActionKind::EndCall { call_id, .. } => ("end", call_id),
            ActionKind::ExpireAfterCallWork { call_id } => ("expire-acw", call_id),
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
        /// Whether the call waits for this agent by name.
        directed: bool,
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
#[derive(Clone, Debug, Default)]
pub struct Router {
    calls: BTreeMap<Key, CallEntry>,
    agents: BTreeMap<Key, Agent>,
    agent_versions: BTreeMap<Key, u64>,
    arrivals: u64,
    in_flight: BTreeSet<Key>,
}

impl Router {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// A call entered a queue (first, or again after a transfer).
    pub fn call_queued(
        &mut self,
        tenant: &TenantId,
        call_id: &Name,
        queue_id: &Name,
        priority: CallPriority,
        target_agent_id: Option<Name>,
    ) {
        self.arrivals += 1;
        self.calls.insert(
            (tenant.clone(), call_id.clone()),
            CallEntry {
                queue_id: queue_id.clone(),
                arrival: self.arrivals,
                priority,
                target_agent_id,
                status: CallStatus::Waiting,
                missed_by: None,
            },
        );
    }

    /// A ringing call was not taken: it waits again, at its place. `missed_by` names the agent
    /// when the call rang there unanswered until it gave up (not when the agent declined).
    pub fn call_returned(&mut self, tenant: &TenantId, call_id: &Name, missed_by: Option<&Name>) {
        if let Some(call) = self.calls.get_mut(&(tenant.clone(), call_id.clone()))
            && call.status != CallStatus::Finished
        {
            call.status = CallStatus::Waiting;
            call.missed_by = missed_by.cloned();
        }
    }

    /// An agent answered a call.
    pub fn call_answered(&mut self, tenant: &TenantId, call_id: &Name, agent_id: &Name) {
        if let Some(call) = self.calls.get_mut(&(tenant.clone(), call_id.clone())) {
            call.status = CallStatus::Answered(agent_id.clone());
        }
    }

    /// A call ended or was abandoned.
    pub fn call_finished(&mut self, tenant: &TenantId, call_id: &Name) {
        if let Some(call) = self.calls.get_mut(&(tenant.clone(), call_id.clone())) {
            call.status = CallStatus::Finished;
        }
    }

    /// An agent recorded its event number `version`; whatever was in flight for the agent has
    /// landed.
    pub fn agent_event(
        &mut self,
        tenant: &TenantId,
        agent_id: &Name,
        version: u64,
        event: &AgentEvent,
    ) {
        let key = (tenant.clone(), agent_id.clone());
        self.in_flight.remove(&key);
        self.agent_versions.insert(key.clone(), version);
        self.agents.entry(key).or_default().evolve(event);
        let call_key = |call_id: &Name| (tenant.clone(), call_id.clone());
        match event {
            AgentEvent::Reserved { call_id, .. } => {
                if let Some(call) = self.calls.get_mut(&call_key(call_id))
                    && call.status == CallStatus::Waiting
                {
                    call.status = CallStatus::Assigned(agent_id.clone());
                }
            }
            AgentEvent::ReservationReleased { call_id, .. } => {
                if let Some(call) = self.calls.get_mut(&call_key(call_id))
                    && call.status == CallStatus::Assigned(agent_id.clone())
                {
                    call.status = CallStatus::Waiting;
                }
            }
            _ => {}
        }
    }

    /// Notes that an action for the agent was sent; the agent gets no other until its next event.
    pub fn mark_in_flight(&mut self, action: &Action) {
        self.in_flight
            .insert((action.tenant.clone(), action.agent_id.clone()));
    }

    /// Forgets an action that failed, so that it can be decided again.
    pub fn clear_in_flight(&mut self, action: &Action) {
        self.in_flight
            .remove(&(action.tenant.clone(), action.agent_id.clone()));
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
    }

    /// Calls waiting for an agent.
    pub fn waiting_calls(&self) -> usize {
        self.calls
            .values()
            .filter(|call| call.status == CallStatus::Waiting)
            .count()
    }

    fn agent_version(&self, key: &Key) -> u64 {
        self.agent_versions.get(key).copied().unwrap_or_default()
    }

    /// Agents whose after-call work reached its limit at `now` (none with an action in flight).
    pub fn after_call_work_due(&self, now: Timestamp) -> Vec<Action> {
        self.agents
            .iter()
            .filter(|(key, _)| !self.in_flight.contains(*key))
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

    /// What to do now, in a deterministic order.
    pub fn decide(&self) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut taken = self.in_flight.clone();
        for ((tenant, agent_id), agent) in &self.agents {
            if taken.contains(&(tenant.clone(), agent_id.clone())) {
                continue;
            }
            let call_status = |call_id: &Name| {
                self.calls
                    .get(&(tenant.clone(), call_id.clone()))
                    .map(|call| &call.status)
            };
            let kind = match &agent.presence {
                Presence::Reserved { call_id, .. } => match call_status(call_id) {
                    Some(CallStatus::Assigned(to)) if to == agent_id => None,
                    Some(CallStatus::Answered(by)) if by == agent_id => {
                        Some(ActionKind::StartCall {
                            call_id: call_id.clone(),
                        })
                    }
                    // Gone, back in the queue, or with someone else.
                    _ => Some(ActionKind::Release {
                        call_id: call_id.clone(),
                        missed: self
                            .calls
                            .get(&(tenant.clone(), call_id.clone()))
                            .is_some_and(|call| {
                                call.status == CallStatus::Waiting
                                    && call.missed_by.as_ref() == Some(agent_id)
                            }),
                    }),
                },
                Presence::OnCall { call_id, queue_id } => match call_status(call_id) {
                    None => None,
                    Some(CallStatus::Answered(by)) if by == agent_id => None,
                    // Ended, or transferred away.
                    Some(_) => Some(ActionKind::EndCall {
                        call_id: call_id.clone(),
                        queue_id: queue_id.clone(),
                    }),
                },
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
            .calls
            .iter()
            .filter(|(_, call)| call.status == CallStatus::Waiting)
            .collect();
        waiting.sort_by_key(|(_, call)| (std::cmp::Reverse(call.priority), call.arrival));
        for ((tenant, call_id), call) in waiting {
            let eligible = |agent_id: &Name, agent: &Agent| match &call.target_agent_id {
                Some(target) => target == agent_id,
                None => agent.serves(&call.queue_id),
            };
            let longest_idle = self
                .agents
                .iter()
                .filter(|((agent_tenant, agent_id), agent)| {
                    agent_tenant == tenant
                        && eligible(agent_id, agent)
                        && !taken.contains(&(tenant.clone(), agent_id.clone()))
                })
                .filter_map(|((_, agent_id), agent)| match agent.presence {
                    Presence::Ready { since } => Some((since, agent_id)),
                    _ => None,
                })
                .min_by(|left, right| left.cmp(right));
            if let Some((_, agent_id)) = longest_idle {
                let key = (tenant.clone(), agent_id.clone());
                actions.push(Action {
                    tenant: tenant.clone(),
                    agent_id: agent_id.clone(),
                    agent_version: self.agent_version(&key),
                    kind: ActionKind::Reserve {
                        call_id: call_id.clone(),
                        queue_id: call.queue_id.clone(),
                        directed: call.target_agent_id.is_some(),
                    },
                });
                taken.insert(key);
            }
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, name};

    use super::*;

    fn ready_agent(router: &mut Router, tenant: &str, agent: &str, queues: &[&str], since: i64) {
        let tenant = name(tenant);
        let agent = name(agent);
        for (version, event) in [
            AgentEvent::Created {
                display_name: agent.to_string(),
                center_id: name("langfang"),
                queue_ids: queues.iter().map(|q| name(q)).collect(),
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

    fn reserve(tenant: &str, agent: &str, call: &str, queue: &str) -> Action {
        Action {
            tenant: name(tenant),
            agent_id: name(agent),
            agent_version: 3,
            kind: ActionKind::Reserve {
                call_id: name(call),
                queue_id: name(queue),
                directed: false,
            },
        }
    }

    /// Feeds back the event that an action produces, as the event log would.
    fn land(router: &mut Router, action: &Action) {
        let event = match &action.kind {
            ActionKind::Reserve {
                call_id, queue_id, ..
            } => AgentEvent::Reserved {
                call_id: call_id.clone(),
                queue_id: queue_id.clone(),
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
        );
        assert_eq!(
            router.decide(),
            vec![reserve("demo", "agent-2", "c1", "general")]
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
        );
        router.call_queued(
            &name("demo"),
            &name("a-second"),
            &name("general"),
            CallPriority::Normal,
            None,
        );
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        assert_eq!(
            router.decide(),
            vec![reserve("demo", "agent-1", "late-id-first", "general")]
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
        );
        router.call_queued(
            &name("demo"),
            &name("c2"),
            &name("general"),
            CallPriority::Normal,
            None,
        );
        let first = router.decide();
        assert_eq!(first.len(), 1, "one agent, one call at a time");
        router.mark_in_flight(&first[0]);
        assert!(router.decide().is_empty(), "nothing decided twice");
        land(&mut router, &first[0]);
        assert!(router.decide().is_empty(), "the agent is reserved now");
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
        );
        let reserve = router.decide().remove(0);
        land(&mut router, &reserve);
        router.call_finished(&name("demo"), &name("c1"));
        let release = router.decide();
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
        assert!(router.decide().is_empty());
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
        );
        let reserve = router.decide().remove(0);
        land(&mut router, &reserve);
        router.call_answered(&demo, &name("c1"), &name("agent-1"));
        let start = router.decide().remove(0);
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
        );
        assert!(router.decide().is_empty(), "the agent is on a call");
        router.call_finished(&demo, &name("c1"));
        let end = router.decide().remove(0);
        assert_eq!(
            end.kind,
            ActionKind::EndCall {
                call_id: name("c1"),
                queue_id: name("general"),
            }
        );
        land(&mut router, &end);
        let next = router.decide();
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
        );
        router.call_queued(
            &demo,
            &name("urgent"),
            &name("general"),
            CallPriority::Emergency,
            None,
        );
        ready_agent(&mut router, "demo", "agent-1", &["general"], 1);
        assert_eq!(
            router.decide(),
            vec![reserve("demo", "agent-1", "urgent", "general")]
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
        );
        let reserve_c1 = router.decide().remove(0);
        land(&mut router, &reserve_c1);
        router.call_queued(
            &demo,
            &name("c2"),
            &name("general"),
            CallPriority::Normal,
            None,
        );
        router.call_returned(&demo, &name("c1"), None);
        let release = router.decide();
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
        let next = router.decide();
        assert_eq!(
            next[0].kind,
            ActionKind::Reserve {
                call_id: name("c1"),
                queue_id: name("general"),
                directed: false,
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
        );
        let reserve = router.decide().remove(0);
        assert_eq!(reserve.agent_id, name("agent-1"));
        land(&mut router, &reserve);
        // Three rings without an answer: the call waits again.
        router.call_returned(&demo, &name("c1"), Some(&name("agent-1")));
        let release = router.decide();
        assert_eq!(
            release[0].kind,
            ActionKind::Release {
                call_id: name("c1"),
                missed: true,
            }
        );
        land(&mut router, &release[0]);
        let next = router.decide();
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
        );
        let reserve_c1 = router.decide().remove(0);
        land(&mut router, &reserve_c1);
        router.call_answered(&demo, &name("c1"), &name("agent-1"));
        let start = router.decide().remove(0);
        land(&mut router, &start);
        // agent-1 hands the call to agent-2, who does not serve "general".
        router.call_queued(
            &demo,
            &name("c1"),
            &name("general"),
            CallPriority::Normal,
            Some(name("agent-2")),
        );
        let actions = router.decide();
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
        );
        assert!(router.decide().is_empty());
        ready_agent(&mut router, "globex", "agent-1", &["general"], 5);
        assert_eq!(
            router.decide(),
            vec![reserve("globex", "agent-1", "c1", "general")]
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
        );
        router.agent_event(
            &demo,
            &name("agent-1"),
            4,
            &AgentEvent::Reserved {
                call_id: name("c1"),
                queue_id: name("general"),
                at: at(3),
            },
        );
        router.call_queued(
            &demo,
            &name("c2"),
            &name("general"),
            CallPriority::Normal,
            None,
        );
        router.call_answered(&demo, &name("c1"), &name("agent-1"));
        let actions = router.decide();
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
                reserve("demo", "agent-2", "c2", "general"),
            ]
        );
    }
}
