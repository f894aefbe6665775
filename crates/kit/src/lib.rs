//! The service kit: what every bounded context is built from.
//!
//! - [`aggregate`]: the pure shape `decide(state, command) → events | error` and
//!   `evolve(state, event) → state`, and the mapping of events to their stored schema;
//! - [`handler`]: load, decide, append with the expected version, retry on conflict;
//! - [`projection`]: read models updated in one transaction with their checkpoint;
//! - [`consumer`]: the runner of background consumers (timers, distributors, watchers), with
//!   the cause of what they do carried into the commands they issue;
//!   and the snapshots that spare them replaying the log ([`snapshot`]);
//! - [`reactor`]: process managers that turn events into commands;
//! - [`restart`]: keeps background loops running through failures;
//! - [`db`]: read-model pools and embedded migrations;
//! - [`testing`]: given/when/then for aggregates.

pub mod acks;
pub mod aggregate;
pub mod consumer;
pub mod db;
pub mod handler;
pub mod projection;
pub mod reactor;
pub mod restart;
pub mod snapshot;
pub mod testing;

pub use aggregate::{
    Aggregate, DecodeError, EncodedEvent, EventList, EventSourced, PersistedEvent, Schema,
    decode_message, decode_name, published, unknown_event,
};
pub use callcenter_eventlog::{Name, TenantId, Timestamp};
pub use consumer::{
    Cause, Consumer, ConsumerError, ConsumerStatus, StartFrom, Subscribe, WarmView,
    resume_consumer, run_consumer,
};
pub use handler::{
    CommandError, CommandHandler, CommandMeta, Loaded, Outcome, is_reserved_tenant, platform_tenant,
};
pub use projection::{Projection, ProjectionError, ProjectionRunner, ProjectionStatus};
pub use reactor::{ReactionError, Reactor, run_reactor};
