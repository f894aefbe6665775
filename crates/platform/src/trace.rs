//! A span per request (gRPC or HTTP) that continues the caller's W3C trace context, so that a
//! trace joins gateway, services and the commits they write.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::Instrument;

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

impl<S, B> tower_service::Service<http::Request<B>> for TraceContext<S>
where
    S: tower_service::Service<http::Request<B>> + Clone + Send + 'static,
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
        // Call the service that was driven to readiness; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { inner.call(request).await }.instrument(span))
    }
}
