//! OTLP/JSON encoding and decoding (traces, metrics, logs), plus plain JSON for attribute values.
//!
//! Decoding walks a `serde_json::Value` by hand (opentelemetry-proto's serde feature is off): it
//! accepts lowerCamelCase and snake_case keys, integers as strings or numbers, enums as numbers or
//! names, and reports errors with a JSON path. Encoding follows the Collector file exporter format.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point, summary_data_point, AggregationTemporality, Exemplar,
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Number, Value};

/// Why an OTLP/JSON body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// body is not JSON at all (syntax error, too deep, invalid UTF-8)
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// JSON is fine but a field is wrong;
    /// path like `resourceSpans[0].scopeSpans[1].spans[3].traceId`
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub fn decode_traces(body: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    decode_with(body, |o| {
        Ok(ExportTraceServiceRequest {
            resource_spans: list(o, k::RESOURCE_SPANS, dec_resource_spans)?,
        })
    })
}

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
pub fn decode_metrics(body: &[u8]) -> Result<ExportMetricsServiceRequest, JsonError> {
    decode_with(body, |o| {
        Ok(ExportMetricsServiceRequest {
            resource_metrics: list(o, k::RESOURCE_METRICS, dec_resource_metrics)?,
        })
    })
}

/// Decodes an OTLP/JSON `ExportLogsServiceRequest`.
pub fn decode_logs(body: &[u8]) -> Result<ExportLogsServiceRequest, JsonError> {
    decode_with(body, |o| {
        Ok(ExportLogsServiceRequest {
            resource_logs: list(o, k::RESOURCE_LOGS, dec_resource_logs)?,
        })
    })
}

/// Encodes traces as OTLP/JSON (Collector file exporter format).
pub fn encode_traces(req: &ExportTraceServiceRequest) -> Value {
    let mut m = Map::new();
    put(&mut m, k::RESOURCE_SPANS, enc_list(&req.resource_spans, enc_resource_spans));
    Value::Object(m)
}

/// Encodes metrics as OTLP/JSON (Collector file exporter format).
pub fn encode_metrics(req: &ExportMetricsServiceRequest) -> Value {
    let mut m = Map::new();
    put(&mut m, k::RESOURCE_METRICS, enc_list(&req.resource_metrics, enc_resource_metrics));
    Value::Object(m)
}

/// Encodes logs as OTLP/JSON (Collector file exporter format).
pub fn encode_logs(req: &ExportLogsServiceRequest) -> Value {
    let mut m = Map::new();
    put(&mut m, k::RESOURCE_LOGS, enc_list(&req.resource_logs, enc_resource_logs));
    Value::Object(m)
}

/// Plain typed JSON for the query API (NOT OTLP/JSON): string->string, bool->bool, int->number,
/// double->number (NaN/Infinity -> the strings "NaN","Infinity","-Infinity"), array->array,
/// kvlist->object, bytes->base64 string, empty->null.
pub fn any_value_to_plain(v: &AnyValue) -> Value {
    use any_value::Value as V;
    match &v.value {
        None => Value::Null,
        Some(V::StringValue(s)) => Value::String(s.clone()),
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::IntValue(i)) => Value::from(*i),
        Some(V::DoubleValue(d)) => f64_json(*d),
        Some(V::ArrayValue(a)) => Value::Array(a.values.iter().map(any_value_to_plain).collect()),
        Some(V::KvlistValue(kv)) => Value::Object(attributes_to_plain(&kv.values)),
        Some(V::BytesValue(b)) => Value::String(STANDARD.encode(b)),
        // Profiles-only string table index: no table here, so the index itself.
        Some(V::StringValueStrindex(i)) => Value::from(*i),
    }
}

