//! `AuthUser`: the extractor every authenticated route takes. It reads
//! `Authorization: Bearer <jwt>`, verifies it, refuses tokens of ids that have no
//! account, and provisions SSO users on first sight.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use chat_core::ids::UserId;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Clone, Copy, Debug)]
pub struct AuthUser(pub UserId);

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verify `token` and make sure the caller has an account.
pub async fn authenticate(state: &AppState, token: &str) -> Result<UserId, ApiError> {
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
            state
                .accounts
                .ensure_external(principal.user_id, external)
                .await?
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
    Ok(principal.user_id)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        let user = authenticate(state, token).await?;
        state.throttles.user(user)?;
        Ok(AuthUser(user))
    }
}
