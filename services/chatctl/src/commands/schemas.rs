//! `chatctl schemas register|check|list`.

use anyhow::{bail, Result};
use chat_core::config::Settings;
use chat_core::registry::{self, RegistryAdmin, COMPATIBILITY};
use chat_core::topics::Topics;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum Action {
    /// Enforce the compatibility level and register this build's schemas.
    Register,
    /// Check this build's schemas against the registry without registering them.
    Check,
    /// List the registry's subjects.
    List,
}

pub async fn run(settings: &Settings, action: Action) -> Result<()> {
    match action {
        Action::Register => register(settings).await,
        Action::Check => check(settings).await,
        Action::List => {
            for s in RegistryAdmin::new(&settings.registry)?
                .list_subjects()
                .await?
            {
                println!("{s}");
            }
            Ok(())
        }
    }
}

pub async fn register(settings: &Settings) -> Result<()> {
    let admin = RegistryAdmin::new(&settings.registry)?;
    let topics = Topics::from_settings(&settings.kafka);
    for (subject, schema) in registry::subjects(&topics) {
        admin.set_compatibility(&subject, COMPATIBILITY).await?;
        let id = admin.register(&subject, schema).await?;
        println!("schema  {subject:<40} id={id} compatibility={COMPATIBILITY}");
    }
    Ok(())
}

async fn check(settings: &Settings) -> Result<()> {
    let admin = RegistryAdmin::new(&settings.registry)?;
    let topics = Topics::from_settings(&settings.kafka);
    let mut incompatible = 0;
    for (subject, schema) in registry::subjects(&topics) {
        let why = admin.why_incompatible(&subject, schema).await?;
        let level = admin
            .compatibility(&subject)
            .await?
            .unwrap_or_else(|| "?".into());
        match why {
            None => println!("schema  {subject:<40} compatible (compatibility {level})"),
            Some(why) => {
                println!("schema  {subject:<40} INCOMPATIBLE (compatibility {level}): {why}");
                incompatible += 1;
            }
        }
    }
    if incompatible > 0 {
        bail!("{incompatible} schema(s) would be refused by the registry");
    }
    Ok(())
}
