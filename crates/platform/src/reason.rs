//! The reasons an API answers errors with: one catalogue per service (and one for the
//! platform), each reason a constant with its code and meaning, so a client can match on a
//! reason it finds listed in the OpenAPI document and the README, and no reason is made up at
//! the place it is returned.

use crate::error::ErrorCode;

/// One reason: a stable UPPER_SNAKE name clients match on, the code it travels with, and what it
/// means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason {
    /// The name, such as `CALL_NOT_FOUND`.
    pub name: &'static str,
    /// The canonical code (gRPC status, and the HTTP status from it).
    pub code: ErrorCode,
    /// What it means, for the catalogue.
    pub about: &'static str,
}

/// Declares a catalogue of reasons: one constant per reason, and the list of them all.
///
/// ```
/// callcenter_platform::reasons! {
///     /// Every reason of the example.
///     pub const REASONS;
///     /// No such thing in the tenant.
///     THING_NOT_FOUND: NotFound,
/// }
/// assert_eq!(REASONS, &[THING_NOT_FOUND]);
/// assert_eq!(THING_NOT_FOUND.about, "No such thing in the tenant.");
/// ```
#[macro_export]
macro_rules! reasons {
    (
        $(#[doc = $list_doc:literal])*
        pub const $list:ident;
        $( $(#[doc = $about:literal])+ $name:ident : $code:ident, )+
    ) => {
        $(
            $(#[doc = $about])+
            pub const $name: $crate::reason::Reason = $crate::reason::Reason {
                name: stringify!($name),
                code: $crate::error::ErrorCode::$code,
                about: $crate::reason::trimmed(concat!($($about),+)),
            };
        )+
        $(#[doc = $list_doc])*
        pub const $list: &[$crate::reason::Reason] = &[$($name),+];
    };
}

/// A doc comment's text without the space after `///` (for [`reasons!`]).
pub const fn trimmed(about: &'static str) -> &'static str {
    match about.as_bytes() {
        [b' ', ..] => about.split_at(1).1,
        _ => about,
    }
}

reasons! {
    /// The reasons any service may answer with.
    pub const PLATFORM;
    /// A request field is malformed or out of range; `violations` names each field.
    INVALID_ARGUMENT: InvalidArgument,
    /// No valid bearer token.
    UNAUTHENTICATED: Unauthenticated,
    /// The token's roles (or subject) do not allow the request.
    PERMISSION_DENIED: PermissionDenied,
    /// A service or the event log cannot be reached; retrying later may succeed.
    UNAVAILABLE: Unavailable,
    /// A bug or a broken invariant (logged in full on the server).
    INTERNAL: Internal,
    /// Another request changed the same record at the same time; retrying may succeed.
    CONCURRENT_CHANGE: Aborted,
    /// The record kept changing under the request through every retry.
    CONTENTION: Aborted,
    /// The request was decided on an older version of the record than the stored one
    /// (`current_version` in the metadata); decide again on the current one.
    STALE_VERSION: Aborted,
    /// No route at that path (HTTP only).
    ROUTE_NOT_FOUND: NotFound,
    /// The route exists but not with that method (HTTP only; status 405).
    METHOD_NOT_ALLOWED: NotFound,
}

/// Whether `name` is a reason's name: UPPER_SNAKE, starting with a letter.
pub fn well_formed(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_reasons_are_named_as_their_constants_and_described() {
        assert_eq!(INVALID_ARGUMENT.name, "INVALID_ARGUMENT");
        assert_eq!(INVALID_ARGUMENT.code, ErrorCode::InvalidArgument);
        assert!(INVALID_ARGUMENT.about.starts_with("A request field"));
        // A description of several lines reads as one sentence.
        assert!(
            STALE_VERSION
                .about
                .contains("the stored one (`current_version`")
        );
        assert!(PLATFORM.iter().all(|reason| well_formed(reason.name)));
        assert!(!well_formed("call_not_found") && !well_formed("_X") && well_formed("X_1"));
    }
}
