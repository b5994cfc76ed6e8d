//! Conversations and messages over REST: create, add and remove members, send.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chat_core::events::MessageKind;
use chat_core::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::rules;
use serde::Deserialize;
use serde_json::{json, Value};

use super::json::parse_id;
use super::ApiJson;
use crate::actions::Ack;
use crate::actions::{self, messages::SendMessage};
use crate::auth::AuthUser;
use crate::domain::{message_content, ConversationName};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::throttle::ClientAddress;

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Direct,
    Group,
}

#[derive(Deserialize)]
pub struct NewConversation {
    kind: Kind,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    members: Vec<UserId>,
}

pub async fn create(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<NewConversation>,
) -> Result<(StatusCode, ApiJson<Value>), ApiError> {
    match req.kind {
        Kind::Group => {
            let name = req
                .name
                .as_deref()
                .map(ConversationName::parse)
                .transpose()?;
            let c =
                actions::conversations::create_group(&state, user, name, req.members, from).await?;
            Ok((
                StatusCode::CREATED,
                ApiJson(json!({ "conversation_id": c })),
            ))
        }
        Kind::Direct => {
            let others: Vec<UserId> = req.members.into_iter().filter(|m| *m != user).collect();
            let [other] = others.as_slice() else {
                return Err(ApiError::new(
                    ErrorCode::InvalidMembers,
                    "a direct conversation has exactly one other member",
                ));
            };
            let (c, created) = actions::conversations::create_direct(&state, user, *other).await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, ApiJson(json!({ "conversation_id": c }))))
        }
    }
}

#[derive(Deserialize)]
pub struct NewMember {
    user_id: UserId,
    /// Add as a group admin (only admins may).
    #[serde(default)]
    admin: bool,
}

pub async fn add_member(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<NewMember>,
) -> Result<StatusCode, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    actions::conversations::add_member(&state, user, c, req.user_id, req.admin, from).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_member(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    AuthUser(user): AuthUser,
    Path((id, member)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    let member: UserId = parse_id(&member, "user id")?;
    actions::conversations::remove_member(&state, user, c, member, from).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct NewMessage {
    client_msg_id: ClientMsgId,
    body: String,
    #[serde(default)]
    kind: Option<MessageKind>,
    #[serde(default)]
    reply_to: Option<MessageId>,
    /// v1.1: reply in this message's thread.
    #[serde(default)]
    thread_root: Option<MessageId>,
    /// v1.1: upload ids, for kinds `file` and `image`.
    #[serde(default)]
    attachments: Vec<String>,
}

pub async fn send(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<NewMessage>,
) -> Result<(StatusCode, ApiJson<Ack>), ApiError> {
    let c: ConversationId = parse_id(&id, "conversation id")?;
    let kind = req.kind.unwrap_or(MessageKind::Text);
    rules::may_send_kind(kind).map_err(|r| ApiError::bad_request(r.to_string()))?;
    let (body, attachments) = message_content(
        kind,
        req.body,
        req.attachments,
        state.settings.max_body_bytes,
    )?;
    let cmd = SendMessage {
        conversation_id: c,
        client_msg_id: req.client_msg_id,
        body,
        kind,
        reply_to: req.reply_to,
        thread_root: req.thread_root,
        attachments,
    };
    let ack = actions::messages::send(&state, user, cmd).await?;
    Ok((StatusCode::CREATED, ApiJson(ack)))
}
