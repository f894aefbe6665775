//! The gRPC server every service runs on: the services' routes behind tracing and authentication
//! layers, grpc.health.v1 (following readiness), server reflection, graceful shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;

use crate::auth::{GrpcAuthLayer, JwtVerifier};
use crate::health::Readiness;
use crate::trace::TraceContextLayer;

/// How often gRPC health follows readiness.
const HEALTH_REFRESH: Duration = Duration::from_secs(1);

/// The gRPC services of one process, to be served together.
#[derive(Debug, Default)]
pub struct GrpcServices {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
}

impl GrpcServices {
    /// No services yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a generated tonic service.
    pub fn add<S>(&mut self, service: S) -> &mut Self
    where
        S: tower_service::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// The fully qualified names of the added services.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Serves until `shutdown`, then stops accepting and drains requests in flight.
    pub async fn serve(
        self,
        listener: TcpListener,
        verifier: Arc<JwtVerifier>,
        readiness: Readiness,
        shutdown: CancellationToken,
    ) -> Result<(), tonic::transport::Error> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(callcenter_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .expect("the embedded descriptor sets are valid");
        let names = self.names.clone();
        let health_task = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    let status = if readiness.report().await.ready {
                        ServingStatus::Serving
                    } else {
                        ServingStatus::NotServing
                    };
                    health_reporter.set_service_status("", status).await;
                    for name in &names {
                        health_reporter.set_service_status(*name, status).await;
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => {
                            health_reporter.set_service_status("", ServingStatus::NotServing).await;
                            return;
                        }
                        () = tokio::time::sleep(HEALTH_REFRESH) => {}
                    }
                }
            })
        };
        let mut routes = self.routes;
        routes.add_service(health_service);
        routes.add_service(reflection);
        let result = tonic::transport::Server::builder()
            .layer(TraceContextLayer::new("grpc"))
            .layer(GrpcAuthLayer::new(verifier))
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                shutdown.cancelled_owned(),
            )
            .await;
        health_task.abort();
        result
    }
}
