//! The gateway: HTTP/JSON over the services' gRPC APIs.
//!
//! It verifies the caller's bearer token itself (so that bad requests stop at the edge), then
//! forwards the token and the W3C trace context to the services, which verify it again and take
//! the tenant from it. Every error is an RFC 9457 problem+json document with the same code and
//! reason the gRPC API gives.

pub mod json;
pub mod workforce;

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use callcenter_platform::{ApiError, JwtVerifier, Principal, Role};
use callcenter_proto::reporting::v1 as reporting;
use callcenter_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use callcenter_proto::routing::v1 as routing;
use callcenter_proto::routing::v1::routing_service_client::RoutingServiceClient;
use callcenter_proto::telephony::v1 as telephony;
use callcenter_proto::telephony::v1::telephony_service_client::TelephonyServiceClient;
use callcenter_proto::workforce::v1::workforce_service_client::WorkforceServiceClient;
use http::HeaderMap;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

/// Where the gateway finds each service's gRPC API.
#[derive(Clone, Debug)]
pub struct Upstreams {
    /// The telephony service.
    pub telephony: String,
    /// The routing service.
    pub routing: String,
    /// The reporting service.
    pub reporting: String,
    /// The workforce service.
    pub workforce: String,
}

/// The gateway's state: one lazily connected channel per service and the token verifier.
#[derive(Clone, Debug)]
pub struct Gateway {
    telephony: TelephonyServiceClient<Channel>,
    routing: RoutingServiceClient<Channel>,
    reporting: ReportingServiceClient<Channel>,
    workforce: WorkforceServiceClient<Channel>,
    verifier: Arc<JwtVerifier>,
    /// Ends server-sent event streams, so that a shutdown need not wait for wallboards.
    shutdown: CancellationToken,
}

fn channel(url: &str) -> Result<Channel, ApiError> {
    Endpoint::from_shared(url.to_owned())
        .map_err(|error| ApiError::invalid_field("upstream", format!("{url}: {error}")))
        .map(|endpoint| {
            endpoint
                .connect_timeout(std::time::Duration::from_secs(5))
                .connect_lazy()
        })
}

impl Gateway {
    /// A gateway to `upstreams` that verifies tokens with `verifier`.
    pub fn new(upstreams: &Upstreams, verifier: Arc<JwtVerifier>) -> Result<Self, ApiError> {
        Ok(Self {
            telephony: TelephonyServiceClient::new(channel(&upstreams.telephony)?),
            routing: RoutingServiceClient::new(channel(&upstreams.routing)?),
            reporting: ReportingServiceClient::new(channel(&upstreams.reporting)?),
            workforce: WorkforceServiceClient::new(channel(&upstreams.workforce)?),
            verifier,
            shutdown: CancellationToken::new(),
        })
    }

