//! The filter processor: drops spans, span events, metrics, data points and log records for which
//! an OTTL condition holds (the Collector's filterprocessor with OTTL conditions).
//!
//! ```yaml
//! filter/noise:
//!   error_mode: ignore          # propagate (default) | ignore | silent
//!   traces:  { span: [...], spanevent: [...] }
//!   metrics: { metric: [...], datapoint: [...] }
//!   logs:    { log_record: [...] }
//! ```
//! The conditions of one list are OR-ed: the first that holds drops the item. Span events are
//! judged on the spans that stay; data points on the metrics that stay, and a metric left without
//! data points is dropped with them. Scope and resource groups left empty are removed, as the
//! Collector does. The items counted as dropped (by `Inline`) are spans, data points and log
//! records; span events are parts of a span, not items.
//!
//! Every condition is parsed when the config loads, so a syntax error never reaches run time. An
//! error while evaluating (say, arithmetic on a string attribute) follows `error_mode`: propagate
//! refuses the payload; ignore and silent count that condition as false and go on to the next.
//!
//! The Collector's legacy `include`/`exclude` matching is refused with a message pointing to the
//! OTTL lists, rather than half-supported.

use crate::config::{ComponentId, Parser};
use crate::ottl::{
    parse_condition, Condition, Context, DataPointContext, LogContext, MetricContext, SpanContext, SpanEventContext, TransformContext,
};
use crate::pipeline::ItemProcessor;
use crate::pipeline::PipelineError;
use crate::processor::ErrorMode;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_yaml_ng::Value;

crate::item_processor_factory!(Factory, "filter", parse, FilterProcessor::new);

/// The parsed settings: one list of drop conditions per context.
#[derive(Clone, Debug, Default)]
pub struct FilterConfig {
    pub error_mode: ErrorMode,
    pub span: Vec<Condition>,
    pub span_event: Vec<Condition>,
    pub metric: Vec<Condition>,
    pub data_point: Vec<Condition>,
    pub log_record: Vec<Condition>,
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> FilterConfig {
    let mut config = FilterConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["error_mode", "traces", "metrics", "logs", "spans"], path);
    config.error_mode = parse_error_mode(p, body.get("error_mode"), &format!("{path}.error_mode")).unwrap_or_default();
    if body.get("spans").is_some() {
        legacy_syntax(
            p,
            &format!("{path}.spans"),
            "traces: { span: ['attributes[\"http.route\"] == \"/health\"'] }",
        );
    }

    let traces_path = format!("{path}.traces");
    if let Some(traces) = p.mapping(body.get("traces"), &traces_path) {
        p.only_keys(traces, &["span", "spanevent"], &traces_path);
        config.span = parse_conditions(p, traces.get("span"), &format!("{traces_path}.span"), Context::Span);
        config.span_event = parse_conditions(p, traces.get("spanevent"), &format!("{traces_path}.spanevent"), Context::SpanEvent);
    }

    let metrics_path = format!("{path}.metrics");
    if let Some(metrics) = p.mapping(body.get("metrics"), &metrics_path) {
        let legacy = ["include", "exclude", "regexp"];
        for key in legacy.into_iter().filter(|key| metrics.get(key).is_some()) {
            legacy_syntax(
                p,
                &format!("{metrics_path}.{key}"),
                "metrics: { metric: ['name == \"noisy.metric\"'] }",
            );
        }
        p.only_keys(metrics, &["metric", "datapoint", "include", "exclude", "regexp"], &metrics_path);
        config.metric = parse_conditions(p, metrics.get("metric"), &format!("{metrics_path}.metric"), Context::Metric);
        config.data_point = parse_conditions(
            p,
            metrics.get("datapoint"),
            &format!("{metrics_path}.datapoint"),
            Context::DataPoint,
        );
    }

    let logs_path = format!("{path}.logs");
    if let Some(logs) = p.mapping(body.get("logs"), &logs_path) {
        for key in ["include", "exclude"].into_iter().filter(|key| logs.get(key).is_some()) {
            legacy_syntax(
                p,
                &format!("{logs_path}.{key}"),
                "logs: { log_record: ['severity_number < SEVERITY_NUMBER_WARN'] }",
            );
        }
        p.only_keys(logs, &["log_record", "include", "exclude"], &logs_path);
        config.log_record = parse_conditions(p, logs.get("log_record"), &format!("{logs_path}.log_record"), Context::Log);
    }
    config
}

