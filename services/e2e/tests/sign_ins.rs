//! Sign-ins after the security review: short-lived access tokens with rotating refresh
//! tokens and reuse detection, the browser's cookie, sign-out, password change and
//! deactivation revoking tokens on every gateway (and closing their sockets), sockets
//! closed when their token expires, single-use WebSocket tickets, and socket caps.

use chat_e2e::*;
use reqwest::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use serde_json::{json, Value};

/// 4001: the socket's token expired. 4003: its sign-in was revoked.
const TOKEN_EXPIRED: u16 = 4001;
const SESSION_REVOKED: u16 = 4003;

struct Answer {
    status: u16,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    fn header(&self, name: reqwest::header::HeaderName) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }
    /// The refresh cookie's value from `Set-Cookie`.
    fn cookie(&self) -> String {
        let set = self.header(SET_COOKIE);
        set.split(';')
            .next()
            .and_then(|kv| kv.strip_prefix("chat_refresh="))
            .unwrap_or("")
            .to_string()
    }
    fn token(&self) -> String {
        self.body["token"].as_str().expect("token").to_string()
    }
}

/// A request with full control over headers.
async fn post(
    api: &Api,
    path: &str,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
    body: Value,
) -> Answer {
    let mut req = api.http.post(format!("{}{path}", api.base)).json(&body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("gateway reachable");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

async fn sign_in(api: &Api, user: &User, password: &str, extra: Value) -> Answer {
    let mut body = json!({"username": user.username, "password": password});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    post(api, "/api/v1/auth", None, &[], body).await
}

async fn refresh_with(api: &Api, refresh_token: &str) -> Answer {
    post(
        api,
        "/api/v1/auth/refresh",
        None,
        &[],
        json!({ "refresh_token": refresh_token }),
    )
    .await
}

/// Whether `token` is accepted by an authenticated route.
async fn accepted(api: &Api, token: &str) -> u16 {
    api.call("GET", "/api/v1/sessions", Some(token), None)
        .await
        .status
}

async fn ping(ws: &mut Ws) {
    assert_eq!(ws.request(json!({"type": "ping"})).await["type"], "pong");
}

#[tokio::test]
async fn a_refresh_token_rotates_and_a_reused_one_ends_the_sign_in() {
    let gw = Gateway::start("gw-refresh").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;

    let first = sign_in(&api, &alice, PASSWORD, json!({})).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header(CACHE_CONTROL), "no-store");
    let r1 = first.body["refresh_token"].as_str().expect("refresh_token");
    assert!(first.body["refresh_expires_at"].is_string());

    let second = refresh_with(&api, r1).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.header(CACHE_CONTROL), "no-store");
    let r2 = second.body["refresh_token"]
        .as_str()
        .expect("a new refresh token");
    assert_ne!(r1, r2, "the refresh token rotates");
    let t2 = second.token();
    assert_eq!(accepted(&api, &t2).await, 200);

    // Another tab presenting the token just replaced gets an access token, not a new
    // refresh token (it keeps the one the first tab stored).
    let grace = refresh_with(&api, r1).await;
    assert_eq!(grace.status, 200, "{}", grace.body);
    assert!(grace.body.get("refresh_token").is_none(), "{}", grace.body);

    let third = refresh_with(&api, r2).await;
    assert_eq!(third.status, 200, "{}", third.body);
    let r3 = third.body["refresh_token"].as_str().expect("refresh_token");

    // r1 is now two rotations old: someone copied it. The whole sign-in ends.
    let reused = refresh_with(&api, r1).await;
    assert_eq!((reused.status, reused.code()), (401, "unauthenticated"));
    assert_eq!(accepted(&api, &t2).await, 401, "its access tokens too");
    assert_eq!(
        refresh_with(&api, r3).await.status,
        401,
        "and its refresh token"
    );
    // The user's other sign-in is not concerned.
    assert_eq!(accepted(&api, &alice.token).await, 200);

    for garbage in ["", "nope", "a.b", &format!("{r3}x")] {
        assert_eq!(refresh_with(&api, garbage).await.status, 401, "{garbage:?}");
    }
}

