//! `GET /metrics` on `callcenter dev` after one call: HTTP and gRPC requests by route, commit
//! appends, consumers' lag, routing's decisions and waiting calls, and calls offered, answered
//! and abandoned, with non-zero values; no metric names a tenant.

use callcenter_e2e::{dev_instance, metric};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_requests_commits_consumers_routing_and_calls_of_one_call() {
    let (_directory, instance) = dev_instance("e2e-metrics").await;
    let admin = instance.token("acme", "tenant_admin", "admin");
    instance.open_general_queue(&admin).await;
    let agent = json!({"agent_id": "agent-1", "display_name": "A", "center_id": "langfang",
                       "queue_ids": ["general"]});
    instance.ok("POST", "/v1/agents", &admin, Some(agent)).await;
    for step in ["login", "ready"] {
        let path = format!("/v1/agents/agent-1/{step}");
        instance.ok("POST", &path, &admin, None).await;
    }
    let report = json!({"caller_number": "13800138000", "dialled_number": "4000"});
    let call = instance
        .ok("POST", "/v1/calls", &admin, Some(report.clone()))
        .await;
    let call_path = format!("/v1/calls/{}", call["call_id"].as_str().unwrap());
    instance
        .poll_until(&call_path, &admin, |call| call["state"] == "ringing")
        .await;
    instance
        .ok(
            "POST",
            &format!("{call_path}/answer"),
            &admin,
            Some(json!({"agent_id": "agent-1"})),
        )
        .await;
    instance
        .ok("POST", &format!("{call_path}/end"), &admin, None)
        .await;
    // A second caller gives up while waiting.
    let waiting = instance.ok("POST", "/v1/calls", &admin, Some(report)).await;
    let waiting_path = format!("/v1/calls/{}", waiting["call_id"].as_str().unwrap());
    instance
        .ok("POST", &format!("{waiting_path}/abandon"), &admin, None)
        .await;

    let text = instance.metrics().await;
    let positive = |name: &str, labels: &[(&str, &str)]| {
        let value = metric(&text, name, labels);
        assert!(value > Some(0.0), "{name} {labels:?}: {value:?}\n{text}");
    };
    positive(
        "callcenter_requests_total",
        &[
            ("protocol", "http"),
            ("route", "/v1/calls/{call_id}/answer"),
            ("status", "200"),
        ],
    );
    positive(
        "callcenter_requests_total",
        &[
            ("protocol", "grpc"),
            (
                "route",
                "/callcenter.telephony.v1.TelephonyService/ReportCall",
            ),
        ],
    );
    positive(
        "callcenter_request_duration_seconds_count",
        &[("protocol", "http"), ("route", "/v1/calls")],
    );
    positive(
        "callcenter_eventlog_append_duration_seconds_count",
        &[("backend", "sqlite")],
    );
    positive(
        "callcenter_events_total",
        &[("event_type", "callcenter.telephony.v1.CallOffered")],
    );
    positive("callcenter_routing_decide_duration_seconds_count", &[]);
    positive(
        "callcenter_routing_action_duration_seconds_count",
        &[("action", "reserve")],
    );
    for outcome in ["offered", "answered", "abandoned"] {
        positive("callcenter_calls_total", &[("outcome", outcome)]);
    }
    // Every consumer and projection reports its lag and position.
    for subscription in [
        "routing-distributor-p0",
        "ring-timer",
        "telephony-ringer",
        "attendance-clerk",
        "reporting-queue-view",
    ] {
        let lag = metric(
            &text,
            "callcenter_consumer_lag",
            &[("subscription", subscription)],
        );
        assert!(lag.is_some(), "{subscription}\n{text}");
        positive(
            "callcenter_consumer_position",
            &[("subscription", subscription)],
        );
    }
    assert!(
        metric(
            &text,
            "callcenter_routing_waiting_calls",
            &[("partition", "0")]
        )
        .is_some(),
        "{text}"
    );
    // No tenant as a label: per-tenant figures are in the read models.
    assert!(!text.contains("tenant") && !text.contains("acme"), "{text}");
    instance.stop().await;
}
