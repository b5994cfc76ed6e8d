//! `POST /api/v1/users` (sign-up), `GET /api/v1/users?username=` (lookup). Signing in
//! is `routes::auth`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use chat_core::audit::{Actor, AuditAction, Outcome, Subject};
use chat_core::ids::UserId;
use serde::Deserialize;
use serde_json::{json, Value};

use super::json::parse_id;
use super::ApiJson;
use crate::auth::AuthUser;
use crate::domain::{DisplayName, Password, Username};
use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle::ClientAddress;

#[derive(Deserialize)]
pub struct Registration {
    username: String,
    password: String,
    #[serde(default)]
    display_name: Option<String>,
}

pub async fn register(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    ApiJson(r): ApiJson<Registration>,
) -> Result<(StatusCode, ApiJson<Value>), ApiError> {
    // Before hashing: a flood of sign-ups is refused, not queued on the hashing threads.
    state.throttles.sign_up(from)?;
    let username = Username::parse(&r.username)?;
    let password = Password::parse(r.password)?;
    let display_name = DisplayName::parse(r.display_name.as_deref().unwrap_or(username.as_str()))?;
    let hash = state.passwords.hash(password.expose().to_string()).await?;
    let user_id = state
        .accounts
        .create(&username, &display_name, &hash)
        .await?;
    tracing::info!(%user_id, username = username.as_str(), "account created");
    state.audit(
        state
            .audit_log
            .event(
                Actor::User(user_id),
                AuditAction::UserCreated,
                Subject::user(user_id),
                Outcome::Ok,
            )
            .with_source_ip(Some(from))
            .detail("username", username.as_str())
            .detail("method", "password"),
    );
    Ok((StatusCode::CREATED, ApiJson(json!({ "user_id": user_id }))))
}

#[derive(Deserialize)]
pub struct LookupQuery {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
}

/// Find a user by username (to start a conversation with them), or by id (to show who
/// a member or a sender is: the browser client's addition, `?user_id=`). Both answer
/// `{"users":[{"user_id","username","display_name"}]}`, empty when there is none.
pub async fn lookup(
    State(state): State<AppState>,
    AuthUser(_caller): AuthUser,
    query: Result<Query<LookupQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let user_id = match (q.username, q.user_id) {
        (Some(name), None) => match Username::parse(&name) {
            Ok(u) => state.accounts.user_id_of(&u).await?,
            Err(_) => None,
        },
        (None, Some(id)) => Some(parse_id::<UserId>(&id, "user_id")?),
        _ => return Err(ApiError::bad_request("give either username or user_id")),
    };
    let users = match user_id {
        Some(id) => match state.accounts.profile(id).await? {
            Some((username, display_name)) => vec![json!({
                "user_id": id,
                "username": username,
                "display_name": display_name,
            })],
            None => vec![],
        },
        None => vec![],
    };
    Ok(ApiJson(json!({ "users": users })))
}
