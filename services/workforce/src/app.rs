//! Workforce's command handlers and queries: what the gRPC layer and the attendance clerk call.

use std::collections::BTreeSet;
use std::sync::Arc;

use callcenter_eventlog::{EventStore, StreamKey};
use callcenter_kit::{
    CommandHandler, CommandMeta, Loaded, Name, Outcome, PersistedEvent, TenantId, Timestamp,
};
use callcenter_platform::{ApiError, ErrorCode};

use crate::domain::attendance::{
    AgentAttendance, AttendanceCommand, AttendanceEvent, NoRefusal, PresenceMark, ShiftRecord,
    signed_in_at,
};
use crate::domain::center::{Center, CenterCommand, CenterError};
use crate::domain::headcount::{ShiftHeadcount, headcount, shifts_at};
use crate::domain::intraday::{IntradayCommand, IntradayError, IntradayPlan};
use crate::events::agent_presence;

impl From<CenterError> for ApiError {
    fn from(error: CenterError) -> Self {
        let message = error.to_string();
        match error {
            CenterError::NotDefined => {
                ApiError::new(ErrorCode::FailedPrecondition, "CENTER_NOT_DEFINED", message)
            }
            CenterError::InvalidShift { shift_id, reason } => {
                ApiError::invalid_field(format!("shifts.{shift_id}"), reason)
            }
            CenterError::Invalid { field, reason } => ApiError::invalid_field(field, reason),
            CenterError::ShiftInUse {
                shift_id,
                roster_id,
            } => ApiError::new(ErrorCode::FailedPrecondition, "SHIFT_IN_USE", message)
                .with_metadata("shift_id", shift_id.as_str())
                .with_metadata("roster_id", roster_id.as_str()),
            CenterError::UnknownShift { .. } => ApiError::invalid_field("rows", message),
            CenterError::ShiftNotOnDay { shift_id, day, .. } => ApiError::new(
                ErrorCode::FailedPrecondition,
                "SHIFT_NOT_ON_THAT_DAY",
                message,
            )
            .with_metadata("shift_id", shift_id.as_str())
            .with_metadata("day", day),
            CenterError::TeamTooLarge { .. } => ApiError::invalid_field("member_ids", message),
            CenterError::AgentInOtherTeam { agent_id, team_id } => ApiError::new(
                ErrorCode::FailedPrecondition,
                "AGENT_IN_OTHER_TEAM",
                message,
            )
            .with_metadata("agent_id", agent_id.as_str())
            .with_metadata("team_id", team_id.as_str()),
            CenterError::RosterOverlap {
                agent_id,
                roster_id,
            } => ApiError::new(ErrorCode::FailedPrecondition, "ROSTER_OVERLAP", message)
                .with_metadata("agent_id", agent_id.as_str())
                .with_metadata("roster_id", roster_id.as_str()),
            CenterError::LeaveRefused(refusal) => {
                ApiError::new(ErrorCode::FailedPrecondition, "LEAVE_RULE", message)
                    .with_metadata("rule", refusal.rule())
            }
            CenterError::SwapRefused(refusal) => {
                ApiError::new(ErrorCode::FailedPrecondition, "SWAP_RULE", message)
                    .with_metadata("rule", refusal.rule())
            }
            CenterError::RequestIdTaken { .. } => {
                ApiError::new(ErrorCode::AlreadyExists, "REQUEST_ID_TAKEN", message)
            }
            CenterError::RequestNotFound { .. } => {
                ApiError::new(ErrorCode::NotFound, "REQUEST_NOT_FOUND", message)
            }
            CenterError::AlreadyDecided { .. } => {
                ApiError::new(ErrorCode::FailedPrecondition, "ALREADY_DECIDED", message)
            }
            CenterError::ApproverRequired { approver } => {
                ApiError::new(ErrorCode::PermissionDenied, "APPROVER_REQUIRED", message)
                    .with_metadata("approver", approver.as_str())
            }
            CenterError::SwapWithSelf => ApiError::invalid_field("colleague_id", message),
        }
    }
}

impl From<IntradayError> for ApiError {
    fn from(error: IntradayError) -> Self {
        let message = error.to_string();
        match error {
            IntradayError::Invalid { field, reason } => ApiError::invalid_field(field, reason),
            IntradayError::NoPlan => {
                ApiError::new(ErrorCode::FailedPrecondition, "NO_INTRADAY_PLAN", message)
            }
        }
    }
}

impl From<NoRefusal> for ApiError {
    fn from(error: NoRefusal) -> Self {
        ApiError::internal(error.to_string())
    }
}

