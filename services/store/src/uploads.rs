//! v1.1 attachments: what the gateway promised an uploader (`upload:{id}` in Redis),
//! so a later `send` can check that an attachment is theirs, for that conversation,
//! with the size and type they declared. The bytes are in the object store, never
//! here; the record only has to outlive the upload (a day).

use std::time::Duration;

use chat_core::ids::{ConversationId, UserId};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::keys;

/// How long an upload may wait to be attached.
pub const UPLOAD_TTL: Duration = Duration::from_secs(24 * 3600);

/// One promised upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub uploader: UserId,
    pub conversation_id: ConversationId,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    /// Where the bytes go in the bucket.
    pub object_key: String,
}

pub struct UploadStore {
    redis: ConnectionManager,
}

impl UploadStore {
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
    }

    pub async fn promise(&self, upload_id: &str, upload: &Upload) -> Result<(), StoreError> {
        let json = serde_json::to_string(upload).map_err(|e| StoreError::Unreadable {
            key: keys::upload(upload_id),
            why: e.to_string(),
        })?;
        let _: () = self
            .redis
            .clone()
            .set_ex(keys::upload(upload_id), json, UPLOAD_TTL.as_secs())
            .await?;
        Ok(())
    }

    /// The upload promised as `upload_id` (None: unknown or expired).
    pub async fn promised(&self, upload_id: &str) -> Result<Option<Upload>, StoreError> {
        let json: Option<String> = self.redis.clone().get(keys::upload(upload_id)).await?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| StoreError::Unreadable {
                key: keys::upload(upload_id),
                why: e.to_string(),
            })
        })
        .transpose()
    }
}
