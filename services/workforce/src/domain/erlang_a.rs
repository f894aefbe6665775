//! Staffing with Erlang A: Erlang C's model plus caller **patience** (M/M/n+M, Palm). Callers who
//! wait longer than an exponentially distributed patience (`--patience-seconds` on average) hang
//! up, which lightens the queue: Erlang C, which assumes everyone waits, overstaffs, as users of
//! the usual tools complain.
//!
//! The number of callers in the system is a birth–death chain (arrivals `λ`; departures
//! `min(k, n)·μ` served plus `max(k − n, 0)·θ` abandoning, `θ` = 1 / patience). Its stationary
//! distribution comes from the ratios of neighbouring states, in logarithms (no overflow for
//! thousands of agents, even overloaded), truncated where the tail is below 1e-16. An arriving
//! caller sees it (PASTA); one who finds `i` callers queued ahead reaches an agent after a sum of
//! exponential stages of rates `nμ + mθ` (`m = i … 0`) unless their own patience runs out first.
//! Tilting by the patience turns "served within T" into the distribution function of a sum of
//! stages of rates `nμ + (m + 1)θ`, which is computed for all queue positions at once by
//! uniformization. This gives exactly (up to 1e-12):
//! - the service level: the share of **all** callers answered within the target (those who hang
//!   up count against it);
//! - the probability of waiting, of abandoning, the ASA of answered calls and the occupancy.

use super::staffing::{ErlangCRequest, Limit, MAX_AGENTS, StaffingError, ceil_exact, load_erlangs};

/// What Erlang A predicts for `agents` agents.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErlangA {
    /// Agents on the phones.
    pub agents: u32,
    /// Share of all callers answered within the target.
    pub service_level: f64,
    /// Probability that a caller waits.
    pub wait_probability: f64,
    /// Probability that a caller hangs up before an agent answers.
    pub abandon_probability: f64,
    /// Average speed of answer of the answered calls, in seconds.
    pub asa_seconds: f64,
    /// Share of the agents' time on calls.
    pub occupancy: f64,
}

/// The staffing of one interval with patience.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StaffingA {
    /// The offered load, in erlangs.
    pub load_erlangs: f64,
    /// What those agents give.
    pub predicted: ErlangA,
    /// Agents to schedule once shrinkage is added.
    pub agents_with_shrinkage: u32,
    /// What decided the number.
    pub limited_by: Limit,
}

/// Erlang A for `agents` agents: `calls_per_second` arriving, `handle_seconds` average handling,
/// `patience_seconds` average patience, answer-time target `answer_seconds`.
pub fn erlang_a(
    agents: u32,
    calls_per_second: f64,
    handle_seconds: f64,
    patience_seconds: f64,
    answer_seconds: f64,
) -> ErlangA {
    let (lambda, mu, theta) = (
        calls_per_second,
        1.0 / handle_seconds,
        1.0 / patience_seconds,
    );
    let n = f64::from(agents);
    let departures = |k: usize| {
        let k = k as f64;
        k.min(n) * mu + (k - n).max(0.0) * theta
    };
    // Log-weights of states 0..=top, relative to state n.
    let agents_index = agents as usize;
    let mut below = vec![0.0_f64; agents_index + 1];
    for k in (1..=agents_index).rev() {
        below[k - 1] = below[k] + (departures(k) / lambda).ln();
    }
    let mut queued = vec![0.0_f64]; // queued[i]: state n + i
    let mut highest = below.iter().copied().fold(f64::MIN, f64::max);
    loop {
        let i = queued.len();
        let next = queued[i - 1] + (lambda / departures(agents_index + i)).ln();
        highest = highest.max(next);
        queued.push(next);
        let shrinking = lambda < departures(agents_index + i + 1);
        if (shrinking && next < highest - 37.0) || i > 2_000_000 {
            break;
        }
    }
    let weight = |log: f64| (log - highest).exp();
    let total: f64 = below[..agents_index]
        .iter()
        .map(|l| weight(*l))
        .sum::<f64>()
        + queued.iter().map(|l| weight(*l)).sum::<f64>();
    let served_at_once: f64 = below[..agents_index]
        .iter()
        .map(|l| weight(*l))
        .sum::<f64>()
        / total;
    let waiting: Vec<f64> = queued.iter().map(|l| weight(*l) / total).collect();
    // Tilted weights: reaching an agent before hanging up, from each queue position.
    let mut reach = Vec::with_capacity(waiting.len());
    let mut factor = 1.0;
    let mut mean_stages = 0.0;
    let mut served_wait = 0.0;
    for (i, pi) in waiting.iter().enumerate() {
        let rate = n * mu + i as f64 * theta;
        factor *= rate / (rate + theta);
        mean_stages += 1.0 / (rate + theta);
        reach.push(pi * factor);
        served_wait += pi * factor * mean_stages;
    }
    let served = served_at_once + reach.iter().sum::<f64>();
    let within = served_at_once + absorbed_by(&reach, n * mu, theta, answer_seconds);
    let busy: f64 = below[..agents_index]
        .iter()
        .enumerate()
        .map(|(k, l)| k as f64 * weight(*l) / total)
        .sum::<f64>()
        + n * waiting.iter().sum::<f64>();
    ErlangA {
        agents,
        service_level: within.clamp(0.0, 1.0),
        wait_probability: waiting.iter().sum::<f64>().clamp(0.0, 1.0),
        abandon_probability: (1.0 - served).clamp(0.0, 1.0),
        asa_seconds: if served > 0.0 {
            served_wait / served
        } else {
            0.0
        },
        occupancy: if agents == 0 { 0.0 } else { busy / n },
    }
}

