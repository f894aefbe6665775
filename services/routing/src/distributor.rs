//! The automatic call distributor: folds call and agent events into the [`Router`] and carries
//! out its decisions as agent commands.
//!
//! It runs on the kit's consumer runner. On every start it restores the partition's last snapshot
//! (its router, placement and the calls' causes, saved by whichever replica routed the partition
//! last) and reads the log after it; without one, from the beginning. It acts only once it has
//! caught up, so a restart or a takeover decides only what is still missing, and costs the tail of
//! the log, not its history. A decision about a call joins the trace and correlation of
//! that call's last event: a call's trace runs from its report through the reservation to the
//! ring.
//!
//! **Partitioned single writer**: tenants, and the routing domains of large tenants, are split
//! into `partitions` by a stable hash (see [`crate::placement`]); exactly one replica routes a partition at a time, the one holding its lease
//! (`routing-p<N>`), which it renews every third of the lease's time to live. A replica that
//! dies stops renewing; another takes the lease once it expires and resumes the partition: from
//! the view it kept warm when it was a standby (a replica holding fewer partitions than its fair
//! share follows the others' logs without deciding anything), otherwise from the partition's
//! snapshot. A replica that cannot renew stops routing the partition at once. Two owners for a
//! moment cannot assign one agent twice: every decision is a command on the agent aggregate,
//! checked against its version and idempotent by a request id made of that version.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use callcenter_eventlog::lease::Leases;
use callcenter_eventlog::{EventStore, Filter, Name, RecordedEvent, TenantId};
use callcenter_kit::{
    Cause, Consumer, ConsumerError, ConsumerStatus, PersistedEvent, StartFrom, Subscribe,
    Timestamp, WarmView, published, resume_consumer, run_consumer, snapshot,
};
use callcenter_platform::ErrorCode;
use callcenter_platform::health::ReadinessCheck;
use callcenter_proto::telephony::v1 as telephony;
use callcenter_proto::telephony::v1::call_events::Event as CallEvent;

/// The distributors' name as a consumer of other contexts' events.
const DISTRIBUTOR: &str = "routing-distributor";
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::app::Routing;
use crate::domain::{AgentEvent, CallPriority, CaseEvent, QueueEvent, Router};
pub use crate::placement::Partition;
use crate::placement::{AgentPlace, Placement};

/// Routing's figures: how long deciding took, how long carrying a decision out took (by kind),
/// and the calls waiting per partition.
static METRICS: std::sync::LazyLock<(
    opentelemetry::metrics::Histogram<f64>,
    opentelemetry::metrics::Histogram<f64>,
    opentelemetry::metrics::Gauge<u64>,
)> = std::sync::LazyLock::new(|| {
    use callcenter_telemetry::metrics::{SECONDS, meter};
    let meter = meter();
    (
        meter
            .f64_histogram("callcenter_routing_decide_duration_seconds")
            .with_description("How long the router took to decide what to do now")
            .with_unit("s")
            .with_boundaries(SECONDS.to_vec())
            .build(),
        meter
            .f64_histogram("callcenter_routing_action_duration_seconds")
            .with_description("How long carrying out one routing decision took, by kind")
            .with_unit("s")
            .with_boundaries(SECONDS.to_vec())
            .build(),
        meter
            .u64_gauge("callcenter_routing_waiting_calls")
            .with_description("Calls waiting for an agent, per routing partition")
            .build(),
    )
});

/// The encoding of a partition's snapshot (router, placement, causes). 2: the router keeps its
/// waiting calls and after-call work deadlines indexed (a format-1 snapshot is replayed).
const SNAPSHOT_FORMAT: u32 = 2;

/// Events after which the router forgets the calls that are over.
const FORGET_EVERY_EVENTS: usize = 2_000;

/// How often a standby looks for the partition's first snapshot, to start following it.
const FOLLOW_AFTER_SNAPSHOT_POLL: Duration = Duration::from_secs(2);

/// How long to wait for new events before looking at the router's decisions again.
const TICK: Duration = Duration::from_millis(250);

