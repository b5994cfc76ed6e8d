//! `chatctl users deactivate|reactivate --username NAME`: stop an account from being
//! used, at once, everywhere. Deactivating marks the account in the CQL store (no
//! sign-in, no refresh) and revokes every token of the user (every gateway refuses them
//! and closes the user's sockets with 4003). Reactivating allows sign-ins again; tokens
//! from before stay refused.
//!
//! Both are audited (`user_deactivated`, `user_reactivated` on `chat.audit`, actor
//! `operator:$USER`), fail closed: the command fails when the record cannot be written.
//! The record is written after the action, since it says what was done; a command that
//! failed on its record has acted all the same, and running it again (it is idempotent)
//! writes the record.

use anyhow::{bail, Context, Result};
use chat_core::audit::{Actor, AuditAction, AuditLog, Outcome, Subject};
use chat_core::config::Settings;
use chat_core::{cql, redis_client};
use chat_store::accounts::AccountStore;
use chat_store::sign_ins::SignInStore;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum Action {
    /// Refuse the account's sign-ins and every token it holds.
    Deactivate(Target),
    /// Allow the account to sign in again.
    Reactivate(Target),
    /// Erase the account's content everywhere (crypto-shredding) and deactivate it.
    Erase(Target),
}

#[derive(Args)]
pub struct Target {
    /// The account's username.
    #[arg(long)]
    username: String,
}

pub async fn run(settings: &Settings, action: Action) -> Result<()> {
    // Built first, so a deployment whose audit trail cannot be set up refuses before
    // anything is changed.
    let audit = AuditLog::from_settings(settings, "chatctl").context("setting up the audit log")?;
    let session = std::sync::Arc::new(cql::connect(&settings.cql).await?);
    let accounts = AccountStore::new(session, &settings.cql.keyspace).await?;
    let redis = redis_client::connect(&settings.redis)
        .await
        .context("connecting to Redis")?;
    let sign_ins = SignInStore::new(redis);
    let (target, deactivate) = match &action {
        Action::Deactivate(t) => (t, true),
        Action::Reactivate(t) => (t, false),
        Action::Erase(t) => {
            let done = super::erase::erase(settings, &t.username).await?;
            let summary = format!(
                "erased {} ({}): {} data keys destroyed, ContentErased appended to {} partitions",
                t.username, done.user, done.keys_destroyed, done.partitions
            );
            let record = audit
                .event(
                    Actor::operator_from_env(),
                    AuditAction::UserErased,
                    Subject::user(chat_core::ids::UserId(done.user)),
                    Outcome::Ok,
                )
                .detail("username", t.username.trim().to_lowercase())
                .detail("keys_destroyed", done.keys_destroyed);
            super::audited::record(&audit, record, &summary).await?;
            println!("{summary}");
            return Ok(());
        }
    };
    let username = target.username.trim().to_lowercase();
    let Some(user) = accounts.user_id_of(&username).await? else {
        bail!("no account is named {username:?}");
    };
    accounts.set_deactivated(user, deactivate).await?;
    let (done, audited) = if deactivate {
        sign_ins.deactivate(user).await?;
        (
            format!("deactivated {username} ({user}): sign-ins refused, tokens revoked"),
            AuditAction::UserDeactivated,
        )
    } else {
        sign_ins.reactivate(user).await?;
        (
            format!("reactivated {username} ({user}): it may sign in again"),
            AuditAction::UserReactivated,
        )
    };
    let mut record = audit
        .event(
            Actor::operator_from_env(),
            audited,
            Subject::user(user),
            Outcome::Ok,
        )
        .detail("username", &username);
    if deactivate {
        record = record.detail("tokens_revoked", "every_sign_in");
    }
    audit.record(record).await.with_context(|| {
        format!(
            "{done}; but its audit record could not be written to {}: run the command \
             again once Kafka and the registry answer, to record it",
            audit.topic()
        )
    })?;
    println!("{done}");
    Ok(())
}
