//! Workforce through the running binary (DOMAIN.md §7): a center's shift, team and roster, leave
//! asked and approved by the right approver (refusals name their rule), the headcount at the
//! shift start, and each agent's attendance recorded when the shift ends, from routing's agent
//! states.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use callcenter_e2e::dev_instance;
use callcenter_types::Timestamp;
use callcenter_types::calendar::parse_rfc3339;
use callcenter_workforce::domain::calendar::{DAY_SECONDS, format_day, format_time_of_day};
use serde_json::{Value, json};

/// The API's text of an instant in Unix milliseconds.
fn rfc3339(unix_millis: i64) -> String {
    Timestamp::from_unix_millis(unix_millis).to_rfc3339()
}

fn time_of_day(local_seconds: i64) -> String {
    format_time_of_day(u32::try_from(local_seconds.rem_euclid(DAY_SECONDS)).expect("a time"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shift_is_counted_at_its_start_and_recorded_when_it_ends() {
    let (_directory, instance) = dev_instance("e2e-workforce").await;
    let admin = instance.token("acme", "tenant_admin", "admin");
    let planner = instance.token("acme", "wfm_planner", "planner");
    let leader = instance.token("acme", "team_leader", "leader-1");
    let director = instance.token("acme", "center_manager", "director");
    let queue = json!({"queue_id": "general", "display_name": "General", "center_id": "langfang"});
    instance.ok("POST", "/v1/queues", &admin, Some(queue)).await;
    for agent in ["agent-1", "agent-2", "agent-3"] {
        let body = json!({"agent_id": agent, "display_name": agent, "center_id": "langfang",
                          "queue_ids": ["general"]});
        instance.ok("POST", "/v1/agents", &admin, Some(body)).await;
    }

    // The center's local time is chosen so that it is about noon there (no day boundary near);
    // the shift started 9.5 minutes ago and ends in 8 seconds.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let offset_minutes = 720 - (now % DAY_SECONDS) / 60;
    let local_now = now + offset_minutes * 60;
    let today = local_now.div_euclid(DAY_SECONDS);
    let (start, end) = (local_now - 570, local_now + 8);
    let center = json!({"utc_offset_minutes": offset_minutes, "shifts": [
        {"shift_id": "early", "start": time_of_day(start), "end": time_of_day(end)},
        {"shift_id": "late", "start": "18:00", "end": "22:00",
         "lunch": {"window_start": "19:00", "window_end": "20:00", "minutes": 30},
         "days": ["mon", "tue", "wed", "thu", "fri"]}]});
    let defined = instance
        .ok(
            "PUT",
            "/v1/workforce/centers/langfang",
            &planner,
            Some(center),
        )
        .await;
    assert_eq!(defined["shifts"][1]["lunch"]["minutes"], 30, "{defined}");
    assert_eq!(
        defined["shifts"][1]["days"].as_array().map(Vec::len),
        Some(5)
    );
    let team = json!({"leader_id": "leader-1", "member_ids": ["agent-1", "agent-2", "agent-3"]});
    instance
        .ok(
            "PUT",
            "/v1/workforce/centers/langfang/teams/team-1",
            &planner,
            Some(team),
        )
        .await;
    let rows: Vec<Value> = ["agent-1", "agent-2", "agent-3"]
        .iter()
        .map(|agent| json!({"agent_id": agent, "shift_ids": ["early", ""]}))
        .collect();
    let roster = json!({"first_day": format_day(today), "rows": rows});
    let published = instance
        .ok(
            "PUT",
            "/v1/workforce/centers/langfang/rosters/this-week",
            &planner,
            Some(roster),
        )
        .await;
    assert_eq!(published["rows"][0]["shift_ids"], json!(["early", ""]));
    // A roster naming a shift the center does not have is refused.
    let (status, problem) = instance
        .call(
            "PUT",
            "/v1/workforce/centers/langfang/rosters/other",
            Some(&planner),
            Some(json!({"first_day": format_day(today + 7),
               "rows": [{"agent_id": "agent-1", "shift_ids": ["night"]}]})),
        )
        .await;
    assert_eq!(status, 400, "{problem}");

    // agent-3 reports sick today with a certificate; their team leader approves.
    let agent_3 = instance.token("acme", "agent", "agent-3");
    let sick = json!({"agent_id": "agent-3", "kind": "sick", "first_day": format_day(today),
                      "half_days": 2, "certificate": true});
    let asked = instance
        .ok(
            "PUT",
            "/v1/workforce/centers/langfang/leave/sick-1",
            &agent_3,
            Some(sick),
        )
        .await;
    assert_eq!(
        (&asked["status"], &asked["approver"]),
        (&json!("pending"), &json!("supervisor"))
    );
    let approved = instance
        .ok(
            "POST",
            "/v1/workforce/centers/langfang/leave/sick-1/decision",
            &leader,
            Some(json!({"approve": true})),
        )
        .await;
    assert_eq!(approved["status"], "approved");

    // Vacation three days ahead breaks a rule, and says which.
    let agent_1 = instance.token("acme", "agent", "agent-1");
    let (status, problem) = instance
        .call("PUT", "/v1/workforce/centers/langfang/leave/vacation-1", Some(&agent_1), Some(json!({"agent_id": "agent-1", "kind": "vacation", "first_day": format_day(today + 3),
               "half_days": 10})))
        .await;
    assert_eq!(
        (
            status,
            problem["reason"].as_str(),
            problem["metadata"]["rule"].as_str()
        ),
        (400, Some("LEAVE_RULE"), Some("vacation_a_month_ahead")),
        "{problem}"
    );
    // An agent cannot ask for someone else.
    let (status, _) = instance
        .call("PUT", "/v1/workforce/centers/langfang/leave/personal-9", Some(&agent_1), Some(json!({"agent_id": "agent-2", "kind": "personal", "first_day": format_day(today + 5),
               "half_days": 1})))
        .await;
    assert_eq!(status, 403);
    // Two days of personal leave: the director approves, not the team leader.
    let personal = json!({"agent_id": "agent-2", "kind": "personal",
                          "first_day": format_day(today + 5), "half_days": 4});
    instance
        .ok(
            "PUT",
            "/v1/workforce/centers/langfang/leave/personal-1",
            &leader,
            Some(personal),
        )
        .await;
    let decision = "/v1/workforce/centers/langfang/leave/personal-1/decision";
    let (status, problem) = instance
        .call(
            "POST",
            decision,
            Some(&leader),
            Some(json!({"approve": true})),
        )
        .await;
    assert_eq!(
        (status, problem["reason"].as_str()),
        (403, Some("APPROVER_REQUIRED")),
        "{problem}"
    );
    let approved = instance
        .ok("POST", decision, &director, Some(json!({"approve": true})))
        .await;
    assert_eq!(approved["status"], "approved");

    // A swap paid back in another month is refused with its rule.
    let (status, problem) = instance
        .call(
            "PUT",
            "/v1/workforce/centers/langfang/swaps/swap-1",
            Some(&agent_1),
            Some(
                json!({"agent_id": "agent-1", "colleague_id": "agent-2", "day": format_day(today),
               "payback_day": format_day(today + 40)}),
            ),
        )
        .await;
    assert_eq!(
        (status, problem["metadata"]["rule"].as_str()),
        (400, Some("paid_back_within_the_month")),
        "{problem}"
    );

    // agent-1 signs in and gets ready (late); the headcount sees who is missing and why.
    instance
        .ok(
            "POST",
            "/v1/agents/agent-1/login",
            &agent_1,
            Some(json!({"seat": "desk-1"})),
        )
        .await;
    instance
        .ok("POST", "/v1/agents/agent-1/ready", &agent_1, None)
        .await;
    let headcount = instance
        .ok(
            "GET",
            "/v1/workforce/centers/langfang/headcount",
            &leader,
            None,
        )
        .await;
    let early = &headcount["shifts"][0];
    assert_eq!(
        (&early["shift_id"], &early["expected"], &early["present"]),
        (&json!("early"), &json!(3), &json!(1)),
        "{headcount}"
    );
    assert_eq!(
        early["missing"],
        json!([{"agent_id": "agent-2", "team_id": "team-1", "why": "not signed in"},
               {"agent_id": "agent-3", "team_id": "team-1", "why": "on approved sick leave"}])
    );
    assert_eq!(
        early["teams"],
        json!([{"team_id": "team-1", "leader_id": "leader-1", "expected": 3, "present": 1}])
    );

    // When the shift ends, each agent's attendance is recorded once.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let path = "/v1/workforce/agents/agent-1/attendance";
    let attendance = instance
        .poll_until(path, &agent_1, |body| {
            body["shifts"].as_array().is_some_and(|s| !s.is_empty())
        })
        .await;
    let shift = &attendance["shifts"][0];
    assert_eq!(
        (&shift["late_minutes"], &shift["absent"], &shift["team_id"]),
        (&json!(10), &json!(false), &json!("team-1")),
        "{attendance}"
    );
    assert!(shift["left_at"].is_null(), "{attendance}");
    assert!(
        shift["adherence"]
            .as_f64()
            .is_some_and(|a| a > 0.0 && a < 0.1)
    );
    for (agent, on_leave) in [("agent-2", Value::Null), ("agent-3", json!("sick"))] {
        let path = format!("/v1/workforce/agents/{agent}/attendance");
        let recorded = instance
            .poll_until(&path, &leader, |body| {
                body["shifts"].as_array().is_some_and(|s| !s.is_empty())
            })
            .await;
        let shift = &recorded["shifts"][0];
        assert_eq!(
            (&shift["absent"], &shift["on_leave"], &shift["late_minutes"]),
            (&json!(true), &on_leave, &json!(0)),
            "{recorded}"
        );
    }
    // Another agent's record is not theirs to read.
    let (status, _) = instance
        .call(
            "GET",
            "/v1/workforce/agents/agent-2/attendance",
            Some(&agent_1),
            None,
        )
        .await;
    assert_eq!(status, 403);

    // The forecast reads the queue's history from reporting on the planner's behalf: a new queue
    // has none, so it plans nobody, interval by interval of the center's local weeks.
    let forecast = instance
        .ok(
            "POST",
            "/v1/workforce/centers/langfang/queues/general/forecast",
            &planner,
            Some(
                json!({"history_weeks": 3, "weeks": 1, "interval_minutes": 30,
                        "targets": {"shrinkage": 0.3}}),
            ),
        )
        .await;
    let intervals = forecast["intervals"].as_array().expect("intervals");
    assert_eq!(intervals.len(), 7 * 48, "{}", forecast["held_out_weeks"]);
    let monday = intervals[0]["start"].as_str().expect("a start");
    let monday = parse_rfc3339(monday).expect("an instant").0 * 1_000;
    assert_eq!(
        (monday / 1_000 + offset_minutes * 60) % (7 * DAY_SECONDS),
        4 * DAY_SECONDS
    );
    assert!(intervals.iter().all(|i| i["agents"] == 0));
    assert_eq!(
        (&forecast["held_out_weeks"], &forecast["history_calls"]),
        (&json!(1), &json!(0.0))
    );
    let (status, problem) = instance
        .call(
            "POST",
            "/v1/workforce/centers/langfang/queues/general/forecast",
            Some(&planner),
            Some(json!({"interval_minutes": 20})),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_beyond_the_forecast_raises_a_traffic_anomaly_with_the_extra_agents() {
    let (_directory, instance) = dev_instance("e2e-intraday").await;
    let admin = instance.token("acme", "tenant_admin", "admin");
    let planner = instance.token("acme", "wfm_planner", "planner");
    instance.open_general_queue(&admin).await;

    // Not within seconds of a quarter hour's end, so that the calls land in one interval.
    let quarter_ms = 15 * 60_000;
    let now_ms = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64
    };
    let left = quarter_ms - now_ms().rem_euclid(quarter_ms);
    if left < 10_000 {
        tokio::time::sleep(Duration::from_millis(left as u64 + 100)).await;
    }
    let start = now_ms() - now_ms().rem_euclid(quarter_ms);
    let plan = json!({"center_id": "langfang", "interval_minutes": 15, "threshold": 0.2,
                      "targets": {"answer_seconds": 20, "service_level": 0.8},
                      "intervals": [{"start": rfc3339(start), "calls": 10, "handle_seconds": 180},
                                    {"start": rfc3339(start + quarter_ms), "calls": 10,
                                     "handle_seconds": 180}]});
    let published = instance
        .ok(
            "PUT",
            "/v1/workforce/queues/general/intraday-plan",
            &planner,
            Some(plan),
        )
        .await;
    assert_eq!(published["intervals"].as_array().map(Vec::len), Some(2));
    // A plan off the interval boundaries is refused.
    let (status, _) = instance
        .call(
            "PUT",
            "/v1/workforce/queues/general/intraday-plan",
            Some(&planner),
            Some(json!({"center_id": "langfang", "interval_minutes": 15,
                        "intervals": [{"start": rfc3339(start + 1), "calls": 2,
                                       "handle_seconds": 180}]})),
        )
        .await;
    assert_eq!(status, 400);

    // Ten calls are the forecast; thirteen are 30% above it.
    for _ in 0..13 {
        let report = json!({"caller_number": "13800138000", "dialled_number": "4000"});
        instance.ok("POST", "/v1/calls", &admin, Some(report)).await;
    }
    let plan = instance
        .poll_until(
            "/v1/workforce/queues/general/intraday-plan",
            &planner,
            |body| body["anomalies"].as_array().is_some_and(|a| !a.is_empty()),
        )
        .await;
    let anomaly = &plan["anomalies"][0];
    assert_eq!(anomaly["interval_start"], rfc3339(start), "{plan}");
    assert_eq!(anomaly["forecast_calls"], 10.0, "{plan}");
    // The calls so far, or their pace over the interval once a third of it has passed.
    assert!(
        anomaly["actual_calls"].as_f64().is_some_and(|a| a > 12.0),
        "{plan}"
    );
    assert!(
        anomaly["departure"].as_f64().is_some_and(|d| d > 0.2),
        "{plan}"
    );
    // 10 calls of 3 minutes in 15 minutes (2 erlangs) need 4 agents for 80% within 20 s; more
    // than 12 need more.
    assert_eq!(anomaly["planned_agents"], 4, "{plan}");
    assert!(
        anomaly["extra_agents"].as_u64().is_some_and(|n| n >= 1),
        "{plan}"
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_solved_for_the_center_keeps_approved_leave_and_is_published() {
    let (_directory, instance) = dev_instance("e2e-solve").await;
    let planner = instance.token("acme", "wfm_planner", "planner");
    let leader = instance.token("acme", "team_leader", "leader-1");
    let shift =
        |id: &str, start: &str, end: &str| json!({"shift_id": id, "start": start, "end": end});
    let center = json!({"utc_offset_minutes": 480, "shifts": [
        shift("early", "08:30", "17:30"), shift("middle", "09:00", "18:00"),
        shift("late", "09:30", "22:00")]});
    instance
        .ok(
            "PUT",
            "/v1/workforce/centers/langfang",
            &planner,
            Some(center),
        )
        .await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let first_day = (now + 480 * 60).div_euclid(DAY_SECONDS) + 3;
    // a3 takes a personal day on the roster's third day; the team leader approves.
    let personal = json!({"agent_id": "a3", "kind": "personal",
                          "first_day": format_day(first_day + 2), "half_days": 2});
    instance
        .ok(
            "PUT",
            "/v1/workforce/centers/langfang/leave/p1",
            &leader,
            Some(personal),
        )
        .await;
    instance
        .ok(
            "POST",
            "/v1/workforce/centers/langfang/leave/p1/decision",
            &leader,
            Some(json!({"approve": true})),
        )
        .await;

    // The handbook's worked example, with the center's shift ids.
    let agents: Vec<Value> = (1..=7).map(|i| json!({"id": format!("a{i}")})).collect();
    let example = json!({
        "schema": "callcenter-roster/v1",
        "horizon": {"days": 7},
        "shifts": [{"id": "early"}, {"id": "middle"}, {"id": "late"}],
        "off_shift": "off",
        "shift_order": ["early", "middle", "late"],
        "agents": agents,
        "rules": {"allowed_next": {"early": ["middle", "late"],
                                   "middle": ["early", "middle", "late", "off"],
                                   "late": ["off", "middle"], "off": ["early", "middle"]},
                  "max_consecutive_working_days": 7, "min_days_off_per_week": 0},
        "coverage": {"required_per_shift": vec![[2, 1, 2]; 7],
                     "required_per_shift_order": ["early", "middle", "late"]},
        "requests": [{"agent": 4, "day": 0, "kind": "shift", "shift": "middle", "weight": 10},
                     {"agent": 3, "day": 6, "kind": "day_off", "weight": 10}],
        "objective": {"unmet_coverage_weight": 100}
    });
    let solved = instance
        .ok(
            "POST",
            "/v1/workforce/rosters/solve",
            &planner,
            Some(
                json!({"instance": example, "seconds": 2, "center_id": "langfang",
                        "first_day": format_day(first_day), "publish_as": "week-1"}),
            ),
        )
        .await;
    assert_eq!(
        (&solved["objective"], &solved["leave_days_kept"]),
        (&json!(0), &json!(1)),
        "{solved}"
    );
    assert_eq!(solved["hard_violations"], json!([]));
    let published = &solved["published"];
    let row = |agent: &str| {
        published["rows"]
            .as_array()
            .and_then(|rows| rows.iter().find(|row| row["agent_id"] == agent))
            .map(|row| row["shift_ids"].clone())
            .expect("a row")
    };
    assert_eq!(row("a3")[2], "", "a3's day of leave is off: {published}");
    assert_eq!(row("a5")[0], "middle", "person 5 works middle on day 1");
    assert_eq!(row("a4")[6], "", "person 4 is off on Sunday");
    let stored = instance
        .ok(
            "GET",
            "/v1/workforce/centers/langfang/rosters/week-1",
            &planner,
            None,
        )
        .await;
    assert_eq!(stored["rows"], published["rows"]);
    // Another solver's instance that breaks the format is refused with the field.
    let (status, problem) = instance
        .call(
            "POST",
            "/v1/workforce/rosters/solve",
            Some(&planner),
            Some(json!({"instance": {"schema": "other"}})),
        )
        .await;
    assert_eq!(
        (status, problem["violations"][0]["field"].as_str()),
        (400, Some("instance.schema")),
        "{problem}"
    );
    instance.stop().await;
}
