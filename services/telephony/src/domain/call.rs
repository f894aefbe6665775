//! The call aggregate: one call from the moment it reaches the platform until the caller is gone
//! and the agent has classified it. Every transition the state forbids is refused, so a call
//! cannot be answered twice, ended before it was answered, left ringing at an agent after the
//! caller hung up, or revived after it finished (DOMAIN.md §2).
//!
//! ```text
//! offered ─► in IVR ─► queued ─► ringing ─► answered ─► ended ─► (disposition set)
//!              │         ▲  │       │  │       │ ▲ hold/resume, supervisor join/leave
//!              │         │  │       │  └─missed┘ │ transfer to a queue or an agent ─► queued
//!              └─────────┴──┴───────┴──► abandoned (caller left: IVR, queue or ringing)
//! ```

use std::sync::Arc;

use callcenter_kit::{Aggregate, Name, Timestamp};

use super::ivr::{Arrival, CallerClass, IvrMenu, IvrStop, QueueTarget, Walk};
use super::number::PhoneNumber;
use super::outbound_policy::OutboundPurpose;

/// Who did something to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// The person who called.
    Caller,
    /// The agent on the call.
    Agent,
    /// The platform itself.
    System,
}

/// Where a call was when the caller left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallPhase {
    /// In the voice menu.
    Ivr,
    /// Waiting in a queue.
    Queued,
    /// Ringing at an agent.
    Ringing,
}

/// How urgent a waiting call is; emergencies jump the queue (DOMAIN.md §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// An ordinary call.
    #[default]
    Normal,
    /// Urgent rescue or urgent complaint: fastest response.
    Emergency,
}

/// Which way a call goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// A customer called in.
    #[default]
    Inbound,
    /// An agent called a customer.
    Outbound,
}

/// Why an outbound call did not reach the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotReachedReason {
    /// Nobody answered.
    NoAnswer,
    /// The line was busy.
    Busy,
    /// The customer or the network declined.
    Rejected,
    /// The number could not be called.
    Failed,
}

/// How a supervisor takes part in a call (DOMAIN.md §2: listen in, coach, three-party).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupervisionMode {
    /// Hears both sides; nobody hears the supervisor.
    Listen,
    /// Only the agent hears the supervisor.
    Whisper,
    /// Everyone hears everyone.
    Barge,
}

/// A supervisor on a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supervision {
    /// Who.
    pub supervisor_id: Name,
    /// How.
    pub mode: SupervisionMode,
}

/// Where a call is in its lifecycle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CallState {
    /// No call with this id yet.
    #[default]
    Unknown,
    /// In the voice menu.
    InIvr,
    /// Waiting for an agent.
    Queued,
    /// Offered to a reserved agent.
    Ringing {
        /// The agent it rings at.
        agent_id: Name,
    },
    /// An agent took it.
    Answered {
        /// The agent on the call.
        agent_id: Name,
        /// Whether the caller is on hold.
        held: bool,
    },
    /// Hung up after it was answered; the agent's disposition may follow.
    Ended,
    /// The caller left before an agent answered.
    Abandoned,
    /// The voice menu served the caller; no person was needed.
    SelfServed,
    /// An outbound call that never reached the customer.
    NotReached {
        /// Why.
        reason: NotReachedReason,
    },
}

impl CallState {
    /// A short name for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            CallState::Unknown => "unknown",
            CallState::InIvr => "in IVR",
            CallState::Queued => "queued",
            CallState::Ringing { .. } => "ringing",
            CallState::Answered { .. } => "answered",
            CallState::Ended => "ended",
            CallState::Abandoned => "abandoned",
            CallState::SelfServed => "self-served",
            CallState::NotReached { .. } => "not reached",
        }
    }

    /// Whether the call is over: ended, abandoned, or (outbound) never reached the customer.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            CallState::Ended
                | CallState::Abandoned
                | CallState::SelfServed
                | CallState::NotReached { .. }
        )
    }
}

/// A call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Call {
    /// Its lifecycle state.
    pub state: CallState,
    /// Inbound or outbound.
    pub direction: Direction,
    /// Why an outbound call goes out.
    pub purpose: Option<OutboundPurpose>,
    /// Who called (for an outbound call: the number shown to the customer).
    pub caller_number: Option<PhoneNumber>,
    /// What they dialled (for an outbound call: the customer).
    pub dialled_number: Option<PhoneNumber>,
    /// The queue it waits or waited in last.
    pub queue_id: Option<Name>,
    /// How urgent it is.
    pub priority: Priority,
    /// The one agent it waits for, after a transfer to that agent.
    pub target_agent_id: Option<Name>,
    /// The agent it rang at or was answered by last.
    pub agent_id: Option<Name>,
    /// The supervisor on the call, if any.
    pub supervision: Option<Supervision>,
    /// The last IVR node the caller went through.
    pub last_ivr_node: Option<String>,
    /// Where the caller is in one of our menus (none in a partner's IVR).
    pub ivr: Option<IvrPosition>,
    /// How the platform knows the caller.
    pub caller_class: Option<CallerClass>,
    /// The skill the menu asked for.
    pub required_skill: Option<Name>,
    /// The self-service that served the caller.
    pub self_service: Option<Name>,
    /// How often the call was transferred.
    pub transfers: u32,
    /// The agent's classification after the call.
    pub disposition: Option<Name>,
    /// When it reached the platform.
    pub offered_at: Option<Timestamp>,
    /// When it entered its current queue (kept when it returns to the queue after a miss).
    pub queued_at: Option<Timestamp>,
    /// When an agent first answered.
    pub answered_at: Option<Timestamp>,
    /// When it ended or was abandoned.
    pub ended_at: Option<Timestamp>,
}

/// One version of one menu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MenuRef {
    /// The menu.
    pub menu_id: Name,
    /// Its version (from 1).
    pub version: u64,
}

/// Where a caller is in one of our menus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvrPosition {
    /// The menu version the call entered with.
    pub menu: MenuRef,
    /// The node the caller is at.
    pub node_id: Name,
    /// Failed tries at that node.
    pub attempts: u8,
}

/// A menu version with its content, handed to the call's decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct PinnedMenu {
    /// Which version.
    pub menu: MenuRef,
    /// Its content.
    pub content: Arc<IvrMenu>,
}

/// Where a new call goes first.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// Into a partner's voice menu (its steps are reported one by one).
    Ivr,
    /// Into one of our menus, or past it for callers of a class it sends straight to a person.
    Menu {
        /// The menu's newest version.
        menu: PinnedMenu,
        /// How the platform knows the caller.
        caller_class: Option<CallerClass>,
    },
    /// Straight into a queue (elderly callers go straight to a person, DOMAIN.md §2).
    Queue {
        /// The queue.
        queue_id: Name,
        /// How urgent.
        priority: Priority,
    },
}

