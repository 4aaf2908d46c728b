//! The filter processor: drops resources, scopes, spans, span events, metrics, data points and
//! log records for which an OTTL condition holds, or that the legacy include/exclude matching
//! selects (the Collector's filterprocessor).
//!
//! ```yaml
//! filter/noise:
//!   error_mode: ignore          # propagate (default) | ignore | silent
//!   trace_conditions:           # each condition's context is inferred from its paths (below)
//!     - 'resource.attributes["deployment.environment"] == "test"'   # drops whole resources
//!     - 'span.attributes["http.route"] == "/health"'                # drops spans
//!     - 'spanevent.name == "debug"'                                 # drops span events
//!   metric_conditions:          # or blocks, each with its own context and error mode
//!     - { context: datapoint, error_mode: silent, conditions: ['attributes["env"] == "test"'] }
//!   log_conditions: ['log.severity_number < SEVERITY_NUMBER_WARN']
//!   traces:  { resource: [...], span: [...], spanevent: [...] }     # the older lists, one context each
//!   metrics: { resource: [...], metric: [...], datapoint: [...] }
//!   logs:    { resource: [...], log_record: [...] }
//! ```
//! Context inference (the Collector's `<signal>_conditions`, since v0.146). A plain condition
//! runs in the finest context its paths name: `resource` < `scope` < `span` < `spanevent` for
//! traces, `resource` < `scope` < `metric` < `datapoint` for metrics, `resource` < `scope` <
//! `log` for logs; so `resource.attributes["a"] == "b" or spanevent.name == "c"` drops span
//! events only. Every path of such a condition names its context (`span.name`, not `name`). A
//! block `{context, conditions, error_mode}` with a context reads unprefixed paths as that
//! context's own; without one, each of its conditions is inferred. Plain conditions and blocks
//! cannot be mixed in one list, as in the Collector.
//!
//! Each list entry (all the plain conditions together, or one block; or the `traces`, `metrics`
//! or `logs` lists) is a group, run over the whole payload in order, from the resource down: a
//! dropped resource's scopes and spans are never judged, a dropped span's events neither. The
//! conditions of a level are OR-ed: the first that holds drops the item. A metric left without
//! data points goes too; a span left without events stays. Scope and resource groups left empty
//! are removed, as the Collector does. The items counted as dropped (by `Inline`) are spans, data
//! points and log records; span events are parts of a span, not items.
//!
//! Every condition is parsed when the config loads, so a syntax error never reaches run time. An
//! error while evaluating (say, arithmetic on a string attribute) follows the group's
//! `error_mode`: propagate refuses the payload; ignore and silent count that condition as false
//! and go on to the next.
//!
//! The legacy include/exclude matching (`spans`, `metrics.include`/`exclude`,
//! `logs.include`/`exclude`) uses the attributes processor's matchers: an item goes when an
//! include block does not match it or an exclude block does. A metric block judges metric names
//! and resource attributes separately (without `metric_names` it keeps every metric of a
//! resource it keeps), as the Collector does; `match_type: expr` is refused by name. As in the
//! Collector, a signal's include/exclude cannot be mixed with its OTTL lists; otelbox also
//! refuses `spans` next to `trace_conditions`, which the Collector would silently ignore.
//!
//! A scope condition runs once per scope group in OTTL's scope context, reading the scope's name,
//! version, attributes, dropped_attributes_count and schema_url, and its resource; when it holds,
//! the group goes with all its items.
//!
//! Where otelbox's OTTL falls short of the Collector's contexts: its span, span event and log
//! contexts read only `scope.name` of their scope, so an item condition naming another scope path
//! is refused with a hint to give the scope part a condition of its own; and its metric and data
//! point contexts read neither resource nor scope, so a metric or data point condition naming
//! them is refused with the same hint.

use crate::config::{ComponentId, Parser};
use crate::ottl::{
    parse_condition, Condition, Context, DataPointContext, LogContext, MetricContext, MetricFacts, OttlError, ResourceContext,
    ScopeContext, SpanContext, SpanEventContext, TransformContext, WithResource,
};
use crate::pipeline::ItemProcessor;
use crate::pipeline::PipelineError;
use crate::processor::attributes::{
    attribute_matchers, parse_match_properties, severity_number_matcher, text_matchers, AttributeMatcher, Item, MatchProperties, MatchType,
    Subject, TextMatcher,
};
use crate::processor::ErrorMode;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde_yaml_ng::{Mapping, Value};

crate::item_processor_factory!(Factory, "filter", parse, FilterProcessor::new);

/// The parsed settings.
#[derive(Clone, Debug, Default)]
pub struct FilterConfig {
    /// Run in order, each over the whole payload.
    pub traces: Vec<ConditionGroup>,
    pub metrics: Vec<ConditionGroup>,
    pub logs: Vec<ConditionGroup>,
    /// The legacy matching of `spans`.
    pub spans: IncludeExclude<MatchProperties>,
    /// The legacy matching of `metrics.include` and `metrics.exclude`.
    pub metric_match: IncludeExclude<MetricMatch>,
    /// The legacy matching of `logs.include` and `logs.exclude`.
    pub log_match: IncludeExclude<MatchProperties>,
}

/// Drop conditions sorted by the level they judge, and the error mode they run under.
#[derive(Clone, Debug, Default)]
pub struct ConditionGroup {
    pub error_mode: ErrorMode,
    pub resource: Vec<DropCondition>,
    pub scope: Vec<DropCondition>,
    /// Spans, metrics or log records.
    pub item: Vec<DropCondition>,
    /// Span events or data points.
    pub part: Vec<DropCondition>,
}

impl ConditionGroup {
    fn new(error_mode: ErrorMode) -> Self {
        ConditionGroup {
            error_mode,
            ..ConditionGroup::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.resource.is_empty() && self.scope.is_empty() && self.item.is_empty() && self.part.is_empty()
    }

    fn level_mut(&mut self, level: Level) -> &mut Vec<DropCondition> {
        match level {
            Level::Resource => &mut self.resource,
            Level::Scope => &mut self.scope,
            Level::Item => &mut self.item,
            Level::Part => &mut self.part,
        }
    }
}

/// A parsed condition and the text it was written as. The context names of an inferred
/// condition are resolved before parsing (`span.name` is parsed as `name`); `shifts` maps
/// columns of the parsed text back to the written one, for messages.
#[derive(Clone, Debug)]
pub struct DropCondition {
    condition: Condition,
    written: String,
    shifts: Vec<Shift>,
}

impl DropCondition {
    fn as_written(condition: Condition) -> Self {
        DropCondition {
            written: condition.to_string(),
            condition,
            shifts: Vec::new(),
        }
    }

    /// Whether the condition holds; an evaluation error fails under `propagate` and counts as
    /// false otherwise, as in the Collector's condition sequences.
    fn holds(&self, ctx: &dyn TransformContext, mode: ErrorMode, component: &str) -> Result<bool, PipelineError> {
        match self.condition.evaluate(ctx) {
            Ok(holds) => Ok(holds),
            Err(error) => {
                let error = OttlError {
                    column: written_column(&self.shifts, error.column),
                    message: error.message,
                };
                mode.handle(component, &self.written, &error)?;
                Ok(false)
            }
        }
    }
}

/// A path the context resolution rewrote: where it starts and how many chars it has, as written
/// and as parsed.
#[derive(Clone, Copy, Debug)]
struct Shift {
    written: usize,
    written_len: usize,
    parsed: usize,
    parsed_len: usize,
}

/// The 1-based column in the written text of a column in the parsed text; a column inside a
/// rewritten path is the start of that path.
fn written_column(shifts: &[Shift], column: usize) -> usize {
    let at = column.saturating_sub(1);
    let mut written = at;
    for shift in shifts {
        if at < shift.parsed {
            break;
        }
        if at < shift.parsed + shift.parsed_len {
            return shift.written + 1;
        }
        written = at - (shift.parsed + shift.parsed_len) + shift.written + shift.written_len;
    }
    written + 1
}

/// The legacy `include` and `exclude` blocks of one signal.
#[derive(Clone, Debug, Default)]
pub struct IncludeExclude<M> {
    pub include: Option<M>,
    pub exclude: Option<M>,
}

impl<M> IncludeExclude<M> {
    fn is_empty(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }

