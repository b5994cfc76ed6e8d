//! The consumer loop every projection role shares.
//!
//! 1. Read a chunk: the first record waits, then whatever else arrives within a few
//!    milliseconds, up to [`MAX_CHUNK`] records.
//! 2. Decode each through the registry. A record that can never decode (not our wire
//!    format, invalid content) goes to the dead-letter topic; a registry that is
//!    unreachable or failing (5xx, timeouts) is waited out, because that record will
//!    decode later. A schema id the registry does not know is asked for a few more times
//!    (about 3 s: a replicated registry's follower may lag a new id) and then parked.
//! 3. Hand the decoded records to the role's [`Projection`]. An error means a
//!    dependency failed: the same chunk is applied again after a backoff (projections
//!    are idempotent). Refused records go to the dead-letter topic.
//! 4. Commit the next offset of every partition in the chunk, synchronously: offsets
//!    move only after the writes they cover are durable.
//!
//! A rebalance between 3 and 4 makes the commit fail; the next owner applies the same
//! records again, which changes nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::codec::EventCodec;
use chat_core::events::{AvroRecord, Keyed, Logged, Rejection};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::dead_letter::{DeadLetter, DeadLetters};
use crate::error::{ProjectionError, RunError};
use crate::role::Role;

pub const MAX_CHUNK: usize = 2000;

/// Extra lookups of a schema id the registry says it does not know, before the record
/// is parked: 100 ms doubling, about 3 s in all.
const UNKNOWN_SCHEMA_ASKS: u32 = 5;

/// A read model fed by the log.
pub trait Projection: Send + Sync {
    /// The record type of the topic it reads.
    type Event: AvroRecord + Keyed + Clone + Send + Sync;

    /// How long a chunk may wait for more records after its first: longer makes bigger
    /// chunks (throughput), shorter makes earlier deliveries (latency).
    const CHUNK_WAIT: Duration = Duration::from_millis(10);

    /// Most records per chunk.
    const MAX_CHUNK: usize = MAX_CHUNK;

    /// How offsets are committed. Sync for projections whose replays cost work; async
    /// where replays are cheap and latency matters.
    const COMMIT: CommitMode = CommitMode::Sync;

    /// Apply decoded records; the ones refused, with reasons. An error: nothing may be
    /// committed, the chunk will be applied again.
    fn apply(
        &self,
        records: Vec<Logged<Self::Event>>,
    ) -> impl std::future::Future<Output = Result<Vec<Rejection>, ProjectionError>> + Send;
}

pub struct Runner<P> {
    pub consumer: Arc<StreamConsumer>,
    pub codec: Arc<EventCodec>,
    pub dead_letters: DeadLetters,
    pub topic: String,
    pub role: Role,
    pub projection: P,
    pub shutdown: CancellationToken,
}

/// Stop once every partition reached these offsets (for rebuilds); None: run forever.
pub type StopAt = Option<HashMap<i32, i64>>;

impl<P: Projection> Runner<P> {
    pub async fn run(&self, stop_at: StopAt) -> Result<(), RunError> {
        let mut done: HashMap<i32, i64> = HashMap::new();
        loop {
            if let Some(targets) = &stop_at {
                if targets
                    .iter()
                    .all(|(p, end)| done.get(p).copied().unwrap_or(-1) + 1 >= *end)
                {
                    return Ok(());
                }
            }
            let chunk = tokio::select! {
                _ = self.shutdown.cancelled() => return Ok(()),
                chunk = self.read_chunk() => chunk,
            };
            if chunk.is_empty() {
                continue;
            }
            let started = Instant::now();
            let n = chunk.len();
            let next_offsets = self.process(chunk).await?;
            tracing::debug!(
                records = n,
                ms = started.elapsed().as_millis() as u64,
                "chunk applied"
            );
            for (p, next) in &next_offsets {
                done.insert(*p, next - 1);
            }
            metrics::counter!("projector_events_total", "role" => self.role.as_str())
                .increment(n as u64);
            metrics::histogram!("projector_chunk_seconds", "role" => self.role.as_str())
                .record(started.elapsed().as_secs_f64());
        }
    }

