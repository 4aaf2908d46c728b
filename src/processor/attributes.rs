//! The attributes and resource processors: the Collector's attribute actions (insert, update, upsert,
//! delete, hash, extract, convert) on span, log record and data point attributes (`attributes`, with
//! optional include/exclude matching) or on resource attributes (`resource`).

use crate::config::{ComponentId, Parser};
use crate::pipeline::PipelineError;
use crate::pipeline::{ItemProcessor, ResourceEditor};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use regex::Regex;
use serde_yaml_ng::{Mapping, Value};
use sha2::{Digest, Sha256};

crate::item_processor_factory!(AttributesFactory, "attributes", parse_attributes, AttributesProcessor::new);
crate::item_processor_factory!(ResourceFactory, "resource", parse_resource, ResourceProcessor::new);

/// The keys an action may have (`from_context` is known so that it gets its own explanation).
const ACTION_KEYS: [&str; 8] = [
    "key",
    "action",
    "value",
    "from_attribute",
    "from_context",
    "default_value",
    "pattern",
    "converted_type",
];

/// The properties of an include/exclude block, besides `match_type`.
const MATCH_PROPERTIES: [&str; 10] = [
    "services",
    "span_names",
    "span_kinds",
    "attributes",
    "resources",
    "libraries",
    "log_bodies",
    "log_severity_texts",
    "log_severity_number",
    "metric_names",
];

