//! Forecasting calls and handling time per interval (DOMAIN.md §7: staffing from a forecast of
//! volume by time period from history).
//!
//! The history is consecutive intervals of 15 or 30 minutes from a Monday 00:00, each with the
//! calls offered and their average handling time (reporting's interval counts). The model is a
//! weekly total times a weekly profile:
//! - **level and trend** of the weekly totals by Holt's linear smoothing (α 0.4, β 0.1), so that
//!   growth carries on into the weeks ahead;
//! - **weekly and intraday seasonality** together: each interval of the week (Monday 09:00,
//!   Sunday 21:30, …) keeps its share of the week's calls, averaged over the last six weeks with
//!   recent weeks weighing more (0.8 per week back), then smoothed with its neighbours of the
//!   same day (¼, ½, ¼) against the noise of small counts;
//! - **handling time** per interval of the week, weighted by the calls, falling back to the
//!   history's overall average where an interval had no calls.
//!
//! Planners may override any interval ahead ([`Override`]); the error of a forecast against what
//! happened is reported as MAPE (over intervals that had calls) and WAPE.

/// What the history looks like.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// 15 or 30.
    pub interval_minutes: u32,
    /// Calls offered per interval, from a Monday 00:00.
    pub offered: Vec<f64>,
    /// Average handling time per interval, in seconds (any value where no calls came).
    pub handle_seconds: Vec<f64>,
}

/// A planner's value for one interval ahead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Override {
    /// Which interval of the forecast (0: the first one ahead).
    pub interval: usize,
    /// The calls the planner expects.
    pub offered: f64,
}

/// The forecast for the weeks ahead, interval by interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    /// Calls expected per interval.
    pub offered: Vec<f64>,
    /// Average handling time expected per interval, in seconds.
    pub handle_seconds: Vec<f64>,
}

/// Why a history cannot be forecast.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForecastError {
    /// Intervals of another length.
    #[error("interval_minutes: 15 or 30")]
    IntervalLength,
    /// Fewer than two whole weeks.
    #[error("history: at least two whole weeks of intervals are needed")]
    TooShort,
    /// Offered and handling time of different lengths, or a negative or non-finite value.
    #[error("history: {0}")]
    Malformed(&'static str),
    /// An override outside the weeks forecast, or negative.
    #[error("overrides: interval {0} is outside the forecast or negative")]
    Override(usize),
}

/// Weeks of shares averaged.
const PROFILE_WEEKS: usize = 6;
/// Weight of each older week in the profile.
const PROFILE_DECAY: f64 = 0.8;
/// Holt's smoothing of the level and the trend.
const ALPHA: f64 = 0.4;
const BETA: f64 = 0.1;

impl History {
    /// Intervals in a week.
    pub fn per_week(&self) -> usize {
        (7 * 24 * 60 / self.interval_minutes.max(1)) as usize
    }

    /// Intervals in a day.
    pub fn per_day(&self) -> usize {
        (24 * 60 / self.interval_minutes.max(1)) as usize
    }
}

