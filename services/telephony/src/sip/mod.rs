//! SIP over UDP and TCP: calls from a trunk enter the platform here.
//!
//! The SIP stack (`rsipstack`) handles transactions, retransmissions, branches, tags and CSeq; this
//! module maps dialogs to calls:
//!
//! - INVITE → the dialled number (Request-URI user) names the tenant (its [`NumberClaim`]) and the
//!   queue → 100 Trying, the call is queued, 180 Ringing;
//! - the agent answers (`CallAnswered`) → 200 OK with an SDP answer that sends the caller's media
//!   to the configured media server (no RTP passes through this process);
//! - a number that leads to a voice menu: the menu answers at once (200 OK with the same SDP: the
//!   media server plays the prompts); keys arrive as SIP INFO (`application/dtmf-relay` or
//!   `application/dtmf`) and move the call through the menu; a media server that detects RFC 4733
//!   tones itself reports them with `PressIvrKeys`. Once the menu queues the call, the agent's
//!   answer changes nothing in SIP (the media server bridges);
//! - BYE from the caller, or CANCEL while queued or ringing (487) → [`CallCommand::CallerHungUp`]:
//!   the call ends or is abandoned;
//! - the agent or a supervisor ends the call (`CallEnded`) → BYE to the caller; the call abandoned
//!   through the API → 480;
//! - malformed requests the SIP parser still reads get 400, unknown numbers 404, offers without
//!   G.711 audio 488; datagrams that are not SIP at all are dropped (RFC 3261 §18.3).
//!
//! A gateway tracks the dialogs it holds in memory: a call survives a restart of the platform's
//! other services but not of the gateway that holds its dialog (on shutdown it hangs up its calls
//! and records them so).
//!
//! [`NumberClaim`]: crate::domain::NumberClaim

pub mod dtmf;
pub mod sdp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callcenter_eventlog::{EventStore, Filter, Name, Position, RecordedEvent, TenantId};
use callcenter_kit::{
    CommandMeta, Consumer, ConsumerError, ConsumerStatus, PersistedEvent, StartFrom, Subscribe,
    Timestamp, run_consumer,
};
use callcenter_platform::{ApiError, ErrorCode};
use rsipstack::dialog::DialogId;
use rsipstack::dialog::dialog::{
    Dialog, DialogState, DialogStateReceiver, DialogStateSender, TerminatedReason,
};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{Header, Method, Request, Response, SipMessage, StatusCode};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transaction::{Endpoint, TransactionReceiver};
use rsipstack::transport::{
    TcpListenerConnection, TransportEvent, TransportLayer, udp::UdpConnection,
};
use rsipstack::{EndpointBuilder, transaction::endpoint::TransportEventInspector};
use tokio_util::sync::CancellationToken;

use crate::app::{NewCall, Telephony};
use crate::domain::{CallCommand, CallEvent, CallState, Party, PhoneNumber, Priority};

/// The caller number recorded when the From header carries none (a withheld number).
const WITHHELD_NUMBER: &str = "0";
/// Longer than any INVITE server transaction lives (Timer H and Timer L are 64 × T1 = 32 s).
const TRANSACTION_LIFETIME: Duration = Duration::from_secs(40);
/// How long shutdown waits for the BYEs and records of the calls a gateway still holds.
const HANG_UP_DEADLINE: Duration = Duration::from_secs(5);

/// Where the gateway listens and where callers' media goes.
#[derive(Clone, Copy, Debug)]
pub struct SipConfig {
    /// UDP and TCP address for SIP.
    pub listen: SocketAddr,
    /// The media server that receives callers' RTP (goes into the SDP answer).
    pub media: SocketAddr,
}

/// Why the gateway could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    /// An address could not be bound.
    #[error("cannot listen for SIP on {address}: {reason}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The event log failed.
    #[error("SIP gateway: {0}")]
    Store(#[from] callcenter_eventlog::StoreError),
    /// The SIP stack failed.
    #[error("SIP stack: {0}")]
    Stack(String),
}

/// How far the record of a SIP call has come; decides who records the caller's hang-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    /// The call is being recorded; a hang-up now is recorded once that is done.
    Reporting,
    /// The call is recorded.
    Reported,
    /// The caller hung up.
    CallerGone,
}

