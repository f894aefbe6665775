//! Generates Rust from every `.proto` file under `callcenter/` with the pure-Rust `protox` compiler,
//! so that no system `protoc` is needed.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut proto_files = Vec::new();
    collect_proto_files(&manifest_dir.join("callcenter"), &mut proto_files)?;
    proto_files.sort();
    for file in &proto_files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    println!("cargo:rerun-if-changed=callcenter");

    println!("cargo:rerun-if-changed=google");

    let mut compiler = protox::Compiler::new([&manifest_dir])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(&proto_files)?;
    // The encoded set keeps extension options (the `google.api.http` routes the gateway
    // transcodes) and the comments (the OpenAPI document's descriptions).
    std::fs::write(
        out_dir.join("callcenter_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let descriptor_set = compiler.file_descriptor_set();
    write_module_tree(&descriptor_set, &out_dir)?;

    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    let mut config = tonic_prost_build::Config::new();
    // `prost::Name` impls give each message its full name, the event type stored in the log.
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_server(grpc)
        .build_client(grpc)
        .bytes(".")
        .type_attribute(".", "#[allow(clippy::all, missing_debug_implementations)]")
        .compile_fds_with_config(descriptor_set, config)?;
    Ok(())
}

/// Writes `packages.rs`: one module per `callcenter.<context>.v<N>` package, nested as the
/// package's name, each including its generated code; a new context's protos need no edit here.
fn write_module_tree(
    descriptor_set: &prost_types::FileDescriptorSet,
    out_dir: &Path,
) -> std::io::Result<()> {
    let mut packages: Vec<&str> = descriptor_set
        .file
        .iter()
        .filter_map(|file| file.package.as_deref())
        .filter(|package| package.starts_with("callcenter."))
        .collect();
    packages.sort_unstable();
    packages.dedup();
    let mut contexts: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for package in &packages {
        let mut parts = package.split('.').skip(1);
        if let (Some(context), Some(version), None) = (parts.next(), parts.next(), parts.next()) {
            contexts.entry(context).or_default().push(version);
        }
    }
    let mut code = String::new();
    for (context, versions) in &contexts {
        code.push_str(&format!(
            "/// The `callcenter.{context}` packages.\npub mod {context} {{\n"
        ));
        for version in versions {
            code.push_str(&format!(
                "    /// `callcenter.{context}.{version}`.\n    pub mod {version} {{\n        \
                 include!(concat!(env!(\"OUT_DIR\"), \"/callcenter.{context}.{version}.rs\"));\n    }}\n"
            ));
        }
        code.push_str("}\n");
    }
    std::fs::write(out_dir.join("packages.rs"), code)
}

fn collect_proto_files(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_proto_files(&path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            found.push(path);
        }
    }
    Ok(())
}
