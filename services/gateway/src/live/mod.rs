//! Live delivery on the gateway's side: the sockets it holds, per user, and the Redis
//! subscriptions that feed them ([`hub`]); typing indicators ([`typing`]); the presence
//! records it appends to `chat.presence` ([`presence_log`]).

pub mod hub;
pub mod presence_log;
pub mod typing;

pub use hub::{Hub, Out};
