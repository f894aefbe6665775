//! The conformance suite against NATS JetStream (the test server of `just test`).

use std::sync::Arc;

use callcenter_eventlog::conformance::Backend;
use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
use callcenter_eventlog::{EventStore, Name};

struct JetStream {
    config: JetStreamConfig,
}

async fn backend() -> JetStream {
    callcenter_testkit::init_logging();
    let prefix = Name::new(callcenter_testkit::unique_name("conf")).expect("prefix");
    JetStream {
        config: JetStreamConfig::new(prefix),
    }
}

impl JetStream {
    async fn connect(&self) -> JetStreamEventStore {
        JetStreamEventStore::connect(&callcenter_testkit::nats_url(), self.config.clone())
            .await
            .expect("connect to the test NATS server")
    }
}

#[async_trait::async_trait]
impl Backend for JetStream {
    async fn open(&self) -> Arc<dyn EventStore> {
        Arc::new(self.connect().await)
    }

    async fn destroy(&self) {
        self.connect()
            .await
            .delete_stream()
            .await
            .expect("delete stream");
    }
}

callcenter_eventlog::conformance_tests!(backend());
