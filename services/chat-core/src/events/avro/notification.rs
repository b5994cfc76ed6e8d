//! The Avro form of [`NotificationRequested`]
//! (`schemas/avro/notification_requested.avsc`).

use std::sync::LazyLock;

use apache_avro::types::Value;
use apache_avro::Schema;

use super::conversation::{sealed_from, sealed_record};
use super::{enum_value, nullable, parse_compiled, record, AvroRecord, DecodeError, Fields};
use crate::events::notification::{NotificationReason, NotificationRequested};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::time::UnixMillis;

const SOURCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schemas/avro/notification_requested.avsc"
));
static SCHEMA: LazyLock<Schema> = LazyLock::new(|| parse_compiled(SOURCE));

/// The schema's symbols in its order: a `Value::Enum` carries the index into this list.
const REASONS: [&str; 4] = ["DM", "MENTION", "GROUP", "REACTION"];

impl AvroRecord for NotificationRequested {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn schema_source() -> &'static str {
        SOURCE
    }

    fn to_value(&self) -> Value {
        record(vec![
            ("notification_id", Value::Uuid(self.notification_id)),
            ("user_id", Value::Uuid(self.user_id.0)),
            ("conversation_id", Value::Uuid(self.conversation_id.0)),
            ("message_id", Value::Uuid(self.message_id.0)),
            ("seq", Value::Long(self.seq)),
            ("sender_id", Value::Uuid(self.sender_id.0)),
            ("preview", Value::String(self.preview.clone())),
            ("reason", enum_value(&REASONS, self.reason.symbol())),
            ("coalesced_count", Value::Int(self.coalesced_count)),
            ("occurred_at", Value::TimestampMillis(self.occurred_at.0)),
            (
                "sealed_preview",
                nullable(self.sealed_preview.as_ref().map(sealed_record)),
            ),
        ])
    }

    fn from_value(value: Value, _writer: &Schema) -> Result<Self, DecodeError> {
        let mut f = Fields::of(value)?;
        Ok(Self {
            notification_id: f.uuid("notification_id")?,
            user_id: UserId(f.uuid("user_id")?),
            conversation_id: ConversationId(f.uuid("conversation_id")?),
            message_id: MessageId(f.uuid("message_id")?),
            seq: f.long("seq")?,
            sender_id: UserId(f.uuid("sender_id")?),
            preview: f.string("preview")?,
            reason: NotificationReason::from_symbol(&f.symbol("reason")?),
            coalesced_count: match f.take_opt("coalesced_count") {
                Some(Value::Int(n)) => n,
                Some(_) => {
                    return Err(DecodeError::WrongType {
                        field: "coalesced_count",
                        expected: "int",
                    })
                }
                None => 1,
            },
            occurred_at: UnixMillis(f.long("occurred_at")?),
            sealed_preview: match f.take_opt("sealed_preview") {
                None => None,
                Some(v) => Fields(vec![("sealed_preview".into(), v)])
                    .optional("sealed_preview")?
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
    use uuid::Uuid;

    #[test]
    fn round_trips() {
        let n = NotificationRequested {
            notification_id: Uuid::from_u128(1),
            user_id: UserId(Uuid::from_u128(2)),
            conversation_id: ConversationId(Uuid::from_u128(3)),
            message_id: MessageId(Uuid::from_u128(4)),
            seq: 77,
            sender_id: UserId(Uuid::from_u128(5)),
            preview: "hi @bob".into(),
            reason: NotificationReason::Mention,
            coalesced_count: 3,
            occurred_at: UnixMillis(9),
            sealed_preview: None,
        };
        assert_eq!(round_trip(&n), n);
        let sealed = NotificationRequested {
            preview: String::new(),
            sealed_preview: Some(crate::sealing::Sealed {
                key: crate::sealing::KeyRef {
                    owner: Uuid::from_u128(5),
                    period: 20_000,
                },
                scope: Some(crate::sealing::KeyRef {
                    owner: Uuid::from_u128(6),
                    period: 600_000,
                }),
                nonce: vec![1; 12],
                ciphertext: vec![2; 40],
            }),
            ..n.clone()
        };
        assert_eq!(round_trip(&sealed), sealed);
        assert_eq!(round_trip(&n), n);
    }
}
