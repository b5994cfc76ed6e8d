//! TLS for the tests: the development CA and server certificate (`infra/lib/tls.sh`),
//! and clients that trust that CA and nothing else.
//!
//! The certificates are the ones `infra/dev env` names (`CHAT_TLS_DIR`) when it is set,
//! otherwise the tests make their own once under `target/tmp/tls` with the same script.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The directory holding `ca.crt`, `server.crt`, `server.key` and `server.pem`.
pub fn dev_tls_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CHAT_TLS_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = crate::target_tmp_dir().join("tls");
        let status = Command::new("bash")
            .arg(root.join("infra/lib/tls.sh"))
            .arg(&dir)
            .status()
            .expect("run infra/lib/tls.sh (needs openssl)");
        assert!(
            status.success(),
            "infra/lib/tls.sh {} failed",
            dir.display()
        );
        dir
    })
    .clone()
}

pub fn ca_path() -> PathBuf {
    dev_tls_dir().join("ca.crt")
}

/// The environment that makes a gateway serve HTTPS/WSS with the dev certificate.
pub fn gateway_tls_env() -> Vec<(String, String)> {
    let dir = dev_tls_dir();
    vec![
        (
            "CHAT__GATEWAY__TLS__CERT_PATH".into(),
            dir.join("server.crt").display().to_string(),
        ),
        (
            "CHAT__GATEWAY__TLS__KEY_PATH".into(),
            dir.join("server.key").display().to_string(),
        ),
    ]
}

fn dev_ca() -> native_tls::Certificate {
    let pem = std::fs::read(ca_path()).expect("read the dev CA");
    native_tls::Certificate::from_pem(&pem).expect("the dev CA is PEM")
}

/// An HTTPS client that trusts the dev CA only.
pub fn https_client() -> reqwest::Client {
    let pem = std::fs::read(ca_path()).expect("read the dev CA");
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("the dev CA is PEM")])
        .pool_idle_timeout(crate::CLIENT_IDLE)
        .build()
        .expect("HTTPS client")
}

/// A WebSocket TLS connector that trusts the dev CA only.
pub fn wss_connector() -> tokio_tungstenite::Connector {
    let connector = native_tls::TlsConnector::builder()
        .disable_built_in_roots(true)
        .add_root_certificate(dev_ca())
        .build()
        .expect("TLS connector");
    tokio_tungstenite::Connector::NativeTls(connector)
}

/// A variable `infra/dev env` exports for the TLS endpoints; a test that needs it fails
/// (rather than passes) when it is missing.
pub fn required_var(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!("{name} is not set: run the tests with the variables of `infra/dev env`")
        })
}

/// The environment that points every Kafka, Redis and CQL connection of a process at
/// the local servers' TLS endpoints with their credentials (`infra/dev env`: Kafka's
/// SASL_SSL listener, Redis' TLS port with the `chat` user, CQL with TLS).
pub fn secure_servers_env() -> Vec<(String, String)> {
    let ca = required_var("CHAT_TLS_CA");
    vec![
        ("KAFKA_BROKERS".into(), required_var("KAFKA_SASL_BROKERS")),
        ("CHAT__KAFKA__SECURITY_PROTOCOL".into(), "sasl_ssl".into()),
        (
            "CHAT__KAFKA__SASL__MECHANISM".into(),
            required_var("KAFKA_SASL_MECHANISM"),
        ),
        (
            "CHAT__KAFKA__SASL__USERNAME".into(),
            required_var("KAFKA_SASL_USERNAME"),
        ),
        (
            "CHAT__KAFKA__SASL__PASSWORD".into(),
            required_var("KAFKA_SASL_PASSWORD"),
        ),
        ("CHAT__KAFKA__TLS__CA_PATH".into(), ca.clone()),
        ("REDIS_URL".into(), required_var("REDIS_TLS_URL")),
        ("CHAT__REDIS__TLS__CA_PATH".into(), ca.clone()),
        ("CHAT__CQL__TLS__CA_PATH".into(), ca),
    ]
}
