//! The roster solver (DOMAIN.md §7): who works which shift on which day.
//!
//! Rules are data (the `callcenter-roster/v1` format of `../shared/bench`):
//! - **hard**: one shift a day; the handbook's transitions (`allowed_next`: after Early → Mid or
//!   Late; after Mid → anything; after Late → Off or Mid; after Off → Early or Mid); at most
//!   `max_consecutive_working_days` in a row; at least `min_days_off_per_week` in each 7-day block;
//! - **soft**, in the objective: `unmet_coverage_weight` per agent-shift short of the headcount
//!   required per day and shift; the weight of each broken day-off or shift request;
//!   `preference_weight` per working day on a shift outside the agent's preferred ones.
//!
//! The solver keeps every hard rule at every step: it starts from a feasible rotation and
//! improves it by simulated annealing over moves that stay feasible — one agent's shift on one
//! day, two consecutive days of one agent, two agents exchanging their shifts of a day or of two
//! or three consecutive days (which leaves coverage as it is and serves requests). The cooling
//! follows whichever runs out first, the moves or the time: with a number of moves that ends
//! first, the roster depends on the seed alone. It explains what it could not meet: each short
//! day and shift, each broken request.

use crate::random::Random;
use std::collections::BTreeMap;

/// Why an instance cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InstanceError {
    /// Where.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> InstanceError {
    InstanceError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A request of an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The agent (index).
    pub agent: usize,
    /// The day.
    pub day: usize,
    /// `None`: a day off; `Some(shift)`: that shift.
    pub shift: Option<usize>,
    /// What breaking it costs.
    pub weight: i64,
}

/// A rostering problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// Shift ids, the off "shift" last.
    pub shifts: Vec<String>,
    /// Agent ids.
    pub agents: Vec<String>,
    /// Per agent, the preferred working shifts (empty: no preference).
    pub preferred: Vec<Vec<usize>>,
    /// Days in the horizon.
    pub days: usize,
    /// Whether the last day wraps to the first.
    pub cyclic: bool,
    /// `allowed[a][b]`: shift `b` may follow shift `a`.
    pub allowed: Vec<Vec<bool>>,
    /// Most working days in a row.
    pub max_consecutive: usize,
    /// Fewest days off in each 7-day block from day 0.
    pub min_off_per_week: usize,
    /// Headcount required per day and working shift.
    pub required: Vec<Vec<i64>>,
    /// Day-off and shift requests.
    pub requests: Vec<Request>,
    /// Cost of one agent-shift short.
    pub unmet_weight: i64,
    /// Cost of one agent-shift over the headcount (0 in the bench format: not penalised; the
    /// handbook's example asks for exact headcounts).
    pub over_weight: i64,
    /// Cost of one working day outside the preferred shifts.
    pub preference_weight: i64,
}

impl Instance {
    /// The off shift's index.
    pub fn off(&self) -> usize {
        self.shifts.len() - 1
    }

