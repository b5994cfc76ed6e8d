//! Sign-ins and revocation: what makes a token stop working before it expires.
//!
//! A sign-in (`auth:signin:{id}`) holds the hash of its current refresh token. Refreshing
//! presents that token and replaces it ([`SignInStore::rotate`]); presenting an older
//! one means it was copied, so the whole sign-in is revoked (reuse detection), except
//! for the one just replaced within a short grace, which two tabs refreshing at once
//! both present.
//!
//! Access tokens are short-lived and checked on every request against two records
//! ([`SignInStore::is_revoked`]): `auth:revoked:{id}` (a signed-out sign-in, kept as long
//! as its access tokens live) and `auth:user:{u}:not_before` (tokens from sign-ins that
//! started earlier are refused: password change, sign-out everywhere, deactivation).
//! Every revocation is also published on [`REVOCATIONS_CHANNEL`] so gateways close the
//! sockets it concerns at once.
//!
//! WebSocket tickets (`auth:ticket:{t}`) carry a token's identity through the upgrade so
//! no token appears in a URL; each is redeemed once.
//!
//! Times are Redis's clock (`TIME`), so gateways with skewed clocks agree.

use std::time::Duration;

use chat_core::ids::{SignInId, UserId};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::keys;

pub use keys::REVOCATIONS_CHANNEL;

/// `not_before` of a deactivated account: no token is ever valid again.
pub const DEACTIVATED: i64 = i64::MAX;

/// KEYS: the sign-in, the user's `not_before`. ARGV: the user, the refresh token's hash,
/// the sign-in's lifetime (s). Returns the creation time (ms).
const CREATE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nb = tonumber(redis.call('GET', KEYS[2]) or '0')
if nb > now then
  return -1
end
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'current', ARGV[2], 'created', now)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return now
"#;

/// KEYS: the sign-in, its revocation record, then the user's `not_before` is found from
/// the stored user. ARGV: the presented hash, the new hash, the lifetime (s), the grace
/// (ms), the revocation record's lifetime (s), the `not_before` key prefix and suffix.
/// Returns {outcome, user, created}.
const ROTATE: &str = r#"
local s = redis.call('HMGET', KEYS[1], 'user', 'current', 'previous', 'rotated', 'created')
local user, current, previous, rotated, created = s[1], s[2], s[3], s[4], s[5]
if not user then
  return {'unknown', '', 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nb = tonumber(redis.call('GET', ARGV[6] .. user .. ARGV[7]) or '0')
if tonumber(created) < nb then
  redis.call('DEL', KEYS[1])
  return {'revoked', user, 0}
end
if ARGV[1] == current then
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous', current, 'rotated', now)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {'rotated', user, tonumber(created)}
end
if previous and ARGV[1] == previous and now - tonumber(rotated) <= tonumber(ARGV[4]) then
  return {'grace', user, tonumber(created)}
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[5])
return {'reused', user, 0}
"#;

/// KEYS: the user's `not_before`. ARGV: a value, or `now` for Redis's clock.
const SET_NOT_BEFORE: &str = r#"
local v = ARGV[1]
if v == 'now' then
  local t = redis.call('TIME')
  v = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
redis.call('SET', KEYS[1], v)
return v
"#;

/// What presenting a refresh token did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// It was the current one: the new hash replaced it.
    Rotated { user: UserId, created_ms: i64 },
    /// It was the one replaced moments ago (another tab refreshed first): nothing was
    /// replaced; an access token may be issued, not a new refresh token.
    Grace { user: UserId, created_ms: i64 },
    /// It was replaced long ago: it was copied. The sign-in is revoked.
    Reused { user: UserId },
    /// The sign-in was revoked by a later `not_before` (password change, deactivation).
    Revoked,
    /// No such sign-in (never existed, expired or signed out).
    Unknown,
}

