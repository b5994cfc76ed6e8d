//! Writing the audit trail: [`AuditEvent`] records on `chat.audit`, keyed by actor, in
//! the registry's Avro like every other topic.
//!
//! [`AuditLog::record`] returns once Kafka has acknowledged the record on every in-sync
//! replica (the platform's idempotent producer, `acks=all`), or with the reason it did
//! not. What a caller does with a failure is its policy, not this module's:
//!
//! - the gateway keeps serving (chat stays available when the audit trail is not): it
//!   records with [`AuditLog::record_detached`], which logs and counts a failure;
//! - `chatctl` fails the command (an operator action must not go unrecorded), after the
//!   action itself, since the record says what was done.
//!
//! Metrics: `audit_events_total{action}` (records acknowledged) and
//! `audit_failures_total{action}` (records that could not be written).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use crate::codec::{CodecError, EventCodec};
use crate::config::Settings;
use crate::topics::Topics;

pub use crate::events::{Actor, AuditAction, AuditEvent, Outcome, Subject, SubjectKind};

/// Why an audit record is not in the log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The registry did not answer, or refused the schema.
    #[error("could not encode the audit record: {0}")]
    Encode(#[from] CodecError),
    /// Kafka did not acknowledge the record (unreachable, or the local queue is full).
    #[error("Kafka did not take the audit record: {0}")]
    Produce(KafkaError),
    /// The Kafka producer or the registry client could not be built.
    #[error("could not set up the audit log: {0}")]
    Setup(String),
}

/// The audit trail of one process. Cheap to share behind an `Arc`.
pub struct AuditLog {
    producer: FutureProducer,
    codec: Arc<EventCodec>,
    topic: String,
    origin: String,
}

impl AuditLog {
    /// With the producer and codec the process already has (the gateway's). `origin`
    /// names this process in every record (a gateway's id, `chatctl`).
    pub fn new(
        producer: FutureProducer,
        codec: Arc<EventCodec>,
        topics: &Topics,
        origin: impl Into<String>,
    ) -> Self {
        Self {
            producer,
            codec,
            topic: topics.audit.clone(),
            origin: origin.into(),
        }
    }

    /// With a producer and a registry client of its own, from the settings (chatctl,
    /// and anything else that has no producer yet).
    pub fn from_settings(settings: &Settings, origin: &str) -> Result<Self, AuditError> {
        let codec =
            EventCodec::new(&settings.registry).map_err(|e| AuditError::Setup(e.to_string()))?;
        let producer = crate::kafka::producer(&settings.kafka, &format!("{origin}-audit"))
            .map_err(|e| AuditError::Setup(e.to_string()))?;
        Ok(Self::new(
            producer,
            Arc::new(codec),
            &Topics::from_settings(&settings.kafka),
            origin,
        ))
    }

    /// The topic records go to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The name of this process in the records it writes.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// An event of this process, happening now (fresh id, no address, no details; add
    /// them with [`AuditEvent::with_source_ip`] and [`AuditEvent::detail`]).
    pub fn event(
        &self,
        actor: Actor,
        action: AuditAction,
        subject: Subject,
        outcome: Outcome,
    ) -> AuditEvent {
        AuditEvent::new(actor, action, subject, outcome, self.origin.clone())
    }

    /// Append `event` keyed by its actor, and wait for Kafka's acknowledgement.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let action = event.action.as_str().to_string();
        let result = self.produce(&event).await;
        match &result {
            Ok(()) => metrics::counter!("audit_events_total", "action" => action).increment(1),
            Err(_) => metrics::counter!("audit_failures_total", "action" => action).increment(1),
        }
        result
    }

    async fn produce(&self, event: &AuditEvent) -> Result<(), AuditError> {
        let bytes = self.codec.encode(&self.topic, event).await?;
        let key = event.key();
        let record = FutureRecord::to(&self.topic).key(&key).payload(&bytes);
        // A full local queue is a failure at once rather than a wait: the producer is
        // shared with the gateway's appends, and an audit record must not queue behind
        // (or in front of) a backlog. `message.timeout.ms` bounds the wait for Kafka.
        self.producer
            .send(record, Timeout::After(Duration::ZERO))
            .await
            .map(|_| ())
            .map_err(|(e, _)| AuditError::Produce(e))
    }

    /// Record `event` in a task of its own; a failure is logged and counted, never
    /// returned (the gateway's policy: the request that caused the event succeeds
    /// whether or not its audit record could be written).
    pub fn record_detached(self: &Arc<Self>, event: AuditEvent) {
        let log = Arc::clone(self);
        tokio::spawn(async move {
            let action = event.action.as_str().to_string();
            let actor = event.key();
            let event_id = event.event_id;
            if let Err(e) = log.record(event).await {
                tracing::error!(
                    error = %e,
                    action,
                    actor,
                    %event_id,
                    topic = %log.topic,
                    "an audit record could not be written"
                );
            }
        });
    }

    /// Wait for records in flight (at shutdown, and before a short-lived process exits).
    pub fn flush(&self, timeout: Duration) {
        if let Err(e) = self.producer.flush(timeout) {
            tracing::warn!(error = %e, "audit records may not all have been delivered");
        }
    }
}