/// What can be asked of a call. Every command carries the time it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum CallCommand {
    /// A new inbound call.
    Offer {
        /// Who calls.
        caller_number: PhoneNumber,
        /// What they dialled.
        dialled_number: PhoneNumber,
        /// Where it goes first.
        entry: Entry,
        /// When.
        at: Timestamp,
    },
    /// An agent calls a customer; the call waits for that agent like a directed call.
    DialOut {
        /// The customer.
        customer_number: PhoneNumber,
        /// The number the customer sees.
        caller_id: PhoneNumber,
        /// Why.
        purpose: OutboundPurpose,
        /// The agent who calls.
        agent_id: Name,
        /// The queue (campaign) the call is counted in.
        queue_id: Name,
        /// When.
        at: Timestamp,
    },
    /// An outbound call did not reach the customer.
    MarkNotReached {
        /// Why.
        reason: NotReachedReason,
        /// When.
        at: Timestamp,
    },
    /// The caller went through an IVR node.
    TakeIvrStep {
        /// The node.
        node_id: String,
        /// The digits or choice that left it.
        input: String,
        /// When.
        at: Timestamp,
    },
    /// The caller pressed keys in one of our menus (empty: no input before the timeout).
    PressKeys {
        /// The keys, `0`-`9`, `*` and `#`.
        keys: String,
        /// The menu version the call entered with.
        menu: PinnedMenu,
        /// When.
        at: Timestamp,
    },
    /// The IVR hands the call to a queue.
    Enqueue {
        /// The queue.
        queue_id: Name,
        /// How urgent.
        priority: Priority,
        /// When.
        at: Timestamp,
    },
    /// Routing reserved an agent: ring them.
    Ring {
        /// The reserved agent.
        agent_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The ringing agent did not take the call: it waits again at its place.
    ReturnToQueue {
        /// The agent it rang at.
        agent_id: Name,
        /// True when it rang until it gave up (three rings), false when the agent declined.
        missed: bool,
        /// When.
        at: Timestamp,
    },
    /// The ringing agent took the call.
    Answer {
        /// The agent answering.
        agent_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The agent puts the caller on hold.
    Hold {
        /// When.
        at: Timestamp,
    },
    /// The agent takes the caller off hold.
    Resume {
        /// When.
        at: Timestamp,
    },
    /// The call waited `from_queue_id`'s maximum: it moves to `to_queue_id` (the queue's
    /// max-wait queue), keeping its priority and the skill it asked for. Nothing happens when
    /// the call no longer waits in `from_queue_id` (it rings, was answered or moved meanwhile).
    LeaveQueueAtMaxWait {
        /// The queue it waited in.
        from_queue_id: Name,
        /// Where it goes.
        to_queue_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The agent hands the call to a queue, or to one agent through the call's queue.
    Transfer {
        /// The queue the call waits in next.
        to_queue_id: Name,
        /// The one agent it waits for, if any.
        to_agent_id: Option<Name>,
        /// When.
        at: Timestamp,
    },
    /// A supervisor joins the call (or changes how they take part).
    JoinSupervisor {
        /// Who.
        supervisor_id: Name,
        /// How.
        mode: SupervisionMode,
        /// When.
        at: Timestamp,
    },
    /// The supervisor leaves the call.
    LeaveSupervisor {
        /// Who.
        supervisor_id: Name,
        /// When.
        at: Timestamp,
    },
    /// Someone hung up an answered call.
    End {
        /// Who hung up.
        ended_by: Party,
        /// When.
        at: Timestamp,
    },
    /// The caller hung up before an agent answered.
    Abandon {
        /// The call's position in its queue, when known (1 = next).
        position: Option<u32>,
        /// When.
        at: Timestamp,
    },
    /// The caller hung up, whatever the call's state (what a SIP BYE or CANCEL says): an answered
    /// call ends, a waiting one is abandoned, a call already over stays as it is.
    CallerHungUp {
        /// When.
        at: Timestamp,
    },
    /// The agent classifies the ended call.
    SetDisposition {
        /// The agent who took the call.
        agent_id: Name,
        /// The disposition code, such as `resolved` or `complaint`.
        code: Name,
        /// When.
        at: Timestamp,
    },
}

/// What a call records.
#[derive(Clone, Debug, PartialEq)]
pub enum CallEvent {
    /// The call reached the platform.
    Offered {
        /// Who calls.
        caller_number: PhoneNumber,
        /// What they dialled.
        dialled_number: PhoneNumber,
        /// When.
        at: Timestamp,
    },
    /// An agent started calling a customer (a `Queued` for that agent follows).
    OutboundStarted {
        /// The customer.
        customer_number: PhoneNumber,
        /// The number the customer sees.
        caller_id: PhoneNumber,
        /// Why.
        purpose: OutboundPurpose,
        /// The agent who calls.
        agent_id: Name,
        /// When.
        at: Timestamp,
    },
    /// An outbound call did not reach the customer.
    NotReached {
        /// Why.
        reason: NotReachedReason,
        /// When.
        at: Timestamp,
    },
    /// The platform knows the caller by number.
    CallerClassified {
        /// How.
        class: CallerClass,
        /// When.
        at: Timestamp,
    },
    /// The call entered the voice menu.
    EnteredIvr {
        /// Our menu and its first node; none for a partner's IVR.
        menu: Option<IvrPosition>,
        /// When.
        at: Timestamp,
    },
    /// The caller went through an IVR node.
    IvrStepTaken {
        /// The node.
        node_id: String,
        /// The digits or choice that left it.
        input: String,
        /// Where it led, in our menus (the same node when the prompt is replayed).
        next_node_id: Option<Name>,
        /// When.
        at: Timestamp,
    },
    /// The voice menu served the caller itself.
    SelfServed {
        /// The self-service leaf.
        node_id: Name,
        /// The service.
        service: Name,
        /// When.
        at: Timestamp,
    },
    /// The call waits in a queue.
    Queued {
        /// The queue.
        queue_id: Name,
        /// How urgent.
        priority: Priority,
        /// The one agent it waits for, after a transfer to that agent.
        target_agent_id: Option<Name>,
        /// The skill the agent should have, as the menu asked.
        required_skill: Option<Name>,
        /// When.
        at: Timestamp,
    },
    /// The call rings at a reserved agent.
    Ringing {
        /// The agent.
        agent_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The ringing agent did not take the call; it waits again at its place.
    ReturnedToQueue {
        /// The agent it rang at.
        agent_id: Name,
        /// True when it rang until it gave up (three rings), false when the agent declined.
        missed: bool,
        /// When.
        at: Timestamp,
    },
    /// The agent took the call.
    Answered {
        /// The agent.
        agent_id: Name,
        /// The queue it waited in.
        queue_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The caller is on hold.
    Held {
        /// When.
        at: Timestamp,
    },
    /// The caller is off hold.
    Resumed {
        /// When.
        at: Timestamp,
    },
    /// The call waited its queue's maximum and moves on (a `Queued` follows).
    MaxWaitReached {
        /// The queue it waited in.
        queue_id: Name,
        /// The queue it goes to.
        to_queue_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The agent handed the call on (a `Queued` follows).
    Transferred {
        /// The agent who handed it on.
        from_agent_id: Name,
        /// The queue it waits in next.
        to_queue_id: Name,
        /// The one agent it waits for, if any.
        to_agent_id: Option<Name>,
        /// When.
        at: Timestamp,
    },
    /// A supervisor joined (or changed mode).
    SupervisorJoined {
        /// Who.
        supervisor_id: Name,
        /// How.
        mode: SupervisionMode,
        /// When.
        at: Timestamp,
    },
    /// The supervisor left.
    SupervisorLeft {
        /// Who.
        supervisor_id: Name,
        /// When.
        at: Timestamp,
    },
    /// The answered call was hung up.
    Ended {
        /// Who hung up.
        ended_by: Party,
        /// When.
        at: Timestamp,
    },
    /// The caller left before an agent answered.
    Abandoned {
        /// The queue it waited in (none when it left in the IVR).
        queue_id: Option<Name>,
        /// Where it was.
        phase: CallPhase,
        /// How long it waited, in milliseconds.
        waited_ms: i64,
        /// Its position in the queue, when known.
        position: Option<u32>,
        /// When.
        at: Timestamp,
    },
    /// The agent classified the ended call.
    DispositionSet {
        /// The agent.
        agent_id: Name,
        /// The code.
        code: Name,
        /// When.
        at: Timestamp,
    },
}

/// What was asked of a call in a state that does not allow it (each has its reason,
/// `CALL_CANNOT_<ACTION>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallAction {
    /// Abandon.
    Abandon,
    /// Answer.
    Answer,
    /// Be marked not reached.
    MarkNotReached,
    /// Be supervised.
    Supervise,
    /// End.
    End,
    /// Enqueue.
    Enqueue,
    /// Hold.
    Hold,
    /// Resume.
    Resume,
    /// Return to the queue.
    ReturnToQueue,
    /// Ring.
    Ring,
    /// Take a disposition.
    TakeDisposition,
    /// Take an IVR step.
    TakeIvrStep,
    /// Take keys.
    TakeKeys,
    /// Transfer.
    Transfer,
}

impl CallAction {
    /// The action in words, as in "cannot <action>".
    pub fn text(self) -> &'static str {
        match self {
            CallAction::Abandon => "abandon",
            CallAction::Answer => "answer",
            CallAction::MarkNotReached => "be marked not reached",
            CallAction::Supervise => "be supervised",
            CallAction::End => "end",
            CallAction::Enqueue => "enqueue",
            CallAction::Hold => "hold",
            CallAction::Resume => "resume",
            CallAction::ReturnToQueue => "return to the queue",
            CallAction::Ring => "ring",
            CallAction::TakeDisposition => "take a disposition",
            CallAction::TakeIvrStep => "take an IVR step",
            CallAction::TakeKeys => "take keys",
            CallAction::Transfer => "transfer",
        }
    }
}

impl std::fmt::Display for CallAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

/// Why a call refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Offering a call id that is already taken.
    #[error("call already exists")]
    AlreadyExists,
    /// Acting on a call that was never offered.
    #[error("call not found")]
    NotFound,
    /// The call is not in a state that allows the command.
    #[error("call is {state}, cannot {action}")]
    InvalidTransition {
        /// The call's state.
        state: &'static str,
        /// What was asked.
        action: CallAction,
    },
    /// The call rings at, waits for, or was answered by another agent.
    #[error("call is with agent {expected}, not {actual}")]
    WrongAgent {
        /// The agent the call is with.
        expected: Name,
        /// The agent that asked.
        actual: Name,
    },
    /// Another supervisor is already on the call.
    #[error("supervisor {present} is already on the call")]
    SupervisorPresent {
        /// The supervisor on the call.
        present: Name,
    },
    /// A transfer to the queue and agent the call is already with.
    #[error("the call is already with that agent")]
    TransferToSelf,
    /// Only outbound calls can fail to reach the customer.
    #[error("an inbound call cannot be marked not reached")]
    NotOutbound,
    /// The menu leads nowhere (it was saved unchecked).
    #[error("the menu leads nowhere from here")]
    BrokenMenu,
    /// Keys were pressed for a call in a partner's IVR.
    #[error("the call is in a partner's IVR, not in one of our menus")]
    NotInOurMenu,
    /// The keys were meant for another version of the menu.
    #[error("the call is in version {entered_with} of its menu")]
    OtherMenuVersion {
        /// The version the call entered with.
        entered_with: u64,
    },
    /// Something other than a DTMF key.
    #[error("{key:?} is not a key; keys are 0-9, * and #")]
    NotAKey {
        /// The character.
        key: char,
    },
    /// The disposition was already set to another code.
    #[error("disposition already set to {code}")]
    DispositionAlreadySet {
        /// The code set before.
        code: Name,
    },
}

impl Call {
    /// The refusal of `action` in the call's state.
    pub(crate) fn refuse(&self, action: CallAction) -> CallError {
        match self.state {
            CallState::Unknown => CallError::NotFound,
            ref state => CallError::InvalidTransition {
                state: state.name(),
                action,
            },
        }
    }

    /// The agent of an answered call, or the refusal for `action`.
    fn answered_agent(&self, action: CallAction) -> Result<(&Name, bool), CallError> {
        match &self.state {
            CallState::Answered { agent_id, held } => Ok((agent_id, *held)),
            _ => Err(self.refuse(action)),
        }
    }

    /// The command for "the caller hung up", whatever the call's state: an answered call ends,
    /// a call still waiting (IVR, queue, ringing) is abandoned, a self-served one stays so.
    pub fn caller_left(&self, position: Option<u32>, at: Timestamp) -> CallCommand {
        match self.state {
            CallState::SelfServed => CallCommand::CallerHungUp { at },
            CallState::Answered { .. } | CallState::Ended => CallCommand::End {
                ended_by: Party::Caller,
                at,
            },
            _ => CallCommand::Abandon { position, at },
        }
    }

    fn queue(&self) -> Name {
        self.queue_id
            .clone()
            .expect("a call past the IVR has a queue")
    }
}

/// The call waits in the menu's queue.
fn queued(target: &QueueTarget, at: Timestamp) -> CallEvent {
    CallEvent::Queued {
        queue_id: target.queue_id.clone(),
        priority: target.priority,
        target_agent_id: None,
        required_skill: target.skill.clone(),
        at,
    }
}

/// The events of a walk through one of our menus.
fn walked(walk: Walk, at: Timestamp) -> Result<Vec<CallEvent>, CallError> {
    let mut events: Vec<CallEvent> = walk
        .steps
        .into_iter()
        .map(|step| CallEvent::IvrStepTaken {
            node_id: step.node_id.to_string(),
            input: step.input,
            next_node_id: Some(step.next_node_id),
            at,
        })
        .collect();
    match walk.stop {
        Some(IvrStop::Waiting { .. }) => {}
        Some(IvrStop::Queue(target)) => events.push(queued(&target, at)),
        Some(IvrStop::SelfService { node_id, service }) => {
            events.push(CallEvent::SelfServed {
                node_id,
                service,
                at,
            });
        }
        None => return Err(CallError::BrokenMenu),
    }
    Ok(events)
}

impl Aggregate for Call {
    const CONTEXT: &'static str = "telephony";
    const TYPE: &'static str = "call";
    type Command = CallCommand;
    type Event = CallEvent;
    type Error = CallError;

    fn decide(&self, command: &CallCommand) -> Result<Vec<CallEvent>, CallError> {
        use CallCommand as C;
        use CallEvent as E;
        match command {
            C::Offer {
                caller_number,
                dialled_number,
                entry,
                at,
            } => {
                if self.state != CallState::Unknown {
                    return Err(CallError::AlreadyExists);
                }
                let offered = E::Offered {
                    caller_number: caller_number.clone(),
                    dialled_number: dialled_number.clone(),
                    at: *at,
                };
                let mut events = vec![offered];
                match entry {
                    Entry::Ivr => events.push(E::EnteredIvr {
                        menu: None,
                        at: *at,
                    }),
                    Entry::Queue { queue_id, priority } => events.push(E::Queued {
                        queue_id: queue_id.clone(),
                        priority: *priority,
                        target_agent_id: None,
                        required_skill: None,
                        at: *at,
                    }),
                    Entry::Menu { menu, caller_class } => {
                        if let Some(class) = caller_class {
                            events.push(E::CallerClassified {
                                class: *class,
                                at: *at,
                            });
                        }
                        match menu.content.enter(*caller_class, *at) {
                            Arrival::StraightToPerson(target) => {
                                events.push(queued(&target, *at));
                            }
                            Arrival::Menu(walk) => {
                                events.push(E::EnteredIvr {
                                    menu: Some(IvrPosition {
                                        menu: menu.menu.clone(),
                                        node_id: menu.content.entry.clone(),
                                        attempts: 0,
                                    }),
                                    at: *at,
                                });
                                events.extend(walked(walk, *at)?);
                            }
                        }
                    }
                }
                Ok(events)
            }
            C::DialOut {
                customer_number,
                caller_id,
                purpose,
                agent_id,
                queue_id,
                at,
            } => {
                if self.state != CallState::Unknown {
                    return Err(CallError::AlreadyExists);
                }
                Ok(vec![
                    E::OutboundStarted {
                        customer_number: customer_number.clone(),
                        caller_id: caller_id.clone(),
                        purpose: *purpose,
                        agent_id: agent_id.clone(),
                        at: *at,
                    },
                    E::Queued {
                        queue_id: queue_id.clone(),
                        priority: Priority::Normal,
                        target_agent_id: Some(agent_id.clone()),
                        required_skill: None,
                        at: *at,
                    },
                ])
            }
            C::MarkNotReached { reason, at } => match (&self.state, self.direction) {
                (CallState::Queued | CallState::Ringing { .. }, Direction::Outbound) => {
                    Ok(vec![E::NotReached {
                        reason: *reason,
                        at: *at,
                    }])
                }
                (CallState::NotReached { .. }, _) => Ok(vec![]),
                (CallState::Queued | CallState::Ringing { .. }, Direction::Inbound) => {
                    Err(CallError::NotOutbound)
                }
                _ => Err(self.refuse(CallAction::MarkNotReached)),
            },
            C::TakeIvrStep { node_id, input, at } => match self.state {
                CallState::InIvr => Ok(vec![E::IvrStepTaken {
                    node_id: node_id.clone(),
                    input: input.clone(),
                    next_node_id: None,
                    at: *at,
                }]),
                _ => Err(self.refuse(CallAction::TakeIvrStep)),
            },
            C::PressKeys { keys, menu, at } => {
                let position = match (&self.state, &self.ivr) {
                    (CallState::InIvr, Some(position)) => position,
                    (CallState::InIvr, None) => return Err(CallError::NotInOurMenu),
                    _ => return Err(self.refuse(CallAction::TakeKeys)),
                };
                if position.menu != menu.menu {
                    return Err(CallError::OtherMenuVersion {
                        entered_with: position.menu.version,
                    });
                }
                if let Some(key) = keys.chars().find(|key| !super::ivr::is_dtmf_key(*key)) {
                    return Err(CallError::NotAKey { key });
                }
                let walk = menu
                    .content
                    .press(&position.node_id, position.attempts, keys, *at);
                walked(walk, *at)
            }
            C::Enqueue {
                queue_id,
                priority,
                at,
            } => match self.state {
                CallState::InIvr => Ok(vec![E::Queued {
                    queue_id: queue_id.clone(),
                    priority: *priority,
                    target_agent_id: None,
                    required_skill: None,
                    at: *at,
                }]),
                CallState::Queued if self.queue_id.as_ref() == Some(queue_id) => Ok(vec![]),
                _ => Err(self.refuse(CallAction::Enqueue)),
            },
            C::Ring { agent_id, at } => match &self.state {
                CallState::Queued => {
                    if let Some(target) = &self.target_agent_id
                        && target != agent_id
                    {
                        return Err(CallError::WrongAgent {
                            expected: target.clone(),
                            actual: agent_id.clone(),
                        });
                    }
                    Ok(vec![E::Ringing {
                        agent_id: agent_id.clone(),
                        at: *at,
                    }])
                }
                CallState::Ringing { agent_id: ringing } if ringing == agent_id => Ok(vec![]),
                CallState::Ringing { agent_id: ringing } => Err(CallError::WrongAgent {
                    expected: ringing.clone(),
                    actual: agent_id.clone(),
                }),
                _ => Err(self.refuse(CallAction::Ring)),
            },
            C::ReturnToQueue {
                agent_id,
                missed,
                at,
            } => match &self.state {
                CallState::Ringing { agent_id: ringing } if ringing == agent_id => {
                    Ok(vec![E::ReturnedToQueue {
                        agent_id: agent_id.clone(),
                        missed: *missed,
                        at: *at,
                    }])
                }
                CallState::Ringing { agent_id: ringing } => Err(CallError::WrongAgent {
                    expected: ringing.clone(),
                    actual: agent_id.clone(),
                }),
                _ => Err(self.refuse(CallAction::ReturnToQueue)),
            },
            C::Answer { agent_id, at } => match &self.state {
                CallState::Ringing { agent_id: ringing } if ringing == agent_id => {
                    Ok(vec![E::Answered {
                        agent_id: agent_id.clone(),
                        queue_id: self.queue(),
                        at: *at,
                    }])
                }
                CallState::Answered {
                    agent_id: answered, ..
                } if answered == agent_id => Ok(vec![]),
                CallState::Ringing { agent_id: other }
                | CallState::Answered {
                    agent_id: other, ..
                } => Err(CallError::WrongAgent {
                    expected: other.clone(),
                    actual: agent_id.clone(),
                }),
                _ => Err(self.refuse(CallAction::Answer)),
            },
            C::Hold { at } => {
                let (_, held) = self.answered_agent(CallAction::Hold)?;
                Ok(if held {
                    vec![]
                } else {
                    vec![E::Held { at: *at }]
                })
            }
            C::Resume { at } => {
                let (_, held) = self.answered_agent(CallAction::Resume)?;
                Ok(if held {
                    vec![E::Resumed { at: *at }]
                } else {
                    vec![]
                })
            }
            C::Transfer {
                to_queue_id,
                to_agent_id,
                at,
            } => {
                let (agent_id, _) = self.answered_agent(CallAction::Transfer)?;
                if to_agent_id.as_ref() == Some(agent_id) {
                    return Err(CallError::TransferToSelf);
                }
                Ok(vec![
                    E::Transferred {
                        from_agent_id: agent_id.clone(),
                        to_queue_id: to_queue_id.clone(),
                        to_agent_id: to_agent_id.clone(),
                        at: *at,
                    },
                    E::Queued {
                        queue_id: to_queue_id.clone(),
                        priority: self.priority,
                        target_agent_id: to_agent_id.clone(),
                        required_skill: None,
                        at: *at,
                    },
                ])
            }
            C::JoinSupervisor {
                supervisor_id,
                mode,
                at,
            } => {
                self.answered_agent(CallAction::Supervise)?;
                match &self.supervision {
                    Some(present) if present.supervisor_id != *supervisor_id => {
                        Err(CallError::SupervisorPresent {
                            present: present.supervisor_id.clone(),
                        })
                    }
                    Some(present) if present.mode == *mode => Ok(vec![]),
                    _ => Ok(vec![E::SupervisorJoined {
                        supervisor_id: supervisor_id.clone(),
                        mode: *mode,
                        at: *at,
                    }]),
                }
            }
            C::LeaveSupervisor { supervisor_id, at } => match &self.supervision {
                Some(present) if present.supervisor_id == *supervisor_id => {
                    Ok(vec![E::SupervisorLeft {
                        supervisor_id: supervisor_id.clone(),
                        at: *at,
                    }])
                }
                _ => Ok(vec![]),
            },
            C::LeaveQueueAtMaxWait {
                from_queue_id,
                to_queue_id,
                at,
            } => Ok(
                if self.state == CallState::Queued && self.queue_id.as_ref() == Some(from_queue_id)
                {
                    vec![
                        E::MaxWaitReached {
                            queue_id: from_queue_id.clone(),
                            to_queue_id: to_queue_id.clone(),
                            at: *at,
                        },
                        E::Queued {
                            queue_id: to_queue_id.clone(),
                            priority: self.priority,
                            target_agent_id: None,
                            required_skill: self.required_skill.clone(),
                            at: *at,
                        },
                    ]
                } else {
                    vec![]
                },
            ),
            C::End { ended_by, at } => match self.state {
                CallState::Answered { .. } => Ok(vec![E::Ended {
                    ended_by: *ended_by,
                    at: *at,
                }]),
                CallState::Ended => Ok(vec![]),
                _ => Err(self.refuse(CallAction::End)),
            },
            C::Abandon { position, at } => {
                let (phase, since) = match &self.state {
                    CallState::InIvr => (CallPhase::Ivr, self.offered_at),
                    CallState::Queued => (CallPhase::Queued, self.queued_at),
                    CallState::Ringing { .. } => (CallPhase::Ringing, self.queued_at),
                    CallState::Abandoned => return Ok(vec![]),
                    _ => return Err(self.refuse(CallAction::Abandon)),
                };
                Ok(vec![E::Abandoned {
                    queue_id: self.queue_id.clone(),
                    phase,
                    waited_ms: since.map_or(0, |since| at.millis_since(since)),
                    position: *position,
                    at: *at,
                }])
            }
            C::CallerHungUp { at } => match self.state {
                CallState::Ended
                | CallState::Abandoned
                | CallState::SelfServed
                | CallState::NotReached { .. } => Ok(vec![]),
                _ => self.decide(&self.caller_left(None, *at)),
            },
            C::SetDisposition { agent_id, code, at } => {
                if self.state != CallState::Ended {
                    return Err(self.refuse(CallAction::TakeDisposition));
                }
                if let Some(answered_by) = &self.agent_id
                    && answered_by != agent_id
                {
                    return Err(CallError::WrongAgent {
                        expected: answered_by.clone(),
                        actual: agent_id.clone(),
                    });
                }
                match &self.disposition {
                    Some(set) if set == code => Ok(vec![]),
                    Some(set) => Err(CallError::DispositionAlreadySet { code: set.clone() }),
                    None => Ok(vec![E::DispositionSet {
                        agent_id: agent_id.clone(),
                        code: code.clone(),
                        at: *at,
                    }]),
                }
            }
        }
    }

    fn evolve(&mut self, event: &CallEvent) {
        match event {
            CallEvent::Offered {
                caller_number,
                dialled_number,
                at,
            } => {
                self.caller_number = Some(caller_number.clone());
                self.dialled_number = Some(dialled_number.clone());
                self.offered_at = Some(*at);
            }
            CallEvent::OutboundStarted {
                customer_number,
                caller_id,
                purpose,
                at,
                ..
            } => {
                self.direction = Direction::Outbound;
                self.purpose = Some(*purpose);
                self.caller_number = Some(caller_id.clone());
                self.dialled_number = Some(customer_number.clone());
                self.offered_at = Some(*at);
            }
            CallEvent::NotReached { reason, at } => {
                self.state = CallState::NotReached { reason: *reason };
                self.ended_at = Some(*at);
            }
            CallEvent::CallerClassified { class, .. } => self.caller_class = Some(*class),
            CallEvent::EnteredIvr { menu, .. } => {
                self.state = CallState::InIvr;
                self.ivr = menu.clone();
            }
            CallEvent::IvrStepTaken {
                node_id,
                next_node_id,
                ..
            } => {
                self.last_ivr_node = Some(node_id.clone());
                if let (Some(position), Some(next)) = (&mut self.ivr, next_node_id) {
                    position.attempts = if next == &position.node_id {
                        position.attempts.saturating_add(1)
                    } else {
                        0
                    };
                    position.node_id = next.clone();
                }
            }
            CallEvent::SelfServed { service, at, .. } => {
                self.state = CallState::SelfServed;
                self.self_service = Some(service.clone());
                self.ended_at = Some(*at);
            }
            CallEvent::Queued {
                queue_id,
                priority,
                target_agent_id,
                required_skill,
                at,
            } => {
                self.state = CallState::Queued;
                self.ivr = None;
                self.required_skill = required_skill.clone();
                self.queue_id = Some(queue_id.clone());
                self.priority = *priority;
                self.target_agent_id = target_agent_id.clone();
                self.queued_at = Some(*at);
            }
            CallEvent::Ringing { agent_id, .. } => {
                self.state = CallState::Ringing {
                    agent_id: agent_id.clone(),
                };
                self.agent_id = Some(agent_id.clone());
            }
            CallEvent::ReturnedToQueue { .. } => self.state = CallState::Queued,
            CallEvent::Answered { agent_id, at, .. } => {
                self.state = CallState::Answered {
                    agent_id: agent_id.clone(),
                    held: false,
                };
                self.agent_id = Some(agent_id.clone());
                self.target_agent_id = None;
                self.answered_at.get_or_insert(*at);
            }
            CallEvent::Held { .. } | CallEvent::Resumed { .. } => {
                if let CallState::Answered { held, .. } = &mut self.state {
                    *held = matches!(event, CallEvent::Held { .. });
                }
            }
            CallEvent::MaxWaitReached { .. } => {}
            CallEvent::Transferred { .. } => {
                self.transfers += 1;
                self.supervision = None;
            }
            CallEvent::SupervisorJoined {
                supervisor_id,
                mode,
                ..
            } => {
                self.supervision = Some(Supervision {
                    supervisor_id: supervisor_id.clone(),
                    mode: *mode,
                });
            }
            CallEvent::SupervisorLeft { .. } => self.supervision = None,
            CallEvent::Ended { at, .. } => {
                self.state = CallState::Ended;
                self.supervision = None;
                self.ended_at = Some(*at);
            }
            CallEvent::Abandoned { at, .. } => {
                self.state = CallState::Abandoned;
                self.ended_at = Some(*at);
            }
            CallEvent::DispositionSet { code, .. } => self.disposition = Some(code.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, given, name};

    use super::*;
    use crate::domain::ivr::CallerClass;

    fn number(value: &str) -> PhoneNumber {
        PhoneNumber::parse(value).unwrap()
    }

    fn offered_into_queue() -> Vec<CallEvent> {
        vec![
            CallEvent::Offered {
                caller_number: number("13800138000"),
                dialled_number: number("4000"),
                at: at(0),
            },
            CallEvent::Queued {
                queue_id: name("general"),
                priority: Priority::Normal,
                target_agent_id: None,
                required_skill: None,
                at: at(0),
            },
        ]
    }

    fn ringing(agent: &str) -> Vec<CallEvent> {
        let mut events = offered_into_queue();
        events.push(CallEvent::Ringing {
            agent_id: name(agent),
            at: at(5),
        });
        events
    }

    fn answered(agent: &str) -> Vec<CallEvent> {
        let mut events = ringing(agent);
        events.push(CallEvent::Answered {
            agent_id: name(agent),
            queue_id: name("general"),
            at: at(8),
        });
        events
    }

    fn ended(agent: &str) -> Vec<CallEvent> {
        let mut events = answered(agent);
        events.push(CallEvent::Ended {
            ended_by: Party::Caller,
            at: at(60),
        });
        events
    }

    fn pinned(version: u64) -> PinnedMenu {
        PinnedMenu {
            menu: MenuRef {
                menu_id: name("main-menu"),
                version,
            },
            content: Arc::new(crate::domain::ivr::fixtures::sample()),
        }
    }

    fn into_menu(class: Option<CallerClass>, hour: i64) -> CallCommand {
        CallCommand::Offer {
            caller_number: number("13800138000"),
            dialled_number: number("4000"),
            entry: Entry::Menu {
                menu: pinned(1),
                caller_class: class,
            },
            at: crate::domain::ivr::fixtures::o_clock(hour),
        }
    }

    #[test]
    fn a_caller_in_our_menu_waits_at_the_first_prompt_then_moves_by_keys() {
        let (offered, state) = given::<Call>([])
            .when(into_menu(Some(CallerClass::Known), 12))
            .accepted();
        assert_eq!(state.state, CallState::InIvr);
        assert_eq!(state.caller_class, Some(CallerClass::Known));
        assert_eq!(
            state.ivr.as_ref().map(|position| position.node_id.as_str()),
            Some("main")
        );
        let press = |keys: &str| CallCommand::PressKeys {
            keys: keys.into(),
            menu: pinned(1),
            at: at(30),
        };
        let queued = given::<Call>(offered.clone()).when(press("1")).accepted().1;
        assert_eq!(queued.state, CallState::Queued);
        assert_eq!(queued.queue_id, Some(name("repairs")));
        assert_eq!(queued.last_ivr_node.as_deref(), Some("main"));
        let served = given::<Call>(offered.clone()).when(press("2")).accepted().1;
        assert_eq!(served.state, CallState::SelfServed);
        assert_eq!(served.self_service, Some(name("balance")));
        assert!(served.state.is_finished());
        given::<Call>(offered.clone())
            .when(press("x"))
            .then_error(CallError::NotAKey { key: 'x' });
        given::<Call>(offered)
            .when(CallCommand::PressKeys {
                keys: "1".into(),
                menu: pinned(2),
                at: at(30),
            })
            .then_error(CallError::OtherMenuVersion { entered_with: 1 });
    }

    #[test]
    fn elderly_callers_skip_the_menu_and_go_straight_to_a_person() {
        let state = given::<Call>([])
            .when(into_menu(Some(CallerClass::Elderly), 12))
            .accepted()
            .1;
        assert_eq!(state.state, CallState::Queued);
        assert_eq!(state.queue_id, Some(name("general")));
        assert_eq!(state.caller_class, Some(CallerClass::Elderly));
        assert_eq!(state.ivr, None);
    }

    #[test]
    fn keys_for_a_call_in_a_partners_ivr_are_refused() {
        given::<Call>([
            CallEvent::Offered {
                caller_number: number("1"),
                dialled_number: number("4000"),
                at: at(0),
            },
            CallEvent::EnteredIvr {
                menu: None,
                at: at(0),
            },
        ])
        .when(CallCommand::PressKeys {
            keys: "1".into(),
            menu: pinned(1),
            at: at(1),
        })
        .then_error(CallError::NotInOurMenu);
    }

    #[test]
    fn an_offered_call_enters_the_ivr_or_its_queue_at_once() {
        let state = given::<Call>([])
            .when(CallCommand::Offer {
                caller_number: number("13800138000"),
                dialled_number: number("4000"),
                entry: Entry::Queue {
                    queue_id: name("general"),
                    priority: Priority::Normal,
                },
                at: at(0),
            })
            .then(offered_into_queue());
        assert_eq!(state.state, CallState::Queued);
        let in_ivr = given::<Call>([])
            .when(CallCommand::Offer {
                caller_number: number("1"),
                dialled_number: number("4000"),
                entry: Entry::Ivr,
                at: at(0),
            })
            .then([
                CallEvent::Offered {
                    caller_number: number("1"),
                    dialled_number: number("4000"),
                    at: at(0),
                },
                CallEvent::EnteredIvr {
                    menu: None,
                    at: at(0),
                },
            ]);
        assert_eq!(in_ivr.state, CallState::InIvr);
        given::<Call>(offered_into_queue())
            .when(CallCommand::Offer {
                caller_number: number("1"),
                dialled_number: number("4000"),
                entry: Entry::Ivr,
                at: at(1),
            })
            .then_error(CallError::AlreadyExists);
    }

    #[test]
    fn the_ivr_takes_steps_then_hands_the_call_to_a_queue() {
        let in_ivr = vec![
            CallEvent::Offered {
                caller_number: number("1"),
                dialled_number: number("4000"),
                at: at(0),
            },
            CallEvent::EnteredIvr {
                menu: None,
                at: at(0),
            },
        ];
        let stepped = given::<Call>(in_ivr.clone())
            .when(CallCommand::TakeIvrStep {
                node_id: "main".into(),
                input: "2".into(),
                at: at(3),
            })
            .then([CallEvent::IvrStepTaken {
                node_id: "main".into(),
                input: "2".into(),
                next_node_id: None,
                at: at(3),
            }]);
        assert_eq!(stepped.last_ivr_node.as_deref(), Some("main"));
        let queued = given::<Call>(in_ivr)
            .when(CallCommand::Enqueue {
                queue_id: name("repairs"),
                priority: Priority::Emergency,
                at: at(9),
            })
            .then([CallEvent::Queued {
                queue_id: name("repairs"),
                priority: Priority::Emergency,
                target_agent_id: None,
                required_skill: None,
                at: at(9),
            }]);
        assert_eq!(queued.priority, Priority::Emergency);
        given::<Call>(offered_into_queue())
            .when(CallCommand::TakeIvrStep {
                node_id: "main".into(),
                input: "1".into(),
                at: at(3),
            })
            .then_error(CallError::InvalidTransition {
                state: "queued",
                action: CallAction::TakeIvrStep,
            });
    }

    #[test]
    fn a_call_rings_only_while_queued_and_at_one_agent() {
        given::<Call>(offered_into_queue())
            .when(CallCommand::Ring {
                agent_id: name("agent-1"),
                at: at(5),
            })
            .then([CallEvent::Ringing {
                agent_id: name("agent-1"),
                at: at(5),
            }]);
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::Ring {
                agent_id: name("agent-1"),
                at: at(6),
            })
            .then([]);
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::Ring {
                agent_id: name("agent-2"),
                at: at(6),
            })
            .then_error(CallError::WrongAgent {
                expected: name("agent-1"),
                actual: name("agent-2"),
            });
        given::<Call>([])
            .when(CallCommand::Ring {
                agent_id: name("agent-1"),
                at: at(6),
            })
            .then_error(CallError::NotFound);
    }

    #[test]
    fn a_missed_call_returns_to_its_queue_at_its_place() {
        let returned = given::<Call>(ringing("agent-1"))
            .when(CallCommand::ReturnToQueue {
                agent_id: name("agent-1"),
                missed: true,
                at: at(20),
            })
            .then([CallEvent::ReturnedToQueue {
                agent_id: name("agent-1"),
                missed: true,
                at: at(20),
            }]);
        assert_eq!(returned.state, CallState::Queued);
        assert_eq!(returned.queued_at, Some(at(0)), "its place is kept");
        given::<Call>(offered_into_queue())
            .when(CallCommand::ReturnToQueue {
                agent_id: name("agent-1"),
                missed: false,
                at: at(20),
            })
            .then_error(CallError::InvalidTransition {
                state: "queued",
                action: CallAction::ReturnToQueue,
            });
    }

    #[test]
    fn only_the_ringing_agent_answers_and_only_once() {
        let state = given::<Call>(ringing("agent-1"))
            .when(CallCommand::Answer {
                agent_id: name("agent-1"),
                at: at(8),
            })
            .then([CallEvent::Answered {
                agent_id: name("agent-1"),
                queue_id: name("general"),
                at: at(8),
            }]);
        assert_eq!(state.answered_at, Some(at(8)));
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::Answer {
                agent_id: name("agent-2"),
                at: at(8),
            })
            .then_error(CallError::WrongAgent {
                expected: name("agent-1"),
                actual: name("agent-2"),
            });
        given::<Call>(offered_into_queue())
            .when(CallCommand::Answer {
                agent_id: name("agent-1"),
                at: at(8),
            })
            .then_error(CallError::InvalidTransition {
                state: "queued",
                action: CallAction::Answer,
            });
        given::<Call>(answered("agent-1"))
            .when(CallCommand::Answer {
                agent_id: name("agent-1"),
                at: at(9),
            })
            .then([]);
    }

    #[test]
    fn hold_and_resume_toggle_only_on_an_answered_call() {
        let held = given::<Call>(answered("agent-1"))
            .when(CallCommand::Hold { at: at(20) })
            .then([CallEvent::Held { at: at(20) }]);
        assert!(matches!(held.state, CallState::Answered { held: true, .. }));
        let mut on_hold = answered("agent-1");
        on_hold.push(CallEvent::Held { at: at(20) });
        given::<Call>(on_hold.clone())
            .when(CallCommand::Hold { at: at(21) })
            .then([]);
        let resumed = given::<Call>(on_hold)
            .when(CallCommand::Resume { at: at(30) })
            .then([CallEvent::Resumed { at: at(30) }]);
        assert!(matches!(
            resumed.state,
            CallState::Answered { held: false, .. }
        ));
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::Hold { at: at(6) })
            .then_error(CallError::InvalidTransition {
                state: "ringing",
                action: CallAction::Hold,
            });
    }

    #[test]
    fn a_call_that_waited_the_queue_maximum_moves_to_the_max_wait_queue() {
        let leave = |from: &str| CallCommand::LeaveQueueAtMaxWait {
            from_queue_id: name(from),
            to_queue_id: name("backup"),
            at: at(60),
        };
        let moved = given::<Call>(offered_into_queue())
            .when(leave("general"))
            .then([
                CallEvent::MaxWaitReached {
                    queue_id: name("general"),
                    to_queue_id: name("backup"),
                    at: at(60),
                },
                CallEvent::Queued {
                    queue_id: name("backup"),
                    priority: Priority::Normal,
                    target_agent_id: None,
                    required_skill: None,
                    at: at(60),
                },
            ]);
        assert_eq!(
            (moved.state, moved.queue_id),
            (CallState::Queued, Some(name("backup")))
        );
        // Ringing, answered, or already moved on: nothing to do.
        given::<Call>(ringing("agent-1"))
            .when(leave("general"))
            .then([]);
        given::<Call>(answered("agent-1"))
            .when(leave("general"))
            .then([]);
        given::<Call>(offered_into_queue())
            .when(leave("repairs"))
            .then([]);
    }

    #[test]
    fn a_transfer_queues_the_call_again_for_a_queue_or_one_agent() {
        let to_queue = given::<Call>(answered("agent-1"))
            .when(CallCommand::Transfer {
                to_queue_id: name("repairs"),
                to_agent_id: None,
                at: at(30),
            })
            .then([
                CallEvent::Transferred {
                    from_agent_id: name("agent-1"),
                    to_queue_id: name("repairs"),
                    to_agent_id: None,
                    at: at(30),
                },
                CallEvent::Queued {
                    queue_id: name("repairs"),
                    priority: Priority::Normal,
                    target_agent_id: None,
                    required_skill: None,
                    at: at(30),
                },
            ]);
        assert_eq!(
            (to_queue.state.clone(), to_queue.transfers),
            (CallState::Queued, 1)
        );
        let mut to_agent = answered("agent-1");
        to_agent.extend([
            CallEvent::Transferred {
                from_agent_id: name("agent-1"),
                to_queue_id: name("general"),
                to_agent_id: Some(name("agent-2")),
                at: at(30),
            },
            CallEvent::Queued {
                queue_id: name("general"),
                priority: Priority::Normal,
                target_agent_id: Some(name("agent-2")),
                required_skill: None,
                at: at(30),
            },
        ]);
        given::<Call>(to_agent.clone())
            .when(CallCommand::Ring {
                agent_id: name("agent-3"),
                at: at(31),
            })
            .then_error(CallError::WrongAgent {
                expected: name("agent-2"),
                actual: name("agent-3"),
            });
        given::<Call>(to_agent)
            .when(CallCommand::Ring {
                agent_id: name("agent-2"),
                at: at(31),
            })
            .then([CallEvent::Ringing {
                agent_id: name("agent-2"),
                at: at(31),
            }]);
        given::<Call>(answered("agent-1"))
            .when(CallCommand::Transfer {
                to_queue_id: name("general"),
                to_agent_id: Some(name("agent-1")),
                at: at(30),
            })
            .then_error(CallError::TransferToSelf);
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::Transfer {
                to_queue_id: name("repairs"),
                to_agent_id: None,
                at: at(30),
            })
            .then_error(CallError::InvalidTransition {
                state: "ringing",
                action: CallAction::Transfer,
            });
    }

    #[test]
    fn one_supervisor_listens_whispers_or_barges_on_an_answered_call() {
        let listening = given::<Call>(answered("agent-1"))
            .when(CallCommand::JoinSupervisor {
                supervisor_id: name("lead-1"),
                mode: SupervisionMode::Listen,
                at: at(20),
            })
            .then([CallEvent::SupervisorJoined {
                supervisor_id: name("lead-1"),
                mode: SupervisionMode::Listen,
                at: at(20),
            }]);
        assert_eq!(
            listening.supervision.as_ref().map(|s| s.mode),
            Some(SupervisionMode::Listen)
        );
        let mut supervised = answered("agent-1");
        supervised.push(CallEvent::SupervisorJoined {
            supervisor_id: name("lead-1"),
            mode: SupervisionMode::Listen,
            at: at(20),
        });
        given::<Call>(supervised.clone())
            .when(CallCommand::JoinSupervisor {
                supervisor_id: name("lead-1"),
                mode: SupervisionMode::Barge,
                at: at(25),
            })
            .then([CallEvent::SupervisorJoined {
                supervisor_id: name("lead-1"),
                mode: SupervisionMode::Barge,
                at: at(25),
            }]);
        given::<Call>(supervised.clone())
            .when(CallCommand::JoinSupervisor {
                supervisor_id: name("lead-2"),
                mode: SupervisionMode::Whisper,
                at: at(25),
            })
            .then_error(CallError::SupervisorPresent {
                present: name("lead-1"),
            });
        let ended = given::<Call>(supervised)
            .when(CallCommand::End {
                ended_by: Party::Agent,
                at: at(60),
            })
            .then([CallEvent::Ended {
                ended_by: Party::Agent,
                at: at(60),
            }]);
        assert!(
            ended.supervision.is_none(),
            "the supervisor leaves with the call"
        );
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::JoinSupervisor {
                supervisor_id: name("lead-1"),
                mode: SupervisionMode::Listen,
                at: at(6),
            })
            .then_error(CallError::InvalidTransition {
                state: "ringing",
                action: CallAction::Supervise,
            });
    }

    #[test]
    fn only_an_answered_call_ends_and_a_finished_call_stays_finished() {
        given::<Call>(answered("agent-1"))
            .when(CallCommand::End {
                ended_by: Party::Caller,
                at: at(60),
            })
            .then([CallEvent::Ended {
                ended_by: Party::Caller,
                at: at(60),
            }]);
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::End {
                ended_by: Party::Agent,
                at: at(60),
            })
            .then_error(CallError::InvalidTransition {
                state: "ringing",
                action: CallAction::End,
            });
        given::<Call>(ended("agent-1"))
            .when(CallCommand::End {
                ended_by: Party::Agent,
                at: at(61),
            })
            .then([]);
        let refused = given::<Call>(ended("agent-1"))
            .when(CallCommand::Abandon {
                position: None,
                at: at(61),
            })
            .then_refused();
        assert!(matches!(
            refused,
            CallError::InvalidTransition { state: "ended", .. }
        ));
    }

    #[test]
    fn a_caller_who_hangs_up_abandons_a_waiting_call_ends_an_answered_one_and_changes_no_finished_one()
     {
        let hang_up = CallCommand::CallerHungUp { at: at(30) };
        given::<Call>(ringing("agent-1"))
            .when(hang_up.clone())
            .then([CallEvent::Abandoned {
                queue_id: Some(name("general")),
                phase: CallPhase::Ringing,
                waited_ms: 30_000,
                position: None,
                at: at(30),
            }]);
        given::<Call>(answered("agent-1"))
            .when(hang_up.clone())
            .then([CallEvent::Ended {
                ended_by: Party::Caller,
                at: at(30),
            }]);
        given::<Call>(ended("agent-1"))
            .when(hang_up.clone())
            .then([]);
        let mut abandoned = offered_into_queue();
        abandoned.push(CallEvent::Abandoned {
            queue_id: Some(name("general")),
            phase: CallPhase::Queued,
            waited_ms: 1_000,
            position: None,
            at: at(1),
        });
        given::<Call>(abandoned).when(hang_up).then([]);
    }

    #[test]
    fn an_abandoned_call_records_its_phase_wait_and_position() {
        given::<Call>(offered_into_queue())
            .when(CallCommand::Abandon {
                position: Some(3),
                at: at(42),
            })
            .then([CallEvent::Abandoned {
                queue_id: Some(name("general")),
                phase: CallPhase::Queued,
                waited_ms: 42_000,
                position: Some(3),
                at: at(42),
            }]);
        given::<Call>(ringing("agent-1"))
            .when(CallCommand::Abandon {
                position: None,
                at: at(7),
            })
            .then([CallEvent::Abandoned {
                queue_id: Some(name("general")),
                phase: CallPhase::Ringing,
                waited_ms: 7_000,
                position: None,
                at: at(7),
            }]);
        let in_ivr = vec![
            CallEvent::Offered {
                caller_number: number("1"),
                dialled_number: number("4000"),
                at: at(0),
            },
            CallEvent::EnteredIvr {
                menu: None,
                at: at(0),
            },
        ];
        given::<Call>(in_ivr)
            .when(CallCommand::Abandon {
                position: None,
                at: at(12),
            })
            .then([CallEvent::Abandoned {
                queue_id: None,
                phase: CallPhase::Ivr,
                waited_ms: 12_000,
                position: None,
                at: at(12),
            }]);
        let mut abandoned = offered_into_queue();
        abandoned.push(CallEvent::Abandoned {
            queue_id: Some(name("general")),
            phase: CallPhase::Queued,
            waited_ms: 1_000,
            position: None,
            at: at(1),
        });
        given::<Call>(abandoned.clone())
            .when(CallCommand::Abandon {
                position: None,
                at: at(2),
            })
            .then([]);
        given::<Call>(abandoned)
            .when(CallCommand::Answer {
                agent_id: name("agent-1"),
                at: at(3),
            })
            .then_error(CallError::InvalidTransition {
                state: "abandoned",
                action: CallAction::Answer,
            });
    }

    #[test]
    fn the_answering_agent_sets_one_disposition_after_the_call() {
        let classified = given::<Call>(ended("agent-1"))
            .when(CallCommand::SetDisposition {
                agent_id: name("agent-1"),
                code: name("resolved"),
                at: at(70),
            })
            .then([CallEvent::DispositionSet {
                agent_id: name("agent-1"),
                code: name("resolved"),
                at: at(70),
            }]);
        assert_eq!(classified.disposition, Some(name("resolved")));
        let mut set = ended("agent-1");
        set.push(CallEvent::DispositionSet {
            agent_id: name("agent-1"),
            code: name("resolved"),
            at: at(70),
        });
        given::<Call>(set.clone())
            .when(CallCommand::SetDisposition {
                agent_id: name("agent-1"),
                code: name("resolved"),
                at: at(71),
            })
            .then([]);
        given::<Call>(set)
            .when(CallCommand::SetDisposition {
                agent_id: name("agent-1"),
                code: name("complaint"),
                at: at(71),
            })
            .then_error(CallError::DispositionAlreadySet {
                code: name("resolved"),
            });
        given::<Call>(ended("agent-1"))
            .when(CallCommand::SetDisposition {
                agent_id: name("agent-2"),
                code: name("resolved"),
                at: at(70),
            })
            .then_error(CallError::WrongAgent {
                expected: name("agent-1"),
                actual: name("agent-2"),
            });
        given::<Call>(answered("agent-1"))
            .when(CallCommand::SetDisposition {
                agent_id: name("agent-1"),
                code: name("resolved"),
                at: at(30),
            })
            .then_error(CallError::InvalidTransition {
                state: "answered",
                action: CallAction::TakeDisposition,
            });
    }
}

