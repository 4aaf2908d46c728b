//! The transform processor: edits spans, span events, metrics, data points, log records,
//! instrumentation scopes and resources with OTTL statements (the Collector's transformprocessor,
//! on otelbox's OTTL subset).
//!
//! ```yaml
//! transform:
//!   error_mode: ignore                  # propagate (default) | ignore | silent
//!   trace_statements:
//!     - context: span                   # resource | scope | span | spanevent
//!       error_mode: propagate           # optional, overrides the top-level mode for this block
//!       conditions: ['kind == SPAN_KIND_SERVER']   # optional, OR-ed: the block runs where one holds
//!       statements:
//!         - set(attributes["env"], "dev") where resource.attributes["service.name"] == "api"
//!     - truncate_all(attributes, 256)   # a plain statement: its context is inferred (below)
//!   metric_statements: [...]            # contexts resource | scope | metric | datapoint
//!   log_statements: [...]               # contexts resource | scope | log
//!   profile_statements: [...]           # checked for shape, then ignored (no profiles signal)
//! ```
//! Blocks run in the order given, each over the whole payload; within a block, every statement
//! runs in order on one item before the next item. A scope block runs once per ScopeSpans,
//! ScopeMetrics or ScopeLogs, on its instrumentation scope (`name`, `version`, `attributes`,
//! `dropped_attributes_count`) and its `schema_url`; a group without a scope gets one only if a
//! statement writes to it, as a resource does.
//!
//! The cache. Each item has a map of its own, `cache` (or `<context>.cache`), while one block runs
//! over it: statements read and write it like attributes, and it starts empty for every item and
//! every block, as the Collector's does. So `merge_maps(log.cache, ParseJSON(log.body), "upsert")`
//! then `set(log.attributes["user"], log.cache["user"])` copies one field of a JSON body. A context
//! reads only its own cache (`resource.cache` is refused in the log context, as in the Collector).
//!
//! Context inference. Like the Collector, a plain statement (or a block without `context`) runs in
//! the most specific context its paths name (`ottl::infer_contexts`): `set(span.attributes["a"],
//! resource.attributes["b"])` on spans, `keep_keys(resource.attributes, ["host.name"])` on
//! resources, `set(scope.attributes["a"], "b")` on scopes, `set(metric.description, "x") where
//! datapoint.attributes["a"] == "b"` on data points.
//! Unprefixed paths are the item's own (`attributes`), so a statement with any keeps the item
//! context of the signal: `span` for trace_statements, `log` for log_statements, and for
//! metric_statements `metric` (name, type, unit, description), else `datapoint` (attributes,
//! metric.name). Each plain statement is inferred on its own; a run of consecutive plain
//! statements inferred to the same context is one block, run item by item, so they share each
//! item's cache (as the Collector's plain statements do). The Collector infers the whole list at
//! once and runs it item by item, which differs only when a later statement changes a resource
//! that an earlier one reads, or when plain statements of one context that use the cache are
//! separated by a statement of another context (each run then has its own cache).
//!
//! Statements are parsed when the config loads; a syntax error is a config error at the
//! statement's path with its column. A run-time error follows the block's `error_mode`:
//! propagate refuses the payload, ignore logs it and goes on with the next statement, silent goes
//! on without a word. A failed statement changes nothing.

use crate::config::{ComponentId, Parser};
use crate::ottl::{
    infer_contexts, parse_condition, parse_statement, Condition, Context, DataPointContext, LogContext, MetricContext, MetricFacts,
    OttlError, ResourceContext, ScopeContext, SpanContext, SpanEventContext, Statement, TransformContext, WithCache, WithResource,
};
use crate::pipeline::ItemProcessor;
use crate::pipeline::PipelineError;
use crate::processor::filter::{any_holds, parse_error_mode};
use crate::processor::ErrorMode;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use serde_yaml_ng::Value;

crate::item_processor_factory!(Factory, "transform", parse, TransformProcessor::new);

/// A block of statements on one context, with its optional guard conditions.
#[derive(Clone, Debug)]
pub struct StatementGroup {
    pub context: Context,
    pub error_mode: ErrorMode,
    /// OR-ed; when not empty, the statements run only on items where one holds.
    pub conditions: Vec<Condition>,
    pub statements: Vec<Statement>,
}

#[derive(Clone, Debug, Default)]
pub struct TransformConfig {
    /// The top-level mode, which blocks without their own inherit.
    pub error_mode: ErrorMode,
    pub trace_statements: Vec<StatementGroup>,
    pub metric_statements: Vec<StatementGroup>,
    pub log_statements: Vec<StatementGroup>,
}

/// What one `<signal>_statements` list admits.
struct Section {
    key: &'static str,
    contexts: &'static [Context],
    /// Candidates for a statement without an explicit context, the first that parses wins.
    inferred: &'static [Context],
}

const TRACES: Section = Section {
    key: "trace_statements",
    contexts: &[Context::Resource, Context::Scope, Context::Span, Context::SpanEvent],
    inferred: &[Context::Span],
};

const METRICS: Section = Section {
    key: "metric_statements",
    contexts: &[Context::Resource, Context::Scope, Context::Metric, Context::DataPoint],
    inferred: &[Context::Metric, Context::DataPoint],
};

const LOGS: Section = Section {
    key: "log_statements",
    contexts: &[Context::Resource, Context::Scope, Context::Log],
    inferred: &[Context::Log],
};

