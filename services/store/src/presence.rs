//! Presence in Redis: who is online, since when last seen. Written only by the presence
//! projection (`chat-projector --role presence`), read by gateways.
//!
//! Keys (see [`crate::keys`]): `presence:{u}:sessions` (session id -> when it expires,
//! ms, refreshed by each heartbeat), `presence:{u}:last_seen` (the latest connect,
//! heartbeat or disconnect time, ms) and `presence:expiries` (user -> their latest
//! session expiry: what the sweeper looks at).
//!
//! A user is online while one of their sessions has not expired. Sessions expire by
//! time, not by a key's TTL, so the moment a user goes offline is observable: the
//! sweeper finds users whose latest expiry passed and announces them offline. Both
//! scripts are atomic, so several projector instances may sweep the same users and only
//! one of them sees each transition.

use chat_core::events::{PresenceEvent, PresenceKind};
use chat_core::ids::UserId;
use chat_core::time::UnixMillis;
use redis::aio::ConnectionManager;
use redis::Script;

use crate::error::StoreError;
use crate::keys::{presence_last_seen as last_seen_key, presence_sessions as sessions_key};

const EXPIRY_INDEX: &str = crate::keys::PRESENCE_EXPIRIES;

type StoreResult<T> = Result<T, StoreError>;

/// What an event or a sweep did to a user's presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub was_online: bool,
    pub is_online: bool,
}

impl Transition {
    pub fn changed(self) -> bool {
        self.was_online != self.is_online
    }
}

/// KEYS: sessions, last_seen, expiry index. ARGV: kind (c|h|d), session, expires_at,
/// occurred_at, now, user, key ttl (ms). Returns {was_online, is_online}.
const APPLY: &str = r#"
local now = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local was = redis.call('ZCARD', KEYS[1])
if ARGV[1] == 'd' then
  redis.call('ZREM', KEYS[1], ARGV[2])
elseif tonumber(ARGV[3]) > now then
  redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[2])
end
local seen = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[4]) > seen then
  redis.call('SET', KEYS[2], ARGV[4])
end
local is = redis.call('ZCARD', KEYS[1])
if is > 0 then
  local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('ZADD', KEYS[3], latest[2], ARGV[6])
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
else
  redis.call('ZREM', KEYS[3], ARGV[6])
  redis.call('DEL', KEYS[1])
end
return {was > 0 and 1 or 0, is > 0 and 1 or 0}
"#;

/// KEYS: sessions, expiry index. ARGV: now, user. Returns 1 when the user just went
/// offline.
const SWEEP: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
if redis.call('ZCARD', KEYS[1]) == 0 then
  if redis.call('ZREM', KEYS[2], ARGV[2]) == 1 then return 1 end
  return 0
end
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('ZADD', KEYS[2], latest[2], ARGV[2])
return 0
"#;

/// Apply one presence event; `ttl_ms` is how long a session lives without a heartbeat.
pub async fn apply(
    redis: &mut ConnectionManager,
    event: &PresenceEvent,
    ttl_ms: i64,
    now: UnixMillis,
) -> StoreResult<Transition> {
    let kind = match event.kind {
        PresenceKind::Connected => "c",
        PresenceKind::Heartbeat => "h",
        PresenceKind::Disconnected => "d",
    };
    let u = event.user_id;
    let (was, is): (i64, i64) = Script::new(APPLY)
        .key(sessions_key(u))
        .key(last_seen_key(u))
        .key(EXPIRY_INDEX)
        .arg(kind)
        .arg(event.session_id.to_string())
        .arg(event.occurred_at.0 + ttl_ms)
        .arg(event.occurred_at.0)
        .arg(now.0)
        .arg(u.to_string())
        .arg(ttl_ms * 2)
        .invoke_async(redis)
        .await?;
    Ok(Transition {
        was_online: was == 1,
        is_online: is == 1,
    })
}

/// Users whose every session expired by `now`, each reported once (up to `limit`).
pub async fn sweep(
    redis: &mut ConnectionManager,
    now: UnixMillis,
    limit: isize,
) -> StoreResult<Vec<UserId>> {
    let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
        .arg(EXPIRY_INDEX)
        .arg("-inf")
        .arg(now.0)
        .arg("LIMIT")
        .arg(0)
        .arg(limit)
        .query_async(redis)
        .await?;
    let script = Script::new(SWEEP);
    let mut gone = Vec::new();
    for id in due {
        let Ok(uuid) = id.parse::<uuid::Uuid>() else {
            // Not ours: drop it so it is not looked at every second forever.
            let _: i64 = redis::cmd("ZREM")
                .arg(EXPIRY_INDEX)
                .arg(&id)
                .query_async(redis)
                .await?;
            continue;
        };
        let u = UserId(uuid);
        let went: i64 = script
            .key(sessions_key(u))
            .key(EXPIRY_INDEX)
            .arg(now.0)
            .arg(&id)
            .invoke_async(redis)
            .await?;
        if went == 1 {
            gone.push(u);
        }
    }
    Ok(gone)
}

/// A user's presence as `GET /users/{id}/presence` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub online: bool,
    pub last_seen: Option<UnixMillis>,
}

pub async fn status(
    redis: &mut ConnectionManager,
    u: UserId,
    now: UnixMillis,
) -> StoreResult<Status> {
    let mut pipe = redis::pipe();
    count_live_sessions(&mut pipe, u, now);
    let (live, seen): (i64, Option<i64>) = pipe
        .cmd("GET")
        .arg(last_seen_key(u))
        .query_async(redis)
        .await?;
    Ok(Status {
        online: live > 0,
        last_seen: seen.map(UnixMillis),
    })
}

/// How many users one `ZMSCORE` asks about: a command blocks Redis while it runs.
const ONLINE_BATCH: usize = 1000;

/// Which of `users` have a live session at `now`, in one round trip for all of them.
///
/// Read from the expiry index, whose score for a user is their latest session's expiry
/// (the scripts above keep it so): online exactly when that is after `now`. One
/// `ZMSCORE` per thousand users instead of a `ZCOUNT` per user: for a message to a
/// 1,000-member group this was most of Redis's work.
pub async fn online_among(
    redis: &mut ConnectionManager,
    users: &[UserId],
    now: UnixMillis,
) -> StoreResult<std::collections::HashSet<UserId>> {
    if users.is_empty() {
        return Ok(Default::default());
    }
    let mut pipe = redis::pipe();
    for chunk in users.chunks(ONLINE_BATCH) {
        let cmd = pipe.cmd("ZMSCORE").arg(EXPIRY_INDEX);
        for u in chunk {
            cmd.arg(u.to_string());
        }
    }
    let expiries: Vec<Vec<Option<f64>>> = pipe.query_async(redis).await?;
    Ok(users
        .iter()
        .zip(expiries.into_iter().flatten())
        .filter(|(_, expiry)| expiry.is_some_and(|e| e > now.0 as f64))
        .map(|(u, _)| *u)
        .collect())
}

/// Queue the count of `u`'s sessions that are still live at `now` (expiry after now).
fn count_live_sessions(pipe: &mut redis::Pipeline, u: UserId, now: UnixMillis) {
    pipe.cmd("ZCOUNT")
        .arg(sessions_key(u))
        .arg(format!("({}", now.0))
        .arg("+inf");
}
