//! The Avro form of [`PresenceEvent`] (`schemas/avro/presence_event.avsc`).

use std::sync::LazyLock;

use apache_avro::types::Value;
use apache_avro::Schema;

use super::{enum_value, parse_compiled, record, AvroRecord, DecodeError, Fields};
use crate::events::presence::{PresenceEvent, PresenceKind};
use crate::ids::{SessionId, UserId};
use crate::time::UnixMillis;

const SOURCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schemas/avro/presence_event.avsc"
));
static SCHEMA: LazyLock<Schema> = LazyLock::new(|| parse_compiled(SOURCE));

const KINDS: [&str; 3] = ["CONNECTED", "HEARTBEAT", "DISCONNECTED"];

impl AvroRecord for PresenceEvent {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn schema_source() -> &'static str {
        SOURCE
    }

    fn to_value(&self) -> Value {
        record(vec![
            ("user_id", Value::Uuid(self.user_id.0)),
            ("session_id", Value::Uuid(self.session_id.0)),
            ("gateway_id", Value::String(self.gateway_id.clone())),
            ("kind", enum_value(&KINDS, KINDS[self.kind as usize])),
            ("occurred_at", Value::TimestampMillis(self.occurred_at.0)),
        ])
    }

    fn from_value(value: Value, _writer: &Schema) -> Result<Self, DecodeError> {
        let mut f = Fields::of(value)?;
        Ok(Self {
            user_id: UserId(f.uuid("user_id")?),
            session_id: SessionId(f.uuid("session_id")?),
            gateway_id: f.string("gateway_id")?,
            kind: match f.symbol("kind")?.as_str() {
                "CONNECTED" => PresenceKind::Connected,
                "DISCONNECTED" => PresenceKind::Disconnected,
                _ => PresenceKind::Heartbeat,
            },
            occurred_at: UnixMillis(f.long("occurred_at")?),
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
        for kind in [
            PresenceKind::Connected,
            PresenceKind::Heartbeat,
            PresenceKind::Disconnected,
        ] {
            let e = PresenceEvent {
                user_id: UserId(Uuid::from_u128(1)),
                session_id: SessionId(Uuid::from_u128(2)),
                gateway_id: "gw".into(),
                kind,
                occurred_at: UnixMillis(5),
            };
            assert_eq!(round_trip(&e), e);
        }
    }
}
