//! Live delivery across gateways against the real stack: fanout, receipts, typing,
//! presence and gap repair. Each test runs its own topics, projector roles and two
//! gateways (see `chat_e2e::live`).

use std::time::{Duration, Instant};

use chat_e2e::live::{send, Client, LiveStack};
use chat_e2e::{create_group, sign_up, until_listed, Api};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn assert_once_in_order(client: &Client, c: &str, expected: usize) {
    let counts = client.message_counts(c);
    assert_eq!(counts.len(), expected, "{}: {counts:?}", client.name);
    assert!(
        counts.values().all(|n| *n == 1),
        "{}: a message applied twice: {counts:?}",
        client.name
    );
    let seqs = client.seqs(c);
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "{}: out of order: {seqs:?}",
        client.name
    );
}

#[tokio::test]
async fn cross_gateway_and_multi_device_delivery_in_order_without_duplicates() {
    let stack = LiveStack::start(2, 60, 30).await;
    let api = stack.api(0);
    let (a, b, c) = (
        sign_up(&api, "ana").await,
        sign_up(&api, "ben").await,
        sign_up(&api, "cyd").await,
    );
    // Ana on both gateways (two devices), Ben on the second, Cyd on the first.
    let mut a1 = Client::connect(&stack.gateways[0], &a, "ana@gw1").await;
    let mut a2 = Client::connect(&stack.gateways[1], &a, "ana@gw2").await;
    let mut b1 = Client::connect(&stack.gateways[1], &b, "ben@gw2").await;
    let mut c1 = Client::connect(&stack.gateways[0], &c, "cyd@gw1").await;
    let group = create_group(&api, &a, &[&b, &c]).await;

    for i in 0..25 {
        a1.send_and_ack(send(&group, &format!("a-{i}"), &format!("from ana {i}")))
            .await;
        b1.send_and_ack(send(&group, &format!("b-{i}"), &format!("from ben {i}")))
            .await;
    }
    for client in [&mut a1, &mut a2, &mut b1, &mut c1] {
        client
            .until("50 messages", WAIT, |cl| {
                cl.message_counts(&group).len() >= 50
            })
            .await;
        client.drain(Duration::from_millis(300)).await;
        assert_once_in_order(client, &group, 50);
        assert_eq!(client.gaps, 0, "{}: live delivery left a gap", client.name);
        assert_eq!(
            client.of_kind(&group, "conversation_created").len(),
            1,
            "{}",
            client.name
        );
    }
    // Everyone saw the same events in the same order.
    assert_eq!(a1.seqs(&group), a2.seqs(&group));
    assert_eq!(a1.seqs(&group), b1.seqs(&group));
    assert_eq!(a1.seqs(&group), c1.seqs(&group));
    // Ana's second device got her own messages with their bodies.
    let own = a2.of_kind(&group, "message_sent");
    assert_eq!(own[0]["event"]["body"], "from ana 0");
    assert_eq!(own[0]["event"]["sender_id"], a.id.as_str());
}

