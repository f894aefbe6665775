//! `callcenter simulate`: scripted agents and callers against a running instance, through its
//! real gRPC APIs, in compressed time.
//!
//! - **Callers** arrive as a Poisson process whose rate follows an intraday curve (quiet at the
//!   start and end of the run, busiest in the middle), with a spike of `--spike-factor` (5×) the
//!   volume for `--spike-seconds` in the middle; each caller gives up after an exponentially
//!   distributed patience (`--patience-seconds` on average) and then abandons.
//! - **Agents** (`--agents`, in queue `sim` of the token's tenant) never refuse: each call that
//!   rings at one is answered at once and ended after an exponentially distributed handling time
//!   (`--handle-seconds` on average).
//! - Per interval it prints calls offered, answered, abandoned, the service level (answered within
//!   `--target-seconds`), the average speed of answer and the time to ring (queued → ringing,
//!   waiting for a free agent included) percentiles; then the whole run beside two references,
//!   and a JSON line:
//!   - an **ideal ACD** given the very same calls (arrival times, patience, handling times drawn,
//!     and the time the scripted agents took to answer each): first come first served, each call
//!     to the agent free first, with no routing delay. The difference from it is what the
//!     platform costs; this comparison is exact for any run;
//!   - **Erlang C** for the load that came. It describes the long-run average of a steady state,
//!     so one short run from an empty floor (and one seed) scatters around it by several points,
//!     and by more near saturation: the ideal ACD shows how much of a difference is the sample.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callcenter_proto::routing::v1 as routing;
use callcenter_proto::routing::v1::routing_service_client::RoutingServiceClient;
use callcenter_proto::telephony::v1 as telephony;
use callcenter_proto::telephony::v1::partner_call_intake_service_client::PartnerCallIntakeServiceClient;
use callcenter_proto::telephony::v1::telephony_service_client::TelephonyServiceClient;
use callcenter_workforce::random::Random;
use futures_util::StreamExt;
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

/// The simulation's parameters.
#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// gRPC URL of the instance (telephony, and every other service unless given below).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub grpc: String,
    /// gRPC URL of routing, when it runs apart.
    #[arg(long)]
    pub routing_grpc: Option<String>,
    /// A token with the roles tenant_admin and partner (`callcenter token --tenant sim --roles
    /// tenant_admin,partner`).
    #[arg(long, env = "CALLCENTER_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Length of the run.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Scripted agents.
    #[arg(long, default_value_t = 20)]
    pub agents: u32,
    /// Calls per second at the busiest point of the intraday curve.
    #[arg(long, default_value_t = 3.0)]
    pub calls_per_second: f64,
    /// Average handling time.
    #[arg(long, default_value_t = 4.0)]
    pub handle_seconds: f64,
    /// Average caller patience.
    #[arg(long, default_value_t = 8.0)]
    pub patience_seconds: f64,
    /// Service-level target: answered within this many seconds.
    #[arg(long, default_value_t = 2.0)]
    pub target_seconds: f64,
    /// How many times the volume the spike brings.
    #[arg(long, default_value_t = 5.0)]
    pub spike_factor: f64,
    /// How long the spike lasts (0: no spike).
    #[arg(long, default_value_t = 10)]
    pub spike_seconds: u64,
    /// Intervals reported.
    #[arg(long, default_value_t = 6)]
    pub intervals: u32,
    /// Seed of the arrivals and handling times.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// A constant rate instead of the intraday curve (to compare with Erlang C).
    #[arg(long)]
    pub flat: bool,
}

/// The arrival rate at `t` seconds into a run of `length` seconds: an intraday curve from 40% at
/// the ends to 100% in the middle, times the spike factor during the spike.
pub fn arrival_rate(args: &SimulateArgs, t: f64) -> f64 {
    let length = args.seconds as f64;
    let curve = if args.flat {
        1.0
    } else {
        0.4 + 0.6 * (std::f64::consts::PI * t / length).sin()
    };
    let spike_start = (length - args.spike_seconds as f64) / 2.0;
    let spiking =
        args.spike_seconds > 0 && t >= spike_start && t < spike_start + args.spike_seconds as f64;
    args.calls_per_second * curve * if spiking { args.spike_factor } else { 1.0 }
}

