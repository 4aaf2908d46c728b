//! OTLP/JSON for traces: resource spans down to span events, links and status, both ways.

use super::common::{
    attributes, dec_resource, dec_scope, decode_with, enc_key_value, enc_list, enc_resource, enc_scope, enumeration, field,
    field_or_default, k, list, obj, put, put_hex, put_i32, put_list, put_str, put_u32, put_u64, span_id, string, trace_id, u64_string,
    uint32, uint64, R,
};
use super::JsonError;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value};
use serde_json_borrow::Value as J;

pub(super) fn decode(body: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    decode_with(body, |o| {
        Ok(ExportTraceServiceRequest {
            resource_spans: list(o, k::RESOURCE_SPANS, dec_resource_spans)?,
        })
    })
}

pub(super) fn encode(req: &ExportTraceServiceRequest) -> Value {
    let mut m = Map::new();
    put(&mut m, k::RESOURCE_SPANS, enc_list(&req.resource_spans, enc_resource_spans));
    Value::Object(m)
}

// Decoders, one per message.

fn dec_resource_spans(v: &J) -> R<ResourceSpans> {
    let o = obj(v)?;
    Ok(ResourceSpans {
        resource: field(o, k::RESOURCE, dec_resource)?,
        scope_spans: list(o, k::SCOPE_SPANS, dec_scope_spans)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_scope_spans(v: &J) -> R<ScopeSpans> {
    let o = obj(v)?;
    Ok(ScopeSpans {
        scope: field(o, k::SCOPE, dec_scope)?,
        spans: list(o, k::SPANS, dec_span)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_span(v: &J) -> R<Span> {
    let o = obj(v)?;
    Ok(Span {
        trace_id: field_or_default(o, k::TRACE_ID, trace_id)?,
        span_id: field_or_default(o, k::SPAN_ID, span_id)?,
        trace_state: field_or_default(o, k::TRACE_STATE, string)?,
        parent_span_id: field_or_default(o, k::PARENT_SPAN_ID, span_id)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
        name: field_or_default(o, k::NAME, string)?,
        kind: field_or_default(o, k::KIND, span_kind)?,
        start_time_unix_nano: field_or_default(o, k::START_TIME_UNIX_NANO, uint64)?,
        end_time_unix_nano: field_or_default(o, k::END_TIME_UNIX_NANO, uint64)?,
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
        events: list(o, k::EVENTS, dec_event)?,
        dropped_events_count: field_or_default(o, k::DROPPED_EVENTS_COUNT, uint32)?,
        links: list(o, k::LINKS, dec_link)?,
        dropped_links_count: field_or_default(o, k::DROPPED_LINKS_COUNT, uint32)?,
        status: field(o, k::STATUS, dec_status)?,
    })
}

fn dec_event(v: &J) -> R<span::Event> {
    let o = obj(v)?;
    Ok(span::Event {
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        name: field_or_default(o, k::NAME, string)?,
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
    })
}

fn dec_link(v: &J) -> R<span::Link> {
    let o = obj(v)?;
    Ok(span::Link {
        trace_id: field_or_default(o, k::TRACE_ID, trace_id)?,
        span_id: field_or_default(o, k::SPAN_ID, span_id)?,
        trace_state: field_or_default(o, k::TRACE_STATE, string)?,
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
    })
}

fn dec_status(v: &J) -> R<Status> {
    let o = obj(v)?;
    Ok(Status {
        message: field_or_default(o, k::MESSAGE, string)?,
        code: field_or_default(o, k::CODE, status_code)?,
    })
}

fn span_kind(v: &J) -> R<i32> {
    enumeration(v, "span kind", |s| span::SpanKind::from_str_name(s).map(|e| e as i32))
}

fn status_code(v: &J) -> R<i32> {
    enumeration(v, "status code", |s| status::StatusCode::from_str_name(s).map(|e| e as i32))
}

// Encoders, one per message.

fn enc_resource_spans(rs: &ResourceSpans) -> Value {
    let mut m = Map::new();
    if let Some(r) = &rs.resource {
        put(&mut m, k::RESOURCE, enc_resource(r));
    }
    put_list(&mut m, k::SCOPE_SPANS, &rs.scope_spans, enc_scope_spans);
    put_str(&mut m, k::SCHEMA_URL, &rs.schema_url);
    Value::Object(m)
}

fn enc_scope_spans(ss: &ScopeSpans) -> Value {
    let mut m = Map::new();
    if let Some(s) = &ss.scope {
        put(&mut m, k::SCOPE, enc_scope(s));
    }
    put_list(&mut m, k::SPANS, &ss.spans, enc_span);
    put_str(&mut m, k::SCHEMA_URL, &ss.schema_url);
    Value::Object(m)
}

fn enc_span(s: &Span) -> Value {
    let mut m = Map::new();
    put_hex(&mut m, k::TRACE_ID, &s.trace_id);
    put_hex(&mut m, k::SPAN_ID, &s.span_id);
    put_str(&mut m, k::TRACE_STATE, &s.trace_state);
    put_hex(&mut m, k::PARENT_SPAN_ID, &s.parent_span_id);
    put_u32(&mut m, k::FLAGS, s.flags);
    // Name and both timestamps are always written, as the Collector does.
    put(&mut m, k::NAME, Value::String(s.name.clone()));
    put_i32(&mut m, k::KIND, s.kind);
    put(&mut m, k::START_TIME_UNIX_NANO, u64_string(&s.start_time_unix_nano));
    put(&mut m, k::END_TIME_UNIX_NANO, u64_string(&s.end_time_unix_nano));
    put_list(&mut m, k::ATTRIBUTES, &s.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, s.dropped_attributes_count);
    put_list(&mut m, k::EVENTS, &s.events, enc_event);
    put_u32(&mut m, k::DROPPED_EVENTS_COUNT, s.dropped_events_count);
    put_list(&mut m, k::LINKS, &s.links, enc_link);
    put_u32(&mut m, k::DROPPED_LINKS_COUNT, s.dropped_links_count);
    if let Some(st) = &s.status {
        let mut sm = Map::new();
        put_str(&mut sm, k::MESSAGE, &st.message);
        put_i32(&mut sm, k::CODE, st.code);
        put(&mut m, k::STATUS, Value::Object(sm));
    }
    Value::Object(m)
}

fn enc_event(e: &span::Event) -> Value {
    let mut m = Map::new();
    put_u64(&mut m, k::TIME_UNIX_NANO, e.time_unix_nano);
    put_str(&mut m, k::NAME, &e.name);
    put_list(&mut m, k::ATTRIBUTES, &e.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, e.dropped_attributes_count);
    Value::Object(m)
}

fn enc_link(l: &span::Link) -> Value {
    let mut m = Map::new();
    put_hex(&mut m, k::TRACE_ID, &l.trace_id);
    put_hex(&mut m, k::SPAN_ID, &l.span_id);
    put_str(&mut m, k::TRACE_STATE, &l.trace_state);
    put_list(&mut m, k::ATTRIBUTES, &l.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, l.dropped_attributes_count);
    put_u32(&mut m, k::FLAGS, l.flags);
    Value::Object(m)
}
