//! SIP calls through the running binary, with a real SIP peer (`sipp`, Debian `sip-tester`) as
//! the caller and a scripted agent that answers over gRPC what routing rings:
//!
//! - answered by the agent, hung up by the caller (over UDP and over TCP);
//! - the caller CANCELs while queued → 487 and an abandoned call;
//! - the agent hangs up first → the platform sends BYE;
//! - 500 calls at 50 calls per second, none failed;
//! - a number that leads to a voice menu: the menu answers, the caller's key (SIP INFO) queues the
//!   call, an agent answers;
//! - malformed or unroutable requests get a 4xx and the gateway keeps serving.
//!
//! sipp's final statistics of each run stay in `target/tmp/sipp/` as the evidence.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use callcenter_e2e::{Instance, Mode};
use callcenter_proto::telephony::v1 as pb;
use callcenter_proto::telephony::v1::partner_call_intake_service_client::PartnerCallIntakeServiceClient;
use callcenter_proto::telephony::v1::telephony_service_client::TelephonyServiceClient;
use callcenter_testkit::{PgSchema, TempDir, unique_name};
use futures_util::StreamExt;
use prost::Message;
use serde_json::{Value, json};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

/// A dev instance of tenant `acme` with SIP on a free port: queue `general`, number 4000, and
/// `agents` ready agents.
async fn start(agents: usize) -> (TempDir, Instance, String) {
    start_with(agents, &[]).await
}

/// [`start`] with extra flags.
async fn start_with(agents: usize, flags: &[&str]) -> (TempDir, Instance, String) {
    let directory = TempDir::new("e2e-sip");
    let mut extra: Vec<String> = ["--no-demo", "--sip", "127.0.0.1:0"]
        .map(String::from)
        .to_vec();
    extra.extend(flags.iter().map(|flag| flag.to_string()));
    let instance = Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra,
    })
    .await;
    let admin = set_up(&instance, agents).await;
    (directory, instance, admin)
}

/// Tenant `acme`: queue `general`, number 4000, and `agents` ready agents; answers the admin token.
async fn set_up(instance: &Instance, agents: usize) -> String {
    assert!(
        instance.sip.is_some(),
        "the start line names the SIP address"
    );
    let admin = instance.token("acme", "tenant_admin", "admin");
    instance.open_general_queue(&admin).await;
    for index in 1..=agents {
        let agent_id = format!("agent-{index}");
        let body = json!({"agent_id": agent_id, "display_name": agent_id, "center_id": "langfang",
                          "queue_ids": ["general"]});
        instance.ok("POST", "/v1/agents", &admin, Some(body)).await;
        for step in ["login", "ready"] {
            let path = format!("/v1/agents/{agent_id}/{step}");
            instance.ok("POST", &path, &admin, None).await;
        }
    }
    admin
}

fn request<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

/// What the scripted agent does with a call that rings.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers and leaves the hang-up to the caller.
    Answer,
    /// Answers, then hangs up after the pause.
    AnswerThenHangUp(Duration),
    /// Lets every call that rings this agent ring on; answers the others.
    IgnoreRingsOf(&'static str),
}