#[cfg(test)]
mod outbound {
    use callcenter_kit::testing::{at, given, name};

    use super::*;

    fn dial() -> CallCommand {
        CallCommand::DialOut {
            customer_number: PhoneNumber::parse("13900139000").unwrap(),
            caller_id: PhoneNumber::parse("95158").unwrap(),
            purpose: OutboundPurpose::Callback,
            agent_id: name("agent-1"),
            queue_id: name("outbound"),
            at: at(0),
        }
    }

    fn dialled() -> Vec<CallEvent> {
        vec![
            CallEvent::OutboundStarted {
                customer_number: PhoneNumber::parse("13900139000").unwrap(),
                caller_id: PhoneNumber::parse("95158").unwrap(),
                purpose: OutboundPurpose::Callback,
                agent_id: name("agent-1"),
                at: at(0),
            },
            CallEvent::Queued {
                queue_id: name("outbound"),
                priority: Priority::Normal,
                target_agent_id: Some(name("agent-1")),
                required_skill: None,
                at: at(0),
            },
        ]
    }

    #[test]
    fn an_outbound_call_waits_for_its_agent_and_shows_our_number() {
        let call = given::<Call>([]).when(dial()).then(dialled());
        assert_eq!(call.direction, Direction::Outbound);
        assert_eq!(call.target_agent_id, Some(name("agent-1")));
        assert_eq!(
            call.caller_number.as_ref().map(PhoneNumber::as_str),
            Some("95158")
        );
        given::<Call>(dialled())
            .when(CallCommand::Ring {
                agent_id: name("agent-2"),
                at: at(1),
            })
            .then_error(CallError::WrongAgent {
                expected: name("agent-1"),
                actual: name("agent-2"),
            });
    }

