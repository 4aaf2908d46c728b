//! The JSON shapes of the `/api/v1` answers. Times are unix nanoseconds, ids lowercase hex.

use crate::enums::{EdgeSeverity, LintSeverity, MetricType, SpanKind, StatsBasis, StatusCode};
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
    /// Span rows in complete ranges waiting to be packed: the writer packs them while idle (a
    /// packed span takes about a fifth of the disk of a row and its trace index entry).
    #[serde(default)]
    pub spans_to_pack: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IngestStatus {
    /// Items the receivers took and acknowledged to their senders since start: what the pipelines
    /// received (processors may then drop some: `dropped`; `stored` is what reached the database).
    pub accepted: SignalCounts,
    pub refused: SignalCounts,
    pub rejected: SignalCounts,
    /// Dropped on purpose by processors (sampling, filtering).
    pub dropped: SignalCounts,
    /// Written to the database since start (spans already stored not counted again). Includes what
    /// connectors and scrapers made (span metrics, host metrics), which no sender sent.
    #[serde(default)]
    pub stored: SignalCounts,
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
    /// What each pipeline component did: received, sent, dropped, refused items. In pipeline
    /// order: each pipeline's processors as it lists them (pipelines as the config lists them), then
    /// the exporters and connectors they share (pipeline `*`).
    #[serde(default)]
    pub components: Vec<ComponentStatus>,
    /// Every configured receiver: where it listens (`otlp`, `zipkin`, `jaeger`) or what it reads
    /// (the scrapers' targets, filelog's files), and the pipelines it feeds.
    #[serde(default)]
    pub receivers: Vec<ReceiverStatus>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ReceiverStatus {
    /// `otlp`, `zipkin`, `jaeger/agent`, `nginx`.
    pub id: String,
    /// The pipelines that list it; none: configured but not run.
    pub pipelines: Vec<String>,
    /// The addresses it listens on.
    pub endpoints: Vec<ReceiverEndpoint>,
    /// What it scrapes or reads: URLs, `host:port`, file globs.
    #[serde(default)]
    pub targets: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReceiverEndpoint {
    /// `grpc`, `http` or `udp`.
    pub protocol: String,
    /// `http://127.0.0.1:9411`, `udp://127.0.0.1:6831`.
    pub url: String,
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
    /// How many traces match in all (`traces` is the first `limit` of them in the chosen order):
    /// always when the page has room; for a full page only when asked (`total=true`), counted up
    /// to 10,000 (1,000 for a search relating spans with `->` or `then`) and for at most 250 ms.
    /// None: not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Counting stopped (at the cap or the time limit): `total` match, and maybe more.
    #[serde(default)]
    pub total_capped: bool,
    /// Why an empty answer may be empty: a key or service the search names that nothing stored
    /// has, with the closest one that exists ("no span or resource has the attribute `htp.method`;
    /// did you mean `http.method`?").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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
    /// How many spans match in all (see `TracesResponse::total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Counting stopped: `total` match, and maybe more.
    #[serde(default)]
    pub total_capped: bool,
    /// Why an empty answer may be empty (see `TracesResponse::warnings`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogRecord {
    pub time_unix_nano: i64,
    pub observed_time_unix_nano: i64,
    pub severity_number: i32,
    pub severity_text: String,
    /// OTLP's `event_name` ("" for a plain log record): what an event record is, such as
    /// `gen_ai.user.message`, whose role it alone carries.
    #[serde(default)]
    pub event_name: String,
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
    /// How many log records match in all (see `TracesResponse::total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Counting stopped: `total` match, and maybe more.
    #[serde(default)]
    pub total_capped: bool,
    /// Why an empty answer may be empty (see `TracesResponse::warnings`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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
    /// Measurements the SDK kept with the points, each with the span it was made in: the one of
    /// highest value per step, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<Exemplar>,
    /// `agg=buckets` (histograms): the bucket counts behind each point, for a heatmap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<BucketCounts>,
}

/// A measurement kept with a metric point, and the trace and span it was made in.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Exemplar {
    pub time_unix_nano: i64,
    pub value: f64,
    pub trace_id: String,
    pub span_id: String,
}

/// A histogram's observations per bucket at each point of its series.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BucketCounts {
    /// Upper bounds, ascending; the last bucket (one past them) is +Inf.
    pub bounds: Vec<f64>,
    /// One row per point of the series (same order), `bounds.len() + 1` counts each.
    pub counts: Vec<Vec<f64>>,
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

/// Log records of one severity class (OTLP severity numbers 1-4 trace, 5-8 debug, 9-12 info,
/// 13-16 warn, 17-20 error, 21-24 fatal; anything else unset).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct SeverityCounts {
    pub unset: i64,
    pub trace: i64,
    pub debug: i64,
    pub info: i64,
    pub warn: i64,
    pub error: i64,
    pub fatal: i64,
}

