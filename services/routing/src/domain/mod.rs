//! The routing domain: pure aggregates and the router's decisions, no I/O.

pub mod agent;
pub mod case;
pub mod presence;
pub mod queue;
pub mod router;

pub use agent::{Agent, AgentCommand, AgentError, AgentEvent, NotReadyReason, Presence, Why};
pub use case::{Case, CaseCommand, CaseError, CaseEvent};
pub use presence::{AgentPresence, AgentPresenceEvent, PresenceState, Publish, PublishedPresence};
pub use queue::{
    MAX_AFTER_CALL_WORK_SECONDS, OverflowStep, Queue, QueueCommand, QueueError, QueueEvent,
    QueueRouting, WideningStep,
};
pub use router::{Action, ActionKind, CallPriority, Router};
