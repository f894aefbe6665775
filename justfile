# Everyday tasks. `scripts/setup` installs what these need; `scripts/test` runs `just test`.

set shell := ["bash", "-euo", "pipefail", "-c"]
export PATH := justfile_directory() + "/.tools/venv/bin:" + env_var('PATH')

# List the recipes.
default:
    @just --list

# Run the whole platform in one process on the embedded backend (data in .callcenter-data).
run *ARGS:
    cargo run --release -p callcenter -- dev {{ARGS}}

# Everything CI checks: format, lints, every test against real NATS and PostgreSQL, the chart.
test: lint unit chart

# Format and lint checks (no changes made).
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Every Rust test (unit, conformance, integration, end-to-end) against private NATS and PostgreSQL.
unit *ARGS:
    cargo build --locked -p callcenter --bin callcenter
    CALLCENTER_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/callcenter" \
      scripts/with-services cargo nextest run --workspace --locked {{ARGS}}

# Only the end-to-end tests that drive the running binary.
e2e *ARGS:
    cargo build --locked -p callcenter --bin callcenter
    CALLCENTER_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/callcenter" \
      scripts/with-services cargo nextest run --locked -p callcenter-e2e {{ARGS}}

# Render the Helm chart with Helm's own library and validate it against Kubernetes schemas.
chart:
    python3 scripts/chart_check.py

# Run one benchmark (eventlog, telephony, routing, erlang, forecast, roster, history,
# capacity): a human
# table, then one JSON line.
bench NAME *ARGS:
    cargo build --locked --release -p callcenter-bench -p callcenter
    CALLCENTER_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/release/callcenter" \
      scripts/with-services target/release/callcenter-bench {{NAME}} {{ARGS}}

# Format the code.
fmt:
    cargo fmt --all
