//! What every service process shares.
//!
//! - [`error`]: one error type, mapped to gRPC statuses with `google.rpc` details and to HTTP
//!   problem+json;
//! - [`auth`]: JWT verification as a tower layer, principals and roles;
//! - [`grpc`]: the gRPC server with health, reflection, tracing and graceful shutdown;
//! - [`health`]: readiness checks and `GET /healthz`;
//! - [`metrics`]: `GET /metrics` and the consumers' lag;
//! - [`reason`]: the catalogues of error reasons;
//! - [`service`]: how a service declares itself, and what it gets when it starts;
//! - [`config`]: flags and environment;
//! - [`shutdown`]: SIGTERM and Ctrl-C;
//! - [`trace`]: a span per request that continues the caller's W3C trace.

pub mod auth;
pub mod config;
pub mod error;
pub mod grpc;
pub mod health;
pub mod metrics;
pub mod reason;
pub mod service;
pub mod shutdown;
pub mod trace;
pub mod validate;

pub use auth::{JwtIssuer, JwtVerifier, Principal, Role, Secret, principal};
pub use error::{ApiError, ErrorCode, FieldViolation, Problem};
pub use grpc::GrpcServices;
pub use health::Readiness;
pub use reason::Reason;
pub use service::{Context, Migrations, Service, StartError};
