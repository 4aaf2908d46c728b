//! Stored OTLP data -> the API's JSON shapes, and a trace back into an OTLP export request.

use super::wire;
use crate::pdata::hex_id;
use crate::pdata::json::{any_value_to_plain, attributes_to_plain};
use crate::store::read::{PointRecord, StoredResource, StoredScope, StreamInfo};
use crate::store::read::{StoredLog, StoredSpan, TraceSummary};
use crate::store::rows::{rebuild_number_point, METRIC_EXP_HISTOGRAM, METRIC_GAUGE, METRIC_HISTOGRAM, METRIC_SUM};
use crate::store::stats;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use serde_json::Value;
use std::sync::Arc;

pub fn span(stored: &StoredSpan) -> wire::Span {
    let s = &stored.span;
    let status = s.status.clone().unwrap_or_default();
    wire::Span {
        trace_id: hex_id(&s.trace_id),
        span_id: hex_id(&s.span_id),
        parent_span_id: hex_id(&s.parent_span_id),
        name: s.name.clone(),
        kind: wire::SpanKind::from_otlp(s.kind),
        service: stored.resource.service.clone(),
        start_unix_nano: s.start_time_unix_nano as i64,
        end_unix_nano: s.end_time_unix_nano as i64,
        duration_ns: s.end_time_unix_nano as i64 - s.start_time_unix_nano as i64,
        status: wire::SpanStatus {
            code: wire::StatusCode::from_otlp(status.code),
            message: status.message,
        },
        attributes: attributes_to_plain(&s.attributes),
        resource: attributes_to_plain(&stored.resource.resource.attributes),
        scope: wire::Scope {
            name: stored.scope.scope.name.clone(),
            version: stored.scope.scope.version.clone(),
        },
        events: s
            .events
            .iter()
            .map(|e| wire::SpanEvent {
                name: e.name.clone(),
                time_unix_nano: e.time_unix_nano as i64,
                attributes: attributes_to_plain(&e.attributes),
            })
            .collect(),
        links: s
            .links
            .iter()
            .map(|l| wire::SpanLink {
                trace_id: hex_id(&l.trace_id),
                span_id: hex_id(&l.span_id),
                attributes: attributes_to_plain(&l.attributes),
            })
            .collect(),
    }
}

pub fn log(stored: &StoredLog) -> wire::LogRecord {
    let r = &stored.record;
    wire::LogRecord {
        time_unix_nano: stored.time_ns,
        observed_time_unix_nano: r.observed_time_unix_nano as i64,
        severity_number: r.severity_number,
        severity_text: r.severity_text.clone(),
        event_name: r.event_name.clone(),
        body: r.body.as_ref().map(any_value_to_plain).unwrap_or(Value::Null),
        service: stored.resource.service.clone(),
        trace_id: hex_id(&r.trace_id),
        span_id: hex_id(&r.span_id),
        attributes: attributes_to_plain(&r.attributes),
        resource: attributes_to_plain(&stored.resource.resource.attributes),
    }
}

pub fn trace_summary(t: &TraceSummary) -> wire::TraceSummary {
    wire::TraceSummary {
        trace_id: hex_id(&t.trace_id),
        root_service: t.root_service.clone(),
        root_name: t.root_name.clone(),
        start_unix_nano: t.start_ns,
        duration_ns: t.duration_ns,
        span_count: t.span_count,
        error_count: t.error_count,
        services: t.services.clone(),
    }
}

/// Events per second over `window_s` (0 for an empty window).
fn rate(count: i64, window_s: f64) -> f64 {
    if window_s > 0.0 {
        count as f64 / window_s
    } else {
        0.0
    }
}

fn error_pct(errors: i64, spans: i64) -> f64 {
    if spans > 0 {
        errors as f64 * 100.0 / spans as f64
    } else {
        0.0
    }
}

