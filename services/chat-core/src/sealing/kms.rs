//! The production key-encryption key: an AWS KMS key, reached over its JSON API.
//!
//! `wrap` is KMS `Encrypt` and `unwrap` is KMS `Decrypt`, each one `POST /` with
//! `X-Amz-Target: TrentService.<operation>` and an `application/x-amz-json-1.1` body.
//! The key material never leaves KMS: what is stored beside a user's data key is KMS's
//! ciphertext blob. Both calls carry the encryption context
//! `{"purpose": "chat-data-key"}`, which KMS binds to the blob (a blob only decrypts with
//! the same context) and writes into CloudTrail, so a key policy or an auditor can tell
//! these calls from any other use of the key. `Decrypt` also names the key, so a blob
//! wrapped by another key is refused rather than decrypted by whatever key it names.
//!
//! Requests are signed with AWS Signature Version 4 (service `kms`), written here rather
//! than taken from a crate: the AWS SDK (and its `aws-sigv4`) is minutes of build on 2
//! cores for what is one request shape, and `rusty-s3`, which the gateway signs S3 URLs
//! with, only presigns S3 query strings. The signer is the canonical request, the string
//! to sign and the HMAC chain of the SigV4 specification for a `POST /` without a query
//! string, checked against AWS's published test-suite vectors (the tests below). It uses
//! the `hmac` and `sha2` versions the workspace already builds.
//!
//! Credentials: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` from the
//! environment, else the ECS task role (`crate::aws_credentials`), renewed before they
//! expire.
//!
//! Errors are [`SealingError::Kms`] with the operation, KMS's error `__type` and its
//! message; never the data key, plain or wrapped.

use std::time::Duration;

use ::time::OffsetDateTime;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{KeyEncryptionKey, SealingError};
use crate::aws_credentials::{AwsCredentials, CredentialSource};

/// The encryption context of every wrapped data key.
const PURPOSE: &str = "chat-data-key";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const SERVICE: &str = "kms";

/// A KMS call is one small request; a KMS that takes longer than this is failing, and
/// the caller (the keyring) decides whether to try again.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A KMS symmetric key (`SYMMETRIC_DEFAULT`) as the key-encryption key.
pub struct AwsKmsKek {
    /// `aws-kms:<key id>`, recorded beside each wrapped key.
    id: String,
    /// As given: a key id, a key ARN, an alias (`alias/chat`) or an alias ARN.
    key_id: String,
    region: String,
    url: reqwest::Url,
    /// The `Host` header, as signed: the endpoint's host, and its port when not the
    /// scheme's default.
    host: String,
    http: reqwest::Client,
    credentials: CredentialSource,
}

