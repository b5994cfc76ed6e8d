//! Appending compliance events to the conversation log: platform-wide ones
//! (`ContentErased`, `ContentExpired`) to every partition, so each partition's consumers
//! (the search shards above all) meet them in order with the content they concern; a
//! conversation's own (`ConversationContentExpired`) to that conversation, keyed by it
//! like every event a gateway appends, so it lands in the conversation's partition.

use anyhow::{Context, Result};
use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::events::{ConversationEvent, Payload};
use chat_core::ids::{ConversationId, UserId};
use chat_core::time::UnixMillis;
use chat_core::topics::Topics;
use uuid::Uuid;

/// An event of the operator's tools: nil actor (the audit topic says who acted).
fn operator_event(conversation: Uuid, payload: Payload) -> ConversationEvent {
    ConversationEvent {
        event_id: Uuid::new_v4(),
        conversation_id: ConversationId(conversation),
        actor_id: UserId(Uuid::nil()),
        occurred_at: UnixMillis::now(),
        gateway_id: "chatctl".into(),
        payload,
        sealed: None,
    }
}

/// Appends events to one conversation each, keyed by it; one producer for a whole run.
pub struct ConversationAppender {
    topic: String,
    codec: EventCodec,
    producer: rdkafka::producer::FutureProducer,
}

impl ConversationAppender {
    pub fn new(settings: &Settings) -> Result<Self> {
        Ok(Self {
            topic: Topics::from_settings(&settings.kafka).conversation_events,
            codec: EventCodec::new(&settings.registry)?,
            producer: chat_core::kafka::producer(&settings.kafka, "chatctl-compliance")?,
        })
    }

    /// Append `payload` to `conversation` and wait for Kafka's acknowledgement.
    pub async fn append(&self, conversation: Uuid, payload: Payload) -> Result<()> {
        let event = operator_event(conversation, payload);
        let bytes = self.codec.encode(&self.topic, &event).await?;
        let key = conversation.to_string();
        let record = rdkafka::producer::FutureRecord::to(&self.topic)
            .key(&key)
            .payload(&bytes);
        self.producer
            .send(record, rdkafka::util::Timeout::Never)
            .await
            .map_err(|(e, _)| e)
            .with_context(|| {
                format!("appending to conversation {conversation} in {}", self.topic)
            })?;
        Ok(())
    }
}

/// Append `payload` once to every partition (one event, the same copy in each); returns
/// how many partitions. The record key is the event's conversation id, the nil UUID, as
/// for every record of the topic (consumers check that key and id agree).
pub async fn append_everywhere(settings: &Settings, payload: Payload) -> Result<usize> {
    let topic = Topics::from_settings(&settings.kafka).conversation_events;
    let event = operator_event(Uuid::nil(), payload);
    let bytes = EventCodec::new(&settings.registry)?
        .encode(&topic, &event)
        .await?;
    let producer = chat_core::kafka::producer(&settings.kafka, "chatctl-compliance")?;
    chat_core::kafka::send_to_every_partition(
        &producer,
        &topic,
        &event.conversation_id.to_string(),
        &bytes,
    )
    .await
    .with_context(|| format!("appending to every partition of {topic}"))
}
