//! The embedded backend: the event log in one SQLite file, for `callcenter dev` and fast tests.
//!
//! Appends go through one writer connection inside `BEGIN IMMEDIATE` transactions, so two writers
//! of one aggregate are serialized and exactly one of them passes the expected-version check (a
//! unique index on the stream's first versions guards it a second time). Appends that arrive while
//! a transaction is being written are written together in the next one (group commit): each is
//! checked and inserted in turn, as if alone, and all land with its `COMMIT`, which is most of an
//! append's cost. Subscribers in the same process are woken on every append; others poll.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row, Sqlite};
use tokio::sync::{Mutex, watch};

use crate::codec::{DecodedCommit, decode_commit, encode_commit};
use crate::{
    AppendRequest, Appended, Batch, EventStore, ExpectedVersion, Filter, Name, Position,
    RecordedEvent, Snapshot, StoreError, StreamEvents, StreamKey, StreamVersion, Subscription,
    SubscriptionSpec, Timestamp, TraceContext,
};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS eventlog_commits (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id TEXT NOT NULL,
        context TEXT NOT NULL,
        aggregate_type TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        first_version INTEGER NOT NULL,
        last_version INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        traceparent TEXT,
        tracestate TEXT,
        recorded_at INTEGER NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (tenant_id, context, aggregate_type, aggregate_id, first_version)
    )",
    "CREATE INDEX IF NOT EXISTS eventlog_commits_by_request
        ON eventlog_commits (tenant_id, context, aggregate_type, aggregate_id, request_id)",
    "CREATE TABLE IF NOT EXISTS eventlog_subscriptions (
        name TEXT PRIMARY KEY,
        filter TEXT NOT NULL,
        acked_position INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS eventlog_snapshots (
        name TEXT PRIMARY KEY,
        format INTEGER NOT NULL,
        position INTEGER NOT NULL,
        body BLOB NOT NULL
    )",
];

/// How often a subscriber looks for commits written by another process.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The event log in a SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteEventStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: Mutex<SqliteConnection>,
    /// Appends waiting for the writer: whoever holds it next writes them all in one transaction.
    waiting: std::sync::Mutex<Vec<WaitingAppend>>,
    readers: SqlitePool,
    last_position: watch::Sender<Position>,
}

/// An append waiting for the next transaction, and where its outcome goes.
type WaitingAppend = (
    AppendRequest,
    tokio::sync::oneshot::Sender<Result<Appended, StoreError>>,
);

/// Most appends written in one transaction.
const MOST_APPENDS_PER_TRANSACTION: usize = 512;

impl SqliteEventStore {
    /// Opens (creating if needed) the log in the file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        Self::open_with(options).await
    }

    /// Opens the log with a `sqlite:` URL (such as `sqlite://data/events.db`).
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::unavailable)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        Self::open_with(options).await
    }

    async fn open_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let mut writer = SqliteConnection::connect_with(&options)
            .await
            .map_err(StoreError::unavailable)?;
        for statement in SCHEMA {
            sqlx::query(*statement)
                .execute(&mut writer)
                .await
                .map_err(StoreError::unavailable)?;
        }
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(StoreError::unavailable)?;
        let last: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM eventlog_commits")
                .fetch_one(&mut writer)
                .await
                .map_err(StoreError::unavailable)?;
        let (last_position, _) = watch::channel(to_position(last));
        Ok(Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                waiting: std::sync::Mutex::default(),
                readers,
                last_position,
            }),
        })
    }

    /// Closes the database connections (they also close when the last clone is dropped).
    pub async fn close(&self) {
        self.inner.readers.close().await;
        let mut writer = self.inner.writer.lock().await;
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *writer)
            .await;
    }
}

fn to_position(value: i64) -> Position {
    u64::try_from(value).unwrap_or(0)
}

fn to_sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The stored commit of `stream` whose first version is `first_version`, if any.
async fn commit_starting_at(
    connection: &mut SqliteConnection,
    stream: &StreamKey,
    first_version: u64,
) -> Result<Option<(Position, u64, u64, String)>, StoreError> {
    let row = sqlx::query(
        "SELECT position, first_version, last_version, request_id FROM eventlog_commits
         WHERE tenant_id = ?1 AND context = ?2 AND aggregate_type = ?3 AND aggregate_id = ?4
           AND first_version = ?5",
    )
    .bind(stream.tenant.as_str())
    .bind(stream.context.as_str())
    .bind(stream.aggregate_type.as_str())
    .bind(stream.aggregate_id.as_str())
    .bind(to_sql_int(first_version))
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::unavailable)?;
    row.map(|row| commit_summary(&row)).transpose()
}

