//! The gRPC face of workforce: validates requests, checks roles, maps proto ↔ domain.
//!
//! Who may do what:
//! - centers' shifts, teams and rosters: workforce planners, center managers, the tenant's admin;
//! - leave and swaps: the agent for themself, or a supervisor on their behalf;
//! - deciding leave: the supervisor (team leader, duty lead) under two days, the director
//!   (center manager, tenant admin) from two days; deciding swaps: a supervisor;
//! - the headcount: supervisors and planners; reading centers and rosters: anyone of the tenant.

use std::collections::BTreeSet;

use callcenter_eventlog::from_proto_timestamp;
use callcenter_kit::{Loaded, Name, Timestamp};
use callcenter_platform::validate;
use callcenter_platform::{ApiError, Principal, Role, principal};
use callcenter_proto::reporting::v1 as reporting;
use callcenter_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use callcenter_proto::workforce::v1 as pb;
use callcenter_protojson::{json_to_struct, struct_to_json};
use pb::workforce_service_server::{WorkforceService, WorkforceServiceServer};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use crate::api::{
    anomaly_to_api, attendance_to_api, plan_intervals_to_api, roster_from_api, rows_to_api,
    shift_from_api, shift_to_api, targets_from_api, targets_to_api, time,
};
use crate::app::{IntervalHistory, RosterAsk, RosterCenter, Workforce};
use crate::domain::calendar::{format_day, parse_day};
use crate::domain::center::{Center, CenterCommand, CenterSettings, Decision, Leave, Swap};
use crate::domain::headcount::ShiftHeadcount;
use crate::domain::intraday::{IntradayCommand, IntradayPlan, PlanInterval, PublishedPlan};
use crate::domain::leave::Approver;
use crate::domain::queue_plan::{IntervalRow, PlanRequest};
use crate::domain::roster::{Instance, hard_violations};
use crate::events::{approver_to_proto, leave_kind_from_proto, leave_kind_to_proto};

/// The tonic service.
#[derive(Clone, Debug)]
pub struct WorkforceGrpc {
    app: Workforce,
    reporting: ReportingServiceClient<Channel>,
}

impl WorkforceGrpc {
    /// The gRPC server of `app`, reading interval history from reporting at `reporting_url`
    /// (connected when first needed).
    pub fn server(
        app: Workforce,
        reporting_url: &str,
    ) -> Result<WorkforceServiceServer<Self>, ApiError> {
        let endpoint = Endpoint::from_shared(reporting_url.to_owned())
            .map_err(|error| ApiError::invalid_field("reporting_url", error.to_string()))?
            .connect_timeout(Duration::from_secs(5));
        Ok(WorkforceServiceServer::new(Self {
            app,
            reporting: ReportingServiceClient::new(endpoint.connect_lazy()),
        }))
    }
}

impl WorkforceGrpc {
    /// Runs a command of a center's leave request and answers the request as it stands.
    async fn leave_command(
        &self,
        caller: &Principal,
        center_id: &Name,
        leave_id: &Name,
        request_id: &str,
        command: &CenterCommand,
    ) -> Result<pb::LeaveRequest, ApiError> {
        let meta = caller.command_meta(validate::request_id(request_id)?);
        let outcome = self.app.center_command(&meta, center_id, command).await?;
        let leave = outcome
            .state
            .leave
            .get(leave_id)
            .ok_or_else(|| ApiError::internal("the leave request is stored"))?;
        Ok(leave_to_proto(center_id, leave_id, leave))
    }

    /// Runs a command of a center's swap and answers the swap as it stands.
    async fn swap_command(
        &self,
        caller: &Principal,
        center_id: &Name,
        swap_id: &Name,
        request_id: &str,
        command: &CenterCommand,
    ) -> Result<pb::ShiftSwap, ApiError> {
        let meta = caller.command_meta(validate::request_id(request_id)?);
        let outcome = self.app.center_command(&meta, center_id, command).await?;
        let swap = outcome
            .state
            .swaps
            .get(swap_id)
            .ok_or_else(|| ApiError::internal("the swap is stored"))?;
        Ok(swap_to_proto(center_id, swap_id, swap))
    }
}

