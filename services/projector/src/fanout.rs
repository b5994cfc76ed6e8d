//! `--role fanout`: live delivery. Reads the log in order and publishes each event,
//! rendered once as the protocol's `event` frame, once to each gateway holding a socket
//! of a member of its conversation, with the list of those members (see
//! `chat_store::live`), so no gateway reads the topic.
//!
//! `prev_seq` needs the previous published seq of each conversation: the chain kept by
//! `chat_store::live::FanoutChain`, whose publishes are conditional on the chain not
//! having moved. So each event is published once even when the chunk is applied twice
//! (a crash before the offset commit, a rebalance, two fanout groups reading the same
//! topic): the second attempt finds the chain moved and publishes nothing.
//!
//! Stale events are not pushed: after the fanout was down for a while, a burst of old
//! events helps nobody (the clients that were online fetch them with one `sync`). An
//! event older than `stale_after` when read is chained (the next event's `prev_seq`
//! points at it, so clients see the gap) but not published, except the newest of its
//! conversation in the chunk: without it, a conversation that went quiet would never
//! show its clients the gap, and they would miss its last messages until they next
//! synced for another reason.
//!
//! Who receives an event: the conversation's members per the gateways' write-through
//! set in Redis (the CQL projection when Redis knows nothing), adjusted by the
//! membership events of the chunk in order: a removed member still gets their own
//! `member_removed`, an added one gets their `member_added`. Events whose actor is not a
//! member are not published (the gateways never append those; the history role
//! dead-letters them), and they stay out of the `prev_seq` chain.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chat_core::events::{ConversationEvent, Logged, Payload, Rejection};
use chat_core::ids::{ConversationId, UserId};
use chat_core::live::frames;
use chat_core::time::UnixMillis;
use chat_store::live::{ChainSegment, FanoutChain};
use chat_store::membership::MembershipStore;

use crate::error::ProjectionError;
use crate::runner::Projection;

pub struct Fanout {
    pub chain: FanoutChain,
    pub members: std::sync::Arc<MembershipStore>,
    pub stale_after: std::time::Duration,
    /// Opens sealed bodies for the frames (frames cross Redis pub/sub only in flight;
    /// nothing is stored there).
    pub keyring: std::sync::Arc<chat_store::keyring::Keyring>,
}

/// One conversation's share of a chunk.
struct Batch<'a> {
    conversation: ConversationId,
    events: Vec<&'a Logged<ConversationEvent>>,
}

/// One event of the chain: its frame and who gets it (no frame: stale, chained only).
#[derive(Debug, PartialEq)]
pub struct Step {
    pub seq: i64,
    pub frame: Option<Arc<str>>,
    pub recipients: Vec<UserId>,
}

/// What a conversation's events turn into, in order.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn last(&self) -> Option<i64> {
        self.steps.last().map(|s| s.seq)
    }
}

/// Publishes per script call: bounds one call's size whatever the group size and chunk.
const MAX_PUBLISHES_PER_CALL: usize = 5000;

