//! Why a projection could not apply a chunk. Every variant is a dependency failing, so
//! the runner applies the same chunk again after a backoff (projections are
//! idempotent). Records that can never apply are not errors: they are `Rejection`s,
//! parked on the dead-letter topic with a reason.

use chat_core::codec::CodecError;
use chat_store::StoreError;
use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("encoding: {0}")]
    Codec(#[from] CodecError),
}
