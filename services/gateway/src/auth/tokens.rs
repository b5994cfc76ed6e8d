//! Bearer tokens.
//!
//! - Our own: HS256 JWTs signed with the deployment's shared secret, `iss`/`aud` fixed,
//!   `sub` = user id. Any gateway verifies any gateway's tokens.
//! - Enterprise SSO (when configured): RS256 JWTs from the configured OpenID Connect
//!   issuer, verified against its JWKS, with `iss` and `aud` checked. The user id is
//!   derived from (issuer, sub), so the same person is the same user on every gateway
//!   without a lookup; the account is provisioned on first use.
//!
//! The algorithm a token claims only selects which of these two verifiers runs; each
//! verifier accepts exactly one algorithm, so `alg: none` or an HS256 token "signed"
//! with the issuer's public key are refused.
//!
//! Our tokens are access tokens: short-lived (`gateway.auth.access_ttl_secs`, 15 minutes by
//! default), carrying the sign-in they come from (`sid`) and when it began (`auth_ms`),
//! so a revocation (`auth::sign_ins`) can refuse them before they expire.

use std::time::Duration;

use chat_core::ids::{SignInId, UserId};
use chat_core::time::UnixMillis;
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::jwks::Jwks;
use crate::configuration::{GatewaySettings, OidcSettings};

const ISSUER: &str = "chat-platform";
const AUDIENCE: &str = "chat";
/// Namespace of user ids derived from an external identity.
const EXTERNAL_NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_7a0e_93b4_4f0e_9d39_4b8e_2f6a_1c03);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    /// A token id, so a token can be named in logs and audits without the token itself.
    jti: String,
    /// The sign-in this token was issued from.
    sid: String,
    /// When that sign-in began (ms since the epoch, Redis's clock).
    auth_ms: i64,
}

/// The claims we read from an external issuer's token.
#[derive(Debug, Deserialize)]
struct ExternalClaims {
    sub: String,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    iat: Option<u64>,
    exp: u64,
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    /// Set for SSO users: what to provision their account with.
    pub external: Option<ExternalIdentity>,
    /// The sign-in our tokens come from (SSO tokens have none).
    pub sign_in: Option<SignInId>,
    /// When the sign-in began (SSO: when the token was issued), for `not_before`.
    pub auth_ms: i64,
    /// When the token expires: a socket it opened is closed then.
    pub expires_at: UnixMillis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub preferred_username: String,
    pub display_name: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not accepted")]
    Algorithm,
    #[error("token is invalid: {0}")]
    Invalid(String),
    #[error("token signing keys are unavailable")]
    KeysUnavailable,
}

pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
    oidc: Option<(OidcSettings, Jwks)>,
}

