//! Sending, editing and deleting messages.

use chat_core::events::{MessageKind, MessageSent, Payload};
use chat_core::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::rules;
use chat_store::membership::MessageOwner;

use super::{after_ack, deduplicated, event, nothing_earlier, require_member, Ack, ActionError};
use crate::domain::MessageBody;
use crate::state::AppState;

/// The ack of a send whose earlier attempt reached the log (its gateway died before
/// recording the outcome, or Kafka did not answer it in time), as history has it;
/// `None` when history has no such message once it has read the log up to where it
/// ends now (`crate::history_progress`), which means the log has none either.
async fn already_sent(
    state: &AppState,
    c: ConversationId,
    client_msg_id: &ClientMsgId,
    message_id: MessageId,
) -> Result<Option<Ack>, ActionError> {
    if !state.history_progress.caught_up().await {
        return Err(ActionError::InFlight(
            "history is catching up with the log; retry this send later",
        ));
    }
    let Some(row) = state.history.lookup(message_id.0).await? else {
        return Ok(None);
    };
    let page = state.history.page(c.0, Some(row.seq + 1), None, 1).await?;
    let ts = page
        .messages
        .into_iter()
        .find(|m| m.seq == row.seq)
        .and_then(|m| m.created_at)
        .ok_or(ActionError::InFlight(
            "an earlier attempt of this send is being projected",
        ))?;
    Ok(Some(Ack {
        client_msg_id: client_msg_id.to_string(),
        message_id: message_id.to_string(),
        seq: row.seq,
        ts,
    }))
}

/// A send, its input already parsed at the edge (the body's size and the kind a client
/// may use, `rules::may_send_kind`, are checked there with the edge's error code).
pub struct SendMessage {
    pub conversation_id: ConversationId,
    pub client_msg_id: ClientMsgId,
    pub body: MessageBody,
    pub kind: MessageKind,
    pub reply_to: Option<MessageId>,
    /// v1.1: reply in the thread of this message.
    pub thread_root: Option<MessageId>,
    /// v1.1: upload ids (`kind` file or image), checked by `attachments::attach`.
    pub attachments: Vec<String>,
}

pub async fn send(state: &AppState, sender: UserId, cmd: SendMessage) -> Result<Ack, ActionError> {
    let c = cmd.conversation_id;
    require_member(state, c, sender).await?;
    if let Some(reply_to) = cmd.reply_to {
        match state.membership.message_owner(reply_to).await? {
            Some(owner) if owner.conversation_id == c => {}
            _ => return Err(ActionError::NotFound("reply_to message")),
        }
    }
    if let Some(root) = cmd.thread_root {
        let owner = live_message(state, c, root).await.map_err(|e| match e {
            ActionError::NotFound(_) => ActionError::NotFound("thread_root message"),
            other => other,
        })?;
        if owner.in_thread {
            return Err(ActionError::InvalidThread);
        }
    }
    let message_id = MessageId::derive(c, sender, &cmd.client_msg_id);
    let earlier = || already_sent(state, c, &cmd.client_msg_id, message_id);
    deduplicated(state, message_id, earlier, || async {
        let attachments = if cmd.attachments.is_empty() {
            vec![]
        } else {
            super::attachments::attach(state, sender, c, cmd.kind, &cmd.attachments).await?
        };
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
                attachments,
                thread_root: cmd.thread_root,
            }),
        );
        let seq = state.appender.append(&ev).await?;
        let owner = MessageOwner {
            conversation_id: c,
            sender,
            deleted: false,
            in_thread: cmd.thread_root.is_some(),
        };
        after_ack(
            "message owner",
            state.membership.message_sent(message_id, owner).await,
        );
        Ok(Ack::of(&cmd.client_msg_id, message_id, seq, &ev))
    })
    .await
}

/// Find a message of conversation `c` that is still there (not deleted).
pub(super) async fn live_message(
    state: &AppState,
    c: ConversationId,
    m: MessageId,
) -> Result<MessageOwner, ActionError> {
    match state.membership.message_owner(m).await? {
        Some(owner) if owner.conversation_id == c && !owner.deleted => Ok(owner),
        _ => Err(ActionError::NotFound("message")),
    }
}

pub async fn edit(
    state: &AppState,
    editor: UserId,
    c: ConversationId,
    message_id: MessageId,
    client_msg_id: ClientMsgId,
    body: MessageBody,
) -> Result<Ack, ActionError> {
    require_member(state, c, editor).await?;
    let action = MessageId::derive(c, editor, &client_msg_id);
    deduplicated(state, action, nothing_earlier, || async {
        let owner = live_message(state, c, message_id).await?;
        rules::may_edit(editor, owner.sender)?;
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
        Ok(Ack::of(&client_msg_id, message_id, seq, &ev))
    })
    .await
}

pub async fn delete(
    state: &AppState,
    actor: UserId,
    c: ConversationId,
    message_id: MessageId,
    client_msg_id: ClientMsgId,
) -> Result<Ack, ActionError> {
    let standing = require_member(state, c, actor).await?;
    let action = MessageId::derive(c, actor, &client_msg_id);
    deduplicated(state, action, nothing_earlier, || async {
        let owner = live_message(state, c, message_id).await?;
        rules::may_delete(actor, owner.sender, standing)?;
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
            state.membership.message_sent(message_id, tombstone).await,
        );
        Ok(Ack::of(&client_msg_id, message_id, seq, &ev))
    })
    .await
}
