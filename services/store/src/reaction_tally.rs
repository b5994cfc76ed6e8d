//! v1.1: who reacted with which emoji to a message, as the gateways have appended it,
//! so the limit on distinct emoji (`rules::MAX_REACTION_EMOJI`) is checked in Redis on
//! the ack path instead of by reading the message's reaction rows from the CQL store.
//!
//! Two hashes per message, one hash tag so a cluster keeps them together:
//! `rx:{m}:users` (field `emoji` US `user` -> 1) and `rx:{m}:emoji` (field `emoji` ->
//! how many users reacted with it, plus a `seeded` marker). A tally that does not exist
//! yet (a message's first reaction, or one idle for [`TALLY_TTL`]) is seeded from
//! history, which the caller reads once; after that every gateway reserves in one
//! script, so two concurrent new emoji cannot both take the last place.
//!
//! The history projection still checks the limit again in log order; the tally only
//! keeps the gateway from appending what it would refuse.

use std::time::Duration;

use chat_core::ids::{MessageId, UserId};
use redis::aio::ConnectionManager;

use crate::error::StoreError;
use crate::keys;

/// How long a tally outlives the message's last reaction; afterwards the next one
/// seeds it again from history.
pub const TALLY_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The answer to a reservation.
#[derive(Debug, PartialEq, Eq)]
pub enum Reserved {
    /// Counted (or counted already: adding twice changes nothing).
    Yes,
    /// A new emoji on a message with the most distinct emoji already.
    Full,
    /// No tally yet: seed it from history, then ask again.
    Unseeded,
}

// KEYS: users, emoji. ARGV: emoji, user, limit, ttl seconds.
// 1: reserved, 0: full, -1: unseeded.
const RESERVE: &str = r"
if redis.call('HEXISTS', KEYS[2], 'seeded') == 0 then return -1 end
local field = ARGV[1] .. '\31' .. ARGV[2]
if redis.call('HEXISTS', KEYS[1], field) == 0 then
  if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0
     and redis.call('HLEN', KEYS[2]) - 1 >= tonumber(ARGV[3]) then
    return 0
  end
  redis.call('HSET', KEYS[1], field, 1)
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
";

// KEYS: users, emoji. ARGV: emoji, user.
const RELEASE: &str = r"
if redis.call('HDEL', KEYS[1], ARGV[1] .. '\31' .. ARGV[2]) == 1 then
  if redis.call('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[1])
  end
end
return 1
";

// KEYS: users, emoji. ARGV: ttl seconds, then (emoji, user) pairs. Only an unseeded
// tally is seeded: a concurrent seeder's tally (and reservations since) stand.
const SEED: &str = r"
if redis.call('HEXISTS', KEYS[2], 'seeded') == 1 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'seeded', 1)
for i = 2, #ARGV, 2 do
  local field = ARGV[i] .. '\31' .. ARGV[i + 1]
  if redis.call('HSETNX', KEYS[1], field, 1) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
";

pub struct ReactionTally {
    redis: ConnectionManager,
}

impl ReactionTally {
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
    }

    /// Count `user`'s `emoji` on `m`, unless it is a new emoji beyond `limit`.
    pub async fn reserve(
        &self,
        m: MessageId,
        emoji: &str,
        user: UserId,
        limit: usize,
    ) -> Result<Reserved, StoreError> {
        let (users, distinct) = keys::reaction_tally(m);
        let outcome: i64 = redis::Script::new(RESERVE)
            .key(users)
            .key(distinct)
            .arg(emoji)
            .arg(user.to_string())
            .arg(limit)
            .arg(TALLY_TTL.as_secs())
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(match outcome {
            1 => Reserved::Yes,
            0 => Reserved::Full,
            _ => Reserved::Unseeded,
        })
    }

    /// Take `user`'s `emoji` on `m` off the tally: they removed it, or the reaction
    /// reserved for them was never appended.
    pub async fn release(&self, m: MessageId, emoji: &str, user: UserId) -> Result<(), StoreError> {
        let (users, distinct) = keys::reaction_tally(m);
        let _: i64 = redis::Script::new(RELEASE)
            .key(users)
            .key(distinct)
            .arg(emoji)
            .arg(user.to_string())
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// Drop the tally of `m`, as if it had expired: the next reaction seeds it again
    /// from history (Redis lost or flushed, or a tally to be recounted).
    pub async fn forget(&self, m: MessageId) -> Result<(), StoreError> {
        let (users, distinct) = keys::reaction_tally(m);
        let _: i64 = redis::cmd("DEL")
            .arg(users)
            .arg(distinct)
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// Start the tally of `m` from history's reactions (emoji, user), unless another
    /// gateway started it first.
    pub async fn seed(
        &self,
        m: MessageId,
        reactions: impl IntoIterator<Item = (String, uuid::Uuid)>,
    ) -> Result<(), StoreError> {
        let (users, distinct) = keys::reaction_tally(m);
        let seed = redis::Script::new(SEED);
        let mut script = seed.prepare_invoke();
        script.key(users).key(distinct).arg(TALLY_TTL.as_secs());
        for (emoji, user) in reactions {
            script.arg(emoji).arg(user.to_string());
        }
        let _: i64 = script.invoke_async(&mut self.redis.clone()).await?;
        Ok(())
    }
}
