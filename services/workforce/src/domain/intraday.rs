//! Intraday: the handbook's **traffic anomaly** (话务异动, DOMAIN.md §3, §7). When the calls of an
//! interval depart from the forecast by more than a threshold, the duty lead is alerted with the
//! agents the actual volume needs beside those the forecast planned (Erlang C on both).
//!
//! During the day the forecast a planner published for a queue ([`IntradayPlan`]) is watched against
//! the calls that come ([`judge_interval`]): an interval whose calls already exceed the forecast
//! by more than the threshold is an anomaly at once (the count only grows); from a third of the
//! interval on, its pace over the whole interval is judged; when it has ended, its count. Each
//! interval raises at most one alert, an event for the duty lead.

use std::collections::BTreeMap;

use callcenter_kit::{Aggregate, Name};

use super::staffing::{ErlangCRequest, StaffingError, erlang_c_staffing};

/// A traffic anomaly in one interval.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// One interval of a published plan.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanInterval {
    /// Calls forecast.
    pub calls: f64,
    /// Average handling time forecast, in seconds.
    pub handle_seconds: f64,
}

/// The plan a planner published for a queue.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PublishedPlan {
    /// The queue's center.
    pub center_id: Name,
    /// Interval length in minutes (15 or 30).
    pub interval_minutes: u32,
    /// Departure from the forecast that raises an alert (0.2: 20%, either way).
    pub threshold: f64,
    /// The service asked (its `calls`, `interval_seconds` and `handle_seconds` are per interval).
    pub targets: ErlangCRequest,
    /// By interval start (Unix milliseconds).
    pub intervals: BTreeMap<i64, PlanInterval>,
}

impl PublishedPlan {
    fn interval_ms(&self) -> i64 {
        i64::from(self.interval_minutes) * 60_000
    }

    /// The interval under way at `now`, with its start.
    pub fn interval_at(&self, now: i64) -> Option<(i64, &PlanInterval)> {
        let (start, interval) = self.intervals.range(..=now).next_back()?;
        (now < start + self.interval_ms()).then_some((*start, interval))
    }

    /// The anomaly of one interval whose `actual` calls are known, if they depart from the
    /// forecast by more than the threshold.
    pub fn anomaly(
        &self,
        interval: &PlanInterval,
        actual: f64,
    ) -> Result<Option<TrafficAnomaly>, StaffingError> {
        let targets = ErlangCRequest {
            interval_seconds: self.interval_ms() as f64 / 1_000.0,
            handle_seconds: interval.handle_seconds.max(1.0),
            ..self.targets
        };
        Ok(
            traffic_anomalies(&[interval.calls], &[actual], self.threshold, &targets)?
                .into_iter()
                .next(),
        )
    }
}

/// A call count judged against an interval, or `None` while it cannot be told yet.
///
/// `count`: calls so far; `elapsed`: how far into the interval `now` is (0 to 1; 1 or more when it
/// has ended).
pub fn judge_interval(
    plan: &PublishedPlan,
    interval: &PlanInterval,
    count: f64,
    elapsed: f64,
) -> Result<Option<TrafficAnomaly>, StaffingError> {
    // From a third of the interval until its end, the pace over the whole interval.
    let actual = if (1.0 / 3.0..1.0).contains(&elapsed) {
        count / elapsed
    } else {
        count
    };
    let anomaly = plan.anomaly(interval, actual)?;
    Ok(anomaly.filter(|anomaly| {
        // Before the end only a surge is certain: the count can still grow.
        elapsed >= 1.0 || anomaly.departure > 0.0
    }))
}

/// A queue's plan and the alerts it raised.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IntradayPlan {
    /// The published plan.
    pub plan: Option<PublishedPlan>,
    /// Alerts raised, by interval start.
    pub anomalies: BTreeMap<i64, TrafficAnomaly>,
}

/// What can be asked of a queue's plan.
#[derive(Clone, Debug, PartialEq)]
pub enum IntradayCommand {
    /// Publishes (or replaces) the plan.
    Publish(PublishedPlan),
    /// Raises the alert of an interval (once).
    RaiseAnomaly {
        /// The interval's start.
        interval_start: i64,
        /// What was judged.
        anomaly: TrafficAnomaly,
    },
}

/// What a queue's plan records.
#[derive(Clone, Debug, PartialEq)]
pub enum IntradayEvent {
    /// Published.
    Published(PublishedPlan),
    /// An interval's traffic departed from the forecast.
    AnomalyDetected {
        /// The interval's start.
        interval_start: i64,
        /// What was judged.
        anomaly: TrafficAnomaly,
    },
}

/// Why a queue's plan refuses a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntradayError {
    /// A plan that cannot be watched.
    #[error("{field}: {reason}")]
    Invalid {
        /// Which.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// No plan to alert against.
    #[error("the queue has no published plan")]
    NoPlan,
}

impl Aggregate for IntradayPlan {
    const CONTEXT: &'static str = "workforce";
    const TYPE: &'static str = "intraday_plan";
    type Command = IntradayCommand;
    type Event = IntradayEvent;
    type Error = IntradayError;

