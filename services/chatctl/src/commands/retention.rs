//! `chatctl retention apply`: make content older than its retention unreadable. Run it
//! daily (a scheduled task); running it twice destroys nothing more.
//!
//! Two retentions, each destroying its own kind of data key:
//!
//! - **The platform's** (`compliance.retention_days`, or `--days`; skipped when 0):
//!   destroys every user data key whose period ended before now minus the retention,
//!   except the keys of users under legal hold and of the members of conversations under
//!   legal hold; then appends `ContentExpired` to every partition so the search index
//!   drops the same documents. Content is unreadable from the end of its key's period
//!   plus the retention, so at most `key_period_days` later than its own age says.
//! - **Each conversation's own** (`RetentionSet` by a group admin, projected into
//!   `conversations.retention_days`): destroys the conversation's keys whose period
//!   (`conversation_key_period_days`) ended before now minus its days. The conversation's
//!   `ConversationContentExpired` is appended *before* the keys go, so a run that dies in
//!   between finds the same keys live next time and does both again. A conversation under
//!   legal hold, or with a member under legal hold, is skipped: the hold wins.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Result;
use chat_core::config::Settings;
use chat_core::events::Payload;
use chat_core::ids::UserId;
use chat_core::time::UnixMillis;
use chat_store::keyring::Keyring;
use chat_store::legal_holds::{HoldStore, HoldSubject};
use chat_store::HistoryStore;
use clap::Args;
use uuid::Uuid;

use super::platform_events::ConversationAppender;

#[derive(Args)]
pub struct ApplyArgs {
    /// Days the platform keeps content (default: compliance.retention_days; 0 applies
    /// only the conversations' own retention).
    #[arg(long)]
    days: Option<u32>,
}

/// What the platform's retention did.
pub struct PlatformApplied {
    pub before: UnixMillis,
    pub keys_destroyed: usize,
    pub kept_users: usize,
}

/// What a run did.
pub struct Applied {
    /// None when the platform keeps everything.
    pub platform: Option<PlatformApplied>,
    /// Conversations whose own retention made more content unreadable.
    pub conversations_expired: usize,
    pub conversation_keys_destroyed: usize,
    /// Conversations with a retention that a legal hold kept whole.
    pub conversations_held: usize,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Now minus `days`, rounded down to the end of a key period of `period_ms`: a key seals
/// a whole period, so the cut falls on a period's end, and what the search index drops
/// is exactly what history can no longer open.
fn cut(now: UnixMillis, days: u32, period_ms: i64) -> UnixMillis {
    let raw = now.0 - i64::from(days) * DAY_MS;
    UnixMillis(raw.div_euclid(period_ms) * period_ms)
}

/// The stores retention reads and destroys through.
struct Stores {
    holds: HoldStore,
    history: HistoryStore,
    keyring: Keyring,
}

pub async fn apply(settings: &Settings, args: &ApplyArgs) -> Result<Applied> {
    let days = args.days.unwrap_or(settings.compliance.retention_days);
    let session = Arc::new(chat_core::cql::connect(&settings.cql).await?);
    let ks = &settings.cql.keyspace;
    let stores = Stores {
        holds: HoldStore::new(session.clone(), ks).await?,
        history: HistoryStore::new(session.clone(), ks).await?,
        keyring: Keyring::new(session, ks, &settings.compliance).await?,
    };
    let held_users: HashSet<Uuid> = stores
        .holds
        .list(HoldSubject::User)
        .await?
        .into_iter()
        .map(|h| h.subject_id)
        .collect();
    let held_conversations: HashSet<Uuid> = stores
        .holds
        .list(HoldSubject::Conversation)
        .await?
        .into_iter()
        .map(|h| h.subject_id)
        .collect();
    let platform = if days == 0 {
        None
    } else {
        Some(platform(settings, &stores, days, &held_users, &held_conversations).await?)
    };
    let mut applied = Applied {
        platform,
        conversations_expired: 0,
        conversation_keys_destroyed: 0,
        conversations_held: 0,
    };
    conversations(
        settings,
        &stores,
        &held_users,
        &held_conversations,
        &mut applied,
    )
    .await?;
    Ok(applied)
}

async fn platform(
    settings: &Settings,
    stores: &Stores,
    days: u32,
    held_users: &HashSet<Uuid>,
    held_conversations: &HashSet<Uuid>,
) -> Result<PlatformApplied> {
    let period_ms = i64::from(settings.compliance.key_period_days) * DAY_MS;
    let before = cut(UnixMillis::now(), days, period_ms);
    let mut kept = held_users.clone();
    for c in held_conversations {
        kept.extend(
            stores
                .history
                .members(*c)
                .await?
                .into_iter()
                .map(|m| m.user_id),
        );
    }
    let keys_destroyed = stores.keyring.destroy_ended_before(before, &kept).await?;
    let mut kept_users: Vec<UserId> = kept.iter().copied().map(UserId).collect();
    kept_users.sort_by_key(|u| u.0);
    super::platform_events::append_everywhere(
        settings,
        Payload::ContentExpired { before, kept_users },
    )
    .await?;
    Ok(PlatformApplied {
        before,
        keys_destroyed,
        kept_users: kept.len(),
    })
}

async fn conversations(
    settings: &Settings,
    stores: &Stores,
    held_users: &HashSet<Uuid>,
    held_conversations: &HashSet<Uuid>,
    applied: &mut Applied,
) -> Result<()> {
    let with_retention = stores.history.conversations_with_retention().await?;
    if with_retention.is_empty() {
        return Ok(());
    }
    let period_ms = stores.keyring.conversation_period_ms();
    let appender = ConversationAppender::new(settings)?;
    let now = UnixMillis::now();
    for (c, days) in with_retention {
        if held_conversations.contains(&c) || has_held_member(stores, c, held_users).await? {
            applied.conversations_held += 1;
            continue;
        }
        let before = cut(now, days, period_ms);
        let ended = stores
            .keyring
            .conversation_keys_ended_before(c, before)
            .await?;
        if ended.is_empty() {
            continue;
        }
        appender
            .append(c, Payload::ConversationContentExpired { before })
            .await?;
        stores
            .keyring
            .destroy_periods(c, &ended, "conversation retention")
            .await?;
        applied.conversations_expired += 1;
        applied.conversation_keys_destroyed += ended.len();
        tracing::info!(conversation = %c, days, keys = ended.len(), before = %before.to_rfc3339(), "conversation retention applied");
    }
    Ok(())
}

async fn has_held_member(stores: &Stores, c: Uuid, held_users: &HashSet<Uuid>) -> Result<bool> {
    if held_users.is_empty() {
        return Ok(false);
    }
    Ok(stores
        .history
        .members(c)
        .await?
        .iter()
        .any(|m| held_users.contains(&m.user_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_falls_on_a_period_end() {
        let day = DAY_MS;
        let now = UnixMillis(100 * day + 5_000);
        assert_eq!(cut(now, 7, day), UnixMillis(93 * day));
        assert_eq!(cut(now, 7, 30 * day), UnixMillis(90 * day));
        assert_eq!(cut(UnixMillis(100 * day), 0, day), UnixMillis(100 * day));
    }
}
