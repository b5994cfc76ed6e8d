//! v1.1 conversation management over REST: `PATCH /api/v1/conversations/{id}`
//! (`{"name"}`, groups) and pins: `PUT` / `DELETE /api/v1/conversations/{id}/pins/{message_id}`
//! and `GET /api/v1/conversations/{id}/pins` (newest first); v1.3
//! `PUT /api/v1/conversations/{id}/retention` (`{"days"}`, group admins).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chat_core::ids::{ConversationId, MessageId};
use serde::Deserialize;
use serde_json::{json, Value};

use super::json::parse_id;
use super::reactions::rest_action_id;
use super::ApiJson;
use crate::actions::management;
use crate::auth::AuthUser;
use crate::domain::ConversationName;
use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle::ClientAddress;

#[derive(Deserialize)]
pub struct ConversationChange {
    name: String,
}

pub async fn rename(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ConversationChange>,
) -> Result<StatusCode, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    let name = ConversationName::parse(&req.name)?;
    management::rename(&state, user, c, name, rest_action_id()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// v1.3: `PUT /api/v1/conversations/{id}/retention` `{"days": N | null}`. `days` is
/// required, null included: a body without it is a mistake, not a clearing.
pub async fn set_retention(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    let Some(days) = req.get("days") else {
        return Err(ApiError::bad_request(
            "the body is {\"days\": N} or {\"days\": null}",
        ));
    };
    let days: Option<u32> = serde_json::from_value(days.clone())
        .map_err(|e| ApiError::bad_request(format!("days: {e}")))?;
    management::set_retention(&state, user, c, days, rest_action_id()?, from).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn pin(
    state: State<AppState>,
    user: AuthUser,
    path: Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_pinned(state, user, path, true).await
}

pub async fn unpin(
    state: State<AppState>,
    user: AuthUser,
    path: Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_pinned(state, user, path, false).await
}

async fn set_pinned(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, message)): Path<(String, String)>,
    pin: bool,
) -> Result<StatusCode, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    let m: MessageId = parse_id(&message, "message id")?;
    management::set_pinned(&state, user, c, m, pin, rest_action_id()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_pins(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<ApiJson<Value>, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    state
        .membership
        .membership(c, user)
        .await?
        .ok_or_else(ApiError::not_member)?;
    let pins = state.history.pins(c.0).await?;
    Ok(ApiJson(json!({ "pins": pins })))
}
