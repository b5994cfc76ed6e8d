//! `/healthz` (the process answers; public and ops listeners), `/readyz` (its
//! dependencies answer) and `/metrics` (ops listener only).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn healthz() -> impl IntoResponse {
    ApiJson(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let kafka_state = state.clone();
    let kafka = tokio::task::spawn_blocking(move || kafka_state.appender.ping());
    let redis = async {
        let mut r = state.redis.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut r)
            .await
            .is_ok()
    };
    let cql = chat_store::ping(&state.cql);
    let timeout = Duration::from_secs(3);
    let (kafka, redis, cql) = tokio::join!(
        tokio::time::timeout(timeout, kafka),
        tokio::time::timeout(timeout, redis),
        tokio::time::timeout(timeout, cql),
    );
    let kafka = matches!(kafka, Ok(Ok(true)));
    let redis = matches!(redis, Ok(true));
    let cql = matches!(cql, Ok(Ok(())));
    let ready = kafka && redis && cql && !state.shutdown.is_cancelled();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "gateway_id": state.settings.gateway_id,
        "checks": { "kafka": kafka, "redis": redis, "cql": cql },
    });
    (status, ApiJson(body))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("route")
}
