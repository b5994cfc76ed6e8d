//! Reactions (`reactions` table, migration 0004): one row per (message, emoji, user),
//! beside the message in its (conversation, bucket) partition. What a client sees is
//! derived from the rows on every read ([`group`]), so a count is always the number of
//! people who reacted, whatever replays or races came before.

use std::collections::HashMap;

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::model::ReactionGroup;
use super::HistoryStore;
use crate::error::StoreError;

/// Most reactors an emoji lists by id (`count` says how many there are).
pub const USERS_LISTED: usize = 100;

/// One reaction row: (emoji, user, the seq of the event that added it).
pub type ReactionRow = (String, Uuid, i64);

pub(crate) struct Statements {
    in_range: PreparedStatement,
    of_message: PreparedStatement,
    pub(crate) insert: PreparedStatement,
    pub(crate) delete: PreparedStatement,
}

impl Statements {
    pub(crate) async fn prepare(session: &Session, ks: &str) -> Result<Self, StoreError> {
        use crate::cql::prepare;
        Ok(Self {
            in_range: prepare(
                session,
                format!(
                    "SELECT seq, emoji, user_id, added_seq FROM {ks}.reactions \
                     WHERE conversation_id = ? AND bucket = ? AND seq >= ? AND seq <= ?"
                ),
            )
            .await?,
            of_message: prepare(
                session,
                format!(
                    "SELECT emoji, user_id, added_seq FROM {ks}.reactions \
                     WHERE conversation_id = ? AND bucket = ? AND seq = ?"
                ),
            )
            .await?,
            insert: prepare(
                session,
                format!(
                    "INSERT INTO {ks}.reactions (conversation_id, bucket, seq, emoji, user_id, added_seq) \
                     VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
                ),
            )
            .await?,
            delete: prepare(
                session,
                format!(
                    "DELETE FROM {ks}.reactions USING TIMESTAMP ? \
                     WHERE conversation_id = ? AND bucket = ? AND seq = ? AND emoji = ? AND user_id = ?"
                ),
            )
            .await?,
        })
    }
}

/// The rows of one message as clients see them: one group per emoji, emoji ordered by
/// their earliest remaining reaction, users in the order they reacted.
pub fn group(mut rows: Vec<ReactionRow>) -> Vec<ReactionGroup> {
    rows.sort_by_key(|(_, user, added)| (*added, *user));
    let mut order: Vec<String> = Vec::new();
    let mut users: HashMap<String, Vec<Uuid>> = HashMap::new();
    for (emoji, user, _) in rows {
        let entry = users.entry(emoji.clone()).or_default();
        if entry.is_empty() {
            order.push(emoji);
        }
        entry.push(user);
    }
    order
        .into_iter()
        .map(|emoji| {
            let ids = users.remove(&emoji).unwrap_or_default();
            ReactionGroup {
                count: ids.len() as i64,
                user_ids: ids.iter().take(USERS_LISTED).map(Uuid::to_string).collect(),
                emoji,
            }
        })
        .collect()
}

impl HistoryStore {
    /// The reaction rows of the message at (`bucket`, `seq`).
    pub async fn reaction_rows(
        &self,
        c: Uuid,
        bucket: i64,
        seq: i64,
    ) -> Result<Vec<ReactionRow>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.reactions.of_message, (c, bucket, seq))
            .await
            .map_err(StoreError::cql)?;
        let rows = result.into_rows_result().map_err(StoreError::cql)?;
        let mut out = Vec::new();
        for r in rows
            .rows::<(String, Uuid, Option<i64>)>()
            .map_err(StoreError::cql)?
        {
            let (emoji, user, added) = r.map_err(StoreError::cql)?;
            out.push((emoji, user, added.unwrap_or(0)));
        }
        Ok(out)
    }

    /// The reactions of the messages of one bucket with seq in `low..=high`, by seq.
    pub(crate) async fn reactions_in_range(
        &self,
        c: Uuid,
        bucket: i64,
        low: i64,
        high: i64,
    ) -> Result<HashMap<i64, Vec<ReactionGroup>>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.reactions.in_range, (c, bucket, low, high))
            .await
            .map_err(StoreError::cql)?;
        let rows = result.into_rows_result().map_err(StoreError::cql)?;
        let mut by_seq: HashMap<i64, Vec<ReactionRow>> = HashMap::new();
        for r in rows
            .rows::<(i64, String, Uuid, Option<i64>)>()
            .map_err(StoreError::cql)?
        {
            let (seq, emoji, user, added) = r.map_err(StoreError::cql)?;
            by_seq
                .entry(seq)
                .or_default()
                .push((emoji, user, added.unwrap_or(0)));
        }
        Ok(by_seq
            .into_iter()
            .map(|(seq, rows)| (seq, group(rows)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn groups_by_emoji_in_order_of_first_use() {
        let rows = vec![
            ("🎉".to_string(), u(2), 30),
            ("👍".to_string(), u(1), 10),
            ("👍".to_string(), u(3), 40),
            ("🎉".to_string(), u(1), 20),
        ];
        let g = group(rows);
        assert_eq!(
            g.iter().map(|r| r.emoji.as_str()).collect::<Vec<_>>(),
            ["👍", "🎉"]
        );
        assert_eq!(g[0].count, 2);
        assert_eq!(g[0].user_ids, [u(1).to_string(), u(3).to_string()]);
        assert_eq!(g[1].user_ids, [u(1).to_string(), u(2).to_string()]);
    }

    #[test]
    fn counts_every_reactor_but_lists_the_first_hundred() {
        let rows: Vec<ReactionRow> = (0..150).map(|i| ("👍".into(), u(i), i as i64)).collect();
        let g = group(rows);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].count, 150);
        assert_eq!(g[0].user_ids.len(), USERS_LISTED);
        assert_eq!(g[0].user_ids[0], u(0).to_string());
    }

    #[test]
    fn no_rows_no_groups() {
        assert!(group(vec![]).is_empty());
    }
}
