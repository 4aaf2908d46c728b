//! The count connector: counts the spans, span events, metrics, data points and log records of the
//! pipelines it exports from and emits the counts as metrics into the pipelines it is a receiver in,
//! as the Collector's countconnector does.
//!
//! ```yaml
//! count:
//!   spans:                        # also spanevents, metrics, datapoints, logs
//!     trace.span.error.count:     # the metric's name
//!       description: Spans that ended in an error.
//!       conditions: ['status.code == STATUS_CODE_ERROR']   # OTTL, OR-ed; none counts everything
//!       attributes:               # one data point per distinct set of values
//!         - key: http.route
//!           default_value: none   # without it, a record lacking the key is not counted
//! ```
//! A section left out keeps the Collector's default metric (`trace.span.count`,
//! `trace.span.event.count`, `metric.count`, `metric.datapoint.count`, `log.record.count`); a section
//! given replaces it, so an empty one (`logs: {}`) counts nothing of its kind.
//!
//! Every payload is counted when it arrives and its counts are sent at once, as the Collector does:
//! per resource of the input (its attributes kept), one monotonic delta Sum of int points per metric
//! that counted something, in the scope `SCOPE_NAME`. A point's attributes are looked up in the
//! record's attributes, then its scope's, then its resource's, then the `default_value`; strings,
//! ints and doubles keep their type, other values become their text. Its start and time are the
//! earliest and latest timestamps of the resource's records of that kind (span starts and ends,
//! event, data point and log record times), or the time of counting when they have none (metrics).
//!
//! The counted payload is committed at once: the counts are derived data, sent unacknowledged, and a
//! refusal downstream is logged and its points counted as dropped. A condition that fails to
//! evaluate (arithmetic on a string attribute) counts as not matching, with a warning; the
//! Collector would refuse the whole payload instead, which a payload already committed cannot be.

use crate::config::{ComponentId, ComponentType, Parser, Settings};
use crate::connector::{ConnectorFactory, ConnectorOutput};
use crate::ottl::{
    parse_condition, Condition, Context, DataPointContext, LogContext, MetricContext, MetricFacts, OttlError, SpanContext,
    SpanEventContext, TransformContext, WithResource,
};
use crate::pdata::json::any_value_to_plain;
use crate::pdata::now_ns;
use crate::pdata::{find_attribute, Signal, SignalData};
use crate::pipeline::{Consumer, Envelope, PipelineError, SharedConsumer, SignalConsumers};
use crate::telemetry::PerSignal;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    number_data_point, AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_yaml_ng::{Mapping, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The instrumentation scope of the emitted metrics (the Collector's).
pub const SCOPE_NAME: &str = "github.com/open-telemetry/opentelemetry-collector-contrib/connector/countconnector";

/// The Collector's default metric of each section: name and description.
pub const DEFAULT_SPANS: (&str, &str) = ("trace.span.count", "The number of spans observed.");
pub const DEFAULT_SPAN_EVENTS: (&str, &str) = ("trace.span.event.count", "The number of span events observed.");
pub const DEFAULT_METRICS: (&str, &str) = ("metric.count", "The number of metrics observed.");
pub const DEFAULT_DATA_POINTS: (&str, &str) = ("metric.datapoint.count", "The number of data points observed.");
pub const DEFAULT_LOGS: (&str, &str) = ("log.record.count", "The number of log records observed.");

const KEYS: [&str; 5] = ["spans", "spanevents", "metrics", "datapoints", "logs"];

/// One count metric: what it counts (any condition holds, or no conditions) and by which attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct CountMetric {
    pub name: String,
    pub description: String,
    pub conditions: Vec<Condition>,
    pub attributes: Vec<CountAttribute>,
}

/// An attribute the counts are grouped by; `default` stands in for a record lacking it (without
/// one, such a record is not counted for the metric).
#[derive(Clone, Debug, PartialEq)]
pub struct CountAttribute {
    pub key: String,
    pub default: Option<AnyValue>,
}

/// The count metrics of each kind of record, in the order the config lists them.
#[derive(Clone, Debug, PartialEq)]
pub struct CountConfig {
    pub spans: Vec<CountMetric>,
    pub span_events: Vec<CountMetric>,
    pub metrics: Vec<CountMetric>,
    pub data_points: Vec<CountMetric>,
    pub logs: Vec<CountMetric>,
}

impl Default for CountConfig {
    /// The Collector's defaults: one metric per kind counting every record.
    fn default() -> Self {
        let only = |(name, description): (&str, &str)| {
            vec![CountMetric {
                name: name.to_string(),
                description: description.to_string(),
                conditions: Vec::new(),
                attributes: Vec::new(),
            }]
        };
        CountConfig {
            spans: only(DEFAULT_SPANS),
            span_events: only(DEFAULT_SPAN_EVENTS),
            metrics: only(DEFAULT_METRICS),
            data_points: only(DEFAULT_DATA_POINTS),
            logs: only(DEFAULT_LOGS),
        }
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> CountConfig {
    let mut config = CountConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let mut known = body.clone();
    if known.remove("profiles").is_some() {
        p.error(
            &format!("{path}.profiles"),
            "otelbox has no profiles signal, so there is nothing to count; remove this section",
        );
    }
    p.only_keys(&known, &KEYS, path);
    if let Some(metrics) = section(p, body, path, "spans", Context::Span, true) {
        config.spans = metrics;
    }
    if let Some(metrics) = section(p, body, path, "spanevents", Context::SpanEvent, true) {
        config.span_events = metrics;
    }
    if let Some(metrics) = section(p, body, path, "metrics", Context::Metric, false) {
        config.metrics = metrics;
    }
    if let Some(metrics) = section(p, body, path, "datapoints", Context::DataPoint, true) {
        config.data_points = metrics;
    }
    if let Some(metrics) = section(p, body, path, "logs", Context::Log, true) {
        config.logs = metrics;
    }
    config
}

/// The metrics of section `key` when the body has it: a section given replaces its default, even
/// when empty (the Collector's rule).
fn section(p: &mut Parser, body: &Mapping, path: &str, key: &str, context: Context, by_attributes: bool) -> Option<Vec<CountMetric>> {
    let value = body.get(key)?;
    Some(parse_section(p, value, &format!("{path}.{key}"), context, by_attributes))
}

/// A section: metric names to their definitions. `by_attributes` is false for `metrics` (a metric
/// has no attributes to group by, so the Collector refuses them there).
fn parse_section(p: &mut Parser, value: &Value, path: &str, context: Context, by_attributes: bool) -> Vec<CountMetric> {
    let mut out = Vec::new();
    for (name, body) in p.entries(Some(value), path) {
        if name.is_empty() {
            p.error(path, "a metric name must not be empty");
            continue;
        }
        let at = format!("{path}.{name}");
        let Some(body) = p.mapping(Some(body), &at) else { continue };
        p.only_keys(body, &["description", "conditions", "attributes"], &at);
        let description = match body.get("description").filter(|v| !v.is_null()) {
            Some(v) => p.string(v, &format!("{at}.description")).unwrap_or_default(),
            None => String::new(),
        };
        let conditions = parse_conditions(p, body.get("conditions"), &format!("{at}.conditions"), context);
        let attributes = if by_attributes {
            parse_attributes(p, body.get("attributes"), &format!("{at}.attributes"))
        } else {
            if body.get("attributes").is_some() {
                p.error(
                    &format!("{at}.attributes"),
                    "metrics have no attributes to count by; count data points by attribute under datapoints instead",
                );
            }
            Vec::new()
        };
        out.push(CountMetric {
            name,
            description,
            conditions,
            attributes,
        });
    }
    out
}

/// OTTL conditions of `context`, each parsed now so a mistake is a start-up error with its column.
fn parse_conditions(p: &mut Parser, value: Option<&Value>, path: &str, context: Context) -> Vec<Condition> {
    let mut conditions = Vec::new();
    for (at, item) in p.list(value, path) {
        let Some(text) = p.string(item, &at) else { continue };
        match parse_condition(&text, context) {
            Ok(condition) => conditions.push(condition),
            Err(error) => p.error(&at, error),
        }
    }
    conditions
}

fn parse_attributes(p: &mut Parser, value: Option<&Value>, path: &str) -> Vec<CountAttribute> {
    let mut out: Vec<CountAttribute> = Vec::new();
    for (at, item) in p.list(value, path) {
        let Some(body) = p.mapping(Some(item), &at) else { continue };
        p.only_keys(body, &["key", "default_value"], &at);
        let key = match body.get("key") {
            Some(v) => p.string(v, &format!("{at}.key")),
            None => {
                p.error(&at, "key is required");
                None
            }
        };
        // An explicit default is used whatever it is (the Collector ignores "" and 0, which it
        // cannot tell from an absent one).
        let default = match body.get("default_value") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(string_value(s)),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Some(AnyValue {
                    value: Some(any_value::Value::IntValue(i)),
                }),
                None => n.as_f64().map(|f| AnyValue {
                    value: Some(any_value::Value::DoubleValue(f)),
                }),
            },
            Some(_) => {
                p.error(&format!("{at}.default_value"), "expected a string or a number");
                None
            }
        };
        let Some(key) = key else { continue };
        if key.is_empty() {
            p.error(&format!("{at}.key"), "must not be empty");
        } else if out.iter().any(|a| a.key == key) {
            // The Collector would never count such a metric: its point has one value per key.
            p.error(&format!("{at}.key"), format!("attribute \"{key}\" is listed twice"));
        } else {
            out.push(CountAttribute { key, default });
        }
    }
    out
}

pub struct Factory;

impl ComponentType for Factory {
    fn type_name(&self) -> &'static str {
        "count"
    }
    fn signals(&self) -> &'static [Signal] {
        &Signal::ALL
    }
    fn output_signals(&self) -> &'static [Signal] {
        &[Signal::Metrics]
    }
    fn parse(&self, p: &mut Parser, value: &Value, path: &str) -> Settings {
        Settings::new(parse(p, value, path))
    }
}

