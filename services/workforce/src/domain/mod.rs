//! The workforce domain: pure calculations, no I/O.

pub mod attendance;
pub mod calendar;
pub mod center;
pub mod erlang_a;
pub mod forecast;
pub mod headcount;
pub mod intraday;
pub mod leave;
pub mod queue_plan;
pub mod roster;
pub mod rostering;
pub mod staffing;
