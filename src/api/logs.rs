//! The log endpoints: the search, and the matching records counted per time step and severity.

use super::wire::{LogsParams, TraceScopeParams};
use super::{
    convert, empty_answer_warnings, flag, in_trace_scope, limit, non_empty, now_ns, parse_trace_id, wire, ApiError, ApiQuery, ApiResult,
    ApiState, Range,
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

/// Steps a log histogram may have: round durations, so bars start at round times.
const ROUND_STEPS_S: [i64; 19] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172_800,
];
const WEEK_NS: i64 = 7 * 86_400 * 1_000_000_000;

/// The smallest round step at least `ns`: 1-2-5 below a second, then 1s, 2s, 5s, 10s, 15s, 30s,
/// 1m, ... 12h, 1d, 2d, then whole weeks.
pub(super) fn round_step(ns: i64) -> i64 {
    let ns = ns.max(1);
    if ns < 1_000_000_000 {
        let mut decade = 1i64;
        loop {
            for m in [1, 2, 5] {
                if m * decade >= ns {
                    return m * decade;
                }
            }
            decade *= 10;
        }
    }
    ROUND_STEPS_S
        .iter()
        .map(|s| s * 1_000_000_000)
        .find(|s| *s >= ns)
        .unwrap_or_else(|| (ns + WEEK_NS - 1) / WEEK_NS * WEEK_NS)
}

/// Most steps a histogram answers with.
const MAX_STEPS: i64 = 1000;

pub(super) async fn log_histogram(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<wire::LogHistogramParams>,
    ApiQuery(scope): ApiQuery<TraceScopeParams>,
) -> ApiResult<wire::LogHistogramResponse> {
    let filter = in_trace_scope(&state, state.compile(params.q.as_deref(), Target::Logs)?, &scope, Target::Logs)?;
    let mut range = params.window.range(Some(std::time::Duration::from_secs(3600)))?;
    // An open end is now; an open start (start=0) the oldest record's time is not looked up: the
    // window has to say where it begins.
    range.end = range.end.min(now_ns());
    if range.start <= 0 || range.start >= range.end {
        return Err(ApiError::bad_request(
            "the histogram needs a window that starts in the past: give since (like 1h) or start",
        ));
    }
    let span = range.end - range.start;
    let wanted = params.buckets.unwrap_or(60);
    if wanted == 0 || wanted as i64 > MAX_STEPS {
        return Err(ApiError::bad_request(format!("buckets must be between 1 and {MAX_STEPS}")));
    }
    let step = match params.step.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => round_step(
            crate::units::parse_duration(text)
                .map_err(|e| ApiError::bad_request(format!("step: {e}")))?
                .as_nanos()
                .min(i64::MAX as u128) as i64,
        ),
        // A tenth more steps than asked rather than a step twice as long: an hour in 60 is a minute each.
        None => round_step(span / (wanted as i64 * 11 / 10).max(1)),
    };
    let first = range.start / step;
    let last = range.end / step;
    if last - first + 1 > MAX_STEPS {
        return Err(ApiError::bad_request(format!(
            "step is too small for this time range: at most {MAX_STEPS} steps"
        )));
    }
    let query = LogQuery {
        service: non_empty(&params.service),
        ..LogQuery::default()
    };
    let counted = state
        .store
        .read(move |conn| read::log_histogram(conn, &filter, &query, range, step))
        .await?;
    let mut counted = counted.into_iter().peekable();
    let mut buckets = Vec::with_capacity((last - first + 1) as usize);
    for b in first..=last {
        let start = b * step;
        let mut counts = wire::SeverityCounts::default();
        if counted.peek().is_some_and(|(t, _)| *t == start) {
            let (_, [unset, trace, debug, info, warn, error, fatal]) = counted.next().unwrap_or_default();
            counts = wire::SeverityCounts {
                unset,
                trace,
                debug,
                info,
                warn,
                error,
                fatal,
            };
        }
        buckets.push(wire::LogBucket {
            start_unix_nano: start,
            counts,
        });
    }
    let total = buckets.iter().map(|b| b.counts.total()).sum();
    let warnings = if total == 0 {
        empty_answer_warnings(&state, &[params.q.as_deref()], Target::Logs).await
    } else {
        Vec::new()
    };
    Ok(Json(wire::LogHistogramResponse {
        start_unix_nano: range.start,
        end_unix_nano: range.end,
        step_ns: step,
        buckets,
        total,
        warnings,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn steps_are_round() {
        use super::round_step;
        assert_eq!(round_step(1), 1);
        assert_eq!(round_step(3_000_000), 5_000_000);
        assert_eq!(round_step(1_000_000_000), 1_000_000_000);
        assert_eq!(round_step(61_000_000_000), 120_000_000_000);
        assert_eq!(round_step(11 * 60_000_000_000), 15 * 60_000_000_000);
        assert_eq!(round_step(3 * 86_400_000_000_000), 7 * 86_400_000_000_000);
        assert_eq!(round_step(8 * 86_400_000_000_000), 14 * 86_400_000_000_000);
    }
}
