//! The README's route table is the OpenAPI document's: generated from it, checked here.
//! `UPDATE_README=1 cargo test -p callcenter-gateway --test readme` writes it anew.

use callcenter_gateway::openapi::{document, route_table};
use callcenter_gateway::transcode::platform_routes;

#[test]
fn the_readme_lists_the_routes_of_the_openapi_document() {
    callcenter_testkit::generated_readme_section(
        "<!-- routes: generated from GET /v1/openapi.json; UPDATE_README=1 cargo test -p callcenter-gateway --test readme -->\n",
        "<!-- end of routes -->",
        &route_table(&document(&platform_routes(), &[])),
        "UPDATE_README=1 cargo test -p callcenter-gateway --test readme",
    );
}
