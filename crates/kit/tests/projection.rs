//! The projection runner against real event logs and real read-model databases:
//! the SQLite log with a SQLite read model (the embedded mode) and JetStream with PostgreSQL
//! (production).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_eventlog::{EventStore, Filter, Name, RecordedEvent};
use callcenter_kit::{
    CommandHandler, CommandMeta, PersistedEvent, Projection, ProjectionError, ProjectionRunner, db,
};
use callcenter_testkit::{PgSchema, TempDir};
use common::{Added, Tally, add};
use sqlx::{AnyConnection, AnyPool};
use tokio_util::sync::CancellationToken;

/// Sums each tally into `tally_totals`, one upsert per aggregate per batch.
struct Totals;

const TOTALS_TABLE: &str = "CREATE TABLE IF NOT EXISTS tally_totals (
    tenant_id TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    total BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, aggregate_id)
)";

#[async_trait::async_trait]
impl Projection for Totals {
    fn name(&self) -> Name {
        Name::new("totals").unwrap()
    }

    fn filter(&self) -> Filter {
        Filter::all().aggregate(Name::new("test").unwrap(), Name::new("tally").unwrap())
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut sums: BTreeMap<(String, String), i64> = BTreeMap::new();
        for event in events {
            let added = Added::decode(event)?;
            let key = (
                event.stream().tenant.to_string(),
                event.stream().aggregate_id.to_string(),
            );
            *sums.entry(key).or_default() += added.amount as i64;
        }
        for ((tenant, aggregate), sum) in sums {
            sqlx::query(
                "INSERT INTO tally_totals (tenant_id, aggregate_id, total) VALUES ($1, $2, $3)
                 ON CONFLICT (tenant_id, aggregate_id)
                 DO UPDATE SET total = tally_totals.total + excluded.total",
            )
            .bind(tenant)
            .bind(aggregate)
            .bind(sum)
            .execute(&mut *connection)
            .await?;
        }
        Ok(())
    }

    async fn reset(&self, connection: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM tally_totals")
            .execute(&mut *connection)
            .await?;
        Ok(())
    }
}

/// An event log and a read-model database, isolated for one test.
struct Fixture {
    store: Arc<dyn EventStore>,
    pool: AnyPool,
    cleanup: Cleanup,
}

enum Cleanup {
    Embedded(#[allow(dead_code)] TempDir),
    Production(Box<JetStreamEventStore>, PgSchema),
}

async fn embedded() -> Fixture {
    let directory = TempDir::new("projection");
    let store = SqliteEventStore::open(&directory.path().join("events.db"))
        .await
        .unwrap();
    let url = format!("sqlite://{}", directory.path().join("read.db").display());
    let pool = db::connect(&url).await.unwrap();
    Fixture {
        store: Arc::new(store),
        pool,
        cleanup: Cleanup::Embedded(directory),
    }
}

async fn production() -> Fixture {
    let prefix = Name::new(callcenter_testkit::unique_name("proj")).unwrap();
    let store = JetStreamEventStore::connect(
        &callcenter_testkit::nats_url(),
        JetStreamConfig::new(prefix),
    )
    .await
    .unwrap();
    let schema = PgSchema::create("proj").await;
    let pool = db::connect(&schema.url()).await.unwrap();
    Fixture {
        store: Arc::new(store.clone()),
        pool,
        cleanup: Cleanup::Production(Box::new(store), schema),
    }
}

impl Fixture {
    async fn migrate(&self) {
        db::migrate_kit(&self.pool).await.unwrap();
        sqlx::query(TOTALS_TABLE).execute(&self.pool).await.unwrap();
    }

    fn runner(&self) -> ProjectionRunner {
        ProjectionRunner::new(Arc::clone(&self.store), self.pool.clone(), Arc::new(Totals))
    }

    async fn add(&self, tenant: &str, tally: &str, amount: u64) {
        let handler = CommandHandler::<Tally>::new(Arc::clone(&self.store));
        let meta = CommandMeta::system(
            Name::new(tenant).unwrap(),
            "test",
            uuid::Uuid::new_v4().to_string(),
        );
        handler
            .handle(&meta, &Name::new(tally).unwrap(), &add(amount))
            .await
            .unwrap();
    }