/// The span kinds `span_kinds` may name under `match_type: strict` (the Collector's names).
pub(crate) const SPAN_KIND_NAMES: [&str; 5] = [
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

#[derive(Clone, Debug, Default)]
pub struct AttributesConfig {
    /// Run in order on the attributes of every selected span, log record and data point.
    pub actions: Vec<Action>,
    /// When given, only items it matches are processed (boxed: the config enum stays small).
    pub include: Option<Box<MatchProperties>>,
    /// When given, items it matches are left alone (checked after `include`).
    pub exclude: Option<Box<MatchProperties>>,
}

#[derive(Clone, Debug, Default)]
pub struct ResourceConfig {
    /// Run in order on the resource attributes of every resource (the Collector's key is `attributes`).
    pub actions: Vec<Action>,
}

/// One step of an attribute edit, validated at config load so that applying it cannot fail.
#[derive(Clone, Debug)]
pub enum Action {
    /// insert, update or upsert `key` from a value or another attribute.
    Set { key: String, mode: SetMode, source: ValueSource },
    /// Removes `key` and every key matching `pattern`.
    Delete { key: Option<String>, pattern: Option<Regex> },
    /// Replaces the value of `key` and of every key matching `pattern` with the lowercase hex SHA-256
    /// of its string form.
    Hash { key: Option<String>, pattern: Option<Regex> },
    /// Upserts each named group of `pattern`'s first match in the string value of `key`.
    Extract { key: String, pattern: Regex },
    /// Changes the type of `key`'s value; a value that does not convert stays as it is.
    Convert { key: String, to: ConvertTo },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetMode {
    /// Only when the key is absent.
    Insert,
    /// Only when the key is present.
    Update,
    /// Always.
    Upsert,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ValueSource {
    Value(AnyValue),
    /// The value of another attribute of the same item; when it is absent, the action's
    /// `default_value`, or nothing happens.
    FromAttribute {
        from: String,
        default: Option<AnyValue>,
    },
    /// `from_context` with a `default_value`: otelbox's pipelines carry no request context, so the
    /// context value is never available and the default is what the Collector would set.
    ContextDefault(AnyValue),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvertTo {
    Int,
    Double,
    String,
}

/// An include or exclude block: every property given must match (AND). Properties of another
/// signal (span_names for a log record) make the block match nothing of this signal, so an include
/// block with them processes none of its items and an exclude block excludes none.
#[derive(Clone, Debug, Default)]
pub struct MatchProperties {
    /// Any entry matches the resource's `service.name` (spans only).
    pub services: Vec<TextMatcher>,
    /// Any entry matches the span name (spans only).
    pub span_names: Vec<TextMatcher>,
    /// Any entry matches the span kind as `SPAN_KIND_SERVER` (spans only).
    pub span_kinds: Vec<TextMatcher>,
    /// Every entry matches the item's own attributes (span, log record or data point).
    pub attributes: Vec<AttributeMatcher>,
    /// Every entry matches the resource attributes.
    pub resources: Vec<AttributeMatcher>,
    /// Any entry matches the instrumentation scope.
    pub libraries: Vec<LibraryMatcher>,
    /// Any entry matches the log body's string form (logs only).
    pub log_bodies: Vec<TextMatcher>,
    /// Any entry matches the severity text (logs only).
    pub log_severity_texts: Vec<TextMatcher>,
    /// The severity number is at least a minimum (logs only).
    pub log_severity_number: Option<SeverityNumberMatcher>,
    /// Any entry matches the metric name of a data point (metrics only).
    pub metric_names: Vec<TextMatcher>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    Strict,
    Regexp,
}

/// `strict` is equality; `regexp` matches anywhere in the text (anchor with ^ and $), as in the Collector.
#[derive(Clone, Debug)]
pub enum TextMatcher {
    Strict(String),
    Regexp(Regex),
}

impl TextMatcher {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            TextMatcher::Strict(expected) => expected == text,
            TextMatcher::Regexp(regex) => regex.is_match(text),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AttributeMatcher {
    pub key: String,
    pub value: ValueMatcher,
}

#[derive(Clone, Debug)]
pub enum ValueMatcher {
    /// No value given: the key only has to be present.
    Present,
    /// strict: same type and value.
    Equals(AnyValue),
    /// regexp: on the string form of a string, bool, int or double value.
    Regexp(Regex),
}

impl AttributeMatcher {
    pub(crate) fn matches(&self, attributes: &[KeyValue]) -> bool {
        let Some(kv) = attributes.iter().find(|kv| kv.key == self.key) else {
            return false;
        };
        match &self.value {
            ValueMatcher::Present => true,
            ValueMatcher::Equals(expected) => kv.value.as_ref() == Some(expected),
            ValueMatcher::Regexp(regex) => scalar_text(kv.value.as_ref()).is_some_and(|text| regex.is_match(&text)),
        }
    }
}

#[derive(Clone, Debug)]
pub struct LibraryMatcher {
    pub name: TextMatcher,
    /// Absent: any version.
    pub version: Option<TextMatcher>,
}

impl LibraryMatcher {
    fn matches(&self, scope: Option<&InstrumentationScope>) -> bool {
        let (name, version) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
        self.name.matches(name) && self.version.as_ref().is_none_or(|v| v.matches(version))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeverityNumberMatcher {
    pub min: i32,
    /// Whether a record without a severity number (0, unspecified) matches.
    pub match_undefined: bool,
}

impl SeverityNumberMatcher {
    fn matches(&self, severity_number: i32) -> bool {
        if severity_number == 0 {
            self.match_undefined
        } else {
            severity_number >= self.min
        }
    }
}

/// One item an include/exclude block is checked against, with its resource and scope.
pub(crate) struct Item<'a> {
    pub(crate) resource: Option<&'a Resource>,
    pub(crate) scope: Option<&'a InstrumentationScope>,
    pub(crate) subject: Subject<'a>,
}

pub(crate) enum Subject<'a> {
    Span(&'a Span),
    Log(&'a LogRecord),
    DataPoint { metric_name: &'a str, attributes: &'a [KeyValue] },
}

impl Item<'_> {
    fn attributes(&self) -> &[KeyValue] {
        match &self.subject {
            Subject::Span(span) => &span.attributes,
            Subject::Log(log) => &log.attributes,
            Subject::DataPoint { attributes, .. } => attributes,
        }
    }
}

impl MatchProperties {
    fn has_span_properties(&self) -> bool {
        !(self.services.is_empty() && self.span_names.is_empty() && self.span_kinds.is_empty())
    }

    fn has_log_properties(&self) -> bool {
        !(self.log_bodies.is_empty() && self.log_severity_texts.is_empty() && self.log_severity_number.is_none())
    }

    pub(crate) fn matches(&self, item: &Item<'_>) -> bool {
        let any = |matchers: &[TextMatcher], text: &str| matchers.is_empty() || matchers.iter().any(|m| m.matches(text));
        let own_signal_matches = match &item.subject {
            Subject::Span(span) => {
                !self.has_log_properties()
                    && self.metric_names.is_empty()
                    && (self.services.is_empty() || service_name(item.resource).is_some_and(|name| any(&self.services, &name)))
                    && any(&self.span_names, &span.name)
                    && any(&self.span_kinds, span_kind_name(span.kind))
            }
            Subject::Log(log) => {
                !self.has_span_properties()
                    && self.metric_names.is_empty()
                    && any(&self.log_bodies, &text_of(log.body.as_ref()))
                    && any(&self.log_severity_texts, &log.severity_text)
                    && self.log_severity_number.is_none_or(|m| m.matches(log.severity_number))
            }
            Subject::DataPoint { metric_name, .. } => {
                !self.has_span_properties() && !self.has_log_properties() && any(&self.metric_names, metric_name)
            }
        };
        own_signal_matches
            && (self.libraries.is_empty() || self.libraries.iter().any(|l| l.matches(item.scope)))
            && self
                .resources
                .iter()
                .all(|m| m.matches(item.resource.map_or(&[], |r| &r.attributes)))
            && self.attributes.iter().all(|m| m.matches(item.attributes()))
    }
}

/// The resource's `service.name` in its string form; none when absent.
fn service_name(resource: Option<&Resource>) -> Option<String> {
    let value = crate::pdata::find_attribute(&resource?.attributes, "service.name")?;
    Some(text_of(Some(value)))
}

/// `SPAN_KIND_SERVER` and so on, as the Collector names kinds for matching.
fn span_kind_name(kind: i32) -> &'static str {
    SpanKind::try_from(kind).map_or("", |k| k.as_str_name())
}

/// The string form otelbox uses everywhere (OTTL's `String`): floats in plain decimal, bytes as hex,
/// lists and maps as JSON; a missing value is empty.
fn text_of(value: Option<&AnyValue>) -> String {
    crate::ottl::Value::from_any(value).to_text().unwrap_or_default()
}

/// The text a regexp attribute match looks at: only strings, bools, ints and doubles have one.
fn scalar_text(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(_)
        | any_value::Value::BoolValue(_)
        | any_value::Value::IntValue(_)
        | any_value::Value::DoubleValue(_) => Some(text_of(value)),
        _ => None,
    }
}

fn string_value(text: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text)),
    }
}

fn key_value(key: String, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key,
        value,
        ..Default::default()
    }
}

