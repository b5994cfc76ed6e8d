//! `GET /api/v1/ws`: authenticate, then upgrade. A bad or missing credential is refused
//! with 401 before the upgrade, so no unauthenticated socket ever exists.
//!
//! Browsers cannot set headers on a WebSocket, and a token in the URL ends up in proxy
//! logs, so they present a single-use ticket (`POST /api/v1/ws/ticket`) in `?ticket=`.
//! Other clients may send `Authorization: Bearer`. Either way the socket lives until the
//! token's expiry (`ws::connection`).

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::auth::extract::{authenticate, bearer, ensure_not_revoked};
use crate::auth::tokens::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::throttle::ClientAddress;
use crate::ws::connection;

#[derive(Deserialize)]
pub struct WsQuery {
    #[serde(default)]
    ticket: Option<String>,
    /// No longer accepted (it put tokens in URLs); named so the refusal can say why.
    #[serde(default)]
    token: Option<String>,
}

/// Read and write buffer of each WebSocket (see [`upgrade`]).
const SOCKET_BUFFER_BYTES: usize = 4 * 1024;

pub async fn upgrade(
    State(state): State<AppState>,
    ClientAddress(from): ClientAddress,
    Query(q): Query<WsQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let principal = match who(&state, &q, &headers).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let slot = match state.socket_caps.acquire(principal.user_id, from) {
        Ok(slot) => slot,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let max = state.settings.max_frame_bytes;
    // tungstenite's default buffers are 128 KiB, and its reader fills the read buffer's
    // whole capacity with zeros before each read: every idle socket kept ~140 KB
    // resident and each small frame cost a 128 KiB memset. 4 KiB holds a typical frame;
    // larger ones (up to `max`) still arrive, in several reads.
    ws.max_frame_size(max)
        .max_message_size(max)
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(SOCKET_BUFFER_BYTES)
        .on_upgrade(move |socket| connection::run(state, socket, principal, slot))
}

async fn who(state: &AppState, q: &WsQuery, headers: &HeaderMap) -> Result<Principal, ApiError> {
    if let Some(token) = bearer(headers) {
        return authenticate(state, token).await;
    }
    if let Some(ticket) = &q.ticket {
        let principal = state.sign_ins.redeem(ticket).await?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "unknown, used or expired ticket; ask POST /api/v1/ws/ticket for another",
            )
        })?;
        // Signed out between the ticket and the upgrade.
        ensure_not_revoked(state, &principal).await?;
        return Ok(principal);
    }
    if q.token.is_some() {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "tokens are not accepted in the URL; use ?ticket= (POST /api/v1/ws/ticket) or the Authorization header",
        ));
    }
    Err(ApiError::unauthenticated())
}
