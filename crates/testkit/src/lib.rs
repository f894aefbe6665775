//! What the platform's tests share.
//!
//! Tests talk to real servers that `just test` starts on their own ports and announces in
//! environment variables; each test isolates itself with its own names (stream prefix, database
//! schema, data directory), so tests run in parallel and leave nothing behind.

use std::path::{Path, PathBuf};

use sqlx::Connection;

/// Environment variable with the NATS URL of the test server.
pub const NATS_URL_VAR: &str = "CALLCENTER_TEST_NATS_URL";
/// Environment variable with the PostgreSQL URL of the test server (a role that may create schemas).
pub const DATABASE_URL_VAR: &str = "CALLCENTER_TEST_DATABASE_URL";

fn required_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with `just test` (or scripts/test), which starts \
             NATS and PostgreSQL on their own ports and sets it"
        )
    })
}

/// URL of the NATS server (JetStream enabled) that tests may use.
pub fn nats_url() -> String {
    required_var(NATS_URL_VAR)
}

/// URL of the PostgreSQL server that tests may use.
pub fn database_url() -> String {
    required_var(DATABASE_URL_VAR)
}

/// A name no other test uses: `label` followed by random hex, fit for subjects, streams and schemas.
pub fn unique_name(label: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{label}_{}", &random[..12])
}

/// Turns on log output for a test when `TEST_LOG` is set (for example `TEST_LOG=debug`).
/// Waits up to 60 s for the `callcenter started http=… grpc=… …` line a `callcenter` process
/// prints on its standard output when it serves; `None` if it never comes.
pub async fn callcenter_started(stdout: tokio::process::ChildStdout) -> Option<String> {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("callcenter started") {
                return Some(line);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// The value of `key=` in a `callcenter started` line (empty when absent).
pub fn started_field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|part| part.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_owned()
}

pub fn init_logging() {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// A directory of its own under the system temporary directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a new empty directory.
    pub fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(unique_name(&format!("callcenter-{label}")));
        std::fs::create_dir_all(&path).expect("create temporary directory");
        Self { path }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A PostgreSQL schema of its own; connections made with [`PgSchema::url`] use it by default.
#[derive(Debug)]
pub struct PgSchema {
    name: String,
    admin_url: String,
}

impl PgSchema {
    /// Creates a new empty schema on the test server.
    pub async fn create(label: &str) -> Self {
        let admin_url = database_url();
        let name = unique_name(label).to_lowercase();
        let mut connection = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
            .execute(&mut connection)
            .await
            .expect("create schema");
        let _ = connection.close().await;
        Self { name, admin_url }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection URL whose `search_path` is this schema.
    pub fn url(&self) -> String {
        let separator = if self.admin_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}options=-csearch_path%3D{}",
            self.admin_url, self.name
        )
    }

    /// Drops the schema with everything in it.
    pub async fn drop_schema(self) {
        if let Ok(mut connection) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.name
            )))
            .execute(&mut connection)
            .await;
            let _ = connection.close().await;
        }
    }
}

/// Checks that the part of the README between the lines `begin` and `end` is `expected` (a
/// table generated from the code); with `UPDATE_README` set, writes it there instead. `command`
/// is what regenerates it, for the failure message.
pub fn generated_readme_section(begin: &str, end: &str, expected: &str, command: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("the README");
    let start = readme
        .find(begin)
        .unwrap_or_else(|| panic!("the README has the line {begin:?}"))
        + begin.len();
    let stop = start
        + readme[start..]
            .find(end)
            .unwrap_or_else(|| panic!("the README has the line {end:?} after {begin:?}"));
    if readme[start..stop] == *expected {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[stop..]);
        std::fs::write(&path, updated).expect("write the README");
        return;
    }
    panic!("the README's generated section differs from the code; run `{command}`:\n{expected}");
}