    /// Whether an item goes: an include block does not match it, or an exclude block does.
    /// `matches` says None where a block does not judge such items.
    fn drops(&self, matches: impl Fn(&M) -> Option<bool>) -> bool {
        let judged = |block: &Option<M>| block.as_ref().and_then(&matches);
        judged(&self.include) == Some(false) || judged(&self.exclude) == Some(true)
    }
}

/// A legacy metric block: metric names and resource attributes, judged separately.
#[derive(Clone, Debug, Default)]
pub struct MetricMatch {
    /// Any of them matches the metric name; empty: the block does not judge metrics.
    pub metric_names: Vec<TextMatcher>,
    /// All of them match the resource attributes; empty: the block does not judge resources.
    pub resource_attributes: Vec<AttributeMatcher>,
}

impl MetricMatch {
    fn resource_matches(&self, resource: Option<&Resource>) -> Option<bool> {
        if self.resource_attributes.is_empty() {
            return None;
        }
        let attributes = resource.map(|r| r.attributes.as_slice()).unwrap_or_default();
        Some(self.resource_attributes.iter().all(|m| m.matches(attributes)))
    }

    fn name_matches(&self, name: &str) -> Option<bool> {
        (!self.metric_names.is_empty()).then(|| self.metric_names.iter().any(|m| m.matches(name)))
    }
}

// ---------------------------------------------------------------------------------------------
// Signals and levels

/// How deep in a signal's tree a condition judges, from the top: the Collector's contexts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Resource,
    Scope,
    /// A span, metric or log record.
    Item,
    /// A span event or data point.
    Part,
}

/// What one signal's lists admit.
struct Signal {
    /// The key of its context-inferred list.
    conditions_key: &'static str,
    /// The context names of its item and of the item's parts.
    item: &'static str,
    part: Option<&'static str>,
    /// The keys of the item's and parts' lists under `traces`, `metrics` or `logs`.
    legacy_item_key: &'static str,
    legacy_part_key: Option<&'static str>,
    item_context: Context,
    part_context: Option<Context>,
    /// Whether otelbox's item and part contexts read the resource and scope (span, span event
    /// and log contexts do; metric and data point contexts do not).
    reads_parents: bool,
}

const TRACES: Signal = Signal {
    conditions_key: "trace_conditions",
    item: "span",
    part: Some("spanevent"),
    legacy_item_key: "span",
    legacy_part_key: Some("spanevent"),
    item_context: Context::Span,
    part_context: Some(Context::SpanEvent),
    reads_parents: true,
};

const METRICS: Signal = Signal {
    conditions_key: "metric_conditions",
    item: "metric",
    part: Some("datapoint"),
    legacy_item_key: "metric",
    legacy_part_key: Some("datapoint"),
    item_context: Context::Metric,
    part_context: Some(Context::DataPoint),
    reads_parents: false,
};

const LOGS: Signal = Signal {
    conditions_key: "log_conditions",
    item: "log",
    part: None,
    legacy_item_key: "log_record",
    legacy_part_key: None,
    item_context: Context::Log,
    part_context: None,
    reads_parents: true,
};

/// Every context name the Collector knows, to tell a context of another signal from a path.
const CONTEXT_NAMES: [&str; 9] = [
    "resource",
    "scope",
    "instrumentation_scope",
    "span",
    "spanevent",
    "metric",
    "datapoint",
    "log",
    "profile",
];

