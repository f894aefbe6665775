//! Workforce's use cases: its commands, queries, the queue forecast and the roster solver, with
//! what they need from outside behind ports ([`IntervalHistory`]). The gRPC layer and the
//! attendance clerk call them.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use callcenter_eventlog::{EventStore, StreamKey};
use callcenter_kit::{
    CommandHandler, CommandMeta, Loaded, Name, Outcome, PersistedEvent, TenantId, Timestamp,
};
use callcenter_platform::ApiError;

use crate::reasons;

use crate::domain::attendance::{
    AgentAttendance, AttendanceCommand, AttendanceEvent, NoRefusal, PresenceMark, ShiftRecord,
    signed_in_at,
};
use crate::domain::calendar::week_start;
use crate::domain::center::{Center, CenterCommand, CenterError};
use crate::domain::headcount::{ShiftHeadcount, headcount, shifts_at};
use crate::domain::intraday::{IntradayCommand, IntradayError, IntradayPlan};
use crate::domain::queue_plan::{
    IntervalRow, PlanError, PlanRequest, QueuePlan, WEEK_MS, plan_queue,
};
use crate::domain::roster::{Budget, Instance, Request, Solution, solve};
use crate::domain::rostering::{approved_leave_requests, roster_of};
use crate::events::agent_presence;

