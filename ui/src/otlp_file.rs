//! Reading an OTLP/JSON trace file in the browser, without sending it anywhere: one
//! `ExportTraceServiceRequest` (the trace page's download), or JSON Lines of them (`otelbox export`),
//! into the `wire::Span`s the trace page draws, one list per trace. Errors name the line and the field.
//! Pure data.

use crate::wire::{Scope, Span, SpanEvent, SpanKind, SpanLink, SpanStatus, StatusCode};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;

/// One trace of the file.
#[derive(Clone, Debug, PartialEq)]
pub struct FileTrace {
    pub trace_id: String,
    pub spans: Vec<Span>,
}

impl FileTrace {
    /// The root's service and name (the earliest span without a parent in the trace), for lists.
    pub fn title(&self) -> String {
        let ids: std::collections::HashSet<&str> = self.spans.iter().map(|s| s.span_id.as_str()).collect();
        self.spans
            .iter()
            .filter(|s| !ids.contains(s.parent_span_id.as_str()))
            .min_by_key(|s| s.start_unix_nano)
            .map(|s| format!("{}: {}", s.service, s.name))
            .unwrap_or_default()
    }

    pub fn start_ns(&self) -> i64 {
        self.spans.iter().map(|s| s.start_unix_nano).min().unwrap_or(0)
    }

    pub fn duration_ns(&self) -> i64 {
        self.spans.iter().map(|s| s.end_unix_nano).max().unwrap_or(0) - self.start_ns()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParsedFile {
    /// In order of their first span's start.
    pub traces: Vec<FileTrace>,
    /// Export requests of other signals (an `otelbox export` of everything has logs and metrics too).
    pub other_requests: usize,
}

/// Why a file could not be read: the line (for JSON Lines and syntax errors) and the field's path.
#[derive(Clone, Debug, PartialEq)]
pub struct FileError {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Parses a whole file: one JSON document (an export request, or an array of them), else JSON Lines.
pub fn parse(text: &str) -> Result<ParsedFile, FileError> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(FileError {
            line: None,
            message: "the file is empty; expected OTLP/JSON (an ExportTraceServiceRequest, or JSON Lines of them)".into(),
        });
    }
    let mut spans = Vec::new();
    let mut other_requests = 0;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(requests)) => {
            for (i, request) in requests.iter().enumerate() {
                other_requests += read_request(request, &mut spans).map_err(|e| e.at(&format!("[{i}]")).into_file_error(None))?;
            }
        }
        Ok(request) => other_requests += read_request(&request, &mut spans).map_err(|e| e.into_file_error(None))?,
        Err(whole) => {
            let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
            let first_is_json = lines.next().is_some_and(|(_, l)| serde_json::from_str::<Value>(l).is_ok());
            if !first_is_json || lines.next().is_none() {
                return Err(syntax_error(&whole, None));
            }
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let request: Value = serde_json::from_str(line).map_err(|e| syntax_error(&e, Some(i + 1)))?;
                other_requests += read_request(&request, &mut spans).map_err(|e| e.into_file_error(Some(i + 1)))?;
            }
        }
    }
    if spans.is_empty() {
        return Err(FileError {
            line: None,
            message: if other_requests > 0 {
                format!("no spans in the file: its {other_requests} export requests hold logs or metrics, not traces")
            } else {
                "no spans in the file".into()
            },
        });
    }
    let mut by_trace: HashMap<String, usize> = HashMap::new();
    let mut traces: Vec<FileTrace> = Vec::new();
    for span in spans {
        let at = *by_trace.entry(span.trace_id.clone()).or_insert_with(|| {
            traces.push(FileTrace {
                trace_id: span.trace_id.clone(),
                spans: Vec::new(),
            });
            traces.len() - 1
        });
        traces[at].spans.push(span);
    }
    traces.sort_by_key(FileTrace::start_ns);
    Ok(ParsedFile { traces, other_requests })
}

