//! The write path end to end, with two gateways: accounts, conversations, sends over
//! WebSocket and REST, each event read back from Kafka through the registry, and
//! idempotent retries across gateways and a gateway restart.

use std::time::Duration;

use chat_core::events::{ConversationEvent, ConversationKind, MessageKind, Payload};
use chat_e2e::*;
use serde_json::json;

#[tokio::test]
async fn accounts_register_and_authenticate() {
    let gw = Gateway::start("gw-acc").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;

    let again = api
        .call(
            "POST",
            "/api/v1/users",
            None,
            Some(
                json!({"username": alice.username.to_uppercase(), "password": "another password"}),
            ),
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (409, "username_taken"),
        "usernames are case-insensitive"
    );

    for (body, code) in [
        (
            json!({"username": "a", "password": "long enough"}),
            "invalid_username",
        ),
        (
            json!({"username": unique("bob"), "password": "short"}),
            "invalid_password",
        ),
        (
            json!({"username": unique("bob"), "password": "long enough", "display_name": "\u{7}"}),
            "invalid_display_name",
        ),
    ] {
        let r = api.call("POST", "/api/v1/users", None, Some(body)).await;
        assert_eq!((r.status, r.code()), (400, code));
    }
    let r = api
        .call("POST", "/api/v1/users", None, Some(json!({"username": 5})))
        .await;
    assert_eq!((r.status, r.code()), (400, "bad_request"), "{}", r.body);

    let wrong = api
        .call(
            "POST",
            "/api/v1/auth",
            None,
            Some(json!({"username": alice.username, "password": "wrong password"})),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, "bad_credentials"));
    let unknown = api
        .call(
            "POST",
            "/api/v1/auth",
            None,
            Some(json!({"username": unique("nobody"), "password": "whatever1"})),
        )
        .await;
    assert_eq!((unknown.status, unknown.code()), (401, "bad_credentials"));

    let found = api
        .call(
            "GET",
            &format!("/api/v1/users?username={}", alice.username),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(found.body["users"][0]["user_id"], alice.id.as_str());
}

