//! The workforce routes: centers' shifts and teams, rosters, leave, swaps and the headcount,
//! under `/v1/workforce/centers/{center_id}`. Days are `YYYY-MM-DD`, times of day `HH:MM`.

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use callcenter_platform::ApiError;
use callcenter_proto::workforce::v1 as pb;
use callcenter_proto::workforce::v1::workforce_service_client::WorkforceServiceClient;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

use crate::{ApiResult, Caller, Gateway, JsonBody, upstream_error};

/// The workforce routes.
pub fn routes() -> axum::Router<Gateway> {
    axum::Router::new()
        .route(
            "/v1/workforce/centers/{center_id}",
            put(define_center).get(get_center),
        )
        .route(
            "/v1/workforce/centers/{center_id}/teams/{team_id}",
            put(set_team),
        )
        .route(
            "/v1/workforce/centers/{center_id}/rosters/{roster_id}",
            put(publish_roster).get(get_roster),
        )
        .route(
            "/v1/workforce/centers/{center_id}/leave/{leave_id}",
            put(request_leave),
        )
        .route(
            "/v1/workforce/centers/{center_id}/leave/{leave_id}/decision",
            post(decide_leave),
        )
        .route(
            "/v1/workforce/centers/{center_id}/swaps/{swap_id}",
            put(request_swap),
        )
        .route(
            "/v1/workforce/centers/{center_id}/swaps/{swap_id}/decision",
            post(decide_swap),
        )
        .route(
            "/v1/workforce/centers/{center_id}/headcount",
            get(get_headcount),
        )
        .route(
            "/v1/workforce/agents/{agent_id}/attendance",
            get(list_attendance),
        )
        .route(
            "/v1/workforce/centers/{center_id}/queues/{queue_id}/forecast",
            post(forecast_queue),
        )
        .route(
            "/v1/workforce/queues/{queue_id}/intraday-plan",
            put(publish_intraday_plan).get(get_intraday_plan),
        )
        .route("/v1/workforce/rosters/solve", post(solve_roster))
}

/// Calls workforce on the caller's behalf and answers the JSON of its reply.
async fn relay<M, R, J, F, Fut>(
    gateway: &Gateway,
    caller: &Caller,
    message: M,
    call: F,
) -> ApiResult<J>
where
    F: FnOnce(WorkforceServiceClient<Channel>, tonic::Request<M>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    J: From<R>,
{
    let response = call(gateway.workforce.clone(), caller.request(message))
        .await
        .map_err(upstream_error)?;
    Ok(Json(response.into_inner().into()))
}

/// A lunch inside a shift.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Lunch {
    /// Earliest start, `HH:MM`.
    pub window_start: String,
    /// Latest end.
    pub window_end: String,
    /// Its length.
    pub minutes: u32,
}

/// A shift of a center.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// Its id.
    pub shift_id: String,
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM` (at or before the start: the next day).
    pub end: String,
    /// Its lunch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lunch: Option<Lunch>,
    /// The days of the week it is worked on, `mon` … `sun` (none: every day).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
}

impl From<pb::ShiftDefinition> for Shift {
    fn from(shift: pb::ShiftDefinition) -> Self {
        Self {
            shift_id: shift.shift_id,
            start: shift.start,
            end: shift.end,
            lunch: shift.lunch.map(|lunch| Lunch {
                window_start: lunch.window_start,
                window_end: lunch.window_end,
                minutes: lunch.minutes,
            }),
            days: shift.days,
        }
    }
}

impl From<Shift> for pb::ShiftDefinition {
    fn from(shift: Shift) -> Self {
        Self {
            shift_id: shift.shift_id,
            start: shift.start,
            end: shift.end,
            lunch: shift.lunch.map(|lunch| pb::Lunch {
                window_start: lunch.window_start,
                window_end: lunch.window_end,
                minutes: lunch.minutes,
            }),
            days: shift.days,
        }
    }
}

/// `PUT /v1/workforce/centers/{id}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineCenter {
    /// Local time minus UTC in minutes (Beijing: 480).
    pub utc_offset_minutes: i32,
    /// Its shifts.
    pub shifts: Vec<Shift>,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// A team.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Team {
    /// Its id.
    pub team_id: String,
    /// Its leader.
    pub leader_id: String,
    /// Its agents.
    pub member_ids: Vec<String>,
}

