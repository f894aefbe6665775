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
}

/// What can be asked of a queue.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueCommand {
    /// Defines the queue.
    Create {
        /// Its name for people.
        display_name: String,
        /// The center.
        center_id: Name,
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
                at,
            } => match &self.definition {
                None => Ok(vec![QueueEvent::Created {
                    display_name: display_name.clone(),
                    center_id: center_id.clone(),
                    at: *at,
                }]),
                Some(existing)
                    if existing.display_name == *display_name
                        && existing.center_id == *center_id =>
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
                ..
            } => {
                self.definition = Some(QueueDefinition {
                    display_name: display_name.clone(),
                    center_id: center_id.clone(),
                });
            }
        }
    }
}