    /// Ends every event stream when `shutdown` is cancelled.
    pub fn ending_streams_on(mut self, shutdown: CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// The HTTP routes of the API (health routes are added by the process).
    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/calls", post(report_call))
            .route("/v1/calls/{call_id}", get(get_call))
            .route("/v1/calls/{call_id}/answer", post(answer_call))
            .route("/v1/calls/{call_id}/decline", post(decline_call))
            .route("/v1/calls/{call_id}/end", post(end_call))
            .route("/v1/calls/{call_id}/abandon", post(abandon_call))
            .route("/v1/calls/{call_id}/hold", post(hold_call))
            .route("/v1/calls/{call_id}/resume", post(resume_call))
            .route("/v1/calls/{call_id}/transfer", post(transfer_call))
            .route(
                "/v1/calls/{call_id}/supervision",
                post(supervise_call).delete(stop_supervising_call),
            )
            .route(
                "/v1/calls/{call_id}/disposition",
                post(set_call_disposition),
            )
            .route(
                "/v1/calls/{call_id}/not-reached",
                post(mark_call_not_reached),
            )
            .route("/v1/outbound/calls", post(dial_outbound_call))
            .route("/v1/outbound/policy", get(get_outbound_policy))
            .route("/v1/outbound/do-not-call", post(update_do_not_call))
            .route("/v1/outbound/calling-hours", put(set_calling_hours))
            .route("/v1/agents", post(create_agent))
            .route("/v1/agents/{agent_id}", get(get_agent))
            .route("/v1/cases/{case_id}", get(get_case).put(set_case_owner))
            .route("/v1/cases/{case_id}/close", post(close_case))
            .route("/v1/agents/{agent_id}/login", post(login_agent))
            .route("/v1/agents/{agent_id}/ready", post(set_agent_ready))
            .route("/v1/agents/{agent_id}/not-ready", post(set_agent_not_ready))
            .route("/v1/agents/{agent_id}/skills", put(set_agent_skills))
            .route(
                "/v1/agents/{agent_id}/routing-domain",
                put(move_agent_to_routing_domain),
            )
            .route("/v1/agents/{agent_id}/stream", get(stream_agent))
            .route("/v1/queues/{queue_id}/routing", put(set_queue_routing))
            .route("/v1/agents/{agent_id}/logout", post(logout_agent))
            .route("/v1/queues", post(create_queue))
            .route("/v1/queues/stats", get(list_queue_stats))
            .route("/v1/queues/view", get(get_queue_view))
            .route("/v1/queues/view/stream", get(stream_queue_view))
            .route("/v1/numbers/{number}", put(assign_number))
            .route(
                "/v1/ivr-menus/{menu_id}",
                put(save_ivr_menu).get(get_ivr_menu),
            )
            .route("/v1/calls/{call_id}/ivr-keys", post(press_ivr_keys))
            .route(
                "/v1/callers/{number}",
                put(set_caller_class).get(get_caller_class),
            )
            .merge(workforce::routes())
            .fallback(|| async {
                ApiError::new(
                    callcenter_platform::ErrorCode::NotFound,
                    "ROUTE_NOT_FOUND",
                    "no such route",
                )
            })
            .with_state(self)
    }
}

/// The verified caller of an HTTP request and the headers to forward.
struct Caller {
    principal: Principal,
    headers: HeaderMap,
}

impl Caller {
    fn from_headers(gateway: &Gateway, headers: &HeaderMap) -> Result<Self, ApiError> {
        let principal = gateway
            .verifier
            .verify_bearer(headers.get(http::header::AUTHORIZATION))?;
        Ok(Self {
            principal,
            headers: headers.clone(),
        })
    }

    /// A gRPC request that carries the caller's token and the current trace.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let mut outgoing = HeaderMap::new();
        if let Some(authorization) = self.headers.get(http::header::AUTHORIZATION) {
            outgoing.insert(http::header::AUTHORIZATION, authorization.clone());
        }
        callcenter_telemetry::inject_http(&mut outgoing);
        *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(outgoing);
        request
    }

    /// The request id of the body, or else of the `Idempotency-Key` header.
    fn request_id(&self, from_body: String) -> String {
        if !from_body.is_empty() {
            return from_body;
        }
        self.headers
            .get("idempotency-key")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

/// A JSON body whose rejections are problem+json.
struct JsonBody<T>(T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid_field("body", rejection.body_text())),
        }
    }
}

/// A JSON body that may be left out entirely (then it is `T::default()`).
struct OptionalJsonBody<T>(T);

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::invalid_field("body", rejection.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|error| ApiError::invalid_field("body", error.to_string()))
    }
}

fn upstream_error(status: tonic::Status) -> ApiError {
    ApiError::from_status(&status)
}

type ApiResult<T> = Result<Json<T>, ApiError>;

async fn report_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<json::ReportCall>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let priority = match body.priority.as_str() {
        "" | "normal" => telephony::Priority::Normal,
        "emergency" => telephony::Priority::Emergency,
        _ => return Err(ApiError::invalid_field("priority", "normal or emergency")),
    };
    let request = telephony::ReportCallRequest {
        call_id: body.call_id,
        caller_number: body.caller_number,
        dialled_number: body.dialled_number,
        queue_id: body.queue_id,
        request_id: caller.request_id(body.request_id),
        priority: priority.into(),
    };
    let response = gateway
        .telephony
        .clone()
        .report_call(caller.request(request))
        .await
        .map_err(upstream_error)?;
    call_json(response.into_inner().call)
}

fn call_json(call: Option<telephony::Call>) -> ApiResult<json::Call> {
    call.map(|call| Json(call.into()))
        .ok_or_else(|| ApiError::internal("telephony answered without a call"))
}

fn queue_json(queue: Option<routing::Queue>) -> ApiResult<json::Queue> {
    queue
        .map(|queue| Json(queue.into()))
        .ok_or_else(|| ApiError::internal("routing answered without a queue"))
}

