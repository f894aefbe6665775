//! Metrics go out over OTLP/gRPC when an endpoint is configured: a collector on loopback (the
//! OTLP metrics service) receives what the process measured, at the latest when it stops.

use std::sync::{Arc, Mutex};

use callcenter_telemetry::{LogFormat, TelemetryConfig, init, metrics};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tonic::{Request, Response, Status};

/// The names of the metrics a collector received.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<String>>>);

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let mut names = self.0.lock().unwrap();
        for resource in request.into_inner().resource_metrics {
            for scope in resource.scope_metrics {
                names.extend(scope.metrics.into_iter().map(|metric| metric.name));
            }
        }
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_exported_over_otlp_when_an_endpoint_is_configured() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let collector = Collector::default();
    let server = tonic::transport::Server::builder()
        .add_service(MetricsServiceServer::new(collector.clone()))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    let served = tokio::spawn(server);

    let guard = init(&TelemetryConfig {
        service_name: "otlp-test".into(),
        log_filter: "warn".into(),
        log_format: LogFormat::Text,
        otlp_endpoint: Some(format!("http://{address}")),
    })
    .unwrap();
    let calls = metrics::meter()
        .u64_counter("callcenter_test_exported")
        .build();
    calls.add(3, &[]);
    // The scrape endpoint reads the same measurements.
    assert!(metrics::prometheus_text().contains("callcenter_test_exported_total 3"));
    // Stopping flushes what the periodic export has not sent yet.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();
    let received = collector.0.lock().unwrap().clone();
    assert!(
        received
            .iter()
            .any(|name| name == "callcenter_test_exported"),
        "{received:?}"
    );
    served.abort();
}