#[tokio::test]
async fn browsers_keep_the_refresh_token_in_a_strict_http_only_cookie() {
    let gw = Gateway::start("gw-cookie").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;

    let signed_in = sign_in(&api, &alice, PASSWORD, json!({"session": "cookie"})).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    assert!(
        signed_in.body.get("refresh_token").is_none(),
        "scripts never see the refresh token: {}",
        signed_in.body
    );
    let set = signed_in.header(SET_COOKIE);
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/v1/auth",
        "Secure",
        "Max-Age=",
    ] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
    let cookie = format!("chat_refresh={}", signed_in.cookie());

    // The cookie alone is not enough: a cross-site form cannot add the header.
    let forged = post(
        &api,
        "/api/v1/auth/refresh",
        None,
        &[("cookie", &cookie)],
        json!({}),
    )
    .await;
    assert_eq!((forged.status, forged.code()), (403, "forbidden"));

    let csrf = ("x-chat-csrf", "1");
    let refreshed = post(
        &api,
        "/api/v1/auth/refresh",
        None,
        &[(COOKIE.as_str(), &cookie), csrf],
        json!({}),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert!(refreshed.body.get("refresh_token").is_none());
    let rotated = format!("chat_refresh={}", refreshed.cookie());
    assert_ne!(rotated, cookie, "the cookie rotates");

    let out = post(
        &api,
        "/api/v1/auth/sign-out",
        Some(&refreshed.token()),
        &[],
        json!({}),
    )
    .await;
    assert_eq!(out.status, 204);
    assert!(
        out.header(SET_COOKIE).contains("Max-Age=0"),
        "the cookie is cleared"
    );
    let after = post(
        &api,
        "/api/v1/auth/refresh",
        None,
        &[(COOKIE.as_str(), &rotated), csrf],
        json!({}),
    )
    .await;
    assert_eq!(after.status, 401, "{}", after.body);
    assert!(after.header(SET_COOKIE).contains("Max-Age=0"));
}

#[tokio::test]
async fn signing_out_refuses_the_token_on_every_gateway_and_closes_its_sockets() {
    let gw1 = Gateway::start("gw-out-1").await;
    let gw2 = Gateway::start("gw-out-2").await;
    let (api1, api2) = (Api::new(&gw1), Api::new(&gw2));
    let alice = sign_up(&api1, "alice").await;
    let other = sign_in(&api1, &alice, PASSWORD, json!({})).await.token();

    let mut ws_this = Ws::connect(&gw2, &other).await;
    let mut ws_other = Ws::connect(&gw2, &alice.token).await;
    ping(&mut ws_this).await;

    let out = post(&api1, "/api/v1/auth/sign-out", Some(&other), &[], json!({})).await;
    assert_eq!(out.status, 204, "{}", out.body);
    assert_eq!(
        accepted(&api2, &other).await,
        401,
        "refused on the other gateway"
    );
    assert_eq!(ws_this.closed().await, Some(SESSION_REVOKED));
    ping(&mut ws_other).await;
    assert_eq!(accepted(&api2, &alice.token).await, 200);

    let everywhere = post(
        &api2,
        "/api/v1/auth/sign-out",
        Some(&alice.token),
        &[],
        json!({"everywhere": true}),
    )
    .await;
    assert_eq!(everywhere.status, 204);
    assert_eq!(ws_other.closed().await, Some(SESSION_REVOKED));
    assert_eq!(accepted(&api1, &alice.token).await, 401);
    // A new sign-in works.
    let again = sign_in(&api1, &alice, PASSWORD, json!({})).await;
    assert_eq!(accepted(&api2, &again.token()).await, 200);
}

