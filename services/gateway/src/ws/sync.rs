//! The `sync` frame: replay what the client missed in each conversation, in seq order,
//! from history (`chat_store::history::Replay` pages it and decides the position), and
//! say up to where each conversation is now complete, so the client moves its position
//! there. A conversation the caller is not a member of gets a `not_member` error (and no
//! events).

use std::collections::HashMap;

use axum::extract::ws::Message;
use chat_core::ids::{ConversationId, UserId};
use chat_core::live::frames::{replayed_message_frame, MessageView};
use chat_store::Message as StoredMessage;

use super::frames::ServerFrame;
use crate::error::ApiError;
use crate::live::Outbound;
use crate::state::AppState;

/// Most messages one `sync` replays per conversation; a client further behind pages
/// the rest from `GET .../messages`.
const SYNC_LIMIT: usize = 5000;

/// The socket closed while replaying.
pub struct Closed;

async fn send(out: &Outbound, text: String) -> Result<(), Closed> {
    out.send(Message::text(text)).await.map_err(|_| Closed)
}

async fn send_error(out: &Outbound, e: ApiError) -> Result<(), Closed> {
    send(out, ServerFrame::error(e, "sync".into()).to_json()).await
}

/// Replay each conversation after its position; the positions reached.
pub async fn replay(
    state: &AppState,
    user: UserId,
    positions: HashMap<ConversationId, i64>,
    out: &Outbound,
) -> Result<HashMap<String, i64>, Closed> {
    let mut reached = HashMap::new();
    for (c, last_seen) in positions {
        match state.membership.membership(c, user).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                send_error(out, ApiError::not_member()).await?;
                continue;
            }
            Err(e) => {
                send_error(out, e.into()).await?;
                continue;
            }
        }
        let mut replay = match state.history.replay(c.0, last_seen, SYNC_LIMIT).await {
            Ok(r) => r,
            Err(e) => {
                send_error(out, e.into()).await?;
                continue;
            }
        };
        let mut prev = last_seen;
        loop {
            match replay.next_page().await {
                Ok(Some(messages)) => {
                    for m in &messages {
                        send(out, replayed_message_frame(&view(m), Some(prev))).await?;
                        prev = m.seq;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    send_error(out, e.into()).await?;
                    break;
                }
            }
        }
        reached.insert(c.to_string(), replay.position());
    }
    Ok(reached)
}

fn view(m: &StoredMessage) -> MessageView<'_> {
    MessageView {
        message_id: m.message_id.clone(),
        conversation_id: m.conversation_id.clone(),
        seq: m.seq,
        sender_id: m.sender_id.clone(),
        body: m.body.as_deref(),
        kind: &m.kind,
        reply_to: m.reply_to.clone(),
        created_at: m.created_at.clone(),
        edited_at: m.edited_at.clone(),
        deleted_at: m.deleted_at.clone(),
    }
}
