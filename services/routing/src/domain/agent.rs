//! The agent aggregate: presence as routing sees it (DOMAIN.md §3 agent states).
//!
//! logged out → (login at a seat) not ready → (ready) ready → (reserved for a call) reserved →
//! (answered) on call → (ended) after-call work → ready. The rules:
//!
//! - **One login per agent**: a login from another seat while signed in is refused, and the
//!   attempt is recorded (DOMAIN.md §1: logging in with someone else's credentials is punished).
//! - **Not ready with a reason**: break, lunch, training, meeting or coaching; misusing "busy" is a
//!   floor violation (DOMAIN.md §3), so the reason is always recorded.
//! - **Three rings**: a reservation whose call rang unanswered (missed) leaves the agent not ready
//!   "missed" instead of ready, so that routing stops offering calls to an empty seat; a call that
//!   went away otherwise (abandoned, answered elsewhere, declined) makes the agent ready again.
//! - **After-call work**: after a call the agent wraps up for at most the queue's limit; at the
//!   limit the agent is made ready automatically and the overrun is recorded (a floor violation);
//!   a queue without a limit sends the agent straight back to ready.
//! - **Routing domain**: a large tenant splits its agents and queues into routing domains that
//!   are routed apart (each by the replica owning its partition); an agent changes domain only
//!   while logged out, so that no call or reservation is left behind in the old one.
//! - Only a ready agent can be reserved, so an agent never holds two calls. Channels: one voice
//!   call at a time, and up to [`MAX_CHATS`] chats at once (`chat_capacity`, kept for chat
//!   routing; only voice is routed now).

use std::collections::BTreeMap;

use callcenter_kit::{Aggregate, Name, Timestamp};

/// Most chats an agent may carry at once.
pub const MAX_CHATS: u8 = 10;

/// Why an agent is not ready.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum NotReadyReason {
    /// A short break.
    Break,
    /// Lunch.
    Lunch,
    /// Training.
    Training,
    /// A meeting.
    Meeting,
    /// Coaching with a team leader.
    Coaching,
    /// Set by routing: a call rang unanswered at this agent.
    Missed,
}

impl NotReadyReason {
    /// The reason's name in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            NotReadyReason::Break => "break",
            NotReadyReason::Lunch => "lunch",
            NotReadyReason::Training => "training",
            NotReadyReason::Meeting => "meeting",
            NotReadyReason::Coaching => "coaching",
            NotReadyReason::Missed => "missed",
        }
    }

    /// The reason an agent may choose by this name (`missed` is routing's to set).
    pub fn chosen(name: &str) -> Option<Self> {
        match name {
            "break" => Some(NotReadyReason::Break),
            "lunch" => Some(NotReadyReason::Lunch),
            "training" => Some(NotReadyReason::Training),
            "meeting" => Some(NotReadyReason::Meeting),
            "coaching" => Some(NotReadyReason::Coaching),
            _ => None,
        }
    }
}

/// Where an agent is.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Presence {
    /// Not signed in.
    #[default]
    LoggedOut,
    /// Signed in, not taking calls; with a reason unless the agent just signed in.
    NotReady {
        /// Why.
        reason: Option<NotReadyReason>,
    },
    /// Waiting for a call since the given time (longest idle is offered first).
    Ready {
        /// When the agent became ready.
        since: Timestamp,
    },
    /// Chosen for a call that rings at them.
    Reserved {
        /// The call.
        call_id: Name,
        /// The queue it came from.
        queue_id: Name,
    },
    /// On a call.
    OnCall {
        /// The call.
        call_id: Name,
        /// The queue it came from.
        queue_id: Name,
    },
    /// Wrapping up a call, until the queue's limit.
    AfterCallWork {
        /// The call.
        call_id: Name,
        /// When the limit is reached.
        until: Timestamp,
    },
}

impl Presence {
    fn name(&self) -> &'static str {
        match self {
            Presence::LoggedOut => "logged out",
            Presence::NotReady { .. } => "not ready",
            Presence::Ready { .. } => "ready",
            Presence::Reserved { .. } => "reserved",
            Presence::OnCall { .. } => "on call",
            Presence::AfterCallWork { .. } => "in after-call work",
        }
    }
}

/// An agent.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Agent {
    /// Set once created.
    pub profile: Option<AgentProfile>,
    /// Where the agent is.
    pub presence: Presence,
    /// The seat the agent is signed in at.
    pub seat: Option<Name>,
    /// How often the agent overran after-call work.
    pub after_call_work_overruns: u32,
    /// How often another seat tried to sign the agent in while signed in.
    pub refused_logins: u32,
}

