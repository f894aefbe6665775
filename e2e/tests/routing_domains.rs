//! A large tenant split into routing domains (DOMAIN.md §3, issue 4: partitions "by tenant, and
//! within a large tenant by routing domain"): two routing replicas each own one partition, and
//! each routes one domain of the same tenant; a domain's calls never reach another domain's
//! agents; an agent moved (while logged out) to the other domain is routed there.

use std::time::{Duration, Instant};

use callcenter_e2e::{Instance, Mode, delete_event_log};
use callcenter_eventlog::Name;
use callcenter_routing::Partition;
use callcenter_testkit::unique_name;
use serde_json::json;

/// Two domain names of `tenant` that partitions 0 and 1 (of 2) route.
fn domains_of_two_partitions(tenant: &str) -> (String, String) {
    let tenant = Name::new(tenant).expect("valid name");
    let first = Partition { index: 0, count: 2 };
    let owned_by = |index: u32| {
        (0..)
            .map(|number| format!("region-{number}"))
            .find(|domain| {
                let domain = Name::new(domain.as_str()).expect("valid name");
                first.owns(&tenant, Some(&domain)) == (index == 0)
            })
            .expect("a domain")
    };
    (owned_by(0), owned_by(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_domains_of_one_tenant_are_routed_apart_by_two_replicas() {
    let prefix = unique_name("domains");
    let secret = unique_name("secret-of-at-least-32-characters");
    let serve = |target: &str, extra: Vec<String>| {
        Mode::serve_without_read_models(target, extra, &prefix, &secret)
    };
    let routing_flags = || {
        ["--lease-seconds", "2", "--routing-partitions", "2"]
            .map(str::to_owned)
            .to_vec()
    };
    let telephony = Instance::start(serve("telephony", vec![])).await;
    let first = Instance::start(serve("routing", routing_flags())).await;
    let second = Instance::start(serve("routing", routing_flags())).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !(first.routing_partitions_held() == 1 && second.routing_partitions_held() == 1) {
        assert!(
            Instant::now() < deadline,
            "one partition each:\n{}\n{}",
            first.log_text(),
            second.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gateway = callcenter_e2e::gateway_in_front(&telephony, &first, &prefix, &secret).await;
    let admin = gateway.token("bigbank", "tenant_admin", "admin");
    let (west, east) = domains_of_two_partitions("bigbank");

    // West's loans queue wants the loans skill; east's cards queue takes its members.
    for (queue_id, domain, number) in [("loans", &west, "4000"), ("cards", &east, "4001")] {
        let body = json!({"queue_id": queue_id, "display_name": queue_id,
                          "center_id": "langfang", "routing_domain": domain});
        let queue = gateway.ok("POST", "/v1/queues", &admin, Some(body)).await;
        assert_eq!(queue["routing_domain"], domain.as_str());
        let number_body = json!({"queue_id": queue_id});
        gateway
            .ok(
                "PUT",
                &format!("/v1/numbers/{number}"),
                &admin,
                Some(number_body),
            )
            .await;
    }
    let rules = json!({"routing": {"required_skills": {"loans": 1}}});
    gateway
        .ok("PUT", "/v1/queues/loans/routing", &admin, Some(rules))
        .await;

    // A domain is closed: no overflow into another, no agent serving another's queue.
    let (status, problem) = gateway
        .call(
            "PUT",
            "/v1/queues/cards/routing",
            Some(&admin),
            Some(json!({"routing": {"overflow": [{"after_seconds": 5, "queue_id": "loans"}]}})),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    let stray = json!({"agent_id": "stray", "display_name": "stray", "center_id": "langfang",
                       "queue_ids": ["loans"], "routing_domain": east});
    let (status, problem) = gateway
        .call("POST", "/v1/agents", Some(&admin), Some(stray))
        .await;
    assert_eq!(
        (status, problem["reason"].as_str()),
        (400, Some("QUEUE_IN_OTHER_ROUTING_DOMAIN")),
        "{problem}"
    );

    // Two east agents: one a member of cards, one skilled in loans but in the east.
    for (agent_id, queue_ids) in [("east-1", json!(["cards"])), ("lender", json!([]))] {
        let body = json!({"agent_id": agent_id, "display_name": agent_id,
                          "center_id": "langfang", "queue_ids": queue_ids,
                          "routing_domain": east});
        gateway.ok("POST", "/v1/agents", &admin, Some(body)).await;
        for step in ["login", "ready"] {
            let path = format!("/v1/agents/{agent_id}/{step}");
            gateway.ok("POST", &path, &admin, None).await;
        }
    }
    gateway
        .ok(
            "PUT",
            "/v1/agents/lender/skills",
            &admin,
            Some(json!({"skills": {"loans": 4}})),
        )
        .await;
    let call = |number: &'static str| {
        let (gateway, admin) = (&gateway, &admin);
        async move {
            let body = json!({"caller_number": "13800000001", "dialled_number": number});
            let call = gateway.ok("POST", "/v1/calls", admin, Some(body)).await;
            format!("/v1/calls/{}", call["call_id"].as_str().unwrap())
        }
    };
    let cards_call = call("4001").await;
    let ringing = gateway
        .poll_until(&cards_call, &admin, |call| call["state"] == "ringing")
        .await;
    assert_eq!(ringing["agent_id"], "east-1");

    // The loans call waits in the west although the east's lender is ready and skilled.
    let loans_call = call("4000").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = gateway.ok("GET", &loans_call, &admin, None).await;
    assert_eq!(waiting["state"], "queued", "{waiting}");
    let lender = gateway.ok("GET", "/v1/agents/lender", &admin, None).await;
    assert_eq!(lender["state"], "ready", "{lender}");

    // The lender moves west: refused while signed in, then done while logged out.
    let move_west = json!({"routing_domain": west});
    let (status, problem) = gateway
        .call(
            "PUT",
            "/v1/agents/lender/routing-domain",
            Some(&admin),
            Some(move_west.clone()),
        )
        .await;
    assert_eq!(
        (status, problem["reason"].as_str()),
        (400, Some("AGENT_CANNOT_CHANGE_ROUTING_DOMAIN")),
        "{problem}"
    );
    gateway
        .ok("POST", "/v1/agents/lender/logout", &admin, None)
        .await;
    let moved = gateway
        .ok(
            "PUT",
            "/v1/agents/lender/routing-domain",
            &admin,
            Some(move_west),
        )
        .await;
    assert_eq!(moved["routing_domain"], west.as_str());
    for step in ["login", "ready"] {
        let path = format!("/v1/agents/lender/{step}");
        gateway.ok("POST", &path, &admin, None).await;
    }
    let ringing = gateway
        .poll_until(&loans_call, &admin, |call| call["state"] == "ringing")
        .await;
    assert_eq!(ringing["agent_id"], "lender");
    // Each replica routed one of the two domains of the one tenant.
    assert_eq!(
        (
            first.routing_partitions_held(),
            second.routing_partitions_held()
        ),
        (1, 1)
    );

    for instance in [gateway, first, second, telephony] {
        instance.stop().await;
    }
    delete_event_log(&prefix).await;
}
