//! What routing publishes about an agent for other contexts: their presence, as one fact, so
//! that nobody else re-derives the agent's state machine from routing's own events.
//!
//! The `presence` aggregate (one per agent) holds the last presence published. It is written from
//! the agent's own events, each at the agent's version, so that a replay publishes nothing twice
//! and an older version never overwrites a newer one.

use callcenter_kit::{Aggregate, Name, Timestamp};

use crate::domain::agent::{Agent, NotReadyReason, Presence};

/// What an agent is doing, as other contexts see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PresenceState {
    /// Not signed in.
    #[default]
    LoggedOut,
    /// Signed in, not taking calls.
    NotReady,
    /// Waiting for a call.
    Ready,
    /// A call rings at them.
    Reserved,
    /// On a call.
    OnCall,
    /// Wrapping up a call.
    AfterCallWork,
}

/// An agent's presence, with what other contexts need to count agents by queue and center.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishedPresence {
    /// What the agent is doing.
    pub state: PresenceState,
    /// Why not ready (state `NotReady`; none right after login).
    pub reason: Option<NotReadyReason>,
    /// The call they are reserved for, on, or wrapping up.
    pub call_id: Option<Name>,
    /// Their home center (once the agent exists).
    pub center_id: Option<Name>,
    /// The queues they serve.
    pub queue_ids: Vec<Name>,
}

impl PublishedPresence {
    /// The presence of `agent` as other contexts see it.
    pub fn of(agent: &Agent) -> Self {
        let (state, reason, call_id) = match &agent.presence {
            Presence::LoggedOut => (PresenceState::LoggedOut, None, None),
            Presence::NotReady { reason } => (PresenceState::NotReady, *reason, None),
            Presence::Ready { .. } => (PresenceState::Ready, None, None),
            Presence::Reserved { call_id, .. } => {
                (PresenceState::Reserved, None, Some(call_id.clone()))
            }
            Presence::OnCall { call_id, .. } => {
                (PresenceState::OnCall, None, Some(call_id.clone()))
            }
            Presence::AfterCallWork { call_id, .. } => {
                (PresenceState::AfterCallWork, None, Some(call_id.clone()))
            }
        };
        let profile = agent.profile.as_ref();
        Self {
            state,
            reason,
            call_id,
            center_id: profile.map(|profile| profile.center_id.clone()),
            queue_ids: profile.map(|p| p.queue_ids.clone()).unwrap_or_default(),
        }
    }
}

/// The last presence published of one agent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentPresence {
    /// What was published last.
    pub published: Option<PublishedPresence>,
    /// The agent's version it followed.
    pub agent_version: u64,
}

/// Publish the agent's presence after their event at `agent_version`.
#[derive(Clone, Debug, PartialEq)]
pub struct Publish {
    /// The presence.
    pub presence: PublishedPresence,
    /// The agent's version it follows.
    pub agent_version: u64,
    /// When (the agent event's time).
    pub at: Timestamp,
}

/// What the presence aggregate records.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentPresenceEvent {
    /// The agent's presence changed.
    Changed {
        /// The new presence.
        presence: PublishedPresence,
        /// The agent's version it follows.
        agent_version: u64,
        /// When.
        at: Timestamp,
    },
}

/// Publishing never fails: what is not news is not recorded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("never")]
pub enum PresenceError {}

impl Aggregate for AgentPresence {
    const CONTEXT: &'static str = "routing";
    const TYPE: &'static str = "presence";
    type Command = Publish;
    type Event = AgentPresenceEvent;
    type Error = PresenceError;

    /// Records a presence that is news: newer than what was published, and different.
    fn decide(&self, command: &Publish) -> Result<Vec<AgentPresenceEvent>, PresenceError> {
        let newer = command.agent_version > self.agent_version;
        let different = self.published.as_ref() != Some(&command.presence);
        if !(newer && different) {
            return Ok(Vec::new());
        }
        Ok(vec![AgentPresenceEvent::Changed {
            presence: command.presence.clone(),
            agent_version: command.agent_version,
            at: command.at,
        }])
    }

    fn evolve(&mut self, event: &AgentPresenceEvent) {
        let AgentPresenceEvent::Changed {
            presence,
            agent_version,
            ..
        } = event;
        self.published = Some(presence.clone());
        self.agent_version = *agent_version;
    }
}

#[cfg(test)]
mod tests {
    use callcenter_kit::testing::{at, given, name};

    use super::*;

    fn publish(state: PresenceState, agent_version: u64) -> Publish {
        Publish {
            presence: PublishedPresence {
                state,
                center_id: Some(name("langfang")),
                queue_ids: vec![name("general")],
                ..PublishedPresence::default()
            },
            agent_version,
            at: at(i64::try_from(agent_version).unwrap()),
        }
    }

    fn changed(state: PresenceState, agent_version: u64) -> AgentPresenceEvent {
        let Publish {
            presence,
            agent_version,
            at,
        } = publish(state, agent_version);
        AgentPresenceEvent::Changed {
            presence,
            agent_version,
            at,
        }
    }

    #[test]
    fn routing_publishes_each_change_of_an_agents_presence_once_and_in_order() {
        // A change is published.
        given::<AgentPresence>([changed(PresenceState::NotReady, 2)])
            .when(publish(PresenceState::Ready, 3))
            .then([changed(PresenceState::Ready, 3)]);
        // The same presence again (a skills change, a replayed event) is no news.
        given::<AgentPresence>([changed(PresenceState::Ready, 3)])
            .when(publish(PresenceState::Ready, 4))
            .then([]);
        // An older version never overwrites a newer one.
        given::<AgentPresence>([changed(PresenceState::OnCall, 5)])
            .when(publish(PresenceState::Ready, 4))
            .then([]);
    }
}