impl From<CenterError> for ApiError {
    fn from(error: CenterError) -> Self {
        let message = error.to_string();
        match error {
            CenterError::NotDefined => ApiError::new(reasons::CENTER_NOT_DEFINED, message),
            CenterError::InvalidShift { shift_id, reason } => {
                ApiError::invalid_field(format!("shifts.{shift_id}"), reason)
            }
            CenterError::Invalid { field, reason } => ApiError::invalid_field(field, reason),
            CenterError::ShiftInUse {
                shift_id,
                roster_id,
            } => ApiError::new(reasons::SHIFT_IN_USE, message)
                .with_metadata("shift_id", shift_id.as_str())
                .with_metadata("roster_id", roster_id.as_str()),
            CenterError::UnknownShift { .. } => ApiError::invalid_field("rows", message),
            CenterError::ShiftNotOnDay { shift_id, day, .. } => {
                ApiError::new(reasons::SHIFT_NOT_ON_THAT_DAY, message)
                    .with_metadata("shift_id", shift_id.as_str())
                    .with_metadata("day", day)
            }
            CenterError::TeamTooLarge { .. } => ApiError::invalid_field("member_ids", message),
            CenterError::AgentInOtherTeam { agent_id, team_id } => {
                ApiError::new(reasons::AGENT_IN_OTHER_TEAM, message)
                    .with_metadata("agent_id", agent_id.as_str())
                    .with_metadata("team_id", team_id.as_str())
            }
            CenterError::RosterOverlap {
                agent_id,
                roster_id,
            } => ApiError::new(reasons::ROSTER_OVERLAP, message)
                .with_metadata("agent_id", agent_id.as_str())
                .with_metadata("roster_id", roster_id.as_str()),
            CenterError::LeaveRefused(refusal) => {
                ApiError::new(reasons::LEAVE_RULE, message).with_metadata("rule", refusal.rule())
            }
            CenterError::SwapRefused(refusal) => {
                ApiError::new(reasons::SWAP_RULE, message).with_metadata("rule", refusal.rule())
            }
            CenterError::RequestIdTaken { .. } => ApiError::new(reasons::REQUEST_ID_TAKEN, message),
            CenterError::RequestNotFound { .. } => {
                ApiError::new(reasons::REQUEST_NOT_FOUND, message)
            }
            CenterError::AlreadyDecided { .. } => ApiError::new(reasons::ALREADY_DECIDED, message),
            CenterError::ApproverRequired { approver } => {
                ApiError::new(reasons::APPROVER_REQUIRED, message)
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
            IntradayError::NoPlan => ApiError::new(reasons::NO_INTRADAY_PLAN, message),
        }
    }
}

impl From<NoRefusal> for ApiError {
    fn from(error: NoRefusal) -> Self {
        ApiError::internal(error.to_string())
    }
}

/// Events after which a long-lived aggregate's snapshot is saved again (see
/// `CommandHandler::with_snapshots`).
const SNAPSHOT_EVERY: usize = 100;
/// The encoding of centers' snapshots (2: with the latest day that bounds what they keep).
const CENTER_SNAPSHOT_FORMAT: u32 = 2;
/// Where a queue's past intervals come from (reporting's, in production).
pub trait IntervalHistory: Send + Sync {
    /// The queue's intervals that start in `[start_ms, end_ms)`.
    fn queue_intervals(
        &self,
        queue_id: &Name,
        start_ms: i64,
        end_ms: i64,
    ) -> impl Future<Output = Result<Vec<IntervalRow>, ApiError>> + Send;
}

/// What a planner asks of the roster solver.
#[derive(Clone, Debug)]
pub struct RosterAsk {
    /// The instance to solve.
    pub instance: Instance,
    /// The solver's seed.
    pub seed: u64,
    /// The longest the solver may take.
    pub time: Duration,
    /// The center the roster is for, if any.
    pub center: Option<RosterCenter>,
}

/// The center a roster is for: its approved leave is kept, and the solution may be published to
/// it.
#[derive(Clone, Debug)]
pub struct RosterCenter {
    /// The center.
    pub center_id: Name,
    /// The instance's first day.
    pub first_day: i64,
    /// Publish the solution as this roster of the center, under this command.
    pub publish_as: Option<(Name, CommandMeta)>,
}

/// A solved roster.
#[derive(Clone, Debug)]
pub struct SolvedRoster {
    /// The instance as solved (with the center's approved leave as requests).
    pub instance: Instance,
    /// The solution.
    pub solution: Solution,
    /// The approved leave taken from the center as requests.
    pub leave: Vec<Request>,
    /// The center and roster ids and the center after the roster was published, if it was.
    pub published: Option<(Name, Name, Loaded<Center>)>,
}

impl SolvedRoster {
    /// The days of approved leave the solution keeps.
    pub fn leave_days_kept(&self) -> usize {
        self.leave
            .iter()
            .filter(|day_off| !self.solution.broken_requests.contains(day_off))
            .count()
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
            centers: CommandHandler::new(Arc::clone(&store))
                .with_snapshots(CENTER_SNAPSHOT_FORMAT, SNAPSHOT_EVERY),
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
                reasons::CENTER_NOT_FOUND,
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
                reasons::INTRADAY_PLAN_NOT_FOUND,
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

    /// This week's Monday 00:00 in the center's time at `now` (Unix milliseconds): where a
    /// queue's forecast starts.
    pub async fn week_start(
        &self,
        tenant: &TenantId,
        center_id: &Name,
        now: Timestamp,
    ) -> Result<i64, ApiError> {
        let center = self.center(tenant, center_id).await?.state;
        let offset = center.settings()?.utc_offset_minutes;
        Ok(week_start(now.unix_millis(), offset))
    }

    /// A queue's plan: its forecast from the history of its intervals before the plan's start,
    /// and the agents the targets need.
    pub async fn forecast_queue(
        &self,
        queue_id: &Name,
        request: &PlanRequest,
        history: &impl IntervalHistory,
    ) -> Result<QueuePlan, ApiError> {
        let invalid = |error: PlanError| ApiError::invalid_field("request", error.to_string());
        // Check the request before reading a year of history for it.
        request.check().map_err(invalid)?;
        let from = request.start_ms - request.history_weeks as i64 * WEEK_MS;
        let rows = history
            .queue_intervals(queue_id, from, request.start_ms)
            .await?;
        plan_queue(&rows, request).map_err(invalid)
    }

    /// Solves a roster (keeping the center's approved leave, if a center is given) on a worker
    /// thread within the time asked, and publishes it if asked.
    pub async fn solve_roster(
        &self,
        tenant: &TenantId,
        ask: RosterAsk,
    ) -> Result<SolvedRoster, ApiError> {
        let RosterAsk {
            mut instance,
            seed,
            time,
            center,
        } = ask;
        let mut leave = Vec::new();
        if let Some(center) = &center {
            let loaded = self.center(tenant, &center.center_id).await?;
            leave = approved_leave_requests(&loaded.state, &instance, center.first_day);
            instance.requests.extend(leave.iter().cloned());
        }
        let (instance, solution) = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let clock = || started.elapsed();
            let budget = Budget {
                moves: u64::MAX,
                time,
                elapsed: &clock,
            };
            let solution = solve(&instance, seed, budget);
            (instance, solution)
        })
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?;
        let solution = solution.map_err(|error| {
            ApiError::invalid_field(format!("instance.{}", error.field), error.reason)
        })?;
        let mut published = None;
        if let Some(RosterCenter {
            center_id,
            first_day,
            publish_as: Some((roster_id, meta)),
        }) = center
        {
            let roster = roster_of(&instance, &solution, first_day)
                .map_err(|reason| ApiError::invalid_field("instance", reason))?;
            let command = CenterCommand::PublishRoster {
                roster_id: roster_id.clone(),
                roster,
            };
            let outcome = self.center_command(&meta, &center_id, &command).await?;
            published = Some((center_id, roster_id, outcome.into_loaded()));
        }
        Ok(SolvedRoster {
            instance,
            solution,
            leave,
            published,
        })
    }
}
