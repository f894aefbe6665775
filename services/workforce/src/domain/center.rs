//! A center's workforce (DOMAIN.md §7): its local time and shift definitions, its teams, its
//! published rosters, and the leave and swaps its people ask for. One aggregate per center, so
//! that the rules that compare people ("no second person's vacation in the same period") are
//! decided on one consistent state.
//!
//! - **Shifts** are defined per center in its local time, such as the handbook's early
//!   08:30–17:30 and late 09:30–22:00 with lunch between 12:00 and 14:00; a shift that ends at
//!   or before its start ends the next day.
//! - **Teams**: a team leader leads at most [`MAX_TEAM_MEMBERS`] agents (the handbook's 8–12),
//!   and an agent belongs to one team of the center.
//! - **Rosters** are published for a run of days; each agent has one shift or a day off per day,
//!   and no agent is in two rosters on the same day. A roster published again replaces itself.
//! - **Leave and swaps** follow [`super::leave`]: a request breaking a rule is refused with the
//!   rule; one that passes waits for its approver (the supervisor, or the director from two
//!   days), who checks the rules again when deciding.

use std::collections::{BTreeMap, BTreeSet};

use callcenter_kit::{Aggregate, Name, Timestamp};

use super::attendance::{LunchWindow, ShiftWindow};
use super::calendar::{
    DAY_SECONDS, WEEKDAY_NAMES, Weekdays, format_day, format_time_of_day, instant, local_day,
    weekday,
};
use super::leave::{
    Approver, LeaveKind, LeaveRefusal, LeaveRequest, SwapRefusal, SwapRequest, decide_leave,
    decide_swap,
};

/// Most agents a team leader leads (the handbook: 8 to 12).
pub const MAX_TEAM_MEMBERS: usize = 12;

/// Most days one published roster covers.
pub const MAX_ROSTER_DAYS: usize = 62;

/// Most agents one published roster holds.
pub const MAX_ROSTER_AGENTS: usize = 5_000;

/// Most shifts a center defines.
pub const MAX_SHIFTS: usize = 24;

/// A lunch inside a shift: `minutes` long, taken between `from` and `to` (seconds of the day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lunch {
    /// The window's start.
    pub from: u32,
    /// The window's end.
    pub to: u32,
    /// How long the lunch is.
    pub minutes: u32,
}

/// A shift of the center, in its local time (seconds of the day).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShiftDefinition {
    /// Its id, such as `early`.
    pub shift_id: Name,
    /// When it starts.
    pub start: u32,
    /// When it ends; at or before the start: the next day.
    pub end: u32,
    /// Its lunch, if any.
    pub lunch: Option<Lunch>,
    /// The days of the week it is worked on (the handbook: some shifts Monday to Friday, some at
    /// weekends).
    pub days: Weekdays,
}

impl ShiftDefinition {
    /// Its length in seconds.
    pub fn length_seconds(&self) -> i64 {
        let (start, end) = (i64::from(self.start), i64::from(self.end));
        if end > start {
            end - start
        } else {
            end + DAY_SECONDS - start
        }
    }

    /// Seconds from the shift's start to a time of day inside it.
    fn offset_of(&self, time_of_day: u32) -> i64 {
        (i64::from(time_of_day) - i64::from(self.start)).rem_euclid(DAY_SECONDS)
    }

    /// The shift worked on a local day, as instants.
    pub fn window(&self, day: i64, utc_offset_minutes: i32) -> ShiftWindow {
        let start = instant(day, i64::from(self.start), utc_offset_minutes);
        ShiftWindow {
            start,
            end: start + self.length_seconds() * 1_000,
            lunch: self.lunch.map(|lunch| LunchWindow {
                from: start + self.offset_of(lunch.from) * 1_000,
                to: start + self.offset_of(lunch.to) * 1_000,
                allowance_ms: i64::from(lunch.minutes) * 60_000,
            }),
        }
    }

    /// What is wrong with it, if anything.
    fn check(&self) -> Result<(), CenterError> {
        let invalid = |reason: String| CenterError::InvalidShift {
            shift_id: self.shift_id.clone(),
            reason,
        };
        if let Some(lunch) = self.lunch {
            let (from, to) = (self.offset_of(lunch.from), self.offset_of(lunch.to));
            if from >= to || to > self.length_seconds() {
                return Err(invalid(format!(
                    "the lunch window {}–{} is not inside the shift",
                    format_time_of_day(lunch.from),
                    format_time_of_day(lunch.to)
                )));
            }
            if lunch.minutes == 0 || i64::from(lunch.minutes) * 60 > to - from {
                return Err(invalid(format!(
                    "a lunch of {} minutes does not fit its window",
                    lunch.minutes
                )));
            }
        }
        Ok(())
    }
}

/// The center's settings.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CenterSettings {
    /// Local time minus UTC, in minutes (Beijing: 480).
    pub utc_offset_minutes: i32,
    /// Its shifts.
    pub shifts: Vec<ShiftDefinition>,
}

impl CenterSettings {
    /// A shift by id.
    pub fn shift(&self, shift_id: &Name) -> Option<&ShiftDefinition> {
        self.shifts.iter().find(|shift| shift.shift_id == *shift_id)
    }

    /// The local day of an instant.
    pub fn day_of(&self, at: Timestamp) -> i64 {
        local_day(at.unix_millis(), self.utc_offset_minutes)
    }

    /// Whether a roster names only these shifts, each on a day of the week it is worked.
    fn check_roster(&self, roster: &Roster) -> Result<(), CenterError> {
        for row in roster.assignments.values() {
            for (index, shift_id) in row.iter().enumerate() {
                let Some(shift_id) = shift_id else {
                    continue;
                };
                let Some(shift) = self.shift(shift_id) else {
                    return Err(CenterError::UnknownShift {
                        shift_id: shift_id.clone(),
                    });
                };
                let day = roster.first_day + index as i64;
                if !shift.days.contains_day(day) {
                    return Err(CenterError::ShiftNotOnDay {
                        shift_id: shift_id.clone(),
                        day: format_day(day),
                        weekday: WEEKDAY_NAMES[weekday(day)],
                    });
                }
            }
        }
        Ok(())
    }
}

/// A team.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Team {
    /// Its team leader.
    pub leader_id: Name,
    /// Its agents.
    pub members: BTreeSet<Name>,
}

/// Where a request stands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Decision {
    /// Waiting for its approver.
    Pending,
    /// Approved.
    Approved,
    /// Rejected, with why.
    Rejected(String),
}

/// A leave request of the center.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Leave {
    /// Whose.
    pub agent_id: Name,
    /// What.
    pub request: LeaveRequest,
    /// Who approves it.
    pub approver: Approver,
    /// Where it stands.
    pub decision: Decision,
}

/// A swap of shifts between two agents of the center.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Swap {
    /// Who gives the shift away.
    pub agent_id: Name,
    /// Who works it (and is paid back).
    pub colleague_id: Name,
    /// What.
    pub request: SwapRequest,
    /// Where it stands.
    pub decision: Decision,
}

