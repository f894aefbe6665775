//! The JSON shapes of the HTTP API, and their mapping from the gRPC messages.

use callcenter_eventlog::from_proto_timestamp;
use callcenter_proto::reporting::v1 as reporting;
use callcenter_proto::routing::v1 as routing;
use callcenter_proto::telephony::v1 as telephony;
use serde::{Deserialize, Serialize};

fn rfc3339(timestamp: Option<prost_types::Timestamp>) -> Option<String> {
    timestamp.map(|t| from_proto_timestamp(t).to_rfc3339())
}

/// `None` for an empty string.
pub fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// A call.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Call {
    /// Its id.
    pub call_id: String,
    /// `queued`, `ringing`, `answered`, `ended` or `abandoned`.
    pub state: String,
    /// Who called.
    pub caller_number: String,
    /// What they dialled.
    pub dialled_number: String,
    /// The queue.
    pub queue_id: String,
    /// The agent it rings at or was answered by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// When it arrived (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offered_at: Option<String>,
    /// When it was answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<String>,
    /// When it ended or was abandoned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Per-call version.
    pub version: u64,
    /// `normal` or `emergency`.
    pub priority: String,
    /// Whether the caller is on hold.
    pub held: bool,
    /// The supervisor on the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervisor_id: Option<String>,
    /// `listen`, `whisper` or `barge`, with a supervisor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervision_mode: Option<String>,
    /// How often the call was transferred.
    pub transfers: u32,
    /// The agent's classification after the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// The agent the call waits for after a transfer to that agent (or the agent dialling out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_agent_id: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// `callback`, `survey` or `marketing`, for an outbound call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// `no_answer`, `busy`, `rejected` or `failed`, for an outbound call not reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_reached_reason: Option<String>,
    /// `known`, `vip` or `elderly`: how the platform knew the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_class: Option<String>,
    /// The skill the voice menu asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_skill: Option<String>,
    /// Where the call is in one of our voice menus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ivr: Option<IvrPosition>,
    /// The self-service that served the caller (state `self_served`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_service: Option<String>,
}

/// Where a call is in one of our voice menus.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IvrPosition {
    /// The menu.
    pub menu_id: String,
    /// The version the call keeps.
    pub menu_version: u64,
    /// The node.
    pub node_id: String,
    /// What the caller should hear now.
    pub prompt: String,
    /// Failed tries at the node.
    pub attempts: u32,
}

fn caller_class_name(class: i32) -> Option<String> {
    match telephony::CallerClass::try_from(class) {
        Ok(telephony::CallerClass::Known) => Some("known".into()),
        Ok(telephony::CallerClass::Vip) => Some("vip".into()),
        Ok(telephony::CallerClass::Elderly) => Some("elderly".into()),
        _ => None,
    }
}

/// The stored class of a class name (unspecified for none); `None` for an unknown name.
pub fn caller_class_from_name(name: Option<&str>) -> Option<telephony::CallerClass> {
    match name {
        None => Some(telephony::CallerClass::Unspecified),
        Some("known") => Some(telephony::CallerClass::Known),
        Some("vip") => Some(telephony::CallerClass::Vip),
        Some("elderly") => Some(telephony::CallerClass::Elderly),
        Some(_) => None,
    }
}

