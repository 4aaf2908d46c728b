//! What every OTLP/JSON signal shares: the field-name table, the decoding machinery with its error
//! paths, scalar/id/base64 parsing, and AnyValue, attributes, resource and scope in both directions.

use super::JsonError;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Number, Value};
use serde_json_borrow::{ObjectAsVec, Value as J};

// ---------------------------------------------------------------------------------------------
// Field names: (lowerCamelCase JSON name, snake_case proto name). The first is what we emit.

#[derive(Clone, Copy)]
pub(super) struct F(&'static str, &'static str);

pub(super) mod k {
    use super::F;
    pub const RESOURCE_SPANS: F = F("resourceSpans", "resource_spans");
    pub const RESOURCE_METRICS: F = F("resourceMetrics", "resource_metrics");
    pub const RESOURCE_LOGS: F = F("resourceLogs", "resource_logs");
    pub const SCOPE_SPANS: F = F("scopeSpans", "scope_spans");
    pub const SCOPE_METRICS: F = F("scopeMetrics", "scope_metrics");
    pub const SCOPE_LOGS: F = F("scopeLogs", "scope_logs");
    pub const RESOURCE: F = F("resource", "resource");
    pub const SCOPE: F = F("scope", "scope");
    pub const SCHEMA_URL: F = F("schemaUrl", "schema_url");
    pub const SPANS: F = F("spans", "spans");
    pub const METRICS: F = F("metrics", "metrics");
    pub const LOG_RECORDS: F = F("logRecords", "log_records");
    pub const ATTRIBUTES: F = F("attributes", "attributes");
    pub const DROPPED_ATTRIBUTES_COUNT: F = F("droppedAttributesCount", "dropped_attributes_count");
    pub const ENTITY_REFS: F = F("entityRefs", "entity_refs");
    pub const TYPE: F = F("type", "type");
    pub const ID_KEYS: F = F("idKeys", "id_keys");
    pub const DESCRIPTION_KEYS: F = F("descriptionKeys", "description_keys");
    pub const NAME: F = F("name", "name");
    pub const VERSION: F = F("version", "version");
    pub const KEY: F = F("key", "key");
    pub const VALUE: F = F("value", "value");
    pub const VALUES: F = F("values", "values");
    pub const KEY_STRINDEX: F = F("keyStrindex", "key_strindex");
    pub const STRING_VALUE: F = F("stringValue", "string_value");
    pub const BOOL_VALUE: F = F("boolValue", "bool_value");
    pub const INT_VALUE: F = F("intValue", "int_value");
    pub const DOUBLE_VALUE: F = F("doubleValue", "double_value");
    pub const ARRAY_VALUE: F = F("arrayValue", "array_value");
    pub const KVLIST_VALUE: F = F("kvlistValue", "kvlist_value");
    pub const BYTES_VALUE: F = F("bytesValue", "bytes_value");
    pub const STRING_VALUE_STRINDEX: F = F("stringValueStrindex", "string_value_strindex");
    pub const TRACE_ID: F = F("traceId", "trace_id");
    pub const SPAN_ID: F = F("spanId", "span_id");
    pub const PARENT_SPAN_ID: F = F("parentSpanId", "parent_span_id");
    pub const TRACE_STATE: F = F("traceState", "trace_state");
    pub const FLAGS: F = F("flags", "flags");
    pub const KIND: F = F("kind", "kind");
    pub const START_TIME_UNIX_NANO: F = F("startTimeUnixNano", "start_time_unix_nano");
    pub const END_TIME_UNIX_NANO: F = F("endTimeUnixNano", "end_time_unix_nano");
    pub const TIME_UNIX_NANO: F = F("timeUnixNano", "time_unix_nano");
    pub const OBSERVED_TIME_UNIX_NANO: F = F("observedTimeUnixNano", "observed_time_unix_nano");
    pub const EVENTS: F = F("events", "events");
    pub const DROPPED_EVENTS_COUNT: F = F("droppedEventsCount", "dropped_events_count");
    pub const LINKS: F = F("links", "links");
    pub const DROPPED_LINKS_COUNT: F = F("droppedLinksCount", "dropped_links_count");
    pub const STATUS: F = F("status", "status");
    pub const MESSAGE: F = F("message", "message");
    pub const CODE: F = F("code", "code");
    pub const DESCRIPTION: F = F("description", "description");
    pub const UNIT: F = F("unit", "unit");
    pub const METADATA: F = F("metadata", "metadata");
    pub const GAUGE: F = F("gauge", "gauge");
    pub const SUM: F = F("sum", "sum");
    pub const HISTOGRAM: F = F("histogram", "histogram");
    pub const EXPONENTIAL_HISTOGRAM: F = F("exponentialHistogram", "exponential_histogram");
    pub const SUMMARY: F = F("summary", "summary");
    pub const DATA_POINTS: F = F("dataPoints", "data_points");
    pub const AGGREGATION_TEMPORALITY: F = F("aggregationTemporality", "aggregation_temporality");
    pub const IS_MONOTONIC: F = F("isMonotonic", "is_monotonic");
    pub const EXEMPLARS: F = F("exemplars", "exemplars");
    pub const AS_DOUBLE: F = F("asDouble", "as_double");
    pub const AS_INT: F = F("asInt", "as_int");
    pub const COUNT: F = F("count", "count");
    pub const BUCKET_COUNTS: F = F("bucketCounts", "bucket_counts");
    pub const EXPLICIT_BOUNDS: F = F("explicitBounds", "explicit_bounds");
    pub const MIN: F = F("min", "min");
    pub const MAX: F = F("max", "max");
    pub const SCALE: F = F("scale", "scale");
    pub const ZERO_COUNT: F = F("zeroCount", "zero_count");
    pub const POSITIVE: F = F("positive", "positive");
    pub const NEGATIVE: F = F("negative", "negative");
    pub const OFFSET: F = F("offset", "offset");
    pub const ZERO_THRESHOLD: F = F("zeroThreshold", "zero_threshold");
    pub const QUANTILE_VALUES: F = F("quantileValues", "quantile_values");
    pub const QUANTILE: F = F("quantile", "quantile");
    pub const FILTERED_ATTRIBUTES: F = F("filteredAttributes", "filtered_attributes");
    pub const SEVERITY_NUMBER: F = F("severityNumber", "severity_number");
    pub const SEVERITY_TEXT: F = F("severityText", "severity_text");
    pub const BODY: F = F("body", "body");
    pub const EVENT_NAME: F = F("eventName", "event_name");
}

