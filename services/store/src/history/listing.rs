//! A user's conversation list, one page at a time (`GET /api/v1/conversations`).
//!
//! The list is ordered by activity: `last_seq` descending (conversations without a
//! message last), then by conversation id, so the order is total and a page can start
//! strictly after the entry that ended the previous one. [`ListCursor`] is that entry's
//! place; clients get it as an opaque string.
//!
//! A page reads each of the user's conversation rows (one small row each, to order them)
//! but members only for the conversations on the page, and of those at most
//! [`MEMBERS_LISTED`] plus a count: a 1,000-member group costs a page the same as a
//! direct conversation.

use std::cmp::Reverse;
use std::fmt;

use chat_core::time::UnixMillis;
use futures::{stream, StreamExt, TryStreamExt};
use uuid::Uuid;

use super::model::{ConversationSummary, LastMessage};
use super::{ConversationRow, HistoryStore};
use crate::cql::first_row;
use crate::error::StoreError;

/// Most members an entry lists; `member_count` says how many there are.
pub const MEMBERS_LISTED: usize = 20;

/// Conversation rows read at once while ordering the list.
const READS_AT_ONCE: usize = 16;

/// Where a page of the list ends: the last entry's activity and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListCursor {
    /// The entry's `last_seq`, or -1 for a conversation without messages.
    pub last_seq: i64,
    pub conversation: Uuid,
}

/// A cursor that does not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor this server issued")]
pub struct BadCursor;

impl ListCursor {
    /// The order of the list: most recent activity first, then by id.
    fn sort_key(&self) -> (Reverse<i64>, Uuid) {
        (Reverse(self.last_seq), self.conversation)
    }

    /// `<last_seq>.<conversation id>`. Clients treat it as opaque.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.last_seq, self.conversation)
    }

    pub fn decode(text: &str) -> Result<Self, BadCursor> {
        let (seq, id) = text.split_once('.').ok_or(BadCursor)?;
        let last_seq: i64 = seq.parse().map_err(|_| BadCursor)?;
        if last_seq < -1 {
            return Err(BadCursor);
        }
        let conversation = Uuid::parse_str(id).map_err(|_| BadCursor)?;
        Ok(Self {
            last_seq,
            conversation,
        })
    }
}

impl fmt::Display for ListCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// One page of the list, and where the next starts (None: this was the last).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationPage {
    pub conversations: Vec<ConversationSummary>,
    pub next: Option<ListCursor>,
}

/// Order `entries`, keep those after `after`, take `limit`: the page's entries and the
/// cursor of the next page when more follow.
fn select<T>(
    mut entries: Vec<(ListCursor, T)>,
    after: Option<ListCursor>,
    limit: usize,
) -> (Vec<(ListCursor, T)>, Option<ListCursor>) {
    entries.sort_by_key(|(k, _)| k.sort_key());
    let mut page: Vec<(ListCursor, T)> = entries
        .into_iter()
        .filter(|(k, _)| after.is_none_or(|a| k.sort_key() > a.sort_key()))
        .take(limit.saturating_add(1))
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let next = if more {
        page.last().map(|(k, _)| *k)
    } else {
        None
    };
    (page, next)
}

/// What a page entry is built from before its members are read.
struct Entry {
    row: ConversationRow,
    read_seq: Option<i64>,
    read_count: Option<i64>,
}

