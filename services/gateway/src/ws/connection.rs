//! One WebSocket connection, from upgrade to close.
//!
//! Two halves: this task reads frames and handles them in order (so a client's sends
//! to one conversation are appended in the order it sent them); a writer task owns the
//! socket's sending half and drains a queue bounded in bytes (`live::outbound`), so a
//! slow reader cannot make the gateway buffer without limit: one that stops reading is
//! disconnected.
//!
//! A bad frame is answered with an `error` frame and the connection stays open. A
//! connection that keeps exceeding its frame rate is closed with 1008 (policy
//! violation); on gateway shutdown every socket is closed with 1001 (going away); when
//! live delivery was interrupted (Redis lost), with 1012 (service restart): the client
//! reconnects and syncs.
//!
//! A socket lives as long as the token that opened it: at its expiry it is closed with
//! 4001 (`token_expired`) unless the client sent a fresh token in an `auth` frame
//! first. When its sign-in is revoked (sign-out, password change, deactivation) it is
//! closed with 4003 (`session_revoked`) at once.

use std::num::NonZeroU32;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use chat_core::events::MessageKind;
use chat_core::ids::{SessionId, UserId};
use futures::StreamExt;
use governor::{Quota, RateLimiter};

use super::frames::{self, ClientFrame, ReactionOpFrame, ServerFrame, TypingState};
use crate::actions;
use crate::actions::messages::SendMessage;
use crate::actions::reactions::{React, ReactionOp};
use crate::actions::receipts::Pointer;
use crate::auth::extract::authenticate;
use crate::auth::tokens::Principal;
use crate::domain::{message_content, parse_emoji, MessageBody};
use crate::error::{ApiError, ErrorCode};
use crate::live::hub::SocketSignals;
use crate::live::outbound::{self, Outbound};
use crate::live::typing::Typing;
use crate::state::AppState;
use crate::ws::caps::SocketSlot;
use chat_core::time::UnixMillis;
use chat_store::sessions;
use tokio_util::sync::CancellationToken;

/// Rate-limit refusals in a row after which the connection is closed.
const MAX_STRIKES: u32 = 100;

const CLOSE_POLICY: u16 = 1008;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_INVALID_DATA: u16 = 1007;
/// How long a socket closed on an unreadable frame stays open for its close frame.
const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_millis(300);
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_SERVICE_RESTART: u16 = 1012;
/// The token the socket was opened with expired: refresh, then reconnect.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// The socket's sign-in was ended: sign in again.
pub const CLOSE_SESSION_REVOKED: u16 = 4003;

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// When the socket's token expires, as a deadline of the runtime's clock.
fn deadline_of(expires_at: UnixMillis) -> tokio::time::Instant {
    let left = expires_at.0.saturating_sub(UnixMillis::now().0).max(0) as u64;
    tokio::time::Instant::now() + std::time::Duration::from_millis(left)
}

/// The socket's identity, and until when it holds.
struct SocketAuth {
    session: SessionId,
    expires: tokio::time::Instant,
}

