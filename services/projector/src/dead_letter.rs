//! The dead-letter topic: records a consumer could not decode or apply, kept with the
//! reason so nothing vanishes silently and nothing blocks a partition.
//!
//! Each dead letter is the original key and value, unchanged, with headers
//! `dlq.reason`, `dlq.source.topic`, `dlq.source.partition`, `dlq.source.offset` and
//! `dlq.consumer.group`, keyed like the original so one conversation's dead letters stay
//! together.

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

pub struct DeadLetters {
    /// None: log and count only (a rebuild must not park the same records again).
    producer: Option<FutureProducer>,
    topic: String,
    group: String,
}

/// A record to park.
pub struct DeadLetter<'a> {
    pub source_topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub reason: &'a str,
}

impl DeadLetters {
    pub fn new(producer: FutureProducer, topic: String, group: String) -> Self {
        Self {
            producer: Some(producer),
            topic,
            group,
        }
    }

    /// Dead letters that are only logged and counted.
    pub fn log_only(group: String) -> Self {
        Self {
            producer: None,
            topic: String::new(),
            group,
        }
    }

    /// Park one record; returns once Kafka has it (so the offset may then be committed).
    pub async fn send(&self, d: DeadLetter<'_>) -> Result<(), rdkafka::error::KafkaError> {
        tracing::warn!(
            reason = d.reason,
            partition = d.partition,
            offset = d.offset,
            "dead-lettering a record"
        );
        metrics::counter!("projector_dead_letters_total", "group" => self.group.clone())
            .increment(1);
        let Some(producer) = &self.producer else {
            return Ok(());
        };
        let partition = d.partition.to_string();
        let offset = d.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "dlq.reason",
                value: Some(d.reason),
            })
            .insert(Header {
                key: "dlq.source.topic",
                value: Some(d.source_topic),
            })
            .insert(Header {
                key: "dlq.source.partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "dlq.source.offset",
                value: Some(&offset),
            })
            .insert(Header {
                key: "dlq.consumer.group",
                value: Some(&self.group),
            });
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).headers(headers);
        if let Some(k) = d.key {
            record = record.key(k);
        }
        if let Some(v) = d.value {
            record = record.payload(v);
        }
        producer
            .send(record, Duration::from_secs(30))
            .await
            .map(|_| ())
            .map_err(|(e, _)| e)
    }
}
