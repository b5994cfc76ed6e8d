//! `POST /admin/v1/users/{user_id}/erase` (ops listener, `Authorization: Bearer
//! <gateway.admin_token>`): erase a user, as `chatctl users erase` does. 200 with what
//! was done; 401 without the token; 404 when the admin API is off or no such user; 403
//! under a legal hold; 503 when a store, the log or the audit trail did not answer (the
//! steps are idempotent: retry).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chat_core::events::{Actor, AuditAction, ConversationEvent, Outcome, Payload, Subject};
use chat_core::ids::{ConversationId, UserId};
use chat_core::time::UnixMillis;
use chat_store::erasure::{Erasure, ErasureError};
use serde_json::{json, Value};
use uuid::Uuid;

use super::ApiJson;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

pub async fn erase_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<ApiJson<Value>, ApiError> {
    let Some(admin) = state.admin.as_ref() else {
        return Err(ApiError::not_found("route"));
    };
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !admin.allows(authorization) {
        return Err(ApiError::unauthenticated());
    }
    let user = Uuid::parse_str(&user_id)
        .map(UserId)
        .map_err(|_| ApiError::new(ErrorCode::InvalidId, "user_id is not a UUID"))?;
    if admin.accounts.account(user).await?.is_none() {
        return Err(ApiError::not_found("user"));
    }
    let erasure = Erasure {
        accounts: &admin.accounts,
        sign_ins: &admin.sign_ins,
        holds: &admin.holds,
        history: &admin.history,
        keyring: &admin.keyring,
    };
    let keys_destroyed = match erasure.erase(user).await {
        Ok(n) => n,
        Err(e @ (ErasureError::UserHeld(_) | ErasureError::ConversationHeld(..))) => {
            return Err(ApiError::new(ErrorCode::Forbidden, e.to_string()))
        }
        Err(ErasureError::Store(e)) => return Err(e.into()),
    };
    let event = ConversationEvent {
        event_id: Uuid::new_v4(),
        conversation_id: ConversationId(Uuid::nil()),
        actor_id: UserId(Uuid::nil()),
        occurred_at: UnixMillis::now(),
        gateway_id: state.settings.gateway_id.clone(),
        payload: Payload::ContentErased { user_id: user },
        sealed: None,
    };
    let partitions = state
        .appender
        .append_everywhere(&event)
        .await
        .map_err(ApiError::unavailable)?;
    let record = state
        .audit_log
        .event(
            Actor::Operator("admin-api".into()),
            AuditAction::UserErased,
            Subject::user(user),
            Outcome::Ok,
        )
        .detail("keys_destroyed", keys_destroyed);
    state.audit_log.record(record).await.map_err(|e| {
        tracing::error!(error = %e, %user_id, "an erasure was done but not audited");
        ApiError::unavailable("erased, but the audit record could not be written: retry")
    })?;
    Ok(ApiJson(json!({
        "user_id": user.0,
        "keys_destroyed": keys_destroyed,
        "partitions": partitions,
    })))
}
