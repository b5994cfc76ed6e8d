//! Who muted which conversation (`schemas/cql/0002_notification_mutes.cql`).
//!
//! Mutes are preferences, not events: the gateway writes them directly and the
//! notifications projector reads them, so a mute takes effect for the next message the
//! projector handles.

use std::collections::HashSet;
use std::sync::Arc;

use chat_core::time::UnixMillis;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

use crate::cql::prepare;
use crate::error::StoreError;

pub struct MuteStore {
    session: Arc<Session>,
    mute: PreparedStatement,
    mute_by_user: PreparedStatement,
    unmute: PreparedStatement,
    unmute_by_user: PreparedStatement,
    muted_in: PreparedStatement,
    muted_by: PreparedStatement,
}

impl MuteStore {
    pub async fn new(session: Arc<Session>, keyspace: &str) -> Result<Self, StoreError> {
        let ks = keyspace;
        let q = |text: String| {
            let session = session.clone();
            async move { prepare(&session, text).await }
        };
        Ok(Self {
            mute: q(format!(
                "INSERT INTO {ks}.conversation_mutes (conversation_id, user_id, muted_at) VALUES (?, ?, ?)"
            ))
            .await?,
            mute_by_user: q(format!(
                "INSERT INTO {ks}.user_mutes (user_id, conversation_id, muted_at) VALUES (?, ?, ?)"
            ))
            .await?,
            unmute: q(format!(
                "DELETE FROM {ks}.conversation_mutes WHERE conversation_id = ? AND user_id = ?"
            ))
            .await?,
            unmute_by_user: q(format!(
                "DELETE FROM {ks}.user_mutes WHERE user_id = ? AND conversation_id = ?"
            ))
            .await?,
            muted_in: q(format!(
                "SELECT user_id FROM {ks}.conversation_mutes WHERE conversation_id = ?"
            ))
            .await?,
            muted_by: q(format!(
                "SELECT conversation_id FROM {ks}.user_mutes WHERE user_id = ?"
            ))
            .await?,
            session,
        })
    }

    /// Mute (`true`) or unmute a conversation for a user. Both tables are written; the
    /// per-conversation one decides, the per-user one lists.
    pub async fn set_muted(&self, c: Uuid, user: Uuid, muted: bool) -> Result<(), StoreError> {
        if muted {
            let at = CqlTimestamp(UnixMillis::now().0);
            self.session
                .execute_unpaged(&self.mute, (c, user, at))
                .await
                .map_err(StoreError::cql)?;
            self.session
                .execute_unpaged(&self.mute_by_user, (user, c, at))
                .await
                .map_err(StoreError::cql)?;
        } else {
            self.session
                .execute_unpaged(&self.unmute, (c, user))
                .await
                .map_err(StoreError::cql)?;
            self.session
                .execute_unpaged(&self.unmute_by_user, (user, c))
                .await
                .map_err(StoreError::cql)?;
        }
        Ok(())
    }

    /// Who muted conversation `c`.
    pub async fn muted_in(&self, c: Uuid) -> Result<HashSet<Uuid>, StoreError> {
        self.uuids(&self.muted_in, c).await
    }

    /// The conversations `user` muted.
    pub async fn muted_by(&self, user: Uuid) -> Result<HashSet<Uuid>, StoreError> {
        self.uuids(&self.muted_by, user).await
    }

    async fn uuids(&self, st: &PreparedStatement, key: Uuid) -> Result<HashSet<Uuid>, StoreError> {
        let result = self
            .session
            .execute_unpaged(st, (key,))
            .await
            .map_err(StoreError::cql)?;
        let rows = result.into_rows_result().map_err(StoreError::cql)?;
        let mut out = HashSet::new();
        for r in rows.rows::<(Uuid,)>().map_err(StoreError::cql)? {
            out.insert(r.map_err(StoreError::cql)?.0);
        }
        Ok(out)
    }
}
