//! A tiny aggregate for the kit's own tests: a tally that adds numbers up to a limit.

#![allow(dead_code)]

use bytes::Bytes;
use callcenter_eventlog::{RecordedEvent, Timestamp};
use callcenter_kit::{Aggregate, DecodeError, EncodedEvent, PersistedEvent};

pub const EVENT_TYPE: &str = "callcenter.test.v1.Added";
pub const LIMIT: u64 = 1_000;

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub total: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Add {
    pub amount: u64,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Added {
    pub amount: u64,
    pub at: Timestamp,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum TallyError {
    #[error("adding {amount} would pass the limit")]
    OverLimit { amount: u64 },
}

impl Aggregate for Tally {
    const CONTEXT: &'static str = "test";
    const TYPE: &'static str = "tally";
    type Command = Add;
    type Event = Added;
    type Error = TallyError;

    fn decide(&self, command: &Add) -> Result<Vec<Added>, TallyError> {
        if self.total + command.amount > LIMIT {
            return Err(TallyError::OverLimit {
                amount: command.amount,
            });
        }
        if command.amount == 0 {
            return Ok(vec![]);
        }
        Ok(vec![Added {
            amount: command.amount,
            at: command.at,
        }])
    }

    fn evolve(&mut self, event: &Added) {
        self.total += event.amount;
    }
}

impl PersistedEvent for Added {
    fn encode(&self) -> EncodedEvent {
        EncodedEvent {
            event_type: EVENT_TYPE.into(),
            schema_version: 1,
            occurred_at: Some(self.at),
            payload: Bytes::from(self.amount.to_be_bytes().to_vec()),
        }
    }

    fn decode(event: &RecordedEvent) -> Result<Self, DecodeError> {
        if event.event_type != EVENT_TYPE {
            return Err(DecodeError::unknown_type(event));
        }
        let bytes: [u8; 8] = event
            .payload
            .as_ref()
            .try_into()
            .map_err(|_| DecodeError::new(event, "payload is not 8 bytes"))?;
        Ok(Added {
            amount: u64::from_be_bytes(bytes),
            at: event.occurred_at,
        })
    }
}

pub fn add(amount: u64) -> Add {
    Add {
        amount,
        at: Timestamp::from_unix_millis(1_763_800_000_000),
    }
}