impl HistoryStore {
    /// At most `limit` of the user's conversations after `after`, most recently active
    /// first.
    pub async fn conversations_page(
        &self,
        user: Uuid,
        after: Option<ListCursor>,
        limit: usize,
    ) -> Result<ConversationPage, StoreError> {
        let rows = self.user_conversation_rows(user).await?;
        let entries: Vec<(ListCursor, Entry)> = stream::iter(rows)
            .map(|(c, read_seq, read_count)| async move {
                let row = self.conversation(c).await?;
                Ok::<_, StoreError>(row.map(|row| {
                    let cursor = ListCursor {
                        last_seq: row.last_seq.unwrap_or(-1).max(-1),
                        conversation: c,
                    };
                    (
                        cursor,
                        Entry {
                            row,
                            read_seq,
                            read_count,
                        },
                    )
                }))
            })
            .buffer_unordered(READS_AT_ONCE)
            .try_filter_map(|e| async move { Ok(e) })
            .try_collect()
            .await?;
        let (page, next) = select(entries, after, limit);
        // `buffered` keeps the page's order.
        let conversations = stream::iter(page)
            .map(|(k, e)| async move {
                let (members, count) = futures::try_join!(
                    self.members_listed(k.conversation, MEMBERS_LISTED),
                    self.member_count(k.conversation),
                )?;
                let mut summary = summary(k.conversation, e, members, count);
                if let Some(last) = summary.last_message.as_mut() {
                    crate::keyring::open_last_message(self.keyring.as_deref(), last).await?;
                }
                Ok::<_, StoreError>(summary)
            })
            .buffered(READS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(ConversationPage {
            conversations,
            next,
        })
    }

    /// The first `most` members of a conversation (by id).
    pub async fn members_listed(&self, c: Uuid, most: usize) -> Result<Vec<Uuid>, StoreError> {
        let most = i32::try_from(most).unwrap_or(i32::MAX);
        let result = self
            .session
            .execute_unpaged(&self.st.members_listed, (c, most))
            .await
            .map_err(StoreError::cql)?;
        let rows = result.into_rows_result().map_err(StoreError::cql)?;
        let mut out = Vec::new();
        for r in rows.rows::<(Uuid,)>().map_err(StoreError::cql)? {
            out.push(r.map_err(StoreError::cql)?.0);
        }
        Ok(out)
    }

    /// How many members a conversation has (counted by the store, not sent over).
    pub async fn member_count(&self, c: Uuid) -> Result<i64, StoreError> {
        let row = first_row::<(i64,)>(&self.session, &self.st.member_count, (c,)).await?;
        Ok(row.map_or(0, |(n,)| n))
    }
}

fn summary(c: Uuid, e: Entry, members: Vec<Uuid>, member_count: i64) -> ConversationSummary {
    let conv = e.row;
    ConversationSummary {
        conversation_id: c.to_string(),
        kind: conv.kind.clone().unwrap_or_else(|| "group".into()),
        name: conv.name.clone(),
        members: members.iter().map(Uuid::to_string).collect(),
        member_count,
        last_message: conv.last_message_id.map(|id| LastMessage {
            message_id: id.to_string(),
            sender_id: conv
                .last_sender_id
                .map(|s| s.to_string())
                .unwrap_or_default(),
            body: conv.last_body.clone(),
            created_at: conv.last_at.map(|t| UnixMillis(t).to_rfc3339()),
            erased: false,
            sealed: conv.last_sealed.clone(),
        }),
        last_seq: conv.last_seq,
        read_seq: e.read_seq.filter(|s| *s >= 0),
        unread: (conv.message_count - e.read_count.unwrap_or(0)).max(0),
        retention_days: conv.retention_days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(last_seq: i64, n: u128) -> ListCursor {
        ListCursor {
            last_seq,
            conversation: Uuid::from_u128(n),
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_what_was_not_issued() {
        for c in [cursor(4182, 7), cursor(-1, u128::MAX), cursor(0, 1)] {
            assert_eq!(ListCursor::decode(&c.encode()), Ok(c));
        }
        for bad in [
            "",
            "12",
            "x.00000000-0000-0000-0000-000000000001",
            "-2.00000000-0000-0000-0000-000000000001",
            "5.not-a-uuid",
            "99999999999999999999.00000000-0000-0000-0000-000000000001",
        ] {
            assert_eq!(ListCursor::decode(bad), Err(BadCursor), "{bad}");
        }
    }

    #[test]
    fn pages_follow_activity_then_id_and_end_with_no_cursor() {
        let entries = vec![
            (cursor(5, 1), 'a'),
            (cursor(-1, 2), 'b'),
            (cursor(9, 3), 'c'),
            (cursor(5, 0), 'd'),
            (cursor(-1, 1), 'e'),
        ];
        let (first, next) = select(entries.clone(), None, 2);
        assert_eq!(first.iter().map(|(_, v)| *v).collect::<String>(), "cd");
        assert_eq!(next, Some(cursor(5, 0)));
        let (second, next) = select(entries.clone(), next, 2);
        assert_eq!(second.iter().map(|(_, v)| *v).collect::<String>(), "ae");
        let (third, next) = select(entries.clone(), next, 2);
        assert_eq!(third.iter().map(|(_, v)| *v).collect::<String>(), "b");
        assert_eq!(next, None);
        // A page that ends exactly at the end says so: no cursor to an empty page.
        let (all, next) = select(entries, None, 5);
        assert_eq!(all.len(), 5);
        assert_eq!(next, None);
    }

    #[test]
    fn a_cursor_past_everything_gives_an_empty_last_page() {
        let (page, next) = select(vec![(cursor(3, 1), ())], Some(cursor(-1, u128::MAX)), 10);
        assert!(page.is_empty());
        assert_eq!(next, None);
    }
}