/// serde_json's message, with its position said our way.
fn syntax_error(e: &serde_json::Error, line: Option<usize>) -> FileError {
    let text = e.to_string();
    let message = text.rfind(" at line ").map_or(text.as_str(), |cut| &text[..cut]);
    match line {
        // One line of JSON Lines: serde's line is always 1 there.
        Some(line) => FileError {
            line: Some(line),
            message: format!("column {}: not JSON: {message}", e.column()),
        },
        None => FileError {
            line: Some(e.line()),
            message: format!("column {}: not JSON: {message}", e.column()),
        },
    }
}

/// A field's problem, with the path to it collected while the error travels out.
struct FieldError {
    path: Vec<String>,
    message: String,
}

impl FieldError {
    fn new(message: impl Into<String>) -> Self {
        FieldError {
            path: Vec::new(),
            message: message.into(),
        }
    }

    fn at(mut self, segment: &str) -> Self {
        self.path.push(segment.to_string());
        self
    }

    fn into_file_error(self, line: Option<usize>) -> FileError {
        let mut path = String::new();
        for segment in self.path.iter().rev() {
            if !path.is_empty() && !segment.starts_with('[') {
                path.push('.');
            }
            path.push_str(segment);
        }
        FileError {
            line,
            message: if path.is_empty() {
                self.message
            } else {
                format!("{path}: {}", self.message)
            },
        }
    }
}

type Read<T> = Result<T, FieldError>;

/// A field by its JSON (lowerCamelCase) name or its proto (snake_case) name; `null` is absent.
fn get<'v>(o: &'v Map<String, Value>, camel: &str, snake: &str) -> Option<&'v Value> {
    o.get(camel)
        .filter(|v| !v.is_null())
        .or_else(|| o.get(snake).filter(|v| !v.is_null()))
}

fn object<'v>(v: &'v Value, what: &str) -> Read<&'v Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| FieldError::new(format!("expected {what} (an object), got {}", kind_of(v))))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A list field: each item read with `read`, errors naming the index.
fn list<T>(o: &Map<String, Value>, camel: &str, snake: &str, mut read: impl FnMut(&Value) -> Read<T>) -> Read<Vec<T>> {
    let Some(v) = get(o, camel, snake) else {
        return Ok(Vec::new());
    };
    let items = v
        .as_array()
        .ok_or_else(|| FieldError::new(format!("expected an array, got {}", kind_of(v))).at(camel))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| read(item).map_err(|e| e.at(&format!("[{i}]")).at(camel)))
        .collect()
}

/// An optional field read with `read`, its name added to errors.
fn field<T: Default>(o: &Map<String, Value>, camel: &str, snake: &str, read: impl FnOnce(&Value) -> Read<T>) -> Read<T> {
    match get(o, camel, snake) {
        None => Ok(T::default()),
        Some(v) => read(v).map_err(|e| e.at(camel)),
    }
}

fn string(v: &Value) -> Read<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| FieldError::new(format!("expected a string, got {}", kind_of(v))))
}

/// A 64-bit integer: OTLP/JSON writes them as strings, some producers as numbers.
fn integer(v: &Value) -> Read<i64> {
    let parsed = match v {
        Value::String(s) => s
            .parse::<i64>()
            .ok()
            .or_else(|| s.parse::<u64>().ok().map(|u| u.min(i64::MAX as u64) as i64)),
        Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|u| u.min(i64::MAX as u64) as i64)),
        _ => None,
    };
    parsed.ok_or_else(|| FieldError::new(format!("expected an integer (a number or a string of digits), got {}", short(v))))
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// A hex id of `bytes` bytes; "" is no id (a root's parent).
fn hex_id(v: &Value, bytes: usize) -> Read<String> {
    let s = v
        .as_str()
        .ok_or_else(|| FieldError::new(format!("expected a hex string, got {}", kind_of(v))))?;
    if s.is_empty() {
        return Ok(String::new());
    }
    if s.len() != bytes * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FieldError::new(format!("expected {} hex characters, got {}", bytes * 2, short(v))));
    }
    Ok(s.to_ascii_lowercase())
}

