//! Reading history: `GET /api/v1/conversations` and
//! `GET /api/v1/conversations/{id}/messages?before=&after=&limit=`, served from the CQL
//! projection (so they trail the log by the projection lag).

use axum::extract::{Path, Query, State};
use chat_core::ids::ConversationId;
use serde::Deserialize;
use serde_json::{json, Value};

use super::json::parse_id;
use super::ApiJson;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use chat_store::MAX_PAGE;

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

/// A page request whose bounds were checked: what the history store is asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct PageBounds {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: usize,
}

impl PageQuery {
    pub fn bounds(&self) -> Result<PageBounds, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::new(
                ErrorCode::InvalidLimit,
                format!("limit must be 1 to {MAX_PAGE}"),
            ));
        }
        // Seqs are never negative: nothing is before 0, and -1 is "from the start".
        if self.before.is_some_and(|b| b < 0) || self.after.is_some_and(|a| a < -1) {
            return Err(ApiError::bad_request(
                "before must not be negative, and after not below -1",
            ));
        }
        if self.before.is_some() && self.after.is_some() {
            return Err(ApiError::bad_request("give before or after, not both"));
        }
        Ok(PageBounds {
            before: self.before,
            after: self.after,
            limit,
        })
    }
}

pub async fn page(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<Value>, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let bounds = q.bounds()?;
    state
        .membership
        .membership(c, user)
        .await?
        .ok_or_else(ApiError::not_member)?;
    let (page, members) = tokio::try_join!(
        state
            .history
            .page(c.0, bounds.before, bounds.after, bounds.limit),
        state.history.members(c.0),
    )?;
    // An addition to PROTOCOL.md: each member's read and delivered pointers, so a
    // client that opens a conversation can show read and delivered ticks for what was
    // read before it connected (live `read`/`delivered` events only tell what follows).
    let receipts: Vec<Value> = members
        .iter()
        .map(|m| {
            json!({
                "user_id": m.user_id.to_string(),
                "read_seq": m.read_seq,
                "delivered_seq": m.delivered_seq,
            })
        })
        .collect();
    let mut body = serde_json::to_value(page).map_err(|_| ApiError::internal())?;
    if let Some(fields) = body.as_object_mut() {
        fields.insert("receipts".into(), Value::Array(receipts));
    }
    Ok(ApiJson(body))
}
