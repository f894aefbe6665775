//! Attendance and adherence against the published roster (DOMAIN.md §7), from routing's agent
//! states:
//!
//! - **late arrival**: the agent is late when their first moment on the phones (ready, or a call)
//!   comes more than [`LATE_AFTER_MS`] (5 minutes) after the shift starts, and then late *from
//!   the shift start* (the handbook counts the whole delay, not what exceeds the 5 minutes);
//! - **early leave**: signed out at the shift's end, having left before it;
//! - **absence**: never on the phones between an hour before the shift (when seats are assigned)
//!   and its end;
//! - **adherence**: the share of the shift spent on the phones (ready, ringing, on a call or in
//!   after-call work), per 15-minute interval and over the shift. Not ready or signed out counts
//!   against it, except for the lunch: time away inside the shift's lunch window counts as
//!   adhering up to the lunch's length.
//!
//! Pure: the caller folds the agent's events into [`PresenceMark`]s and gives the shift's window.
//! Each ended shift is recorded once per agent ([`AgentAttendance`]), for the appraisal.

use std::collections::BTreeSet;

use callcenter_kit::{Aggregate, Name};

use super::leave::LeaveKind;

/// A late arrival is counted after this many milliseconds (5 minutes) past the shift start.
pub const LATE_AFTER_MS: i64 = 5 * 60_000;

/// Seats are assigned an hour before a shift: arriving from then on is arriving for this shift.
pub const ARRIVAL_WINDOW_MS: i64 = 60 * 60_000;

/// Adherence is reported per interval of this length (15 minutes), from the shift start.
pub const INTERVAL_MS: i64 = 15 * 60_000;

/// What an agent is doing, as far as attendance is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Presence {
    /// Signed out.
    Out,
    /// Signed in, not taking calls.
    NotReady,
    /// On the phones: ready, ringing, on a call or in after-call work.
    OnThePhones,
}

/// From `at` (Unix milliseconds) on, the agent is `presence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PresenceMark {
    /// When.
    pub at: i64,
    /// What from then on.
    pub presence: Presence,
}

/// A lunch window inside a shift: the agent may be away for `allowance_ms` within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LunchWindow {
    /// Its start (Unix milliseconds).
    pub from: i64,
    /// Its end.
    pub to: i64,
    /// How long the lunch is.
    pub allowance_ms: i64,
}

/// One rostered shift of one agent, as instants (Unix milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShiftWindow {
    /// When it starts.
    pub start: i64,
    /// When it ends (after `start`).
    pub end: i64,
    /// Its lunch, if any.
    pub lunch: Option<LunchWindow>,
}

/// What happened in one shift.
#[derive(Clone, Debug, PartialEq)]
pub struct ShiftAttendance {
    /// The first moment on the phones (from an hour before the start); `None`: absent.
    pub arrived_at: Option<i64>,
    /// Minutes late from the shift start (0 when within 5 minutes or absent).
    pub late_minutes: u32,
    /// When the agent signed out for the last time, if they were signed out at the shift end.
    pub left_at: Option<i64>,
    /// Minutes left before the end (0 when they stayed or were absent).
    pub left_early_minutes: u32,
    /// Share of the shift on the phones (lunch allowance included), 0 to 1.
    pub adherence: f64,
    /// The same per 15-minute interval from the start (the last one may be shorter).
    pub interval_adherence: Vec<f64>,
}

impl ShiftAttendance {
    /// Whether the agent never came.
    pub fn absent(&self) -> bool {
        self.arrived_at.is_none()
    }
}

/// Whole minutes, rounded up.
fn minutes_up(millis: i64) -> u32 {
    u32::try_from((millis.max(0) + 59_999) / 60_000).unwrap_or(u32::MAX)
}

/// The agent's presence over `[from, to)` as segments, from `marks` in time order.
fn segments(marks: &[PresenceMark], from: i64, to: i64) -> Vec<(i64, i64, Presence)> {
    let mut current = Presence::Out;
    let mut cursor = from;
    let mut out = Vec::new();
    for mark in marks {
        if mark.at <= from {
            current = mark.presence;
            continue;
        }
        if mark.at >= to {
            break;
        }
        if mark.presence != current {
            if mark.at > cursor {
                out.push((cursor, mark.at, current));
            }
            cursor = mark.at;
            current = mark.presence;
        }
    }
    if to > cursor {
        out.push((cursor, to, current));
    }
    out
}

