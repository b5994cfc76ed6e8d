//! The Avro form of [`ConversationEvent`] (`schemas/avro/conversation_event.avsc`).

use std::sync::LazyLock;

use apache_avro::types::Value;
use apache_avro::Schema;
use uuid::Uuid;

use super::{
    as_string, as_uuid, enum_value, nullable, parse_compiled, record, union_branch_names,
    AvroRecord, DecodeError, Fields,
};
use crate::events::conversation::{
    Attachment, ConversationCreated, ConversationEvent, ConversationKind, MessageKind, MessageSent,
    Payload, Reaction,
};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::sealing::{KeyRef, Sealed};
use crate::time::UnixMillis;

const SOURCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schemas/avro/conversation_event.avsc"
));
static SCHEMA: LazyLock<Schema> = LazyLock::new(|| parse_compiled(SOURCE));

/// The union's branches in our schema's order: the index we write is the position here.
#[cfg(test)]
const BRANCHES: [&str; 17] = [
    "MessageSent",
    "MessageEdited",
    "MessageDeleted",
    "ReadUpTo",
    "DeliveredUpTo",
    "ConversationCreated",
    "MemberAdded",
    "MemberRemoved",
    "ReactionAdded",
    "ReactionRemoved",
    "ConversationRenamed",
    "MessagePinned",
    "MessageUnpinned",
    "ContentErased",
    "ContentExpired",
    "RetentionSet",
    "ConversationContentExpired",
];

const MESSAGE_KINDS: [&str; 4] = ["TEXT", "IMAGE", "FILE", "SYSTEM"];

fn message_kind_symbol(kind: MessageKind) -> &'static str {
    MESSAGE_KINDS[kind as usize]
}

fn message_kind_from_symbol(s: &str) -> Result<MessageKind, DecodeError> {
    Ok(match s {
        "TEXT" => MessageKind::Text,
        "IMAGE" => MessageKind::Image,
        "FILE" => MessageKind::File,
        "SYSTEM" => MessageKind::System,
        other => {
            return Err(DecodeError::Invalid {
                field: "kind",
                reason: format!("unknown symbol {other}"),
            })
        }
    })
}

const CONVERSATION_KINDS: [&str; 2] = ["DIRECT", "GROUP"];

fn uuid_value(u: Uuid) -> Value {
    Value::Uuid(u)
}

fn user_list(field: &'static str, items: Vec<Value>) -> Result<Vec<UserId>, DecodeError> {
    items
        .into_iter()
        .map(|v| as_uuid(field, v).map(UserId))
        .collect()
}

fn reaction_record(r: &Reaction) -> Value {
    record(vec![
        ("message_id", uuid_value(r.message_id.0)),
        ("emoji", Value::String(r.emoji.clone())),
        ("client_msg_id", Value::String(r.client_msg_id.clone())),
    ])
}

fn reaction_from(p: &mut Fields) -> Result<Reaction, DecodeError> {
    Ok(Reaction {
        message_id: MessageId(p.uuid("message_id")?),
        emoji: p.string("emoji")?,
        client_msg_id: p.string("client_msg_id")?,
    })
}

/// `SealedContent` (and the notification's `SealedPreview`, the same fields).
pub(crate) fn sealed_record(s: &Sealed) -> Value {
    record(vec![
        ("key_owner", uuid_value(s.key.owner)),
        ("key_period", Value::Int(s.key.period)),
        ("nonce", Value::Bytes(s.nonce.clone())),
        ("ciphertext", Value::Bytes(s.ciphertext.clone())),
        (
            "scope_owner",
            nullable(s.scope.map(|k| uuid_value(k.owner))),
        ),
        (
            "scope_period",
            nullable(s.scope.map(|k| Value::Int(k.period))),
        ),
    ])
}

/// A nullable field, absent in records of a writer schema without it.
fn optional_field(f: &mut Fields, field: &'static str) -> Result<Option<Value>, DecodeError> {
    match f.take_opt(field) {
        None => Ok(None),
        Some(v) => Fields(vec![(field.into(), v)]).optional(field),
    }
}

