//! Bounded resources for large groups (security review, "Bounded resources" and
//! "Operations"): the conversation list is paged and bounded per entry, `sync` is bounded
//! per frame, typing and receipts are bounded for large groups, group size and who may
//! add members are settings, and `/readyz` and `/metrics` are served on the ops listener
//! only. Each test fails against the gateway as it was before these bounds.

use std::time::Duration;

use chat_core::codec::EventCodec;
use chat_core::events::{ConversationEvent, Payload};
use chat_core::ids::{ConversationId, UserId};
use chat_core::time::UnixMillis;
use chat_core::topics::Topics;
use chat_e2e::*;
use rdkafka::producer::FutureRecord;
use serde_json::{json, Value};

const FAST: [(&str, &str); 2] = [
    ("CHAT__GATEWAY__FRAMES_PER_SEC", "100000"),
    ("CHAT__GATEWAY__FRAMES_BURST", "100000"),
];

/// A gateway and a history role on topics and a keyspace of their own.
struct Stack {
    topics: Topics,
    gateway: Gateway,
    _projector: Projector,
    api: Api,
}

/// A stack whose gateway and projector both get `env` on top of their own variables.
async fn stack(name: &str, env: &[(&str, &str)]) -> Stack {
    let keyspace = fresh_keyspace().await;
    let prefix = format!("t{}.", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let group = unique(&format!("test-{name}"));
    let mut common: Vec<(&str, &str)> = vec![
        ("CHAT__KAFKA__TOPIC_PREFIX", &prefix),
        ("CHAT__KAFKA__PARTITIONS", "3"),
        ("CHAT__CQL__KEYSPACE", &keyspace),
    ];
    chatctl_with(&common, &["init"]);
    common.extend(env.iter().copied());
    let projector = Projector::start_with("history", &group, &common, &[]);
    let mut gateway_env = FAST.to_vec();
    gateway_env.extend(common.iter().copied());
    gateway_env.push(("CHAT__GATEWAY__HISTORY_GROUP", &group));
    let gateway = Gateway::start_with(name, &gateway_env).await;
    let api = Api::new(&gateway);
    Stack {
        topics: Topics::new(&prefix),
        gateway,
        _projector: projector,
        api,
    }
}

async fn list(api: &Api, user: &User, query: &str) -> Reply {
    api.call(
        "GET",
        &format!("/api/v1/conversations{query}"),
        Some(&user.token),
        None,
    )
    .await
}

/// The entry of `conversation` in `user`'s list (first page of 200), once projected.
async fn entry(api: &Api, user: &User, conversation: &str) -> Option<Value> {
    let r = list(api, user, "?limit=200").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["conversations"]
        .as_array()?
        .iter()
        .find(|c| c["conversation_id"] == conversation)
        .cloned()
}

async fn wait_for_last_body(api: &Api, user: &User, conversation: &str, body: &str) {
    eventually(
        &format!("{conversation} projected up to {body:?}"),
        || async {
            entry(api, user, conversation)
                .await
                .is_some_and(|c| c["last_message"]["body"] == body)
        },
    )
    .await;
}

async fn send_text(ws: &mut Ws, conversation: &str, id: &str, body: &str) -> Value {
    let ack = ws.request(send_frame(conversation, id, body)).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    ack
}

async fn add_member(api: &Api, caller: &User, conversation: &str, user: &User) -> Reply {
    api.call(
        "POST",
        &format!("/api/v1/conversations/{conversation}/members"),
        Some(&caller.token),
        Some(json!({"user_id": user.id})),
    )
    .await
}

/// Append `event` to the stack's log as a gateway would, without any gateway: what a
/// tool or an older build could write, which only the projection's re-check refuses.
async fn append_directly(s: &Stack, event: &ConversationEvent) {
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
        .expect("appended");
}

#[tokio::test]
async fn bounded_the_conversation_list_is_paged_and_lists_at_most_twenty_members() {
    let s = stack("gw-list", &[]).await;
    let alice = sign_up(&s.api, "alice").await;
    let mut others = Vec::new();
    for i in 0..21 {
        others.push(sign_up(&s.api, &format!("m{i}")).await);
    }
    let refs: Vec<&User> = others.iter().collect();
    let big = create_group(&s.api, &alice, &refs).await;
    let small = create_group(&s.api, &alice, &refs[..1]).await;
    let direct = create_direct(&s.api, &alice, &others[1]).await;
    let mut ws = Ws::connect(&s.gateway, &alice.token).await;
    send_text(&mut ws, &big, "b1", "in big").await;
    send_text(&mut ws, &small, "s1", "in small").await;
    send_text(&mut ws, &direct, "d1", "in direct").await;
    wait_for_last_body(&s.api, &alice, &direct, "in direct").await;
    wait_for_last_body(&s.api, &alice, &big, "in big").await;
    wait_for_last_body(&s.api, &alice, &small, "in small").await;

    let ids = |r: &Reply| -> Vec<String> {
        r.body["conversations"]
            .as_array()
            .expect("conversations")
            .iter()
            .map(|c| c["conversation_id"].as_str().unwrap_or("").to_string())
            .collect()
    };
    // Without parameters: one page of up to 50, the fields clients always had, most
    // recent `last_seq` first (seqs are offsets of different partitions here, so that
    // order is the list's own, not the order the messages were sent in).
    let all = list(&s.api, &alice, "").await;
    assert_eq!(all.status, 200, "{}", all.body);
    let everything = ids(&all);
    let mut expected = vec![big.clone(), small.clone(), direct.clone()];
    expected.sort();
    let mut sorted = everything.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    assert_eq!(all.body["next"], Value::Null);
    let seqs: Vec<i64> = all.body["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|c| c["last_seq"].as_i64().expect("last_seq"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] >= w[1]), "{seqs:?}");

    // Two at a time: the same list, split, and the last page says it is the last.
    let first = list(&s.api, &alice, "?limit=2").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(ids(&first), everything[..2]);
    let next = first.body["next"]
        .as_str()
        .expect("a cursor to the next page");
    let second = list(
        &s.api,
        &alice,
        &format!("?limit=2&cursor={}", urlencode(next)),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(ids(&second), everything[2..]);
    assert_eq!(second.body["next"], Value::Null, "the last page says so");

    let position = |id: &str| everything.iter().position(|c| c == id).expect("listed");
    let big_entry = &all.body["conversations"][position(&big)];
    assert_eq!(big_entry["member_count"], 22, "{big_entry}");
    assert_eq!(big_entry["members"].as_array().map(Vec::len), Some(20));
    let direct_entry = &all.body["conversations"][position(&direct)];
    assert_eq!(direct_entry["member_count"], 2);
    assert_eq!(direct_entry["members"].as_array().map(Vec::len), Some(2));
    for field in [
        "kind",
        "name",
        "last_message",
        "last_seq",
        "read_seq",
        "unread",
    ] {
        assert!(
            big_entry.get(field).is_some(),
            "{field} missing: {big_entry}"
        );
    }

    for (query, code) in [
        ("?limit=0", "invalid_limit"),
        ("?limit=201", "invalid_limit"),
        ("?cursor=nonsense", "bad_request"),
        (
            "?cursor=-2.00000000-0000-0000-0000-000000000001",
            "bad_request",
        ),
        ("?limit=x", "bad_request"),
    ] {
        let r = list(&s.api, &alice, query).await;
        assert_eq!((r.status, r.code()), (400, code), "{query}: {}", r.body);
    }
}

/// Percent-encode what a cursor may hold for a query string.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn bounded_a_sync_frame_names_few_conversations_and_replays_few_messages_each() {
    let s = stack(
        "gw-sync-bounds",
        &[
            ("CHAT__GATEWAY__SYNC_MAX_CONVERSATIONS", "3"),
            ("CHAT__GATEWAY__SYNC_MAX_MESSAGES", "3"),
        ],
    )
    .await;
    let alice = sign_up(&s.api, "alice").await;
    let bob = sign_up(&s.api, "bob").await;
    let group = create_group(&s.api, &alice, &[&bob]).await;
    let mut b = Ws::connect(&s.gateway, &bob.token).await;
    let mut acks = Vec::new();
    for i in 0..5 {
        acks.push(send_text(&mut b, &group, &format!("m{i}"), &format!("missed {i}")).await);
    }
    wait_for_last_body(&s.api, &alice, &group, "missed 4").await;

    let mut a = Ws::connect(&s.gateway, &alice.token).await;
    // Four conversations: over the limit of three, refused whole; the socket stays open.
    let mut too_many = serde_json::Map::new();
    too_many.insert(group.clone(), json!(-1));
    for _ in 0..3 {
        too_many.insert(ConversationId::new_random().to_string(), json!(-1));
    }
    let e = a
        .request(json!({"type": "sync", "positions": too_many}))
        .await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str(), e["ref"].as_str()),
        (Some("error"), Some("too_large"), Some("sync")),
        "{e}"
    );
    // A position below the one sentinel (-1) is refused too.
    let e = a
        .request(json!({"type": "sync", "positions": {group.clone(): -2}}))
        .await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("bad_frame"), Some("sync")),
        "{e}"
    );
    assert_eq!(a.request(json!({"type": "ping"})).await["type"], "pong");

    // Three messages per frame: the first three, then `more` names the conversation.
    a.send(json!({"type": "sync", "positions": {group.clone(): -1}}))
        .await;
    for ack in &acks[..3] {
        let ev = a.next().await;
        assert_eq!(
            (ev["type"].as_str(), &ev["seq"]),
            (Some("event"), &ack["seq"]),
            "{ev}"
        );
    }
    let synced = a.next().await;
    assert_eq!(synced["type"], "synced", "{synced}");
    assert_eq!(synced["positions"][&group], acks[2]["seq"]);
    assert_eq!(synced["more"], json!([group.clone()]));
    // The next sync continues from there and reaches the end.
    a.send(json!({"type": "sync", "positions": {group.clone(): acks[2]["seq"]}}))
        .await;
    for ack in &acks[3..] {
        let ev = a.next().await;
        assert_eq!(ev["seq"], ack["seq"], "{ev}");
    }
    let synced = a.next().await;
    assert_eq!(synced["type"], "synced", "{synced}");
    assert_eq!(synced["more"], json!([]));
    assert!(synced["positions"][&group].as_i64() >= acks[4]["seq"].as_i64());
}

