//! Faults: a dependency dies and comes back. Nothing acknowledged is lost, and live
//! delivery either resumes or tells the client to resync.

use std::time::Duration;

use chat_e2e::live::{send, Client, LiveStack};
use chat_e2e::redis_server::PrivateRedis;
use chat_e2e::{create_direct, sign_up, Ws};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Redis dies (SIGKILL, its data lost) and comes back. Frames published meanwhile are
/// lost and nothing later would show the gap, so every socket that was open is closed
/// with 1012; the client reconnects, syncs, and receives live again.
#[tokio::test]
async fn sockets_open_when_redis_died_are_told_to_resync_and_live_delivery_resumes() {
    let mut redis = PrivateRedis::start();
    let url = redis.url();
    let stack = LiveStack::start_with(1, 60, 30, &[("REDIS_URL", url.as_str())]).await;
    let api = stack.api(0);
    let ana = sign_up(&api, "ana").await;
    let ben = sign_up(&api, "ben").await;
    let direct = create_direct(&api, &ana, &ben).await;
    let gateway = &stack.gateways[0];
    let mut ana_ws = Client::connect(gateway, &ana, "ana").await;
    let mut ben_ws = Client::connect(gateway, &ben, "ben").await;
    ana_ws
        .send_and_ack(send(&direct, "before", "before the outage"))
        .await;
    ben_ws
        .until("the message sent before the outage", WAIT, |c| {
            has_body(c, &direct, "before the outage")
        })
        .await;

    redis.restart();

    assert_eq!(
        ben_ws.ws.closed().await,
        Some(1012),
        "a socket open across the outage is told to reconnect and sync"
    );
    assert_eq!(ana_ws.ws.closed().await, Some(1012));

    let mut ben_ws = Client::connect(gateway, &ben, "ben again").await;
    let mut ana_ws = Client::connect(gateway, &ana, "ana again").await;
    ana_ws
        .send_and_ack(send(&direct, "after", "after the outage"))
        .await;
    ben_ws
        .until("a live message after the outage", WAIT, |c| {
            has_body(c, &direct, "after the outage")
        })
        .await;
}

/// A client that stops reading is disconnected once a megabyte of frames waits for it,
/// instead of the gateway queueing for it without limit; everyone else goes on.
#[tokio::test]
async fn a_reader_that_stops_reading_is_disconnected_and_the_sender_goes_on() {
    // The flood below is 600 frames as fast as acks come back: above the per-connection
    // frame rate (50/s after a burst of 200) whenever the gateway acks in under 20 ms.
    // That limit is not what this test is about, so it is lifted here.
    let stack = LiveStack::start_with(
        1,
        60,
        30,
        &[
            ("CHAT__GATEWAY__FRAMES_PER_SEC", "100000"),
            ("CHAT__GATEWAY__FRAMES_BURST", "100000"),
        ],
    )
    .await;
    let api = stack.api(0);
    let ana = sign_up(&api, "ana").await;
    let ben = sign_up(&api, "ben").await;
    let direct = create_direct(&api, &ana, &ben).await;
    let gateway = &stack.gateways[0];
    let mut ana_ws = Client::connect(gateway, &ana, "ana").await;
    // ben subscribes (his ping is answered) and then never reads again.
    let mut ben_ws = Ws::connect(gateway, &ben.token).await;
    let pong = ben_ws.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong");

    // 15 KB bodies: 600 of them (9 MB) are more than the kernel's socket buffers and the
    // gateway's 1 MiB queue hold.
    let body = "x".repeat(15_000);
    for i in 0..600 {
        ana_ws
            .send_and_ack(send(&direct, &format!("flood-{i}"), &body))
            .await;
    }
    // What is buffered arrives, then the connection ends (no close frame: the gateway
    // dropped it).
    let code = ben_ws.closed().await;
    assert_eq!(code, None, "dropped, not closed with a frame");
    let metrics = gateway.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("gateway_stuck_readers_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    // ana was never held up: every send above was acknowledged while ben was stuck,
    // and the gateway still serves him once he reconnects.
    let mut ben_again = Client::connect(gateway, &ben, "ben again").await;
    ana_ws.send_and_ack(send(&direct, "after", "after")).await;
    ben_again
        .until("a live message after the reconnect", WAIT, |c| {
            has_body(c, &direct, "after")
        })
        .await;
}

fn has_body(c: &Client, conversation: &str, body: &str) -> bool {
    c.of_kind(conversation, "message_sent")
        .iter()
        .any(|e| e["event"]["body"] == body)
}
