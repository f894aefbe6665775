//! The transcoder against the platform's real descriptors: the JSON conventions both ways, field
//! errors with their paths, and how a route fills a request from the path, the query, the body
//! and the `Idempotency-Key` header.

use axum::body::Bytes;
use callcenter_gateway::transcode::{
    Route, answer_json, descriptors, platform_routes, request_message,
};
use callcenter_proto::telephony::v1 as telephony;
use callcenter_protojson::{message_from_json, message_to_json};
use http::HeaderMap;
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage};
use serde_json::{Value, json};

fn descriptor(name: &str) -> MessageDescriptor {
    descriptors()
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("no message {name}"))
}

fn dynamic<M: Message>(message: &M, name: &str) -> DynamicMessage {
    DynamicMessage::decode(descriptor(name), message.encode_to_vec().as_slice()).unwrap()
}

fn route(rpc: &str) -> Route {
    platform_routes()
        .iter()
        .find(|route| route.method.full_name() == rpc)
        .unwrap_or_else(|| panic!("no route for {rpc}"))
        .clone()
}

fn refusal(name: &str, json: Value) -> (String, String) {
    let error = message_from_json(&descriptor(name), &json).expect_err("refused");
    (error.field, error.reason)
}

#[test]
fn responses_carry_every_field_in_the_one_json_style() {
    let call = telephony::Call {
        call_id: "c1".into(),
        state: telephony::CallState::InIvr.into(),
        priority: telephony::Priority::Emergency.into(),
        offered_at: Some(prost_types::Timestamp {
            seconds: 1_796_113_807,
            nanos: 123_000_000,
        }),
        version: 3,
        ..Default::default()
    };
    let json = message_to_json(&dynamic(&call, "callcenter.telephony.v1.Call"));
    // Enum values lose their type's prefix and are lower case; unspecified ones are null.
    assert_eq!(json["state"], "in_ivr");
    assert_eq!(json["priority"], "emergency");
    assert_eq!(json["supervision_mode"], Value::Null);
    // Instants are RFC 3339; unset messages are null; empty strings and zeros stay.
    assert_eq!(json["offered_at"], "2026-12-01T08:30:07.123Z");
    assert_eq!(json["answered_at"], Value::Null);
    assert_eq!(json["ivr"], Value::Null);
    assert_eq!(json["agent_id"], "");
    assert_eq!(json["transfers"], 0);
    assert_eq!(json["held"], false);
    // 64-bit integers are numbers.
    assert_eq!(json["version"], 3);
    // Every field of the message, in the proto's order.
    let names: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let declared: Vec<String> = descriptor("callcenter.telephony.v1.Call")
        .fields()
        .map(|field| field.name().to_owned())
        .collect();
    assert_eq!(names, declared);
}

#[test]
fn requests_take_proto_or_json_names_and_short_or_full_enum_values() {
    let name = "callcenter.telephony.v1.ReportCallRequest";
    for priority in ["emergency", "PRIORITY_EMERGENCY"] {
        let json = json!({"caller_number": "13800138000", "dialledNumber": "4000",
                          "priority": priority, "queue_id": null});
        let message = message_from_json(&descriptor(name), &json).unwrap();
        let request = message
            .transcode_to::<telephony::ReportCallRequest>()
            .unwrap();
        assert_eq!(request.dialled_number, "4000");
        assert_eq!(request.priority(), telephony::Priority::Emergency);
        assert_eq!(request.queue_id, "", "null leaves a field unset");
    }
}

