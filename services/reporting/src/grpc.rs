//! The gRPC face of reporting.

use callcenter_eventlog::{Timestamp, to_proto_timestamp};
use callcenter_platform::{ApiError, Role, principal, validate};
use callcenter_proto::reporting::v1 as pb;
use pb::reporting_service_server::{ReportingService, ReportingServiceServer};
use sqlx::AnyPool;
use tonic::{Request, Response, Status};

use crate::queue_counts::list_queue_counts;
use crate::queue_view::{LiveView, Totals, queue_intervals, queue_view};

fn period_to_proto(totals: &Totals) -> pb::PeriodStats {
    pb::PeriodStats {
        offered: totals.offered,
        answered: totals.answered,
        abandoned: totals.abandoned,
        service_level: totals.service_level(),
        average_speed_of_answer_seconds: totals.average_speed_of_answer_ms() / 1000.0,
        abandonment_rate: totals.abandonment_rate(),
        average_handling_time_seconds: totals.average_handling_time_ms() / 1000.0,
    }
}

fn live_to_proto(view: LiveView) -> pb::LiveQueue {
    pb::LiveQueue {
        queue_id: view.queue_id,
        center_id: view.center_id,
        waiting: view.waiting,
        longest_wait_seconds: view.longest_wait_ms as f64 / 1000.0,
        over_max_wait: view.over_max_wait,
        agents: Some(pb::AgentCounts {
            ready: view.agents.ready,
            not_ready: view.agents.not_ready,
            reserved: view.agents.reserved,
            on_call: view.agents.on_call,
            after_call_work: view.agents.after_call_work,
        }),
        today: Some(period_to_proto(&view.today)),
        current_interval: Some(period_to_proto(&view.interval)),
        interval_start: Some(millis(view.interval_start)),
    }
}

/// The API timestamp of Unix milliseconds.
fn millis(unix_millis: i64) -> prost_types::Timestamp {
    to_proto_timestamp(Timestamp::from_unix_millis(unix_millis))
}

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

/// The longest span of intervals one request reads (366 days).
const MAX_INTERVAL_SPAN_MS: i64 = 366 * 24 * 60 * 60 * 1000;

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
    async fn get_queue_view(
        &self,
        request: Request<pb::GetQueueViewRequest>,
    ) -> Result<Response<pb::GetQueueViewResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(REPORT_READERS)?;
        let now = Timestamp::now().unix_millis();
        let (queues, centers) = queue_view(&self.pool, caller.tenant.as_str(), now)
            .await
            .map_err(|error| ApiError::unavailable(format!("read model: {error}")))?;
        Ok(Response::new(pb::GetQueueViewResponse {
            queues: queues.into_iter().map(live_to_proto).collect(),
            centers: centers.into_iter().map(live_to_proto).collect(),
        }))
    }

    async fn list_queue_intervals(
        &self,
        request: Request<pb::ListQueueIntervalsRequest>,
    ) -> Result<Response<pb::ListQueueIntervalsResponse>, Status> {
        let caller = principal(&request)?;
        caller.require_any(REPORT_READERS)?;
        let body = request.into_inner();
        let queue_id = validate::required_id("queue_id", &body.queue_id)?;
        let start = validate::required_time("start", body.start.as_ref())?.unix_millis();
        let end = validate::required_time("end", body.end.as_ref())?.unix_millis();
        if !(start < end && end - start <= MAX_INTERVAL_SPAN_MS) {
            return Err(
                ApiError::invalid_field("end", "after start, at most 366 days later").into(),
            );
        }
        let rows = queue_intervals(
            &self.pool,
            caller.tenant.as_str(),
            queue_id.as_str(),
            start,
            end,
        )
        .await
        .map_err(|error| ApiError::unavailable(format!("read model: {error}")))?;
        Ok(Response::new(pb::ListQueueIntervalsResponse {
            intervals: rows
                .into_iter()
                .map(
                    |(start, offered, answered, abandoned, handled, handle_ms)| pb::QueueInterval {
                        interval_start: Some(millis(start)),
                        offered,
                        answered,
                        abandoned,
                        handled,
                        handle_seconds: handle_ms as f64 / 1000.0,
                    },
                )
                .collect(),
        }))
    }

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