fn as_int(field: &'static str, v: Value) -> Result<i32, DecodeError> {
    match v {
        Value::Int(n) => Ok(n),
        _ => Err(DecodeError::WrongType {
            field,
            expected: "int",
        }),
    }
}

pub(crate) fn sealed_from(v: Value) -> Result<Sealed, DecodeError> {
    let mut f = Fields::of(v)?;
    let key_period = match f.take("key_period")? {
        Value::Int(n) => n,
        _ => {
            return Err(DecodeError::WrongType {
                field: "key_period",
                expected: "int",
            })
        }
    };
    let scope_owner = optional_field(&mut f, "scope_owner")?
        .map(|v| as_uuid("scope_owner", v))
        .transpose()?;
    let scope_period = optional_field(&mut f, "scope_period")?
        .map(|v| as_int("scope_period", v))
        .transpose()?;
    let scope = match (scope_owner, scope_period) {
        (Some(owner), Some(period)) => Some(KeyRef { owner, period }),
        (None, None) => None,
        _ => {
            return Err(DecodeError::Invalid {
                field: "scope_owner",
                reason: "scope_owner and scope_period are set together".into(),
            })
        }
    };
    Ok(Sealed {
        key: KeyRef {
            owner: f.uuid("key_owner")?,
            period: key_period,
        },
        scope,
        nonce: f.bytes("nonce")?,
        ciphertext: f.bytes("ciphertext")?,
    })
}

fn pin_record(message_id: MessageId, client_msg_id: &str) -> Value {
    record(vec![
        ("message_id", uuid_value(message_id.0)),
        ("client_msg_id", Value::String(client_msg_id.to_string())),
    ])
}

/// An optional message id field, absent in records of a writer schema without it.
fn optional_message_id(
    p: &mut Fields,
    field: &'static str,
) -> Result<Option<MessageId>, DecodeError> {
    match p.take_opt(field) {
        None => Ok(None),
        Some(v) => Fields(vec![(field.into(), v)])
            .optional(field)?
            .map(|v| as_uuid(field, v).map(MessageId))
            .transpose(),
    }
}

