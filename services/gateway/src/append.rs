//! Appending events to the log. The only way the gateway changes state.
//!
//! `append` returns once Kafka has acknowledged the record on every in-sync replica
//! (idempotent producer, `acks=all`); the record's offset is the event's `seq`. Failures
//! are [`AppendError`]s: nothing was acknowledged, and the client may retry unless the
//! event could not be encoded at all.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::codec::EventCodec;
use chat_core::events::ConversationEvent;
use chat_store::keyring::{Keyring, SealError};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

/// Why an event is not in the log.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The schema registry did not answer (retryable).
    #[error("schema registry unreachable")]
    RegistryUnreachable,
    /// The event does not encode with its schema (a bug: retrying does not help).
    #[error("the event could not be encoded")]
    Unencodable,
    /// Kafka did not acknowledge the record in time (retryable).
    #[error("the event log is unreachable")]
    LogUnreachable,
    /// The sender's data key could not be had (the CQL store or the KMS did not answer;
    /// retryable).
    #[error("the content could not be sealed; retry later")]
    SealingUnavailable,
    /// The sender was erased: nothing more is written under their name.
    #[error("this account was erased")]
    Erased,
}

pub struct Appender {
    producer: FutureProducer,
    codec: Arc<EventCodec>,
    topic: String,
    keyring: Arc<Keyring>,
}

impl Appender {
    pub fn new(
        producer: FutureProducer,
        codec: Arc<EventCodec>,
        topic: String,
        keyring: Arc<Keyring>,
    ) -> Self {
        Self {
            producer,
            codec,
            topic,
            keyring,
        }
    }

    /// Append `event` keyed by its conversation; returns its seq (the record offset).
    /// Its personal content is sealed under the actor's data key first: nothing written
    /// to the log carries a body in the clear.
    pub async fn append(&self, event: &ConversationEvent) -> Result<i64, AppendError> {
        // Only messages and edits carry content: receipts, the most frequent events, are
        // appended as they are, without a copy.
        let sealed;
        let event = if event.payload.carries_content() {
            let mut copy = event.clone();
            let started = Instant::now();
            let result = self.keyring.seal_event(&mut copy).await;
            // The keys come from the CQL store when not cached: this shows when they do.
            metrics::histogram!("gateway_seal_seconds").record(started.elapsed().as_secs_f64());
            result.map_err(|e| match e {
                SealError::Erased(_) => AppendError::Erased,
                other => {
                    tracing::warn!(error = %other, "sealing an event failed");
                    AppendError::SealingUnavailable
                }
            })?;
            sealed = copy;
            &sealed
        } else {
            event
        };
        let bytes = self.encode(event).await?;
        let key = event.conversation_id.to_string();
        let started = Instant::now();
        let record = FutureRecord::to(&self.topic).key(&key).payload(&bytes);
        // The producer's own message.timeout.ms bounds the wait; no queue timeout here so
        // a full local queue waits rather than failing a burst.
        let result = self.producer.send(record, Timeout::Never).await;
        metrics::histogram!("gateway_produce_seconds").record(started.elapsed().as_secs_f64());
        match result {
            Ok(delivery) => Ok(delivery.offset),
            Err((e, _)) => {
                tracing::warn!(error = %e, topic = %self.topic, "append failed");
                metrics::counter!("gateway_produce_failures_total").increment(1);
                Err(AppendError::LogUnreachable)
            }
        }
    }

    /// Wait for every record in flight (graceful shutdown).
    pub fn flush(&self, timeout: Duration) {
        if let Err(e) = self.producer.flush(timeout) {
            tracing::warn!(error = %e, "producer flush incomplete");
        }
    }

    /// Append a platform-wide event (`ContentErased`) once to every partition, keyed by
    /// its nil conversation id like any record of the topic; returns how many partitions.
    pub async fn append_everywhere(&self, event: &ConversationEvent) -> Result<usize, AppendError> {
        let bytes = self.encode(event).await?;
        let key = event.conversation_id.to_string();
        chat_core::kafka::send_to_every_partition(&self.producer, &self.topic, &key, &bytes)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, topic = %self.topic, "append to every partition failed");
                AppendError::LogUnreachable
            })
    }

    /// The event in the registry's wire format.
    async fn encode(&self, event: &ConversationEvent) -> Result<Vec<u8>, AppendError> {
        self.codec.encode(&self.topic, event).await.map_err(|e| {
            tracing::error!(error = %e, "encoding an event failed");
            if e.is_transient() {
                AppendError::RegistryUnreachable
            } else {
                AppendError::Unencodable
            }
        })
    }

    /// A real metadata round trip to the brokers, for readiness.
    pub fn ping(&self) -> bool {
        self.producer
            .client()
            .fetch_metadata(Some(&self.topic), Duration::from_secs(2))
            .is_ok()
    }
}
