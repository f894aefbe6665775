//! The strict call lifecycle through the running binary: hold and resume, supervisors listening and
//! barging, a transfer to another agent that routing carries out, the disposition after the call,
//! and an emergency that jumps the queue.

use callcenter_e2e::{Instance, Mode};
use callcenter_testkit::TempDir;
use serde_json::{Value, json};

async fn start() -> (TempDir, Instance) {
    let directory = TempDir::new("e2e-lifecycle");
    let instance = Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra: vec!["--no-demo".into()],
    })
    .await;
    (directory, instance)
}

/// Queues, agents (each ready) and the number 4000 of tenant `acme`.
async fn set_up(instance: &Instance, agents: &[(&str, &str)]) -> String {
    let admin = instance.token("acme", "tenant_admin", "admin");
    for queue_id in ["general", "repairs", "vip"] {
        let body = json!({"queue_id": queue_id, "display_name": queue_id, "center_id": "langfang"});
        instance.ok("POST", "/v1/queues", &admin, Some(body)).await;
    }
    for (agent_id, queue_id) in agents {
        let body = json!({"agent_id": agent_id, "display_name": agent_id, "center_id": "langfang",
                          "queue_ids": [queue_id]});
        instance.ok("POST", "/v1/agents", &admin, Some(body)).await;
        for step in ["login", "ready"] {
            let path = format!("/v1/agents/{agent_id}/{step}");
            instance.ok("POST", &path, &admin, None).await;
        }
    }
    let body = json!({"queue_id": "general"});
    instance
        .ok("PUT", "/v1/numbers/4000", &admin, Some(body))
        .await;
    admin
}

