//! `--role search`: the log into a full-text index of message bodies, queried by the
//! gateways over HTTP (`POST /search` on `search.port`, [`http`]).
//!
//! - **Sharded like the log.** One Tantivy index per partition ([`shard`]), in
//!   `search.dir/partition-N`. A process owns the partitions `search.partitions` names
//!   (all by default) and reads them by assignment, not through a consumer group's
//!   rebalancing: an index lives on one machine's disk, so a partition must not move to
//!   a process that lacks it. Several processes split the partitions between them, and
//!   the gateways ask them all (`gateway.search_urls`).
//! - **Its own position.** Each shard's commit records the next offset; reading resumes
//!   there, so the index is never ahead of or behind what it says it holds. Offsets are
//!   also committed to the `chat-projector-search` group after each commit, which is what
//!   `projector_lag{role="search"}` and stock tools report.
//! - **Edits, deletes and membership.** An edit replaces the body (the old words no
//!   longer match), a delete removes the message, and a query names the conversations it
//!   may match (the caller's now), so membership is applied when asking, not indexing.
//! - **Rebuilt from the log** by stopping the role, deleting `search.dir` and starting it.

pub mod fields;
pub mod http;
pub mod shard;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chat_core::config::{ConfigError, Section};
use chat_core::events::{ConversationEvent, Logged, Payload, Rejection};
use chat_core::search::{SearchHits, SearchRequest};
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;
use tantivy::query::QueryParser;

use crate::error::ProjectionError;
use crate::runner::Projection;
use shard::Shard;

/// Why the search index could not be opened, written or read.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("the search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("creating the search directory {0}: {1}")]
    Directory(PathBuf, #[source] std::io::Error),
    #[error("the search index in {0} records an unreadable position: {1}")]
    Payload(PathBuf, String),
    #[error("a search task failed: {0}")]
    Task(String),
}

/// `[search]`: the search role's own settings (`CHAT__SEARCH__*`).
#[derive(Clone, Debug, Deserialize)]
pub struct SearchSettings {
    /// Where the shards live; each partition in `partition-N` below it.
    pub dir: String,
    /// Where `POST /search` is served. Only gateways may reach it: a request names the
    /// conversations it searches, and the gateway is what checks the caller is in them.
    pub host: String,
    pub port: u16,
    /// The partitions this process indexes: empty for all, or a list such as `0-7` or
    /// `0,2,4-6`.
    pub partitions: String,
}

impl Section for SearchSettings {
    const NAME: &'static str = "search";

    fn defaults() -> Vec<(&'static str, config::Value)> {
        vec![
            ("dir", "search-index".into()),
            ("host", "127.0.0.1".into()),
            ("port", 9110.into()),
            ("partitions", "".into()),
        ]
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.dir.trim().is_empty() {
            return Err(ConfigError::Invalid("search.dir is empty".into()));
        }
        // Syntax only here; against the topic's real count at start-up. (Results are
        // ordered with at most 10 bits of partition: `chat_core::search::SortKey`.)
        parse_partitions(&self.partitions, 1024)
            .map(|_| ())
            .map_err(|e| ConfigError::Invalid(format!("search.partitions: {e}")))
    }
}

/// The partitions a `search.partitions` list names, of a topic with `count`.
pub fn parse_partitions(spec: &str, count: i32) -> Result<Vec<i32>, String> {
    if spec.trim().is_empty() {
        return Ok((0..count).collect());
    }
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim) {
        let number = |s: &str| {
            s.trim()
                .parse::<i32>()
                .map_err(|_| format!("{s:?} is not a partition number"))
        };
        let (low, high) = match part.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(part)?, number(part)?),
        };
        if low < 0 || high < low || high >= count {
            return Err(format!(
                "{part:?} is not a range of the topic's {count} partitions"
            ));
        }
        out.extend(low..=high);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The shards this process owns, by partition.
pub struct Shards {
    by_partition: BTreeMap<i32, Arc<Shard>>,
}

impl Shards {
    pub fn open(dir: &str, partitions: &[i32]) -> Result<Self, SearchError> {
        let mut by_partition = BTreeMap::new();
        for &p in partitions {
            let path = PathBuf::from(dir).join(format!("partition-{p}"));
            by_partition.insert(p, Arc::new(Shard::open(&path, p)?));
        }
        Ok(Self { by_partition })
    }