/// A call whose dialog this gateway holds.
struct ActiveCall {
    tenant: TenantId,
    call_id: Name,
    dialog: InviteDialog,
    /// The SDP the 200 OK carries.
    answer: Vec<u8>,
    progress: Mutex<Progress>,
    /// Keys received by INFO and not yet pressed, in order.
    pending_keys: Mutex<String>,
    /// Held while keys are pressed, so that they reach the menu in order.
    pressing: tokio::sync::Mutex<u64>,
}

/// The calls of this gateway, by call and by dialog.
#[derive(Default)]
struct Calls {
    by_call: Mutex<HashMap<(TenantId, Name), Arc<ActiveCall>>>,
    by_dialog: Mutex<HashMap<String, Arc<ActiveCall>>>,
}

impl Calls {
    fn insert(&self, call: Arc<ActiveCall>) {
        let key = (call.tenant.clone(), call.call_id.clone());
        let dialog = call.dialog.id().to_string();
        lock(&self.by_call).insert(key, Arc::clone(&call));
        lock(&self.by_dialog).insert(dialog, call);
    }

    fn get(&self, tenant: &TenantId, call_id: &Name) -> Option<Arc<ActiveCall>> {
        lock(&self.by_call)
            .get(&(tenant.clone(), call_id.clone()))
            .cloned()
    }

    fn remove_dialog(&self, dialog: &DialogId) -> Option<Arc<ActiveCall>> {
        let call = lock(&self.by_dialog).remove(&dialog.to_string())?;
        lock(&self.by_call).remove(&(call.tenant.clone(), call.call_id.clone()));
        Some(call)
    }

    fn by_dialog(&self, dialog: &DialogId) -> Option<Arc<ActiveCall>> {
        lock(&self.by_dialog).get(&dialog.to_string()).cloned()
    }

    fn all(&self) -> Vec<Arc<ActiveCall>> {
        lock(&self.by_call).values().cloned().collect()
    }

    fn len(&self) -> usize {
        lock(&self.by_call).len()
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the gateway's tasks share.
struct Shared {
    telephony: Telephony,
    dialogs: DialogLayer,
    states: DialogStateSender,
    contact: rsipstack::sip::Uri,
    media: SocketAddr,
    calls: Calls,
}

/// A bound SIP gateway; [`SipGateway::run`] serves it.
pub struct SipGateway {
    endpoint: Endpoint,
    incoming: TransactionReceiver,
    state_changes: DialogStateReceiver,
    shared: Arc<Shared>,
    store: Arc<dyn EventStore>,
    local: SocketAddr,
    cancel: CancellationToken,
}

impl std::fmt::Debug for SipGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipGateway")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl SipGateway {
    /// Binds UDP and TCP on `config.listen` (port 0 picks one free port for both).
    pub async fn bind(
        config: SipConfig,
        telephony: Telephony,
        store: Arc<dyn EventStore>,
    ) -> Result<Self, SipError> {
        let cancel = CancellationToken::new();
        let bind_error = |reason: String| SipError::Bind {
            address: config.listen,
            reason,
        };
        // Port 0: the port UDP got may be taken for TCP; try other free ports a few times.
        let attempts = if config.listen.port() == 0 { 20 } else { 1 };
        let mut bound = None;
        let mut tcp_error = None;
        for _ in 0..attempts {
            let udp =
                UdpConnection::create_connection(config.listen, None, Some(cancel.child_token()))
                    .await
                    .map_err(|error| bind_error(error.to_string()))?;
            let local = udp
                .get_addr()
                .get_socketaddr()
                .map_err(|error| bind_error(error.to_string()))?;
            let local = SocketAddr::new(config.listen.ip(), local.port());
            // The stack binds TCP when it starts serving and only logs a failure: check now.
            match tokio::net::TcpListener::bind(local).await {
                Ok(listener) => {
                    drop(listener);
                    bound = Some((udp, local));
                    break;
                }
                Err(error) => tcp_error = Some(error),
            }
        }
        let Some((udp, local)) = bound else {
            let reason = tcp_error.map_or_else(String::new, |error| error.to_string());
            return Err(bind_error(format!("TCP: {reason}")));
        };
        let tcp = TcpListenerConnection::new(local, None)
            .await
            .map_err(|error| bind_error(error.to_string()))?;
        let transports = TransportLayer::new(cancel.child_token());
        transports.add_transport(udp.into());
        transports.add_transport(tcp.into());
        let endpoint = EndpointBuilder::new()
            .with_user_agent(concat!("callcenter/", env!("CARGO_PKG_VERSION")))
            .with_cancel_token(cancel.child_token())
            .with_transport_layer(transports)
            .with_transport_inspector(Box::new(Sanity))
            .build();
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|error| SipError::Stack(error.to_string()))?;
        let dialogs = DialogLayer::new(endpoint.inner.clone());
        let (states, state_changes) = dialogs.new_dialog_state_channel();
        let contact = rsipstack::sip::Uri {
            scheme: Some(rsipstack::sip::Scheme::Sip),
            auth: None,
            host_with_port: local.into(),
            params: vec![],
            headers: vec![],
        };
        Ok(Self {
            endpoint,
            incoming,
            state_changes,
            shared: Arc::new(Shared {
                telephony,
                dialogs,
                states,
                contact,
                media: config.media,
                calls: Calls::default(),
            }),
            store,
            local,
            cancel,
        })
    }

