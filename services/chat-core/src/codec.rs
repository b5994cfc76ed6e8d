//! Avro in Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body),
//! with schemas kept in a Confluent-compatible registry.
//!
//! Writing: the record is encoded with the schema compiled into this binary, under the
//! subject `<topic>-value`. The registry returns that schema's id (registering it if the
//! subject's compatibility rule allows, refusing it if not), and the id is cached, so the
//! registry is asked once per subject per process.
//!
//! Reading: the writer's schema is fetched by the id in the record (cached), the body is
//! decoded with it, and the value is converted into our types by field and branch name
//! (see [`AvroRecord::from_value`]), so a record written under any compatible schema,
//! older or newer, decodes.
//!
//! Errors say whether retrying can help ([`CodecError::is_transient`]): a consumer retries
//! a transient error (registry unreachable) and dead-letters a permanent one (not our wire
//! format, unknown schema id, incompatible content), so a bad record never blocks it.

use std::error::Error as _;

use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};

use crate::config::RegistrySettings;
use crate::events::{AvroRecord, DecodeError};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("schema registry: {0}")]
    Registry(#[from] SRCError),
    #[error("record content is invalid: {0}")]
    Content(#[from] DecodeError),
    #[error("not Confluent wire format: {0}")]
    WireFormat(&'static str),
    #[error("schema registry client: {0}")]
    Setup(String),
}

impl CodecError {
    /// True when the same bytes may decode (or encode) later: the registry was
    /// unreachable or overloaded. False for anything that is wrong with the record itself.
    pub fn is_transient(&self) -> bool {
        match self {
            CodecError::Registry(e) => {
                if e.retriable {
                    return true;
                }
                // The converter calls only 502 and 503 retriable. Any other 5xx, a
                // timeout or throttling answer, or refused credentials is the registry's
                // (or the operator's) problem, not the record's: parking the record would
                // dead-letter everything until someone noticed.
                if let Some(status) = registry_status(&e.error) {
                    return matches!(status, 401 | 403 | 408 | 429 | 500..=599);
                }
                let mut source = e.source();
                while let Some(err) = source {
                    if let Some(r) = err.downcast_ref::<reqwest::Error>() {
                        return r.is_connect() || r.is_timeout() || r.is_request();
                    }
                    source = err.source();
                }
                false
            }
            _ => false,
        }
    }

    /// The registry answered that the record's schema id does not exist. Usually the
    /// record is forged or corrupt; but behind a replicated registry a follower may not
    /// have a brand-new id yet, so a consumer asks a few times before it parks the record.
    pub fn is_unknown_schema(&self) -> bool {
        matches!(self, CodecError::Registry(e) if registry_status(&e.error) == Some(404))
    }
}

/// The HTTP status in the converter's "... failed with status 500 Internal Server
/// Error" message (it keeps only the text).
fn registry_status(error: &str) -> Option<u16> {
    let (_, after) = error.split_once("failed with status ")?;
    after.get(..3)?.parse().ok()
}

/// The largest single allocation decoding one record may ask for. A record is at most a
/// Kafka message (1 MiB by default), so no honest string, bytes or array needs more; a
/// forged length prefix is refused here instead of reserving apache-avro's default of
/// 512 MiB.
pub const MAX_DECODE_ALLOCATION_BYTES: usize = 16 * 1024 * 1024;

/// Encoder and decoder sharing one registry configuration; cheap to share behind an `Arc`.
pub struct EventCodec {
    encoder: AvroEncoder,
    decoder: AvroDecoder,
}

impl EventCodec {
    pub fn new(settings: &RegistrySettings) -> Result<Self, CodecError> {
        // A process-wide setting that only the first call makes; every decoder of the
        // process is built here, before anything is decoded.
        let limit = apache_avro::util::max_allocation_bytes(MAX_DECODE_ALLOCATION_BYTES);
        if limit != MAX_DECODE_ALLOCATION_BYTES {
            tracing::warn!(
                limit,
                "the Avro decoding allocation limit was set elsewhere first"
            );
        }
        let build = || -> Result<SrSettings, CodecError> {
            let mut b = SrSettings::new_builder(settings.url.trim_end_matches('/').to_string());
            b.set_timeout(std::time::Duration::from_secs(5));
            if let Some(user) = &settings.username {
                b.set_basic_authorization(user, Some(settings.password.expose()));
            }
            b.build().map_err(|e| CodecError::Setup(e.to_string()))
        };
        Ok(Self {
            encoder: AvroEncoder::new(build()?),
            decoder: AvroDecoder::new(build()?),
        })
    }

    /// Encode `record` for `topic` (subject `<topic>-value`).
    pub async fn encode<T: AvroRecord>(
        &self,
        topic: &str,
        record: &T,
    ) -> Result<Vec<u8>, CodecError> {
        let strategy = SubjectNameStrategy::TopicNameStrategyWithSchema(
            topic.to_string(),
            false,
            SuppliedSchema::new(None, SchemaType::Avro, T::schema_source().to_string()),
        );
        let result = self
            .encoder
            .encode_value(record.to_value(), &strategy)
            .await;
        if result.is_err() {
            // The converter caches failures; forget them so a registry that comes back is
            // used again instead of the cached error.
            self.encoder.remove_errors_from_cache();
        }
        Ok(result?)
    }

    /// Decode a record value from `bytes` (Confluent wire format).
    pub async fn decode<T: AvroRecord>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        let (value, writer) = self.decode_value(bytes).await?;
        Ok(T::from_value(value, &writer.parsed)?)
    }

    /// Decode any record of any registered schema to JSON (for `chatctl tail`).
    pub async fn decode_json(&self, bytes: &[u8]) -> Result<serde_json::Value, CodecError> {
        let (value, _) = self.decode_value(bytes).await?;
        serde_json::Value::try_from(value)
            .map_err(|_| CodecError::WireFormat("a value JSON cannot hold"))
    }

    /// The wire-format checks and the registry lookup both decoders share: the value
    /// and the schema it was written with.
    async fn decode_value(
        &self,
        bytes: &[u8],
    ) -> Result<
        (
            apache_avro::types::Value,
            std::sync::Arc<schema_registry_converter::avro_common::AvroSchema>,
        ),
        CodecError,
    > {
        if bytes.len() < 5 {
            return Err(CodecError::WireFormat("shorter than the 5-byte header"));
        }
        if bytes[0] != 0 {
            return Err(CodecError::WireFormat("magic byte is not 0"));
        }
        match self.decoder.decode_with_schema(Some(bytes)).await {
            Ok(Some(d)) => Ok((d.value, d.schema)),
            Ok(None) => Err(CodecError::WireFormat("no value")),
            Err(e) => {
                self.decoder.remove_errors_from_cache();
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn codec() -> EventCodec {
        EventCodec::new(&RegistrySettings {
            url: "http://127.0.0.1:1".into(),
            username: None,
            password: Secret::default(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn garbage_is_a_permanent_error() {
        let c = codec();
        let err = c
            .decode::<crate::events::ConversationEvent>(b"{\"json\":true}")
            .await
            .unwrap_err();
        assert!(matches!(err, CodecError::WireFormat(_)), "{err}");
        assert!(!err.is_transient());
        let err = c
            .decode::<crate::events::ConversationEvent>(&[0, 0])
            .await
            .unwrap_err();
        assert!(!err.is_transient());
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_transient() {
        let c = codec();
        let err = c
            .decode::<crate::events::ConversationEvent>(&[0, 0, 0, 0, 7, 2])
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err:?}");
    }

    #[test]
    fn registry_server_errors_wait_and_unknown_schemas_park() {
        let answered = |status: &str| {
            CodecError::Registry(SRCError::new(
                &format!("HTTP request to schema registry failed with status {status}"),
                None,
                false,
            ))
        };
        for status in [
            "500 Internal Server Error",
            "504 Gateway Timeout",
            "429 Too Many Requests",
            "401 Unauthorized",
        ] {
            assert!(answered(status).is_transient(), "{status}");
        }
        for status in ["404 Not Found", "422 Unprocessable Entity"] {
            assert!(!answered(status).is_transient(), "{status}");
        }
        assert!(answered("404 Not Found").is_unknown_schema());
        assert!(!answered("500 Internal Server Error").is_unknown_schema());
        let bad_bytes = CodecError::Registry(SRCError::new(
            "Could not transform bytes using schema",
            None,
            false,
        ));
        assert!(!bad_bytes.is_transient());
    }
}
