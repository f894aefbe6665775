//! The gRPC face of workforce: validates requests, checks roles, maps proto ↔ domain.
//!
//! Who may do what:
//! - centers' shifts, teams and rosters: workforce planners, center managers, the tenant's admin;
//! - leave and swaps: the agent for themself, or a supervisor on their behalf;
//! - deciding leave: the supervisor (team leader, duty lead) under two days, the director
//!   (center manager, tenant admin) from two days; deciding swaps: a supervisor;
//! - the headcount: supervisors and planners; reading centers and rosters: anyone of the tenant.

use std::collections::BTreeSet;

use callcenter_kit::{Loaded, Name, Outcome, Timestamp};
use callcenter_platform::validate;
use callcenter_platform::{ApiError, Principal, Role, principal};
use callcenter_proto::workforce::v1 as pb;
use pb::workforce_service_server::{WorkforceService, WorkforceServiceServer};
use tonic::{Request, Response, Status};

use crate::app::Workforce;
use crate::domain::calendar::{format_day, parse_day};
use crate::domain::center::{Center, CenterCommand, CenterSettings, Decision, Leave, Swap};
use crate::domain::headcount::ShiftHeadcount;
use crate::domain::leave::Approver;
use crate::events::{
    approver_to_proto, leave_kind_from_proto, leave_kind_to_proto, record_to_proto,
    roster_from_proto, rows_to_proto, shift_from_proto, shift_to_proto,
};

/// The tonic service.
#[derive(Clone, Debug)]
pub struct WorkforceGrpc {
    app: Workforce,
}

impl WorkforceGrpc {
    /// The gRPC server of `app`.
    pub fn server(app: Workforce) -> WorkforceServiceServer<Self> {
        WorkforceServiceServer::new(Self { app })
    }
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

/// The center as a command left it.
fn loaded(outcome: Outcome<Center>) -> Loaded<Center> {
    Loaded {
        state: outcome.state,
        version: outcome.version,
    }
}

fn center_to_proto(center_id: &Name, loaded: &Loaded<Center>) -> pb::CenterWorkforce {
    let center = &loaded.state;
    let settings = center.settings.as_ref();
    pb::CenterWorkforce {
        center_id: center_id.to_string(),
        utc_offset_minutes: settings.map_or(0, |s| s.utc_offset_minutes),
        shifts: settings
            .map(|s| s.shifts.iter().map(shift_to_proto).collect())
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
        ApiError::not_found("roster", roster_id.as_str())
            .with_metadata("center_id", center_id.as_str())
    })?;
    Ok(pb::Roster {
        center_id: center_id.to_string(),
        roster_id: roster_id.to_string(),
        first_day: format_day(roster.first_day),
        rows: rows_to_proto(roster),
        version: loaded.version.version(),
    })
}

fn headcount_to_proto(shift: &ShiftHeadcount) -> pb::ShiftHeadcount {
    let id = |name: &Option<Name>| name.as_ref().map(Name::to_string).unwrap_or_default();
    pb::ShiftHeadcount {
        shift_id: shift.shift_id.to_string(),
        day: format_day(shift.day),
        start_ms: shift.start,
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
            .map(|(index, shift)| shift_from_proto(index, shift))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let command = CenterCommand::Define(CenterSettings {
            utc_offset_minutes: body.utc_offset_minutes,
            shifts,
        });
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self.app.center_command(&meta, &center_id, &command).await?;
        Ok(Response::new(center_to_proto(&center_id, &loaded(outcome))))
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
        Ok(Response::new(center_to_proto(&center_id, &loaded(outcome))))
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
        let roster = roster_from_proto(&body.first_day, &body.rows).map_err(invalid)?;
        let command = CenterCommand::PublishRoster {
            roster_id: roster_id.clone(),
            roster,
        };
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self.app.center_command(&meta, &center_id, &command).await?;
        Ok(Response::new(roster_to_proto(
            &center_id,
            &roster_id,
            &loaded(outcome),
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
        let kind = pb::LeaveKind::try_from(body.kind)
            .ok()
            .and_then(leave_kind_from_proto)
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
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self.app.center_command(&meta, &center_id, &command).await?;
        let leave = outcome
            .state
            .leave
            .get(&leave_id)
            .ok_or_else(|| ApiError::internal("a requested leave is stored"))?;
        Ok(Response::new(leave_to_proto(&center_id, &leave_id, leave)))
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
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self.app.center_command(&meta, &center_id, &command).await?;
        let leave = outcome
            .state
            .leave
            .get(&leave_id)
            .ok_or_else(|| ApiError::internal("a decided leave is stored"))?;
        Ok(Response::new(leave_to_proto(&center_id, &leave_id, leave)))
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
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self.app.center_command(&meta, &center_id, &command).await?;
        let swap = outcome
            .state
            .swaps
            .get(&swap_id)
            .ok_or_else(|| ApiError::internal("a requested swap is stored"))?;
        Ok(Response::new(swap_to_proto(&center_id, &swap_id, swap)))
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
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self.app.center_command(&meta, &center_id, &command).await?;
        let swap = outcome
            .state
            .swaps
            .get(&swap_id)
            .ok_or_else(|| ApiError::internal("a decided swap is stored"))?;
        Ok(Response::new(swap_to_proto(&center_id, &swap_id, swap)))
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
            at_ms: now.unix_millis(),
            shifts: shifts.iter().map(headcount_to_proto).collect(),
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
            shifts: records.iter().map(record_to_proto).collect(),
        }))
    }
}
