//! v1.1 pins and renaming: conversation management any member may do; v1.3 a group's
//! own retention, which its admins set.

use chat_core::events::Payload;
use chat_core::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::rules;

use std::net::IpAddr;

use chat_core::audit::{AuditAction, Outcome};

use super::conversations::audited;
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

/// Set (or clear, `None`) a group's own retention in days (v1.3): group admins only,
/// within the operator's limits. Audited as `conversation_retention_set` (details
/// `days`, "none" when cleared), or `denied` when the rules refuse it.
pub async fn set_retention(
    state: &AppState,
    actor: UserId,
    c: ConversationId,
    days: Option<u32>,
    client_msg_id: ClientMsgId,
    from: IpAddr,
) -> Result<Ack, ActionError> {
    let standing = require_member(state, c, actor).await?;
    let days_text = days.map_or_else(|| "none".to_string(), |d| d.to_string());
    let record = |outcome| {
        audited(
            state,
            actor,
            c,
            AuditAction::ConversationRetentionSet,
            outcome,
            from,
        )
        .detail("days", &days_text)
    };
    if let Err(refusal) = rules::may_set_retention(standing) {
        if refusal == rules::Refusal::RetentionByNonAdmin {
            state.audit(record(Outcome::Denied).detail("reason", refusal));
        }
        return Err(refusal.into());
    }
    if let Some(days) = days {
        state
            .compliance
            .check_conversation_retention(days)
            .map_err(ActionError::InvalidRetention)?;
    }
    let action = MessageId::derive(c, actor, &client_msg_id);
    let ack = deduplicated(state, action, nothing_earlier, || async {
        let ev = event(
            state,
            c,
            actor,
            Payload::RetentionSet {
                days,
                client_msg_id: client_msg_id.to_string(),
            },
        );
        let seq = state.appender.append(&ev).await?;
        Ok(Ack::of(&client_msg_id, action, seq, &ev))
    })
    .await?;
    state.audit(record(Outcome::Ok));
    Ok(ack)
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
