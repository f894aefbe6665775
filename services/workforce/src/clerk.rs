//! The attendance clerk: when a rostered shift has ended, it records what the agent did in it
//! (late arrival, early leave, absence, adherence) from routing's agent states, once per agent
//! and shift, for the appraisal.
//!
//! It rebuilds its view from the log on every start (centers, agents' states, what was already
//! recorded), so a restart loses nothing; several workforce processes may run it, and the
//! attendance aggregate keeps one record per agent and day whoever writes first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use callcenter_eventlog::{EventStore, Filter, Name, RecordedEvent, SubscriptionSpec, TenantId};
use callcenter_kit::restart::run_with_restarts;
use callcenter_kit::{Aggregate, CommandMeta, PersistedEvent, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::app::Workforce;
use crate::domain::attendance::{
    AttendanceEvent, PresenceMark, ShiftRecord, ShiftWindow, shift_attendance,
};
use crate::domain::calendar::{DAY_SECONDS, local_day};
use crate::domain::center::{Center, CenterEvent};
use crate::events::agent_presence;

/// How often ended shifts are looked for when no event arrives.
const TICK: Duration = Duration::from_millis(500);

/// Shifts that ended longer ago than this are not recorded any more (a roster published for the
/// past is not an attendance record).
const RECORD_WITHIN_MS: i64 = 2 * DAY_SECONDS * 1_000;

/// Agents' states older than this are forgotten (no shift that is still recorded needs them).
const KEEP_MARKS_MS: i64 = 4 * DAY_SECONDS * 1_000;

/// What the clerk knows (pure): centers, agents' presence and what is recorded.
#[derive(Debug, Default)]
pub struct AttendanceBook {
    centers: HashMap<(TenantId, Name), Center>,
    marks: HashMap<(TenantId, Name), Vec<PresenceMark>>,
    recorded: HashSet<(TenantId, Name, i64)>,
}

impl AttendanceBook {
    /// Folds a center's event in.
    pub fn center_event(&mut self, tenant: &TenantId, center_id: &Name, event: &CenterEvent) {
        self.centers
            .entry((tenant.clone(), center_id.clone()))
            .or_default()
            .evolve(event);
    }

    /// Folds an agent's presence in.
    pub fn presence(&mut self, tenant: &TenantId, agent_id: &Name, mark: PresenceMark) {
        let marks = self
            .marks
            .entry((tenant.clone(), agent_id.clone()))
            .or_default();
        marks.push(mark);
        if marks
            .first()
            .is_some_and(|first| first.at < mark.at - KEEP_MARKS_MS)
        {
            // Keep the state the agent was in at the cut.
            let cut = mark.at - KEEP_MARKS_MS;
            let keep_from = marks.iter().rposition(|m| m.at <= cut).unwrap_or(0);
            marks.drain(..keep_from);
        }
    }

    /// Notes a record already made.
    pub fn recorded(&mut self, tenant: &TenantId, agent_id: &Name, day: i64) {
        self.recorded
            .insert((tenant.clone(), agent_id.clone(), day));
    }

    /// The shifts that have ended by `now` and are not recorded yet, with what happened in them.
    pub fn due(&self, now: i64) -> Vec<(TenantId, Name, ShiftRecord)> {
        let mut due = Vec::new();
        for ((tenant, center_id), center) in &self.centers {
            let Some(settings) = &center.settings else {
                continue;
            };
            let today = local_day(now, settings.utc_offset_minutes);
            for (roster_id, roster) in &center.rosters {
                for agent_id in roster.assignments.keys() {
                    for day in today - 3..=today {
                        if self
                            .recorded
                            .contains(&(tenant.clone(), agent_id.clone(), day))
                        {
                            continue;
                        }
                        let Some(shift) = roster
                            .shift_on(agent_id, day)
                            .and_then(|shift_id| settings.shift(shift_id))
                        else {
                            continue;
                        };
                        let window: ShiftWindow = shift.window(day, settings.utc_offset_minutes);
                        if window.end > now || window.end < now - RECORD_WITHIN_MS {
                            continue;
                        }
                        let marks = self
                            .marks
                            .get(&(tenant.clone(), agent_id.clone()))
                            .map_or(&[][..], Vec::as_slice);
                        due.push((
                            tenant.clone(),
                            agent_id.clone(),
                            ShiftRecord {
                                center_id: center_id.clone(),
                                roster_id: roster_id.clone(),
                                team_id: center.team_of(agent_id).cloned(),
                                day,
                                shift_id: shift.shift_id.clone(),
                                window,
                                attendance: shift_attendance(&window, marks),
                                on_leave: center
                                    .leave_on(agent_id, day)
                                    .map(|leave| leave.request.kind),
                            },
                        ));
                    }
                }
            }
        }
        due
    }

    /// Folds one event of the log in.
    fn apply(&mut self, event: &RecordedEvent) {
        let stream = event.stream();
        let (tenant, id) = (&stream.tenant, &stream.aggregate_id);
        match (stream.context.as_str(), stream.aggregate_type.as_str()) {
            ("routing", "agent") => {
                if let Some(presence) = agent_presence(event) {
                    let at = event.occurred_at.unix_millis();
                    self.presence(tenant, id, PresenceMark { at, presence });
                }
            }
            ("workforce", "center") => match CenterEvent::decode(event) {
                Ok(center_event) => self.center_event(tenant, id, &center_event),
                Err(error) => tracing::warn!(%error, "attendance skips an unreadable center event"),
            },
            ("workforce", "attendance") => match AttendanceEvent::decode(event) {
                Ok(AttendanceEvent::Recorded(record)) => self.recorded(tenant, id, record.day),
                Err(error) => tracing::warn!(%error, "attendance skips an unreadable record"),
            },
            _ => {}
        }
    }
}

/// Runs the clerk until `shutdown`; failures restart it from a fresh view.
pub async fn run_attendance_clerk(
    store: Arc<dyn EventStore>,
    app: Workforce,
    shutdown: CancellationToken,
) {
    run_with_restarts(
        "attendance clerk",
        &shutdown,
        || keep_attendance(&*store, &app, &shutdown),
        |_| {},
    )
    .await;
}

async fn keep_attendance(
    store: &dyn EventStore,
    app: &Workforce,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let name = |value: &str| Name::new(value).map_err(|error| error.to_string());
    let subscription_name = name(&format!(
        "attendance-clerk-{}",
        uuid::Uuid::now_v7().simple()
    ))?;
    let spec = SubscriptionSpec {
        name: subscription_name.clone(),
        filter: Filter::all()
            .aggregate(name("routing")?, name("agent")?)
            .aggregate(name("workforce")?, name("center")?)
            .aggregate(name("workforce")?, name("attendance")?),
        resume_after: Some(0),
        expire_when_idle: Some(Duration::from_secs(60)),
    };
    let mut subscription = store.subscribe(spec).await.map_err(|e| e.to_string())?;
    let mut book = AttendanceBook::default();
    let result = loop {
        let batch = tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            batch = subscription.next_batch(1_000, TICK) => match batch {
                Ok(batch) => batch,
                Err(error) => break Err(error.to_string()),
            },
        };
        for event in &batch.events {
            book.apply(event);
        }
        if let Some(last) = batch.last_position()
            && let Err(error) = subscription.ack(last).await
        {
            break Err(error.to_string());
        }
        if batch.pending > 0 {
            continue;
        }
        let mut failure = None;
        for (tenant, agent_id, record) in book.due(Timestamp::now().unix_millis()) {
            let day = record.day;
            let meta = CommandMeta::system(
                tenant.clone(),
                "attendance-clerk",
                format!("attendance-{agent_id}-{day}"),
            );
            match app.record_attendance(&meta, &agent_id, record).await {
                Ok(_) => book.recorded(&tenant, &agent_id, day),
                Err(error) => {
                    failure = Some(error.to_string());
                    break;
                }
            }
        }
        if let Some(error) = failure {
            break Err(error);
        }
    };
    let _ = store.delete_subscription(&subscription_name).await;
    result
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::name;

    use super::*;
    use crate::domain::attendance::Presence;
    use crate::domain::calendar::{instant, parse_day, parse_time_of_day};
    use crate::domain::center::{CenterSettings, Roster, ShiftDefinition};

    #[test]
    fn each_rostered_shift_is_recorded_once_when_it_has_ended() {
        let tenant = name("acme");
        let day = parse_day("2026-12-01").expect("a day");
        let mut book = AttendanceBook::default();
        book.center_event(
            &tenant,
            &name("center-1"),
            &CenterEvent::Defined(CenterSettings {
                utc_offset_minutes: 480,
                shifts: vec![ShiftDefinition {
                    shift_id: name("early"),
                    start: parse_time_of_day("08:30").expect("a time"),
                    end: parse_time_of_day("17:30").expect("a time"),
                    lunch: None,
                }],
            }),
        );
        book.center_event(
            &tenant,
            &name("center-1"),
            &CenterEvent::RosterPublished {
                roster_id: name("december"),
                roster: Roster {
                    first_day: day,
                    assignments: [
                        (name("a1"), vec![Some(name("early")), None]),
                        (name("a2"), vec![Some(name("early")), None]),
                    ]
                    .into(),
                },
            },
        );
        let at = |hours: i64, minutes: i64| instant(day, hours * 3_600 + minutes * 60, 480);
        book.presence(
            &tenant,
            &name("a1"),
            PresenceMark {
                at: at(8, 40),
                presence: Presence::OnThePhones,
            },
        );
        assert!(book.due(at(17, 29)).is_empty(), "not ended yet");
        let due = book.due(at(17, 30));
        assert_eq!(due.len(), 2);
        let a1 = due.iter().find(|(_, agent, _)| agent.as_str() == "a1");
        let a1 = &a1.expect("a1 is due").2;
        assert_eq!(a1.attendance.late_minutes, 10);
        let a2 = due.iter().find(|(_, agent, _)| agent.as_str() == "a2");
        assert!(a2.expect("a2 is due").2.attendance.absent());
        book.recorded(&tenant, &name("a1"), day);
        book.recorded(&tenant, &name("a2"), day);
        assert!(book.due(at(23, 0)).is_empty(), "recorded once");
        // A shift of long ago is not recorded.
        let old = AttendanceBook {
            centers: book.centers.clone(),
            ..AttendanceBook::default()
        };
        assert!(old.due(at(17, 30) + 3 * DAY_SECONDS * 1_000).is_empty());
    }
}
