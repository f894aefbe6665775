//! Agents answer within three rings (DOMAIN.md §2): a call that rings an agent longer than the
//! ring timeout was missed, and goes back to its queue at its place (`ReturnToQueue`), where
//! routing offers it to the next agent.
//!
//! The same loop keeps the other deadline of a waiting call, the queue's maximum wait
//! ([`crate::max_wait`]), for which it also reads routing's queue rules.
//!
//! The timer runs on the kit's consumer runner; its view of which calls ring and wait is rebuilt
//! at every start from its last snapshot and the log after it, so a restart loses no deadline.
//! A ring or wait it gives up stays in the view until the call's next event settles it, so a
//! restart (whose snapshot may predate the command) carries it out again. Several telephony
//! processes may run it: the command of one missed ring carries one request id, so only the first
//! of them counts.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use callcenter_eventlog::{Filter, Name, RecordedEvent, TenantId};
use callcenter_kit::{
    CommandMeta, Consumer, ConsumerError, PersistedEvent, Subscribe, Timestamp, snapshot,
};
use callcenter_platform::ErrorCode;

use crate::app::Telephony;
use crate::domain::{CallCommand, CallEvent};
use crate::max_wait::{self, WaitingCalls};
use callcenter_kit::published;
use callcenter_proto::routing::v1::queue_events::Event as QueueEvent;

/// Three rings of the Chinese ring cadence (1 s of tone, 4 s of silence).
pub const THREE_RINGS: Duration = Duration::from_secs(15);

/// The encoding of the timer's snapshots (its rings and waits).
const SNAPSHOT_FORMAT: u32 = 1;

/// How often deadlines are checked when no event arrives.
const TICK: Duration = Duration::from_millis(250);

/// A call ringing at an agent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ring {
    /// The agent.
    pub agent_id: Name,
    /// Since when.
    pub since: Timestamp,
    /// The call's version with the ring (names the command that ends it).
    pub version: u64,
}

/// Which calls ring, and since when (pure).
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RingingCalls {
    ringing: HashMap<(TenantId, Name), Ring>,
    /// Missed rings handed out to be returned, until the call's next event: kept out of
    /// snapshots, so a restart hands them out again (the command is idempotent).
    #[serde(skip)]
    returning: HashSet<(TenantId, Name)>,
}

impl RingingCalls {
    /// Folds one call event in.
    pub fn apply(&mut self, tenant: &TenantId, call_id: &Name, version: u64, event: &CallEvent) {
        let key = (tenant.clone(), call_id.clone());
        self.returning.remove(&key);
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

    /// The rings older than `timeout` at `now` not handed out yet; each is handed out once,
    /// until the call's next event.
    pub fn take_missed(
        &mut self,
        now: Timestamp,
        timeout: Duration,
    ) -> Vec<(TenantId, Name, Ring)> {
        let limit = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let missed: Vec<(TenantId, Name, Ring)> = self
            .ringing
            .iter()
            .filter(|(key, ring)| {
                now.millis_since(ring.since) >= limit && !self.returning.contains(*key)
            })
            .map(|(key, ring)| (key.0.clone(), key.1.clone(), ring.clone()))
            .collect();
        for (tenant, call_id, _) in &missed {
            self.returning.insert((tenant.clone(), call_id.clone()));
        }
        missed
    }

    /// How many calls ring (missed rings being returned included).
    pub fn len(&self) -> usize {
        self.ringing.len()
    }

    /// Whether no call rings.
    pub fn is_empty(&self) -> bool {
        self.ringing.is_empty()
    }
}

/// The ring timer as a background consumer: this process's view of which calls ring and wait,
/// rebuilt from the log at every start, and the missed rings and waits past the maximum it
/// carries out once caught up.
#[derive(Debug)]
pub struct RingTimer {
    app: Telephony,
    timeout: Duration,
    ringing: RingingCalls,
    waiting: WaitingCalls,
}

impl RingTimer {
    /// A ring timer for `app` that gives a ring up after `timeout`.
    pub fn new(app: Telephony, timeout: Duration) -> Self {
        Self {
            app,
            timeout,
            ringing: RingingCalls::default(),
            waiting: WaitingCalls::default(),
        }
    }
}

fn name(value: &str) -> Name {
    Name::new(value).expect("valid name")
}

#[async_trait::async_trait]
impl Consumer for RingTimer {
    fn subscription(&self) -> Subscribe {
        let filter = Filter::all()
            .aggregate(name("telephony"), name("call"))
            .aggregate(name("routing"), name("queue"));
        Subscribe {
            batch_size: 1_000,
            tick: TICK,
            ..Subscribe::view(name("ring-timer"), filter)
        }
    }

