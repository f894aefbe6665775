//! Workforce as a service of the platform: its gRPC API, the reporting service it reads interval
//! history from, and the clerk it runs.

use std::sync::Arc;

use callcenter_platform::{Context, Service, StartError};
use callcenter_proto::workforce::v1::workforce_service_server::WorkforceServiceServer;
use tonic::server::NamedService;

use crate::clerk::Clerk;
use crate::{Workforce, WorkforceGrpc};

/// Forecasts, staffing, rosters, leave and swaps, attendance and intraday alerts.
#[derive(Debug, Default)]
pub struct WorkforceService;

#[async_trait::async_trait]
impl Service for WorkforceService {
    fn name(&self) -> &'static str {
        "workforce"
    }

    fn about(&self) -> &'static str {
        "forecasts, staffing, rosters, leave and swaps, attendance and intraday alerts"
    }

    fn reasons(&self) -> &'static [callcenter_platform::Reason] {
        crate::reasons::REASONS
    }

    fn grpc_services(&self) -> &'static [&'static str] {
        &[<WorkforceServiceServer<WorkforceGrpc> as NamedService>::NAME]
    }

    fn upstreams(&self) -> &'static [&'static str] {
        &["reporting"]
    }

    async fn start(&self, context: &mut Context) -> Result<(), StartError> {
        let failed = |reason: String| StartError {
            service: "workforce",
            reason,
        };
        let app = Workforce::new(Arc::clone(&context.store));
        let reporting = context.upstream("reporting").map_err(failed)?;
        let server =
            WorkforceGrpc::server(app.clone(), &reporting).map_err(|e| failed(e.to_string()))?;
        context.serve_grpc(server);
        context.consume(Clerk::new(app));
        Ok(())
    }
}