#[test]
fn bad_fields_are_refused_with_their_path() {
    assert_eq!(
        refusal(
            "callcenter.telephony.v1.EndCallRequest",
            json!({"ended_by": "nobody"})
        ),
        (
            "ended_by".into(),
            "expected one of caller, agent, system".into()
        )
    );
    assert_eq!(
        refusal(
            "callcenter.telephony.v1.EndCallRequest",
            json!({"bogus": 1})
        ),
        ("bogus".into(), "unknown field".into())
    );
    let routing =
        json!({"routing": {"widening": [{"after_seconds": 5}, {"min_proficiency": "x"}]}});
    assert_eq!(
        refusal("callcenter.routing.v1.SetQueueRoutingRequest", routing),
        (
            "routing.widening[1].min_proficiency".into(),
            "expected a whole number".into()
        )
    );
    let negative = json!({"routing": {"priority": -1}});
    assert_eq!(
        refusal("callcenter.routing.v1.SetQueueRoutingRequest", negative).1,
        "number out of range"
    );
    let late = json!({"queue_id": "q", "start": "yesterday"});
    assert_eq!(
        refusal("callcenter.reporting.v1.ListQueueIntervalsRequest", late).0,
        "start"
    );
    assert_eq!(
        refusal("callcenter.telephony.v1.EndCallRequest", json!([1])),
        ("body".into(), "expected an object".into())
    );
}

#[test]
fn one_member_of_a_oneof_at_a_time() {
    let both = json!({"menu": {"prompt": "p"}, "queue": {"queue_id": "q"}});
    let (field, reason) = refusal("callcenter.telephony.v1.IvrNode", both);
    assert_eq!(field, "queue");
    assert!(reason.contains("menu is set already"), "{reason}");
    let node = json!({"queue": {"queue_id": "q", "skill": "", "priority": "normal"}});
    let message = message_from_json(&descriptor("callcenter.telephony.v1.IvrNode"), &node).unwrap();
    // Only the member that is set is written.
    assert_eq!(message_to_json(&message), node);
}

#[test]
fn maps_lists_instants_and_free_json_round_trip() {
    let cases = [
        (
            "callcenter.routing.v1.SetQueueRoutingRequest",
            json!({"queue_id": "general", "routing": {"priority": 2,
                   "required_skills": {"billing": 3, "plumbing": 2},
                   "widening": [{"after_seconds": 30, "min_proficiency": 1, "drop_skills": ["billing"]}],
                   "overflow": [], "service_level_percent": 80, "service_level_seconds": 20,
                   "max_wait_seconds": 0, "sticky_seconds": 0, "max_wait_queue_id": ""},
                   "request_id": ""}),
        ),
        (
            "callcenter.workforce.v1.SolveRosterRequest",
            json!({"instance": {"schema": "callcenter-roster/v1", "days": 7,
                                "agents": [{"id": "a1", "weights": [1, 2.5, null, true]}]},
                   "seconds": 1, "seed": 0, "center_id": "", "first_day": "", "publish_as": "",
                   "request_id": ""}),
        ),
        (
            "callcenter.reporting.v1.ListQueueIntervalsRequest",
            json!({"queue_id": "general", "start": "2026-12-01T00:00:00.000Z",
                   "end": "2026-12-08T00:00:00.500Z"}),
        ),
    ];
    for (name, json) in cases {
        let message = message_from_json(&descriptor(name), &json).unwrap();
        assert_eq!(message_to_json(&message), json, "{name}");
    }
    // Offsets are read, and written back in UTC.
    let shifted = json!({"queue_id": "q", "start": "2026-12-01T08:00:00+08:00"});
    let name = "callcenter.reporting.v1.ListQueueIntervalsRequest";
    let message = message_from_json(&descriptor(name), &shifted).unwrap();
    assert_eq!(
        message_to_json(&message)["start"],
        "2026-12-01T00:00:00.000Z"
    );
}

