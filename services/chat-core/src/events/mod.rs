//! The events of the log, as Rust types, and their Avro form.
//!
//! `conversation`, `notification`, `presence` and `audit` hold the domain types; `avro`
//! holds their Avro mapping. The `.avsc` files under `schemas/avro/` are the source of truth;
//! each record type implements [`AvroRecord`] (in `avro/`, one file per type),
//! converting to and from `apache_avro::types::Value` by field name against that schema
//! (compiled into the binary as the *reader* schema). Decoding always resolves the
//! writer's schema (from the registry) to ours first, so records written by an older or
//! newer compatible schema still decode.

mod audit;
mod avro;
mod conversation;
mod logged;
mod notification;
mod presence;

pub use audit::{Actor, AuditAction, AuditEvent, Outcome, Subject, SubjectKind, KNOWN_ACTIONS};
pub use avro::{AvroRecord, DecodeError};
pub use conversation::{
    Attachment, ConversationCreated, ConversationEvent, ConversationKind, MessageKind, MessageSent,
    Payload, Reaction,
};
pub use logged::{Keyed, Logged, Rejection};
pub use notification::{NotificationReason, NotificationRequested};
pub use presence::{PresenceEvent, PresenceKind};
