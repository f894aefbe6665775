//! The gRPC face of routing: validates requests, checks roles, maps proto ↔ domain.

use callcenter_kit::{Loaded, Name, Timestamp};
use callcenter_platform::validate;
use callcenter_platform::{ApiError, Principal, Role, principal};
use callcenter_proto::routing::v1 as pb;
use pb::routing_service_server::{RoutingService, RoutingServiceServer};
use tonic::{Request, Response, Status};

use crate::api::{routing_from_api, routing_to_api};
use crate::app::{NewAgent, NewQueue, Routing};
use crate::domain::agent::MAX_CHATS;
use crate::domain::{Agent, AgentCommand, MAX_AFTER_CALL_WORK_SECONDS, NotReadyReason, Presence};
use crate::events::{
    default_seat, domain_to_proto, not_ready_reason_from_proto, not_ready_reason_to_proto,
    skills_from_proto, skills_to_proto,
};

/// The tonic service.
#[derive(Clone, Debug)]
pub struct RoutingGrpc {
    app: Routing,
}

impl RoutingGrpc {
    /// The gRPC server of `app`.
    pub fn server(app: Routing) -> RoutingServiceServer<Self> {
        RoutingServiceServer::new(Self { app })
    }
}

/// The agent themself, a supervisor or the tenant's admin.
fn may_act_for_agent(caller: &Principal, agent_id: &Name) -> Result<(), ApiError> {
    if caller.has_any(&[Role::Agent]) && caller.subject == agent_id.as_str() {
        return Ok(());
    }
    caller.require_any(Role::SUPERVISORS)
}

fn agent_to_proto(agent_id: &Name, loaded: &Loaded<Agent>) -> pb::Agent {
    let agent = &loaded.state;
    let (state, call_id) = match &agent.presence {
        Presence::LoggedOut => (pb::AgentState::LoggedOut, None),
        Presence::NotReady { .. } => (pb::AgentState::NotReady, None),
        Presence::Ready { .. } => (pb::AgentState::Ready, None),
        Presence::Reserved { call_id, .. } => (pb::AgentState::Reserved, Some(call_id)),
        Presence::OnCall { call_id, .. } => (pb::AgentState::OnCall, Some(call_id)),
        Presence::AfterCallWork { call_id, .. } => (pb::AgentState::AfterCallWork, Some(call_id)),
    };
    let not_ready_reason = match agent.presence {
        Presence::NotReady {
            reason: Some(reason),
        } => not_ready_reason_to_proto(reason),
        _ => pb::NotReadyReason::Unspecified,
    };
    let profile = agent.profile.as_ref();
    pb::Agent {
        agent_id: agent_id.to_string(),
        display_name: profile.map(|p| p.display_name.clone()).unwrap_or_default(),
        center_id: profile.map(|p| p.center_id.to_string()).unwrap_or_default(),
        queue_ids: profile
            .map(|p| p.queue_ids.iter().map(Name::to_string).collect())
            .unwrap_or_default(),
        state: state.into(),
        call_id: call_id.map(Name::to_string).unwrap_or_default(),
        version: loaded.version.version(),
        not_ready_reason: not_ready_reason.into(),
        seat: agent.seat.as_ref().map(Name::to_string).unwrap_or_default(),
        after_call_work_overruns: agent.after_call_work_overruns,
        refused_logins: agent.refused_logins,
        skills: profile
            .map(|p| skills_to_proto(&p.skills))
            .unwrap_or_default(),
        chat_capacity: profile.map_or(0, |p| u32::from(p.chat_capacity)),
        routing_domain: domain_to_proto(agent.routing_domain()),
    }
}

/// The API view of a case.
fn case_to_proto(case_id: &Name, loaded: &Loaded<crate::domain::Case>) -> pb::CustomerCase {
    let opened = loaded.state.opened.as_ref();
    pb::CustomerCase {
        case_id: case_id.to_string(),
        caller_number: opened
            .map(|case| case.caller_number.clone())
            .unwrap_or_default(),
        owner_agent_id: opened
            .map(|case| case.owner_agent_id.to_string())
            .unwrap_or_default(),
        closed: loaded.state.closed,
        version: loaded.version.version(),
    }
}