    /// Reads the `callcenter-roster/v1` format.
    pub fn from_json(json: &serde_json::Value) -> Result<Self, InstanceError> {
        if json["schema"] != "callcenter-roster/v1" {
            return Err(invalid("schema", "expected callcenter-roster/v1"));
        }
        let text = |value: &serde_json::Value, field: &str| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(field, "expected text"))
        };
        let number = |value: &serde_json::Value, field: &str| {
            value
                .as_i64()
                .ok_or_else(|| invalid(field, "expected a whole number"))
        };
        let list = |value: &'_ serde_json::Value, field: &str| {
            value
                .as_array()
                .cloned()
                .ok_or_else(|| invalid(field, "expected a list"))
        };
        let off_id = text(&json["off_shift"], "off_shift")?;
        let mut shifts: Vec<String> = list(&json["shift_order"], "shift_order")?
            .iter()
            .map(|shift| text(shift, "shift_order"))
            .collect::<Result<_, _>>()?;
        shifts.retain(|shift| *shift != off_id);
        shifts.push(off_id.clone());
        let index_of = |id: &str, field: &str| {
            shifts
                .iter()
                .position(|shift| shift == id)
                .ok_or_else(|| invalid(field, format!("unknown shift {id}")))
        };
        let days = number(&json["horizon"]["days"], "horizon.days")?;
        let days = usize::try_from(days)
            .ok()
            .filter(|days| (1..=366).contains(days))
            .ok_or_else(|| invalid("horizon.days", "1 to 366"))?;
        let cyclic = json["horizon"]["cyclic"].as_bool().unwrap_or(false);
        let agents_json = list(&json["agents"], "agents")?;
        let mut agents = Vec::new();
        let mut preferred = Vec::new();
        for (index, agent) in agents_json.iter().enumerate() {
            agents.push(text(&agent["id"], &format!("agents[{index}].id"))?);
            let shifts_preferred = match &agent["preferred_shifts"] {
                serde_json::Value::Null => Vec::new(),
                value => list(value, &format!("agents[{index}].preferred_shifts"))?
                    .iter()
                    .map(|shift| {
                        let field = format!("agents[{index}].preferred_shifts");
                        index_of(&text(shift, &field)?, &field)
                    })
                    .collect::<Result<_, _>>()?,
            };
            preferred.push(shifts_preferred);
        }
        if agents.is_empty() {
            return Err(invalid("agents", "at least one"));
        }
        let rules = &json["rules"];
        let mut allowed = vec![vec![false; shifts.len()]; shifts.len()];
        let next = rules["allowed_next"]
            .as_object()
            .ok_or_else(|| invalid("rules.allowed_next", "expected an object"))?;
        for (from, tos) in next {
            let from = index_of(from, "rules.allowed_next")?;
            for to in list(tos, "rules.allowed_next")? {
                let to = index_of(&text(&to, "rules.allowed_next")?, "rules.allowed_next")?;
                allowed[from][to] = true;
            }
        }
        let max_consecutive = usize::try_from(number(
            &rules["max_consecutive_working_days"],
            "rules.max_consecutive_working_days",
        )?)
        .map_err(|_| invalid("rules.max_consecutive_working_days", "0 or more"))?;
        let min_off_per_week = usize::try_from(number(
            &rules["min_days_off_per_week"],
            "rules.min_days_off_per_week",
        )?)
        .ok()
        .filter(|days| *days <= 7)
        .ok_or_else(|| invalid("rules.min_days_off_per_week", "0 to 7"))?;
        let order: Vec<usize> = list(
            &json["coverage"]["required_per_shift_order"],
            "coverage.required_per_shift_order",
        )?
        .iter()
        .map(|shift| {
            let field = "coverage.required_per_shift_order";
            index_of(&text(shift, field)?, field)
        })
        .collect::<Result<_, _>>()?;
        let required_json = list(
            &json["coverage"]["required_per_shift"],
            "coverage.required_per_shift",
        )?;
        if required_json.len() != days {
            return Err(invalid("coverage.required_per_shift", "one row per day"));
        }
        let mut required = vec![vec![0_i64; shifts.len() - 1]; days];
        for (day, row) in required_json.iter().enumerate() {
            let field = format!("coverage.required_per_shift[{day}]");
            let row = list(row, &field)?;
            if row.len() != order.len() {
                return Err(invalid(field, "one number per shift of the order"));
            }
            for (position, value) in row.iter().enumerate() {
                let shift = order[position];
                if shift == shifts.len() - 1 {
                    continue;
                }
                required[day][shift] = number(value, &field)?.max(0);
            }
        }
        let mut requests = Vec::new();
        for (index, request) in list(&json["requests"], "requests")?.iter().enumerate() {
            let field = format!("requests[{index}]");
            let agent = usize::try_from(number(&request["agent"], &field)?)
                .ok()
                .filter(|agent| *agent < agents.len())
                .ok_or_else(|| invalid(&field, "unknown agent"))?;
            let day = usize::try_from(number(&request["day"], &field)?)
                .ok()
                .filter(|day| *day < days)
                .ok_or_else(|| invalid(&field, "day outside the horizon"))?;
            let shift = match request["kind"].as_str() {
                Some("day_off") => None,
                Some("shift") => Some(index_of(&text(&request["shift"], &field)?, &field)?),
                _ => return Err(invalid(field, "kind: day_off or shift")),
            };
            let weight = number(&request["weight"], &field)?;
            requests.push(Request {
                agent,
                day,
                shift,
                weight,
            });
        }
        let objective = &json["objective"];
        Ok(Self {
            shifts,
            agents,
            preferred,
            days,
            cyclic,
            allowed,
            max_consecutive,
            min_off_per_week,
            required,
            requests,
            unmet_weight: objective["unmet_coverage_weight"].as_i64().unwrap_or(100),
            over_weight: objective["over_coverage_weight"].as_i64().unwrap_or(0),
            preference_weight: objective["preference_weight"].as_i64().unwrap_or(1),
        })
    }
}

