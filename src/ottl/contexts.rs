//! `TransformContext` over the OTLP prost types: a span, a span event, a log record, a
//! metric, a data point, a resource and an instrumentation scope, each with what its paths read
//! besides the item, and
//! `WithResource`, which lends a metric or data point context the resource and scope it
//! belongs to.

use super::eval::{FieldMut, FieldRef, TransformContext};
use super::paths::{Context, Field};
use super::value::Value;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::Span;

/// The resource an item's context reads: lent shared by the components that only evaluate
/// conditions, or exclusively by the transform processor, whose statements may write
/// `resource.attributes` from a span, log, metric or data point context as the Collector's do (the
/// change holds for every item of that resource, as there).
pub enum LentResource<'a> {
    Shared(&'a Resource),
    Exclusive(&'a mut Resource),
}

impl<'a> From<&'a Resource> for LentResource<'a> {
    fn from(resource: &'a Resource) -> Self {
        LentResource::Shared(resource)
    }
}

impl<'a> From<&'a mut Resource> for LentResource<'a> {
    fn from(resource: &'a mut Resource) -> Self {
        LentResource::Exclusive(resource)
    }
}

impl LentResource<'_> {
    fn get(&self) -> &Resource {
        match self {
            LentResource::Shared(resource) => resource,
            LentResource::Exclusive(resource) => resource,
        }
    }
}

/// A span, with its scope read-only (shared by other spans) and its resource read-only unless lent
/// exclusively.
pub struct SpanContext<'a> {
    pub span: &'a mut Span,
    pub resource: Option<LentResource<'a>>,
    pub scope: Option<&'a InstrumentationScope>,
}

/// A span event, with its span's name and scope read-only, and its resource as in `SpanContext`.
pub struct SpanEventContext<'a> {
    pub event: &'a mut Event,
    pub span_name: &'a str,
    pub resource: Option<LentResource<'a>>,
    pub scope: Option<&'a InstrumentationScope>,
}

/// A log record, with its scope read-only and its resource as in `SpanContext`.
pub struct LogContext<'a> {
    pub log: &'a mut LogRecord,
    pub resource: Option<LentResource<'a>>,
    pub scope: Option<&'a InstrumentationScope>,
}

/// A metric. Its resource and scope (`resource.attributes`, `instrumentation_scope.name`)
/// are read through `WithResource`; without it they are an error at run time.
pub struct MetricContext<'a> {
    pub metric: &'a mut Metric,
}

/// A data point of any metric type: its attributes, and its metric's name read-only.
/// Build it from disjoint borrows of the metric: `let Metric { name, data, .. } = metric;`.
/// `in_metric` lends the rest of the metric (`metric.type`, `metric.unit`,
/// `metric.description`) and `WithResource` the resource and scope; without them those
/// paths are an error at run time.
pub struct DataPointContext<'a> {
    pub attributes: &'a mut Vec<KeyValue>,
    pub metric_name: &'a str,
    pub metric: Option<MetricFacts<'a>>,
}

/// What a data point's paths read of its metric besides the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricFacts<'a> {
    pub description: &'a str,
    pub unit: &'a str,
    /// As the `METRIC_DATA_TYPE_*` enums number it.
    pub metric_type: i64,
}

/// Any context with the resource and scope its item belongs to (the scope read-only, the resource
/// as in `SpanContext`): the metric and data point contexts hold only their metric, so the caller
/// lends these alongside.
pub struct WithResource<'a, C> {
    pub inner: C,
    pub resource: Option<LentResource<'a>>,
    pub scope: Option<&'a InstrumentationScope>,
}

pub struct ResourceContext<'a> {
    pub resource: &'a mut Resource,
}

/// An instrumentation scope and the schema URL of its group (ScopeSpans, ScopeMetrics or
/// ScopeLogs), with the group's resource read-only.
pub struct ScopeContext<'a> {
    pub scope: &'a mut InstrumentationScope,
    pub schema_url: &'a mut String,
    pub resource: Option<&'a Resource>,
}