fn legacy_syntax(p: &mut Parser, path: &str, example: &str) {
    p.error(
        path,
        format!("the legacy include/exclude filter syntax is not supported; write OTTL conditions instead, e.g. {example}"),
    );
}

/// `error_mode` (absent: None, so a caller can inherit an outer mode).
pub fn parse_error_mode(p: &mut Parser, value: Option<&Value>, path: &str) -> Option<ErrorMode> {
    let text = p.string(value?, path)?;
    let mode = ErrorMode::parse(&text);
    if mode.is_none() {
        p.error(path, format!("expected propagate, ignore or silent, got '{text}'"));
    }
    mode
}

/// A list of OTTL conditions for `context`; a syntax error is reported at the element's path
/// with its column: `processors.filter/noise.traces.span[1]: column 12: ...`.
pub fn parse_conditions(p: &mut Parser, value: Option<&Value>, path: &str, context: Context) -> Vec<Condition> {
    let mut conditions = Vec::new();
    for (at, item) in p.list(value, path) {
        let Some(text) = p.string(item, &at) else { continue };
        match parse_condition(&text, context) {
            Ok(condition) => conditions.push(condition),
            Err(e) => p.error(&at, e),
        }
    }
    conditions
}

/// Whether any of `conditions` holds, in order, as the Collector's condition sequence: an
/// evaluation error fails the payload under `propagate` and counts as false otherwise.
pub fn any_holds(conditions: &[Condition], ctx: &dyn TransformContext, mode: ErrorMode, component: &str) -> Result<bool, PipelineError> {
    for condition in conditions {
        match condition.evaluate(ctx) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(error) => mode.handle(component, condition, &error)?,
        }
    }
    Ok(false)
}

/// `items.retain_mut(keep)` that stops judging at the first error; what is left then does not
/// matter, since the error refuses the whole payload.
fn retain_or_fail<T>(items: &mut Vec<T>, mut keep: impl FnMut(&mut T) -> Result<bool, PipelineError>) -> Result<(), PipelineError> {
    let mut failure = None;
    items.retain_mut(|item| {
        if failure.is_some() {
            return true;
        }
        keep(item).unwrap_or_else(|error| {
            failure = Some(error);
            true
        })
    });
    failure.map_or(Ok(()), Err)
}

pub struct FilterProcessor {
    component: String,
    config: FilterConfig,
}

impl FilterProcessor {
    pub fn new(id: &ComponentId, config: &FilterConfig) -> Self {
        FilterProcessor {
            component: id.to_string(),
            config: config.clone(),
        }
    }

    fn any(&self, conditions: &[Condition], ctx: &dyn TransformContext) -> Result<bool, PipelineError> {
        any_holds(conditions, ctx, self.config.error_mode, &self.component)
    }

    /// Whether to drop `span`; when it stays, its matching events are removed.
    fn drop_span(&self, span: &mut Span, resource: Option<&Resource>, scope: Option<&InstrumentationScope>) -> Result<bool, PipelineError> {
        if self.any(&self.config.span, &SpanContext::new(span, resource, scope))? {
            return Ok(true);
        }
        if !self.config.span_event.is_empty() {
            let Span { name, events, .. } = span;
            retain_or_fail(events, |event| {
                let ctx = SpanEventContext {
                    event,
                    span_name: name,
                    resource,
                    scope,
                };
                Ok(!self.any(&self.config.span_event, &ctx)?)
            })?;
        }
        Ok(false)
    }

