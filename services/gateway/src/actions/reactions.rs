//! v1.1 reactions: add or take back one emoji on one message.

use chat_core::events::{Payload, Reaction};
use chat_core::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::rules::{self, Emoji};

use super::messages::live_message;
use super::{deduplicated, event, nothing_earlier, require_member, Ack, ActionError};
use crate::state::AppState;

/// Add or remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReactionOp {
    Add,
    Remove,
}

pub struct React {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub emoji: Emoji,
    pub op: ReactionOp,
    pub client_msg_id: ClientMsgId,
}

/// Append the reaction. Adding an emoji the user already added, or removing one they
/// did not, is appended all the same and changes nothing when projected (history is
/// the judge, and it may be a moment behind the log), so a retry is always safe.
pub async fn react(state: &AppState, actor: UserId, cmd: React) -> Result<Ack, ActionError> {
    let c = cmd.conversation_id;
    require_member(state, c, actor).await?;
    let action = MessageId::derive(c, actor, &cmd.client_msg_id);
    deduplicated(state, action, nothing_earlier, || async {
        live_message(state, c, cmd.message_id).await?;
        if cmd.op == ReactionOp::Add {
            refuse_a_new_emoji_beyond_the_limit(state, c, cmd.message_id, &cmd.emoji).await?;
        }
        let reaction = Reaction {
            message_id: cmd.message_id,
            emoji: cmd.emoji.as_str().to_string(),
            client_msg_id: cmd.client_msg_id.to_string(),
        };
        let payload = match cmd.op {
            ReactionOp::Add => Payload::ReactionAdded(reaction),
            ReactionOp::Remove => Payload::ReactionRemoved(reaction),
        };
        let ev = event(state, c, actor, payload);
        let seq = state.appender.append(&ev).await?;
        Ok(Ack::of(&cmd.client_msg_id, cmd.message_id, seq, &ev))
    })
    .await
}

/// `too_many_reactions` for a new emoji on a message that has the most distinct emoji
/// already (as history has it; the projection checks again in log order).
async fn refuse_a_new_emoji_beyond_the_limit(
    state: &AppState,
    c: ConversationId,
    m: MessageId,
    emoji: &Emoji,
) -> Result<(), ActionError> {
    let Some(place) = state.history.lookup(m.0).await? else {
        // Not projected yet: it has no reactions.
        return Ok(());
    };
    let rows = state
        .history
        .reaction_rows(c.0, place.bucket, place.seq)
        .await?;
    if rules::exceeds_reaction_emoji(rows.iter().map(|(e, _, _)| e.as_str()), emoji.as_str()) {
        return Err(ActionError::TooManyReactions);
    }
    Ok(())
}
