//! The query API and operational endpoints on the UI port: `/api/v1/...` JSON, live SSE tails,
//! `/healthz`, `/readyz`, `/metrics`. The only module that knows the wire JSON shapes.

pub mod convert;
mod export;
mod llm;
mod logs;
mod metrics;
mod prometheus;
mod services;
mod session;
mod status;
mod stream;
mod traces;
pub mod ui;
/// The API contract (a crate of its own, shared with the CLI and the wasm UI).
pub use otelbox_wire as wire;

use crate::pdata::TraceId;
use crate::query::FilterError;
use crate::store::read::TimeRange;
use crate::store::sql::{compile_text, SqlFilter, Target};
use crate::store::{Store, StoreError};
use crate::telemetry::IngestStats;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wire::routes;
use wire::WindowParams;

pub struct ApiState {
    pub store: Arc<Store>,
    pub ingest: Arc<IngestStats>,
    pub started: Instant,
    pub endpoints: wire::Endpoints,
    pub retention: crate::store::retention::Retention,
    pub pipelines: Vec<String>,
    /// The pipeline stages in pipeline order, `(pipeline, component)`: the order `/status` lists
    /// the component counters in (they are registered as the chains are built, from their ends).
    pub stage_order: Vec<(String, String)>,
    /// Every configured receiver, where it listens or what it reads.
    pub receivers: Vec<wire::ReceiverStatus>,
    pub components: Arc<crate::telemetry::Components>,
    /// False until every listener is serving, and again once shutdown starts.
    pub ready: AtomicBool,
    /// Tokens for the API and UI data (empty: open, the loopback default).
    pub api_tokens: crate::auth::Tokens,
    /// Whether the UI port serves TLS (the login cookie is then `Secure`).
    pub tls: bool,
    /// The UI's logins (session ids in memory).
    pub sessions: crate::auth::Sessions,
    /// The live tails being served, shared by subscribers with the same filter.
    pub tails: stream::Tails,
}

impl ApiState {
    /// A `q=` filter, compiled knowing what the stored resources hold (`store::resource_attrs`).
    /// Links between conditions on different spans (`A -> B`) are for trace searches only; here they
    /// are explained rather than reported as an odd character.
    fn compile(&self, q: Option<&str>, target: Target) -> Result<SqlFilter, FilterError> {
        compile_text(q, target, &*self.store.resource_attrs()).map_err(|e| {
            if matches!(e, FilterError::Syntax(_)) && q.is_some_and(crate::query::trace::has_links) {
                FilterError::Semantic(
                    "'->', 'then' and '&&' relate conditions on different spans of a trace: only a trace search \
                     (/api/v1/traces) takes them; here join conditions with 'and' or 'or'"
                        .into(),
                )
            } else {
                e
            }
        })
    }
}

/// Why an empty answer may be empty (`store::keys`): the keys and services these filters name
/// (trace searches' steps included) that nothing stored has. Best effort: a failure says nothing.
async fn empty_answer_warnings(state: &Arc<ApiState>, filters: &[Option<&str>], target: Target) -> Vec<String> {
    let exprs: Vec<crate::query::filter::Expr> = filters
        .iter()
        .flatten()
        .filter_map(|text| crate::query::trace::parse(text).ok().flatten())
        .flat_map(|pattern| pattern.steps)
        .collect();
    if exprs.is_empty() {
        return Vec::new();
    }
    state
        .store
        .read(move |conn| crate::store::keys::missing_key_warnings(conn, &exprs, target))
        .await
        .unwrap_or_default()
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route(routes::HEALTHZ, get(|| async { "ok\n" }))
        .route(routes::READYZ, get(status::readyz))
        .route(routes::METRICS_TEXT, get(status::prometheus))
        .route(routes::STATUS, get(status::status))
        .route(routes::SERVICES, get(services::services))
        .route(routes::SERVICE_STATS, get(services::service_stats))
        .route(routes::DEPENDENCIES, get(services::dependencies))
        .route(routes::LLM_RUNS, get(llm::llm_runs))
        .route(routes::LLM_RUN, get(llm::llm_run))
        .route(routes::LLM_SESSIONS, get(llm::llm_sessions))
        .route(routes::LLM_MODELS, get(llm::llm_models))
        .route(routes::TRACES, get(traces::traces))
        .route(routes::TRACES_INCOMPLETE, get(traces::incomplete_traces))
        .route(routes::TRACE, get(traces::trace))
        .route(routes::TRACE_OTLP, get(traces::trace_otlp))
        .route(routes::SPANS, get(traces::spans))
        .route(routes::SPAN_ATTRIBUTE, get(traces::span_attribute))
        .route(routes::LOGS, get(logs::logs))
        .route(routes::LOG_HISTOGRAM, get(logs::log_histogram))
        .route(routes::METRICS, get(metrics::metrics))
        .route(routes::METRIC_SERIES, get(metrics::metric_series))
        .route(routes::COUNT, get(export::count))
        .route(routes::EXPORT, get(export::export))
        .route(routes::LINT, get(export::lint))
        .route(routes::STREAM_SPANS, get(stream::stream_spans))
        .route(routes::STREAM_LOGS, get(stream::stream_logs))
        .route(routes::LOGIN, axum::routing::post(session::login))
        .route(routes::LOGOUT, axum::routing::post(session::logout))
        .route(routes::OTHER_API, get(session::unknown_api))
        .fallback(get(ui::serve))
        .layer(axum::middleware::from_fn_with_state(state.clone(), session::require_api_token))
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

/// A `true`/`false` parameter (`1`/`0`; absent or empty is false).
fn flag(name: &str, value: &Option<String>) -> Result<bool, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("" | "false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!("{name}: expected true or false, got '{other}'"))),
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.trim().is_empty())
}

/// `filter` limited to the traces the request's `trace_has` names, if it names any (the traces
/// that have a span matching that filter: one test's, for `otelbox run --per-test`).
fn in_trace_scope(state: &ApiState, filter: SqlFilter, scope: &wire::TraceScopeParams, target: Target) -> Result<SqlFilter, ApiError> {
    Ok(match non_empty(&scope.trace_has) {
        Some(text) => filter.and_in_traces_of(trace_has_filter(state, &text)?, target),
        None => filter,
    })
}

/// A `trace_has` filter, compiled for spans; its errors name the parameter.
fn trace_has_filter(state: &ApiState, text: &str) -> Result<SqlFilter, ApiError> {
    state.compile(Some(text), Target::Spans).map_err(|e| {
        let mut error = ApiError::from(e);
        error.message = format!("trace_has: {}", error.message);
        error
    })
}

/// `q` and an optional `service=` combined into one filter.
fn filter_with_service(state: &ApiState, q: Option<&str>, service: Option<String>, target: Target) -> Result<SqlFilter, ApiError> {
    let filter = state.compile(q, target)?;
    Ok(match service {
        Some(service) => filter.and_service(service, target),
        None => filter,
    })
}
