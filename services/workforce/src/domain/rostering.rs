//! Rostering a real center with the solver ([`super::roster`]): the center's approved leave in the
//! horizon becomes day-off requests that outweigh any shortfall (so the solver keeps them unless
//! the hard rules cannot), and a solution becomes a roster the center can publish.

use std::collections::BTreeMap;

use callcenter_kit::Name;

use super::center::{Center, Decision, Roster};
use super::roster::{Instance, Request, Solution};

/// How many short agent-shifts one approved day of leave outweighs.
pub const LEAVE_WEIGHT_IN_SHORTFALLS: i64 = 10;

/// Day-off requests for the approved leave of the instance's agents in the horizon that starts
/// on `first_day`, each weighing [`LEAVE_WEIGHT_IN_SHORTFALLS`] short agent-shifts.
pub fn approved_leave_requests(
    center: &Center,
    instance: &Instance,
    first_day: i64,
) -> Vec<Request> {
    let weight = instance.unmet_weight.max(1) * LEAVE_WEIGHT_IN_SHORTFALLS;
    let mut requests = Vec::new();
    for leave in center.leave.values() {
        if leave.decision != Decision::Approved {
            continue;
        }
        let Some(agent) = instance
            .agents
            .iter()
            .position(|id| id == leave.agent_id.as_str())
        else {
            continue;
        };
        // Only the days inside the horizon.
        let from = leave.request.start.max(first_day);
        let to = leave
            .request
            .end()
            .min(first_day + instance.days as i64 - 1);
        for day in from..=to {
            requests.push(Request {
                agent,
                day: (day - first_day) as usize,
                shift: None,
                weight,
            });
        }
    }
    requests
}

/// The roster of a solution, from `first_day`: each agent's shift ids, `None` for the off shift.
/// `Err` names an agent or shift id that cannot be a center's.
pub fn roster_of(
    instance: &Instance,
    solution: &Solution,
    first_day: i64,
) -> Result<Roster, String> {
    let off = instance.off();
    let mut assignments = BTreeMap::new();
    for (agent, row) in instance.agents.iter().zip(&solution.assignment) {
        let agent_id = Name::new(agent).map_err(|_| format!("agent id {agent:?}"))?;
        let shifts = row
            .iter()
            .map(|shift| {
                if *shift == off {
                    return Ok(None);
                }
                let id = &instance.shifts[*shift];
                Name::new(id)
                    .map(Some)
                    .map_err(|_| format!("shift id {id:?}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        assignments.insert(agent_id, shifts);
    }
    Ok(Roster {
        first_day,
        assignments,
    })
}

#[cfg(test)]
mod tests {
    use callcenter_kit::Aggregate;
    use callcenter_kit::testing::name;

    use super::super::center::CenterEvent;
    use super::super::leave::{Approver, LeaveKind, LeaveRequest};
    use super::super::roster::{Budget, solve};
    use super::*;

    /// The handbook's worked example with agent ids, on 7 days.
    fn example() -> Instance {
        let json = serde_json::json!({
            "schema": "callcenter-roster/v1",
            "horizon": {"days": 7},
            "shifts": [{"id": "early"}, {"id": "middle"}, {"id": "late"}],
            "off_shift": "off",
            "shift_order": ["early", "middle", "late"],
            "agents": [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}, {"id": "a4"}, {"id": "a5"},
                       {"id": "a6"}, {"id": "a7"}],
            "rules": {"allowed_next": {"early": ["middle", "late"],
                                       "middle": ["early", "middle", "late", "off"],
                                       "late": ["off", "middle"], "off": ["early", "middle"]},
                      "max_consecutive_working_days": 7, "min_days_off_per_week": 0},
            "coverage": {"required_per_shift": vec![[2, 1, 2]; 7],
                         "required_per_shift_order": ["early", "middle", "late"]},
            "requests": [],
            "objective": {"unmet_coverage_weight": 100}
        });
        Instance::from_json(&json).expect("the example reads")
    }

    #[test]
    fn approved_leave_is_a_day_off_the_solver_keeps_and_the_solution_is_a_roster() {
        let first_day = 20_800;
        let center = Center::replay(&[
            CenterEvent::LeaveRequested {
                leave_id: name("v1"),
                agent_id: name("a3"),
                request: LeaveRequest {
                    kind: LeaveKind::Vacation,
                    start: first_day + 2,
                    half_days: 2,
                    asked_on: first_day - 40,
                    certificate: false,
                },
                approver: Approver::Director,
            },
            CenterEvent::LeaveDecided {
                leave_id: name("v1"),
                approved: true,
                reason: String::new(),
            },
        ]);
        let mut instance = example();
        let leave = approved_leave_requests(&center, &instance, first_day);
        assert_eq!(
            leave.iter().map(|r| (r.agent, r.day)).collect::<Vec<_>>(),
            [(2, 2)]
        );
        assert!(leave.iter().all(|r| r.weight == 1_000 && r.shift.is_none()));
        instance.requests.extend(leave);
        let solution = solve(&instance, 1, Budget::moves(200_000)).expect("a solution");
        assert!(solution.broken_requests.is_empty(), "{solution:?}");
        let roster = roster_of(&instance, &solution, first_day).expect("a roster");
        assert_eq!(roster.shift_on(&name("a3"), first_day + 2), None);
        assert_eq!(roster.days(), 7);
    }

    #[test]
    fn leave_the_hard_rules_cannot_keep_is_reported_as_a_broken_request() {
        // The handbook's rules allow no two days off in a row (off → early or middle): of two
        // days of leave, one cannot be kept, and the solution says which.
        let mut instance = example();
        let weight = instance.unmet_weight * LEAVE_WEIGHT_IN_SHORTFALLS;
        instance.requests.extend((2..4).map(|day| Request {
            agent: 2,
            day,
            shift: None,
            weight,
        }));
        let solution = solve(&instance, 1, Budget::moves(200_000)).expect("a solution");
        assert_eq!(solution.broken_requests.len(), 1, "{solution:?}");
        assert_eq!(solution.broken_requests[0].agent, 2);
    }
}
