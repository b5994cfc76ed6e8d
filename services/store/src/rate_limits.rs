//! Rate limits shared by every gateway: a GCRA bucket per key in Redis, timed by Redis's
//! clock. The gateways' own in-memory limiters (`governor`) are cheaper and stay the
//! first line; this one is for the limits that must not grow with the number of
//! gateways, such as password guesses per account.
//!
//! Keys hold a hash of what is limited (a username as typed may be long and is
//! client-controlled), so each bucket is one short string that expires when full again.

use std::time::Duration;

use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::keys;

/// KEYS: the bucket. ARGV: the emission interval (ms), the burst. Returns 0 when the
/// attempt passes, else the milliseconds until one would.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local limit = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > limit then
  return next_tat - now - limit
end
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return 0
"#;

#[derive(Clone)]
pub struct RateLimitStore {
    redis: ConnectionManager,
}

impl RateLimitStore {
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
    }

    /// Count one attempt against `kind`/`key`, allowing `per_min` a minute with bursts
    /// of `burst`. `Some(wait)` when refused.
    pub async fn check_per_minute(
        &self,
        kind: &str,
        key: &str,
        per_min: u32,
        burst: u32,
    ) -> Result<Option<Duration>, StoreError> {
        let interval_ms = 60_000 / u64::from(per_min.max(1));
        let digest = Sha256::digest(key.as_bytes());
        let hashed: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let wait_ms: u64 = redis::Script::new(GCRA)
            .key(keys::rate_limit(kind, &hashed))
            .arg(interval_ms.max(1))
            .arg(burst.max(1))
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }
}
