//! `chat.presence`: connection lifecycle appended by gateways, keyed by user. Its Avro
//! form is `avro::presence`.

use crate::ids::{SessionId, UserId};
use crate::time::UnixMillis;

#[derive(Clone, Debug, PartialEq)]
pub struct PresenceEvent {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub gateway_id: String,
    pub kind: PresenceKind,
    pub occurred_at: UnixMillis,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresenceKind {
    Connected,
    Heartbeat,
    Disconnected,
}
