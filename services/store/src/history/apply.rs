//! Applying events to the history tables.
//!
//! Events are applied per conversation, in seq order; different conversations are
//! applied concurrently (they share no rows). For each conversation the applier loads
//! its row and members once, applies the batch's events to that state in memory,
//! sends all the resulting writes at once (the new message rows as unlogged batches, one
//! partition each), and then writes the conversation row *last*, with `applied_seq` =
//! the last seq applied.
//!
//! Every write carries the event's seq as its timestamp ([`write_timestamp`]), so the
//! writes of a batch may land in any order and the log order still decides, and writing
//! the same event again changes nothing. A crash anywhere before the conversation row is
//! written only means the same events are applied again, with the same result; once it
//! is written, they are skipped.
//!
//! Each event is checked again before it is applied: the conversation exists, the actor
//! is a member, and `chat_core::rules` (the rules the gateway authorized with) allow
//! what it does. An event that fails is refused with a reason for the dead-letter topic,
//! and the rest of the batch goes on. Each kind of event has its own function below;
//! `apply_one` only dispatches.

use std::collections::{BTreeMap, HashMap, HashSet};

use chat_core::events::{
    ConversationCreated, ConversationEvent, ConversationKind, MessageSent, Payload, Reaction,
};
use chat_core::ids::UserId;
use chat_core::rules::{self, Membership};
use futures::future::BoxFuture;
use futures::{stream, StreamExt, TryStreamExt};
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

use super::reactions::ReactionRow;
use super::{write_timestamp, ConversationRow, HistoryStore, LookupRow, MemberRow, BUCKET_SIZE};
use crate::error::StoreError;

/// One record of the log.
pub type Record = chat_core::events::Logged<ConversationEvent>;
pub use chat_core::events::Rejection;

pub struct Applier<'a> {
    store: &'a HistoryStore,
    /// Conversations applied at once.
    concurrency: usize,
    /// Who may add members: the same setting the gateway authorized with.
    who_may_add: rules::WhoMayAdd,
}

/// What one conversation's batch does to its state, kept in memory while applying.
struct ConversationState<'a> {
    /// Writes of this batch, sent together once the batch is applied in memory.
    writes: Vec<BoxFuture<'a, Result<(), StoreError>>>,
    /// New message rows by bucket (one partition each), sent as unlogged batches.
    message_rows: BTreeMap<i64, Vec<MessageRow<'a>>>,
    /// (seq, msg_index) of the messages this batch added, in order.
    new_messages: Vec<(i64, i64)>,
    row: Option<ConversationRow>,
    members: HashMap<Uuid, MemberRow>,
    /// Messages of this batch and the ones it refers to, by id (None: looked up, absent).
    messages: HashMap<Uuid, Option<LookupRow>>,
    /// read_count of members whose read pointer moved.
    read_counts: HashMap<Uuid, i64>,
    dirty_pointers: Vec<Uuid>,
    /// Reaction rows of the messages this batch reacts to, by message id.
    reactions: HashMap<Uuid, Vec<ReactionRow>>,
    /// (reply_count, last_reply_seq) of the thread roots this batch replies to.
    threads: HashMap<Uuid, (i64, i64)>,
    /// The conversation's pinned messages, once this batch pins or unpins.
    pins: Option<HashSet<Uuid>>,
}

/// One `insert_message` row's values, and about how many bytes they are.
type MessageRow<'a> = (Box<dyn SerializeRow + Send + Sync + 'a>, usize);

/// Rows per unlogged batch, at most: Amazon Keyspaces takes 30 statements in a batch.
const ROWS_PER_BATCH: usize = 30;
/// Bytes per unlogged batch, at most, well under Cassandra's default refusal threshold
/// (`batch_size_fail_threshold`, 50 KiB).
const BYTES_PER_BATCH: usize = 32 * 1024;

