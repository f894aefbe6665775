//! `callcenter`: the whole platform in one binary.
//!
//! - `callcenter dev`: every service in one process on the embedded event log (SQLite), state in a
//!   local data directory; nothing else to install.
//! - `callcenter serve --target <service>|all`: the same services on NATS JetStream and PostgreSQL.
//! - `callcenter migrate`: applies the read-model migrations.
//! - `callcenter token`: prints a token that a running instance accepts.

mod demo;
mod roster;
mod run;
mod services;
mod simulate;
mod staffing;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use std::collections::BTreeMap;
use std::time::Duration;

use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
use callcenter_eventlog::lease::{JetStreamLeases, Leases, LocalLeases};
use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_eventlog::{EventStore, Name, StoreError};
use callcenter_platform::config::TelemetryArgs;
use callcenter_platform::service::LeaseSource;
use callcenter_platform::{JwtIssuer, JwtVerifier, Role, Secret, Service};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::run::{Backends, RunConfig};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The call-center platform.
#[derive(Parser, Debug)]
#[command(name = "callcenter", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs every service in one process on the embedded backend (no server to install).
    Dev(DevArgs),
    /// Runs services on NATS JetStream and PostgreSQL (production).
    Serve(ServeArgs),
    /// Applies the read-model database migrations and exits.
    Migrate(MigrateArgs),
    /// Prints a token that a running instance accepts.
    Token(TokenArgs),
    /// Drives scripted agents and callers against a running instance and reports service level,
    /// ASA, abandonment and routing latency per interval.
    Simulate(simulate::SimulateArgs),
    /// Prints as JSON the agents one interval needs (raw and with shrinkage), with the service
    /// level, average speed of answer and occupancy they give.
    #[command(subcommand)]
    Staffing(staffing::StaffingCommand),
    /// Prints the services as JSON: name, gRPC services, the services each calls, and whether
    /// it keeps read models (what the Helm chart's `services` map must agree with).
    Services,
    /// Solves a roster (`callcenter-roster/v1`): every hard rule kept, coverage, requests and
    /// preferences as the objective; each unmet requirement and broken request explained.
    #[command(subcommand)]
    Roster(roster::RosterCommand),
}

#[derive(clap::Args, Debug)]
struct DevArgs {
    /// Where the event log, the read models and the development signing key live.
    #[arg(long, env = "CALLCENTER_DATA_DIR", default_value = ".callcenter-data")]
    data_dir: PathBuf,
    /// HTTP address (gateway API and /healthz).
    #[arg(long, env = "CALLCENTER_HTTP", default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// gRPC address (every service's API, health and reflection).
    #[arg(long, env = "CALLCENTER_GRPC", default_value = "127.0.0.1:50051")]
    grpc: SocketAddr,
    /// Do not load the demo tenant into an empty data directory.
    #[arg(long)]
    no_demo: bool,
    /// Token signing secret (default: one generated into the data directory).
    #[arg(long, env = "CALLCENTER_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Which services to run: `all`, or names separated by commas (`routing,telephony`).
    #[arg(
        long,
        env = "CALLCENTER_TARGET",
        value_delimiter = ',',
        required = true
    )]
    target: Vec<String>,
    /// NATS server with JetStream.
    #[arg(
        long,
        env = "CALLCENTER_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    nats_url: String,
    /// First subject token and stream name prefix of the event log.
    #[arg(long, env = "CALLCENTER_STREAM_PREFIX", default_value = "cc")]
    stream_prefix: String,
    /// Replicas of the event log stream (3 in a NATS cluster).
    #[arg(long, env = "CALLCENTER_STREAM_REPLICAS", default_value_t = 1)]
    stream_replicas: usize,
    /// PostgreSQL URL of the read models (needed by reporting).
    #[arg(long, env = "CALLCENTER_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// HTTP address (/healthz, and the API for the gateway).
    #[arg(long, env = "CALLCENTER_HTTP", default_value = "0.0.0.0:8080")]
    http: SocketAddr,
    /// gRPC address.
    #[arg(long, env = "CALLCENTER_GRPC", default_value = "0.0.0.0:50051")]
    grpc: SocketAddr,
    /// Token signing secret (HS256), shared by every service.
    #[arg(long, env = "CALLCENTER_JWT_SECRET", hide_env_values = true)]
    jwt_secret: String,
    /// Where a service that this process does not run is reached: `name=http://host:port`
    /// (repeatable; or `CALLCENTER_UPSTREAM_<NAME>`). Services without one are this process.
    #[arg(long = "upstream", value_name = "NAME=URL")]
    upstreams: Vec<String>,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

