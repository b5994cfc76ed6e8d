//! `POST /api/v1/users`, `POST /api/v1/auth`, `GET /api/v1/users?username=`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use chat_core::ids::UserId;
use serde::Deserialize;
use serde_json::{json, Value};

use super::json::parse_id;
use super::ApiJson;
use crate::auth::AuthUser;
use crate::domain::{DisplayName, Password, Username};
use crate::error::{ApiError, ErrorCode};
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
    Ok((StatusCode::CREATED, ApiJson(json!({ "user_id": user_id }))))
}

#[derive(Deserialize)]
pub struct Login {
    username: String,
    password: String,
}

pub async fn authenticate(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    ApiJson(l): ApiJson<Login>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    // Before the password is checked: guesses are counted per account and per address.
    state.throttles.sign_in(from, &l.username)?;
    let bad = || {
        ApiError::new(
            ErrorCode::BadCredentials,
            "unknown username or wrong password",
        )
    };
    // A malformed username cannot exist; answer like any other unknown name.
    let credentials = match Username::parse(&l.username) {
        Ok(u) => state.accounts.credentials(&u).await?,
        Err(_) => None,
    };
    let (user_id, stored) = match credentials {
        Some(c) => (Some(c.user_id), Some(c.password_hash)),
        None => (None, None),
    };
    let ok = state.passwords.verify(l.password, stored).await?;
    let user_id = match (ok, user_id) {
        (true, Some(u)) => u,
        _ => return Err(bad()),
    };
    let (token, expires_at) = state
        .tokens
        .issue(user_id)
        .map_err(|_| ApiError::internal())?;
    // A token must not be kept by a cache between the client and the gateway.
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        ApiJson(
            json!({ "token": token, "user_id": user_id, "expires_at": expires_at.to_rfc3339() }),
        ),
    ))
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