#[test]
fn a_route_fills_its_request_from_the_path_the_query_the_body_and_the_idempotency_key() {
    let answer = route("callcenter.telephony.v1.TelephonyService.AnswerCall");
    let mut headers = HeaderMap::new();
    headers.insert("idempotency-key", "retry-7".parse().unwrap());
    let path = [("call_id".to_owned(), "c42".to_owned())];
    let body = Bytes::from(r#"{"agent_id": "agent-1"}"#);
    let message = request_message(&answer, &path, None, &headers, &body).unwrap();
    let request = message
        .transcode_to::<telephony::AnswerCallRequest>()
        .unwrap();
    assert_eq!(
        (
            request.call_id.as_str(),
            request.agent_id.as_str(),
            request.request_id.as_str()
        ),
        ("c42", "agent-1", "retry-7")
    );
    // The body's request id wins over the header; an empty body is an empty request.
    let body = Bytes::from(r#"{"request_id": "mine"}"#);
    let message = request_message(&answer, &path, None, &headers, &body).unwrap();
    assert_eq!(
        message.get_field_by_name("request_id").unwrap().as_str(),
        Some("mine")
    );
    let empty = request_message(&answer, &path, None, &HeaderMap::new(), &Bytes::new()).unwrap();
    assert_eq!(
        empty.get_field_by_name("agent_id").unwrap().as_str(),
        Some("")
    );

    // A route without a body reads the query, and refuses a body.
    let menu = route("callcenter.telephony.v1.TelephonyService.GetIvrMenu");
    let path = [("menu_id".to_owned(), "main".to_owned())];
    let message =
        request_message(&menu, &path, Some("version=2"), &headers, &Bytes::new()).unwrap();
    let request = message
        .transcode_to::<telephony::GetIvrMenuRequest>()
        .unwrap();
    assert_eq!((request.menu_id.as_str(), request.version), ("main", 2));
    for (query, body, field) in [
        (Some("version=two"), "", "version"),
        (Some("colour=red"), "", "colour"),
        (None, "{}", "body"),
    ] {
        let refused =
            request_message(&menu, &path, query, &headers, &Bytes::from(body)).unwrap_err();
        assert_eq!(refused.violations[0].field, field);
    }
    let intervals = route("callcenter.reporting.v1.ReportingService.ListQueueIntervals");
    let query = "start=2026-12-01T00%3A00%3A00Z&end=2026-12-02T00:00:00Z";
    let path = [("queue_id".to_owned(), "general".to_owned())];
    let message = request_message(&intervals, &path, Some(query), &headers, &Bytes::new()).unwrap();
    assert_eq!(
        message_to_json(&message)["start"],
        "2026-12-01T00:00:00.000Z"
    );
}

#[test]
fn the_answer_is_the_response_body_field_when_the_route_names_one() {
    let get_call = route("callcenter.telephony.v1.TelephonyService.GetCall");
    let response = telephony::GetCallResponse {
        call: Some(telephony::Call {
            call_id: "c1".into(),
            ..Default::default()
        }),
    };
    let response = dynamic(&response, "callcenter.telephony.v1.GetCallResponse");
    let answer = answer_json(&get_call, &response);
    assert_eq!(answer["call_id"], "c1");
    assert!(answer.get("call").is_none());
    let stats = route("callcenter.reporting.v1.ReportingService.ListQueueStats");
    let empty = DynamicMessage::new(stats.method.output());
    assert_eq!(
        answer_json(&stats, &empty),
        json!({"queue_stats": [], "next_page_token": ""})
    );
    assert_eq!(response.descriptor().name(), "GetCallResponse");
}

#[test]
fn every_route_is_servable_and_unique() {
    let routes = platform_routes();
    let mut seen = std::collections::BTreeSet::new();
    for route in routes.iter() {
        assert!(
            seen.insert((route.verb.to_string(), route.template.clone())),
            "{} {} is declared twice",
            route.verb,
            route.template
        );
    }
    // Every unary RPC of the public services has a route.
    for service in descriptors().services() {
        for method in service.methods() {
            let routed = routes.iter().any(|route| route.method == method);
            assert!(
                routed || method.is_server_streaming(),
                "{} has no HTTP route",
                method.full_name()
            );
        }
    }
}
