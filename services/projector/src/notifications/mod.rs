//! `--role notifications`: a `NotificationRequested` record on `chat.notifications`
//! (keyed by recipient) for each member who should hear about a message but is not
//! online to see it live.
//!
//! - [`rules`] decides who is notified and why (offline, mentions, mutes, DM or group).
//! - `chat_store::notify_window` coalesces bursts: per recipient and conversation, at
//!   most one notification per window, carrying the count. Its state is in Redis.
//! - [`emitter`] sends what is due to Kafka and confirms it in Redis.
//!
//! The consumer's part ([`Notifications::apply`]) only counts messages into Redis, so
//! its offsets commit as soon as the counts are stored; sending happens beside it. A
//! message older than `max_age` when read (after an outage of this role, or a new
//! consumer group reading from the start of the log) is not notified: a push about
//! yesterday's message helps nobody, and a new deployment must not notify the whole
//! history. Those are counted in `notifications_skipped_stale_total`.

pub mod emitter;
pub mod rules;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chat_core::events::{
    ConversationEvent, ConversationKind, Logged, MessageKind, MessageSent, NotificationReason,
    Payload, Reaction, Rejection,
};
use chat_core::ids::{ConversationId, UserId};
use chat_core::time::UnixMillis;
use chat_store::accounts::AccountStore;
use chat_store::membership::MembershipStore;
use chat_store::mutes::MuteStore;
use chat_store::notify_window::{self, Pending};
use chat_store::{presence, StoreError};
use futures::{StreamExt, TryStreamExt};
use redis::aio::ConnectionManager;
use tokio::sync::Notify;

use crate::error::ProjectionError;
use crate::runner::Projection;

/// Usernames are fixed at sign-up, so they are cached; the cache is dropped whole when
/// it grows past this (simpler than an LRU, and refilling costs one read per user).
const USERNAME_CACHE_MAX: usize = 100_000;

pub struct Notifications {
    pub redis: ConnectionManager,
    pub membership: Arc<MembershipStore>,
    pub mutes: MuteStore,
    pub accounts: AccountStore,
    /// The coalescing window.
    pub window: Duration,
    /// Messages older than this when read are not notified.
    pub max_age: Duration,
    /// The namespace of the coalescing state (see [`notify_window::namespace`]).
    pub namespace: String,
    /// Wakes the emitter when something may be due now.
    pub wake: Arc<Notify>,
    /// Conversation id -> is it direct (kinds never change).
    pub direct: Mutex<HashMap<ConversationId, bool>>,
    pub usernames: Mutex<HashMap<UserId, String>>,
    /// Opens bodies (mentions are found in the clear) and seals previews again: the
    /// coalescing state in Redis and the notifications topic hold them sealed.
    pub keyring: Arc<chat_store::keyring::Keyring>,
}

/// What one conversation's messages need.
struct ConversationFacts {
    members: HashSet<UserId>,
    muted: HashSet<UserId>,
    direct: bool,
}

impl Notifications {
    async fn facts(
        &self,
        conversations: &[ConversationId],
    ) -> Result<Vec<ConversationFacts>, StoreError> {
        let members = self.membership.members_of(conversations).await?;
        let extra: Vec<(HashSet<UserId>, bool)> =
            futures::stream::iter(conversations.iter().copied())
                .map(|c| async move {
                    let muted = self
                        .mutes
                        .muted_in(c.0)
                        .await?
                        .into_iter()
                        .map(UserId)
                        .collect();
                    Ok::<_, StoreError>((muted, self.is_direct(c).await?))
                })
                .buffered(16)
                .try_collect()
                .await?;
        Ok(members
            .into_iter()
            .zip(extra)
            .map(|(members, (muted, direct))| ConversationFacts {
                members,
                muted,
                direct,
            })
            .collect())
    }

    async fn is_direct(&self, c: ConversationId) -> Result<bool, StoreError> {
        if let Some(d) = lock(&self.direct).get(&c) {
            return Ok(*d);
        }
        // The gateway's write-through record knows the kind from the moment the
        // conversation is acked; the projection may still be behind, and then this is a
        // group until it catches up (the kind is cached only once known).
        let Some(kind) = self.membership.kind(c).await? else {
            return Ok(false);
        };
        let direct = kind == ConversationKind::Direct;
        lock(&self.direct).insert(c, direct);
        Ok(direct)
    }

    async fn usernames_of(
        &self,
        users: &HashSet<UserId>,
    ) -> Result<HashMap<UserId, String>, StoreError> {
        let missing: Vec<uuid::Uuid> = {
            let cache = lock(&self.usernames);
            users
                .iter()
                .filter(|u| !cache.contains_key(u))
                .map(|u| u.0)
                .collect()
        };
        let found = if missing.is_empty() {
            HashMap::new()
        } else {
            self.accounts.usernames(&missing).await?
        };
        let mut cache = lock(&self.usernames);
        if cache.len() + found.len() > USERNAME_CACHE_MAX {
            cache.clear();
        }
        for (u, name) in found {
            cache.insert(UserId(u), name);
        }
        Ok(users
            .iter()
            .filter_map(|u| Some((*u, cache.get(u)?.clone())))
            .collect())
    }
}

impl Projection for Notifications {
    type Event = ConversationEvent;

