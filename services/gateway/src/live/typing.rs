//! Typing indicators: relayed over Redis pub/sub to the conversation's other members,
//! never written to Kafka.
//!
//! Each connection keeps the conversations its user is typing in, with a deadline 5 s
//! after the last `start`. When a deadline passes without a refresh, or the socket
//! closes, the gateway sends the `stop` itself (marked `"expired": true`), so a typist
//! who vanished does not stay "typing" on everyone else's screen.
//!
//! Conversations of more than `gateway.typing_max_members` members get no typing at all
//! (as presence skips large groups): one keystroke there would be a publish to every
//! member. The frame is accepted and dropped, so clients need not know the limit.

use std::collections::HashMap;
use std::time::Duration;

use chat_core::ids::{ConversationId, UserId};
use chat_core::live::frames;
use tokio::time::Instant;

use chat_store::StoreError;

use crate::error::ApiError;
use crate::state::AppState;

pub const TYPING_TTL: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Typing {
    deadlines: HashMap<ConversationId, Instant>,
}

impl Typing {
    /// The earliest deadline, if anyone is typing.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.values().min().copied()
    }

    /// A `typing` frame from the client: check membership, relay, track the deadline.
    pub async fn relay(
        &mut self,
        state: &AppState,
        user: UserId,
        c: ConversationId,
        start: bool,
    ) -> Result<(), ApiError> {
        if state.membership.membership(c, user).await?.is_none() {
            return Err(ApiError::not_member());
        }
        if state.membership.member_count(c).await? > state.settings.typing_max_members {
            return Ok(());
        }
        if start {
            self.deadlines.insert(c, Instant::now() + TYPING_TTL);
        } else {
            self.deadlines.remove(&c);
        }
        Ok(publish(state, user, c, start, false).await?)
    }

    /// Send `stop` for every conversation whose deadline passed.
    pub async fn expire(&mut self, state: &AppState, user: UserId) {
        let now = Instant::now();
        let due: Vec<ConversationId> = self
            .deadlines
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(c, _)| *c)
            .collect();
        for c in due {
            self.deadlines.remove(&c);
            if let Err(e) = publish(state, user, c, false, true).await {
                tracing::debug!(error = %e, "could not relay a typing expiry");
            }
        }
    }

    /// The socket closed: whoever it was typing to sees it stop.
    pub async fn stop_all(&mut self, state: &AppState, user: UserId) {
        for (c, _) in std::mem::take(&mut self.deadlines) {
            let _ = publish(state, user, c, false, true).await;
        }
    }
}

async fn publish(
    state: &AppState,
    user: UserId,
    c: ConversationId,
    start: bool,
    expired: bool,
) -> Result<(), StoreError> {
    let members = state.membership.member_ids(c).await?;
    let frame = frames::typing_frame(c, user, start, expired);
    chat_store::live::publish_to_users(
        &state.redis,
        members.into_iter().filter(|m| *m != user),
        &frame,
    )
    .await
    .map(|_reached| ())
}
