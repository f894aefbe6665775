//! The hand-written routes: Server-Sent Event streams for wallboards and agent desktops. Their
//! HTTP shape (a stream of named JSON documents, each sent again when it changes) has no RPC of
//! its own, so they read the same RPCs the transcoded routes serve, and send the same JSON.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use callcenter_platform::ApiError;
use futures_util::Stream;
use http::HeaderMap;
use serde_json::{Value as Json, json};

use crate::Gateway;
use crate::transcode::descriptors;
use callcenter_protojson::{message_from_json, message_to_json};

/// How often a stream looks for changes.
const REFRESH: Duration = Duration::from_millis(500);

/// The stream routes, with the RPCs they read (for the OpenAPI document): path, the one event
/// name each document is sent under, the RPC, what it is for.
pub const STREAMS: &[(&str, &str, &str, &str)] = &[
    (
        "/v1/queues/view/stream",
        "queue-view",
        "callcenter.reporting.v1.ReportingService.GetQueueView",
        "The real-time queue view as Server-Sent Events for wallboards: a `queue-view` event at \
         once and on every change (an `error` event with a problem document while reporting is \
         unavailable); the stream ends at shutdown.",
    ),
    (
        "/v1/agents/{agent_id}/stream",
        "agent",
        "callcenter.routing.v1.RoutingService.GetAgent",
        "The agent desktop's Server-Sent Events: an `agent` event (state, reason, call) at once \
         and on every change, and an `offer` event with the call that rings at the agent (answer \
         it with /v1/calls/{call_id}/answer, decline it with /decline).",
    ),
];

/// The routes of the streams.
pub fn routes() -> Router<Gateway> {
    Router::new()
        .route(STREAMS[0].0, get(stream_queue_view))
        .route(STREAMS[1].0, get(stream_agent))
}

impl Gateway {
    /// Calls an RPC by its full name (`package.Service.Method`) with a JSON request, and answers
    /// its JSON response.
    async fn call(&self, headers: &HeaderMap, rpc: &str, request: Json) -> Result<Json, ApiError> {
        let method = rpc
            .rsplit_once('.')
            .and_then(|(service, method)| {
                descriptors()
                    .get_service_by_name(service)?
                    .methods()
                    .find(|m| m.name() == method)
            })
            .ok_or_else(|| ApiError::internal(format!("no RPC {rpc}")))?;
        let request = message_from_json(&method.input(), &request)
            .map_err(|error| ApiError::invalid_field(error.field, error.reason))?;
        let response = self.channels.unary(headers, &method, request).await?;
        Ok(message_to_json(&response))
    }
}

/// Named JSON documents a stream sends, each again whenever it changes.
type Snapshot = Vec<(&'static str, String)>;

fn document(name: &'static str, result: Result<Json, ApiError>) -> (&'static str, String) {
    match result {
        Ok(value) => (name, value.to_string()),
        Err(error) => (
            "error",
            serde_json::to_string(&error.problem()).unwrap_or_default(),
        ),
    }
}

/// Server-Sent Events from polling: `fetch` runs every [`REFRESH`]; each named document is sent
/// when it differs from the last one sent under that name. Ends at shutdown.
fn polled_events<F, Fut>(
    gateway: Gateway,
    first: Snapshot,
    fetch: F,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    F: Fn(Gateway) -> Fut + Send + 'static,
    Fut: Future<Output = Snapshot> + Send,
{
    let shutdown = gateway.shutdown.clone();
    let state = (gateway, fetch, VecDeque::from(first), BTreeMap::new(), true);
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
                        () = tokio::time::sleep(REFRESH) => {}
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

async fn stream_queue_view(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    gateway
        .verifier
        .verify_bearer(headers.get(http::header::AUTHORIZATION))?;
    let (_, name, rpc, _) = STREAMS[0];
    // A caller who may not read the view is told so at once, as a problem, not in the stream.
    let first = gateway.call(&headers, rpc, json!({})).await?;
    let headers = Arc::new(headers);
    Ok(polled_events(
        gateway,
        vec![document(name, Ok(first))],
        move |gateway| {
            let headers = Arc::clone(&headers);
            async move { vec![document(name, gateway.call(&headers, rpc, json!({})).await)] }
        },
    ))
}

/// The agent's state, and the call offered to them while one rings.
async fn agent_desktop(gateway: &Gateway, headers: &HeaderMap, agent_id: &str) -> Snapshot {
    let (_, name, rpc, _) = STREAMS[1];
    let agent = gateway
        .call(headers, rpc, json!({ "agent_id": agent_id }))
        .await
        .map(|response| response["agent"].clone());
    let offered = match &agent {
        Ok(agent) if agent["state"] == "reserved" => agent["call_id"].as_str().map(str::to_owned),
        _ => None,
    };
    let mut snapshot = vec![document(name, agent)];
    if let Some(call_id) = offered {
        let call = gateway
            .call(
                headers,
                "callcenter.telephony.v1.TelephonyService.GetCall",
                json!({ "call_id": call_id }),
            )
            .await
            .map(|response| response["call"].clone());
        snapshot.push(document("offer", call));
    }
    snapshot
}

async fn stream_agent(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    gateway
        .verifier
        .verify_bearer(headers.get(http::header::AUTHORIZATION))?;
    // Refusals (another agent's desktop, no such agent) come at once, as a problem.
    let (_, _, rpc, _) = STREAMS[1];
    gateway
        .call(&headers, rpc, json!({ "agent_id": agent_id }))
        .await?;
    let first = agent_desktop(&gateway, &headers, &agent_id).await;
    let (headers, agent_id) = (Arc::new(headers), Arc::new(agent_id));
    Ok(polled_events(gateway, first, move |gateway| {
        let (headers, agent_id) = (Arc::clone(&headers), Arc::clone(&agent_id));
        async move { agent_desktop(&gateway, &headers, &agent_id).await }
    }))
}