fn agent_json(agent: Option<routing::Agent>) -> ApiResult<json::Agent> {
    agent
        .map(|agent| Json(agent.into()))
        .ok_or_else(|| ApiError::internal("routing answered without an agent"))
}

async fn get_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let response = gateway
        .telephony
        .clone()
        .get_call(caller.request(telephony::GetCallRequest { call_id }))
        .await
        .map_err(upstream_error)?;
    call_json(response.into_inner().call)
}

/// The agent a ringing call's answer or decline is for: the body's, or an agent's own.
fn ringing_agent(caller: &Caller, agent_id: String) -> String {
    if agent_id.is_empty() && caller.principal.has_any(&[Role::Agent]) {
        caller.principal.subject.clone()
    } else {
        agent_id
    }
}

async fn answer_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<json::AnswerCall>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let agent_id = ringing_agent(&caller, body.agent_id);
    let request = telephony::AnswerCallRequest {
        call_id,
        agent_id,
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .telephony
        .clone()
        .answer_call(caller.request(request))
        .await
        .map_err(upstream_error)?;
    call_json(response.into_inner().call)
}

async fn decline_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<json::AnswerCall>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let agent_id = ringing_agent(&caller, body.agent_id);
    let request = telephony::DeclineCallRequest {
        call_id,
        agent_id,
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .telephony
        .clone()
        .decline_call(caller.request(request))
        .await
        .map_err(upstream_error)?;
    call_json(response.into_inner().call)
}

async fn end_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<json::EndCall>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let ended_by = match body.ended_by.as_str() {
        "" | "caller" => telephony::Party::Caller,
        "agent" => telephony::Party::Agent,
        "system" => telephony::Party::System,
        _ => {
            return Err(ApiError::invalid_field(
                "ended_by",
                "one of caller, agent, system",
            ));
        }
    };
    let request = telephony::EndCallRequest {
        call_id,
        ended_by: ended_by.into(),
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .telephony
        .clone()
        .end_call(caller.request(request))
        .await
        .map_err(upstream_error)?;
    call_json(response.into_inner().call)
}

async fn abandon_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<json::AbandonCall>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = telephony::AbandonCallRequest {
        call_id,
        request_id: caller.request_id(body.request_id),
        position: body.position,
    };
    let response = gateway
        .telephony
        .clone()
        .abandon_call(caller.request(request))
        .await
        .map_err(upstream_error)?;
    call_json(response.into_inner().call)
}

async fn hold_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<json::RequestOnly>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request_id = caller.request_id(body.request_id);
    let request = telephony::HoldCallRequest {
        call_id,
        request_id,
    };
    let mut client = gateway.telephony.clone();
    let response = client.hold_call(caller.request(request)).await;
    call_json(response.map_err(upstream_error)?.into_inner().call)
}

async fn resume_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<json::RequestOnly>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request_id = caller.request_id(body.request_id);
    let request = telephony::ResumeCallRequest {
        call_id,
        request_id,
    };
    let mut client = gateway.telephony.clone();
    let response = client.resume_call(caller.request(request)).await;
    call_json(response.map_err(upstream_error)?.into_inner().call)
}

async fn transfer_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    JsonBody(body): JsonBody<json::TransferCall>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = telephony::TransferCallRequest {
        call_id,
        to_queue_id: body.to_queue_id,
        to_agent_id: body.to_agent_id,
        request_id: caller.request_id(body.request_id),
    };
    let mut client = gateway.telephony.clone();
    let response = client.transfer_call(caller.request(request)).await;
    call_json(response.map_err(upstream_error)?.into_inner().call)
}

async fn supervise_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    JsonBody(body): JsonBody<json::SuperviseCall>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let mode = match body.mode.as_str() {
        "listen" => telephony::SupervisionMode::Listen,
        "whisper" => telephony::SupervisionMode::Whisper,
        "barge" => telephony::SupervisionMode::Barge,
        _ => return Err(ApiError::invalid_field("mode", "listen, whisper or barge")),
    };
    let request = telephony::SuperviseCallRequest {
        call_id,
        mode: mode.into(),
        request_id: caller.request_id(body.request_id),
    };
    let mut client = gateway.telephony.clone();
    let response = client.supervise_call(caller.request(request)).await;
    call_json(response.map_err(upstream_error)?.into_inner().call)
}