    /// Whether to drop `metric`: its own conditions, or no data point left after theirs. A metric
    /// without data is judged by its own conditions only (the Collector's rule).
    fn drop_metric(&self, metric: &mut Metric) -> Result<bool, PipelineError> {
        if self.any(&self.config.metric, &MetricContext { metric: &mut *metric })? {
            return Ok(true);
        }
        if self.config.data_point.is_empty() {
            return Ok(false);
        }
        let Metric { name, data, .. } = metric;
        Ok(match data {
            Some(Data::Gauge(gauge)) => {
                self.drop_points(&mut gauge.data_points, name, |point, name| DataPointContext::number(point, name))?
            }
            Some(Data::Sum(sum)) => self.drop_points(&mut sum.data_points, name, |point, name| DataPointContext::number(point, name))?,
            Some(Data::Histogram(histogram)) => self.drop_points(&mut histogram.data_points, name, |point, name| {
                DataPointContext::histogram(point, name)
            })?,
            Some(Data::ExponentialHistogram(histogram)) => self.drop_points(&mut histogram.data_points, name, |point, name| {
                DataPointContext::exponential_histogram(point, name)
            })?,
            Some(Data::Summary(summary)) => {
                self.drop_points(&mut summary.data_points, name, |point, name| DataPointContext::summary(point, name))?
            }
            None => false,
        })
    }

    /// Removes the matching points; true when none is left.
    fn drop_points<P>(
        &self,
        points: &mut Vec<P>,
        metric_name: &str,
        context: for<'a> fn(&'a mut P, &'a str) -> DataPointContext<'a>,
    ) -> Result<bool, PipelineError> {
        retain_or_fail(
            points,
            |point| Ok(!self.any(&self.config.data_point, &context(point, metric_name))?),
        )?;
        Ok(points.is_empty())
    }

    fn drop_log(
        &self,
        log: &mut LogRecord,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
    ) -> Result<bool, PipelineError> {
        self.any(&self.config.log_record, &LogContext::new(log, resource, scope))
    }
}

impl ItemProcessor for FilterProcessor {
    fn process_traces(&self, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        if self.config.span.is_empty() && self.config.span_event.is_empty() {
            return Ok(());
        }
        for resource_spans in &mut data.resource_spans {
            let resource = resource_spans.resource.as_ref();
            for scope_spans in &mut resource_spans.scope_spans {
                let scope = scope_spans.scope.as_ref();
                retain_or_fail(&mut scope_spans.spans, |span| Ok(!self.drop_span(span, resource, scope)?))?;
            }
            resource_spans.scope_spans.retain(|s| !s.spans.is_empty());
        }
        data.resource_spans.retain(|r| !r.scope_spans.is_empty());
        Ok(())
    }

    fn process_metrics(&self, data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        if self.config.metric.is_empty() && self.config.data_point.is_empty() {
            return Ok(());
        }
        for resource_metrics in &mut data.resource_metrics {
            for scope_metrics in &mut resource_metrics.scope_metrics {
                retain_or_fail(&mut scope_metrics.metrics, |metric| Ok(!self.drop_metric(metric)?))?;
            }
            resource_metrics.scope_metrics.retain(|s| !s.metrics.is_empty());
        }
        data.resource_metrics.retain(|r| !r.scope_metrics.is_empty());
        Ok(())
    }

    fn process_logs(&self, data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        if self.config.log_record.is_empty() {
            return Ok(());
        }
        for resource_logs in &mut data.resource_logs {
            let resource = resource_logs.resource.as_ref();
            for scope_logs in &mut resource_logs.scope_logs {
                let scope = scope_logs.scope.as_ref();
                retain_or_fail(&mut scope_logs.log_records, |log| Ok(!self.drop_log(log, resource, scope)?))?;
            }
            resource_logs.scope_logs.retain(|s| !s.log_records.is_empty());
        }
        data.resource_logs.retain(|r| !r.scope_logs.is_empty());
        Ok(())
    }
}