    async fn read_chunk(&self) -> Vec<OwnedMessage> {
        let first =
            match tokio::time::timeout(Duration::from_millis(500), self.consumer.recv()).await {
                Err(_) => return vec![],
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "consume error");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    return vec![];
                }
                Ok(Ok(m)) => m.detach(),
            };
        let mut chunk = vec![first];
        let deadline = Instant::now() + P::CHUNK_WAIT;
        while chunk.len() < P::MAX_CHUNK {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.consumer.recv()).await {
                Ok(Ok(m)) => chunk.push(m.detach()),
                _ => break,
            }
        }
        chunk
    }

    /// Decode, apply, dead-letter and commit one chunk; the next offset per partition.
    async fn process(&self, chunk: Vec<OwnedMessage>) -> Result<HashMap<i32, i64>, RunError> {
        let mut records = Vec::with_capacity(chunk.len());
        let mut by_position: HashMap<(i32, i64), &OwnedMessage> = HashMap::new();
        let mut next_offsets: HashMap<i32, i64> = HashMap::new();
        for m in &chunk {
            let next = next_offsets.entry(m.partition()).or_insert(0);
            *next = (*next).max(m.offset() + 1);
            by_position.insert((m.partition(), m.offset()), m);
            match self.decode(m).await {
                Some(event) => records.push(Logged {
                    partition: m.partition(),
                    offset: m.offset(),
                    event,
                }),
                None => continue, // dead-lettered
            }
        }
        let mut backoff = Duration::from_millis(100);
        let rejections = loop {
            match self.projection.apply(records.clone()).await {
                Ok(r) => break r,
                Err(e) => {
                    tracing::warn!(error = %e, role = %self.role, "applying failed; retrying the chunk");
                    metrics::counter!("projector_apply_retries_total", "role" => self.role.as_str())
                        .increment(1);
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return Err(RunError::StoppedMidChunk),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        };
        for r in rejections {
            if let Some(m) = by_position.get(&(r.partition, r.offset)) {
                self.park(m, &r.reason).await?;
            }
        }
        let mut tpl = TopicPartitionList::new();
        for (p, next) in &next_offsets {
            tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*next))
                .map_err(RunError::Offsets)?;
        }
        if let Err(e) = self.consumer.commit(&tpl, P::COMMIT) {
            // Lost the partitions in a rebalance: the next owner re-applies, harmlessly.
            tracing::warn!(error = %e, "offset commit failed");
        }
        Ok(next_offsets)
    }

    /// Decode one record; None when it went to the dead-letter topic.
    async fn decode(&self, m: &OwnedMessage) -> Option<P::Event> {
        let Some(bytes) = m.payload() else {
            let _ = self.park(m, "record has no value").await;
            return None;
        };
        let mut backoff = Duration::from_millis(100);
        let mut unknown_schema_asks = 0;
        loop {
            match self.codec.decode::<P::Event>(bytes).await {
                Ok(e) => {
                    let key_matches = m.key().map(|k| k == e.log_key().as_bytes());
                    if key_matches == Some(false) {
                        let _ = self.park(m, "record key disagrees with its event").await;
                        return None;
                    }
                    return Some(e);
                }
                Err(e)
                    if !self.shutdown.is_cancelled()
                        && (e.is_transient()
                            || (e.is_unknown_schema()
                                && unknown_schema_asks < UNKNOWN_SCHEMA_ASKS)) =>
                {
                    if e.is_transient() {
                        tracing::warn!(error = %e, "registry unavailable; waiting");
                    } else {
                        unknown_schema_asks += 1;
                        tracing::warn!(error = %e, "schema id unknown to the registry; asking again");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                Err(e) => {
                    let _ = self.park(m, &format!("cannot decode: {e}")).await;
                    return None;
                }
            }
        }
    }

    async fn park(&self, m: &OwnedMessage, reason: &str) -> Result<(), RunError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            let sent = self
                .dead_letters
                .send(DeadLetter {
                    source_topic: &self.topic,
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key(),
                    value: m.payload(),
                    reason,
                })
                .await;
            match sent {
                Ok(()) => return Ok(()),
                Err(e) if !self.shutdown.is_cancelled() => {
                    tracing::warn!(error = %e, "dead-letter topic unavailable; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(RunError::DeadLetter(e)),
            }
        }
    }
}
