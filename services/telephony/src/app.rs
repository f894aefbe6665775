//! Telephony's command handlers: what the gRPC layer and the reactors call.

use std::collections::BTreeSet;
use std::sync::Arc;

use callcenter_eventlog::{EventStore, StreamKey};
use callcenter_kit::{
    CommandHandler, CommandMeta, Loaded, Name, Outcome, TenantId, Timestamp, platform_tenant,
};
use callcenter_platform::ApiError;

use crate::reasons;

use crate::domain::{
    Call, CallAction, CallCommand, CallError, Caller, CallerClass, CallerCommand, CallerError,
    Entry, IvrMenu, IvrMenuCommand, IvrMenuError, IvrMenuProblem, IvrMenuVersions, MenuRef, Number,
    NumberClaim, NumberClaimCommand, NumberClaimError, NumberCommand, NumberError, NumberRoute,
    OutboundPolicy, OutboundPolicyCommand, OutboundPolicyError, OutboundPurpose, OutboundRefusal,
    PartnerEvent, PhoneNumber, PinnedMenu, Priority, ReportedCall, ReportedCallCommand,
    ReportedCallError,
};

/// The telephony application: calls and dialled numbers.
#[derive(Clone, Debug)]
pub struct Telephony {
    calls: CommandHandler<Call>,
    numbers: CommandHandler<Number>,
    number_claims: CommandHandler<NumberClaim>,
    reported_calls: CommandHandler<ReportedCall>,
    outbound_policies: CommandHandler<OutboundPolicy>,
    menus: CommandHandler<IvrMenuVersions>,
    callers: CommandHandler<Caller>,
    store: Arc<dyn EventStore>,
}

/// A new outbound call.
#[derive(Clone, Debug)]
pub struct NewOutboundCall {
    /// The id to use, or `None` to generate one.
    pub call_id: Option<Name>,
    /// The customer.
    pub customer_number: PhoneNumber,
    /// The number the customer sees.
    pub caller_id: PhoneNumber,
    /// Why.
    pub purpose: OutboundPurpose,
    /// The agent who calls.
    pub agent_id: Name,
    /// The queue (campaign) it is counted in.
    pub queue_id: Name,
    /// When.
    pub at: Timestamp,
}

/// The one outbound policy of each tenant.
fn policy_id() -> Name {
    Name::new("default").expect("valid name")
}

/// A fresh call id.
pub(crate) fn new_call_id() -> Name {
    Name::new(uuid::Uuid::now_v7().simple().to_string()).expect("a uuid is a valid name")
}

/// A new inbound call.
#[derive(Clone, Debug)]
pub struct NewCall {
    /// The id to use, or `None` to generate one.
    pub call_id: Option<Name>,
    /// Who calls.
    pub caller_number: PhoneNumber,
    /// What they dialled.
    pub dialled_number: PhoneNumber,
    /// A queue that overrides the dialled number's.
    pub queue_id: Option<Name>,
    /// How urgent it is.
    pub priority: Priority,
    /// When it arrived.
    pub at: Timestamp,
}

impl From<CallError> for ApiError {
    fn from(error: CallError) -> Self {
        let message = error.to_string();
        match error {
            CallError::AlreadyExists => ApiError::new(reasons::CALL_ALREADY_EXISTS, message),
            CallError::NotFound => ApiError::new(reasons::CALL_NOT_FOUND, message),
            CallError::InvalidTransition { state, action } => {
                ApiError::new(reasons::call_cannot(action), message).with_metadata("state", state)
            }
            CallError::WrongAgent { expected, .. } => {
                ApiError::new(reasons::CALL_WITH_OTHER_AGENT, message)
                    .with_metadata("agent_id", expected.as_str())
            }
            CallError::SupervisorPresent { present } => {
                ApiError::new(reasons::CALL_ALREADY_SUPERVISED, message)
                    .with_metadata("supervisor_id", present.as_str())
            }
            CallError::TransferToSelf => ApiError::invalid_field("to_agent_id", message),
            CallError::NotOutbound => ApiError::new(reasons::CALL_NOT_OUTBOUND, message),
            CallError::NotInOurMenu => ApiError::new(reasons::CALL_IN_PARTNER_IVR, message),
            CallError::OtherMenuVersion { entered_with } => {
                ApiError::new(reasons::IVR_MENU_VERSION_CHANGED, message)
                    .with_metadata("menu_version", entered_with.to_string())
            }
            CallError::NotAKey { .. } => ApiError::invalid_field("keys", message),
            CallError::BrokenMenu => ApiError::internal(message),
            CallError::DispositionAlreadySet { code } => {
                ApiError::new(reasons::DISPOSITION_ALREADY_SET, message)
                    .with_metadata("code", code.as_str())
            }
        }
    }
}

