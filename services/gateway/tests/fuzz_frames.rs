//! Fuzz target: the WebSocket frame parser (`ws::frames::parse`), which turns a client's
//! text frame into a `ClientFrame` or the `bad_frame` answer.
//!
//! Properties: no input panics; every input gives a frame or a `BadFrame` whose `ref` is
//! what PROTOCOL.md says (the `client_msg_id` when the frame had one, else its type, else
//! `unknown`); a frame is only accepted with the `type` it was sent with; valid frames
//! round-trip; a field a frame does not define is refused. The kept corpus
//! (`fuzz/corpus/frames/`) is replayed first.
//!
//! Short run: `cargo test -p chat-gateway --test fuzz_frames`. Long run:
//! `FUZZ_CASES=200000 cargo test --release -p chat-gateway --test fuzz_frames`.

// One copy of the fuzz helpers for the workspace; the corpus and regressions it finds
// are this crate's (it resolves them from the including crate's manifest directory).
#[path = "../../chat-core/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::collections::HashMap;

use chat_core::events::MessageKind;
use chat_core::ids::{ClientMsgId, ConversationId, MessageId};
use chat_gateway::ws::frames::{
    parse, BadFrame, ClientFrame, ReactionOpFrame, TypingState, KNOWN_TYPES,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// The frame types the parser knows, from the parser itself.
const TYPES: [&str; 10] = KNOWN_TYPES;

const FIELDS: [&str; 15] = [
    "type",
    "conversation_id",
    "client_msg_id",
    "message_id",
    "body",
    "kind",
    "reply_to",
    "up_to_seq",
    "state",
    "positions",
    "token",
    "thread_root",
    "emoji",
    "op",
    "name",
];

/// Parse `text` and check what any answer must satisfy. Returns the answer.
fn parse_checked(text: &str) -> Result<ClientFrame, BadFrame> {
    let outcome = parse(text);
    let json: Option<Value> = serde_json::from_str(text).ok();
    let sent_type = json
        .as_ref()
        .and_then(|v| v.get("type"))
        .and_then(Value::as_str);
    match &outcome {
        Ok(frame) => {
            assert_eq!(
                Some(frame.type_name()),
                sent_type,
                "accepted as another type: {text}"
            );
        }
        Err(bad) => {
            let expected_ref = json
                .as_ref()
                .and_then(|v| v.get("client_msg_id"))
                .and_then(Value::as_str)
                .or(sent_type)
                .unwrap_or("unknown");
            assert_eq!(bad.reference, expected_ref, "wrong ref for {text}");
            assert!(!bad.message.is_empty(), "empty message for {text}");
        }
    }
    outcome
}

// ---- generators -------------------------------------------------------------------

fn client_msg_id() -> impl Strategy<Value = String> {
    "[!-~]{1,128}"
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn typing_state() -> impl Strategy<Value = TypingState> {
    prop_oneof![Just(TypingState::Start), Just(TypingState::Stop)]
}

fn sendable_kind() -> impl Strategy<Value = Option<MessageKind>> {
    prop_oneof![
        Just(None),
        Just(Some(MessageKind::Text)),
        Just(Some(MessageKind::Image)),
        Just(Some(MessageKind::File)),
    ]
}

/// A valid frame and the JSON a client would send for it.
fn valid_frame() -> impl Strategy<Value = (ClientFrame, Value)> {
    let cid = || uuid().prop_map(ConversationId);
    let mid = || uuid().prop_map(MessageId);
    let cmid = || client_msg_id().prop_map(|s| ClientMsgId::parse(s).expect("valid id"));
    prop_oneof![
        (
            cid(),
            cmid(),
            any::<String>(),
            sendable_kind(),
            proptest::option::of(mid()),
            proptest::option::of(mid())
        )
            .prop_map(|(c, m, body, kind, reply_to, thread_root)| {
                let mut v = json!({"type": "send", "conversation_id": c, "client_msg_id": m,
                                   "body": body});
                if let Some(k) = kind {
                    v["kind"] = json!(k);
                }
                if let Some(r) = reply_to {
                    v["reply_to"] = json!(r);
                }
                if let Some(t) = thread_root {
                    v["thread_root"] = json!(t);
                }
                let frame = ClientFrame::Send {
                    conversation_id: c,
                    client_msg_id: m,
                    body,
                    kind,
                    reply_to,
                    thread_root,
                    attachments: vec![],
                };
                (frame, v)
            }),
        (cid(), mid(), any::<String>(), any::<bool>(), cmid()).prop_map(
            |(c, m, emoji, add, cm)| {
                let op = if add { "add" } else { "remove" };
                let v = json!({"type": "react", "conversation_id": c, "message_id": m,
                               "emoji": emoji, "op": op, "client_msg_id": cm});
                let frame = ClientFrame::React {
                    conversation_id: c,
                    message_id: m,
                    emoji,
                    op: if add {
                        ReactionOpFrame::Add
                    } else {
                        ReactionOpFrame::Remove
                    },
                    client_msg_id: cm,
                };
                (frame, v)
            }
        ),
        (cid(), mid(), any::<String>(), cmid()).prop_map(|(c, m, body, cm)| {
            let v = json!({"type": "edit", "conversation_id": c, "message_id": m, "body": body,
                           "client_msg_id": cm});
            let frame = ClientFrame::Edit {
                conversation_id: c,
                message_id: m,
                body,
                client_msg_id: cm,
            };
            (frame, v)
        }),
        (cid(), mid(), cmid()).prop_map(|(c, m, cm)| {
            let v = json!({"type": "delete", "conversation_id": c, "message_id": m,
                           "client_msg_id": cm});
            let frame = ClientFrame::Delete {
                conversation_id: c,
                message_id: m,
                client_msg_id: cm,
            };
            (frame, v)
        }),
        (cid(), any::<i64>(), any::<bool>()).prop_map(|(c, seq, read)| {
            if read {
                let v = json!({"type": "read", "conversation_id": c, "up_to_seq": seq});
                (
                    ClientFrame::Read {
                        conversation_id: c,
                        up_to_seq: seq,
                    },
                    v,
                )
            } else {
                let v = json!({"type": "delivered", "conversation_id": c, "up_to_seq": seq});
                (
                    ClientFrame::Delivered {
                        conversation_id: c,
                        up_to_seq: seq,
                    },
                    v,
                )
            }
        }),
        (cid(), typing_state()).prop_map(|(c, state)| {
            let v = json!({"type": "typing", "conversation_id": c, "state": state});
            (
                ClientFrame::Typing {
                    conversation_id: c,
                    state,
                },
                v,
            )
        }),
        proptest::collection::hash_map(cid(), any::<i64>(), 0..8).prop_map(|positions| {
            let v = json!({"type": "sync", "positions": positions});
            (ClientFrame::Sync { positions }, v)
        }),
        Just((ClientFrame::Ping, json!({"type": "ping"}))),
    ]
}

/// Numbers and strings at the edges, as raw JSON text (so they can exceed i64 and f64).
fn hostile_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("9223372036854775807".to_string()),
        Just("9223372036854775808".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("-9223372036854775809".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1e400".to_string()),
        Just("-0".to_string()),
        Just("0.5".to_string()),
        Just("1E2".to_string()),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("\"\"".to_string()),
        Just("\"\\u0000\"".to_string()),
        Just("\"\\ud800\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| json!(f).to_string()),
        any::<String>().prop_map(|s| json!(s).to_string()),
        (1usize..400).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (1usize..400).prop_map(|depth| format!(
            "{}1{}",
            "{\"a\":".repeat(depth),
            "}".repeat(depth)
        )),
    ]
}

/// Any JSON value, a few levels deep, whose object keys are mostly the protocol's own.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        4 => proptest::sample::select(&FIELDS[..]).prop_map(str::to_string),
        1 => any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        proptest::sample::select(&TYPES[..]).prop_map(|t| Value::String(t.into())),
        uuid().prop_map(|u| Value::String(u.to_string())),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A way to damage a valid frame's JSON text.
#[derive(Debug, Clone)]
enum Mutation {
    Remove(usize),
    Replace(usize, String),
    AddUnknown(String, String),
    SetType(String),
    Truncate(usize),
    FlipByte(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), hostile_scalar()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        ("[a-z_]{1,12}|.{0,8}", hostile_scalar()).prop_map(|(k, v)| Mutation::AddUnknown(k, v)),
        prop_oneof![
            proptest::sample::select(&TYPES[..]).prop_map(str::to_string),
            Just("SEND".to_string()),
            Just("send ".to_string()),
            any::<String>(),
        ]
        .prop_map(Mutation::SetType),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
    ]
}

/// Write an object with one value given as raw JSON text.
fn object_text(fields: &[(String, String)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", json!(k)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn apply(frame: &Value, m: &Mutation) -> String {
    let mut fields: Vec<(String, String)> = frame
        .as_object()
        .expect("frames are objects")
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    if fields.is_empty() {
        // Everything was removed already: add the field back as something hostile.
        fields.push(("type".into(), "null".into()));
    }
    match m {
        Mutation::Remove(i) => {
            fields.remove(i % fields.len());
            object_text(&fields)
        }
        Mutation::Replace(i, v) => {
            let n = fields.len();
            fields[i % n].1 = v.clone();
            object_text(&fields)
        }
        Mutation::AddUnknown(k, v) => {
            fields.push((k.clone(), v.clone()));
            object_text(&fields)
        }
        Mutation::SetType(t) => {
            for f in &mut fields {
                if f.0 == "type" {
                    f.1 = json!(t).to_string();
                }
            }
            object_text(&fields)
        }
        Mutation::Truncate(i) => {
            let text = object_text(&fields);
            let mut cut = i % (text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text[..cut].to_string()
        }
        Mutation::FlipByte(i, b) => {
            let mut bytes = object_text(&fields).into_bytes();
            let n = bytes.len();
            bytes[i % n] = *b;
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

// ---- properties --------------------------------------------------------------------

proptest! {
    #![proptest_config(fuzz_support::config("proptest-regressions/fuzz_frames.txt"))]

    #[test]
    fn arbitrary_text_is_a_frame_or_bad_frame(text in any::<String>()) {
        let _ = parse_checked(&text);
    }

    #[test]
    fn arbitrary_bytes_are_a_frame_or_bad_frame(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        // The socket refuses invalid UTF-8 (1007) before the parser; what is left is text.
        let _ = parse_checked(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_json_is_a_frame_or_bad_frame(value in any_json()) {
        let _ = parse_checked(&value.to_string());
    }

    #[test]
    fn arbitrary_objects_with_a_known_type_are_a_frame_or_bad_frame(
        t in proptest::sample::select(&TYPES[..]),
        fields in proptest::collection::vec(
            (proptest::sample::select(&FIELDS[1..]), hostile_scalar()), 0..6),
    ) {
        let mut all = vec![("type".to_string(), json!(t).to_string())];
        all.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
        let _ = parse_checked(&object_text(&all));
    }

    #[test]
    fn valid_frames_round_trip((frame, value) in valid_frame()) {
        let parsed = parse_checked(&value.to_string());
        prop_assert_eq!(parsed, Ok(frame));
    }

    #[test]
    fn mutated_valid_frames_are_a_frame_or_bad_frame(
        (_, value) in valid_frame(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut text = value.to_string();
        for m in &mutations {
            match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Object(_)) => text = apply(&v, m),
                _ => break,
            }
        }
        let _ = parse_checked(&text);
    }

    #[test]
    fn a_field_the_frame_does_not_define_is_refused(
        (frame, value) in valid_frame(),
        name in "[a-z_]{1,16}",
        extra in hostile_scalar(),
    ) {
        // `ping` is the documented exception: it has no fields to check. (Skipped rather
        // than rejected: one frame in seven is a ping, too many rejections for a long run.)
        if FIELDS.contains(&name.as_str()) || frame == ClientFrame::Ping {
            return Ok(());
        }
        let mut fields: Vec<(String, String)> = value
            .as_object()
            .expect("object")
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        fields.push((name, extra));
        prop_assert!(parse_checked(&object_text(&fields)).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack(depth in 100usize..20_000) {
        for text in [
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
            format!(r#"{{"type":"sync","positions":{}{}}}"#, "[".repeat(depth), "]".repeat(depth)),
            format!(r#"{{"type":"ping","x":{}1{}}}"#, "{\"a\":".repeat(depth), "}".repeat(depth)),
            "[".repeat(depth),
        ] {
            let outcome = parse_checked(&text);
            if depth > 128 {
                prop_assert!(outcome.is_err());
            }
        }
    }
}

/// The kept corpus: `ok-*` files must parse, `bad-*` files must get `bad_frame`; any
/// other name only has to be answered. Runs on every `cargo test`.
#[test]
fn corpus_replays() {
    let mut seen = HashMap::new();
    for (name, bytes) in fuzz_support::corpus("frames") {
        let text = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        // A trailing newline is an editor's, not the frame's.
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let outcome = parse_checked(text);
        if name.starts_with("ok-") {
            assert!(outcome.is_ok(), "{name}: {outcome:?}");
        } else if name.starts_with("bad-") {
            assert!(outcome.is_err(), "{name}: {outcome:?}");
        }
        seen.insert(name, outcome.is_ok());
    }
    assert!(seen.values().any(|ok| *ok) && seen.values().any(|ok| !*ok));
}
