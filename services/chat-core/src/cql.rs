//! Connecting to the CQL store (ScyllaDB in production, Cassandra locally).
//!
//! Only client setup lives here; every statement (and the migrations under
//! `schemas/cql/`) belongs to the `chat-store` crate.

use std::sync::Arc;
use std::time::Duration;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::{OpenSsl010Config, Session};
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::statement::Consistency;

use crate::config::{CqlConsistency, CqlSettings, TlsClientSettings};

#[derive(Debug, thiserror::Error)]
pub enum CqlError {
    #[error("cannot connect to the CQL store: {0}")]
    Connect(String),
    #[error("cannot use keyspace: {0}")]
    Keyspace(String),
    #[error("CQL TLS settings (cql.tls.*): {0}")]
    Tls(String),
}

/// Connect without choosing a keyspace (the migrator may have to create it).
pub async fn connect(settings: &CqlSettings) -> Result<Session, CqlError> {
    let mut policy = DefaultPolicy::builder().token_aware(true);
    if let Some(dc) = &settings.local_datacenter {
        policy = policy.prefer_datacenter(dc.clone());
    }
    let profile = ExecutionProfile::builder()
        .load_balancing_policy(policy.build())
        .request_timeout(Some(Duration::from_secs(10)))
        .consistency(consistency(settings.consistency))
        .build();
    let mut builder = SessionBuilder::new()
        .known_nodes(&settings.nodes)
        .connection_timeout(Duration::from_secs(5))
        .default_execution_profile_handle(profile.into_handle());
    if let Some(user) = &settings.username {
        builder = builder.user(user.clone(), settings.password.expose().to_string());
    }
    if let Some(tls) = tls_context(&settings.tls)? {
        builder = builder.tls_context(Some(tls));
    }
    builder
        .build()
        .await
        .map_err(|e| CqlError::Connect(e.to_string()))
}

/// TLS when `cql.tls` names a CA (`ca_path` or `ca_pem`) or says `enabled`: the
/// store's certificate must chain to that CA (and nothing else), or to the system's roots
/// when none is named, and name the node's address; a client certificate is sent when
/// one is configured. The system OpenSSL, which librdkafka links already.
fn tls_context(tls: &TlsClientSettings) -> Result<Option<OpenSsl010Config>, CqlError> {
    use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::X509;

    if !tls.cql_tls_on() {
        return Ok(None);
    }
    let failed = |what: &str, e: &dyn std::fmt::Display| CqlError::Tls(format!("{what}: {e}"));
    let pem = tls.ca_pem_bytes().map_err(|e| failed("cql.tls CA", &e))?;
    let mut builder = SslConnector::builder(SslMethod::tls()).map_err(|e| failed("OpenSSL", &e))?;
    // SslConnector::builder starts from the system's default roots; a named CA replaces them.
    if let Some(pem) = pem {
        let mut store = X509StoreBuilder::new().map_err(|e| failed("CA store", &e))?;
        for cert in X509::stack_from_pem(&pem).map_err(|e| failed("cql.tls CA", &e))? {
            store.add_cert(cert).map_err(|e| failed("cql.tls CA", &e))?;
        }
        builder.set_cert_store(store.build());
    }
    if let (Some(cert), Some(key)) = (&tls.cert_path, &tls.key_path) {
        builder
            .set_certificate_chain_file(cert)
            .map_err(|e| failed(cert, &e))?;
        builder
            .set_private_key_file(key, SslFiletype::PEM)
            .map_err(|e| failed(key, &e))?;
    }
    Ok(Some(OpenSsl010Config::new(builder)))
}

fn consistency(c: CqlConsistency) -> Consistency {
    match c {
        CqlConsistency::One => Consistency::One,
        CqlConsistency::LocalOne => Consistency::LocalOne,
        CqlConsistency::Quorum => Consistency::Quorum,
        CqlConsistency::LocalQuorum => Consistency::LocalQuorum,
        CqlConsistency::EachQuorum => Consistency::EachQuorum,
        CqlConsistency::All => Consistency::All,
    }
}

/// Connect and use the configured keyspace (which must exist: run the migrator first).
pub async fn connect_keyspace(settings: &CqlSettings) -> Result<Arc<Session>, CqlError> {
    let session = connect(settings).await?;
    session
        .use_keyspace(&settings.keyspace, false)
        .await
        .map_err(|e| CqlError::Keyspace(e.to_string()))?;
    Ok(Arc::new(session))
}

/// [`connect_keyspace`], retried with backoff for up to `cql.connect_patience_secs`:
/// services may start
/// before the store answers (a node still booting, or too busy to accept a connection
/// within the timeout), and a service that gives up at once leaves its work undone
/// until someone restarts it. A missing keyspace is retried too, since the migrator may
/// still be running.
pub async fn connect_keyspace_patiently(settings: &CqlSettings) -> Result<Arc<Session>, CqlError> {
    use backon::{ExponentialBuilder, Retryable};
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .with_max_times(usize::MAX)
        .with_total_delay(Some(settings.connect_patience()));
    (|| connect_keyspace(settings))
        .retry(backoff)
        // Settings that cannot work are not worth waiting on.
        .when(|e| !matches!(e, CqlError::Tls(_)))
        .notify(|e, wait| {
            tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "CQL store not ready");
        })
        .await
}
