//! The metrics every process serves: `GET /metrics` in the Prometheus text format, and the lag
//! of every consumer and projection it runs, by subscription.

use axum::Router;
use axum::routing::get;
use opentelemetry::KeyValue;
use opentelemetry::metrics::ObservableGauge;

use crate::service::ConsumerWatch;

/// `GET /metrics`: every metric of the process, for Prometheus to scrape.
pub fn metrics_router() -> Router {
    Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(
                    http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                callcenter_telemetry::metrics::prometheus_text(),
            )
        }),
    )
}

/// Reports how far behind the log each of `consumers` is, and where it stands, whenever the
/// metrics are read; keep the gauges as long as the consumers run.
pub fn observe_consumers(consumers: Vec<ConsumerWatch>) -> [ObservableGauge<u64>; 2] {
    let meter = callcenter_telemetry::metrics::meter();
    let lag_of = consumers.clone();
    let lag = meter
        .u64_observable_gauge("callcenter_consumer_lag")
        .with_description("Commits waiting for a consumer or projection, by subscription")
        .with_callback(move |observer| {
            for (name, status) in &lag_of {
                let subscription = [KeyValue::new("subscription", name.clone())];
                observer.observe(status.borrow().lag, &subscription);
            }
        })
        .build();
    let position = meter
        .u64_observable_gauge("callcenter_consumer_position")
        .with_description("The last log position a consumer or projection applied, by subscription")
        .with_callback(move |observer| {
            for (name, status) in &consumers {
                let subscription = [KeyValue::new("subscription", name.clone())];
                observer.observe(status.borrow().checkpoint, &subscription);
            }
        })
        .build();
    [lag, position]
}
