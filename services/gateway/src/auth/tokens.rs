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

use std::time::Duration;

use chat_core::ids::UserId;
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
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    /// Set for SSO users: what to provision their account with.
    pub external: Option<ExternalIdentity>,
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
            ttl: settings.token_ttl(),
            oidc: settings.oidc.clone().map(|o| {
                let jwks = Jwks::new(o.jwks.clone());
                (o, jwks)
            }),
        }
    }

    /// A token for `user`, and when it expires.
    pub fn issue(&self, user: UserId) -> Result<(String, UnixMillis), TokenError> {
        let now = jsonwebtoken::get_current_timestamp();
        let exp = now + self.ttl.as_secs();
        let claims = Claims {
            sub: user.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp,
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
        Ok(Principal {
            user_id,
            external: None,
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::config::Secret;

    fn settings(ttl: u64) -> GatewaySettings {
        GatewaySettings {
            host: "127.0.0.1".into(),
            port: 0,
            gateway_id: "t".into(),
            jwt_secret: Secret::new("0123456789abcdef0123456789abcdef"),
            token_ttl_secs: ttl,
            max_body_bytes: 16,
            max_frame_bytes: 64,
            dedup_ttl_secs: 1,
            dedup_abandon_after_secs: 1,
            history_group: "h".into(),
            history_wait_ms: 1,
            throttle: Default::default(),
            header_read_timeout_ms: 1000,
            max_connections: 10,
            frames_per_sec: 1,
            frames_burst: 1,
            web_dir: "dist".into(),
            oidc: None,
            tls: Default::default(),
        }
    }

    #[tokio::test]
    async fn issued_tokens_verify() {
        let t = Tokens::new(&settings(60));
        let user = UserId::new_random();
        let (token, exp) = t.issue(user).unwrap();
        assert!(exp.0 > UnixMillis::now().0);
        assert_eq!(
            t.verify(&token).await.unwrap(),
            Principal {
                user_id: user,
                external: None
            }
        );
    }

    #[tokio::test]
    async fn forged_and_unsigned_tokens_are_refused() {
        let t = Tokens::new(&settings(60));
        let (token, _) = t.issue(UserId::new_random()).unwrap();
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
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &t.encoding).unwrap();
        assert!(
            matches!(t.verify(&token).await, Err(TokenError::Invalid(m)) if m.contains("Expired"))
        );
    }
}
