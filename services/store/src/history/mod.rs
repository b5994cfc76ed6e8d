//! The history projection: conversations, members, pointers and messages in the CQL
//! store (`schemas/cql/0001_initial.cql`), as the log says they are.
//!
//! - [`HistoryStore`] holds the prepared statements and the reads that serve pages,
//!   conversation lists and `sync` replays.
//! - [`apply`] turns events (with their seq) into writes. It is idempotent: every
//!   conversation remembers the last seq applied to it, and everything at or below it is
//!   skipped, so redelivery and whole replays change nothing. It re-checks every event
//!   with `chat_core::rules` (the same rules the gateway authorizes with) and refuses
//!   those that do not hold, with a reason, for the dead-letter topic.
//!
//! The history role writes through it, the gateway reads through it, and `chatctl
//! rebuild` replays the log through it into a fresh keyspace.

pub mod apply;
pub mod listing;
pub mod model;
pub mod pins;
pub mod reactions;
pub mod threads;

use std::sync::Arc;

use chat_core::time::UnixMillis;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

use self::model::{Message, Page, ThreadSummary};
use crate::cql::first_row;
use crate::error::StoreError;

/// Messages per bucket. Fixed for the life of a keyspace: it decides where every message
/// row lives. 500 messages of at most 16 KiB keep a partition far below the sizes
/// ScyllaDB and Cassandra handle well, and a page of up to 200 touches one or two.
pub const BUCKET_SIZE: i64 = 500;

/// Most messages one history page holds (REST `limit`, and each step of a `sync`).
pub const MAX_PAGE: usize = 200;

/// A conversation's row: metadata and the projection's running state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConversationRow {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub created_seq: Option<i64>,
    pub applied_seq: i64,
    pub message_count: i64,
    pub last_seq: Option<i64>,
    pub last_message_id: Option<Uuid>,
    pub last_sender_id: Option<Uuid>,
    pub last_body: Option<String>,
    pub last_at: Option<i64>,
    /// v1.2: the last message's body, sealed (`last_body` is then empty).
    pub last_sealed: Option<Vec<u8>>,
    /// v1.3: the conversation's own retention in days, set by its group admins.
    pub retention_days: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub is_admin: bool,
    pub joined_seq: i64,
    pub read_seq: i64,
    pub delivered_seq: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupRow {
    pub conversation_id: Uuid,
    pub seq: i64,
    pub bucket: i64,
    pub sender_id: Uuid,
    pub deleted: bool,
    /// The thread the message replies in, if it is a reply.
    pub thread_root: Option<Uuid>,
}

type ConversationTuple = (
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    Option<CqlTimestamp>,
    Option<Vec<u8>>,
    Option<i32>,
);

type MessageTuple = (
    i64,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    Option<Uuid>,
    Option<CqlTimestamp>,
    Option<CqlTimestamp>,
    Option<CqlTimestamp>,
    // v1.1: thread_root, reply_count, last_reply_seq, last_reply_at, attachments.
    Option<Uuid>,
    Option<i64>,
    Option<i64>,
    Option<CqlTimestamp>,
    Option<String>,
    // v1.2: sealed.
    Option<Vec<u8>>,
);

pub(crate) struct Statements {
    pub conversation: PreparedStatement,
    pub members: PreparedStatement,
    pub members_listed: PreparedStatement,
    pub member_count: PreparedStatement,
    pub lookup: PreparedStatement,
    pub bucket_for_seq: PreparedStatement,
    pub page_desc: PreparedStatement,
    pub page_asc: PreparedStatement,
    pub index_at_or_below: PreparedStatement,
    pub user_conversations: PreparedStatement,
    pub insert_conversation: PreparedStatement,
    pub update_conversation: PreparedStatement,
    pub upsert_member: PreparedStatement,
    pub update_member_pointers: PreparedStatement,
    pub delete_member: PreparedStatement,
    pub upsert_user_conversation: PreparedStatement,
    pub update_user_read: PreparedStatement,
    pub delete_user_conversation: PreparedStatement,
    pub insert_message: PreparedStatement,
    pub edit_message: PreparedStatement,
    pub delete_message: PreparedStatement,
    pub insert_lookup: PreparedStatement,
    pub mark_deleted: PreparedStatement,
    pub insert_bucket: PreparedStatement,
    pub message_at: PreparedStatement,
    pub rename_conversation: PreparedStatement,
    pub set_retention: PreparedStatement,
    pub all_retention: PreparedStatement,
}

