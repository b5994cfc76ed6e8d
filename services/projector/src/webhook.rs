//! `--role webhook`: every record of `chat.notifications` POSTed as JSON to one
//! configured URL, signed, retried, and parked on the dead-letter topic when it cannot
//! be delivered. Nothing is dropped silently: a record either got a 2xx answer or is in
//! `chat.dead-letter` with the reason and the attempts in its headers.
//!
//! The request:
//! - body: the notification as JSON (`reason` lowercase, `count` for coalesced bursts,
//!   `occurred_at` in RFC 3339);
//! - `X-Chat-Timestamp`: Unix seconds when this attempt was signed;
//! - `X-Chat-Signature`: `v1=` and the hex HMAC-SHA256, keyed with the shared secret, of
//!   `{timestamp}.{body}`. Receivers recompute it, compare in constant time, and refuse
//!   old timestamps (a replayed request keeps its old timestamp);
//! - `X-Chat-Notification-Id`: the same on every attempt and on a repeat after a crash,
//!   so receivers can drop duplicates (delivery is at least once).
//!
//! Answers: 2xx is delivered. 408, 429, 5xx, timeouts and connection failures are
//! retried with exponential backoff and full jitter, up to the configured attempts.
//! Any other 4xx means the receiver refuses this request as it is: retrying cannot
//! help, so it is parked at once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backon::{ExponentialBuilder, Retryable};
use chat_core::config::WebhookSettings;
use chat_core::events::{Logged, NotificationRequested, Rejection};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::error::{ProjectionError, WebhookSetupError};
use crate::runner::Projection;

/// Requests in flight per chunk.
const CONCURRENCY: usize = 32;

/// The longest wait between two attempts, whatever the configured first backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

pub struct Webhook {
    pub client: reqwest::Client,
    pub url: reqwest::Url,
    pub secret: Vec<u8>,
    pub attempts: usize,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Opens sealed previews, at each attempt: a notification retried after its sender
    /// was erased goes out with an empty preview.
    pub keyring: Option<std::sync::Arc<chat_store::keyring::Keyring>>,
}

impl Webhook {
    /// The sink its settings describe; an error naming the setting when the receiver's
    /// URL or the signing key is missing or unusable.
    pub fn from_settings(settings: &WebhookSettings) -> Result<Self, WebhookSetupError> {
        let url = settings
            .url
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or(WebhookSetupError::MissingUrl)?;
        let url = reqwest::Url::parse(url).map_err(WebhookSetupError::InvalidUrl)?;
        if settings.secret.is_empty() {
            return Err(WebhookSetupError::MissingSecret);
        }
        // No redirects: a receiver that moved must be reconfigured, not followed, so a
        // notification (and its signature) goes nowhere the operator did not name. A 3xx
        // is then an answer that refuses the request, and the notification is parked.
        let client = reqwest::Client::builder()
            .timeout(settings.timeout())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(WebhookSetupError::Client)?;
        Ok(Self {
            client,
            url,
            secret: settings.secret.expose().as_bytes().to_vec(),
            attempts: settings.attempts,
            first_backoff: settings.backoff(),
            max_backoff: MAX_BACKOFF,
            keyring: None,
        })
    }

    pub fn with_keyring(mut self, keyring: std::sync::Arc<chat_store::keyring::Keyring>) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// The notification with its preview in the clear, if it can be opened now. An
    /// erased sender's (or an unreadable) preview is left empty.
    async fn opened(&self, n: &NotificationRequested) -> Result<NotificationRequested, Failure> {
        let mut n = n.clone();
        let (Some(sealed), Some(keyring)) = (n.sealed_preview.take(), self.keyring.as_ref()) else {
            return Ok(n);
        };
        match keyring.open_content(&sealed, n.message_id.0).await {
            Ok(Some(content)) => n.preview = content.body,
            Ok(None) => {}
            Err(e) if e.is_permanent() => {
                tracing::warn!(notification_id = %n.notification_id, error = %e, "sealed preview does not open");
            }
            Err(e) => return Err(Failure::Sealing(e.to_string())),
        }
        Ok(n)
    }
}

/// Why one attempt was not delivered.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// No answer: refused connection, timeout, broken transfer. Held without the URL
    /// (`reqwest::Error::without_url`): it goes to logs and to the dead-letter topic's
    /// `dlq.reason`, and a receiver's URL can carry a token in its path or query.
    #[error("request failed: {0}")]
    Request(#[source] reqwest::Error),
    /// An answer other than 2xx.
    #[error("receiver answered {0}")]
    Answered(reqwest::StatusCode),
    /// The preview's key could not be had (the CQL store or the KMS did not answer).
    #[error("opening the preview: {0}")]
    Sealing(String),
}

