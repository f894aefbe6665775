//! One error type for every API: mapped to a gRPC status with `google.rpc` details, and to an
//! HTTP problem+json body (RFC 9457), with the same code and reason on both.

use std::collections::{BTreeMap, HashMap};

use axum::response::{IntoResponse, Response};
use callcenter_eventlog::StoreError;
use callcenter_kit::CommandError;
use serde::{Deserialize, Serialize};

use crate::reason::{self as reasons, Reason};
use tonic_types::{ErrorDetails, StatusExt};

/// The `domain` of every `google.rpc.ErrorInfo` this platform sends.
pub const ERROR_DOMAIN: &str = "callcenter.dev";

/// The canonical error codes the platform uses (a subset of gRPC's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The request is malformed; fixing the request fixes it.
    InvalidArgument,
    /// The resource does not exist (or belongs to another tenant).
    NotFound,
    /// The resource to create exists already.
    AlreadyExists,
    /// The resource is not in a state that allows the request.
    FailedPrecondition,
    /// A concurrent change won; retrying may succeed.
    Aborted,
    /// No valid credentials.
    Unauthenticated,
    /// Valid credentials that do not allow the request.
    PermissionDenied,
    /// A quota or limit was reached.
    ResourceExhausted,
    /// A dependency is down; retrying later may succeed.
    Unavailable,
    /// A bug or a broken invariant.
    Internal,
}

impl ErrorCode {
    /// The gRPC status code.
    pub fn grpc(self) -> tonic::Code {
        match self {
            ErrorCode::InvalidArgument => tonic::Code::InvalidArgument,
            ErrorCode::NotFound => tonic::Code::NotFound,
            ErrorCode::AlreadyExists => tonic::Code::AlreadyExists,
            ErrorCode::FailedPrecondition => tonic::Code::FailedPrecondition,
            ErrorCode::Aborted => tonic::Code::Aborted,
            ErrorCode::Unauthenticated => tonic::Code::Unauthenticated,
            ErrorCode::PermissionDenied => tonic::Code::PermissionDenied,
            ErrorCode::ResourceExhausted => tonic::Code::ResourceExhausted,
            ErrorCode::Unavailable => tonic::Code::Unavailable,
            ErrorCode::Internal => tonic::Code::Internal,
        }
    }