/// One short day and shift.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    /// The day.
    pub day: usize,
    /// The shift.
    pub shift: String,
    /// Required.
    pub required: i64,
    /// Assigned.
    pub assigned: i64,
}

/// A solution and its explanation.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// Shift index per agent and day.
    pub assignment: Vec<Vec<usize>>,
    /// The objective.
    pub objective: i64,
    /// Each day and shift short of its headcount.
    pub unmet: Vec<Shortfall>,
    /// Each broken request.
    pub broken_requests: Vec<Request>,
    /// Working days outside the agents' preferred shifts.
    pub preference_days: i64,
    /// Moves tried.
    pub moves: u64,
}

impl Solution {
    /// The `callcenter-roster/v1` solution: shift ids, the objective and the explanation.
    pub fn to_json(&self, instance: &Instance) -> serde_json::Value {
        let assignment: Vec<Vec<&str>> = self
            .assignment
            .iter()
            .map(|row| row.iter().map(|s| instance.shifts[*s].as_str()).collect())
            .collect();
        // Where everyone else was that day: what the shortfall competed with.
        let elsewhere = |day: usize, short: &str| {
            instance
                .shifts
                .iter()
                .enumerate()
                .filter(|(_, id)| id.as_str() != short)
                .map(|(shift, id)| {
                    let on = self
                        .assignment
                        .iter()
                        .filter(|row| row[day] == shift)
                        .count();
                    format!("{on} on {id}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        serde_json::json!({
            "assignment": assignment,
            "objective": self.objective,
            "unmet_coverage": self.unmet.iter().map(|short| {
                let shift = instance.shifts.iter().position(|id| *id == short.shift).unwrap_or(0);
                let blocked = blocking_reasons(instance, &self.assignment, short.day, shift);
                let held: Vec<String> = blocked
                    .iter()
                    .map(|(reason, agents)| format!("{agents} {}", reason.replace('_', " ")))
                    .collect();
                serde_json::json!({
                    "day": short.day, "shift": short.shift, "required": short.required,
                    "assigned": short.assigned,
                    "why": format!(
                        "the other agents that day: {}; held back by: {}",
                        elsewhere(short.day, &short.shift),
                        held.join(", ")
                    ),
                    "blocked_by": blocked,
                })
            }).collect::<Vec<_>>(),
            "broken_requests": self.broken_requests.iter().map(|request| serde_json::json!({
                "agent": instance.agents[request.agent], "day": request.day,
                "kind": if request.shift.is_some() { "shift" } else { "day_off" },
                "shift": request.shift.map(|s| instance.shifts[s].clone()),
                "weight": request.weight,
                "why": format!(
                    "works {} that day",
                    instance.shifts[self.assignment[request.agent][request.day]]
                ),
            })).collect::<Vec<_>>(),
            "preference_violation_days": self.preference_days,
            "moves": self.moves,
        })
    }
}

/// One request as the solver checks it: the shift wanted (`None`: off) and its weight.
type Wish = (Option<usize>, i64);

/// The solver's working state: the assignment and its counts.
struct State<'a> {
    instance: &'a Instance,
    rows: Vec<Vec<usize>>,
    count: Vec<Vec<i64>>,
    /// `requests_at[agent][day]`: the requests of that agent and day.
    requests_at: Vec<Vec<Vec<Wish>>>,
    preferred: Vec<Vec<bool>>,
}

impl<'a> State<'a> {
    fn new(instance: &'a Instance, rows: Vec<Vec<usize>>) -> Self {
        let mut count = vec![vec![0_i64; instance.shifts.len()]; instance.days];
        for row in &rows {
            for (day, shift) in row.iter().enumerate() {
                count[day][*shift] += 1;
            }
        }
        let mut requests_at = vec![vec![Vec::new(); instance.days]; instance.agents.len()];
        for request in &instance.requests {
            requests_at[request.agent][request.day].push((request.shift, request.weight));
        }
        let preferred = instance
            .preferred
            .iter()
            .map(|shifts| {
                (0..instance.shifts.len())
                    .map(|shift| shifts.is_empty() || shifts.contains(&shift))
                    .collect()
            })
            .collect();
        Self {
            instance,
            rows,
            count,
            requests_at,
            preferred,
        }
    }

