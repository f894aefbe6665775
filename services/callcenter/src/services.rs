//! The services of the platform: the one list that the binary, `callcenter migrate`, the
//! gateway's upstreams and readiness iterate over.

use callcenter_platform::Service;

/// Every service, in the order they start.
pub fn all() -> Vec<Box<dyn Service>> {
    vec![
        Box::new(callcenter_telephony::TelephonyService::default()),
        Box::new(callcenter_routing::RoutingService::default()),
        Box::new(callcenter_reporting::ReportingService),
        Box::new(callcenter_workforce::WorkforceService),
        Box::new(callcenter_gateway::GatewayService),
    ]
}

/// The services as JSON: name, gRPC services, the services each calls, and whether it keeps
/// read models.
pub fn describe(services: &[Box<dyn Service>]) -> serde_json::Value {
    let serving: Vec<&str> = services
        .iter()
        .filter(|service| !service.grpc_services().is_empty())
        .map(|service| service.name())
        .collect();
    services
        .iter()
        .map(|service| {
            let upstreams = if service.calls_every_service() {
                serving.clone()
            } else {
                service.upstreams().to_vec()
            };
            serde_json::json!({
                "name": service.name(),
                "about": service.about(),
                "grpc_services": service.grpc_services(),
                "upstreams": upstreams,
                "database": !service.migrations().is_empty(),
            })
        })
        .collect()
}
