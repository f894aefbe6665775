//! The stored schema of workforce events (`callcenter.workforce.v1`), and how routing's agent
//! events read as presence for attendance.

use std::collections::BTreeMap;

use callcenter_eventlog::RecordedEvent;
use callcenter_kit::{
    DecodeError, EncodedEvent, Name, PersistedEvent, Schema, Timestamp, decode_name, published,
};
use callcenter_proto::routing::v1 as routing;
use callcenter_proto::workforce::v1 as pb;

use crate::domain::attendance::{
    AttendanceEvent, Presence, ShiftAttendance, ShiftRecord, ShiftWindow,
};
use crate::domain::calendar::{
    Weekdays, format_day, format_time_of_day, parse_day, parse_time_of_day,
};
use crate::domain::center::{CenterEvent, CenterSettings, Lunch, Roster, ShiftDefinition};
use crate::domain::intraday::{IntradayEvent, PlanInterval, PublishedPlan, TrafficAnomaly};
use crate::domain::leave::{Approver, LeaveKind, LeaveRequest, SwapRequest};
use crate::domain::staffing::ErlangCRequest;

/// How workforce's events are stored: every type at version 1, nothing to upcast yet.
pub const SCHEMA: Schema = Schema::V1;

/// The message of a leave kind.
pub fn leave_kind_to_proto(kind: LeaveKind) -> pb::LeaveKind {
    match kind {
        LeaveKind::Sick => pb::LeaveKind::Sick,
        LeaveKind::Personal => pb::LeaveKind::Personal,
        LeaveKind::Vacation => pb::LeaveKind::Vacation,
    }
}

/// The leave kind of a message's field (`None`: unspecified or unknown).
pub fn leave_kind_from_proto(kind: i32) -> Option<LeaveKind> {
    match pb::LeaveKind::try_from(kind).ok()? {
        pb::LeaveKind::Unspecified => None,
        pb::LeaveKind::Sick => Some(LeaveKind::Sick),
        pb::LeaveKind::Personal => Some(LeaveKind::Personal),
        pb::LeaveKind::Vacation => Some(LeaveKind::Vacation),
    }
}

/// The message of an approver.
pub fn approver_to_proto(approver: Approver) -> pb::Approver {
    match approver {
        Approver::Supervisor => pb::Approver::Supervisor,
        Approver::Director => pb::Approver::Director,
    }
}

/// The message of a shift definition.
pub fn shift_to_record(shift: &ShiftDefinition) -> pb::ShiftDefinitionRecord {
    pb::ShiftDefinitionRecord {
        shift_id: shift.shift_id.to_string(),
        start: format_time_of_day(shift.start),
        end: format_time_of_day(shift.end),
        lunch: shift.lunch.map(|lunch| pb::LunchRecord {
            window_start: format_time_of_day(lunch.from),
            window_end: format_time_of_day(lunch.to),
            minutes: lunch.minutes,
        }),
        days: shift.days.names().into_iter().map(str::to_owned).collect(),
    }
}

/// The shift definition of a message; `Err` is (field, reason).
pub fn shift_from_record(
    index: usize,
    shift: &pb::ShiftDefinitionRecord,
) -> Result<ShiftDefinition, (String, String)> {
    let field = |name: &str| format!("shifts[{index}].{name}");
    let time = |name: &str, value: &str| parse_time_of_day(value).map_err(|e| (field(name), e));
    Ok(ShiftDefinition {
        shift_id: Name::new(&shift.shift_id)
            .map_err(|_| (field("shift_id"), "1 to 64 of A-Z a-z 0-9 _ -".to_owned()))?,
        start: time("start", &shift.start)?,
        end: time("end", &shift.end)?,
        lunch: shift
            .lunch
            .as_ref()
            .map(|lunch| {
                Ok::<_, (String, String)>(Lunch {
                    from: time("lunch.window_start", &lunch.window_start)?,
                    to: time("lunch.window_end", &lunch.window_end)?,
                    minutes: lunch.minutes,
                })
            })
            .transpose()?,
        days: Weekdays::parse(&shift.days).map_err(|reason| (field("days"), reason))?,
    })
}