impl From<telephony::Call> for Call {
    fn from(call: telephony::Call) -> Self {
        let priority = if call.priority() == telephony::Priority::Emergency {
            "emergency"
        } else {
            "normal"
        };
        let direction = match call.direction() {
            telephony::Direction::Outbound => "outbound",
            _ => "inbound",
        };
        let purpose = match call.purpose() {
            telephony::OutboundPurpose::Callback => Some("callback".to_owned()),
            telephony::OutboundPurpose::Survey => Some("survey".to_owned()),
            telephony::OutboundPurpose::Marketing => Some("marketing".to_owned()),
            telephony::OutboundPurpose::Unspecified => None,
        };
        let not_reached_reason = match call.not_reached_reason() {
            telephony::NotReachedReason::NoAnswer => Some("no_answer".to_owned()),
            telephony::NotReachedReason::Busy => Some("busy".to_owned()),
            telephony::NotReachedReason::Rejected => Some("rejected".to_owned()),
            telephony::NotReachedReason::Failed => Some("failed".to_owned()),
            telephony::NotReachedReason::Unspecified => None,
        };
        let state = match telephony::CallState::try_from(call.state) {
            Ok(telephony::CallState::NotReached) => "not_reached",
            Ok(telephony::CallState::InIvr) => "in_ivr",
            Ok(telephony::CallState::Queued) => "queued",
            Ok(telephony::CallState::Ringing) => "ringing",
            Ok(telephony::CallState::Answered) => "answered",
            Ok(telephony::CallState::Ended) => "ended",
            Ok(telephony::CallState::Abandoned) => "abandoned",
            Ok(telephony::CallState::SelfServed) => "self_served",
            _ => "unknown",
        };
        Self {
            call_id: call.call_id,
            state: state.into(),
            caller_number: call.caller_number,
            dialled_number: call.dialled_number,
            queue_id: call.queue_id,
            agent_id: non_empty(call.agent_id),
            offered_at: rfc3339(call.offered_at),
            answered_at: rfc3339(call.answered_at),
            ended_at: rfc3339(call.ended_at),
            version: call.version,
            priority: priority.into(),
            held: call.held,
            supervisor_id: non_empty(call.supervisor_id),
            supervision_mode: match telephony::SupervisionMode::try_from(call.supervision_mode) {
                Ok(telephony::SupervisionMode::Listen) => Some("listen".into()),
                Ok(telephony::SupervisionMode::Whisper) => Some("whisper".into()),
                Ok(telephony::SupervisionMode::Barge) => Some("barge".into()),
                _ => None,
            },
            transfers: call.transfers,
            disposition: non_empty(call.disposition),
            target_agent_id: non_empty(call.target_agent_id),
            direction: direction.into(),
            purpose,
            not_reached_reason,
            caller_class: caller_class_name(call.caller_class),
            required_skill: non_empty(call.required_skill),
            ivr: call.ivr.map(|position| IvrPosition {
                menu_id: position.menu_id,
                menu_version: position.menu_version,
                node_id: position.node_id,
                prompt: position.prompt,
                attempts: position.attempts,
            }),
            self_service: non_empty(call.self_service),
        }
    }
}

/// An agent.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Agent {
    /// Its id.
    pub agent_id: String,
    /// Name for people.
    pub display_name: String,
    /// Home center.
    pub center_id: String,
    /// Queues served.
    pub queue_ids: Vec<String>,
    /// `logged_out`, `not_ready`, `ready`, `reserved`, `on_call` or `after_call_work`.
    pub state: String,
    /// The call the agent is reserved for, on, or wrapping up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// Per-agent version.
    pub version: u64,
    /// Why the agent is not ready: `break`, `lunch`, `training`, `meeting`, `coaching` or
    /// `missed` (a ring unanswered); none right after login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_ready_reason: Option<String>,
    /// The seat the agent is signed in at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
    /// How often the agent overran after-call work.
    pub after_call_work_overruns: u32,
    /// How often another seat tried to sign the agent in while signed in.
    pub refused_logins: u32,
    /// Skill → proficiency (1 to 5).
    pub skills: std::collections::BTreeMap<String, u32>,
    /// Chats the agent may carry at once.
    pub chat_capacity: u32,
    /// The routing domain within the tenant (absent: the tenant's default domain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_domain: Option<String>,
}

/// A customer's case and who owns it (first-contact ownership).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CustomerCase {
    /// Its id.
    pub case_id: String,
    /// The customer's number.
    pub caller_number: String,
    /// The agent who owns it.
    pub owner_agent_id: String,
    /// Whether it is closed.
    pub closed: bool,
    /// Its version.
    pub version: u64,
}

impl From<routing::CustomerCase> for CustomerCase {
    fn from(case: routing::CustomerCase) -> Self {
        Self {
            case_id: case.case_id,
            caller_number: case.caller_number,
            owner_agent_id: case.owner_agent_id,
            closed: case.closed,
            version: case.version,
        }
    }
}

