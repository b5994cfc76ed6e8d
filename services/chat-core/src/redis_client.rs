//! Redis: presence, routing, dedup and typing. One multiplexed connection per process,
//! reconnecting by itself ([`redis::aio::ConnectionManager`]).
//!
//! Every connection of the workspace is made here, from `redis.*`: the URL
//! (`redis://`, or `rediss://` for TLS), optionally a username and password that
//! override the URL's, and for TLS the CA to trust (`redis.tls.ca_path`; the system's
//! roots otherwise) and a client certificate. TLS is the system OpenSSL (the
//! `tokio-native-tls-comp` feature), which librdkafka links already.

use redis::aio::ConnectionManager;
use redis::{Client, ConnectionAddr, ConnectionInfo, ErrorKind, RedisError, RedisResult};

use crate::config::{RedisSettings, TrustedCa};

fn invalid(what: &'static str, detail: String) -> RedisError {
    RedisError::from((ErrorKind::InvalidClientConfig, what, detail))
}

/// The URL with the separate credentials applied (they win over the URL's).
pub fn connection_info(settings: &RedisSettings) -> RedisResult<ConnectionInfo> {
    let info = redis::IntoConnectionInfo::into_connection_info(settings.url.expose())?;
    let mut redis_settings = info.redis_settings().clone();
    if let Some(user) = settings.username.as_ref().filter(|u| !u.is_empty()) {
        redis_settings = redis_settings.set_username(user);
    }
    if !settings.password.is_empty() {
        redis_settings = redis_settings.set_password(settings.password.expose());
    }
    Ok(info.set_redis_settings(redis_settings))
}

fn uses_tls(info: &ConnectionInfo) -> bool {
    matches!(info.addr(), ConnectionAddr::TcpTls { .. })
}

fn read(path: &str, what: &'static str) -> RedisResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| invalid(what, format!("{path}: {e}")))
}

/// A client for `info`: with `redis.tls.*` applied when the URL is `rediss://`.
fn client(settings: &RedisSettings, info: ConnectionInfo) -> RedisResult<Client> {
    let tls = &settings.tls;
    let configured = tls.trusted_ca() != TrustedCa::System || tls.cert_path.is_some();
    if !uses_tls(&info) {
        if configured {
            return Err(invalid(
                "redis.tls.* is set but redis.url is not a rediss:// URL",
                String::new(),
            ));
        }
        return Client::open(info);
    }
    let root_cert = tls
        .ca_pem_bytes()
        .map_err(|e| invalid("cannot read redis.tls.ca_path", e.to_string()))?;
    let client_tls = match (&tls.cert_path, &tls.key_path) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read(cert, "cannot read redis.tls.cert_path")?,
            client_key: read(key, "cannot read redis.tls.key_path")?,
        }),
        _ => None,
    };
    Client::build_with_tls(
        info,
        redis::TlsCertificates {
            client_tls,
            root_cert,
        },
    )
}

/// The first connection is retried a few times with backoff (seconds in all), then the
/// error is returned: a refused password or an untrusted certificate stops a service at
/// start-up with Redis' reason.
pub async fn connect(settings: &RedisSettings) -> RedisResult<ConnectionManager> {
    let client = client(settings, connection_info(settings)?)?;
    ConnectionManager::new(client).await
}

/// A connection for pub/sub subscriptions: RESP3, so pushes arrive on `push` while the
/// same connection takes commands, and subscriptions are restored by themselves after
/// a reconnect (frames published in between are lost; clients repair with `sync`).
pub async fn connect_subscriber(
    settings: &RedisSettings,
    push: tokio::sync::mpsc::UnboundedSender<redis::PushInfo>,
) -> RedisResult<ConnectionManager> {
    let info = connection_info(settings)?;
    let resp3 = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    let info = info.set_redis_settings(resp3);
    let client = client(settings, info)?;
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
) -> RedisResult<ConnectionManager> {
    let client = client(settings, connection_info(settings)?)?;
    let config =
        redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(response_timeout));
    ConnectionManager::new_with_config(client, config).await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::Settings;

    fn redis(pairs: &[(&str, &str)]) -> RedisSettings {
        let env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_from(&env).unwrap().redis
    }

    #[test]
    fn a_plain_url_is_plain_and_keeps_its_credentials() {
        let s = redis(&[("REDIS_URL", "redis://chat:pw@127.0.0.1:6379/2")]);
        let info = connection_info(&s).unwrap();
        assert!(!uses_tls(&info));
        assert_eq!(info.redis_settings().username(), Some("chat"));
        assert_eq!(info.redis_settings().password(), Some("pw"));
        assert_eq!(info.redis_settings().db(), 2);
    }

    #[test]
    fn rediss_is_tls_and_the_separate_credentials_win() {
        let s = redis(&[
            ("REDIS_URL", "rediss://old:old@localhost:6390"),
            ("CHAT__REDIS__USERNAME", "chat"),
            ("CHAT__REDIS__PASSWORD", "hunter2"),
            ("CHAT__REDIS__TLS__CA_PATH", "/etc/chat/ca.crt"),
        ]);
        let info = connection_info(&s).unwrap();
        assert!(matches!(
            info.addr(),
            ConnectionAddr::TcpTls { host, port: 6390, insecure: false, .. } if host == "localhost"
        ));
        assert_eq!(info.redis_settings().username(), Some("chat"));
        assert_eq!(info.redis_settings().password(), Some("hunter2"));
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn tls_settings_without_a_rediss_url_are_refused() {
        let s = redis(&[("CHAT__REDIS__TLS__CA_PATH", "/etc/chat/ca.crt")]);
        let err = client(&s, connection_info(&s).unwrap()).unwrap_err();
        assert!(err.to_string().contains("rediss://"), "{err}");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let s = redis(&[
            ("REDIS_URL", "rediss://127.0.0.1:6390"),
            ("CHAT__REDIS__TLS__CA_PATH", "/nonexistent/ca.crt"),
        ]);
        let err = client(&s, connection_info(&s).unwrap()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.crt"), "{err}");
    }
}
