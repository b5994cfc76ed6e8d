//! What the history API returns (PROTOCOL.md's `message` and conversation list).

use serde::Serialize;

/// A message as clients see it; a deleted one keeps its place with `body: null`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    pub message_id: String,
    pub conversation_id: String,
    pub seq: i64,
    pub sender_id: String,
    pub kind: String,
    pub body: Option<String>,
    pub reply_to: Option<String>,
    pub created_at: Option<String>,
    pub edited_at: Option<String>,
    pub deleted_at: Option<String>,
}

/// One page of history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Page {
    pub messages: Vec<Message>,
    /// Pass as `before` for the next (older) page; null when there is none.
    pub next_before: Option<i64>,
}

/// One entry of a user's conversation list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConversationSummary {
    pub conversation_id: String,
    pub kind: String,
    pub name: Option<String>,
    /// At most `history::listing::MEMBERS_LISTED` of the members, by id.
    pub members: Vec<String>,
    /// How many members there are (more than `members` lists in a large group).
    pub member_count: i64,
    pub last_message: Option<LastMessage>,
    pub last_seq: Option<i64>,
    pub read_seq: Option<i64>,
    pub unread: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LastMessage {
    pub message_id: String,
    pub sender_id: String,
    pub body: Option<String>,
    pub created_at: Option<String>,
}