/// Who an agent is and what they serve.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AgentProfile {
    /// Name for people.
    pub display_name: String,
    /// Home center.
    pub center_id: Name,
    /// Queues the agent takes calls from.
    pub queue_ids: Vec<Name>,
    /// Skill → proficiency (1 to 5).
    pub skills: BTreeMap<Name, u8>,
    /// Chats the agent may carry at once (voice: always one call).
    pub chat_capacity: u8,
    /// The routing domain within the tenant (`None`: the tenant's default domain).
    pub routing_domain: Option<Name>,
}

/// What can be asked of an agent.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentCommand {
    /// Defines the agent.
    Create {
        /// Name for people.
        display_name: String,
        /// Home center.
        center_id: Name,
        /// Queues served.
        queue_ids: Vec<Name>,
        /// The routing domain (`None`: the tenant's default).
        routing_domain: Option<Name>,
        /// When.
        at: Timestamp,
    },
    /// Moves a logged-out agent to another routing domain of the tenant.
    MoveToRoutingDomain {
        /// The domain (`None`: the tenant's default).
        routing_domain: Option<Name>,
        /// When.
        at: Timestamp,
    },
    /// Sets how many chats the agent may carry at once.
    SetChatCapacity {
        /// 0 to [`MAX_CHATS`].
        chats: u8,
        /// When.
        at: Timestamp,
    },
    /// Replaces the agent's skills.
    SetSkills {
        /// Skill → proficiency (1 to 5).
        skills: BTreeMap<Name, u8>,
        /// When.
        at: Timestamp,
    },
    /// Signs in at a seat.
    Login {
        /// The seat (desk, phone or device).
        seat: Name,
        /// When.
        at: Timestamp,
    },
    /// Becomes available for calls (also ends after-call work).
    SetReady {
        /// When.
        at: Timestamp,
    },
    /// Stops taking calls for a reason.
    SetNotReady {
        /// Why.
        reason: NotReadyReason,
        /// When.
        at: Timestamp,
    },
    /// Signs out.
    Logout {
        /// When.
        at: Timestamp,
    },
    /// Routing chose the agent for a call.
    Reserve {
        /// The call.
        call_id: Name,
        /// Its queue.
        queue_id: Name,
        /// Whether routing chose the agent by a rule other than queue membership (a transfer by
        /// name, skills, overflow, a repeat caller's owner): then the agent need not serve the
        /// queue.
        directed: bool,
        /// Why routing chose the agent.
        why: Why,
        /// When.
        at: Timestamp,
    },
    /// The reserved call went away unanswered.
    Release {
        /// The call.
        call_id: Name,
        /// Whether it rang at the agent until it gave up (three rings).
        missed: bool,
        /// When.
        at: Timestamp,
    },
    /// The agent answered the reserved call.
    StartCall {
        /// The call.
        call_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The agent's call ended.
    EndCall {
        /// The call.
        call_id: Name,
        /// The queue's after-call work limit in seconds (0: straight back to ready).
        after_call_work_seconds: u32,
        /// When.
        at: Timestamp,
    },
    /// The after-call work limit passed: ready again, and the overrun recorded.
    ExpireAfterCallWork {
        /// The call wrapped up.
        call_id: Name,
        /// When.
        at: Timestamp,
    },
}

