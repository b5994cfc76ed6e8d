//! Sign-in and what follows it: `POST /api/v1/auth` (sign in), `/auth/refresh`,
//! `/auth/sign-out`, `PUT /api/v1/users/me/password` and `POST /api/v1/ws/ticket`.
//!
//! Non-browser clients get the refresh token in the answer's body. Browsers ask for
//! `"session": "cookie"`: the refresh token then travels only in the `HttpOnly` cookie
//! (`auth::cookie`), and using it needs the anti-forgery header.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chat_core::audit::{Actor, AuditAction, Outcome, Subject, SubjectKind};
use chat_core::ids::UserId;
use serde::Deserialize;
use serde_json::json;

use super::ApiJson;
use crate::auth::sign_ins::{Issued, SignInError};
use crate::auth::{cookie, Authenticated};
use crate::domain::{Password, Username};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::throttle::ClientAddress;

#[derive(Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    /// The refresh token in the answer's body.
    #[default]
    Body,
    /// The refresh token in the `HttpOnly` cookie only.
    Cookie,
}

#[derive(Deserialize)]
pub struct SignIn {
    username: String,
    password: String,
    #[serde(default)]
    session: SessionMode,
}

pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    ApiJson(l): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    // Before the password is checked: guesses are counted per account and per address.
    // A throttled attempt is not audited (a flood of them would flood the trail too);
    // `gateway_throttled_total` counts them.
    state.throttles.sign_in(from, &l.username).await?;
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
    let (user_id, stored, deactivated) = match credentials {
        Some(c) => (Some(c.user_id), Some(c.password_hash), c.deactivated),
        None => (None, None, false),
    };
    let ok = state.passwords.verify(l.password, stored).await?;
    let user_id = match (ok, user_id) {
        (true, Some(u)) => u,
        _ => {
            audit_sign_in_failed(&state, from, &l.username, user_id, "bad_credentials");
            return Err(bad());
        }
    };
    if deactivated {
        audit_sign_in_failed(&state, from, &l.username, Some(user_id), "deactivated");
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this account is deactivated",
        ));
    }
    let issued = match state.sign_ins.start(&state.tokens, user_id).await {
        Ok(issued) => issued,
        Err(e) => {
            if matches!(e, SignInError::Deactivated) {
                audit_sign_in_failed(&state, from, &l.username, Some(user_id), "deactivated");
            }
            return Err(e.into());
        }
    };
    // The sign-in and its first access and refresh tokens: one record (`sign_in`).
    state.audit(
        state
            .audit_log
            .event(
                Actor::User(user_id),
                AuditAction::SignIn,
                Subject::user(user_id),
                Outcome::Ok,
            )
            .with_source_ip(Some(from))
            .detail("username", l.username.trim())
            .detail("sign_in_id", issued.sign_in)
            .detail("method", "password"),
    );
    Ok(answer(&state, issued, l.session))
}

/// A refused sign-in. The actor is the account the username names (when it names one
/// that signs in with a password), else `anonymous`; the username as typed is kept in
/// the details, at most [`AUDITED_USERNAME_CHARS`] characters of it.
fn audit_sign_in_failed(
    state: &AppState,
    from: IpAddr,
    attempted: &str,
    user: Option<UserId>,
    reason: &str,
) {
    let (actor, subject) = match user {
        Some(u) => (Actor::User(u), Subject::user(u)),
        None => (
            Actor::Anonymous,
            Subject {
                kind: SubjectKind::User,
                id: String::new(),
            },
        ),
    };
    let attempted: String = attempted
        .trim()
        .chars()
        .take(AUDITED_USERNAME_CHARS)
        .collect();
    state.audit(
        state
            .audit_log
            .event(actor, AuditAction::SignInFailed, subject, Outcome::Denied)
            .with_source_ip(Some(from))
            .detail("username", attempted)
            .detail("reason", reason),
    );
}

/// Anything typed as a username is kept in a failed sign-in's record up to this length:
/// enough for every valid username, not a way to write arbitrary text into the trail.
const AUDITED_USERNAME_CHARS: usize = 64;

#[derive(Deserialize, Default)]
pub struct RefreshRequest {
    /// Non-browser clients; browsers send `{}` and the cookie.
    #[serde(default)]
    refresh_token: Option<String>,
}

