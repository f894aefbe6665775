//! Agents answer within three rings (DOMAIN.md §2): a call that rings an agent longer than the
//! ring timeout was missed, and goes back to its queue at its place (`ReturnToQueue`), where
//! routing offers it to the next agent.
//!
//! The same loop keeps the other deadline of a waiting call, the queue's maximum wait
//! ([`crate::max_wait`]), for which it also reads routing's queue rules.
//!
//! The timer rebuilds which calls ring from the log on every start (it keeps no state of its own),
//! so a restart loses no deadline. Several telephony processes may run it: the command of one
//! missed ring carries one request id, so only the first of them counts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use callcenter_eventlog::{EventStore, Filter, Name, SubscriptionSpec, TenantId};
use callcenter_kit::restart::run_with_restarts;
use callcenter_kit::{CommandMeta, PersistedEvent, Timestamp};
use callcenter_platform::ErrorCode;
use tokio_util::sync::CancellationToken;

use crate::app::Telephony;
use crate::domain::{CallCommand, CallEvent};
use crate::max_wait::{self, WaitingCalls};
use callcenter_kit::decode_message;
use callcenter_proto::routing::v1 as routing;
use prost::Name as _;

/// Three rings of the Chinese ring cadence (1 s of tone, 4 s of silence).
pub const THREE_RINGS: Duration = Duration::from_secs(15);

/// How often deadlines are checked when no event arrives.
const TICK: Duration = Duration::from_millis(250);

/// A call ringing at an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// The agent.
    pub agent_id: Name,
    /// Since when.
    pub since: Timestamp,
    /// The call's version with the ring (names the command that ends it).
    pub version: u64,
}

/// Which calls ring, and since when (pure).
#[derive(Debug, Default)]
pub struct RingingCalls {
    ringing: HashMap<(TenantId, Name), Ring>,
}

impl RingingCalls {
    /// Folds one call event in.
    pub fn apply(&mut self, tenant: &TenantId, call_id: &Name, version: u64, event: &CallEvent) {
        let key = (tenant.clone(), call_id.clone());
        match event {
            CallEvent::Ringing { agent_id, at } => {
                self.ringing.insert(
                    key,
                    Ring {
                        agent_id: agent_id.clone(),
                        since: *at,
                        version,
                    },
                );
            }
            _ => {
                self.ringing.remove(&key);
            }
        }
    }

    /// The rings older than `timeout` at `now`, taken out of the set.
    pub fn take_missed(
        &mut self,
        now: Timestamp,
        timeout: Duration,
    ) -> Vec<(TenantId, Name, Ring)> {
        let limit = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let missed: Vec<(TenantId, Name)> = self
            .ringing
            .iter()
            .filter(|(_, ring)| now.millis_since(ring.since) >= limit)
            .map(|(key, _)| key.clone())
            .collect();
        missed
            .into_iter()
            .filter_map(|key| {
                let ring = self.ringing.remove(&key)?;
                Some((key.0, key.1, ring))
            })
            .collect()
    }

    /// How many calls ring.
    pub fn len(&self) -> usize {
        self.ringing.len()
    }

    /// Whether no call rings.
    pub fn is_empty(&self) -> bool {
        self.ringing.is_empty()
    }
}

/// Runs the ring timer until `shutdown`; failures restart it from a fresh view.
pub async fn run_ring_timer(
    store: Arc<dyn EventStore>,
    app: Telephony,
    timeout: Duration,
    shutdown: CancellationToken,
) {
    run_with_restarts(
        "ring timer",
        &shutdown,
        || watch_rings(&*store, &app, timeout, &shutdown),
        |_| {},
    )
    .await;
}

