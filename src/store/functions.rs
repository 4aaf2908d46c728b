//! SQL functions the query compiler relies on: typed attribute lookup inside the encoded
//! attribute blobs, and REGEXP (with the compiled pattern cached per statement).

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use prost::Message;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::Connection;
use std::sync::Arc;

pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    // otelbox_attr(attrs_blob, key): the attribute's value as a SQL value (NULL when absent).
    conn.create_scalar_function("otelbox_attr", 2, flags, |ctx| {
        let blob = match ctx.get_raw(0) {
            ValueRef::Blob(b) => b,
            _ => return Ok(ToSqlOutput::Owned(Value::Null)),
        };
        let key = ctx.get_raw(1).as_str().unwrap_or_default();
        Ok(ToSqlOutput::Owned(lookup(blob, key)))
    })?;
    // `x REGEXP p` calls regexp(p, x); a pattern the parser already validated, compiled once.
    conn.create_scalar_function("regexp", 2, flags, |ctx| {
        let pattern: Arc<regex::Regex> = ctx
            .get_or_create_aux(0, |v| -> Result<regex::Regex, Box<dyn std::error::Error + Send + Sync + 'static>> {
                Ok(regex::Regex::new(v.as_str()?)?)
            })?;
        Ok(match ctx.get_raw(1) {
            ValueRef::Text(t) => pattern.is_match(&String::from_utf8_lossy(t)),
            ValueRef::Integer(i) => pattern.is_match(&i.to_string()),
            ValueRef::Real(r) => pattern.is_match(&r.to_string()),
            _ => false,
        })
    })?;
    Ok(())
}

/// The first attribute named `key` in an encoded `KeyValueList` (or `Resource`, whose attributes
/// are field 1 as well), as a SQL value. Filters call this for every row they look at, so only the
/// matching attribute's value is decoded: the others are skipped by their lengths.
fn lookup(blob: &[u8], key: &str) -> Value {
    let Some(value) = encoded_value(blob, key.as_bytes()) else {
        return Value::Null;
    };
    match AnyValue::decode(value) {
        Ok(value) => sql_value(value),
        Err(_) => Value::Null,
    }
}

fn sql_value(value: AnyValue) -> Value {
    match value.value {
        Some(any_value::Value::StringValue(s)) => Value::Text(s),
        Some(any_value::Value::IntValue(i)) => Value::Integer(i),
        Some(any_value::Value::DoubleValue(d)) => Value::Real(d),
        Some(any_value::Value::BoolValue(b)) => Value::Integer(b as i64),
        Some(_) => Value::Text(crate::pdata::json::any_value_to_plain(&value).to_string()),
        None => Value::Null,
    }
}

/// The encoded `AnyValue` of the first `KeyValue` (field 1) whose key is `key`; None when there is
/// none, or when the blob is malformed before it.
fn encoded_value<'a>(mut list: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    while let Some((tag, field)) = next_field(&mut list)? {
        let (1, Wire::Bytes(mut kv)) = (tag, field) else { continue };
        // Protobuf lets a field repeat: the last occurrence counts.
        let (mut found_key, mut value) = (None, None);
        while let Some((tag, field)) = next_field(&mut kv)? {
            match (tag, field) {
                (1, Wire::Bytes(k)) => found_key = Some(k),
                (2, Wire::Bytes(v)) => value = Some(v),
                _ => {}
            }
        }
        if found_key == Some(key) {
            // A KeyValue without a value holds an empty AnyValue.
            return Some(value.unwrap_or_default());
        }
    }
    None
}

enum Wire<'a> {
    Bytes(&'a [u8]),
    Other,
}

/// The next field of a protobuf message: `Ok(None)` at its end, `None` when it is malformed.
fn next_field<'a>(buf: &mut &'a [u8]) -> Option<Option<(u64, Wire<'a>)>> {
    if buf.is_empty() {
        return Some(None);
    }
    let key = prost::encoding::decode_varint(buf).ok()?;
    let field = match key & 7 {
        0 => prost::encoding::decode_varint(buf).map(|_| Wire::Other).ok()?,
        1 | 5 => {
            let width = if key & 7 == 1 { 8 } else { 4 };
            *buf = buf.get(width..)?;
            Wire::Other
        }
        2 => {
            let len = usize::try_from(prost::encoding::decode_varint(buf).ok()?).ok()?;
            let bytes = buf.get(..len)?;
            *buf = &buf[len..];
            Wire::Bytes(bytes)
        }
        _ => return None, // groups: not in OTLP
    };
    Some(Some((key >> 3, field)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValue, KeyValueList};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use proptest::prelude::*;

    /// What `lookup` answered before it skipped fields: decode everything, take the first match.
    fn decoded_lookup(blob: &[u8], key: &str) -> Value {
        let Ok(list) = KeyValueList::decode(blob) else { return Value::Null };
        list.values
            .into_iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value)
            .map_or(Value::Null, sql_value)
    }

    fn any_value() -> impl Strategy<Value = Option<AnyValue>> {
        let scalar = prop_oneof![
            "[a-z]{0,12}".prop_map(any_value::Value::StringValue),
            any::<i64>().prop_map(any_value::Value::IntValue),
            any::<f64>().prop_map(any_value::Value::DoubleValue),
            any::<bool>().prop_map(any_value::Value::BoolValue),
            Just(any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(any_value::Value::IntValue(1))
                }]
            })),
        ];
        proptest::option::of(proptest::option::of(scalar).prop_map(|value| AnyValue { value }))
    }

    proptest! {
        #[test]
        fn finds_what_a_full_decode_finds(
            attributes in proptest::collection::vec(("[abc]{1,2}", any_value()), 0..8),
            key in "[abc]{1,2}",
        ) {
            let values: Vec<KeyValue> = attributes
                .into_iter()
                .map(|(key, value)| KeyValue { key, value, ..Default::default() })
                .collect();
            let blob = KeyValueList { values: values.clone() }.encode_to_vec();
            prop_assert_eq!(lookup(&blob, &key), decoded_lookup(&blob, &key));
            // A resource body holds its attributes in field 1 too, next to other fields.
            let resource = Resource { attributes: values, dropped_attributes_count: 3, ..Default::default() }.encode_to_vec();
            prop_assert_eq!(lookup(&resource, &key), decoded_lookup(&blob, &key));
        }

        #[test]
        fn never_panics_on_garbage(blob in proptest::collection::vec(any::<u8>(), 0..64), key in "[a]{1,2}") {
            let _ = lookup(&blob, &key);
        }
    }

    #[test]
    fn typed_values() {
        let kv = |key: &str, value| KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        };
        let blob = KeyValueList {
            values: vec![
                kv("s", any_value::Value::StringValue("x".into())),
                kv("i", any_value::Value::IntValue(7)),
                kv("b", any_value::Value::BoolValue(true)),
                kv("i", any_value::Value::IntValue(8)),
            ],
        }
        .encode_to_vec();
        assert_eq!(lookup(&blob, "s"), Value::Text("x".into()));
        assert_eq!(lookup(&blob, "i"), Value::Integer(7), "the first of repeated keys");
        assert_eq!(lookup(&blob, "b"), Value::Integer(1));
        assert_eq!(lookup(&blob, "missing"), Value::Null);
        assert_eq!(lookup(b"\x0a\xff", "s"), Value::Null, "truncated");
    }
}
