//! The OpenAPI 3.1 document of the HTTP API, generated from the same descriptors and routes the
//! transcoder serves, with the protos' comments as descriptions.

use std::collections::BTreeMap;

use prost_reflect::{EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value as Json, json};

use crate::streams::STREAMS;
use crate::transcode::{Body, Route};
use callcenter_platform::Reason;
use callcenter_protojson::enum_value_names;

/// The comment in front of the element at `path` of `file`, on one line.
fn comment(file: &FileDescriptor, path: &[i32]) -> String {
    let proto = file.file_descriptor_proto();
    let Some(info) = &proto.source_code_info else {
        return String::new();
    };
    info.location
        .iter()
        .find(|location| location.path == path)
        .and_then(|location| location.leading_comments.as_deref())
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn describe(mut schema: Json, description: String) -> Json {
    if !description.is_empty() {
        schema["description"] = Json::String(description);
    }
    schema
}

fn schema_ref(message: &MessageDescriptor) -> Json {
    json!({ "$ref": format!("#/components/schemas/{}", message.full_name()) })
}

fn enum_schema(descriptor: &EnumDescriptor) -> Json {
    let mut values: Vec<Json> = enum_value_names(descriptor)
        .into_iter()
        .map(Json::from)
        .collect();
    values.push(Json::Null);
    json!({ "type": ["string", "null"], "enum": values })
}

/// The schema of one value of a field's kind; message schemas it needs are added to `needed`.
fn kind_schema(kind: &Kind, needed: &mut Vec<MessageDescriptor>) -> Json {
    match kind {
        Kind::String => json!({ "type": "string" }),
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({ "type": "integer", "format": "int32" })
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({ "type": "integer", "format": "int32", "minimum": 0 })
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({ "type": "integer", "format": "int64" })
        }
        Kind::Uint64 | Kind::Fixed64 => {
            json!({ "type": "integer", "format": "int64", "minimum": 0 })
        }
        Kind::Float | Kind::Double => json!({ "type": "number" }),
        Kind::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
        Kind::Enum(descriptor) => enum_schema(descriptor),
        Kind::Message(message) => match message.full_name() {
            "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
            "google.protobuf.Struct" => json!({ "type": "object" }),
            "google.protobuf.Value" => json!({}),
            _ => {
                needed.push(message.clone());
                schema_ref(message)
            }
        },
    }
}

fn field_schema(field: &FieldDescriptor, needed: &mut Vec<MessageDescriptor>) -> Json {
    let schema = if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("a map field's kind is its entry message")
        };
        let values = kind_schema(&entry.map_entry_value_field().kind(), needed);
        json!({ "type": "object", "additionalProperties": values })
    } else if field.is_list() {
        json!({ "type": "array", "items": kind_schema(&field.kind(), needed) })
    } else {
        let schema = kind_schema(&field.kind(), needed);
        let in_oneof = field.containing_oneof().is_some_and(|o| !o.is_synthetic());
        if field.supports_presence() && !in_oneof && schema.get("enum").is_none() {
            json!({ "anyOf": [schema, { "type": "null" }] })
        } else {
            schema
        }
    };
    describe(schema, comment(&field.parent_file(), field.path()))
}

/// The object schema of a message's fields, leaving out `except`.
fn object_schema(
    message: &MessageDescriptor,
    except: &[FieldDescriptor],
    needed: &mut Vec<MessageDescriptor>,
) -> Json {
    let properties: Map<String, Json> = message
        .fields()
        .filter(|field| !except.contains(field))
        .map(|field| (field.name().to_owned(), field_schema(&field, needed)))
        .collect();
    let schema =
        json!({ "type": "object", "properties": properties, "additionalProperties": false });
    describe(schema, comment(&message.parent_file(), message.path()))
}

fn parameter(field: &FieldDescriptor, location: &str, needed: &mut Vec<MessageDescriptor>) -> Json {
    let mut schema = field_schema(field, needed);
    let description = schema
        .as_object_mut()
        .and_then(|object| object.remove("description"))
        .unwrap_or(Json::from(""));
    json!({
        "name": field.name(),
        "in": location,
        "required": location == "path",
        "description": description,
        "schema": schema,
    })
}

/// Whether a field can be given as a query parameter.
fn queryable(field: &FieldDescriptor) -> bool {
    !field.is_map()
        && match field.kind() {
            Kind::Message(message) => message.full_name() == "google.protobuf.Timestamp",
            _ => true,
        }
}

