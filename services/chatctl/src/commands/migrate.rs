//! `chatctl migrate`: apply the CQL migrations compiled into this build.

use anyhow::{Context, Result};
use chat_core::config::Settings;
use chat_core::cql;

pub async fn run(settings: &Settings) -> Result<()> {
    let session = cql::connect(&settings.cql)
        .await
        .context("connecting to the CQL store")?;
    let report = chat_store::migrations::migrate(&session, &settings.cql).await?;
    for name in &report.already_applied {
        println!("migration {name:<32} already applied");
    }
    for name in &report.applied {
        println!("migration {name:<32} applied");
    }
    Ok(())
}
