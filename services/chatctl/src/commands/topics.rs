//! `chatctl topics create|describe`.

use std::time::Duration;

use anyhow::{Context, Result};
use chat_core::config::Settings;
use chat_core::kafka::{self, TopicOutcome};
use chat_core::topics::Topics;
use clap::Subcommand;
use rdkafka::consumer::{BaseConsumer, Consumer};

#[derive(Subcommand)]
pub enum Action {
    /// Create every platform topic that does not exist yet.
    Create,
    /// Show partitions, leaders and replicas of the platform topics.
    Describe,
}

pub async fn run(settings: &Settings, action: Action) -> Result<()> {
    match action {
        Action::Create => create(settings).await,
        Action::Describe => describe(settings),
    }
}

pub async fn create(settings: &Settings) -> Result<()> {
    let admin =
        kafka::admin(&settings.kafka, "chatctl").context("creating the Kafka admin client")?;
    let topics = Topics::from_settings(&settings.kafka);
    let outcomes = kafka::create_topics(&admin, &topics.specs(&settings.kafka))
        .await
        .context("creating topics (is Kafka reachable?)")?;
    for (name, outcome) in outcomes {
        let what = match outcome {
            TopicOutcome::Created => "created",
            TopicOutcome::AlreadyExisted => "exists",
        };
        println!("topic {name:<40} {what}");
    }
    Ok(())
}

fn describe(settings: &Settings) -> Result<()> {
    let consumer: BaseConsumer = chat_core::kafka::client_config(&settings.kafka).create()?;
    let topics = Topics::from_settings(&settings.kafka);
    for spec in topics.specs(&settings.kafka) {
        let md = consumer
            .fetch_metadata(Some(&spec.name), Duration::from_secs(10))
            .with_context(|| format!("fetching metadata of {}", spec.name))?;
        for t in md.topics() {
            if let Some(err) = t.error() {
                println!("{:<40} error: {:?}", t.name(), err);
                continue;
            }
            let replicas: usize = t
                .partitions()
                .first()
                .map(|p| p.replicas().len())
                .unwrap_or(0);
            println!(
                "{:<40} partitions={:<4} replication={}",
                t.name(),
                t.partitions().len(),
                replicas
            );
        }
    }
    Ok(())
}
