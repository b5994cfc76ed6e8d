//! The server-to-client frames of conversation events, typing and presence, rendered
//! exactly as the protocol (services/gateway/PROTOCOL.md) describes them. Live frames
//! and the ones `sync` replays are both rendered here, so one protocol object has one
//! rendering.

use serde_json::{json, Value};

use crate::events::{ConversationEvent, Payload};
use crate::ids::{ConversationId, UserId};
use crate::time::UnixMillis;

/// The `event` frame of one log event at `seq`; `prev_seq` is the previous event of the
/// same conversation that was delivered (None for the first).
pub fn event_frame(event: &ConversationEvent, seq: i64, prev_seq: Option<i64>) -> String {
    json!({
        "type": "event",
        "conversation_id": event.conversation_id.to_string(),
        "seq": seq,
        "prev_seq": prev_seq,
        "event": event_body(event, seq),
    })
    .to_string()
}

/// A message as the `message_sent` event carries it. Live, it is the message as sent;
/// replayed by `sync`, it is the message as it is now (edits and deletion applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageView<'a> {
    pub message_id: String,
    pub conversation_id: String,
    pub seq: i64,
    pub sender_id: String,
    pub body: Option<&'a str>,
    pub kind: &'a str,
    pub reply_to: Option<String>,
    pub created_at: Option<String>,
    pub edited_at: Option<String>,
    pub deleted_at: Option<String>,
    /// v1.1: the thread this message replies in.
    pub thread_root: Option<String>,
    /// v1.1: the protocol's `attachments`, `thread` and `reactions` values, as JSON
    /// (live: what the event carries, `null` and `[]`; replayed: what history holds).
    pub attachments: Value,
    pub thread: Value,
    pub reactions: Value,
    /// v1.2: its content can no longer be opened (`erased: true` on the wire).
    pub erased: bool,
}

fn message_sent_body(m: &MessageView<'_>) -> Value {
    let mut body = json!({
        "kind": "message_sent",
        "actor_id": m.sender_id,
        "occurred_at": m.created_at,
        "message_id": m.message_id,
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "sender_id": m.sender_id,
        "body": m.body,
        "message_kind": m.kind,
        "reply_to": m.reply_to,
        "created_at": m.created_at,
        "edited_at": m.edited_at,
        "deleted_at": m.deleted_at,
        "thread_root": m.thread_root,
        "attachments": m.attachments,
        "thread": m.thread,
        "reactions": m.reactions,
    });
    // Only when true, as on history's `message`: every other frame stays as it was.
    if m.erased {
        if let Some(o) = body.as_object_mut() {
            o.insert("erased".into(), Value::Bool(true));
        }
    }
    body
}

/// The protocol's attachment object as far as the log knows it. `url` is the gateway
/// route that checks membership and redirects to a short-lived download link, so a
/// frame rendered anywhere (the fanout role has no storage credentials) carries a URL
/// that only a member can use.
pub fn attachment_view(conversation_id: &str, a: &crate::events::Attachment) -> Value {
    let url = if a.attachment_id.is_empty() {
        a.url.clone()
    } else {
        format!(
            "/api/v1/conversations/{conversation_id}/attachments/{}",
            a.attachment_id
        )
    };
    json!({
        "attachment_id": a.attachment_id,
        "filename": a.name,
        "content_type": a.content_type,
        "size": a.size_bytes,
        "url": url,
    })
}

/// The `event` frame `sync` sends for a message from history. `replayed` tells the
/// client it comes in order and gap-free by construction, not live.
pub fn replayed_message_frame(m: &MessageView<'_>, prev_seq: Option<i64>) -> String {
    json!({
        "type": "event",
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "prev_seq": prev_seq,
        "event": message_sent_body(m),
        "replayed": true,
    })
    .to_string()
}

