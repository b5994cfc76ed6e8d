//! `chat.conversation-events`: the envelope and its payloads. Their Avro form is
//! `avro::conversation`.

use uuid::Uuid;

use crate::ids::{ConversationId, MessageId, UserId};
use crate::sealing::Sealed;
use crate::time::UnixMillis;

/// One state change of one conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationEvent {
    pub event_id: Uuid,
    pub conversation_id: ConversationId,
    pub actor_id: UserId,
    pub occurred_at: UnixMillis,
    pub gateway_id: String,
    pub payload: Payload,
    /// v1.2: the payload's personal content, sealed (`crate::sealing`). When set, the
    /// payload's body and attachment names, urls and object keys are empty until a
    /// keyring opens the event (`chat_store::keyring::Keyring::open`).
    pub sealed: Option<Sealed>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    MessageSent(MessageSent),
    MessageEdited {
        message_id: MessageId,
        client_msg_id: String,
        body: String,
    },
    MessageDeleted {
        message_id: MessageId,
        client_msg_id: String,
    },
    ReadUpTo {
        seq: i64,
    },
    DeliveredUpTo {
        seq: i64,
    },
    ConversationCreated(ConversationCreated),
    MemberAdded {
        user_id: UserId,
        as_admin: bool,
    },
    MemberRemoved {
        user_id: UserId,
    },
    /// v1.1: the actor reacted to a message (at most once per emoji).
    ReactionAdded(Reaction),
    /// v1.1: the actor took a reaction back.
    ReactionRemoved(Reaction),
    /// v1.1: a group's new name.
    ConversationRenamed {
        name: String,
        client_msg_id: String,
    },
    /// v1.1: a message pinned to its conversation.
    MessagePinned {
        message_id: MessageId,
        client_msg_id: String,
    },
    MessageUnpinned {
        message_id: MessageId,
        client_msg_id: String,
    },
    /// v1.2: a user was erased (their data keys are destroyed). Appended once to every
    /// partition, with nil conversation and actor ids.
    ContentErased {
        user_id: UserId,
    },
    /// v1.2: retention destroyed the data keys of every period that ended before
    /// `before`, except those of `kept_users` (legal holds). Once per partition.
    ContentExpired {
        before: UnixMillis,
        kept_users: Vec<UserId>,
    },
    /// v1.3: a group admin set how many days the conversation's content stays readable
    /// (None: cleared, only the platform's retention applies).
    RetentionSet {
        days: Option<u32>,
        client_msg_id: String,
    },
    /// v1.3: the conversation's retention destroyed its keys of every period that ended
    /// before `before`: what was sent in it before then is unreadable.
    ConversationContentExpired {
        before: UnixMillis,
    },
}

/// The payload of `ReactionAdded` and `ReactionRemoved`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reaction {
    pub message_id: MessageId,
    /// Validated by `crate::rules::Emoji` before it is appended.
    pub emoji: String,
    pub client_msg_id: String,
}

impl Payload {
    /// The snake_case kind used on the wire to clients (`message_sent`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::MessageSent(_) => "message_sent",
            Payload::MessageEdited { .. } => "message_edited",
            Payload::MessageDeleted { .. } => "message_deleted",
            Payload::ReadUpTo { .. } => "read",
            Payload::DeliveredUpTo { .. } => "delivered",
            Payload::ConversationCreated(_) => "conversation_created",
            Payload::MemberAdded { .. } => "member_added",
            Payload::MemberRemoved { .. } => "member_removed",
            Payload::ReactionAdded(_) => "reaction_added",
            Payload::ReactionRemoved(_) => "reaction_removed",
            Payload::ConversationRenamed { .. } => "conversation_renamed",
            Payload::MessagePinned { .. } => "message_pinned",
            Payload::MessageUnpinned { .. } => "message_unpinned",
            Payload::ContentErased { .. } => "content_erased",
            Payload::ContentExpired { .. } => "content_expired",
            Payload::RetentionSet { .. } => "retention_set",
            Payload::ConversationContentExpired { .. } => "conversation_content_expired",
        }
    }

    /// Events that carry personal content, which is sealed (`crate::sealing`).
    pub fn carries_content(&self) -> bool {
        matches!(
            self,
            Payload::MessageSent(_) | Payload::MessageEdited { .. }
        )
    }

    /// Events the operator's tools append to one conversation, with the nil actor (the
    /// retention task's `ConversationContentExpired`): no member appended them, and every
    /// member is told.
    pub fn is_by_operator(&self) -> bool {
        matches!(self, Payload::ConversationContentExpired { .. })
    }

    /// Events about the whole platform rather than one conversation (compliance
    /// actions, with a nil conversation id): projections of conversations skip them.
    pub fn is_platform_wide(&self) -> bool {
        matches!(
            self,
            Payload::ContentErased { .. } | Payload::ContentExpired { .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessageSent {
    pub message_id: MessageId,
    pub client_msg_id: String,
    pub kind: MessageKind,
    pub body: String,
    pub reply_to: Option<MessageId>,
    pub attachments: Vec<Attachment>,
    /// v1.1: the root of the thread this message replies in.
    pub thread_root: Option<MessageId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Text,
    Image,
    File,
    System,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Image => "image",
            MessageKind::File => "file",
            MessageKind::System => "system",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    /// v1 records named their bytes by URL; v1.1 records leave it empty and name them by
    /// `object_key` in the attachments bucket.
    pub url: String,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    #[serde(default)]
    pub attachment_id: String,
    #[serde(default)]
    pub object_key: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConversationCreated {
    pub kind: ConversationKind,
    pub name: Option<String>,
    pub members: Vec<UserId>,
    pub admins: Vec<UserId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Direct,
    Group,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
        }
    }
}
