//! The workforce clerk:
//! - **attendance**: when a rostered shift has ended, it records what the agent did in it (late
//!   arrival, early leave, absence, adherence) from routing's agent states, once per agent and
//!   shift, for the appraisal;
//! - **traffic anomalies**: it counts the calls that enter each queue with a published intraday
//!   plan and raises the alert of an interval whose traffic departs from the forecast
//!   ([`crate::domain::intraday::judge_interval`]), once per interval.
//!
//! It runs on the kit's consumer runner and rebuilds its view (centers, agents' states, what was
//! already recorded) at every start from its last snapshot and the log after it, so a restart
//! loses nothing and does not replay the history; several workforce processes may run it, and
//! the attendance aggregate keeps one record per agent and day whoever writes first. What it
//! notes after acting (recorded, raised) it notes only once the command landed, so a snapshot
//! never claims what the log does not hold.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use callcenter_eventlog::{Filter, Name, RecordedEvent, TenantId};
use callcenter_kit::{
    Aggregate, CommandMeta, Consumer, ConsumerError, PersistedEvent, Subscribe, Timestamp, snapshot,
};

use crate::app::Workforce;
use crate::domain::attendance::{
    AttendanceEvent, PresenceMark, ShiftRecord, ShiftWindow, shift_attendance,
};
use crate::domain::calendar::{DAY_SECONDS, local_day};
use crate::domain::center::{Center, CenterEvent};
use crate::domain::intraday::{IntradayCommand, IntradayEvent, IntradayPlan, TrafficAnomaly};
use crate::events::agent_presence;
use callcenter_kit::published;
use callcenter_proto::telephony::v1::call_events::Event as CallEvent;

/// The clerk's name (its subscription, and the consumer of unknown events it counts).
const CLERK: &str = "attendance-clerk";

/// The encoding of the clerk's snapshots (its attendance book and traffic watch; 2: centers
/// with their latest day).
const SNAPSHOT_FORMAT: u32 = 2;

/// How often ended shifts are looked for when no event arrives.
const TICK: Duration = Duration::from_millis(500);

/// Shifts that ended longer ago than this are not recorded any more (a roster published for the
/// past is not an attendance record).
const RECORD_WITHIN_MS: i64 = 2 * DAY_SECONDS * 1_000;

/// Agents' states older than this are forgotten (no shift that is still recorded needs them).
const KEEP_MARKS_MS: i64 = 4 * DAY_SECONDS * 1_000;