fn position(attributes: &[KeyValue], key: &str) -> Option<usize> {
    attributes.iter().position(|kv| kv.key == key)
}

/// Sets `key` to `value`, in place when present (keeping the attribute order), else at the end.
fn put(attributes: &mut Vec<KeyValue>, key: &str, value: Option<AnyValue>) {
    match position(attributes, key) {
        Some(i) => attributes[i].value = value,
        None => attributes.push(key_value(key.to_string(), value)),
    }
}

impl Action {
    fn apply(&self, attributes: &mut Vec<KeyValue>) {
        match self {
            Action::Set { key, mode, source } => {
                let value = match source {
                    ValueSource::Value(value) => Some(value.clone()),
                    ValueSource::FromAttribute { from, default } => match (position(attributes, from), default) {
                        (Some(i), _) => attributes[i].value.clone(),
                        (None, Some(default)) => Some(default.clone()),
                        (None, None) => return,
                    },
                    ValueSource::ContextDefault(default) => Some(default.clone()),
                };
                match (position(attributes, key), mode) {
                    (Some(i), SetMode::Update | SetMode::Upsert) => attributes[i].value = value,
                    (None, SetMode::Insert | SetMode::Upsert) => attributes.push(key_value(key.clone(), value)),
                    _ => {}
                }
            }
            Action::Delete { key, pattern } => attributes.retain(|kv| !selects_key(key, pattern, &kv.key)),
            Action::Hash { key, pattern } => {
                for kv in attributes.iter_mut().filter(|kv| selects_key(key, pattern, &kv.key)) {
                    let digest = Sha256::digest(text_of(kv.value.as_ref()).as_bytes());
                    kv.value = Some(string_value(hex::encode(digest)));
                }
            }
            Action::Extract { key, pattern } => {
                let Some(Some(any_value::Value::StringValue(text))) = attributes
                    .iter()
                    .find(|kv| kv.key == *key)
                    .map(|kv| kv.value.as_ref().and_then(|v| v.value.as_ref()))
                else {
                    return;
                };
                let Some(captures) = pattern.captures(text) else { return };
                // A group that took no part in the match extracts as an empty string, as in the Collector.
                let extracted: Vec<(String, String)> = pattern
                    .capture_names()
                    .enumerate()
                    .filter_map(|(i, name)| Some((name?.to_string(), captures.get(i).map_or("", |m| m.as_str()).to_string())))
                    .collect();
                for (name, value) in extracted {
                    put(attributes, &name, Some(string_value(value)));
                }
            }
            Action::Convert { key, to } => {
                if let Some(i) = position(attributes, key) {
                    if let Some(converted) = convert(attributes[i].value.as_ref(), *to) {
                        attributes[i].value = Some(AnyValue { value: Some(converted) });
                    }
                }
            }
        }
    }
}

