//! The Avro form of [`AuditEvent`] (`schemas/avro/audit_event.avsc`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::LazyLock;

use apache_avro::types::Value;
use apache_avro::Schema;

use super::{as_string, nullable, parse_compiled, record, AvroRecord, DecodeError, Fields};
use crate::events::audit::{Actor, AuditAction, AuditEvent, Outcome, Subject, SubjectKind};
use crate::time::UnixMillis;

const SOURCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schemas/avro/audit_event.avsc"
));
static SCHEMA: LazyLock<Schema> = LazyLock::new(|| parse_compiled(SOURCE));

impl AvroRecord for AuditEvent {
    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn schema_source() -> &'static str {
        SOURCE
    }

    fn to_value(&self) -> Value {
        let details: HashMap<String, Value> = self
            .details
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        record(vec![
            ("event_id", Value::Uuid(self.event_id)),
            ("occurred_at", Value::TimestampMillis(self.occurred_at.0)),
            ("actor_id", Value::String(self.actor.to_string())),
            ("action", Value::String(self.action.as_str().to_string())),
            (
                "subject_kind",
                Value::String(self.subject.kind.as_str().to_string()),
            ),
            ("subject_id", Value::String(self.subject.id.clone())),
            ("outcome", Value::String(self.outcome.as_str().to_string())),
            ("origin", Value::String(self.origin.clone())),
            (
                "source_ip",
                nullable(self.source_ip.map(|ip| Value::String(ip.to_string()))),
            ),
            ("details", Value::Map(details)),
        ])
    }

    fn from_value(value: Value, _writer: &Schema) -> Result<Self, DecodeError> {
        let mut f = Fields::of(value)?;
        let source_ip = match f.take_opt("source_ip") {
            None => None,
            Some(v) => match unwrap_union(v) {
                Value::Null => None,
                Value::String(s) => {
                    Some(s.parse::<IpAddr>().map_err(|e| DecodeError::Invalid {
                        field: "source_ip",
                        reason: e.to_string(),
                    })?)
                }
                _ => {
                    return Err(DecodeError::WrongType {
                        field: "source_ip",
                        expected: "null or string",
                    })
                }
            },
        };
        let details = match f.take_opt("details") {
            None => BTreeMap::new(),
            Some(Value::Map(items)) => items
                .into_iter()
                .map(|(k, v)| as_string("details", v).map(|v| (k, v)))
                .collect::<Result<BTreeMap<String, String>, DecodeError>>()?,
            Some(_) => {
                return Err(DecodeError::WrongType {
                    field: "details",
                    expected: "map",
                })
            }
        };
        Ok(Self {
            event_id: f.uuid("event_id")?,
            occurred_at: UnixMillis(f.long("occurred_at")?),
            actor: Actor::parse(&f.string("actor_id")?),
            action: AuditAction::parse(&f.string("action")?),
            subject: Subject {
                kind: SubjectKind::parse(&f.string("subject_kind")?),
                id: f.string("subject_id")?,
            },
            outcome: Outcome::parse(&f.string("outcome")?),
            origin: f.string("origin")?,
            source_ip,
            details,
        })
    }
}

/// The value inside a union (a writer's `["null", "string"]`), or the value itself.
fn unwrap_union(v: Value) -> Value {
    match v {
        Value::Union(_, inner) => *inner,
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::avro::round_trip;
    use crate::ids::{ConversationId, UserId};
    use uuid::Uuid;

    #[test]
    fn round_trips() {
        let actor = UserId(Uuid::from_u128(1));
        let with_everything = AuditEvent::new(
            Actor::User(actor),
            AuditAction::MemberAdded,
            Subject::conversation(ConversationId(Uuid::from_u128(2))),
            Outcome::Ok,
            "gw-1",
        )
        .with_source_ip(Some("2001:db8::1".parse().unwrap()))
        .detail("user_id", UserId(Uuid::from_u128(3)))
        .detail("as_admin", false);
        assert_eq!(round_trip(&with_everything), with_everything);

        let bare = AuditEvent::new(
            Actor::Operator("ops".into()),
            AuditAction::Other("key_rotated".into()),
            Subject {
                kind: SubjectKind::Other("key".into()),
                id: "k1".into(),
            },
            Outcome::Failed,
            "chatctl",
        );
        assert_eq!(round_trip(&bare), bare);
    }
}
