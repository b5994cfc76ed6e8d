//! Administration of the schema registry through the Confluent REST API: register the
//! schemas compiled into this binary, enforce a compatibility level per subject, and
//! check a schema against what is registered. Used by `chatctl` at deploy time; the
//! services themselves only read ids (see [`crate::codec`]).

use serde::Deserialize;
use serde_json::json;

use crate::config::RegistrySettings;
use crate::events::{
    AuditEvent, AvroRecord, ConversationEvent, NotificationRequested, PresenceEvent,
};
use crate::topics::Topics;

/// Compatibility enforced on every subject: a consumer using any registered version can
/// read data written with any other (new fields need defaults, nothing is removed).
pub const COMPATIBILITY: &str = "BACKWARD_TRANSITIVE";

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("schema registry unreachable: {0}")]
    Http(#[from] reqwest::Error),
    #[error("schema registry refused {what} ({status}): {body}")]
    Refused {
        what: String,
        status: u16,
        body: String,
    },
}

/// Each value subject with the schema this build writes to it.
pub fn subjects(topics: &Topics) -> Vec<(String, &'static str)> {
    vec![
        (
            Topics::value_subject(&topics.conversation_events),
            ConversationEvent::schema_source(),
        ),
        (
            Topics::value_subject(&topics.presence),
            PresenceEvent::schema_source(),
        ),
        (
            Topics::value_subject(&topics.notifications),
            NotificationRequested::schema_source(),
        ),
        (
            Topics::value_subject(&topics.audit),
            AuditEvent::schema_source(),
        ),
    ]
}

pub struct RegistryAdmin {
    http: reqwest::Client,
    base: String,
    settings: RegistrySettings,
}

#[derive(Deserialize)]
struct IdResponse {
    id: u32,
}

#[derive(Deserialize)]
struct CompatibilityResponse {
    is_compatible: bool,
    /// Why not, with `?verbose=true`: Apicurio's ccompat API answers `reason`, the
    /// Confluent one `messages`.
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    messages: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigResponse {
    compatibility: Option<String>,
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
}

impl RegistryAdmin {
    pub fn new(settings: &RegistrySettings) -> Result<Self, RegistryError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            base: settings.url.trim_end_matches('/').to_string(),
            settings: settings.clone(),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("Accept", CONTENT_TYPE);
        if let Some(user) = &self.settings.username {
            r = r.basic_auth(user, Some(self.settings.password.expose()));
        }
        r
    }

    async fn send(
        &self,
        what: &str,
        r: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RegistryError> {
        let resp = r.send().await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        Err(RegistryError::Refused {
            what: what.to_string(),
            status,
            body,
        })
    }

    fn subject_path(subject: &str) -> String {
        subject.replace('/', "%2F")
    }

    /// Set the compatibility level of one subject.
    pub async fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), RegistryError> {
        let r = self
            .request(
                reqwest::Method::PUT,
                &format!("/config/{}", Self::subject_path(subject)),
            )
            .header("Content-Type", CONTENT_TYPE)
            .body(json!({ "compatibility": level }).to_string());
        self.send(&format!("setting compatibility of {subject}"), r)
            .await?;
        Ok(())
    }

    /// The compatibility level in force for a subject (its own, else the global one).
    pub async fn compatibility(&self, subject: &str) -> Result<Option<String>, RegistryError> {
        let path = format!(
            "/config/{}?defaultToGlobal=true",
            Self::subject_path(subject)
        );
        let r = self.request(reqwest::Method::GET, &path);
        let resp = match self
            .send(&format!("reading compatibility of {subject}"), r)
            .await
        {
            Ok(resp) => resp,
            Err(RegistryError::Refused { status: 404, .. }) => {
                let r = self.request(reqwest::Method::GET, "/config");
                self.send("reading global compatibility", r).await?
            }
            Err(e) => return Err(e),
        };
        let c: ConfigResponse = resp.json().await?;
        Ok(c.compatibility_level.or(c.compatibility))
    }

    /// Register `schema` under `subject` (a no-op returning the same id when it is
    /// already registered); refused when it breaks the subject's compatibility.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let r = self
            .request(
                reqwest::Method::POST,
                &format!("/subjects/{}/versions", Self::subject_path(subject)),
            )
            .header("Content-Type", CONTENT_TYPE)
            .body(json!({ "schema": schema }).to_string());
        let resp = self.send(&format!("registering {subject}"), r).await?;
        Ok(resp.json::<IdResponse>().await?.id)
    }

    /// Whether `schema` could be registered as the next version of `subject`
    /// (true for a subject with no versions yet).
    pub async fn is_compatible(&self, subject: &str, schema: &str) -> Result<bool, RegistryError> {
        Ok(self.why_incompatible(subject, schema).await?.is_none())
    }

    /// None when `schema` may be registered under `subject` (or the subject is new);
    /// else the registry's reason, as it words it.
    pub async fn why_incompatible(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<Option<String>, RegistryError> {
        let r = self
            .request(
                reqwest::Method::POST,
                &format!(
                    "/compatibility/subjects/{}/versions/latest?verbose=true",
                    Self::subject_path(subject)
                ),
            )
            .header("Content-Type", CONTENT_TYPE)
            .body(json!({ "schema": schema }).to_string());
        match self.send(&format!("checking {subject}"), r).await {
            Ok(resp) => {
                let verdict = resp.json::<CompatibilityResponse>().await?;
                if verdict.is_compatible {
                    return Ok(None);
                }
                let why = verdict
                    .reason
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| verdict.messages.join("; "));
                Ok(Some(if why.is_empty() {
                    "the registry gave no reason".into()
                } else {
                    why
                }))
            }
            Err(RegistryError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// All subjects, for health checks and `chatctl schemas list`.
    pub async fn list_subjects(&self) -> Result<Vec<String>, RegistryError> {
        let r = self.request(reqwest::Method::GET, "/subjects");
        Ok(self.send("listing subjects", r).await?.json().await?)
    }
}
