//! Push notifications against the real stack: the notifications role decides who is
//! notified (offline members, mentions through mutes, DMs), coalesces bursts, and the
//! webhook role POSTs signed payloads to a real local HTTP receiver, retrying and then
//! parking on the dead-letter topic.
//!
//! Each test has its own topics (LiveStack's prefix), so everything on its
//! `notifications` and `dead-letter` topics is its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use chat_core::codec::EventCodec;
use chat_core::events::{NotificationReason, NotificationRequested};
use chat_core::topics::Topics;
use chat_e2e::live::{send, Client, LiveStack};
use chat_e2e::{create_direct, create_group, eventually, settings, sign_up, Api, Projector, User};
use hmac::{Hmac, Mac};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};
use sha2::Sha256;

fn topics_of(stack: &LiveStack) -> Topics {
    Topics::new(&format!("t{}.", stack.tag))
}

/// The notifications role of a stack, with a coalescing window of `window_secs`.
fn start_notifications(stack: &LiveStack, window_secs: u64) -> Projector {
    let mut env = stack.env_pairs();
    let window = window_secs.to_string();
    env.push(("CHAT__NOTIFICATIONS__WINDOW_SECS", &window));
    Projector::start_with("notifications", &format!("n-{}", stack.tag), &env, &[])
}

/// One record of a topic, decoded when it is a notification.
struct Record {
    key: String,
    timestamp_ms: i64,
    headers: HashMap<String, String>,
    notification: Option<NotificationRequested>,
}

/// Reads a topic from its beginning.
struct TopicReader {
    consumer: StreamConsumer,
    codec: EventCodec,
    records: Vec<Record>,
    decode: bool,
}

impl TopicReader {
    fn from_beginning(topic: &str, decode: bool) -> TopicReader {
        let s = settings();
        let consumer: StreamConsumer =
            chat_core::kafka::consumer(&s.kafka, "test-reader", &chat_e2e::unique("test-reader"))
                .expect("consumer");
        let md = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let mut tpl = TopicPartitionList::new();
        for p in md.topics()[0].partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .expect("offset");
        }
        consumer.assign(&tpl).expect("assign");
        TopicReader {
            consumer,
            codec: EventCodec::new(&s.registry).expect("codec"),
            records: Vec::new(),
            decode,
        }
    }

    /// Read until `done` holds over what was read (panics after `within`).
    async fn until(&mut self, what: &str, within: Duration, done: impl Fn(&[Record]) -> bool) {
        let deadline = Instant::now() + within;
        while !done(&self.records) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            if let Ok(m) =
                tokio::time::timeout(left.min(Duration::from_millis(500)), self.consumer.recv())
                    .await
            {
                self.push(m.expect("consume").detach()).await;
            }
        }
    }

    /// Everything that arrives until nothing has for `quiet`.
    async fn drain(&mut self, quiet: Duration) {
        while let Ok(m) = tokio::time::timeout(quiet, self.consumer.recv()).await {
            self.push(m.expect("consume").detach()).await;
        }
    }

    async fn push(&mut self, m: rdkafka::message::OwnedMessage) {
        let key = String::from_utf8(m.key().expect("key").to_vec()).expect("utf-8 key");
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let notification = if self.decode {
            let n: NotificationRequested = self
                .codec
                .decode(m.payload().expect("value"))
                .await
                .expect("notifications decode through the registry");
            assert_eq!(key, n.user_id.to_string(), "keyed by recipient");
            Some(n)
        } else {
            None
        };
        self.records.push(Record {
            key,
            timestamp_ms: m.timestamp().to_millis().unwrap_or_default(),
            headers,
            notification,
        });
    }

    fn notifications(&self) -> Vec<&NotificationRequested> {
        self.records
            .iter()
            .filter_map(|r| r.notification.as_ref())
            .collect()
    }
}

fn of_user<'a>(
    list: &[&'a NotificationRequested],
    user: &User,
    conversation: &str,
) -> Vec<&'a NotificationRequested> {
    list.iter()
        .copied()
        .filter(|n| {
            n.user_id.to_string() == user.id && n.conversation_id.to_string() == conversation
        })
        .collect()
}