fn kind_count(count: stats::KindCount) -> wire::KindCount {
    wire::KindCount {
        spans: count.spans,
        errors: count.errors,
    }
}

/// Per-service figures; rates are per second of `window_s`, the time the report covers.
pub fn service_stats(report: &stats::ServiceStatsReport, window_s: f64) -> wire::ServiceStatsResponse {
    let (covered_from, covered_to) = report.starts.unwrap_or((0, 0));
    wire::ServiceStatsResponse {
        window_s,
        sampled: report.sampled,
        covered_from_unix_nano: covered_from,
        covered_to_unix_nano: covered_to,
        services: report
            .services
            .iter()
            .map(|s| wire::ServiceStats {
                name: s.name.clone(),
                basis: match s.basis {
                    stats::Basis::Entry => wire::StatsBasis::Entry,
                    stats::Basis::Root => wire::StatsBasis::Root,
                    stats::Basis::All => wire::StatsBasis::All,
                },
                requests: s.requests,
                spans: s.spans,
                errors: s.errors,
                rate_per_s: rate(s.requests, window_s),
                error_pct: error_pct(s.errors, s.requests),
                p50_ns: s.durations.p50_ns,
                p95_ns: s.durations.p95_ns,
                p99_ns: s.durations.p99_ns,
                by_kind: wire::KindCounts {
                    server: kind_count(s.by_kind.server),
                    client: kind_count(s.by_kind.client),
                    internal: kind_count(s.by_kind.internal),
                    producer: kind_count(s.by_kind.producer),
                    consumer: kind_count(s.by_kind.consumer),
                },
                operations: s
                    .operations
                    .iter()
                    .map(|o| wire::OperationStats {
                        name: o.name.clone(),
                        kind: wire::SpanKind::from_otlp(o.kind),
                        spans: o.spans,
                        errors: o.errors,
                        rate_per_s: rate(o.spans, window_s),
                        error_pct: error_pct(o.errors, o.spans),
                        p50_ns: o.durations.p50_ns,
                        p95_ns: o.durations.p95_ns,
                        p99_ns: o.durations.p99_ns,
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn dependencies(deps: &stats::Dependencies) -> wire::DependenciesResponse {
    wire::DependenciesResponse {
        edges: deps
            .edges
            .iter()
            .map(|e| wire::DependencyEdge {
                parent: e.parent.clone(),
                child: e.child.clone(),
                calls: e.calls,
                errors: e.errors,
                error_pct: stats::error_pct(e.errors, e.calls),
                severity: match e.severity {
                    stats::Severity::Ok => wire::EdgeSeverity::Ok,
                    stats::Severity::Warn => wire::EdgeSeverity::Warn,
                    stats::Severity::Error => wire::EdgeSeverity::Error,
                },
                in_cycle: e.in_cycle,
                back: e.back,
            })
            .collect(),
        cycles: deps.cycles.clone(),
        thresholds: wire::EdgeThresholds {
            warn_pct: stats::WARN_ERROR_PCT,
            error_pct: stats::ERROR_ERROR_PCT,
        },
        sampled: deps.sampled,
    }
}

/// Places items the way an exporter sent them: one group per resource and, within it, one per
/// scope, in first-seen order. Shared by the trace, log and metric regrouping below.
#[derive(Default)]
struct Grouping {
    /// Resource ids in order, each with its scope ids in order.
    resources: Vec<(i64, Vec<i64>)>,
}

/// Where an item goes, and which groups it opens.
struct Place {
    resource: usize,
    scope: usize,
    new_resource: bool,
    new_scope: bool,
}

impl Grouping {
    fn place(&mut self, resource: &StoredResource, scope: &StoredScope) -> Place {
        let (r, new_resource) = match self.resources.iter().position(|(id, _)| *id == resource.id) {
            Some(i) => (i, false),
            None => {
                self.resources.push((resource.id, Vec::new()));
                (self.resources.len() - 1, true)
            }
        };
        let scopes = &mut self.resources[r].1;
        let (s, new_scope) = match scopes.iter().position(|id| *id == scope.id) {
            Some(i) => (i, false),
            None => {
                scopes.push(scope.id);
                (scopes.len() - 1, true)
            }
        };
        Place {
            resource: r,
            scope: s,
            new_resource,
            new_scope,
        }
    }
}

/// Regroup stored spans by resource and scope, as an exporter would have sent them.
pub fn otlp_request(spans: &[StoredSpan]) -> ExportTraceServiceRequest {
    let mut request = ExportTraceServiceRequest::default();
    let mut grouping = Grouping::default();
    for stored in spans {
        let place = grouping.place(&stored.resource, &stored.scope);
        if place.new_resource {
            request.resource_spans.push(ResourceSpans {
                resource: Some(stored.resource.resource.clone()),
                scope_spans: Vec::new(),
                schema_url: stored.resource.schema_url.clone(),
            });
        }
        let group = &mut request.resource_spans[place.resource];
        if place.new_scope {
            group.scope_spans.push(ScopeSpans {
                scope: Some(stored.scope.scope.clone()),
                spans: Vec::new(),
                schema_url: stored.scope.schema_url.clone(),
            });
        }
        group.scope_spans[place.scope].spans.push(stored.span.clone());
    }
    request
}

/// Regroup stored log records by resource and scope.
pub fn otlp_logs_request(logs: &[StoredLog]) -> ExportLogsServiceRequest {
    let mut request = ExportLogsServiceRequest::default();
    let mut grouping = Grouping::default();
    for stored in logs {
        let place = grouping.place(&stored.resource, &stored.scope);
        if place.new_resource {
            request.resource_logs.push(ResourceLogs {
                resource: Some(stored.resource.resource.clone()),
                scope_logs: Vec::new(),
                schema_url: stored.resource.schema_url.clone(),
            });
        }
        let group = &mut request.resource_logs[place.resource];
        if place.new_scope {
            group.scope_logs.push(ScopeLogs {
                scope: Some(stored.scope.scope.clone()),
                log_records: Vec::new(),
                schema_url: stored.scope.schema_url.clone(),
            });
        }
        group.scope_logs[place.scope].log_records.push(stored.record.clone());
    }
    request
}

/// The empty metric (with the right data kind) a stream's points go into.
fn empty_metric(stream: &StreamInfo, metadata: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>) -> Metric {
    let data = match stream.kind {
        METRIC_GAUGE => metric::Data::Gauge(Gauge::default()),
        METRIC_SUM => metric::Data::Sum(Sum {
            data_points: Vec::new(),
            aggregation_temporality: stream.temporality,
            is_monotonic: stream.monotonic,
        }),
        METRIC_HISTOGRAM => metric::Data::Histogram(Histogram {
            data_points: Vec::new(),
            aggregation_temporality: stream.temporality,
        }),
        METRIC_EXP_HISTOGRAM => metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: Vec::new(),
            aggregation_temporality: stream.temporality,
        }),
        _ => metric::Data::Summary(Summary::default()),
    };
    Metric {
        name: stream.name.clone(),
        description: stream.description.clone(),
        unit: stream.unit.clone(),
        metadata,
        data: Some(data),
    }
}

/// Rebuild metrics from stored points: resource -> scope -> metric -> data points.
pub fn otlp_metrics_request(points: &[(i64, Arc<StreamInfo>, PointRecord)]) -> ExportMetricsServiceRequest {
    let mut request = ExportMetricsServiceRequest::default();
    let mut grouping = Grouping::default();
    for (_, stream, point) in points {
        let place = grouping.place(&stream.resource, &stream.scope);
        if place.new_resource {
            request.resource_metrics.push(ResourceMetrics {
                resource: Some(stream.resource.resource.clone()),
                scope_metrics: Vec::new(),
                schema_url: stream.resource.schema_url.clone(),
            });
        }
        let group = &mut request.resource_metrics[place.resource];
        if place.new_scope {
            group.scope_metrics.push(ScopeMetrics {
                scope: Some(stream.scope.scope.clone()),
                metrics: Vec::new(),
                schema_url: stream.scope.schema_url.clone(),
            });
        }
        let s = place.scope;
        let metadata = stream
            .metadata
            .as_deref()
            .and_then(|b| Metric::decode(b).ok())
            .map(|m| m.metadata)
            .unwrap_or_default();
        let wanted = empty_metric(stream, metadata);
        let metrics = &mut group.scope_metrics[s].metrics;
        // The same metric identity: name, unit, description, metadata and kind/temporality.
        let same = |m: &Metric| {
            m.name == wanted.name
                && m.unit == wanted.unit
                && m.description == wanted.description
                && m.metadata == wanted.metadata
                && match (&m.data, &wanted.data) {
                    (Some(metric::Data::Gauge(_)), Some(metric::Data::Gauge(_))) => true,
                    (Some(metric::Data::Sum(a)), Some(metric::Data::Sum(b))) => {
                        a.is_monotonic == b.is_monotonic && a.aggregation_temporality == b.aggregation_temporality
                    }
                    (Some(metric::Data::Histogram(a)), Some(metric::Data::Histogram(b))) => {
                        a.aggregation_temporality == b.aggregation_temporality
                    }
                    (Some(metric::Data::ExponentialHistogram(a)), Some(metric::Data::ExponentialHistogram(b))) => {
                        a.aggregation_temporality == b.aggregation_temporality
                    }
                    (Some(metric::Data::Summary(_)), Some(metric::Data::Summary(_))) => true,
                    _ => false,
                }
        };
        let m = match metrics.iter().position(same) {
            Some(i) => i,
            None => {
                metrics.push(wanted);
                metrics.len() - 1
            }
        };
        let attributes = stream.attributes.clone();
        let body = point.body.as_deref();
        match &mut metrics[m].data {
            Some(metric::Data::Gauge(g)) => g.data_points.push(rebuild_number_point(
                point.time_ns,
                point.start_ns,
                point.value,
                point.value_int,
                body,
                attributes,
            )),
            Some(metric::Data::Sum(x)) => x.data_points.push(rebuild_number_point(
                point.time_ns,
                point.start_ns,
                point.value,
                point.value_int,
                body,
                attributes,
            )),
            Some(metric::Data::Histogram(x)) => {
                let mut p = body.and_then(|b| HistogramDataPoint::decode(b).ok()).unwrap_or_default();
                p.attributes = attributes;
                x.data_points.push(p);
            }
            Some(metric::Data::ExponentialHistogram(x)) => {
                let mut p = body.and_then(|b| ExponentialHistogramDataPoint::decode(b).ok()).unwrap_or_default();
                p.attributes = attributes;
                x.data_points.push(p);
            }
            Some(metric::Data::Summary(x)) => {
                let mut p = body.and_then(|b| SummaryDataPoint::decode(b).ok()).unwrap_or_default();
                p.attributes = attributes;
                x.data_points.push(p);
            }
            None => {}
        }
    }
    request
}

/// A stored metric type as the API names it.
pub fn metric_type(kind: i32) -> wire::MetricType {
    use crate::store::rows::{METRIC_EXP_HISTOGRAM, METRIC_GAUGE, METRIC_HISTOGRAM, METRIC_SUM, METRIC_SUMMARY};
    match kind {
        METRIC_GAUGE => wire::MetricType::Gauge,
        METRIC_SUM => wire::MetricType::Sum,
        METRIC_HISTOGRAM => wire::MetricType::Histogram,
        METRIC_EXP_HISTOGRAM => wire::MetricType::ExponentialHistogram,
        METRIC_SUMMARY => wire::MetricType::Summary,
        _ => wire::MetricType::Unknown,
    }
}
