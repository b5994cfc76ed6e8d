//! Sign-ins as the gateway runs them: starting one (access and refresh token), refreshing
//! with rotation and reuse detection, signing out, revoking every token of a user, the
//! check every authenticated request makes, and WebSocket tickets. The records live in
//! `chat_store::sign_ins`.

use chat_core::ids::{SignInId, UserId};
use chat_core::time::UnixMillis;
use chat_store::sign_ins::{Rotation, SignInStore};
use chat_store::StoreError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::refresh_token::RefreshToken;
use super::settings::AuthSettings;
use super::tokens::{Principal, TokenError, Tokens};
use crate::error::{ApiError, ErrorCode};

/// What a sign-in or a refresh hands the client.
pub struct Issued {
    pub user_id: UserId,
    /// The sign-in the tokens belong to (named in audit records; not a secret).
    pub sign_in: SignInId,
    pub access_token: String,
    pub expires_at: UnixMillis,
    /// The next refresh token and when the sign-in ends if unused; none when a tab
    /// refreshed within the grace of another (it keeps the cookie the other one set).
    pub refresh: Option<(RefreshToken, UnixMillis)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown, expired, signed out, reused or revoked: the client must sign in.
    #[error("the session is not valid; sign in again")]
    Refused,
    /// A refresh token was presented a second time: its sign-in is now revoked. The
    /// client is told what `Refused` tells it; the gateway audits the revocation.
    #[error("the session is not valid; sign in again")]
    Reused { user: UserId, sign_in: SignInId },
    #[error("this account is deactivated")]
    Deactivated,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not issue a token: {0}")]
    Token(#[from] TokenError),
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Refused | SignInError::Reused { .. } => {
                ApiError::new(ErrorCode::Unauthenticated, e.to_string())
            }
            SignInError::Deactivated => ApiError::new(ErrorCode::Forbidden, e.to_string()),
            SignInError::Store(e) => e.into(),
            SignInError::Token(e) => {
                tracing::error!(error = %e, "token issuance failed");
                ApiError::internal()
            }
        }
    }
}

/// What a WebSocket ticket stands for: the identity of the token it was issued for.
#[derive(Serialize, Deserialize)]
struct TicketClaims {
    user: UserId,
    sign_in: Option<SignInId>,
    auth_ms: i64,
    expires_at: i64,
}

pub struct SignIns {
    store: SignInStore,
    settings: AuthSettings,
}

impl SignIns {
    pub fn new(store: SignInStore, settings: AuthSettings) -> Self {
        Self { store, settings }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Begin a sign-in for `user` (whose password was just checked).
    pub async fn start(&self, tokens: &Tokens, user: UserId) -> Result<Issued, SignInError> {
        let sign_in = SignInId::new_random();
        let refresh = RefreshToken::generate(sign_in);
        let created = self
            .store
            .create(sign_in, user, &refresh.hash(), self.settings.refresh_ttl())
            .await?
            .ok_or(SignInError::Deactivated)?;
        let (access_token, expires_at) = tokens.issue(user, sign_in, created)?;
        Ok(Issued {
            user_id: user,
            sign_in,
            access_token,
            expires_at,
            refresh: Some((refresh, self.refresh_expiry())),
        })
    }

    /// Exchange a refresh token for a new access token and a new refresh token. A
    /// refresh token presented twice (outside the grace) revokes its sign-in.
    pub async fn refresh(&self, tokens: &Tokens, presented: &str) -> Result<Issued, SignInError> {
        let presented = RefreshToken::parse(presented).ok_or(SignInError::Refused)?;
        let sign_in = presented.sign_in;
        let next = RefreshToken::generate(sign_in);
        let rotation = self
            .store
            .rotate(
                sign_in,
                &presented.hash(),
                &next.hash(),
                self.settings.refresh_ttl(),
                self.settings.refresh_grace(),
                self.settings.access_ttl(),
            )
            .await?;
        let (user, created, refresh) = match rotation {
            Rotation::Rotated { user, created_ms } => {
                (user, created_ms, Some((next, self.refresh_expiry())))
            }
            Rotation::Grace { user, created_ms } => (user, created_ms, None),
            Rotation::Reused { user } => {
                metrics::counter!("gateway_refresh_reuse_total").increment(1);
                tracing::warn!(%user, %sign_in, "a refresh token was used twice; the sign-in is revoked");
                return Err(SignInError::Reused { user, sign_in });
            }
            Rotation::Revoked | Rotation::Unknown => return Err(SignInError::Refused),
        };
        let (access_token, expires_at) = tokens.issue(user, sign_in, created)?;
        Ok(Issued {
            user_id: user,
            sign_in,
            access_token,
            expires_at,
            refresh,
        })
    }

    /// End the caller's sign-in, or (`everywhere`) every sign-in of theirs.
    pub async fn sign_out(&self, caller: &Principal, everywhere: bool) -> Result<(), SignInError> {
        match (caller.sign_in, everywhere) {
            (Some(sign_in), false) => {
                self.store
                    .revoke(caller.user_id, sign_in, self.settings.access_ttl())
                    .await?
            }
            // SSO tokens have no sign-in of ours: only "everything before now" stops them.
            _ => {
                self.store.revoke_all(caller.user_id).await?;
            }
        }
        Ok(())
    }

    /// Refuse every token of `user` issued before now (password change).
    pub async fn revoke_all(&self, user: UserId) -> Result<(), SignInError> {
        self.store.revoke_all(user).await?;
        Ok(())
    }

    /// Whether a verified token was revoked since it was issued.
    pub async fn is_revoked(&self, p: &Principal) -> Result<bool, StoreError> {
        self.store.is_revoked(p.user_id, p.sign_in, p.auth_ms).await
    }

    /// A single-use ticket that opens a WebSocket as `p` (no token in the URL).
    pub async fn ticket(&self, p: &Principal) -> Result<(String, UnixMillis), SignInError> {
        let ticket = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let claims = TicketClaims {
            user: p.user_id,
            sign_in: p.sign_in,
            auth_ms: p.auth_ms,
            expires_at: p.expires_at.0,
        };
        self.store
            .issue_ticket(&ticket, &claims, self.settings.ticket_ttl())
            .await?;
        let expires =
            UnixMillis(UnixMillis::now().0 + self.settings.ticket_ttl().as_millis() as i64);
        Ok((ticket, expires))
    }

    /// The identity a ticket stands for, once; `None` if unknown, used or expired.
    pub async fn redeem(&self, ticket: &str) -> Result<Option<Principal>, StoreError> {
        let well_formed = ticket.len() == 64 && ticket.bytes().all(|b| b.is_ascii_hexdigit());
        if !well_formed {
            return Ok(None);
        }
        let Some(claims) = self.store.redeem_ticket::<TicketClaims>(ticket).await? else {
            return Ok(None);
        };
        Ok(Some(Principal {
            user_id: claims.user,
            external: None,
            sign_in: claims.sign_in,
            auth_ms: claims.auth_ms,
            expires_at: UnixMillis(claims.expires_at),
        }))
    }

    fn refresh_expiry(&self) -> UnixMillis {
        UnixMillis(UnixMillis::now().0 + self.settings.refresh_ttl().as_millis() as i64)
    }
}
