//! The projector: consumer groups that turn the log into read models.
//!
//! [`runner`] is the loop every role shares: read a chunk of records, decode them through
//! the registry, hand them to the role's [`runner::Projection`], send what it refused to
//! the dead-letter topic, and only then commit the offsets. The roles: [`history`] (the
//! CQL read model), [`fanout`] (live delivery over Redis pub/sub) and [`presence`]
//! (online state in Redis). [`lag`] publishes how far each partition's committed offset
//! trails the log.

pub mod dead_letter;
pub mod fanout;
pub mod history;
pub mod http;
pub mod lag;
pub mod presence;
pub mod runner;
