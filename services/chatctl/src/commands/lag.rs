//! `chatctl lag`: per consumer group and partition, the committed offset, the log end
//! and the difference, as a table. The same arithmetic as the projectors'
//! `projector_lag{role,partition}` metric (log end minus committed), read from the
//! brokers instead of from inside the consumer.

use std::time::Duration;

use anyhow::{Context, Result};
use chat_core::config::Settings;
use chat_core::topics::Topics;
use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

#[derive(Args)]
pub struct LagArgs {
    /// Only this group (default: every group the brokers know).
    #[arg(long)]
    group: Option<String>,
}

fn consumer(settings: &Settings, group: &str) -> Result<BaseConsumer> {
    Ok(chat_core::kafka::inspector(
        &settings.kafka,
        "chatctl-lag",
        group,
    )?)
}

pub async fn run(settings: &Settings, args: LagArgs) -> Result<()> {
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || table(&settings, args)).await?
}

fn table(settings: &Settings, args: LagArgs) -> Result<()> {
    let timeout = Duration::from_secs(10);
    let probe = consumer(settings, "chatctl-lag")?;
    let groups: Vec<String> = match args.group {
        Some(g) => vec![g],
        None => {
            let list = probe
                .fetch_group_list(None, timeout)
                .context("listing groups")?;
            let mut names: Vec<String> = list
                .groups()
                .iter()
                .map(|g| g.name().to_string())
                .filter(|n| !n.starts_with("chatctl-"))
                .collect();
            names.sort();
            names
        }
    };
    let topics = Topics::from_settings(&settings.kafka);
    let watched = [
        topics.conversation_events.clone(),
        topics.presence.clone(),
        topics.notifications.clone(),
        topics.dead_letter.clone(),
        topics.audit.clone(),
    ];
    println!(
        "{:<36} {:<32} {:>9} {:>12} {:>12} {:>10}",
        "GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"
    );
    for group in groups {
        let c = consumer(settings, &group)?;
        for topic in &watched {
            let metadata = c.fetch_metadata(Some(topic), timeout)?;
            let Some(t) = metadata.topics().first() else {
                continue;
            };
            let mut tpl = TopicPartitionList::new();
            for p in t.partitions() {
                tpl.add_partition(topic, p.id());
            }
            if tpl.count() == 0 {
                continue;
            }
            let committed = c.committed_offsets(tpl, timeout)?;
            let uses_topic = committed
                .elements()
                .iter()
                .any(|e| matches!(e.offset(), Offset::Offset(_)));
            if !uses_topic {
                continue; // this group does not read this topic
            }
            for e in committed.elements() {
                let (low, end) = c.fetch_watermarks(topic, e.partition(), timeout)?;
                // Never committed here: everything retained is waiting (as the
                // projectors count it).
                let (shown, at) = match e.offset() {
                    Offset::Offset(o) => (o.to_string(), o),
                    _ => ("-".to_string(), low),
                };
                println!(
                    "{:<36} {:<32} {:>9} {:>12} {:>12} {:>10}",
                    group,
                    topic,
                    e.partition(),
                    shown,
                    end,
                    (end - at).max(0)
                );
            }
        }
    }
    Ok(())
}
