//! Which paths each OTTL context offers, whether they can be written, and what kind of value they hold.

use super::lexer::truncate;
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
    /// An instrumentation scope (the `scope` of a ScopeSpans, ScopeMetrics or ScopeLogs) with its
    /// group's schema URL; also spelled `instrumentation_scope` in path prefixes.
    Scope,
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
            Context::Scope => "scope",
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
    ResourceDroppedAttributesCount,
    /// The context's own count, in the resource and scope contexts.
    DroppedAttributesCount,
    /// The scope's version, in the scope context.
    Version,
    /// The schema URL of the scope's group (ScopeSpans, ScopeMetrics, ScopeLogs), in the scope
    /// context.
    SchemaUrl,
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
    /// A metric's type, as the `METRIC_DATA_TYPE_*` enums number it.
    Type,
    Unit,
    Description,
    /// The name, type, unit and description of a data point's metric.
    MetricName,
    MetricType,
    MetricUnit,
    MetricDescription,
    /// The name of a span event's span.
    SpanName,
    /// The item's cache: a map private to one item while one block of statements runs over it,
    /// which every context has (the caller lends it with `WithCache`).
    Cache,
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
            Field::ResourceDroppedAttributesCount => "resource.dropped_attributes_count",
            Field::DroppedAttributesCount => "dropped_attributes_count",
            Field::Version => "version",
            Field::SchemaUrl => "schema_url",
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
            Field::Type => "type",
            Field::Unit => "unit",
            Field::Description => "description",
            Field::MetricName => "metric.name",
            Field::MetricType => "metric.type",
            Field::MetricUnit => "metric.unit",
            Field::MetricDescription => "metric.description",
            Field::SpanName => "span.name",
            Field::Cache => "cache",
        }
    }

    /// Whether the field takes `[key]`s, and which.
    pub fn container(self) -> Option<Container> {
        match self {
            Field::Attributes | Field::ResourceAttributes | Field::Cache => Some(Container::Map),
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
    rw(Field::ResourceAttributes),
    ro(Field::ResourceDroppedAttributesCount),
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
    rw(Field::ResourceAttributes),
    ro(Field::ResourceDroppedAttributesCount),
    ro(Field::ScopeName),
];

const LOG: &[PathSpec] = &[
    rw(Field::Body),
    rw(Field::SeverityNumber),
    rw(Field::SeverityText),
    rw(Field::Attributes),
    rw(Field::TraceId),
    rw(Field::TimeUnixNano),
    rw(Field::ResourceAttributes),
    ro(Field::ResourceDroppedAttributesCount),
    ro(Field::ScopeName),
];

const METRIC: &[PathSpec] = &[
    rw(Field::Name),
    ro(Field::Type),
    rw(Field::Unit),
    rw(Field::Description),
    rw(Field::ResourceAttributes),
    ro(Field::ResourceDroppedAttributesCount),
    ro(Field::ScopeName),
];

const DATA_POINT: &[PathSpec] = &[
    rw(Field::Attributes),
    ro(Field::MetricName),
    ro(Field::MetricDescription),
    ro(Field::MetricUnit),
    ro(Field::MetricType),
    rw(Field::ResourceAttributes),
    ro(Field::ResourceDroppedAttributesCount),
    ro(Field::ScopeName),
];

const RESOURCE: &[PathSpec] = &[rw(Field::Attributes), rw(Field::DroppedAttributesCount)];

const SCOPE: &[PathSpec] = &[
    rw(Field::Name),
    rw(Field::Version),
    rw(Field::Attributes),
    rw(Field::DroppedAttributesCount),
    rw(Field::SchemaUrl),
    ro(Field::ResourceAttributes),
    ro(Field::ResourceDroppedAttributesCount),
];

/// Every context's cache (`cache`, `<context>.cache`); kept out of the tables, so the lists of
/// paths in messages stay those of the data.
const CACHE: PathSpec = rw(Field::Cache);

pub(super) fn paths_of(context: Context) -> &'static [PathSpec] {
    match context {
        Context::Span => SPAN,
        Context::SpanEvent => SPAN_EVENT,
        Context::Log => LOG,
        Context::Metric => METRIC,
        Context::DataPoint => DATA_POINT,
        Context::Resource => RESOURCE,
        Context::Scope => SCOPE,
    }
}

/// The context names a path may start with, as the Collector spells them. `scope` and
/// `instrumentation_scope` both name the item's instrumentation scope.
pub(super) const CONTEXT_PREFIXES: [&str; 8] = [
    "resource",
    "instrumentation_scope",
    "scope",
    "span",
    "spanevent",
    "metric",
    "datapoint",
    "log",
];

