//! What the gateway knows about conversations in order to authorize writes: who is a
//! member, who is an admin, who sent a message.
//!
//! Redis holds the write-through record (see [`crate::keys`]), written as soon as Kafka
//! acknowledged the event that changed it, so a write right after a create, an add or a
//! send is authorized on any gateway. Where Redis knows nothing about a conversation
//! (evicted, or a Redis that lost its data), the CQL projection answers instead.

use std::sync::Arc;

use chat_core::events::ConversationKind;
use chat_core::ids::{ConversationId, MessageId, UserId};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

use crate::error::ApiError;
use crate::keys;

/// A member's standing in a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    pub kind: ConversationKind,
    pub is_admin: bool,
}

/// Who sent a message, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageOwner {
    pub conversation_id: ConversationId,
    pub sender: UserId,
    pub deleted: bool,
}

pub struct Conversations {
    redis: ConnectionManager,
    session: Arc<Session>,
    member_row: PreparedStatement,
    member_ids: PreparedStatement,
    conversation_row: PreparedStatement,
    message_row: PreparedStatement,
}

fn cql(e: impl std::fmt::Display) -> ApiError {
    ApiError::from(chat_core::cql::CqlError::Statement(e.to_string()))
}

fn kind_of(s: &str) -> ConversationKind {
    if s == "direct" {
        ConversationKind::Direct
    } else {
        ConversationKind::Group
    }
}

impl Conversations {
    pub async fn new(
        redis: ConnectionManager,
        session: Arc<Session>,
        keyspace: &str,
    ) -> Result<Self, chat_core::cql::CqlError> {
        let prepare = |q: String| {
            let session = session.clone();
            async move {
                session
                    .prepare(q)
                    .await
                    .map_err(|e| chat_core::cql::CqlError::Statement(e.to_string()))
            }
        };
        Ok(Self {
            member_row: prepare(format!(
                "SELECT is_admin FROM {keyspace}.members WHERE conversation_id = ? AND user_id = ?"
            ))
            .await?,
            member_ids: prepare(format!(
                "SELECT user_id FROM {keyspace}.members WHERE conversation_id = ?"
            ))
            .await?,
            conversation_row: prepare(format!("SELECT kind FROM {keyspace}.conversations WHERE conversation_id = ?"))
                .await?,
            message_row: prepare(format!(
                "SELECT conversation_id, sender_id, deleted FROM {keyspace}.message_lookup WHERE message_id = ?"
            ))
            .await?,
            redis,
            session,
        })
    }

    fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// The caller's membership, or None for a non-member *or* a conversation that does
    /// not exist (callers answer both with the same `not_member`).
    pub async fn membership(
        &self,
        c: ConversationId,
        u: UserId,
    ) -> Result<Option<Membership>, ApiError> {
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
        let conv = chat_core::cql::first_row::<(Option<String>,)>(
            &self.session,
            &self.conversation_row,
            (c.0,),
        )
        .await
        .map_err(cql)?;
        let Some((kind,)) = conv else { return Ok(None) };
        let row = chat_core::cql::first_row::<(Option<bool>,)>(
            &self.session,
            &self.member_row,
            (c.0, u.0),
        )
        .await
        .map_err(cql)?;
        Ok(row.map(|(admin,)| Membership {
            kind: kind_of(kind.as_deref().unwrap_or("group")),
            is_admin: admin.unwrap_or(false),
        }))
    }

    /// Every member of a conversation (typing indicators go to the others).
    pub async fn member_ids(&self, c: ConversationId) -> Result<Vec<UserId>, ApiError> {
        let mut r = self.redis();
        let ids: Vec<String> = r.smembers(keys::members(c)).await?;
        if !ids.is_empty() {
            return Ok(chat_core::live::user_ids(&ids).collect());
        }
        let result = self
            .session
            .execute_unpaged(&self.member_ids, (c.0,))
            .await
            .map_err(cql)?;
        let rows = result.into_rows_result().map_err(cql)?;
        let mut out = Vec::new();
        for row in rows.rows::<(uuid::Uuid,)>().map_err(cql)? {
            out.push(UserId(row.map_err(cql)?.0));
        }
        Ok(out)
    }

    /// Whether the conversation exists at all (for "create direct" answering 200).
    pub async fn exists(&self, c: ConversationId) -> Result<bool, ApiError> {
        let mut r = self.redis();
        let known: bool = r.exists(keys::meta(c)).await?;
        if known {
            return Ok(true);
        }
        let rows = self
            .session
            .execute_unpaged(&self.conversation_row, (c.0,))
            .await
            .map_err(cql)?
            .into_rows_result()
            .map_err(cql)?;
        Ok(rows.rows_num() > 0)
    }

    /// Record a conversation Kafka has just acknowledged.
    pub async fn created(
        &self,
        c: ConversationId,
        kind: ConversationKind,
        creator: UserId,
        members: &[UserId],
        admins: &[UserId],
    ) -> Result<(), ApiError> {
        let mut r = self.redis();
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
        let _: () = pipe.query_async(&mut r).await?;
        Ok(())
    }

    pub async fn member_added(
        &self,
        c: ConversationId,
        u: UserId,
        as_admin: bool,
    ) -> Result<(), ApiError> {
        let mut r = self.redis();
        let mut pipe = redis::pipe();
        pipe.atomic().sadd(keys::members(c), u.to_string()).ignore();
        if as_admin {
            pipe.sadd(keys::admins(c), u.to_string()).ignore();
        }
        let _: () = pipe.query_async(&mut r).await?;
        Ok(())
    }

    pub async fn member_removed(&self, c: ConversationId, u: UserId) -> Result<(), ApiError> {
        let mut r = self.redis();
        let _: () = redis::pipe()
            .atomic()
            .srem(keys::members(c), u.to_string())
            .ignore()
            .srem(keys::admins(c), u.to_string())
            .ignore()
            .query_async(&mut r)
            .await?;
        Ok(())
    }

    /// Remember who sent a message (after Kafka acknowledged it).
    pub async fn message_sent(&self, m: MessageId, owner: MessageOwner) -> Result<(), ApiError> {
        let mut r = self.redis();
        let value = format!(
            "{} {}{}",
            owner.conversation_id,
            owner.sender,
            if owner.deleted { " deleted" } else { "" }
        );
        let _: () = r
            .set_ex(keys::message(m), value, keys::MESSAGE_OWNER_TTL_SECS)
            .await?;
        Ok(())
    }

    pub async fn message_owner(&self, m: MessageId) -> Result<Option<MessageOwner>, ApiError> {
        let mut r = self.redis();
        let value: Option<String> = r.get(keys::message(m)).await?;
        if let Some(v) = value {
            let mut parts = v.split(' ');
            let conversation_id = parts.next().and_then(|s| s.parse().ok());
            let sender = parts.next().and_then(|s| s.parse().ok());
            let deleted = parts.next() == Some("deleted");
            if let (Some(conversation_id), Some(sender)) = (conversation_id, sender) {
                return Ok(Some(MessageOwner {
                    conversation_id,
                    sender,
                    deleted,
                }));
            }
            tracing::error!(message_id = %m, "unreadable message owner record");
        }
        let row =
            chat_core::cql::first_row::<(Option<uuid::Uuid>, Option<uuid::Uuid>, Option<bool>)>(
                &self.session,
                &self.message_row,
                (m.0,),
            )
            .await
            .map_err(cql)?;
        Ok(row.and_then(|(c, s, deleted)| {
            Some(MessageOwner {
                conversation_id: ConversationId(c?),
                sender: UserId(s?),
                deleted: deleted.unwrap_or(false),
            })
        }))
    }
}
