//! Protocol v1.1 against the real stack (gateway, history, fanout and presence roles,
//! Kafka, the registry, the CQL store, Redis): threads, reactions, renaming and pins,
//! over REST and WebSocket, every error code of those sections, live delivery of the
//! new events with seq/prev_seq, and `sync` replaying the summaries.

use std::time::Duration;

use chat_e2e::live::LiveStack;
use chat_e2e::*;
use serde_json::{json, Value};

/// Wait for an `event` frame of `kind` on `ws` (other frames are skipped).
async fn next_event(ws: &mut Ws, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} event in 30 s"));
        if v["type"] == "event" && v["event"]["kind"] == kind {
            return v;
        }
    }
}

fn react(c: &str, m: &Value, emoji: &str, op: &str, id: &str) -> Value {
    json!({"type": "react", "conversation_id": c, "message_id": m, "emoji": emoji,
           "op": op, "client_msg_id": id})
}

/// A history page (`query` appended) once the projection shows `check` true.
async fn page_when(
    api: &Api,
    user: &User,
    c: &str,
    query: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let r = api
            .call(
                "GET",
                &format!("/api/v1/conversations/{c}/messages{query}"),
                Some(&user.token),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        if check(&r.body) {
            return r.body;
        }
        last = r.body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: never happened; last page {last}");
}

fn by_body<'a>(page: &'a Value, body: &str) -> Option<&'a Value> {
    page["messages"]
        .as_array()?
        .iter()
        .find(|m| m["body"] == body)
}

