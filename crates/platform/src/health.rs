//! Readiness: what a process needs before it should get traffic (the event log, the database,
//! projections caught up), served as `GET /healthz` and followed by gRPC health.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::response::IntoResponse;
use axum::routing::get;
use callcenter_eventlog::EventStore;
use callcenter_kit::ProjectionStatus;
use serde::Serialize;
use tokio::sync::watch;

/// One thing readiness depends on.
#[async_trait::async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// The check's name in reports.
    fn name(&self) -> String;
    /// `Ok` when ready; otherwise why not.
    async fn check(&self) -> Result<(), String>;
}

/// The result of one check.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The readiness of the whole process.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ReadinessReport {
    /// True when every check passed.
    pub ready: bool,
    /// Each check.
    pub checks: Vec<CheckResult>,
}

/// The checks of one process.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<Arc<dyn ReadinessCheck>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.checks.iter().map(|check| check.name()).collect();
        f.debug_struct("Readiness").field("checks", &names).finish()
    }
}

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

impl Readiness {
    /// No checks: always ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a check.
    pub fn with(mut self, check: impl ReadinessCheck + 'static) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    /// Runs every check (concurrently, each with a timeout).
    pub async fn report(&self) -> ReadinessReport {
        let runs = self.checks.iter().map(|check| async move {
            let outcome = tokio::time::timeout(CHECK_TIMEOUT, check.check()).await;
            let detail = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(reason)) => Some(reason),
                Err(_) => Some(format!("no answer within {CHECK_TIMEOUT:?}")),
            };
            CheckResult {
                name: check.name(),
                ok: detail.is_none(),
                detail,
            }
        });
        let checks = futures_util::future::join_all(runs).await;
        ReadinessReport {
            ready: checks.iter().all(|check| check.ok),
            checks,
        }
    }
}

/// The event log answers.
#[derive(Debug)]
pub struct EventLogCheck(pub Arc<dyn EventStore>);

#[async_trait::async_trait]
impl ReadinessCheck for EventLogCheck {
    fn name(&self) -> String {
        format!("eventlog:{}", self.0.backend())
    }

    async fn check(&self) -> Result<(), String> {
        self.0.health().await.map_err(|error| error.to_string())
    }
}

/// A read-model database answers.
#[derive(Debug)]
pub struct DatabaseCheck(pub sqlx::AnyPool);

#[async_trait::async_trait]
impl ReadinessCheck for DatabaseCheck {
    fn name(&self) -> String {
        "database".into()
    }

    async fn check(&self) -> Result<(), String> {
        sqlx::query("SELECT 1")
            .execute(&self.0)
            .await
            .map(|_| ())
            .map_err(|error| error.to_string())
    }
}

/// Passes once a projection, consumer or reactor has caught up with the log (and while its last
/// batch did not fail): a process is not counted ready while what it does because of the log
/// (rings a reserved agent, times out a ring, publishes presence) lags behind.
#[derive(Clone, Debug)]
pub struct CaughtUpCheck {
    /// What it is: `projection`, `consumer` or `reactor`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// Its live status.
    pub status: watch::Receiver<ProjectionStatus>,
}

#[async_trait::async_trait]
impl ReadinessCheck for CaughtUpCheck {
    fn name(&self) -> String {
        format!("{}:{}", self.kind, self.name)
    }

    async fn check(&self) -> Result<(), String> {
        let status = self.status.borrow().clone();
        if let Some(error) = status.last_error {
            return Err(error);
        }
        if !status.caught_up {
            return Err(format!("catching up: {} commits behind", status.lag));
        }
        Ok(())
    }
}

/// `GET /livez` (the process runs) and `GET /healthz` (ready for traffic: 200, or 503 with the
/// failing checks).
pub fn health_router(readiness: Readiness) -> axum::Router {
    axum::Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route(
            "/healthz",
            get(move || {
                let readiness = readiness.clone();
                async move {
                    let report = readiness.report().await;
                    let status = if report.ready {
                        http::StatusCode::OK
                    } else {
                        http::StatusCode::SERVICE_UNAVAILABLE
                    };
                    (status, Json(report)).into_response()
                }
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_process_is_not_ready_while_a_reactor_lags_behind_the_log_or_fails() {
        let status = watch::Sender::new(ProjectionStatus::default());
        let check = CaughtUpCheck {
            kind: "reactor",
            name: "telephony-ringer".into(),
            status: status.subscribe(),
        };
        assert_eq!(check.name(), "reactor:telephony-ringer");
        status.send_modify(|status| status.lag = 120);
        assert_eq!(
            check.check().await,
            Err("catching up: 120 commits behind".into())
        );
        status.send_modify(|status| {
            status.caught_up = true;
            status.lag = 0;
        });
        assert_eq!(check.check().await, Ok(()));
        status.send_modify(|status| status.last_error = Some("event log unavailable".into()));
        assert_eq!(check.check().await, Err("event log unavailable".into()));
    }
}
