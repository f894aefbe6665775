//! The encoding of consumers' snapshots: a compact binary form of the view's own Rust shape
//! (postcard), checked when read. A snapshot is this process's cache of a fold over the log,
//! not a contract between services: the log stays the truth, and a view whose shape changed
//! bumps its [`Consumer::snapshot_format`](crate::Consumer::snapshot_format) and replays or
//! upcasts.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ConsumerError;

/// Encodes a view.
pub fn encode<T: Serialize>(view: &T) -> Result<Vec<u8>, ConsumerError> {
    postcard::to_allocvec(view).map_err(|error| ConsumerError(format!("snapshot: {error}")))
}

/// Decodes a view encoded by [`encode`]; a body that does not read as `T` (damaged, or another
/// shape) is an error, and the log is replayed instead.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ConsumerError> {
    postcard::from_bytes(body).map_err(|error| ConsumerError(format!("snapshot: {error}")))
}
