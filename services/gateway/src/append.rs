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
        let mut sealed = event.clone();
        self.keyring
            .seal_event(&mut sealed)
            .await
            .map_err(|e| match e {
                SealError::Erased(_) => AppendError::Erased,
                other => {
                    tracing::warn!(error = %other, "sealing an event failed");
                    AppendError::SealingUnavailable
                }
            })?;
        let event = &sealed;
        let bytes = self.codec.encode(&self.topic, event).await.map_err(|e| {
            tracing::error!(error = %e, "encoding an event failed");
            if e.is_transient() {
                AppendError::RegistryUnreachable
            } else {
                AppendError::Unencodable
            }
        })?;
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

    /// A real metadata round trip to the brokers, for readiness.
    /// Append a platform-wide event (`ContentErased`) once to every partition, keyed by
    /// its nil conversation id like any record of the topic; returns how many partitions.
    pub async fn append_everywhere(&self, event: &ConversationEvent) -> Result<usize, AppendError> {
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        let partitions = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(10))
                .map(|m| {
                    m.topics()
                        .first()
                        .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
                        .unwrap_or_default()
                })
        })
        .await
        .map_err(|_| AppendError::LogUnreachable)?
        .map_err(|_| AppendError::LogUnreachable)?;
        if partitions.is_empty() {
            return Err(AppendError::LogUnreachable);
        }
        let bytes = self.codec.encode(&self.topic, event).await.map_err(|e| {
            if e.is_transient() {
                AppendError::RegistryUnreachable
            } else {
                AppendError::Unencodable
            }
        })?;
        let key = event.conversation_id.to_string();
        for p in &partitions {
            let record = FutureRecord::to(&self.topic)
                .partition(*p)
                .key(&key)
                .payload(&bytes);
            self.producer
                .send(record, Timeout::Never)
                .await
                .map_err(|_| AppendError::LogUnreachable)?;
        }
        Ok(partitions.len())
    }

    pub fn ping(&self) -> bool {
        self.producer
            .client()
            .fetch_metadata(Some(&self.topic), Duration::from_secs(2))
            .is_ok()
    }
}