#[derive(clap::Args, Debug)]
struct MigrateArgs {
    /// PostgreSQL (or `sqlite:`) URL of the read models.
    #[arg(long, env = "CALLCENTER_DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

#[derive(clap::Args, Debug)]
struct TokenArgs {
    /// The tenant the token is for.
    #[arg(long)]
    tenant: String,
    /// Comma-separated roles, such as `tenant_admin` or `agent`.
    #[arg(long, value_delimiter = ',', required = true)]
    roles: Vec<String>,
    /// Who the token is for (an agent's token has the agent id).
    #[arg(long, default_value = "admin")]
    subject: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 12 * 3600)]
    ttl_seconds: u64,
    /// The data directory of the `callcenter dev` instance whose key signs the token.
    #[arg(long, env = "CALLCENTER_DATA_DIR", default_value = ".callcenter-data")]
    data_dir: PathBuf,
    /// Signing secret (instead of the data directory's).
    #[arg(long, env = "CALLCENTER_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
}

/// Errors that end the process with a message.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Run(#[from] run::RunError),
}

/// Parses the command line, with each service's own settings on `dev` and `serve`, and
/// configures the services from it.
fn parse(services: &mut [Box<dyn Service>]) -> Result<Cli, clap::Error> {
    let names: Vec<&str> = services.iter().map(|service| service.name()).collect();
    let mut targets = String::from("the services:");
    for service in services.iter() {
        targets.push_str(&format!("\n  {}: {}", service.name(), service.about()));
    }
    let mut command = Cli::command();
    for subcommand in ["dev", "serve"] {
        command = command.mut_subcommand(subcommand, |mut command| {
            for service in services.iter() {
                command = command.args(service.args());
            }
            command.after_help(targets.clone())
        });
    }
    let matches = command.get_matches();
    let cli = Cli::from_arg_matches(&matches)?;
    if let Some((_, matches)) = matches.subcommand()
        && matches!(cli.command, Command::Dev(_) | Command::Serve(_))
    {
        for service in services.iter_mut() {
            service.configure(matches).map_err(|message| {
                Cli::command().error(clap::error::ErrorKind::ValueValidation, message)
            })?;
        }
    }
    if let Command::Serve(args) = &cli.command {
        for target in &args.target {
            if target != "all" && !names.contains(&target.as_str()) {
                let message = format!("--target {target}: one of all, {}", names.join(", "));
                return Err(Cli::command().error(clap::error::ErrorKind::InvalidValue, message));
            }
        }
    }
    Ok(cli)
}

fn main() -> ExitCode {
    let mut services = services::all();
    let cli = match parse(&mut services) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("callcenter: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli.command, services)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("callcenter: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, services: Vec<Box<dyn Service>>) -> Result<(), CliError> {
    match command {
        Command::Dev(args) => dev(args, services).await,
        Command::Serve(args) => serve(args, services).await,
        Command::Migrate(args) => {
            let pool = callcenter_kit::db::connect(&args.database_url)
                .await
                .map_err(run::RunError::from)?;
            run::migrate_all(&pool, &services)
                .await
                .map_err(run::RunError::from)?;
            pool.close().await;
            eprintln!("callcenter: migrations applied");
            Ok(())
        }
        Command::Token(args) => token(args),
        Command::Services => {
            #[allow(clippy::print_stdout)]
            {
                println!("{}", services::describe(&services));
            }
            Ok(())
        }
        Command::Simulate(args) => simulate::simulate(args).await.map_err(CliError::Usage),
        Command::Roster(command) => {
            let line = roster::roster(&command).map_err(CliError::Usage)?;
            #[allow(clippy::print_stdout)]
            {
                println!("{line}");
            }
            Ok(())
        }
        Command::Staffing(command) => {
            let json = staffing::staffing(&command).map_err(CliError::Usage)?;
            #[allow(clippy::print_stdout)]
            {
                println!("{json}");
            }
            Ok(())
        }
    }
}

/// The development signing secret of a data directory, created on first use.
fn dev_secret(data_dir: &Path) -> Result<Secret, CliError> {
    let path = data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(Secret::new(existing));
        }
    }
    std::fs::create_dir_all(data_dir).map_err(|error| {
        CliError::Usage(format!("cannot create {}: {error}", data_dir.display()))
    })?;
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    write_private_file(&path, &secret)
        .map_err(|error| CliError::Usage(format!("cannot write {}: {error}", path.display())))?;
    Ok(Secret::new(secret))
}

