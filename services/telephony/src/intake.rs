//! The gRPC intake of partners' call events, and the watch stream of a tenant's call events.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use callcenter_eventlog::{
    EventStore, Filter, Name, RecordedEvent, Subscription, SubscriptionSpec, from_proto_timestamp,
    to_proto_timestamp,
};
use callcenter_kit::CommandMeta;
use callcenter_platform::{ApiError, Principal, Role, principal, validate};
use callcenter_proto::telephony::v1 as pb;
use futures_util::{Stream, StreamExt};
use pb::partner_call_intake_service_server::{
    PartnerCallIntakeService, PartnerCallIntakeServiceServer,
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::api::fact_from_api;
use crate::app::Telephony;
use crate::domain::{PartnerEvent, ReportedCall};
use crate::grpc::call_to_proto;

/// Most events one `ReportCallEvents` request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 500;
/// Calls of one request recorded side by side.
const CALLS_AT_ONCE: usize = 32;
/// How long an abandoned watch subscription survives its watcher.
const WATCH_IDLE_EXPIRY: Duration = Duration::from_secs(300);
/// Commits fetched per batch for a watcher.
const WATCH_BATCH: usize = 200;

/// Roles that report partner events: the partner system, or the tenant's admin.
const REPORTERS: &[Role] = &[Role::Partner, Role::TenantAdmin];
/// Roles that may watch the tenant's call events.
const WATCHERS: &[Role] = &[Role::Partner, Role::TenantAdmin, Role::CenterManager];

/// The tonic service.
#[derive(Clone, Debug)]
pub struct PartnerIntakeGrpc {
    app: Telephony,
    store: Arc<dyn EventStore>,
    shutdown: CancellationToken,
}

impl PartnerIntakeGrpc {
    /// The gRPC server of `app` on `store`; watch streams end when `shutdown` is cancelled.
    pub fn server(
        app: Telephony,
        store: Arc<dyn EventStore>,
        shutdown: CancellationToken,
    ) -> PartnerCallIntakeServiceServer<Self> {
        PartnerCallIntakeServiceServer::new(Self {
            app,
            store,
            shutdown,
        })
    }
}

/// Checks one reported event and turns it into the call id and the domain event.
fn parse_event(event: &pb::PartnerCallEvent) -> Result<(Name, PartnerEvent), String> {
    validate::request_id(&event.event_id).map_err(|error| format!("event_id: {error}"))?;
    if event.event_id.is_empty() {
        return Err("event_id: is required".into());
    }
    let call_id =
        validate::required_id("call_id", &event.call_id).map_err(|error| error.message)?;
    let occurred_at = event
        .occurred_at
        .map(from_proto_timestamp)
        .ok_or_else(|| "occurred_at: is required".to_owned())?;
    let fact = event
        .fact
        .as_ref()
        .ok_or_else(|| "fact: is required".to_owned())
        .and_then(|fact| {
            fact_from_api(fact).map_err(|(field, reason)| format!("{field}: {reason}"))
        })?;
    Ok((
        call_id,
        PartnerEvent {
            event_id: event.event_id.clone(),
            occurred_at,
            fact,
        },
    ))
}

impl PartnerIntakeGrpc {
    async fn record(
        &self,
        caller: &Principal,
        event: &pb::PartnerCallEvent,
    ) -> pb::report_call_events_response::EventResult {
        use pb::report_call_events_response::EventResult;
        let rejected = |error: String| EventResult {
            event_id: event.event_id.clone(),
            outcome: pb::EventOutcome::Rejected.into(),
            error,
        };
        let (call_id, parsed) = match parse_event(event) {
            Ok(parsed) => parsed,
            Err(error) => return rejected(error),
        };
        // The partner's event id is the idempotency key of the command that records it.
        let meta = CommandMeta {
            tenant: caller.tenant.clone(),
            request_id: Some(parsed.event_id.clone()),
            correlation_id: parsed.event_id.clone(),
            causation_id: parsed.event_id.clone(),
            actor: caller.subject.clone(),
            at: callcenter_kit::Timestamp::now(),
        };
        match self.app.record_partner_event(&meta, &call_id, parsed).await {
            Ok(recorded) => EventResult {
                event_id: event.event_id.clone(),
                outcome: if recorded {
                    pb::EventOutcome::Recorded
                } else {
                    pb::EventOutcome::Duplicate
                }
                .into(),
                error: String::new(),
            },
            Err(error) => rejected(error.message),
        }
    }
}

/// A watcher's subscription, deleted when the watcher goes away.
struct Watch {
    subscription: Box<dyn Subscription>,
    store: Arc<dyn EventStore>,
    name: Name,
    buffered: std::collections::VecDeque<RecordedEvent>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = store.delete_subscription(&name).await;
            });
        }
    }
}

fn watch_item(event: &RecordedEvent) -> pb::WatchCallEventsResponse {
    pb::WatchCallEventsResponse {
        position: event.position(),
        call_id: event.stream().aggregate_id.to_string(),
        aggregate_type: event.stream().aggregate_type.to_string(),
        version: event.version,
        event_type: event.event_type.clone(),
        occurred_at: Some(to_proto_timestamp(event.occurred_at)),
        payload: event.payload.clone(),
    }
}

