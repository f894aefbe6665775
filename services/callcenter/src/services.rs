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

/// The catalogue of reasons as the README's table: reason, code, service, meaning.
#[cfg(test)]
fn reason_table(services: &[Box<dyn Service>]) -> String {
    let mut table = String::from("| reason | code | service | meaning |\n|---|---|---|---|\n");
    for (service, reason) in callcenter_platform::service::catalogue(services) {
        table.push_str(&format!(
            "| `{}` | {} | {service} | {} |\n",
            reason.name,
            reason.code.name(),
            reason.about
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_named_once_in_upper_snake_case() {
        let catalogue = callcenter_platform::service::catalogue(&all());
        let mut seen = std::collections::BTreeMap::new();
        for (service, reason) in &catalogue {
            assert!(
                callcenter_platform::reason::well_formed(reason.name),
                "{}",
                reason.name
            );
            assert!(
                !reason.about.is_empty(),
                "{} says what it means",
                reason.name
            );
            if let Some(other) = seen.insert(reason.name, service) {
                panic!("{} is declared by {other} and {service}", reason.name);
            }
        }
        assert!(seen.contains_key("CALL_CANNOT_ANSWER") && seen.contains_key("ROUTE_NOT_FOUND"));
    }

    #[test]
    fn the_readme_lists_the_reasons_of_the_catalogues() {
        callcenter_testkit::generated_readme_section(
            "<!-- reasons: generated from the catalogues; UPDATE_README=1 cargo test -p callcenter reasons -->\n",
            "<!-- end of reasons -->",
            &reason_table(&all()),
            "UPDATE_README=1 cargo test -p callcenter reasons",
        );
    }
}