// ---------------------------------------------------------------------------------------------
// Decoding machinery. The error path is collected innermost-first while the error bubbles up,
// so the happy path never formats a path.

type Obj<'a> = ObjectAsVec<'a>;
pub(super) type R<T> = Result<T, DErr>;

enum Seg {
    Key(&'static str),
    Index(usize),
}

pub(super) struct DErr {
    path: Vec<Seg>,
    message: String,
}

impl DErr {
    fn msg(message: impl Into<String>) -> DErr {
        DErr {
            path: Vec::new(),
            message: message.into(),
        }
    }

    fn expected(what: &str, got: &J) -> DErr {
        let got = match got {
            J::Null => "null",
            J::Bool(_) => "a boolean",
            J::Number(_) => "a number",
            J::Str(_) => "a string",
            J::Array(_) => "an array",
            J::Object(_) => "an object",
        };
        DErr::msg(format!("expected {what}, got {got}"))
    }

    fn at(mut self, seg: Seg) -> DErr {
        self.path.push(seg);
        self
    }

    fn into_json_error(self) -> JsonError {
        let mut path = String::new();
        for seg in self.path.iter().rev() {
            match seg {
                Seg::Key(key) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Seg::Index(i) => {
                    path.push('[');
                    path.push_str(&i.to_string());
                    path.push(']');
                }
            }
        }
        if path.is_empty() {
            path.push('$');
        }
        JsonError::Invalid {
            path,
            message: self.message,
        }
    }
}

pub(super) fn decode_with<T>(body: &[u8], f: impl FnOnce(&Obj) -> R<T>) -> Result<T, JsonError> {
    // serde_json's recursion limit (128) stays on, so nesting depth is bounded before we walk.
    let v: J = serde_json::from_slice(body).map_err(|e| JsonError::Syntax(e.to_string()))?;
    obj(&v).and_then(f).map_err(DErr::into_json_error)
}

/// Quotes input text for an error message without echoing megabytes of it.
fn snippet(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}...", &s[..i]),
        None => format!("{s:?}"),
    }
}

