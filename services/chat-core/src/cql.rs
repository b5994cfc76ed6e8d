//! Connecting to the CQL store (ScyllaDB in production, Cassandra locally).
//!
//! Only client setup lives here; every statement (and the migrations under
//! `schemas/cql/`) belongs to the `chat-store` crate.

use std::sync::Arc;
use std::time::Duration;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::statement::Consistency;

use crate::config::{CqlConsistency, CqlSettings};

#[derive(Debug, thiserror::Error)]
pub enum CqlError {
    #[error("cannot connect to the CQL store: {0}")]
    Connect(String),
    #[error("cannot use keyspace: {0}")]
    Keyspace(String),
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
    builder
        .build()
        .await
        .map_err(|e| CqlError::Connect(e.to_string()))
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
        .notify(|e, wait| {
            tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "CQL store not ready");
        })
        .await
}