const MESSAGE_COLUMNS: &str =
    "seq, message_id, sender_id, kind, body, reply_to, created_at, edited_at, deleted_at, \
     thread_root, reply_count, last_reply_seq, last_reply_at, attachments, sealed";

/// The write timestamp of everything an event at `seq` writes. Writes carry the log
/// position instead of the clock, so the log order decides every conflict: writes may be
/// sent concurrently and in any order, a replay writes the same cells with the same
/// timestamps (changing nothing), and a later event always wins over an earlier one.
pub fn write_timestamp(seq: i64) -> i64 {
    seq + 1
}

/// The history tables of one keyspace.
pub struct HistoryStore {
    pub(crate) session: Arc<Session>,
    pub(crate) st: Statements,
    pub(crate) reactions: reactions::Statements,
    pub(crate) threads: threads::Statements,
    pub(crate) pins: pins::Statements,
    /// Opens sealed bodies before a message leaves the store. Without one (the history
    /// projection, which never reads bodies), sealed messages come out with a null body.
    pub(crate) keyring: Option<Arc<crate::keyring::Keyring>>,
}

pub(crate) fn ts(t: Option<CqlTimestamp>) -> Option<String> {
    t.map(|t| UnixMillis(t.0).to_rfc3339())
}

/// A `messages` row as clients see it (reactions are filled in by the caller).
fn message_of(c: Uuid, row: MessageTuple) -> Message {
    let (
        seq,
        id,
        sender,
        kind,
        body,
        reply_to,
        created,
        edited,
        deleted,
        thread_root,
        reply_count,
        last_reply_seq,
        last_reply_at,
        attachments,
        sealed,
    ) = row;
    let conversation_id = c.to_string();
    let stored_attachments = attachments
        .and_then(|json| serde_json::from_str::<Vec<chat_core::events::Attachment>>(&json).ok())
        .unwrap_or_default();
    let attachments = stored_attachments
        .iter()
        .map(|a| chat_core::live::frames::attachment_view(&conversation_id, a))
        .collect();
    Message {
        message_id: id.map(|u| u.to_string()).unwrap_or_default(),
        conversation_id,
        seq,
        sender_id: sender.map(|u| u.to_string()).unwrap_or_default(),
        kind: kind.unwrap_or_else(|| "text".into()),
        body,
        reply_to: reply_to.map(|u| u.to_string()),
        created_at: ts(created),
        edited_at: ts(edited),
        deleted_at: ts(deleted),
        thread_root: thread_root.map(|u| u.to_string()),
        thread: match (reply_count, last_reply_seq) {
            (Some(n), Some(last)) if n > 0 => Some(ThreadSummary {
                reply_count: n,
                last_reply_seq: last,
                last_reply_at: ts(last_reply_at),
            }),
            _ => None,
        },
        reactions: Vec::new(),
        attachments,
        erased: false,
        sealed,
        stored_attachments,
    }
}

