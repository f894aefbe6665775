//! The gRPC face of telephony: validates requests, checks roles, maps proto ↔ domain.

use callcenter_eventlog::to_proto_timestamp;
use callcenter_kit::{Name, Outcome, Timestamp};
use callcenter_platform::validate;
use callcenter_platform::{ApiError, Principal, Role, principal};
use callcenter_proto::telephony::v1 as pb;
use pb::telephony_service_server::{TelephonyService, TelephonyServiceServer};
use tonic::{Request, Response, Status};

use crate::api::{calling_hours_from_api, calling_hours_to_api, menu_from_api, menu_to_api};
use crate::app::invalid_menu;
use crate::app::{NewCall, NewOutboundCall, Telephony};
use crate::domain::{
    Call, CallCommand, CallState, Direction, IvrMenu, NumberRoute, OutboundPolicy,
    OutboundPolicyCommand, PhoneNumber,
};
use crate::events::{
    caller_class_from_proto, caller_class_to_proto, not_reached_from_proto, not_reached_to_proto,
    party_from_proto, priority_from_proto, priority_to_proto, purpose_from_proto, purpose_to_proto,
    supervision_mode_from_proto, supervision_mode_to_proto,
};

/// The tonic service.
#[derive(Clone, Debug)]
pub struct TelephonyGrpc {
    app: Telephony,
}

impl TelephonyGrpc {
    /// The gRPC server of `app`.
    pub fn server(app: Telephony) -> TelephonyServiceServer<Self> {
        TelephonyServiceServer::new(Self { app })
    }
}

/// Roles that report calls into the platform and follow them (a PBX, a carrier, an admin).
const CALL_REPORTERS: &[Role] = &[Role::Partner, Role::TenantAdmin, Role::PlatformOperator];

/// Roles that may join a call to listen, coach or barge (DOMAIN.md §2 and §6).
const CALL_SUPERVISORS: &[Role] = &[
    Role::TeamLeader,
    Role::DutyLead,
    Role::CenterManager,
    Role::QaReviewer,
];

/// Who may act on a call as `agent_id`: that agent, a supervisor, or a reporting system.
fn may_act_as_agent(caller: &Principal, agent_id: &Name) -> Result<(), ApiError> {
    if caller.has_any(&[Role::Agent]) && caller.subject == agent_id.as_str() {
        return Ok(());
    }
    let mut allowed = CALL_REPORTERS.to_vec();
    allowed.extend_from_slice(Role::SUPERVISORS);
    caller.require_any(&allowed)
}

/// The agent a request names in `field`, or else the caller's own id when the caller is an agent
/// (an agent's desktop need not repeat who it is).
fn agent_or_self(caller: &Principal, field: &str, value: &str) -> Result<Name, ApiError> {
    match validate::optional_id(field, value)? {
        Some(agent_id) => Ok(agent_id),
        None if caller.has_any(&[Role::Agent]) => validate::required_id("subject", &caller.subject),
        None => Err(ApiError::invalid_field(field, "is required")),
    }
}

fn phone(field: &str, value: &str) -> Result<PhoneNumber, ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid_field(field, "is required"));
    }
    PhoneNumber::parse(value).map_err(|reason| ApiError::invalid_field(field, reason))
}