/// `PUT /v1/cases/{id}`: opens a case owned by an agent, or hands it to another owner.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCaseOwner {
    /// The customer's number.
    pub caller_number: String,
    /// The owner.
    pub owner_agent_id: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `PUT /v1/agents/{id}/routing-domain`: moves a logged-out agent to another routing domain.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveToRoutingDomain {
    /// The domain (empty or absent: the tenant's default domain).
    #[serde(default)]
    pub routing_domain: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `PUT /v1/agents/{id}/skills`: skill → proficiency (1 to 5).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSkills {
    /// The skills.
    pub skills: std::collections::BTreeMap<String, u32>,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// After `after_seconds`, agents with at least `min_proficiency` may take the call.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WideningStep {
    /// Seconds waited.
    pub after_seconds: u32,
    /// The lowered minimum.
    pub min_proficiency: u32,
    /// Required skills no longer required from this step on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop_skills: Vec<String>,
}

/// After `after_seconds`, agents of `queue_id` (any center) may take the call too.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OverflowStep {
    /// Seconds waited.
    pub after_seconds: u32,
    /// The queue whose agents join.
    pub queue_id: String,
}

/// How a queue's calls are routed (`PUT /v1/queues/{id}/routing`, and in a queue).
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueRouting {
    /// 0 to 9: calls of higher-priority queues go first.
    pub priority: u32,
    /// Skill → minimum proficiency; empty: the queue's members take its calls.
    pub required_skills: std::collections::BTreeMap<String, u32>,
    /// Lower minimums as the call waits.
    pub widening: Vec<WideningStep>,
    /// Other queues whose agents join as the call waits.
    pub overflow: Vec<OverflowStep>,
    /// Service-level target: this percentage answered within `service_level_seconds`.
    pub service_level_percent: u32,
    /// See `service_level_percent`.
    pub service_level_seconds: u32,
    /// The longest a caller should wait (0: no limit).
    pub max_wait_seconds: u32,
    /// How long a repeat caller's call waits for the agent who answered them last (0: off).
    pub sticky_seconds: u32,
    /// Where a call goes after `max_wait_seconds` (empty: it stays, shown as over the maximum).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub max_wait_queue_id: String,
}

impl From<routing::QueueRouting> for QueueRouting {
    fn from(rules: routing::QueueRouting) -> Self {
        Self {
            priority: rules.priority,
            required_skills: rules.required_skills.into_iter().collect(),
            widening: rules
                .widening
                .into_iter()
                .map(|step| WideningStep {
                    after_seconds: step.after_seconds,
                    min_proficiency: step.min_proficiency,
                    drop_skills: step.drop_skills,
                })
                .collect(),
            overflow: rules
                .overflow
                .into_iter()
                .map(|step| OverflowStep {
                    after_seconds: step.after_seconds,
                    queue_id: step.queue_id,
                })
                .collect(),
            service_level_percent: rules.service_level_percent,
            service_level_seconds: rules.service_level_seconds,
            max_wait_seconds: rules.max_wait_seconds,
            sticky_seconds: rules.sticky_seconds,
            max_wait_queue_id: rules.max_wait_queue_id,
        }
    }
}

impl From<QueueRouting> for routing::QueueRouting {
    fn from(rules: QueueRouting) -> Self {
        Self {
            priority: rules.priority,
            required_skills: rules.required_skills.into_iter().collect(),
            widening: rules
                .widening
                .into_iter()
                .map(|step| routing::WideningStep {
                    after_seconds: step.after_seconds,
                    min_proficiency: step.min_proficiency,
                    drop_skills: step.drop_skills,
                })
                .collect(),
            overflow: rules
                .overflow
                .into_iter()
                .map(|step| routing::OverflowStep {
                    after_seconds: step.after_seconds,
                    queue_id: step.queue_id,
                })
                .collect(),
            service_level_percent: rules.service_level_percent,
            service_level_seconds: rules.service_level_seconds,
            max_wait_seconds: rules.max_wait_seconds,
            sticky_seconds: rules.sticky_seconds,
            max_wait_queue_id: rules.max_wait_queue_id,
        }
    }
}

