//! Voice menus through the running binary's HTTP API: a bad menu is refused when saved, callers move
//! through a menu by keys (an emergency to the front of the queue, a self-service leaf, no input
//! then the fallback), elderly callers skip it, the closed branch outside business hours, and a
//! call keeps the menu version it entered with. The same over gRPC on JetStream and PostgreSQL.

use callcenter_e2e::{Instance, Mode};
use callcenter_proto::telephony::v1 as pb;
use callcenter_proto::telephony::v1::telephony_service_client::TelephonyServiceClient;
use callcenter_testkit::{PgSchema, TempDir, unique_name};
use serde_json::{Value, json};
use tonic::metadata::MetadataValue;
use tonic_types::StatusExt;

async fn start() -> (TempDir, Instance) {
    let directory = TempDir::new("e2e-ivr");
    let instance = Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra: vec!["--no-demo".into()],
    })
    .await;
    (directory, instance)
}

/// Every day, all day, in UTC.
fn always() -> Value {
    json!([{"utc_offset_minutes": 0, "start_minute": 0, "end_minute": 1440,
            "weekdays": [true, true, true, true, true, true, true]}])
}

/// Every day but today (UTC), so that the menu is closed now.
fn never_today() -> Value {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    // 1970-01-01 was a Thursday (Monday-first index 3).
    let today = usize::try_from((days + 3) % 7).unwrap();
    let weekdays: Vec<bool> = (0..7).map(|day| day != today).collect();
    json!([{"utc_offset_minutes": 0, "start_minute": 0, "end_minute": 1440,
            "weekdays": weekdays}])
}

/// Business hours, then 1 repairs (skill plumbing), 2 balance, 9 emergency; fallback general.
fn menu(open: Value, welcome: &str) -> Value {
    json!({
        "entry_node_id": "hours",
        "nodes": {
            "hours": {"hours": {"open": open, "open_node_id": "main", "closed_node_id": "closed"}},
            "main": {"menu": {"prompt": welcome, "max_attempts": 2, "fallback_node_id": "general",
                              "choices": {"1": "repairs", "2": "balance", "9": "emergency"}}},
            "repairs": {"queue": {"queue_id": "repairs", "skill": "plumbing"}},
            "general": {"queue": {"queue_id": "general"}},
            "emergency": {"queue": {"queue_id": "general", "priority": "emergency"}},
            "balance": {"self_service": {"prompt": "Your balance is", "service": "balance"}},
            "closed": {"self_service": {"prompt": "We are closed", "service": "closed"}}
        },
        "straight_to_person": ["elderly"],
        "person_queue": {"queue_id": "general"}
    })
}

async fn set_up(instance: &Instance) -> String {
    let admin = instance.token("acme", "tenant_admin", "admin");
    for queue_id in ["general", "repairs"] {
        let body = json!({"queue_id": queue_id, "display_name": queue_id, "center_id": "langfang"});
        instance.ok("POST", "/v1/queues", &admin, Some(body)).await;
    }
    admin
}

async fn call_in(instance: &Instance, admin: &str, caller: &str, dialled: &str) -> Value {
    let report = json!({"caller_number": caller, "dialled_number": dialled});
    instance.ok("POST", "/v1/calls", admin, Some(report)).await
}

async fn press(instance: &Instance, admin: &str, call: &Value, keys: &str) -> Value {
    let path = format!("/v1/calls/{}/ivr-keys", call["call_id"].as_str().unwrap());
    instance
        .ok("POST", &path, admin, Some(json!({"keys": keys})))
        .await
}