    /// The address SIP listens on (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves until `shutdown`, then hangs up the calls it still holds; `watching` follows its
    /// watch of the call events.
    pub async fn run(
        self,
        shutdown: CancellationToken,
        watching: tokio::sync::watch::Sender<ConsumerStatus>,
    ) -> Result<(), SipError> {
        let Self {
            endpoint,
            mut incoming,
            mut state_changes,
            shared,
            store,
            local,
            cancel,
        } = self;
        // Only what happens from now on concerns this gateway's dialogs.
        let head = store.head().await?;
        let mut call_watcher = CallWatcher {
            shared: Arc::clone(&shared),
            after: head,
        };
        let stop = cancel.clone();
        let watcher = tokio::spawn(async move {
            run_consumer(&*store, &mut call_watcher, &watching, &stop).await;
        });
        tracing::info!(%local, "SIP gateway listening on UDP and TCP");

        let serving = endpoint.serve();
        tokio::pin!(serving);
        let result = loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break Ok(()),
                () = &mut serving => break Err(SipError::Stack("the SIP endpoint stopped".into())),
                Some(tx) = incoming.recv() => on_request(&shared, tx),
                Some(state) = state_changes.recv() => on_dialog_state(&shared, state),
            }
        };
        // No new calls; the ones held are hung up and recorded so.
        let held = shared.calls.len();
        if held > 0 {
            tracing::info!(calls = held, "SIP gateway hanging up the calls it holds");
        }
        let hang_ups = shared.calls.all().into_iter().map(|call| {
            let shared = Arc::clone(&shared);
            async move { hang_up_for_shutdown(&shared, &call).await }
        });
        // The endpoint keeps serving meanwhile: the BYEs and their retransmissions need it.
        let hanging_up =
            tokio::time::timeout(HANG_UP_DEADLINE, futures_util::future::join_all(hang_ups));
        tokio::select! {
            _ = hanging_up => {}
            () = &mut serving => {}
        }
        cancel.cancel();
        let _ = watcher.await;
        result
    }
}

/// Follows the platform's call events from when the gateway started, on the kit's consumer
/// runner, and applies them to the gateway's dialogs (a call that ended in the platform is hung
/// up in SIP). When the event log fails it subscribes again after the last event it saw.
struct CallWatcher {
    shared: Arc<Shared>,
    after: Position,
}

#[async_trait::async_trait]
impl Consumer for CallWatcher {
    fn subscription(&self) -> Subscribe {
        Subscribe {
            start: StartFrom::After(self.after),
            batch_size: 256,
            tick: Duration::from_secs(5),
            ..Subscribe::view(
                Name::new("sip").expect("a valid name"),
                Filter::all().aggregate(telephony_context(), call_type()),
            )
        }
    }