#[tokio::test]
async fn threads_reply_count_list_and_stay_out_of_the_main_timeline() {
    let stack = LiveStack::start(1, 60, 3600).await;
    let api = stack.api(0);
    let g = &stack.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let c = create_group(&api, &alice, &[&bob]).await;
    let mut a = Ws::connect(g, &alice.token).await;
    let mut b = Ws::connect(g, &bob.token).await;

    let root = a.request(send_frame(&c, "root", "lunch?")).await;
    assert_eq!(root["type"], "ack", "{root}");
    let root_id = root["message_id"].clone();
    // Over WebSocket and over REST.
    let mut reply = send_frame(&c, "r1", "yes");
    reply["thread_root"] = root_id.clone();
    let first = b.request(reply).await;
    assert_eq!(first["type"], "ack", "{first}");
    let r = api
        .call(
            "POST",
            &format!("/api/v1/conversations/{c}/messages"),
            Some(&alice.token),
            Some(json!({"client_msg_id": "r2", "body": "at noon", "thread_root": root_id})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let second = r.body;

    // Live: the reply is a message_sent that names its thread.
    let live = next_event(&mut a, "message_sent").await;
    let live = if live["event"]["body"] == "lunch?" {
        next_event(&mut a, "message_sent").await
    } else {
        live
    };
    assert_eq!(live["event"]["thread_root"], root_id, "{live}");

    // The root carries the summary; the thread route lists the replies oldest first.
    let page = page_when(&api, &alice, &c, "", "the summary", |p| {
        by_body(p, "lunch?").is_some_and(|m| m["thread"]["reply_count"] == 2)
    })
    .await;
    let root_row = by_body(&page, "lunch?").expect("root");
    assert_eq!(root_row["thread"]["last_reply_seq"], second["seq"]);
    assert!(root_row["thread_root"].is_null());
    assert_eq!(
        by_body(&page, "yes").expect("reply")["thread_root"],
        root_id
    );
    let main = page_when(&api, &alice, &c, "?threads=exclude", "excluded", |_| true).await;
    assert!(by_body(&main, "yes").is_none() && by_body(&main, "lunch?").is_some());
    let path = format!(
        "/api/v1/conversations/{c}/threads/{}/messages",
        root_id.as_str().unwrap()
    );
    let r = api.call("GET", &path, Some(&bob.token), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["root"]["body"], "lunch?");
    let bodies: Vec<&str> = r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["yes", "at noon"]);
    assert!(r.body["next_after"].is_null());
    let r = api
        .call("GET", &format!("{path}?limit=1"), Some(&bob.token), None)
        .await;
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["next_after"], first["seq"]);
    let r = api
        .call(
            "GET",
            &format!("{path}?after={}", first["seq"]),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(r.body["messages"][0]["body"], "at noon");

    // A retried reply is counted once.
    let mut again = send_frame(&c, "r1", "yes");
    again["thread_root"] = root_id.clone();
    assert_eq!(b.request(again).await["seq"], first["seq"]);

    // Errors: unknown root, a reply as root, a non-member, bad paths and queries.
    let mut unknown = send_frame(&c, "r3", "to nothing");
    unknown["thread_root"] = json!(uuid::Uuid::new_v4());
    let e = a.request(unknown).await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("not_found"))
    );
    assert_eq!(e["ref"], "r3");
    let mut nested = send_frame(&c, "r4", "nested");
    nested["thread_root"] = first["message_id"].clone();
    assert_eq!(a.request(nested).await["code"], "invalid_thread");
    let r = api
        .call(
            "POST",
            &format!("/api/v1/conversations/{c}/messages"),
            Some(&alice.token),
            Some(json!({"client_msg_id": "r5", "body": "x", "thread_root": first["message_id"]})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_thread"));
    let nested_path = format!(
        "/api/v1/conversations/{c}/threads/{}/messages",
        first["message_id"].as_str().unwrap()
    );
    let r = api
        .call("GET", &nested_path, Some(&alice.token), None)
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_thread"));
    let unknown_path = format!(
        "/api/v1/conversations/{c}/threads/{}/messages",
        uuid::Uuid::new_v4()
    );
    let r = api
        .call("GET", &unknown_path, Some(&alice.token), None)
        .await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let carol = sign_up(&api, "carol").await;
    let r = api.call("GET", &path, Some(&carol.token), None).await;
    assert_eq!((r.status, r.code()), (403, "not_member"));
    for q in ["?limit=0", "?limit=201", "?after=-2", "?after=x"] {
        let r = api
            .call("GET", &format!("{path}{q}"), Some(&alice.token), None)
            .await;
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
    let r = api
        .call(
            "GET",
            &format!("/api/v1/conversations/{c}/messages?threads=maybe"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "bad_request"));
}

#[tokio::test]
async fn reactions_count_exactly_toggle_and_are_delivered_live() {
    let stack = LiveStack::start(1, 60, 3600).await;
    let api = stack.api(0);
    let g = &stack.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let c = create_group(&api, &alice, &[&bob]).await;
    let mut a = Ws::connect(g, &alice.token).await;
    let mut b = Ws::connect(g, &bob.token).await;
    let m = a.request(send_frame(&c, "m1", "ship it")).await;
    let mid = m["message_id"].clone();

    let ack = b.request(react(&c, &mid, "👍🏽", "add", "x1")).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["message_id"], mid);
    let ev = next_event(&mut a, "reaction_added").await;
    assert_eq!(ev["event"]["emoji"], "👍🏽");
    assert_eq!(ev["event"]["user_id"], bob.id);
    assert_eq!(ev["event"]["message_id"], mid);
    assert!(ev["prev_seq"].as_i64().is_some() && ev["seq"] == ack["seq"]);

    // Adding again changes nothing; a retry is answered with the first ack.
    b.request(react(&c, &mid, "👍🏽", "add", "x2")).await;
    assert_eq!(
        b.request(react(&c, &mid, "👍🏽", "add", "x1")).await["seq"],
        ack["seq"]
    );
    // REST, with the emoji URL-encoded, and a shortcode.
    let base = format!(
        "/api/v1/conversations/{c}/messages/{}/reactions",
        mid.as_str().unwrap()
    );
    let r = api
        .call(
            "PUT",
            &format!("{base}/%F0%9F%91%8D%F0%9F%8F%BD"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = api
        .call(
            "PUT",
            &format!("{base}/:ship_it:"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let page = page_when(&api, &alice, &c, "", "two reactions", |p| {
        by_body(p, "ship it")
            .is_some_and(|m| m["reactions"].as_array().is_some_and(|r| r.len() == 2))
    })
    .await;
    let reactions = &by_body(&page, "ship it").unwrap()["reactions"];
    assert_eq!(reactions[0]["emoji"], "👍🏽");
    assert_eq!(reactions[0]["count"], 2, "{reactions}");
    assert_eq!(reactions[0]["user_ids"], json!([bob.id, alice.id]));
    assert_eq!(reactions[1]["emoji"], ":ship_it:");

    // Removing, over both transports; removing what is not there changes nothing.
    let r = api
        .call(
            "DELETE",
            &format!("{base}/:ship_it:"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = api
        .call(
            "DELETE",
            &format!("{base}/:ship_it:"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        b.request(react(&c, &mid, "👍🏽", "remove", "x3")).await["type"],
        "ack"
    );
    next_event(&mut a, "reaction_removed").await;
    let page = page_when(&api, &alice, &c, "", "one reactor left", |p| {
        by_body(p, "ship it").is_some_and(|m| {
            m["reactions"] == json!([{"emoji": "👍🏽", "count": 1, "user_ids": [alice.id]}])
        })
    })
    .await;
    assert!(by_body(&page, "ship it").is_some());

    // Errors.
    for bad in ["x", "👍👍", ":Caps:", "::", "<b>"] {
        let e = b.request(react(&c, &mid, bad, "add", "bad")).await;
        assert_eq!(e["code"], "invalid_emoji", "{bad}: {e}");
    }
    let r = api
        .call("PUT", &format!("{base}/abc"), Some(&alice.token), None)
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_emoji"));
    let e = b
        .request(react(&c, &json!(uuid::Uuid::new_v4()), "👍", "add", "nf"))
        .await;
    assert_eq!(e["code"], "not_found");
    let e = b
        .request(
            json!({"type": "react", "conversation_id": c, "message_id": mid,
                        "emoji": "👍", "op": "toggle", "client_msg_id": "op"}),
        )
        .await;
    assert_eq!(e["code"], "bad_frame");
    let carol = sign_up(&api, "carol").await;
    let r = api
        .call("PUT", &format!("{base}/👍"), Some(&carol.token), None)
        .await;
    assert_eq!((r.status, r.code()), (403, "not_member"));
    // A deleted message takes no reactions.
    a.request(
        json!({"type": "delete", "conversation_id": c, "message_id": mid,
                     "client_msg_id": "del"}),
    )
    .await;
    let e = b.request(react(&c, &mid, "🎉", "add", "late")).await;
    assert_eq!(e["code"], "not_found");
}

#[tokio::test]
async fn at_most_fifty_distinct_emoji_on_a_message() {
    let stack = LiveStack::start(1, 60, 3600).await;
    let api = stack.api(0);
    let alice = sign_up(&api, "alice").await;
    let c = create_group(&api, &alice, &[]).await;
    let mut a = Ws::connect(&stack.gateways[0], &alice.token).await;
    let mid = a.request(send_frame(&c, "m", "react to me")).await["message_id"].clone();
    let emoji: Vec<String> = (0..51).map(|i| format!(":e{i}:")).collect();
    for (i, e) in emoji.iter().take(50).enumerate() {
        let ack = a.request(react(&c, &mid, e, "add", &format!("e{i}"))).await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    page_when(&api, &alice, &c, "", "50 emoji projected", |p| {
        by_body(p, "react to me")
            .is_some_and(|m| m["reactions"].as_array().is_some_and(|r| r.len() == 50))
    })
    .await;
    let e = a.request(react(&c, &mid, &emoji[50], "add", "e50")).await;
    assert_eq!(e["code"], "too_many_reactions", "{e}");
    let base = format!(
        "/api/v1/conversations/{c}/messages/{}/reactions",
        mid.as_str().unwrap()
    );
    let r = api
        .call("PUT", &format!("{base}/:e50:"), Some(&alice.token), None)
        .await;
    assert_eq!((r.status, r.code()), (409, "too_many_reactions"));
    // One already there is still fine.
    let r = api
        .call("PUT", &format!("{base}/:e0:"), Some(&alice.token), None)
        .await;
    assert_eq!(r.status, 204);

    // The gateway counts in Redis; a tally Redis lost is seeded again from history,
    // so the limit holds.
    let redis = chat_core::redis_client::connect(&settings().redis)
        .await
        .expect("Redis reachable");
    let message: chat_core::ids::MessageId = mid
        .as_str()
        .and_then(|m| m.parse().ok())
        .expect("message id");
    let tally = chat_store::reaction_tally::ReactionTally::new(redis);
    tally.forget(message).await.expect("forget the tally");
    let r = api
        .call("PUT", &format!("{base}/:e50:"), Some(&alice.token), None)
        .await;
    assert_eq!((r.status, r.code()), (409, "too_many_reactions"));
    // Taking one back frees its place at once.
    let r = api
        .call("DELETE", &format!("{base}/:e0:"), Some(&alice.token), None)
        .await;
    assert_eq!(r.status, 204);
    let r = api
        .call("PUT", &format!("{base}/:e50:"), Some(&alice.token), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    page_when(&api, &alice, &c, "", "the swap projected", |p| {
        by_body(p, "react to me").is_some_and(|m| {
            let r = m["reactions"].as_array().cloned().unwrap_or_default();
            r.len() == 50
                && r.iter().any(|x| x["emoji"] == ":e50:")
                && !r.iter().any(|x| x["emoji"] == ":e0:")
        })
    })
    .await;
}

#[tokio::test]
async fn renames_and_pins_show_in_lists_and_live() {
    let stack = LiveStack::start(1, 60, 3600).await;
    let api = stack.api(0);
    let g = &stack.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let c = create_group(&api, &alice, &[&bob]).await;
    let mut a = Ws::connect(g, &alice.token).await;
    let mut b = Ws::connect(g, &bob.token).await;
    let one = a.request(send_frame(&c, "m1", "the plan")).await;
    let two = a.request(send_frame(&c, "m2", "the budget")).await;

    // Rename by any member, live and in the list.
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/conversations/{c}"),
            Some(&bob.token),
            Some(json!({"name": "Launch <team>"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ev = next_event(&mut a, "conversation_renamed").await;
    assert_eq!(ev["event"]["name"], "Launch <team>");
    assert_eq!(ev["event"]["actor_id"], bob.id);
    eventually("the list shows the new name", || async {
        let r = api
            .call("GET", "/api/v1/conversations", Some(&alice.token), None)
            .await;
        r.body["conversations"].as_array().is_some_and(|l| {
            l.iter()
                .any(|e| e["conversation_id"] == c && e["name"] == "Launch <team>")
        })
    })
    .await;
    for bad in [
        json!({"name": ""}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "a\u{202e}b"}),
    ] {
        let r = api
            .call(
                "PATCH",
                &format!("/api/v1/conversations/{c}"),
                Some(&bob.token),
                Some(bad),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "invalid_name"));
    }
    let direct = create_direct(&api, &alice, &bob).await;
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/conversations/{direct}"),
            Some(&alice.token),
            Some(json!({"name": "us"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let carol = sign_up(&api, "carol").await;
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/conversations/{c}"),
            Some(&carol.token),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "not_member"));

    // Pins: newest first, live, idempotent, unpinned by delete.
    let pin = |m: &Value| {
        format!(
            "/api/v1/conversations/{c}/pins/{}",
            m["message_id"].as_str().unwrap()
        )
    };
    for m in [&one, &two, &one] {
        let r = api.call("PUT", &pin(m), Some(&bob.token), None).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let ev = next_event(&mut a, "message_pinned").await;
    assert_eq!(ev["event"]["message_id"], one["message_id"]);
    let pins_path = format!("/api/v1/conversations/{c}/pins");
    eventually("two pins, newest first", || async {
        let r = api.call("GET", &pins_path, Some(&alice.token), None).await;
        r.status == 200
            && r.body["pins"].as_array().is_some_and(|p| {
                p.len() == 2
                    && p[0]["message"]["body"] == "the budget"
                    && p[1]["message"]["body"] == "the plan"
                    && p[0]["pinned_by"] == bob.id.as_str()
                    && p[0]["pinned_at"].is_string()
            })
    })
    .await;
    let r = api
        .call("DELETE", &pin(&two), Some(&alice.token), None)
        .await;
    assert_eq!(r.status, 204);
    next_event(&mut b, "message_unpinned").await;
    a.request(
        json!({"type": "delete", "conversation_id": c, "message_id": one["message_id"],
                     "client_msg_id": "d1"}),
    )
    .await;
    eventually("no pins left", || async {
        let r = api.call("GET", &pins_path, Some(&alice.token), None).await;
        r.body["pins"] == json!([])
    })
    .await;
    let r = api.call("PUT", &pin(&one), Some(&alice.token), None).await;
    assert_eq!(
        (r.status, r.code()),
        (404, "not_found"),
        "a deleted message"
    );
    let r = api.call("GET", &pins_path, Some(&carol.token), None).await;
    assert_eq!((r.status, r.code()), (403, "not_member"));
    let r = api
        .call(
            "PUT",
            &format!("{pins_path}/not-an-id"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_id"));
}

#[tokio::test]
async fn sync_replays_thread_summaries_and_reactions() {
    let stack = LiveStack::start(1, 60, 3600).await;
    let api = stack.api(0);
    let g = &stack.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let c = create_group(&api, &alice, &[&bob]).await;
    let mut a = Ws::connect(g, &alice.token).await;
    let root = a.request(send_frame(&c, "m1", "root")).await;
    let mut reply = send_frame(&c, "m2", "reply");
    reply["thread_root"] = root["message_id"].clone();
    a.request(reply).await;
    let reacted = a
        .request(react(&c, &root["message_id"], "🎉", "add", "r1"))
        .await;
    page_when(&api, &alice, &c, "", "projected", |p| {
        by_body(p, "root")
            .is_some_and(|m| m["thread"]["reply_count"] == 1 && m["reactions"][0]["count"] == 1)
    })
    .await;
    let mut b = Ws::connect(g, &bob.token).await;
    let reacted_seq = reacted["seq"].as_i64().expect("the reaction's seq");
    b.until_synced_to(&c, reacted_seq).await;
    b.send(json!({"type": "sync", "positions": {c.clone(): -1}}))
        .await;
    let mut replayed = Vec::new();
    loop {
        let f = b.next().await;
        if f["type"] == "synced" {
            break;
        }
        if f["type"] == "event" && f["replayed"] == true {
            replayed.push(f["event"].clone());
        }
    }
    let root_ev = replayed
        .iter()
        .find(|e| e["body"] == "root")
        .expect("root replayed");
    assert_eq!(root_ev["thread"]["reply_count"], 1, "{root_ev}");
    assert_eq!(root_ev["reactions"][0]["emoji"], "🎉");
    let reply_ev = replayed
        .iter()
        .find(|e| e["body"] == "reply")
        .expect("reply replayed");
    assert_eq!(reply_ev["thread_root"], root["message_id"]);
}
