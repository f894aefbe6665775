//! Telephony's stored events as releases wrote them (`tests/golden/*.txt`), read back forever:
//! one sample of every event type of every aggregate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use callcenter_eventlog::StreamKey;
use callcenter_kit::EventList;
use callcenter_kit::testing::golden;
use callcenter_kit::testing::{at, name};
use callcenter_proto::telephony::v1 as pb;
use callcenter_telephony::domain::{
    CallEvent, CallPhase, CallerClass, CallerEvent, CallingHours, IvrMenu, IvrMenuEvent, IvrNode,
    IvrPosition, MenuRef, NotReachedReason, NumberClaimEvent, NumberEvent, NumberRoute,
    OutboundPolicyEvent, OutboundPurpose, PartnerEvent, Party, PhoneNumber, Priority, QueueTarget,
    ReportedCallEvent, ReportedFact, SupervisionMode,
};

fn check<E: callcenter_kit::PersistedEvent + PartialEq + std::fmt::Debug>(
    aggregate: &str,
    event_types: &[&str],
    samples: &[E],
) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{aggregate}.txt"));
    let stream = StreamKey::new("acme", "telephony", aggregate, "golden-1").unwrap();
    golden::check(&path, &stream, event_types, samples, &[]);
}

fn phone(number: &str) -> PhoneNumber {
    PhoneNumber::parse(number).unwrap()
}

fn hours() -> CallingHours {
    CallingHours {
        utc_offset_minutes: 480,
        start_minute: 510,
        end_minute: 1320,
        weekdays: [true, true, true, true, true, false, false],
    }
}

#[test]
fn every_stored_call_event_reads_back_as_it_was_written() {
    let samples = [
        CallEvent::Offered {
            caller_number: phone("13800138000"),
            dialled_number: phone("4000"),
            at: at(1),
        },
        CallEvent::OutboundStarted {
            customer_number: phone("13800138001"),
            caller_id: phone("4000"),
            purpose: OutboundPurpose::Survey,
            agent_id: name("agent-1"),
            at: at(2),
        },
        CallEvent::NotReached {
            reason: NotReachedReason::Busy,
            at: at(3),
        },
        CallEvent::CallerClassified {
            class: CallerClass::Elderly,
            at: at(4),
        },
        CallEvent::EnteredIvr {
            menu: Some(IvrPosition {
                menu: MenuRef {
                    menu_id: name("main"),
                    version: 3,
                },
                node_id: name("hours"),
                attempts: 0,
            }),
            at: at(5),
        },
        CallEvent::IvrStepTaken {
            node_id: "welcome".into(),
            input: "9".into(),
            next_node_id: Some(name("emergency")),
            at: at(6),
        },
        CallEvent::SelfServed {
            node_id: name("balance"),
            service: name("balance"),
            at: at(7),
        },
        CallEvent::Queued {
            queue_id: name("general"),
            priority: Priority::Emergency,
            target_agent_id: Some(name("agent-2")),
            required_skill: Some(name("plumbing")),
            at: at(8),
        },
        CallEvent::Ringing {
            agent_id: name("agent-1"),
            at: at(9),
        },
        CallEvent::ReturnedToQueue {
            agent_id: name("agent-1"),
            missed: true,
            at: at(10),
        },
        CallEvent::Answered {
            agent_id: name("agent-1"),
            queue_id: name("general"),
            at: at(11),
        },
        CallEvent::Held { at: at(12) },
        CallEvent::Resumed { at: at(13) },
        CallEvent::MaxWaitReached {
            queue_id: name("general"),
            to_queue_id: name("callbacks"),
            at: at(14),
        },
        CallEvent::Transferred {
            from_agent_id: name("agent-1"),
            to_queue_id: name("repairs"),
            to_agent_id: Some(name("agent-3")),
            at: at(15),
        },
        CallEvent::SupervisorJoined {
            supervisor_id: name("lead-1"),
            mode: SupervisionMode::Whisper,
            at: at(16),
        },
        CallEvent::SupervisorLeft {
            supervisor_id: name("lead-1"),
            at: at(17),
        },
        CallEvent::Ended {
            ended_by: Party::Agent,
            at: at(18),
        },
        CallEvent::Abandoned {
            queue_id: Some(name("general")),
            phase: CallPhase::Ringing,
            waited_ms: 12_345,
            position: Some(2),
            at: at(19),
        },
        CallEvent::DispositionSet {
            agent_id: name("agent-1"),
            code: name("complaint"),
            at: at(20),
        },
    ];
    check("call", pb::call_events::Event::EVENT_TYPES, &samples);
}

#[test]
fn every_stored_event_of_numbers_menus_callers_partners_and_policies_reads_back() {
    check(
        "number",
        pb::number_events::Event::EVENT_TYPES,
        &[NumberEvent::Assigned {
            route: NumberRoute::Menu(name("main")),
            at: at(1),
        }],
    );
    check(
        "number_claim",
        pb::number_claim_events::Event::EVENT_TYPES,
        &[NumberClaimEvent::Claimed {
            tenant: name("acme"),
            at: at(1),
        }],
    );
    let menu = IvrMenu {
        entry: name("hours"),
        nodes: BTreeMap::from([
            (
                name("hours"),
                IvrNode::Hours {
                    open: vec![hours()],
                    when_open: name("welcome"),
                    when_closed: name("closed"),
                },
            ),
            (
                name("welcome"),
                IvrNode::Menu {
                    prompt: "Repairs: 1.".into(),
                    choices: BTreeMap::from([('1', name("repairs"))]),
                    max_attempts: 2,
                    fallback: name("repairs"),
                },
            ),
            (
                name("repairs"),
                IvrNode::Queue(QueueTarget {
                    queue_id: name("repairs"),
                    skill: Some(name("plumbing")),
                    priority: Priority::Normal,
                }),
            ),
            (
                name("closed"),
                IvrNode::SelfService {
                    prompt: "We are closed.".into(),
                    service: name("closed"),
                },
            ),
        ]),
        straight_to_person: BTreeSet::from([CallerClass::Elderly]),
        person_queue: Some(QueueTarget {
            queue_id: name("repairs"),
            skill: None,
            priority: Priority::Emergency,
        }),
    };
    check(
        "ivr_menu",
        pb::ivr_menu_events::Event::EVENT_TYPES,
        &[IvrMenuEvent::Published {
            version: 2,
            menu,
            at: at(1),
        }],
    );
    check(
        "caller",
        pb::caller_events::Event::EVENT_TYPES,
        &[CallerEvent::ClassSet {
            class: Some(CallerClass::Vip),
            at: at(1),
        }],
    );
    check(
        "reported_call",
        pb::reported_call_events::Event::EVENT_TYPES,
        &[ReportedCallEvent::Recorded(PartnerEvent {
            event_id: "pbx-1700000000-123-4".into(),
            occurred_at: at(1),
            fact: ReportedFact::Transferred {
                to_queue_id: name("repairs"),
                to_agent_id: Some(name("agent-3")),
            },
        })],
    );
    check(
        "outbound_policy",
        pb::outbound_policy_events::Event::EVENT_TYPES,
        &[
            OutboundPolicyEvent::DoNotCallAdded {
                number: phone("13800138000"),
                at: at(1),
            },
            OutboundPolicyEvent::DoNotCallRemoved {
                number: phone("13800138000"),
                at: at(2),
            },
            OutboundPolicyEvent::CallingHoursSet {
                hours: Some(hours()),
                at: at(3),
            },
        ],
    );
}