    async fn totals(&self) -> Vec<(String, String, i64)> {
        sqlx::query_as(
            "SELECT tenant_id, aggregate_id, total FROM tally_totals
             ORDER BY tenant_id, aggregate_id",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    async fn destroy(self) {
        self.pool.close().await;
        if let Cleanup::Production(store, schema) = self.cleanup {
            store.delete_stream().await.unwrap();
            schema.drop_schema().await;
        }
    }
}

fn rows(expected: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    expected
        .iter()
        .map(|(t, a, n)| (t.to_string(), a.to_string(), *n))
        .collect()
}

async fn applies_batches_with_their_checkpoint_and_skips_replays(fixture: Fixture) {
    fixture.migrate().await;
    fixture.add("acme", "a", 1).await;
    fixture.add("acme", "a", 2).await;
    fixture.add("acme", "b", 10).await;
    fixture.add("globex", "a", 100).await;
    let runner = fixture.runner();
    let checkpoint = runner.catch_up().await.unwrap();
    let expected = rows(&[("acme", "a", 3), ("acme", "b", 10), ("globex", "a", 100)]);
    assert_eq!(fixture.totals().await, expected);
    assert!(checkpoint > 0);
    assert_eq!(runner.checkpoint().await.unwrap(), checkpoint);

    // The log forgets what was acknowledged: everything is delivered again and skipped.
    fixture
        .store
        .delete_subscription(&Name::new("totals").unwrap())
        .await
        .unwrap();
    let again = fixture.runner().catch_up().await.unwrap();
    assert_eq!(again, checkpoint);
    assert_eq!(fixture.totals().await, expected, "a replay changes nothing");
    fixture.destroy().await;
}

async fn a_restarted_runner_continues_from_its_checkpoint(fixture: Fixture) {
    fixture.migrate().await;
    fixture.add("acme", "a", 1).await;
    fixture.runner().catch_up().await.unwrap();
    fixture.add("acme", "a", 5).await;
    fixture.add("acme", "c", 7).await;
    fixture.runner().catch_up().await.unwrap();
    assert_eq!(
        fixture.totals().await,
        rows(&[("acme", "a", 6), ("acme", "c", 7)])
    );
    fixture.destroy().await;
}

async fn a_rebuild_from_zero_gives_the_same_read_model(fixture: Fixture) {
    fixture.migrate().await;
    for (tally, amount) in [("a", 1), ("b", 2), ("a", 3), ("c", 4)] {
        fixture.add("acme", tally, amount).await;
    }
    let runner = fixture.runner();
    runner.catch_up().await.unwrap();
    let before = fixture.totals().await;
    runner.rebuild().await.unwrap();
    assert!(
        fixture.totals().await.is_empty(),
        "rebuild empties the read model"
    );
    assert_eq!(runner.checkpoint().await.unwrap(), 0);
    runner.catch_up().await.unwrap();
    assert_eq!(fixture.totals().await, before);
    fixture.destroy().await;
}

/// In batches of two: lag is reported, and every commit is applied once.
async fn lag_is_reported_while_catching_up(fixture: Fixture) {
    fixture.migrate().await;
    for index in 0..20 {
        fixture.add("acme", &format!("t{index}"), 1).await;
    }
    let runner = fixture.runner().with_batch_size(2);
    let mut status = runner.status();
    let watcher = tokio::spawn(async move {
        let mut most = 0;
        while status.changed().await.is_ok() {
            most = most.max(status.borrow().lag);
        }
        most
    });
    runner.catch_up().await.unwrap();
    let last = runner.status().borrow().clone();
    assert_eq!(last.lag, 0);
    assert!(last.caught_up);
    drop(runner);
    assert!(watcher.await.unwrap() > 0, "a partial batch reports lag");
    let totals = fixture.totals().await;
    assert_eq!(totals.len(), 20, "every aggregate projected: {totals:?}");
    assert!(
        totals.iter().all(|(_, _, total)| *total == 1),
        "each commit applied once: {totals:?}"
    );
    fixture.destroy().await;
}

async fn a_failing_batch_is_retried_until_it_applies(fixture: Fixture) {
    // The read model's table is missing at first, so every batch fails.
    db::migrate_kit(&fixture.pool).await.unwrap();
    fixture.add("acme", "a", 2).await;
    let runner = Arc::new(fixture.runner());
    let shutdown = CancellationToken::new();
    let running = {
        let runner = Arc::clone(&runner);
        let shutdown = shutdown.clone();
        tokio::spawn(async move { runner.run(shutdown).await })
    };
    let mut status = runner.status();
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.last_error.is_some()),
    )
    .await
    .expect("the failure is reported")
    .unwrap();
    assert_eq!(
        runner.checkpoint().await.unwrap(),
        0,
        "nothing half-applied"
    );
    sqlx::query(TOTALS_TABLE)
        .execute(&fixture.pool)
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.last_error.is_none() && s.checkpoint > 0),
    )
    .await
    .expect("recovers once the table exists")
    .unwrap();
    shutdown.cancel();
    running.await.unwrap();
    assert_eq!(fixture.totals().await, rows(&[("acme", "a", 2)]));
    fixture.destroy().await;
}

macro_rules! on_both_setups {
    ($($case:ident),+ $(,)?) => {
        mod embedded_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::embedded().await).await;
                }
            )+
        }
        mod jetstream_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::production().await).await;
                }
            )+
        }
    };
}

on_both_setups!(
    applies_batches_with_their_checkpoint_and_skips_replays,
    a_restarted_runner_continues_from_its_checkpoint,
    a_rebuild_from_zero_gives_the_same_read_model,
    lag_is_reported_while_catching_up,
    a_failing_batch_is_retried_until_it_applies,
);