/// What an agent records.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentEvent {
    /// The agent exists.
    Created {
        /// Name for people.
        display_name: String,
        /// Home center.
        center_id: Name,
        /// Queues served.
        queue_ids: Vec<Name>,
        /// The routing domain (`None`: the tenant's default).
        routing_domain: Option<Name>,
        /// When.
        at: Timestamp,
    },
    /// The (logged-out) agent moved to another routing domain.
    RoutingDomainMoved {
        /// The domain (`None`: the tenant's default).
        routing_domain: Option<Name>,
        /// When.
        at: Timestamp,
    },
    /// The agent's chat capacity changed.
    ChatCapacitySet {
        /// Chats at once.
        chats: u8,
        /// When.
        at: Timestamp,
    },
    /// The agent's skills changed.
    SkillsSet {
        /// Skill → proficiency.
        skills: BTreeMap<Name, u8>,
        /// When.
        at: Timestamp,
    },
    /// Signed in (not ready yet).
    LoggedIn {
        /// The seat.
        seat: Name,
        /// When.
        at: Timestamp,
    },
    /// Another seat tried to sign the agent in while signed in; refused.
    SecondLoginRefused {
        /// The other seat.
        seat: Name,
        /// When.
        at: Timestamp,
    },
    /// Available for calls.
    Ready {
        /// When.
        at: Timestamp,
    },
    /// Not taking calls.
    NotReady {
        /// Why.
        reason: NotReadyReason,
        /// When.
        at: Timestamp,
    },
    /// Chosen for a call.
    Reserved {
        /// The call.
        call_id: Name,
        /// Its queue.
        queue_id: Name,
        /// Why routing chose the agent.
        why: Why,
        /// When.
        at: Timestamp,
    },
    /// The reservation was released: ready again, or not ready "missed" after a missed ring.
    ReservationReleased {
        /// The call.
        call_id: Name,
        /// Whether the call rang unanswered at the agent.
        missed: bool,
        /// When.
        at: Timestamp,
    },
    /// On the call.
    CallStarted {
        /// The call.
        call_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The call ended; after-call work until the limit, or ready at once without one.
    CallEnded {
        /// The call.
        call_id: Name,
        /// The end of the after-call work allowed, if any.
        after_call_work_until: Option<Timestamp>,
        /// When.
        at: Timestamp,
    },
    /// The agent was still wrapping up at the limit: a floor violation; ready again.
    AfterCallWorkOverrun {
        /// The call.
        call_id: Name,
        /// When.
        at: Timestamp,
    },
    /// Signed out.
    LoggedOut {
        /// When.
        at: Timestamp,
    },
}

/// Why routing chose an agent for a call, as the reservation records it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Why {
    /// The rule: `directed`, `owner`, `members`, `skills`, `skills widened to N`, or
    /// `overflow from Q`.
    pub rule: String,
    /// The ready agents the rule allowed, best first (at most [`Why::MAX_CANDIDATES`]).
    pub candidates: Vec<Name>,
}

impl Why {
    /// Most candidates recorded.
    pub const MAX_CANDIDATES: usize = 10;
}

/// What was asked of an agent in a state that does not allow it (each has its reason,
/// `AGENT_CANNOT_<ACTION>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentAction {
    /// Change routing domain.
    ChangeRoutingDomain,
    /// Become ready.
    BecomeReady,
    /// Become not ready.
    BecomeNotReady,
    /// Log out.
    LogOut,
    /// Be reserved.
    Reserve,
    /// Start a call.
    StartCall,
}

impl AgentAction {
    /// The action in words, as in "cannot <action>".
    pub fn text(self) -> &'static str {
        match self {
            AgentAction::ChangeRoutingDomain => "change routing domain",
            AgentAction::BecomeReady => "become ready",
            AgentAction::BecomeNotReady => "become not ready",
            AgentAction::LogOut => "log out",
            AgentAction::Reserve => "be reserved",
            AgentAction::StartCall => "start a call",
        }
    }
}

impl std::fmt::Display for AgentAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

/// Why an agent refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// Creating an agent that exists with another profile.
    #[error("agent already exists with another profile")]
    AlreadyExists,
    /// Acting on an agent that was never created.
    #[error("agent not found")]
    NotFound,
    /// The agent's presence does not allow the command.
    #[error("agent is {presence}, cannot {action}")]
    InvalidTransition {
        /// The agent's presence.
        presence: &'static str,
        /// What was asked.
        action: AgentAction,
    },
    /// The call comes from a queue the agent does not serve.
    #[error("agent does not serve queue {queue_id}")]
    NotInQueue {
        /// The queue.
        queue_id: Name,
    },
    /// More chats than [`MAX_CHATS`].
    #[error("at most {MAX_CHATS} chats at once")]
    TooManyChats,
    /// A proficiency outside 1 to 5.
    #[error("skill {skill}: proficiency 1 to 5")]
    InvalidProficiency {
        /// The skill.
        skill: Name,
    },
}

impl Agent {
    fn refuse(&self, action: AgentAction) -> AgentError {
        if self.profile.is_none() {
            return AgentError::NotFound;
        }
        AgentError::InvalidTransition {
            presence: self.presence.name(),
            action,
        }
    }

    /// Whether the agent serves `queue_id`.
    pub fn serves(&self, queue_id: &Name) -> bool {
        self.profile
            .as_ref()
            .is_some_and(|profile| profile.queue_ids.contains(queue_id))
    }

