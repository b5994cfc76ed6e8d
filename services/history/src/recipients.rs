//! What notifications need to know about recipients: who muted which conversation
//! (`schemas/cql/0002_notification_mutes.cql`) and what each user is called (mentions
//! are written `@username`).
//!
//! Mutes are preferences, not events: the gateway writes them directly and the
//! notifications projector reads them, so a mute takes effect for the next message the
//! projector handles.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chat_core::time::UnixMillis;
use futures::{stream, StreamExt, TryStreamExt};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

use crate::store::{cql, HistoryError};

pub struct RecipientStore {
    session: Arc<Session>,
    mute: PreparedStatement,
    mute_by_user: PreparedStatement,
    unmute: PreparedStatement,
    unmute_by_user: PreparedStatement,
    muted_in: PreparedStatement,
    muted_by: PreparedStatement,
    username: PreparedStatement,
}

impl RecipientStore {
    pub async fn new(session: Arc<Session>, keyspace: &str) -> Result<Self, HistoryError> {
        let ks = keyspace;
        let q = |text: String| {
            let session = session.clone();
            async move { session.prepare(text).await.map_err(cql) }
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
            username: q(format!("SELECT username FROM {ks}.users WHERE user_id = ?")).await?,
            session,
        })
    }

    /// Mute (`true`) or unmute a conversation for a user. Both tables are written; the
    /// per-conversation one decides, the per-user one lists.
    pub async fn set_muted(&self, c: Uuid, user: Uuid, muted: bool) -> Result<(), HistoryError> {
        if muted {
            let at = CqlTimestamp(UnixMillis::now().0);
            self.session
                .execute_unpaged(&self.mute, (c, user, at))
                .await
                .map_err(cql)?;
            self.session
                .execute_unpaged(&self.mute_by_user, (user, c, at))
                .await
                .map_err(cql)?;
        } else {
            self.session
                .execute_unpaged(&self.unmute, (c, user))
                .await
                .map_err(cql)?;
            self.session
                .execute_unpaged(&self.unmute_by_user, (user, c))
                .await
                .map_err(cql)?;
        }
        Ok(())
    }

    /// Who muted conversation `c`.
    pub async fn muted_in(&self, c: Uuid) -> Result<HashSet<Uuid>, HistoryError> {
        self.uuids(&self.muted_in, c).await
    }

    /// The conversations `user` muted.
    pub async fn muted_by(&self, user: Uuid) -> Result<HashSet<Uuid>, HistoryError> {
        self.uuids(&self.muted_by, user).await
    }

    async fn uuids(
        &self,
        st: &PreparedStatement,
        key: Uuid,
    ) -> Result<HashSet<Uuid>, HistoryError> {
        let result = self
            .session
            .execute_unpaged(st, (key,))
            .await
            .map_err(cql)?;
        let rows = result.into_rows_result().map_err(cql)?;
        let mut out = HashSet::new();
        for r in rows.rows::<(Uuid,)>().map_err(cql)? {
            out.insert(r.map_err(cql)?.0);
        }
        Ok(out)
    }

    /// Usernames of `users` (those without an account row are left out), looked up
    /// concurrently: one partition read each.
    pub async fn usernames(&self, users: &[Uuid]) -> Result<HashMap<Uuid, String>, HistoryError> {
        let found: Vec<(Uuid, Option<String>)> = stream::iter(users.iter().copied())
            .map(|u| async move {
                let row = chat_core::cql::first_row::<(Option<String>,)>(
                    &self.session,
                    &self.username,
                    (u,),
                )
                .await
                .map_err(cql)?;
                Ok::<_, HistoryError>((u, row.and_then(|r| r.0)))
            })
            .buffer_unordered(32)
            .try_collect()
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|(u, name)| Some((u, name?)))
            .collect())
    }
}