/// A published roster: per agent, each day's shift (`None`: a day off).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Roster {
    /// Its first day.
    pub first_day: i64,
    /// Per agent, the shifts of its days.
    pub assignments: BTreeMap<Name, Vec<Option<Name>>>,
}

impl Roster {
    /// Its last day.
    pub fn last_day(&self) -> i64 {
        self.first_day + self.days() as i64 - 1
    }

    /// How many days it covers.
    pub fn days(&self) -> usize {
        self.assignments.values().map(Vec::len).max().unwrap_or(0)
    }

    /// The agent's shift on a day, if rostered to work.
    pub fn shift_on(&self, agent_id: &Name, day: i64) -> Option<&Name> {
        let index = usize::try_from(day - self.first_day).ok()?;
        self.assignments.get(agent_id)?.get(index)?.as_ref()
    }

    fn covers(&self, agent_id: &Name, first_day: i64, days: usize) -> bool {
        let Some(row) = self.assignments.get(agent_id) else {
            return false;
        };
        let last = self.first_day + row.len() as i64 - 1;
        first_day <= last && self.first_day < first_day + days as i64
    }
}

/// A center's workforce.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Center {
    /// Set once defined.
    pub settings: Option<CenterSettings>,
    /// Its teams.
    pub teams: BTreeMap<Name, Team>,
    /// Its published rosters.
    pub rosters: BTreeMap<Name, Roster>,
    /// Its leave requests.
    pub leave: BTreeMap<Name, Leave>,
    /// Its swaps.
    pub swaps: BTreeMap<Name, Swap>,
    /// The newest day a leave request or swap was asked on: the center's today, as far as its
    /// history shows.
    pub latest_day: i64,
}

/// How many days after its last day a roster, a leave request or a swap stays in the center's
/// state, counted back from the center's newest request.
///
/// No rule can need one that ended longer ago, so the center holds about a year of them however
/// long it runs, and decides exactly as if it held them all: every leave starts on or after the
/// day it is asked (the vacation overlap looks at vacations ending on or after the new one's
/// start), every swap is asked before its days and its rules look only at the swaps of its own
/// month and calendar year (at most 366 days back), and a roster may not start before that
/// horizon (so no new roster can overlap one dropped). A decision or a read asked about one
/// dropped this way is answered "not found"; the log keeps it.
pub const KEPT_DAYS: i64 = 400;

/// What can be asked of a center.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CenterCommand {
    /// Defines (or redefines) its local time and shifts.
    Define(CenterSettings),
    /// Sets a team's leader and members.
    SetTeam {
        /// The team.
        team_id: Name,
        /// Its leader.
        leader_id: Name,
        /// Its agents.
        members: BTreeSet<Name>,
    },
    /// Publishes (or replaces) a roster.
    PublishRoster {
        /// The roster.
        roster_id: Name,
        /// What it holds.
        roster: Roster,
    },
    /// An agent asks for leave (or reports sick).
    RequestLeave {
        /// The request.
        leave_id: Name,
        /// Whose.
        agent_id: Name,
        /// Which kind.
        kind: LeaveKind,
        /// Its first day.
        start: i64,
        /// Half days.
        half_days: u32,
        /// Whether a certificate comes with it.
        certificate: bool,
        /// When it is asked.
        at: Timestamp,
    },
    /// The approver decides a leave request.
    DecideLeave {
        /// The request.
        leave_id: Name,
        /// Approve or reject.
        approve: bool,
        /// Why (for a rejection).
        reason: String,
        /// The highest approver the decider is.
        by: Approver,
    },
    /// An agent asks to swap a shift with a colleague.
    RequestSwap {
        /// The request.
        swap_id: Name,
        /// Who gives the shift away.
        agent_id: Name,
        /// Who works it.
        colleague_id: Name,
        /// The (first) day given away.
        day: i64,
        /// Two consecutive shifts.
        consecutive: bool,
        /// When it is paid back.
        payback_day: i64,
        /// When it is asked.
        at: Timestamp,
    },
    /// The supervisor decides a swap.
    DecideSwap {
        /// The request.
        swap_id: Name,
        /// Approve or reject.
        approve: bool,
        /// Why (for a rejection).
        reason: String,
    },
}

/// What a center records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CenterEvent {
    /// Defined or redefined.
    Defined(CenterSettings),
    /// A team set.
    TeamSet {
        /// The team.
        team_id: Name,
        /// Its leader.
        leader_id: Name,
        /// Its agents.
        members: BTreeSet<Name>,
    },
    /// A roster published.
    RosterPublished {
        /// The roster.
        roster_id: Name,
        /// What it holds.
        roster: Roster,
    },
    /// Leave asked, waiting for its approver.
    LeaveRequested {
        /// The request.
        leave_id: Name,
        /// Whose.
        agent_id: Name,
        /// What.
        request: LeaveRequest,
        /// Who approves.
        approver: Approver,
    },
    /// Leave decided.
    LeaveDecided {
        /// The request.
        leave_id: Name,
        /// Approved or not.
        approved: bool,
        /// Why it was rejected.
        reason: String,
    },
    /// A swap asked, waiting for the supervisor.
    SwapRequested {
        /// The request.
        swap_id: Name,
        /// Who gives the shift away.
        agent_id: Name,
        /// Who works it.
        colleague_id: Name,
        /// What.
        request: SwapRequest,
    },
    /// A swap decided.
    SwapDecided {
        /// The request.
        swap_id: Name,
        /// Approved or not.
        approved: bool,
        /// Why it was rejected.
        reason: String,
    },
}

