//! Authentication and authorization: JWTs verified with `jsonwebtoken`, yielding a [`Principal`]
//! (tenant, subject, roles); a tower layer that guards every gRPC server; role checks per RPC.
//!
//! The tenant always comes from the verified token, never from a request body.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use callcenter_eventlog::{Name, TenantId};
use callcenter_kit::{CommandMeta, is_reserved_tenant};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Issuer and audience of the platform's tokens.
pub const TOKEN_ISSUER: &str = "callcenter";

/// A secret value that never shows up in logs or debug output.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The roles of DOMAIN.md §1, plus the partner system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// 座席代表: takes calls.
    Agent,
    /// 班组长: leads 8–12 agents.
    TeamLeader,
    /// 值班长: runs the floor for a shift.
    DutyLead,
    /// 质检: reviews calls.
    QaReviewer,
    /// 培训员: trains and examines.
    Trainer,
    /// Plans staffing and rosters.
    WfmPlanner,
    /// 人力资源管理员: appraisals and accounts.
    HrAdmin,
    /// 经理/主管: runs a center.
    CenterManager,
    /// Configures the tenant.
    TenantAdmin,
    /// Runs the platform for every tenant.
    PlatformOperator,
    /// A partner system (PBX, CRM) integrating over gRPC.
    Partner,
}

impl Role {
    /// Every role, in order.
    pub const ALL: [Role; 11] = [
        Role::Agent,
        Role::TeamLeader,
        Role::DutyLead,
        Role::QaReviewer,
        Role::Trainer,
        Role::WfmPlanner,
        Role::HrAdmin,
        Role::CenterManager,
        Role::TenantAdmin,
        Role::PlatformOperator,
        Role::Partner,
    ];

    /// The role's name in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::TeamLeader => "team_leader",
            Role::DutyLead => "duty_lead",
            Role::QaReviewer => "qa_reviewer",
            Role::Trainer => "trainer",
            Role::WfmPlanner => "wfm_planner",
            Role::HrAdmin => "hr_admin",
            Role::CenterManager => "center_manager",
            Role::TenantAdmin => "tenant_admin",
            Role::PlatformOperator => "platform_operator",
            Role::Partner => "partner",
        }
    }

    /// Roles that supervise the floor and may act for agents and read reports.
    pub const SUPERVISORS: &'static [Role] = &[
        Role::TeamLeader,
        Role::DutyLead,
        Role::CenterManager,
        Role::TenantAdmin,
    ];
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == value)
            .ok_or_else(|| {
                let known: Vec<&str> = Role::ALL.iter().map(|role| role.as_str()).collect();
                format!("unknown role {value:?}; known roles: {}", known.join(", "))
            })
    }
}

/// Who is calling, as proven by a verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The caller's tenant.
    pub tenant: TenantId,
    /// The caller's identity (an agent id, a user name, a partner name).
    pub subject: String,
    /// What the caller may do.
    pub roles: BTreeSet<Role>,
}

impl Principal {
    /// Whether the caller holds any of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|role| self.roles.contains(role))
    }

    /// Refuses with `PERMISSION_DENIED` unless the caller holds one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.has_any(roles) {
            return Ok(());
        }
        let needed: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
        Err(ApiError::permission_denied(format!(
            "this needs one of the roles: {}",
            needed.join(", ")
        )))
    }

    /// Metadata for a command on behalf of this caller.
    pub fn command_meta(&self, request_id: &str) -> CommandMeta {
        let request_id = (!request_id.is_empty()).then(|| request_id.to_owned());
        let correlation_id = request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        CommandMeta {
            tenant: self.tenant.clone(),
            request_id,
            causation_id: correlation_id.clone(),
            correlation_id,
            actor: self.subject.clone(),
            at: callcenter_kit::Timestamp::now(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tenant: String,
    #[serde(default)]
    roles: Vec<String>,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
}

/// Verifies tokens (HS256 with a shared secret).
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier").finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// A verifier for HS256 tokens signed with `secret`.
    pub fn hs256(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[TOKEN_ISSUER]);
        validation.set_audience(&[TOKEN_ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = 30;
        Self {
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    /// Verifies a token and returns its principal; unknown roles are ignored.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|error| ApiError::unauthenticated(format!("invalid token: {error}")))?;
        let claims = data.claims;
        let tenant = Name::new(&claims.tenant)
            .map_err(|error| ApiError::unauthenticated(format!("invalid token tenant: {error}")))?;
        if is_reserved_tenant(&tenant) {
            return Err(ApiError::unauthenticated(
                "invalid token tenant: ids starting with _ are reserved for the platform",
            ));
        }
        if claims.sub.is_empty() {
            return Err(ApiError::unauthenticated("token has no subject"));
        }
        let roles = claims
            .roles
            .iter()
            .filter_map(|role| role.parse().ok())
            .collect();
        Ok(Principal {
            tenant,
            subject: claims.sub,
            roles,
        })
    }

    /// Verifies an `authorization: Bearer <token>` header value.
    pub fn verify_bearer(&self, header: Option<&http::HeaderValue>) -> Result<Principal, ApiError> {
        let header = header.ok_or_else(|| {
            ApiError::unauthenticated("missing authorization header (expected: Bearer <token>)")
        })?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::unauthenticated("authorization header is not text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::unauthenticated("authorization header is not a Bearer token")
            })?;
        self.verify(token.trim())
    }
}

/// Issues tokens (for `callcenter token` and tests).
#[derive(Clone)]
pub struct JwtIssuer {
    key: EncodingKey,
}

impl fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtIssuer").finish_non_exhaustive()
    }
}

impl JwtIssuer {
    /// An issuer of HS256 tokens signed with `secret`.
    pub fn hs256(secret: &Secret) -> Self {
        Self {
            key: EncodingKey::from_secret(secret.expose().as_bytes()),
        }
    }

