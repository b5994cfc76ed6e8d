//! `chat.notifications`: a push notification owed to a recipient, keyed by recipient.
//! Its Avro form is `avro::notification`.

use uuid::Uuid;

use crate::ids::{ConversationId, MessageId, UserId};
use crate::time::UnixMillis;

#[derive(Clone, Debug, PartialEq)]
pub struct NotificationRequested {
    pub notification_id: Uuid,
    pub user_id: UserId,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub seq: i64,
    pub sender_id: UserId,
    pub preview: String,
    pub reason: NotificationReason,
    pub coalesced_count: i32,
    pub occurred_at: UnixMillis,
    /// v1.2: the preview sealed under the sender's data key; `preview` is then empty.
    pub sealed_preview: Option<crate::sealing::Sealed>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationReason {
    Dm,
    Mention,
    Group,
    /// v1.1: someone reacted to the recipient's message in a direct conversation.
    Reaction,
}

impl NotificationReason {
    /// The Avro enum symbol (also how the coalescing state in Redis stores it).
    pub fn symbol(self) -> &'static str {
        match self {
            NotificationReason::Dm => "DM",
            NotificationReason::Mention => "MENTION",
            NotificationReason::Group => "GROUP",
            NotificationReason::Reaction => "REACTION",
        }
    }

    /// The reason for a symbol; one this build does not know reads as `Group`.
    pub fn from_symbol(symbol: &str) -> Self {
        match symbol {
            "DM" => NotificationReason::Dm,
            "MENTION" => NotificationReason::Mention,
            "REACTION" => NotificationReason::Reaction,
            _ => NotificationReason::Group,
        }
    }
}
