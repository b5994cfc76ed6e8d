//! `GET /api/v1/ws`: authenticate, then upgrade. A bad or missing token is refused with
//! 401 before the upgrade, so no unauthenticated socket ever exists.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::auth::extract::{authenticate, bearer};
use crate::error::ApiError;
use crate::state::AppState;
use crate::ws::connection;

#[derive(Deserialize)]
pub struct WsQuery {
    /// Browsers cannot set headers on a WebSocket: they pass the token here.
    #[serde(default)]
    token: Option<String>,
}

/// Read and write buffer of each WebSocket (see [`upgrade`]).
const SOCKET_BUFFER_BYTES: usize = 4 * 1024;

pub async fn upgrade(
    State(state): State<AppState>,
    Query(q): Query<WsQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let token = bearer(&headers).map(str::to_string).or(q.token);
    let Some(token) = token else {
        return ApiError::unauthenticated().into_response();
    };
    let user = match authenticate(&state, &token).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
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
        .on_upgrade(move |socket| connection::run(state, socket, user))
}
