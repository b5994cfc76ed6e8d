//! `POST /search` on the search role's own port: a [`SearchRequest`] in, the newest
//! matching [`chat_core::search::SearchHits`] of this process's shards out. Only the
//! gateways call it; they check who may search what before asking.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chat_core::search::SearchRequest;

use super::Shards;

/// The most hits one request may ask for (a page of 50, and one to tell if more follow).
pub const MAX_LIMIT: usize = 51;
/// The most conversations one request may name (for a member of more, the gateway
/// names the first 10,000 of its list, which is ordered by conversation id).
pub const MAX_CONVERSATIONS: usize = 10_000;

pub fn router(shards: Arc<Shards>) -> Router {
    Router::new()
        .route("/search", post(search))
        .with_state(shards)
}

async fn search(
    State(shards): State<Arc<Shards>>,
    request: Result<Json<SearchRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let request = match request {
        Ok(Json(r)) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.body_text()).into_response(),
    };
    if !(1..=MAX_LIMIT).contains(&request.limit)
        || request.conversation_ids.len() > MAX_CONVERSATIONS
        || request.q.chars().count() > 256
    {
        return (
            StatusCode::BAD_REQUEST,
            "limit 1..51, at most 10,000 conversations, q at most 256 characters",
        )
            .into_response();
    }
    let started = std::time::Instant::now();
    let found = tokio::task::spawn_blocking(move || shards.search(&request)).await;
    metrics::histogram!("search_query_seconds").record(started.elapsed().as_secs_f64());
    match found {
        Ok(Ok(hits)) => Json(hits).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "search failed");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