/// Agents played by a script: every call that rings one of them is answered over gRPC.
struct ScriptedAgents {
    answered: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedAgents {
    async fn start(instance: &Instance, admin: &str, behaviour: Behaviour) -> Self {
        let channel = Channel::from_shared(instance.grpc.clone())
            .unwrap()
            .connect()
            .await
            .expect("connect gRPC");
        let mut watch = PartnerCallIntakeServiceClient::new(channel.clone())
            .watch_call_events(request(
                admin,
                pb::WatchCallEventsRequest { after_position: 0 },
            ))
            .await
            .expect("watch the tenant's calls")
            .into_inner();
        let answered = Arc::new(AtomicUsize::new(0));
        let (count, admin) = (Arc::clone(&answered), admin.to_owned());
        let task = tokio::spawn(async move {
            while let Some(Ok(item)) = watch.next().await {
                if item.event_type != "callcenter.telephony.v1.CallRinging" {
                    continue;
                }
                let ringing = pb::CallRinging::decode(item.payload).expect("CallRinging");
                if let Behaviour::IgnoreRingsOf(absent) = behaviour
                    && ringing.agent_id == absent
                {
                    continue;
                }
                let mut client = TelephonyServiceClient::new(channel.clone());
                let (count, admin) = (Arc::clone(&count), admin.clone());
                tokio::spawn(async move {
                    let answer = pb::AnswerCallRequest {
                        call_id: item.call_id.clone(),
                        agent_id: ringing.agent_id,
                        request_id: String::new(),
                    };
                    if client.answer_call(request(&admin, answer)).await.is_err() {
                        return;
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    if let Behaviour::AnswerThenHangUp(pause) = behaviour {
                        tokio::time::sleep(pause).await;
                        let end = pb::EndCallRequest {
                            call_id: item.call_id,
                            ended_by: pb::Party::Agent.into(),
                            request_id: String::new(),
                        };
                        client.end_call(request(&admin, end)).await.expect("end");
                    }
                });
            }
        });
        Self { answered, task }
    }

    fn answered(&self) -> usize {
        self.answered.load(Ordering::Relaxed)
    }
}

impl Drop for ScriptedAgents {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one sipp run reported.
#[derive(Debug)]
struct SippRun {
    successful: u64,
    failed: u64,
    screen: String,
}

fn sipp_directory() -> PathBuf {
    let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sipp");
    std::fs::create_dir_all(&directory).expect("create target/tmp/sipp");
    directory
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .expect("a free UDP port")
        .port()
}

/// Runs sipp's `scenario` (in `e2e/sipp/`) against the instance; `label` names the evidence files.
async fn sipp(instance: &Instance, scenario: &str, label: &str, args: &[&str]) -> SippRun {
    let target = instance.sip.clone().expect("SIP address");
    let scenario_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sipp")
        .join(scenario);
    let evidence = sipp_directory();
    let screen_file = evidence.join(format!("{label}-screen.log"));
    let stats_file = evidence.join(format!("{label}-stats.csv"));
    let errors_file = evidence.join(format!("{label}-errors.log"));
    // The port is free when picked, but another test may take it (for UDP or TCP) before sipp
    // binds it: then sipp exits at once, having sent nothing, and runs again on another port.
    let mut attempts = 0;
    let output = loop {
        for file in [&screen_file, &stats_file, &errors_file] {
            let _ = std::fs::remove_file(file);
        }
        let port = free_udp_port().to_string();
        let output = tokio::process::Command::new("sipp")
            .arg("-sf")
            .arg(&scenario_path)
            .args(if args.contains(&"-s") {
                &[][..]
            } else {
                &["-s", "4000"][..]
            })
            .args(["-i", "127.0.0.1", "-p", &port])
            .args([
                "-nostdin",
                "-timeout",
                "120s",
                "-trace_screen",
                "-trace_stat",
            ])
            .arg("-screen_file")
            .arg(&screen_file)
            .arg("-stf")
            .arg(&stats_file)
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&errors_file)
            .args(args)
            .arg(&target)
            .kill_on_drop(true)
            .output()
            .await
            .unwrap_or_else(|error| {
                panic!("cannot run sipp ({error}): scripts/setup installs it (Debian sip-tester)")
            });
        attempts += 1;
        let errors = std::fs::read_to_string(&errors_file).unwrap_or_default();
        if output.status.success()
            || attempts == 5
            || !errors.contains("Unable to bind main socket")
        {
            break output;
        }
    };
    let screen = std::fs::read_to_string(&screen_file)
        .unwrap_or_else(|_| String::from_utf8_lossy(&output.stdout).into_owned());
    let total = |name: &str| -> u64 {
        screen
            .lines()
            .rev()
            .find(|line| line.trim_start().starts_with(name))
            .and_then(|line| line.split('|').nth(2))
            .and_then(|cumulative| cumulative.trim().parse().ok())
            .unwrap_or(0)
    };
    let run = SippRun {
        successful: total("Successful call"),
        failed: total("Failed call"),
        screen,
    };
    assert!(
        output.status.success(),
        "sipp {scenario} failed ({}):\n{}\nerrors: {}\ncallcenter log:\n{}",
        output.status,
        run.screen,
        std::fs::read_to_string(&errors_file).unwrap_or_default(),
        instance.log_text()
    );
    run
}

async fn queue_stats(instance: &Instance, admin: &str, expected: Value) {
    let expected = json!({"queue_stats": [expected], "next_page_token": ""});
    instance
        .poll_until("/v1/queues/stats", admin, |stats| *stats == expected)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answered_by_an_agent_and_hung_up_by_the_caller_over_udp_and_tcp() {
    let (_directory, instance, admin) = start(1).await;
    let agents = ScriptedAgents::start(&instance, &admin, Behaviour::Answer).await;
    let udp = sipp(
        &instance,
        "answered_caller_hangs_up.xml",
        "answered-udp",
        &["-m", "1", "-d", "300"],
    )
    .await;
    assert_eq!((udp.successful, udp.failed), (1, 0), "{}", udp.screen);
    let tcp = sipp(
        &instance,
        "answered_caller_hangs_up.xml",
        "answered-tcp",
        &["-m", "1", "-d", "300", "-t", "t1"],
    )
    .await;
    assert_eq!((tcp.successful, tcp.failed), (1, 0), "{}", tcp.screen);
    assert_eq!(agents.answered(), 2);
    queue_stats(
        &instance,
        &admin,
        json!({"queue_id": "general", "offered": 2, "answered": 2, "abandoned": 0}),
    )
    .await;
    // Both ended by the caller, and the agent is free again.
    instance
        .poll_until("/v1/agents/agent-1", &admin, |agent| {
            agent["state"] == "ready"
        })
        .await;
    // The SIP transactions are counted by method.
    let metrics = instance.metrics().await;
    for method in ["INVITE", "BYE"] {
        let served = callcenter_e2e::metric(
            &metrics,
            "callcenter_sip_transactions_total",
            &[("method", method)],
        );
        assert!(served >= Some(2.0), "{method}: {served:?}\n{metrics}");
    }
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_in_a_voice_menu_presses_a_key_by_sip_info_and_reaches_an_agent() {
    let (_directory, instance, admin) = start(1).await;
    let menu = json!({"menu": {
        "entry_node_id": "main",
        "nodes": {
            "main": {"menu": {"prompt": "For a person press 1", "fallback_node_id": "general",
                              "choices": {"1": "general"}}},
            "general": {"queue": {"queue_id": "general"}}
        }
    }});
    instance
        .ok("PUT", "/v1/ivr-menus/main", &admin, Some(menu))
        .await;
    instance
        .ok(
            "PUT",
            "/v1/numbers/4100",
            &admin,
            Some(json!({"ivr_menu_id": "main"})),
        )
        .await;
    let agents = ScriptedAgents::start(&instance, &admin, Behaviour::Answer).await;
    let run = sipp(
        &instance,
        "ivr_caller_presses_a_key.xml",
        "ivr-key",
        &["-s", "4100", "-m", "1", "-d", "1000"],
    )
    .await;
    assert_eq!((run.successful, run.failed), (1, 0), "{}", run.screen);
    // Only the key could take the call out of the menu to the agent.
    assert_eq!(agents.answered(), 1);
    queue_stats(
        &instance,
        &admin,
        json!({"queue_id": "general", "offered": 1, "answered": 1, "abandoned": 0}),
    )
    .await;
    instance
        .poll_until("/v1/agents/agent-1", &admin, |agent| {
            agent["state"] == "ready"
        })
        .await;
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sip_call_works_on_jetstream_and_postgres() {
    let schema = PgSchema::create("e2esip").await;
    let prefix = unique_name("sip");
    let instance = Instance::start(Mode::Serve {
        target: "all".into(),
        extra: ["--sip", "127.0.0.1:0"].map(String::from).to_vec(),
        nats_url: callcenter_testkit::nats_url(),
        database_url: schema.url(),
        prefix: prefix.clone(),
        secret: unique_name("secret-of-at-least-32-characters"),
    })
    .await;
    let admin = set_up(&instance, 1).await;
    let agents = ScriptedAgents::start(&instance, &admin, Behaviour::Answer).await;
    let run = sipp(
        &instance,
        "answered_caller_hangs_up.xml",
        "answered-jetstream",
        &["-m", "3", "-d", "200"],
    )
    .await;
    assert_eq!((run.successful, run.failed), (3, 0), "{}", run.screen);
    assert_eq!(agents.answered(), 3);
    queue_stats(
        &instance,
        &admin,
        json!({"queue_id": "general", "offered": 3, "answered": 3, "abandoned": 0}),
    )
    .await;
    drop(agents);
    instance.stop().await;
    callcenter_e2e::delete_event_log(&prefix).await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_cancels_while_queued_gets_487_and_the_call_is_abandoned() {
    // Nobody is ready: the call waits in the queue until the caller gives up.
    let (_directory, instance, admin) = start(0).await;
    let run = sipp(
        &instance,
        "cancel_while_queued.xml",
        "cancel-queued",
        &["-m", "1"],
    )
    .await;
    assert_eq!((run.successful, run.failed), (1, 0), "{}", run.screen);
    queue_stats(
        &instance,
        &admin,
        json!({"queue_id": "general", "offered": 1, "answered": 0, "abandoned": 1}),
    )
    .await;
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_hangs_up_first_sends_the_caller_a_bye() {
    let (_directory, instance, admin) = start(1).await;
    let agents = ScriptedAgents::start(
        &instance,
        &admin,
        Behaviour::AnswerThenHangUp(Duration::from_millis(300)),
    )
    .await;
    let run = sipp(
        &instance,
        "agent_hangs_up.xml",
        "agent-hangs-up",
        &["-m", "1"],
    )
    .await;
    assert_eq!((run.successful, run.failed), (1, 0), "{}", run.screen);
    assert_eq!(agents.answered(), 1);
    queue_stats(
        &instance,
        &admin,
        json!({"queue_id": "general", "offered": 1, "answered": 1, "abandoned": 0}),
    )
    .await;
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_the_agent_misses_goes_back_to_the_queue_and_another_agent_answers() {
    let (_directory, instance, admin) = start_with(2, &["--ring-timeout-seconds", "1"]).await;
    let agents =
        ScriptedAgents::start(&instance, &admin, Behaviour::IgnoreRingsOf("agent-1")).await;
    let run = sipp(
        &instance,
        "answered_caller_hangs_up.xml",
        "missed-ring",
        &["-m", "1", "-d", "200"],
    )
    .await;
    assert_eq!((run.successful, run.failed), (1, 0), "{}", run.screen);
    assert_eq!(agents.answered(), 1);
    // agent-1 (ready first) rang without answering; the call went back and agent-2 took it.
    let channel = Channel::from_shared(instance.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut watch = PartnerCallIntakeServiceClient::new(channel)
        .watch_call_events(request(
            &admin,
            pb::WatchCallEventsRequest { after_position: 0 },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut history = Vec::new();
    while !history
        .iter()
        .any(|event: &String| event.ends_with("CallEnded"))
    {
        let item = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("the call's events")
            .expect("open")
            .expect("no error");
        let short = item
            .event_type
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let detail = match short.as_str() {
            "CallRinging" => pb::CallRinging::decode(item.payload).unwrap().agent_id,
            "CallReturnedToQueue" => {
                pb::CallReturnedToQueue::decode(item.payload)
                    .unwrap()
                    .agent_id
            }
            "CallAnswered" => pb::CallAnswered::decode(item.payload).unwrap().agent_id,
            _ => String::new(),
        };
        history.push(format!("{detail} {short}").trim().to_owned());
    }
    let ring_history: Vec<&str> = history
        .iter()
        .map(String::as_str)
        .filter(|event| event.starts_with("agent-"))
        .collect();
    assert_eq!(
        ring_history.first().copied(),
        Some("agent-1 CallRinging"),
        "{history:?}"
    );
    assert_eq!(
        ring_history.get(1).copied(),
        Some("agent-1 CallReturnedToQueue"),
        "{history:?}"
    );
    assert_eq!(
        ring_history.last().copied(),
        Some("agent-2 CallAnswered"),
        "{history:?}"
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_calls_at_fifty_per_second_all_succeed() {
    let (_directory, instance, admin) = start(100).await;
    let agents = ScriptedAgents::start(&instance, &admin, Behaviour::Answer).await;
    let started = Instant::now();
    let run = sipp(
        &instance,
        "answered_caller_hangs_up.xml",
        "load-500-at-50cps",
        &["-m", "500", "-r", "50", "-d", "500", "-l", "400"],
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!((run.successful, run.failed), (500, 0), "{}", run.screen);
    assert_eq!(agents.answered(), 500);
    queue_stats(
        &instance,
        &admin,
        json!({"queue_id": "general", "offered": 500, "answered": 500, "abandoned": 0}),
    )
    .await;
    eprintln!(
        "500 SIP calls at 50/s in {elapsed:?}; sipp's statistics:\n{}",
        run.screen
    );
    instance.stop().await;
}

/// A UDP socket of its own connected to the gateway (answers to one request are retransmitted
/// until acknowledged: each request gets a socket so that they cannot mix).
async fn caller_socket(instance: &Instance) -> tokio::net::UdpSocket {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket
        .connect(instance.sip.as_deref().unwrap())
        .await
        .unwrap();
    socket
}

/// Sends one datagram and returns the status line of the answer, if one comes.
async fn exchange(socket: &tokio::net::UdpSocket, message: &str) -> Option<String> {
    socket.send(message.as_bytes()).await.expect("send");
    let mut buffer = vec![0u8; 4096];
    loop {
        let received = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buffer))
            .await
            .ok()?
            .ok()?;
        let text = String::from_utf8_lossy(&buffer[..received]).into_owned();
        let status = text.lines().next().unwrap_or_default().to_owned();
        // Provisional answers come first; the test wants the final one.
        if !status.starts_with("SIP/2.0 1") {
            return Some(status);
        }
    }
}

fn invite(local: &str, user: &str, branch: &str, headers: &str, body: &str) -> String {
    format!(
        "INVITE sip:{user}@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         {headers}\
         Contact: <sip:caller@{local}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn dialog_headers(branch: &str, method: &str) -> String {
    format!(
        "From: <sip:13800138000@example.com>;tag=f{branch}\r\nTo: <sip:4000@example.com>\r\n\
         Call-ID: {branch}@test\r\nCSeq: 1 {method}\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_unroutable_requests_get_a_4xx_and_the_gateway_keeps_serving() {
    let (_directory, instance, admin) = start(0).await;
    let mut sockets = Vec::new();
    for _ in 0..9 {
        sockets.push(caller_socket(&instance).await);
    }
    let local: Vec<String> = sockets
        .iter()
        .map(|socket| socket.local_addr().unwrap().to_string())
        .collect();
    let audio = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=audio 6000 RTP/AVP 0\r\n";
    let video = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=video 6000 RTP/AVP 96\r\n";
    let cases = [
        (
            "a CSeq without a number",
            invite(
                &local[0],
                "4000",
                "b1",
                "From: <sip:1@x>;tag=a\r\nTo: <sip:4000@x>\r\nCall-ID: b1@t\r\nCSeq: abc INVITE\r\n",
                audio,
            ),
            "SIP/2.0 400",
        ),
        (
            "a From without a tag",
            invite(
                &local[1],
                "4000",
                "b2",
                "From: <sip:1@x>\r\nTo: <sip:4000@x>\r\nCall-ID: b2@t\r\nCSeq: 1 INVITE\r\n",
                audio,
            ),
            "SIP/2.0 400",
        ),
        (
            "a CSeq of another method",
            invite(
                &local[2],
                "4000",
                "b3",
                "From: <sip:1@x>;tag=a\r\nTo: <sip:4000@x>\r\nCall-ID: b3@t\r\nCSeq: 1 BYE\r\n",
                audio,
            ),
            "SIP/2.0 400",
        ),
        (
            "a Request-URI that is no phone number",
            invite(
                &local[3],
                "sales",
                "b4",
                &dialog_headers("b4", "INVITE"),
                audio,
            ),
            "SIP/2.0 404",
        ),
        (
            "a number no tenant holds",
            invite(
                &local[4],
                "9999",
                "b5",
                &dialog_headers("b5", "INVITE"),
                audio,
            ),
            "SIP/2.0 404",
        ),
        (
            "an offer without audio",
            invite(
                &local[5],
                "4000",
                "b6",
                &dialog_headers("b6", "INVITE"),
                video,
            ),
            "SIP/2.0 488",
        ),
        (
            "a BYE outside any dialog",
            format!(
                "BYE sip:4000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local6};branch=z9hG4bKb7\r\n\
                 From: <sip:1@x>;tag=a\r\nTo: <sip:4000@x>;tag=nope\r\nCall-ID: b7@t\r\n\
                 CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
                local6 = local[6]
            ),
            "SIP/2.0 481",
        ),
        (
            "a REGISTER (the gateway is no registrar)",
            format!(
                "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local7};branch=z9hG4bKb8\r\n\
                 From: <sip:1@x>;tag=a\r\nTo: <sip:1@x>\r\nCall-ID: b8@t\r\nCSeq: 1 REGISTER\r\n\
                 Content-Length: 0\r\n\r\n",
                local7 = local[7]
            ),
            "SIP/2.0 405",
        ),
        (
            "an OPTIONS keep-alive",
            format!(
                "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local8};branch=z9hG4bKb9\r\n\
                 From: <sip:1@x>;tag=a\r\nTo: <sip:127.0.0.1>\r\nCall-ID: b9@t\r\n\
                 CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                local8 = local[8]
            ),
            "SIP/2.0 200",
        ),
    ];
    for ((case, message, expected), socket) in cases.iter().zip(&sockets) {
        let status = exchange(socket, message).await;
        assert!(
            status.as_deref().is_some_and(|s| s.starts_with(expected)),
            "{case}: expected {expected}, got {status:?}"
        );
    }
    // Bytes that are not SIP at all are dropped (RFC 3261 §18.3), and nothing breaks.
    for garbage in [
        "hello",
        "INVITE\r\n\r\n",
        "\u{0}\u{1}\u{2}",
        "SIP/2.0 200 OK\r\n\r\n",
    ] {
        let socket = caller_socket(&instance).await;
        assert_eq!(exchange(&socket, garbage).await, None, "{garbage:?}");
    }
    // The gateway still takes calls, and none of the above became one.
    let run = sipp(
        &instance,
        "cancel_while_queued.xml",
        "after-malformed",
        &["-m", "1"],
    )
    .await;
    assert_eq!((run.successful, run.failed), (1, 0), "{}", run.screen);
    queue_stats(
        &instance,
        &admin,
        json!({"queue_id": "general", "offered": 1, "answered": 0, "abandoned": 1}),
    )
    .await;
    instance.stop().await;
}