#[tokio::test]
async fn bounded_typing_is_not_relayed_in_groups_above_the_cap() {
    let gw = Gateway::start_with(
        "gw-typing-cap",
        &[("CHAT__GATEWAY__TYPING_MAX_MEMBERS", "2")],
    )
    .await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let carol = sign_up(&api, "carol").await;
    let trio = create_group(&api, &alice, &[&bob, &carol]).await;
    let direct = create_direct(&api, &alice, &bob).await;
    let mut a = Ws::connect(&gw, &alice.token).await;
    let mut b = Ws::connect(&gw, &bob.token).await;
    assert_eq!(b.request(json!({"type": "ping"})).await["type"], "pong");
    assert_eq!(a.request(json!({"type": "ping"})).await["type"], "pong");
    // Typing in the three-member group, then in the direct conversation: bob's first
    // typing frame is the direct one (both go through the same channel, in order).
    a.send(json!({"type": "typing", "conversation_id": trio, "state": "start"}))
        .await;
    a.send(json!({"type": "typing", "conversation_id": direct, "state": "start"}))
        .await;
    // The group's start was accepted without an error: the next answer is the pong.
    assert_eq!(a.request(json!({"type": "ping"})).await["type"], "pong");
    let t = loop {
        let f = b.next().await;
        if f["type"] == "typing" {
            break f;
        }
    };
    assert_eq!(t["conversation_id"], direct.as_str(), "{t}");
}