/// The mass that a pure-death chain on queue positions (rate `base + (m + 1)·theta` out of
/// position `m`, absorbed after position 0) absorbs by `time`, starting from `mass`, by
/// uniformization.
fn absorbed_by(mass: &[f64], base: f64, theta: f64, time: f64) -> f64 {
    let total: f64 = mass.iter().sum();
    if total <= 0.0 || time <= 0.0 {
        return 0.0;
    }
    let rate = |m: usize| base + (m as f64 + 1.0) * theta;
    let uniform = rate(mass.len() - 1);
    let expected_jumps = uniform * time;
    let mut levels = mass.to_vec();
    // Absorbed mass after k jumps, weighted by the Poisson probability of k jumps by `time`
    // (in logarithms: no underflow for many jumps).
    let (mut absorbed, mut result, mut seen) = (0.0, 0.0, 0.0);
    let mut log_factorial = 0.0;
    let mut k: u64 = 0;
    loop {
        let log_poisson = -expected_jumps + k as f64 * expected_jumps.ln() - log_factorial;
        let poisson = log_poisson.exp();
        result += poisson * absorbed;
        seen += poisson;
        if absorbed >= total * (1.0 - 1e-15) {
            // Everything is absorbed: so it stays for any number of jumps still to come.
            return result + (1.0 - seen).max(0.0) * absorbed;
        }
        if k as f64 > expected_jumps && log_poisson < -40.0 {
            return result;
        }
        for m in 0..levels.len() {
            let leaving = levels[m] * rate(m) / uniform;
            levels[m] -= leaving;
            if m == 0 {
                absorbed += leaving;
            } else {
                levels[m - 1] += leaving;
            }
        }
        k += 1;
        log_factorial += (k as f64).ln();
    }
}

/// The fewest agents that answer the target share of all callers within the answer time and
/// stay within the maximum occupancy, with patience, and how many to schedule with shrinkage.
pub fn erlang_a_staffing(
    request: &ErlangCRequest,
    patience_seconds: f64,
) -> Result<StaffingA, StaffingError> {
    super::staffing::check(request)?;
    if !(patience_seconds.is_finite() && patience_seconds > 0.0) {
        return Err(StaffingError::Invalid {
            field: "patience_seconds",
            reason: "above 0",
        });
    }
    let load = load_erlangs(
        request.calls,
        request.handle_seconds,
        request.interval_seconds,
    );
    let rate = request.calls / request.interval_seconds;
    let predict = |agents: u32| {
        erlang_a(
            agents,
            rate,
            request.handle_seconds,
            patience_seconds,
            request.answer_seconds,
        )
    };
    if load == 0.0 {
        return Ok(StaffingA {
            load_erlangs: 0.0,
            predicted: ErlangA {
                agents: 0,
                service_level: 1.0,
                wait_probability: 0.0,
                abandon_probability: 0.0,
                asa_seconds: 0.0,
                occupancy: 0.0,
            },
            agents_with_shrinkage: 0,
            limited_by: Limit::NoCalls,
        });
    }
    let meets = |agents: u32| {
        let predicted = predict(agents);
        predicted.service_level >= request.service_level - 1e-12
    };
    let for_service = smallest(1, meets)?;
    let fits = |agents: u32| predict(agents).occupancy <= request.max_occupancy + 1e-12;
    let for_occupancy = smallest(1, fits)?;
    let (agents, limited_by) = if for_occupancy > for_service {
        (for_occupancy, Limit::Occupancy)
    } else {
        (for_service, Limit::ServiceLevel)
    };
    let with_shrinkage = ceil_exact(f64::from(agents) / (1.0 - request.shrinkage));
    if with_shrinkage > f64::from(MAX_AGENTS) {
        return Err(StaffingError::TooManyAgents);
    }
    Ok(StaffingA {
        load_erlangs: load,
        predicted: predict(agents),
        agents_with_shrinkage: with_shrinkage as u32,
        limited_by,
    })
}

