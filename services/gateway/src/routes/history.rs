//! Reading history: `GET /api/v1/conversations` and
//! `GET /api/v1/conversations/{id}/messages?before=&after=&limit=`, served from the CQL
//! projection (so they trail the log by the projection lag).

use axum::extract::{Path, Query, State};
use chat_core::ids::ConversationId;
use chat_history::Page;
use serde::Deserialize;
use serde_json::{json, Value};

use super::json::parse_id;
use super::ApiJson;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

pub const MAX_PAGE: usize = 200;
const DEFAULT_PAGE: usize = 50;

pub async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<ApiJson<Value>, ApiError> {
    let conversations = state.history.conversations_of(user.0).await?;
    Ok(ApiJson(json!({ "conversations": conversations })))
}

#[derive(Deserialize)]
pub struct PageQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<usize>,
}

pub async fn page(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<Page>, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("bad_request", e.body_text()))?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    if q.before.is_some() && q.after.is_some() {
        return Err(ApiError::bad_request(
            "bad_request",
            "give before or after, not both",
        ));
    }
    state
        .conversations
        .membership(c, user)
        .await?
        .ok_or_else(ApiError::not_member)?;
    Ok(ApiJson(
        state.history.page(c.0, q.before, q.after, limit).await?,
    ))
}
