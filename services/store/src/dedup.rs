//! The first outcome of every client action, so a retry (same `client_msg_id`, after a
//! lost answer) is answered with it instead of being appended again.
//!
//! An action is reserved (`dedup:{action}` = `pending:{since}:{token}`) before it is
//! appended, and the reservation is replaced by the outcome once Kafka acknowledged it.
//! A failed attempt gives its reservation back so a retry can append.
//!
//! A reservation older than `abandon_after` belongs to an attempt that died or hung
//! (its gateway was killed between Kafka's ack and storing the outcome, say); one
//! marked uncertain ([`DedupStore::mark_uncertain`]) belongs to an attempt that does
//! not know whether its record reached the log. A retry then takes it over, and is told
//! so ([`Reservation::Retaken`]): the earlier attempt may be in the log already, so the
//! caller looks for it in the projections before appending again. The reservation is kept as long as an outcome would be, so a retry
//! hours later still knows an attempt was made.

use std::time::Duration;

use chat_core::ids::MessageId;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::error::StoreError;
use crate::keys;

/// Looks at an attempt in flight elsewhere before giving up (100 ms apart).
const WAITS: usize = 50;

/// KEYS: the action's key. ARGV: a token for this attempt, the age (ms) after which a
/// pending reservation is abandoned, and how long (s) to keep the reservation.
/// Returns {state, value}: `acquired`/`retaken` with the reservation written, `pending`,
/// or `done` with the stored outcome. Redis's clock, not the gateways', measures the
/// age, so gateways with skewed clocks agree.
const RESERVE: &str = r#"
local v = redis.call('GET', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mine = 'pending:' .. now .. ':' .. ARGV[1]
if not v then
  redis.call('SET', KEYS[1], mine, 'EX', ARGV[3])
  return {'acquired', mine}
end
local since = string.match(v, '^pending:(%d+):')
if since then
  if now - tonumber(since) >= tonumber(ARGV[2]) then
    redis.call('SET', KEYS[1], mine, 'EX', ARGV[3])
    return {'retaken', mine}
  end
  return {'pending', ''}
end
if v == 'pending' then
  return {'pending', ''}
end
return {'done', v}
"#;

/// Marks the reservation, if it is still this attempt's, as abandoned at once (its
/// `since` becomes 0), keeping its expiry.
const UNCERTAIN: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'pending:0:' .. ARGV[2], 'KEEPTTL')
  return 1
end
return 0
"#;

/// Deletes the reservation only if it is still the one this attempt wrote.
const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

pub enum Reservation<T> {
    /// Ours, and nobody tried before: append, then [`DedupStore::complete`] or
    /// [`DedupStore::release`].
    Acquired(Claim),
    /// Ours, taken over from an attempt that never finished: it may have reached the
    /// log. Look for it before appending; then as for `Acquired`.
    Retaken(Claim),
    /// Already done: answer with this.
    Done(T),
    /// Another attempt is still in flight after waiting for it: the client should retry.
    InFlight,
}

/// The reservation an attempt holds, needed to give it back.
pub struct Claim {
    value: String,
}

#[derive(Clone)]
pub struct DedupStore {
    redis: ConnectionManager,
    abandon_after: Duration,
    keep_for: Duration,
}

impl DedupStore {
    /// Outcomes (and reservations) are kept for `keep_for`; a reservation older than
    /// `abandon_after` may be taken over.
    pub fn new(redis: ConnectionManager, abandon_after: Duration, keep_for: Duration) -> Self {
        Self {
            redis,
            abandon_after,
            keep_for,
        }
    }

    /// Reserve `action`, or find its earlier outcome. Waits (briefly) for an attempt in
    /// flight elsewhere.
    pub async fn reserve<T: DeserializeOwned>(
        &self,
        action: MessageId,
    ) -> Result<Reservation<T>, StoreError> {
        let mut redis = self.redis.clone();
        let key = keys::dedup(action);
        let script = redis::Script::new(RESERVE);
        let token = Uuid::new_v4().simple().to_string();
        for _ in 0..WAITS {
            let (state, value): (String, String) = script
                .key(&key)
                .arg(&token)
                .arg(self.abandon_after.as_millis() as u64)
                .arg(self.keep_for.as_secs().max(1))
                .invoke_async(&mut redis)
                .await?;
            match state.as_str() {
                "acquired" => return Ok(Reservation::Acquired(Claim { value })),
                "retaken" => return Ok(Reservation::Retaken(Claim { value })),
                "done" => {
                    return serde_json::from_str::<T>(&value)
                        .map(Reservation::Done)
                        .map_err(|e| StoreError::unreadable(key, e));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        Ok(Reservation::InFlight)
    }

    /// Store the outcome of a reserved action.
    pub async fn complete<T: Serialize>(
        &self,
        action: MessageId,
        outcome: &T,
    ) -> Result<(), StoreError> {
        let key = keys::dedup(action);
        let json = serde_json::to_string(outcome).map_err(|e| StoreError::unreadable(&key, e))?;
        let _: () = self
            .redis
            .clone()
            .set_ex(key, json, self.keep_for.as_secs().max(1))
            .await?;
        Ok(())
    }

    /// After an attempt whose outcome is unknown (Kafka did not answer in time: the
    /// record may be in the log): the next attempt takes the reservation over at once,
    /// as [`Reservation::Retaken`], and so looks for this one before appending.
    pub async fn mark_uncertain(&self, action: MessageId, claim: Claim) {
        let key = keys::dedup(action);
        let token = Uuid::new_v4().simple().to_string();
        if let Err(e) = redis::Script::new(UNCERTAIN)
            .key(&key)
            .arg(&claim.value)
            .arg(token)
            .invoke_async::<i64>(&mut self.redis.clone())
            .await
        {
            // Left as it is, the reservation is taken over once it is abandoned.
            tracing::warn!(error = %e, %key, "could not mark a dedup reservation uncertain");
        }
    }

    /// Give the reservation back after a failed attempt. Best effort: if Redis is down
    /// too, a retry takes the reservation over once it is abandoned.
    pub async fn release(&self, action: MessageId, claim: Claim) {
        let key = keys::dedup(action);
        if let Err(e) = redis::Script::new(RELEASE)
            .key(&key)
            .arg(&claim.value)
            .invoke_async::<i64>(&mut self.redis.clone())
            .await
        {
            tracing::warn!(error = %e, %key, "could not release a dedup reservation");
        }
    }
}
