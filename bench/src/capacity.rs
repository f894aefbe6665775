//! `capacity`: how many calls per second `callcenter serve` (every service in one process, on
//! NATS JetStream and PostgreSQL) completes on this machine with an average speed of answer under
//! 2 s, and where the CPU goes per call.
//!
//! At each offered rate (20 calls/s first, doubling up to 80, then +25%, until the ASA passes 2 s
//! or fewer than 90% of the offered calls are answered), `callcenter simulate` offers calls at a
//! constant rate for 30 s to agents who answer at once and handle a call for
//! 2 s on average, staffed at 80% occupancy; callers never give up. Each rate runs in a tenant
//! of its own. Figures per rate: calls answered per second, ASA, time to ring p99, and the CPU
//! seconds spent per answered call by the platform process, the NATS server, PostgreSQL (all its
//! processes) and the simulator (the client, on the same two cores), and the messages into and
//! out of the NATS server per answered call (when `scripts/with-services` gives its monitoring
//! address).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use callcenter_e2e::{Instance, Mode};
use callcenter_testkit::{PgSchema, unique_name};
use serde_json::{Value, json};

use crate::Options;

/// CPU seconds a set of processes has used (user + system), from `/proc`.
fn cpu_seconds(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|pid| crate::cpu_seconds(&pid.to_string()))
        .sum()
}

/// The processes whose command name is `comm` (such as `postgres`, `nats-server`).
fn processes_named(comm: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|name| name.trim() == comm)
        })
        .collect()
}

/// Messages into and out of the NATS server so far, from its monitoring endpoint (`/varz`) when
/// `scripts/with-services` said where it is (CALLCENTER_TEST_NATS_MONITOR).
async fn nats_messages() -> Option<(f64, f64)> {
    let address = std::env::var("CALLCENTER_TEST_NATS_MONITOR").ok()?;
    let (status, varz) = callcenter_e2e::request(
        &format!("http://{address}"),
        "GET",
        "/varz",
        None,
        None,
        &[],
    )
    .await;
    if status != 200 {
        return None;
    }
    Some((varz["in_msgs"].as_f64()?, varz["out_msgs"].as_f64()?))
}

