//! Every Redis key the gateway uses, in one place, so their shapes and lifetimes are
//! visible together.
//!
//! | key | type | what | lifetime |
//! |---|---|---|---|
//! | `conv:{c}:meta` | hash | kind, name, created_by: the conversation exists | permanent |
//! | `conv:{c}:members` | set | member user ids | permanent |
//! | `conv:{c}:admins` | set | admin user ids (groups) | permanent |
//! | `conv:{c}:creating` | string | lock while a direct conversation is created | 30 s |
//! | `msg:{m}` | string | `{conversation} {sender}`: who may edit or delete | 30 days |
//! | `dedup:{m}` | string | `pending` or the first ack of an action (JSON) | configurable, >= 24 h |
//! | `ptr:{read,delivered}:{c}:{u}` | string | highest seq appended, so pointers only move forward | 30 days |
//! | `sessions:{u}` | hash | session id -> `{gateway_id, connected_at}` | while connected |
//! | `gateway:{g}:alive` | string | heartbeat of a gateway; sessions of dead gateways are ignored | 30 s |
//!
//! The conversation keys are the write-through record DESIGN.md asks for: written once
//! Kafka acknowledged the event, so a gateway authorizes a user's next write against
//! their own latest writes on any gateway, with the CQL projection as the fallback.

use chat_core::ids::{ConversationId, MessageId, UserId};

pub fn meta(c: ConversationId) -> String {
    chat_core::live::meta_key(c)
}
pub fn members(c: ConversationId) -> String {
    chat_core::live::members_key(c)
}
pub fn admins(c: ConversationId) -> String {
    format!("conv:{c}:admins")
}
pub fn creating(c: ConversationId) -> String {
    format!("conv:{c}:creating")
}
pub fn message(m: MessageId) -> String {
    format!("msg:{m}")
}
pub fn dedup(action: MessageId) -> String {
    format!("dedup:{action}")
}
pub fn pointer(kind: &str, c: ConversationId, u: UserId) -> String {
    format!("ptr:{kind}:{c}:{u}")
}
pub fn sessions(u: UserId) -> String {
    format!("sessions:{u}")
}
pub fn gateway_alive(gateway_id: &str) -> String {
    format!("gateway:{gateway_id}:alive")
}

pub const MESSAGE_OWNER_TTL_SECS: u64 = 30 * 24 * 3600;
pub const POINTER_TTL_SECS: u64 = 30 * 24 * 3600;
