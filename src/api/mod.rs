//! The query API and operational endpoints on the UI port: `/api/v1/...` JSON, live SSE tails,
//! `/healthz`, `/readyz`, `/metrics`. The only module that knows the wire JSON shapes.

pub mod convert;
mod prometheus;
pub mod ui;
/// The API contract (a crate of its own, shared with the CLI and the wasm UI).
pub use otelbox_wire as wire;

use crate::pdata::{Signal, TraceId};
use crate::query::FilterError;
use crate::store::read::{self, LogQuery, TimeRange, TraceQuery};
use crate::store::series::{self, Agg};
use crate::store::sql::{compile_text, SqlFilter, Target};
use crate::store::stats;
use crate::store::{Store, StoreError};
use crate::telemetry::IngestStats;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::stream::Stream;
use prometheus::render_prometheus;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wire::routes;
use wire::{
    CountParams, FilterParams, LlmRunsParams, LoginRequest, LogsParams, SeriesParams, SpansParams, StreamParams, TracesParams,
    WindowOnlyParams, WindowParams,
};

pub struct ApiState {
    pub store: Arc<Store>,
    pub ingest: Arc<IngestStats>,
    pub started: Instant,
    pub endpoints: wire::Endpoints,
    pub retention: crate::store::retention::Retention,
    pub pipelines: Vec<String>,
    pub components: Arc<crate::telemetry::Components>,
    /// False until every listener is serving, and again once shutdown starts.
    pub ready: AtomicBool,
    /// Tokens for the API and UI data (empty: open, the loopback default).
    pub api_tokens: crate::auth::Tokens,
    /// Whether the UI port serves TLS (the login cookie is then `Secure`).
    pub tls: bool,
    /// The UI's logins (session ids in memory).
    pub sessions: crate::auth::Sessions,
}

impl ApiState {
    /// A `q=` filter, compiled knowing what the stored resources hold (`store::resource_attrs`).
    fn compile(&self, q: Option<&str>, target: Target) -> Result<SqlFilter, FilterError> {
        compile_text(q, target, &*self.store.resource_attrs())
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route(routes::HEALTHZ, get(|| async { "ok\n" }))
        .route(routes::READYZ, get(readyz))
        .route(routes::METRICS_TEXT, get(prometheus))
        .route(routes::STATUS, get(status))
        .route(routes::SERVICES, get(services))
        .route(routes::SERVICE_STATS, get(service_stats))
        .route(routes::DEPENDENCIES, get(dependencies))
        .route(routes::LLM_RUNS, get(llm_runs))
        .route(routes::TRACES, get(traces))
        .route(routes::TRACE, get(trace))
        .route(routes::TRACE_OTLP, get(trace_otlp))
        .route(routes::SPANS, get(spans))
        .route(routes::LOGS, get(logs))
        .route(routes::METRICS, get(metrics))
        .route(routes::METRIC_SERIES, get(metric_series))
        .route(routes::COUNT, get(count))
        .route(routes::EXPORT, get(export))
        .route(routes::LINT, get(lint))
        .route(routes::STREAM_SPANS, get(stream_spans))
        .route(routes::STREAM_LOGS, get(stream_logs))
        .route(routes::LOGIN, axum::routing::post(login))
        .route(routes::LOGOUT, axum::routing::post(logout))
        .route(routes::OTHER_API, get(unknown_api))
        .fallback(get(ui::serve))
        .layer(axum::middleware::from_fn_with_state(state.clone(), require_api_token))
        .with_state(state)
}

/// Every API error: `{error: {code, message}}` with a 4xx/5xx status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// For filter syntax errors: the 1-based column, so the UI can point at it.
    column: Option<usize>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            column: None,
        }
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<FilterError> for ApiError {
    fn from(err: FilterError) -> Self {
        let column = match &err {
            FilterError::Syntax(parse) => Some(parse.column),
            FilterError::Semantic(_) => None,
        };
        ApiError {
            column,
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_filter", err.to_string())
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "storage_error", err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = wire::ErrorBody {
            error: wire::ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                column: self.column,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// axum's `Query`, but a malformed query string (`limit=abc`) is the API's JSON error, not plain text.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// `start`/`end` (unix ns) and `since` (a duration back from now) as one time window.
fn optional_unix_ns(name: &str, text: &Option<String>) -> Result<Option<i64>, ApiError> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("{name}: expected unix nanoseconds, got '{t}'")))
        })
        .transpose()
}

