//! Counting, linting and exporting what is stored: `{count}`, lint findings, OTLP/JSON lines.

use super::wire::{CountParams, FilterParams, LintParams, TraceScopeParams};
use super::{
    convert, filter_with_service, in_trace_scope, non_empty, trace_has_filter, wire, ApiError, ApiQuery, ApiResult, ApiState, Range,
};
use crate::pdata::Signal;
use crate::store::read;
use crate::store::sql::{SqlFilter, Target};
use crate::store::StoreError;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// `{count}` of spans, traces (with a matching span) or log records matching `q`.
pub(super) async fn count(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<CountParams>,
    ApiQuery(scope): ApiQuery<TraceScopeParams>,
) -> ApiResult<wire::CountResponse> {
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
    let filter = in_trace_scope(&state, filter, &scope, filter_target)?;
    let range = params.window.range(None)?;
    let count = state.store.read(move |conn| read::count(conn, &filter, target, range)).await?;
    Ok(Json(wire::CountResponse { count }))
}

/// Lint findings over the newest spans; `since`/`start`/`end` and `trace_has` narrow what is linted.
pub(super) async fn lint(State(state): State<Arc<ApiState>>, ApiQuery(params): ApiQuery<LintParams>) -> ApiResult<wire::LintResponse> {
    let window = &params.window;
    let bounded = window.since.is_some() || window.start.is_some() || window.end.is_some();
    let scope = crate::store::lint::LintScope {
        range: if bounded { Some(window.range(None)?) } else { None },
        traces: non_empty(&params.trace_has).map(|t| trace_has_filter(&state, &t)).transpose()?,
    };
    let findings = state.store.read(move |conn| crate::store::lint::lint_scoped(conn, &scope)).await?;
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
pub(super) async fn export(
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