/// Route one conversation's events in order, given the last chained seq and the
/// current members; events that occurred before `fresh_since` are chained but not
/// delivered. Pure, so the routing rules are unit-tested.
pub fn plan<'a>(
    events: impl IntoIterator<Item = &'a Logged<ConversationEvent>>,
    mut last: Option<i64>,
    mut members: HashSet<UserId>,
    fresh_since: UnixMillis,
) -> Plan {
    let mut steps = Vec::new();
    let events: Vec<_> = events.into_iter().collect();
    let newest = events.len().checked_sub(1);
    for (i, record) in events.into_iter().enumerate() {
        let seq = record.offset;
        if last.is_some_and(|l| seq <= l) {
            continue; // published before (a replay)
        }
        let e = &record.event;
        let mut removed = None;
        match &e.payload {
            Payload::ConversationCreated(c) => {
                members.extend(c.members.iter().copied());
                members.insert(e.actor_id);
            }
            Payload::MemberAdded { user_id, .. } if members.contains(&e.actor_id) => {
                members.insert(*user_id);
            }
            Payload::MemberRemoved { user_id } => {
                // `members` may come from the write-through record, which the gateway
                // updates right after appending the removal: the one who left may be
                // gone from it already. The event was authorized with them a member,
                // and they (and the others) must still see it, so they count as members
                // up to and including it.
                members.insert(*user_id);
                removed = Some(*user_id);
            }
            _ => {}
        }
        if !members.contains(&e.actor_id) && !e.payload.is_by_operator() {
            metrics::counter!("fanout_skipped_total", "reason" => "actor_not_member").increment(1);
            continue;
        }
        let step = if e.occurred_at >= fresh_since || Some(i) == newest {
            let mut recipients: Vec<UserId> = members.iter().copied().collect();
            recipients.sort_by_key(|u| u.0);
            Step {
                seq,
                frame: Some(Arc::from(frames::event_frame(e, seq, last))),
                recipients,
            }
        } else {
            metrics::counter!("fanout_skipped_total", "reason" => "stale").increment(1);
            Step {
                seq,
                frame: None,
                recipients: vec![],
            }
        };
        steps.push(step);
        if let Some(u) = removed {
            members.remove(&u);
        }
        last = Some(seq);
    }
    Plan { steps }
}

/// A segment and how many publishes it holds (what bounds a script call).
struct Segment {
    chain: ChainSegment,
    publishes: usize,
}

/// Cut a conversation's plan into segments of at most [`MAX_PUBLISHES_PER_CALL`]
/// publishes (one event's publishes are never split).
fn segments(c: ConversationId, last: Option<i64>, plan: Plan) -> Vec<Segment> {
    let empty = |expected| Segment {
        chain: ChainSegment {
            conversation: c,
            expected,
            new: 0,
            events: Vec::new(),
        },
        publishes: 0,
    };
    let mut out = Vec::new();
    let mut current = empty(last);
    let mut open = false;
    for step in plan.steps {
        if let Some(frame) = step.frame {
            current.publishes += step.recipients.len();
            current.chain.events.push((frame, step.recipients));
        }
        current.chain.new = step.seq;
        open = true;
        if current.publishes >= MAX_PUBLISHES_PER_CALL {
            out.push(std::mem::replace(&mut current, empty(Some(step.seq))));
            open = false;
        }
    }
    if open {
        out.push(current);
    }
    out
}

impl Fanout {
    /// One script call: each segment's publishes and its new chain position.
    async fn publish(&self, call: Vec<Segment>) -> Result<(), ProjectionError> {
        let segments: Vec<ChainSegment> = call.into_iter().map(|s| s.chain).collect();
        let reached = self.chain.publish(&segments).await?;
        metrics::counter!("fanout_recipients_reached_total").increment(reached.max(0) as u64);
        Ok(())
    }
}

impl Projection for Fanout {
    type Event = ConversationEvent;
    /// Deliveries wait for nothing: a chunk is what is already buffered.
    const CHUNK_WAIT: std::time::Duration = std::time::Duration::from_millis(1);
    /// Smaller chunks: every event becomes a frame per member, held until published.
    const MAX_CHUNK: usize = 500;
    /// Replays publish nothing (see the module docs), so commits need not block.
    const COMMIT: rdkafka::consumer::CommitMode = rdkafka::consumer::CommitMode::Async;

