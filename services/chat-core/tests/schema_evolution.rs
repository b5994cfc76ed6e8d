//! Protocol v1.1 evolved `chat.events.ConversationEvent`: `thread_root` in `MessageSent`,
//! `attachment_id` and `object_key` in `Attachment`, and five payloads appended to the
//! union. The released schemas are kept in `schemas/avro/history/`; this proves, with
//! Avro's own resolution rules and no server, what the registry's BACKWARD_TRANSITIVE
//! rule promises and what it does not:
//!
//! - the new reader decodes every record a v1 writer wrote (the rule itself);
//! - a reader decodes a later writer's record of a kind it knows, skipping the fields it
//!   does not know, and refuses a later kind with an error that names it instead of
//!   misreading it. Every build since v1 decodes this way (the writer's schema, then
//!   branches and fields by name), so a v1 consumer reads v1.1 thread replies as
//!   messages and dead-letters a reaction, then moves on: that is why projectors are
//!   upgraded before gateways (`terraform/README.md`);
//! - stock clients, which decode with the writer's schema, read every new record.
//!
//! The registry test (`kafka_registry.rs`) registers the history in order under
//! BACKWARD_TRANSITIVE on the real registry.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use chat_core::events::{
    Attachment, AvroRecord, ConversationCreated, ConversationEvent, ConversationKind, MessageKind,
    MessageSent, Payload, Reaction,
};
use chat_core::ids::{ConversationId, MessageId, UserId};
use chat_core::time::UnixMillis;
use uuid::Uuid;

mod released;

const V1: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schemas/avro/history/conversation_event.v1.avsc"
));

fn v1() -> Schema {
    Schema::parse_str(V1).expect("the released v1 schema parses")
}

