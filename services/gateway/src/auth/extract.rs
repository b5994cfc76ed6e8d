//! The extractors every authenticated route takes: [`AuthUser`] (who) and
//! [`Authenticated`] (who, and from which sign-in: for signing out and tickets). Both
//! read `Authorization: Bearer <jwt>`, verify it, refuse tokens of ids that have no
//! account and tokens revoked since they were issued, and provision SSO users on first
//! sight.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use chat_core::audit::{Actor, AuditAction, Outcome, Subject};
use chat_core::ids::UserId;

use super::tokens::Principal;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Clone, Copy, Debug)]
pub struct AuthUser(pub UserId);

#[derive(Clone, Debug)]
pub struct Authenticated(pub Principal);

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verify `token`, make sure the caller has an account, and that the token was not
/// revoked.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let principal = state.tokens.verify(token).await.map_err(|e| match e {
        crate::auth::TokenError::KeysUnavailable => {
            ApiError::unavailable("identity provider keys unavailable")
        }
        other => {
            tracing::debug!(error = %other, "token refused");
            ApiError::unauthenticated()
        }
    })?;
    match &principal.external {
        Some(external) => {
            let provisioned = state
                .accounts
                .ensure_external(principal.user_id, external)
                .await?;
            if let Some(username) = provisioned {
                // No address here: the extractor does not see the connection. The
                // request that provisioned the account is audited with it if it is one
                // that is audited.
                let user = principal.user_id;
                state.audit(
                    state
                        .audit_log
                        .event(
                            Actor::User(user),
                            AuditAction::UserCreated,
                            Subject::user(user),
                            Outcome::Ok,
                        )
                        .detail("username", username)
                        .detail("method", "sso"),
                );
            }
        }
        // Our own tokens are issued at sign-in, but a token for an id with no account
        // (a forged secret's, or one issued by another deployment sharing it) must not
        // act as a user.
        None => {
            if !state.accounts.exists_cached(principal.user_id).await? {
                tracing::debug!(user = %principal.user_id, "token for no account");
                return Err(ApiError::unauthenticated());
            }
        }
    }
    ensure_not_revoked(state, &principal).await?;
    Ok(principal)
}

/// Refuse a token whose sign-in was ended, or whose user revoked older tokens (password
/// change, sign-out everywhere, deactivation).
pub async fn ensure_not_revoked(state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    if state.sign_ins.is_revoked(principal).await? {
        tracing::debug!(user = %principal.user_id, "revoked token refused");
        return Err(ApiError::new(
            crate::error::ErrorCode::Unauthenticated,
            "this session was signed out; sign in again",
        ));
    }
    Ok(())
}

async fn from_parts(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let token = bearer(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
    let principal = authenticate(state, token).await?;
    state.throttles.user(principal.user_id)?;
    Ok(principal)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        from_parts(parts, state).await.map(|p| AuthUser(p.user_id))
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        from_parts(parts, state).await.map(Authenticated)
    }
}
