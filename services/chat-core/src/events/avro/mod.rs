//! The mapping between our types and Avro `Value`s, by field name: the [`AvroRecord`]
//! trait and the helpers every mapping uses here, one file per record type beside it.
//! The types themselves, and their rules, are in `events/`: nothing there knows Avro.

mod audit;
mod conversation;
mod notification;
mod presence;

use apache_avro::types::Value;
use apache_avro::Schema;
use uuid::Uuid;

/// A record that crosses Kafka as Avro, with its schema compiled in.
pub trait AvroRecord: Sized {
    /// The schema this binary reads and writes (parsed once).
    fn schema() -> &'static Schema;
    /// The schema's source text, as registered in the registry.
    fn schema_source() -> &'static str;
    fn to_value(&self) -> Value;
    /// Convert a value decoded with the schema it was written with (`writer`).
    ///
    /// Conversion goes by field and branch *name*, never by position, which is how Avro
    /// schema resolution is defined. (apache-avro's own `Value::resolve` picks union
    /// branches by shape, which confuses `ReadUpTo { seq }` with `DeliveredUpTo { seq }`.)
    /// Fields the writer did not have take their schema default.
    fn from_value(value: Value, writer: &Schema) -> Result<Self, DecodeError>;
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("field `{0}` is missing")]
    Missing(&'static str),
    #[error("field `{field}` has the wrong type (expected {expected})")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("field `{field}` holds an invalid value: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("expected a record, found another kind of value")]
    NotARecord,
}

/// The fields of a decoded record, taken out one by one by name.
pub(crate) struct Fields(pub(crate) Vec<(String, Value)>);

impl Fields {
    pub(crate) fn of(value: Value) -> Result<Self, DecodeError> {
        match value {
            Value::Record(fields) => Ok(Self(fields)),
            _ => Err(DecodeError::NotARecord),
        }
    }

    pub(crate) fn take(&mut self, name: &'static str) -> Result<Value, DecodeError> {
        self.take_opt(name).ok_or(DecodeError::Missing(name))
    }

    /// A field added to the schema later, with a default: absent in older records.
    pub(crate) fn take_opt(&mut self, name: &'static str) -> Option<Value> {
        let idx = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.swap_remove(idx).1)
    }

    pub(crate) fn uuid(&mut self, name: &'static str) -> Result<Uuid, DecodeError> {
        as_uuid(name, self.take(name)?)
    }

    pub(crate) fn string(&mut self, name: &'static str) -> Result<String, DecodeError> {
        match self.take(name)? {
            Value::String(s) => Ok(s),
            _ => Err(DecodeError::WrongType {
                field: name,
                expected: "string",
            }),
        }
    }

    pub(crate) fn long(&mut self, name: &'static str) -> Result<i64, DecodeError> {
        match self.take(name)? {
            Value::Long(v) | Value::TimestampMillis(v) => Ok(v),
            Value::Int(v) => Ok(i64::from(v)),
            _ => Err(DecodeError::WrongType {
                field: name,
                expected: "long",
            }),
        }
    }

    /// An enum symbol.
    pub(crate) fn symbol(&mut self, name: &'static str) -> Result<String, DecodeError> {
        match self.take(name)? {
            Value::Enum(_, s) => Ok(s),
            _ => Err(DecodeError::WrongType {
                field: name,
                expected: "enum",
            }),
        }
    }

    /// A `["null", T]` union: None for null.
    pub(crate) fn optional(&mut self, name: &'static str) -> Result<Option<Value>, DecodeError> {
        match self.take(name)? {
            Value::Union(_, inner) => match *inner {
                Value::Null => Ok(None),
                v => Ok(Some(v)),
            },
            Value::Null => Ok(None),
            v => Ok(Some(v)),
        }
    }

    pub(crate) fn bytes(&mut self, name: &'static str) -> Result<Vec<u8>, DecodeError> {
        match self.take(name)? {
            Value::Bytes(b) | Value::Fixed(_, b) => Ok(b),
            _ => Err(DecodeError::WrongType {
                field: name,
                expected: "bytes",
            }),
        }
    }

    pub(crate) fn array(&mut self, name: &'static str) -> Result<Vec<Value>, DecodeError> {
        match self.take(name)? {
            Value::Array(items) => Ok(items),
            _ => Err(DecodeError::WrongType {
                field: name,
                expected: "array",
            }),
        }
    }
}

pub(crate) fn as_uuid(field: &'static str, v: Value) -> Result<Uuid, DecodeError> {
    match v {
        Value::Uuid(u) => Ok(u),
        Value::String(s) => Uuid::parse_str(&s).map_err(|e| DecodeError::Invalid {
            field,
            reason: e.to_string(),
        }),
        _ => Err(DecodeError::WrongType {
            field,
            expected: "uuid",
        }),
    }
}

pub(crate) fn as_string(field: &'static str, v: Value) -> Result<String, DecodeError> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(DecodeError::WrongType {
            field,
            expected: "string",
        }),
    }
}

/// The names of the branches of the union-typed field `field` of the record `writer`,
/// in the writer's order (a record value's union index points into this list).
pub(crate) fn union_branch_names(
    writer: &Schema,
    field: &'static str,
) -> Result<Vec<String>, DecodeError> {
    let Schema::Record(record) = writer else {
        return Err(DecodeError::NotARecord);
    };
    let f = record
        .fields
        .iter()
        .find(|f| f.name == field)
        .ok_or(DecodeError::Missing(field))?;
    let Schema::Union(union) = &f.schema else {
        return Err(DecodeError::WrongType {
            field,
            expected: "union",
        });
    };
    Ok(union
        .variants()
        .iter()
        .map(|v| match v {
            Schema::Record(r) => r.name.name().to_string(),
            Schema::Ref { name } => name.name().to_string(),
            other => format!("{:?}", apache_avro::schema::SchemaKind::from(other)),
        })
        .collect())
}

/// Build a record value from (name, value) pairs.
pub(crate) fn record(fields: Vec<(&str, Value)>) -> Value {
    Value::Record(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// `["null", T]` with T at branch 1.
pub(crate) fn nullable(v: Option<Value>) -> Value {
    match v {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(v) => Value::Union(1, Box::new(v)),
    }
}

/// Index of `symbol` in an enum whose symbols are `symbols` (for `Value::Enum`).
pub(crate) fn enum_value(symbols: &[&str], symbol: &str) -> Value {
    let idx = symbols.iter().position(|s| *s == symbol).unwrap_or(0);
    Value::Enum(idx as u32, symbol.to_string())
}

/// Parse a schema compiled into the binary. The files are checked by unit tests, so a
/// failure here is a build defect, not a runtime condition.
pub(crate) fn parse_compiled(source: &str) -> Schema {
    match Schema::parse_str(source) {
        Ok(s) => s,
        Err(e) => panic!("a compiled-in Avro schema does not parse: {e}"),
    }
}

/// Encode to Avro bytes and decode back (no registry), as the unit tests of every record
/// type do.
#[cfg(test)]
pub(crate) fn round_trip<T: AvroRecord>(record: &T) -> T {
    use apache_avro::reader::datum::GenericDatumReader;
    use apache_avro::writer::datum::GenericDatumWriter;
    let schema = T::schema();
    let bytes = GenericDatumWriter::builder(schema)
        .build()
        .expect("writer")
        .write_value_to_vec(record.to_value())
        .expect("encodes");
    let value = GenericDatumReader::builder(schema)
        .build()
        .expect("reader")
        .read_value(&mut bytes.as_slice())
        .expect("decodes");
    T::from_value(value, schema).expect("converts")
}