/// A center's workforce settings.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CenterWorkforce {
    /// The center.
    pub center_id: String,
    /// Local time minus UTC in minutes.
    pub utc_offset_minutes: i32,
    /// Its shifts.
    pub shifts: Vec<Shift>,
    /// Its teams.
    pub teams: Vec<Team>,
    /// Its published rosters.
    pub roster_ids: Vec<String>,
    /// Its version.
    pub version: u64,
}

impl From<pb::CenterWorkforce> for CenterWorkforce {
    fn from(center: pb::CenterWorkforce) -> Self {
        Self {
            center_id: center.center_id,
            utc_offset_minutes: center.utc_offset_minutes,
            shifts: center.shifts.into_iter().map(Shift::from).collect(),
            teams: center
                .teams
                .into_iter()
                .map(|team| Team {
                    team_id: team.team_id,
                    leader_id: team.leader_id,
                    member_ids: team.member_ids,
                })
                .collect(),
            roster_ids: center.roster_ids,
            version: center.version,
        }
    }
}

/// `PUT /v1/workforce/centers/{id}/teams/{team_id}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTeam {
    /// Its leader.
    pub leader_id: String,
    /// Its agents (at most 12).
    pub member_ids: Vec<String>,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// One agent's row of a roster: a shift id per day, empty for a day off.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RosterRow {
    /// The agent.
    pub agent_id: String,
    /// Per day from the first.
    pub shift_ids: Vec<String>,
}

/// `PUT /v1/workforce/centers/{id}/rosters/{roster_id}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRoster {
    /// The first day.
    pub first_day: String,
    /// Per agent.
    pub rows: Vec<RosterRow>,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// A published roster.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Roster {
    /// The center.
    pub center_id: String,
    /// The roster.
    pub roster_id: String,
    /// Its first day.
    pub first_day: String,
    /// Per agent.
    pub rows: Vec<RosterRow>,
    /// The center's version.
    pub version: u64,
}

impl From<pb::Roster> for Roster {
    fn from(roster: pb::Roster) -> Self {
        Self {
            center_id: roster.center_id,
            roster_id: roster.roster_id,
            first_day: roster.first_day,
            rows: roster
                .rows
                .into_iter()
                .map(|row| RosterRow {
                    agent_id: row.agent_id,
                    shift_ids: row.shift_ids,
                })
                .collect(),
            version: roster.version,
        }
    }
}

/// `PUT /v1/workforce/centers/{id}/leave/{leave_id}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLeave {
    /// Whose.
    pub agent_id: String,
    /// `sick`, `personal` or `vacation`.
    pub kind: String,
    /// The first day.
    pub first_day: String,
    /// In half days (1: half a day).
    pub half_days: u32,
    /// A doctor's certificate comes with it (sick leave).
    #[serde(default)]
    pub certificate: bool,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// `POST …/leave/{leave_id}/decision` and `POST …/swaps/{swap_id}/decision`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    /// Approve, or reject.
    pub approve: bool,
    /// Why it is rejected.
    #[serde(default)]
    pub reason: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

fn leave_kind(kind: &str) -> Result<pb::LeaveKind, ApiError> {
    match kind {
        "sick" => Ok(pb::LeaveKind::Sick),
        "personal" => Ok(pb::LeaveKind::Personal),
        "vacation" => Ok(pb::LeaveKind::Vacation),
        _ => Err(ApiError::invalid_field(
            "kind",
            "sick, personal or vacation",
        )),
    }
}

