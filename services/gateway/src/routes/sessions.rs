//! `GET /api/v1/sessions`: the caller's live WebSocket sessions on any gateway.

use axum::extract::State;
use serde_json::{json, Value};

use super::ApiJson;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;
use chat_store::sessions;

pub async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<ApiJson<Value>, ApiError> {
    let mut redis = state.redis.clone();
    let live = sessions::list(&mut redis, user).await?;
    Ok(ApiJson(json!({ "sessions": live })))
}
