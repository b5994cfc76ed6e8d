//! `chat-store`: every piece of stored state the platform keeps, and the only crate that
//! speaks CQL or names a Redis key.
//!
//! The log (Kafka) is the source of truth for conversations; what is here is either a
//! projection of it, rebuilt by replaying the log, or state that is not an event
//! (accounts, preferences, delivery bookkeeping). Each module owns one piece, and its
//! callers (the gateway, the projector roles, chatctl) reach that piece only through it:
//!
//! | module | state | where |
//! |---|---|---|
//! | [`history`] | conversations, members, pointers, messages: the history projection (apply and reads, including `sync` replays) | CQL |
//! | [`membership`] | the write-through membership record the gateways authorize with, and its CQL fallback | Redis, CQL |
//! | [`accounts`] | accounts and usernames | CQL |
//! | [`mutes`] | notification preferences | CQL |
//! | [`dedup`] | the first outcome of every client action, so retries are answered, not repeated | Redis |
//! | [`pointers`] | the highest read and delivered pointer appended per member | Redis |
//! | [`sessions`] | which gateway holds which WebSocket session | Redis |
//! | [`rate_limits`] | limits shared by every gateway (sign-ins per account) | Redis |
//! | [`sign_ins`] | sign-ins (refresh token rotation), revoked tokens, WebSocket tickets | Redis |
//! | [`reaction_tally`] | who reacted with which emoji, for the distinct-emoji limit on the ack path (v1.1) | Redis |
//! | [`uploads`] | attachment uploads promised to their uploader (v1.1) | Redis |
//! | [`presence`] | who is online, with expiring sessions | Redis |
//! | [`live`] | the pub/sub channels of live delivery and the fanout's `prev_seq` chain | Redis |
//! | [`notify_window`] | notification coalescing windows | Redis |
//! | [`erasure`] | (no state of its own) an erasure's steps over accounts, sign-ins, holds and keys (v1.2) | CQL, Redis |
//! | [`keyring`] | data keys: made, wrapped, cached, destroyed by erasure and retention (v1.2) | CQL |
//! | [`legal_holds`] | users and conversations under legal hold (v1.2) | CQL |
//! | [`migrations`] | the CQL schema (`schemas/cql/`) | CQL |
//!
//! [`keys`] lists every Redis key with its type and lifetime. Every operation returns
//! [`StoreError`]; what a failure means to a client is decided by the caller.

mod cql;
pub mod error;
pub mod keys;

pub mod accounts;
pub mod dedup;
pub mod erasure;
pub mod history;
pub mod keyring;
pub mod legal_holds;
pub mod live;
pub mod membership;
pub mod migrations;
pub mod mutes;
pub mod notify_window;
pub mod pointers;
pub mod presence;
pub mod rate_limits;
pub mod reaction_tally;
pub mod sessions;
pub mod sign_ins;
pub mod uploads;

pub use cql::ping;
pub use error::StoreError;
pub use history::apply::{Applier, Rejection};
pub use history::listing::{ConversationPage, ListCursor, MEMBERS_LISTED};
pub use history::model::{ConversationSummary, Message, Page};
pub use history::{HistoryStore, BUCKET_SIZE, MAX_PAGE};