fn leave_kind_name(kind: i32) -> &'static str {
    match pb::LeaveKind::try_from(kind) {
        Ok(pb::LeaveKind::Sick) => "sick",
        Ok(pb::LeaveKind::Personal) => "personal",
        Ok(pb::LeaveKind::Vacation) => "vacation",
        _ => "",
    }
}

fn status_name(status: i32) -> &'static str {
    match pb::RequestStatus::try_from(status) {
        Ok(pb::RequestStatus::Pending) => "pending",
        Ok(pb::RequestStatus::Approved) => "approved",
        Ok(pb::RequestStatus::Rejected) => "rejected",
        _ => "",
    }
}

/// A leave request.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Leave {
    /// The center.
    pub center_id: String,
    /// The request.
    pub leave_id: String,
    /// Whose.
    pub agent_id: String,
    /// `sick`, `personal` or `vacation`.
    pub kind: String,
    /// The first day.
    pub first_day: String,
    /// The last day.
    pub last_day: String,
    /// In half days.
    pub half_days: u32,
    /// A certificate came with it.
    pub certificate: bool,
    /// When it was asked.
    pub asked_on: String,
    /// `supervisor` or `director`.
    pub approver: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl From<pb::LeaveRequest> for Leave {
    fn from(leave: pb::LeaveRequest) -> Self {
        Self {
            kind: leave_kind_name(leave.kind).to_owned(),
            approver: match pb::Approver::try_from(leave.approver) {
                Ok(pb::Approver::Director) => "director",
                Ok(pb::Approver::Supervisor) => "supervisor",
                _ => "",
            }
            .to_owned(),
            status: status_name(leave.status).to_owned(),
            center_id: leave.center_id,
            leave_id: leave.leave_id,
            agent_id: leave.agent_id,
            first_day: leave.first_day,
            last_day: leave.last_day,
            half_days: leave.half_days,
            certificate: leave.certificate,
            asked_on: leave.asked_on,
            reason: leave.reason,
        }
    }
}

/// `PUT /v1/workforce/centers/{id}/swaps/{swap_id}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSwap {
    /// Who gives the shift away.
    pub agent_id: String,
    /// Who works it.
    pub colleague_id: String,
    /// The (first) day given away.
    pub day: String,
    /// Two consecutive shifts.
    #[serde(default)]
    pub consecutive: bool,
    /// The day it is paid back.
    pub payback_day: String,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// A swap.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Swap {
    /// The center.
    pub center_id: String,
    /// The request.
    pub swap_id: String,
    /// Who gives the shift away.
    pub agent_id: String,
    /// Who works it.
    pub colleague_id: String,
    /// The (first) day.
    pub day: String,
    /// Two consecutive shifts.
    pub consecutive: bool,
    /// When it is paid back.
    pub payback_day: String,
    /// When it was asked.
    pub asked_on: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl From<pb::ShiftSwap> for Swap {
    fn from(swap: pb::ShiftSwap) -> Self {
        Self {
            status: status_name(swap.status).to_owned(),
            center_id: swap.center_id,
            swap_id: swap.swap_id,
            agent_id: swap.agent_id,
            colleague_id: swap.colleague_id,
            day: swap.day,
            consecutive: swap.consecutive,
            payback_day: swap.payback_day,
            asked_on: swap.asked_on,
            reason: swap.reason,
        }
    }
}

/// A rostered agent who is not signed in.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MissingAgent {
    /// Who.
    pub agent_id: String,
    /// Their team (empty: none).
    pub team_id: String,
    /// Why, as far as the center knows.
    pub why: String,
}

/// One team's count.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TeamHeadcount {
    /// The team (empty: agents in no team).
    pub team_id: String,
    /// Its leader.
    pub leader_id: String,
    /// Rostered.
    pub expected: u32,
    /// Signed in.
    pub present: u32,
}