/// The error for a menu's problems: `INVALID_ARGUMENT`, one field violation each.
pub fn invalid_menu(problems: Vec<IvrMenuProblem>) -> ApiError {
    let count = problems.len();
    problems.into_iter().fold(
        ApiError::new(
            reasons::IVR_MENU_INVALID,
            format!("the menu has {count} problem(s); nothing was saved"),
        ),
        |error, problem| {
            error.and_invalid_field(format!("menu.{}", problem.field), problem.description)
        },
    )
}

impl From<IvrMenuError> for ApiError {
    fn from(error: IvrMenuError) -> Self {
        let message = error.to_string();
        match error {
            IvrMenuError::Invalid(problems) => invalid_menu(problems),
            IvrMenuError::VersionMismatch { current, .. } => {
                ApiError::new(reasons::IVR_MENU_VERSION_MISMATCH, message)
                    .with_metadata("current_version", current.to_string())
            }
        }
    }
}

impl From<CallerError> for ApiError {
    fn from(error: CallerError) -> Self {
        match error {}
    }
}

impl From<NumberError> for ApiError {
    fn from(error: NumberError) -> Self {
        match error {}
    }
}

impl From<NumberClaimError> for ApiError {
    fn from(error: NumberClaimError) -> Self {
        match error {
            NumberClaimError::Taken => ApiError::new(reasons::NUMBER_TAKEN, error.to_string()),
        }
    }
}

impl From<OutboundPolicyError> for ApiError {
    fn from(error: OutboundPolicyError) -> Self {
        match error {
            OutboundPolicyError::InvalidCallingHours(reason) => {
                ApiError::invalid_field("hours", reason)
            }
        }
    }
}

impl From<OutboundRefusal> for ApiError {
    fn from(refusal: OutboundRefusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            OutboundRefusal::DoNotCall { number } => {
                ApiError::new(reasons::DO_NOT_CALL, message).with_metadata("number", number)
            }
            OutboundRefusal::OutsideCallingHours => {
                ApiError::new(reasons::OUTSIDE_CALLING_HOURS, message)
            }
        }
    }
}

impl From<ReportedCallError> for ApiError {
    fn from(error: ReportedCallError) -> Self {
        match error {}
    }
}