/// The API view of a call record at `version`.
pub(crate) fn call_to_proto(call_id: &Name, call: &Call, version: u64) -> pb::Call {
    let not_reached_reason = match call.state {
        CallState::NotReached { reason } => not_reached_to_proto(reason),
        _ => pb::NotReachedReason::Unspecified,
    };
    let (state, held) = match call.state {
        CallState::NotReached { .. } => (pb::CallState::NotReached, false),
        CallState::Unknown => (pb::CallState::Unspecified, false),
        CallState::InIvr => (pb::CallState::InIvr, false),
        CallState::Queued => (pb::CallState::Queued, false),
        CallState::Ringing { .. } => (pb::CallState::Ringing, false),
        CallState::Answered { held, .. } => (pb::CallState::Answered, held),
        CallState::Ended => (pb::CallState::Ended, false),
        CallState::Abandoned => (pb::CallState::Abandoned, false),
        CallState::SelfServed => (pb::CallState::SelfServed, false),
    };
    let text = |value: Option<&Name>| value.map(Name::to_string).unwrap_or_default();
    pb::Call {
        call_id: call_id.to_string(),
        state: state.into(),
        caller_number: call
            .caller_number
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        dialled_number: call
            .dialled_number
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        queue_id: text(call.queue_id.as_ref()),
        agent_id: text(call.agent_id.as_ref()),
        offered_at: call.offered_at.map(to_proto_timestamp),
        answered_at: call.answered_at.map(to_proto_timestamp),
        ended_at: call.ended_at.map(to_proto_timestamp),
        version,
        priority: priority_to_proto(call.priority).into(),
        held,
        supervisor_id: text(call.supervision.as_ref().map(|s| &s.supervisor_id)),
        supervision_mode: call
            .supervision
            .as_ref()
            .map_or(pb::SupervisionMode::Unspecified, |s| {
                supervision_mode_to_proto(s.mode)
            })
            .into(),
        transfers: call.transfers,
        disposition: text(call.disposition.as_ref()),
        target_agent_id: text(call.target_agent_id.as_ref()),
        direction: match call.direction {
            Direction::Inbound => pb::Direction::Inbound,
            Direction::Outbound => pb::Direction::Outbound,
        }
        .into(),
        purpose: call
            .purpose
            .map_or(pb::OutboundPurpose::Unspecified, purpose_to_proto)
            .into(),
        not_reached_reason: not_reached_reason.into(),
        caller_class: caller_class_to_proto(call.caller_class).into(),
        required_skill: text(call.required_skill.as_ref()),
        ivr: call.ivr.as_ref().map(|position| pb::IvrPosition {
            menu_id: position.menu.menu_id.to_string(),
            menu_version: position.menu.version,
            node_id: position.node_id.to_string(),
            prompt: String::new(),
            attempts: u32::from(position.attempts),
        }),
        self_service: text(call.self_service.as_ref()),
    }
}

/// Fills in what the caller of a call in one of our menus should hear now.
fn with_prompt(mut view: pb::Call, menu: Option<&IvrMenu>) -> pb::Call {
    if let (Some(position), Some(menu)) = (&mut view.ivr, menu)
        && let Ok(node_id) = Name::new(&position.node_id)
    {
        position.prompt = menu.prompt(&node_id).unwrap_or_default().to_owned();
    }
    view
}

fn policy_to_proto(policy: &OutboundPolicy) -> Option<pb::OutboundPolicy> {
    Some(pb::OutboundPolicy {
        do_not_call: policy.do_not_call.iter().cloned().collect(),
        calling_hours: policy.calling_hours.as_ref().map(calling_hours_to_api),
    })
}

fn outcome_to_proto(call_id: &Name, outcome: Outcome<Call>) -> Option<pb::Call> {
    Some(call_to_proto(
        call_id,
        &outcome.state,
        outcome.version.version(),
    ))
}

impl TelephonyGrpc {
    /// The API view of a call, with its menu prompt.
    async fn call_view(
        &self,
        tenant: &callcenter_kit::TenantId,
        call_id: &Name,
        call: &Call,
        version: u64,
    ) -> Result<pb::Call, ApiError> {
        let menu = self.app.menu_of_call(tenant, call).await?;
        Ok(with_prompt(
            call_to_proto(call_id, call, version),
            menu.as_deref(),
        ))
    }

    /// Checks that `caller` may act for the agent on the call, then applies `command`.
    async fn agent_command(
        &self,
        caller: &Principal,
        call_id: &Name,
        request_id: &str,
        command: CallCommand,
    ) -> Result<Option<pb::Call>, ApiError> {
        let current = self.app.get_call(&caller.tenant, call_id).await?;
        match &current.state.agent_id {
            Some(agent_id) => may_act_as_agent(caller, agent_id)?,
            None => caller.require_any(CALL_REPORTERS)?,
        }
        let meta = caller.command_meta(validate::request_id(request_id)?);
        let outcome = self.app.handle_call(&meta, call_id, &command).await?;
        Ok(outcome_to_proto(call_id, outcome))
    }
}

