//! The history projection end to end: the real gateway appends, the real `chat-projector
//! --role history` projects into the CQL store (a fresh keyspace per test), and the
//! gateway serves pages, conversation lists and sync from it. Each test has its own
//! topics too: its projector starts a new consumer group at the start of the log, which
//! must not mean replaying everything a long-used machine ever wrote.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chat_core::codec::EventCodec;
use chat_core::events::{ConversationEvent, MessageKind, MessageSent, Payload};
use chat_core::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::time::UnixMillis;
use chat_core::topics::Topics;
use chat_e2e::*;
use chat_store::dedup::{DedupStore, Reservation};
use chat_store::HistoryStore;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

const FAST: [(&str, &str); 2] = [
    ("CHAT__GATEWAY__FRAMES_PER_SEC", "100000"),
    ("CHAT__GATEWAY__FRAMES_BURST", "100000"),
];

struct Stack {
    keyspace: String,
    /// The variables that point services and chatctl at this test's topics and keyspace.
    env: Vec<(String, String)>,
    topics: Topics,
    group: String,
    gateway: Gateway,
    projector: Projector,
    api: Api,
}

impl Stack {
    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

async fn stack(name: &str) -> Stack {
    stack_with(name, &[]).await
}

/// A stack whose projector gets `projector_env` on top of the stack's own variables.
async fn stack_with(name: &str, projector_env: &[(&str, &str)]) -> Stack {
    stack_with_env(name, projector_env, &[]).await
}

/// A stack whose projector and gateway get these variables on top of its own.
async fn stack_with_env(
    name: &str,
    projector_env: &[(&str, &str)],
    gateway_extra_env: &[(&str, &str)],
) -> Stack {
    let keyspace = fresh_keyspace().await;
    let prefix = format!("t{}.", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let env: Vec<(String, String)> = vec![
        ("CHAT__KAFKA__TOPIC_PREFIX".into(), prefix.clone()),
        ("CHAT__KAFKA__PARTITIONS".into(), "3".into()),
        ("CHAT__CQL__KEYSPACE".into(), keyspace.clone()),
    ];
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    chatctl_with(&pairs, &["init"]);
    let group = unique(&format!("test-{name}"));
    let mut env_of_projector = pairs.clone();
    env_of_projector.extend(projector_env.iter().copied());
    let projector = Projector::start_with("history", &group, &env_of_projector, &[]);
    let mut gateway_env: Vec<(&str, &str)> = FAST.to_vec();
    gateway_env.extend(pairs.iter().copied());
    gateway_env.extend(gateway_extra_env.iter().copied());
    // Retries of sends whose outcome is unknown wait for this stack's history role.
    gateway_env.push(("CHAT__GATEWAY__HISTORY_GROUP", group.as_str()));
    let gateway = Gateway::start_with(name, &gateway_env).await;
    let api = Api::new(&gateway);
    Stack {
        keyspace,
        env,
        topics: Topics::new(&prefix),
        group,
        gateway,
        projector,
        api,
    }
}

/// Send `bodies` in order over one socket (pipelined, 100 at a time); their acks.
async fn send_all(ws: &mut Ws, conversation: &str, prefix: &str, bodies: &[String]) -> Vec<Value> {
    let mut acks = Vec::with_capacity(bodies.len());
    for (chunk_no, chunk) in bodies.chunks(100).enumerate() {
        for (i, body) in chunk.iter().enumerate() {
            ws.send(send_frame(
                conversation,
                &format!("{prefix}-{}", chunk_no * 100 + i),
                body,
            ))
            .await;
        }
        for _ in chunk {
            let ack = ws.next().await;
            assert_eq!(ack["type"], "ack", "{ack}");
            acks.push(ack);
        }
    }
    acks
}

async fn conversation_entry(api: &Api, user: &User, conversation: &str) -> Option<Value> {
    let r = api
        .call("GET", "/api/v1/conversations", Some(&user.token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["conversations"]
        .as_array()?
        .iter()
        .find(|c| c["conversation_id"] == conversation)
        .cloned()
}

/// The bodies of the newest page of `conversation`, newest first.
async fn newest_bodies(api: &Api, user: &User, conversation: &str) -> Vec<String> {
    let r = api
        .call(
            "GET",
            &format!("/api/v1/conversations/{conversation}/messages"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["body"].as_str().expect("a body").to_string())
        .collect()
}

async fn wait_for_last_body(api: &Api, user: &User, conversation: &str, body: &str) {
    eventually(
        &format!("{conversation} projected up to \"{body}\""),
        || async {
            conversation_entry(api, user, conversation)
                .await
                .is_some_and(|c| c["last_message"]["body"] == body)
        },
    )
    .await;
}

#[tokio::test]
async fn a_thousand_messages_page_exactly_once_with_edits_deletes_and_unread_counts() {
    let s = stack("gw-hist").await;
    let alice = sign_up(&s.api, "alice").await;
    let bob = sign_up(&s.api, "bob").await;
    let group = create_group(&s.api, &alice, &[&bob]).await;
    let mut ws = Ws::connect(&s.gateway, &alice.token).await;

    let bodies: Vec<String> = (0..1000).map(|i| format!("message {i}")).collect();
    let acks = send_all(&mut ws, &group, "m", &bodies).await;
    for i in (0..1000).step_by(10) {
        let e = ws.request(json!({"type": "edit", "conversation_id": group, "message_id": acks[i]["message_id"], "body": format!("edited {i}"), "client_msg_id": format!("e-{i}")})).await;
        assert_eq!(e["type"], "ack", "{e}");
    }
    for i in (0..1000).step_by(25) {
        let d = ws.request(json!({"type": "delete", "conversation_id": group, "message_id": acks[i]["message_id"], "client_msg_id": format!("d-{i}")})).await;
        assert_eq!(d["type"], "ack", "{d}");
    }
    let sentinel = ws.request(send_frame(&group, "sentinel", "sentinel")).await;
    wait_for_last_body(&s.api, &alice, &group, "sentinel").await;

    let mut expected: Vec<(i64, Option<String>)> = acks
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let body = if i % 25 == 0 {
                None
            } else if i % 10 == 0 {
                Some(format!("edited {i}"))
            } else {
                Some(format!("message {i}"))
            };
            (a["seq"].as_i64().unwrap(), body)
        })
        .collect();
    expected.push((sentinel["seq"].as_i64().unwrap(), Some("sentinel".into())));

    // Backwards, 37 at a time: every message exactly once, newest first.
    let mut backwards = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let q = match before {
            Some(b) => format!("/api/v1/conversations/{group}/messages?limit=37&before={b}"),
            None => format!("/api/v1/conversations/{group}/messages?limit=37"),
        };
        let r = s.api.call("GET", &q, Some(&alice.token), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.body["messages"].as_array().unwrap().clone();
        assert!(page.len() <= 37);
        backwards.extend(page);
        match r.body["next_before"].as_i64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    let got: Vec<(i64, Option<String>)> = backwards
        .iter()
        .rev()
        .map(|m| {
            (
                m["seq"].as_i64().unwrap(),
                m["body"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(got.len(), expected.len(), "each message exactly once");
    assert_eq!(got, expected, "in seq order with edits and deletes applied");
    let deleted = backwards
        .iter()
        .find(|m| m["seq"] == acks[25]["seq"])
        .unwrap();
    assert!(
        deleted["deleted_at"].is_string() && deleted["body"].is_null(),
        "{deleted}"
    );
    let edited = backwards
        .iter()
        .find(|m| m["seq"] == acks[10]["seq"])
        .unwrap();
    assert!(edited["edited_at"].is_string(), "{edited}");
    assert_eq!(edited["sender_id"], alice.id.as_str());

    // Forwards, 200 at a time, from before the first message.
    let mut forwards = Vec::new();
    let mut after = expected[0].0 - 1;
    loop {
        let r = s
            .api
            .call(
                "GET",
                &format!("/api/v1/conversations/{group}/messages?limit=200&after={after}"),
                Some(&alice.token),
                None,
            )
            .await;
        let page = r.body["messages"].as_array().unwrap().clone();
        let n = page.len();
        if let Some(last) = page.last() {
            after = last["seq"].as_i64().unwrap();
        }
        forwards.extend(page);
        if n < 200 {
            break;
        }
    }
    let fwd: Vec<i64> = forwards
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        fwd,
        expected.iter().map(|e| e.0).collect::<Vec<_>>(),
        "oldest first, each once"
    );

    // Unread counts follow the read pointer; a sender has read their own messages.
    let entry = conversation_entry(&s.api, &alice, &group).await.unwrap();
    assert_eq!(entry["unread"], 0);
    assert_eq!(entry["last_seq"], sentinel["seq"]);
    assert_eq!(entry["members"].as_array().unwrap().len(), 2);
    let entry = conversation_entry(&s.api, &bob, &group).await.unwrap();
    assert_eq!(entry["unread"], 1001, "{entry}");
    let mut bob_ws = Ws::connect(&s.gateway, &bob.token).await;
    bob_ws
        .send(json!({"type": "read", "conversation_id": group, "up_to_seq": acks[499]["seq"]}))
        .await;
    eventually("bob's unread count follows his read pointer", || async {
        conversation_entry(&s.api, &bob, &group)
            .await
            .is_some_and(|c| c["unread"] == 501 && c["read_seq"] == acks[499]["seq"])
    })
    .await;

    // Bad page requests.
    for q in ["limit=0", "limit=201", "before=1&after=1", "limit=x"] {
        let r = s
            .api
            .call(
                "GET",
                &format!("/api/v1/conversations/{group}/messages?{q}"),
                Some(&alice.token),
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
    let carol = sign_up(&s.api, "carol").await;
    let r = s
        .api
        .call(
            "GET",
            &format!("/api/v1/conversations/{group}/messages"),
            Some(&carol.token),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "not_member"));
}

/// Everything the history tables say about `conversations` and `users`, read through the
/// same library the gateway uses, bodies opened with the data keys of `keys_in` (the
/// live keyspace: a rebuild replays the log, and data keys are not in the log).
async fn snapshot(
    keyspace: &str,
    keys_in: &str,
    conversations: &[String],
    users: &[&User],
) -> String {
    let mut s = settings();
    s.cql.keyspace = keyspace.to_string();
    let session = Arc::new(chat_core::cql::connect(&s.cql).await.unwrap());
    let keyring = chat_store::keyring::Keyring::new(session.clone(), keys_in, &s.compliance)
        .await
        .unwrap();
    let store = HistoryStore::new(session, keyspace)
        .await
        .unwrap()
        .with_keyring(Arc::new(keyring));
    let mut out = String::new();
    for c in conversations {
        let c: uuid::Uuid = c.parse().unwrap();
        out += &format!(
            "{:?}\n{:?}\n",
            store.conversation(c).await.unwrap(),
            store.members(c).await.unwrap()
        );
        let page = store.page(c, None, Some(-1), 200).await.unwrap();
        for root in page.messages.iter().filter(|m| m.thread.is_some()) {
            let thread = store
                .thread_page(c, root.message_id.parse().unwrap(), -1, 200)
                .await
                .unwrap();
            out += &format!("{thread:?}\n");
        }
        out += &format!("{page:?}\n{:?}\n", store.pins(c).await.unwrap());
    }
    for u in users {
        out += &format!(
            "{:?}\n",
            store
                .conversations_page(u.id.parse().unwrap(), None, chat_store::MAX_PAGE)
                .await
                .unwrap()
        );
    }
    out
}

/// Whether consumer group `group` has committed up to the end of every partition of
/// `topic`.
fn caught_up(topic: &str, group: &str) -> bool {
    let s = settings();
    let c: BaseConsumer = chat_core::kafka::client_config(&s.kafka)
        .set("group.id", group)
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition(topic, p.id());
    }
    let committed = c.committed_offsets(tpl, Duration::from_secs(5)).unwrap();
    committed.elements().iter().all(|e| {
        let (_, high) = c
            .fetch_watermarks(topic, e.partition(), Duration::from_secs(5))
            .unwrap();
        match e.offset() {
            Offset::Offset(o) => o >= high,
            _ => high == 0,
        }
    })
}

#[tokio::test]
async fn replays_change_nothing_and_a_rebuild_equals_the_live_projection() {
    let mut s = stack("gw-replay").await;
    let alice = sign_up(&s.api, "alice").await;
    let bob = sign_up(&s.api, "bob").await;
    let carol = sign_up(&s.api, "carol").await;
    let group = create_group(&s.api, &alice, &[&bob]).await;
    let mut a = Ws::connect(&s.gateway, &alice.token).await;
    let mut b = Ws::connect(&s.gateway, &bob.token).await;
    let bodies: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    let acks = send_all(&mut a, &group, "a", &bodies).await;
    let b_acks = send_all(&mut b, &group, "b", &bodies[..5]).await;
    a.request(json!({"type": "edit", "conversation_id": group, "message_id": acks[3]["message_id"], "body": "changed", "client_msg_id": "e1"})).await;
    a.request(json!({"type": "delete", "conversation_id": group, "message_id": b_acks[1]["message_id"], "client_msg_id": "d1"})).await;
    let r = s
        .api
        .call(
            "POST",
            &format!("/api/v1/conversations/{group}/members"),
            Some(&alice.token),
            Some(json!({"user_id": carol.id})),
        )
        .await;
    assert_eq!(r.status, 204);
    b.send(json!({"type": "read", "conversation_id": group, "up_to_seq": acks[20]["seq"]}))
        .await;
    b.send(json!({"type": "delivered", "conversation_id": group, "up_to_seq": acks[29]["seq"]}))
        .await;
    let r = s
        .api
        .call(
            "DELETE",
            &format!("/api/v1/conversations/{group}/members/{}", bob.id),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let d = s
        .api
        .call(
            "POST",
            "/api/v1/conversations",
            Some(&carol.token),
            Some(json!({"kind": "direct", "members": [alice.id]})),
        )
        .await;
    let direct = d.body["conversation_id"].as_str().unwrap().to_string();
    let mut c = Ws::connect(&s.gateway, &carol.token).await;
    c.request(send_frame(&direct, "c1", "hi alice")).await;
    // v1.1: a thread, reactions, pins and a rename are replayed and rebuilt too.
    let root = acks[5]["message_id"].clone();
    for (id, body) in [("t1", "first reply"), ("t2", "second reply")] {
        let mut reply = send_frame(&group, id, body);
        reply["thread_root"] = root.clone();
        let ack = a.request(reply).await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    let mut reply = send_frame(&direct, "t3", "a reply in a direct conversation");
    reply["thread_root"] = json!(c.request(send_frame(&direct, "c2", "root")).await["message_id"]);
    assert_eq!(c.request(reply).await["type"], "ack");
    for (id, emoji, op, by_alice) in [
        ("r1", "👍", "add", true),
        ("r2", "🎉", "add", false),
        ("r3", "👍", "add", false),
        ("r4", "🎉", "remove", false),
        ("r5", "👍", "add", true),
        ("r6", "🎉", "add", true),
    ] {
        let who = if by_alice { &mut a } else { &mut c };
        let ack = who
            .request(
                json!({"type": "react", "conversation_id": group, "message_id": root,
                            "emoji": emoji, "op": op, "client_msg_id": id}),
            )
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    for (method, m) in [("PUT", &acks[6]), ("PUT", &acks[7]), ("DELETE", &acks[6])] {
        let path = format!(
            "/api/v1/conversations/{group}/pins/{}",
            m["message_id"].as_str().unwrap()
        );
        let r = s.api.call(method, &path, Some(&alice.token), None).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let r = s
        .api
        .call(
            "PATCH",
            &format!("/api/v1/conversations/{group}"),
            Some(&carol.token),
            Some(json!({"name": "renamed <group>"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    a.request(send_frame(&group, "sentinel", "sentinel")).await;
    wait_for_last_body(&s.api, &alice, &group, "sentinel").await;
    wait_for_last_body(&s.api, &alice, &direct, "a reply in a direct conversation").await;

    let conversations = vec![group.clone(), direct.clone()];
    let users = [&alice, &bob, &carol];
    let live = snapshot(&s.keyspace, &s.keyspace, &conversations, &users).await;
    assert!(
        live.contains("changed") && live.contains("deleted_at: Some"),
        "sanity: {live}"
    );
    assert!(
        live.contains("reply_count: 2")
            && live.contains("second reply")
            && live.contains("renamed <group>")
            && live.contains("emoji: \"👍\", count: 2")
            && live.contains("emoji: \"🎉\", count: 1")
            && live.contains("pinned_by"),
        "v1.1 state is in the projection: {live}"
    );

    // Replay the whole topic into the same tables, twice, with new consumer groups.
    s.projector.stop();
    for round in 0..2 {
        let group_id = unique(&format!("test-replay-{round}"));
        let mut replay = Projector::start_with("history", &group_id, &s.env(), &[]);
        eventually("the replay caught up with the log", || {
            let g = group_id.clone();
            let topic = s.topics.conversation_events.clone();
            async move {
                tokio::task::spawn_blocking(move || caught_up(&topic, &g))
                    .await
                    .unwrap()
            }
        })
        .await;
        replay.stop();
        assert_eq!(
            snapshot(&s.keyspace, &s.keyspace, &conversations, &users).await,
            live,
            "replay {round} changed the projection"
        );
    }

    // A rebuild into a fresh keyspace yields the same state.
    let rebuilt = format!(
        "test_rb_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let out = chatctl_with(&s.env(), &["rebuild", "history", "--keyspace", &rebuilt]);
    assert!(out.contains("rebuilt"), "{out}");
    assert_eq!(
        snapshot(&rebuilt, &s.keyspace, &conversations, &users).await,
        live
    );
}

#[tokio::test]
async fn poison_and_forged_records_go_to_the_dead_letter_topic_and_projection_goes_on() {
    let s = stack("gw-poison").await;
    let alice = sign_up(&s.api, "alice").await;
    let carol = sign_up(&s.api, "carol").await;
    let group = create_group(&s.api, &alice, &[]).await;
    let mut ws = Ws::connect(&s.gateway, &alice.token).await;
    ws.request(send_frame(&group, "before", "before the poison"))
        .await;
    wait_for_last_body(&s.api, &alice, &group, "before the poison").await;

    let settings = settings();
    let topics = &s.topics;
    let dlq_start = {
        let c: BaseConsumer = chat_core::kafka::client_config(&settings.kafka)
            .create()
            .unwrap();
        let md = c
            .fetch_metadata(Some(&topics.dead_letter), Duration::from_secs(5))
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in md.topics()[0].partitions() {
            let (_, high) = c
                .fetch_watermarks(&topics.dead_letter, p.id(), Duration::from_secs(5))
                .unwrap();
            tpl.add_partition_offset(&topics.dead_letter, p.id(), Offset::Offset(high))
                .unwrap();
        }
        tpl
    };
    let producer = chat_core::kafka::producer(&settings.kafka, "test-poison").unwrap();
    // Not Avro at all.
    let garbage = producer
        .send(
            FutureRecord::to(&topics.conversation_events)
                .key(&group)
                .payload("{\"not\":\"avro\"}"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    // Our wire format, but a schema id the registry has never heard of.
    let unknown_schema = producer
        .send(
            FutureRecord::to(&topics.conversation_events)
                .key(&group)
                .payload(&[0u8, 0x7f, 0xff, 0xff, 0xf0, 2][..]),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    // Valid Avro, but the actor is not a member: the projection re-checks and refuses.
    let codec = EventCodec::new(&settings.registry).unwrap();
    let conversation: ConversationId = group.parse().unwrap();
    let forged = ConversationEvent {
        event_id: uuid::Uuid::new_v4(),
        conversation_id: conversation,
        actor_id: carol.id.parse::<UserId>().unwrap(),
        occurred_at: UnixMillis::now(),
        gateway_id: "forger".into(),
        payload: Payload::MessageSent(MessageSent {
            message_id: MessageId::new_random(),
            client_msg_id: "forged".into(),
            kind: MessageKind::Text,
            body: "I am not a member".into(),
            reply_to: None,
            attachments: vec![],
            thread_root: None,
        }),
        sealed: None,
    };
    let bytes = codec
        .encode(&topics.conversation_events, &forged)
        .await
        .unwrap();
    let forged_at = producer
        .send(
            FutureRecord::to(&topics.conversation_events)
                .key(&group)
                .payload(&bytes),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    // The next good record is still projected.
    ws.request(send_frame(&group, "after", "after the poison"))
        .await;
    wait_for_last_body(&s.api, &alice, &group, "after the poison").await;
    let bodies = newest_bodies(&s.api, &alice, &group).await;
    assert_eq!(
        bodies,
        ["after the poison", "before the poison"],
        "the forged message is not in history"
    );

    let dlq = chat_core::kafka::consumer(&settings.kafka, "test-dlq", &unique("test-dlq")).unwrap();
    dlq.assign(&dlq_start).unwrap();
    let mut found = BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while found.len() < 3 && std::time::Instant::now() < deadline {
        let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(5), dlq.recv()).await else {
            continue;
        };
        let headers = m.headers().unwrap();
        let header = |name: &str| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        if header("dlq.consumer.group").as_deref() != Some(s.group.as_str()) {
            continue;
        }
        let offset: i64 = header("dlq.source.offset").unwrap().parse().unwrap();
        let partition: i32 = header("dlq.source.partition").unwrap().parse().unwrap();
        let reason = header("dlq.reason").unwrap();
        // Only the two records produced above are checked.
        if partition != garbage.partition
            || ![garbage.offset, unknown_schema.offset, forged_at.offset].contains(&offset)
        {
            continue;
        }
        assert_eq!(
            m.key(),
            Some(group.as_bytes()),
            "dead letters keep the original key"
        );
        if offset == garbage.offset {
            assert!(reason.contains("cannot decode"), "{reason}");
            assert_eq!(
                m.payload(),
                Some("{\"not\":\"avro\"}".as_bytes()),
                "and the original value"
            );
            found.insert("garbage");
        } else if offset == unknown_schema.offset {
            assert!(
                reason.contains("cannot decode") && reason.contains("404"),
                "{reason}"
            );
            found.insert("unknown schema");
        } else if offset == forged_at.offset {
            assert!(reason.contains("not a member"), "{reason}");
            found.insert("forged");
        }
    }
    assert_eq!(found.len(), 3, "all three records dead-lettered: {found:?}");

    // The projector publishes its lag per partition, and its dead letters.
    eventually("projector_lag on /metrics", || async {
        let text = s.projector.metrics().await;
        text.contains("projector_lag{") && text.contains("projector_dead_letters_total")
    })
    .await;
}

#[tokio::test]
async fn sync_replays_what_a_client_missed_in_order() {
    let s = stack("gw-sync").await;
    let alice = sign_up(&s.api, "alice").await;
    let bob = sign_up(&s.api, "bob").await;
    let carol = sign_up(&s.api, "carol").await;
    let group = create_group(&s.api, &alice, &[&bob]).await;
    let mut a = Ws::connect(&s.gateway, &alice.token).await;
    let first = a.request(send_frame(&group, "seen", "seen already")).await;
    let mut b = Ws::connect(&s.gateway, &bob.token).await;
    let bodies: Vec<String> = (0..5).map(|i| format!("missed {i}")).collect();
    let missed = send_all(&mut b, &group, "b", &bodies).await;
    wait_for_last_body(&s.api, &alice, &group, "missed 4").await;

    a.send(json!({"type": "sync", "positions": {group.clone(): first["seq"]}}))
        .await;
    let mut prev = first["seq"].as_i64().unwrap();
    for (i, ack) in missed.iter().enumerate() {
        let e = a.next().await;
        assert_eq!(e["type"], "event", "{e}");
        assert_eq!(e["conversation_id"], group.as_str());
        assert_eq!(e["seq"], ack["seq"]);
        assert_eq!(e["prev_seq"], prev, "prev_seq chains the replayed events");
        assert_eq!(e["event"]["kind"], "message_sent");
        assert_eq!(e["event"]["body"], format!("missed {i}"));
        assert_eq!(e["event"]["message_id"], ack["message_id"]);
        prev = ack["seq"].as_i64().unwrap();
    }
    assert_eq!(a.next().await["type"], "synced");

    // A non-member syncing learns nothing.
    let mut c = Ws::connect(&s.gateway, &carol.token).await;
    c.send(json!({"type": "sync", "positions": {group.clone(): 0}}))
        .await;
    let e = c.next().await;
    assert_eq!(e["code"], "not_member");
    assert_eq!(c.next().await["type"], "synced");
}

/// The `MessageSent` events of `conversation` in the log, as (offset, client_msg_id).
async fn sends_in_log(s: &Stack, conversation: &str) -> Vec<(i64, String)> {
    let settings = settings();
    let topic = &s.topics.conversation_events;
    let consumer = chat_core::kafka::consumer(&settings.kafka, "test-log", &unique("test-log"))
        .expect("a consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    let mut remaining = 0;
    for p in md.topics()[0].partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), Duration::from_secs(5))
            .expect("watermarks");
        remaining += high - low;
        tpl.add_partition_offset(topic, p.id(), Offset::Offset(low))
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");
    let codec = EventCodec::new(&settings.registry).expect("codec");
    let mut out = Vec::new();
    while remaining > 0 {
        let m = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
            .await
            .expect("the log up to its end within 10 s")
            .expect("a record");
        remaining -= 1;
        let Ok(e) = codec
            .decode::<ConversationEvent>(m.payload().unwrap_or_default())
            .await
        else {
            continue;
        };
        if let (true, Payload::MessageSent(sent)) =
            (e.conversation_id.to_string() == conversation, &e.payload)
        {
            out.push((m.offset(), sent.client_msg_id.clone()));
        }
    }
    out
}

/// Append `event` to the stack's log as a gateway does (keyed by its conversation,
/// encoded through the registry), without any gateway; its offset.
async fn append_directly(s: &Stack, event: &ConversationEvent) -> i64 {
    let settings = settings();
    let codec = EventCodec::new(&settings.registry).expect("codec");
    let bytes = codec
        .encode(&s.topics.conversation_events, event)
        .await
        .expect("encodes");
    let producer =
        chat_core::kafka::producer(&settings.kafka, "test-direct-append").expect("producer");
    let key = event.conversation_id.to_string();
    producer
        .send(
            FutureRecord::to(&s.topics.conversation_events)
                .key(&key)
                .payload(&bytes),
            Duration::from_secs(10),
        )
        .await
        .expect("appended")
        .offset
}

#[tokio::test]
async fn a_send_retried_after_its_gateway_died_is_appended_once() {
    let s = stack_with_env(
        "gw-retake",
        &[],
        &[("CHAT__GATEWAY__DEDUP_ABANDON_AFTER_SECS", "1")],
    )
    .await;
    let alice = sign_up(&s.api, "alice").await;
    let group = create_group(&s.api, &alice, &[]).await;
    let conversation: ConversationId = group.parse().unwrap();
    let alice_id: UserId = alice.id.parse().unwrap();
    let settings = settings();
    let redis = chat_core::redis_client::connect(&settings.redis)
        .await
        .expect("redis");
    // What a gateway does before appending, with the gateway's settings.
    let dedup = DedupStore::new(redis, Duration::from_secs(1), Duration::from_secs(3600));
    let reserve = |client_msg_id: &str| {
        let id = MessageId::derive(
            conversation,
            alice_id,
            &ClientMsgId::parse(client_msg_id).unwrap(),
        );
        let dedup = dedup.clone();
        async move {
            match dedup.reserve::<Value>(id).await.expect("reserve") {
                Reservation::Acquired(claim) => (id, claim),
                _ => panic!("a fresh reservation"),
            }
        }
    };

    // A gateway reserves a send, appends it, and is killed before recording its ack.
    let (message_id, _) = reserve("died-after-append").await;
    let appended = ConversationEvent {
        event_id: uuid::Uuid::new_v4(),
        conversation_id: conversation,
        actor_id: alice_id,
        occurred_at: UnixMillis::now(),
        gateway_id: "gw-killed".into(),
        payload: Payload::MessageSent(MessageSent {
            message_id,
            client_msg_id: "died-after-append".into(),
            kind: MessageKind::Text,
            body: "appended once".into(),
            reply_to: None,
            attachments: vec![],
            thread_root: None,
        }),
        sealed: None,
    };
    let offset = append_directly(&s, &appended).await;
    wait_for_last_body(&s.api, &alice, &group, "appended once").await;

    // The client retries on a gateway that is alive: once the reservation is abandoned,
    // the retry finds the send in history and is answered with its first ack.
    let mut ws = Ws::connect(&s.gateway, &alice.token).await;
    let retried = ws
        .request(send_frame(&group, "died-after-append", "appended once"))
        .await;
    assert_eq!(retried["type"], "ack", "{retried}");
    assert_eq!(retried["seq"], offset, "{retried}");
    assert_eq!(retried["message_id"], message_id.to_string());
    assert_eq!(retried["ts"], appended.occurred_at.to_rfc3339());
    let again = ws
        .request(send_frame(&group, "died-after-append", "appended once"))
        .await;
    assert_eq!(again, retried, "and from then on by its dedup record");

    // Kafka did not answer a send in time, yet the record is in the log (a leader that
    // appended it and died): the gateway marked it uncertain. The retry, at once, waits
    // for history to read the log up to its end and answers from it.
    let (uncertain_id, claim) = reserve("timed-out").await;
    let timed_out = ConversationEvent {
        event_id: uuid::Uuid::new_v4(),
        occurred_at: UnixMillis::now(),
        payload: Payload::MessageSent(MessageSent {
            message_id: uncertain_id,
            client_msg_id: "timed-out".into(),
            kind: MessageKind::Text,
            body: "in the log after all".into(),
            reply_to: None,
            attachments: vec![],
            thread_root: None,
        }),
        ..appended.clone()
    };
    let timed_out_at = append_directly(&s, &timed_out).await;
    dedup.mark_uncertain(uncertain_id, claim).await;
    let retried = ws
        .request(send_frame(&group, "timed-out", "in the log after all"))
        .await;
    assert_eq!(retried["type"], "ack", "{retried}");
    assert_eq!(retried["seq"], timed_out_at, "{retried}");

    // A send whose gateway was killed before appending is appended by the retry.
    reserve("died-before-append").await;
    let late = ws
        .request(send_frame(
            &group,
            "died-before-append",
            "appended by the retry",
        ))
        .await;
    assert_eq!(late["type"], "ack", "{late}");
    assert!(late["seq"].as_i64() > Some(offset), "{late}");
    wait_for_last_body(&s.api, &alice, &group, "appended by the retry").await;

    let sends = sends_in_log(&s, &group).await;
    assert_eq!(
        sends,
        [
            (offset, "died-after-append".to_string()),
            (timed_out_at, "timed-out".to_string()),
            (
                late["seq"].as_i64().unwrap(),
                "died-before-append".to_string()
            )
        ],
        "each send is in the log once"
    );
}

/// A schema registry that answers its first requests with `statuses`, in order, and
/// passes the rest through to the real one: a registry having a bad moment (or a
/// follower that has not seen a new schema yet). Its URL, and how many requests it has
/// seen.
async fn flaky_registry(statuses: &'static [u16]) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::http::{StatusCode, Uri};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let real = settings().registry.url;
    let seen = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the flaky registry");
    let addr = listener.local_addr().expect("its address");
    let counter = seen.clone();
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let (counter, http, real) = (counter.clone(), http.clone(), real.clone());
        async move {
            if let Some(status) = statuses.get(counter.fetch_add(1, Ordering::SeqCst)) {
                let status = StatusCode::from_u16(*status).expect("a status code");
                return (status, String::from("{}"));
            }
            let mut target = reqwest::Url::parse(&real).expect("registry URL");
            target.set_path(uri.path());
            target.set_query(uri.query());
            match http.get(target).send().await {
                Ok(r) => (
                    StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
                    r.text().await.unwrap_or_default(),
                ),
                Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()),
            }
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let path = reqwest::Url::parse(&settings().registry.url)
        .expect("registry URL")
        .path()
        .to_string();
    (format!("http://{addr}{path}"), seen)
}

#[tokio::test]
async fn a_registry_answering_errors_delays_the_projection_and_parks_nothing() {
    // The projector reads schemas through a registry whose first answers are "no such
    // schema" twice, then a server error and throttling; the gateway writes through the
    // real one.
    const ANSWERS: &[u16] = &[404, 404, 500, 429];
    let (url, seen) = flaky_registry(ANSWERS).await;
    let s = stack_with(
        "gw-flaky-registry",
        &[("SCHEMA_REGISTRY_URL", url.as_str())],
    )
    .await;
    let alice = sign_up(&s.api, "alice").await;
    let bob = sign_up(&s.api, "bob").await;
    let group = create_group(&s.api, &alice, &[&bob]).await;
    let mut ws = Ws::connect(&s.gateway, &alice.token).await;
    let bodies: Vec<String> = (0..5)
        .map(|i| format!("through a flaky registry {i}"))
        .collect();
    send_all(&mut ws, &group, "flaky", &bodies).await;
    wait_for_last_body(&s.api, &alice, &group, "through a flaky registry 4").await;

    assert!(
        seen.load(std::sync::atomic::Ordering::SeqCst) > ANSWERS.len(),
        "the projector never got past the refusals"
    );
    let got = newest_bodies(&s.api, &alice, &group).await;
    let expected: Vec<String> = bodies.iter().rev().cloned().collect();
    assert_eq!(got, expected);
    let metrics = s.projector.metrics().await;
    assert!(
        !metrics.contains("projector_dead_letters_total"),
        "a registry outage parked records:\n{metrics}"
    );
}
