//! The gateway: HTTP/JSON over the services' gRPC APIs, transcoded from the routes each RPC
//! declares in its proto (`google.api.http`), with the OpenAPI document generated from the same
//! descriptors at `GET /v1/openapi.json`.
//!
//! It verifies the caller's bearer token itself (so that bad requests stop at the edge), then
//! forwards the token and the W3C trace context to the services, which verify it again and take
//! the tenant from it. Every error is an RFC 9457 problem+json document with the same code and
//! reason the gRPC API gives. The only hand-written routes are the Server-Sent Event streams
//! ([`streams`]), whose HTTP shape has no RPC of its own.

pub mod openapi;
pub mod streams;
pub mod transcode;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get};
use axum::{Json, Router};
use callcenter_platform::reason::{self, Reason};
use callcenter_platform::{ApiError, JwtVerifier};
use http::HeaderMap;
use tokio_util::sync::CancellationToken;
use tonic::transport::Endpoint;

use crate::transcode::{Channels, Route, answer_json, platform_routes, request_message};

/// Where the gateway finds each gRPC service: full service name (such as
/// `callcenter.telephony.v1.TelephonyService`) to URL.
pub type Upstreams = BTreeMap<String, String>;

/// The gateway's state: one lazily connected channel per service, the token verifier and the
/// routes.
#[derive(Clone, Debug)]
pub struct Gateway {
    channels: Channels,
    verifier: Arc<JwtVerifier>,
    routes: Arc<Vec<Route>>,
    /// The reasons errors may carry, by declaring service, for the OpenAPI document.
    reasons: Arc<Vec<(&'static str, Reason)>>,
    /// Ends server-sent event streams, so that a shutdown need not wait for wallboards.
    shutdown: CancellationToken,
}

impl Gateway {
    /// A gateway to `upstreams` that verifies tokens with `verifier`.
    pub fn new(upstreams: &Upstreams, verifier: Arc<JwtVerifier>) -> Result<Self, ApiError> {
        let mut channels = BTreeMap::new();
        for (service, url) in upstreams {
            let endpoint = Endpoint::from_shared(url.clone())
                .map_err(|error| ApiError::invalid_field("upstream", format!("{url}: {error}")))?;
            let channel = endpoint
                .connect_timeout(std::time::Duration::from_secs(5))
                .connect_lazy();
            channels.insert(service.clone(), channel);
        }
        Ok(Self {
            channels: Channels(channels),
            verifier,
            routes: platform_routes(),
            reasons: Arc::new(callcenter_platform::service::catalogue(&[])),
            shutdown: CancellationToken::new(),
        })
    }

    /// Documents `reasons` (each with its service) as the ones errors may carry.
    pub fn documenting(mut self, reasons: &[(&'static str, Reason)]) -> Self {
        self.reasons = Arc::new(reasons.to_vec());
        self
    }

    /// Ends every event stream when `shutdown` is cancelled.
    pub fn ending_streams_on(mut self, shutdown: CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// The HTTP routes of the API (health routes are added by the process): every transcoded
    /// route, the event streams, the OpenAPI document, and problem+json for the rest.
    pub fn router(self) -> Router {
        let mut by_path: BTreeMap<String, MethodRouter<Gateway>> = BTreeMap::new();
        for route in self.routes.iter() {
            let filter = MethodFilter::try_from(route.verb.clone())
                .expect("routes use the five standard methods");
            let template = route_template(route);
            let route = Arc::new(route.clone());
            let handler = move |State(gateway): State<Gateway>,
                                path: RawPathParams,
                                RawQuery(query): RawQuery,
                                headers: HeaderMap,
                                body: Bytes| {
                let route = Arc::clone(&route);
                async move { gateway.transcode(&route, path, query, headers, body).await }
            };
            let methods = by_path.remove(&template).unwrap_or_default();
            by_path.insert(template, methods.on(filter, handler));
        }
        let mut router = Router::new();
        for (path, methods) in by_path {
            router = router.route(&path, methods);
        }
        let document = Arc::new(openapi::document(&self.routes, &self.reasons));
        router
            .route(
                "/v1/openapi.json",
                get(move || async move { Json(Arc::clone(&document).as_ref().clone()) }),
            )
            .merge(streams::routes())
            .method_not_allowed_fallback(|| async { method_not_allowed() })
            .fallback(|| async { ApiError::new(reason::ROUTE_NOT_FOUND, "no such route") })
            .with_state(self)
    }

    async fn transcode(
        &self,
        route: &Route,
        path: RawPathParams,
        query: Option<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let path: Vec<(String, String)> = path
            .iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let answer = async {
            self.verifier
                .verify_bearer(headers.get(http::header::AUTHORIZATION))?;
            let request = request_message(route, &path, query.as_deref(), &headers, &body)?;
            let response = self
                .channels
                .unary(&headers, &route.method, request)
                .await?;
            Ok::<_, ApiError>(answer_json(route, &response))
        };
        match answer.await {
            Ok(json) => Json(json).into_response(),
            Err(error) => error.into_response(),
        }
    }
}

/// The gateway as a service of the platform: it calls every service's gRPC API.
#[derive(Debug, Default)]
pub struct GatewayService;

#[async_trait::async_trait]
impl callcenter_platform::Service for GatewayService {
    fn name(&self) -> &'static str {
        "gateway"
    }

    fn about(&self) -> &'static str {
        "the HTTP/JSON API, transcoded to every service's gRPC API"
    }

    fn calls_every_service(&self) -> bool {
        true
    }

    async fn start(
        &self,
        context: &mut callcenter_platform::Context,
    ) -> Result<(), callcenter_platform::StartError> {
        let gateway = Gateway::new(context.grpc_upstreams(), Arc::clone(&context.verifier))
            .map_err(|error| callcenter_platform::StartError {
                service: "gateway",
                reason: error.to_string(),
            })?
            .ending_streams_on(context.shutdown.clone())
            .documenting(context.reasons());
        context.serve_http(gateway.router());
        Ok(())
    }
}

/// The axum path of a route's template (both spell variables `{name}`).
fn route_template(route: &Route) -> String {
    route.template.clone()
}

/// 405 as problem+json: the path exists, not with this method.
fn method_not_allowed() -> Response {
    let mut problem = ApiError::new(
        reason::METHOD_NOT_ALLOWED,
        "the route does not take this method",
    )
    .problem();
    problem.status = http::StatusCode::METHOD_NOT_ALLOWED.as_u16();
    problem.title = "Method Not Allowed".to_owned();
    let content_type = [(http::header::CONTENT_TYPE, "application/problem+json")];
    (
        http::StatusCode::METHOD_NOT_ALLOWED,
        content_type,
        Json(problem),
    )
        .into_response()
}