    async fn apply(
        &self,
        mut records: Vec<Logged<ConversationEvent>>,
    ) -> Result<Vec<Rejection>, ProjectionError> {
        let now = UnixMillis::now();
        let oldest = now.0 - self.max_age.as_millis() as i64;
        // Open the messages that may be notified; an erased one is not.
        let mut erased: HashSet<uuid::Uuid> = HashSet::new();
        for r in records.iter_mut() {
            if r.event.occurred_at.0 >= oldest
                && matches!(r.event.payload, Payload::MessageSent(_))
                && crate::opening::open(&self.keyring, &mut r.event).await?
                    == chat_store::keyring::Opened::Erased
            {
                erased.insert(r.event.event_id);
            }
        }
        let mut messages: Vec<(&Logged<ConversationEvent>, &MessageSent)> = Vec::new();
        let mut reactions: Vec<(&Logged<ConversationEvent>, &Reaction)> = Vec::new();
        for r in &records {
            let fresh = r.event.occurred_at.0 >= oldest;
            match &r.event.payload {
                Payload::MessageSent(_) if erased.contains(&r.event.event_id) => {}
                Payload::MessageSent(m) if m.kind != MessageKind::System => {
                    if fresh {
                        messages.push((r, m));
                    } else {
                        metrics::counter!("notifications_skipped_stale_total").increment(1);
                    }
                }
                Payload::ReactionAdded(reaction) if fresh => reactions.push((r, reaction)),
                _ => {}
            }
        }
        if messages.is_empty() && reactions.is_empty() {
            return Ok(vec![]);
        }
        let mut conversations: Vec<ConversationId> = Vec::new();
        for c in messages
            .iter()
            .map(|(r, _)| r.event.conversation_id)
            .chain(reactions.iter().map(|(r, _)| r.event.conversation_id))
        {
            if !conversations.contains(&c) {
                conversations.push(c);
            }
        }
        let facts = self.facts(&conversations).await?;
        let by_conversation: HashMap<ConversationId, &ConversationFacts> =
            conversations.iter().copied().zip(facts.iter()).collect();

        let everyone: Vec<UserId> = facts
            .iter()
            .flat_map(|f| f.members.iter().copied())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut redis = self.redis.clone();
        let online = presence::online_among(&mut redis, &everyone, now).await?;
        // Usernames only matter to bodies that mention someone.
        let mentioning: HashSet<UserId> = messages
            .iter()
            .filter(|(_, m)| m.body.contains('@'))
            .flat_map(|(r, _)| {
                by_conversation[&r.event.conversation_id]
                    .members
                    .iter()
                    .copied()
            })
            .collect();
        let usernames = self.usernames_of(&mentioning).await?;

        let mut items: Vec<(Pending, bool)> = Vec::new();
        for (r, m) in &messages {
            let f = by_conversation[&r.event.conversation_id];
            // The preview, sealed under the sender's and the conversation's keys again if
            // the message was.
            let (preview, sealed_preview) = match r.event.sealed {
                None => (rules::preview(&m.body), None),
                Some(_) => {
                    let content = chat_core::sealing::Content {
                        body: rules::preview(&m.body),
                        attachments: Vec::new(),
                    };
                    match self
                        .keyring
                        .seal_content(
                            r.event.actor_id.0,
                            Some(r.event.conversation_id.0),
                            r.event.occurred_at,
                            m.message_id.0,
                            &content,
                        )
                        .await
                    {
                        Ok(sealed) => (String::new(), Some(sealed.to_bytes())),
                        // Erased since it was read: nothing to notify.
                        Err(chat_store::keyring::SealError::Erased(_)) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            let decided = rules::recipients(&rules::Facts {
                sender: r.event.actor_id,
                body: &m.body,
                direct: f.direct,
                members: &f.members,
                online: &online,
                muted: &f.muted,
                usernames: &usernames,
            });
            for (user, reason) in decided {
                items.push((
                    Pending {
                        user_id: user.0,
                        conversation_id: r.event.conversation_id.0,
                        message_id: m.message_id.0,
                        seq: r.offset,
                        sender_id: r.event.actor_id.0,
                        preview: preview.clone(),
                        reason: reason.symbol().to_string(),
                        occurred_at: r.event.occurred_at.0,
                        sealed_preview: sealed_preview.clone(),
                    },
                    reason == NotificationReason::Mention,
                ));
            }
        }
        for (r, reaction) in &reactions {
            let f = by_conversation[&r.event.conversation_id];
            if !f.direct {
                continue;
            }
            // The author of the message reacted to: the gateway's record, else history.
            let Some(owner) = self.membership.message_owner(reaction.message_id).await? else {
                continue;
            };
            let Some(author) = rules::reaction_recipient(
                r.event.actor_id,
                owner.sender,
                f.direct,
                &online,
                &f.muted,
            ) else {
                continue;
            };
            items.push((
                Pending {
                    user_id: author.0,
                    conversation_id: r.event.conversation_id.0,
                    message_id: reaction.message_id.0,
                    seq: r.offset,
                    sender_id: r.event.actor_id.0,
                    preview: rules::preview(&format!("reacted {}", reaction.emoji)),
                    reason: NotificationReason::Reaction.symbol().to_string(),
                    occurred_at: r.event.occurred_at.0,
                    sealed_preview: None,
                },
                false,
            ));
        }
        if items.is_empty() {
            return Ok(vec![]);
        }
        let counted = notify_window::note(
            &mut redis,
            &self.namespace,
            now.0,
            self.window.as_millis() as i64,
            &items,
        )
        .await?;
        metrics::counter!("notifications_counted_total").increment(counted.max(0) as u64);
        if counted > 0 {
            self.wake.notify_one();
        }
        Ok(vec![])
    }
}

/// The caches hold plain maps that every change leaves whole, so a lock poisoned by a
/// panic elsewhere is still safe to use.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
