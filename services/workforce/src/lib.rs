//! Workforce management (DOMAIN.md §7): how many agents each interval needs, the forecast, the
//! roster, leave, swaps and attendance.
//!
//! - [`domain::staffing`]: Erlang C staffing — service level, average speed of answer,
//!   occupancy, shrinkage — exact at the boundaries and stable for thousands of agents;
//! - [`domain::erlang_a`]: the same with caller patience (Erlang A), with the probability of
//!   abandoning;
//! - [`domain::forecast`]: calls and handling time per interval for the weeks ahead, from interval
//!   history with weekly and intraday seasonality and growth, with planners' overrides;
//! - [`domain::roster`]: the roster solver for the `callcenter-roster/v1` format;
//! - [`domain::leave`]: leave and shift swaps with the handbook's rules, each refusal naming its
//!   rule;
//! - [`domain::center`]: a center's shifts, teams, published rosters, leave and swaps (the
//!   aggregate);
//! - [`domain::attendance`]: late arrival, early leave, absence and adherence per shift, and
//!   their record;
//! - [`domain::headcount`]: the check at the shift start;
//! - [`domain::intraday`]: traffic anomalies against the forecast, with the extra agents needed;
//! - [`events`]: the stored schema (`callcenter.workforce.v1`);
//! - [`app`] and [`grpc`]: the service; [`clerk`]: records attendance when shifts end;
//! - [`service`]: workforce's declaration as a service of the platform.

pub mod api;
pub mod app;
pub mod clerk;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod random;
pub mod reasons;
pub mod service;

pub use app::Workforce;
pub use grpc::WorkforceGrpc;
pub use service::WorkforceService;
