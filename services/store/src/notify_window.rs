//! Coalescing in Redis: at most one notification per recipient and conversation per
//! window, carrying how many messages it stands for.
//!
//! Keys are namespaced by the notifications topic they feed (`notify:{topic}:`), so two
//! deployments (or test stacks) sharing one Redis never send each other's notifications.
//! Each (recipient, conversation) pair has a hash `notify:{topic}:w:{user}:{conversation}`:
//! - `seq`: the last message seq counted (a message at or below it was counted before:
//!   a chunk applied twice counts nothing twice);
//! - `pending`: messages counted but not yet notified; `payload`: the latest of them;
//! - `mseq`: the last seq that mentioned the recipient; `sent`: the seq of the last
//!   notification sent (the next one is a mention if `mseq > sent`);
//! - `until`: when the window opened by the last notification closes.
//!
//! and a member of the sorted set `notify:{topic}:due` scored by when it is due: at once when no
//! window is open (the first message of a burst is pushed without delay), else when
//! the window closes (the rest of the burst becomes one notification).
//!
//! The emitter [claims](claim) due pairs: their score moves a lease ahead, so another
//! emitter leaves them alone and a crashed one's claims come due again. After Kafka
//! acknowledged the notification it [confirms](confirm): `pending` drops by what was
//! sent, a new window opens, and the pair is due again at its end if more arrived
//! meanwhile. A crash between the two sends that notification again (at least once;
//! `notification_id` is the same, so sinks can drop the repeat).
//!
//! The state lives in Redis, not in the projector, so the consumer commits its offsets
//! once the counts are stored and a restarted projector still sends what was held.

use redis::aio::ConnectionManager;

use crate::error::StoreError;
use redis::Script;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// How long an idle pair's hash is kept: far beyond any window, so replays of recent
/// records still find their `seq`; then Redis forgets the pair.
const STATE_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// One message counted for one recipient: what a notification for it would say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub user_id: uuid::Uuid,
    pub conversation_id: uuid::Uuid,
    pub message_id: uuid::Uuid,
    pub seq: i64,
    pub sender_id: uuid::Uuid,
    pub preview: String,
    /// `DM`, `GROUP` or `MENTION`, as the schema's enum symbols.
    pub reason: String,
    pub occurred_at: i64,
    /// v1.2: the preview sealed under the sender's key (`chat_core::sealing::Sealed`'s
    /// bytes); `preview` is then empty, so Redis never holds a body in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_preview: Option<Vec<u8>>,
}

impl Pending {
    pub fn pair(&self) -> String {
        format!("{}:{}", self.user_id, self.conversation_id)
    }
}

/// A claimed pair: the latest pending message, how many it stands for, and whether any
/// of them mentioned the recipient.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub pair: String,
    pub latest: Pending,
    pub count: i64,
    pub mention: bool,
}

/// The namespace of one notifications topic's coalescing state.
pub fn namespace(topic: &str) -> String {
    crate::keys::notify_namespace(topic)
}

/// ARGV: namespace, now, window ms, state ttl ms, then per message: pair, seq, mention (1/0),
/// payload. Returns how many were counted (not seen before).
static NOTE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local ns = ARGV[1]
local now, win, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local counted = 0
for a = 5, #ARGV, 4 do
  local pair, seq, mention, payload = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2], ARGV[a + 3]
  local k = ns .. 'w:' .. pair
  local last = tonumber(redis.call('HGET', k, 'seq') or '-1')
  if seq > last then
    counted = counted + 1
    redis.call('HSET', k, 'seq', seq, 'payload', payload)
    redis.call('HINCRBY', k, 'pending', 1)
    if mention == '1' then redis.call('HSET', k, 'mseq', seq) end
    redis.call('PEXPIRE', k, ttl)
    local opened = tonumber(redis.call('HGET', k, 'until') or '0')
    -- NX: a pair already due (or claimed) keeps its time.
    redis.call('ZADD', ns .. 'due', 'NX', math.max(now, opened), pair)
  end
end
return counted
"#,
    )
});

/// ARGV: namespace, now, lease ms, most pairs. Returns four values per claimed pair, flat:
/// pair, pending, mention (1/0), payload. Pairs with nothing pending leave the due set.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local ns = ARGV[1]
local now, lease, most = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
local due = redis.call('ZRANGEBYSCORE', ns .. 'due', '-inf', now, 'LIMIT', 0, most)
for _, pair in ipairs(due) do
  local k = ns .. 'w:' .. pair
  local h = redis.call('HMGET', k, 'pending', 'payload', 'mseq', 'sent')
  local pending = tonumber(h[1] or '0')
  if pending > 0 and h[2] then
    redis.call('ZADD', ns .. 'due', 'XX', now + lease, pair)
    local mention = tonumber(h[3] or '-1') > tonumber(h[4] or '-1')
    table.insert(out, pair)
    table.insert(out, pending)
    table.insert(out, mention and 1 or 0)
    table.insert(out, h[2])
  else
    redis.call('ZREM', ns .. 'due', pair)
  end