#[tokio::test]
async fn a_password_change_ends_every_sign_in() {
    let gw = Gateway::start("gw-password").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let second = sign_in(&api, &alice, PASSWORD, json!({})).await;
    let mut ws = Ws::connect(&gw, &second.token()).await;
    let refresh = second.body["refresh_token"].as_str().expect("refresh");

    let change = |current: &str| json!({"current_password": current, "new_password": "another horse, stapled"});
    let wrong = api
        .call(
            "PUT",
            "/api/v1/users/me/password",
            Some(&alice.token),
            Some(change("not it at all")),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (403, "bad_credentials"));
    assert_eq!(
        accepted(&api, &alice.token).await,
        200,
        "nothing revoked yet"
    );

    let changed = api
        .call(
            "PUT",
            "/api/v1/users/me/password",
            Some(&alice.token),
            Some(change(PASSWORD)),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    assert_eq!(ws.closed().await, Some(SESSION_REVOKED));
    assert_eq!(accepted(&api, &alice.token).await, 401);
    assert_eq!(accepted(&api, &second.token()).await, 401);
    assert_eq!(refresh_with(&api, refresh).await.status, 401);

    let old = sign_in(&api, &alice, PASSWORD, json!({})).await;
    assert_eq!((old.status, old.code()), (401, "bad_credentials"));
    let new = sign_in(&api, &alice, "another horse, stapled", json!({})).await;
    assert_eq!(new.status, 200, "{}", new.body);
    assert_eq!(accepted(&api, &new.token()).await, 200);
}

#[tokio::test]
async fn a_socket_closes_when_its_token_expires_unless_it_reauthenticates() {
    let gw = Gateway::start_with(
        "gw-expiry",
        &[("CHAT__GATEWAY__AUTH__ACCESS_TTL_SECS", "4")],
    )
    .await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let signed_in = sign_in(&api, &alice, PASSWORD, json!({})).await;
    let refresh = signed_in.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let mut plain = Ws::connect(&gw, &signed_in.token()).await;
    let mut extended = Ws::connect(&gw, &signed_in.token()).await;

    // Two seconds later the fresh token expires two seconds after the first one.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let fresh = refresh_with(&api, &refresh).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let answer = extended
        .request(json!({"type": "auth", "token": fresh.token()}))
        .await;
    assert_eq!(answer["type"], "authenticated", "{answer}");
    assert_eq!(answer["expires_at"], fresh.body["expires_at"]);

    // A token that is not a valid one leaves the socket as it was.
    let refused = extended
        .request(json!({"type": "auth", "token": "not.a.token"}))
        .await;
    assert_eq!(refused["code"], "unauthenticated", "{refused}");

    assert_eq!(plain.closed().await, Some(TOKEN_EXPIRED));
    ping(&mut extended).await;
    assert_eq!(extended.closed().await, Some(TOKEN_EXPIRED));
}

#[tokio::test]
async fn websocket_tickets_are_single_use_and_tokens_stay_out_of_urls() {
    let gw = Gateway::start("gw-ticket").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;

    let issued = post(
        &api,
        "/api/v1/ws/ticket",
        Some(&alice.token),
        &[],
        json!({}),
    )
    .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert_eq!(issued.header(CACHE_CONTROL), "no-store");
    let ticket = issued.body["ticket"].as_str().expect("ticket").to_string();
    let mut ws = Ws::connect_with_ticket(&gw, &ticket).await;
    ping(&mut ws).await;
    assert_eq!(
        Ws::try_connect(&gw, None, Some(&ticket)).await.err(),
        Some(401),
        "a ticket opens one socket"
    );
    assert_eq!(
        Ws::try_connect(&gw, None, Some("0123")).await.err(),
        Some(401)
    );
    assert_eq!(Ws::try_connect(&gw, None, None).await.err(), Some(401));

    // The token in the query string, as browsers used to send it, is refused.
    let in_url = upgrade_request(&format!("{}/api/v1/ws?token={}", gw.url(), alice.token))
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(in_url.status().as_u16(), 401);
    let text = in_url.text().await.unwrap_or_default();
    assert!(
        text.contains("ticket"),
        "the refusal says what to do: {text}"
    );

    // A ticket from a sign-in that ended before the upgrade opens nothing.
    let other = sign_in(&api, &alice, PASSWORD, json!({})).await.token();
    let late = post(&api, "/api/v1/ws/ticket", Some(&other), &[], json!({})).await;
    let late = late.body["ticket"].as_str().expect("ticket").to_string();
    let out = post(&api, "/api/v1/auth/sign-out", Some(&other), &[], json!({})).await;
    assert_eq!(out.status, 204);
    assert_eq!(
        Ws::try_connect(&gw, None, Some(&late)).await.err(),
        Some(401)
    );
}

#[tokio::test]
async fn a_deactivated_account_is_refused_until_reactivated() {
    let gw = Gateway::start("gw-deactivate").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let signed_in = sign_in(&api, &alice, PASSWORD, json!({})).await;
    let refresh = signed_in.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let mut ws = Ws::connect(&gw, &alice.token).await;

    chatctl(&["users", "deactivate", "--username", &alice.username]);
    assert_eq!(ws.closed().await, Some(SESSION_REVOKED));
    assert_eq!(accepted(&api, &alice.token).await, 401);
    assert_eq!(refresh_with(&api, &refresh).await.status, 401);
    let refused = sign_in(&api, &alice, PASSWORD, json!({})).await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    let wrong = sign_in(&api, &alice, "wrong password!", json!({})).await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (401, "bad_credentials"),
        "deactivation is told only to who knows the password"
    );

    chatctl(&["users", "reactivate", "--username", &alice.username]);
    assert_eq!(
        accepted(&api, &alice.token).await,
        401,
        "old tokens stay refused"
    );
    let back = sign_in(&api, &alice, PASSWORD, json!({})).await;
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(accepted(&api, &back.token()).await, 200);
}