    /// The code for a gRPC status code (codes the platform does not use become `Internal`).
    pub fn from_grpc(code: tonic::Code) -> Self {
        match code {
            tonic::Code::InvalidArgument | tonic::Code::OutOfRange => ErrorCode::InvalidArgument,
            tonic::Code::NotFound => ErrorCode::NotFound,
            tonic::Code::AlreadyExists => ErrorCode::AlreadyExists,
            tonic::Code::FailedPrecondition => ErrorCode::FailedPrecondition,
            tonic::Code::Aborted => ErrorCode::Aborted,
            tonic::Code::Unauthenticated => ErrorCode::Unauthenticated,
            tonic::Code::PermissionDenied => ErrorCode::PermissionDenied,
            tonic::Code::ResourceExhausted => ErrorCode::ResourceExhausted,
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                ErrorCode::Unavailable
            }
            _ => ErrorCode::Internal,
        }
    }

    /// The code as problem documents spell it (`FAILED_PRECONDITION`): its serialized name.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The HTTP status (Google's mapping of gRPC codes, AIP-193).
    pub fn http_status(self) -> http::StatusCode {
        match self {
            ErrorCode::InvalidArgument | ErrorCode::FailedPrecondition => {
                http::StatusCode::BAD_REQUEST
            }
            ErrorCode::NotFound => http::StatusCode::NOT_FOUND,
            ErrorCode::AlreadyExists | ErrorCode::Aborted => http::StatusCode::CONFLICT,
            ErrorCode::Unauthenticated => http::StatusCode::UNAUTHORIZED,
            ErrorCode::PermissionDenied => http::StatusCode::FORBIDDEN,
            ErrorCode::ResourceExhausted => http::StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// One invalid field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldViolation {
    /// The field's path, such as `queue_id`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// An error answered to an API caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The canonical code.
    pub code: ErrorCode,
    /// A stable UPPER_SNAKE reason that clients can match on, such as `CALL_NOT_RINGING`.
    pub reason: String,
    /// A short explanation for humans.
    pub message: String,
    /// Invalid request fields, for `InvalidArgument`.
    pub violations: Vec<FieldViolation>,
    /// Structured facts about the error (`google.rpc.ErrorInfo` metadata).
    pub metadata: BTreeMap<String, String>,
}

impl ApiError {
    /// An error for a reason of a catalogue (which gives its code), with a message.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            code: reason.code,
            reason: reason.name.to_owned(),
            message: message.into(),
            violations: Vec::new(),
            metadata: BTreeMap::new(),
        }
    }

    /// A malformed request field.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let field = field.into();
        let description = description.into();
        Self {
            violations: vec![FieldViolation {
                field: field.clone(),
                description: description.clone(),
            }],
            ..Self::new(
                reasons::INVALID_ARGUMENT,
                format!("invalid {field}: {description}"),
            )
        }
    }

    /// Adds another invalid field to an `InvalidArgument` error.
    pub fn and_invalid_field(
        mut self,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.violations.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
        self
    }

    /// A resource that does not exist for the caller's tenant: `reason` (a `NotFound` one) with
    /// the id asked for as metadata `key`.
    pub fn not_found(reason: Reason, key: &str, id: &str) -> Self {
        debug_assert_eq!(reason.code, ErrorCode::NotFound, "{}", reason.name);
        Self::new(reason, format!("{key} {id:?} not found")).with_metadata(key, id)
    }

    /// Missing or invalid credentials.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(reasons::UNAUTHENTICATED, message)
    }

    /// Credentials that do not allow the request.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(reasons::PERMISSION_DENIED, message)
    }

    /// A dependency is down.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(reasons::UNAVAILABLE, message)
    }

    /// A bug: logged in full, answered briefly.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(error = %message, "internal error");
        Self::new(reasons::INTERNAL, message)
    }

    /// Adds a metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Rebuilds the error from a gRPC status (what the gateway does with upstream answers).
    pub fn from_status(status: &tonic::Status) -> Self {
        let details = status.get_error_details();
        let code = ErrorCode::from_grpc(status.code());
        let (reason, metadata) = match details.error_info() {
            Some(info) => (
                info.reason.clone(),
                info.metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            None => (format!("{code:?}").to_uppercase(), BTreeMap::new()),
        };
        let violations = details
            .bad_request()
            .map(|bad_request| {
                bad_request
                    .field_violations
                    .iter()
                    .map(|violation| FieldViolation {
                        field: violation.field.clone(),
                        description: violation.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            code,
            reason,
            message: status.message().to_owned(),
            violations,
            metadata,
        }
    }

    /// The problem+json document of this error.
    pub fn problem(&self) -> Problem {
        let status = self.code.http_status();
        Problem {
            problem_type: format!("urn:callcenter:problem:{}", self.reason.to_lowercase()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.message.clone(),
            code: self.code,
            reason: self.reason.clone(),
            violations: self.violations.clone(),
            metadata: self.metadata.clone(),
        }
    }
}

/// An RFC 9457 problem document, with the platform's code, reason and field violations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URN naming the kind of problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP status text.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong.
    pub detail: String,
    /// The canonical code (as in gRPC).
    pub code: ErrorCode,
    /// The stable reason.
    pub reason: String,
    /// Invalid request fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<FieldViolation>,
    /// Structured facts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        let metadata: HashMap<String, String> = error.metadata.into_iter().collect();
        let mut details = ErrorDetails::with_error_info(error.reason, ERROR_DOMAIN, metadata);
        if !error.violations.is_empty() {
            details.set_bad_request(
                error
                    .violations
                    .into_iter()
                    .map(|violation| {
                        tonic_types::FieldViolation::new(violation.field, violation.description)
                    })
                    .collect::<Vec<_>>(),
            );
        }
        tonic::Status::with_error_details(error.code.grpc(), error.message, details)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let status = self.code.http_status();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        (
            status,
            [(http::header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { .. } => {
                ApiError::new(reasons::CONCURRENT_CHANGE, error.to_string())
            }
            StoreError::Invalid(message) => ApiError::new(reasons::INVALID_ARGUMENT, message),
            StoreError::Unavailable(_) => ApiError::unavailable(error.to_string()),
            StoreError::Corrupt { .. } => ApiError::internal(error.to_string()),
        }
    }
}

impl<E> From<CommandError<E>> for ApiError
where
    E: std::error::Error + Into<ApiError> + 'static,
{
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Rejected(rejection) => rejection.into(),
            CommandError::Contention { .. } => {
                ApiError::new(reasons::CONTENTION, error.to_string())
            }
            CommandError::Store(store) => store.into(),
            CommandError::Decode(decode) => ApiError::internal(decode.to_string()),
            CommandError::Stale { current, .. } => {
                ApiError::new(reasons::STALE_VERSION, error.to_string())
                    .with_metadata("current_version", current.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_survives_the_trip_through_a_grpc_status() {
        let error = ApiError::invalid_field("queue_id", "must not be empty")
            .and_invalid_field("caller_number", "digits only")
            .with_metadata("call_id", "c1");
        let status = tonic::Status::from(error.clone());
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let details = status.get_error_details();
        let info = details.error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(
            details
                .bad_request()
                .expect("BadRequest")
                .field_violations
                .len(),
            2
        );
        assert_eq!(ApiError::from_status(&status), error);
    }

    #[test]
    fn the_same_error_is_problem_json_over_http() {
        crate::reasons! {
            /// The test's reasons.
            pub const REASONS;
            /// No such call.
            CALL_NOT_FOUND: NotFound,
        }
        assert_eq!(REASONS, [CALL_NOT_FOUND]);
        let error = ApiError::not_found(CALL_NOT_FOUND, "call_id", "c9");
        assert_eq!(error.metadata["call_id"], "c9");
        let problem = error.problem();
        assert_eq!(problem.status, 404);
        assert_eq!(problem.reason, "CALL_NOT_FOUND");
        assert_eq!(problem.code, ErrorCode::NotFound);
        assert_eq!(
            problem.problem_type,
            "urn:callcenter:problem:call_not_found"
        );
        let response = error.into_response();
        assert_eq!(response.status(), http::StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            "application/problem+json"
        );
    }

    #[test]
    fn every_code_maps_to_grpc_and_back() {
        for code in [
            ErrorCode::InvalidArgument,
            ErrorCode::NotFound,
            ErrorCode::AlreadyExists,
            ErrorCode::FailedPrecondition,
            ErrorCode::Aborted,
            ErrorCode::Unauthenticated,
            ErrorCode::PermissionDenied,
            ErrorCode::ResourceExhausted,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ] {
            assert_eq!(ErrorCode::from_grpc(code.grpc()), code);
            assert!(code.http_status().as_u16() >= 400);
            assert!(crate::reason::well_formed(&code.name()), "{code:?}");
        }
        assert_eq!(ErrorCode::FailedPrecondition.name(), "FAILED_PRECONDITION");
    }
}
