//! v1.1 attachments: promise an upload, check uploads before a message carries them,
//! and hand members a download link (see `crate::attachments` for the whole flow).

use chat_core::events::{Attachment, MessageKind};
use chat_core::ids::{ConversationId, UserId};
use chat_store::uploads::Upload;

use super::{require_member, ActionError};
use crate::attachments::{object_key, ObjectStore};
use crate::domain::FileName;
use crate::state::AppState;

/// Most attachments one message carries.
pub const MAX_ATTACHMENTS: usize = 10;

pub struct NewUpload {
    pub conversation_id: ConversationId,
    pub filename: FileName,
    pub content_type: String,
    pub size: i64,
}

/// A presigned request the client sends the bytes with.
pub struct UploadTicket {
    pub upload_id: String,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub expires_at: chat_core::time::UnixMillis,
}

fn objects(state: &AppState) -> Result<&ObjectStore, ActionError> {
    state.objects.as_ref().ok_or(ActionError::AttachmentsOff)
}

pub async fn create_upload(
    state: &AppState,
    uploader: UserId,
    req: NewUpload,
) -> Result<UploadTicket, ActionError> {
    let objects = objects(state)?;
    let limits = &state.settings.attachments;
    require_member(state, req.conversation_id, uploader).await?;
    if req.size > limits.max_bytes {
        return Err(ActionError::UploadTooLarge(limits.max_bytes));
    }
    if !limits.allows(&req.content_type) {
        return Err(ActionError::InvalidContentType);
    }
    let upload_id = uuid::Uuid::new_v4().simple().to_string();
    let key = object_key(req.conversation_id, &upload_id);
    let upload = Upload {
        uploader,
        conversation_id: req.conversation_id,
        filename: req.filename.as_str().to_string(),
        content_type: req.content_type.to_ascii_lowercase(),
        size: req.size,
        object_key: key.clone(),
    };
    state.uploads.promise(&upload_id, &upload).await?;
    let put = objects
        .presign_put(&key, &upload.content_type, req.filename.as_str())
        .await?;
    let ttl_ms = objects.url_ttl().as_millis() as i64;
    Ok(UploadTicket {
        upload_id,
        url: put.url,
        headers: put.headers,
        expires_at: chat_core::time::UnixMillis(chat_core::time::UnixMillis::now().0 + ttl_ms),
    })
}

/// The attachments of a message `sender` sends to `c` with `kind`: each upload must be
/// the sender's, for `c`, and in the bucket with the size and type declared; an image
/// message carries images only.
pub async fn attach(
    state: &AppState,
    sender: UserId,
    c: ConversationId,
    kind: MessageKind,
    upload_ids: &[String],
) -> Result<Vec<Attachment>, ActionError> {
    let objects = objects(state)?;
    let mut out = Vec::with_capacity(upload_ids.len());
    for id in upload_ids {
        let refused = |why: &str| ActionError::InvalidAttachment(format!("upload {id}: {why}"));
        let upload = match state.uploads.promised(id).await? {
            Some(u) if u.uploader == sender && u.conversation_id == c => u,
            _ => {
                return Err(refused(
                    "no such upload of yours for this conversation (it may have expired)",
                ))
            }
        };
        if kind == MessageKind::Image && !upload.content_type.starts_with("image/") {
            return Err(refused("an image message carries images only"));
        }
        match objects.head(&upload.object_key).await? {
            Some(o)
                if o.size == upload.size
                    && o.content_type.eq_ignore_ascii_case(&upload.content_type) => {}
            Some(_) => {
                return Err(refused(
                    "the stored object differs from the declared size or type",
                ))
            }
            None => return Err(refused("nothing was uploaded")),
        }
        // Before the message is appended: an attachment of an acknowledged message is
        // never expired as an abandoned upload. (If the append then fails, the object
        // stays; the client's retry attaches it again.)
        objects.mark_attached(&upload.object_key).await?;
        out.push(Attachment {
            url: String::new(),
            name: upload.filename,
            content_type: upload.content_type,
            size_bytes: upload.size,
            attachment_id: id.clone(),
            object_key: upload.object_key,
        });
    }
    Ok(out)
}

/// A short-lived download link for attachment `id` of `c`, for a member.
pub async fn download_url(
    state: &AppState,
    user: UserId,
    c: ConversationId,
    id: &str,
) -> Result<String, ActionError> {
    let objects = objects(state)?;
    require_member(state, c, user).await?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ActionError::NotFound("attachment"));
    }
    let key = object_key(c, id);
    let stored = objects
        .head(&key)
        .await?
        .ok_or(ActionError::NotFound("attachment"))?;
    Ok(objects
        .presign_get(&key, stored.filename.as_deref(), &stored.content_type)
        .await?)
}