/// Runs the benchmark and returns its figures.
pub async fn capacity(_options: &Options) -> BTreeMap<&'static str, Value> {
    let prefix = unique_name("benchcap");
    let secret = unique_name("secret-of-at-least-32-characters");
    let schema = PgSchema::create("benchcap").await;
    let platform = Instance::start(Mode::Serve {
        target: "all".into(),
        extra: vec![],
        nats_url: callcenter_testkit::nats_url(),
        database_url: schema.url(),
        prefix: prefix.clone(),
        secret: secret.clone(),
    })
    .await;
    let platform_pid = platform.pid().unwrap_or_default();
    let seconds: u64 = 30;
    let mut rate: f64 = 20.0;
    let mut runs = Vec::new();
    let mut best: Option<f64> = None;
    println!(
        "{:>8} {:>7} | {:>10} {:>8} {:>9} {:>9} | {:>9} {:>9} {:>9} {:>9} | {:>9}",
        "offered",
        "agents",
        "answered",
        "ASA",
        "ring p99",
        "answered",
        "platform",
        "NATS",
        "Postgres",
        "client",
        "NATS msgs"
    );
    println!(
        "{:>8} {:>7} | {:>10} {:>8} {:>9} {:>9} | {:>9} {:>9} {:>9} {:>9} | {:>9}",
        "calls/s",
        "",
        "calls/s",
        "ms",
        "ms",
        "share",
        "ms/call",
        "ms/call",
        "ms/call",
        "ms/call",
        "in/out"
    );
    loop {
        let agents = ((rate * 2.0 / 0.8).ceil() as u32).max(5);
        let tenant = format!("cap{}", rate.round() as u64);
        let token = platform.token(&tenant, "tenant_admin,partner", "bench");
        let nats = processes_named("nats-server");
        let postgres = processes_named("postgres");
        let before = (
            cpu_seconds(&[platform_pid]),
            cpu_seconds(&nats),
            cpu_seconds(&postgres),
        );
        let messages_before = nats_messages().await;
        let started = Instant::now();
        let mut simulator = tokio::process::Command::new(callcenter_e2e::binary())
            .args(["simulate", "--grpc", &platform.grpc, "--token", &token])
            .args([
                "--flat",
                "--spike-seconds",
                "0",
                "--patience-seconds",
                "100000",
            ])
            .args(["--seconds", &seconds.to_string()])
            .args(["--agents", &agents.to_string()])
            .args(["--calls-per-second", &format!("{rate}")])
            .args(["--handle-seconds", "2", "--target-seconds", "2"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("run callcenter simulate");
        let client_pid = simulator.id().unwrap_or_default();
        let mut client_cpu = 0.0;
        let output = loop {
            let sampled = cpu_seconds(&[client_pid]);
            if sampled > 0.0 {
                client_cpu = sampled;
            }
            if let Ok(Some(_)) = simulator.try_wait() {
                break simulator
                    .wait_with_output()
                    .await
                    .expect("simulator output");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let elapsed = started.elapsed().as_secs_f64();
        let after = (
            cpu_seconds(&[platform_pid]),
            cpu_seconds(&nats),
            cpu_seconds(&postgres),
        );
        let messages = match (messages_before, nats_messages().await) {
            (Some(before), Some(after)) => Some((after.0 - before.0, after.1 - before.1)),
            _ => None,
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let figures: Value = stdout
            .lines()
            .last()
            .and_then(|line| serde_json::from_str(line).ok())
            .unwrap_or(Value::Null);
        let answered = figures["answered"].as_f64().unwrap_or_default();
        let offered = figures["offered"].as_f64().unwrap_or_default();
        let asa_ms = figures["asa_ms"].as_f64().unwrap_or(f64::INFINITY);
        let per_call = |cpu: f64| 1_000.0 * cpu / answered.max(1.0);
        let run = json!({
            "offered_per_second": rate,
            "agents": agents,
            "answered_per_second": answered / seconds as f64,
            "answered_share": answered / offered.max(1.0),
            "asa_ms": asa_ms,
            "ring_p99_ms": figures["routing_p99_ms"],
            "wall_seconds": elapsed,
            "platform_cpu_ms_per_call": per_call(after.0 - before.0),
            "nats_cpu_ms_per_call": per_call(after.1 - before.1),
            "postgres_cpu_ms_per_call": per_call(after.2 - before.2),
            "client_cpu_ms_per_call": per_call(client_cpu),
            "nats_messages_in_per_call": messages.map(|(into, _)| into / answered.max(1.0)),
            "nats_messages_out_per_call": messages.map(|(_, out)| out / answered.max(1.0)),
        });
        let number = |key: &str| run[key].as_f64().unwrap_or_default();
        println!(
            "{:>8.0} {:>7} | {:>10.1} {:>8.0} {:>9.0} {:>9.2} | {:>9.2} {:>9.2} {:>9.2} {:>9.2} | {:>9}",
            rate,
            agents,
            number("answered_per_second"),
            asa_ms,
            number("ring_p99_ms"),
            number("answered_share"),
            number("platform_cpu_ms_per_call"),
            number("nats_cpu_ms_per_call"),
            number("postgres_cpu_ms_per_call"),
            number("client_cpu_ms_per_call"),
            messages.map_or_else(
                || "-".to_owned(),
                |_| format!(
                    "{:.0}/{:.0}",
                    number("nats_messages_in_per_call"),
                    number("nats_messages_out_per_call")
                )
            ),
        );
        let healthy = asa_ms < 2_000.0 && answered >= 0.9 * offered && offered > 0.0;
        runs.push(run);
        if !healthy || rate >= 2_000.0 {
            break;
        }
        best = Some(answered / seconds as f64);
        rate = if rate < 80.0 { rate * 2.0 } else { rate * 1.25 };
    }
    platform.stop().await;
    callcenter_e2e::delete_event_log(&prefix).await;
    schema.drop_schema().await;
    println!(
        "\nsustained with ASA under 2 s: {} answered calls/s",
        best.map_or_else(|| "none".to_owned(), |best| format!("{best:.1}"))
    );
    BTreeMap::from([
        ("sustained_calls_per_second", json!(best)),
        ("runs", json!(runs)),
    ])
}