pub async fn refresh(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    headers: HeaderMap,
    ApiJson(r): ApiJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    let (presented, mode) = match r.refresh_token {
        Some(t) => (t, SessionMode::Body),
        None => {
            let Some(t) = cookie::read(&headers) else {
                return Err(ApiError::new(
                    ErrorCode::Unauthenticated,
                    "no refresh token: give refresh_token or the session cookie",
                ));
            };
            if !cookie::has_csrf_header(&headers) {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "a refresh with the session cookie needs the X-Chat-CSRF header",
                ));
            }
            (t, SessionMode::Cookie)
        }
    };
    let issued = match state.sign_ins.refresh(&state.tokens, &presented).await {
        Ok(i) => i,
        Err(e) => {
            // A copied refresh token: the sign-in it belongs to is revoked (a refresh
            // token that is merely unknown or expired names nobody and is not audited).
            if let SignInError::Reused { user, sign_in } = &e {
                state.audit(
                    state
                        .audit_log
                        .event(
                            Actor::User(*user),
                            AuditAction::TokenRevoked,
                            Subject::user(*user),
                            Outcome::Ok,
                        )
                        .with_source_ip(Some(from))
                        .detail("reason", "refresh_token_reused")
                        .detail("scope", "sign_in")
                        .detail("sign_in_id", sign_in),
                );
            }
            // A dead cookie is removed, so the browser stops presenting it.
            let mut response = ApiError::from(e).into_response();
            if mode == SessionMode::Cookie {
                let secure = state.settings.auth.cookie_secure;
                response
                    .headers_mut()
                    .insert(SET_COOKIE, cookie::clear(secure));
            }
            return Ok(response);
        }
    };
    let token_issued = |outcome: Outcome| {
        state
            .audit_log
            .event(
                Actor::User(issued.user_id),
                AuditAction::TokenIssued,
                Subject::user(issued.user_id),
                outcome,
            )
            .with_source_ip(Some(from))
            .detail("via", "refresh")
            .detail("sign_in_id", issued.sign_in)
            .detail("refresh_rotated", issued.refresh.is_some())
    };
    // A deactivated account stops refreshing even if Redis forgot its revocation.
    if state.accounts.is_deactivated(issued.user_id).await? {
        state.audit(token_issued(Outcome::Denied).detail("reason", "deactivated"));
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this account is deactivated",
        ));
    }
    state.audit(token_issued(Outcome::Ok));
    Ok(answer(&state, issued, mode))
}

#[derive(Deserialize, Default)]
pub struct SignOut {
    #[serde(default)]
    everywhere: bool,
}

pub async fn sign_out(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    Authenticated(caller): Authenticated,
    ApiJson(s): ApiJson<SignOut>,
) -> Result<Response, ApiError> {
    state.sign_ins.sign_out(&caller, s.everywhere).await?;
    tracing::info!(user = %caller.user_id, everywhere = s.everywhere, "signed out");
    // SSO tokens have no sign-in of ours: signing out ends every token of the user.
    let scope = match (caller.sign_in, s.everywhere) {
        (Some(_), false) => "sign_in",
        _ => "everywhere",
    };
    let mut revoked = state
        .audit_log
        .event(
            Actor::User(caller.user_id),
            AuditAction::TokenRevoked,
            Subject::user(caller.user_id),
            Outcome::Ok,
        )
        .with_source_ip(Some(from))
        .detail("reason", "sign_out")
        .detail("scope", scope);
    if let Some(sign_in) = caller.sign_in {
        revoked = revoked.detail("sign_in_id", sign_in);
    }
    state.audit(revoked);
    let secure = state.settings.auth.cookie_secure;
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, cookie::clear(secure))],
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Change one's password; every sign-in of the user, the caller's included, ends.
pub async fn change_password(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    Authenticated(caller): Authenticated,
    ApiJson(c): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let user = caller.user_id;
    let password_changed = |outcome: Outcome| {
        state
            .audit_log
            .event(
                Actor::User(user),
                AuditAction::PasswordChanged,
                Subject::user(user),
                outcome,
            )
            .with_source_ip(Some(from))
    };
    // A stolen access token must not become a fast password oracle: the same buckets
    // as sign-in.
    state.throttles.sign_in(from, &user.to_string()).await?;
    let Some(stored) = state.accounts.password_hash(user).await? else {
        state.audit(password_changed(Outcome::Denied).detail("reason", "no_password"));
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this account signs in through single sign-on and has no password",
        ));
    };
    let new_password = Password::parse(c.new_password)?;
    if !state
        .passwords
        .verify(c.current_password, Some(stored))
        .await?
    {
        state.audit(password_changed(Outcome::Denied).detail("reason", "wrong_password"));
        return Err(ApiError::new(
            ErrorCode::WrongPassword,
            "the current password is wrong",
        ));
    }
    let hash = state
        .passwords
        .hash(new_password.expose().to_string())
        .await?;
    state.accounts.set_password_hash(user, &hash).await?;
    state.sign_ins.revoke_all(user).await?;
    tracing::info!(%user, "password changed; every sign-in revoked");
    // One record: a password change always revokes every sign-in of the user.
    state.audit(password_changed(Outcome::Ok).detail("revoked", "every_sign_in"));
    Ok(StatusCode::NO_CONTENT)
}

/// A single-use ticket to open a WebSocket with (`GET /api/v1/ws?ticket=`), so the
/// token never appears in a URL.
pub async fn ws_ticket(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    let (ticket, expires_at) = state.sign_ins.ticket(&caller).await?;
    Ok(no_store(ApiJson(
        json!({ "ticket": ticket, "expires_at": expires_at.to_rfc3339() }),
    )))
}

/// The answer to a sign-in or a refresh.
fn answer(state: &AppState, issued: Issued, mode: SessionMode) -> Response {
    let mut body = json!({
        "token": issued.access_token,
        "user_id": issued.user_id,
        "expires_at": issued.expires_at.to_rfc3339(),
    });
    let mut cookie_header = None;
    if let Some((refresh, refresh_expires_at)) = &issued.refresh {
        body["refresh_expires_at"] = json!(refresh_expires_at.to_rfc3339());
        match mode {
            SessionMode::Body => body["refresh_token"] = json!(refresh.expose()),
            SessionMode::Cookie => {
                let auth = &state.settings.auth;
                cookie_header =
                    cookie::set(&refresh.expose(), auth.refresh_ttl_secs, auth.cookie_secure);
            }
        }
    }
    let mut response = no_store(ApiJson(body));
    if let Some(c) = cookie_header {
        response.headers_mut().insert(SET_COOKIE, c);
    }
    response
}

/// Tokens must not be kept by a cache between the client and the gateway.
fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
