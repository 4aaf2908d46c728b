//! The routing connector: sends each resource, span, metric or log record to the pipelines of the
//! first route of its table whose OTTL condition holds, and what no route takes to the default
//! pipelines (the Collector's routingconnector). The signal stays the same.
//!
//! ```yaml
//! routing:
//!   default_pipelines: [traces/all]
//!   error_mode: ignore
//!   table:
//!     - statement: route() where attributes["tenant"] == "acme"     # resource context (the default)
//!       pipelines: [traces/acme]
//!     - context: span
//!       condition: status.code == STATUS_CODE_ERROR
//!       pipelines: [traces/errors]
//! ```
//! A route's condition is judged in its context: `resource` for a whole resource group, `span`,
//! `metric` and `log` item by item (a route of another signal's context never matches). With
//! `match_once: false` (the Collector's old default) an item goes to every matching route instead.
//! Data that no route takes and that has no default pipelines is dropped and counted.
//!
//! A payload whose items all go the same way is passed on whole; otherwise it is split, each part
//! keeping its resource and scope, and the sender's ack waits for every part.

use crate::config::{ComponentId, ComponentType, Parser, Settings};
use crate::connector::{ConnectorFactory, ConnectorOutput};
use crate::ottl::{parse_condition, Condition, Context, LogContext, MetricContext, ResourceContext, SpanContext, WithResource};
use crate::pdata::Signal;
use crate::pipeline::ack::AckToken;
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError, SharedConsumer, SignalConsumers};
use crate::processor::filter::parse_error_mode;
use crate::processor::ErrorMode;
use crate::telemetry::PerSignal;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Factory;

/// One row of the routing table.
#[derive(Clone, Debug)]
pub struct Route {
    pub condition: Condition,
    pub pipelines: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct RoutingConfig {
    pub default_pipelines: Vec<String>,
    pub error_mode: ErrorMode,
    pub match_once: bool,
    pub table: Vec<Route>,
}

impl ComponentType for Factory {
    fn type_name(&self) -> &'static str {
        "routing"
    }
    fn signals(&self) -> &'static [Signal] {
        &Signal::ALL
    }
    fn output_signals(&self) -> &'static [Signal] {
        &Signal::ALL
    }
    fn connects(&self, from: Signal, to: Signal) -> bool {
        from == to
    }
    fn parse(&self, p: &mut Parser, value: &Value, path: &str) -> Settings {
        Settings::new(parse(p, value, path))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> RoutingConfig {
    let mut config = RoutingConfig {
        default_pipelines: Vec::new(),
        error_mode: ErrorMode::Propagate,
        match_once: true,
        table: Vec::new(),
    };
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["default_pipelines", "error_mode", "match_once", "table"], path);
    config.default_pipelines = p.string_list(body.get("default_pipelines"), &format!("{path}.default_pipelines"));
    config.error_mode = parse_error_mode(p, body.get("error_mode"), &format!("{path}.error_mode")).unwrap_or_default();
    if let Some(v) = body.get("match_once") {
        config.match_once = p.boolean(v, &format!("{path}.match_once")).unwrap_or(true);
    }
    let table_path = format!("{path}.table");
    for (at, item) in p.list(body.get("table"), &table_path) {
        let Some(route) = p.mapping(Some(item), &at) else { continue };
        p.only_keys(route, &["statement", "condition", "context", "pipelines"], &at);
        let context = match route.get("context") {
            None => Some(Context::Resource),
            Some(v) => match p.string(v, &format!("{at}.context")).as_deref() {
                Some("resource") => Some(Context::Resource),
                Some("span") => Some(Context::Span),
                Some("metric") => Some(Context::Metric),
                Some("log") => Some(Context::Log),
                Some(other @ ("datapoint" | "request")) => {
                    p.error(
                        &format!("{at}.context"),
                        format!("the {other} context is not supported by this otelbox yet (it has resource, span, metric and log)"),
                    );
                    None
                }
                Some(other) => {
                    p.error(
                        &format!("{at}.context"),
                        format!("expected resource, span, metric or log, got '{other}'"),
                    );
                    None
                }
                None => None,
            },
        };
        let condition_text = match (route.get("statement"), route.get("condition")) {
            (Some(_), Some(_)) => {
                p.error(&at, "give either statement or condition, not both");
                None
            }
            (None, None) => {
                p.error(&at, "needs a statement (route() where ...) or a condition");
                None
            }
            (Some(statement), None) => p
                .string(statement, &format!("{at}.statement"))
                .and_then(|text| match route_condition(&text) {
                    Some(condition) => Some((condition, format!("{at}.statement"))),
                    None => {
                        p.error(
                            &format!("{at}.statement"),
                            format!("expected route() or route() where <condition>, got '{text}'"),
                        );
                        None
                    }
                }),
            (None, Some(condition)) => p
                .string(condition, &format!("{at}.condition"))
                .map(|text| (text, format!("{at}.condition"))),
        };
        let pipelines = p.string_list(route.get("pipelines"), &format!("{at}.pipelines"));
        if pipelines.is_empty() {
            p.error(&format!("{at}.pipelines"), "a route needs at least one pipeline");
        }
        let (Some(context), Some((text, condition_path))) = (context, condition_text) else {
            continue;
        };
        match parse_condition(&text, context) {
            Ok(condition) => config.table.push(Route { condition, pipelines }),
            Err(e) => p.error(&condition_path, e),
        }
    }
    if body.get("table").is_none() {
        p.error(&table_path, "is required: the routes, each with a condition and pipelines");
    }
    config
}