/// `PUT /v1/queues/{id}/routing`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetQueueRouting {
    /// The rules.
    pub routing: QueueRouting,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/agents/{id}/login`: the seat (desk, phone or device), `default` when left out.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The seat.
    #[serde(default)]
    pub seat: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/agents/{id}/not-ready`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotReady {
    /// `break`, `lunch`, `training`, `meeting` or `coaching`.
    pub reason: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// The stored reason of a reason an agent may choose; `None` for any other name.
pub fn not_ready_reason_from_name(name: &str) -> Option<routing::NotReadyReason> {
    match name {
        "break" => Some(routing::NotReadyReason::Break),
        "lunch" => Some(routing::NotReadyReason::Lunch),
        "training" => Some(routing::NotReadyReason::Training),
        "meeting" => Some(routing::NotReadyReason::Meeting),
        "coaching" => Some(routing::NotReadyReason::Coaching),
        _ => None,
    }
}

impl From<routing::Agent> for Agent {
    fn from(agent: routing::Agent) -> Self {
        let state = match routing::AgentState::try_from(agent.state) {
            Ok(routing::AgentState::LoggedOut) => "logged_out",
            Ok(routing::AgentState::NotReady) => "not_ready",
            Ok(routing::AgentState::Ready) => "ready",
            Ok(routing::AgentState::Reserved) => "reserved",
            Ok(routing::AgentState::OnCall) => "on_call",
            Ok(routing::AgentState::AfterCallWork) => "after_call_work",
            _ => "unknown",
        };
        let not_ready_reason = match routing::NotReadyReason::try_from(agent.not_ready_reason) {
            Ok(routing::NotReadyReason::Break) => Some("break"),
            Ok(routing::NotReadyReason::Lunch) => Some("lunch"),
            Ok(routing::NotReadyReason::Training) => Some("training"),
            Ok(routing::NotReadyReason::Meeting) => Some("meeting"),
            Ok(routing::NotReadyReason::Coaching) => Some("coaching"),
            Ok(routing::NotReadyReason::Missed) => Some("missed"),
            _ => None,
        };
        Self {
            agent_id: agent.agent_id,
            display_name: agent.display_name,
            center_id: agent.center_id,
            queue_ids: agent.queue_ids,
            state: state.into(),
            call_id: non_empty(agent.call_id),
            version: agent.version,
            not_ready_reason: not_ready_reason.map(str::to_owned),
            seat: non_empty(agent.seat),
            after_call_work_overruns: agent.after_call_work_overruns,
            refused_logins: agent.refused_logins,
            skills: agent.skills.into_iter().collect(),
            chat_capacity: agent.chat_capacity,
            routing_domain: non_empty(agent.routing_domain),
        }
    }
}

/// A queue definition.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Queue {
    /// Its id.
    pub queue_id: String,
    /// Name for people.
    pub display_name: String,
    /// The center.
    pub center_id: String,
    /// The most after-call work after its calls, in seconds (0: none).
    pub after_call_work_seconds: u32,
    /// How its calls are routed.
    pub routing: QueueRouting,
    /// The routing domain within the tenant (absent: the tenant's default domain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_domain: Option<String>,
}

impl From<routing::Queue> for Queue {
    fn from(queue: routing::Queue) -> Self {
        Self {
            queue_id: queue.queue_id,
            display_name: queue.display_name,
            center_id: queue.center_id,
            after_call_work_seconds: queue.after_call_work_seconds,
            routing: queue.routing.unwrap_or_default().into(),
            routing_domain: non_empty(queue.routing_domain),
        }
    }
}

/// One queue's counts.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct QueueStats {
    /// The queue.
    pub queue_id: String,
    /// Calls that entered it.
    pub offered: i64,
    /// Calls answered.
    pub answered: i64,
    /// Calls abandoned.
    pub abandoned: i64,
}

/// A page of queue counts.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct QueueStatsPage {
    /// The counts, by queue id.
    pub queue_stats: Vec<QueueStats>,
    /// Pass as `page_token` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

impl From<reporting::ListQueueStatsResponse> for QueueStatsPage {
    fn from(page: reporting::ListQueueStatsResponse) -> Self {
        Self {
            queue_stats: page
                .queue_stats
                .into_iter()
                .map(|stats| QueueStats {
                    queue_id: stats.queue_id,
                    offered: stats.offered,
                    answered: stats.answered,
                    abandoned: stats.abandoned,
                })
                .collect(),
            next_page_token: non_empty(page.next_page_token),
        }
    }
}

