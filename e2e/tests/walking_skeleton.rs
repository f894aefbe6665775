//! The walking skeleton through every layer, against the running binary in both modes: a call
//! reported to telephony is routed to a logged-in ready agent, answered and ended; another is
//! abandoned; the reporting projection counts them per queue; the gateway serves the counts over
//! HTTP/JSON to the tenant's token and to no other tenant, which cannot take the tenant's numbers either.

use callcenter_e2e::{Instance, Mode, delete_event_log};
use callcenter_testkit::{PgSchema, TempDir, unique_name};
use serde_json::{Value, json};

async fn dev(directory: &TempDir, extra: &[&str]) -> Instance {
    Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra: extra.iter().map(|s| s.to_string()).collect(),
    })
    .await
}

/// Runs the whole skeleton for a fresh tenant of its own.
async fn skeleton(instance: &Instance, tenant: &str) {
    let admin = instance.token(tenant, "tenant_admin", "admin");
    let agent = instance.token(tenant, "agent", "agent-1");
    let other_tenant = instance.token(&unique_name("other"), "tenant_admin", "admin");

    // The tenant's set-up, through the API.
    for (queue_id, name) in [("general", "General"), ("repairs", "Repairs")] {
        let body = json!({"queue_id": queue_id, "display_name": name, "center_id": "huangdao"});
        instance.ok("POST", "/v1/queues", &admin, Some(body)).await;
    }
    let body = json!({"agent_id": "agent-1", "display_name": "Li Lei", "center_id": "huangdao",
                      "queue_ids": ["general"]});
    let created = instance.ok("POST", "/v1/agents", &admin, Some(body)).await;
    assert_eq!(created["state"], "logged_out");
    for (number, queue_id) in [("4000", "general"), ("4001", "repairs")] {
        let path = format!("/v1/numbers/{number}");
        let body = json!({"queue_id": queue_id});
        instance.ok("PUT", &path, &admin, Some(body)).await;
    }

    // The agent signs in and becomes ready, with the agent's own token.
    instance
        .ok("POST", "/v1/agents/agent-1/login", &agent, None)
        .await;
    let ready = instance
        .ok("POST", "/v1/agents/agent-1/ready", &agent, None)
        .await;
    assert_eq!(ready["state"], "ready");
    let (status, refused) = instance
        .call("POST", "/v1/agents/agent-2/login", Some(&agent), None)
        .await;
    assert_eq!(status, 403, "an agent acts only for themself: {refused}");

    // A call to 4000 is queued, routed to agent-1, answered and ended.
    let report = json!({"caller_number": "13800138000", "dialled_number": "4000",
                        "request_id": "call-1"});
    let call = instance.ok("POST", "/v1/calls", &admin, Some(report)).await;
    assert_eq!(
        (&call["state"], &call["queue_id"]),
        (&json!("queued"), &json!("general"))
    );
    let call_id = call["call_id"].as_str().expect("call id").to_owned();
    let call_path = format!("/v1/calls/{call_id}");
    let ringing = instance
        .poll_until(&call_path, &admin, |call| call["state"] == "ringing")
        .await;
    assert_eq!(ringing["agent_id"], "agent-1");
    let reserved = instance.ok("GET", "/v1/agents/agent-1", &agent, None).await;
    assert_eq!(reserved["state"], "reserved");
    assert_eq!(reserved["call_id"].as_str(), Some(call_id.as_str()));
    let answer_path = format!("{call_path}/answer");
    let answered = instance.ok("POST", &answer_path, &agent, None).await;
    assert_eq!(answered["state"], "answered");
    let end = json!({"ended_by": "caller"});
    let ended = instance
        .ok("POST", &format!("{call_path}/end"), &agent, Some(end))
        .await;
    assert_eq!(ended["state"], "ended");
    assert!(ended["answered_at"].is_string() && ended["ended_at"].is_string());
    instance
        .poll_until("/v1/agents/agent-1", &agent, |agent| {
            agent["state"] == "ready"
        })
        .await;

    // Reporting the same call again (same request id) returns the first result.
    let retry = json!({"caller_number": "13800138000", "dialled_number": "4000",
                       "request_id": "call-1", "call_id": call_id});
    let again = instance.ok("POST", "/v1/calls", &admin, Some(retry)).await;
    assert_eq!(again["state"], "ended");

    // A call to 4001 waits (nobody serves repairs) until the caller gives up.
    let report = json!({"caller_number": "+8610123456", "dialled_number": "4001"});
    let waiting = instance.ok("POST", "/v1/calls", &admin, Some(report)).await;
    let waiting_path = format!("/v1/calls/{}", waiting["call_id"].as_str().unwrap());
    let abandoned = instance
        .ok("POST", &format!("{waiting_path}/abandon"), &admin, None)
        .await;
    assert_eq!(abandoned["state"], "abandoned");
    let (status, late) = instance
        .call(
            "POST",
            &format!("{waiting_path}/answer"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, 400, "an abandoned call cannot be answered: {late}");
    assert_eq!(late["reason"], "CALL_CANNOT_ANSWER");

    // The read model counts both calls per queue.
    let expected = json!({"queue_stats": [
        {"queue_id": "general", "offered": 1, "answered": 1, "abandoned": 0},
        {"queue_id": "repairs", "offered": 1, "answered": 0, "abandoned": 1},
    ], "next_page_token": ""});
    instance
        .poll_until("/v1/queues/stats", &admin, |stats| *stats == expected)
        .await;
    let page = instance
        .ok("GET", "/v1/queues/stats?page_size=1", &admin, None)
        .await;
    assert_eq!(page["queue_stats"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["next_page_token"], "general");

    // Another tenant sees nothing of it; no token, no answer.
    let stats = instance
        .ok("GET", "/v1/queues/stats", &other_tenant, None)
        .await;
    assert_eq!(stats, json!({"queue_stats": [], "next_page_token": ""}));
    let (status, hidden) = instance
        .call("GET", &call_path, Some(&other_tenant), None)
        .await;
    assert_eq!((status, &hidden["reason"]), (404, &json!("CALL_NOT_FOUND")));
    let (status, taken) = instance
        .call(
            "PUT",
            "/v1/numbers/4000",
            Some(&other_tenant),
            Some(json!({"queue_id": "general"})),
        )
        .await;
    assert_eq!(
        (status, &taken["reason"]),
        (409, &json!("NUMBER_TAKEN")),
        "a number reaches one tenant only: {taken}"
    );
    let (status, anonymous) = instance.call("GET", "/v1/queues/stats", None, None).await;
    assert_eq!(
        (status, &anonymous["code"]),
        (401, &json!("UNAUTHENTICATED"))
    );

    // Bad input is a problem document naming the field.
    let bad = json!({"caller_number": "not a number", "dialled_number": "4000"});
    let (status, problem) = instance
        .call("POST", "/v1/calls", Some(&admin), Some(bad))
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["violations"][0]["field"], "caller_number");
    let unknown_number = json!({"caller_number": "1", "dialled_number": "9999"});
    let (status, unassigned) = instance
        .call("POST", "/v1/calls", Some(&admin), Some(unknown_number))
        .await;
    assert_eq!(
        (status, &unassigned["reason"]),
        (400, &json!("NUMBER_NOT_ASSIGNED"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_skeleton_works_in_the_embedded_mode() {
    let directory = TempDir::new("e2e-dev");
    let instance = dev(&directory, &["--no-demo"]).await;
    skeleton(&instance, "acme").await;
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_skeleton_works_on_jetstream_and_postgres() {
    let schema = PgSchema::create("e2e").await;
    let prefix = unique_name("e2e");
    let instance = Instance::start(Mode::Serve {
        target: "all".into(),
        extra: Vec::new(),
        nats_url: callcenter_testkit::nats_url(),
        database_url: schema.url(),
        prefix: prefix.clone(),
        secret: unique_name("secret-of-at-least-32-characters"),
    })
    .await;
    skeleton(&instance, "acme").await;
    instance.stop().await;
    delete_event_log(&prefix).await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_skeleton_works_with_one_process_per_service() {
    let schema = PgSchema::create("e2e").await;
    let migrated = std::process::Command::new(callcenter_e2e::binary())
        .args(["migrate", "--database-url", &schema.url()])
        .output()
        .expect("run callcenter migrate");
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let prefix = unique_name("split");
    let secret = unique_name("secret-of-at-least-32-characters");
    let serve = |target: &str, extra: Vec<String>| Mode::Serve {
        target: target.into(),
        extra,
        nats_url: callcenter_testkit::nats_url(),
        database_url: schema.url(),
        prefix: prefix.clone(),
        secret: secret.clone(),
    };
    let telephony = Instance::start(serve("telephony", vec![])).await;
    let routing = Instance::start(serve("routing", vec![])).await;
    let reporting = Instance::start(serve("reporting", vec![])).await;
    let upstreams = callcenter_e2e::upstreams(&telephony, &routing, &reporting);
    let gateway = Instance::start(serve("gateway", upstreams)).await;
    skeleton(&gateway, "acme").await;
    for instance in [gateway, reporting, routing, telephony] {
        instance.stop().await;
    }
    delete_event_log(&prefix).await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_runs_any_subset_of_the_services() {
    let schema = PgSchema::create("e2esubset").await;
    let prefix = unique_name("subset");
    let secret = unique_name("secret-of-at-least-32-characters");
    let serve = |target: &str, extra: Vec<String>| Mode::Serve {
        target: target.into(),
        extra,
        nats_url: callcenter_testkit::nats_url(),
        database_url: schema.url(),
        prefix: prefix.clone(),
        secret: secret.clone(),
    };
    // Calls and routing in one process; read models and the HTTP API in another, which migrates
    // its own read models when it starts.
    let calls = Instance::start(serve("routing,telephony", vec![])).await;
    let upstreams = ["telephony", "routing"]
        .into_iter()
        .flat_map(|name| ["--upstream".to_owned(), format!("{name}={}", calls.grpc)])
        .collect();
    let edge = Instance::start(serve("reporting,gateway", upstreams)).await;
    skeleton(&edge, "acme").await;
    for instance in [edge, calls] {
        instance.stop().await;
    }
    delete_event_log(&prefix).await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tenant_is_loaded_once_and_state_survives_a_restart() {
    let directory = TempDir::new("e2e-demo");
    let instance = dev(&directory, &[]).await;
    let admin = instance.token("demo", "tenant_admin", "admin");
    let agent = instance.ok("GET", "/v1/agents/agent-1", &admin, None).await;
    assert_eq!(agent["queue_ids"], json!(["general", "repairs"]));
    instance
        .ok("POST", "/v1/agents/agent-1/login", &admin, None)
        .await;
    instance
        .ok("POST", "/v1/agents/agent-1/ready", &admin, None)
        .await;
    let report = json!({"caller_number": "13800138000", "dialled_number": "4000"});
    let call = instance.ok("POST", "/v1/calls", &admin, Some(report)).await;
    let first_call = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    instance
        .poll_until(&first_call, &admin, |call| call["state"] == "ringing")
        .await;
    instance.stop().await;

    // Restarted on the same data directory: same key, same calls, routing picks up where it was.
    let instance = dev(&directory, &[]).await;
    let call = instance.ok("GET", &first_call, &admin, None).await;
    assert_eq!(call["state"], "ringing");
    let answer = json!({"agent_id": "agent-1"});
    instance
        .ok(
            "POST",
            &format!("{first_call}/answer"),
            &admin,
            Some(answer),
        )
        .await;
    instance
        .ok("POST", &format!("{first_call}/end"), &admin, None)
        .await;
    let expected = json!({"queue_stats": [
        {"queue_id": "general", "offered": 1, "answered": 1, "abandoned": 0},
    ], "next_page_token": ""});
    instance
        .poll_until("/v1/queues/stats", &admin, |stats| *stats == expected)
        .await;
    // The demo queues allow 30 s of after-call work; the agent ends it by going ready.
    let wrapping_up: Value = instance
        .poll_until("/v1/agents/agent-1", &admin, |agent| {
            agent["state"] == "after_call_work"
        })
        .await;
    assert_eq!(
        wrapping_up["call_id"],
        first_call.trim_start_matches("/v1/calls/")
    );
    let ready = instance
        .ok("POST", "/v1/agents/agent-1/ready", &admin, None)
        .await;
    assert_eq!(
        (
            &ready["state"],
            &ready["version"],
            &ready["after_call_work_overruns"]
        ),
        (&json!("ready"), &json!(7), &json!(0)),
        "created, login, ready, reserved, on call, after-call work, ready"
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_demo_leaves_the_data_directory_empty() {
    let directory = TempDir::new("e2e-nodemo");
    let instance = dev(&directory, &["--no-demo"]).await;
    let admin = instance.token("demo", "tenant_admin", "admin");
    let (status, missing) = instance
        .call("GET", "/v1/agents/agent-1", Some(&admin), None)
        .await;
    assert_eq!(
        (status, missing["reason"].as_str()),
        (404, Some("AGENT_NOT_FOUND"))
    );
    instance.stop().await;
}