fn violations(problem: &Value) -> Vec<String> {
    problem["violations"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|violation| {
            format!(
                "{}: {}",
                violation["field"].as_str().unwrap(),
                violation["description"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_menu_with_a_loop_a_dead_end_or_an_unknown_queue_is_rejected_when_saved() {
    let (_directory, instance) = start().await;
    let admin = set_up(&instance).await;
    let mut looped = menu(always(), "Welcome");
    looped["nodes"]["general"] = json!({"menu": {"prompt": "Back?", "fallback_node_id": "main",
                                                 "choices": {"0": "main"}}});
    let (status, problem) = save_as(&instance, &admin, looped).await;
    assert_eq!(
        (status, problem["reason"].as_str()),
        (400, Some("IVR_MENU_INVALID"))
    );
    assert_eq!(
        violations(&problem),
        [
            "menu.nodes.general.menu.choices.0: loop: main → general → main",
            "menu.nodes.general.menu.fallback_node_id: loop: main → general → main",
        ]
    );

    let mut dead_end = menu(always(), "Welcome");
    dead_end["nodes"]["main"]["menu"]["choices"]["3"] = json!("billing");
    let (status, problem) = save_as(&instance, &admin, dead_end).await;
    assert_eq!(status, 400);
    assert_eq!(
        violations(&problem),
        ["menu.nodes.main.menu.choices.3: dead end: no node billing"]
    );

    let mut unknown_queue = menu(always(), "Welcome");
    unknown_queue["nodes"]["repairs"]["queue"]["queue_id"] = json!("plumbing");
    let (status, problem) = save_as(&instance, &admin, unknown_queue).await;
    assert_eq!(status, 400);
    assert_eq!(
        violations(&problem),
        ["menu.nodes.repairs.queue.queue_id: unknown queue plumbing"]
    );

    let mut malformed = menu(always(), "Welcome");
    malformed["nodes"]["main"]["menu"]["choices"]["12"] = json!("general");
    let (status, problem) = save_as(&instance, &admin, malformed).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(violations(&problem).len(), 1, "{problem}");

    // Nothing was stored, so no number can lead to the menu.
    let (status, _) = instance
        .call("GET", "/v1/ivr-menus/main", Some(&admin), None)
        .await;
    assert_eq!(status, 404);
    let (status, problem) = instance
        .call(
            "PUT",
            "/v1/numbers/4100",
            Some(&admin),
            Some(json!({"ivr_menu_id": "main"})),
        )
        .await;
    assert_eq!(
        (status, problem["reason"].as_str()),
        (400, Some("IVR_MENU_NOT_SAVED"))
    );
    let agent = instance.token("acme", "agent", "agent-1");
    let (status, _) = save_as(&instance, &agent, menu(always(), "Welcome")).await;
    assert_eq!(status, 403, "agents do not edit menus");
    instance.stop().await;
}

async fn save_as(instance: &Instance, token: &str, menu: Value) -> (u16, Value) {
    instance
        .call(
            "PUT",
            "/v1/ivr-menus/main",
            Some(token),
            Some(json!({"menu": menu})),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_move_through_the_menu_by_keys_and_keep_the_version_they_entered_with() {
    let (_directory, instance) = start().await;
    let admin = set_up(&instance).await;
    let (status, saved) = save_as(&instance, &admin, menu(always(), "Welcome, v1")).await;
    assert_eq!(
        (status, saved["version"].as_u64()),
        (200, Some(1)),
        "{saved}"
    );
    let (_, again) = save_as(&instance, &admin, menu(always(), "Welcome, v1")).await;
    assert_eq!(again["version"], 1, "saving the same menu changes nothing");
    let assigned = instance
        .ok(
            "PUT",
            "/v1/numbers/4100",
            &admin,
            Some(json!({"ivr_menu_id": "main"})),
        )
        .await;
    assert_eq!(assigned["ivr_menu_id"], "main");

    // Into the menu: the first prompt.
    let waiting = call_in(&instance, &admin, "13800138000", "4100").await;
    assert_eq!(waiting["state"], "in_ivr");
    assert_eq!(waiting["ivr"]["node_id"], "main");
    assert_eq!(waiting["ivr"]["prompt"], "Welcome, v1");

    // A new version while the caller listens: the call keeps version 1.
    let (_, v2) = save_as(&instance, &admin, menu(always(), "Welcome, v2")).await;
    assert_eq!(v2["version"], 2);
    let again = press(&instance, &admin, &waiting, "").await;
    assert_eq!(
        (
            &again["ivr"]["menu_version"],
            &again["ivr"]["attempts"],
            &again["ivr"]["prompt"]
        ),
        (&json!(1), &json!(1), &json!("Welcome, v1")),
        "no input replays the prompt of the call's version"
    );
    let (status, refused) = instance
        .call(
            "POST",
            &format!(
                "/v1/calls/{}/ivr-keys",
                waiting["call_id"].as_str().unwrap()
            ),
            Some(&admin),
            Some(json!({"keys": "x"})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let fallen_back = press(&instance, &admin, &waiting, "7").await;
    assert_eq!(
        (&fallen_back["state"], &fallen_back["queue_id"]),
        (&json!("queued"), &json!("general")),
        "after the last failed try: the fallback"
    );

    // 1: repairs, with the skill the menu asks for.
    let repairs = call_in(&instance, &admin, "13800138001", "4100").await;
    assert_eq!(repairs["ivr"]["prompt"], "Welcome, v2");
    let repairs = press(&instance, &admin, &repairs, "1").await;
    assert_eq!(
        (
            &repairs["state"],
            &repairs["queue_id"],
            &repairs["required_skill"]
        ),
        (&json!("queued"), &json!("repairs"), &json!("plumbing"))
    );

    // 9: an emergency goes to the front of the queue.
    let emergency = call_in(&instance, &admin, "13800138002", "4100").await;
    let emergency = press(&instance, &admin, &emergency, "9").await;
    assert_eq!(
        (&emergency["state"], &emergency["priority"]),
        (&json!("queued"), &json!("emergency"))
    );

    // 2: self-service; keys after that are refused.
    let balance = call_in(&instance, &admin, "13800138003", "4100").await;
    let served = press(&instance, &admin, &balance, "2").await;
    assert_eq!(
        (
            &served["state"],
            &served["self_service"],
            &served["ivr"]["prompt"]
        ),
        (
            &json!("self_served"),
            &json!("balance"),
            &json!("Your balance is")
        )
    );
    let (status, refused) = instance
        .call(
            "POST",
            &format!(
                "/v1/calls/{}/ivr-keys",
                balance["call_id"].as_str().unwrap()
            ),
            Some(&admin),
            Some(json!({"keys": "1"})),
        )
        .await;
    assert_eq!(
        (status, refused["reason"].as_str()),
        (400, Some("CALL_CANNOT_TAKE_KEYS"))
    );

    // An elderly caller goes straight to a person.
    let elderly = instance
        .ok(
            "PUT",
            "/v1/callers/13900000001",
            &admin,
            Some(json!({"class": "elderly"})),
        )
        .await;
    assert_eq!(elderly["class"], "elderly");
    let straight = call_in(&instance, &admin, "13900000001", "4100").await;
    assert_eq!(
        (
            &straight["state"],
            &straight["queue_id"],
            &straight["caller_class"]
        ),
        (&json!("queued"), &json!("general"), &json!("elderly"))
    );
    let (status, _) = instance
        .call(
            "PUT",
            "/v1/callers/13900000001",
            Some(&admin),
            Some(json!({"class": "teenager"})),
        )
        .await;
    assert_eq!(status, 400);

    // Version 1 is still there to read.
    let first = instance
        .ok("GET", "/v1/ivr-menus/main?version=1", &admin, None)
        .await;
    assert_eq!(
        first["menu"]["nodes"]["main"]["menu"]["prompt"],
        "Welcome, v1"
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_business_hours_callers_take_the_closed_branch() {
    let (_directory, instance) = start().await;
    let admin = set_up(&instance).await;
    let (status, saved) = save_as(&instance, &admin, menu(never_today(), "Welcome")).await;
    assert_eq!(status, 200, "{saved}");
    instance
        .ok(
            "PUT",
            "/v1/numbers/4100",
            &admin,
            Some(json!({"ivr_menu_id": "main"})),
        )
        .await;
    let closed = call_in(&instance, &admin, "13800138000", "4100").await;
    assert_eq!(
        (
            &closed["state"],
            &closed["self_service"],
            &closed["ivr"]["prompt"]
        ),
        (
            &json!("self_served"),
            &json!("closed"),
            &json!("We are closed")
        )
    );
    instance.stop().await;
}

fn request<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

/// One menu node for the gRPC API, by its id.
fn node(node_id: &str, kind: pb::ivr_node::Kind) -> (String, pb::IvrNode) {
    (node_id.into(), pb::IvrNode { kind: Some(kind) })
}

fn queue_node(queue_id: &str, priority: pb::Priority) -> pb::ivr_node::Kind {
    pb::ivr_node::Kind::Queue(pb::IvrQueueTarget {
        queue_id: queue_id.into(),
        skill: String::new(),
        priority: priority.into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_menus_work_over_grpc_on_jetstream_and_postgres() {
    let schema = PgSchema::create("e2eivr").await;
    let prefix = unique_name("ivr");
    let instance = Instance::start(Mode::Serve {
        target: "all".into(),
        extra: vec![],
        nats_url: callcenter_testkit::nats_url(),
        database_url: schema.url(),
        prefix: prefix.clone(),
        secret: unique_name("secret-of-at-least-32-characters"),
    })
    .await;
    let admin = set_up(&instance).await;
    let channel = tonic::transport::Endpoint::from_shared(instance.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut telephony = TelephonyServiceClient::new(channel);
    let choice = pb::ivr_node::Kind::Menu(pb::IvrChoiceMenu {
        prompt: "Emergencies 9".into(),
        choices: [("9".to_owned(), "emergency".to_owned())].into(),
        max_attempts: 0,
        fallback_node_id: "general".into(),
    });
    let mut menu = pb::IvrMenu {
        entry_node_id: "main".into(),
        nodes: [
            node("main", choice),
            node("emergency", queue_node("general", pb::Priority::Emergency)),
            node("general", queue_node("nowhere", pb::Priority::Normal)),
        ]
        .into(),
        ..Default::default()
    };
    let save = |menu: &pb::IvrMenu| pb::SaveIvrMenuRequest {
        menu_id: "main".into(),
        menu: Some(menu.clone()),
        expected_version: Some(0),
        request_id: String::new(),
    };

    // An unknown queue: INVALID_ARGUMENT, the problem as a field violation.
    let refused = telephony
        .save_ivr_menu(request(&admin, save(&menu)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let details = refused.get_error_details();
    assert_eq!(details.error_info().unwrap().reason, "IVR_MENU_INVALID");
    let violations = &details.bad_request().unwrap().field_violations;
    assert_eq!(
        (
            violations[0].field.as_str(),
            violations[0].description.as_str()
        ),
        ("menu.nodes.general.queue.queue_id", "unknown queue nowhere")
    );

    menu.nodes
        .extend([node("general", queue_node("general", pb::Priority::Normal))]);
    let saved = telephony
        .save_ivr_menu(request(&admin, save(&menu)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(saved.version, 1);
    let stale = telephony
        .save_ivr_menu(request(&admin, save(&menu)))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Aborted, "{stale:?}");
    telephony
        .assign_number(request(
            &admin,
            pb::AssignNumberRequest {
                number: "4100".into(),
                ivr_menu_id: "main".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();

    let reported = telephony
        .report_call(request(
            &admin,
            pb::ReportCallRequest {
                caller_number: "13800138000".into(),
                dialled_number: "4100".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    assert_eq!(reported.state(), pb::CallState::InIvr);
    assert_eq!(reported.ivr.as_ref().unwrap().prompt, "Emergencies 9");
    let pressed = telephony
        .press_ivr_keys(request(
            &admin,
            pb::PressIvrKeysRequest {
                call_id: reported.call_id.clone(),
                keys: "9".into(),
                request_id: "press-1".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    assert_eq!(
        (pressed.state(), pressed.priority()),
        (pb::CallState::Queued, pb::Priority::Emergency)
    );

    // The caller class survives in the event log like everything else.
    telephony
        .set_caller_class(request(
            &admin,
            pb::SetCallerClassRequest {
                number: "13900000002".into(),
                class: pb::CallerClass::Vip.into(),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap();
    let known = telephony
        .get_caller_class(request(
            &admin,
            pb::GetCallerClassRequest {
                number: "13900000002".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(known.class(), pb::CallerClass::Vip);
    instance.stop().await;
    callcenter_e2e::delete_event_log(&prefix).await;
    schema.drop_schema().await;
}
