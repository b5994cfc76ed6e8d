//! v1.1 pins and renaming: conversation management any member may do.

use chat_core::events::Payload;
use chat_core::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::rules;

use super::messages::live_message;
use super::{deduplicated, event, nothing_earlier, require_member, Ack, ActionError};
use crate::domain::ConversationName;
use crate::state::AppState;

/// Rename a group (any member). `client_msg_id` makes a retried request append once.
pub async fn rename(
    state: &AppState,
    actor: UserId,
    c: ConversationId,
    name: ConversationName,
    client_msg_id: ClientMsgId,
) -> Result<Ack, ActionError> {
    let standing = require_member(state, c, actor).await?;
    rules::may_rename(standing)?;
    let action = MessageId::derive(c, actor, &client_msg_id);
    deduplicated(state, action, nothing_earlier, || async {
        let ev = event(
            state,
            c,
            actor,
            Payload::ConversationRenamed {
                name: name.into_inner(),
                client_msg_id: client_msg_id.to_string(),
            },
        );
        let seq = state.appender.append(&ev).await?;
        Ok(Ack::of(&client_msg_id, action, seq, &ev))
    })
    .await
}

/// Pin (`pin`) or unpin a message of `c` (any member). Pinning a pinned message or
/// unpinning one that is not pinned changes nothing.
pub async fn set_pinned(
    state: &AppState,
    actor: UserId,
    c: ConversationId,
    message_id: MessageId,
    pin: bool,
    client_msg_id: ClientMsgId,
) -> Result<Ack, ActionError> {
    require_member(state, c, actor).await?;
    let action = MessageId::derive(c, actor, &client_msg_id);
    deduplicated(state, action, nothing_earlier, || async {
        if pin {
            live_message(state, c, message_id).await?;
            let pinned = state.history.pin_rows(c.0).await?;
            let already = pinned.iter().any(|p| p.message_id == message_id.0);
            if !already && pinned.len() >= rules::MAX_PINS {
                return Err(ActionError::TooManyPins);
            }
        }
        let client_msg_id_text = client_msg_id.to_string();
        let payload = if pin {
            Payload::MessagePinned {
                message_id,
                client_msg_id: client_msg_id_text,
            }
        } else {
            Payload::MessageUnpinned {
                message_id,
                client_msg_id: client_msg_id_text,
            }
        };
        let ev = event(state, c, actor, payload);
        let seq = state.appender.append(&ev).await?;
        Ok(Ack::of(&client_msg_id, message_id, seq, &ev))
    })
    .await
}
