//! Lenient reading of attribute values: counts that arrive as strings or doubles, MLflow's JSON-encoded
//! strings, JSON held in strings or in structured values, and JSON arrays cut short by SDK size limits.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// Attributes as (key, value) pairs, in the order they were sent.
pub(crate) type Fields<'a> = Vec<(&'a str, &'a AnyValue)>;

/// The attributes of one span, resource or event, looked up by key: by a linear scan of the list while it
/// is short (most spans: cheaper than hashing each of the hundred keys normalization asks for, and nothing
/// to allocate on the ingest path), through a map beyond `SCAN_AT_MOST`.
pub(crate) struct Attributes<'a> {
    list: &'a [KeyValue],
    by_key: Option<HashMap<&'a str, &'a AnyValue>>,
}

const SCAN_AT_MOST: usize = 24;

impl<'a> Attributes<'a> {
    pub(crate) fn new(list: &'a [KeyValue]) -> Attributes<'a> {
        let by_key = (list.len() > SCAN_AT_MOST).then(|| {
            let mut by_key = HashMap::with_capacity(list.len());
            for kv in list {
                if let Some(value) = kv.value.as_ref() {
                    // OTLP keys are unique; should a sender repeat one, its first value counts.
                    by_key.entry(kv.key.as_str()).or_insert(value);
                }
            }
            by_key
        });
        Attributes { list, by_key }
    }

    /// The first value sent under `key`.
    fn get(&self, key: &str) -> Option<&'a AnyValue> {
        match &self.by_key {
            Some(by_key) => by_key.get(key).copied(),
            None => self
                .list
                .iter()
                .find(|kv| kv.key == key && kv.value.is_some())
                .and_then(|kv| kv.value.as_ref()),
        }
    }

    /// Every (key, value) pair in the order sent.
    pub(crate) fn fields(&self) -> Fields<'a> {
        self.list
            .iter()
            .filter_map(|kv| Some((kv.key.as_str(), kv.value.as_ref()?)))
            .collect()
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn has_any(&self, keys: &[&str]) -> bool {
        keys.iter().any(|key| self.has(key))
    }

    pub(crate) fn has_prefix(&self, prefix: &str) -> bool {
        self.list.iter().any(|kv| kv.key.starts_with(prefix))
    }

    pub(crate) fn text(&self, key: &str) -> Option<String> {
        value_text(self.get(key)?)
    }

    pub(crate) fn first_text(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|key| self.text(key))
    }

    pub(crate) fn count(&self, key: &str) -> Option<u64> {
        value_count(self.get(key)?)
    }

    pub(crate) fn first_count(&self, keys: &[&str]) -> Option<u64> {
        keys.iter().find_map(|key| self.count(key))
    }

    pub(crate) fn amount(&self, key: &str) -> Option<f64> {
        value_amount(self.get(key)?)
    }

    /// The value as JSON (see [`as_json`]); `None` when absent or null.
    pub(crate) fn json(&self, key: &str) -> Option<Value> {
        Some(as_json(&any_to_json(self.get(key)?))).filter(|value| !value.is_null())
    }
}

/// MLflow JSON-encodes every attribute value, strings included: `"\"gpt-4o\""` reads as `gpt-4o`.
fn decode_json_string(text: &str) -> String {
    if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        if let Ok(decoded) = serde_json::from_str::<String>(text) {
            return decoded;
        }
    }
    text.to_string()
}

/// A value as text: strings decoded, numbers and booleans printed, structured values as compact JSON.
/// Empty text and JSON's `null` (MLflow's encoding of None) are absent.
pub(crate) fn value_text(value: &AnyValue) -> Option<String> {
    let text = match value.value.as_ref()? {
        any_value::Value::StringValue(text) => decode_json_string(text),
        any_value::Value::IntValue(number) => number.to_string(),
        any_value::Value::DoubleValue(number) => number.to_string(),
        any_value::Value::BoolValue(flag) => flag.to_string(),
        any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_) => any_to_json(value).to_string(),
        _ => return None,
    };
    let trimmed = text.trim();
    let absent = trimmed.is_empty() || trimmed == "null";
    (!absent).then_some(text)
}

fn whole_number(number: f64) -> Option<u64> {
    if number.is_finite() && number >= 0.0 {
        Some(number.round() as u64)
    } else {
        None
    }
}

