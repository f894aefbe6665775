//! Staffing with Erlang C (DOMAIN.md §7, KPIs §2: service level, average speed of answer).
//!
//! Calls arrive at random (Poisson) and are handled in an exponentially distributed time; callers
//! wait as long as it takes. With `A` erlangs of load (calls × handling time ÷ interval) on `N`
//! agents (`N > A`):
//!
//! - Erlang B by the stable recursion `B(0) = 1`, `B(n) = A·B(n−1) / (n + A·B(n−1))`;
//! - the probability of waiting `C = N·B / (N − A·(1 − B))`;
//! - the service level `1 − C·exp(−(N − A)·T / AHT)` for an answer-time target `T`;
//! - the average speed of answer `C·AHT / (N − A)`, and the occupancy `A / N`.
//!
//! [`erlang_c_staffing`] finds the fewest agents that meet the service-level target and stay
//! within the maximum occupancy, then adds shrinkage (time paid but not on the phones). Unlike
//! the usual scripts, the search starts at the first stable staffing `⌊A⌋ + 1` (starting at
//! `round(A + 1)` skips it when the fraction of `A` is one half or more), and a quotient that is
//! a whole number in decimal arithmetic is not rounded up by a float error (`136 ÷ (1 − 0.32)`
//! is 200 agents, not 201). The cost is one step of the recursion per agent: thousands of
//! agents take microseconds.

/// One interval's load and targets.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErlangCRequest {
    /// Calls offered in the interval.
    pub calls: f64,
    /// The interval's length, in seconds.
    pub interval_seconds: f64,
    /// Average handling time, in seconds.
    pub handle_seconds: f64,
    /// Answer-time target of the service level, in seconds.
    pub answer_seconds: f64,
    /// Service-level target: the share of calls answered within `answer_seconds` (0 to 1).
    pub service_level: f64,
    /// The highest occupancy allowed (above 0, up to 1 for no limit).
    pub max_occupancy: f64,
    /// The share of paid time not on the phones (0 up to, not including, 1).
    pub shrinkage: f64,
}

/// What limited the staffing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Limit {
    /// No calls: nobody is needed.
    NoCalls,
    /// The service-level target.
    ServiceLevel,
    /// The maximum occupancy (it needs more agents than the service level).
    Occupancy,
}

impl Limit {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::NoCalls => "no_calls",
            Limit::ServiceLevel => "service_level",
            Limit::Occupancy => "max_occupancy",
        }
    }
}

/// The staffing of one interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Staffing {
    /// The load, in erlangs.
    pub load_erlangs: f64,
    /// Agents on the phones.
    pub agents: u32,
    /// Agents to schedule once shrinkage is added.
    pub agents_with_shrinkage: u32,
    /// The service level those agents give.
    pub service_level: f64,
    /// The average speed of answer, in seconds.
    pub asa_seconds: f64,
    /// The occupancy.
    pub occupancy: f64,
    /// The probability that a call waits.
    pub wait_probability: f64,
    /// What decided the number.
    pub limited_by: Limit,
}

/// Why a request cannot be staffed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StaffingError {
    /// An input out of its range.
    #[error("{field}: {reason}")]
    Invalid {
        /// The input.
        field: &'static str,
        /// Its range.
        reason: &'static str,
    },
    /// More agents than [`MAX_AGENTS`] would be needed.
    #[error("more than {MAX_AGENTS} agents would be needed")]
    TooManyAgents,
}

/// The most agents one interval is staffed with.
pub const MAX_AGENTS: u32 = 1_000_000;

/// The load in erlangs: calls × handling time ÷ interval.
pub fn load_erlangs(calls: f64, handle_seconds: f64, interval_seconds: f64) -> f64 {
    calls * handle_seconds / interval_seconds
}

/// Erlang B's blocking with `agents` agents, from the value with one agent fewer.
fn next_erlang_b(load: f64, agents: u32, previous: f64) -> f64 {
    load * previous / (f64::from(agents) + load * previous)
}

/// Erlang B with `agents` agents and `load` erlangs.
pub fn erlang_b(agents: u32, load: f64) -> f64 {
    (1..=agents).fold(1.0, |blocking, n| next_erlang_b(load, n, blocking))
}

/// Erlang C's probability of waiting from Erlang B's blocking `b` (1 when `agents` do not
/// exceed the load).
fn wait_probability_from_b(agents: u32, load: f64, b: f64) -> f64 {
    let n = f64::from(agents);
    if n <= load {
        return 1.0;
    }
    (n * b / (n - load * (1.0 - b))).clamp(0.0, 1.0)
}

/// Erlang C: the probability that a call waits, with `agents` agents and `load` erlangs.
pub fn erlang_c(agents: u32, load: f64) -> f64 {
    wait_probability_from_b(agents, load, erlang_b(agents, load))
}

/// The share of calls answered within `answer_seconds`, given the probability of waiting.
fn service_level_from_wait(
    agents: u32,
    load: f64,
    wait: f64,
    handle_seconds: f64,
    answer_seconds: f64,
) -> f64 {
    let n = f64::from(agents);
    if n <= load {
        return 0.0;
    }
    (1.0 - wait * (-(n - load) * answer_seconds / handle_seconds).exp()).clamp(0.0, 1.0)
}