/// An enum given as its number or its proto name (`SPAN_KIND_SERVER`).
fn enumeration(v: &Value, names: &[&str]) -> Read<i32> {
    match v {
        Value::Number(n) => n.as_i64().map(|n| n as i32),
        Value::String(s) => names.iter().position(|name| name == s).map(|i| i as i32),
        _ => None,
    }
    .ok_or_else(|| FieldError::new(format!("expected one of {} or its number, got {}", names.join(", "), short(v))))
}

const SPAN_KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const STATUS_CODES: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

/// An `AnyValue` as the plain JSON the API gives attributes in (ints as numbers, bytes as base64).
fn any_value(v: &Value) -> Read<Value> {
    let o = object(v, "an AnyValue")?;
    let Some((key, inner)) = o.iter().find(|(_, v)| !v.is_null()) else {
        return Ok(Value::Null);
    };
    let plain = match key.as_str() {
        "stringValue" | "string_value" | "bytesValue" | "bytes_value" => Value::String(string(inner).map_err(|e| e.at(key))?),
        "boolValue" | "bool_value" => Value::Bool(
            inner
                .as_bool()
                .ok_or_else(|| FieldError::new(format!("expected true or false, got {}", short(inner))).at(key))?,
        ),
        "intValue" | "int_value" => Value::from(integer(inner).map_err(|e| e.at(key))?),
        "doubleValue" | "double_value" => match inner {
            Value::Number(_) => inner.clone(),
            // Non-finite doubles are strings in OTLP/JSON; the API writes them the same way.
            Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => inner.clone(),
            Value::String(s) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| FieldError::new(format!("expected a number, got {}", short(inner))).at(key))?,
            _ => return Err(FieldError::new(format!("expected a number, got {}", kind_of(inner))).at(key)),
        },
        "arrayValue" | "array_value" => {
            let array = object(inner, "an ArrayValue").map_err(|e| e.at(key))?;
            Value::Array(list(array, "values", "values", any_value).map_err(|e| e.at(key))?)
        }
        "kvlistValue" | "kvlist_value" => {
            let kvlist = object(inner, "a KeyValueList").map_err(|e| e.at(key))?;
            Value::Object(attributes_in(kvlist, "values").map_err(|e| e.at(key))?)
        }
        other => return Err(FieldError::new(format!("unknown value type `{other}`"))),
    };
    Ok(plain)
}

/// A `KeyValue` list field as a plain object (a repeated key keeps the last, as the API does).
fn attributes_in(o: &Map<String, Value>, name: &str) -> Read<Map<String, Value>> {
    let pairs = list(o, name, name, |kv| {
        let kv = object(kv, "a KeyValue")?;
        let key = field(kv, "key", "key", string)?;
        let value = match get(kv, "value", "value") {
            Some(v) => any_value(v).map_err(|e| e.at("value"))?,
            None => Value::Null,
        };
        Ok((key, value))
    })?;
    Ok(pairs.into_iter().collect())
}

