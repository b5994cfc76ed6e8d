//! The object store, as the gateway uses it: sign a PUT for an upload, sign a GET for a
//! download, and HEAD an object to check an upload before a message carries it. The
//! signing is SigV4 query-string presigning (`rusty-s3`, which signs and does no I/O);
//! the one request the gateway makes itself (HEAD) goes through reqwest.

use std::time::Duration;

use chat_core::aws_credentials::{AwsCredentials, CredentialSource, CredentialsError};
use rusty_s3::actions::{GetObject, HeadObject, PutObject, S3Action};
use rusty_s3::{Bucket, Credentials, Method, UrlStyle};

use super::AttachmentSettings;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object storage settings: {0}")]
    Setup(String),
    #[error("object storage unreachable: {0}")]
    Unreachable(String),
}

impl From<CredentialsError> for StorageError {
    fn from(e: CredentialsError) -> Self {
        match e {
            CredentialsError::Setup(m) => Self::Setup(format!("gateway.attachments: {m}")),
            CredentialsError::Unreachable(m) => Self::Unreachable(m),
        }
    }
}

/// The shared credentials in the form rusty-s3 signs with.
fn s3_credentials(c: AwsCredentials) -> Credentials {
    match c.session_token {
        Some(token) => Credentials::new_with_token(c.access_key_id, c.secret_access_key, token),
        None => Credentials::new(c.access_key_id, c.secret_access_key),
    }
}

/// What a HEAD found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub size: i64,
    pub content_type: String,
    /// The file name the upload was signed with, percent-encoded (RFC 5987).
    pub filename: Option<String>,
}

/// A presigned PUT: the URL and the headers the client must send with it.
pub struct PresignedPut {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
}

/// The object metadata header that keeps an upload's file name.
const FILENAME_HEADER: &str = "x-amz-meta-filename";

/// Every upload is stored tagged `chat-upload=pending` (a signed header of its PUT) and
/// retagged `attached` when a message carries it. The bucket's lifecycle rule
/// (`terraform/modules/attachments`) expires what is still pending after a day: a rule
/// can match a tag, not the absence of one.
const PENDING_TAG: &str = "chat-upload=pending";
const ATTACHED_TAGGING: &str =
    "<Tagging><TagSet><Tag><Key>chat-upload</Key><Value>attached</Value></Tag></TagSet></Tagging>";
/// Base64 of the MD5 of [`ATTACHED_TAGGING`], which S3 may ask for (`Content-MD5`).
/// The body never changes, so it is computed once here rather than at run time.
const ATTACHED_TAGGING_MD5: &str = "XYqLcTrlt6O08P00xh3hMQ==";

pub struct ObjectStore {
    /// The bucket as the gateway reaches it (HEAD).
    internal: Bucket,
    /// The bucket as clients reach it (the URLs handed out).
    public: Bucket,
    credentials: CredentialSource,
    http: reqwest::Client,
    ttl: Duration,
}

fn bucket(endpoint: &str, s: &AttachmentSettings) -> Result<Bucket, StorageError> {
    let url = endpoint
        .parse()
        .map_err(|e| StorageError::Setup(format!("endpoint {endpoint}: {e}")))?;
    let style = if s.url_style == "virtual_host" {
        UrlStyle::VirtualHost
    } else {
        UrlStyle::Path
    };
    Bucket::new(url, style, s.bucket.clone(), s.region.clone())
        .map_err(|e| StorageError::Setup(format!("bucket {}: {e}", s.bucket)))
}

impl ObjectStore {
    pub fn new(s: &AttachmentSettings) -> Result<Self, StorageError> {
        let public_endpoint = if s.public_endpoint.is_empty() {
            &s.endpoint
        } else {
            &s.public_endpoint
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StorageError::Setup(e.to_string()))?;
        Ok(Self {
            internal: bucket(&s.endpoint, s)?,
            public: bucket(public_endpoint, s)?,
            credentials: CredentialSource::configured_or_task_role(
                &s.access_key_id,
                s.secret_access_key.expose(),
            )?,
            http,
            ttl: Duration::from_secs(s.url_ttl_secs),
        })
    }

    pub fn url_ttl(&self) -> Duration {
        self.ttl
    }

