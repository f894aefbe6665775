//! Agent presence through the running binary (DOMAIN.md §3): one login per agent, not ready with
//! a reason, a missed ring that leaves the agent not ready "missed", and after-call work that ends
//! at the queue's limit with the overrun recorded.

use callcenter_e2e::{Instance, Mode};
use callcenter_testkit::TempDir;
use serde_json::{Value, json};

/// A dev instance of tenant `acme` (rings time out after one second): queue `general` with one
/// second of after-call work, number 4000, and agent-1 (and agent-2 when `two`) logged in at
/// `desk-N` and ready.
async fn start(two: bool) -> (TempDir, Instance, String) {
    let directory = TempDir::new("e2e-presence");
    let instance = Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra: ["--no-demo", "--ring-timeout-seconds", "1"]
            .map(String::from)
            .to_vec(),
    })
    .await;
    let admin = instance.token("acme", "tenant_admin", "admin");
    let queue = json!({"queue_id": "general", "display_name": "General", "center_id": "langfang",
                       "after_call_work_seconds": 1});
    let created = instance.ok("POST", "/v1/queues", &admin, Some(queue)).await;
    assert_eq!(created["after_call_work_seconds"], 1);
    instance
        .ok(
            "PUT",
            "/v1/numbers/4000",
            &admin,
            Some(json!({"queue_id": "general"})),
        )
        .await;
    for index in 1..=(if two { 2 } else { 1 }) {
        let agent_id = format!("agent-{index}");
        let body = json!({"agent_id": agent_id, "display_name": agent_id, "center_id": "langfang",
                          "queue_ids": ["general"], "chat_capacity": 2});
        instance.ok("POST", "/v1/agents", &admin, Some(body)).await;
        let login = json!({"seat": format!("desk-{index}")});
        let path = format!("/v1/agents/{agent_id}");
        instance
            .ok("POST", &format!("{path}/login"), &admin, Some(login))
            .await;
        instance
            .ok("POST", &format!("{path}/ready"), &admin, None)
            .await;
    }
    (directory, instance, admin)
}

