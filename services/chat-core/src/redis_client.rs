//! Redis: presence, routing, dedup and typing. One multiplexed connection per process,
//! reconnecting by itself ([`redis::aio::ConnectionManager`]).

use redis::aio::ConnectionManager;

use crate::config::RedisSettings;

pub async fn connect(settings: &RedisSettings) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(settings.url.expose())?;
    ConnectionManager::new(client).await
}

/// A connection for pub/sub subscriptions: RESP3, so pushes arrive on `push` while the
/// same connection takes commands, and subscriptions are restored by themselves after
/// a reconnect (frames published in between are lost; clients repair with `sync`).
pub async fn connect_subscriber(
    settings: &RedisSettings,
    push: tokio::sync::mpsc::UnboundedSender<redis::PushInfo>,
) -> redis::RedisResult<ConnectionManager> {
    let info = redis::IntoConnectionInfo::into_connection_info(settings.url.expose())?;
    let resp3 = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    let info = info.set_redis_settings(resp3);
    let client = redis::Client::open(info)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_push_sender(push)
        .set_automatic_resubscription();
    ConnectionManager::new_with_config(client, config).await
}

/// For consumers that send big pipelines and scripts (the fanout's publishes): a slow
/// answer under load is waited for rather than failed and retried.
pub async fn connect_patient(
    settings: &RedisSettings,
    response_timeout: std::time::Duration,
) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(settings.url.expose())?;
    let config =
        redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(response_timeout));
    ConnectionManager::new_with_config(client, config).await
}
