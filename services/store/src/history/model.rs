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
    /// v1.1: the root of the thread this message replies in.
    pub thread_root: Option<String>,
    /// v1.1: on a thread root with replies, the thread's summary.
    pub thread: Option<ThreadSummary>,
    /// v1.1: reactions, ordered by first use.
    pub reactions: Vec<ReactionGroup>,
    /// v1.1: the protocol's attachment objects (`chat_core::live::frames::attachment_view`).
    pub attachments: Vec<serde_json::Value>,
    /// v1.2: the sender was erased, or the message outlived the retention period: its
    /// body and attachments are gone (`body` is null, `attachments` empty).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
    /// The stored sealed form of body and attachment names (`chat_core::sealing`),
    /// opened by `HistoryStore` before a message leaves the store.
    #[serde(skip)]
    pub sealed: Option<Vec<u8>>,
    /// The attachments as stored (their names empty while sealed).
    #[serde(skip)]
    pub stored_attachments: Vec<chat_core::events::Attachment>,
}

/// A thread's summary, on its root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThreadSummary {
    pub reply_count: i64,
    pub last_reply_seq: i64,
    pub last_reply_at: Option<String>,
}

/// The reactions of one emoji on one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReactionGroup {
    pub emoji: String,
    pub count: i64,
    /// The first [`super::reactions::USERS_LISTED`] reactors, in the order they reacted.
    pub user_ids: Vec<String>,
}

/// One page of a thread (`GET .../threads/{root}/messages`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThreadPage {
    pub root: Message,
    /// Replies oldest first.
    pub messages: Vec<Message>,
    /// Pass as `after` for the next page; null at the end.
    pub next_after: Option<i64>,
}

/// A pinned message (`GET .../pins`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pin {
    pub message: Message,
    pub pinned_by: String,
    pub pinned_at: Option<String>,
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
    /// v1.3: the conversation's own retention in days, or null.
    pub retention_days: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LastMessage {
    pub message_id: String,
    pub sender_id: String,
    pub body: Option<String>,
    pub created_at: Option<String>,
    /// v1.2: as on [`Message`].
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
    #[serde(skip)]
    pub sealed: Option<Vec<u8>>,
}
