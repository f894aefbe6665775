//! How a service declares itself once: its name, the gRPC services it serves, the services it
//! calls, its read models' migrations, its own settings, and what it runs when it starts (gRPC
//! and HTTP routes, background consumers, reactors, projections, readiness checks). The binary,
//! `callcenter migrate`, the gateway's upstreams, readiness and the Helm chart iterate over the
//! list of services; nothing else names a service.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use callcenter_eventlog::lease::Leases;
use callcenter_eventlog::{EventStore, StoreError};
use callcenter_kit::db::{DbError, MigrationSource};
use callcenter_kit::{
    Consumer, ConsumerStatus, Projection, ProjectionRunner, Reactor, run_consumer, run_reactor,
};
use sqlx::AnyPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;

use crate::auth::JwtVerifier;
use crate::grpc::GrpcServices;
use crate::health::{CaughtUpCheck, DatabaseCheck, Readiness, ReadinessCheck};
use crate::reason::Reason;

/// A service's read-model migrations: the history table and the migrations, in order.
#[derive(Clone, Copy, Debug)]
pub struct Migrations {
    /// The table that keeps which migrations ran, such as `_migrations_reporting`.
    pub table: &'static str,
    /// The migrations.
    pub migrations: &'static [MigrationSource],
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
#[error("{service}: {reason}")]
pub struct StartError {
    /// The service.
    pub service: &'static str,
    /// Why.
    pub reason: String,
}

/// One service of the platform.
#[async_trait::async_trait]
pub trait Service: Send + Sync {
    /// Its name: the `--target` that runs it, its chart entry and its upstream name.
    fn name(&self) -> &'static str;

    /// What it is, for `--help`.
    fn about(&self) -> &'static str;

    /// The full names of the gRPC services it serves (how callers find it).
    fn grpc_services(&self) -> &'static [&'static str] {
        &[]
    }

    /// The services it calls, by name.
    fn upstreams(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether it calls every service that serves gRPC (the gateway).
    fn calls_every_service(&self) -> bool {
        false
    }

    /// Its read models' migrations; a service with any needs the read-model database.
    fn migrations(&self) -> &'static [Migrations] {
        &[]
    }

    /// The catalogue of reasons its API answers errors with, besides the platform's
    /// ([`crate::reason::PLATFORM`]); declared with [`crate::reasons!`].
    fn reasons(&self) -> &'static [Reason] {
        &[]
    }

    /// Its own settings, as command-line flags (each with its environment variable).
    fn args(&self) -> Vec<clap::Arg> {
        Vec::new()
    }

    /// Takes its settings from the parsed command line.
    fn configure(&mut self, _matches: &clap::ArgMatches) -> Result<(), String> {
        Ok(())
    }

    /// Starts it: what it serves and runs goes into `context`.
    async fn start(&self, context: &mut Context) -> Result<(), StartError>;
}

/// The flags of a settings struct (`#[derive(clap::Args)]`), for [`Service::args`].
pub fn settings_args<A: clap::Args>() -> Vec<clap::Arg> {
    A::augment_args(clap::Command::new("settings"))
        .get_arguments()
        .cloned()
        .collect()
}

/// A settings struct from the parsed command line, for [`Service::configure`].
pub fn settings_from<A: clap::FromArgMatches>(matches: &clap::ArgMatches) -> Result<A, String> {
    A::from_arg_matches(matches).map_err(|error| error.to_string())
}

/// Applies every migration of `services` to `pool` (the kit's own tables first).
pub async fn migrate<'a>(
    pool: &AnyPool,
    services: impl IntoIterator<Item = &'a dyn Service>,
) -> Result<(), DbError> {
    callcenter_kit::db::migrate_kit(pool).await?;
    for service in services {
        for migrations in service.migrations() {
            callcenter_kit::db::migrate(pool, migrations.table, migrations.migrations).await?;
        }
    }
    Ok(())
}

/// Where single-writer work gets its leases: a JetStream key-value bucket in production, the
/// process's own table in the embedded mode.
#[async_trait::async_trait]
pub trait LeaseSource: Send + Sync {
    /// Leases that expire `time_to_live` after their last renewal.
    async fn open(&self, time_to_live: Duration) -> Result<Arc<dyn Leases>, StoreError>;
}