impl ConnectorFactory for Factory {
    fn build(
        &self,
        id: &ComponentId,
        settings: &Settings,
        output: &ConnectorOutput,
        counters: &PerSignal,
    ) -> anyhow::Result<SignalConsumers> {
        let metrics = output.metrics(id)?;
        Ok(SignalConsumers::all(Arc::new(CountConnector::new(
            id,
            settings.get(),
            metrics,
            counters.clone(),
        ))))
    }
}

pub struct CountConnector {
    id: String,
    config: CountConfig,
    metrics: SharedConsumer<ExportMetricsServiceRequest>,
    /// Per signal taken: the points counted of that signal's records that were sent or dropped.
    counters: PerSignal,
}

impl CountConnector {
    pub fn new(id: &ComponentId, config: &CountConfig, metrics: SharedConsumer<ExportMetricsServiceRequest>, counters: PerSignal) -> Self {
        CountConnector {
            id: id.to_string(),
            config: config.clone(),
            metrics,
            counters,
        }
    }

    fn count_traces(&self, data: &mut ExportTraceServiceRequest, now: u64) -> ExportMetricsServiceRequest {
        let mut errors = EvalErrors::default();
        let mut out = Vec::new();
        for resource_spans in &mut data.resource_spans {
            let resource = resource_spans.resource.as_ref();
            let resource_attributes = resource.map_or(NO_ATTRIBUTES, |r| &r.attributes[..]);
            let mut spans = Tally::new(&self.config.spans);
            let mut events = Tally::new(&self.config.span_events);
            for scope_spans in &mut resource_spans.scope_spans {
                let scope = scope_spans.scope.as_ref();
                let scope_attributes = scope.map_or(NO_ATTRIBUTES, |s| &s.attributes[..]);
                for span in &mut scope_spans.spans {
                    if spans.counts_anything() {
                        spans.observe_time(span.start_time_unix_nano);
                        spans.observe_time(span.end_time_unix_nano);
                        let ctx = SpanContext::new(&mut *span, resource, scope);
                        spans.count(&ctx, [&ctx.span.attributes[..], scope_attributes, resource_attributes], &mut errors);
                    }
                    if events.counts_anything() {
                        let Span {
                            name, events: span_events, ..
                        } = span;
                        let span_name: &str = name;
                        for event in span_events.iter_mut() {
                            events.observe_time(event.time_unix_nano);
                            let ctx = SpanEventContext {
                                event,
                                span_name,
                                resource: resource.map(Into::into),
                                scope,
                            };
                            events.count(
                                &ctx,
                                [&ctx.event.attributes[..], scope_attributes, resource_attributes],
                                &mut errors,
                            );
                        }
                    }
                }
            }
            push_resource(&mut out, resource, vec![spans, events], now);
        }
        self.report(errors);
        ExportMetricsServiceRequest { resource_metrics: out }
    }