impl Signal {
    fn levels(&self) -> &'static [Level] {
        if self.part.is_some() {
            &[Level::Resource, Level::Scope, Level::Item, Level::Part]
        } else {
            &[Level::Resource, Level::Scope, Level::Item]
        }
    }

    fn name(&self, level: Level) -> &'static str {
        match level {
            Level::Resource => "resource",
            Level::Scope => "scope",
            Level::Item => self.item,
            Level::Part => self.part.unwrap_or(self.item),
        }
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self.levels().iter().map(|level| self.name(*level)).collect();
        names.join(", ")
    }

    /// The level a context name means (`instrumentation_scope` is the scope's older name).
    fn level_named(&self, name: &str) -> Option<Level> {
        if name == "instrumentation_scope" {
            return Some(Level::Scope);
        }
        self.levels().iter().copied().find(|level| self.name(*level) == name)
    }

    /// The OTTL context a condition of `level` is parsed in.
    fn parse_context(&self, level: Level) -> Context {
        match level {
            Level::Resource => Context::Resource,
            Level::Scope => Context::Scope,
            Level::Item => self.item_context,
            Level::Part => self.part_context.unwrap_or(self.item_context),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Context inference

/// A condition ready to parse: its paths as otelbox's OTTL spells them in `level`'s context.
struct Resolved {
    text: String,
    level: Level,
    shifts: Vec<Shift>,
}

/// A path in a condition's text: its char range and its segments (`resource`, `attributes`).
struct PathRef {
    start: usize,
    end: usize,
    segments: Vec<String>,
}

const KEYWORDS: [&str; 6] = ["and", "or", "not", "true", "false", "nil"];

/// The paths of an OTTL condition: dotted names outside strings that are not keywords, enums
/// (upper case) or function names (followed by a parenthesis).
fn scan_paths(chars: &[char]) -> Vec<PathRef> {
    let is_start = |c: &char| c.is_ascii_alphabetic() || *c == '_';
    let is_part = |c: &char| c.is_ascii_alphanumeric() || *c == '_';
    let mut paths = Vec::new();
    let mut i = 0;
    while let Some(c) = chars.get(i) {
        if *c == '"' {
            i += 1;
            while let Some(c) = chars.get(i) {
                i += 1;
                match *c {
                    '\\' => i += 1,
                    '"' => break,
                    _ => {}
                }
            }
        } else if c.is_ascii_digit() {
            while chars.get(i).is_some_and(|c| is_part(c) || *c == '.') {
                i += 1;
            }
        } else if is_start(c) {
            let start = i;
            let mut segments = Vec::new();
            loop {
                let from = i;
                while chars.get(i).is_some_and(is_part) {
                    i += 1;
                }
                segments.push(chars[from..i].iter().collect::<String>());
                if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(is_start) {
                    i += 1;
                } else {
                    break;
                }
            }
            let called = chars[i..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
            let first = &segments[0];
            let not_a_path = segments.len() == 1
                && (called || KEYWORDS.contains(&first.as_str()) || first.starts_with(|c: char| c.is_ascii_uppercase()));
            if !not_a_path {
                paths.push(PathRef { start, end: i, segments });
            }
        } else {
            i += 1;
        }
    }
    paths
}

fn error_at(column: usize, message: impl Into<String>) -> OttlError {
    OttlError {
        column,
        message: message.into(),
    }
}

/// The level of a condition (`context`, or the finest its path prefixes name) and its text
/// with the paths resolved for that level's OTTL context; the error's column is in `text`.
fn resolve_contexts(text: &str, signal: &Signal, context: Option<Level>) -> Result<Resolved, OttlError> {
    let chars: Vec<char> = text.chars().collect();
    let paths = scan_paths(&chars);
    let mut prefixes = Vec::with_capacity(paths.len());
    for path in &paths {
        let first = path.segments[0].as_str();
        let prefix = if path.segments.len() > 1 { signal.level_named(first) } else { None };
        if prefix.is_none() && path.segments.len() > 1 && CONTEXT_NAMES.contains(&first) {
            return Err(error_at(
                path.start + 1,
                format!(
                    "'{first}' is not a context of {} (expected one of: {})",
                    signal.conditions_key,
                    signal.names()
                ),
            ));
        }
        prefixes.push(prefix);
    }
    let level = match context.or_else(|| prefixes.iter().flatten().max().copied()) {
        Some(level) => level,
        None => {
            return Err(error_at(
                1,
                format!(
                    "cannot infer the context: prefix the paths with their context ({}), as in {}.name, \
                     or put the condition in a block with context",
                    signal.names(),
                    signal.item
                ),
            ))
        }
    };
    let mut resolved = String::with_capacity(text.len());
    let mut resolved_chars = 0;
    let mut shifts = Vec::new();
    let mut copied = 0;
    for (path, prefix) in paths.iter().zip(&prefixes) {
        let replacement = match prefix {
            Some(prefix) => resolve_path(signal, *prefix, &path.segments[1..].join("."), level),
            None if context.is_none() => {
                let written: String = chars[path.start..path.end].iter().collect();
                Err(format!(
                    "missing context name for path '{written}'; write {}.{written}",
                    signal.name(level)
                ))
            }
            None => resolve_path(signal, level, &path.segments.join("."), level),
        }
        .map_err(|message| error_at(path.start + 1, message))?;
        resolved.extend(&chars[copied..path.start]);
        resolved_chars += path.start - copied;
        let parsed_len = replacement.chars().count();
        shifts.push(Shift {
            written: path.start,
            written_len: path.end - path.start,
            parsed: resolved_chars,
            parsed_len,
        });
        resolved.push_str(&replacement);
        resolved_chars += parsed_len;
        copied = path.end;
    }
    resolved.extend(&chars[copied..]);
    Ok(Resolved {
        text: resolved,
        level,
        shifts,
    })
}

/// A path of context `prefix` (its segments after the prefix in `rest`) as otelbox's OTTL reads
/// it in a condition of `level`.
fn resolve_path(signal: &Signal, prefix: Level, rest: &str, level: Level) -> Result<String, String> {
    // otelbox's item contexts read only the name of their scope.
    let scope_path = || match rest {
        "name" => Ok("instrumentation_scope.name".to_string()),
        _ => Err(format!(
            "otelbox reads only scope.name in a {level_name} condition, not scope.{rest}; give the scope part a \
             condition of its own (it then drops whole scope groups)",
            level_name = signal.name(level),
        )),
    };
    match (prefix, level) {
        (prefix, level) if prefix > level => Err(format!(
            "{} paths cannot be read in the {} context",
            signal.name(prefix),
            signal.name(level)
        )),
        // The scope context's own paths, kept prefixed so that OTTL's messages quote them as written.
        (Level::Scope, Level::Scope) => Ok(format!("scope.{rest}")),
        (Level::Scope, _) if signal.reads_parents => scope_path(),
        (Level::Resource, Level::Resource) => Ok(rest.to_string()),
        (Level::Resource, _) if level == Level::Scope || signal.reads_parents => Ok(format!("resource.{rest}")),
        (Level::Resource | Level::Scope, _) => Err(format!(
            "otelbox cannot read {prefix_name} paths in a {level_name} condition; give the {prefix_name} part a condition \
             of its own (it then drops whole {prefix_name} groups)",
            prefix_name = signal.name(prefix),
            level_name = signal.name(level),
        )),
        // otelbox's span event and data point contexts read only the name of their span or metric.
        (Level::Item, Level::Part) if rest == "name" => Ok(format!("{}.name", signal.item)),
        (Level::Item, Level::Part) => Err(format!(
            "otelbox reads only {item}.name in a {part} condition, not {item}.{rest}",
            item = signal.item,
            part = signal.name(Level::Part),
        )),
        // The condition's own context.
        _ => Ok(rest.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

const KEYS: [&str; 10] = [
    "error_mode",
    "trace_conditions",
    "metric_conditions",
    "log_conditions",
    "traces",
    "metrics",
    "logs",
    "spans",
    "profile_conditions",
    "profiles",
];

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> FilterConfig {
    let mut config = FilterConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &KEYS, path);
    let mode = parse_error_mode(p, body.get("error_mode"), &format!("{path}.error_mode")).unwrap_or_default();
    let at = |key: &str| format!("{path}.{key}");
    // No profiles signal in otelbox (profiles pipelines are validated, then skipped): checked for shape, then ignored.
    crate::processor::transform::check_ignored_profile_list(p, body.get("profile_conditions"), &at("profile_conditions"), "conditions");
    // The `profiles: { profile: [...] }` list form, likewise.
    if let Some(profiles) = body
        .get("profiles")
        .filter(|v| !v.is_null())
        .and_then(|v| p.mapping(Some(v), &at("profiles")))
    {
        p.only_keys(profiles, &["profile"], &at("profiles"));
        let _ = p.string_list(profiles.get("profile"), &format!("{}.profile", at("profiles")));
    }
    let given = |key: &str| body.get(key).filter(|v| !v.is_null());

    // Traces: trace_conditions, or the traces lists, or spans.
    let traces = given("traces").and_then(|v| p.mapping(Some(v), &at("traces")));
    if let Some(traces) = traces {
        p.only_keys(traces, &["resource", "span", "spanevent"], &at("traces"));
    }
    let trace_lists = traces.is_some_and(|t| has_any(t, &["resource", "span", "spanevent"]));
    if given("trace_conditions").is_some() && trace_lists {
        p.error(
            &at("trace_conditions"),
            "cannot be used together with traces.resource, traces.span or traces.spanevent (nor can it in the Collector); \
             move those conditions into trace_conditions",
        );
    }
    if given("spans").is_some() && given("trace_conditions").is_some() {
        p.error(
            &at("spans"),
            "cannot be used together with trace_conditions (the Collector would ignore spans); write the span matching \
             as trace_conditions",
        );
    } else if given("spans").is_some() && trace_lists {
        p.error(
            &at("spans"),
            "cannot be used together with traces.resource, traces.span or traces.spanevent (nor can it in the Collector)",
        );
    }
    config.traces = parse_inferred(p, body.get("trace_conditions"), &at("trace_conditions"), &TRACES, mode);
    config
        .traces
        .extend(traces.and_then(|t| legacy_lists(p, t, &at("traces"), &TRACES, mode)));
    if let Some(spans) = given("spans") {
        config.spans = parse_span_match(p, spans, &at("spans"));
    }

    // Metrics: metric_conditions, or the metrics lists, or metrics.include/exclude.
    let metrics = given("metrics").and_then(|v| p.mapping(Some(v), &at("metrics")));
    if let Some(metrics) = metrics {
        p.only_keys(
            metrics,
            &["resource", "metric", "datapoint", "include", "exclude", "regexp"],
            &at("metrics"),
        );
    }
    let metric_lists = metrics.is_some_and(|m| has_any(m, &["resource", "metric", "datapoint"]));
    let metric_matching = metrics.is_some_and(|m| has_any(m, &["include", "exclude"]));
    if given("metric_conditions").is_some() && (metric_lists || metric_matching) {
        p.error(
            &at("metric_conditions"),
            "cannot be used together with metrics.resource, metrics.metric, metrics.datapoint, metrics.include or \
             metrics.exclude (nor can it in the Collector); move those into metric_conditions",
        );
    } else if metric_lists && metric_matching {
        p.error(
            &at("metrics"),
            "cannot use include or exclude together with resource, metric or datapoint conditions (nor can the Collector)",
        );
    }
    config.metrics = parse_inferred(p, body.get("metric_conditions"), &at("metric_conditions"), &METRICS, mode);
    if let Some(metrics) = metrics {
        let metrics_at = at("metrics");
        config.metrics.extend(legacy_lists(p, metrics, &metrics_at, &METRICS, mode));
        if let Some(options) = metrics.get("regexp").filter(|v| !v.is_null()) {
            check_regexp_options(p, options, &format!("{metrics_at}.regexp"));
        }
        let mut block = |key: &str| -> Option<MetricMatch> {
            let value = metrics.get(key).filter(|v| !v.is_null())?;
            parse_metric_match(p, value, &format!("{metrics_at}.{key}"))
        };
        config.metric_match = IncludeExclude {
            include: block("include"),
            exclude: block("exclude"),
        };
    }

    // Logs: log_conditions, or the logs lists, or logs.include/exclude.
    let logs = given("logs").and_then(|v| p.mapping(Some(v), &at("logs")));
    if let Some(logs) = logs {
        p.only_keys(logs, &["resource", "log_record", "include", "exclude"], &at("logs"));
    }
    let log_lists = logs.is_some_and(|l| has_any(l, &["resource", "log_record"]));
    let log_matching = logs.is_some_and(|l| has_any(l, &["include", "exclude"]));
    if given("log_conditions").is_some() && (log_lists || log_matching) {
        p.error(
            &at("log_conditions"),
            "cannot be used together with logs.resource, logs.log_record, logs.include or logs.exclude (nor can it in the \
             Collector); move those into log_conditions",
        );
    } else if log_lists && log_matching {
        p.error(
            &at("logs"),
            "cannot use include or exclude together with resource or log_record conditions (nor can the Collector)",
        );
    }
    config.logs = parse_inferred(p, body.get("log_conditions"), &at("log_conditions"), &LOGS, mode);
    if let Some(logs) = logs {
        let logs_at = at("logs");
        config.logs.extend(legacy_lists(p, logs, &logs_at, &LOGS, mode));
        let mut block = |key: &str| -> Option<MatchProperties> {
            let value = logs.get(key).filter(|v| !v.is_null())?;
            parse_log_match(p, value, &format!("{logs_at}.{key}"))
        };
        config.log_match = IncludeExclude {
            include: block("include"),
            exclude: block("exclude"),
        };
    }
    config
}

fn has_any(mapping: &Mapping, keys: &[&str]) -> bool {
    keys.iter().any(|key| mapping.get(*key).is_some_and(|v| !v.is_null()))
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

/// `traces`, `metrics` or `logs`: a list of conditions per context, with unprefixed paths; one
/// group under the top-level error mode.
fn legacy_lists(p: &mut Parser, lists: &Mapping, path: &str, signal: &Signal, mode: ErrorMode) -> Option<ConditionGroup> {
    let list = |p: &mut Parser, key: &str, context: Context| -> Vec<DropCondition> {
        parse_conditions(p, lists.get(key), &format!("{path}.{key}"), context)
            .into_iter()
            .map(DropCondition::as_written)
            .collect()
    };
    let mut group = ConditionGroup::new(mode);
    group.resource = list(p, "resource", Context::Resource);
    group.item = list(p, signal.legacy_item_key, signal.item_context);
    if let (Some(key), Some(context)) = (signal.legacy_part_key, signal.part_context) {
        group.part = list(p, key, context);
    }
    (!group.is_empty()).then_some(group)
}

/// `trace_conditions`, `metric_conditions` or `log_conditions`: plain conditions (one group
/// under the top-level mode) or blocks (a group each), not both.
fn parse_inferred(p: &mut Parser, value: Option<&Value>, path: &str, signal: &Signal, mode: ErrorMode) -> Vec<ConditionGroup> {
    let entries = p.list(value, path);
    let (blocks, plain): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(_, entry)| entry.is_mapping());
    if !blocks.is_empty() && !plain.is_empty() {
        p.error(
            path,
            "mixes plain conditions with blocks ({context, conditions, error_mode}); use one style or the other, \
             as the Collector requires",
        );
        return Vec::new();
    }
    let mut groups = Vec::new();
    if !plain.is_empty() {
        let mut group = ConditionGroup::new(mode);
        for (at, entry) in plain {
            if let Some(text) = p.string(entry, &at) {
                add_condition(p, &mut group, signal, &text, &at, None);
            }
        }
        groups.push(group);
    }
    for (at, block) in blocks {
        groups.extend(parse_block(p, block, &at, signal, mode));
    }
    groups.retain(|group| !group.is_empty());
    groups
}

/// `{context, conditions, error_mode}`: without a context, each condition's is inferred.
fn parse_block(p: &mut Parser, value: &Value, path: &str, signal: &Signal, outer_mode: ErrorMode) -> Option<ConditionGroup> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(body, &["context", "conditions", "error_mode"], path);
    let mode = parse_error_mode(p, body.get("error_mode"), &format!("{path}.error_mode")).unwrap_or(outer_mode);
    let context = match body.get("context").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => Some(parse_context_name(p, v, &format!("{path}.context"), signal)?),
    };
    let Some(conditions) = body.get("conditions").filter(|v| !v.is_null()) else {
        p.error(path, "conditions is required: a list of OTTL conditions");
        return None;
    };
    let conditions_at = format!("{path}.conditions");
    let listed = p.list(Some(conditions), &conditions_at);
    if listed.is_empty() {
        if conditions.is_sequence() {
            p.error(&conditions_at, "must have at least one condition");
        }
        return None;
    }
    let mut group = ConditionGroup::new(mode);
    for (at, entry) in listed {
        if let Some(text) = p.string(entry, &at) {
            add_condition(p, &mut group, signal, &text, &at, context);
        }
    }
    Some(group)
}

fn parse_context_name(p: &mut Parser, value: &Value, path: &str, signal: &Signal) -> Option<Level> {
    let text = p.string(value, path)?;
    let level = signal.level_named(&text.to_ascii_lowercase());
    if level.is_none() {
        p.error(
            path,
            format!(
                "unknown context '{text}' for {} (expected one of: {})",
                signal.conditions_key,
                signal.names()
            ),
        );
    }
    level
}

/// Parses one condition into `group`, at `context` or at the level its paths name.
fn add_condition(p: &mut Parser, group: &mut ConditionGroup, signal: &Signal, text: &str, path: &str, context: Option<Level>) {
    let resolved = match resolve_contexts(text, signal, context) {
        Ok(resolved) => resolved,
        Err(error) => return p.error(path, error),
    };
    match parse_condition(&resolved.text, signal.parse_context(resolved.level)) {
        Ok(condition) => group.level_mut(resolved.level).push(DropCondition {
            condition,
            written: text.to_string(),
            shifts: resolved.shifts,
        }),
        Err(error) => p.error(
            path,
            OttlError {
                column: written_column(&resolved.shifts, error.column),
                message: error.message,
            },
        ),
    }
}

/// `strict` or `regexp`; for metrics, `expr` is refused by name.
fn parse_match_type(p: &mut Parser, value: &Value, path: &str, for_metrics: bool) -> Option<MatchType> {
    match p.string(value, path)?.as_str() {
        "strict" => Some(MatchType::Strict),
        "regexp" => Some(MatchType::Regexp),
        "expr" if for_metrics => {
            p.error(
                path,
                "expr (the expr language's expressions) is not supported by otelbox; write OTTL conditions instead, \
                 e.g. metric_conditions: ['metric.name == \"my.metric\"']",
            );
            None
        }
        other => {
            p.error(path, format!("must be strict or regexp, got \"{other}\""));
            None
        }
    }
}

/// The Collector's `regexp` cache options: checked, then unused (otelbox compiles each regex once).
fn check_regexp_options(p: &mut Parser, value: &Value, path: &str) {
    let Some(options) = p.mapping(Some(value), path) else { return };
    p.only_keys(options, &["cacheenabled", "cachemaxnumentries"], path);
    if let Some(v) = options.get("cacheenabled") {
        p.boolean(v, &format!("{path}.cacheenabled"));
    }
    if let Some(v) = options.get("cachemaxnumentries") {
        p.integer(v, &format!("{path}.cachemaxnumentries"));
    }
}

/// `spans: {include, exclude}`: the attributes processor's match properties, for spans. As in
/// the Collector, log properties are refused and `metric_names` is ignored.
fn parse_span_match(p: &mut Parser, value: &Value, path: &str) -> IncludeExclude<MatchProperties> {
    let mut matching = IncludeExclude::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return matching;
    };
    p.only_keys(body, &["include", "exclude"], path);
    for (key, slot) in [("include", &mut matching.include), ("exclude", &mut matching.exclude)] {
        let Some(block) = body.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        let at = format!("{path}.{key}");
        let block = without_regexp_options(p, block, &at);
        for property in ["log_bodies", "log_severity_texts", "log_severity_number"] {
            if block.get(property).is_some_and(|v| !v.is_null()) {
                p.error(
                    &format!("{at}.{property}"),
                    "is not valid for spans (nor in the Collector); match log records under logs.include or logs.exclude",
                );
            }
        }
        let Some(mut properties) = parse_match_properties(p, &block, &at) else {
            continue;
        };
        properties.metric_names.clear();
        let matches_nothing_of_spans = properties.services.is_empty()
            && properties.span_names.is_empty()
            && properties.span_kinds.is_empty()
            && properties.attributes.is_empty()
            && properties.resources.is_empty()
            && properties.libraries.is_empty();
        if matches_nothing_of_spans {
            p.error(
                &at,
                "needs at least one of services, span_names, span_kinds, attributes, resources, libraries",
            );
            continue;
        }
        *slot = Some(properties);
    }
    matching
}

/// The block without its `regexp` cache options, which are checked here.
fn without_regexp_options(p: &mut Parser, block: &Value, path: &str) -> Value {
    let Some(mapping) = block.as_mapping() else {
        return block.clone();
    };
    let mut mapping = mapping.clone();
    if let Some(options) = mapping.shift_remove("regexp") {
        check_regexp_options(p, &options, &format!("{path}.regexp"));
    }
    Value::Mapping(mapping)
}

/// `metrics.include` or `metrics.exclude`: `match_type`, `metric_names`, `resource_attributes`.
/// A block with neither list judges nothing, as in the Collector.
fn parse_metric_match(p: &mut Parser, value: &Value, path: &str) -> Option<MetricMatch> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(
        body,
        &["match_type", "metric_names", "expressions", "resource_attributes", "regexp"],
        path,
    );
    let at = |key: &str| format!("{path}.{key}");
    let given = |key: &str| body.get(key).filter(|v| !v.is_null());
    if let Some(options) = given("regexp") {
        check_regexp_options(p, options, &at("regexp"));
    }
    let match_type = match given("match_type") {
        Some(v) => Some(parse_match_type(p, v, &at("match_type"), true)?),
        None => None,
    };
    if given("expressions").is_some() {
        p.error(
            &at("expressions"),
            "is only read with match_type: expr, which otelbox does not support; write OTTL conditions instead",
        );
    }
    if given("metric_names").is_none() && given("resource_attributes").is_none() {
        return None;
    }
    let Some(mode) = match_type else {
        p.error(path, "match_type is required (strict or regexp)");
        return None;
    };
    Some(MetricMatch {
        metric_names: text_matchers(p, given("metric_names"), &at("metric_names"), mode),
        resource_attributes: attribute_matchers(p, given("resource_attributes"), &at("resource_attributes"), mode),
    })
}

/// `logs.include` or `logs.exclude`: `match_type`, `resource_attributes`, `record_attributes`,
/// `severity_texts`, `severity_number`, `bodies`, as the attributes processor's log properties.
/// An empty block judges nothing, as in the Collector.
fn parse_log_match(p: &mut Parser, value: &Value, path: &str) -> Option<MatchProperties> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(
        body,
        &[
            "match_type",
            "resource_attributes",
            "record_attributes",
            "severity_texts",
            "severity_number",
            "bodies",
        ],
        path,
    );
    let at = |key: &str| format!("{path}.{key}");
    let given = |key: &str| body.get(key).filter(|v| !v.is_null());
    let match_type = match given("match_type") {
        Some(v) => Some(parse_match_type(p, v, &at("match_type"), false)?),
        None => None,
    };
    let matches_text = ["resource_attributes", "record_attributes", "severity_texts", "bodies"]
        .into_iter()
        .any(|key| given(key).is_some());
    let mode = match match_type {
        Some(mode) => mode,
        None if matches_text => {
            p.error(path, "match_type is required (strict or regexp)");
            return None;
        }
        // Only severity_number: no text is matched, so no match type is needed.
        None => MatchType::Strict,
    };
    let properties = MatchProperties {
        attributes: attribute_matchers(p, given("record_attributes"), &at("record_attributes"), mode),
        resources: attribute_matchers(p, given("resource_attributes"), &at("resource_attributes"), mode),
        log_bodies: text_matchers(p, given("bodies"), &at("bodies"), mode),
        log_severity_texts: text_matchers(p, given("severity_texts"), &at("severity_texts"), mode),
        log_severity_number: given("severity_number").and_then(|v| severity_number_matcher(p, v, &at("severity_number"))),
        ..MatchProperties::default()
    };
    let judges_nothing = properties.attributes.is_empty()
        && properties.resources.is_empty()
        && properties.log_bodies.is_empty()
        && properties.log_severity_texts.is_empty()
        && properties.log_severity_number.is_none();
    (!judges_nothing).then_some(properties)
}