async fn watch_rings(
    store: &dyn EventStore,
    app: &Telephony,
    timeout: Duration,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let name = Name::new(format!("ring-timer-{}", uuid::Uuid::now_v7().simple()))
        .map_err(|error| error.to_string())?;
    let spec = SubscriptionSpec {
        name: name.clone(),
        filter: Filter::all()
            .aggregate(
                Name::new("telephony").map_err(|e| e.to_string())?,
                Name::new("call").map_err(|e| e.to_string())?,
            )
            .aggregate(
                Name::new("routing").map_err(|e| e.to_string())?,
                Name::new("queue").map_err(|e| e.to_string())?,
            ),
        resume_after: Some(0),
        expire_when_idle: Some(Duration::from_secs(60)),
    };
    let mut subscription = store.subscribe(spec).await.map_err(|e| e.to_string())?;
    let mut ringing = RingingCalls::default();
    let mut waiting = WaitingCalls::default();
    let result = loop {
        let batch = tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            batch = subscription.next_batch(1_000, TICK) => match batch {
                Ok(batch) => batch,
                Err(error) => break Err(error.to_string()),
            },
        };
        for event in &batch.events {
            let stream = event.stream();
            if stream.context.as_str() == "routing" {
                queue_rules(&mut waiting, event);
                continue;
            }
            match CallEvent::decode(event) {
                Ok(call_event) => {
                    let (tenant, call_id) = (&stream.tenant, &stream.aggregate_id);
                    ringing.apply(tenant, call_id, event.version, &call_event);
                    waiting.apply(tenant, call_id, event.version, &call_event);
                }
                Err(error) => tracing::warn!(%error, "ring timer skips an unreadable call event"),
            }
        }
        if let Some(last) = batch.last_position()
            && let Err(error) = subscription.ack(last).await
        {
            break Err(error.to_string());
        }
        if batch.pending > 0 {
            continue;
        }
        let mut failure = None;
        for (tenant, call_id, ring) in ringing.take_missed(Timestamp::now(), timeout) {
            if let Err(error) = return_missed_call(app, tenant, &call_id, &ring).await {
                failure = Some(error);
                break;
            }
        }
        if failure.is_none() {
            for due in waiting.take_due(Timestamp::now()) {
                if let Err(error) = max_wait::move_call(app, due).await {
                    failure = Some(error);
                    break;
                }
            }
        }
        if let Some(error) = failure {
            break Err(error);
        }
    };
    let _ = store.delete_subscription(&name).await;
    result
}

/// Folds a queue's routing rules (its max wait) in; other queue events do not matter here.
fn queue_rules(waiting: &mut WaitingCalls, event: &callcenter_eventlog::RecordedEvent) {
    if event.event_type.as_str() != routing::QueueRoutingSet::full_name() {
        return;
    }
    let stream = event.stream();
    let rules = match decode_message::<routing::QueueRoutingSet>(event) {
        Ok(set) => set.routing.unwrap_or_default(),
        Err(error) => {
            tracing::warn!(%error, "max wait skips unreadable queue rules");
            return;
        }
    };
    let to_queue_id = (!rules.max_wait_queue_id.is_empty())
        .then(|| Name::new(&rules.max_wait_queue_id).ok())
        .flatten();
    waiting.queue_rules(
        &stream.tenant,
        &stream.aggregate_id,
        rules.max_wait_seconds,
        to_queue_id,
    );
}

async fn return_missed_call(
    app: &Telephony,
    tenant: TenantId,
    call_id: &Name,
    ring: &Ring,
) -> Result<(), String> {
    let meta = CommandMeta::system(
        tenant,
        "ring-timer",
        format!("ring-timeout-{call_id}-v{}", ring.version),
    );
    let command = CallCommand::ReturnToQueue {
        agent_id: ring.agent_id.clone(),
        missed: true,
        at: Timestamp::now(),
    };
    match app.handle_call(&meta, call_id, &command).await {
        Ok(_) => {
            tracing::info!(%call_id, agent_id = %ring.agent_id, "missed ring: the call waits again");
            Ok(())
        }
        // Answered or gone meanwhile.
        Err(error) if error.code == ErrorCode::FailedPrecondition => Ok(()),
        Err(error) if error.code == ErrorCode::Unavailable => Err(error.to_string()),
        Err(error) => {
            tracing::warn!(%call_id, reason = %error.reason, "missed ring not returned");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, name};

    use super::*;

    #[test]
    fn agents_answer_within_three_rings_or_the_call_is_missed() {
        let tenant = name("acme");
        let mut ringing = RingingCalls::default();
        let rings = |agent: &str, seconds| CallEvent::Ringing {
            agent_id: name(agent),
            at: at(seconds),
        };
        ringing.apply(&tenant, &name("c1"), 3, &rings("agent-1", 0));
        ringing.apply(&tenant, &name("c2"), 3, &rings("agent-2", 10));
        assert!(ringing.take_missed(at(14), THREE_RINGS).is_empty());
        let missed = ringing.take_missed(at(15), THREE_RINGS);
        assert_eq!(
            missed,
            vec![(
                tenant.clone(),
                name("c1"),
                Ring {
                    agent_id: name("agent-1"),
                    since: at(0),
                    version: 3
                }
            )]
        );
        // Answered in time: no longer ringing.
        ringing.apply(
            &tenant,
            &name("c2"),
            4,
            &CallEvent::Answered {
                agent_id: name("agent-2"),
                queue_id: name("general"),
                at: at(20),
            },
        );
        assert!(ringing.is_empty());
        assert!(ringing.take_missed(at(100), THREE_RINGS).is_empty());
    }
}
