//! The router's decisions as commands on a real SQLite log: a reservation decided on a stale
//! view of an agent is refused by the agent's version, never lands.

use std::collections::BTreeMap;
use std::sync::Arc;

use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_kit::{CommandMeta, Name, Timestamp};
use callcenter_routing::app::{NewAgent, Routing};
use callcenter_routing::domain::{Action, ActionKind, AgentCommand, Presence, Why};

fn name(value: &str) -> Name {
    Name::new(value).expect("a valid name")
}

fn meta(request_id: &str) -> CommandMeta {
    CommandMeta::system(name("t1"), "test", request_id)
}

fn reserve(agent_version: u64, call_id: &str) -> Action {
    Action {
        tenant: name("t1"),
        agent_id: name("a1"),
        agent_version,
        kind: ActionKind::Reserve {
            call_id: name(call_id),
            queue_id: name("sales"),
            directed: false,
            why: Why {
                rule: "members".into(),
                candidates: vec![name("a1")],
            },
        },
    }
}

#[tokio::test]
async fn a_reservation_decided_on_a_stale_view_of_the_agent_is_refused_by_its_version() {
    let directory = callcenter_testkit::TempDir::new("routing-decisions");
    let store = SqliteEventStore::open(&directory.path().join("events.db"))
        .await
        .expect("the log opens");
    let app = Routing::new(Arc::new(store));
    let at = Timestamp::now();
    let agent = NewAgent {
        display_name: "Agent One".into(),
        center_id: name("beijing"),
        queue_ids: vec![name("sales")],
        routing_domain: None,
    };
    app.create_agent(&meta("create"), &name("a1"), agent, at)
        .await
        .unwrap();
    let login = AgentCommand::Login {
        seat: name("desk-1"),
        at,
    };
    app.agent_command(&meta("login"), &name("a1"), login)
        .await
        .unwrap();
    let ready = app
        .agent_command(&meta("ready"), &name("a1"), AgentCommand::SetReady { at })
        .await
        .unwrap();
    let seen = ready.version.version();
    // The agent changes after the router saw them.
    let skills = AgentCommand::SetSkills {
        skills: BTreeMap::from([(name("billing"), 3)]),
        at,
    };
    app.agent_command(&meta("skills"), &name("a1"), skills)
        .await
        .unwrap();

    let refused = app.act(&reserve(seen, "c1"), at, None).await.unwrap_err();
    assert_eq!(refused.reason, "STALE_VERSION");
    assert_eq!(refused.metadata["current_version"], (seen + 1).to_string());
    let agent = app.get_agent(&name("t1"), &name("a1")).await.unwrap();
    assert!(matches!(agent.state.presence, Presence::Ready { .. }));

    // Decided again on what the agent is now, it lands.
    let reserved = app.act(&reserve(seen + 1, "c1"), at, None).await.unwrap();
    assert!(matches!(
        reserved.state.presence,
        Presence::Reserved { ref call_id, .. } if *call_id == name("c1")
    ));
}
