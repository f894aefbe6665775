//! The call aggregate: one call from the moment it reaches the platform until it ends or is
//! abandoned. Transitions the state does not allow are refused, so a call cannot be answered twice,
//! ended before it was answered, or revived after it finished.
//!
//! Lifecycle of this first slice: offered → queued → ringing (an agent is reserved) → answered →
//! ended; abandoned from queued or ringing.

use callcenter_kit::{Aggregate, Name, Timestamp};

use super::number::PhoneNumber;

/// Who did something to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// The person who called.
    Caller,
    /// The agent on the call.
    Agent,
    /// The platform itself.
    System,
}

/// Where a call was when the caller left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallPhase {
    /// Waiting in a queue.
    Queued,
    /// Ringing at an agent.
    Ringing,
}

/// Where a call is in its lifecycle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CallState {
    /// No call with this id yet.
    #[default]
    Unknown,
    /// Waiting for an agent.
    Queued,
    /// Offered to a reserved agent.
    Ringing {
        /// The agent it rings at.
        agent_id: Name,
    },
    /// An agent took it.
    Answered {
        /// The agent on the call.
        agent_id: Name,
    },
    /// Hung up after it was answered.
    Ended,
    /// The caller left before an agent answered.
    Abandoned,
}

impl CallState {
    fn name(&self) -> &'static str {
        match self {
            CallState::Unknown => "unknown",
            CallState::Queued => "queued",
            CallState::Ringing { .. } => "ringing",
            CallState::Answered { .. } => "answered",
            CallState::Ended => "ended",
            CallState::Abandoned => "abandoned",
        }
    }
}

/// A call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Call {
    /// Its lifecycle state.
    pub state: CallState,
    /// Who called.
    pub caller_number: Option<PhoneNumber>,
    /// What they dialled.
    pub dialled_number: Option<PhoneNumber>,
    /// The queue it waits or waited in.
    pub queue_id: Option<Name>,
    /// The agent it rang at or was answered by.
    pub agent_id: Option<Name>,
    /// When it reached the platform.
    pub offered_at: Option<Timestamp>,
    /// When it entered its queue.
    pub queued_at: Option<Timestamp>,
    /// When an agent answered.
    pub answered_at: Option<Timestamp>,
    /// When it ended or was abandoned.
    pub ended_at: Option<Timestamp>,
}

/// What can be asked of a call.
#[derive(Clone, Debug, PartialEq)]
pub enum CallCommand {
    /// A new inbound call, queued at once.
    Offer {
        /// Who calls.
        caller_number: PhoneNumber,
        /// What they dialled.
        dialled_number: PhoneNumber,
        /// The queue chosen for it.
        queue_id: Name,
        /// When.
        at: Timestamp,
    },
    /// Routing reserved an agent: ring them.
    Ring {
        /// The reserved agent.
        agent_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The ringing agent took the call.
    Answer {
        /// The agent answering.
        agent_id: Name,
        /// When.
        at: Timestamp,
    },
    /// Someone hung up an answered call.
    End {
        /// Who hung up.
        ended_by: Party,
        /// When.
        at: Timestamp,
    },
    /// The caller hung up before an agent answered.
    Abandon {
        /// When.
        at: Timestamp,
    },
}

/// What a call records.
#[derive(Clone, Debug, PartialEq)]
pub enum CallEvent {
    /// The call reached the platform.
    Offered {
        /// Who calls.
        caller_number: PhoneNumber,
        /// What they dialled.
        dialled_number: PhoneNumber,
        /// When.
        at: Timestamp,
    },
    /// The call waits in a queue.
    Queued {
        /// The queue.
        queue_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The call rings at a reserved agent.
    Ringing {
        /// The agent.
        agent_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The agent took the call.
    Answered {
        /// The agent.
        agent_id: Name,
        /// The queue it waited in.
        queue_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The answered call was hung up.
    Ended {
        /// Who hung up.
        ended_by: Party,
        /// When.
        at: Timestamp,
    },
    /// The caller left before an agent answered.
    Abandoned {
        /// The queue it waited in.
        queue_id: Name,
        /// Where it was.
        phase: CallPhase,
        /// How long it waited, in milliseconds.
        waited_ms: i64,
        /// When.
        at: Timestamp,
    },
}

/// Why a call refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Offering a call id that is already taken.
    #[error("call already exists")]
    AlreadyExists,
    /// Acting on a call that was never offered.
    #[error("call not found")]
    NotFound,
    /// The call is not in a state that allows the command.
    #[error("call is {state}, cannot {action}")]
    InvalidTransition {
        /// The call's state.
        state: &'static str,
        /// What was asked.
        action: &'static str,
    },
    /// The call rings at (or was answered by) another agent.
    #[error("call is with agent {expected}, not {actual}")]
    WrongAgent {
        /// The agent the call is with.
        expected: Name,
        /// The agent that asked.
        actual: Name,
    },
}

impl Call {
    fn refuse(&self, action: &'static str) -> CallError {
        match self.state {
            CallState::Unknown => CallError::NotFound,
            ref state => CallError::InvalidTransition {
                state: state.name(),
                action,
            },
        }
    }

    fn waited_ms(&self, at: Timestamp) -> i64 {
        self.queued_at.map_or(0, |queued| at.millis_since(queued))
    }

    /// Whether the call is over (ended or abandoned).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, CallState::Ended | CallState::Abandoned)
    }
}

impl Aggregate for Call {
    const CONTEXT: &'static str = "telephony";
    const TYPE: &'static str = "call";
    type Command = CallCommand;
    type Event = CallEvent;
    type Error = CallError;

