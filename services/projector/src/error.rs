//! The projector's errors: [`ProjectionError`] (a role could not apply a chunk),
//! [`RunError`] (the consumer loop had to stop) and [`WebhookSetupError`] (the webhook
//! role cannot start). Records that can never apply are not errors: they are
//! `Rejection`s, parked on the dead-letter topic with a human-readable reason.

use chat_core::codec::CodecError;
use chat_store::StoreError;
use rdkafka::error::KafkaError;

/// Why a projection could not apply a chunk. Every variant is a dependency failing, so
/// the runner applies the same chunk again after a backoff (projections are
/// idempotent).
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("encoding: {0}")]
    Codec(#[from] CodecError),
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
    #[error("sealed content: {0}")]
    Sealing(#[from] chat_store::keyring::SealError),
}

/// Why the consumer loop stopped before it was told to, or before its targets.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Told to stop while a chunk was being retried: its offsets were not committed,
    /// so the next owner of those partitions applies it.
    #[error("shutting down with a chunk unapplied")]
    StoppedMidChunk,
    /// A record could not be parked on the dead-letter topic while shutting down.
    #[error("could not dead-letter a record: {0}")]
    DeadLetter(#[source] KafkaError),
    /// The offsets to commit could not be listed (a topic or partition Kafka refuses).
    #[error("listing the offsets to commit: {0}")]
    Offsets(#[source] KafkaError),
}

/// Why the webhook role cannot start: its settings name no receiver, or no key to sign
/// with. Checked before anything is connected.
#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    #[error(
        "the webhook role needs webhook.url (CHAT__WEBHOOK__URL): where notifications are POSTed"
    )]
    MissingUrl,
    #[error("webhook.url (CHAT__WEBHOOK__URL) is not a URL: {0}")]
    InvalidUrl(#[source] url::ParseError),
    #[error("the webhook role needs webhook.secret (CHAT__WEBHOOK__SECRET): the key requests are signed with")]
    MissingSecret,
    #[error("building the webhook's HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}