    /// A PUT of `key` with this content type and file name. Both are signed headers,
    /// so the object is stored with the type the gateway allowed and the name it was
    /// promised under (kept as object metadata for downloads).
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        filename: &str,
    ) -> Result<PresignedPut, StorageError> {
        let credentials = s3_credentials(self.credentials.current(&self.http).await?);
        let mut put = PutObject::new(&self.public, Some(&credentials), key);
        let encoded = percent_encode(filename);
        put.headers_mut()
            .insert("content-type", content_type.to_string());
        put.headers_mut().insert(FILENAME_HEADER, encoded.clone());
        put.headers_mut().insert("x-amz-tagging", PENDING_TAG);
        Ok(PresignedPut {
            url: put.sign(self.ttl).to_string(),
            headers: vec![
                ("Content-Type", content_type.to_string()),
                (FILENAME_HEADER, encoded),
                ("x-amz-tagging", PENDING_TAG.to_string()),
            ],
        })
    }

    /// Retag an upload `attached`, so the lifecycle rule no longer expires it.
    pub async fn mark_attached(&self, key: &str) -> Result<(), StorageError> {
        let credentials = s3_credentials(self.credentials.current(&self.http).await?);
        let url = rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            Method::Put,
            self.internal.object_url(key),
            credentials.key(),
            credentials.secret(),
            credentials.token(),
            self.internal.region(),
            self.ttl.as_secs(),
            [("tagging", "")].into_iter(),
            std::iter::empty(),
        );
        let answer = self
            .http
            .put(url)
            .header("Content-MD5", ATTACHED_TAGGING_MD5)
            .body(ATTACHED_TAGGING)
            .send()
            .await
            .map_err(|e| StorageError::Unreachable(e.to_string()))?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(StorageError::Unreachable(format!(
                "tagging {key} answered {}",
                answer.status()
            )))
        }
    }

    /// The origin clients fetch objects from, for the page's content security policy.
    pub fn public_origin(&self) -> String {
        self.public.base_url().origin().ascii_serialization()
    }

    /// A GET of `key`. Anything but an image downloads as a file (never rendered by the
    /// browser from the bucket's origin), under its own name (`encoded_filename`, as
    /// [`StoredObject::filename`] has it).
    pub async fn presign_get(
        &self,
        key: &str,
        encoded_filename: Option<&str>,
        content_type: &str,
    ) -> Result<String, StorageError> {
        let credentials = s3_credentials(self.credentials.current(&self.http).await?);
        let mut get = GetObject::new(&self.public, Some(&credentials), key);
        let inline = content_type.starts_with("image/");
        let disposition = match encoded_filename {
            Some(name) => format!(
                "{}; filename*=UTF-8''{}",
                if inline { "inline" } else { "attachment" },
                // Only what percent_encode writes: nothing else can reach the header.
                name.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "%-._~".contains(*c))
                    .collect::<String>()
            ),
            None if inline => "inline".into(),
            None => "attachment".into(),
        };
        get.query_mut()
            .insert("response-content-disposition", disposition);
        Ok(get.sign(self.ttl).to_string())
    }

    /// The object at `key`, or None when there is none.
    pub async fn head(&self, key: &str) -> Result<Option<StoredObject>, StorageError> {
        let credentials = s3_credentials(self.credentials.current(&self.http).await?);
        let url = HeadObject::new(&self.internal, Some(&credentials), key).sign(self.ttl);
        let answer = self
            .http
            .head(url)
            .send()
            .await
            .map_err(|e| StorageError::Unreachable(e.to_string()))?;
        match answer.status().as_u16() {
            404 => Ok(None),
            200 => {
                let header = |name: &str| {
                    answer
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                Ok(Some(StoredObject {
                    size: header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(-1),
                    content_type: header("content-type").unwrap_or_default(),
                    filename: header(FILENAME_HEADER),
                }))
            }
            other => Err(StorageError::Unreachable(format!(
                "HEAD {key} answered {other}"
            ))),
        }
    }
}

/// RFC 5987 encoding of a file name for `filename*=`.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_encoded_whole() {
        assert_eq!(percent_encode("a b\"<x>.pdf"), "a%20b%22%3Cx%3E.pdf");
        assert_eq!(percent_encode("rapport é.txt"), "rapport%20%C3%A9.txt");
    }
}
