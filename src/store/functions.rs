//! SQL functions the query compiler relies on: typed attribute lookup inside the encoded
//! attribute blobs, and REGEXP (with the compiled pattern cached per statement).

use opentelemetry_proto::tonic::common::v1::{any_value, KeyValueList};
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

fn lookup(blob: &[u8], key: &str) -> Value {
    let Ok(list) = KeyValueList::decode(blob) else {
        return Value::Null;
    };
    let Some(value) = list.values.into_iter().find(|kv| kv.key == key).and_then(|kv| kv.value) else {
        return Value::Null;
    };
    match value.value {
        Some(any_value::Value::StringValue(s)) => Value::Text(s),
        Some(any_value::Value::IntValue(i)) => Value::Integer(i),
        Some(any_value::Value::DoubleValue(d)) => Value::Real(d),
        Some(any_value::Value::BoolValue(b)) => Value::Integer(b as i64),
        Some(_) => Value::Text(crate::pdata::json::any_value_to_plain(&value).to_string()),
        None => Value::Null,
    }
}
