//! A call that a partner's PBX or carrier reports, fact by fact (issue 3, partner intake).
//!
//! The partner's events are facts that already happened on their side; they arrive duplicated and
//! out of order. The aggregate keeps the set of facts, deduplicated by the partner's event id, and
//! derives the call record from that set alone: facts are sorted by when they happened (then by
//! their place in the lifecycle, then by event id) and folded through the same strict [`Call`]
//! rules as the platform's own calls, skipping what does not fit. Because the record is a pure
//! function of the set, any order of arrival, with any duplicates, gives the same record, and an
//! "ended" that arrives before its "answered" does not corrupt the call.

use std::collections::{BTreeMap, BTreeSet};

use callcenter_kit::{Aggregate, Name, Timestamp};

use super::call::{Call, CallCommand, CallState, Entry, Party, Priority};
use super::number::PhoneNumber;

/// One thing that happened to a partner's call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportedFact {
    /// The call reached the partner's system.
    Offered {
        /// Who called.
        caller_number: PhoneNumber,
        /// What they dialled.
        dialled_number: PhoneNumber,
    },
    /// The caller went through an IVR node.
    IvrStep {
        /// The node.
        node_id: String,
        /// The digits or choice that left it.
        input: String,
    },
    /// The call waits in a queue.
    Queued {
        /// The queue.
        queue_id: Name,
        /// How urgent.
        priority: Priority,
    },
    /// The call rings at an agent.
    Ringing {
        /// The agent.
        agent_id: Name,
    },
    /// An agent took the call.
    Answered {
        /// The agent.
        agent_id: Name,
    },
    /// The caller was put on hold.
    Held,
    /// The caller was taken off hold.
    Resumed,
    /// The agent handed the call on.
    Transferred {
        /// The queue it waits in next.
        to_queue_id: Name,
        /// The one agent it waits for, if any.
        to_agent_id: Option<Name>,
    },
    /// The caller left before an agent answered.
    Abandoned {
        /// The call's position in its queue, if the partner knows it.
        position: Option<u32>,
    },
    /// The call was hung up.
    Ended {
        /// Who hung up.
        ended_by: Party,
    },
}

impl ReportedFact {
    /// Where the fact stands in the lifecycle, to order facts that happened at the same instant.
    fn rank(&self) -> u8 {
        match self {
            ReportedFact::Offered { .. } => 0,
            ReportedFact::IvrStep { .. } => 1,
            ReportedFact::Queued { .. } => 2,
            ReportedFact::Ringing { .. } => 3,
            ReportedFact::Answered { .. } => 4,
            ReportedFact::Held => 5,
            ReportedFact::Resumed => 6,
            ReportedFact::Transferred { .. } => 7,
            ReportedFact::Abandoned { .. } => 8,
            ReportedFact::Ended { .. } => 9,
        }
    }
}

/// A fact with the partner's event id and the time it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerEvent {
    /// The partner's id of the event: the idempotency key.
    pub event_id: String,
    /// When it happened on the partner's side.
    pub occurred_at: Timestamp,
    /// What happened.
    pub fact: ReportedFact,
}

/// The order in which facts are folded.
type FactKey = (Timestamp, u8, String);

/// A partner's call: the facts reported so far and the record derived from them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportedCall {
    facts: BTreeMap<FactKey, PartnerEvent>,
    event_ids: BTreeSet<String>,
    record: Call,
}

impl ReportedCall {
    /// The call record derived from every fact so far.
    pub fn record(&self) -> &Call {
        &self.record
    }

    /// How many distinct facts were reported.
    pub fn fact_count(&self) -> usize {
        self.facts.len()
    }

    /// Whether at least one fact was reported.
    pub fn exists(&self) -> bool {
        !self.facts.is_empty()
    }

    /// Folds the facts, in order, through the strict call rules.
    fn derive<'a>(facts: impl Iterator<Item = &'a PartnerEvent>) -> Call {
        let mut call = Call::default();
        for event in facts {
            for command in commands_for(&call, event) {
                if let Ok(events) = call.decide(&command) {
                    for applied in &events {
                        call.evolve(applied);
                    }
                }
            }
        }
        call
    }
}