    /// What an agent pays for working `shift` on `day` (requests and preference).
    fn personal_cost(&self, agent: usize, day: usize, shift: usize) -> i64 {
        let off = self.instance.off();
        let mut cost = 0;
        for (wanted, weight) in &self.requests_at[agent][day] {
            let broken = match wanted {
                None => shift != off,
                Some(wanted) => shift != *wanted,
            };
            if broken {
                cost += weight;
            }
        }
        if shift != off && !self.preferred[agent][shift] {
            cost += self.instance.preference_weight;
        }
        cost
    }

    /// The coverage cost of one more (`delta` 1) or one fewer (`-1`) agent on a day's shift.
    fn coverage_delta(&self, day: usize, shift: usize, delta: i64) -> i64 {
        if shift == self.instance.off() {
            return 0;
        }
        let required = self.instance.required[day][shift];
        let cost = |count: i64| {
            self.instance.unmet_weight * (required - count).max(0)
                + self.instance.over_weight * (count - required).max(0)
        };
        let now = self.count[day][shift];
        cost(now + delta) - cost(now)
    }

    /// Whether the agent's row keeps every hard rule around `from..=to` if those days become
    /// `shifts`.
    fn feasible(&self, agent: usize, from: usize, shifts: &[usize]) -> bool {
        let instance = self.instance;
        let (days, off) = (instance.days, instance.off());
        let row = &self.rows[agent];
        let at = |day: usize| {
            if day >= from && day < from + shifts.len() {
                shifts[day - from]
            } else {
                row[day]
            }
        };
        let to = from + shifts.len() - 1;
        // Transitions into, within and out of the changed days.
        let mut checked: Vec<usize> = (from.saturating_sub(1)..=to).collect();
        if from == 0 && instance.cyclic {
            checked.push(days - 1);
        }
        for day in checked {
            let next = if day + 1 == days {
                if !instance.cyclic {
                    continue;
                }
                0
            } else {
                day + 1
            };
            if !instance.allowed[at(day)][at(next)] {
                return false;
            }
        }
        // The working run through the changed days.
        let mut run = 0;
        let mut longest = 0;
        let start = from.saturating_sub(instance.max_consecutive + 1);
        let end = (to + instance.max_consecutive + 1).min(days - 1);
        for day in start..=end {
            run = if at(day) == off { 0 } else { run + 1 };
            longest = longest.max(run);
        }
        if longest > instance.max_consecutive {
            return false;
        }
        // Days off in the weeks touched.
        for week in from / 7..=to / 7 {
            if (week + 1) * 7 > days {
                continue;
            }
            let offs = (week * 7..week * 7 + 7)
                .filter(|day| at(*day) == off)
                .count();
            if offs < instance.min_off_per_week {
                return false;
            }
        }
        true
    }

    fn set(&mut self, agent: usize, day: usize, shift: usize) {
        let old = self.rows[agent][day];
        self.count[day][old] -= 1;
        self.count[day][shift] += 1;
        self.rows[agent][day] = shift;
    }

    fn objective(&self) -> i64 {
        let mut total = 0;
        for day in 0..self.instance.days {
            for shift in 0..self.instance.off() {
                let (required, count) =
                    (self.instance.required[day][shift], self.count[day][shift]);
                total += self.instance.unmet_weight * (required - count).max(0)
                    + self.instance.over_weight * (count - required).max(0);
            }
        }
        for (agent, row) in self.rows.iter().enumerate() {
            for (day, shift) in row.iter().enumerate() {
                total += self.personal_cost(agent, day, *shift);
            }
        }
        total
    }
}

/// A feasible start: each agent on a rotation of the allowed transitions that keeps the rules
/// (found by a depth-first search over the horizon); the search then spreads them.
fn rotation(instance: &Instance) -> Option<Vec<usize>> {
    let (days, off) = (instance.days, instance.off());
    let mut row = Vec::with_capacity(days);
    fn extend(instance: &Instance, row: &mut Vec<usize>, days: usize, off: usize) -> bool {
        if row.len() == days {
            return true;
        }
        // Prefer working shifts in a spread order, off when the rules ask for it.
        let mut order: Vec<usize> = (0..instance.shifts.len()).collect();
        order.rotate_left(row.len() % instance.shifts.len());
        for shift in order {
            if let Some(last) = row.last()
                && !instance.allowed[*last][shift]
            {
                continue;
            }
            row.push(shift);
            let run = row.iter().rev().take_while(|s| **s != off).count();
            let week = (row.len() - 1) / 7;
            let week_full = row.len().is_multiple_of(7) && (week + 1) * 7 <= days;
            let offs = row[week * 7..].iter().filter(|s| **s == off).count();
            let left_in_week = 7 - (row.len() - week * 7);
            let possible =
                offs + left_in_week >= instance.min_off_per_week || (week + 1) * 7 > days;
            let ok = run <= instance.max_consecutive
                && possible
                && (!week_full || offs >= instance.min_off_per_week);
            if ok && extend(instance, row, days, off) {
                return true;
            }
            row.pop();
        }
        false
    }
    extend(instance, &mut row, days, off).then_some(row)
}

/// How long the solver may search: at most `moves` moves and at most `time` as the caller's
/// clock tells it (`elapsed`, read every 4,096 moves), whichever runs out first. The solver
/// never reads a clock of its own, so with [`Budget::moves`] a solution depends on the instance
/// and the seed only.
#[derive(Clone, Copy)]
pub struct Budget<'a> {
    /// Most moves to try.
    pub moves: u64,
    /// Most time to take.
    pub time: std::time::Duration,
    /// The time taken so far, by the caller's clock.
    pub elapsed: &'a dyn Fn() -> std::time::Duration,
}

