//! The metric endpoints: the metric list and one metric's series, aggregated per step.

use super::wire::{FilterParams, SeriesParams};
use super::{convert, non_empty, now_ns, wire, ApiError, ApiQuery, ApiResult, ApiState, Range};
use crate::store::read;
use crate::store::series::{self, Agg};
use crate::store::sql::Target;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use std::sync::Arc;
use std::time::Duration;

pub(super) async fn metrics(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<FilterParams>,
) -> ApiResult<wire::MetricsResponse> {
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

pub(super) async fn metric_series(
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
    if agg == Agg::Buckets && !matches!(kind, wire::MetricType::Histogram | wire::MetricType::ExponentialHistogram) {
        return Err(ApiError::bad_request(format!(
            "agg=buckets: '{name}' is a {kind}, which has no buckets; only histograms have"
        )));
    }
    let group_by = match params.merge.as_deref().map(str::trim) {
        None | Some("" | "false" | "0") => non_empty(&params.group_by),
        Some("true" | "1") if non_empty(&params.group_by).is_none() => Some(String::new()), // one group
        Some("true" | "1") => return Err(ApiError::bad_request("merge and group_by cannot be combined")),
        Some(other) => return Err(ApiError::bad_request(format!("merge: expected true or false, got '{other}'"))),
    };
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
            .map(|s| wire::Series {
                labels: s.labels,
                points: s.points,
                exemplars: s
                    .exemplars
                    .into_iter()
                    .map(|e| wire::Exemplar {
                        time_unix_nano: e.time_ns,
                        value: e.value,
                        trace_id: crate::pdata::hex_id(&e.trace_id),
                        span_id: crate::pdata::hex_id(&e.span_id),
                    })
                    .collect(),
                buckets: s.buckets.map(|b| wire::BucketCounts {
                    bounds: b.bounds,
                    counts: b.counts,
                }),
            })
            .collect(),
    }))
}
