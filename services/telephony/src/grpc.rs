//! The gRPC face of telephony: validates requests, checks roles, maps proto ↔ domain.

use callcenter_eventlog::to_proto_timestamp;
use callcenter_kit::{Loaded, Name, Timestamp};
use callcenter_platform::validate;
use callcenter_platform::{ApiError, Principal, Role, principal};
use callcenter_proto::telephony::v1 as pb;
use pb::telephony_service_server::{TelephonyService, TelephonyServiceServer};
use tonic::{Request, Response, Status};

use crate::app::{NewCall, Telephony};
use crate::domain::{Call, CallCommand, CallState, PhoneNumber};
use crate::events::party_from_proto;

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

/// Who may answer or end a call as `agent_id`: that agent, a supervisor, or a reporting system.
fn may_act_as_agent(caller: &Principal, agent_id: &Name) -> Result<(), ApiError> {
    if caller.has_any(&[Role::Agent]) && caller.subject == agent_id.as_str() {
        return Ok(());
    }
    let mut allowed = CALL_REPORTERS.to_vec();
    allowed.extend_from_slice(Role::SUPERVISORS);
    caller.require_any(&allowed)
}

fn phone(field: &str, value: &str) -> Result<PhoneNumber, ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid_field(field, "is required"));
    }
    PhoneNumber::parse(value).map_err(|reason| ApiError::invalid_field(field, reason))
}

fn call_to_proto(call_id: &Name, loaded: &Loaded<Call>) -> pb::Call {
    let call = &loaded.state;
    let state = match call.state {
        CallState::Unknown => pb::CallState::Unspecified,
        CallState::Queued => pb::CallState::Queued,
        CallState::Ringing { .. } => pb::CallState::Ringing,
        CallState::Answered { .. } => pb::CallState::Answered,
        CallState::Ended => pb::CallState::Ended,
        CallState::Abandoned => pb::CallState::Abandoned,
    };
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    pb::Call {
        call_id: call_id.to_string(),
        state: state.into(),
        caller_number: text(call.caller_number.as_ref().map(PhoneNumber::as_str)),
        dialled_number: text(call.dialled_number.as_ref().map(PhoneNumber::as_str)),
        queue_id: text(call.queue_id.as_ref().map(Name::as_str)),
        agent_id: text(call.agent_id.as_ref().map(Name::as_str)),
        offered_at: call.offered_at.map(to_proto_timestamp),
        answered_at: call.answered_at.map(to_proto_timestamp),
        ended_at: call.ended_at.map(to_proto_timestamp),
        version: loaded.version.version(),
    }
}

fn loaded<A: callcenter_kit::Aggregate>(outcome: callcenter_kit::Outcome<A>) -> Loaded<A> {
    Loaded {
        state: outcome.state,
        version: outcome.version,
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
            at: Timestamp::now(),
        };
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let (call_id, outcome) = self.app.report_call(&meta, new_call).await?;
        Ok(Response::new(pb::ReportCallResponse {
            call: Some(call_to_proto(&call_id, &loaded(outcome))),
        }))
    }

    async fn answer_call(
        &self,
        request: Request<pb::AnswerCallRequest>,
    ) -> Result<Response<pb::AnswerCallResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let agent_id = validate::required_id("agent_id", &body.agent_id)?;
        may_act_as_agent(&caller, &agent_id)?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let command = CallCommand::Answer {
            agent_id,
            at: Timestamp::now(),
        };
        let outcome = self.app.handle_call(&meta, &call_id, &command).await?;
        Ok(Response::new(pb::AnswerCallResponse {
            call: Some(call_to_proto(&call_id, &loaded(outcome))),
        }))
    }

    async fn end_call(
        &self,
        request: Request<pb::EndCallRequest>,
    ) -> Result<Response<pb::EndCallResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let call_id = validate::required_id("call_id", &body.call_id)?;
        let current = self.app.get_call(&caller.tenant, &call_id).await?;
        match &current.state.agent_id {
            Some(agent_id) => may_act_as_agent(&caller, agent_id)?,
            None => caller.require_any(CALL_REPORTERS)?,
        }
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let command = CallCommand::End {
            ended_by: party_from_proto(body.ended_by),
            at: Timestamp::now(),
        };
        let outcome = self.app.handle_call(&meta, &call_id, &command).await?;
        Ok(Response::new(pb::EndCallResponse {
            call: Some(call_to_proto(&call_id, &loaded(outcome))),
        }))
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
            at: Timestamp::now(),
        };
        let outcome = self.app.handle_call(&meta, &call_id, &command).await?;
        Ok(Response::new(pb::AbandonCallResponse {
            call: Some(call_to_proto(&call_id, &loaded(outcome))),
        }))
    }

    async fn get_call(
        &self,
        request: Request<pb::GetCallRequest>,
    ) -> Result<Response<pb::GetCallResponse>, Status> {
        let caller = principal(&request)?;
        let call_id = validate::required_id("call_id", &request.get_ref().call_id)?;
        let mut allowed = vec![Role::Agent];
        allowed.extend_from_slice(CALL_REPORTERS);
        allowed.extend_from_slice(Role::SUPERVISORS);
        caller.require_any(&allowed)?;
        let current = self.app.get_call(&caller.tenant, &call_id).await?;
        Ok(Response::new(pb::GetCallResponse {
            call: Some(call_to_proto(&call_id, &current)),
        }))
    }

    async fn assign_number(
        &self,
        request: Request<pb::AssignNumberRequest>,
    ) -> Result<Response<pb::AssignNumberResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin])?;
        let body = request.into_inner();
        let number = phone("number", &body.number)?;
        let queue_id = validate::required_id("queue_id", &body.queue_id)?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        self.app
            .assign_number(&meta, &number, queue_id.clone(), Timestamp::now())
            .await?;
        Ok(Response::new(pb::AssignNumberResponse {
            number: number.as_str().to_owned(),
            queue_id: queue_id.to_string(),
        }))
    }
}
