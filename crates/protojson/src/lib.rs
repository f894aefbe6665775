//! The API's JSON, read and written from protobuf descriptors (README "JSON conventions"), for
//! the gateway's transcoder and whoever else speaks the HTTP API's JSON:
//! proto field names, enum values in lower case without their type's prefix (`null` for the
//! unspecified value), RFC 3339 instants, integers as numbers, every field present in responses
//! (`null` where a message, an `optional` field or an enum is not set; only the chosen member of
//! a `oneof`), and unknown request fields refused.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use callcenter_types::calendar::{format_rfc3339, parse_rfc3339};
use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey,
    MessageDescriptor, ReflectMessage, Value,
};
use serde_json::{Map, Value as Json};

/// Every platform proto, with the HTTP routes and the comments (decoded once).
pub fn descriptors() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(callcenter_proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set built with the protos decodes")
    })
}

/// The JSON object of a `google.protobuf.Struct` (free-form JSON in a typed message).
pub fn struct_to_json(value: &prost_types::Struct) -> Json {
    let descriptor = struct_descriptor();
    let bytes = prost::Message::encode_to_vec(value);
    DynamicMessage::decode(descriptor, bytes.as_slice())
        .map(|message| message_to_json(&message))
        .unwrap_or(Json::Null)
}

/// The `google.protobuf.Struct` of a JSON object (`None` for any other JSON value).
pub fn json_to_struct(value: &Json) -> Option<prost_types::Struct> {
    message_from_json(&struct_descriptor(), value)
        .ok()?
        .transcode_to::<prost_types::Struct>()
        .ok()
}

fn struct_descriptor() -> MessageDescriptor {
    descriptors()
        .get_message_by_name("google.protobuf.Struct")
        .expect("the descriptor set holds google.protobuf.Struct")
}

/// A request field that cannot be read: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, such as `routing.widening[0].min_proficiency`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn error(field: &str, reason: impl Into<String>) -> FieldError {
    FieldError {
        field: if field.is_empty() { "body" } else { field }.to_owned(),
        reason: reason.into(),
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The JSON spelling of an enum value: its name without the enum's own prefix, in lower case
/// (`CALL_STATE_IN_IVR` of `CallState` is `in_ivr`).
pub fn enum_value_name(descriptor: &EnumDescriptor, value_name: &str) -> String {
    let mut prefix = String::new();
    for (index, ch) in descriptor.name().chars().enumerate() {
        if ch.is_ascii_uppercase() && index > 0 {
            prefix.push('_');
        }
        prefix.push(ch.to_ascii_uppercase());
    }
    prefix.push('_');
    value_name
        .strip_prefix(&prefix)
        .unwrap_or(value_name)
        .to_ascii_lowercase()
}

/// The JSON spellings of an enum's values, the unspecified one left out.
pub fn enum_value_names(descriptor: &EnumDescriptor) -> Vec<String> {
    descriptor
        .values()
        .filter(|value| value.number() != 0)
        .map(|value| enum_value_name(descriptor, value.name()))
        .collect()
}

/// The request message of a JSON document.
pub fn message_from_json(
    descriptor: &MessageDescriptor,
    json: &Json,
) -> Result<DynamicMessage, FieldError> {
    let mut message = DynamicMessage::new(descriptor.clone());
    merge_json(&mut message, json, "")?;
    Ok(message)
}

/// Sets the fields a JSON object names (the ones it leaves out, or sets to `null`, stay unset).
pub fn merge_json(message: &mut DynamicMessage, json: &Json, path: &str) -> Result<(), FieldError> {
    let descriptor = message.descriptor();
    if let Some(special) = well_known_from_json(&descriptor, json, path)? {
        *message = special;
        return Ok(());
    }
    let object = match json {
        Json::Object(object) => object,
        Json::Null => return Ok(()),
        _ => return Err(error(path, "expected an object")),
    };
    let mut oneofs_set: HashMap<String, String> = HashMap::new();
    for (key, value) in object {
        let field_path = join(path, key);
        let field = descriptor
            .get_field_by_name(key)
            .or_else(|| descriptor.get_field_by_json_name(key))
            .ok_or_else(|| error(&field_path, "unknown field"))?;
        if value.is_null() {
            continue;
        }
        if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic())
            && let Some(other) = oneofs_set.insert(oneof.name().to_owned(), key.clone())
        {
            return Err(error(
                &field_path,
                format!("{other} is set already: give one"),
            ));
        }
        let value = field_value_from_json(&field, value, &field_path)?;
        message.set_field(&field, value);
    }
    Ok(())
}

