//! Appending platform-wide compliance events (`ContentErased`, `ContentExpired`) to
//! every partition of the conversation log, so each partition's consumers (the search
//! shards above all) meet them in order with the content they concern.

use anyhow::{Context, Result};
use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::events::{ConversationEvent, Payload};
use chat_core::ids::{ConversationId, UserId};
use chat_core::time::UnixMillis;
use chat_core::topics::Topics;
use uuid::Uuid;

/// Append `payload` once to every partition (one event, the same copy in each); returns
/// how many partitions. The record key is the event's conversation id, the nil UUID, as
/// for every record of the topic (consumers check that key and id agree).
pub async fn append_everywhere(settings: &Settings, payload: Payload) -> Result<usize> {
    let topic = Topics::from_settings(&settings.kafka).conversation_events;
    let event = ConversationEvent {
        event_id: Uuid::new_v4(),
        conversation_id: ConversationId(Uuid::nil()),
        actor_id: UserId(Uuid::nil()),
        occurred_at: UnixMillis::now(),
        gateway_id: "chatctl".into(),
        payload,
        sealed: None,
    };
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