impl AwsKmsKek {
    /// A KEK that wraps with `key_id` in `region`, at `endpoint` (None: the region's
    /// public endpoint, `https://kms.<region>.amazonaws.com`; locally, local-kms's
    /// `KMS_ENDPOINT`). Reads where credentials come from now (environment, else the
    /// task role) and fetches them at the first call.
    pub fn new(
        key_id: String,
        region: String,
        endpoint: Option<String>,
    ) -> Result<Self, SealingError> {
        if key_id.trim().is_empty() {
            return Err(SealingError::Kms("no KMS key id is configured".into()));
        }
        // The region goes into the host name and the signature's scope.
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(SealingError::Kms(format!(
                "KMS region {region:?} is not a region name"
            )));
        }
        let endpoint = endpoint
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"));
        let url = reqwest::Url::parse(endpoint.trim())
            .map_err(|e| SealingError::Kms(format!("KMS endpoint {endpoint}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SealingError::Kms(format!(
                "KMS endpoint {endpoint}: not http or https"
            )));
        }
        // Every KMS operation is `POST /`: the signature below covers that path only.
        if url.path() != "/" || url.query().is_some() {
            return Err(SealingError::Kms(format!(
                "KMS endpoint {endpoint}: give the origin only (scheme, host, port)"
            )));
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => {
                return Err(SealingError::Kms(format!(
                    "KMS endpoint {endpoint}: no host"
                )))
            }
        };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| SealingError::Kms(format!("HTTP client: {e}")))?;
        let credentials = CredentialSource::environment_or_task_role()
            .map_err(|e| SealingError::Kms(format!("AWS credentials: {e}")))?;
        Ok(Self {
            id: format!("aws-kms:{key_id}"),
            key_id,
            region,
            url,
            host,
            http,
            credentials,
        })
    }

    /// One signed KMS call; the answer's JSON on success, KMS's error otherwise.
    async fn call<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        body: &serde_json::Value,
    ) -> Result<T, SealingError> {
        let payload = serde_json::to_vec(body)?;
        let credentials = self
            .credentials
            .current(&self.http)
            .await
            .map_err(|e| SealingError::Kms(format!("{operation}: AWS credentials: {e}")))?;
        let amz_date = amz_date(OffsetDateTime::now_utc());
        let headers = request_headers(
            &self.host,
            &amz_date,
            operation,
            credentials.session_token.as_deref(),
        );
        let authorization = sign(
            &credentials,
            &self.region,
            SERVICE,
            &amz_date,
            "POST",
            &headers,
            &payload,
        );
        let mut request = self
            .http
            .post(self.url.clone())
            .header("authorization", authorization);
        for (name, value) in &headers {
            request = request.header(*name, value.as_str());
        }
        let answer = request
            .body(payload)
            .send()
            .await
            .map_err(|e| SealingError::Kms(format!("{operation}: {e}")))?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| SealingError::Kms(format!("{operation}: reading the answer: {e}")))?;
        if !status.is_success() {
            return Err(SealingError::Kms(format!(
                "{operation}: {}",
                describe_error(status, &bytes)
            )));
        }
        // Only where the JSON went wrong, never serde's excerpt of it: a Decrypt answer
        // holds the data key.
        serde_json::from_slice(&bytes).map_err(|e| {
            SealingError::Kms(format!(
                "{operation}: the answer is not the JSON KMS sends ({:?} error at line {} \
                 column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }

    async fn encrypt(&self, data_key: &[u8]) -> Result<Vec<u8>, SealingError> {
        let body = serde_json::json!({
            "KeyId": self.key_id,
            "Plaintext": BASE64.encode(data_key),
            "EncryptionContext": { "purpose": PURPOSE },
        });
        let answer: EncryptAnswer = self.call("Encrypt", &body).await?;
        BASE64
            .decode(answer.ciphertext_blob)
            .map_err(|_| SealingError::Kms("Encrypt: CiphertextBlob is not base64".into()))
    }

    async fn decrypt(&self, wrapped: &[u8]) -> Result<Vec<u8>, SealingError> {
        let body = serde_json::json!({
            "KeyId": self.key_id,
            "CiphertextBlob": BASE64.encode(wrapped),
            "EncryptionContext": { "purpose": PURPOSE },
        });
        let answer: DecryptAnswer = self.call("Decrypt", &body).await?;
        BASE64
            .decode(answer.plaintext)
            .map_err(|_| SealingError::Kms("Decrypt: Plaintext is not base64".into()))
    }
}

impl KeyEncryptionKey for AwsKmsKek {
    fn id(&self) -> &str {
        &self.id
    }
    fn wrap<'a>(&'a self, data_key: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, SealingError>> {
        Box::pin(self.encrypt(data_key))
    }
    fn unwrap<'a>(&'a self, wrapped: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, SealingError>> {
        Box::pin(self.decrypt(wrapped))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptAnswer {
    ciphertext_blob: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptAnswer {
    plaintext: String,
}

/// KMS's error body: `{"__type": "NotFoundException", "message": "..."}` (a few errors
/// say `Message`).
#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(rename = "__type")]
    kind: Option<String>,
    #[serde(alias = "Message")]
    message: Option<String>,
}

/// `NotFoundException: Key '...' does not exist (HTTP 400)`, or the status and the start
/// of a body that is not KMS's (a proxy's error page).
fn describe_error(status: reqwest::StatusCode, body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorAnswer>(body) {
        Ok(ErrorAnswer {
            kind: Some(kind),
            message,
        }) => {
            // The type may be qualified (`com.amazonaws.kms#NotFoundException`) or carry
            // a `:<url>` suffix.
            let kind = kind.rsplit('#').next().unwrap_or(kind.as_str());
            let kind = kind.split(':').next().unwrap_or(kind);
            match message.filter(|m| !m.is_empty()) {
                Some(m) => format!("{kind}: {m} (HTTP {})", status.as_u16()),
                None => format!("{kind} (HTTP {})", status.as_u16()),
            }
        }
        _ => {
            let text: String = String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            format!("HTTP {}: {}", status.as_u16(), text.trim())
        }
    }
}

/// `YYYYMMDD'T'HHMMSS'Z'`, the form of `X-Amz-Date`.
fn amz_date(now: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Every header a KMS request carries besides `Authorization`, lower-case, all of them
/// signed (the session token too: KMS accepts it either way, and signed it cannot be
/// swapped).
fn request_headers(
    host: &str,
    amz_date: &str,
    operation: &str,
    session_token: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("content-type", CONTENT_TYPE.to_string()),
        ("host", host.to_string()),
        ("x-amz-date", amz_date.to_string()),
        ("x-amz-target", format!("TrentService.{operation}")),
    ];
    if let Some(token) = session_token {
        headers.push(("x-amz-security-token", token.to_string()));
    }
    headers
}

/// The canonical request of SigV4 for a request to `/` with no query string, signing
/// every header given (names lower-case, values without surrounding or repeated inner
/// spaces, as ours are), and the list of signed header names.
fn canonical_request(method: &str, headers: &[(&str, String)], payload: &[u8]) -> (String, String) {
    let mut sorted: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
        .collect();
    sorted.sort();
    let signed_headers = sorted
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical = format!("{method}\n/\n\n");
    for (name, value) in &sorted {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value);
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers);
    canonical.push('\n');
    canonical.push_str(&hex(&Sha256::digest(payload)));
    (canonical, signed_headers)
}

/// The `Authorization` header of a SigV4 signature over [`canonical_request`].
fn sign(
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    amz_date: &str,
    method: &str,
    headers: &[(&str, String)],
    payload: &[u8],
) -> String {
    let (canonical, signed_headers) = canonical_request(method, headers, payload);
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac_sha256(
        format!("AWS4{}", credentials.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, \
         Signature={signature}",
        credentials.access_key_id
    )
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // AWS's SigV4 test suite ("aws-sig-v4-test-suite", in the Signature Version 4
    // documentation): its credentials, date, region and service.
    fn suite_credentials(session_token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: session_token.map(str::to_string),
        }
    }
    const SUITE_DATE: &str = "20150830T123600Z";
    const SUITE_HOST: &str = "example.amazonaws.com";

    fn suite_sign(
        headers: &[(&str, String)],
        payload: &[u8],
        session_token: Option<&str>,
    ) -> String {
        sign(
            &suite_credentials(session_token),
            "us-east-1",
            "service",
            SUITE_DATE,
            "POST",
            headers,
            payload,
        )
    }

    /// The SHA-256 of the canonical request, the last line of the vector's string to sign.
    fn canonical_hash(headers: &[(&str, String)], payload: &[u8]) -> String {
        hex(&Sha256::digest(
            canonical_request("POST", headers, payload).0.as_bytes(),
        ))
    }

    fn suite_authorization(signed_headers: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders={signed_headers}, Signature={signature}"
        )
    }

    #[test]
    fn post_vanilla_matches_the_published_vector() {
        let headers = [
            ("Host", SUITE_HOST.to_string()),
            ("X-Amz-Date", SUITE_DATE.to_string()),
        ];
        assert_eq!(
            canonical_request("POST", &headers, b"").0,
            "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            canonical_hash(&headers, b""),
            "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"
        );
        assert_eq!(
            suite_sign(&headers, b"", None),
            suite_authorization(
                "host;x-amz-date",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
            )
        );
    }

    #[test]
    fn a_body_and_its_content_type_match_the_published_vector() {
        // post-x-www-form-urlencoded: a signed Content-Type and the hash of a body.
        let headers = [
            (
                "Content-Type",
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("Host", SUITE_HOST.to_string()),
            ("X-Amz-Date", SUITE_DATE.to_string()),
        ];
        assert_eq!(
            canonical_hash(&headers, b"Param1=value1"),
            "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"
        );
        assert_eq!(
            suite_sign(&headers, b"Param1=value1", None),
            suite_authorization(
                "content-type;host;x-amz-date",
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
            )
        );
    }

    #[test]
    fn a_signed_session_token_matches_the_published_vector() {
        // post-sts-token/post-sts-header-before: the token is a signed header.
        let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsK\
                     WHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4\
                     IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE\
                     8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc\
                     8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
        let headers = [
            ("Host", SUITE_HOST.to_string()),
            ("X-Amz-Date", SUITE_DATE.to_string()),
            ("X-Amz-Security-Token", token.to_string()),
        ];
        assert_eq!(
            canonical_hash(&headers, b""),
            "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"
        );
        assert_eq!(
            suite_sign(&headers, b"", Some(token)),
            suite_authorization(
                "host;x-amz-date;x-amz-security-token",
                "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
            )
        );
    }

    #[test]
    fn a_kms_request_signs_every_header_it_sends() {
        let headers = request_headers("127.0.0.1:8091", SUITE_DATE, "Decrypt", Some("tok"));
        assert!(suite_sign(&headers, b"{}", None).contains(
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"
        ));
        let (canonical, _) = canonical_request("POST", &headers, b"{}");
        assert!(
            canonical.contains("\ncontent-type:application/x-amz-json-1.1\nhost:127.0.0.1:8091\n")
        );
        assert!(canonical.contains("\nx-amz-target:TrentService.Decrypt\n"));
    }

    #[test]
    fn the_date_header_is_compact_utc() {
        let t = OffsetDateTime::from_unix_timestamp(1_440_938_160).unwrap();
        assert_eq!(amz_date(t), SUITE_DATE);
    }

    #[test]
    fn kms_errors_read_as_type_and_message() {
        let bad = reqwest::StatusCode::BAD_REQUEST;
        assert_eq!(
            describe_error(
                bad,
                br#"{"__type":"NotFoundException","message":"Key 'k' does not exist"}"#
            ),
            "NotFoundException: Key 'k' does not exist (HTTP 400)"
        );
        assert_eq!(
            describe_error(
                bad,
                br#"{"__type":"com.amazonaws.kms#AccessDeniedException","Message":"no"}"#
            ),
            "AccessDeniedException: no (HTTP 400)"
        );
        assert_eq!(
            describe_error(bad, br#"{"__type":"InvalidCiphertextException"}"#),
            "InvalidCiphertextException (HTTP 400)"
        );
        assert_eq!(
            describe_error(
                reqwest::StatusCode::BAD_GATEWAY,
                b"<html>\nbad gateway</html>"
            ),
            "HTTP 502: <html> bad gateway</html>"
        );
    }

    #[test]
    fn an_endpoint_must_be_an_origin() {
        let kek = |endpoint: &str| {
            AwsKmsKek::new("k".into(), "eu-west-1".into(), Some(endpoint.to_string()))
        };
        // Credentials are read at construction: these fail before that, on the endpoint.
        for bad in ["ftp://kms.example", "http://kms.example/path", "not a url"] {
            assert!(
                matches!(kek(bad), Err(SealingError::Kms(m)) if m.contains("endpoint")),
                "{bad}"
            );
        }
        assert!(matches!(
            AwsKmsKek::new("k".into(), "EU WEST".into(), None),
            Err(SealingError::Kms(_))
        ));
        assert!(matches!(
            AwsKmsKek::new(" ".into(), "eu-west-1".into(), None),
            Err(SealingError::Kms(_))
        ));
    }
}
