//! The gRPC face of reporting.

use callcenter_platform::{ApiError, Role, principal, validate};
use callcenter_proto::reporting::v1 as pb;
use pb::reporting_service_server::{ReportingService, ReportingServiceServer};
use sqlx::AnyPool;
use tonic::{Request, Response, Status};

use crate::queue_counts::list_queue_counts;

/// The tonic service.
#[derive(Clone, Debug)]
pub struct ReportingGrpc {
    pool: AnyPool,
}

impl ReportingGrpc {
    /// The gRPC server reading `pool`.
    pub fn server(pool: AnyPool) -> ReportingServiceServer<Self> {
        ReportingServiceServer::new(Self { pool })
    }
}

/// Who may read reports: the floor's supervisors, planners and the tenant's admin.
const REPORT_READERS: &[Role] = &[
    Role::TeamLeader,
    Role::DutyLead,
    Role::CenterManager,
    Role::TenantAdmin,
    Role::WfmPlanner,
    Role::Partner,
];

#[tonic::async_trait]
impl ReportingService for ReportingGrpc {
    async fn list_queue_stats(
        &self,
        request: Request<pb::ListQueueStatsRequest>,
    ) -> Result<Response<pb::ListQueueStatsResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(REPORT_READERS)?;
        let body = request.into_inner();
        let page_size = validate::page_size(body.page_size, 100, 1000)?;
        // The page token is the last queue id of the previous page.
        if !body.page_token.is_empty() {
            validate::required_id("page_token", &body.page_token)?;
        }
        let mut rows = list_queue_counts(
            &self.pool,
            caller.tenant.as_str(),
            &body.page_token,
            page_size + 1,
        )
        .await
        .map_err(|error| ApiError::unavailable(format!("read model: {error}")))?;
        let next_page_token = if rows.len() > page_size as usize {
            rows.truncate(page_size as usize);
            rows.last()
                .map(|row| row.queue_id.clone())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListQueueStatsResponse {
            queue_stats: rows
                .into_iter()
                .map(|row| pb::QueueStats {
                    queue_id: row.queue_id,
                    offered: row.offered,
                    answered: row.answered,
                    abandoned: row.abandoned,
                })
                .collect(),
            next_page_token,
        }))
    }
}
