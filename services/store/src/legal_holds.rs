//! Legal holds (`legal_holds`, `schemas/cql/0005_compliance.cql`): what erasure and
//! retention must leave alone until the hold is released.
//!
//! A hold on a user refuses their erasure and keeps their data keys past retention. A
//! hold on a conversation keeps the keys of everyone who is a member of it when
//! retention runs (their words in it are sealed under their own keys), and refuses the
//! erasure of its members.

use std::sync::Arc;

use chat_core::time::UnixMillis;
use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use serde::Serialize;
use uuid::Uuid;

use crate::cql::{first_row, prepare};
use crate::error::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldSubject {
    User,
    Conversation,
}

impl HoldSubject {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldSubject::User => "user",
            HoldSubject::Conversation => "conversation",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub subject: HoldSubject,
    pub subject_id: Uuid,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: i64,
}

pub struct HoldStore {
    session: Arc<Session>,
    place: PreparedStatement,
    release: PreparedStatement,
    one: PreparedStatement,
    of_kind: PreparedStatement,
}

impl HoldStore {
    pub async fn new(session: Arc<Session>, keyspace: &str) -> Result<Self, StoreError> {
        let ks = keyspace;
        Ok(Self {
            place: prepare(
                &session,
                format!(
                    "INSERT INTO {ks}.legal_holds (subject_kind, subject_id, reason, placed_by, placed_at) VALUES (?, ?, ?, ?, ?)"
                ),
            )
            .await?,
            release: prepare(
                &session,
                format!("DELETE FROM {ks}.legal_holds WHERE subject_kind = ? AND subject_id = ?"),
            )
            .await?,
            one: prepare(
                &session,
                format!(
                    "SELECT reason FROM {ks}.legal_holds WHERE subject_kind = ? AND subject_id = ?"
                ),
            )
            .await?,
            of_kind: prepare(
                &session,
                format!(
                    "SELECT subject_id, reason, placed_by, placed_at FROM {ks}.legal_holds WHERE subject_kind = ?"
                ),
            )
            .await?,
            session,
        })
    }

    pub async fn place(
        &self,
        subject: HoldSubject,
        id: Uuid,
        reason: &str,
        placed_by: &str,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(
                &self.place,
                (
                    subject.as_str(),
                    id,
                    reason,
                    placed_by,
                    CqlTimestamp(UnixMillis::now().0),
                ),
            )
            .await
            .map_err(StoreError::cql)?;
        Ok(())
    }

    /// Whether a hold was there to release.
    pub async fn release(&self, subject: HoldSubject, id: Uuid) -> Result<bool, StoreError> {
        let held = self.is_held(subject, id).await?;
        self.session
            .execute_unpaged(&self.release, (subject.as_str(), id))
            .await
            .map_err(StoreError::cql)?;
        Ok(held)
    }

    pub async fn is_held(&self, subject: HoldSubject, id: Uuid) -> Result<bool, StoreError> {
        let row: Option<(Option<String>,)> =
            first_row(&self.session, &self.one, (subject.as_str(), id)).await?;
        Ok(row.is_some())
    }

    /// Every hold of one kind (holds are few: one partition per kind).
    pub async fn list(&self, subject: HoldSubject) -> Result<Vec<Hold>, StoreError> {
        let mut rows = self
            .session
            .execute_iter(self.of_kind.clone(), (subject.as_str(),))
            .await
            .map_err(StoreError::cql)?
            .rows_stream::<(Uuid, Option<String>, Option<String>, Option<CqlTimestamp>)>()
            .map_err(StoreError::cql)?;
        let mut out = Vec::new();
        while let Some((id, reason, by, at)) = rows.try_next().await.map_err(StoreError::cql)? {
            out.push(Hold {
                subject,
                subject_id: id,
                reason: reason.unwrap_or_default(),
                placed_by: by.unwrap_or_default(),
                placed_at: at.map(|t| t.0).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}