impl SeverityCounts {
    /// The classes in order of severity, with their names.
    pub fn by_class(&self) -> [(&'static str, i64); 7] {
        [
            ("unset", self.unset),
            ("trace", self.trace),
            ("debug", self.debug),
            ("info", self.info),
            ("warn", self.warn),
            ("error", self.error),
            ("fatal", self.fatal),
        ]
    }

    pub fn total(&self) -> i64 {
        self.by_class().iter().map(|(_, n)| n).sum()
    }
}

/// The log records of one time step.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogBucket {
    pub start_unix_nano: i64,
    pub counts: SeverityCounts,
}

/// `GET /api/v1/logs/histogram`: the matching log records counted per time step and severity.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogHistogramResponse {
    /// The window counted (its end is now when the request gave none).
    pub start_unix_nano: i64,
    pub end_unix_nano: i64,
    /// A round duration (1s, 2s, 5s, 10s, 30s, 1m, ...); steps start at multiples of it.
    pub step_ns: i64,
    /// Every step of the window, empty ones included, oldest first.
    pub buckets: Vec<LogBucket>,
    /// Every match in the window.
    pub total: i64,
    /// Why an empty answer may be empty (see `TracesResponse::warnings`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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

/// A stored span that names a parent which is not stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WaitingSpan {
    pub span_id: String,
    pub name: String,
    pub service: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MissingParent {
    pub parent_span_id: String,
    /// How many stored spans name this parent.
    pub children: i64,
    /// The first few of them.
    pub waiting: Vec<WaitingSpan>,
}

/// A trace some of whose spans name a parent that has not arrived.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IncompleteTrace {
    pub trace_id: String,
    /// Whether its root span (one without a parent) is stored.
    pub has_root: bool,
    pub missing_parents: Vec<MissingParent>,
}

/// `GET /api/v1/traces/incomplete`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IncompleteTracesResponse {
    /// Incomplete traces in all (`traces` lists the oldest `limit` of them).
    pub incomplete: i64,
    pub traces: Vec<IncompleteTrace>,
}

/// Figures of one operation (span name and kind) of a service over the window: every span of that
/// name and kind, whatever the service's `basis`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OperationStats {
    pub name: String,
    pub kind: SpanKind,
    pub spans: i64,
    pub errors: i64,
    /// `spans` per second of the response's `window_s`.
    pub rate_per_s: f64,
    /// 0-100.
    pub error_pct: f64,
    /// Exact (nearest-rank) duration percentiles.
    pub p50_ns: i64,
    pub p95_ns: i64,
    pub p99_ns: i64,
}

/// Spans and errors of one span kind.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct KindCount {
    pub spans: i64,
    /// Those with error status.
    pub errors: i64,
}

/// A service's spans in the window by kind. `unspecified` spans count as `internal` (what the OTLP
/// spec lets receivers assume), so the five add up to the service's `spans`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct KindCounts {
    pub server: KindCount,
    pub client: KindCount,
    pub internal: KindCount,
    pub producer: KindCount,
    pub consumer: KindCount,
}

/// A service's figures over the window, the way Jaeger's Monitor tab (SPM), Grafana's RED panels and
/// the Aspire dashboard show them: of the requests it serves, not of every span it records. Its
/// requests are its entry spans (kinds `server` and `consumer`); a service with none in the window
/// (a batch job, a CLI, an agent run in-process) is measured by its root spans instead, and one with
/// neither by all its spans; `basis` says which. Its client, internal and producer spans are the work
/// it does for those requests: they are counted in `spans` and `by_kind` but not in the figures.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceStats {
    pub name: String,
    /// Which spans `requests`, `errors`, `rate_per_s`, `error_pct` and the percentiles are of.
    #[serde(default)]
    pub basis: StatsBasis,
    /// Spans on the basis: the service's requests.
    #[serde(default)]
    pub requests: i64,
    /// Every span of the service in the window, any kind.
    pub spans: i64,
    /// Requests with error status.
    pub errors: i64,
    /// `requests` per second of the response's `window_s`.
    pub rate_per_s: f64,
    /// `errors` of `requests`, 0-100.
    pub error_pct: f64,
    /// Exact (nearest-rank) duration percentiles of the requests.
    pub p50_ns: i64,
    pub p95_ns: i64,
    pub p99_ns: i64,
    /// All the service's spans (`spans`) by kind, with their errors.
    #[serde(default)]
    pub by_kind: KindCounts,
    /// The busiest first, at most 100.
    pub operations: Vec<OperationStats>,
}