#[tokio::test]
async fn bounded_a_history_page_carries_the_receipts_of_those_who_read_furthest() {
    let s = stack("gw-receipts", &[("CHAT__GATEWAY__RECEIPTS_PER_PAGE", "2")]).await;
    let alice = sign_up(&s.api, "alice").await;
    let bob = sign_up(&s.api, "bob").await;
    let carol = sign_up(&s.api, "carol").await;
    let dan = sign_up(&s.api, "dan").await;
    let group = create_group(&s.api, &alice, &[&bob, &carol, &dan]).await;
    let mut a = Ws::connect(&s.gateway, &alice.token).await;
    let first = send_text(&mut a, &group, "r1", "first").await;
    let mut c = Ws::connect(&s.gateway, &carol.token).await;
    // Carol's send moves her read pointer to it: alice and carol read furthest.
    send_text(&mut c, &group, "r2", "second").await;
    wait_for_last_body(&s.api, &alice, &group, "second").await;
    assert!(first["seq"].as_i64().is_some());
    let page = s
        .api
        .call(
            "GET",
            &format!("/api/v1/conversations/{group}/messages"),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let mut readers: Vec<String> = page.body["receipts"]
        .as_array()
        .expect("receipts")
        .iter()
        .map(|r| r["user_id"].as_str().unwrap_or("").to_string())
        .collect();
    readers.sort();
    let mut expected = vec![alice.id.clone(), carol.id.clone()];
    expected.sort();
    assert_eq!(readers, expected, "{}", page.body);
}

#[tokio::test]
async fn bounded_group_size_is_a_setting_at_creation_and_on_every_addition() {
    let gw = Gateway::start_with(
        "gw-group-size",
        &[("CHAT__GATEWAY__MAX_GROUP_MEMBERS", "3")],
    )
    .await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let carol = sign_up(&api, "carol").await;
    let dan = sign_up(&api, "dan").await;
    let ids = |us: &[&User]| us.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    let r = api
        .call(
            "POST",
            "/api/v1/conversations",
            Some(&alice.token),
            Some(json!({"kind": "group", "members": ids(&[&bob, &carol, &dan])})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_members"), "{}", r.body);
    let group = create_group(&api, &alice, &[&bob, &carol]).await;
    let r = add_member(&api, &alice, &group, &dan).await;
    assert_eq!((r.status, r.code()), (409, "group_full"), "{}", r.body);
    // Someone leaves: there is room again.
    let r = api
        .call(
            "DELETE",
            &format!("/api/v1/conversations/{group}/members/{}", carol.id),
            Some(&carol.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(add_member(&api, &alice, &group, &dan).await.status, 204);
}

/// `[groups] who_may_add`: the gateway refuses what the setting forbids, and the history
/// projection (with the same setting) refuses it too when it comes from the log.
async fn who_may_add_end_to_end(policy: &str) {
    let s = stack(
        &format!("gw-who-adds-{policy}"),
        &[("CHAT__GROUPS__WHO_MAY_ADD", policy)],
    )
    .await;
    let alice = sign_up(&s.api, "alice").await;
    let bob = sign_up(&s.api, "bob").await;
    let carol = sign_up(&s.api, "carol").await;
    let dan = sign_up(&s.api, "dan").await;
    let group = create_group(&s.api, &alice, &[&bob]).await;
    // Bob is a member, not an admin.
    let r = add_member(&s.api, &bob, &group, &carol).await;
    if policy == "admins" {
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.body);
        assert_eq!(add_member(&s.api, &alice, &group, &carol).await.status, 204);
    } else {
        assert_eq!(r.status, 204, "{}", r.body);
    }
    // Bob's addition of dan written to the log without a gateway: the projection
    // applies it only when the setting allows it.
    append_directly(
        &s,
        &ConversationEvent {
            event_id: uuid::Uuid::new_v4(),
            conversation_id: group.parse().expect("id"),
            actor_id: UserId(bob.id.parse().expect("id")),
            occurred_at: UnixMillis::now(),
            gateway_id: "a-tool".into(),
            payload: Payload::MemberAdded {
                user_id: UserId(dan.id.parse().expect("id")),
                as_admin: false,
            },
            sealed: None,
        },
    )
    .await;
    // A message after it, in the same partition: once it is projected, so is the add.
    let mut a = Ws::connect(&s.gateway, &alice.token).await;
    send_text(&mut a, &group, "after", "after the addition").await;
    wait_for_last_body(&s.api, &alice, &group, "after the addition").await;
    let listed = entry(&s.api, &alice, &group).await.expect("listed");
    let members: Vec<&str> = listed["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(members.contains(&carol.id.as_str()), "{listed}");
    assert_eq!(
        members.contains(&dan.id.as_str()),
        policy == "members",
        "{policy}: {listed}"
    );
    assert_eq!(
        listed["member_count"],
        if policy == "members" { 4 } else { 3 }
    );
}

#[tokio::test]
async fn bounded_only_admins_add_members_when_the_setting_says_admins() {
    who_may_add_end_to_end("admins").await;
}

#[tokio::test]
async fn bounded_any_member_adds_members_by_default_setting() {
    who_may_add_end_to_end("members").await;
}

#[tokio::test]
async fn bounded_readyz_and_metrics_are_on_the_ops_listener_only() {
    let gw = Gateway::start("gw-ops").await;
    let http = reqwest::Client::new();
    // A socket, so the gateway has metrics to show.
    let alice = sign_up(&Api::new(&gw), "alice").await;
    let mut ws = Ws::connect(&gw, &alice.token).await;
    assert_eq!(ws.request(json!({"type": "ping"})).await["type"], "pong");
    for path in ["/readyz", "/metrics"] {
        let public = http
            .get(format!("{}{path}", gw.url()))
            .send()
            .await
            .expect("public port answers");
        let body = public.text().await.unwrap_or_default();
        assert!(
            !body.contains("gateway_") && !body.contains("\"checks\""),
            "{path} on the public port: {body}"
        );
    }
    let healthz = http
        .get(format!("{}/healthz", gw.url()))
        .send()
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200, "/healthz stays public");
    let ready = http
        .get(format!("{}/readyz", gw.ops_url()))
        .send()
        .await
        .expect("ops readyz");
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.expect("JSON");
    assert_eq!(ready["checks"]["kafka"], true, "{ready}");
    assert!(
        gw.metrics().await.contains("gateway_"),
        "metrics on the ops port"
    );
}