fn selects_key(key: &Option<String>, pattern: &Option<Regex>, candidate: &str) -> bool {
    key.as_deref() == Some(candidate) || pattern.as_ref().is_some_and(|p| p.is_match(candidate))
}

/// The converted value, or None to leave the value unchanged (already that type, or not convertible:
/// a non-numeric string, a non-finite double to int, bytes, lists and maps to numbers).
fn convert(value: Option<&AnyValue>, to: ConvertTo) -> Option<any_value::Value> {
    use any_value::Value as V;
    let current = value?.value.as_ref()?;
    match (to, current) {
        (ConvertTo::String, V::StringValue(_)) => None,
        (ConvertTo::String, _) => Some(V::StringValue(text_of(value))),
        (ConvertTo::Int, V::DoubleValue(x)) if x.is_finite() => Some(V::IntValue(x.trunc() as i64)),
        (ConvertTo::Int, V::BoolValue(b)) => Some(V::IntValue(i64::from(*b))),
        (ConvertTo::Int, V::StringValue(s)) => s.parse::<i64>().ok().map(V::IntValue),
        (ConvertTo::Double, V::IntValue(n)) => Some(V::DoubleValue(*n as f64)),
        (ConvertTo::Double, V::BoolValue(b)) => Some(V::DoubleValue(if *b { 1.0 } else { 0.0 })),
        (ConvertTo::Double, V::StringValue(s)) => s.parse::<f64>().ok().map(V::DoubleValue),
        _ => None,
    }
}

fn apply_all(actions: &[Action], attributes: &mut Vec<KeyValue>) {
    for action in actions {
        action.apply(attributes);
    }
}

/// Calls `f` with the attributes of every data point of a metric, whatever its type.
fn for_each_data_point(data: &mut Option<Data>, mut f: impl FnMut(&mut Vec<KeyValue>)) {
    match data {
        Some(Data::Gauge(gauge)) => gauge.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::Sum(sum)) => sum.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::Histogram(histogram)) => histogram.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::Summary(summary)) => summary.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        None => {}
    }
}

pub struct AttributesProcessor {
    config: AttributesConfig,
}

impl AttributesProcessor {
    pub fn new(_id: &ComponentId, config: &AttributesConfig) -> Self {
        AttributesProcessor { config: config.clone() }
    }

    /// Include must match (when given) and exclude must not (when given).
    fn selects(&self, item: &Item<'_>) -> bool {
        self.config.include.as_ref().is_none_or(|m| m.matches(item)) && !self.config.exclude.as_ref().is_some_and(|m| m.matches(item))
    }
}

impl ItemProcessor for AttributesProcessor {
    fn process_traces(&self, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        for resource_spans in &mut data.resource_spans {
            let resource = resource_spans.resource.as_ref();
            for scope_spans in &mut resource_spans.scope_spans {
                let scope = scope_spans.scope.as_ref();
                for span in &mut scope_spans.spans {
                    if self.selects(&Item {
                        resource,
                        scope,
                        subject: Subject::Span(span),
                    }) {
                        apply_all(&self.config.actions, &mut span.attributes);
                    }
                }
            }
        }
        Ok(())
    }

    fn process_metrics(&self, data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        for resource_metrics in &mut data.resource_metrics {
            let resource = resource_metrics.resource.as_ref();
            for scope_metrics in &mut resource_metrics.scope_metrics {
                let scope = scope_metrics.scope.as_ref();
                for metric in &mut scope_metrics.metrics {
                    let metric_name = metric.name.as_str();
                    for_each_data_point(&mut metric.data, |attributes| {
                        let item = Item {
                            resource,
                            scope,
                            subject: Subject::DataPoint {
                                metric_name,
                                attributes: attributes.as_slice(),
                            },
                        };
                        if self.selects(&item) {
                            apply_all(&self.config.actions, attributes);
                        }
                    });
                }
            }
        }
        Ok(())
    }

