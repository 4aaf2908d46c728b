//! Jaeger's `api_v2` protobuf messages (`model.proto`, `collector.proto`), written out with
//! prost's derive rather than generated, and their conversion to the shared model. The gogoproto
//! options of the originals do not change the wire format; the ids are bytes: a trace id of 16
//! bytes (or 8, the low half), a span id of exactly 8.

use super::model::{
    Batch as ModelBatch, JaegerSpan, Log as ModelLog, Process as ModelProcess, RefKind, SpanRef as ModelRef, Tag, TagValue,
};

/// The gRPC method the receiver serves.
pub const POST_SPANS_PATH: &str = "/jaeger.api_v2.CollectorService/PostSpans";

#[derive(Clone, PartialEq, prost::Message)]
pub struct PostSpansRequest {
    #[prost(message, optional, tag = "1")]
    pub batch: Option<Batch>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PostSpansResponse {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Batch {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<Span>,
    #[prost(message, optional, tag = "2")]
    pub process: Option<Process>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Span {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub operation_name: String,
    #[prost(message, repeated, tag = "4")]
    pub references: Vec<SpanRef>,
    #[prost(uint32, tag = "5")]
    pub flags: u32,
    #[prost(message, optional, tag = "6")]
    pub start_time: Option<Timestamp>,
    #[prost(message, optional, tag = "7")]
    pub duration: Option<Timestamp>,
    #[prost(message, repeated, tag = "8")]
    pub tags: Vec<KeyValue>,
    #[prost(message, repeated, tag = "9")]
    pub logs: Vec<Log>,
    #[prost(message, optional, tag = "10")]
    pub process: Option<Process>,
    #[prost(string, tag = "11")]
    pub process_id: String,
    #[prost(string, repeated, tag = "12")]
    pub warnings: Vec<String>,
}

/// `google.protobuf.Timestamp` and `Duration` share this shape.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SpanRef {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(int32, tag = "3")]
    pub ref_type: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Process {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(message, repeated, tag = "2")]
    pub tags: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Log {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(message, repeated, tag = "2")]
    pub fields: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    /// STRING 0, BOOL 1, INT64 2, FLOAT64 3, BINARY 4 (not thrift's order).
    #[prost(int32, tag = "2")]
    pub v_type: i32,
    #[prost(string, tag = "3")]
    pub v_str: String,
    #[prost(bool, tag = "4")]
    pub v_bool: bool,
    #[prost(int64, tag = "5")]
    pub v_int64: i64,
    #[prost(double, tag = "6")]
    pub v_float64: f64,
    #[prost(bytes = "vec", tag = "7")]
    pub v_binary: Vec<u8>,
}

/// The model of a `PostSpans` batch; an id of the wrong length refuses the request, as Jaeger's
/// decoder does.
pub fn to_model(request: PostSpansRequest) -> Result<ModelBatch, String> {
    let Some(batch) = request.batch else {
        return Ok(ModelBatch::default());
    };
    let spans = batch.spans.into_iter().map(span).collect::<Result<Vec<_>, _>>()?;
    Ok(ModelBatch {
        process: batch.process.map(process),
        spans,
    })
}

fn span(span: Span) -> Result<JaegerSpan, String> {
    let start = span.start_time.map_or(0, unix_nanos);
    let duration = span.duration.map_or(0, unix_nanos);
    Ok(JaegerSpan {
        trace_id: trace_id(&span.trace_id)?,
        span_id: span_id(&span.span_id)?,
        parent_span_id: 0,
        operation_name: span.operation_name,
        references: span
            .references
            .into_iter()
            .map(|r| {
                Ok(ModelRef {
                    kind: match r.ref_type {
                        0 => RefKind::ChildOf,
                        1 => RefKind::FollowsFrom,
                        other => RefKind::Other(other),
                    },
                    trace_id: trace_id(&r.trace_id)?,
                    span_id: span_id(&r.span_id)?,
                })
            })
            .collect::<Result<_, String>>()?,
        flags: span.flags,
        start_unix_nano: start,
        end_unix_nano: start.wrapping_add(duration),
        tags: span.tags.into_iter().map(tag).collect(),
        logs: span
            .logs
            .into_iter()
            .map(|log| ModelLog {
                unix_nano: log.timestamp.map_or(0, unix_nanos),
                fields: log.fields.into_iter().map(tag).collect(),
            })
            .collect(),
        process: span.process.map(process),
    })
}

fn process(process: Process) -> ModelProcess {
    ModelProcess {
        service_name: process.service_name,
        tags: Some(process.tags.into_iter().map(tag).collect()),
    }
}

fn tag(kv: KeyValue) -> Tag {
    let value = match kv.v_type {
        0 => TagValue::Str(kv.v_str),
        1 => TagValue::Bool(kv.v_bool),
        2 => TagValue::Long(kv.v_int64),
        3 => TagValue::Double(kv.v_float64),
        4 => TagValue::Binary(kv.v_binary),
        other => TagValue::Unknown(other.to_string()),
    };
    Tag { key: kv.key, value }
}

fn unix_nanos(t: Timestamp) -> u64 {
    (t.seconds as u64).wrapping_mul(1_000_000_000).wrapping_add(t.nanos as u64)
}

/// 16 bytes, or 8 (a 64-bit id: the high half is zero); absent is the zero id.
fn trace_id(bytes: &[u8]) -> Result<[u8; 16], String> {
    let mut id = [0u8; 16];
    match bytes.len() {
        0 => {}
        8 => id[8..].copy_from_slice(bytes),
        16 => id.copy_from_slice(bytes),
        n => return Err(format!("invalid length for a trace id: {n} bytes (expected 16 or 8)")),
    }
    Ok(id)
}

fn span_id(bytes: &[u8]) -> Result<u64, String> {
    match <[u8; 8]>::try_from(bytes) {
        Ok(id) => Ok(u64::from_be_bytes(id)),
        Err(_) if bytes.is_empty() => Ok(0),
        Err(_) => Err(format!("invalid length for a span id: {} bytes (expected 8)", bytes.len())),
    }
}
