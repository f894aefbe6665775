//! The demo tenant that `callcenter dev` loads into an empty data directory, so that a newcomer
//! sees calls flow at once. Every command has a fixed request id, so loading twice changes nothing.
//!
//! Tenant `demo`:
//! - center `langfang`;
//! - queues `general` (general enquiries) and `repairs` (repair requests);
//! - agents `agent-1` (both queues), `agent-2` (general) and `agent-3` (repairs);
//! - dialled numbers `4000` → `general` and `4001` → `repairs`.

use std::sync::Arc;

use callcenter_eventlog::EventStore;
use callcenter_kit::{CommandMeta, Name, Timestamp};
use callcenter_platform::ApiError;
use callcenter_routing::Routing;
use callcenter_routing::app::NewAgent;
use callcenter_telephony::Telephony;
use callcenter_telephony::domain::PhoneNumber;

/// The demo tenant's id.
pub const TENANT: &str = "demo";

fn name(value: &str) -> Name {
    Name::new(value).expect("demo names are valid")
}

/// Loads the demo tenant.
pub async fn load(store: &Arc<dyn EventStore>) -> Result<(), ApiError> {
    let tenant = name(TENANT);
    let meta = |step: &str| CommandMeta::system(tenant.clone(), "demo", format!("demo-{step}"));
    let at = Timestamp::now();
    let routing = Routing::new(Arc::clone(store));
    let telephony = Telephony::new(Arc::clone(store));
    let center = name("langfang");
    for (queue_id, display_name) in [("general", "General enquiries"), ("repairs", "Repairs")] {
        routing
            .create_queue(
                &meta(&format!("queue-{queue_id}")),
                &name(queue_id),
                display_name.into(),
                center.clone(),
                at,
            )
            .await?;
    }
    for (agent_id, display_name, queues) in [
        ("agent-1", "Li Lei", &["general", "repairs"][..]),
        ("agent-2", "Han Meimei", &["general"][..]),
        ("agent-3", "Wang Fang", &["repairs"][..]),
    ] {
        let agent = NewAgent {
            display_name: display_name.into(),
            center_id: center.clone(),
            queue_ids: queues.iter().map(|q| name(q)).collect(),
        };
        routing
            .create_agent(
                &meta(&format!("agent-{agent_id}")),
                &name(agent_id),
                agent,
                at,
            )
            .await?;
    }
    for (number, queue_id) in [("4000", "general"), ("4001", "repairs")] {
        let number = PhoneNumber::parse(number).expect("demo numbers are valid");
        telephony
            .assign_number(
                &meta(&format!("number-{}", number.as_str())),
                &number,
                name(queue_id),
                at,
            )
            .await?;
    }
    Ok(())
}
