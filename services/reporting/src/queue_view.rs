//! The real-time queue view (DOMAIN.md §3, for wallboards and the duty lead): per queue and per
//! center, the calls waiting now and the longest wait, the agents by state, and for today and the
//! current 15-minute interval the calls offered, answered and abandoned, the service level, the
//! average speed of answer, the abandonment rate and the average handling time.
//!
//! - Each count lands in the interval in which it happened (UTC intervals and days).
//! - Service level: the share of answered calls answered within the queue's target seconds
//!   (`service_level_seconds`, 20 by default).
//! - Average handling time: talk time, from answer to hang-up.
//! - Agents by state: routing's published presence of each agent (with its queues and center).

use std::collections::BTreeMap;

use callcenter_eventlog::{Filter, Name, RecordedEvent};
use callcenter_kit::{Projection, ProjectionError, published};
use callcenter_proto::routing::v1::AgentState;
use callcenter_proto::routing::v1::agent_presence_events::Event as PresenceEvent;
use callcenter_proto::routing::v1::queue_events::Event as QueueEvent;
use callcenter_proto::telephony::v1::call_events::Event as CallEvent;
use sqlx::{AnyConnection, AnyPool};

/// The projection's name (its subscription and checkpoint).
const NAME: &str = "reporting-queue-view";

/// Length of a reporting interval.
pub const INTERVAL_MS: i64 = 15 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// One queue's interval as stored: (start, offered, answered, abandoned, handled, handle ms).
pub type IntervalCounts = (i64, i64, i64, i64, i64, i64);

/// A queue's intervals that had calls in `[start_ms, end_ms)`, oldest first.
pub async fn queue_intervals(
    pool: &AnyPool,
    tenant: &str,
    queue_id: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<IntervalCounts>, sqlx::Error> {
    sqlx::query_as(
        "SELECT interval_start, offered, answered, abandoned, handled, handle_ms
         FROM reporting_queue_intervals
         WHERE tenant_id = $1 AND queue_id = $2 AND interval_start >= $3 AND interval_start < $4
         ORDER BY interval_start",
    )
    .bind(tenant)
    .bind(queue_id)
    .bind(start_ms)
    .bind(end_ms)
    .fetch_all(pool)
    .await
}

/// The projection that keeps the queue view's tables.
#[derive(Debug, Default)]
pub struct QueueViewProjection;

fn interval_of(at_ms: i64) -> i64 {
    at_ms - at_ms.rem_euclid(INTERVAL_MS)
}

/// One counter of [`reporting_queue_intervals`].
#[derive(Clone, Copy)]
enum Count {
    Offered,
    Answered {
        waited_ms: i64,
        in_service_level: bool,
    },
    Abandoned,
    Handled {
        talk_ms: i64,
    },
}

async fn count(
    connection: &mut AnyConnection,
    tenant: &str,
    queue_id: &str,
    at_ms: i64,
    count: Count,
) -> Result<(), sqlx::Error> {
    let (offered, answered, abandoned, in_sl, wait, handled, handle) = match count {
        Count::Offered => (1, 0, 0, 0, 0, 0, 0),
        Count::Answered {
            waited_ms,
            in_service_level,
        } => (0, 1, 0, i64::from(in_service_level), waited_ms, 0, 0),
        Count::Abandoned => (0, 0, 1, 0, 0, 0, 0),
        Count::Handled { talk_ms } => (0, 0, 0, 0, 0, 1, talk_ms),
    };
    sqlx::query(
        "INSERT INTO reporting_queue_intervals
             (tenant_id, queue_id, interval_start, offered, answered, abandoned,
              answered_in_service_level, answer_wait_ms, handled, handle_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant_id, queue_id, interval_start) DO UPDATE SET
             offered = reporting_queue_intervals.offered + excluded.offered,
             answered = reporting_queue_intervals.answered + excluded.answered,
             abandoned = reporting_queue_intervals.abandoned + excluded.abandoned,
             answered_in_service_level = reporting_queue_intervals.answered_in_service_level
                 + excluded.answered_in_service_level,
             answer_wait_ms = reporting_queue_intervals.answer_wait_ms + excluded.answer_wait_ms,
             handled = reporting_queue_intervals.handled + excluded.handled,
             handle_ms = reporting_queue_intervals.handle_ms + excluded.handle_ms",
    )
    .bind(tenant)
    .bind(queue_id)
    .bind(interval_of(at_ms))
    .bind(offered)
    .bind(answered)
    .bind(abandoned)
    .bind(in_sl)
    .bind(wait)
    .bind(handled)
    .bind(handle)
    .execute(connection)
    .await?;
    Ok(())
}

/// The read model's name of an agent's published state.
fn agent_state_name(state: AgentState) -> &'static str {
    match state {
        AgentState::LoggedOut | AgentState::Unspecified => "logged_out",
        AgentState::NotReady => "not_ready",
        AgentState::Ready => "ready",
        AgentState::Reserved => "reserved",
        AgentState::OnCall => "on_call",
        AgentState::AfterCallWork => "after_call_work",
    }
}