impl Failure {
    /// Worth another attempt. Any 4xx but 408 and 429 means the receiver refuses this
    /// request as it is, and would refuse it again.
    fn is_transient(&self) -> bool {
        match self {
            Failure::Request(_) | Failure::Sealing(_) => true,
            Failure::Answered(status) => {
                status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error()
            }
        }
    }
}

/// The signature header value for a body signed at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + digest.len() * 2);
    out.push_str("v1=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The JSON body of a notification.
pub fn body_of(n: &NotificationRequested) -> Value {
    json!({
        "notification_id": n.notification_id,
        "user_id": n.user_id,
        "conversation_id": n.conversation_id,
        "message_id": n.message_id,
        "seq": n.seq,
        "sender_id": n.sender_id,
        "preview": n.preview,
        "reason": n.reason.symbol().to_ascii_lowercase(),
        "count": n.coalesced_count,
        "occurred_at": n.occurred_at.to_rfc3339(),
    })
}

impl Webhook {
    async fn attempt(&self, n: &NotificationRequested, body: &[u8]) -> Result<(), Failure> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let response = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("x-chat-timestamp", timestamp.to_string())
            .header("x-chat-signature", sign(&self.secret, timestamp, body))
            .header("x-chat-notification-id", n.notification_id.to_string())
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Failure::Request(e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(Failure::Answered(status))
        }
    }

    /// One attempt with the preview opened at the time of the attempt.
    async fn open_and_attempt(&self, n: &NotificationRequested) -> Result<(), Failure> {
        let opened = self.opened(n).await?;
        let body = body_of(&opened).to_string().into_bytes();
        self.attempt(&opened, &body).await
    }

    /// Deliver one record; a rejection (for the dead-letter topic) when it cannot be.
    async fn deliver(&self, r: &Logged<NotificationRequested>) -> Option<Rejection> {
        let policy = ExponentialBuilder::default()
            .with_min_delay(self.first_backoff)
            .with_max_delay(self.max_backoff)
            .with_max_times(self.attempts.saturating_sub(1))
            .with_jitter();
        let mut tries = 0usize;
        let result = (|| {
            tries += 1;
            self.open_and_attempt(&r.event)
        })
        .retry(policy)
        .when(Failure::is_transient)
        .notify(|f, wait| {
            metrics::counter!("webhook_retries_total").increment(1);
            tracing::warn!(
                notification_id = %r.event.notification_id,
                error = %f,
                retry_in_ms = wait.as_millis() as u64,
                "webhook attempt failed"
            );
        })
        .await;
        match result {
            Ok(()) => {
                metrics::counter!("webhook_delivered_total").increment(1);
                None
            }
            Err(f) => {
                metrics::counter!("webhook_parked_total").increment(1);
                let reason = if f.is_transient() {
                    format!("webhook gave up after {tries} attempts: {f}")
                } else {
                    format!("webhook refused it: {f}")
                };
                tracing::error!(notification_id = %r.event.notification_id, %reason, "parking notification");
                Some(Rejection {
                    partition: r.partition,
                    offset: r.offset,
                    reason,
                })
            }
        }
    }
}

impl Projection for Webhook {
    type Event = NotificationRequested;
    /// Each record is a request: smaller chunks keep a slow receiver from holding many.
    const MAX_CHUNK: usize = 256;

