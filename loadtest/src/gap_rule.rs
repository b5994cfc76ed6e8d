//! The client's ordering rule (services/gateway/PROTOCOL.md, "the client's gap rule"),
//! whole, in one place: a position per conversation; an event at or below it is a
//! duplicate; one whose `prev_seq` is null or at or below it is applied; anything else
//! is held, and the client asks for a `sync`. When `synced` answers, the position moves
//! to what it says and the held events are tried again in seq order.
//!
//! Pure (no sockets, no clocks), so the rule is unit-tested here and the scenarios only
//! act on what it decides. `T` is whatever a scenario keeps with an event (its message
//! key, whether it was replayed).

use std::collections::HashMap;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Verdict {
    Apply,
    Duplicate,
    Gap,
}

/// Where the client is in each conversation.
#[derive(Default)]
pub struct Positions {
    at: HashMap<String, i64>,
}

impl Positions {
    pub fn check(&self, conversation: &str, seq: i64, prev_seq: Option<i64>) -> Verdict {
        match self.at.get(conversation) {
            None => Verdict::Apply,
            Some(&p) if seq <= p => Verdict::Duplicate,
            Some(&p) => match prev_seq {
                Some(prev) if prev > p => Verdict::Gap,
                _ => Verdict::Apply,
            },
        }
    }

    /// Move forward to `seq` (never back).
    pub fn advance(&mut self, conversation: &str, seq: i64) {
        match self.at.get_mut(conversation) {
            Some(p) => *p = (*p).max(seq),
            None => {
                self.at.insert(conversation.to_string(), seq);
            }
        }
    }

    pub fn get(&self, conversation: &str) -> Option<i64> {
        self.at.get(conversation).copied()
    }
}

struct Held<T> {
    seq: i64,
    prev: Option<i64>,
    item: T,
}

/// What an event did.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<T> {
    /// In order: the caller applies it (the position already moved).
    Apply(T),
    Duplicate,
    /// After a gap: held until a `synced`. `sync` is true when the caller should send a
    /// `sync` now (none is in flight).
    Held {
        sync: bool,
    },
}

/// What a `synced` released.
#[derive(Debug, PartialEq, Eq)]
pub struct Released<T> {
    /// Held events now in order, to apply, in seq order.
    pub apply: Vec<T>,
    /// Held events the sync had already covered.
    pub duplicates: usize,
    /// Those events (the caller may want to know which were dropped).
    pub dropped: Vec<T>,
    /// Some held events are still after a gap: the caller sends `sync` again.
    pub sync_again: bool,
}

/// One conversation under the rule, with the events held while a sync is in flight.
pub struct GapRule<T> {
    conversation: String,
    positions: Positions,
    held: Vec<Held<T>>,
    syncing: bool,
}

impl<T> GapRule<T> {
    pub fn new(conversation: impl Into<String>) -> Self {
        Self {
            conversation: conversation.into(),
            positions: Positions::default(),
            held: Vec::new(),
            syncing: false,
        }
    }

    /// The position to `sync` from: one that has seen nothing asks from 0 (seq 0 can
    /// only be the first record of a partition, never an event after a conversation's
    /// creation).
    pub fn position(&self) -> i64 {
        self.positions.get(&self.conversation).unwrap_or(0)
    }

    /// The position, if the client has seen anything.
    pub fn seen(&self) -> Option<i64> {
        self.positions.get(&self.conversation)
    }

    /// The socket is back after a drop: what was held went with the old socket (the
    /// sync replays it), and a sync from the returned position is in flight now.
    pub fn reconnected(&mut self) -> i64 {
        self.held.clear();
        self.syncing = true;
        self.position()
    }

    pub fn event(&mut self, seq: i64, prev_seq: Option<i64>, item: T) -> Received<T> {
        match self.positions.check(&self.conversation, seq, prev_seq) {
            Verdict::Duplicate => Received::Duplicate,
            Verdict::Apply => {
                self.positions.advance(&self.conversation, seq);
                Received::Apply(item)
            }
            Verdict::Gap => {
                self.held.push(Held {
                    seq,
                    prev: prev_seq,
                    item,
                });
                let sync = !self.syncing;
                self.syncing = true;
                Received::Held { sync }
            }
        }
    }

