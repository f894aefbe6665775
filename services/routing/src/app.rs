//! Routing's command handlers: what the gRPC layer and the distributor call.

use std::sync::Arc;

use callcenter_eventlog::EventStore;
use callcenter_kit::{
    Cause, CommandHandler, CommandMeta, Loaded, Name, Outcome, TenantId, Timestamp,
};
use callcenter_platform::ApiError;

use crate::reasons;

use crate::domain::presence::PresenceError;
use crate::domain::{
    Action, ActionKind, Agent, AgentCommand, AgentError, AgentPresence, Case, CaseCommand,
    CaseError, Publish, Queue, QueueCommand, QueueError, QueueRouting,
};
use crate::events::default_seat;

/// Events after which a long-lived aggregate's snapshot is saved again (see
/// `CommandHandler::with_snapshots`).
const SNAPSHOT_EVERY: usize = 100;
/// The routing application: queues and agents.
#[derive(Clone, Debug)]
pub struct Routing {
    agents: CommandHandler<Agent>,
    queues: CommandHandler<Queue>,
    cases: CommandHandler<Case>,
    presences: CommandHandler<AgentPresence>,
}

impl From<PresenceError> for ApiError {
    fn from(error: PresenceError) -> Self {
        match error {}
    }
}

impl From<CaseError> for ApiError {
    fn from(error: CaseError) -> Self {
        let message = error.to_string();
        match error {
            CaseError::NotFound => ApiError::new(reasons::CASE_NOT_FOUND, message),
            CaseError::Closed => ApiError::new(reasons::CASE_CLOSED, message),
            CaseError::OtherCaller { caller_number } => {
                ApiError::new(reasons::CASE_OF_ANOTHER_CALLER, message)
                    .with_metadata("caller_number", caller_number)
            }
        }
    }
}

