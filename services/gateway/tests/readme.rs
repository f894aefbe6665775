//! The README's route table is the OpenAPI document's: generated from it, checked here.
//! `UPDATE_README=1 cargo test -p callcenter-gateway --test readme` writes it anew.

use callcenter_gateway::openapi::{document, route_table};
use callcenter_gateway::transcode::platform_routes;

const BEGIN: &str = "<!-- routes: generated from GET /v1/openapi.json; UPDATE_README=1 cargo test -p callcenter-gateway --test readme -->\n";
const END: &str = "<!-- end of routes -->";

#[test]
fn the_readme_lists_the_routes_of_the_openapi_document() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("the README");
    let start = readme
        .find(BEGIN)
        .expect("the README marks its route table")
        + BEGIN.len();
    let end = start + readme[start..].find(END).expect("the table's end mark");
    let expected = route_table(&document(&platform_routes(), &[]));
    if readme[start..end] == expected {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).expect("write the README");
        return;
    }
    panic!(
        "the README's route table differs from the OpenAPI document; run \
         `UPDATE_README=1 cargo test -p callcenter-gateway --test readme`:\n{expected}"
    );
}
