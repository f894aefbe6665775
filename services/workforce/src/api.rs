//! The API's own messages for what events also store (shifts, rosters, staffing targets, plans,
//! anomalies, attendance): the gRPC layer maps them to and from the domain here, so that the API
//! and the stored events can change apart. Checks live once, in the stored schema's decoders: an
//! API message is first put in its stored shape, which the decoder then checks.

use callcenter_kit::Timestamp;
use callcenter_proto::workforce::v1 as pb;

use crate::domain::attendance::ShiftRecord;
use crate::domain::center::{Roster, ShiftDefinition};
use crate::domain::intraday::{PublishedPlan, TrafficAnomaly};
use crate::domain::staffing::ErlangCRequest;
use crate::events::{
    anomaly_to_record, attendance_to_record, plan_intervals_to_record, roster_from_record,
    rows_to_record, shift_from_record, shift_to_record, targets_from_record, targets_to_record,
};

/// The API timestamp of Unix milliseconds.
pub fn time(unix_millis: i64) -> Option<prost_types::Timestamp> {
    Some(callcenter_eventlog::to_proto_timestamp(
        Timestamp::from_unix_millis(unix_millis),
    ))
}

/// The shift definition of an API message; `Err` is (field, reason).
pub fn shift_from_api(
    index: usize,
    shift: &pb::ShiftDefinition,
) -> Result<ShiftDefinition, (String, String)> {
    shift_from_record(
        index,
        &pb::ShiftDefinitionRecord {
            shift_id: shift.shift_id.clone(),
            start: shift.start.clone(),
            end: shift.end.clone(),
            lunch: shift.lunch.as_ref().map(|lunch| pb::LunchRecord {
                window_start: lunch.window_start.clone(),
                window_end: lunch.window_end.clone(),
                minutes: lunch.minutes,
            }),
            days: shift.days.clone(),
        },
    )
}

/// The API message of a shift definition.
pub fn shift_to_api(shift: &ShiftDefinition) -> pb::ShiftDefinition {
    let record = shift_to_record(shift);
    pb::ShiftDefinition {
        shift_id: record.shift_id,
        start: record.start,
        end: record.end,
        lunch: record.lunch.map(|lunch| pb::Lunch {
            window_start: lunch.window_start,
            window_end: lunch.window_end,
            minutes: lunch.minutes,
        }),
        days: record.days,
    }
}

/// The roster of a first day and API rows; `Err` is (field, reason).
pub fn roster_from_api(
    first_day: &str,
    rows: &[pb::RosterRow],
) -> Result<Roster, (String, String)> {
    let rows: Vec<pb::RosterRowRecord> = rows
        .iter()
        .map(|row| pb::RosterRowRecord {
            agent_id: row.agent_id.clone(),
            shift_ids: row.shift_ids.clone(),
        })
        .collect();
    roster_from_record(first_day, &rows)
}

/// The API messages of a roster's rows.
pub fn rows_to_api(roster: &Roster) -> Vec<pb::RosterRow> {
    rows_to_record(roster)
        .into_iter()
        .map(|row| pb::RosterRow {
            agent_id: row.agent_id,
            shift_ids: row.shift_ids,
        })
        .collect()
}

/// The service targets of an API message, with the defaults for values left at zero, and the
/// patience for Erlang A (`None`: Erlang C).
pub fn targets_from_api(targets: &pb::StaffingTargets) -> (ErlangCRequest, Option<f64>) {
    targets_from_record(&pb::StaffingTargetsRecord {
        answer_seconds: targets.answer_seconds,
        service_level: targets.service_level,
        max_occupancy: targets.max_occupancy,
        shrinkage: targets.shrinkage,
        patience_seconds: targets.patience_seconds,
    })
}

/// The API message of service targets.
pub fn targets_to_api(targets: &ErlangCRequest) -> pb::StaffingTargets {
    let record = targets_to_record(targets);
    pb::StaffingTargets {
        answer_seconds: record.answer_seconds,
        service_level: record.service_level,
        max_occupancy: record.max_occupancy,
        shrinkage: record.shrinkage,
        patience_seconds: record.patience_seconds,
    }
}

/// The API messages of a plan's intervals.
pub fn plan_intervals_to_api(plan: &PublishedPlan) -> Vec<pb::PlanInterval> {
    plan_intervals_to_record(plan)
        .into_iter()
        .map(|interval| pb::PlanInterval {
            start: time(interval.start_ms),
            calls: interval.calls,
            handle_seconds: interval.handle_seconds,
        })
        .collect()
}

/// The API message of an anomaly.
pub fn anomaly_to_api(interval_start: i64, anomaly: &TrafficAnomaly) -> pb::TrafficAnomaly {
    let record = anomaly_to_record(interval_start, anomaly);
    pb::TrafficAnomaly {
        interval_start: time(record.interval_start_ms),
        forecast_calls: record.forecast_calls,
        actual_calls: record.actual_calls,
        departure: record.departure,
        planned_agents: record.planned_agents,
        needed_agents: record.needed_agents,
        extra_agents: record.extra_agents,
    }
}

/// The API message of a shift's attendance.
pub fn attendance_to_api(record: &ShiftRecord) -> pb::ShiftAttendance {
    let stored = attendance_to_record(record);
    let optional = |millis: i64| if millis == 0 { None } else { time(millis) };
    pb::ShiftAttendance {
        center_id: stored.center_id,
        roster_id: stored.roster_id,
        team_id: stored.team_id,
        day: stored.day,
        shift_id: stored.shift_id,
        shift_start: time(stored.shift_start_ms),
        shift_end: time(stored.shift_end_ms),
        arrived_at: optional(stored.arrived_at_ms),
        late_minutes: stored.late_minutes,
        left_at: optional(stored.left_at_ms),
        left_early_minutes: stored.left_early_minutes,
        absent: stored.absent,
        on_leave: stored.on_leave,
        adherence: stored.adherence,
        interval_adherence: stored.interval_adherence,
    }
}
