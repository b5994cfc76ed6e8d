//! Live delivery: what travels over Redis pub/sub from the projector roles and the
//! gateways to the gateways holding a user's sockets.
//!
//! Every user has one channel, [`user_channel`]. A gateway subscribes to it while it
//! holds at least one socket of that user and forwards whatever arrives, verbatim, to
//! each of them: the publishers (the fanout role for log events, gateways for typing,
//! the presence role for presence changes) render the protocol frame once, so the
//! gateway's hot path is a lookup and a copy. Pub/sub is at-most-once; a frame lost on
//! the way is detected by the client through `prev_seq` and filled with `sync`.

pub mod frames;
pub mod presence;

use crate::ids::{ConversationId, UserId};

/// The set of a conversation's member ids: the write-through record the gateways keep
/// (written once Kafka acknowledged the change), which the publishers route by.
pub fn members_key(c: ConversationId) -> String {
    format!("conv:{c}:members")
}

/// The hash of a conversation's metadata the gateways keep (`kind` is `direct` or
/// `group`, `name`, `created_by`); present once the creation was acknowledged.
pub fn meta_key(c: ConversationId) -> String {
    format!("conv:{c}:meta")
}

/// The user ids of a Redis member set (anything that is not a UUID is skipped).
pub fn user_ids<'a, I>(raw: I) -> impl Iterator<Item = UserId> + 'a
where
    I: IntoIterator<Item = &'a String>,
    I::IntoIter: 'a,
{
    raw.into_iter()
        .filter_map(|s| s.parse::<uuid::Uuid>().ok())
        .map(UserId)
}

/// The pub/sub channel of one user's live frames.
pub fn user_channel(user: UserId) -> String {
    format!("live:u:{user}")
}

/// The user a channel name belongs to, if it is one of ours.
pub fn user_of_channel(channel: &str) -> Option<UserId> {
    channel
        .strip_prefix("live:u:")
        .and_then(|id| id.parse::<uuid::Uuid>().ok())
        .map(UserId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        let u = UserId(uuid::Uuid::from_u128(42));
        assert_eq!(user_of_channel(&user_channel(u)), Some(u));
        assert_eq!(user_of_channel("live:u:nope"), None);
        assert_eq!(user_of_channel("other"), None);
    }
}
