//! Every reason telephony answers errors with, besides the platform's.

use callcenter_platform::Reason;

use crate::domain::call::CallAction;

callcenter_platform::reasons! {
    /// Telephony's reasons.
    pub const REASONS;
    /// A call with that id was offered before.
    CALL_ALREADY_EXISTS: AlreadyExists,
    /// No call with that id in the tenant.
    CALL_NOT_FOUND: NotFound,
    /// No call the partner reported with that id in the tenant.
    REPORTED_CALL_NOT_FOUND: NotFound,
    /// The call rings at, waits for, or was answered by another agent.
    CALL_WITH_OTHER_AGENT: FailedPrecondition,
    /// Another supervisor is already listening, whispering or barging on the call.
    CALL_ALREADY_SUPERVISED: FailedPrecondition,
    /// Only an outbound call can be marked not reached.
    CALL_NOT_OUTBOUND: FailedPrecondition,
    /// The call is in a partner's IVR, so it takes no keys here.
    CALL_IN_PARTNER_IVR: FailedPrecondition,
    /// The call cannot be abandoned in its state (`state` in the metadata).
    CALL_CANNOT_ABANDON: FailedPrecondition,
    /// The call cannot be answered in its state (not ringing, or ended).
    CALL_CANNOT_ANSWER: FailedPrecondition,
    /// The call cannot be marked not reached in its state.
    CALL_CANNOT_BE_MARKED_NOT_REACHED: FailedPrecondition,
    /// The call cannot be supervised in its state (only an answered call can).
    CALL_CANNOT_BE_SUPERVISED: FailedPrecondition,
    /// The call cannot end in its state.
    CALL_CANNOT_END: FailedPrecondition,
    /// The call cannot enter a queue in its state.
    CALL_CANNOT_ENQUEUE: FailedPrecondition,
    /// The call cannot be held in its state (only an answered call can).
    CALL_CANNOT_HOLD: FailedPrecondition,
    /// The call cannot be resumed in its state (only a held call can).
    CALL_CANNOT_RESUME: FailedPrecondition,
    /// The call cannot go back to its queue in its state.
    CALL_CANNOT_RETURN_TO_THE_QUEUE: FailedPrecondition,
    /// The call cannot ring in its state.
    CALL_CANNOT_RING: FailedPrecondition,
    /// The call takes no disposition in its state (only once answered).
    CALL_CANNOT_TAKE_A_DISPOSITION: FailedPrecondition,
    /// The call takes no IVR step in its state.
    CALL_CANNOT_TAKE_AN_IVR_STEP: FailedPrecondition,
    /// The call takes no keys in its state (only in one of our menus).
    CALL_CANNOT_TAKE_KEYS: FailedPrecondition,
    /// The call cannot be transferred in its state (only an answered call can).
    CALL_CANNOT_TRANSFER: FailedPrecondition,
    /// The disposition was already set to another code (`code` in the metadata).
    DISPOSITION_ALREADY_SET: FailedPrecondition,
    /// The keys were meant for another version of the call's menu.
    IVR_MENU_VERSION_CHANGED: Aborted,
    /// The menu has problems, one field violation each; nothing was saved.
    IVR_MENU_INVALID: InvalidArgument,
    /// The menu changed since the version the request expected (`current_version`).
    IVR_MENU_VERSION_MISMATCH: Aborted,
    /// No menu (or no such version of it) with that id in the tenant.
    IVR_MENU_NOT_FOUND: NotFound,
    /// The number leads to a menu that was never saved; save the menu first.
    IVR_MENU_NOT_SAVED: FailedPrecondition,
    /// Another tenant holds the number.
    NUMBER_TAKEN: AlreadyExists,
    /// The dialled number leads nowhere in the tenant.
    NUMBER_NOT_ASSIGNED: FailedPrecondition,
    /// The number is on the do-not-call list.
    DO_NOT_CALL: FailedPrecondition,
    /// Outbound calls are not allowed at this hour.
    OUTSIDE_CALLING_HOURS: FailedPrecondition,
}

/// The reason for a call that cannot do `action` in its state.
pub fn call_cannot(action: CallAction) -> Reason {
    match action {
        CallAction::Abandon => CALL_CANNOT_ABANDON,
        CallAction::Answer => CALL_CANNOT_ANSWER,
        CallAction::MarkNotReached => CALL_CANNOT_BE_MARKED_NOT_REACHED,
        CallAction::Supervise => CALL_CANNOT_BE_SUPERVISED,
        CallAction::End => CALL_CANNOT_END,
        CallAction::Enqueue => CALL_CANNOT_ENQUEUE,
        CallAction::Hold => CALL_CANNOT_HOLD,
        CallAction::Resume => CALL_CANNOT_RESUME,
        CallAction::ReturnToQueue => CALL_CANNOT_RETURN_TO_THE_QUEUE,
        CallAction::Ring => CALL_CANNOT_RING,
        CallAction::TakeDisposition => CALL_CANNOT_TAKE_A_DISPOSITION,
        CallAction::TakeIvrStep => CALL_CANNOT_TAKE_AN_IVR_STEP,
        CallAction::TakeKeys => CALL_CANNOT_TAKE_KEYS,
        CallAction::Transfer => CALL_CANNOT_TRANSFER,
    }
}