impl<'a> SpanContext<'a> {
    pub fn new(span: &'a mut Span, resource: Option<&'a Resource>, scope: Option<&'a InstrumentationScope>) -> Self {
        SpanContext {
            span,
            resource: resource.map(LentResource::from),
            scope,
        }
    }
}

impl<'a> LogContext<'a> {
    pub fn new(log: &'a mut LogRecord, resource: Option<&'a Resource>, scope: Option<&'a InstrumentationScope>) -> Self {
        LogContext {
            log,
            resource: resource.map(LentResource::from),
            scope,
        }
    }
}

impl<'a> DataPointContext<'a> {
    pub fn number(point: &'a mut NumberDataPoint, metric_name: &'a str) -> Self {
        Self::of(&mut point.attributes, metric_name)
    }
    pub fn histogram(point: &'a mut HistogramDataPoint, metric_name: &'a str) -> Self {
        Self::of(&mut point.attributes, metric_name)
    }
    pub fn exponential_histogram(point: &'a mut ExponentialHistogramDataPoint, metric_name: &'a str) -> Self {
        Self::of(&mut point.attributes, metric_name)
    }
    pub fn summary(point: &'a mut SummaryDataPoint, metric_name: &'a str) -> Self {
        Self::of(&mut point.attributes, metric_name)
    }

    fn of(attributes: &'a mut Vec<KeyValue>, metric_name: &'a str) -> Self {
        DataPointContext {
            attributes,
            metric_name,
            metric: None,
        }
    }

    /// Lends the rest of the point's metric, for `metric.type`, `metric.unit` and
    /// `metric.description`.
    pub fn in_metric(mut self, facts: MetricFacts<'a>) -> Self {
        self.metric = Some(facts);
        self
    }

    fn facts(&self, field: Field) -> Result<MetricFacts<'a>, String> {
        self.metric.ok_or_else(|| not_lent(field, Context::DataPoint))
    }
}

impl<'a> MetricFacts<'a> {
    /// From the parts of a metric, so that its data can be borrowed mutably alongside:
    /// `let Metric { name, description, unit, data, .. } = metric;`.
    pub fn new(description: &'a str, unit: &'a str, data: Option<&Data>) -> Self {
        MetricFacts {
            description,
            unit,
            metric_type: metric_type(data),
        }
    }
}

impl<'a> ScopeContext<'a> {
    pub fn new(scope: &'a mut InstrumentationScope, schema_url: &'a mut String, resource: Option<&'a Resource>) -> Self {
        ScopeContext {
            scope,
            schema_url,
            resource,
        }
    }
}

impl<'a, C> WithResource<'a, C> {
    pub fn new(inner: C, resource: Option<&'a Resource>, scope: Option<&'a InstrumentationScope>) -> Self {
        WithResource {
            inner,
            resource: resource.map(LentResource::from),
            scope,
        }
    }
}

// ---------------------------------------------------------------------------
// Conversions shared by the contexts

fn text(s: &str) -> FieldRef<'static> {
    FieldRef::Value(Value::Str(s.to_string()))
}

fn int(n: i32) -> FieldRef<'static> {
    FieldRef::Value(Value::Int(i64::from(n)))
}

/// Nanosecond timestamps are u64 in OTLP; past i64::MAX (the year 2262) they saturate.
fn time(nanos: u64) -> FieldRef<'static> {
    FieldRef::Value(Value::Int(i64::try_from(nanos).unwrap_or(i64::MAX)))
}

/// Ids read as lowercase hex, "" when empty.
fn id(bytes: &[u8]) -> FieldRef<'static> {
    FieldRef::Value(Value::Str(hex::encode(bytes)))
}

fn resource_attributes(resource: Option<&Resource>) -> FieldRef<'_> {
    FieldRef::Map(resource.map_or(&[], |r| &r.attributes))
}

fn read<'b>(resource: &'b Option<LentResource<'_>>) -> Option<&'b Resource> {
    resource.as_ref().map(LentResource::get)
}