    /// The agent's routing domain (`None`: the tenant's default).
    pub fn routing_domain(&self) -> Option<&Name> {
        self.profile
            .as_ref()
            .and_then(|profile| profile.routing_domain.as_ref())
    }

    /// The agent's proficiency in `skill` (0 without it).
    pub fn proficiency(&self, skill: &Name) -> u8 {
        self.profile
            .as_ref()
            .and_then(|profile| profile.skills.get(skill).copied())
            .unwrap_or(0)
    }
}

impl Aggregate for Agent {
    const CONTEXT: &'static str = "routing";
    const TYPE: &'static str = "agent";
    type Command = AgentCommand;
    type Event = AgentEvent;
    type Error = AgentError;

    fn decide(&self, command: &AgentCommand) -> Result<Vec<AgentEvent>, AgentError> {
        use AgentCommand as C;
        use AgentEvent as E;
        if let C::Create {
            display_name,
            center_id,
            queue_ids,
            routing_domain,
            at,
        } = command
        {
            return match &self.profile {
                None => Ok(vec![E::Created {
                    display_name: display_name.clone(),
                    center_id: center_id.clone(),
                    queue_ids: queue_ids.clone(),
                    routing_domain: routing_domain.clone(),
                    at: *at,
                }]),
                Some(profile)
                    if profile.display_name == *display_name
                        && profile.center_id == *center_id
                        && profile.queue_ids == *queue_ids
                        && profile.routing_domain == *routing_domain =>
                {
                    Ok(vec![])
                }
                Some(_) => Err(AgentError::AlreadyExists),
            };
        }
        if self.profile.is_none() {
            return Err(AgentError::NotFound);
        }
        if let C::SetChatCapacity { chats, at } = command {
            if *chats > MAX_CHATS {
                return Err(AgentError::TooManyChats);
            }
            let current = self.profile.as_ref().map(|profile| profile.chat_capacity);
            if current == Some(*chats) {
                return Ok(vec![]);
            }
            return Ok(vec![E::ChatCapacitySet {
                chats: *chats,
                at: *at,
            }]);
        }
        if let C::SetSkills { skills, at } = command {
            if let Some((skill, _)) = skills.iter().find(|(_, level)| !(1..=5).contains(*level)) {
                return Err(AgentError::InvalidProficiency {
                    skill: skill.clone(),
                });
            }
            let current = self.profile.as_ref().map(|profile| &profile.skills);
            if current == Some(skills) {
                return Ok(vec![]);
            }
            return Ok(vec![E::SkillsSet {
                skills: skills.clone(),
                at: *at,
            }]);
        }
        match (command, &self.presence) {
            (C::MoveToRoutingDomain { routing_domain, .. }, _)
                if self.routing_domain() == routing_domain.as_ref() =>
            {
                Ok(vec![])
            }
            (C::MoveToRoutingDomain { routing_domain, at }, Presence::LoggedOut) => {
                Ok(vec![E::RoutingDomainMoved {
                    routing_domain: routing_domain.clone(),
                    at: *at,
                }])
            }
            (C::MoveToRoutingDomain { .. }, _) => {
                Err(self.refuse(AgentAction::ChangeRoutingDomain))
            }
            (C::Login { seat, at }, Presence::LoggedOut) => Ok(vec![E::LoggedIn {
                seat: seat.clone(),
                at: *at,
            }]),
            (C::Login { seat, .. }, _) if self.seat.as_ref() == Some(seat) => Ok(vec![]),
            (C::Login { seat, at }, _) => Ok(vec![E::SecondLoginRefused {
                seat: seat.clone(),
                at: *at,
            }]),
            (C::SetReady { at }, Presence::NotReady { .. } | Presence::AfterCallWork { .. }) => {
                Ok(vec![E::Ready { at: *at }])
            }
            (C::SetReady { .. }, Presence::Ready { .. }) => Ok(vec![]),
            (C::SetReady { .. }, _) => Err(self.refuse(AgentAction::BecomeReady)),
            (C::SetNotReady { reason, .. }, Presence::NotReady { reason: current })
                if *current == Some(*reason) =>
            {
                Ok(vec![])
            }
            (
                C::SetNotReady { reason, at },
                Presence::Ready { .. } | Presence::NotReady { .. } | Presence::AfterCallWork { .. },
            ) => Ok(vec![E::NotReady {
                reason: *reason,
                at: *at,
            }]),
            (C::SetNotReady { .. }, _) => Err(self.refuse(AgentAction::BecomeNotReady)),
            (
                C::Logout { at },
                Presence::NotReady { .. } | Presence::Ready { .. } | Presence::AfterCallWork { .. },
            ) => Ok(vec![E::LoggedOut { at: *at }]),
            (C::Logout { .. }, Presence::LoggedOut) => Ok(vec![]),
            (C::Logout { .. }, _) => Err(self.refuse(AgentAction::LogOut)),
            (
                C::Reserve {
                    call_id,
                    queue_id,
                    directed,
                    why,
                    at,
                },
                Presence::Ready { .. },
            ) => {
                if !directed && !self.serves(queue_id) {
                    return Err(AgentError::NotInQueue {
                        queue_id: queue_id.clone(),
                    });
                }
                Ok(vec![E::Reserved {
                    call_id: call_id.clone(),
                    queue_id: queue_id.clone(),
                    why: why.clone(),
                    at: *at,
                }])
            }
            (C::Reserve { call_id, .. }, Presence::Reserved { call_id: held, .. })
                if held == call_id =>
            {
                Ok(vec![])
            }
            (C::Reserve { .. }, _) => Err(self.refuse(AgentAction::Reserve)),
            (
                C::Release {
                    call_id,
                    missed,
                    at,
                },
                Presence::Reserved { call_id: held, .. },
            ) if held == call_id => Ok(vec![E::ReservationReleased {
                call_id: call_id.clone(),
                missed: *missed,
                at: *at,
            }]),
            (C::Release { .. }, _) => Ok(vec![]),
            (C::StartCall { call_id, at }, Presence::Reserved { call_id: held, .. })
                if held == call_id =>
            {
                Ok(vec![E::CallStarted {
                    call_id: call_id.clone(),
                    at: *at,
                }])
            }
            (C::StartCall { call_id, .. }, Presence::OnCall { call_id: held, .. })
                if held == call_id =>
            {
                Ok(vec![])
            }
            (C::StartCall { .. }, _) => Err(self.refuse(AgentAction::StartCall)),
            (
                C::EndCall {
                    call_id,
                    after_call_work_seconds,
                    at,
                },
                Presence::OnCall { call_id: held, .. },
            ) if held == call_id => Ok(vec![E::CallEnded {
                call_id: call_id.clone(),
                after_call_work_until: (*after_call_work_seconds > 0)
                    .then(|| at.plus_millis(i64::from(*after_call_work_seconds) * 1000)),
                at: *at,
            }]),
            (C::EndCall { .. }, _) => Ok(vec![]),
            (
                C::ExpireAfterCallWork { call_id, at },
                Presence::AfterCallWork {
                    call_id: held,
                    until,
                },
            ) if held == call_id && at >= until => Ok(vec![E::AfterCallWorkOverrun {
                call_id: call_id.clone(),
                at: *at,
            }]),
            (C::ExpireAfterCallWork { .. }, _) => Ok(vec![]),
            (C::Create { .. } | C::SetSkills { .. } | C::SetChatCapacity { .. }, _) => {
                unreachable!("handled above")
            }
        }
    }

