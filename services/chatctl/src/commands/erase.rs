//! `chatctl users erase --username NAME`: an erasure request, by crypto-shredding.
//!
//! In order: refuse if a legal hold covers the user (a hold on them, or on a
//! conversation they are a member of); deactivate the account and revoke its tokens (so
//! nothing more is written under their name); destroy every data key of theirs (every
//! body, edit, attachment name and notification preview they wrote becomes unreadable
//! wherever it is: the log, history, the notifications topic, Redis, dead letters,
//! backups); then append `ContentErased` to every partition, so the search index drops
//! their documents. Each step is idempotent: a failed erasure is run again.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chat_core::config::Settings;
use chat_core::events::Payload;
use chat_core::ids::UserId;
use chat_core::{cql, redis_client};
use chat_store::accounts::AccountStore;
use chat_store::keyring::Keyring;
use chat_store::legal_holds::{HoldStore, HoldSubject};
use chat_store::sign_ins::SignInStore;
use chat_store::HistoryStore;
use uuid::Uuid;

/// What an erasure did, for the operator and the audit record.
pub struct Erased {
    pub user: Uuid,
    pub keys_destroyed: usize,
    pub partitions: usize,
}

pub async fn erase(settings: &Settings, username: &str) -> Result<Erased> {
    let session = Arc::new(cql::connect(&settings.cql).await?);
    let ks = &settings.cql.keyspace;
    let accounts = AccountStore::new(session.clone(), ks).await?;
    let username = username.trim().to_lowercase();
    let Some(UserId(user)) = accounts.user_id_of(&username).await? else {
        bail!("no account is named {username:?}");
    };
    let holds = HoldStore::new(session.clone(), ks).await?;
    if holds.is_held(HoldSubject::User, user).await? {
        bail!("{username} ({user}) is under legal hold: release it first (chatctl holds release --user {user})");
    }
    let history = HistoryStore::new(session.clone(), ks).await?;
    let theirs = history.conversation_ids_of(user).await?;
    for c in theirs {
        if holds.is_held(HoldSubject::Conversation, c).await? {
            bail!("{username} ({user}) is a member of conversation {c}, which is under legal hold: release it first");
        }
    }
    accounts.set_deactivated(UserId(user), true).await?;
    let redis = redis_client::connect(&settings.redis)
        .await
        .context("connecting to Redis")?;
    SignInStore::new(redis).deactivate(UserId(user)).await?;
    let keyring = Keyring::new(session, ks, &settings.compliance).await?;
    let keys_destroyed = keyring.destroy_owner(user, "erasure").await?;
    let partitions = super::platform_events::append_everywhere(
        settings,
        Payload::ContentErased {
            user_id: UserId(user),
        },
    )
    .await?;
    Ok(Erased {
        user,
        keys_destroyed,
        partitions,
    })
}
