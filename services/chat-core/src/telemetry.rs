//! Logs and metrics, set up once per process.
//!
//! Logs go to stdout through `tracing` (text for people, JSON for shippers); metrics are
//! recorded through the `metrics` facade into a Prometheus recorder whose text each
//! service serves on `/metrics`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, TelemetrySettings};

/// Install the global tracing subscriber. `RUST_LOG` overrides the configured filter.
pub fn init_tracing(settings: &TelemetrySettings) {
    init_tracing_to(settings, Output::Stdout)
}

/// Where log lines go: services log to stdout; a command-line tool whose stdout is its
/// data (`chatctl tail`, `chatctl export`) logs to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

pub fn init_tracing_to(settings: &TelemetrySettings, output: Output) {
    let writer = move || -> Box<dyn std::io::Write> {
        match output {
            Output::Stdout => Box::new(std::io::stdout()),
            Output::Stderr => Box::new(std::io::stderr()),
        }
    };
    let terminal = match output {
        Output::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
        Output::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match settings.log_format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_writer(writer),
            )
            .try_init(),
        // Colours only on a terminal: files and journald get plain text.
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(terminal)
                    .with_writer(writer),
            )
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber; nothing to report.
    let _ = result;
}

#[derive(Debug, thiserror::Error)]
#[error("could not install the metrics recorder: {0}")]
pub struct MetricsError(String);

/// Install the global Prometheus recorder and return the handle that renders it.
pub fn install_metrics(service: &str) -> Result<PrometheusHandle, MetricsError> {
    // Latency buckets from 0.5 ms to 10 s: histograms (not summaries), so they aggregate
    // across instances in Prometheus.
    let handle = PrometheusBuilder::new()
        .add_global_label("service", service)
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ])
        .map_err(|e| MetricsError(e.to_string()))?
        .install_recorder()
        .map_err(|e| MetricsError(e.to_string()))?;
    Ok(handle)
}