/// One shift's count.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShiftHeadcount {
    /// The shift.
    pub shift_id: String,
    /// Its day.
    pub day: String,
    /// Its start (Unix milliseconds).
    pub start_ms: i64,
    /// Rostered.
    pub expected: u32,
    /// Signed in.
    pub present: u32,
    /// Who is missing and why.
    pub missing: Vec<MissingAgent>,
    /// Per team.
    pub teams: Vec<TeamHeadcount>,
}

/// `GET /v1/workforce/centers/{id}/headcount`.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Headcount {
    /// The center.
    pub center_id: String,
    /// When (Unix milliseconds).
    pub at_ms: i64,
    /// Shifts starting within the hour or under way.
    pub shifts: Vec<ShiftHeadcount>,
}

impl From<pb::Headcount> for Headcount {
    fn from(headcount: pb::Headcount) -> Self {
        Self {
            center_id: headcount.center_id,
            at_ms: headcount.at_ms,
            shifts: headcount
                .shifts
                .into_iter()
                .map(|shift| ShiftHeadcount {
                    shift_id: shift.shift_id,
                    day: shift.day,
                    start_ms: shift.start_ms,
                    expected: shift.expected,
                    present: shift.present,
                    missing: shift
                        .missing
                        .into_iter()
                        .map(|missing| MissingAgent {
                            agent_id: missing.agent_id,
                            team_id: missing.team_id,
                            why: missing.why,
                        })
                        .collect(),
                    teams: shift
                        .teams
                        .into_iter()
                        .map(|team| TeamHeadcount {
                            team_id: team.team_id,
                            leader_id: team.leader_id,
                            expected: team.expected,
                            present: team.present,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

async fn define_center(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(center_id): Path<String>,
    JsonBody(body): JsonBody<DefineCenter>,
) -> ApiResult<CenterWorkforce> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = pb::DefineCenterRequest {
        center_id,
        utc_offset_minutes: body.utc_offset_minutes,
        shifts: body.shifts.into_iter().map(Into::into).collect(),
        request_id: caller.request_id(body.request_id),
    };
    relay(
        &gateway,
        &caller,
        request,
        |mut client, request| async move { client.define_center(request).await },
    )
    .await
}

async fn get_center(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(center_id): Path<String>,
) -> ApiResult<CenterWorkforce> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    relay(
        &gateway,
        &caller,
        pb::GetCenterRequest { center_id },
        |mut client, request| async move { client.get_center(request).await },
    )
    .await
}

async fn set_team(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path((center_id, team_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<SetTeam>,
) -> ApiResult<CenterWorkforce> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = pb::SetTeamRequest {
        center_id,
        team_id,
        leader_id: body.leader_id,
        member_ids: body.member_ids,
        request_id: caller.request_id(body.request_id),
    };
    relay(
        &gateway,
        &caller,
        request,
        |mut client, request| async move { client.set_team(request).await },
    )
    .await
}

async fn publish_roster(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path((center_id, roster_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<PublishRoster>,
) -> ApiResult<Roster> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = pb::PublishRosterRequest {
        center_id,
        roster_id,
        first_day: body.first_day,
        rows: body
            .rows
            .into_iter()
            .map(|row| pb::RosterRow {
                agent_id: row.agent_id,
                shift_ids: row.shift_ids,
            })
            .collect(),
        request_id: caller.request_id(body.request_id),
    };
    relay(
        &gateway,
        &caller,
        request,
        |mut client, request| async move { client.publish_roster(request).await },
    )
    .await
}

async fn get_roster(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path((center_id, roster_id)): Path<(String, String)>,
) -> ApiResult<Roster> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    relay(
        &gateway,
        &caller,
        pb::GetRosterRequest {
            center_id,
            roster_id,
        },
        |mut client, request| async move { client.get_roster(request).await },
    )
    .await
}

async fn request_leave(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path((center_id, leave_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<RequestLeave>,
) -> ApiResult<Leave> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = pb::RequestLeaveRequest {
        center_id,
        leave_id,
        agent_id: body.agent_id,
        kind: leave_kind(&body.kind)?.into(),
        first_day: body.first_day,
        half_days: body.half_days,
        certificate: body.certificate,
        request_id: caller.request_id(body.request_id),
    };
    relay(
        &gateway,
        &caller,
        request,
        |mut client, request| async move { client.request_leave(request).await },
    )
    .await
}

async fn decide_leave(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path((center_id, leave_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Decide>,
) -> ApiResult<Leave> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = pb::DecideLeaveRequest {
        center_id,
        leave_id,
        approve: body.approve,
        reason: body.reason,
        request_id: caller.request_id(body.request_id),
    };
    relay(
        &gateway,
        &caller,
        request,
        |mut client, request| async move { client.decide_leave(request).await },
    )
    .await
}

async fn request_swap(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path((center_id, swap_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<RequestSwap>,
) -> ApiResult<Swap> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = pb::RequestSwapRequest {
        center_id,
        swap_id,
        agent_id: body.agent_id,
        colleague_id: body.colleague_id,
        day: body.day,
        consecutive: body.consecutive,
        payback_day: body.payback_day,
        request_id: caller.request_id(body.request_id),
    };
    relay(
        &gateway,
        &caller,
        request,
        |mut client, request| async move { client.request_swap(request).await },
    )
    .await
}

async fn decide_swap(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path((center_id, swap_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Decide>,
) -> ApiResult<Swap> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = pb::DecideSwapRequest {
        center_id,
        swap_id,
        approve: body.approve,
        reason: body.reason,
        request_id: caller.request_id(body.request_id),
    };
    relay(
        &gateway,
        &caller,
        request,
        |mut client, request| async move { client.decide_swap(request).await },
    )
    .await
}

async fn get_headcount(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(center_id): Path<String>,
) -> ApiResult<Headcount> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    relay(
        &gateway,
        &caller,
        pb::GetHeadcountRequest { center_id },
        |mut client, request| async move { client.get_headcount(request).await },
    )
    .await
}

/// One agent's recorded shift.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ShiftAttendance {
    /// The center.
    pub center_id: String,
    /// The roster that planned it.
    pub roster_id: String,
    /// The agent's team.
    pub team_id: String,
    /// The day.
    pub day: String,
    /// The shift.
    pub shift_id: String,
    /// Its start (Unix milliseconds).
    pub shift_start_ms: i64,
    /// Its end.
    pub shift_end_ms: i64,
    /// First moment on the phones (absent when the agent never came).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_at_ms: Option<i64>,
    /// Late from the shift start (0 within 5 minutes).
    pub late_minutes: u32,
    /// When the agent left before the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at_ms: Option<i64>,
    /// Minutes left early.
    pub left_early_minutes: u32,
    /// Never came.
    pub absent: bool,
    /// Approved leave covering the day: `sick`, `personal` or `vacation`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub on_leave: String,
    /// Share of the shift on the phones.
    pub adherence: f64,
    /// The same per 15 minutes from the start.
    pub interval_adherence: Vec<f64>,
}

/// `GET /v1/workforce/agents/{agent_id}/attendance`.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Attendance {
    /// The agent.
    pub agent_id: String,
    /// Recorded shifts, oldest first.
    pub shifts: Vec<ShiftAttendance>,
}

impl From<pb::ListAttendanceResponse> for Attendance {
    fn from(response: pb::ListAttendanceResponse) -> Self {
        let optional = |value: i64| (value != 0).then_some(value);
        Self {
            agent_id: response.agent_id,
            shifts: response
                .shifts
                .into_iter()
                .map(|shift| ShiftAttendance {
                    on_leave: leave_kind_name(shift.on_leave).to_owned(),
                    center_id: shift.center_id,
                    roster_id: shift.roster_id,
                    team_id: shift.team_id,
                    day: shift.day,
                    shift_id: shift.shift_id,
                    shift_start_ms: shift.shift_start_ms,
                    shift_end_ms: shift.shift_end_ms,
                    arrived_at_ms: optional(shift.arrived_at_ms),
                    late_minutes: shift.late_minutes,
                    left_at_ms: optional(shift.left_at_ms),
                    left_early_minutes: shift.left_early_minutes,
                    absent: shift.absent,
                    adherence: shift.adherence,
                    interval_adherence: shift.interval_adherence,
                })
                .collect(),
        }
    }
}

async fn list_attendance(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
) -> ApiResult<Attendance> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    relay(
        &gateway,
        &caller,
        pb::ListAttendanceRequest { agent_id },
        |mut client, request| async move { client.list_attendance(request).await },
    )
    .await
}

/// The service asked of a queue (left out: the defaults).
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaffingTargets {
    /// Default 20.
    #[serde(default)]
    pub answer_seconds: f64,
    /// Default 0.8.
    #[serde(default)]
    pub service_level: f64,
    /// Default 1 (no limit).
    #[serde(default)]
    pub max_occupancy: f64,
    /// Default 0.
    #[serde(default)]
    pub shrinkage: f64,
    /// Erlang A when above 0.
    #[serde(default)]
    pub patience_seconds: f64,
}

/// A planner's value for one interval ahead.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalOverride {
    /// The interval's start (Unix milliseconds).
    pub interval_start_ms: i64,
    /// Calls expected.
    pub calls: f64,
}

/// `POST /v1/workforce/centers/{id}/queues/{queue_id}/forecast`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastQueue {
    /// Weeks of history (default 8).
    #[serde(default)]
    pub history_weeks: u32,
    /// Weeks ahead from this week's Monday (default 2).
    #[serde(default)]
    pub weeks: u32,
    /// 15 (default) or 30.
    #[serde(default)]
    pub interval_minutes: u32,
    /// Weeks held out to measure the error (default 1).
    #[serde(default)]
    pub held_out_weeks: Option<u32>,
    /// Planners' values.
    #[serde(default)]
    pub overrides: Vec<IntervalOverride>,
    /// The service asked.
    #[serde(default)]
    pub targets: StaffingTargets,
}

/// One interval of a queue's plan.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PlannedInterval {
    /// Its start (Unix milliseconds).
    pub start_ms: i64,
    /// Calls expected.
    pub calls: f64,
    /// Average handling time expected.
    pub handle_seconds: f64,
    /// Agents on the phones.
    pub agents: u32,
    /// Agents to schedule with shrinkage.
    pub agents_with_shrinkage: u32,
}

/// A queue's forecast and staffing.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct QueueForecast {
    /// The center.
    pub center_id: String,
    /// The queue.
    pub queue_id: String,
    /// 15 or 30.
    pub interval_minutes: u32,
    /// Interval by interval.
    pub intervals: Vec<PlannedInterval>,
    /// Weeks held out.
    pub held_out_weeks: u32,
    /// Their MAPE.
    pub held_out_mape: f64,
    /// Their WAPE.
    pub held_out_wape: f64,
    /// Calls in the history.
    pub history_calls: f64,
}

async fn forecast_queue(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path((center_id, queue_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ForecastQueue>,
) -> ApiResult<QueueForecast> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = pb::ForecastQueueRequest {
        center_id,
        queue_id,
        history_weeks: body.history_weeks,
        weeks: body.weeks,
        interval_minutes: body.interval_minutes,
        held_out_weeks: body.held_out_weeks,
        overrides: body
            .overrides
            .into_iter()
            .map(|o| pb::IntervalOverride {
                interval_start_ms: o.interval_start_ms,
                calls: o.calls,
            })
            .collect(),
        targets: Some(body.targets.into()),
    };
    relay(
        &gateway,
        &caller,
        request,
        |mut client, request| async move { client.forecast_queue(request).await },
    )
    .await
}

impl From<pb::ForecastQueueResponse> for QueueForecast {
    fn from(forecast: pb::ForecastQueueResponse) -> Self {
        Self {
            center_id: forecast.center_id,
            queue_id: forecast.queue_id,
            interval_minutes: forecast.interval_minutes,
            intervals: forecast
                .intervals
                .into_iter()
                .map(|i| PlannedInterval {
                    start_ms: i.start_ms,
                    calls: i.calls,
                    handle_seconds: i.handle_seconds,
                    agents: i.agents,
                    agents_with_shrinkage: i.agents_with_shrinkage,
                })
                .collect(),
            held_out_weeks: forecast.held_out_weeks,
            held_out_mape: forecast.held_out_mape,
            held_out_wape: forecast.held_out_wape,
            history_calls: forecast.history_calls,
        }
    }
}

impl From<StaffingTargets> for pb::StaffingTargets {
    fn from(targets: StaffingTargets) -> Self {
        Self {
            answer_seconds: targets.answer_seconds,
            service_level: targets.service_level,
            max_occupancy: targets.max_occupancy,
            shrinkage: targets.shrinkage,
            patience_seconds: targets.patience_seconds,
        }
    }
}

impl From<pb::StaffingTargets> for StaffingTargets {
    fn from(targets: pb::StaffingTargets) -> Self {
        Self {
            answer_seconds: targets.answer_seconds,
            service_level: targets.service_level,
            max_occupancy: targets.max_occupancy,
            shrinkage: targets.shrinkage,
            patience_seconds: targets.patience_seconds,
        }
    }
}

/// One interval of an intraday plan.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlanInterval {
    /// Its start (Unix milliseconds, on a UTC interval boundary).
    pub start_ms: i64,
    /// Calls forecast.
    pub calls: f64,
    /// Average handling time forecast.
    pub handle_seconds: f64,
}

/// `PUT /v1/workforce/queues/{queue_id}/intraday-plan`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishIntradayPlan {
    /// The queue's center.
    pub center_id: String,
    /// 15 or 30.
    pub interval_minutes: u32,
    /// Departure that raises an alert (default 0.2).
    #[serde(default)]
    pub threshold: f64,
    /// The service asked.
    #[serde(default)]
    pub targets: StaffingTargets,
    /// The forecast.
    pub intervals: Vec<PlanInterval>,
    /// Idempotency key.
    #[serde(default)]
    pub request_id: String,
}

/// An alert: an interval's calls departed from the forecast.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TrafficAnomaly {
    /// The interval's start.
    pub interval_start_ms: i64,
    /// Calls forecast.
    pub forecast_calls: f64,
    /// Calls that came (or the pace while under way).
    pub actual_calls: f64,
    /// actual / forecast - 1.
    pub departure: f64,
    /// Agents the forecast planned.
    pub planned_agents: u32,
    /// Agents the actual volume needs.
    pub needed_agents: u32,
    /// Agents to call in.
    pub extra_agents: u32,
}