async fn call_in(instance: &Instance, admin: &str) -> String {
    let report = json!({"caller_number": "13800138000", "dialled_number": "4000"});
    let call = instance.ok("POST", "/v1/calls", admin, Some(report)).await;
    format!("/v1/calls/{}", call["call_id"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_login_per_agent_and_not_ready_with_a_reason() {
    let (_directory, instance, _admin) = start(false).await;
    let agent = instance.token("acme", "agent", "agent-1");

    // The same seat again changes nothing; another seat is refused and recorded.
    let again = instance
        .ok(
            "POST",
            "/v1/agents/agent-1/login",
            &agent,
            Some(json!({"seat": "desk-1"})),
        )
        .await;
    assert_eq!(
        (&again["state"], &again["seat"]),
        (&json!("ready"), &json!("desk-1"))
    );
    let (status, refused) = instance
        .call(
            "POST",
            "/v1/agents/agent-1/login",
            Some(&agent),
            Some(json!({"seat": "desk-9"})),
        )
        .await;
    assert_eq!(
        (
            status,
            refused["reason"].as_str(),
            refused["metadata"]["seat"].as_str()
        ),
        (400, Some("AGENT_LOGGED_IN_ELSEWHERE"), Some("desk-1"))
    );
    let recorded = instance.ok("GET", "/v1/agents/agent-1", &agent, None).await;
    assert_eq!(
        (
            &recorded["refused_logins"],
            &recorded["state"],
            &recorded["chat_capacity"]
        ),
        (&json!(1), &json!("ready"), &json!(2))
    );

    // Not ready always says why; "missed" is routing's to set.
    let lunch = instance
        .ok(
            "POST",
            "/v1/agents/agent-1/not-ready",
            &agent,
            Some(json!({"reason": "lunch"})),
        )
        .await;
    assert_eq!(
        (&lunch["state"], &lunch["not_ready_reason"]),
        (&json!("not_ready"), &json!("lunch"))
    );
    for reason in ["missed", "sleeping"] {
        let (status, problem) = instance
            .call(
                "POST",
                "/v1/agents/agent-1/not-ready",
                Some(&agent),
                Some(json!({"reason": reason})),
            )
            .await;
        assert_eq!(status, 400, "{reason}: {problem}");
    }
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_misses_a_ring_is_set_not_ready_missed_and_the_call_goes_to_the_next() {
    let (_directory, instance, admin) = start(true).await;
    let call = call_in(&instance, &admin).await;
    let ringing = instance
        .poll_until(&call, &admin, |call| call["state"] == "ringing")
        .await;
    assert_eq!(ringing["agent_id"], "agent-1", "ready the longest");
    // agent-1 lets it ring: after the ring timeout the call goes to agent-2.
    let moved = instance
        .poll_until(&call, &admin, |call| {
            call["state"] == "ringing" && call["agent_id"] == "agent-2"
        })
        .await;
    assert_eq!(moved["queue_id"], "general");
    let missed = instance
        .poll_until("/v1/agents/agent-1", &admin, |agent| {
            agent["state"] == "not_ready"
        })
        .await;
    assert_eq!(missed["not_ready_reason"], "missed");
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_call_work_ends_at_the_queue_limit_and_the_overrun_is_recorded() {
    let (_directory, instance, admin) = start(false).await;
    let agent = instance.token("acme", "agent", "agent-1");
    let call = call_in(&instance, &admin).await;
    instance
        .poll_until(&call, &admin, |call| call["state"] == "ringing")
        .await;
    instance
        .ok("POST", &format!("{call}/answer"), &agent, None)
        .await;
    instance
        .ok("POST", &format!("{call}/end"), &agent, None)
        .await;
    let wrapping_up: Value = instance
        .poll_until("/v1/agents/agent-1", &agent, |agent| {
            agent["state"] == "after_call_work"
        })
        .await;
    assert_eq!(wrapping_up["after_call_work_overruns"], 0);
    // The queue allows one second: then routing makes the agent ready and records the overrun.
    let overrun = instance
        .poll_until("/v1/agents/agent-1", &agent, |agent| {
            agent["state"] == "ready"
        })
        .await;
    assert_eq!(overrun["after_call_work_overruns"], 1);
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_desktop_stream_offers_the_ringing_call_and_follows_the_agent() {
    let (_directory, instance, admin) = start(false).await;
    let agent = instance.token("acme", "agent", "agent-1");
    let (status, _) = instance
        .call(
            "GET",
            "/v1/agents/agent-1/stream",
            Some(&instance.token("acme", "agent", "agent-9")),
            None,
        )
        .await;
    assert_eq!(status, 403, "another agent's desktop is refused at once");
    let mut desktop = instance.events("/v1/agents/agent-1/stream", &agent).await;
    let (name, first) = desktop.next().await.expect("the agent");
    assert_eq!((name.as_str(), &first["state"]), ("agent", &json!("ready")));

    let call = call_in(&instance, &admin).await;
    let mut offer = Value::Null;
    while offer.is_null() {
        let (name, data) = desktop.next().await.expect("an offer");
        if name == "offer" {
            offer = data;
        }
    }
    assert_eq!(
        (&offer["state"], &offer["caller_number"], &offer["queue_id"]),
        (&json!("ringing"), &json!("13800138000"), &json!("general"))
    );
    assert_eq!(
        format!("/v1/calls/{}", offer["call_id"].as_str().unwrap()),
        call
    );
    instance
        .ok("POST", &format!("{call}/answer"), &agent, None)
        .await;
    loop {
        let (name, data) = desktop.next().await.expect("the answer");
        if name == "agent" && data["state"] == "on_call" {
            break;
        }
    }
    instance.stop().await;
}