async fn stop_supervising_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = telephony::StopSupervisingCallRequest {
        call_id,
        request_id: caller.request_id(String::new()),
    };
    let mut client = gateway.telephony.clone();
    let response = client.stop_supervising_call(caller.request(request)).await;
    call_json(response.map_err(upstream_error)?.into_inner().call)
}

async fn set_call_disposition(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    JsonBody(body): JsonBody<json::SetDisposition>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = telephony::SetCallDispositionRequest {
        call_id,
        code: body.code,
        agent_id: body.agent_id,
        request_id: caller.request_id(body.request_id),
    };
    let mut client = gateway.telephony.clone();
    let response = client.set_call_disposition(caller.request(request)).await;
    call_json(response.map_err(upstream_error)?.into_inner().call)
}

async fn dial_outbound_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<json::DialOutboundCall>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let purpose = match body.purpose.as_str() {
        "callback" => telephony::OutboundPurpose::Callback,
        "survey" => telephony::OutboundPurpose::Survey,
        "marketing" => telephony::OutboundPurpose::Marketing,
        _ => {
            return Err(ApiError::invalid_field(
                "purpose",
                "callback, survey or marketing",
            ));
        }
    };
    let request = telephony::DialOutboundCallRequest {
        call_id: body.call_id,
        customer_number: body.customer_number,
        caller_id: body.caller_id,
        purpose: purpose.into(),
        agent_id: body.agent_id,
        queue_id: body.queue_id,
        request_id: caller.request_id(body.request_id),
    };
    let mut client = gateway.telephony.clone();
    let response = client.dial_outbound_call(caller.request(request)).await;
    call_json(response.map_err(upstream_error)?.into_inner().call)
}

async fn mark_call_not_reached(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    JsonBody(body): JsonBody<json::MarkNotReached>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let reason = match body.reason.as_str() {
        "no_answer" => telephony::NotReachedReason::NoAnswer,
        "busy" => telephony::NotReachedReason::Busy,
        "rejected" => telephony::NotReachedReason::Rejected,
        "failed" => telephony::NotReachedReason::Failed,
        _ => {
            return Err(ApiError::invalid_field(
                "reason",
                "no_answer, busy, rejected or failed",
            ));
        }
    };
    let request = telephony::MarkCallNotReachedRequest {
        call_id,
        reason: reason.into(),
        request_id: caller.request_id(body.request_id),
    };
    let mut client = gateway.telephony.clone();
    let response = client.mark_call_not_reached(caller.request(request)).await;
    call_json(response.map_err(upstream_error)?.into_inner().call)
}

async fn get_outbound_policy(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
) -> ApiResult<json::OutboundPolicy> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let mut client = gateway.telephony.clone();
    let request = caller.request(telephony::GetOutboundPolicyRequest {});
    let policy = client
        .get_outbound_policy(request)
        .await
        .map_err(upstream_error)?
        .into_inner();
    Ok(Json(json::OutboundPolicy {
        do_not_call: policy.do_not_call,
        calling_hours: policy.calling_hours.map(Into::into),
    }))
}

async fn update_do_not_call(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<json::UpdateDoNotCall>,
) -> ApiResult<json::OutboundPolicy> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = telephony::UpdateDoNotCallRequest {
        add: body.add,
        remove: body.remove,
        request_id: caller.request_id(body.request_id),
    };
    let mut client = gateway.telephony.clone();
    let updated = client
        .update_do_not_call(caller.request(request))
        .await
        .map_err(upstream_error)?
        .into_inner();
    let hours = client
        .get_outbound_policy(caller.request(telephony::GetOutboundPolicyRequest {}))
        .await
        .map_err(upstream_error)?
        .into_inner()
        .calling_hours;
    Ok(Json(json::OutboundPolicy {
        do_not_call: updated.do_not_call,
        calling_hours: hours.map(Into::into),
    }))
}

async fn set_calling_hours(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<json::SetCallingHours>,
) -> ApiResult<json::OutboundPolicy> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = telephony::SetCallingHoursRequest {
        hours: body.hours.map(Into::into),
        request_id: caller.request_id(body.request_id),
    };
    let mut client = gateway.telephony.clone();
    client
        .set_calling_hours(caller.request(request))
        .await
        .map_err(upstream_error)?;
    let policy = client
        .get_outbound_policy(caller.request(telephony::GetOutboundPolicyRequest {}))
        .await
        .map_err(upstream_error)?
        .into_inner();
    Ok(Json(json::OutboundPolicy {
        do_not_call: policy.do_not_call,
        calling_hours: policy.calling_hours.map(Into::into),
    }))
}