/// Erlang C's service level: the share of calls answered within `answer_seconds`.
pub fn service_level(agents: u32, load: f64, handle_seconds: f64, answer_seconds: f64) -> f64 {
    service_level_from_wait(
        agents,
        load,
        erlang_c(agents, load),
        handle_seconds,
        answer_seconds,
    )
}

/// Erlang C's average speed of answer, in seconds (infinite when the agents do not exceed the
/// load).
pub fn average_speed_of_answer(agents: u32, load: f64, handle_seconds: f64) -> f64 {
    let n = f64::from(agents);
    if n <= load {
        return f64::INFINITY;
    }
    erlang_c(agents, load) * handle_seconds / (n - load)
}

/// The smallest whole number not below `x`, where an `x` within a relative 1e-9 of a whole
/// number is that number (decimal inputs such as `136 / 0.68` land a float error away from it).
pub fn ceil_exact(x: f64) -> f64 {
    let nearest = x.round();
    if (x - nearest).abs() <= 1e-9 * nearest.abs().max(1.0) {
        nearest
    } else {
        x.ceil()
    }
}

/// Whether the request's inputs are in their ranges.
pub(crate) fn check(request: &ErlangCRequest) -> Result<(), StaffingError> {
    let invalid = |field, reason| Err(StaffingError::Invalid { field, reason });
    let finite = |value: f64| value.is_finite();
    if !finite(request.calls) || request.calls < 0.0 {
        return invalid("calls", "0 or more");
    }
    if !finite(request.interval_seconds) || request.interval_seconds <= 0.0 {
        return invalid("interval_seconds", "above 0");
    }
    if !finite(request.handle_seconds) || request.handle_seconds <= 0.0 {
        return invalid("handle_seconds", "above 0");
    }
    if !finite(request.answer_seconds) || request.answer_seconds < 0.0 {
        return invalid("answer_seconds", "0 or more");
    }
    if !(0.0..=1.0).contains(&request.service_level) {
        return invalid("service_level", "0 to 1");
    }
    if !(request.max_occupancy > 0.0 && request.max_occupancy <= 1.0) {
        return invalid("max_occupancy", "above 0, up to 1");
    }
    if !(0.0..1.0).contains(&request.shrinkage) {
        return invalid("shrinkage", "0 up to, not including, 1");
    }
    Ok(())
}