/// `POST /v1/calls`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportCall {
    /// Optional client-chosen id.
    #[serde(default)]
    pub call_id: String,
    /// Who calls.
    pub caller_number: String,
    /// What they dialled.
    pub dialled_number: String,
    /// Optional queue overriding the dialled number's.
    #[serde(default)]
    pub queue_id: String,
    /// `normal` (default) or `emergency`.
    #[serde(default)]
    pub priority: String,
    /// Idempotency key (or the `Idempotency-Key` header).
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/calls/{call_id}/answer` and `POST /v1/calls/{call_id}/decline`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerCall {
    /// The ringing agent who answers (or declines); an agent's own token may leave it out.
    #[serde(default)]
    pub agent_id: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/calls/{call_id}/end`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndCall {
    /// `caller` (default), `agent` or `system`.
    #[serde(default)]
    pub ended_by: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/calls/{call_id}/abandon`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbandonCall {
    /// The call's position in its queue when the caller left, if known.
    #[serde(default)]
    pub position: u32,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/calls/{call_id}/transfer`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferCall {
    /// The queue the call waits in next.
    pub to_queue_id: String,
    /// The one agent to hand it to, if any.
    #[serde(default)]
    pub to_agent_id: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/calls/{call_id}/supervision`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperviseCall {
    /// `listen`, `whisper` or `barge`.
    pub mode: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/calls/{call_id}/disposition`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDisposition {
    /// The code, such as `resolved` or `complaint`.
    pub code: String,
    /// The answering agent; an agent's own token may leave it out.
    #[serde(default)]
    pub agent_id: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/outbound/calls`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialOutboundCall {
    /// Optional client-chosen id.
    #[serde(default)]
    pub call_id: String,
    /// The customer.
    pub customer_number: String,
    /// The number the customer sees.
    pub caller_id: String,
    /// `callback`, `survey` or `marketing`.
    pub purpose: String,
    /// The agent who calls; an agent's own token may leave it out.
    #[serde(default)]
    pub agent_id: String,
    /// The queue (campaign) it is counted in; `outbound` by default.
    #[serde(default)]
    pub queue_id: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/calls/{call_id}/not-reached`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkNotReached {
    /// `no_answer`, `busy`, `rejected` or `failed`.
    pub reason: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// Calling hours in the tenant's local time.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CallingHours {
    /// Offset from UTC in minutes (China: 480).
    pub utc_offset_minutes: i32,
    /// First allowed minute of the day.
    pub start_minute: u32,
    /// First minute no longer allowed.
    pub end_minute: u32,
    /// Allowed weekdays, Monday first (7 entries).
    pub weekdays: Vec<bool>,
}

/// The outbound policy, as `GET /v1/outbound/policy` answers it.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Numbers that get no marketing or survey calls.
    pub do_not_call: Vec<String>,
    /// When calls may go out; `null` for any time.
    pub calling_hours: Option<CallingHours>,
}

/// `POST /v1/outbound/do-not-call`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateDoNotCall {
    /// Numbers to add.
    #[serde(default)]
    pub add: Vec<String>,
    /// Numbers to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `PUT /v1/outbound/calling-hours`: the hours, or `{"hours": null}` for any time.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCallingHours {
    /// The hours.
    pub hours: Option<CallingHours>,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

impl From<telephony::CallingHours> for CallingHours {
    fn from(hours: telephony::CallingHours) -> Self {
        Self {
            utc_offset_minutes: hours.utc_offset_minutes,
            start_minute: hours.start_minute,
            end_minute: hours.end_minute,
            weekdays: hours.weekdays,
        }
    }
}

impl From<CallingHours> for telephony::CallingHours {
    fn from(hours: CallingHours) -> Self {
        Self {
            utc_offset_minutes: hours.utc_offset_minutes,
            start_minute: hours.start_minute,
            end_minute: hours.end_minute,
            weekdays: hours.weekdays,
        }
    }
}

/// A body with only an idempotency key.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestOnly {
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/queues`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateQueue {
    /// Its id.
    pub queue_id: String,
    /// Name for people.
    pub display_name: String,
    /// The center.
    pub center_id: String,
    /// The most after-call work after its calls, 0 to 3600 seconds (0: none).
    #[serde(default)]
    pub after_call_work_seconds: u32,
    /// The routing domain within the tenant, for large tenants routed by several partitions
    /// (empty: the tenant's default domain); a queue never changes domain.
    #[serde(default)]
    pub routing_domain: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST /v1/agents`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// Its id.
    pub agent_id: String,
    /// Name for people.
    pub display_name: String,
    /// Home center.
    pub center_id: String,
    /// Queues served.
    #[serde(default)]
    pub queue_ids: Vec<String>,
    /// Chats the agent may carry at once (0 to 10; voice: always one call).
    #[serde(default)]
    pub chat_capacity: u32,
    /// The routing domain within the tenant (empty: the tenant's default domain).
    #[serde(default)]
    pub routing_domain: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `PUT /v1/numbers/{number}`: `queue_id` or `ivr_menu_id`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignNumber {
    /// The queue callers of the number join.
    #[serde(default)]
    pub queue_id: String,
    /// The voice menu callers of the number enter.
    #[serde(default)]
    pub ivr_menu_id: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// The answer of `PUT /v1/numbers/{number}`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Number {
    /// The dialled number.
    pub number: String,
    /// Its queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// Its voice menu.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ivr_menu_id: Option<String>,
}

/// `PUT /v1/callers/{number}`: `{"class": "vip"}`, or `{"class": null}` to forget the caller.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCallerClass {
    /// `known`, `vip`, `elderly` or null.
    pub class: Option<String>,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// A caller known by number.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallerRecord {
    /// The number.
    pub number: String,
    /// `known`, `vip`, `elderly` or null.
    pub class: Option<String>,
}

impl CallerRecord {
    /// The record of a number and a stored class.
    pub fn new(number: String, class: i32) -> Self {
        Self {
            number,
            class: caller_class_name(class),
        }
    }
}

/// `POST /v1/calls/{call_id}/ivr-keys`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PressIvrKeys {
    /// The keys (0-9, * and #); empty for no input before the prompt timed out.
    #[serde(default)]
    pub keys: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// A queue a voice menu hands callers to.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IvrQueueTarget {
    /// The queue.
    pub queue_id: String,
    /// The skill the agent should have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<String>,
    /// `normal` (the default) or `emergency` (the front of the queue).
    #[serde(default = "normal")]
    pub priority: String,
}

