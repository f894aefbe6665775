//! Composes services into one process: binds the listeners, starts the selected services (each
//! puts what it serves and runs into a [`Context`]), serves gRPC and HTTP, runs their tasks, and
//! shuts everything down gracefully. Nothing here names a service.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use callcenter_eventlog::{EventStore, StoreError};
use callcenter_kit::db::DbError;
use callcenter_platform::health::health_router;
use callcenter_platform::service::{LeaseSource, Started, migrate};
use callcenter_platform::trace::TraceContextLayer;
use callcenter_platform::{Context, JwtVerifier, Service, StartError};
use sqlx::AnyPool;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How long a shutdown waits for in-flight requests and background batches (Kubernetes gives 30 s
/// by default before it kills the pod).
const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// The event log, the read-model database and leases.
pub struct Backends {
    /// The event log.
    pub store: Arc<dyn EventStore>,
    /// The read models (for services with migrations).
    pub read_models: Option<AnyPool>,
    /// Leases for single-writer work (routing partitions).
    pub leases: Arc<dyn LeaseSource>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("store", &self.store.backend())
            .field("read_models", &self.read_models.is_some())
            .finish_non_exhaustive()
    }
}

/// What to run and where.
pub struct RunConfig {
    /// Every service of the platform (configured).
    pub services: Vec<Box<dyn Service>>,
    /// The names of those this process runs.
    pub targets: Vec<String>,
    /// HTTP address.
    pub http: SocketAddr,
    /// gRPC address.
    pub grpc: SocketAddr,
    /// Token verifier.
    pub verifier: Arc<JwtVerifier>,
    /// Where services run elsewhere (name to gRPC URL); the others are this process.
    pub upstreams: BTreeMap<String, String>,
    /// The data directory, for the ready message.
    pub data_dir: Option<PathBuf>,
}

impl std::fmt::Debug for RunConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunConfig")
            .field("targets", &self.targets)
            .field("http", &self.http)
            .field("grpc", &self.grpc)
            .field("upstreams", &self.upstreams)
            .finish_non_exhaustive()
    }
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
    /// A service could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The demo tenant could not be loaded.
    #[error("loading the demo tenant: {0}")]
    Demo(callcenter_platform::ApiError),
    /// A server failed.
    #[error("{0}")]
    Server(String),
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

/// Whether the selected services need the read-model database.
pub fn needs_read_models(services: &[Box<dyn Service>], targets: &[String]) -> bool {
    services.iter().any(|service| {
        targets.iter().any(|t| t == service.name()) && !service.migrations().is_empty()
    })
}

/// Runs until SIGTERM or Ctrl-C, then drains.
pub async fn run(backends: Backends, config: RunConfig) -> Result<(), RunError> {
    let shutdown = callcenter_platform::shutdown::on_signals();
    let store = Arc::clone(&backends.store);
    let selected: Vec<&dyn Service> = config
        .services
        .iter()
        .filter(|service| config.targets.iter().any(|t| t == service.name()))
        .map(|service| &**service)
        .collect();

    // Bound first, so that services calling each other in this process know its address.
    let serves_grpc = selected.iter().any(|s| !s.grpc_services().is_empty());
    let grpc_listener = if serves_grpc {
        Some(bind(config.grpc).await?)
    } else {
        None
    };
    let grpc_address = grpc_listener.as_ref().and_then(|l| l.local_addr().ok());
    let own = local_url(grpc_address.unwrap_or(config.grpc));
    // Where services reach each other: as given, or else this process.
    let upstreams: BTreeMap<String, String> = config
        .services
        .iter()
        .map(|service| {
            let url = config.upstreams.get(service.name()).unwrap_or(&own);
            (service.name().to_owned(), url.clone())
        })
        .collect();

    if let Some(pool) = &backends.read_models {
        migrate(pool, selected.iter().copied()).await?;
    }
    let mut context = Context::new(
        Arc::clone(&store),
        backends.read_models.clone(),
        Arc::clone(&backends.leases),
        Arc::clone(&config.verifier),
        shutdown.clone(),
        upstreams,
        &config.services,
    );
    for service in &selected {
        service.start(&mut context).await?;
    }
    let Started {
        grpc,
        http: service_routes,
        tasks: service_tasks,
        readiness,
        announced,
        consumers,
    } = context.finish();
    let _lag_gauges = callcenter_platform::metrics::observe_consumers(consumers);

    let http_listener = bind(config.http).await?;
    let http_address = http_listener
        .local_addr()
        .map_err(|source| RunError::Bind {
            address: config.http,
            source,
        })?;
    let http = health_router(readiness.clone())
        .merge(callcenter_platform::metrics::metrics_router())
        .merge(service_routes)
        .layer(TraceContextLayer::new("http"));

    let mut tasks = JoinSet::new();
    for (name, task) in service_tasks {
        tasks.spawn(async move { task.await.map_err(|error| format!("{name}: {error}")) });
    }
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

    tracing::info!(
        http = %http_address,
        grpc = ?grpc_address,
        announced = ?announced,
        targets = ?config.targets,
        backend = store.backend(),
        "callcenter started"
    );
    // One machine-readable line for scripts and tests that start the binary.
    #[allow(clippy::print_stdout)]
    {
        let grpc_text = grpc_address.map(|a| a.to_string()).unwrap_or_default();
        let mut line = format!("callcenter started http={http_address} grpc={grpc_text}");
        for (key, value) in &announced {
            line.push_str(&format!(" {key}={value}"));
        }
        if let Some(data_dir) = &config.data_dir {
            line.push_str(&format!(" data={}", data_dir.display()));
        }
        println!("{line}");
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

/// Applies every service's migrations (`callcenter migrate`).
pub async fn migrate_all(pool: &AnyPool, services: &[Box<dyn Service>]) -> Result<(), DbError> {
    migrate(pool, services.iter().map(|service| &**service)).await
}
