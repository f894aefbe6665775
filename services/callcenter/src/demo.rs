//! The demo tenant that `callcenter dev` loads into an empty data directory, so that a newcomer
//! sees calls flow at once. Every command has a fixed request id, so loading twice changes nothing.
//!
//! Tenant `demo`:
//! - center `langfang`;
//! - queues `general` (general enquiries) and `repairs` (repair requests), each with 30 seconds of
//!   after-call work;
//! - agents `agent-1` (both queues), `agent-2` (general) and `agent-3` (repairs);
//! - dialled numbers `4000` → `general` and `4001` → `repairs`;
//! - voice menu `main` on `4002`: open 08:30–22:00 China time every day; 1 repairs, 2 balance
//!   (self-service), 9 emergency (front of `general`), 0 or no choice `general`; closed: an
//!   announcement. Elderly and VIP callers skip it and go straight to `general`;
//! - callers `13900000001` (elderly) and `13900000002` (VIP).

use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;

use callcenter_eventlog::EventStore;
use callcenter_kit::{CommandMeta, Name, Timestamp};
use callcenter_platform::ApiError;
use callcenter_routing::Routing;
use callcenter_routing::app::{NewAgent, NewQueue};
use callcenter_telephony::Telephony;
use callcenter_telephony::domain::{
    CallerClass, CallingHours, IvrMenu, IvrNode, NumberRoute, PhoneNumber, Priority, QueueTarget,
};

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
                NewQueue {
                    display_name: display_name.into(),
                    center_id: center.clone(),
                    after_call_work_seconds: 30,
                    routing_domain: None,
                },
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
            routing_domain: None,
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
    let menu_id = name("main");
    telephony
        .save_menu(&meta("menu-main"), &menu_id, menu(), None, at)
        .await?;
    for (number, route) in [
        ("4000", NumberRoute::Queue(name("general"))),
        ("4001", NumberRoute::Queue(name("repairs"))),
        ("4002", NumberRoute::Menu(menu_id)),
    ] {
        let number = PhoneNumber::parse(number).expect("demo numbers are valid");
        telephony
            .assign_number(
                &meta(&format!("number-{}", number.as_str())),
                &number,
                route,
                at,
            )
            .await?;
    }
    for (number, class) in [
        ("13900000001", CallerClass::Elderly),
        ("13900000002", CallerClass::Vip),
    ] {
        let number = PhoneNumber::parse(number).expect("demo numbers are valid");
        telephony
            .set_caller_class(
                &meta(&format!("caller-{}", number.as_str())),
                &number,
                Some(class),
                at,
            )
            .await?;
    }
    Ok(())
}

/// The demo voice menu.
fn menu() -> IvrMenu {
    let queue = |queue_id: &str, priority| {
        IvrNode::Queue(QueueTarget {
            queue_id: name(queue_id),
            skill: None,
            priority,
        })
    };
    let nodes = [
        (
            "hours",
            IvrNode::Hours {
                open: vec![CallingHours {
                    utc_offset_minutes: 480,
                    start_minute: 8 * 60 + 30,
                    end_minute: 22 * 60,
                    weekdays: [true; 7],
                }],
                when_open: name("welcome"),
                when_closed: name("closed"),
            },
        ),
        (
            "welcome",
            IvrNode::Menu {
                prompt: "Repairs: 1. Your balance: 2. An emergency: 9. Anything else: 0.".into(),
                choices: BTreeMap::from([
                    ('1', name("repairs")),
                    ('2', name("balance")),
                    ('9', name("emergency")),
                    ('0', name("general")),
                ]),
                max_attempts: 3,
                fallback: name("general"),
            },
        ),
        ("repairs", queue("repairs", Priority::Normal)),
        ("general", queue("general", Priority::Normal)),
        ("emergency", queue("general", Priority::Emergency)),
        (
            "balance",
            IvrNode::SelfService {
                prompt: "Your balance is read out by the media server.".into(),
                service: name("balance"),
            },
        ),
        (
            "closed",
            IvrNode::SelfService {
                prompt: "We are open from 08:30 to 22:00. Please call again then.".into(),
                service: name("closed"),
            },
        ),
    ];
    IvrMenu {
        entry: name("hours"),
        nodes: nodes
            .into_iter()
            .map(|(id, node)| (name(id), node))
            .collect(),
        straight_to_person: BTreeSet::from([CallerClass::Elderly, CallerClass::Vip]),
        person_queue: Some(QueueTarget {
            queue_id: name("general"),
            skill: None,
            priority: Priority::Normal,
        }),
    }
}
