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
    ws.max_frame_size(max)
        .max_message_size(max)
        .on_upgrade(move |socket| connection::run(state, socket, user))
}
