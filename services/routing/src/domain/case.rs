//! A customer's open case and the agent who owns it: **first-contact ownership** (首问负责制,
//! DOMAIN.md §3): whoever first takes a case follows it to the end, so a repeat caller with an
//! open case reaches its owner when possible (sticky routing, for the queue's `sticky_seconds`).
//!
//! Cases are opened, handed to another owner and closed by whoever tracks them (an agent, a
//! supervisor, a partner's CRM, later the ticket service). While a caller has open cases, the
//! owner of the one opened last is the caller's owner; without one, routing falls back to the
//! agent who answered the caller last (within 72 hours).

use callcenter_kit::{Aggregate, Name, Timestamp};

/// A case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Case {
    /// Set once opened.
    pub opened: Option<OpenedCase>,
    /// Whether it was closed.
    pub closed: bool,
}

/// What an opened case is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedCase {
    /// The customer's number.
    pub caller_number: String,
    /// The agent who owns it.
    pub owner_agent_id: Name,
}

/// What can be asked of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseCommand {
    /// Opens the case for a caller with its owner, or hands an open case to another owner.
    SetOwner {
        /// The customer's number (must stay the same for the case).
        caller_number: String,
        /// The owner.
        owner_agent_id: Name,
        /// When.
        at: Timestamp,
    },
    /// Closes the case: the caller is no longer held for its owner.
    Close {
        /// When.
        at: Timestamp,
    },
}

/// What a case records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseEvent {
    /// Opened, owned by the agent who took it first.
    Opened {
        /// The customer's number.
        caller_number: String,
        /// The owner.
        owner_agent_id: Name,
        /// When.
        at: Timestamp,
    },
    /// Handed to another owner (it carries the caller, so that a reader needs no other event).
    OwnerChanged {
        /// The customer's number.
        caller_number: String,
        /// The new owner.
        owner_agent_id: Name,
        /// When.
        at: Timestamp,
    },
    /// Closed.
    Closed {
        /// The customer's number.
        caller_number: String,
        /// When.
        at: Timestamp,
    },
}

/// Why a case refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// The case was never opened.
    #[error("case not found")]
    NotFound,
    /// The case is closed; it cannot change any more.
    #[error("case is closed")]
    Closed,
    /// The case belongs to another caller.
    #[error("case belongs to caller {caller_number}")]
    OtherCaller {
        /// Its caller.
        caller_number: String,
    },
}

impl CaseEvent {
    /// The caller and the owner, when the event leaves the case open (opened or handed on).
    pub fn open_owner(&self) -> Option<(&str, &Name)> {
        match self {
            CaseEvent::Opened {
                caller_number,
                owner_agent_id,
                ..
            }
            | CaseEvent::OwnerChanged {
                caller_number,
                owner_agent_id,
                ..
            } => Some((caller_number, owner_agent_id)),
            CaseEvent::Closed { .. } => None,
        }
    }
}

impl Aggregate for Case {
    const CONTEXT: &'static str = "routing";
    const TYPE: &'static str = "case";
    type Command = CaseCommand;
    type Event = CaseEvent;
    type Error = CaseError;

    fn decide(&self, command: &CaseCommand) -> Result<Vec<CaseEvent>, CaseError> {
        match (command, &self.opened) {
            (
                CaseCommand::SetOwner {
                    caller_number,
                    owner_agent_id,
                    at,
                },
                None,
            ) => Ok(vec![CaseEvent::Opened {
                caller_number: caller_number.clone(),
                owner_agent_id: owner_agent_id.clone(),
                at: *at,
            }]),
            (CaseCommand::SetOwner { caller_number, .. }, Some(opened))
                if opened.caller_number != *caller_number =>
            {
                Err(CaseError::OtherCaller {
                    caller_number: opened.caller_number.clone(),
                })
            }
            (CaseCommand::SetOwner { owner_agent_id, .. }, Some(opened))
                if opened.owner_agent_id == *owner_agent_id =>
            {
                Ok(vec![])
            }
            (CaseCommand::SetOwner { .. }, Some(_)) if self.closed => Err(CaseError::Closed),
            (
                CaseCommand::SetOwner {
                    caller_number,
                    owner_agent_id,
                    at,
                },
                Some(_),
            ) => Ok(vec![CaseEvent::OwnerChanged {
                caller_number: caller_number.clone(),
                owner_agent_id: owner_agent_id.clone(),
                at: *at,
            }]),
            (CaseCommand::Close { .. }, None) => Err(CaseError::NotFound),
            (CaseCommand::Close { .. }, Some(_)) if self.closed => Ok(vec![]),
            (CaseCommand::Close { at }, Some(opened)) => Ok(vec![CaseEvent::Closed {
                caller_number: opened.caller_number.clone(),
                at: *at,
            }]),
        }
    }

    fn evolve(&mut self, event: &CaseEvent) {
        match event.open_owner() {
            Some((caller_number, owner_agent_id)) => {
                self.opened = Some(OpenedCase {
                    caller_number: caller_number.to_owned(),
                    owner_agent_id: owner_agent_id.clone(),
                });
            }
            None => self.closed = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, given, name};

    use super::*;

    fn set_owner(caller: &str, owner: &str, seconds: i64) -> CaseCommand {
        CaseCommand::SetOwner {
            caller_number: caller.into(),
            owner_agent_id: name(owner),
            at: at(seconds),
        }
    }

    fn opened() -> CaseEvent {
        CaseEvent::Opened {
            caller_number: "13800138000".into(),
            owner_agent_id: name("agent-1"),
            at: at(0),
        }
    }

    #[test]
    fn whoever_first_takes_a_case_owns_it_until_it_is_handed_on_or_closed() {
        given::<Case>(vec![])
            .when(set_owner("13800138000", "agent-1", 0))
            .then([opened()]);
        given::<Case>(vec![opened()])
            .when(set_owner("13800138000", "agent-1", 5))
            .then([]);
        let handed = given::<Case>(vec![opened()])
            .when(set_owner("13800138000", "agent-2", 5))
            .then([CaseEvent::OwnerChanged {
                caller_number: "13800138000".into(),
                owner_agent_id: name("agent-2"),
                at: at(5),
            }]);
        assert_eq!(
            handed.opened.map(|case| case.owner_agent_id),
            Some(name("agent-2"))
        );
        given::<Case>(vec![opened()])
            .when(set_owner("13900000000", "agent-1", 5))
            .then_error(CaseError::OtherCaller {
                caller_number: "13800138000".into(),
            });
    }

    #[test]
    fn a_closed_case_stays_closed() {
        let closed = CaseEvent::Closed {
            caller_number: "13800138000".into(),
            at: at(9),
        };
        given::<Case>(vec![opened()])
            .when(CaseCommand::Close { at: at(9) })
            .then([closed.clone()]);
        given::<Case>(vec![opened(), closed.clone()])
            .when(CaseCommand::Close { at: at(10) })
            .then([]);
        given::<Case>(vec![opened(), closed])
            .when(set_owner("13800138000", "agent-2", 10))
            .then_error(CaseError::Closed);
        given::<Case>(vec![])
            .when(CaseCommand::Close { at: at(1) })
            .then_error(CaseError::NotFound);
    }
}
