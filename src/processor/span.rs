//! The `span` processor (the Collector's contrib `spanprocessor`): on the spans an optional
//! include/exclude block selects, it renames each span from its attribute values
//! (`name.from_attributes`, joined by `name.separator`), then extracts attributes from the name with
//! regular expressions (`name.to_attributes`), then sets the status (`status`). Traces only.
//!
//! Differences from the Collector: a rule's named group that took no part in the match is skipped, and a
//! group nested in another gets its attribute but no placeholder (the Collector slices out of bounds on
//! both); every capturing group of a rule must be named (an unnamed one would add an attribute with an
//! empty key); `metric_names` in an include/exclude block is an error rather than ignored; a resource
//! without `service.name` matches no `services` entry (the Collector matches `<nil-service-name>`).

use crate::config::{ComponentId, Parser, Settings};
use crate::pdata::Signal;
use crate::pipeline::{AnyConsumer, ItemProcessor, PipelineError};
use crate::processor::attributes::{
    attribute_matchers, library_matchers, text_matchers, Item, MatchProperties, MatchType, Subject, TextMatcher, ValueMatcher,
    SPAN_KIND_NAMES,
};
use crate::processor::{ProcessorContext, ProcessorFactory, Stage};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use regex::Regex;
use serde_yaml_ng::{Mapping, Value};
use std::sync::Arc;

pub struct Factory;
// It edits span names and statuses, which only traces have.
crate::component_type!(Factory, "span", &[Signal::Traces], parse);

impl ProcessorFactory for Factory {
    fn build(&self, context: &ProcessorContext<'_>, settings: &Settings, _next: AnyConsumer) -> anyhow::Result<Stage> {
        Ok(Stage::Items(Arc::new(SpanProcessor::new(context.id, settings.get()))))
    }
}

/// The properties an include or exclude block matches spans by (besides `match_type`).
const SPAN_PROPERTIES: [&str; 6] = ["services", "span_names", "span_kinds", "attributes", "resources", "libraries"];

/// Properties of the Collector's shared match block that belong to other signals: refused by name.
const OTHER_SIGNAL_PROPERTIES: [&str; 4] = ["log_bodies", "log_severity_texts", "log_severity_number", "metric_names"];

#[derive(Clone, Debug, Default)]
pub struct SpanConfig {
    /// When given, only spans it matches are processed.
    pub include: Option<SpanMatch>,
    /// When given, spans it matches are left alone (checked after `include`).
    pub exclude: Option<SpanMatch>,
    /// `name.from_attributes`: the keys whose values, in this order, make the new name; a span
    /// lacking any of them keeps its name.
    pub from_attributes: Vec<String>,
    /// `name.separator`, put between those values (default none).
    pub separator: String,
    /// `name.to_attributes`, run after `from_attributes`.
    pub to_attributes: Option<ToAttributes>,
    /// `status`, set last.
    pub status: Option<SetStatus>,
}

