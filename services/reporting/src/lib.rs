//! Reporting: read models built from the event log (DOMAIN.md §9).
//!
//! - [`queue_counts`]: calls offered, answered and abandoned per queue;
//! - [`queue_view`]: the real-time view of queues and centers for wallboards;
//! - [`grpc`]: serves `callcenter.reporting.v1.ReportingService`.

pub mod grpc;
pub mod queue_counts;
pub mod queue_view;

use callcenter_kit::db::{self, DbError, MigrationSource};
use sqlx::AnyPool;

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

/// Applies the kit's and reporting's migrations.
pub async fn migrate(pool: &AnyPool) -> Result<(), DbError> {
    db::migrate_kit(pool).await?;
    db::migrate(pool, "_migrations_reporting", MIGRATIONS).await
}