/// The attendance of one agent in one shift. `marks` must be in time order; marks after the
/// shift's end do not matter.
pub fn shift_attendance(shift: &ShiftWindow, marks: &[PresenceMark]) -> ShiftAttendance {
    let window = segments(marks, shift.start - ARRIVAL_WINDOW_MS, shift.end);
    let arrived_at = window
        .iter()
        .find(|(_, _, presence)| *presence == Presence::OnThePhones)
        .map(|(from, _, _)| *from);
    let late_minutes = match arrived_at {
        Some(at) if at - shift.start > LATE_AFTER_MS => minutes_up(at - shift.start),
        _ => 0,
    };
    let (left_at, left_early_minutes) = match (arrived_at, window.last()) {
        (Some(_), Some((from, _, Presence::Out))) => (Some(*from), minutes_up(shift.end - from)),
        _ => (None, 0),
    };

    // Time away from the phones inside the shift, with the lunch allowance taken off first come.
    let mut away: Vec<(i64, i64)> = Vec::new();
    let mut allowance = shift.lunch.map_or(0, |lunch| lunch.allowance_ms);
    for (from, to, presence) in segments(marks, shift.start, shift.end) {
        if presence == Presence::OnThePhones {
            continue;
        }
        match shift.lunch {
            Some(lunch) if allowance > 0 && from < lunch.to && lunch.from < to => {
                let excused_from = from.max(lunch.from);
                let excused_to = to.min(lunch.to).min(excused_from + allowance);
                allowance -= excused_to - excused_from;
                if from < excused_from {
                    away.push((from, excused_from));
                }
                if excused_to < to {
                    away.push((excused_to, to));
                }
            }
            _ => away.push((from, to)),
        }
    }
    let share = |from: i64, to: i64| {
        let scheduled = (to - from) as f64;
        let missing: i64 = away
            .iter()
            .map(|(a, b)| (b.min(&to) - a.max(&from)).max(0))
            .sum();
        if scheduled > 0.0 {
            1.0 - missing as f64 / scheduled
        } else {
            1.0
        }
    };
    let interval_adherence = (shift.start..shift.end)
        .step_by(usize::try_from(INTERVAL_MS).unwrap_or(usize::MAX))
        .map(|from| share(from, (from + INTERVAL_MS).min(shift.end)))
        .collect();
    ShiftAttendance {
        arrived_at,
        late_minutes,
        left_at,
        left_early_minutes,
        adherence: share(shift.start, shift.end),
        interval_adherence,
    }
}

/// Whether the agent is signed in at `at` (for the headcount at the shift start).
pub fn signed_in_at(marks: &[PresenceMark], at: i64) -> bool {
    marks
        .iter()
        .take_while(|mark| mark.at <= at)
        .last()
        .is_some_and(|mark| mark.presence != Presence::Out)
}

/// One agent's attendance in one rostered shift, as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct ShiftRecord {
    /// The center.
    pub center_id: Name,
    /// The roster that planned the shift.
    pub roster_id: Name,
    /// The agent's team, if any.
    pub team_id: Option<Name>,
    /// The local day.
    pub day: i64,
    /// The shift.
    pub shift_id: Name,
    /// Its window.
    pub window: ShiftWindow,
    /// What the agent did.
    pub attendance: ShiftAttendance,
    /// Approved leave covering the day.
    pub on_leave: Option<LeaveKind>,
}

/// One agent's attendance records: each rostered shift is recorded once, when it has ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentAttendance {
    /// The days recorded.
    pub recorded_days: BTreeSet<i64>,
}

/// What can be asked of an agent's attendance.
#[derive(Clone, Debug, PartialEq)]
pub enum AttendanceCommand {
    /// Records a shift (once; again is a no-op).
    Record(ShiftRecord),
}

/// What an agent's attendance records.
#[derive(Clone, Debug, PartialEq)]
pub enum AttendanceEvent {
    /// A shift's attendance.
    Recorded(ShiftRecord),
}

/// Attendance refuses nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("never")]
pub struct NoRefusal;

impl Aggregate for AgentAttendance {
    const CONTEXT: &'static str = "workforce";
    const TYPE: &'static str = "attendance";
    type Command = AttendanceCommand;
    type Event = AttendanceEvent;
    type Error = NoRefusal;

    fn decide(&self, command: &AttendanceCommand) -> Result<Vec<AttendanceEvent>, NoRefusal> {
        let AttendanceCommand::Record(record) = command;
        if self.recorded_days.contains(&record.day) {
            return Ok(vec![]);
        }
        Ok(vec![AttendanceEvent::Recorded(record.clone())])
    }

