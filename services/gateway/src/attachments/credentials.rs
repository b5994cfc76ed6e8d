//! Credentials to sign with: static keys from the settings, or the task role's. On ECS
//! (Fargate) the agent serves the role's temporary keys at
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (or `..._FULL_URI` with an authorization
//! token); they are fetched when first needed and again before they expire, so no
//! long-lived key is ever configured in production.

use std::time::{Duration, Instant};

use rusty_s3::Credentials;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::storage::StorageError;

/// The ECS agent's fixed address for `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
const ECS_AGENT: &str = "http://169.254.170.2";

/// Renewed this long before they expire (ECS rotates them well before that).
const RENEW_BEFORE: Duration = Duration::from_secs(300);

pub enum CredentialSource {
    Static(Credentials),
    TaskRole {
        url: String,
        authorization: Option<String>,
        cached: Mutex<Option<(Credentials, Instant)>>,
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
    /// Static keys when given, else the container's role.
    pub fn new(access_key_id: &str, secret: &str) -> Result<Self, StorageError> {
        if !access_key_id.is_empty() {
            return Ok(Self::Static(Credentials::new(
                access_key_id.to_string(),
                secret.to_string(),
            )));
        }
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
                return Err(StorageError::Setup(
                    "gateway.attachments has no access key and this is not a container with a \
                     task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not set)"
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
    pub async fn current(&self, http: &reqwest::Client) -> Result<Credentials, StorageError> {
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
            .map_err(|e| StorageError::Unreachable(format!("task role credentials: {e}")))?
            .json()
            .await
            .map_err(|e| StorageError::Unreachable(format!("task role credentials: {e}")))?;
        let (credentials, renew_at) = parse(answer, time::OffsetDateTime::now_utc());
        *cached = Some((credentials.clone(), renew_at));
        Ok(credentials)
    }
}

/// The credentials and when to fetch new ones: before `Expiration`, or in a few minutes
/// when it is missing or unreadable.
fn parse(answer: RoleCredentials, now: time::OffsetDateTime) -> (Credentials, Instant) {
    let credentials = match answer.token {
        Some(token) => {
            Credentials::new_with_token(answer.access_key_id, answer.secret_access_key, token)
        }
        None => Credentials::new(answer.access_key_id, answer.secret_access_key),
    };
    let left = answer
        .expiration
        .and_then(|e| {
            time::OffsetDateTime::parse(&e, &time::format_description::well_known::Rfc3339).ok()
        })
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
        let now = time::OffsetDateTime::parse(
            "2026-11-29T12:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let (c, renew_at) = parse(answer, now);
        assert_eq!((c.key(), c.secret(), c.token()), ("AK", "SK", Some("TOK")));
        let renew_in = renew_at - Instant::now();
        assert!(renew_in > Duration::from_secs(3200) && renew_in <= Duration::from_secs(3300));
    }

    #[test]
    fn without_an_expiry_it_renews_soon() {
        let answer: RoleCredentials =
            serde_json::from_str(r#"{"AccessKeyId":"AK","SecretAccessKey":"SK"}"#).unwrap();
        let (c, renew_at) = parse(answer, time::OffsetDateTime::now_utc());
        assert_eq!(c.token(), None);
        assert!(renew_at - Instant::now() <= RENEW_BEFORE);
    }
}
