//! The service overview endpoints: the service list, per-service stats, dependencies.

use super::wire::WindowOnlyParams;
use super::{convert, now_ns, wire, ApiQuery, ApiResult, ApiState, Range};
use crate::store::read;
use crate::store::stats;
use axum::extract::State;
use axum::Json;
use std::sync::Arc;
use std::time::Duration;

pub(super) async fn services(State(state): State<Arc<ApiState>>) -> ApiResult<wire::ServicesResponse> {
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
pub(super) const OVERVIEW_WINDOW: Duration = Duration::from_secs(3600);

/// Request rate, errors and duration percentiles per service (of its entry spans, see
/// `wire::ServiceStats`) and figures per operation, over spans starting in the window; rates per
/// second of the time the spans cover (`stats::covered_ns`), not of the whole window.
pub(super) async fn service_stats(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<WindowOnlyParams>,
) -> ApiResult<wire::ServiceStatsResponse> {
    let range = params.window.range(Some(OVERVIEW_WINDOW))?;
    let report = state
        .store
        .read(move |conn| stats::service_stats(conn, range, stats::MAX_SCAN))
        .await?;
    let covered_ns = report.covered_ns(range, now_ns());
    Ok(Json(convert::service_stats(&report, covered_ns as f64 / 1e9)))
}

/// Calls between services, from parent/child spans of the same trace in different services, with
/// their error severity and the cycles they form.
pub(super) async fn dependencies(
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
