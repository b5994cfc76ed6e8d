//! `chatctl users deactivate|reactivate --username NAME`: stop an account from being
//! used, at once, everywhere. Deactivating marks the account in the CQL store (no
//! sign-in, no refresh) and revokes every token of the user (every gateway refuses them
//! and closes the user's sockets with 4003). Reactivating allows sign-ins again; tokens
//! from before stay refused.

use anyhow::{bail, Context, Result};
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
}

#[derive(Args)]
pub struct Target {
    /// The account's username.
    #[arg(long)]
    username: String,
}

pub async fn run(settings: &Settings, action: Action) -> Result<()> {
    let session = std::sync::Arc::new(cql::connect(&settings.cql).await?);
    let accounts = AccountStore::new(session, &settings.cql.keyspace).await?;
    let redis = redis_client::connect(&settings.redis)
        .await
        .context("connecting to Redis")?;
    let sign_ins = SignInStore::new(redis);
    let (target, deactivate) = match &action {
        Action::Deactivate(t) => (t, true),
        Action::Reactivate(t) => (t, false),
    };
    let username = target.username.trim().to_lowercase();
    let Some(user) = accounts.user_id_of(&username).await? else {
        bail!("no account is named {username:?}");
    };
    accounts.set_deactivated(user, deactivate).await?;
    if deactivate {
        sign_ins.deactivate(user).await?;
        println!("deactivated {username} ({user}): sign-ins refused, tokens revoked");
    } else {
        sign_ins.reactivate(user).await?;
        println!("reactivated {username} ({user}): it may sign in again");
    }
    Ok(())
}