/// Who may track cases: supervisors, the tenant's admin, partners (a CRM), and an agent for
/// cases they own themself (`owner`, when given).
fn may_track_cases(caller: &Principal, owner: Option<&Name>) -> Result<(), ApiError> {
    if let Some(owner) = owner
        && caller.has_any(&[Role::Agent])
        && caller.subject == owner.as_str()
    {
        return Ok(());
    }
    if caller.has_any(&[Role::Partner]) {
        return Ok(());
    }
    caller.require_any(Role::SUPERVISORS)
}

/// The API view of a queue as stored.
fn queue_to_proto(queue_id: &Name, queue: crate::domain::Queue) -> Result<pb::Queue, ApiError> {
    let definition = queue
        .definition
        .ok_or_else(|| ApiError::internal("a stored queue has a definition"))?;
    Ok(pb::Queue {
        queue_id: queue_id.to_string(),
        display_name: definition.display_name,
        center_id: definition.center_id.to_string(),
        after_call_work_seconds: definition.after_call_work_seconds,
        routing: Some(routing_to_api(&definition.routing)),
        routing_domain: domain_to_proto(definition.routing_domain.as_ref()),
    })
}

impl RoutingGrpc {
    async fn presence_change(
        &self,
        caller: &Principal,
        agent_id: &str,
        request_id: &str,
        command: AgentCommand,
    ) -> Result<pb::Agent, ApiError> {
        let agent_id = validate::required_id("agent_id", agent_id)?;
        may_act_for_agent(caller, &agent_id)?;
        let meta = caller.command_meta(validate::request_id(request_id)?);
        let outcome = self.app.agent_command(&meta, &agent_id, command).await?;
        Ok(agent_to_proto(&agent_id, &outcome.into_loaded()))
    }
}