fn field_value_from_json(
    field: &FieldDescriptor,
    json: &Json,
    path: &str,
) -> Result<Value, FieldError> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return Err(error(path, "malformed map"));
        };
        let (key_kind, value_kind) = (
            entry.map_entry_key_field().kind(),
            entry.map_entry_value_field().kind(),
        );
        let object = json
            .as_object()
            .ok_or_else(|| error(path, "expected an object"))?;
        let mut map = HashMap::with_capacity(object.len());
        for (key, value) in object {
            let entry_path = join(path, key);
            let key = map_key_from_text(&key_kind, key, &entry_path)?;
            map.insert(key, single_from_json(&value_kind, value, &entry_path)?);
        }
        return Ok(Value::Map(map));
    }
    if field.is_list() {
        let items = json
            .as_array()
            .ok_or_else(|| error(path, "expected an array"))?;
        return items
            .iter()
            .enumerate()
            .map(|(index, item)| single_from_json(&field.kind(), item, &format!("{path}[{index}]")))
            .collect::<Result<_, _>>()
            .map(Value::List);
    }
    single_from_json(&field.kind(), json, path)
}

fn map_key_from_text(kind: &Kind, text: &str, path: &str) -> Result<MapKey, FieldError> {
    Ok(match single_from_text(kind, text, path)? {
        Value::String(text) => MapKey::String(text),
        Value::Bool(flag) => MapKey::Bool(flag),
        Value::I32(n) => MapKey::I32(n),
        Value::I64(n) => MapKey::I64(n),
        Value::U32(n) => MapKey::U32(n),
        Value::U64(n) => MapKey::U64(n),
        _ => return Err(error(path, "unsupported map key")),
    })
}

/// One value of a field from a query parameter or a path variable.
pub fn single_from_text(kind: &Kind, text: &str, path: &str) -> Result<Value, FieldError> {
    let json = match kind {
        Kind::String | Kind::Bytes | Kind::Enum(_) | Kind::Message(_) => Json::from(text),
        Kind::Bool => match text {
            "true" => Json::Bool(true),
            "false" => Json::Bool(false),
            _ => return Err(error(path, "expected true or false")),
        },
        _ => Json::from(text),
    };
    single_from_json(kind, &json, path)
}

fn integer(json: &Json, path: &str) -> Result<i128, FieldError> {
    let parsed = match json {
        Json::Number(number) => number
            .as_i64()
            .map(i128::from)
            .or_else(|| number.as_u64().map(i128::from))
            .or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e19)
                    .map(|f| f as i128)
            }),
        Json::String(text) => text.trim().parse::<i128>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| error(path, "expected a whole number"))
}

fn in_range<T: TryFrom<i128>>(value: i128, path: &str) -> Result<T, FieldError> {
    T::try_from(value).map_err(|_| error(path, "number out of range"))
}

