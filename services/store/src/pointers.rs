//! The highest read and delivered pointer appended per member, so a pointer that does
//! not move forward appends nothing (clients send receipts often and repeat them).

use chat_core::ids::{ConversationId, UserId};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::error::StoreError;
use crate::keys;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pointer {
    Read,
    Delivered,
}

impl Pointer {
    fn as_str(self) -> &'static str {
        match self {
            Pointer::Read => "read",
            Pointer::Delivered => "delivered",
        }
    }
}

/// Keep the maximum even when two appends race.
const RAISE: &str = "local cur = tonumber(redis.call('GET', KEYS[1]) or '-1') \
    if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end return 1";

#[derive(Clone)]
pub struct PointerStore {
    redis: ConnectionManager,
}

impl PointerStore {
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
    }

    /// The highest `pointer` appended for `u` in `c`, if any.
    pub async fn current(
        &self,
        pointer: Pointer,
        c: ConversationId,
        u: UserId,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .redis
            .clone()
            .get(keys::pointer(pointer.as_str(), c, u))
            .await?)
    }

    /// Record that `pointer` was appended at `seq` (kept only if higher).
    pub async fn raise(
        &self,
        pointer: Pointer,
        c: ConversationId,
        u: UserId,
        seq: i64,
    ) -> Result<(), StoreError> {
        let _: i64 = redis::Script::new(RAISE)
            .key(keys::pointer(pointer.as_str(), c, u))
            .arg(seq)
            .arg(keys::POINTER_TTL_SECS)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }
}