/// The forecast of `weeks` weeks after the history's last whole week, with the planners'
/// overrides.
pub fn forecast(
    history: &History,
    weeks: usize,
    overrides: &[Override],
) -> Result<Forecast, ForecastError> {
    if ![15, 30].contains(&history.interval_minutes) {
        return Err(ForecastError::IntervalLength);
    }
    if history.offered.len() != history.handle_seconds.len() {
        return Err(ForecastError::Malformed(
            "offered and handle_seconds differ in length",
        ));
    }
    if history
        .offered
        .iter()
        .chain(&history.handle_seconds)
        .any(|value| !value.is_finite() || *value < 0.0)
    {
        return Err(ForecastError::Malformed(
            "values must be finite and not negative",
        ));
    }
    let per_week = history.per_week();
    let whole_weeks = history.offered.len() / per_week;
    if whole_weeks < 2 {
        return Err(ForecastError::TooShort);
    }
    let week = |w: usize| &history.offered[w * per_week..(w + 1) * per_week];
    let totals: Vec<f64> = (0..whole_weeks).map(|w| week(w).iter().sum()).collect();

    // Level and trend of the weekly totals.
    let mut level = totals[0];
    let mut trend = totals[1] - totals[0];
    for total in &totals[1..] {
        let previous = level;
        level = ALPHA * total + (1.0 - ALPHA) * (level + trend);
        trend = BETA * (level - previous) + (1.0 - BETA) * trend;
    }

    // The weekly profile: shares of the week, recent weeks first.
    let mut shares = vec![0.0; per_week];
    let mut weights = 0.0;
    for (age, w) in (0..whole_weeks).rev().take(PROFILE_WEEKS).enumerate() {
        if totals[w] <= 0.0 {
            continue;
        }
        let weight = PROFILE_DECAY.powi(age as i32);
        weights += weight;
        for (share, offered) in shares.iter_mut().zip(week(w)) {
            *share += weight * offered / totals[w];
        }
    }
    if weights > 0.0 {
        shares.iter_mut().for_each(|share| *share /= weights);
    } else {
        shares
            .iter_mut()
            .for_each(|share| *share = 1.0 / per_week as f64);
    }
    let shares = smooth_within_days(&shares, history.per_day());

    // Handling time per interval of the week, weighted by calls.
    let all_calls: f64 = history.offered.iter().sum();
    let overall_handle = if all_calls > 0.0 {
        history
            .offered
            .iter()
            .zip(&history.handle_seconds)
            .map(|(calls, handle)| calls * handle)
            .sum::<f64>()
            / all_calls
    } else {
        0.0
    };
    let handle: Vec<f64> = (0..per_week)
        .map(|slot| {
            let (calls, seconds) = (0..whole_weeks).rev().take(PROFILE_WEEKS).fold(
                (0.0, 0.0),
                |(calls, seconds), w| {
                    let index = w * per_week + slot;
                    let offered = history.offered[index];
                    (
                        calls + offered,
                        seconds + offered * history.handle_seconds[index],
                    )
                },
            );
            if calls > 0.0 {
                seconds / calls
            } else {
                overall_handle
            }
        })
        .collect();

    let mut offered = Vec::with_capacity(weeks * per_week);
    let mut handle_seconds = Vec::with_capacity(weeks * per_week);
    for ahead in 1..=weeks {
        let total = (level + ahead as f64 * trend).max(0.0);
        offered.extend(shares.iter().map(|share| total * share));
        handle_seconds.extend(handle.iter().copied());
    }
    for planned in overrides {
        if planned.interval >= offered.len() || planned.offered.is_nan() || planned.offered < 0.0 {
            return Err(ForecastError::Override(planned.interval));
        }
        offered[planned.interval] = planned.offered;
    }
    Ok(Forecast {
        offered,
        handle_seconds,
    })
}

/// Each share smoothed with its neighbours of the same day (¼, ½, ¼; the day's edges keep their
/// weight), keeping the week's sum.
fn smooth_within_days(shares: &[f64], per_day: usize) -> Vec<f64> {
    let smoothed: Vec<f64> = (0..shares.len())
        .map(|index| {
            let in_day = index % per_day;
            let before = if in_day == 0 { index } else { index - 1 };
            let after = if in_day + 1 == per_day {
                index
            } else {
                index + 1
            };
            0.25 * shares[before] + 0.5 * shares[index] + 0.25 * shares[after]
        })
        .collect();
    let (before, after): (f64, f64) = (shares.iter().sum(), smoothed.iter().sum());
    if after > 0.0 {
        smoothed
            .iter()
            .map(|share| share * before / after)
            .collect()
    } else {
        smoothed
    }
}

/// A forecast's errors against what happened.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForecastErrors {
    /// Mean absolute percentage error over the intervals that had calls.
    pub mape: f64,
    /// Weighted absolute percentage error: Σ|forecast − actual| ÷ Σ actual.
    pub wape: f64,
}

