//! Pins (migration 0004): at most `chat_core::rules::MAX_PINS` per conversation, one
//! partition per conversation.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

use super::model::Pin;
use super::{ts, HistoryStore};
use crate::error::StoreError;

pub(crate) struct Statements {
    list: PreparedStatement,
    pub(crate) insert: PreparedStatement,
    pub(crate) delete: PreparedStatement,
}

impl Statements {
    pub(crate) async fn prepare(session: &Session, ks: &str) -> Result<Self, StoreError> {
        use crate::cql::prepare;
        Ok(Self {
            list: prepare(
                session,
                format!(
                    "SELECT message_id, pinned_by, pinned_at, pinned_seq FROM {ks}.pins WHERE conversation_id = ?"
                ),
            )
            .await?,
            insert: prepare(
                session,
                format!(
                    "INSERT INTO {ks}.pins (conversation_id, message_id, pinned_by, pinned_at, pinned_seq) \
                     VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?"
                ),
            )
            .await?,
            delete: prepare(
                session,
                format!(
                    "DELETE FROM {ks}.pins USING TIMESTAMP ? WHERE conversation_id = ? AND message_id = ?"
                ),
            )
            .await?,
        })
    }
}

/// One row of `pins`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinRow {
    pub message_id: Uuid,
    pub pinned_by: Uuid,
    pub pinned_at: Option<i64>,
    pub pinned_seq: i64,
}

impl HistoryStore {
    /// The pin rows of `c`, newest first.
    pub async fn pin_rows(&self, c: Uuid) -> Result<Vec<PinRow>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.pins.list, (c,))
            .await
            .map_err(StoreError::cql)?;
        let rows = result.into_rows_result().map_err(StoreError::cql)?;
        let mut out = Vec::new();
        for r in rows
            .rows::<(Uuid, Option<Uuid>, Option<CqlTimestamp>, Option<i64>)>()
            .map_err(StoreError::cql)?
        {
            let (message_id, by, at, seq) = r.map_err(StoreError::cql)?;
            out.push(PinRow {
                message_id,
                pinned_by: by.unwrap_or_default(),
                pinned_at: at.map(|t| t.0),
                pinned_seq: seq.unwrap_or(0),
            });
        }
        out.sort_by_key(|p| std::cmp::Reverse(p.pinned_seq));
        Ok(out)
    }

    /// The pinned messages of `c`, newest pin first.
    pub async fn pins(&self, c: Uuid) -> Result<Vec<Pin>, StoreError> {
        let rows = self.pin_rows(c).await?;
        let messages =
            futures::future::try_join_all(rows.iter().map(|p| self.message(c, p.message_id)))
                .await?;
        Ok(rows
            .into_iter()
            .zip(messages)
            .filter_map(|(p, m)| {
                Some(Pin {
                    message: m?,
                    pinned_by: p.pinned_by.to_string(),
                    pinned_at: ts(p.pinned_at.map(CqlTimestamp)),
                })
            })
            .collect())
    }
}