#[derive(Clone, Debug)]
pub struct ToAttributes {
    /// Tried in order, each on the name the previous one left; every capturing group is named.
    pub rules: Vec<Regex>,
    /// Stop after the first rule that matches.
    pub break_after_match: bool,
    /// Extract the attributes but leave the name as it was.
    pub keep_original_name: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SetStatus {
    pub code: StatusCode,
    /// Non-empty only with `Error` (validated); empty clears the message, as in the Collector.
    pub description: String,
}

/// An include or exclude block: the attributes processor's match properties, of which a span block
/// may use `services`, `span_names`, `span_kinds`, `attributes`, `resources` and `libraries`.
pub type SpanMatch = MatchProperties;

/// Whether a block matches a span with its resource and scope.
fn block_matches(block: &SpanMatch, resource: Option<&Resource>, scope: Option<&InstrumentationScope>, span: &Span) -> bool {
    block.matches(&Item {
        resource,
        scope,
        subject: Subject::Span(span),
    })
}

/// The text of a string, bool, int or double, as the Collector writes it into a name and matches it
/// with a regexp (floats in plain decimal); other values (bytes, lists, maps, empty) have none.
fn scalar_text(value: Option<&AnyValue>) -> Option<String> {
    use any_value::Value as V;
    match value?.value.as_ref()? {
        V::StringValue(s) => Some(s.clone()),
        V::BoolValue(b) => Some(b.to_string()),
        V::IntValue(n) => Some(n.to_string()),
        V::DoubleValue(x) => Some(x.to_string()),
        _ => None,
    }
}

/// Sets `key` to a string, in place when present (keeping the attribute order), else at the end.
fn upsert_string(attributes: &mut Vec<KeyValue>, key: String, value: String) {
    let value = Some(AnyValue {
        value: Some(any_value::Value::StringValue(value)),
    });
    match attributes.iter().position(|kv| kv.key == key) {
        Some(i) => attributes[i].value = value,
        None => attributes.push(KeyValue {
            key,
            value,
            ..Default::default()
        }),
    }
}

impl ToAttributes {
    fn apply(&self, span: &mut Span) {
        // As in the Collector, an empty name is left alone even by a rule that matches it.
        if span.name.is_empty() {
            return;
        }
        for rule in &self.rules {
            let Some((renamed, extracted)) = extract(rule, &span.name) else {
                continue;
            };
            for (key, value) in extracted {
                upsert_string(&mut span.attributes, key, value);
            }
            if !self.keep_original_name {
                span.name = renamed;
            }
            if self.break_after_match {
                break;
            }
        }
    }
}

/// For a rule that matches `name`: the name with each named group's text replaced by `{group}`, and
/// each group's name and text. A group that took no part in the match is left out; a group inside one
/// already replaced is extracted but has no text of its own left to replace.
fn extract(rule: &Regex, name: &str) -> Option<(String, Vec<(String, String)>)> {
    let captures = rule.captures(name)?;
    let mut renamed = String::with_capacity(name.len());
    let mut copied = 0;
    let mut extracted = Vec::new();
    for (i, group_name) in rule.capture_names().enumerate() {
        let (Some(group_name), Some(group)) = (group_name, captures.get(i)) else {
            continue;
        };
        extracted.push((group_name.to_string(), group.as_str().to_string()));
        if group.start() >= copied {
            renamed.push_str(&name[copied..group.start()]);
            renamed.push('{');
            renamed.push_str(group_name);
            renamed.push('}');
            copied = group.end();
        }
    }
    renamed.push_str(&name[copied..]);
    Some((renamed, extracted))
}

pub struct SpanProcessor {
    config: SpanConfig,
}

impl SpanProcessor {
    pub fn new(_id: &ComponentId, config: &SpanConfig) -> Self {
        SpanProcessor { config: config.clone() }
    }

    /// Include must match (when given) and exclude must not (when given), on the span as it arrived.
    fn selects(&self, resource: Option<&Resource>, scope: Option<&InstrumentationScope>, span: &Span) -> bool {
        self.config.include.as_ref().is_none_or(|m| block_matches(m, resource, scope, span))
            && !self
                .config
                .exclude
                .as_ref()
                .is_some_and(|m| block_matches(m, resource, scope, span))
    }

    fn edit(&self, span: &mut Span) {
        if let Some(name) = self.name_from_attributes(&span.attributes) {
            span.name = name;
        }
        if let Some(to_attributes) = &self.config.to_attributes {
            to_attributes.apply(span);
        }
        if let Some(status) = &self.config.status {
            span.status = Some(Status {
                message: status.description.clone(),
                code: status.code as i32,
            });
        }
    }