/// The condition of a `route() where <condition>` statement (`true` for a bare `route()`).
fn route_condition(statement: &str) -> Option<String> {
    let rest = statement.trim().strip_prefix("route()")?.trim_start();
    if rest.is_empty() {
        return Some("true".to_string());
    }
    let condition = rest.strip_prefix("where")?;
    condition.starts_with(char::is_whitespace).then(|| condition.trim().to_string())
}

impl ConnectorFactory for Factory {
    fn build(
        &self,
        id: &ComponentId,
        settings: &Settings,
        output: &ConnectorOutput,
        counters: &PerSignal,
    ) -> anyhow::Result<SignalConsumers> {
        let config: &RoutingConfig = settings.get();
        let named = config
            .table
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.pipelines.iter().map(move |p| (format!("table[{i}].pipelines"), p)));
        let defaults = config.default_pipelines.iter().map(|p| ("default_pipelines".to_string(), p));
        for (at, pipeline) in named.chain(defaults) {
            if !output.has_pipeline(pipeline) {
                anyhow::bail!("connectors.{id}.{at}: pipeline \"{pipeline}\" does not list this connector among its receivers");
            }
        }
        let router = Arc::new(Router {
            component: id.to_string(),
            config: config.clone(),
            output: output.clone(),
            counters: PerSignal {
                traces: counters.traces.clone(),
                metrics: counters.metrics.clone(),
                logs: counters.logs.clone(),
            },
        });
        Ok(SignalConsumers::all(router))
    }
}

/// Where an item goes: the indexes of the routes it matched (empty: the default pipelines).
type Destination = Vec<usize>;

pub struct Router {
    component: String,
    config: RoutingConfig,
    output: ConnectorOutput,
    counters: PerSignal,
}

impl Router {
    /// Which routes an item takes, given the resource-context routes' verdicts on its resource and
    /// a judge of the routes in its own context (`None` for a route of another context).
    fn destination(
        &self,
        resource_verdicts: &[Option<bool>],
        mut judge: impl FnMut(&Condition) -> Option<Result<bool, crate::ottl::OttlError>>,
    ) -> Result<Destination, PipelineError> {
        let mut matched = Vec::new();
        for (i, route) in self.config.table.iter().enumerate() {
            let verdict = match resource_verdicts[i] {
                Some(verdict) => verdict,
                None => match judge(&route.condition) {
                    None => false,
                    Some(Ok(verdict)) => verdict,
                    Some(Err(error)) => {
                        self.config.error_mode.handle(&self.component, &route.condition, &error)?;
                        false
                    }
                },
            };
            if verdict {
                matched.push(i);
                if self.config.match_once {
                    break;
                }
            }
        }
        Ok(matched)
    }

