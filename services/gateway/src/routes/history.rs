//! Reading history: `GET /api/v1/conversations?cursor=&limit=` and
//! `GET /api/v1/conversations/{id}/messages?before=&after=&limit=`, served from the CQL
//! projection (so they trail the log by the projection lag). Both are paged, and what
//! one page carries about members is bounded (`members` and `receipts`), so a large
//! group costs a page no more than a small one.

use axum::extract::{Path, Query, State};
use chat_core::ids::ConversationId;
use serde::Deserialize;
use serde_json::{json, Value};

use super::json::parse_id;
use super::ApiJson;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use chat_store::history::MemberRow;
use chat_store::{ListCursor, MAX_PAGE};

const DEFAULT_PAGE: usize = 50;

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

pub async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = checked_limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(ListCursor::decode)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("cursor: {e}")))?;
    let page = state
        .history
        .conversations_page(user.0, after, limit)
        .await?;
    Ok(ApiJson(json!({
        "conversations": page.conversations,
        "next": page.next.map(|c| c.encode()),
    })))
}

pub(super) fn checked_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidLimit,
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    Ok(limit)
}

#[derive(Deserialize)]
pub struct PageQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<usize>,
    /// v1.1: `exclude` leaves thread replies out; `include` (the default) keeps them.
    threads: Option<String>,
}

/// A page request whose bounds were checked: what the history store is asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct PageBounds {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: usize,
    pub exclude_threads: bool,
}

impl PageQuery {
    pub fn bounds(&self) -> Result<PageBounds, ApiError> {
        let limit = checked_limit(self.limit)?;
        // Seqs are never negative: nothing is before 0, and -1 is "from the start".
        if self.before.is_some_and(|b| b < 0) || self.after.is_some_and(|a| a < -1) {
            return Err(ApiError::bad_request(
                "before must not be negative, and after not below -1",
            ));
        }
        if self.before.is_some() && self.after.is_some() {
            return Err(ApiError::bad_request("give before or after, not both"));
        }
        let exclude_threads = match self.threads.as_deref() {
            None | Some("include") => false,
            Some("exclude") => true,
            Some(_) => return Err(ApiError::bad_request("threads must be include or exclude")),
        };
        Ok(PageBounds {
            before: self.before,
            after: self.after,
            limit,
            exclude_threads,
        })
    }
}

pub async fn page(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<Value>, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let bounds = q.bounds()?;
    state
        .membership
        .membership(c, user)
        .await?
        .ok_or_else(ApiError::not_member)?;
    let (page, members) = tokio::try_join!(
        state.history.page_filtered(
            c.0,
            bounds.before,
            bounds.after,
            bounds.limit,
            bounds.exclude_threads
        ),
        state.history.members(c.0),
    )?;
    // An addition to PROTOCOL.md: members' read and delivered pointers, so a client
    // that opens a conversation can show read and delivered ticks for what was read
    // before it connected (live `read`/`delivered` events only tell what follows).
    let receipts: Vec<Value> = furthest_read(members, state.settings.receipts_per_page)
        .iter()
        .map(|m| {
            json!({
                "user_id": m.user_id.to_string(),
                "read_seq": m.read_seq,
                "delivered_seq": m.delivered_seq,
            })
        })
        .collect();
    let mut body = serde_json::to_value(page).map_err(|_| ApiError::internal())?;
    if let Some(fields) = body.as_object_mut() {
        fields.insert("receipts".into(), Value::Array(receipts));
    }
    Ok(ApiJson(body))
}

/// The `most` members who have read furthest (then delivered furthest): the ticks a
/// client draws come from them, and a large group's page stays bounded.
fn furthest_read(mut members: Vec<MemberRow>, most: usize) -> Vec<MemberRow> {
    members.sort_by_key(|m| {
        (
            std::cmp::Reverse(m.read_seq),
            std::cmp::Reverse(m.delivered_seq),
            m.user_id,
        )
    });
    members.truncate(most);
    members
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(n: u128, read_seq: i64, delivered_seq: i64) -> MemberRow {
        MemberRow {
            user_id: uuid::Uuid::from_u128(n),
            is_admin: false,
            joined_seq: 0,
            read_seq,
            delivered_seq,
        }
    }

    #[test]
    fn receipts_keep_the_members_who_read_furthest() {
        let members = vec![
            member(1, 5, 9),
            member(2, 40, 40),
            member(3, -1, 3),
            member(4, 5, 12),
        ];
        let kept: Vec<u128> = furthest_read(members.clone(), 3)
            .iter()
            .map(|m| m.user_id.as_u128())
            .collect();
        assert_eq!(kept, [2, 4, 1]);
        assert_eq!(furthest_read(members.clone(), 10).len(), 4);
        assert!(furthest_read(members, 0).is_empty());
    }

    #[test]
    fn limits_outside_the_range_are_refused() {
        assert_eq!(checked_limit(None), Ok(DEFAULT_PAGE));
        assert_eq!(checked_limit(Some(MAX_PAGE)), Ok(MAX_PAGE));
        assert!(checked_limit(Some(0)).is_err());
        assert!(checked_limit(Some(MAX_PAGE + 1)).is_err());
    }
}
