//! `chatctl users erase --username NAME`: an erasure request, by crypto-shredding
//! (`chat_store::erasure`: refused under a legal hold; the account deactivated and its
//! tokens revoked; every data key of the user destroyed), then `ContentErased` appended
//! to every partition, so the search index drops the user's documents. Every body, edit,
//! attachment name and notification preview the user wrote is then unreadable wherever
//! it is: the log, history, the notifications topic, Redis, dead letters. Each step is
//! idempotent: a failed erasure is run again.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chat_core::config::Settings;
use chat_core::events::Payload;
use chat_core::ids::UserId;
use chat_core::{cql, redis_client};
use chat_store::accounts::AccountStore;
use chat_store::erasure::Erasure;
use chat_store::keyring::Keyring;
use chat_store::legal_holds::HoldStore;
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
    let Some(user) = accounts.user_id_of(&username).await? else {
        bail!("no account is named {username:?}");
    };
    let redis = redis_client::connect(&settings.redis)
        .await
        .context("connecting to Redis")?;
    let erasure = Erasure {
        accounts: &accounts,
        sign_ins: &SignInStore::new(redis),
        holds: &HoldStore::new(session.clone(), ks).await?,
        history: &HistoryStore::new(session.clone(), ks).await?,
        keyring: &Keyring::new(session, ks, &settings.compliance).await?,
    };
    let keys_destroyed = erasure
        .erase(user)
        .await
        .with_context(|| format!("erasing {username}"))?;
    let partitions = super::platform_events::append_everywhere(
        settings,
        Payload::ContentErased {
            user_id: UserId(user.0),
        },
    )
    .await?;
    Ok(Erased {
        user: user.0,
        keys_destroyed,
        partitions,
    })
}
