//! Protobuf messages and gRPC stubs of the call-center platform, generated from `proto/callcenter`.
//!
//! Messages are always built; gRPC clients and servers only with the `grpc` feature.

/// Packages under `callcenter.*`, one module per protobuf package (generated from the protos).
#[allow(unused_qualifications)]
pub mod callcenter {
    include!(concat!(env!("OUT_DIR"), "/packages.rs"));
}

pub use callcenter::*;

/// An aggregate's list of stored events, generated from its `*Events` message: each event is
/// stored as its own message under its own full name, and decoded into the list's enum by that
/// name (the list is declared once, in the proto).
pub trait EventList: Sized {
    /// The stored type names of the list's events.
    const EVENT_TYPES: &'static [&'static str];

    /// The event of `event_type` decoded from `payload`; `None` for a type not in the list.
    fn decode(event_type: &str, payload: &[u8]) -> Option<Result<Self, prost::DecodeError>>;

    /// The stored type name of this event.
    fn event_type(&self) -> &'static str;

    /// This event's payload.
    fn encode_payload(&self) -> Vec<u8>;
}

/// The generated [`EventList`] implementations.
#[allow(unused_qualifications)]
mod event_lists {
    include!(concat!(env!("OUT_DIR"), "/event_lists.rs"));
}

/// The encoded `FileDescriptorSet` of every platform proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/callcenter_descriptor.bin"));

/// Fully qualified protobuf name of a message type, the event type stored in the event log.
pub fn type_name<M: prost::Name>() -> String {
    M::full_name()
}