    async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ConsumerError> {
        for event in events {
            on_call_event(&self.shared, event);
        }
        Ok(())
    }
}

fn telephony_context() -> Name {
    Name::new("telephony").expect("valid name")
}

fn call_type() -> Name {
    Name::new("call").expect("valid name")
}

/// Answers requests that name no transaction the stack can build (broken From, To, Call-ID,
/// CSeq or Via) with 400, before the stack drops them silently.
struct Sanity;

#[async_trait::async_trait]
impl TransportEventInspector for Sanity {
    async fn handle(&self, event: TransportEvent) -> Option<TransportEvent> {
        let TransportEvent::Incoming(SipMessage::Request(request), connection, from) = &event
        else {
            return Some(event);
        };
        let Some(problem) = malformed(request) else {
            return Some(event);
        };
        tracing::debug!(%from, %problem, "malformed SIP request");
        if request.method != Method::Ack {
            let response = bad_request(request);
            if let Err(error) = connection.send(response.into(), Some(from)).await {
                tracing::debug!(%from, %error, "could not answer a malformed request");
            }
        }
        None
    }
}

/// What is wrong with a request the parser read, if anything the stack needs is missing.
fn malformed(request: &Request) -> Option<String> {
    if let Err(error) = TransactionKey::from_request(request, TransactionRole::Server) {
        return Some(error.to_string());
    }
    let checks: [(&str, bool); 4] = [
        (
            "From",
            request.from_header().is_ok_and(|from| from.typed().is_ok()),
        ),
        ("To", request.to_header().is_ok_and(|to| to.typed().is_ok())),
        (
            "CSeq",
            request
                .cseq_header()
                .is_ok_and(|cseq| cseq.method().is_ok_and(|method| method == request.method)),
        ),
        ("Call-ID", request.call_id_header().is_ok()),
    ];
    checks
        .iter()
        .find(|(_, ok)| !ok)
        .map(|(header, _)| format!("missing or malformed {header} header"))
}

/// A 400 that echoes what it can of the request.
fn bad_request(request: &Request) -> Response {
    let mut headers = rsipstack::sip::Headers::default();
    for header in request.headers.iter() {
        if matches!(
            header,
            Header::Via(_) | Header::From(_) | Header::To(_) | Header::CallId(_) | Header::CSeq(_)
        ) {
            headers.push(header.clone());
        }
    }
    headers.push(Header::ContentLength(0u32.into()));
    Response {
        status_code: StatusCode::BadRequest,
        wire_reason: None,
        version: request.version,
        headers,
        body: vec![],
    }
}

/// A new transaction from the stack.
/// SIP transactions the gateway served, by method, and the final answers it gave itself (errors
/// and OPTIONS; a call's answers follow its dialog).
static SIP: std::sync::LazyLock<(
    opentelemetry::metrics::Counter<u64>,
    opentelemetry::metrics::Counter<u64>,
)> = std::sync::LazyLock::new(|| {
    let meter = callcenter_telemetry::metrics::meter();
    (
        meter
            .u64_counter("callcenter_sip_transactions")
            .with_description("SIP server transactions, by request method")
            .build(),
        meter
            .u64_counter("callcenter_sip_replies")
            .with_description("SIP answers the gateway gave outside dialogs, by status code")
            .build(),
    )
});

fn on_request(shared: &Arc<Shared>, mut tx: Transaction) {
    SIP.0.add(
        1,
        &[opentelemetry::KeyValue::new(
            "method",
            tx.original.method.to_string(),
        )],
    );
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let in_dialog = tx
            .original
            .to_header()
            .ok()
            .and_then(|to| to.tag().ok().flatten())
            .is_some();
        match tx.original.method {
            Method::Invite if !in_dialog => on_invite(&shared, tx).await,
            Method::Options if !in_dialog => reply(&mut tx, StatusCode::OK).await,
            _ => match shared.dialogs.match_dialog(&tx) {
                Some(Dialog::Invite(mut dialog)) => {
                    if let Err(error) = dialog.handle(&mut tx).await {
                        tracing::debug!(%error, "in-dialog request failed");
                    }
                }
                _ if tx.original.method == Method::Ack => {}
                _ if in_dialog => reply(&mut tx, StatusCode::CallTransactionDoesNotExist).await,
                _ => reply(&mut tx, StatusCode::MethodNotAllowed).await,
            },
        }
    });
}

