//! The CQL store (ScyllaDB in production, Cassandra locally) and its migrations.
//!
//! Migrations are the `.cql` files under `schemas/cql/`, compiled into the binary and
//! applied in order by [`migrate`]. Each applied file is recorded in
//! `schema_migrations` with a checksum: re-running is a no-op, and a file edited after
//! it was applied is refused rather than silently diverging between environments.
//! Everything here is plain CQL valid on both ScyllaDB and Cassandra.

use std::sync::Arc;
use std::time::Duration;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use sha2::{Digest, Sha256};

use crate::config::CqlSettings;

/// Migrations in the order they apply: (version, name, text).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "0001_initial",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/cql/0001_initial.cql"
        )),
    ),
    (
        2,
        "0002_notification_mutes",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/cql/0002_notification_mutes.cql"
        )),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum CqlError {
    #[error("cannot connect to the CQL store: {0}")]
    Connect(String),
    #[error("CQL statement failed: {0}")]
    Statement(String),
    #[error("migration {name} was applied with another content (checksum {applied}, file {file}); write a new migration instead of editing an applied one")]
    EditedMigration {
        name: String,
        applied: String,
        file: String,
    },
}

fn statement_error(e: impl std::fmt::Display) -> CqlError {
    CqlError::Statement(e.to_string())
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

/// Connect and use the configured keyspace (which must exist: run the migrator first).
pub async fn connect_keyspace(settings: &CqlSettings) -> Result<Arc<Session>, CqlError> {
    let session = connect(settings).await?;
    session
        .use_keyspace(&settings.keyspace, false)
        .await
        .map_err(statement_error)?;
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

/// Split a migration file into statements: a statement ends with a `;` at the end of a
/// line; `--` comment lines are dropped.
pub fn split_statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            out.push(current.trim().trim_end_matches(';').trim().to_string());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

fn checksum(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Result of [`migrate`]: which migrations ran now and which were already there.
#[derive(Debug, Default)]
pub struct MigrationReport {
    pub applied: Vec<String>,
    pub already_applied: Vec<String>,
}

/// Create the keyspace if needed and apply every migration not applied yet.
pub async fn migrate(
    session: &Session,
    settings: &CqlSettings,
) -> Result<MigrationReport, CqlError> {
    let ks = &settings.keyspace;
    // The keyspace name is validated by Settings (identifier characters only).
    let create_ks = format!(
        "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{'class': 'NetworkTopologyStrategy', 'replication_factor': {}}}",
        settings.replication_factor
    );
    session
        .query_unpaged(create_ks, ())
        .await
        .map_err(statement_error)?;
    session
        .await_schema_agreement()
        .await
        .map_err(statement_error)?;
    session
        .use_keyspace(ks, false)
        .await
        .map_err(statement_error)?;
    session
        .query_unpaged(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text, checksum text, applied_at timestamp)",
            (),
        )
        .await
        .map_err(statement_error)?;
    session
        .await_schema_agreement()
        .await
        .map_err(statement_error)?;

    let mut report = MigrationReport::default();
    for (version, name, text) in MIGRATIONS {
        let sum = checksum(text);
        let existing = session
            .query_unpaged(
                "SELECT checksum FROM schema_migrations WHERE version = ?",
                (*version,),
            )
            .await
            .map_err(statement_error)?
            .into_rows_result()
            .map_err(statement_error)?
            .maybe_first_row::<(Option<String>,)>()
            .map_err(statement_error)?;
        if let Some((applied,)) = existing {
            let applied = applied.unwrap_or_default();
            if applied != sum {
                return Err(CqlError::EditedMigration {
                    name: name.to_string(),
                    applied,
                    file: sum,
                });
            }
            report.already_applied.push(name.to_string());
            continue;
        }
        for statement in split_statements(text) {
            tracing::debug!(migration = name, %statement, "applying");
            session
                .query_unpaged(statement, ())
                .await
                .map_err(statement_error)?;
        }
        session
            .await_schema_agreement()
            .await
            .map_err(statement_error)?;
        session
            .query_unpaged(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, toTimestamp(now()))",
                (*version, *name, sum.as_str()),
            )
            .await
            .map_err(statement_error)?;
        report.applied.push(name.to_string());
    }
    Ok(report)
}

/// Execute a prepared query and return its first row, if any: the one shape of read
/// every service repeats (by key, at most one row).
pub async fn first_row<R>(
    session: &Session,
    statement: &scylla::statement::prepared::PreparedStatement,
    values: impl scylla::serialize::row::SerializeRow,
) -> Result<Option<R>, CqlError>
where
    R: for<'f> scylla::deserialize::row::DeserializeRow<'f, 'f>,
{
    session
        .execute_unpaged(statement, values)
        .await
        .map_err(statement_error)?
        .into_rows_result()
        .map_err(statement_error)?
        .maybe_first_row::<R>()
        .map_err(statement_error)
}

/// A real round trip to the store, for readiness checks.
pub async fn ping(session: &Session) -> Result<(), CqlError> {
    session
        .query_unpaged("SELECT release_version FROM system.local", ())
        .await
        .map_err(statement_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_line_ending_semicolons_and_drops_comments() {
        let text = "-- a comment\nCREATE TABLE a (\n  x int PRIMARY KEY\n);\n\n-- another\nCREATE TABLE b (y int PRIMARY KEY) WITH comment = 'a;b';\n";
        let s = split_statements(text);
        assert_eq!(s.len(), 2);
        assert!(s[0].starts_with("CREATE TABLE a"));
        assert!(s[1].ends_with("'a;b'"));
    }

    #[test]
    fn every_migration_splits_into_statements() {
        for (_, name, text) in MIGRATIONS {
            let statements = split_statements(text);
            assert!(!statements.is_empty(), "{name} has no statements");
            for s in statements {
                assert!(
                    s.starts_with("CREATE") || s.starts_with("ALTER"),
                    "{name}: unexpected statement {s}"
                );
            }
        }
    }
}