/// What the clerk knows (pure): centers, agents' presence and what is recorded.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
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
            for agent_id in center.scheduled_agents() {
                for day in today - 3..=today {
                    if self
                        .recorded
                        .contains(&(tenant.clone(), agent_id.clone(), day))
                    {
                        continue;
                    }
                    let Some((roster_id, shift)) = center.worked_shift(agent_id, day) else {
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
        due
    }

    /// Folds one event of the log in.
    fn apply(&mut self, event: &RecordedEvent) {
        let stream = event.stream();
        let (tenant, id) = (&stream.tenant, &stream.aggregate_id);
        match (stream.context.as_str(), stream.aggregate_type.as_str()) {
            ("routing", "presence") => {
                if let Some(presence) = agent_presence(CLERK, event) {
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

/// A reporting quarter hour: calls are counted per UTC quarter hour (a 30-minute interval is two).
const QUARTER_MS: i64 = 15 * 60_000;

/// Calls counted longer ago than this are forgotten.
const KEEP_COUNTS_MS: i64 = 2 * 3_600_000;

/// What the traffic watch knows (pure): queues' intraday plans and the calls that entered them.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct TrafficWatch {
    plans: HashMap<(TenantId, Name), IntradayPlan>,
    counts: HashMap<(TenantId, Name, i64), f64>,
}

impl TrafficWatch {
    /// Folds a plan's event in.
    pub fn plan_event(&mut self, tenant: &TenantId, queue_id: &Name, event: &IntradayEvent) {
        self.plans
            .entry((tenant.clone(), queue_id.clone()))
            .or_default()
            .evolve(event);
    }

    /// Counts a call that entered a queue at `at` (Unix milliseconds).
    pub fn call_queued(&mut self, tenant: &TenantId, queue_id: &Name, at: i64) {
        let quarter = at - at.rem_euclid(QUARTER_MS);
        *self
            .counts
            .entry((tenant.clone(), queue_id.clone(), quarter))
            .or_default() += 1.0;
    }

    fn count(&self, tenant: &TenantId, queue_id: &Name, start: i64, length: i64) -> f64 {
        (0..length / QUARTER_MS)
            .filter_map(|quarter| {
                self.counts.get(&(
                    tenant.clone(),
                    queue_id.clone(),
                    start + quarter * QUARTER_MS,
                ))
            })
            .sum()
    }

    /// The alerts due at `now`: the interval under way and the one that has just ended, where
    /// their calls depart from the plan and no alert was raised yet.
    pub fn due(&mut self, now: i64) -> Vec<(TenantId, Name, i64, TrafficAnomaly)> {
        self.counts
            .retain(|(_, _, quarter), _| *quarter >= now - KEEP_COUNTS_MS);
        let mut due = Vec::new();
        for ((tenant, queue_id), state) in &self.plans {
            let Some(plan) = &state.plan else {
                continue;
            };
            let length = i64::from(plan.interval_minutes) * 60_000;
            for at in [now, now - length] {
                let Some((start, interval)) = plan.interval_at(at) else {
                    continue;
                };
                if state.anomalies.contains_key(&start) {
                    continue;
                }
                let elapsed = (now - start) as f64 / length as f64;
                let count = self.count(tenant, queue_id, start, length);
                match crate::domain::intraday::judge_interval(plan, interval, count, elapsed) {
                    Ok(Some(anomaly)) => {
                        due.push((tenant.clone(), queue_id.clone(), start, anomaly))
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(%error, %queue_id, "the intraday plan cannot be staffed");
                    }
                }
            }
        }
        due
    }

    /// Notes an alert raised.
    fn raised(&mut self, tenant: &TenantId, queue_id: &Name, start: i64, anomaly: TrafficAnomaly) {
        self.plan_event(
            tenant,
            queue_id,
            &IntradayEvent::AnomalyDetected {
                interval_start: start,
                anomaly,
            },
        );
    }

    /// Folds one event of the log in.
    fn apply(&mut self, event: &RecordedEvent) {
        let stream = event.stream();
        let (tenant, id) = (&stream.tenant, &stream.aggregate_id);
        match (stream.context.as_str(), stream.aggregate_type.as_str()) {
            ("telephony", "call") => match published::<CallEvent>(CLERK, event) {
                Ok(Some(CallEvent::CallQueued(queued))) => {
                    if let Ok(queue_id) = Name::new(&queued.queue_id) {
                        self.call_queued(tenant, &queue_id, event.occurred_at.unix_millis());
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "traffic watch skips a call event"),
            },
            ("workforce", "intraday_plan") => match IntradayEvent::decode(event) {
                Ok(plan_event) => self.plan_event(tenant, id, &plan_event),
                Err(error) => tracing::warn!(%error, "traffic watch skips a plan event"),
            },
            _ => {}
        }
    }
}

/// The clerk as a background consumer: its view is rebuilt from the log at every start, and once
/// caught up it records the shifts that ended and raises the anomalies that are due.
#[derive(Debug)]
pub struct Clerk {
    app: Workforce,
    book: AttendanceBook,
    watch: TrafficWatch,
}

impl Clerk {
    /// The clerk of `app`.
    pub fn new(app: Workforce) -> Self {
        Self {
            app,
            book: AttendanceBook::default(),
            watch: TrafficWatch::default(),
        }
    }
}

#[async_trait::async_trait]
impl Consumer for Clerk {
    fn subscription(&self) -> Subscribe {
        let name = |value: &str| Name::new(value).expect("valid name");
        let filter = Filter::all()
            .aggregate(name("routing"), name("presence"))
            .aggregate(name("workforce"), name("center"))
            .aggregate(name("workforce"), name("attendance"))
            .aggregate(name("workforce"), name("intraday_plan"))
            .aggregate(name("telephony"), name("call"));
        Subscribe {
            batch_size: 1_000,
            tick: TICK,
            ..Subscribe::view(name(CLERK), filter)
        }
    }

    fn reset(&mut self) {
        self.book = AttendanceBook::default();
        self.watch = TrafficWatch::default();
    }

    fn snapshot_format(&self) -> Option<u32> {
        Some(SNAPSHOT_FORMAT)
    }

    fn snapshot(&self) -> Result<Vec<u8>, ConsumerError> {
        snapshot::encode(&(&self.book, &self.watch))
    }

    fn restore(&mut self, format: u32, body: &[u8]) -> Result<bool, ConsumerError> {
        if format != SNAPSHOT_FORMAT {
            return Ok(false);
        }
        (self.book, self.watch) = snapshot::decode(body)?;
        Ok(true)
    }

    async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ConsumerError> {
        for event in events {
            self.book.apply(event);
            self.watch.apply(event);
        }
        Ok(())
    }

    async fn act(&mut self) -> Result<(), ConsumerError> {
        for (tenant, agent_id, record) in self.book.due(Timestamp::now().unix_millis()) {
            let day = record.day;
            let meta = CommandMeta::system(
                tenant.clone(),
                "attendance-clerk",
                format!("attendance-{agent_id}-{day}"),
            );
            self.app
                .record_attendance(&meta, &agent_id, record)
                .await
                .map_err(|error| ConsumerError(error.to_string()))?;
            self.book.recorded(&tenant, &agent_id, day);
        }
        for (tenant, queue_id, start, anomaly) in self.watch.due(Timestamp::now().unix_millis()) {
            let meta = CommandMeta::system(
                tenant.clone(),
                "traffic-watch",
                format!("traffic-anomaly-{queue_id}-{start}"),
            );
            let command = IntradayCommand::RaiseAnomaly {
                interval_start: start,
                anomaly,
            };
            self.app
                .intraday_command(&meta, &queue_id, &command)
                .await
                .map_err(|error| ConsumerError(error.to_string()))?;
            tracing::warn!(%queue_id, start, extra_agents = anomaly.extra_agents(),
                departure = anomaly.departure, "traffic anomaly");
            self.watch.raised(&tenant, &queue_id, start, anomaly);
        }
        Ok(())
    }
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
                    days: crate::domain::calendar::Weekdays::ALL,
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

    #[test]
    fn a_queues_traffic_is_watched_against_its_plan_and_alerts_once_per_interval() {
        use crate::domain::intraday::{PlanInterval, PublishedPlan};
        use crate::domain::staffing::ErlangCRequest;
        let (tenant, queue) = (name("acme"), name("general"));
        let start = 1_800_000 * 1_000_000; // a UTC half hour
        let mut watch = TrafficWatch::default();
        watch.plan_event(
            &tenant,
            &queue,
            &IntradayEvent::Published(PublishedPlan {
                center_id: name("langfang"),
                interval_minutes: 30,
                threshold: 0.2,
                targets: ErlangCRequest {
                    calls: 0.0,
                    interval_seconds: 0.0,
                    handle_seconds: 0.0,
                    answer_seconds: 20.0,
                    service_level: 0.8,
                    max_occupancy: 1.0,
                    shrinkage: 0.0,
                },
                intervals: [(
                    start,
                    PlanInterval {
                        calls: 10.0,
                        handle_seconds: 180.0,
                    },
                )]
                .into(),
            }),
        );
        // Ten calls in the first minute: too early for a pace; the twelfth is 20% above the
        // forecast, not beyond it; the thirteenth is.
        for second in 0..10 {
            watch.call_queued(&tenant, &queue, start + second * 1_000);
        }
        assert!(
            watch.due(start + 60_000).is_empty(),
            "10 calls of 10 so far"
        );
        watch.call_queued(&tenant, &queue, start + 5 * 60_000);
        watch.call_queued(&tenant, &queue, start + 6 * 60_000);
        assert!(
            watch.due(start + 6 * 60_000).is_empty(),
            "12 is 20%, not beyond"
        );
        watch.call_queued(&tenant, &queue, start + 7 * 60_000);
        let due = watch.due(start + 7 * 60_000);
        assert_eq!(due.len(), 1);
        let (_, _, interval, anomaly) = due[0];
        assert_eq!(interval, start);
        assert!((anomaly.actual_calls - 13.0).abs() < 1e-9, "{anomaly:?}");
        watch.raised(&tenant, &queue, interval, anomaly);
        assert!(watch.due(start + 20 * 60_000).is_empty(), "raised once");
        assert!(
            watch.due(start + 31 * 60_000).is_empty(),
            "not again at its end"
        );
    }
}
