//! The browser client: the built files of `services/web` (the `gateway.web_dir`
//! setting), served by the router's fallback, so every API route and the WebSocket keep
//! precedence and the client needs neither a server of its own nor CORS.
//!
//! - `/api` and anything under it that no route matched stays a JSON `not_found`.
//! - A file that exists is served as is; any other path gets `index.html`, because the
//!   client routes in the browser.
//! - Without a built client, `/` answers a plain-text 404 saying so: the API works
//!   without it.

use std::path::Path;
use std::sync::Once;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

use super::health;
use crate::state::AppState;

/// The page may load only its own scripts, styles and images and talk only to its own
/// origin (REST and WebSocket), and, when attachments are on, to the object store's
/// origin (uploads and image previews go straight there). Message bodies are rendered
/// as text, never HTML; this policy is the second line: even injected markup could not
/// run a script or an inline handler, nor send data elsewhere.
fn content_security_policy(storage_origin: Option<&str>) -> String {
    let storage = storage_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data:{storage}; connect-src 'self'{storage}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

const NOT_BUILT: &str = "The web client was not built, so there is nothing to show here.\n\
     Build it with `npm ci && npm run build` in services/web (`infra/dev up` does this),\n\
     or point CHAT__GATEWAY__WEB_DIR at a built client. The API under /api/v1 works as is.\n";

static WARN_NOT_BUILT: Once = Once::new();

pub async fn serve(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        return health::not_found().await.into_response();
    }
    let dir = Path::new(&state.settings.web_dir);
    let index = dir.join("index.html");
    // Checked on every request (one stat) rather than at start-up, so a client built
    // after the gateway started is served without a restart.
    if !tokio::fs::try_exists(&index).await.unwrap_or(false) {
        WARN_NOT_BUILT.call_once(|| {
            tracing::warn!(web_dir = %dir.display(), "no built web client there; / answers 404");
        });
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            NOT_BUILT,
        )
            .into_response();
    }
    let mut files = ServeDir::new(dir).fallback(ServeFile::new(index));
    let mut response = match files.try_call(req).await {
        Ok(r) => r.map(Body::new),
        Err(e) => {
            tracing::warn!(error = %e, "reading the web client's files failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not read the web client\n",
            )
                .into_response();
        }
    };
    let headers = response.headers_mut();
    let origin = state.objects.as_ref().map(|o| o.public_origin());
    let csp = HeaderValue::from_str(&content_security_policy(origin.as_deref()))
        .or_else(|_| HeaderValue::from_str(&content_security_policy(None)));
    if let Ok(csp) = csp {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Revalidate every time (a cheap 304 through Last-Modified): a rebuilt client is
    // picked up at the next load instead of mixing old and new files.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_store_is_the_one_other_origin_allowed() {
        let without = content_security_policy(None);
        assert!(
            without.contains("connect-src 'self';") && without.contains("img-src 'self' data:;")
        );
        let with = content_security_policy(Some("https://b.s3.eu-west-1.amazonaws.com"));
        assert!(with.contains("connect-src 'self' https://b.s3.eu-west-1.amazonaws.com;"));
        assert!(with.contains("img-src 'self' data: https://b.s3.eu-west-1.amazonaws.com;"));
        assert!(with.contains("script-src 'self';"), "scripts stay our own");
    }
}
