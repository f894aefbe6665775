//! Every reason workforce answers errors with, besides the platform's.

callcenter_platform::reasons! {
    /// Workforce's reasons.
    pub const REASONS;
    /// The center has no workforce settings yet (define it first).
    CENTER_NOT_DEFINED: FailedPrecondition,
    /// No workforce settings for that center in the tenant.
    CENTER_NOT_FOUND: NotFound,
    /// A published roster still uses the shift (`shift_id`, `roster_id`).
    SHIFT_IN_USE: FailedPrecondition,
    /// The shift is not worked on that day of the week.
    SHIFT_NOT_ON_THAT_DAY: FailedPrecondition,
    /// The agent is in another team of the center.
    AGENT_IN_OTHER_TEAM: FailedPrecondition,
    /// The roster overlaps another published roster of the agent.
    ROSTER_OVERLAP: FailedPrecondition,
    /// No roster with that id in the center.
    ROSTER_NOT_FOUND: NotFound,
    /// A leave rule of the handbook refuses the request (`rule` in the metadata).
    LEAVE_RULE: FailedPrecondition,
    /// A swap rule of the handbook refuses the request (`rule` in the metadata).
    SWAP_RULE: FailedPrecondition,
    /// A leave or swap request with that id exists already.
    REQUEST_ID_TAKEN: AlreadyExists,
    /// No leave or swap request with that id in the center.
    REQUEST_NOT_FOUND: NotFound,
    /// The request was decided already.
    ALREADY_DECIDED: FailedPrecondition,
    /// The decision needs a higher approver (`approver`: the director from two days of leave).
    APPROVER_REQUIRED: PermissionDenied,
    /// The queue has no intraday plan to compare with.
    NO_INTRADAY_PLAN: FailedPrecondition,
    /// No intraday plan was published for that queue.
    INTRADAY_PLAN_NOT_FOUND: NotFound,
}
