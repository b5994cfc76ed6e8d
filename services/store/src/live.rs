//! Live delivery over Redis pub/sub: every user has one channel
//! ([`crate::keys::user_channel`]), and the gateways holding a user's sockets subscribe
//! to it. Publishers render a frame once and publish it to the channels of the users it
//! is for.
//!
//! The fanout role also keeps the `prev_seq` chain here: the last seq published per
//! conversation (`fanout:last:{c}`). A chunk's publishes and its new `last` values are
//! written by one script that first checks the `last` values are still the ones the
//! chunk was planned from, so each event is published once even when a chunk is applied
//! twice (a crash before the offset commit, a rebalance, two fanout groups): the second
//! attempt finds `last` moved and publishes nothing.

use std::sync::Arc;

use chat_core::ids::{ConversationId, UserId};
use redis::aio::ConnectionManager;
use redis::Script;

use crate::error::StoreError;
use crate::keys;

/// Publish one rendered frame to each of `users`, in one round trip.
pub async fn publish_to_users(
    redis: &ConnectionManager,
    users: impl IntoIterator<Item = UserId>,
    frame: &str,
) -> Result<(), StoreError> {
    let mut pipe = redis::pipe();
    let mut any = false;
    for u in users {
        pipe.publish(keys::user_channel(u), frame).ignore();
        any = true;
    }
    if any {
        pipe.query_async::<()>(&mut redis.clone()).await?;
    }
    Ok(())
}

/// KEYS: the `last` key of each conversation. ARGV: for each conversation, the value it
/// is expected to hold ('' for none), the new value, and how many events follow; then
/// each event as its frame, its number of recipients and their channels. The frame is
/// sent once per event, not once per recipient: for a 1,000-member group that was
/// 1,000 copies for Redis to parse. Conversations whose `last` moved are skipped whole.
/// Returns how many frames were published.
const PUBLISH_CHAIN: &str = r#"
local a = 1
local published = 0
for i, key in ipairs(KEYS) do
  local expected = ARGV[a]
  local new = ARGV[a + 1]
  local events = tonumber(ARGV[a + 2])
  a = a + 3
  local current = redis.call('GET', key) or ''
  local apply = current == expected
  for e = 1, events do
    local frame = ARGV[a]
    local n = tonumber(ARGV[a + 1])
    a = a + 2
    if apply then
      for j = 0, n - 1 do
        redis.call('PUBLISH', ARGV[a + j], frame)
      end
      published = published + n
    end
    a = a + n
  end
  if apply then
    redis.call('SET', key, new)
  end
end
return published
"#;

/// A stretch of one conversation's chain: published if `last` still holds `expected`,
/// after which it holds `new`.
#[derive(Debug, PartialEq)]
pub struct ChainSegment {
    pub conversation: ConversationId,
    pub expected: Option<i64>,
    pub new: i64,
    /// Each event's frame and who it goes to.
    pub events: Vec<(Arc<str>, Vec<UserId>)>,
}

/// The `prev_seq` chain of live delivery.
#[derive(Clone)]
pub struct FanoutChain {
    redis: ConnectionManager,
}

impl FanoutChain {
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
    }

    /// The last seq published of each conversation, in the order given.
    pub async fn lasts(
        &self,
        conversations: &[ConversationId],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        if conversations.is_empty() {
            return Ok(vec![]);
        }
        let keys: Vec<String> = conversations
            .iter()
            .map(|c| keys::fanout_last(*c))
            .collect();
        Ok(redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut self.redis.clone())
            .await?)
    }

    /// One script call: each segment's publishes and its new `last`, if `last` still
    /// holds what the segment expects. Returns how many frames were published.
    pub async fn publish(&self, segments: &[ChainSegment]) -> Result<i64, StoreError> {
        let script = Script::new(PUBLISH_CHAIN);
        let mut invocation = script.prepare_invoke();
        for s in segments {
            invocation
                .key(keys::fanout_last(s.conversation))
                .arg(s.expected.map(|l| l.to_string()).unwrap_or_default())
                .arg(s.new)
                .arg(s.events.len());
            for (frame, recipients) in &s.events {
                invocation.arg(frame.as_ref()).arg(recipients.len());
                for u in recipients {
                    invocation.arg(keys::user_channel(*u));
                }
            }
        }
        Ok(invocation.invoke_async(&mut self.redis.clone()).await?)
    }
}
