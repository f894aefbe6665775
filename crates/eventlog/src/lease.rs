//! Leases: at most one holder of a named lease at a time, for single-writer work such as one
//! routing partition (ARCHITECTURE.md: partitioned single writer).
//!
//! A holder keeps a lease by renewing it well within its time to live; a holder that dies stops
//! renewing, and the lease is free for another once the time to live has passed. The JetStream
//! implementation keeps leases in a key-value bucket whose entries expire (`max_age`); taking a
//! free lease is a create that fails if someone holds it, renewing is an update that fails if
//! someone else took it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;

use crate::{Name, StoreError};

/// Named leases.
#[async_trait::async_trait]
pub trait Leases: Send + Sync + std::fmt::Debug {
    /// Takes lease `name` for `holder` if nobody holds it, or renews it if `holder` does;
    /// `true` when `holder` holds it afterwards.
    async fn hold(&self, name: &Name, holder: &str) -> Result<bool, StoreError>;

    /// Gives lease `name` up if `holder` holds it.
    async fn release(&self, name: &Name, holder: &str) -> Result<(), StoreError>;

    /// How many leases whose names start with `prefix` are held now.
    async fn count(&self, prefix: &str) -> Result<usize, StoreError>;

    /// How long a lease lasts without renewal.
    fn time_to_live(&self) -> Duration;
}

/// Leases of one process (the embedded mode has one of everything).
#[derive(Debug, Default)]
pub struct LocalLeases {
    holders: Mutex<HashMap<String, String>>,
}

#[async_trait::async_trait]
impl Leases for LocalLeases {
    async fn hold(&self, name: &Name, holder: &str) -> Result<bool, StoreError> {
        let mut holders = self
            .holders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = holders
            .entry(name.to_string())
            .or_insert_with(|| holder.to_owned());
        Ok(current == holder)
    }

    async fn release(&self, name: &Name, holder: &str) -> Result<(), StoreError> {
        let mut holders = self
            .holders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if holders.get(name.as_str()).map(String::as_str) == Some(holder) {
            holders.remove(name.as_str());
        }
        Ok(())
    }

    async fn count(&self, prefix: &str) -> Result<usize, StoreError> {
        let holders = self
            .holders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(holders
            .keys()
            .filter(|name| name.starts_with(prefix))
            .count())
    }

    fn time_to_live(&self) -> Duration {
        Duration::from_secs(3600)
    }
}

/// Leases in a JetStream key-value bucket whose entries expire after the time to live.
#[derive(Debug)]
pub struct JetStreamLeases {
    context: jetstream::Context,
    bucket: String,
    store: kv::Store,
    time_to_live: Duration,
}

impl JetStreamLeases {
    /// Opens (creating or updating) the bucket `<prefix>_leases` on `url`.
    pub async fn connect(
        url: &str,
        prefix: &Name,
        time_to_live: Duration,
    ) -> Result<Self, StoreError> {
        let client = async_nats::ConnectOptions::new()
            .name("callcenter-leases")
            .connect(url)
            .await
            .map_err(StoreError::unavailable)?;
        let context = jetstream::new(client);
        let bucket = format!("{prefix}_leases");
        let store = context
            .create_or_update_key_value(kv::Config {
                bucket: bucket.clone(),
                history: 1,
                max_age: time_to_live,
                ..kv::Config::default()
            })
            .await
            .map_err(StoreError::unavailable)?;
        Ok(Self {
            context,
            bucket,
            store,
            time_to_live,
        })
    }

    /// Deletes the bucket (tests and benchmarks clean up after themselves).
    pub async fn delete_bucket(self) -> Result<(), StoreError> {
        self.context
            .delete_key_value(&self.bucket)
            .await
            .map(|_| ())
            .map_err(StoreError::unavailable)
    }
}

#[async_trait::async_trait]
impl Leases for JetStreamLeases {
    async fn hold(&self, name: &Name, holder: &str) -> Result<bool, StoreError> {
        let current = self
            .store
            .entry(name.as_str())
            .await
            .map_err(StoreError::unavailable)?
            .filter(|entry| entry.operation == kv::Operation::Put);
        let value = Bytes::from(holder.to_owned());
        match current {
            Some(entry) if entry.value == holder.as_bytes() => Ok(self
                .store
                .update(name.as_str(), value, entry.revision)
                .await
                .is_ok()),
            Some(_) => Ok(false),
            None => match self.store.create(name.as_str(), value).await {
                Ok(_) => Ok(true),
                Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
                Err(error) => Err(StoreError::unavailable(error)),
            },
        }
    }

    async fn release(&self, name: &Name, holder: &str) -> Result<(), StoreError> {
        let current = self
            .store
            .entry(name.as_str())
            .await
            .map_err(StoreError::unavailable)?;
        if let Some(entry) = current
            && entry.operation == kv::Operation::Put
            && entry.value == holder.as_bytes()
        {
            // Only the holder's own revision is removed, never a successor's.
            let _ = self
                .store
                .delete_expect_revision(name.as_str(), Some(entry.revision))
                .await;
        }
        Ok(())
    }

    async fn count(&self, prefix: &str) -> Result<usize, StoreError> {
        use futures_util::TryStreamExt;
        // The bucket's subjects from the stream's info: one request, where listing the keys
        // creates a consumer each time (every renewal of every replica). A lease released a
        // moment ago leaves a delete marker that is counted until it expires with the lease.
        let key_prefix = format!("$KV.{}.{prefix}", self.bucket);
        let subjects = self
            .store
            .stream
            .info_with_subjects(format!("$KV.{}.>", self.bucket))
            .await
            .map_err(StoreError::unavailable)?;
        subjects
            .try_filter(|(subject, _)| std::future::ready(subject.starts_with(&key_prefix)))
            .try_fold(0, |count, _| std::future::ready(Ok(count + 1)))
            .await
            .map_err(StoreError::unavailable)
    }

    fn time_to_live(&self) -> Duration {
        self.time_to_live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_lease_has_one_holder_until_released() {
        let leases = LocalLeases::default();
        let name = Name::new("routing-p0").unwrap();
        assert!(leases.hold(&name, "a").await.unwrap());
        assert!(leases.hold(&name, "a").await.unwrap(), "renewed");
        assert!(!leases.hold(&name, "b").await.unwrap());
        leases.release(&name, "b").await.unwrap();
        assert!(
            !leases.hold(&name, "b").await.unwrap(),
            "only the holder releases"
        );
        leases.release(&name, "a").await.unwrap();
        assert!(leases.hold(&name, "b").await.unwrap());
    }
}
