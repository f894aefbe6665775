//! Read-model databases: PostgreSQL in production, SQLite in the embedded mode, through one
//! `sqlx::Any` pool, and their migrations (embedded in the binary, one history table per context).

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, SqlSafeStr};

/// The error of a database set-up.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database could not be reached or refused.
    #[error("database unavailable: {0}")]
    Unavailable(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration of {table} failed: {source}")]
    Migrate {
        /// The context's migration table.
        table: &'static str,
        /// What failed.
        source: sqlx::migrate::MigrateError,
    },
    /// The URL is neither `postgres://` nor `sqlite:`.
    #[error("unsupported database URL {0:?}: expected postgres://… or sqlite:…")]
    UnsupportedUrl(String),
}

/// One migration: version, description, SQL.
pub type MigrationSource = (i64, &'static str, &'static str);

/// Begins a transaction that will write: on SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so that two writers wait for each other (busy timeout) instead of one
/// failing with "database is locked" when it upgrades from reading to writing.
pub async fn begin_write(
    connection: &mut sqlx::AnyConnection,
) -> Result<sqlx::Transaction<'_, sqlx::Any>, sqlx::Error> {
    let statement = if connection.backend_name() == "SQLite" {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    sqlx::Connection::begin_with(connection, statement).await
}

/// Connects a read-model pool to `url` (`postgres://…` or `sqlite:…`; a SQLite file is created if
/// missing and put in WAL mode).
pub async fn connect(url: &str) -> Result<AnyPool, DbError> {
    sqlx::any::install_default_drivers();
    let is_sqlite = url.starts_with("sqlite:");
    if !is_sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(DbError::UnsupportedUrl(url.to_owned()));
    }
    let (url, max_connections) = if is_sqlite {
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = if url.contains("mode=") {
            url.to_owned()
        } else {
            format!("{url}{separator}mode=rwc")
        };
        (url, 4)
    } else {
        (url.to_owned(), 10)
    };
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // A ping before every checkout doubles the round trips of short transactions; broken
        // connections surface as errors and projections retry from their checkpoint.
        .test_before_acquire(false)
        .after_connect(move |connection, _| {
            Box::pin(async move {
                if is_sqlite {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *connection)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *connection)
                        .await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    Ok(pool)
}

/// Applies `migrations` that are not yet applied, keeping their history in `table`.
pub async fn migrate(
    pool: &AnyPool,
    table: &'static str,
    migrations: &[MigrationSource],
) -> Result<(), DbError> {
    let migrations = migrations
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(table);
    migrator
        .run(pool)
        .await
        .map_err(|source| DbError::Migrate { table, source })
}

/// `VALUES`-list placeholders for `rows` rows of `columns` values, numbered from `$1`:
/// `($1, $2), ($3, $4)`. `$N` placeholders work on PostgreSQL and SQLite alike, which
/// `QueryBuilder<Any>` does not give (it writes `?`).
pub fn values_placeholders(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 6);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(row * columns + column + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// The kit's own tables (projection checkpoints).
pub const KIT_MIGRATIONS: &[MigrationSource] = &[(
    1,
    "projection checkpoints",
    include_str!("../../../migrations/kit/0001_projection_checkpoints.sql"),
)];

/// Applies the kit's own migrations.
pub async fn migrate_kit(pool: &AnyPool) -> Result<(), DbError> {
    migrate(pool, "_migrations_kit", KIT_MIGRATIONS).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_row_by_row() {
        assert_eq!(values_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_placeholders(1, 1), "($1)");
        assert_eq!(values_placeholders(0, 2), "");
    }
}