/// The time range of a window, validated.
trait Range {
    fn range(&self, default_since: Option<Duration>) -> Result<TimeRange, ApiError>;
}

impl Range for WindowParams {
    fn range(&self, default_since: Option<Duration>) -> Result<TimeRange, ApiError> {
        let since = match &self.since {
            Some(s) => Some(crate::units::parse_duration(s).map_err(|e| ApiError::bad_request(format!("since: {e}")))?),
            None => default_since,
        };
        let end = optional_unix_ns("end", &self.end)?.unwrap_or(i64::MAX);
        let start = match (optional_unix_ns("start", &self.start)?, since) {
            (Some(start), _) => start,
            (None, Some(since)) => now_ns().saturating_sub(since.as_nanos() as i64),
            (None, None) => i64::MIN,
        };
        if start > end {
            return Err(ApiError::bad_request("start must not be after end"));
        }
        Ok(TimeRange { start, end })
    }
}

fn limit(requested: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    match requested {
        None => Ok(default),
        Some(0) => Err(ApiError::bad_request("limit must be at least 1")),
        Some(n) if n > max => Err(ApiError::bad_request(format!("limit must be at most {max}"))),
        Some(n) => Ok(n),
    }
}

fn parse_trace_id(text: &str) -> Result<TraceId, ApiError> {
    TraceId::parse_hex(text).ok_or_else(|| ApiError::bad_request(format!("'{text}' is not a trace id: expected 32 hex characters")))
}

