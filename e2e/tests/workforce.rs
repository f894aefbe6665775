//! Workforce through the running binary (DOMAIN.md §7): a center's shift, team and roster, leave
//! asked and approved by the right approver (refusals name their rule), the headcount at the
//! shift start, and each agent's attendance recorded when the shift ends, from routing's agent
//! states.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use callcenter_e2e::{Instance, Mode};
use callcenter_testkit::TempDir;
use callcenter_workforce::domain::calendar::{DAY_SECONDS, format_day, format_time_of_day};
use serde_json::{Value, json};

fn time_of_day(local_seconds: i64) -> String {
    format_time_of_day(u32::try_from(local_seconds.rem_euclid(DAY_SECONDS)).expect("a time"))
}

async fn refused(instance: &Instance, path: &str, token: &str, body: Value) -> (u16, Value) {
    let (status, problem) = instance.call("PUT", path, Some(token), Some(body)).await;
    (status, problem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shift_is_counted_at_its_start_and_recorded_when_it_ends() {
    let directory = TempDir::new("e2e-workforce");
    let instance = Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra: vec!["--no-demo".into()],
    })
    .await;
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
         "lunch": {"window_start": "19:00", "window_end": "20:00", "minutes": 30}}]});
    let defined = instance
        .ok(
            "PUT",
            "/v1/workforce/centers/langfang",
            &planner,
            Some(center),
        )
        .await;
    assert_eq!(defined["shifts"][1]["lunch"]["minutes"], 30, "{defined}");
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
    let (status, problem) = refused(
        &instance,
        "/v1/workforce/centers/langfang/rosters/other",
        &planner,
        json!({"first_day": format_day(today + 7),
               "rows": [{"agent_id": "agent-1", "shift_ids": ["night"]}]}),
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
    let (status, problem) = refused(
        &instance,
        "/v1/workforce/centers/langfang/leave/vacation-1",
        &agent_1,
        json!({"agent_id": "agent-1", "kind": "vacation", "first_day": format_day(today + 3),
               "half_days": 10}),
    )
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
    let (status, _) = refused(
        &instance,
        "/v1/workforce/centers/langfang/leave/personal-9",
        &agent_1,
        json!({"agent_id": "agent-2", "kind": "personal", "first_day": format_day(today + 5),
               "half_days": 1}),
    )
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
    let (status, problem) = refused(
        &instance,
        "/v1/workforce/centers/langfang/swaps/swap-1",
        &agent_1,
        json!({"agent_id": "agent-1", "colleague_id": "agent-2", "day": format_day(today),
               "payback_day": format_day(today + 40)}),
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
    assert!(shift["left_at_ms"].is_null(), "{attendance}");
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
    instance.stop().await;
}
