//! The HTTP API's OpenAPI document against the running binary: it is valid OpenAPI 3.1 (checked
//! by `openapi-spec-validator`), the gateway serves every route it lists (each is called here,
//! and answers with its own JSON, never "no such route" or a server error), and it lists every
//! route the gateway builds. Other methods on a listed path are 405; unlisted paths are 404.

use std::collections::BTreeSet;
use std::path::PathBuf;

use callcenter_e2e::dev_instance;
use callcenter_gateway::streams::STREAMS;
use callcenter_gateway::transcode::platform_routes;
use serde_json::{Value, json};

/// `openapi-spec-validator` from the project's tools (`scripts/setup`), or from `PATH`.
fn validator() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let local = root.join(".tools/venv/bin/openapi-spec-validator");
    if local.exists() {
        return local;
    }
    PathBuf::from("openapi-spec-validator")
}

/// A value for a path variable: a number for numbers, an id otherwise.
fn sample(variable: &str) -> &'static str {
    if variable == "number" {
        "13800138999"
    } else {
        "x1"
    }
}

fn filled(template: &str) -> String {
    template
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(variable) => sample(variable).to_owned(),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_and_lists_exactly_the_routes_the_gateway_serves() {
    let (directory, instance) = dev_instance("e2e-openapi").await;
    let (status, document) = instance.call("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200, "served without a token: {document}");
    assert_eq!(document["openapi"], "3.1.0");

    // Valid OpenAPI 3.1.
    let file = directory.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).expect("write the document");
    let checked = std::process::Command::new(validator())
        .arg(&file)
        .output()
        .unwrap_or_else(|error| {
            panic!("openapi-spec-validator ({error}): scripts/setup installs it into .tools/venv")
        });
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // The document lists every route the gateway builds, and nothing else.
    let listed: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, operations)| {
            let operations = operations.as_object().expect("operations");
            operations
                .keys()
                .map(|verb| (verb.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut built: BTreeSet<(String, String)> = platform_routes()
        .iter()
        .map(|route| (route.verb.to_string(), route.template.clone()))
        .collect();
    built.extend(
        STREAMS
            .iter()
            .map(|(path, ..)| ("GET".to_owned(), (*path).to_owned())),
    );
    built.insert(("GET".to_owned(), "/v1/openapi.json".to_owned()));
    assert_eq!(listed, built);

    // The gateway serves every listed route: each answers with its own JSON (a result, or a
    // problem about the request), never "no such route" nor a server error.
    let admin = instance.token("acme", "tenant_admin,center_manager,wfm_planner", "admin");
    let mut answered = BTreeSet::new();
    for (verb, template) in &listed {
        let path = filled(template);
        if template == "/v1/queues/view/stream" {
            let mut events = instance.events(&path, &admin).await;
            let (name, _) = events.next().await.expect("a first event");
            assert_eq!(name, "queue-view");
            continue;
        }
        let body = matches!(verb.as_str(), "POST" | "PUT").then(|| json!({}));
        let (status, answer) = instance.call(verb, &path, Some(&admin), body).await;
        let reason = answer["reason"].as_str().unwrap_or_default();
        if !reason.is_empty() {
            answered.insert(reason.to_owned());
        }
        assert!(
            matches!(status, 200 | 400 | 403 | 404 | 409)
                && !matches!(reason, "ROUTE_NOT_FOUND" | "METHOD_NOT_ALLOWED")
                && (answer.is_object() || template == "/v1/openapi.json"),
            "{verb} {path}: {status} {answer}"
        );
    }

    // Every reason answered is in the document's catalogue, with what it means.
    let catalogue: BTreeSet<String> = document["components"]["responses"]["Problem"]["content"]
        ["application/problem+json"]["schema"]["properties"]["reason"]["oneOf"]
        .as_array()
        .expect("the reasons")
        .iter()
        .map(|reason| {
            assert!(reason["description"].as_str().is_some_and(|about| !about.is_empty()));
            reason["const"].as_str().expect("a name").to_owned()
        })
        .collect();
    assert!(answered.len() > 3, "{answered:?}");
    assert!(
        answered.is_subset(&catalogue),
        "{answered:?} in {catalogue:?}"
    );
    assert!(catalogue.contains("CALL_CANNOT_ANSWER") && catalogue.contains("LEAVE_RULE"));

    // Other methods on a listed path are refused as such; an unlisted path is not found.
    let (status, answer) = instance
        .call("DELETE", "/v1/queues/stats", Some(&admin), None)
        .await;
    assert_eq!(
        (status, &answer["reason"]),
        (405, &json!("METHOD_NOT_ALLOWED"))
    );
    let (status, answer) = instance
        .call("GET", "/v1/no-such-thing", Some(&admin), None)
        .await;
    assert_eq!(
        (status, &answer["reason"]),
        (404, &json!("ROUTE_NOT_FOUND"))
    );
    // Without a token, a listed route answers 401 before it reaches a service.
    let (status, answer): (u16, Value) = instance.call("GET", "/v1/calls/x1", None, None).await;
    assert_eq!(
        (status, &answer["reason"]),
        (401, &json!("UNAUTHENTICATED"))
    );
    instance.stop().await;
}
