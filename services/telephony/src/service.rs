//! Telephony as a service of the platform: its gRPC APIs, its settings (the ring timeout and the
//! SIP gateway), and what it runs (the ring timer, the ringer, the SIP gateway).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use callcenter_platform::service::{settings_args, settings_from};
use callcenter_platform::{Context, Service, StartError};
use callcenter_proto::telephony::v1::partner_call_intake_service_server::PartnerCallIntakeServiceServer;
use callcenter_proto::telephony::v1::telephony_service_server::TelephonyServiceServer;
use clap::Args;
use tonic::server::NamedService;

use crate::intake::PartnerIntakeGrpc;
use crate::ring_timer::RingTimer;
use crate::sip::{SipConfig, SipGateway};
use crate::{Ringer, Telephony, TelephonyGrpc};

/// Telephony's settings.
#[derive(Args, Clone, Debug)]
pub struct TelephonySettings {
    /// Seconds a call may ring an agent before it counts as missed and waits in its queue again
    /// (agents answer within three rings).
    #[arg(long, env = "CALLCENTER_RING_TIMEOUT_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub ring_timeout_seconds: u64,
    /// Accept SIP calls on this UDP and TCP address (such as `0.0.0.0:5060`); off without it.
    #[arg(long, env = "CALLCENTER_SIP")]
    pub sip: Option<SocketAddr>,
    /// The media server that receives callers' RTP, put in the SDP answer (default: the SIP
    /// address's host, port 10000). This process handles no media.
    #[arg(long, env = "CALLCENTER_SIP_MEDIA")]
    pub sip_media: Option<SocketAddr>,
}

impl TelephonySettings {
    /// The SIP gateway's set-up, if it runs.
    pub fn sip_config(&self) -> Result<Option<SipConfig>, String> {
        let Some(listen) = self.sip else {
            return Ok(None);
        };
        let media = match self.sip_media {
            Some(media) => media,
            None if listen.ip().is_unspecified() => {
                return Err(
                    "--sip on every interface needs --sip-media: the address callers send media to"
                        .into(),
                );
            }
            None => SocketAddr::new(listen.ip(), 10_000),
        };
        Ok(Some(SipConfig { listen, media }))
    }
}

/// Calls in: the call lifecycle, voice menus, partner intake and the SIP gateway.
#[derive(Debug, Default)]
pub struct TelephonyService {
    settings: Option<TelephonySettings>,
}

#[async_trait::async_trait]
impl Service for TelephonyService {
    fn name(&self) -> &'static str {
        "telephony"
    }

    fn about(&self) -> &'static str {
        "calls in: the call lifecycle, voice menus, partner PBX events and SIP"
    }

    fn reasons(&self) -> &'static [callcenter_platform::Reason] {
        crate::reasons::REASONS
    }

    fn grpc_services(&self) -> &'static [&'static str] {
        &[
            <TelephonyServiceServer<TelephonyGrpc> as NamedService>::NAME,
            <PartnerCallIntakeServiceServer<PartnerIntakeGrpc> as NamedService>::NAME,
        ]
    }

    fn args(&self) -> Vec<clap::Arg> {
        settings_args::<TelephonySettings>()
    }

    fn configure(&mut self, matches: &clap::ArgMatches) -> Result<(), String> {
        let settings: TelephonySettings = settings_from(matches)?;
        settings.sip_config()?;
        self.settings = Some(settings);
        Ok(())
    }

    async fn start(&self, context: &mut Context) -> Result<(), StartError> {
        let settings = self.settings.clone().ok_or_else(|| StartError {
            service: self.name(),
            reason: "not configured".into(),
        })?;
        let store = Arc::clone(&context.store);
        let app = Telephony::new(Arc::clone(&store));
        context.serve_grpc(TelephonyGrpc::server(app.clone()));
        context.serve_grpc(PartnerIntakeGrpc::server(
            app.clone(),
            Arc::clone(&store),
            context.shutdown.clone(),
        ));
        let sip = settings.sip_config().map_err(|reason| StartError {
            service: self.name(),
            reason,
        })?;
        if let Some(sip) = sip {
            let gateway = SipGateway::bind(sip, app.clone(), store)
                .await
                .map_err(|error| StartError {
                    service: self.name(),
                    reason: error.to_string(),
                })?;
            context.announce("sip", gateway.local_addr().to_string());
            let (stop, watching) = (context.shutdown.clone(), context.watch_consumer("sip"));
            context.spawn("SIP gateway", async move {
                gateway
                    .run(stop, watching)
                    .await
                    .map_err(|error| format!("SIP gateway failed: {error}"))
            });
        }
        let timeout = Duration::from_secs(settings.ring_timeout_seconds);
        context.consume(RingTimer::new(app.clone(), timeout));
        context.react(Arc::new(Ringer::new(app)));
        Ok(())
    }
}