    /// Where the consumer starts: each shard's next offset.
    pub fn assignment(
        &self,
        topic: &str,
    ) -> Result<TopicPartitionList, rdkafka::error::KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for (p, shard) in &self.by_partition {
            tpl.add_partition_offset(topic, *p, Offset::Offset(shard.next_offset()))?;
        }
        Ok(tpl)
    }

    /// Run one search on every shard (blocking: call from a blocking thread).
    pub fn search(&self, request: &SearchRequest) -> Result<SearchHits, SearchError> {
        let Some(first) = self.by_partition.values().next() else {
            return Ok(SearchHits::default());
        };
        let f = first.fields();
        let mut parser = QueryParser::for_index(first.index(), vec![f.body, f.filenames]);
        // Every word typed must match, as people expect of a search box; quotes make a
        // phrase and `-word` excludes. Syntax errors are forgiven rather than refused.
        parser.set_conjunction_by_default();
        let (query, _) = parser.parse_query_lenient(&request.q);
        let mut hits = Vec::new();
        for shard in self.by_partition.values() {
            hits.push(SearchHits {
                hits: shard.search(
                    query.as_ref(),
                    &request.conversation_ids,
                    request.before,
                    request.limit,
                )?,
            });
        }
        let (hits, _) = chat_core::search::merge(hits, request.limit);
        Ok(SearchHits { hits })
    }

    /// Documents and bytes, over all shards.
    pub fn size(&self) -> (u64, u64) {
        self.by_partition
            .values()
            .map(|s| s.size())
            .fold((0, 0), |(d, b), (d2, b2)| (d + d2, b + b2))
    }
}

/// The projection: each chunk's records, by partition, into their shards.
pub struct Search {
    pub shards: Arc<Shards>,
    /// Opens bodies to index them. Erased content opens to nothing and is not indexed.
    pub keyring: Arc<chat_store::keyring::Keyring>,
}

impl Projection for Search {
    type Event = ConversationEvent;

    /// Each chunk is one commit per shard it touches, so chunks are large and may wait
    /// up to a second: a message is searchable about a second after it is logged.
    const CHUNK_WAIT: std::time::Duration = std::time::Duration::from_millis(1000);
    const MAX_CHUNK: usize = 20_000;

    async fn apply(
        &self,
        mut records: Vec<Logged<ConversationEvent>>,
    ) -> Result<Vec<Rejection>, ProjectionError> {
        // In log order, so a `ContentErased` drops the user's cached keys before any
        // later record of theirs is opened.
        for r in records.iter_mut() {
            match &r.event.payload {
                Payload::ContentErased { user_id } => self.keyring.forget_owner(user_id.0),
                Payload::ContentExpired { .. } => self.keyring.forget_all(),
                Payload::ConversationContentExpired { .. } => {
                    self.keyring.forget_owner(r.event.conversation_id.0)
                }
                _ => {
                    crate::opening::open(&self.keyring, &mut r.event).await?;
                }
            }
        }
        let shards = self.shards.clone();
        tokio::task::spawn_blocking(move || {
            let mut by_partition: BTreeMap<i32, Vec<Logged<ConversationEvent>>> = BTreeMap::new();
            for r in records {
                by_partition.entry(r.partition).or_default().push(r);
            }
            for (p, records) in by_partition {
                match shards.by_partition.get(&p) {
                    Some(shard) => shard.apply(&records)?,
                    None => tracing::warn!(
                        partition = p,
                        "records of a partition this process does not index"
                    ),
                }
            }
            let (documents, bytes) = shards.size();
            metrics::gauge!("search_documents").set(documents as f64);
            metrics::gauge!("search_index_bytes").set(bytes as f64);
            Ok::<_, SearchError>(())
        })
        .await
        .map_err(|e| SearchError::Task(e.to_string()))??;
        // Nothing is refused: what cannot be indexed (a system message, an edit of an
        // unknown message) is simply not searchable.
        Ok(vec![])
    }
}

#[cfg(test)]
mod tests {
    use super::parse_partitions;

    #[test]
    fn partitions_are_all_by_default_or_the_listed_ranges() {
        assert_eq!(parse_partitions("", 4), Ok(vec![0, 1, 2, 3]));
        assert_eq!(parse_partitions("0-2, 5", 8), Ok(vec![0, 1, 2, 5]));
        assert_eq!(parse_partitions("3,1-3", 8), Ok(vec![1, 2, 3]));
        assert!(parse_partitions("8", 8).is_err());
        assert!(parse_partitions("3-1", 8).is_err());
        assert!(parse_partitions("x", 8).is_err());
        assert!(parse_partitions("-1", 8).is_err());
    }
}
