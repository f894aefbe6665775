//! The routing domain: pure aggregates and the router's decisions, no I/O.

pub mod agent;
pub mod queue;
pub mod router;

pub use agent::{Agent, AgentCommand, AgentError, AgentEvent, Presence};
pub use queue::{Queue, QueueCommand, QueueError, QueueEvent};
pub use router::{Action, ActionKind, CallPriority, Router};
