//! `/healthz`, `/readyz` and `/metrics` of a projector process.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use rdkafka::consumer::{Consumer, StreamConsumer};

#[derive(Clone)]
struct Ops {
    metrics: PrometheusHandle,
    consumer: Arc<StreamConsumer>,
}

pub fn router(metrics: PrometheusHandle, consumer: Arc<StreamConsumer>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|State(ops): State<Ops>| async move { ops.metrics.render() }),
        )
        .with_state(Ops { metrics, consumer })
}

async fn readyz(State(ops): State<Ops>) -> (StatusCode, &'static str) {
    let c = ops.consumer.clone();
    let reachable =
        tokio::task::spawn_blocking(move || c.fetch_metadata(None, Duration::from_secs(2)).is_ok())
            .await
            .unwrap_or(false);
    if reachable {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "kafka unreachable")
    }
}
