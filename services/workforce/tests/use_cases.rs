//! Workforce's use cases on a real SQLite log, with the interval history behind its port: the
//! forecast is tested without gRPC and without reporting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_kit::{CommandMeta, Name, TenantId, Timestamp};
use callcenter_platform::ApiError;
use callcenter_workforce::Workforce;
use callcenter_workforce::app::{IntervalHistory, RosterAsk, RosterCenter};
use callcenter_workforce::domain::calendar::{Weekdays, parse_time_of_day};
use callcenter_workforce::domain::center::{CenterCommand, CenterSettings, ShiftDefinition};
use callcenter_workforce::domain::queue_plan::{IntervalRow, PlanRequest, WEEK_MS};
use callcenter_workforce::domain::roster::Instance;
use callcenter_workforce::domain::staffing::ErlangCRequest;

fn name(value: &str) -> Name {
    Name::new(value).expect("a valid name")
}

/// 2026-11-30 00:00 in Beijing (UTC+8), a Monday, in Unix milliseconds.
const MONDAY: i64 = 1_795_968_000_000;
const QUARTER: i64 = 15 * 60_000;

/// A history of twenty calls of three minutes at 09:00 Beijing time every weekday, which
/// remembers what it was asked for.
#[derive(Default)]
struct Steady {
    asked: Mutex<Vec<(Name, i64, i64)>>,
}

