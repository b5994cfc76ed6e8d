//! Accounts, kept in the CQL store (they are not conversation state, so they are not
//! events). Usernames are unique through a lightweight transaction on
//! `users_by_username`, the one place two gateways could race.

use std::collections::HashMap;
use std::sync::Arc;

use chat_core::ids::UserId;
use chat_core::time::UnixMillis;
use futures::{stream, StreamExt, TryStreamExt};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlTimestamp, CqlValue, Row};
use uuid::Uuid;

use crate::cql::{first_row, prepare};
use crate::error::StoreError;

/// An account's row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountRow {
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// Empty for accounts that sign in through an external issuer; absent when the
    /// account's creation died half-way.
    pub password_hash: Option<String>,
    /// Set by an operator: the account cannot sign in.
    pub deactivated: bool,
}

pub struct AccountStore {
    session: Arc<Session>,
    claim_username: PreparedStatement,
    insert_user: PreparedStatement,
    user_by_username: PreparedStatement,
    user_by_id: PreparedStatement,
    set_password: PreparedStatement,
    set_deactivated: PreparedStatement,
}

impl AccountStore {
    pub async fn new(session: Arc<Session>, keyspace: &str) -> Result<Self, StoreError> {
        let ks = keyspace;
        Ok(Self {
            claim_username: prepare(
                &session,
                format!(
                    "INSERT INTO {ks}.users_by_username (username, user_id) VALUES (?, ?) IF NOT EXISTS"
                ),
            )
            .await?,
            insert_user: prepare(
                &session,
                format!(
                    "INSERT INTO {ks}.users (user_id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)"
                ),
            )
            .await?,
            user_by_username: prepare(
                &session,
                format!("SELECT user_id FROM {ks}.users_by_username WHERE username = ?"),
            )
            .await?,
            user_by_id: prepare(
                &session,
                format!(
                    "SELECT username, display_name, password_hash, deactivated_at FROM {ks}.users WHERE user_id = ?"
                ),
            )
            .await?,
            set_password: prepare(
                &session,
                format!("UPDATE {ks}.users SET password_hash = ? WHERE user_id = ?"),
            )
            .await?,
            set_deactivated: prepare(
                &session,
                format!("UPDATE {ks}.users SET deactivated_at = ? WHERE user_id = ?"),
            )
            .await?,
            session,
        })
    }

    /// Reserve `username` for `user_id`; false when someone else holds it (re-claiming
    /// one's own is fine).
    pub async fn claim_username(
        &self,
        username: &str,
        user_id: UserId,
    ) -> Result<bool, StoreError> {
        let rows = self
            .session
            .execute_unpaged(&self.claim_username, (username, user_id.0))
            .await
            .map_err(StoreError::cql)?
            .into_rows_result()
            .map_err(StoreError::cql)?;
        let row: Option<Row> = rows.maybe_first_row::<Row>().map_err(StoreError::cql)?;
        let applied = matches!(
            row.as_ref().and_then(|r| r.columns.first()),
            Some(Some(CqlValue::Boolean(true)))
        );
        if applied {
            return Ok(true);
        }
        // Not applied: the row that exists tells whose it is.
        let holder = row.and_then(|r| {
            r.columns
                .into_iter()
                .skip(1)
                .flatten()
                .find_map(|v| match v {
                    CqlValue::Uuid(u) => Some(u),
                    _ => None,
                })
        });
        Ok(holder == Some(user_id.0))
    }

    /// Write an account's row (after its username was claimed).
    pub async fn insert(
        &self,
        user_id: UserId,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(
                &self.insert_user,
                (
                    user_id.0,
                    username,
                    display_name,
                    password_hash,
                    CqlTimestamp(UnixMillis::now().0),
                ),
            )
            .await
            .map_err(StoreError::cql)?;
        Ok(())
    }

    pub async fn user_id_of(&self, username: &str) -> Result<Option<UserId>, StoreError> {
        let row = first_row::<(Option<Uuid>,)>(&self.session, &self.user_by_username, (username,))
            .await?;
        Ok(row.and_then(|(u,)| u).map(UserId))
    }

    pub async fn account(&self, user_id: UserId) -> Result<Option<AccountRow>, StoreError> {
        let row = first_row::<(
            Option<String>,
            Option<String>,
            Option<String>,
            Option<CqlTimestamp>,
        )>(&self.session, &self.user_by_id, (user_id.0,))
        .await?;
        Ok(row.map(
            |(username, display_name, password_hash, deactivated_at)| AccountRow {
                username,
                display_name,
                password_hash,
                deactivated: deactivated_at.is_some(),
            },
        ))
    }

    /// Replace an account's password hash (the row must exist).
    pub async fn set_password(
        &self,
        user_id: UserId,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(&self.set_password, (password_hash, user_id.0))
            .await
            .map_err(StoreError::cql)?;
        Ok(())
    }

    /// Mark an account deactivated (now) or active again.
    pub async fn set_deactivated(
        &self,
        user_id: UserId,
        deactivated: bool,
    ) -> Result<(), StoreError> {
        let at = deactivated.then(|| CqlTimestamp(UnixMillis::now().0));
        self.session
            .execute_unpaged(&self.set_deactivated, (at, user_id.0))
            .await
            .map_err(StoreError::cql)?;
        Ok(())
    }

    /// Usernames of `users` (those without an account row are left out), looked up
    /// concurrently: one partition read each.
    pub async fn usernames(&self, users: &[Uuid]) -> Result<HashMap<Uuid, String>, StoreError> {
        let found: Vec<(Uuid, Option<String>)> = stream::iter(users.iter().copied())
            .map(|u| async move {
                let row = self.account(UserId(u)).await?;
                Ok::<_, StoreError>((u, row.and_then(|r| r.username)))
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