impl QueueViewProjection {
    async fn apply_routing(
        connection: &mut AnyConnection,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let stream = event.stream();
        let (tenant, id) = (stream.tenant.as_str(), stream.aggregate_id.as_str());
        if stream.aggregate_type.as_str() == "presence" {
            if let Some(PresenceEvent::AgentPresenceChanged(changed)) = published(NAME, event)? {
                let state = agent_state_name(changed.state());
                sqlx::query(
                    "INSERT INTO reporting_agent_states
                         (tenant_id, agent_id, center_id, queue_ids, state)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (tenant_id, agent_id) DO UPDATE SET
                         center_id = excluded.center_id, queue_ids = excluded.queue_ids,
                         state = excluded.state",
                )
                .bind(tenant)
                .bind(id)
                .bind(&changed.center_id)
                .bind(format!(",{},", changed.queue_ids.join(",")))
                .bind(state)
                .execute(&mut *connection)
                .await?;
            }
            return Ok(());
        }
        match published::<QueueEvent>(NAME, event)? {
            Some(QueueEvent::QueueCreated(created)) => {
                sqlx::query(
                    "INSERT INTO reporting_queues (tenant_id, queue_id, center_id)
                     VALUES ($1, $2, $3)
                     ON CONFLICT (tenant_id, queue_id) DO UPDATE SET center_id = excluded.center_id",
                )
                .bind(tenant)
                .bind(id)
                .bind(created.center_id)
                .execute(&mut *connection)
                .await?;
            }
            Some(QueueEvent::QueueRoutingSet(set)) => {
                let rules = set.routing.unwrap_or_default();
                sqlx::query(
                    "UPDATE reporting_queues SET max_wait_seconds = $3
                     WHERE tenant_id = $1 AND queue_id = $2",
                )
                .bind(tenant)
                .bind(id)
                .bind(i64::from(rules.max_wait_seconds))
                .execute(&mut *connection)
                .await?;
                if rules.service_level_seconds > 0 {
                    sqlx::query(
                        "UPDATE reporting_queues SET service_level_percent = $3,
                             service_level_seconds = $4 WHERE tenant_id = $1 AND queue_id = $2",
                    )
                    .bind(tenant)
                    .bind(id)
                    .bind(i64::from(rules.service_level_percent))
                    .bind(i64::from(rules.service_level_seconds))
                    .execute(&mut *connection)
                    .await?;
                }
            }
            None => {}
        }
        Ok(())
    }

