//! Composes services into one process: binds the listeners, starts the gRPC services, reactors and
//! projections of the selected targets, serves HTTP, and shuts everything down gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use callcenter_eventlog::{EventStore, StoreError};
use callcenter_gateway::{Gateway, Upstreams};
use callcenter_kit::db::DbError;
use callcenter_kit::{ProjectionRunner, run_reactor};
use callcenter_platform::health::{DatabaseCheck, EventLogCheck, ProjectionCheck, health_router};
use callcenter_platform::trace::TraceContextLayer;
use callcenter_platform::{GrpcServices, JwtVerifier, Readiness};
use callcenter_reporting::{QueueCountsProjection, QueueViewProjection, ReportingGrpc};
use callcenter_routing::{Routing, RoutingGrpc, run_partitioned_distributors};
use callcenter_telephony::ring_timer::run_ring_timer;
use callcenter_telephony::sip::{SipConfig, SipGateway};
use callcenter_telephony::{PartnerIntakeGrpc, Ringer, Telephony, TelephonyGrpc};
use callcenter_workforce::{Workforce, WorkforceGrpc, run_workforce_clerk};
use sqlx::AnyPool;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How long a shutdown waits for in-flight requests and background batches (Kubernetes gives 30 s
/// by default before it kills the pod).
const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// A service the process can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Calls in.
    Telephony,
    /// Agents, queues and the call distributor.
    Routing,
    /// Read models.
    Reporting,
    /// Shifts, teams, rosters, leave, swaps and attendance.
    Workforce,
    /// HTTP/JSON API.
    Gateway,
    /// Everything.
    All,
}

impl Target {
    /// The target's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Telephony => "telephony",
            Target::Routing => "routing",
            Target::Reporting => "reporting",
            Target::Workforce => "workforce",
            Target::Gateway => "gateway",
            Target::All => "all",
        }
    }
}

/// The event log and the read-model database.
#[derive(Debug)]
pub struct Backends {
    /// The event log.
    pub store: Arc<dyn EventStore>,
    /// The read models (reporting needs them).
    pub read_models: Option<AnyPool>,
    /// Leases for single-writer work (routing partitions).
    pub leases: Arc<dyn callcenter_eventlog::lease::Leases>,
}

/// Gateway upstreams given on the command line; the rest default to this process.
#[derive(Debug, Default)]
pub struct UpstreamOverrides {
    /// Telephony's gRPC URL.
    pub telephony: Option<String>,
    /// Routing's gRPC URL.
    pub routing: Option<String>,
    /// Reporting's gRPC URL.
    pub reporting: Option<String>,
    /// Workforce's gRPC URL.
    pub workforce: Option<String>,
}

/// What to run and where.
#[derive(Debug)]
pub struct RunConfig {
    /// The services.
    pub targets: Vec<Target>,
    /// HTTP address.
    pub http: SocketAddr,
    /// gRPC address.
    pub grpc: SocketAddr,
    /// Token verifier.
    pub verifier: Arc<JwtVerifier>,
    /// Gateway upstreams.
    pub upstreams: UpstreamOverrides,
    /// The SIP gateway, if telephony takes SIP calls.
    pub sip: Option<SipConfig>,
    /// How long a call may ring an agent.
    pub ring_timeout: std::time::Duration,
    /// How many partitions routing splits the tenants into (one writer each).
    pub routing_partitions: u32,
    /// The data directory, for the ready message.
    pub data_dir: Option<PathBuf>,
}

/// Why the process could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The event log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The read-model database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// An address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The SIP gateway could not start.
    #[error(transparent)]
    Sip(#[from] callcenter_telephony::sip::SipError),
    /// The demo tenant could not be loaded.
    #[error("loading the demo tenant: {0}")]
    Demo(callcenter_platform::ApiError),
    /// A server failed.
    #[error("{0}")]
    Server(String),
}

impl RunConfig {
    fn runs(&self, target: Target) -> bool {
        self.targets.contains(&Target::All) || self.targets.contains(&target)
    }
}

async fn bind(address: SocketAddr) -> Result<TcpListener, RunError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| RunError::Bind { address, source })
}