/// A queue's intraday plan and its alerts.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct IntradayPlan {
    /// The queue.
    pub queue_id: String,
    /// Its center.
    pub center_id: String,
    /// 15 or 30.
    pub interval_minutes: u32,
    /// Departure that raises an alert.
    pub threshold: f64,
    /// The service asked.
    pub targets: StaffingTargets,
    /// The forecast.
    pub intervals: Vec<PlanInterval>,
    /// Alerts raised.
    pub anomalies: Vec<TrafficAnomaly>,
    /// Its version.
    pub version: u64,
}

impl From<pb::IntradayPlan> for IntradayPlan {
    fn from(plan: pb::IntradayPlan) -> Self {
        Self {
            queue_id: plan.queue_id,
            center_id: plan.center_id,
            interval_minutes: plan.interval_minutes,
            threshold: plan.threshold,
            targets: plan.targets.unwrap_or_default().into(),
            intervals: plan
                .intervals
                .into_iter()
                .map(|i| PlanInterval {
                    start_ms: i.start_ms,
                    calls: i.calls,
                    handle_seconds: i.handle_seconds,
                })
                .collect(),
            anomalies: plan
                .anomalies
                .into_iter()
                .map(|a| TrafficAnomaly {
                    interval_start_ms: a.interval_start_ms,
                    forecast_calls: a.forecast_calls,
                    actual_calls: a.actual_calls,
                    departure: a.departure,
                    planned_agents: a.planned_agents,
                    needed_agents: a.needed_agents,
                    extra_agents: a.extra_agents,
                })
                .collect(),
            version: plan.version,
        }
    }
}

