//! `chatctl export`: e-discovery. Reads the log (not history, which keeps only the last
//! version of a message) and writes every message, edit and deletion of a conversation,
//! or by a user, in a time range, as JSON Lines, opened with the data keys. What was
//! erased or outlived retention is written with `"erased": true` and no content, so the
//! export shows that something was there.
//!
//! It reads every partition from `--from` (found with the broker's time index) to where
//! the log ends when it starts: the cost is a scan of that part of the log.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::events::{ConversationEvent, Payload};
use chat_core::time::UnixMillis;
use chat_core::topics::Topics;
use chat_store::keyring::{Keyring, Opened};
use clap::Args;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use uuid::Uuid;

#[derive(Args)]
#[group(id = "export_subject", required = true, multiple = false, args = ["conversation", "user"])]
pub struct ExportArgs {
    /// Every message of this conversation.
    #[arg(long)]
    pub conversation: Option<Uuid>,
    /// Every message this user sent, in any conversation.
    #[arg(long)]
    pub user: Option<Uuid>,
    /// From this time (RFC 3339), inclusive.
    #[arg(long)]
    pub from: Option<String>,
    /// Up to this time (RFC 3339), exclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Write here instead of standard output.
    #[arg(long)]
    pub out: Option<String>,
}

/// What was written, for the operator and the audit record.
pub struct Exported {
    pub records: u64,
    pub erased: u64,
}

fn time_arg(name: &str, value: &Option<String>) -> Result<Option<UnixMillis>> {
    value
        .as_deref()
        .map(|v| {
            UnixMillis::parse_rfc3339(v)
                .with_context(|| format!("--{name} {v:?} is not an RFC 3339 time"))
        })
        .transpose()
}

pub async fn run(settings: &Settings, args: &ExportArgs) -> Result<Exported> {
    let from = time_arg("from", &args.from)?;
    let to = time_arg("to", &args.to)?;
    let topic = Topics::from_settings(&settings.kafka).conversation_events;
    let consumer = chat_core::kafka::consumer(
        &settings.kafka,
        "chatctl-export",
        &format!("chatctl-export-{}", Uuid::new_v4().simple()),
    )?;
    let md = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
    let count = md.topics().first().map_or(0, |t| t.partitions().len()) as i32;
    if count == 0 {
        bail!("topic {topic} has no partitions");
    }
    // Every partition, also for one conversation: which partition a key lands in is the
    // producer's partitioner's business, and an export is rare enough to read them all.
    let partitions: Vec<i32> = (0..count).collect();
    // Where to start (the first offset at or after --from) and stop (the end now).
    let mut start = TopicPartitionList::new();
    for p in &partitions {
        let offset = match from {
            Some(t) => Offset::Offset(t.0),
            None => Offset::Beginning,
        };
        start.add_partition_offset(&topic, *p, offset)?;
    }
    if from.is_some() {
        start = consumer.offsets_for_times(start, Duration::from_secs(10))?;
    }
    let mut stop_at: HashMap<i32, i64> = HashMap::new();
    for p in &partitions {
        let (_, high) = consumer.fetch_watermarks(&topic, *p, Duration::from_secs(10))?;
        if high > 0 {
            stop_at.insert(*p, high);
        }
    }
    // A partition whose start is at its end (an offset of -1 from offsets_for_times)
    // has nothing to read.
    let mut assigned = TopicPartitionList::new();
    for e in start.elements() {
        if let (Offset::Offset(o), Some(high)) = (e.offset(), stop_at.get(&e.partition())) {
            if o >= *high {
                stop_at.remove(&e.partition());
                continue;
            }
        }
        if matches!(e.offset(), Offset::End) {
            stop_at.remove(&e.partition());
            continue;
        }
        assigned.add_partition_offset(&topic, e.partition(), e.offset())?;
    }
    consumer.assign(&assigned)?;

    let session = Arc::new(chat_core::cql::connect(&settings.cql).await?);
    let keyring = Keyring::new(session, &settings.cql.keyspace, &settings.compliance).await?;
    let codec = EventCodec::new(&settings.registry)?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {path}"))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut written = Exported {
        records: 0,
        erased: 0,
    };
    while !stop_at.is_empty() {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .context("the log stopped answering")??;
        let (partition, offset) = (message.partition(), message.offset());
        if stop_at
            .get(&partition)
            .is_some_and(|high| offset + 1 >= *high)
        {
            stop_at.remove(&partition);
        }
        let Some(bytes) = message.payload() else {
            continue;
        };
        let Ok(mut event) = codec.decode::<ConversationEvent>(bytes).await else {
            continue; // not an event this build reads: the dead-letter topic has it
        };
        if to.is_some_and(|t| event.occurred_at.0 >= t.0)
            || from.is_some_and(|f| event.occurred_at.0 < f.0)
            || args
                .conversation
                .is_some_and(|c| event.conversation_id.0 != c)
            || args.user.is_some_and(|u| event.actor_id.0 != u)
        {
            continue;
        }
        if !matches!(
            event.payload,
            Payload::MessageSent(_)
                | Payload::MessageEdited { .. }
                | Payload::MessageDeleted { .. }
        ) {
            continue;
        }
        let erased = keyring.open_event(&mut event).await? == Opened::Erased;
        let line = line_of(&event, partition, offset, erased);
        written.records += 1;
        written.erased += u64::from(erased);
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(written)
}

/// One JSON line: the event's identity and, unless erased, its content.
fn line_of(e: &ConversationEvent, partition: i32, seq: i64, erased: bool) -> serde_json::Value {
    let mut line = json!({
        "conversation_id": e.conversation_id.to_string(),
        "partition": partition,
        "seq": seq,
        "event_id": e.event_id.to_string(),
        "kind": e.payload.kind(),
        "actor_id": e.actor_id.to_string(),
        "occurred_at": e.occurred_at.to_rfc3339(),
        "erased": erased,
    });
    let fields = match &e.payload {
        Payload::MessageSent(m) => json!({
            "message_id": m.message_id.to_string(),
            "message_kind": m.kind.as_str(),
            "body": (!erased).then_some(&m.body),
            "reply_to": m.reply_to.map(|r| r.to_string()),
            "thread_root": m.thread_root.map(|r| r.to_string()),
            "attachments": if erased { vec![] } else {
                m.attachments.iter().map(|a| json!({
                    "name": a.name, "content_type": a.content_type, "size_bytes": a.size_bytes,
                    "object_key": a.object_key, "url": a.url,
                })).collect::<Vec<_>>()
            },
        }),
        Payload::MessageEdited {
            message_id, body, ..
        } => json!({
            "message_id": message_id.to_string(),
            "body": (!erased).then_some(body),
        }),
        Payload::MessageDeleted { message_id, .. } => json!({
            "message_id": message_id.to_string(),
        }),
        _ => json!({}),
    };
    if let (Some(l), serde_json::Value::Object(f)) = (line.as_object_mut(), fields) {
        l.extend(f);
    }
    line
}
