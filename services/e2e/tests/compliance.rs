//! v1.2 compliance against the real stack: erasure by crypto-shredding (nothing a user
//! wrote is readable anywhere afterwards), legal holds, retention and export; v1.3 a
//! group's own retention.
//!
//! "Anywhere" is checked place by place: the history the gateway serves, the search
//! index, the notifications topic, the dead-letter topic, Redis, a fresh rebuild of
//! history from the log, and the raw bytes of every topic as a stock consumer reads
//! them.

use std::sync::Arc;
use std::time::Duration;

use chat_core::codec::EventCodec;
use chat_core::events::{
    ConversationEvent, MessageKind, MessageSent, NotificationRequested, Payload,
};
use chat_core::ids::{ConversationId, MessageId, UserId};
use chat_core::time::UnixMillis;
use chat_core::topics::Topics;
use chat_e2e::live::LiveStack;
use chat_e2e::*;
use chat_store::keyring::Opened;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

/// A live stack with a search node and the notifications role.
struct Stack {
    live: LiveStack,
    /// The search node's own port: its index is asked directly, not only through the
    /// gateway (which also hides erased messages).
    search_port: u16,
    _search: Projector,
    _notifications: Projector,
    topics: Topics,
}

impl Stack {
    async fn start(extra: &[(&str, &str)]) -> Stack {
        let search_port = free_port();
        let dir = target_tmp_dir().join(format!("search-{}", unique("erase")));
        let url = format!("http://127.0.0.1:{search_port}");
        let port = search_port.to_string();
        let dir = dir.to_string_lossy().into_owned();
        let mut env = vec![
            ("CHAT__GATEWAY__SEARCH_URLS", url.as_str()),
            ("CHAT__SEARCH__PORT", port.as_str()),
            ("CHAT__SEARCH__DIR", dir.as_str()),
            ("CHAT__NOTIFICATIONS__WINDOW_SECS", "1"),
            // Processes keep unwrapped keys this long: an erasure reaches them within it
            // (60 s by default; short here so the test need not wait).
            ("CHAT__COMPLIANCE__KEY_CACHE_SECS", "1"),
        ];
        env.extend_from_slice(extra);
        let live = LiveStack::start_with(1, 60, 3600, &env).await;
        let search =
            Projector::start_with("search", &format!("s-{}", live.tag), &live.env_pairs(), &[]);
        let notifications = Projector::start_with(
            "notifications",
            &format!("n-{}", live.tag),
            &live.env_pairs(),
            &[],
        );
        let topics = Topics::new(&format!("t{}.", live.tag));
        Stack {
            live,
            search_port,
            _search: search,
            _notifications: notifications,
            topics,
        }
    }

    /// How many documents of `conversation` the search node's index matches for `q`.
    async fn indexed(&self, q: &str, conversation: &str) -> usize {
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/search", self.search_port))
            .json(&json!({"q": q, "conversation_ids": [conversation], "limit": 50, "before": null}))
            .send()
            .await
            .expect("the search node answers");
        assert!(r.status().is_success(), "{}", r.status());
        let body: Value = r.json().await.expect("JSON");
        body["hits"].as_array().map_or(0, Vec::len)
    }

