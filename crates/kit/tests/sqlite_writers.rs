//! Two writers on one SQLite read-model database (two projections of the embedded mode): each
//! reads, then writes, in its transaction; neither may fail with "database is locked".

use callcenter_kit::db;
use callcenter_testkit::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_read_then_write_transactions_wait_for_each_other_on_sqlite() {
    let directory = TempDir::new("kit-writers");
    let url = format!("sqlite://{}", directory.path().join("rm.db").display());
    let pool = db::connect(&url).await.expect("pool");
    sqlx::query("CREATE TABLE counts (writer BIGINT NOT NULL, seen BIGINT NOT NULL)")
        .execute(&pool)
        .await
        .expect("table");
    let writers = (0..2_i64).map(|writer| {
        let pool = pool.clone();
        tokio::spawn(async move {
            for _ in 0..150 {
                let mut connection = pool.acquire().await.expect("connection");
                let mut transaction = db::begin_write(&mut connection).await.expect("begin");
                let (seen,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM counts")
                    .fetch_one(&mut *transaction)
                    .await
                    .expect("read");
                sqlx::query("INSERT INTO counts (writer, seen) VALUES ($1, $2)")
                    .bind(writer)
                    .bind(seen)
                    .execute(&mut *transaction)
                    .await
                    .expect("write: never \"database is locked\"");
                transaction.commit().await.expect("commit");
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("writer");
    }
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM counts")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 300);
}