#[tokio::test]
async fn conversations_and_sends_are_appended_to_kafka() {
    let mut tap = EventTap::new();
    let gw_a = Gateway::start("gw-a").await;
    let gw_b = Gateway::start("gw-b").await;
    let (api_a, api_b) = (Api::new(&gw_a), Api::new(&gw_b));
    let alice = sign_up(&api_a, "alice").await;
    let bob = sign_up(&api_b, "bob").await;

    // Created on gateway A; Bob sends over WebSocket on gateway B right after.
    let group = create_group(&api_a, &alice, &[&bob]).await;
    let mut bob_ws = Ws::connect(&gw_b, &bob.token).await;
    let ack = bob_ws
        .request(send_frame(&group, "b-1", "hello from B"))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["client_msg_id"], "b-1");
    // Alice sends over REST on gateway A.
    let rest = api_a
        .call("POST", &format!("/api/v1/conversations/{group}/messages"), Some(&alice.token), Some(json!({"client_msg_id": "a-1", "body": "hi over REST", "reply_to": ack["message_id"]})))
        .await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    assert!(rest.body["seq"].as_i64().unwrap() > ack["seq"].as_i64().unwrap());

    let events = tap.events(&group, 3).await;
    let (_, created) = &events[0];
    assert_eq!(created.actor_id.to_string(), alice.id);
    assert_eq!(created.gateway_id, gw_a.id);
    let Payload::ConversationCreated(c) = &created.payload else {
        panic!("first event is the creation: {created:?}")
    };
    assert_eq!(c.kind, ConversationKind::Group);
    assert_eq!(c.name.as_deref(), Some("team"));
    let members: Vec<String> = c.members.iter().map(ToString::to_string).collect();
    assert_eq!(members, vec![alice.id.clone(), bob.id.clone()]);
    assert_eq!(
        c.admins.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![alice.id.clone()]
    );

    // Bodies are sealed in the log (v1.2): what the log holds is empty in the clear,
    // and opens to what was sent.
    let keyring = keyring().await;
    for (_, e) in &events[1..3] {
        let Payload::MessageSent(m) = &e.payload else {
            panic!("{e:?}")
        };
        assert!(m.body.is_empty() && e.sealed.is_some(), "{e:?}");
    }
    let events: Vec<(i64, ConversationEvent)> = {
        let mut out = Vec::new();
        for (o, e) in &events {
            out.push((*o, opened(&keyring, e).await));
        }
        out
    };
    let (offset, sent) = &events[1];
    assert_eq!(
        *offset,
        ack["seq"].as_i64().unwrap(),
        "ack.seq is the record offset"
    );
    assert_eq!(sent.actor_id.to_string(), bob.id);
    assert_eq!(sent.gateway_id, gw_b.id);
    let Payload::MessageSent(m) = &sent.payload else {
        panic!("{sent:?}")
    };
    assert_eq!(
        (m.body.as_str(), m.client_msg_id.as_str(), m.kind),
        ("hello from B", "b-1", MessageKind::Text)
    );
    assert_eq!(
        m.message_id.to_string(),
        ack["message_id"].as_str().unwrap()
    );

    let (offset, sent) = &events[2];
    assert_eq!(*offset, rest.body["seq"].as_i64().unwrap());
    let Payload::MessageSent(m) = &sent.payload else {
        panic!("{sent:?}")
    };
    assert_eq!(m.body, "hi over REST");
    assert_eq!(
        m.reply_to.map(|r| r.to_string()).as_deref(),
        ack["message_id"].as_str()
    );

    // Direct: one per pair, whoever asks; the second ask is 200 with the same id.
    let d1 = api_a
        .call(
            "POST",
            "/api/v1/conversations",
            Some(&alice.token),
            Some(json!({"kind": "direct", "members": [bob.id]})),
        )
        .await;
    assert_eq!(d1.status, 201, "{}", d1.body);
    let d2 = api_b
        .call(
            "POST",
            "/api/v1/conversations",
            Some(&bob.token),
            Some(json!({"kind": "direct", "members": [alice.id]})),
        )
        .await;
    assert_eq!(d2.status, 200, "{}", d2.body);
    assert_eq!(d1.body["conversation_id"], d2.body["conversation_id"]);
    let direct = d1.body["conversation_id"].as_str().unwrap().to_string();
    let ack = bob_ws.request(send_frame(&direct, "d-1", "psst")).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let direct_events = tap.all(&direct, Duration::from_secs(2)).await;
    assert_eq!(
        direct_events.len(),
        2,
        "one creation, one message: {direct_events:?}"
    );
    let Payload::ConversationCreated(c) = &direct_events[0].1.payload else {
        panic!()
    };
    assert_eq!(c.kind, ConversationKind::Direct);

    // Edits, deletes, read and delivered pointers are events too.
    let mut alice_ws = Ws::connect(&gw_a, &alice.token).await;
    let mid = rest.body["message_id"].as_str().unwrap();
    let edit = alice_ws.request(json!({"type": "edit", "conversation_id": group, "message_id": mid, "body": "edited", "client_msg_id": "a-2"})).await;
    assert_eq!(edit["type"], "ack", "{edit}");
    assert_eq!(edit["message_id"], mid);
    alice_ws
        .send(json!({"type": "read", "conversation_id": group, "up_to_seq": edit["seq"]}))
        .await;
    alice_ws
        .send(json!({"type": "delivered", "conversation_id": group, "up_to_seq": edit["seq"]}))
        .await;
    // Behind the pointer already recorded: appends nothing.
    alice_ws
        .send(json!({"type": "read", "conversation_id": group, "up_to_seq": 0}))
        .await;
    let del = alice_ws.request(json!({"type": "delete", "conversation_id": group, "message_id": mid, "client_msg_id": "a-3"})).await;
    assert_eq!(del["type"], "ack", "{del}");
    let events = tap.all(&group, Duration::from_secs(2)).await;
    let kinds: Vec<&str> = events.iter().map(|(_, e)| e.payload.kind()).collect();
    assert_eq!(
        kinds,
        [
            "conversation_created",
            "message_sent",
            "message_sent",
            "message_edited",
            "read",
            "delivered",
            "message_deleted"
        ]
    );
    assert!(
        matches!(events[4].1.payload, Payload::ReadUpTo { seq } if seq == edit["seq"].as_i64().unwrap())
    );
    let seqs: Vec<i64> = events.iter().map(|(o, _)| *o).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "one conversation, strictly increasing seq: {seqs:?}"
    );
}