/// `resource.attributes` for writing, where the resource was lent exclusively.
fn resource_attributes_mut<'b>(resource: &'b mut Option<LentResource<'_>>, context: Context) -> Result<FieldMut<'b>, String> {
    match resource {
        Some(LentResource::Exclusive(resource)) => Ok(FieldMut::Map(&mut resource.attributes)),
        _ => Err(format!(
            "{} is read-only here: this component reads the resource of {context} items but does not change it",
            Field::ResourceAttributes
        )),
    }
}

fn resource_dropped_attributes_count(resource: Option<&Resource>) -> FieldRef<'static> {
    FieldRef::Value(Value::Int(i64::from(resource.map_or(0, |r| r.dropped_attributes_count))))
}

fn scope_name(scope: Option<&InstrumentationScope>) -> FieldRef<'static> {
    text(scope.map_or("", |s| &s.name))
}

fn expect_str(field: Field, value: Value) -> Result<String, String> {
    match value {
        Value::Str(s) => Ok(s),
        other => Err(wrong_type(field, "a string", &other)),
    }
}

fn expect_i32(field: Field, value: Value) -> Result<i32, String> {
    match value {
        Value::Int(n) => i32::try_from(n).map_err(|_| format!("{field} must fit in 32 bits, got {n}")),
        other => Err(wrong_type(field, "an int", &other)),
    }
}

fn expect_u32(field: Field, value: Value) -> Result<u32, String> {
    match value {
        Value::Int(n) => u32::try_from(n).map_err(|_| format!("{field} must be between 0 and {}, got {n}", u32::MAX)),
        other => Err(wrong_type(field, "an int", &other)),
    }
}

fn expect_time(field: Field, value: Value) -> Result<u64, String> {
    match value {
        Value::Int(n) => u64::try_from(n).map_err(|_| format!("{field} cannot be negative, got {n}")),
        other => Err(wrong_type(field, "an int", &other)),
    }
}

/// A hex id of `len` bytes; "" clears it where an empty id is valid (parent span, log trace).
fn expect_id(field: Field, value: Value, len: usize, may_be_empty: bool) -> Result<Vec<u8>, String> {
    let hex_text = expect_str(field, value)?;
    if hex_text.is_empty() && may_be_empty {
        return Ok(Vec::new());
    }
    match hex::decode(&hex_text) {
        Ok(bytes) if bytes.len() == len => Ok(bytes),
        _ => Err(format!(
            "{field} must be {} hex characters, got {:?}",
            len * 2,
            super::lexer::truncate(&hex_text)
        )),
    }
}

fn wrong_type(field: Field, expected: &str, got: &Value) -> String {
    format!("{field} expects {expected}, got {}", got.type_name())
}

fn not_in(field: Field, context: Context) -> String {
    format!("{field} is not a path of the {context} context")
}

fn read_only(field: Field, context: Context) -> String {
    format!("{field} is read-only in the {context} context")
}

/// A path the parser accepts but the caller did not lend the data for.
fn not_lent(field: Field, context: Context) -> String {
    format!("{field} is not available here: this component evaluates {context} statements without it")
}

/// Metric types as the `METRIC_DATA_TYPE_*` enums number them.
fn metric_type(data: Option<&Data>) -> i64 {
    match data {
        None => 0,
        Some(Data::Gauge(_)) => 1,
        Some(Data::Sum(_)) => 2,
        Some(Data::Histogram(_)) => 3,
        Some(Data::ExponentialHistogram(_)) => 4,
        Some(Data::Summary(_)) => 5,
    }
}

// ---------------------------------------------------------------------------
// Implementations