/// The `event` object: kind, actor_id, occurred_at and the fields of the kind.
pub fn event_body(event: &ConversationEvent, seq: i64) -> Value {
    let occurred_at = event.occurred_at.to_rfc3339();
    let mut body = json!({
        "kind": event.payload.kind(),
        "actor_id": event.actor_id.to_string(),
        "occurred_at": occurred_at,
    });
    let fields = match &event.payload {
        Payload::MessageSent(m) => {
            return message_sent_body(&MessageView {
                message_id: m.message_id.to_string(),
                conversation_id: event.conversation_id.to_string(),
                seq,
                sender_id: event.actor_id.to_string(),
                body: Some(&m.body),
                kind: m.kind.as_str(),
                reply_to: m.reply_to.map(|r| r.to_string()),
                created_at: Some(occurred_at.clone()),
                edited_at: None,
                deleted_at: None,
                thread_root: m.thread_root.map(|r| r.to_string()),
                attachments: Value::Array(
                    m.attachments
                        .iter()
                        .map(|a| attachment_view(&event.conversation_id.to_string(), a))
                        .collect(),
                ),
                thread: Value::Null,
                reactions: Value::Array(vec![]),
                erased: false,
            })
        }
        Payload::MessageEdited {
            message_id, body, ..
        } => json!({
            "message_id": message_id.to_string(),
            "body": body,
            "edited_at": occurred_at,
        }),
        Payload::MessageDeleted { message_id, .. } => json!({
            "message_id": message_id.to_string(),
            "deleted_at": occurred_at,
        }),
        // A pointer never runs ahead of the event that moves it (history clamps it the
        // same way).
        Payload::ReadUpTo { seq: up_to } | Payload::DeliveredUpTo { seq: up_to } => json!({
            "user_id": event.actor_id.to_string(),
            "up_to_seq": (*up_to).min(seq),
        }),
        Payload::ConversationCreated(c) => json!({
            "conversation_kind": c.kind.as_str(),
            "name": c.name,
            "members": c.members.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
            "admins": c.admins.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
        }),
        Payload::MemberAdded { user_id, as_admin } => json!({
            "user_id": user_id.to_string(),
            "admin": as_admin,
        }),
        Payload::MemberRemoved { user_id } => json!({ "user_id": user_id.to_string() }),
        Payload::ReactionAdded(r) | Payload::ReactionRemoved(r) => json!({
            "message_id": r.message_id.to_string(),
            "emoji": r.emoji,
            "user_id": event.actor_id.to_string(),
        }),
        Payload::ConversationRenamed { name, .. } => json!({ "name": name }),
        Payload::MessagePinned { message_id, .. } | Payload::MessageUnpinned { message_id, .. } => {
            json!({ "message_id": message_id.to_string() })
        }
        // Never sent to clients (the fanout routes conversations' events only); the
        // frame would name the user, nothing more.
        Payload::ContentErased { user_id } => json!({ "user_id": user_id.to_string() }),
        Payload::ContentExpired { before, .. } => json!({ "before": before.to_rfc3339() }),
        Payload::RetentionSet { days, .. } => json!({ "days": days }),
        Payload::ConversationContentExpired { before } => {
            json!({ "before": before.to_rfc3339() })
        }
    };
    if let (Some(b), Value::Object(f)) = (body.as_object_mut(), fields) {
        b.extend(f);
    }
    body
}

/// `typing` to the other members. `expired` marks a `stop` the server sent because the
/// typist stopped refreshing (or disconnected), not one the typist sent.
pub fn typing_frame(c: ConversationId, user: UserId, start: bool, expired: bool) -> String {
    let mut frame = json!({
        "type": "typing",
        "conversation_id": c.to_string(),
        "user_id": user.to_string(),
        "state": if start { "start" } else { "stop" },
    });
    if expired {
        frame["expired"] = Value::Bool(true);
    }
    frame.to_string()
}

