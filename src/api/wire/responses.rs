//! The JSON shapes of the `/api/v1` answers. Times are unix nanoseconds, ids lowercase hex.

use crate::enums::{LintSeverity, MetricType, SpanKind, StatusCode};
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
    /// Filter syntax errors only: the 1-based column of the mistake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
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
    /// Spans acknowledged but not stored again, since this process started: a span with the same
    /// trace id and span id was stored already (a retry, a redelivery), and the first copy is kept.
    #[serde(default)]
    pub duplicate_spans: u64,
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
    /// What each pipeline component did: received, sent, dropped, refused items.
    #[serde(default)]
    pub components: Vec<ComponentStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ComponentStatus {
    /// The pipeline id, or `*` for a shared exporter or connector.
    pub pipeline: String,
    /// `processor/filter/noise`, `exporter/otlphttp`, `connector/spanmetrics`.
    pub component: String,
    pub signal: String,
    pub received: u64,
    pub sent: u64,
    pub dropped: u64,
    pub refused: u64,
    pub queued: u64,
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
    pub code: StatusCode,
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
    pub kind: SpanKind,
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
    pub kind: MetricType,
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
    pub kind: MetricType,
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
    pub severity: LintSeverity,
    pub message: String,
    pub count: i64,
    pub examples: Vec<LintExample>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LintResponse {
    pub findings: Vec<LintFinding>,
}

/// Figures of one operation (span name and kind) of a service over the window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OperationStats {
    pub name: String,
    pub kind: SpanKind,
    pub spans: i64,
    pub errors: i64,
    pub rate_per_s: f64,
    /// 0-100.
    pub error_pct: f64,
    /// Exact (nearest-rank) duration percentiles.
    pub p50_ns: i64,
    pub p95_ns: i64,
    pub p99_ns: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceStats {
    pub name: String,
    pub spans: i64,
    pub errors: i64,
    pub rate_per_s: f64,
    /// 0-100.
    pub error_pct: f64,
    pub p50_ns: i64,
    pub p95_ns: i64,
    pub p99_ns: i64,
    /// The busiest first, at most 100.
    pub operations: Vec<OperationStats>,
}

/// `GET /api/v1/services/stats`: spans starting in the window, per service and operation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceStatsResponse {
    /// The seconds the figures cover (rates are per second of it).
    pub window_s: f64,
    /// The window held more spans than one request aggregates (200,000): the figures are of its
    /// newest spans, and `window_s` is the time they cover.
    pub sampled: bool,
    /// By name.
    pub services: Vec<ServiceStats>,
}

/// Calls from spans of `parent` to child spans in `child` (another service, same trace).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DependencyEdge {
    pub parent: String,
    pub child: String,
    pub calls: i64,
    /// Child spans with error status.
    pub errors: i64,
}

/// `GET /api/v1/dependencies`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DependenciesResponse {
    /// Most calls first.
    pub edges: Vec<DependencyEdge>,
    /// Only the newest part of the window was looked at (see `ServiceStatsResponse::sampled`).
    pub sampled: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ToolUsage {
    pub name: String,
    pub calls: i64,
    pub errors: i64,
}

/// One LLM-agent run: a trace with `gen_ai.*` spans, summarised.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmRun {
    pub trace_id: String,
    /// The `run_id` attribute ("" when the spans have none).
    pub run_id: String,
    /// `gen_ai.agent.name` ("" when none).
    pub agent: String,
    pub root_service: String,
    pub root_name: String,
    pub start_unix_nano: i64,
    pub duration_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    /// Distinct `gen_ai.request.model` values, sorted.
    pub models: Vec<String>,
    /// Model calls: GenAI spans other than `invoke_agent`/`create_agent`/`execute_tool`.
    pub llm_calls: i64,
    /// Sums of `gen_ai.usage.input_tokens` / `output_tokens` over the model calls.
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// `execute_tool` spans, and those with error status.
    pub tool_calls: i64,
    pub tool_errors: i64,
    /// By `gen_ai.tool.name`, most calls first.
    pub tools: Vec<ToolUsage>,
}

/// `GET /api/v1/llm/runs`: newest first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmRunsResponse {
    pub runs: Vec<LlmRun>,
}