/// Cut rows, each with its size, into batches of at most [`ROWS_PER_BATCH`] rows and
/// [`BYTES_PER_BATCH`] bytes, in order; a row larger than that goes alone.
fn cut_into_batches<T>(rows: Vec<(T, usize)>) -> Vec<Vec<T>> {
    let mut batches = Vec::new();
    let mut batch = Vec::new();
    let mut bytes = 0;
    for (row, size) in rows {
        if !batch.is_empty() && (batch.len() == ROWS_PER_BATCH || bytes + size > BYTES_PER_BATCH) {
            batches.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        batch.push(row);
        bytes += size;
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// What applying one event decided: `Err(reason)` when it is refused.
type Verdict = Result<(), String>;

/// Writes in flight at once for one conversation's batch.
const WRITE_CONCURRENCY: usize = 256;

impl<'a> Applier<'a> {
    pub fn new(store: &'a HistoryStore) -> Self {
        Self {
            store,
            concurrency: 64,
            who_may_add: rules::WhoMayAdd::default(),
        }
    }

    /// Re-check additions with this policy (`[groups] who_may_add`).
    pub fn who_may_add(mut self, policy: rules::WhoMayAdd) -> Self {
        self.who_may_add = policy;
        self
    }

    /// Apply `records` (any order across conversations; seq order within one). Returns
    /// the events refused. An error means nothing may be committed: apply again.
    pub async fn apply(&self, records: Vec<Record>) -> Result<Vec<Rejection>, StoreError> {
        let mut by_conversation: BTreeMap<Uuid, Vec<Record>> = BTreeMap::new();
        // Compliance events (erasure, retention) change nothing here: history stores
        // content sealed, so destroying its keys was all it took.
        for r in records
            .into_iter()
            .filter(|r| !r.event.payload.is_platform_wide())
        {
            by_conversation
                .entry(r.event.conversation_id.0)
                .or_default()
                .push(r);
        }
        let results: Vec<Result<Vec<Rejection>, StoreError>> = stream::iter(by_conversation)
            .map(|(c, mut records)| async move {
                records.sort_by_key(|r| r.offset);
                self.apply_conversation(c, records).await
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut rejections = Vec::new();
        for r in results {
            rejections.extend(r?);
        }
        Ok(rejections)
    }

    /// The new message rows as unlogged batches, one partition (bucket) each: a
    /// replay wrote each row as a request of its own, and the store spent more on
    /// the requests than on the rows.
    fn batch_message_rows(&self, state: &mut ConversationState<'a>) {
        let session = &self.store.session;
        let statement = &self.store.st.insert_message;
        for (_bucket, rows) in std::mem::take(&mut state.message_rows) {
            for rows in cut_into_batches(rows) {
                let mut batch = Batch::new(BatchType::Unlogged);
                for _ in 0..rows.len() {
                    batch.append_statement(statement.clone());
                }
                state.writes.push(Box::pin(async move {
                    session
                        .batch(&batch, rows)
                        .await
                        .map(|_| ())
                        .map_err(StoreError::cql)
                }));
            }
        }
    }

    /// Queue a write of this batch (sent by `apply_conversation`).
    fn write<V>(
        &self,
        state: &mut ConversationState<'a>,
        statement: &'a PreparedStatement,
        values: V,
    ) where
        V: SerializeRow + Send + 'a,
    {
        let session = &self.store.session;
        state.writes.push(Box::pin(async move {
            session
                .execute_unpaged(statement, values)
                .await
                .map(|_| ())
                .map_err(StoreError::cql)
        }));
    }

    async fn apply_conversation(
        &self,
        c: Uuid,
        records: Vec<Record>,
    ) -> Result<Vec<Rejection>, StoreError> {
        let store = self.store;
        let (row, members) = futures::try_join!(store.conversation(c), store.members(c))?;
        let applied_seq = row.as_ref().map_or(-1, |r| r.applied_seq);
        let records: Vec<Record> = records
            .into_iter()
            .filter(|r| r.offset > applied_seq)
            .collect();
        let Some(last_applied) = records.last().map(|r| r.offset) else {
            return Ok(vec![]);
        };
        let mut state = ConversationState {
            writes: Vec::new(),
            message_rows: BTreeMap::new(),
            new_messages: Vec::new(),
            row,
            members: members.into_iter().map(|m| (m.user_id, m)).collect(),
            messages: HashMap::new(),
            read_counts: HashMap::new(),
            dirty_pointers: Vec::new(),
            reactions: HashMap::new(),
            threads: HashMap::new(),
            pins: None,
        };
        self.prefetch(&records, &mut state).await?;
        let mut rejections = Vec::new();
        for r in &records {
            if let Err(reason) = self.apply_one(c, r, &mut state).await? {
                rejections.push(Rejection {
                    partition: r.partition,
                    offset: r.offset,
                    reason,
                });
            }
        }
        self.flush_pointers(c, last_applied, &mut state).await?;
        self.batch_message_rows(&mut state);
        let writes = std::mem::take(&mut state.writes);
        stream::iter(writes)
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        // Last: the marker that everything up to last_applied is in.
        if let Some(row) = &mut state.row {
            row.applied_seq = last_applied;
            store
                .session
                .execute_unpaged(
                    &store.st.update_conversation,
                    (
                        write_timestamp(last_applied),
                        row.applied_seq,
                        row.message_count,
                        row.last_seq,
                        row.last_message_id,
                        row.last_sender_id,
                        row.last_body.clone(),
                        row.last_at.map(CqlTimestamp),
                        row.last_sealed.clone(),
                        c,
                    ),
                )
                .await
                .map_err(StoreError::cql)?;
        }
        Ok(rejections)
    }

    async fn lookup(
        &self,
        state: &mut ConversationState<'a>,
        message_id: Uuid,
    ) -> Result<Option<LookupRow>, StoreError> {
        if let Some(known) = state.messages.get(&message_id) {
            return Ok(*known);
        }
        let found = self.store.lookup(message_id).await?;
        state.messages.insert(message_id, found);
        Ok(found)
    }

    /// Look up every message the batch sends, edits or deletes, concurrently, so
    /// applying the batch in order does not wait on one read per event.
    async fn prefetch(
        &self,
        records: &[Record],
        state: &mut ConversationState<'a>,
    ) -> Result<(), StoreError> {
        let mut ids: Vec<Uuid> = records
            .iter()
            .flat_map(|r| match &r.event.payload {
                Payload::MessageSent(m) => vec![Some(m.message_id.0), m.thread_root.map(|t| t.0)],
                Payload::MessageEdited { message_id, .. }
                | Payload::MessageDeleted { message_id, .. }
                | Payload::MessagePinned { message_id, .. }
                | Payload::MessageUnpinned { message_id, .. } => vec![Some(message_id.0)],
                Payload::ReactionAdded(r) | Payload::ReactionRemoved(r) => {
                    vec![Some(r.message_id.0)]
                }
                _ => vec![],
            })
            .flatten()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let found: Vec<(Uuid, Option<LookupRow>)> = stream::iter(ids)
            .map(|id| async move { self.store.lookup(id).await.map(|l| (id, l)) })
            .buffer_unordered(64)
            .try_collect()
            .await?;
        state.messages.extend(found);
        Ok(())
    }

    /// Apply one event. `Ok(Err(reason))`: refused, for the dead-letter topic.
    async fn apply_one(
        &self,
        c: Uuid,
        r: &Record,
        state: &mut ConversationState<'a>,
    ) -> Result<Verdict, StoreError> {
        let e = &r.event;
        if let Payload::ConversationCreated(created) = &e.payload {
            return Ok(self.created(c, r, created, state));
        }
        // The operator's (nil actor), e.g. a conversation's expiry: the content it covers
        // no longer opens, which needs nothing of history, whose rows hold only sealed
        // content.
        if e.payload.is_by_operator() {
            return Ok(Ok(()));
        }
        let Some(row) = state.row.clone() else {
            return Ok(Err("event of a conversation that was never created".into()));
        };
        let actor = e.actor_id.0;
        let Some(actor_member) = state.members.get(&actor).copied() else {
            return Ok(Err(format!("actor {actor} is not a member")));
        };
        let standing = Membership {
            kind: if row.kind.as_deref() == Some("direct") {
                ConversationKind::Direct
            } else {
                ConversationKind::Group
            },
            is_admin: actor_member.is_admin,
        };
        let seq = r.offset;
        match &e.payload {
            // Handled above.
            Payload::ConversationCreated(_) | Payload::ConversationContentExpired { .. } => {
                Ok(Ok(()))
            }
            Payload::ContentErased { .. } | Payload::ContentExpired { .. } => Ok(Ok(())),
            Payload::MessageSent(m) => self.message_sent(c, r, m, &row, state).await,
            Payload::MessageEdited {
                message_id, body, ..
            } => self.message_edited(c, r, message_id.0, body, state).await,
            Payload::MessageDeleted { message_id, .. } => {
                self.message_deleted(c, r, message_id.0, standing, state)
                    .await
            }
            Payload::ReadUpTo { seq: up_to } => {
                // A pointer never runs ahead of the event that moves it.
                let up_to = (*up_to).min(seq);
                if up_to > actor_member.read_seq {
                    Self::move_read(state, actor, up_to, None);
                }
                Ok(Ok(()))
            }
            Payload::DeliveredUpTo { seq: up_to } => {
                let up_to = (*up_to).min(seq);
                if let Some(m) = state.members.get_mut(&actor) {
                    if up_to > m.delivered_seq {
                        m.delivered_seq = up_to;
                        state.dirty_pointers.push(actor);
                    }
                }
                Ok(Ok(()))
            }
            Payload::MemberAdded { user_id, as_admin } => {
                if let Err(refusal) = rules::may_add_member(standing, *as_admin, self.who_may_add) {
                    return Ok(Err(format!("{actor} adding {user_id}: {refusal}")));
                }
                self.member_added(c, seq, user_id.0, *as_admin, row.message_count, state);
                Ok(Ok(()))
            }
            Payload::MemberRemoved { user_id } => {
                if let Err(refusal) = rules::may_remove_member(UserId(actor), *user_id, standing) {
                    return Ok(Err(format!("{actor} removing {user_id}: {refusal}")));
                }
                self.member_removed(c, seq, user_id.0, state);
                Ok(Ok(()))
            }
            Payload::ReactionAdded(reaction) => self.reaction(c, r, reaction, true, state).await,
            Payload::ReactionRemoved(reaction) => self.reaction(c, r, reaction, false, state).await,
            Payload::ConversationRenamed { name, .. } => {
                if let Err(refusal) = rules::may_rename(standing) {
                    return Ok(Err(format!("{actor} renaming: {refusal}")));
                }
                let length = name.chars().count();
                if name.trim().is_empty() || length > 100 {
                    return Ok(Err(format!("a name of {length} characters")));
                }
                let values = (write_timestamp(seq), name.clone(), c);
                self.write(state, &self.store.st.rename_conversation, values);
                if let Some(row) = state.row.as_mut() {
                    row.name = Some(name.clone());
                }
                Ok(Ok(()))
            }
            Payload::RetentionSet { days, .. } => {
                if let Err(refusal) = rules::may_set_retention(standing) {
                    return Ok(Err(format!("{actor} setting retention: {refusal}")));
                }
                let days = days.map(|d| i32::try_from(d).unwrap_or(i32::MAX));
                let values = (write_timestamp(seq), days, c);
                self.write(state, &self.store.st.set_retention, values);
                if let Some(row) = state.row.as_mut() {
                    row.retention_days = days;
                }
                Ok(Ok(()))
            }
            Payload::MessagePinned { message_id, .. } => {
                self.pinned(c, r, message_id.0, true, state).await
            }
            Payload::MessageUnpinned { message_id, .. } => {
                self.pinned(c, r, message_id.0, false, state).await
            }
        }
    }

    /// A message of this conversation that is still there, for a reaction or a pin.
    async fn live_message(
        &self,
        c: Uuid,
        state: &mut ConversationState<'a>,
        message_id: Uuid,
    ) -> Result<Option<LookupRow>, StoreError> {
        Ok(self
            .lookup(state, message_id)
            .await?
            .filter(|m| m.conversation_id == c && !m.deleted))
    }

    /// Add (or take back) the actor's reaction. Adding one that is there, or taking
    /// back one that is not, changes nothing.
    async fn reaction(
        &self,
        c: Uuid,
        r: &Record,
        reaction: &Reaction,
        add: bool,
        state: &mut ConversationState<'a>,
    ) -> Result<Verdict, StoreError> {
        let (seq, actor) = (r.offset, r.event.actor_id.0);
        let id = reaction.message_id.0;
        if rules::Emoji::parse(&reaction.emoji).is_err() {
            return Ok(Err(format!(
                "reaction {:?} is not an emoji",
                reaction.emoji
            )));
        }
        let Some(target) = self.live_message(c, state, id).await? else {
            return Ok(Err(format!(
                "reaction to {id}, which is deleted or elsewhere"
            )));
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = state.reactions.entry(id) {
            let rows = self
                .store
                .reaction_rows(c, target.bucket, target.seq)
                .await?;
            slot.insert(rows);
        }
        let rows = state.reactions.entry(id).or_default();
        let emoji = reaction.emoji.as_str();
        let present = rows.iter().any(|(e, u, _)| e == emoji && *u == actor);
        let ts = write_timestamp(seq);
        let st = &self.store.reactions;
        if add {
            if present {
                return Ok(Ok(()));
            }
            if rules::exceeds_reaction_emoji(rows.iter().map(|(e, _, _)| e.as_str()), emoji) {
                return Ok(Err(format!(
                    "a reaction beyond {} distinct emoji on {id}",
                    rules::MAX_REACTION_EMOJI
                )));
            }
            rows.push((emoji.to_string(), actor, seq));
            let values = (
                c,
                target.bucket,
                target.seq,
                emoji.to_string(),
                actor,
                seq,
                ts,
            );
            self.write(state, &st.insert, values);
        } else {
            if !present {
                return Ok(Ok(()));
            }
            rows.retain(|(e, u, _)| !(e == emoji && *u == actor));
            let values = (ts, c, target.bucket, target.seq, emoji.to_string(), actor);
            self.write(state, &st.delete, values);
        }
        Ok(Ok(()))
    }

    /// Pin (or unpin) a message. Pinning a pinned message, or unpinning one that is
    /// not, changes nothing.
    async fn pinned(
        &self,
        c: Uuid,
        r: &Record,
        message_id: Uuid,
        pin: bool,
        state: &mut ConversationState<'a>,
    ) -> Result<Verdict, StoreError> {
        let seq = r.offset;
        if state.pins.is_none() {
            let rows = self.store.pin_rows(c).await?;
            state.pins = Some(rows.into_iter().map(|p| p.message_id).collect());
        }
        let pinned = state.pins.get_or_insert_with(HashSet::new);
        let st = &self.store.pins;
        if pin {
            if pinned.contains(&message_id) {
                return Ok(Ok(()));
            }
            if pinned.len() >= rules::MAX_PINS {
                return Ok(Err(format!("a pin beyond {} in {c}", rules::MAX_PINS)));
            }
            if self.live_message(c, state, message_id).await?.is_none() {
                return Ok(Err(format!(
                    "pin of {message_id}, which is deleted or elsewhere"
                )));
            }
            let at = CqlTimestamp(r.event.occurred_at.0);
            let values = (
                c,
                message_id,
                r.event.actor_id.0,
                at,
                seq,
                write_timestamp(seq),
            );
            self.write(state, &st.insert, values);
            if let Some(p) = state.pins.as_mut() {
                p.insert(message_id);
            }
        } else {
            if !pinned.remove(&message_id) {
                return Ok(Ok(()));
            }
            self.write(state, &st.delete, (write_timestamp(seq), c, message_id));
        }
        Ok(Ok(()))
    }

    /// Count a reply in its root's summary, once: a reply at or below the summary's
    /// last reply was counted before (this conversation's events apply in seq order).
    async fn thread_reply(
        &self,
        c: Uuid,
        r: &Record,
        root: LookupRow,
        root_id: Uuid,
        reply: (Uuid, i64),
        state: &mut ConversationState<'a>,
    ) -> Result<(), StoreError> {
        let seq = r.offset;
        let (reply_id, bucket) = reply;
        let ts = write_timestamp(seq);
        let th = &self.store.threads;
        self.write(
            state,
            &th.insert_reply,
            (c, root_id, seq, bucket, reply_id, ts),
        );
        let summary = match state.threads.get(&root_id) {
            Some(s) => *s,
            None => self.store.thread_summary(c, root.bucket, root.seq).await?,
        };
        let (count, last) = summary;
        if seq <= last {
            state.threads.insert(root_id, summary);
            return Ok(());
        }
        let next = (count + 1, seq);
        state.threads.insert(root_id, next);
        let at = CqlTimestamp(r.event.occurred_at.0);
        self.write(
            state,
            &th.update_summary,
            (ts, next.0, next.1, at, c, root.bucket, root.seq),
        );
        Ok(())
    }

    fn created(
        &self,
        c: Uuid,
        r: &Record,
        created: &ConversationCreated,
        state: &mut ConversationState<'a>,
    ) -> Verdict {
        if state.row.is_some() {
            return Err("conversation already exists (a repeated creation)".into());
        }
        let seq = r.offset;
        let kind = created.kind.as_str();
        let values = (
            c,
            kind,
            created.name.clone(),
            r.event.actor_id.0,
            CqlTimestamp(r.event.occurred_at.0),
            seq,
            write_timestamp(seq),
        );
        self.write(state, &self.store.st.insert_conversation, values);
        for m in &created.members {
            let admin = created.admins.contains(m);
            self.add_member(c, m.0, admin, seq, 0, state);
        }
        state.row = Some(ConversationRow {
            kind: Some(kind.to_string()),
            name: created.name.clone(),
            created_seq: Some(seq),
            applied_seq: seq,
            ..ConversationRow::default()
        });
        Ok(())
    }

    async fn message_sent(
        &self,
        c: Uuid,
        r: &Record,
        m: &MessageSent,
        row: &ConversationRow,
        state: &mut ConversationState<'a>,
    ) -> Result<Verdict, StoreError> {
        let s = &self.store.st;
        let (seq, actor) = (r.offset, r.event.actor_id.0);
        let ts = write_timestamp(seq);
        let id = m.message_id.0;
        if let Some(existing) = self.lookup(state, id).await? {
            if existing.seq != seq {
                // The same message appended twice (a retry after a lost ack): history
                // keeps the first.
                return Ok(Ok(()));
            }
        }
        // An attachment names an object of this conversation's uploads, nothing else
        // in the bucket (the gateway checked it was the sender's upload).
        if let Some(a) = m.attachments.iter().find(|a| {
            !a.attachment_id.is_empty()
                && (a.object_key != format!("uploads/{c}/{}", a.attachment_id)
                    || !a.attachment_id.bytes().all(|b| b.is_ascii_alphanumeric()))
        }) {
            return Ok(Err(format!(
                "attachment {} names object {:?}, not one of this conversation's uploads",
                a.attachment_id, a.object_key
            )));
        }
        let root = match m.thread_root {
            None => None,
            Some(root_id) => match self.lookup(state, root_id.0).await? {
                Some(root) if root.conversation_id == c && root.thread_root.is_none() => {
                    Some((root_id.0, root))
                }
                Some(root) if root.conversation_id == c => {
                    return Ok(Err(format!(
                        "reply in thread {root_id}, which is itself a thread reply"
                    )))
                }
                _ => return Ok(Err(format!("reply in unknown thread {root_id}"))),
            },
        };
        let index = row.message_count;
        let bucket = index / BUCKET_SIZE;
        if let Some((root_id, root)) = root {
            self.thread_reply(c, r, root, root_id, (id, bucket), state)
                .await?;
        }
        if index % BUCKET_SIZE == 0 {
            self.write(state, &s.insert_bucket, (c, seq, bucket, ts));
        }
        // Stored as the log has it: sealed content stays sealed (the gateway opens it
        // when it serves a page), so erasing its key erases it here too.
        let sealed = r.event.sealed.as_ref().map(|s| s.to_bytes());
        let attachments = if m.attachments.is_empty() {
            None
        } else {
            serde_json::to_string(&m.attachments).ok()
        };
        let size = 200
            + m.body.len()
            + attachments.as_ref().map_or(0, String::len)
            + sealed.as_ref().map_or(0, Vec::len);
        let values = (
            c,
            bucket,
            seq,
            index,
            id,
            actor,
            m.kind.as_str(),
            m.body.clone(),
            m.reply_to.map(|r| r.0),
            attachments,
            CqlTimestamp(r.event.occurred_at.0),
            m.thread_root.map(|t| t.0),
            sealed.clone(),
            ts,
        );
        state
            .message_rows
            .entry(bucket)
            .or_default()
            .push((Box::new(values), size));
        let thread_root = m.thread_root.map(|t| t.0);
        self.write(
            state,
            &s.insert_lookup,
            (id, c, seq, bucket, actor, thread_root, ts),
        );
        let added = LookupRow {
            conversation_id: c,
            seq,
            bucket,
            sender_id: actor,
            deleted: false,
            thread_root,
        };
        state.messages.insert(id, Some(added));
        state.new_messages.push((seq, index));
        if let Some(row) = state.row.as_mut() {
            row.message_count = index + 1;
            row.last_seq = Some(seq);
            row.last_message_id = Some(id);
            row.last_sender_id = Some(actor);
            row.last_body = Some(m.body.clone());
            row.last_sealed = sealed;
            row.last_at = Some(r.event.occurred_at.0);
        }
        // Sending is reading: the sender has read up to their own message.
        Self::move_read(state, actor, seq, Some(index + 1));
        Ok(Ok(()))
    }

    async fn message_edited(
        &self,
        c: Uuid,
        r: &Record,
        message_id: Uuid,
        body: &str,
        state: &mut ConversationState<'a>,
    ) -> Result<Verdict, StoreError> {
        let actor = r.event.actor_id.0;
        let Some(found) = self.lookup(state, message_id).await? else {
            return Ok(Err(format!("edit of unknown message {message_id}")));
        };
        if found.conversation_id != c || found.deleted {
            return Ok(Err(format!(
                "edit of message {message_id}, which is deleted or elsewhere"
            )));
        }
        if let Err(refusal) = rules::may_edit(UserId(actor), UserId(found.sender_id)) {
            return Ok(Err(format!(
                "edit of message {message_id} by {actor}: {refusal}"
            )));
        }
        let sealed = r.event.sealed.as_ref().map(|s| s.to_bytes());
        let values = (
            write_timestamp(r.offset),
            body.to_string(),
            sealed.clone(),
            CqlTimestamp(r.event.occurred_at.0),
            c,
            found.bucket,
            found.seq,
        );
        self.write(state, &self.store.st.edit_message, values);
        if let Some(row) = state.row.as_mut() {
            if row.last_message_id == Some(message_id) {
                row.last_body = Some(body.to_string());
                row.last_sealed = sealed;
            }
        }
        Ok(Ok(()))
    }

    async fn message_deleted(
        &self,
        c: Uuid,
        r: &Record,
        message_id: Uuid,
        standing: Membership,
        state: &mut ConversationState<'a>,
    ) -> Result<Verdict, StoreError> {
        let actor = r.event.actor_id.0;
        let Some(found) = self.lookup(state, message_id).await? else {
            return Ok(Err(format!("delete of unknown message {message_id}")));
        };
        if found.conversation_id != c {
            return Ok(Err(format!(
                "delete of message {message_id} of another conversation"
            )));
        }
        if found.deleted {
            return Ok(Ok(()));
        }
        if let Err(refusal) = rules::may_delete(UserId(actor), UserId(found.sender_id), standing) {
            return Ok(Err(format!(
                "delete of message {message_id} by {actor}: {refusal}"
            )));
        }
        let ts = write_timestamp(r.offset);
        let at = CqlTimestamp(r.event.occurred_at.0);
        let s = &self.store.st;
        self.write(
            state,
            &s.delete_message,
            (ts, at, c, found.bucket, found.seq),
        );
        self.write(state, &s.mark_deleted, (ts, message_id));
        // A deleted message is unpinned (deleting a pin that is not there is harmless).
        self.write(state, &self.store.pins.delete, (ts, c, message_id));
        if let Some(p) = state.pins.as_mut() {
            p.remove(&message_id);
        }
        state.messages.insert(
            message_id,
            Some(LookupRow {
                deleted: true,
                ..found
            }),
        );
        if let Some(row) = state.row.as_mut() {
            if row.last_message_id == Some(message_id) {
                row.last_body = None;
                row.last_sealed = None;
            }
        }
        Ok(Ok(()))
    }

    fn member_added(
        &self,
        c: Uuid,
        seq: i64,
        user: Uuid,
        as_admin: bool,
        message_count: i64,
        state: &mut ConversationState<'a>,
    ) {
        match state.members.get(&user).copied() {
            Some(mut m) => {
                m.is_admin = m.is_admin || as_admin;
                self.write_member(c, m, write_timestamp(seq), state);
                state.members.insert(user, m);
            }
            // A new member has read what came before they joined.
            None => self.add_member(c, user, as_admin, seq, message_count, state),
        }
    }

    fn member_removed(&self, c: Uuid, seq: i64, user: Uuid, state: &mut ConversationState<'a>) {
        if state.members.remove(&user).is_some() {
            let ts = write_timestamp(seq);
            let s = &self.store.st;
            self.write(state, &s.delete_member, (ts, c, user));
            self.write(state, &s.delete_user_conversation, (ts, user, c));
            state.read_counts.remove(&user);
            state.dirty_pointers.retain(|u| *u != user);
        }
    }

    fn move_read(state: &mut ConversationState<'a>, user: Uuid, up_to: i64, count: Option<i64>) {
        if let Some(m) = state.members.get_mut(&user) {
            if up_to > m.read_seq {
                m.read_seq = up_to;
                match count {
                    Some(n) => {
                        state.read_counts.insert(user, n);
                    }
                    None => {
                        state.read_counts.remove(&user);
                    }
                }
                state.dirty_pointers.push(user);
            }
        }
    }

    fn add_member(
        &self,
        c: Uuid,
        user: Uuid,
        admin: bool,
        seq: i64,
        read_count: i64,
        state: &mut ConversationState<'a>,
    ) {
        let m = MemberRow {
            user_id: user,
            is_admin: admin,
            joined_seq: seq,
            read_seq: seq,
            delivered_seq: seq,
        };
        let ts = write_timestamp(seq);
        self.write_member(c, m, ts, state);
        self.write(
            state,
            &self.store.st.upsert_user_conversation,
            (user, c, seq, seq, read_count, ts),
        );
        state.members.insert(user, m);
    }

    fn write_member(&self, c: Uuid, m: MemberRow, ts: i64, state: &mut ConversationState<'a>) {
        let values = (
            c,
            m.user_id,
            m.is_admin,
            m.joined_seq,
            m.read_seq,
            m.delivered_seq,
            ts,
        );
        self.write(state, &self.store.st.upsert_member, values);
    }

    /// How many messages are at or below `seq`: from this batch's messages when it
    /// reaches them, else from the table (earlier batches are durable).
    async fn count_at_or_below(
        &self,
        c: Uuid,
        seq: i64,
        new_messages: &[(i64, i64)],
    ) -> Result<i64, StoreError> {
        match new_messages.iter().rev().find(|(s, _)| *s <= seq) {
            Some((_, index)) => Ok(index + 1),
            None => self.store.count_at_or_below(c, seq).await,
        }
    }

    /// Queue the pointers that moved in this batch, once per member.
    async fn flush_pointers(
        &self,
        c: Uuid,
        last: i64,
        state: &mut ConversationState<'a>,
    ) -> Result<(), StoreError> {
        let mut users = std::mem::take(&mut state.dirty_pointers);
        users.sort();
        users.dedup();
        let ts = write_timestamp(last);
        let s = &self.store.st;
        for u in users {
            let Some(m) = state.members.get(&u).copied() else {
                continue;
            };
            let count = match state.read_counts.get(&u) {
                Some(n) => *n,
                None => {
                    self.count_at_or_below(c, m.read_seq, &state.new_messages)
                        .await?
                }
            };
            self.write(
                state,
                &s.update_member_pointers,
                (ts, m.read_seq, m.delivered_seq, c, u),
            );
            self.write(state, &s.update_user_read, (ts, m.read_seq, count, u, c));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_rows_are_cut_into_batches_within_both_limits_in_order() {
        let small: Vec<(usize, usize)> = (0..61).map(|i| (i, 500)).collect();
        let batches = cut_into_batches(small);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [ROWS_PER_BATCH, ROWS_PER_BATCH, 1]
        );
        assert_eq!(batches.concat(), (0..61).collect::<Vec<_>>());

        let large: Vec<(usize, usize)> = (0..3).map(|i| (i, 20 * 1024)).collect();
        assert_eq!(cut_into_batches(large), [vec![0], vec![1], vec![2]]);

        let oversized = vec![(0, 10), (1, 100 * 1024), (2, 10)];
        assert_eq!(cut_into_batches(oversized), [vec![0], vec![1], vec![2]]);

        assert!(cut_into_batches(Vec::<(u8, usize)>::new()).is_empty());
    }
}