fn u(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn event(payload: Payload) -> ConversationEvent {
    ConversationEvent {
        event_id: u(100),
        conversation_id: ConversationId(u(200)),
        actor_id: UserId(u(1)),
        occurred_at: UnixMillis(1_700_000_000_123),
        gateway_id: "gw-1".into(),
        payload,
        sealed: None,
    }
}

fn sent(thread_root: Option<MessageId>, attachment_id: &str) -> Payload {
    Payload::MessageSent(MessageSent {
        message_id: MessageId(u(10)),
        client_msg_id: "c-1".into(),
        kind: MessageKind::Image,
        body: "look".into(),
        reply_to: Some(MessageId(u(9))),
        attachments: vec![Attachment {
            url: if attachment_id.is_empty() {
                "https://files.example/a.png".into()
            } else {
                String::new()
            },
            name: "a.png".into(),
            content_type: "image/png".into(),
            size_bytes: 1234,
            attachment_id: attachment_id.into(),
            object_key: if attachment_id.is_empty() {
                String::new()
            } else {
                format!("uploads/c/{attachment_id}")
            },
        }],
        thread_root,
    })
}

/// Payloads a v1 writer could write (no v1.1 field set).
fn v1_payloads() -> Vec<Payload> {
    vec![
        sent(None, ""),
        Payload::MessageEdited {
            message_id: MessageId(u(10)),
            client_msg_id: "c-2".into(),
            body: "edited".into(),
        },
        Payload::MessageDeleted {
            message_id: MessageId(u(10)),
            client_msg_id: "c-3".into(),
        },
        Payload::ReadUpTo { seq: 4 },
        Payload::DeliveredUpTo { seq: 5 },
        Payload::ConversationCreated(ConversationCreated {
            kind: ConversationKind::Group,
            name: Some("team".into()),
            members: vec![UserId(u(1)), UserId(u(2))],
            admins: vec![UserId(u(1))],
        }),
        Payload::MemberAdded {
            user_id: UserId(u(3)),
            as_admin: false,
        },
        Payload::MemberRemoved {
            user_id: UserId(u(3)),
        },
    ]
}

/// The payloads v1.1 added.
fn new_kinds() -> Vec<Payload> {
    let r = Reaction {
        message_id: MessageId(u(10)),
        emoji: "👍".into(),
        client_msg_id: "c-4".into(),
    };
    vec![
        Payload::ReactionAdded(r.clone()),
        Payload::ReactionRemoved(r),
        Payload::ConversationRenamed {
            name: "renamed".into(),
            client_msg_id: "c-5".into(),
        },
        Payload::MessagePinned {
            message_id: MessageId(u(10)),
            client_msg_id: "c-6".into(),
        },
        Payload::MessageUnpinned {
            message_id: MessageId(u(10)),
            client_msg_id: "c-7".into(),
        },
        // v1.3.
        Payload::RetentionSet {
            days: Some(30),
            client_msg_id: "c-8".into(),
        },
        Payload::ConversationContentExpired {
            before: UnixMillis(1_700_000_000_000),
        },
    ]
}

/// Avro bytes of `e` written with the current schema.
fn write_current(e: &ConversationEvent) -> Vec<u8> {
    GenericDatumWriter::builder(ConversationEvent::schema())
        .build()
        .expect("writer")
        .write_value_to_vec(e.to_value())
        .expect("encodes")
}

/// Read `bytes` written with `writer`, resolved to `reader` when given.
fn read(bytes: &[u8], writer: &Schema, reader: Option<&Schema>) -> apache_avro::AvroResult<Value> {
    let builder = GenericDatumReader::builder(writer);
    let datum = match reader {
        Some(r) => builder.reader_schema(r).build()?,
        None => builder.build()?,
    };
    datum.read_value(&mut &bytes[..])
}

/// The value a v1 writer would have written for `e`: the current value without the
/// v1.1 fields. (Not by Avro's resolution: apache-avro resolves a union by the first
/// branch the value fits, whatever its name, so it would turn a `DeliveredUpTo` into a
/// `ReadUpTo`. That is why our decoders never resolve against a reader schema: they
/// decode with the writer's schema and map branches and fields by name.)
fn as_v1(e: &ConversationEvent) -> Value {
    fn strip(value: Value, fields: &[&str]) -> Value {
        match value {
            Value::Record(f) => Value::Record(
                f.into_iter()
                    .filter(|(n, _)| !fields.contains(&n.as_str()))
                    .map(|(n, v)| match v {
                        Value::Array(items) => (
                            n,
                            Value::Array(items.into_iter().map(|i| strip(i, fields)).collect()),
                        ),
                        other => (n, other),
                    })
                    .collect(),
            ),
            other => other,
        }
    }
    let Value::Record(fields) = e.to_value() else {
        panic!("record")
    };
    Value::Record(
        fields
            .into_iter()
            // v1.2's envelope field, which v1 lacks.
            .filter(|(n, _)| n != "sealed")
            .map(|(n, v)| match v {
                Value::Union(i, inner) => (
                    n,
                    Value::Union(
                        i,
                        Box::new(strip(
                            *inner,
                            &["thread_root", "attachment_id", "object_key"],
                        )),
                    ),
                ),
                other => (n, other),
            })
            .collect(),
    )
}

fn write(value: Value, schema: &Schema) -> Vec<u8> {
    GenericDatumWriter::builder(schema)
        .build()
        .expect("writer")
        .write_value_to_vec(value)
        .expect("encodes")
}

/// A later schema than ours: one more field in `MessageSent` and one more kind at the
/// end of the union, as the next evolution will add them.
fn future_schema() -> Schema {
    let mut json: serde_json::Value =
        serde_json::from_str(ConversationEvent::schema_source()).expect("json");
    let union = json["fields"]
        .as_array_mut()
        .and_then(|f| f.iter_mut().find(|f| f["name"] == "payload"))
        .and_then(|f| f["type"].as_array_mut())
        .expect("payload union");
    union[0]["fields"]
        .as_array_mut()
        .expect("MessageSent fields")
        .push(serde_json::json!({"name": "priority", "type": "int", "default": 0}));
    union.push(serde_json::json!({
        "type": "record", "name": "PollCreated",
        "fields": [{"name": "question", "type": "string"}]
    }));
    Schema::parse_str(&json.to_string()).expect("the future schema parses")
}

#[test]
fn the_new_reader_decodes_what_a_v1_writer_wrote() {
    let v1 = v1();
    for payload in v1_payloads() {
        let original = event(payload);
        let bytes = write(as_v1(&original), &v1);
        // How our consumers read: the writer's schema, then our types by name.
        let value = read(&bytes, &v1, None).expect("decodes with the writer's schema");
        let decoded = ConversationEvent::from_value(value, &v1).expect("maps to our types");
        assert_eq!(decoded, original);
    }
}

#[test]
fn a_reader_decodes_later_records_of_the_kinds_it_knows() {
    // What every build since v1 does with a record from a later writer: decode with the
    // writer's schema and take the fields it knows by name.
    let future = future_schema();
    let mut value = event(sent(Some(MessageId(u(7))), "up-1")).to_value();
    if let Value::Record(fields) = &mut value {
        if let Some((_, Value::Union(_, inner))) = fields.iter_mut().find(|(n, _)| n == "payload") {
            if let Value::Record(m) = inner.as_mut() {
                m.push(("priority".into(), Value::Int(3)));
            }
        }
    }
    let bytes = write(value, &future);
    let decoded =
        ConversationEvent::from_value(read(&bytes, &future, None).expect("decodes"), &future)
            .expect("maps, skipping the field it does not know");
    assert_eq!(decoded, event(sent(Some(MessageId(u(7))), "up-1")));
}

#[test]
fn a_reader_refuses_a_later_kind_with_a_clear_error() {
    let future = future_schema();
    let Value::Record(mut fields) = event(Payload::ReadUpTo { seq: 1 }).to_value() else {
        panic!("record")
    };
    let branches = 17 + 1;
    for (n, v) in fields.iter_mut() {
        if n == "payload" {
            *v = Value::Union(
                branches - 1,
                Box::new(Value::Record(vec![(
                    "question".into(),
                    Value::String("lunch?".into()),
                )])),
            );
        }
    }
    let bytes = write(Value::Record(fields), &future);
    let value = read(&bytes, &future, None).expect("decodes with the writer's schema");
    let err = ConversationEvent::from_value(value, &future).expect_err("an unknown kind");
    assert!(
        err.to_string().contains("PollCreated"),
        "the error names the kind: {err}"
    );
}

#[test]
fn stock_readers_decode_the_new_kinds() {
    for payload in new_kinds() {
        let bytes = write_current(&event(payload.clone()));
        let value = read(&bytes, ConversationEvent::schema(), None).expect("decodes");
        let decoded = ConversationEvent::from_value(value, ConversationEvent::schema())
            .expect("maps to our types");
        assert_eq!(decoded.payload, payload);
    }
}

#[test]
fn the_union_only_grew_at_its_end() {
    let names = |s: &Schema| -> Vec<String> {
        let Schema::Record(r) = s else {
            panic!("record")
        };
        let Some(f) = r.fields.iter().find(|f| f.name == "payload") else {
            panic!("payload")
        };
        let Schema::Union(u) = &f.schema else {
            panic!("union")
        };
        u.variants()
            .iter()
            .map(|v| match v {
                Schema::Record(r) => r.name.name().to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    };
    let old = names(&v1());
    let new = names(ConversationEvent::schema());
    assert_eq!(
        &new[..old.len()],
        &old[..],
        "v1's branches keep their places"
    );
    // v1.1 added 5 kinds, v1.2 two (ContentErased, ContentExpired), v1.3 two
    // (RetentionSet, ConversationContentExpired).
    assert_eq!(new.len(), 17);
}

const V1_2: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schemas/avro/history/conversation_event.v3.avsc"
));

/// v1.3 added the conversation's key to `SealedContent` (`scope_owner`, `scope_period`):
/// a record a v1.2 gateway sealed under its sender's key alone still decodes, unscoped.
#[test]
fn content_sealed_by_a_v1_2_writer_decodes_without_a_scope() {
    use chat_core::sealing::{KeyRef, Sealed};
    let v1_2 = Schema::parse_str(V1_2).expect("the released v1.2 schema parses");
    let mut original = event(sent(None, "up-1"));
    original.sealed = Some(Sealed {
        key: KeyRef {
            owner: u(1),
            period: 650,
        },
        scope: None,
        nonce: vec![7; 12],
        ciphertext: vec![8; 40],
    });
    let Value::Record(fields) = original.to_value() else {
        panic!("record")
    };
    let without_scope = Value::Record(
        fields
            .into_iter()
            .map(|(n, v)| match (n.as_str(), v) {
                ("sealed", Value::Union(i, inner)) => {
                    let Value::Record(sf) = *inner else {
                        panic!("sealed is a record")
                    };
                    let kept = sf
                        .into_iter()
                        .filter(|(f, _)| !f.starts_with("scope_"))
                        .collect();
                    (n, Value::Union(i, Box::new(Value::Record(kept))))
                }
                (_, v) => (n, v),
            })
            .collect(),
    );
    let bytes = write(without_scope, &v1_2);
    let decoded = ConversationEvent::from_value(read(&bytes, &v1_2, None).expect("decodes"), &v1_2)
        .expect("maps");
    assert_eq!(decoded, original);
}

/// `value` cut down to what `schema` has: fields it lacks are dropped, in nested records
/// and inside unions too. What an older writer wrote for the same facts.
fn conform(value: Value, schema: &Schema) -> Value {
    match (value, schema) {
        (Value::Record(fields), Schema::Record(r)) => Value::Record(
            fields
                .into_iter()
                .filter_map(|(n, v)| {
                    let f = r.fields.iter().find(|f| f.name == n)?;
                    Some((n, conform(v, &f.schema)))
                })
                .collect(),
        ),
        (Value::Union(i, inner), Schema::Union(u)) => {
            let branch = &u.variants()[i as usize];
            Value::Union(i, Box::new(conform(*inner, branch)))
        }
        (other, _) => other,
    }
}

/// `chat.notifications`: the new reader decodes what every released writer wrote (v1
/// without a sealed preview, v1.2 sealed under the sender's key alone, v1.3 scoped).
#[test]
fn the_new_reader_decodes_every_released_notification_schema() {
    use chat_core::events::{NotificationReason, NotificationRequested};
    use chat_core::sealing::{KeyRef, Sealed};
    let released = released::released_schemas("notification_requested.v");
    assert_eq!(
        released.len(),
        3,
        "v1, v1.1 and v1.2 are released: {released:?}"
    );
    let sealed = |scope| Sealed {
        key: KeyRef {
            owner: u(1),
            period: 650,
        },
        scope,
        nonce: vec![1; 12],
        ciphertext: vec![2; 40],
    };
    let current = NotificationRequested {
        notification_id: u(50),
        user_id: UserId(u(2)),
        conversation_id: ConversationId(u(200)),
        message_id: MessageId(u(10)),
        seq: 41,
        sender_id: UserId(u(1)),
        preview: String::new(),
        reason: NotificationReason::Mention,
        coalesced_count: 2,
        occurred_at: UnixMillis(1_700_000_000_123),
        sealed_preview: Some(sealed(Some(KeyRef {
            owner: u(200),
            period: 19_700,
        }))),
    };
    for path in released {
        let text = std::fs::read_to_string(&path).expect("a released schema");
        let old = Schema::parse_str(&text).expect("it parses");
        let bytes = write(conform(current.to_value(), &old), &old);
        let decoded =
            NotificationRequested::from_value(read(&bytes, &old, None).expect("decodes"), &old)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let has = |field: &str| text.contains(&format!("\"{field}\""));
        let expected = NotificationRequested {
            sealed_preview: match (has("sealed_preview"), has("scope_owner")) {
                (false, _) => None,
                (true, false) => Some(sealed(None)),
                (true, true) => current.sealed_preview.clone(),
            },
            ..current.clone()
        };
        assert_eq!(decoded, expected, "{}", path.display());
    }
}
