//! OTLP/JSON for traces: resource spans down to span events, links and status, both ways.

use super::common::{
    enc_key_value, enc_list, enc_resource, enc_scope, k, put, put_hex, put_i32, put_list, put_str, put_u32, put_u64, u64_string, Attributes,
};
use super::decode::{self, Enum, List, Msg, ProtoEnum, SpanId, Str, TraceId, Uint32, Uint64};
use super::JsonError;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value};

pub(super) fn decode(body: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    decode::decode(body)
}

pub(super) fn encode(req: &ExportTraceServiceRequest) -> Value {
    let mut m = Map::new();
    put(&mut m, k::RESOURCE_SPANS, enc_list(&req.resource_spans, enc_resource_spans));
    Value::Object(m)
}

// Decoders, one per message.

message!(ExportTraceServiceRequest {
    RESOURCE_SPANS => |m, v| v.put::<List<Msg<ResourceSpans>>>(&mut m.resource_spans),
});

message!(ResourceSpans {
    RESOURCE => |m, v| v.put_some::<Msg<Resource>>(&mut m.resource),
    SCOPE_SPANS => |m, v| v.put::<List<Msg<ScopeSpans>>>(&mut m.scope_spans),
    SCHEMA_URL => |m, v| v.put::<Str>(&mut m.schema_url),
});

message!(ScopeSpans {
    SCOPE => |m, v| v.put_some::<Msg<InstrumentationScope>>(&mut m.scope),
    SPANS => |m, v| v.put::<List<Msg<Span>>>(&mut m.spans),
    SCHEMA_URL => |m, v| v.put::<Str>(&mut m.schema_url),
});

message!(Span {
    TRACE_ID => |m, v| v.put::<TraceId>(&mut m.trace_id),
    SPAN_ID => |m, v| v.put::<SpanId>(&mut m.span_id),
    TRACE_STATE => |m, v| v.put::<Str>(&mut m.trace_state),
    PARENT_SPAN_ID => |m, v| v.put::<SpanId>(&mut m.parent_span_id),
    FLAGS => |m, v| v.put::<Uint32>(&mut m.flags),
    NAME => |m, v| v.put::<Str>(&mut m.name),
    KIND => |m, v| v.put::<Enum<span::SpanKind>>(&mut m.kind),
    START_TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.start_time_unix_nano),
    END_TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.end_time_unix_nano),
    ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.attributes),
    DROPPED_ATTRIBUTES_COUNT => |m, v| v.put::<Uint32>(&mut m.dropped_attributes_count),
    EVENTS => |m, v| v.put::<List<Msg<span::Event>>>(&mut m.events),
    DROPPED_EVENTS_COUNT => |m, v| v.put::<Uint32>(&mut m.dropped_events_count),
    LINKS => |m, v| v.put::<List<Msg<span::Link>>>(&mut m.links),
    DROPPED_LINKS_COUNT => |m, v| v.put::<Uint32>(&mut m.dropped_links_count),
    STATUS => |m, v| v.put_some::<Msg<Status>>(&mut m.status),
});

message!(span::Event {
    TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.time_unix_nano),
    NAME => |m, v| v.put::<Str>(&mut m.name),
    ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.attributes),
    DROPPED_ATTRIBUTES_COUNT => |m, v| v.put::<Uint32>(&mut m.dropped_attributes_count),
});

message!(span::Link {
    TRACE_ID => |m, v| v.put::<TraceId>(&mut m.trace_id),
    SPAN_ID => |m, v| v.put::<SpanId>(&mut m.span_id),
    TRACE_STATE => |m, v| v.put::<Str>(&mut m.trace_state),
    ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.attributes),
    DROPPED_ATTRIBUTES_COUNT => |m, v| v.put::<Uint32>(&mut m.dropped_attributes_count),
    FLAGS => |m, v| v.put::<Uint32>(&mut m.flags),
});

message!(Status {
    MESSAGE => |m, v| v.put::<Str>(&mut m.message),
    CODE => |m, v| v.put::<Enum<status::StatusCode>>(&mut m.code),
});

impl ProtoEnum for span::SpanKind {
    const WHAT: &'static str = "span kind";
    fn number_of(name: &str) -> Option<i32> {
        Self::from_str_name(name).map(|e| e as i32)
    }
}

impl ProtoEnum for status::StatusCode {
    const WHAT: &'static str = "status code";
    fn number_of(name: &str) -> Option<i32> {
        Self::from_str_name(name).map(|e| e as i32)
    }
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