fn operation(route: &Route, needed: &mut Vec<MessageDescriptor>) -> Json {
    let method = &route.method;
    let service = method.parent_service();
    let text = comment(&method.parent_file(), method.path());
    let summary = text
        .split(". ")
        .next()
        .unwrap_or_default()
        .trim_end_matches('.');
    let mut parameters: Vec<Json> = route
        .path_fields
        .iter()
        .map(|field| parameter(field, "path", needed))
        .collect();
    let mut operation = json!({
        "operationId": format!("{}.{}", service.name(), method.name()),
        "tags": [service.name()],
        "summary": summary,
        "description": text,
        "responses": {
            "200": {
                "description": "OK",
                "content": { "application/json": { "schema": schema_ref(&route.answer_type()) } },
            },
            "default": { "$ref": "#/components/responses/Problem" },
        },
    });
    needed.push(route.answer_type());
    let input = method.input();
    match &route.body {
        Body::Whole => {
            let schema = object_schema(&input, &route.path_fields, needed);
            operation["requestBody"] = json!({ "required": false, "content": { "application/json": { "schema": schema } } });
        }
        Body::Field(field) => {
            let schema = field_schema(field, needed);
            operation["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema } } });
        }
        Body::None => {}
    }
    if !matches!(route.body, Body::Whole) {
        parameters.extend(
            input
                .fields()
                .filter(|field| !route.path_fields.contains(field) && queryable(field))
                .filter(|field| !matches!(&route.body, Body::Field(body) if body == field))
                .map(|field| parameter(&field, "query", needed)),
        );
    }
    if input.get_field_by_name("request_id").is_some() {
        parameters.push(json!({
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "The request id when the request names none: a retry with the same key returns the first result.",
            "schema": { "type": "string", "maxLength": 128 },
        }));
    }
    operation["parameters"] = Json::Array(parameters);
    operation
}

fn stream_operation(path: &str, event: &str, rpc: &str, description: &str) -> Json {
    let (service, method) = rpc.rsplit_once('.').unwrap_or_default();
    let service = service.rsplit('.').next().unwrap_or_default();
    let parameters: Vec<Json> = path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    json!({
        "operationId": format!("{service}.{method}.stream"),
        "tags": [service],
        "summary": format!("`{event}` events: {rpc} as Server-Sent Events"),
        "description": description,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "A stream of named JSON documents (text/event-stream).",
                "content": { "text/event-stream": { "schema": { "type": "string" } } },
            },
            "default": { "$ref": "#/components/responses/Problem" },
        },
    })
}

/// The document for `routes`, whose errors carry one of `reasons` (each with the service that
/// declares it).
pub fn document(routes: &[Route], reasons: &[(&str, Reason)]) -> Json {
    let mut needed = Vec::new();
    let mut paths: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
    for route in routes {
        let verb = route.verb.as_str().to_ascii_lowercase();
        let operation = operation(route, &mut needed);
        paths
            .entry(route.template.clone())
            .or_default()
            .insert(verb, operation);
    }
    for (path, event, rpc, description) in STREAMS {
        let operation = stream_operation(path, event, rpc, description);
        paths
            .entry((*path).to_owned())
            .or_default()
            .insert("get".into(), operation);
    }
    paths.entry("/v1/openapi.json".into()).or_default().insert(
        "get".into(),
        json!({
            "operationId": "openapi",
            "tags": ["meta"],
            "summary": "This document",
            "security": [],
            "responses": { "200": { "description": "The OpenAPI 3.1 document", "content": { "application/json": { "schema": { "type": "object" } } } } },
        }),
    );
    let mut schemas = Map::new();
    while let Some(message) = needed.pop() {
        if schemas.contains_key(message.full_name()) {
            continue;
        }
        let schema = object_schema(&message, &[], &mut needed);
        schemas.insert(message.full_name().to_owned(), schema);
    }
    schemas.sort_keys();
    let problem = json!({
        "type": "object",
        "description": "An RFC 9457 problem document, with the gRPC code and a stable reason.",
        "required": ["type", "title", "status", "detail", "code", "reason"],
        "properties": {
            "type": { "type": "string", "description": "urn:callcenter:problem:<reason in lower case>" },
            "title": { "type": "string" },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "code": { "type": "string", "description": "The canonical gRPC code, such as INVALID_ARGUMENT." },
            "reason": {
                "type": "string",
                "description": "A stable UPPER_SNAKE reason, one of the catalogue: each with the service that declares it and its code.",
                "oneOf": reasons.iter().map(|(service, reason)| json!({
                    "const": reason.name,
                    "description": format!("{} ({service}, {})", reason.about, reason.code.name()),
                })).collect::<Vec<_>>(),
            },
            "violations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": { "field": { "type": "string" }, "description": { "type": "string" } },
                },
            },
            "metadata": { "type": "object", "additionalProperties": { "type": "string" } },
        },
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "callcenter",
            "version": "v1",
            "description": "The contact-center platform's HTTP/JSON API, transcoded from its gRPC services. JSON conventions: proto field names; enum values in lower case without their type's prefix, null when unspecified; instants as RFC 3339 text; integers as numbers; responses carry every field (null for an unset message, optional field or enum; only the chosen member of a oneof); unknown request fields are refused; mutations take a request_id or an Idempotency-Key header.",
        },
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": schemas,
            "responses": {
                "Problem": {
                    "description": "An error, as problem+json.",
                    "content": { "application/problem+json": { "schema": problem } },
                },
            },
        },
    })
}

/// The README's table of a document's routes: one row per operation, in path order.
pub fn route_table(document: &Json) -> String {
    let mut table = String::from("| method | path | what |\n|---|---|---|\n");
    let empty = Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    for (path, operations) in paths {
        for (verb, operation) in operations.as_object().unwrap_or(&empty) {
            let summary = operation["summary"].as_str().unwrap_or_default();
            table.push_str(&format!(
                "| `{}` | `{path}` | {} |\n",
                verb.to_uppercase(),
                summary.replace('|', "\\|")
            ));
        }
    }
    table
}