    fn decide(&self, command: &CallCommand) -> Result<Vec<CallEvent>, CallError> {
        match command {
            CallCommand::Offer {
                caller_number,
                dialled_number,
                queue_id,
                at,
            } => {
                if self.state != CallState::Unknown {
                    return Err(CallError::AlreadyExists);
                }
                Ok(vec![
                    CallEvent::Offered {
                        caller_number: caller_number.clone(),
                        dialled_number: dialled_number.clone(),
                        at: *at,
                    },
                    CallEvent::Queued {
                        queue_id: queue_id.clone(),
                        at: *at,
                    },
                ])
            }
            CallCommand::Ring { agent_id, at } => match &self.state {
                CallState::Queued => Ok(vec![CallEvent::Ringing {
                    agent_id: agent_id.clone(),
                    at: *at,
                }]),
                CallState::Ringing { agent_id: ringing } if ringing == agent_id => Ok(vec![]),
                CallState::Ringing { agent_id: ringing } => Err(CallError::WrongAgent {
                    expected: ringing.clone(),
                    actual: agent_id.clone(),
                }),
                _ => Err(self.refuse("ring")),
            },
            CallCommand::Answer { agent_id, at } => match &self.state {
                CallState::Ringing { agent_id: ringing } if ringing == agent_id => {
                    Ok(vec![CallEvent::Answered {
                        agent_id: agent_id.clone(),
                        queue_id: self.queue_id.clone().expect("a ringing call has a queue"),
                        at: *at,
                    }])
                }
                CallState::Answered { agent_id: answered } if answered == agent_id => Ok(vec![]),
                CallState::Ringing { agent_id: other }
                | CallState::Answered { agent_id: other } => Err(CallError::WrongAgent {
                    expected: other.clone(),
                    actual: agent_id.clone(),
                }),
                _ => Err(self.refuse("answer")),
            },
            CallCommand::End { ended_by, at } => match &self.state {
                CallState::Answered { .. } => Ok(vec![CallEvent::Ended {
                    ended_by: *ended_by,
                    at: *at,
                }]),
                CallState::Ended => Ok(vec![]),
                _ => Err(self.refuse("end")),
            },
            CallCommand::Abandon { at } => {
                let phase = match &self.state {
                    CallState::Queued => CallPhase::Queued,
                    CallState::Ringing { .. } => CallPhase::Ringing,
                    CallState::Abandoned => return Ok(vec![]),
                    _ => return Err(self.refuse("abandon")),
                };
                Ok(vec![CallEvent::Abandoned {
                    queue_id: self.queue_id.clone().expect("a waiting call has a queue"),
                    phase,
                    waited_ms: self.waited_ms(*at),
                    at: *at,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &CallEvent) {
        match event {
            CallEvent::Offered {
                caller_number,
                dialled_number,
                at,
            } => {
                self.caller_number = Some(caller_number.clone());
                self.dialled_number = Some(dialled_number.clone());
                self.offered_at = Some(*at);
            }
            CallEvent::Queued { queue_id, at } => {
                self.state = CallState::Queued;
                self.queue_id = Some(queue_id.clone());
                self.queued_at = Some(*at);
            }
            CallEvent::Ringing { agent_id, .. } => {
                self.state = CallState::Ringing {
                    agent_id: agent_id.clone(),
                };
                self.agent_id = Some(agent_id.clone());
            }
            CallEvent::Answered { agent_id, at, .. } => {
                self.state = CallState::Answered {
                    agent_id: agent_id.clone(),
                };
                self.agent_id = Some(agent_id.clone());
                self.answered_at = Some(*at);
            }
            CallEvent::Ended { at, .. } => {
                self.state = CallState::Ended;
                self.ended_at = Some(*at);
            }
            CallEvent::Abandoned { at, .. } => {
                self.state = CallState::Abandoned;
                self.ended_at = Some(*at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, given, name};

    use super::*;

    fn offered() -> Vec<CallEvent> {
        vec![
            CallEvent::Offered {
                caller_number: PhoneNumber::parse("13800138000").unwrap(),
                dialled_number: PhoneNumber::parse("4000").unwrap(),
                at: at(0),
            },
            CallEvent::Queued {
                queue_id: name("general"),
                at: at(0),
            },
        ]
    }

    fn ringing(agent: &str) -> Vec<CallEvent> {
        let mut events = offered();
        events.push(CallEvent::Ringing {
            agent_id: name(agent),
            at: at(5),
        });
        events
    }

    fn answered(agent: &str) -> Vec<CallEvent> {
        let mut events = ringing(agent);
        events.push(CallEvent::Answered {
            agent_id: name(agent),
            queue_id: name("general"),
            at: at(8),
        });
        events
    }

    #[test]
    fn an_offered_call_is_queued_at_once() {
        let state = given::<Call>([])
            .when(CallCommand::Offer {
                caller_number: PhoneNumber::parse("13800138000").unwrap(),
                dialled_number: PhoneNumber::parse("4000").unwrap(),
                queue_id: name("general"),
                at: at(0),
            })
            .then(offered());
        assert_eq!(state.state, CallState::Queued);
        given::<Call>(offered())
            .when(CallCommand::Offer {
                caller_number: PhoneNumber::parse("1").unwrap(),
                dialled_number: PhoneNumber::parse("4000").unwrap(),
                queue_id: name("general"),
                at: at(1),
            })
            .then_error(CallError::AlreadyExists);
    }

    #[test]
    fn a_call_rings_only_while_queued_and_at_one_agent() {
        given::<Call>(offered())
            .when(CallCommand::Ring {
                agent_id: name("agent-1"),
                at: at(5),
            })
            .then([CallEvent::Ringing {
                agent_id: name("agent-1"),
                at: at(5),
            }]);
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::Ring {
                agent_id: name("agent-1"),
                at: at(6),
            })
            .then([]);
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::Ring {
                agent_id: name("agent-2"),
                at: at(6),
            })
            .then_error(CallError::WrongAgent {
                expected: name("agent-1"),
                actual: name("agent-2"),
            });
        given::<Call>([])
            .when(CallCommand::Ring {
                agent_id: name("agent-1"),
                at: at(6),
            })
            .then_error(CallError::NotFound);
    }

    #[test]
    fn only_the_ringing_agent_answers_and_only_once() {
        let state = given::<Call>(ringing("agent-1"))
            .when(CallCommand::Answer {
                agent_id: name("agent-1"),
                at: at(8),
            })
            .then([CallEvent::Answered {
                agent_id: name("agent-1"),
                queue_id: name("general"),
                at: at(8),
            }]);
        assert_eq!(state.answered_at, Some(at(8)));
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::Answer {
                agent_id: name("agent-2"),
                at: at(8),
            })
            .then_error(CallError::WrongAgent {
                expected: name("agent-1"),
                actual: name("agent-2"),
            });
        given::<Call>(offered())
            .when(CallCommand::Answer {
                agent_id: name("agent-1"),
                at: at(8),
            })
            .then_error(CallError::InvalidTransition {
                state: "queued",
                action: "answer",
            });
    }

    #[test]
    fn only_an_answered_call_ends_and_a_finished_call_stays_finished() {
        let mut history = answered("agent-1");
        given::<Call>(history.clone())
            .when(CallCommand::End {
                ended_by: Party::Caller,
                at: at(60),
            })
            .then([CallEvent::Ended {
                ended_by: Party::Caller,
                at: at(60),
            }]);
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::End {
                ended_by: Party::Agent,
                at: at(60),
            })
            .then_error(CallError::InvalidTransition {
                state: "ringing",
                action: "end",
            });
        history.push(CallEvent::Ended {
            ended_by: Party::Caller,
            at: at(60),
        });
        given::<Call>(history.clone())
            .when(CallCommand::End {
                ended_by: Party::Agent,
                at: at(61),
            })
            .then([]);
        let refused = given::<Call>(history)
            .when(CallCommand::Abandon { at: at(61) })
            .then_refused();
        assert!(matches!(
            refused,
            CallError::InvalidTransition { state: "ended", .. }
        ));
    }

    #[test]
    fn an_abandoned_call_records_its_queue_phase_and_wait() {
        given::<Call>(offered())
            .when(CallCommand::Abandon { at: at(42) })
            .then([CallEvent::Abandoned {
                queue_id: name("general"),
                phase: CallPhase::Queued,
                waited_ms: 42_000,
                at: at(42),
            }]);
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::Abandon { at: at(7) })
            .then([CallEvent::Abandoned {
                queue_id: name("general"),
                phase: CallPhase::Ringing,
                waited_ms: 7_000,
                at: at(7),
            }]);
        let mut abandoned = offered();
        abandoned.push(CallEvent::Abandoned {
            queue_id: name("general"),
            phase: CallPhase::Queued,
            waited_ms: 1_000,
            at: at(1),
        });
        given::<Call>(abandoned.clone())
            .when(CallCommand::Abandon { at: at(2) })
            .then([]);
        given::<Call>(abandoned)
            .when(CallCommand::Answer {
                agent_id: name("agent-1"),
                at: at(3),
            })
            .then_error(CallError::InvalidTransition {
                state: "abandoned",
                action: "answer",
            });
    }
}
