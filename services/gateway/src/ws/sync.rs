//! The `sync` frame: replay what the client missed in each conversation, in seq order,
//! from history (`chat_store::history::Replay` pages it and decides the position), and
//! say up to where each conversation is now complete, so the client moves its position
//! there. A conversation the caller is not a member of gets a `not_member` error (and no
//! events).
//!
//! One frame is bounded: it may name at most `gateway.sync_max_conversations`
//! conversations (more is refused whole, `too_large`), and each conversation replays at
//! most `gateway.sync_max_messages` messages. A conversation that stopped at that limit
//! is listed in `synced.more`, and its position is the last message replayed, so the
//! client's next `sync` continues from there.

use std::collections::HashMap;

use axum::extract::ws::Message;
use chat_core::ids::{ConversationId, UserId};
use chat_core::live::frames::{replayed_message_frame, MessageView};
use chat_store::Message as StoredMessage;

use super::frames::ServerFrame;
use crate::error::{ApiError, ErrorCode};
use crate::live::Outbound;
use crate::state::AppState;

/// What a `sync` reached: per conversation, the seq the client is complete up to, and
/// the conversations with more to replay.
pub struct Reached {
    pub positions: HashMap<String, i64>,
    pub more: Vec<String>,
}

/// Refuse a `sync` frame that names too many conversations, or a position no client can
/// hold: seqs are never negative, and -1 ("nothing seen yet") is the one sentinel.
pub fn check(positions: &HashMap<ConversationId, i64>, most: usize) -> Result<(), ApiError> {
    if positions.len() > most {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("a sync may name at most {most} conversations; send the rest in another sync"),
        ));
    }
    if let Some((c, p)) = positions.iter().find(|(_, p)| **p < -1) {
        return Err(ApiError::bad_frame(format!(
            "position {p} of {c}: positions are -1 (nothing seen) or a seq"
        )));
    }
    Ok(())
}

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
) -> Result<Reached, Closed> {
    let mut reached = HashMap::new();
    let mut more = Vec::new();
    let per_conversation = state.settings.sync_max_messages;
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
        let mut replay = match state.history.replay(c.0, last_seen, per_conversation).await {
            Ok(r) => r,
            Err(e) => {
                send_error(out, e.into()).await?;
                continue;
            }
        };
        let mut prev = last_seen;
        let mut failed = false;
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
                    failed = true;
                    send_error(out, e.into()).await?;
                    break;
                }
            }
        }
        if !failed && !replay.is_complete() {
            more.push(c.to_string());
        }
        reached.insert(c.to_string(), replay.position());
    }
    Ok(Reached {
        positions: reached,
        more,
    })
}

fn view(m: &StoredMessage) -> MessageView<'_> {
    let json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or(serde_json::Value::Null);
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
        thread_root: m.thread_root.clone(),
        attachments: serde_json::Value::Array(m.attachments.clone()),
        thread: json(serde_json::to_value(&m.thread)),
        reactions: json(serde_json::to_value(&m.reactions)),
        erased: m.erased,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(n: u128, at: i64) -> HashMap<ConversationId, i64> {
        (0..n)
            .map(|i| (ConversationId(uuid::Uuid::from_u128(i + 1)), at))
            .collect()
    }

    #[test]
    fn a_sync_names_at_most_the_limit() {
        assert!(check(&positions(100, 5), 100).is_ok());
        let e = check(&positions(101, 5), 100).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLarge);
        assert!(check(&HashMap::new(), 100).is_ok());
    }

    #[test]
    fn positions_are_seqs_or_the_start() {
        assert!(check(&positions(3, -1), 100).is_ok());
        assert!(check(&positions(3, 0), 100).is_ok());
        assert!(check(&positions(3, i64::MAX), 100).is_ok());
        for bad in [-2, i64::MIN] {
            let e = check(&positions(1, bad), 100).unwrap_err();
            assert_eq!(e.code, ErrorCode::BadFrame);
        }
    }
}
