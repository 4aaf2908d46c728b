//! OTLP/JSON for logs: resource logs, scope logs and log records with their body and severity, both ways.

use super::common::{
    attributes, dec_any_value, dec_resource, dec_scope, decode_with, enc_any_value, enc_key_value, enc_list, enc_resource, enc_scope,
    enumeration, field, field_or_default, k, list, obj, put, put_hex, put_i32, put_list, put_str, put_u32, put_u64, span_id, string,
    trace_id, uint32, uint64, R,
};
use super::JsonError;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use serde_json::{Map, Value};
use serde_json_borrow::Value as J;

pub(super) fn decode(body: &[u8]) -> Result<ExportLogsServiceRequest, JsonError> {
    decode_with(body, |o| {
        Ok(ExportLogsServiceRequest {
            resource_logs: list(o, k::RESOURCE_LOGS, dec_resource_logs)?,
        })
    })
}

pub(super) fn encode(req: &ExportLogsServiceRequest) -> Value {
    let mut m = Map::new();
    put(&mut m, k::RESOURCE_LOGS, enc_list(&req.resource_logs, enc_resource_logs));
    Value::Object(m)
}

// Decoders, one per message.

fn dec_resource_logs(v: &J) -> R<ResourceLogs> {
    let o = obj(v)?;
    Ok(ResourceLogs {
        resource: field(o, k::RESOURCE, dec_resource)?,
        scope_logs: list(o, k::SCOPE_LOGS, dec_scope_logs)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_scope_logs(v: &J) -> R<ScopeLogs> {
    let o = obj(v)?;
    Ok(ScopeLogs {
        scope: field(o, k::SCOPE, dec_scope)?,
        log_records: list(o, k::LOG_RECORDS, dec_log_record)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_log_record(v: &J) -> R<LogRecord> {
    let o = obj(v)?;
    Ok(LogRecord {
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        observed_time_unix_nano: field_or_default(o, k::OBSERVED_TIME_UNIX_NANO, uint64)?,
        severity_number: field_or_default(o, k::SEVERITY_NUMBER, severity_number)?,
        severity_text: field_or_default(o, k::SEVERITY_TEXT, string)?,
        body: field(o, k::BODY, dec_any_value)?,
        attributes: attributes(o, k::ATTRIBUTES)?,
        dropped_attributes_count: field_or_default(o, k::DROPPED_ATTRIBUTES_COUNT, uint32)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
        trace_id: field_or_default(o, k::TRACE_ID, trace_id)?,
        span_id: field_or_default(o, k::SPAN_ID, span_id)?,
        event_name: field_or_default(o, k::EVENT_NAME, string)?,
    })
}

fn severity_number(v: &J) -> R<i32> {
    enumeration(v, "severity number", |s| SeverityNumber::from_str_name(s).map(|e| e as i32))
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
