//! The telephony domain: pure aggregates, no I/O.

pub mod call;
pub mod number;
pub mod outbound_policy;
pub mod reported_call;

pub use call::{
    Call, CallCommand, CallError, CallEvent, CallPhase, CallState, Direction, Entry,
    NotReachedReason, Party, Priority, Supervision, SupervisionMode,
};
pub use number::{
    Number, NumberClaim, NumberClaimCommand, NumberClaimError, NumberClaimEvent, NumberCommand,
    NumberError, NumberEvent, PhoneNumber,
};
pub use outbound_policy::{
    CallingHours, OutboundPolicy, OutboundPolicyCommand, OutboundPolicyError, OutboundPolicyEvent,
    OutboundPurpose, OutboundRefusal,
};
pub use reported_call::{
    PartnerEvent, ReportedCall, ReportedCallCommand, ReportedCallError, ReportedCallEvent,
    ReportedFact,
};