/// OTLP builders and config helpers shared by the tests of the OTTL processors and the sampler.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::config::{ComponentId, Kind, Settings};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::{Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    pub fn text(value: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }
    }

    pub fn kv(key: &str, value: &str) -> KeyValue {
        kv_any(key, text(value))
    }

    pub fn kv_int(key: &str, value: i64) -> KeyValue {
        kv_any(
            key,
            AnyValue {
                value: Some(any_value::Value::IntValue(value)),
            },
        )
    }

    pub fn kv_any(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Some(value),
            ..Default::default()
        }
    }

    pub fn resource(service: &str) -> Resource {
        Resource {
            attributes: vec![kv("service.name", service)],
            ..Default::default()
        }
    }

    pub fn scope() -> InstrumentationScope {
        InstrumentationScope {
            name: "io.opentelemetry.http".into(),
            ..Default::default()
        }
    }

    /// A span of trace `trace_hex` (any hex; "" for none) with string attributes.
    pub fn span(trace_hex: &str, name: &str, attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: hex::decode(trace_hex).expect("test trace id is hex"),
            span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
            name: name.to_string(),
            kind: 2,
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 2_000,
            attributes,
            ..Default::default()
        }
    }

    pub fn event(name: &str, attributes: Vec<KeyValue>) -> Event {
        Event {
            name: name.to_string(),
            time_unix_nano: 1_500,
            attributes,
            ..Default::default()
        }
    }

    /// One resource group per service, each with one scope group.
    pub fn traces(groups: Vec<(&str, Vec<Span>)>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: groups
                .into_iter()
                .map(|(service, spans)| ResourceSpans {
                    resource: Some(resource(service)),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(scope()),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }

    pub fn log(severity_number: i32, body: &str, attributes: Vec<KeyValue>) -> LogRecord {
        LogRecord {
            time_unix_nano: 3_000,
            severity_number,
            body: Some(text(body)),
            attributes,
            ..Default::default()
        }
    }

    pub fn logs(groups: Vec<(&str, Vec<LogRecord>)>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: groups
                .into_iter()
                .map(|(service, log_records)| ResourceLogs {
                    resource: Some(resource(service)),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(scope()),
                        log_records,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }

    pub fn point(attributes: Vec<KeyValue>, value: i64) -> NumberDataPoint {
        NumberDataPoint {
            attributes,
            time_unix_nano: 4_000,
            value: Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(value)),
            ..Default::default()
        }
    }

    pub fn gauge(name: &str, data_points: Vec<NumberDataPoint>) -> Metric {
        Metric {
            name: name.to_string(),
            data: Some(Data::Gauge(Gauge { data_points })),
            ..Default::default()
        }
    }

    pub fn metrics(groups: Vec<(&str, Vec<Metric>)>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: groups
                .into_iter()
                .map(|(service, metrics)| ResourceMetrics {
                    resource: Some(resource(service)),
                    scope_metrics: vec![ScopeMetrics {
                        scope: Some(scope()),
                        metrics,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }

    /// A full config with one processor `id` (its body indented by four spaces) in a traces, a
    /// metrics and a logs pipeline.
    pub fn full_config(id: &str, body: &str) -> String {
        format!(
            "receivers:\n  otlp: {{ protocols: {{ grpc: {{ endpoint: 127.0.0.1:4317 }} }} }}\n\
             processors:\n  {id}:\n{body}\n\
             exporters:\n  otelbox: {{}}\n\
             service:\n  pipelines:\n\
             \x20   traces: {{ receivers: [otlp], processors: [{id}], exporters: [otelbox] }}\n\
             \x20   metrics: {{ receivers: [otlp], processors: [{id}], exporters: [otelbox] }}\n\
             \x20   logs: {{ receivers: [otlp], processors: [{id}], exporters: [otelbox] }}\n"
        )
    }

    /// The settings of processor `id` from a config that must load.
    pub fn settings(yaml: &str, id: &str) -> (ComponentId, Settings) {
        let config = crate::components::parse_config(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let (id, component) = config
            .of_kind(Kind::Processor)
            .find(|(key, _)| key.to_string() == id)
            .unwrap_or_else(|| panic!("no processor {id}"));
        (id.clone(), component.settings.clone())
    }

    /// The errors of a config that must not load.
    pub fn config_errors(yaml: &str) -> Vec<String> {
        match crate::components::parse_config(yaml) {
            Ok(_) => panic!("the config loaded:\n{yaml}"),
            Err(errors) => errors.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::pipeline::{Consumer, Envelope, Inline, SharedConsumer};
    use crate::telemetry::ComponentCounters;
    use futures::future::BoxFuture;
    use opentelemetry_proto::tonic::metrics::v1::{Histogram, HistogramDataPoint, Sum};
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};

    /// The spec's example, in a full config.
    const SPEC_EXAMPLE: &str = r#"
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:4317 } } }
processors:
  filter/noise:
    error_mode: ignore          # propagate (default) | ignore | silent
    traces:  { span: ['attributes["http.route"] == "/health"', 'IsMatch(attributes["url.path"], "^/(healthz|ready)")'] }
    logs:    { log_record: ['severity_number < SEVERITY_NUMBER_WARN'] }
    metrics: { metric: ['name == "noisy.metric"'], datapoint: ['attributes["env"] == "test"'] }
exporters:
  otelbox: {}
service:
  pipelines:
    traces:  { receivers: [otlp], processors: [filter/noise], exporters: [otelbox] }
    metrics: { receivers: [otlp], processors: [filter/noise], exporters: [otelbox] }
    logs:    { receivers: [otlp], processors: [filter/noise], exporters: [otelbox] }
"#;

    fn filter_from(yaml: &str, id: &str) -> FilterProcessor {
        let (id, settings) = settings(yaml, id);
        FilterProcessor::new(&id, settings.get())
    }

    fn filter(body: &str) -> FilterProcessor {
        filter_from(&full_config("filter/test", body), "filter/test")
    }

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn spec_example_drops_health_checks() {
        let filter = filter_from(SPEC_EXAMPLE, "filter/noise");
        let users = span(
            TRACE,
            "GET /users/{id}",
            vec![kv("http.route", "/users/{id}"), kv("url.path", "/users/42")],
        );
        let status = span(TRACE, "GET /status", vec![kv("url.path", "/status/ready")]);
        let mut data = traces(vec![
            (
                "api",
                vec![
                    span(TRACE, "GET /health", vec![kv("http.route", "/health")]),
                    users.clone(),
                    span(TRACE, "GET /ready", vec![kv("url.path", "/ready")]),
                    status.clone(),
                ],
            ),
            ("probe", vec![span(TRACE, "GET /healthz", vec![kv("url.path", "/healthz")])]),
        ]);
        filter.process_traces(&mut data).unwrap();
        assert_eq!(data, traces(vec![("api", vec![users, status])]));
    }

    #[test]
    fn spec_example_drops_noisy_metrics_and_test_points() {
        let filter = filter_from(SPEC_EXAMPLE, "filter/noise");
        let mut data = metrics(vec![(
            "api",
            vec![
                gauge("noisy.metric", vec![point(vec![kv("env", "prod")], 1), point(vec![], 2)]),
                gauge(
                    "requests",
                    vec![
                        point(vec![kv("env", "prod")], 3),
                        point(vec![kv("env", "test")], 4),
                        point(vec![kv("env", "dev")], 5),
                    ],
                ),
                gauge("test.only", vec![point(vec![kv("env", "test")], 6)]),
            ],
        )]);
        filter.process_metrics(&mut data).unwrap();
        let expected = metrics(vec![(
            "api",
            vec![gauge(
                "requests",
                vec![point(vec![kv("env", "prod")], 3), point(vec![kv("env", "dev")], 5)],
            )],
        )]);
        assert_eq!(data, expected);
    }

    #[test]
    fn spec_example_keeps_warnings_and_above() {
        let filter = filter_from(SPEC_EXAMPLE, "filter/noise");
        let mut data = logs(vec![
            (
                "api",
                vec![
                    log(9, "request served", vec![]),
                    log(13, "slow request", vec![]),
                    log(0, "no severity", vec![]),
                    log(17, "request failed", vec![]),
                ],
            ),
            ("worker", vec![log(5, "tick", vec![])]),
        ]);
        filter.process_logs(&mut data).unwrap();
        let expected = logs(vec![(
            "api",
            vec![log(13, "slow request", vec![]), log(17, "request failed", vec![])],
        )]);
        assert_eq!(data, expected);
    }

    struct Sink(Mutex<Vec<ExportTraceServiceRequest>>);
    impl Consumer<ExportTraceServiceRequest> for Sink {
        fn consume(&self, envelope: Envelope<ExportTraceServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            self.0.lock().unwrap().push(envelope.data.clone());
            envelope.commit();
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn span_events_are_removed_but_not_counted_as_dropped_items() {
        let filter = filter(
            r#"    traces:
      span: ['name == "drop me"']
      spanevent: ['name == "debug" and span.name == "checkout"', 'attributes["noise"] == "yes"']"#,
        );
        let mut checkout = span(TRACE, "checkout", vec![]);
        checkout.events = vec![
            event("debug", vec![]),
            event("exception", vec![kv("exception.type", "IOError")]),
            event("retry", vec![kv("noise", "yes")]),
        ];
        let mut other = span(TRACE, "other", vec![]);
        other.events = vec![event("debug", vec![])];
        let input = traces(vec![("api", vec![checkout.clone(), span(TRACE, "drop me", vec![]), other.clone()])]);

        let sink = Arc::new(Sink(Mutex::new(Vec::new())));
        let counters = ComponentCounters::detached("processor/filter/test");
        let next: SharedConsumer<ExportTraceServiceRequest> = sink.clone();
        let inline = Inline::new(Arc::new(filter), next, counters.clone());
        inline.consume(Envelope::unacked(input)).await.unwrap();

        checkout.events = vec![event("exception", vec![kv("exception.type", "IOError")])];
        assert_eq!(*sink.0.lock().unwrap(), vec![traces(vec![("api", vec![checkout, other])])]);
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 1, "one span; events are not items");
    }

    #[test]
    fn a_metric_goes_when_its_last_data_point_goes_whatever_its_type() {
        let filter = filter(r#"    metrics: { datapoint: ['attributes["host"] == "canary" or metric.name == "gone"'] }"#);
        let histogram = |hosts: &[&str]| Metric {
            name: "latency".into(),
            data: Some(Data::Histogram(Histogram {
                data_points: hosts
                    .iter()
                    .map(|h| HistogramDataPoint {
                        attributes: vec![kv("host", h)],
                        count: 1,
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: 2,
            })),
            ..Default::default()
        };
        let sum = |name: &str| Metric {
            name: name.into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![point(vec![], 1)],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let no_data = Metric {
            name: "empty".into(),
            ..Default::default()
        };
        let mut data = metrics(vec![
            (
                "api",
                vec![histogram(&["a", "canary", "b"]), sum("gone"), no_data.clone(), sum("kept")],
            ),
            ("canary", vec![histogram(&["canary"])]),
        ]);
        filter.process_metrics(&mut data).unwrap();
        assert_eq!(data, metrics(vec![("api", vec![histogram(&["a", "b"]), no_data, sum("kept")])]));
    }

    #[test]
    fn a_signal_without_conditions_passes_untouched() {
        let filter = filter(r#"    logs: { log_record: ['true'] }"#);
        let mut data = traces(vec![("api", vec![])]);
        filter.process_traces(&mut data).unwrap();
        assert_eq!(data, traces(vec![("api", vec![])]), "an empty group is left alone too");
        let mut data = metrics(vec![("api", vec![gauge("m", vec![])])]);
        filter.process_metrics(&mut data).unwrap();
        assert_eq!(data, metrics(vec![("api", vec![gauge("m", vec![])])]));
        let mut data = logs(vec![("api", vec![log(9, "x", vec![])])]);
        filter.process_logs(&mut data).unwrap();
        assert_eq!(data, ExportLogsServiceRequest::default());
    }

    /// The first condition fails at run time on spans whose `n` is a string.
    fn failing(mode: &str) -> FilterProcessor {
        filter(&format!(
            "    error_mode: {mode}\n    traces: {{ span: ['attributes[\"n\"] + 1 > 2', 'name == \"drop me\"'] }}"
        ))
    }

    fn error_input() -> ExportTraceServiceRequest {
        traces(vec![(
            "api",
            vec![
                span(TRACE, "keep", vec![kv("n", "one")]),
                span(TRACE, "drop me", vec![kv("n", "two")]),
                span(TRACE, "big", vec![kv_int("n", 5)]),
            ],
        )])
    }

    #[test]
    fn error_mode_propagate_refuses_the_payload() {
        let mut data = error_input();
        let error = failing("propagate").process_traces(&mut data).unwrap_err();
        assert_eq!(
            error,
            PipelineError::permanent(
                "filter/test: attributes[\"n\"] + 1 > 2: column 17: cannot add a string and an int; arithmetic needs ints or floats"
            )
        );
        let mut data = error_input();
        let default_mode = filter(r#"    traces: { span: ['attributes["n"] + 1 > 2'] }"#);
        assert!(
            !default_mode.process_traces(&mut data).unwrap_err().is_retryable(),
            "propagate is the default"
        );
    }

    #[test]
    fn error_mode_ignore_and_silent_count_a_failing_condition_as_false() {
        for mode in ["ignore", "silent"] {
            let mut data = error_input();
            failing(mode).process_traces(&mut data).unwrap();
            let expected = traces(vec![("api", vec![span(TRACE, "keep", vec![kv("n", "one")])])]);
            assert_eq!(data, expected, "{mode}: 'drop me' by the second condition, 'big' by the first");
        }
    }

    #[test]
    fn config_errors_name_the_condition_and_column() {
        let errors = config_errors(&full_config(
            "filter/noise",
            r#"    error_mode: loud
    traces:
      span: ['name == "a"', 'attributes["http.route"] = "/health"', 42]
      spanevent: ['severity_number > 1']
      spans: ['name == "x"']
    metrics: { metric: ['IsMatch(name, "[")'], datapoint: ['name == "x"'] }
    logs: { log_record: ['severity_number < SEVERITY_NUMBER_WARNING'] }"#,
        ));
        let (last, errors) = errors.split_last().expect("errors");
        assert_eq!(
            errors,
            [
                "processors.filter/noise.error_mode: expected propagate, ignore or silent, got 'loud'",
                "processors.filter/noise.traces.spans: unknown key (expected one of: span, spanevent)",
                "processors.filter/noise.traces.span[1]: column 26: unexpected '='; compare with '=='",
                "processors.filter/noise.traces.span[2]: expected a string, got a number",
                "processors.filter/noise.traces.spanevent[0]: column 1: unknown path 'severity_number' in the spanevent context; \
                 expected one of name, time_unix_nano, attributes[...], span.name, resource.attributes[...], instrumentation_scope.name",
                "processors.filter/noise.metrics.metric[0]: column 15: expected a valid regular expression as the pattern of IsMatch: \
                 unclosed character class",
                "processors.filter/noise.metrics.datapoint[0]: column 1: unknown path 'name' in the datapoint context; \
                 expected one of attributes[...], metric.name",
            ]
        );
        assert!(
            last.starts_with(
                "processors.filter/noise.logs.log_record[0]: column 19: unknown enum 'SEVERITY_NUMBER_WARNING'; \
                 expected one of SEVERITY_NUMBER_UNSPECIFIED, SEVERITY_NUMBER_TRACE,"
            ),
            "{last}"
        );
    }

    #[test]
    fn legacy_include_exclude_is_refused_with_a_pointer_to_ottl() {
        let errors = config_errors(&full_config(
            "filter/old",
            r#"    spans: { include: { match_type: strict, services: [api] } }
    metrics: { exclude: { match_type: strict, metric_names: [noisy] } }
    logs: { include: { match_type: strict, severity_texts: [INFO] } }"#,
        ));
        assert_eq!(
            errors,
            [
                "processors.filter/old.spans: the legacy include/exclude filter syntax is not supported; write OTTL conditions instead, \
                 e.g. traces: { span: ['attributes[\"http.route\"] == \"/health\"'] }",
                "processors.filter/old.metrics.exclude: the legacy include/exclude filter syntax is not supported; write OTTL conditions \
                 instead, e.g. metrics: { metric: ['name == \"noisy.metric\"'] }",
                "processors.filter/old.logs.include: the legacy include/exclude filter syntax is not supported; write OTTL conditions \
                 instead, e.g. logs: { log_record: ['severity_number < SEVERITY_NUMBER_WARN'] }",
            ]
        );
        let errors = config_errors(&full_config("filter/odd", "    tracez: {}\n    traces: [a]"));
        assert_eq!(
            errors,
            [
                "processors.filter/odd.tracez: unknown key (expected one of: error_mode, traces, metrics, logs, spans)",
                "processors.filter/odd.traces: expected a mapping, got a list",
            ]
        );
    }
}