/// The workforce application.
#[derive(Clone, Debug)]
pub struct Workforce {
    store: Arc<dyn EventStore>,
    centers: CommandHandler<Center>,
    attendance: CommandHandler<AgentAttendance>,
    intraday: CommandHandler<IntradayPlan>,
}

impl Workforce {
    /// The application on an event log.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            centers: CommandHandler::new(Arc::clone(&store)),
            attendance: CommandHandler::new(Arc::clone(&store)),
            intraday: CommandHandler::new(Arc::clone(&store)),
            store,
        }
    }

    /// Handles a command of a center.
    pub async fn center_command(
        &self,
        meta: &CommandMeta,
        center_id: &Name,
        command: &CenterCommand,
    ) -> Result<Outcome<Center>, ApiError> {
        Ok(self.centers.handle(meta, center_id, command).await?)
    }

    /// A center as stored (`CENTER_NOT_FOUND` when it has no event).
    pub async fn center(
        &self,
        tenant: &TenantId,
        center_id: &Name,
    ) -> Result<Loaded<Center>, ApiError> {
        let loaded = self.centers.load(tenant, center_id).await?;
        if !loaded.exists() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "CENTER_NOT_FOUND",
                format!("no workforce settings for center {center_id}"),
            ));
        }
        Ok(loaded)
    }

    /// Handles a command of a queue's intraday plan.
    pub async fn intraday_command(
        &self,
        meta: &CommandMeta,
        queue_id: &Name,
        command: &IntradayCommand,
    ) -> Result<Outcome<IntradayPlan>, ApiError> {
        Ok(self.intraday.handle(meta, queue_id, command).await?)
    }

    /// A queue's intraday plan (`INTRADAY_PLAN_NOT_FOUND` when none was published).
    pub async fn intraday_plan(
        &self,
        tenant: &TenantId,
        queue_id: &Name,
    ) -> Result<Loaded<IntradayPlan>, ApiError> {
        let loaded = self.intraday.load(tenant, queue_id).await?;
        if !loaded.exists() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "INTRADAY_PLAN_NOT_FOUND",
                format!("no intraday plan for queue {queue_id}"),
            ));
        }
        Ok(loaded)
    }

    /// Records one shift's attendance of an agent (once; again is a no-op).
    pub async fn record_attendance(
        &self,
        meta: &CommandMeta,
        agent_id: &Name,
        record: ShiftRecord,
    ) -> Result<(), ApiError> {
        self.attendance
            .handle(meta, agent_id, &AttendanceCommand::Record(record))
            .await?;
        Ok(())
    }

    /// An agent's recorded shifts, oldest first.
    pub async fn attendance(
        &self,
        tenant: &TenantId,
        agent_id: &Name,
    ) -> Result<Vec<ShiftRecord>, ApiError> {
        let stream = CommandHandler::<AgentAttendance>::stream_key(tenant, agent_id);
        let events = self.store.read_stream(&stream, 0).await?;
        events
            .events
            .iter()
            .map(|event| {
                let AttendanceEvent::Recorded(record) = AttendanceEvent::decode(event)
                    .map_err(|error| ApiError::internal(error.to_string()))?;
                Ok(record)
            })
            .collect()
    }

    /// An agent's presence over time, from what routing publishes of it.
    pub async fn presence(
        &self,
        tenant: &TenantId,
        agent_id: &Name,
    ) -> Result<Vec<PresenceMark>, ApiError> {
        let stream = StreamKey::new(tenant, "routing", "presence", agent_id)
            .map_err(|error| ApiError::internal(error.to_string()))?;
        let events = self.store.read_stream(&stream, 0).await?;
        Ok(events
            .events
            .iter()
            .filter_map(|event| {
                Some(PresenceMark {
                    at: event.occurred_at.unix_millis(),
                    presence: agent_presence("workforce-headcount", event)?,
                })
            })
            .collect())
    }

    /// The headcount of a center's shifts at `at`.
    pub async fn headcount(
        &self,
        tenant: &TenantId,
        center_id: &Name,
        at: Timestamp,
    ) -> Result<Vec<ShiftHeadcount>, ApiError> {
        let center = self.center(tenant, center_id).await?.state;
        let now = at.unix_millis();
        let shifts = shifts_at(&center, now);
        let expected: BTreeSet<&Name> = shifts.iter().flat_map(|shift| &shift.agents).collect();
        let mut signed_in = BTreeSet::new();
        for agent_id in expected {
            if signed_in_at(&self.presence(tenant, agent_id).await?, now) {
                signed_in.insert(agent_id.clone());
            }
        }
        Ok(headcount(&center, &shifts, &signed_in))
    }
}
