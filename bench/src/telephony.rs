//! `telephony`: SIP calls set up per second and INVITE → queued latency, driven by sipp with the
//! `e2e/sipp/setup_then_cancel.xml` scenario (INVITE until 180 Ringing, then CANCEL), against:
//!
//! - the raw SIP stack (rsipstack) answering every INVITE with 180 at once, no platform behind it;
//! - the platform's SIP gateway on the embedded SQLite event log;
//! - the platform's SIP gateway on NATS JetStream.
//!
//! The gateway sends 180 only once the call is recorded as queued, so INVITE → 180 is INVITE →
//! queued. Each target gets two runs: a fixed rate (`--rate`, 100 calls/s by default) for latency
//! percentiles, and a saturating one (at most 200 calls in progress, no rate limit) for set-ups per
//! second.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
use callcenter_eventlog::sqlite::SqliteEventStore;
use callcenter_eventlog::{EventStore, Name, Timestamp};
use callcenter_kit::CommandMeta;
use callcenter_telephony::Telephony;
use callcenter_telephony::domain::{NumberRoute, PhoneNumber};
use callcenter_telephony::sip::{SipConfig, SipGateway};
use callcenter_testkit::{TempDir, unique_name};
use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog::{Dialog, DialogState};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::Method;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::transport::{TransportLayer, udp::UdpConnection};
use tokio_util::sync::CancellationToken;

use crate::Options;

/// The longest one sipp run may take.
const SIPP_DEADLINE: Duration = Duration::from_secs(150);

/// What one sipp run measured.
#[derive(Debug, Clone)]
struct Run {
    successful: u64,
    failed: u64,
    elapsed: Duration,
    /// INVITE → 180 of each call, in milliseconds.
    setups_ms: Vec<u64>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.successful as f64 / self.elapsed.as_secs_f64()
    }

    /// Calls whose 180 never reached sipp (UDP loss; provisional answers are not repeated).
    fn lost_ringing(&self) -> u64 {
        self.successful
            .saturating_sub(u64::try_from(self.setups_ms.len()).unwrap_or(u64::MAX))
    }

    fn percentile(&self, fraction: f64) -> u64 {
        if self.setups_ms.is_empty() {
            return 0;
        }
        let mut sorted = self.setups_ms.clone();
        sorted.sort_unstable();
        let rank = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e/sipp/setup_then_cancel.xml")
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .map(|address| address.port())
        .expect("a free UDP port")
}

/// Runs sipp against `target`: `calls` calls, at `rate` per second (0: as fast as `limit` calls
/// in progress allow).
async fn sipp(target: SocketAddr, calls: usize, rate: usize, limit: usize) -> Result<Run, String> {
    let directory = TempDir::new("bench-sipp");
    let port = free_udp_port().to_string();
    let mut command = tokio::process::Command::new("sipp");
    command
        .current_dir(directory.path())
        .arg("-sf")
        .arg(scenario())
        .args(["-s", "4000", "-i", "127.0.0.1", "-p", &port])
        .args(["-m", &calls.to_string(), "-l", &limit.to_string()])
        .args([
            "-nostdin",
            "-timeout",
            "120s",
            "-trace_rtt",
            "-rtt_freq",
            "1",
        ])
        // A larger socket buffer than sipp's 64 KiB default: bursts of answers overflow it.
        .args(["-buff_size", "4194304", "-timer_resol", "1"])
        .args(["-trace_screen", "-screen_file"])
        .arg(directory.path().join("screen.log"))
        .kill_on_drop(true);
    if rate > 0 {
        command.args(["-r", &rate.to_string()]);
    } else {
        // sipp needs a rate: one far above what either side can do, bounded by `limit`.
        command.args(["-r", "100000"]);
    }
    command.arg(target.to_string());
    let started = Instant::now();
    // sipp's own -timeout does not stop it while calls wait for an answer that never comes.
    let output = tokio::time::timeout(SIPP_DEADLINE, command.output())
        .await
        .map_err(|_| format!("sipp did not finish within {SIPP_DEADLINE:?}"))?
        .map_err(|error| {
            format!("cannot run sipp ({error}): scripts/setup installs it (Debian sip-tester)")
        })?;
    let elapsed = started.elapsed();
    let screen = std::fs::read_to_string(directory.path().join("screen.log")).unwrap_or_default();
    let total = |name: &str| -> u64 {
        screen
            .lines()
            .rev()
            .find(|line| line.trim_start().starts_with(name))
            .and_then(|line| line.split('|').nth(2))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0)
    };
    let mut setups_ms = Vec::with_capacity(calls);
    for entry in std::fs::read_dir(directory.path()).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if !path.to_string_lossy().ends_with("_rtt.csv") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        setups_ms.extend(
            text.lines()
                .skip(1)
                .filter_map(|line| line.split(';').nth(1)?.trim().parse::<f64>().ok())
                .map(|ms| ms.round() as u64),
        );
    }
    let run = Run {
        successful: total("Successful call"),
        failed: total("Failed call"),
        elapsed,
        setups_ms,
    };
    if !output.status.success() && run.successful == 0 {
        return Err(format!("sipp failed ({}):\n{screen}", output.status));
    }
    Ok(run)
}

