//! Who is in a conversation, who administers it, and who sent which message: what the
//! gateways authorize writes with and the roles that address members route by.
//!
//! Redis holds the write-through record (`conv:{c}:meta`, `conv:{c}:members`,
//! `conv:{c}:admins`, `msg:{m}`; see [`crate::keys`]), written as soon as Kafka
//! acknowledged the event that changed it, so a write right after a create, an add or a
//! send is authorized on any gateway. Where Redis knows nothing about a conversation
//! (evicted, or a Redis that lost its data), the CQL projection answers instead: that
//! fallback is written here once, for every caller.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chat_core::events::ConversationKind;
use chat_core::ids::{ConversationId, MessageId, UserId};
use chat_core::rules::Membership;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use uuid::Uuid;

use crate::cql::{first_row, prepare};
use crate::error::StoreError;
use crate::keys;

/// Who sent a message, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageOwner {
    pub conversation_id: ConversationId,
    pub sender: UserId,
    pub deleted: bool,
    /// v1.1: the message is a reply in a thread (so it cannot be a thread's root).
    pub in_thread: bool,
}

pub struct MembershipStore {
    redis: ConnectionManager,
    session: Arc<Session>,
    member_row: PreparedStatement,
    member_ids: PreparedStatement,
    conversation_row: PreparedStatement,
    message_row: PreparedStatement,
}

fn kind_of(s: &str) -> ConversationKind {
    if s == "direct" {
        ConversationKind::Direct
    } else {
        ConversationKind::Group
    }
}

/// How long a direct conversation's creation lock is held at most (a gateway that dies
/// holding it frees it by expiry).
const CREATING_LOCK_SECS: u64 = 30;

impl MembershipStore {
    pub async fn new(
        redis: ConnectionManager,
        session: Arc<Session>,
        keyspace: &str,
    ) -> Result<Self, StoreError> {
        let ks = keyspace;
        Ok(Self {
            member_row: prepare(
                &session,
                format!("SELECT is_admin FROM {ks}.members WHERE conversation_id = ? AND user_id = ?"),
            )
            .await?,
            member_ids: prepare(
                &session,
                format!("SELECT user_id FROM {ks}.members WHERE conversation_id = ?"),
            )
            .await?,
            conversation_row: prepare(
                &session,
                format!("SELECT kind FROM {ks}.conversations WHERE conversation_id = ?"),
            )
            .await?,
            message_row: prepare(
                &session,
                format!(
                    "SELECT conversation_id, sender_id, deleted, thread_root FROM {ks}.message_lookup WHERE message_id = ?"
                ),
            )
            .await?,
            redis,
            session,
        })
    }

    fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// The user's standing, or None for a non-member *or* a conversation that does not
    /// exist (callers answer both alike).
    pub async fn membership(
        &self,
        c: ConversationId,
        u: UserId,
    ) -> Result<Option<Membership>, StoreError> {
        let mut r = self.redis();
        let (kind, member, admin): (Option<String>, bool, bool) = redis::pipe()
            .hget(keys::meta(c), "kind")
            .sismember(keys::members(c), u.to_string())
            .sismember(keys::admins(c), u.to_string())
            .query_async(&mut r)
            .await?;
        if let Some(kind) = kind {
            return Ok(member.then_some(Membership {
                kind: kind_of(&kind),
                is_admin: admin,
            }));
        }
        // Redis does not know this conversation: ask the projection.
        let Some(kind) = self.projected_kind(c).await? else {
            return Ok(None);
        };
        let row = first_row::<(Option<bool>,)>(&self.session, &self.member_row, (c.0, u.0)).await?;
        Ok(row.map(|(admin,)| Membership {
            kind,
            is_admin: admin.unwrap_or(false),
        }))
    }

    async fn projected_kind(
        &self,
        c: ConversationId,
    ) -> Result<Option<ConversationKind>, StoreError> {
        let row =
            first_row::<(Option<String>,)>(&self.session, &self.conversation_row, (c.0,)).await?;
        Ok(row.map(|(kind,)| kind_of(kind.as_deref().unwrap_or("group"))))
    }

    /// A conversation's kind (None: it does not exist).
    pub async fn kind(&self, c: ConversationId) -> Result<Option<ConversationKind>, StoreError> {
        let mut r = self.redis();
        let kind: Option<String> = r.hget(keys::meta(c), "kind").await?;
        match kind {
            Some(k) => Ok(Some(kind_of(&k))),
            None => self.projected_kind(c).await,
        }
    }