    fn evolve(&mut self, event: &AttendanceEvent) {
        let AttendanceEvent::Recorded(record) = event;
        self.recorded_days.insert(record.day);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    /// 08:30 on some day.
    const START: i64 = 1_000 * MIN;

    fn mark(minutes_from_start: i64, presence: Presence) -> PresenceMark {
        PresenceMark {
            at: START + minutes_from_start * MIN,
            presence,
        }
    }

    /// The early shift: 08:30 to 17:30 (9 hours), lunch of an hour between 11:30 and 13:30.
    fn early_shift() -> ShiftWindow {
        ShiftWindow {
            start: START,
            end: START + 540 * MIN,
            lunch: Some(LunchWindow {
                from: START + 180 * MIN,
                to: START + 300 * MIN,
                allowance_ms: 60 * MIN,
            }),
        }
    }

    use Presence::{NotReady, OnThePhones, Out};

    #[test]
    fn the_first_case_within_5_minutes_of_the_shift_start_is_on_time_later_is_late_from_the_start()
    {
        let on_time = [mark(-20, NotReady), mark(5, OnThePhones)];
        let attendance = shift_attendance(&early_shift(), &on_time);
        assert_eq!(attendance.arrived_at, Some(START + 5 * MIN));
        assert_eq!(attendance.late_minutes, 0);

        let late = [mark(-20, NotReady), mark(6, OnThePhones)];
        assert_eq!(shift_attendance(&early_shift(), &late).late_minutes, 6);

        // Ready since before the window: on time.
        let overnight = [mark(-600, OnThePhones)];
        let attendance = shift_attendance(&early_shift(), &overnight);
        assert_eq!(attendance.arrived_at, Some(START - ARRIVAL_WINDOW_MS));
        assert_eq!(attendance.late_minutes, 0);
    }

    #[test]
    fn an_agent_never_on_the_phones_in_the_shift_is_absent() {
        let signed_in_only = [mark(-5, NotReady), mark(400, Out)];
        let attendance = shift_attendance(&early_shift(), &signed_in_only);
        assert!(attendance.absent());
        assert_eq!(
            (attendance.late_minutes, attendance.left_early_minutes),
            (0, 0)
        );
        // Only the lunch allowance counts.
        assert!((attendance.adherence - 60.0 / 540.0).abs() < 1e-12);
        // Came the shift after: still absent from this one.
        let after = [mark(600, OnThePhones)];
        assert!(shift_attendance(&early_shift(), &after).absent());
    }

    #[test]
    fn signing_out_before_the_shift_end_is_leaving_early() {
        let left = [
            mark(0, OnThePhones),
            mark(100, Out),
            mark(110, OnThePhones),
            mark(520, Out),
        ];
        let attendance = shift_attendance(&early_shift(), &left);
        assert_eq!(attendance.left_at, Some(START + 520 * MIN));
        assert_eq!(attendance.left_early_minutes, 20);
        // Signed out for a while, then back until the end: not leaving early.
        let back = [mark(0, OnThePhones), mark(100, Out), mark(110, OnThePhones)];
        let attendance = shift_attendance(&early_shift(), &back);
        assert_eq!(
            (attendance.left_at, attendance.left_early_minutes),
            (None, 0)
        );
        // Signing out after the end is not leaving early.
        let after = [mark(0, OnThePhones), mark(545, Out)];
        assert_eq!(shift_attendance(&early_shift(), &after).left_at, None);
    }

    #[test]
    fn adherence_counts_time_on_the_phones_with_the_lunch_allowance_inside_its_window() {
        // On the phones all day, lunch of an hour at noon (inside the window): full adherence.
        let lunch = [
            mark(0, OnThePhones),
            mark(210, NotReady),
            mark(270, OnThePhones),
        ];
        let attendance = shift_attendance(&early_shift(), &lunch);
        assert_eq!(attendance.adherence, 1.0);
        assert_eq!(attendance.interval_adherence.len(), 36);
        assert!(attendance.interval_adherence.iter().all(|a| *a == 1.0));

        // A 90-minute lunch: 30 minutes against adherence, in the intervals after the hour.
        let long_lunch = [
            mark(0, OnThePhones),
            mark(210, NotReady),
            mark(300, OnThePhones),
        ];
        let attendance = shift_attendance(&early_shift(), &long_lunch);
        assert!((attendance.adherence - 510.0 / 540.0).abs() < 1e-12);
        assert_eq!(attendance.interval_adherence[17], 1.0);
        assert_eq!(attendance.interval_adherence[18], 0.0);
        assert_eq!(attendance.interval_adherence[19], 0.0);
        assert_eq!(attendance.interval_adherence[20], 1.0);

        // A break outside the window counts against it.
        let break_at_nine = [
            mark(0, OnThePhones),
            mark(30, NotReady),
            mark(45, OnThePhones),
        ];
        let attendance = shift_attendance(&early_shift(), &break_at_nine);
        assert_eq!(attendance.interval_adherence[2], 0.0);
        assert!((attendance.adherence - 525.0 / 540.0).abs() < 1e-12);
    }

    #[test]
    fn the_headcount_sees_who_is_signed_in() {
        let marks = [mark(-10, NotReady), mark(100, Out)];
        assert!(!signed_in_at(&marks, START - 11 * MIN));
        assert!(signed_in_at(&marks, START));
        assert!(!signed_in_at(&marks, START + 100 * MIN));
    }
}
