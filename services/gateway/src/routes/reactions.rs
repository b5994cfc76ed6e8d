//! v1.1 reactions over REST: `PUT` / `DELETE
//! /api/v1/conversations/{id}/messages/{message_id}/reactions/{emoji}` -> 204. The
//! WebSocket's `react` frame does the same with a `client_msg_id` and an ack.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chat_core::ids::{ClientMsgId, ConversationId, MessageId};

use super::json::parse_id;
use crate::actions::reactions::{self, React, ReactionOp};
use crate::auth::AuthUser;
use crate::domain::parse_emoji;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn add(
    state: State<AppState>,
    user: AuthUser,
    path: Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    react(state, user, path, ReactionOp::Add).await
}

pub async fn remove(
    state: State<AppState>,
    user: AuthUser,
    path: Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    react(state, user, path, ReactionOp::Remove).await
}

async fn react(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, message, emoji)): Path<(String, String, String)>,
    op: ReactionOp,
) -> Result<StatusCode, ApiError> {
    let cmd = React {
        conversation_id: parse_id::<ConversationId>(&id, "conversation id")?,
        message_id: parse_id::<MessageId>(&message, "message id")?,
        // The path is percent-decoded by the router, so this is the emoji itself.
        emoji: parse_emoji(&emoji)?,
        op,
        // PUT and DELETE are idempotent by themselves; each request is its own action.
        client_msg_id: rest_action_id()?,
    };
    reactions::react(&state, user, cmd).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A fresh `client_msg_id` for a REST request that has none.
pub(super) fn rest_action_id() -> Result<ClientMsgId, ApiError> {
    ClientMsgId::parse(format!("rest-{}", uuid::Uuid::new_v4().simple()))
        .map_err(|_| ApiError::internal())
}