impl Section {
    /// The contexts to try for statements and conditions without an explicit context.
    fn infer(&self, statements: &[(String, String)], conditions: &[(String, String)]) -> Vec<Context> {
        let texts: Vec<&str> = statements.iter().chain(conditions).map(|(_, text)| text.as_str()).collect();
        infer_contexts(&texts, self.contexts, self.inferred)
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> TransformConfig {
    let mut config = TransformConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["error_mode", TRACES.key, METRICS.key, LOGS.key, "profile_statements"], path);
    config.error_mode = parse_error_mode(p, body.get("error_mode"), &format!("{path}.error_mode")).unwrap_or_default();
    let mut section = |section: &Section| {
        let at = format!("{path}.{}", section.key);
        parse_section(p, body.get(section.key), &at, section, config.error_mode)
    };
    config.trace_statements = section(&TRACES);
    config.metric_statements = section(&METRICS);
    config.log_statements = section(&LOGS);
    // No profiles signal in otelbox (profiles pipelines are validated, then skipped): checked for shape, then ignored.
    check_ignored_profile_list(
        p,
        body.get("profile_statements"),
        &format!("{path}.profile_statements"),
        "statements",
    );
    config
}

/// A `profile_statements` (transform) or `profile_conditions` (filter) list, for a signal otelbox
/// does not handle: each entry must be an OTTL text or a block `{context, <texts_key>, ...}` of
/// them, as the Collector would accept it; the texts are not parsed, since the profile context's
/// paths are not otelbox's. `texts_key` is "statements" or "conditions".
pub(crate) fn check_ignored_profile_list(p: &mut Parser, value: Option<&Value>, path: &str, texts_key: &str) {
    let text_kind = texts_key.trim_end_matches('s');
    let mut block_keys = vec!["context", texts_key];
    if texts_key != "conditions" {
        block_keys.push("conditions");
    }
    block_keys.push("error_mode");
    for (at, entry) in p.list(value, path) {
        let body = match entry {
            Value::String(_) => continue,
            Value::Mapping(body) => body,
            _ => {
                p.error(
                    &at,
                    format!("expected an OTTL {text_kind} (a string) or a block with context and {texts_key}"),
                );
                continue;
            }
        };
        p.only_keys(body, &block_keys, &at);
        if let Some(context) = body.get("context").filter(|v| !v.is_null()) {
            p.string(context, &format!("{at}.context"));
        }
        parse_error_mode(p, body.get("error_mode"), &format!("{at}.error_mode"));
        for key in block_keys.iter().copied().filter(|key| *key == texts_key || *key == "conditions") {
            let list_at = format!("{at}.{key}");
            for (item_at, item) in p.list(body.get(key), &list_at) {
                p.string(item, &item_at);
            }
        }
        if body.get(texts_key).is_none_or(|v| v.as_sequence().is_none_or(|s| s.is_empty())) {
            p.error(&at, format!("{texts_key} is required: a list of OTTL {texts_key}"));
        }
    }
}

fn parse_section(p: &mut Parser, value: Option<&Value>, path: &str, section: &Section, error_mode: ErrorMode) -> Vec<StatementGroup> {
    let mut groups: Vec<StatementGroup> = Vec::new();
    // Whether the last group holds plain statements; the next plain statement of its context
    // joins it, so that consecutive plain statements share each item's cache.
    let mut last_is_plain = false;
    for (at, entry) in p.list(value, path) {
        match entry {
            Value::String(text) => {
                let statements = [(at, text.clone())];
                let Some(group) = compile(p, &section.infer(&statements, &[]), &statements, &[], error_mode) else {
                    continue;
                };
                match groups.last_mut() {
                    Some(last) if last_is_plain && last.context == group.context => {
                        last.statements.extend(group.statements);
                    }
                    _ => groups.push(group),
                }
                last_is_plain = true;
            }
            Value::Mapping(_) => {
                groups.extend(parse_block(p, entry, &at, section, error_mode));
                last_is_plain = false;
            }
            _ => p.error(&at, "expected an OTTL statement (a string) or a block with context and statements"),
        }
    }
    groups
}

/// `{context, statements, conditions, error_mode}`.
fn parse_block(p: &mut Parser, value: &Value, path: &str, section: &Section, outer_mode: ErrorMode) -> Option<StatementGroup> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(body, &["context", "statements", "conditions", "error_mode"], path);
    let error_mode = parse_error_mode(p, body.get("error_mode"), &format!("{path}.error_mode")).unwrap_or(outer_mode);
    let context = match body.get("context") {
        None => None,
        Some(v) => Some(parse_context(p, v, &format!("{path}.context"), section)?),
    };
    let texts = |p: &mut Parser, key: &str| -> Vec<(String, String)> {
        let list_path = format!("{path}.{key}");
        p.list(body.get(key), &list_path)
            .into_iter()
            .filter_map(|(at, v)| p.string(v, &at).map(|text| (at, text)))
            .collect()
    };
    let statements = texts(p, "statements");
    let conditions = texts(p, "conditions");
    if body.get("statements").is_none_or(|v| v.as_sequence().is_none_or(|s| s.is_empty())) {
        p.error(path, "statements is required: a list of OTTL statements");
        return None;
    }
    match context {
        Some(context) => compile(p, &[context], &statements, &conditions, error_mode),
        None => compile(p, &section.infer(&statements, &conditions), &statements, &conditions, error_mode),
    }
}

fn parse_context(p: &mut Parser, value: &Value, path: &str, section: &Section) -> Option<Context> {
    let text = p.string(value, path)?;
    let names: Vec<&str> = section.contexts.iter().map(|c| c.as_str()).collect();
    if let Some(context) = section.contexts.iter().find(|c| c.as_str() == text) {
        return Some(*context);
    }
    if text == "instrumentation_scope" {
        p.error(
            path,
            "unknown context 'instrumentation_scope'; the context of instrumentation scopes is written scope",
        );
        return None;
    }
    p.error(
        path,
        format!(
            "unknown context '{text}' for {} (expected one of: {})",
            section.key,
            names.join(", ")
        ),
    );
    None
}

/// The statements and conditions parsed in the first candidate context where all of them
/// parse. When none fits, the errors reported are those of the candidate that got furthest
/// (most texts parsed, then the latest column), the one the author most likely meant.
fn compile(
    p: &mut Parser,
    candidates: &[Context],
    statements: &[(String, String)],
    conditions: &[(String, String)],
    error_mode: ErrorMode,
) -> Option<StatementGroup> {
    let mut best: Option<(Context, Vec<(String, OttlError)>)> = None;
    for &context in candidates {
        let mut errors = Vec::new();
        let parsed_statements: Vec<Statement> = statements
            .iter()
            .filter_map(|(at, text)| parse_statement(text, context).map_err(|e| errors.push((at.clone(), e))).ok())
            .collect();
        let parsed_conditions: Vec<Condition> = conditions
            .iter()
            .filter_map(|(at, text)| parse_condition(text, context).map_err(|e| errors.push((at.clone(), e))).ok())
            .collect();
        if errors.is_empty() {
            return Some(StatementGroup {
                context,
                error_mode,
                conditions: parsed_conditions,
                statements: parsed_statements,
            });
        }
        let further = |old: &Vec<(String, OttlError)>| {
            (errors.len(), std::cmp::Reverse(errors[0].1.column)) < (old.len(), std::cmp::Reverse(old[0].1.column))
        };
        if best.as_ref().is_none_or(|(_, old)| further(old)) {
            best = Some((context, errors));
        }
    }
    for (at, error) in best.map(|(_, errors)| errors).unwrap_or_default() {
        p.error(&at, error);
    }
    None
}