/// The raw stack: 180 to every INVITE, CANCEL handled by the stack, nothing recorded.
async fn raw_stack(stop: CancellationToken) -> Result<SocketAddr, String> {
    let cancel = stop.child_token();
    let udp = UdpConnection::create_connection(
        "127.0.0.1:0".parse().expect("address"),
        None,
        Some(cancel.child_token()),
    )
    .await
    .map_err(|e| e.to_string())?;
    let local = udp.get_addr().get_socketaddr().map_err(|e| e.to_string())?;
    let transports = TransportLayer::new(cancel.child_token());
    transports.add_transport(udp.into());
    let endpoint = EndpointBuilder::new()
        .with_cancel_token(cancel.child_token())
        .with_transport_layer(transports)
        .build();
    let mut incoming = endpoint
        .incoming_transactions()
        .map_err(|e| e.to_string())?;
    let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
    let (states, mut state_changes) = dialogs.new_dialog_state_channel();
    tokio::spawn(async move {
        let serving = endpoint.serve();
        tokio::pin!(serving);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = &mut serving => break,
                Some(mut tx) = incoming.recv() => {
                    let fresh = tx.original.method == Method::Invite
                        && tx.original.to_header().ok().and_then(|to| to.tag().ok().flatten()).is_none();
                    if fresh {
                        let Ok(dialog) = dialogs.get_or_create_server_invite(&tx, states.clone(), None, None) else {
                            continue;
                        };
                        let mut handler = dialog.clone();
                        tokio::spawn(async move {
                            let _ = handler.handle(&mut tx).await;
                            // Retransmit a lost 487 until the ACK (as the gateway does).
                            let _ = tokio::time::timeout(Duration::from_secs(40), async {
                                while tx.receive().await.is_some() {}
                            })
                            .await;
                        });
                        let _ = dialog.ringing(None, None);
                    } else if let Some(Dialog::Invite(mut dialog)) = dialogs.match_dialog(&tx) {
                        tokio::spawn(async move { dialog.handle(&mut tx).await });
                    }
                }
                Some(state) = state_changes.recv() => {
                    if let DialogState::Terminated(id, _) = state {
                        dialogs.remove_dialog(&id);
                    }
                }
            }
        }
    });
    Ok(local)
}

/// The platform's gateway on `store`, with number 4000 of tenant `bench` leading to a queue.
async fn gateway(
    store: Arc<dyn EventStore>,
    stop: CancellationToken,
) -> Result<SocketAddr, String> {
    let telephony = Telephony::new(Arc::clone(&store));
    let tenant = Name::new("bench").map_err(|e| e.to_string())?;
    telephony
        .assign_number(
            &CommandMeta::system(tenant, "bench", unique_name("assign")),
            &PhoneNumber::parse("4000")?,
            NumberRoute::Queue(Name::new("general").map_err(|e| e.to_string())?),
            Timestamp::now(),
        )
        .await
        .map_err(|error| error.to_string())?;
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        media: "127.0.0.1:10000".parse().expect("address"),
    };
    let sip = SipGateway::bind(config, telephony, store)
        .await
        .map_err(|e| e.to_string())?;
    let local = sip.local_addr();
    tokio::spawn(async move {
        if let Err(error) = sip.run(stop, tokio::sync::watch::Sender::default()).await {
            eprintln!("SIP gateway failed: {error}");
        }
    });
    Ok(local)
}

