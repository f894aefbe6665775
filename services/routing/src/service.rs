//! Routing as a service of the platform: its gRPC API, its settings (partitions and leases), and
//! the partitioned distributors it runs.

use std::sync::Arc;
use std::time::Duration;

use callcenter_platform::service::{settings_args, settings_from};
use callcenter_platform::{Context, Service, StartError};
use callcenter_proto::routing::v1::routing_service_server::RoutingServiceServer;
use clap::Args;
use tonic::server::NamedService;

use crate::distributor::{
    Distributor, DistributorSettings, Partition, RoutingProgress, run_partitioned_distributors,
};
use crate::publisher::PresencePublisher;
use crate::{Routing, RoutingGrpc};

/// Routing's settings.
#[derive(Args, Clone, Debug)]
pub struct RoutingSettings {
    /// Routing partitions: tenants are split into this many, each routed by one replica at a
    /// time (every replica of a deployment must use the same number).
    #[arg(long, env = "CALLCENTER_ROUTING_PARTITIONS", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub routing_partitions: u32,
    /// How long a routing replica's lease on a partition lasts without renewal: a dead owner's
    /// partitions are taken over within this time.
    #[arg(long, env = "CALLCENTER_LEASE_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    pub lease_seconds: u64,
    /// How often the owner of a routing partition saves its snapshot while calls come: a
    /// replica that takes the partition over (or a restart) reads the log from there.
    #[arg(long, env = "CALLCENTER_ROUTING_SNAPSHOT_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub routing_snapshot_seconds: u64,
    /// Whether a routing replica with room for more partitions (a standby) follows the log of
    /// those it does not hold, so that taking one over does not wait for a snapshot and the
    /// log after it (costs the standby the CPU of folding the partition's events).
    #[arg(long, env = "CALLCENTER_ROUTING_WARM_STANDBY", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub routing_warm_standby: bool,
}

/// Queues, agents, cases and the automatic call distributor.
#[derive(Debug, Default)]
pub struct RoutingService {
    settings: Option<RoutingSettings>,
}

#[async_trait::async_trait]
impl Service for RoutingService {
    fn name(&self) -> &'static str {
        "routing"
    }

    fn about(&self) -> &'static str {
        "agents, queues, cases and the partitioned call distributor"
    }

    fn reasons(&self) -> &'static [callcenter_platform::Reason] {
        crate::reasons::REASONS
    }

    fn grpc_services(&self) -> &'static [&'static str] {
        &[<RoutingServiceServer<RoutingGrpc> as NamedService>::NAME]
    }

    fn args(&self) -> Vec<clap::Arg> {
        settings_args::<RoutingSettings>()
    }

    fn configure(&mut self, matches: &clap::ArgMatches) -> Result<(), String> {
        self.settings = Some(settings_from(matches)?);
        Ok(())
    }

    async fn start(&self, context: &mut Context) -> Result<(), StartError> {
        let failed = |reason: String| StartError {
            service: "routing",
            reason,
        };
        let settings = self
            .settings
            .clone()
            .ok_or_else(|| failed("not configured".into()))?;
        let store = Arc::clone(&context.store);
        let app = Routing::new(Arc::clone(&store));
        context.serve_grpc(RoutingGrpc::server(app.clone()));
        // Routing does not need it to route: reports and attendance see presence late while it
        // catches up (a first start on a long history replays every agent event).
        context.consume_off_critical_path(PresencePublisher::new(app.clone()));
        let leases = context
            .leases
            .open(Duration::from_secs(settings.lease_seconds))
            .await
            .map_err(|error| failed(error.to_string()))?;
        let partitions = settings.routing_partitions;
        let statuses = (0..partitions)
            .map(|index| {
                let partition = Partition {
                    index,
                    count: partitions,
                };
                context.watch_consumer(Distributor::subscription_name(partition).to_string())
            })
            .collect();
        let progress = RoutingProgress::new(statuses);
        context.check(progress.clone());
        let stop = context.shutdown.clone();
        let distributing = DistributorSettings {
            partitions,
            snapshot_every: Duration::from_secs(settings.routing_snapshot_seconds),
            warm_standby: settings.routing_warm_standby,
        };
        context.spawn("routing distributors", async move {
            run_partitioned_distributors(store, leases, app, distributing, progress, stop).await;
            Ok(())
        });
        Ok(())
    }
}
