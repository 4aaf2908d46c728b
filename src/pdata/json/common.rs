//! What every OTLP/JSON signal shares: the field-name table, and AnyValue, attributes, resource and
//! scope in both directions.

use super::decode::{Base64, Bool, Double, Int32, Int64, List, Msg, Str, Uint32};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------------------------
// Field names: (lowerCamelCase JSON name, snake_case proto name). The first is what we emit.

#[derive(Clone, Copy)]
pub(super) struct F(pub(super) &'static str, pub(super) &'static str);

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
// Decoders of the messages every signal shares (see `decode` for the machinery).

/// A message's attributes: a list of key-value pairs.
pub(super) type Attributes = List<Msg<KeyValue>>;

message!(AnyValue {
    #[one_of] STRING_VALUE => |m, v| v.put_variant::<Str, _>(&mut m.value, any_value::Value::StringValue),
    #[one_of] BOOL_VALUE => |m, v| v.put_variant::<Bool, _>(&mut m.value, any_value::Value::BoolValue),
    #[one_of] INT_VALUE => |m, v| v.put_variant::<Int64, _>(&mut m.value, any_value::Value::IntValue),
    #[one_of] DOUBLE_VALUE => |m, v| v.put_variant::<Double, _>(&mut m.value, any_value::Value::DoubleValue),
    #[one_of] ARRAY_VALUE => |m, v| v.put_variant::<Msg<ArrayValue>, _>(&mut m.value, any_value::Value::ArrayValue),
    #[one_of] KVLIST_VALUE => |m, v| v.put_variant::<Msg<KeyValueList>, _>(&mut m.value, any_value::Value::KvlistValue),
    #[one_of] BYTES_VALUE => |m, v| v.put_variant::<Base64, _>(&mut m.value, any_value::Value::BytesValue),
    #[one_of] STRING_VALUE_STRINDEX => |m, v| v.put_variant::<Int32, _>(&mut m.value, any_value::Value::StringValueStrindex),
});

message!(ArrayValue {
    VALUES => |m, v| v.put::<List<Msg<AnyValue>>>(&mut m.values),
});

message!(KeyValueList {
    VALUES => |m, v| v.put::<Attributes>(&mut m.values),
});

message!(KeyValue {
    KEY => |m, v| v.put::<Str>(&mut m.key),
    VALUE => |m, v| v.put_some::<Msg<AnyValue>>(&mut m.value),
    KEY_STRINDEX => |m, v| v.put::<Int32>(&mut m.key_strindex),
});

message!(Resource {
    ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.attributes),
    DROPPED_ATTRIBUTES_COUNT => |m, v| v.put::<Uint32>(&mut m.dropped_attributes_count),
    ENTITY_REFS => |m, v| v.put::<List<Msg<EntityRef>>>(&mut m.entity_refs),
});

message!(EntityRef {
    SCHEMA_URL => |m, v| v.put::<Str>(&mut m.schema_url),
    TYPE => |m, v| v.put::<Str>(&mut m.r#type),
    ID_KEYS => |m, v| v.put::<List<Str>>(&mut m.id_keys),
    DESCRIPTION_KEYS => |m, v| v.put::<List<Str>>(&mut m.description_keys),
});

message!(InstrumentationScope {
    NAME => |m, v| v.put::<Str>(&mut m.name),
    VERSION => |m, v| v.put::<Str>(&mut m.version),
    ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.attributes),
    DROPPED_ATTRIBUTES_COUNT => |m, v| v.put::<Uint32>(&mut m.dropped_attributes_count),
});

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