    fn count_metrics(&self, data: &mut ExportMetricsServiceRequest, now: u64) -> ExportMetricsServiceRequest {
        let mut errors = EvalErrors::default();
        let mut out = Vec::new();
        for resource_metrics in &mut data.resource_metrics {
            let resource = resource_metrics.resource.as_ref();
            let resource_attributes = resource.map_or(NO_ATTRIBUTES, |r| &r.attributes[..]);
            let mut metrics = Tally::new(&self.config.metrics);
            let mut points = Tally::new(&self.config.data_points);
            for scope_metrics in &mut resource_metrics.scope_metrics {
                let scope_attributes = scope_metrics.scope.as_ref().map_or(NO_ATTRIBUTES, |s| &s.attributes[..]);
                for metric in &mut scope_metrics.metrics {
                    if metrics.counts_anything() {
                        // A metric has no timestamp of its own: its counts are stamped with `now`.
                        let ctx = WithResource::new(MetricContext { metric: &mut *metric }, resource, scope_metrics.scope.as_ref());
                        metrics.count(&ctx, [NO_ATTRIBUTES, scope_attributes, resource_attributes], &mut errors);
                    }
                    if !points.counts_anything() {
                        continue;
                    }
                    let Metric {
                        name,
                        description,
                        unit,
                        data,
                        ..
                    } = metric;
                    let sources = PointOwners {
                        facts: MetricFacts::new(description, unit, data.as_ref()),
                        resource,
                        scope: scope_metrics.scope.as_ref(),
                    };
                    match data {
                        Some(Data::Gauge(gauge)) => points.count_points(&mut gauge.data_points, name, sources, &mut errors),
                        Some(Data::Sum(sum)) => points.count_points(&mut sum.data_points, name, sources, &mut errors),
                        Some(Data::Histogram(histogram)) => points.count_points(&mut histogram.data_points, name, sources, &mut errors),
                        Some(Data::ExponentialHistogram(histogram)) => {
                            points.count_points(&mut histogram.data_points, name, sources, &mut errors)
                        }
                        Some(Data::Summary(summary)) => points.count_points(&mut summary.data_points, name, sources, &mut errors),
                        None => {}
                    }
                }
            }
            push_resource(&mut out, resource, vec![metrics, points], now);
        }
        self.report(errors);
        ExportMetricsServiceRequest { resource_metrics: out }
    }

    fn count_logs(&self, data: &mut ExportLogsServiceRequest, now: u64) -> ExportMetricsServiceRequest {
        let mut errors = EvalErrors::default();
        let mut out = Vec::new();
        for resource_logs in &mut data.resource_logs {
            let resource = resource_logs.resource.as_ref();
            let resource_attributes = resource.map_or(NO_ATTRIBUTES, |r| &r.attributes[..]);
            let mut logs = Tally::new(&self.config.logs);
            if !logs.counts_anything() {
                continue;
            }
            for scope_logs in &mut resource_logs.scope_logs {
                let scope = scope_logs.scope.as_ref();
                let scope_attributes = scope.map_or(NO_ATTRIBUTES, |s| &s.attributes[..]);
                for log in &mut scope_logs.log_records {
                    logs.observe_time(log.time_unix_nano);
                    let ctx = LogContext::new(&mut *log, resource, scope);
                    logs.count(&ctx, [&ctx.log.attributes[..], scope_attributes, resource_attributes], &mut errors);
                }
            }
            push_resource(&mut out, resource, vec![logs], now);
        }
        self.report(errors);
        ExportMetricsServiceRequest { resource_metrics: out }
    }

    fn report(&self, errors: EvalErrors) {
        if let Some(first) = errors.first {
            tracing::warn!(
                connector = %self.id,
                failures = errors.count,
                first = %first,
                "count conditions failed to evaluate and were taken as not matching"
            );
        }
    }

    /// Sends the counts of a payload of `signal` on, unacknowledged; a refusal is logged and its
    /// points counted as dropped. Never an error: the counted payload is committed whatever becomes
    /// of its counts.
    async fn emit(&self, counts: ExportMetricsServiceRequest, signal: Signal) -> Result<(), PipelineError> {
        let points = counts.item_count();
        if points == 0 {
            return Ok(());
        }
        let counters = self.counters.get(signal);
        match self.metrics.consume(Envelope::unacked(counts)).await {
            Ok(()) => counters.record_sent(points),
            Err(error) => {
                tracing::warn!(connector = %self.id, points, %error, "counts were refused by the metrics pipeline and are dropped");
                counters.record_dropped(points);
            }
        }
        Ok(())
    }
}

impl Consumer<ExportTraceServiceRequest> for CountConnector {
    fn consume(&self, mut envelope: Envelope<ExportTraceServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let counts = self.count_traces(&mut envelope.data, now_ns());
        envelope.commit();
        Box::pin(self.emit(counts, Signal::Traces))
    }
}

impl Consumer<ExportMetricsServiceRequest> for CountConnector {
    fn consume(&self, mut envelope: Envelope<ExportMetricsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let counts = self.count_metrics(&mut envelope.data, now_ns());
        envelope.commit();
        Box::pin(self.emit(counts, Signal::Metrics))
    }
}

impl Consumer<ExportLogsServiceRequest> for CountConnector {
    fn consume(&self, mut envelope: Envelope<ExportLogsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let counts = self.count_logs(&mut envelope.data, now_ns());
        envelope.commit();
        Box::pin(self.emit(counts, Signal::Logs))
    }
}

const NO_ATTRIBUTES: &[KeyValue] = &[];

/// Conditions that failed to evaluate in one payload, reported once.
#[derive(Default)]
struct EvalErrors {
    count: usize,
    first: Option<String>,
}

impl EvalErrors {
    fn record(&mut self, condition: &Condition, error: &OttlError) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(format!("{condition}: {error}"));
        }
    }
}

impl CountMetric {
    /// The point's attribute values for a record, or None when one is missing without a default.
    fn attribute_values(&self, sources: &[&[KeyValue]; 3]) -> Option<Vec<AnyValue>> {
        self.attributes
            .iter()
            .map(|attribute| {
                sources
                    .iter()
                    .find_map(|source| find_attribute(source, &attribute.key))
                    .map(point_value)
                    .or_else(|| attribute.default.clone())
            })
            .collect()
    }

    /// Whether the record counts: no conditions, or one that holds.
    fn matches(&self, ctx: &dyn TransformContext, errors: &mut EvalErrors) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        for condition in &self.conditions {
            match condition.evaluate(ctx) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(error) => errors.record(condition, &error),
            }
        }
        false
    }
}