    fn evolve(&mut self, event: &AgentEvent) {
        self.presence = match event {
            AgentEvent::Created {
                display_name,
                center_id,
                queue_ids,
                routing_domain,
                ..
            } => {
                self.profile = Some(AgentProfile {
                    display_name: display_name.clone(),
                    center_id: center_id.clone(),
                    queue_ids: queue_ids.clone(),
                    skills: BTreeMap::new(),
                    chat_capacity: 0,
                    routing_domain: routing_domain.clone(),
                });
                Presence::LoggedOut
            }
            AgentEvent::RoutingDomainMoved { routing_domain, .. } => {
                if let Some(profile) = &mut self.profile {
                    profile.routing_domain = routing_domain.clone();
                }
                return;
            }
            AgentEvent::ChatCapacitySet { chats, .. } => {
                if let Some(profile) = &mut self.profile {
                    profile.chat_capacity = *chats;
                }
                return;
            }
            AgentEvent::SkillsSet { skills, .. } => {
                if let Some(profile) = &mut self.profile {
                    profile.skills = skills.clone();
                }
                return;
            }
            AgentEvent::LoggedIn { seat, .. } => {
                self.seat = Some(seat.clone());
                Presence::NotReady { reason: None }
            }
            AgentEvent::SecondLoginRefused { .. } => {
                self.refused_logins += 1;
                return;
            }
            AgentEvent::NotReady { reason, .. } => Presence::NotReady {
                reason: Some(*reason),
            },
            AgentEvent::ReservationReleased { missed: true, .. } => Presence::NotReady {
                reason: Some(NotReadyReason::Missed),
            },
            AgentEvent::Ready { at }
            | AgentEvent::ReservationReleased { at, .. }
            | AgentEvent::CallEnded {
                after_call_work_until: None,
                at,
                ..
            } => Presence::Ready { since: *at },
            AgentEvent::CallEnded {
                call_id,
                after_call_work_until: Some(until),
                ..
            } => Presence::AfterCallWork {
                call_id: call_id.clone(),
                until: *until,
            },
            AgentEvent::AfterCallWorkOverrun { at, .. } => {
                self.after_call_work_overruns += 1;
                Presence::Ready { since: *at }
            }
            AgentEvent::Reserved {
                call_id, queue_id, ..
            } => Presence::Reserved {
                call_id: call_id.clone(),
                queue_id: queue_id.clone(),
            },
            AgentEvent::CallStarted { call_id, .. } => {
                let queue_id = match &self.presence {
                    Presence::Reserved { queue_id, .. } => queue_id.clone(),
                    _ => Name::new("unknown").expect("valid name"),
                };
                Presence::OnCall {
                    call_id: call_id.clone(),
                    queue_id,
                }
            }
            AgentEvent::LoggedOut { .. } => {
                self.seat = None;
                Presence::LoggedOut
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, given, name};

    use super::*;

    fn created() -> AgentEvent {
        AgentEvent::Created {
            display_name: "Li Lei".into(),
            center_id: name("langfang"),
            queue_ids: vec![name("general")],
            routing_domain: None,
            at: at(0),
        }
    }

    fn logged_in() -> AgentEvent {
        AgentEvent::LoggedIn {
            seat: name("desk-1"),
            at: at(1),
        }
    }

    fn ready() -> Vec<AgentEvent> {
        vec![created(), logged_in(), AgentEvent::Ready { at: at(2) }]
    }

    fn reserved() -> Vec<AgentEvent> {
        let mut events = ready();
        events.push(AgentEvent::Reserved {
            call_id: name("c1"),
            queue_id: name("general"),
            why: Why::default(),
            at: at(3),
        });
        events
    }

    fn on_call() -> Vec<AgentEvent> {
        let mut events = reserved();
        events.push(AgentEvent::CallStarted {
            call_id: name("c1"),
            at: at(5),
        });
        events
    }

    fn reserve(call: &str, queue: &str) -> AgentCommand {
        AgentCommand::Reserve {
            call_id: name(call),
            queue_id: name(queue),
            directed: false,
            why: Why::default(),
            at: at(3),
        }
    }

    #[test]
    fn an_agent_logs_in_at_a_seat_not_ready_and_becomes_ready() {
        let state = given::<Agent>([created()])
            .when(AgentCommand::Login {
                seat: name("desk-1"),
                at: at(1),
            })
            .then([logged_in()]);
        assert_eq!(state.presence, Presence::NotReady { reason: None });
        assert_eq!(state.seat, Some(name("desk-1")));
        let state = given::<Agent>([created(), logged_in()])
            .when(AgentCommand::SetReady { at: at(2) })
            .then([AgentEvent::Ready { at: at(2) }]);
        assert_eq!(state.presence, Presence::Ready { since: at(2) });
        given::<Agent>([created()])
            .when(AgentCommand::SetReady { at: at(2) })
            .then_error(AgentError::InvalidTransition {
                presence: "logged out",
                action: AgentAction::BecomeReady,
            });
        given::<Agent>([])
            .when(AgentCommand::Login {
                seat: name("desk-1"),
                at: at(1),
            })
            .then_error(AgentError::NotFound);
    }

    #[test]
    fn one_login_per_agent_a_second_seat_is_refused_and_recorded() {
        given::<Agent>(ready())
            .when(AgentCommand::Login {
                seat: name("desk-1"),
                at: at(9),
            })
            .then([]);
        let state = given::<Agent>(ready())
            .when(AgentCommand::Login {
                seat: name("desk-7"),
                at: at(9),
            })
            .then([AgentEvent::SecondLoginRefused {
                seat: name("desk-7"),
                at: at(9),
            }]);
        assert_eq!(
            state.seat,
            Some(name("desk-1")),
            "the first seat keeps the agent"
        );
        assert_eq!(state.presence, Presence::Ready { since: at(2) });
        assert_eq!(state.refused_logins, 1);
        // After logging out, another seat may sign in.
        let mut logged_out = ready();
        logged_out.push(AgentEvent::LoggedOut { at: at(10) });
        given::<Agent>(logged_out)
            .when(AgentCommand::Login {
                seat: name("desk-7"),
                at: at(11),
            })
            .then([AgentEvent::LoggedIn {
                seat: name("desk-7"),
                at: at(11),
            }]);
    }

    #[test]
    fn not_ready_always_carries_a_reason() {
        let state = given::<Agent>(ready())
            .when(AgentCommand::SetNotReady {
                reason: NotReadyReason::Lunch,
                at: at(4),
            })
            .then([AgentEvent::NotReady {
                reason: NotReadyReason::Lunch,
                at: at(4),
            }]);
        assert_eq!(
            state.presence,
            Presence::NotReady {
                reason: Some(NotReadyReason::Lunch)
            }
        );
        let mut at_lunch = ready();
        at_lunch.push(AgentEvent::NotReady {
            reason: NotReadyReason::Lunch,
            at: at(4),
        });
        given::<Agent>(at_lunch.clone())
            .when(AgentCommand::SetNotReady {
                reason: NotReadyReason::Lunch,
                at: at(5),
            })
            .then([]);
        given::<Agent>(at_lunch)
            .when(AgentCommand::SetNotReady {
                reason: NotReadyReason::Coaching,
                at: at(5),
            })
            .then([AgentEvent::NotReady {
                reason: NotReadyReason::Coaching,
                at: at(5),
            }]);
        given::<Agent>(on_call())
            .when(AgentCommand::SetNotReady {
                reason: NotReadyReason::Break,
                at: at(6),
            })
            .then_error(AgentError::InvalidTransition {
                presence: "on call",
                action: AgentAction::BecomeNotReady,
            });
    }

    #[test]
    fn only_a_ready_agent_of_the_queue_is_reserved_so_no_agent_holds_two_calls() {
        given::<Agent>(ready())
            .when(reserve("c1", "general"))
            .then([AgentEvent::Reserved {
                call_id: name("c1"),
                queue_id: name("general"),
                why: Why::default(),
                at: at(3),
            }]);
        given::<Agent>(ready())
            .when(reserve("c1", "repairs"))
            .then_error(AgentError::NotInQueue {
                queue_id: name("repairs"),
            });
        given::<Agent>(ready())
            .when(AgentCommand::Reserve {
                call_id: name("c1"),
                queue_id: name("repairs"),
                directed: true,
                why: Why::default(),
                at: at(3),
            })
            .then([AgentEvent::Reserved {
                call_id: name("c1"),
                queue_id: name("repairs"),
                why: Why::default(),
                at: at(3),
            }]);
        given::<Agent>(reserved())
            .when(reserve("c1", "general"))
            .then([]);
        given::<Agent>(reserved())
            .when(reserve("c2", "general"))
            .then_error(AgentError::InvalidTransition {
                presence: "reserved",
                action: AgentAction::Reserve,
            });
    }

    #[test]
    fn a_reservation_ends_in_a_call_or_is_released_back_to_ready() {
        let released = given::<Agent>(reserved())
            .when(AgentCommand::Release {
                call_id: name("c1"),
                missed: false,
                at: at(9),
            })
            .then([AgentEvent::ReservationReleased {
                call_id: name("c1"),
                missed: false,
                at: at(9),
            }]);
        assert_eq!(released.presence, Presence::Ready { since: at(9) });
        let on_call = given::<Agent>(reserved())
            .when(AgentCommand::StartCall {
                call_id: name("c1"),
                at: at(5),
            })
            .then([AgentEvent::CallStarted {
                call_id: name("c1"),
                at: at(5),
            }]);
        assert_eq!(
            on_call.presence,
            Presence::OnCall {
                call_id: name("c1"),
                queue_id: name("general"),
            }
        );
        given::<Agent>(reserved())
            .when(AgentCommand::StartCall {
                call_id: name("other"),
                at: at(5),
            })
            .then_error(AgentError::InvalidTransition {
                presence: "reserved",
                action: AgentAction::StartCall,
            });
    }

    #[test]
    fn an_agent_who_misses_a_ring_is_set_not_ready_missed() {
        let missed = given::<Agent>(reserved())
            .when(AgentCommand::Release {
                call_id: name("c1"),
                missed: true,
                at: at(18),
            })
            .then([AgentEvent::ReservationReleased {
                call_id: name("c1"),
                missed: true,
                at: at(18),
            }]);
        assert_eq!(
            missed.presence,
            Presence::NotReady {
                reason: Some(NotReadyReason::Missed)
            }
        );
    }

    #[test]
    fn after_call_work_lasts_at_most_the_queue_limit_then_the_agent_is_ready_and_the_overrun_recorded()
     {
        let ended = AgentEvent::CallEnded {
            call_id: name("c1"),
            after_call_work_until: Some(at(90)),
            at: at(60),
        };
        let wrapping_up = given::<Agent>(on_call())
            .when(AgentCommand::EndCall {
                call_id: name("c1"),
                after_call_work_seconds: 30,
                at: at(60),
            })
            .then([ended.clone()]);
        assert_eq!(
            wrapping_up.presence,
            Presence::AfterCallWork {
                call_id: name("c1"),
                until: at(90)
            }
        );
        let mut after = on_call();
        after.push(ended);
        // Not yet at the limit: nothing happens.
        given::<Agent>(after.clone())
            .when(AgentCommand::ExpireAfterCallWork {
                call_id: name("c1"),
                at: at(89),
            })
            .then([]);
        given::<Agent>(after.clone())
            .when(reserve("c2", "general"))
            .then_error(AgentError::InvalidTransition {
                presence: "in after-call work",
                action: AgentAction::Reserve,
            });
        let overrun = given::<Agent>(after.clone())
            .when(AgentCommand::ExpireAfterCallWork {
                call_id: name("c1"),
                at: at(90),
            })
            .then([AgentEvent::AfterCallWorkOverrun {
                call_id: name("c1"),
                at: at(90),
            }]);
        assert_eq!(overrun.presence, Presence::Ready { since: at(90) });
        assert_eq!(overrun.after_call_work_overruns, 1);
        // Wrapped up in time: ready, and no overrun.
        let in_time = given::<Agent>(after)
            .when(AgentCommand::SetReady { at: at(75) })
            .then([AgentEvent::Ready { at: at(75) }]);
        assert_eq!(in_time.after_call_work_overruns, 0);
    }

    #[test]
    fn a_queue_without_after_call_work_sends_the_agent_straight_back_to_ready() {
        let state = given::<Agent>(on_call())
            .when(AgentCommand::EndCall {
                call_id: name("c1"),
                after_call_work_seconds: 0,
                at: at(60),
            })
            .then([AgentEvent::CallEnded {
                call_id: name("c1"),
                after_call_work_until: None,
                at: at(60),
            }]);
        assert_eq!(state.presence, Presence::Ready { since: at(60) });
    }

    #[test]
    fn an_agent_on_a_call_cannot_log_out_until_it_ends() {
        given::<Agent>(on_call())
            .when(AgentCommand::Logout { at: at(6) })
            .then_error(AgentError::InvalidTransition {
                presence: "on call",
                action: AgentAction::LogOut,
            });
    }

    #[test]
    fn an_agent_carries_one_voice_call_and_up_to_ten_chats() {
        let state = given::<Agent>(ready())
            .when(AgentCommand::SetChatCapacity {
                chats: 3,
                at: at(4),
            })
            .then([AgentEvent::ChatCapacitySet {
                chats: 3,
                at: at(4),
            }]);
        assert_eq!(state.profile.unwrap().chat_capacity, 3);
        given::<Agent>(ready())
            .when(AgentCommand::SetChatCapacity {
                chats: 11,
                at: at(4),
            })
            .then_error(AgentError::TooManyChats);
    }

    #[test]
    fn an_agent_changes_routing_domain_only_while_logged_out() {
        let moved = AgentEvent::RoutingDomainMoved {
            routing_domain: Some(name("north")),
            at: at(4),
        };
        given::<Agent>(ready())
            .when(AgentCommand::MoveToRoutingDomain {
                routing_domain: Some(name("north")),
                at: at(4),
            })
            .then_error(AgentError::InvalidTransition {
                presence: "ready",
                action: AgentAction::ChangeRoutingDomain,
            });
        let state = given::<Agent>(vec![created()])
            .when(AgentCommand::MoveToRoutingDomain {
                routing_domain: Some(name("north")),
                at: at(4),
            })
            .then([moved.clone()]);
        assert_eq!(state.routing_domain(), Some(&name("north")));
        given::<Agent>(vec![created(), moved])
            .when(AgentCommand::MoveToRoutingDomain {
                routing_domain: Some(name("north")),
                at: at(5),
            })
            .then([]);
    }
}