/// The interval history reporting keeps, read on behalf of the caller (`caller`: the metadata
/// of their request).
struct ReportingHistory<'a> {
    reporting: ReportingServiceClient<Channel>,
    caller: &'a tonic::metadata::MetadataMap,
}

impl IntervalHistory for ReportingHistory<'_> {
    async fn queue_intervals(
        &self,
        queue_id: &Name,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<IntervalRow>, ApiError> {
        let history = self
            .reporting
            .clone()
            .list_queue_intervals(on_behalf_of(
                self.caller,
                reporting::ListQueueIntervalsRequest {
                    queue_id: queue_id.to_string(),
                    start: time(start_ms),
                    end: time(end_ms),
                },
            ))
            .await
            .map_err(|status| ApiError::from_status(&status))?
            .into_inner();
        Ok(history
            .intervals
            .iter()
            .map(|interval| IntervalRow {
                start_ms: interval
                    .interval_start
                    .map_or(0, |start| from_proto_timestamp(start).unix_millis()),
                offered: interval.offered,
                handled: interval.handled,
                handle_ms: (interval.handle_seconds * 1000.0).round() as i64,
            })
            .collect())
    }
}

/// A request to another service on behalf of the caller (`incoming`: the metadata of their
/// request): their token and the current trace.
fn on_behalf_of<U>(incoming: &tonic::metadata::MetadataMap, message: U) -> Request<U> {
    let mut headers = http::HeaderMap::new();
    if let Some(authorization) = incoming.get("authorization")
        && let Ok(value) = http::HeaderValue::from_bytes(authorization.as_bytes())
    {
        headers.insert(http::header::AUTHORIZATION, value);
    }
    callcenter_telemetry::inject_http(&mut headers);
    let mut request = Request::new(message);
    *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
    request
}

/// Who plans: workforce planners, center managers and the tenant's admin.
const PLANNERS: &[Role] = &[Role::WfmPlanner, Role::CenterManager, Role::TenantAdmin];

/// Who approves as the director.
const DIRECTORS: &[Role] = &[Role::CenterManager, Role::TenantAdmin];

/// The agent themself, or a supervisor.
fn may_ask_for(caller: &Principal, agent_id: &Name) -> Result<(), ApiError> {
    if caller.has_any(&[Role::Agent]) && caller.subject == agent_id.as_str() {
        return Ok(());
    }
    caller.require_any(Role::SUPERVISORS)
}

/// The highest approver the caller is.
fn approver_of(caller: &Principal) -> Result<Approver, ApiError> {
    if caller.has_any(DIRECTORS) {
        return Ok(Approver::Director);
    }
    caller.require_any(Role::SUPERVISORS)?;
    Ok(Approver::Supervisor)
}

/// The reason of a decision: required to reject, none to approve.
fn decision_reason(approve: bool, reason: &str) -> Result<String, ApiError> {
    if approve {
        return Ok(String::new());
    }
    validate::text("reason", reason, 500)
}

fn invalid((field, reason): (String, String)) -> ApiError {
    ApiError::invalid_field(field, reason)
}

fn day(field: &str, value: &str) -> Result<i64, ApiError> {
    parse_day(value).map_err(|reason| ApiError::invalid_field(field, reason))
}

fn intraday_to_proto(queue_id: &Name, loaded: &Loaded<IntradayPlan>) -> pb::IntradayPlan {
    let plan = loaded.state.plan.as_ref();
    pb::IntradayPlan {
        queue_id: queue_id.to_string(),
        center_id: plan.map(|p| p.center_id.to_string()).unwrap_or_default(),
        interval_minutes: plan.map_or(0, |p| p.interval_minutes),
        threshold: plan.map_or(0.0, |p| p.threshold),
        targets: plan.map(|p| targets_to_api(&p.targets)),
        intervals: plan.map(plan_intervals_to_api).unwrap_or_default(),
        anomalies: loaded
            .state
            .anomalies
            .iter()
            .map(|(start, anomaly)| anomaly_to_api(*start, anomaly))
            .collect(),
        version: loaded.version.version(),
    }
}