/// The errors of `forecast` against `actual`, interval by interval (the shorter length counts).
pub fn errors(forecast: &[f64], actual: &[f64]) -> ForecastErrors {
    let pairs = forecast.iter().zip(actual);
    let (mut absolute, mut total, mut percentage, mut counted) = (0.0, 0.0, 0.0, 0_usize);
    for (predicted, happened) in pairs {
        absolute += (predicted - happened).abs();
        total += happened;
        if *happened > 0.0 {
            percentage += (predicted - happened).abs() / happened;
            counted += 1;
        }
    }
    ForecastErrors {
        mape: if counted == 0 {
            0.0
        } else {
            percentage / counted as f64
        },
        wape: if total > 0.0 { absolute / total } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noiseless history: `weeks` weeks of 30-minute intervals, busy on weekday afternoons,
    /// quiet at night and on Sundays, growing by `growth` calls a week per interval share.
    fn history(weeks: usize, growth: f64) -> (History, Vec<f64>) {
        let per_week = 336;
        let rate = |week: usize, slot: usize| {
            let (day, half_hour) = (slot / 48, slot % 48);
            let day_factor = [1.0, 1.1, 1.0, 0.9, 1.2, 0.6, 0.3][day];
            let hour = half_hour as f64 / 2.0;
            let intraday = (0.1 + (-(hour - 14.0).powi(2) / 18.0).exp()) * 20.0;
            day_factor * intraday * (1.0 + growth * week as f64)
        };
        let offered: Vec<f64> = (0..weeks * per_week)
            .map(|index| rate(index / per_week, index % per_week))
            .collect();
        let future: Vec<f64> = (0..2 * per_week)
            .map(|index| rate(weeks + index / per_week, index % per_week))
            .collect();
        let handle_seconds = vec![240.0; offered.len()];
        (
            History {
                interval_minutes: 30,
                offered,
                handle_seconds,
            },
            future,
        )
    }

    #[test]
    fn a_steady_weekly_and_intraday_pattern_is_forecast_closely() {
        let (history, future) = history(8, 0.0);
        let forecast = forecast(&history, 2, &[]).unwrap();
        let errors = errors(&forecast.offered, &future);
        // Only the smoothing of neighbouring intervals departs from the pattern.
        assert!(errors.wape < 0.02, "{errors:?}");
        assert!(
            forecast
                .handle_seconds
                .iter()
                .all(|h| (*h - 240.0).abs() < 1e-9)
        );
    }

    #[test]
    fn growth_carries_on_into_the_weeks_ahead() {
        let (history, future) = history(10, 0.05);
        let forecast = forecast(&history, 2, &[]).unwrap();
        let (expected, got): (f64, f64) = (
            future[..336].iter().sum(),
            forecast.offered[..336].iter().sum(),
        );
        assert!(
            (got - expected).abs() / expected < 0.02,
            "{got} against {expected}"
        );
        // Last week's total, without the trend, would be 3% short.
        let last: f64 = history.offered[9 * 336..].iter().sum();
        assert!((last - expected).abs() / expected > 0.03);
    }

    #[test]
    fn planners_override_an_interval_and_bad_history_is_refused() {
        let (history_8, _) = history(8, 0.0);
        let planned = [Override {
            interval: 20,
            offered: 99.0,
        }];
        let forecast = forecast(&history_8, 1, &planned).unwrap();
        assert_eq!(forecast.offered[20], 99.0);
        assert_eq!(
            super::forecast(
                &history_8,
                1,
                &[Override {
                    interval: 336,
                    offered: 1.0
                }]
            ),
            Err(ForecastError::Override(336))
        );
        let (short, _) = history(1, 0.0);
        assert_eq!(
            super::forecast(&short, 1, &[]),
            Err(ForecastError::TooShort)
        );
        let hourly = History {
            interval_minutes: 60,
            ..history_8.clone()
        };
        assert_eq!(
            super::forecast(&hourly, 1, &[]),
            Err(ForecastError::IntervalLength)
        );
        let mut negative = history_8;
        negative.offered[3] = -1.0;
        assert!(matches!(
            super::forecast(&negative, 1, &[]),
            Err(ForecastError::Malformed(_))
        ));
    }

    #[test]
    fn mape_skips_empty_intervals_and_wape_weighs_by_calls() {
        let errors = errors(&[10.0, 5.0, 1.0], &[8.0, 5.0, 0.0]);
        assert!((errors.mape - 0.125).abs() < 1e-12, "{errors:?}");
        assert!((errors.wape - 3.0 / 13.0).abs() < 1e-12, "{errors:?}");
    }
}