/// Arrival offsets (seconds) and patience of each caller: a Poisson process with the time-varying
/// rate, drawn by thinning.
pub fn arrivals(args: &SimulateArgs) -> Vec<(f64, f64)> {
    let mut random = Random::new(args.seed);
    let peak = args.calls_per_second * args.spike_factor.max(1.0);
    let mut t = 0.0;
    let mut calls = Vec::new();
    loop {
        t += random.exponential(1.0 / peak);
        if t >= args.seconds as f64 {
            return calls;
        }
        if random.unit() * peak <= arrival_rate(args, t) {
            calls.push((t, random.exponential(args.patience_seconds)));
        }
    }
}

/// Erlang C's service level for `rate` calls per second of `handle` seconds on `agents` agents:
/// the share answered within `target` seconds.
pub fn erlang_c_service_level(agents: u32, rate: f64, handle: f64, target: f64) -> f64 {
    callcenter_workforce::domain::staffing::service_level(agents, rate * handle, handle, target)
}

/// What happened to one simulated call.
#[derive(Clone, Debug, Default)]
struct CallRecord {
    offered_s: f64,
    queued_ms: Option<i64>,
    ringing_ms: Option<i64>,
    answered_ms: Option<i64>,
    abandoned: bool,
    /// The handling time drawn for it, in seconds.
    handled_s: Option<f64>,
    /// How long the caller waits before giving up, in seconds.
    patience_s: f64,
}

fn millis(timestamp: Option<prost_types::Timestamp>) -> Option<i64> {
    timestamp.map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
}

fn request<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = MetadataValue::try_from(format!("Bearer {token}")) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn percentile(values: &mut [i64], fraction: f64) -> i64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    values[((values.len() - 1) as f64 * fraction).round() as usize]
}

