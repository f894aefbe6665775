//! Reporting: read models built from the event log (DOMAIN.md §9).
//!
//! - [`queue_counts`]: calls offered, answered and abandoned per queue;
//! - [`queue_view`]: the real-time view of queues and centers for wallboards;
//! - [`grpc`]: serves `callcenter.reporting.v1.ReportingService`;
//! - [`ReportingService`]: reporting's declaration as a service of the platform.

pub mod grpc;
pub mod queue_counts;
pub mod queue_view;

use std::sync::Arc;

use callcenter_kit::db::MigrationSource;
use callcenter_platform::{Context, Migrations, Service, StartError};
use callcenter_proto::reporting::v1::reporting_service_server::ReportingServiceServer;
use tonic::server::NamedService;

pub use grpc::ReportingGrpc;
pub use queue_counts::QueueCountsProjection;
pub use queue_view::QueueViewProjection;

/// Reporting's read-model tables.
pub const MIGRATIONS: &[MigrationSource] = &[
    (
        1,
        "queue call counts",
        include_str!("../../../migrations/reporting/0001_queue_call_counts.sql"),
    ),
    (
        2,
        "real-time queue view",
        include_str!("../../../migrations/reporting/0002_queue_view.sql"),
    ),
    (
        3,
        "queue maximum wait",
        include_str!("../../../migrations/reporting/0003_queue_max_wait.sql"),
    ),
];

/// Read models of queues and centers, and the history forecasts learn from.
#[derive(Debug, Default)]
pub struct ReportingService;

#[async_trait::async_trait]
impl Service for ReportingService {
    fn name(&self) -> &'static str {
        "reporting"
    }

    fn about(&self) -> &'static str {
        "read models: queue counts, the real-time queue view, interval history"
    }

    fn grpc_services(&self) -> &'static [&'static str] {
        &[<ReportingServiceServer<ReportingGrpc> as NamedService>::NAME]
    }

    fn migrations(&self) -> &'static [Migrations] {
        &[Migrations {
            table: "_migrations_reporting",
            migrations: MIGRATIONS,
        }]
    }

    async fn start(&self, context: &mut Context) -> Result<(), StartError> {
        let pool = context.read_models(self.name())?;
        context.serve_grpc(ReportingGrpc::server(pool));
        context.project(self.name(), Arc::new(QueueCountsProjection))?;
        context.project(self.name(), Arc::new(QueueViewProjection))?;
        Ok(())
    }
}