impl HistoryStore {
    pub async fn new(session: Arc<Session>, keyspace: &str) -> Result<Self, StoreError> {
        let ks = keyspace;
        let q = |text: String| {
            let session = session.clone();
            async move { crate::cql::prepare(&session, text).await }
        };
        let st = Statements {
            conversation: q(format!(
                "SELECT kind, name, created_seq, applied_seq, message_count, last_seq, last_message_id, \
                 last_sender_id, last_body, last_at, last_sealed, retention_days FROM {ks}.conversations WHERE conversation_id = ?"
            ))
            .await?,
            members: q(format!(
                "SELECT user_id, is_admin, joined_seq, read_seq, delivered_seq FROM {ks}.members WHERE conversation_id = ?"
            ))
            .await?,
            members_listed: q(format!(
                "SELECT user_id FROM {ks}.members WHERE conversation_id = ? LIMIT ?"
            ))
            .await?,
            member_count: q(format!(
                "SELECT COUNT(*) FROM {ks}.members WHERE conversation_id = ?"
            ))
            .await?,
            lookup: q(format!(
                "SELECT conversation_id, seq, bucket, sender_id, deleted, thread_root FROM {ks}.message_lookup WHERE message_id = ?"
            ))
            .await?,
            bucket_for_seq: q(format!(
                "SELECT bucket FROM {ks}.message_buckets WHERE conversation_id = ? AND first_seq <= ? LIMIT 1"
            ))
            .await?,
            page_desc: q(format!(
                "SELECT {MESSAGE_COLUMNS} FROM {ks}.messages WHERE conversation_id = ? AND bucket = ? AND seq < ? LIMIT ?"
            ))
            .await?,
            page_asc: q(format!(
                "SELECT {MESSAGE_COLUMNS} FROM {ks}.messages WHERE conversation_id = ? AND bucket = ? AND seq > ? \
                 ORDER BY seq ASC LIMIT ?"
            ))
            .await?,
            index_at_or_below: q(format!(
                "SELECT msg_index FROM {ks}.messages WHERE conversation_id = ? AND bucket = ? AND seq <= ? LIMIT 1"
            ))
            .await?,
            user_conversations: q(format!(
                "SELECT conversation_id, read_seq, read_count FROM {ks}.user_conversations WHERE user_id = ?"
            ))
            .await?,
            insert_conversation: q(format!(
                "INSERT INTO {ks}.conversations (conversation_id, kind, name, created_by, created_at, created_seq) \
                 VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
            ))
            .await?,
            update_conversation: q(format!(
                "UPDATE {ks}.conversations USING TIMESTAMP ? SET applied_seq = ?, message_count = ?, last_seq = ?, last_message_id = ?, \
                 last_sender_id = ?, last_body = ?, last_at = ?, last_sealed = ? WHERE conversation_id = ?"
            ))
            .await?,
            upsert_member: q(format!(
                "INSERT INTO {ks}.members (conversation_id, user_id, is_admin, joined_seq, read_seq, delivered_seq) \
                 VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
            ))
            .await?,
            update_member_pointers: q(format!(
                "UPDATE {ks}.members USING TIMESTAMP ? SET read_seq = ?, delivered_seq = ? WHERE conversation_id = ? AND user_id = ?"
            ))
            .await?,
            delete_member: q(format!("DELETE FROM {ks}.members USING TIMESTAMP ? WHERE conversation_id = ? AND user_id = ?")).await?,
            upsert_user_conversation: q(format!(
                "INSERT INTO {ks}.user_conversations (user_id, conversation_id, joined_seq, read_seq, read_count) \
                 VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?"
            ))
            .await?,
            update_user_read: q(format!(
                "UPDATE {ks}.user_conversations USING TIMESTAMP ? SET read_seq = ?, read_count = ? WHERE user_id = ? AND conversation_id = ?"
            ))
            .await?,
            delete_user_conversation: q(format!(
                "DELETE FROM {ks}.user_conversations USING TIMESTAMP ? WHERE user_id = ? AND conversation_id = ?"
            ))
            .await?,
            insert_message: q(format!(
                "INSERT INTO {ks}.messages (conversation_id, bucket, seq, msg_index, message_id, sender_id, kind, body, \
                 reply_to, attachments, created_at, thread_root, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
            ))
            .await?,
            edit_message: q(format!(
                "UPDATE {ks}.messages USING TIMESTAMP ? SET body = ?, sealed = ?, edited_at = ? WHERE conversation_id = ? AND bucket = ? AND seq = ?"
            ))
            .await?,
            delete_message: q(format!(
                "UPDATE {ks}.messages USING TIMESTAMP ? SET body = null, sealed = null, deleted_at = ? WHERE conversation_id = ? AND bucket = ? AND seq = ?"
            ))
            .await?,
            insert_lookup: q(format!(
                "INSERT INTO {ks}.message_lookup (message_id, conversation_id, seq, bucket, sender_id, deleted, thread_root) \
                 VALUES (?, ?, ?, ?, ?, false, ?) USING TIMESTAMP ?"
            ))
            .await?,
            mark_deleted: q(format!("UPDATE {ks}.message_lookup USING TIMESTAMP ? SET deleted = true WHERE message_id = ?")).await?,
            insert_bucket: q(format!(
                "INSERT INTO {ks}.message_buckets (conversation_id, first_seq, bucket) VALUES (?, ?, ?) USING TIMESTAMP ?"
            ))
            .await?,
            message_at: q(format!(
                "SELECT {MESSAGE_COLUMNS} FROM {ks}.messages WHERE conversation_id = ? AND bucket = ? AND seq = ?"
            ))
            .await?,
            rename_conversation: q(format!(
                "UPDATE {ks}.conversations USING TIMESTAMP ? SET name = ? WHERE conversation_id = ?"
            ))
            .await?,
            set_retention: q(format!(
                "UPDATE {ks}.conversations USING TIMESTAMP ? SET retention_days = ? WHERE conversation_id = ?"
            ))
            .await?,
            all_retention: q(format!(
                "SELECT conversation_id, retention_days FROM {ks}.conversations"
            ))
            .await?,
        };
        let reactions = reactions::Statements::prepare(&session, ks).await?;
        let threads = threads::Statements::prepare(&session, ks).await?;
        let pins = pins::Statements::prepare(&session, ks).await?;
        Ok(Self {
            session,
            st,
            reactions,
            threads,
            pins,
            keyring: None,
        })
    }

