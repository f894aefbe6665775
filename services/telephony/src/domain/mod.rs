//! The telephony domain: pure aggregates, no I/O.

pub mod call;
pub mod ivr;
pub mod number;
pub mod outbound_policy;
pub mod reported_call;

pub use call::{
    Call, CallAction, CallCommand, CallError, CallEvent, CallPhase, CallState, Direction, Entry,
    IvrPosition, MenuRef, NotReachedReason, Party, PinnedMenu, Priority, Supervision,
    SupervisionMode,
};
pub use ivr::{
    Arrival, Caller, CallerClass, CallerCommand, CallerError, CallerEvent, IvrMenu, IvrMenuCommand,
    IvrMenuError, IvrMenuEvent, IvrMenuProblem, IvrMenuVersions, IvrNode, IvrStop, QueueTarget,
};
pub use number::{
    Number, NumberClaim, NumberClaimCommand, NumberClaimError, NumberClaimEvent, NumberCommand,
    NumberError, NumberEvent, NumberRoute, PhoneNumber,
};
pub use outbound_policy::{
    CallingHours, OutboundPolicy, OutboundPolicyCommand, OutboundPolicyError, OutboundPolicyEvent,
    OutboundPurpose, OutboundRefusal,
};
pub use reported_call::{
    PartnerEvent, ReportedCall, ReportedCallCommand, ReportedCallError, ReportedCallEvent,
    ReportedFact,
};