    fn process_logs(&self, data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        for resource_logs in &mut data.resource_logs {
            let resource = resource_logs.resource.as_ref();
            for scope_logs in &mut resource_logs.scope_logs {
                let scope = scope_logs.scope.as_ref();
                for log in &mut scope_logs.log_records {
                    if self.selects(&Item {
                        resource,
                        scope,
                        subject: Subject::Log(log),
                    }) {
                        apply_all(&self.config.actions, &mut log.attributes);
                    }
                }
            }
        }
        Ok(())
    }
}

pub struct ResourceProcessor {
    actions: Vec<Action>,
}

impl ResourceProcessor {
    pub fn new(_id: &ComponentId, config: &ResourceConfig) -> Self {
        ResourceProcessor {
            actions: config.actions.clone(),
        }
    }
}

impl ResourceEditor for ResourceProcessor {
    /// An absent resource is an empty one (as in the Collector), but it stays absent when the
    /// actions add nothing, so unchanged data encodes the same.
    fn edit(&self, resource: &mut Option<Resource>) {
        let was_absent = resource.is_none();
        let target = resource.get_or_insert_with(Resource::default);
        apply_all(&self.actions, &mut target.attributes);
        if was_absent && target.attributes.is_empty() {
            *resource = None;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

pub fn parse_attributes(p: &mut Parser, value: &Value, path: &str) -> AttributesConfig {
    let mut config = AttributesConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["actions", "include", "exclude"], path);
    config.actions = parse_actions(p, body, "actions", path);
    for (key, slot) in [("include", &mut config.include), ("exclude", &mut config.exclude)] {
        if let Some(block) = body.get(key).filter(|v| !v.is_null()) {
            *slot = parse_match_properties(p, block, &format!("{path}.{key}")).map(Box::new);
        }
    }
    config
}

pub fn parse_resource(p: &mut Parser, value: &Value, path: &str) -> ResourceConfig {
    let Some(body) = p.mapping(Some(value), path) else {
        return ResourceConfig::default();
    };
    p.only_keys(body, &["attributes"], path);
    ResourceConfig {
        actions: parse_actions(p, body, "attributes", path),
    }
}

/// The action list under `key` of `body`; a processor without actions would do nothing, so it is
/// refused (most likely a misplaced or misspelled list).
fn parse_actions(p: &mut Parser, body: &Mapping, key: &str, path: &str) -> Vec<Action> {
    let list_path = format!("{path}.{key}");
    match body.get(key) {
        None | Some(Value::Null) => {
            p.error(
                path,
                format!("{key} is required: a list of actions like {{ key: deployment.environment, value: dev, action: insert }}"),
            );
            return Vec::new();
        }
        Some(Value::Sequence(items)) if items.is_empty() => {
            p.error(&list_path, "must have at least one action");
            return Vec::new();
        }
        _ => {}
    }
    p.list(body.get(key), &list_path)
        .into_iter()
        .filter_map(|(at, item)| parse_action(p, item, &at))
        .collect()
}

fn parse_action(p: &mut Parser, value: &Value, path: &str) -> Option<Action> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(body, &ACTION_KEYS, path);
    let given = |name: &str| body.get(name).filter(|v| !v.is_null());
    let at = |name: &str| format!("{path}.{name}");

    if given("from_context").is_some() && given("default_value").is_none() {
        p.error(
            &at("from_context"),
            "is not supported without default_value: otelbox's pipelines carry no request context (client metadata or auth), so only the default could be set; use value, from_attribute, or add default_value",
        );
    }
    let Some(action) = given("action") else {
        p.error(
            path,
            "action is required (insert, update, upsert, delete, hash, extract or convert)",
        );
        return None;
    };
    let action = p.string(action, &at("action"))?.to_ascii_lowercase();
    let key = match given("key") {
        Some(v) => match p.string(v, &at("key"))? {
            key if key.is_empty() => {
                p.error(&at("key"), "must not be empty");
                return None;
            }
            key => Some(key),
        },
        None => None,
    };
    let used: &[&str] = match action.as_str() {
        "insert" | "update" | "upsert" => &["value", "from_attribute", "from_context", "default_value"],
        "delete" | "hash" | "extract" => &["pattern"],
        "convert" => &["converted_type"],
        other => {
            p.error(
                &at("action"),
                format!("unknown action \"{other}\" (expected insert, update, upsert, delete, hash, extract or convert)"),
            );
            return None;
        }
    };
    let mut unused = false;
    for field in ["value", "from_attribute", "default_value", "pattern", "converted_type"] {
        if given(field).is_some() && !used.contains(&field) {
            p.error(&at(field), format!("is not used by the {action} action"));
            unused = true;
        }
    }
    let require_key = |p: &mut Parser| {
        if key.is_none() {
            p.error(path, format!("key is required for the {action} action"));
        }
        key.clone()
    };
    let parsed = match action.as_str() {
        "insert" | "update" | "upsert" => {
            let key = require_key(p);
            let default = given("default_value").and_then(|v| any_value(p, v, &at("default_value")));
            if given("default_value").is_some() && given("value").is_some() {
                p.error(&at("default_value"), "is used with from_attribute or from_context, not with value");
            }
            let source = match (given("value"), given("from_attribute"), given("from_context")) {
                (Some(_), Some(_), _) | (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                    p.error(path, "give one of value, from_attribute and from_context");
                    None
                }
                (Some(v), None, None) => any_value(p, v, &at("value")).map(ValueSource::Value),
                (None, Some(v), None) => match p.string(v, &at("from_attribute"))? {
                    from if from.is_empty() => {
                        p.error(&at("from_attribute"), "must not be empty");
                        None
                    }
                    from => Some(ValueSource::FromAttribute { from, default }),
                },
                // Without default_value, from_context has had its own error already.
                (None, None, Some(_)) => default.map(ValueSource::ContextDefault),
                (None, None, None) => {
                    p.error(path, format!("the {action} action needs value or from_attribute"));
                    None
                }
            };
            let mode = match action.as_str() {
                "insert" => SetMode::Insert,
                "update" => SetMode::Update,
                _ => SetMode::Upsert,
            };
            Action::Set {
                key: key?,
                mode,
                source: source?,
            }
        }
        "delete" | "hash" => {
            let pattern = match given("pattern") {
                Some(Value::String(text)) if text.is_empty() => {
                    p.error(&at("pattern"), format!("must not be empty (it would {action} every attribute)"));
                    return None;
                }
                Some(v) => Some(p.regex(v, &at("pattern"))?),
                None => None,
            };
            if key.is_none() && pattern.is_none() {
                p.error(path, format!("the {action} action needs key, pattern or both"));
                return None;
            }
            if action == "delete" {
                Action::Delete { key, pattern }
            } else {
                Action::Hash { key, pattern }
            }
        }
        "extract" => {
            let key = require_key(p);
            let Some(pattern) = given("pattern") else {
                p.error(
                    path,
                    "pattern is required for the extract action: a regular expression with named groups like ^(?P<scheme>\\w+)://",
                );
                return None;
            };
            let pattern = p.regex(pattern, &at("pattern"))?;
            let names: Vec<Option<&str>> = pattern.capture_names().skip(1).collect();
            if names.is_empty() {
                p.error(
                    &at("pattern"),
                    "has no named groups: name each value to extract, like (?P<host>[^/]+)",
                );
                return None;
            }
            if names.contains(&None) {
                p.error(
                    &at("pattern"),
                    "has a group without a name: name it like (?P<host>...) or make it non-capturing with (?:...)",
                );
                return None;
            }
            Action::Extract { key: key?, pattern }
        }
        _ => {
            let key = require_key(p);
            let Some(converted_type) = given("converted_type") else {
                p.error(path, "converted_type is required for the convert action (int, double or string)");
                return None;
            };
            let to = match p.string(converted_type, &at("converted_type"))?.as_str() {
                "int" => ConvertTo::Int,
                "double" => ConvertTo::Double,
                "string" => ConvertTo::String,
                other => {
                    p.error(&at("converted_type"), format!("must be int, double or string, got \"{other}\""));
                    return None;
                }
            };
            Action::Convert { key: key?, to }
        }
    };
    (!unused).then_some(parsed)
}

/// A YAML value as the attribute value it sets or matches: strings, ints, doubles and bools map to
/// their OTLP types; lists and mappings to arrays and key-value lists (as the Collector allows).
fn any_value(p: &mut Parser, value: &Value, path: &str) -> Option<AnyValue> {
    use any_value::Value as V;
    let inner = match value {
        Value::Bool(b) => V::BoolValue(*b),
        Value::String(s) => V::StringValue(s.clone()),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => V::IntValue(i),
            (None, _) if n.is_u64() => {
                p.error(path, "is too large for a 64-bit integer");
                return None;
            }
            (None, Some(x)) => V::DoubleValue(x),
            (None, None) => {
                p.error(path, "is not a number otelbox can represent");
                return None;
            }
        },
        Value::Sequence(items) => {
            let values: Vec<Option<AnyValue>> = items
                .iter()
                .enumerate()
                .map(|(i, v)| any_value(p, v, &format!("{path}[{i}]")))
                .collect();
            V::ArrayValue(ArrayValue {
                values: values.into_iter().collect::<Option<Vec<_>>>()?,
            })
        }
        Value::Mapping(mapping) => {
            let mut values = Vec::new();
            let mut ok = true;
            for (k, v) in mapping {
                let Some(key) = k.as_str() else {
                    p.error(path, "keys must be strings");
                    ok = false;
                    continue;
                };
                match any_value(p, v, &format!("{path}.{key}")) {
                    Some(value) => values.push(key_value(key.to_string(), Some(value))),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            V::KvlistValue(KeyValueList { values })
        }
        Value::Null => {
            p.error(path, "expected a value, got nothing");
            return None;
        }
        Value::Tagged(_) => {
            p.error(path, "expected a string, number, boolean, list or mapping, got a tagged value");
            return None;
        }
    };
    Some(AnyValue { value: Some(inner) })
}

pub(crate) fn parse_match_properties(p: &mut Parser, value: &Value, path: &str) -> Option<MatchProperties> {
    let body = p.mapping(Some(value), path)?;
    let mut known = vec!["match_type"];
    known.extend(MATCH_PROPERTIES);
    p.only_keys(body, &known, path);
    let given = |name: &str| body.get(name).filter(|v| !v.is_null());
    let at = |name: &str| format!("{path}.{name}");

    let match_type = match given("match_type") {
        None => {
            p.error(path, "match_type is required (strict or regexp)");
            None
        }
        Some(v) => match p.string(v, &at("match_type")).as_deref() {
            Some("strict") => Some(MatchType::Strict),
            Some("regexp") => Some(MatchType::Regexp),
            Some(other) => {
                p.error(&at("match_type"), format!("must be strict or regexp, got \"{other}\""));
                None
            }
            None => None,
        },
    };
    // Without a valid match type the rest is still checked (as strict), so every error shows at once.
    let mode = match_type.unwrap_or(MatchType::Strict);
    let mut properties = MatchProperties {
        services: text_matchers(p, body.get("services"), &at("services"), mode),
        span_names: text_matchers(p, body.get("span_names"), &at("span_names"), mode),
        span_kinds: text_matchers(p, body.get("span_kinds"), &at("span_kinds"), mode),
        attributes: attribute_matchers(p, body.get("attributes"), &at("attributes"), mode),
        resources: attribute_matchers(p, body.get("resources"), &at("resources"), mode),
        libraries: library_matchers(p, body.get("libraries"), &at("libraries"), mode),
        log_bodies: text_matchers(p, body.get("log_bodies"), &at("log_bodies"), mode),
        log_severity_texts: text_matchers(p, body.get("log_severity_texts"), &at("log_severity_texts"), mode),
        log_severity_number: None,
        metric_names: text_matchers(p, body.get("metric_names"), &at("metric_names"), mode),
    };
    if let Some(v) = given("log_severity_number") {
        properties.log_severity_number = severity_number_matcher(p, v, &at("log_severity_number"));
    }
    if mode == MatchType::Strict {
        for (i, kind) in properties.span_kinds.iter().enumerate() {
            if let TextMatcher::Strict(name) = kind {
                if !SPAN_KIND_NAMES.contains(&name.as_str()) {
                    p.error(
                        &format!("{path}.span_kinds[{i}]"),
                        format!("\"{name}\" is not a span kind (expected one of: {})", SPAN_KIND_NAMES.join(", ")),
                    );
                }
            }
        }
    }
    // An empty list counts as not given (as in the Collector); one whose entries failed has its own errors.
    let nothing_given = MATCH_PROPERTIES
        .iter()
        .all(|name| given(name).is_none_or(|v| v.as_sequence().is_some_and(|items| items.is_empty())));
    if nothing_given {
        p.error(
            path,
            format!("needs at least one property to match: {}", MATCH_PROPERTIES.join(", ")),
        );
    }
    match_type.map(|_| properties)
}

fn text_matcher(p: &mut Parser, value: &Value, path: &str, mode: MatchType) -> Option<TextMatcher> {
    match mode {
        MatchType::Strict => p.string(value, path).map(TextMatcher::Strict),
        MatchType::Regexp => p.regex(value, path).map(TextMatcher::Regexp),
    }
}

pub(crate) fn text_matchers(p: &mut Parser, value: Option<&Value>, path: &str, mode: MatchType) -> Vec<TextMatcher> {
    p.list(value, path)
        .into_iter()
        .filter_map(|(at, v)| text_matcher(p, v, &at, mode))
        .collect()
}

pub(crate) fn attribute_matchers(p: &mut Parser, value: Option<&Value>, path: &str, mode: MatchType) -> Vec<AttributeMatcher> {
    let mut matchers = Vec::new();
    for (at, item) in p.list(value, path) {
        let Some(body) = p.mapping(Some(item), &at) else { continue };
        p.only_keys(body, &["key", "value"], &at);
        let key = match body.get("key") {
            None | Some(Value::Null) => {
                p.error(&at, "key is required");
                continue;
            }
            Some(v) => match p.string(v, &format!("{at}.key")) {
                Some(key) if key.is_empty() => {
                    p.error(&format!("{at}.key"), "must not be empty");
                    continue;
                }
                Some(key) => key,
                None => continue,
            },
        };
        let value_path = format!("{at}.value");
        let value = match (body.get("value").filter(|v| !v.is_null()), mode) {
            (None, _) => Some(ValueMatcher::Present),
            (Some(v @ Value::String(_)), MatchType::Regexp) => p.regex(v, &value_path).map(ValueMatcher::Regexp),
            (Some(_), MatchType::Regexp) => {
                p.error(&value_path, "must be a string (a regular expression) with match_type regexp");
                None
            }
            (Some(v), MatchType::Strict) => any_value(p, v, &value_path).map(ValueMatcher::Equals),
        };
        if let Some(value) = value {
            matchers.push(AttributeMatcher { key, value });
        }
    }
    matchers
}

pub(crate) fn library_matchers(p: &mut Parser, value: Option<&Value>, path: &str, mode: MatchType) -> Vec<LibraryMatcher> {
    let mut matchers = Vec::new();
    for (at, item) in p.list(value, path) {
        let Some(body) = p.mapping(Some(item), &at) else { continue };
        p.only_keys(body, &["name", "version"], &at);
        let Some(name) = body.get("name").filter(|v| !v.is_null()) else {
            p.error(&at, "name is required");
            continue;
        };
        let name = text_matcher(p, name, &format!("{at}.name"), mode);
        let version = match body.get("version").filter(|v| !v.is_null()) {
            Some(v) => match text_matcher(p, v, &format!("{at}.version"), mode) {
                Some(version) => Some(version),
                None => continue,
            },
            None => None,
        };
        if let Some(name) = name {
            matchers.push(LibraryMatcher { name, version });
        }
    }
    matchers
}

pub(crate) fn severity_number_matcher(p: &mut Parser, value: &Value, path: &str) -> Option<SeverityNumberMatcher> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(body, &["min", "match_undefined"], path);
    let min = match body.get("min").filter(|v| !v.is_null()) {
        None => 0,
        Some(v) => {
            let min = match v {
                Value::Number(n) => n.as_i64().filter(|n| (1..=24).contains(n)).map(|n| n as i32),
                Value::String(s) => severity_number(s),
                _ => None,
            };
            match min {
                Some(min) => min,
                None => {
                    p.error(
                        &format!("{path}.min"),
                        "expected a severity like INFO, WARN2 or SEVERITY_NUMBER_ERROR, or a number from 1 to 24",
                    );
                    return None;
                }
            }
        }
    };
    let match_undefined = match body.get("match_undefined").filter(|v| !v.is_null()) {
        Some(v) => p.boolean(v, &format!("{path}.match_undefined"))?,
        None => false,
    };
    Some(SeverityNumberMatcher { min, match_undefined })
}

/// `INFO`, `warn2`, `SEVERITY_NUMBER_ERROR3` or `"17"` as its number (1 to 24).
fn severity_number(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (1..=24).contains(&n).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SEVERITY_NUMBER_").unwrap_or(&upper);
    let (base, step) = match name.char_indices().last() {
        Some((i, c @ '2'..='4')) => (&name[..i], c as i32 - '1' as i32),
        _ => (name, 0),
    };
    let first = match base {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" => 13,
        "ERROR" => 17,
        "FATAL" => 21,
        _ => return None,
    };
    Some(first + step)
}

#[cfg(test)]
mod tests;