fn normal() -> String {
    "normal".into()
}

/// One node of a voice menu, tagged by `type`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum IvrNode {
    /// A prompt and the keys the caller may press.
    Menu {
        /// What the caller hears.
        prompt: String,
        /// Key → next node.
        choices: std::collections::BTreeMap<String, String>,
        /// Tries before the fallback (1 to 5; 3 when left out).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_attempts: Option<u32>,
        /// Where callers go after the last failed try.
        fallback: String,
    },
    /// Business hours.
    Hours {
        /// Opening windows.
        open: Vec<CallingHours>,
        /// Where callers go while open.
        when_open: String,
        /// Where callers go while closed.
        when_closed: String,
    },
    /// A queue (a leaf).
    Queue {
        /// The queue.
        queue_id: String,
        /// The skill the agent should have.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skill: Option<String>,
        /// `normal` or `emergency`.
        #[serde(default = "normal")]
        priority: String,
    },
    /// Self-service (a leaf).
    SelfService {
        /// What the caller hears.
        prompt: String,
        /// The service, for reports.
        service: String,
    },
}

/// A voice menu.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IvrMenu {
    /// The first node.
    pub entry: String,
    /// The nodes by id.
    pub nodes: std::collections::BTreeMap<String, IvrNode>,
    /// Caller classes that skip the menu: `known`, `vip`, `elderly`.
    #[serde(default)]
    pub straight_to_person: Vec<String>,
    /// Where they go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_queue: Option<IvrQueueTarget>,
}

/// `PUT /v1/ivr-menus/{menu_id}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveIvrMenu {
    /// The menu.
    pub menu: IvrMenu,
    /// The version the editor started from (0 for a new menu).
    #[serde(default)]
    pub expected_version: Option<u64>,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// A version of a voice menu.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IvrMenuVersion {
    /// The menu.
    pub menu_id: String,
    /// The version.
    pub version: u64,
    /// Its content.
    pub menu: IvrMenu,
}

