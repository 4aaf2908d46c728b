//! The Jaeger span model both wire formats decode into (thrift `jaeger.thrift`, protobuf `api_v2`),
//! and its translation to OTLP as the Collector's `pkg/translator/jaeger` does it. Where the two
//! Collector translators differ (scope tags, `w3c.tracestate`, grouping by process), `Format` says
//! which one is followed.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// Which Collector translator to follow: thrift batches (UDP agent, HTTP collector) or protobuf
/// (gRPC `PostSpans`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Thrift,
    Proto,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub process: Option<Process>,
    pub spans: Vec<JaegerSpan>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Process {
    pub service_name: String,
    /// None when the sender left the list out (thrift's optional field), which matters for an
    /// empty service name (see `resource`).
    pub tags: Option<Vec<Tag>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct JaegerSpan {
    /// High 64 bits then low, big-endian.
    pub trace_id: [u8; 16],
    pub span_id: u64,
    /// Thrift's `parentSpanId` (0: none); protobuf spans name their parent in `references`.
    pub parent_span_id: u64,
    pub operation_name: String,
    pub references: Vec<SpanRef>,
    pub flags: u32,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub tags: Vec<Tag>,
    pub logs: Vec<Log>,
    /// Protobuf only: a span may carry its own process (the OpenTelemetry Python exporter's do).
    pub process: Option<Process>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SpanRef {
    pub kind: RefKind,
    pub trace_id: [u8; 16],
    pub span_id: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    ChildOf,
    FollowsFrom,
    /// A value outside the enum, kept as the Collector does (it becomes a link).
    Other(i32),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Log {
    pub unix_nano: u64,
    pub fields: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    pub key: String,
    pub value: TagValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TagValue {
    Str(String),
    Bool(bool),
    Long(i64),
    Double(f64),
    Binary(Vec<u8>),
    /// A type number outside the enum: the Collector stores `<Unknown Jaeger TagType "N">`.
    Unknown(String),
}

/// The OTLP request of decoded batches: one resource group per thrift batch; protobuf spans
/// grouped by their own process, else the batch's.
pub fn to_otlp(batches: Vec<Batch>, format: Format) -> ExportTraceServiceRequest {
    let mut resource_spans = Vec::new();
    for batch in batches {
        match format {
            Format::Thrift => {
                if batch.process.is_none() && batch.spans.is_empty() {
                    continue;
                }
                let spans: Vec<Span> = batch
                    .spans
                    .into_iter()
                    .filter(|s| !is_blank(s))
                    .map(|s| span(s, format).1)
                    .collect();
                let scope_spans = if spans.is_empty() {
                    Vec::new()
                } else {
                    vec![ScopeSpans {
                        scope: Some(InstrumentationScope::default()),
                        spans,
                        schema_url: String::new(),
                    }]
                };
                resource_spans.push(ResourceSpans {
                    resource: Some(resource(batch.process.as_ref(), format)),
                    scope_spans,
                    schema_url: String::new(),
                });
            }
            Format::Proto => {
                // Groups in order of first appearance (the Collector's order is a map's: unspecified).
                let mut groups: Vec<(Option<Process>, Vec<JaegerSpan>)> = vec![(batch.process.clone(), Vec::new())];
                for mut span in batch.spans {
                    if is_blank(&span) {
                        continue;
                    }
                    let process = span.process.take().or_else(|| batch.process.clone());
                    match groups.iter_mut().find(|(p, _)| *p == process) {
                        Some((_, spans)) => spans.push(span),
                        None => groups.push((process, vec![span])),
                    }
                }
                for (process, spans) in groups {
                    if process.is_none() && spans.is_empty() {
                        continue;
                    }
                    let mut scopes: Vec<ScopeSpans> = Vec::new();
                    for jaeger_span in spans {
                        let (scope, otlp_span) = span(jaeger_span, format);
                        match scopes.iter_mut().find(|s| s.scope.as_ref() == Some(&scope)) {
                            Some(group) => group.spans.push(otlp_span),
                            None => scopes.push(ScopeSpans {
                                scope: Some(scope),
                                spans: vec![otlp_span],
                                schema_url: String::new(),
                            }),
                        }
                    }
                    resource_spans.push(ResourceSpans {
                        resource: Some(resource(process.as_ref(), format)),
                        scope_spans: scopes,
                        schema_url: String::new(),
                    });
                }
            }
        }
    }
    ExportTraceServiceRequest { resource_spans }
}

/// A span with nothing set, which the Collector skips.
fn is_blank(span: &JaegerSpan) -> bool {
    *span == JaegerSpan::default()
}

/// The resource of a process: `service.name`, then its tags (a later key replaces an earlier
/// one's value in place), then `hostname` as `host.name` and `jaeger.version` as
/// `opencensus.exporterversion` unless those are already set.
fn resource(process: Option<&Process>, format: Format) -> Resource {
    let Some(process) = process else { return Resource::default() };
    if process.service_name.is_empty() && process.tags.is_none() {
        return Resource::default();
    }
    // The protobuf exporters' placeholder for a resource without a service name.
    if format == Format::Proto && process.service_name == "OTLPResourceNoServiceName" {
        return Resource::default();
    }
    let mut attributes = Vec::new();
    if !process.service_name.is_empty() {
        put(
            &mut attributes,
            "service.name",
            AnyValue::from(&TagValue::Str(process.service_name.clone())),
        );
    }
    for tag in process.tags.iter().flatten() {
        put(&mut attributes, &tag.key, AnyValue::from(&tag.value));
    }
    if !has(&attributes, "host.name") {
        if let Some(value) = remove(&mut attributes, "hostname") {
            put(&mut attributes, "host.name", value);
        }
    }
    if !has(&attributes, "opencensus.exporterversion") {
        if let Some(value) = remove(&mut attributes, "jaeger.version") {
            let version = match value.value {
                Some(any_value::Value::StringValue(text)) => text,
                _ => String::new(),
            };
            put(
                &mut attributes,
                "opencensus.exporterversion",
                text_value(format!("Jaeger-{version}")),
            );
        }
    }
    Resource {
        attributes,
        ..Default::default()
    }
}

/// A span's scope (protobuf: from `otel.scope.name` / `otel.scope.version`; thrift: empty) and the
/// span itself.
fn span(jaeger: JaegerSpan, format: Format) -> (InstrumentationScope, Span) {
    let mut tags = jaeger.tags;
    let mut scope = InstrumentationScope::default();
    if format == Format::Proto {
        if let Some(name) = take_tag(&mut tags, "otel.scope.name") {
            scope.name = tag_str(&name);
            if let Some(version) = take_tag(&mut tags, "otel.scope.version") {
                scope.version = tag_str(&version);
            }
        }
    }
    let mut attributes = Vec::new();
    for tag in &tags {
        put(&mut attributes, &tag.key, AnyValue::from(&tag.value));
    }
    let kind = match remove(&mut attributes, "span.kind").as_ref().map(any_str) {
        Some("client") => SpanKind::Client,
        Some("server") => SpanKind::Server,
        Some("producer") => SpanKind::Producer,
        Some("consumer") => SpanKind::Consumer,
        Some("internal") => SpanKind::Internal,
        _ => SpanKind::Unspecified,
    };
    let status = status(&mut attributes, kind);
    let mut trace_state = String::new();
    if format == Format::Proto {
        if let Some(value) = remove(&mut attributes, "w3c.tracestate") {
            trace_state = any_str(&value).to_string();
        }
    }
    let parent = parent_of(jaeger.parent_span_id, &jaeger.trace_id, &jaeger.references);
    let links = jaeger
        .references
        .iter()
        .filter(|r| !(r.kind == RefKind::ChildOf && parent == Some(r.span_id)))
        .map(|r| Link {
            trace_id: r.trace_id.to_vec(),
            span_id: r.span_id.to_be_bytes().to_vec(),
            attributes: vec![KeyValue {
                key: "opentracing.ref_type".into(),
                value: Some(text_value(
                    match r.kind {
                        RefKind::ChildOf => "child_of",
                        RefKind::FollowsFrom => "follows_from",
                        RefKind::Other(_) => "",
                    }
                    .to_string(),
                )),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    let events = jaeger.logs.into_iter().map(event).collect();
    let span = Span {
        trace_id: jaeger.trace_id.to_vec(),
        span_id: jaeger.span_id.to_be_bytes().to_vec(),
        trace_state,
        parent_span_id: parent.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default(),
        // Jaeger's sampled bit is W3C's (the Collector maps it since 2026).
        flags: jaeger.flags & 1,
        name: jaeger.operation_name,
        kind: kind as i32,
        start_time_unix_nano: jaeger.start_unix_nano,
        end_time_unix_nano: jaeger.end_unix_nano,
        attributes,
        events,
        links,
        status,
        ..Default::default()
    };
    (scope, span)
}

/// The parent: thrift's `parentSpanId`, else the first reference in the same trace that is
/// CHILD_OF, else the first FOLLOWS_FROM.
fn parent_of(parent_span_id: u64, trace_id: &[u8; 16], references: &[SpanRef]) -> Option<u64> {
    if parent_span_id != 0 {
        return Some(parent_span_id);
    }
    let in_trace = |kind: RefKind| references.iter().find(|r| r.kind == kind && r.trace_id == *trace_id);
    in_trace(RefKind::ChildOf)
        .or_else(|| in_trace(RefKind::FollowsFrom))
        .map(|r| r.span_id)
        .filter(|id| *id != 0)
}

/// The status from the tags, in the Collector's order: `error: true` (a bool), then
/// `otel.status_code`, then `http.status_code` as HTTP semantics say.
fn status(attributes: &mut Vec<KeyValue>, kind: SpanKind) -> Option<Status> {
    let mut set: Option<Status> = None;
    let error_tag = attributes.iter().position(|kv| {
        kv.key == "error"
            && matches!(
                kv.value.as_ref().and_then(|v| v.value.as_ref()),
                Some(any_value::Value::BoolValue(true))
            )
    });
    if let Some(index) = error_tag {
        attributes.remove(index);
        let message = match remove(attributes, "otel.status_description") {
            Some(description) => any_str(&description).to_string(),
            None => lookup(attributes, "http.status_message")
                .map(|v| any_str(v).to_string())
                .unwrap_or_default(),
        };
        set = Some(Status {
            code: StatusCode::Error as i32,
            message,
        });
    }
    if let Some(code) = remove(attributes, "otel.status_code") {
        if set.is_none() {
            let code = match any_str(&code).to_ascii_uppercase().as_str() {
                "OK" => StatusCode::Ok,
                "ERROR" => StatusCode::Error,
                _ => StatusCode::Unset,
            };
            let message = remove(attributes, "otel.status_description")
                .map(|d| any_str(&d).to_string())
                .unwrap_or_default();
            set = Some(Status {
                code: code as i32,
                message,
            });
        }
    } else if set.is_none() {
        let http_code = lookup(attributes, "http.status_code").and_then(|v| match v.value.as_ref()? {
            any_value::Value::IntValue(n) => Some(*n),
            any_value::Value::StringValue(text) => text.parse().ok(),
            _ => None,
        });
        if let Some(http_code) = http_code {
            let code = match (http_code, kind) {
                (400..=499, SpanKind::Client) => StatusCode::Error,
                (400..=499, SpanKind::Server) => StatusCode::Unset,
                (100..=398, _) => StatusCode::Unset,
                _ => StatusCode::Error,
            };
            if code != StatusCode::Unset {
                let message = lookup(attributes, "http.status_message")
                    .map(|v| any_str(v).to_string())
                    .unwrap_or_default();
                set = Some(Status {
                    code: code as i32,
                    message,
                });
            }
        }
    }
    set
}

/// A log as a span event: its `event` field names it (else the name is empty), the other fields
/// are attributes.
fn event(log: Log) -> Event {
    let mut attributes = Vec::new();
    for field in &log.fields {
        put(&mut attributes, &field.key, AnyValue::from(&field.value));
    }
    let name = remove(&mut attributes, "event")
        .map(|v| any_str(&v).to_string())
        .unwrap_or_default();
    Event {
        time_unix_nano: log.unix_nano,
        name,
        attributes,
        dropped_attributes_count: 0,
    }
}

impl From<&TagValue> for AnyValue {
    fn from(value: &TagValue) -> Self {
        let value = match value {
            TagValue::Str(text) => any_value::Value::StringValue(text.clone()),
            TagValue::Bool(b) => any_value::Value::BoolValue(*b),
            TagValue::Long(n) => any_value::Value::IntValue(*n),
            TagValue::Double(x) => any_value::Value::DoubleValue(*x),
            TagValue::Binary(bytes) => any_value::Value::BytesValue(bytes.clone()),
            TagValue::Unknown(kind) => any_value::Value::StringValue(format!("<Unknown Jaeger TagType \"{kind}\">")),
        };
        AnyValue { value: Some(value) }
    }
}

fn text_value(text: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text)),
    }
}

/// A string value's text; "" for any other type (as the Collector's `Str()`).
fn any_str(value: &AnyValue) -> &str {
    match &value.value {
        Some(any_value::Value::StringValue(text)) => text,
        _ => "",
    }
}

fn tag_str(tag: &Tag) -> String {
    match &tag.value {
        TagValue::Str(text) => text.clone(),
        _ => String::new(),
    }
}

/// Removes and returns the first tag with `key`.
fn take_tag(tags: &mut Vec<Tag>, key: &str) -> Option<Tag> {
    let index = tags.iter().position(|t| t.key == key)?;
    Some(tags.remove(index))
}

fn has(attributes: &[KeyValue], key: &str) -> bool {
    attributes.iter().any(|kv| kv.key == key)
}

fn lookup<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
}

fn remove(attributes: &mut Vec<KeyValue>, key: &str) -> Option<AnyValue> {
    let index = attributes.iter().position(|kv| kv.key == key)?;
    attributes.remove(index).value
}

/// Sets `key`: a key already present keeps its place and takes the new value (as the Collector's
/// map `Put`).
fn put(attributes: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match attributes.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(value),
        None => attributes.push(KeyValue {
            key: key.to_string(),
            value: Some(value),
            ..Default::default()
        }),
    }
}
