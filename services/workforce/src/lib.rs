//! Workforce management (DOMAIN.md §7): how many agents each interval needs, and later the
//! forecast, the roster, leave, swaps and attendance.
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
//! - [`domain::intraday`]: traffic anomalies against the forecast, with the extra agents needed.

pub mod domain;
pub mod random;
