//! The one error every store operation returns. Callers decide what it means to their
//! clients (the gateway answers `unavailable`, a projection retries its chunk); nothing
//! here knows about HTTP or frames.

/// A store operation that could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The CQL store refused a statement, did not answer, or answered with rows that do
    /// not have the expected shape.
    #[error("CQL store: {0}")]
    Cql(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Redis refused a command or did not answer.
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored record that does not read as what this crate writes (written by an
    /// incompatible build, or by hand).
    #[error("unreadable record {key}: {why}")]
    Unreadable { key: String, why: String },
    /// A migration file changed after it was applied somewhere.
    #[error("migration {name} was applied with another content (checksum {applied}, file {file}); write a new migration instead of editing an applied one")]
    EditedMigration {
        name: String,
        applied: String,
        file: String,
    },
}

impl StoreError {
    /// Wrap any of the CQL driver's error types (prepare, execute, rows, deserialize).
    pub(crate) fn cql(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Cql(Box::new(e))
    }

    pub(crate) fn unreadable(key: impl Into<String>, why: impl std::fmt::Display) -> Self {
        StoreError::Unreadable {
            key: key.into(),
            why: why.to_string(),
        }
    }
}

impl From<chat_core::cql::CqlError> for StoreError {
    fn from(e: chat_core::cql::CqlError) -> Self {
        StoreError::Cql(Box::new(e))
    }
}