impl TransformContext for SpanContext<'_> {
    fn context(&self) -> Context {
        Context::Span
    }

    fn get(&self, field: Field) -> Result<FieldRef<'_>, String> {
        let span = &*self.span;
        let status = span.status.as_ref();
        Ok(match field {
            Field::Name => text(&span.name),
            Field::Kind => int(span.kind),
            Field::StatusCode => int(status.map_or(0, |s| s.code)),
            Field::StatusMessage => text(status.map_or("", |s| &s.message)),
            Field::Attributes => FieldRef::Map(&span.attributes),
            Field::ResourceAttributes => resource_attributes(read(&self.resource)),
            Field::ResourceDroppedAttributesCount => resource_dropped_attributes_count(read(&self.resource)),
            Field::ScopeName => scope_name(self.scope),
            Field::TraceId => id(&span.trace_id),
            Field::SpanId => id(&span.span_id),
            Field::ParentSpanId => id(&span.parent_span_id),
            Field::StartTimeUnixNano => time(span.start_time_unix_nano),
            Field::EndTimeUnixNano => time(span.end_time_unix_nano),
            other => return Err(not_in(other, Context::Span)),
        })
    }

    fn set(&mut self, field: Field, value: Value) -> Result<(), String> {
        let span = &mut *self.span;
        match field {
            Field::Name => span.name = expect_str(field, value)?,
            Field::Kind => span.kind = expect_i32(field, value)?,
            Field::StatusCode => span.status.get_or_insert_with(Default::default).code = expect_i32(field, value)?,
            Field::StatusMessage => span.status.get_or_insert_with(Default::default).message = expect_str(field, value)?,
            Field::TraceId => span.trace_id = expect_id(field, value, 16, false)?,
            Field::SpanId => span.span_id = expect_id(field, value, 8, false)?,
            Field::ParentSpanId => span.parent_span_id = expect_id(field, value, 8, true)?,
            Field::StartTimeUnixNano => span.start_time_unix_nano = expect_time(field, value)?,
            Field::EndTimeUnixNano => span.end_time_unix_nano = expect_time(field, value)?,
            other => return Err(read_only(other, Context::Span)),
        }
        Ok(())
    }

    fn get_mut(&mut self, field: Field) -> Result<FieldMut<'_>, String> {
        match field {
            Field::Attributes => Ok(FieldMut::Map(&mut self.span.attributes)),
            Field::ResourceAttributes => resource_attributes_mut(&mut self.resource, Context::Span),
            other => Err(read_only(other, Context::Span)),
        }
    }

    fn span_mut(&mut self) -> Option<&mut Span> {
        Some(&mut *self.span)
    }
}

impl TransformContext for SpanEventContext<'_> {
    fn context(&self) -> Context {
        Context::SpanEvent
    }

    fn get(&self, field: Field) -> Result<FieldRef<'_>, String> {
        Ok(match field {
            Field::Name => text(&self.event.name),
            Field::TimeUnixNano => time(self.event.time_unix_nano),
            Field::Attributes => FieldRef::Map(&self.event.attributes),
            Field::SpanName => text(self.span_name),
            Field::ResourceAttributes => resource_attributes(read(&self.resource)),
            Field::ResourceDroppedAttributesCount => resource_dropped_attributes_count(read(&self.resource)),
            Field::ScopeName => scope_name(self.scope),
            other => return Err(not_in(other, Context::SpanEvent)),
        })
    }

    fn set(&mut self, field: Field, value: Value) -> Result<(), String> {
        match field {
            Field::Name => self.event.name = expect_str(field, value)?,
            Field::TimeUnixNano => self.event.time_unix_nano = expect_time(field, value)?,
            other => return Err(read_only(other, Context::SpanEvent)),
        }
        Ok(())
    }

    fn get_mut(&mut self, field: Field) -> Result<FieldMut<'_>, String> {
        match field {
            Field::Attributes => Ok(FieldMut::Map(&mut self.event.attributes)),
            Field::ResourceAttributes => resource_attributes_mut(&mut self.resource, Context::SpanEvent),
            other => Err(read_only(other, Context::SpanEvent)),
        }
    }
}

