//! Kafka clients configured the one way this platform needs them.
//!
//! - The producer is idempotent with `acks=all`: a record acknowledged by Kafka is on
//!   every in-sync replica, and librdkafka's retries never duplicate or reorder it. Only
//!   then does a gateway acknowledge a client.
//! - Consumers never auto-commit: each projection commits after its writes are durable.
//! - Topics are created explicitly, with the settings in [`crate::topics`].

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::StreamConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;

use crate::config::KafkaSettings;
use crate::topics::TopicSpec;

fn base_config(k: &KafkaSettings, client_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers)
        .set("client.id", client_id);
    for (key, value) in &k.extra {
        c.set(key, value.expose());
    }
    c
}

/// The producer every service appends with.
pub fn producer(k: &KafkaSettings, client_id: &str) -> Result<FutureProducer, KafkaError> {
    base_config(k, client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", &k.compression)
        .set("linger.ms", k.linger_ms.to_string())
        // Bounds how long a send can wait for Kafka; past it the client gets
        // `unavailable` and may retry with the same client_msg_id.
        .set("message.timeout.ms", k.delivery_timeout_ms.to_string())
        .create()
}

/// A consumer for tools that read or inspect without joining in (`chatctl tail`,
/// `chatctl lag`): never commits; `group_id` only names whose offsets it looks at.
pub fn inspector(
    k: &KafkaSettings,
    client_id: &str,
    group_id: &str,
) -> Result<rdkafka::consumer::BaseConsumer, KafkaError> {
    base_config(k, client_id)
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
}

/// A consumer in `group_id` that starts from the beginning of the log for a new group
/// and commits only when told to.
pub fn consumer(
    k: &KafkaSettings,
    client_id: &str,
    group_id: &str,
) -> Result<StreamConsumer, KafkaError> {
    base_config(k, client_id)
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // Read only what idempotent/transactional producers have committed.
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "10000")
        .set("enable.partition.eof", "false")
        .create()
}

pub fn admin(
    k: &KafkaSettings,
    client_id: &str,
) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    base_config(k, client_id).create()
}

/// What happened to one topic in [`create_topics`].
#[derive(Debug, PartialEq, Eq)]
pub enum TopicOutcome {
    Created,
    AlreadyExisted,
}

/// Create the topics that do not exist yet; existing ones are left as they are.
pub async fn create_topics(
    admin: &AdminClient<DefaultClientContext>,
    specs: &[TopicSpec],
) -> Result<Vec<(String, TopicOutcome)>, KafkaError> {
    let new_topics: Vec<NewTopic<'_>> = specs
        .iter()
        .map(|s| {
            let mut t = NewTopic::new(
                &s.name,
                s.partitions,
                TopicReplication::Fixed(s.replication_factor),
            );
            for (k, v) in &s.configs {
                t = t.set(k, v);
            }
            t
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin.create_topics(new_topics.iter(), &opts).await?;
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(name) => out.push((name, TopicOutcome::Created)),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                out.push((name, TopicOutcome::AlreadyExisted))
            }
            Err((name, code)) => {
                tracing::error!(topic = %name, error = %code, "topic creation failed");
                return Err(KafkaError::AdminOp(code));
            }
        }
    }
    Ok(out)
}
