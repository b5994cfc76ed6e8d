//! v1.1 search: `GET /api/v1/search?q=&conversation_id=&limit=&cursor=`, full-text
//! matches newest first, only in conversations the caller is a member of now.
//!
//! The gateway names the conversations (the caller's, or the one asked for once its
//! membership is checked) and asks every search node (`crate::search`); the messages
//! themselves come from history, so a result shows the message as it is now, and one
//! deleted or erased since it was indexed is left out.

use axum::extract::{Query, State};
use chat_core::ids::ConversationId;
use chat_core::search::{SearchRequest, SortKey};
use futures::future::try_join_all;
use serde::Deserialize;
use serde_json::{json, Value};

use super::json::parse_id;
use super::ApiJson;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 50;
const MAX_QUERY_CHARS: usize = 256;
/// The most conversations one search covers (the search node's bound).
const MAX_CONVERSATIONS: usize = 10_000;

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    conversation_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// A search whose parameters were checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    pub q: String,
    pub limit: usize,
    pub before: Option<SortKey>,
}

impl SearchQuery {
    fn check(&self) -> Result<Checked, ApiError> {
        let q = self.q.as_deref().unwrap_or("").trim();
        let chars = q.chars().count();
        if !(1..=MAX_QUERY_CHARS).contains(&chars) {
            return Err(ApiError::bad_request(format!(
                "q must be 1 to {MAX_QUERY_CHARS} characters"
            )));
        }
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::new(
                ErrorCode::InvalidLimit,
                format!("limit must be 1 to {MAX_LIMIT}"),
            ));
        }
        let before = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(
                SortKey::from_cursor(c)
                    .ok_or_else(|| ApiError::bad_request("cursor: not one this server gave"))?,
            ),
        };
        Ok(Checked {
            q: q.to_string(),
            limit,
            before,
        })
    }
}

pub async fn search(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let checked = query.check()?;
    let conversations = match query.conversation_id.as_deref() {
        Some(id) => {
            let c: ConversationId = parse_id(id, "conversation id")?;
            state
                .membership
                .membership(c, user)
                .await?
                .ok_or_else(ApiError::not_member)?;
            vec![c.0]
        }
        None => {
            let mut mine = state.history.conversation_ids_of(user.0).await?;
            mine.truncate(MAX_CONVERSATIONS);
            mine
        }
    };
    if conversations.is_empty() {
        return Ok(ApiJson(json!({ "results": [], "next_cursor": null })));
    }
    let nodes = state
        .search
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("search is not configured on this gateway"))?;
    let request = SearchRequest {
        q: checked.q,
        conversation_ids: conversations,
        // One more than a page: whether another page follows.
        limit: checked.limit + 1,
        before: checked.before,
    };
    let answers = nodes.search(&request).await.map_err(|e| {
        tracing::warn!(error = %e, "search failed");
        ApiError::unavailable("search is unavailable")
    })?;
    let (hits, next) = chat_core::search::merge(answers, checked.limit);
    let messages = try_join_all(
        hits.iter()
            .map(|h| state.history.message(h.conversation_id, h.message_id)),
    )
    .await?;
    let results: Vec<Value> = hits
        .into_iter()
        .zip(messages)
        // Deleted since it was indexed, or not yet in history: not shown.
        .filter_map(|(hit, message)| {
            // Deleted, or erased since it was indexed (the index drops it soon after).
            let message = message.filter(|m| m.deleted_at.is_none() && !m.erased)?;
            Some(json!({ "message": message, "highlights": hit.highlights }))
        })
        .collect();
    Ok(ApiJson(json!({
        "results": results,
        "next_cursor": next.map(SortKey::to_cursor),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: Option<&str>, limit: Option<usize>, cursor: Option<&str>) -> SearchQuery {
        SearchQuery {
            q: q.map(String::from),
            conversation_id: None,
            limit,
            cursor: cursor.map(String::from),
        }
    }

    #[test]
    fn the_words_are_trimmed_and_must_be_1_to_256_characters() {
        let ok = query(Some("  lunch  "), None, None).check().expect("valid");
        assert_eq!(ok.q, "lunch");
        assert_eq!(ok.limit, DEFAULT_LIMIT);
        for bad in [None, Some(""), Some("   ")] {
            let e = query(bad, None, None).check().expect_err("empty");
            assert_eq!(e.code, ErrorCode::BadRequest);
        }
        let long = "é".repeat(257);
        assert!(query(Some(&long), None, None).check().is_err());
        assert!(query(Some(&"é".repeat(256)), None, None).check().is_ok());
    }

    #[test]
    fn limits_are_1_to_50_and_cursors_only_ours() {
        for bad in [0, 51] {
            let e = query(Some("x"), Some(bad), None)
                .check()
                .expect_err("limit");
            assert_eq!(e.code, ErrorCode::InvalidLimit);
        }
        let key = SortKey::new(1_790_000_000_000, 3, 42);
        let ok = query(Some("x"), Some(50), Some(&key.to_cursor()))
            .check()
            .expect("valid");
        assert_eq!(ok.before, Some(key));
        let e = query(Some("x"), None, Some("zz"))
            .check()
            .expect_err("cursor");
        assert_eq!(e.code, ErrorCode::BadRequest);
    }
}
