//! Intraday: the handbook's **traffic anomaly** (话务异动, DOMAIN.md §3, §7). When the calls of an
//! interval depart from the forecast by more than a threshold, the duty lead is alerted with the
//! agents the actual volume needs beside those the forecast planned (Erlang C on both).

use super::staffing::{ErlangCRequest, StaffingError, erlang_c_staffing};

/// A traffic anomaly in one interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrafficAnomaly {
    /// Which interval.
    pub interval: usize,
    /// Calls forecast.
    pub forecast_calls: f64,
    /// Calls that came (or, for the current interval, its pace over the whole interval).
    pub actual_calls: f64,
    /// Actual ÷ forecast − 1 (0.3: 30% more calls).
    pub departure: f64,
    /// Agents the forecast planned on the phones.
    pub planned_agents: u32,
    /// Agents the actual volume needs on the phones.
    pub needed_agents: u32,
}

impl TrafficAnomaly {
    /// Agents to call in (0 when fewer are needed).
    pub fn extra_agents(&self) -> u32 {
        self.needed_agents.saturating_sub(self.planned_agents)
    }
}

/// The anomalies among the intervals: where actual calls depart from the forecast by more than
/// `threshold` (0.2: 20%, either way). `targets` holds the interval's length, handling time and
/// service-level targets (its `calls` is ignored).
pub fn traffic_anomalies(
    forecast: &[f64],
    actual: &[f64],
    threshold: f64,
    targets: &ErlangCRequest,
) -> Result<Vec<TrafficAnomaly>, StaffingError> {
    if !(threshold.is_finite() && threshold > 0.0) {
        return Err(StaffingError::Invalid {
            field: "threshold",
            reason: "above 0",
        });
    }
    let mut anomalies = Vec::new();
    for (interval, (planned, came)) in forecast.iter().zip(actual).enumerate() {
        let departure = if *planned > 0.0 {
            came / planned - 1.0
        } else if *came > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        if departure.abs() <= threshold {
            continue;
        }
        let agents = |calls: f64| {
            erlang_c_staffing(&ErlangCRequest { calls, ..*targets }).map(|staffing| staffing.agents)
        };
        anomalies.push(TrafficAnomaly {
            interval,
            forecast_calls: *planned,
            actual_calls: *came,
            departure,
            planned_agents: agents(*planned)?,
            needed_agents: agents(*came)?,
        });
    }
    Ok(anomalies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> ErlangCRequest {
        ErlangCRequest {
            calls: 0.0,
            interval_seconds: 1800.0,
            handle_seconds: 240.0,
            answer_seconds: 20.0,
            service_level: 0.8,
            max_occupancy: 1.0,
            shrinkage: 0.0,
        }
    }

    #[test]
    fn a_surge_beyond_the_threshold_raises_a_traffic_anomaly_with_the_extra_agents() {
        let forecast = [360.0, 360.0, 360.0, 0.0];
        let actual = [380.0, 540.0, 200.0, 0.0];
        let anomalies = traffic_anomalies(&forecast, &actual, 0.2, &targets()).unwrap();
        assert_eq!(
            anomalies.iter().map(|a| a.interval).collect::<Vec<_>>(),
            [1, 2],
            "5% is within 20%; +50% and -44% are not"
        );
        let surge = anomalies[0];
        assert!((surge.departure - 0.5).abs() < 1e-12);
        assert_eq!(surge.planned_agents, 54);
        assert!(surge.needed_agents > 54 && surge.extra_agents() == surge.needed_agents - 54);
        let lull = anomalies[1];
        assert_eq!(lull.extra_agents(), 0);
        assert!(traffic_anomalies(&forecast, &actual, 0.0, &targets()).is_err());
    }
}
