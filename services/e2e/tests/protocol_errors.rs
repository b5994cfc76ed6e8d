//! Bad input gets its documented error and the connection stays open; tokens are
//! checked; a gateway whose Kafka is unreachable answers `unavailable`.

use std::time::Duration;

use chat_e2e::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

#[tokio::test]
async fn bad_frames_get_errors_and_the_socket_stays_open() {
    let gw = Gateway::start("gw-frames").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let group = create_group(&api, &alice, &[]).await;
    let mut ws = Ws::connect(&gw, &alice.token).await;

    ws.send_text("this is not json".into()).await;
    let e = ws.next().await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str(), e["ref"].as_str()),
        (Some("error"), Some("bad_frame"), Some("unknown"))
    );
    let e = ws.request(json!({"type": "teleport"})).await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("bad_frame"), Some("teleport"))
    );
    let e = ws
        .request(json!({"type": "send", "client_msg_id": "x1", "body": "no conversation"}))
        .await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("bad_frame"), Some("x1"))
    );
    let e = ws
        .request(json!({"type": "read", "conversation_id": group, "up_to_seq": "five"}))
        .await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("bad_frame"), Some("read"))
    );
    let e = ws
        .request(send_frame(&group, "x2", &"a".repeat(16 * 1024 + 1)))
        .await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("too_large"), Some("x2"))
    );
    let e = ws.request(send_frame(&group, "x3", "   ")).await;
    assert_eq!(e["code"], "invalid_body");
    // Still open and working.
    assert_eq!(ws.request(json!({"type": "ping"})).await["type"], "pong");
    assert_eq!(
        ws.request(send_frame(&group, "x4", "fine")).await["type"],
        "ack"
    );

    // A REST body over the limit.
    let r = api
        .call(
            "POST",
            &format!("/api/v1/conversations/{group}/messages"),
            Some(&alice.token),
            Some(json!({"client_msg_id": "r1", "body": "b".repeat(20_000)})),
        )
        .await;
    assert_eq!((r.status, r.code()), (413, "too_large"));

    // A frame over the WebSocket limit closes the socket (1009: message too big).
    ws.send_text("x".repeat(65 * 1024)).await;
    assert_eq!(ws.closed().await, Some(1009));
}

fn claims(sub: &str, exp: u64) -> serde_json::Value {
    json!({"sub": sub, "iss": "chat-platform", "aud": "chat", "iat": exp.saturating_sub(3600), "exp": exp})
}

#[tokio::test]
async fn missing_expired_and_forged_tokens_are_refused() {
    let gw = Gateway::start("gw-tokens").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let now = jsonwebtoken::get_current_timestamp();

    let none = api.call("GET", "/api/v1/sessions", None, None).await;
    assert_eq!((none.status, none.code()), (401, "unauthenticated"));
    let ok = api
        .call("GET", "/api/v1/sessions", Some(&alice.token), None)
        .await;
    assert_eq!(ok.status, 200);

    let expired = encode(
        &Header::new(Algorithm::HS256),
        &claims(&alice.id, now - 120),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let wrong_key = encode(
        &Header::new(Algorithm::HS256),
        &claims(&alice.id, now + 600),
        &EncodingKey::from_secret(b"not-the-deployment-secret-at-all!!"),
    )
    .unwrap();
    let no_account = encode(
        &Header::new(Algorithm::HS256),
        &claims(&uuid::Uuid::new_v4().to_string(), now + 600),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let payload = alice.token.split('.').nth(1).unwrap();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    let tampered = {
        let parts: Vec<&str> = alice.token.split('.').collect();
        let other = wrong_key.split('.').nth(1).unwrap();
        format!("{}.{}.{}", parts[0], other, parts[2])
    };
    for (name, token) in [
        ("expired", expired),
        ("wrong key", wrong_key),
        ("alg none", alg_none),
        ("tampered", tampered),
        ("garbage", "a.b.c".into()),
        ("no such account", no_account),
    ] {
        let r = api
            .call("GET", "/api/v1/sessions", Some(&token), None)
            .await;
        assert_eq!((r.status, r.code()), (401, "unauthenticated"), "{name}");
        // The WebSocket upgrade is refused with 401 too.
        let resp = upgrade_request(&format!("{}/api/v1/ws", gw.url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{name} over WebSocket");
    }
}

#[tokio::test]
async fn an_unreachable_kafka_is_unavailable_and_safe_to_retry() {
    // A send whose append timed out may be in the log all the same, so its retry waits
    // for the history role to read the log to its end and looks there first: this test
    // has its own topics, keyspace and history role.
    let keyspace = fresh_keyspace().await;
    let prefix = format!("t{}.", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let history_group = unique("test-history");
    let env = [
        ("CHAT__KAFKA__TOPIC_PREFIX", prefix.as_str()),
        ("CHAT__KAFKA__PARTITIONS", "3"),
        ("CHAT__CQL__KEYSPACE", keyspace.as_str()),
        ("CHAT__GATEWAY__HISTORY_GROUP", history_group.as_str()),
    ];
    chatctl_with(&env, &["init"]);
    let _history = Projector::start_with("history", &history_group, &env, &[]);
    let healthy = Gateway::start_with("gw-healthy", &env).await;
    let api = Api::new(&healthy);
    let alice = sign_up(&api, "alice").await;
    let group = create_group(&api, &alice, &[]).await;
    // A gateway whose brokers are unreachable (everything else is real).
    let mut broken_env = env.to_vec();
    broken_env.extend([
        ("KAFKA_BROKERS", "127.0.0.1:1"),
        ("CHAT__KAFKA__DELIVERY_TIMEOUT_MS", "1500"),
    ]);
    let broken = Gateway::start_with("gw-nokafka", &broken_env).await;
    let ops = Api {
        base: broken.ops_url(),
        http: reqwest::Client::new(),
    };
    let ready = ops.call("GET", "/readyz", None, None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["checks"]["kafka"], false);
    let mut ws = Ws::connect(&broken, &alice.token).await;
    let e = ws.request(send_frame(&group, "u1", "into the void")).await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("unavailable"), Some("u1")),
        "{e}"
    );
    // The same client_msg_id through a healthy gateway then succeeds.
    let mut ok_ws = Ws::connect(&healthy, &alice.token).await;
    let ack = tokio::time::timeout(
        Duration::from_secs(30),
        ok_ws.request(send_frame(&group, "u1", "into the void")),
    )
    .await
    .unwrap();
    assert_eq!(ack["type"], "ack", "{ack}");
}