async fn create_agent(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<json::CreateAgent>,
) -> ApiResult<json::Agent> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = routing::CreateAgentRequest {
        agent_id: body.agent_id,
        display_name: body.display_name,
        center_id: body.center_id,
        queue_ids: body.queue_ids,
        chat_capacity: body.chat_capacity,
        routing_domain: body.routing_domain,
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .routing
        .clone()
        .create_agent(caller.request(request))
        .await
        .map_err(upstream_error)?;
    agent_json(response.into_inner().agent)
}

async fn get_agent(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
) -> ApiResult<json::Agent> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let response = gateway
        .routing
        .clone()
        .get_agent(caller.request(routing::GetAgentRequest { agent_id }))
        .await
        .map_err(upstream_error)?;
    agent_json(response.into_inner().agent)
}

/// Which presence change a route asks for.
enum PresenceChange {
    Login { seat: String },
    Ready,
    NotReady { reason: routing::NotReadyReason },
    Logout,
}

async fn change_presence(
    gateway: Gateway,
    headers: HeaderMap,
    agent_id: String,
    request_id: String,
    change: PresenceChange,
) -> ApiResult<json::Agent> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request_id = caller.request_id(request_id);
    let mut client = gateway.routing.clone();
    let agent = match change {
        PresenceChange::Login { seat } => client
            .login_agent(caller.request(routing::LoginAgentRequest {
                agent_id,
                request_id,
                seat,
            }))
            .await
            .map(|response| response.into_inner().agent),
        PresenceChange::NotReady { reason } => client
            .set_agent_not_ready(caller.request(routing::SetAgentNotReadyRequest {
                agent_id,
                reason: reason.into(),
                request_id,
            }))
            .await
            .map(|response| response.into_inner().agent),
        PresenceChange::Ready => client
            .set_agent_ready(caller.request(routing::SetAgentReadyRequest {
                agent_id,
                request_id,
            }))
            .await
            .map(|response| response.into_inner().agent),
        PresenceChange::Logout => client
            .logout_agent(caller.request(routing::LogoutAgentRequest {
                agent_id,
                request_id,
            }))
            .await
            .map(|response| response.into_inner().agent),
    }
    .map_err(upstream_error)?;
    agent_json(agent)
}

async fn login_agent(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<json::Login>,
) -> ApiResult<json::Agent> {
    let change = PresenceChange::Login { seat: body.seat };
    change_presence(gateway, headers, agent_id, body.request_id, change).await
}

async fn set_agent_skills(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    JsonBody(body): JsonBody<json::SetSkills>,
) -> ApiResult<json::Agent> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = routing::SetAgentSkillsRequest {
        agent_id,
        skills: body.skills.into_iter().collect(),
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .routing
        .clone()
        .set_agent_skills(caller.request(request))
        .await
        .map_err(upstream_error)?;
    agent_json(response.into_inner().agent)
}

fn case_json(case: Option<routing::CustomerCase>) -> ApiResult<json::CustomerCase> {
    case.map(|case| Json(case.into()))
        .ok_or_else(|| ApiError::internal("routing answered without a case"))
}

async fn set_case_owner(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(case_id): Path<String>,
    JsonBody(body): JsonBody<json::SetCaseOwner>,
) -> ApiResult<json::CustomerCase> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = routing::SetCaseOwnerRequest {
        case_id,
        caller_number: body.caller_number,
        owner_agent_id: body.owner_agent_id,
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .routing
        .clone()
        .set_case_owner(caller.request(request))
        .await
        .map_err(upstream_error)?;
    case_json(response.into_inner().case)
}

async fn close_case(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(case_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<json::RequestOnly>,
) -> ApiResult<json::CustomerCase> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = routing::CloseCaseRequest {
        case_id,
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .routing
        .clone()
        .close_case(caller.request(request))
        .await
        .map_err(upstream_error)?;
    case_json(response.into_inner().case)
}

async fn get_case(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(case_id): Path<String>,
) -> ApiResult<json::CustomerCase> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let response = gateway
        .routing
        .clone()
        .get_case(caller.request(routing::GetCaseRequest { case_id }))
        .await
        .map_err(upstream_error)?;
    case_json(response.into_inner().case)
}