    /// A token for `subject` of `tenant` with `roles`, valid for `ttl_seconds`.
    pub fn issue(
        &self,
        tenant: &TenantId,
        subject: &str,
        roles: &[Role],
        ttl_seconds: u64,
    ) -> Result<String, ApiError> {
        if is_reserved_tenant(tenant) {
            return Err(ApiError::invalid_field(
                "tenant",
                "tenant ids starting with _ are reserved for the platform",
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let claims = Claims {
            sub: subject.to_owned(),
            tenant: tenant.to_string(),
            roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
            iss: TOKEN_ISSUER.into(),
            aud: TOKEN_ISSUER.into(),
            iat: now,
            exp: now + ttl_seconds,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(|error| ApiError::internal(format!("cannot sign token: {error}")))
    }
}

/// gRPC paths that answer without a token: health checks and server reflection.
fn is_public_grpc_path(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.")
}

/// A tower layer that verifies the bearer token of every gRPC request, puts the [`Principal`] in
/// the request's extensions, and answers `UNAUTHENTICATED` (with details) without one.
#[derive(Clone, Debug)]
pub struct GrpcAuthLayer {
    verifier: Arc<JwtVerifier>,
}

impl GrpcAuthLayer {
    /// A layer that verifies with `verifier`.
    pub fn new(verifier: Arc<JwtVerifier>) -> Self {
        Self { verifier }
    }
}

impl<S> tower_layer::Layer<S> for GrpcAuthLayer {
    type Service = GrpcAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcAuth {
            inner,
            verifier: Arc::clone(&self.verifier),
        }
    }
}

/// The service made by [`GrpcAuthLayer`].
#[derive(Clone, Debug)]
pub struct GrpcAuth<S> {
    inner: S,
    verifier: Arc<JwtVerifier>,
}

impl<S, B> tower_service::Service<http::Request<B>> for GrpcAuth<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if !is_public_grpc_path(request.uri().path()) {
            match self
                .verifier
                .verify_bearer(request.headers().get(http::header::AUTHORIZATION))
            {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                }
                Err(error) => {
                    let status = tonic::Status::from(error);
                    return Box::pin(async move { Ok(status.into_http()) });
                }
            }
        }
        // Take the service that was driven to readiness, leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { inner.call(request).await })
    }
}

/// The verified caller of a gRPC request (put there by [`GrpcAuthLayer`]).
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::unauthenticated("no verified caller").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (JwtIssuer, JwtVerifier) {
        let secret = Secret::new("test-secret-test-secret-test-secret");
        (JwtIssuer::hs256(&secret), JwtVerifier::hs256(&secret))
    }

    #[test]
    fn a_token_yields_tenant_subject_and_roles() {
        let (issuer, verifier) = keys();
        let tenant = Name::new("demo").unwrap();
        let token = issuer
            .issue(&tenant, "agent-1", &[Role::Agent, Role::TeamLeader], 60)
            .unwrap();
        let principal = verifier.verify(&token).unwrap();
        assert_eq!(principal.tenant, tenant);
        assert_eq!(principal.subject, "agent-1");
        assert!(principal.has_any(&[Role::TeamLeader]));
        assert!(principal.require_any(&[Role::HrAdmin]).is_err());
    }

    #[test]
    fn tokens_signed_with_another_key_or_expired_are_refused() {
        let (issuer, _) = keys();
        let other = JwtVerifier::hs256(&Secret::new("another-secret-another-secret"));
        let tenant = Name::new("demo").unwrap();
        let token = issuer.issue(&tenant, "a", &[Role::Agent], 60).unwrap();
        assert_eq!(
            other.verify(&token).unwrap_err().code,
            crate::ErrorCode::Unauthenticated
        );
        let (issuer, verifier) = keys();
        let claims = Claims {
            sub: "a".into(),
            tenant: "demo".into(),
            roles: vec![],
            iss: TOKEN_ISSUER.into(),
            aud: TOKEN_ISSUER.into(),
            iat: 1,
            exp: 2,
        };
        let expired =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &issuer.key).unwrap();
        assert!(verifier.verify(&expired).is_err());
    }

    #[test]
    fn no_token_is_issued_or_accepted_for_the_reserved_platform_tenant() {
        let (issuer, verifier) = keys();
        let platform = callcenter_kit::platform_tenant();
        assert!(
            issuer
                .issue(&platform, "a", &[Role::TenantAdmin], 60)
                .is_err()
        );
        let claims = Claims {
            sub: "a".into(),
            tenant: platform.to_string(),
            roles: vec!["tenant_admin".into()],
            iss: TOKEN_ISSUER.into(),
            aud: TOKEN_ISSUER.into(),
            iat: 1,
            exp: u64::MAX / 2,
        };
        let forged =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &issuer.key).unwrap();
        let refused = verifier.verify(&forged).unwrap_err();
        assert_eq!(refused.code, crate::ErrorCode::Unauthenticated);
    }

    #[test]
    fn bearer_headers_are_checked_for_shape() {
        let (issuer, verifier) = keys();
        assert!(verifier.verify_bearer(None).is_err());
        let basic = http::HeaderValue::from_static("Basic abc");
        assert!(verifier.verify_bearer(Some(&basic)).is_err());
        let token = issuer
            .issue(&Name::new("demo").unwrap(), "a", &[], 60)
            .unwrap();
        let bearer = http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        assert!(verifier.verify_bearer(Some(&bearer)).is_ok());
    }

    #[test]
    fn role_names_round_trip_and_unknown_ones_are_explained() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        let error = "janitor".parse::<Role>().unwrap_err();
        assert!(error.contains("team_leader"));
    }
}
