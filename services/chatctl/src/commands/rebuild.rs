//! `chatctl rebuild history`: replay the whole log, from the first offset to where it
//! ends when the command starts, into a fresh keyspace, through the same code the live
//! projector runs. The result is the live projection's state as of that point, which
//! is how to check the live one, or to recover it. Accounts (users tables) are not events
//! and are not part of a rebuild.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::topics::Topics;
use chat_projector::dead_letter::DeadLetters;
use chat_projector::history::History;
use chat_projector::role::Role;
use chat_projector::runner::Runner;
use chat_store::HistoryStore;
use clap::Args;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};

#[derive(Args)]
pub struct RebuildArgs {
    /// Keyspace to build into (created and migrated; default <keyspace>_rebuild_<unix time>).
    #[arg(long)]
    keyspace: Option<String>,
}

pub async fn history(settings: &Settings, args: RebuildArgs) -> Result<()> {
    let started = Instant::now();
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let keyspace = args
        .keyspace
        .unwrap_or_else(|| format!("{}_rebuild_{unix}", settings.cql.keyspace));
    let valid = !keyspace.is_empty()
        && keyspace.len() <= 48
        && keyspace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    anyhow::ensure!(valid, "keyspace must be 1..48 characters of [A-Za-z0-9_]");
    anyhow::ensure!(
        keyspace != settings.cql.keyspace,
        "rebuild into a fresh keyspace, not the live one"
    );
    let mut cql = settings.cql.clone();
    cql.keyspace = keyspace.clone();
    let session = chat_core::cql::connect(&cql).await?;
    chat_store::migrations::migrate(&session, &cql)
        .await
        .context("migrating the rebuild keyspace")?;
    let store = HistoryStore::new(Arc::new(session), &keyspace).await?;

    let topics = Topics::from_settings(&settings.kafka);
    let topic = topics.conversation_events.clone();
    let group = format!("chatctl-rebuild-{}", uuid::Uuid::new_v4().simple());
    let consumer = Arc::new(chat_core::kafka::consumer(
        &settings.kafka,
        "chatctl-rebuild",
        &group,
    )?);
    let md = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    let mut stop_at = HashMap::new();
    for p in md.topics().first().context("topic metadata")?.partitions() {
        let (_, high) = consumer.fetch_watermarks(&topic, p.id(), Duration::from_secs(10))?;
        stop_at.insert(p.id(), high);
        tpl.add_partition_offset(&topic, p.id(), Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let total: i64 = stop_at.values().sum();
    println!(
        "rebuilding history into keyspace {keyspace}: {total} records in {} partitions",
        stop_at.len()
    );

    // Stopped by a signal, the runner finishes the chunk in hand and returns.
    let shutdown = chat_core::shutdown::on_signal();
    let runner = Runner {
        consumer,
        codec: Arc::new(EventCodec::new(&settings.registry)?),
        dead_letters: DeadLetters::log_only(group),
        topic,
        role: Role::History,
        projection: History {
            store,
            who_may_add: settings.groups.who_may_add,
        },
        shutdown: shutdown.clone(),
    };
    runner.run(Some(stop_at)).await?;
    if shutdown.is_cancelled() {
        anyhow::bail!("interrupted: keyspace {keyspace} holds a partial rebuild");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "rebuilt {keyspace} in {secs:.1} s ({:.0} records/s)",
        total as f64 / secs.max(0.001)
    );
    Ok(())
}