    /// The resource-context routes' verdicts on one resource; None for routes of other contexts.
    fn judge_resource(&self, resource: &mut Option<Resource>) -> Result<Vec<Option<bool>>, PipelineError> {
        let mut verdicts = Vec::with_capacity(self.config.table.len());
        for route in &self.config.table {
            if route.condition.context() != Context::Resource {
                verdicts.push(None);
                continue;
            }
            let resource = resource.get_or_insert_with(Resource::default);
            let verdict = match route.condition.evaluate(&ResourceContext { resource }) {
                Ok(verdict) => verdict,
                Err(error) => {
                    self.config.error_mode.handle(&self.component, &route.condition, &error)?;
                    false
                }
            };
            verdicts.push(Some(verdict));
        }
        Ok(verdicts)
    }

    /// The pipelines of a destination.
    fn pipelines(&self, destination: &Destination) -> Vec<String> {
        if destination.is_empty() {
            return self.config.default_pipelines.clone();
        }
        let mut pipelines: Vec<String> = destination
            .iter()
            .flat_map(|i| self.config.table[*i].pipelines.iter().cloned())
            .collect();
        pipelines.sort();
        pipelines.dedup();
        pipelines
    }

    /// Sends each part to its pipelines; every part shares the sender's acks.
    async fn send<T: PipelineData>(&self, envelope: Envelope<T>, parts: BTreeMap<Destination, T>) -> Result<(), PipelineError> {
        let mut first_error = None;
        let mut deliveries: Vec<(SharedConsumer<T>, T)> = Vec::new();
        for (destination, data) in parts {
            match self.output.pipelines::<T>(&self.pipelines(&destination)) {
                Some(consumer) => deliveries.push((consumer, data)),
                None => self.counters.get(T::SIGNAL).record_dropped(data.item_count()),
            }
        }
        let acks = envelope.acks;
        let Some((last, rest)) = deliveries.split_last_mut() else {
            for ack in acks {
                ack.commit();
            }
            return Ok(());
        };
        for (consumer, data) in rest.iter_mut() {
            let items = data.item_count();
            let part = Envelope {
                data: std::mem::take(data),
                acks: acks.iter().map(AckToken::split).collect(),
            };
            match consumer.consume(part).await {
                Ok(()) => self.counters.get(T::SIGNAL).record_sent(items),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let items = last.1.item_count();
        match last
            .0
            .consume(Envelope {
                data: std::mem::take(&mut last.1),
                acks,
            })
            .await
        {
            Ok(()) => self.counters.get(T::SIGNAL).record_sent(items),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn split_traces(&self, request: ExportTraceServiceRequest) -> Result<BTreeMap<Destination, ExportTraceServiceRequest>, PipelineError> {
        let mut parts: BTreeMap<Destination, ExportTraceServiceRequest> = BTreeMap::new();
        for mut rs in request.resource_spans {
            let verdicts = self.judge_resource(&mut rs.resource)?;
            let mut groups: BTreeMap<Destination, ResourceSpans> = BTreeMap::new();
            for ss in std::mem::take(&mut rs.scope_spans) {
                let mut scoped: BTreeMap<Destination, ScopeSpans> = BTreeMap::new();
                let ScopeSpans { scope, spans, schema_url } = ss;
                for mut span in spans {
                    let destination = self.destination(&verdicts, |condition| {
                        (condition.context() == Context::Span)
                            .then(|| condition.evaluate(&SpanContext::new(&mut span, rs.resource.as_ref(), scope.as_ref())))
                    })?;
                    scoped
                        .entry(destination)
                        .or_insert_with(|| ScopeSpans {
                            scope: scope.clone(),
                            spans: Vec::new(),
                            schema_url: schema_url.clone(),
                        })
                        .spans
                        .push(span);
                }
                for (destination, group) in scoped {
                    groups
                        .entry(destination)
                        .or_insert_with(|| ResourceSpans {
                            resource: rs.resource.clone(),
                            scope_spans: Vec::new(),
                            schema_url: rs.schema_url.clone(),
                        })
                        .scope_spans
                        .push(group);
                }
            }
            for (destination, group) in groups {
                parts.entry(destination).or_default().resource_spans.push(group);
            }
        }
        Ok(parts)
    }

    fn split_metrics(
        &self,
        request: ExportMetricsServiceRequest,
    ) -> Result<BTreeMap<Destination, ExportMetricsServiceRequest>, PipelineError> {
        let mut parts: BTreeMap<Destination, ExportMetricsServiceRequest> = BTreeMap::new();
        for mut rm in request.resource_metrics {
            let verdicts = self.judge_resource(&mut rm.resource)?;
            let mut groups: BTreeMap<Destination, ResourceMetrics> = BTreeMap::new();
            for sm in std::mem::take(&mut rm.scope_metrics) {
                let mut scoped: BTreeMap<Destination, ScopeMetrics> = BTreeMap::new();
                let ScopeMetrics {
                    scope,
                    metrics,
                    schema_url,
                } = sm;
                for mut metric in metrics {
                    let destination = self.destination(&verdicts, |condition| {
                        (condition.context() == Context::Metric).then(|| {
                            condition.evaluate(&WithResource::new(
                                MetricContext { metric: &mut metric },
                                rm.resource.as_ref(),
                                scope.as_ref(),
                            ))
                        })
                    })?;
                    scoped
                        .entry(destination)
                        .or_insert_with(|| ScopeMetrics {
                            scope: scope.clone(),
                            metrics: Vec::new(),
                            schema_url: schema_url.clone(),
                        })
                        .metrics
                        .push(metric);
                }
                for (destination, group) in scoped {
                    groups
                        .entry(destination)
                        .or_insert_with(|| ResourceMetrics {
                            resource: rm.resource.clone(),
                            scope_metrics: Vec::new(),
                            schema_url: rm.schema_url.clone(),
                        })
                        .scope_metrics
                        .push(group);
                }
            }
            for (destination, group) in groups {
                parts.entry(destination).or_default().resource_metrics.push(group);
            }
        }
        Ok(parts)
    }

    fn split_logs(&self, request: ExportLogsServiceRequest) -> Result<BTreeMap<Destination, ExportLogsServiceRequest>, PipelineError> {
        let mut parts: BTreeMap<Destination, ExportLogsServiceRequest> = BTreeMap::new();
        for mut rl in request.resource_logs {
            let verdicts = self.judge_resource(&mut rl.resource)?;
            let mut groups: BTreeMap<Destination, ResourceLogs> = BTreeMap::new();
            for sl in std::mem::take(&mut rl.scope_logs) {
                let mut scoped: BTreeMap<Destination, ScopeLogs> = BTreeMap::new();
                let ScopeLogs {
                    scope,
                    log_records,
                    schema_url,
                } = sl;
                for mut log in log_records {
                    let destination = self.destination(&verdicts, |condition| {
                        (condition.context() == Context::Log)
                            .then(|| condition.evaluate(&LogContext::new(&mut log, rl.resource.as_ref(), scope.as_ref())))
                    })?;
                    scoped
                        .entry(destination)
                        .or_insert_with(|| ScopeLogs {
                            scope: scope.clone(),
                            log_records: Vec::new(),
                            schema_url: schema_url.clone(),
                        })
                        .log_records
                        .push(log);
                }
                for (destination, group) in scoped {
                    groups
                        .entry(destination)
                        .or_insert_with(|| ResourceLogs {
                            resource: rl.resource.clone(),
                            scope_logs: Vec::new(),
                            schema_url: rl.schema_url.clone(),
                        })
                        .scope_logs
                        .push(group);
                }
            }
            for (destination, group) in groups {
                parts.entry(destination).or_default().resource_logs.push(group);
            }
        }
        Ok(parts)
    }
}

/// Splits a payload by destination and sends the parts; a refused split (an OTTL error under
/// `error_mode: propagate`) fails the sender's acks.
macro_rules! route_signal {
    ($request:ty, $split:ident) => {
        impl Consumer<$request> for Router {
            fn consume(&self, mut envelope: Envelope<$request>) -> BoxFuture<'_, Result<(), PipelineError>> {
                Box::pin(async move {
                    match self.$split(std::mem::take(&mut envelope.data)) {
                        Ok(parts) => self.send(envelope, parts).await,
                        Err(error) => {
                            envelope.fail(&error);
                            Err(error)
                        }
                    }
                })
            }
        }
    };
}

route_signal!(ExportTraceServiceRequest, split_traces);
route_signal!(ExportMetricsServiceRequest, split_metrics);
route_signal!(ExportLogsServiceRequest, split_logs);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Parser;
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;

    /// A pipeline head that keeps what it is sent and commits it.
    #[derive(Default)]
    struct Sink(Mutex<Vec<ExportTraceServiceRequest>>);

    impl Sink {
        fn received(&self) -> Vec<ExportTraceServiceRequest> {
            self.0.lock().unwrap().clone()
        }
    }

    impl Consumer<ExportTraceServiceRequest> for Sink {
        fn consume(&self, envelope: Envelope<ExportTraceServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            self.0.lock().unwrap().push(envelope.data.clone());
            envelope.commit();
            Box::pin(async { Ok(()) })
        }
    }

    fn config(yaml: &str) -> Result<RoutingConfig, Vec<String>> {
        let mut errors = Vec::new();
        let value: Value = serde_yaml_ng::from_str(yaml).expect("yaml");
        let config = parse(&mut Parser::collecting(&mut errors), &value, "connectors.routing");
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    #[test]
    fn a_route_is_a_statement_or_a_condition_in_a_context_the_connector_supports() {
        assert_eq!(
            route_condition("route() where attributes[\"x\"] == 1").as_deref(),
            Some("attributes[\"x\"] == 1")
        );
        assert_eq!(route_condition("route()").as_deref(), Some("true"));
        assert_eq!(route_condition("route() whereas"), None);
        assert_eq!(route_condition("set(x, 1)"), None);
        let errors = config("table: [{context: request, condition: 'request[\"x\"] == \"y\"', pipelines: [traces/a]}]").unwrap_err();
        assert!(
            errors[0].contains("the request context is not supported by this otelbox yet"),
            "{errors:?}"
        );
        let errors = config("table: [{statement: 'route() where attributes[\"x\"] == \"y\"'}]").unwrap_err();
        assert!(
            errors[0].contains("table[0].pipelines: a route needs at least one pipeline"),
            "{errors:?}"
        );
        let errors = config("default_pipelines: [traces/a]").unwrap_err();
        assert!(errors[0].contains("connectors.routing.table: is required"), "{errors:?}");
        assert!(config("table: [{condition: 'attributes[\"x\"] ==', pipelines: [traces/a]}]").is_err());
    }

    fn request(spans: &[(&str, &str, i32)]) -> ExportTraceServiceRequest {
        use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
        use opentelemetry_proto::tonic::trace::v1::{Span, Status};
        let text = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        };
        // One resource per tenant, in order of first appearance.
        let mut request = ExportTraceServiceRequest::default();
        for (tenant, name, status) in spans {
            let span = Span {
                name: name.to_string(),
                status: Some(Status {
                    code: *status,
                    ..Default::default()
                }),
                ..Default::default()
            };
            match request
                .resource_spans
                .iter_mut()
                .find(|rs| rs.resource.as_ref().unwrap().attributes[0] == text("tenant", tenant))
            {
                Some(rs) => rs.scope_spans[0].spans.push(span),
                None => request.resource_spans.push(ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![text("tenant", tenant)],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans: vec![span],
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            }
        }
        request
    }

    fn router(yaml: &str, pipelines: &[&str]) -> (Router, BTreeMap<String, Arc<Sink>>) {
        let sinks: BTreeMap<String, Arc<Sink>> = pipelines.iter().map(|p| (p.to_string(), Arc::new(Sink::default()))).collect();
        let output = ConnectorOutput {
            pipelines: sinks
                .iter()
                .map(|(id, sink)| {
                    (
                        id.clone(),
                        SignalConsumers {
                            traces: Some(sink.clone() as SharedConsumer<_>),
                            ..Default::default()
                        },
                    )
                })
                .collect(),
        };
        let router = Router {
            component: "routing".into(),
            config: config(yaml).expect("valid"),
            output,
            counters: PerSignal::detached("routing"),
        };
        (router, sinks)
    }

    fn names(sink: &Sink) -> Vec<String> {
        sink.received()
            .iter()
            .flat_map(|r| {
                r.resource_spans
                    .iter()
                    .flat_map(|rs| rs.scope_spans.iter().flat_map(|ss| ss.spans.iter().map(|s| s.name.clone())))
            })
            .collect()
    }

    #[tokio::test]
    async fn resources_and_spans_go_to_the_first_matching_route_and_the_rest_to_the_default_pipelines() {
        let yaml = r#"
default_pipelines: [traces/all]
table:
  - statement: route() where attributes["tenant"] == "acme"
    pipelines: [traces/acme]
  - context: span
    condition: status.code == STATUS_CODE_ERROR
    pipelines: [traces/errors]
"#;
        let (router, sinks) = router(yaml, &["traces/all", "traces/acme", "traces/errors"]);
        let (ack, done) = AckToken::new();
        let data = request(&[("acme", "a1", 2), ("globex", "g1", 0), ("globex", "g2", 2), ("acme", "a2", 0)]);
        Consumer::<ExportTraceServiceRequest>::consume(&router, Envelope::new(data, ack))
            .await
            .expect("routed");
        assert_eq!(
            names(&sinks["traces/acme"]),
            ["a1", "a2"],
            "the resource route wins over the later span route"
        );
        assert_eq!(names(&sinks["traces/errors"]), ["g2"]);
        assert_eq!(names(&sinks["traces/all"]), ["g1"]);
        assert!(
            matches!(done.await, Ok(Ok(()))),
            "the sender's ack completes once every part is delivered"
        );
    }

    #[tokio::test]
    async fn without_match_once_an_item_goes_to_every_matching_route() {
        let yaml = r#"
match_once: false
table:
  - statement: route() where attributes["tenant"] == "acme"
    pipelines: [traces/acme]
  - context: span
    condition: status.code == STATUS_CODE_ERROR
    pipelines: [traces/errors]
"#;
        let (router, sinks) = router(yaml, &["traces/acme", "traces/errors"]);
        let data = request(&[("acme", "a1", 2), ("acme", "a2", 0), ("globex", "g1", 0)]);
        Consumer::<ExportTraceServiceRequest>::consume(&router, Envelope::unacked(data))
            .await
            .expect("routed");
        let mut acme = names(&sinks["traces/acme"]);
        acme.sort();
        assert_eq!(acme, ["a1", "a2"]);
        assert_eq!(
            names(&sinks["traces/errors"]),
            ["a1"],
            "a1 went both ways; g1 had no route and no default, so it was dropped"
        );
        assert_eq!(router.counters.traces.dropped.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_failing_condition_refuses_the_payload_under_propagate_and_counts_as_false_under_ignore() {
        let table = "table:\n  - context: span\n    condition: attributes[\"n\"] + 1 > 2\n    pipelines: [traces/a]\ndefault_pipelines: [traces/b]\n";
        let mut data = request(&[("acme", "a1", 0)]);
        use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
        data.resource_spans[0].scope_spans[0].spans[0].attributes.push(KeyValue {
            key: "n".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("x".into())),
            }),
            ..Default::default()
        });
        let (router, _) = router(table, &["traces/a", "traces/b"]);
        assert!(
            Consumer::<ExportTraceServiceRequest>::consume(&router, Envelope::unacked(data.clone()))
                .await
                .is_err()
        );
        let (router, sinks) = router_with(&format!("error_mode: ignore\n{table}"), &["traces/a", "traces/b"]);
        Consumer::<ExportTraceServiceRequest>::consume(&router, Envelope::unacked(data))
            .await
            .expect("ignored");
        assert_eq!(names(&sinks["traces/b"]), ["a1"]);
    }

    fn router_with(yaml: &str, pipelines: &[&str]) -> (Router, BTreeMap<String, Arc<Sink>>) {
        router(yaml, pipelines)
    }
}
