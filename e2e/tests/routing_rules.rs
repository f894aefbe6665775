//! Routing rules through the running binary (DOMAIN.md §3): skills with a minimum proficiency,
//! time-based widening, and overflow to a queue of another center, configured over HTTP.

use callcenter_e2e::dev_instance;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skills_then_widening_then_overflow_to_another_center() {
    let (_directory, instance) = dev_instance("e2e-rules").await;
    let admin = instance.token("acme", "tenant_admin", "admin");
    for (queue_id, center_id) in [("billing", "langfang"), ("beijing-general", "beijing")] {
        let body = json!({"queue_id": queue_id, "display_name": queue_id, "center_id": center_id});
        instance.ok("POST", "/v1/queues", &admin, Some(body)).await;
    }
    // Billing needs proficiency 4; after 1 s, 2 will do; after 3 s, Beijing's agents help.
    let rules = json!({"routing": {
        "priority": 3,
        "required_skills": {"billing": 4},
        "widening": [{"after_seconds": 1, "min_proficiency": 2}],
        "overflow": [{"after_seconds": 3, "queue_id": "beijing-general"}],
        "service_level_percent": 80, "service_level_seconds": 20
    }});
    let queue = instance
        .ok("PUT", "/v1/queues/billing/routing", &admin, Some(rules))
        .await;
    assert_eq!(queue["routing"]["required_skills"]["billing"], 4);
    let (status, problem) = instance
        .call(
            "PUT",
            "/v1/queues/billing/routing",
            Some(&admin),
            Some(json!({"routing": {"overflow": [{"after_seconds": 1, "queue_id": "nowhere"}]}})),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    for (agent_id, queue_ids, skills) in [
        ("novice", json!([]), json!({"billing": 2})),
        ("beijing-1", json!(["beijing-general"]), json!({})),
    ] {
        let body = json!({"agent_id": agent_id, "display_name": agent_id,
                          "center_id": "langfang", "queue_ids": queue_ids});
        instance.ok("POST", "/v1/agents", &admin, Some(body)).await;
        let path = format!("/v1/agents/{agent_id}");
        let skilled = instance
            .ok(
                "PUT",
                &format!("{path}/skills"),
                &admin,
                Some(json!({"skills": skills})),
            )
            .await;
        assert_eq!(skilled["skills"], skills);
    }
    let (status, _) = instance
        .call(
            "PUT",
            "/v1/agents/novice/skills",
            Some(&admin),
            Some(json!({"skills": {"billing": 9}})),
        )
        .await;
    assert_eq!(status, 400, "proficiency is 1 to 5");
    instance
        .ok("POST", "/v1/agents/novice/login", &admin, None)
        .await;
    instance
        .ok("POST", "/v1/agents/novice/ready", &admin, None)
        .await;

    // A billing call reaches the novice once widening lets proficiency 2 take it.
    let report = json!({"caller_number": "13800138000", "dialled_number": "4000",
                        "queue_id": "billing"});
    let reported = std::time::Instant::now();
    let call = instance.ok("POST", "/v1/calls", &admin, Some(report)).await;
    let path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    let ringing = instance
        .poll_until(&path, &admin, |call| call["state"] == "ringing")
        .await;
    assert_eq!(ringing["agent_id"], "novice");
    let waited = reported.elapsed();
    assert!(
        waited.as_millis() >= 1_000,
        "not before the widening step: {waited:?}"
    );

    // With the novice busy, the next billing call overflows to Beijing after 3 s.
    instance
        .ok("POST", "/v1/agents/beijing-1/login", &admin, None)
        .await;
    instance
        .ok("POST", "/v1/agents/beijing-1/ready", &admin, None)
        .await;
    let report = json!({"caller_number": "13800138001", "dialled_number": "4000",
                        "queue_id": "billing"});
    let reported = std::time::Instant::now();
    let call = instance.ok("POST", "/v1/calls", &admin, Some(report)).await;
    let path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    let overflowed = instance
        .poll_until(&path, &admin, |call| call["state"] == "ringing")
        .await;
    assert_eq!(overflowed["agent_id"], "beijing-1");
    let waited = reported.elapsed();
    assert!(
        waited.as_millis() >= 3_000,
        "not before the overflow step: {waited:?}"
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_waited_the_queue_maximum_moves_to_the_max_wait_queue() {
    let (_directory, instance) = dev_instance("e2e-max-wait").await;
    let admin = instance.token("acme", "tenant_admin", "admin");
    for (queue_id, center_id) in [("general", "langfang"), ("callbacks", "beijing")] {
        let body = json!({"queue_id": queue_id, "display_name": queue_id, "center_id": center_id});
        instance.ok("POST", "/v1/queues", &admin, Some(body)).await;
    }
    for (rules, why) in [
        (
            json!({"max_wait_queue_id": "callbacks"}),
            "needs max_wait_seconds",
        ),
        (
            json!({"max_wait_seconds": 2, "max_wait_queue_id": "nowhere"}),
            "no such queue",
        ),
        (
            json!({"max_wait_seconds": 2, "max_wait_queue_id": "general"}),
            "not itself",
        ),
    ] {
        let (status, problem) = instance
            .call(
                "PUT",
                "/v1/queues/general/routing",
                Some(&admin),
                Some(json!({ "routing": rules })),
            )
            .await;
        assert_eq!(status, 400, "{why}: {problem}");
    }
    let rules = json!({"routing": {"max_wait_seconds": 2, "max_wait_queue_id": "callbacks"}});
    let queue = instance
        .ok("PUT", "/v1/queues/general/routing", &admin, Some(rules))
        .await;
    assert_eq!(queue["routing"]["max_wait_queue_id"], "callbacks");
    // Nobody serves general; the callback team in Beijing is ready.
    let body = json!({"agent_id": "callback-1", "display_name": "callback-1",
                      "center_id": "beijing", "queue_ids": ["callbacks"]});
    instance.ok("POST", "/v1/agents", &admin, Some(body)).await;
    for step in ["login", "ready"] {
        let path = format!("/v1/agents/callback-1/{step}");
        instance.ok("POST", &path, &admin, None).await;
    }
    let report = json!({"caller_number": "13800138000", "dialled_number": "4000",
                        "queue_id": "general", "priority": "emergency"});
    let reported = std::time::Instant::now();
    let call = instance.ok("POST", "/v1/calls", &admin, Some(report)).await;
    let path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    let ringing = instance
        .poll_until(&path, &admin, |call| call["state"] == "ringing")
        .await;
    let waited = reported.elapsed();
    assert_eq!(
        (&ringing["agent_id"], &ringing["queue_id"]),
        (&json!("callback-1"), &json!("callbacks")),
        "{ringing}"
    );
    assert_eq!(ringing["priority"], "emergency", "keeps its priority");
    assert!(
        waited.as_millis() >= 2_000,
        "not before the maximum: {waited:?}"
    );
    eprintln!(
        "max wait 2 s: the call rang in the max-wait queue after {} ms",
        waited.as_millis()
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_caller_reaches_the_owner_of_their_open_case() {
    let (_directory, instance) = dev_instance("e2e-cases").await;
    let admin = instance.token("acme", "tenant_admin", "admin");
    let body = json!({"queue_id": "general", "display_name": "General", "center_id": "langfang"});
    instance.ok("POST", "/v1/queues", &admin, Some(body)).await;
    let rules = json!({"routing": {"sticky_seconds": 30}});
    instance
        .ok("PUT", "/v1/queues/general/routing", &admin, Some(rules))
        .await;
    // "other" has been ready longest; "owner" takes the customer's case first.
    for agent_id in ["other", "owner"] {
        let body = json!({"agent_id": agent_id, "display_name": agent_id,
                          "center_id": "langfang", "queue_ids": ["general"]});
        instance.ok("POST", "/v1/agents", &admin, Some(body)).await;
        for step in ["login", "ready"] {
            let path = format!("/v1/agents/{agent_id}/{step}");
            instance.ok("POST", &path, &admin, None).await;
        }
    }
    let owner = instance.token("acme", "agent", "owner");
    let case = json!({"caller_number": "13800138000", "owner_agent_id": "owner"});
    let opened = instance
        .ok("PUT", "/v1/cases/case-1", &owner, Some(case.clone()))
        .await;
    assert_eq!(
        (&opened["owner_agent_id"], &opened["closed"]),
        (&json!("owner"), &json!(false))
    );
    // Another agent cannot give themself someone else's case; bad input is refused.
    let other = instance.token("acme", "agent", "other");
    let (status, _) = instance
        .call("PUT", "/v1/cases/case-1", Some(&other), Some(case))
        .await;
    assert_eq!(status, 403);
    for (body, expected) in [
        (
            json!({"caller_number": "not-a-number", "owner_agent_id": "owner"}),
            400,
        ),
        (
            json!({"caller_number": "13800138000", "owner_agent_id": "nobody"}),
            404,
        ),
        (
            json!({"caller_number": "13900000000", "owner_agent_id": "owner"}),
            400,
        ),
    ] {
        let (status, problem) = instance
            .call("PUT", "/v1/cases/case-1", Some(&admin), Some(body))
            .await;
        assert_eq!(status, expected, "{problem}");
    }

    // The customer calls again: the case owner gets the call, not the longest idle.
    let report = |caller: &str| json!({"caller_number": caller, "dialled_number": "4000", "queue_id": "general"});
    let call = instance
        .ok("POST", "/v1/calls", &admin, Some(report("13800138000")))
        .await;
    let path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    let ringing = instance
        .poll_until(&path, &admin, |call| call["state"] == "ringing")
        .await;
    assert_eq!(ringing["agent_id"], "owner");

    // A second customer's case is also the owner's, who is busy: their call waits for the
    // owner, and goes to anyone at once when the case is closed.
    let second = json!({"caller_number": "13900000002", "owner_agent_id": "owner"});
    instance
        .ok("PUT", "/v1/cases/case-2", &admin, Some(second))
        .await;
    let call = instance
        .ok("POST", "/v1/calls", &admin, Some(report("13900000002")))
        .await;
    let path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let waiting = instance.ok("GET", &path, &admin, None).await;
    assert_eq!(waiting["state"], "queued", "waits for the owner: {waiting}");
    let closed = instance
        .ok("POST", "/v1/cases/case-2/close", &owner, None)
        .await;
    assert_eq!(closed["closed"], true);
    let ringing = instance
        .poll_until(&path, &admin, |call| call["state"] == "ringing")
        .await;
    assert_eq!(ringing["agent_id"], "other");
    let (status, problem) = instance
        .call(
            "PUT",
            "/v1/cases/case-2",
            Some(&admin),
            Some(json!({"caller_number": "13900000002", "owner_agent_id": "other"})),
        )
        .await;
    assert_eq!(
        (status, problem["reason"].as_str()),
        (400, Some("CASE_CLOSED")),
        "{problem}"
    );
    instance.stop().await;
}