async fn move_agent_to_routing_domain(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    JsonBody(body): JsonBody<json::MoveToRoutingDomain>,
) -> ApiResult<json::Agent> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = routing::MoveAgentToRoutingDomainRequest {
        agent_id,
        routing_domain: body.routing_domain,
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .routing
        .clone()
        .move_agent_to_routing_domain(caller.request(request))
        .await
        .map_err(upstream_error)?;
    agent_json(response.into_inner().agent)
}

async fn set_queue_routing(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(queue_id): Path<String>,
    JsonBody(body): JsonBody<json::SetQueueRouting>,
) -> ApiResult<json::Queue> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = routing::SetQueueRoutingRequest {
        queue_id,
        routing: Some(body.routing.into()),
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .routing
        .clone()
        .set_queue_routing(caller.request(request))
        .await
        .map_err(upstream_error)?;
    queue_json(response.into_inner().queue)
}

async fn set_agent_not_ready(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    JsonBody(body): JsonBody<json::NotReady>,
) -> ApiResult<json::Agent> {
    let reason = json::not_ready_reason_from_name(&body.reason).ok_or_else(|| {
        ApiError::invalid_field("reason", "break, lunch, training, meeting or coaching")
    })?;
    let change = PresenceChange::NotReady { reason };
    change_presence(gateway, headers, agent_id, body.request_id, change).await
}

async fn set_agent_ready(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<json::RequestOnly>,
) -> ApiResult<json::Agent> {
    change_presence(
        gateway,
        headers,
        agent_id,
        body.request_id,
        PresenceChange::Ready,
    )
    .await
}

async fn logout_agent(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<json::RequestOnly>,
) -> ApiResult<json::Agent> {
    change_presence(
        gateway,
        headers,
        agent_id,
        body.request_id,
        PresenceChange::Logout,
    )
    .await
}

async fn create_queue(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<json::CreateQueue>,
) -> ApiResult<json::Queue> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = routing::CreateQueueRequest {
        queue_id: body.queue_id,
        display_name: body.display_name,
        center_id: body.center_id,
        request_id: caller.request_id(body.request_id),
        after_call_work_seconds: body.after_call_work_seconds,
        routing_domain: body.routing_domain,
    };
    let response = gateway
        .routing
        .clone()
        .create_queue(caller.request(request))
        .await
        .map_err(upstream_error)?;
    queue_json(response.into_inner().queue)
}

async fn list_queue_stats(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    query: Result<Query<json::PageQuery>, QueryRejection>,
) -> ApiResult<json::QueueStatsPage> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let Query(query) =
        query.map_err(|rejection| ApiError::invalid_field("query", rejection.body_text()))?;
    let request = reporting::ListQueueStatsRequest {
        page_size: query.page_size,
        page_token: query.page_token,
    };
    let response = gateway
        .reporting
        .clone()
        .list_queue_stats(caller.request(request))
        .await
        .map_err(upstream_error)?;
    Ok(Json(response.into_inner().into()))
}

async fn fetch_queue_view(gateway: &Gateway, caller: &Caller) -> Result<json::QueueView, ApiError> {
    let response = gateway
        .reporting
        .clone()
        .get_queue_view(caller.request(reporting::GetQueueViewRequest {}))
        .await
        .map_err(upstream_error)?;
    Ok(response.into_inner().into())
}

async fn get_queue_view(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
) -> ApiResult<json::QueueView> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    Ok(Json(fetch_queue_view(&gateway, &caller).await?))
}

/// How often a stream looks for changes.
const STREAM_REFRESH: std::time::Duration = std::time::Duration::from_millis(500);