impl AvroRecord for ConversationEvent {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn schema_source() -> &'static str {
        SOURCE
    }

    fn to_value(&self) -> Value {
        let (branch, payload) = match &self.payload {
            Payload::MessageSent(m) => (
                0,
                record(vec![
                    ("message_id", uuid_value(m.message_id.0)),
                    ("client_msg_id", Value::String(m.client_msg_id.clone())),
                    (
                        "kind",
                        enum_value(&MESSAGE_KINDS, message_kind_symbol(m.kind)),
                    ),
                    ("body", Value::String(m.body.clone())),
                    ("reply_to", nullable(m.reply_to.map(|r| uuid_value(r.0)))),
                    (
                        "attachments",
                        Value::Array(
                            m.attachments
                                .iter()
                                .map(|a| {
                                    record(vec![
                                        ("url", Value::String(a.url.clone())),
                                        ("name", Value::String(a.name.clone())),
                                        ("content_type", Value::String(a.content_type.clone())),
                                        ("size_bytes", Value::Long(a.size_bytes)),
                                        ("attachment_id", Value::String(a.attachment_id.clone())),
                                        ("object_key", Value::String(a.object_key.clone())),
                                    ])
                                })
                                .collect(),
                        ),
                    ),
                    (
                        "thread_root",
                        nullable(m.thread_root.map(|r| uuid_value(r.0))),
                    ),
                ]),
            ),
            Payload::MessageEdited {
                message_id,
                client_msg_id,
                body,
            } => (
                1,
                record(vec![
                    ("message_id", uuid_value(message_id.0)),
                    ("client_msg_id", Value::String(client_msg_id.clone())),
                    ("body", Value::String(body.clone())),
                ]),
            ),
            Payload::MessageDeleted {
                message_id,
                client_msg_id,
            } => (
                2,
                record(vec![
                    ("message_id", uuid_value(message_id.0)),
                    ("client_msg_id", Value::String(client_msg_id.clone())),
                ]),
            ),
            Payload::ReadUpTo { seq } => (3, record(vec![("seq", Value::Long(*seq))])),
            Payload::DeliveredUpTo { seq } => (4, record(vec![("seq", Value::Long(*seq))])),
            Payload::ConversationCreated(c) => (
                5,
                record(vec![
                    (
                        "kind",
                        enum_value(
                            &CONVERSATION_KINDS,
                            if c.kind == ConversationKind::Direct {
                                "DIRECT"
                            } else {
                                "GROUP"
                            },
                        ),
                    ),
                    ("name", nullable(c.name.clone().map(Value::String))),
                    (
                        "members",
                        Value::Array(c.members.iter().map(|u| uuid_value(u.0)).collect()),
                    ),
                    (
                        "admins",
                        Value::Array(c.admins.iter().map(|u| uuid_value(u.0)).collect()),
                    ),
                ]),
            ),
            Payload::MemberAdded { user_id, as_admin } => (
                6,
                record(vec![
                    ("user_id", uuid_value(user_id.0)),
                    ("as_admin", Value::Boolean(*as_admin)),
                ]),
            ),
            Payload::MemberRemoved { user_id } => {
                (7, record(vec![("user_id", uuid_value(user_id.0))]))
            }
            Payload::ReactionAdded(r) => (8, reaction_record(r)),
            Payload::ReactionRemoved(r) => (9, reaction_record(r)),
            Payload::ConversationRenamed {
                name,
                client_msg_id,
            } => (
                10,
                record(vec![
                    ("name", Value::String(name.clone())),
                    ("client_msg_id", Value::String(client_msg_id.clone())),
                ]),
            ),
            Payload::MessagePinned {
                message_id,
                client_msg_id,
            } => (11, pin_record(*message_id, client_msg_id)),
            Payload::MessageUnpinned {
                message_id,
                client_msg_id,
            } => (12, pin_record(*message_id, client_msg_id)),
            Payload::ContentErased { user_id } => {
                (13, record(vec![("user_id", uuid_value(user_id.0))]))
            }
            Payload::ContentExpired { before, kept_users } => (
                14,
                record(vec![
                    ("before", Value::TimestampMillis(before.0)),
                    (
                        "kept_users",
                        Value::Array(kept_users.iter().map(|u| uuid_value(u.0)).collect()),
                    ),
                ]),
            ),
            Payload::RetentionSet {
                days,
                client_msg_id,
            } => (
                15,
                record(vec![
                    (
                        "days",
                        // Days are validated against the operator's limits, far below i32.
                        nullable(days.map(|d| Value::Int(i32::try_from(d).unwrap_or(i32::MAX)))),
                    ),
                    ("client_msg_id", Value::String(client_msg_id.clone())),
                ]),
            ),
            Payload::ConversationContentExpired { before } => (
                16,
                record(vec![("before", Value::TimestampMillis(before.0))]),
            ),
        };
        record(vec![
            ("event_id", uuid_value(self.event_id)),
            ("conversation_id", uuid_value(self.conversation_id.0)),
            ("actor_id", uuid_value(self.actor_id.0)),
            ("occurred_at", Value::TimestampMillis(self.occurred_at.0)),
            ("gateway_id", Value::String(self.gateway_id.clone())),
            ("payload", Value::Union(branch, Box::new(payload))),
            ("sealed", nullable(self.sealed.as_ref().map(sealed_record))),
        ])
    }

    fn from_value(value: Value, writer: &Schema) -> Result<Self, DecodeError> {
        let mut f = Fields::of(value)?;
        let (branch, inner) = match f.take("payload")? {
            Value::Union(i, v) => (i as usize, *v),
            _ => {
                return Err(DecodeError::WrongType {
                    field: "payload",
                    expected: "union",
                })
            }
        };
        let writer_branches = union_branch_names(writer, "payload")?;
        let branch_name = writer_branches
            .get(branch)
            .map(String::as_str)
            .unwrap_or("?");
        let mut p = Fields::of(inner)?;
        let payload = match branch_name {
            "MessageSent" => Payload::MessageSent(MessageSent {
                message_id: MessageId(p.uuid("message_id")?),
                client_msg_id: p.string("client_msg_id")?,
                kind: message_kind_from_symbol(&p.symbol("kind")?)?,
                body: p.string("body")?,
                reply_to: optional_message_id(&mut p, "reply_to")?,
                thread_root: optional_message_id(&mut p, "thread_root")?,
                attachments: p
                    .take_opt("attachments")
                    .map(|v| match v {
                        Value::Array(items) => Ok(items),
                        _ => Err(DecodeError::WrongType {
                            field: "attachments",
                            expected: "array",
                        }),
                    })
                    .transpose()?
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| {
                        let mut a = Fields::of(a)?;
                        Ok(Attachment {
                            url: a.string("url")?,
                            name: a.string("name")?,
                            content_type: a.string("content_type")?,
                            size_bytes: a.long("size_bytes")?,
                            attachment_id: a
                                .take_opt("attachment_id")
                                .map(|v| as_string("attachment_id", v))
                                .transpose()?
                                .unwrap_or_default(),
                            object_key: a
                                .take_opt("object_key")
                                .map(|v| as_string("object_key", v))
                                .transpose()?
                                .unwrap_or_default(),
                        })
                    })
                    .collect::<Result<_, DecodeError>>()?,
            }),
            "MessageEdited" => Payload::MessageEdited {
                message_id: MessageId(p.uuid("message_id")?),
                client_msg_id: p.string("client_msg_id")?,
                body: p.string("body")?,
            },
            "MessageDeleted" => Payload::MessageDeleted {
                message_id: MessageId(p.uuid("message_id")?),
                client_msg_id: p.string("client_msg_id")?,
            },
            "ReadUpTo" => Payload::ReadUpTo {
                seq: p.long("seq")?,
            },
            "DeliveredUpTo" => Payload::DeliveredUpTo {
                seq: p.long("seq")?,
            },
            "ConversationCreated" => Payload::ConversationCreated(ConversationCreated {
                kind: match p.symbol("kind")?.as_str() {
                    "DIRECT" => ConversationKind::Direct,
                    _ => ConversationKind::Group,
                },
                name: p
                    .optional("name")?
                    .map(|v| as_string("name", v))
                    .transpose()?,
                members: user_list("members", p.array("members")?)?,
                admins: match p.take_opt("admins") {
                    Some(Value::Array(items)) => user_list("admins", items)?,
                    Some(_) => {
                        return Err(DecodeError::WrongType {
                            field: "admins",
                            expected: "array",
                        })
                    }
                    None => Vec::new(),
                },
            }),
            "MemberAdded" => Payload::MemberAdded {
                user_id: UserId(p.uuid("user_id")?),
                as_admin: match p.take_opt("as_admin") {
                    Some(Value::Boolean(b)) => b,
                    Some(_) => {
                        return Err(DecodeError::WrongType {
                            field: "as_admin",
                            expected: "boolean",
                        })
                    }
                    None => false,
                },
            },
            "MemberRemoved" => Payload::MemberRemoved {
                user_id: UserId(p.uuid("user_id")?),
            },
            "ReactionAdded" => Payload::ReactionAdded(reaction_from(&mut p)?),
            "ReactionRemoved" => Payload::ReactionRemoved(reaction_from(&mut p)?),
            "ConversationRenamed" => Payload::ConversationRenamed {
                name: p.string("name")?,
                client_msg_id: p.string("client_msg_id")?,
            },
            "MessagePinned" => Payload::MessagePinned {
                message_id: MessageId(p.uuid("message_id")?),
                client_msg_id: p.string("client_msg_id")?,
            },
            "MessageUnpinned" => Payload::MessageUnpinned {
                message_id: MessageId(p.uuid("message_id")?),
                client_msg_id: p.string("client_msg_id")?,
            },
            "ContentErased" => Payload::ContentErased {
                user_id: UserId(p.uuid("user_id")?),
            },
            "ContentExpired" => Payload::ContentExpired {
                before: UnixMillis(p.long("before")?),
                kept_users: match p.take_opt("kept_users") {
                    Some(Value::Array(items)) => user_list("kept_users", items)?,
                    Some(_) => {
                        return Err(DecodeError::WrongType {
                            field: "kept_users",
                            expected: "array",
                        })
                    }
                    None => Vec::new(),
                },
            },
            "RetentionSet" => Payload::RetentionSet {
                days: match optional_field(&mut p, "days")? {
                    None => None,
                    Some(v) => Some(u32::try_from(as_int("days", v)?).map_err(|_| {
                        DecodeError::Invalid {
                            field: "days",
                            reason: "a retention of negative days".into(),
                        }
                    })?),
                },
                client_msg_id: p.string("client_msg_id")?,
            },
            "ConversationContentExpired" => Payload::ConversationContentExpired {
                before: UnixMillis(p.long("before")?),
            },
            other => {
                return Err(DecodeError::Invalid {
                    field: "payload",
                    reason: format!(
                        "event kind {other} (branch {branch}) is unknown to this build"
                    ),
                });
            }
        };
        Ok(ConversationEvent {
            event_id: f.uuid("event_id")?,
            conversation_id: ConversationId(f.uuid("conversation_id")?),
            actor_id: UserId(f.uuid("actor_id")?),
            occurred_at: UnixMillis(f.long("occurred_at")?),
            gateway_id: f.string("gateway_id")?,
            payload,
            sealed: match f.take_opt("sealed") {
                None => None,
                Some(v) => Fields(vec![("sealed".into(), v)])
                    .optional("sealed")?
                    .map(sealed_from)
                    .transpose()?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::avro::round_trip;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    pub(crate) fn every_payload() -> Vec<Payload> {
        vec![
            Payload::MessageSent(MessageSent {
                message_id: MessageId(u(10)),
                client_msg_id: "c-1".into(),
                kind: MessageKind::Text,
                body: "hello <b>world</b> ✓".into(),
                reply_to: Some(MessageId(u(9))),
                attachments: vec![Attachment {
                    url: "https://files.example/a.png".into(),
                    name: "a.png".into(),
                    content_type: "image/png".into(),
                    size_bytes: 1234,
                    attachment_id: String::new(),
                    object_key: String::new(),
                }],
                thread_root: None,
            }),
            Payload::MessageSent(MessageSent {
                message_id: MessageId(u(12)),
                client_msg_id: "c-5".into(),
                kind: MessageKind::File,
                body: "in a thread".into(),
                reply_to: None,
                attachments: vec![Attachment {
                    url: String::new(),
                    name: "report <1>.pdf".into(),
                    content_type: "application/pdf".into(),
                    size_bytes: 99,
                    attachment_id: "up-1".into(),
                    object_key: "uploads/c/up-1".into(),
                }],
                thread_root: Some(MessageId(u(10))),
            }),
            Payload::MessageSent(MessageSent {
                message_id: MessageId(u(11)),
                client_msg_id: "c-2".into(),
                kind: MessageKind::System,
                body: String::new(),
                reply_to: None,
                attachments: vec![],
                thread_root: None,
            }),
            Payload::MessageEdited {
                message_id: MessageId(u(10)),
                client_msg_id: "c-3".into(),
                body: "edited".into(),
            },
            Payload::MessageDeleted {
                message_id: MessageId(u(10)),
                client_msg_id: "c-4".into(),
            },
            Payload::ReadUpTo { seq: 42 },
            Payload::DeliveredUpTo { seq: 43 },
            Payload::ConversationCreated(ConversationCreated {
                kind: ConversationKind::Group,
                name: Some("team".into()),
                members: vec![UserId(u(1)), UserId(u(2))],
                admins: vec![UserId(u(1))],
            }),
            Payload::ConversationCreated(ConversationCreated {
                kind: ConversationKind::Direct,
                name: None,
                members: vec![UserId(u(1)), UserId(u(2))],
                admins: vec![],
            }),
            Payload::MemberAdded {
                user_id: UserId(u(3)),
                as_admin: true,
            },
            Payload::MemberRemoved {
                user_id: UserId(u(3)),
            },
            Payload::ReactionAdded(Reaction {
                message_id: MessageId(u(10)),
                emoji: "👍🏽".into(),
                client_msg_id: "c-6".into(),
            }),
            Payload::ReactionRemoved(Reaction {
                message_id: MessageId(u(10)),
                emoji: ":party_parrot:".into(),
                client_msg_id: "c-7".into(),
            }),
            Payload::ConversationRenamed {
                name: "Launch <crew>".into(),
                client_msg_id: "c-8".into(),
            },
            Payload::MessagePinned {
                message_id: MessageId(u(10)),
                client_msg_id: "c-9".into(),
            },
            Payload::MessageUnpinned {
                message_id: MessageId(u(10)),
                client_msg_id: "c-10".into(),
            },
            Payload::ContentErased {
                user_id: UserId(u(7)),
            },
            Payload::ContentExpired {
                before: UnixMillis(1_700_000_000_000),
                kept_users: vec![UserId(u(7)), UserId(u(8))],
            },
            Payload::RetentionSet {
                days: Some(7),
                client_msg_id: "c-11".into(),
            },
            Payload::RetentionSet {
                days: None,
                client_msg_id: "c-12".into(),
            },
            Payload::ConversationContentExpired {
                before: UnixMillis(1_700_000_000_000),
            },
        ]
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

    #[test]
    fn branch_order_matches_the_schema() {
        let Schema::Record(rec) = ConversationEvent::schema() else {
            panic!("not a record")
        };
        let payload = rec
            .fields
            .iter()
            .find(|f| f.name == "payload")
            .expect("payload field");
        let Schema::Union(union) = &payload.schema else {
            panic!("payload is not a union")
        };
        let names: Vec<String> = union
            .variants()
            .iter()
            .map(|v| match v {
                Schema::Record(r) => r.name.name().to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(names, BRANCHES.to_vec());
    }

    #[test]
    fn every_payload_round_trips_through_avro_bytes() {
        for payload in every_payload() {
            let original = event(payload);
            assert_eq!(round_trip(&original), original);
        }
    }

    #[test]
    fn sealed_content_round_trips_beside_any_payload() {
        let mut sealed = event(every_payload().remove(0));
        sealed.sealed = Some(Sealed {
            key: KeyRef {
                owner: u(1),
                period: 19_675,
            },
            scope: None,
            nonce: vec![3; 12],
            ciphertext: vec![4; 48],
        });
        assert_eq!(round_trip(&sealed), sealed);
        let mut scoped = sealed.clone();
        if let Some(s) = scoped.sealed.as_mut() {
            s.scope = Some(KeyRef {
                owner: u(200),
                period: 19_680,
            });
        }
        assert_eq!(round_trip(&scoped), scoped);
    }

    #[test]
    fn a_record_of_another_shape_is_an_error_not_a_panic() {
        let schema = ConversationEvent::schema();
        let err = ConversationEvent::from_value(Value::Record(vec![]), schema).unwrap_err();
        assert_eq!(err, DecodeError::Missing("payload"));
        assert_eq!(
            ConversationEvent::from_value(Value::Null, schema).unwrap_err(),
            DecodeError::NotARecord
        );
    }
}