    /// Every member of a conversation.
    pub async fn member_ids(&self, c: ConversationId) -> Result<Vec<UserId>, StoreError> {
        let mut r = self.redis();
        let ids: Vec<String> = r.smembers(keys::members(c)).await?;
        if !ids.is_empty() {
            return Ok(keys::user_ids(&ids).collect());
        }
        self.projected_members(c).await
    }

    /// How many members a conversation has, without reading who they are (what the
    /// gateway bounds group size and typing with).
    pub async fn member_count(&self, c: ConversationId) -> Result<usize, StoreError> {
        let mut r = self.redis();
        let n: usize = r.scard(keys::members(c)).await?;
        if n > 0 {
            return Ok(n);
        }
        Ok(self.projected_members(c).await?.len())
    }

    async fn projected_members(&self, c: ConversationId) -> Result<Vec<UserId>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.member_ids, (c.0,))
            .await
            .map_err(StoreError::cql)?;
        let rows = result.into_rows_result().map_err(StoreError::cql)?;
        let mut out = Vec::new();
        for row in rows.rows::<(Uuid,)>().map_err(StoreError::cql)? {
            out.push(UserId(row.map_err(StoreError::cql)?.0));
        }
        Ok(out)
    }

    /// The members of each conversation, in the order given: one Redis round trip for
    /// all of them, the projection for those Redis has no record of.
    pub async fn members_of(
        &self,
        conversations: &[ConversationId],
    ) -> Result<Vec<HashSet<UserId>>, StoreError> {
        if conversations.is_empty() {
            return Ok(vec![]);
        }
        let mut pipe = redis::pipe();
        for c in conversations {
            pipe.smembers(keys::members(*c));
        }
        let sets: Vec<Vec<String>> = pipe.query_async(&mut self.redis()).await?;
        let mut out = Vec::with_capacity(sets.len());
        for (c, set) in conversations.iter().zip(sets) {
            let mut members: HashSet<UserId> = keys::user_ids(&set).collect();
            if members.is_empty() {
                members = self.projected_members(*c).await?.into_iter().collect();
            }
            out.push(members);
        }
        Ok(out)
    }

    /// The members of the conversations among `conversations` that have at most `most`
    /// members. Sizes are asked first, so a large group's member set is
    /// never read (presence goes only through small conversations).
    pub async fn members_of_small(
        &self,
        conversations: &[ConversationId],
        most: usize,
    ) -> Result<HashSet<UserId>, StoreError> {
        if conversations.is_empty() {
            return Ok(HashSet::new());
        }
        let mut r = self.redis();
        let mut sizes = redis::pipe();
        for c in conversations {
            sizes.scard(keys::members(*c));
        }
        let sizes: Vec<usize> = sizes.query_async(&mut r).await?;
        let small = at_most(conversations, &sizes, most);
        if small.is_empty() {
            return Ok(HashSet::new());
        }
        let mut pipe = redis::pipe();
        for c in &small {
            pipe.smembers(keys::members(*c));
        }
        let sets: Vec<Vec<String>> = pipe.query_async(&mut r).await?;
        Ok(keys::user_ids(sets.iter().flatten()).collect())
    }

    /// Whether the conversation exists at all.
    pub async fn exists(&self, c: ConversationId) -> Result<bool, StoreError> {
        let mut r = self.redis();
        let known: bool = r.exists(keys::meta(c)).await?;
        if known {
            return Ok(true);
        }
        Ok(self.projected_kind(c).await?.is_some())
    }

    /// Record a conversation Kafka has just acknowledged.
    pub async fn created(
        &self,
        c: ConversationId,
        kind: ConversationKind,
        creator: UserId,
        members: &[UserId],
        admins: &[UserId],
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        let member_ids: Vec<String> = members.iter().map(ToString::to_string).collect();
        pipe.sadd(keys::members(c), member_ids).ignore();
        if !admins.is_empty() {
            let admin_ids: Vec<String> = admins.iter().map(ToString::to_string).collect();
            pipe.sadd(keys::admins(c), admin_ids).ignore();
        }
        // meta last: its presence says the record is complete.
        pipe.hset_multiple(
            keys::meta(c),
            &[
                ("kind", kind.as_str().to_string()),
                ("created_by", creator.to_string()),
            ],
        )
        .ignore();
        let _: () = pipe.query_async(&mut self.redis()).await?;
        Ok(())
    }

    pub async fn member_added(
        &self,
        c: ConversationId,
        u: UserId,
        as_admin: bool,
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic().sadd(keys::members(c), u.to_string()).ignore();
        if as_admin {
            pipe.sadd(keys::admins(c), u.to_string()).ignore();
        }
        let _: () = pipe.query_async(&mut self.redis()).await?;
        Ok(())
    }

    pub async fn member_removed(&self, c: ConversationId, u: UserId) -> Result<(), StoreError> {
        let _: () = redis::pipe()
            .atomic()
            .srem(keys::members(c), u.to_string())
            .ignore()
            .srem(keys::admins(c), u.to_string())
            .ignore()
            .query_async(&mut self.redis())
            .await?;
        Ok(())
    }

    /// Take the lock under which one gateway creates a direct conversation while the
    /// other waits; false when someone else holds it.
    pub async fn lock_creation(&self, c: ConversationId) -> Result<bool, StoreError> {
        let acquired: Option<String> = redis::cmd("SET")
            .arg(keys::creating(c))
            .arg("1")
            .arg("NX")
            .arg("EX")
            .arg(CREATING_LOCK_SECS)
            .query_async(&mut self.redis())
            .await?;
        Ok(acquired.is_some())
    }

    /// Release the creation lock (best effort: it expires by itself).
    pub async fn unlock_creation(&self, c: ConversationId) {
        let released: Result<(), _> = self.redis().del(keys::creating(c)).await;
        if let Err(e) = released {
            tracing::debug!(error = %e, "could not release a creation lock; it expires");
        }
    }

    /// Remember who sent a message (after Kafka acknowledged it), or that it is deleted.
    pub async fn message_sent(&self, m: MessageId, owner: MessageOwner) -> Result<(), StoreError> {
        // "<conversation> <sender>[ deleted][ thread]": records written before v1.1
        // lack " thread", which the reader then takes from the projection.
        let value = format!(
            "{} {}{}{}",
            owner.conversation_id,
            owner.sender,
            if owner.deleted { " deleted" } else { "" },
            if owner.in_thread { " thread" } else { " main" }
        );
        let _: () = self
            .redis()
            .set_ex(keys::message(m), value, keys::MESSAGE_OWNER_TTL_SECS)
            .await?;
        Ok(())
    }

    pub async fn message_owner(&self, m: MessageId) -> Result<Option<MessageOwner>, StoreError> {
        let value: Option<String> = self.redis().get(keys::message(m)).await?;
        if let Some(v) = value {
            let mut parts = v.split(' ');
            let conversation_id = parts.next().and_then(|s| s.parse().ok());
            let sender = parts.next().and_then(|s| s.parse().ok());
            let flags: Vec<&str> = parts.collect();
            let deleted = flags.contains(&"deleted");
            let place = if flags.contains(&"thread") {
                Some(true)
            } else if flags.contains(&"main") {
                Some(false)
            } else {
                None
            };
            if let (Some(conversation_id), Some(sender), Some(in_thread)) =
                (conversation_id, sender, place)
            {
                return Ok(Some(MessageOwner {
                    conversation_id,
                    sender,
                    deleted,
                    in_thread,
                }));
            }
            if conversation_id.is_none() || sender.is_none() {
                tracing::error!(message_id = %m, "unreadable message owner record; asking the projection");
            }
        }
        let row = first_row::<(Option<Uuid>, Option<Uuid>, Option<bool>, Option<Uuid>)>(
            &self.session,
            &self.message_row,
            (m.0,),
        )
        .await?;
        Ok(row.and_then(|(c, s, deleted, thread_root)| {
            Some(MessageOwner {
                conversation_id: ConversationId(c?),
                sender: UserId(s?),
                deleted: deleted.unwrap_or(false),
                in_thread: thread_root.is_some(),
            })
        }))
    }
}

/// How long a caller should wait between looks while another gateway creates a direct
/// conversation.
pub const CREATION_POLL: Duration = Duration::from_millis(50);

/// The conversations (of `conversations`, with member counts `sizes`) of at most `most`
/// members.
fn at_most(conversations: &[ConversationId], sizes: &[usize], most: usize) -> Vec<ConversationId> {
    conversations
        .iter()
        .zip(sizes)
        .filter(|(_, n)| **n <= most)
        .map(|(c, _)| *c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_conversations_up_to_the_limit_are_small() {
        let (dm, team, all_hands) = (
            ConversationId(Uuid::new_v4()),
            ConversationId(Uuid::new_v4()),
            ConversationId(Uuid::new_v4()),
        );
        let conversations = [dm, team, all_hands];
        let sizes = [2, 100, 1000];
        assert_eq!(at_most(&conversations, &sizes, 100), vec![dm, team]);
        assert_eq!(at_most(&conversations, &sizes, 2), vec![dm]);
        assert_eq!(
            at_most(&conversations, &sizes, 1000),
            vec![dm, team, all_hands]
        );
    }
}
