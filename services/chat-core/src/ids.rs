//! Identifiers. Each is a UUID newtype, so a user id can never be passed where a
//! conversation id is expected, and parsing happens once at the edge.
//!
//! Two ids are *derived* rather than random, which is what makes retries and "one direct
//! conversation per pair" free of coordination:
//! - [`MessageId::derive`]: UUIDv5 of (conversation, sender, client_msg_id), so a retried
//!   send can never become two messages, on any gateway.
//! - [`ConversationId::direct`]: UUIDv5 of the sorted pair of user ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace for message ids (a fixed, random UUID: changing it changes every id).
const MESSAGE_NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_7a0e_93b4_4f0e_9d39_4b8e_2f6a_1c01);
/// Namespace for direct-conversation ids.
const DIRECT_NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_7a0e_93b4_4f0e_9d39_4b8e_2f6a_1c02);

/// Longest accepted client_msg_id: long enough for any UUID or ULID a client makes up,
/// short enough that it cannot be used to bloat records and dedup keys.
pub const MAX_CLIENT_MSG_ID_LEN: usize = 128;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

uuid_id!(
    /// A user account.
    UserId
);
uuid_id!(
    /// A direct or group conversation; also the Kafka key of its events.
    ConversationId
);
uuid_id!(
    /// A message, derived from (conversation, sender, client_msg_id).
    MessageId
);
uuid_id!(
    /// One WebSocket connection of a user.
    SessionId
);
uuid_id!(
    /// One sign-in: the chain of refresh tokens and the access tokens issued from it,
    /// revoked together (sign-out, a reused refresh token).
    SignInId
);

impl ConversationId {
    /// The one direct conversation between two users, whichever of them asks.
    pub fn direct(a: UserId, b: UserId) -> Self {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut name = [0u8; 32];
        name[..16].copy_from_slice(lo.0.as_bytes());
        name[16..].copy_from_slice(hi.0.as_bytes());
        Self(Uuid::new_v5(&DIRECT_NAMESPACE, &name))
    }
}

impl MessageId {
    /// The id of the message `sender` sends in `conversation` under `client_msg_id`.
    pub fn derive(
        conversation: ConversationId,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> Self {
        let mut name = Vec::with_capacity(32 + client_msg_id.as_str().len());
        name.extend_from_slice(conversation.0.as_bytes());
        name.extend_from_slice(sender.0.as_bytes());
        name.extend_from_slice(client_msg_id.as_str().as_bytes());
        Self(Uuid::new_v5(&MESSAGE_NAMESPACE, &name))
    }
}

/// The client's own id for an action, the idempotency key of a send, edit or delete.
/// Valid by construction: 1..=128 printable ASCII characters without spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ClientMsgId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientMsgIdError {
    #[error("client_msg_id must not be empty")]
    Empty,
    #[error("client_msg_id is longer than {MAX_CLIENT_MSG_ID_LEN} characters")]
    TooLong,
    #[error("client_msg_id may hold only printable ASCII characters without spaces")]
    BadCharacter,
}

impl ClientMsgId {
    pub fn parse(s: impl Into<String>) -> Result<Self, ClientMsgIdError> {
        let s = s.into();
        if s.is_empty() {
            return Err(ClientMsgIdError::Empty);
        }
        if s.len() > MAX_CLIENT_MSG_ID_LEN {
            return Err(ClientMsgIdError::TooLong);
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ClientMsgIdError::BadCharacter);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ClientMsgId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ClientMsgId::parse(s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ClientMsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    #[test]
    fn direct_conversation_id_ignores_order() {
        assert_eq!(
            ConversationId::direct(user(1), user(2)),
            ConversationId::direct(user(2), user(1))
        );
        assert_ne!(
            ConversationId::direct(user(1), user(2)),
            ConversationId::direct(user(1), user(3))
        );
    }

    #[test]
    fn message_id_is_stable_and_scoped() {
        let conv = ConversationId(Uuid::from_u128(9));
        let id = ClientMsgId::parse("abc-1").unwrap();
        let a = MessageId::derive(conv, user(1), &id);
        assert_eq!(a, MessageId::derive(conv, user(1), &id));
        assert_ne!(
            a,
            MessageId::derive(conv, user(2), &id),
            "another sender, another message"
        );
        let other_conv = ConversationId(Uuid::from_u128(10));
        assert_ne!(a, MessageId::derive(other_conv, user(1), &id));
    }

    #[test]
    fn client_msg_id_validation() {
        assert_eq!(ClientMsgId::parse(""), Err(ClientMsgIdError::Empty));
        assert_eq!(
            ClientMsgId::parse("a b"),
            Err(ClientMsgIdError::BadCharacter)
        );
        assert_eq!(ClientMsgId::parse("é"), Err(ClientMsgIdError::BadCharacter));
        assert_eq!(
            ClientMsgId::parse("x".repeat(129)),
            Err(ClientMsgIdError::TooLong)
        );
        assert!(ClientMsgId::parse("x".repeat(128)).is_ok());
        let parsed: Result<ClientMsgId, _> = serde_json::from_str("\"\"");
        assert!(parsed.is_err());
    }
}