impl Budget<'static> {
    /// At most `moves` moves, whatever the time.
    pub fn moves(moves: u64) -> Self {
        fn never() -> std::time::Duration {
            std::time::Duration::ZERO
        }
        Budget {
            moves,
            time: std::time::Duration::MAX,
            elapsed: &never,
        }
    }
}

impl std::fmt::Debug for Budget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("moves", &self.moves)
            .field("time", &self.time)
            .finish_non_exhaustive()
    }
}

/// Solves `instance` from `seed` within `budget`.
pub fn solve(
    instance: &Instance,
    seed: u64,
    budget: Budget<'_>,
) -> Result<Solution, InstanceError> {
    let base =
        rotation(instance).ok_or_else(|| invalid("rules", "no roster can keep every hard rule"))?;
    let agents = instance.agents.len();
    let days = instance.days;
    let mut random = Random::new(seed);
    // Every agent starts on the same feasible rotation; the moves spread them.
    let rows: Vec<Vec<usize>> = (0..agents).map(|_| base.clone()).collect();
    let mut state = State::new(instance, rows);
    let mut current = state.objective();
    let mut best = (current, state.rows.clone());
    let shifts = instance.shifts.len();
    // Tuned on roster_50x28: hot enough to trade a request for coverage early, cold at the end.
    let start_temperature = 15.0_f64;
    let end_temperature = 0.2_f64;
    let mut tried = 0_u64;
    let moves = budget.moves;
    let seconds = budget.time.as_secs_f64();
    // The cooling follows whichever runs out first, the moves or the time.
    let mut temperature = start_temperature;
    while tried < moves {
        if tried.is_multiple_of(4096) {
            let elapsed = (budget.elapsed)();
            if elapsed >= budget.time {
                break;
            }
            let by_time = if seconds > 0.0 {
                elapsed.as_secs_f64() / seconds
            } else {
                1.0
            };
            let progress = (tried as f64 / moves as f64).max(by_time).min(1.0);
            temperature = start_temperature * (end_temperature / start_temperature).powf(progress);
        }
        tried += 1;
        let accept = |delta: i64, random: &mut Random| {
            delta <= 0 || random.unit() < (-(delta as f64) / temperature).exp()
        };
        match random.below(4) {
            0 => {
                // One agent, one day, another shift.
                let (agent, day) = (random.below(agents), random.below(days));
                let old = state.rows[agent][day];
                let new = random.below(shifts);
                if new == old || !state.feasible(agent, day, &[new]) {
                    continue;
                }
                let delta = state.coverage_delta(day, old, -1)
                    + state.coverage_delta(day, new, 1)
                    + state.personal_cost(agent, day, new)
                    - state.personal_cost(agent, day, old);
                if accept(delta, &mut random) {
                    state.set(agent, day, new);
                    current += delta;
                }
            }
            1 => {
                // One agent, two consecutive days.
                if days < 2 {
                    continue;
                }
                let (agent, day) = (random.below(agents), random.below(days - 1));
                let old = [state.rows[agent][day], state.rows[agent][day + 1]];
                let new = [random.below(shifts), random.below(shifts)];
                if new == old || !state.feasible(agent, day, &new) {
                    continue;
                }
                let mut delta = 0;
                for offset in 0..2 {
                    let d = day + offset;
                    if new[offset] == old[offset] {
                        continue;
                    }
                    delta += state.personal_cost(agent, d, new[offset])
                        - state.personal_cost(agent, d, old[offset]);
                }
                // Coverage, applied one day at a time (the two days are different days).
                let mut coverage = 0;
                for offset in 0..2 {
                    let d = day + offset;
                    if new[offset] != old[offset] {
                        coverage += state.coverage_delta(d, old[offset], -1)
                            + state.coverage_delta(d, new[offset], 1);
                    }
                }
                delta += coverage;
                if accept(delta, &mut random) {
                    state.set(agent, day, new[0]);
                    state.set(agent, day + 1, new[1]);
                    current += delta;
                }
            }
            3 => {
                // Two agents exchange two or three consecutive days (coverage unchanged).
                let length = 2 + random.below(2);
                if days < length {
                    continue;
                }
                let (first, second, day) = (
                    random.below(agents),
                    random.below(agents),
                    random.below(days - length + 1),
                );
                if first == second {
                    continue;
                }
                let a: Vec<usize> = state.rows[first][day..day + length].to_vec();
                let b: Vec<usize> = state.rows[second][day..day + length].to_vec();
                if a == b || !state.feasible(first, day, &b) || !state.feasible(second, day, &a) {
                    continue;
                }
                let mut delta = 0;
                for offset in 0..length {
                    let d = day + offset;
                    delta += state.personal_cost(first, d, b[offset])
                        - state.personal_cost(first, d, a[offset])
                        + state.personal_cost(second, d, a[offset])
                        - state.personal_cost(second, d, b[offset]);
                }
                if accept(delta, &mut random) {
                    for offset in 0..length {
                        state.set(first, day + offset, b[offset]);
                        state.set(second, day + offset, a[offset]);
                    }
                    current += delta;
                }
            }
            _ => {
                // Two agents exchange their shifts of a day (coverage unchanged).
                let (first, second, day) = (
                    random.below(agents),
                    random.below(agents),
                    random.below(days),
                );
                let (a, b) = (state.rows[first][day], state.rows[second][day]);
                if first == second
                    || a == b
                    || !state.feasible(first, day, &[b])
                    || !state.feasible(second, day, &[a])
                {
                    continue;
                }
                let delta = state.personal_cost(first, day, b) - state.personal_cost(first, day, a)
                    + state.personal_cost(second, day, a)
                    - state.personal_cost(second, day, b);
                if accept(delta, &mut random) {
                    state.set(first, day, b);
                    state.set(second, day, a);
                    current += delta;
                }
            }
        }
        if current < best.0 {
            best = (current, state.rows.clone());
        }
    }
    let state = State::new(instance, best.1);
    Ok(explain(&state, tried))
}