/// A URL for reaching `address` from this machine (the unspecified address becomes loopback).
fn local_url(address: SocketAddr) -> String {
    let host = if address.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        address.ip().to_string()
    };
    format!("http://{host}:{}", address.port())
}

/// Runs until SIGTERM or Ctrl-C, then drains.
pub async fn run(backends: Backends, config: RunConfig) -> Result<(), RunError> {
    let shutdown = callcenter_platform::shutdown::on_signals();
    let store = Arc::clone(&backends.store);
    let mut readiness = Readiness::new().with(EventLogCheck(Arc::clone(&store)));
    let mut grpc = GrpcServices::new();
    let mut tasks = JoinSet::new();
    let mut sip_address = None;

    // Bound first, so that services calling each other in this process know its address.
    // Every target but the gateway serves gRPC.
    let serves_grpc = config
        .targets
        .iter()
        .any(|target| *target != Target::Gateway);
    let grpc_listener = if serves_grpc {
        Some(bind(config.grpc).await?)
    } else {
        None
    };
    let grpc_address = match &grpc_listener {
        Some(listener) => listener.local_addr().ok(),
        None => None,
    };
    let own = grpc_address
        .map(local_url)
        .unwrap_or_else(|| local_url(config.grpc));
    // Where services reach each other: as given, or else this process.
    let overrides = &config.upstreams;
    let upstream = |given: &Option<String>| given.clone().unwrap_or_else(|| own.clone());
    let reporting_url = upstream(&overrides.reporting);
    let upstreams: Upstreams = [
        (
            "callcenter.telephony.v1.TelephonyService",
            upstream(&overrides.telephony),
        ),
        (
            "callcenter.telephony.v1.PartnerCallIntakeService",
            upstream(&overrides.telephony),
        ),
        (
            "callcenter.routing.v1.RoutingService",
            upstream(&overrides.routing),
        ),
        (
            "callcenter.reporting.v1.ReportingService",
            reporting_url.clone(),
        ),
        (
            "callcenter.workforce.v1.WorkforceService",
            upstream(&overrides.workforce),
        ),
    ]
    .into_iter()
    .map(|(service, url)| (service.to_owned(), url))
    .collect();

    if config.runs(Target::Telephony) {
        let app = Telephony::new(Arc::clone(&store));
        grpc.add(TelephonyGrpc::server(app.clone()));
        grpc.add(PartnerIntakeGrpc::server(
            app.clone(),
            Arc::clone(&store),
            shutdown.clone(),
        ));
        if let Some(sip) = config.sip {
            let gateway = SipGateway::bind(sip, app.clone(), Arc::clone(&store)).await?;
            sip_address = Some(gateway.local_addr());
            let stop = shutdown.clone();
            tasks.spawn(async move {
                gateway
                    .run(stop)
                    .await
                    .map_err(|error| format!("SIP gateway failed: {error}"))
            });
        }
        {
            let (store, app, stop) = (Arc::clone(&store), app.clone(), shutdown.clone());
            let timeout = config.ring_timeout;
            tasks.spawn(async move {
                run_ring_timer(store, app, timeout, stop).await;
                Ok(())
            });
        }
        let reactor = Arc::new(Ringer::new(app));
        let (store, stop) = (Arc::clone(&store), shutdown.clone());
        tasks.spawn(async move {
            run_reactor(store, reactor, stop).await;
            Ok(())
        });
    }
    if config.runs(Target::Routing) {
        let app = Routing::new(Arc::clone(&store));
        grpc.add(RoutingGrpc::server(app.clone()));
        let (store, stop) = (Arc::clone(&store), shutdown.clone());
        let (leases, partitions) = (Arc::clone(&backends.leases), config.routing_partitions);
        tasks.spawn(async move {
            run_partitioned_distributors(store, leases, app, partitions, stop).await;
            Ok(())
        });
    }
    if config.runs(Target::Workforce) {
        let app = Workforce::new(Arc::clone(&store));
        grpc.add(
            WorkforceGrpc::server(app.clone(), &reporting_url)
                .map_err(|error| RunError::Server(error.to_string()))?,
        );
        let (store, stop) = (Arc::clone(&store), shutdown.clone());
        tasks.spawn(async move {
            run_workforce_clerk(store, app, stop).await;
            Ok(())
        });
    }
    if config.runs(Target::Reporting) {
        let pool = backends
            .read_models
            .clone()
            .ok_or_else(|| RunError::Server("reporting needs a read-model database".into()))?;
        callcenter_reporting::migrate(&pool).await?;
        grpc.add(ReportingGrpc::server(pool.clone()));
        readiness = readiness.with(DatabaseCheck(pool.clone()));
        let projections: [Arc<dyn callcenter_kit::Projection>; 2] = [
            Arc::new(QueueCountsProjection),
            Arc::new(QueueViewProjection),
        ];
        for projection in projections {
            let name = projection.name().to_string();
            let runner = ProjectionRunner::new(Arc::clone(&store), pool.clone(), projection);
            readiness = readiness.with(ProjectionCheck {
                name,
                status: runner.status(),
            });
            let stop = shutdown.clone();
            tasks.spawn(async move {
                runner.run(stop).await;
                Ok(())
            });
        }
    }

    let http_listener = bind(config.http).await?;
    let http_address = http_listener
        .local_addr()
        .map_err(|source| RunError::Bind {
            address: config.http,
            source,
        })?;

    let mut http = health_router(readiness.clone());
    if config.runs(Target::Gateway) {
        let gateway = Gateway::new(&upstreams, Arc::clone(&config.verifier))
            .map_err(|error| RunError::Server(error.to_string()))?
            .ending_streams_on(shutdown.clone());
        http = http.merge(gateway.router());
    }
    let http = http.layer(TraceContextLayer::new("http"));

    if let Some(listener) = grpc_listener {
        let verifier = Arc::clone(&config.verifier);
        let readiness = readiness.clone();
        let stop = shutdown.clone();
        tasks.spawn(async move {
            let served = grpc
                .serve(listener, verifier, readiness, stop.clone())
                .await;
            served.map_err(|error| {
                stop.cancel();
                format!("gRPC server failed: {error}")
            })
        });
    }
    {
        let stop = shutdown.clone();
        tasks.spawn(async move {
            let served = axum::serve(http_listener, http)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .await;
            served.map_err(|error| {
                stop.cancel();
                format!("HTTP server failed: {error}")
            })
        });
    }

    let targets: Vec<&str> = config.targets.iter().map(|t| t.as_str()).collect();
    tracing::info!(
        http = %http_address,
        grpc = ?grpc_address,
        sip = ?sip_address,
        targets = ?targets,
        backend = store.backend(),
        "callcenter started"
    );
    // One machine-readable line for scripts and tests that start the binary.
    #[allow(clippy::print_stdout)]
    {
        let grpc_text = grpc_address.map(|a| a.to_string()).unwrap_or_default();
        let data = config
            .data_dir
            .map(|d| format!(" data={}", d.display()))
            .unwrap_or_default();
        let sip = sip_address.map(|a| format!(" sip={a}")).unwrap_or_default();
        println!("callcenter started http={http_address} grpc={grpc_text}{sip}{data}");
    }

    // Every task runs until shutdown: one that stops before (a panic, a server that failed)
    // stops the process, so that the orchestrator restarts it instead of it serving half-alive.
    let mut failure = None;
    tokio::select! {
        biased;
        () = shutdown.cancelled() => {}
        Some(joined) = tasks.join_next() => {
            let reason = match joined {
                // Stopping because shutdown was requested meanwhile is expected.
                Ok(Ok(())) if shutdown.is_cancelled() => None,
                Ok(Ok(())) => Some("a background task stopped unexpectedly".to_owned()),
                Ok(Err(error)) => Some(error),
                Err(join_error) => Some(format!("a background task panicked: {join_error}")),
            };
            if let Some(reason) = reason {
                tracing::error!(%reason, "stopping");
                failure = Some(reason);
            }
            shutdown.cancel();
        }
    }
    let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failure = Some(error),
                Err(join_error) => failure = Some(format!("a task panicked: {join_error}")),
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(deadline = ?DRAIN_DEADLINE, "requests still in flight at the drain deadline, stopping anyway");
        tasks.abort_all();
    }
    if let Some(pool) = backends.read_models {
        pool.close().await;
    }
    match failure {
        None => {
            tracing::info!("callcenter stopped");
            Ok(())
        }
        Some(error) => Err(RunError::Server(error)),
    }
}