/// The fewest agents that meet the service-level target within the maximum occupancy, and how
/// many to schedule with shrinkage.
pub fn erlang_c_staffing(request: &ErlangCRequest) -> Result<Staffing, StaffingError> {
    check(request)?;
    let load = load_erlangs(
        request.calls,
        request.handle_seconds,
        request.interval_seconds,
    );
    if load == 0.0 {
        return Ok(Staffing {
            load_erlangs: 0.0,
            agents: 0,
            agents_with_shrinkage: 0,
            service_level: 1.0,
            asa_seconds: 0.0,
            occupancy: 0.0,
            wait_probability: 0.0,
            limited_by: Limit::NoCalls,
        });
    }
    let too_many = |agents: f64| agents > f64::from(MAX_AGENTS);
    // The first stable staffing, and Erlang B up to it.
    let first = load.floor() + 1.0;
    if too_many(first) {
        return Err(StaffingError::TooManyAgents);
    }
    let mut agents = first as u32;
    let mut blocking = erlang_b(agents, load);
    let level = |agents: u32, blocking: f64| {
        let wait = wait_probability_from_b(agents, load, blocking);
        service_level_from_wait(
            agents,
            load,
            wait,
            request.handle_seconds,
            request.answer_seconds,
        )
    };
    while level(agents, blocking) < request.service_level - 1e-12 {
        agents += 1;
        if agents > MAX_AGENTS {
            return Err(StaffingError::TooManyAgents);
        }
        blocking = next_erlang_b(load, agents, blocking);
    }
    let mut limited_by = Limit::ServiceLevel;
    let for_occupancy = ceil_exact(load / request.max_occupancy);
    if too_many(for_occupancy) {
        return Err(StaffingError::TooManyAgents);
    }
    if for_occupancy > f64::from(agents) {
        let needed = for_occupancy as u32;
        for n in agents + 1..=needed {
            blocking = next_erlang_b(load, n, blocking);
        }
        agents = needed;
        limited_by = Limit::Occupancy;
    }
    let with_shrinkage = ceil_exact(f64::from(agents) / (1.0 - request.shrinkage));
    if too_many(with_shrinkage) {
        return Err(StaffingError::TooManyAgents);
    }
    let wait = wait_probability_from_b(agents, load, blocking);
    Ok(Staffing {
        load_erlangs: load,
        agents,
        agents_with_shrinkage: with_shrinkage as u32,
        service_level: level(agents, blocking),
        asa_seconds: wait * request.handle_seconds / (f64::from(agents) - load),
        occupancy: load / f64::from(agents),
        wait_probability: wait,
        limited_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(calls: f64, interval: f64, handle: f64, answer: f64, target: f64) -> ErlangCRequest {
        ErlangCRequest {
            calls,
            interval_seconds: interval,
            handle_seconds: handle,
            answer_seconds: answer,
            service_level: target,
            max_occupancy: 1.0,
            shrinkage: 0.0,
        }
    }

    #[test]
    fn erlang_c_matches_the_textbook() {
        // 10 erlangs on 11 agents: P(wait) = 0.6821 (standard tables).
        assert!((erlang_c(11, 10.0) - 0.6821).abs() < 1e-4);
        // 360 calls of 240 s in 30 minutes (48 erlangs), 80% within 20 s: 54 agents, with
        // P(wait) 0.3013, SL 0.8172 and ASA 12.05 s (checked against the factorial form).
        let staffing = erlang_c_staffing(&request(360.0, 1800.0, 240.0, 20.0, 0.8)).unwrap();
        assert_eq!(staffing.agents, 54);
        assert!(
            (staffing.wait_probability - 0.3013).abs() < 1e-4,
            "{staffing:?}"
        );
        assert!(
            (staffing.service_level - 0.8172).abs() < 1e-4,
            "{staffing:?}"
        );
        assert!((staffing.asa_seconds - 12.05).abs() < 0.01, "{staffing:?}");
        assert_eq!(staffing.limited_by, Limit::ServiceLevel);
    }

    #[test]
    fn the_search_starts_at_the_first_stable_staffing() {
        // 106 calls of 180 s in 30 minutes (10.6 erlangs), 50% within 300 s: 11 agents suffice.
        let staffing = erlang_c_staffing(&request(106.0, 1800.0, 180.0, 300.0, 0.5)).unwrap();
        assert_eq!(staffing.agents, 11);
        assert!(staffing.service_level >= 0.5);
    }

    #[test]
    fn shrinkage_and_occupancy_quotients_that_are_whole_numbers_are_not_rounded_up() {
        assert_eq!(ceil_exact(136.0 / (1.0 - 0.32)), 200.0);
        assert_eq!(ceil_exact(8.5 / 0.85), 10.0);
        assert_eq!(ceil_exact(10.000_001), 11.0);
        // 136 agents on the phones with 32% shrinkage: 200 to schedule.
        let mut with_shrinkage = request(1.0, 1800.0, 1.0, 20.0, 0.0);
        with_shrinkage.shrinkage = 0.32;
        let staffing = erlang_c_staffing(&ErlangCRequest {
            calls: 135.5 * 1800.0 / 100.0,
            handle_seconds: 100.0,
            ..with_shrinkage
        })
        .unwrap();
        assert_eq!(
            (staffing.agents, staffing.agents_with_shrinkage),
            (136, 200)
        );
    }

    #[test]
    fn the_maximum_occupancy_can_ask_for_more_agents_than_the_service_level() {
        // 8.5 erlangs at most 85% busy: 10 agents, though 9 meet 30% within 60 s.
        let mut capped = request(85.0, 1800.0, 180.0, 60.0, 0.3);
        capped.max_occupancy = 0.85;
        let staffing = erlang_c_staffing(&capped).unwrap();
        assert_eq!(
            (staffing.agents, staffing.limited_by),
            (10, Limit::Occupancy)
        );
        assert!((staffing.occupancy - 0.85).abs() < 1e-12);
    }

    #[test]
    fn thousands_of_agents_stay_finite_and_monotone() {
        let staffing = erlang_c_staffing(&request(90_000.0, 1800.0, 90.0, 20.0, 0.9)).unwrap();
        assert!(
            staffing.agents > 4_500 && staffing.agents < 4_700,
            "{staffing:?}"
        );
        assert!(staffing.service_level.is_finite() && staffing.asa_seconds.is_finite());
        // One agent fewer misses the target.
        let fewer = service_level(staffing.agents - 1, staffing.load_erlangs, 90.0, 20.0);
        assert!(fewer < 0.9, "{fewer}");
    }

    #[test]
    fn no_calls_need_no_agents_and_bad_input_is_refused() {
        let staffing = erlang_c_staffing(&request(0.0, 1800.0, 180.0, 20.0, 0.8)).unwrap();
        assert_eq!((staffing.agents, staffing.limited_by), (0, Limit::NoCalls));
        for (bad, field) in [
            (request(-1.0, 1800.0, 180.0, 20.0, 0.8), "calls"),
            (request(1.0, 0.0, 180.0, 20.0, 0.8), "interval_seconds"),
            (request(1.0, 1800.0, f64::NAN, 20.0, 0.8), "handle_seconds"),
            (request(1.0, 1800.0, 180.0, 20.0, 1.5), "service_level"),
        ] {
            match erlang_c_staffing(&bad) {
                Err(StaffingError::Invalid { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut full_shrinkage = request(1.0, 1800.0, 180.0, 20.0, 0.8);
        full_shrinkage.shrinkage = 1.0;
        assert!(erlang_c_staffing(&full_shrinkage).is_err());
    }
}