/// What this replica routes: the partitions it holds (`None` until its first round of leases)
/// and each partition's distributor status. As a readiness check, it passes once the replica
/// knows what it holds and every partition it holds has caught up with the log: an instance is
/// not counted ready before it routes.
#[derive(Clone, Debug)]
pub struct RoutingProgress {
    held: watch::Sender<Option<BTreeSet<u32>>>,
    statuses: Vec<watch::Sender<ConsumerStatus>>,
}

impl RoutingProgress {
    /// Progress over the partitions whose distributors report to `statuses` (one per partition).
    pub fn new(statuses: Vec<watch::Sender<ConsumerStatus>>) -> Self {
        Self {
            held: watch::Sender::new(None),
            statuses,
        }
    }

    fn status(&self, index: u32) -> watch::Sender<ConsumerStatus> {
        self.statuses
            .get(index as usize)
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl ReadinessCheck for RoutingProgress {
    fn name(&self) -> String {
        "routing partitions".into()
    }

    async fn check(&self) -> Result<(), String> {
        let held = self.held.borrow().clone();
        let Some(held) = held else {
            return Err("taking routing leases".into());
        };
        for index in held {
            let status = self.status(index).borrow().clone();
            if let Some(error) = status.last_error {
                return Err(format!("partition {index}: {error}"));
            }
            if !status.caught_up {
                return Err(format!(
                    "partition {index} catching up: {} commits behind",
                    status.lag
                ));
            }
        }
        Ok(())
    }
}

/// How a replica runs the routing partitions.
#[derive(Clone, Copy, Debug)]
pub struct DistributorSettings {
    /// How many partitions the deployment has.
    pub partitions: u32,
    /// How often an owner saves a partition's snapshot while calls come.
    pub snapshot_every: Duration,
    /// Whether a replica holding fewer partitions than its fair share keeps the partitions it
    /// does not hold warm (a standby): once a partition has a snapshot, it follows the log from
    /// there without acting, so that taking it over costs the lease and the last moments of the
    /// log, not a snapshot and its tail.
    pub warm_standby: bool,
}

/// A partition this replica follows without routing it: its task ends with the view it kept
/// warm and how far that holds the log, once `stop` is cancelled.
struct Follower {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Option<(Distributor, WarmView)>>,
}

impl Follower {
    fn start(
        store: &Arc<dyn EventStore>,
        app: &Routing,
        partition: Partition,
        stop: CancellationToken,
    ) -> Self {
        let (store, app) = (Arc::clone(store), app.clone());
        let follow = stop.clone();
        let task = tokio::spawn(async move {
            // Not before the owner has saved the partition: a standby replaying the whole log
            // beside an owner that does the same (both started on a long history) would halve
            // the owner's speed; without a snapshot, taking over replays a short log.
            let snapshot = Distributor::subscription_name(partition);
            while !matches!(store.load_snapshot(&snapshot).await, Ok(Some(_))) {
                tokio::select! {
                    () = follow.cancelled() => return None,
                    () = tokio::time::sleep(FOLLOW_AFTER_SNAPSHOT_POLL) => {}
                }
            }
            tracing::info!(
                partition = partition.index,
                "following a routing partition as its standby"
            );
            let mut distributor = Distributor::new(app, partition);
            distributor.following = true;
            let status = watch::Sender::new(ConsumerStatus::default());
            let through = run_consumer(&*store, &mut distributor, &status, &follow).await?;
            distributor.following = false;
            let caught_up = status.borrow().caught_up;
            Some((distributor, WarmView { through, caught_up }))
        });
        Self { stop, task }
    }

    /// Stops following; the view, when it is settled.
    async fn finish(self) -> Option<(Distributor, WarmView)> {
        self.stop.cancel();
        self.task.await.ok().flatten()
    }
}

/// Routes every partition whose lease this replica holds, until `shutdown` (saving each
/// partition's snapshot every `snapshot_every` while calls come): takes free
/// partitions up to its fair share (the partitions divided by the live replicas, each of which
/// holds a `routing-replica-<id>` lease), keeps renewing them, gives up those beyond its share so
/// that a new replica gets some, and stops routing a partition at once when its lease is lost.
/// With room for more (a standby), it follows the partitions it does not hold
/// ([`DistributorSettings::warm_standby`]) and resumes a partition it takes from that view.
pub async fn run_partitioned_distributors(
    store: Arc<dyn EventStore>,
    leases: Arc<dyn Leases>,
    app: Routing,
    settings: DistributorSettings,
    progress: RoutingProgress,
    shutdown: CancellationToken,
) {
    let holder = format!("{}-{}", std::process::id(), Timestamp::now().unix_millis());
    let every = (leases.time_to_live() / 3).clamp(Duration::from_millis(100), TICK * 4);
    let mut running: BTreeMap<u32, CancellationToken> = BTreeMap::new();
    let mut following: BTreeMap<u32, Follower> = BTreeMap::new();
    let membership = Name::new(format!("routing-replica-{holder}")).expect("valid name");
    let count = settings.partitions.max(1);
    loop {
        // Announce this replica, and learn the fair share of partitions.
        let replicas = match leases.hold(&membership, &holder).await {
            Ok(_) => leases.count("routing-replica-").await.unwrap_or(1).max(1),
            Err(_) => 1,
        };
        let fair_share = count.div_ceil(u32::try_from(replicas).unwrap_or(u32::MAX));
        while running.len() > fair_share as usize {
            let Some((index, stop)) = running.pop_last() else {
                break;
            };
            stop.cancel();
            let partition = Partition { index, count };
            let _ = leases.release(&partition.lease(), &holder).await;
            tracing::info!(
                partition = index,
                replicas,
                "routing partition handed over to another replica"
            );
        }
        for index in 0..count {
            if !running.contains_key(&index) && running.len() >= fair_share as usize {
                continue;
            }
            let partition = Partition { index, count };
            let held = match leases.hold(&partition.lease(), &holder).await {
                Ok(held) => held,
                Err(error) => {
                    tracing::warn!(%error, partition = index, "cannot renew a routing lease");
                    false
                }
            };
            match (held, running.contains_key(&index)) {
                (true, false) => {
                    tracing::info!(
                        partition = index,
                        partitions = count,
                        "routing partition taken by this replica"
                    );
                    let warm = match following.remove(&index) {
                        Some(follower) => follower.finish().await,
                        None => None,
                    };
                    let stop = shutdown.child_token();
                    running.insert(index, stop.clone());
                    let (store, app) = (Arc::clone(&store), app.clone());
                    // A partition taken (again) starts behind, whatever it reported before.
                    let status = progress.status(index);
                    status.send_replace(ConsumerStatus::default());
                    let snapshot_every = settings.snapshot_every;
                    tokio::spawn(async move {
                        let (mut distributor, warm) = match warm {
                            Some((distributor, warm)) => (distributor, Some(warm)),
                            None => (Distributor::new(app, partition), None),
                        };
                        distributor.snapshot_every = snapshot_every;
                        match warm {
                            Some(warm) => {
                                tracing::info!(
                                    partition = index,
                                    through = warm.through,
                                    caught_up = warm.caught_up,
                                    "routing partition resumed from the view this replica followed"
                                );
                                resume_consumer(&*store, &mut distributor, warm, &status, &stop)
                                    .await
                            }
                            None => run_consumer(&*store, &mut distributor, &status, &stop).await,
                        };
                    });
                }
                (false, true) => {
                    tracing::warn!(partition = index, "routing partition lost");
                    if let Some(stop) = running.remove(&index) {
                        stop.cancel();
                    }
                }
                _ => {}
            }
        }
        // A standby (room for more partitions) keeps the others warm; a replica at its share
        // follows none.
        let standby = settings.warm_standby && running.len() < fair_share as usize;
        for index in 0..count {
            let wanted = standby && !running.contains_key(&index);
            if wanted && !following.contains_key(&index) {
                let partition = Partition { index, count };
                let follower = Follower::start(&store, &app, partition, shutdown.child_token());
                following.insert(index, follower);
            } else if !wanted && let Some(follower) = following.remove(&index) {
                follower.stop.cancel();
            }
        }
        progress
            .held
            .send_replace(Some(running.keys().copied().collect()));
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
    for (index, stop) in running {
        stop.cancel();
        let partition = Partition { index, count };
        let _ = leases.release(&partition.lease(), &holder).await;
    }
    let _ = leases.release(&membership, &holder).await;
}

/// The distributor of one partition, on the kit's consumer runner: its router and placement are
/// restored from the partition's snapshot and the log after it at every start, and it acts only
/// once it has caught up.
/// It remembers, for each call, the last of its events (the [`Cause`]), so that what it decides
/// for a call joins that call's trace and correlation.
#[derive(Debug)]
pub struct Distributor {
    app: Routing,
    partition: Partition,
    router: Router,
    placement: Placement,
    causes: HashMap<(TenantId, Name), Cause>,
    /// Events folded since finished calls were last forgotten.
    folded: usize,
    /// How often it saves its snapshot while calls come.
    pub snapshot_every: Duration,
    /// Follows the partition without routing it (a warm standby: [`Subscribe::follower`]).
    following: bool,
}

impl Distributor {
    /// The distributor of `partition`.
    pub fn new(app: Routing, partition: Partition) -> Self {
        Self {
            app,
            partition,
            router: Router::new(),
            placement: Placement::new(partition),
            causes: HashMap::new(),
            folded: 0,
            snapshot_every: Duration::from_secs(30),
            following: false,
        }
    }

    /// The name of a partition's subscription (and of its lag metric and KEDA trigger).
    pub fn subscription_name(partition: Partition) -> Name {
        Name::new(format!("routing-distributor-p{}", partition.index)).expect("valid name")
    }
}

#[async_trait::async_trait]
impl Consumer for Distributor {
    fn subscription(&self) -> Subscribe {
        let name = |value: &str| Name::new(value).expect("valid name");
        let filter = Filter::all()
            .aggregate(name("telephony"), name("call"))
            .aggregate(name("routing"), name("agent"))
            .aggregate(name("routing"), name("queue"))
            .aggregate(name("routing"), name("case"));
        Subscribe {
            start: StartFrom::Beginning,
            batch_size: 1_000,
            tick: TICK,
            snapshot_every: self.snapshot_every,
            follower: self.following,
            ..Subscribe::durable(Self::subscription_name(self.partition), filter)
        }
    }

    fn reset(&mut self) {
        self.router = Router::new();
        self.placement = Placement::new(self.partition);
        self.causes.clear();
        self.folded = 0;
    }

    fn snapshot_format(&self) -> Option<u32> {
        Some(SNAPSHOT_FORMAT)
    }

    fn snapshot(&self) -> Result<Vec<u8>, ConsumerError> {
        snapshot::encode(&(&self.router, &self.placement, &self.causes))
    }

    fn restore(&mut self, format: u32, body: &[u8]) -> Result<bool, ConsumerError> {
        if format != SNAPSHOT_FORMAT {
            return Ok(false);
        }
        let (router, placement, causes): (Router, Placement, _) = snapshot::decode(body)?;
        if placement.partition() != self.partition {
            // Saved when the deployment had another number of partitions.
            return Ok(false);
        }
        (self.router, self.placement, self.causes) = (router, placement, causes);
        Ok(true)
    }

    async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ConsumerError> {
        for event in events {
            apply(&mut self.router, &mut self.placement, &self.app, event).await?;
            let stream = event.stream();
            if stream.context.as_str() == "telephony" {
                let key = (stream.tenant.clone(), stream.aggregate_id.clone());
                self.causes.insert(key, Cause::of(event));
            }
        }
        // Finished calls are forgotten while catching up too, so that neither the view nor its
        // snapshot grows with the history.
        self.folded += events.len();
        if self.folded >= FORGET_EVERY_EVENTS {
            self.folded = 0;
            self.router.forget_finished_calls();
            let router = &self.router;
            self.causes
                .retain(|(tenant, call_id), _| router.knows_call(tenant, call_id));
        }
        Ok(())
    }

    /// Decides after every batch once caught up, busy or not (a stale decision is refused by the
    /// agent's version check).
    async fn act(&mut self) -> Result<(), ConsumerError> {
        carry_out_decisions(&mut self.router, &self.app, &self.causes).await?;
        let partition = opentelemetry::KeyValue::new("partition", i64::from(self.partition.index));
        METRICS
            .2
            .record(self.router.waiting_calls() as u64, &[partition]);
        Ok(())
    }
}

/// Carries out what the router decides now. An action's new agent events are folded into the
/// router at once (their copies from the log are skipped by version), so that what follows from
/// them — the next call for an agent just freed — is decided in the same turn, not after a round
/// trip through the log; a few turns at most.
async fn carry_out_decisions(
    router: &mut Router,
    app: &Routing,
    causes: &HashMap<(TenantId, Name), Cause>,
) -> Result<(), String> {
    const TURNS: usize = 4;
    for _ in 0..TURNS {
        let now = Timestamp::now();
        let deciding = std::time::Instant::now();
        let due = router.after_call_work_due(now);
        let actions: Vec<_> = router.decide(now).into_iter().chain(due).collect();
        // What was looked at is settled until it changes again (a refused action clears its
        // agent for another look).
        router.reviewed();
        METRICS.0.record(deciding.elapsed().as_secs_f64(), &[]);
        let mut changed = false;
        for action in actions {
            router.mark_in_flight(&action);
            let cause = causes.get(&(action.tenant.clone(), action.kind.call_id().clone()));
            let acting = app.act(&action, Timestamp::now(), cause);
            let started = std::time::Instant::now();
            let acted = match cause {
                Some(cause) => tracing::Instrument::instrument(acting, cause.span("route")).await,
                None => acting.await,
            };
            let kind = opentelemetry::KeyValue::new("action", action.kind.name());
            METRICS.1.record(started.elapsed().as_secs_f64(), &[kind]);
            match acted {
                Ok(outcome) if !outcome.new_events.is_empty() => {
                    let last = outcome.version.version();
                    let first = last + 1 - outcome.new_events.len() as u64;
                    for (version, event) in (first..).zip(&outcome.new_events) {
                        router.agent_event(&action.tenant, &action.agent_id, version, event);
                    }
                    changed = true;
                }
                Ok(_) => router.clear_in_flight(&action),
                Err(error) if error.code == ErrorCode::Unavailable => {
                    return Err(error.to_string());
                }
                Err(error) => {
                    tracing::info!(
                        agent_id = %action.agent_id,
                        reason = %error.reason,
                        "routing decision refused"
                    );
                    router.clear_in_flight(&action);
                }
            }
        }
        if !changed {
            break;
        }
    }
    Ok(())
}

/// Folds one event into the router, if its routing domain is routed here; events it cannot
/// read are logged and skipped. `Err` only when an agent moving in cannot be loaded.
async fn apply(
    router: &mut Router,
    placement: &mut Placement,
    app: &Routing,
    event: &RecordedEvent,
) -> Result<(), String> {
    let stream = event.stream();
    let (tenant, id) = (&stream.tenant, &stream.aggregate_id);
    if stream.context.as_str() == "routing" {
        if stream.aggregate_type.as_str() == "queue" {
            match QueueEvent::decode(event) {
                Ok(queue_event) => {
                    if placement.queue_event(tenant, id, &queue_event) {
                        router.queue_event(tenant, id, &queue_event);
                    }
                }
                Err(error) => tracing::warn!(%error, "skipping unreadable queue event"),
            }
            return Ok(());
        }
        if stream.aggregate_type.as_str() == "case" {
            match CaseEvent::decode(event) {
                Ok(case_event) => match case_event.open_owner() {
                    Some((caller, owner)) => {
                        let place = placement.case_owned(tenant, id, owner);
                        if place.leave {
                            router.case_closed(tenant, id);
                        }
                        if place.route {
                            router.case_owned(tenant, id, caller, owner);
                        }
                    }
                    None => {
                        if placement.case_closed(tenant, id) {
                            router.case_closed(tenant, id);
                        }
                    }
                },
                Err(error) => tracing::warn!(%error, "skipping unreadable case event"),
            }
            return Ok(());
        }
        let agent_event = match AgentEvent::decode(event) {
            Ok(agent_event) => agent_event,
            Err(error) => {
                tracing::warn!(%error, "skipping unreadable agent event");
                return Ok(());
            }
        };
        match placement.agent_event(tenant, id, &agent_event) {
            AgentPlace::Elsewhere => {}
            AgentPlace::Route => router.agent_event(tenant, id, event.version, &agent_event),
            AgentPlace::RouteThenLeave => {
                router.agent_event(tenant, id, event.version, &agent_event);
                router.take_agent(tenant, id);
            }
            AgentPlace::Join => {
                let loaded = app
                    .get_agent(tenant, id)
                    .await
                    .map_err(|error| error.to_string())?;
                router.put_agent(tenant, id, loaded.state, loaded.version.version());
            }
        }
        return Ok(());
    }
    let call_event = match published::<CallEvent>(DISTRIBUTOR, event) {
        Ok(Some(call_event)) => call_event,
        Ok(None) => return Ok(()),
        Err(error) => {
            tracing::warn!(%error, "skipping an unreadable call event");
            return Ok(());
        }
    };
    let result: Result<(), String> = match call_event {
        CallEvent::CallOffered(offered) => {
            placement.call_offered(tenant, id, &offered.caller_number);
            Ok(())
        }
        CallEvent::CallQueued(queued) => (|| {
            let queue_id = Name::new(&queued.queue_id).map_err(|e| e.to_string())?;
            let target = (!queued.target_agent_id.is_empty())
                .then(|| Name::new(&queued.target_agent_id))
                .transpose()
                .map_err(|e| e.to_string())?;
            let place = placement.call_queued(tenant, id, &queue_id, target.as_ref());
            if place.leave {
                router.call_finished(tenant, id);
            }
            if !place.route {
                return Ok(());
            }
            if let Some(caller) = &place.entering_caller {
                router.call_offered(tenant, id, caller);
            }
            let priority = if queued.priority() == telephony::Priority::Emergency {
                CallPriority::Emergency
            } else {
                CallPriority::Normal
            };
            router.call_queued(tenant, id, &queue_id, priority, target, event.occurred_at);
            if !queued.required_skill.is_empty() {
                let skill = Name::new(&queued.required_skill).map_err(|e| e.to_string())?;
                router.call_requires_skill(tenant, id, &skill);
            }
            Ok(())
        })(),
        CallEvent::CallReturnedToQueue(returned) => Name::new(&returned.agent_id)
            .map_err(|e| e.to_string())
            .map(|agent_id| {
                if placement.call_event(tenant, id) {
                    router.call_returned(tenant, id, returned.missed.then_some(&agent_id));
                }
            }),
        CallEvent::CallAnswered(answered) => Name::new(&answered.agent_id)
            .map_err(|e| e.to_string())
            .map(|agent_id| {
                if placement.call_event(tenant, id) {
                    router.call_answered(tenant, id, &agent_id, event.occurred_at);
                }
            }),
        CallEvent::CallEnded(_) | CallEvent::CallAbandoned(_) | CallEvent::CallNotReached(_) => {
            if placement.call_finished(tenant, id) {
                router.call_finished(tenant, id);
            }
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(error) = result {
        tracing::warn!(%error, event_type = %event.event_type, "skipping unreadable call event");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replica_is_ready_once_every_partition_it_holds_has_caught_up() {
        let statuses = vec![watch::Sender::default(), watch::Sender::default()];
        let progress = RoutingProgress::new(statuses);
        assert_eq!(progress.check().await, Err("taking routing leases".into()));
        // A standby that holds no partition serves the API: ready.
        progress.held.send_replace(Some(BTreeSet::new()));
        assert_eq!(progress.check().await, Ok(()));
        // Holding partition 1 while its distributor replays the log: not yet.
        progress.held.send_replace(Some(BTreeSet::from([1])));
        progress.status(1).send_modify(|status| status.lag = 40);
        assert_eq!(
            progress.check().await,
            Err("partition 1 catching up: 40 commits behind".into())
        );
        progress
            .status(1)
            .send_modify(|status| status.caught_up = true);
        assert_eq!(progress.check().await, Ok(()));
    }
}