async fn reply(tx: &mut Transaction, status: StatusCode) {
    let code = status.code().to_string();
    SIP.1
        .add(1, &[opentelemetry::KeyValue::new("status", code)]);
    if let Err(error) = tx.reply(status.clone()).await {
        tracing::debug!(%error, %status, "could not reply");
    }
}

/// A new call: find the tenant by the dialled number, queue the call, and ring back.
async fn on_invite(shared: &Arc<Shared>, mut tx: Transaction) {
    let request = tx.original.clone();
    let Some(dialled) = request
        .uri
        .user()
        .and_then(|user| PhoneNumber::parse(user).ok())
    else {
        return reply(&mut tx, StatusCode::NotFound).await;
    };
    let caller = request
        .from_header()
        .ok()
        .and_then(|from| from.typed().ok())
        .and_then(|from| from.uri.user().and_then(|u| PhoneNumber::parse(u).ok()))
        .unwrap_or_else(|| PhoneNumber::parse(WITHHELD_NUMBER).expect("a valid number"));
    let offer = (!request.body.is_empty()).then(|| String::from_utf8_lossy(&request.body));
    let call_id = crate::app::new_call_id();
    let session = Timestamp::now().unix_millis().unsigned_abs();
    let answer = match sdp::answer(offer.as_deref(), shared.media, session) {
        Ok(answer) => answer.into_bytes(),
        Err(error) => {
            tracing::debug!(%error, "INVITE with an offer the gateway cannot answer");
            return reply(&mut tx, StatusCode::NotAcceptableHere).await;
        }
    };
    let dialog = match shared.dialogs.get_or_create_server_invite(
        &tx,
        shared.states.clone(),
        None,
        Some(shared.contact.clone()),
    ) {
        Ok(dialog) => dialog,
        Err(error) => {
            tracing::debug!(%error, "INVITE without a usable dialog");
            return reply(&mut tx, StatusCode::BadRequest).await;
        }
    };
    // The dialog owns the INVITE transaction from here: it sends 100 Trying now, then our final
    // response, and takes the ACK or a CANCEL.
    let mut handler = dialog.clone();
    tokio::spawn(async move {
        if let Err(error) = handler.handle(&mut tx).await {
            tracing::debug!(%error, "INVITE transaction failed");
        }
        drive_to_the_end(&mut tx).await;
    });

    let tenant = match shared.telephony.tenant_of_number(&dialled).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => return reject(&dialog, StatusCode::NotFound),
        Err(error) => return reject(&dialog, status_for(&error)),
    };
    let call = Arc::new(ActiveCall {
        tenant: tenant.clone(),
        call_id: call_id.clone(),
        dialog: dialog.clone(),
        answer,
        progress: Mutex::new(Progress::Reporting),
        pending_keys: Mutex::new(String::new()),
        pressing: tokio::sync::Mutex::new(0),
    });
    shared.calls.insert(Arc::clone(&call));
    let meta = CommandMeta::system(tenant, "sip", format!("sip-offer-{call_id}"));
    let reported = shared
        .telephony
        .report_call(
            &meta,
            NewCall {
                call_id: Some(call_id.clone()),
                caller_number: caller,
                dialled_number: dialled,
                queue_id: None,
                priority: Priority::Normal,
                at: Timestamp::now(),
            },
        )
        .await;
    let in_menu = match reported {
        Err(error) => {
            tracing::info!(%call_id, reason = %error.reason, "SIP call refused");
            shared.calls.remove_dialog(&dialog.id());
            return reject(&dialog, status_for(&error));
        }
        Ok((_, outcome)) => matches!(
            outcome.state.state,
            CallState::InIvr | CallState::SelfServed
        ),
    };
    let caller_gone = {
        let mut progress = lock(&call.progress);
        let gone = *progress == Progress::CallerGone;
        *progress = if gone {
            Progress::CallerGone
        } else {
            Progress::Reported
        };
        gone
    };
    if caller_gone {
        record_caller_hang_up(shared, &call).await;
    } else if in_menu {
        accept(&call);
    } else if let Err(error) = dialog.ringing(None, None) {
        tracing::debug!(%call_id, %error, "could not send 180");
    }
}

