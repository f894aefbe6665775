//! Protobuf messages and gRPC stubs of the call-center platform, generated from `proto/callcenter`.
//!
//! Messages are always built; gRPC clients and servers only with the `grpc` feature.

/// Packages under `callcenter.*`, one module per protobuf package (generated from the protos).
#[allow(unused_qualifications)]
pub mod callcenter {
    include!(concat!(env!("OUT_DIR"), "/packages.rs"));
}

pub use callcenter::*;

/// The encoded `FileDescriptorSet` of every platform proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/callcenter_descriptor.bin"));

/// Fully qualified protobuf name of a message type, the event type stored in the event log.
pub fn type_name<M: prost::Name>() -> String {
    M::full_name()
}