/// Attributes as a plain JSON object (see [`any_value_to_plain`]); a repeated key keeps the last.
pub fn attributes_to_plain(kvs: &[KeyValue]) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| {
            let v = kv.value.as_ref().map_or(Value::Null, any_value_to_plain);
            (kv.key.clone(), v)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Field names: (lowerCamelCase JSON name, snake_case proto name). The first is what we emit.

#[derive(Clone, Copy)]
struct F(&'static str, &'static str);

mod k {
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

type Obj = Map<String, Value>;
type R<T> = Result<T, DErr>;

enum Seg {
    Key(&'static str),
    Index(usize),
}

struct DErr {
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

    fn expected(what: &str, got: &Value) -> DErr {
        let got = match got {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
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

fn decode_with<T>(body: &[u8], f: impl FnOnce(&Obj) -> R<T>) -> Result<T, JsonError> {
    // serde_json's recursion limit (128) stays on, so nesting depth is bounded before we walk.
    let v: Value = serde_json::from_slice(body).map_err(|e| JsonError::Syntax(e.to_string()))?;
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

/// Looks a field up by its camelCase name, then its snake_case name; `null` counts as absent.
fn get(o: &Obj, f: F) -> Option<&Value> {
    match o.get(f.0) {
        Some(Value::Null) | None => match o.get(f.1) {
            Some(Value::Null) | None => None,
            v => v,
        },
        v => v,
    }
}

fn field<'a, T>(o: &'a Obj, f: F, conv: impl FnOnce(&'a Value) -> R<T>) -> R<Option<T>> {
    match get(o, f) {
        None => Ok(None),
        Some(v) => conv(v).map(Some).map_err(|e| e.at(Seg::Key(f.0))),
    }
}

fn field_or_default<'a, T: Default>(o: &'a Obj, f: F, conv: impl FnOnce(&'a Value) -> R<T>) -> R<T> {
    Ok(field(o, f, conv)?.unwrap_or_default())
}

fn list<'a, T>(o: &'a Obj, f: F, conv: impl FnMut(&'a Value) -> R<T>) -> R<Vec<T>> {
    field_or_default(o, f, |v| array(v, conv))
}

fn array<'a, T>(v: &'a Value, mut conv: impl FnMut(&'a Value) -> R<T>) -> R<Vec<T>> {
    let items = v.as_array().ok_or_else(|| DErr::expected("an array", v))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| conv(item).map_err(|e| e.at(Seg::Index(i))))
        .collect()
}

/// Keeps the single member of a oneof, refusing a second one.
fn one_of<T>(slot: &mut Option<(&'static str, T)>, f: F, value: Option<T>) -> R<()> {
    if let Some(value) = value {
        if let Some((prev, _)) = slot {
            return Err(DErr::msg(format!("both {prev} and {} are set, expected only one", f.0)));
        }
        *slot = Some((f.0, value));
    }
    Ok(())
}

fn obj(v: &Value) -> R<&Obj> {
    v.as_object().ok_or_else(|| DErr::expected("an object", v))
}

fn string(v: &Value) -> R<String> {
    v.as_str().map(str::to_owned).ok_or_else(|| DErr::expected("a string", v))
}

fn boolean(v: &Value) -> R<bool> {
    v.as_bool().ok_or_else(|| DErr::expected("a boolean", v))
}

/// Largest magnitude an integral double may have before we refuse it outright (2^64).
const INT_LIMIT: f64 = 18_446_744_073_709_551_616.0;

fn integral_f64(f: f64) -> Option<i128> {
    // The cast is exact: f is integral and well inside i128.
    (f.is_finite() && f.fract() == 0.0 && f.abs() <= INT_LIMIT).then_some(f as i128)
}

/// Any protobuf integer type: an integral JSON number or a string holding one (proto3 JSON).
fn integer<T: TryFrom<i128>>(v: &Value, type_name: &str) -> R<T> {
    let wide = match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| n.as_f64().and_then(integral_f64))
            .ok_or_else(|| DErr::msg(format!("expected an integer, got {n}")))?,
        Value::String(s) => s
            .parse::<i128>()
            .ok()
            .or_else(|| s.parse::<f64>().ok().and_then(integral_f64))
            .ok_or_else(|| DErr::msg(format!("expected an integer, got {}", snippet(s))))?,
        other => return Err(DErr::expected("an integer (number or string)", other)),
    };
    T::try_from(wide).map_err(|_| DErr::msg(format!("{wide} is out of range for {type_name}")))
}

fn uint64(v: &Value) -> R<u64> {
    integer(v, "uint64")
}

fn int64(v: &Value) -> R<i64> {
    integer(v, "int64")
}

fn uint32(v: &Value) -> R<u32> {
    integer(v, "uint32")
}

fn int32(v: &Value) -> R<i32> {
    integer(v, "int32")
}

/// A double: a JSON number, the strings "NaN"/"Infinity"/"-Infinity", or a numeric string.
fn double(v: &Value) -> R<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| DErr::msg(format!("expected a double, got {n}"))),
        Value::String(s) => match s.as_str() {
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
fn enumeration(v: &Value, what: &str, by_name: fn(&str) -> Option<i32>) -> R<i32> {
    match v {
        Value::String(s) => by_name(s)
            .or_else(|| s.parse::<i32>().ok())
            .ok_or_else(|| DErr::msg(format!("unknown {what} {}", snippet(s)))),
        Value::Number(_) => int32(v),
        other => Err(DErr::expected("an enum name or number", other)),
    }
}

fn span_kind(v: &Value) -> R<i32> {
    enumeration(v, "span kind", |s| span::SpanKind::from_str_name(s).map(|e| e as i32))
}

fn status_code(v: &Value) -> R<i32> {
    enumeration(v, "status code", |s| status::StatusCode::from_str_name(s).map(|e| e as i32))
}

fn severity_number(v: &Value) -> R<i32> {
    enumeration(v, "severity number", |s| SeverityNumber::from_str_name(s).map(|e| e as i32))
}

fn temporality(v: &Value) -> R<i32> {
    enumeration(v, "aggregation temporality", |s| {
        AggregationTemporality::from_str_name(s).map(|e| e as i32)
    })
}

/// OTLP/JSON ids are hex (not base64 as plain proto3 JSON would have it); "" means no id.
fn hex_id(v: &Value, bytes: usize, what: &str) -> R<Vec<u8>> {
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

fn trace_id(v: &Value) -> R<Vec<u8>> {
    hex_id(v, 16, "trace id")
}

fn span_id(v: &Value) -> R<Vec<u8>> {
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
fn b64_bytes(v: &Value) -> R<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| DErr::expected("a base64 string", v))?;
    B64_STD
        .decode(s)
        .or_else(|_| B64_URL.decode(s))
        .map_err(|e| DErr::msg(format!("invalid base64: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Decoders, one per message.

fn dec_any_value(v: &Value) -> R<AnyValue> {
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

fn dec_array_value(v: &Value) -> R<ArrayValue> {
    let o = obj(v)?;
    Ok(ArrayValue {
        values: list(o, k::VALUES, dec_any_value)?,
    })
}

fn dec_kvlist(v: &Value) -> R<KeyValueList> {
    let o = obj(v)?;
    Ok(KeyValueList {
        values: list(o, k::VALUES, dec_key_value)?,
    })
}

fn dec_key_value(v: &Value) -> R<KeyValue> {
    let o = obj(v)?;
    Ok(KeyValue {
        key: field_or_default(o, k::KEY, string)?,
        value: field(o, k::VALUE, dec_any_value)?,
        key_strindex: field_or_default(o, k::KEY_STRINDEX, int32)?,
    })
}

fn attributes(o: &Obj, f: F) -> R<Vec<KeyValue>> {
    list(o, f, dec_key_value)
}

fn dec_resource(v: &Value) -> R<Resource> {
    let o = obj(v)?;
    Ok(Resource {
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
        entity_refs: list(o, k::ENTITY_REFS, dec_entity_ref)?,
    })
}

fn dec_entity_ref(v: &Value) -> R<EntityRef> {
    let o = obj(v)?;
    Ok(EntityRef {
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
        r#type: field_or_default(o, k::TYPE, string)?,
        id_keys: list(o, k::ID_KEYS, string)?,
        description_keys: list(o, k::DESCRIPTION_KEYS, string)?,
    })
}

fn dec_scope(v: &Value) -> R<InstrumentationScope> {
    let o = obj(v)?;
    Ok(InstrumentationScope {
        name: field_or_default(o, k::NAME, string)?,
        version: field_or_default(o, k::VERSION, string)?,
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
    })
}

// Traces.

fn dec_resource_spans(v: &Value) -> R<ResourceSpans> {
    let o = obj(v)?;
    Ok(ResourceSpans {
        resource: field(o, k::RESOURCE, dec_resource)?,
        scope_spans: list(o, k::SCOPE_SPANS, dec_scope_spans)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_scope_spans(v: &Value) -> R<ScopeSpans> {
    let o = obj(v)?;
    Ok(ScopeSpans {
        scope: field(o, k::SCOPE, dec_scope)?,
        spans: list(o, k::SPANS, dec_span)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_span(v: &Value) -> R<Span> {
    let o = obj(v)?;
    Ok(Span {
        trace_id: field_or_default(o, k::TRACE_ID, trace_id)?,
        span_id: field_or_default(o, k::SPAN_ID, span_id)?,
        trace_state: field_or_default(o, k::TRACE_STATE, string)?,
        parent_span_id: field_or_default(o, k::PARENT_SPAN_ID, span_id)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
        name: field_or_default(o, k::NAME, string)?,
        kind: field_or_default(o, k::KIND, span_kind)?,
        start_time_unix_nano: field_or_default(o, k::START_TIME_UNIX_NANO, uint64)?,
        end_time_unix_nano: field_or_default(o, k::END_TIME_UNIX_NANO, uint64)?,
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
        events: list(o, k::EVENTS, dec_event)?,
        dropped_events_count: field_or_default(o, k::DROPPED_EVENTS_COUNT, uint32)?,
        links: list(o, k::LINKS, dec_link)?,
        dropped_links_count: field_or_default(o, k::DROPPED_LINKS_COUNT, uint32)?,
        status: field(o, k::STATUS, dec_status)?,
    })
}

fn dec_event(v: &Value) -> R<span::Event> {
    let o = obj(v)?;
    Ok(span::Event {
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        name: field_or_default(o, k::NAME, string)?,
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
    })
}

fn dec_link(v: &Value) -> R<span::Link> {
    let o = obj(v)?;
    Ok(span::Link {
        trace_id: field_or_default(o, k::TRACE_ID, trace_id)?,
        span_id: field_or_default(o, k::SPAN_ID, span_id)?,
        trace_state: field_or_default(o, k::TRACE_STATE, string)?,
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
    })
}

fn dec_status(v: &Value) -> R<Status> {
    let o = obj(v)?;
    Ok(Status {
        message: field_or_default(o, k::MESSAGE, string)?,
        code: field_or_default(o, k::CODE, status_code)?,
    })
}

// Metrics.

fn dec_resource_metrics(v: &Value) -> R<ResourceMetrics> {
    let o = obj(v)?;
    Ok(ResourceMetrics {
        resource: field(o, k::RESOURCE, dec_resource)?,
        scope_metrics: list(o, k::SCOPE_METRICS, dec_scope_metrics)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_scope_metrics(v: &Value) -> R<ScopeMetrics> {
    let o = obj(v)?;
    Ok(ScopeMetrics {
        scope: field(o, k::SCOPE, dec_scope)?,
        metrics: list(o, k::METRICS, dec_metric)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_metric(v: &Value) -> R<Metric> {
    use metric::Data;
    let o = obj(v)?;
    let mut slot = None;
    one_of(&mut slot, k::GAUGE, field(o, k::GAUGE, |v| dec_gauge(v).map(Data::Gauge))?)?;
    one_of(&mut slot, k::SUM, field(o, k::SUM, |v| dec_sum(v).map(Data::Sum))?)?;
    one_of(
        &mut slot,
        k::HISTOGRAM,
        field(o, k::HISTOGRAM, |v| dec_histogram(v).map(Data::Histogram))?,
    )?;
    one_of(
        &mut slot,
        k::EXPONENTIAL_HISTOGRAM,
        field(o, k::EXPONENTIAL_HISTOGRAM, |v| {
            dec_exp_histogram(v).map(Data::ExponentialHistogram)
        })?,
    )?;
    one_of(&mut slot, k::SUMMARY, field(o, k::SUMMARY, |v| dec_summary(v).map(Data::Summary))?)?;
    Ok(Metric {
        name: field_or_default(o, k::NAME, string)?,
        description: field_or_default(o, k::DESCRIPTION, string)?,
        unit: field_or_default(o, k::UNIT, string)?,
        metadata: attributes(o, k::METADATA)?,
        data: slot.map(|(_, d)| d),
    })
}

fn dec_gauge(v: &Value) -> R<Gauge> {
    let o = obj(v)?;
    Ok(Gauge {
        data_points: list(o, k::DATA_POINTS, dec_number_point)?,
    })
}

fn dec_sum(v: &Value) -> R<Sum> {
    let o = obj(v)?;
    Ok(Sum {
        data_points: list(o, k::DATA_POINTS, dec_number_point)?,
        aggregation_temporality: field_or_default(o, k::AGGREGATION_TEMPORALITY, temporality)?,
        is_monotonic: field_or_default(o, k::IS_MONOTONIC, boolean)?,
    })
}

fn dec_histogram(v: &Value) -> R<Histogram> {
    let o = obj(v)?;
    Ok(Histogram {
        data_points: list(o, k::DATA_POINTS, dec_histogram_point)?,
        aggregation_temporality: field_or_default(o, k::AGGREGATION_TEMPORALITY, temporality)?,
    })
}

fn dec_exp_histogram(v: &Value) -> R<ExponentialHistogram> {
    let o = obj(v)?;
    Ok(ExponentialHistogram {
        data_points: list(o, k::DATA_POINTS, dec_exp_histogram_point)?,
        aggregation_temporality: field_or_default(o, k::AGGREGATION_TEMPORALITY, temporality)?,
    })
}

fn dec_summary(v: &Value) -> R<Summary> {
    let o = obj(v)?;
    Ok(Summary {
        data_points: list(o, k::DATA_POINTS, dec_summary_point)?,
    })
}

fn dec_number_point(v: &Value) -> R<NumberDataPoint> {
    use number_data_point::Value as V;
    let o = obj(v)?;
    let mut slot = None;
    one_of(&mut slot, k::AS_DOUBLE, field(o, k::AS_DOUBLE, |v| double(v).map(V::AsDouble))?)?;
    one_of(&mut slot, k::AS_INT, field(o, k::AS_INT, |v| int64(v).map(V::AsInt))?)?;
    Ok(NumberDataPoint {
        attributes: attributes(o, k::ATTRIBUTES)?,
        start_time_unix_nano: field_or_default(o, k::START_TIME_UNIX_NANO, uint64)?,
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        exemplars: list(o, k::EXEMPLARS, dec_exemplar)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
        value: slot.map(|(_, v)| v),
    })
}

fn dec_histogram_point(v: &Value) -> R<HistogramDataPoint> {
    let o = obj(v)?;
    Ok(HistogramDataPoint {
        attributes: attributes(o, k::ATTRIBUTES)?,
        start_time_unix_nano: field_or_default(o, k::START_TIME_UNIX_NANO, uint64)?,
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        count: field_or_default(o, k::COUNT, uint64)?,
        sum: field(o, k::SUM, double)?,
        bucket_counts: list(o, k::BUCKET_COUNTS, uint64)?,
        explicit_bounds: list(o, k::EXPLICIT_BOUNDS, double)?,
        exemplars: list(o, k::EXEMPLARS, dec_exemplar)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
        min: field(o, k::MIN, double)?,
        max: field(o, k::MAX, double)?,
    })
}

fn dec_exp_histogram_point(v: &Value) -> R<ExponentialHistogramDataPoint> {
    let o = obj(v)?;
    Ok(ExponentialHistogramDataPoint {
        attributes: attributes(o, k::ATTRIBUTES)?,
        start_time_unix_nano: field_or_default(o, k::START_TIME_UNIX_NANO, uint64)?,
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        count: field_or_default(o, k::COUNT, uint64)?,
        sum: field(o, k::SUM, double)?,
        scale: field_or_default(o, k::SCALE, int32)?,
        zero_count: field_or_default(o, k::ZERO_COUNT, uint64)?,
        positive: field(o, k::POSITIVE, dec_buckets)?,
        negative: field(o, k::NEGATIVE, dec_buckets)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
        exemplars: list(o, k::EXEMPLARS, dec_exemplar)?,
        min: field(o, k::MIN, double)?,
        max: field(o, k::MAX, double)?,
        zero_threshold: field_or_default(o, k::ZERO_THRESHOLD, double)?,
    })
}

fn dec_buckets(v: &Value) -> R<exponential_histogram_data_point::Buckets> {
    let o = obj(v)?;
    Ok(exponential_histogram_data_point::Buckets {
        offset: field_or_default(o, k::OFFSET, int32)?,
        bucket_counts: list(o, k::BUCKET_COUNTS, uint64)?,
    })
}

fn dec_summary_point(v: &Value) -> R<SummaryDataPoint> {
    let o = obj(v)?;
    Ok(SummaryDataPoint {
        attributes: attributes(o, k::ATTRIBUTES)?,
        start_time_unix_nano: field_or_default(o, k::START_TIME_UNIX_NANO, uint64)?,
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        count: field_or_default(o, k::COUNT, uint64)?,
        sum: field_or_default(o, k::SUM, double)?,
        quantile_values: list(o, k::QUANTILE_VALUES, dec_quantile)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
    })
}

fn dec_quantile(v: &Value) -> R<summary_data_point::ValueAtQuantile> {
    let o = obj(v)?;
    Ok(summary_data_point::ValueAtQuantile {
        quantile: field_or_default(o, k::QUANTILE, double)?,
        value: field_or_default(o, k::VALUE, double)?,
    })
}

fn dec_exemplar(v: &Value) -> R<Exemplar> {
    use exemplar::Value as V;
    let o = obj(v)?;
    let mut slot = None;
    one_of(&mut slot, k::AS_DOUBLE, field(o, k::AS_DOUBLE, |v| double(v).map(V::AsDouble))?)?;
    one_of(&mut slot, k::AS_INT, field(o, k::AS_INT, |v| int64(v).map(V::AsInt))?)?;
    Ok(Exemplar {
        filtered_attributes: attributes(o, k::FILTERED_ATTRIBUTES)?,
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        span_id: field_or_default(o, k::SPAN_ID, span_id)?,
        trace_id: field_or_default(o, k::TRACE_ID, trace_id)?,
        value: slot.map(|(_, v)| v),
    })
}

// Logs.

fn dec_resource_logs(v: &Value) -> R<ResourceLogs> {
    let o = obj(v)?;
    Ok(ResourceLogs {
        resource: field(o, k::RESOURCE, dec_resource)?,
        scope_logs: list(o, k::SCOPE_LOGS, dec_scope_logs)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_scope_logs(v: &Value) -> R<ScopeLogs> {
    let o = obj(v)?;
    Ok(ScopeLogs {
        scope: field(o, k::SCOPE, dec_scope)?,
        log_records: list(o, k::LOG_RECORDS, dec_log_record)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_log_record(v: &Value) -> R<LogRecord> {
    let o = obj(v)?;
    Ok(LogRecord {
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        observed_time_unix_nano: field_or_default(o, k::OBSERVED_TIME_UNIX_NANO, uint64)?,
        severity_number: field_or_default(o, k::SEVERITY_NUMBER, severity_number)?,
        severity_text: field_or_default(o, k::SEVERITY_TEXT, string)?,
        body: field(o, k::BODY, dec_any_value)?,
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
        trace_id: field_or_default(o, k::TRACE_ID, trace_id)?,
        span_id: field_or_default(o, k::SPAN_ID, span_id)?,
        event_name: field_or_default(o, k::EVENT_NAME, string)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Encoding: proto3 JSON style, default values omitted, 64-bit integers as strings.

fn put(m: &mut Map<String, Value>, f: F, v: Value) {
    m.insert(f.0.to_owned(), v);
}

fn put_str(m: &mut Map<String, Value>, f: F, s: &str) {
    if !s.is_empty() {
        put(m, f, Value::String(s.to_owned()));
    }
}

fn put_u64(m: &mut Map<String, Value>, f: F, v: u64) {
    if v != 0 {
        put(m, f, Value::String(v.to_string()));
    }
}

fn put_u32(m: &mut Map<String, Value>, f: F, v: u32) {
    if v != 0 {
        put(m, f, Value::from(v));
    }
}

fn put_i32(m: &mut Map<String, Value>, f: F, v: i32) {
    if v != 0 {
        put(m, f, Value::from(v));
    }
}

fn put_f64(m: &mut Map<String, Value>, f: F, v: f64) {
    // Bit test rather than `!= 0.0`, so -0.0 survives like it does in protojson.
    if v.to_bits() != 0 {
        put(m, f, f64_json(v));
    }
}

fn put_hex(m: &mut Map<String, Value>, f: F, id: &[u8]) {
    if !id.is_empty() {
        put(m, f, Value::String(hex::encode(id)));
    }
}

fn put_list<T>(m: &mut Map<String, Value>, f: F, items: &[T], enc: impl Fn(&T) -> Value) {
    if !items.is_empty() {
        put(m, f, enc_list(items, enc));
    }
}

fn enc_list<T>(items: &[T], enc: impl Fn(&T) -> Value) -> Value {
    Value::Array(items.iter().map(enc).collect())
}

fn f64_json(v: f64) -> Value {
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

fn u64_string(v: &u64) -> Value {
    Value::String(v.to_string())
}

fn enc_any_value(v: &AnyValue) -> Value {
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

fn enc_key_value(kv: &KeyValue) -> Value {
    let mut m = Map::new();
    // The key is written even when empty: readers expect every attribute to have one.
    put(&mut m, k::KEY, Value::String(kv.key.clone()));
    if let Some(v) = &kv.value {
        put(&mut m, k::VALUE, enc_any_value(v));
    }
    put_i32(&mut m, k::KEY_STRINDEX, kv.key_strindex);
    Value::Object(m)
}

fn enc_resource(r: &Resource) -> Value {
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

fn enc_scope(s: &InstrumentationScope) -> Value {
    let mut m = Map::new();
    put_str(&mut m, k::NAME, &s.name);
    put_str(&mut m, k::VERSION, &s.version);
    put_list(&mut m, k::ATTRIBUTES, &s.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, s.dropped_attributes_count);
    Value::Object(m)
}

// Traces.

fn enc_resource_spans(rs: &ResourceSpans) -> Value {
    let mut m = Map::new();
    if let Some(r) = &rs.resource {
        put(&mut m, k::RESOURCE, enc_resource(r));
    }
    put_list(&mut m, k::SCOPE_SPANS, &rs.scope_spans, enc_scope_spans);
    put_str(&mut m, k::SCHEMA_URL, &rs.schema_url);
    Value::Object(m)
}

fn enc_scope_spans(ss: &ScopeSpans) -> Value {
    let mut m = Map::new();
    if let Some(s) = &ss.scope {
        put(&mut m, k::SCOPE, enc_scope(s));
    }
    put_list(&mut m, k::SPANS, &ss.spans, enc_span);
    put_str(&mut m, k::SCHEMA_URL, &ss.schema_url);
    Value::Object(m)
}

fn enc_span(s: &Span) -> Value {
    let mut m = Map::new();
    put_hex(&mut m, k::TRACE_ID, &s.trace_id);
    put_hex(&mut m, k::SPAN_ID, &s.span_id);
    put_str(&mut m, k::TRACE_STATE, &s.trace_state);
    put_hex(&mut m, k::PARENT_SPAN_ID, &s.parent_span_id);
    put_u32(&mut m, k::FLAGS, s.flags);
    // Name and both timestamps are always written, as the Collector does.
    put(&mut m, k::NAME, Value::String(s.name.clone()));
    put_i32(&mut m, k::KIND, s.kind);
    put(&mut m, k::START_TIME_UNIX_NANO, u64_string(&s.start_time_unix_nano));
    put(&mut m, k::END_TIME_UNIX_NANO, u64_string(&s.end_time_unix_nano));
    put_list(&mut m, k::ATTRIBUTES, &s.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, s.dropped_attributes_count);
    put_list(&mut m, k::EVENTS, &s.events, enc_event);
    put_u32(&mut m, k::DROPPED_EVENTS_COUNT, s.dropped_events_count);
    put_list(&mut m, k::LINKS, &s.links, enc_link);
    put_u32(&mut m, k::DROPPED_LINKS_COUNT, s.dropped_links_count);
    if let Some(st) = &s.status {
        let mut sm = Map::new();
        put_str(&mut sm, k::MESSAGE, &st.message);
        put_i32(&mut sm, k::CODE, st.code);
        put(&mut m, k::STATUS, Value::Object(sm));
    }
    Value::Object(m)
}

fn enc_event(e: &span::Event) -> Value {
    let mut m = Map::new();
    put_u64(&mut m, k::TIME_UNIX_NANO, e.time_unix_nano);
    put_str(&mut m, k::NAME, &e.name);
    put_list(&mut m, k::ATTRIBUTES, &e.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, e.dropped_attributes_count);
    Value::Object(m)
}

fn enc_link(l: &span::Link) -> Value {
    let mut m = Map::new();
    put_hex(&mut m, k::TRACE_ID, &l.trace_id);
    put_hex(&mut m, k::SPAN_ID, &l.span_id);
    put_str(&mut m, k::TRACE_STATE, &l.trace_state);
    put_list(&mut m, k::ATTRIBUTES, &l.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, l.dropped_attributes_count);
    put_u32(&mut m, k::FLAGS, l.flags);
    Value::Object(m)
}

// Metrics.

fn enc_resource_metrics(rm: &ResourceMetrics) -> Value {
    let mut m = Map::new();
    if let Some(r) = &rm.resource {
        put(&mut m, k::RESOURCE, enc_resource(r));
    }
    put_list(&mut m, k::SCOPE_METRICS, &rm.scope_metrics, enc_scope_metrics);
    put_str(&mut m, k::SCHEMA_URL, &rm.schema_url);
    Value::Object(m)
}

fn enc_scope_metrics(sm: &ScopeMetrics) -> Value {
    let mut m = Map::new();
    if let Some(s) = &sm.scope {
        put(&mut m, k::SCOPE, enc_scope(s));
    }
    put_list(&mut m, k::METRICS, &sm.metrics, enc_metric);
    put_str(&mut m, k::SCHEMA_URL, &sm.schema_url);
    Value::Object(m)
}

fn enc_metric(mt: &Metric) -> Value {
    use metric::Data;
    let mut m = Map::new();
    put_str(&mut m, k::NAME, &mt.name);
    put_str(&mut m, k::DESCRIPTION, &mt.description);
    put_str(&mut m, k::UNIT, &mt.unit);
    put_list(&mut m, k::METADATA, &mt.metadata, enc_key_value);
    match &mt.data {
        None => {}
        Some(Data::Gauge(g)) => {
            let mut d = Map::new();
            put_list(&mut d, k::DATA_POINTS, &g.data_points, enc_number_point);
            put(&mut m, k::GAUGE, Value::Object(d));
        }
        Some(Data::Sum(s)) => {
            let mut d = Map::new();
            put_list(&mut d, k::DATA_POINTS, &s.data_points, enc_number_point);
            put_i32(&mut d, k::AGGREGATION_TEMPORALITY, s.aggregation_temporality);
            if s.is_monotonic {
                put(&mut d, k::IS_MONOTONIC, Value::Bool(true));
            }
            put(&mut m, k::SUM, Value::Object(d));
        }
        Some(Data::Histogram(h)) => {
            let mut d = Map::new();
            put_list(&mut d, k::DATA_POINTS, &h.data_points, enc_histogram_point);
            put_i32(&mut d, k::AGGREGATION_TEMPORALITY, h.aggregation_temporality);
            put(&mut m, k::HISTOGRAM, Value::Object(d));
        }
        Some(Data::ExponentialHistogram(h)) => {
            let mut d = Map::new();
            put_list(&mut d, k::DATA_POINTS, &h.data_points, enc_exp_histogram_point);
            put_i32(&mut d, k::AGGREGATION_TEMPORALITY, h.aggregation_temporality);
            put(&mut m, k::EXPONENTIAL_HISTOGRAM, Value::Object(d));
        }
        Some(Data::Summary(s)) => {
            let mut d = Map::new();
            put_list(&mut d, k::DATA_POINTS, &s.data_points, enc_summary_point);
            put(&mut m, k::SUMMARY, Value::Object(d));
        }
    }
    Value::Object(m)
}

fn enc_number_point(p: &NumberDataPoint) -> Value {
    use number_data_point::Value as V;
    let mut m = Map::new();
    put_list(&mut m, k::ATTRIBUTES, &p.attributes, enc_key_value);
    put_u64(&mut m, k::START_TIME_UNIX_NANO, p.start_time_unix_nano);
    put_u64(&mut m, k::TIME_UNIX_NANO, p.time_unix_nano);
    match p.value {
        None => {}
        Some(V::AsDouble(d)) => put(&mut m, k::AS_DOUBLE, f64_json(d)),
        Some(V::AsInt(i)) => put(&mut m, k::AS_INT, Value::String(i.to_string())),
    }
    put_list(&mut m, k::EXEMPLARS, &p.exemplars, enc_exemplar);
    put_u32(&mut m, k::FLAGS, p.flags);
    Value::Object(m)
}

fn put_opt_f64(m: &mut Map<String, Value>, f: F, v: Option<f64>) {
    if let Some(v) = v {
        put(m, f, f64_json(v));
    }
}

fn enc_histogram_point(p: &HistogramDataPoint) -> Value {
    let mut m = Map::new();
    put_list(&mut m, k::ATTRIBUTES, &p.attributes, enc_key_value);
    put_u64(&mut m, k::START_TIME_UNIX_NANO, p.start_time_unix_nano);
    put_u64(&mut m, k::TIME_UNIX_NANO, p.time_unix_nano);
    put_u64(&mut m, k::COUNT, p.count);
    put_opt_f64(&mut m, k::SUM, p.sum);
    put_list(&mut m, k::BUCKET_COUNTS, &p.bucket_counts, u64_string);
    put_list(&mut m, k::EXPLICIT_BOUNDS, &p.explicit_bounds, |b| f64_json(*b));
    put_list(&mut m, k::EXEMPLARS, &p.exemplars, enc_exemplar);
    put_u32(&mut m, k::FLAGS, p.flags);
    put_opt_f64(&mut m, k::MIN, p.min);
    put_opt_f64(&mut m, k::MAX, p.max);
    Value::Object(m)
}

fn enc_exp_histogram_point(p: &ExponentialHistogramDataPoint) -> Value {
    let mut m = Map::new();
    put_list(&mut m, k::ATTRIBUTES, &p.attributes, enc_key_value);
    put_u64(&mut m, k::START_TIME_UNIX_NANO, p.start_time_unix_nano);
    put_u64(&mut m, k::TIME_UNIX_NANO, p.time_unix_nano);
    put_u64(&mut m, k::COUNT, p.count);
    put_opt_f64(&mut m, k::SUM, p.sum);
    put_i32(&mut m, k::SCALE, p.scale);
    put_u64(&mut m, k::ZERO_COUNT, p.zero_count);
    if let Some(b) = &p.positive {
        put(&mut m, k::POSITIVE, enc_buckets(b));
    }
    if let Some(b) = &p.negative {
        put(&mut m, k::NEGATIVE, enc_buckets(b));
    }
    put_u32(&mut m, k::FLAGS, p.flags);
    put_list(&mut m, k::EXEMPLARS, &p.exemplars, enc_exemplar);
    put_opt_f64(&mut m, k::MIN, p.min);
    put_opt_f64(&mut m, k::MAX, p.max);
    put_f64(&mut m, k::ZERO_THRESHOLD, p.zero_threshold);
    Value::Object(m)
}

fn enc_buckets(b: &exponential_histogram_data_point::Buckets) -> Value {
    let mut m = Map::new();
    put_i32(&mut m, k::OFFSET, b.offset);
    put_list(&mut m, k::BUCKET_COUNTS, &b.bucket_counts, u64_string);
    Value::Object(m)
}

fn enc_summary_point(p: &SummaryDataPoint) -> Value {
    let mut m = Map::new();
    put_list(&mut m, k::ATTRIBUTES, &p.attributes, enc_key_value);
    put_u64(&mut m, k::START_TIME_UNIX_NANO, p.start_time_unix_nano);
    put_u64(&mut m, k::TIME_UNIX_NANO, p.time_unix_nano);
    put_u64(&mut m, k::COUNT, p.count);
    put_f64(&mut m, k::SUM, p.sum);
    put_list(&mut m, k::QUANTILE_VALUES, &p.quantile_values, |q| {
        let mut qm = Map::new();
        put_f64(&mut qm, k::QUANTILE, q.quantile);
        put_f64(&mut qm, k::VALUE, q.value);
        Value::Object(qm)
    });
    put_u32(&mut m, k::FLAGS, p.flags);
    Value::Object(m)
}

fn enc_exemplar(e: &Exemplar) -> Value {
    use exemplar::Value as V;
    let mut m = Map::new();
    put_list(&mut m, k::FILTERED_ATTRIBUTES, &e.filtered_attributes, enc_key_value);
    put_u64(&mut m, k::TIME_UNIX_NANO, e.time_unix_nano);
    match e.value {
        None => {}
        Some(V::AsDouble(d)) => put(&mut m, k::AS_DOUBLE, f64_json(d)),
        Some(V::AsInt(i)) => put(&mut m, k::AS_INT, Value::String(i.to_string())),
    }
    put_hex(&mut m, k::SPAN_ID, &e.span_id);
    put_hex(&mut m, k::TRACE_ID, &e.trace_id);
    Value::Object(m)
}

// Logs.

fn enc_resource_logs(rl: &ResourceLogs) -> Value {
    let mut m = Map::new();
    if let Some(r) = &rl.resource {
        put(&mut m, k::RESOURCE, enc_resource(r));
    }
    put_list(&mut m, k::SCOPE_LOGS, &rl.scope_logs, enc_scope_logs);
    put_str(&mut m, k::SCHEMA_URL, &rl.schema_url);
    Value::Object(m)
}

fn enc_scope_logs(sl: &ScopeLogs) -> Value {
    let mut m = Map::new();
    if let Some(s) = &sl.scope {
        put(&mut m, k::SCOPE, enc_scope(s));
    }
    put_list(&mut m, k::LOG_RECORDS, &sl.log_records, enc_log_record);
    put_str(&mut m, k::SCHEMA_URL, &sl.schema_url);
    Value::Object(m)
}

fn enc_log_record(l: &LogRecord) -> Value {
    let mut m = Map::new();
    put_u64(&mut m, k::TIME_UNIX_NANO, l.time_unix_nano);
    put_u64(&mut m, k::OBSERVED_TIME_UNIX_NANO, l.observed_time_unix_nano);
    put_i32(&mut m, k::SEVERITY_NUMBER, l.severity_number);
    put_str(&mut m, k::SEVERITY_TEXT, &l.severity_text);
    if let Some(b) = &l.body {
        put(&mut m, k::BODY, enc_any_value(b));
    }
    put_list(&mut m, k::ATTRIBUTES, &l.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, l.dropped_attributes_count);
    put_u32(&mut m, k::FLAGS, l.flags);
    put_hex(&mut m, k::TRACE_ID, &l.trace_id);
    put_hex(&mut m, k::SPAN_ID, &l.span_id);
    put_str(&mut m, k::EVENT_NAME, &l.event_name);
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TID: [u8; 16] = [
        0x5b, 0x8e, 0xfb, 0xf7, 0x8b, 0x1c, 0x4d, 0x2a, 0x91, 0x0a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56,
    ];
    const SID: [u8; 8] = [0xeb, 0xa2, 0x3f, 0x10, 0x00, 0xab, 0xcd, 0xef];
    const PSID: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];

    fn av(v: any_value::Value) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    fn kv(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(av(v)),
            key_strindex: 0,
        }
    }

    fn s(v: &str) -> any_value::Value {
        any_value::Value::StringValue(v.to_owned())
    }

    /// One attribute of every AnyValue type, nested ones included.
    fn all_attrs() -> Vec<KeyValue> {
        use any_value::Value as V;
        vec![
            kv("str", s("hello \"world\" ✓")),
            kv("empty.str", s("")),
            kv("bool", V::BoolValue(true)),
            kv("bool.false", V::BoolValue(false)),
            kv("int", V::IntValue(-9_223_372_036_854_775_808)),
            kv("int.zero", V::IntValue(0)),
            kv("double", V::DoubleValue(1234.5678e-3)),
            kv("double.tiny", V::DoubleValue(-1.0e-300)),
            kv("double.zero", V::DoubleValue(0.0)),
            kv("bytes", V::BytesValue(vec![0, 1, 2, 254, 255])),
            kv("bytes.empty", V::BytesValue(vec![])),
            kv(
                "array",
                V::ArrayValue(ArrayValue {
                    values: vec![
                        av(s("a")),
                        av(V::IntValue(7)),
                        AnyValue { value: None },
                        av(V::ArrayValue(ArrayValue { values: vec![] })),
                    ],
                }),
            ),
            kv(
                "kvlist",
                V::KvlistValue(KeyValueList {
                    values: vec![
                        kv("inner", V::DoubleValue(1.5)),
                        kv(
                            "deeper",
                            V::KvlistValue(KeyValueList {
                                values: vec![kv("x", V::BoolValue(true))],
                            }),
                        ),
                    ],
                }),
            ),
            KeyValue {
                key: "empty.value".to_owned(),
                value: Some(AnyValue { value: None }),
                key_strindex: 0,
            },
            KeyValue {
                key: "no.value".to_owned(),
                value: None,
                key_strindex: 0,
            },
        ]
    }

    fn resource() -> Resource {
        let mut attributes = all_attrs();
        // Profiles-only string table references, carried through untouched.
        attributes.push(KeyValue {
            key: String::new(),
            value: Some(av(any_value::Value::StringValueStrindex(3))),
            key_strindex: 5,
        });
        Resource {
            attributes,
            dropped_attributes_count: 3,
            entity_refs: vec![EntityRef {
                schema_url: "https://opentelemetry.io/schemas/1.30.0".to_owned(),
                r#type: "service".to_owned(),
                id_keys: vec!["service.name".to_owned(), "service.namespace".to_owned()],
                description_keys: vec!["service.version".to_owned()],
            }],
        }
    }

    fn scope() -> InstrumentationScope {
        InstrumentationScope {
            name: "my.library".to_owned(),
            version: "1.2.3".to_owned(),
            attributes: vec![kv("scope.attr", s("v"))],
            dropped_attributes_count: 1,
        }
    }

    fn traces_fixture() -> ExportTraceServiceRequest {
        let span = Span {
            trace_id: TID.to_vec(),
            span_id: SID.to_vec(),
            trace_state: "vendor=value".to_owned(),
            parent_span_id: PSID.to_vec(),
            flags: 0x301,
            name: "GET /users/{id}".to_owned(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: 1_700_000_000_123_456_789,
            end_time_unix_nano: u64::MAX,
            attributes: all_attrs(),
            dropped_attributes_count: 4,
            events: vec![
                span::Event {
                    time_unix_nano: 1_700_000_000_200_000_000,
                    name: "exception".to_owned(),
                    attributes: vec![kv("exception.message", s("boom"))],
                    dropped_attributes_count: 2,
                },
                span::Event::default(),
            ],
            dropped_events_count: 5,
            links: vec![
                span::Link {
                    trace_id: TID.to_vec(),
                    span_id: PSID.to_vec(),
                    trace_state: "a=b".to_owned(),
                    attributes: vec![kv("link.attr", any_value::Value::IntValue(1))],
                    dropped_attributes_count: 6,
                    flags: 0x100,
                },
                span::Link::default(),
            ],
            dropped_links_count: 7,
            status: Some(Status {
                message: "it failed".to_owned(),
                code: status::StatusCode::Error as i32,
            }),
        };
        let minimal = Span {
            trace_id: TID.to_vec(),
            span_id: PSID.to_vec(),
            status: Some(Status::default()),
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(resource()),
                    scope_spans: vec![
                        ScopeSpans {
                            scope: Some(scope()),
                            spans: vec![span, minimal, Span::default()],
                            schema_url: "https://opentelemetry.io/schemas/1.21.0".to_owned(),
                        },
                        ScopeSpans::default(),
                    ],
                    schema_url: "https://opentelemetry.io/schemas/1.20.0".to_owned(),
                },
                ResourceSpans::default(),
            ],
        }
    }

    fn exemplars() -> Vec<Exemplar> {
        vec![
            Exemplar {
                filtered_attributes: vec![kv("user", s("alice"))],
                time_unix_nano: 1_700_000_000_000_000_001,
                span_id: SID.to_vec(),
                trace_id: TID.to_vec(),
                value: Some(exemplar::Value::AsDouble(0.25)),
            },
            Exemplar {
                filtered_attributes: vec![],
                time_unix_nano: 2,
                span_id: vec![],
                trace_id: vec![],
                value: Some(exemplar::Value::AsInt(i64::MIN)),
            },
            Exemplar::default(),
        ]
    }

    fn metrics_fixture() -> ExportMetricsServiceRequest {
        use metric::Data;
        let point_attrs = vec![kv("host", s("a")), kv("cpu", any_value::Value::IntValue(3))];
        let gauge = Metric {
            name: "temperature".to_owned(),
            description: "the temperature".to_owned(),
            unit: "Cel".to_owned(),
            metadata: vec![kv("meta", s("data"))],
            data: Some(Data::Gauge(Gauge {
                data_points: vec![
                    NumberDataPoint {
                        attributes: point_attrs.clone(),
                        start_time_unix_nano: 1,
                        time_unix_nano: 1_700_000_000_000_000_000,
                        exemplars: exemplars(),
                        flags: 1,
                        value: Some(number_data_point::Value::AsDouble(-12.5)),
                    },
                    NumberDataPoint {
                        value: Some(number_data_point::Value::AsInt(i64::MAX)),
                        ..Default::default()
                    },
                    NumberDataPoint {
                        value: Some(number_data_point::Value::AsDouble(0.0)),
                        ..Default::default()
                    },
                    NumberDataPoint::default(),
                ],
            })),
        };
        let sum = Metric {
            name: "requests".to_owned(),
            data: Some(Data::Sum(Sum {
                data_points: vec![NumberDataPoint {
                    attributes: point_attrs.clone(),
                    start_time_unix_nano: 10,
                    time_unix_nano: 20,
                    exemplars: vec![],
                    flags: 0,
                    value: Some(number_data_point::Value::AsInt(0)),
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let histogram = Metric {
            name: "latency".to_owned(),
            unit: "ms".to_owned(),
            data: Some(Data::Histogram(Histogram {
                data_points: vec![
                    HistogramDataPoint {
                        attributes: point_attrs.clone(),
                        start_time_unix_nano: 100,
                        time_unix_nano: 200,
                        count: 10,
                        sum: Some(123.75),
                        bucket_counts: vec![1, 0, 4, u64::MAX],
                        explicit_bounds: vec![-1.5, 0.0, 10.0],
                        exemplars: exemplars(),
                        flags: 1,
                        min: Some(0.0),
                        max: Some(99.5),
                    },
                    HistogramDataPoint {
                        count: 0,
                        sum: None,
                        min: None,
                        max: None,
                        ..Default::default()
                    },
                ],
                aggregation_temporality: AggregationTemporality::Delta as i32,
            })),
            ..Default::default()
        };
        let exp_histogram = Metric {
            name: "exp".to_owned(),
            data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![
                    ExponentialHistogramDataPoint {
                        attributes: point_attrs.clone(),
                        start_time_unix_nano: 5,
                        time_unix_nano: 6,
                        count: 17,
                        sum: Some(-3.5),
                        scale: -3,
                        zero_count: 2,
                        positive: Some(exponential_histogram_data_point::Buckets {
                            offset: -2,
                            bucket_counts: vec![1, 2, 0, 5],
                        }),
                        negative: Some(exponential_histogram_data_point::Buckets {
                            offset: 0,
                            bucket_counts: vec![],
                        }),
                        flags: 1,
                        exemplars: exemplars(),
                        min: Some(-10.0),
                        max: Some(1e10),
                        zero_threshold: 1e-9,
                    },
                    ExponentialHistogramDataPoint::default(),
                ],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        };
        let summary = Metric {
            name: "summary".to_owned(),
            data: Some(Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    attributes: point_attrs,
                    start_time_unix_nano: 7,
                    time_unix_nano: 8,
                    count: 3,
                    sum: 42.0,
                    quantile_values: vec![
                        summary_data_point::ValueAtQuantile { quantile: 0.0, value: 1.0 },
                        summary_data_point::ValueAtQuantile {
                            quantile: 0.99,
                            value: 41.5,
                        },
                    ],
                    flags: 1,
                }],
            })),
            ..Default::default()
        };
        let no_data = Metric {
            name: "empty".to_owned(),
            ..Default::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope()),
                    metrics: vec![gauge, sum, histogram, exp_histogram, summary, no_data],
                    schema_url: "https://example.com/s".to_owned(),
                }],
                schema_url: "https://example.com/r".to_owned(),
            }],
        }
    }

    fn logs_fixture() -> ExportLogsServiceRequest {
        let string_body = LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000,
            observed_time_unix_nano: 1_700_000_000_000_000_500,
            severity_number: SeverityNumber::Warn as i32,
            severity_text: "WARN".to_owned(),
            body: Some(av(s("disk almost full"))),
            attributes: all_attrs(),
            dropped_attributes_count: 2,
            flags: 1,
            trace_id: TID.to_vec(),
            span_id: SID.to_vec(),
            event_name: "disk.warning".to_owned(),
        };
        let kvlist_body = LogRecord {
            severity_number: SeverityNumber::Error2 as i32,
            body: Some(av(any_value::Value::KvlistValue(KeyValueList { values: all_attrs() }))),
            ..Default::default()
        };
        let empty_body = LogRecord {
            body: Some(AnyValue { value: None }),
            ..Default::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource::default()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope()),
                    log_records: vec![string_body, kvlist_body, empty_body, LogRecord::default()],
                    schema_url: "https://example.com/s".to_owned(),
                }],
                schema_url: "https://example.com/r".to_owned(),
            }],
        }
    }

    fn to_bytes(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).expect("a Value always serializes")
    }

    fn invalid(e: JsonError) -> (String, String) {
        match e {
            JsonError::Invalid { path, message } => (path, message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn trace_err(body: Value) -> (String, String) {
        invalid(decode_traces(&to_bytes(&body)).expect_err("should fail"))
    }

    fn span_json(span: Value) -> Value {
        json!({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    }

    fn only_span(req: &ExportTraceServiceRequest) -> &Span {
        &req.resource_spans[0].scope_spans[0].spans[0]
    }

    fn logs_body(record: Value) -> Vec<u8> {
        to_bytes(&json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}))
    }

    fn only_record(req: &ExportLogsServiceRequest) -> &LogRecord {
        &req.resource_logs[0].scope_logs[0].log_records[0]
    }

    fn metric_body(metric: Value) -> Vec<u8> {
        to_bytes(&json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [metric]}]}]}))
    }

    fn only_metric(req: &ExportMetricsServiceRequest) -> &Metric {
        &req.resource_metrics[0].scope_metrics[0].metrics[0]
    }

    // --- round trips -------------------------------------------------------------------------

    #[test]
    fn traces_round_trip() {
        let req = traces_fixture();
        let back = decode_traces(&to_bytes(&encode_traces(&req))).expect("decodes");
        assert_eq!(back, req);
    }

    #[test]
    fn metrics_round_trip() {
        let req = metrics_fixture();
        let back = decode_metrics(&to_bytes(&encode_metrics(&req))).expect("decodes");
        assert_eq!(back, req);
    }

    #[test]
    fn logs_round_trip() {
        let req = logs_fixture();
        let back = decode_logs(&to_bytes(&encode_logs(&req))).expect("decodes");
        assert_eq!(back, req);
    }

    #[test]
    fn empty_requests_round_trip() {
        let t = ExportTraceServiceRequest::default();
        assert_eq!(decode_traces(&to_bytes(&encode_traces(&t))).unwrap(), t);
        let m = ExportMetricsServiceRequest::default();
        assert_eq!(decode_metrics(&to_bytes(&encode_metrics(&m))).unwrap(), m);
        let l = ExportLogsServiceRequest::default();
        assert_eq!(decode_logs(&to_bytes(&encode_logs(&l))).unwrap(), l);
    }

    #[test]
    fn non_finite_doubles_round_trip() {
        let mut req = metrics_fixture();
        let Some(metric::Data::Histogram(h)) = &mut req.resource_metrics[0].scope_metrics[0].metrics[2].data else {
            panic!("fixture order changed");
        };
        h.data_points[0].sum = Some(f64::NAN);
        h.data_points[0].min = Some(f64::NEG_INFINITY);
        h.data_points[0].max = Some(f64::INFINITY);
        let json = encode_metrics(&req);
        let p = &json["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][2]["histogram"]["dataPoints"][0];
        assert_eq!(p["sum"], "NaN");
        assert_eq!(p["min"], "-Infinity");
        assert_eq!(p["max"], "Infinity");
        let back = decode_metrics(&to_bytes(&json)).unwrap();
        let Some(metric::Data::Histogram(h)) = &back.resource_metrics[0].scope_metrics[0].metrics[2].data else {
            panic!("histogram expected");
        };
        assert!(h.data_points[0].sum.is_some_and(f64::is_nan));
        assert_eq!(h.data_points[0].min, Some(f64::NEG_INFINITY));
        assert_eq!(h.data_points[0].max, Some(f64::INFINITY));
    }

    // --- encoder format ----------------------------------------------------------------------

    #[test]
    fn encoder_writes_collector_format() {
        let json = encode_traces(&traces_fixture());
        let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "5b8efbf78b1c4d2a910abcdef0123456");
        assert_eq!(span["spanId"], "eba23f1000abcdef");
        assert_eq!(span["parentSpanId"], "0102030405060708");
        assert_eq!(span["kind"], 2);
        assert_eq!(span["flags"], 0x301);
        assert_eq!(span["startTimeUnixNano"], "1700000000123456789");
        assert_eq!(span["endTimeUnixNano"], "18446744073709551615");
        assert_eq!(span["status"], json!({"message": "it failed", "code": 2}));
        assert_eq!(span["droppedAttributesCount"], 4);
        let attrs = span["attributes"].as_array().unwrap();
        assert_eq!(attrs[4]["value"], json!({"intValue": "-9223372036854775808"}));
        assert_eq!(attrs[9]["value"], json!({"bytesValue": "AAEC/v8="}));
        assert_eq!(attrs[13], json!({"key": "empty.value", "value": {}}));
        assert_eq!(attrs[14], json!({"key": "no.value"}));

        // Defaults are omitted, except the span fields the Collector always writes.
        let empty = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][2];
        assert_eq!(empty, &json!({"name": "", "startTimeUnixNano": "0", "endTimeUnixNano": "0"}));
        assert_eq!(json["resourceSpans"][1], json!({}));
        assert_eq!(encode_traces(&ExportTraceServiceRequest::default()), json!({"resourceSpans": []}));
    }

    #[test]
    fn encoder_metric_and_log_fields() {
        let json = encode_metrics(&metrics_fixture());
        let metrics = &json["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
        let sum = &metrics[1]["sum"];
        assert_eq!(sum["aggregationTemporality"], 2);
        assert_eq!(sum["isMonotonic"], true);
        assert_eq!(sum["dataPoints"][0]["asInt"], "0");
        let hist = &metrics[2]["histogram"]["dataPoints"][0];
        assert_eq!(hist["bucketCounts"], json!(["1", "0", "4", "18446744073709551615"]));
        assert_eq!(hist["explicitBounds"], json!([-1.5, 0.0, 10.0]));
        assert_eq!(hist["count"], "10");
        assert_eq!(hist["min"], json!(0.0));
        let bare = &metrics[2]["histogram"]["dataPoints"][1];
        assert_eq!(bare, &json!({}));
        let exemplar = &metrics[0]["gauge"]["dataPoints"][0]["exemplars"][0];
        assert_eq!(exemplar["traceId"], "5b8efbf78b1c4d2a910abcdef0123456");
        assert_eq!(exemplar["asDouble"], 0.25);
        let exp = &metrics[3]["exponentialHistogram"]["dataPoints"][0];
        assert_eq!(exp["scale"], -3);
        assert_eq!(exp["zeroCount"], "2");
        assert_eq!(exp["positive"], json!({"offset": -2, "bucketCounts": ["1", "2", "0", "5"]}));
        assert_eq!(exp["negative"], json!({}));

        let json = encode_logs(&logs_fixture());
        let rec = &json["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(rec["severityNumber"], 13);
        assert_eq!(rec["body"], json!({"stringValue": "disk almost full"}));
        assert_eq!(rec["observedTimeUnixNano"], "1700000000000000500");
        assert_eq!(rec["eventName"], "disk.warning");
        assert_eq!(rec["spanId"], "eba23f1000abcdef");
    }

    // --- decoder quirks ----------------------------------------------------------------------

    #[test]
    fn decodes_spec_example() {
        // Shape of opentelemetry-proto's examples/trace.json.
        let body = br#"{
          "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
            "scopeSpans": [{
              "scope": {"name": "my.library", "version": "1.0.0",
                        "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
              "spans": [{
                "traceId": "5B8EFFF798038103D269B633813FC60C",
                "spanId": "EEE19B7EC3C1B174",
                "parentSpanId": "EEE19B7EC3C1B173",
                "name": "I'm a server span",
                "startTimeUnixNano": "1544712660000000000",
                "endTimeUnixNano": "1544712661000000000",
                "kind": 2,
                "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}]
              }]
            }]
          }]
        }"#;
        let req = decode_traces(body).unwrap();
        let span = only_span(&req);
        assert_eq!(span.trace_id, hex::decode("5b8efff798038103d269b633813fc60c").unwrap());
        assert_eq!(span.span_id, hex::decode("eee19b7ec3c1b174").unwrap());
        assert_eq!(span.parent_span_id, hex::decode("eee19b7ec3c1b173").unwrap());
        assert_eq!(span.kind, 2);
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
        let scope = req.resource_spans[0].scope_spans[0].scope.as_ref().unwrap();
        assert_eq!(scope.version, "1.0.0");
    }

    #[test]
    fn hex_ids_are_case_insensitive() {
        let req = decode_traces(&to_bytes(&span_json(json!({
            "traceId": "5B8EFBF78B1C4D2A910ABCDEF0123456",
            "spanId": "EBA23f1000ABcdef",
            "links": [{"traceId": "5b8efbf78b1c4d2a910abcdef0123456", "spanId": "EBA23F1000ABCDEF"}]
        }))))
        .unwrap();
        let span = only_span(&req);
        assert_eq!(span.trace_id, TID);
        assert_eq!(span.span_id, SID);
        assert_eq!(span.links[0].trace_id, TID);
        assert_eq!(span.links[0].span_id, SID);
    }

    #[test]
    fn empty_or_absent_ids_are_empty_bytes() {
        let req = decode_traces(&to_bytes(&span_json(json!({"traceId": "", "spanId": null, "parentSpanId": ""})))).unwrap();
        let span = only_span(&req);
        assert!(span.trace_id.is_empty() && span.span_id.is_empty());
        assert!(span.parent_span_id.is_empty());
    }

    #[test]
    fn snake_case_keys_are_accepted() {
        let body = json!({"resource_spans": [{
            "resource": {"attributes": [{"key": "k", "value": {"string_value": "v"}}],
                         "dropped_attributes_count": 1},
            "schema_url": "r",
            "scope_spans": [{
                "scope": {"name": "s", "dropped_attributes_count": 2},
                "schema_url": "s",
                "spans": [{
                    "trace_id": "5b8efbf78b1c4d2a910abcdef0123456",
                    "span_id": "eba23f1000abcdef",
                    "parent_span_id": "0102030405060708",
                    "trace_state": "t=1",
                    "start_time_unix_nano": "5",
                    "end_time_unix_nano": 6,
                    "dropped_attributes_count": 1,
                    "dropped_events_count": 2,
                    "dropped_links_count": 3,
                    "events": [{"time_unix_nano": "9", "name": "e"}],
                    "links": [{"trace_id": "5b8efbf78b1c4d2a910abcdef0123456", "dropped_attributes_count": 4}],
                    "attributes": [
                        {"key": "a", "value": {"int_value": "1"}},
                        {"key": "b", "value": {"kvlist_value": {"values": [{"key": "c", "value": {"bool_value": true}}]}}},
                        {"key": "d", "value": {"array_value": {"values": [{"double_value": 1.5}, {"bytes_value": "AQI="}]}}}
                    ]
                }]
            }]
        }]});
        let req = decode_traces(&to_bytes(&body)).unwrap();
        let rs = &req.resource_spans[0];
        assert_eq!(rs.schema_url, "r");
        assert_eq!(rs.resource.as_ref().unwrap().dropped_attributes_count, 1);
        assert_eq!(rs.scope_spans[0].schema_url, "s");
        let span = only_span(&req);
        assert_eq!(span.trace_id, TID);
        assert_eq!(span.parent_span_id, PSID);
        assert_eq!(span.trace_state, "t=1");
        assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (5, 6));
        assert_eq!(
            (span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count),
            (1, 2, 3)
        );
        assert_eq!(span.events[0].time_unix_nano, 9);
        assert_eq!(span.links[0].dropped_attributes_count, 4);
        let plain = attributes_to_plain(&span.attributes);
        assert_eq!(Value::Object(plain), json!({"a": 1, "b": {"c": true}, "d": [1.5, "AQI="]}));

        let metrics = decode_metrics(&to_bytes(&json!({"resource_metrics": [{"scope_metrics": [{"metrics": [
            {"name": "h", "exponential_histogram": {"aggregation_temporality": 1, "data_points": [
                {"zero_count": "3", "zero_threshold": 0.5, "start_time_unix_nano": "1", "time_unix_nano": "2",
                 "positive": {"offset": 1, "bucket_counts": ["1", 2]}}]}},
            {"name": "s", "summary": {"data_points": [{"quantile_values": [{"quantile": 0.5, "value": 3}]}]}},
            {"name": "g", "gauge": {"data_points": [{"as_int": "4", "exemplars": [
                {"as_double": 1, "filtered_attributes": [{"key": "x"}], "span_id": "eba23f1000abcdef"}]}]}},
            {"name": "hist", "histogram": {"data_points": [{"bucket_counts": ["1"], "explicit_bounds": [], "min": 1}]}},
            {"name": "sum", "sum": {"is_monotonic": true, "data_points": []}}
        ]}]}]})))
        .unwrap();
        let ms = &metrics.resource_metrics[0].scope_metrics[0].metrics;
        let Some(metric::Data::ExponentialHistogram(e)) = &ms[0].data else {
            panic!("exp histogram expected")
        };
        assert_eq!(e.aggregation_temporality, 1);
        let p = &e.data_points[0];
        assert_eq!((p.zero_count, p.zero_threshold), (3, 0.5));
        assert_eq!(p.positive.as_ref().unwrap().bucket_counts, vec![1, 2]);
        let Some(metric::Data::Summary(sm)) = &ms[1].data else {
            panic!("summary expected")
        };
        assert_eq!(sm.data_points[0].quantile_values[0].value, 3.0);
        let Some(metric::Data::Gauge(g)) = &ms[2].data else {
            panic!("gauge expected")
        };
        assert_eq!(g.data_points[0].value, Some(number_data_point::Value::AsInt(4)));
        assert_eq!(g.data_points[0].exemplars[0].span_id, SID);
        assert_eq!(g.data_points[0].exemplars[0].filtered_attributes[0].key, "x");
        let Some(metric::Data::Histogram(h)) = &ms[3].data else {
            panic!("histogram expected")
        };
        assert_eq!(h.data_points[0].min, Some(1.0));
        let Some(metric::Data::Sum(su)) = &ms[4].data else {
            panic!("sum expected")
        };
        assert!(su.is_monotonic);

        let logs = decode_logs(&to_bytes(&json!({"resource_logs": [{"scope_logs": [{"log_records": [{
            "time_unix_nano": "1", "observed_time_unix_nano": 2, "severity_number": "SEVERITY_NUMBER_INFO",
            "severity_text": "info", "event_name": "ev", "trace_id": "5b8efbf78b1c4d2a910abcdef0123456"
        }]}]}]})))
        .unwrap();
        let rec = only_record(&logs);
        assert_eq!((rec.time_unix_nano, rec.observed_time_unix_nano), (1, 2));
        assert_eq!(rec.severity_number, 9);
        assert_eq!((rec.severity_text.as_str(), rec.event_name.as_str()), ("info", "ev"));
        assert_eq!(rec.trace_id, TID);
    }

    #[test]
    fn camel_case_wins_over_snake_case() {
        let req = decode_traces(&to_bytes(&span_json(
            json!({"name": "x", "traceState": "camel", "trace_state": "snake"}),
        )))
        .unwrap();
        assert_eq!(only_span(&req).trace_state, "camel");
        // A null camelCase key falls through to the snake_case one.
        let req = decode_traces(&to_bytes(&span_json(json!({"traceState": null, "trace_state": "snake"})))).unwrap();
        assert_eq!(only_span(&req).trace_state, "snake");
    }

    #[test]
    fn enum_names_are_accepted() {
        let req = decode_traces(&to_bytes(&span_json(json!({
            "kind": "SPAN_KIND_SERVER",
            "status": {"code": "STATUS_CODE_ERROR", "message": "m"}
        }))))
        .unwrap();
        let span = only_span(&req);
        assert_eq!(span.kind, span::SpanKind::Server as i32);
        assert_eq!(span.status.as_ref().unwrap().code, status::StatusCode::Error as i32);

        let req = decode_logs(&logs_body(json!({"severityNumber": "SEVERITY_NUMBER_WARN"}))).unwrap();
        assert_eq!(only_record(&req).severity_number, SeverityNumber::Warn as i32);

        for (name, want) in [
            ("AGGREGATION_TEMPORALITY_CUMULATIVE", AggregationTemporality::Cumulative),
            ("AGGREGATION_TEMPORALITY_DELTA", AggregationTemporality::Delta),
        ] {
            let req = decode_metrics(&metric_body(json!({
                "name": "m", "sum": {"aggregationTemporality": name, "dataPoints": [{"asInt": 1}]}
            })))
            .unwrap();
            let Some(metric::Data::Sum(sum)) = &only_metric(&req).data else {
                panic!("sum expected")
            };
            assert_eq!(sum.aggregation_temporality, want as i32);
        }
        // Plain integers, including ones the enum does not know (proto3 enums are open).
        let req = decode_traces(&to_bytes(&span_json(json!({"kind": 3, "status": {"code": 7}})))).unwrap();
        assert_eq!(only_span(&req).kind, 3);
        assert_eq!(only_span(&req).status.as_ref().unwrap().code, 7);
    }

    #[test]
    fn int64_fields_accept_strings_and_numbers() {
        let req = decode_traces(&to_bytes(&span_json(json!({
            "startTimeUnixNano": "1700000000123456789",
            "endTimeUnixNano": 18_446_744_073_709_551_615u64,
            "events": [{"timeUnixNano": 1e3}],
            "attributes": [
                {"key": "a", "value": {"intValue": "-42"}},
                {"key": "b", "value": {"intValue": -9_223_372_036_854_775_808i64}},
                {"key": "c", "value": {"intValue": 7}}
            ],
            "droppedAttributesCount": "3",
            "flags": 1
        }))))
        .unwrap();
        let span = only_span(&req);
        assert_eq!(span.start_time_unix_nano, 1_700_000_000_123_456_789);
        assert_eq!(span.end_time_unix_nano, u64::MAX);
        assert_eq!(span.events[0].time_unix_nano, 1000);
        assert_eq!(span.dropped_attributes_count, 3);
        let ints: Vec<_> = span.attributes.iter().map(|kv| kv.value.clone().unwrap().value).collect();
        assert_eq!(
            ints,
            vec![
                Some(any_value::Value::IntValue(-42)),
                Some(any_value::Value::IntValue(i64::MIN)),
                Some(any_value::Value::IntValue(7)),
            ]
        );

        let req = decode_metrics(&metric_body(json!({"name": "h", "histogram": {"dataPoints": [{
            "count": 5, "bucketCounts": ["1", 2, "0", 2], "timeUnixNano": "10",
            "exemplars": [{"asInt": "-5"}, {"asInt": 6}]
        }]}})))
        .unwrap();
        let Some(metric::Data::Histogram(h)) = &only_metric(&req).data else {
            panic!("histogram expected")
        };
        let p = &h.data_points[0];
        assert_eq!((p.count, p.time_unix_nano), (5, 10));
        assert_eq!(p.bucket_counts, vec![1, 2, 0, 2]);
        assert_eq!(p.exemplars[0].value, Some(exemplar::Value::AsInt(-5)));
        assert_eq!(p.exemplars[1].value, Some(exemplar::Value::AsInt(6)));
    }

    #[test]
    fn bad_integers_are_rejected() {
        let cases = [
            (json!({"startTimeUnixNano": 1.5}), "expected an integer, got 1.5"),
            (json!({"startTimeUnixNano": "1.5"}), "expected an integer, got \"1.5\""),
            (json!({"startTimeUnixNano": -1}), "-1 is out of range for uint64"),
            (
                json!({"startTimeUnixNano": "18446744073709551616"}),
                "18446744073709551616 is out of range for uint64",
            ),
            (json!({"startTimeUnixNano": "abc"}), "expected an integer, got \"abc\""),
            (
                json!({"startTimeUnixNano": true}),
                "expected an integer (number or string), got a boolean",
            ),
            (
                json!({"droppedAttributesCount": 4_294_967_296u64}),
                "4294967296 is out of range for uint32",
            ),
        ];
        for (span, want) in cases {
            let field = span.as_object().unwrap().keys().next().unwrap().clone();
            let (path, message) = trace_err(span_json(span));
            assert_eq!(path, format!("resourceSpans[0].scopeSpans[0].spans[0].{field}"));
            assert_eq!(message, want);
        }
        let (path, message) = trace_err(span_json(
            json!({"attributes": [{"key": "a", "value": {"intValue": "9223372036854775808"}}]}),
        ));
        assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue");
        assert_eq!(message, "9223372036854775808 is out of range for int64");
    }

    #[test]
    fn doubles_accept_special_strings() {
        let req = decode_metrics(&metric_body(json!({"name": "g", "gauge": {"dataPoints": [
            {"asDouble": "NaN"},
            {"asDouble": "Infinity"},
            {"asDouble": "-Infinity"},
            {"asDouble": "2.5"},
            {"asDouble": 3},
            {"asDouble": -0.125}
        ]}})))
        .unwrap();
        let Some(metric::Data::Gauge(g)) = &only_metric(&req).data else {
            panic!("gauge expected")
        };
        let vals: Vec<f64> = g
            .data_points
            .iter()
            .map(|p| match p.value {
                Some(number_data_point::Value::AsDouble(d)) => d,
                other => panic!("double expected, got {other:?}"),
            })
            .collect();
        assert!(vals[0].is_nan());
        assert_eq!(&vals[1..], &[f64::INFINITY, f64::NEG_INFINITY, 2.5, 3.0, -0.125]);

        let req = decode_traces(&to_bytes(&span_json(
            json!({"attributes": [{"key": "d", "value": {"doubleValue": "NaN"}}]}),
        )))
        .unwrap();
        let v = only_span(&req).attributes[0].value.clone().unwrap();
        assert!(matches!(v.value, Some(any_value::Value::DoubleValue(d)) if d.is_nan()));
        assert_eq!(any_value_to_plain(&v), json!("NaN"));

        for bad in ["nan", "inf", "1e999", "x"] {
            let (path, message) = invalid(decode_metrics(&metric_body(json!({"gauge": {"dataPoints": [{"asDouble": bad}]}}))).unwrap_err());
            assert!(path.ends_with("gauge.dataPoints[0].asDouble"), "{path}");
            assert!(message.starts_with("expected a double"), "{message}");
        }
    }

    #[test]
    fn bytes_value_is_base64_with_or_without_padding() {
        for text in ["AAEC/v8=", "AAEC/v8", "AAEC_v8"] {
            let req = decode_logs(&logs_body(json!({"body": {"bytesValue": text}}))).unwrap();
            assert_eq!(
                only_record(&req).body,
                Some(av(any_value::Value::BytesValue(vec![0, 1, 2, 254, 255]))),
                "{text}"
            );
        }
        let (path, message) = invalid(decode_logs(&logs_body(json!({"body": {"bytesValue": "!!!"}}))).unwrap_err());
        assert_eq!(path, "resourceLogs[0].scopeLogs[0].logRecords[0].body.bytesValue");
        assert!(message.starts_with("invalid base64"), "{message}");
    }

    #[test]
    fn unknown_fields_ignored_and_null_is_absent() {
        let req = decode_traces(&to_bytes(&json!({
            "resourceSpans": [{
                "futureField": {"anything": [1, 2, 3]},
                "resource": null,
                "scopeSpans": [{"scope": null, "spans": [{
                    "name": "n", "status": null, "kind": null, "events": null, "whatever": 1
                }]}]
            }],
            "extra": true
        })))
        .unwrap();
        assert_eq!(req.resource_spans[0].resource, None);
        assert_eq!(req.resource_spans[0].scope_spans[0].scope, None);
        let span = only_span(&req);
        assert_eq!(span.name, "n");
        assert_eq!((span.status.clone(), span.kind), (None, 0));
    }

    #[test]
    fn empty_object_is_an_empty_request() {
        assert_eq!(decode_traces(b"{}").unwrap(), ExportTraceServiceRequest::default());
        assert_eq!(decode_metrics(b"{}").unwrap(), ExportMetricsServiceRequest::default());
        assert_eq!(decode_logs(b" {} ").unwrap(), ExportLogsServiceRequest::default());
    }

    #[test]
    fn any_value_variants_decode() {
        let req = decode_logs(&logs_body(json!({"body": {}}))).unwrap();
        assert_eq!(only_record(&req).body, Some(AnyValue { value: None }));
        let req = decode_logs(&logs_body(json!({"body": {"stringValue": "x", "intValue": null}}))).unwrap();
        assert_eq!(only_record(&req).body, Some(av(s("x"))));
        let req = decode_logs(&logs_body(json!({"body": {"kvlistValue": {
            "values": [{"key": "a", "value": {"arrayValue": {"values": [{"boolValue": false}, {}]}}}]
        }}})))
        .unwrap();
        let want = av(any_value::Value::KvlistValue(KeyValueList {
            values: vec![kv(
                "a",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![av(any_value::Value::BoolValue(false)), AnyValue { value: None }],
                }),
            )],
        }));
        assert_eq!(only_record(&req).body, Some(want));
    }

    // --- errors ------------------------------------------------------------------------------

    #[test]
    fn wrong_id_length_is_invalid_with_path() {
        let body = json!({"resourceSpans": [{"scopeSpans": [
            {"spans": []},
            {"spans": [{}, {}, {}, {"traceId": "5b8efbf78b1c4d2a910abcdef01234"}]}
        ]}]});
        let (path, message) = trace_err(body);
        assert_eq!(path, "resourceSpans[0].scopeSpans[1].spans[3].traceId");
        assert_eq!(message, "expected 32 hex characters for a trace id, got 30");

        let (path, message) = trace_err(span_json(json!({"links": [{"spanId": "abc"}]})));
        assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].links[0].spanId");
        assert_eq!(message, "expected 16 hex characters for a span id, got 3");

        // A base64 trace id (24 chars) is not hex.
        let (_, message) = trace_err(span_json(json!({"traceId": "W4779/+LHE0qkQq83vASNFY="})));
        assert_eq!(message, "expected 32 hex characters for a trace id, got 24");

        let err = decode_metrics(&metric_body(json!({"gauge": {"dataPoints": [{"exemplars": [{"traceId": "00"}]}]}}))).unwrap_err();
        let (path, _) = invalid(err);
        assert_eq!(
            path,
            "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].exemplars[0].traceId"
        );
    }

    #[test]
    fn non_hex_id_is_invalid() {
        let (path, message) = trace_err(span_json(json!({"spanId": "zz23f1000abcdefg"})));
        assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].spanId");
        assert_eq!(message, "invalid hex in span id: \"zz23f1000abcdefg\"");
        let (path, message) = invalid(decode_logs(&logs_body(json!({"traceId": "5b8efbf78b1c4d2a910abcdef012345é"}))).unwrap_err());
        assert_eq!(path, "resourceLogs[0].scopeLogs[0].logRecords[0].traceId");
        assert!(message.starts_with("invalid hex in trace id"), "{message}");
        let (_, message) = trace_err(span_json(json!({"parentSpanId": 12})));
        assert_eq!(message, "expected a hex string, got a number");
    }

    #[test]
    fn bad_enum_name_is_invalid() {
        let (path, message) = trace_err(span_json(json!({"kind": "SPAN_KIND_SEVER"})));
        assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].kind");
        assert_eq!(message, "unknown span kind \"SPAN_KIND_SEVER\"");
        let (path, message) = trace_err(span_json(json!({"status": {"code": "ERROR"}})));
        assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].status.code");
        assert_eq!(message, "unknown status code \"ERROR\"");
        let (path, _) = invalid(decode_logs(&logs_body(json!({"severityNumber": "WARN"}))).unwrap_err());
        assert_eq!(path, "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber");
        let (path, message) = invalid(decode_metrics(&metric_body(json!({"sum": {"aggregationTemporality": "CUMULATIVE"}}))).unwrap_err());
        assert_eq!(path, "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.aggregationTemporality");
        assert_eq!(message, "unknown aggregation temporality \"CUMULATIVE\"");
        // Long garbage is not echoed in full.
        let long = "X".repeat(10_000);
        let (_, message) = trace_err(span_json(json!({"kind": long})));
        assert!(message.len() < 200, "{message}");
    }

    #[test]
    fn wrong_json_type_is_invalid_with_path() {
        let (path, message) = trace_err(json!({"resourceSpans": [{"scopeSpans": [{"spans": 5}]}]}));
        assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans");
        assert_eq!(message, "expected an array, got a number");
        let (path, message) = trace_err(json!({"resourceSpans": {}}));
        assert_eq!(path, "resourceSpans");
        assert_eq!(message, "expected an array, got an object");
        let (path, message) = trace_err(json!({"resourceSpans": ["x"]}));
        assert_eq!(path, "resourceSpans[0]");
        assert_eq!(message, "expected an object, got a string");
        let (path, message) = trace_err(span_json(json!({"name": 1})));
        assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].name");
        assert_eq!(message, "expected a string, got a number");
        let (path, message) = invalid(decode_metrics(&metric_body(json!({"sum": {"isMonotonic": "true"}}))).unwrap_err());
        assert_eq!(path, "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.isMonotonic");
        assert_eq!(message, "expected a boolean, got a string");
        let (path, message) = invalid(decode_logs(b"[]").unwrap_err());
        assert_eq!((path.as_str(), message.as_str()), ("$", "expected an object, got an array"));
        let (path, _) = invalid(decode_logs(&logs_body(json!({"body": {"arrayValue": {"values": [{}, 3]}}}))).unwrap_err());
        assert_eq!(path, "resourceLogs[0].scopeLogs[0].logRecords[0].body.arrayValue.values[1]");
    }

    #[test]
    fn two_oneof_members_are_invalid() {
        let (path, message) = invalid(decode_logs(&logs_body(json!({"body": {"stringValue": "a", "intValue": 1}}))).unwrap_err());
        assert_eq!(path, "resourceLogs[0].scopeLogs[0].logRecords[0].body");
        assert_eq!(message, "both stringValue and intValue are set, expected only one");
        let (path, message) = invalid(decode_metrics(&metric_body(json!({"gauge": {}, "sum": {}}))).unwrap_err());
        assert_eq!(path, "resourceMetrics[0].scopeMetrics[0].metrics[0]");
        assert_eq!(message, "both gauge and sum are set, expected only one");
        let (_, message) =
            invalid(decode_metrics(&metric_body(json!({"gauge": {"dataPoints": [{"asInt": 1, "asDouble": 1}]}}))).unwrap_err());
        assert_eq!(message, "both asDouble and asInt are set, expected only one");
    }

    #[test]
    fn syntax_errors_are_syntax() {
        for body in [&b"{"[..], b"", b"{\"resourceSpans\": [}", b"{} x", b"nul"] {
            assert!(matches!(decode_traces(body), Err(JsonError::Syntax(_))), "{body:?}");
        }
        // Invalid UTF-8 inside a string.
        let body = b"{\"resourceLogs\": [{\"schemaUrl\": \"\xff\xfe\"}]}";
        assert!(matches!(decode_logs(body), Err(JsonError::Syntax(_))));
        let err = decode_metrics(b"{,}").unwrap_err();
        assert!(err.to_string().starts_with("invalid JSON: "), "{err}");
    }

    #[test]
    fn deep_nesting_is_a_syntax_error() {
        // Plain arrays, far deeper than the stack could take if parsing recursed unbounded.
        let depth = 100_000;
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(matches!(decode_traces(body.as_bytes()), Err(JsonError::Syntax(_))));

        // AnyValue nesting past 128 JSON levels inside a real log body.
        let mut body = String::from(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"#);
        for _ in 0..200 {
            body.push_str(r#"{"arrayValue":{"values":["#);
        }
        body.push_str(r#"{"intValue":"1"}"#);
        for _ in 0..200 {
            body.push_str("]}}");
        }
        body.push_str("}]}]}]}");
        let err = decode_logs(body.as_bytes()).unwrap_err();
        assert!(matches!(&err, JsonError::Syntax(m) if m.contains("recursion limit")), "{err}");

        // Nesting within the limit decodes.
        let mut body = String::from(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"#);
        for _ in 0..30 {
            body.push_str(r#"{"arrayValue":{"values":["#);
        }
        body.push_str("{}");
        for _ in 0..30 {
            body.push_str("]}}");
        }
        body.push_str("}]}]}]}");
        let req = decode_logs(body.as_bytes()).unwrap();
        assert_eq!(decode_logs(&to_bytes(&encode_logs(&req))).unwrap(), req);
    }

    #[test]
    fn error_display() {
        let err = decode_traces(&to_bytes(&span_json(json!({"spanId": "12"})))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "resourceSpans[0].scopeSpans[0].spans[0].spanId: expected 16 hex characters for a span id, got 2"
        );
    }

    #[test]
    fn snake_case_aliases_match_camel_case_names() {
        fn snake(camel: &str) -> String {
            let mut out = String::new();
            for c in camel.chars() {
                if c.is_ascii_uppercase() {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        }
        let mut checked = 0;
        for line in include_str!("json.rs").lines() {
            let Some(rest) = line.trim().strip_prefix("pub const ") else {
                continue;
            };
            let Some((_, names)) = rest.split_once(": F = F(") else {
                continue;
            };
            let names: Vec<&str> = names.split('"').collect();
            assert_eq!(names.len(), 5, "{line}");
            assert_eq!(snake(names[1]), names[3], "{line}");
            checked += 1;
        }
        assert!(checked > 80, "only {checked} field names found");
    }

    // --- plain values ------------------------------------------------------------------------

    #[test]
    fn any_value_to_plain_maps_every_type() {
        use any_value::Value as V;
        assert_eq!(any_value_to_plain(&av(s("x"))), json!("x"));
        assert_eq!(any_value_to_plain(&av(V::BoolValue(true))), json!(true));
        assert_eq!(any_value_to_plain(&av(V::IntValue(i64::MIN))), json!(i64::MIN));
        assert_eq!(any_value_to_plain(&av(V::DoubleValue(0.5))), json!(0.5));
        assert_eq!(any_value_to_plain(&av(V::DoubleValue(f64::NAN))), json!("NaN"));
        assert_eq!(any_value_to_plain(&av(V::DoubleValue(f64::INFINITY))), json!("Infinity"));
        assert_eq!(any_value_to_plain(&av(V::DoubleValue(f64::NEG_INFINITY))), json!("-Infinity"));
        assert_eq!(any_value_to_plain(&av(V::BytesValue(vec![0, 1, 2, 254, 255]))), json!("AAEC/v8="));
        assert_eq!(any_value_to_plain(&AnyValue { value: None }), Value::Null);
        assert_eq!(
            any_value_to_plain(&av(V::ArrayValue(ArrayValue {
                values: vec![av(V::IntValue(1)), av(s("two")), AnyValue { value: None }],
            }))),
            json!([1, "two", null])
        );
        assert_eq!(
            any_value_to_plain(&av(V::KvlistValue(KeyValueList {
                values: vec![kv("a", V::BoolValue(false)), kv("b", V::DoubleValue(2.0))],
            }))),
            json!({"a": false, "b": 2.0})
        );
    }

    #[test]
    fn attributes_to_plain_builds_an_object() {
        let plain = attributes_to_plain(&all_attrs());
        assert_eq!(plain["str"], json!("hello \"world\" ✓"));
        assert_eq!(plain["int"], json!(i64::MIN));
        assert_eq!(plain["bytes"], json!("AAEC/v8="));
        assert_eq!(plain["array"], json!(["a", 7, null, []]));
        assert_eq!(plain["kvlist"], json!({"inner": 1.5, "deeper": {"x": true}}));
        assert_eq!(plain["empty.value"], Value::Null);
        assert_eq!(plain["no.value"], Value::Null);
        assert_eq!(plain.len(), all_attrs().len());
        let dup = vec![kv("k", s("first")), kv("k", s("second"))];
        assert_eq!(attributes_to_plain(&dup)["k"], json!("second"));
    }
}
