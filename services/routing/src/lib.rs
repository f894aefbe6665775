//! Routing: queues, agents and the automatic call distributor (DOMAIN.md §3).
//!
//! - [`domain`]: the agent and queue aggregates and the router's decisions (pure);
//! - [`events`]: their stored schema (`callcenter.routing.v1`);
//! - [`app`]: command handlers;
//! - [`grpc`]: serves `callcenter.routing.v1.RoutingService`;
//! - [`placement`]: which partition routes which tenant and routing domain;
//! - [`distributor`]: carries out the router's decisions;
//! - [`publisher`]: publishes each agent's presence, the one fact other contexts read about agents;
//! - [`service`]: routing's declaration as a service of the platform.

pub mod api;
pub mod app;
pub mod distributor;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod placement;
pub mod publisher;
pub mod reasons;
pub mod service;

pub use app::Routing;
pub use distributor::{
    Distributor, DistributorSettings, Partition, RoutingProgress, run_partitioned_distributors,
};
pub use grpc::RoutingGrpc;
pub use service::RoutingService;