    /// A `synced` reached `position` (None: it said nothing of this conversation).
    pub fn synced(&mut self, position: Option<i64>) -> Released<T> {
        if let Some(p) = position {
            self.positions.advance(&self.conversation, p);
        }
        self.syncing = false;
        let mut held = std::mem::take(&mut self.held);
        held.sort_by_key(|h| h.seq);
        let mut released = Released {
            apply: Vec::new(),
            duplicates: 0,
            dropped: Vec::new(),
            sync_again: false,
        };
        for h in held {
            match self.positions.check(&self.conversation, h.seq, h.prev) {
                Verdict::Apply => {
                    self.positions.advance(&self.conversation, h.seq);
                    released.apply.push(h.item);
                }
                Verdict::Duplicate => {
                    released.duplicates += 1;
                    released.dropped.push(h.item);
                }
                Verdict::Gap => self.held.push(h),
            }
        }
        if !self.held.is_empty() {
            self.syncing = true;
            released.sync_again = true;
        }
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_rule() {
        let mut p = Positions::default();
        assert_eq!(p.check("c", 10, Some(3)), Verdict::Apply);
        p.advance("c", 10);
        assert_eq!(p.check("c", 10, Some(3)), Verdict::Duplicate);
        assert_eq!(p.check("c", 12, Some(10)), Verdict::Apply);
        assert_eq!(p.check("c", 14, Some(12)), Verdict::Gap);
        p.advance("c", 5);
        assert_eq!(p.get("c"), Some(10));
    }

    #[test]
    fn a_gap_is_held_synced_once_and_released_in_order() {
        let mut rule = GapRule::new("c");
        assert_eq!(rule.event(10, None, "a"), Received::Apply("a"));
        assert_eq!(rule.event(10, None, "a"), Received::Duplicate);
        // 11 and 12 were missed; 13 and 14 arrive.
        assert_eq!(rule.event(14, Some(13), "e"), Received::Held { sync: true });
        assert_eq!(
            rule.event(13, Some(12), "d"),
            Received::Held { sync: false }
        );
        assert_eq!(rule.position(), 10);
        // The sync replayed through 12 (and 13, which the held copy duplicates).
        let released = rule.synced(Some(13));
        assert_eq!(released.apply, vec!["e"]);
        assert_eq!(released.duplicates, 1);
        assert_eq!(released.dropped, vec!["d"]);
        assert!(!released.sync_again);
        assert_eq!(rule.position(), 14);
    }

    #[test]
    fn a_sync_that_falls_short_asks_again() {
        let mut rule = GapRule::new("c");
        rule.event(1, None, 1);
        assert_eq!(rule.event(9, Some(8), 9), Received::Held { sync: true });
        let released = rule.synced(Some(5));
        assert!(released.apply.is_empty());
        assert!(released.sync_again);
        assert_eq!(rule.event(10, Some(9), 10), Received::Held { sync: false });
        let released = rule.synced(Some(8));
        assert_eq!(released.apply, vec![9, 10]);
        assert!(!released.sync_again);
    }

    #[test]
    fn a_reconnect_drops_what_was_held_and_syncs_from_the_position() {
        let mut rule = GapRule::new("c");
        rule.event(4, None, 4);
        rule.event(9, Some(8), 9);
        assert_eq!(rule.reconnected(), 4);
        // The sync is in flight: a new gap does not ask for another.
        assert_eq!(rule.event(12, Some(11), 12), Received::Held { sync: false });
        let released = rule.synced(Some(11));
        assert_eq!(released.apply, vec![12]);
    }

    #[test]
    fn a_client_that_saw_nothing_syncs_from_zero() {
        let rule: GapRule<()> = GapRule::new("c");
        assert_eq!(rule.position(), 0);
    }
}
