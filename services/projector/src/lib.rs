//! The projector: consumer groups that turn the log into read models.
//!
//! [`runner`] is the loop every role shares: read a chunk of records, decode them through
//! the registry, hand them to the role's [`runner::Projection`], send what it refused to
//! the dead-letter topic, and only then commit the offsets. [`history`] is the first
//! role; [`lag`] publishes how far each partition's committed offset trails the log.

pub mod dead_letter;
pub mod history;
pub mod http;
pub mod lag;
pub mod runner;