impl Telephony {
    /// The application on an event log.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            calls: CommandHandler::new(Arc::clone(&store)).observed(count_call),
            numbers: CommandHandler::new(Arc::clone(&store)),
            number_claims: CommandHandler::new(Arc::clone(&store)),
            reported_calls: CommandHandler::new(Arc::clone(&store)),
            outbound_policies: CommandHandler::new(Arc::clone(&store)),
            menus: CommandHandler::new(Arc::clone(&store)),
            callers: CommandHandler::new(Arc::clone(&store)),
            store,
        }
    }

    /// Records a new call and queues it: in the given queue, or in the dialled number's.
    pub async fn report_call(
        &self,
        meta: &CommandMeta,
        call: NewCall,
    ) -> Result<(Name, Outcome<Call>), ApiError> {
        let route = match call.queue_id {
            Some(queue_id) => NumberRoute::Queue(queue_id),
            None => self
                .numbers
                .load(&meta.tenant, &call.dialled_number.as_id())
                .await?
                .state
                .route
                .ok_or_else(|| {
                    ApiError::new(
                        reasons::NUMBER_NOT_ASSIGNED,
                        format!(
                            "dialled number {} leads to no queue; assign it or give queue_id",
                            call.dialled_number.as_str()
                        ),
                    )
                    .with_metadata("dialled_number", call.dialled_number.as_str())
                })?,
        };
        let entry = match route {
            NumberRoute::Queue(queue_id) => Entry::Queue {
                queue_id,
                priority: call.priority,
            },
            NumberRoute::Menu(menu_id) => {
                let menu = self.latest_menu(&meta.tenant, &menu_id).await?;
                let caller_class = self.caller_class(&meta.tenant, &call.caller_number).await?;
                Entry::Menu { menu, caller_class }
            }
        };
        let call_id = call.call_id.unwrap_or_else(new_call_id);
        let outcome = self
            .calls
            .handle(
                meta,
                &call_id,
                &CallCommand::Offer {
                    caller_number: call.caller_number,
                    dialled_number: call.dialled_number,
                    entry,
                    at: call.at,
                },
            )
            .await?;
        Ok((call_id, outcome))
    }

    /// The newest version of a menu, for a call arriving now.
    async fn latest_menu(&self, tenant: &TenantId, menu_id: &Name) -> Result<PinnedMenu, ApiError> {
        let versions = self.menus.load(tenant, menu_id).await?.state;
        let (version, content) = versions.latest().ok_or_else(|| {
            ApiError::new(
                reasons::IVR_MENU_NOT_SAVED,
                format!("the number leads to menu {menu_id}, which was never saved"),
            )
            .with_metadata("menu_id", menu_id.as_str())
        })?;
        Ok(PinnedMenu {
            menu: MenuRef {
                menu_id: menu_id.clone(),
                version,
            },
            content: Arc::new(content.clone()),
        })
    }

    /// One version of a menu (the newest for `None`); `NOT_FOUND` when it does not exist.
    pub async fn get_menu(
        &self,
        tenant: &TenantId,
        menu_id: &Name,
        version: Option<u64>,
    ) -> Result<(u64, IvrMenu), ApiError> {
        let versions = self.menus.load(tenant, menu_id).await?.state;
        let found = match version {
            None => versions
                .latest()
                .map(|(version, menu)| (version, menu.clone())),
            Some(version) => versions
                .version(version)
                .map(|menu| (version, menu.clone())),
        };
        found.ok_or_else(|| {
            let id = match version {
                Some(version) => format!("{menu_id} version {version}"),
                None => menu_id.to_string(),
            };
            ApiError::not_found(reasons::IVR_MENU_NOT_FOUND, "menu_id", &id)
        })
    }

    /// Checks and saves a new version of a menu; returns the version that now holds it (the
    /// newest one unchanged when the menu is the same).
    pub async fn save_menu(
        &self,
        meta: &CommandMeta,
        menu_id: &Name,
        menu: IvrMenu,
        expected_version: Option<u64>,
        at: Timestamp,
    ) -> Result<u64, ApiError> {
        let existing_queues = self.existing_queues(&meta.tenant, menu.queues()).await?;
        let command = IvrMenuCommand::Publish {
            menu,
            existing_queues,
            expected_version,
            at,
        };
        let outcome = self.menus.handle(meta, menu_id, &command).await?;
        Ok(outcome.state.versions.len() as u64)
    }

    /// Which of `queues` routing knows for the tenant.
    async fn existing_queues(
        &self,
        tenant: &TenantId,
        queues: BTreeSet<Name>,
    ) -> Result<BTreeSet<Name>, ApiError> {
        let mut existing = BTreeSet::new();
        for queue_id in queues {
            let key = StreamKey {
                tenant: tenant.clone(),
                context: Name::new("routing").expect("valid name"),
                aggregate_type: Name::new("queue").expect("valid name"),
                aggregate_id: queue_id.clone(),
            };
            let stream = self
                .store
                .read_stream(&key, 0)
                .await
                .map_err(|error| ApiError::unavailable(error.to_string()))?;
            if !stream.events.is_empty() {
                existing.insert(queue_id);
            }
        }
        Ok(existing)
    }

    /// How the platform knows a caller.
    pub async fn caller_class(
        &self,
        tenant: &TenantId,
        number: &PhoneNumber,
    ) -> Result<Option<CallerClass>, ApiError> {
        Ok(self
            .callers
            .load(tenant, &number.as_id())
            .await?
            .state
            .class)
    }

    /// Sets (or clears) how the platform knows a caller.
    pub async fn set_caller_class(
        &self,
        meta: &CommandMeta,
        number: &PhoneNumber,
        class: Option<CallerClass>,
        at: Timestamp,
    ) -> Result<Option<CallerClass>, ApiError> {
        let command = CallerCommand::SetClass { class, at };
        Ok(self
            .callers
            .handle(meta, &number.as_id(), &command)
            .await?
            .state
            .class)
    }

    /// The caller of a call in one of our menus pressed keys (empty: no input).
    pub async fn press_keys(
        &self,
        meta: &CommandMeta,
        call_id: &Name,
        keys: String,
        at: Timestamp,
    ) -> Result<Outcome<Call>, ApiError> {
        let call = self.get_call(&meta.tenant, call_id).await?;
        let Some(position) = &call.state.ivr else {
            let error = match call.state.state {
                crate::domain::CallState::InIvr => CallError::NotInOurMenu,
                _ => call.state.refuse(CallAction::TakeKeys),
            };
            return Err(error.into());
        };
        let content = self
            .menus
            .load(&meta.tenant, &position.menu.menu_id)
            .await?
            .state
            .version(position.menu.version)
            .cloned()
            .ok_or_else(|| ApiError::internal("the call's menu version is missing"))?;
        let command = CallCommand::PressKeys {
            keys,
            menu: PinnedMenu {
                menu: position.menu.clone(),
                content: Arc::new(content),
            },
            at,
        };
        self.handle_call(meta, call_id, &command).await
    }

    /// The menu version a call is in, for telling the media server what to play.
    pub async fn menu_of_call(
        &self,
        tenant: &TenantId,
        call: &Call,
    ) -> Result<Option<Arc<IvrMenu>>, ApiError> {
        let Some(position) = &call.ivr else {
            return Ok(None);
        };
        let versions = self.menus.load(tenant, &position.menu.menu_id).await?.state;
        Ok(versions
            .version(position.menu.version)
            .cloned()
            .map(Arc::new))
    }

    /// Applies a lifecycle command (ring, answer, end, abandon) to an existing call.
    pub async fn handle_call(
        &self,
        meta: &CommandMeta,
        call_id: &Name,
        command: &CallCommand,
    ) -> Result<Outcome<Call>, ApiError> {
        Ok(self.calls.handle(meta, call_id, command).await?)
    }

    /// One call of a tenant; `NOT_FOUND` if it does not exist (for this tenant).
    pub async fn get_call(
        &self,
        tenant: &TenantId,
        call_id: &Name,
    ) -> Result<Loaded<Call>, ApiError> {
        let loaded = self.calls.load(tenant, call_id).await?;
        if !loaded.exists() {
            return Err(ApiError::not_found(
                reasons::CALL_NOT_FOUND,
                "call_id",
                call_id.as_str(),
            ));
        }
        Ok(loaded)
    }

    /// Records one event a partner reported about one of its calls; `true` when it was new,
    /// `false` for a duplicate of its event id.
    pub async fn record_partner_event(
        &self,
        meta: &CommandMeta,
        call_id: &Name,
        event: PartnerEvent,
    ) -> Result<bool, ApiError> {
        let outcome = self
            .reported_calls
            .handle(meta, call_id, &ReportedCallCommand::Record(event))
            .await?;
        Ok(!outcome.duplicate && !outcome.new_events.is_empty())
    }

    /// A partner's call; `NOT_FOUND` if nothing was reported about it (for this tenant).
    pub async fn get_reported_call(
        &self,
        tenant: &TenantId,
        call_id: &Name,
    ) -> Result<Loaded<ReportedCall>, ApiError> {
        let loaded = self.reported_calls.load(tenant, call_id).await?;
        if !loaded.exists() {
            return Err(ApiError::not_found(
                reasons::REPORTED_CALL_NOT_FOUND,
                "call_id",
                call_id.as_str(),
            ));
        }
        Ok(loaded)
    }

    /// Starts an agent's call to a customer if the tenant's outbound policy allows it now.
    pub async fn dial_out(
        &self,
        meta: &CommandMeta,
        call: NewOutboundCall,
    ) -> Result<(Name, Outcome<Call>), ApiError> {
        let policy = self.outbound_policy(&meta.tenant).await?;
        policy.permits(&call.customer_number, call.purpose, call.at)?;
        let call_id = call.call_id.unwrap_or_else(new_call_id);
        let command = CallCommand::DialOut {
            customer_number: call.customer_number,
            caller_id: call.caller_id,
            purpose: call.purpose,
            agent_id: call.agent_id,
            queue_id: call.queue_id,
            at: call.at,
        };
        let outcome = self.calls.handle(meta, &call_id, &command).await?;
        Ok((call_id, outcome))
    }

    /// The tenant's outbound policy (empty when never set).
    pub async fn outbound_policy(&self, tenant: &TenantId) -> Result<OutboundPolicy, ApiError> {
        Ok(self
            .outbound_policies
            .load(tenant, &policy_id())
            .await?
            .state)
    }

    /// Changes the tenant's outbound policy.
    pub async fn change_outbound_policy(
        &self,
        meta: &CommandMeta,
        command: &OutboundPolicyCommand,
    ) -> Result<OutboundPolicy, ApiError> {
        Ok(self
            .outbound_policies
            .handle(meta, &policy_id(), command)
            .await?
            .state)
    }

    /// Makes a dialled number lead to a queue or a menu.
    pub async fn assign_number(
        &self,
        meta: &CommandMeta,
        number: &PhoneNumber,
        route: NumberRoute,
        at: Timestamp,
    ) -> Result<Outcome<Number>, ApiError> {
        if let NumberRoute::Menu(menu_id) = &route {
            self.get_menu(&meta.tenant, menu_id, None)
                .await
                .map_err(|_| {
                    ApiError::new(
                        reasons::IVR_MENU_NOT_SAVED,
                        format!("save menu {menu_id} before assigning a number to it"),
                    )
                    .with_metadata("menu_id", menu_id.as_str())
                })?;
        }
        let claim = NumberClaimCommand::Claim {
            tenant: meta.tenant.clone(),
            at,
        };
        let claim_meta = CommandMeta {
            tenant: platform_tenant(),
            request_id: meta
                .request_id
                .as_ref()
                .map(|request_id| format!("{}.{request_id}", meta.tenant)),
            ..meta.clone()
        };
        self.number_claims
            .handle(&claim_meta, &number.as_id(), &claim)
            .await
            .map_err(|error| ApiError::from(error).with_metadata("number", number.as_str()))?;
        let command = NumberCommand::Assign { route, at };
        Ok(self.numbers.handle(meta, &number.as_id(), &command).await?)
    }

    /// The tenant a dialled number reaches, if any claimed it.
    pub async fn tenant_of_number(
        &self,
        number: &PhoneNumber,
    ) -> Result<Option<TenantId>, ApiError> {
        let loaded = self
            .number_claims
            .load(&platform_tenant(), &number.as_id())
            .await?;
        Ok(loaded.state.owner)
    }
}

/// Calls offered, answered, abandoned, ended and served by a voice menu (no tenant: per-tenant
/// figures are in the read models).
static CALLS: std::sync::LazyLock<opentelemetry::metrics::Counter<u64>> =
    std::sync::LazyLock::new(|| {
        callcenter_telemetry::metrics::meter()
            .u64_counter("callcenter_calls")
            .with_description(
                "Calls by what happened: offered, answered, abandoned, ended, self_served",
            )
            .build()
    });

/// Counts a call's event in [`CALLS`] when it is one of the outcomes counted.
fn count_call(event: &crate::domain::CallEvent) {
    use crate::domain::CallEvent;
    let outcome = match event {
        CallEvent::Offered { .. } => "offered",
        CallEvent::Answered { .. } => "answered",
        CallEvent::Abandoned { .. } => "abandoned",
        CallEvent::Ended { .. } => "ended",
        CallEvent::SelfServed { .. } => "self_served",
        _ => return,
    };
    CALLS.add(1, &[opentelemetry::KeyValue::new("outcome", outcome)]);
}
