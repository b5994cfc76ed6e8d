//! The CQL schema: the `.cql` files under `schemas/cql/`, compiled into the binary and
//! applied in order by [`migrate`]. Each applied file is recorded in
//! `schema_migrations` with a checksum: re-running is a no-op, and a file edited after
//! it was applied is refused rather than silently diverging between environments.
//! Everything here is plain CQL valid on both ScyllaDB and Cassandra.

use chat_core::config::CqlSettings;
use scylla::client::session::Session;
use sha2::{Digest, Sha256};

use crate::error::StoreError;

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
    (
        3,
        "0003_account_state",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/cql/0003_account_state.cql"
        )),
    ),
    (
        4,
        "0004_threads_reactions_pins",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/cql/0004_threads_reactions_pins.cql"
        )),
    ),
    (
        5,
        "0005_compliance",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/cql/0005_compliance.cql"
        )),
    ),
    (
        6,
        "0006_conversation_retention",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/cql/0006_conversation_retention.cql"
        )),
    ),
];

/// Whether `error` says an `ALTER TABLE ... ADD` found its column already there
/// (Cassandra: "conflicts with an existing column"; ScyllaDB: "already exists").
fn is_column_already_added(statement: &str, error: &str) -> bool {
    let s = statement.to_ascii_uppercase();
    s.starts_with("ALTER TABLE")
        && s.contains(" ADD ")
        && (error.contains("conflicts with an existing column") || error.contains("already exists"))
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
) -> Result<MigrationReport, StoreError> {
    let ks = &settings.keyspace;
    // The keyspace name is validated by Settings (identifier characters only).
    let create_ks = format!(
        "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{'class': 'NetworkTopologyStrategy', 'replication_factor': {}}}",
        settings.replication_factor
    );
    session
        .query_unpaged(create_ks, ())
        .await
        .map_err(StoreError::cql)?;
    session
        .await_schema_agreement()
        .await
        .map_err(StoreError::cql)?;
    session
        .use_keyspace(ks, false)
        .await
        .map_err(StoreError::cql)?;
    session
        .query_unpaged(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text, checksum text, applied_at timestamp)",
            (),
        )
        .await
        .map_err(StoreError::cql)?;
    session
        .await_schema_agreement()
        .await
        .map_err(StoreError::cql)?;

    let mut report = MigrationReport::default();
    for (version, name, text) in MIGRATIONS {
        let sum = checksum(text);
        let existing = session
            .query_unpaged(
                "SELECT checksum FROM schema_migrations WHERE version = ?",
                (*version,),
            )
            .await
            .map_err(StoreError::cql)?
            .into_rows_result()
            .map_err(StoreError::cql)?
            .maybe_first_row::<(Option<String>,)>()
            .map_err(StoreError::cql)?;
        if let Some((applied,)) = existing {
            let applied = applied.unwrap_or_default();
            if applied != sum {
                return Err(StoreError::EditedMigration {
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
            if let Err(e) = session.query_unpaged(statement.as_str(), ()).await {
                // A migration interrupted after some of its statements ran is applied
                // again whole: a column it already added is not an error then.
                if is_column_already_added(&statement, &e.to_string()) {
                    tracing::info!(migration = name, %statement, "column already there");
                    continue;
                }
                return Err(StoreError::cql(e));
            }
        }
        session
            .await_schema_agreement()
            .await
            .map_err(StoreError::cql)?;
        session
            .query_unpaged(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, toTimestamp(now()))",
                (*version, *name, sum.as_str()),
            )
            .await
            .map_err(StoreError::cql)?;
        report.applied.push(name.to_string());
    }
    Ok(report)
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

    #[test]
    fn an_added_column_that_is_there_is_not_an_error_on_a_rerun() {
        let add = "ALTER TABLE messages ADD thread_root uuid";
        assert!(is_column_already_added(
            add,
            "Invalid column name thread_root because it conflicts with an existing column"
        ));
        assert!(is_column_already_added(
            add,
            "Column thread_root already exists"
        ));
        assert!(!is_column_already_added(add, "Unknown table messages"));
        assert!(!is_column_already_added(
            "CREATE TABLE x (a int PRIMARY KEY)",
            "already exists"
        ));
    }
}
