//! The history projection: conversations, members, pointers and messages in the CQL
//! store, as the log says they are.
//!
//! - [`apply`] turns events (with their seq) into writes. It is idempotent: every
//!   conversation remembers the last seq applied to it, and everything at or below it is
//!   skipped, so redelivery and whole replays change nothing. It re-checks every event
//!   (the actor is a member, an editor is the sender, ...) and rejects those that do not
//!   hold, with a reason, for the dead-letter topic.
//! - [`store`] holds the prepared statements and the reads the gateway serves pages,
//!   conversation lists and sync from.
//!
//! - [`recipients`] holds notification preferences (mutes) and usernames for mentions.
//!
//! The projector writes through it, the gateway reads through it, and `chatctl rebuild`
//! replays the log through it into a fresh keyspace.

pub mod apply;
pub mod model;
pub mod recipients;
pub mod store;

pub use apply::{Applier, Rejection};
pub use model::{ConversationSummary, Message, Page};
pub use recipients::RecipientStore;
pub use store::{HistoryError, HistoryStore, BUCKET_SIZE};
