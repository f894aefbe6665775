//! The queue call counts read model: per tenant and queue, calls offered (entered the queue),
//! answered and abandoned.

use std::collections::BTreeMap;

use callcenter_eventlog::{Filter, Name, RecordedEvent};
use callcenter_kit::{Projection, ProjectionError, published};
use callcenter_proto::telephony::v1::call_events::Event as CallEvent;
use sqlx::{AnyConnection, AnyPool};

/// One queue's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// The queue.
    pub queue_id: String,
    /// Calls that entered the queue.
    pub offered: i64,
    /// Calls an agent answered.
    pub answered: i64,
    /// Calls whose caller left first.
    pub abandoned: i64,
}

/// The projection's name.
const NAME: &str = "reporting-queue-call-counts";

/// The projection that keeps `reporting_queue_call_counts`.
#[derive(Debug, Default)]
pub struct QueueCountsProjection;

#[async_trait::async_trait]
impl Projection for QueueCountsProjection {
    fn name(&self) -> Name {
        Name::new(NAME).expect("valid name")
    }

    fn filter(&self) -> Filter {
        Filter::all().aggregate(
            Name::new("telephony").expect("valid name"),
            Name::new("call").expect("valid name"),
        )
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        // Sum the batch in memory first: one upsert per queue, however many calls.
        let mut deltas: BTreeMap<(String, String), [i64; 3]> = BTreeMap::new();
        for event in events {
            let tenant = event.stream().tenant.to_string();
            let (queue_id, column) = match published(NAME, event)? {
                Some(CallEvent::CallQueued(queued)) => (queued.queue_id, 0),
                Some(CallEvent::CallAnswered(answered)) => (answered.queue_id, 1),
                Some(CallEvent::CallAbandoned(abandoned)) => (abandoned.queue_id, 2),
                _ => continue,
            };
            // A caller who left in the IVR never reached a queue.
            if queue_id.is_empty() {
                continue;
            }
            deltas.entry((tenant, queue_id)).or_default()[column] += 1;
        }
        for ((tenant, queue_id), [offered, answered, abandoned]) in deltas {
            sqlx::query(
                "INSERT INTO reporting_queue_call_counts
                     (tenant_id, queue_id, offered, answered, abandoned)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant_id, queue_id) DO UPDATE SET
                     offered = reporting_queue_call_counts.offered + excluded.offered,
                     answered = reporting_queue_call_counts.answered + excluded.answered,
                     abandoned = reporting_queue_call_counts.abandoned + excluded.abandoned",
            )
            .bind(tenant)
            .bind(queue_id)
            .bind(offered)
            .bind(answered)
            .bind(abandoned)
            .execute(&mut *connection)
            .await?;
        }
        Ok(())
    }

    async fn reset(&self, connection: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM reporting_queue_call_counts")
            .execute(&mut *connection)
            .await?;
        Ok(())
    }
}

/// One page of a tenant's queue counts, ordered by queue id, after `after_queue_id`.
pub async fn list_queue_counts(
    pool: &AnyPool,
    tenant: &str,
    after_queue_id: &str,
    limit: u32,
) -> Result<Vec<QueueCounts>, sqlx::Error> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT queue_id, offered, answered, abandoned FROM reporting_queue_call_counts
         WHERE tenant_id = $1 AND queue_id > $2
         ORDER BY queue_id LIMIT $3",
    )
    .bind(tenant)
    .bind(after_queue_id)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(queue_id, offered, answered, abandoned)| QueueCounts {
            queue_id,
            offered,
            answered,
            abandoned,
        })
        .collect())
}
