//! The headcount at the shift start (DOMAIN.md §7, floor control): seats are assigned an hour
//! before a shift, and at sign-in every team leader reports the expected and actual headcount
//! and who is missing and why. Pure: the caller says who is signed in.

use std::collections::{BTreeMap, BTreeSet};

use callcenter_kit::Name;

use super::attendance::ARRIVAL_WINDOW_MS;
use super::center::{Center, Decision, ShiftDefinition};

/// An agent rostered for a shift, not signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingAgent {
    /// Who.
    pub agent_id: Name,
    /// Their team.
    pub team_id: Option<Name>,
    /// Why, as far as the center knows.
    pub why: String,
}

/// One team's count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamCount {
    /// The team (`None`: agents in no team).
    pub team_id: Option<Name>,
    /// Its leader.
    pub leader_id: Option<Name>,
    /// Rostered.
    pub expected: u32,
    /// Signed in.
    pub present: u32,
}

/// One shift's count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftHeadcount {
    /// The shift.
    pub shift_id: Name,
    /// Its local day.
    pub day: i64,
    /// When it starts (Unix milliseconds).
    pub start: i64,
    /// Rostered.
    pub expected: u32,
    /// Signed in.
    pub present: u32,
    /// Who is missing, and why.
    pub missing: Vec<MissingAgent>,
    /// Per team.
    pub teams: Vec<TeamCount>,
}

/// A shift that starts within the hour or is under way, with the agents who work it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftUnderWay<'a> {
    /// Its local day.
    pub day: i64,
    /// The shift.
    pub shift: &'a ShiftDefinition,
    /// When it starts (Unix milliseconds).
    pub start: i64,
    /// Who works it (rostered, with approved swaps applied).
    pub agents: Vec<Name>,
}

/// The shifts that start within the hour or are under way at `now` (Unix milliseconds).
pub fn shifts_at(center: &Center, now: i64) -> Vec<ShiftUnderWay<'_>> {
    let Some(settings) = &center.settings else {
        return Vec::new();
    };
    let today = super::calendar::local_day(now, settings.utc_offset_minutes);
    let scheduled = center.scheduled_agents();
    let mut shifts = Vec::new();
    // Yesterday's night shift may still be under way.
    for day in [today - 1, today, today + 1] {
        for shift in &settings.shifts {
            let window = shift.window(day, settings.utc_offset_minutes);
            if !(window.start - ARRIVAL_WINDOW_MS <= now && now < window.end) {
                continue;
            }
            let agents = scheduled
                .iter()
                .filter(|agent| {
                    center
                        .worked_shift(agent, day)
                        .is_some_and(|(_, worked)| worked.shift_id == shift.shift_id)
                })
                .map(|agent| (*agent).clone())
                .collect();
            shifts.push(ShiftUnderWay {
                day,
                shift,
                start: window.start,
                agents,
            });
        }
    }
    shifts
}

/// Why a rostered agent is not signed in, as far as the center knows.
fn why_missing(center: &Center, agent_id: &Name, day: i64) -> String {
    if let Some(leave) = center.leave_on(agent_id, day) {
        return format!("on approved {} leave", leave.request.kind.as_str());
    }
    if let Some(leave) = center.leave.values().find(|leave| {
        leave.agent_id == *agent_id
            && leave.decision == Decision::Pending
            && leave.request.covers(day)
    }) {
        return format!(
            "{} leave asked, waiting for the {}",
            leave.request.kind.as_str(),
            leave.approver.as_str()
        );
    }
    "not signed in".to_owned()
}

