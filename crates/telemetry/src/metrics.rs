//! Metrics: OpenTelemetry instruments, read for the Prometheus scrape endpoint (`GET /metrics`,
//! the text exposition format) and exported over OTLP/gRPC when an endpoint is configured.
//!
//! Instruments are made where they are measured, from [`meter`]. No metric carries a tenant id
//! (per-tenant figures are in the read models): labels are routes, methods, codes, event types,
//! subscriptions and partitions, all bounded.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};

use crate::TelemetryError;

/// Histogram boundaries for durations in seconds: 100 µs to 10 s.
pub const SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The platform's meter (a no-op one until [`install`] ran).
pub fn meter() -> Meter {
    opentelemetry::global::meter("callcenter")
}

/// The reader behind the scrape endpoint, shared with the meter provider.
#[derive(Debug, Clone)]
struct ScrapeReader(Arc<ManualReader>);

impl MetricReader for ScrapeReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }

    fn collect(&self, metrics: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(metrics)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

static SCRAPE: OnceLock<ScrapeReader> = OnceLock::new();

/// Installs the global meter provider: the scrape endpoint's reader, and periodic OTLP export
/// to `otlp_endpoint` when given.
pub(crate) fn install(
    resource: opentelemetry_sdk::Resource,
    otlp_endpoint: Option<&str>,
) -> Result<SdkMeterProvider, TelemetryError> {
    let reader = SCRAPE
        .get_or_init(|| ScrapeReader(Arc::new(ManualReader::builder().build())))
        .clone();
    let mut provider = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(reader);
    if let Some(endpoint) = otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.to_owned())
            .build()
            .map_err(|error| TelemetryError::Exporter {
                endpoint: endpoint.to_owned(),
                reason: error.to_string(),
            })?;
        provider = provider.with_periodic_exporter(exporter);
    }
    let provider = provider.build();
    opentelemetry::global::set_meter_provider(provider.clone());
    Ok(provider)
}

/// The metrics in the Prometheus text exposition format (empty before [`install`]).
pub fn prometheus_text() -> String {
    let Some(reader) = SCRAPE.get() else {
        return String::new();
    };
    let mut collected = ResourceMetrics::default();
    if reader.collect(&mut collected).is_err() {
        return String::new();
    }
    let mut text = String::new();
    for scope in collected.scope_metrics() {
        for metric in scope.metrics() {
            write_metric(
                &mut text,
                metric.name(),
                metric.description(),
                metric.data(),
            );
        }
    }
    text
}

fn labels(attributes: impl Iterator<Item = impl std::borrow::Borrow<KeyValue>>) -> Vec<String> {
    attributes
        .map(|attribute| {
            let attribute = attribute.borrow();
            let value = attribute
                .value
                .as_str()
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{}=\"{value}\"", attribute.key.as_str().replace('.', "_"))
        })
        .collect()
}

fn braces(labels: &[String]) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", labels.join(","))
    }
}

/// One metric's lines: `# HELP`, `# TYPE` and its samples.
fn write_metric(text: &mut String, name: &str, help: &str, data: &AggregatedMetrics) {
    fn samples<T: Copy>(
        text: &mut String,
        name: &str,
        help: &str,
        data: &MetricData<T>,
        number: fn(T) -> f64,
    ) {
        let name = name.replace('.', "_");
        let head = |text: &mut String, name: &str, kind: &str| {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        match data {
            MetricData::Sum(sum) => {
                let (name, kind) = if sum.is_monotonic() {
                    let total = if name.ends_with("_total") {
                        name.clone()
                    } else {
                        format!("{name}_total")
                    };
                    (total, "counter")
                } else {
                    (name, "gauge")
                };
                head(text, &name, kind);
                for point in sum.data_points() {
                    let value = number(point.value());
                    let _ = writeln!(
                        text,
                        "{name}{} {value}",
                        braces(&labels(point.attributes()))
                    );
                }
            }
            MetricData::Gauge(gauge) => {
                head(text, &name, "gauge");
                for point in gauge.data_points() {
                    let value = number(point.value());
                    let _ = writeln!(
                        text,
                        "{name}{} {value}",
                        braces(&labels(point.attributes()))
                    );
                }
            }
            MetricData::Histogram(histogram) => {
                head(text, &name, "histogram");
                for point in histogram.data_points() {
                    let base = labels(point.attributes());
                    let mut cumulative = 0;
                    for (bound, count) in point.bounds().zip(point.bucket_counts()) {
                        cumulative += count;
                        let mut with_le = base.clone();
                        with_le.push(format!("le=\"{bound}\""));
                        let _ = writeln!(text, "{name}_bucket{} {cumulative}", braces(&with_le));
                    }
                    let mut with_le = base.clone();
                    with_le.push("le=\"+Inf\"".to_owned());
                    let count = point.count();
                    let sum = number(point.sum());
                    let _ = writeln!(text, "{name}_bucket{} {count}", braces(&with_le));
                    let _ = writeln!(text, "{name}_sum{} {sum}", braces(&base));
                    let _ = writeln!(text, "{name}_count{} {count}", braces(&base));
                }
            }
            MetricData::ExponentialHistogram(_) => {}
        }
    }
    match data {
        AggregatedMetrics::F64(data) => samples(text, name, help, data, |value| value),
        AggregatedMetrics::U64(data) => samples(text, name, help, data, |value| value as f64),
        AggregatedMetrics::I64(data) => samples(text, name, help, data, |value| value as f64),
    }
}