fn commit_summary(row: &SqliteRow) -> Result<(Position, u64, u64, String), StoreError> {
    let get = |column: &str| -> Result<i64, StoreError> {
        row.try_get::<i64, _>(column)
            .map_err(StoreError::unavailable)
    };
    Ok((
        to_position(get("position")?),
        to_position(get("first_version")?),
        to_position(get("last_version")?),
        row.try_get("request_id").map_err(StoreError::unavailable)?,
    ))
}

async fn append_in_transaction(
    connection: &mut SqliteConnection,
    request: &AppendRequest,
) -> Result<Appended, StoreError> {
    let stream = &request.stream;
    let request_id = request.metadata.request_id.as_str();
    let last = sqlx::query(
        "SELECT position, first_version, last_version, request_id FROM eventlog_commits
         WHERE tenant_id = ?1 AND context = ?2 AND aggregate_type = ?3 AND aggregate_id = ?4
         ORDER BY first_version DESC LIMIT 1",
    )
    .bind(stream.tenant.as_str())
    .bind(stream.context.as_str())
    .bind(stream.aggregate_type.as_str())
    .bind(stream.aggregate_id.as_str())
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::unavailable)?
    .map(|row| commit_summary(&row))
    .transpose()?;
    let current_version = last
        .as_ref()
        .map_or(0, |(_, _, last_version, _)| *last_version);

    let expected_version = match request.expected {
        ExpectedVersion::Any => {
            let earlier = sqlx::query(
                "SELECT position, first_version, last_version, request_id FROM eventlog_commits
                 WHERE tenant_id = ?1 AND context = ?2 AND aggregate_type = ?3
                   AND aggregate_id = ?4 AND request_id = ?5
                 LIMIT 1",
            )
            .bind(stream.tenant.as_str())
            .bind(stream.context.as_str())
            .bind(stream.aggregate_type.as_str())
            .bind(stream.aggregate_id.as_str())
            .bind(request_id)
            .fetch_optional(&mut *connection)
            .await
            .map_err(StoreError::unavailable)?;
            if let Some(row) = earlier {
                let (position, first_version, last_version, _) = commit_summary(&row)?;
                return Ok(Appended {
                    position,
                    first_version,
                    last_version,
                    duplicate: true,
                });
            }
            current_version
        }
        ExpectedVersion::NoStream => 0,
        ExpectedVersion::Exactly(stream_version) => stream_version.version(),
    };

    if current_version != expected_version {
        // A retry whose first attempt landed finds its own commit right after the expected version.
        if current_version > expected_version
            && let Some((position, first_version, last_version, stored_request_id)) =
                commit_starting_at(connection, stream, expected_version + 1).await?
            && stored_request_id == request_id
        {
            return Ok(Appended {
                position,
                first_version,
                last_version,
                duplicate: true,
            });
        }
        return Err(StoreError::Conflict {
            stream: stream.clone(),
            expected: request.expected,
            actual: current_version,
        });
    }

    let first_version = current_version + 1;
    let last_version = current_version + request.events.len() as u64;
    let body = encode_commit(request, first_version);
    let position: i64 = sqlx::query_scalar(
        "INSERT INTO eventlog_commits (tenant_id, context, aggregate_type, aggregate_id,
             first_version, last_version, request_id, traceparent, tracestate, recorded_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         RETURNING position",
    )
    .bind(stream.tenant.as_str())
    .bind(stream.context.as_str())
    .bind(stream.aggregate_type.as_str())
    .bind(stream.aggregate_id.as_str())
    .bind(to_sql_int(first_version))
    .bind(to_sql_int(last_version))
    .bind(request_id)
    .bind(request.metadata.trace.traceparent.as_deref())
    .bind(request.metadata.trace.tracestate.as_deref())
    .bind(Timestamp::now().unix_millis())
    .bind(body.as_ref())
    .fetch_one(&mut *connection)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
            stream: stream.clone(),
            expected: request.expected,
            actual: current_version,
        },
        _ => StoreError::unavailable(error),
    })?;
    Ok(Appended {
        position: to_position(position),
        first_version,
        last_version,
        duplicate: false,
    })
}