#[tokio::test]
async fn a_retried_client_msg_id_appends_once_across_gateways_and_restarts() {
    let mut tap = EventTap::new();
    let mut gw_a = Gateway::start("gw-dedup-a").await;
    let gw_b = Gateway::start("gw-dedup-b").await;
    let api_a = Api::new(&gw_a);
    let alice = sign_up(&api_a, "alice").await;
    let group = create_group(&api_a, &alice, &[]).await;

    let mut ws = Ws::connect(&gw_a, &alice.token).await;
    let first = ws.request(send_frame(&group, "retry-me", "once")).await;
    assert_eq!(first["type"], "ack", "{first}");
    let again = ws.request(send_frame(&group, "retry-me", "once")).await;
    assert_eq!(again, first, "same ack for the same client_msg_id");

    let over_rest = Api::new(&gw_b)
        .call(
            "POST",
            &format!("/api/v1/conversations/{group}/messages"),
            Some(&alice.token),
            Some(json!({"client_msg_id": "retry-me", "body": "once"})),
        )
        .await;
    assert_eq!(over_rest.status, 201);
    assert_eq!(over_rest.body["message_id"], first["message_id"]);
    assert_eq!(over_rest.body["seq"], first["seq"]);
    assert_eq!(over_rest.body["ts"], first["ts"]);

    drop(ws);
    gw_a.restart().await;
    let mut ws = Ws::connect(&gw_a, &alice.token).await;
    let after_restart = ws.request(send_frame(&group, "retry-me", "once")).await;
    assert_eq!(after_restart, first, "dedup survives a gateway restart");
    // A new client_msg_id is a new message.
    let other = ws.request(send_frame(&group, "another", "twice")).await;
    assert_ne!(other["message_id"], first["message_id"]);

    let events = tap.all(&group, Duration::from_secs(2)).await;
    let sends: Vec<_> = events
        .iter()
        .filter(|(_, e)| matches!(e.payload, Payload::MessageSent(_)))
        .collect();
    assert_eq!(sends.len(), 2, "retry-me once, another once: {events:?}");
    assert_eq!(sends[0].0, first["seq"].as_i64().unwrap());
}

#[tokio::test]
async fn sessions_are_listed_from_any_gateway() {
    let gw_a = Gateway::start("gw-sess-a").await;
    let gw_b = Gateway::start("gw-sess-b").await;
    let api_a = Api::new(&gw_a);
    let alice = sign_up(&api_a, "alice").await;
    let ws_a = Ws::connect(&gw_a, &alice.token).await;
    let mut ws_b = Ws::connect(&gw_b, &alice.token).await;
    assert_eq!(ws_b.request(json!({"type": "ping"})).await["type"], "pong");
    let r = Api::new(&gw_b)
        .call("GET", "/api/v1/sessions", Some(&alice.token), None)
        .await;
    let mut gateways: Vec<&str> = r.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["gateway_id"].as_str().unwrap())
        .collect();
    gateways.sort();
    let mut expected = vec![gw_a.id.as_str(), gw_b.id.as_str()];
    expected.sort();
    assert_eq!(gateways, expected);
    drop(ws_a);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = api_a
            .call("GET", "/api/v1/sessions", Some(&alice.token), None)
            .await;
        if r.body["sessions"].as_array().unwrap().len() == 1 {
            assert_eq!(r.body["sessions"][0]["gateway_id"], gw_b.id.as_str());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "closed session still listed: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
