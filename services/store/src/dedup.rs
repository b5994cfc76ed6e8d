//! The first outcome of every client action, so a retry (same `client_msg_id`, after a
//! lost answer) is answered with it instead of being appended again.
//!
//! An action is reserved (`dedup:{action}` = `pending`) before it is appended, and the
//! reservation is replaced by the outcome once Kafka acknowledged it. A failed attempt
//! gives its reservation back so a retry can append.
//!
//! The reservation expires after [`PENDING_TTL_SECS`]: a gateway that died between
//! Kafka's ack and storing it leaves a retry free to append again, and the consumers'
//! dedup on message_id absorbs that rare duplicate.

use std::time::Duration;

use chat_core::ids::MessageId;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;
use crate::keys;

const PENDING: &str = "pending";
pub const PENDING_TTL_SECS: u64 = 30;
/// Looks at an attempt in flight elsewhere before giving up (100 ms apart).
const WAITS: usize = 50;

pub enum Reservation<T> {
    /// Ours: append, then [`DedupStore::complete`] or [`DedupStore::release`].
    Acquired,
    /// Already done: answer with this.
    Done(T),
    /// Another attempt is still in flight after waiting for it: the client should retry.
    InFlight,
}

#[derive(Clone)]
pub struct DedupStore {
    redis: ConnectionManager,
}

impl DedupStore {
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
    }

    /// Reserve `action`, or find its earlier outcome. Waits (briefly) for an attempt in
    /// flight elsewhere.
    pub async fn reserve<T: DeserializeOwned>(
        &self,
        action: MessageId,
    ) -> Result<Reservation<T>, StoreError> {
        let mut redis = self.redis.clone();
        let key = keys::dedup(action);
        for _ in 0..WAITS {
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(PENDING)
                .arg("NX")
                .arg("EX")
                .arg(PENDING_TTL_SECS)
                .query_async(&mut redis)
                .await?;
            if set.is_some() {
                return Ok(Reservation::Acquired);
            }
            let existing: Option<String> = redis.get(&key).await?;
            match existing.as_deref() {
                Some(PENDING) => tokio::time::sleep(Duration::from_millis(100)).await,
                Some(json) => {
                    return serde_json::from_str::<T>(json)
                        .map(Reservation::Done)
                        .map_err(|e| StoreError::unreadable(key, e));
                }
                None => continue, // expired or released between our two calls: try again
            }
        }
        Ok(Reservation::InFlight)
    }

    /// Store the outcome of a reserved action for `ttl_secs`.
    pub async fn complete<T: Serialize>(
        &self,
        action: MessageId,
        outcome: &T,
        ttl_secs: u64,
    ) -> Result<(), StoreError> {
        let key = keys::dedup(action);
        let json = serde_json::to_string(outcome).map_err(|e| StoreError::unreadable(&key, e))?;
        let _: () = self.redis.clone().set_ex(key, json, ttl_secs).await?;
        Ok(())
    }

    /// Give the reservation back after a failed attempt. Best effort: if Redis is down
    /// too, the reservation expires by itself.
    pub async fn release(&self, action: MessageId) {
        let key = keys::dedup(action);
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        );
        if let Err(e) = script
            .key(&key)
            .arg(PENDING)
            .invoke_async::<i64>(&mut self.redis.clone())
            .await
        {
            tracing::warn!(error = %e, %key, "could not release a dedup reservation");
        }
    }
}
