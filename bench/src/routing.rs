//! `routing`: how fast the router decides, in process, with `--agents` agents (10,000) serving
//! `--queues` queues (1,000) of one tenant.
//!
//! Half of the queues route by a required skill (with a widening step), half by membership;
//! every agent serves three queues and has three skills at random levels, and all are ready.
//! Each measured decision queues one call on a random queue and asks the router what to do; the
//! chosen agent's reservation is fed back and released at once, so the floor stays the same size.
//! Figures: decisions per second and the p50/p99/max latency of one decision.
//!
//! Not measured yet (they need the partitioned routing service and the simulator): offered →
//! reserved latency through JetStream, and simulated service level against Erlang C.

use std::collections::BTreeMap;
use std::time::Instant;

use callcenter_eventlog::{Name, Timestamp};
use callcenter_routing::domain::{
    ActionKind, AgentEvent, CallPriority, QueueEvent, QueueRouting, Router, Why, WideningStep,
};

use crate::Options;

/// A small deterministic generator (xorshift64*), so that every run routes the same floor.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % bound.max(1)
    }
}

fn name(value: String) -> Name {
    Name::new(value).expect("valid name")
}

fn percentile(sorted: &[u64], fraction: f64) -> u64 {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// Runs the benchmark and returns its figures.
pub fn routing(options: &Options) -> BTreeMap<&'static str, serde_json::Value> {
    let tenant = name("bench".into());
    let start = Timestamp::now();
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut router = Router::new();
    let skills: Vec<Name> = (0..50).map(|index| name(format!("s{index}"))).collect();
    let queues: Vec<Name> = (0..options.queues)
        .map(|index| name(format!("q{index}")))
        .collect();
    for (index, queue_id) in queues.iter().enumerate() {
        router.queue_event(
            &tenant,
            queue_id,
            &QueueEvent::Created {
                display_name: queue_id.to_string(),
                center_id: name(format!("c{}", index % 10)),
                after_call_work_seconds: 0,
                at: start,
            },
        );
        if index % 2 == 0 {
            let routing = QueueRouting {
                required_skills: BTreeMap::from([(skills[index % skills.len()].clone(), 2)]),
                widening: vec![WideningStep {
                    after_seconds: 30,
                    min_proficiency: 1,
                }],
                ..QueueRouting::default()
            };
            router.queue_event(
                &tenant,
                queue_id,
                &QueueEvent::RoutingSet { routing, at: start },
            );
        }
    }
    let mut versions: Vec<u64> = Vec::with_capacity(options.agents);
    let agents: Vec<Name> = (0..options.agents)
        .map(|index| name(format!("a{index}")))
        .collect();
    for (index, agent_id) in agents.iter().enumerate() {
        let queue_ids = (0..3)
            .map(|_| queues[random.below(queues.len())].clone())
            .collect();
        let agent_skills = (0..3)
            .map(|_| {
                (
                    skills[random.below(skills.len())].clone(),
                    1 + random.below(5) as u8,
                )
            })
            .collect();
        let events = [
            AgentEvent::Created {
                display_name: agent_id.to_string(),
                center_id: name(format!("c{}", index % 10)),
                queue_ids,
                at: start,
            },
            AgentEvent::SkillsSet {
                skills: agent_skills,
                at: start,
            },
            AgentEvent::LoggedIn {
                seat: name(format!("desk-{index}")),
                at: start,
            },
            AgentEvent::Ready {
                at: start.plus_millis(index as i64),
            },
        ];
        for (version, event) in events.iter().enumerate() {
            router.agent_event(&tenant, agent_id, version as u64 + 1, event);
        }
        versions.push(events.len() as u64);
    }

    let slots: std::collections::HashMap<Name, usize> = agents
        .iter()
        .enumerate()
        .map(|(slot, agent)| (agent.clone(), slot))
        .collect();
    let mut latencies_ns: Vec<u64> = Vec::with_capacity(options.decisions);
    let mut reserved = 0_usize;
    let started = Instant::now();
    for index in 0..options.decisions {
        let now = start.plus_millis(1_000 + index as i64);
        let call_id = name(format!("call-{index}"));
        let queue_id = &queues[random.below(queues.len())];
        router.call_queued(&tenant, &call_id, queue_id, CallPriority::Normal, None, now);
        let decided = Instant::now();
        let actions = router.decide(now);
        latencies_ns.push(u64::try_from(decided.elapsed().as_nanos()).unwrap_or(u64::MAX));
        for action in actions {
            let ActionKind::Reserve {
                call_id, queue_id, ..
            } = action.kind
            else {
                continue;
            };
            reserved += 1;
            let slot = slots[&action.agent_id];
            for event in [
                AgentEvent::Reserved {
                    call_id: call_id.clone(),
                    queue_id,
                    why: Why::default(),
                    at: now,
                },
                AgentEvent::ReservationReleased {
                    call_id: call_id.clone(),
                    missed: false,
                    at: now,
                },
            ] {
                versions[slot] += 1;
                router.agent_event(&tenant, &action.agent_id, versions[slot], &event);
            }
            router.call_finished(&tenant, &call_id);
        }
        // A call nobody could take leaves, so that every decision sees the same floor.
        router.call_finished(&tenant, &call_id);
        if index % 64 == 0 {
            router.forget_finished_calls();
        }
    }
    let elapsed = started.elapsed();
    latencies_ns.sort_unstable();
    let micros = |nanos: u64| (nanos as f64 / 1_000.0 * 10.0).round() / 10.0;
    let per_second = options.decisions as f64 / elapsed.as_secs_f64();
    let (p50, p99, max) = (
        micros(percentile(&latencies_ns, 0.50)),
        micros(percentile(&latencies_ns, 0.99)),
        micros(latencies_ns.last().copied().unwrap_or_default()),
    );
    println!(
        "routing benchmark: {} decisions, {} agents, {} queues (one tenant), in process",
        options.decisions, options.agents, options.queues
    );
    println!("{:<44} {:>14}", "measure", "value");
    println!("{:<44} {:>14.0}", "decisions per second", per_second);
    println!("{:<44} {:>14}", "decision latency p50 (µs)", p50);
    println!("{:<44} {:>14}", "decision latency p99 (µs)", p99);
    println!("{:<44} {:>14}", "decision latency max (µs)", max);
    println!(
        "{:<44} {:>14}",
        "calls reserved (the rest had no agent)", reserved
    );
    BTreeMap::from([
        ("bench", serde_json::json!("routing")),
        ("agents", serde_json::json!(options.agents)),
        ("queues", serde_json::json!(options.queues)),
        ("decisions", serde_json::json!(options.decisions)),
        ("decisions_per_s", serde_json::json!(per_second.round())),
        ("decision_p50_us", serde_json::json!(p50)),
        ("decision_p99_us", serde_json::json!(p99)),
        ("decision_max_us", serde_json::json!(max)),
        ("reserved", serde_json::json!(reserved)),
    ])
}
