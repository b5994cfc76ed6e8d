//! How far the history projection has read the log: what a retry of a send whose
//! outcome is unknown waits for before it looks the send up in history.
//!
//! A send's outcome is unknown when Kafka did not answer in time (the record may still
//! have been written, e.g. by a leader that died after appending it) or when the
//! gateway that appended it died before recording the ack. Such a send, if it is in the
//! log, sits below the current end of its partition. So once the history role's
//! committed offsets reach the ends the partitions had when the retry arrived, history
//! holds the send if the log does, and "not in history" means "not in the log".
//!
//! The committed offsets are read from the history role's consumer group
//! (`gateway.history_group`) without joining it.

use std::time::{Duration, Instant};

use chat_core::config::KafkaSettings;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

pub struct HistoryProgress {
    consumer: StreamConsumer,
    topic: String,
    patience: Duration,
}

/// What one Kafka call may take.
const CALL: Duration = Duration::from_secs(2);

impl HistoryProgress {
    pub fn new(
        kafka: &KafkaSettings,
        topic: String,
        history_group: &str,
        patience: Duration,
    ) -> Result<Self, KafkaError> {
        Ok(Self {
            consumer: chat_core::kafka::consumer(kafka, "gateway-history-progress", history_group)?,
            topic,
            patience,
        })
    }

    /// Wait until history has read every partition up to where it ends now; false when
    /// it has not within `gateway.history_wait_ms` (or Kafka did not answer).
    pub async fn caught_up(self: &std::sync::Arc<Self>) -> bool {
        let progress = self.clone();
        tokio::task::spawn_blocking(move || progress.wait_blocking())
            .await
            .unwrap_or(false)
    }

    fn wait_blocking(&self) -> bool {
        let deadline = Instant::now() + self.patience;
        let ends = match self.ends() {
            Ok(ends) => ends,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the log's ends");
                return false;
            }
        };
        loop {
            match self.behind(&ends) {
                Ok(false) => return true,
                Ok(true) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read history's committed offsets"),
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Each partition's end (the offset the next record will get).
    fn ends(&self) -> Result<Vec<(i32, i64)>, KafkaError> {
        let metadata = self.consumer.fetch_metadata(Some(&self.topic), CALL)?;
        let mut ends = Vec::new();
        for t in metadata.topics() {
            for p in t.partitions() {
                let (_, high) = self.consumer.fetch_watermarks(&self.topic, p.id(), CALL)?;
                ends.push((p.id(), high));
            }
        }
        Ok(ends)
    }

    /// Whether history's committed offset is below `ends` on any partition.
    fn behind(&self, ends: &[(i32, i64)]) -> Result<bool, KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for (p, _) in ends {
            tpl.add_partition(&self.topic, *p);
        }
        let committed = self.consumer.committed_offsets(tpl, CALL)?;
        Ok(ends.iter().any(|(p, end)| {
            let at = match committed
                .find_partition(&self.topic, *p)
                .map(|e| e.offset())
            {
                Some(Offset::Offset(o)) => o,
                _ => 0, // nothing committed yet: read from the start
            };
            at < *end
        }))
    }
}
