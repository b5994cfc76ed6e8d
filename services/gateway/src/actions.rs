//! The state changes a client can ask for, the same over REST and WebSocket: authorize
//! against [`Conversations`], deduplicate, append to the log, then update the
//! write-through record. Nothing here knows about HTTP or frames.

use std::time::Duration;

use chat_core::events::{
    ConversationCreated, ConversationEvent, ConversationKind, MessageKind, MessageSent, Payload,
};
use chat_core::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::time::UnixMillis;
use redis::AsyncCommands;
use uuid::Uuid;

use crate::conversations::{Membership, MessageOwner};
use crate::dedup::{self, Ack, Reservation};
use crate::domain::{ConversationName, MessageBody};
use crate::error::ApiError;
use crate::keys;
use crate::state::AppState;

/// Members a group may have at creation (more can be added one by one).
pub const MAX_INITIAL_MEMBERS: usize = 1000;

fn event(
    state: &AppState,
    c: ConversationId,
    actor: UserId,
    payload: Payload,
) -> ConversationEvent {
    ConversationEvent {
        event_id: Uuid::new_v4(),
        conversation_id: c,
        actor_id: actor,
        occurred_at: UnixMillis::now(),
        gateway_id: state.settings.gateway_id.clone(),
        payload,
    }
}

async fn require_member(
    state: &AppState,
    c: ConversationId,
    u: UserId,
) -> Result<Membership, ApiError> {
    state
        .conversations
        .membership(c, u)
        .await?
        .ok_or_else(ApiError::not_member)
}

/// After Kafka acknowledged: failures to update Redis are logged, never reported, since
/// the event *is* in the log and the client must get its ack.
fn after_ack(what: &str, result: Result<(), ApiError>) {
    if let Err(e) = result {
        tracing::warn!(what, error = %e.message, "write-through after append failed");
    }
}

/// Run `append` under the dedup reservation of `action`, answering a retry with the
/// first attempt's ack.
async fn deduplicated<F, Fut>(
    state: &AppState,
    action: MessageId,
    append: F,
) -> Result<Ack, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Ack, ApiError>>,
{
    let mut redis = state.redis.clone();
    match dedup::reserve(&mut redis, action).await? {
        Reservation::Done(ack) => {
            metrics::counter!("gateway_dedup_hits_total").increment(1);
            Ok(ack)
        }
        Reservation::Acquired => match append().await {
            Ok(ack) => {
                after_ack(
                    "dedup",
                    dedup::complete(&mut redis, action, &ack, state.settings.dedup_ttl_secs).await,
                );
                metrics::counter!("gateway_acks_total").increment(1);
                Ok(ack)
            }
            Err(e) => {
                dedup::release(&mut redis, action).await;
                Err(e)
            }
        },
    }
}

pub struct SendMessage {
    pub conversation_id: ConversationId,
    pub client_msg_id: ClientMsgId,
    pub body: MessageBody,
    pub kind: MessageKind,
    pub reply_to: Option<MessageId>,
}

pub async fn send(state: &AppState, sender: UserId, cmd: SendMessage) -> Result<Ack, ApiError> {
    let c = cmd.conversation_id;
    require_member(state, c, sender).await?;
    if let Some(reply_to) = cmd.reply_to {
        match state.conversations.message_owner(reply_to).await? {
            Some(owner) if owner.conversation_id == c => {}
            _ => return Err(ApiError::not_found("reply_to message")),
        }
    }
    let message_id = MessageId::derive(c, sender, &cmd.client_msg_id);
    deduplicated(state, message_id, || async {
        let ev = event(
            state,
            c,
            sender,
            Payload::MessageSent(MessageSent {
                message_id,
                client_msg_id: cmd.client_msg_id.to_string(),
                kind: cmd.kind,
                body: cmd.body.into_inner(),
                reply_to: cmd.reply_to,
                attachments: vec![],
            }),
        );
        let seq = state.appender.append(&ev).await?;
        let owner = MessageOwner {
            conversation_id: c,
            sender,
            deleted: false,
        };
        after_ack(
            "message owner",
            state.conversations.message_sent(message_id, owner).await,
        );
        Ok(Ack {
            client_msg_id: cmd.client_msg_id.to_string(),
            message_id: message_id.to_string(),
            seq,
            ts: ev.occurred_at.to_rfc3339(),
        })
    })
    .await
}

/// Find a message of conversation `c` that is still there (not deleted).
async fn live_message(
    state: &AppState,
    c: ConversationId,
    m: MessageId,
) -> Result<MessageOwner, ApiError> {
    match state.conversations.message_owner(m).await? {
        Some(owner) if owner.conversation_id == c && !owner.deleted => Ok(owner),
        _ => Err(ApiError::not_found("message")),
    }
}

