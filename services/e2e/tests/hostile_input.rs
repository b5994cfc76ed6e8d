//! Hostile input a security review found accepted: each is refused, bounded or answered
//! as documented (services/gateway/PROTOCOL.md).

use std::time::Duration;

use chat_e2e::live::{send, Client, LiveStack};
use chat_e2e::*;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Binary frames count against the frame rate like text frames.
#[tokio::test]
async fn binary_frames_are_rate_limited_like_text() {
    let gw = Gateway::start("gw-binary").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let mut ws = Ws::connect(&gw, &alice.token).await;
    for _ in 0..290 {
        ws.send_binary(vec![1, 2, 3]).await;
    }
    let mut codes = Vec::new();
    for _ in 0..290 {
        codes.push(ws.next().await["code"].as_str().unwrap_or("").to_string());
    }
    let limited = codes.iter().filter(|c| *c == "rate_limited").count();
    assert!(limited > 0, "no rate_limited among {codes:?}");
    assert!(codes
        .iter()
        .all(|c| c == "rate_limited" || c == "bad_frame"));
}

/// A text frame that is not UTF-8 closes the socket with 1007 (invalid frame payload).
#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let gw = Gateway::start("gw-utf8").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let mut ws = Ws::connect(&gw, &alice.token).await;
    ws.send_raw_text(vec![b'{', 0xff, 0xfe, b'}']).await;
    assert_eq!(ws.closed().await, Some(1007));
}

/// `before` at the edge of i64 is refused, not wrapped.
#[tokio::test]
async fn negative_history_bounds_are_refused() {
    let gw = Gateway::start("gw-bounds").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let group = create_group(&api, &alice, &[]).await;
    for query in ["before=-9223372036854775808", "before=-1", "after=-2"] {
        let r = api
            .call(
                "GET",
                &format!("/api/v1/conversations/{group}/messages?{query}"),
                Some(&alice.token),
                None,
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "bad_request"), "{query}");
    }
}

/// Token answers tell caches not to keep them.
#[tokio::test]
async fn token_answers_are_not_cached() {
    let gw = Gateway::start("gw-nostore").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let resp = api
        .http
        .post(format!("{}/api/v1/auth", api.base))
        .json(&json!({"username": alice.username, "password": PASSWORD}))
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}

/// A receipt claiming the largest seq is recorded at its own place in the log: the
/// others see it there, and the reader's later real receipts still go through.
#[tokio::test]
async fn a_receipt_beyond_the_log_counts_as_its_end() {
    let stack = LiveStack::start(1, 60, 30).await;
    let api = stack.api(0);
    let ana = sign_up(&api, "ana").await;
    let ben = sign_up(&api, "ben").await;
    let direct = create_direct(&api, &ana, &ben).await;
    let gateway = &stack.gateways[0];
    let mut ana_ws = Client::connect(gateway, &ana, "ana").await;
    let mut ben_ws = Client::connect(gateway, &ben, "ben").await;
    ana_ws.send_and_ack(send(&direct, "m1", "first")).await;

    ben_ws
        .ws
        .send(json!({"type": "read", "conversation_id": direct, "up_to_seq": i64::MAX}))
        .await;
    ana_ws
        .until("ben's read", WAIT, |c| {
            !c.of_kind(&direct, "read").is_empty()
        })
        .await;
    let first = ana_ws.of_kind(&direct, "read")[0].clone();
    let claimed = first["event"]["up_to_seq"].as_i64().expect("up_to_seq");
    assert!(
        claimed <= first["seq"].as_i64().expect("seq"),
        "clamped to the receipt's own seq: {first}"
    );

    let ack = ana_ws.send_and_ack(send(&direct, "m2", "second")).await;
    let m2 = ack["seq"].as_i64().expect("ack seq");
    ben_ws
        .ws
        .send(json!({"type": "read", "conversation_id": direct, "up_to_seq": m2}))
        .await;
    ana_ws
        .until("ben's real read after the claim", WAIT, |c| {
            c.of_kind(&direct, "read")
                .iter()
                .any(|r| r["event"]["up_to_seq"].as_i64() == Some(m2))
        })
        .await;
}