/// `slot` holds the socket's place under the per-user and per-address caps until the
/// connection ends.
pub async fn run(state: AppState, socket: WebSocket, principal: Principal, slot: SocketSlot) {
    let _slot = slot;
    let user = principal.user_id;
    let session = SessionId::new_random();
    let mut redis = state.redis.clone();
    if let Err(e) = sessions::register(&mut redis, user, session, &state.settings.gateway_id).await
    {
        tracing::warn!(error = %e, "could not register the session");
    }
    metrics::gauge!("gateway_connections").increment(1.0);
    crate::memory::socket_opened();
    tracing::debug!(%user, %session, "connected");

    let (sink, mut stream) = socket.split();
    let (out, writer) = outbound::start(sink, outbound::MAX_QUEUED_BYTES);
    // Live frames flow from here on; frames are read only after this, so the answer to
    // a client's first frame proves its subscription is in place.
    let signals = SocketSignals {
        interrupted: CancellationToken::new(),
        revoked: CancellationToken::new(),
        sign_in: principal.sign_in,
        auth_ms: principal.auth_ms,
    };
    let (interrupted, revoked) = (signals.interrupted.clone(), signals.revoked.clone());
    state.hub.join(user, session, out.clone(), signals).await;
    let mut auth = SocketAuth {
        session,
        expires: deadline_of(principal.expires_at),
    };
    let mut typing = Typing::default();

    let per_sec = NonZeroU32::new(state.settings.frames_per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(state.settings.frames_burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let limiter = RateLimiter::direct(Quota::per_second(per_sec).allow_burst(burst));
    let mut strikes = 0u32;
    // Set when the connection ends on a frame it could not read whole.
    let mut unread_input = false;

    loop {
        let typing_deadline = typing.next_deadline();
        let incoming = tokio::select! {
            _ = shutdown_turn(&state) => {
                let _ = out.send(close(CLOSE_GOING_AWAY, "gateway shutting down")).await;
                break;
            }
            _ = interrupted.cancelled() => {
                let reason = "live delivery was interrupted; reconnect and sync";
                let _ = out.send(close(CLOSE_SERVICE_RESTART, reason)).await;
                break;
            }
            _ = revoked.cancelled() => {
                let _ = out.send(close(CLOSE_SESSION_REVOKED, "session_revoked")).await;
                break;
            }
            _ = tokio::time::sleep_until(auth.expires) => {
                let _ = out.send(close(CLOSE_TOKEN_EXPIRED, "token_expired")).await;
                break;
            }
            _ = out.stuck().cancelled() => break,
            _ = sleep_until_some(typing_deadline) => {
                typing.expire(&state, user).await;
                continue;
            }
            incoming = stream.next() => incoming,
        };
        let text = match incoming {
            Some(Ok(Message::Text(t))) => Some(t),
            // Counted against the rate like any frame, then refused.
            Some(Ok(Message::Binary(_))) => None,
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => continue, // ping/pong: answered by the library
            Some(Err(e)) => {
                // A frame over the size limit, or a text frame that is not UTF-8,
                // surfaces as a read error: tell the client why (1009, 1007) instead of
                // just dropping the connection.
                let reason = e.to_string();
                tracing::debug!(error = %reason, "socket error");
                if reason.contains("Space limit exceeded") || reason.contains("Message too long") {
                    let _ = out.send(close(CLOSE_TOO_BIG, "frame too large")).await;
                    unread_input = true;
                } else if reason.to_ascii_lowercase().contains("utf-8") {
                    let _ = out
                        .send(close(CLOSE_INVALID_DATA, "text frame is not UTF-8"))
                        .await;
                    unread_input = true;
                }
                break;
            }
        };
        if limiter.check().is_err() {
            strikes += 1;
            metrics::counter!("gateway_errors_total", "code" => "rate_limited").increment(1);
            if strikes >= MAX_STRIKES {
                let _ = out.send(close(CLOSE_POLICY, "sustained flooding")).await;
                break;
            }
            let err = ApiError::rate_limited("too many frames; slow down");
            let _ = out
                .send(Message::text(
                    ServerFrame::error(err, "unknown".into()).to_json(),
                ))
                .await;
            continue;
        }
        strikes = 0;
        let Some(text) = text else {
            let err = ApiError::bad_frame("binary frames are not supported; send JSON text");
            if emit(&out, ServerFrame::error(err, "unknown".into()))
                .await
                .is_err()
            {
                break;
            }
            continue;
        };
        if handle(&state, user, &text, &out, &mut typing, &mut auth)
            .await
            .is_err()
        {
            break; // the writer is gone: the socket closed
        }
    }

    typing.stop_all(&state, user).await;
    state.hub.leave(user, session).await;
    drop(out);
    let _ = writer.await;
    if unread_input {
        // The rest of the offending frame is still unread: closing the socket now makes
        // the kernel reset the connection, and a client still sending would lose the
        // close frame (and its code) to the reset. Give it a moment to read it first.
        tokio::time::sleep(CLOSE_LINGER).await;
    }
    sessions::unregister(&mut redis, user, session).await;
    metrics::gauge!("gateway_connections").decrement(1.0);
    crate::memory::socket_closed();
    tracing::debug!(%user, %session, "disconnected");
}

struct Closed;

/// Completes when this socket's turn to close at shutdown comes: at a moment drawn
/// uniformly from `[0, gateway.shutdown_spread_secs)` after shutdown begins, so a
/// gateway's clients reconnect elsewhere spread over that time.
async fn shutdown_turn(state: &AppState) {
    state.shutdown.cancelled().await;
    let spread_ms = state.settings.shutdown_spread_secs.saturating_mul(1000);
    if spread_ms > 0 {
        // A v4 UUID is 122 random bits: randomness enough for a delay, without a new crate.
        let wait_ms = (uuid::Uuid::new_v4().as_u128() % u128::from(spread_ms)) as u64;
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
    }
}

/// Sleep until the deadline; forever without one.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn emit(out: &Outbound, frame: ServerFrame) -> Result<(), Closed> {
    out.send(Message::text(frame.to_json()))
        .await
        .map_err(|_| Closed)
}

/// Handle one text frame, sending whatever answers it.
async fn handle(
    state: &AppState,
    user: UserId,
    text: &str,
    out: &Outbound,
    typing: &mut Typing,
    auth: &mut SocketAuth,
) -> Result<(), Closed> {
    let frame = match frames::parse(text) {
        Ok(f) => f,
        Err(bad) => {
            metrics::counter!("gateway_frames_total", "type" => "invalid").increment(1);
            let err = ApiError::bad_frame(bad.message);
            metrics::counter!("gateway_errors_total", "code" => err.code.as_str()).increment(1);
            return emit(out, ServerFrame::error(err, bad.reference)).await;
        }
    };
    metrics::counter!("gateway_frames_total", "type" => frame.type_name()).increment(1);
    let reference = frame.reference();
    let max = state.settings.max_body_bytes;
    let result: Result<Option<ServerFrame>, ApiError> = async {
        match frame {
            ClientFrame::Send {
                conversation_id,
                client_msg_id,
                body,
                kind,
                reply_to,
                thread_root,
                attachments,
            } => {
                let kind = kind.unwrap_or(MessageKind::Text);
                let (body, attachments) = message_content(kind, body, attachments, max)?;
                let cmd = SendMessage {
                    conversation_id,
                    client_msg_id,
                    body,
                    kind,
                    reply_to,
                    thread_root,
                    attachments,
                };
                Ok(Some(ServerFrame::Ack(
                    actions::messages::send(state, user, cmd).await?,
                )))
            }
            ClientFrame::Edit {
                conversation_id,
                message_id,
                body,
                client_msg_id,
            } => {
                let body = MessageBody::parse(body, max)?;
                let ack = actions::messages::edit(
                    state,
                    user,
                    conversation_id,
                    message_id,
                    client_msg_id,
                    body,
                )
                .await?;
                Ok(Some(ServerFrame::Ack(ack)))
            }
            ClientFrame::React {
                conversation_id,
                message_id,
                emoji,
                op,
                client_msg_id,
            } => {
                let cmd = React {
                    conversation_id,
                    message_id,
                    emoji: parse_emoji(&emoji)?,
                    op: match op {
                        ReactionOpFrame::Add => ReactionOp::Add,
                        ReactionOpFrame::Remove => ReactionOp::Remove,
                    },
                    client_msg_id,
                };
                let ack = actions::reactions::react(state, user, cmd).await?;
                Ok(Some(ServerFrame::Ack(ack)))
            }
            ClientFrame::Delete {
                conversation_id,
                message_id,
                client_msg_id,
            } => {
                let ack = actions::messages::delete(
                    state,
                    user,
                    conversation_id,
                    message_id,
                    client_msg_id,
                )
                .await?;
                Ok(Some(ServerFrame::Ack(ack)))
            }
            ClientFrame::Read {
                conversation_id,
                up_to_seq,
            } => {
                actions::receipts::mark(state, user, conversation_id, Pointer::Read, up_to_seq)
                    .await?;
                Ok(None)
            }
            ClientFrame::Delivered {
                conversation_id,
                up_to_seq,
            } => {
                actions::receipts::mark(
                    state,
                    user,
                    conversation_id,
                    Pointer::Delivered,
                    up_to_seq,
                )
                .await?;
                Ok(None)
            }
            ClientFrame::Typing {
                conversation_id,
                state: typing_state,
            } => {
                typing
                    .relay(
                        state,
                        user,
                        conversation_id,
                        typing_state == TypingState::Start,
                    )
                    .await?;
                Ok(None)
            }
            ClientFrame::Sync { positions } => {
                super::sync::check(&positions, state.settings.sync_max_conversations)?;
                let reached = super::sync::replay(state, user, positions, out)
                    .await
                    .map_err(|_| ApiError::internal())?;
                Ok(Some(ServerFrame::Synced {
                    positions: reached.positions,
                    more: reached.more,
                }))
            }
            ClientFrame::Ping => Ok(Some(ServerFrame::Pong)),
            ClientFrame::Auth { token } => {
                let fresh = authenticate(state, token.expose()).await?;
                if fresh.user_id != user {
                    return Err(ApiError::new(
                        ErrorCode::Forbidden,
                        "the token is another user's; open a socket of its own",
                    ));
                }
                state
                    .hub
                    .reauthenticated(user, auth.session, fresh.sign_in, fresh.auth_ms);
                auth.expires = deadline_of(fresh.expires_at);
                Ok(Some(ServerFrame::Authenticated {
                    expires_at: fresh.expires_at.to_rfc3339(),
                }))
            }
        }
    }
    .await;
    match result {
        Ok(Some(reply)) => emit(out, reply).await,
        Ok(None) => Ok(()),
        Err(e) => {
            metrics::counter!("gateway_errors_total", "code" => e.code.as_str()).increment(1);
            emit(out, ServerFrame::error(e, reference)).await
        }
    }
}