    /// The values of `from_attributes` joined by the separator; none when a key is missing. A value
    /// without scalar text adds nothing but its separator, as in the Collector.
    fn name_from_attributes(&self, attributes: &[KeyValue]) -> Option<String> {
        if self.config.from_attributes.is_empty() {
            return None;
        }
        let mut name = String::new();
        for (i, key) in self.config.from_attributes.iter().enumerate() {
            let kv = attributes.iter().find(|kv| kv.key == *key)?;
            if i > 0 {
                name.push_str(&self.config.separator);
            }
            name.push_str(&scalar_text(kv.value.as_ref()).unwrap_or_default());
        }
        Some(name)
    }
}

impl ItemProcessor for SpanProcessor {
    fn process_traces(&self, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        for resource_spans in &mut data.resource_spans {
            let resource = resource_spans.resource.as_ref();
            for scope_spans in &mut resource_spans.scope_spans {
                let scope = scope_spans.scope.as_ref();
                for span in &mut scope_spans.spans {
                    if self.selects(resource, scope, span) {
                        self.edit(span);
                    }
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Null or an empty list: what the Collector treats as not given.
fn is_empty(value: &Value) -> bool {
    value.is_null() || value.as_sequence().is_some_and(|items| items.is_empty())
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> SpanConfig {
    let mut config = SpanConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["include", "exclude", "name", "status"], path);
    let given = |key: &str| body.get(key).filter(|v| !v.is_null());
    if let Some(block) = given("include") {
        config.include = parse_match(p, block, &format!("{path}.include"));
    }
    if let Some(block) = given("exclude") {
        config.exclude = parse_match(p, block, &format!("{path}.exclude"));
    }
    // Whether the YAML asks for a rename, read from the keys so that an entry with its own error does
    // not also count as "nothing to do".
    let mut renames = false;
    let name_path = format!("{path}.name");
    if let Some(name) = p.mapping(body.get("name"), &name_path) {
        p.only_keys(name, &["from_attributes", "separator", "to_attributes"], &name_path);
        renames |= name.get("from_attributes").is_some_and(|v| !is_empty(v));
        config.from_attributes = parse_from_attributes(p, name.get("from_attributes"), &format!("{name_path}.from_attributes"));
        if let Some(v) = name.get("separator").filter(|v| !v.is_null()) {
            config.separator = p.string(v, &format!("{name_path}.separator")).unwrap_or_default();
        }
        if let Some(v) = name.get("to_attributes").filter(|v| !v.is_null()) {
            renames |= v.get("rules").is_some_and(|rules| !is_empty(rules));
            config.to_attributes = parse_to_attributes(p, v, &format!("{name_path}.to_attributes"));
        }
    }
    if let Some(status) = given("status") {
        config.status = parse_status(p, status, &format!("{path}.status"));
    }
    if !renames && given("status").is_none() {
        p.error(
            path,
            "has nothing to do: give name.from_attributes, name.to_attributes.rules or status",
        );
    }
    config
}

fn parse_from_attributes(p: &mut Parser, value: Option<&Value>, path: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for (at, item) in p.list(value, path) {
        match p.string(item, &at) {
            Some(key) if key.is_empty() => p.error(&at, "must not be empty (an attribute key)"),
            Some(key) => keys.push(key),
            None => {}
        }
    }
    keys
}

fn parse_to_attributes(p: &mut Parser, value: &Value, path: &str) -> Option<ToAttributes> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(body, &["rules", "break_after_match", "keep_original_name"], path);
    let rules: Vec<Regex> = p
        .list(body.get("rules"), &format!("{path}.rules"))
        .into_iter()
        .filter_map(|(at, rule)| parse_rule(p, rule, &at))
        .collect();
    Some(ToAttributes {
        rules,
        break_after_match: flag(p, body, "break_after_match", path),
        keep_original_name: flag(p, body, "keep_original_name", path),
    })
}

fn parse_rule(p: &mut Parser, value: &Value, path: &str) -> Option<Regex> {
    let rule = p.regex(value, path)?;
    // Group 0 is the whole match, which has no name.
    if rule.capture_names().skip(1).any(|name| name.is_none()) {
        p.error(
            path,
            "has a group without a name: name it like (?P<documentId>...) or make it non-capturing with (?:...)",
        );
        return None;
    }
    Some(rule)
}

/// A boolean that defaults to false.
fn flag(p: &mut Parser, body: &Mapping, key: &str, path: &str) -> bool {
    match body.get(key).filter(|v| !v.is_null()) {
        Some(v) => p.boolean(v, &format!("{path}.{key}")).unwrap_or(false),
        None => false,
    }
}

fn parse_status(p: &mut Parser, value: &Value, path: &str) -> Option<SetStatus> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(body, &["code", "description"], path);
    let code_path = format!("{path}.code");
    let code_text = match body.get("code").filter(|v| !v.is_null()) {
        Some(v) => p.string(v, &code_path),
        None => {
            p.error(path, "code is required (Ok, Error or Unset)");
            None
        }
    };
    // Spelled as in the Collector, which compares them case-sensitively.
    let code = match code_text.as_deref() {
        Some("Ok") => Some(StatusCode::Ok),
        Some("Error") => Some(StatusCode::Error),
        Some("Unset") => Some(StatusCode::Unset),
        Some(other) => {
            p.error(&code_path, format!("must be Ok, Error or Unset, got \"{other}\""));
            None
        }
        None => None,
    };
    let description_path = format!("{path}.description");
    let description = match body.get("description").filter(|v| !v.is_null()) {
        Some(v) => p.string(v, &description_path).unwrap_or_default(),
        None => String::new(),
    };
    if !description.is_empty() && code.is_some_and(|c| c != StatusCode::Error) {
        p.error(
            &description_path,
            format!("is allowed only with code Error, not {}", code_text.as_deref().unwrap_or_default()),
        );
        return None;
    }
    code.map(|code| SetStatus { code, description })
}

fn parse_match(p: &mut Parser, value: &Value, path: &str) -> Option<SpanMatch> {
    let body = p.mapping(Some(value), path)?;
    let known: Vec<&str> = ["match_type"]
        .into_iter()
        .chain(SPAN_PROPERTIES)
        .chain(OTHER_SIGNAL_PROPERTIES)
        .collect();
    p.only_keys(body, &known, path);
    let given = |name: &str| body.get(name).filter(|v| !is_empty(v));
    let at = |name: &str| format!("{path}.{name}");

    for name in OTHER_SIGNAL_PROPERTIES {
        if given(name).is_some() {
            p.error(
                &at(name),
                format!(
                    "does not apply to spans (the span processor matches {})",
                    SPAN_PROPERTIES.join(", ")
                ),
            );
        }
    }
    let match_type_given = body.get("match_type").is_some_and(|v| !v.is_null());
    let match_type = match body.get("match_type").filter(|v| !v.is_null()) {
        None => None,
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
    let properties = SpanMatch {
        services: text_matchers(p, body.get("services"), &at("services"), mode),
        span_names: text_matchers(p, body.get("span_names"), &at("span_names"), mode),
        span_kinds: text_matchers(p, body.get("span_kinds"), &at("span_kinds"), mode),
        attributes: attribute_matchers(p, body.get("attributes"), &at("attributes"), mode),
        resources: attribute_matchers(p, body.get("resources"), &at("resources"), mode),
        libraries: library_matchers(p, body.get("libraries"), &at("libraries"), mode),
        ..SpanMatch::default()
    };
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
    if SPAN_PROPERTIES.into_iter().all(|name| given(name).is_none()) {
        p.error(
            path,
            format!("needs at least one property to match spans: {}", SPAN_PROPERTIES.join(", ")),
        );
    }
    // As in the Collector, only keys present (attributes or resources without a value) can be
    // matched without saying how.
    let needs_match_type = !(properties.services.is_empty()
        && properties.span_names.is_empty()
        && properties.span_kinds.is_empty()
        && properties.libraries.is_empty())
        || properties
            .attributes
            .iter()
            .chain(&properties.resources)
            .any(|m| !matches!(m.value, ValueMatcher::Present));
    if !match_type_given && needs_match_type {
        p.error(path, "match_type is required (strict or regexp)");
    }
    (!match_type_given || match_type.is_some()).then_some(properties)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    const PATH: &str = "processors.span";

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).expect("test YAML parses")
    }

    /// The processor for a body that must be valid.
    fn processor(body: &str) -> SpanProcessor {
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &yaml(body), PATH);
        assert_eq!(errors, Vec::<String>::new(), "{body}");
        SpanProcessor::new(&ComponentId::parse("span").unwrap(), &config)
    }

    fn parse_errors(body: &str) -> Vec<String> {
        let mut errors = Vec::new();
        parse(&mut Parser::collecting(&mut errors), &yaml(body), PATH);
        errors
    }

    /// `errors` are exactly one per `expected` entry, each at `PATH` + its suffix and saying its text.
    fn assert_errors(errors: &[String], expected: &[(&str, &str)]) {
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, (suffix, text)) in errors.iter().zip(expected) {
            assert!(error.starts_with(&format!("{PATH}{suffix}: ")), "{error} is not at {PATH}{suffix}");
            assert!(error.contains(text), "{error} does not say {text}");
        }
    }

