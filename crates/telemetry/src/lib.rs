//! Logs and traces.
//!
//! - Logs go through `tracing` to standard error, as text or JSON lines.
//! - Spans become OpenTelemetry spans, exported over OTLP/gRPC only when an endpoint is configured;
//!   without one they still carry trace ids, so W3C trace context flows through gRPC calls and the
//!   event log either way.
//! - [`current_trace_context`] and [`continue_trace`] move the context into and out of commits;
//!   [`inject_http`] and [`extract_http`] into and out of HTTP/gRPC headers.
//! - [`metrics`]: instruments, read for the Prometheus scrape endpoint and exported over OTLP
//!   when an endpoint is configured.

pub mod metrics;

use std::collections::HashMap;

use callcenter_eventlog::TraceContext;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// What to set up.
#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// `service.name` of the traces.
    pub service_name: String,
    /// A `tracing` filter such as `info` or `callcenter=debug,info`.
    pub log_filter: String,
    /// Text or JSON.
    pub log_format: LogFormat,
    /// OTLP/gRPC endpoint (such as `http://otel-collector:4317`); no export when absent.
    pub otlp_endpoint: Option<String>,
}

/// The error of a telemetry set-up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter did not parse.
    #[error("invalid log filter {filter:?}: {reason}")]
    Filter {
        /// The filter given.
        filter: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The OTLP exporter could not be built.
    #[error("cannot export traces to {endpoint}: {reason}")]
    Exporter {
        /// The endpoint given.
        endpoint: String,
        /// Why it failed.
        reason: String,
    },
}

/// Keeps the tracer and meter providers alive; dropping it flushes what is still buffered.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    meters: opentelemetry_sdk::metrics::SdkMeterProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
        let _ = self.meters.shutdown();
    }
}

/// Installs logging and tracing for the process. Call once, from inside the Tokio runtime.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let filter =
        EnvFilter::try_new(&config.log_filter).map_err(|error| TelemetryError::Filter {
            filter: config.log_filter.clone(),
            reason: error.to_string(),
        })?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    let meters = metrics::install(resource.clone(), config.otlp_endpoint.as_deref())?;
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|error| TelemetryError::Exporter {
                endpoint: endpoint.clone(),
                reason: error.to_string(),
            })?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer("callcenter");
    // The log filter only decides what is printed; spans at info and above always take part in
    // traces, so trace context keeps flowing when logs are quiet.
    let fmt_layer = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let trace_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let _ = tracing_subscriber::registry()
        .with(fmt_layer)
        .with(trace_layer)
        .try_init();
    Ok(TelemetryGuard { provider, meters })
}

/// The W3C trace context of the current span, to store with a commit.
pub fn current_trace_context() -> TraceContext {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    TraceContext {
        traceparent: carrier.remove("traceparent"),
        tracestate: carrier
            .remove("tracestate")
            .filter(|state| !state.is_empty()),
    }
}

/// Makes `span` a child of the trace a commit was written in (no-op without a trace context).
pub fn continue_trace(span: &tracing::Span, trace: &TraceContext) {
    if trace.traceparent.is_none() {
        return;
    }
    let mut carrier = HashMap::new();
    if let Some(traceparent) = &trace.traceparent {
        carrier.insert("traceparent".to_owned(), traceparent.clone());
    }
    if let Some(tracestate) = &trace.tracestate {
        carrier.insert("tracestate".to_owned(), tracestate.clone());
    }
    let parent = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(parent);
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes the current span's trace context into outgoing HTTP/gRPC headers.
pub fn inject_http(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// Makes `span` a child of the trace named by incoming HTTP/gRPC headers, if they name one.
pub fn extract_http(span: &tracing::Span, headers: &http::HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(parent);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_trace_continues_from_a_commit_into_a_new_span() {
        let _guard = init(&TelemetryConfig {
            service_name: "test".into(),
            log_filter: "off".into(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
        })
        .unwrap();
        let incoming = TraceContext {
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            tracestate: None,
        };
        let span = tracing::info_span!("consume");
        continue_trace(&span, &incoming);
        let outgoing = span.in_scope(current_trace_context);
        let traceparent = outgoing.traceparent.expect("a traceparent");
        assert!(
            traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "same trace id: {traceparent}"
        );
        assert!(!traceparent.contains("00f067aa0ba902b7"), "a new span id");

        let mut headers = http::HeaderMap::new();
        span.in_scope(|| inject_http(&mut headers));
        let child = tracing::info_span!("handle");
        extract_http(&child, &headers);
        let again = child.in_scope(current_trace_context).traceparent.unwrap();
        assert!(again.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }

    #[test]
    fn a_bad_log_filter_is_an_error_not_a_panic() {
        let error = init(&TelemetryConfig {
            service_name: "test".into(),
            log_filter: "=[".into(),
            log_format: LogFormat::Json,
            otlp_endpoint: None,
        })
        .unwrap_err();
        assert!(matches!(error, TelemetryError::Filter { .. }));
    }
}
