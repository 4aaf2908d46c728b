//! Which paths each OTTL context offers, whether they can be written, and what kind of value they hold.

use std::fmt;

/// What a statement or condition runs on; fixes the paths it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    Span,
    SpanEvent,
    Log,
    Metric,
    DataPoint,
    Resource,
}

impl Context {
    /// The context's name as the Collector's configuration spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Span => "span",
            Context::SpanEvent => "spanevent",
            Context::Log => "log",
            Context::Metric => "metric",
            Context::DataPoint => "datapoint",
            Context::Resource => "resource",
        }
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The root of a path, before any `[key]`. One enum for all contexts; `PathSpec` says which
/// context has which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Name,
    Kind,
    StatusCode,
    StatusMessage,
    Attributes,
    ResourceAttributes,
    ScopeName,
    TraceId,
    SpanId,
    ParentSpanId,
    StartTimeUnixNano,
    EndTimeUnixNano,
    TimeUnixNano,
    Body,
    SeverityNumber,
    SeverityText,
    MetricType,
    Unit,
    Description,
    MetricName,
    SpanName,
}

/// How a field can be indexed with `[key]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// An attribute map: the first key is a string.
    Map,
    /// An `AnyValue` (a log body): string keys into maps, integer indexes into lists.
    Any,
}

