//! Workforce's stored events as releases wrote them (`tests/golden/*.txt`), read back forever:
//! one sample of every event type of every aggregate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use callcenter_eventlog::StreamKey;
use callcenter_kit::EventList;
use callcenter_kit::testing::golden;
use callcenter_kit::testing::name;
use callcenter_proto::workforce::v1 as pb;
use callcenter_workforce::domain::attendance::{
    AttendanceEvent, ShiftAttendance, ShiftRecord, ShiftWindow,
};
use callcenter_workforce::domain::calendar::{Weekdays, parse_day};
use callcenter_workforce::domain::center::{
    CenterEvent, CenterSettings, Lunch, Roster, ShiftDefinition,
};
use callcenter_workforce::domain::intraday::{
    IntradayEvent, PlanInterval, PublishedPlan, TrafficAnomaly,
};
use callcenter_workforce::domain::leave::{Approver, LeaveKind, LeaveRequest, SwapRequest};
use callcenter_workforce::domain::staffing::ErlangCRequest;

fn check<E: callcenter_kit::PersistedEvent + PartialEq + std::fmt::Debug>(
    aggregate: &str,
    event_types: &[&str],
    samples: &[E],
) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{aggregate}.txt"));
    let stream = StreamKey::new("acme", "workforce", aggregate, "golden-1").unwrap();
    golden::check(&path, &stream, event_types, samples, &[]);
}

fn day(text: &str) -> i64 {
    parse_day(text).unwrap()
}

#[test]
fn every_stored_center_event_reads_back_as_it_was_written() {
    let samples = [
        CenterEvent::Defined(CenterSettings {
            utc_offset_minutes: 480,
            shifts: vec![ShiftDefinition {
                shift_id: name("early"),
                start: 8 * 3600 + 30 * 60,
                end: 17 * 3600 + 30 * 60,
                lunch: Some(Lunch {
                    from: 12 * 3600,
                    to: 14 * 3600,
                    minutes: 60,
                }),
                days: Weekdays::parse(&["mon", "tue", "wed", "thu", "fri"]).unwrap(),
            }],
        }),
        CenterEvent::TeamSet {
            team_id: name("team-1"),
            leader_id: name("leader-1"),
            members: BTreeSet::from([name("agent-1"), name("agent-2")]),
        },
        CenterEvent::RosterPublished {
            roster_id: name("week-49"),
            roster: Roster {
                first_day: day("2026-11-30"),
                assignments: BTreeMap::from([(
                    name("agent-1"),
                    vec![Some(name("early")), None, Some(name("early"))],
                )]),
            },
        },
        CenterEvent::LeaveRequested {
            leave_id: name("leave-1"),
            agent_id: name("agent-1"),
            request: LeaveRequest {
                kind: LeaveKind::Sick,
                start: day("2026-12-01"),
                half_days: 3,
                asked_on: day("2026-12-01"),
                certificate: true,
            },
            approver: Approver::Director,
        },
        CenterEvent::LeaveDecided {
            leave_id: name("leave-1"),
            approved: false,
            reason: "the team is short that week".into(),
        },
        CenterEvent::SwapRequested {
            swap_id: name("swap-1"),
            agent_id: name("agent-1"),
            colleague_id: name("agent-2"),
            request: SwapRequest {
                day: day("2026-12-10"),
                consecutive: true,
                payback_day: day("2026-12-20"),
                asked_on: day("2026-11-05"),
            },
        },
        CenterEvent::SwapDecided {
            swap_id: name("swap-1"),
            approved: true,
            reason: String::new(),
        },
    ];
    check("center", pb::center_events::Event::EVENT_TYPES, &samples);
}

#[test]
fn every_stored_attendance_and_plan_event_reads_back_as_it_was_written() {
    let record = ShiftRecord {
        center_id: name("langfang"),
        roster_id: name("week-49"),
        team_id: Some(name("team-1")),
        day: day("2026-12-01"),
        shift_id: name("early"),
        window: ShiftWindow {
            start: 1_796_085_000_000,
            end: 1_796_117_400_000,
            lunch: None,
        },
        attendance: ShiftAttendance {
            arrived_at: Some(1_796_085_600_000),
            late_minutes: 10,
            left_at: Some(1_796_116_000_000),
            left_early_minutes: 23,
            adherence: 0.875,
            interval_adherence: vec![0.0, 0.5, 1.0],
        },
        on_leave: Some(LeaveKind::Personal),
    };
    check(
        "attendance",
        pb::attendance_events::Event::EVENT_TYPES,
        &[AttendanceEvent::Recorded(record)],
    );
    let targets = ErlangCRequest {
        calls: 0.0,
        interval_seconds: 0.0,
        handle_seconds: 0.0,
        answer_seconds: 20.0,
        service_level: 0.8,
        max_occupancy: 0.85,
        shrinkage: 0.3,
    };
    let plan = PublishedPlan {
        center_id: name("langfang"),
        interval_minutes: 15,
        threshold: 0.2,
        targets,
        intervals: BTreeMap::from([(
            1_796_085_000_000,
            PlanInterval {
                calls: 42.5,
                handle_seconds: 180.0,
            },
        )]),
    };
    let anomaly = TrafficAnomaly {
        interval: 0,
        forecast_calls: 10.0,
        actual_calls: 13.0,
        departure: 0.3,
        planned_agents: 5,
        needed_agents: 7,
    };
    check(
        "intraday_plan",
        pb::intraday_plan_events::Event::EVENT_TYPES,
        &[
            IntradayEvent::Published(plan),
            IntradayEvent::AnomalyDetected {
                interval_start: 1_796_085_000_000,
                anomaly,
            },
        ],
    );
}