/// Answers the caller's INVITE (200 OK with the media server's SDP), unless already answered.
fn accept(call: &ActiveCall) {
    if matches!(
        call.dialog.state(),
        DialogState::Calling(_) | DialogState::Trying(_) | DialogState::Early(_, _)
    ) {
        let headers = vec![Header::ContentType("application/sdp".into())];
        if let Err(error) = call.dialog.accept(Some(headers), Some(call.answer.clone())) {
            tracing::debug!(call_id = %call.call_id, %error, "could not send 200 OK");
        }
    }
}

/// Whether the caller's INVITE was answered (by an agent or by a voice menu).
fn is_answered(call: &ActiveCall) -> bool {
    matches!(
        call.dialog.state(),
        DialogState::WaitAck(_, _) | DialogState::Confirmed(_, _)
    )
}

/// Presses the keys that INFO requests brought for a call in a voice menu, in arrival order.
async fn press_pending_keys(shared: &Shared, call: &ActiveCall) {
    let mut pressed = call.pressing.lock().await;
    let keys = std::mem::take(&mut *lock(&call.pending_keys));
    if keys.is_empty() {
        return;
    }
    *pressed += 1;
    let meta = CommandMeta::system(
        call.tenant.clone(),
        "sip",
        format!("sip-keys-{}-{}", call.call_id, *pressed),
    );
    if let Err(error) = shared
        .telephony
        .press_keys(&meta, &call.call_id, keys, Timestamp::now())
        .await
    {
        tracing::debug!(call_id = %call.call_id, reason = %error.reason, "keys not taken");
    }
}

/// The dialog stops driving its INVITE transaction once it has a final answer; the transaction
/// still has to retransmit a lost 487 or 4xx (Timer G) until the caller's ACK, or it ends with
/// Timer H. Without this a caller whose 487 was lost never learns that the CANCEL took effect.
async fn drive_to_the_end(tx: &mut Transaction) {
    let _ = tokio::time::timeout(TRANSACTION_LIFETIME, async {
        while tx.receive().await.is_some() {}
    })
    .await;
}

fn reject(dialog: &InviteDialog, status: StatusCode) {
    if let Err(error) = dialog.reject(Some(status), None) {
        tracing::debug!(%error, "could not reject the INVITE");
    }
}

/// The SIP answer for a refusal of the platform.
fn status_for(error: &ApiError) -> StatusCode {
    match error.code {
        ErrorCode::NotFound => StatusCode::NotFound,
        // A number that leads to no queue: nobody can take the call now.
        ErrorCode::FailedPrecondition | ErrorCode::InvalidArgument => {
            StatusCode::TemporarilyUnavailable
        }
        ErrorCode::Unavailable | ErrorCode::Aborted => StatusCode::ServiceUnavailable,
        _ => StatusCode::ServerInternalError,
    }
}

