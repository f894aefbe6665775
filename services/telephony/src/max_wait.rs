//! Maximum wait (DOMAIN.md §3: the customer should never meet a long wait): a call that has
//! waited its queue's `max_wait_seconds` moves to the queue's max-wait queue (another queue of
//! the tenant, in any center or routing domain: a bigger team, a callback or voicemail queue),
//! keeping its priority and the skill it asked for. A queue without a max-wait queue keeps its
//! calls; the queue view shows them as over the maximum.
//!
//! The wait counts from when the call entered the queue; a ring that was not answered does not
//! restart it, and a call ringing at an agent is left to ring. Queue rules come from routing's
//! `QueueRoutingSet` events; calls from telephony's own. [`WaitingCalls`] is the pure view; the
//! ring timer's loop ([`crate::ring_timer`]) folds events into it and carries out what is due.

use std::collections::{HashMap, HashSet};

use callcenter_eventlog::{Name, TenantId};
use callcenter_kit::{CommandMeta, Timestamp};
use callcenter_platform::ErrorCode;

use crate::app::Telephony;
use crate::domain::{CallCommand, CallEvent};

/// A call or queue of a tenant.
type Key = (TenantId, Name);

/// A queue's limit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Limit {
    max_wait_ms: i64,
    to_queue_id: Name,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Waiting {
    queue_id: Name,
    since: Timestamp,
    version: u64,
    ringing: bool,
}

/// A call that waited its queue's maximum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    /// The call's tenant.
    pub tenant: TenantId,
    /// The call.
    pub call_id: Name,
    /// The queue it waited in.
    pub from_queue_id: Name,
    /// Where it goes.
    pub to_queue_id: Name,
    /// The call's version when it entered the queue (names the command that moves it).
    pub version: u64,
}

/// Which calls wait in which queue since when, and each queue's limit (pure).
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WaitingCalls {
    limits: HashMap<Key, Limit>,
    waiting: HashMap<Key, Waiting>,
    /// Calls handed out to be moved, until the move (or any other event of the call) comes
    /// back: kept out of snapshots, so a restart hands them out again (the move is idempotent).
    #[serde(skip)]
    moving: HashSet<Key>,
}

impl WaitingCalls {
    /// A queue's rules changed: calls go to `to_queue_id` after `max_wait_seconds` (no limit
    /// when either is missing).
    pub fn queue_rules(
        &mut self,
        tenant: &TenantId,
        queue_id: &Name,
        max_wait_seconds: u32,
        to_queue_id: Option<Name>,
    ) {
        let key = (tenant.clone(), queue_id.clone());
        match to_queue_id.filter(|_| max_wait_seconds > 0) {
            Some(to_queue_id) => {
                self.limits.insert(
                    key,
                    Limit {
                        max_wait_ms: i64::from(max_wait_seconds) * 1000,
                        to_queue_id,
                    },
                );
            }
            None => {
                self.limits.remove(&key);
            }
        }
    }

    /// Folds one call event in.
    pub fn apply(&mut self, tenant: &TenantId, call_id: &Name, version: u64, event: &CallEvent) {
        let key = (tenant.clone(), call_id.clone());
        self.moving.remove(&key);
        match event {
            CallEvent::Queued { queue_id, at, .. } => {
                self.waiting.insert(
                    key,
                    Waiting {
                        queue_id: queue_id.clone(),
                        since: *at,
                        version,
                        ringing: false,
                    },
                );
            }
            CallEvent::Ringing { .. } | CallEvent::ReturnedToQueue { .. } => {
                if let Some(waiting) = self.waiting.get_mut(&key) {
                    waiting.ringing = matches!(event, CallEvent::Ringing { .. });
                }
            }
            CallEvent::Answered { .. }
            | CallEvent::Ended { .. }
            | CallEvent::Abandoned { .. }
            | CallEvent::SelfServed { .. }
            | CallEvent::NotReached { .. } => {
                self.waiting.remove(&key);
            }
            _ => {}
        }
    }

    /// The calls that waited their queue's maximum at `now` not handed out yet; each is handed
    /// out once, until the call's next event (the move comes back as a `Queued` event).
    pub fn take_due(&mut self, now: Timestamp) -> Vec<Due> {
        let due: Vec<(Key, Name)> = self
            .waiting
            .iter()
            .filter(|(key, waiting)| !waiting.ringing && !self.moving.contains(*key))
            .filter_map(|((tenant, call_id), waiting)| {
                let limit = self
                    .limits
                    .get(&(tenant.clone(), waiting.queue_id.clone()))?;
                (now.millis_since(waiting.since) >= limit.max_wait_ms)
                    .then(|| ((tenant.clone(), call_id.clone()), limit.to_queue_id.clone()))
            })
            .collect();
        due.into_iter()
            .filter_map(|(key, to_queue_id)| {
                let waiting = self.waiting.get(&key)?.clone();
                self.moving.insert(key.clone());
                Some(Due {
                    tenant: key.0,
                    call_id: key.1,
                    from_queue_id: waiting.queue_id,
                    to_queue_id,
                    version: waiting.version,
                })
            })
            .collect()
    }