/// The strict commands a fact stands for in the call's current state. A fact may stand for more
/// than one step the partner did not report (an "answered" without its "ringing").
fn commands_for(call: &Call, event: &PartnerEvent) -> Vec<CallCommand> {
    let at = event.occurred_at;
    match &event.fact {
        ReportedFact::Offered {
            caller_number,
            dialled_number,
        } => vec![CallCommand::Offer {
            caller_number: caller_number.clone(),
            dialled_number: dialled_number.clone(),
            entry: Entry::Ivr,
            at,
        }],
        ReportedFact::IvrStep { node_id, input } => vec![CallCommand::TakeIvrStep {
            node_id: node_id.clone(),
            input: input.clone(),
            at,
        }],
        ReportedFact::Queued { queue_id, priority } => vec![CallCommand::Enqueue {
            queue_id: queue_id.clone(),
            priority: *priority,
            at,
        }],
        ReportedFact::Ringing { agent_id } => {
            let mut commands = Vec::new();
            // Ringing at another agent means the previous one missed it.
            if let CallState::Ringing { agent_id: previous } = &call.state
                && previous != agent_id
            {
                commands.push(CallCommand::ReturnToQueue {
                    agent_id: previous.clone(),
                    missed: true,
                    at,
                });
            }
            commands.push(CallCommand::Ring {
                agent_id: agent_id.clone(),
                at,
            });
            commands
        }
        ReportedFact::Answered { agent_id } => {
            let mut commands = Vec::new();
            match &call.state {
                CallState::Queued => commands.push(CallCommand::Ring {
                    agent_id: agent_id.clone(),
                    at,
                }),
                CallState::Ringing { agent_id: previous } if previous != agent_id => {
                    commands.push(CallCommand::ReturnToQueue {
                        agent_id: previous.clone(),
                        missed: true,
                        at,
                    });
                    commands.push(CallCommand::Ring {
                        agent_id: agent_id.clone(),
                        at,
                    });
                }
                _ => {}
            }
            commands.push(CallCommand::Answer {
                agent_id: agent_id.clone(),
                at,
            });
            commands
        }
        ReportedFact::Held => vec![CallCommand::Hold { at }],
        ReportedFact::Resumed => vec![CallCommand::Resume { at }],
        ReportedFact::Transferred {
            to_queue_id,
            to_agent_id,
        } => vec![CallCommand::Transfer {
            to_queue_id: to_queue_id.clone(),
            to_agent_id: to_agent_id.clone(),
            at,
        }],
        ReportedFact::Abandoned { position } => vec![call.caller_left(*position, at)],
        ReportedFact::Ended { ended_by } => match call.state {
            CallState::Answered { .. } => vec![CallCommand::End {
                ended_by: *ended_by,
                at,
            }],
            // An unanswered call that "ended" was abandoned by its caller.
            _ => vec![call.caller_left(None, at)],
        },
    }
}

/// What can be asked of a partner's call.
#[derive(Clone, Debug, PartialEq)]
pub enum ReportedCallCommand {
    /// Records a fact the partner reported.
    Record(PartnerEvent),
}

/// What a partner's call records.
#[derive(Clone, Debug, PartialEq)]
pub enum ReportedCallEvent {
    /// A new fact (never a duplicate).
    Recorded(PartnerEvent),
}

/// A partner's call refuses nothing: every new fact is recorded, duplicates are ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportedCallError {}

impl Aggregate for ReportedCall {
    const CONTEXT: &'static str = "telephony";
    const TYPE: &'static str = "reported_call";
    type Command = ReportedCallCommand;
    type Event = ReportedCallEvent;
    type Error = ReportedCallError;

    fn decide(
        &self,
        command: &ReportedCallCommand,
    ) -> Result<Vec<ReportedCallEvent>, ReportedCallError> {
        let ReportedCallCommand::Record(event) = command;
        if self.event_ids.contains(&event.event_id) {
            return Ok(vec![]);
        }
        Ok(vec![ReportedCallEvent::Recorded(event.clone())])
    }

    fn evolve(&mut self, event: &ReportedCallEvent) {
        let ReportedCallEvent::Recorded(event) = event;
        self.event_ids.insert(event.event_id.clone());
        let key = (event.occurred_at, event.fact.rank(), event.event_id.clone());
        self.facts.insert(key, event.clone());
        self.record = Self::derive(self.facts.values());
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, given, name};
    use proptest::prelude::*;

    use super::*;

    fn event(id: &str, seconds: i64, fact: ReportedFact) -> PartnerEvent {
        PartnerEvent {
            event_id: id.into(),
            occurred_at: at(seconds),
            fact,
        }
    }

    fn offered(id: &str, seconds: i64) -> PartnerEvent {
        event(
            id,
            seconds,
            ReportedFact::Offered {
                caller_number: PhoneNumber::parse("13800138000").unwrap(),
                dialled_number: PhoneNumber::parse("95158").unwrap(),
            },
        )
    }

