//! Accounts, kept in the CQL store (they are not conversation state, so they are not
//! events). Usernames are unique through a lightweight transaction on
//! `users_by_username`, the one place two gateways could race.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chat_core::cql::CqlError;
use chat_core::ids::UserId;
use chat_core::time::UnixMillis;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlTimestamp, CqlValue, Row};

use crate::auth::tokens::ExternalIdentity;
use crate::domain::{DisplayName, Username};
use crate::error::ApiError;

/// A `users` row as `user_by_id` selects it: username, display name, password hash.
type UserRow = (Option<String>, Option<String>, Option<String>);

pub struct Accounts {
    session: Arc<Session>,
    claim_username: PreparedStatement,
    insert_user: PreparedStatement,
    user_by_username: PreparedStatement,
    user_by_id: PreparedStatement,
    /// SSO users already provisioned by this process (saves a write per request).
    provisioned: Mutex<HashSet<UserId>>,
}

pub struct Credentials {
    pub user_id: UserId,
    pub password_hash: String,
}

fn cql(e: impl std::fmt::Display) -> ApiError {
    ApiError::from(CqlError::Statement(e.to_string()))
}

impl Accounts {
    pub async fn new(session: Arc<Session>, keyspace: &str) -> Result<Self, CqlError> {
        let prepare = |q: String| {
            let session = session.clone();
            async move {
                session
                    .prepare(q)
                    .await
                    .map_err(|e| CqlError::Statement(e.to_string()))
            }
        };
        Ok(Self {
            claim_username: prepare(format!(
                "INSERT INTO {keyspace}.users_by_username (username, user_id) VALUES (?, ?) IF NOT EXISTS"
            ))
            .await?,
            insert_user: prepare(format!(
                "INSERT INTO {keyspace}.users (user_id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)"
            ))
            .await?,
            user_by_username: prepare(format!("SELECT user_id FROM {keyspace}.users_by_username WHERE username = ?"))
                .await?,
            user_by_id: prepare(format!(
                "SELECT username, display_name, password_hash FROM {keyspace}.users WHERE user_id = ?"
            ))
            .await?,
            session,
            provisioned: Mutex::new(HashSet::new()),
        })
    }

    /// Reserve `username` for `user_id`; false when someone else holds it.
    async fn claim(&self, username: &Username, user_id: UserId) -> Result<bool, ApiError> {
        let rows = self
            .session
            .execute_unpaged(&self.claim_username, (username.as_str(), user_id.0))
            .await
            .map_err(cql)?
            .into_rows_result()
            .map_err(cql)?;
        let row: Option<Row> = rows.maybe_first_row::<Row>().map_err(cql)?;
        let applied = matches!(
            row.as_ref().and_then(|r| r.columns.first()),
            Some(Some(CqlValue::Boolean(true)))
        );
        if applied {
            return Ok(true);
        }
        // Not applied: the row that exists tells whose it is (re-claiming our own is fine).
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

    async fn insert(
        &self,
        user_id: UserId,
        username: &Username,
        display: &str,
        hash: &str,
    ) -> Result<(), ApiError> {
        self.session
            .execute_unpaged(
                &self.insert_user,
                (
                    user_id.0,
                    username.as_str(),
                    display,
                    hash,
                    CqlTimestamp(UnixMillis::now().0),
                ),
            )
            .await
            .map_err(cql)?;
        Ok(())
    }

    /// Create an account; `username_taken` when the name is held.
    pub async fn create(
        &self,
        username: &Username,
        display_name: &DisplayName,
        password_hash: &str,
    ) -> Result<UserId, ApiError> {
        let user_id = UserId::new_random();
        if !self.claim(username, user_id).await? {
            return Err(ApiError::new("username_taken", "that username is taken"));
        }
        self.insert(user_id, username, display_name.as_str(), password_hash)
            .await?;
        Ok(user_id)
    }

    pub async fn credentials(&self, username: &Username) -> Result<Option<Credentials>, ApiError> {
        let Some(user_id) = self.user_id_of(username).await? else {
            return Ok(None);
        };
        let row = self.user_row(user_id).await?;
        // A username claimed by a create that died before writing the user row has no
        // password: nobody can log in as it.
        Ok(row
            .and_then(|(_, _, hash)| hash)
            .map(|password_hash| Credentials {
                user_id,
                password_hash,
            }))
    }

    async fn user_row(&self, user_id: UserId) -> Result<Option<UserRow>, ApiError> {
        chat_core::cql::first_row::<UserRow>(&self.session, &self.user_by_id, (user_id.0,))
            .await
            .map_err(cql)
    }

    pub async fn user_id_of(&self, username: &Username) -> Result<Option<UserId>, ApiError> {
        let row = chat_core::cql::first_row::<(Option<uuid::Uuid>,)>(
            &self.session,
            &self.user_by_username,
            (username.as_str(),),
        )
        .await
        .map_err(cql)?;
        Ok(row.and_then(|(u,)| u).map(UserId))
    }

    /// The username and display name of an account, to show a user id to people.
    pub async fn profile(&self, user_id: UserId) -> Result<Option<(String, String)>, ApiError> {
        let row = self.user_row(user_id).await?;
        Ok(row.and_then(|(username, display, _)| {
            let username = username?;
            let display = display.unwrap_or_else(|| username.clone());
            Some((username, display))
        }))
    }

    /// Whether an account with this id exists.
    pub async fn exists(&self, user_id: UserId) -> Result<bool, ApiError> {
        Ok(self.user_row(user_id).await?.is_some())
    }

    /// Make sure an SSO user has an account, with a username derived from their claims
    /// (suffixed when a local account already holds it).
    pub async fn ensure_external(
        &self,
        user_id: UserId,
        identity: &ExternalIdentity,
    ) -> Result<(), ApiError> {
        if self
            .provisioned
            .lock()
            .map(|p| p.contains(&user_id))
            .unwrap_or(false)
        {
            return Ok(());
        }
        if !self.exists(user_id).await? {
            let base = Username::from_claim(&identity.preferred_username);
            let mut username = base.clone();
            if !self.claim(&username, user_id).await? {
                let suffixed =
                    format!("{}-{}", base.as_str(), &user_id.0.simple().to_string()[..6]);
                username = Username::from_claim(&suffixed);
                if !self.claim(&username, user_id).await? {
                    return Err(ApiError::new(
                        "username_taken",
                        "could not provision an account for this identity",
                    ));
                }
            }
            let display =
                DisplayName::parse(&identity.display_name).map(|d| d.as_str().to_string());
            // SSO accounts have no password: they can only sign in through the issuer.
            self.insert(
                user_id,
                &username,
                &display.unwrap_or_else(|_| username.as_str().to_string()),
                "",
            )
            .await?;
            tracing::info!(%user_id, username = username.as_str(), "provisioned SSO account");
        }
        if let Ok(mut p) = self.provisioned.lock() {
            p.insert(user_id);
        }
        Ok(())
    }
}