/// The smallest agents from `low` up for which `holds` (which only turns true as agents grow).
fn smallest(low: u32, holds: impl Fn(u32) -> bool) -> Result<u32, StaffingError> {
    let mut high = low.max(1);
    while !holds(high) {
        if high >= MAX_AGENTS {
            return Err(StaffingError::TooManyAgents);
        }
        high = (high * 2).min(MAX_AGENTS);
    }
    let mut low = low.min(high);
    while low < high {
        let middle = low + (high - low) / 2;
        if holds(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    Ok(high)
}

#[cfg(test)]
mod tests {
    use super::super::staffing::{erlang_c_staffing, service_level};
    use super::*;

    #[test]
    fn with_endless_patience_erlang_a_is_erlang_c() {
        // 48 erlangs on 54 agents, 20 s target.
        let a = erlang_a(54, 0.2, 240.0, 1e9, 20.0);
        let c = service_level(54, 48.0, 240.0, 20.0);
        assert!((a.service_level - c).abs() < 1e-5, "{a:?} against {c}");
        assert!(a.abandon_probability < 1e-5);
    }

    #[test]
    fn impatient_callers_abandon_and_an_overloaded_floor_stays_finite() {
        let a = erlang_a(10, 0.1, 120.0, 60.0, 20.0);
        assert!(
            a.abandon_probability > 0.0 && a.abandon_probability < 1.0,
            "{a:?}"
        );
        // Twice the load the agents can carry: finite, most callers hang up or wait.
        let overloaded = erlang_a(2_000, 40.0, 100.0, 30.0, 20.0);
        assert!(overloaded.service_level.is_finite() && overloaded.abandon_probability > 0.4);
        assert!((overloaded.occupancy - 1.0).abs() < 1e-6, "{overloaded:?}");
    }

    /// A discrete-event simulation of M/M/n+M, first come first served.
    fn simulate(agents: usize, rate: f64, handle: f64, patience: f64, target: f64) -> (f64, f64) {
        let mut random = crate::random::Random::new(0x9E37_79B9_7F4A_7C15);
        let mut unit = move || random.unit();
        let mut free = vec![0.0_f64; agents];
        let (mut t, mut within, mut abandoned, calls) = (0.0, 0, 0, 300_000);
        for _ in 0..calls {
            t += -unit().ln() / rate;
            let limit = t + -unit().ln() * patience;
            let (index, next_free) = free
                .iter()
                .copied()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            let start = next_free.max(t);
            if start > limit {
                abandoned += 1;
                continue;
            }
            if start - t <= target {
                within += 1;
            }
            free[index] = start + -unit().ln() * handle;
        }
        (
            f64::from(within) / f64::from(calls),
            f64::from(abandoned) / f64::from(calls),
        )
    }

    #[test]
    fn erlang_a_matches_a_simulation_of_impatient_callers() {
        // 20 agents, 0.09 calls/s of 240 s (21.6 erlangs: overloaded without patience), 120 s
        // of patience on average, 20 s target.
        let a = erlang_a(20, 0.09, 240.0, 120.0, 20.0);
        let (service, abandon) = simulate(20, 0.09, 240.0, 120.0, 20.0);
        assert!(
            (a.service_level - service).abs() < 0.01,
            "{a:?} against {service}"
        );
        assert!(
            (a.abandon_probability - abandon).abs() < 0.01,
            "{a:?} against {abandon}"
        );
    }

    #[test]
    fn erlang_a_staffs_fewer_agents_than_erlang_c_which_overstaffs() {
        let request = ErlangCRequest {
            calls: 360.0,
            interval_seconds: 1800.0,
            handle_seconds: 240.0,
            answer_seconds: 20.0,
            service_level: 0.8,
            max_occupancy: 1.0,
            shrinkage: 0.3,
        };
        let c = erlang_c_staffing(&request).unwrap();
        let a = erlang_a_staffing(&request, 180.0).unwrap();
        assert!(a.predicted.agents < c.agents, "{a:?} against {c:?}");
        assert!(a.predicted.service_level >= 0.8);
        assert!(erlang_a(a.predicted.agents - 1, 0.2, 240.0, 180.0, 20.0).service_level < 0.8);
        assert_eq!(
            a.agents_with_shrinkage,
            ceil_exact(f64::from(a.predicted.agents) / 0.7) as u32
        );
        assert!(matches!(
            erlang_a_staffing(&request, 0.0),
            Err(StaffingError::Invalid {
                field: "patience_seconds",
                ..
            })
        ));
    }
}
