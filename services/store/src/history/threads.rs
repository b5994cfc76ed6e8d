//! Threads (migration 0004): a reply is a message with `thread_root` set, listed in its
//! thread's `thread_replies` partition, and counted in its root's summary columns.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use super::model::{Message, ThreadPage};
use super::HistoryStore;
use crate::cql::first_row;
use crate::error::StoreError;

pub(crate) struct Statements {
    replies_after: PreparedStatement,
    pub(crate) summary: PreparedStatement,
    pub(crate) update_summary: PreparedStatement,
    pub(crate) insert_reply: PreparedStatement,
}

impl Statements {
    pub(crate) async fn prepare(session: &Session, ks: &str) -> Result<Self, StoreError> {
        use crate::cql::prepare;
        Ok(Self {
            replies_after: prepare(
                session,
                format!(
                    "SELECT seq, bucket FROM {ks}.thread_replies \
                     WHERE conversation_id = ? AND root_id = ? AND seq > ? LIMIT ?"
                ),
            )
            .await?,
            summary: prepare(
                session,
                format!(
                    "SELECT reply_count, last_reply_seq FROM {ks}.messages \
                     WHERE conversation_id = ? AND bucket = ? AND seq = ?"
                ),
            )
            .await?,
            update_summary: prepare(
                session,
                format!(
                    "UPDATE {ks}.messages USING TIMESTAMP ? SET reply_count = ?, last_reply_seq = ?, \
                     last_reply_at = ? WHERE conversation_id = ? AND bucket = ? AND seq = ?"
                ),
            )
            .await?,
            insert_reply: prepare(
                session,
                format!(
                    "INSERT INTO {ks}.thread_replies (conversation_id, root_id, seq, bucket, message_id) \
                     VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?"
                ),
            )
            .await?,
        })
    }
}

/// Why a thread page has nothing to show.
#[derive(Debug, PartialEq, Eq)]
pub enum ThreadLookup {
    Found(Box<ThreadPage>),
    /// No such message in this conversation.
    NoRoot,
    /// The message is itself a reply in a thread.
    NotARoot,
}

impl HistoryStore {
    /// The thread summary of the root at (`bucket`, `seq`): (reply_count,
    /// last_reply_seq), (0, -1) for a message without replies.
    pub(crate) async fn thread_summary(
        &self,
        c: Uuid,
        bucket: i64,
        seq: i64,
    ) -> Result<(i64, i64), StoreError> {
        let row = first_row::<(Option<i64>, Option<i64>)>(
            &self.session,
            &self.threads.summary,
            (c, bucket, seq),
        )
        .await?;
        Ok(row.map_or((0, -1), |(n, last)| (n.unwrap_or(0), last.unwrap_or(-1))))
    }

    /// Replies of the thread of `root` after `after`, oldest first, at most `limit`.
    pub async fn thread_page(
        &self,
        c: Uuid,
        root: Uuid,
        after: i64,
        limit: usize,
    ) -> Result<ThreadLookup, StoreError> {
        let Some(found) = self.lookup(root).await? else {
            return Ok(ThreadLookup::NoRoot);
        };
        if found.conversation_id != c {
            return Ok(ThreadLookup::NoRoot);
        }
        if found.thread_root.is_some() {
            return Ok(ThreadLookup::NotARoot);
        }
        let Some(root_message) = self.message_at(c, found.bucket, found.seq).await? else {
            return Ok(ThreadLookup::NoRoot);
        };
        let result = self
            .session
            .execute_unpaged(&self.threads.replies_after, (c, root, after, limit as i32))
            .await
            .map_err(StoreError::cql)?;
        let rows = result.into_rows_result().map_err(StoreError::cql)?;
        let mut places = Vec::new();
        for r in rows.rows::<(i64, Option<i64>)>().map_err(StoreError::cql)? {
            let (seq, bucket) = r.map_err(StoreError::cql)?;
            places.push((seq, bucket.unwrap_or(0)));
        }
        let full = places.len() == limit;
        let messages: Vec<Message> = futures::future::try_join_all(
            places
                .iter()
                .map(|(seq, bucket)| self.message_at(c, *bucket, *seq)),
        )
        .await?
        .into_iter()
        .flatten()
        .collect();
        let next_after = if full {
            places.last().map(|(seq, _)| *seq)
        } else {
            None
        };
        Ok(ThreadLookup::Found(Box::new(ThreadPage {
            root: root_message,
            messages,
            next_after,
        })))
    }
}