    /// How many calls wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether no call waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

/// Moves a call that waited its queue's maximum; `Err` only when the log is unavailable.
pub async fn move_call(app: &Telephony, due: Due) -> Result<(), String> {
    let meta = CommandMeta::system(
        due.tenant,
        "max-wait",
        format!("max-wait-{}-v{}", due.call_id, due.version),
    );
    let command = CallCommand::LeaveQueueAtMaxWait {
        from_queue_id: due.from_queue_id.clone(),
        to_queue_id: due.to_queue_id.clone(),
        at: Timestamp::now(),
    };
    match app.handle_call(&meta, &due.call_id, &command).await {
        Ok(_) => {
            tracing::info!(
                call_id = %due.call_id,
                from = %due.from_queue_id,
                to = %due.to_queue_id,
                "max wait reached: the call moves on"
            );
            Ok(())
        }
        Err(error) if error.code == ErrorCode::Unavailable => Err(error.to_string()),
        Err(error) => {
            tracing::warn!(call_id = %due.call_id, reason = %error.reason, "max wait: call not moved");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, name};

    use super::*;
    use crate::domain::Priority;

    fn queued(queue: &str, seconds: i64) -> CallEvent {
        CallEvent::Queued {
            queue_id: name(queue),
            priority: Priority::Normal,
            target_agent_id: None,
            required_skill: None,
            at: at(seconds),
        }
    }

    #[test]
    fn a_call_that_waited_the_queue_maximum_moves_to_the_max_wait_queue() {
        let tenant = name("acme");
        let mut calls = WaitingCalls::default();
        calls.queue_rules(&tenant, &name("general"), 60, Some(name("backup")));
        calls.apply(&tenant, &name("c1"), 2, &queued("general", 0));
        calls.apply(&tenant, &name("c2"), 2, &queued("general", 30));
        calls.apply(&tenant, &name("c3"), 2, &queued("other", 0));
        assert!(calls.take_due(at(59)).is_empty());
        assert_eq!(
            calls.take_due(at(60)),
            vec![Due {
                tenant: tenant.clone(),
                call_id: name("c1"),
                from_queue_id: name("general"),
                to_queue_id: name("backup"),
                version: 2,
            }]
        );
        // Taken out until its move comes back as an event.
        assert!(calls.take_due(at(61)).is_empty());
        // The moved call now waits in the backup queue, which has no limit.
        calls.apply(&tenant, &name("c1"), 4, &queued("backup", 60));
        assert!(
            calls
                .take_due(at(500))
                .iter()
                .all(|due| due.call_id == name("c2"))
        );
    }

    #[test]
    fn a_ringing_call_is_left_to_ring_and_an_unanswered_ring_keeps_the_wait() {
        let tenant = name("acme");
        let mut calls = WaitingCalls::default();
        calls.queue_rules(&tenant, &name("general"), 60, Some(name("backup")));
        calls.apply(&tenant, &name("c1"), 2, &queued("general", 0));
        let ringing = CallEvent::Ringing {
            agent_id: name("agent-1"),
            at: at(55),
        };
        calls.apply(&tenant, &name("c1"), 3, &ringing);
        assert!(calls.take_due(at(65)).is_empty(), "ringing");
        let returned = CallEvent::ReturnedToQueue {
            agent_id: name("agent-1"),
            missed: true,
            at: at(70),
        };
        calls.apply(&tenant, &name("c1"), 4, &returned);
        assert_eq!(calls.take_due(at(70)).len(), 1, "the wait counts from 0");
    }

    #[test]
    fn without_a_max_wait_queue_calls_stay_and_answered_calls_are_forgotten() {
        let tenant = name("acme");
        let mut calls = WaitingCalls::default();
        calls.queue_rules(&tenant, &name("general"), 60, None);
        calls.apply(&tenant, &name("c1"), 2, &queued("general", 0));
        assert!(calls.take_due(at(1_000)).is_empty());
        calls.queue_rules(&tenant, &name("general"), 60, Some(name("backup")));
        let answered = CallEvent::Answered {
            agent_id: name("agent-1"),
            queue_id: name("general"),
            at: at(10),
        };
        calls.apply(&tenant, &name("c1"), 3, &answered);
        assert!(calls.is_empty());
        assert!(calls.take_due(at(1_000)).is_empty());
    }
}