/// One revocation as gateways receive it on [`REVOCATIONS_CHANNEL`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub user: UserId,
    /// One sign-in, or (when absent) every token of the user from before `not_before`.
    #[serde(default)]
    pub sign_in: Option<SignInId>,
    #[serde(default)]
    pub not_before: Option<i64>,
}

impl Revocation {
    /// Whether a socket authenticated by `sign_in` (begun at `auth_ms`) is concerned.
    pub fn concerns(&self, sign_in: Option<SignInId>, auth_ms: i64) -> bool {
        match (self.sign_in, self.not_before) {
            (Some(revoked), _) => sign_in == Some(revoked),
            (None, Some(nb)) => auth_ms < nb,
            (None, None) => false,
        }
    }
}

#[derive(Clone)]
pub struct SignInStore {
    redis: ConnectionManager,
}

impl SignInStore {
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
    }

    /// Record a new sign-in with its first refresh token's hash, kept for `lifetime`
    /// after its last refresh. `None` when the account is deactivated.
    pub async fn create(
        &self,
        sign_in: SignInId,
        user: UserId,
        refresh_hash: &str,
        lifetime: Duration,
    ) -> Result<Option<i64>, StoreError> {
        let created: i64 = redis::Script::new(CREATE)
            .key(keys::sign_in(sign_in))
            .key(keys::not_before(user))
            .arg(user.to_string())
            .arg(refresh_hash)
            .arg(lifetime.as_secs().max(1))
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok((created >= 0).then_some(created))
    }

    /// Present a refresh token's hash, replacing it by `new_hash` if it is the current
    /// one. `revoked_for` is how long the revocation record of a reused sign-in is kept
    /// (the access tokens' lifetime).
    pub async fn rotate(
        &self,
        sign_in: SignInId,
        presented_hash: &str,
        new_hash: &str,
        lifetime: Duration,
        grace: Duration,
        revoked_for: Duration,
    ) -> Result<Rotation, StoreError> {
        let (prefix, suffix) = keys::not_before_parts();
        let (outcome, user, created): (String, String, i64) = redis::Script::new(ROTATE)
            .key(keys::sign_in(sign_in))
            .key(keys::revoked(sign_in))
            .arg(presented_hash)
            .arg(new_hash)
            .arg(lifetime.as_secs().max(1))
            .arg(grace.as_millis() as u64)
            .arg(revoked_for.as_secs().max(1))
            .arg(prefix)
            .arg(suffix)
            .invoke_async(&mut self.redis.clone())
            .await?;
        let user = || {
            user.parse::<UserId>()
                .map_err(|e| StoreError::unreadable(keys::sign_in(sign_in), e))
        };
        Ok(match outcome.as_str() {
            "rotated" => Rotation::Rotated {
                user: user()?,
                created_ms: created,
            },
            "grace" => Rotation::Grace {
                user: user()?,
                created_ms: created,
            },
            "reused" => {
                let user = user()?;
                self.publish(&Revocation {
                    user,
                    sign_in: Some(sign_in),
                    not_before: None,
                })
                .await;
                Rotation::Reused { user }
            }
            "revoked" => Rotation::Revoked,
            _ => Rotation::Unknown,
        })
    }

    /// Sign out one sign-in: its refresh token stops working, and its access tokens are
    /// refused for `revoked_for` (their lifetime) from now.
    pub async fn revoke(
        &self,
        user: UserId,
        sign_in: SignInId,
        revoked_for: Duration,
    ) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let _: () = redis::pipe()
            .atomic()
            .del(keys::sign_in(sign_in))
            .ignore()
            .set_ex(keys::revoked(sign_in), 1, revoked_for.as_secs().max(1))
            .ignore()
            .query_async(&mut redis)
            .await?;
        self.publish(&Revocation {
            user,
            sign_in: Some(sign_in),
            not_before: None,
        })
        .await;
        Ok(())
    }

    /// Refuse every token of `user` from a sign-in that began before now (password
    /// change, sign-out everywhere). Returns the new `not_before`.
    pub async fn revoke_all(&self, user: UserId) -> Result<i64, StoreError> {
        self.set_not_before(user, "now").await
    }

    /// Refuse every token of `user`, now and later, until [`Self::reactivate`].
    pub async fn deactivate(&self, user: UserId) -> Result<(), StoreError> {
        self.set_not_before(user, &DEACTIVATED.to_string())
            .await
            .map(|_| ())
    }

    /// Allow sign-ins again (tokens from before stay refused).
    pub async fn reactivate(&self, user: UserId) -> Result<(), StoreError> {
        self.set_not_before(user, "now").await.map(|_| ())
    }

    async fn set_not_before(&self, user: UserId, value: &str) -> Result<i64, StoreError> {
        let set: String = redis::Script::new(SET_NOT_BEFORE)
            .key(keys::not_before(user))
            .arg(value)
            .invoke_async(&mut self.redis.clone())
            .await?;
        let not_before = set
            .parse::<i64>()
            .map_err(|e| StoreError::unreadable(keys::not_before(user), e))?;
        self.publish(&Revocation {
            user,
            sign_in: None,
            not_before: Some(not_before),
        })
        .await;
        Ok(not_before)
    }

    /// Whether a token of `user` from `sign_in`, begun at `auth_ms`, was revoked.
    pub async fn is_revoked(
        &self,
        user: UserId,
        sign_in: Option<SignInId>,
        auth_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut redis = self.redis.clone();
        let not_before: Option<i64> = match sign_in {
            Some(s) => {
                let (revoked, nb): (bool, Option<i64>) = redis::pipe()
                    .exists(keys::revoked(s))
                    .get(keys::not_before(user))
                    .query_async(&mut redis)
                    .await?;
                if revoked {
                    return Ok(true);
                }
                nb
            }
            None => redis.get(keys::not_before(user)).await?,
        };
        Ok(not_before.is_some_and(|nb| auth_ms < nb))
    }

    /// Keep `payload` for one redemption within `lifetime`.
    pub async fn issue_ticket<T: Serialize>(
        &self,
        ticket: &str,
        payload: &T,
        lifetime: Duration,
    ) -> Result<(), StoreError> {
        let key = keys::ticket(ticket);
        let json = serde_json::to_string(payload).map_err(|e| StoreError::unreadable(&key, e))?;
        let _: () = self
            .redis
            .clone()
            .set_ex(key, json, lifetime.as_secs().max(1))
            .await?;
        Ok(())
    }

    /// The ticket's payload, once: the ticket is gone afterwards.
    pub async fn redeem_ticket<T: DeserializeOwned>(
        &self,
        ticket: &str,
    ) -> Result<Option<T>, StoreError> {
        let key = keys::ticket(ticket);
        let json: Option<String> = self.redis.clone().get_del(&key).await?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::unreadable(&key, e)))
            .transpose()
    }

    /// Tell every gateway; a lost message only delays closing sockets until their token
    /// expires (every request and upgrade checks the records themselves).
    async fn publish(&self, revocation: &Revocation) {
        let Ok(json) = serde_json::to_string(revocation) else {
            return;
        };
        let sent: redis::RedisResult<()> =
            self.redis.clone().publish(REVOCATIONS_CHANNEL, json).await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not publish a revocation");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_concerns_its_sign_in_or_older_tokens() {
        let user = UserId::new_random();
        let s = SignInId::new_random();
        let one = Revocation {
            user,
            sign_in: Some(s),
            not_before: None,
        };
        assert!(one.concerns(Some(s), 5));
        assert!(!one.concerns(Some(SignInId::new_random()), 5));
        assert!(!one.concerns(None, 5));
        let all = Revocation {
            user,
            sign_in: None,
            not_before: Some(100),
        };
        assert!(all.concerns(Some(s), 99));
        assert!(all.concerns(None, 99));
        assert!(!all.concerns(Some(s), 100));
    }
}
