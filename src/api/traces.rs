//! The trace and span endpoints: search, one trace, its OTLP/JSON download.

use super::wire::{IncompleteTracesParams, SpansParams, TraceScopeParams, TracesParams};
use super::{
    convert, empty_answer_warnings, filter_with_service, flag, in_trace_scope, limit, non_empty, parse_trace_id, wire, ApiError, ApiQuery,
    ApiResult, ApiState, Range,
};
use crate::query::FilterError;
use crate::store::read::{self, TraceQuery, TraceSort};
use crate::store::sql::{compile_trace, SqlFilter, Target};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

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

/// Trace search. `q` is a span filter, or span filters related across the trace's spans
/// (`query::trace`: `A && B`, `A -> B`, `A then B`); every step narrows the candidates through the
/// indexes, and a pattern relating spans is then checked on each candidate's spans.
pub(super) async fn traces(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<TracesParams>,
    ApiQuery(scope): ApiQuery<TraceScopeParams>,
) -> ApiResult<wire::TracesResponse> {
    let pattern = match non_empty(&params.q) {
        Some(text) => crate::query::trace::parse(&text).map_err(FilterError::from)?,
        None => None,
    };
    let compiled = match &pattern {
        Some(pattern) => Some(compile_trace(pattern, &*state.store.resource_attrs())?),
        None => None,
    };
    let steps = compiled.as_ref().map_or(&[][..], |c| &c.steps[..]);
    let main = steps.first().cloned().unwrap_or_else(SqlFilter::everything);
    let filter = in_trace_scope(&state, main, &scope, Target::Spans)?;
    let range = params.window.range(None)?;
    let limit = limit(params.limit, 20, 1000)?;
    // Each further step must be met by some span of the trace too: the candidates.
    let mut also_matching: Vec<SqlFilter> = steps.iter().skip(1).cloned().collect();
    if let Some(also) = non_empty(&params.also) {
        also_matching.push(state.compile(Some(&also), Target::Spans)?);
    }
    let sort_text = params.sort.as_deref().unwrap_or_default().trim();
    let sort = TraceSort::parse(sort_text)
        .ok_or_else(|| ApiError::bad_request(format!("sort: expected {}, got '{sort_text}'", TraceSort::NAMES)))?;
    let count = flag("total", &params.total)?;
    let structural = pattern.as_ref().is_some_and(|p| p.is_structural());
    let query = TraceQuery {
        service: non_empty(&params.service),
        min_duration_ns: optional_duration_ns("min_duration", &params.min_duration)?,
        max_duration_ns: optional_duration_ns("max_duration", &params.max_duration)?,
        also_matching,
        sort,
        pattern: compiled.filter(|_| structural),
    };
    let (traces, total) = state
        .store
        .read(move |conn| read::search_traces_counted(conn, &filter, &query, range, limit, count))
        .await?;
    let warnings = if traces.is_empty() {
        empty_answer_warnings(
            &state,
            &[params.q.as_deref(), params.also.as_deref(), scope.trace_has.as_deref()],
            Target::Spans,
        )
        .await
    } else {
        Vec::new()
    };
    Ok(Json(wire::TracesResponse {
        traces: traces.iter().map(convert::trace_summary).collect(),
        total: total.map(|t| t.count),
        total_capped: total.is_some_and(|t| t.capped),
        warnings,
    }))
}

pub(super) async fn trace(State(state): State<Arc<ApiState>>, Path(trace_id): Path<String>) -> ApiResult<wire::TraceResponse> {
    let id = parse_trace_id(&trace_id)?;
    let spans = state
        .store
        .read(move |conn| read::trace_spans(conn, &id.0, read::Values::Capped))
        .await?;
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

pub(super) async fn trace_otlp(State(state): State<Arc<ApiState>>, Path(trace_id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_trace_id(trace_id.trim_end_matches(".json"))?;
    let spans = state
        .store
        .read(move |conn| read::trace_spans(conn, &id.0, read::Values::Whole))
        .await?;
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

pub(super) async fn spans(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<SpansParams>,
    ApiQuery(scope): ApiQuery<TraceScopeParams>,
) -> ApiResult<wire::SpansResponse> {
    let filter = filter_with_service(&state, params.q.as_deref(), non_empty(&params.service), Target::Spans)?;
    let filter = in_trace_scope(&state, filter, &scope, Target::Spans)?;
    let range = params.window.range(None)?;
    let limit = limit(params.limit, 100, 10_000)?;
    let by_duration = match params.sort.as_deref() {
        None | Some("") | Some("time") => false,
        Some("duration") => true,
        Some(other) => return Err(ApiError::bad_request(format!("sort: expected time or duration, got '{other}'"))),
    };
    let count = flag("total", &params.total)?;
    let (spans, total) = state
        .store
        .read(move |conn| read::search_spans_counted(conn, &filter, range, limit, by_duration, count))
        .await?;
    let warnings = if spans.is_empty() {
        empty_answer_warnings(&state, &[params.q.as_deref(), scope.trace_has.as_deref()], Target::Spans).await
    } else {
        Vec::new()
    };
    Ok(Json(wire::SpansResponse {
        spans: spans.iter().map(convert::span).collect(),
        total: total.map(|t| t.count),
        total_capped: total.is_some_and(|t| t.capped),
        warnings,
    }))
}

/// Traces (with a span matching `q`) some stored span of which names a parent that is not stored:
/// what `otelbox wait --complete` polls until there are none.
pub(super) async fn incomplete_traces(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<IncompleteTracesParams>,
) -> ApiResult<wire::IncompleteTracesResponse> {
    let filter = state.compile(params.q.as_deref(), Target::Spans)?;
    let range = params.window.range(None)?;
    let limit = limit(params.limit, 20, 1000)?;
    let found = state
        .store
        .read(move |conn| crate::store::incomplete::incomplete_traces(conn, &filter, range, limit))
        .await?;
    let hex = crate::pdata::hex_id;
    Ok(Json(wire::IncompleteTracesResponse {
        incomplete: found.total,
        traces: found
            .traces
            .into_iter()
            .map(|t| wire::IncompleteTrace {
                trace_id: hex(&t.trace_id),
                has_root: t.has_root,
                missing_parents: t
                    .missing
                    .into_iter()
                    .map(|m| wire::MissingParent {
                        parent_span_id: hex(&m.parent_span_id),
                        children: m.children,
                        waiting: m
                            .waiting
                            .into_iter()
                            .map(|w| wire::WaitingSpan {
                                span_id: hex(&w.span_id),
                                name: w.name,
                                service: w.service,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }))
}

/// One attribute of one span, whole: where an answer's cut value (`read::MAX_ANSWER_VALUE_BYTES`)
/// points. A string comes as text, any other value as its JSON.
pub(super) async fn span_attribute(
    State(state): State<Arc<ApiState>>,
    Path((trace_id, span_id, key)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_trace_id(&trace_id)?;
    let span = crate::pdata::SpanId::parse_hex(&span_id)
        .ok_or_else(|| ApiError::bad_request(format!("'{span_id}' is not a span id: expected 16 hex characters")))?;
    let wanted = key.clone();
    let value = state
        .store
        .read(move |conn| read::span_attribute(conn, &id.0, &span.0, &wanted))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("span {span_id} of trace {trace_id} has no stored attribute '{key}'")))?;
    use opentelemetry_proto::tonic::common::v1::any_value;
    Ok(match value.value {
        Some(any_value::Value::StringValue(text)) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        _ => Json(crate::pdata::json::any_value_to_plain(&value)).into_response(),
    })
}