    /// Serve messages opened with `keyring` (the gateway, chatctl export).
    pub fn with_keyring(mut self, keyring: Arc<crate::keyring::Keyring>) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Open the sealed bodies of `messages` in place; a destroyed key leaves the message
    /// erased.
    pub(crate) async fn open_messages(&self, messages: &mut [Message]) -> Result<(), StoreError> {
        for m in messages.iter_mut() {
            if m.sealed.is_some() {
                crate::keyring::open_message(self.keyring.as_deref(), m).await?;
            }
        }
        Ok(())
    }

    pub async fn conversation(&self, c: Uuid) -> Result<Option<ConversationRow>, StoreError> {
        let row =
            first_row::<ConversationTuple>(&self.session, &self.st.conversation, (c,)).await?;
        Ok(row.map(|r| ConversationRow {
            kind: r.0,
            name: r.1,
            created_seq: r.2,
            applied_seq: r.3.unwrap_or(-1),
            message_count: r.4.unwrap_or(0),
            last_seq: r.5,
            last_message_id: r.6,
            last_sender_id: r.7,
            last_body: r.8,
            last_at: r.9.map(|t| t.0),
            last_sealed: r.10,
            retention_days: r.11,
        }))
    }

    /// Every conversation with its own retention, and its days (`chatctl retention
    /// apply`, daily). A paged walk of the conversations table.
    pub async fn conversations_with_retention(&self) -> Result<Vec<(Uuid, u32)>, StoreError> {
        use futures::TryStreamExt;
        let mut rows = self
            .session
            .execute_iter(self.st.all_retention.clone(), ())
            .await
            .map_err(StoreError::cql)?
            .rows_stream::<(Uuid, Option<i32>)>()
            .map_err(StoreError::cql)?;
        let mut out = Vec::new();
        while let Some((c, days)) = rows.try_next().await.map_err(StoreError::cql)? {
            if let Some(days) = days.and_then(|d| u32::try_from(d).ok()).filter(|d| *d > 0) {
                out.push((c, days));
            }
        }
        Ok(out)
    }

