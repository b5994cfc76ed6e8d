//! Every Redis key and pub/sub channel of the platform, in one place, so their shapes
//! and lifetimes are visible together. Nothing outside this crate spells a key.
//!
//! | key | type | what | lifetime | written by |
//! |---|---|---|---|---|
//! | `conv:{c}:meta` | hash | `kind`, `created_by`: the conversation exists | permanent | [`crate::membership`] |
//! | `conv:{c}:members` | set | member user ids | permanent | [`crate::membership`] |
//! | `conv:{c}:admins` | set | admin user ids (groups) | permanent | [`crate::membership`] |
//! | `conv:{c}:creating` | string | lock while a direct conversation is created | 30 s | [`crate::membership`] |
//! | `msg:{m}` | string | `{conversation} {sender}[ deleted] main\|thread`: who may edit or delete, and whether it is a thread reply | 30 days | [`crate::membership`] |
//! | `dedup:{m}` | string | `pending`, or the first outcome of an action (JSON) | configurable, >= 24 h | [`crate::dedup`] |
//! | `ptr:{read,delivered}:{c}:{u}` | string | highest seq appended, so pointers only move forward | 30 days | [`crate::pointers`] |
//! | `sessions:{u}` | hash | session id -> `{gateway_id, connected_at}` | while connected | [`crate::sessions`] |
//! | `gateway:{g}:alive` | string | heartbeat of a gateway; sessions of dead gateways are ignored | 30 s | [`crate::sessions`] |
//! | `presence:{u}:sessions` | sorted set | session id scored by its expiry | presence TTL | [`crate::presence`] |
//! | `presence:{u}:last_seen` | string | when the user was last seen (ms) | permanent | [`crate::presence`] |
//! | `presence:expiries` | sorted set | user scored by their latest session expiry | permanent | [`crate::presence`] |
//! | `fanout:last:{c}` | string | last seq published live (the `prev_seq` chain) | permanent | [`crate::live`] |
//! | `notify:{topic}:w:{u}:{c}`, `notify:{topic}:due` | hash, sorted set | notification coalescing | 7 days idle | [`crate::notify_window`] |
//! | `live:route:{u}` | set | ids of the gateways holding the user's sockets | while connected; a dead gateway's id is pruned by the first publish nobody receives | [`crate::live`] |
//! | channel `live:g:{g}` | pub/sub | one gateway's live frames, each with the users it is for | - | [`crate::live`] |
//! | `auth:signin:{s}` | hash | `user`, `created`, hashes of the `current` and `previous` refresh tokens, `rotated` | refresh lifetime after the last refresh | [`crate::sign_ins`] |
//! | `auth:revoked:{s}` | string | a signed-out sign-in: its access tokens are refused | access token lifetime | [`crate::sign_ins`] |
//! | `auth:user:{u}:not_before` | string | tokens of sign-ins begun earlier are refused (ms; `i64::MAX`: deactivated) | permanent | [`crate::sign_ins`] |
//! | `auth:ticket:{t}` | string | a WebSocket upgrade ticket: the token's identity, redeemed once | 30 s | [`crate::sign_ins`] |
//! | `throttle:{kind}:{hash}` | string | a GCRA bucket shared by every gateway (e.g. sign-ins per account) | until the bucket is full again | [`crate::rate_limits`] |
//! | `upload:{id}` | string | JSON of a promised attachment upload: uploader, conversation, name, type, size, object key | 24 h | [`crate::uploads`] |
//! | `rx:{m}:users`, `rx:{m}:emoji` | hashes | a message's reactions as appended (`emoji` US `user` -> 1; `emoji` -> users, and `seeded`), for the distinct-emoji limit | 7 days after the last reaction | [`crate::reaction_tally`] |
//! | channel `auth:revocations` | pub/sub | revocations, so gateways close the sockets concerned | - | [`crate::sign_ins`] |
//!
//! The `conv:` keys are the write-through record: written once Kafka acknowledged the
//! event that changed them, so a gateway authorizes a user's next write against their
//! own latest writes on any gateway, with the CQL projection as the fallback.

use chat_core::ids::{ConversationId, MessageId, SignInId, UserId};

