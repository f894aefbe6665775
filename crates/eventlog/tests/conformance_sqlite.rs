//! The conformance suite against the embedded SQLite backend.

use std::sync::Arc;

use callcenter_eventlog::EventStore;
use callcenter_eventlog::conformance::Backend;
use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_testkit::TempDir;

struct Sqlite {
    directory: TempDir,
}

async fn backend() -> Sqlite {
    callcenter_testkit::init_logging();
    Sqlite {
        directory: TempDir::new("eventlog"),
    }
}

#[async_trait::async_trait]
impl Backend for Sqlite {
    async fn open(&self) -> Arc<dyn EventStore> {
        let store = SqliteEventStore::open(&self.directory.path().join("events.db"))
            .await
            .expect("open sqlite event log");
        Arc::new(store)
    }

    async fn destroy(&self) {}
}

callcenter_eventlog::conformance_tests!(backend());