async fn publish_intraday_plan(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(queue_id): Path<String>,
    JsonBody(body): JsonBody<PublishIntradayPlan>,
) -> ApiResult<IntradayPlan> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = pb::PublishIntradayPlanRequest {
        queue_id,
        center_id: body.center_id,
        interval_minutes: body.interval_minutes,
        threshold: body.threshold,
        targets: Some(body.targets.into()),
        intervals: body
            .intervals
            .into_iter()
            .map(|i| pb::PlanInterval {
                start_ms: i.start_ms,
                calls: i.calls,
                handle_seconds: i.handle_seconds,
            })
            .collect(),
        request_id: caller.request_id(body.request_id),
    };
    relay(
        &gateway,
        &caller,
        request,
        |mut client, request| async move { client.publish_intraday_plan(request).await },
    )
    .await
}

async fn get_intraday_plan(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(queue_id): Path<String>,
) -> ApiResult<IntradayPlan> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    relay(
        &gateway,
        &caller,
        pb::GetIntradayPlanRequest { queue_id },
        |mut client, request| async move { client.get_intraday_plan(request).await },
    )
    .await
}

/// `POST /v1/workforce/rosters/solve`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolveRoster {
    /// A `callcenter-roster/v1` instance.
    pub instance: serde_json::Value,
    /// Time limit, 1 to 60 s (default 10).
    #[serde(default)]
    pub seconds: u32,
    /// Default 1.
    #[serde(default)]
    pub seed: u64,
    /// The center whose approved leave is kept as days off.
    #[serde(default)]
    pub center_id: String,
    /// The horizon's first day (with `center_id`).
    #[serde(default)]
    pub first_day: String,
    /// Publish the solution as this roster of the center.
    #[serde(default)]
    pub publish_as: String,
    /// Idempotency key (of the publication).
    #[serde(default)]
    pub request_id: String,
}