impl Field {
    /// The path as written in a statement.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Kind => "kind",
            Field::StatusCode => "status.code",
            Field::StatusMessage => "status.message",
            Field::Attributes => "attributes",
            Field::ResourceAttributes => "resource.attributes",
            Field::ScopeName => "instrumentation_scope.name",
            Field::TraceId => "trace_id.string",
            Field::SpanId => "span_id.string",
            Field::ParentSpanId => "parent_span_id.string",
            Field::StartTimeUnixNano => "start_time_unix_nano",
            Field::EndTimeUnixNano => "end_time_unix_nano",
            Field::TimeUnixNano => "time_unix_nano",
            Field::Body => "body",
            Field::SeverityNumber => "severity_number",
            Field::SeverityText => "severity_text",
            Field::MetricType => "type",
            Field::Unit => "unit",
            Field::Description => "description",
            Field::MetricName => "metric.name",
            Field::SpanName => "span.name",
        }
    }

    /// Whether the field takes `[key]`s, and which.
    pub fn container(self) -> Option<Container> {
        match self {
            Field::Attributes | Field::ResourceAttributes => Some(Container::Map),
            Field::Body => Some(Container::Any),
            _ => None,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One path a context offers.
#[derive(Debug, Clone, Copy)]
pub(super) struct PathSpec {
    pub field: Field,
    /// Read-only paths are borrowed immutably by the context (the span's resource and scope)
    /// or would need the data reshaped (a metric's type).
    pub writable: bool,
}

const fn rw(field: Field) -> PathSpec {
    PathSpec { field, writable: true }
}

const fn ro(field: Field) -> PathSpec {
    PathSpec { field, writable: false }
}

const SPAN: &[PathSpec] = &[
    rw(Field::Name),
    rw(Field::Kind),
    rw(Field::StatusCode),
    rw(Field::StatusMessage),
    rw(Field::Attributes),
    ro(Field::ResourceAttributes),
    ro(Field::ScopeName),
    rw(Field::TraceId),
    rw(Field::SpanId),
    rw(Field::ParentSpanId),
    rw(Field::StartTimeUnixNano),
    rw(Field::EndTimeUnixNano),
];

const SPAN_EVENT: &[PathSpec] = &[
    rw(Field::Name),
    rw(Field::TimeUnixNano),
    rw(Field::Attributes),
    ro(Field::SpanName),
    ro(Field::ResourceAttributes),
    ro(Field::ScopeName),
];

const LOG: &[PathSpec] = &[
    rw(Field::Body),
    rw(Field::SeverityNumber),
    rw(Field::SeverityText),
    rw(Field::Attributes),
    rw(Field::TraceId),
    rw(Field::TimeUnixNano),
    ro(Field::ResourceAttributes),
    ro(Field::ScopeName),
];

const METRIC: &[PathSpec] = &[rw(Field::Name), ro(Field::MetricType), rw(Field::Unit), rw(Field::Description)];

const DATA_POINT: &[PathSpec] = &[rw(Field::Attributes), ro(Field::MetricName)];

const RESOURCE: &[PathSpec] = &[rw(Field::Attributes)];

pub(super) fn paths_of(context: Context) -> &'static [PathSpec] {
    match context {
        Context::Span => SPAN,
        Context::SpanEvent => SPAN_EVENT,
        Context::Log => LOG,
        Context::Metric => METRIC,
        Context::DataPoint => DATA_POINT,
        Context::Resource => RESOURCE,
    }
}

/// The path spelled `text` (segments joined by '.') in `context`.
pub(super) fn lookup(context: Context, text: &str) -> Option<PathSpec> {
    paths_of(context).iter().find(|p| p.field.as_str() == text).copied()
}

/// The context's paths for a message: `name, kind, attributes[...]`.
pub(super) fn path_list(context: Context) -> String {
    let names: Vec<String> = paths_of(context)
        .iter()
        .map(|p| match p.field.container() {
            Some(_) => format!("{}[...]", p.field),
            None => p.field.to_string(),
        })
        .collect();
    names.join(", ")
}

/// Named integer constants, compared with the numeric fields (`kind`, `status.code`, ...).
pub(super) const ENUMS: &[(&str, i64)] = &[
    ("SPAN_KIND_UNSPECIFIED", 0),
    ("SPAN_KIND_INTERNAL", 1),
    ("SPAN_KIND_SERVER", 2),
    ("SPAN_KIND_CLIENT", 3),
    ("SPAN_KIND_PRODUCER", 4),
    ("SPAN_KIND_CONSUMER", 5),
    ("STATUS_CODE_UNSET", 0),
    ("STATUS_CODE_OK", 1),
    ("STATUS_CODE_ERROR", 2),
    ("SEVERITY_NUMBER_UNSPECIFIED", 0),
    ("SEVERITY_NUMBER_TRACE", 1),
    ("SEVERITY_NUMBER_TRACE2", 2),
    ("SEVERITY_NUMBER_TRACE3", 3),
    ("SEVERITY_NUMBER_TRACE4", 4),
    ("SEVERITY_NUMBER_DEBUG", 5),
    ("SEVERITY_NUMBER_DEBUG2", 6),
    ("SEVERITY_NUMBER_DEBUG3", 7),
    ("SEVERITY_NUMBER_DEBUG4", 8),
    ("SEVERITY_NUMBER_INFO", 9),
    ("SEVERITY_NUMBER_INFO2", 10),
    ("SEVERITY_NUMBER_INFO3", 11),
    ("SEVERITY_NUMBER_INFO4", 12),
    ("SEVERITY_NUMBER_WARN", 13),
    ("SEVERITY_NUMBER_WARN2", 14),
    ("SEVERITY_NUMBER_WARN3", 15),
    ("SEVERITY_NUMBER_WARN4", 16),
    ("SEVERITY_NUMBER_ERROR", 17),
    ("SEVERITY_NUMBER_ERROR2", 18),
    ("SEVERITY_NUMBER_ERROR3", 19),
    ("SEVERITY_NUMBER_ERROR4", 20),
    ("SEVERITY_NUMBER_FATAL", 21),
    ("SEVERITY_NUMBER_FATAL2", 22),
    ("SEVERITY_NUMBER_FATAL3", 23),
    ("SEVERITY_NUMBER_FATAL4", 24),
    ("METRIC_DATA_TYPE_NONE", 0),
    ("METRIC_DATA_TYPE_GAUGE", 1),
    ("METRIC_DATA_TYPE_SUM", 2),
    ("METRIC_DATA_TYPE_HISTOGRAM", 3),
    ("METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM", 4),
    ("METRIC_DATA_TYPE_SUMMARY", 5),
];

/// The families of `ENUMS`, for messages about an unknown one.
pub(super) const ENUM_FAMILIES: [&str; 4] = ["SPAN_KIND_", "STATUS_CODE_", "SEVERITY_NUMBER_", "METRIC_DATA_TYPE_"];

pub(super) fn enum_value(name: &str) -> Option<i64> {
    ENUMS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}
