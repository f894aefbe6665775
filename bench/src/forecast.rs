//! `forecast`: the forecast's error on a held-out synthetic history with known seasonality.
//!
//! Twelve weeks of 30-minute intervals are drawn from a known rate: a weekday/weekend pattern, a
//! two-peaked day (10:00 and 15:00), 1% growth a week; calls are Poisson around the rate, and the
//! handling time of an interval is the mean of its calls' exponential handling times around an
//! intraday curve (200 s at night to 260 s in the afternoon). The forecast learns from the first
//! ten weeks and is scored on the last two (MAPE over intervals with calls, WAPE), in the same
//! run as two usual baselines (the same interval last week; the average of the last four weeks)
//! and the oracle that knows the true rate (the floor that Poisson noise leaves).

use std::collections::BTreeMap;

use callcenter_workforce::domain::forecast::{History, errors, forecast};
use callcenter_workforce::random::Random;

const PER_WEEK: usize = 336;
const WEEKS: usize = 12;
const TRAIN: usize = 10;

fn true_rate(week: usize, slot: usize) -> f64 {
    let (day, hour) = (slot / 48, (slot % 48) as f64 / 2.0);
    let day_factor = [1.0, 1.05, 1.0, 0.95, 1.1, 0.55, 0.35][day];
    let peak = |at: f64, width: f64| (-(hour - at).powi(2) / (2.0 * width * width)).exp();
    let intraday = 8.0 + 200.0 * peak(10.0, 1.5) + 160.0 * peak(15.0, 2.0);
    day_factor * intraday * 1.01_f64.powi(week as i32)
}

fn true_handle(slot: usize) -> f64 {
    let hour = (slot % 48) as f64 / 2.0;
    200.0 + 60.0 * (-(hour - 15.0).powi(2) / 18.0).exp()
}

/// Runs the benchmark.
pub fn forecast_bench() -> BTreeMap<&'static str, serde_json::Value> {
    let mut random = Random::new(0x005E_EDF0_CA57);
    let mut offered = Vec::with_capacity(WEEKS * PER_WEEK);
    let mut handle_seconds = Vec::with_capacity(WEEKS * PER_WEEK);
    for index in 0..WEEKS * PER_WEEK {
        let (week, slot) = (index / PER_WEEK, index % PER_WEEK);
        let calls = random.poisson(true_rate(week, slot));
        // The mean of `calls` exponential handling times: about normal, with sd mean / √calls.
        let mean = true_handle(slot);
        let handle = if calls > 0.0 {
            (mean + mean / calls.sqrt() * random.normal()).max(1.0)
        } else {
            0.0
        };
        offered.push(calls);
        handle_seconds.push(handle);
    }
    let split = TRAIN * PER_WEEK;
    let history = History {
        interval_minutes: 30,
        offered: offered[..split].to_vec(),
        handle_seconds: handle_seconds[..split].to_vec(),
    };
    let actual = &offered[split..];
    let ours = forecast(&history, WEEKS - TRAIN, &[]).expect("a valid history");
    let last_week: Vec<f64> = (0..actual.len())
        .map(|index| offered[split - PER_WEEK + index % PER_WEEK])
        .collect();
    let four_weeks: Vec<f64> = (0..actual.len())
        .map(|index| {
            (1..=4)
                .map(|back| offered[split - back * PER_WEEK + index % PER_WEEK])
                .sum::<f64>()
                / 4.0
        })
        .collect();
    let oracle: Vec<f64> = (0..actual.len())
        .map(|index| true_rate(TRAIN + index / PER_WEEK, index % PER_WEEK))
        .collect();
    // Handling time: error weighted by the calls that came, ours and the true curve's.
    let handle_wape = |predicted: &dyn Fn(usize) -> f64| {
        let (mut absolute, mut total) = (0.0, 0.0);
        for (index, calls) in actual.iter().enumerate() {
            absolute += calls * (predicted(index) - handle_seconds[split + index]).abs();
            total += calls * handle_seconds[split + index];
        }
        absolute / total
    };
    let oracle_handle_wape = handle_wape(&|index| true_handle(index % PER_WEEK));
    let handle_wape = handle_wape(&|index| ours.handle_seconds[index]);
    let rows = [
        ("ours", errors(&ours.offered, actual)),
        ("same interval last week", errors(&last_week, actual)),
        ("average of the last 4 weeks", errors(&four_weeks, actual)),
        ("oracle (the true rate)", errors(&oracle, actual)),
    ];
    println!(
        "forecast benchmark: {WEEKS} weeks of 30-minute intervals, {TRAIN} learnt, {} held out ({} calls)",
        WEEKS - TRAIN,
        actual.iter().sum::<f64>()
    );
    println!("{:<32} {:>10} {:>10}", "forecast", "MAPE %", "WAPE %");
    for (name, error) in &rows {
        println!(
            "{:<32} {:>10.2} {:>10.2}",
            name,
            error.mape * 100.0,
            error.wape * 100.0
        );
    }
    println!(
        "{:<32} {:>10} {:>10.2}",
        "ours, handling time",
        "",
        handle_wape * 100.0
    );
    println!(
        "{:<32} {:>10} {:>10.2}",
        "oracle, handling time",
        "",
        oracle_handle_wape * 100.0
    );
    let round = |value: f64| (value * 10_000.0).round() / 10_000.0;
    BTreeMap::from([
        ("bench", serde_json::json!("forecast")),
        ("held_out_weeks", serde_json::json!(WEEKS - TRAIN)),
        ("mape", serde_json::json!(round(rows[0].1.mape))),
        ("wape", serde_json::json!(round(rows[0].1.wape))),
        ("last_week_wape", serde_json::json!(round(rows[1].1.wape))),
        (
            "four_week_average_wape",
            serde_json::json!(round(rows[2].1.wape)),
        ),
        ("oracle_wape", serde_json::json!(round(rows[3].1.wape))),
        ("handle_time_wape", serde_json::json!(round(handle_wape))),
        (
            "oracle_handle_time_wape",
            serde_json::json!(round(oracle_handle_wape)),
        ),
    ])
}