/// The counts of one kind of record of one resource: per metric, per distinct attribute values.
struct Tally<'m> {
    metrics: &'m [CountMetric],
    /// One per metric, in the same order.
    series: Vec<Series>,
    /// The earliest and latest timestamps seen (0: none).
    first_ns: u64,
    last_ns: u64,
}

#[derive(Default)]
struct Series {
    /// The points' attributes and counts, in order of first sight.
    points: Vec<(Vec<KeyValue>, u64)>,
    /// The encoded attribute values of each point, to its index.
    index: HashMap<Vec<u8>, usize>,
}

impl Series {
    fn add(&mut self, attributes: &[CountAttribute], values: Vec<AnyValue>) {
        let mut key = Vec::new();
        for value in &values {
            value.encode_length_delimited(&mut key).expect("a Vec grows as needed");
        }
        if let Some(&i) = self.index.get(&key) {
            self.points[i].1 += 1;
            return;
        }
        let point_attributes = attributes
            .iter()
            .zip(values)
            .map(|(attribute, value)| KeyValue {
                key: attribute.key.clone(),
                value: Some(value),
                ..Default::default()
            })
            .collect();
        self.index.insert(key, self.points.len());
        self.points.push((point_attributes, 1));
    }
}

impl<'m> Tally<'m> {
    fn new(metrics: &'m [CountMetric]) -> Self {
        Tally {
            metrics,
            series: metrics.iter().map(|_| Series::default()).collect(),
            first_ns: 0,
            last_ns: 0,
        }
    }

    fn counts_anything(&self) -> bool {
        !self.metrics.is_empty()
    }

    fn observe_time(&mut self, nanos: u64) {
        if nanos == 0 {
            return;
        }
        if self.first_ns == 0 || nanos < self.first_ns {
            self.first_ns = nanos;
        }
        self.last_ns = self.last_ns.max(nanos);
    }

    /// Counts one record for every metric it has the attributes of and matches the conditions of.
    /// `sources`: where attributes are looked up, in order: the record's, its scope's, its resource's.
    fn count(&mut self, ctx: &dyn TransformContext, sources: [&[KeyValue]; 3], errors: &mut EvalErrors) {
        let metrics = self.metrics;
        for (metric, series) in metrics.iter().zip(self.series.iter_mut()) {
            // As the Collector: attributes first, so a record lacking one is not even evaluated.
            let Some(values) = metric.attribute_values(&sources) else {
                continue;
            };
            if metric.matches(ctx, errors) {
                series.add(&metric.attributes, values);
            }
        }
    }

    /// Counts the data points of one metric; `scope_and_resource`: their attributes.
    fn count_points<P: DataPoint>(&mut self, points: &mut [P], metric_name: &str, owners: PointOwners<'_>, errors: &mut EvalErrors) {
        let scope = owners.scope.map_or(NO_ATTRIBUTES, |s| &s.attributes[..]);
        let resource = owners.resource.map_or(NO_ATTRIBUTES, |r| &r.attributes[..]);
        for point in points.iter_mut() {
            self.observe_time(point.time());
            // The point with what its conditions may also read: its metric, scope and resource.
            let ctx = WithResource::new(point.context(metric_name).in_metric(owners.facts), owners.resource, owners.scope);
            self.count(&ctx, [&ctx.inner.attributes[..], scope, resource], errors);
        }
    }

    /// One Sum per metric that counted something.
    fn into_metrics(self, now: u64, out: &mut Vec<Metric>) {
        let (start, time) = match self.first_ns {
            0 => (now, now),
            first => (first, self.last_ns),
        };
        for (definition, series) in self.metrics.iter().zip(self.series) {
            if series.points.is_empty() {
                continue;
            }
            let data_points = series
                .points
                .into_iter()
                .map(|(attributes, count)| NumberDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    value: Some(number_data_point::Value::AsInt(i64::try_from(count).unwrap_or(i64::MAX))),
                    ..Default::default()
                })
                .collect();
            out.push(Metric {
                name: definition.name.clone(),
                description: definition.description.clone(),
                data: Some(Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    // Each payload's counts only grow a total kept downstream.
                    is_monotonic: true,
                })),
                ..Default::default()
            });
        }
    }
}

/// The resource's counts, if any, as one resource of the output with the input resource's attributes.
fn push_resource(out: &mut Vec<ResourceMetrics>, resource: Option<&Resource>, tallies: Vec<Tally<'_>>, now: u64) {
    let mut metrics = Vec::new();
    for tally in tallies {
        tally.into_metrics(now, &mut metrics);
    }
    if metrics.is_empty() {
        return;
    }
    out.push(ResourceMetrics {
        resource: Some(Resource {
            attributes: resource.map(|r| r.attributes.clone()).unwrap_or_default(),
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: SCOPE_NAME.to_string(),
                ..Default::default()
            }),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    });
}

/// What a data point's conditions may read besides the point itself (`metric.type`,
/// `resource.attributes[...]`, `instrumentation_scope.name`), as the Collector's datapoint context.
#[derive(Clone, Copy)]
struct PointOwners<'a> {
    facts: MetricFacts<'a>,
    resource: Option<&'a Resource>,
    scope: Option<&'a InstrumentationScope>,
}

/// A data point of any metric type, as the count needs it.
trait DataPoint {
    fn time(&self) -> u64;
    fn context<'a>(&'a mut self, metric_name: &'a str) -> DataPointContext<'a>;
}

impl DataPoint for NumberDataPoint {
    fn time(&self) -> u64 {
        self.time_unix_nano
    }
    fn context<'a>(&'a mut self, metric_name: &'a str) -> DataPointContext<'a> {
        DataPointContext::number(self, metric_name)
    }
}

impl DataPoint for HistogramDataPoint {
    fn time(&self) -> u64 {
        self.time_unix_nano
    }
    fn context<'a>(&'a mut self, metric_name: &'a str) -> DataPointContext<'a> {
        DataPointContext::histogram(self, metric_name)
    }
}

impl DataPoint for ExponentialHistogramDataPoint {
    fn time(&self) -> u64 {
        self.time_unix_nano
    }
    fn context<'a>(&'a mut self, metric_name: &'a str) -> DataPointContext<'a> {
        DataPointContext::exponential_histogram(self, metric_name)
    }
}

impl DataPoint for SummaryDataPoint {
    fn time(&self) -> u64 {
        self.time_unix_nano
    }
    fn context<'a>(&'a mut self, metric_name: &'a str) -> DataPointContext<'a> {
        DataPointContext::summary(self, metric_name)
    }
}

