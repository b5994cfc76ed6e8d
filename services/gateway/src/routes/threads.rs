//! v1.1 threads: `GET /api/v1/conversations/{id}/threads/{root}/messages?after=&limit=`,
//! a thread's replies oldest first, with the same membership rule and limits as
//! history pages. Replying is `send` with `thread_root` (`routes::conversations`).

use axum::extract::{Path, Query, State};
use chat_core::ids::{ConversationId, MessageId};
use chat_store::history::threads::ThreadLookup;
use serde::Deserialize;
use serde_json::Value;

use super::history::checked_limit;
use super::json::parse_id;
use super::ApiJson;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ThreadQuery {
    after: Option<i64>,
    limit: Option<usize>,
}

pub async fn page(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, root)): Path<(String, String)>,
    query: Result<Query<ThreadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<Value>, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    let root: MessageId = parse_id(&root, "message id")?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = checked_limit(q.limit)?;
    let after = q.after.unwrap_or(-1);
    if after < -1 {
        return Err(ApiError::bad_request("after must not be below -1"));
    }
    state
        .membership
        .membership(c, user)
        .await?
        .ok_or_else(ApiError::not_member)?;
    match state.history.thread_page(c.0, root.0, after, limit).await? {
        ThreadLookup::Found(page) => Ok(ApiJson(
            serde_json::to_value(page).map_err(|_| ApiError::internal())?,
        )),
        ThreadLookup::NoRoot => Err(ApiError::not_found("message")),
        ThreadLookup::NotARoot => Err(ApiError::new(
            ErrorCode::InvalidThread,
            "that message is a reply in a thread, not a thread's root",
        )),
    }
}
