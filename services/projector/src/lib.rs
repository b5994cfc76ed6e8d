//! The projector: consumer groups that turn the log into read models.
//!
//! [`runner`] is the loop every role shares: read a chunk of records, decode them through
//! the registry, hand them to the role's [`runner::Projection`], send what it refused to
//! the dead-letter topic, and only then commit the offsets. The roles: [`history`] (the
//! CQL read model), [`fanout`] (live delivery over Redis pub/sub), [`presence`]
//! (online state in Redis), [`notifications`] (push notifications owed to offline
//! members, coalesced), [`webhook`] (those notifications POSTed, signed, to a
//! receiver) and [`search`] (a full-text index per partition, queried by the gateways). [`role`] names them, with the topic each reads and its default consumer
//! group. [`lag`] publishes how far each partition's committed offset trails the log.

pub mod dead_letter;
pub mod error;
pub mod fanout;
pub mod history;
pub mod http;
pub mod lag;
pub mod notifications;
pub mod opening;
pub mod presence;
pub mod role;
pub mod runner;
pub mod search;
pub mod webhook;