// ---------------------------------------------------------------------------------------------
// Processing

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

    fn any(&self, conditions: &[DropCondition], mode: ErrorMode, ctx: &dyn TransformContext) -> Result<bool, PipelineError> {
        for condition in conditions {
            if condition.holds(ctx, mode, &self.component)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether the group's resource conditions drop `resource` (an absent one is empty).
    fn drop_resource(&self, group: &ConditionGroup, resource: &mut Option<Resource>) -> Result<bool, PipelineError> {
        if group.resource.is_empty() {
            return Ok(false);
        }
        let mut absent = Resource::default();
        let resource = match resource.as_mut() {
            Some(resource) => resource,
            None => &mut absent,
        };
        self.any(&group.resource, group.error_mode, &ResourceContext { resource })
    }

    /// Whether the group's scope conditions drop a scope group, judged in the scope context on
    /// its scope (an absent one is empty) and schema URL.
    fn drop_scope(
        &self,
        group: &ConditionGroup,
        resource: Option<&Resource>,
        scope: &mut Option<InstrumentationScope>,
        schema_url: &mut String,
    ) -> Result<bool, PipelineError> {
        if group.scope.is_empty() {
            return Ok(false);
        }
        let mut absent = InstrumentationScope::default();
        let scope = match scope.as_mut() {
            Some(scope) => scope,
            None => &mut absent,
        };
        self.any(&group.scope, group.error_mode, &ScopeContext::new(scope, schema_url, resource))
    }

    /// Whether to drop `span`; when it stays, its matching events are removed.
    fn drop_span(
        &self,
        group: &ConditionGroup,
        span: &mut Span,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
    ) -> Result<bool, PipelineError> {
        if self.any(&group.item, group.error_mode, &SpanContext::new(span, resource, scope))? {
            return Ok(true);
        }
        if !group.part.is_empty() {
            let Span { name, events, .. } = span;
            retain_or_fail(events, |event| {
                let ctx = SpanEventContext {
                    event,
                    span_name: name,
                    resource: resource.map(Into::into),
                    scope,
                };
                Ok(!self.any(&group.part, group.error_mode, &ctx)?)
            })?;
        }
        Ok(false)
    }

    /// Whether to drop `metric`: its own conditions, or no data point left after theirs. A metric
    /// without data is judged by its own conditions only (the Collector's rule).
    /// The metric's resource and scope are lent to its conditions and its points' (`resource.*`,
    /// `instrumentation_scope.name`), as are the metric's facts to its points' (`metric.type`, ...).
    fn drop_metric(
        &self,
        group: &ConditionGroup,
        metric: &mut Metric,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
    ) -> Result<bool, PipelineError> {
        if self.any(
            &group.item,
            group.error_mode,
            &WithResource::new(MetricContext { metric: &mut *metric }, resource, scope),
        )? {
            return Ok(true);
        }
        if group.part.is_empty() {
            return Ok(false);
        }
        let Metric {
            name,
            description,
            unit,
            data,
            ..
        } = metric;
        let owners = (MetricFacts::new(description, unit, data.as_ref()), resource, scope);
        Ok(match data {
            Some(Data::Gauge(gauge)) => self.drop_points(group, &mut gauge.data_points, name, owners, |point, name| {
                DataPointContext::number(point, name)
            })?,
            Some(Data::Sum(sum)) => self.drop_points(group, &mut sum.data_points, name, owners, |point, name| {
                DataPointContext::number(point, name)
            })?,
            Some(Data::Histogram(histogram)) => self.drop_points(group, &mut histogram.data_points, name, owners, |point, name| {
                DataPointContext::histogram(point, name)
            })?,
            Some(Data::ExponentialHistogram(histogram)) => {
                self.drop_points(group, &mut histogram.data_points, name, owners, |point, name| {
                    DataPointContext::exponential_histogram(point, name)
                })?
            }
            Some(Data::Summary(summary)) => self.drop_points(group, &mut summary.data_points, name, owners, |point, name| {
                DataPointContext::summary(point, name)
            })?,
            None => false,
        })
    }

    /// Removes the matching points; true when none is left.
    fn drop_points<P>(
        &self,
        group: &ConditionGroup,
        points: &mut Vec<P>,
        metric_name: &str,
        (facts, resource, scope): (MetricFacts<'_>, Option<&Resource>, Option<&InstrumentationScope>),
        context: for<'a> fn(&'a mut P, &'a str) -> DataPointContext<'a>,
    ) -> Result<bool, PipelineError> {
        retain_or_fail(points, |point| {
            let ctx = WithResource::new(context(point, metric_name).in_metric(facts), resource, scope);
            Ok(!self.any(&group.part, group.error_mode, &ctx)?)
        })?;
        Ok(points.is_empty())
    }

    /// One group over the traces, from the resources down.
    fn filter_traces(&self, group: &ConditionGroup, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        retain_or_fail(&mut data.resource_spans, |resource_spans| {
            if self.drop_resource(group, &mut resource_spans.resource)? {
                return Ok(false);
            }
            let ResourceSpans { resource, scope_spans, .. } = resource_spans;
            let resource = resource.as_ref();
            retain_or_fail(scope_spans, |scope_group| {
                let ScopeSpans {
                    scope, spans, schema_url, ..
                } = scope_group;
                if self.drop_scope(group, resource, scope, schema_url)? {
                    return Ok(false);
                }
                let scope = scope.as_ref();
                if !group.item.is_empty() || !group.part.is_empty() {
                    retain_or_fail(spans, |span| Ok(!self.drop_span(group, span, resource, scope)?))?;
                }
                Ok(true)
            })?;
            Ok(true)
        })
    }

    fn filter_metrics(&self, group: &ConditionGroup, data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        retain_or_fail(&mut data.resource_metrics, |resource_metrics| {
            if self.drop_resource(group, &mut resource_metrics.resource)? {
                return Ok(false);
            }
            let ResourceMetrics {
                resource, scope_metrics, ..
            } = resource_metrics;
            let resource = resource.as_ref();
            retain_or_fail(scope_metrics, |scope_group| {
                let ScopeMetrics {
                    scope,
                    metrics,
                    schema_url,
                    ..
                } = scope_group;
                if self.drop_scope(group, resource, scope, schema_url)? {
                    return Ok(false);
                }
                if !group.item.is_empty() || !group.part.is_empty() {
                    let scope = scope.as_ref();
                    retain_or_fail(metrics, |metric| Ok(!self.drop_metric(group, metric, resource, scope)?))?;
                }
                Ok(true)
            })?;
            Ok(true)
        })
    }

    fn filter_logs(&self, group: &ConditionGroup, data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        retain_or_fail(&mut data.resource_logs, |resource_logs| {
            if self.drop_resource(group, &mut resource_logs.resource)? {
                return Ok(false);
            }
            let ResourceLogs { resource, scope_logs, .. } = resource_logs;
            let resource = resource.as_ref();
            retain_or_fail(scope_logs, |scope_group| {
                let ScopeLogs {
                    scope,
                    log_records,
                    schema_url,
                    ..
                } = scope_group;
                if self.drop_scope(group, resource, scope, schema_url)? {
                    return Ok(false);
                }
                let scope = scope.as_ref();
                if !group.item.is_empty() {
                    retain_or_fail(log_records, |log| {
                        Ok(!self.any(&group.item, group.error_mode, &LogContext::new(log, resource, scope))?)
                    })?;
                }
                Ok(true)
            })?;
            Ok(true)
        })
    }
}

impl ItemProcessor for FilterProcessor {
    fn process_traces(&self, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        let config = &self.config;
        if config.traces.is_empty() && config.spans.is_empty() {
            return Ok(());
        }
        for group in &config.traces {
            self.filter_traces(group, data)?;
        }
        if !config.spans.is_empty() {
            for resource_spans in &mut data.resource_spans {
                let ResourceSpans { resource, scope_spans, .. } = resource_spans;
                let resource = resource.as_ref();
                for scope_group in scope_spans.iter_mut() {
                    let ScopeSpans { scope, spans, .. } = scope_group;
                    let scope = scope.as_ref();
                    spans.retain(|span| {
                        let item = Item {
                            resource,
                            scope,
                            subject: Subject::Span(span),
                        };
                        !config.spans.drops(|properties| Some(properties.matches(&item)))
                    });
                }
            }
        }
        for resource_spans in &mut data.resource_spans {
            resource_spans.scope_spans.retain(|s| !s.spans.is_empty());
        }
        data.resource_spans.retain(|r| !r.scope_spans.is_empty());
        Ok(())
    }

    fn process_metrics(&self, data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        let config = &self.config;
        if config.metrics.is_empty() && config.metric_match.is_empty() {
            return Ok(());
        }
        for group in &config.metrics {
            self.filter_metrics(group, data)?;
        }
        if !config.metric_match.is_empty() {
            let matching = &config.metric_match;
            data.resource_metrics
                .retain(|r| !matching.drops(|block| block.resource_matches(r.resource.as_ref())));
            for resource_metrics in &mut data.resource_metrics {
                for scope_metrics in &mut resource_metrics.scope_metrics {
                    scope_metrics
                        .metrics
                        .retain(|metric| !matching.drops(|block| block.name_matches(&metric.name)));
                }
            }
        }
        for resource_metrics in &mut data.resource_metrics {
            resource_metrics.scope_metrics.retain(|s| !s.metrics.is_empty());
        }
        data.resource_metrics.retain(|r| !r.scope_metrics.is_empty());
        Ok(())
    }

    fn process_logs(&self, data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        let config = &self.config;
        if config.logs.is_empty() && config.log_match.is_empty() {
            return Ok(());
        }
        for group in &config.logs {
            self.filter_logs(group, data)?;
        }
        if !config.log_match.is_empty() {
            for resource_logs in &mut data.resource_logs {
                let ResourceLogs { resource, scope_logs, .. } = resource_logs;
                let resource = resource.as_ref();
                for scope_group in scope_logs.iter_mut() {
                    let ScopeLogs { scope, log_records, .. } = scope_group;
                    let scope = scope.as_ref();
                    log_records.retain(|log| {
                        let item = Item {
                            resource,
                            scope,
                            subject: Subject::Log(log),
                        };
                        !config.log_match.drops(|properties| Some(properties.matches(&item)))
                    });
                }
            }
        }
        for resource_logs in &mut data.resource_logs {
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
    fn metric_and_data_point_lists_read_the_resource_and_their_metric() {
        // The older lists evaluate in the metric and datapoint contexts with their resource lent.
        let filter = filter(
            r#"    metrics: { metric: ['resource.attributes["service.name"] == "batch"'], datapoint: ['metric.type == METRIC_DATA_TYPE_GAUGE and resource.attributes["service.name"] == "api" and attributes["host"] == "canary"'] }"#,
        );
        let mut data = metrics(vec![
            (
                "api",
                vec![gauge(
                    "cpu",
                    vec![point(vec![kv("host", "canary")], 1), point(vec![kv("host", "a")], 2)],
                )],
            ),
            ("batch", vec![gauge("cpu", vec![point(vec![], 3)])]),
        ]);
        filter.process_metrics(&mut data).unwrap();
        let expected = metrics(vec![("api", vec![gauge("cpu", vec![point(vec![kv("host", "a")], 2)])])]);
        assert_eq!(data, expected, "the batch resource's metric and the api canary's point are dropped");
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
                "processors.filter/noise.traces.spans: unknown key (expected one of: resource, span, spanevent)",
                "processors.filter/noise.traces.span[1]: column 26: unexpected '='; compare with '=='",
                "processors.filter/noise.traces.span[2]: expected a string, got a number",
                "processors.filter/noise.traces.spanevent[0]: column 1: unknown path 'severity_number' in the spanevent context; \
                 expected one of name, time_unix_nano, attributes[...], span.name, resource.attributes[...], resource.dropped_attributes_count, instrumentation_scope.name",
                "processors.filter/noise.metrics.metric[0]: column 15: expected a valid regular expression as the pattern of IsMatch: \
                 unclosed character class",
                "processors.filter/noise.metrics.datapoint[0]: column 1: unknown path 'name' in the datapoint context; \
                 expected one of attributes[...], metric.name, metric.description, metric.unit, metric.type, resource.attributes[...], \
                 resource.dropped_attributes_count, instrumentation_scope.name",
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
    fn trace_conditions_drop_resources_spans_and_span_events_each_at_its_inferred_context() {
        let filter = filter(
            r#"    trace_conditions:
      - 'resource.attributes["service.name"] == "probe"'
      - 'span.attributes["http.route"] == "/health"'
      - 'IsMatch(spanevent.name, "^debug")'"#,
        );
        let mut users = span(TRACE, "GET /users", vec![kv("http.route", "/users")]);
        users.events = vec![event("debug.cache", vec![]), event("exception", vec![])];
        let mut data = traces(vec![
            (
                "api",
                vec![span(TRACE, "GET /health", vec![kv("http.route", "/health")]), users.clone()],
            ),
            ("probe", vec![span(TRACE, "GET /", vec![])]),
        ]);
        filter.process_traces(&mut data).unwrap();
        users.events = vec![event("exception", vec![])];
        assert_eq!(data, traces(vec![("api", vec![users])]));
    }

    /// The Collector's example: a condition naming the resource and the span event runs on
    /// every span event, so spans stay even when all their events go.
    #[test]
    fn a_condition_naming_several_contexts_runs_at_the_finest_and_drops_only_span_events() {
        let filter =
            filter(r#"    trace_conditions: ['resource.attributes["service.name"] == "api" or spanevent.name == "grpc.timeout"']"#);
        let with_events = |name: &str, events: &[&str]| {
            let mut span = span(TRACE, name, vec![]);
            span.events = events.iter().map(|e| event(e, vec![])).collect();
            span
        };
        let mut data = traces(vec![
            ("api", vec![with_events("a", &["retry", "grpc.timeout"])]),
            ("worker", vec![with_events("b", &["grpc.timeout", "done"])]),
        ]);
        filter.process_traces(&mut data).unwrap();
        let expected = traces(vec![
            ("api", vec![with_events("a", &[])]),
            ("worker", vec![with_events("b", &["done"])]),
        ]);
        assert_eq!(data, expected);
    }

    #[test]
    fn scope_conditions_drop_whole_scope_groups() {
        let filter =
            filter(r#"    log_conditions: ['scope.name == "io.opentelemetry.jdbc" and resource.attributes["service.name"] == "worker"']"#);
        let input = || {
            let mut data = logs(vec![
                ("api", vec![log(9, "a", vec![])]),
                ("worker", vec![log(9, "b", vec![]), log(9, "c", vec![])]),
            ]);
            for group in &mut data.resource_logs {
                group.scope_logs[0].scope.as_mut().unwrap().name = "io.opentelemetry.jdbc".into();
            }
            data
        };
        let mut data = input();
        filter.process_logs(&mut data).unwrap();
        let mut expected = input();
        expected.resource_logs.truncate(1);
        assert_eq!(data, expected);
    }

    /// Scope conditions used to run on a blank span, which read only scope.name; they now run in
    /// the scope context, which reads the whole scope and its group's schema URL.
    #[test]
    fn scope_conditions_read_version_attributes_and_schema_url_in_the_scope_context() {
        let filter = filter(
            r#"    log_conditions:
      - context: scope
        conditions: ['version == "0.1" and attributes["otelcol.signal"] != nil']
      - conditions: ['instrumentation_scope.schema_url == "https://opentelemetry.io/schemas/1.26.0"']"#,
        );
        let input = || {
            let mut data = logs(vec![
                ("api", vec![log(9, "a", vec![])]),
                ("worker", vec![log(9, "b", vec![])]),
                ("db", vec![log(9, "c", vec![])]),
            ]);
            for group in &mut data.resource_logs[..2] {
                let scope = group.scope_logs[0].scope.as_mut().unwrap();
                scope.version = "0.1".into();
                scope.attributes.push(kv("otelcol.signal", "logs"));
            }
            // Only the version differs from api's: the first block keeps it.
            data.resource_logs[1].scope_logs[0].scope.as_mut().unwrap().version = "0.2".into();
            data.resource_logs[2].scope_logs[0].schema_url = "https://opentelemetry.io/schemas/1.26.0".into();
            data
        };
        let mut data = input();
        filter.process_logs(&mut data).unwrap();
        let mut expected = input();
        expected.resource_logs.retain(|r| {
            r.resource
                .as_ref()
                .is_some_and(|res| res.attributes == [kv("service.name", "worker")])
        });
        assert_eq!(data, expected);
    }

    #[test]
    fn metric_conditions_drop_resources_metrics_and_data_points() {
        let filter = filter(
            r#"    metric_conditions:
      - 'resource.attributes["service.name"] == "canary"'
      - 'metric.name == "noisy"'
      - 'datapoint.attributes["env"] == "test" and metric.name == "requests"'"#,
        );
        let mut data = metrics(vec![
            (
                "api",
                vec![
                    gauge("noisy", vec![point(vec![], 1)]),
                    gauge(
                        "requests",
                        vec![point(vec![kv("env", "test")], 2), point(vec![kv("env", "prod")], 3)],
                    ),
                    gauge("jobs", vec![point(vec![kv("env", "test")], 4)]),
                ],
            ),
            ("canary", vec![gauge("requests", vec![point(vec![], 5)])]),
        ]);
        filter.process_metrics(&mut data).unwrap();
        let expected = metrics(vec![(
            "api",
            vec![
                gauge("requests", vec![point(vec![kv("env", "prod")], 3)]),
                gauge("jobs", vec![point(vec![kv("env", "test")], 4)]),
            ],
        )]);
        assert_eq!(data, expected);
    }

    #[test]
    fn condition_blocks_read_unprefixed_paths_in_their_context_under_their_own_error_mode() {
        let filter = filter(
            r#"    error_mode: propagate
    log_conditions:
      - context: resource
        conditions: ['attributes["service.name"] == "worker"']
      - context: log
        error_mode: ignore
        conditions: ['attributes["n"] + 1 > 2', 'severity_number < SEVERITY_NUMBER_WARN']"#,
        );
        let mut data = logs(vec![
            (
                "api",
                vec![
                    log(9, "info", vec![kv("n", "x")]),
                    log(13, "warn", vec![kv("n", "y")]),
                    log(17, "big", vec![kv_int("n", 5)]),
                ],
            ),
            ("worker", vec![log(17, "w", vec![])]),
        ]);
        filter.process_logs(&mut data).unwrap();
        assert_eq!(data, logs(vec![("api", vec![log(13, "warn", vec![kv("n", "y")])])]));
    }

    #[test]
    fn run_time_errors_quote_the_condition_as_written_with_its_column() {
        let filter = filter(r#"    trace_conditions: ['span.attributes["n"] + 1 > 2']"#);
        let mut data = traces(vec![("api", vec![span(TRACE, "x", vec![kv("n", "one")])])]);
        let error = filter.process_traces(&mut data).unwrap_err();
        assert_eq!(
            error,
            PipelineError::permanent(
                "filter/test: span.attributes[\"n\"] + 1 > 2: column 22: cannot add a string and an int; arithmetic needs ints or floats"
            )
        );
    }

    #[test]
    fn inferred_conditions_need_context_names_the_signal_has() {
        let errors = config_errors(&full_config(
            "filter/test",
            r#"    trace_conditions:
      - 'name == "x"'
      - 'span.name == "x" and attributes["a"] == "b"'
      - 'log.body == "x"'
      - 'span.name == "x" and scope.version == "1"'
      - 'span.name == "a" and span.attributes["k"] = "b"'
      - 'scope.vesion == "1"'
    metric_conditions:
      - 'resource.attributes["a"] == "b" and metric.name == "c"'
    log_conditions:
      - { context: span, conditions: ['true'] }
      - { context: log }"#,
        ));
        assert_eq!(
            errors,
            [
                "processors.filter/test.trace_conditions[0]: column 1: cannot infer the context: prefix the paths with their \
                 context (resource, scope, span, spanevent), as in span.name, or put the condition in a block with context",
                "processors.filter/test.trace_conditions[1]: column 22: missing context name for path 'attributes'; write \
                 span.attributes",
                "processors.filter/test.trace_conditions[2]: column 1: 'log' is not a context of trace_conditions (expected one \
                 of: resource, scope, span, spanevent)",
                "processors.filter/test.trace_conditions[3]: column 22: otelbox reads only scope.name in a span condition, not \
                 scope.version; give the scope part a condition of its own (it then drops whole scope groups)",
                // The column of the written text, though `span.` was resolved away before parsing.
                "processors.filter/test.trace_conditions[4]: column 43: unexpected '='; compare with '=='",
                "processors.filter/test.trace_conditions[5]: column 1: unknown path 'scope.vesion' in the scope context; expected \
                 one of name, version, attributes[...], dropped_attributes_count, schema_url, resource.attributes[...], \
                 resource.dropped_attributes_count",
                "processors.filter/test.metric_conditions[0]: column 1: otelbox cannot read resource paths in a metric condition; \
                 give the resource part a condition of its own (it then drops whole resource groups)",
                "processors.filter/test.log_conditions[0].context: unknown context 'span' for log_conditions (expected one of: \
                 resource, scope, log)",
                "processors.filter/test.log_conditions[1]: conditions is required: a list of OTTL conditions",
            ]
        );
    }

    #[test]
    fn inferred_lists_refuse_mixed_styles_and_the_older_settings_of_their_signal() {
        let errors = config_errors(&full_config(
            "filter/test",
            r#"    trace_conditions:
      - 'span.name == "a"'
      - { context: span, conditions: ['name == "b"'] }
    traces: { span: ['name == "c"'] }
    metric_conditions: ['metric.name == "a"']
    metrics: { include: { match_type: strict, metric_names: [a] } }
    logs:
      log_record: ['true']
      exclude: { match_type: strict, bodies: [x] }"#,
        ));
        assert_eq!(
            errors,
            [
                "processors.filter/test.trace_conditions: cannot be used together with traces.resource, traces.span or \
                 traces.spanevent (nor can it in the Collector); move those conditions into trace_conditions",
                "processors.filter/test.trace_conditions: mixes plain conditions with blocks ({context, conditions, \
                 error_mode}); use one style or the other, as the Collector requires",
                "processors.filter/test.metric_conditions: cannot be used together with metrics.resource, metrics.metric, \
                 metrics.datapoint, metrics.include or metrics.exclude (nor can it in the Collector); move those into \
                 metric_conditions",
                "processors.filter/test.logs: cannot use include or exclude together with resource or log_record conditions \
                 (nor can the Collector)",
            ]
        );
    }

    #[test]
    fn legacy_span_include_and_exclude_match_like_the_attributes_processor() {
        let filter = filter(
            r#"    spans:
      include: { match_type: strict, services: [api, worker] }
      exclude:
        match_type: regexp
        span_names: ['^GET /health']
        attributes: [{ key: http.route }]
        regexp: { cacheenabled: true, cachemaxnumentries: 100 }"#,
        );
        let healthz = span(TRACE, "GET /healthz", vec![]);
        let users = span(TRACE, "GET /users", vec![kv("http.route", "/users")]);
        let job = span(TRACE, "job", vec![]);
        let mut data = traces(vec![
            (
                "api",
                vec![
                    span(TRACE, "GET /health", vec![kv("http.route", "/health")]),
                    healthz.clone(),
                    users.clone(),
                ],
            ),
            ("worker", vec![job.clone()]),
            ("probe", vec![span(TRACE, "GET /", vec![])]),
        ]);
        filter.process_traces(&mut data).unwrap();
        assert_eq!(data, traces(vec![("api", vec![healthz, users]), ("worker", vec![job])]));
    }

    #[test]
    fn legacy_metric_blocks_judge_names_and_resources_separately() {
        let filter = filter(
            r#"    metrics:
      include:
        match_type: regexp
        metric_names: ['^http\.']
        resource_attributes: [{ key: service.name, value: 'api|worker' }]
      exclude: { match_type: strict, metric_names: [http.server.debug] }
      regexp: { cacheenabled: false }"#,
        );
        let one = |name: &str| gauge(name, vec![point(vec![], 1)]);
        let mut data = metrics(vec![
            (
                "api",
                vec![one("http.server.duration"), one("http.server.debug"), one("process.cpu")],
            ),
            ("worker", vec![one("http.client.duration")]),
            ("canary", vec![one("http.server.duration")]),
        ]);
        filter.process_metrics(&mut data).unwrap();
        let expected = metrics(vec![
            ("api", vec![one("http.server.duration")]),
            ("worker", vec![one("http.client.duration")]),
        ]);
        assert_eq!(data, expected);
    }

    #[test]
    fn legacy_log_blocks_match_severity_bodies_and_resource_attributes() {
        let filter = filter(
            r#"    logs:
      include:
        match_type: strict
        resource_attributes: [{ key: service.name, value: api }]
        severity_number: { min: INFO, match_undefined: true }
      exclude: { match_type: regexp, bodies: ['^healthcheck'] }"#,
        );
        let mut data = logs(vec![
            (
                "api",
                vec![
                    log(5, "debug detail", vec![]),
                    log(0, "no severity", vec![]),
                    log(9, "healthcheck ok", vec![]),
                    log(13, "slow", vec![]),
                ],
            ),
            ("worker", vec![log(17, "boom", vec![])]),
        ]);
        filter.process_logs(&mut data).unwrap();
        let expected = logs(vec![("api", vec![log(0, "no severity", vec![]), log(13, "slow", vec![])])]);
        assert_eq!(data, expected);
    }

    #[test]
    fn legacy_include_exclude_is_checked_as_the_collector_checks_it() {
        let errors = config_errors(&full_config(
            "filter/old",
            r#"    spans: { include: { match_type: strict, services: [api], log_bodies: [x] } }
    metrics: { exclude: { match_type: expr, expressions: ['MetricName == "x"'] } }
    logs: { include: { bodies: [x] } }"#,
        ));
        assert_eq!(
            errors,
            [
                "processors.filter/old.spans.include.log_bodies: is not valid for spans (nor in the Collector); match log \
                 records under logs.include or logs.exclude",
                "processors.filter/old.metrics.exclude.match_type: expr (the expr language's expressions) is not supported by \
                 otelbox; write OTTL conditions instead, e.g. metric_conditions: ['metric.name == \"my.metric\"']",
                "processors.filter/old.logs.include: match_type is required (strict or regexp)",
            ]
        );
        let errors = config_errors(&full_config("filter/odd", "    tracez: {}\n    traces: [a]"));
        assert_eq!(
            errors,
            [
                "processors.filter/odd.tracez: unknown key (expected one of: error_mode, trace_conditions, metric_conditions, \
                 log_conditions, traces, metrics, logs, spans, profile_conditions, profiles)",
                "processors.filter/odd.traces: expected a mapping, got a list",
            ]
        );
    }

    #[test]
    fn the_testdata_examples_filter_the_golden_data() {
        use crate::exporter::sender::golden;
        let file: Value = serde_yaml_ng::from_str(include_str!("testdata/filter.yaml")).unwrap();
        let mut kept = Vec::new();
        for (id, body) in file.as_mapping().unwrap() {
            let id = id.as_str().unwrap();
            let body: String = serde_yaml_ng::to_string(body)
                .unwrap()
                .lines()
                .map(|line| format!("    {line}\n"))
                .collect();
            let filter = filter_from(&full_config(id, body.trim_end()), id);
            let (mut spans, mut points, mut records) = (golden::traces(), golden::metrics(), golden::logs());
            filter.process_traces(&mut spans).unwrap();
            filter.process_metrics(&mut points).unwrap();
            filter.process_logs(&mut records).unwrap();
            let span_names: Vec<String> = spans
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
                .map(|s| s.name.clone())
                .collect();
            let bodies: Vec<String> = records
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| &s.log_records)
                .map(|l| crate::ottl::Value::from_any(l.body.as_ref()).to_text().unwrap_or_default())
                .collect();
            kept.push((id.to_string(), span_names, points == golden::metrics(), bodies));
        }
        let expect = |id: &str, bodies: [&str; 2]| {
            (
                id.to_string(),
                vec!["GET /cart".to_string()],
                true,
                bodies.map(String::from).to_vec(),
            )
        };
        assert_eq!(
            kept,
            [
                expect("filter", ["cart 2 is slow", "cart 3 is slow"]),
                expect("filter/inferred", ["cart 1 is slow", "cart 3 is slow"]),
                expect("filter/legacy", ["cart 1 is slow", "cart 2 is slow"]),
            ]
        );
    }
}