    async fn apply(
        &self,
        records: Vec<Logged<NotificationRequested>>,
    ) -> Result<Vec<Rejection>, ProjectionError> {
        let rejected: Vec<Option<Rejection>> = futures::stream::iter(records)
            .map(|r| async move { self.deliver(&r).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        Ok(rejected.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use chat_core::config::Secret;

    use super::*;

    fn settings(url: Option<&str>, secret: &str) -> WebhookSettings {
        WebhookSettings {
            url: url.map(str::to_string),
            secret: Secret::new(secret),
            attempts: 3,
            backoff_ms: 200,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn needs_a_url_and_a_secret_and_names_their_variables() {
        let missing_url = Webhook::from_settings(&settings(None, "k"))
            .err()
            .expect("refused");
        assert!(matches!(missing_url, WebhookSetupError::MissingUrl));
        assert!(missing_url.to_string().contains("CHAT__WEBHOOK__URL"));
        let empty_url = Webhook::from_settings(&settings(Some(""), "k"))
            .err()
            .expect("refused");
        assert!(matches!(empty_url, WebhookSetupError::MissingUrl));
        let bad_url = Webhook::from_settings(&settings(Some("not a url"), "k"))
            .err()
            .expect("refused");
        assert!(matches!(bad_url, WebhookSetupError::InvalidUrl(_)));
        let no_secret = Webhook::from_settings(&settings(Some("http://127.0.0.1:9/hook"), ""))
            .err()
            .expect("refused");
        assert!(matches!(no_secret, WebhookSetupError::MissingSecret));
        assert!(no_secret.to_string().contains("CHAT__WEBHOOK__SECRET"));

        let sink = Webhook::from_settings(&settings(Some("http://127.0.0.1:9/hook"), "k")).unwrap();
        assert_eq!(sink.url.as_str(), "http://127.0.0.1:9/hook");
        assert_eq!(sink.secret, b"k");
        assert_eq!(sink.attempts, 3);
        assert_eq!(sink.first_backoff, Duration::from_millis(200));
    }

    #[test]
    fn only_answers_that_may_change_are_retried() {
        let answered = |code: u16| {
            Failure::Answered(reqwest::StatusCode::from_u16(code).expect("a status code"))
        };
        for code in [408, 429, 500, 502, 503] {
            assert!(answered(code).is_transient(), "{code}");
        }
        for code in [400, 401, 403, 404, 410, 422] {
            assert!(!answered(code).is_transient(), "{code}");
        }
        assert_eq!(answered(404).to_string(), "receiver answered 404 Not Found");
    }

    fn notification() -> NotificationRequested {
        use chat_core::events::NotificationReason;
        use chat_core::ids::{ConversationId, MessageId, UserId};
        NotificationRequested {
            notification_id: uuid::Uuid::new_v4(),
            user_id: UserId(uuid::Uuid::new_v4()),
            conversation_id: ConversationId(uuid::Uuid::new_v4()),
            message_id: MessageId(uuid::Uuid::new_v4()),
            seq: 1,
            sender_id: UserId(uuid::Uuid::new_v4()),
            preview: "hi".into(),
            reason: NotificationReason::Dm,
            coalesced_count: 1,
            occurred_at: chat_core::time::UnixMillis::now(),
            sealed_preview: None,
        }
    }

    #[tokio::test]
    async fn failures_never_carry_the_receivers_url() {
        // Nothing listens on port 9 here: the connection is refused.
        let sink = Webhook::from_settings(&settings(
            Some("http://127.0.0.1:9/hooks/secret-path-token?key=secret-query-token"),
            "k",
        ))
        .unwrap();
        let f = sink.attempt(&notification(), b"{}").await.unwrap_err();
        let text = format!("{f} / {f:?}");
        assert!(matches!(f, Failure::Request(_)), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[tokio::test]
    async fn redirects_are_answers_not_followed() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let followed = Arc::new(AtomicUsize::new(0));
        let seen = followed.clone();
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(|| async {
                    (
                        axum::http::StatusCode::TEMPORARY_REDIRECT,
                        [(axum::http::header::LOCATION, "/elsewhere")],
                    )
                }),
            )
            .route(
                "/elsewhere",
                axum::routing::post(move || {
                    seen.fetch_add(1, Ordering::SeqCst);
                    async { "ok" }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let sink =
            Webhook::from_settings(&settings(Some(&format!("http://{addr}/hook")), "k")).unwrap();
        let f = sink.attempt(&notification(), b"{}").await.unwrap_err();
        assert!(
            matches!(f, Failure::Answered(s) if s.as_u16() == 307),
            "{f}"
        );
        assert!(!f.is_transient(), "a redirect parks the notification");
        assert_eq!(followed.load(Ordering::SeqCst), 0, "never followed");
    }

    #[test]
    fn signs_timestamp_and_body() {
        // HMAC-SHA256("key", "1700000000.{}"), computed independently (Python's hmac).
        let s = sign(b"key", 1_700_000_000, b"{}");
        assert_eq!(
            s,
            "v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(s, sign(b"key", 1_700_000_001, b"{}"));
        assert_ne!(s, sign(b"other", 1_700_000_000, b"{}"));
        assert_eq!(s, sign(b"key", 1_700_000_000, b"{}"));
    }
}
