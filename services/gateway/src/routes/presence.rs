//! `GET /api/v1/users/{id}/presence`: online or offline, and when last seen, as the
//! presence projection last recorded it.

use axum::extract::{Path, State};
use chat_core::ids::UserId;
use chat_core::time::UnixMillis;
use chat_store::presence;
use serde_json::{json, Value};

use super::json::parse_id;
use super::ApiJson;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn show(
    State(state): State<AppState>,
    AuthUser(_caller): AuthUser,
    Path(id): Path<String>,
) -> Result<ApiJson<Value>, ApiError> {
    let user: UserId = parse_id(&id, "user id")?;
    let mut redis = state.redis.clone();
    let status = presence::status(&mut redis, user, UnixMillis::now()).await?;
    Ok(ApiJson(json!({
        "user_id": user.to_string(),
        "status": if status.online { "online" } else { "offline" },
        "last_seen": status.last_seen.map(UnixMillis::to_rfc3339),
    })))
}