    #[test]
    fn an_outbound_call_that_does_not_reach_the_customer_is_over() {
        let mut ringing = dialled();
        ringing.push(CallEvent::Ringing {
            agent_id: name("agent-1"),
            at: at(1),
        });
        let over = given::<Call>(ringing)
            .when(CallCommand::MarkNotReached {
                reason: NotReachedReason::Busy,
                at: at(20),
            })
            .then([CallEvent::NotReached {
                reason: NotReachedReason::Busy,
                at: at(20),
            }]);
        assert!(over.state.is_finished());
        let inbound = vec![
            CallEvent::Offered {
                caller_number: PhoneNumber::parse("1").unwrap(),
                dialled_number: PhoneNumber::parse("4000").unwrap(),
                at: at(0),
            },
            CallEvent::Queued {
                queue_id: name("general"),
                priority: Priority::Normal,
                target_agent_id: None,
                required_skill: None,
                at: at(0),
            },
        ];
        given::<Call>(inbound)
            .when(CallCommand::MarkNotReached {
                reason: NotReachedReason::NoAnswer,
                at: at(5),
            })
            .then_error(CallError::NotOutbound);
    }
}

#[cfg(test)]
mod properties {
    use callcenter_kit::testing::{at, name};
    use proptest::prelude::*;

