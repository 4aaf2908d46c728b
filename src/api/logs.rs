//! The log search endpoint.

use super::wire::{LogsParams, TraceScopeParams};
use super::{
    convert, empty_answer_warnings, flag, in_trace_scope, limit, non_empty, parse_trace_id, wire, ApiError, ApiQuery, ApiResult, ApiState,
    Range,
};
use crate::store::read::{self, LogQuery};
use crate::store::sql::Target;
use axum::extract::State;
use axum::Json;
use std::sync::Arc;

pub(super) async fn logs(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<LogsParams>,
    ApiQuery(scope): ApiQuery<TraceScopeParams>,
) -> ApiResult<wire::LogsResponse> {
    let filter = in_trace_scope(&state, state.compile(params.q.as_deref(), Target::Logs)?, &scope, Target::Logs)?;
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
    let count = flag("total", &params.total)?;
    let (logs, total) = state
        .store
        .read(move |conn| read::search_logs_counted(conn, &filter, &query, range, limit, count))
        .await?;
    let mut warnings = Vec::new();
    if logs.is_empty() {
        warnings = empty_answer_warnings(&state, &[params.q.as_deref()], Target::Logs).await;
        // The scope is a span filter.
        warnings.extend(empty_answer_warnings(&state, &[scope.trace_has.as_deref()], Target::Spans).await);
    }
    Ok(Json(wire::LogsResponse {
        logs: logs.iter().map(convert::log).collect(),
        total: total.map(|t| t.count),
        total_capped: total.is_some_and(|t| t.capped),
        warnings,
    }))
}
