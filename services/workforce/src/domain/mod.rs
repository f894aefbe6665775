//! The workforce domain: pure calculations, no I/O.

pub mod staffing;