    async fn apply(
        &self,
        mut records: Vec<Logged<ConversationEvent>>,
    ) -> Result<Vec<Rejection>, ProjectionError> {
        // Compliance events concern no conversation: nothing to deliver.
        records.retain(|r| !r.event.payload.is_platform_wide());
        for r in records.iter_mut() {
            // Erased content goes out with an empty body (the client's history shows
            // it erased).
            crate::opening::open(&self.keyring, &mut r.event).await?;
        }
        let mut index: HashMap<ConversationId, usize> = HashMap::new();
        let mut batches: Vec<Batch<'_>> = Vec::new();
        for r in &records {
            let c = r.event.conversation_id;
            let i = *index.entry(c).or_insert_with(|| {
                batches.push(Batch {
                    conversation: c,
                    events: Vec::new(),
                });
                batches.len() - 1
            });
            batches[i].events.push(r);
        }
        let conversations: Vec<ConversationId> = batches.iter().map(|b| b.conversation).collect();
        let lasts = self.chain.lasts(&conversations).await?;
        let members = self.members.members_of(&conversations).await?;

        let fresh_since = UnixMillis(UnixMillis::now().0 - self.stale_after.as_millis() as i64);
        let mut all = Vec::new();
        for ((batch, last), members) in batches.iter().zip(lasts).zip(members) {
            let p = plan(batch.events.iter().copied(), last, members, fresh_since);
            all.extend(segments(batch.conversation, last, p));
        }
        // Calls go out one after another, so a conversation's segments apply in order.
        let mut call: Vec<Segment> = Vec::new();
        let mut size = 0;
        for segment in all {
            size += segment.publishes;
            call.push(segment);
            if size >= MAX_PUBLISHES_PER_CALL {
                self.publish(std::mem::take(&mut call)).await?;
                size = 0;
            }
        }
        if !call.is_empty() {
            self.publish(call).await?;
        }
        let now = UnixMillis::now().0;
        for r in &records {
            let delay = (now - r.event.occurred_at.0).max(0) as f64 / 1000.0;
            metrics::histogram!("fanout_event_delay_seconds").record(delay);
        }
        Ok(vec![])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::events::{ConversationCreated, ConversationKind};
    use uuid::Uuid;

    fn u(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn at(offset: i64, actor: UserId, payload: Payload) -> Logged<ConversationEvent> {
        Logged {
            partition: 0,
            offset,
            event: ConversationEvent {
                event_id: Uuid::new_v4(),
                conversation_id: ConversationId(Uuid::from_u128(99)),
                actor_id: actor,
                occurred_at: UnixMillis(0),
                gateway_id: "gw".into(),
                payload,
                sealed: None,
            },
        }
    }

    fn seqs_of(p: &Plan, user: UserId) -> Vec<(i64, Option<i64>)> {
        p.steps
            .iter()
            .filter(|s| s.recipients.contains(&user))
            .filter_map(|s| s.frame.as_ref())
            .map(|f| {
                let v: serde_json::Value = serde_json::from_str(f).unwrap();
                (v["seq"].as_i64().unwrap(), v["prev_seq"].as_i64())
            })
            .collect()
    }

    #[test]
    fn a_conversations_expiry_reaches_every_member_though_no_member_appended_it() {
        let events = vec![
            at(
                7,
                UserId(Uuid::nil()),
                Payload::ConversationContentExpired {
                    before: UnixMillis(1_000),
                },
            ),
            // Any other event with an actor who is not a member is still not published.
            at(8, u(3), Payload::ReadUpTo { seq: 7 }),
        ];
        let p = plan(&events, Some(6), [u(1), u(2)].into(), UnixMillis(0));
        assert_eq!(seqs_of(&p, u(1)), vec![(7, Some(6))]);
        assert_eq!(seqs_of(&p, u(2)), vec![(7, Some(6))]);
    }

    #[test]
    fn someone_who_left_already_gone_from_the_record_still_sees_their_leaving() {
        // The write-through record no longer has u(2): the gateway updated it before
        // the fanout read it. u(2)'s own leaving still reaches u(1) and u(2).
        let events = vec![at(9, u(2), Payload::MemberRemoved { user_id: u(2) })];
        let members: HashSet<UserId> = [u(1)].into();
        let p = plan(&events, Some(5), members, UnixMillis(0));
        assert_eq!(seqs_of(&p, u(1)), vec![(9, Some(5))]);
        assert_eq!(seqs_of(&p, u(2)), vec![(9, Some(5))]);
        let later = vec![at(12, u(1), Payload::ReadUpTo { seq: 9 })];
        let p = plan(&later, Some(9), [u(1)].into(), UnixMillis(0));
        assert!(seqs_of(&p, u(2)).is_empty());
    }

    #[test]
    fn chains_prev_seq_and_follows_membership_in_order() {
        let events = vec![
            at(
                3,
                u(1),
                Payload::ConversationCreated(ConversationCreated {
                    kind: ConversationKind::Group,
                    name: None,
                    members: vec![u(1), u(2)],
                    admins: vec![u(1)],
                }),
            ),
            at(
                7,
                u(1),
                Payload::MemberAdded {
                    user_id: u(3),
                    as_admin: false,
                },
            ),
            at(9, u(1), Payload::MemberRemoved { user_id: u(2) }),
            at(12, u(1), Payload::ReadUpTo { seq: 9 }),
        ];
        let p = plan(&events, None, HashSet::new(), UnixMillis(0));
        assert_eq!(p.last(), Some(12));
        assert_eq!(
            seqs_of(&p, u(1)),
            vec![(3, None), (7, Some(3)), (9, Some(7)), (12, Some(9))]
        );
        // The removed member gets their own removal, then nothing.
        assert_eq!(
            seqs_of(&p, u(2)),
            vec![(3, None), (7, Some(3)), (9, Some(7))]
        );
        // The added member from their addition on.
        assert_eq!(
            seqs_of(&p, u(3)),
            vec![(7, Some(3)), (9, Some(7)), (12, Some(9))]
        );
    }

    #[test]
    fn replays_publish_nothing_and_outsiders_stay_out_of_the_chain() {
        let members: HashSet<UserId> = [u(1), u(2)].into_iter().collect();
        let events = vec![
            at(4, u(1), Payload::ReadUpTo { seq: 1 }),
            at(5, u(1), Payload::ReadUpTo { seq: 2 }),
            at(6, u(66), Payload::ReadUpTo { seq: 3 }),
            at(8, u(2), Payload::DeliveredUpTo { seq: 5 }),
        ];
        let p = plan(&events, Some(4), members, UnixMillis(0));
        assert_eq!(seqs_of(&p, u(2)), vec![(5, Some(4)), (8, Some(5))]);
        assert_eq!(p.last(), Some(8));
        let again = plan(
            &events,
            Some(8),
            [u(1)].into_iter().collect(),
            UnixMillis(0),
        );
        assert_eq!(again, Plan::default());
    }

    #[test]
    fn stale_events_are_chained_and_only_the_newest_is_delivered() {
        let members: HashSet<UserId> = [u(1), u(2)].into_iter().collect();
        let mut old = at(4, u(1), Payload::ReadUpTo { seq: 1 });
        old.event.occurred_at = UnixMillis(100);
        let mut fresh = at(6, u(1), Payload::ReadUpTo { seq: 2 });
        fresh.event.occurred_at = UnixMillis(5_000);
        let p = plan(&[old, fresh], Some(2), members.clone(), UnixMillis(1_000));
        assert_eq!(seqs_of(&p, u(2)), vec![(6, Some(4))]);
        assert_eq!(p.last(), Some(6));

        // All stale: the newest is still pushed, so clients see the gap and sync.
        let mut older = at(7, u(1), Payload::ReadUpTo { seq: 3 });
        older.event.occurred_at = UnixMillis(100);
        let mut newest = at(8, u(1), Payload::ReadUpTo { seq: 4 });
        newest.event.occurred_at = UnixMillis(200);
        let p = plan(&[older, newest], Some(6), members, UnixMillis(1_000));
        assert_eq!(seqs_of(&p, u(2)), vec![(8, Some(7))]);
        assert_eq!(p.last(), Some(8));
    }

    #[test]
    fn big_fanouts_are_cut_into_chained_segments() {
        let members: HashSet<UserId> = (1..=3000).map(u).collect();
        let events: Vec<_> = (10..14)
            .map(|seq| at(seq, u(1), Payload::ReadUpTo { seq: 1 }))
            .collect();
        let p = plan(&events, Some(5), members, UnixMillis(0));
        let segs = segments(ConversationId(Uuid::from_u128(99)), Some(5), p);
        // 3,000 recipients per event: a segment closes once it reaches 5,000 publishes.
        let chain: Vec<(Option<i64>, i64, usize)> = segs
            .iter()
            .map(|s| (s.chain.expected, s.chain.new, s.publishes))
            .collect();
        assert_eq!(chain, vec![(Some(5), 11, 6000), (Some(11), 13, 6000)]);
    }
}
