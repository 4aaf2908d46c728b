//! OTLP/JSON for logs: resource logs, scope logs and log records with their body and severity, both ways.

use super::common::{
    enc_any_value, enc_key_value, enc_list, enc_resource, enc_scope, k, put, put_hex, put_i32, put_list, put_str, put_u32, put_u64,
    Attributes,
};
use super::decode::{self, Enum, List, Msg, ProtoEnum, SpanId, Str, TraceId, Uint32, Uint64};
use super::JsonError;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Value};

pub(super) fn decode(body: &[u8]) -> Result<ExportLogsServiceRequest, JsonError> {
    decode::decode(body)
}

pub(super) fn encode(req: &ExportLogsServiceRequest) -> Value {
    let mut m = Map::new();
    put(&mut m, k::RESOURCE_LOGS, enc_list(&req.resource_logs, enc_resource_logs));
    Value::Object(m)
}

// Decoders, one per message.

message!(ExportLogsServiceRequest {
    RESOURCE_LOGS => |m, v| v.put::<List<Msg<ResourceLogs>>>(&mut m.resource_logs),
});

message!(ResourceLogs {
    RESOURCE => |m, v| v.put_some::<Msg<Resource>>(&mut m.resource),
    SCOPE_LOGS => |m, v| v.put::<List<Msg<ScopeLogs>>>(&mut m.scope_logs),
    SCHEMA_URL => |m, v| v.put::<Str>(&mut m.schema_url),
});

message!(ScopeLogs {
    SCOPE => |m, v| v.put_some::<Msg<InstrumentationScope>>(&mut m.scope),
    LOG_RECORDS => |m, v| v.put::<List<Msg<LogRecord>>>(&mut m.log_records),
    SCHEMA_URL => |m, v| v.put::<Str>(&mut m.schema_url),
});

message!(LogRecord {
    TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.time_unix_nano),
    OBSERVED_TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.observed_time_unix_nano),
    SEVERITY_NUMBER => |m, v| v.put::<Enum<SeverityNumber>>(&mut m.severity_number),
    SEVERITY_TEXT => |m, v| v.put::<Str>(&mut m.severity_text),
    BODY => |m, v| v.put_some::<Msg<AnyValue>>(&mut m.body),
    ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.attributes),
    DROPPED_ATTRIBUTES_COUNT => |m, v| v.put::<Uint32>(&mut m.dropped_attributes_count),
    FLAGS => |m, v| v.put::<Uint32>(&mut m.flags),
    TRACE_ID => |m, v| v.put::<TraceId>(&mut m.trace_id),
    SPAN_ID => |m, v| v.put::<SpanId>(&mut m.span_id),
    EVENT_NAME => |m, v| v.put::<Str>(&mut m.event_name),
});

impl ProtoEnum for SeverityNumber {
    const WHAT: &'static str = "severity number";
    fn number_of(name: &str) -> Option<i32> {
        Self::from_str_name(name).map(|e| e as i32)
    }
}

// Encoders, one per message.

fn enc_resource_logs(rl: &ResourceLogs) -> Value {
    let mut m = Map::new();
    if let Some(r) = &rl.resource {
        put(&mut m, k::RESOURCE, enc_resource(r));
    }
    put_list(&mut m, k::SCOPE_LOGS, &rl.scope_logs, enc_scope_logs);
    put_str(&mut m, k::SCHEMA_URL, &rl.schema_url);
    Value::Object(m)
}

fn enc_scope_logs(sl: &ScopeLogs) -> Value {
    let mut m = Map::new();
    if let Some(s) = &sl.scope {
        put(&mut m, k::SCOPE, enc_scope(s));
    }
    put_list(&mut m, k::LOG_RECORDS, &sl.log_records, enc_log_record);
    put_str(&mut m, k::SCHEMA_URL, &sl.schema_url);
    Value::Object(m)
}

fn enc_log_record(l: &LogRecord) -> Value {
    let mut m = Map::new();
    put_u64(&mut m, k::TIME_UNIX_NANO, l.time_unix_nano);
    put_u64(&mut m, k::OBSERVED_TIME_UNIX_NANO, l.observed_time_unix_nano);
    put_i32(&mut m, k::SEVERITY_NUMBER, l.severity_number);
    put_str(&mut m, k::SEVERITY_TEXT, &l.severity_text);
    if let Some(b) = &l.body {
        put(&mut m, k::BODY, enc_any_value(b));
    }
    put_list(&mut m, k::ATTRIBUTES, &l.attributes, enc_key_value);
    put_u32(&mut m, k::DROPPED_ATTRIBUTES_COUNT, l.dropped_attributes_count);
    put_u32(&mut m, k::FLAGS, l.flags);
    put_hex(&mut m, k::TRACE_ID, &l.trace_id);
    put_hex(&mut m, k::SPAN_ID, &l.span_id);
    put_str(&mut m, k::EVENT_NAME, &l.event_name);
    Value::Object(m)
}
