//! The browser's refresh cookie. It holds only the refresh token, is `HttpOnly` (no
//! script reads it), `SameSite=Strict` (no other site's page sends it) and scoped to
//! `/api/v1/auth` (no other request carries it). Requests that use it must also carry
//! [`CSRF_HEADER`], which a cross-site form cannot set.
//!
//! Written by hand: one cookie, one attribute set, and a `Cookie` header split on `;`
//! do not justify a cookie crate.

use axum::http::{HeaderMap, HeaderValue};

pub const REFRESH_COOKIE: &str = "chat_refresh";
pub const COOKIE_PATH: &str = "/api/v1/auth";
pub const CSRF_HEADER: &str = "x-chat-csrf";

/// `Set-Cookie` for a refresh token that lives `max_age_secs`.
pub fn set(token: &str, max_age_secs: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{REFRESH_COOKIE}={token}; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .ok()
}

/// `Set-Cookie` that removes the refresh cookie.
pub fn clear(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{REFRESH_COOKIE}=; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The refresh token from the request's cookies, if it carries one.
pub fn read(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// Whether the request carries the anti-forgery header.
pub fn has_csrf_header(headers: &HeaderMap) -> bool {
    headers.contains_key(CSRF_HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_scoped_and_hidden_from_scripts() {
        let v = set("abc", 60, true).unwrap();
        let v = v.to_str().unwrap();
        for part in [
            "chat_refresh=abc",
            "Path=/api/v1/auth",
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=60",
            "Secure",
        ] {
            assert!(v.contains(part), "{v} lacks {part}");
        }
        assert!(!set("abc", 60, false)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Secure"));
        assert!(clear(true).to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn reads_the_refresh_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_static("a=1; chat_refresh=tok.en; b=2"),
        );
        assert_eq!(read(&h).as_deref(), Some("tok.en"));
        h.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_static("chat_refresh="),
        );
        assert_eq!(read(&h), None);
        assert_eq!(read(&HeaderMap::new()), None);
    }
}