pub struct TransformProcessor {
    component: String,
    config: TransformConfig,
}

impl TransformProcessor {
    pub fn new(id: &ComponentId, config: &TransformConfig) -> Self {
        TransformProcessor {
            component: id.to_string(),
            config: config.clone(),
        }
    }

    /// Runs a block on one item: its guard, then its statements in order, with a cache that
    /// starts empty and lives until the block is done with the item.
    fn run(&self, group: &StatementGroup, item: &mut dyn TransformContext) -> Result<(), PipelineError> {
        let mut cache = Vec::new();
        let mut ctx = WithCache {
            inner: item,
            cache: &mut cache,
        };
        if !group.conditions.is_empty() && !any_holds(&group.conditions, &ctx, group.error_mode, &self.component)? {
            return Ok(());
        }
        for statement in &group.statements {
            if let Err(error) = statement.execute(&mut ctx) {
                group.error_mode.handle(&self.component, statement, &error)?;
            }
        }
        Ok(())
    }

    /// A resource group without a resource gets one only if a statement writes to it.
    fn run_on_resource(&self, group: &StatementGroup, slot: &mut Option<Resource>) -> Result<(), PipelineError> {
        with_resource(slot, |resource| self.run(group, &mut ResourceContext { resource }))
    }

    /// A scope group without a scope gets one only if a statement writes to it.
    fn run_on_scope(
        &self,
        group: &StatementGroup,
        slot: &mut Option<InstrumentationScope>,
        schema_url: &mut String,
        resource: Option<&Resource>,
    ) -> Result<(), PipelineError> {
        let was_absent = slot.is_none();
        let scope = slot.get_or_insert_with(InstrumentationScope::default);
        let result = self.run(group, &mut ScopeContext::new(scope, schema_url, resource));
        if was_absent && slot.as_ref().is_some_and(|s| *s == InstrumentationScope::default()) {
            *slot = None;
        }
        result
    }

    fn run_on_span(&self, group: &StatementGroup, span: &mut Span, ctx: ItemScope<'_>) -> Result<(), PipelineError> {
        if group.context == Context::Span {
            let mut span_ctx = SpanContext {
                span,
                resource: Some(ctx.resource.into()),
                scope: ctx.scope,
            };
            return self.run(group, &mut span_ctx);
        }
        let Span { name, events, .. } = span;
        for event in events {
            let mut event_ctx = SpanEventContext {
                event,
                span_name: name,
                resource: Some((&mut *ctx.resource).into()),
                scope: ctx.scope,
            };
            self.run(group, &mut event_ctx)?;
        }
        Ok(())
    }

    fn run_on_metric(&self, group: &StatementGroup, metric: &mut Metric, ctx: ItemScope<'_>) -> Result<(), PipelineError> {
        if group.context == Context::Metric {
            let mut metric_ctx = WithResource {
                inner: MetricContext { metric },
                resource: Some(ctx.resource.into()),
                scope: ctx.scope,
            };
            return self.run(group, &mut metric_ctx);
        }
        let Metric {
            name,
            description,
            unit,
            data,
            ..
        } = metric;
        let facts = MetricFacts::new(description, unit, Option::as_ref(data));
        macro_rules! points {
            ($points:expr, $make:path) => {
                for point in $points {
                    let mut point_ctx = WithResource {
                        inner: $make(point, name).in_metric(facts),
                        resource: Some((&mut *ctx.resource).into()),
                        scope: ctx.scope,
                    };
                    self.run(group, &mut point_ctx)?;
                }
            };
        }
        match data {
            Some(Data::Gauge(gauge)) => points!(&mut gauge.data_points, DataPointContext::number),
            Some(Data::Sum(sum)) => points!(&mut sum.data_points, DataPointContext::number),
            Some(Data::Histogram(histogram)) => points!(&mut histogram.data_points, DataPointContext::histogram),
            Some(Data::ExponentialHistogram(histogram)) => {
                points!(&mut histogram.data_points, DataPointContext::exponential_histogram)
            }
            Some(Data::Summary(summary)) => points!(&mut summary.data_points, DataPointContext::summary),
            None => {}
        }
        Ok(())
    }
}

/// What a span's or a metric's context reads besides the item: its scope, and its resource, which
/// statements may also write (`set(resource.attributes["k"], ..)` in a span block, as the Collector
/// allows; see `with_resource`).
struct ItemScope<'a> {
    resource: &'a mut Resource,
    scope: Option<&'a InstrumentationScope>,
}

/// Lends `slot`'s resource to `f` for reading and writing: a group without one gets an empty
/// resource for the while, kept only if a statement wrote to it.
fn with_resource<T>(slot: &mut Option<Resource>, f: impl FnOnce(&mut Resource) -> T) -> T {
    let was_absent = slot.is_none();
    let result = f(slot.get_or_insert_with(Resource::default));
    if was_absent && slot.as_ref().is_some_and(|r| *r == Resource::default()) {
        *slot = None;
    }
    result
}