/// The value of `key`; of the last member named so when there are several, as with serde_json.
fn member<'o, 'a>(o: &'o Obj<'a>, key: &str) -> Option<&'o J<'a>> {
    o.as_vec().iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// Looks a field up by its camelCase name, then its snake_case name; `null` counts as absent.
fn get<'o, 'a>(o: &'o Obj<'a>, f: F) -> Option<&'o J<'a>> {
    match member(o, f.0) {
        Some(J::Null) | None => match member(o, f.1) {
            Some(J::Null) | None => None,
            v => v,
        },
        v => v,
    }
}

pub(super) fn field<'a, T>(o: &'a Obj, f: F, conv: impl FnOnce(&'a J) -> R<T>) -> R<Option<T>> {
    match get(o, f) {
        None => Ok(None),
        Some(v) => conv(v).map(Some).map_err(|e| e.at(Seg::Key(f.0))),
    }
}

pub(super) fn field_or_default<'a, T: Default>(o: &'a Obj, f: F, conv: impl FnOnce(&'a J) -> R<T>) -> R<T> {
    Ok(field(o, f, conv)?.unwrap_or_default())
}

pub(super) fn list<'a, T>(o: &'a Obj, f: F, conv: impl FnMut(&'a J) -> R<T>) -> R<Vec<T>> {
    field_or_default(o, f, |v| array(v, conv))
}

fn array<'a, T>(v: &'a J, mut conv: impl FnMut(&'a J) -> R<T>) -> R<Vec<T>> {
    let items = v.as_array().ok_or_else(|| DErr::expected("an array", v))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| conv(item).map_err(|e| e.at(Seg::Index(i))))
        .collect()
}

/// Keeps the single member of a oneof, refusing a second one.
pub(super) fn one_of<T>(slot: &mut Option<(&'static str, T)>, f: F, value: Option<T>) -> R<()> {
    if let Some(value) = value {
        if let Some((prev, _)) = slot {
            return Err(DErr::msg(format!("both {prev} and {} are set, expected only one", f.0)));
        }
        *slot = Some((f.0, value));
    }
    Ok(())
}

pub(super) fn obj<'v, 'a>(v: &'v J<'a>) -> R<&'v Obj<'a>> {
    v.as_object().ok_or_else(|| DErr::expected("an object", v))
}

pub(super) fn string(v: &J) -> R<String> {
    v.as_str().map(str::to_owned).ok_or_else(|| DErr::expected("a string", v))
}

pub(super) fn boolean(v: &J) -> R<bool> {
    v.as_bool().ok_or_else(|| DErr::expected("a boolean", v))
}

/// Largest magnitude an integral double may have before we refuse it outright (2^64).
const INT_LIMIT: f64 = 18_446_744_073_709_551_616.0;

fn integral_f64(f: f64) -> Option<i128> {
    // The cast is exact: f is integral and well inside i128.
    (f.is_finite() && f.fract() == 0.0 && f.abs() <= INT_LIMIT).then_some(f as i128)
}

/// Any protobuf integer type: an integral JSON number or a string holding one (proto3 JSON).
fn integer<T: TryFrom<i128>>(v: &J, type_name: &str) -> R<T> {
    let wide = match v {
        J::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| n.as_f64().and_then(integral_f64))
            .ok_or_else(|| DErr::msg(format!("expected an integer, got {n}")))?,
        J::Str(s) => s
            .parse::<i128>()
            .ok()
            .or_else(|| s.parse::<f64>().ok().and_then(integral_f64))
            .ok_or_else(|| DErr::msg(format!("expected an integer, got {}", snippet(s))))?,
        other => return Err(DErr::expected("an integer (number or string)", other)),
    };
    T::try_from(wide).map_err(|_| DErr::msg(format!("{wide} is out of range for {type_name}")))
}

