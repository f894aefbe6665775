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
    write_event_lists(&descriptor_set, &out_dir)?;

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

/// `UpperCamelCase` of a `snake_case` name, as prost names oneof variants.
fn upper_camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect()
}

/// The Rust path of a message of the descriptor set (`.callcenter.routing.v1.AgentReady`).
fn rust_path(type_name: &str) -> String {
    let parts: Vec<&str> = type_name.trim_start_matches('.').split('.').collect();
    let (name, package) = parts.split_last().expect("a qualified name");
    format!("crate::{}::{name}", package.join("::"))
}

/// Writes `event_lists.rs`: for each `*Events` message with one oneof `event` (an aggregate's
/// list of stored events), an `EventList` implementation on its oneof enum: decoding by stored
/// type name and encoding, so that the list is declared once, in the proto.
fn write_event_lists(
    descriptor_set: &prost_types::FileDescriptorSet,
    out_dir: &Path,
) -> std::io::Result<()> {
    let mut code = String::new();
    for file in &descriptor_set.file {
        let Some(package) = file
            .package
            .as_deref()
            .filter(|p| p.starts_with("callcenter."))
        else {
            continue;
        };
        for message in &file.message_type {
            let name = message.name();
            let single_event_oneof =
                message.oneof_decl.len() == 1 && message.oneof_decl[0].name() == "event";
            if !name.ends_with("Events") || !single_event_oneof {
                continue;
            }
            let module = {
                let mut snake = String::new();
                for (index, ch) in name.chars().enumerate() {
                    if ch.is_ascii_uppercase() && index > 0 {
                        snake.push('_');
                    }
                    snake.push(ch.to_ascii_lowercase());
                }
                snake
            };
            let enum_path = format!("crate::{}::{module}::Event", package.replace('.', "::"));
            let variants: Vec<(String, String, String)> = message
                .field
                .iter()
                .map(|field| {
                    let type_name = field.type_name().trim_start_matches('.').to_owned();
                    (
                        upper_camel(field.name()),
                        rust_path(field.type_name()),
                        type_name,
                    )
                })
                .collect();
            let names: Vec<String> = variants
                .iter()
                .map(|(_, _, full)| format!("{full:?}"))
                .collect();
            code.push_str(&format!(
                "impl crate::EventList for {enum_path} {{\n    const EVENT_TYPES: &'static [&'static str] = &[{}];\n\n",
                names.join(", ")
            ));
            code.push_str("    fn decode(event_type: &str, payload: &[u8]) -> Option<Result<Self, prost::DecodeError>> {\n        match event_type {\n");
            for (variant, path, full) in &variants {
                code.push_str(&format!(
                    "            {full:?} => Some(<{path} as prost::Message>::decode(payload).map(Self::{variant})),\n"
                ));
            }
            code.push_str("            _ => None,\n        }\n    }\n\n    fn event_type(&self) -> &'static str {\n        match self {\n");
            for (variant, _, full) in &variants {
                code.push_str(&format!("            Self::{variant}(_) => {full:?},\n"));
            }
            code.push_str("        }\n    }\n\n    fn encode_payload(&self) -> Vec<u8> {\n        match self {\n");
            for (variant, _, _) in &variants {
                code.push_str(&format!(
                    "            Self::{variant}(message) => prost::Message::encode_to_vec(message),\n"
                ));
            }
            code.push_str("        }\n    }\n}\n\n");
        }
    }
    std::fs::write(out_dir.join("event_lists.rs"), code)
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
