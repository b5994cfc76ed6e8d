//! What the browser client needs from the gateway: its built files served at `/` (API
//! routes first, unknown paths falling back to index.html, a clear 404 when it is not
//! built), names for user ids, and read/delivered pointers on history pages.

use std::path::PathBuf;
use std::time::Duration;

use chat_e2e::*;
use serde_json::json;

/// A directory that looks like a built client.
fn built_client() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("web-dist"));
    std::fs::create_dir_all(dir.join("assets")).expect("temp dir");
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><div id=\"root\"></div><script type=\"module\" src=\"/assets/app.js\"></script>",
    )
    .expect("index.html");
    std::fs::write(dir.join("assets/app.js"), "console.log('hi');").expect("app.js");
    dir
}

#[tokio::test]
async fn serves_the_client_and_keeps_the_api_first() {
    let dir = built_client();
    let dir_str = dir.to_string_lossy().to_string();
    let g = Gateway::start_with("web", &[("CHAT__GATEWAY__WEB_DIR", &dir_str)]).await;
    let http = reqwest::Client::new();

    let index = http
        .get(format!("{}/", g.url()))
        .send()
        .await
        .expect("GET /");
    assert_eq!(index.status(), 200);
    let csp = index
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(index
        .text()
        .await
        .unwrap_or_default()
        .contains("id=\"root\""));

    let js = http
        .get(format!("{}/assets/app.js", g.url()))
        .send()
        .await
        .expect("GET asset");
    assert_eq!(js.status(), 200);
    let ct = js
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.contains("javascript"), "{ct}");

    // A path the client routes itself gets index.html.
    let deep = http
        .get(format!("{}/c/some-conversation", g.url()))
        .send()
        .await
        .expect("GET deep link");
    assert_eq!(deep.status(), 200);
    assert!(deep
        .text()
        .await
        .unwrap_or_default()
        .contains("id=\"root\""));

    // Unknown API paths stay JSON errors; the API and operational routes are untouched.
    let api = Api::new(&g);
    let nope = api.call("GET", "/api/v1/nope", None, None).await;
    assert_eq!(nope.status, 404);
    assert_eq!(nope.code(), "not_found");
    let unauth = api.call("GET", "/api/v1/conversations", None, None).await;
    assert_eq!(unauth.status, 401);
    let health = api.call("GET", "/healthz", None, None).await;
    assert_eq!(health.body["status"], "ok");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn says_so_when_the_client_is_not_built() {
    let missing = std::env::temp_dir().join(unique("no-web-dist"));
    let missing = missing.to_string_lossy().to_string();
    let g = Gateway::start_with("noweb", &[("CHAT__GATEWAY__WEB_DIR", &missing)]).await;
    let r = reqwest::get(format!("{}/", g.url())).await.expect("GET /");
    assert_eq!(r.status(), 404);
    let text = r.text().await.unwrap_or_default();
    assert!(text.contains("web client was not built"), "{text}");
    // The gateway itself works as usual.
    let api = Api::new(&g);
    assert_eq!(api.call("GET", "/healthz", None, None).await.status, 200);
    let u = sign_up(&api, "noweb").await;
    assert_eq!(
        api.call("GET", "/api/v1/conversations", Some(&u.token), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn finds_a_user_by_id() {
    let g = Gateway::start("lookup").await;
    let api = Api::new(&g);
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;

    let r = api
        .call(
            "GET",
            &format!("/api/v1/users?user_id={}", bob.id),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["users"],
        json!([{"user_id": bob.id, "username": bob.username, "display_name": "bob"}])
    );
    // By username the answer has the same shape.
    let r = api
        .call(
            "GET",
            &format!("/api/v1/users?username={}", bob.username),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(r.body["users"][0]["display_name"], "bob");

    let unknown = api
        .call(
            "GET",
            &format!("/api/v1/users?user_id={}", uuid::Uuid::new_v4()),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.body["users"], json!([]));
    let bad = api
        .call(
            "GET",
            "/api/v1/users?user_id=not-an-id",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_id"));
    let both = api
        .call(
            "GET",
            &format!("/api/v1/users?user_id={}&username=x", bob.id),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(both.status, 400);
    let anonymous = api
        .call(
            "GET",
            &format!("/api/v1/users?user_id={}", bob.id),
            None,
            None,
        )
        .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn history_pages_carry_each_members_pointers() {
    // Its own topics (as in the harness, src/live.rs), so the fresh projector has only this
    // test's events to read, however long the shared topic has grown.
    let prefix = format!("t{}.", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let env = [
        ("CHAT__KAFKA__TOPIC_PREFIX", prefix.as_str()),
        ("CHAT__KAFKA__PARTITIONS", "3"),
    ];
    chatctl_with(&env, &["init"]);
    let _projector = Projector::start_with("history", &unique("test-receipts"), &env, &[]);
    let g = Gateway::start_with("receipts", &env).await;
    let api = Api::new(&g);
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let c = create_group(&api, &alice, &[&bob]).await;
    let mut a = Ws::connect(&g, &alice.token).await;
    let ack = a.request(send_frame(&c, "r-1", "hello")).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let seq = ack["seq"].as_i64().expect("seq");
    let mut b = Ws::connect(&g, &bob.token).await;
    b.send(json!({"type": "delivered", "conversation_id": c, "up_to_seq": seq}))
        .await;
    b.send(json!({"type": "read", "conversation_id": c, "up_to_seq": seq}))
        .await;
    assert_eq!(b.request(json!({"type": "ping"})).await["type"], "pong");

    let path = format!("/api/v1/conversations/{c}/messages");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = api.call("GET", &path, Some(&alice.token), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let receipts = r.body["receipts"].as_array().cloned().unwrap_or_default();
        let of_bob = receipts.iter().find(|x| x["user_id"] == bob.id.as_str());
        if of_bob.is_some_and(|x| x["read_seq"] == seq && x["delivered_seq"] == seq) {
            assert_eq!(r.body["messages"][0]["body"], "hello");
            // Alice's own pointer moved with her send.
            let of_alice = receipts.iter().find(|x| x["user_id"] == alice.id.as_str());
            assert!(
                of_alice.is_some_and(|x| x["read_seq"] == seq),
                "{receipts:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "receipts never showed bob's pointers: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