/// The headcount of `shifts` (from [`shifts_at`]): expected, present, who is missing and why,
/// and the same per team.
pub fn headcount(
    center: &Center,
    shifts: &[ShiftUnderWay<'_>],
    signed_in: &BTreeSet<Name>,
) -> Vec<ShiftHeadcount> {
    shifts
        .iter()
        .map(|under_way| {
            let mut teams: BTreeMap<Option<Name>, TeamCount> = BTreeMap::new();
            let mut missing = Vec::new();
            for agent_id in &under_way.agents {
                let team_id = center.team_of(agent_id).cloned();
                let team = teams.entry(team_id.clone()).or_insert_with(|| TeamCount {
                    leader_id: team_id
                        .as_ref()
                        .and_then(|team| center.teams.get(team))
                        .map(|team| team.leader_id.clone()),
                    team_id: team_id.clone(),
                    expected: 0,
                    present: 0,
                });
                team.expected += 1;
                if signed_in.contains(agent_id) {
                    team.present += 1;
                } else {
                    missing.push(MissingAgent {
                        agent_id: agent_id.clone(),
                        team_id,
                        why: why_missing(center, agent_id, under_way.day),
                    });
                }
            }
            let expected = u32::try_from(under_way.agents.len()).unwrap_or(u32::MAX);
            ShiftHeadcount {
                shift_id: under_way.shift.shift_id.clone(),
                day: under_way.day,
                start: under_way.start,
                expected,
                present: expected - u32::try_from(missing.len()).unwrap_or(expected),
                missing,
                teams: teams.into_values().collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use callcenter_kit::Aggregate;
    use callcenter_kit::testing::name;

    use super::super::calendar::{instant, parse_day, parse_time_of_day};
    use super::super::center::{CenterEvent, CenterSettings, Roster};
    use super::super::leave::{Approver, LeaveKind, LeaveRequest};
    use super::*;

    #[test]
    fn at_sign_in_each_team_leader_reports_expected_and_present_and_who_is_missing_and_why() {
        let day = parse_day("2026-12-01").expect("a day");
        let early = ShiftDefinition {
            shift_id: name("early"),
            start: parse_time_of_day("08:30").expect("a time"),
            end: parse_time_of_day("17:30").expect("a time"),
            lunch: None,
            days: crate::domain::calendar::Weekdays::ALL,
        };
        let late = ShiftDefinition {
            shift_id: name("late"),
            start: parse_time_of_day("09:30").expect("a time"),
            end: parse_time_of_day("22:00").expect("a time"),
            lunch: None,
            days: crate::domain::calendar::Weekdays::ALL,
        };
        let row = |shift: &str| vec![Some(name(shift))];
        let center = Center::replay(&[
            CenterEvent::Defined(CenterSettings {
                utc_offset_minutes: 480,
                shifts: vec![early, late],
            }),
            CenterEvent::TeamSet {
                team_id: name("team-1"),
                leader_id: name("leader-1"),
                members: [name("a1"), name("a2"), name("a3")].into(),
            },
            CenterEvent::RosterPublished {
                roster_id: name("december"),
                roster: Roster {
                    first_day: day,
                    assignments: [
                        (name("a1"), row("early")),
                        (name("a2"), row("early")),
                        (name("a3"), row("early")),
                        (name("a4"), row("early")),
                        (name("a5"), row("late")),
                    ]
                    .into(),
                },
            },
            CenterEvent::LeaveRequested {
                leave_id: name("s1"),
                agent_id: name("a2"),
                request: LeaveRequest {
                    kind: LeaveKind::Sick,
                    start: day,
                    half_days: 2,
                    asked_on: day,
                    certificate: true,
                },
                approver: Approver::Supervisor,
            },
            CenterEvent::LeaveDecided {
                leave_id: name("s1"),
                approved: true,
                reason: String::new(),
            },
        ]);
        // 08:00 in Beijing: the early shift starts within the hour, the late one not yet.
        let now = instant(day, 8 * 3_600, 480);
        let counts = headcount(&center, &shifts_at(&center, now), &[name("a1")].into());
        assert_eq!(counts.len(), 1);
        let early = &counts[0];
        assert_eq!(early.shift_id.as_str(), "early");
        assert_eq!((early.expected, early.present), (4, 1));
        let why: Vec<(&str, &str)> = early
            .missing
            .iter()
            .map(|m| (m.agent_id.as_str(), m.why.as_str()))
            .collect();
        assert_eq!(
            why,
            [
                ("a2", "on approved sick leave"),
                ("a3", "not signed in"),
                ("a4", "not signed in")
            ]
        );
        assert_eq!(
            early.teams,
            [
                TeamCount {
                    team_id: None,
                    leader_id: None,
                    expected: 1,
                    present: 0
                },
                TeamCount {
                    team_id: Some(name("team-1")),
                    leader_id: Some(name("leader-1")),
                    expected: 3,
                    present: 1
                },
            ]
        );
        // At 09:00 both shifts count.
        let nine = instant(day, 9 * 3_600, 480);
        let later = headcount(&center, &shifts_at(&center, nine), &BTreeSet::new());
        assert_eq!(later.len(), 2);
    }
}
