//! v1.1 attachments: the bytes go straight between the client and S3-compatible object
//! storage through short-lived presigned URLs; the gateway only signs, checks and
//! records.
//!
//! - [`settings`]: `[gateway.attachments]` (endpoint, bucket, limits, allowed types);
//! - `chat_core::aws_credentials`: static keys, or the task role's (ECS container
//!   credentials), shared with the KMS key-encryption key;
//! - [`storage`]: presigned PUT and GET, and the HEAD that checks an upload before a
//!   message may carry it.
//!
//! The flow: `POST /api/v1/uploads` promises an upload (`chat_store::uploads`, Redis)
//! and answers a presigned PUT for `uploads/<conversation>/<upload_id>`; the client
//! PUTs the bytes; `send` with `attachments: [upload_id]` checks each upload is the
//! sender's, for this conversation, and in the bucket with the declared size and type,
//! then appends the message with the object keys. Reading a message gives each
//! attachment the route `GET /api/v1/conversations/{c}/attachments/{id}`, which checks
//! membership and redirects to a presigned GET, so a non-member never obtains a
//! working URL and frames rendered anywhere (the fanout role has no storage
//! credentials) carry a URL that stays valid.

pub mod settings;
pub mod storage;

pub use settings::AttachmentSettings;
pub use storage::{ObjectStore, StorageError, StoredObject};

/// Where an upload's bytes go: per conversation, so the projection can check that a
/// message refers only to its own conversation's objects.
pub fn object_key(conversation: chat_core::ids::ConversationId, upload_id: &str) -> String {
    format!("uploads/{conversation}/{upload_id}")
}
