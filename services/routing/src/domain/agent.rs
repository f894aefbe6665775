//! The agent aggregate: presence as routing sees it (DOMAIN.md §3 agent states).
//!
//! logged out → (login) not ready → (ready) ready → (reserved for a call) reserved → (answered)
//! on call → (ended) ready. A reservation is released back to ready when the call goes away
//! before it is answered. Only a ready agent can be reserved, so an agent never holds two calls.

use callcenter_kit::{Aggregate, Name, Timestamp};

/// Where an agent is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Presence {
    /// Not signed in.
    #[default]
    LoggedOut,
    /// Signed in, not taking calls.
    NotReady,
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
    },
}

impl Presence {
    fn name(&self) -> &'static str {
        match self {
            Presence::LoggedOut => "logged out",
            Presence::NotReady => "not ready",
            Presence::Ready { .. } => "ready",
            Presence::Reserved { .. } => "reserved",
            Presence::OnCall { .. } => "on call",
        }
    }
}

/// An agent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Agent {
    /// Set once created.
    pub profile: Option<AgentProfile>,
    /// Where the agent is.
    pub presence: Presence,
}

/// Who an agent is and what they serve.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentProfile {
    /// Name for people.
    pub display_name: String,
    /// Home center.
    pub center_id: Name,
    /// Queues the agent takes calls from.
    pub queue_ids: Vec<Name>,
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
        /// When.
        at: Timestamp,
    },
    /// Signs in.
    Login {
        /// When.
        at: Timestamp,
    },
    /// Becomes available for calls.
    SetReady {
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
        /// Whether the call was transferred to this agent by name (then the agent need not serve
        /// the queue).
        directed: bool,
        /// When.
        at: Timestamp,
    },
    /// The reserved call went away unanswered.
    Release {
        /// The call.
        call_id: Name,
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
        /// When.
        at: Timestamp,
    },
    /// Signed in (not ready yet).
    LoggedIn {
        /// When.
        at: Timestamp,
    },
    /// Available for calls.
    Ready {
        /// When.
        at: Timestamp,
    },
    /// Chosen for a call.
    Reserved {
        /// The call.
        call_id: Name,
        /// Its queue.
        queue_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The reservation was released; ready again.
    ReservationReleased {
        /// The call.
        call_id: Name,
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
    /// The call ended; ready again.
    CallEnded {
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
        action: &'static str,
    },
    /// The call comes from a queue the agent does not serve.
    #[error("agent does not serve queue {queue_id}")]
    NotInQueue {
        /// The queue.
        queue_id: Name,
    },
}

impl Agent {
    fn refuse(&self, action: &'static str) -> AgentError {
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
            at,
        } = command
        {
            return match &self.profile {
                None => Ok(vec![E::Created {
                    display_name: display_name.clone(),
                    center_id: center_id.clone(),
                    queue_ids: queue_ids.clone(),
                    at: *at,
                }]),
                Some(profile)
                    if profile.display_name == *display_name
                        && profile.center_id == *center_id
                        && profile.queue_ids == *queue_ids =>
                {
                    Ok(vec![])
                }
                Some(_) => Err(AgentError::AlreadyExists),
            };
        }
        if self.profile.is_none() {
            return Err(AgentError::NotFound);
        }
        match (command, &self.presence) {
            (C::Login { at }, Presence::LoggedOut) => Ok(vec![E::LoggedIn { at: *at }]),
            (C::Login { .. }, _) => Ok(vec![]),
            (C::SetReady { at }, Presence::NotReady) => Ok(vec![E::Ready { at: *at }]),
            (C::SetReady { .. }, Presence::Ready { .. }) => Ok(vec![]),
            (C::SetReady { .. }, _) => Err(self.refuse("become ready")),
            (C::Logout { at }, Presence::NotReady | Presence::Ready { .. }) => {
                Ok(vec![E::LoggedOut { at: *at }])
            }
            (C::Logout { .. }, Presence::LoggedOut) => Ok(vec![]),
            (C::Logout { .. }, _) => Err(self.refuse("log out")),
            (
                C::Reserve {
                    call_id,
                    queue_id,
                    directed,
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
                    at: *at,
                }])
            }
            (C::Reserve { call_id, .. }, Presence::Reserved { call_id: held, .. })
                if held == call_id =>
            {
                Ok(vec![])
            }
            (C::Reserve { .. }, _) => Err(self.refuse("be reserved")),
            (C::Release { call_id, at }, Presence::Reserved { call_id: held, .. })
                if held == call_id =>
            {
                Ok(vec![E::ReservationReleased {
                    call_id: call_id.clone(),
                    at: *at,
                }])
            }
            (C::Release { .. }, _) => Ok(vec![]),
            (C::StartCall { call_id, at }, Presence::Reserved { call_id: held, .. })
                if held == call_id =>
            {
                Ok(vec![E::CallStarted {
                    call_id: call_id.clone(),
                    at: *at,
                }])
            }
            (C::StartCall { call_id, .. }, Presence::OnCall { call_id: held })
                if held == call_id =>
            {
                Ok(vec![])
            }
            (C::StartCall { .. }, _) => Err(self.refuse("start a call")),
            (C::EndCall { call_id, at }, Presence::OnCall { call_id: held }) if held == call_id => {
                Ok(vec![E::CallEnded {
                    call_id: call_id.clone(),
                    at: *at,
                }])
            }
            (C::EndCall { .. }, _) => Ok(vec![]),
            (C::Create { .. }, _) => unreachable!("handled above"),
        }
    }

    fn evolve(&mut self, event: &AgentEvent) {
        self.presence = match event {
            AgentEvent::Created {
                display_name,
                center_id,
                queue_ids,
                ..
            } => {
                self.profile = Some(AgentProfile {
                    display_name: display_name.clone(),
                    center_id: center_id.clone(),
                    queue_ids: queue_ids.clone(),
                });
                Presence::LoggedOut
            }
            AgentEvent::LoggedIn { .. } => Presence::NotReady,
            AgentEvent::Ready { at }
            | AgentEvent::ReservationReleased { at, .. }
            | AgentEvent::CallEnded { at, .. } => Presence::Ready { since: *at },
            AgentEvent::Reserved {
                call_id, queue_id, ..
            } => Presence::Reserved {
                call_id: call_id.clone(),
                queue_id: queue_id.clone(),
            },
            AgentEvent::CallStarted { call_id, .. } => Presence::OnCall {
                call_id: call_id.clone(),
            },
            AgentEvent::LoggedOut { .. } => Presence::LoggedOut,
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
            at: at(0),
        }
    }

    fn ready() -> Vec<AgentEvent> {
        vec![
            created(),
            AgentEvent::LoggedIn { at: at(1) },
            AgentEvent::Ready { at: at(2) },
        ]
    }

    fn reserve(call: &str, queue: &str) -> AgentCommand {
        AgentCommand::Reserve {
            call_id: name(call),
            queue_id: name(queue),
            directed: false,
            at: at(3),
        }
    }

    #[test]
    fn an_agent_logs_in_not_ready_and_becomes_ready() {
        let state = given::<Agent>([created()])
            .when(AgentCommand::Login { at: at(1) })
            .then([AgentEvent::LoggedIn { at: at(1) }]);
        assert_eq!(state.presence, Presence::NotReady);
        let state = given::<Agent>([created(), AgentEvent::LoggedIn { at: at(1) }])
            .when(AgentCommand::SetReady { at: at(2) })
            .then([AgentEvent::Ready { at: at(2) }]);
        assert_eq!(state.presence, Presence::Ready { since: at(2) });
        given::<Agent>([created()])
            .when(AgentCommand::SetReady { at: at(2) })
            .then_error(AgentError::InvalidTransition {
                presence: "logged out",
                action: "become ready",
            });
        given::<Agent>([])
            .when(AgentCommand::Login { at: at(1) })
            .then_error(AgentError::NotFound);
    }

    #[test]
    fn only_a_ready_agent_of_the_queue_is_reserved_so_no_agent_holds_two_calls() {
        given::<Agent>(ready())
            .when(reserve("c1", "general"))
            .then([AgentEvent::Reserved {
                call_id: name("c1"),
                queue_id: name("general"),
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
                at: at(3),
            })
            .then([AgentEvent::Reserved {
                call_id: name("c1"),
                queue_id: name("repairs"),
                at: at(3),
            }]);
        let mut reserved = ready();
        reserved.push(AgentEvent::Reserved {
            call_id: name("c1"),
            queue_id: name("general"),
            at: at(3),
        });
        given::<Agent>(reserved.clone())
            .when(reserve("c1", "general"))
            .then([]);
        given::<Agent>(reserved)
            .when(reserve("c2", "general"))
            .then_error(AgentError::InvalidTransition {
                presence: "reserved",
                action: "be reserved",
            });
    }

    #[test]
    fn a_reservation_ends_in_a_call_or_is_released_back_to_ready() {
        let mut reserved = ready();
        reserved.push(AgentEvent::Reserved {
            call_id: name("c1"),
            queue_id: name("general"),
            at: at(3),
        });
        let released = given::<Agent>(reserved.clone())
            .when(AgentCommand::Release {
                call_id: name("c1"),
                at: at(9),
            })
            .then([AgentEvent::ReservationReleased {
                call_id: name("c1"),
                at: at(9),
            }]);
        assert_eq!(released.presence, Presence::Ready { since: at(9) });
        let on_call = given::<Agent>(reserved.clone())
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
                call_id: name("c1")
            }
        );
        given::<Agent>(reserved)
            .when(AgentCommand::StartCall {
                call_id: name("other"),
                at: at(5),
            })
            .then_error(AgentError::InvalidTransition {
                presence: "reserved",
                action: "start a call",
            });
    }

    #[test]
    fn an_agent_on_a_call_cannot_log_out_until_it_ends() {
        let mut on_call = ready();
        on_call.extend([
            AgentEvent::Reserved {
                call_id: name("c1"),
                queue_id: name("general"),
                at: at(3),
            },
            AgentEvent::CallStarted {
                call_id: name("c1"),
                at: at(5),
            },
        ]);
        given::<Agent>(on_call.clone())
            .when(AgentCommand::Logout { at: at(6) })
            .then_error(AgentError::InvalidTransition {
                presence: "on call",
                action: "log out",
            });
        let after = given::<Agent>(on_call)
            .when(AgentCommand::EndCall {
                call_id: name("c1"),
                at: at(60),
            })
            .then([AgentEvent::CallEnded {
                call_id: name("c1"),
                at: at(60),
            }]);
        assert_eq!(after.presence, Presence::Ready { since: at(60) });
    }
}