#[tokio::test]
async fn edits_deletes_receipts_and_membership_reach_the_others() {
    let stack = LiveStack::start(2, 60, 30).await;
    let api = stack.api(1);
    let (a, b, c, d) = (
        sign_up(&api, "ana").await,
        sign_up(&api, "ben").await,
        sign_up(&api, "cyd").await,
        sign_up(&api, "dee").await,
    );
    let mut a1 = Client::connect(&stack.gateways[0], &a, "ana").await;
    let mut b1 = Client::connect(&stack.gateways[1], &b, "ben").await;
    let mut c1 = Client::connect(&stack.gateways[1], &c, "cyd").await;
    let mut d1 = Client::connect(&stack.gateways[0], &d, "dee").await;
    let group = create_group(&api, &a, &[&b, &c]).await;

    let first = a1.send_and_ack(send(&group, "m1", "first")).await;
    let second = a1.send_and_ack(send(&group, "m2", "second")).await;
    a1.send_and_ack(json!({"type": "edit", "conversation_id": group,
        "message_id": first["message_id"], "body": "first, edited", "client_msg_id": "e1"}))
        .await;
    a1.send_and_ack(json!({"type": "delete", "conversation_id": group,
        "message_id": second["message_id"], "client_msg_id": "d1"}))
        .await;
    let upto = second["seq"].as_i64().expect("seq");
    b1.ws
        .send(json!({"type": "delivered", "conversation_id": group, "up_to_seq": upto}))
        .await;
    b1.ws
        .send(json!({"type": "read", "conversation_id": group, "up_to_seq": upto}))
        .await;

    c1.until("edit, delete and Ben's receipts", WAIT, |cl| {
        !cl.of_kind(&group, "message_edited").is_empty()
            && !cl.of_kind(&group, "message_deleted").is_empty()
            && !cl.of_kind(&group, "read").is_empty()
            && !cl.of_kind(&group, "delivered").is_empty()
    })
    .await;
    let edited = c1.of_kind(&group, "message_edited")[0].clone();
    assert_eq!(edited["event"]["message_id"], first["message_id"]);
    assert_eq!(edited["event"]["body"], "first, edited");
    assert!(edited["event"]["edited_at"].is_string());
    let deleted = c1.of_kind(&group, "message_deleted")[0].clone();
    assert_eq!(deleted["event"]["message_id"], second["message_id"]);
    let read = c1.of_kind(&group, "read")[0].clone();
    assert_eq!(read["event"]["user_id"], b.id.as_str());
    assert_eq!(read["event"]["up_to_seq"], upto);
    let delivered = c1.of_kind(&group, "delivered")[0].clone();
    assert_eq!(delivered["event"]["user_id"], b.id.as_str());

    // The sender sees the read receipt too.
    a1.until("Ben's read receipt", WAIT, |cl| {
        !cl.of_kind(&group, "read").is_empty()
    })
    .await;

    // Membership: Dee is added and gets her own member_added, then the messages.
    let r = api
        .call(
            "POST",
            &format!("/api/v1/conversations/{group}/members"),
            Some(&a.token),
            Some(json!({"user_id": d.id})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    a1.send_and_ack(send(&group, "m3", "welcome dee")).await;
    d1.until("member_added and the next message", WAIT, |cl| {
        !cl.of_kind(&group, "member_added").is_empty()
            && !cl.of_kind(&group, "message_sent").is_empty()
    })
    .await;
    assert_eq!(
        d1.of_kind(&group, "member_added")[0]["event"]["user_id"],
        d.id.as_str()
    );
    assert_eq!(
        d1.of_kind(&group, "message_sent")[0]["event"]["body"],
        "welcome dee"
    );
    c1.until("member_added", WAIT, |cl| {
        !cl.of_kind(&group, "member_added").is_empty()
    })
    .await;
    // Nothing Dee was not a member for reached her.
    assert!(d1.of_kind(&group, "message_edited").is_empty());
}

#[tokio::test]
async fn typing_reaches_the_other_members_and_expires() {
    let stack = LiveStack::start(2, 60, 30).await;
    let api = stack.api(0);
    let (a, b, c, d) = (
        sign_up(&api, "ana").await,
        sign_up(&api, "ben").await,
        sign_up(&api, "cyd").await,
        sign_up(&api, "dee").await,
    );
    let mut a1 = Client::connect(&stack.gateways[0], &a, "ana").await;
    let mut b1 = Client::connect(&stack.gateways[1], &b, "ben").await;
    let mut c1 = Client::connect(&stack.gateways[0], &c, "cyd").await;
    let mut d1 = Client::connect(&stack.gateways[1], &d, "dee").await;
    let group = create_group(&api, &a, &[&b, &c]).await;

    // An explicit start and stop.
    a1.ws
        .send(json!({"type": "typing", "conversation_id": group, "state": "start"}))
        .await;
    for cl in [&mut b1, &mut c1] {
        cl.until("typing start", WAIT, |cl| !cl.typing.is_empty())
            .await;
        assert_eq!(cl.typing[0]["user_id"], a.id.as_str());
        assert_eq!(cl.typing[0]["conversation_id"], group.as_str());
        assert_eq!(cl.typing[0]["state"], "start");
    }
    a1.ws
        .send(json!({"type": "typing", "conversation_id": group, "state": "stop"}))
        .await;
    b1.until("typing stop", WAIT, |cl| cl.typing.len() >= 2)
        .await;
    assert_eq!(b1.typing[1]["state"], "stop");
    assert!(b1.typing[1].get("expired").is_none(), "{}", b1.typing[1]);

    // A start that is never refreshed stops by itself after 5 s.
    let started = Instant::now();
    a1.ws
        .send(json!({"type": "typing", "conversation_id": group, "state": "start"}))
        .await;
    b1.until("the expiry", WAIT, |cl| cl.typing.len() >= 4)
        .await;
    assert_eq!(b1.typing[2]["state"], "start");
    assert_eq!(b1.typing[3]["state"], "stop");
    assert_eq!(b1.typing[3]["expired"], true);
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "expired after {:?}, before the 5 s",
        started.elapsed()
    );

    // A non-member cannot type into the conversation; the typist never hears itself.
    let err = d1
        .ws
        .request(json!({"type": "typing", "conversation_id": group, "state": "start"}))
        .await;
    assert_eq!(err["code"], "not_member", "{err}");
    a1.drain(Duration::from_millis(500)).await;
    assert!(a1.typing.is_empty(), "{:?}", a1.typing);
    // Typing is never written to the log: no event besides the creation.
    b1.drain(Duration::from_millis(300)).await;
    assert_eq!(b1.events.get(&group).map(Vec::len), Some(1));
}

async fn presence_of(api: &Api, token: &str, user: &str) -> serde_json::Value {
    let r = api
        .call(
            "GET",
            &format!("/api/v1/users/{user}/presence"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn presence_online_offline_and_after_a_gateway_is_killed() {
    let mut stack = LiveStack::start(2, 3, 30).await;
    let api = stack.api(1);
    let (a, b) = (sign_up(&api, "ana").await, sign_up(&api, "ben").await);
    let group = create_group(&api, &a, &[&b]).await;
    // Presence goes to users who share a conversation, as the history projection knows.
    until_listed(&api, &a, &group).await;
    let offline = presence_of(&api, &b.token, &a.id).await;
    assert_eq!(offline["status"], "offline", "{offline}");
    let bad = api
        .call(
            "GET",
            "/api/v1/users/not-a-uuid/presence",
            Some(&b.token),
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let anonymous = api
        .call(
            "GET",
            &format!("/api/v1/users/{}/presence", a.id),
            None,
            None,
        )
        .await;
    assert_eq!(anonymous.status, 401);

    let mut ben = Client::connect(&stack.gateways[1], &b, "ben").await;
    let ana = Client::connect(&stack.gateways[0], &a, "ana").await;
    let online = |s: &'static str| {
        let id = a.id.clone();
        move |cl: &Client| {
            cl.presence
                .iter()
                .any(|p| p["user_id"] == id.as_str() && p["status"] == s)
        }
    };
    ben.until("Ana online", WAIT, online("online")).await;
    let p = presence_of(&api, &b.token, &a.id).await;
    assert_eq!(p["status"], "online", "{p}");

    // A clean disconnect.
    drop(ana);
    ben.until("Ana offline", WAIT, online("offline")).await;
    let p = presence_of(&api, &b.token, &a.id).await;
    assert_eq!(p["status"], "offline", "{p}");
    assert!(p["last_seen"].is_string(), "{p}");

    // Back online, then her gateway dies without a word: offline within the TTL.
    ben.presence.clear();
    let _ana = Client::connect(&stack.gateways[0], &a, "ana again").await;
    ben.until("Ana online again", WAIT, online("online")).await;
    stack.gateways[0].kill();
    let killed = Instant::now();
    ben.until("Ana offline after the kill", WAIT, online("offline"))
        .await;
    let p = presence_of(&api, &b.token, &a.id).await;
    assert_eq!(p["status"], "offline", "{p}");
    assert!(
        killed.elapsed() >= Duration::from_secs(1),
        "offline before any TTL could pass: {:?}",
        killed.elapsed()
    );
}

#[tokio::test]
async fn presence_frames_skip_groups_above_the_limit() {
    // The stack pushes presence through conversations of at most two members.
    let stack = LiveStack::start(1, 60, 30).await;
    let api = stack.api(0);
    let (a, b) = (sign_up(&api, "ana").await, sign_up(&api, "ben").await);
    let (c, d) = (sign_up(&api, "cat").await, sign_up(&api, "dan").await);
    let trio = create_group(&api, &a, &[&b, &c]).await;
    let ana_cat = create_group(&api, &a, &[&c]).await;
    let dan_ben = create_group(&api, &d, &[&b]).await;
    for (user, conversation) in [(&a, &trio), (&a, &ana_cat), (&d, &dan_ben)] {
        until_listed(&api, user, conversation).await;
    }
    let online = |id: String| {
        move |cl: &Client| {
            cl.presence
                .iter()
                .any(|p| p["user_id"] == id.as_str() && p["status"] == "online")
        }
    };
    let mut ben = Client::connect(&stack.gateways[0], &b, "ben").await;
    let mut cat = Client::connect(&stack.gateways[0], &c, "cat").await;
    let _ana = Client::connect(&stack.gateways[0], &a, "ana").await;
    cat.until(
        "Ana online (a two-member conversation)",
        WAIT,
        online(a.id.clone()),
    )
    .await;
    // Dan's announcement is published after Ana's, so by the time Ben has it, Ana's
    // would have reached him too had it been sent through the three-person group.
    let _dan = Client::connect(&stack.gateways[0], &d, "dan").await;
    ben.until(
        "Dan online (a two-member conversation)",
        WAIT,
        online(d.id.clone()),
    )
    .await;
    assert!(
        !ben.presence.iter().any(|p| p["user_id"] == a.id.as_str()),
        "Ben shares only a three-person group with Ana: {:?}",
        ben.presence
    );
    // Her status is still there on request.
    let p = presence_of(&api, &b.token, &a.id).await;
    assert_eq!(p["status"], "online", "{p}");
}

#[tokio::test]
async fn a_gap_left_by_a_stopped_fanout_is_repaired_by_sync() {
    // Events older than 2 s when the fanout reads them are not pushed live.
    let mut stack = LiveStack::start(2, 60, 2).await;
    let api = stack.api(0);
    let (a, b) = (sign_up(&api, "ana").await, sign_up(&api, "ben").await);
    let mut ana = Client::connect(&stack.gateways[0], &a, "ana").await;
    let mut ben = Client::connect(&stack.gateways[1], &b, "ben").await;
    let group = create_group(&api, &a, &[&b]).await;
    for i in 0..5 {
        ana.send_and_ack(send(&group, &format!("before-{i}"), "before"))
            .await;
    }
    ben.until("the first five", WAIT, |cl| {
        cl.message_counts(&group).len() == 5
    })
    .await;

    stack.stop_fanout();
    for i in 0..5 {
        ana.send_and_ack(send(
            &group,
            &format!("during-{i}"),
            "while the fanout was down",
        ))
        .await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    stack.start_fanout();
    // Keep talking until Ben hears something live again (the restarted fanout first
    // skips the stale backlog), then he must have found the gap and filled it.
    let mut sent = 10;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        ana.send_and_ack(send(&group, &format!("after-{sent}"), "after"))
            .await;
        sent += 1;
        ben.drain(Duration::from_secs(1)).await;
        if ben.gaps > 0 || Instant::now() > deadline {
            break;
        }
    }
    assert!(ben.gaps > 0, "no gap was detected");
    ben.until("everything, through sync", WAIT, |cl| {
        cl.message_counts(&group).len() == sent
    })
    .await;
    ben.drain(Duration::from_millis(500)).await;
    assert_once_in_order(&ben, &group, sent);
    let bodies: Vec<String> = ben
        .of_kind(&group, "message_sent")
        .iter()
        .map(|e| e["event"]["body"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        bodies
            .iter()
            .filter(|b| *b == "while the fanout was down")
            .count(),
        5
    );
}

/// The routing under the gateways, against the real Redis: one publish per gateway with
/// its users, nothing for users with no socket, and the routes of a gateway that died
/// without removing them pruned by the first publish nobody received.
#[tokio::test]
async fn frames_are_routed_once_per_gateway_and_a_dead_gateways_routes_are_pruned() {
    use chat_core::ids::UserId;
    use chat_store::live::{gateways_of, publish_to_users, RoutedFrame, Routes};

    let settings = chat_e2e::settings();
    let redis = chat_core::redis_client::connect(&settings.redis)
        .await
        .expect("redis");
    let (push_tx, mut pushes) = tokio::sync::mpsc::unbounded_channel();
    let mut listener = chat_core::redis_client::connect_subscriber(&settings.redis, push_tx)
        .await
        .expect("subscriber");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let live = Routes::new(format!("gw-live-{run}"));
    let dead = Routes::new(format!("gw-dead-{run}"));
    let [on_live, on_both, offline] = [(); 3].map(|_| UserId(uuid::Uuid::new_v4()));

    listener.subscribe(live.channel()).await.expect("subscribe");
    live.add(&mut listener, [on_live, on_both])
        .await
        .expect("routes");
    // A gateway that added a route and died: nobody listens on its channel.
    dead.add(&mut redis.clone(), [on_both])
        .await
        .expect("routes");
    assert_eq!(gateways_of(&redis, on_both).await.unwrap().len(), 2);

    let frame = r#"{"type":"event","text":"one\ntwo"}"#;
    let reached = publish_to_users(&redis, [on_live, on_both, offline], frame)
        .await
        .expect("publish");
    assert_eq!(reached, 2, "the two users on the live gateway");

    let message = tokio::time::timeout(WAIT, async {
        loop {
            let push = pushes.recv().await.expect("pushes");
            if push.kind != redis::PushKind::Message {
                continue;
            }
            if let Some(redis::Value::BulkString(b)) = push.data.get(1) {
                break String::from_utf8(b.clone()).expect("utf-8");
            }
        }
    })
    .await
    .expect("the routed frame");
    let routed = RoutedFrame::decode(&message).expect("routed");
    let mut users = routed.users.clone();
    users.sort_by_key(|u| u.0);
    let mut expected = vec![on_live, on_both];
    expected.sort_by_key(|u| u.0);
    assert_eq!(users, expected);
    assert_eq!(routed.frame, frame);

    assert_eq!(
        gateways_of(&redis, on_both).await.unwrap(),
        [format!("gw-live-{run}")],
        "the dead gateway's route was pruned"
    );
    assert!(gateways_of(&redis, offline).await.unwrap().is_empty());

    // Pushes arrive in order before the answer to a later command: after this PING,
    // a second copy of the frame would be waiting.
    redis::cmd("PING")
        .query_async::<String>(&mut listener)
        .await
        .expect("ping");
    assert!(pushes.try_recv().is_err(), "one publish per gateway");

    live.remove(&mut listener, on_live).await.expect("unroute");
    assert!(gateways_of(&redis, on_live).await.unwrap().is_empty());
    assert_eq!(
        publish_to_users(&redis, [on_live], frame)
            .await
            .expect("publish"),
        0
    );
}