/// Query of `GET /v1/ivr-menus/{menu_id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuVersionQuery {
    /// The version; the newest when left out.
    #[serde(default)]
    pub version: u64,
}

fn priority_from_name(field: &str, name: &str) -> Result<i32, (String, String)> {
    match name {
        "normal" => Ok(telephony::Priority::Normal.into()),
        "emergency" => Ok(telephony::Priority::Emergency.into()),
        _ => Err((field.to_owned(), "normal or emergency".to_owned())),
    }
}

fn priority_name(priority: i32) -> String {
    if priority == i32::from(telephony::Priority::Emergency) {
        "emergency".into()
    } else {
        "normal".into()
    }
}

impl IvrMenu {
    /// The message of the menu; `Err` names the field and what is wrong.
    pub fn into_proto(self) -> Result<telephony::IvrMenu, (String, String)> {
        use telephony::ivr_node::Kind;
        let mut nodes = Vec::new();
        for (node_id, node) in self.nodes {
            let kind = match node {
                IvrNode::Menu {
                    prompt,
                    choices,
                    max_attempts,
                    fallback,
                } => Kind::Menu(telephony::IvrChoiceMenu {
                    prompt,
                    choices: choices.into_iter().collect(),
                    max_attempts: max_attempts.unwrap_or(0),
                    fallback_node_id: fallback,
                }),
                IvrNode::Hours {
                    open,
                    when_open,
                    when_closed,
                } => Kind::Hours(telephony::IvrBusinessHours {
                    open: open.into_iter().map(Into::into).collect(),
                    open_node_id: when_open,
                    closed_node_id: when_closed,
                }),
                IvrNode::Queue {
                    queue_id,
                    skill,
                    priority,
                } => Kind::Queue(telephony::IvrQueueTarget {
                    queue_id,
                    skill: skill.unwrap_or_default(),
                    priority: priority_from_name(
                        &format!("menu.nodes.{node_id}.priority"),
                        &priority,
                    )?,
                }),
                IvrNode::SelfService { prompt, service } => {
                    Kind::SelfService(telephony::IvrSelfService { prompt, service })
                }
            };
            nodes.push(telephony::IvrNode {
                node_id,
                kind: Some(kind),
            });
        }
        let mut straight_to_person = Vec::new();
        for (index, class) in self.straight_to_person.iter().enumerate() {
            let class = caller_class_from_name(Some(class)).ok_or_else(|| {
                (
                    format!("menu.straight_to_person.{index}"),
                    "known, vip or elderly".to_owned(),
                )
            })?;
            straight_to_person.push(class.into());
        }
        let person_queue = match self.person_queue {
            None => None,
            Some(target) => Some(telephony::IvrQueueTarget {
                priority: priority_from_name("menu.person_queue.priority", &target.priority)?,
                queue_id: target.queue_id,
                skill: target.skill.unwrap_or_default(),
            }),
        };
        Ok(telephony::IvrMenu {
            entry_node_id: self.entry,
            nodes,
            straight_to_person,
            person_queue,
        })
    }
}

impl From<telephony::IvrMenu> for IvrMenu {
    fn from(menu: telephony::IvrMenu) -> Self {
        use telephony::ivr_node::Kind;
        let nodes = menu
            .nodes
            .into_iter()
            .filter_map(|node| {
                let kind = match node.kind? {
                    Kind::Menu(choice) => IvrNode::Menu {
                        prompt: choice.prompt,
                        choices: choice.choices.into_iter().collect(),
                        max_attempts: Some(choice.max_attempts),
                        fallback: choice.fallback_node_id,
                    },
                    Kind::Hours(hours) => IvrNode::Hours {
                        open: hours.open.into_iter().map(Into::into).collect(),
                        when_open: hours.open_node_id,
                        when_closed: hours.closed_node_id,
                    },
                    Kind::Queue(target) => IvrNode::Queue {
                        queue_id: target.queue_id,
                        skill: non_empty(target.skill),
                        priority: priority_name(target.priority),
                    },
                    Kind::SelfService(leaf) => IvrNode::SelfService {
                        prompt: leaf.prompt,
                        service: leaf.service,
                    },
                };
                Some((node.node_id, kind))
            })
            .collect();
        Self {
            entry: menu.entry_node_id,
            nodes,
            straight_to_person: menu
                .straight_to_person
                .into_iter()
                .filter_map(caller_class_name)
                .collect(),
            person_queue: menu.person_queue.map(|target| IvrQueueTarget {
                queue_id: target.queue_id,
                skill: non_empty(target.skill),
                priority: priority_name(target.priority),
            }),
        }
    }
}