fn single_from_json(kind: &Kind, json: &Json, path: &str) -> Result<Value, FieldError> {
    Ok(match kind {
        Kind::String => Value::String(
            json.as_str()
                .ok_or_else(|| error(path, "expected a string"))?
                .to_owned(),
        ),
        Kind::Bool => Value::Bool(
            json.as_bool()
                .ok_or_else(|| error(path, "expected true or false"))?,
        ),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(in_range(integer(json, path)?, path)?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(in_range(integer(json, path)?, path)?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(in_range(integer(json, path)?, path)?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(in_range(integer(json, path)?, path)?),
        Kind::Double | Kind::Float => {
            let number = match json {
                Json::Number(number) => number.as_f64(),
                Json::String(text) => text.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            }
            .ok_or_else(|| error(path, "expected a number"))?;
            if matches!(kind, Kind::Float) {
                Value::F32(number as f32)
            } else {
                Value::F64(number)
            }
        }
        Kind::Bytes => Value::Bytes(
            BASE64_STANDARD
                .decode(json.as_str().unwrap_or_default())
                .map_err(|_| error(path, "expected base64 text"))?
                .into(),
        ),
        Kind::Enum(descriptor) => Value::EnumNumber(enum_from_json(descriptor, json, path)?),
        Kind::Message(descriptor) => {
            let mut message = DynamicMessage::new(descriptor.clone());
            merge_json(&mut message, json, path)?;
            Value::Message(message)
        }
    })
}

fn enum_from_json(descriptor: &EnumDescriptor, json: &Json, path: &str) -> Result<i32, FieldError> {
    let found = match json {
        Json::String(text) => descriptor.values().find(|value| {
            value.name() == text || enum_value_name(descriptor, value.name()) == *text
        }),
        Json::Number(number) => number
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .and_then(|n| descriptor.get_value(n)),
        _ => None,
    };
    found.map(|value| value.number()).ok_or_else(|| {
        error(
            path,
            format!(
                "expected one of {}",
                enum_value_names(descriptor).join(", ")
            ),
        )
    })
}

/// Messages with a JSON form of their own: instants as RFC 3339 text, `Struct`, `Value` and
/// `ListValue` as plain JSON.
fn well_known_from_json(
    descriptor: &MessageDescriptor,
    json: &Json,
    path: &str,
) -> Result<Option<DynamicMessage>, FieldError> {
    let mut message = DynamicMessage::new(descriptor.clone());
    match descriptor.full_name() {
        "google.protobuf.Timestamp" => {
            let text = json
                .as_str()
                .ok_or_else(|| error(path, "expected an RFC 3339 date-time text"))?;
            let (seconds, nanos) = parse_rfc3339(text).map_err(|reason| error(path, reason))?;
            message.set_field_by_name("seconds", Value::I64(seconds));
            message.set_field_by_name("nanos", Value::I32(nanos as i32));
        }
        "google.protobuf.Struct" => {
            let object = json
                .as_object()
                .ok_or_else(|| error(path, "expected an object"))?;
            let value_type = struct_value_descriptor(descriptor);
            let fields = object
                .iter()
                .map(|(key, value)| {
                    let value = json_value_message(&value_type, value, &join(path, key))?;
                    Ok((MapKey::String(key.clone()), Value::Message(value)))
                })
                .collect::<Result<HashMap<_, _>, FieldError>>()?;
            message.set_field_by_name("fields", Value::Map(fields));
        }
        "google.protobuf.Value" => return json_value_message(descriptor, json, path).map(Some),
        _ => return Ok(None),
    }
    Ok(Some(message))
}

fn struct_value_descriptor(struct_type: &MessageDescriptor) -> MessageDescriptor {
    struct_type
        .parent_pool()
        .get_message_by_name("google.protobuf.Value")
        .expect("the descriptor set holds google.protobuf.Value")
}

fn json_value_message(
    value_type: &MessageDescriptor,
    json: &Json,
    path: &str,
) -> Result<DynamicMessage, FieldError> {
    let pool = value_type.parent_pool();
    let mut message = DynamicMessage::new(value_type.clone());
    match json {
        Json::Null => message.set_field_by_name("null_value", Value::EnumNumber(0)),
        Json::Bool(flag) => message.set_field_by_name("bool_value", Value::Bool(*flag)),
        Json::Number(number) => {
            message.set_field_by_name("number_value", Value::F64(number.as_f64().unwrap_or(0.0)))
        }
        Json::String(text) => {
            message.set_field_by_name("string_value", Value::String(text.clone()))
        }
        Json::Array(items) => {
            let list_type = pool
                .get_message_by_name("google.protobuf.ListValue")
                .expect("the descriptor set holds google.protobuf.ListValue");
            let values = items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    json_value_message(value_type, item, &format!("{path}[{index}]"))
                        .map(Value::Message)
                })
                .collect::<Result<_, _>>()?;
            let mut list = DynamicMessage::new(list_type);
            list.set_field_by_name("values", Value::List(values));
            message.set_field_by_name("list_value", Value::Message(list));
        }
        Json::Object(_) => {
            let struct_type = pool
                .get_message_by_name("google.protobuf.Struct")
                .expect("the descriptor set holds google.protobuf.Struct");
            let mut object = DynamicMessage::new(struct_type);
            merge_json(&mut object, json, path)?;
            message.set_field_by_name("struct_value", Value::Message(object));
        }
    }
    Ok(message)
}

/// The JSON document of a response message.
pub fn message_to_json(message: &DynamicMessage) -> Json {
    let descriptor = message.descriptor();
    match descriptor.full_name() {
        "google.protobuf.Timestamp" => {
            let seconds = message
                .get_field_by_name("seconds")
                .and_then(|v| v.as_i64());
            let nanos = message.get_field_by_name("nanos").and_then(|v| v.as_i32());
            return Json::String(format_rfc3339(
                seconds.unwrap_or(0),
                u32::try_from(nanos.unwrap_or(0)).unwrap_or(0),
            ));
        }
        "google.protobuf.Struct" => {
            let mut object = Map::new();
            if let Some(Value::Map(fields)) = message.get_field_by_name("fields").as_deref() {
                let mut entries: Vec<_> = fields.iter().collect();
                entries.sort_by_key(|(key, _)| map_key_text(key));
                for (key, value) in entries {
                    object.insert(map_key_text(key), single_to_json(value));
                }
            }
            return Json::Object(object);
        }
        "google.protobuf.Value" => {
            return match message.fields().next() {
                Some((_, Value::F64(number)))
                    if number.fract() == 0.0 && number.abs() < 9_007_199_254_740_992.0 =>
                {
                    // Free JSON keeps its whole numbers whole, as JavaScript reads them.
                    Json::from(*number as i64)
                }
                Some((_, Value::EnumNumber(_))) | None => Json::Null,
                Some((_, value)) => single_to_json(value),
            };
        }
        "google.protobuf.ListValue" => {
            return match message.get_field_by_name("values").as_deref() {
                Some(Value::List(values)) => {
                    Json::Array(values.iter().map(single_to_json).collect())
                }
                _ => Json::Array(Vec::new()),
            };
        }
        _ => {}
    }
    let mut object = Map::new();
    for field in descriptor.fields() {
        let in_oneof = field.containing_oneof().is_some_and(|o| !o.is_synthetic());
        let set = message.has_field(&field);
        if in_oneof && !set {
            continue;
        }
        let json = if field.supports_presence() && !set {
            Json::Null
        } else {
            field_to_json(&field, &message.get_field(&field))
        };
        object.insert(field.name().to_owned(), json);
    }
    Json::Object(object)
}

fn field_to_json(field: &FieldDescriptor, value: &Value) -> Json {
    match (value, field.kind()) {
        (Value::EnumNumber(number), Kind::Enum(descriptor)) => enum_to_json(&descriptor, *number),
        (Value::List(items), Kind::Enum(descriptor)) => Json::Array(
            items
                .iter()
                .map(|item| match item {
                    Value::EnumNumber(number) => enum_to_json(&descriptor, *number),
                    other => single_to_json(other),
                })
                .collect(),
        ),
        (Value::Map(entries), Kind::Message(entry)) => {
            let value_field = entry.map_entry_value_field();
            let mut sorted: Vec<_> = entries.iter().collect();
            sorted.sort_by_key(|(key, _)| map_key_text(key));
            Json::Object(
                sorted
                    .into_iter()
                    .map(|(key, value)| (map_key_text(key), field_to_json(&value_field, value)))
                    .collect(),
            )
        }
        _ => single_to_json(value),
    }
}

fn enum_to_json(descriptor: &EnumDescriptor, number: i32) -> Json {
    match descriptor.get_value(number) {
        _ if number == 0 => Json::Null,
        Some(value) => Json::String(enum_value_name(descriptor, value.name())),
        None => Json::from(number),
    }
}

fn map_key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(flag) => flag.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(text) => text.clone(),
    }
}

fn single_to_json(value: &Value) -> Json {
    match value {
        Value::Bool(flag) => Json::Bool(*flag),
        Value::I32(n) => Json::from(*n),
        Value::I64(n) => Json::from(*n),
        Value::U32(n) => Json::from(*n),
        Value::U64(n) => Json::from(*n),
        Value::F32(n) => {
            serde_json::Number::from_f64(f64::from(*n)).map_or(Json::Null, Json::Number)
        }
        Value::F64(n) => serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number),
        Value::String(text) => Json::String(text.clone()),
        Value::Bytes(bytes) => Json::String(BASE64_STANDARD.encode(bytes)),
        Value::EnumNumber(n) => Json::from(*n),
        Value::Message(message) => message_to_json(message),
        Value::List(items) => Json::Array(items.iter().map(single_to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(key, value)| (map_key_text(key), single_to_json(value)))
                .collect(),
        ),
    }
}