    use super::*;
    use crate::domain::ivr::CallerClass;

    fn agent() -> impl Strategy<Value = Name> {
        prop_oneof![Just(name("agent-1")), Just(name("agent-2"))]
    }

    fn queue() -> impl Strategy<Value = Name> {
        prop_oneof![Just(name("general")), Just(name("repairs"))]
    }

    /// Any command, with times filled in when applied.
    fn command() -> impl Strategy<Value = fn(Name, Name, i64) -> CallCommand> {
        let commands: Vec<fn(Name, Name, i64) -> CallCommand> = vec![
            |_, queue, t| CallCommand::Enqueue {
                queue_id: queue,
                priority: Priority::Normal,
                at: at(t),
            },
            |_, _, t| CallCommand::TakeIvrStep {
                node_id: "main".into(),
                input: "1".into(),
                at: at(t),
            },
            |agent, _, t| CallCommand::Ring {
                agent_id: agent,
                at: at(t),
            },
            |agent, _, t| CallCommand::ReturnToQueue {
                agent_id: agent,
                missed: true,
                at: at(t),
            },
            |agent, _, t| CallCommand::Answer {
                agent_id: agent,
                at: at(t),
            },
            |_, _, t| CallCommand::Hold { at: at(t) },
            |_, _, t| CallCommand::Resume { at: at(t) },
            |agent, queue, t| CallCommand::Transfer {
                to_queue_id: queue,
                to_agent_id: Some(agent),
                at: at(t),
            },
            |_, queue, t| CallCommand::Transfer {
                to_queue_id: queue,
                to_agent_id: None,
                at: at(t),
            },
            |agent, _, t| CallCommand::JoinSupervisor {
                supervisor_id: agent,
                mode: SupervisionMode::Barge,
                at: at(t),
            },
            |_, _, t| CallCommand::End {
                ended_by: Party::Agent,
                at: at(t),
            },
            |_, _, t| CallCommand::MarkNotReached {
                reason: NotReachedReason::NoAnswer,
                at: at(t),
            },
            |agent, _, t| CallCommand::SetDisposition {
                agent_id: agent,
                code: name("resolved"),
                at: at(t),
            },
            |_, _, t| press_keys("1", t),
            |_, _, t| press_keys("2", t),
            |_, _, t| press_keys("9", t),
            |_, _, t| press_keys("7", t),
            |_, _, t| press_keys("", t),
            |_, _, t| press_keys("*#", t),
        ];
        proptest::sample::select(commands)
    }