fn center_to_proto(center_id: &Name, loaded: &Loaded<Center>) -> pb::CenterWorkforce {
    let center = &loaded.state;
    let settings = center.settings.as_ref();
    pb::CenterWorkforce {
        center_id: center_id.to_string(),
        utc_offset_minutes: settings.map_or(0, |s| s.utc_offset_minutes),
        shifts: settings
            .map(|s| s.shifts.iter().map(shift_to_api).collect())
            .unwrap_or_default(),
        teams: center
            .teams
            .iter()
            .map(|(team_id, team)| pb::Team {
                team_id: team_id.to_string(),
                leader_id: team.leader_id.to_string(),
                member_ids: team.members.iter().map(Name::to_string).collect(),
            })
            .collect(),
        roster_ids: center.rosters.keys().map(Name::to_string).collect(),
        version: loaded.version.version(),
    }
}

fn status_to_proto(decision: &Decision) -> (pb::RequestStatus, String) {
    match decision {
        Decision::Pending => (pb::RequestStatus::Pending, String::new()),
        Decision::Approved => (pb::RequestStatus::Approved, String::new()),
        Decision::Rejected(reason) => (pb::RequestStatus::Rejected, reason.clone()),
    }
}

fn leave_to_proto(center_id: &Name, leave_id: &Name, leave: &Leave) -> pb::LeaveRequest {
    let (status, reason) = status_to_proto(&leave.decision);
    pb::LeaveRequest {
        center_id: center_id.to_string(),
        leave_id: leave_id.to_string(),
        agent_id: leave.agent_id.to_string(),
        kind: leave_kind_to_proto(leave.request.kind).into(),
        first_day: format_day(leave.request.start),
        last_day: format_day(leave.request.end()),
        half_days: leave.request.half_days,
        certificate: leave.request.certificate,
        asked_on: format_day(leave.request.asked_on),
        approver: approver_to_proto(leave.approver).into(),
        status: status.into(),
        reason,
    }
}

fn swap_to_proto(center_id: &Name, swap_id: &Name, swap: &Swap) -> pb::ShiftSwap {
    let (status, reason) = status_to_proto(&swap.decision);
    pb::ShiftSwap {
        center_id: center_id.to_string(),
        swap_id: swap_id.to_string(),
        agent_id: swap.agent_id.to_string(),
        colleague_id: swap.colleague_id.to_string(),
        day: format_day(swap.request.day),
        consecutive: swap.request.consecutive,
        payback_day: format_day(swap.request.payback_day),
        asked_on: format_day(swap.request.asked_on),
        status: status.into(),
        reason,
    }
}

fn roster_to_proto(
    center_id: &Name,
    roster_id: &Name,
    loaded: &Loaded<Center>,
) -> Result<pb::Roster, ApiError> {
    let roster = loaded.state.rosters.get(roster_id).ok_or_else(|| {
        ApiError::not_found(
            crate::reasons::ROSTER_NOT_FOUND,
            "roster_id",
            roster_id.as_str(),
        )
        .with_metadata("center_id", center_id.as_str())
    })?;
    Ok(pb::Roster {
        center_id: center_id.to_string(),
        roster_id: roster_id.to_string(),
        first_day: format_day(roster.first_day),
        rows: rows_to_api(roster),
        version: loaded.version.version(),
    })
}