/// `GET /api/v1/services/stats`: spans starting in the window, per service and operation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServiceStatsResponse {
    /// The seconds the figures cover; rates are per second of it. The time from the first to the
    /// last start of the spans aggregated (`covered_from_unix_nano` to `covered_to_unix_nano`), at
    /// least 60 s but never more than the window up to now: a window of an hour whose data arrived
    /// during the last ten minutes gives rates per second of those ten minutes. 0 with no spans.
    pub window_s: f64,
    /// The window held more spans than one request aggregates (200,000): the figures are of its
    /// newest spans, and `window_s` is the time they cover.
    pub sampled: bool,
    /// The first and the last start of the aggregated spans (0 with no spans).
    #[serde(default)]
    pub covered_from_unix_nano: i64,
    #[serde(default)]
    pub covered_to_unix_nano: i64,
    /// By name.
    pub services: Vec<ServiceStats>,
}

/// Calls from spans of `parent` to child spans in `child` (another service, same trace).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DependencyEdge {
    pub parent: String,
    pub child: String,
    pub calls: i64,
    /// Child spans with error status.
    pub errors: i64,
    /// `errors` of `calls`, 0-100.
    #[serde(default)]
    pub error_pct: f64,
    /// `error_pct` against the response's `thresholds`: what to colour the edge by.
    #[serde(default)]
    pub severity: EdgeSeverity,
    /// Both services lie on one cycle of calls (they call each other, directly or through others:
    /// one of the response's `cycles`).
    #[serde(default)]
    pub in_cycle: bool,
    /// The edge closes a cycle: it leads back to a service the calls came through. Without the back
    /// edges the graph has no cycles, so a map can lay callers out before callees and draw these
    /// apart (routed around the nodes, dashed). Chosen by a depth-first walk that starts from the
    /// services nobody calls, then from the others, each by name: for gateway -> a -> b -> c -> a it
    /// is c -> a.
    #[serde(default)]
    pub back: bool,
}

/// The error percentages at which an edge turns `warn` and `error`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct EdgeThresholds {
    /// From this percentage of failed calls on (default 1), `warn`.
    pub warn_pct: f64,
    /// From this percentage on (default 5), `error`.
    pub error_pct: f64,
}

impl Default for EdgeThresholds {
    fn default() -> Self {
        EdgeThresholds {
            warn_pct: 1.0,
            error_pct: 5.0,
        }
    }
}

/// `GET /api/v1/dependencies`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DependenciesResponse {
    /// Most calls first.
    pub edges: Vec<DependencyEdge>,
    /// Services that call each other in a cycle: one list per strongly connected component of more
    /// than one service, each by name, the lists by their first name.
    #[serde(default)]
    pub cycles: Vec<Vec<String>>,
    /// The error percentages edges' `severity` is graded by.
    #[serde(default)]
    pub thresholds: EdgeThresholds,
    /// Only the newest part of the window was looked at (see `ServiceStatsResponse::sampled`).
    pub sampled: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ToolUsage {
    pub name: String,
    pub calls: i64,
    pub errors: i64,
}

/// Token counts under OTel's rule: `input` includes cache reads and writes, `output` includes reasoning;
/// the other three are parts of them, never added on top. 0 when not reported.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LlmTokens {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_creation: i64,
    pub reasoning: i64,
}

/// A sum of costs in USD and where they came from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmCost {
    pub usd: f64,
    /// `reported` (every cost sent by the instrumentation), `computed` (every one from the price
    /// table), or `mixed`.
    pub source: String,
    /// The price table of the computed costs, with its date ("" when none was computed).
    pub table: String,
    /// Model calls with tokens but no cost: their model is not in the price table.
    pub unpriced_calls: i64,
}

/// A deterministic finding on a run: `repeated_tool_call`, `retry_storm` or `loop`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunFlag {
    pub kind: String,
    pub message: String,
}

/// One LLM or agent run: a trace holding a span of any LLM dialect, summarised from its spans
/// normalized (`src/llm`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmRun {
    pub trace_id: String,
    /// `run_id` ("" when the spans have none).
    pub run_id: String,
    /// The first agent name among the spans ("" when none).
    pub agent: String,
    /// The conversation or session id ("" when none).
    pub session_id: String,
    pub user_id: String,
    pub root_service: String,
    pub root_name: String,
    pub start_unix_nano: i64,
    pub duration_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    /// Distinct models of the model calls (request model, else response model), sorted.
    pub models: Vec<String>,
    pub providers: Vec<String>,
    /// The conventions the run's spans speak: `otel_genai`, `openinference`, `traceloop`, ...
    pub dialects: Vec<String>,
    /// Chat and completion calls.
    pub llm_calls: i64,
    pub embedding_calls: i64,
    /// `tokens.input` and `tokens.output`, kept for existing clients.
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub tokens: LlmTokens,
    pub cost: Option<LlmCost>,
    pub tool_calls: i64,
    pub tool_errors: i64,
    /// By tool name, most calls first.
    pub tools: Vec<ToolUsage>,
    pub flags: Vec<RunFlag>,
}