/// Agents by state.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentCounts {
    /// Ready.
    pub ready: i64,
    /// Not ready.
    pub not_ready: i64,
    /// A call rings at them.
    pub reserved: i64,
    /// On a call.
    pub on_call: i64,
    /// Wrapping up.
    pub after_call_work: i64,
}

/// What happened to calls over a period.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PeriodStats {
    /// Calls that entered the queue.
    pub offered: i64,
    /// Answered.
    pub answered: i64,
    /// The caller left first.
    pub abandoned: i64,
    /// Share answered within the target (1 with none answered).
    pub service_level: f64,
    /// Average speed of answer.
    pub average_speed_of_answer_ms: i64,
    /// Abandoned / (answered + abandoned).
    pub abandonment_rate: f64,
    /// Average talk time.
    pub average_handling_time_ms: i64,
}

/// One queue live, or a center's queues together.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveQueue {
    /// The queue (absent for a center).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// The center.
    pub center_id: String,
    /// Calls waiting now.
    pub waiting: i64,
    /// The longest wait now.
    pub longest_wait_ms: i64,
    /// Calls waiting longer than the queue's maximum wait.
    pub over_max_wait: i64,
    /// Agents by state.
    pub agents: AgentCounts,
    /// Since midnight UTC.
    pub today: PeriodStats,
    /// The current 15-minute interval.
    pub current_interval: PeriodStats,
    /// Its start (RFC 3339).
    pub interval_start: String,
}

/// `GET /v1/queues/view`: every queue and center of the tenant, live.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct QueueView {
    /// Per queue.
    pub queues: Vec<LiveQueue>,
    /// Per center.
    pub centers: Vec<LiveQueue>,
}

fn period(stats: Option<reporting::PeriodStats>) -> PeriodStats {
    let stats = stats.unwrap_or_default();
    PeriodStats {
        offered: stats.offered,
        answered: stats.answered,
        abandoned: stats.abandoned,
        service_level: stats.service_level,
        average_speed_of_answer_ms: stats.average_speed_of_answer_ms,
        abandonment_rate: stats.abandonment_rate,
        average_handling_time_ms: stats.average_handling_time_ms,
    }
}

impl From<reporting::LiveQueue> for LiveQueue {
    fn from(live: reporting::LiveQueue) -> Self {
        let agents = live.agents.unwrap_or_default();
        Self {
            queue_id: non_empty(live.queue_id),
            center_id: live.center_id,
            waiting: live.waiting,
            longest_wait_ms: live.longest_wait_ms,
            over_max_wait: live.over_max_wait,
            agents: AgentCounts {
                ready: agents.ready,
                not_ready: agents.not_ready,
                reserved: agents.reserved,
                on_call: agents.on_call,
                after_call_work: agents.after_call_work,
            },
            today: period(live.today),
            current_interval: period(live.current_interval),
            interval_start: callcenter_eventlog::Timestamp::from_unix_millis(
                live.interval_start_ms,
            )
            .to_rfc3339(),
        }
    }
}

impl From<reporting::GetQueueViewResponse> for QueueView {
    fn from(view: reporting::GetQueueViewResponse) -> Self {
        Self {
            queues: view.queues.into_iter().map(Into::into).collect(),
            centers: view.centers.into_iter().map(Into::into).collect(),
        }
    }
}

/// Query of `GET /v1/queues/stats`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// At most this many (default 100, at most 1000).
    #[serde(default)]
    pub page_size: i32,
    /// From a previous page.
    #[serde(default)]
    pub page_token: String,
}
