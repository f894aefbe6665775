//! A queue's plan: the forecast of its calls and handling time per interval for the weeks ahead,
//! from reporting's 15-minute interval counts, and the agents each interval needs (Erlang C, or
//! Erlang A with caller patience) — DOMAIN.md §7, "staffing from a forecast of volume by time
//! period from history".
//!
//! The history is aligned on the center's local Monday 00:00, so that the forecast's weekly and
//! intraday seasonality are the center's. Intervals without any row had no calls. Where calls came
//! but none ended after an answer, the history's average handling time stands in. The last
//! `held_out_weeks` of the history are forecast from the weeks before them and compared with what
//! happened (MAPE and WAPE), so that a planner sees how good the forecast is before using it.

use super::erlang_a::erlang_a_staffing;
use super::forecast::{
    Forecast, ForecastError, ForecastErrors, History, Override, errors, forecast,
};
use super::staffing::{ErlangCRequest, StaffingError, erlang_c_staffing};

/// Milliseconds in a week.
pub const WEEK_MS: i64 = 7 * 24 * 3_600 * 1_000;

/// One stored 15-minute interval of a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntervalRow {
    /// Its start (Unix milliseconds, a UTC quarter hour).
    pub start_ms: i64,
    /// Calls that entered the queue.
    pub offered: i64,
    /// Calls that ended after an answer.
    pub handled: i64,
    /// Their talk time in all.
    pub handle_ms: i64,
}

/// What to plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanRequest {
    /// The local Monday 00:00 the forecast starts at (Unix milliseconds); the history is the
    /// weeks before it.
    pub start_ms: i64,
    /// Weeks of history.
    pub history_weeks: usize,
    /// Weeks to forecast.
    pub weeks: usize,
    /// 15 or 30.
    pub interval_minutes: u32,
    /// Weeks at the end of the history forecast from the rest, to measure the error.
    pub held_out_weeks: usize,
    /// Planners' values: (interval start, calls).
    pub overrides: Vec<(i64, f64)>,
    /// The service targets (its `calls` and `interval_seconds` are set per interval).
    pub targets: ErlangCRequest,
    /// Callers' average patience (Erlang A); `None`: Erlang C.
    pub patience_seconds: Option<f64>,
}

/// One interval of the plan.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlannedInterval {
    /// Its start (Unix milliseconds).
    pub start_ms: i64,
    /// Calls expected.
    pub calls: f64,
    /// Average handling time expected, in seconds.
    pub handle_seconds: f64,
    /// Agents on the phones.
    pub agents: u32,
    /// Agents to schedule with shrinkage.
    pub agents_with_shrinkage: u32,
}

/// A queue's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuePlan {
    /// Interval by interval.
    pub intervals: Vec<PlannedInterval>,
    /// The error on the held-out weeks, if any were held out.
    pub held_out: Option<ForecastErrors>,
    /// Calls in the history.
    pub history_calls: f64,
}

