//! Redis: presence, routing, dedup and typing. One multiplexed connection per process,
//! reconnecting by itself ([`redis::aio::ConnectionManager`]).

use redis::aio::ConnectionManager;

use crate::config::RedisSettings;

pub async fn connect(settings: &RedisSettings) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(settings.url.expose())?;
    ConnectionManager::new(client).await
}
