//! Appending connects, heartbeats and disconnects to `chat.presence` (keyed by user).
//!
//! Records are encoded first (the registry lookup may wait) and then enqueued without
//! waiting, by [`Hub`](super::Hub) while it holds its socket table: so a session's
//! heartbeat can never be enqueued after its disconnect, and the idempotent producer
//! keeps that order in the log. Nothing waits for Kafka's ack: presence is refreshed
//! every heartbeat and a lost record only delays a status change.

use std::sync::Arc;

use chat_core::codec::EventCodec;
use chat_core::events::{PresenceEvent, PresenceKind};
use chat_core::ids::{SessionId, UserId};
use chat_core::time::UnixMillis;
use rdkafka::producer::{FutureProducer, FutureRecord};

pub struct PresenceLog {
    producer: FutureProducer,
    codec: Arc<EventCodec>,
    topic: String,
    gateway_id: String,
}

/// An encoded record, ready to enqueue.
pub struct Encoded {
    key: String,
    bytes: Vec<u8>,
}

impl PresenceLog {
    pub fn new(
        producer: FutureProducer,
        codec: Arc<EventCodec>,
        topic: String,
        gateway_id: String,
    ) -> Self {
        Self {
            producer,
            codec,
            topic,
            gateway_id,
        }
    }

    pub async fn encode(
        &self,
        user: UserId,
        session: SessionId,
        kind: PresenceKind,
    ) -> Option<Encoded> {
        let event = PresenceEvent {
            user_id: user,
            session_id: session,
            gateway_id: self.gateway_id.clone(),
            kind,
            occurred_at: UnixMillis::now(),
        };
        match self.codec.encode(&self.topic, &event).await {
            Ok(bytes) => Some(Encoded {
                key: user.to_string(),
                bytes,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "could not encode a presence record");
                metrics::counter!("gateway_presence_failures_total").increment(1);
                None
            }
        }
    }

    /// Hand the record to the producer's queue; does not wait for Kafka.
    pub fn enqueue(&self, record: Encoded) {
        let r = FutureRecord::to(&self.topic)
            .key(&record.key)
            .payload(&record.bytes);
        match self.producer.send_result(r) {
            Ok(delivery) => {
                tokio::spawn(async move {
                    if !matches!(delivery.await, Ok(Ok(_))) {
                        metrics::counter!("gateway_presence_failures_total").increment(1);
                    }
                });
            }
            Err((e, _)) => {
                tracing::warn!(error = %e, "could not enqueue a presence record");
                metrics::counter!("gateway_presence_failures_total").increment(1);
            }
        }
    }
}