/// The stream type of `WatchCallEvents`.
pub type WatchStream =
    Pin<Box<dyn Stream<Item = Result<pb::WatchCallEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl PartnerCallIntakeService for PartnerIntakeGrpc {
    async fn report_call_events(
        &self,
        request: Request<pb::ReportCallEventsRequest>,
    ) -> Result<Response<pb::ReportCallEventsResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(REPORTERS)?;
        let body = request.into_inner();
        if body.events.is_empty() || body.events.len() > MAX_EVENTS_PER_REQUEST {
            return Err(ApiError::invalid_field(
                "events",
                format!("between 1 and {MAX_EVENTS_PER_REQUEST} events"),
            )
            .into());
        }
        // Each call's events in their order, the calls side by side (each is its own
        // aggregate): the results come back in the request's order.
        let mut calls: Vec<Vec<usize>> = Vec::new();
        let mut call_of: std::collections::HashMap<&str, usize> = Default::default();
        for (index, event) in body.events.iter().enumerate() {
            let slot = *call_of.entry(event.call_id.as_str()).or_insert_with(|| {
                calls.push(Vec::new());
                calls.len() - 1
            });
            calls[slot].push(index);
        }
        let (caller, events) = (&caller, &body.events);
        let recording: Vec<_> = calls
            .into_iter()
            .map(|indexes| async move {
                let mut results = Vec::with_capacity(indexes.len());
                for index in indexes {
                    results.push((index, self.record(caller, &events[index]).await));
                }
                results
            })
            .collect();
        let recorded: Vec<Vec<(usize, pb::report_call_events_response::EventResult)>> =
            futures_util::stream::iter(recording)
                .buffer_unordered(CALLS_AT_ONCE)
                .collect()
                .await;
        let mut results: Vec<_> = recorded.into_iter().flatten().collect();
        results.sort_by_key(|(index, _)| *index);
        let results = results.into_iter().map(|(_, result)| result).collect();
        Ok(Response::new(pb::ReportCallEventsResponse { results }))
    }

    async fn get_reported_call(
        &self,
        request: Request<pb::GetReportedCallRequest>,
    ) -> Result<Response<pb::GetReportedCallResponse>, Status> {
        let caller = principal(&request)?;
        let mut allowed = REPORTERS.to_vec();
        allowed.extend_from_slice(Role::SUPERVISORS);
        caller.require_any(&allowed)?;
        let call_id = validate::required_id("call_id", &request.get_ref().call_id)?;
        let loaded = self.app.get_reported_call(&caller.tenant, &call_id).await?;
        let call: &ReportedCall = &loaded.state;
        Ok(Response::new(pb::GetReportedCallResponse {
            call: Some(call_to_proto(
                &call_id,
                call.record(),
                loaded.version.version(),
            )),
            event_count: u32::try_from(call.fact_count()).unwrap_or(u32::MAX),
        }))
    }

    type WatchCallEventsStream = WatchStream;

    async fn watch_call_events(
        &self,
        request: Request<pb::WatchCallEventsRequest>,
    ) -> Result<Response<Self::WatchCallEventsStream>, Status> {
        let caller = principal(&request)?;
        caller.require_any(WATCHERS)?;
        let after = request.get_ref().after_position;
        let name = Name::new(format!("watch-{}", uuid::Uuid::new_v4().simple()))
            .map_err(|error| ApiError::internal(error.to_string()))?;
        let telephony = Name::new("telephony").map_err(|e| ApiError::internal(e.to_string()))?;
        let filter = Filter::all()
            .tenant(caller.tenant.clone())
            .aggregate(
                telephony.clone(),
                Name::new("call").map_err(|e| ApiError::internal(e.to_string()))?,
            )
            .aggregate(
                telephony,
                Name::new("reported_call").map_err(|e| ApiError::internal(e.to_string()))?,
            );
        let subscription = self
            .store
            .subscribe(SubscriptionSpec {
                name: name.clone(),
                filter,
                resume_after: Some(after),
                expire_when_idle: Some(WATCH_IDLE_EXPIRY),
            })
            .await
            .map_err(ApiError::from)?;
        let watch = Watch {
            subscription,
            store: Arc::clone(&self.store),
            name,
            buffered: std::collections::VecDeque::new(),
        };
        // Ends after the first error, and when the server shuts down; the client resumes from the
        // last position it received.
        let shutdown = self.shutdown.clone();
        let stream = futures_util::stream::unfold(Some(watch), move |watch| {
            let shutdown = shutdown.clone();
            async move {
                let mut watch = watch?;
                loop {
                    if let Some(event) = watch.buffered.pop_front() {
                        return Some((Ok(watch_item(&event)), Some(watch)));
                    }
                    let next = tokio::select! {
                        () = shutdown.cancelled() => {
                            let closing = Status::unavailable(
                                "the server is shutting down: resume from the last position received",
                            );
                            return Some((Err(closing), None));
                        }
                        next = watch.subscription.next_batch(WATCH_BATCH, Duration::from_secs(15)) => next,
                    };
                    let batch = match next {
                        Ok(batch) => batch,
                        Err(error) => {
                            return Some((Err(Status::from(ApiError::from(error))), None));
                        }
                    };
                    if let Some(last) = batch.last_position()
                        && let Err(error) = watch.subscription.ack(last).await
                    {
                        return Some((Err(Status::from(ApiError::from(error))), None));
                    }
                    watch.buffered.extend(batch.events);
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
