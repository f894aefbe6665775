//! A queue: where calls wait for agents, in one center.

use callcenter_kit::{Aggregate, Name, Timestamp};

/// A queue definition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Queue {
    /// Set once created.
    pub definition: Option<QueueDefinition>,
}

/// What a queue is.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueDefinition {
    /// Its name for people.
    pub display_name: String,
    /// The center it belongs to.
    pub center_id: Name,
    /// The most after-call work after a call from this queue, in seconds; 0: none.
    pub after_call_work_seconds: u32,
}

/// The longest after-call work a queue may allow (one hour).
pub const MAX_AFTER_CALL_WORK_SECONDS: u32 = 3_600;

/// What can be asked of a queue.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueCommand {
    /// Defines the queue.
    Create {
        /// Its name for people.
        display_name: String,
        /// The center.
        center_id: Name,
        /// After-call work allowed, in seconds (0 to [`MAX_AFTER_CALL_WORK_SECONDS`]).
        after_call_work_seconds: u32,
        /// When.
        at: Timestamp,
    },
}

/// What a queue records.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueEvent {
    /// The queue exists.
    Created {
        /// Its name for people.
        display_name: String,
        /// The center.
        center_id: Name,
        /// After-call work allowed, in seconds.
        after_call_work_seconds: u32,
        /// When.
        at: Timestamp,
    },
}

/// Why a queue refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The id is taken by a different definition.
    #[error("queue already exists with another definition")]
    AlreadyExists,
}

impl Aggregate for Queue {
    const CONTEXT: &'static str = "routing";
    const TYPE: &'static str = "queue";
    type Command = QueueCommand;
    type Event = QueueEvent;
    type Error = QueueError;

    fn decide(&self, command: &QueueCommand) -> Result<Vec<QueueEvent>, QueueError> {
        match command {
            QueueCommand::Create {
                display_name,
                center_id,
                after_call_work_seconds,
                at,
            } => match &self.definition {
                None => Ok(vec![QueueEvent::Created {
                    display_name: display_name.clone(),
                    center_id: center_id.clone(),
                    after_call_work_seconds: (*after_call_work_seconds)
                        .min(MAX_AFTER_CALL_WORK_SECONDS),
                    at: *at,
                }]),
                Some(existing)
                    if existing.display_name == *display_name
                        && existing.center_id == *center_id
                        && existing.after_call_work_seconds == *after_call_work_seconds =>
                {
                    Ok(vec![])
                }
                Some(_) => Err(QueueError::AlreadyExists),
            },
        }
    }

    fn evolve(&mut self, event: &QueueEvent) {
        match event {
            QueueEvent::Created {
                display_name,
                center_id,
                after_call_work_seconds,
                ..
            } => {
                self.definition = Some(QueueDefinition {
                    display_name: display_name.clone(),
                    center_id: center_id.clone(),
                    after_call_work_seconds: *after_call_work_seconds,
                });
            }
        }
    }
}