    /// A clean stream: IVR, queue, a missed ring, answer, hold, resume, end.
    fn answered_call() -> Vec<PartnerEvent> {
        vec![
            offered("e1", 0),
            event(
                "e2",
                2,
                ReportedFact::IvrStep {
                    node_id: "main".into(),
                    input: "1".into(),
                },
            ),
            event(
                "e3",
                4,
                ReportedFact::Queued {
                    queue_id: name("repairs"),
                    priority: Priority::Normal,
                },
            ),
            event(
                "e4",
                10,
                ReportedFact::Ringing {
                    agent_id: name("agent-1"),
                },
            ),
            event(
                "e5",
                25,
                ReportedFact::Ringing {
                    agent_id: name("agent-2"),
                },
            ),
            event(
                "e6",
                28,
                ReportedFact::Answered {
                    agent_id: name("agent-2"),
                },
            ),
            event("e7", 40, ReportedFact::Held),
            event("e8", 50, ReportedFact::Resumed),
            event(
                "e9",
                90,
                ReportedFact::Ended {
                    ended_by: Party::Agent,
                },
            ),
        ]
    }

    fn record_all(events: &[PartnerEvent]) -> ReportedCall {
        let mut call = ReportedCall::default();
        for event in events {
            for recorded in call
                .decide(&ReportedCallCommand::Record(event.clone()))
                .unwrap()
            {
                call.evolve(&recorded);
            }
        }
        call
    }

    #[test]
    fn a_clean_stream_gives_the_full_record() {
        let call = record_all(&answered_call());
        let record = call.record();
        assert_eq!(record.state, CallState::Ended);
        assert_eq!(record.queue_id, Some(name("repairs")));
        assert_eq!(record.agent_id, Some(name("agent-2")));
        assert_eq!(record.last_ivr_node.as_deref(), Some("main"));
        assert_eq!(record.answered_at, Some(at(28)));
        assert_eq!(record.ended_at, Some(at(90)));
        assert_eq!(call.fact_count(), 9);
    }

    #[test]
    fn a_duplicate_event_id_is_recorded_once() {
        let first = offered("e1", 0);
        let state = given::<ReportedCall>([ReportedCallEvent::Recorded(first.clone())])
            .when(ReportedCallCommand::Record(first))
            .then([]);
        assert_eq!(state.fact_count(), 1);
    }

    #[test]
    fn an_ended_before_its_answered_does_not_corrupt_the_call() {
        let clean = answered_call();
        let mut late_answer = clean.clone();
        let answered = late_answer.remove(5);
        late_answer.push(answered);
        let early = record_all(&late_answer[..late_answer.len() - 1]);
        assert_eq!(
            early.record().state,
            CallState::Abandoned,
            "without its answer, an ended call reads as abandoned for now"
        );
        assert_eq!(
            record_all(&late_answer).record(),
            record_all(&clean).record()
        );
    }

    #[test]
    fn an_unanswered_call_that_ends_is_abandoned_with_its_wait() {
        let call = record_all(&[
            offered("e1", 0),
            event(
                "e2",
                3,
                ReportedFact::Queued {
                    queue_id: name("general"),
                    priority: Priority::Emergency,
                },
            ),
            event(
                "e3",
                33,
                ReportedFact::Ended {
                    ended_by: Party::Caller,
                },
            ),
        ]);
        assert_eq!(call.record().state, CallState::Abandoned);
        assert_eq!(call.record().ended_at, Some(at(33)));
        assert_eq!(call.record().priority, Priority::Emergency);
    }

    #[test]
    fn facts_before_the_offer_wait_for_it() {
        let call = record_all(&[
            event(
                "e3",
                4,
                ReportedFact::Queued {
                    queue_id: name("general"),
                    priority: Priority::Normal,
                },
            ),
            event(
                "e4",
                9,
                ReportedFact::Answered {
                    agent_id: name("agent-1"),
                },
            ),
        ]);
        assert_eq!(
            call.record().state,
            CallState::Unknown,
            "no offer, no call yet"
        );
        let mut complete = call;
        for recorded in complete
            .decide(&ReportedCallCommand::Record(offered("e1", 0)))
            .unwrap()
        {
            complete.evolve(&recorded);
        }
        assert!(
            matches!(complete.record().state, CallState::Answered { .. }),
            "the late offer completes the record: {:?}",
            complete.record().state
        );
    }

    proptest! {
        /// Issue 3: a replayed partner stream with duplicates and reordering yields exactly the
        /// same call record as the clean stream.
        #[test]
        fn any_order_with_any_duplicates_gives_the_same_record(
            order in Just(answered_call()).prop_shuffle(),
            duplicates in proptest::collection::vec(0..9_usize, 0..6),
        ) {
            let clean = record_all(&answered_call());
            let mut replayed = order.clone();
            for index in duplicates {
                replayed.push(order[index].clone());
            }
            let replay = record_all(&replayed);
            prop_assert_eq!(replay.record(), clean.record());
            prop_assert_eq!(replay.fact_count(), clean.fact_count());
        }
    }
}
