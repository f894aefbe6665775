//! Configuration shared by every process, from flags and environment variables (12-factor):
//! each flag `--name` can also be set as `CALLCENTER_NAME`.

use callcenter_telemetry::{LogFormat, TelemetryConfig};

/// Logging and tracing options.
#[derive(clap::Args, Clone, Debug)]
pub struct TelemetryArgs {
    /// What to log, as a `tracing` filter (`info`, `callcenter=debug,info`, …). The SIP stack
    /// logs every message it receives at `info`, callers' numbers included: the default keeps it
    /// to warnings.
    #[arg(
        long = "log",
        env = "CALLCENTER_LOG",
        default_value = "info,rsipstack=warn"
    )]
    pub log_filter: String,
    /// `text` for people, `json` for log collectors.
    #[arg(long, env = "CALLCENTER_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// OTLP/gRPC endpoint for traces (such as `http://otel-collector:4317`); traces are not
    /// exported without it.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

impl TelemetryArgs {
    /// The telemetry set-up for a process named `service_name`.
    pub fn config(&self, service_name: &str) -> TelemetryConfig {
        TelemetryConfig {
            service_name: service_name.to_owned(),
            log_filter: self.log_filter.clone(),
            log_format: if self.log_format == "json" {
                LogFormat::Json
            } else {
                LogFormat::Text
            },
            otlp_endpoint: self.otlp_endpoint.clone().filter(|e| !e.is_empty()),
        }
    }
}
