//! The operational endpoints: readiness, the Prometheus text at `/metrics`, and `/api/v1/status`.

use super::prometheus::render_prometheus;
use super::{ui, wire, ApiResult, ApiState};
use crate::pdata::Signal;
use crate::store::read;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(super) async fn readyz(State(state): State<Arc<ApiState>>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

pub(super) async fn prometheus(State(state): State<Arc<ApiState>>, uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
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

pub(super) async fn status(State(state): State<Arc<ApiState>>) -> ApiResult<wire::StatusResponse> {
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
            duplicate_spans: state.store.stats.duplicate_spans.load(Ordering::Relaxed),
            spans_to_pack: counts.spans_to_pack,
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
            stored: wire::SignalCounts {
                spans: state.store.stats.spans_written.load(Ordering::Relaxed),
                logs: state.store.stats.logs_written.load(Ordering::Relaxed),
                metric_points: state.store.stats.points_written.load(Ordering::Relaxed),
            },
            last_accepted_unix_nano: Signal::ALL
                .iter()
                .map(|s| state.ingest.signal(*s).last_accepted_ns.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0) as i64,
        },
        pipelines: state.pipelines.clone(),
        receivers: state.receivers.clone(),
        components: in_pipeline_order(state.components.snapshot(), &state.stage_order)
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

/// The component counters in pipeline order (`ApiState::stage_order`); they are registered as the
/// pipelines are built, exporters first and each chain from its end. A stage that several signals
/// share keeps its signals' order (the sort is stable); one missing from the order goes last.
fn in_pipeline_order(
    mut components: Vec<Arc<crate::telemetry::ComponentCounters>>,
    order: &[(String, String)],
) -> Vec<Arc<crate::telemetry::ComponentCounters>> {
    let rank = |c: &Arc<crate::telemetry::ComponentCounters>| {
        order
            .iter()
            .position(|(pipeline, component)| *pipeline == c.pipeline && *component == c.component)
            .unwrap_or(order.len())
    };
    components.sort_by_key(rank);
    components
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Components;

    #[test]
    fn stages_are_listed_in_pipeline_order() {
        // Registered as the service builds them: shared exporters first, each chain from its end.
        let registry = Components::default();
        registry.register("*", "exporter/otelbox", Signal::Traces);
        registry.register("*", "exporter/otelbox", Signal::Logs);
        registry.register("traces", "processor/batch", Signal::Traces);
        registry.register("traces", "processor/filter/noise", Signal::Traces);
        registry.register("traces", "processor/memory_limiter", Signal::Traces);
        registry.register("logs", "processor/batch", Signal::Logs);
        let order: Vec<(String, String)> = [
            ("traces", "processor/memory_limiter"),
            ("traces", "processor/filter/noise"),
            ("traces", "processor/batch"),
            ("logs", "processor/batch"),
            ("*", "exporter/otelbox"),
        ]
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
        let listed: Vec<(String, String, &str)> = in_pipeline_order(registry.snapshot(), &order)
            .iter()
            .map(|c| (c.pipeline.clone(), c.component.clone(), c.signal.as_str()))
            .collect();
        let expected: Vec<(String, String, &str)> = [
            ("traces", "processor/memory_limiter", "traces"),
            ("traces", "processor/filter/noise", "traces"),
            ("traces", "processor/batch", "traces"),
            ("logs", "processor/batch", "logs"),
            ("*", "exporter/otelbox", "traces"),
            ("*", "exporter/otelbox", "logs"),
        ]
        .iter()
        .map(|(p, c, s)| (p.to_string(), c.to_string(), *s))
        .collect();
        assert_eq!(listed, expected);
    }
}