/// A change of one of the gateway's dialogs.
fn on_dialog_state(shared: &Arc<Shared>, state: DialogState) {
    match state {
        DialogState::Terminated(id, reason) => {
            shared.dialogs.remove_dialog(&id);
            let Some(call) = shared.calls.remove_dialog(&id) else {
                return;
            };
            let caller_left = matches!(
                reason,
                TerminatedReason::UacBye | TerminatedReason::UacCancel | TerminatedReason::Timeout
            );
            if !caller_left {
                return;
            }
            let record = {
                let mut progress = lock(&call.progress);
                let reported = *progress == Progress::Reported;
                *progress = Progress::CallerGone;
                reported
            };
            if record {
                let shared = Arc::clone(shared);
                tokio::spawn(async move { record_caller_hang_up(&shared, &call).await });
            }
        }
        // A re-INVITE or UPDATE: the media stay where they are.
        DialogState::Updated(id, request, handle) => {
            let body = (request.method == Method::Invite).then(|| {
                shared
                    .calls
                    .by_dialog(&id)
                    .map(|call| call.answer.clone())
                    .unwrap_or_default()
            });
            tokio::spawn(async move {
                let headers = body
                    .as_ref()
                    .map(|_| vec![Header::ContentType("application/sdp".into())]);
                let _ = handle.respond(StatusCode::OK, headers, body).await;
            });
        }
        DialogState::Info(id, request, handle) => {
            let content_type = request.headers.iter().find_map(|header| match header {
                Header::ContentType(value) => Some(value.value().to_owned()),
                _ => None,
            });
            let keys = dtmf::keys(content_type.as_deref(), &request.body);
            if let (Some(keys), Some(call)) = (keys, shared.calls.by_dialog(&id)) {
                lock(&call.pending_keys).push_str(&keys);
                let shared = Arc::clone(shared);
                tokio::spawn(async move { press_pending_keys(&shared, &call).await });
            }
            tokio::spawn(async move {
                let _ = handle.reply(StatusCode::OK).await;
            });
        }
        DialogState::Options(_, _, handle)
        | DialogState::Message(_, _, handle)
        | DialogState::Notify(_, _, handle) => {
            tokio::spawn(async move {
                let _ = handle.reply(StatusCode::OK).await;
            });
        }
        DialogState::Refer(_, _, handle) | DialogState::Publish(_, _, handle) => {
            tokio::spawn(async move {
                let _ = handle.reply(StatusCode::NotImplemented).await;
            });
        }
        _ => {}
    }
}

/// Records that the caller hung up (a waiting call is abandoned, an answered one ends).
async fn record_caller_hang_up(shared: &Shared, call: &ActiveCall) {
    let meta = CommandMeta::system(
        call.tenant.clone(),
        "sip",
        format!("sip-hangup-{}", call.call_id),
    );
    let command = CallCommand::CallerHungUp {
        at: Timestamp::now(),
    };
    if let Err(error) = shared
        .telephony
        .handle_call(&meta, &call.call_id, &command)
        .await
    {
        tracing::warn!(call_id = %call.call_id, %error, "could not record the caller's hang-up");
    }
}

/// The platform's side of a call changed: answer, hang up or refuse the caller's dialog.
fn on_call_event(shared: &Arc<Shared>, event: &RecordedEvent) {
    let stream = event.stream();
    let Some(call) = shared.calls.get(&stream.tenant, &stream.aggregate_id) else {
        return;
    };
    let decoded = match CallEvent::decode(event) {
        Ok(decoded) => decoded,
        Err(error) => {
            tracing::warn!(%error, "undecodable call event");
            return;
        }
    };
    match decoded {
        CallEvent::Answered { .. } => accept(&call),
        CallEvent::Abandoned { .. } if is_answered(&call) => {
            tokio::spawn(async move {
                if let Err(error) = call.dialog.bye().await {
                    tracing::debug!(call_id = %call.call_id, %error, "could not send BYE");
                }
            });
        }
        CallEvent::Ended { .. } => {
            tokio::spawn(async move {
                if let Err(error) = call.dialog.bye().await {
                    tracing::debug!(call_id = %call.call_id, %error, "could not send BYE");
                }
            });
        }
        CallEvent::Abandoned { .. } => reject(&call.dialog, StatusCode::TemporarilyUnavailable),
        _ => {}
    }
}

/// Shutdown: hangs up one held call and records it (the caller did not leave: the platform did).
async fn hang_up_for_shutdown(shared: &Shared, call: &ActiveCall) {
    let answered = is_answered(call);
    let meta = CommandMeta::system(
        call.tenant.clone(),
        "sip",
        format!("sip-shutdown-{}", call.call_id),
    );
    let command = if answered {
        let _ = call.dialog.bye().await;
        CallCommand::End {
            ended_by: Party::System,
            at: Timestamp::now(),
        }
    } else {
        reject(&call.dialog, StatusCode::ServiceUnavailable);
        CallCommand::CallerHungUp {
            at: Timestamp::now(),
        }
    };
    if let Err(error) = shared
        .telephony
        .handle_call(&meta, &call.call_id, &command)
        .await
    {
        tracing::debug!(call_id = %call.call_id, %error, "could not record the hang-up at shutdown");
    }
}
