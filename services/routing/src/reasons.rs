//! Every reason routing answers errors with, besides the platform's.

use callcenter_platform::Reason;

use crate::domain::agent::AgentAction;

callcenter_platform::reasons! {
    /// Routing's reasons.
    pub const REASONS;
    /// No case with that id in the tenant.
    CASE_NOT_FOUND: NotFound,
    /// The case is closed.
    CASE_CLOSED: FailedPrecondition,
    /// The case belongs to another caller's number.
    CASE_OF_ANOTHER_CALLER: FailedPrecondition,
    /// An agent with that id exists already.
    AGENT_ALREADY_EXISTS: AlreadyExists,
    /// No agent with that id in the tenant.
    AGENT_NOT_FOUND: NotFound,
    /// The agent does not serve that queue.
    AGENT_NOT_IN_QUEUE: FailedPrecondition,
    /// The agent is signed in at another seat; the attempt is recorded.
    AGENT_LOGGED_IN_ELSEWHERE: FailedPrecondition,
    /// The agent cannot change routing domain in their presence (`presence` in the metadata).
    AGENT_CANNOT_CHANGE_ROUTING_DOMAIN: FailedPrecondition,
    /// The agent cannot become ready in their presence (logged out, say).
    AGENT_CANNOT_BECOME_READY: FailedPrecondition,
    /// The agent cannot become not ready in their presence.
    AGENT_CANNOT_BECOME_NOT_READY: FailedPrecondition,
    /// The agent cannot log out in their presence (on a call, say).
    AGENT_CANNOT_LOG_OUT: FailedPrecondition,
    /// The agent cannot be reserved for a call in their presence.
    AGENT_CANNOT_BE_RESERVED: FailedPrecondition,
    /// The agent cannot start a call in their presence.
    AGENT_CANNOT_START_A_CALL: FailedPrecondition,
    /// A queue with that id exists already.
    QUEUE_ALREADY_EXISTS: AlreadyExists,
    /// No queue with that id in the tenant.
    QUEUE_NOT_FOUND: NotFound,
    /// The queue belongs to another routing domain than the agent's.
    QUEUE_IN_OTHER_ROUTING_DOMAIN: FailedPrecondition,
}

/// The reason for an agent who cannot do `action` in their presence.
pub fn agent_cannot(action: AgentAction) -> Reason {
    match action {
        AgentAction::ChangeRoutingDomain => AGENT_CANNOT_CHANGE_ROUTING_DOMAIN,
        AgentAction::BecomeReady => AGENT_CANNOT_BECOME_READY,
        AgentAction::BecomeNotReady => AGENT_CANNOT_BECOME_NOT_READY,
        AgentAction::LogOut => AGENT_CANNOT_LOG_OUT,
        AgentAction::Reserve => AGENT_CANNOT_BE_RESERVED,
        AgentAction::StartCall => AGENT_CANNOT_START_A_CALL,
    }
}