    fn s(text: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(text.to_string())),
        }
    }

    fn int(n: i64) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::IntValue(n)),
        }
    }

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Some(value),
            ..Default::default()
        }
    }

    fn span(name: &str, kind: SpanKind, attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: name.to_string(),
            kind: kind as i32,
            attributes,
            ..Default::default()
        }
    }

    /// Spans under a resource with these attributes and the scope `name` `version`.
    fn group(resource: Vec<KeyValue>, scope: (&str, &str), spans: Vec<Span>) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.0.to_string(),
                    version: scope.1.to_string(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// Spans of the service `service`, from the scope `golden` 1.0.
    fn service(service: &str, spans: Vec<Span>) -> ResourceSpans {
        group(vec![kv("service.name", s(service))], ("golden", "1.0"), spans)
    }

    /// Runs the processor on one request of these groups; the spans after, in order.
    fn run(processor: &SpanProcessor, groups: Vec<ResourceSpans>) -> Vec<Span> {
        let mut data = ExportTraceServiceRequest { resource_spans: groups };
        processor.process_traces(&mut data).unwrap();
        data.resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }

    fn names(spans: &[Span]) -> Vec<&str> {
        spans.iter().map(|s| s.name.as_str()).collect()
    }

    fn attribute(span: &Span, key: &str) -> Option<AnyValue> {
        crate::pdata::find_attribute(&span.attributes, key).cloned()
    }

    /// The span's status as (code, message); a span without one is unset.
    fn status(span: &Span) -> (i32, String) {
        let status = span.status.clone().unwrap_or_default();
        (status.code, status.message)
    }

    #[test]
    fn from_attributes_joins_values_in_key_order_with_the_separator() {
        let processor = processor("name: { from_attributes: [db.svc, operation, id], separator: '::' }");
        let attributes = vec![kv("id", int(1234)), kv("operation", s("get")), kv("db.svc", s("location"))];
        let spans = run(
            &processor,
            vec![service("shop", vec![span("serviceA", SpanKind::Client, attributes)])],
        );
        assert_eq!(names(&spans), ["location::get::1234"]);
    }

    #[test]
    fn from_attributes_leaves_the_name_when_a_key_is_missing() {
        let processor = processor("name: { from_attributes: [db.svc, operation, id], separator: '::' }");
        let attributes = vec![kv("db.svc", s("location")), kv("id", s("1234"))];
        let spans = run(
            &processor,
            vec![service("shop", vec![span("serviceA", SpanKind::Client, attributes)])],
        );
        assert_eq!(names(&spans), ["serviceA"]);
    }

    #[test]
    fn without_a_separator_values_are_concatenated_and_only_scalars_have_text() {
        let processor = processor("name: { from_attributes: [a, b, c, d, e] }");
        let bytes = AnyValue {
            value: Some(any_value::Value::BytesValue(vec![1, 2])),
        };
        let attributes = vec![
            kv("a", s("x")),
            kv(
                "b",
                AnyValue {
                    value: Some(any_value::Value::BoolValue(true)),
                },
            ),
            kv(
                "c",
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(2.5)),
                },
            ),
            kv("d", bytes),
            kv("e", int(-3)),
        ];
        let spans = run(&processor, vec![service("shop", vec![span("old", SpanKind::Internal, attributes)])]);
        assert_eq!(names(&spans), ["xtrue2.5-3"]);
    }

    #[test]
    fn to_attributes_extracts_named_groups_and_leaves_placeholders_in_the_name() {
        let processor = processor(
            r#"
name:
  to_attributes:
    rules: ['^\/api\/v1\/document\/(?P<documentId>.*)\/update$']
"#,
        );
        let attributes = vec![kv("documentId", int(1)), kv("http.method", s("PUT"))];
        let spans = run(
            &processor,
            vec![service(
                "shop",
                vec![
                    span("/api/v1/document/12345678/update", SpanKind::Server, attributes),
                    span("/api/v1/health", SpanKind::Server, vec![]),
                ],
            )],
        );
        assert_eq!(names(&spans), ["/api/v1/document/{documentId}/update", "/api/v1/health"]);
        // An existing attribute is overwritten in place, as a string.
        assert_eq!(spans[0].attributes, [kv("documentId", s("12345678")), kv("http.method", s("PUT"))]);
        assert!(spans[1].attributes.is_empty());
    }

    #[test]
    fn each_rule_works_on_the_name_the_previous_rule_left_unless_break_after_match() {
        let rules = r#"['^/orders/(?P<order_id>[0-9]+)$', '^/api/(?P<version>v[0-9]+)/', '/document/(?P<documentId>[0-9]+)/']"#;
        let name = "/api/v1/document/123/update";
        for (break_after_match, want_name, want_document) in [
            (false, "/api/{version}/document/{documentId}/update", Some(s("123"))),
            (true, "/api/{version}/document/123/update", None),
        ] {
            let processor = processor(&format!(
                "name: {{ to_attributes: {{ rules: {rules}, break_after_match: {break_after_match} }} }}"
            ));
            let spans = run(&processor, vec![service("shop", vec![span(name, SpanKind::Server, vec![])])]);
            assert_eq!(names(&spans), [want_name], "break_after_match: {break_after_match}");
            assert_eq!(attribute(&spans[0], "version"), Some(s("v1")));
            assert_eq!(attribute(&spans[0], "documentId"), want_document);
            assert_eq!(attribute(&spans[0], "order_id"), None, "the first rule did not match");
        }
    }

    #[test]
    fn keep_original_name_extracts_attributes_and_keeps_the_name() {
        let processor = processor("name: { to_attributes: { rules: ['^(?P<db.system>[a-z]+)\\.query$'], keep_original_name: true } }");
        let spans = run(
            &processor,
            vec![service("shop", vec![span("postgresql.query", SpanKind::Client, vec![])])],
        );
        assert_eq!(names(&spans), ["postgresql.query"]);
        assert_eq!(attribute(&spans[0], "db.system"), Some(s("postgresql")));
    }

    #[test]
    fn from_attributes_runs_before_to_attributes() {
        let processor = processor("name: { from_attributes: [http.route], to_attributes: { rules: ['^/users/(?P<user_id>[0-9]+)$'] } }");
        let spans = run(
            &processor,
            vec![service(
                "shop",
                vec![span("GET", SpanKind::Server, vec![kv("http.route", s("/users/42"))])],
            )],
        );
        assert_eq!(names(&spans), ["/users/{user_id}"]);
        assert_eq!(attribute(&spans[0], "user_id"), Some(s("42")));
    }

    #[test]
    fn a_group_outside_the_match_is_skipped_and_a_nested_group_gets_no_placeholder() {
        // The Collector slices the name out of bounds on both; here neither may panic.
        let processor = processor(r#"name: { to_attributes: { rules: ['^(?P<verb>[A-Z]+ )?/(?P<rest>(?P<kind>[a-z]+)/[0-9]+)$'] } }"#);
        let spans = run(&processor, vec![service("shop", vec![span("/items/7", SpanKind::Server, vec![])])]);
        assert_eq!(names(&spans), ["/{rest}"]);
        assert_eq!(spans[0].attributes, [kv("rest", s("items/7")), kv("kind", s("items"))]);
    }

    #[test]
    fn an_empty_name_is_left_alone_by_rules() {
        let processor = processor("name: { to_attributes: { rules: ['^(?P<all>.*)$'] } }");
        let spans = run(&processor, vec![service("shop", vec![span("", SpanKind::Server, vec![])])]);
        assert_eq!(names(&spans), [""]);
        assert!(spans[0].attributes.is_empty());
    }

    #[test]
    fn status_error_sets_the_description_and_ok_or_unset_clear_the_message() {
        let failed = Span {
            status: Some(Status {
                message: "boom".to_string(),
                code: StatusCode::Error as i32,
            }),
            ..span("failed", SpanKind::Server, vec![])
        };
        let cases = [
            (
                "status: { code: Error, description: 'some error description' }",
                StatusCode::Error,
                "some error description",
            ),
            ("status: { code: Ok }", StatusCode::Ok, ""),
            ("status: { code: Unset }", StatusCode::Unset, ""),
        ];
        for (body, code, message) in cases {
            let spans = run(
                &processor(body),
                vec![service("shop", vec![failed.clone(), span("plain", SpanKind::Server, vec![])])],
            );
            for span in &spans {
                assert_eq!(status(span), (code as i32, message.to_string()), "{body}: {}", span.name);
            }
        }
    }

    #[test]
    fn include_and_exclude_select_spans_as_in_the_collector_example() {
        let processor = processor(
            r#"
include:
  match_type: regexp
  services: ["banks"]
  span_names: ["^(.*?)/(.*?)$"]
exclude:
  match_type: strict
  span_names: ["donot/change"]
name:
  to_attributes:
    rules: ["(?P<operation_website>.*?)$"]
"#,
        );
        let spans = run(
            &processor,
            vec![
                service(
                    "banks-online",
                    vec![
                        span("www.bank.com/login", SpanKind::Server, vec![]),
                        span("donot/change", SpanKind::Server, vec![]),
                        span("no-slash", SpanKind::Server, vec![]),
                    ],
                ),
                service("shop", vec![span("www.shop.com/cart", SpanKind::Server, vec![])]),
                group(vec![], ("golden", "1.0"), vec![span("no/service", SpanKind::Server, vec![])]),
            ],
        );
        assert_eq!(
            names(&spans),
            ["{operation_website}", "donot/change", "no-slash", "www.shop.com/cart", "no/service"]
        );
        assert_eq!(attribute(&spans[0], "operation_website"), Some(s("www.bank.com/login")));
        assert!(spans[1..].iter().all(|s| s.attributes.is_empty()));
    }

    #[test]
    fn strict_attribute_values_match_by_type_and_value() {
        // The Collector's set_status_ok example, with the match_type a value needs.
        let processor =
            processor("include: { match_type: strict, attributes: [{ key: http.status_code, value: 400 }] }\nstatus: { code: Ok }");
        let spans = run(
            &processor,
            vec![service(
                "shop",
                vec![
                    span("int 400", SpanKind::Server, vec![kv("http.status_code", int(400))]),
                    span("string 400", SpanKind::Server, vec![kv("http.status_code", s("400"))]),
                    span("500", SpanKind::Server, vec![kv("http.status_code", int(500))]),
                    span("none", SpanKind::Server, vec![]),
                ],
            )],
        );
        let selected: Vec<bool> = spans.iter().map(|s| s.status.is_some()).collect();
        assert_eq!(selected, [true, false, false, false]);
        assert_eq!(status(&spans[0]), (StatusCode::Ok as i32, String::new()));
    }

    #[test]
    fn attribute_keys_alone_need_no_match_type() {
        let processor = processor("include: { attributes: [{ key: retry }] }\nstatus: { code: Error }");
        let spans = run(
            &processor,
            vec![service(
                "shop",
                vec![
                    span("retried", SpanKind::Client, vec![kv("retry", int(2))]),
                    span("first", SpanKind::Client, vec![]),
                ],
            )],
        );
        assert_eq!(status(&spans[0]).0, StatusCode::Error as i32);
        assert_eq!(spans[1].status, None);
    }

    #[test]
    fn include_by_span_kind_resource_and_library_regexps() {
        let processor = processor(
            r#"
include:
  match_type: regexp
  span_kinds: ['SERVER$']
  resources: [{ key: deployment.environment, value: '^prod' }]
  libraries: [{ name: '^golden$', version: '^1\.' }]
status: { code: Error, description: matched }
"#,
        );
        let prod = || vec![kv("deployment.environment", s("production"))];
        let spans = run(
            &processor,
            vec![
                group(
                    prod(),
                    ("golden", "1.4"),
                    vec![span("server", SpanKind::Server, vec![]), span("client", SpanKind::Client, vec![])],
                ),
                group(
                    vec![kv("deployment.environment", s("staging"))],
                    ("golden", "1.4"),
                    vec![span("staging", SpanKind::Server, vec![])],
                ),
                group(prod(), ("golden", "2.0"), vec![span("library 2", SpanKind::Server, vec![])]),
                group(prod(), ("other", "1.0"), vec![span("other library", SpanKind::Server, vec![])]),
            ],
        );
        let matched: Vec<&str> = spans.iter().filter(|s| s.status.is_some()).map(|s| s.name.as_str()).collect();
        assert_eq!(matched, ["server"]);
        assert_eq!(status(&spans[0]), (StatusCode::Error as i32, "matched".to_string()));
    }

    #[test]
    fn the_testdata_example_renames_by_route_and_extracts_document_ids() {
        let file = yaml(include_str!("testdata/span.yaml"));
        let body = file.get("span").expect("the example configures span");
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), body, PATH);
        assert_eq!(errors, Vec::<String>::new());
        let processor = SpanProcessor::new(&ComponentId::parse("span").unwrap(), &config);
        let spans = run(
            &processor,
            vec![
                service(
                    "checkout",
                    vec![
                        span("PUT", SpanKind::Server, vec![kv("http.route", s("/api/v1/document/42/update"))]),
                        span("SELECT cart", SpanKind::Client, vec![]),
                        span("health", SpanKind::Server, vec![kv("http.route", s("/health"))]),
                    ],
                ),
                service("billing", vec![span("GET", SpanKind::Server, vec![kv("http.route", s("/pay"))])]),
            ],
        );
        assert_eq!(
            names(&spans),
            ["/api/v1/document/{documentId}/update", "SELECT cart", "health", "GET"]
        );
        assert_eq!(attribute(&spans[0], "documentId"), Some(s("42")));
    }

    #[test]
    fn a_processor_with_nothing_to_do_is_an_error() {
        for body in [
            "{}",
            "name: { separator: '::' }",
            "name: { to_attributes: { rules: [] } }",
            "include: { match_type: strict, services: [shop] }",
        ] {
            assert_eq!(
                parse_errors(body),
                [format!(
                    "{PATH}: has nothing to do: give name.from_attributes, name.to_attributes.rules or status"
                )],
                "{body}"
            );
        }
    }

    #[test]
    fn status_code_is_required_spelled_as_in_the_collector_and_description_needs_error() {
        assert_eq!(
            parse_errors("status: { code: error }"),
            [format!("{PATH}.status.code: must be Ok, Error or Unset, got \"error\"")]
        );
        assert_eq!(
            parse_errors("status: { description: oops }"),
            [format!("{PATH}.status: code is required (Ok, Error or Unset)")]
        );
        assert_eq!(
            parse_errors("status: { code: Ok, description: oops }"),
            [format!("{PATH}.status.description: is allowed only with code Error, not Ok")]
        );
    }

    #[test]
    fn rules_must_compile_and_name_every_capturing_group() {
        let errors = parse_errors(
            r#"name: { to_attributes: { rules: ['(unclosed', '^/([0-9]+)/(?P<id>[0-9]+)$', '^/(?:v[0-9]+)/(?P<id>[0-9]+)$'] } }"#,
        );
        assert_errors(
            &errors,
            &[
                (".name.to_attributes.rules[0]", "not a valid regular expression"),
                (".name.to_attributes.rules[1]", "has a group without a name"),
            ],
        );
    }

    #[test]
    fn match_blocks_refuse_other_signals_properties_bad_match_types_and_unknown_span_kinds() {
        let errors = parse_errors(
            r#"
include:
  match_type: strict
  log_bodies: [x]
  span_kinds: [SERVER]
exclude:
  match_type: glob
  span_names: [a]
status: { code: Ok }
"#,
        );
        assert_errors(
            &errors,
            &[
                (".include.log_bodies", "does not apply to spans"),
                (
                    ".include.span_kinds[0]",
                    "\"SERVER\" is not a span kind (expected one of: SPAN_KIND_INTERNAL,",
                ),
                (".exclude.match_type", "must be strict or regexp, got \"glob\""),
            ],
        );
    }

    #[test]
    fn match_blocks_need_a_property_and_a_match_type_for_names_and_values() {
        let errors = parse_errors(
            r#"
include: { services: [shop], attributes: [{ key: retry }] }
exclude: { match_type: strict, span_name: [a] }
status: { code: Ok }
"#,
        );
        assert_errors(
            &errors,
            &[
                (".include", "match_type is required (strict or regexp)"),
                (".exclude.span_name", "unknown key"),
                (".exclude", "needs at least one property to match spans"),
            ],
        );
    }

    #[test]
    fn unknown_keys_are_errors_at_every_level() {
        let errors = parse_errors("name: { from_attribute: [a], to_attributes: { rule: [x] } }\nstatuses: {}");
        assert_errors(
            &errors,
            &[
                (".statuses", "unknown key"),
                (".name.from_attribute", "unknown key"),
                (".name.to_attributes.rule", "unknown key"),
                ("", "has nothing to do"),
            ],
        );
    }
}