#[tonic::async_trait]
impl RoutingService for RoutingGrpc {
    async fn create_queue(
        &self,
        request: Request<pb::CreateQueueRequest>,
    ) -> Result<Response<pb::CreateQueueResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin])?;
        let body = request.into_inner();
        let queue_id = validate::required_id("queue_id", &body.queue_id)?;
        let display_name = validate::text("display_name", &body.display_name, 200)?;
        let center_id = validate::required_id("center_id", &body.center_id)?;
        if body.after_call_work_seconds > MAX_AFTER_CALL_WORK_SECONDS {
            return Err(ApiError::invalid_field(
                "after_call_work_seconds",
                format!("0 to {MAX_AFTER_CALL_WORK_SECONDS}"),
            )
            .into());
        }
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let queue = NewQueue {
            display_name: display_name.clone(),
            center_id: center_id.clone(),
            after_call_work_seconds: body.after_call_work_seconds,
            routing_domain: validate::optional_id("routing_domain", &body.routing_domain)?,
        };
        let outcome = self
            .app
            .create_queue(&meta, &queue_id, queue, Timestamp::now())
            .await?;
        Ok(Response::new(pb::CreateQueueResponse {
            queue: Some(queue_to_proto(&queue_id, outcome.state)?),
        }))
    }

    async fn set_queue_routing(
        &self,
        request: Request<pb::SetQueueRoutingRequest>,
    ) -> Result<Response<pb::SetQueueRoutingResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin])?;
        let body = request.into_inner();
        let queue_id = validate::required_id("queue_id", &body.queue_id)?;
        let routing = routing_from_api(&body.routing.unwrap_or_default())
            .map_err(|(field, reason)| ApiError::invalid_field(field, reason))?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self
            .app
            .set_queue_routing(&meta, &queue_id, routing, Timestamp::now())
            .await?;
        Ok(Response::new(pb::SetQueueRoutingResponse {
            queue: Some(queue_to_proto(&queue_id, outcome.state)?),
        }))
    }

    async fn set_agent_skills(
        &self,
        request: Request<pb::SetAgentSkillsRequest>,
    ) -> Result<Response<pb::SetAgentSkillsResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin])?;
        let body = request.into_inner();
        let agent_id = validate::required_id("agent_id", &body.agent_id)?;
        let skills = skills_from_proto(&body.skills)
            .map_err(|(field, reason)| ApiError::invalid_field(field, reason))?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let command = AgentCommand::SetSkills {
            skills,
            at: Timestamp::now(),
        };
        let outcome = self.app.agent_command(&meta, &agent_id, command).await?;
        Ok(Response::new(pb::SetAgentSkillsResponse {
            agent: Some(agent_to_proto(&agent_id, &outcome.into_loaded())),
        }))
    }

    async fn create_agent(
        &self,
        request: Request<pb::CreateAgentRequest>,
    ) -> Result<Response<pb::CreateAgentResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin])?;
        let body = request.into_inner();
        let agent_id = validate::required_id("agent_id", &body.agent_id)?;
        let agent = NewAgent {
            display_name: validate::text("display_name", &body.display_name, 200)?,
            center_id: validate::required_id("center_id", &body.center_id)?,
            queue_ids: validate::ids("queue_ids", &body.queue_ids)?,
            routing_domain: validate::optional_id("routing_domain", &body.routing_domain)?,
        };
        let chats = u8::try_from(body.chat_capacity)
            .ok()
            .filter(|chats| *chats <= MAX_CHATS)
            .ok_or_else(|| ApiError::invalid_field("chat_capacity", "0 to 10"))?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let mut outcome = self
            .app
            .create_agent(&meta, &agent_id, agent, Timestamp::now())
            .await?;
        if chats > 0 {
            let chats_meta = callcenter_kit::CommandMeta {
                request_id: meta.request_id.as_ref().map(|id| format!("{id}.chats")),
                ..meta.clone()
            };
            let command = AgentCommand::SetChatCapacity {
                chats,
                at: Timestamp::now(),
            };
            outcome = self
                .app
                .agent_command(&chats_meta, &agent_id, command)
                .await?;
        }
        Ok(Response::new(pb::CreateAgentResponse {
            agent: Some(agent_to_proto(&agent_id, &outcome.into_loaded())),
        }))
    }

    async fn login_agent(
        &self,
        request: Request<pb::LoginAgentRequest>,
    ) -> Result<Response<pb::LoginAgentResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let command = AgentCommand::Login {
            seat: validate::optional_id("seat", &body.seat)?.unwrap_or_else(default_seat),
            at: Timestamp::now(),
        };
        let agent = self
            .presence_change(&caller, &body.agent_id, &body.request_id, command)
            .await?;
        Ok(Response::new(pb::LoginAgentResponse { agent: Some(agent) }))
    }

    async fn set_agent_ready(
        &self,
        request: Request<pb::SetAgentReadyRequest>,
    ) -> Result<Response<pb::SetAgentReadyResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let command = AgentCommand::SetReady {
            at: Timestamp::now(),
        };
        let agent = self
            .presence_change(&caller, &body.agent_id, &body.request_id, command)
            .await?;
        Ok(Response::new(pb::SetAgentReadyResponse {
            agent: Some(agent),
        }))
    }

    async fn set_agent_not_ready(
        &self,
        request: Request<pb::SetAgentNotReadyRequest>,
    ) -> Result<Response<pb::SetAgentNotReadyResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let reason = not_ready_reason_from_proto(body.reason)
            .filter(|reason| *reason != NotReadyReason::Missed)
            .ok_or_else(|| {
                ApiError::invalid_field("reason", "break, lunch, training, meeting or coaching")
            })?;
        let command = AgentCommand::SetNotReady {
            reason,
            at: Timestamp::now(),
        };
        let agent = self
            .presence_change(&caller, &body.agent_id, &body.request_id, command)
            .await?;
        Ok(Response::new(pb::SetAgentNotReadyResponse {
            agent: Some(agent),
        }))
    }

    async fn logout_agent(
        &self,
        request: Request<pb::LogoutAgentRequest>,
    ) -> Result<Response<pb::LogoutAgentResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let command = AgentCommand::Logout {
            at: Timestamp::now(),
        };
        let agent = self
            .presence_change(&caller, &body.agent_id, &body.request_id, command)
            .await?;
        Ok(Response::new(pb::LogoutAgentResponse {
            agent: Some(agent),
        }))
    }

    async fn move_agent_to_routing_domain(
        &self,
        request: Request<pb::MoveAgentToRoutingDomainRequest>,
    ) -> Result<Response<pb::MoveAgentToRoutingDomainResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(&[Role::TenantAdmin])?;
        let body = request.into_inner();
        let agent_id = validate::required_id("agent_id", &body.agent_id)?;
        let routing_domain = validate::optional_id("routing_domain", &body.routing_domain)?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self
            .app
            .move_agent_to_routing_domain(&meta, &agent_id, routing_domain, Timestamp::now())
            .await?;
        Ok(Response::new(pb::MoveAgentToRoutingDomainResponse {
            agent: Some(agent_to_proto(&agent_id, &outcome.into_loaded())),
        }))
    }

    async fn set_case_owner(
        &self,
        request: Request<pb::SetCaseOwnerRequest>,
    ) -> Result<Response<pb::SetCaseOwnerResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let case_id = validate::required_id("case_id", &body.case_id)?;
        let caller_number = validate::phone_number("caller_number", &body.caller_number)?;
        let owner = validate::required_id("owner_agent_id", &body.owner_agent_id)?;
        may_track_cases(&caller, Some(&owner))?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self
            .app
            .set_case_owner(&meta, &case_id, caller_number, owner, Timestamp::now())
            .await?;
        Ok(Response::new(pb::SetCaseOwnerResponse {
            case: Some(case_to_proto(&case_id, &outcome.into_loaded())),
        }))
    }

    async fn close_case(
        &self,
        request: Request<pb::CloseCaseRequest>,
    ) -> Result<Response<pb::CloseCaseResponse>, Status> {
        let caller = principal(&request)?;
        let body = request.into_inner();
        let case_id = validate::required_id("case_id", &body.case_id)?;
        let case = self.app.get_case(&caller.tenant, &case_id).await?;
        let owner = case.state.opened.map(|case| case.owner_agent_id);
        may_track_cases(&caller, owner.as_ref())?;
        let meta = caller.command_meta(validate::request_id(&body.request_id)?);
        let outcome = self
            .app
            .close_case(&meta, &case_id, Timestamp::now())
            .await?;
        Ok(Response::new(pb::CloseCaseResponse {
            case: Some(case_to_proto(&case_id, &outcome.into_loaded())),
        }))
    }

    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::GetCaseResponse>, Status> {
        let caller = principal(&request)?;
        let case_id = validate::required_id("case_id", &request.get_ref().case_id)?;
        let case = self.app.get_case(&caller.tenant, &case_id).await?;
        let owner = case.state.opened.as_ref().map(|case| &case.owner_agent_id);
        may_track_cases(&caller, owner)?;
        Ok(Response::new(pb::GetCaseResponse {
            case: Some(case_to_proto(&case_id, &case)),
        }))
    }

    async fn get_agent(
        &self,
        request: Request<pb::GetAgentRequest>,
    ) -> Result<Response<pb::GetAgentResponse>, Status> {
        let caller = principal(&request)?;
        let agent_id = validate::required_id("agent_id", &request.get_ref().agent_id)?;
        may_act_for_agent(&caller, &agent_id)?;
        let loaded = self.app.get_agent(&caller.tenant, &agent_id).await?;
        Ok(Response::new(pb::GetAgentResponse {
            agent: Some(agent_to_proto(&agent_id, &loaded)),
        }))
    }
}
