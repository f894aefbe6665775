//! The platform's pure value types: names (ids, tenants), instants, the civil calendar and the
//! shape of an aggregate. Nothing here does I/O, so a domain crate can build on them without a
//! database or a broker.

pub mod aggregate;
pub mod calendar;

pub use aggregate::Aggregate;

use std::fmt;
use std::sync::Arc;

/// Longest name (tenant, context, aggregate type or id, subscription) the log accepts.
pub const MAX_NAME_LEN: usize = 64;
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// Most events one commit may hold.
pub const MAX_EVENTS_PER_COMMIT: usize = 500;

/// A validated name that can be one token of a NATS subject and one key column:
/// 1 to 64 characters of `A-Z a-z 0-9 _ -`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Arc<str>);

impl Name {
    /// Checks `value` and wraps it; what a name may contain is spelled out on [`Name`].
    pub fn new(value: impl AsRef<str>) -> Result<Self, InvalidName> {
        let value = value.as_ref();
        let valid_chars = value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
        if value.is_empty() || value.len() > MAX_NAME_LEN || !valid_chars {
            return Err(InvalidName {
                value: value.chars().take(80).collect(),
            });
        }
        Ok(Self(Arc::from(value)))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// A name is stored as its text (in consumers' snapshots); reading one checks it again.
impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Name::new(value).map_err(serde::de::Error::custom)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The error for a string that is not a valid [`Name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid name {value:?}: expected 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 _ -")]
pub struct InvalidName {
    /// The rejected value (its first 80 characters).
    pub value: String,
}

/// The tenant an aggregate belongs to; every stream key and subject carries it.
pub type TenantId = Name;

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `unix_millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(unix_millis: i64) -> Self {
        Self(unix_millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// The current wall-clock time; only edges of the system (transport, tests) call it.
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    /// The instant `millis` milliseconds later (earlier for a negative count).
    pub const fn plus_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }

    /// Milliseconds from `earlier` to `self`, never negative.
    pub fn millis_since(self, earlier: Timestamp) -> i64 {
        (self.0 - earlier.0).max(0)
    }

    /// RFC 3339 text in UTC with milliseconds, such as `2026-11-22T16:30:07.123Z`.
    pub fn to_rfc3339(self) -> String {
        let nanos = self.0.rem_euclid(1000) as u32 * 1_000_000;
        calendar::format_rfc3339(self.0.div_euclid(1000), nanos)
    }
}