/// Writes a file that only its owner may read.
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

fn token(args: TokenArgs) -> Result<(), CliError> {
    let tenant = Name::new(&args.tenant).map_err(|error| CliError::Usage(error.to_string()))?;
    let roles = args
        .roles
        .iter()
        .map(|role| role.trim().parse::<Role>())
        .collect::<Result<Vec<Role>, String>>()
        .map_err(CliError::Usage)?;
    if args.subject.trim().is_empty() {
        return Err(CliError::Usage("--subject must not be empty".into()));
    }
    let secret = match args.jwt_secret {
        Some(secret) => Secret::new(secret),
        None => {
            if !args.data_dir.join("jwt-secret").exists() {
                return Err(CliError::Usage(format!(
                    "no signing key in {}: start `callcenter dev` there first, or pass --jwt-secret",
                    args.data_dir.display()
                )));
            }
            dev_secret(&args.data_dir)?
        }
    };
    let token = JwtIssuer::hs256(&secret)
        .issue(&tenant, args.subject.trim(), &roles, args.ttl_seconds)
        .map_err(|error| CliError::Usage(error.to_string()))?;
    #[allow(clippy::print_stdout)]
    {
        println!("{token}");
    }
    Ok(())
}

/// The process's own leases (the embedded mode runs every service once).
#[derive(Debug, Default)]
struct ProcessLeases(Arc<LocalLeases>);

#[async_trait::async_trait]
impl LeaseSource for ProcessLeases {
    async fn open(&self, _time_to_live: Duration) -> Result<Arc<dyn Leases>, StoreError> {
        Ok(Arc::clone(&self.0) as Arc<dyn Leases>)
    }
}

/// Leases in a JetStream key-value bucket of the event log's NATS.
#[derive(Debug)]
struct NatsLeases {
    url: String,
    prefix: Name,
}

#[async_trait::async_trait]
impl LeaseSource for NatsLeases {
    async fn open(&self, time_to_live: Duration) -> Result<Arc<dyn Leases>, StoreError> {
        let leases = JetStreamLeases::connect(&self.url, &self.prefix, time_to_live).await?;
        Ok(Arc::new(leases))
    }
}

/// Where services this process does not run are reached: `--upstream name=url`, then
/// `CALLCENTER_UPSTREAM_<NAME>`.
fn upstream_overrides(
    given: &[String],
    services: &[Box<dyn Service>],
) -> Result<BTreeMap<String, String>, CliError> {
    let mut upstreams = BTreeMap::new();
    for service in services {
        let variable = format!("CALLCENTER_UPSTREAM_{}", service.name().to_uppercase());
        if let Ok(url) = std::env::var(&variable)
            && !url.is_empty()
        {
            upstreams.insert(service.name().to_owned(), url);
        }
    }
    for entry in given {
        let (name, url) = entry
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--upstream {entry}: expected NAME=URL")))?;
        if !services.iter().any(|service| service.name() == name) {
            return Err(CliError::Usage(format!(
                "--upstream {entry}: no service {name}"
            )));
        }
        upstreams.insert(name.to_owned(), url.to_owned());
    }
    Ok(upstreams)
}