/// Named JSON documents a stream sends, each again whenever it changes.
type Snapshot = Vec<(&'static str, String)>;

/// Server-Sent Events from polling: `fetch` runs every [`STREAM_REFRESH`]; each named document is
/// sent when it differs from the last one sent under that name. Ends at shutdown.
fn polled_events<F, Fut>(
    gateway: Gateway,
    first: Snapshot,
    fetch: F,
) -> axum::response::sse::Sse<
    impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
>
where
    F: Fn(Gateway) -> Fut + Send + 'static,
    Fut: Future<Output = Snapshot> + Send,
{
    use axum::response::sse::{Event, KeepAlive, Sse};
    let shutdown = gateway.shutdown.clone();
    let state = (
        gateway,
        fetch,
        std::collections::VecDeque::from(first),
        std::collections::BTreeMap::<&'static str, String>::new(),
        true,
    );
    let events = futures_util::stream::unfold(
        state,
        |(gateway, fetch, mut pending, mut last, mut fresh)| async move {
            loop {
                while let Some((name, data)) = pending.pop_front() {
                    if last.get(name) != Some(&data) {
                        last.insert(name, data.clone());
                        let event = Event::default().event(name).data(data);
                        return Some((Ok(event), (gateway, fetch, pending, last, fresh)));
                    }
                }
                if !fresh {
                    tokio::select! {
                        () = gateway.shutdown.cancelled() => return None,
                        () = tokio::time::sleep(STREAM_REFRESH) => {}
                    }
                }
                fresh = false;
                pending.extend(fetch(gateway.clone()).await);
            }
        },
    );
    let events = futures_util::StreamExt::take_until(events, shutdown.cancelled_owned());
    Sse::new(events).keep_alive(KeepAlive::default())
}

fn document<T: serde::Serialize>(
    name: &'static str,
    result: Result<T, ApiError>,
) -> (&'static str, String) {
    match result {
        Ok(value) => (name, serde_json::to_string(&value).unwrap_or_default()),
        Err(error) => (
            "error",
            serde_json::to_string(&error.problem()).unwrap_or_default(),
        ),
    }
}

/// `GET /v1/queues/view/stream`: Server-Sent Events for wallboards. A `queue-view` event carries
/// the whole view at once and again whenever it changes; an `error` event carries a problem
/// document when reporting is unavailable; the stream ends at shutdown.
async fn stream_queue_view(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let caller = Arc::new(Caller::from_headers(&gateway, &headers)?);
    // A caller who may not read the view is told so at once, as a problem, not in the stream.
    let first = fetch_queue_view(&gateway, &caller).await?;
    let first = vec![document("queue-view", Ok(first))];
    Ok(polled_events(gateway, first, move |gateway| {
        let caller = Arc::clone(&caller);
        async move {
            vec![document(
                "queue-view",
                fetch_queue_view(&gateway, &caller).await,
            )]
        }
    }))
}

async fn fetch_agent(
    gateway: &Gateway,
    caller: &Caller,
    agent_id: &str,
) -> Result<json::Agent, ApiError> {
    let response = gateway
        .routing
        .clone()
        .get_agent(caller.request(routing::GetAgentRequest {
            agent_id: agent_id.to_owned(),
        }))
        .await
        .map_err(upstream_error)?;
    agent_json(response.into_inner().agent).map(|Json(agent)| agent)
}

/// The agent's state, and the call offered to them while one rings.
async fn agent_desktop(gateway: &Gateway, caller: &Caller, agent_id: &str) -> Snapshot {
    let agent = fetch_agent(gateway, caller, agent_id).await;
    let offered = match &agent {
        Ok(agent) if agent.state == "reserved" => agent.call_id.clone(),
        _ => None,
    };
    let mut snapshot = vec![document("agent", agent)];
    if let Some(call_id) = offered {
        let call = gateway
            .telephony
            .clone()
            .get_call(caller.request(telephony::GetCallRequest { call_id }))
            .await
            .map_err(upstream_error)
            .and_then(|response| {
                response
                    .into_inner()
                    .call
                    .map(json::Call::from)
                    .ok_or_else(|| ApiError::internal("telephony answered without a call"))
            });
        snapshot.push(document("offer", call));
    }
    snapshot
}

/// `GET /v1/agents/{id}/stream`: the agent desktop's Server-Sent Events. An `agent` event
/// carries the agent (state, reason, call) at once and on every change; an `offer` event carries
/// the call that rings at the agent, to accept (`/v1/calls/{id}/answer`) or reject
/// (`/v1/calls/{id}/decline`).
async fn stream_agent(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let caller = Arc::new(Caller::from_headers(&gateway, &headers)?);
    // Refusals (another agent's desktop, no such agent) come at once, as a problem.
    fetch_agent(&gateway, &caller, &agent_id).await?;
    let first = agent_desktop(&gateway, &caller, &agent_id).await;
    let agent_id = Arc::new(agent_id);
    Ok(polled_events(gateway, first, move |gateway| {
        let (caller, agent_id) = (Arc::clone(&caller), Arc::clone(&agent_id));
        async move { agent_desktop(&gateway, &caller, &agent_id).await }
    }))
}

async fn assign_number(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(number): Path<String>,
    JsonBody(body): JsonBody<json::AssignNumber>,
) -> ApiResult<json::Number> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = telephony::AssignNumberRequest {
        number,
        queue_id: body.queue_id,
        ivr_menu_id: body.ivr_menu_id,
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .telephony
        .clone()
        .assign_number(caller.request(request))
        .await
        .map_err(upstream_error)?
        .into_inner();
    Ok(Json(json::Number {
        number: response.number,
        queue_id: json::non_empty(response.queue_id),
        ivr_menu_id: json::non_empty(response.ivr_menu_id),
    }))
}

async fn save_ivr_menu(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(menu_id): Path<String>,
    JsonBody(body): JsonBody<json::SaveIvrMenu>,
) -> ApiResult<json::IvrMenuVersion> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let menu = body
        .menu
        .into_proto()
        .map_err(|(field, description)| ApiError::invalid_field(field, description))?;
    let request = telephony::SaveIvrMenuRequest {
        menu_id: menu_id.clone(),
        menu: Some(menu),
        expected_version: body.expected_version,
        request_id: caller.request_id(body.request_id),
    };
    let mut client = gateway.telephony.clone();
    let saved = client
        .save_ivr_menu(caller.request(request))
        .await
        .map_err(upstream_error)?
        .into_inner();
    menu_version(&mut client, &caller, menu_id, saved.version).await
}