#[tokio::test]
async fn sockets_are_capped_per_user_and_per_address() {
    let gw = Gateway::start_with(
        "gw-socket-caps",
        &[
            ("CHAT__GATEWAY__MAX_SOCKETS_PER_USER", "2"),
            ("CHAT__GATEWAY__MAX_SOCKETS_PER_ADDRESS", "3"),
        ],
    )
    .await;
    let api = Api::new(&gw);
    let (alice, bob, carol) = (
        sign_up(&api, "alice").await,
        sign_up(&api, "bob").await,
        sign_up(&api, "carol").await,
    );
    let mut first = Ws::connect(&gw, &alice.token).await;
    let _second = Ws::connect(&gw, &alice.token).await;
    assert_eq!(
        Ws::try_connect(&gw, Some(&alice.token), None).await.err(),
        Some(429),
        "a third socket for one user"
    );
    let _bobs = Ws::connect(&gw, &bob.token).await;
    assert_eq!(
        Ws::try_connect(&gw, Some(&carol.token), None).await.err(),
        Some(429),
        "a fourth socket from one address"
    );

    // A closed socket gives its place back.
    first.close().await;
    eventually("a closed socket's slot is given back", || async {
        Ws::try_connect(&gw, Some(&carol.token), None).await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn password_guesses_per_account_are_counted_across_gateways() {
    let gw1 = Gateway::start("gw-guess-1").await;
    let gw2 = Gateway::start("gw-guess-2").await;
    let (api1, api2) = (Api::new(&gw1), Api::new(&gw2));
    let alice = sign_up(&api1, "alice").await;
    // The account's burst is 10 sign-ins (the sign-up's own sign-in was one), spent on
    // the first gateway...
    for _ in 0..9 {
        let r = sign_in(&api1, &alice, "a wrong guess", json!({})).await;
        assert_eq!(r.code(), "bad_credentials");
    }
    // ... so the second gateway refuses the next guess, even the right password.
    let refused = sign_in(&api2, &alice, PASSWORD, json!({})).await;
    assert_eq!((refused.status, refused.code()), (429, "rate_limited"));
    assert!(!refused.header(reqwest::header::RETRY_AFTER).is_empty());
}