async fn wait_online(api: &Api, viewer: &User, user: &User) {
    eventually("the presence projection sees the user online", || async {
        let r = api
            .call(
                "GET",
                &format!("/api/v1/users/{}/presence", user.id),
                Some(&viewer.token),
                None,
            )
            .await;
        r.body["status"] == "online"
    })
    .await;
}

async fn mute(api: &Api, user: &User, conversation: &str, on: bool) -> chat_e2e::Reply {
    api.call(
        if on { "PUT" } else { "DELETE" },
        &format!("/api/v1/conversations/{conversation}/mute"),
        Some(&user.token),
        None,
    )
    .await
}

#[tokio::test]
async fn offline_members_are_notified_by_the_rules_and_online_ones_are_not() {
    let stack = LiveStack::start(1, 60, 30).await;
    let _notifications = start_notifications(&stack, 1);
    let api = stack.api(0);
    let ana = sign_up(&api, "ana").await; // sends, online
    let ben = sign_up(&api, "ben").await; // online
    let cat = sign_up(&api, "cat").await; // offline
    let dan = sign_up(&api, "dan").await; // offline, mutes the group
    let eve = sign_up(&api, "eve").await; // not a member
    let group = create_group(&api, &ana, &[&ben, &cat, &dan]).await;

    // Mute: members only; the state reads back.
    let r = mute(&api, &eve, &group, true).await;
    assert_eq!((r.status, r.code()), (403, "not_member"), "{}", r.body);
    let r = mute(&api, &dan, &group, true).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"conversation_id": group, "muted": true}));
    let r = api
        .call(
            "GET",
            &format!("/api/v1/conversations/{group}/mute"),
            Some(&dan.token),
            None,
        )
        .await;
    assert_eq!(r.body["muted"], true, "{}", r.body);

    let mut ana_ws = Client::connect(&stack.gateways[0], &ana, "ana").await;
    let _ben_ws = Client::connect(&stack.gateways[0], &ben, "ben").await;
    wait_online(&api, &ana, &ben).await;
    wait_online(&api, &ben, &ana).await;

    let mut reader = TopicReader::from_beginning(&topics_of(&stack).notifications, true);
    let wait = Duration::from_secs(60);

    // 1. A plain message: only cat (offline, not muted).
    let ack1 = ana_ws.send_and_ack(send(&group, "n-1", "hello team")).await;
    reader
        .until("cat's notification", wait, |r| !r.is_empty())
        .await;
    // 2. A mention of dan: dan despite the mute; cat again (her window has passed by
    //    the time the second is due, so it is a notification of its own).
    let body2 = format!("@{} look at this", dan.username.to_uppercase());
    let ack2 = ana_ws.send_and_ack(send(&group, "n-2", &body2)).await;
    reader
        .until("dan's mention and cat's second", wait, |r| r.len() >= 3)
        .await;
    // 3. dan unmutes: a plain message reaches him (and cat).
    let r = mute(&api, &dan, &group, false).await;
    assert_eq!(r.body["muted"], false, "{}", r.body);
    let ack3 = ana_ws
        .send_and_ack(send(&group, "n-3", "unmuted now"))
        .await;
    reader
        .until("dan's and cat's third", wait, |r| r.len() >= 5)
        .await;
    // 4. A direct message to cat.
    let direct = create_direct(&api, &ana, &cat).await;
    let ack4 = ana_ws.send_and_ack(send(&direct, "n-4", "just you")).await;
    reader.until("cat's DM", wait, |r| r.len() >= 6).await;
    // Nothing else comes.
    reader.drain(Duration::from_secs(4)).await;

    let all = reader.notifications();
    assert_eq!(all.len(), 6, "exactly six notifications: {all:#?}");
    for online_or_sender in [&ana, &ben] {
        assert!(
            all.iter()
                .all(|n| n.user_id.to_string() != online_or_sender.id),
            "no notification for {}: {all:#?}",
            online_or_sender.username
        );
    }
    let cat_group = of_user(&all, &cat, &group);
    let summary: Vec<(String, NotificationReason, i32)> = cat_group
        .iter()
        .map(|n| (n.message_id.to_string(), n.reason, n.coalesced_count))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                ack1["message_id"].as_str().unwrap_or_default().to_string(),
                NotificationReason::Group,
                1
            ),
            (
                ack2["message_id"].as_str().unwrap_or_default().to_string(),
                NotificationReason::Group,
                1
            ),
            (
                ack3["message_id"].as_str().unwrap_or_default().to_string(),
                NotificationReason::Group,
                1
            ),
        ],
        "cat: one group notification per message"
    );
    let dan_group = of_user(&all, &dan, &group);
    let summary: Vec<(String, NotificationReason)> = dan_group
        .iter()
        .map(|n| (n.message_id.to_string(), n.reason))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                ack2["message_id"].as_str().unwrap_or_default().to_string(),
                NotificationReason::Mention
            ),
            (
                ack3["message_id"].as_str().unwrap_or_default().to_string(),
                NotificationReason::Group
            ),
        ],
        "dan: the mention while muted, then the plain message after unmuting"
    );
    let cat_direct = of_user(&all, &cat, &direct);
    assert_eq!(cat_direct.len(), 1, "{all:#?}");
    let dm = cat_direct[0];
    assert_eq!(dm.reason, NotificationReason::Dm);
    // Previews are sealed under the sender's key (v1.2): empty in the clear.
    assert!(
        dm.preview.is_empty() && dm.sealed_preview.is_some(),
        "{dm:?}"
    );
    let keyring = chat_e2e::keyring().await;
    assert_eq!(chat_e2e::preview_of(&keyring, dm).await, "just you");
    assert_eq!(dm.sender_id.to_string(), ana.id);
    assert_eq!(Some(dm.seq), ack4["seq"].as_i64());
    assert_eq!(
        dm.message_id.to_string(),
        ack4["message_id"].as_str().unwrap_or_default()
    );
    assert_eq!(chat_e2e::preview_of(&keyring, dan_group[0]).await, body2);
}

