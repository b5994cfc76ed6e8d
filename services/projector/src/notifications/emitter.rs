//! Sends due notifications to `chat.notifications` and confirms them in Redis.
//!
//! Runs beside the consumer: woken by it when a message may be due at once, and every
//! `TICK` for windows that closed. Each claimed pair becomes one record keyed by its
//! recipient; a pair is confirmed only after Kafka acknowledged its record, so a failed
//! send is retried when its claim lapses (`LEASE`).

use std::sync::Arc;
use std::time::Duration;

use chat_core::codec::EventCodec;
use chat_core::events::{NotificationReason, NotificationRequested};
use chat_core::ids::{ConversationId, MessageId, UserId};
use chat_core::time::UnixMillis;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use redis::aio::ConnectionManager;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use chat_store::notify_window::{self as window, Claimed, Pending};

use crate::error::ProjectionError;

const TICK: Duration = Duration::from_millis(250);
/// How long a claim holds before another emitter (or this one) may take it again.
const LEASE: Duration = Duration::from_secs(30);
/// Most pairs per claim.
const BATCH: usize = 500;

/// Namespace of notification ids: UUIDv5 of (recipient, latest message), so a repeated
/// send of the same notification carries the same id.
const NOTIFICATION_NS: Uuid = Uuid::from_u128(0x6e6f_7469_6669_6361_7469_6f6e_7300_0001);

pub struct Emitter {
    pub redis: ConnectionManager,
    pub producer: FutureProducer,
    pub codec: Arc<EventCodec>,
    pub topic: String,
    pub window: Duration,
    pub wake: Arc<Notify>,
    pub shutdown: CancellationToken,
}

/// The record a claim becomes.
pub fn record_of(c: &Claimed) -> NotificationRequested {
    let p = &c.latest;
    NotificationRequested {
        notification_id: Uuid::new_v5(&NOTIFICATION_NS, notification_key(p).as_bytes()),
        user_id: UserId(p.user_id),
        conversation_id: ConversationId(p.conversation_id),
        message_id: MessageId(p.message_id),
        seq: p.seq,
        sender_id: UserId(p.sender_id),
        preview: p.preview.clone(),
        reason: if c.mention {
            NotificationReason::Mention
        } else {
            // The latest message's own reason (never MENTION here: a mention in the
            // claimed run sets `mention`).
            match NotificationReason::from_symbol(&p.reason) {
                NotificationReason::Mention => NotificationReason::Group,
                r => r,
            }
        },
        coalesced_count: c.count.clamp(1, i32::MAX as i64) as i32,
        occurred_at: UnixMillis(p.occurred_at),
        // Bytes this projector wrote; bytes that do not parse are dropped (the preview is
        // then empty) rather than holding up every notification behind them.
        sealed_preview: p
            .sealed_preview
            .as_deref()
            .and_then(|b| chat_core::sealing::Sealed::from_bytes(b).ok()),
    }
}

/// What a notification's id is derived from, so a re-emitted one keeps its id: the
/// recipient and the message; for a reaction also its seq, since several reactions to
/// one message (and the message itself) are each their own notification.
fn notification_key(p: &Pending) -> String {
    if p.reason == NotificationReason::Reaction.symbol() {
        format!("{}:{}:{}", p.user_id, p.message_id, p.seq)
    } else {
        format!("{}:{}", p.user_id, p.message_id)
    }
}

impl Emitter {
    pub async fn run(self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
            // Drain: a full batch means more may be due already.
            loop {
                match self.once().await {
                    Ok(n) if n >= BATCH => continue,
                    Ok(_) => {
                        backoff = Duration::from_millis(100);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "sending notifications failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                        break;
                    }
                }
            }
        }
    }

    /// Claim, send and confirm one batch; how many were claimed.
    async fn once(&self) -> Result<usize, ProjectionError> {
        let mut redis = self.redis.clone();
        let ns = window::namespace(&self.topic);
        let claimed = window::claim(
            &mut redis,
            &ns,
            UnixMillis::now().0,
            LEASE.as_millis() as i64,
            BATCH,
        )
        .await?;
        if let Ok(n) = window::backlog(&mut redis, &ns).await {
            metrics::gauge!("notifications_due_pairs").set(n as f64);
        }
        if claimed.is_empty() {
            return Ok(0);
        }
        let sends = claimed.iter().map(|c| self.send(c));
        let results = futures::future::join_all(sends).await;
        let mut sent = Vec::with_capacity(claimed.len());
        for (c, r) in claimed.iter().zip(results) {
            match r {
                Ok(()) => sent.push(c),
                // Left claimed: it is taken again when the lease lapses.
                Err(e) => tracing::warn!(pair = %c.pair, error = %e, "notification not sent"),
            }
        }
        metrics::counter!("notifications_sent_total").increment(sent.len() as u64);
        window::confirm(
            &mut redis,
            &ns,
            UnixMillis::now().0,
            self.window.as_millis() as i64,
            &sent,
        )
        .await?;
        Ok(claimed.len())
    }

    async fn send(&self, c: &Claimed) -> Result<(), ProjectionError> {
        let record = record_of(c);
        let bytes = self.codec.encode(&self.topic, &record).await?;
        let key = record.user_id.to_string();
        self.producer
            .send(
                FutureRecord::to(&self.topic).key(&key).payload(&bytes),
                Timeout::After(Duration::from_secs(10)),
            )
            .await
            .map(|_| ())
            .map_err(|(e, _)| ProjectionError::Kafka(e))
    }
}