    /// The sample menu, version 1.
    fn sample_menu() -> PinnedMenu {
        PinnedMenu {
            menu: MenuRef {
                menu_id: name("main-menu"),
                version: 1,
            },
            content: Arc::new(crate::domain::ivr::fixtures::sample()),
        }
    }

    fn press_keys(keys: &str, t: i64) -> CallCommand {
        CallCommand::PressKeys {
            keys: keys.into(),
            menu: sample_menu(),
            at: at(t),
        }
    }

    /// Decides and applies `command`; refusals change nothing.
    fn apply(call: &mut Call, command: &CallCommand) {
        if let Ok(events) = call.decide(command) {
            for event in &events {
                call.evolve(event);
            }
        }
    }

    /// What must hold in every state, whatever happened before.
    fn check_invariants(call: &Call) {
        match &call.state {
            CallState::Ringing { agent_id } | CallState::Answered { agent_id, .. } => {
                assert_eq!(call.agent_id.as_ref(), Some(agent_id));
                assert!(
                    call.queue_id.is_some(),
                    "a call with an agent came through a queue"
                );
            }
            CallState::Queued => assert!(call.queue_id.is_some()),
            CallState::InIvr => {
                if let Some(position) = &call.ivr {
                    let menu = sample_menu().content;
                    assert!(
                        matches!(
                            menu.nodes.get(&position.node_id),
                            Some(crate::domain::IvrNode::Menu { .. })
                        ),
                        "a caller in our menu waits at a menu node: {position:?}"
                    );
                    assert!(position.attempts < 3, "no more tries than the menu allows");
                }
            }
            CallState::SelfServed => assert!(call.self_service.is_some()),
            _ => {}
        }
        if call.state.is_finished() {
            assert!(call.ended_at.is_some());
            assert!(
                call.supervision.is_none(),
                "nobody supervises a finished call"
            );
        }
        if call.disposition.is_some() {
            assert_eq!(call.state, CallState::Ended);
        }
    }