impl TransformContext for LogContext<'_> {
    fn context(&self) -> Context {
        Context::Log
    }

    fn get(&self, field: Field) -> Result<FieldRef<'_>, String> {
        let log = &*self.log;
        Ok(match field {
            Field::Body => FieldRef::Any(log.body.as_ref()),
            Field::SeverityNumber => int(log.severity_number),
            Field::SeverityText => text(&log.severity_text),
            Field::Attributes => FieldRef::Map(&log.attributes),
            Field::TraceId => id(&log.trace_id),
            Field::TimeUnixNano => time(log.time_unix_nano),
            Field::ResourceAttributes => resource_attributes(read(&self.resource)),
            Field::ResourceDroppedAttributesCount => resource_dropped_attributes_count(read(&self.resource)),
            Field::ScopeName => scope_name(self.scope),
            other => return Err(not_in(other, Context::Log)),
        })
    }

    fn set(&mut self, field: Field, value: Value) -> Result<(), String> {
        let log = &mut *self.log;
        match field {
            Field::SeverityNumber => log.severity_number = expect_i32(field, value)?,
            Field::SeverityText => log.severity_text = expect_str(field, value)?,
            Field::TraceId => log.trace_id = expect_id(field, value, 16, true)?,
            Field::TimeUnixNano => log.time_unix_nano = expect_time(field, value)?,
            other => return Err(read_only(other, Context::Log)),
        }
        Ok(())
    }

    fn get_mut(&mut self, field: Field) -> Result<FieldMut<'_>, String> {
        match field {
            Field::Body => Ok(FieldMut::Any(&mut self.log.body)),
            Field::Attributes => Ok(FieldMut::Map(&mut self.log.attributes)),
            Field::ResourceAttributes => resource_attributes_mut(&mut self.resource, Context::Log),
            other => Err(read_only(other, Context::Log)),
        }
    }
}

impl TransformContext for MetricContext<'_> {
    fn context(&self) -> Context {
        Context::Metric
    }

    fn get(&self, field: Field) -> Result<FieldRef<'_>, String> {
        let metric = &*self.metric;
        Ok(match field {
            Field::Name => text(&metric.name),
            Field::Type => FieldRef::Value(Value::Int(metric_type(metric.data.as_ref()))),
            Field::Unit => text(&metric.unit),
            Field::Description => text(&metric.description),
            Field::ResourceAttributes | Field::ResourceDroppedAttributesCount | Field::ScopeName => {
                return Err(not_lent(field, Context::Metric))
            }
            other => return Err(not_in(other, Context::Metric)),
        })
    }

    fn set(&mut self, field: Field, value: Value) -> Result<(), String> {
        let metric = &mut *self.metric;
        match field {
            Field::Name => metric.name = expect_str(field, value)?,
            Field::Unit => metric.unit = expect_str(field, value)?,
            Field::Description => metric.description = expect_str(field, value)?,
            other => return Err(read_only(other, Context::Metric)),
        }
        Ok(())
    }

    fn get_mut(&mut self, field: Field) -> Result<FieldMut<'_>, String> {
        Err(read_only(field, Context::Metric))
    }

    fn metric_mut(&mut self) -> Option<&mut Metric> {
        Some(&mut *self.metric)
    }
}

impl TransformContext for DataPointContext<'_> {
    fn context(&self) -> Context {
        Context::DataPoint
    }

    fn get(&self, field: Field) -> Result<FieldRef<'_>, String> {
        Ok(match field {
            Field::Attributes => FieldRef::Map(self.attributes),
            Field::MetricName => text(self.metric_name),
            Field::MetricDescription => text(self.facts(field)?.description),
            Field::MetricUnit => text(self.facts(field)?.unit),
            Field::MetricType => FieldRef::Value(Value::Int(self.facts(field)?.metric_type)),
            Field::ResourceAttributes | Field::ResourceDroppedAttributesCount | Field::ScopeName => {
                return Err(not_lent(field, Context::DataPoint))
            }
            other => return Err(not_in(other, Context::DataPoint)),
        })
    }

    fn set(&mut self, field: Field, _value: Value) -> Result<(), String> {
        Err(read_only(field, Context::DataPoint))
    }

    fn get_mut(&mut self, field: Field) -> Result<FieldMut<'_>, String> {
        match field {
            Field::Attributes => Ok(FieldMut::Map(self.attributes)),
            other => Err(read_only(other, Context::DataPoint)),
        }
    }
}

