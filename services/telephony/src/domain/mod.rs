//! The telephony domain: pure aggregates, no I/O.

pub mod call;
pub mod number;
pub mod reported_call;

pub use call::{
    Call, CallCommand, CallError, CallEvent, CallPhase, CallState, Entry, Party, Priority,
    Supervision, SupervisionMode,
};
pub use number::{Number, NumberCommand, NumberError, NumberEvent, PhoneNumber};
pub use reported_call::{
    PartnerEvent, ReportedCall, ReportedCallCommand, ReportedCallError, ReportedCallEvent,
    ReportedFact,
};
