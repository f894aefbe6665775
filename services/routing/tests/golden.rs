//! Routing's stored events as releases wrote them (`tests/golden/*.txt`), read back forever:
//! one sample of every event type of every aggregate, and an agent's login of schema version 1
//! from before seats existed, which reads as a login at the default seat (the upcaster).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use callcenter_eventlog::StreamKey;
use callcenter_kit::EventList;
use callcenter_kit::testing::golden;
use callcenter_kit::testing::{at, name};
use callcenter_proto::routing::v1 as pb;
use callcenter_routing::domain::{
    AgentEvent, AgentPresenceEvent, CaseEvent, NotReadyReason, OverflowStep, PresenceState,
    PublishedPresence, QueueEvent, QueueRouting, Why, WideningStep,
};

fn file(aggregate: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{aggregate}.txt"))
}

fn stream(aggregate: &str) -> StreamKey {
    StreamKey::new("acme", "routing", aggregate, "golden-1").unwrap()
}

#[test]
fn every_stored_agent_event_reads_back_as_it_was_written() {
    let call = || name("call-1");
    let samples = [
        AgentEvent::Created {
            display_name: "Li Lei".into(),
            center_id: name("langfang"),
            queue_ids: vec![name("general"), name("repairs")],
            routing_domain: Some(name("north")),
            at: at(1),
        },
        AgentEvent::RoutingDomainMoved {
            routing_domain: Some(name("south")),
            at: at(2),
        },
        AgentEvent::ChatCapacitySet {
            chats: 3,
            at: at(3),
        },
        AgentEvent::SkillsSet {
            skills: BTreeMap::from([(name("billing"), 4), (name("plumbing"), 2)]),
            at: at(4),
        },
        AgentEvent::LoggedIn {
            seat: name("desk-7"),
            at: at(5),
        },
        AgentEvent::SecondLoginRefused {
            seat: name("desk-9"),
            at: at(6),
        },
        AgentEvent::Ready { at: at(7) },
        AgentEvent::NotReady {
            reason: NotReadyReason::Lunch,
            at: at(8),
        },
        AgentEvent::Reserved {
            call_id: call(),
            queue_id: name("general"),
            why: Why {
                rule: "skills widened to 2".into(),
                candidates: vec![name("agent-1"), name("agent-2")],
            },
            at: at(9),
        },
        AgentEvent::ReservationReleased {
            call_id: call(),
            missed: true,
            at: at(10),
        },
        AgentEvent::CallStarted {
            call_id: call(),
            at: at(11),
        },
        AgentEvent::CallEnded {
            call_id: call(),
            after_call_work_until: Some(at(42)),
            at: at(12),
        },
        AgentEvent::AfterCallWorkOverrun {
            call_id: call(),
            at: at(43),
        },
        AgentEvent::LoggedOut { at: at(44) },
    ];
    // Before seats existed, a login named none: it reads as a login at the default seat.
    let older = [(
        "callcenter.routing.v1.AgentLoggedIn",
        1,
        AgentEvent::LoggedIn {
            seat: name("default"),
            at: at(5),
        },
    )];
    golden::check(
        &file("agent"),
        &stream("agent"),
        pb::agent_events::Event::EVENT_TYPES,
        &samples,
        &older,
    );
}

#[test]
fn every_stored_queue_and_case_event_reads_back_as_it_was_written() {
    let queues = [
        QueueEvent::Created {
            display_name: "General".into(),
            center_id: name("langfang"),
            after_call_work_seconds: 30,
            routing_domain: Some(name("north")),
            at: at(1),
        },
        QueueEvent::RoutingSet {
            routing: QueueRouting {
                priority: 2,
                required_skills: BTreeMap::from([(name("plumbing"), 3)]),
                widening: vec![WideningStep {
                    after_seconds: 30,
                    min_proficiency: 1,
                    drop_skills: BTreeSet::from([name("plumbing")]),
                }],
                overflow: vec![OverflowStep {
                    after_seconds: 60,
                    queue_id: name("repairs"),
                }],
                service_level_percent: 80,
                service_level_seconds: 20,
                max_wait_seconds: 300,
                max_wait_queue_id: Some(name("callbacks")),
                sticky_seconds: 30,
            },
            at: at(2),
        },
    ];
    golden::check(
        &file("queue"),
        &stream("queue"),
        pb::queue_events::Event::EVENT_TYPES,
        &queues,
        &[],
    );
    let cases = [
        CaseEvent::Opened {
            caller_number: "13800138000".into(),
            owner_agent_id: name("agent-1"),
            at: at(1),
        },
        CaseEvent::OwnerChanged {
            caller_number: "13800138000".into(),
            owner_agent_id: name("agent-2"),
            at: at(2),
        },
        CaseEvent::Closed {
            caller_number: "13800138000".into(),
            at: at(3),
        },
    ];
    golden::check(
        &file("case"),
        &stream("case"),
        pb::case_events::Event::EVENT_TYPES,
        &cases,
        &[],
    );
}

#[test]
fn the_published_presence_reads_back_as_it_was_written() {
    let presences = [AgentPresenceEvent::Changed {
        presence: PublishedPresence {
            state: PresenceState::NotReady,
            reason: Some(NotReadyReason::Missed),
            call_id: Some(name("call-1")),
            center_id: Some(name("langfang")),
            queue_ids: vec![name("general")],
        },
        agent_version: 7,
        at: at(1),
    }];
    golden::check(
        &file("presence"),
        &stream("presence"),
        pb::agent_presence_events::Event::EVENT_TYPES,
        &presences,
        &[],
    );
}

#[test]
fn an_event_written_by_a_newer_release_is_refused_not_misread() {
    use std::sync::Arc;

    use callcenter_eventlog::{CommitMetadata, RecordedCommit, RecordedEvent};
    use callcenter_kit::PersistedEvent;
    let event = RecordedEvent {
        commit: Arc::new(RecordedCommit {
            position: 1,
            stream: stream("agent"),
            metadata: CommitMetadata::default(),
        }),
        version: 1,
        event_id: "e1".into(),
        event_type: "callcenter.routing.v1.AgentLoggedIn".into(),
        schema_version: 3,
        occurred_at: at(1),
        payload: bytes::Bytes::new(),
    };
    let error = AgentEvent::decode(&event).unwrap_err();
    assert!(
        error.reason.contains("written at schema version 3"),
        "{error}"
    );
}