/// The reasons of the platform and of `services`, each with the service that declares it.
pub fn catalogue(services: &[Box<dyn Service>]) -> Vec<(&'static str, Reason)> {
    let platform = crate::reason::PLATFORM
        .iter()
        .map(|reason| ("platform", *reason));
    let declared = services.iter().flat_map(|service| {
        let name = service.name();
        service.reasons().iter().map(move |reason| (name, *reason))
    });
    platform.chain(declared).collect()
}

/// A task that runs until shutdown; its end before shutdown stops the process.
pub type Task = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A running consumer's name and status, for the lag metric.
pub type ConsumerWatch = (String, watch::Receiver<ConsumerStatus>);

/// What a starting service gets from the process, and where it puts what it serves and runs.
pub struct Context {
    /// The event log.
    pub store: Arc<dyn EventStore>,
    /// The read-model database, for services with migrations.
    pub read_models: Option<AnyPool>,
    /// Leases for single-writer work.
    pub leases: Arc<dyn LeaseSource>,
    /// Cancelled when the process stops.
    pub shutdown: CancellationToken,
    /// Verifies tokens.
    pub verifier: Arc<JwtVerifier>,
    upstreams: BTreeMap<String, String>,
    grpc_upstreams: BTreeMap<String, String>,
    reasons: Vec<(&'static str, Reason)>,
    grpc: GrpcServices,
    http: axum::Router,
    tasks: Vec<(String, Task)>,
    readiness: Readiness,
    announced: Vec<(String, String)>,
    consumers: Vec<ConsumerWatch>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("upstreams", &self.upstreams)
            .field("grpc", &self.grpc)
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

/// What the started services serve and run, for the process to serve and run.
pub struct Started {
    /// The gRPC services.
    pub grpc: GrpcServices,
    /// The HTTP routes.
    pub http: axum::Router,
    /// The tasks, by name.
    pub tasks: Vec<(String, Task)>,
    /// What the process must wait for before it is ready.
    pub readiness: Readiness,
    /// `key=value` facts for the start line (such as `sip=` the SIP address).
    pub announced: Vec<(String, String)>,
    /// The background consumers' statuses.
    pub consumers: Vec<ConsumerWatch>,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tasks: Vec<&str> = self.tasks.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Started")
            .field("grpc", &self.grpc)
            .field("tasks", &tasks)
            .field("readiness", &self.readiness)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context on `store` and `leases`, reaching services at `upstreams` (service name to URL;
    /// `services` say which gRPC services each one serves).
    pub fn new(
        store: Arc<dyn EventStore>,
        read_models: Option<AnyPool>,
        leases: Arc<dyn LeaseSource>,
        verifier: Arc<JwtVerifier>,
        shutdown: CancellationToken,
        upstreams: BTreeMap<String, String>,
        services: &[Box<dyn Service>],
    ) -> Self {
        let grpc_upstreams = services
            .iter()
            .filter_map(|service| {
                let url = upstreams.get(service.name())?;
                Some(
                    service
                        .grpc_services()
                        .iter()
                        .map(|grpc| (grpc.to_string(), url.clone())),
                )
            })
            .flatten()
            .collect();
        let reasons = catalogue(services);
        let mut readiness = Readiness::new().with(crate::health::EventLogCheck(Arc::clone(&store)));
        if let Some(pool) = &read_models {
            readiness = readiness.with(DatabaseCheck(pool.clone()));
        }
        Self {
            store,
            read_models,
            leases,
            shutdown,
            verifier,
            upstreams,
            grpc_upstreams,
            reasons,
            grpc: GrpcServices::new(),
            http: axum::Router::new(),
            tasks: Vec::new(),
            readiness,
            announced: Vec::new(),
            consumers: Vec::new(),
        }
    }

    /// The URL of the service `name`'s gRPC API.
    pub fn upstream(&self, name: &str) -> Result<String, String> {
        self.upstreams
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no upstream {name}"))
    }

    /// Every gRPC service of the platform, by full name, with the URL that serves it.
    pub fn grpc_upstreams(&self) -> &BTreeMap<String, String> {
        &self.grpc_upstreams
    }

    /// Every reason the platform's APIs answer errors with, each with the service that
    /// declares it (`platform` for the shared ones).
    pub fn reasons(&self) -> &[(&'static str, Reason)] {
        &self.reasons
    }

    /// The read-model database; an error for a service that declared no migrations.
    pub fn read_models(&self, service: &'static str) -> Result<AnyPool, StartError> {
        self.read_models.clone().ok_or_else(|| StartError {
            service,
            reason: "needs a read-model database".into(),
        })
    }

    /// Serves a generated tonic service.
    pub fn serve_grpc<S>(&mut self, service: S)
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
        self.grpc.add(service);
    }

    /// Serves HTTP routes.
    pub fn serve_http(&mut self, router: axum::Router) {
        self.http = std::mem::take(&mut self.http).merge(router);
    }

    /// Runs a task until shutdown; if it ends before, the process stops (so that the
    /// orchestrator restarts it).
    pub fn spawn(
        &mut self,
        name: impl Into<String>,
        task: impl Future<Output = Result<(), String>> + Send + 'static,
    ) {
        self.tasks.push((name.into(), Box::pin(task)));
    }

    /// Runs a background consumer on the kit's runner until shutdown; its status feeds the lag
    /// metric, and the process is ready once it has caught up.
    pub fn consume(&mut self, consumer: impl Consumer) {
        let check = self.spawn_consumer(consumer);
        self.check(check);
    }

    /// Runs a background consumer that the process's traffic does not wait for (what it
    /// publishes others see late while it catches up): as [`Context::consume`], but its lag
    /// shows only in the metric, not in readiness.
    pub fn consume_off_critical_path(&mut self, consumer: impl Consumer) {
        self.spawn_consumer(consumer);
    }

    /// Spawns `consumer` on the runner; its readiness check, for the caller to add or not.
    fn spawn_consumer(&mut self, mut consumer: impl Consumer) -> CaughtUpCheck {
        let name = consumer.subscription().name.to_string();
        let (status, check) = self.watched("consumer", &name);
        let (store, shutdown) = (Arc::clone(&self.store), self.shutdown.clone());
        self.spawn(format!("consumer {name}"), async move {
            run_consumer(&*store, &mut consumer, &status, &shutdown).await;
            Ok(())
        });
        check
    }

    /// The status of a consumer that the service runs itself (such as one per partition it
    /// holds), for the lag metric.
    pub fn watch_consumer(&mut self, name: impl Into<String>) -> watch::Sender<ConsumerStatus> {
        self.watched("consumer", &name.into()).0
    }

    /// Runs a reactor (a process manager) until shutdown; the process is ready once it has
    /// caught up.
    pub fn react(&mut self, reactor: Arc<dyn Reactor>) {
        let name = reactor.name().to_string();
        let (status, check) = self.watched("reactor", &name);
        self.check(check);
        let (store, shutdown) = (Arc::clone(&self.store), self.shutdown.clone());
        self.spawn(format!("reactor {name}"), async move {
            run_reactor(store, reactor, &status, shutdown).await;
            Ok(())
        });
    }

    /// A new status for the lag metric of `name`, and the readiness check that watches it.
    fn watched(
        &mut self,
        kind: &'static str,
        name: &str,
    ) -> (watch::Sender<ConsumerStatus>, CaughtUpCheck) {
        let status = watch::Sender::new(ConsumerStatus::default());
        self.consumers.push((name.to_owned(), status.subscribe()));
        let check = CaughtUpCheck {
            kind,
            name: name.to_owned(),
            status: status.subscribe(),
        };
        (status, check)
    }

    /// Runs a projection into the read-model database until shutdown; the process is ready once
    /// it has caught up.
    pub fn project(
        &mut self,
        service: &'static str,
        projection: Arc<dyn Projection>,
    ) -> Result<(), StartError> {
        let pool = self.read_models(service)?;
        let name = projection.name().to_string();
        let runner = ProjectionRunner::new(Arc::clone(&self.store), pool, projection);
        self.consumers.push((name.clone(), runner.status()));
        self.check(CaughtUpCheck {
            kind: "projection",
            name: name.clone(),
            status: runner.status(),
        });
        let shutdown = self.shutdown.clone();
        self.spawn(format!("projection {name}"), async move {
            runner.run(shutdown).await;
            Ok(())
        });
        Ok(())
    }

    /// Adds a readiness check.
    pub fn check(&mut self, check: impl ReadinessCheck + 'static) {
        self.readiness = std::mem::take(&mut self.readiness).with(check);
    }

    /// Adds `key=value` to the process's start line (an address a script needs).
    pub fn announce(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.announced.push((key.into(), value.into()));
    }

    /// What the services serve and run.
    pub fn finish(self) -> Started {
        Started {
            grpc: self.grpc,
            http: self.http,
            tasks: self.tasks,
            readiness: self.readiness,
            announced: self.announced,
            consumers: self.consumers,
        }
    }
}