fn explain(state: &State<'_>, moves: u64) -> Solution {
    let instance = state.instance;
    let mut unmet = Vec::new();
    for day in 0..instance.days {
        for shift in 0..instance.off() {
            let (required, assigned) = (instance.required[day][shift], state.count[day][shift]);
            if assigned < required {
                unmet.push(Shortfall {
                    day,
                    shift: instance.shifts[shift].clone(),
                    required,
                    assigned,
                });
            }
        }
    }
    let off = instance.off();
    let broken_requests = instance
        .requests
        .iter()
        .filter(|request| {
            let got = state.rows[request.agent][request.day];
            match request.shift {
                None => got != off,
                Some(shift) => got != shift,
            }
        })
        .cloned()
        .collect();
    let preference_days = state
        .rows
        .iter()
        .enumerate()
        .map(|(agent, row)| {
            row.iter()
                .filter(|shift| **shift != off && !state.preferred[agent][**shift])
                .count() as i64
        })
        .sum();
    Solution {
        assignment: state.rows.clone(),
        objective: state.objective(),
        unmet,
        broken_requests,
        preference_days,
        moves,
    }
}

/// A hard rule of a roster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HardRule {
    /// Which shift may follow which.
    Transition,
    /// The most working days in a row.
    MaxConsecutive,
    /// The fewest days off in each 7-day block.
    MinDaysOff,
}

impl HardRule {
    /// Its name in the format.
    pub fn as_str(self) -> &'static str {
        match self {
            HardRule::Transition => "shift_transition",
            HardRule::MaxConsecutive => "max_consecutive_working_days",
            HardRule::MinDaysOff => "min_days_off_per_week",
        }
    }
}