pub async fn edit(
    state: &AppState,
    editor: UserId,
    c: ConversationId,
    message_id: MessageId,
    client_msg_id: ClientMsgId,
    body: MessageBody,
) -> Result<Ack, ApiError> {
    require_member(state, c, editor).await?;
    let action = MessageId::derive(c, editor, &client_msg_id);
    deduplicated(state, action, || async {
        let owner = live_message(state, c, message_id).await?;
        if owner.sender != editor {
            return Err(ApiError::forbidden("only the sender may edit a message"));
        }
        let ev = event(
            state,
            c,
            editor,
            Payload::MessageEdited {
                message_id,
                client_msg_id: client_msg_id.to_string(),
                body: body.into_inner(),
            },
        );
        let seq = state.appender.append(&ev).await?;
        Ok(Ack {
            client_msg_id: client_msg_id.to_string(),
            message_id: message_id.to_string(),
            seq,
            ts: ev.occurred_at.to_rfc3339(),
        })
    })
    .await
}

pub async fn delete(
    state: &AppState,
    actor: UserId,
    c: ConversationId,
    message_id: MessageId,
    client_msg_id: ClientMsgId,
) -> Result<Ack, ApiError> {
    let membership = require_member(state, c, actor).await?;
    let action = MessageId::derive(c, actor, &client_msg_id);
    deduplicated(state, action, || async {
        let owner = live_message(state, c, message_id).await?;
        let group_admin = membership.kind == ConversationKind::Group && membership.is_admin;
        if owner.sender != actor && !group_admin {
            return Err(ApiError::forbidden(
                "only the sender or a group admin may delete a message",
            ));
        }
        let ev = event(
            state,
            c,
            actor,
            Payload::MessageDeleted {
                message_id,
                client_msg_id: client_msg_id.to_string(),
            },
        );
        let seq = state.appender.append(&ev).await?;
        let tombstone = MessageOwner {
            deleted: true,
            ..owner
        };
        after_ack(
            "message owner",
            state
                .conversations
                .message_sent(message_id, tombstone)
                .await,
        );
        Ok(Ack {
            client_msg_id: client_msg_id.to_string(),
            message_id: message_id.to_string(),
            seq,
            ts: ev.occurred_at.to_rfc3339(),
        })
    })
    .await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pointer {
    Read,
    Delivered,
}

/// Move a read or delivered pointer forward. A pointer at or behind the one already
/// recorded appends nothing.
pub async fn mark(
    state: &AppState,
    user: UserId,
    c: ConversationId,
    pointer: Pointer,
    up_to_seq: i64,
) -> Result<(), ApiError> {
    if up_to_seq < 0 {
        return Err(ApiError::bad_request(
            "bad_frame",
            "up_to_seq must not be negative",
        ));
    }
    require_member(state, c, user).await?;
    let kind = match pointer {
        Pointer::Read => "read",
        Pointer::Delivered => "delivered",
    };
    let key = keys::pointer(kind, c, user);
    let mut redis = state.redis.clone();
    let current: Option<i64> = redis.get(&key).await?;
    if current.is_some_and(|cur| cur >= up_to_seq) {
        return Ok(());
    }
    let payload = match pointer {
        Pointer::Read => Payload::ReadUpTo { seq: up_to_seq },
        Pointer::Delivered => Payload::DeliveredUpTo { seq: up_to_seq },
    };
    state
        .appender
        .append(&event(state, c, user, payload))
        .await?;
    // Keep the maximum even if two marks raced.
    let script = redis::Script::new(
        "local cur = tonumber(redis.call('GET', KEYS[1]) or '-1') \
         if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end return 1",
    );
    let result: Result<i64, _> = script
        .key(&key)
        .arg(up_to_seq)
        .arg(keys::POINTER_TTL_SECS)
        .invoke_async(&mut redis)
        .await;
    after_ack("pointer", result.map(|_| ()).map_err(ApiError::from));
    Ok(())
}

pub async fn create_group(
    state: &AppState,
    creator: UserId,
    name: Option<ConversationName>,
    invited: Vec<UserId>,
) -> Result<ConversationId, ApiError> {
    let mut members = vec![creator];
    for u in invited {
        if !members.contains(&u) {
            members.push(u);
        }
    }
    if members.len() > MAX_INITIAL_MEMBERS {
        return Err(ApiError::bad_request(
            "invalid_members",
            format!("at most {MAX_INITIAL_MEMBERS} members at creation"),
        ));
    }
    for u in &members[1..] {
        if !state.accounts.exists(*u).await? {
            return Err(ApiError::bad_request(
                "invalid_members",
                format!("no user {u}"),
            ));
        }
    }
    let c = ConversationId::new_random();
    let admins = vec![creator];
    let ev = event(
        state,
        c,
        creator,
        Payload::ConversationCreated(ConversationCreated {
            kind: ConversationKind::Group,
            name: name.map(ConversationName::into_inner),
            members: members.clone(),
            admins: admins.clone(),
        }),
    );
    state.appender.append(&ev).await?;
    // Not best effort: "a send right after the create call returned must succeed", so the
    // create fails (and the client retries) if the record cannot be written.
    state
        .conversations
        .created(c, ConversationKind::Group, creator, &members, &admins)
        .await?;
    Ok(c)
}

/// The direct conversation of `creator` and `other`: (id, whether this call created it).
pub async fn create_direct(
    state: &AppState,
    creator: UserId,
    other: UserId,
) -> Result<(ConversationId, bool), ApiError> {
    if other == creator {
        return Err(ApiError::bad_request(
            "invalid_members",
            "a direct conversation needs another user",
        ));
    }
    let c = ConversationId::direct(creator, other);
    if state.conversations.exists(c).await? {
        return Ok((c, false));
    }
    if !state.accounts.exists(other).await? {
        return Err(ApiError::bad_request(
            "invalid_members",
            format!("no user {other}"),
        ));
    }
    // Both users may ask at once, on two gateways: one appends, the other waits for it.
    let mut redis = state.redis.clone();
    let lock = keys::creating(c);
    for _ in 0..100 {
        let acquired: Option<String> = redis::cmd("SET")
            .arg(&lock)
            .arg("1")
            .arg("NX")
            .arg("EX")
            .arg(30)
            .query_async(&mut redis)
            .await?;
        if acquired.is_some() {
            let result = async {
                if state.conversations.exists(c).await? {
                    return Ok((c, false));
                }
                let members = vec![creator, other];
                let ev = event(
                    state,
                    c,
                    creator,
                    Payload::ConversationCreated(ConversationCreated {
                        kind: ConversationKind::Direct,
                        name: None,
                        members: members.clone(),
                        admins: vec![],
                    }),
                );
                state.appender.append(&ev).await?;
                state
                    .conversations
                    .created(c, ConversationKind::Direct, creator, &members, &[])
                    .await?;
                Ok((c, true))
            }
            .await;
            let _: Result<(), _> = redis.del(&lock).await;
            return result;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if state.conversations.exists(c).await? {
            return Ok((c, false));
        }
    }
    Err(ApiError::unavailable(
        "the conversation is being created; try again",
    ))
}

/// Add `user` to a group (as an admin when `as_admin`, which only admins may ask). Adding
/// a member again is a no-op, except that an admin may promote an existing member.
pub async fn add_member(
    state: &AppState,
    caller: UserId,
    c: ConversationId,
    user: UserId,
    as_admin: bool,
) -> Result<(), ApiError> {
    let membership = require_member(state, c, caller).await?;
    if membership.kind == ConversationKind::Direct {
        return Err(ApiError::forbidden(
            "a direct conversation has exactly two members",
        ));
    }
    if as_admin && !membership.is_admin {
        return Err(ApiError::forbidden(
            "only a group admin may make another member an admin",
        ));
    }
    if let Some(existing) = state.conversations.membership(c, user).await? {
        if existing.is_admin || !as_admin {
            return Ok(());
        }
    } else if !state.accounts.exists(user).await? {
        return Err(ApiError::not_found("user"));
    }
    let added = Payload::MemberAdded {
        user_id: user,
        as_admin,
    };
    state
        .appender
        .append(&event(state, c, caller, added))
        .await?;
    state.conversations.member_added(c, user, as_admin).await
}

pub async fn remove_member(
    state: &AppState,
    caller: UserId,
    c: ConversationId,
    user: UserId,
) -> Result<(), ApiError> {
    let membership = require_member(state, c, caller).await?;
    if membership.kind == ConversationKind::Direct {
        return Err(ApiError::forbidden(
            "a direct conversation has exactly two members",
        ));
    }
    if user != caller && !membership.is_admin {
        return Err(ApiError::forbidden(
            "only a group admin may remove another member",
        ));
    }
    if state.conversations.membership(c, user).await?.is_none() {
        return Err(ApiError::not_found("member"));
    }
    state
        .appender
        .append(&event(
            state,
            c,
            caller,
            Payload::MemberRemoved { user_id: user },
        ))
        .await?;
    state.conversations.member_removed(c, user).await
}