/// Why a center refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CenterError {
    /// Nothing can be planned before the center's time and shifts are defined.
    #[error("the center's workforce settings are not defined")]
    NotDefined,
    /// A shift definition is wrong.
    #[error("shift {shift_id}: {reason}")]
    InvalidShift {
        /// The shift.
        shift_id: Name,
        /// What is wrong.
        reason: String,
    },
    /// Other settings are wrong.
    #[error("{field}: {reason}")]
    Invalid {
        /// Which.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A redefinition drops a shift that a roster uses.
    #[error("shift {shift_id} is used by roster {roster_id}")]
    ShiftInUse {
        /// The shift.
        shift_id: Name,
        /// The roster.
        roster_id: Name,
    },
    /// A roster names a shift the center does not have.
    #[error("the center has no shift {shift_id}")]
    UnknownShift {
        /// The shift.
        shift_id: Name,
    },
    /// A shift rostered on a day of the week it is not worked.
    #[error("shift {shift_id} is not worked on {day} ({weekday})")]
    ShiftNotOnDay {
        /// The shift.
        shift_id: Name,
        /// The day, `YYYY-MM-DD`.
        day: String,
        /// Its day of the week.
        weekday: &'static str,
    },
    /// A team of more than twelve.
    #[error("a team leader leads at most {MAX_TEAM_MEMBERS} agents (got {members})")]
    TeamTooLarge {
        /// How many were given.
        members: usize,
    },
    /// An agent is already in another team.
    #[error("agent {agent_id} is in team {team_id}")]
    AgentInOtherTeam {
        /// The agent.
        agent_id: Name,
        /// Their team.
        team_id: Name,
    },
    /// An agent already rostered on those days.
    #[error("agent {agent_id} is rostered on some of those days by roster {roster_id}")]
    RosterOverlap {
        /// The agent.
        agent_id: Name,
        /// The other roster.
        roster_id: Name,
    },
    /// A leave request breaks a rule.
    #[error(transparent)]
    LeaveRefused(#[from] LeaveRefusal),
    /// A swap breaks a rule.
    #[error(transparent)]
    SwapRefused(#[from] SwapRefusal),
    /// A request id used for another request.
    #[error("request {request_id} exists with other details")]
    RequestIdTaken {
        /// The id.
        request_id: Name,
    },
    /// No such request.
    #[error("no request {request_id}")]
    RequestNotFound {
        /// The id.
        request_id: Name,
    },
    /// Decided otherwise already.
    #[error("request {request_id} was already decided")]
    AlreadyDecided {
        /// The id.
        request_id: Name,
    },
    /// The decider may not approve this request.
    #[error("this request is approved by the {}", approver.as_str())]
    ApproverRequired {
        /// Who approves it.
        approver: Approver,
    },
    /// A swap with oneself.
    #[error("a swap is with a colleague")]
    SwapWithSelf,
}

impl Center {
    /// Its settings, or `NotDefined` before it was defined.
    pub fn settings(&self) -> Result<&CenterSettings, CenterError> {
        self.settings.as_ref().ok_or(CenterError::NotDefined)
    }

    /// The team of an agent.
    pub fn team_of(&self, agent_id: &Name) -> Option<&Name> {
        self.teams
            .iter()
            .find(|(_, team)| team.members.contains(agent_id))
            .map(|(team_id, _)| team_id)
    }

    /// The agent's shift on a local day, from the published rosters.
    pub fn rostered_shift(&self, agent_id: &Name, day: i64) -> Option<(&Name, &ShiftDefinition)> {
        let settings = self.settings.as_ref()?;
        self.rosters.iter().find_map(|(roster_id, roster)| {
            let shift_id = roster.shift_on(agent_id, day)?;
            Some((roster_id, settings.shift(shift_id)?))
        })
    }

    /// The agent's shift on a local day as it is worked: the rostered one, with approved swaps
    /// applied (the colleague works the given days, the agent works the colleague's shift on the
    /// payback day).
    pub fn worked_shift(&self, agent_id: &Name, day: i64) -> Option<(&Name, &ShiftDefinition)> {
        for swap in self
            .swaps
            .values()
            .filter(|swap| swap.decision == Decision::Approved)
        {
            let request = &swap.request;
            let given = request.day == day || (request.consecutive && request.day + 1 == day);
            match (swap.agent_id == *agent_id, swap.colleague_id == *agent_id) {
                (true, _) if given => return None,
                (_, true) if given => return self.rostered_shift(&swap.agent_id, day),
                (true, _) if request.payback_day == day => {
                    return self.rostered_shift(&swap.colleague_id, day);
                }
                (_, true) if request.payback_day == day => return None,
                _ => {}
            }
        }
        self.rostered_shift(agent_id, day)
    }

    /// Every agent who may work a shift: those of the published rosters, and the colleagues of
    /// approved swaps.
    pub fn scheduled_agents(&self) -> BTreeSet<&Name> {
        self.rosters
            .values()
            .flat_map(|roster| roster.assignments.keys())
            .chain(
                self.swaps
                    .values()
                    .filter(|swap| swap.decision == Decision::Approved)
                    .map(|swap| &swap.colleague_id),
            )
            .collect()
    }

    /// The agent's approved leave covering a local day.
    pub fn leave_on(&self, agent_id: &Name, day: i64) -> Option<&Leave> {
        self.leave.values().find(|leave| {
            leave.agent_id == *agent_id
                && leave.decision == Decision::Approved
                && leave.request.covers(day)
        })
    }

    /// Approved vacations of the people `agent_id` is compared with: their team, or the center
    /// for an agent in no team.
    fn others_vacations(&self, agent_id: &Name) -> Vec<(i64, i64)> {
        let team = self
            .team_of(agent_id)
            .and_then(|team_id| self.teams.get(team_id));
        self.leave
            .values()
            .filter(|leave| {
                leave.agent_id != *agent_id
                    && leave.request.kind == LeaveKind::Vacation
                    && leave.decision == Decision::Approved
                    && team.is_none_or(|team| team.members.contains(&leave.agent_id))
            })
            .map(|leave| (leave.request.start, leave.request.end()))
            .collect()
    }

    /// The first day the center's state still holds everything about: [`KEPT_DAYS`] before its
    /// newest request.
    pub fn horizon(&self) -> i64 {
        self.latest_day - KEPT_DAYS
    }

    /// Moves the center's latest day to `day` if it is newer, dropping the rosters, leave
    /// requests and swaps that ended before the new horizon.
    fn advance_to(&mut self, day: i64) {
        if day <= self.latest_day {
            return;
        }
        self.latest_day = day;
        let horizon = self.horizon();
        self.rosters
            .retain(|_, roster| roster.last_day() >= horizon);
        self.leave.retain(|_, leave| leave.request.end() >= horizon);
        self.swaps.retain(|_, swap| {
            let last_swapped = swap.request.day + i64::from(swap.request.consecutive);
            swap.request.payback_day.max(last_swapped) >= horizon
        });
    }

    fn approved_swaps(&self, agent_id: &Name) -> Vec<SwapRequest> {
        self.swaps
            .values()
            .filter(|swap| swap.agent_id == *agent_id && swap.decision == Decision::Approved)
            .map(|swap| swap.request)
            .collect()
    }

    fn define(&self, settings: &CenterSettings) -> Result<Vec<CenterEvent>, CenterError> {
        if settings.utc_offset_minutes.abs() > 14 * 60 {
            return Err(CenterError::Invalid {
                field: "utc_offset_minutes",
                reason: "between -840 and 840".into(),
            });
        }
        if settings.shifts.is_empty() || settings.shifts.len() > MAX_SHIFTS {
            return Err(CenterError::Invalid {
                field: "shifts",
                reason: format!("1 to {MAX_SHIFTS} shifts"),
            });
        }
        let mut seen = BTreeSet::new();
        for shift in &settings.shifts {
            if !seen.insert(&shift.shift_id) {
                return Err(CenterError::InvalidShift {
                    shift_id: shift.shift_id.clone(),
                    reason: "defined twice".into(),
                });
            }
            shift.check()?;
        }
        // The published rosters must still hold under the new shifts (ids and days of the week).
        for (roster_id, roster) in &self.rosters {
            settings.check_roster(roster).map_err(|error| match error {
                CenterError::UnknownShift { shift_id } => CenterError::ShiftInUse {
                    shift_id,
                    roster_id: roster_id.clone(),
                },
                other => other,
            })?;
        }
        if self.settings.as_ref() == Some(settings) {
            return Ok(vec![]);
        }
        Ok(vec![CenterEvent::Defined(settings.clone())])
    }

    fn set_team(
        &self,
        team_id: &Name,
        leader_id: &Name,
        members: &BTreeSet<Name>,
    ) -> Result<Vec<CenterEvent>, CenterError> {
        if members.len() > MAX_TEAM_MEMBERS {
            return Err(CenterError::TeamTooLarge {
                members: members.len(),
            });
        }
        if members.contains(leader_id) {
            return Err(CenterError::Invalid {
                field: "members",
                reason: "the team leader leads the team, not in it".into(),
            });
        }
        for agent_id in members {
            if let Some(other) = self.team_of(agent_id).filter(|other| *other != team_id) {
                return Err(CenterError::AgentInOtherTeam {
                    agent_id: agent_id.clone(),
                    team_id: other.clone(),
                });
            }
        }
        let team = Team {
            leader_id: leader_id.clone(),
            members: members.clone(),
        };
        if self.teams.get(team_id) == Some(&team) {
            return Ok(vec![]);
        }
        Ok(vec![CenterEvent::TeamSet {
            team_id: team_id.clone(),
            leader_id: leader_id.clone(),
            members: members.clone(),
        }])
    }

    fn publish(&self, roster_id: &Name, roster: &Roster) -> Result<Vec<CenterEvent>, CenterError> {
        let settings = self.settings()?;
        let days = roster.days();
        if roster.assignments.is_empty() || days == 0 {
            return Err(CenterError::Invalid {
                field: "rows",
                reason: "at least one agent and one day".into(),
            });
        }
        if days > MAX_ROSTER_DAYS || roster.assignments.len() > MAX_ROSTER_AGENTS {
            return Err(CenterError::Invalid {
                field: "rows",
                reason: format!("at most {MAX_ROSTER_DAYS} days and {MAX_ROSTER_AGENTS} agents"),
            });
        }
        if roster.first_day < self.horizon() {
            return Err(roster_before_horizon());
        }
        settings.check_roster(roster)?;
        for (agent_id, row) in &roster.assignments {
            if row.len() != days {
                return Err(CenterError::Invalid {
                    field: "rows",
                    reason: format!("agent {agent_id} has {} days, not {days}", row.len()),
                });
            }
            if let Some((other_id, _)) = self
                .rosters
                .iter()
                .filter(|(other_id, _)| *other_id != roster_id)
                .find(|(_, other)| other.covers(agent_id, roster.first_day, days))
            {
                return Err(CenterError::RosterOverlap {
                    agent_id: agent_id.clone(),
                    roster_id: other_id.clone(),
                });
            }
        }
        if self.rosters.get(roster_id) == Some(roster) {
            return Ok(vec![]);
        }
        Ok(vec![CenterEvent::RosterPublished {
            roster_id: roster_id.clone(),
            roster: roster.clone(),
        }])
    }

    fn decide_leave_request(
        &self,
        leave_id: &Name,
        approve: bool,
        reason: &str,
        by: Approver,
    ) -> Result<Vec<CenterEvent>, CenterError> {
        let leave = self
            .leave
            .get(leave_id)
            .ok_or_else(|| CenterError::RequestNotFound {
                request_id: leave_id.clone(),
            })?;
        if !still_to_decide(&leave.decision, approve, leave_id)? {
            return Ok(vec![]);
        }
        if leave.approver == Approver::Director && by == Approver::Supervisor {
            return Err(CenterError::ApproverRequired {
                approver: leave.approver,
            });
        }
        if approve {
            // Another vacation may have been approved since it was asked.
            decide_leave(&leave.request, &self.others_vacations(&leave.agent_id))?;
        }
        Ok(vec![CenterEvent::LeaveDecided {
            leave_id: leave_id.clone(),
            approved: approve,
            reason: rejection_reason(approve, reason),
        }])
    }

    fn decide_swap_request(
        &self,
        swap_id: &Name,
        approve: bool,
        reason: &str,
    ) -> Result<Vec<CenterEvent>, CenterError> {
        let swap = self
            .swaps
            .get(swap_id)
            .ok_or_else(|| CenterError::RequestNotFound {
                request_id: swap_id.clone(),
            })?;
        if !still_to_decide(&swap.decision, approve, swap_id)? {
            return Ok(vec![]);
        }
        if approve {
            decide_swap(&swap.request, &self.approved_swaps(&swap.agent_id))?;
        }
        Ok(vec![CenterEvent::SwapDecided {
            swap_id: swap_id.clone(),
            approved: approve,
            reason: rejection_reason(approve, reason),
        }])
    }
}

impl Aggregate for Center {
    const CONTEXT: &'static str = "workforce";
    const TYPE: &'static str = "center";
    type Command = CenterCommand;
    type Event = CenterEvent;
    type Error = CenterError;

    fn decide(&self, command: &CenterCommand) -> Result<Vec<CenterEvent>, CenterError> {
        match command {
            CenterCommand::Define(settings) => self.define(settings),
            CenterCommand::SetTeam {
                team_id,
                leader_id,
                members,
            } => self.set_team(team_id, leader_id, members),
            CenterCommand::PublishRoster { roster_id, roster } => self.publish(roster_id, roster),
            CenterCommand::RequestLeave {
                leave_id,
                agent_id,
                kind,
                start,
                half_days,
                certificate,
                at,
            } => {
                let request = LeaveRequest {
                    kind: *kind,
                    start: *start,
                    half_days: *half_days,
                    asked_on: self.settings()?.day_of(*at),
                    certificate: *certificate,
                };
                if let Some(existing) = self.leave.get(leave_id) {
                    // A retry asks the same again (on any day).
                    let same = existing.agent_id == *agent_id
                        && LeaveRequest {
                            asked_on: existing.request.asked_on,
                            ..request
                        } == existing.request;
                    return if same {
                        Ok(vec![])
                    } else {
                        Err(CenterError::RequestIdTaken {
                            request_id: leave_id.clone(),
                        })
                    };
                }
                let approver = decide_leave(&request, &self.others_vacations(agent_id))?;
                Ok(vec![CenterEvent::LeaveRequested {
                    leave_id: leave_id.clone(),
                    agent_id: agent_id.clone(),
                    request,
                    approver,
                }])
            }
            CenterCommand::DecideLeave {
                leave_id,
                approve,
                reason,
                by,
            } => self.decide_leave_request(leave_id, *approve, reason, *by),
            CenterCommand::RequestSwap {
                swap_id,
                agent_id,
                colleague_id,
                day,
                consecutive,
                payback_day,
                at,
            } => {
                if agent_id == colleague_id {
                    return Err(CenterError::SwapWithSelf);
                }
                let request = SwapRequest {
                    day: *day,
                    consecutive: *consecutive,
                    payback_day: *payback_day,
                    asked_on: self.settings()?.day_of(*at),
                };
                if let Some(existing) = self.swaps.get(swap_id) {
                    let same = existing.agent_id == *agent_id
                        && existing.colleague_id == *colleague_id
                        && SwapRequest {
                            asked_on: existing.request.asked_on,
                            ..request
                        } == existing.request;
                    return if same {
                        Ok(vec![])
                    } else {
                        Err(CenterError::RequestIdTaken {
                            request_id: swap_id.clone(),
                        })
                    };
                }
                decide_swap(&request, &self.approved_swaps(agent_id))?;
                Ok(vec![CenterEvent::SwapRequested {
                    swap_id: swap_id.clone(),
                    agent_id: agent_id.clone(),
                    colleague_id: colleague_id.clone(),
                    request,
                }])
            }
            CenterCommand::DecideSwap {
                swap_id,
                approve,
                reason,
            } => self.decide_swap_request(swap_id, *approve, reason),
        }
    }

    fn evolve(&mut self, event: &CenterEvent) {
        match event {
            CenterEvent::Defined(settings) => self.settings = Some(settings.clone()),
            CenterEvent::TeamSet {
                team_id,
                leader_id,
                members,
            } => {
                self.teams.insert(
                    team_id.clone(),
                    Team {
                        leader_id: leader_id.clone(),
                        members: members.clone(),
                    },
                );
            }
            CenterEvent::RosterPublished { roster_id, roster } => {
                self.rosters.insert(roster_id.clone(), roster.clone());
            }
            CenterEvent::LeaveRequested {
                leave_id,
                agent_id,
                request,
                approver,
            } => {
                self.advance_to(request.asked_on);
                self.leave.insert(
                    leave_id.clone(),
                    Leave {
                        agent_id: agent_id.clone(),
                        request: *request,
                        approver: *approver,
                        decision: Decision::Pending,
                    },
                );
            }
            CenterEvent::LeaveDecided {
                leave_id,
                approved,
                reason,
            } => {
                if let Some(leave) = self.leave.get_mut(leave_id) {
                    leave.decision = decision(*approved, reason);
                }
            }
            CenterEvent::SwapRequested {
                swap_id,
                agent_id,
                colleague_id,
                request,
            } => {
                self.advance_to(request.asked_on);
                self.swaps.insert(
                    swap_id.clone(),
                    Swap {
                        agent_id: agent_id.clone(),
                        colleague_id: colleague_id.clone(),
                        request: *request,
                        decision: Decision::Pending,
                    },
                );
            }
            CenterEvent::SwapDecided {
                swap_id,
                approved,
                reason,
            } => {
                if let Some(swap) = self.swaps.get_mut(swap_id) {
                    swap.decision = decision(*approved, reason);
                }
            }
        }
    }
}

/// A roster starting before the center's horizon (see [`KEPT_DAYS`]).
fn roster_before_horizon() -> CenterError {
    CenterError::Invalid {
        field: "first_day",
        reason: format!(
            "a roster starts at most {KEPT_DAYS} days before the center's newest leave or swap request"
        ),
    }
}

/// Whether a request still waits for this decision: `false` when it was decided the same way
/// (a retry), an error when it was decided otherwise.
fn still_to_decide(
    decision: &Decision,
    approve: bool,
    request_id: &Name,
) -> Result<bool, CenterError> {
    match (decision, approve) {
        (Decision::Pending, _) => Ok(true),
        (Decision::Approved, true) | (Decision::Rejected(_), false) => Ok(false),
        _ => Err(CenterError::AlreadyDecided {
            request_id: request_id.clone(),
        }),
    }
}

/// The reason a decision keeps: only a rejection's.
fn rejection_reason(approve: bool, reason: &str) -> String {
    if approve {
        String::new()
    } else {
        reason.to_owned()
    }
}

fn decision(approved: bool, reason: &str) -> Decision {
    if approved {
        Decision::Approved
    } else {
        Decision::Rejected(reason.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{given, name};

    use super::super::calendar::{DAY_SECONDS, parse_day, parse_time_of_day};
    use super::*;

    fn time(text: &str) -> u32 {
        parse_time_of_day(text).expect("a time")
    }

    /// The handbook's shifts: early 08:30–17:30, late 09:30–22:00 with lunch between 12:00 and
    /// 14:00.
    fn handbook() -> CenterSettings {
        CenterSettings {
            utc_offset_minutes: 480,
            shifts: vec![
                ShiftDefinition {
                    shift_id: name("early"),
                    start: time("08:30"),
                    end: time("17:30"),
                    lunch: None,
                    days: Weekdays::ALL,
                },
                ShiftDefinition {
                    shift_id: name("late"),
                    start: time("09:30"),
                    end: time("22:00"),
                    lunch: Some(Lunch {
                        from: time("12:00"),
                        to: time("14:00"),
                        minutes: 60,
                    }),
                    days: Weekdays::ALL,
                },
            ],
        }
    }

    fn day(text: &str) -> i64 {
        parse_day(text).expect("a day")
    }

    /// Noon in Beijing on a day.
    fn noon(text: &str) -> Timestamp {
        Timestamp::from_unix_millis(instant(day(text), 12 * 3_600, 480))
    }

    fn defined() -> CenterEvent {
        CenterEvent::Defined(handbook())
    }

    fn team(members: &[&str]) -> CenterEvent {
        CenterEvent::TeamSet {
            team_id: name("team-1"),
            leader_id: name("leader"),
            members: members.iter().map(|m| name(m)).collect(),
        }
    }

    #[test]
    fn shifts_are_the_centers_local_hours_and_a_night_shift_ends_the_next_day() {
        let late = &handbook().shifts[1];
        let window = late.window(day("2026-12-01"), 480);
        // 09:30 in Beijing is 01:30 UTC.
        assert_eq!(
            window.start,
            (day("2026-12-01") * DAY_SECONDS + 5_400) * 1_000
        );
        assert_eq!(window.end - window.start, 45_000_000);
        let lunch = window.lunch.expect("a lunch");
        assert_eq!(lunch.from - window.start, 150 * 60_000);
        assert_eq!(lunch.allowance_ms, 60 * 60_000);
        let night = ShiftDefinition {
            shift_id: name("night"),
            start: time("22:00"),
            end: time("06:00"),
            lunch: None,
            days: Weekdays::ALL,
        };
        assert_eq!(night.length_seconds(), 8 * 3_600);
        let mut bad = handbook();
        bad.shifts[1].lunch = Some(Lunch {
            from: time("07:00"),
            to: time("08:00"),
            minutes: 30,
        });
        assert!(matches!(
            given::<Center>(vec![])
                .when(CenterCommand::Define(bad))
                .then_refused(),
            CenterError::InvalidShift { shift_id, .. } if shift_id.as_str() == "late"
        ));
        given::<Center>(vec![])
            .when(CenterCommand::Define(handbook()))
            .then([defined()]);
    }

    #[test]
    fn a_team_leader_leads_at_most_twelve_agents_each_in_one_team() {
        let thirteen: BTreeSet<Name> = (1..=13).map(|i| name(&format!("a{i}"))).collect();
        given::<Center>(vec![defined()])
            .when(CenterCommand::SetTeam {
                team_id: name("team-1"),
                leader_id: name("leader"),
                members: thirteen,
            })
            .then_error(CenterError::TeamTooLarge { members: 13 });
        given::<Center>(vec![defined(), team(&["a1", "a2"])])
            .when(CenterCommand::SetTeam {
                team_id: name("team-2"),
                leader_id: name("leader-2"),
                members: [name("a2"), name("a3")].into(),
            })
            .then_error(CenterError::AgentInOtherTeam {
                agent_id: name("a2"),
                team_id: name("team-1"),
            });
    }

    fn roster(first_day: &str, rows: &[(&str, &[&str])]) -> Roster {
        Roster {
            first_day: day(first_day),
            assignments: rows
                .iter()
                .map(|(agent, shifts)| {
                    let row = shifts
                        .iter()
                        .map(|shift| (*shift != "off").then(|| name(shift)))
                        .collect();
                    (name(agent), row)
                })
                .collect(),
        }
    }

    #[test]
    fn a_roster_names_only_the_centers_shifts_and_no_agent_twice_on_a_day() {
        let december = roster("2026-12-01", &[("a1", &["early", "late", "off"])]);
        let published = given::<Center>(vec![defined()])
            .when(CenterCommand::PublishRoster {
                roster_id: name("december"),
                roster: december.clone(),
            })
            .then([CenterEvent::RosterPublished {
                roster_id: name("december"),
                roster: december.clone(),
            }]);
        let (roster_id, shift) = published
            .rostered_shift(&name("a1"), day("2026-12-02"))
            .expect("rostered");
        assert_eq!(
            (roster_id.as_str(), shift.shift_id.as_str()),
            ("december", "late")
        );
        assert!(
            published
                .rostered_shift(&name("a1"), day("2026-12-03"))
                .is_none()
        );

        let history = vec![
            defined(),
            CenterEvent::RosterPublished {
                roster_id: name("december"),
                roster: december,
            },
        ];
        given::<Center>(history.clone())
            .when(CenterCommand::PublishRoster {
                roster_id: name("other"),
                roster: roster("2026-12-03", &[("a1", &["early"])]),
            })
            .then_error(CenterError::RosterOverlap {
                agent_id: name("a1"),
                roster_id: name("december"),
            });
        given::<Center>(history.clone())
            .when(CenterCommand::PublishRoster {
                roster_id: name("other"),
                roster: roster("2026-12-04", &[("a1", &["night"])]),
            })
            .then_error(CenterError::UnknownShift {
                shift_id: name("night"),
            });
        let mut without_late = handbook();
        without_late.shifts.pop();
        given::<Center>(history)
            .when(CenterCommand::Define(without_late))
            .then_error(CenterError::ShiftInUse {
                shift_id: name("late"),
                roster_id: name("december"),
            });
        given::<Center>(vec![])
            .when(CenterCommand::PublishRoster {
                roster_id: name("december"),
                roster: roster("2026-12-01", &[("a1", &["early"])]),
            })
            .then_error(CenterError::NotDefined);
    }

    #[test]
    fn an_approved_swap_changes_who_works_the_shift_and_the_payback_day() {
        let december = roster(
            "2026-12-01",
            &[
                ("a1", &["early", "off", "late"]),
                ("a2", &["late", "early", "off"]),
            ],
        );
        let mut history = vec![
            defined(),
            CenterEvent::RosterPublished {
                roster_id: name("december"),
                roster: december,
            },
        ];
        let (requested, _) = given::<Center>(history.clone())
            .when(CenterCommand::RequestSwap {
                swap_id: name("w1"),
                agent_id: name("a1"),
                colleague_id: name("a2"),
                day: day("2026-12-01"),
                consecutive: false,
                payback_day: day("2026-12-02"),
                at: noon("2026-11-20"),
            })
            .accepted();
        history.extend(requested);
        let pending = Center::replay(&history);
        let shift = |center: &Center, agent: &str, on: &str| {
            center
                .worked_shift(&name(agent), day(on))
                .map(|(_, shift)| shift.shift_id.to_string())
        };
        assert_eq!(
            shift(&pending, "a1", "2026-12-01").as_deref(),
            Some("early")
        );
        history.push(CenterEvent::SwapDecided {
            swap_id: name("w1"),
            approved: true,
            reason: String::new(),
        });
        let approved = Center::replay(&history);
        // a2 works a1's early shift; a1 pays it back on a2's early shift the day after.
        assert_eq!(shift(&approved, "a1", "2026-12-01"), None);
        assert_eq!(
            shift(&approved, "a2", "2026-12-01").as_deref(),
            Some("early")
        );
        assert_eq!(
            shift(&approved, "a1", "2026-12-02").as_deref(),
            Some("early")
        );
        assert_eq!(shift(&approved, "a2", "2026-12-02"), None);
        assert_eq!(
            shift(&approved, "a1", "2026-12-03").as_deref(),
            Some("late")
        );
    }

    #[test]
    fn a_shift_of_the_weekend_pattern_is_not_rostered_on_a_weekday() {
        // The handbook: agents work early and late Monday to Friday, and a middle shift too at
        // weekends.
        let mut settings = handbook();
        settings.shifts.push(ShiftDefinition {
            shift_id: name("middle"),
            start: time("08:30"),
            end: time("17:30"),
            lunch: None,
            days: Weekdays::parse(&["sat", "sun"]).expect("days"),
        });
        let defined = CenterEvent::Defined(settings);
        // 2026-12-05 is a Saturday.
        given::<Center>(vec![defined.clone()])
            .when(CenterCommand::PublishRoster {
                roster_id: name("weekend"),
                roster: roster("2026-12-05", &[("a1", &["middle", "middle"])]),
            })
            .accepted();
        given::<Center>(vec![defined])
            .when(CenterCommand::PublishRoster {
                roster_id: name("weekend"),
                roster: roster("2026-12-06", &[("a1", &["middle", "middle"])]),
            })
            .then_error(CenterError::ShiftNotOnDay {
                shift_id: name("middle"),
                day: "2026-12-07".into(),
                weekday: "mon",
            });
        // Nor can a redefinition move a rostered shift off its days.
        let mut weekdays_only = handbook();
        weekdays_only.shifts[0].days =
            Weekdays::parse(&["mon", "tue", "wed", "thu", "fri"]).expect("days");
        given::<Center>(vec![
            CenterEvent::Defined(handbook()),
            CenterEvent::RosterPublished {
                roster_id: name("weekend"),
                roster: roster("2026-12-05", &[("a1", &["early"])]),
            },
        ])
        .when(CenterCommand::Define(weekdays_only))
        .then_error(CenterError::ShiftNotOnDay {
            shift_id: name("early"),
            day: "2026-12-05".into(),
            weekday: "sat",
        });
    }

    fn vacation(leave_id: &str, agent: &str, start: &str, asked: &str) -> CenterCommand {
        CenterCommand::RequestLeave {
            leave_id: name(leave_id),
            agent_id: name(agent),
            kind: LeaveKind::Vacation,
            start: day(start),
            half_days: 6,
            certificate: false,
            at: noon(asked),
        }
    }

    fn decide(leave_id: &str, approve: bool, by: Approver) -> CenterCommand {
        CenterCommand::DecideLeave {
            leave_id: name(leave_id),
            approve,
            reason: if approve { "" } else { "busy month" }.into(),
            by,
        }
    }

    #[test]
    fn no_second_persons_vacation_in_the_same_period_is_approved_in_a_team() {
        let (events, _) = given::<Center>(vec![defined(), team(&["a1", "a2"])])
            .when(vacation("v1", "a1", "2027-01-10", "2026-12-01"))
            .accepted();
        let CenterEvent::LeaveRequested { approver, .. } = &events[0] else {
            panic!("requested");
        };
        // Three days: the director approves.
        assert_eq!(*approver, Approver::Director);
        let mut history = vec![defined(), team(&["a1", "a2"]), events[0].clone()];
        given::<Center>(history.clone())
            .when(decide("v1", true, Approver::Supervisor))
            .then_error(CenterError::ApproverRequired {
                approver: Approver::Director,
            });
        // a2 asks for an overlapping vacation before a1's is approved: it waits...
        let (asked, _) = given::<Center>(history.clone())
            .when(vacation("v2", "a2", "2027-01-12", "2026-12-01"))
            .accepted();
        let (approved, _) = given::<Center>(history.clone())
            .when(decide("v1", true, Approver::Director))
            .accepted();
        history.extend(approved);
        // ...and cannot be asked after, nor approved once a1's is.
        given::<Center>(history.clone())
            .when(vacation("v3", "a2", "2027-01-12", "2026-12-01"))
            .then_error(CenterError::LeaveRefused(LeaveRefusal::VacationOverlap {
                from: day("2027-01-10"),
                to: day("2027-01-12"),
            }));
        history.extend(asked);
        let refusal = given::<Center>(history.clone())
            .when(decide("v2", true, Approver::Director))
            .then_refused();
        assert!(matches!(
            refusal,
            CenterError::LeaveRefused(LeaveRefusal::VacationOverlap { .. })
        ));
        // Another team's vacation does not count.
        history.push(CenterEvent::TeamSet {
            team_id: name("team-2"),
            leader_id: name("leader-2"),
            members: [name("b1")].into(),
        });
        given::<Center>(history)
            .when(vacation("v4", "b1", "2027-01-12", "2026-12-01"))
            .accepted();
    }

    #[test]
    fn leave_is_approved_once_and_counts_on_its_days() {
        let sick = CenterCommand::RequestLeave {
            leave_id: name("s1"),
            agent_id: name("a1"),
            kind: LeaveKind::Sick,
            start: day("2026-12-02"),
            half_days: 2,
            certificate: true,
            at: noon("2026-12-02"),
        };
        let (requested, _) = given::<Center>(vec![defined()])
            .when(sick.clone())
            .accepted();
        let mut history = vec![defined()];
        history.extend(requested);
        // The same request again is a no-op.
        given::<Center>(history.clone()).when(sick).then([]);
        let approved = given::<Center>(history.clone())
            .when(decide("s1", true, Approver::Supervisor))
            .then([CenterEvent::LeaveDecided {
                leave_id: name("s1"),
                approved: true,
                reason: String::new(),
            }]);
        assert!(approved.leave_on(&name("a1"), day("2026-12-02")).is_some());
        assert!(approved.leave_on(&name("a1"), day("2026-12-03")).is_none());
        history.push(CenterEvent::LeaveDecided {
            leave_id: name("s1"),
            approved: true,
            reason: String::new(),
        });
        given::<Center>(history)
            .when(decide("s1", false, Approver::Director))
            .then_error(CenterError::AlreadyDecided {
                request_id: name("s1"),
            });
        // Sick leave reported the day after it started breaks a rule, and says which.
        given::<Center>(vec![defined()])
            .when(CenterCommand::RequestLeave {
                leave_id: name("s2"),
                agent_id: name("a1"),
                kind: LeaveKind::Sick,
                start: day("2026-12-01"),
                half_days: 2,
                certificate: true,
                at: noon("2026-12-02"),
            })
            .then_error(CenterError::LeaveRefused(LeaveRefusal::SickReportedLate));
    }

    #[test]
    fn at_most_one_swapped_shift_a_month_paid_back_within_it() {
        let swap = |swap_id: &str, day_text: &str, payback: &str| CenterCommand::RequestSwap {
            swap_id: name(swap_id),
            agent_id: name("a1"),
            colleague_id: name("a2"),
            day: day(day_text),
            consecutive: false,
            payback_day: day(payback),
            at: noon("2026-12-01"),
        };
        let (first, _) = given::<Center>(vec![defined()])
            .when(swap("w1", "2026-12-10", "2026-12-20"))
            .accepted();
        let mut history = vec![defined()];
        history.extend(first);
        history.push(CenterEvent::SwapDecided {
            swap_id: name("w1"),
            approved: true,
            reason: String::new(),
        });
        given::<Center>(history.clone())
            .when(swap("w2", "2026-12-12", "2026-12-22"))
            .then_error(CenterError::SwapRefused(SwapRefusal::OnePerMonth));
        given::<Center>(history.clone())
            .when(swap("w2", "2027-01-12", "2027-02-02"))
            .then_error(CenterError::SwapRefused(SwapRefusal::PaybackInMonth));
        given::<Center>(history)
            .when(swap("w2", "2027-01-12", "2027-01-22"))
            .accepted();
        given::<Center>(vec![defined()])
            .when(CenterCommand::RequestSwap {
                swap_id: name("w3"),
                agent_id: name("a1"),
                colleague_id: name("a1"),
                day: day("2026-12-10"),
                consecutive: false,
                payback_day: day("2026-12-11"),
                at: noon("2026-12-01"),
            })
            .then_error(CenterError::SwapWithSelf);
    }

    /// The platform's own rule beside the handbook's swap rules: a swap is asked before its days;
    /// a swapped shift already worked is refused with its rule.
    #[test]
    fn a_swap_is_asked_before_its_days() {
        let swap = |day_text: &str, payback: &str| CenterCommand::RequestSwap {
            swap_id: name("w1"),
            agent_id: name("a1"),
            colleague_id: name("a2"),
            day: day(day_text),
            consecutive: false,
            payback_day: day(payback),
            at: noon("2026-12-10"),
        };
        given::<Center>(vec![defined()])
            .when(swap("2026-12-09", "2026-12-20"))
            .then_error(CenterError::SwapRefused(SwapRefusal::DayPassed));
        given::<Center>(vec![defined()])
            .when(swap("2026-12-20", "2026-12-09"))
            .then_error(CenterError::SwapRefused(SwapRefusal::DayPassed));
        given::<Center>(vec![defined()])
            .when(swap("2026-12-10", "2026-12-20"))
            .accepted();
    }

    /// The center keeps the rosters, leave and swaps its rules can still need: those that ended
    /// more than [`KEPT_DAYS`] before its latest request leave its state, and every decision
    /// comes out as with the whole history.
    #[test]
    fn rosters_leave_and_swaps_no_rule_can_need_leave_the_center_state() {
        let vacation =
            |leave_id: &str, agent_id: &str, start: &str, at: &str| CenterCommand::RequestLeave {
                leave_id: name(leave_id),
                agent_id: name(agent_id),
                kind: LeaveKind::Vacation,
                start: day(start),
                half_days: 10,
                certificate: false,
                at: noon(at),
            };
        let swap = |swap_id: &str, day_text: &str, at: &str| CenterCommand::RequestSwap {
            swap_id: name(swap_id),
            agent_id: name("a1"),
            colleague_id: name("a2"),
            day: day(day_text),
            consecutive: false,
            payback_day: day(day_text) + 1,
            at: noon(at),
        };
        let approve = |leave_id: &str| CenterEvent::LeaveDecided {
            leave_id: name(leave_id),
            approved: true,
            reason: String::new(),
        };
        let june = roster("2026-06-01", &[("a1", &["early", "late"])]);
        let mut history = vec![
            defined(),
            team(&["a1", "a2"]),
            CenterEvent::RosterPublished {
                roster_id: name("june"),
                roster: june.clone(),
            },
        ];
        let run = |history: &mut Vec<CenterEvent>, command: CenterCommand| {
            let (events, _) = given::<Center>(history.clone()).when(command).accepted();
            history.extend(events);
        };
        // A vacation and a swap in 2026.
        run(
            &mut history,
            vacation("v1", "a1", "2026-08-03", "2026-06-01"),
        );
        history.push(approve("v1"));
        run(&mut history, swap("w1", "2026-06-10", "2026-06-01"));
        history.push(CenterEvent::SwapDecided {
            swap_id: name("w1"),
            approved: true,
            reason: String::new(),
        });
        // Still needed half a year on: a colleague's vacation over the same days is refused.
        given::<Center>(history.clone())
            .when(vacation("v2", "a2", "2026-08-05", "2026-06-20"))
            .then_error(CenterError::LeaveRefused(LeaveRefusal::VacationOverlap {
                from: day("2026-08-03"),
                to: day("2026-08-07"),
            }));
        // A request asked more than KEPT_DAYS after both ended drops them.
        run(
            &mut history,
            vacation("v3", "a2", "2027-11-01", "2027-09-20"),
        );
        let center = Center::replay(&history);
        assert_eq!(center.latest_day, day("2027-09-20"));
        assert_eq!(
            center.leave.keys().cloned().collect::<Vec<_>>(),
            vec![name("v3")]
        );
        assert!(center.swaps.is_empty());
        assert!(center.rosters.is_empty());
        // No roster starts before the horizon, so none can overlap one dropped; a shift the
        // dropped roster used may be redefined.
        given::<Center>(history.clone())
            .when(CenterCommand::PublishRoster {
                roster_id: name("june-again"),
                roster: june,
            })
            .then_error(roster_before_horizon());
        let mut early_only = handbook();
        early_only
            .shifts
            .retain(|shift| shift.shift_id == name("early"));
        given::<Center>(history.clone())
            .when(CenterCommand::Define(early_only))
            .accepted();
        given::<Center>(history.clone())
            .when(CenterCommand::PublishRoster {
                roster_id: name("october"),
                roster: roster("2027-10-01", &[("a1", &["early"])]),
            })
            .accepted();
        // A decision about a dropped request is answered "not found"; new ones are decided as
        // with the whole history.
        given::<Center>(history.clone())
            .when(decide("v1", false, Approver::Director))
            .then_error(CenterError::RequestNotFound {
                request_id: name("v1"),
            });
        given::<Center>(history.clone())
            .when(swap("w2", "2027-10-12", "2027-09-20"))
            .accepted();
        // A snapshot of the bounded state decides as its replay does.
        let snapshot: Center =
            serde_json::from_value(serde_json::to_value(&center).expect("encodes"))
                .expect("decodes");
        assert_eq!(snapshot, center);
    }

    /// Ten years of a 50-agent center (a roster every 30 days, a leave request and a swap every
    /// day) leave it no bigger than its second year did.
    #[test]
    fn a_center_that_runs_for_years_holds_about_a_year_of_rosters_and_requests() {
        let first = day("2026-01-05");
        let mut center = Center::replay(&[defined()]);
        let mut sizes = Vec::new();
        for offset in 0..(10 * 365) {
            let today = first + offset;
            let agent = name(&format!("a{}", offset % 50));
            if offset % 30 == 0 {
                center.evolve(&CenterEvent::RosterPublished {
                    roster_id: name(&format!("r{offset}")),
                    roster: Roster {
                        first_day: today + 30,
                        assignments: (0..50)
                            .map(|index| {
                                (name(&format!("a{index}")), vec![Some(name("early")); 30])
                            })
                            .collect(),
                    },
                });
            }
            center.evolve(&CenterEvent::LeaveRequested {
                leave_id: name(&format!("l{offset}")),
                agent_id: agent.clone(),
                request: LeaveRequest {
                    kind: LeaveKind::Personal,
                    start: today + 3,
                    half_days: 2,
                    asked_on: today,
                    certificate: false,
                },
                approver: Approver::Director,
            });
            center.evolve(&CenterEvent::SwapRequested {
                swap_id: name(&format!("w{offset}")),
                agent_id: agent,
                colleague_id: name("a99"),
                request: SwapRequest {
                    day: today + 5,
                    consecutive: false,
                    payback_day: today + 6,
                    asked_on: today,
                },
            });
            if (offset + 1) % 365 == 0 {
                sizes.push(serde_json::to_vec(&center).expect("encodes").len());
            }
        }
        assert!(center.leave.len() <= (KEPT_DAYS + 10) as usize);
        assert!(center.swaps.len() <= (KEPT_DAYS + 10) as usize);
        assert!(
            center.rosters.len() <= 16,
            "{} rosters",
            center.rosters.len()
        );
        assert!(
            sizes[9] <= sizes[1] * 11 / 10,
            "snapshot bytes at the end of each year: {sizes:?}"
        );
    }
}