/// The hard rules one agent's row breaks, each with where.
fn row_violations(instance: &Instance, agent: usize, row: &[usize]) -> Vec<(HardRule, String)> {
    let off = instance.off();
    let mut violations = Vec::new();
    let last = if instance.cyclic {
        instance.days
    } else {
        instance.days - 1
    };
    for day in 0..last {
        let next = (day + 1) % instance.days;
        if !instance.allowed[row[day]][row[next]] {
            violations.push((
                HardRule::Transition,
                format!("agent {agent} day {day}->{next}: transition"),
            ));
        }
    }
    let mut run = 0;
    for (day, shift) in row.iter().enumerate() {
        run = if *shift == off { 0 } else { run + 1 };
        if run > instance.max_consecutive {
            violations.push((
                HardRule::MaxConsecutive,
                format!("agent {agent} day {day}: {run} working days in a row"),
            ));
        }
    }
    for week in 0..instance.days / 7 {
        let offs = row[week * 7..week * 7 + 7]
            .iter()
            .filter(|s| **s == off)
            .count();
        if offs < instance.min_off_per_week {
            violations.push((
                HardRule::MinDaysOff,
                format!("agent {agent} week {week}: {offs} days off"),
            ));
        }
    }
    violations
}

/// Every hard rule the assignment breaks, with where (empty for a valid roster).
pub fn hard_violations(instance: &Instance, assignment: &[Vec<usize>]) -> Vec<String> {
    assignment
        .iter()
        .enumerate()
        .flat_map(|(agent, row)| row_violations(instance, agent, row))
        .map(|(_, place)| place)
        .collect()
}

/// Why no other agent fills a short day and shift: per reason, how many agents it holds back.
/// A hard rule (`shift_transition`, `max_consecutive_working_days`, `min_days_off_per_week`) the
/// move would break; `needed_on_their_shift` (their own shift is not above its headcount);
/// `request` (a day-off or shift request of theirs that day); `free` (nothing: a move the search
/// did not make).
pub fn blocking_reasons(
    instance: &Instance,
    assignment: &[Vec<usize>],
    day: usize,
    shift: usize,
) -> BTreeMap<&'static str, usize> {
    let off = instance.off();
    let on = |s: usize| assignment.iter().filter(|row| row[day] == s).count() as i64;
    let mut reasons = BTreeMap::new();
    for (agent, row) in assignment.iter().enumerate() {
        let current = row[day];
        if current == shift {
            continue;
        }
        let mut moved = row.clone();
        moved[day] = shift;
        let reason = if let Some((rule, _)) = row_violations(instance, agent, &moved)
            .into_iter()
            .min_by_key(|(rule, _)| *rule)
        {
            rule.as_str()
        } else if current != off && on(current) <= instance.required[day][current] {
            "needed_on_their_shift"
        } else if instance.requests.iter().any(|request| {
            request.agent == agent
                && request.day == day
                && request.shift.map_or(shift != off, |wanted| wanted != shift)
        }) {
            "request"
        } else {
            "free"
        };
        *reasons.entry(reason).or_default() += 1;
    }
    reasons
}

