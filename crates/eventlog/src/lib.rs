//! The platform's event log.
//!
//! One trait, [`EventStore`], with two backends that behave the same (the [`conformance`] suite
//! runs unchanged against both):
//! - [`jetstream::JetStreamEventStore`] for production, on NATS JetStream;
//! - [`sqlite::SqliteEventStore`] for the embedded single-process mode and fast tests.
//!
//! A *commit* (one or more events of one aggregate) is stored as one message, so it is atomic on
//! every backend and deduplicated as a whole by its request id.

mod codec;
mod model;

pub mod jetstream;
pub mod lease;
pub mod sqlite;

#[cfg(feature = "conformance")]
pub mod conformance;

use std::time::Duration;

pub use codec::{encode_commit, from_proto_timestamp, to_proto_timestamp};
pub use model::*;

/// The boxed error of a backend's transport.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the event log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream was not at the expected version (another writer won).
    #[error("wrong expected version for {stream}: expected {expected}, stream is at {actual}")]
    Conflict {
        /// The stream that was appended to.
        stream: StreamKey,
        /// What the append expected.
        expected: ExpectedVersion,
        /// The stream's actual version.
        actual: u64,
    },
    /// The request itself was malformed.
    #[error("invalid event log request: {0}")]
    Invalid(String),
    /// The backend could not be reached or failed.
    #[error("event log unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Stored data could not be decoded.
    #[error("corrupt commit at position {position}: {reason}")]
    Corrupt {
        /// Where the bad commit is.
        position: Position,
        /// What is wrong with it.
        reason: String,
    },
}

impl StoreError {
    /// Wraps any transport error as [`StoreError::Unavailable`].
    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        StoreError::Unavailable(error.into())
    }
}

impl From<InvalidName> for StoreError {
    fn from(error: InvalidName) -> Self {
        StoreError::Invalid(error.to_string())
    }
}

/// An append-only log of commits, readable per aggregate stream and as filtered durable feeds.
#[async_trait::async_trait]
pub trait EventStore: Send + Sync + std::fmt::Debug {
    /// Appends one commit atomically if the stream is at the expected version.
    ///
    /// A request id that the stream already holds right after the expected version (or anywhere,
    /// with [`ExpectedVersion::Any`], within the deduplication window) is not written again; the
    /// first append is returned with `duplicate` set.
    async fn append(&self, request: AppendRequest) -> Result<Appended, StoreError>;

    /// Reads the events of one stream with a version above `after_version`, in order.
    async fn read_stream(
        &self,
        stream: &StreamKey,
        after_version: u64,
    ) -> Result<StreamEvents, StoreError>;

    /// Reads the events of one stream after `from`. A backend that can start at `from`'s commit
    /// position does (JetStream), so an aggregate restored from a snapshot reads only what
    /// followed it; with nothing newer, the answer's version is `from`.
    async fn read_stream_from(
        &self,
        stream: &StreamKey,
        from: StreamVersion,
    ) -> Result<StreamEvents, StoreError> {
        let mut read = self.read_stream(stream, from.version()).await?;
        if read.events.is_empty() && from.last_position().is_some() {
            read.version = from;
        }
        Ok(read)
    }

    /// Opens (or resumes) a durable subscription.
    async fn subscribe(&self, spec: SubscriptionSpec) -> Result<Box<dyn Subscription>, StoreError>;

    /// The position of the newest commit (0 for an empty log): subscribe after it to follow only
    /// what comes next.
    async fn head(&self) -> Result<Position, StoreError>;

    /// Forgets a durable subscription and what it acknowledged.
    async fn delete_subscription(&self, name: &Name) -> Result<(), StoreError>;

    /// Saves consumer `name`'s snapshot, replacing the one it had.
    async fn save_snapshot(&self, name: &Name, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// The last snapshot saved for consumer `name`, if any.
    async fn load_snapshot(&self, name: &Name) -> Result<Option<Snapshot>, StoreError>;

    /// Checks that the backend answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// A short name of the backend, for logs.
    fn backend(&self) -> &'static str;
}

/// A durable, resumable feed of whole commits in log order.
#[async_trait::async_trait]
pub trait Subscription: Send + std::fmt::Debug {
    /// Waits for matching commits and returns up to `max_commits` of them (at least one), or an
    /// empty batch when `wait` passes first. Cancel-safe: dropping the future loses nothing.
    async fn next_batch(&mut self, max_commits: usize, wait: Duration)
    -> Result<Batch, StoreError>;

    /// Acknowledges every delivered commit up to `position`; after a restart the durable
    /// subscription resumes after the last acknowledged position.
    async fn ack(&mut self, position: Position) -> Result<(), StoreError>;
}
