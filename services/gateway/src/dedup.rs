//! Idempotency of sends, edits and deletes across retries, gateways and restarts.
//!
//! An action's id is derived from (conversation, sender, client_msg_id). Before
//! appending, the gateway reserves `dedup:{id}` with `SET NX`; after Kafka acknowledged,
//! it stores the ack there for `dedup_ttl`. A retry finds either the ack (and returns it
//! again, appending nothing) or the reservation of an attempt still in flight (and waits
//! for it). An attempt that failed releases its reservation so a retry can append.
//!
//! The reservation expires after [`PENDING_TTL_SECS`]: a gateway that died between
//! Kafka's ack and storing it leaves a retry free to append again, and the consumers'
//! dedup on message_id absorbs that rare duplicate.

use std::time::Duration;

use chat_core::ids::MessageId;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::keys;

const PENDING: &str = "pending";
pub const PENDING_TTL_SECS: u64 = 30;

/// What a client is told once its action is in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub client_msg_id: String,
    pub message_id: String,
    pub seq: i64,
    pub ts: String,
}

pub enum Reservation {
    /// Ours: append, then [`complete`] or [`release`].
    Acquired,
    /// Already done: answer with this.
    Done(Ack),
}

/// Reserve `action`, or find its earlier outcome. Waits (briefly) for an attempt in
/// flight elsewhere; if it does not finish, the client gets `unavailable` and retries.
pub async fn reserve(
    redis: &mut ConnectionManager,
    action: MessageId,
) -> Result<Reservation, ApiError> {
    let key = keys::dedup(action);
    for _ in 0..50 {
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(PENDING)
            .arg("NX")
            .arg("EX")
            .arg(PENDING_TTL_SECS)
            .query_async(redis)
            .await?;
        if set.is_some() {
            return Ok(Reservation::Acquired);
        }
        let existing: Option<String> = redis.get(&key).await?;
        match existing.as_deref() {
            Some(PENDING) => tokio::time::sleep(Duration::from_millis(100)).await,
            Some(json) => {
                if let Ok(ack) = serde_json::from_str::<Ack>(json) {
                    return Ok(Reservation::Done(ack));
                }
                tracing::error!(%key, "unreadable dedup record");
                return Err(ApiError::internal());
            }
            None => continue, // expired or released between our two calls: try again
        }
    }
    Err(ApiError::unavailable(
        "an earlier attempt with this client_msg_id is still in flight",
    ))
}

pub async fn complete(
    redis: &mut ConnectionManager,
    action: MessageId,
    ack: &Ack,
    ttl_secs: u64,
) -> Result<(), ApiError> {
    let json = serde_json::to_string(ack).map_err(|_| ApiError::internal())?;
    let _: () = redis.set_ex(keys::dedup(action), json, ttl_secs).await?;
    Ok(())
}

/// Give the reservation back after a failed attempt. Best effort: if Redis is down too,
/// the reservation expires by itself.
pub async fn release(redis: &mut ConnectionManager, action: MessageId) {
    let key = keys::dedup(action);
    let script = redis::Script::new("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0");
    if let Err(e) = script
        .key(&key)
        .arg(PENDING)
        .invoke_async::<i64>(redis)
        .await
    {
        tracing::warn!(error = %e, %key, "could not release a dedup reservation");
    }
}