/// Writes `group` in one transaction: each append checked and inserted in turn (an append that
/// fails writes nothing), all committed together, and each outcome sent to its waiter. If the
/// transaction cannot be begun or committed, every append of the group fails with that error.
async fn write_group(
    writer: &mut SqliteConnection,
    group: Vec<WaitingAppend>,
    last_position: &watch::Sender<Position>,
) {
    let mut transaction = match writer.begin_with("BEGIN IMMEDIATE").await {
        Ok(transaction) => transaction,
        Err(error) => {
            let error = error.to_string();
            for (_, sender) in group {
                let _ = sender.send(Err(StoreError::unavailable(error.clone())));
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(group.len());
    for (request, sender) in group {
        let outcome = append_in_transaction(&mut transaction, &request).await;
        outcomes.push((outcome, sender));
    }
    let wrote = outcomes
        .iter()
        .filter_map(|(outcome, _)| outcome.as_ref().ok())
        .filter(|appended| !appended.duplicate)
        .map(|appended| appended.position)
        .max();
    let committed = match wrote {
        Some(_) => transaction.commit().await,
        None => transaction.rollback().await,
    };
    match committed {
        Ok(()) => {
            if let Some(position) = wrote {
                last_position.send_replace(position);
            }
            for (outcome, sender) in outcomes {
                let _ = sender.send(outcome);
            }
        }
        Err(error) => {
            let error = error.to_string();
            for (outcome, sender) in outcomes {
                let failed = match outcome {
                    Ok(appended) if !appended.duplicate => {
                        Err(StoreError::unavailable(error.clone()))
                    }
                    other => other,
                };
                let _ = sender.send(failed);
            }
        }
    }
}

fn decode_row(row: &SqliteRow) -> Result<DecodedCommit, StoreError> {
    let position = to_position(row.try_get("position").map_err(StoreError::unavailable)?);
    let body: Vec<u8> = row.try_get("body").map_err(StoreError::unavailable)?;
    let trace = TraceContext {
        traceparent: row
            .try_get("traceparent")
            .map_err(StoreError::unavailable)?,
        tracestate: row.try_get("tracestate").map_err(StoreError::unavailable)?,
    };
    decode_commit(position, bytes::Bytes::from(body), trace)
}

#[async_trait::async_trait]
impl EventStore for SqliteEventStore {
    async fn append(&self, request: AppendRequest) -> Result<Appended, StoreError> {
        request.validate()?;
        let (sender, mut outcome) = tokio::sync::oneshot::channel();
        self.inner
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((request, sender));
        let mut writer = self.inner.writer.lock().await;
        // Written meanwhile by the holder before.
        if let Ok(outcome) = outcome.try_recv() {
            return outcome;
        }
        loop {
            let group: Vec<WaitingAppend> = {
                let mut waiting = self
                    .inner
                    .waiting
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let take = waiting.len().min(MOST_APPENDS_PER_TRANSACTION);
                waiting.drain(..take).collect()
            };
            if group.is_empty() {
                break;
            }
            write_group(&mut writer, group, &self.inner.last_position).await;
            if let Ok(outcome) = outcome.try_recv() {
                return outcome;
            }
        }
        Err(StoreError::unavailable("the append was dropped unwritten"))
    }

    async fn read_stream(
        &self,
        stream: &StreamKey,
        after_version: u64,
    ) -> Result<StreamEvents, StoreError> {
        let rows = sqlx::query(
            "SELECT position, traceparent, tracestate, body FROM eventlog_commits
             WHERE tenant_id = ?1 AND context = ?2 AND aggregate_type = ?3 AND aggregate_id = ?4
               AND first_version > ?6 AND last_version > ?5
             ORDER BY first_version",
        )
        .bind(stream.tenant.as_str())
        .bind(stream.context.as_str())
        .bind(stream.aggregate_type.as_str())
        .bind(stream.aggregate_id.as_str())
        .bind(to_sql_int(after_version))
        // A commit holding an event after `after_version` begins less than a commit's most
        // events before it: the key's index starts there instead of at the stream's first.
        .bind(to_sql_int(
            after_version.saturating_sub(crate::MAX_EVENTS_PER_COMMIT as u64),
        ))
        .fetch_all(&self.inner.readers)
        .await
        .map_err(StoreError::unavailable)?;
        let mut events = Vec::new();
        let mut version = StreamVersion::new(after_version);
        for row in &rows {
            let commit = decode_row(row)?;
            let position = commit.events.first().map_or(0, RecordedEvent::position);
            version = StreamVersion::at(commit.last_version, position);
            events.extend(
                commit
                    .events
                    .into_iter()
                    .filter(|event| event.version > after_version),
            );
        }
        Ok(StreamEvents { events, version })
    }

    async fn subscribe(&self, spec: SubscriptionSpec) -> Result<Box<dyn Subscription>, StoreError> {
        let filter_text = filter_fingerprint(&spec.filter);
        let mut writer = self.inner.writer.lock().await;
        let existing: Option<(String, i64)> = sqlx::query_as(
            "SELECT filter, acked_position FROM eventlog_subscriptions WHERE name = ?1",
        )
        .bind(spec.name.as_str())
        .fetch_optional(&mut *writer)
        .await
        .map_err(StoreError::unavailable)?;
        let start = match (existing, spec.resume_after) {
            (Some((filter, acked)), resume_after) if filter == filter_text => {
                let acked = to_position(acked);
                // Moved back only when it had acknowledged beyond what the caller has.
                resume_after.map_or(acked, |after| acked.min(after))
            }
            (_, resume_after) => resume_after.unwrap_or(0),
        };
        sqlx::query(
            "INSERT INTO eventlog_subscriptions (name, filter, acked_position) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET filter = excluded.filter,
                 acked_position = excluded.acked_position",
        )
        .bind(spec.name.as_str())
        .bind(&filter_text)
        .bind(to_sql_int(start))
        .execute(&mut *writer)
        .await
        .map_err(StoreError::unavailable)?;
        drop(writer);
        Ok(Box::new(SqliteSubscription {
            store: self.clone(),
            name: spec.name,
            filter: spec.filter,
            delivered: start,
            appended: self.inner.last_position.subscribe(),
        }))
    }

    async fn head(&self) -> Result<Position, StoreError> {
        let last: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM eventlog_commits")
                .fetch_one(&self.inner.readers)
                .await
                .map_err(StoreError::unavailable)?;
        Ok(to_position(last))
    }

    async fn delete_subscription(&self, name: &Name) -> Result<(), StoreError> {
        let mut writer = self.inner.writer.lock().await;
        sqlx::query("DELETE FROM eventlog_subscriptions WHERE name = ?1")
            .bind(name.as_str())
            .execute(&mut *writer)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(())
    }

    async fn save_snapshot(&self, name: &Name, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut writer = self.inner.writer.lock().await;
        sqlx::query(
            "INSERT INTO eventlog_snapshots (name, format, position, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET
               format = excluded.format, position = excluded.position, body = excluded.body",
        )
        .bind(name.as_str())
        .bind(i64::from(snapshot.format))
        .bind(to_sql_int(snapshot.position))
        .bind(&snapshot.body[..])
        .execute(&mut *writer)
        .await
        .map_err(StoreError::unavailable)?;
        Ok(())
    }

    async fn load_snapshot(&self, name: &Name) -> Result<Option<Snapshot>, StoreError> {
        let row: Option<(i64, i64, Vec<u8>)> =
            sqlx::query_as("SELECT format, position, body FROM eventlog_snapshots WHERE name = ?1")
                .bind(name.as_str())
                .fetch_optional(&self.inner.readers)
                .await
                .map_err(StoreError::unavailable)?;
        Ok(row.map(|(format, position, body)| Snapshot {
            format: u32::try_from(format).unwrap_or(0),
            position: to_position(position),
            body,
        }))
    }

    async fn health(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.inner.readers)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

/// A stable text form of a filter, stored with a durable subscription to notice when it changes.
fn filter_fingerprint(filter: &Filter) -> String {
    let mut streams: Vec<String> = filter
        .streams
        .iter()
        .map(|(context, aggregate_type)| {
            format!(
                "{context}.{}",
                aggregate_type.as_ref().map_or("*", Name::as_str)
            )
        })
        .collect();
    streams.sort();
    format!(
        "tenant={};streams={}",
        filter.tenant.as_ref().map_or("*", Name::as_str),
        streams.join(",")
    )
}

/// Appends `WHERE position > after AND <filter>` to a query over `eventlog_commits`.
fn push_filter(builder: &mut QueryBuilder<Sqlite>, filter: &Filter, after: Position) {
    builder
        .push(" WHERE position > ")
        .push_bind(to_sql_int(after));
    if let Some(tenant) = &filter.tenant {
        builder.push(" AND tenant_id = ").push_bind(tenant.as_str());
    }
    if !filter.streams.is_empty() {
        builder.push(" AND (");
        for (index, (context, aggregate_type)) in filter.streams.iter().enumerate() {
            if index > 0 {
                builder.push(" OR ");
            }
            builder.push("(context = ").push_bind(context.as_str());
            if let Some(aggregate_type) = aggregate_type {
                builder
                    .push(" AND aggregate_type = ")
                    .push_bind(aggregate_type.as_str());
            }
            builder.push(")");
        }
        builder.push(")");
    }
}

#[derive(Debug)]
struct SqliteSubscription {
    store: SqliteEventStore,
    name: Name,
    filter: Filter,
    delivered: Position,
    appended: watch::Receiver<Position>,
}

impl SqliteSubscription {
    /// The matching commits after the last one delivered, up to `head`, at most `max_commits`.
    async fn fetch(
        &self,
        max_commits: usize,
        head: Position,
    ) -> Result<Vec<DecodedCommit>, StoreError> {
        let mut builder = QueryBuilder::new(
            "SELECT position, traceparent, tracestate, body FROM eventlog_commits",
        );
        push_filter(&mut builder, &self.filter, self.delivered);
        builder
            .push(" AND position <= ")
            .push_bind(to_sql_int(head))
            .push(" ORDER BY position LIMIT ")
            .push_bind(i64::try_from(max_commits.max(1)).unwrap_or(i64::MAX));
        let rows = builder
            .build()
            .fetch_all(&self.store.inner.readers)
            .await
            .map_err(StoreError::unavailable)?;
        rows.iter().map(decode_row).collect()
    }

    /// The last position of the log, from the primary key in constant time. Commits land in
    /// position order (one writer at a time), so every commit up to it is readable.
    async fn head(&self) -> Result<Position, StoreError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(position) FROM eventlog_commits")
            .fetch_one(&self.store.inner.readers)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(to_position(last.unwrap_or(0)))
    }
}

#[async_trait::async_trait]
impl Subscription for SqliteSubscription {
    async fn next_batch(
        &mut self,
        max_commits: usize,
        wait: Duration,
    ) -> Result<Batch, StoreError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Mark the current append position as seen before querying, so that an append that
            // lands during the query wakes the wait below.
            self.appended.borrow_and_update();
            // Read up to the head as it is now, so that a search that finds fewer than asked
            // knows that nothing up to the head matches, and the next one starts after it: a
            // subscription whose streams are quiet while others are busy does not read the
            // same commits again at every append.
            let head = self.head().await?;
            let commits = self.fetch(max_commits, head).await?;
            if let Some(last) = commits.last() {
                let last_position = last.events.first().map_or(0, RecordedEvent::position);
                // The lag: the commits of any stream after the batch (an upper bound; counting
                // the matching ones would read the rest of the log at every batch).
                let (pending, delivered) = if commits.len() < max_commits {
                    (0, head)
                } else {
                    (head.saturating_sub(last_position), last_position)
                };
                // Only now, with nothing left to await, is the batch counted as delivered.
                self.delivered = delivered;
                return Ok(Batch {
                    events: commits.into_iter().flat_map(|c| c.events).collect(),
                    pending,
                    through: delivered,
                });
            }
            self.delivered = self.delivered.max(head);
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Batch {
                    through: self.delivered,
                    ..Batch::default()
                });
            }
            let nap = (deadline - now).min(POLL_INTERVAL);
            // Woken by an append in this process, or by the poll interval for other processes.
            let _ = tokio::time::timeout(nap, self.appended.changed()).await;
        }
    }

    async fn ack(&mut self, position: Position) -> Result<(), StoreError> {
        let mut writer = self.store.inner.writer.lock().await;
        sqlx::query(
            "UPDATE eventlog_subscriptions SET acked_position = MAX(acked_position, ?2)
             WHERE name = ?1",
        )
        .bind(self.name.as_str())
        .bind(to_sql_int(position))
        .execute(&mut *writer)
        .await
        .map_err(StoreError::unavailable)?;
        Ok(())
    }
}