async fn wait_for_state(instance: &Instance, path: &str, token: &str, state: &str) -> Value {
    instance
        .poll_until(path, token, |value| value["state"] == state)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_supervision_transfer_and_disposition_follow_the_lifecycle() {
    let (_directory, instance) = start().await;
    let admin = set_up(&instance, &[("agent-1", "general"), ("agent-2", "repairs")]).await;
    let agent_1 = instance.token("acme", "agent", "agent-1");
    let agent_2 = instance.token("acme", "agent", "agent-2");
    let lead_1 = instance.token("acme", "team_leader", "lead-1");
    let lead_2 = instance.token("acme", "duty_lead", "lead-2");

    let report = json!({"caller_number": "13800138000", "dialled_number": "4000"});
    let call = instance.ok("POST", "/v1/calls", &admin, Some(report)).await;
    let call_path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    let ringing = wait_for_state(&instance, &call_path, &admin, "ringing").await;
    assert_eq!(ringing["agent_id"], "agent-1");
    let step = |name: &str| format!("{call_path}/{name}");
    instance.ok("POST", &step("answer"), &agent_1, None).await;

    // Hold and resume.
    let held = instance.ok("POST", &step("hold"), &agent_1, None).await;
    assert_eq!(held["held"], true);
    let resumed = instance.ok("POST", &step("resume"), &agent_1, None).await;
    assert_eq!(resumed["held"], false);
    let (status, refused) = instance
        .call("POST", &step("hold"), Some(&agent_2), None)
        .await;
    assert_eq!(status, 403, "another agent cannot hold the call: {refused}");

    // One supervisor listens, then barges; a second one is refused.
    let listen = json!({"mode": "listen"});
    let supervised = instance
        .ok("POST", &step("supervision"), &lead_1, Some(listen))
        .await;
    assert_eq!(
        (
            &supervised["supervisor_id"],
            &supervised["supervision_mode"]
        ),
        (&json!("lead-1"), &json!("listen"))
    );
    let barge = json!({"mode": "barge"});
    let barged = instance
        .ok("POST", &step("supervision"), &lead_1, Some(barge))
        .await;
    assert_eq!(barged["supervision_mode"], "barge");
    let (status, second) = instance
        .call(
            "POST",
            &step("supervision"),
            Some(&lead_2),
            Some(json!({"mode": "whisper"})),
        )
        .await;
    assert_eq!(
        (status, &second["reason"]),
        (400, &json!("CALL_ALREADY_SUPERVISED"))
    );
    let (status, _) = instance
        .call(
            "POST",
            &step("supervision"),
            Some(&agent_1),
            Some(json!({"mode": "listen"})),
        )
        .await;
    assert_eq!(status, 403, "agents do not supervise");

    // agent-1 hands the call to agent-2 (who does not serve "general"); routing frees agent-1
    // and rings agent-2.
    let transfer = json!({"to_queue_id": "general", "to_agent_id": "agent-2"});
    let transferred = instance
        .ok("POST", &step("transfer"), &agent_1, Some(transfer))
        .await;
    assert_eq!(
        (&transferred["state"], &transferred["target_agent_id"]),
        (&json!("queued"), &json!("agent-2"))
    );
    assert_eq!(transferred["transfers"], 1);
    assert!(
        transferred["supervisor_id"] == "",
        "supervision ends with the transfer"
    );
    let ringing = wait_for_state(&instance, &call_path, &admin, "ringing").await;
    assert_eq!(ringing["agent_id"], "agent-2");
    instance
        .poll_until("/v1/agents/agent-1", &admin, |agent| {
            agent["state"] == "ready"
        })
        .await;
    instance.ok("POST", &step("answer"), &agent_2, None).await;
    let end = json!({"ended_by": "agent"});
    instance.ok("POST", &step("end"), &agent_2, Some(end)).await;

    // Only the answering agent classifies the call, once.
    let (status, wrong) = instance
        .call(
            "POST",
            &step("disposition"),
            Some(&admin),
            Some(json!({"code": "resolved", "agent_id": "agent-1"})),
        )
        .await;
    assert_eq!(
        (status, &wrong["reason"]),
        (400, &json!("CALL_WITH_OTHER_AGENT"))
    );
    let resolved = json!({"code": "resolved"});
    let classified = instance
        .ok("POST", &step("disposition"), &agent_2, Some(resolved))
        .await;
    assert_eq!(classified["disposition"], "resolved");
    let (status, again) = instance
        .call(
            "POST",
            &step("disposition"),
            Some(&agent_2),
            Some(json!({"code": "complaint"})),
        )
        .await;
    assert_eq!(
        (status, &again["reason"]),
        (400, &json!("DISPOSITION_ALREADY_SET"))
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_call_is_answered_before_earlier_normal_calls() {
    let (_directory, instance) = start().await;
    let admin = set_up(&instance, &[("agent-3", "vip")]).await;
    // The only agent of "vip" steps away; two calls wait, the emergency second.
    instance
        .ok("POST", "/v1/agents/agent-3/logout", &admin, None)
        .await;
    let normal = json!({"caller_number": "1", "dialled_number": "4000", "queue_id": "vip"});
    let first = instance.ok("POST", "/v1/calls", &admin, Some(normal)).await;
    let emergency = json!({"caller_number": "2", "dialled_number": "4000", "queue_id": "vip",
                           "priority": "emergency"});
    let second = instance
        .ok("POST", "/v1/calls", &admin, Some(emergency))
        .await;
    assert_eq!(second["priority"], "emergency");
    for step in ["login", "ready"] {
        let path = format!("/v1/agents/agent-3/{step}");
        instance.ok("POST", &path, &admin, None).await;
    }
    let urgent_path = format!("/v1/calls/{}", second["call_id"].as_str().unwrap());
    let ringing = wait_for_state(&instance, &urgent_path, &admin, "ringing").await;
    assert_eq!(ringing["agent_id"], "agent-3");
    let first_path = format!("/v1/calls/{}", first["call_id"].as_str().unwrap());
    let waiting = instance.ok("GET", &first_path, &admin, None).await;
    assert_eq!(
        waiting["state"], "queued",
        "the earlier normal call still waits"
    );
    instance.stop().await;
}

/// Today's weekday in UTC, Monday = 0.
fn utc_weekday_today() -> usize {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    // 1970-01-01 was a Thursday.
    ((days + 3) % 7) as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_calls_respect_the_do_not_call_list_and_calling_hours() {
    let (_directory, instance) = start().await;
    let admin = set_up(&instance, &[("agent-1", "general")]).await;
    let agent = instance.token("acme", "agent", "agent-1");
    let dial = |number: &str, purpose: &str| json!({"customer_number": number, "caller_id": "95158", "purpose": purpose});

    // The do-not-call list blocks marketing and surveys, not a callback the customer asked for.
    let listed = json!({"add": ["13800138000"]});
    let policy = instance
        .ok("POST", "/v1/outbound/do-not-call", &admin, Some(listed))
        .await;
    assert_eq!(policy["do_not_call"], json!(["13800138000"]));
    for purpose in ["marketing", "survey"] {
        let (status, refused) = instance
            .call(
                "POST",
                "/v1/outbound/calls",
                Some(&agent),
                Some(dial("13800138000", purpose)),
            )
            .await;
        assert_eq!((status, &refused["reason"]), (400, &json!("DO_NOT_CALL")));
    }

    // Calling hours that leave out today refuse every purpose, callbacks included.
    let mut weekdays = [true; 7];
    weekdays[utc_weekday_today()] = false;
    let hours = json!({"hours": {"utc_offset_minutes": 0, "start_minute": 0, "end_minute": 1440,
                                 "weekdays": weekdays}});
    instance
        .ok("PUT", "/v1/outbound/calling-hours", &admin, Some(hours))
        .await;
    let (status, closed) = instance
        .call(
            "POST",
            "/v1/outbound/calls",
            Some(&agent),
            Some(dial("13800138000", "callback")),
        )
        .await;
    assert_eq!(
        (status, &closed["reason"]),
        (400, &json!("OUTSIDE_CALLING_HOURS"))
    );
    let cleared = instance
        .ok(
            "PUT",
            "/v1/outbound/calling-hours",
            &admin,
            Some(json!({"hours": null})),
        )
        .await;
    assert!(cleared["calling_hours"].is_null());

    // The callback goes out: routing reserves the dialling agent, the customer answers.
    let call = instance
        .ok(
            "POST",
            "/v1/outbound/calls",
            &agent,
            Some(dial("13800138000", "callback")),
        )
        .await;
    assert_eq!(
        (&call["direction"], &call["purpose"], &call["queue_id"]),
        (&json!("outbound"), &json!("callback"), &json!("outbound"))
    );
    let call_path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    let ringing = wait_for_state(&instance, &call_path, &agent, "ringing").await;
    assert_eq!(ringing["agent_id"], "agent-1");
    instance
        .ok("POST", &format!("{call_path}/answer"), &agent, None)
        .await;
    instance
        .ok("POST", &format!("{call_path}/end"), &agent, None)
        .await;
    instance
        .poll_until("/v1/agents/agent-1", &agent, |agent| {
            agent["state"] == "ready"
        })
        .await;

    // A survey call nobody answers is over, and the agent is free again.
    let survey = instance
        .ok(
            "POST",
            "/v1/outbound/calls",
            &agent,
            Some(dial("13900139000", "survey")),
        )
        .await;
    let survey_path = format!("/v1/calls/{}", survey["call_id"].as_str().unwrap());
    wait_for_state(&instance, &survey_path, &agent, "ringing").await;
    let busy = json!({"reason": "busy"});
    let over = instance
        .ok(
            "POST",
            &format!("{survey_path}/not-reached"),
            &agent,
            Some(busy),
        )
        .await;
    assert_eq!(
        (&over["state"], &over["not_reached_reason"]),
        (&json!("not_reached"), &json!("busy"))
    );
    instance
        .poll_until("/v1/agents/agent-1", &agent, |agent| {
            agent["state"] == "ready"
        })
        .await;
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_declines_a_ringing_call_sends_it_to_the_next_agent() {
    let (_directory, instance) = start().await;
    let admin = set_up(&instance, &[("agent-1", "general"), ("agent-2", "general")]).await;
    let agent_1 = instance.token("acme", "agent", "agent-1");
    let agent_2 = instance.token("acme", "agent", "agent-2");

    let report = json!({"caller_number": "13800138000", "dialled_number": "4000"});
    let call = instance.ok("POST", "/v1/calls", &admin, Some(report)).await;
    let call_path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    let ringing = wait_for_state(&instance, &call_path, &admin, "ringing").await;
    assert_eq!(ringing["agent_id"], "agent-1", "ready the longest");
    let decline = format!("{call_path}/decline");
    let (status, refused) = instance.call("POST", &decline, Some(&agent_2), None).await;
    assert_eq!(status, 400, "only the ringing agent declines: {refused}");
    assert_eq!(refused["reason"], "CALL_WITH_OTHER_AGENT");
    instance.ok("POST", &decline, &agent_1, None).await;
    let next = instance
        .poll_until(&call_path, &admin, |call| {
            call["state"] == "ringing" && call["agent_id"] == "agent-2"
        })
        .await;
    assert_eq!(next["queue_id"], "general");
    instance.stop().await;
}
