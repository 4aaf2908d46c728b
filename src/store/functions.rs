//! SQL functions the query compiler relies on: typed attribute lookup inside the encoded
//! attribute blobs (plain or compressed, `store::codec`), the status message, event names and event attributes inside a span's `extra`
//! blob, a log record's event name, and REGEXP (with the compiled pattern cached per statement).

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
    // otelbox_plain(attrs_blob): the encoded attributes, decompressed when stored compressed
    // (`store::codec`), for searches over their bytes.
    conn.create_scalar_function("otelbox_plain", 1, flags, |ctx| {
        Ok(ToSqlOutput::Owned(match ctx.get_raw(0) {
            ValueRef::Blob(b) => super::codec::plain(b).map_or(Value::Null, |p| Value::Blob(p.into_owned())),
            _ => Value::Null,
        }))
    })?;
    // otelbox_plain_length(attrs_blob): the length of the plain encoded attributes, without decompressing.
    conn.create_scalar_function("otelbox_plain_length", 1, flags, |ctx| {
        Ok(ToSqlOutput::Owned(match ctx.get_raw(0) {
            ValueRef::Blob(b) => Value::Integer(super::codec::plain_len(b) as i64),
            _ => Value::Null,
        }))
    })?;
    // otelbox_status_message(span_extra): the span's status message (NULL when it has none).
    conn.create_scalar_function("otelbox_status_message", 1, flags, |ctx| {
        Ok(ToSqlOutput::Owned(match ctx.get_raw(0) {
            ValueRef::Blob(b) => nested_text(b, &[SPAN_STATUS, STATUS_MESSAGE]),
            _ => Value::Null,
        }))
    })?;
    // otelbox_log_event_name(log_extra): OTLP's event_name of a log record (NULL when it has none).
    conn.create_scalar_function("otelbox_log_event_name", 1, flags, |ctx| {
        Ok(ToSqlOutput::Owned(match ctx.get_raw(0) {
            ValueRef::Blob(b) => nested_text(b, &[LOG_EVENT_NAME]),
            _ => Value::Null,
        }))
    })?;
    // otelbox_event_names(span_extra): the names of the span's events as a JSON array (NULL when it
    // has none), for json_each.
    conn.create_scalar_function("otelbox_event_names", 1, flags, |ctx| {
        Ok(ToSqlOutput::Owned(match ctx.get_raw(0) {
            ValueRef::Blob(b) => json_array(event_names(b)),
            _ => Value::Null,
        }))
    })?;
    // otelbox_event_values(span_extra, key): the values of attribute `key` in the span's events as a
    // JSON array (NULL when no event has it), typed as otelbox_attr types them, for json_each.
    conn.create_scalar_function("otelbox_event_values", 2, flags, |ctx| {
        let key = ctx.get_raw(1).as_str().unwrap_or_default().as_bytes().to_vec();
        Ok(ToSqlOutput::Owned(match ctx.get_raw(0) {
            ValueRef::Blob(b) => json_array(event_values(b, &key)),
            _ => Value::Null,
        }))
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

/// Field numbers inside the encoded `Span` and `LogRecord` kept in `extra` (the OTLP protos').
const SPAN_EVENTS: u64 = 11;
const SPAN_STATUS: u64 = 15;
const STATUS_MESSAGE: u64 = 2;
const EVENT_NAME: u64 = 2;
const EVENT_ATTRIBUTES: u64 = 3;
const LOG_EVENT_NAME: u64 = 12;

/// The string at `path` (a field number per nested message, the last occurrence of each) as a SQL
/// value; NULL when absent or empty.
fn nested_text(mut buf: &[u8], path: &[u64]) -> Value {
    for field in path {
        match last_bytes(buf, *field) {
            Some(inner) => buf = inner,
            None => return Value::Null,
        }
    }
    if buf.is_empty() {
        Value::Null
    } else {
        Value::Text(String::from_utf8_lossy(buf).into_owned())
    }
}

/// The last length-delimited occurrence of `field` in a message (protobuf: the last one counts).
fn last_bytes(buf: &[u8], field: u64) -> Option<&[u8]> {
    let mut found = None;
    for_each_bytes(buf, field, |b| found = Some(b));
    found
}

/// Every length-delimited occurrence of `field` in a message, in order, up to a malformed part.
fn for_each_bytes<'a>(mut buf: &'a [u8], field: u64, mut f: impl FnMut(&'a [u8])) {
    while let Some(Some((tag, wire))) = next_field(&mut buf) {
        if let (true, Wire::Bytes(bytes)) = (tag == field, wire) {
            f(bytes);
        }
    }
}

/// The names of the events of an encoded span `extra` (unnamed events left out).
fn event_names(extra: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    for_each_bytes(extra, SPAN_EVENTS, |event| {
        let name = nested_text(event, &[EVENT_NAME]);
        if name != Value::Null {
            out.push(name);
        }
    });
    out
}

/// The values of attribute `key` in the events of an encoded span `extra`, in order; an event
/// without it, or with it but no value (as `otelbox_attr` has it: NULL), adds nothing.
fn event_values(extra: &[u8], key: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    for_each_bytes(extra, SPAN_EVENTS, |event| {
        if let Some(value) = encoded_value_in(event, EVENT_ATTRIBUTES, key) {
            let value = AnyValue::decode(value).map_or(Value::Null, sql_value);
            if value != Value::Null {
                out.push(value);
            }
        }
    });
    out
}

/// SQL values as a JSON array (NULL for none): strings, numbers (a boolean is 1 or 0, as
/// `otelbox_attr` has it), null for what JSON cannot hold.
fn json_array(values: Vec<Value>) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    let items: Vec<serde_json::Value> = values
        .into_iter()
        .map(|v| match v {
            Value::Text(s) => serde_json::Value::String(s),
            Value::Integer(i) => i.into(),
            Value::Real(f) => serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number),
            _ => serde_json::Value::Null,
        })
        .collect();
    Value::Text(serde_json::Value::Array(items).to_string())
}

