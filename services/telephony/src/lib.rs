//! Telephony: where calls enter the platform.
//!
//! - [`domain`]: the call and dialled-number aggregates (pure);
//! - [`events`]: their stored schema (`callcenter.telephony.v1`);
//! - [`app`]: command handlers;
//! - [`grpc`]: serves `callcenter.telephony.v1.TelephonyService`;
//! - [`intake`]: serves `callcenter.telephony.v1.PartnerCallIntakeService` (partner PBX events, the watch stream);
//! - [`reactors`]: rings agents that routing reserved;
//! - [`ring_timer`]: a call unanswered after three rings goes back to its queue;
//! - [`sip`]: SIP over UDP and TCP: INVITEs become calls, the calls' fate goes back as SIP;
//! - [`service`]: telephony's declaration as a service of the platform.

pub mod api;
pub mod app;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod intake;
pub mod max_wait;
pub mod reactors;
pub mod reasons;
pub mod ring_timer;
pub mod service;
pub mod sip;

pub use app::Telephony;
pub use grpc::TelephonyGrpc;
pub use intake::PartnerIntakeGrpc;
pub use reactors::Ringer;
pub use service::TelephonyService;