    fn decide(&self, command: &IntradayCommand) -> Result<Vec<IntradayEvent>, IntradayError> {
        match command {
            IntradayCommand::Publish(plan) => {
                let invalid = |field, reason: &str| IntradayError::Invalid {
                    field,
                    reason: reason.to_owned(),
                };
                if ![15, 30].contains(&plan.interval_minutes) {
                    return Err(invalid("interval_minutes", "15 or 30"));
                }
                if !(plan.threshold.is_finite() && plan.threshold > 0.0) {
                    return Err(invalid("threshold", "above 0"));
                }
                if plan.intervals.is_empty() || plan.intervals.len() > 6 * 7 * 96 {
                    return Err(invalid("intervals", "1 to 4,032 intervals"));
                }
                let interval_ms = plan.interval_ms();
                if plan.intervals.iter().any(|(start, interval)| {
                    start % interval_ms != 0
                        || !(interval.calls.is_finite() && interval.calls >= 0.0)
                        || !(interval.handle_seconds.is_finite() && interval.handle_seconds >= 0.0)
                }) {
                    return Err(invalid(
                        "intervals",
                        "starts on interval boundaries (UTC), calls and handling time 0 or more",
                    ));
                }
                let probe = ErlangCRequest {
                    calls: 1.0,
                    interval_seconds: interval_ms as f64 / 1_000.0,
                    handle_seconds: 1.0,
                    ..plan.targets
                };
                super::staffing::check(&probe).map_err(|error| IntradayError::Invalid {
                    field: "targets",
                    reason: error.to_string(),
                })?;
                if self.plan.as_ref() == Some(plan) {
                    return Ok(vec![]);
                }
                Ok(vec![IntradayEvent::Published(plan.clone())])
            }
            IntradayCommand::RaiseAnomaly {
                interval_start,
                anomaly,
            } => {
                if self.plan.is_none() {
                    return Err(IntradayError::NoPlan);
                }
                if self.anomalies.contains_key(interval_start) {
                    return Ok(vec![]);
                }
                Ok(vec![IntradayEvent::AnomalyDetected {
                    interval_start: *interval_start,
                    anomaly: *anomaly,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &IntradayEvent) {
        match event {
            IntradayEvent::Published(plan) => self.plan = Some(plan.clone()),
            IntradayEvent::AnomalyDetected {
                interval_start,
                anomaly,
            } => {
                self.anomalies.insert(*interval_start, *anomaly);
            }
        }
    }
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

    fn plan() -> PublishedPlan {
        PublishedPlan {
            center_id: callcenter_kit::testing::name("langfang"),
            interval_minutes: 30,
            threshold: 0.2,
            targets: targets(),
            intervals: [(
                0,
                PlanInterval {
                    calls: 360.0,
                    handle_seconds: 240.0,
                },
            )]
            .into(),
        }
    }

    #[test]
    fn a_traffic_anomaly_is_certain_once_the_count_passes_the_threshold_or_the_interval_ends() {
        let plan = plan();
        let interval = plan.intervals[&0];
        // 440 calls 10 minutes in: beyond 20% already, whatever comes next.
        let early = judge_interval(&plan, &interval, 440.0, 1.0 / 3.0).unwrap();
        assert!(early.is_some_and(|a| a.extra_agents() > 0));
        // 150 calls 10 minutes in: a pace of 450, 25% above.
        let pace = judge_interval(&plan, &interval, 150.0, 1.0 / 3.0).unwrap();
        assert!(pace.is_some_and(|a| (a.actual_calls - 450.0).abs() < 1e-9));
        // 150 calls 5 minutes in: too early to tell from the pace; a lull is told at the end.
        assert_eq!(
            judge_interval(&plan, &interval, 150.0, 1.0 / 6.0).unwrap(),
            None
        );
        assert_eq!(judge_interval(&plan, &interval, 100.0, 0.5).unwrap(), None);
        let lull = judge_interval(&plan, &interval, 200.0, 1.0).unwrap();
        assert!(lull.is_some_and(|a| a.departure < 0.0 && a.extra_agents() == 0));
        assert_eq!(plan.interval_at(1_799_999).map(|(start, _)| start), Some(0));
        assert_eq!(plan.interval_at(1_800_000), None);
    }

    #[test]
    fn each_interval_raises_at_most_one_alert() {
        use callcenter_kit::testing::given;
        let anomaly = plan()
            .anomaly(&plan().intervals[&0], 540.0)
            .unwrap()
            .expect("an anomaly");
        let raise = IntradayCommand::RaiseAnomaly {
            interval_start: 0,
            anomaly,
        };
        given::<IntradayPlan>(vec![])
            .when(raise.clone())
            .then_error(IntradayError::NoPlan);
        let published = IntradayEvent::Published(plan());
        let detected = IntradayEvent::AnomalyDetected {
            interval_start: 0,
            anomaly,
        };
        given::<IntradayPlan>(vec![published.clone()])
            .when(raise.clone())
            .then([detected.clone()]);
        given::<IntradayPlan>(vec![published, detected])
            .when(raise)
            .then([]);
        let mut misaligned = plan();
        misaligned
            .intervals
            .insert(60_000, misaligned.intervals[&0]);
        assert!(matches!(
            given::<IntradayPlan>(vec![])
                .when(IntradayCommand::Publish(misaligned))
                .then_refused(),
            IntradayError::Invalid {
                field: "intervals",
                ..
            }
        ));
    }
}