/// Runs the simulation and prints its report.
pub async fn simulate(args: SimulateArgs) -> Result<(), String> {
    let channel = Channel::from_shared(args.grpc.clone())
        .map_err(|error| error.to_string())?
        .connect()
        .await
        .map_err(|error| format!("cannot reach {}: {error}", args.grpc))?;
    let token = args.token.clone();
    let routing_channel = match &args.routing_grpc {
        Some(url) => Channel::from_shared(url.clone())
            .map_err(|error| error.to_string())?
            .connect()
            .await
            .map_err(|error| format!("cannot reach {url}: {error}"))?,
        None => channel.clone(),
    };
    let mut routing_client = RoutingServiceClient::new(routing_channel);
    let calls_client = TelephonyServiceClient::new(channel.clone());
    let failed = |what: &str, status: tonic::Status| format!("{what}: {}", status.message());
    let _ = routing_client
        .create_queue(request(
            &token,
            routing::CreateQueueRequest {
                queue_id: "sim".into(),
                display_name: "Simulation".into(),
                center_id: "sim".into(),
                ..Default::default()
            },
        ))
        .await;
    for index in 1..=args.agents {
        let agent_id = format!("sim-{index}");
        let _ = routing_client
            .create_agent(request(
                &token,
                routing::CreateAgentRequest {
                    agent_id: agent_id.clone(),
                    display_name: agent_id.clone(),
                    center_id: "sim".into(),
                    queue_ids: vec!["sim".into()],
                    ..Default::default()
                },
            ))
            .await;
        routing_client
            .login_agent(request(
                &token,
                routing::LoginAgentRequest {
                    agent_id: agent_id.clone(),
                    seat: format!("sim-seat-{index}"),
                    ..Default::default()
                },
            ))
            .await
            .map_err(|status| failed("login", status))?;
        let _ = routing_client
            .set_agent_ready(request(
                &token,
                routing::SetAgentReadyRequest {
                    agent_id,
                    request_id: String::new(),
                },
            ))
            .await;
    }

    let run = callcenter_kit::Timestamp::now().unix_millis();
    let records: Arc<Mutex<HashMap<String, CallRecord>>> = Arc::default();
    // The scripted agents: answer what rings at once, end it after the handling time.
    let mut watch = PartnerCallIntakeServiceClient::new(channel.clone())
        .watch_call_events(request(
            &token,
            telephony::WatchCallEventsRequest { after_position: 0 },
        ))
        .await
        .map_err(|status| failed("watch", status))?
        .into_inner();
    let handler = {
        let (records, token, calls_client) =
            (Arc::clone(&records), token.clone(), calls_client.clone());
        let mut random = Random::new(args.seed.wrapping_mul(31));
        let handle_seconds = args.handle_seconds;
        tokio::spawn(async move {
            while let Some(Ok(item)) = watch.next().await {
                let at = millis(item.occurred_at);
                let mut guard = records
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let Some(record) = guard.get_mut(&item.call_id) else {
                    continue;
                };
                match item.event_type.rsplit('.').next().unwrap_or_default() {
                    "CallQueued" => {
                        record.queued_ms.get_or_insert(at.unwrap_or_default());
                    }
                    "CallAnswered" => record.answered_ms = at,
                    "CallAbandoned" => record.abandoned = true,
                    "CallRinging" => {
                        record.ringing_ms.get_or_insert(at.unwrap_or_default());
                        let Ok(ringing) = telephony::CallRinging::decode(item.payload) else {
                            continue;
                        };
                        let drawn = random.exponential(handle_seconds);
                        record.handled_s = Some(drawn);
                        let handling = Duration::from_secs_f64(drawn);
                        let (mut client, token) = (calls_client.clone(), token.clone());
                        tokio::spawn(async move {
                            let answer = telephony::AnswerCallRequest {
                                call_id: item.call_id.clone(),
                                agent_id: ringing.agent_id,
                                request_id: String::new(),
                            };
                            if client.answer_call(request(&token, answer)).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(handling).await;
                            let end = telephony::EndCallRequest {
                                call_id: item.call_id,
                                ended_by: telephony::Party::Agent.into(),
                                request_id: String::new(),
                            };
                            let _ = client.end_call(request(&token, end)).await;
                        });
                    }
                    _ => {}
                }
            }
        })
    };

    // The callers.
    let plan = arrivals(&args);
    let started = Instant::now();
    for (index, (offset, patience)) in plan.iter().enumerate() {
        let wait = Duration::from_secs_f64(*offset).saturating_sub(started.elapsed());
        tokio::time::sleep(wait).await;
        let call_id = format!("sim-{run}-{index}");
        records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                call_id.clone(),
                CallRecord {
                    offered_s: *offset,
                    patience_s: *patience,
                    ..CallRecord::default()
                },
            );
        let (mut client, token) = (calls_client.clone(), token.clone());
        let patience = Duration::from_secs_f64(*patience);
        tokio::spawn(async move {
            let report = telephony::ReportCallRequest {
                call_id: call_id.clone(),
                caller_number: format!("1390{:07}", index % 10_000_000),
                dialled_number: "9999".into(),
                queue_id: "sim".into(),
                ..Default::default()
            };
            if client.report_call(request(&token, report)).await.is_err() {
                return;
            }
            tokio::time::sleep(patience).await;
            // Refused when an agent answered first: the caller stays.
            let abandon = telephony::AbandonCallRequest {
                call_id,
                ..Default::default()
            };
            let _ = client.abandon_call(request(&token, abandon)).await;
        });
    }
    // Let the last callers be answered or give up (at most a minute).
    let drained = Instant::now();
    while drained.elapsed() < Duration::from_secs(60) {
        let open = records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|call| call.answered_ms.is_none() && !call.abandoned)
            .count();
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    handler.abort();
    let records: Vec<CallRecord> = records
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .values()
        .cloned()
        .collect();
    report(&args, &records);
    Ok(())
}