/// The context prefixes whose paths a context can read: its own, and those of what its item
/// belongs to (a data point reads its metric, a span event its span, every item its resource
/// and scope).
pub(super) fn readable_prefixes(context: Context) -> &'static [&'static str] {
    match context {
        Context::Span => &["span", "resource", "instrumentation_scope", "scope"],
        Context::SpanEvent => &["spanevent", "span", "resource", "instrumentation_scope", "scope"],
        Context::Log => &["log", "resource", "instrumentation_scope", "scope"],
        Context::Metric => &["metric", "resource", "instrumentation_scope", "scope"],
        Context::DataPoint => &["datapoint", "metric", "resource", "instrumentation_scope", "scope"],
        Context::Resource => &["resource"],
        Context::Scope => &["scope", "instrumentation_scope", "resource"],
    }
}

impl Field {
    /// Whether the path reads what the item belongs to (`resource.attributes`, `metric.name`
    /// of a data point) rather than the item itself.
    fn names_another_context(self) -> bool {
        self.as_str()
            .split_once('.')
            .is_some_and(|(first, _)| CONTEXT_PREFIXES.contains(&first))
    }
}

/// The names a path may start with to name `context` itself: its own, and for the scope context
/// also `instrumentation_scope`.
fn own_prefixes(context: Context) -> &'static [&'static str] {
    match context {
        Context::Span => &["span"],
        Context::SpanEvent => &["spanevent"],
        Context::Log => &["log"],
        Context::Metric => &["metric"],
        Context::DataPoint => &["datapoint"],
        Context::Resource => &["resource"],
        Context::Scope => &["scope", "instrumentation_scope"],
    }
}

/// The path spelled `text` (segments joined by '.') in `context`. A prefix naming the context
/// itself is the same as none (`span.name` is `name` in the span context, `resource.attributes`
/// is `attributes` in the resource context, `instrumentation_scope.name` is `name` in the scope
/// context), and elsewhere `scope.` is `instrumentation_scope.`. The error is the message without
/// its column.
pub(super) fn lookup(context: Context, text: &str) -> Result<PathSpec, String> {
    let own_prefix_removed = text
        .split_once('.')
        .filter(|(first, _)| own_prefixes(context).contains(first))
        .map_or(text, |(_, rest)| rest);
    if own_prefix_removed == "cache" {
        return Ok(CACHE);
    }
    let table = paths_of(context);
    let find = |t: &str| table.iter().find(|p| p.field.as_str() == t).copied();
    let own = |t: &str| find(t).filter(|p| !p.field.names_another_context());
    if let Some(spec) = find(text) {
        return Ok(spec);
    }
    let unknown = || {
        format!(
            "unknown path '{}' in the {context} context; expected one of {}",
            truncate(text),
            path_list(context)
        )
    };
    let Some((first, rest)) = text.split_once('.') else {
        return Err(unknown());
    };
    if own_prefixes(context).contains(&first) {
        return own(rest).ok_or_else(unknown);
    }
    if first == "scope" {
        if let Some(spec) = find(&format!("instrumentation_scope.{rest}")) {
            return Ok(spec);
        }
    }
    let names_the_scope = matches!(first, "scope" | "instrumentation_scope") && readable_prefixes(context).contains(&first);
    let scope_path = |p: &PathSpec| p.field.as_str() == rest && !p.field.names_another_context();
    if names_the_scope && paths_of(Context::Scope).iter().any(scope_path) {
        return Err(format!(
            "'{}' is not read in the {context} context, which reads only instrumentation_scope.name of its scope; \
             use it in the scope context (context: scope)",
            truncate(text)
        ));
    }
    if CONTEXT_PREFIXES.contains(&first) && rest == "cache" {
        return Err(format!(
            "'{}' is the cache of the {first} context, which the {context} context cannot read; each context has its \
             own cache: write {context}.cache or cache",
            truncate(text)
        ));
    }
    if CONTEXT_PREFIXES.contains(&first) {
        if readable_prefixes(context).contains(&first) {
            return Err(unknown());
        }
        return Err(format!(
            "'{}' is a path of the {first} context, which the {context} context cannot read; expected one of {}",
            truncate(text),
            path_list(context)
        ));
    }
    if own(rest).is_some() {
        return Err(format!(
            "unknown context prefix '{}' in '{}'; write {context}.{rest} or {rest}",
            truncate(first),
            truncate(text)
        ));
    }
    Err(unknown())
}

/// Whether `field` can be written in `context`: the cache always, other fields as the table says.
pub(super) fn is_writable(context: Context, field: Field) -> bool {
    field == Field::Cache || paths_of(context).iter().any(|p| p.field == field && p.writable)
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