    pub async fn members(&self, c: Uuid) -> Result<Vec<MemberRow>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.st.members, (c,))
            .await
            .map_err(StoreError::cql)?;
        let rows = result.into_rows_result().map_err(StoreError::cql)?;
        let mut out = Vec::new();
        for r in rows
            .rows::<(Uuid, Option<bool>, Option<i64>, Option<i64>, Option<i64>)>()
            .map_err(StoreError::cql)?
        {
            let (user_id, admin, joined, read, delivered) = r.map_err(StoreError::cql)?;
            out.push(MemberRow {
                user_id,
                is_admin: admin.unwrap_or(false),
                joined_seq: joined.unwrap_or(-1),
                read_seq: read.unwrap_or(-1),
                delivered_seq: delivered.unwrap_or(-1),
            });
        }
        Ok(out)
    }

    pub async fn lookup(&self, message_id: Uuid) -> Result<Option<LookupRow>, StoreError> {
        let row = first_row::<(
            Option<Uuid>,
            Option<i64>,
            Option<i64>,
            Option<Uuid>,
            Option<bool>,
            Option<Uuid>,
        )>(&self.session, &self.st.lookup, (message_id,))
        .await?;
        Ok(
            row.and_then(|(c, seq, bucket, sender, deleted, thread_root)| {
                Some(LookupRow {
                    conversation_id: c?,
                    seq: seq?,
                    bucket: bucket?,
                    sender_id: sender?,
                    deleted: deleted.unwrap_or(false),
                    thread_root,
                })
            }),
        )
    }

    /// The bucket holding `seq` (None: before the first message).
    pub async fn bucket_of(&self, c: Uuid, seq: i64) -> Result<Option<i64>, StoreError> {
        let row = first_row::<(i64,)>(&self.session, &self.st.bucket_for_seq, (c, seq)).await?;
        Ok(row.map(|(b,)| b))
    }

    /// How many messages of `c` have seq <= `seq`.
    pub async fn count_at_or_below(&self, c: Uuid, seq: i64) -> Result<i64, StoreError> {
        let Some(bucket) = self.bucket_of(c, seq).await? else {
            return Ok(0);
        };
        let row = first_row::<(Option<i64>,)>(
            &self.session,
            &self.st.index_at_or_below,
            (c, bucket, seq),
        )
        .await?;
        Ok(row
            .and_then(|(i,)| i)
            .map_or(bucket * BUCKET_SIZE, |i| i + 1))
    }

    /// One bucket's messages after (ascending) or before (descending) `bound`, at most
    /// `limit` rows read, with their reactions; and how many rows were read (thread
    /// replies left out by `exclude_threads` are read but not returned).
    async fn bucket_page(
        &self,
        c: Uuid,
        bucket: i64,
        bound: i64,
        limit: usize,
        ascending: bool,
        exclude_threads: bool,
    ) -> Result<(Vec<Message>, usize, Option<i64>), StoreError> {
        let st = if ascending {
            &self.st.page_asc
        } else {
            &self.st.page_desc
        };
        let result = self
            .session
            .execute_unpaged(st, (c, bucket, bound, limit as i32))
            .await
            .map_err(StoreError::cql)?;
        let rows = result.into_rows_result().map_err(StoreError::cql)?;
        let mut out = Vec::new();
        let (mut read, mut last_read) = (0, None);
        for r in rows.rows::<MessageTuple>().map_err(StoreError::cql)? {
            let m = message_of(c, r.map_err(StoreError::cql)?);
            read += 1;
            last_read = Some(m.seq);
            if !(exclude_threads && m.thread_root.is_some()) {
                out.push(m);
            }
        }
        self.attach_reactions(c, bucket, &mut out).await?;
        self.open_messages(&mut out).await?;
        Ok((out, read, last_read))
    }

    /// Fill in the reactions of `messages`, all of `bucket`: one range read.
    async fn attach_reactions(
        &self,
        c: Uuid,
        bucket: i64,
        messages: &mut [Message],
    ) -> Result<(), StoreError> {
        let (Some(low), Some(high)) = (
            messages.iter().map(|m| m.seq).min(),
            messages.iter().map(|m| m.seq).max(),
        ) else {
            return Ok(());
        };
        let mut by_seq = self.reactions_in_range(c, bucket, low, high).await?;
        for m in messages.iter_mut() {
            if let Some(groups) = by_seq.remove(&m.seq) {
                m.reactions = groups;
            }
        }
        Ok(())
    }

    /// The message at (`bucket`, `seq`) of `c`, with its reactions.
    pub async fn message_at(
        &self,
        c: Uuid,
        bucket: i64,
        seq: i64,
    ) -> Result<Option<Message>, StoreError> {
        let Some(row) =
            first_row::<MessageTuple>(&self.session, &self.st.message_at, (c, bucket, seq)).await?
        else {
            return Ok(None);
        };
        let mut m = [message_of(c, row)];
        self.attach_reactions(c, bucket, &mut m).await?;
        self.open_messages(&mut m).await?;
        let [m] = m;
        Ok(Some(m))
    }

    /// Message `id` of `c` as history has it (None: not in this conversation).
    pub async fn message(&self, c: Uuid, id: Uuid) -> Result<Option<Message>, StoreError> {
        match self.lookup(id).await? {
            Some(l) if l.conversation_id == c => self.message_at(c, l.bucket, l.seq).await,
            _ => Ok(None),
        }
    }

    /// Messages older than `before` (newest first), or newer than `after` (oldest first),
    /// or the newest (newest first); at most `limit`.
    pub async fn page(
        &self,
        c: Uuid,
        before: Option<i64>,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        self.page_filtered(c, before, after, limit, false).await
    }

    /// [`Self::page`], leaving thread replies out when `exclude_threads` (v1.1's
    /// `?threads=exclude`, the main timeline of a threaded client).
    pub async fn page_filtered(
        &self,
        c: Uuid,
        before: Option<i64>,
        after: Option<i64>,
        limit: usize,
        exclude_threads: bool,
    ) -> Result<Page, StoreError> {
        // Paging back from a seq needs only the bucket holding it: one lookup, no
        // conversation row (the common request, so the cheap one).
        let start = match before {
            Some(before) => self.bucket_of(c, before - 1).await?,
            None => None,
        };
        let needs_row = before.is_none();
        let conv = if needs_row {
            self.conversation(c).await?
        } else {
            None
        };
        if needs_row && conv.is_none() {
            return Ok(Page {
                messages: vec![],
                next_before: None,
            });
        }
        let last_bucket = conv
            .as_ref()
            .map_or(0, |conv| (conv.message_count - 1).max(0) / BUCKET_SIZE);
        let mut messages = Vec::with_capacity(limit);
        if let Some(after) = after {
            let mut bucket = self.bucket_of(c, after).await?.unwrap_or(0);
            let mut bound = after;
            while messages.len() < limit && bucket <= last_bucket {
                let asked = limit - messages.len();
                let (got, read, last_read) = self
                    .bucket_page(c, bucket, bound, asked, true, exclude_threads)
                    .await?;
                messages.extend(got);
                match last_read {
                    // The bucket may hold more than was read: stay in it.
                    Some(seq) if read == asked => bound = seq,
                    Some(seq) => {
                        bound = seq;
                        bucket += 1;
                    }
                    None => bucket += 1,
                }
            }
            return Ok(Page {
                messages,
                next_before: None,
            });
        }
        let (start, before) = match before {
            Some(b) => (start, b),
            None => (Some(last_bucket), i64::MAX),
        };
        let Some(mut bucket) = start else {
            return Ok(Page {
                messages,
                next_before: None,
            });
        };
        let mut bound = before;
        while messages.len() < limit && bucket >= 0 {
            let asked = limit - messages.len();
            let (got, read, last_read) = self
                .bucket_page(c, bucket, bound, asked, false, exclude_threads)
                .await?;
            messages.extend(got);
            match last_read {
                Some(seq) if read == asked => bound = seq,
                Some(seq) => {
                    bound = seq;
                    bucket -= 1;
                }
                None => bucket -= 1,
            }
        }
        // A full page may have older messages behind it; a short one has none.
        let next_before = if messages.len() == limit {
            messages.last().map(|m| m.seq)
        } else {
            None
        };
        Ok(Page {
            messages,
            next_before,
        })
    }

    /// A user's `user_conversations` rows: (conversation, read_seq, read_count).
    pub(crate) async fn user_conversation_rows(
        &self,
        user: Uuid,
    ) -> Result<Vec<(Uuid, Option<i64>, Option<i64>)>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.st.user_conversations, (user,))
            .await
            .map_err(StoreError::cql)?;
        let rows = result.into_rows_result().map_err(StoreError::cql)?;
        let mut entries = Vec::new();
        for r in rows
            .rows::<(Uuid, Option<i64>, Option<i64>)>()
            .map_err(StoreError::cql)?
        {
            entries.push(r.map_err(StoreError::cql)?);
        }
        Ok(entries)
    }

    /// The ids of a user's conversations (for presence: who shares one with them).
    pub async fn conversation_ids_of(&self, user: Uuid) -> Result<Vec<Uuid>, StoreError> {
        let rows = self.user_conversation_rows(user).await?;
        Ok(rows.into_iter().map(|(c, _, _)| c).collect())
    }
}

