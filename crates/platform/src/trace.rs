//! A span per request (gRPC or HTTP) that continues the caller's W3C trace context, so that a
//! trace joins gateway, services and the commits they write; and the request's count and duration
//! by route (HTTP: the matched route template and status; gRPC: the method and status code).

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;

use callcenter_telemetry::metrics::{SECONDS, meter};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};
use tracing::Instrument;

/// Requests served, by protocol, method, route and status.
static REQUESTS: LazyLock<(Counter<u64>, Histogram<f64>)> = LazyLock::new(|| {
    let meter = meter();
    (
        meter
            .u64_counter("callcenter_requests")
            .with_description("HTTP and gRPC requests served, by protocol, route and status")
            .build(),
        meter
            .f64_histogram("callcenter_request_duration_seconds")
            .with_description("How long HTTP and gRPC requests took, by protocol and route")
            .with_unit("s")
            .with_boundaries(SECONDS.to_vec())
            .build(),
    )
});

/// A tower layer that opens a span per request, child of the caller's `traceparent` if any.
#[derive(Clone, Copy, Debug)]
pub struct TraceContextLayer {
    protocol: &'static str,
}

impl TraceContextLayer {
    /// A layer for requests of `protocol` (`grpc` or `http`, recorded on the span).
    pub fn new(protocol: &'static str) -> Self {
        Self { protocol }
    }
}

impl<S> tower_layer::Layer<S> for TraceContextLayer {
    type Service = TraceContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContext {
            inner,
            protocol: self.protocol,
        }
    }
}

/// The service made by [`TraceContextLayer`].
#[derive(Clone, Debug)]
pub struct TraceContext<S> {
    inner: S,
    protocol: &'static str,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for TraceContext<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let span = tracing::info_span!(
            "request",
            otel.name = %request.uri().path(),
            otel.kind = "server",
            protocol = self.protocol,
            method = %request.method(),
        );
        callcenter_telemetry::extract_http(&span, request.headers());
        // gRPC: the method's path; HTTP: the route template it matched (never the raw path, whose
        // ids would make a label per resource).
        let route = if self.protocol == "grpc" {
            request.uri().path().to_owned()
        } else {
            request
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned())
        };
        let (protocol, method, started) = (self.protocol, request.method().clone(), Instant::now());
        // Call the service that was driven to readiness; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(
            async move {
                let response = inner.call(request).await;
                if let Ok(response) = &response {
                    // gRPC errors come as trailers-only responses, so their code is a header.
                    let status = if protocol == "grpc" {
                        response
                            .headers()
                            .get("grpc-status")
                            .and_then(|code| code.to_str().ok())
                            .unwrap_or("0")
                            .to_owned()
                    } else {
                        response.status().as_u16().to_string()
                    };
                    let labels = [
                        KeyValue::new("protocol", protocol),
                        KeyValue::new("method", method.to_string()),
                        KeyValue::new("route", route),
                    ];
                    let (requests, durations) = &*REQUESTS;
                    durations.record(started.elapsed().as_secs_f64(), &labels);
                    let mut with_status = labels.to_vec();
                    with_status.push(KeyValue::new("status", status));
                    requests.add(1, &with_status);
                }
                response
            }
            .instrument(span),
        )
    }
}