/// Appends a request's spans; returns 1 when it is a request of another signal, else 0.
fn read_request(request: &Value, out: &mut Vec<Span>) -> Read<usize> {
    let o = object(request, "an ExportTraceServiceRequest")?;
    if get(o, "resourceSpans", "resource_spans").is_none() {
        let other_signal = ["resourceLogs", "resource_logs", "resourceMetrics", "resource_metrics"]
            .iter()
            .any(|k| o.contains_key(*k));
        return if other_signal {
            Ok(1)
        } else {
            Err(FieldError::new(
                "expected resourceSpans: this is not an OTLP/JSON ExportTraceServiceRequest",
            ))
        };
    }
    list(o, "resourceSpans", "resource_spans", |resource_spans| {
        let rs = object(resource_spans, "a ResourceSpans")?;
        let resource = match get(rs, "resource", "resource") {
            Some(r) => attributes_in(object(r, "a Resource").map_err(|e| e.at("resource"))?, "attributes").map_err(|e| e.at("resource"))?,
            None => Map::new(),
        };
        let service = match resource.get("service.name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => "unknown_service".to_string(),
        };
        list(rs, "scopeSpans", "scope_spans", |scope_spans| {
            let ss = object(scope_spans, "a ScopeSpans")?;
            let scope = match get(ss, "scope", "scope") {
                Some(s) => {
                    let s = object(s, "an InstrumentationScope").map_err(|e| e.at("scope"))?;
                    Scope {
                        name: field(s, "name", "name", string).map_err(|e| e.at("scope"))?,
                        version: field(s, "version", "version", string).map_err(|e| e.at("scope"))?,
                    }
                }
                None => Scope {
                    name: String::new(),
                    version: String::new(),
                },
            };
            let spans = list(ss, "spans", "spans", |s| read_span(s, &service, &resource, &scope))?;
            out.extend(spans);
            Ok(())
        })
    })?;
    Ok(0)
}