pub(super) fn uint64(v: &J) -> R<u64> {
    integer(v, "uint64")
}

pub(super) fn int64(v: &J) -> R<i64> {
    integer(v, "int64")
}

pub(super) fn uint32(v: &J) -> R<u32> {
    integer(v, "uint32")
}

pub(super) fn int32(v: &J) -> R<i32> {
    integer(v, "int32")
}

/// A double: a JSON number, the strings "NaN"/"Infinity"/"-Infinity", or a numeric string.
pub(super) fn double(v: &J) -> R<f64> {
    match v {
        J::Number(n) => n.as_f64().ok_or_else(|| DErr::msg(format!("expected a double, got {n}"))),
        J::Str(s) => match s.as_ref() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            // Rust also parses "inf"/"nan" and overflows to infinity: only the above count.
            _ => s
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| DErr::msg(format!("expected a double, got {}", snippet(s)))),
        },
        other => Err(DErr::expected("a double (number or string)", other)),
    }
}

/// An enum: its number or its proto name (`SPAN_KIND_SERVER`); unknown numbers are kept.
pub(super) fn enumeration(v: &J, what: &str, by_name: fn(&str) -> Option<i32>) -> R<i32> {
    match v {
        J::Str(s) => by_name(s)
            .or_else(|| s.parse::<i32>().ok())
            .ok_or_else(|| DErr::msg(format!("unknown {what} {}", snippet(s)))),
        J::Number(_) => int32(v),
        other => Err(DErr::expected("an enum name or number", other)),
    }
}

/// OTLP/JSON ids are hex (not base64 as plain proto3 JSON would have it); "" means no id.
fn hex_id(v: &J, bytes: usize, what: &str) -> R<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| DErr::expected("a hex string", v))?;
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let chars = s.chars().count();
    if chars != bytes * 2 {
        return Err(DErr::msg(format!(
            "expected {} hex characters for a {what}, got {chars}",
            bytes * 2
        )));
    }
    hex::decode(s).map_err(|_| DErr::msg(format!("invalid hex in {what}: {}", snippet(s))))
}

pub(super) fn trace_id(v: &J) -> R<Vec<u8>> {
    hex_id(v, 16, "trace id")
}

pub(super) fn span_id(v: &J) -> R<Vec<u8>> {
    hex_id(v, 8, "span id")
}