/// One call's cost: `reported` with the attribute it came from, or `computed` from a price table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CallCost {
    pub usd: f64,
    pub source: String,
    /// The attribute (reported), "" otherwise.
    pub key: String,
    /// The price table (computed), "" otherwise.
    pub table: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MissingKey {
    pub dialect: String,
    pub key: String,
}

/// One piece of a message. `text` and `reasoning` have `content`; `tool_call` has `id`, `name` and
/// `arguments`; `tool_call_response` has `id` and `content`; `other` (media) has its kind in `name`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessagePart {
    #[serde(rename = "type")]
    pub kind: String,
    pub content: String,
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, `tool`, or what the sender said.
    pub role: String,
    pub parts: Vec<MessagePart>,
    pub finish_reason: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallMessages {
    /// Instructions sent apart from the chat history.
    pub system_instructions: Vec<MessagePart>,
    pub input: Vec<ChatMessage>,
    pub output: Vec<ChatMessage>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ToolExecution {
    pub name: String,
    pub call_id: String,
    pub arguments: String,
    pub result: String,
    /// `ok` or `error`.
    pub status: String,
    pub error: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PromptRef {
    pub name: String,
    pub version: String,
}

/// One LLM or agent span of a run, normalized.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmCall {
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub service: String,
    pub start_unix_nano: i64,
    pub duration_ns: i64,
    /// `agent`, `llm_call`, `embeddings`, `retrieval`, `tool`, `workflow` or `other`.
    pub operation: String,
    pub dialects: Vec<String>,
    /// Keys its dialect expects for its operation that the span lacks.
    pub missing_keys: Vec<MissingKey>,
    /// `ok` or `error`.
    pub status: String,
    pub error: String,
    pub provider: String,
    pub request_model: String,
    pub response_model: String,
    pub agent: String,
    pub session_id: String,
    pub run_id: String,
    pub tokens: LlmTokens,
    pub cost: Option<CallCost>,
    pub tool: Option<ToolExecution>,
    pub finish_reasons: Vec<String>,
    pub prompt: Option<PromptRef>,
    pub messages: CallMessages,
    /// Index into `messages.input` where the messages not shown by an earlier call of the run begin
    /// (chat APIs resend the whole history every call).
    pub new_input_from: usize,
}

/// `GET /api/v1/llm/runs/{trace_id}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmRunResponse {
    pub run: LlmRun,
    /// Every LLM and agent span of the run, in start order.
    pub spans: Vec<LlmCall>,
}

/// A conversation across runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmSession {
    pub session_id: String,
    pub user_id: String,
    pub runs: i64,
    pub first_start_unix_nano: i64,
    pub last_end_unix_nano: i64,
    pub agents: Vec<String>,
    pub models: Vec<String>,
    pub llm_calls: i64,
    pub tool_calls: i64,
    pub errors: i64,
    pub tokens: LlmTokens,
    pub cost: Option<LlmCost>,
}

/// `GET /api/v1/llm/sessions`: the latest active first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmSessionsResponse {
    pub sessions: Vec<LlmSession>,
    /// Only the newest LLM spans of the window were read (see `src/store/llm.rs`, `MAX_WINDOW_ROWS`).
    pub sampled: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmModelUsage {
    pub model: String,
    pub provider: String,
    pub calls: i64,
    pub errors: i64,
    pub latency_p50_ns: i64,
    pub latency_p95_ns: i64,
    pub output_tokens_per_second: f64,
    pub tokens: LlmTokens,
    pub cost: Option<LlmCost>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmAgentUsage {
    pub agent: String,
    pub runs: i64,
    pub llm_calls: i64,
    pub tool_calls: i64,
    pub tool_errors: i64,
    pub errors: i64,
    /// Of the runs (first LLM span's start to last one's end).
    pub latency_p50_ns: i64,
    pub latency_p95_ns: i64,
    pub tokens: LlmTokens,
    pub cost: Option<LlmCost>,
}

/// `GET /api/v1/llm/models`: the most called first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmModelsResponse {
    pub models: Vec<LlmModelUsage>,
    pub agents: Vec<LlmAgentUsage>,
    pub sampled: bool,
}

/// `GET /api/v1/llm/runs`: newest first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LlmRunsResponse {
    pub runs: Vec<LlmRun>,
    /// How many runs match in all (see `TracesResponse::total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Counting stopped: `total` match, and maybe more.
    #[serde(default)]
    pub total_capped: bool,
    /// Why an empty answer may be empty (see `TracesResponse::warnings`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