/// What an ideal ACD makes of a set of calls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ideal {
    /// Answered within the target, of the answered calls.
    pub service_level: f64,
    /// Average speed of answer, in seconds.
    pub asa_s: f64,
    /// Calls whose caller gave up.
    pub abandoned: usize,
}

/// One call as the ideal ACD sees it, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IdealCall {
    /// When it arrives.
    pub arrival: f64,
    /// How long its caller waits before giving up.
    pub patience: f64,
    /// How long the agent takes to answer once it rings (the scripted agents' reaction).
    pub answer: f64,
    /// How long the agent then handles it.
    pub handling: f64,
}

/// The calls through an ideal ACD with `agents` agents: first come first served, each call
/// offered to the agent free first the moment that agent is free (no routing delay), answered
/// after the agent's answering time; a caller whose wait would pass their patience gives up.
pub fn ideal_acd(calls: &[IdealCall], agents: u32, target_s: f64) -> Ideal {
    use std::cmp::Reverse;
    let mut calls = calls.to_vec();
    calls.sort_by(|a, b| a.arrival.total_cmp(&b.arrival));
    // When each agent is free next, in microseconds (a min-heap).
    let mut free: std::collections::BinaryHeap<Reverse<u64>> =
        (0..agents.max(1)).map(|_| Reverse(0)).collect();
    let micros = |seconds: f64| (seconds.max(0.0) * 1e6).round() as u64;
    let (mut answered, mut within, mut waited, mut abandoned) = (0_usize, 0_usize, 0.0, 0);
    for call in calls {
        let Some(Reverse(next_free)) = free.pop() else {
            break;
        };
        let start = next_free.max(micros(call.arrival)) + micros(call.answer);
        let wait = (start - micros(call.arrival)) as f64 / 1e6;
        if wait > call.patience {
            abandoned += 1;
            free.push(Reverse(next_free));
            continue;
        }
        answered += 1;
        waited += wait;
        if wait <= target_s {
            within += 1;
        }
        free.push(Reverse(start + micros(call.handling)));
    }
    Ideal {
        service_level: if answered == 0 {
            1.0
        } else {
            within as f64 / answered as f64
        },
        asa_s: if answered == 0 {
            0.0
        } else {
            waited / answered as f64
        },
        abandoned,
    }
}

/// Figures of a set of calls.
struct Figures {
    offered: usize,
    answered: usize,
    abandoned: usize,
    service_level: f64,
    asa_ms: f64,
    routing_p50_ms: i64,
    routing_p99_ms: i64,
}

fn figures(calls: &[&CallRecord], target_ms: f64) -> Figures {
    let answered: Vec<i64> = calls
        .iter()
        .filter_map(|call| Some(call.answered_ms? - call.queued_ms?))
        .collect();
    let mut routing: Vec<i64> = calls
        .iter()
        .filter_map(|call| Some(call.ringing_ms? - call.queued_ms?))
        .collect();
    let within = answered
        .iter()
        .filter(|wait| (**wait as f64) <= target_ms)
        .count();
    Figures {
        offered: calls.len(),
        answered: answered.len(),
        abandoned: calls.iter().filter(|call| call.abandoned).count(),
        service_level: if answered.is_empty() {
            1.0
        } else {
            within as f64 / answered.len() as f64
        },
        asa_ms: if answered.is_empty() {
            0.0
        } else {
            answered.iter().sum::<i64>() as f64 / answered.len() as f64
        },
        routing_p50_ms: percentile(&mut routing, 0.5),
        routing_p99_ms: percentile(&mut routing, 0.99),
    }
}

