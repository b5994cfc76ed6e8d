//! What a gateway asks a search node and what it answers (`POST /search` on the search
//! role's port): shared here so the two sides cannot drift apart.
//!
//! Results are ordered newest first by a [`SortKey`], which also makes the cursor: the
//! next page is everything strictly older than the last result.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One search, as a gateway sends it to every search node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SearchRequest {
    /// What the person typed (1..256 characters; checked by the gateway).
    pub q: String,
    /// The only conversations results may come from: the caller's, or the one asked for.
    pub conversation_ids: Vec<Uuid>,
    pub limit: usize,
    /// Only results older than this (the cursor of the previous page).
    pub before: Option<SortKey>,
}

/// A node's answer: its best `limit` hits, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct SearchHits {
    pub hits: Vec<SearchHit>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SearchHit {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// The message's place in its conversation (its `seq`).
    pub seq: i64,
    pub sort_key: SortKey,
    /// The parts of the body around the matches, as plain text.
    pub highlights: Vec<String>,
}

/// The order of results: when the message was sent, then its place in the log, packed
/// into one integer so an index can sort and range over it.
///
/// Bits: 42 of milliseconds since the epoch (until the year 2109), 10 of partition
/// (up to 1,024) and the low 11 of the message's offset. Two messages share a key only
/// if they were sent in the same millisecond to the same partition 2,048 offsets apart,
/// which a partition does not reach in a millisecond.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(transparent)]
pub struct SortKey(pub i64);

impl SortKey {
    pub fn new(sent_at_ms: i64, partition: i32, seq: i64) -> Self {
        let ms = sent_at_ms.clamp(0, (1 << 42) - 1);
        let partition = i64::from(partition) & 0x3FF;
        Self(ms << 21 | partition << 11 | (seq & 0x7FF))
    }

    /// The cursor a client is given: opaque, and only this module reads it.
    pub fn to_cursor(self) -> String {
        format!("{:x}", self.0)
    }

    pub fn from_cursor(cursor: &str) -> Option<Self> {
        let key = i64::from_str_radix(cursor, 16).ok()?;
        (key >= 0).then_some(Self(key))
    }
}

/// The hits of several nodes as one page: newest first, each message once (two nodes
/// configured with one partition both answer for it), at most `limit`, and the cursor of
/// the next page when there may be one.
pub fn merge(nodes: Vec<SearchHits>, limit: usize) -> (Vec<SearchHit>, Option<SortKey>) {
    let mut hits: Vec<SearchHit> = nodes.into_iter().flat_map(|n| n.hits).collect();
    hits.sort_by_key(|h| std::cmp::Reverse(h.sort_key));
    hits.dedup_by_key(|h| (h.sort_key, h.message_id));
    let more = hits.len() > limit;
    hits.truncate(limit);
    let next = if more {
        hits.last().map(|h| h.sort_key)
    } else {
        None
    };
    (hits, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_messages_sort_after_earlier_ones_whatever_their_partition() {
        let earlier = SortKey::new(1_700_000_000_000, 1023, 99_999);
        let later = SortKey::new(1_700_000_000_001, 0, 0);
        assert!(later > earlier);
        let same_ms_next_offset = SortKey::new(1_700_000_000_000, 1023, 100_000);
        assert_ne!(same_ms_next_offset, earlier);
        assert!(
            SortKey::new(i64::MAX, 5, 5).0 > 0,
            "clamped, never negative"
        );
    }

    #[test]
    fn a_cursor_is_read_back_and_garbage_is_refused() {
        let key = SortKey::new(1_790_000_000_000, 7, 12_345);
        assert_eq!(SortKey::from_cursor(&key.to_cursor()), Some(key));
        assert_eq!(SortKey::from_cursor("not hex"), None);
        assert_eq!(SortKey::from_cursor("-5"), None);
        assert_eq!(SortKey::from_cursor(""), None);
    }

    fn hit(key: i64) -> SearchHit {
        SearchHit {
            message_id: Uuid::new_v4(),
            conversation_id: Uuid::nil(),
            seq: key,
            sort_key: SortKey(key),
            highlights: vec![],
        }
    }

    #[test]
    fn pages_merge_newest_first_with_a_cursor_only_when_more_may_follow() {
        let a = SearchHits {
            hits: vec![hit(9), hit(5), hit(1)],
        };
        let b = SearchHits {
            hits: vec![hit(8), hit(7)],
        };
        let (page, next) = merge(vec![a.clone(), b.clone()], 3);
        let keys: Vec<i64> = page.iter().map(|h| h.sort_key.0).collect();
        assert_eq!(keys, [9, 8, 7]);
        assert_eq!(next, Some(SortKey(7)));
        let (page, next) = merge(vec![a.clone(), b], 10);
        assert_eq!(page.len(), 5);
        assert_eq!(next, None);
        let (page, _) = merge(vec![a.clone(), a], 10);
        assert_eq!(page.len(), 3, "a partition answered twice counts once");
    }
}