impl From<AgentError> for ApiError {
    fn from(error: AgentError) -> Self {
        let message = error.to_string();
        match error {
            AgentError::AlreadyExists => ApiError::new(reasons::AGENT_ALREADY_EXISTS, message),
            AgentError::NotFound => ApiError::new(reasons::AGENT_NOT_FOUND, message),
            AgentError::InvalidTransition { presence, action } => {
                ApiError::new(reasons::agent_cannot(action), message)
                    .with_metadata("presence", presence)
            }
            AgentError::TooManyChats => ApiError::invalid_field("chat_capacity", message),
            AgentError::InvalidProficiency { skill } => {
                ApiError::invalid_field(format!("skills.{skill}"), message)
            }
            AgentError::NotInQueue { queue_id } => {
                ApiError::new(reasons::AGENT_NOT_IN_QUEUE, message)
                    .with_metadata("queue_id", queue_id.as_str())
            }
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        let message = error.to_string();
        match error {
            QueueError::AlreadyExists => ApiError::new(reasons::QUEUE_ALREADY_EXISTS, message),
            QueueError::NotFound => ApiError::new(reasons::QUEUE_NOT_FOUND, message),
            QueueError::InvalidRouting(reason) => ApiError::invalid_field("routing", reason),
        }
    }
}

/// A new queue's definition.
#[derive(Clone, Debug)]
pub struct NewQueue {
    /// Name for people.
    pub display_name: String,
    /// The center.
    pub center_id: Name,
    /// After-call work allowed after its calls, in seconds (0: none).
    pub after_call_work_seconds: u32,
    /// The routing domain (`None`: the tenant's default).
    pub routing_domain: Option<Name>,
}

/// A new agent's profile.
#[derive(Clone, Debug)]
pub struct NewAgent {
    /// Name for people.
    pub display_name: String,
    /// Home center.
    pub center_id: Name,
    /// Queues served.
    pub queue_ids: Vec<Name>,
    /// The routing domain (`None`: the tenant's default).
    pub routing_domain: Option<Name>,
}

/// How people read a routing domain.
fn domain_label(domain: Option<&Name>) -> String {
    domain.map_or_else(
        || "the default routing domain".to_owned(),
        |d| format!("routing domain {d}"),
    )
}

impl Routing {
    /// The application on an event log.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            agents: CommandHandler::new(Arc::clone(&store)).with_snapshots(1, SNAPSHOT_EVERY),
            queues: CommandHandler::new(Arc::clone(&store)).with_snapshots(1, SNAPSHOT_EVERY),
            cases: CommandHandler::new(Arc::clone(&store)),
            presences: CommandHandler::new(store),
        }
    }

    /// Defines a queue in a center, with its after-call work limit.
    pub async fn create_queue(
        &self,
        meta: &CommandMeta,
        queue_id: &Name,
        queue: NewQueue,
        at: Timestamp,
    ) -> Result<Outcome<Queue>, ApiError> {
        let command = QueueCommand::Create {
            display_name: queue.display_name,
            center_id: queue.center_id,
            after_call_work_seconds: queue.after_call_work_seconds,
            routing_domain: queue.routing_domain,
            at,
        };
        Ok(self.queues.handle(meta, queue_id, &command).await?)
    }

    /// Sets how a queue's calls are routed, after checking the rules and that every overflow
    /// queue exists.
    pub async fn set_queue_routing(
        &self,
        meta: &CommandMeta,
        queue_id: &Name,
        routing: QueueRouting,
        at: Timestamp,
    ) -> Result<Outcome<Queue>, ApiError> {
        if let Some(problem) = routing.problem(queue_id) {
            return Err(QueueError::InvalidRouting(problem).into());
        }
        let queue = self.queues.load(&meta.tenant, queue_id).await?;
        let domain = queue
            .state
            .definition
            .as_ref()
            .and_then(|definition| definition.routing_domain.as_ref());
        for step in &routing.overflow {
            let overflow = self.queues.load(&meta.tenant, &step.queue_id).await?;
            let Some(overflow) = overflow.state.definition else {
                return Err(QueueError::InvalidRouting(format!(
                    "overflow: no queue {}",
                    step.queue_id
                ))
                .into());
            };
            if queue.state.definition.is_some() && overflow.routing_domain.as_ref() != domain {
                return Err(QueueError::InvalidRouting(format!(
                    "overflow: queue {} is in {}, not {} (overflow stays within a routing domain)",
                    step.queue_id,
                    domain_label(overflow.routing_domain.as_ref()),
                    domain_label(domain),
                ))
                .into());
            }
        }
        if let Some(exit) = &routing.max_wait_queue_id
            && self
                .queues
                .load(&meta.tenant, exit)
                .await?
                .state
                .definition
                .is_none()
        {
            return Err(
                QueueError::InvalidRouting(format!("max_wait_queue_id: no queue {exit}")).into(),
            );
        }
        let command = QueueCommand::SetRouting { routing, at };
        Ok(self.queues.handle(meta, queue_id, &command).await?)
    }

    /// Defines an agent.
    pub async fn create_agent(
        &self,
        meta: &CommandMeta,
        agent_id: &Name,
        agent: NewAgent,
        at: Timestamp,
    ) -> Result<Outcome<Agent>, ApiError> {
        self.check_queues_in_domain(
            &meta.tenant,
            &agent.queue_ids,
            agent.routing_domain.as_ref(),
        )
        .await?;
        let command = AgentCommand::Create {
            display_name: agent.display_name,
            center_id: agent.center_id,
            queue_ids: agent.queue_ids,
            routing_domain: agent.routing_domain,
            at,
        };
        Ok(self.agents.handle(meta, agent_id, &command).await?)
    }

    /// Moves a logged-out agent to another routing domain, which must hold the queues they serve.
    pub async fn move_agent_to_routing_domain(
        &self,
        meta: &CommandMeta,
        agent_id: &Name,
        routing_domain: Option<Name>,
        at: Timestamp,
    ) -> Result<Outcome<Agent>, ApiError> {
        let agent = self.get_agent(&meta.tenant, agent_id).await?;
        let queue_ids = agent
            .state
            .profile
            .map(|profile| profile.queue_ids)
            .unwrap_or_default();
        self.check_queues_in_domain(&meta.tenant, &queue_ids, routing_domain.as_ref())
            .await?;
        let command = AgentCommand::MoveToRoutingDomain { routing_domain, at };
        Ok(self.agents.handle(meta, agent_id, &command).await?)
    }

    /// Refuses queues (of those that exist) outside `domain`: an agent serves only queues of
    /// their own routing domain, since each domain is routed on its own.
    async fn check_queues_in_domain(
        &self,
        tenant: &TenantId,
        queue_ids: &[Name],
        domain: Option<&Name>,
    ) -> Result<(), ApiError> {
        for queue_id in queue_ids {
            let queue = self.queues.load(tenant, queue_id).await?;
            if let Some(definition) = queue.state.definition
                && definition.routing_domain.as_ref() != domain
            {
                return Err(ApiError::new(
                    reasons::QUEUE_IN_OTHER_ROUTING_DOMAIN,
                    format!(
                        "queue {queue_id} is in {}, the agent in {}",
                        domain_label(definition.routing_domain.as_ref()),
                        domain_label(domain)
                    ),
                )
                .with_metadata("queue_id", queue_id.as_str()));
            }
        }
        Ok(())
    }

    /// Changes an agent's presence (login, ready, not ready, logout) on request. A login from
    /// another seat is recorded and then refused with `AGENT_LOGGED_IN_ELSEWHERE`.
    pub async fn agent_command(
        &self,
        meta: &CommandMeta,
        agent_id: &Name,
        command: AgentCommand,
    ) -> Result<Outcome<Agent>, ApiError> {
        let outcome = self.agents.handle(meta, agent_id, &command).await?;
        if let AgentCommand::Login { seat, .. } = &command
            && outcome.state.seat.as_ref() != Some(seat)
        {
            let signed_in_at = outcome.state.seat.clone().unwrap_or_else(default_seat);
            return Err(ApiError::new(
                reasons::AGENT_LOGGED_IN_ELSEWHERE,
                format!("agent {agent_id} is signed in at another seat; the attempt is recorded"),
            )
            .with_metadata("seat", signed_in_at.as_str()));
        }
        Ok(outcome)
    }

    /// After-call work allowed after a call from `queue_id`, in seconds (0 for an unknown queue).
    async fn after_call_work_seconds(
        &self,
        tenant: &TenantId,
        queue_id: &Name,
    ) -> Result<u32, ApiError> {
        Ok(self
            .queues
            .load(tenant, queue_id)
            .await?
            .state
            .definition
            .map_or(0, |definition| definition.after_call_work_seconds))
    }

    /// Opens a caller's case owned by an existing agent, or hands it to another owner.
    pub async fn set_case_owner(
        &self,
        meta: &CommandMeta,
        case_id: &Name,
        caller_number: String,
        owner_agent_id: Name,
        at: Timestamp,
    ) -> Result<Outcome<Case>, ApiError> {
        self.get_agent(&meta.tenant, &owner_agent_id).await?;
        let command = CaseCommand::SetOwner {
            caller_number,
            owner_agent_id,
            at,
        };
        Ok(self.cases.handle(meta, case_id, &command).await?)
    }

    /// Closes a case.
    pub async fn close_case(
        &self,
        meta: &CommandMeta,
        case_id: &Name,
        at: Timestamp,
    ) -> Result<Outcome<Case>, ApiError> {
        let command = CaseCommand::Close { at };
        Ok(self.cases.handle(meta, case_id, &command).await?)
    }

    /// One case of a tenant; `NOT_FOUND` if it was never opened (for this tenant).
    pub async fn get_case(
        &self,
        tenant: &TenantId,
        case_id: &Name,
    ) -> Result<Loaded<Case>, ApiError> {
        let loaded = self.cases.load(tenant, case_id).await?;
        if loaded.state.opened.is_none() {
            return Err(CaseError::NotFound.into());
        }
        Ok(loaded)
    }

    /// One agent of a tenant; `NOT_FOUND` if it does not exist (for this tenant).
    pub async fn get_agent(
        &self,
        tenant: &TenantId,
        agent_id: &Name,
    ) -> Result<Loaded<Agent>, ApiError> {
        let loaded = self.agents.load(tenant, agent_id).await?;
        if !loaded.exists() {
            return Err(ApiError::not_found(
                reasons::AGENT_NOT_FOUND,
                "agent_id",
                agent_id.as_str(),
            ));
        }
        Ok(loaded)
    }

    /// The agent as it was at `version` (for the presence publisher, which follows behind).
    pub async fn agent_at(
        &self,
        tenant: &TenantId,
        agent_id: &Name,
        version: u64,
    ) -> Result<Agent, ApiError> {
        Ok(self.agents.load_at(tenant, agent_id, version).await?)
    }

    /// Publishes an agent's presence (the fact other contexts read), if it is news.
    pub async fn publish_presence(
        &self,
        meta: &CommandMeta,
        agent_id: &Name,
        publish: &Publish,
    ) -> Result<(), ApiError> {
        self.presences.handle(meta, agent_id, publish).await?;
        Ok(())
    }

    /// Carries out one of the router's decisions.
    /// With the cause (the call's last event), the command joins its correlation.
    pub async fn act(
        &self,
        action: &Action,
        at: Timestamp,
        cause: Option<&Cause>,
    ) -> Result<Outcome<Agent>, ApiError> {
        let meta = match cause {
            Some(cause) => cause.meta(action.tenant.clone(), "router", action.request_id()),
            None => CommandMeta::system(action.tenant.clone(), "router", action.request_id()),
        };
        let command = match &action.kind {
            ActionKind::Reserve {
                call_id,
                queue_id,
                directed,
                why,
            } => AgentCommand::Reserve {
                call_id: call_id.clone(),
                queue_id: queue_id.clone(),
                directed: *directed,
                why: why.clone(),
                at,
            },
            ActionKind::Release { call_id, missed } => AgentCommand::Release {
                call_id: call_id.clone(),
                missed: *missed,
                at,
            },
            ActionKind::StartCall { call_id } => AgentCommand::StartCall {
                call_id: call_id.clone(),
                at,
            },
            ActionKind::EndCall { call_id, queue_id } => AgentCommand::EndCall {
                call_id: call_id.clone(),
                after_call_work_seconds: self
                    .after_call_work_seconds(&action.tenant, queue_id)
                    .await?,
                at,
            },
            ActionKind::ExpireAfterCallWork { call_id } => AgentCommand::ExpireAfterCallWork {
                call_id: call_id.clone(),
                at,
            },
        };
        // A reservation is a choice made on the router's view of the agent: refused if the
        // agent has moved on since (a stale view). The others carry out what happened to the
        // call, whatever else the agent did meanwhile.
        let (agents, agent_id) = (&self.agents, &action.agent_id);
        Ok(match &action.kind {
            ActionKind::Reserve { .. } => {
                agents
                    .handle_on(action.agent_version, &meta, agent_id, &command)
                    .await?
            }
            _ => agents.handle(&meta, agent_id, &command).await?,
        })
    }
}