fn read_span(v: &Value, service: &str, resource: &Map<String, Value>, scope: &Scope) -> Read<Span> {
    let o = object(v, "a Span")?;
    let required_id = |camel: &str, snake: &str, bytes: usize| -> Read<String> {
        let id = field(o, camel, snake, |v| hex_id(v, bytes))?;
        if id.is_empty() {
            return Err(FieldError::new(format!(
                "missing: every span needs a {camel} of {} hex characters",
                bytes * 2
            )));
        }
        Ok(id)
    };
    let trace_id = required_id("traceId", "trace_id", 16)?;
    let span_id = required_id("spanId", "span_id", 8)?;
    let start = field(o, "startTimeUnixNano", "start_time_unix_nano", integer)?;
    let end = field(o, "endTimeUnixNano", "end_time_unix_nano", integer)?;
    let status = match get(o, "status", "status") {
        Some(s) => {
            let s = object(s, "a Status").map_err(|e| e.at("status"))?;
            SpanStatus {
                code: StatusCode::from_otlp(field(s, "code", "code", |v| enumeration(v, &STATUS_CODES)).map_err(|e| e.at("status"))?),
                message: field(s, "message", "message", string).map_err(|e| e.at("status"))?,
            }
        }
        None => SpanStatus {
            code: StatusCode::Unset,
            message: String::new(),
        },
    };
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id: field(o, "parentSpanId", "parent_span_id", |v| hex_id(v, 8))?,
        name: field(o, "name", "name", string)?,
        kind: SpanKind::from_otlp(field(o, "kind", "kind", |v| enumeration(v, &SPAN_KINDS))?),
        service: service.to_string(),
        start_unix_nano: start,
        end_unix_nano: end,
        duration_ns: end - start,
        status,
        attributes: attributes_in(o, "attributes")?,
        resource: resource.clone(),
        scope: scope.clone(),
        events: list(o, "events", "events", |e| {
            let e = object(e, "an Event")?;
            Ok(SpanEvent {
                name: field(e, "name", "name", string)?,
                time_unix_nano: field(e, "timeUnixNano", "time_unix_nano", integer)?,
                attributes: attributes_in(e, "attributes")?,
            })
        })?,
        links: list(o, "links", "links", |l| {
            let l = object(l, "a Link")?;
            Ok(SpanLink {
                trace_id: field(l, "traceId", "trace_id", |v| hex_id(v, 16))?,
                span_id: field(l, "spanId", "span_id", |v| hex_id(v, 8))?,
                attributes: attributes_in(l, "attributes")?,
            })
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn request(spans: Value) -> Value {
        json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
            "scopeSpans": [{"scope": {"name": "tests", "version": "1.0"}, "spans": spans}]
        }]})
    }

    fn span(id: &str, parent: &str, start: u64) -> Value {
        json!({"traceId": TRACE, "spanId": id, "parentSpanId": parent, "name": format!("op {id}"), "kind": 2,
               "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1000).to_string(),
               "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
               "attributes": [{"key": "http.status_code", "value": {"intValue": "500"}},
                              {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"boolValue": true}]}}}],
               "events": [{"timeUnixNano": "5", "name": "exception", "attributes": []}]})
    }

    #[test]
    fn reads_a_trace_download_into_wire_spans() {
        let text = request(json!([
            span("00f067aa0ba902b7", "", 100),
            span("00f067aa0ba902b8", "00f067aa0ba902b7", 200)
        ]))
        .to_string();
        let file = parse(&text).unwrap();
        assert_eq!(file.traces.len(), 1);
        let spans = &file.traces[0].spans;
        assert_eq!(spans.len(), 2);
        let s = &spans[1];
        assert_eq!((s.trace_id.as_str(), s.parent_span_id.as_str()), (TRACE, "00f067aa0ba902b7"));
        assert_eq!(
            (s.service.as_str(), s.kind, s.status.code),
            ("checkout", SpanKind::Server, StatusCode::Error)
        );
        assert_eq!((s.start_unix_nano, s.end_unix_nano, s.duration_ns), (200, 1200, 1000));
        assert_eq!(s.attributes["http.status_code"], json!(500));
        assert_eq!(s.attributes["tags"], json!(["a", true]));
        assert_eq!(s.events[0].name, "exception");
        assert_eq!(s.scope.version, "1.0");
        assert_eq!(file.traces[0].title(), "checkout: op 00f067aa0ba902b7");
    }

    #[test]
    fn json_lines_with_several_traces_and_other_signals() {
        let other = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let mut second = span("1111111111111111", "", 50);
        second["traceId"] = json!(other);
        let lines = [
            request(json!([span("00f067aa0ba902b7", "", 100)])).to_string(),
            String::new(),
            json!({"resourceLogs": []}).to_string(),
            request(json!([second])).to_string(),
        ]
        .join("\n");
        let file = parse(&lines).unwrap();
        let ids: Vec<&str> = file.traces.iter().map(|t| t.trace_id.as_str()).collect();
        assert_eq!(ids, [other, TRACE], "earliest trace first");
        assert_eq!(file.other_requests, 1);
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let good = request(json!([span("00f067aa0ba902b7", "", 100)])).to_string();
        let bad = request(json!([span("00f067aa0ba902b7", "", 100), span("xyz", "", 1)])).to_string();
        let error = parse(&format!("{good}\n{bad}\n")).unwrap_err();
        assert_eq!(error.line, Some(2));
        assert_eq!(
            error.to_string(),
            "line 2: resourceSpans[0].scopeSpans[0].spans[1].spanId: expected 16 hex characters, got \"xyz\""
        );

        let mut wrong_type = span("00f067aa0ba902b7", "", 100);
        wrong_type["attributes"][0]["value"] = json!({"intValue": "five"});
        let error = parse(&request(json!([wrong_type])).to_string()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue: expected an integer (a number or a string of digits), got \"five\""
        );

        let error = parse("{\n  \"resourceSpans\": [\n    {,\n  ]\n}").unwrap_err();
        assert_eq!(error.line, Some(3));
        assert!(
            error.message.starts_with("column 6: not JSON: key must be a string"),
            "{}",
            error.message
        );

        assert!(parse("{\"hello\": 1}").unwrap_err().message.contains("expected resourceSpans"));
        assert!(parse("  ").unwrap_err().message.contains("empty"));
        assert!(parse("{\"resourceMetrics\": []}")
            .unwrap_err()
            .message
            .contains("hold logs or metrics"));
    }
}
