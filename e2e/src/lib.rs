//! Starts the `callcenter` binary as a child process and talks to it like a user would: over
//! HTTP/JSON with tokens from `callcenter token`, and over gRPC.
//!
//! The binary is `$CALLCENTER_BIN` when set (as `just test` does), or else built with cargo.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use callcenter_testkit::TempDir;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The path of the `callcenter` binary under test.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("CALLCENTER_BIN") {
            return PathBuf::from(path);
        }
        let output = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "callcenter",
                "--bin",
                "callcenter",
                "--message-format=json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build");
        assert!(output.status.success(), "cargo build -p callcenter failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|message| message["target"]["name"] == "callcenter")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported the callcenter executable")
    })
}

/// How the instance under test was started.
#[derive(Debug, Clone)]
pub enum Mode {
    /// `callcenter dev` on a data directory.
    Dev {
        /// The data directory.
        data_dir: PathBuf,
        /// Extra flags.
        extra: Vec<String>,
    },
    /// `callcenter serve --target <target>` on NATS and PostgreSQL.
    Serve {
        /// `all`, or one service.
        target: String,
        /// Extra flags (such as the gateway's upstreams).
        extra: Vec<String>,
        /// NATS URL.
        nats_url: String,
        /// PostgreSQL URL (with the test's own schema).
        database_url: String,
        /// Event log stream prefix.
        prefix: String,
        /// Signing secret.
        secret: String,
    },
}

impl Mode {
    /// `serve --target <target>` on the test's NATS (event log `prefix`), for the services that
    /// keep no read model (telephony, routing, the gateway): the database URL leads nowhere.
    pub fn serve_without_read_models(
        target: &str,
        extra: Vec<String>,
        prefix: &str,
        secret: &str,
    ) -> Mode {
        Mode::Serve {
            target: target.into(),
            extra,
            nats_url: callcenter_testkit::nats_url(),
            database_url: "postgres://unused@127.0.0.1:1/unused".into(),
            prefix: prefix.into(),
            secret: secret.into(),
        }
    }
}

/// `callcenter dev --no-demo` on a new data directory named after `label` (kept while the
/// directory lives).
pub async fn dev_instance(label: &str) -> (TempDir, Instance) {
    let directory = TempDir::new(label);
    let instance = Instance::start(Mode::Dev {
        data_dir: directory.path().join("data"),
        extra: vec!["--no-demo".into()],
    })
    .await;
    (directory, instance)
}

/// A running `callcenter` process.
#[derive(Debug)]
pub struct Instance {
    child: Option<Child>,
    mode: Mode,
    /// Base URL of the HTTP API, such as `http://127.0.0.1:40123`.
    pub http: String,
    /// Base URL of the gRPC API.
    pub grpc: String,
    /// The SIP address (`host:port`, UDP and TCP) when started with `--sip`.
    pub sip: Option<String>,
    log: PathBuf,
    _logs: TempDir,
}

impl Instance {
    /// Starts the binary in `mode` on free ports and waits for its start line and readiness.
    pub async fn start(mode: Mode) -> Self {
        let instance = Self::spawn(mode).await;
        instance.wait_ready().await;
        instance
    }