async fn dev(args: DevArgs, services: Vec<Box<dyn Service>>) -> Result<(), CliError> {
    let _telemetry = callcenter_telemetry::init(&args.telemetry.config("callcenter-dev"))
        .map_err(|error| CliError::Usage(error.to_string()))?;
    std::fs::create_dir_all(&args.data_dir).map_err(|error| {
        CliError::Usage(format!(
            "cannot create data directory {}: {error}",
            args.data_dir.display()
        ))
    })?;
    let events_path = args.data_dir.join("events.db");
    let first_start = !events_path.exists();
    let secret = match args.jwt_secret {
        Some(secret) => Secret::new(secret),
        None => dev_secret(&args.data_dir)?,
    };
    let store: Arc<dyn EventStore> = Arc::new(
        SqliteEventStore::open(&events_path)
            .await
            .map_err(run::RunError::from)?,
    );
    let read_models_url = format!("sqlite://{}", args.data_dir.join("readmodels.db").display());
    let pool = callcenter_kit::db::connect(&read_models_url)
        .await
        .map_err(run::RunError::from)?;
    if first_start && !args.no_demo {
        demo::load(&store).await.map_err(run::RunError::Demo)?;
        tracing::info!(
            "loaded the demo tenant `demo` (see README: queues general and repairs, agents agent-1..3, number 4000)"
        );
    }
    let config = RunConfig {
        targets: services.iter().map(|s| s.name().to_owned()).collect(),
        services,
        http: args.http,
        grpc: args.grpc,
        verifier: Arc::new(JwtVerifier::hs256(&secret)),
        upstreams: BTreeMap::new(),
        data_dir: Some(args.data_dir),
    };
    let backends = Backends {
        store,
        read_models: Some(pool),
        leases: Arc::new(ProcessLeases::default()),
    };
    run::run(backends, config).await?;
    Ok(())
}

async fn serve(args: ServeArgs, services: Vec<Box<dyn Service>>) -> Result<(), CliError> {
    let targets: Vec<String> = if args.target.iter().any(|target| target == "all") {
        services.iter().map(|s| s.name().to_owned()).collect()
    } else {
        args.target.clone()
    };
    let service_name = format!("callcenter-{}", args.target.join("-"));
    let _telemetry = callcenter_telemetry::init(&args.telemetry.config(&service_name))
        .map_err(|error| CliError::Usage(error.to_string()))?;
    if args.jwt_secret.len() < 32 {
        return Err(CliError::Usage(
            "--jwt-secret (CALLCENTER_JWT_SECRET) must be at least 32 characters".into(),
        ));
    }
    let upstreams = upstream_overrides(&args.upstreams, &services)?;
    let prefix =
        Name::new(&args.stream_prefix).map_err(|error| CliError::Usage(error.to_string()))?;
    let mut jetstream = JetStreamConfig::new(prefix.clone());
    jetstream.replicas = args.stream_replicas.max(1);
    let store: Arc<dyn EventStore> = Arc::new(
        JetStreamEventStore::connect(&args.nats_url, jetstream)
            .await
            .map_err(run::RunError::from)?,
    );
    let read_models = match (
        &args.database_url,
        run::needs_read_models(&services, &targets),
    ) {
        (Some(url), true) => Some(
            callcenter_kit::db::connect(url)
                .await
                .map_err(run::RunError::from)?,
        ),
        (None, true) => {
            return Err(CliError::Usage(format!(
                "--database-url (CALLCENTER_DATABASE_URL) is needed for --target {}",
                args.target.join(",")
            )));
        }
        (_, false) => None,
    };
    let config = RunConfig {
        services,
        targets,
        http: args.http,
        grpc: args.grpc,
        verifier: Arc::new(JwtVerifier::hs256(&Secret::new(args.jwt_secret))),
        upstreams,
        data_dir: None,
    };
    let backends = Backends {
        store,
        read_models,
        leases: Arc::new(NatsLeases {
            url: args.nats_url,
            prefix,
        }),
    };
    run::run(backends, config).await?;
    Ok(())
}