const B64_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const B64_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64 bytes, padded or not; the URL-safe alphabet is accepted too, as proto3 JSON parsers do.
fn b64_bytes(v: &J) -> R<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| DErr::expected("a base64 string", v))?;
    B64_STD
        .decode(s)
        .or_else(|_| B64_URL.decode(s))
        .map_err(|e| DErr::msg(format!("invalid base64: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Decoders, one per message.

pub(super) fn dec_any_value(v: &J) -> R<AnyValue> {
    use any_value::Value as V;
    let o = obj(v)?;
    let mut slot = None;
    one_of(
        &mut slot,
        k::STRING_VALUE,
        field(o, k::STRING_VALUE, |v| string(v).map(V::StringValue))?,
    )?;
    one_of(&mut slot, k::BOOL_VALUE, field(o, k::BOOL_VALUE, |v| boolean(v).map(V::BoolValue))?)?;
    one_of(&mut slot, k::INT_VALUE, field(o, k::INT_VALUE, |v| int64(v).map(V::IntValue))?)?;
    one_of(
        &mut slot,
        k::DOUBLE_VALUE,
        field(o, k::DOUBLE_VALUE, |v| double(v).map(V::DoubleValue))?,
    )?;
    one_of(
        &mut slot,
        k::ARRAY_VALUE,
        field(o, k::ARRAY_VALUE, |v| dec_array_value(v).map(V::ArrayValue))?,
    )?;
    one_of(
        &mut slot,
        k::KVLIST_VALUE,
        field(o, k::KVLIST_VALUE, |v| dec_kvlist(v).map(V::KvlistValue))?,
    )?;
    one_of(
        &mut slot,
        k::BYTES_VALUE,
        field(o, k::BYTES_VALUE, |v| b64_bytes(v).map(V::BytesValue))?,
    )?;
    one_of(
        &mut slot,
        k::STRING_VALUE_STRINDEX,
        field(o, k::STRING_VALUE_STRINDEX, |v| int32(v).map(V::StringValueStrindex))?,
    )?;
    Ok(AnyValue {
        value: slot.map(|(_, v)| v),
    })
}

fn dec_array_value(v: &J) -> R<ArrayValue> {
    let o = obj(v)?;
    Ok(ArrayValue {
        values: list(o, k::VALUES, dec_any_value)?,
    })
}

fn dec_kvlist(v: &J) -> R<KeyValueList> {
    let o = obj(v)?;
    Ok(KeyValueList {
        values: list(o, k::VALUES, dec_key_value)?,
    })
}

fn dec_key_value(v: &J) -> R<KeyValue> {
    let o = obj(v)?;
    Ok(KeyValue {
        key: field_or_default(o, k::KEY, string)?,
        value: field(o, k::VALUE, dec_any_value)?,
        key_strindex: field_or_default(o, k::KEY_STRINDEX, int32)?,
    })
}

pub(super) fn attributes(o: &Obj, f: F) -> R<Vec<KeyValue>> {
    list(o, f, dec_key_value)
}

pub(super) fn dec_resource(v: &J) -> R<Resource> {
    let o = obj(v)?;
    Ok(Resource {
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
        entity_refs: list(o, k::ENTITY_REFS, dec_entity_ref)?,
    })
}

fn dec_entity_ref(v: &J) -> R<EntityRef> {
    let o = obj(v)?;
    Ok(EntityRef {
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
        r#type: field_or_default(o, k::TYPE, string)?,
        id_keys: list(o, k::ID_KEYS, string)?,
        description_keys: list(o, k::DESCRIPTION_KEYS, string)?,
    })
}

pub(super) fn dec_scope(v: &J) -> R<InstrumentationScope> {
    let o = obj(v)?;
    Ok(InstrumentationScope {
        name: field_or_default(o, k::NAME, string)?,
        version: field_or_default(o, k::VERSION, string)?,
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Encoding: proto3 JSON style, default values omitted, 64-bit integers as strings.

pub(super) fn put(m: &mut Map<String, Value>, f: F, v: Value) {
    m.insert(f.0.to_owned(), v);
}

pub(super) fn put_str(m: &mut Map<String, Value>, f: F, s: &str) {
    if !s.is_empty() {
        put(m, f, Value::String(s.to_owned()));
    }
}

pub(super) fn put_u64(m: &mut Map<String, Value>, f: F, v: u64) {
    if v != 0 {
        put(m, f, Value::String(v.to_string()));
    }
}

pub(super) fn put_u32(m: &mut Map<String, Value>, f: F, v: u32) {
    if v != 0 {
        put(m, f, Value::from(v));
    }
}

pub(super) fn put_i32(m: &mut Map<String, Value>, f: F, v: i32) {
    if v != 0 {
        put(m, f, Value::from(v));
    }
}

pub(super) fn put_f64(m: &mut Map<String, Value>, f: F, v: f64) {
    // Bit test rather than `!= 0.0`, so -0.0 survives like it does in protojson.
    if v.to_bits() != 0 {
        put(m, f, f64_json(v));
    }
}

pub(super) fn put_opt_f64(m: &mut Map<String, Value>, f: F, v: Option<f64>) {
    if let Some(v) = v {
        put(m, f, f64_json(v));
    }
}

pub(super) fn put_hex(m: &mut Map<String, Value>, f: F, id: &[u8]) {
    if !id.is_empty() {
        put(m, f, Value::String(hex::encode(id)));
    }
}

pub(super) fn put_list<T>(m: &mut Map<String, Value>, f: F, items: &[T], enc: impl Fn(&T) -> Value) {
    if !items.is_empty() {
        put(m, f, enc_list(items, enc));
    }
}

pub(super) fn enc_list<T>(items: &[T], enc: impl Fn(&T) -> Value) -> Value {
    Value::Array(items.iter().map(enc).collect())
}

pub(super) fn f64_json(v: f64) -> Value {
    if v.is_nan() {
        Value::String("NaN".to_owned())
    } else if v == f64::INFINITY {
        Value::String("Infinity".to_owned())
    } else if v == f64::NEG_INFINITY {
        Value::String("-Infinity".to_owned())
    } else {
        // Only non-finite values make from_f64 fail, and those are handled above.
        Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

pub(super) fn u64_string(v: &u64) -> Value {
    Value::String(v.to_string())
}

pub(super) fn enc_any_value(v: &AnyValue) -> Value {
    use any_value::Value as V;
    let mut m = Map::new();
    // A oneof member is always written, even when it holds its type's default.
    match &v.value {
        None => {}
        Some(V::StringValue(s)) => put(&mut m, k::STRING_VALUE, Value::String(s.clone())),
        Some(V::BoolValue(b)) => put(&mut m, k::BOOL_VALUE, Value::Bool(*b)),
        Some(V::IntValue(i)) => put(&mut m, k::INT_VALUE, Value::String(i.to_string())),
        Some(V::DoubleValue(d)) => put(&mut m, k::DOUBLE_VALUE, f64_json(*d)),
        Some(V::ArrayValue(a)) => {
            let mut inner = Map::new();
            put_list(&mut inner, k::VALUES, &a.values, enc_any_value);
            put(&mut m, k::ARRAY_VALUE, Value::Object(inner));
        }
        Some(V::KvlistValue(kv)) => {
            let mut inner = Map::new();
            put_list(&mut inner, k::VALUES, &kv.values, enc_key_value);
            put(&mut m, k::KVLIST_VALUE, Value::Object(inner));
        }
        Some(V::BytesValue(b)) => put(&mut m, k::BYTES_VALUE, Value::String(STANDARD.encode(b))),
        Some(V::StringValueStrindex(i)) => put(&mut m, k::STRING_VALUE_STRINDEX, Value::from(*i)),
    }
    Value::Object(m)
}

pub(super) fn enc_key_value(kv: &KeyValue) -> Value {
    let mut m = Map::new();
    // The key is written even when empty: readers expect every attribute to have one.
    put(&mut m, k::KEY, Value::String(kv.key.clone()));
    if let Some(v) = &kv.value {
        put(&mut m, k::VALUE, enc_any_value(v));
    }
    put_i32(&mut m, k::KEY_STRINDEX, kv.key_strindex);
    Value::Object(m)
}

pub(super) fn enc_resource(r: &Resource) -> Value {
    let mut m = Map::new();
    put_list(&mut m, k::ATTRIBUTES, &r.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, r.dropped_attributes_count);
    put_list(&mut m, k::ENTITY_REFS, &r.entity_refs, enc_entity_ref);
    Value::Object(m)
}

fn enc_entity_ref(e: &EntityRef) -> Value {
    let strings = |s: &String| Value::String(s.clone());
    let mut m = Map::new();
    put_str(&mut m, k::SCHEMA_URL, &e.schema_url);
    put_str(&mut m, k::TYPE, &e.r#type);
    put_list(&mut m, k::ID_KEYS, &e.id_keys, strings);
    put_list(&mut m, k::DESCRIPTION_KEYS, &e.description_keys, strings);
    Value::Object(m)
}

pub(super) fn enc_scope(s: &InstrumentationScope) -> Value {
    let mut m = Map::new();
    put_str(&mut m, k::NAME, &s.name);
    put_str(&mut m, k::VERSION, &s.version);
    put_list(&mut m, k::ATTRIBUTES, &s.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, s.dropped_attributes_count);
    Value::Object(m)
}
