//! OTLP/JSON encoding and decoding (traces, metrics, logs), plus plain JSON for attribute values.
//!
//! Decoding fills the messages as serde_json reads the body (`decode`; opentelemetry-proto's serde
//! feature is off): it accepts lowerCamelCase and snake_case keys, integers as strings or numbers,
//! enums as numbers or names, and reports errors with a JSON path. Encoding follows the Collector
//! file exporter format.
//!
//! One file per signal, as the Collector keeps ptrace, pmetric and plog apart: `traces`, `metrics`
//! and `logs` hold their messages both ways; `common` holds the field names and what every signal
//! shares (AnyValue, attributes, resource, scope); `decode` the decoding machinery.

#[macro_use]
mod decode;
mod common;
mod logs;
mod metrics;
mod traces;

#[cfg(test)]
mod tests;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::f64_json;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use serde_json::{Map, Value};

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
    traces::decode(body)
}

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
pub fn decode_metrics(body: &[u8]) -> Result<ExportMetricsServiceRequest, JsonError> {
    metrics::decode(body)
}

/// Decodes an OTLP/JSON `ExportLogsServiceRequest`.
pub fn decode_logs(body: &[u8]) -> Result<ExportLogsServiceRequest, JsonError> {
    logs::decode(body)
}

/// Encodes traces as OTLP/JSON (Collector file exporter format).
pub fn encode_traces(req: &ExportTraceServiceRequest) -> Value {
    traces::encode(req)
}

/// Encodes metrics as OTLP/JSON (Collector file exporter format).
pub fn encode_metrics(req: &ExportMetricsServiceRequest) -> Value {
    metrics::encode(req)
}

/// Encodes logs as OTLP/JSON (Collector file exporter format).
pub fn encode_logs(req: &ExportLogsServiceRequest) -> Value {
    logs::encode(req)
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
