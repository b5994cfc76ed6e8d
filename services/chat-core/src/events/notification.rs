//! `chat.notifications`: a push notification owed to a recipient, keyed by recipient.

use std::sync::LazyLock;

use apache_avro::types::Value;
use apache_avro::Schema;
use uuid::Uuid;

use super::avro::{enum_value, parse_compiled, record, AvroRecord, DecodeError, Fields};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::time::UnixMillis;

const SOURCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schemas/avro/notification_requested.avsc"
));
static SCHEMA: LazyLock<Schema> = LazyLock::new(|| parse_compiled(SOURCE));

#[derive(Clone, Debug, PartialEq)]
pub struct NotificationRequested {
    pub notification_id: Uuid,
    pub user_id: UserId,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub seq: i64,
    pub sender_id: UserId,
    pub preview: String,
    pub reason: NotificationReason,
    pub coalesced_count: i32,
    pub occurred_at: UnixMillis,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationReason {
    Dm,
    Mention,
    Group,
}

const REASONS: [&str; 3] = ["DM", "MENTION", "GROUP"];

impl NotificationReason {
    /// The Avro enum symbol (also how the coalescing state in Redis stores it).
    pub fn symbol(self) -> &'static str {
        REASONS[self as usize]
    }

    /// The reason for a symbol; one this build does not know reads as `Group`.
    pub fn from_symbol(symbol: &str) -> Self {
        match symbol {
            "DM" => NotificationReason::Dm,
            "MENTION" => NotificationReason::Mention,
            _ => NotificationReason::Group,
        }
    }
}

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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::avro::round_trip;

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
        };
        assert_eq!(round_trip(&n), n);
    }
}