/// A token count from an int, a double or a string holding either.
pub(crate) fn value_count(value: &AnyValue) -> Option<u64> {
    match value.value.as_ref()? {
        any_value::Value::IntValue(number) => u64::try_from(*number).ok(),
        any_value::Value::DoubleValue(number) => whole_number(*number),
        any_value::Value::StringValue(text) => text_count(&decode_json_string(text)),
        _ => None,
    }
}

fn text_count(text: &str) -> Option<u64> {
    let text = text.trim();
    text.parse::<u64>().ok().or_else(|| whole_number(text.parse::<f64>().ok()?))
}

/// An amount of money from a double, an int or a string holding either; never negative.
pub(crate) fn value_amount(value: &AnyValue) -> Option<f64> {
    let amount = match value.value.as_ref()? {
        any_value::Value::DoubleValue(number) => *number,
        any_value::Value::IntValue(number) => *number as f64,
        any_value::Value::StringValue(text) => decode_json_string(text).trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (amount.is_finite() && amount >= 0.0).then_some(amount)
}

/// An attribute value as JSON, structurally (strings are not parsed here).
pub(crate) fn any_to_json(value: &AnyValue) -> Value {
    match value.value.as_ref() {
        Some(any_value::Value::StringValue(text)) => Value::String(text.clone()),
        Some(any_value::Value::BoolValue(flag)) => Value::Bool(*flag),
        Some(any_value::Value::IntValue(number)) => Value::from(*number),
        Some(any_value::Value::DoubleValue(number)) => Number::from_f64(*number).map_or(Value::Null, Value::Number),
        Some(any_value::Value::ArrayValue(array)) => Value::Array(array.values.iter().map(any_to_json).collect()),
        Some(any_value::Value::KvlistValue(list)) => Value::Object(attributes_to_json(&list.values)),
        _ => Value::Null,
    }
}

/// Attributes as one JSON object, the way event bodies read them.
pub(crate) fn attributes_to_json(list: &[KeyValue]) -> Map<String, Value> {
    list.iter()
        .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(Value::Null, any_to_json)))
        .collect()
}

/// A value that may hold JSON: a string is parsed (MLflow's doubly encoded ones twice; an array cut short
/// keeps its complete elements), structured values are taken as they are, and text that is not JSON stays
/// a string.
pub(crate) fn as_json(value: &Value) -> Value {
    let Value::String(text) = value else {
        return value.clone();
    };
    match parse_json_lenient(text) {
        Some(Value::String(inner)) if looks_like_json(&inner) => parse_json_lenient(&inner).unwrap_or(Value::String(inner)),
        Some(parsed) => parsed,
        None => Value::String(text.clone()),
    }
}

fn looks_like_json(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with('[') || text.starts_with('{')
}

fn parse_json_lenient(text: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => Some(value),
        Err(_) => complete_elements_of_cut_array(text).map(Value::Array),
    }
}

/// SDK attribute limits cut long message lists mid-element (trigger.dev#1964, the Azure SDK's 256 KB cap);
/// the elements before the cut are still whole.
fn complete_elements_of_cut_array(text: &str) -> Option<Vec<Value>> {
    let mut rest = text.trim_start().strip_prefix('[')?;
    let mut elements = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let Some(Ok(element)) = stream.next() else {
            break;
        };
        elements.push(element);
        rest = &rest[stream.byte_offset()..];
    }
    (!elements.is_empty()).then_some(elements)
}

/// The first of `keys` in a JSON object holding a non-empty string (or a number, printed).
pub(crate) fn string_field(value: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| match value.get(*key)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    })
}

/// A token count as a JSON number, or a string holding one.
pub(crate) fn json_as_count(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64().or_else(|| whole_number(number.as_f64()?)),
        Value::String(text) => text_count(text),
        _ => None,
    }
}

/// The token count under `key` of a JSON object.
pub(crate) fn json_count(value: &Value, key: &str) -> Option<u64> {
    json_as_count(value.get(key)?)
}

/// An amount of money as a JSON number, or a string holding one; never negative.
pub(crate) fn json_amount(value: &Value) -> Option<f64> {
    let amount = match value {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => text.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (amount.is_finite() && amount >= 0.0).then_some(amount)
}
