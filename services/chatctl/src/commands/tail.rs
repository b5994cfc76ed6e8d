//! `chatctl tail TOPIC`: records of a topic decoded through the registry, one JSON object
//! per line (`topic`, `partition`, `offset`, `key`, `timestamp_ms`, `value`, or `error`
//! for a record that does not decode). Reads without a consumer group: nothing is
//! committed and no projection notices.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use clap::Args;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

#[derive(Args)]
pub struct TailArgs {
    /// A topic name, or a suffix the configured prefix is put in front of
    /// (`conversation-events` -> `chat.conversation-events`).
    topic: String,
    /// Start at the beginning of every partition instead of the end.
    #[arg(long)]
    from_beginning: bool,
    /// Stop after this many records.
    #[arg(long)]
    limit: Option<usize>,
    /// Stop after this many seconds without a record (default: follow forever).
    #[arg(long)]
    idle_exit_secs: Option<u64>,
}

pub async fn run(settings: &Settings, args: TailArgs) -> Result<()> {
    let topic = if args.topic.starts_with(&settings.kafka.topic_prefix) {
        args.topic.clone()
    } else {
        format!("{}{}", settings.kafka.topic_prefix, args.topic)
    };
    let group = format!("chatctl-tail-{}", uuid::Uuid::new_v4());
    let consumer = chat_core::kafka::inspector(&settings.kafka, "chatctl-tail", &group)
        .context("Kafka consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .context("topic metadata")?;
    let partitions = metadata
        .topics()
        .first()
        .map(|t| t.partitions().len())
        .filter(|n| *n > 0)
        .with_context(|| format!("no topic named {topic}"))?;
    let mut assignment = TopicPartitionList::new();
    let start = if args.from_beginning {
        Offset::Beginning
    } else {
        Offset::End
    };
    for p in 0..partitions as i32 {
        assignment.add_partition_offset(&topic, p, start)?;
    }
    consumer.assign(&assignment)?;
    let codec = EventCodec::new(&settings.registry)?;
    let mut printed = 0usize;
    let mut last_record = Instant::now();
    loop {
        if args.limit.is_some_and(|l| printed >= l) {
            return Ok(());
        }
        if args
            .idle_exit_secs
            .is_some_and(|s| last_record.elapsed() >= Duration::from_secs(s))
        {
            return Ok(());
        }
        let Some(result) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = result.context("consuming")?;
        last_record = Instant::now();
        let mut line = json!({
            "topic": m.topic(),
            "partition": m.partition(),
            "offset": m.offset(),
            "key": m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            "timestamp_ms": m.timestamp().to_millis(),
        });
        match m.payload() {
            None => line["error"] = json!("record has no value"),
            Some(bytes) => match codec.decode_json(bytes).await {
                Ok(v) => line["value"] = v,
                Err(e) => line["error"] = json!(format!("cannot decode: {e}")),
            },
        }
        println!("{line}");
        printed += 1;
    }
}
