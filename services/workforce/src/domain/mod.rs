//! The workforce domain: pure calculations, no I/O.

pub mod erlang_a;
pub mod forecast;
pub mod intraday;
pub mod leave;
pub mod roster;
pub mod staffing;