    /// Starts the binary in `mode` on free ports and waits for its start line only.
    pub async fn spawn(mode: Mode) -> Self {
        let logs = TempDir::new("e2e-log");
        let log = logs.path().join("callcenter.log");
        let mut command = Command::new(binary());
        match &mode {
            Mode::Dev { data_dir, extra } => {
                command
                    .arg("dev")
                    .arg("--data-dir")
                    .arg(data_dir)
                    .args(extra);
            }
            Mode::Serve {
                target,
                extra,
                nats_url,
                database_url,
                prefix,
                secret,
            } => {
                command
                    .args(["serve", "--target", target, "--nats-url", nats_url])
                    .args(["--database-url", database_url, "--stream-prefix", prefix])
                    .args(["--jwt-secret", secret])
                    .args(extra);
            }
        }
        command
            .args(["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
            .env("CALLCENTER_LOG", "info,rsipstack=warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start callcenter");
        let stdout = child.stdout.take().expect("stdout");
        let started = callcenter_testkit::callcenter_started(stdout)
            .await
            .unwrap_or_else(|| {
                panic!(
                    "callcenter did not start; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        let field = |key: &str| callcenter_testkit::started_field(&started, key);
        Self {
            http: format!("http://{}", field("http")),
            grpc: format!("http://{}", field("grpc")),
            sip: Some(field("sip")).filter(|sip| !sip.is_empty()),
            child: Some(child),
            mode,
            log,
            _logs: logs,
        }
    }

    /// Waits until `GET /healthz` answers 200 (30 s at most).
    pub async fn wait_ready(&self) {
        self.wait_ready_within(Duration::from_secs(30)).await;
    }

    /// Waits until `GET /healthz` answers 200, `limit` at most.
    pub async fn wait_ready_within(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let (status, body) = self.call("GET", "/healthz", None, None).await;
            if status == 200 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not ready after {limit:?}: {body}\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many routing partitions the process's log says it took, minus those it handed over
    /// or lost.
    pub fn routing_partitions_held(&self) -> usize {
        let log = self.log_text();
        let taken = log.matches("routing partition taken").count();
        let gone = log.matches("routing partition handed over").count()
            + log.matches("routing partition lost").count();
        taken.saturating_sub(gone)
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// The process's resident memory in bytes (Linux), if it runs.
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// The process's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A token from `callcenter token` for `subject` of `tenant` with comma-separated `roles`.
    pub fn token(&self, tenant: &str, roles: &str, subject: &str) -> String {
        let mut command = std::process::Command::new(binary());
        command.args([
            "token",
            "--tenant",
            tenant,
            "--roles",
            roles,
            "--subject",
            subject,
        ]);
        match &self.mode {
            Mode::Dev { data_dir, .. } => command.arg("--data-dir").arg(data_dir),
            Mode::Serve { secret, .. } => command.args(["--jwt-secret", secret]),
        };
        let output = command.output().expect("run callcenter token");
        assert!(
            output.status.success(),
            "callcenter token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("token is text")
            .trim()
            .to_owned()
    }

    /// Sends an HTTP request; answers the status and the JSON body (`Null` when empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_with_headers(method, path, token, body, &[]).await
    }

    /// [`Instance::call`] with extra request headers.
    pub async fn call_with_headers(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        request(&self.http, method, path, token, body, headers).await
    }

    /// The process's metrics (`GET /metrics`, no token), in the Prometheus text format.
    pub async fn metrics(&self) -> String {
        let (status, text) = self.call("GET", "/metrics", None, None).await;
        assert_eq!(status, 200, "GET /metrics: {text}");
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Opens a Server-Sent Events stream at `GET path`; panics unless it answers 200.
    pub async fn events(&self, path: &str, token: &str) -> EventStream {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let request = http::Request::builder()
            .uri(format!("{}{path}", self.http))
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "text/event-stream")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
            .await
            .expect("the stream answers in time")
            .expect("the stream answers");
        assert_eq!(response.status(), 200, "GET {path}");
        EventStream {
            body: response
                .into_body()
                .map_err(|error| -> BoxError { Box::new(error) })
                .boxed(),
            buffer: String::new(),
        }
    }

    /// Queue `general` of center `langfang`, reached by number 4000 (as `admin`).
    pub async fn open_general_queue(&self, admin: &str) {
        let queue =
            json!({"queue_id": "general", "display_name": "General", "center_id": "langfang"});
        self.ok("POST", "/v1/queues", admin, Some(queue)).await;
        self.ok(
            "PUT",
            "/v1/numbers/4000",
            admin,
            Some(json!({"queue_id": "general"})),
        )
        .await;
    }

    /// Sends `method path` and asserts a 200 answer; returns its body.
    pub async fn ok(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, Some(token), body).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer
    }

    /// Polls `GET path` until `done` holds for the body (or fails after 15 s).
    pub async fn poll_until(
        &self,
        path: &str,
        token: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (status, body) = self.call("GET", path, Some(token), None).await;
            if status == 200 && done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "GET {path} never got there; last answer {status}: {body}\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process with SIGKILL (a crash: nothing is drained or released).
    pub async fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        child.start_kill().expect("send SIGKILL");
        let _ = child.wait().await;
    }

    /// Stops the process with SIGTERM and checks that it drains and exits cleanly.
    pub async fn stop(mut self) {
        let mut child = self.child.take().expect("running");
        let pid = child.id().expect("pid").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("send SIGTERM");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("exits within 30 s of SIGTERM")
            .expect("exit status");
        assert!(
            status.success(),
            "exit after SIGTERM: {status}\n{}",
            self.log_text()
        );
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- callcenter log ---\n{}", self.log_text());
        }
    }
}

/// The gateway's flags for its upstreams: the instances serving telephony, routing and reporting.
pub fn upstreams(telephony: &Instance, routing: &Instance, reporting: &Instance) -> Vec<String> {
    [
        ("telephony", telephony),
        ("routing", routing),
        ("reporting", reporting),
    ]
    .into_iter()
    .flat_map(|(service, instance)| {
        [
            "--upstream".to_owned(),
            format!("{service}={}", instance.grpc),
        ]
    })
    .collect()
}

/// A gateway (`serve --target gateway` on the event log `prefix`) in front of `telephony` and
/// `routing`; these setups keep no read models, so telephony's address answers for reporting.
pub async fn gateway_in_front(
    telephony: &Instance,
    routing: &Instance,
    prefix: &str,
    secret: &str,
) -> Instance {
    let upstreams = upstreams(telephony, routing, telephony);
    Instance::start(Mode::serve_without_read_models(
        "gateway", upstreams, prefix, secret,
    ))
    .await
}

/// Sends an HTTP request to `base` (`http://host:port`) and answers the status and the JSON body
/// (`Null` when empty, the text when not JSON; status 0 and the error when it failed).
pub async fn request(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let payload = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    let request = request.body(Full::new(payload)).expect("request");
    let response =
        match tokio::time::timeout(Duration::from_secs(30), client.request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return (0, Value::String(error.to_string())),
            Err(_) => return (0, Value::String("timed out".into())),
        };
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, value)
}

/// Removes the JetStream event log a test's instances wrote under `prefix`.
pub async fn delete_event_log(prefix: &str) {
    use callcenter_eventlog::Name;
    use callcenter_eventlog::jetstream::{JetStreamConfig, JetStreamEventStore};
    let config = JetStreamConfig::new(Name::new(prefix).expect("prefix"));
    JetStreamEventStore::connect(&callcenter_testkit::nats_url(), config)
        .await
        .expect("connect")
        .delete_stream()
        .await
        .expect("delete stream");
    // The routing leases' bucket, if a routing replica made one.
    let leases = callcenter_eventlog::lease::JetStreamLeases::connect(
        &callcenter_testkit::nats_url(),
        &Name::new(prefix).expect("prefix"),
        Duration::from_secs(5),
    )
    .await
    .expect("connect");
    leases.delete_bucket().await.expect("delete the leases");
}

/// A Server-Sent Events stream read event by event.
pub struct EventStream {
    body: http_body_util::combinators::BoxBody<Bytes, BoxError>,
    buffer: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// The next event's name and JSON data (keep-alive comments skipped); `None` when the stream
    /// ends or nothing comes within 15 s.
    pub async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some((
                    name,
                    serde_json::from_str(&data).unwrap_or(Value::String(data)),
                ));
            }
            let frame = tokio::time::timeout(Duration::from_secs(15), self.body.frame())
                .await
                .ok()??
                .ok()?;
            if let Ok(bytes) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
}

/// The sum of the samples of metric `name` (such as `callcenter_calls_total`) whose labels
/// include every one of `labels`, in Prometheus text; `None` when no sample matches.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let samples: Vec<f64> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(key, value)| rest.contains(&format!("{key}=\"{value}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .collect();
    (!samples.is_empty()).then(|| samples.iter().sum())
}
