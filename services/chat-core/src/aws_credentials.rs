//! AWS credentials to sign requests with: static keys, or the task role's.
//!
//! Shared by everything that talks to AWS without the AWS SDK (whose build is minutes on
//! 2 cores): the gateway's object store (attachments, presigned S3 URLs) and the KMS
//! key-encryption key ([`crate::sealing::kms`]).
//!
//! On ECS (Fargate) the agent serves the task role's temporary keys at
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (or `..._FULL_URI` with an authorization
//! token); they are fetched when first needed and again before they expire, so no
//! long-lived key is ever configured in production.

use std::time::{Duration, Instant};

use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;
use serde::Deserialize;
use tokio::sync::Mutex;

/// The ECS agent's fixed address for `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
const ECS_AGENT: &str = "http://169.254.170.2";

/// Renewed this long before they expire (ECS rotates them well before that).
const RENEW_BEFORE: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Nothing to sign with: no keys given and no task role.
    #[error("{0}")]
    Setup(String),
    /// The task role's endpoint did not answer with credentials.
    #[error("{0}")]
    Unreachable(String),
}

/// An access key, its secret and, for temporary credentials, the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// Never prints the secret or the token (they end up in logs through error chains).
impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .finish()
    }
}

pub enum CredentialSource {
    Static(AwsCredentials),
    TaskRole {
        url: String,
        authorization: Option<String>,
        cached: Mutex<Option<(AwsCredentials, Instant)>>,
    },
}

/// The ECS credentials endpoint's answer (the fields we use).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoleCredentials {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    expiration: Option<String>,
}

impl CredentialSource {
    /// Static keys when `access_key_id` is given (from the settings), else the
    /// container's task role. What the gateway's object store uses.
    pub fn configured_or_task_role(
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Result<Self, CredentialsError> {
        if !access_key_id.is_empty() {
            return Ok(Self::Static(AwsCredentials {
                access_key_id: access_key_id.to_string(),
                secret_access_key: secret_access_key.to_string(),
                session_token: None,
            }));
        }
        Self::task_role()
    }

    /// The order the AWS SDKs use, for the two sources this platform runs with:
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN` when
    /// set) from the environment, else the container's task role.
    pub fn environment_or_task_role() -> Result<Self, CredentialsError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Self::Static(AwsCredentials {
                access_key_id,
                secret_access_key,
                session_token: var("AWS_SESSION_TOKEN"),
            })),
            (Some(_), None) => Err(CredentialsError::Setup(
                "AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY".into(),
            )),
            _ => Self::task_role(),
        }
    }

    /// The container's task role, from the variables the ECS agent sets.
    fn task_role() -> Result<Self, CredentialsError> {
        let (url, authorization) = match (
            std::env::var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            std::env::var("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        ) {
            (Ok(relative), _) => (format!("{ECS_AGENT}{relative}"), None),
            (_, Ok(full)) => (
                full,
                std::env::var("AWS_CONTAINER_AUTHORIZATION_TOKEN").ok(),
            ),
            _ => {
                return Err(CredentialsError::Setup(
                    "no access key is configured and this is not a container with a task \
                     role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not set)"
                        .into(),
                ))
            }
        };
        Ok(Self::TaskRole {
            url,
            authorization,
            cached: Mutex::new(None),
        })
    }

    /// Credentials valid for at least a few more minutes.
    pub async fn current(
        &self,
        http: &reqwest::Client,
    ) -> Result<AwsCredentials, CredentialsError> {
        let (url, authorization, cached) = match self {
            Self::Static(c) => return Ok(c.clone()),
            Self::TaskRole {
                url,
                authorization,
                cached,
            } => (url, authorization, cached),
        };
        let mut cached = cached.lock().await;
        if let Some((c, renew_at)) = cached.as_ref() {
            if Instant::now() < *renew_at {
                return Ok(c.clone());
            }
        }
        let mut request = http.get(url);
        if let Some(token) = authorization {
            request = request.header("Authorization", token);
        }
        let answer: RoleCredentials = request
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| CredentialsError::Unreachable(format!("task role credentials: {e}")))?
            .json()
            .await
            .map_err(|e| CredentialsError::Unreachable(format!("task role credentials: {e}")))?;
        let (credentials, renew_at) = parse(answer, OffsetDateTime::now_utc());
        *cached = Some((credentials.clone(), renew_at));
        Ok(credentials)
    }
}

/// The credentials and when to fetch new ones: before `Expiration`, or in a few minutes
/// when it is missing or unreadable.
fn parse(answer: RoleCredentials, now: OffsetDateTime) -> (AwsCredentials, Instant) {
    let credentials = AwsCredentials {
        access_key_id: answer.access_key_id,
        secret_access_key: answer.secret_access_key,
        session_token: answer.token,
    };
    let left = answer
        .expiration
        .and_then(|e| OffsetDateTime::parse(&e, &Rfc3339).ok())
        .map(|expires| (expires - now).unsigned_abs())
        .unwrap_or(RENEW_BEFORE * 2);
    let renew_in = left.saturating_sub(RENEW_BEFORE);
    (credentials, Instant::now() + renew_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ecs_answer_and_renews_before_expiry() {
        let json = r#"{"RoleArn":"arn:aws:iam::1:role/gw","AccessKeyId":"AK","SecretAccessKey":"SK",
                       "Token":"TOK","Expiration":"2026-11-29T13:00:00Z"}"#;
        let answer: RoleCredentials = serde_json::from_str(json).unwrap();
        let now = OffsetDateTime::parse("2026-11-29T12:00:00Z", &Rfc3339).unwrap();
        let (c, renew_at) = parse(answer, now);
        assert_eq!(
            (
                c.access_key_id.as_str(),
                c.secret_access_key.as_str(),
                c.session_token.as_deref()
            ),
            ("AK", "SK", Some("TOK"))
        );
        let renew_in = renew_at - Instant::now();
        assert!(renew_in > Duration::from_secs(3200) && renew_in <= Duration::from_secs(3300));
    }

    #[test]
    fn without_an_expiry_it_renews_soon() {
        let answer: RoleCredentials =
            serde_json::from_str(r#"{"AccessKeyId":"AK","SecretAccessKey":"SK"}"#).unwrap();
        let (c, renew_at) = parse(answer, OffsetDateTime::now_utc());
        assert_eq!(c.session_token, None);
        assert!(renew_at - Instant::now() <= RENEW_BEFORE);
    }

    #[test]
    fn debug_hides_the_secret_and_the_token() {
        let c = AwsCredentials {
            access_key_id: "AK".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("token-value".into()),
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("AK"));
        assert!(!shown.contains("very-secret") && !shown.contains("token-value"));
    }
}