/// A solved roster.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SolvedRoster {
    /// The `callcenter-roster/v1` solution with its explanation.
    pub solution: serde_json::Value,
    /// Its objective.
    pub objective: i64,
    /// Hard rules it breaks.
    pub hard_violations: Vec<String>,
    /// Days of approved leave kept off.
    pub leave_days_kept: u32,
    /// The roster published, with `publish_as`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Roster>,
}

impl From<pb::SolveRosterResponse> for SolvedRoster {
    fn from(solved: pb::SolveRosterResponse) -> Self {
        Self {
            solution: serde_json::from_str(&solved.solution_json)
                .unwrap_or(serde_json::Value::String(solved.solution_json)),
            objective: solved.objective,
            hard_violations: solved.hard_violations,
            leave_days_kept: solved.leave_days_kept,
            published: solved.published.map(Roster::from),
        }
    }
}

async fn solve_roster(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SolveRoster>,
) -> ApiResult<SolvedRoster> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = pb::SolveRosterRequest {
        instance_json: body.instance.to_string(),
        seconds: body.seconds,
        seed: body.seed,
        center_id: body.center_id,
        first_day: body.first_day,
        publish_as: body.publish_as,
        request_id: caller.request_id(body.request_id),
    };
    relay(
        &gateway,
        &caller,
        request,
        |mut client, request| async move { client.solve_roster(request).await },
    )
    .await
}
