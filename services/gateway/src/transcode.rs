//! HTTP/JSON to gRPC from the routes the protos declare (`google.api.http`, AIP-127), the way
//! grpc-gateway and Envoy's transcoder do: path variables, query parameters (routes without a
//! body) and the body fill the request message; the response (or its `response_body` field) is
//! the JSON answer. One generic relay serves every RPC with a route.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use callcenter_platform::ApiError;
use http::{HeaderMap, Method};
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    ReflectMessage, Value,
};
use serde_json::Value as Json;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

pub use callcenter_protojson::descriptors;
use callcenter_protojson::{
    FieldError, merge_json, message_from_json, message_to_json, single_from_text,
};

/// What the HTTP body fills.
#[derive(Clone, Debug)]
pub enum Body {
    /// Nothing: the route takes no body (query parameters fill the rest).
    None,
    /// Every field the path does not bind (`body: "*"`).
    Whole,
    /// One field (`body: "field"`).
    Field(FieldDescriptor),
}

/// One HTTP route of an RPC.
#[derive(Clone, Debug)]
pub struct Route {
    /// The RPC.
    pub method: MethodDescriptor,
    /// The HTTP method.
    pub verb: Method,
    /// The path template, such as `/v1/calls/{call_id}`; variables name top-level fields.
    pub template: String,
    /// The fields the path's variables fill, in order.
    pub path_fields: Vec<FieldDescriptor>,
    /// What the body fills.
    pub body: Body,
    /// The response field that is the HTTP answer (`response_body`), or the whole response.
    pub response_field: Option<FieldDescriptor>,
}

impl Route {
    /// The message the HTTP answer holds.
    pub fn answer_type(&self) -> MessageDescriptor {
        match self.response_field.as_ref().map(FieldDescriptor::kind) {
            Some(Kind::Message(message)) => message,
            _ => self.method.output(),
        }
    }
}

fn text_field(rule: &DynamicMessage, name: &str) -> String {
    rule.get_field_by_name(name)
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The routes of every RPC that declares one, in the order the protos declare them. A route the
/// transcoder cannot serve (a streaming RPC, a variable that names no field) is an error: the
/// protos are wrong.
pub fn routes(pool: &DescriptorPool) -> Result<Vec<Route>, String> {
    let Some(http) = pool.get_extension_by_name("google.api.http") else {
        return Ok(Vec::new());
    };
    let mut routes = Vec::new();
    for service in pool.services() {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&http) {
                continue;
            }
            let Value::Message(rule) = options.get_extension(&http).into_owned() else {
                continue;
            };
            let bindings = rule
                .get_field_by_name("additional_bindings")
                .and_then(|value| value.as_list().map(<[Value]>::to_vec))
                .unwrap_or_default();
            let extra = bindings.into_iter().filter_map(|binding| match binding {
                Value::Message(binding) => Some(binding),
                _ => None,
            });
            for rule in std::iter::once(rule.clone()).chain(extra) {
                routes.push(route(&method, &rule)?);
            }
        }
    }
    Ok(routes)
}

fn route(method: &MethodDescriptor, rule: &DynamicMessage) -> Result<Route, String> {
    let name = method.full_name();
    if method.is_client_streaming() || method.is_server_streaming() {
        return Err(format!("{name}: streaming RPCs have no transcoded route"));
    }
    let (verb, template) = ["get", "put", "post", "delete", "patch"]
        .iter()
        .find_map(|verb| {
            let template = text_field(rule, verb);
            (!template.is_empty()).then(|| (verb.to_uppercase(), template))
        })
        .ok_or_else(|| format!("{name}: a route needs get, put, post, delete or patch"))?;
    let input = method.input();
    let mut path_fields = Vec::new();
    for segment in template.split('/') {
        let Some(variable) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        let field = input
            .get_field_by_name(variable)
            .filter(|field| !field.is_list() && !matches!(field.kind(), Kind::Message(_)))
            .ok_or_else(|| {
                format!("{name}: {{{variable}}} names no scalar field of the request")
            })?;
        path_fields.push(field);
    }
    let body = match text_field(rule, "body").as_str() {
        "" => Body::None,
        "*" => Body::Whole,
        field => Body::Field(
            input
                .get_field_by_name(field)
                .ok_or_else(|| format!("{name}: body {field} is no field of the request"))?,
        ),
    };
    let response_field = match text_field(rule, "response_body").as_str() {
        "" => None,
        field => Some(
            method
                .output()
                .get_field_by_name(field)
                .ok_or_else(|| format!("{name}: response_body {field} is no field"))?,
        ),
    };
    Ok(Route {
        method: method.clone(),
        verb: Method::from_bytes(verb.as_bytes()).map_err(|error| error.to_string())?,
        template,
        path_fields,
        body,
        response_field,
    })
}

fn invalid(error: FieldError) -> ApiError {
    ApiError::invalid_field(error.field, error.reason)
}

