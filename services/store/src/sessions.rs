//! Live WebSocket sessions, visible from every gateway (`GET /api/v1/sessions`).
//!
//! Each session is a field of `sessions:{user}`, removed when the socket closes. A
//! gateway that dies without closing its sockets cannot remove them, so every gateway
//! also keeps `gateway:{id}:alive` fresh, and listings skip sessions whose gateway has
//! stopped beating; the next listing deletes them.

use std::time::Duration;

use chat_core::ids::{SessionId, UserId};
use chat_core::time::UnixMillis;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::keys;

pub const GATEWAY_HEARTBEAT: Duration = Duration::from_secs(10);
const GATEWAY_ALIVE_TTL_SECS: u64 = 30;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionInfo {
    pub session_id: String,
    pub gateway_id: String,
    pub connected_at: String,
}

pub async fn register(
    redis: &mut ConnectionManager,
    user: UserId,
    session: SessionId,
    gateway_id: &str,
) -> Result<(), StoreError> {
    let info = SessionInfo {
        session_id: session.to_string(),
        gateway_id: gateway_id.to_string(),
        connected_at: UnixMillis::now().to_rfc3339(),
    };
    let key = keys::sessions(user);
    let json = serde_json::to_string(&info).map_err(|e| StoreError::unreadable(&key, e))?;
    let _: () = redis.hset(key, session.to_string(), json).await?;
    Ok(())
}

pub async fn unregister(redis: &mut ConnectionManager, user: UserId, session: SessionId) {
    let result: redis::RedisResult<()> =
        redis.hdel(keys::sessions(user), session.to_string()).await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not remove a session record");
    }
}

/// The user's sessions on gateways that are alive.
pub async fn list(
    redis: &mut ConnectionManager,
    user: UserId,
) -> Result<Vec<SessionInfo>, StoreError> {
    let all: Vec<(String, String)> = redis.hgetall(keys::sessions(user)).await?;
    let mut live = Vec::with_capacity(all.len());
    for (field, json) in all {
        let Ok(info) = serde_json::from_str::<SessionInfo>(&json) else {
            continue;
        };
        let alive: bool = redis.exists(keys::gateway_alive(&info.gateway_id)).await?;
        if alive {
            live.push(info);
        } else {
            let _: redis::RedisResult<()> = redis.hdel(keys::sessions(user), field).await;
        }
    }
    live.sort_by(|a, b| a.connected_at.cmp(&b.connected_at));
    Ok(live)
}

/// Keep this gateway's liveness key fresh until the process ends.
pub async fn heartbeat(mut redis: ConnectionManager, gateway_id: String) {
    let key = keys::gateway_alive(&gateway_id);
    loop {
        let result: redis::RedisResult<()> = redis
            .set_ex(&key, UnixMillis::now().0, GATEWAY_ALIVE_TTL_SECS)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "gateway heartbeat failed");
        }
        tokio::time::sleep(GATEWAY_HEARTBEAT).await;
    }
}

/// On graceful shutdown: this gateway is gone at once, not in 30 s.
pub async fn gateway_stopped(redis: &mut ConnectionManager, gateway_id: &str) {
    let _: redis::RedisResult<()> = redis.del(keys::gateway_alive(gateway_id)).await;
}
