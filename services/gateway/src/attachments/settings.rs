//! `[gateway.attachments]` (`CHAT__GATEWAY__ATTACHMENTS__*`).

use chat_core::config::Secret;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct AttachmentSettings {
    /// The S3 API the gateway signs for and checks uploads at, e.g.
    /// `https://s3.eu-west-1.amazonaws.com`, or the local SeaweedFS. Empty turns
    /// attachments off (`POST /api/v1/uploads` answers `unavailable`).
    pub endpoint: String,
    /// The S3 API as clients reach it, when it differs (empty: `endpoint`).
    pub public_endpoint: String,
    pub bucket: String,
    pub region: String,
    /// `path` (`endpoint/bucket/key`: SeaweedFS and most S3-compatible servers) or
    /// `virtual_host` (`bucket.endpoint/key`: AWS).
    pub url_style: String,
    /// Static keys. Empty: the task role's credentials (ECS), fetched and renewed.
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Largest upload, in bytes.
    pub max_bytes: i64,
    /// The content types clients may upload, comma-separated. Nothing a browser would
    /// run (HTML, SVG, JavaScript) belongs here: downloads come from the bucket's origin.
    pub content_types: String,
    /// How long a presigned URL works.
    pub url_ttl_secs: u64,
}

impl AttachmentSettings {
    pub fn defaults() -> Vec<(&'static str, config::Value)> {
        vec![
            ("attachments.endpoint", "".into()),
            ("attachments.public_endpoint", "".into()),
            ("attachments.bucket", "chat-attachments".into()),
            ("attachments.region", "us-east-1".into()),
            ("attachments.url_style", "path".into()),
            ("attachments.access_key_id", "".into()),
            ("attachments.secret_access_key", "".into()),
            ("attachments.max_bytes", (25 * 1024 * 1024).into()),
            (
                "attachments.content_types",
                "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,\
                 application/zip,audio/mpeg,video/mp4"
                    .into(),
            ),
            ("attachments.url_ttl_secs", 300.into()),
        ]
    }

    pub fn enabled(&self) -> bool {
        !self.endpoint.is_empty()
    }

    pub fn allows(&self, content_type: &str) -> bool {
        self.content_types
            .split(',')
            .map(str::trim)
            .any(|t| !t.is_empty() && t.eq_ignore_ascii_case(content_type))
    }

    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled() {
            return Ok(());
        }
        if !matches!(self.url_style.as_str(), "path" | "virtual_host") {
            return Err("gateway.attachments.url_style must be path or virtual_host".into());
        }
        if self.max_bytes < 1 || !(1..=604_800).contains(&self.url_ttl_secs) {
            return Err(
                "gateway.attachments.max_bytes must be positive and url_ttl_secs 1 to 604800"
                    .into(),
            );
        }
        if self.access_key_id.is_empty() != self.secret_access_key.is_empty() {
            return Err("gateway.attachments.access_key_id and secret_access_key are set together (or neither: the task role's)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(types: &str) -> AttachmentSettings {
        AttachmentSettings {
            endpoint: "http://127.0.0.1:8333".into(),
            public_endpoint: String::new(),
            bucket: "b".into(),
            region: "us-east-1".into(),
            url_style: "path".into(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            max_bytes: 10,
            content_types: types.into(),
            url_ttl_secs: 300,
        }
    }

    #[test]
    fn only_listed_types_are_allowed() {
        let s = settings("image/png, application/pdf");
        assert!(s.allows("image/png") && s.allows("Application/PDF"));
        assert!(!s.allows("text/html") && !s.allows("") && !s.allows("image/svg+xml"));
        assert!(!settings("").allows(""));
    }

    #[test]
    fn keys_come_in_pairs() {
        let mut s = settings("image/png");
        assert!(s.validate().is_ok());
        s.access_key_id = "k".into();
        assert!(s.validate().is_err());
        s.secret_access_key = Secret::new("s");
        assert!(s.validate().is_ok());
        s.url_style = "dns".into();
        assert!(s.validate().is_err());
    }
}
