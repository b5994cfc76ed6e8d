//! `chatctl retention apply`: make content older than the retention period unreadable.
//!
//! Destroys every data key whose period ended before now minus `compliance.retention_days`
//! (or `--days`), except the keys of users under legal hold and of the members of
//! conversations under legal hold; then appends `ContentExpired` to every partition so
//! the search index drops the same documents. Run it daily (a scheduled task); running
//! it twice destroys nothing more. Content is unreadable from the end of its key's
//! period plus the retention, so at most `key_period_days` later than its own age says.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{bail, Result};
use chat_core::config::Settings;
use chat_core::events::Payload;
use chat_core::ids::UserId;
use chat_core::time::UnixMillis;
use chat_store::keyring::Keyring;
use chat_store::legal_holds::{HoldStore, HoldSubject};
use chat_store::HistoryStore;
use clap::Args;

#[derive(Args)]
pub struct ApplyArgs {
    /// Days to keep (default: compliance.retention_days).
    #[arg(long)]
    days: Option<u32>,
}

pub struct Applied {
    pub before: UnixMillis,
    pub keys_destroyed: usize,
    pub kept_users: usize,
}

pub async fn apply(settings: &Settings, args: &ApplyArgs) -> Result<Applied> {
    let days = args.days.unwrap_or(settings.compliance.retention_days);
    if days == 0 {
        bail!("retention is off (compliance.retention_days = 0): pass --days to apply one");
    }
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    // Whole key periods only: a key seals a period, so the cut falls on a period's end,
    // and what the search index drops is exactly what history can no longer open.
    let period_ms = i64::from(settings.compliance.key_period_days) * DAY_MS;
    let raw = UnixMillis::now().0 - i64::from(days) * DAY_MS;
    let before = UnixMillis(raw.div_euclid(period_ms) * period_ms);
    let session = Arc::new(chat_core::cql::connect(&settings.cql).await?);
    let ks = &settings.cql.keyspace;
    let holds = HoldStore::new(session.clone(), ks).await?;
    let history = HistoryStore::new(session.clone(), ks).await?;
    let mut kept: HashSet<uuid::Uuid> = holds
        .list(HoldSubject::User)
        .await?
        .into_iter()
        .map(|h| h.subject_id)
        .collect();
    for hold in holds.list(HoldSubject::Conversation).await? {
        kept.extend(
            history
                .members(hold.subject_id)
                .await?
                .into_iter()
                .map(|m| m.user_id),
        );
    }
    let keyring = Keyring::new(session, ks, &settings.compliance).await?;
    let keys_destroyed = keyring.destroy_ended_before(before, &kept).await?;
    let mut kept_users: Vec<UserId> = kept.iter().copied().map(UserId).collect();
    kept_users.sort_by_key(|u| u.0);
    super::platform_events::append_everywhere(
        settings,
        Payload::ContentExpired { before, kept_users },
    )
    .await?;
    Ok(Applied {
        before,
        keys_destroyed,
        kept_users: kept.len(),
    })
}