/// `presence` to the users who share a conversation with `user`.
pub fn presence_frame(user: UserId, online: bool, last_seen: Option<UnixMillis>) -> String {
    json!({
        "type": "presence",
        "user_id": user.to_string(),
        "status": if online { "online" } else { "offline" },
        "last_seen": last_seen.map(UnixMillis::to_rfc3339),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{MessageKind, MessageSent};
    use crate::ids::MessageId;
    use uuid::Uuid;

    fn event(payload: Payload) -> ConversationEvent {
        ConversationEvent {
            event_id: Uuid::from_u128(1),
            conversation_id: ConversationId(Uuid::from_u128(2)),
            actor_id: UserId(Uuid::from_u128(3)),
            occurred_at: UnixMillis(1_700_000_000_000),
            gateway_id: "gw".into(),
            payload,
            sealed: None,
        }
    }

    #[test]
    fn message_sent_carries_the_message_fields() {
        let e = event(Payload::MessageSent(MessageSent {
            message_id: MessageId(Uuid::from_u128(4)),
            client_msg_id: "c".into(),
            kind: MessageKind::Text,
            body: "<b>hi</b>".into(),
            reply_to: None,
            attachments: vec![],
            thread_root: None,
        }));
        let v: Value = serde_json::from_str(&event_frame(&e, 7, Some(5))).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["prev_seq"], 5);
        assert_eq!(v["event"]["kind"], "message_sent");
        assert_eq!(v["event"]["body"], "<b>hi</b>");
        assert_eq!(v["event"]["sender_id"], v["event"]["actor_id"]);
        assert_eq!(v["event"]["message_kind"], "text");
        assert_eq!(v["event"]["seq"], 7);
        assert!(v["event"]["deleted_at"].is_null());
    }

    #[test]
    fn first_event_has_a_null_prev_seq_and_pointers_name_their_user() {
        let e = event(Payload::ReadUpTo { seq: 3 });
        let v: Value = serde_json::from_str(&event_frame(&e, 9, None)).unwrap();
        assert!(v["prev_seq"].is_null());
        assert_eq!(v["event"]["kind"], "read");
        assert_eq!(v["event"]["user_id"], Uuid::from_u128(3).to_string());
        assert_eq!(v["event"]["up_to_seq"], 3);
    }

    #[test]
    fn typing_and_presence_frames() {
        let c = ConversationId(Uuid::from_u128(2));
        let u = UserId(Uuid::from_u128(3));
        let v: Value = serde_json::from_str(&typing_frame(c, u, true, false)).unwrap();
        assert_eq!(v["state"], "start");
        assert!(v.get("expired").is_none());
        let v: Value = serde_json::from_str(&typing_frame(c, u, false, true)).unwrap();
        assert_eq!(v["state"], "stop");
        assert_eq!(v["expired"], true);
        let v: Value =
            serde_json::from_str(&presence_frame(u, false, Some(UnixMillis(0)))).unwrap();
        assert_eq!(v["status"], "offline");
        assert_eq!(v["last_seen"], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn a_replayed_message_is_rendered_like_a_live_one_with_its_current_state() {
        let e = event(Payload::MessageSent(MessageSent {
            message_id: MessageId(Uuid::from_u128(4)),
            client_msg_id: "c".into(),
            kind: MessageKind::Text,
            body: "hi".into(),
            reply_to: None,
            attachments: vec![],
            thread_root: None,
        }));
        let live: Value = serde_json::from_str(&event_frame(&e, 7, Some(5))).unwrap();
        let replayed_view = MessageView {
            message_id: Uuid::from_u128(4).to_string(),
            conversation_id: Uuid::from_u128(2).to_string(),
            seq: 7,
            sender_id: Uuid::from_u128(3).to_string(),
            body: Some("hi"),
            kind: "text",
            reply_to: None,
            created_at: Some(UnixMillis(1_700_000_000_000).to_rfc3339()),
            edited_at: None,
            deleted_at: None,
            thread_root: None,
            attachments: json!([]),
            thread: Value::Null,
            reactions: json!([]),
            erased: false,
        };
        let mut replayed: Value =
            serde_json::from_str(&replayed_message_frame(&replayed_view, Some(5))).unwrap();
        assert_eq!(replayed["replayed"], true);
        replayed.as_object_mut().unwrap().remove("replayed");
        assert_eq!(replayed, live);
        assert!(live["event"].get("erased").is_none());
        // v1.2: an erased message says so, with no body.
        let erased_view = MessageView {
            body: None,
            erased: true,
            ..replayed_view
        };
        let erased: Value =
            serde_json::from_str(&replayed_message_frame(&erased_view, Some(5))).unwrap();
        assert_eq!(erased["event"]["erased"], true);
        assert_eq!(erased["event"]["body"], Value::Null);
    }

    #[test]
    fn v1_1_events_carry_their_fields() {
        use crate::events::{Attachment, Reaction};
        let root = MessageId(Uuid::from_u128(9));
        let reply = event(Payload::MessageSent(MessageSent {
            message_id: MessageId(Uuid::from_u128(4)),
            client_msg_id: "c".into(),
            kind: MessageKind::File,
            body: "see file".into(),
            reply_to: None,
            attachments: vec![Attachment {
                url: String::new(),
                name: "a <b>.pdf".into(),
                content_type: "application/pdf".into(),
                size_bytes: 10,
                attachment_id: "up1".into(),
                object_key: "uploads/x/up1".into(),
            }],
            thread_root: Some(root),
        }));
        let v: Value = serde_json::from_str(&event_frame(&reply, 7, Some(5))).unwrap();
        assert_eq!(v["event"]["thread_root"], root.to_string());
        assert!(v["event"]["thread"].is_null());
        assert_eq!(v["event"]["reactions"], json!([]));
        let a = &v["event"]["attachments"][0];
        assert_eq!(a["filename"], "a <b>.pdf");
        assert_eq!(a["size"], 10);
        assert_eq!(
            a["url"],
            format!(
                "/api/v1/conversations/{}/attachments/up1",
                Uuid::from_u128(2)
            )
        );
        assert!(
            a.get("object_key").is_none(),
            "the bucket layout stays private"
        );

        let r = Reaction {
            message_id: root,
            emoji: "👍".into(),
            client_msg_id: "r".into(),
        };
        let v: Value = serde_json::from_str(&event_frame(
            &event(Payload::ReactionRemoved(r)),
            8,
            Some(7),
        ))
        .unwrap();
        assert_eq!(v["event"]["kind"], "reaction_removed");
        assert_eq!(v["event"]["emoji"], "👍");
        assert_eq!(v["event"]["user_id"], Uuid::from_u128(3).to_string());
        assert_eq!(v["event"]["message_id"], root.to_string());

        let renamed = event(Payload::ConversationRenamed {
            name: "new".into(),
            client_msg_id: "n".into(),
        });
        let v: Value = serde_json::from_str(&event_frame(&renamed, 9, Some(8))).unwrap();
        assert_eq!(v["event"]["kind"], "conversation_renamed");
        assert_eq!(v["event"]["name"], "new");

        let pinned = event(Payload::MessagePinned {
            message_id: root,
            client_msg_id: "p".into(),
        });
        let v: Value = serde_json::from_str(&event_frame(&pinned, 10, Some(9))).unwrap();
        assert_eq!(v["event"]["kind"], "message_pinned");
        assert_eq!(v["event"]["message_id"], root.to_string());
    }
}