/// The two hashes of a message's reaction tally; `{m}` is a hash tag, so a cluster
/// keeps both on one node for the scripts that touch them together.
pub(crate) fn reaction_tally(m: MessageId) -> (String, String) {
    (format!("rx:{{{m}}}:users"), format!("rx:{{{m}}}:emoji"))
}

pub(crate) fn upload(upload_id: &str) -> String {
    format!("upload:{upload_id}")
}

pub(crate) fn meta(c: ConversationId) -> String {
    format!("conv:{c}:meta")
}
pub(crate) fn members(c: ConversationId) -> String {
    format!("conv:{c}:members")
}
pub(crate) fn admins(c: ConversationId) -> String {
    format!("conv:{c}:admins")
}
pub(crate) fn creating(c: ConversationId) -> String {
    format!("conv:{c}:creating")
}
pub(crate) fn message(m: MessageId) -> String {
    format!("msg:{m}")
}
pub(crate) fn dedup(action: MessageId) -> String {
    format!("dedup:{action}")
}
pub(crate) fn pointer(kind: &str, c: ConversationId, u: UserId) -> String {
    format!("ptr:{kind}:{c}:{u}")
}
pub(crate) fn sessions(u: UserId) -> String {
    format!("sessions:{u}")
}
pub(crate) fn gateway_alive(gateway_id: &str) -> String {
    format!("gateway:{gateway_id}:alive")
}
pub(crate) fn presence_sessions(u: UserId) -> String {
    format!("presence:{u}:sessions")
}
pub(crate) fn presence_last_seen(u: UserId) -> String {
    format!("presence:{u}:last_seen")
}
pub(crate) const PRESENCE_EXPIRIES: &str = "presence:expiries";
pub(crate) fn fanout_last(c: ConversationId) -> String {
    format!("fanout:last:{c}")
}
/// The prefix of one notifications topic's coalescing state.
pub(crate) fn notify_namespace(topic: &str) -> String {
    format!("notify:{topic}:")
}

pub(crate) fn sign_in(s: SignInId) -> String {
    format!("auth:signin:{s}")
}
pub(crate) fn revoked(s: SignInId) -> String {
    format!("auth:revoked:{s}")
}
pub(crate) fn not_before(u: UserId) -> String {
    let (prefix, suffix) = not_before_parts();
    format!("{prefix}{u}{suffix}")
}
/// `not_before`'s key around the user id, for a script that learns the user itself.
pub(crate) fn not_before_parts() -> (&'static str, &'static str) {
    ("auth:user:", ":not_before")
}
pub(crate) fn ticket(t: &str) -> String {
    format!("auth:ticket:{t}")
}
pub(crate) fn rate_limit(kind: &str, hashed_key: &str) -> String {
    format!("throttle:{kind}:{hashed_key}")
}
/// Revocations of sign-ins and users, for every gateway.
pub const REVOCATIONS_CHANNEL: &str = "auth:revocations";

/// Prefix of `live:route:{u}`: which gateways hold a user's sockets.
pub(crate) const ROUTE_PREFIX: &str = "live:route:";
/// Prefix of `live:g:{g}`: one gateway's channel.
pub(crate) const GATEWAY_CHANNEL_PREFIX: &str = "live:g:";

pub(crate) fn route(user: UserId) -> String {
    format!("{ROUTE_PREFIX}{user}")
}

/// The pub/sub channel of one gateway's live frames.
pub fn gateway_channel(gateway_id: &str) -> String {
    format!("{GATEWAY_CHANNEL_PREFIX}{gateway_id}")
}

/// The user ids of a Redis member set (anything that is not a UUID is skipped).
pub(crate) fn user_ids<'a, I>(raw: I) -> impl Iterator<Item = UserId> + 'a
where
    I: IntoIterator<Item = &'a String>,
    I::IntoIter: 'a,
{
    raw.into_iter()
        .filter_map(|s| s.parse::<uuid::Uuid>().ok())
        .map(UserId)
}

pub(crate) const MESSAGE_OWNER_TTL_SECS: u64 = 30 * 24 * 3600;
pub(crate) const POINTER_TTL_SECS: u64 = 30 * 24 * 3600;