/// An attribute's value as a point attribute: strings, ints and doubles as they are, anything else
/// as its text (`true`, `[1,2]`), so equal values always group together.
fn point_value(value: &AnyValue) -> AnyValue {
    match &value.value {
        Some(any_value::Value::StringValue(_) | any_value::Value::IntValue(_) | any_value::Value::DoubleValue(_)) => value.clone(),
        None => string_value(""),
        Some(_) => match any_value_to_plain(value) {
            serde_json::Value::String(text) => string_value(&text),
            other => string_value(&other.to_string()),
        },
    }
}

fn string_value(text: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ack::AckToken;
    use crate::pipeline::PipelineData;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{Gauge, Histogram};
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;

    /// Keeps every payload of counts (or refuses them all).
    #[derive(Default)]
    struct Capture {
        batches: Mutex<Vec<ExportMetricsServiceRequest>>,
        refuse: bool,
    }

    impl Consumer<ExportMetricsServiceRequest> for Capture {
        fn consume(&self, envelope: Envelope<ExportMetricsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            if self.refuse {
                let error = PipelineError::retryable("the metrics pipeline is full");
                envelope.fail(&error);
                return Box::pin(async move { Err(error) });
            }
            assert!(envelope.acks.is_empty(), "counts are derived data and carry no acks");
            self.batches.lock().unwrap().push(envelope.data.clone());
            envelope.commit();
            Box::pin(async { Ok(()) })
        }
    }

    impl Capture {
        fn taken(&self) -> Vec<ExportMetricsServiceRequest> {
            std::mem::take(&mut *self.batches.lock().unwrap())
        }
    }

    /// The settings of `yaml`, the connector's section, which must have no errors.
    fn config(yaml: &str) -> CountConfig {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "connectors.count");
        assert!(errors.is_empty(), "{errors:?}");
        config
    }

    fn errors(yaml: &str) -> Vec<String> {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        parse(&mut Parser::collecting(&mut errors), &value, "connectors.count");
        errors
    }

    struct Harness {
        inputs: SignalConsumers,
        capture: Arc<Capture>,
        counters: PerSignal,
    }

    /// The connector as the topology builds it, feeding one metrics pipeline that captures.
    fn harness_with(yaml: &str, capture: Capture) -> Harness {
        let capture = Arc::new(capture);
        let output = ConnectorOutput {
            pipelines: vec![(
                "metrics/counts".to_string(),
                SignalConsumers {
                    metrics: Some(capture.clone() as SharedConsumer<ExportMetricsServiceRequest>),
                    ..Default::default()
                },
            )],
        };
        let counters = PerSignal::detached("connector/count");
        let id = ComponentId {
            kind: "count".into(),
            name: None,
        };
        let inputs = Factory.build(&id, &Settings::new(config(yaml)), &output, &counters).unwrap();
        Harness { inputs, capture, counters }
    }

    fn harness(yaml: &str) -> Harness {
        harness_with(yaml, Capture::default())
    }

    impl Harness {
        /// Feeds one payload, checks it was accepted and committed, and returns the counts sent.
        async fn count<T: PipelineData>(&self, data: T) -> Vec<ExportMetricsServiceRequest> {
            let (ack, committed) = AckToken::new();
            let input = self.inputs.get::<T>().expect("the connector takes every signal");
            input.consume(Envelope::new(data, ack)).await.expect("accepted");
            assert_eq!(committed.await.unwrap(), Ok(()), "the counted payload is committed");
            self.capture.taken()
        }

        /// The points sent of counts of `signal`'s records.
        fn sent(&self, signal: Signal) -> u64 {
            self.counters.get(signal).sent.load(Ordering::Relaxed)
        }
    }

    fn attribute(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn text(key: &str, value: &str) -> KeyValue {
        attribute(key, any_value::Value::StringValue(value.to_string()))
    }

    fn int(key: &str, value: i64) -> KeyValue {
        attribute(key, any_value::Value::IntValue(value))
    }

    fn resource(attributes: Vec<KeyValue>) -> Option<Resource> {
        Some(Resource {
            attributes,
            ..Default::default()
        })
    }

    fn scope(attributes: Vec<KeyValue>) -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: "shop".into(),
            attributes,
            ..Default::default()
        })
    }

    fn span(name: &str, start: u64, end: u64, attributes: Vec<KeyValue>, events: Vec<Event>) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: name.into(),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes,
            events,
            ..Default::default()
        }
    }

    fn failed(mut span: Span) -> Span {
        span.status = Some(Status {
            code: StatusCode::Error as i32,
            ..Default::default()
        });
        span
    }

    fn event(name: &str, time: u64) -> Event {
        Event {
            name: name.into(),
            time_unix_nano: time,
            ..Default::default()
        }
    }

    /// One resource group per entry: its attributes and its spans, in one scope.
    fn traces(groups: Vec<(Vec<KeyValue>, Vec<Span>)>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: groups
                .into_iter()
                .map(|(attributes, spans)| ResourceSpans {
                    resource: resource(attributes),
                    scope_spans: vec![ScopeSpans {
                        scope: scope(vec![]),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn log(severity_number: i32, time: u64, attributes: Vec<KeyValue>) -> LogRecord {
        LogRecord {
            time_unix_nano: time,
            severity_number,
            attributes,
            ..Default::default()
        }
    }

    /// One resource group per entry: its attributes, its scope's attributes and its log records.
    fn logs(groups: Vec<(Vec<KeyValue>, Vec<KeyValue>, Vec<LogRecord>)>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: groups
                .into_iter()
                .map(|(attributes, scope_attributes, log_records)| ResourceLogs {
                    resource: resource(attributes),
                    scope_logs: vec![ScopeLogs {
                        scope: scope(scope_attributes),
                        log_records,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn point(attributes: Vec<KeyValue>, time: u64) -> NumberDataPoint {
        NumberDataPoint {
            attributes,
            time_unix_nano: time,
            value: Some(number_data_point::Value::AsInt(1)),
            ..Default::default()
        }
    }

    fn gauge(name: &str, data_points: Vec<NumberDataPoint>) -> Metric {
        Metric {
            name: name.into(),
            data: Some(Data::Gauge(Gauge { data_points })),
            ..Default::default()
        }
    }

    fn histogram(name: &str, times: &[u64]) -> Metric {
        Metric {
            name: name.into(),
            data: Some(Data::Histogram(Histogram {
                data_points: times
                    .iter()
                    .map(|time| HistogramDataPoint {
                        time_unix_nano: *time,
                        count: 1,
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: AggregationTemporality::Delta as i32,
            })),
            ..Default::default()
        }
    }

    fn metrics(groups: Vec<(Vec<KeyValue>, Vec<Metric>)>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: groups
                .into_iter()
                .map(|(attributes, metrics)| ResourceMetrics {
                    resource: resource(attributes),
                    scope_metrics: vec![ScopeMetrics {
                        scope: scope(vec![]),
                        metrics,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn render_value(value: Option<&AnyValue>) -> String {
        match value.and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            Some(any_value::Value::IntValue(i)) => format!("{i}i"),
            Some(any_value::Value::DoubleValue(d)) => format!("{d}f"),
            other => format!("{other:?}"),
        }
    }

    fn render(attributes: &[KeyValue]) -> String {
        let pairs: Vec<String> = attributes
            .iter()
            .map(|kv| format!("{}={}", kv.key, render_value(kv.value.as_ref())))
            .collect();
        format!("{{{}}}", pairs.join(", "))
    }

    /// One line per output resource and per data point: `trace.span.count {attrs} = 2`. Checks
    /// what every count has: the scope, a monotonic delta Sum, int values.
    fn lines(request: &ExportMetricsServiceRequest) -> Vec<String> {
        let mut out = Vec::new();
        for rm in &request.resource_metrics {
            out.push(format!("resource {}", render(&rm.resource.as_ref().unwrap().attributes)));
            for sm in &rm.scope_metrics {
                assert_eq!(sm.scope.as_ref().unwrap().name, SCOPE_NAME);
                for m in &sm.metrics {
                    let Some(Data::Sum(sum)) = &m.data else {
                        panic!("{} is not a Sum", m.name)
                    };
                    assert!(sum.is_monotonic, "{}", m.name);
                    assert_eq!(sum.aggregation_temporality, AggregationTemporality::Delta as i32, "{}", m.name);
                    for p in &sum.data_points {
                        let Some(number_data_point::Value::AsInt(v)) = p.value else {
                            panic!("counts are ints")
                        };
                        out.push(format!("{} {} = {v}", m.name, render(&p.attributes)));
                    }
                }
            }
        }
        out
    }

    /// Each data point's metric name, start and time, in output order.
    fn times(request: &ExportMetricsServiceRequest) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        for m in request
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
        {
            let Some(Data::Sum(sum)) = &m.data else { panic!() };
            for p in &sum.data_points {
                out.push((m.name.clone(), p.start_time_unix_nano, p.time_unix_nano));
            }
        }
        out
    }

    fn descriptions(request: &ExportMetricsServiceRequest) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for m in request
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
        {
            if !out.iter().any(|(name, _)| *name == m.name) {
                out.push((m.name.clone(), m.description.clone()));
            }
        }
        out
    }

    #[test]
    fn the_defaults_are_the_collectors_one_metric_per_kind() {
        let defaults = config("null");
        assert_eq!(defaults, CountConfig::default());
        assert_eq!(config("{}"), defaults, "an empty body keeps every default");
        let names = |metrics: &[CountMetric]| -> Vec<(String, String)> {
            metrics.iter().map(|m| (m.name.clone(), m.description.clone())).collect()
        };
        let expect = |(name, description): (&str, &str)| vec![(name.to_string(), description.to_string())];
        assert_eq!(
            names(&defaults.spans),
            expect(("trace.span.count", "The number of spans observed."))
        );
        assert_eq!(
            names(&defaults.span_events),
            expect(("trace.span.event.count", "The number of span events observed."))
        );
        assert_eq!(
            names(&defaults.metrics),
            expect(("metric.count", "The number of metrics observed."))
        );
        assert_eq!(
            names(&defaults.data_points),
            expect(("metric.datapoint.count", "The number of data points observed."))
        );
        assert_eq!(
            names(&defaults.logs),
            expect(("log.record.count", "The number of log records observed."))
        );
    }

    #[tokio::test]
    async fn by_default_spans_and_span_events_are_counted_per_resource_over_their_time_range() {
        let h = harness("null");
        let request = traces(vec![
            (
                vec![text("service.name", "api")],
                vec![
                    span("GET /a", 100, 200, vec![], vec![event("retry", 120), event("retry", 150)]),
                    span("GET /b", 50, 300, vec![], vec![]),
                ],
            ),
            (
                vec![text("service.name", "db")],
                vec![span("SELECT", 10, 20, vec![], vec![event("slow", 15)])],
            ),
            // Nothing to count: no resource in the output.
            (vec![text("service.name", "idle")], vec![]),
        ]);
        let batches = h.count(request).await;
        assert_eq!(batches.len(), 1, "the counts of a payload are sent at once, in one payload");
        assert_eq!(
            lines(&batches[0]),
            [
                "resource {service.name=api}",
                "trace.span.count {} = 2",
                "trace.span.event.count {} = 2",
                "resource {service.name=db}",
                "trace.span.count {} = 1",
                "trace.span.event.count {} = 1",
            ]
        );
        assert_eq!(
            times(&batches[0]),
            [
                ("trace.span.count".to_string(), 50, 300),
                ("trace.span.event.count".to_string(), 120, 150),
                ("trace.span.count".to_string(), 10, 20),
                ("trace.span.event.count".to_string(), 15, 15),
            ],
            "from the earliest to the latest timestamp of the resource's records"
        );
        assert_eq!(
            descriptions(&batches[0]),
            [
                ("trace.span.count".to_string(), "The number of spans observed.".to_string()),
                (
                    "trace.span.event.count".to_string(),
                    "The number of span events observed.".to_string()
                ),
            ]
        );
        assert_eq!(h.sent(Signal::Traces), 4, "data points sent, on the counters of the signal counted");
        assert_eq!(h.sent(Signal::Metrics), 0);
    }

    #[tokio::test]
    async fn by_default_metrics_and_their_data_points_of_every_type_are_counted() {
        let h = harness("null");
        let before = now_ns();
        let request = metrics(vec![(
            vec![text("service.name", "api")],
            vec![
                gauge("queue.depth", vec![point(vec![], 100), point(vec![], 300)]),
                Metric {
                    name: "requests".into(),
                    data: Some(Data::Sum(Sum {
                        data_points: vec![point(vec![text("route", "/a")], 200)],
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                },
                histogram("latency", &[250]),
            ],
        )]);
        let batches = h.count(request).await;
        let after = now_ns();
        assert_eq!(
            lines(&batches[0]),
            [
                "resource {service.name=api}",
                "metric.count {} = 3",
                "metric.datapoint.count {} = 4"
            ]
        );
        let stamps = times(&batches[0]);
        assert_eq!(stamps[1], ("metric.datapoint.count".to_string(), 100, 300));
        let (start, time) = (stamps[0].1, stamps[0].2);
        assert!(
            start == time && before <= time && time <= after,
            "a metric has no timestamp: its count is stamped when counted"
        );
        assert_eq!(
            descriptions(&batches[0])[1],
            (
                "metric.datapoint.count".to_string(),
                "The number of data points observed.".to_string()
            )
        );
    }

    #[tokio::test]
    async fn data_point_conditions_read_their_metric_scope_and_resource() {
        let h = harness(
            r#"
datapoints:
  prod.latency.points:
    conditions: ['resource.attributes["env"] == "prod" and metric.unit == "ms" and metric.type == METRIC_DATA_TYPE_GAUGE']
"#,
        );
        let mut latency = gauge("latency", vec![point(vec![], 100), point(vec![], 200)]);
        latency.unit = "ms".into();
        let mut depth = gauge("queue.depth", vec![point(vec![], 100)]);
        depth.unit = "{item}".into();
        let request = metrics(vec![
            (vec![text("service.name", "api"), text("env", "prod")], vec![latency.clone(), depth]),
            (vec![text("service.name", "api"), text("env", "dev")], vec![latency]),
        ]);
        let batches = h.count(request).await;
        assert_eq!(
            lines(&batches[0]),
            [
                "resource {service.name=api, env=prod}",
                "metric.count {} = 2",
                "prod.latency.points {} = 2",
                "resource {service.name=api, env=dev}",
                "metric.count {} = 1",
            ],
            "only the prod resource's ms gauge points count (metric.count keeps its default)"
        );
    }

    #[tokio::test]
    async fn by_default_log_records_are_counted_per_resource() {
        let h = harness("null");
        let before = now_ns();
        let request = logs(vec![
            (
                vec![text("service.name", "api")],
                vec![],
                vec![log(9, 1_000, vec![]), log(17, 2_000, vec![])],
            ),
            (vec![text("service.name", "worker")], vec![], vec![log(13, 0, vec![])]),
        ]);
        let batches = h.count(request).await;
        assert_eq!(
            lines(&batches[0]),
            [
                "resource {service.name=api}",
                "log.record.count {} = 2",
                "resource {service.name=worker}",
                "log.record.count {} = 1",
            ]
        );
        let stamps = times(&batches[0]);
        assert_eq!(stamps[0], ("log.record.count".to_string(), 1_000, 2_000));
        assert!(
            stamps[1].1 >= before && stamps[1].1 == stamps[1].2,
            "no timestamp: stamped when counted"
        );
        assert_eq!(
            descriptions(&batches[0]),
            [("log.record.count".to_string(), "The number of log records observed.".to_string())]
        );
    }

    #[tokio::test]
    async fn conditions_are_ored_and_a_section_given_replaces_only_its_own_default() {
        let h = harness(
            r#"
spans:
  span.failed_or_cart.count:
    description: Spans that failed or served the cart.
    conditions:
      - 'status.code == STATUS_CODE_ERROR'
      - 'attributes["http.route"] == "/cart"'
  span.checkout.count:
    conditions: ['name == "checkout"']
  span.never.count:
    conditions: ['name == "no such span"']
"#,
        );
        let request = traces(vec![(
            vec![text("service.name", "shop")],
            vec![
                failed(span("checkout", 1, 2, vec![], vec![])),
                span("cart", 1, 2, vec![text("http.route", "/cart")], vec![event("cache miss", 1)]),
                span("checkout", 1, 2, vec![], vec![]),
                span("other", 1, 2, vec![text("http.route", "/other")], vec![]),
            ],
        )]);
        let batches = h.count(request).await;
        assert_eq!(
            lines(&batches[0]),
            [
                "resource {service.name=shop}",
                "span.failed_or_cart.count {} = 2",
                "span.checkout.count {} = 2",
                // spanevents was not given: its default still counts.
                "trace.span.event.count {} = 1",
            ],
            "trace.span.count is replaced; a metric that counted nothing is left out"
        );
        assert_eq!(
            descriptions(&batches[0])[..2],
            [
                (
                    "span.failed_or_cart.count".to_string(),
                    "Spans that failed or served the cart.".to_string()
                ),
                ("span.checkout.count".to_string(), String::new()),
            ]
        );
    }

    #[tokio::test]
    async fn attributes_group_the_counts_looked_up_in_record_then_scope_then_resource_then_default_value() {
        let h = harness(
            r#"
logs:
  log.record.count.by_env:
    attributes:
      - key: env
        default_value: unspecified
      - key: shard
        default_value: 0
"#,
        );
        let request = logs(vec![
            (
                vec![text("service.name", "api"), text("env", "prod")],
                vec![text("env", "staging")],
                vec![
                    log(9, 1, vec![text("env", "canary"), int("shard", 3)]),
                    log(9, 2, vec![]),
                    log(9, 3, vec![]),
                ],
            ),
            (
                vec![text("service.name", "worker"), text("env", "prod")],
                vec![],
                vec![
                    log(9, 4, vec![]),
                    log(9, 5, vec![attribute("shard", any_value::Value::DoubleValue(2.5))]),
                ],
            ),
            (
                vec![text("service.name", "batch")],
                vec![],
                vec![
                    log(9, 6, vec![attribute("env", any_value::Value::BoolValue(true))]),
                    log(9, 7, vec![]),
                ],
            ),
        ]);
        let batches = h.count(request).await;
        assert_eq!(
            lines(&batches[0]),
            [
                "resource {service.name=api, env=prod}",
                "log.record.count.by_env {env=canary, shard=3i} = 1",
                "log.record.count.by_env {env=staging, shard=0i} = 2",
                "resource {service.name=worker, env=prod}",
                "log.record.count.by_env {env=prod, shard=0i} = 1",
                "log.record.count.by_env {env=prod, shard=2.5f} = 1",
                "resource {service.name=batch}",
                "log.record.count.by_env {env=true, shard=0i} = 1",
                "log.record.count.by_env {env=unspecified, shard=0i} = 1",
            ],
            "ints and doubles keep their type, a bool becomes its text, defaults fill what is missing"
        );
    }

    #[tokio::test]
    async fn a_record_lacking_an_attribute_without_default_value_is_not_counted_for_that_metric() {
        let h = harness(
            r#"
spans:
  span.count.by_route:
    attributes: [{ key: http.route }]
  span.count:
    description: Every span.
datapoints:
  datapoint.count.by_host:
    conditions: ['metric.name == "cpu"']
    attributes: [{ key: host }]
"#,
        );
        let request = traces(vec![(
            vec![text("service.name", "api")],
            vec![
                span("a", 1, 2, vec![text("http.route", "/a")], vec![]),
                span("b", 1, 2, vec![], vec![]),
                span("c", 1, 2, vec![text("http.route", "/a")], vec![]),
            ],
        )]);
        assert_eq!(
            lines(&h.count(request).await[0]),
            [
                "resource {service.name=api}",
                "span.count.by_route {http.route=/a} = 2",
                "span.count {} = 3",
            ]
        );
        let request = metrics(vec![(
            vec![text("service.name", "api")],
            vec![
                gauge(
                    "cpu",
                    vec![
                        point(vec![text("host", "a")], 1),
                        point(vec![], 2),
                        point(vec![text("host", "a")], 3),
                    ],
                ),
                gauge("memory", vec![point(vec![text("host", "a")], 4)]),
            ],
        )]);
        assert_eq!(
            lines(&h.count(request).await[0]),
            [
                "resource {service.name=api}",
                "metric.count {} = 2",
                "datapoint.count.by_host {host=a} = 2",
            ]
        );
    }

    #[tokio::test]
    async fn a_condition_failing_to_evaluate_counts_as_not_matching_and_the_next_is_tried() {
        let h = harness(
            r#"
spans:
  span.big.count:
    conditions:
      - 'attributes["n"] + 1 > 2'
      - 'name == "fallback"'
"#,
        );
        let request = traces(vec![(
            vec![text("service.name", "api")],
            vec![
                span("fallback", 1, 2, vec![text("n", "one")], vec![]),
                span("x", 1, 2, vec![text("n", "two")], vec![]),
                span("y", 1, 2, vec![int("n", 5)], vec![]),
            ],
        )]);
        assert_eq!(
            lines(&h.count(request).await[0]),
            ["resource {service.name=api}", "span.big.count {} = 2"]
        );
    }

    #[tokio::test]
    async fn an_empty_section_counts_nothing_of_its_kind_and_nothing_is_sent() {
        let h = harness("logs: {}\nspans:\nspanevents: {}");
        let batches = h
            .count(logs(vec![(vec![text("service.name", "api")], vec![], vec![log(9, 1, vec![])])]))
            .await;
        assert!(batches.is_empty(), "no counts, no payload");
        let batches = h
            .count(traces(vec![(
                vec![text("service.name", "api")],
                vec![span("a", 1, 2, vec![], vec![event("e", 1)])],
            )]))
            .await;
        assert!(batches.is_empty());
        assert_eq!((h.sent(Signal::Traces), h.sent(Signal::Logs)), (0, 0));
    }

    #[tokio::test]
    async fn refused_counts_are_dropped_and_counted_while_the_input_stays_committed() {
        let h = harness_with(
            "null",
            Capture {
                refuse: true,
                ..Default::default()
            },
        );
        // `count` checks the input was accepted and committed.
        h.count(traces(vec![(
            vec![text("service.name", "api")],
            vec![span("a", 1, 2, vec![], vec![event("e", 1)])],
        )]))
        .await;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        assert_eq!(
            (load(&h.counters.traces.dropped), load(&h.counters.traces.sent)),
            (2, 0),
            "one span count and one event count"
        );
    }

    #[test]
    fn the_testdata_example_loads_and_keeps_the_defaults_of_the_sections_it_leaves_out() {
        let file: Value = serde_yaml_ng::from_str(include_str!("testdata/count.yaml")).unwrap();
        let section = file.get("count").expect("the example configures count").clone();
        let mut errors = Vec::new();
        let example = parse(&mut Parser::collecting(&mut errors), &section, "connectors.count");
        assert!(errors.is_empty(), "{errors:?}");
        let names = |metrics: &[CountMetric]| metrics.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&example.spans), ["trace.span.count", "trace.span.error.count"]);
        assert_eq!(names(&example.span_events), ["trace.span.exception.count"]);
        assert_eq!(names(&example.logs), ["log.record.count", "log.record.error.count"]);
        assert_eq!(example.metrics, CountConfig::default().metrics);
        assert_eq!(example.data_points, CountConfig::default().data_points);
    }

    #[test]
    fn config_errors_name_their_paths() {
        let at = "connectors.count";
        let found = errors(
            r#"
profiles: {}
traces: {}
spans:
  "": {}
  bad.condition:
    description: 5
    conditions: ['name = "x"']
  bad.attributes:
    attributes:
      - { default_value: x }
      - { key: "" }
      - { key: a }
      - { key: a }
      - { key: b, default_value: [1] }
      - { key: c, colour: red }
metrics:
  metric.count.by_env:
    attributes: [{ key: env }]
datapoints:
  wrong.context:
    conditions: ['severity_number > 1']
logs: [a]
"#,
        );
        assert_eq!(found.len(), 13, "{found:#?}");
        assert_eq!(
            found[..5],
            [
                format!("{at}.profiles: otelbox has no profiles signal, so there is nothing to count; remove this section"),
                format!("{at}.traces: unknown key (expected one of: spans, spanevents, metrics, datapoints, logs)"),
                format!("{at}.spans: a metric name must not be empty"),
                format!("{at}.spans.bad.condition.description: expected a string, got a number"),
                // The OTTL error (with its column) follows the path.
                found[4].clone(),
            ]
        );
        assert!(
            found[4].starts_with(&format!("{at}.spans.bad.condition.conditions[0]: column ")),
            "{}",
            found[4]
        );
        assert_eq!(
            found[5..10],
            [
                format!("{at}.spans.bad.attributes.attributes[0]: key is required"),
                format!("{at}.spans.bad.attributes.attributes[1].key: must not be empty"),
                format!("{at}.spans.bad.attributes.attributes[3].key: attribute \"a\" is listed twice"),
                format!("{at}.spans.bad.attributes.attributes[4].default_value: expected a string or a number"),
                format!("{at}.spans.bad.attributes.attributes[5].colour: unknown key (expected one of: key, default_value)"),
            ]
        );
        assert_eq!(
            found[10],
            format!(
                "{at}.metrics.metric.count.by_env.attributes: metrics have no attributes to count by; \
                 count data points by attribute under datapoints instead"
            )
        );
        assert!(
            found[11].starts_with(&format!(
                "{at}.datapoints.wrong.context.conditions[0]: column 1: unknown path 'severity_number'"
            )),
            "a condition is parsed for its section's context: {}",
            found[11]
        );
        assert_eq!(found[12], format!("{at}.logs: expected a mapping, got a list"));
        assert_eq!(errors("[1, 2]"), [format!("{at}: expected a mapping, got a list")]);
    }
}
