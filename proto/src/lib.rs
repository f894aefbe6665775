//! Protobuf messages and gRPC stubs of the call-center platform, generated from `proto/callcenter`.
//!
//! Messages are always built; gRPC clients and servers only with the `grpc` feature.

/// Packages under `callcenter.*`, one module per protobuf package.
#[allow(unused_qualifications)]
pub mod callcenter {
    /// The event log's storage format.
    pub mod eventlog {
        /// Version 1.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/callcenter.eventlog.v1.rs"));
        }
    }
    /// Calls entering the platform.
    pub mod telephony {
        /// Version 1.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/callcenter.telephony.v1.rs"));
        }
    }
    /// Queues, agents and the automatic call distributor.
    pub mod routing {
        /// Version 1.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/callcenter.routing.v1.rs"));
        }
    }
    /// Workforce management: shifts, teams, rosters, leave, swaps and attendance.
    pub mod workforce {
        /// Version 1.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/callcenter.workforce.v1.rs"));
        }
    }
    /// Read models.
    pub mod reporting {
        /// Version 1.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/callcenter.reporting.v1.rs"));
        }
    }
}

pub use callcenter::{eventlog, reporting, routing, telephony, workforce};

/// The encoded `FileDescriptorSet` of every platform proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/callcenter_descriptor.bin"));

/// Fully qualified protobuf name of a message type, the event type stored in the event log.
pub fn type_name<M: prost::Name>() -> String {
    M::full_name()
}
