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
mod simulate;
mod staffing;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
use callcenter_eventlog::lease::{JetStreamLeases, Leases, LocalLeases};
use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_eventlog::{EventStore, Name};
use callcenter_platform::config::TelemetryArgs;
use callcenter_platform::{JwtIssuer, JwtVerifier, Role, Secret};
use callcenter_telephony::sip::SipConfig;
use clap::{Parser, Subcommand};

use crate::run::{Backends, RunConfig, Target};

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
    telephony: TelephonyArgs,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

/// Telephony: the SIP gateway and the ring timeout.
#[derive(clap::Args, Debug)]
struct TelephonyArgs {
    /// Seconds a call may ring an agent before it counts as missed and waits in its queue again
    /// (agents answer within three rings).
    #[arg(long, env = "CALLCENTER_RING_TIMEOUT_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=300))]
    ring_timeout_seconds: u64,
    /// Accept SIP calls on this UDP and TCP address (such as `0.0.0.0:5060`); off without it.
    #[arg(long, env = "CALLCENTER_SIP")]
    sip: Option<SocketAddr>,
    /// The media server that receives callers' RTP, put in the SDP answer (default: the SIP
    /// address's host, port 10000). This process handles no media.
    #[arg(long, env = "CALLCENTER_SIP_MEDIA")]
    sip_media: Option<SocketAddr>,
}

impl TelephonyArgs {
    fn ring_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ring_timeout_seconds)
    }

    fn sip_config(&self) -> Result<Option<SipConfig>, CliError> {
        let Some(listen) = self.sip else {
            return Ok(None);
        };
        let media = match self.sip_media {
            Some(media) => media,
            None if listen.ip().is_unspecified() => {
                return Err(CliError::Usage(
                    "--sip on every interface needs --sip-media: the address callers send media to"
                        .into(),
                ));
            }
            None => SocketAddr::new(listen.ip(), 10_000),
        };
        Ok(Some(SipConfig { listen, media }))
    }
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Which service to run, or all of them.
    #[arg(long, env = "CALLCENTER_TARGET", value_enum)]
    target: Target,
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
    /// The gateway's upstream for telephony (default: this process's gRPC address).
    #[arg(long, env = "CALLCENTER_TELEPHONY_URL")]
    telephony_url: Option<String>,
    /// The gateway's upstream for routing (default: this process's gRPC address).
    #[arg(long, env = "CALLCENTER_ROUTING_URL")]
    routing_url: Option<String>,
    /// The gateway's upstream for reporting (default: this process's gRPC address).
    #[arg(long, env = "CALLCENTER_REPORTING_URL")]
    reporting_url: Option<String>,
    /// The gateway's upstream for workforce (default: this process's gRPC address).
    #[arg(long, env = "CALLCENTER_WORKFORCE_URL")]
    workforce_url: Option<String>,
    /// Routing partitions: tenants are split into this many, each routed by one replica at a
    /// time (every replica of a deployment must use the same number).
    #[arg(long, env = "CALLCENTER_ROUTING_PARTITIONS", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    routing_partitions: u32,
    /// How long a routing replica's lease on a partition lasts without renewal: a dead owner's
    /// partitions are taken over within this time.
    #[arg(long, env = "CALLCENTER_LEASE_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    lease_seconds: u64,
    #[command(flatten)]
    telephony: TelephonyArgs,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    match runtime.block_on(execute(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("callcenter: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command) -> Result<(), CliError> {
    match command {
        Command::Dev(args) => dev(args).await,
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => {
            let pool = callcenter_kit::db::connect(&args.database_url)
                .await
                .map_err(run::RunError::from)?;
            callcenter_reporting::migrate(&pool)
                .await
                .map_err(run::RunError::from)?;
            pool.close().await;
            eprintln!("callcenter: migrations applied");
            Ok(())
        }
        Command::Token(args) => token(args),
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

async fn dev(args: DevArgs) -> Result<(), CliError> {
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
        targets: vec![Target::All],
        http: args.http,
        grpc: args.grpc,
        verifier: Arc::new(JwtVerifier::hs256(&secret)),
        upstreams: run::UpstreamOverrides::default(),
        sip: args.telephony.sip_config()?,
        ring_timeout: args.telephony.ring_timeout(),
        routing_partitions: 1,
        data_dir: Some(args.data_dir),
    };
    run::run(
        Backends {
            store,
            read_models: Some(pool),
            leases: Arc::new(LocalLeases::default()),
        },
        config,
    )
    .await?;
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let service_name = format!("callcenter-{}", args.target.as_str());
    let _telemetry = callcenter_telemetry::init(&args.telemetry.config(&service_name))
        .map_err(|error| CliError::Usage(error.to_string()))?;
    if args.jwt_secret.len() < 32 {
        return Err(CliError::Usage(
            "--jwt-secret (CALLCENTER_JWT_SECRET) must be at least 32 characters".into(),
        ));
    }
    let prefix =
        Name::new(&args.stream_prefix).map_err(|error| CliError::Usage(error.to_string()))?;
    let mut jetstream = JetStreamConfig::new(prefix.clone());
    jetstream.replicas = args.stream_replicas.max(1);
    let store: Arc<dyn EventStore> = Arc::new(
        JetStreamEventStore::connect(&args.nats_url, jetstream)
            .await
            .map_err(run::RunError::from)?,
    );
    let needs_database = matches!(args.target, Target::Reporting | Target::All);
    let read_models = match (&args.database_url, needs_database) {
        (Some(url), true) => Some(
            callcenter_kit::db::connect(url)
                .await
                .map_err(run::RunError::from)?,
        ),
        (None, true) => {
            return Err(CliError::Usage(format!(
                "--database-url (CALLCENTER_DATABASE_URL) is needed for --target {}",
                args.target.as_str()
            )));
        }
        (_, false) => None,
    };
    let upstreams = run::UpstreamOverrides {
        telephony: args.telephony_url,
        routing: args.routing_url,
        reporting: args.reporting_url,
        workforce: args.workforce_url,
    };
    let config = RunConfig {
        targets: vec![args.target],
        http: args.http,
        grpc: args.grpc,
        verifier: Arc::new(JwtVerifier::hs256(&Secret::new(args.jwt_secret))),
        upstreams,
        sip: args.telephony.sip_config()?,
        ring_timeout: args.telephony.ring_timeout(),
        routing_partitions: args.routing_partitions,
        data_dir: None,
    };
    let leases: Arc<dyn Leases> = if matches!(args.target, Target::Routing | Target::All) {
        let time_to_live = std::time::Duration::from_secs(args.lease_seconds);
        Arc::new(
            JetStreamLeases::connect(&args.nats_url, &prefix, time_to_live)
                .await
                .map_err(run::RunError::from)?,
        )
    } else {
        Arc::new(LocalLeases::default())
    };
    run::run(
        Backends {
            store,
            read_models,
            leases,
        },
        config,
    )
    .await?;
    Ok(())
}
