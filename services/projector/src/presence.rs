//! `--role presence`: `chat.presence` (connects, heartbeats and disconnects appended by
//! the gateways) into Redis, and `presence` frames to the users who share a
//! conversation with someone who came online or went offline.
//!
//! A session lives `presence.ttl_secs` past its latest connect or heartbeat. Users whose
//! sessions all lapse without a disconnect (their gateway was killed) are found by
//! [`sweep_forever`], which runs beside the consumer, and announced offline then. The
//! state and its scripts are in `chat_store::presence`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chat_core::events::{Logged, PresenceEvent, Rejection};
use chat_core::ids::{ConversationId, UserId};
use chat_core::live::frames;
use chat_core::time::UnixMillis;
use chat_store::membership::MembershipStore;
use chat_store::{presence, HistoryStore};
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;

use crate::error::ProjectionError;
use crate::runner::Projection;

#[derive(Clone)]
pub struct Presence {
    pub redis: ConnectionManager,
    pub history: Arc<HistoryStore>,
    pub membership: Arc<MembershipStore>,
    pub ttl: Duration,
    /// Conversations larger than this carry no presence frames.
    pub max_group_members: usize,
}

impl Presence {
    fn ttl_ms(&self) -> i64 {
        self.ttl.as_millis() as i64
    }

    /// Everyone who shares a conversation of at most `max_group_members` members with
    /// `user`, but not `user`. Sizes first, so a large group's member set is never read.
    async fn contacts(&self, user: UserId) -> Result<HashSet<UserId>, ProjectionError> {
        let conversations: Vec<ConversationId> = self
            .history
            .conversation_ids_of(user.0)
            .await?
            .into_iter()
            .map(ConversationId)
            .collect();
        let mut contacts = self
            .membership
            .members_of_small(&conversations, self.max_group_members)
            .await?;
        contacts.remove(&user);
        Ok(contacts)
    }

    /// Tell the user's contacts their new status.
    async fn announce(
        &self,
        user: UserId,
        online: bool,
        last_seen: Option<UnixMillis>,
    ) -> Result<(), ProjectionError> {
        let contacts = self.contacts(user).await?;
        if contacts.is_empty() {
            return Ok(());
        }
        let frame = frames::presence_frame(user, online, last_seen);
        chat_store::live::publish_to_users(&self.redis, contacts, &frame).await?;
        metrics::counter!("presence_announcements_total", "status" => if online { "online" } else { "offline" })
            .increment(1);
        Ok(())
    }
}

impl Projection for Presence {
    type Event = PresenceEvent;

    async fn apply(
        &self,
        records: Vec<Logged<PresenceEvent>>,
    ) -> Result<Vec<Rejection>, ProjectionError> {
        let mut redis = self.redis.clone();
        for r in &records {
            let t = presence::apply(&mut redis, &r.event, self.ttl_ms(), UnixMillis::now()).await?;
            if t.changed() {
                self.announce(r.event.user_id, t.is_online, Some(r.event.occurred_at))
                    .await?;
            }
        }
        Ok(vec![])
    }
}

/// Once a second, announce offline the users whose sessions all lapsed.
pub async fn sweep_forever(p: Presence, shutdown: CancellationToken) {
    let mut redis = p.redis.clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let gone = match presence::sweep(&mut redis, UnixMillis::now(), 1000).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "presence sweep failed");
                continue;
            }
        };
        for user in gone {
            let last_seen = presence::status(&mut redis, user, UnixMillis::now())
                .await
                .ok()
                .and_then(|s| s.last_seen);
            tracing::debug!(%user, "sessions lapsed: offline");
            if let Err(e) = p.announce(user, false, last_seen).await {
                tracing::warn!(error = %e, %user, "could not announce a lapse");
            }
        }
    }
}