end
return out
"#,
    )
});

/// ARGV: namespace, now, window ms, then per pair: pair, count sent, seq sent. The window opens
/// now; whatever arrived after the claim is due when it closes.
static CONFIRM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local ns = ARGV[1]
local now, win = tonumber(ARGV[2]), tonumber(ARGV[3])
for a = 4, #ARGV, 3 do
  local pair, count, seq = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2]
  local k = ns .. 'w:' .. pair
  local left = redis.call('HINCRBY', k, 'pending', -count)
  if left < 0 then
    redis.call('HSET', k, 'pending', 0)
    left = 0
  end
  redis.call('HSET', k, 'sent', seq, 'until', now + win)
  if left > 0 then
    redis.call('ZADD', ns .. 'due', now + win, pair)
  else
    redis.call('ZREM', ns .. 'due', pair)
  end
end
return 0
"#,
    )
});

/// Pairs counted per script call (see [`note`]).
const NOTE_ITEMS_PER_CALL: usize = 1000;

/// Count messages for their recipients. `items`: (pending, mentioned).
pub async fn note(
    redis: &mut ConnectionManager,
    ns: &str,
    now_ms: i64,
    window_ms: i64,
    items: &[(Pending, bool)],
) -> Result<i64, StoreError> {
    // Calls of bounded size: a script blocks Redis while it runs, and catching up on a
    // backlog of a large group's messages gives one chunk millions of pairs (a chunk of
    // 500 messages to 1,000 members held Redis for over 5 s in one call). Each pair is
    // counted on its own, so splitting changes nothing else.
    let mut counted = 0;
    for part in items.chunks(NOTE_ITEMS_PER_CALL) {
        let mut inv = NOTE.prepare_invoke();
        inv.arg(ns)
            .arg(now_ms)
            .arg(window_ms)
            .arg(STATE_TTL_MS.max(window_ms * 2));
        for (p, mentioned) in part {
            let payload =
                serde_json::to_string(p).map_err(|e| StoreError::unreadable(p.pair(), e))?;
            inv.arg(p.pair())
                .arg(p.seq)
                .arg(if *mentioned { "1" } else { "0" })
                .arg(payload);
        }
        counted += inv.invoke_async::<i64>(redis).await?;
    }
    Ok(counted)
}

/// Claim up to `most` due pairs for `lease_ms`.
pub async fn claim(
    redis: &mut ConnectionManager,
    ns: &str,
    now_ms: i64,
    lease_ms: i64,
    most: usize,
) -> Result<Vec<Claimed>, StoreError> {
    let flat: Vec<redis::Value> = CLAIM
        .prepare_invoke()
        .arg(ns)
        .arg(now_ms)
        .arg(lease_ms)
        .arg(most)
        .invoke_async(redis)
        .await?;
    let mut out = Vec::with_capacity(flat.len() / 4);
    for chunk in flat.chunks_exact(4) {
        let pair: String = redis::from_redis_value(chunk[0].clone())
            .map_err(|e| StoreError::unreadable("a claimed notification", e))?;
        let count: i64 = redis::from_redis_value(chunk[1].clone())
            .map_err(|e| StoreError::unreadable("a claimed notification", e))?;
        let mention: i64 = redis::from_redis_value(chunk[2].clone())
            .map_err(|e| StoreError::unreadable("a claimed notification", e))?;
        let payload: String = redis::from_redis_value(chunk[3].clone())
            .map_err(|e| StoreError::unreadable("a claimed notification", e))?;
        match serde_json::from_str::<Pending>(&payload) {
            Ok(latest) => out.push(Claimed {
                pair,
                latest,
                count,
                mention: mention == 1,
            }),
            // Only this module writes payloads; one that does not parse was written by
            // an incompatible build. Say so loudly and leave it claimed (its lease
            // expires and it is retried), rather than dropping it.
            Err(e) => tracing::error!(%pair, error = %e, "unreadable pending notification"),
        }
    }
    Ok(out)
}

/// Record that these claims were sent.
pub async fn confirm(
    redis: &mut ConnectionManager,
    ns: &str,
    now_ms: i64,
    window_ms: i64,
    sent: &[&Claimed],
) -> Result<(), StoreError> {
    if sent.is_empty() {
        return Ok(());
    }
    let mut inv = CONFIRM.prepare_invoke();
    inv.arg(ns).arg(now_ms).arg(window_ms);
    for c in sent {
        inv.arg(&c.pair).arg(c.count).arg(c.latest.seq);
    }
    inv.invoke_async::<i64>(redis).await?;
    Ok(())
}

/// How many pairs are due or claimed (a gauge for operators).
pub async fn backlog(redis: &mut ConnectionManager, ns: &str) -> Result<i64, StoreError> {
    redis::cmd("ZCARD")
        .arg(format!("{ns}due"))
        .query_async(redis)
        .await
        .map_err(StoreError::from)
}