    fn reset(&mut self) {
        self.ringing = RingingCalls::default();
        self.waiting = WaitingCalls::default();
    }

    fn snapshot_format(&self) -> Option<u32> {
        Some(SNAPSHOT_FORMAT)
    }

    fn snapshot(&self) -> Result<Vec<u8>, ConsumerError> {
        snapshot::encode(&(&self.ringing, &self.waiting))
    }

    fn restore(&mut self, format: u32, body: &[u8]) -> Result<bool, ConsumerError> {
        if format != SNAPSHOT_FORMAT {
            return Ok(false);
        }
        (self.ringing, self.waiting) = snapshot::decode(body)?;
        Ok(true)
    }

    async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ConsumerError> {
        for event in events {
            let stream = event.stream();
            if stream.context.as_str() == "routing" {
                queue_rules(&mut self.waiting, event);
                continue;
            }
            match CallEvent::decode(event) {
                Ok(call_event) => {
                    let (tenant, call_id) = (&stream.tenant, &stream.aggregate_id);
                    self.ringing
                        .apply(tenant, call_id, event.version, &call_event);
                    self.waiting
                        .apply(tenant, call_id, event.version, &call_event);
                }
                Err(error) => tracing::warn!(%error, "ring timer skips an unreadable call event"),
            }
        }
        Ok(())
    }

    async fn act(&mut self) -> Result<(), ConsumerError> {
        for (tenant, call_id, ring) in self.ringing.take_missed(Timestamp::now(), self.timeout) {
            return_missed_call(&self.app, tenant, &call_id, &ring).await?;
        }
        for due in self.waiting.take_due(Timestamp::now()) {
            max_wait::move_call(&self.app, due).await?;
        }
        Ok(())
    }
}

/// Folds a queue's routing rules (its max wait) in; other queue events do not matter here.
fn queue_rules(waiting: &mut WaitingCalls, event: &RecordedEvent) {
    let rules = match published::<QueueEvent>("ring-timer", event) {
        Ok(Some(QueueEvent::QueueRoutingSet(set))) => set.routing.unwrap_or_default(),
        Ok(_) => return,
        Err(error) => {
            tracing::warn!(%error, "max wait skips unreadable queue rules");
            return;
        }
    };
    let stream = event.stream();
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
        // c1 is handed out once, and settled by its next event.
        assert!(ringing.take_missed(at(100), THREE_RINGS).is_empty());
        assert_eq!(ringing.len(), 1);
        ringing.apply(
            &tenant,
            &name("c1"),
            4,
            &CallEvent::ReturnedToQueue {
                agent_id: name("agent-1"),
                missed: true,
                at: at(15),
            },
        );
        assert!(ringing.is_empty());
    }

    #[test]
    fn a_missed_ring_handed_out_before_a_snapshot_is_handed_out_again_after_a_restore() {
        let tenant = name("acme");
        let mut ringing = RingingCalls::default();
        let ring = CallEvent::Ringing {
            agent_id: name("agent-1"),
            at: at(0),
        };
        ringing.apply(&tenant, &name("c1"), 3, &ring);
        assert_eq!(ringing.take_missed(at(15), THREE_RINGS).len(), 1);
        let body = snapshot::encode(&ringing).expect("encode");
        let mut restored: RingingCalls = snapshot::decode(&body).expect("decode");
        assert_eq!(restored.take_missed(at(16), THREE_RINGS).len(), 1);
    }
}
