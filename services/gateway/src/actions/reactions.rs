//! v1.1 reactions: add or take back one emoji on one message.

use chat_core::events::{Payload, Reaction};
use chat_core::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::rules::{self, Emoji};
use chat_store::reaction_tally::Reserved;

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
/// did not, is appended all the same and changes nothing when projected, so a retry is
/// always safe. The distinct-emoji limit is checked against the reaction tally in Redis
/// (`chat_store::reaction_tally`), so the ack path reads the CQL store at most once per
/// message (to seed the tally), not on every reaction.
pub async fn react(state: &AppState, actor: UserId, cmd: React) -> Result<Ack, ActionError> {
    let c = cmd.conversation_id;
    require_member(state, c, actor).await?;
    let action = MessageId::derive(c, actor, &cmd.client_msg_id);
    deduplicated(state, action, nothing_earlier, || async {
        live_message(state, c, cmd.message_id).await?;
        let emoji = cmd.emoji.as_str();
        if cmd.op == ReactionOp::Add {
            reserve_within_the_limit(state, c, cmd.message_id, emoji, actor).await?;
        }
        let reaction = Reaction {
            message_id: cmd.message_id,
            emoji: emoji.to_string(),
            client_msg_id: cmd.client_msg_id.to_string(),
        };
        let payload = match cmd.op {
            ReactionOp::Add => Payload::ReactionAdded(reaction),
            ReactionOp::Remove => Payload::ReactionRemoved(reaction),
        };
        let ev = event(state, c, actor, payload);
        let appended = state.appender.append(&ev).await;
        // A removal leaves the tally once it is in the log; an addition that did not
        // make it into the log gives its place back. (A gateway dying in between leaves
        // the tally one too high until it expires: a limit reached early, never passed.)
        if cmd.op == ReactionOp::Remove || appended.is_err() {
            if let Err(e) = state
                .reaction_tally
                .release(cmd.message_id, emoji, actor)
                .await
            {
                tracing::warn!(error = %e, "reaction tally not updated");
            }
        }
        let seq = appended?;
        Ok(Ack::of(&cmd.client_msg_id, cmd.message_id, seq, &ev))
    })
    .await
}

/// Count the actor's emoji on the message, or `too_many_reactions` for a new emoji on a
/// message that has the most distinct emoji already. A message without a tally gets one
/// from history first (the projection checks again in log order).
async fn reserve_within_the_limit(
    state: &AppState,
    c: ConversationId,
    m: MessageId,
    emoji: &str,
    actor: UserId,
) -> Result<(), ActionError> {
    for _ in 0..2 {
        match state
            .reaction_tally
            .reserve(m, emoji, actor, rules::MAX_REACTION_EMOJI)
            .await?
        {
            Reserved::Yes => return Ok(()),
            Reserved::Full => return Err(ActionError::TooManyReactions),
            Reserved::Unseeded => {
                let rows = match state.history.lookup(m.0).await? {
                    Some(place) => {
                        state
                            .history
                            .reaction_rows(c.0, place.bucket, place.seq)
                            .await?
                    }
                    // Not projected yet: no reactions.
                    None => vec![],
                };
                state
                    .reaction_tally
                    .seed(m, rows.into_iter().map(|(e, user, _)| (e, user)))
                    .await?;
            }
        }
    }
    // Seeded and still unseeded: the tally expired in between, or Redis lost it.
    Err(ActionError::Store(chat_store::StoreError::Unreadable {
        key: format!("reaction tally of {m}"),
        why: "not seeded after seeding".into(),
    }))
}
