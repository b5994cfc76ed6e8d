//! Helpers every CQL table module of this crate shares.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

use crate::error::StoreError;

/// Execute a prepared query and return its first row, if any: the one shape of read
/// every service repeats (by key, at most one row).
pub(crate) async fn first_row<R>(
    session: &Session,
    statement: &scylla::statement::prepared::PreparedStatement,
    values: impl scylla::serialize::row::SerializeRow,
) -> Result<Option<R>, StoreError>
where
    R: for<'f> scylla::deserialize::row::DeserializeRow<'f, 'f>,
{
    session
        .execute_unpaged(statement, values)
        .await
        .map_err(StoreError::cql)?
        .into_rows_result()
        .map_err(StoreError::cql)?
        .maybe_first_row::<R>()
        .map_err(StoreError::cql)
}

/// A real round trip to the store, for readiness checks.
pub async fn ping(session: &Session) -> Result<(), StoreError> {
    session
        .query_unpaged("SELECT release_version FROM system.local", ())
        .await
        .map_err(StoreError::cql)?;
    Ok(())
}

/// Prepare one statement.
pub(crate) async fn prepare(
    session: &Session,
    text: String,
) -> Result<PreparedStatement, StoreError> {
    session.prepare(text).await.map_err(StoreError::cql)
}
