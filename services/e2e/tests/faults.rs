//! Faults: a dependency dies and comes back. Nothing acknowledged is lost, and live
//! delivery either resumes or tells the client to resync.

use std::time::Duration;

use chat_e2e::live::{send, Client, LiveStack};
use chat_e2e::redis_server::PrivateRedis;
use chat_e2e::{create_direct, sign_up};

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

fn has_body(c: &Client, conversation: &str, body: &str) -> bool {
    c.of_kind(conversation, "message_sent")
        .iter()
        .any(|e| e["event"]["body"] == body)
}