/// Why a queue cannot be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A request out of its range.
    #[error("{field}: {reason}")]
    Invalid {
        /// Which.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The forecast refused the history.
    #[error(transparent)]
    Forecast(#[from] ForecastError),
    /// Staffing refused the targets.
    #[error(transparent)]
    Staffing(#[from] StaffingError),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PlanError {
    PlanError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl PlanRequest {
    /// What is wrong with the request, before any history is read; otherwise the planners'
    /// overrides as intervals of the forecast.
    pub fn check(&self) -> Result<Vec<Override>, PlanError> {
        if ![15, 30].contains(&self.interval_minutes) {
            return Err(invalid("interval_minutes", "15 or 30"));
        }
        if !(1..=6).contains(&self.weeks) {
            return Err(invalid("weeks", "1 to 6"));
        }
        if !(2..=52).contains(&self.history_weeks) {
            return Err(invalid("history_weeks", "2 to 52"));
        }
        if self.history_weeks < self.held_out_weeks + 2 || self.held_out_weeks > 4 {
            return Err(invalid(
                "held_out_weeks",
                "0 to 4, leaving at least two weeks of history before them",
            ));
        }
        let interval_ms = i64::from(self.interval_minutes) * 60_000;
        super::staffing::check(&ErlangCRequest {
            calls: 0.0,
            interval_seconds: interval_ms as f64 / 1_000.0,
            handle_seconds: 1.0,
            ..self.targets
        })?;
        if self
            .patience_seconds
            .is_some_and(|patience| !(patience.is_finite() && patience > 0.0))
        {
            return Err(invalid("patience_seconds", "above 0"));
        }
        self.overrides
            .iter()
            .map(|(start_ms, calls)| {
                let offset = start_ms - self.start_ms;
                if offset < 0 || offset % interval_ms != 0 {
                    return Err(invalid(
                        "overrides",
                        format!("{start_ms} is not the start of an interval of the forecast"),
                    ));
                }
                Ok(Override {
                    interval: (offset / interval_ms) as usize,
                    offered: *calls,
                })
            })
            .collect()
    }
}

/// The history of `weeks` weeks before `start_ms`, in intervals of `interval_minutes`.
pub fn history_from_rows(
    rows: &[IntervalRow],
    start_ms: i64,
    weeks: usize,
    interval_minutes: u32,
) -> History {
    let interval_ms = i64::from(interval_minutes) * 60_000;
    let per_week = (WEEK_MS / interval_ms) as usize;
    let first = start_ms - weeks as i64 * WEEK_MS;
    let mut offered = vec![0.0; per_week * weeks];
    let mut handled = vec![0.0; per_week * weeks];
    let mut handle_ms = vec![0.0; per_week * weeks];
    for row in rows {
        if row.start_ms < first || row.start_ms >= start_ms {
            continue;
        }
        let index = ((row.start_ms - first) / interval_ms) as usize;
        offered[index] += row.offered as f64;
        handled[index] += row.handled as f64;
        handle_ms[index] += row.handle_ms as f64;
    }
    let (all_handled, all_ms): (f64, f64) = (handled.iter().sum(), handle_ms.iter().sum());
    let average = if all_handled > 0.0 {
        all_ms / all_handled / 1_000.0
    } else {
        0.0
    };
    let handle_seconds = handled
        .iter()
        .zip(&handle_ms)
        .map(|(count, ms)| {
            if *count > 0.0 {
                ms / count / 1_000.0
            } else {
                average
            }
        })
        .collect();
    History {
        interval_minutes,
        offered,
        handle_seconds,
    }
}

/// The queue's plan from its stored intervals.
pub fn plan_queue(rows: &[IntervalRow], request: &PlanRequest) -> Result<QueuePlan, PlanError> {
    let overrides = request.check()?;
    let history = history_from_rows(
        rows,
        request.start_ms,
        request.history_weeks,
        request.interval_minutes,
    );
    let per_week = history.per_week();
    let interval_ms = i64::from(request.interval_minutes) * 60_000;
    let held_out = (request.held_out_weeks > 0)
        .then(|| {
            let cut = (request.history_weeks - request.held_out_weeks) * per_week;
            let earlier = History {
                interval_minutes: request.interval_minutes,
                offered: history.offered[..cut].to_vec(),
                handle_seconds: history.handle_seconds[..cut].to_vec(),
            };
            let predicted = forecast(&earlier, request.held_out_weeks, &[])?;
            Ok::<_, ForecastError>(errors(&predicted.offered, &history.offered[cut..]))
        })
        .transpose()?;
    let Forecast {
        offered,
        handle_seconds,
    } = forecast(&history, request.weeks, &overrides)?;
    let mut intervals = Vec::with_capacity(offered.len());
    for (index, (calls, handle)) in offered.iter().zip(&handle_seconds).enumerate() {
        let (agents, agents_with_shrinkage) = if *calls <= 0.0 {
            (0, 0)
        } else {
            let staffing_request = ErlangCRequest {
                calls: *calls,
                interval_seconds: f64::from(request.interval_minutes) * 60.0,
                handle_seconds: *handle,
                ..request.targets
            };
            match request.patience_seconds {
                Some(patience) => {
                    let staffing = erlang_a_staffing(&staffing_request, patience)?;
                    (staffing.predicted.agents, staffing.agents_with_shrinkage)
                }
                None => {
                    let staffing = erlang_c_staffing(&staffing_request)?;
                    (staffing.agents, staffing.agents_with_shrinkage)
                }
            }
        };
        intervals.push(PlannedInterval {
            start_ms: request.start_ms + index as i64 * interval_ms,
            calls: *calls,
            handle_seconds: *handle,
            agents,
            agents_with_shrinkage,
        });
    }
    Ok(QueuePlan {
        intervals,
        held_out,
        history_calls: history.offered.iter().sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUARTER: i64 = 15 * 60_000;

    fn targets() -> ErlangCRequest {
        ErlangCRequest {
            calls: 0.0,
            interval_seconds: 0.0,
            handle_seconds: 0.0,
            answer_seconds: 20.0,
            service_level: 0.8,
            max_occupancy: 0.85,
            shrinkage: 0.3,
        }
    }

    /// Four weeks of a queue that takes 10 calls every weekday quarter hour from 09:00 to 18:00
    /// (3 minutes each), and none at night or at weekends.
    fn weekday_rows(start_ms: i64) -> Vec<IntervalRow> {
        let mut rows = Vec::new();
        for week in 0..4 {
            for day in 0..5 {
                for quarter in 36..72 {
                    rows.push(IntervalRow {
                        start_ms: start_ms - (4 - week) * WEEK_MS
                            + day * 24 * 4 * QUARTER
                            + quarter * QUARTER,
                        offered: 10,
                        handled: 10,
                        handle_ms: 10 * 180_000,
                    });
                }
            }
        }
        rows
    }

    fn request(start_ms: i64) -> PlanRequest {
        PlanRequest {
            start_ms,
            history_weeks: 4,
            weeks: 1,
            interval_minutes: 15,
            held_out_weeks: 1,
            overrides: vec![(start_ms + 44 * QUARTER, 20.0)],
            targets: targets(),
            patience_seconds: None,
        }
    }

    #[test]
    fn required_agents_per_interval_come_from_the_forecast_of_the_interval_history() {
        // A Monday 00:00 (2026-11-30 in UTC).
        let start_ms = 20_787 * 24 * 3_600 * 1_000;
        let plan = plan_queue(&weekday_rows(start_ms), &request(start_ms)).expect("a plan");
        assert_eq!(plan.intervals.len(), 7 * 96);
        assert_eq!(plan.history_calls, 4.0 * 5.0 * 36.0 * 10.0);
        // A steady history forecasts itself, but for the smoothing at the day's edges.
        let held_out = plan.held_out.expect("a week held out");
        assert!(held_out.wape < 0.05, "{held_out:?}");
        // Monday 10:00: 10 calls of 3 minutes in 15 minutes (2 erlangs) need 4 agents for 80%
        // within 20 s, 6 with 30% shrinkage; at night nobody.
        let ten = plan.intervals[40];
        assert!((ten.calls - 10.0).abs() < 1e-6, "{ten:?}");
        assert!((ten.handle_seconds - 180.0).abs() < 1e-6, "{ten:?}");
        assert_eq!((ten.agents, ten.agents_with_shrinkage), (4, 6));
        assert_eq!(plan.intervals[8].agents, 0);
        // The planner's override of Monday 11:00 is kept, and staffed.
        assert_eq!(plan.intervals[44].calls, 20.0);
        assert!(plan.intervals[44].agents > ten.agents);
        // Erlang A with patient callers needs no more than Erlang C.
        let patient = PlanRequest {
            patience_seconds: Some(120.0),
            ..request(start_ms)
        };
        let with_patience = plan_queue(&weekday_rows(start_ms), &patient).expect("a plan");
        assert!(with_patience.intervals[40].agents <= ten.agents);
    }

    #[test]
    fn a_plan_needs_two_weeks_before_the_held_out_ones_and_overrides_on_interval_starts() {
        let start_ms = 20_787 * 24 * 3_600 * 1_000;
        let short = PlanRequest {
            history_weeks: 2,
            ..request(start_ms)
        };
        assert!(matches!(
            plan_queue(&[], &short),
            Err(PlanError::Invalid {
                field: "held_out_weeks",
                ..
            })
        ));
        let misaligned = PlanRequest {
            overrides: vec![(start_ms + 60_000, 5.0)],
            ..request(start_ms)
        };
        assert!(matches!(
            plan_queue(&[], &misaligned),
            Err(PlanError::Invalid {
                field: "overrides",
                ..
            })
        ));
        // No calls at all: a plan of nobody.
        let empty = plan_queue(
            &[],
            &PlanRequest {
                overrides: vec![],
                ..request(start_ms)
            },
        )
        .expect("a plan");
        assert!(empty.intervals.iter().all(|interval| interval.agents == 0));
    }
}