    async fn apply_call(
        connection: &mut AnyConnection,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let stream = event.stream();
        let (tenant, call_id) = (stream.tenant.as_str(), stream.aggregate_id.as_str());
        let at = event.occurred_at.unix_millis();
        let Some(call_event) = published::<CallEvent>(NAME, event)? else {
            return Ok(());
        };
        match call_event {
            CallEvent::CallQueued(queued) => {
                sqlx::query(
                    "INSERT INTO reporting_waiting_calls (tenant_id, call_id, queue_id, queued_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant_id, call_id) DO UPDATE SET
                     queue_id = excluded.queue_id, queued_at = excluded.queued_at",
                )
                .bind(tenant)
                .bind(call_id)
                .bind(&queued.queue_id)
                .bind(at)
                .execute(&mut *connection)
                .await?;
                count(connection, tenant, &queued.queue_id, at, Count::Offered).await?;
            }
            CallEvent::CallAnswered(answered) => {
                let waiting: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT w.queued_at, COALESCE(q.service_level_seconds, 20)
                 FROM reporting_waiting_calls w
                 LEFT JOIN reporting_queues q
                     ON q.tenant_id = w.tenant_id AND q.queue_id = w.queue_id
                 WHERE w.tenant_id = $1 AND w.call_id = $2",
                )
                .bind(tenant)
                .bind(call_id)
                .fetch_optional(&mut *connection)
                .await?;
                let (queued_at, target_seconds) = waiting.unwrap_or((at, 20));
                let waited_ms = (at - queued_at).max(0);
                forget_waiting(connection, tenant, call_id).await?;
                sqlx::query(
                "INSERT INTO reporting_answered_calls (tenant_id, call_id, queue_id, answered_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant_id, call_id) DO UPDATE SET
                     queue_id = excluded.queue_id, answered_at = excluded.answered_at",
            )
            .bind(tenant)
            .bind(call_id)
            .bind(&answered.queue_id)
            .bind(at)
            .execute(&mut *connection)
            .await?;
                let count_as = Count::Answered {
                    waited_ms,
                    in_service_level: waited_ms <= target_seconds * 1000,
                };
                count(connection, tenant, &answered.queue_id, at, count_as).await?;
            }
            CallEvent::CallAbandoned(abandoned) => {
                forget_waiting(connection, tenant, call_id).await?;
                if !abandoned.queue_id.is_empty() {
                    count(
                        connection,
                        tenant,
                        &abandoned.queue_id,
                        at,
                        Count::Abandoned,
                    )
                    .await?;
                }
            }
            CallEvent::CallNotReached(_) => forget_waiting(connection, tenant, call_id).await?,
            CallEvent::CallEnded(_) => {
                let answered: Option<(String, i64)> = sqlx::query_as(
                    "SELECT queue_id, answered_at FROM reporting_answered_calls
                 WHERE tenant_id = $1 AND call_id = $2",
                )
                .bind(tenant)
                .bind(call_id)
                .fetch_optional(&mut *connection)
                .await?;
                if let Some((queue_id, answered_at)) = answered {
                    sqlx::query(
                    "DELETE FROM reporting_answered_calls WHERE tenant_id = $1 AND call_id = $2",
                )
                .bind(tenant)
                .bind(call_id)
                .execute(&mut *connection)
                .await?;
                    let talk_ms = (at - answered_at).max(0);
                    count(
                        connection,
                        tenant,
                        &queue_id,
                        at,
                        Count::Handled { talk_ms },
                    )
                    .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

async fn forget_waiting(
    connection: &mut AnyConnection,
    tenant: &str,
    call_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reporting_waiting_calls WHERE tenant_id = $1 AND call_id = $2")
        .bind(tenant)
        .bind(call_id)
        .execute(connection)
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Projection for QueueViewProjection {
    fn name(&self) -> Name {
        Name::new(NAME).expect("valid name")
    }

    fn filter(&self) -> Filter {
        let name = |value: &str| Name::new(value).expect("valid name");
        Filter::all()
            .aggregate(name("telephony"), name("call"))
            .aggregate(name("routing"), name("presence"))
            .aggregate(name("routing"), name("queue"))
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            if event.stream().context.as_str() == "routing" {
                Self::apply_routing(connection, event).await?;
            } else {
                Self::apply_call(connection, event).await?;
            }
        }
        Ok(())
    }

    async fn reset(&self, connection: &mut AnyConnection) -> Result<(), ProjectionError> {
        for statement in [
            "DELETE FROM reporting_queues",
            "DELETE FROM reporting_waiting_calls",
            "DELETE FROM reporting_answered_calls",
            "DELETE FROM reporting_agent_states",
            "DELETE FROM reporting_queue_intervals",
        ] {
            sqlx::query(statement).execute(&mut *connection).await?;
        }
        Ok(())
    }
}

/// What happened to calls over a span of time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    /// Calls that entered the queue.
    pub offered: i64,
    /// Calls answered.
    pub answered: i64,
    /// Calls whose caller left first.
    pub abandoned: i64,
    /// Answered calls answered within the service-level target.
    pub answered_in_service_level: i64,
    /// Sum of the waits of answered calls.
    pub answer_wait_ms: i64,
    /// Calls that ended after an answer.
    pub handled: i64,
    /// Sum of their talk times.
    pub handle_ms: i64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.abandoned += other.abandoned;
        self.answered_in_service_level += other.answered_in_service_level;
        self.answer_wait_ms += other.answer_wait_ms;
        self.handled += other.handled;
        self.handle_ms += other.handle_ms;
    }

    /// Share of answered calls answered within the target (1 with none answered).
    pub fn service_level(&self) -> f64 {
        ratio(self.answered_in_service_level, self.answered).unwrap_or(1.0)
    }

    /// Average speed of answer in milliseconds.
    pub fn average_speed_of_answer_ms(&self) -> f64 {
        ratio(self.answer_wait_ms, self.answered).unwrap_or(0.0)
    }

    /// Share of calls whose caller left before an answer, of those that ended either way.
    pub fn abandonment_rate(&self) -> f64 {
        ratio(self.abandoned, self.answered + self.abandoned).unwrap_or(0.0)
    }

    /// Average handling (talk) time in milliseconds.
    pub fn average_handling_time_ms(&self) -> f64 {
        ratio(self.handle_ms, self.handled).unwrap_or(0.0)
    }
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Agents by state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentCounts {
    /// Ready for a call.
    pub ready: i64,
    /// Signed in, not ready.
    pub not_ready: i64,
    /// A call rings at them.
    pub reserved: i64,
    /// On a call.
    pub on_call: i64,
    /// Wrapping up.
    pub after_call_work: i64,
}

impl AgentCounts {
    fn add_state(&mut self, state: &str, agents: i64) {
        match state {
            "ready" => self.ready += agents,
            "not_ready" => self.not_ready += agents,
            "reserved" => self.reserved += agents,
            "on_call" => self.on_call += agents,
            "after_call_work" => self.after_call_work += agents,
            _ => {}
        }
    }

    fn add(&mut self, other: &AgentCounts) {
        self.ready += other.ready;
        self.not_ready += other.not_ready;
        self.reserved += other.reserved;
        self.on_call += other.on_call;
        self.after_call_work += other.after_call_work;
    }
}

/// The live view of one queue, or of one center's queues together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveView {
    /// The queue (empty for a center).
    pub queue_id: String,
    /// The center.
    pub center_id: String,
    /// Calls waiting now (queued or ringing).
    pub waiting: i64,
    /// How long the longest-waiting call has waited, in milliseconds.
    pub longest_wait_ms: i64,
    /// Calls waiting longer than the queue's maximum wait.
    pub over_max_wait: i64,
    /// Agents by state (an agent of several queues counts in each).
    pub agents: AgentCounts,
    /// Since midnight UTC.
    pub today: Totals,
    /// The current 15-minute interval.
    pub interval: Totals,
    /// Start of the current interval (ms since the epoch).
    pub interval_start: i64,
}

/// The tenant's queues and centers at `now_ms`, ordered by id.
pub async fn queue_view(
    pool: &AnyPool,
    tenant: &str,
    now_ms: i64,
) -> Result<(Vec<LiveView>, Vec<LiveView>), sqlx::Error> {
    let interval_start = interval_of(now_ms);
    let day_start = now_ms - now_ms.rem_euclid(DAY_MS);
    let queues: Vec<(String, String)> = sqlx::query_as(
        "SELECT queue_id, center_id FROM reporting_queues WHERE tenant_id = $1 ORDER BY queue_id",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    let mut views: BTreeMap<String, LiveView> = queues
        .into_iter()
        .map(|(queue_id, center_id)| {
            (
                queue_id.clone(),
                LiveView {
                    queue_id,
                    center_id,
                    interval_start,
                    ..LiveView::default()
                },
            )
        })
        .collect();
    let waiting: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT w.queue_id, COUNT(*), MIN(w.queued_at),
                SUM(CASE WHEN q.max_wait_seconds > 0
                              AND w.queued_at < $2 - q.max_wait_seconds * 1000
                         THEN 1 ELSE 0 END)
         FROM reporting_waiting_calls w
         LEFT JOIN reporting_queues q ON q.tenant_id = w.tenant_id AND q.queue_id = w.queue_id
         WHERE w.tenant_id = $1 GROUP BY w.queue_id",
    )
    .bind(tenant)
    .bind(now_ms)
    .fetch_all(pool)
    .await?;
    for (queue_id, calls, oldest, over) in waiting {
        if let Some(view) = views.get_mut(&queue_id) {
            view.waiting = calls;
            view.longest_wait_ms = (now_ms - oldest).max(0);
            view.over_max_wait = over;
        }
    }
    let agents: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT queue_ids, state, COUNT(*) FROM reporting_agent_states
         WHERE tenant_id = $1 AND state <> 'logged_out' GROUP BY queue_ids, state",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    for (queue_ids, state, count) in agents {
        for queue_id in queue_ids.split(',').filter(|id| !id.is_empty()) {
            if let Some(view) = views.get_mut(queue_id) {
                view.agents.add_state(&state, count);
            }
        }
    }
    type IntervalRow = (String, i64, i64, i64, i64, i64, i64, i64, i64);
    let intervals: Vec<IntervalRow> = sqlx::query_as(
        "SELECT queue_id, interval_start, offered, answered, abandoned, answered_in_service_level,
                answer_wait_ms, handled, handle_ms
         FROM reporting_queue_intervals WHERE tenant_id = $1 AND interval_start >= $2",
    )
    .bind(tenant)
    .bind(day_start)
    .fetch_all(pool)
    .await?;
    for (queue_id, start, offered, answered, abandoned, in_sl, wait, handled, handle) in intervals {
        let Some(view) = views.get_mut(&queue_id) else {
            continue;
        };
        let totals = Totals {
            offered,
            answered,
            abandoned,
            answered_in_service_level: in_sl,
            answer_wait_ms: wait,
            handled,
            handle_ms: handle,
        };
        view.today.add(&totals);
        if start == interval_start {
            view.interval.add(&totals);
        }
    }
    let mut centers: BTreeMap<String, LiveView> = BTreeMap::new();
    for view in views.values() {
        let center = centers
            .entry(view.center_id.clone())
            .or_insert_with(|| LiveView {
                center_id: view.center_id.clone(),
                interval_start,
                ..LiveView::default()
            });
        center.waiting += view.waiting;
        center.longest_wait_ms = center.longest_wait_ms.max(view.longest_wait_ms);
        center.over_max_wait += view.over_max_wait;
        center.agents.add(&view.agents);
        center.today.add(&view.today);
        center.interval.add(&view.interval);
    }
    Ok((
        views.into_values().collect(),
        centers.into_values().collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_level_asa_abandonment_and_aht_come_from_the_counts() {
        let totals = Totals {
            offered: 10,
            answered: 8,
            abandoned: 2,
            answered_in_service_level: 6,
            answer_wait_ms: 80_000,
            handled: 4,
            handle_ms: 720_000,
        };
        assert!((totals.service_level() - 0.75).abs() < 1e-9);
        assert!((totals.average_speed_of_answer_ms() - 10_000.0).abs() < 1e-9);
        assert!((totals.abandonment_rate() - 0.2).abs() < 1e-9);
        assert!((totals.average_handling_time_ms() - 180_000.0).abs() < 1e-9);
        let none = Totals::default();
        assert_eq!(
            (
                none.service_level(),
                none.average_speed_of_answer_ms(),
                none.abandonment_rate()
            ),
            (1.0, 0.0, 0.0)
        );
    }

    #[test]
    fn intervals_are_quarter_hours() {
        assert_eq!(interval_of(0), 0);
        assert_eq!(interval_of(INTERVAL_MS - 1), 0);
        assert_eq!(interval_of(INTERVAL_MS), INTERVAL_MS);
        assert_eq!(interval_of(3 * INTERVAL_MS + 5), 3 * INTERVAL_MS);
    }
}
