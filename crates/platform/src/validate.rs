//! Request-field checks that answer with `InvalidArgument` and the field's name.

use callcenter_eventlog::Name;

use crate::error::ApiError;

/// A required id field: 1 to 64 characters of `A-Z a-z 0-9 _ -`.
pub fn required_id(field: &str, value: &str) -> Result<Name, ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid_field(field, "is required"));
    }
    Name::new(value).map_err(|_| {
        ApiError::invalid_field(field, "expected 1 to 64 characters of A-Z a-z 0-9 _ -")
    })
}

/// An optional id field (empty means absent).
pub fn optional_id(field: &str, value: &str) -> Result<Option<Name>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    required_id(field, value).map(Some)
}

/// A list of id fields; each entry is checked as `field[index]`.
pub fn ids(field: &str, values: &[String]) -> Result<Vec<Name>, ApiError> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| required_id(&format!("{field}[{index}]"), value))
        .collect()
}

/// What a telephone number is: an optional `+` then 1 to 32 of `0-9 * #`.
pub const PHONE_NUMBER_RULE: &str = "expected an optional + then 1 to 32 of 0-9 * #";

/// Whether `value` is a telephone number ([`PHONE_NUMBER_RULE`]).
pub fn is_phone_number(value: &str) -> bool {
    let digits = value.strip_prefix('+').unwrap_or(value);
    !digits.is_empty()
        && digits.len() <= 32
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

/// A required telephone-number field.
pub fn phone_number(field: &str, value: &str) -> Result<String, ApiError> {
    if is_phone_number(value) {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid_field(field, PHONE_NUMBER_RULE))
    }
}

/// A required free-text field of at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid_field(field, "is required"));
    }
    if trimmed.chars().count() > max {
        return Err(ApiError::invalid_field(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// An optional request id: at most 128 visible ASCII characters (empty means absent).
pub fn request_id(value: &str) -> Result<&str, ApiError> {
    if value.is_empty() || callcenter_eventlog::validate_request_id(value).is_ok() {
        return Ok(value);
    }
    Err(ApiError::invalid_field(
        "request_id",
        "at most 128 visible ASCII characters",
    ))
}

/// A required instant, in Unix milliseconds (sub-millisecond digits are dropped).
pub fn required_time(
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Result<callcenter_eventlog::Timestamp, ApiError> {
    match value {
        None => Err(ApiError::invalid_field(field, "is required")),
        Some(value) if !(0..1_000_000_000).contains(&value.nanos) => Err(ApiError::invalid_field(
            field,
            "nanos must be between 0 and 999,999,999",
        )),
        Some(value) => Ok(callcenter_eventlog::from_proto_timestamp(*value)),
    }
}

/// An optional instant (absent: `None`).
pub fn optional_time(
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Result<Option<callcenter_eventlog::Timestamp>, ApiError> {
    value
        .map(|value| required_time(field, Some(value)))
        .transpose()
}

/// A page size: 0 means `default`; above `max` is refused.
pub fn page_size(value: i32, default: u32, max: u32) -> Result<u32, ApiError> {
    match u32::try_from(value) {
        Ok(0) => Ok(default),
        Ok(size) if size <= max => Ok(size),
        _ => Err(ApiError::invalid_field(
            "page_size",
            format!("between 0 and {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn invalid_fields_name_the_field() {
        let error = required_id("call_id", "a b").unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidArgument);
        assert_eq!(error.violations[0].field, "call_id");
        let error = ids("queue_ids", &["ok".into(), "".into()]).unwrap_err();
        assert_eq!(error.violations[0].field, "queue_ids[1]");
        assert!(optional_id("queue_id", "").unwrap().is_none());
        assert!(request_id("has space").is_err());
        assert_eq!(page_size(0, 100, 1000).unwrap(), 100);
        assert!(page_size(-1, 100, 1000).is_err());
        assert!(page_size(1001, 100, 1000).is_err());
        assert_eq!(text("name", "  Li Lei ", 10).unwrap(), "Li Lei");
        assert!(text("name", "   ", 10).is_err());
    }
}