#[tonic::async_trait]
impl TelephonyService for TelephonyGrpc {
    async fn report_call(
        &self,
        request: Request<pb::ReportCallRequest>,
    ) -> Result<Response<pb::ReportCallResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(CALL_REPORTERS)?;
        let body = request.into_inner();
        let new_call = NewCall {
            call_id: validate::optional_id("call_id", &body.call_id)?,
            caller_number: phone("caller_number", &body.caller_number)?,
            dialled_number: phone("dialled_number", &body.dialled_number)?,
            queue_id: validate::optional_id("queue_id", &body.queue_id)?,
            priority: priority_from_proto(body.priority),
            at: Timestamp::now(),
        };
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let (call_id, outcome) = self.app.report_call(&meta, new_call).await?;
        let view = self
            .call_view(
                &caller.tenant,
                &call_id,
                &outcome.state,
                outcome.version.version(),
            )
            .await?;
        Ok(Response::new(pb::ReportCallResponse { call: Some(view) }))
    }

    async fn answer_call(
        &self,
        request: Request<pb::AnswerCallRequest>,
    ) -> Result<Response<pb::AnswerCallResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let agent_id = agent_or_self(&caller, "agent_id", &body.agent_id)?;
        may_act_as_agent(&caller, &agent_id)?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let command = CallCommand::Answer {
            agent_id,
            at: Timestamp::now(),
        };
        let outcome = self.app.handle_call(&meta, &call_id, &command).await?;
        Ok(Response::new(pb::AnswerCallResponse {
            call: outcome_to_proto(&call_id, outcome),
        }))
    }

    async fn decline_call(
        &self,
        request: Request<pb::DeclineCallRequest>,
    ) -> Result<Response<pb::DeclineCallResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let agent_id = agent_or_self(&caller, "agent_id", &body.agent_id)?;
        may_act_as_agent(&caller, &agent_id)?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let command = CallCommand::ReturnToQueue {
            agent_id,
            missed: false,
            at: Timestamp::now(),
        };
        let outcome = self.app.handle_call(&meta, &call_id, &command).await?;
        Ok(Response::new(pb::DeclineCallResponse {
            call: outcome_to_proto(&call_id, outcome),
        }))
    }

    async fn end_call(
        &self,
        request: Request<pb::EndCallRequest>,
    ) -> Result<Response<pb::EndCallResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let command = CallCommand::End {
            ended_by: party_from_proto(body.ended_by),
            at: Timestamp::now(),
        };
        let call = self
            .agent_command(&caller, &call_id, &body.request_id, command)
            .await?;
        Ok(Response::new(pb::EndCallResponse { call }))
    }

    async fn abandon_call(
        &self,
        request: Request<pb::AbandonCallRequest>,
    ) -> Result<Response<pb::AbandonCallResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(CALL_REPORTERS)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let command = CallCommand::Abandon {
            position: (body.position > 0).then_some(body.position),
            at: Timestamp::now(),
        };
        let outcome = self.app.handle_call(&meta, &call_id, &command).await?;
        Ok(Response::new(pb::AbandonCallResponse {
            call: outcome_to_proto(&call_id, outcome),
        }))
    }

    async fn hold_call(
        &self,
        request: Request<pb::HoldCallRequest>,
    ) -> Result<Response<pb::HoldCallResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let command = CallCommand::Hold {
            at: Timestamp::now(),
        };
        let call = self
            .agent_command(&caller, &call_id, &body.request_id, command)
            .await?;
        Ok(Response::new(pb::HoldCallResponse { call }))
    }

    async fn resume_call(
        &self,
        request: Request<pb::ResumeCallRequest>,
    ) -> Result<Response<pb::ResumeCallResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let command = CallCommand::Resume {
            at: Timestamp::now(),
        };
        let call = self
            .agent_command(&caller, &call_id, &body.request_id, command)
            .await?;
        Ok(Response::new(pb::ResumeCallResponse { call }))
    }

    async fn transfer_call(
        &self,
        request: Request<pb::TransferCallRequest>,
    ) -> Result<Response<pb::TransferCallResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let command = CallCommand::Transfer {
            to_queue_id: validate::required_id("to_queue_id", &body.to_queue_id)?,
            to_agent_id: validate::optional_id("to_agent_id", &body.to_agent_id)?,
            at: Timestamp::now(),
        };
        let call = self
            .agent_command(&caller, &call_id, &body.request_id, command)
            .await?;
        Ok(Response::new(pb::TransferCallResponse { call }))
    }

    async fn supervise_call(
        &self,
        request: Request<pb::SuperviseCallRequest>,
    ) -> Result<Response<pb::SuperviseCallResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(CALL_SUPERVISORS)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let mode = supervision_mode_from_proto(body.mode)
            .ok_or_else(|| ApiError::invalid_field("mode", "one of LISTEN, WHISPER, BARGE"))?;
        let supervisor_id = validate::required_id("subject", &caller.subject)?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let command = CallCommand::JoinSupervisor {
            supervisor_id,
            mode,
            at: Timestamp::now(),
        };
        let outcome = self.app.handle_call(&meta, &call_id, &command).await?;
        Ok(Response::new(pb::SuperviseCallResponse {
            call: outcome_to_proto(&call_id, outcome),
        }))
    }

    async fn stop_supervising_call(
        &self,
        request: Request<pb::StopSupervisingCallRequest>,
    ) -> Result<Response<pb::StopSupervisingCallResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(CALL_SUPERVISORS)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let supervisor_id = validate::required_id("subject", &caller.subject)?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let command = CallCommand::LeaveSupervisor {
            supervisor_id,
            at: Timestamp::now(),
        };
        let outcome = self.app.handle_call(&meta, &call_id, &command).await?;
        Ok(Response::new(pb::StopSupervisingCallResponse {
            call: outcome_to_proto(&call_id, outcome),
        }))
    }

    async fn set_call_disposition(
        &self,
        request: Request<pb::SetCallDispositionRequest>,
    ) -> Result<Response<pb::SetCallDispositionResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let agent_id = agent_or_self(&caller, "agent_id", &body.agent_id)?;
        let command = CallCommand::SetDisposition {
            agent_id: agent_id.clone(),
            code: validate::required_id("code", &body.code)?,
            at: Timestamp::now(),
        };
        may_act_as_agent(&caller, &agent_id)?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self.app.handle_call(&meta, &call_id, &command).await?;
        Ok(Response::new(pb::SetCallDispositionResponse {
            call: outcome_to_proto(&call_id, outcome),
        }))
    }

    async fn dial_outbound_call(
        &self,
        request: Request<pb::DialOutboundCallRequest>,
    ) -> Result<Response<pb::DialOutboundCallResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let agent_id = agent_or_self(&caller, "agent_id", &body.agent_id)?;
        may_act_as_agent(&caller, &agent_id)?;
        let purpose = purpose_from_proto(body.purpose).ok_or_else(|| {
            ApiError::invalid_field("purpose", "one of CALLBACK, SURVEY, MARKETING")
        })?;
        let queue_id = validate::optional_id("queue_id", &body.queue_id)?
            .unwrap_or_else(|| Name::new("outbound").expect("valid name"));
        let call = NewOutboundCall {
            call_id: validate::optional_id("call_id", &body.call_id)?,
            customer_number: phone("customer_number", &body.customer_number)?,
            caller_id: phone("caller_id", &body.caller_id)?,
            purpose,
            agent_id,
            queue_id,
            at: Timestamp::now(),
        };
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let (call_id, outcome) = self.app.dial_out(&meta, call).await?;
        Ok(Response::new(pb::DialOutboundCallResponse {
            call: outcome_to_proto(&call_id, outcome),
        }))
    }

    async fn mark_call_not_reached(
        &self,
        request: Request<pb::MarkCallNotReachedRequest>,
    ) -> Result<Response<pb::MarkCallNotReachedResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let reason = not_reached_from_proto(body.reason).ok_or_else(|| {
            ApiError::invalid_field("reason", "one of NO_ANSWER, BUSY, REJECTED, FAILED")
        })?;
        let command = CallCommand::MarkNotReached {
            reason,
            at: Timestamp::now(),
        };
        let call = self
            .agent_command(&caller, &call_id, &body.request_id, command)
            .await?;
        Ok(Response::new(pb::MarkCallNotReachedResponse { call }))
    }

    async fn get_outbound_policy(
        &self,
        request: Request<pb::GetOutboundPolicyRequest>,
    ) -> Result<Response<pb::GetOutboundPolicyResponse>, Status> {
        let caller = principal(&request)?;
        let mut allowed = vec![Role::TenantAdmin, Role::Agent];
        allowed.extend_from_slice(Role::SUPERVISORS);
        caller.require_any(&allowed)?;
        let policy = self.app.outbound_policy(&caller.tenant).await?;
        Ok(Response::new(pb::GetOutboundPolicyResponse {
            policy: policy_to_proto(&policy),
        }))
    }

    async fn update_do_not_call(
        &self,
        request: Request<pb::UpdateDoNotCallRequest>,
    ) -> Result<Response<pb::UpdateDoNotCallResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin, Role::CenterManager])?;
        let body = request.into_inner();
        if body.add.len() + body.remove.len() > 1000 {
            return Err(ApiError::invalid_field("add", "at most 1000 numbers per request").into());
        }
        let mut commands = Vec::new();
        let at = Timestamp::now();
        for (index, number) in body.add.iter().enumerate() {
            let number = phone(&format!("add[{index}]"), number)?;
            commands.push(OutboundPolicyCommand::AddDoNotCall { number, at });
        }
        for (index, number) in body.remove.iter().enumerate() {
            let number = phone(&format!("remove[{index}]"), number)?;
            commands.push(OutboundPolicyCommand::RemoveDoNotCall { number, at });
        }
        let request_id = validate::request_id(&body.request_id)?;
        let mut policy = self.app.outbound_policy(&caller.tenant).await?;
        for (index, command) in commands.iter().enumerate() {
            // Each change is its own idempotent step of the request.
            let step_id = if request_id.is_empty() {
                String::new()
            } else {
                format!("{request_id}.{index}")
            };
            let meta = caller.command_meta(validate::request_id(&step_id)?);
            policy = self.app.change_outbound_policy(&meta, command).await?;
        }
        Ok(Response::new(pb::UpdateDoNotCallResponse {
            policy: policy_to_proto(&policy),
        }))
    }

    async fn set_calling_hours(
        &self,
        request: Request<pb::SetCallingHoursRequest>,
    ) -> Result<Response<pb::SetCallingHoursResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin, Role::CenterManager])?;
        let body = request.into_inner();
        let hours = body
            .hours
            .as_ref()
            .map(calling_hours_from_api)
            .transpose()
            .map_err(|reason| ApiError::invalid_field("hours", reason))?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let command = OutboundPolicyCommand::SetCallingHours {
            hours,
            at: Timestamp::now(),
        };
        let policy = self.app.change_outbound_policy(&meta, &command).await?;
        Ok(Response::new(pb::SetCallingHoursResponse {
            policy: policy_to_proto(&policy),
        }))
    }

    async fn get_call(
        &self,
        request: Request<pb::GetCallRequest>,
    ) -> Result<Response<pb::GetCallResponse>, Status> {
        let caller = principal(&request)?;
        let call_id = validate::required_id("call_id", &request.get_ref().call_id)?;
        let mut allowed = vec![Role::Agent, Role::QaReviewer];
        allowed.extend_from_slice(CALL_REPORTERS);
        allowed.extend_from_slice(Role::SUPERVISORS);
        caller.require_any(&allowed)?;
        let current = self.app.get_call(&caller.tenant, &call_id).await?;
        let view = self
            .call_view(
                &caller.tenant,
                &call_id,
                &current.state,
                current.version.version(),
            )
            .await?;
        Ok(Response::new(pb::GetCallResponse { call: Some(view) }))
    }

    async fn assign_number(
        &self,
        request: Request<pb::AssignNumberRequest>,
    ) -> Result<Response<pb::AssignNumberResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin])?;
        let body = request.into_inner();
        let number = phone("number", &body.number)?;
        let route = match (
            validate::optional_id("queue_id", &body.queue_id)?,
            validate::optional_id("ivr_menu_id", &body.ivr_menu_id)?,
        ) {
            (Some(queue_id), None) => NumberRoute::Queue(queue_id),
            (None, Some(menu_id)) => NumberRoute::Menu(menu_id),
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_field(
                    "ivr_menu_id",
                    "give queue_id or ivr_menu_id, not both",
                )
                .into());
            }
            (None, None) => {
                return Err(
                    ApiError::invalid_field("queue_id", "give queue_id or ivr_menu_id").into(),
                );
            }
        };
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        self.app
            .assign_number(&meta, &number, route.clone(), Timestamp::now())
            .await?;
        let (queue_id, ivr_menu_id) = match route {
            NumberRoute::Queue(queue_id) => (queue_id.to_string(), String::new()),
            NumberRoute::Menu(menu_id) => (String::new(), menu_id.to_string()),
        };
        Ok(Response::new(pb::AssignNumberResponse {
            number: number.as_str().to_owned(),
            queue_id,
            ivr_menu_id,
        }))
    }

    async fn save_ivr_menu(
        &self,
        request: Request<pb::SaveIvrMenuRequest>,
    ) -> Result<Response<pb::SaveIvrMenuResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin])?;
        let body = request.into_inner();
        let menu_id = validate::required_id("menu_id", &body.menu_id)?;
        let menu = body
            .menu
            .as_ref()
            .ok_or_else(|| ApiError::invalid_field("menu", "is required"))?;
        let menu = menu_from_api(menu).map_err(invalid_menu)?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let version = self
            .app
            .save_menu(
                &meta,
                &menu_id,
                menu,
                body.expected_version,
                Timestamp::now(),
            )
            .await?;
        Ok(Response::new(pb::SaveIvrMenuResponse {
            menu_id: menu_id.to_string(),
            version,
        }))
    }

    async fn get_ivr_menu(
        &self,
        request: Request<pb::GetIvrMenuRequest>,
    ) -> Result<Response<pb::GetIvrMenuResponse>, Status> {
        let caller = principal(&request)?;
        let mut allowed = CALL_REPORTERS.to_vec();
        allowed.extend_from_slice(Role::SUPERVISORS);
        caller.require_any(&allowed)?;
        let body = request.into_inner();
        let menu_id = validate::required_id("menu_id", &body.menu_id)?;
        let version = (body.version > 0).then_some(body.version);
        let (version, menu) = self.app.get_menu(&caller.tenant, &menu_id, version).await?;
        Ok(Response::new(pb::GetIvrMenuResponse {
            menu_id: menu_id.to_string(),
            version,
            menu: Some(menu_to_api(&menu)),
        }))
    }

    async fn press_ivr_keys(
        &self,
        request: Request<pb::PressIvrKeysRequest>,
    ) -> Result<Response<pb::PressIvrKeysResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(CALL_REPORTERS)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        if body.keys.len() > 32 {
            return Err(ApiError::invalid_field("keys", "at most 32 keys").into());
        }
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self
            .app
            .press_keys(&meta, &call_id, body.keys, Timestamp::now())
            .await?;
        let view = self
            .call_view(
                &caller.tenant,
                &call_id,
                &outcome.state,
                outcome.version.version(),
            )
            .await?;
        Ok(Response::new(pb::PressIvrKeysResponse { call: Some(view) }))
    }

    async fn set_caller_class(
        &self,
        request: Request<pb::SetCallerClassRequest>,
    ) -> Result<Response<pb::SetCallerClassResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin])?;
        let body = request.into_inner();
        let number = phone("number", &body.number)?;
        if pb::CallerClass::try_from(body.class).is_err() {
            return Err(ApiError::invalid_field("class", "unknown caller class").into());
        }
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let class = self
            .app
            .set_caller_class(
                &meta,
                &number,
                caller_class_from_proto(body.class),
                Timestamp::now(),
            )
            .await?;
        Ok(Response::new(pb::SetCallerClassResponse {
            number: number.as_str().to_owned(),
            class: caller_class_to_proto(class).into(),
        }))
    }

    async fn get_caller_class(
        &self,
        request: Request<pb::GetCallerClassRequest>,
    ) -> Result<Response<pb::GetCallerClassResponse>, Status> {
        let caller = principal(&request)?;
        let mut allowed = CALL_REPORTERS.to_vec();
        allowed.extend_from_slice(Role::SUPERVISORS);
        caller.require_any(&allowed)?;
        let body = request.into_inner();
        let number = phone("number", &body.number)?;
        let class = self.app.caller_class(&caller.tenant, &number).await?;
        Ok(Response::new(pb::GetCallerClassResponse {
            number: number.as_str().to_owned(),
            class: caller_class_to_proto(class).into(),
        }))
    }
}