impl IntervalHistory for Steady {
    async fn queue_intervals(
        &self,
        queue_id: &Name,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<IntervalRow>, ApiError> {
        self.asked
            .lock()
            .unwrap()
            .push((queue_id.clone(), start_ms, end_ms));
        let mut rows = Vec::new();
        let mut monday = start_ms;
        while monday < end_ms {
            for day in 0..5 {
                rows.push(IntervalRow {
                    start_ms: monday + day * 86_400_000 + 9 * 3_600_000,
                    offered: 20,
                    handled: 20,
                    handle_ms: 20 * 180_000,
                });
            }
            monday += WEEK_MS;
        }
        Ok(rows)
    }
}

async fn workforce(directory: &callcenter_testkit::TempDir) -> Workforce {
    let store = SqliteEventStore::open(&directory.path().join("events.db"))
        .await
        .expect("the log opens");
    Workforce::new(Arc::new(store))
}

async fn define_center(app: &Workforce, tenant: &TenantId) {
    let settings = CenterSettings {
        utc_offset_minutes: 480,
        shifts: vec![ShiftDefinition {
            shift_id: name("early"),
            start: parse_time_of_day("08:30").unwrap(),
            end: parse_time_of_day("17:30").unwrap(),
            lunch: None,
            days: Weekdays::ALL,
        }],
    };
    let meta = CommandMeta::system(tenant.clone(), "test", "define-center");
    app.center_command(&meta, &name("beijing"), &CenterCommand::Define(settings))
        .await
        .expect("the center is defined");
}

fn request(start_ms: i64, history_weeks: usize) -> PlanRequest {
    PlanRequest {
        start_ms,
        history_weeks,
        weeks: 1,
        interval_minutes: 15,
        held_out_weeks: 1,
        overrides: Vec::new(),
        targets: ErlangCRequest {
            calls: 0.0,
            interval_seconds: 0.0,
            handle_seconds: 0.0,
            answer_seconds: 20.0,
            service_level: 0.8,
            max_occupancy: 1.0,
            shrinkage: 0.3,
        },
        patience_seconds: None,
    }
}

#[tokio::test]
async fn the_forecast_reads_the_weeks_before_this_weeks_local_monday_from_its_history() {
    let directory = callcenter_testkit::TempDir::new("workforce-forecast");
    let app = workforce(&directory).await;
    let tenant = name("t1");
    define_center(&app, &tenant).await;
    let history = Steady::default();
    // Thursday 2026-12-03 18:00 in Beijing.
    let now = Timestamp::from_unix_millis(MONDAY + 3 * 86_400_000 + 18 * 3_600_000);
    let start = app
        .week_start(&tenant, &name("beijing"), now)
        .await
        .unwrap();
    assert_eq!(start, MONDAY);
    let plan = app
        .forecast_queue(&name("sales"), &request(start, 8), &history)
        .await
        .expect("a plan");
    assert_eq!(
        *history.asked.lock().unwrap(),
        [(name("sales"), MONDAY - 8 * WEEK_MS, MONDAY)]
    );
    assert_eq!(plan.intervals.len(), (WEEK_MS / QUARTER) as usize);
    assert_eq!(plan.intervals[0].start_ms, MONDAY);
    // Monday's twenty calls at 09:00, smoothed with the neighbouring quarters (¼, ½, ¼).
    let nine = &plan.intervals[36];
    assert_eq!(nine.start_ms, MONDAY + 9 * 3_600_000);
    for (interval, expected) in plan.intervals[34..39]
        .iter()
        .zip([0.0, 5.0, 10.0, 5.0, 0.0])
    {
        assert!((interval.calls - expected).abs() < 1e-6, "{interval:?}");
    }
    assert!((nine.handle_seconds - 180.0).abs() < 1e-6, "{nine:?}");
    assert!(
        nine.agents_with_shrinkage > nine.agents && nine.agents > 0,
        "{nine:?}"
    );
    assert_eq!(plan.history_calls, 8.0 * 5.0 * 20.0);
    // The held-out week, forecast from the seven before it, spread each quarter's twenty calls
    // over three quarters: half of them elsewhere, missing at 09:00 and extra around it.
    assert!((plan.held_out.expect("one week held out").wape - 1.0).abs() < 1e-9);
}

#[tokio::test]
async fn a_forecast_request_out_of_range_is_refused_before_the_history_is_read() {
    let directory = callcenter_testkit::TempDir::new("workforce-forecast-refused");
    let app = workforce(&directory).await;
    let tenant = name("t1");
    define_center(&app, &tenant).await;
    let history = Steady::default();
    let error = app
        .forecast_queue(&name("sales"), &request(MONDAY, 1), &history)
        .await
        .unwrap_err();
    assert_eq!(error.reason, "INVALID_ARGUMENT");
    assert!(history.asked.lock().unwrap().is_empty());
    // A center without settings has no week to start from.
    let error = app
        .week_start(&tenant, &name("nowhere"), Timestamp::now())
        .await
        .unwrap_err();
    assert_eq!(error.reason, "CENTER_NOT_FOUND");
}

#[tokio::test]
async fn a_solved_roster_is_published_to_the_center_only_when_asked() {
    let directory = callcenter_testkit::TempDir::new("workforce-roster");
    let app = workforce(&directory).await;
    let tenant = name("t1");
    define_center(&app, &tenant).await;
    let instance = Instance::from_json(&serde_json::json!({
        "schema": "callcenter-roster/v1",
        "horizon": {"days": 7, "day0_weekday": "Mon", "cyclic": false},
        "off_shift": "O",
        "shift_order": ["early", "O"],
        "agents": [{"index": 0, "id": "a1", "preferred_shifts": null},
                   {"index": 1, "id": "a2", "preferred_shifts": null}],
        "rules": {"allowed_next": {"early": ["early", "O"], "O": ["early", "O"]},
                  "max_consecutive_working_days": 6, "min_days_off_per_week": 1},
        "coverage": {"required_per_shift": vec![[1]; 7], "required_per_shift_order": ["early"]},
        "requests": [],
        "objective": {"unmet_coverage_weight": 100, "over_coverage_weight": 1,
                      "preference_weight": 1}
    }))
    .expect("a valid instance");
    let roster_ask = |publish: bool| RosterAsk {
        instance: instance.clone(),
        seed: 1,
        time: Duration::from_secs(1),
        center: Some(RosterCenter {
            center_id: name("beijing"),
            first_day: 20_787,
            publish_as: publish.then(|| {
                (
                    name("week-49"),
                    CommandMeta::system(tenant.clone(), "test", "publish-week-49"),
                )
            }),
        }),
    };
    let solved = app.solve_roster(&tenant, roster_ask(false)).await.unwrap();
    assert!(solved.published.is_none());
    assert_eq!(solved.solution.objective, 0, "{:?}", solved.solution);
    let solved = app.solve_roster(&tenant, roster_ask(true)).await.unwrap();
    let (center_id, roster_id, center) = solved.published.expect("published");
    assert_eq!(
        (center_id, roster_id.clone()),
        (name("beijing"), name("week-49"))
    );
    assert!(center.state.rosters.contains_key(&roster_id));
}