async fn readyz(State(state): State<Arc<ApiState>>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn prometheus(State(state): State<Arc<ApiState>>, uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    if ui::wants_html(&headers) {
        return ui::serve(uri).await;
    }
    let text = render_prometheus(
        &state.ingest,
        &state.components,
        &state.store.stats,
        crate::memory::resident_bytes(),
        state.started.elapsed().as_secs_f64(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn status(State(state): State<Arc<ApiState>>) -> ApiResult<wire::StatusResponse> {
    let counts = state.store.read(read::counts).await?;
    let signal_counts = |field: fn(&crate::telemetry::SignalCounters) -> &std::sync::atomic::AtomicU64| wire::SignalCounts {
        spans: field(&state.ingest.traces).load(Ordering::Relaxed),
        logs: field(&state.ingest.logs).load(Ordering::Relaxed),
        metric_points: field(&state.ingest.metrics).load(Ordering::Relaxed),
    };
    Ok(Json(wire::StatusResponse {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_s: state.started.elapsed().as_secs_f64(),
        endpoints: state.endpoints.clone(),
        storage: wire::StorageStatus {
            path: state.store.display_path().to_string(),
            bytes: counts.bytes,
            spans: counts.spans,
            logs: counts.logs,
            metric_points: counts.metric_points,
            retention_s: state.retention.max_age.map(|d| d.as_secs()),
            max_bytes: state.retention.max_bytes,
        },
        ingest: wire::IngestStatus {
            accepted: signal_counts(|c| &c.accepted),
            refused: signal_counts(|c| &c.refused),
            rejected: signal_counts(|c| &c.rejected),
            dropped: wire::SignalCounts {
                spans: state.components.dropped(Signal::Traces),
                logs: state.components.dropped(Signal::Logs),
                metric_points: state.components.dropped(Signal::Metrics),
            },
            last_accepted_unix_nano: Signal::ALL
                .iter()
                .map(|s| state.ingest.signal(*s).last_accepted_ns.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0) as i64,
        },
        pipelines: state.pipelines.clone(),
        components: state
            .components
            .snapshot()
            .iter()
            // A shared exporter also shows with nothing received yet when it has work from an
            // earlier run (a persistent sending queue) or has sent or dropped any of it.
            .filter(|c| {
                c.pipeline != "*"
                    || [&c.received, &c.sent, &c.dropped, &c.queued]
                        .iter()
                        .any(|n| n.load(Ordering::Relaxed) > 0)
            })
            .map(|c| wire::ComponentStatus {
                pipeline: c.pipeline.clone(),
                component: c.component.clone(),
                signal: c.signal.as_str().to_string(),
                received: c.received.load(Ordering::Relaxed),
                sent: c.sent.load(Ordering::Relaxed),
                dropped: c.dropped.load(Ordering::Relaxed),
                refused: c.refused.load(Ordering::Relaxed),
                queued: c.queued.load(Ordering::Relaxed),
            })
            .collect(),
    }))
}

async fn services(State(state): State<Arc<ApiState>>) -> ApiResult<wire::ServicesResponse> {
    let services = state.store.read(read::services).await?;
    Ok(Json(wire::ServicesResponse {
        services: services
            .into_iter()
            .map(|s| wire::Service {
                name: s.name,
                spans: s.spans,
                errors: s.errors,
                last_seen_unix_nano: s.last_seen_ns,
            })
            .collect(),
    }))
}

/// The overview endpoints (service stats, dependencies, LLM runs) look at the last hour by default.
const OVERVIEW_WINDOW: Duration = Duration::from_secs(3600);

/// Rate, errors and duration percentiles per service and operation, over spans starting in the window.
async fn service_stats(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<WindowOnlyParams>,
) -> ApiResult<wire::ServiceStatsResponse> {
    let range = params.window.range(Some(OVERVIEW_WINDOW))?;
    let report = state
        .store
        .read(move |conn| stats::service_stats(conn, range, stats::MAX_SCAN))
        .await?;
    // The time covered ends now at the latest (an open or future end has seen no spans beyond now).
    let covered_ns = range.end.min(now_ns()).saturating_sub(report.covered_from_ns).max(0);
    Ok(Json(convert::service_stats(&report, covered_ns as f64 / 1e9)))
}

/// Calls between services, from parent/child spans of the same trace in different services.
async fn dependencies(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<WindowOnlyParams>,
) -> ApiResult<wire::DependenciesResponse> {
    let range = params.window.range(Some(OVERVIEW_WINDOW))?;
    let deps = state
        .store
        .read(move |conn| stats::dependencies(conn, range, stats::MAX_SCAN))
        .await?;
    Ok(Json(convert::dependencies(&deps)))
}

/// LLM-agent runs (traces with `gen_ai.*` spans), newest first, each with its model, token and tool figures.
async fn llm_runs(State(state): State<Arc<ApiState>>, ApiQuery(params): ApiQuery<LlmRunsParams>) -> ApiResult<wire::LlmRunsResponse> {
    let filter = state.compile(params.q.as_deref(), Target::Spans)?;
    let range = params.window.range(Some(OVERVIEW_WINDOW))?;
    let limit = limit(params.limit, 50, 500)?;
    let run_id = non_empty(&params.run_id);
    let runs = state
        .store
        .read({
            let resources = state.store.resource_attrs();
            move |conn| stats::llm_runs(conn, &*resources, &filter, run_id.as_deref(), range, limit)
        })
        .await?;
    Ok(Json(wire::LlmRunsResponse {
        runs: runs.iter().map(convert::llm_run).collect(),
    }))
}

fn optional_duration_ns(name: &str, text: &Option<String>) -> Result<Option<i64>, ApiError> {
    text.as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| {
            crate::units::parse_duration(t)
                .map(|d| d.as_nanos() as i64)
                .map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
        })
        .transpose()
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.trim().is_empty())
}

async fn traces(State(state): State<Arc<ApiState>>, ApiQuery(params): ApiQuery<TracesParams>) -> ApiResult<wire::TracesResponse> {
    let filter = state.compile(params.q.as_deref(), Target::Spans)?;
    let range = params.window.range(None)?;
    let limit = limit(params.limit, 20, 1000)?;
    let query = TraceQuery {
        service: non_empty(&params.service),
        min_duration_ns: optional_duration_ns("min_duration", &params.min_duration)?,
        max_duration_ns: optional_duration_ns("max_duration", &params.max_duration)?,
        ..Default::default()
    };
    let traces = state
        .store
        .read(move |conn| read::search_traces(conn, &filter, &query, range, limit))
        .await?;
    Ok(Json(wire::TracesResponse {
        traces: traces.iter().map(convert::trace_summary).collect(),
    }))
}

async fn trace(State(state): State<Arc<ApiState>>, Path(trace_id): Path<String>) -> ApiResult<wire::TraceResponse> {
    let id = parse_trace_id(&trace_id)?;
    let spans = state.store.read(move |conn| read::trace_spans(conn, &id.0)).await?;
    if spans.is_empty() {
        return Err(ApiError::not_found(format!(
            "trace {id} is not stored (it may not have arrived yet, or retention removed it)"
        )));
    }
    Ok(Json(wire::TraceResponse {
        trace_id: id.to_string(),
        spans: spans.iter().map(convert::span).collect(),
    }))
}

async fn trace_otlp(State(state): State<Arc<ApiState>>, Path(trace_id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_trace_id(trace_id.trim_end_matches(".json"))?;
    let spans = state.store.read(move |conn| read::trace_spans(conn, &id.0)).await?;
    if spans.is_empty() {
        return Err(ApiError::not_found(format!("trace {id} is not stored")));
    }
    let body = crate::pdata::json::encode_traces(&convert::otlp_request(&spans)).to_string();
    let disposition = format!("attachment; filename=\"trace-{id}.json\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// `q` and an optional `service=` combined into one filter.
fn filter_with_service(state: &ApiState, q: Option<&str>, service: Option<String>, target: Target) -> Result<SqlFilter, ApiError> {
    let filter = state.compile(q, target)?;
    Ok(match service {
        Some(service) => filter.and_service(service, target),
        None => filter,
    })
}

async fn spans(State(state): State<Arc<ApiState>>, ApiQuery(params): ApiQuery<SpansParams>) -> ApiResult<wire::SpansResponse> {
    let filter = filter_with_service(&state, params.q.as_deref(), non_empty(&params.service), Target::Spans)?;
    let range = params.window.range(None)?;
    let limit = limit(params.limit, 100, 10_000)?;
    let by_duration = match params.sort.as_deref() {
        None | Some("") | Some("time") => false,
        Some("duration") => true,
        Some(other) => return Err(ApiError::bad_request(format!("sort: expected time or duration, got '{other}'"))),
    };
    let spans = state
        .store
        .read(move |conn| {
            if by_duration {
                read::slowest_spans(conn, &filter, range, limit)
            } else {
                read::search_spans(conn, &filter, range, limit)
            }
        })
        .await?;
    Ok(Json(wire::SpansResponse {
        spans: spans.iter().map(convert::span).collect(),
    }))
}

async fn logs(State(state): State<Arc<ApiState>>, ApiQuery(params): ApiQuery<LogsParams>) -> ApiResult<wire::LogsResponse> {
    let filter = state.compile(params.q.as_deref(), Target::Logs)?;
    let range = params.window.range(None)?;
    let limit = limit(params.limit, 100, 10_000)?;
    let trace_id = non_empty(&params.trace_id)
        .map(|t| parse_trace_id(&t).map(|t| t.0.to_vec()))
        .transpose()?;
    let span_id = non_empty(&params.span_id)
        .map(|s| {
            crate::pdata::SpanId::parse_hex(&s)
                .map(|s| s.0.to_vec())
                .ok_or_else(|| ApiError::bad_request(format!("'{s}' is not a span id: expected 16 hex characters")))
        })
        .transpose()?;
    let query = LogQuery {
        service: non_empty(&params.service),
        trace_id,
        span_id,
    };
    let logs = state
        .store
        .read(move |conn| read::search_logs(conn, &filter, &query, range, limit))
        .await?;
    Ok(Json(wire::LogsResponse {
        logs: logs.iter().map(convert::log).collect(),
    }))
}

async fn metrics(State(state): State<Arc<ApiState>>, ApiQuery(params): ApiQuery<FilterParams>) -> ApiResult<wire::MetricsResponse> {
    let filter = state.compile(params.q.as_deref(), Target::Metrics)?;
    let metrics = state.store.read(move |conn| read::list_metrics(conn, &filter)).await?;
    Ok(Json(wire::MetricsResponse {
        metrics: metrics
            .into_iter()
            .map(|m| wire::Metric {
                name: m.name,
                kind: convert::metric_type(m.kind),
                unit: m.unit,
                description: m.description,
                series: m.series,
            })
            .collect(),
    }))
}

/// Charts get about this many points unless a step is given.
const DEFAULT_POINTS: i64 = 120;
const MAX_POINTS: i64 = 5000;

async fn metric_series(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    ApiQuery(params): ApiQuery<SeriesParams>,
) -> ApiResult<wire::SeriesResponse> {
    let filter = state.compile(params.q.as_deref(), Target::Metrics)?;
    let mut range = params.window.range(Some(Duration::from_secs(3600)))?;
    range.end = range.end.min(now_ns().saturating_add(60_000_000_000));
    let span = range.end.saturating_sub(range.start).max(1);
    let step = match params.step.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => crate::units::parse_duration(s)
            .map_err(|e| ApiError::bad_request(format!("step: {e}")))?
            .as_nanos() as i64,
        // Whole seconds read better on an axis than an exact division.
        None => (span / DEFAULT_POINTS / 1_000_000_000).max(1) * 1_000_000_000,
    };
    if step <= 0 || span / step > MAX_POINTS {
        return Err(ApiError::bad_request(format!(
            "step is too small for this time range: at most {MAX_POINTS} points per series"
        )));
    }
    let lookup_name = name.clone();
    let streams = state
        .store
        .read(move |conn| read::metric_streams(conn, &lookup_name, &filter, range))
        .await?;
    let Some((first_kind, first_monotonic)) = streams.first().map(|s| (s.kind, s.monotonic)) else {
        return Err(ApiError::not_found(format!("no metric named '{name}' matches")));
    };
    let agg = match params.agg.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => Agg::parse(a).map_err(ApiError::bad_request)?,
        None => Agg::default_for(first_kind, first_monotonic),
    };
    let kind = convert::metric_type(first_kind);
    let group_by = non_empty(&params.group_by);
    // Decoding every histogram point in range is real work: not on an async worker.
    let computed = tokio::task::spawn_blocking(move || series::compute(&streams, range.start, range.end, step, group_by.as_deref(), agg))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "computing the series failed"))?;
    Ok(Json(wire::SeriesResponse {
        name,
        kind,
        agg: agg.name(),
        step_ns: step,
        series: computed
            .into_iter()
            .map(|(labels, points)| wire::Series { labels, points })
            .collect(),
    }))
}

/// Largest batch one poll of a live tail reads.
const STREAM_BATCH: usize = 500;

async fn stream_spans(State(state): State<Arc<ApiState>>, ApiQuery(params): ApiQuery<StreamParams>) -> Result<Response, ApiError> {
    let filter = filter_with_service(&state, params.q.as_deref(), non_empty(&params.service), Target::Spans)?;
    Ok(live_tail(
        state.store.clone(),
        filter,
        |c| c.span_id,
        |conn, filter, after, upto| {
            let spans = read::spans_after(conn, filter, after, upto, STREAM_BATCH)?;
            let last = spans.last().map(|s| s.row_id);
            Ok((
                spans
                    .iter()
                    .map(|s| serde_json::to_string(&convert::span(s)).unwrap_or_default())
                    .collect(),
                last,
            ))
        },
    )
    .into_response())
}

async fn stream_logs(State(state): State<Arc<ApiState>>, ApiQuery(params): ApiQuery<StreamParams>) -> Result<Response, ApiError> {
    let filter = filter_with_service(&state, params.q.as_deref(), non_empty(&params.service), Target::Logs)?;
    Ok(live_tail(
        state.store.clone(),
        filter,
        |c| c.log_id,
        |conn, filter, after, upto| {
            let logs = read::logs_after(conn, filter, after, upto, STREAM_BATCH)?;
            let last = logs.last().map(|l| l.row_id);
            Ok((
                logs.iter()
                    .map(|l| serde_json::to_string(&convert::log(l)).unwrap_or_default())
                    .collect(),
                last,
            ))
        },
    )
    .into_response())
}

type TailFetch = fn(&rusqlite::Connection, &SqlFilter, i64, i64) -> Result<(Vec<String>, Option<i64>), StoreError>;

/// Server-sent events of rows committed after the client connected: wake on each commit, read the
/// rows in (cursor, committed] through the same filter SQL as the search endpoints, one event each.
fn live_tail(
    store: Arc<Store>,
    filter: SqlFilter,
    cursor: fn(&crate::store::writer::Committed) -> i64,
    fetch: TailFetch,
) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    let mut committed = store.committed();
    let start = cursor(&committed.borrow_and_update());
    let filter = Arc::new(filter);
    let stream = futures::stream::unfold(
        (VecDeque::<String>::new(), start, committed),
        move |(mut pending, mut after, mut committed)| {
            let store = store.clone();
            let filter = filter.clone();
            async move {
                loop {
                    if let Some(item) = pending.pop_front() {
                        return Some((Ok(Event::default().data(item)), (pending, after, committed)));
                    }
                    let upto = cursor(&committed.borrow_and_update());
                    if upto <= after {
                        if committed.changed().await.is_err() {
                            return None;
                        }
                        continue;
                    }
                    let f = filter.clone();
                    match store.read(move |conn| fetch(conn, &f, after, upto)).await {
                        Ok((items, last)) => {
                            // A full batch may have more behind it; otherwise everything up to `upto` was seen.
                            after = if items.len() >= STREAM_BATCH { last.unwrap_or(upto) } else { upto };
                            pending.extend(items);
                        }
                        Err(_) => return None,
                    }
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// `{count}` of spans, traces (with a matching span) or log records matching `q`.
async fn count(State(state): State<Arc<ApiState>>, ApiQuery(params): ApiQuery<CountParams>) -> ApiResult<wire::CountResponse> {
    let (target, filter_target) = match params.signal.as_deref().unwrap_or("spans") {
        "spans" => (read::CountTarget::Spans, Target::Spans),
        "traces" => (read::CountTarget::Traces, Target::Spans),
        "logs" => (read::CountTarget::Logs, Target::Logs),
        other => {
            return Err(ApiError::bad_request(format!(
                "signal: expected spans, traces or logs, got '{other}'"
            )))
        }
    };
    let filter = filter_with_service(&state, params.q.as_deref(), non_empty(&params.service), filter_target)?;
    let range = params.window.range(None)?;
    let count = state.store.read(move |conn| read::count(conn, &filter, target, range)).await?;
    Ok(Json(wire::CountResponse { count }))
}

async fn lint(State(state): State<Arc<ApiState>>) -> ApiResult<wire::LintResponse> {
    let findings = state.store.read(crate::store::lint::lint).await?;
    Ok(Json(wire::LintResponse {
        findings: findings
            .into_iter()
            .map(|f| wire::LintFinding {
                rule: f.rule.to_string(),
                severity: if f.severity == "error" {
                    wire::LintSeverity::Error
                } else {
                    wire::LintSeverity::Warning
                },
                message: f.message,
                count: f.count,
                examples: f
                    .examples
                    .into_iter()
                    .map(|e| wire::LintExample {
                        trace_id: e.trace_id,
                        span_id: e.span_id,
                        service: e.service,
                        name: e.name,
                    })
                    .collect(),
            })
            .collect(),
    }))
}

/// Items per exported line (one `Export*ServiceRequest` each).
const EXPORT_PAGE: usize = 1000;

/// OTLP/JSON lines, one `Export*ServiceRequest` per line (the Collector file exporter's format),
/// streamed page by page in insertion order.
async fn export(
    State(state): State<Arc<ApiState>>,
    Path(signal): Path<String>,
    ApiQuery(params): ApiQuery<FilterParams>,
) -> Result<Response, ApiError> {
    let signal = match signal.as_str() {
        "traces" => Signal::Traces,
        "logs" => Signal::Logs,
        "metrics" => Signal::Metrics,
        other => return Err(ApiError::not_found(format!("cannot export '{other}'; use traces, logs or metrics"))),
    };
    let filter = Arc::new(match signal {
        Signal::Traces => state.compile(params.q.as_deref(), Target::Spans)?,
        Signal::Logs => state.compile(params.q.as_deref(), Target::Logs)?,
        Signal::Metrics if params.q.is_some() => return Err(ApiError::bad_request("q is not supported for metrics exports")),
        Signal::Metrics => SqlFilter::everything(),
    });
    let store = state.store.clone();
    let lines = futures::stream::unfold(Some(0i64), move |cursor| {
        let (store, filter) = (store.clone(), filter.clone());
        async move {
            let after = cursor?;
            let page = store.read(move |conn| export_page(conn, signal, &filter, after)).await;
            match page {
                Ok((Some(line), last)) => Some((Ok::<_, std::io::Error>(line + "\n"), Some(last))),
                Ok((None, _)) => None,
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(lines),
    )
        .into_response())
}

/// One export line (None when nothing is left) and the last row id it covers.
fn export_page(conn: &rusqlite::Connection, signal: Signal, filter: &SqlFilter, after: i64) -> Result<(Option<String>, i64), StoreError> {
    use crate::pdata::json;
    Ok(match signal {
        Signal::Traces => {
            let spans = read::spans_page(conn, filter, after, EXPORT_PAGE)?;
            let last = spans.last().map_or(after, |s| s.row_id);
            (
                (!spans.is_empty()).then(|| json::encode_traces(&convert::otlp_request(&spans)).to_string()),
                last,
            )
        }
        Signal::Logs => {
            let logs = read::logs_page(conn, filter, after, EXPORT_PAGE)?;
            let last = logs.last().map_or(after, |l| l.row_id);
            (
                (!logs.is_empty()).then(|| json::encode_logs(&convert::otlp_logs_request(&logs)).to_string()),
                last,
            )
        }
        Signal::Metrics => {
            let points = read::points_page(conn, after, EXPORT_PAGE)?;
            let last = points.last().map_or(after, |p| p.0);
            (
                (!points.is_empty()).then(|| json::encode_metrics(&convert::otlp_metrics_request(&points)).to_string()),
                last,
            )
        }
    })
}

/// Data needs the API token (header or the UI's login cookie); the UI's files, health checks and the
/// login itself do not, so the UI can load and show its login page.
async fn require_api_token(State(state): State<Arc<ApiState>>, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    let open = matches!(path, "/healthz" | "/readyz" | "/api/v1/login" | "/api/v1/logout")
        || !(path.starts_with("/api/") || path == "/metrics")
        || (path == "/metrics" && ui::wants_html(request.headers()));
    if open || crate::auth::api_request_allowed(&state.api_tokens, &state.sessions, request.headers()) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or wrong API token: send `Authorization: Bearer <token>` (the CLI reads OTELBOX_API_TOKEN), or log in to the UI",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
    response
}

/// The UI's login: a right token starts a session whose id goes in an HttpOnly cookie that later
/// requests (and live tails, which cannot send headers) carry. `{required}` tells the UI whether
/// tokens are in use at all.
async fn login(State(state): State<Arc<ApiState>>, Json(request): Json<LoginRequest>) -> Response {
    if !state.api_tokens.enabled() {
        return Json(wire::LoginResponse { required: false }).into_response();
    }
    if !state.api_tokens.accepts(request.token.trim().as_bytes()) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "that token is not an API token of this otelbox",
        )
        .into_response();
    }
    let session = state.sessions.start();
    let cookie = crate::auth::login_cookie(Some(&session), state.tls);
    ([(header::SET_COOKIE, cookie)], Json(wire::LoginResponse { required: true })).into_response()
}

async fn logout(State(state): State<Arc<ApiState>>, headers: axum::http::HeaderMap) -> Response {
    if let Some(id) = crate::auth::session_id(&headers) {
        state.sessions.end(id);
    }
    let cookie = crate::auth::login_cookie(None, state.tls);
    ([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response()
}

async fn unknown_api() -> ApiError {
    ApiError::not_found(
        "unknown API endpoint; see /api/v1/status, /api/v1/traces, /api/v1/spans, /api/v1/logs, /api/v1/metrics, /api/v1/services",
    )
}
