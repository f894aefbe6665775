//! The real-time queue view through the running binary: per queue and per center, calls waiting
//! and the longest wait, agents by state, today's and the current interval's figures, over
//! HTTP/JSON and as a Server-Sent-Events stream for wallboards.

use callcenter_e2e::{Instance, Mode};
use callcenter_testkit::TempDir;
use serde_json::{Value, json};

fn queue<'a>(view: &'a Value, queue_id: &str) -> &'a Value {
    view["queues"]
        .as_array()
        .and_then(|queues| queues.iter().find(|queue| queue["queue_id"] == queue_id))
        .unwrap_or(&Value::Null)
}

fn center<'a>(view: &'a Value, center_id: &str) -> &'a Value {
    view["centers"]
        .as_array()
        .and_then(|centers| {
            centers
                .iter()
                .find(|center| center["center_id"] == center_id)
        })
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_view_shows_waiting_calls_agents_and_todays_figures_live() {
    let directory = TempDir::new("e2e-view");
    let instance = Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra: vec!["--no-demo".into()],
    })
    .await;
    let admin = instance.token("acme", "tenant_admin", "admin");
    for (queue_id, center_id) in [
        ("general", "langfang"),
        ("repairs", "langfang"),
        ("beijing-general", "beijing"),
    ] {
        let body = json!({"queue_id": queue_id, "display_name": queue_id, "center_id": center_id});
        instance.ok("POST", "/v1/queues", &admin, Some(body)).await;
    }
    for (agent_id, step) in [("agent-1", "ready"), ("agent-2", "not-ready")] {
        let body = json!({"agent_id": agent_id, "display_name": agent_id, "center_id": "langfang",
                          "queue_ids": ["general"]});
        instance.ok("POST", "/v1/agents", &admin, Some(body)).await;
        let path = format!("/v1/agents/{agent_id}");
        instance
            .ok("POST", &format!("{path}/login"), &admin, None)
            .await;
        let body = (step == "not-ready").then(|| json!({"reason": "lunch"}));
        instance
            .ok("POST", &format!("{path}/{step}"), &admin, body)
            .await;
    }
    let rules = json!({"routing": {"max_wait_seconds": 1}});
    instance
        .ok("PUT", "/v1/queues/repairs/routing", &admin, Some(rules))
        .await;
    // A wallboard opens the stream: the whole view comes at once.
    let supervisor = instance.token("acme", "duty_lead", "lead-1");
    let mut wallboard = instance.events("/v1/queues/view/stream", &supervisor).await;
    let (name, first) = wallboard.next().await.expect("the first view");
    assert_eq!(name, "queue-view");
    assert_eq!(queue(&first, "general")["agents"]["ready"], 1, "{first}");

    // One call answered and ended in general; one waits in repairs, where nobody works.
    let call = json!({"caller_number": "13800138000", "dialled_number": "4000",
                      "queue_id": "general"});
    let call = instance.ok("POST", "/v1/calls", &admin, Some(call)).await;
    let path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    instance
        .poll_until(&path, &admin, |call| call["state"] == "ringing")
        .await;
    instance
        .ok(
            "POST",
            &format!("{path}/answer"),
            &admin,
            Some(json!({"agent_id": "agent-1"})),
        )
        .await;
    instance
        .ok("POST", &format!("{path}/end"), &admin, None)
        .await;
    let waiting = json!({"caller_number": "13800138001", "dialled_number": "4000",
                         "queue_id": "repairs"});
    instance
        .ok("POST", "/v1/calls", &admin, Some(waiting))
        .await;

    let view = instance
        .poll_until("/v1/queues/view", &supervisor, |view| {
            queue(view, "general")["today"]["offered"] == 1
                && queue(view, "general")["agents"]["ready"] == 1
                && queue(view, "repairs")["waiting"] == 1
        })
        .await;
    let general = queue(&view, "general");
    assert_eq!(
        (
            &general["today"]["answered"],
            &general["today"]["abandoned"],
            &general["today"]["service_level"],
            &general["current_interval"]["offered"],
            &general["agents"]["not_ready"],
            &general["waiting"],
        ),
        (
            &json!(1),
            &json!(0),
            &json!(1.0),
            &json!(1),
            &json!(1),
            &json!(0)
        ),
        "{view}"
    );
    assert_eq!(center(&view, "langfang")["waiting"], 1, "{view}");
    assert_eq!(center(&view, "beijing")["waiting"], 0, "{view}");
    assert!(
        queue(&view, "repairs")["longest_wait_seconds"]
            .as_f64()
            .unwrap()
            >= 0.0
    );
    // The repairs call waits past the queue's maximum wait of one second.
    let late = instance
        .poll_until("/v1/queues/view", &supervisor, |view| {
            queue(view, "repairs")["over_max_wait"] == 1
        })
        .await;
    assert_eq!(center(&late, "langfang")["over_max_wait"], 1, "{late}");

    // The wallboard hears the change without asking.
    let mut seen = first;
    while queue(&seen, "repairs")["waiting"] != 1 {
        let (name, next) = wallboard.next().await.expect("a change");
        assert_eq!(name, "queue-view");
        seen = next;
    }
    // Agents may not read the view.
    let agent = instance.token("acme", "agent", "agent-1");
    let (status, _) = instance
        .call("GET", "/v1/queues/view", Some(&agent), None)
        .await;
    assert_eq!(status, 403);
    // A shutdown ends the stream; it does not wait for the wallboard to hang up.
    instance.stop().await;
    while let Some((name, _)) = wallboard.next().await {
        assert_eq!(name, "queue-view");
    }
}
