//! Errors as clients see them: a stable `code` from PROTOCOL.md, a human message, and
//! for REST a fitting HTTP status. The same [`ApiError`] becomes a WebSocket `error`
//! frame, so REST and WebSocket report a refusal identically.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, message)
    }
    pub fn unauthenticated() -> Self {
        Self::new("unauthenticated", "a valid bearer token is required")
    }
    /// The one answer a non-member gets, whether or not the conversation exists.
    pub fn not_member() -> Self {
        Self::new("not_member", "you are not a member of this conversation")
    }
    pub fn not_found(what: &str) -> Self {
        Self::new("not_found", format!("{what} not found"))
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new("forbidden", message)
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            "too_large",
            format!("larger than the limit of {limit} bytes"),
        )
    }
    pub fn unavailable(what: impl std::fmt::Display) -> Self {
        Self::new(
            "unavailable",
            format!("{what}; safe to retry with the same client_msg_id"),
        )
    }
    pub fn internal() -> Self {
        Self::new("internal", "internal error")
    }

    pub fn status(&self) -> StatusCode {
        match self.code {
            "unauthenticated" | "bad_credentials" => StatusCode::UNAUTHORIZED,
            "not_member" | "forbidden" => StatusCode::FORBIDDEN,
            "not_found" => StatusCode::NOT_FOUND,
            "username_taken" | "conflict" => StatusCode::CONFLICT,
            "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "internal" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("gateway_errors_total", "code" => self.code).increment(1);
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status(), Json(body)).into_response()
    }
}

/// Dependencies failing: logged with their cause, reported to the client as
/// `unavailable` (retryable) without internal detail.
impl From<redis::RedisError> for ApiError {
    fn from(e: redis::RedisError) -> Self {
        tracing::warn!(error = %e, "redis error");
        ApiError::unavailable("presence and dedup store unreachable")
    }
}

impl From<chat_core::cql::CqlError> for ApiError {
    fn from(e: chat_core::cql::CqlError) -> Self {
        tracing::warn!(error = %e, "CQL error");
        ApiError::unavailable("history store unreachable")
    }
}

impl From<chat_history::HistoryError> for ApiError {
    fn from(e: chat_history::HistoryError) -> Self {
        tracing::warn!(error = %e, "history store error");
        ApiError::unavailable("history store unreachable")
    }
}