fn headcount_to_proto(shift: &ShiftHeadcount) -> pb::ShiftHeadcount {
    let id = |name: &Option<Name>| name.as_ref().map(Name::to_string).unwrap_or_default();
    pb::ShiftHeadcount {
        shift_id: shift.shift_id.to_string(),
        day: format_day(shift.day),
        start: time(shift.start),
        expected: shift.expected,
        present: shift.present,
        missing: shift
            .missing
            .iter()
            .map(|missing| pb::MissingAgent {
                agent_id: missing.agent_id.to_string(),
                team_id: id(&missing.team_id),
                why: missing.why.clone(),
            })
            .collect(),
        teams: shift
            .teams
            .iter()
            .map(|team| pb::TeamHeadcount {
                team_id: id(&team.team_id),
                leader_id: id(&team.leader_id),
                expected: team.expected,
                present: team.present,
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl WorkforceService for WorkforceGrpc {
    async fn define_center(
        &self,
        request: Request<pb::DefineCenterRequest>,
    ) -> Result<Response<pb::CenterWorkforce>, Status> {
        let caller = principal(&request)?;
        caller.require_any(PLANNERS)?;
        let body = request.into_inner();
        let center_id = validate::required_id("center_id", &body.center_id)?;
        let shifts = body
            .shifts
            .iter()
            .enumerate()
            .map(|(index, shift)| shift_from_api(index, shift))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let command = CenterCommand::Define(CenterSettings {
            utc_offset_minutes: body.utc_offset_minutes,
            shifts,
        });
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self.app.center_command(&meta, &center_id, &command).await?;
        Ok(Response::new(center_to_proto(
            &center_id,
            &outcome.into_loaded(),
        )))
    }

    async fn get_center(
        &self,
        request: Request<pb::GetCenterRequest>,
    ) -> Result<Response<pb::CenterWorkforce>, Status> {
        let caller = principal(&request)?;
        let center_id = validate::required_id("center_id", &request.get_ref().center_id)?;
        let loaded = self.app.center(&caller.tenant, &center_id).await?;
        Ok(Response::new(center_to_proto(&center_id, &loaded)))
    }

    async fn set_team(
        &self,
        request: Request<pb::SetTeamRequest>,
    ) -> Result<Response<pb::CenterWorkforce>, Status> {
        let caller = principal(&request)?;
        caller.require_any(PLANNERS)?;
        let body = request.into_inner();
        let center_id = validate::required_id("center_id", &body.center_id)?;
        let members: BTreeSet<Name> = validate::ids("member_ids", &body.member_ids)?
            .into_iter()
            .collect();
        let command = CenterCommand::SetTeam {
            team_id: validate::required_id("team_id", &body.team_id)?,
            leader_id: validate::required_id("leader_id", &body.leader_id)?,
            members,
        };
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self.app.center_command(&meta, &center_id, &command).await?;
        Ok(Response::new(center_to_proto(
            &center_id,
            &outcome.into_loaded(),
        )))
    }

    async fn publish_roster(
        &self,
        request: Request<pb::PublishRosterRequest>,
    ) -> Result<Response<pb::Roster>, Status> {
        let caller = principal(&request)?;
        caller.require_any(PLANNERS)?;
        let body = request.into_inner();
        let center_id = validate::required_id("center_id", &body.center_id)?;
        let roster_id = validate::required_id("roster_id", &body.roster_id)?;
        let roster = roster_from_api(&body.first_day, &body.rows).map_err(invalid)?;
        let command = CenterCommand::PublishRoster {
            roster_id: roster_id.clone(),
            roster,
        };
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self.app.center_command(&meta, &center_id, &command).await?;
        Ok(Response::new(roster_to_proto(
            &center_id,
            &roster_id,
            &outcome.into_loaded(),
        )?))
    }

    async fn get_roster(
        &self,
        request: Request<pb::GetRosterRequest>,
    ) -> Result<Response<pb::Roster>, Status> {
        let caller = principal(&request)?;
        let body = request.get_ref();
        let center_id = validate::required_id("center_id", &body.center_id)?;
        let roster_id = validate::required_id("roster_id", &body.roster_id)?;
        let loaded = self.app.center(&caller.tenant, &center_id).await?;
        Ok(Response::new(roster_to_proto(
            &center_id, &roster_id, &loaded,
        )?))
    }

    async fn request_leave(
        &self,
        request: Request<pb::RequestLeaveRequest>,
    ) -> Result<Response<pb::LeaveRequest>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let center_id = validate::required_id("center_id", &body.center_id)?;
        let leave_id = validate::required_id("leave_id", &body.leave_id)?;
        let agent_id = validate::required_id("agent_id", &body.agent_id)?;
        may_ask_for(&caller, &agent_id)?;
        let kind = leave_kind_from_proto(body.kind)
            .ok_or_else(|| ApiError::invalid_field("kind", "sick, personal or vacation"))?;
        let command = CenterCommand::RequestLeave {
            leave_id: leave_id.clone(),
            agent_id,
            kind,
            start: day("first_day", &body.first_day)?,
            half_days: body.half_days,
            certificate: body.certificate,
            at: Timestamp::now(),
        };
        let leave = self
            .leave_command(&caller, &center_id, &leave_id, &body.request_id, &command)
            .await?;
        Ok(Response::new(leave))
    }

    async fn decide_leave(
        &self,
        request: Request<pb::DecideLeaveRequest>,
    ) -> Result<Response<pb::LeaveRequest>, Status> {
        let caller = principal(&request)?;
        let by = approver_of(&caller)?;
        let body = request.into_inner();
        let center_id = validate::required_id("center_id", &body.center_id)?;
        let leave_id = validate::required_id("leave_id", &body.leave_id)?;
        let command = CenterCommand::DecideLeave {
            leave_id: leave_id.clone(),
            approve: body.approve,
            reason: decision_reason(body.approve, &body.reason)?,
            by,
        };
        let leave = self
            .leave_command(&caller, &center_id, &leave_id, &body.request_id, &command)
            .await?;
        Ok(Response::new(leave))
    }

    async fn request_swap(
        &self,
        request: Request<pb::RequestSwapRequest>,
    ) -> Result<Response<pb::ShiftSwap>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let center_id = validate::required_id("center_id", &body.center_id)?;
        let swap_id = validate::required_id("swap_id", &body.swap_id)?;
        let agent_id = validate::required_id("agent_id", &body.agent_id)?;
        may_ask_for(&caller, &agent_id)?;
        let command = CenterCommand::RequestSwap {
            swap_id: swap_id.clone(),
            agent_id,
            colleague_id: validate::required_id("colleague_id", &body.colleague_id)?,
            day: day("day", &body.day)?,
            consecutive: body.consecutive,
            payback_day: day("payback_day", &body.payback_day)?,
            at: Timestamp::now(),
        };
        let swap = self
            .swap_command(&caller, &center_id, &swap_id, &body.request_id, &command)
            .await?;
        Ok(Response::new(swap))
    }

    async fn decide_swap(
        &self,
        request: Request<pb::DecideSwapRequest>,
    ) -> Result<Response<pb::ShiftSwap>, Status> {
        let caller = principal(&request)?;
        caller.require_any(Role::SUPERVISORS)?;
        let body = request.into_inner();
        let center_id = validate::required_id("center_id", &body.center_id)?;
        let swap_id = validate::required_id("swap_id", &body.swap_id)?;
        let command = CenterCommand::DecideSwap {
            swap_id: swap_id.clone(),
            approve: body.approve,
            reason: decision_reason(body.approve, &body.reason)?,
        };
        let swap = self
            .swap_command(&caller, &center_id, &swap_id, &body.request_id, &command)
            .await?;
        Ok(Response::new(swap))
    }

    async fn get_headcount(
        &self,
        request: Request<pb::GetHeadcountRequest>,
    ) -> Result<Response<pb::Headcount>, Status> {
        let caller = principal(&request)?;
        if !caller.has_any(PLANNERS) {
            caller.require_any(Role::SUPERVISORS)?;
        }
        let center_id = validate::required_id("center_id", &request.get_ref().center_id)?;
        let now = Timestamp::now();
        let shifts = self.app.headcount(&caller.tenant, &center_id, now).await?;
        Ok(Response::new(pb::Headcount {
            center_id: center_id.to_string(),
            at: time(now.unix_millis()),
            shifts: shifts.iter().map(headcount_to_proto).collect(),
        }))
    }

    async fn forecast_queue(
        &self,
        request: Request<pb::ForecastQueueRequest>,
    ) -> Result<Response<pb::ForecastQueueResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(PLANNERS)?;
        let (metadata, _, body) = request.into_parts();
        let center_id = validate::required_id("center_id", &body.center_id)?;
        let queue_id = validate::required_id("queue_id", &body.queue_id)?;
        let positive = |value: u32, default: u32| if value == 0 { default } else { value };
        let (targets, patience_seconds) = targets_from_api(&body.targets.unwrap_or_default());
        let request = PlanRequest {
            start_ms: self
                .app
                .week_start(&caller.tenant, &center_id, Timestamp::now())
                .await?,
            history_weeks: positive(body.history_weeks, 8) as usize,
            weeks: positive(body.weeks, 2) as usize,
            interval_minutes: positive(body.interval_minutes, 15),
            held_out_weeks: body.held_out_weeks.unwrap_or(1) as usize,
            overrides: body
                .overrides
                .iter()
                .enumerate()
                .map(|(index, o)| {
                    let field = format!("overrides[{index}].interval_start");
                    validate::required_time(&field, o.interval_start.as_ref())
                        .map(|start| (start.unix_millis(), o.calls))
                })
                .collect::<Result<_, _>>()?,
            targets,
            patience_seconds,
        };
        let history = ReportingHistory {
            reporting: self.reporting.clone(),
            caller: &metadata,
        };
        let plan = self
            .app
            .forecast_queue(&queue_id, &request, &history)
            .await?;
        let held_out = plan
            .held_out
            .unwrap_or(crate::domain::forecast::ForecastErrors {
                mape: 0.0,
                wape: 0.0,
            });
        Ok(Response::new(pb::ForecastQueueResponse {
            center_id: center_id.to_string(),
            queue_id: queue_id.to_string(),
            interval_minutes: request.interval_minutes,
            intervals: plan
                .intervals
                .iter()
                .map(|interval| pb::PlannedInterval {
                    start: time(interval.start_ms),
                    calls: interval.calls,
                    handle_seconds: interval.handle_seconds,
                    agents: interval.agents,
                    agents_with_shrinkage: interval.agents_with_shrinkage,
                })
                .collect(),
            held_out_weeks: request.held_out_weeks as u32,
            held_out_mape: held_out.mape,
            held_out_wape: held_out.wape,
            history_calls: plan.history_calls,
        }))
    }

    async fn publish_intraday_plan(
        &self,
        request: Request<pb::PublishIntradayPlanRequest>,
    ) -> Result<Response<pb::IntradayPlan>, Status> {
        let caller = principal(&request)?;
        caller.require_any(PLANNERS)?;
        let body = request.into_inner();
        let queue_id = validate::required_id("queue_id", &body.queue_id)?;
        let plan = PublishedPlan {
            center_id: validate::required_id("center_id", &body.center_id)?,
            interval_minutes: body.interval_minutes,
            threshold: if body.threshold == 0.0 {
                0.2
            } else {
                body.threshold
            },
            targets: targets_from_api(&body.targets.unwrap_or_default()).0,
            intervals: body
                .intervals
                .iter()
                .enumerate()
                .map(|(index, interval)| {
                    let field = format!("intervals[{index}].start");
                    let start = validate::required_time(&field, interval.start.as_ref())?;
                    let planned = PlanInterval {
                        calls: interval.calls,
                        handle_seconds: interval.handle_seconds,
                    };
                    Ok::<_, ApiError>((start.unix_millis(), planned))
                })
                .collect::<Result<_, _>>()?,
        };
        if plan.intervals.len() != body.intervals.len() {
            return Err(ApiError::invalid_field("intervals", "each start once").into());
        }
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self
            .app
            .intraday_command(&meta, &queue_id, &IntradayCommand::Publish(plan))
            .await?;
        Ok(Response::new(intraday_to_proto(
            &queue_id,
            &outcome.into_loaded(),
        )))
    }

    async fn get_intraday_plan(
        &self,
        request: Request<pb::GetIntradayPlanRequest>,
    ) -> Result<Response<pb::IntradayPlan>, Status> {
        let caller = principal(&request)?;
        if !caller.has_any(PLANNERS) {
            caller.require_any(Role::SUPERVISORS)?;
        }
        let queue_id = validate::required_id("queue_id", &request.get_ref().queue_id)?;
        let loaded = self.app.intraday_plan(&caller.tenant, &queue_id).await?;
        Ok(Response::new(intraday_to_proto(&queue_id, &loaded)))
    }

    async fn solve_roster(
        &self,
        request: Request<pb::SolveRosterRequest>,
    ) -> Result<Response<pb::SolveRosterResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(PLANNERS)?;
        let body = request.into_inner();
        let json = struct_to_json(
            body.instance
                .as_ref()
                .ok_or_else(|| ApiError::invalid_field("instance", "is required"))?,
        );
        let instance = Instance::from_json(&json).map_err(|error| {
            ApiError::invalid_field(format!("instance.{}", error.field), error.reason)
        })?;
        let seconds = match body.seconds {
            0 => 10,
            seconds @ 1..=60 => seconds,
            _ => return Err(ApiError::invalid_field("seconds", "1 to 60").into()),
        };
        let publish_as = validate::optional_id("publish_as", &body.publish_as)?;
        let center = match validate::optional_id("center_id", &body.center_id)? {
            Some(center_id) => Some(RosterCenter {
                center_id,
                first_day: day("first_day", &body.first_day)?,
                publish_as: match publish_as {
                    Some(roster_id) => Some((
                        roster_id,
                        caller.command_meta(validate::request_id(&body.request_id)?),
                    )),
                    None => None,
                },
            }),
            None if publish_as.is_some() => {
                return Err(ApiError::invalid_field("center_id", "is required to publish").into());
            }
            None => None,
        };
        let ask = RosterAsk {
            instance,
            seed: if body.seed == 0 { 1 } else { body.seed },
            time: Duration::from_secs(u64::from(seconds)),
            center,
        };
        let solved = self.app.solve_roster(&caller.tenant, ask).await?;
        let published = match &solved.published {
            Some((center_id, roster_id, loaded)) => {
                Some(roster_to_proto(center_id, roster_id, loaded)?)
            }
            None => None,
        };
        Ok(Response::new(pb::SolveRosterResponse {
            solution: json_to_struct(&solved.solution.to_json(&solved.instance)),
            objective: solved.solution.objective,
            hard_violations: hard_violations(&solved.instance, &solved.solution.assignment),
            leave_days_kept: u32::try_from(solved.leave_days_kept()).unwrap_or(u32::MAX),
            published,
        }))
    }

    async fn list_attendance(
        &self,
        request: Request<pb::ListAttendanceRequest>,
    ) -> Result<Response<pb::ListAttendanceResponse>, Status> {
        let caller = principal(&request)?;
        let agent_id = validate::required_id("agent_id", &request.get_ref().agent_id)?;
        if !caller.has_any(&[Role::WfmPlanner, Role::HrAdmin]) {
            may_ask_for(&caller, &agent_id)?;
        }
        let records = self.app.attendance(&caller.tenant, &agent_id).await?;
        Ok(Response::new(pb::ListAttendanceResponse {
            agent_id: agent_id.to_string(),
            shifts: records.iter().map(attendance_to_api).collect(),
        }))
    }
}
