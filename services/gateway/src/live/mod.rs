//! Live delivery on the gateway's side: the sockets it holds, per user, and the Redis
//! subscriptions that feed them ([`hub`]); each socket's outbound queue, bounded in
//! bytes ([`outbound`]); typing indicators ([`typing`]); the presence records it appends
//! to `chat.presence` ([`presence_log`]).

pub mod hub;
pub mod outbound;
pub mod presence_log;
pub mod typing;

pub use hub::Hub;
pub use outbound::Outbound;