/// v1.1: a reaction notifies the offline author in a direct conversation only, and a
/// mention in a thread reply notifies like one in the main timeline.
#[tokio::test]
async fn reactions_notify_in_direct_conversations_and_thread_mentions_like_any_mention() {
    let stack = LiveStack::start(1, 60, 30).await;
    let _notifications = start_notifications(&stack, 1);
    let api = stack.api(0);
    let ana = sign_up(&api, "ana").await; // reacts, online
    let cat = sign_up(&api, "cat").await; // offline
    let direct = create_direct(&api, &ana, &cat).await;
    let group = create_group(&api, &ana, &[&cat]).await;
    let mut ana_ws = Client::connect(&stack.gateways[0], &ana, "ana").await;
    wait_online(&api, &cat, &ana).await;
    let post = |c: &str, id: &str, body: &str| {
        let path = format!("/api/v1/conversations/{c}/messages");
        let body = json!({"client_msg_id": id, "body": body});
        let api = &api;
        let token = cat.token.clone();
        async move { api.call("POST", &path, Some(&token), Some(body)).await }
    };
    let in_direct = post(&direct, "c-1", "my news").await.body;
    let in_group = post(&group, "c-2", "group news").await.body;
    let mut reader = TopicReader::from_beginning(&topics_of(&stack).notifications, true);
    for (c, m, id) in [(&direct, &in_direct, "r-1"), (&group, &in_group, "r-2")] {
        let ack = ana_ws
            .send_and_ack(json!({"type": "react", "conversation_id": c,
                                 "message_id": m["message_id"], "emoji": "👍",
                                 "op": "add", "client_msg_id": id}))
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    let mut reply = send(&group, "t-1", &format!("@{} in a thread", cat.username));
    reply["thread_root"] = in_group["message_id"].clone();
    let reply_ack = ana_ws.send_and_ack(reply).await;
    let wait = Duration::from_secs(60);
    reader
        .until("two notifications", wait, |r| r.len() >= 2)
        .await;
    reader.drain(Duration::from_secs(4)).await;
    let all = reader.notifications();
    assert_eq!(all.len(), 2, "{all:#?}");
    let reaction = of_user(&all, &cat, &direct);
    assert_eq!(reaction.len(), 1, "{all:#?}");
    assert_eq!(reaction[0].reason, NotificationReason::Reaction);
    assert_eq!(reaction[0].preview, "reacted 👍");
    assert_eq!(reaction[0].sender_id.to_string(), ana.id);
    assert_eq!(
        reaction[0].message_id.to_string(),
        in_direct["message_id"].as_str().unwrap()
    );
    let mention = of_user(&all, &cat, &group);
    assert_eq!(
        mention.len(),
        1,
        "the group reaction notifies nobody: {all:#?}"
    );
    assert_eq!(mention[0].reason, NotificationReason::Mention);
    assert_eq!(
        mention[0].message_id.to_string(),
        reply_ack["message_id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_burst_of_fifty_coalesces_into_one_notification_per_window() {
    const WINDOW_SECS: u64 = 4;
    let stack = LiveStack::start(1, 60, 30).await;
    let _notifications = start_notifications(&stack, WINDOW_SECS);
    let api = stack.api(0);
    let ana = sign_up(&api, "ana").await;
    let cat = sign_up(&api, "cat").await; // offline
    let group = create_group(&api, &ana, &[&cat]).await;
    let mut ana_ws = Client::connect(&stack.gateways[0], &ana, "ana").await;

    let started = Instant::now();
    let mut last_ack = Value::Null;
    for i in 0..50 {
        last_ack = ana_ws
            .send_and_ack(send(&group, &format!("burst-{i}"), &format!("message {i}")))
            .await;
    }
    let sending = started.elapsed();

    let mut reader = TopicReader::from_beginning(&topics_of(&stack).notifications, true);
    let counted = |r: &[Record]| -> i32 {
        r.iter()
            .filter_map(|r| r.notification.as_ref())
            .map(|n| n.coalesced_count)
            .sum()
    };
    reader
        .until(
            "notifications covering all 50 messages",
            Duration::from_secs(90),
            |r| counted(r) >= 50,
        )
        .await;
    reader.drain(Duration::from_secs(WINDOW_SECS + 2)).await;

    let all = reader.notifications();
    assert!(
        all.iter().all(|n| n.user_id.to_string() == cat.id),
        "{all:#?}"
    );
    assert_eq!(
        counted(&reader.records),
        50,
        "every message counted once: {all:#?}"
    );
    // At most one per window: consecutive notifications are a window apart (record
    // timestamps are set when each is produced).
    let stamps: Vec<i64> = reader.records.iter().map(|r| r.timestamp_ms).collect();
    for pair in stamps.windows(2) {
        assert!(
            pair[1] - pair[0] >= (WINDOW_SECS * 1000) as i64 - 5,
            "two notifications within one window: {stamps:?}"
        );
    }
    // The burst took `sending`; it can span at most this many windows, plus the first
    // notification that opened them.
    let most = 2 + (sending.as_secs() / WINDOW_SECS) as usize;
    assert!(
        all.len() <= most && !all.is_empty(),
        "{} notifications for a {sending:?} burst (at most {most}): {all:#?}",
        all.len()
    );
    // The last one is about the last message, and counts everything since the previous.
    let last = all[all.len() - 1];
    assert_eq!(
        last.message_id.to_string(),
        last_ack["message_id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        chat_e2e::preview_of(&chat_e2e::keyring().await, last).await,
        "message 49"
    );
}

/// What the local receiver saw: each request's headers and body.
#[derive(Default)]
struct Received {
    requests: Vec<(HeaderMap, Vec<u8>)>,
    /// Answer 503 instead of 200.
    failing: bool,
}

async fn start_receiver(state: Arc<Mutex<Received>>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hooks/chat", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/hooks/chat",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let mut s = state.lock().expect("receiver state");
                s.requests.push((headers, body.to_vec()));
                if s.failing {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, server)
}

/// Verify a request the way a receiver would: HMAC-SHA256 of `{timestamp}.{body}`.
fn verify(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let (Some(ts), Some(sig)) = (
        headers.get("x-chat-timestamp"),
        headers.get("x-chat-signature"),
    ) else {
        return false;
    };
    let (Ok(ts), Ok(sig)) = (ts.to_str(), sig.to_str()) else {
        return false;
    };
    let Some(hex) = sig.strip_prefix("v1=") else {
        return false;
    };
    let Ok(bytes) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("key");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

#[tokio::test]
async fn the_webhook_posts_signed_payloads_retries_and_parks_what_it_cannot_deliver() {
    const SECRET: &str = "webhook-test-secret";
    let stack = LiveStack::start(1, 60, 30).await;
    let _notifications = start_notifications(&stack, 1);
    let received = Arc::new(Mutex::new(Received::default()));
    let (url, server) = start_receiver(received.clone()).await;
    let mut env = stack.env_pairs();
    env.extend([
        ("CHAT__WEBHOOK__URL", url.as_str()),
        ("CHAT__WEBHOOK__SECRET", SECRET),
        ("CHAT__WEBHOOK__ATTEMPTS", "3"),
        ("CHAT__WEBHOOK__BACKOFF_MS", "200"),
    ]);
    let webhook = Projector::start_with("webhook", &format!("w-{}", stack.tag), &env, &[]);

    let api = stack.api(0);
    let ana = sign_up(&api, "ana").await;
    let cat = sign_up(&api, "cat").await; // offline
    let direct = create_direct(&api, &ana, &cat).await;
    let mut ana_ws = Client::connect(&stack.gateways[0], &ana, "ana").await;

    // 1. Delivered, signed.
    let ack = ana_ws
        .send_and_ack(send(&direct, "w-1", "ping <b>you</b>"))
        .await;
    eventually("the receiver got the notification", || {
        let received = received.clone();
        async move { !received.lock().expect("state").requests.is_empty() }
    })
    .await;
    let (headers, body) = received.lock().expect("state").requests[0].clone();
    assert!(
        verify(SECRET.as_bytes(), &headers, &body),
        "signature verifies: {headers:?}"
    );
    assert!(
        !verify(b"another secret", &headers, &body),
        "and only with the secret"
    );
    let mut tampered = body.clone();
    tampered.push(b' ');
    assert!(
        !verify(SECRET.as_bytes(), &headers, &tampered),
        "a changed body fails"
    );
    let payload: Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(payload["user_id"], cat.id.as_str());
    assert_eq!(payload["conversation_id"], direct.as_str());
    assert_eq!(payload["message_id"], ack["message_id"]);
    assert_eq!(payload["seq"], ack["seq"]);
    assert_eq!(payload["sender_id"], ana.id.as_str());
    assert_eq!(payload["preview"], "ping <b>you</b>");
    assert_eq!(payload["reason"], "dm");
    assert_eq!(payload["count"], 1);
    assert_eq!(
        headers
            .get("x-chat-notification-id")
            .and_then(|v| v.to_str().ok()),
        payload["notification_id"].as_str()
    );

    // 2. The receiver fails: three attempts, then the record is parked.
    received.lock().expect("state").failing = true;
    let mut dead = TopicReader::from_beginning(&topics_of(&stack).dead_letter, false);
    let ack2 = ana_ws.send_and_ack(send(&direct, "w-2", "second")).await;
    dead.until(
        "the failing notification in the dead-letter topic",
        Duration::from_secs(60),
        |r| !r.is_empty(),
    )
    .await;
    let attempts: Vec<Value> = received.lock().expect("state").requests[1..]
        .iter()
        .map(|(_, b)| serde_json::from_slice(b).expect("JSON body"))
        .collect();
    assert_eq!(attempts.len(), 3, "three attempts: {attempts:?}");
    assert!(attempts
        .iter()
        .all(|a| a["message_id"] == ack2["message_id"]));
    let parked = &dead.records[0];
    assert_eq!(parked.key, cat.id, "parked under its own key");
    let reason = parked
        .headers
        .get("dlq.reason")
        .cloned()
        .unwrap_or_default();
    assert!(
        reason.contains("3 attempts") && reason.contains("503"),
        "{reason}"
    );
    assert_eq!(
        parked.headers.get("dlq.source.topic").map(String::as_str),
        Some(topics_of(&stack).notifications.as_str())
    );

    // 3. The receiver is gone altogether: connection failures are retried and parked too.
    server.abort();
    let _ = server.await;
    ana_ws.send_and_ack(send(&direct, "w-3", "third")).await;
    dead.until(
        "the undeliverable notification parked",
        Duration::from_secs(60),
        |r| r.len() >= 2,
    )
    .await;
    let reason = dead.records[1]
        .headers
        .get("dlq.reason")
        .cloned()
        .unwrap_or_default();
    assert!(
        reason.contains("3 attempts") && reason.contains("request failed"),
        "{reason}"
    );
    let metrics = webhook.metrics().await;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    };
    assert_eq!(value("webhook_delivered_total"), 1.0, "{metrics}");
    assert_eq!(value("webhook_parked_total"), 2.0, "{metrics}");
    assert_eq!(
        value("webhook_retries_total"),
        4.0,
        "two retries each: {metrics}"
    );
}
