//! The HTTP surface: REST routes of PROTOCOL.md, the WebSocket upgrade and `/healthz` on
//! the public listener ([`router`]); `/readyz` and `/metrics` only on the internal ops
//! listener ([`ops_router`]), since they tell anyone who asks about the platform's
//! dependencies and traffic.

mod accounts;
mod admin;
mod auth;
mod conversations;
#[cfg(test)]
mod fuzz_rest;
mod health;
mod history;
mod json;
mod management;
mod mutes;
mod presence;
mod reactions;
mod search;
mod sessions;
mod threads;
mod uploads;
mod web;
mod ws;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;

use crate::state::AppState;

pub use json::ApiJson;

pub fn router(state: AppState) -> Router {
    // The request body limit is the frame limit; message bodies are held to the smaller
    // body limit when parsed, so both paths answer `too_large` the same way.
    let body_limit = state.settings.max_frame_bytes;
    let api = Router::new()
        .route(
            "/api/v1/users",
            post(accounts::register).get(accounts::lookup),
        )
        .route("/api/v1/auth", post(auth::sign_in))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/sign-out", post(auth::sign_out))
        .route("/api/v1/users/me/password", put(auth::change_password))
        .route("/api/v1/ws/ticket", post(auth::ws_ticket))
        .route("/api/v1/users/{id}/presence", get(presence::show))
        .route("/api/v1/sessions", get(sessions::list))
        .route(
            "/api/v1/conversations",
            post(conversations::create).get(history::list),
        )
        .route("/api/v1/conversations/{id}", patch(management::rename))
        .route(
            "/api/v1/conversations/{id}/retention",
            put(management::set_retention),
        )
        .route(
            "/api/v1/conversations/{id}/members",
            post(conversations::add_member),
        )
        .route(
            "/api/v1/conversations/{id}/members/{user_id}",
            delete(conversations::remove_member),
        )
        .route(
            "/api/v1/conversations/{id}/mute",
            put(mutes::mute).delete(mutes::unmute).get(mutes::show),
        )
        .route(
            "/api/v1/conversations/{id}/messages",
            post(conversations::send).get(history::page),
        )
        .route(
            "/api/v1/conversations/{id}/messages/{message_id}/reactions/{emoji}",
            put(reactions::add).delete(reactions::remove),
        )
        .route(
            "/api/v1/conversations/{id}/threads/{root}/messages",
            get(threads::page),
        )
        .route(
            "/api/v1/conversations/{id}/pins",
            get(management::list_pins),
        )
        .route("/api/v1/uploads", post(uploads::create))
        .route("/api/v1/search", get(search::search))
        .route(
            "/api/v1/conversations/{id}/attachments/{attachment_id}",
            get(uploads::download),
        )
        .route(
            "/api/v1/conversations/{id}/pins/{message_id}",
            put(management::pin).delete(management::unpin),
        )
        .route("/api/v1/ws", get(ws::upgrade))
        // Every API request counts against its address before anything else is done.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::throttle::by_address,
        ));
    Router::new()
        .merge(api)
        .route("/healthz", get(health::healthz))
        .fallback(web::serve)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// The ops listener (`gateway.ops_host`:`gateway.ops_port`): liveness, readiness and
/// metrics, nothing else.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route(
            "/admin/v1/users/{user_id}/erase",
            axum::routing::post(admin::erase_user),
        )
        .with_state(state)
}
