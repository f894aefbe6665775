//! Telephony's reactions to other contexts' events.

use callcenter_eventlog::{Filter, RecordedEvent};
use callcenter_kit::{CommandMeta, Name, ReactionError, Reactor, decode_message};
use callcenter_platform::ErrorCode;
use callcenter_proto::routing::v1 as routing;
use prost::Name as _;

use crate::app::Telephony;
use crate::domain::CallCommand;

/// Rings the agent that routing reserved for a call (routing's `AgentReserved` → `Ring`).
#[derive(Debug)]
pub struct Ringer {
    app: Telephony,
}

impl Ringer {
    /// A ringer for `app`.
    pub fn new(app: Telephony) -> Self {
        Self { app }
    }
}

#[async_trait::async_trait]
impl Reactor for Ringer {
    fn name(&self) -> Name {
        Name::new("telephony-ringer").expect("valid name")
    }

    fn filter(&self) -> Filter {
        Filter::all().aggregate(
            Name::new("routing").expect("valid name"),
            Name::new("agent").expect("valid name"),
        )
    }

    async fn react(&self, event: &RecordedEvent) -> Result<(), ReactionError> {
        if event.event_type != routing::AgentReserved::full_name() {
            return Ok(());
        }
        let reserved: routing::AgentReserved =
            decode_message(event).map_err(|error| ReactionError(error.to_string()))?;
        let Ok(call_id) = Name::new(&reserved.call_id) else {
            tracing::warn!(call_id = %reserved.call_id, "reservation names an invalid call id");
            return Ok(());
        };
        let stream = event.stream();
        let mut meta = CommandMeta::system(
            stream.tenant.clone(),
            "telephony-ringer",
            format!("ring-{}", event.event_id),
        );
        meta.correlation_id = event.commit.metadata.correlation_id.clone();
        meta.causation_id = event.event_id.clone();
        let ring = CallCommand::Ring {
            agent_id: stream.aggregate_id.clone(),
            at: event.occurred_at,
        };
        match self.app.handle_call(&meta, &call_id, &ring).await {
            Ok(_) => Ok(()),
            // The caller left, or the call went elsewhere: routing releases the agent.
            Err(error)
                if matches!(
                    error.code,
                    ErrorCode::FailedPrecondition | ErrorCode::NotFound
                ) =>
            {
                tracing::debug!(%call_id, reason = %error.reason, "reservation not rung");
                Ok(())
            }
            Err(error) => Err(ReactionError(error.to_string())),
        }
    }
}