async fn menu_version(
    client: &mut TelephonyServiceClient<Channel>,
    caller: &Caller,
    menu_id: String,
    version: u64,
) -> ApiResult<json::IvrMenuVersion> {
    let found = client
        .get_ivr_menu(caller.request(telephony::GetIvrMenuRequest { menu_id, version }))
        .await
        .map_err(upstream_error)?
        .into_inner();
    Ok(Json(json::IvrMenuVersion {
        menu_id: found.menu_id,
        version: found.version,
        menu: found.menu.unwrap_or_default().into(),
    }))
}

async fn get_ivr_menu(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(menu_id): Path<String>,
    query: Result<Query<json::MenuVersionQuery>, QueryRejection>,
) -> ApiResult<json::IvrMenuVersion> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let Query(query) =
        query.map_err(|rejection| ApiError::invalid_field("query", rejection.body_text()))?;
    let mut client = gateway.telephony.clone();
    menu_version(&mut client, &caller, menu_id, query.version).await
}

async fn press_ivr_keys(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    JsonBody(body): JsonBody<json::PressIvrKeys>,
) -> ApiResult<json::Call> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let request = telephony::PressIvrKeysRequest {
        call_id,
        keys: body.keys,
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .telephony
        .clone()
        .press_ivr_keys(caller.request(request))
        .await
        .map_err(upstream_error)?;
    call_json(response.into_inner().call)
}

async fn set_caller_class(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(number): Path<String>,
    JsonBody(body): JsonBody<json::SetCallerClass>,
) -> ApiResult<json::CallerRecord> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let class = json::caller_class_from_name(body.class.as_deref())
        .ok_or_else(|| ApiError::invalid_field("class", "known, vip, elderly or null"))?;
    let request = telephony::SetCallerClassRequest {
        number,
        class: class.into(),
        request_id: caller.request_id(body.request_id),
    };
    let response = gateway
        .telephony
        .clone()
        .set_caller_class(caller.request(request))
        .await
        .map_err(upstream_error)?
        .into_inner();
    Ok(Json(json::CallerRecord::new(
        response.number,
        response.class,
    )))
}

async fn get_caller_class(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> ApiResult<json::CallerRecord> {
    let caller = Caller::from_headers(&gateway, &headers)?;
    let response = gateway
        .telephony
        .clone()
        .get_caller_class(caller.request(telephony::GetCallerClassRequest { number }))
        .await
        .map_err(upstream_error)?
        .into_inner();
    Ok(Json(json::CallerRecord::new(
        response.number,
        response.class,
    )))
}