/// The two runs of one target.
async fn measure(label: &str, target: SocketAddr, options: &Options) -> Result<(Run, Run), String> {
    // Warm-up calls first (connections, caches, SQLite pages).
    sipp(target, 50, 50, 50).await?;
    let paced = sipp(target, options.calls, options.rate, 1_000).await?;
    let saturated = sipp(target, options.calls, 0, 200).await?;
    eprintln!(
        "{label}: paced {} ok / {} failed, saturated {} ok / {} failed",
        paced.successful, paced.failed, saturated.successful, saturated.failed
    );
    Ok((paced, saturated))
}

/// Runs the telephony benchmark and returns its figures.
pub async fn telephony(options: &Options) -> BTreeMap<&'static str, serde_json::Value> {
    match run(options).await {
        Ok(figures) => figures,
        Err(error) => {
            eprintln!("telephony benchmark failed: {error}");
            std::process::exit(1);
        }
    }
}

async fn run(options: &Options) -> Result<BTreeMap<&'static str, serde_json::Value>, String> {
    callcenter_testkit::init_logging();
    let stop = CancellationToken::new();
    let raw_target = raw_stack(stop.clone()).await?;
    let raw = measure("raw rsipstack", raw_target, options).await?;

    let directory = TempDir::new("bench-telephony");
    let sqlite: Arc<dyn EventStore> = Arc::new(
        SqliteEventStore::open(&directory.path().join("events.db"))
            .await
            .map_err(|e| e.to_string())?,
    );
    let sqlite_target = gateway(sqlite, stop.clone()).await?;
    let on_sqlite = measure("gateway on SQLite", sqlite_target, options).await?;

    let prefix = unique_name("benchsip");
    let config = JetStreamConfig::new(Name::new(&prefix).map_err(|e| e.to_string())?);
    let jetstream = Arc::new(
        JetStreamEventStore::connect(&callcenter_testkit::nats_url(), config)
            .await
            .map_err(|e| e.to_string())?,
    );
    let jetstream_target = gateway(jetstream.clone(), stop.clone()).await?;
    let on_jetstream = measure("gateway on JetStream", jetstream_target, options).await?;
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = jetstream.delete_stream().await;

    println!(
        "telephony benchmark: sipp INVITE -> 180 (queued) -> CANCEL; {} calls per run; paced at {}/s, then saturated (200 in progress)",
        options.calls, options.rate
    );
    println!(
        "{:<28} {:>10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9}",
        "target", "set-ups/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "failed", "180 lost"
    );
    let rows = [
        ("raw rsipstack (no platform)", &raw),
        ("gateway on SQLite", &on_sqlite),
        ("gateway on JetStream", &on_jetstream),
    ];
    for (label, (paced, saturated)) in rows {
        println!(
            "{:<28} {:>10.0} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9}",
            label,
            saturated.per_second(),
            paced.percentile(0.5),
            paced.percentile(0.9),
            paced.percentile(0.99),
            paced.percentile(1.0),
            paced.failed + saturated.failed,
            paced.lost_ringing() + saturated.lost_ringing(),
        );
    }
    println!(
        "latency: INVITE -> 180 at {}/s as sipp sees it; its clock moves in 4 ms steps here (0 = under 4 ms)",
        options.rate
    );
    let round2 = |value: f64| (value * 100.0).round() / 100.0;
    let figures = |(paced, saturated): &(Run, Run)| {
        serde_json::json!({
            "setups_per_s": saturated.per_second().round(),
            "paced_rate": options.rate,
            "invite_to_queued_ms": {
                "p50": paced.percentile(0.5),
                "p90": paced.percentile(0.9),
                "p99": paced.percentile(0.99),
                "max": paced.percentile(1.0),
            },
            "failed_calls": paced.failed + saturated.failed,
            "ringing_lost": paced.lost_ringing() + saturated.lost_ringing(),
        })
    };
    Ok(BTreeMap::from([
        ("bench", serde_json::json!("telephony")),
        ("calls_per_run", serde_json::json!(options.calls)),
        ("raw_rsipstack", figures(&raw)),
        ("gateway_sqlite", figures(&on_sqlite)),
        ("gateway_jetstream", figures(&on_jetstream)),
        (
            "gateway_jetstream_vs_raw_setups",
            serde_json::json!(round2(on_jetstream.1.per_second() / raw.1.per_second())),
        ),
        (
            "gateway_sqlite_vs_raw_setups",
            serde_json::json!(round2(on_sqlite.1.per_second() / raw.1.per_second())),
        ),
    ]))
}