impl ItemProcessor for TransformProcessor {
    fn process_traces(&self, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        for group in &self.config.trace_statements {
            for resource_spans in &mut data.resource_spans {
                if group.context == Context::Resource {
                    self.run_on_resource(group, &mut resource_spans.resource)?;
                    continue;
                }
                if group.context == Context::Scope {
                    let resource = resource_spans.resource.as_ref();
                    for scope_spans in &mut resource_spans.scope_spans {
                        self.run_on_scope(group, &mut scope_spans.scope, &mut scope_spans.schema_url, resource)?;
                    }
                    continue;
                }
                let ResourceSpans { resource, scope_spans, .. } = resource_spans;
                with_resource(resource, |resource| {
                    for scope_spans in scope_spans.iter_mut() {
                        let scope = scope_spans.scope.as_ref();
                        for span in &mut scope_spans.spans {
                            self.run_on_span(
                                group,
                                span,
                                ItemScope {
                                    resource: &mut *resource,
                                    scope,
                                },
                            )?;
                        }
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    fn process_metrics(&self, data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        for group in &self.config.metric_statements {
            for resource_metrics in &mut data.resource_metrics {
                if group.context == Context::Resource {
                    self.run_on_resource(group, &mut resource_metrics.resource)?;
                    continue;
                }
                if group.context == Context::Scope {
                    let resource = resource_metrics.resource.as_ref();
                    for scope_metrics in &mut resource_metrics.scope_metrics {
                        self.run_on_scope(group, &mut scope_metrics.scope, &mut scope_metrics.schema_url, resource)?;
                    }
                    continue;
                }
                let ResourceMetrics {
                    resource, scope_metrics, ..
                } = resource_metrics;
                with_resource(resource, |resource| {
                    for scope_metrics in scope_metrics.iter_mut() {
                        let scope = scope_metrics.scope.as_ref();
                        for metric in &mut scope_metrics.metrics {
                            self.run_on_metric(
                                group,
                                metric,
                                ItemScope {
                                    resource: &mut *resource,
                                    scope,
                                },
                            )?;
                        }
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    fn process_logs(&self, data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        for group in &self.config.log_statements {
            for resource_logs in &mut data.resource_logs {
                if group.context == Context::Resource {
                    self.run_on_resource(group, &mut resource_logs.resource)?;
                    continue;
                }
                if group.context == Context::Scope {
                    let resource = resource_logs.resource.as_ref();
                    for scope_logs in &mut resource_logs.scope_logs {
                        self.run_on_scope(group, &mut scope_logs.scope, &mut scope_logs.schema_url, resource)?;
                    }
                    continue;
                }
                let ResourceLogs { resource, scope_logs, .. } = resource_logs;
                with_resource(resource, |resource| {
                    for scope_logs in scope_logs.iter_mut() {
                        let scope = scope_logs.scope.as_ref();
                        for log in &mut scope_logs.log_records {
                            let mut log_ctx = LogContext {
                                log,
                                resource: Some((&mut *resource).into()),
                                scope,
                            };
                            self.run(group, &mut log_ctx)?;
                        }
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::filter::fixtures::*;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
    use opentelemetry_proto::tonic::metrics::v1::Sum;
    use opentelemetry_proto::tonic::trace::v1::ScopeSpans;

    /// The spec's example, in a full config.
    const SPEC_EXAMPLE: &str = r#"
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:4317 } } }
processors:
  transform:
    error_mode: ignore
    trace_statements:
      - context: span
        statements:
          - set(attributes["env"], "dev") where resource.attributes["service.name"] == "api"
          - replace_pattern(attributes["db.statement"], "'[^']*'", "'?'")
          - truncate_all(attributes, 256)
exporters:
  otelbox: {}
service:
  pipelines:
    traces: { receivers: [otlp], processors: [transform], exporters: [otelbox] }
"#;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn transform_from(yaml: &str, id: &str) -> TransformProcessor {
        let (id, settings) = settings(yaml, id);
        TransformProcessor::new(&id, settings.get())
    }

    fn transform(body: &str) -> TransformProcessor {
        transform_from(&full_config("transform/test", body), "transform/test")
    }

    #[test]
    fn spec_example_tags_masks_and_truncates() {
        let transform = transform_from(SPEC_EXAMPLE, "transform");
        let long = "x".repeat(300);
        let mut data = traces(vec![
            (
                "api",
                vec![span(
                    TRACE,
                    "SELECT users",
                    vec![
                        kv("db.statement", "select * from users where name = 'bob' and pw = 'x'"),
                        kv("long", &long),
                    ],
                )],
            ),
            (
                "worker",
                vec![span(TRACE, "UPDATE t", vec![kv("db.statement", "update t set a = 'q'")])],
            ),
        ]);
        transform.process_traces(&mut data).unwrap();
        let expected = traces(vec![
            (
                "api",
                vec![span(
                    TRACE,
                    "SELECT users",
                    vec![
                        kv("db.statement", "select * from users where name = '?' and pw = '?'"),
                        kv("long", &"x".repeat(256)),
                        kv("env", "dev"),
                    ],
                )],
            ),
            (
                "worker",
                vec![span(TRACE, "UPDATE t", vec![kv("db.statement", "update t set a = '?'")])],
            ),
        ]);
        assert_eq!(data, expected);
    }

    #[test]
    fn blocks_run_in_order_on_every_context_of_traces() {
        let transform = transform(
            r#"    trace_statements:
      - context: resource
        statements: ['set(attributes["deployment.environment"], "prod") where attributes["service.name"] == "api"']
      - context: spanevent
        statements: ['set(attributes["span"], span.name)']
      - context: span
        conditions: ['kind == SPAN_KIND_CLIENT', 'name == "never"']
        statements: ['set(attributes["client"], true)', 'set(name, Concat([name, "out"], " "))']
      - 'set(attributes["seen"], name)'"#,
        );
        let mut server = span(TRACE, "GET /", vec![]);
        server.events = vec![event("exception", vec![])];
        let mut client = span(TRACE, "call", vec![]);
        client.kind = 3;
        let mut data = traces(vec![("api", vec![server.clone(), client.clone()]), ("worker", vec![])]);
        transform.process_traces(&mut data).unwrap();

        server.events = vec![event("exception", vec![kv("span", "GET /")])];
        server.attributes = vec![kv("seen", "GET /")];
        client.name = "call out".into();
        client.attributes = vec![
            kv_any(
                "client",
                opentelemetry_proto::tonic::common::v1::AnyValue {
                    value: Some(opentelemetry_proto::tonic::common::v1::any_value::Value::BoolValue(true)),
                },
            ),
            kv("seen", "call out"),
        ];
        let mut expected = traces(vec![("api", vec![server, client]), ("worker", vec![])]);
        if let Some(resource) = &mut expected.resource_spans[0].resource {
            resource.attributes.push(kv("deployment.environment", "prod"));
        }
        assert_eq!(data, expected);
    }

    #[test]
    fn plain_metric_statements_go_to_the_context_whose_paths_they_use() {
        let transform = transform(
            r#"    metric_statements:
      - set(description, "requests served") where name == "requests"
      - delete_key(attributes, "pod")
      - set(attributes["metric"], metric.name)
      - context: resource
        statements: ['delete_key(attributes, "service.name")']"#,
        );
        let config = &transform.config.metric_statements;
        let contexts: Vec<Context> = config.iter().map(|g| g.context).collect();
        // The two data point statements in a row are one block.
        assert_eq!(contexts, [Context::Metric, Context::DataPoint, Context::Resource]);

        let sum = Metric {
            name: "requests".into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![point(vec![kv("pod", "a"), kv("code", "200")], 7)],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let mut data = metrics(vec![("api", vec![sum.clone(), gauge("cpu", vec![point(vec![kv("pod", "b")], 1)])])]);
        transform.process_metrics(&mut data).unwrap();

        let mut expected_sum = sum;
        expected_sum.description = "requests served".into();
        if let Some(Data::Sum(s)) = &mut expected_sum.data {
            s.data_points[0].attributes = vec![kv("code", "200"), kv("metric", "requests")];
        }
        let mut expected = metrics(vec![(
            "api",
            vec![expected_sum, gauge("cpu", vec![point(vec![kv("metric", "cpu")], 1)])],
        )]);
        if let Some(resource) = &mut expected.resource_metrics[0].resource {
            resource.attributes.clear();
        }
        assert_eq!(data, expected);
    }

    #[test]
    fn log_statements_edit_records_and_bodies() {
        let transform = transform(
            r#"    log_statements:
      - set(severity_text, "WARN") where severity_number == SEVERITY_NUMBER_WARN
      - context: log
        statements: ['replace_pattern(body, "password=[^ ]+", "password=***")', 'keep_keys(attributes, ["user"])']"#,
        );
        let mut data = logs(vec![(
            "api",
            vec![
                log(13, "login password=hunter2 ok", vec![kv("user", "bob"), kv("token", "t")]),
                log(9, "plain", vec![]),
            ],
        )]);
        transform.process_logs(&mut data).unwrap();
        let mut warn = log(13, "login password=*** ok", vec![kv("user", "bob")]);
        warn.severity_text = "WARN".into();
        assert_eq!(data, logs(vec![("api", vec![warn, log(9, "plain", vec![])])]));
    }

    #[test]
    fn a_missing_resource_stays_missing_unless_written() {
        let transform = transform(
            r#"    trace_statements:
      - context: resource
        statements: ['set(attributes["a"], "b") where attributes["service.name"] == "api"', 'delete_key(attributes, "x")']"#,
        );
        let mut data = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans::default()],
        };
        transform.process_traces(&mut data).unwrap();
        assert_eq!(data.resource_spans[0].resource, None);

        let writes = transform_body_resource_set();
        writes.process_traces(&mut data).unwrap();
        let expected = Resource {
            attributes: vec![kv("a", "b")],
            ..Default::default()
        };
        assert_eq!(data.resource_spans[0].resource, Some(expected));
    }

    fn transform_body_resource_set() -> TransformProcessor {
        transform("    trace_statements:\n      - context: resource\n        statements: ['set(attributes[\"a\"], \"b\")']")
    }

    /// The first statement fails on spans whose `n` is an int.
    fn failing(mode: &str) -> TransformProcessor {
        transform(&format!(
            "    error_mode: {mode}\n    trace_statements:\n      - 'set(name, attributes[\"n\"])'\n      - 'set(attributes[\"after\"], \"yes\")'"
        ))
    }

    fn error_input() -> ExportTraceServiceRequest {
        traces(vec![(
            "api",
            vec![span(TRACE, "a", vec![kv("n", "renamed")]), span(TRACE, "b", vec![kv_int("n", 5)])],
        )])
    }

    #[test]
    fn error_mode_propagate_refuses_the_payload() {
        let mut data = error_input();
        let error = failing("propagate").process_traces(&mut data).unwrap_err();
        assert_eq!(
            error,
            PipelineError::permanent("transform/test: set(name, attributes[\"n\"]): column 5: name expects a string, got an int")
        );
    }

    #[test]
    fn error_mode_ignore_and_silent_go_on_with_the_next_statement() {
        for mode in ["ignore", "silent"] {
            let mut data = error_input();
            failing(mode).process_traces(&mut data).unwrap();
            let expected = traces(vec![(
                "api",
                vec![
                    span(TRACE, "renamed", vec![kv("n", "renamed"), kv("after", "yes")]),
                    span(TRACE, "b", vec![kv_int("n", 5), kv("after", "yes")]),
                ],
            )]);
            assert_eq!(data, expected, "{mode}");
        }
    }

    #[test]
    fn a_block_error_mode_overrides_the_top_level_one() {
        let transform = transform(
            r#"    error_mode: ignore
    trace_statements:
      - context: span
        error_mode: propagate
        conditions: ['attributes["n"] * 2 > 1']
        statements: ['set(attributes["big"], true)']"#,
        );
        let mut data = error_input();
        let error = transform.process_traces(&mut data).unwrap_err();
        assert_eq!(
            error,
            PipelineError::permanent(
                "transform/test: attributes[\"n\"] * 2 > 1: column 17: cannot multiply a string and an int; arithmetic needs ints or floats"
            )
        );
    }

    #[test]
    fn config_errors_name_the_statement_and_column() {
        let errors = config_errors(&full_config(
            "transform/test",
            r#"    error_mode: sometimes
    trace_statements:
      - context: span
        statements: ['set(attributes["a"], 1)', 'set(attributes["b"] "x")']
      - context: scope
        statements: ['set(nmae, "x")']
      - context: log
        statements: ['set(attributes["a"], 1)']
      - context: span
      - 'set(nme, "x")'
      - 42
      - context: span
        statements: ['set(attributes["a"], 1)']
        conditions: ['kind = 2']
        when: always
    metric_statements:
      - set(attributes["k"], atributes["j"])
    log_statements:
      - set(resource.attributes["x"], log.body)
    span_statements: []"#,
        ));
        assert_eq!(
            errors,
            [
                "processors.transform/test.span_statements: unknown key (expected one of: error_mode, trace_statements, metric_statements, \
                 log_statements, profile_statements)",
                "processors.transform/test.error_mode: expected propagate, ignore or silent, got 'sometimes'",
                "processors.transform/test.trace_statements[0].statements[1]: column 21: expected ',' or ')' after argument 1 of set, found string \"x\"",
                "processors.transform/test.trace_statements[1].statements[0]: column 5: unknown path 'nmae' in the scope context; \
                 expected one of name, version, attributes[...], dropped_attributes_count, schema_url, resource.attributes[...], \
                 resource.dropped_attributes_count",
                "processors.transform/test.trace_statements[2].context: unknown context 'log' for trace_statements (expected one of: \
                 resource, scope, span, spanevent)",
                "processors.transform/test.trace_statements[3]: statements is required: a list of OTTL statements",
                "processors.transform/test.trace_statements[4]: column 5: unknown path 'nme' in the span context; expected one of name, kind, \
                 status.code, status.message, attributes[...], resource.attributes[...], resource.dropped_attributes_count, \
                 instrumentation_scope.name, trace_id.string, span_id.string, parent_span_id.string, start_time_unix_nano, end_time_unix_nano",
                "processors.transform/test.trace_statements[5]: expected an OTTL statement (a string) or a block with context and statements",
                "processors.transform/test.trace_statements[6].when: unknown key (expected one of: context, statements, conditions, error_mode)",
                "processors.transform/test.trace_statements[6].conditions[0]: column 6: unexpected '='; compare with '=='",
                "processors.transform/test.metric_statements[0]: column 22: unknown path 'atributes' in the datapoint context; \
                 expected one of attributes[...], metric.name, metric.description, metric.unit, metric.type, resource.attributes[...], \
                 resource.dropped_attributes_count, instrumentation_scope.name",
            ]
        );
    }

    /// The OpenTelemetry demo's `transform/sanitize_logs`, as written there: a scope block that
    /// renames the scope attribute `otelcol.signal` to `otelcol_signal` unless it is a map.
    #[test]
    fn demo_sanitize_logs_renames_otelcol_signal_on_each_scope() {
        let id = "transform/sanitize_logs";
        let transform = transform_from(
            &full_config(
                id,
                r#"    error_mode: ignore
    log_statements:
      - context: scope
        statements:
          - set(attributes["otelcol_signal"], attributes["otelcol.signal"]) where attributes["otelcol.signal"] != nil and not IsMap(attributes["otelcol.signal"])
          - delete_key(attributes, "otelcol.signal") where attributes["otelcol_signal"] != nil"#,
            ),
            id,
        );
        let as_map = kv_any(
            "otelcol.signal",
            AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![kv("name", "logs")],
                })),
            },
        );
        let input = |scope_attributes: [Vec<KeyValue>; 3]| {
            let mut data = logs(vec![
                ("api", vec![log(9, "a", vec![kv("otelcol.signal", "record")])]),
                ("worker", vec![log(9, "b", vec![])]),
                ("db", vec![log(9, "c", vec![])]),
            ]);
            for (group, attributes) in data.resource_logs.iter_mut().zip(scope_attributes) {
                group.scope_logs[0].scope.as_mut().unwrap().attributes = attributes;
            }
            data
        };
        let mut data = input([
            vec![kv("otelcol.signal", "logs"), kv("other", "x")],
            vec![as_map.clone()],
            vec![kv("other", "y")],
        ]);
        transform.process_logs(&mut data).unwrap();
        // The log record's own attribute is not the scope's: it stays.
        let expected = input([
            vec![kv("other", "x"), kv("otelcol_signal", "logs")],
            vec![as_map],
            vec![kv("other", "y")],
        ]);
        assert_eq!(data, expected);
    }

    /// The OpenTelemetry demo's `transform/sanitize_spans`: Next.js names server spans by raw
    /// path; `set_semconv_span_name` renames them by route and keeps the old name.
    #[test]
    fn demo_sanitize_spans_names_spans_by_their_semantic_conventions() {
        let transform = transform(
            r#"    error_mode: ignore
    trace_statements:
      - context: span
        statements:
          - set_semconv_span_name("1.43.0", "original_span_name")"#,
        );
        let mut server = span(
            "01",
            "GET /api/products/OLJCESPC7Z",
            vec![kv("http.request.method", "GET"), kv("http.route", "/api/products/[productId]")],
        );
        server.kind = 2;
        let mut data = traces(vec![("frontend", vec![server])]);
        transform.process_traces(&mut data).unwrap();
        let renamed = &data.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(renamed.name, "GET /api/products/[productId]");
        assert_eq!(
            renamed.attributes.last().unwrap(),
            &kv("original_span_name", "GET /api/products/OLJCESPC7Z")
        );
        let errors = config_errors(&full_config(
            "transform/test",
            "    trace_statements:\n      - context: span\n        statements: ['set_semconv_span_name(\"1.20.0\")']\n      - context: spanevent\n        statements: ['set_semconv_span_name(\"1.43.0\")']",
        ));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("unsupported semantic conventions version \"1.20.0\""),
            "{errors:?}"
        );
        assert!(errors[1].contains("runs in the span context only"), "{errors:?}");
    }

    /// The Collector lets span and log statements write `resource.attributes` (New Relic's
    /// Kubernetes config truncates them from a span block): the change holds for the whole group,
    /// and a group without a resource gets one only when a statement writes to it.
    #[test]
    fn span_and_log_statements_write_their_resource() {
        let transform = transform(
            r#"    trace_statements:
      - context: span
        statements:
          - truncate_all(resource.attributes, 3)
          - set(resource.attributes["first.span"], name) where resource.attributes["first.span"] == nil
    log_statements:
      - context: log
        statements:
          - set(resource.attributes["severity.seen"], severity_number) where severity_number > 10"#,
        );
        let mut data = traces(vec![(
            "checkout",
            vec![span("01", "GET /cart", vec![]), span("02", "POST /pay", vec![])],
        )]);
        transform.process_traces(&mut data).unwrap();
        let attributes = &data.resource_spans[0].resource.as_ref().unwrap().attributes;
        // Statements run span by span on the one shared resource: the second span's truncation
        // reaches what the first span's statement wrote.
        assert_eq!(attributes, &[kv("service.name", "che"), kv("first.span", "GET")]);

        let mut data = logs(vec![("api", vec![log(9, "quiet", vec![]), log(17, "loud", vec![])])]);
        data.resource_logs[0].resource = None;
        transform.process_logs(&mut data).unwrap();
        let resource = data.resource_logs[0].resource.as_ref().expect("written, so created");
        assert_eq!(resource.attributes, [kv_int("severity.seen", 17)]);

        let mut data = logs(vec![("api", vec![log(9, "quiet", vec![])])]);
        data.resource_logs[0].resource = None;
        transform.process_logs(&mut data).unwrap();
        assert_eq!(data.resource_logs[0].resource, None, "nothing written: still absent");
    }

    /// A scope block runs once per scope group (the name grows by one suffix, though the group
    /// has two spans), reads the group's resource, and leaves an absent scope absent unless a
    /// statement writes to it.
    #[test]
    fn scope_blocks_edit_each_scope_of_traces_and_metrics_once() {
        let transform = transform(
            r#"    trace_statements:
      - context: scope
        statements:
          - set(attributes["service"], resource.attributes["service.name"]) where resource.attributes["service.name"] != nil
          - set(name, Concat([name, "traces"], "/")) where name != ""
          - set(version, "1.0") where name == "io.opentelemetry.http/traces"
          - set(schema_url, "https://opentelemetry.io/schemas/1.26.0") where version == "1.0"
    metric_statements:
      - set(scope.attributes["signal"], "metrics")
      - set(instrumentation_scope.dropped_attributes_count, 3)"#,
        );
        assert_eq!(transform.config.metric_statements.len(), 1);
        assert_eq!(transform.config.metric_statements[0].context, Context::Scope);

        let mut data = traces(vec![("api", vec![span(TRACE, "a", vec![]), span(TRACE, "b", vec![])])]);
        data.resource_spans.push(ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span(TRACE, "c", vec![])],
                ..Default::default()
            }],
            ..Default::default()
        });
        let mut expected = data.clone();
        transform.process_traces(&mut data).unwrap();
        expected.resource_spans[0].scope_spans[0].scope = Some(InstrumentationScope {
            name: "io.opentelemetry.http/traces".into(),
            version: "1.0".into(),
            attributes: vec![kv("service", "api")],
            dropped_attributes_count: 0,
        });
        expected.resource_spans[0].scope_spans[0].schema_url = "https://opentelemetry.io/schemas/1.26.0".into();
        assert_eq!(data, expected);

        let mut data = metrics(vec![("api", vec![gauge("cpu", vec![point(vec![], 1)])])]);
        let mut expected = data.clone();
        transform.process_metrics(&mut data).unwrap();
        if let Some(scope) = &mut expected.resource_metrics[0].scope_metrics[0].scope {
            scope.attributes.push(kv("signal", "metrics"));
            scope.dropped_attributes_count = 3;
        }
        assert_eq!(data, expected);
    }

    #[test]
    fn plain_statements_on_scope_paths_only_run_on_scopes() {
        let transform = transform(
            r#"    log_statements:
      - set(scope.attributes["a"], "b")
      - set(log.attributes["scope"], scope.name)
      - set(attributes["version"], instrumentation_scope.name)
      - keep_keys(instrumentation_scope.attributes, ["a"])"#,
        );
        let contexts: Vec<Context> = transform.config.log_statements.iter().map(|g| g.context).collect();
        assert_eq!(contexts, [Context::Scope, Context::Log, Context::Scope]);
    }

    /// The Collector's basic config style: plain statements whose paths name their contexts run
    /// in the most specific one named, and a statement on resource paths only runs on resources.
    #[test]
    fn prefixed_plain_statements_run_in_the_context_they_name() {
        let transform = transform(
            r#"    trace_statements:
      - keep_keys(span.attributes, ["http.route"])
      - set(span.attributes["svc"], resource.attributes["service.name"]) where span.name == "GET /"
    metric_statements:
      - set(resource.attributes["k8s.cluster.name"], "prod")
      - set(metric.description, "Sum") where metric.type == METRIC_DATA_TYPE_SUM
      - convert_sum_to_gauge() where metric.name == "requests"
      - set(datapoint.attributes["cluster"], resource.attributes["k8s.cluster.name"]) where metric.type == METRIC_DATA_TYPE_GAUGE
    log_statements:
      - set(log.severity_text, "FAIL") where log.body == "request failed"
      - replace_all_matches(log.attributes, "/user/*/list/*", "/user/{userId}/list/{listId}")"#,
        );
        let contexts = |groups: &[StatementGroup]| groups.iter().map(|g| g.context).collect::<Vec<_>>();
        // Plain statements in a row inferred to one context are one block.
        assert_eq!(contexts(&transform.config.trace_statements), [Context::Span]);
        assert_eq!(
            contexts(&transform.config.metric_statements),
            [Context::Resource, Context::Metric, Context::DataPoint]
        );
        assert_eq!(contexts(&transform.config.log_statements), [Context::Log]);

        let mut data = traces(vec![(
            "api",
            vec![span(TRACE, "GET /", vec![kv("http.route", "/"), kv("token", "t")])],
        )]);
        transform.process_traces(&mut data).unwrap();
        let expected = traces(vec![(
            "api",
            vec![span(TRACE, "GET /", vec![kv("http.route", "/"), kv("svc", "api")])],
        )]);
        assert_eq!(data, expected);

        let requests = Metric {
            name: "requests".into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![point(vec![], 7)],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let mut data = metrics(vec![("api", vec![requests, gauge("cpu", vec![point(vec![], 1)])])]);
        transform.process_metrics(&mut data).unwrap();
        let mut requests_as_gauge = gauge("requests", vec![point(vec![kv("cluster", "prod")], 7)]);
        requests_as_gauge.description = "Sum".into();
        let mut expected = metrics(vec![(
            "api",
            vec![requests_as_gauge, gauge("cpu", vec![point(vec![kv("cluster", "prod")], 1)])],
        )]);
        if let Some(resource) = &mut expected.resource_metrics[0].resource {
            resource.attributes.push(kv("k8s.cluster.name", "prod"));
        }
        assert_eq!(data, expected);

        let mut data = logs(vec![(
            "api",
            vec![
                log(17, "request failed", vec![kv("path", "/user/7/list/9")]),
                log(9, "ok", vec![kv("path", "/health")]),
            ],
        )]);
        transform.process_logs(&mut data).unwrap();
        let mut failed = log(17, "request failed", vec![kv("path", "/user/{userId}/list/{listId}")]);
        failed.severity_text = "FAIL".into();
        assert_eq!(data, logs(vec![("api", vec![failed, log(9, "ok", vec![kv("path", "/health")])])]));
    }

    /// The Collector's way to lift fields out of a JSON body: parse it into the record's cache
    /// once, then copy what is wanted. The cache starts empty for the next record.
    #[test]
    fn a_json_body_reaches_attributes_through_the_cache_of_each_record() {
        let transform = transform(
            r#"    log_statements:
      - merge_maps(log.cache, ParseJSON(log.body), "upsert") where IsMatch(log.body, "^\\{")
      - set(log.attributes["user"], log.cache["user"])
      - set(log.attributes["status"], log.cache["status"])"#,
        );
        assert_eq!(
            transform.config.log_statements.len(),
            1,
            "plain statements of one context in a row are one block"
        );
        let mut data = logs(vec![(
            "api",
            vec![
                log(9, r#"{"user": "alice", "status": 200}"#, vec![]),
                log(17, r#"{"status": 500}"#, vec![]),
                log(13, "user=carol status=404", vec![kv("user", "carol")]),
            ],
        )]);
        transform.process_logs(&mut data).unwrap();

        let float = |key: &str, value: f64| {
            kv_any(
                key,
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(value)),
                },
            )
        };
        let expected = logs(vec![(
            "api",
            vec![
                log(
                    9,
                    r#"{"user": "alice", "status": 200}"#,
                    vec![kv("user", "alice"), float("status", 200.0)],
                ),
                // No user: nothing of alice's record is left in the cache.
                log(17, r#"{"status": 500}"#, vec![float("status", 500.0)]),
                log(13, "user=carol status=404", vec![kv("user", "carol")]),
            ],
        )]);
        assert_eq!(data, expected);
    }

    #[test]
    fn the_cache_starts_empty_for_every_item_and_every_block() {
        let transform = transform(
            r#"    trace_statements:
      - context: span
        statements:
          - 'set(attributes["left_by_previous_span"], cache["name"])'
          - 'set(cache["name"], name)'
          - 'set(attributes["own"], cache["name"])'
      - context: span
        statements: ['set(attributes["left_by_previous_block"], span.cache["name"])']
      - context: resource
        statements: ['set(cache["service"], attributes["service.name"])', 'set(attributes["copy"], resource.cache["service"])']"#,
        );
        let mut data = traces(vec![("api", vec![span(TRACE, "a", vec![]), span(TRACE, "b", vec![])])]);
        transform.process_traces(&mut data).unwrap();

        let mut expected = traces(vec![(
            "api",
            vec![span(TRACE, "a", vec![kv("own", "a")]), span(TRACE, "b", vec![kv("own", "b")])],
        )]);
        if let Some(resource) = &mut expected.resource_spans[0].resource {
            resource.attributes.push(kv("copy", "api"));
        }
        assert_eq!(data, expected);
    }

    #[test]
    fn a_context_cannot_read_the_cache_of_another() {
        let errors = config_errors(&full_config(
            "transform/test",
            r#"    log_statements:
      - context: log
        statements: ['set(attributes["env"], resource.cache["env"])']"#,
        ));
        assert_eq!(
            errors,
            [
                "processors.transform/test.log_statements[0].statements[0]: column 24: 'resource.cache' is the cache of the \
              resource context, which the log context cannot read; each context has its own cache: write log.cache or cache"
            ]
        );
    }

    /// otelbox has no profiles signal; configs written for the Collector still load.
    #[test]
    fn profile_statements_and_profile_conditions_are_accepted_and_ignored() {
        let transform = transform(
            r#"    profile_statements:
      - set(profile.attributes["tag"], "profile23")
      - context: profile
        error_mode: ignore
        conditions: ['profile.duration_unix_nano > 0']
        statements: ['keep_keys(resource.attributes, ["host.name"])']
    log_statements:
      - set(log.attributes["kept"], "yes")"#,
        );
        assert_eq!(transform.config.log_statements.len(), 1);
        assert!(transform.config.trace_statements.is_empty() && transform.config.metric_statements.is_empty());

        let filter = full_config(
            "filter/test",
            r#"    profile_conditions:
      - 'profile.duration_unix_nano > 1000'
      - context: profile
        error_mode: silent
        conditions: ['IsMatch(profile.attributes["k"], "x")']
    log_conditions: ['log.severity_number < SEVERITY_NUMBER_WARN']"#,
        );
        let (id, _) = settings(&filter, "filter/test");
        assert_eq!(id.to_string(), "filter/test");
        // The older `profiles: { profile: [...] }` form (the OpenTelemetry demo's), likewise.
        let demo = full_config(
            "filter/sanitize_profiles",
            r#"    error_mode: ignore
    profiles:
      profile:
        - 'IsMatch(resource.attributes["service.name"], "containerd-shim-.*")'"#,
        );
        let (id, _) = settings(&demo, "filter/sanitize_profiles");
        assert_eq!(id.to_string(), "filter/sanitize_profiles");
    }

    #[test]
    fn profile_lists_must_hold_texts_or_blocks_of_them() {
        let errors = config_errors(&full_config(
            "transform/test",
            r#"    profile_statements:
      - 42
      - context: profile
      - statements: [1]
        error_mode: sometimes
        when: always"#,
        ));
        assert_eq!(
            errors,
            [
                "processors.transform/test.profile_statements[0]: expected an OTTL statement (a string) or a block with context and \
                 statements",
                "processors.transform/test.profile_statements[1]: statements is required: a list of OTTL statements",
                "processors.transform/test.profile_statements[2].when: unknown key (expected one of: context, statements, conditions, \
                 error_mode)",
                "processors.transform/test.profile_statements[2].error_mode: expected propagate, ignore or silent, got 'sometimes'",
                "processors.transform/test.profile_statements[2].statements[0]: expected a string, got a number",
            ]
        );
        let errors = config_errors(&full_config(
            "filter/test",
            r#"    profile_conditions:
      - context: profile
        statements: ['profile.duration_unix_nano > 1000']
    log_conditions: ['log.severity_number < SEVERITY_NUMBER_WARN']"#,
        ));
        assert_eq!(
            errors,
            [
                "processors.filter/test.profile_conditions[0].statements: unknown key (expected one of: context, conditions, error_mode)",
                "processors.filter/test.profile_conditions[0]: conditions is required: a list of OTTL conditions",
            ]
        );
    }
}
