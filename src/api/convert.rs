//! Stored OTLP data -> the API's JSON shapes, and a trace back into an OTLP export request.

use super::wire;
use crate::pdata::json::{any_value_to_plain, attributes_to_plain};
use crate::pdata::{hex_id, span_kind_name, status_code_name};
use crate::store::read::{StoredLog, StoredSpan, TraceSummary};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use serde_json::Value;

pub fn span(stored: &StoredSpan) -> wire::Span {
    let s = &stored.span;
    let status = s.status.clone().unwrap_or_default();
    wire::Span {
        trace_id: hex_id(&s.trace_id),
        span_id: hex_id(&s.span_id),
        parent_span_id: hex_id(&s.parent_span_id),
        name: s.name.clone(),
        kind: span_kind_name(s.kind).to_string(),
        service: stored.resource.service.clone(),
        start_unix_nano: s.start_time_unix_nano as i64,
        end_unix_nano: s.end_time_unix_nano as i64,
        duration_ns: s.end_time_unix_nano as i64 - s.start_time_unix_nano as i64,
        status: wire::SpanStatus {
            code: status_code_name(status.code).to_string(),
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

/// Regroup stored spans by resource and scope, as an exporter would have sent them.
pub fn otlp_request(spans: &[StoredSpan]) -> ExportTraceServiceRequest {
    let mut request = ExportTraceServiceRequest::default();
    let mut groups: Vec<(i64, i64)> = Vec::new();
    for stored in spans {
        let resource_index = match groups.iter().position(|(r, _)| *r == stored.resource.id) {
            Some(i) => i,
            None => {
                groups.push((stored.resource.id, 0));
                request.resource_spans.push(ResourceSpans {
                    resource: Some(stored.resource.resource.clone()),
                    scope_spans: Vec::new(),
                    schema_url: stored.resource.schema_url.clone(),
                });
                groups.len() - 1
            }
        };
        let resource_spans = &mut request.resource_spans[resource_index];
        let scope_index = match resource_spans
            .scope_spans
            .iter()
            .position(|s| s.scope.as_ref() == Some(&stored.scope.scope) && s.schema_url == stored.scope.schema_url)
        {
            Some(i) => i,
            None => {
                resource_spans.scope_spans.push(ScopeSpans {
                    scope: Some(stored.scope.scope.clone()),
                    spans: Vec::new(),
                    schema_url: stored.scope.schema_url.clone(),
                });
                resource_spans.scope_spans.len() - 1
            }
        };
        resource_spans.scope_spans[scope_index].spans.push(stored.span.clone());
    }
    request
}
