//! The telephony domain: pure aggregates, no I/O.

pub mod call;
pub mod number;

pub use call::{
    Call, CallCommand, CallError, CallEvent, CallPhase, CallState, Entry, Party, Priority,
    Supervision, SupervisionMode,
};
pub use number::{Number, NumberCommand, NumberError, NumberEvent, PhoneNumber};