/// The request message of an HTTP request to `route`.
pub fn request_message(
    route: &Route,
    path: &[(String, String)],
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<DynamicMessage, ApiError> {
    let input = route.method.input();
    let has_body = !body.iter().all(u8::is_ascii_whitespace);
    let json = || {
        serde_json::from_slice::<Json>(body)
            .map_err(|error| ApiError::invalid_field("body", format!("not JSON: {error}")))
    };
    let mut message = match (&route.body, has_body) {
        (Body::Whole, true) => message_from_json(&input, &json()?).map_err(invalid)?,
        (Body::Field(field), true) => {
            let mut message = DynamicMessage::new(input.clone());
            let mut wrapper = serde_json::Map::new();
            wrapper.insert(field.name().to_owned(), json()?);
            merge_json(&mut message, &Json::Object(wrapper), "").map_err(invalid)?;
            message
        }
        (Body::None, true) => {
            return Err(ApiError::invalid_field("body", "this route takes no body"));
        }
        (_, false) => DynamicMessage::new(input.clone()),
    };
    if !matches!(route.body, Body::Whole) {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
            .map_err(|error| ApiError::invalid_field("query", error.to_string()))?;
        for (name, text) in pairs {
            set_from_text(&mut message, &name, &text).map_err(invalid)?;
        }
    }
    for (field, (_, text)) in route.path_fields.iter().zip(path) {
        let value = single_from_text(&field.kind(), text, field.name()).map_err(invalid)?;
        message.set_field(field, value);
    }
    // `Idempotency-Key` is the request id of a request that names none (AIP-155).
    if let Some(field) = input.get_field_by_name("request_id")
        && message
            .get_field(&field)
            .as_str()
            .is_some_and(str::is_empty)
        && let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok())
    {
        message.set_field(&field, Value::String(key.to_owned()));
    }
    Ok(message)
}

/// Sets the field a query parameter names (`a.b` for a field of a message field); repeated
/// fields take every value given.
fn set_from_text(message: &mut DynamicMessage, name: &str, text: &str) -> Result<(), FieldError> {
    let (head, rest) = match name.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (name, None),
    };
    let refused = |reason: &str| FieldError {
        field: name.to_owned(),
        reason: reason.to_owned(),
    };
    let descriptor = message.descriptor();
    let field = descriptor
        .get_field_by_name(head)
        .or_else(|| descriptor.get_field_by_json_name(head))
        .ok_or_else(|| refused("unknown query parameter"))?;
    if field.is_map() {
        return Err(refused("cannot be given as a query parameter"));
    }
    match rest {
        Some(rest) => match message.get_field_mut(&field) {
            Value::Message(inner) => set_from_text(inner, rest, text),
            _ => Err(refused("unknown query parameter")),
        },
        None => {
            let value = single_from_text(&field.kind(), text, name)?;
            match message.get_field_mut(&field) {
                Value::List(items) => items.push(value),
                single => *single = value,
            }
            Ok(())
        }
    }
}

/// The JSON answer of a response to `route`.
pub fn answer_json(route: &Route, response: &DynamicMessage) -> Json {
    match &route.response_field {
        Some(field) => match response.get_field(field).as_ref() {
            Value::Message(message) if response.has_field(field) => message_to_json(message),
            _ => Json::Null,
        },
        None => message_to_json(response),
    }
}

/// The gRPC channels of the services, by full service name.
#[derive(Clone, Debug, Default)]
pub struct Channels(pub BTreeMap<String, Channel>);

impl Channels {
    /// Calls a unary RPC with the caller's token and the current trace context.
    pub async fn unary(
        &self,
        headers: &HeaderMap,
        method: &MethodDescriptor,
        message: DynamicMessage,
    ) -> Result<DynamicMessage, ApiError> {
        let service = method.parent_service();
        let channel = self.0.get(service.full_name()).ok_or_else(|| {
            ApiError::unavailable(format!("no upstream serves {}", service.full_name()))
        })?;
        let mut client = tonic::client::Grpc::new(channel.clone());
        client.ready().await.map_err(|error| {
            ApiError::unavailable(format!("{} is unreachable: {error}", service.name()))
        })?;
        let path = format!("/{}/{}", service.full_name(), method.name());
        let path = http::uri::PathAndQuery::from_maybe_shared(path)
            .map_err(|error| ApiError::internal(error.to_string()))?;
        let mut request = tonic::Request::new(message);
        let mut outgoing = HeaderMap::new();
        if let Some(authorization) = headers.get(http::header::AUTHORIZATION) {
            outgoing.insert(http::header::AUTHORIZATION, authorization.clone());
        }
        callcenter_telemetry::inject_http(&mut outgoing);
        *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(outgoing);
        client
            .unary(request, path, DynamicCodec(method.output()))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| ApiError::from_status(&status))
    }
}

/// Encodes and decodes messages known only by their descriptors.
#[derive(Clone, Debug)]
struct DynamicCodec(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicCodec;
    type Decoder = DynamicCodec;

    fn encoder(&mut self) -> Self::Encoder {
        self.clone()
    }

    fn decoder(&mut self) -> Self::Decoder {
        self.clone()
    }
}

impl Encoder for DynamicCodec {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        prost::Message::encode(&item, dst)
            .map_err(|error| tonic::Status::internal(error.to_string()))
    }
}

impl Decoder for DynamicCodec {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|error| tonic::Status::internal(error.to_string()))
    }
}

/// The routes of the platform's protos, found once.
pub fn platform_routes() -> Arc<Vec<Route>> {
    static ROUTES: OnceLock<Arc<Vec<Route>>> = OnceLock::new();
    Arc::clone(ROUTES.get_or_init(|| {
        Arc::new(routes(descriptors()).expect("every route the protos declare is servable"))
    }))
}