/// Objective parts by name, for reports.
pub fn summary(solution: &Solution) -> BTreeMap<&'static str, i64> {
    BTreeMap::from([
        ("objective", solution.objective),
        (
            "unmet_agent_shifts",
            solution
                .unmet
                .iter()
                .map(|short| short.required - short.assigned)
                .sum(),
        ),
        ("broken_requests", solution.broken_requests.len() as i64),
        ("preference_days", solution.preference_days),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handbook's worked example: 7 people, each day 2 early, 1 middle, 2 late, 2 off; the
    /// handbook's transitions; person 5 works middle on day 1; person 4 is off on Sunday.
    fn handbook_example() -> serde_json::Value {
        serde_json::json!({
            "schema": "callcenter-roster/v1",
            "horizon": {"days": 7, "day0_weekday": "Mon", "cyclic": false},
            "off_shift": "O",
            "shift_order": ["E", "M", "L", "O"],
            "agents": (1..=7).map(|n| serde_json::json!({"index": n - 1, "id": format!("P{n}"),
                                                          "preferred_shifts": null}))
                             .collect::<Vec<_>>(),
            "rules": {"allowed_next": {"E": ["M", "L"], "M": ["E", "M", "L", "O"],
                                       "L": ["O", "M"], "O": ["E", "M"]},
                      "max_consecutive_working_days": 7, "min_days_off_per_week": 0},
            "coverage": {"required_per_shift": vec![[2, 1, 2]; 7],
                         "required_per_shift_order": ["E", "M", "L"]},
            "requests": [
                {"agent": 4, "day": 0, "kind": "shift", "shift": "M", "weight": 1000},
                {"agent": 3, "day": 6, "kind": "day_off", "weight": 1000}
            ],
            "objective": {"unmet_coverage_weight": 100, "over_coverage_weight": 100,
                          "preference_weight": 1}
        })
    }

    #[test]
    fn the_handbooks_seven_person_example_is_reproduced() {
        let instance = Instance::from_json(&handbook_example()).unwrap();
        for seed in [1, 2, 3] {
            let solution = solve(&instance, seed, Budget::moves(200_000)).unwrap();
            assert!(hard_violations(&instance, &solution.assignment).is_empty());
            // Every day exactly 2 early, 1 middle, 2 late and 2 off.
            for day in 0..7 {
                let count = |shift: usize| {
                    solution
                        .assignment
                        .iter()
                        .filter(|row| row[day] == shift)
                        .count()
                };
                assert_eq!(
                    (count(0), count(1), count(2), count(3)),
                    (2, 1, 2, 2),
                    "day {day}"
                );
            }
            assert_eq!(
                solution.assignment[4][0], 1,
                "person 5 works middle on day 1"
            );
            assert_eq!(solution.assignment[3][6], 3, "person 4 is off on Sunday");
            assert_eq!(solution.objective, 0);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_roster() {
        let instance = Instance::from_json(&handbook_example()).unwrap();
        let first = solve(&instance, 7, Budget::moves(50_000)).unwrap();
        let again = solve(&instance, 7, Budget::moves(50_000)).unwrap();
        assert_eq!(first.assignment, again.assignment);
    }

    #[test]
    fn the_solver_stops_when_the_callers_clock_says_its_time_is_up() {
        let instance = Instance::from_json(&handbook_example()).unwrap();
        // A clock that advances one millisecond each time it is read: five milliseconds are
        // five readings, 4,096 moves apart.
        let readings = std::cell::Cell::new(0_u64);
        let clock = || {
            readings.set(readings.get() + 1);
            std::time::Duration::from_millis(readings.get() - 1)
        };
        let budget = Budget {
            moves: u64::MAX,
            time: std::time::Duration::from_millis(5),
            elapsed: &clock,
        };
        let solution = solve(&instance, 1, budget).unwrap();
        assert_eq!(solution.moves, 5 * 4096);
        assert!(hard_violations(&instance, &solution.assignment).is_empty());
        // The same budget on the same clock gives the same roster.
        readings.set(0);
        assert_eq!(
            solve(&instance, 1, budget).unwrap().assignment,
            solution.assignment
        );
    }

    #[test]
    fn what_cannot_be_met_is_explained() {
        let mut example = handbook_example();
        // Ten early agents a day out of seven people: short, and said so per day.
        example["coverage"]["required_per_shift"] = serde_json::json!(vec![[10, 1, 2]; 7]);
        let instance = Instance::from_json(&example).unwrap();
        let solution = solve(&instance, 1, Budget::moves(100_000)).unwrap();
        assert!(hard_violations(&instance, &solution.assignment).is_empty());
        let short_early: Vec<&Shortfall> = solution
            .unmet
            .iter()
            .filter(|short| short.shift == "E")
            .collect();
        assert_eq!(short_early.len(), 7, "{:?}", solution.unmet);
        let json = solution.to_json(&instance);
        assert!(json["unmet_coverage"][0]["why"].is_string());
        // Each of the six others is held back by a rule or by their own shift's headcount.
        let short = &json["unmet_coverage"][0];
        let blocked: usize = short["blocked_by"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap() as usize)
            .sum();
        assert_eq!(
            blocked,
            7 - short["assigned"].as_u64().unwrap() as usize,
            "{short}"
        );
        assert!(short["blocked_by"].get("free").is_none(), "{short}");
        assert_eq!(json["assignment"].as_array().unwrap().len(), 7);
    }

    #[test]
    fn a_malformed_instance_is_refused_with_the_field() {
        let mut example = handbook_example();
        example["requests"][0]["shift"] = serde_json::json!("X");
        let error = Instance::from_json(&example).unwrap_err();
        assert_eq!(error.field, "requests[0]");
        let mut example = handbook_example();
        example["schema"] = serde_json::json!("other");
        assert_eq!(Instance::from_json(&example).unwrap_err().field, "schema");
    }
}