    proptest! {
        /// DOMAIN/issue 3: no call can be in a state other than ended or abandoned after its
        /// caller is gone, whatever came before and whatever is asked after.
        #[test]
        fn once_the_caller_is_gone_a_call_stays_ended_abandoned_or_self_served(
            entry_kind in 0..5_u8,
            hour in 0..24_i64,
            before in proptest::collection::vec((command(), agent(), queue()), 0..25),
            after in proptest::collection::vec((command(), agent(), queue()), 0..10),
        ) {
            let mut call = Call::default();
            let start = match entry_kind {
                0 => CallCommand::Offer {
                    caller_number: PhoneNumber::parse("1").unwrap(),
                    dialled_number: PhoneNumber::parse("4000").unwrap(),
                    entry: Entry::Ivr,
                    at: at(0),
                },
                1 => CallCommand::Offer {
                    caller_number: PhoneNumber::parse("1").unwrap(),
                    dialled_number: PhoneNumber::parse("4000").unwrap(),
                    entry: Entry::Queue { queue_id: name("general"), priority: Priority::Normal },
                    at: at(0),
                },
                3 | 4 => CallCommand::Offer {
                    caller_number: PhoneNumber::parse("1").unwrap(),
                    dialled_number: PhoneNumber::parse("4000").unwrap(),
                    entry: Entry::Menu {
                        menu: sample_menu(),
                        caller_class: (entry_kind == 4).then_some(CallerClass::Elderly),
                    },
                    at: crate::domain::ivr::fixtures::o_clock(hour),
                },
                _ => CallCommand::DialOut {
                    customer_number: PhoneNumber::parse("13900139000").unwrap(),
                    caller_id: PhoneNumber::parse("95158").unwrap(),
                    purpose: OutboundPurpose::Survey,
                    agent_id: name("agent-1"),
                    queue_id: name("outbound"),
                    at: at(0),
                },
            };
            apply(&mut call, &start);
            let mut clock = 0;
            for (make, agent, queue) in &before {
                clock += 1;
                apply(&mut call, &make(agent.clone(), queue.clone(), clock));
                check_invariants(&call);
            }
            clock += 1;
            let hang_up = call.caller_left(None, at(clock));
            apply(&mut call, &hang_up);
            prop_assert!(call.state.is_finished(), "after the caller left: {:?}", call.state);
            let finished = call.state.clone();
            for (make, agent, queue) in &after {
                clock += 1;
                apply(&mut call, &make(agent.clone(), queue.clone(), clock));
                check_invariants(&call);
                prop_assert_eq!(&call.state, &finished);
            }
        }
    }
}
