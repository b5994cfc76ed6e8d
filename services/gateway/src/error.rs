//! Errors as clients see them: a stable [`ErrorCode`] from the protocol
//! (services/gateway/PROTOCOL.md), a human message, and for REST the HTTP status of that
//! code. The same [`ApiError`] becomes a WebSocket `error` frame
//! (`ws::frames::ServerFrame::error`), so REST and WebSocket report a refusal
//! identically.
//!
//! The modules below the edge return their own typed errors (`actions::ActionError`,
//! `accounts::AccountError`, `append::AppendError`, `chat_store::StoreError`); the `From`
//! impls here are the one place they become codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chat_store::StoreError;
use serde_json::json;

/// Every error code the gateway sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    BadCredentials,
    /// `bad_credentials` on a route the caller is signed in for (password change): 403,
    /// so a client does not take it for an expired token (401) and refresh.
    WrongPassword,
    NotMember,
    Forbidden,
    NotFound,
    UsernameTaken,
    GroupFull,
    TooLarge,
    RateLimited,
    Unavailable,
    Internal,
    BadRequest,
    BadFrame,
    InvalidId,
    InvalidLimit,
    InvalidMembers,
    InvalidUsername,
    InvalidPassword,
    InvalidDisplayName,
    InvalidName,
    InvalidBody,
    /// v1.1: a thread root that is itself a thread reply.
    InvalidThread,
    /// v1.1: a reaction that is not one emoji or a `:shortcode:`.
    InvalidEmoji,
    /// v1.1: a new emoji on a message that has `rules::MAX_REACTION_EMOJI` already.
    TooManyReactions,
    /// v1.1: an upload's content type outside `gateway.attachments.content_types`.
    InvalidContentType,
    /// v1.1: an attachment that is not the sender's upload for this conversation, or not
    /// in storage as declared.
    InvalidAttachment,
    /// v1.3: a conversation retention outside the operator's limits, or on a direct
    /// conversation.
    InvalidRetention,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::BadCredentials | ErrorCode::WrongPassword => "bad_credentials",
            ErrorCode::NotMember => "not_member",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::GroupFull => "group_full",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::InvalidId => "invalid_id",
            ErrorCode::InvalidLimit => "invalid_limit",
            ErrorCode::InvalidMembers => "invalid_members",
            ErrorCode::InvalidUsername => "invalid_username",
            ErrorCode::InvalidPassword => "invalid_password",
            ErrorCode::InvalidDisplayName => "invalid_display_name",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidThread => "invalid_thread",
            ErrorCode::InvalidEmoji => "invalid_emoji",
            ErrorCode::TooManyReactions => "too_many_reactions",
            ErrorCode::InvalidContentType => "invalid_content_type",
            ErrorCode::InvalidAttachment => "invalid_attachment",
            ErrorCode::InvalidRetention => "invalid_retention",
        }
    }

    /// The HTTP status a REST answer with this code carries.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthenticated | ErrorCode::BadCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::NotMember | ErrorCode::Forbidden | ErrorCode::WrongPassword => {
                StatusCode::FORBIDDEN
            }
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::UsernameTaken | ErrorCode::GroupFull | ErrorCode::TooManyReactions => {
                StatusCode::CONFLICT
            }
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::BadRequest
            | ErrorCode::BadFrame
            | ErrorCode::InvalidId
            | ErrorCode::InvalidLimit
            | ErrorCode::InvalidMembers
            | ErrorCode::InvalidUsername
            | ErrorCode::InvalidPassword
            | ErrorCode::InvalidDisplayName
            | ErrorCode::InvalidName
            | ErrorCode::InvalidBody
            | ErrorCode::InvalidThread
            | ErrorCode::InvalidEmoji
            | ErrorCode::InvalidContentType
            | ErrorCode::InvalidAttachment
            | ErrorCode::InvalidRetention => StatusCode::BAD_REQUEST,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// For `rate_limited`: when to try again (REST: the `Retry-After` header).
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn bad_frame(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadFrame, message)
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorCode::Unauthenticated,
            "a valid bearer token is required",
        )
    }
    /// The one answer a non-member gets, whether or not the conversation exists.
    pub fn not_member() -> Self {
        Self::new(
            ErrorCode::NotMember,
            "you are not a member of this conversation",
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::TooLarge,
            format!("larger than the limit of {limit} bytes"),
        )
    }
    pub fn unavailable(what: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::Unavailable,
            format!("{what}; safe to retry with the same client_msg_id"),
        )
    }
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RateLimited, message)
    }
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

/// The REST edge: the status of the code and the protocol's error body.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("gateway_errors_total", "code" => self.code.as_str()).increment(1);
        let body = json!({ "error": { "code": self.code.as_str(), "message": self.message } });
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: a client that waits this long gets through.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs.max(1)),
            );
        }
        response
    }
}

/// A store failing: logged with its cause, reported to the client as `unavailable`
/// (retryable) without internal detail, except a record this build cannot read, which
/// retrying does not fix.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Redis(_) => {
                tracing::warn!(error = %e, "redis error");
                ApiError::unavailable("presence and dedup store unreachable")
            }
            StoreError::Unreadable { .. } | StoreError::EditedMigration { .. } => {
                tracing::error!(error = %e, "store record unreadable");
                ApiError::internal()
            }
            StoreError::Cql(_) => {
                tracing::warn!(error = %e, "CQL error");
                ApiError::unavailable("history store unreachable")
            }
        }
    }
}

impl From<crate::auth::password::PoolError> for ApiError {
    fn from(e: crate::auth::password::PoolError) -> Self {
        match e {
            // Every hashing thread busy and the queue full: come back in a second.
            crate::auth::password::PoolError::Busy => {
                ApiError::unavailable(e).retry_after(std::time::Duration::from_secs(1))
            }
            crate::auth::password::PoolError::Hash(h) => {
                tracing::error!(error = %h, "hashing failed");
                ApiError::internal()
            }
        }
    }
}

impl From<chat_core::rules::Refusal> for ApiError {
    fn from(r: chat_core::rules::Refusal) -> Self {
        ApiError::new(ErrorCode::Forbidden, r.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_statuses() {
        assert_eq!(ApiError::not_member().status(), StatusCode::FORBIDDEN);
        assert_eq!(
            ApiError::new(ErrorCode::UsernameTaken, "x").status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ApiError::rate_limited("x").status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(ApiError::bad_frame("x").status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::InvalidMembers.as_str(), "invalid_members");
        assert_eq!(
            ApiError::new(ErrorCode::GroupFull, "x").status(),
            StatusCode::CONFLICT
        );
    }
}