#[allow(clippy::print_stdout)]
fn report(args: &SimulateArgs, records: &[CallRecord]) {
    let target_ms = args.target_seconds * 1000.0;
    let length = args.seconds as f64 / f64::from(args.intervals.max(1));
    println!(
        "simulation: {} calls, {} agents, {:.1} s handling, {:.1} s patience, spike {}x for {} s",
        records.len(),
        args.agents,
        args.handle_seconds,
        args.patience_seconds,
        args.spike_factor,
        args.spike_seconds
    );
    println!(
        "{:>9} {:>8} {:>9} {:>10} {:>8} {:>9} {:>15}",
        "interval", "offered", "answered", "abandoned", "SL", "ASA ms", "ring p50/p99"
    );
    for interval in 0..args.intervals.max(1) {
        let (from, to) = (
            f64::from(interval) * length,
            f64::from(interval + 1) * length,
        );
        let calls: Vec<&CallRecord> = records
            .iter()
            .filter(|call| call.offered_s >= from && call.offered_s < to)
            .collect();
        let f = figures(&calls, target_ms);
        println!(
            "{:>4}-{:<4} {:>8} {:>9} {:>10} {:>7.1}% {:>9.0} {:>9}/{:<5}",
            from as u64,
            to as u64,
            f.offered,
            f.answered,
            f.abandoned,
            f.service_level * 100.0,
            f.asa_ms,
            f.routing_p50_ms,
            f.routing_p99_ms
        );
    }
    let all: Vec<&CallRecord> = records.iter().collect();
    let total = figures(&all, target_ms);
    // Erlang C for the load that actually came: the arrivals and handling times drawn.
    let mean_rate = records.len() as f64 / args.seconds as f64;
    let handled: Vec<f64> = records.iter().filter_map(|call| call.handled_s).collect();
    let mean_handle = if handled.is_empty() {
        args.handle_seconds
    } else {
        handled.iter().sum::<f64>() / handled.len() as f64
    };
    let predicted =
        erlang_c_service_level(args.agents, mean_rate, mean_handle, args.target_seconds);
    // The same calls through an ideal ACD, answered as fast as the scripted agents answered
    // them; a caller who never rang gets the mean handling time.
    let same_calls: Vec<IdealCall> = records
        .iter()
        .map(|call| IdealCall {
            arrival: call.offered_s,
            patience: call.patience_s,
            answer: match (call.ringing_ms, call.answered_ms) {
                (Some(ringing), Some(answered)) => (answered - ringing).max(0) as f64 / 1000.0,
                _ => 0.0,
            },
            handling: call.handled_s.unwrap_or(mean_handle),
        })
        .collect();
    let ideal = ideal_acd(&same_calls, args.agents, args.target_seconds);
    println!(
        "whole run: SL {:.1}%, ASA {:.0} ms, abandoned {:.1}%, time to ring p50 {} ms p99 {} ms",
        total.service_level * 100.0,
        total.asa_ms,
        100.0 * total.abandoned as f64 / total.offered.max(1) as f64,
        total.routing_p50_ms,
        total.routing_p99_ms
    );
    println!(
        "the same calls through an ideal ACD (no routing delay, the agents' answering time \
         kept): SL {:.1}%, ASA {:.0} ms, \
         abandoned {:.1}%",
        ideal.service_level * 100.0,
        ideal.asa_s * 1000.0,
        100.0 * ideal.abandoned as f64 / records.len().max(1) as f64,
    );
    println!(
        "Erlang C for the load that came ({:.2} calls/s of {:.2} s on {} agents, steady state): \
         SL {:.1}%",
        mean_rate,
        mean_handle,
        args.agents,
        predicted * 100.0
    );
    let json = serde_json::json!({
        "offered": total.offered,
        "answered": total.answered,
        "abandoned": total.abandoned,
        "service_level": (total.service_level * 1000.0).round() / 1000.0,
        "erlang_c_service_level": (predicted * 1000.0).round() / 1000.0,
        "ideal_service_level": (ideal.service_level * 1000.0).round() / 1000.0,
        "ideal_asa_ms": (ideal.asa_s * 1000.0).round(),
        "ideal_abandoned": ideal.abandoned,
        "asa_ms": total.asa_ms.round(),
        "routing_p50_ms": total.routing_p50_ms,
        "routing_p99_ms": total.routing_p99_ms,
    });
    println!("{json}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> SimulateArgs {
        SimulateArgs {
            grpc: String::new(),
            routing_grpc: None,
            token: String::new(),
            seconds: 600,
            agents: 20,
            calls_per_second: 3.0,
            handle_seconds: 4.0,
            patience_seconds: 8.0,
            target_seconds: 2.0,
            spike_factor: 5.0,
            spike_seconds: 60,
            intervals: 6,
            seed: 7,
            flat: false,
        }
    }

    #[test]
    fn arrivals_follow_the_curve_and_the_spike_brings_five_times_the_volume() {
        let args = args();
        let calls = arrivals(&args);
        let count = |from: f64, to: f64| {
            calls
                .iter()
                .filter(|(at, _)| *at >= from && *at < to)
                .count() as f64
        };
        // The spike (270-330 s) against the minute before it, at the same point of the curve.
        let spike = count(270.0, 330.0);
        let before = count(210.0, 270.0);
        assert!(spike / before > 3.5, "spike {spike} vs {before}");
        // The quiet start against the busy middle (outside the spike).
        assert!(count(0.0, 60.0) < count(210.0, 270.0));
        let mean_patience = calls.iter().map(|(_, p)| p).sum::<f64>() / calls.len() as f64;
        assert!((mean_patience - 8.0).abs() < 1.0, "{mean_patience}");
        assert_eq!(arrivals(&args), calls, "deterministic for a seed");
    }

    #[test]
    fn the_ideal_acd_serves_first_come_first_served_on_the_agent_free_first() {
        // One agent, calls at 0, 1 and 2 s of 2 s each: waits 0, 1 and 2 s.
        let call = |arrival: f64, patience: f64| IdealCall {
            arrival,
            patience,
            answer: 0.0,
            handling: 2.0,
        };
        let calls = [call(0.0, 100.0), call(1.0, 100.0), call(2.0, 100.0)];
        let ideal = ideal_acd(&calls, 1, 0.5);
        assert!((ideal.service_level - 1.0 / 3.0).abs() < 1e-9, "{ideal:?}");
        assert!((ideal.asa_s - 1.0).abs() < 1e-9, "{ideal:?}");
        // The third caller gives up after 1.5 s; the agent is not taken.
        let impatient = [call(0.0, 100.0), call(1.0, 100.0), call(2.0, 1.5)];
        let ideal = ideal_acd(&impatient, 1, 0.5);
        assert_eq!(ideal.abandoned, 1);
        assert!((ideal.service_level - 0.5).abs() < 1e-9, "{ideal:?}");
        // An agent who takes 0.5 s to answer: every call waits that long more, and the agent is
        // busy that long more.
        let slow = [0.0, 1.0, 2.0].map(|arrival| IdealCall {
            answer: 0.5,
            ..call(arrival, 100.0)
        });
        let ideal = ideal_acd(&slow, 1, 0.5);
        assert!(
            (ideal.asa_s - 2.0).abs() < 1e-9,
            "0.5, 2 and 3.5 s: {ideal:?}"
        );
    }

    #[test]
    fn over_a_long_run_the_ideal_acd_meets_erlang_c() {
        // 3.75 calls/s of 4 s (15 erlangs) on 20 agents for ten hours of calls.
        let args = SimulateArgs {
            seconds: 36_000,
            calls_per_second: 3.75,
            patience_seconds: 1e9,
            spike_seconds: 0,
            flat: true,
            ..args()
        };
        let mut random = Random::new(11);
        let calls: Vec<IdealCall> = arrivals(&args)
            .into_iter()
            .map(|(arrival, patience)| IdealCall {
                arrival,
                patience,
                answer: 0.0,
                handling: random.exponential(4.0),
            })
            .collect();
        let ideal = ideal_acd(&calls, 20, 1.0);
        let predicted = erlang_c_service_level(20, 3.75, 4.0, 1.0);
        assert!(
            (ideal.service_level - predicted).abs() < 0.01,
            "ideal {} against Erlang C {predicted}",
            ideal.service_level
        );
    }
}
