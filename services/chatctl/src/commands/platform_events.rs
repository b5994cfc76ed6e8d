//! Appending platform-wide compliance events (`ContentErased`, `ContentExpired`) to
//! every partition of the conversation log, so each partition's consumers (the search
//! shards above all) meet them in order with the content they concern.

use std::time::Duration;

use anyhow::{Context, Result};
use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::events::{ConversationEvent, Payload};
use chat_core::ids::{ConversationId, UserId};
use chat_core::time::UnixMillis;
use chat_core::topics::Topics;
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use uuid::Uuid;

/// Append `payload` once to every partition; returns how many partitions. The record
/// key is the event's conversation id, the nil UUID, as for every record of the topic
/// (consumers check that key and id agree).
pub async fn append_everywhere(settings: &Settings, payload: Payload) -> Result<usize> {
    let key = Uuid::nil().to_string();
    let key = key.as_str();
    let topics = Topics::from_settings(&settings.kafka);
    let topic = topics.conversation_events;
    let inspector =
        chat_core::kafka::inspector(&settings.kafka, "chatctl-compliance", "chatctl-compliance")?;
    let t = topic.clone();
    let partitions = tokio::task::spawn_blocking(move || {
        inspector
            .fetch_metadata(Some(&t), Duration::from_secs(10))
            .map(|m| {
                m.topics()
                    .first()
                    .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
                    .unwrap_or_default()
            })
    })
    .await?
    .context("reading the topic's partitions")?;
    anyhow::ensure!(!partitions.is_empty(), "topic {topic} has no partitions");
    let codec = EventCodec::new(&settings.registry)?;
    let producer = chat_core::kafka::producer(&settings.kafka, "chatctl-compliance")?;
    for p in &partitions {
        let event = ConversationEvent {
            event_id: Uuid::new_v4(),
            conversation_id: ConversationId(Uuid::nil()),
            actor_id: UserId(Uuid::nil()),
            occurred_at: UnixMillis::now(),
            gateway_id: "chatctl".into(),
            payload: payload.clone(),
            sealed: None,
        };
        let bytes = codec.encode(&topic, &event).await?;
        producer
            .send(
                FutureRecord::to(&topic)
                    .partition(*p)
                    .key(key)
                    .payload(&bytes),
                Timeout::After(Duration::from_secs(30)),
            )
            .await
            .map_err(|(e, _)| e)
            .with_context(|| format!("appending to partition {p} of {topic}"))?;
    }
    Ok(partitions.len())
}