impl Tokens {
    pub fn new(settings: &GatewaySettings) -> Self {
        let secret = settings.jwt_secret.expose().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl: settings.auth.access_ttl(),
            oidc: settings.oidc.clone().map(|o| {
                let jwks = Jwks::new(o.jwks.clone());
                (o, jwks)
            }),
        }
    }

    /// An access token for `user` from `sign_in` (begun at `auth_ms`), and when it
    /// expires.
    pub fn issue(
        &self,
        user: UserId,
        sign_in: SignInId,
        auth_ms: i64,
    ) -> Result<(String, UnixMillis), TokenError> {
        let now = jsonwebtoken::get_current_timestamp();
        let exp = now + self.ttl.as_secs();
        let claims = Claims {
            sub: user.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp,
            jti: Uuid::new_v4().simple().to_string(),
            sid: sign_in.to_string(),
            auth_ms,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        Ok((token, UnixMillis(exp as i64 * 1000)))
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        match header.alg {
            Algorithm::HS256 => self.verify_own(token),
            Algorithm::RS256 if self.oidc.is_some() => {
                self.verify_external(token, header.kid.as_deref()).await
            }
            _ => Err(TokenError::Algorithm),
        }
    }

    fn verify_own(&self, token: &str) -> Result<Principal, TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.leeway = 5;
        let data = decode::<Claims>(token, &self.decoding, &v)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let user_id = data
            .claims
            .sub
            .parse::<UserId>()
            .map_err(|_| TokenError::Invalid("sub is not a user id".into()))?;
        let sign_in = data
            .claims
            .sid
            .parse::<SignInId>()
            .map_err(|_| TokenError::Invalid("sid is not a sign-in id".into()))?;
        Ok(Principal {
            user_id,
            external: None,
            sign_in: Some(sign_in),
            auth_ms: data.claims.auth_ms,
            expires_at: UnixMillis(data.claims.exp.min(i64::MAX as u64 / 1000) as i64 * 1000),
        })
    }

    async fn verify_external(
        &self,
        token: &str,
        kid: Option<&str>,
    ) -> Result<Principal, TokenError> {
        let Some((oidc, jwks)) = &self.oidc else {
            return Err(TokenError::Algorithm);
        };
        let key = match jwks.key(kid).await {
            Ok(Some(k)) => k,
            Ok(None) => return Err(TokenError::Invalid("signed with an unknown key".into())),
            Err(e) => {
                tracing::warn!(error = %e, "OIDC keys unavailable");
                return Err(TokenError::KeysUnavailable);
            }
        };
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[oidc.issuer.as_str()]);
        v.set_audience(&[oidc.audience.as_str()]);
        v.leeway = 30;
        let data = decode::<ExternalClaims>(token, &key, &v)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let c = data.claims;
        let seconds = |s: u64| s.min(i64::MAX as u64 / 1000) as i64 * 1000;
        let auth_ms = c.iat.map(seconds).unwrap_or(0);
        let expires_at = UnixMillis(seconds(c.exp));
        let name = format!("{}\u{0}{}", oidc.issuer, c.sub);
        let user_id = UserId(Uuid::new_v5(&EXTERNAL_NAMESPACE, name.as_bytes()));
        let preferred = c.preferred_username.or_else(|| {
            c.email
                .as_ref()
                .and_then(|e| e.split('@').next().map(str::to_string))
        });
        let preferred_username = preferred.unwrap_or_else(|| c.sub.clone());
        let display_name = c.name.unwrap_or_else(|| preferred_username.clone());
        Ok(Principal {
            user_id,
            external: Some(ExternalIdentity {
                preferred_username,
                display_name,
            }),
            sign_in: None,
            auth_ms,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::config::Secret;

    fn settings(ttl: u64) -> GatewaySettings {
        let env = [
            (
                "CHAT__GATEWAY__JWT_SECRET",
                "0123456789abcdef0123456789abcdef",
            ),
            (
                "CHAT__GATEWAY__AUTH__ACCESS_TTL_SECS",
                &ttl.max(1).to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        chat_core::config::Settings::load_with_from::<GatewaySettings>(&env)
            .map(|(_, gateway)| gateway)
            .expect("test settings")
    }

    #[tokio::test]
    async fn issued_tokens_verify() {
        let t = Tokens::new(&settings(60));
        let user = UserId::new_random();
        let sign_in = SignInId::new_random();
        let (token, exp) = t.issue(user, sign_in, 42).unwrap();
        assert!(exp.0 > UnixMillis::now().0);
        assert_eq!(
            t.verify(&token).await.unwrap(),
            Principal {
                user_id: user,
                external: None,
                sign_in: Some(sign_in),
                auth_ms: 42,
                expires_at: exp,
            }
        );
    }

    #[tokio::test]
    async fn forged_and_unsigned_tokens_are_refused() {
        let t = Tokens::new(&settings(60));
        let (token, _) = t
            .issue(UserId::new_random(), SignInId::new_random(), 0)
            .unwrap();
        // Another secret.
        let mut other = settings(60);
        other.jwt_secret = Secret::new("another-secret-another-secret-xx");
        assert!(matches!(
            Tokens::new(&other).verify(&token).await,
            Err(TokenError::Invalid(_))
        ));
        // alg: none, same claims, no signature.
        let payload = token.split('.').nth(1).unwrap();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
        let forged = format!("{none_header}.{payload}.");
        assert!(t.verify(&forged).await.is_err());
        // RS256 without an OIDC issuer configured.
        let rs_header = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"; // {"alg":"RS256","typ":"JWT"}
        assert_eq!(
            t.verify(&format!("{rs_header}.{payload}.c2ln")).await,
            Err(TokenError::Algorithm)
        );
        assert_eq!(t.verify("garbage").await, Err(TokenError::Malformed));
    }

    #[tokio::test]
    async fn expired_tokens_are_refused() {
        let t = Tokens::new(&settings(0));
        let user = UserId::new_random();
        // Expired well beyond the leeway.
        let claims = Claims {
            sub: user.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: 1,
            exp: jsonwebtoken::get_current_timestamp() - 60,
            jti: "j".into(),
            sid: SignInId::new_random().to_string(),
            auth_ms: 0,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &t.encoding).unwrap();
        assert!(
            matches!(t.verify(&token).await, Err(TokenError::Invalid(m)) if m.contains("Expired"))
        );
    }
}