/// The messages of a roster's rows.
pub fn rows_to_record(roster: &Roster) -> Vec<pb::RosterRowRecord> {
    roster
        .assignments
        .iter()
        .map(|(agent_id, row)| pb::RosterRowRecord {
            agent_id: agent_id.to_string(),
            shift_ids: row
                .iter()
                .map(|shift| shift.as_ref().map(Name::to_string).unwrap_or_default())
                .collect(),
        })
        .collect()
}

/// The roster of a first day and rows; `Err` is (field, reason).
pub fn roster_from_record(
    first_day: &str,
    rows: &[pb::RosterRowRecord],
) -> Result<Roster, (String, String)> {
    let first_day = parse_day(first_day).map_err(|e| ("first_day".to_owned(), e))?;
    let mut assignments = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        let agent_id = Name::new(&row.agent_id).map_err(|_| {
            (
                format!("rows[{index}].agent_id"),
                "1 to 64 of A-Z a-z 0-9 _ -".to_owned(),
            )
        })?;
        let shifts = row
            .shift_ids
            .iter()
            .enumerate()
            .map(|(day, shift)| {
                (!shift.is_empty())
                    .then(|| Name::new(shift))
                    .transpose()
                    .map_err(|_| {
                        (
                            format!("rows[{index}].shift_ids[{day}]"),
                            "a shift id, or empty for a day off".to_owned(),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if assignments.insert(agent_id, shifts).is_some() {
            return Err((
                format!("rows[{index}].agent_id"),
                format!("agent {} has two rows", row.agent_id),
            ));
        }
    }
    Ok(Roster {
        first_day,
        assignments,
    })
}

fn day(event: &RecordedEvent, value: &str) -> Result<i64, DecodeError> {
    parse_day(value).map_err(|reason| DecodeError::new(event, reason))
}

fn kind(event: &RecordedEvent, value: i32) -> Result<LeaveKind, DecodeError> {
    leave_kind_from_proto(value)
        .ok_or_else(|| DecodeError::new(event, format!("unknown leave kind {value}")))
}

// Center and plan events carry no instant of their own: they are stored at the time of their
// command.
impl PersistedEvent for CenterEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            CenterEvent::Defined(settings) => SCHEMA.encode_at_command(&pb::CenterDefined {
                utc_offset_minutes: settings.utc_offset_minutes,
                shifts: settings.shifts.iter().map(shift_to_record).collect(),
            }),
            CenterEvent::TeamSet {
                team_id,
                leader_id,
                members,
            } => SCHEMA.encode_at_command(&pb::TeamSet {
                team_id: team_id.to_string(),
                leader_id: leader_id.to_string(),
                member_ids: members.iter().map(Name::to_string).collect(),
            }),
            CenterEvent::RosterPublished { roster_id, roster } => {
                SCHEMA.encode_at_command(&pb::RosterPublished {
                    roster_id: roster_id.to_string(),
                    first_day: format_day(roster.first_day),
                    rows: rows_to_record(roster),
                })
            }
            CenterEvent::LeaveRequested {
                leave_id,
                agent_id,
                request,
                approver,
            } => SCHEMA.encode_at_command(&pb::LeaveRequested {
                leave_id: leave_id.to_string(),
                agent_id: agent_id.to_string(),
                kind: leave_kind_to_proto(request.kind).into(),
                first_day: format_day(request.start),
                half_days: request.half_days,
                certificate: request.certificate,
                asked_on: format_day(request.asked_on),
                approver: approver_to_proto(*approver).into(),
            }),
            CenterEvent::LeaveDecided {
                leave_id,
                approved,
                reason,
            } => SCHEMA.encode_at_command(&pb::LeaveDecided {
                leave_id: leave_id.to_string(),
                approved: *approved,
                reason: reason.clone(),
            }),
            CenterEvent::SwapRequested {
                swap_id,
                agent_id,
                colleague_id,
                request,
            } => SCHEMA.encode_at_command(&pb::SwapRequested {
                swap_id: swap_id.to_string(),
                agent_id: agent_id.to_string(),
                colleague_id: colleague_id.to_string(),
                day: format_day(request.day),
                consecutive: request.consecutive,
                payback_day: format_day(request.payback_day),
                asked_on: format_day(request.asked_on),
            }),
            CenterEvent::SwapDecided {
                swap_id,
                approved,
                reason,
            } => SCHEMA.encode_at_command(&pb::SwapDecided {
                swap_id: swap_id.to_string(),
                approved: *approved,
                reason: reason.clone(),
            }),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        use pb::center_events::Event;
        match SCHEMA.decode(event)? {
            Event::CenterDefined(defined) => {
                let shifts = defined
                    .shifts
                    .iter()
                    .enumerate()
                    .map(|(index, shift)| shift_from_record(index, shift))
                    .collect::<Result<_, _>>()
                    .map_err(|(field, reason)| {
                        DecodeError::new(event, format!("{field}: {reason}"))
                    })?;
                Ok(CenterEvent::Defined(CenterSettings {
                    utc_offset_minutes: defined.utc_offset_minutes,
                    shifts,
                }))
            }
            Event::TeamSet(team) => Ok(CenterEvent::TeamSet {
                team_id: decode_name(event, &team.team_id)?,
                leader_id: decode_name(event, &team.leader_id)?,
                members: team
                    .member_ids
                    .iter()
                    .map(|member| decode_name(event, member))
                    .collect::<Result<_, _>>()?,
            }),
            Event::RosterPublished(published) => {
                let roster = roster_from_record(&published.first_day, &published.rows).map_err(
                    |(field, reason)| DecodeError::new(event, format!("{field}: {reason}")),
                )?;
                Ok(CenterEvent::RosterPublished {
                    roster_id: decode_name(event, &published.roster_id)?,
                    roster,
                })
            }
            Event::LeaveRequested(requested) => {
                let approver = match pb::Approver::try_from(requested.approver) {
                    Ok(pb::Approver::Director) => Approver::Director,
                    Ok(pb::Approver::Supervisor) => Approver::Supervisor,
                    _ => return Err(DecodeError::new(event, "unknown approver")),
                };
                Ok(CenterEvent::LeaveRequested {
                    leave_id: decode_name(event, &requested.leave_id)?,
                    agent_id: decode_name(event, &requested.agent_id)?,
                    request: LeaveRequest {
                        kind: kind(event, requested.kind)?,
                        start: day(event, &requested.first_day)?,
                        half_days: requested.half_days,
                        asked_on: day(event, &requested.asked_on)?,
                        certificate: requested.certificate,
                    },
                    approver,
                })
            }
            Event::LeaveDecided(decided) => Ok(CenterEvent::LeaveDecided {
                leave_id: decode_name(event, &decided.leave_id)?,
                approved: decided.approved,
                reason: decided.reason,
            }),
            Event::SwapRequested(requested) => Ok(CenterEvent::SwapRequested {
                swap_id: decode_name(event, &requested.swap_id)?,
                agent_id: decode_name(event, &requested.agent_id)?,
                colleague_id: decode_name(event, &requested.colleague_id)?,
                request: SwapRequest {
                    day: day(event, &requested.day)?,
                    consecutive: requested.consecutive,
                    payback_day: day(event, &requested.payback_day)?,
                    asked_on: day(event, &requested.asked_on)?,
                },
            }),
            Event::SwapDecided(decided) => Ok(CenterEvent::SwapDecided {
                swap_id: decode_name(event, &decided.swap_id)?,
                approved: decided.approved,
                reason: decided.reason,
            }),
        }
    }
}

/// The message of a shift's attendance.
pub fn attendance_to_record(record: &ShiftRecord) -> pb::ShiftAttendanceRecorded {
    let attendance = &record.attendance;
    pb::ShiftAttendanceRecorded {
        center_id: record.center_id.to_string(),
        roster_id: record.roster_id.to_string(),
        team_id: record
            .team_id
            .as_ref()
            .map(Name::to_string)
            .unwrap_or_default(),
        day: format_day(record.day),
        shift_id: record.shift_id.to_string(),
        shift_start_ms: record.window.start,
        shift_end_ms: record.window.end,
        arrived_at_ms: attendance.arrived_at.unwrap_or(0),
        late_minutes: attendance.late_minutes,
        left_at_ms: attendance.left_at.unwrap_or(0),
        left_early_minutes: attendance.left_early_minutes,
        absent: attendance.absent(),
        on_leave: record
            .on_leave
            .map_or(pb::LeaveKind::Unspecified, leave_kind_to_proto)
            .into(),
        adherence: attendance.adherence,
        interval_adherence: attendance.interval_adherence.clone(),
    }
}

impl PersistedEvent for AttendanceEvent {
    fn encode(&self) -> EncodedEvent {
        let AttendanceEvent::Recorded(record) = self;
        SCHEMA.encode(
            Timestamp::from_unix_millis(record.window.end),
            &attendance_to_record(record),
        )
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        let pb::attendance_events::Event::ShiftAttendanceRecorded(recorded) =
            SCHEMA.decode(event)?;
        let optional = |value: i64| (value != 0).then_some(value);
        Ok(AttendanceEvent::Recorded(ShiftRecord {
            center_id: decode_name(event, &recorded.center_id)?,
            roster_id: decode_name(event, &recorded.roster_id)?,
            team_id: (!recorded.team_id.is_empty())
                .then(|| decode_name(event, &recorded.team_id))
                .transpose()?,
            day: day(event, &recorded.day)?,
            shift_id: decode_name(event, &recorded.shift_id)?,
            // The lunch window is not stored: the adherence computed with it is.
            window: ShiftWindow {
                start: recorded.shift_start_ms,
                end: recorded.shift_end_ms,
                lunch: None,
            },
            attendance: ShiftAttendance {
                arrived_at: optional(recorded.arrived_at_ms),
                late_minutes: recorded.late_minutes,
                left_at: optional(recorded.left_at_ms),
                left_early_minutes: recorded.left_early_minutes,
                adherence: recorded.adherence,
                interval_adherence: recorded.interval_adherence,
            },
            on_leave: leave_kind_from_proto(recorded.on_leave),
        }))
    }
}

/// What routing's published presence of an agent says for attendance: on the phones (ready,
/// ringing, on a call or wrapping one up), not ready, or signed out. A type routing does not
/// publish there is counted and logged as `consumer`'s, and says nothing.
pub fn agent_presence(consumer: &str, event: &RecordedEvent) -> Option<Presence> {
    use routing::AgentState;
    use routing::agent_presence_events::Event;
    match published::<Event>(consumer, event) {
        Ok(Some(Event::AgentPresenceChanged(changed))) => Some(match changed.state() {
            AgentState::LoggedOut | AgentState::Unspecified => Presence::Out,
            AgentState::NotReady => Presence::NotReady,
            AgentState::Ready
            | AgentState::Reserved
            | AgentState::OnCall
            | AgentState::AfterCallWork => Presence::OnThePhones,
        }),
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(%error, consumer, "an unreadable presence");
            None
        }
    }
}

/// A target's value, or its default when left at zero.
fn or_default(value: f64, default: f64) -> f64 {
    if value == 0.0 { default } else { value }
}

/// The service targets of a message, with the defaults for values left at zero (answer within
/// 20 s, 80%, no occupancy limit, no shrinkage), and the patience for Erlang A (`None`: Erlang C).
/// The request's `calls`, `interval_seconds` and `handle_seconds` are left for each interval.
pub fn targets_from_record(targets: &pb::StaffingTargetsRecord) -> (ErlangCRequest, Option<f64>) {
    (
        ErlangCRequest {
            calls: 0.0,
            interval_seconds: 0.0,
            handle_seconds: 0.0,
            answer_seconds: or_default(targets.answer_seconds, 20.0),
            service_level: or_default(targets.service_level, 0.8),
            max_occupancy: or_default(targets.max_occupancy, 1.0),
            shrinkage: targets.shrinkage,
        },
        (targets.patience_seconds > 0.0).then_some(targets.patience_seconds),
    )
}

/// The message of service targets.
pub fn targets_to_record(targets: &ErlangCRequest) -> pb::StaffingTargetsRecord {
    pb::StaffingTargetsRecord {
        answer_seconds: targets.answer_seconds,
        service_level: targets.service_level,
        max_occupancy: targets.max_occupancy,
        shrinkage: targets.shrinkage,
        patience_seconds: 0.0,
    }
}

/// The messages of a plan's intervals.
pub fn plan_intervals_to_record(plan: &PublishedPlan) -> Vec<pb::PlanIntervalRecord> {
    plan.intervals
        .iter()
        .map(|(start, interval)| pb::PlanIntervalRecord {
            start_ms: *start,
            calls: interval.calls,
            handle_seconds: interval.handle_seconds,
        })
        .collect()
}

/// The message of an anomaly.
pub fn anomaly_to_record(
    interval_start: i64,
    anomaly: &TrafficAnomaly,
) -> pb::TrafficAnomalyDetected {
    pb::TrafficAnomalyDetected {
        interval_start_ms: interval_start,
        forecast_calls: anomaly.forecast_calls,
        actual_calls: anomaly.actual_calls,
        departure: anomaly.departure,
        planned_agents: anomaly.planned_agents,
        needed_agents: anomaly.needed_agents,
        extra_agents: anomaly.extra_agents(),
    }
}

impl PersistedEvent for IntradayEvent {
    fn encode(&self) -> EncodedEvent {
        match self {
            IntradayEvent::Published(plan) => {
                SCHEMA.encode_at_command(&pb::IntradayPlanPublished {
                    center_id: plan.center_id.to_string(),
                    interval_minutes: plan.interval_minutes,
                    threshold: plan.threshold,
                    targets: Some(targets_to_record(&plan.targets)),
                    intervals: plan_intervals_to_record(plan),
                })
            }
            IntradayEvent::AnomalyDetected {
                interval_start,
                anomaly,
            } => SCHEMA.encode_at_command(&anomaly_to_record(*interval_start, anomaly)),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        use pb::intraday_plan_events::Event;
        match SCHEMA.decode(event)? {
            Event::IntradayPlanPublished(published) => {
                Ok(IntradayEvent::Published(PublishedPlan {
                    center_id: decode_name(event, &published.center_id)?,
                    interval_minutes: published.interval_minutes,
                    threshold: published.threshold,
                    targets: targets_from_record(&published.targets.unwrap_or_default()).0,
                    intervals: published
                        .intervals
                        .iter()
                        .map(|interval| {
                            (
                                interval.start_ms,
                                PlanInterval {
                                    calls: interval.calls,
                                    handle_seconds: interval.handle_seconds,
                                },
                            )
                        })
                        .collect(),
                }))
            }
            Event::TrafficAnomalyDetected(detected) => Ok(IntradayEvent::AnomalyDetected {
                interval_start: detected.interval_start_ms,
                anomaly: TrafficAnomaly {
                    interval: 0,
                    forecast_calls: detected.forecast_calls,
                    actual_calls: detected.actual_calls,
                    departure: detected.departure,
                    planned_agents: detected.planned_agents,
                    needed_agents: detected.needed_agents,
                },
            }),
        }
    }
}