    /// Wait until the index matches `n` documents for `q`.
    async fn indexed_until(&self, q: &str, conversation: &str, n: usize) {
        let mut last = 0;
        for _ in 0..300 {
            last = self.indexed(q, conversation).await;
            if last == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the index matched {last} documents for {q:?}, not {n}");
    }

    fn chatctl(&self, args: &[&str]) -> String {
        chatctl_with(&self.live.env_pairs(), args)
    }

    /// chatctl's exit status and stderr, for commands that must fail.
    fn chatctl_refused(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(workspace_binary("chatctl"))
            .args(args)
            .envs(self.live.env_pairs())
            .output()
            .expect("run chatctl");
        assert!(!out.status.success(), "chatctl {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

async fn page(api: &Api, user: &User, c: &str) -> Vec<Value> {
    let r = api
        .call(
            "GET",
            &format!("/api/v1/conversations/{c}/messages?limit=50"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["messages"].as_array().cloned().unwrap_or_default()
}

/// The page once `done` holds of it (history trails the log).
async fn page_until(
    api: &Api,
    user: &User,
    c: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..300 {
        let messages = page(api, user, c).await;
        if done(&messages) {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "history never showed {what}: {:?}",
        page(api, user, c).await
    );
}

fn bodies(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m["body"].as_str().map(str::to_string))
        .collect()
}

async fn search_bodies(api: &Api, user: &User, q: &str) -> Option<Vec<String>> {
    let r = api
        .call(
            "GET",
            &format!("/api/v1/search?q={q}"),
            Some(&user.token),
            None,
        )
        .await;
    (r.status == 200).then(|| {
        r.body["results"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x["message"]["body"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    })
}

async fn search_until(api: &Api, user: &User, q: &str, expected: &[&str]) {
    let mut last = None;
    for _ in 0..300 {
        last = search_bodies(api, user, q).await;
        if last.as_deref().is_some_and(|b| b == expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("search {q:?} never found {expected:?}; last {last:?}");
}

/// Every record of `topic` from its beginning to where it ends now, raw.
async fn raw_records(topic: &str) -> Vec<Vec<u8>> {
    let s = settings();
    let consumer =
        chat_core::kafka::consumer(&s.kafka, "test-raw", &unique("test-raw")).expect("consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    let mut left = 0i64;
    for p in md.topics()[0].partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
            .expect("watermarks");
        left += high - low;
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .expect("offset");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    while left > 0 {
        let m = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
            .await
            .expect("the topic answers")
            .expect("consume");
        out.push(m.payload().unwrap_or_default().to_vec());
        left -= 1;
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Whether any topic of the stack holds `marker` in its raw bytes.
async fn any_topic_holds(topics: &Topics, marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for topic in [
        &topics.conversation_events,
        &topics.notifications,
        &topics.dead_letter,
    ] {
        if raw_records(topic).await.iter().any(|r| contains(r, marker)) {
            found.push(topic.clone());
        }
    }
    found
}

/// Every Redis key whose value holds `marker`, of whatever type.
async fn redis_keys_holding(marker: &str) -> Vec<String> {
    let s = settings();
    let client = redis::Client::open(s.redis.url.expose()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis reachable");
    let mut cursor: u64 = 0;
    let mut found = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("scan");
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .expect("type");
            let values: Vec<Vec<u8>> = match kind.as_str() {
                "string" => redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<Vec<u8>>>(&mut conn)
                    .await
                    .ok()
                    .flatten()
                    .into_iter()
                    .collect(),
                "hash" => redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default(),
                "list" => redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default(),
                "set" => redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default(),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default(),
                "stream" => {
                    let v: redis::Value = redis::cmd("XRANGE")
                        .arg(&key)
                        .arg("-")
                        .arg("+")
                        .query_async(&mut conn)
                        .await
                        .unwrap_or(redis::Value::Nil);
                    vec![format!("{v:?}").into_bytes()]
                }
                _ => vec![],
            };
            if values.iter().any(|v| contains(v, marker)) || contains(key.as_bytes(), marker) {
                found.push(key);
            }
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    found
}

/// The dead-letter topic's records, decoded as the events they park.
async fn dead_letters(topics: &Topics) -> Vec<ConversationEvent> {
    let codec = EventCodec::new(&settings().registry).expect("codec");
    let mut out = Vec::new();
    for r in raw_records(&topics.dead_letter).await {
        if let Ok(e) = codec.decode::<ConversationEvent>(&r).await {
            out.push(e);
        }
    }
    out
}

/// Append `event` as the gateway would, sealed with the platform's keys.
async fn append_sealed(
    topics: &Topics,
    keyring: &chat_store::keyring::Keyring,
    mut event: ConversationEvent,
) {
    keyring.seal_event(&mut event).await.expect("seals");
    assert!(event.sealed.is_some());
    let s = settings();
    let codec = EventCodec::new(&s.registry).expect("codec");
    let bytes = codec
        .encode(&topics.conversation_events, &event)
        .await
        .expect("encodes");
    let producer = chat_core::kafka::producer(&s.kafka, "test-compliance").expect("producer");
    producer
        .send(
            FutureRecord::to(&topics.conversation_events)
                .key(&event.conversation_id.to_string())
                .payload(&bytes),
            Duration::from_secs(10),
        )
        .await
        .expect("appended");
}

fn message(c: &str, actor: &User, at: UnixMillis, body: &str) -> ConversationEvent {
    ConversationEvent {
        event_id: uuid::Uuid::new_v4(),
        conversation_id: c.parse::<ConversationId>().expect("conversation id"),
        actor_id: actor.id.parse::<UserId>().expect("user id"),
        occurred_at: at,
        gateway_id: "test".into(),
        payload: Payload::MessageSent(MessageSent {
            message_id: MessageId::new_random(),
            client_msg_id: unique("m"),
            kind: MessageKind::Text,
            body: body.into(),
            reply_to: None,
            attachments: vec![],
            thread_root: None,
        }),
        sealed: None,
    }
}

async fn notifications_of(topics: &Topics) -> Vec<NotificationRequested> {
    let codec = EventCodec::new(&settings().registry).expect("codec");
    let mut out = Vec::new();
    for r in raw_records(&topics.notifications).await {
        out.push(
            codec
                .decode::<NotificationRequested>(&r)
                .await
                .expect("decodes"),
        );
    }
    out
}

fn export_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

#[tokio::test]
async fn an_erased_user_has_no_readable_words_left_anywhere() {
    let s = Stack::start(&[]).await;
    let mut audit = AuditTap::on_topic(&s.topics.audit);
    let api = s.live.api(0);
    let g = &s.live.gateways[0];
    let keyring = keyring().await;
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let carol = sign_up(&api, "carol").await; // never online: notified
    let team = create_group(&api, &alice, &[&bob, &carol]).await;
    until_listed(&api, &bob, &team).await;
    let marker = unique("zq").replace('-', "");
    let edited_marker = unique("zq").replace('-', "");
    let bobs = unique("zq").replace('-', "");

    let mut a = Ws::connect(g, &alice.token).await;
    let first = a
        .request(send_frame(&team, "a1", &format!("{marker} first words")))
        .await;
    assert_eq!(first["type"], "ack", "{first}");
    let edit = a
        .request(
            json!({"type": "edit", "conversation_id": team, "message_id": first["message_id"],
            "body": format!("{edited_marker} edited words"), "client_msg_id": "a2"}),
        )
        .await;
    assert_eq!(edit["type"], "ack", "{edit}");
    let mut b = Ws::connect(g, &bob.token).await;
    let reply = b
        .request(send_frame(&team, "b1", &format!("{bobs} from bob")))
        .await;
    assert_eq!(reply["type"], "ack", "{reply}");
    // A record of alice's the history projection refuses (an edit of a message that
    // does not exist): it is parked on the dead-letter topic as it was written.
    append_sealed(
        &s.topics,
        &keyring,
        ConversationEvent {
            payload: Payload::MessageEdited {
                message_id: MessageId::new_random(),
                client_msg_id: "ghost".into(),
                body: format!("{marker} in a dead letter"),
            },
            ..message(&team, &alice, UnixMillis::now(), "")
        },
    )
    .await;

    // Before: everything readable where it should be, nothing in the clear at rest.
    let before = page_until(&api, &bob, &team, "both messages", |m| {
        bodies(m).contains(&format!("{edited_marker} edited words"))
            && bodies(m).contains(&format!("{bobs} from bob"))
    })
    .await;
    assert!(
        before.iter().all(|m| m.get("erased").is_none()),
        "{before:?}"
    );
    search_until(
        &api,
        &bob,
        &edited_marker,
        &[&format!("{edited_marker} edited words")],
    )
    .await;
    eventually("carol's notification of alice's message", || async {
        notifications_of(&s.topics)
            .await
            .iter()
            .any(|n| n.sender_id.to_string() == alice.id)
    })
    .await;
    let n = notifications_of(&s.topics)
        .await
        .into_iter()
        .find(|n| n.sender_id.to_string() == alice.id)
        .expect("notified");
    assert!(n.preview.is_empty(), "{n:?}");
    assert_eq!(
        preview_of(&keyring, &n).await,
        format!("{marker} first words")
    );
    eventually("the refused record in the dead-letter topic", || async {
        dead_letters(&s.topics)
            .await
            .iter()
            .any(|e| e.actor_id.to_string() == alice.id)
    })
    .await;
    for m in [&marker, &edited_marker] {
        assert_eq!(
            any_topic_holds(&s.topics, m).await,
            Vec::<String>::new(),
            "{m} in the clear"
        );
        assert_eq!(
            redis_keys_holding(m).await,
            Vec::<String>::new(),
            "{m} in Redis"
        );
    }
    let exported = s.chatctl(&["export", "--conversation", &team]);
    let lines = export_lines(&exported);
    let kinds: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap_or(""),
                l["body"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("message_sent", format!("{marker} first words").as_str()),
            (
                "message_edited",
                format!("{edited_marker} edited words").as_str()
            ),
            ("message_sent", format!("{bobs} from bob").as_str()),
            // The log as written: also what a projection refused.
            (
                "message_edited",
                format!("{marker} in a dead letter").as_str()
            ),
        ],
        "{exported}"
    );

    // Erase.
    let out = s.chatctl(&["users", "erase", "--username", &alice.username]);
    assert!(out.contains("erased"), "{out}");

    // History: alice's message is erased, bob's is not.
    let after = page_until(&api, &bob, &team, "alice's message erased", |m| {
        m.iter().any(|m| m["erased"] == true)
    })
    .await;
    let alices: Vec<&Value> = after
        .iter()
        .filter(|m| m["sender_id"] == alice.id.as_str())
        .collect();
    assert_eq!(alices.len(), 1, "{after:?}");
    assert_eq!(alices[0]["body"], Value::Null);
    assert_eq!(bodies(&after), [format!("{bobs} from bob")]);
    // A sync replays her message as erased too.
    let mut bob_again = Ws::connect(g, &bob.token).await;
    bob_again
        .send(json!({"type": "sync", "positions": {team.clone(): -1}}))
        .await;
    let mut replayed = Vec::new();
    loop {
        let f = bob_again.next().await;
        match f["type"].as_str() {
            Some("synced") => break,
            Some("event") if f["event"]["kind"] == "message_sent" => replayed.push(f),
            _ => {}
        }
    }
    let hers: Vec<&Value> = replayed
        .iter()
        .filter(|f| f["event"]["sender_id"] == alice.id.as_str())
        .collect();
    assert_eq!(hers.len(), 1, "{replayed:?}");
    assert_eq!(hers[0]["event"]["erased"], true);
    assert_eq!(hers[0]["event"]["body"], Value::Null);
    // Search: none of her words; bob's still there.
    search_until(&api, &bob, &edited_marker, &[]).await;
    search_until(&api, &bob, &marker, &[]).await;
    // Not merely hidden by the gateway: gone from the index.
    s.indexed_until(&edited_marker, &team, 0).await;
    s.indexed_until(&bobs, &team, 1).await;
    search_until(&api, &bob, &bobs, &[&format!("{bobs} from bob")]).await;
    // The log, the notification and the dead letter no longer open.
    let fresh = keyring_after_erasure().await;
    let events: Vec<ConversationEvent> = {
        let codec = EventCodec::new(&settings().registry).expect("codec");
        let mut out = Vec::new();
        for r in raw_records(&s.topics.conversation_events).await {
            if let Ok(e) = codec.decode::<ConversationEvent>(&r).await {
                out.push(e);
            }
        }
        out
    };
    let hers: Vec<&ConversationEvent> = events
        .iter()
        .filter(|e| e.actor_id.to_string() == alice.id && e.sealed.is_some())
        .collect();
    assert_eq!(hers.len(), 3, "sent, edited, and the refused edit");
    for e in hers {
        let mut e = e.clone();
        assert_eq!(
            fresh.open_event(&mut e).await.expect("answers"),
            Opened::Erased
        );
    }
    assert_eq!(
        preview_of(&fresh, &n).await,
        "",
        "the notification's preview"
    );
    for mut e in dead_letters(&s.topics)
        .await
        .into_iter()
        .filter(|e| e.actor_id.to_string() == alice.id)
    {
        assert_eq!(
            fresh.open_event(&mut e).await.expect("answers"),
            Opened::Erased
        );
    }
    assert!(
        events.iter().any(|e| matches!(&e.payload, Payload::ContentErased { user_id } if user_id.to_string() == alice.id)),
        "ContentErased is in the log"
    );
    for m in [&marker, &edited_marker] {
        assert_eq!(any_topic_holds(&s.topics, m).await, Vec::<String>::new());
        assert_eq!(redis_keys_holding(m).await, Vec::<String>::new());
    }
    // A fresh rebuild of history from the log holds nothing of hers in the clear.
    let rebuilt = format!(
        "test_er_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let out = s.chatctl(&["rebuild", "history", "--keyspace", &rebuilt]);
    assert!(out.contains("rebuilt"), "{out}");
    let session = Arc::new(chat_core::cql::connect(&settings().cql).await.expect("cql"));
    let rebuilt_history = chat_store::HistoryStore::new(session, &rebuilt)
        .await
        .expect("history")
        .with_keyring(Arc::new(keyring_after_erasure().await));
    let page = rebuilt_history
        .page(team.parse().expect("uuid"), None, None, 50)
        .await
        .expect("page");
    let sent: Vec<(bool, Option<String>)> = page
        .messages
        .iter()
        .map(|m| (m.erased, m.body.clone()))
        .collect();
    assert_eq!(
        sent,
        [(false, Some(format!("{bobs} from bob"))), (true, None)]
    );
    // Export shows that something was there, and nothing of it.
    let lines = export_lines(&s.chatctl(&["export", "--user", &alice.id]));
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l["erased"] == true && l["body"].is_null()),
        "{lines:?}"
    );
    // And she cannot write again.
    let refused = api
        .call("GET", "/api/v1/conversations", Some(&alice.token), None)
        .await;
    assert!(
        refused.status == 401 || refused.status == 403,
        "{}",
        refused.body
    );

    // Each action is audited: the erasure and both exports, by the operator.
    audit
        .until(
            "the erasure and the exports",
            Duration::from_secs(30),
            |seen| {
                actions(seen, "user_erased", &alice.id) == 1
                    && actions(seen, "export_written", &format!("conversation:{team}")) == 1
                    && actions(seen, "export_written", &format!("user:{}", alice.id)) == 1
            },
        )
        .await;
    let erased = audit
        .seen
        .iter()
        .find(|r| r.event.action.as_str() == "user_erased")
        .expect("audited");
    assert!(
        erased.event.actor.to_string().starts_with("operator:"),
        "{erased:?}"
    );
    assert_eq!(erased.event.details.get("username"), Some(&alice.username));
}

/// How many audit records of `action` on `subject` were read.
fn actions(seen: &[AuditRecord], action: &str, subject: &str) -> usize {
    seen.iter()
        .filter(|r| r.event.action.as_str() == action && r.event.subject.id == subject)
        .count()
}

/// A keyring with nothing cached: what any process that starts after the erasure sees.
async fn keyring_after_erasure() -> chat_store::keyring::Keyring {
    keyring().await
}

#[tokio::test]
async fn a_legal_hold_suspends_erasure_until_it_is_released() {
    let s = Stack::start(&[]).await;
    let mut audit = AuditTap::on_topic(&s.topics.audit);
    let api = s.live.api(0);
    let dave = sign_up(&api, "dave").await;
    let erin = sign_up(&api, "erin").await;
    let group = create_group(&api, &erin, &[]).await;
    until_listed(&api, &erin, &group).await;

    s.chatctl(&["holds", "place", "--user", &dave.id, "--reason", "case 7"]);
    let listed = s.chatctl(&["holds", "list"]);
    assert!(
        listed.contains(&dave.id) && listed.contains("case 7"),
        "{listed}"
    );
    let refused = s.chatctl_refused(&["users", "erase", "--username", &dave.username]);
    assert!(refused.contains("legal hold"), "{refused}");
    // Without gateway.admin_token there is no admin API.
    let off = admin_erase(&s.live.gateways[0], &dave.id, Some(ADMIN_TOKEN)).await;
    assert_eq!(off.0, 404, "{:?}", off.1);
    // Still a working account.
    let ok = api
        .call("GET", "/api/v1/conversations", Some(&dave.token), None)
        .await;
    assert_eq!(ok.status, 200);
    s.chatctl(&["holds", "release", "--user", &dave.id]);
    s.chatctl(&["users", "erase", "--username", &dave.username]);

    // A hold on a conversation covers its members.
    s.chatctl(&[
        "holds",
        "place",
        "--conversation",
        &group,
        "--reason",
        "case 8",
    ]);
    let refused = s.chatctl_refused(&["users", "erase", "--username", &erin.username]);
    assert!(
        refused.contains("legal hold") && refused.contains(&group),
        "{refused}"
    );
    s.chatctl(&["holds", "release", "--conversation", &group]);
    s.chatctl(&["users", "erase", "--username", &erin.username]);
    let refused = s.chatctl_refused(&["holds", "release", "--conversation", &group]);
    assert!(refused.contains("no legal hold"), "{refused}");
    audit
        .until(
            "holds, releases and erasures",
            Duration::from_secs(30),
            |seen| {
                actions(seen, "legal_hold_placed", &dave.id) == 1
                    && actions(seen, "legal_hold_released", &dave.id) == 1
                    && actions(seen, "legal_hold_placed", &group) == 1
                    && actions(seen, "legal_hold_released", &group) == 1
                    && actions(seen, "user_erased", &dave.id) == 1
                    && actions(seen, "user_erased", &erin.id) == 1
            },
        )
        .await;
    let placed = audit
        .seen
        .iter()
        .find(|r| r.event.action.as_str() == "legal_hold_placed" && r.event.subject.id == dave.id)
        .expect("audited");
    assert_eq!(
        placed.event.details.get("reason").map(String::as_str),
        Some("case 7")
    );
}

/// Two messages sealed as their senders' gateways would have ten days ago (`old`: a
/// conversation and its sender each), then one sent now by `now_sender` in the first
/// conversation; their markers ("<marker> long ago", "<marker> today").
async fn ten_days_old_and_one_today(
    s: &Stack,
    keyring: &chat_store::keyring::Keyring,
    old: [(&String, &User); 2],
    now_sender: &User,
) -> [String; 3] {
    let markers = [(); 3].map(|_| unique("zq").replace('-', ""));
    let then = UnixMillis(UnixMillis::now().0 - 10 * 24 * 60 * 60 * 1000);
    for ((c, sender), marker) in old.iter().zip(&markers) {
        let body = format!("{marker} long ago");
        append_sealed(&s.topics, keyring, message(c, sender, then, &body)).await;
    }
    let mut ws = Ws::connect(&s.live.gateways[0], &now_sender.token).await;
    let fresh = format!("{} today", markers[2]);
    let ack = ws.request(send_frame(old[0].0, "now", &fresh)).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    markers
}

/// `chatctl retention apply` acts on every conversation of the keyspace, which the
/// tests of this file share (each has its own topics): a run of one retention test would
/// destroy the other's conversation keys and append the expiry to its own topics, where
/// the other's search node never sees it. The retention tests take turns.
static RETENTION_RUNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn retention_makes_old_periods_unreadable_except_what_a_hold_keeps() {
    let _turn = RETENTION_RUNS.lock().await;
    // One-day key periods, so content ten days old sits in a period long over.
    let s = Stack::start(&[("CHAT__COMPLIANCE__KEY_PERIOD_DAYS", "1")]).await;
    let api = s.live.api(0);
    let alice = sign_up(&api, "alice").await;
    let carol = sign_up(&api, "carol").await;
    let team = create_group(&api, &alice, &[&carol]).await;
    until_listed(&api, &carol, &team).await;
    // The keyring of this stack's settings (one-day periods).
    let mut cfg = settings();
    cfg.compliance.key_period_days = 1;
    let session = Arc::new(chat_core::cql::connect(&cfg.cql).await.expect("cql"));
    let keyring = chat_store::keyring::Keyring::new(session, &cfg.cql.keyspace, &cfg.compliance)
        .await
        .expect("keyring");
    let [old_alice, old_carol, fresh] =
        ten_days_old_and_one_today(&s, &keyring, [(&team, &alice), (&team, &carol)], &alice).await;
    page_until(&api, &alice, &team, "all three", |m| bodies(m).len() == 3).await;
    search_until(
        &api,
        &alice,
        &old_alice,
        &[&format!("{old_alice} long ago")],
    )
    .await;
    assert_eq!(s.indexed(&old_alice, &team).await, 1);

    let mut audit = AuditTap::on_topic(&s.topics.audit);
    s.chatctl(&["holds", "place", "--user", &carol.id, "--reason", "case 9"]);
    let out = s.chatctl(&["retention", "apply", "--days", "3"]);
    assert!(out.contains("retention applied"), "{out}");
    s.chatctl(&["holds", "release", "--user", &carol.id]);

    let after = page_until(&api, &alice, &team, "alice's old message erased", |m| {
        m.iter().any(|m| m["erased"] == true)
    })
    .await;
    let mut seen = bodies(&after);
    seen.sort();
    let mut expected = vec![format!("{fresh} today"), format!("{old_carol} long ago")];
    expected.sort();
    assert_eq!(seen, expected, "{after:?}");
    search_until(&api, &alice, &old_alice, &[]).await;
    s.indexed_until(&old_alice, &team, 0).await;
    search_until(
        &api,
        &alice,
        &old_carol,
        &[&format!("{old_carol} long ago")],
    )
    .await;
    search_until(&api, &alice, &fresh, &[&format!("{fresh} today")]).await;
    audit
        .until("the retention run", Duration::from_secs(30), |seen| {
            actions(seen, "retention_applied", "retention") == 1
        })
        .await;
}

/// The caller's conversation list entry for `c` once `done` holds of it.
async fn listed_until(
    api: &Api,
    user: &User,
    c: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let r = api
            .call("GET", "/api/v1/conversations", Some(&user.token), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        if let Some(entry) = r.body["conversations"]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["conversation_id"] == c))
        {
            if done(entry) {
                return entry.clone();
            }
            last = entry.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: never listed so; last {last}");
}

/// The next live `event` frame of `kind` on `ws` (other frames are skipped).
async fn next_event_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let f = ws.next().await;
        if f["type"] == "event" && f["event"]["kind"] == kind {
            return f;
        }
    }
}

async fn set_retention(api: &Api, user: &User, c: &str, body: Value) -> (u16, Value) {
    let r = api
        .call(
            "PUT",
            &format!("/api/v1/conversations/{c}/retention"),
            Some(&user.token),
            Some(body),
        )
        .await;
    (r.status, r.body)
}

/// `export` (JSON Lines) converted by `services/analytics-example/export_to_parquet.py`
/// and read back with pyarrow: rows, erased rows, and the bodies in it.
fn as_parquet(export: &str) -> (usize, usize, Vec<String>) {
    use std::io::Write;
    let python = analytics_python();
    let dir = target_tmp_dir().join(unique("parquet"));
    std::fs::create_dir_all(&dir).expect("a directory for the Parquet file");
    let out = dir.join("export.parquet");
    let mut convert = std::process::Command::new(&python)
        .arg(repo_root().join("services/analytics-example/export_to_parquet.py"))
        .arg("-")
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run the converter");
    convert
        .stdin
        .take()
        .expect("stdin")
        .write_all(export.as_bytes())
        .expect("feed the export");
    assert!(
        convert.wait().expect("converter").success(),
        "the converter refused the export"
    );
    let read = std::process::Command::new(&python)
        .arg("-c")
        .arg(
            "import json, sys, pyarrow.parquet as pq\n\
             t = pq.read_table(sys.argv[1])\n\
             print(json.dumps([t.num_rows, sum(1 for e in t.column('erased').to_pylist() if e),\
             [b for b in t.column('body').to_pylist() if b is not None]]))",
        )
        .arg(&out)
        .output()
        .expect("read the Parquet file back");
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let (rows, erased, bodies): (usize, usize, Vec<String>) =
        serde_json::from_slice(&read.stdout).expect("the reader's JSON");
    std::fs::remove_dir_all(&dir).ok();
    (rows, erased, bodies)
}

#[tokio::test]
async fn a_groups_own_retention_expires_its_old_content_unless_held() {
    let _turn = RETENTION_RUNS.lock().await;
    let s = Stack::start(&[("CHAT__COMPLIANCE__CONVERSATION_RETENTION_MAX_DAYS", "30")]).await;
    let api = s.live.api(0);
    let g = &s.live.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let team = create_group(&api, &alice, &[&bob]).await;
    let other = create_group(&api, &alice, &[&bob]).await;
    let direct = create_direct(&api, &alice, &bob).await;
    until_listed(&api, &bob, &team).await;
    let mut b = Ws::connect(g, &bob.token).await;
    let mut audit = AuditTap::on_topic(&s.topics.audit);

    // Who may set it, and within which limits.
    let (status, body) = set_retention(&api, &bob, &team, json!({"days": 3})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("forbidden"))
    );
    let (status, body) = set_retention(&api, &alice, &team, json!({"days": 31})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_retention");
    let limits = body["error"]["message"].as_str().unwrap_or_default();
    assert!(limits.contains("1 to 30 days"), "{limits}");
    let (status, body) = set_retention(&api, &alice, &direct, json!({"days": 3})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("invalid_retention"))
    );
    let (status, body) = set_retention(&api, &alice, &team, json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("bad_request"))
    );
    let (status, body) = set_retention(&api, &alice, &team, json!({"days": 3})).await;
    assert_eq!(status, 204, "{body}");
    let set = next_event_of(&mut b, "retention_set").await;
    assert_eq!(set["event"]["days"], 3, "{set}");
    listed_until(&api, &bob, &team, "retention_days 3", |e| {
        e["retention_days"] == 3
    })
    .await;
    listed_until(&api, &bob, &other, "no retention", |e| {
        e["retention_days"].is_null()
    })
    .await;

    // Ten days old in both groups (sealed as a gateway would have then), and one today.
    let keyring = keyring().await;
    let [old_team, old_other, fresh] =
        ten_days_old_and_one_today(&s, &keyring, [(&team, &alice), (&other, &alice)], &alice).await;
    page_until(&api, &bob, &team, "both", |m| bodies(m).len() == 2).await;
    page_until(&api, &bob, &other, "the old one", |m| bodies(m).len() == 1).await;
    s.indexed_until(&old_team, &team, 1).await;

    // Held, the group keeps everything.
    s.chatctl(&[
        "holds",
        "place",
        "--conversation",
        &team,
        "--reason",
        "case 11",
    ]);
    let out = s.chatctl(&["retention", "apply"]);
    assert!(out.contains("platform retention is off"), "{out}");
    s.chatctl(&["holds", "release", "--conversation", &team]);
    assert_eq!(
        bodies(&page(&api, &bob, &team).await).len(),
        2,
        "a held group loses nothing"
    );
    assert_eq!(s.indexed(&old_team, &team).await, 1);

    // Released: the next run expires what is older than three days, in this group only.
    s.chatctl(&["retention", "apply"]);
    let expired = next_event_of(&mut b, "conversation_content_expired").await;
    assert_eq!(expired["conversation_id"], team.as_str(), "{expired}");
    assert!(expired["event"]["before"].is_string(), "{expired}");
    let after = page_until(&api, &bob, &team, "the old one erased", |m| {
        m.iter().any(|m| m["erased"] == true)
    })
    .await;
    assert_eq!(bodies(&after), [format!("{fresh} today")], "{after:?}");
    assert_eq!(
        bodies(&page(&api, &bob, &other).await),
        [format!("{old_other} long ago")],
        "a group without retention keeps its old content"
    );
    s.indexed_until(&old_team, &team, 0).await;
    assert_eq!(s.indexed(&fresh, &team).await, 1);
    assert_eq!(s.indexed(&old_other, &other).await, 1);
    search_until(&api, &bob, &old_team, &[]).await;
    // The log still holds the record, and it no longer opens.
    let export = s.chatctl(&["export", "--conversation", &team]);
    let erased = export
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["erased"] == true)
        .count();
    assert_eq!(erased, 1, "{export}");
    assert!(!export.contains(&old_team), "{export}");
    // The same export as Parquet, through the documented converter, read back.
    let (rows, erased_rows, bodies_read) = as_parquet(&export);
    assert_eq!(rows, export.lines().count(), "{export}");
    assert_eq!(erased_rows, 1);
    assert!(
        bodies_read.contains(&format!("{fresh} today")),
        "{bodies_read:?}"
    );
    // A run later changes nothing more.
    s.chatctl(&["retention", "apply"]);
    assert_eq!(
        bodies(&page(&api, &bob, &team).await),
        [format!("{fresh} today")]
    );
    // Bob's refusal and alice's setting are audited; the limits' refusals are not.
    audit
        .until("the retention settings", Duration::from_secs(30), |seen| {
            actions(seen, "conversation_retention_set", &team) == 2
        })
        .await;
    audit
        .until("the retention runs", Duration::from_secs(30), |seen| {
            seen.iter()
                .filter(|r| r.event.action.as_str() == "retention_applied")
                .any(|r| {
                    r.event
                        .details
                        .get("conversations_expired")
                        .is_some_and(|n| n != "0")
                })
        })
        .await;
}

const ADMIN_TOKEN: &str = "admin-token-for-the-tests-0123456789abcdef";

async fn admin_erase(g: &Gateway, user: &str, token: Option<&str>) -> (u16, Value) {
    let mut req =
        reqwest::Client::new().post(format!("{}/admin/v1/users/{user}/erase", g.ops_url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("the ops listener answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_admin_api_erases_with_its_token_and_is_audited() {
    let s = Stack::start(&[("CHAT__GATEWAY__ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let mut audit = AuditTap::on_topic(&s.topics.audit);
    let api = s.live.api(0);
    let g = &s.live.gateways[0];
    let frank = sign_up(&api, "frank").await;
    let gina = sign_up(&api, "gina").await;
    let team = create_group(&api, &frank, &[&gina]).await;
    until_listed(&api, &gina, &team).await;
    let marker = unique("zq").replace('-', "");
    let mut f = Ws::connect(g, &frank.token).await;
    let ack = f
        .request(send_frame(&team, "f1", &format!("{marker} from frank")))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    page_until(&api, &gina, &team, "frank's message", |m| {
        bodies(m) == [format!("{marker} from frank")]
    })
    .await;
    s.indexed_until(&marker, &team, 1).await;

    // No token, a wrong one, a bad id, an unknown user.
    assert_eq!(admin_erase(g, &frank.id, None).await.0, 401);
    assert_eq!(
        admin_erase(g, &frank.id, Some("not-the-token-0123456789abcdefghijkl"))
            .await
            .0,
        401
    );
    assert_eq!(admin_erase(g, "not-a-uuid", Some(ADMIN_TOKEN)).await.0, 400);
    assert_eq!(
        admin_erase(g, &uuid::Uuid::new_v4().to_string(), Some(ADMIN_TOKEN))
            .await
            .0,
        404
    );
    // Under a legal hold: refused.
    s.chatctl(&["holds", "place", "--user", &gina.id, "--reason", "case 10"]);
    let (status, body) = admin_erase(g, &gina.id, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("legal hold")),
        "{body}"
    );
    s.chatctl(&["holds", "release", "--user", &gina.id]);

    let (status, body) = admin_erase(g, &frank.id, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keys_destroyed"], 1, "{body}");
    assert_eq!(body["partitions"], 3, "{body}");
    let after = page_until(&api, &gina, &team, "frank's message erased", |m| {
        m.iter().any(|m| m["erased"] == true)
    })
    .await;
    assert_eq!(bodies(&after), Vec::<String>::new());
    s.indexed_until(&marker, &team, 0).await;
    let refused = api
        .call("GET", "/api/v1/conversations", Some(&frank.token), None)
        .await;
    assert!(
        refused.status == 401 || refused.status == 403,
        "{}",
        refused.body
    );
    audit
        .until("the admin API's erasure", Duration::from_secs(30), |seen| {
            actions(seen, "user_erased", &frank.id) == 1
        })
        .await;
    let record = audit
        .seen
        .iter()
        .find(|r| r.event.action.as_str() == "user_erased")
        .expect("audited");
    assert_eq!(record.event.actor.to_string(), "operator:admin-api");
}