impl TransformContext for ResourceContext<'_> {
    fn context(&self) -> Context {
        Context::Resource
    }

    fn get(&self, field: Field) -> Result<FieldRef<'_>, String> {
        match field {
            Field::Attributes => Ok(FieldRef::Map(&self.resource.attributes)),
            Field::DroppedAttributesCount => Ok(resource_dropped_attributes_count(Some(&*self.resource))),
            other => Err(not_in(other, Context::Resource)),
        }
    }

    fn set(&mut self, field: Field, value: Value) -> Result<(), String> {
        match field {
            Field::DroppedAttributesCount => self.resource.dropped_attributes_count = expect_u32(field, value)?,
            other => return Err(read_only(other, Context::Resource)),
        }
        Ok(())
    }

    fn get_mut(&mut self, field: Field) -> Result<FieldMut<'_>, String> {
        match field {
            Field::Attributes => Ok(FieldMut::Map(&mut self.resource.attributes)),
            other => Err(read_only(other, Context::Resource)),
        }
    }
}

impl TransformContext for ScopeContext<'_> {
    fn context(&self) -> Context {
        Context::Scope
    }

    fn get(&self, field: Field) -> Result<FieldRef<'_>, String> {
        let scope = &*self.scope;
        Ok(match field {
            Field::Name => text(&scope.name),
            Field::Version => text(&scope.version),
            Field::Attributes => FieldRef::Map(&scope.attributes),
            Field::DroppedAttributesCount => FieldRef::Value(Value::Int(i64::from(scope.dropped_attributes_count))),
            Field::SchemaUrl => text(self.schema_url.as_str()),
            Field::ResourceAttributes => resource_attributes(self.resource),
            Field::ResourceDroppedAttributesCount => resource_dropped_attributes_count(self.resource),
            other => return Err(not_in(other, Context::Scope)),
        })
    }

    fn set(&mut self, field: Field, value: Value) -> Result<(), String> {
        let scope = &mut *self.scope;
        match field {
            Field::Name => scope.name = expect_str(field, value)?,
            Field::Version => scope.version = expect_str(field, value)?,
            Field::DroppedAttributesCount => scope.dropped_attributes_count = expect_u32(field, value)?,
            Field::SchemaUrl => *self.schema_url = expect_str(field, value)?,
            other => return Err(read_only(other, Context::Scope)),
        }
        Ok(())
    }

    fn get_mut(&mut self, field: Field) -> Result<FieldMut<'_>, String> {
        match field {
            Field::Attributes => Ok(FieldMut::Map(&mut self.scope.attributes)),
            other => Err(read_only(other, Context::Scope)),
        }
    }
}

impl<C: TransformContext> TransformContext for WithResource<'_, C> {
    fn context(&self) -> Context {
        self.inner.context()
    }

    fn get(&self, field: Field) -> Result<FieldRef<'_>, String> {
        match field {
            Field::ResourceAttributes => Ok(resource_attributes(read(&self.resource))),
            Field::ResourceDroppedAttributesCount => Ok(resource_dropped_attributes_count(read(&self.resource))),
            Field::ScopeName => Ok(scope_name(self.scope)),
            other => self.inner.get(other),
        }
    }

    fn set(&mut self, field: Field, value: Value) -> Result<(), String> {
        self.inner.set(field, value)
    }

    fn get_mut(&mut self, field: Field) -> Result<FieldMut<'_>, String> {
        match field {
            Field::ResourceAttributes => resource_attributes_mut(&mut self.resource, self.inner.context()),
            other => self.inner.get_mut(other),
        }
    }

    fn metric_mut(&mut self) -> Option<&mut Metric> {
        self.inner.metric_mut()
    }

    fn cache(&self) -> Option<&[KeyValue]> {
        self.inner.cache()
    }

    fn cache_mut(&mut self) -> Option<&mut Vec<KeyValue>> {
        self.inner.cache_mut()
    }
}
