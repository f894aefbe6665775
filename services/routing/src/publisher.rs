//! The presence publisher: follows routing's agent events and publishes each agent's presence
//! as one fact (`AgentPresenceChanged`, aggregate `presence`), the one thing other contexts read
//! about agents (reporting's agents by state, workforce's attendance).
//!
//! It runs on the kit's consumer runner with a durable checkpoint. Each agent's state is folded
//! from its own events; an agent first seen after a restart is loaded as it was at that event.
//! Every publication is a command at the agent's version with a request id of that version, so
//! a replayed event publishes nothing twice, and it joins the trace of the agent event it follows.

use std::collections::HashMap;

use callcenter_eventlog::{Filter, Name, RecordedEvent, TenantId};
use callcenter_kit::{Aggregate, Cause, Consumer, ConsumerError, PersistedEvent, Subscribe};

use crate::app::Routing;
use crate::domain::{Agent, AgentEvent, Publish, PublishedPresence};

/// The presence publisher of one process.
#[derive(Debug)]
pub struct PresencePublisher {
    app: Routing,
    agents: HashMap<(TenantId, Name), (Agent, u64)>,
}

impl PresencePublisher {
    /// A publisher for `app`.
    pub fn new(app: Routing) -> Self {
        Self {
            app,
            agents: HashMap::new(),
        }
    }
}

#[async_trait::async_trait]
impl Consumer for PresencePublisher {
    fn subscription(&self) -> Subscribe {
        let name = |value: &str| Name::new(value).expect("valid name");
        Subscribe::durable(
            name("routing-presence-publisher"),
            Filter::all().aggregate(name("routing"), name("agent")),
        )
    }

    async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ConsumerError> {
        for event in events {
            let stream = event.stream();
            let key = (stream.tenant.clone(), stream.aggregate_id.clone());
            let decoded = AgentEvent::decode(event).map_err(|e| ConsumerError(e.to_string()))?;
            let known = self.agents.get(&key).map(|(_, version)| *version);
            let agent = match known {
                Some(version) if version >= event.version => continue,
                Some(version) if version + 1 == event.version => {
                    let (agent, version) = self.agents.get_mut(&key).expect("known");
                    agent.evolve(&decoded);
                    *version = event.version;
                    agent.clone()
                }
                // First seen (or a gap): the agent as it was at this event.
                _ => {
                    let agent = self
                        .app
                        .agent_at(&key.0, &key.1, event.version)
                        .await
                        .map_err(|error| ConsumerError(error.to_string()))?;
                    self.agents
                        .insert(key.clone(), (agent.clone(), event.version));
                    agent
                }
            };
            let cause = Cause::of(event);
            let request_id = format!("presence-{}-v{}", key.1, event.version);
            let meta = cause.meta(key.0.clone(), "presence-publisher", request_id);
            let publish = Publish {
                presence: PublishedPresence::of(&agent),
                agent_version: event.version,
                at: event.occurred_at,
            };
            let publishing = self.app.publish_presence(&meta, &key.1, &publish);
            tracing::Instrument::instrument(publishing, cause.span("publish presence"))
                .await
                .map_err(|error| ConsumerError(error.to_string()))?;
        }
        Ok(())
    }
}
