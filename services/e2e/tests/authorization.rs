//! Who may do what: members write, only the sender edits, the sender or a group admin
//! deletes, and a non-member learns nothing about a conversation.

use chat_e2e::*;
use serde_json::json;

#[tokio::test]
async fn the_rules_hold_and_refusals_say_why() {
    let gw = Gateway::start("gw-authz").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let carol = sign_up(&api, "carol").await;
    let group = create_group(&api, &alice, &[&bob]).await;

    let mut alice_ws = Ws::connect(&gw, &alice.token).await;
    let mut bob_ws = Ws::connect(&gw, &bob.token).await;
    let mut carol_ws = Ws::connect(&gw, &carol.token).await;
    let a1 = alice_ws.request(send_frame(&group, "a1", "alice's")).await;
    let b1 = bob_ws.request(send_frame(&group, "b1", "bob's")).await;
    assert_eq!(
        (a1["type"].as_str(), b1["type"].as_str()),
        (Some("ack"), Some("ack"))
    );

    // A non-member gets the same answer whether or not the conversation exists.
    let real = carol_ws
        .request(send_frame(&group, "c1", "let me in"))
        .await;
    let fake = carol_ws
        .request(send_frame(
            &uuid::Uuid::new_v4().to_string(),
            "c2",
            "hello?",
        ))
        .await;
    assert_eq!(real["code"], "not_member");
    assert_eq!(
        (real["code"].clone(), real["message"].clone()),
        (fake["code"].clone(), fake["message"].clone())
    );
    assert_eq!(real["ref"], "c1");
    let rest = api
        .call(
            "POST",
            &format!("/api/v1/conversations/{group}/messages"),
            Some(&carol.token),
            Some(json!({"client_msg_id": "c3", "body": "x"})),
        )
        .await;
    assert_eq!((rest.status, rest.code()), (403, "not_member"));
    let add_self = api
        .call(
            "POST",
            &format!("/api/v1/conversations/{group}/members"),
            Some(&carol.token),
            Some(json!({"user_id": carol.id})),
        )
        .await;
    assert_eq!((add_self.status, add_self.code()), (403, "not_member"));
    let read = carol_ws
        .request(json!({"type": "read", "conversation_id": group, "up_to_seq": 1}))
        .await;
    assert_eq!(read["code"], "not_member", "pointers need membership too");

    // Only the sender edits.
    let edit = bob_ws
        .request(json!({"type": "edit", "conversation_id": group, "message_id": a1["message_id"], "body": "hijack", "client_msg_id": "b2"}))
        .await;
    assert_eq!(edit["code"], "forbidden", "{edit}");
    assert_eq!(edit["ref"], "b2");
    // A message id from nowhere, or from another conversation, is not found.
    let ghost = alice_ws
        .request(json!({"type": "edit", "conversation_id": group, "message_id": uuid::Uuid::new_v4(), "body": "x", "client_msg_id": "a2"}))
        .await;
    assert_eq!(ghost["code"], "not_found");

    // The sender or a group admin deletes; a plain member may not delete others'.
    let del = bob_ws.request(json!({"type": "delete", "conversation_id": group, "message_id": a1["message_id"], "client_msg_id": "b3"})).await;
    assert_eq!(del["code"], "forbidden");
    let del = alice_ws.request(json!({"type": "delete", "conversation_id": group, "message_id": b1["message_id"], "client_msg_id": "a3"})).await;
    assert_eq!(
        del["type"], "ack",
        "an admin deletes anyone's message: {del}"
    );
    let gone = bob_ws.request(json!({"type": "edit", "conversation_id": group, "message_id": b1["message_id"], "body": "x", "client_msg_id": "b4"})).await;
    assert_eq!(
        gone["code"], "not_found",
        "a deleted message cannot be edited"
    );

    // Membership changes: members add, admins remove others, anyone leaves.
    let add = api
        .call(
            "POST",
            &format!("/api/v1/conversations/{group}/members"),
            Some(&bob.token),
            Some(json!({"user_id": carol.id})),
        )
        .await;
    assert_eq!(add.status, 204, "{}", add.body);
    let now_member = carol_ws.request(send_frame(&group, "c4", "thanks")).await;
    assert_eq!(
        now_member["type"], "ack",
        "a send right after being added succeeds: {now_member}"
    );
    let kick = api
        .call(
            "DELETE",
            &format!("/api/v1/conversations/{group}/members/{}", alice.id),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!((kick.status, kick.code()), (403, "forbidden"));
    let kick = api
        .call(
            "DELETE",
            &format!("/api/v1/conversations/{group}/members/{}", carol.id),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(kick.status, 204);
    let after = carol_ws
        .request(send_frame(&group, "c5", "still here?"))
        .await;
    assert_eq!(after["code"], "not_member");
    let leave = api
        .call(
            "DELETE",
            &format!("/api/v1/conversations/{group}/members/{}", bob.id),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(leave.status, 204);

    // Direct conversations keep their two members.
    let d = api
        .call(
            "POST",
            "/api/v1/conversations",
            Some(&alice.token),
            Some(json!({"kind": "direct", "members": [bob.id]})),
        )
        .await;
    let direct = d.body["conversation_id"].as_str().unwrap();
    let add = api
        .call(
            "POST",
            &format!("/api/v1/conversations/{direct}/members"),
            Some(&alice.token),
            Some(json!({"user_id": carol.id})),
        )
        .await;
    assert_eq!((add.status, add.code()), (403, "forbidden"));
    let bad = api
        .call(
            "POST",
            "/api/v1/conversations",
            Some(&alice.token),
            Some(json!({"kind": "direct", "members": [alice.id]})),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_members"));
    let unknown = api
        .call(
            "POST",
            "/api/v1/conversations",
            Some(&alice.token),
            Some(json!({"kind": "group", "members": [uuid::Uuid::new_v4()]})),
        )
        .await;
    assert_eq!((unknown.status, unknown.code()), (400, "invalid_members"));
}
