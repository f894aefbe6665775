//! The headcount at the shift start (DOMAIN.md §7, floor control): seats are assigned an hour
//! before a shift, and at sign-in every team leader reports the expected and actual headcount
//! and who is missing and why. Pure: the caller says who is signed in.

use std::collections::BTreeSet;

use callcenter_kit::Name;

use super::attendance::ARRIVAL_WINDOW_MS;
use super::center::{Center, Decision, ShiftDefinition, approver_label};
use super::leave::LeaveKind;

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

/// The shifts that start within the hour or are under way at `now` (Unix milliseconds), each
/// with its local day and the agents rostered for it.
pub fn shifts_at(center: &Center, now: i64) -> Vec<(i64, &ShiftDefinition, Vec<Name>)> {
    let Some(settings) = &center.settings else {
        return Vec::new();
    };
    let today = super::calendar::local_day(now, settings.utc_offset_minutes);
    let mut shifts = Vec::new();
    // Yesterday's night shift may still be under way.
    for day in [today - 1, today, today + 1] {
        for shift in &settings.shifts {
            let window = shift.window(day, settings.utc_offset_minutes);
            if !(window.start - ARRIVAL_WINDOW_MS <= now && now < window.end) {
                continue;
            }
            let agents: Vec<Name> = center
                .scheduled_agents()
                .into_iter()
                .filter(|agent| {
                    center
                        .worked_shift(agent, day)
                        .is_some_and(|(_, worked)| worked.shift_id == shift.shift_id)
                })
                .cloned()
                .collect();
            shifts.push((day, shift, agents));
        }
    }
    shifts
}

fn leave_label(kind: LeaveKind) -> &'static str {
    match kind {
        LeaveKind::Sick => "sick",
        LeaveKind::Personal => "personal",
        LeaveKind::Vacation => "vacation",
    }
}

/// Why a rostered agent is not signed in, as far as the center knows.
fn why_missing(center: &Center, agent_id: &Name, day: i64) -> String {
    if let Some(leave) = center.leave_on(agent_id, day) {
        return format!("on approved {} leave", leave_label(leave.request.kind));
    }
    if let Some(leave) = center.leave.values().find(|leave| {
        leave.agent_id == *agent_id
            && leave.decision == Decision::Pending
            && leave.request.start <= day
            && day <= leave.request.end()
    }) {
        return format!(
            "{} leave asked, waiting for the {}",
            leave_label(leave.request.kind),
            approver_label(leave.approver)
        );
    }
    "not signed in".to_owned()
}

/// The headcount at `now`: per shift starting within the hour or under way, expected, present,
/// who is missing and why, and the same per team.
pub fn headcount(center: &Center, now: i64, signed_in: &BTreeSet<Name>) -> Vec<ShiftHeadcount> {
    let settings_offset = center
        .settings
        .as_ref()
        .map_or(0, |settings| settings.utc_offset_minutes);
    shifts_at(center, now)
        .into_iter()
        .map(|(day, shift, agents)| {
            let mut teams: Vec<TeamCount> = Vec::new();
            let mut missing = Vec::new();
            for agent_id in &agents {
                let team_id = center.team_of(agent_id).cloned();
                let present = signed_in.contains(agent_id);
                let index = match teams.iter().position(|team| team.team_id == team_id) {
                    Some(index) => index,
                    None => {
                        teams.push(TeamCount {
                            leader_id: team_id
                                .as_ref()
                                .and_then(|team| center.teams.get(team))
                                .map(|team| team.leader_id.clone()),
                            team_id: team_id.clone(),
                            expected: 0,
                            present: 0,
                        });
                        teams.len() - 1
                    }
                };
                teams[index].expected += 1;
                if present {
                    teams[index].present += 1;
                } else {
                    missing.push(MissingAgent {
                        agent_id: agent_id.clone(),
                        team_id,
                        why: why_missing(center, agent_id, day),
                    });
                }
            }
            teams.sort_by(|a, b| a.team_id.cmp(&b.team_id));
            let expected = u32::try_from(agents.len()).unwrap_or(u32::MAX);
            ShiftHeadcount {
                shift_id: shift.shift_id.clone(),
                day,
                start: shift.window(day, settings_offset).start,
                expected,
                present: expected - u32::try_from(missing.len()).unwrap_or(expected),
                missing,
                teams,
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
    use super::super::leave::{Approver, LeaveRequest};
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
        let counts = headcount(&center, now, &[name("a1")].into());
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
        let later = headcount(&center, instant(day, 9 * 3_600, 480), &BTreeSet::new());
        assert_eq!(later.len(), 2);
    }
}
