//! Muting a conversation's notifications: `PUT` and `DELETE
//! /api/v1/conversations/{id}/mute`, and `GET` for the current state.
//!
//! Only push notifications are affected: a muted member still gets every live frame and
//! unread count, and is still notified when a message mentions them (`@username`).
//! Only members may mute; others get `not_member` as everywhere else.

use axum::extract::{Path, State};
use chat_core::audit::{Actor, AuditAction, Outcome, Subject};
use chat_core::ids::{ConversationId, UserId};
use serde_json::{json, Value};

use super::json::parse_id;
use super::ApiJson;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle::ClientAddress;

pub async fn mute(
    state: State<AppState>,
    from: ClientAddress,
    user: AuthUser,
    id: Path<String>,
) -> Result<ApiJson<Value>, ApiError> {
    set(state, from, user, id, true).await
}

pub async fn unmute(
    state: State<AppState>,
    from: ClientAddress,
    user: AuthUser,
    id: Path<String>,
) -> Result<ApiJson<Value>, ApiError> {
    set(state, from, user, id, false).await
}

pub async fn show(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<ApiJson<Value>, ApiError> {
    let c = member_conversation(&state, user, &id).await?;
    let muted = state.mutes.muted_by(user.0).await?.contains(&c.0);
    Ok(body(c, muted))
}

/// Mute or unmute, audited as `conversation_muted` / `conversation_unmuted` (every
/// request that succeeds, also one that changed nothing).
async fn set(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    muted: bool,
) -> Result<ApiJson<Value>, ApiError> {
    let c = member_conversation(&state, user, &id).await?;
    state.mutes.set_muted(c.0, user.0, muted).await?;
    let action = if muted {
        AuditAction::ConversationMuted
    } else {
        AuditAction::ConversationUnmuted
    };
    state.audit(
        state
            .audit_log
            .event(
                Actor::User(user),
                action,
                Subject::conversation(c),
                Outcome::Ok,
            )
            .with_source_ip(Some(from)),
    );
    Ok(body(c, muted))
}

async fn member_conversation(
    state: &AppState,
    user: UserId,
    id: &str,
) -> Result<ConversationId, ApiError> {
    let c: ConversationId = parse_id(id, "conversation id")?;
    match state.membership.membership(c, user).await? {
        Some(_) => Ok(c),
        None => Err(ApiError::not_member()),
    }
}

fn body(c: ConversationId, muted: bool) -> ApiJson<Value> {
    ApiJson(json!({ "conversation_id": c, "muted": muted }))
}
