//! The JSON shapes of the `/api/v1` query API, defined once. Times are unix nanoseconds, ids
//! lowercase hex. (The UI issue moves these into a crate shared with the wasm UI.)

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SignalCounts {
    pub spans: u64,
    pub logs: u64,
    pub metric_points: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StorageStatus {
    pub path: String,
    pub bytes: i64,
    pub spans: i64,
    pub logs: i64,
    pub metric_points: i64,
    pub retention_s: Option<u64>,
    pub max_bytes: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IngestStatus {
    pub accepted: SignalCounts,
    pub refused: SignalCounts,
    pub rejected: SignalCounts,
    pub dropped: SignalCounts,
    /// When data was last stored (0 = never): `wait --idle` and `run` watch it.
    pub last_accepted_unix_nano: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Endpoints {
    pub otlp_grpc: String,
    pub otlp_http: String,
    pub ui: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StatusResponse {
    pub version: String,
    pub uptime_s: f64,
    pub endpoints: Endpoints,
    pub storage: StorageStatus,
    pub ingest: IngestStatus,
    pub pipelines: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Service {
    pub name: String,
    pub spans: i64,
    pub errors: i64,
    pub last_seen_unix_nano: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServicesResponse {
    pub services: Vec<Service>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_service: String,
    pub root_name: String,
    pub start_unix_nano: i64,
    pub duration_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    pub services: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TracesResponse {
    pub traces: Vec<TraceSummary>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SpanStatus {
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Scope {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SpanEvent {
    pub name: String,
    pub time_unix_nano: i64,
    pub attributes: Map<String, Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SpanLink {
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Map<String, Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub kind: String,
    pub service: String,
    pub start_unix_nano: i64,
    pub end_unix_nano: i64,
    pub duration_ns: i64,
    pub status: SpanStatus,
    pub attributes: Map<String, Value>,
    pub resource: Map<String, Value>,
    pub scope: Scope,
    pub events: Vec<SpanEvent>,
    pub links: Vec<SpanLink>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TraceResponse {
    pub trace_id: String,
    pub spans: Vec<Span>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SpansResponse {
    pub spans: Vec<Span>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogRecord {
    pub time_unix_nano: i64,
    pub observed_time_unix_nano: i64,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: Value,
    pub service: String,
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Map<String, Value>,
    pub resource: Map<String, Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogsResponse {
    pub logs: Vec<LogRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Metric {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub unit: String,
    pub description: String,
    pub series: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricsResponse {
    pub metrics: Vec<Metric>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Series {
    pub labels: Map<String, Value>,
    /// `[t_unix_nano, value]` pairs, oldest first.
    pub points: Vec<(i64, f64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SeriesResponse {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub agg: String,
    pub step_ns: i64,
    pub series: Vec<Series>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CountResponse {
    pub count: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LintExample {
    pub trace_id: String,
    pub span_id: String,
    pub service: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LintFinding {
    pub rule: String,
    /// `error` or `warning`.
    pub severity: String,
    pub message: String,
    pub count: i64,
    pub examples: Vec<LintExample>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LintResponse {
    pub findings: Vec<LintFinding>,
}