/// Every attribute key of an encoded `KeyValueList` or `Resource` (attributes are field 1 of both),
/// in order, up to a malformed part.
pub fn attribute_keys(blob: &[u8], mut f: impl FnMut(&[u8])) {
    for_each_bytes(blob, 1, |kv| {
        if let Some(key) = last_bytes(kv, 1) {
            f(key);
        }
    });
}

/// Every attribute key of every event of an encoded span `extra`.
pub fn event_attribute_keys(extra: &[u8], mut f: impl FnMut(&[u8])) {
    for_each_bytes(extra, SPAN_EVENTS, |event| {
        for_each_bytes(event, EVENT_ATTRIBUTES, |kv| {
            if let Some(key) = last_bytes(kv, 1) {
                f(key);
            }
        })
    });
}

/// The first attribute named `key` in an encoded `KeyValueList` (or `Resource`, whose attributes
/// are field 1 as well), as a SQL value. Filters call this for every row they look at, so only the
/// matching attribute's value is decoded: the others are skipped by their lengths.
fn lookup(blob: &[u8], key: &str) -> Value {
    let Some(plain) = super::codec::plain(blob) else {
        return Value::Null;
    };
    let Some(value) = encoded_value(&plain, key.as_bytes()) else {
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
fn encoded_value<'a>(list: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    encoded_value_in(list, 1, key)
}

/// `encoded_value` for a message whose `KeyValue`s are field `field` (an event's are field 3).
fn encoded_value_in<'a>(mut list: &'a [u8], field: u64, key: &[u8]) -> Option<&'a [u8]> {
    while let Some((tag, wire)) = next_field(&mut list)? {
        let (true, Wire::Bytes(mut kv)) = (tag == field, wire) else {
            continue;
        };
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

    /// What the status message, event and log event-name functions read from the `extra` blobs,
    /// directly and through SQL as the filter compiler uses them.
    #[test]
    fn span_and_log_extra_fields() {
        use opentelemetry_proto::tonic::logs::v1::LogRecord;
        use opentelemetry_proto::tonic::trace::v1::{span::Event, Span, Status};
        let kv = |key: &str, value| KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        };
        let extra = Span {
            events: vec![
                Event {
                    name: "exception".into(),
                    attributes: vec![
                        kv("exception.type", any_value::Value::StringValue("ValueError".into())),
                        kv("n", any_value::Value::IntValue(3)),
                    ],
                    ..Default::default()
                },
                Event {
                    name: "retry".into(),
                    attributes: vec![
                        kv("n", any_value::Value::IntValue(4)),
                        kv("ok", any_value::Value::BoolValue(true)),
                        KeyValue {
                            key: "empty".into(),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
            ],
            status: Some(Status {
                message: "boom".into(),
                code: 0,
            }),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(nested_text(&extra, &[SPAN_STATUS, STATUS_MESSAGE]), Value::Text("boom".into()));
        assert_eq!(json_array(event_names(&extra)), Value::Text(r#"["exception","retry"]"#.into()));
        assert_eq!(json_array(event_values(&extra, b"n")), Value::Text("[3,4]".into()));
        assert_eq!(json_array(event_values(&extra, b"ok")), Value::Text("[1]".into()));
        assert_eq!(json_array(event_values(&extra, b"empty")), Value::Null);
        assert_eq!(json_array(event_values(&extra, b"missing")), Value::Null);
        let mut keys = Vec::new();
        event_attribute_keys(&extra, |k| keys.push(String::from_utf8_lossy(k).into_owned()));
        assert_eq!(keys, ["exception.type", "n", "n", "ok", "empty"]);
        let log = LogRecord {
            event_name: "gen_ai.user.message".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        let one = |sql: &str, blob: &[u8]| -> Option<String> { conn.query_row(sql, [blob], |r| r.get(0)).unwrap() };
        assert_eq!(one("SELECT otelbox_status_message(?1)", &extra).as_deref(), Some("boom"));
        assert_eq!(one("SELECT otelbox_status_message(?1)", b""), None);
        assert_eq!(
            one("SELECT otelbox_log_event_name(?1)", &log).as_deref(),
            Some("gen_ai.user.message")
        );
        assert_eq!(one("SELECT otelbox_log_event_name(?1)", b"\xff"), None, "malformed");
        let count = |sql: &str| -> i64 { conn.query_row(sql, [&extra[..]], |r| r.get(0)).unwrap() };
        assert_eq!(
            count("SELECT count(*) FROM json_each(otelbox_event_values(?1, 'exception.type')) e WHERE e.value = 'ValueError'"),
            1
        );
        assert_eq!(
            count("SELECT count(*) FROM json_each(otelbox_event_values(?1, 'n')) e WHERE e.value > 3"),
            1
        );
        assert_eq!(
            count("SELECT count(*) FROM json_each(otelbox_event_names(?1)) e WHERE e.value = 'retry'"),
            1
        );
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