/// A `sync` replay of one conversation: the messages after the client's position,
/// oldest first, page by page, and the position the client is complete up to after them.
///
/// The conversation's `applied_seq` is read before the first page, and the replay stops
/// there: everything at or below it is in the tables, while rows above it may belong to
/// a batch still being written (its rows land concurrently, the marker last), so a page
/// could hold a message and miss the one before it. Replaying such a page would tell the
/// client it is complete across the missing one, and the client would then drop it when
/// it arrives live. When the replay reaches `applied_seq`, the client is complete up to
/// it (later events that are not messages included); when it stops at its limit, only up
/// to the last message sent, and the client pages the rest. Events above `applied_seq`
/// reach the client live, or in a later `sync`.
pub struct Replay<'a> {
    store: &'a HistoryStore,
    conversation: Uuid,
    after: i64,
    applied: i64,
    left: usize,
    complete: bool,
}

impl<'a> Replay<'a> {
    /// The next page, or None when the replay is over.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Message>>, StoreError> {
        if self.complete || self.left == 0 {
            return Ok(None);
        }
        if self.after >= self.applied {
            self.complete = true;
            return Ok(None);
        }
        // Never more than is left, so a limit is kept exactly, not to the next page.
        let asked = self.left.min(MAX_PAGE);
        let mut messages = self
            .store
            .page(self.conversation, None, Some(self.after), asked)
            .await?
            .messages;
        let full = messages.len() == asked;
        let applied = self.applied;
        let before = messages.len();
        messages.retain(|m| m.seq <= applied);
        if !full || messages.len() < before {
            self.complete = true;
        }
        let n = messages.len();
        if let Some(last) = messages.last() {
            self.after = last.seq;
        }
        self.left = self.left.saturating_sub(n);
        Ok((n > 0).then_some(messages))
    }

    /// Whether the replay reached the end (false: it stopped at its limit, or was not
    /// run to the end).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The seq the client is complete up to with what was replayed so far.
    pub fn position(&self) -> i64 {
        if self.complete {
            self.after.max(self.applied)
        } else {
            self.after
        }
    }
}

impl HistoryStore {
    /// Start a replay of `conversation` after `after`, of at most about `limit` messages
    /// (whole pages).
    pub async fn replay(
        &self,
        conversation: Uuid,
        after: i64,
        limit: usize,
    ) -> Result<Replay<'_>, StoreError> {
        let applied = self
            .conversation(conversation)
            .await?
            .map_or(-1, |r| r.applied_seq);
        Ok(Replay {
            store: self,
            conversation,
            after,
            applied,
            left: limit,
            complete: false,
        })
    }
}
