//! v1.1 attachments over REST: `POST /api/v1/uploads` (a presigned PUT for the bytes)
//! and `GET /api/v1/conversations/{id}/attachments/{attachment_id}` (a member's way to
//! a short-lived download link: a redirect, or `{"url"}` when JSON is asked for, which
//! is how a browser shows an image it cannot send a bearer token for).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chat_core::ids::ConversationId;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::json::parse_id;
use super::ApiJson;
use crate::actions::attachments::{self, NewUpload};
use crate::auth::AuthUser;
use crate::domain::FileName;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct UploadRequest {
    conversation_id: ConversationId,
    filename: String,
    content_type: String,
    size: i64,
}

pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<UploadRequest>,
) -> Result<(StatusCode, ApiJson<Value>), ApiError> {
    if req.size < 1 {
        return Err(ApiError::bad_request("size must be at least 1 byte"));
    }
    let upload = NewUpload {
        conversation_id: req.conversation_id,
        filename: FileName::parse(&req.filename)?,
        content_type: req.content_type,
        size: req.size,
    };
    let ticket = attachments::create_upload(&state, user, upload).await?;
    let headers: Map<String, Value> = ticket
        .headers
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect();
    Ok((
        StatusCode::CREATED,
        ApiJson(json!({
            "upload_id": ticket.upload_id,
            "url": ticket.url,
            "method": "PUT",
            "headers": headers,
            "expires_at": ticket.expires_at.to_rfc3339(),
        })),
    ))
}

pub async fn download(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, attachment)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    let url = attachments::download_url(&state, user, c, &attachment).await?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    if wants_json {
        Ok((no_store, ApiJson(json!({ "url": url }))).into_response())
    } else {
        Ok((no_store, Redirect::to(&url)).into_response())
    }
}
