//! The routing domain: pure aggregates and the router's decisions, no I/O.

pub mod agent;
pub mod queue;
pub mod router;

pub use agent::{Agent, AgentCommand, AgentError, AgentEvent, NotReadyReason, Presence};
pub use queue::{MAX_AFTER_CALL_WORK_SECONDS, Queue, QueueCommand, QueueError, QueueEvent};
pub use router::{Action, ActionKind, CallPriority, Router};
