//! The `metricstransform` processor: renames, copies, combines and regroups metrics and edits or
//! aggregates their points' labels, as the Collector's metricstransformprocessor does. Metrics only.
//!
//! ```yaml
//! metricstransform:
//!   transforms:                        # applied in order, to each scope's metrics of a payload
//!     - include: ^system\.cpu\.(.*)$   # a metric name; a regular expression with match_type: regexp
//!       match_type: regexp             # strict (default) | regexp (unanchored, as in Go)
//!       experimental_match_labels: {state: idle}   # only points whose labels match (regexp: by pattern)
//!       action: update                 # update | insert (a copy) | combine (many into one) | group
//!       new_name: system.processor.${1}.stat       # capture groups expand ($1, ${1}, $name, ${name})
//!       operations:                    # applied in order to the resulting metric
//!         - action: update_label       # label (required), new_label, value_actions: [{value, new_value}]
//!           label: state
//!           new_label: cpu.state
//!         - action: aggregate_labels   # label_set (required, [] keeps none), aggregation_type (required)
//!           label_set: [cpu.state]
//!           aggregation_type: sum      # sum | mean | min | max | count | median
//!     - include: ^Web Service \(\*\)/Total (?P<http_method>.*) Requests$
//!       match_type: regexp
//!       action: combine                # new_name and aggregation_type required; each capture group
//!       new_name: iis.requests         # becomes a label (named groups by name, others as $1, $2...)
//!       submatch_case: lower           # lower | upper (absent: as captured)
//!       aggregation_type: sum
//! ```
//!
//! The other operations: `add_label` (`new_label`, `new_value`; points that have the label keep
//! theirs), `delete_label_value` (`label`, `label_value`: drops the points with that value),
//! `toggle_scalar_data_type` (integer points become floating-point and back, truncating),
//! `experimental_scale_value` (`experimental_scale`: multiplies values, and histograms' sums,
//! extremes, bounds and exemplars), `aggregate_label_values` (`label`, `aggregated_values`,
//! `new_value`, `aggregation_type`: the listed values become `new_value`, then points that now
//! agree are merged). `{{version}}` in a `new_value` becomes otelbox's version. Action `group`
//! (`group_resource_labels`, required) moves the matching metrics to a copy of their resource with
//! those attributes added, at the end of the payload (later transforms do not see them).
//!
//! The Collector's rules, kept here:
//! - a metric matches when its name does and, with `experimental_match_labels`, when at least one
//!   point's labels do (a label absent counts as the empty value; only string values compare,
//!   other types as empty); `update` changes the name and runs `add_label`, `delete_label_value`
//!   and the aggregations only when every point matches, and `update_label`, `toggle_scalar_data_type`
//!   and `experimental_scale_value` on the matching points only; `insert`, `combine` and `group`
//!   take only the matching points, and `combine` and `group` remove the metrics they took whole;
//! - a regexp rename whose pattern no longer matches the name, or that expands to nothing, uses
//!   `new_name` as written;
//! - aggregation merges the points with equal labels and time (delta sums and histograms also by
//!   start time, histograms also by bounds, the presence of min and max, and flags): numbers by
//!   `aggregation_type` (integers stay integers: an integer mean is truncated), taking the earliest
//!   start time and the first point's exemplars and flags; histograms always add their counts,
//!   sums and buckets and keep the extreme min and max, whatever `aggregation_type` says; a
//!   histogram point with count 0 adds nothing;
//! - `combine` refuses (with a warning, leaving the metrics as they are) metrics of different
//!   types, units, label keys, temporalities or monotonicity, and summaries;
//! - a metric left without points by the operations is removed, then empty scopes and resources.
//!
//! Where otelbox differs: points are merged in the order they come (the Collector's order is a
//! map's); summaries are never aggregated or combined (they pass unchanged; the Collector empties a
//! lone combined summary); `count` counts a lone point as 1; integer sums saturate instead of
//! wrapping; exponential histograms merge their zero counts too; a partial copy and an aggregated
//! metric keep the metric's `metadata`; a group gets its resource's and scope's schema URLs and is
//! only added when it took metrics; `update_label` to the label's own name changes nothing (the
//! Collector drops the label). Config mistakes the Collector lets pass are refused: a `combine`
//! without `new_name` or `aggregation_type`, aggregations without `aggregation_type`,
//! `aggregate_labels` without `label_set`, `aggregate_label_values` and `delete_label_value`
//! without their fields, unknown keys, and the old `metric_name` key.

use crate::config::{ComponentId, Parser, Settings};
use crate::pdata::{metric_point_count, Signal};
use crate::pipeline::{AnyConsumer, ItemProcessor, PipelineError};
use crate::processor::{ProcessorContext, ProcessorFactory, Stage};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, number_data_point, AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
};
use prost::Message;
use regex::Regex;
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

const DELTA: i32 = AggregationTemporality::Delta as i32;

const TRANSFORM_KEYS: &[&str] = &[
    "include",
    "match_type",
    "experimental_match_labels",
    "action",
    "new_name",
    "group_resource_labels",
    "aggregation_type",
    "submatch_case",
    "operations",
];

const OPERATION_KEYS: &[&str] = &[
    "action",
    "label",
    "new_label",
    "label_set",
    "aggregation_type",
    "aggregated_values",
    "new_value",
    "value_actions",
    "experimental_scale",
    "label_value",
];

const OPERATIONS: &[&str] = &[
    "add_label",
    "update_label",
    "delete_label_value",
    "toggle_scalar_data_type",
    "experimental_scale_value",
    "aggregate_labels",
    "aggregate_label_values",
];

const AGGREGATION_TYPES: &str = "sum, mean, min, max, count or median";

pub struct Factory;
crate::component_type!(Factory, "metricstransform", &[Signal::Metrics], parse);

impl ProcessorFactory for Factory {
    fn build(&self, context: &ProcessorContext<'_>, settings: &Settings, _next: AnyConsumer) -> anyhow::Result<Stage> {
        Ok(Stage::Items(Arc::new(MetricsTransformProcessor::new(context.id, settings.get()))))
    }
}

/// The parsed settings: no transforms by default, as in the Collector.
#[derive(Clone, Debug, Default)]
pub struct MetricsTransformConfig {
    pub transforms: Vec<Transform>,
}

#[derive(Clone, Debug)]
pub struct Transform {
    pub filter: MetricFilter,
    pub action: Action,
    /// Empty: the name stays (update); required for insert and combine.
    pub new_name: String,
    /// How `combine` merges points (required with it).
    pub aggregation_type: Option<AggregationType>,
    pub submatch_case: Option<SubmatchCase>,
    /// The resource attributes `group` adds.
    pub group_resource_labels: Vec<(String, String)>,
    pub operations: Vec<Operation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Update,
    Insert,
    Combine,
    Group,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregationType {
    Sum,
    Mean,
    Min,
    Max,
    Count,
    Median,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmatchCase {
    Lower,
    Upper,
}

#[derive(Clone, Debug)]
pub enum Operation {
    AddLabel {
        label: String,
        value: String,
    },
    UpdateLabel {
        label: String,
        new_label: Option<String>,
        /// Old value to new value.
        value_actions: HashMap<String, String>,
    },
    DeleteLabelValue {
        label: String,
        value: String,
    },
    ToggleScalarDataType,
    ScaleValue {
        factor: f64,
    },
    AggregateLabels {
        label_set: Vec<String>,
        aggregation: AggregationType,
    },
    AggregateLabelValues {
        label: String,
        values: HashSet<String>,
        new_value: String,
        aggregation: AggregationType,
    },
}

/// Which metrics, and which of their points, a transform takes.
#[derive(Clone, Debug)]
pub struct MetricFilter {
    pub include: NameMatch,
    /// `experimental_match_labels`: every one must hold for a point to match.
    pub match_labels: Vec<(String, NameMatch)>,
}

/// A name or label value to match: exactly, or by an unanchored regular expression.
#[derive(Clone, Debug)]
pub enum NameMatch {
    Strict(String),
    Regexp(Regex),
}

impl NameMatch {
    fn matches(&self, text: &str) -> bool {
        match self {
            NameMatch::Strict(expected) => expected == text,
            NameMatch::Regexp(pattern) => pattern.is_match(text),
        }
    }
}

/// How much of a metric a filter takes.
enum Selection {
    Whole,
    /// Only the points flagged true, in point order.
    Part(Vec<bool>),
    Nothing,
}

impl MetricFilter {
    fn labels_match(&self, attributes: &[KeyValue]) -> bool {
        self.match_labels.iter().all(|(key, matcher)| {
            let value = attributes.iter().find(|kv| kv.key == *key).map_or("", label_text);
            matcher.matches(value)
        })
    }

    fn all_points_match(&self, metric: &Metric) -> bool {
        attribute_sets(metric).into_iter().all(|attributes| self.labels_match(attributes))
    }

    fn selection(&self, metric: &Metric) -> Selection {
        if !self.include.matches(&metric.name) {
            return Selection::Nothing;
        }
        let mask: Vec<bool> = attribute_sets(metric)
            .into_iter()
            .map(|attributes| self.labels_match(attributes))
            .collect();
        let matched = mask.iter().filter(|m| **m).count();
        if matched == mask.len() {
            Selection::Whole
        } else if matched == 0 {
            Selection::Nothing
        } else {
            Selection::Part(mask)
        }
    }

    /// The name a rename gives `name`: `template` with the pattern's capture groups expanded (regexp),
    /// or as written (strict, a name the pattern no longer matches, or an empty expansion).
    fn renamed(&self, template: &str, name: &str) -> String {
        if let NameMatch::Regexp(pattern) = &self.include {
            if let Some(captures) = pattern.captures(name) {
                let mut expanded = String::new();
                captures.expand(template, &mut expanded);
                if !expanded.is_empty() {
                    return expanded;
                }
            }
        }
        template.to_string()
    }

    /// The labels `combine` adds to the points of metric `name`: one per non-empty capture group,
    /// keyed by the group's name or `$i`.
    fn captured_labels(&self, name: &str, case: Option<SubmatchCase>) -> Vec<(String, String)> {
        let NameMatch::Regexp(pattern) = &self.include else {
            return Vec::new();
        };
        let Some(captures) = pattern.captures(name) else {
            return Vec::new();
        };
        pattern
            .capture_names()
            .enumerate()
            .skip(1)
            .filter_map(|(index, group)| {
                let text = captures.get(index).map_or("", |m| m.as_str());
                let text = match case {
                    Some(SubmatchCase::Lower) => text.to_lowercase(),
                    Some(SubmatchCase::Upper) => text.to_uppercase(),
                    None => text.to_string(),
                };
                if text.is_empty() {
                    return None;
                }
                let key = group.map_or_else(|| format!("${index}"), str::to_string);
                Some((key, text))
            })
            .collect()
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> MetricsTransformConfig {
    let mut config = MetricsTransformConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["transforms"], path);
    for (at, item) in p.list(body.get("transforms"), &format!("{path}.transforms")) {
        if let Some(transform) = parse_transform(p, item, &at) {
            config.transforms.push(transform);
        }
    }
    config
}

fn parse_transform(p: &mut Parser, value: &Value, path: &str) -> Option<Transform> {
    let body = p.mapping(Some(value), path)?;
    for key in body.keys() {
        let key = key.as_str().unwrap_or("?");
        if key == "metric_name" {
            p.error(
                &format!("{path}.metric_name"),
                "the Collector renamed this key; write include: <metric name>",
            );
        } else if !TRANSFORM_KEYS.contains(&key) {
            p.error(
                &format!("{path}.{key}"),
                format!("unknown key (expected one of: {})", TRANSFORM_KEYS.join(", ")),
            );
        }
    }

    let match_type_path = format!("{path}.match_type");
    let regexp = match optional_text(p, body.get("match_type"), &match_type_path).as_deref() {
        None | Some("") | Some("strict") => false,
        Some("regexp") => true,
        Some(other) => {
            p.error(&match_type_path, format!("expected strict or regexp, got '{other}'"));
            false
        }
    };
    let include_path = format!("{path}.include");
    let include = match body.get("include") {
        Some(v) if is_given(Some(v)) => p.string(v, &include_path).and_then(|name| matcher(p, name, regexp, &include_path)),
        _ => {
            p.error(
                &include_path,
                "missing; name the metric to transform (a regular expression with match_type: regexp)",
            );
            None
        }
    };
    let labels_path = format!("{path}.experimental_match_labels");
    let mut match_labels = Vec::new();
    for (key, item) in p.entries(body.get("experimental_match_labels"), &labels_path) {
        let at = format!("{labels_path}.{key}");
        if let Some(m) = p.string(item, &at).and_then(|text| matcher(p, text, regexp, &at)) {
            match_labels.push((key, m));
        }
    }

    let action_path = format!("{path}.action");
    let action = match body.get("action") {
        Some(v) if is_given(Some(v)) => match p.string(v, &action_path).as_deref() {
            Some("update") => Some(Action::Update),
            Some("insert") => Some(Action::Insert),
            Some("combine") => Some(Action::Combine),
            Some("group") => Some(Action::Group),
            Some(other) => {
                p.error(&action_path, format!("expected update, insert, combine or group, got '{other}'"));
                None
            }
            None => None,
        },
        _ => {
            p.error(&action_path, "missing; expected update, insert, combine or group");
            None
        }
    };

    let new_name = optional_text(p, body.get("new_name"), &format!("{path}.new_name")).unwrap_or_default();
    let aggregation_path = format!("{path}.aggregation_type");
    let aggregation_type = match body.get("aggregation_type") {
        Some(v) if is_given(Some(v)) => parse_aggregation_type(p, v, &aggregation_path),
        _ => None,
    };
    let submatch_path = format!("{path}.submatch_case");
    let submatch_case = match optional_text(p, body.get("submatch_case"), &submatch_path).as_deref() {
        None | Some("") => None,
        Some("lower") => Some(SubmatchCase::Lower),
        Some("upper") => Some(SubmatchCase::Upper),
        Some(other) => {
            p.error(&submatch_path, format!("expected lower or upper, got '{other}'"));
            None
        }
    };
    let group_path = format!("{path}.group_resource_labels");
    let mut group_resource_labels = Vec::new();
    for (key, item) in p.entries(body.get("group_resource_labels"), &group_path) {
        if let Some(text) = p.string(item, &format!("{group_path}.{key}")) {
            group_resource_labels.push((key, text));
        }
    }
    let mut operations = Vec::new();
    let mut operations_valid = true;
    for (at, item) in p.list(body.get("operations"), &format!("{path}.operations")) {
        match parse_operation(p, item, &at) {
            Some(operation) => operations.push(operation),
            None => operations_valid = false,
        }
    }

    let new_name_path = format!("{path}.new_name");
    match action {
        Some(Action::Insert) if new_name.is_empty() => {
            p.error(&new_name_path, "required with action insert; name the copy to insert");
        }
        Some(Action::Combine) => {
            if new_name.is_empty() {
                p.error(&new_name_path, "required with action combine; name the combined metric");
            }
            if !is_given(body.get("aggregation_type")) {
                p.error(
                    &aggregation_path,
                    format!("required with action combine; expected {AGGREGATION_TYPES}"),
                );
            }
        }
        Some(Action::Group) if !is_given(body.get("group_resource_labels")) => {
            p.error(
                &group_path,
                "required with action group; give the resource attributes of the group, like {source: kubelet}",
            );
        }
        _ => {}
    }

    if !operations_valid {
        return None;
    }
    Some(Transform {
        filter: MetricFilter {
            include: include?,
            match_labels,
        },
        action: action?,
        new_name,
        aggregation_type,
        submatch_case,
        group_resource_labels,
        operations,
    })
}

fn parse_operation(p: &mut Parser, value: &Value, path: &str) -> Option<Operation> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(body, OPERATION_KEYS, path);
    let action_path = format!("{path}.action");
    let action = match body.get("action") {
        Some(v) if is_given(Some(v)) => p.string(v, &action_path)?,
        _ => {
            p.error(&action_path, format!("missing; expected one of: {}", OPERATIONS.join(", ")));
            return None;
        }
    };
    let action = action.as_str();
    let operation = match action {
        "add_label" => {
            let label = required_text(p, body, "new_label", path, action, "name the label to add");
            let value = required_text(p, body, "new_value", path, action, "give the value of the label to add");
            Operation::AddLabel {
                label: label?,
                value: with_version(&value?),
            }
        }
        "update_label" => {
            let label = required_text(p, body, "label", path, action, "name the label to update");
            let new_label = optional_text(p, body.get("new_label"), &format!("{path}.new_label")).filter(|l| !l.is_empty());
            let value_actions = parse_value_actions(p, body.get("value_actions"), &format!("{path}.value_actions"));
            Operation::UpdateLabel {
                label: label?,
                new_label,
                value_actions,
            }
        }
        "delete_label_value" => {
            let label = required_text(
                p,
                body,
                "label",
                path,
                action,
                "name the label whose value selects the points to delete",
            );
            let value = present_text(
                p,
                body,
                "label_value",
                path,
                "required with action delete_label_value; give the label value whose points to delete ('' for an empty one)",
            );
            Operation::DeleteLabelValue {
                label: label?,
                value: value?,
            }
        }
        "toggle_scalar_data_type" => Operation::ToggleScalarDataType,
        "experimental_scale_value" => {
            let scale_path = format!("{path}.experimental_scale");
            let factor = match body.get("experimental_scale") {
                None | Some(Value::Null) => {
                    p.error(
                        &scale_path,
                        "required with action experimental_scale_value; give the factor to multiply values by, like 1000",
                    );
                    None
                }
                Some(v) => match p.float(v, &scale_path) {
                    Some(factor) if factor == 0.0 || !factor.is_finite() => {
                        p.error(&scale_path, format!("expected a finite number other than 0, got {factor}"));
                        None
                    }
                    other => other,
                },
            };
            Operation::ScaleValue { factor: factor? }
        }
        "aggregate_labels" => {
            let set_path = format!("{path}.label_set");
            let label_set = match body.get("label_set") {
                None | Some(Value::Null) => {
                    p.error(
                        &set_path,
                        "required with action aggregate_labels; list the labels to keep ([] keeps none)",
                    );
                    None
                }
                Some(v) => Some(p.string_list(Some(v), &set_path)),
            };
            let aggregation = required_aggregation(p, body, path, action);
            Operation::AggregateLabels {
                label_set: label_set?,
                aggregation: aggregation?,
            }
        }
        "aggregate_label_values" => {
            let label = required_text(p, body, "label", path, action, "name the label whose values to aggregate");
            let values_path = format!("{path}.aggregated_values");
            let values = match body.get("aggregated_values") {
                Some(Value::Sequence(items)) if !items.is_empty() => Some(
                    p.string_list(body.get("aggregated_values"), &values_path)
                        .into_iter()
                        .collect::<HashSet<_>>(),
                ),
                None | Some(Value::Null) | Some(Value::Sequence(_)) => {
                    p.error(
                        &values_path,
                        "required with action aggregate_label_values; list the label values to merge into new_value",
                    );
                    None
                }
                Some(other) => {
                    p.string_list(Some(other), &values_path);
                    None
                }
            };
            let new_value = required_text(p, body, "new_value", path, action, "give the value the aggregated values become");
            let aggregation = required_aggregation(p, body, path, action);
            Operation::AggregateLabelValues {
                label: label?,
                values: values?,
                new_value: with_version(&new_value?),
                aggregation: aggregation?,
            }
        }
        "scale_value" => {
            p.error(
                &action_path,
                "the Collector names this operation experimental_scale_value; write action: experimental_scale_value",
            );
            return None;
        }
        other => {
            p.error(
                &action_path,
                format!("unknown operation '{other}' (expected one of: {})", OPERATIONS.join(", ")),
            );
            return None;
        }
    };
    Some(operation)
}

fn parse_value_actions(p: &mut Parser, value: Option<&Value>, path: &str) -> HashMap<String, String> {
    let mut mapping = HashMap::new();
    for (at, item) in p.list(value, path) {
        let Some(body) = p.mapping(Some(item), &at) else {
            continue;
        };
        p.only_keys(body, &["value", "new_value"], &at);
        let old = present_text(p, body, "value", &at, "missing; give the label value to rename");
        let new = present_text(p, body, "new_value", &at, "missing; give the value it becomes");
        if let (Some(old), Some(new)) = (old, new) {
            mapping.insert(old, with_version(&new));
        }
    }
    mapping
}

/// `text` as a name to match: exactly, or as a regular expression (an error at `path` if invalid).
fn matcher(p: &mut Parser, text: String, regexp: bool, path: &str) -> Option<NameMatch> {
    if !regexp {
        return Some(NameMatch::Strict(text));
    }
    match Regex::new(&text) {
        Ok(pattern) => Some(NameMatch::Regexp(pattern)),
        Err(e) => {
            p.error(path, format!("not a valid regular expression: {e}"));
            None
        }
    }
}

fn parse_aggregation_type(p: &mut Parser, value: &Value, path: &str) -> Option<AggregationType> {
    match p.string(value, path)?.as_str() {
        "sum" => Some(AggregationType::Sum),
        "mean" => Some(AggregationType::Mean),
        "min" => Some(AggregationType::Min),
        "max" => Some(AggregationType::Max),
        "count" => Some(AggregationType::Count),
        "median" => Some(AggregationType::Median),
        other => {
            p.error(path, format!("expected {AGGREGATION_TYPES}, got '{other}'"));
            None
        }
    }
}

fn required_aggregation(p: &mut Parser, body: &Mapping, path: &str, action: &str) -> Option<AggregationType> {
    let at = format!("{path}.aggregation_type");
    match body.get("aggregation_type") {
        Some(v) if is_given(Some(v)) => parse_aggregation_type(p, v, &at),
        _ => {
            p.error(&at, format!("required with action {action}; expected {AGGREGATION_TYPES}"));
            None
        }
    }
}

/// A string an operation requires: absent, null or empty is an error naming the action.
fn required_text(p: &mut Parser, body: &Mapping, key: &str, path: &str, action: &str, hint: &str) -> Option<String> {
    let at = format!("{path}.{key}");
    match body.get(key) {
        Some(v) if is_given(Some(v)) => p.string(v, &at),
        _ => {
            p.error(&at, format!("required with action {action}; {hint}"));
            None
        }
    }
}

/// A string that must be present, though it may be empty; `missing` is the error when it is not.
fn present_text(p: &mut Parser, body: &Mapping, key: &str, path: &str, missing: &str) -> Option<String> {
    let at = format!("{path}.{key}");
    match body.get(key) {
        None | Some(Value::Null) => {
            p.error(&at, missing);
            None
        }
        Some(v) => p.string(v, &at),
    }
}

fn optional_text(p: &mut Parser, value: Option<&Value>, path: &str) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(v) => p.string(v, path),
    }
}

/// Present with something in it: not absent, null or the empty string (the Collector's "unset").
fn is_given(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(v) => v.as_str() != Some(""),
    }
}

fn with_version(text: &str) -> String {
    text.replace("{{version}}", env!("CARGO_PKG_VERSION"))
}

pub struct MetricsTransformProcessor {
    component: String,
    config: MetricsTransformConfig,
}

impl MetricsTransformProcessor {
    pub fn new(id: &ComponentId, config: &MetricsTransformConfig) -> Self {
        MetricsTransformProcessor {
            component: id.to_string(),
            config: config.clone(),
        }
    }

    fn process(&self, data: &mut ExportMetricsServiceRequest) {
        let mut groups = Vec::new();
        for resource_metrics in &mut data.resource_metrics {
            for scope_metrics in &mut resource_metrics.scope_metrics {
                for transform in &self.config.transforms {
                    match transform.action {
                        Action::Update => update(transform, &mut scope_metrics.metrics),
                        Action::Insert => insert(transform, &mut scope_metrics.metrics),
                        Action::Combine => self.combine(transform, &mut scope_metrics.metrics),
                        Action::Group => {
                            let taken = take_matching(&transform.filter, &mut scope_metrics.metrics);
                            if taken.is_empty() {
                                continue;
                            }
                            let mut resource = resource_metrics.resource.clone().unwrap_or_default();
                            for (key, value) in &transform.group_resource_labels {
                                put_text(&mut resource.attributes, key, value);
                            }
                            groups.push(ResourceMetrics {
                                resource: Some(resource),
                                scope_metrics: vec![ScopeMetrics {
                                    scope: scope_metrics.scope.clone(),
                                    metrics: taken,
                                    schema_url: scope_metrics.schema_url.clone(),
                                }],
                                schema_url: resource_metrics.schema_url.clone(),
                            });
                        }
                    }
                }
            }
            resource_metrics.scope_metrics.retain(|s| !s.metrics.is_empty());
        }
        data.resource_metrics.retain(|r| !r.scope_metrics.is_empty());
        data.resource_metrics.extend(groups);
    }

    /// Replaces the matching metrics by one holding all their (matching) points, each labelled
    /// with the name's capture groups, merged by the transform's aggregation type.
    fn combine(&self, transform: &Transform, metrics: &mut Vec<Metric>) {
        let matched: Vec<&Metric> = metrics
            .iter()
            .filter(|metric| !matches!(transform.filter.selection(metric), Selection::Nothing))
            .collect();
        if matched.is_empty() {
            return;
        }
        if let Err(reason) = combinable(&matched) {
            tracing::warn!(
                component = %self.component,
                new_name = %transform.new_name,
                "metricstransform: {reason}; the metrics pass as they are"
            );
            return;
        }
        let taken = take_matching(&transform.filter, metrics);
        let Some(first) = taken.first() else {
            return;
        };
        let mut combined = Metric {
            name: transform.new_name.clone(),
            description: first.description.clone(),
            unit: first.unit.clone(),
            metadata: Vec::new(),
            data: first.data.as_ref().map(empty_like),
        };
        for mut metric in taken {
            let labels = transform.filter.captured_labels(&metric.name, transform.submatch_case);
            for attributes in attribute_sets_mut(&mut metric) {
                for (key, value) in &labels {
                    put_text(attributes, key, value);
                }
            }
            append_points(&mut combined, metric);
        }
        if let Some(aggregation) = transform.aggregation_type {
            aggregate(&mut combined, aggregation);
        }
        if transform_metric(&mut combined, transform) {
            metrics.push(combined);
        }
    }
}

impl ItemProcessor for MetricsTransformProcessor {
    fn process_metrics(&self, data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        self.process(data);
        Ok(())
    }
}

/// Transforms the matching metrics in place; those the operations empty are removed.
fn update(transform: &Transform, metrics: &mut Vec<Metric>) {
    metrics.retain_mut(|metric| {
        if matches!(transform.filter.selection(metric), Selection::Nothing) {
            return true;
        }
        transform_metric(metric, transform)
    });
}

/// Appends a transformed copy of the matching part of each metric there was before.
fn insert(transform: &Transform, metrics: &mut Vec<Metric>) {
    let before = metrics.len();
    for index in 0..before {
        let mut copy = match transform.filter.selection(&metrics[index]) {
            Selection::Whole => metrics[index].clone(),
            Selection::Part(mask) => {
                let mut part = metrics[index].clone();
                keep_points(&mut part, &mask);
                part
            }
            Selection::Nothing => continue,
        };
        if transform_metric(&mut copy, transform) {
            metrics.push(copy);
        }
    }
}

/// Removes the metrics the filter selects and returns their matching parts (a metric only some of
/// whose points match is removed whole: the Collector's rule).
fn take_matching(filter: &MetricFilter, metrics: &mut Vec<Metric>) -> Vec<Metric> {
    let mut taken = Vec::new();
    let mut kept = Vec::with_capacity(metrics.len());
    for mut metric in std::mem::take(metrics) {
        match filter.selection(&metric) {
            Selection::Whole => taken.push(metric),
            Selection::Part(mask) => {
                keep_points(&mut metric, &mask);
                taken.push(metric);
            }
            Selection::Nothing => kept.push(metric),
        }
    }
    *metrics = kept;
    taken
}

/// Renames the metric and runs the operations; false when they left without points a metric that
/// had some.
fn transform_metric(metric: &mut Metric, transform: &Transform) -> bool {
    let had_no_points = metric_point_count(metric) == 0;
    let filter = &transform.filter;
    let whole_metric = transform.action != Action::Update || filter.all_points_match(metric);
    if whole_metric && !transform.new_name.is_empty() {
        metric.name = filter.renamed(&transform.new_name, &metric.name);
    }
    for operation in &transform.operations {
        match operation {
            Operation::UpdateLabel {
                label,
                new_label,
                value_actions,
            } => update_label(metric, filter, label, new_label.as_deref(), value_actions),
            Operation::ToggleScalarDataType => toggle_scalar_data_type(metric, filter),
            Operation::ScaleValue { factor } => scale_value(metric, filter, *factor),
            Operation::AddLabel { label, value } if whole_metric => {
                for attributes in attribute_sets_mut(metric) {
                    if !attributes.iter().any(|kv| kv.key == *label) {
                        attributes.push(text_kv(label, value));
                    }
                }
            }
            Operation::DeleteLabelValue { label, value } if whole_metric => {
                retain_points(metric, |attributes| {
                    !attributes.iter().any(|kv| kv.key == *label && label_text(kv) == value.as_str())
                });
            }
            Operation::AggregateLabels { label_set, aggregation } if whole_metric && !is_summary(metric) => {
                for attributes in attribute_sets_mut(metric) {
                    attributes.retain(|kv| label_set.contains(&kv.key));
                }
                aggregate(metric, *aggregation);
            }
            Operation::AggregateLabelValues {
                label,
                values,
                new_value,
                aggregation,
            } if whole_metric && !is_summary(metric) => {
                for attributes in attribute_sets_mut(metric) {
                    if let Some(kv) = attributes.iter_mut().find(|kv| kv.key == *label) {
                        if values.contains(label_text(kv)) {
                            kv.value = Some(text_value(new_value));
                        }
                    }
                }
                aggregate(metric, *aggregation);
            }
            _ => {}
        }
    }
    had_no_points || metric_point_count(metric) > 0
}

fn update_label(metric: &mut Metric, filter: &MetricFilter, label: &str, new_label: Option<&str>, value_actions: &HashMap<String, String>) {
    for attributes in attribute_sets_mut(metric) {
        if !filter.labels_match(&attributes[..]) {
            continue;
        }
        let Some(mut at) = attributes.iter().position(|kv| kv.key == label) else {
            continue;
        };
        let old_value = label_text(&attributes[at]).to_string();
        if let Some(new_label) = new_label.filter(|n| *n != label) {
            match attributes.iter().position(|kv| kv.key == new_label) {
                Some(existing) => {
                    let value = attributes[at].value.take();
                    attributes[existing].value = value;
                    attributes.remove(at);
                    at = if existing > at { existing - 1 } else { existing };
                }
                None => attributes[at].key = new_label.to_string(),
            }
        }
        if let Some(new_value) = value_actions.get(&old_value) {
            attributes[at].value = Some(text_value(new_value));
        }
    }
}

/// Integer values become floating-point and floating-point ones integers (truncated); gauges and
/// sums only.
fn toggle_scalar_data_type(metric: &mut Metric, filter: &MetricFilter) {
    let points = match &mut metric.data {
        Some(Data::Gauge(gauge)) => &mut gauge.data_points,
        Some(Data::Sum(sum)) => &mut sum.data_points,
        _ => return,
    };
    for point in points.iter_mut().filter(|point| filter.labels_match(&point.attributes)) {
        point.value = match point.value {
            Some(number_data_point::Value::AsInt(v)) => Some(number_data_point::Value::AsDouble(v as f64)),
            Some(number_data_point::Value::AsDouble(v)) => Some(number_data_point::Value::AsInt(v as i64)),
            None => None,
        };
    }
}

/// Multiplies gauge and sum values (integers stay integers, truncated), and histograms' sums,
/// extremes, bucket bounds and exemplars.
fn scale_value(metric: &mut Metric, filter: &MetricFilter, factor: f64) {
    let points = match &mut metric.data {
        Some(Data::Gauge(gauge)) => &mut gauge.data_points,
        Some(Data::Sum(sum)) => &mut sum.data_points,
        Some(Data::Histogram(histogram)) => {
            for point in histogram
                .data_points
                .iter_mut()
                .filter(|point| filter.labels_match(&point.attributes))
            {
                scale_histogram_point(point, factor);
            }
            return;
        }
        _ => return,
    };
    for point in points.iter_mut().filter(|point| filter.labels_match(&point.attributes)) {
        point.value = match point.value {
            Some(number_data_point::Value::AsInt(v)) => Some(number_data_point::Value::AsInt((v as f64 * factor) as i64)),
            Some(number_data_point::Value::AsDouble(v)) => Some(number_data_point::Value::AsDouble(v * factor)),
            None => None,
        };
    }
}

fn scale_histogram_point(point: &mut HistogramDataPoint, factor: f64) {
    for value in [&mut point.sum, &mut point.min, &mut point.max].into_iter().flatten() {
        *value *= factor;
    }
    for bound in &mut point.explicit_bounds {
        *bound *= factor;
    }
    for sample in &mut point.exemplars {
        sample.value = match sample.value {
            Some(exemplar::Value::AsInt(v)) => Some(exemplar::Value::AsInt((v as f64 * factor) as i64)),
            Some(exemplar::Value::AsDouble(v)) => Some(exemplar::Value::AsDouble(v * factor)),
            None => None,
        };
    }
}

/// Merges the points that agree (see the module docs); summaries are left as they are.
fn aggregate(metric: &mut Metric, aggregation: AggregationType) {
    match &mut metric.data {
        Some(Data::Gauge(gauge)) => {
            gauge.data_points = merge_numbers(std::mem::take(&mut gauge.data_points), false, aggregation);
        }
        Some(Data::Sum(sum)) => {
            let by_start_time = sum.aggregation_temporality == DELTA;
            sum.data_points = merge_numbers(std::mem::take(&mut sum.data_points), by_start_time, aggregation);
        }
        Some(Data::Histogram(histogram)) => {
            let by_start_time = histogram.aggregation_temporality == DELTA;
            histogram.data_points = merge_histograms(std::mem::take(&mut histogram.data_points), by_start_time);
        }
        Some(Data::ExponentialHistogram(histogram)) => {
            let by_start_time = histogram.aggregation_temporality == DELTA;
            histogram.data_points = merge_exponential_histograms(std::mem::take(&mut histogram.data_points), by_start_time);
        }
        Some(Data::Summary(_)) | None => {}
    }
}

/// Groups points by key, in the order their groups first appear: each group's first point and the rest.
fn group_points<P>(points: Vec<P>, key_of: impl Fn(&P) -> Vec<u8>) -> Vec<(P, Vec<P>)> {
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut groups: Vec<(P, Vec<P>)> = Vec::new();
    for point in points {
        let key = key_of(&point);
        match index.get(&key) {
            Some(&at) => groups[at].1.push(point),
            None => {
                index.insert(key, groups.len());
                groups.push((point, Vec::new()));
            }
        }
    }
    groups
}

/// The start of a point's group key: its attributes in key order, then its time.
fn point_key(attributes: &[KeyValue], time_unix_nano: u64) -> Vec<u8> {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut key = Vec::with_capacity(64);
    key.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
    for kv in sorted {
        key.extend_from_slice(&kv.encode_length_delimited_to_vec());
    }
    key.extend_from_slice(&time_unix_nano.to_le_bytes());
    key
}

fn merge_numbers(points: Vec<NumberDataPoint>, by_start_time: bool, aggregation: AggregationType) -> Vec<NumberDataPoint> {
    let groups = group_points(points, |point| {
        let mut key = point_key(&point.attributes, point.time_unix_nano);
        if by_start_time {
            key.extend_from_slice(&point.start_time_unix_nano.to_le_bytes());
        }
        key
    });
    groups
        .into_iter()
        .map(|(mut merged, rest)| {
            for other in &rest {
                merged.start_time_unix_nano = merged.start_time_unix_nano.min(other.start_time_unix_nano);
            }
            merged.value = match merged.value {
                Some(number_data_point::Value::AsDouble(first)) => {
                    let values: Vec<f64> = std::iter::once(first).chain(rest.iter().map(|p| as_double(p.value))).collect();
                    Some(number_data_point::Value::AsDouble(aggregate_doubles(values, aggregation)))
                }
                Some(number_data_point::Value::AsInt(first)) => {
                    let values: Vec<i64> = std::iter::once(first).chain(rest.iter().map(|p| as_int(p.value))).collect();
                    Some(number_data_point::Value::AsInt(aggregate_ints(values, aggregation)))
                }
                None => None,
            };
            merged
        })
        .collect()
}

fn as_double(value: Option<number_data_point::Value>) -> f64 {
    match value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        None => 0.0,
    }
}

fn as_int(value: Option<number_data_point::Value>) -> i64 {
    match value {
        Some(number_data_point::Value::AsInt(v)) => v,
        Some(number_data_point::Value::AsDouble(v)) => v as i64,
        None => 0,
    }
}

fn aggregate_doubles(mut values: Vec<f64>, aggregation: AggregationType) -> f64 {
    let count = values.len() as f64;
    match aggregation {
        AggregationType::Sum => values.iter().sum(),
        AggregationType::Mean => values.iter().sum::<f64>() / count.max(1.0),
        AggregationType::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        AggregationType::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        AggregationType::Count => count,
        AggregationType::Median => {
            values.sort_by(f64::total_cmp);
            let middle = values.len() / 2;
            match values.len() {
                0 => 0.0,
                n if n % 2 == 1 => values[middle],
                _ => (values[middle - 1] + values[middle]) / 2.0,
            }
        }
    }
}

fn aggregate_ints(mut values: Vec<i64>, aggregation: AggregationType) -> i64 {
    let total: i128 = values.iter().map(|&v| i128::from(v)).sum();
    let count = values.len() as i128;
    match aggregation {
        AggregationType::Sum => saturate(total),
        AggregationType::Mean => saturate(total / count.max(1)),
        AggregationType::Min => values.iter().copied().min().unwrap_or(0),
        AggregationType::Max => values.iter().copied().max().unwrap_or(0),
        AggregationType::Count => saturate(count),
        AggregationType::Median => {
            values.sort_unstable();
            let middle = values.len() / 2;
            match values.len() {
                0 => 0,
                n if n % 2 == 1 => values[middle],
                _ => saturate((i128::from(values[middle - 1]) + i128::from(values[middle])) / 2),
            }
        }
    }
}

fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

fn merge_histograms(points: Vec<HistogramDataPoint>, by_start_time: bool) -> Vec<HistogramDataPoint> {
    let groups = group_points(points, |point| {
        let mut key = point_key(&point.attributes, point.time_unix_nano);
        key.extend_from_slice(&(point.explicit_bounds.len() as u64).to_le_bytes());
        for bound in &point.explicit_bounds {
            key.extend_from_slice(&bound.to_bits().to_le_bytes());
        }
        if by_start_time {
            key.extend_from_slice(&point.start_time_unix_nano.to_le_bytes());
        }
        key.push(u8::from(point.min.is_some()));
        key.push(u8::from(point.max.is_some()));
        key.extend_from_slice(&point.flags.to_le_bytes());
        key
    });
    groups
        .into_iter()
        .map(|(mut merged, rest)| {
            for other in rest {
                if other.count == 0 {
                    continue;
                }
                merged.count = merged.count.saturating_add(other.count);
                merged.sum = add_sums(merged.sum, other.sum);
                merged.min = extreme(merged.min, other.min, f64::min);
                merged.max = extreme(merged.max, other.max, f64::max);
                add_counts(&mut merged.bucket_counts, &other.bucket_counts);
                merged.start_time_unix_nano = merged.start_time_unix_nano.min(other.start_time_unix_nano);
                merged.exemplars.extend(other.exemplars);
            }
            merged
        })
        .collect()
}

fn merge_exponential_histograms(points: Vec<ExponentialHistogramDataPoint>, by_start_time: bool) -> Vec<ExponentialHistogramDataPoint> {
    let groups = group_points(points, |point| {
        let mut key = point_key(&point.attributes, point.time_unix_nano);
        key.extend_from_slice(&point.scale.to_le_bytes());
        key.push(u8::from(point.min.is_some()));
        key.push(u8::from(point.max.is_some()));
        key.extend_from_slice(&point.flags.to_le_bytes());
        key.extend_from_slice(&point.negative.as_ref().map_or(0i32, |b| b.offset).to_le_bytes());
        key.extend_from_slice(&point.positive.as_ref().map_or(0i32, |b| b.offset).to_le_bytes());
        if by_start_time {
            key.extend_from_slice(&point.start_time_unix_nano.to_le_bytes());
        }
        key
    });
    groups
        .into_iter()
        .map(|(mut merged, rest)| {
            for other in rest {
                if other.count == 0 {
                    continue;
                }
                merged.count = merged.count.saturating_add(other.count);
                merged.zero_count = merged.zero_count.saturating_add(other.zero_count);
                merged.sum = add_sums(merged.sum, other.sum);
                merged.min = extreme(merged.min, other.min, f64::min);
                merged.max = extreme(merged.max, other.max, f64::max);
                add_buckets(&mut merged.positive, other.positive);
                add_buckets(&mut merged.negative, other.negative);
                merged.start_time_unix_nano = merged.start_time_unix_nano.min(other.start_time_unix_nano);
                merged.exemplars.extend(other.exemplars);
            }
            merged
        })
        .collect()
}

/// A sum stays absent only when both are.
fn add_sums(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    if a.is_none() && b.is_none() {
        return None;
    }
    Some(a.unwrap_or(0.0) + b.unwrap_or(0.0))
}

fn extreme(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, _) => a,
    }
}

fn add_counts(totals: &mut Vec<u64>, counts: &[u64]) {
    if totals.len() < counts.len() {
        totals.resize(counts.len(), 0);
    }
    for (total, count) in totals.iter_mut().zip(counts) {
        *total = total.saturating_add(*count);
    }
}

fn add_buckets(totals: &mut Option<Buckets>, buckets: Option<Buckets>) {
    let Some(buckets) = buckets else {
        return;
    };
    let offset = buckets.offset;
    let totals = totals.get_or_insert_with(|| Buckets {
        offset,
        bucket_counts: Vec::new(),
    });
    add_counts(&mut totals.bucket_counts, &buckets.bucket_counts);
}

/// Why the metrics cannot be combined into one, if they cannot.
fn combinable(metrics: &[&Metric]) -> Result<(), String> {
    for metric in metrics {
        match metric.data {
            Some(Data::Summary(_)) => return Err(format!("summary metrics cannot be combined: {}", metric.name)),
            None => return Err(format!("metric {} has no data to combine", metric.name)),
            _ => {}
        }
    }
    let Some((first, rest)) = metrics.split_first() else {
        return Ok(());
    };
    let first_keys = attribute_keys(first);
    for metric in rest {
        let (a, b) = (&first.name, &metric.name);
        if kind(first) != kind(metric) {
            return Err(format!(
                "metrics of different types cannot be combined: {a} ({}) and {b} ({})",
                kind(first),
                kind(metric)
            ));
        }
        if first.unit != metric.unit {
            return Err(format!(
                "metrics with different units cannot be combined: {a} ({}) and {b} ({})",
                first.unit, metric.unit
            ));
        }
        let keys = attribute_keys(metric);
        if keys != first_keys {
            return Err(format!(
                "metrics with different labels cannot be combined: {a} {first_keys:?} and {b} {keys:?}"
            ));
        }
        if temporality(first) != temporality(metric) {
            return Err(format!(
                "metrics with different aggregation temporalities cannot be combined: {a} and {b}"
            ));
        }
        if let (Some(Data::Sum(x)), Some(Data::Sum(y))) = (&first.data, &metric.data) {
            if x.is_monotonic != y.is_monotonic {
                return Err(format!("metrics with different monotonicity cannot be combined: {a} and {b}"));
            }
        }
    }
    Ok(())
}

fn kind(metric: &Metric) -> &'static str {
    match metric.data {
        Some(Data::Gauge(_)) => "gauge",
        Some(Data::Sum(_)) => "sum",
        Some(Data::Histogram(_)) => "histogram",
        Some(Data::ExponentialHistogram(_)) => "exponential histogram",
        Some(Data::Summary(_)) => "summary",
        None => "empty",
    }
}

fn temporality(metric: &Metric) -> Option<i32> {
    match &metric.data {
        Some(Data::Sum(sum)) => Some(sum.aggregation_temporality),
        Some(Data::Histogram(histogram)) => Some(histogram.aggregation_temporality),
        Some(Data::ExponentialHistogram(histogram)) => Some(histogram.aggregation_temporality),
        _ => None,
    }
}

fn attribute_keys(metric: &Metric) -> BTreeSet<&str> {
    attribute_sets(metric).into_iter().flatten().map(|kv| kv.key.as_str()).collect()
}

fn is_summary(metric: &Metric) -> bool {
    matches!(metric.data, Some(Data::Summary(_)))
}

/// The same kind of data, with no points.
fn empty_like(data: &Data) -> Data {
    match data {
        Data::Gauge(_) => Data::Gauge(Gauge::default()),
        Data::Sum(sum) => Data::Sum(Sum {
            data_points: Vec::new(),
            aggregation_temporality: sum.aggregation_temporality,
            is_monotonic: sum.is_monotonic,
        }),
        Data::Histogram(histogram) => Data::Histogram(Histogram {
            data_points: Vec::new(),
            aggregation_temporality: histogram.aggregation_temporality,
        }),
        Data::ExponentialHistogram(histogram) => Data::ExponentialHistogram(ExponentialHistogram {
            data_points: Vec::new(),
            aggregation_temporality: histogram.aggregation_temporality,
        }),
        Data::Summary(_) => Data::Summary(Summary::default()),
    }
}

/// Moves `from`'s points into `to`, when both have the same kind of data.
fn append_points(to: &mut Metric, from: Metric) {
    match (&mut to.data, from.data) {
        (Some(Data::Gauge(to)), Some(Data::Gauge(from))) => to.data_points.extend(from.data_points),
        (Some(Data::Sum(to)), Some(Data::Sum(from))) => to.data_points.extend(from.data_points),
        (Some(Data::Histogram(to)), Some(Data::Histogram(from))) => to.data_points.extend(from.data_points),
        (Some(Data::ExponentialHistogram(to)), Some(Data::ExponentialHistogram(from))) => to.data_points.extend(from.data_points),
        (Some(Data::Summary(to)), Some(Data::Summary(from))) => to.data_points.extend(from.data_points),
        _ => {}
    }
}

/// Every point's attributes, in point order.
fn attribute_sets(metric: &Metric) -> Vec<&Vec<KeyValue>> {
    match &metric.data {
        Some(Data::Gauge(gauge)) => gauge.data_points.iter().map(|p| &p.attributes).collect(),
        Some(Data::Sum(sum)) => sum.data_points.iter().map(|p| &p.attributes).collect(),
        Some(Data::Histogram(histogram)) => histogram.data_points.iter().map(|p| &p.attributes).collect(),
        Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.iter().map(|p| &p.attributes).collect(),
        Some(Data::Summary(summary)) => summary.data_points.iter().map(|p| &p.attributes).collect(),
        None => Vec::new(),
    }
}

fn attribute_sets_mut(metric: &mut Metric) -> Vec<&mut Vec<KeyValue>> {
    match &mut metric.data {
        Some(Data::Gauge(gauge)) => gauge.data_points.iter_mut().map(|p| &mut p.attributes).collect(),
        Some(Data::Sum(sum)) => sum.data_points.iter_mut().map(|p| &mut p.attributes).collect(),
        Some(Data::Histogram(histogram)) => histogram.data_points.iter_mut().map(|p| &mut p.attributes).collect(),
        Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.iter_mut().map(|p| &mut p.attributes).collect(),
        Some(Data::Summary(summary)) => summary.data_points.iter_mut().map(|p| &mut p.attributes).collect(),
        None => Vec::new(),
    }
}

fn retain_points(metric: &mut Metric, mut keep: impl FnMut(&[KeyValue]) -> bool) {
    match &mut metric.data {
        Some(Data::Gauge(gauge)) => gauge.data_points.retain(|p| keep(&p.attributes[..])),
        Some(Data::Sum(sum)) => sum.data_points.retain(|p| keep(&p.attributes[..])),
        Some(Data::Histogram(histogram)) => histogram.data_points.retain(|p| keep(&p.attributes[..])),
        Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.retain(|p| keep(&p.attributes[..])),
        Some(Data::Summary(summary)) => summary.data_points.retain(|p| keep(&p.attributes[..])),
        None => {}
    }
}

/// Keeps the points flagged true in `mask` (in point order).
fn keep_points(metric: &mut Metric, mask: &[bool]) {
    let mut flags = mask.iter().copied();
    retain_points(metric, |_| flags.next().unwrap_or(false));
}

/// A label's value as the Collector compares it: a string's text, anything else as empty.
fn label_text(kv: &KeyValue) -> &str {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.as_str(),
        _ => "",
    }
}

fn text_value(text: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text.to_string())),
    }
}

fn text_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(text_value(value)),
        ..Default::default()
    }
}

/// Sets `key` to the string `value`, replacing its value if present.
fn put_text(attributes: &mut Vec<KeyValue>, key: &str, value: &str) {
    match attributes.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(text_value(value)),
        None => attributes.push(text_kv(key, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::filter::fixtures;
    use crate::processor::filter::fixtures::kv;

    const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;

    fn config(body: &str) -> MetricsTransformConfig {
        let value: Value = serde_yaml_ng::from_str(body).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "processors.metricstransform");
        assert!(errors.is_empty(), "{errors:?}");
        config
    }

    fn config_errors(body: &str) -> Vec<String> {
        let value: Value = serde_yaml_ng::from_str(body).unwrap();
        let mut errors = Vec::new();
        parse(&mut Parser::collecting(&mut errors), &value, "processors.metricstransform");
        errors
    }

    fn processor(body: &str) -> MetricsTransformProcessor {
        MetricsTransformProcessor::new(&ComponentId::parse("metricstransform").unwrap(), &config(body))
    }

    /// Processes one payload of `metrics` (service "api", one scope) and returns the metrics left.
    fn run(p: &MetricsTransformProcessor, metrics: Vec<Metric>) -> Vec<Metric> {
        let mut data = fixtures::metrics(vec![("api", metrics)]);
        p.process(&mut data);
        data.resource_metrics
            .into_iter()
            .flat_map(|r| r.scope_metrics)
            .flat_map(|s| s.metrics)
            .collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
        pairs.iter().map(|(key, value)| kv(key, value)).collect()
    }

    fn int(pairs: &[(&str, &str)], value: i64) -> NumberDataPoint {
        fixtures::point(labels(pairs), value)
    }

    fn double(pairs: &[(&str, &str)], value: f64) -> NumberDataPoint {
        NumberDataPoint {
            value: Some(number_data_point::Value::AsDouble(value)),
            ..int(pairs, 0)
        }
    }

    fn started(start_time_unix_nano: u64, point: NumberDataPoint) -> NumberDataPoint {
        NumberDataPoint {
            start_time_unix_nano,
            ..point
        }
    }

    fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
        fixtures::gauge(name, points)
    }

    fn counter(name: &str, temporality: i32, points: Vec<NumberDataPoint>) -> Metric {
        Metric {
            name: name.to_string(),
            unit: "{request}".to_string(),
            data: Some(Data::Sum(Sum {
                data_points: points,
                aggregation_temporality: temporality,
                is_monotonic: true,
            })),
            ..Default::default()
        }
    }

    /// A histogram point at the fixtures' time with bounds [10, 100].
    fn hist(pairs: &[(&str, &str)], count: u64, total: f64, bucket_counts: Vec<u64>, min: f64, max: f64) -> HistogramDataPoint {
        HistogramDataPoint {
            attributes: labels(pairs),
            time_unix_nano: 4_000,
            count,
            sum: Some(total),
            bucket_counts,
            explicit_bounds: vec![10.0, 100.0],
            min: Some(min),
            max: Some(max),
            ..Default::default()
        }
    }

    fn histogram(name: &str, points: Vec<HistogramDataPoint>) -> Metric {
        Metric {
            name: name.to_string(),
            unit: "ms".to_string(),
            data: Some(Data::Histogram(Histogram {
                data_points: points,
                aggregation_temporality: CUMULATIVE,
            })),
            ..Default::default()
        }
    }

    #[test]
    fn update_renames_with_the_include_patterns_capture_groups_by_number_and_name() {
        let p = processor(
            r"
transforms:
  - include: '^system\.cpu\.(.*)$'
    match_type: regexp
    action: update
    new_name: 'system.processor.${1}.stat'
  - include: '^system\.memory\.(?P<what>.*)$'
    match_type: regexp
    action: update
    new_name: 'memory.$what'
  - include: disk.io
    action: update
    new_name: disk.io.bytes",
        );
        let output = run(
            &p,
            vec![
                gauge("system.cpu.usage", vec![int(&[], 5)]),
                gauge("system.cpu.time", vec![int(&[], 7)]),
                gauge("system.memory.usage", vec![int(&[], 9)]),
                gauge("disk.io", vec![int(&[], 11)]),
                gauge("system.network.io", vec![int(&[], 13)]),
            ],
        );
        assert_eq!(
            output,
            vec![
                gauge("system.processor.usage.stat", vec![int(&[], 5)]),
                gauge("system.processor.time.stat", vec![int(&[], 7)]),
                gauge("memory.usage", vec![int(&[], 9)]),
                gauge("disk.io.bytes", vec![int(&[], 11)]),
                gauge("system.network.io", vec![int(&[], 13)]),
            ]
        );
    }

    #[test]
    fn match_type_defaults_to_strict_so_a_dot_in_include_is_literal() {
        let p = processor("transforms: [{include: a.b, action: update, new_name: renamed}]");
        assert!(matches!(&p.config.transforms[0].filter.include, NameMatch::Strict(name) if name == "a.b"));
        let output = run(&p, vec![gauge("aXb", vec![int(&[], 1)]), gauge("a.b", vec![int(&[], 2)])]);
        assert_eq!(output, vec![gauge("aXb", vec![int(&[], 1)]), gauge("renamed", vec![int(&[], 2)])]);
    }

    #[test]
    fn insert_appends_a_transformed_copy_of_the_matching_points_and_keeps_the_original() {
        let p = processor(
            r"
transforms:
  - include: http.requests
    action: insert
    new_name: http.requests.get
    experimental_match_labels: {method: GET}
    operations:
      - action: add_label
        new_label: copied
        new_value: 'yes'",
        );
        let original = gauge("http.requests", vec![int(&[("method", "GET")], 3), int(&[("method", "POST")], 4)]);
        let output = run(&p, vec![original.clone(), gauge("other", vec![int(&[], 1)])]);
        assert_eq!(
            output,
            vec![
                original,
                gauge("other", vec![int(&[], 1)]),
                gauge("http.requests.get", vec![int(&[("method", "GET"), ("copied", "yes")], 3)]),
            ]
        );
    }

    #[test]
    fn combine_replaces_the_matching_metrics_by_one_labelled_with_the_capture_groups() {
        // The Collector README's example: one counter per HTTP method becomes iis.requests{http_method}.
        let p = processor(
            r"
transforms:
  - include: '^Web Service \(\*\)/Total (?P<http_method>.*) Requests$'
    match_type: regexp
    action: combine
    new_name: iis.requests
    submatch_case: lower
    aggregation_type: sum",
        );
        let output = run(
            &p,
            vec![
                counter("Web Service (*)/Total Delete Requests", CUMULATIVE, vec![int(&[("site", "a")], 1)]),
                counter("Web Service (*)/Total Get Requests", CUMULATIVE, vec![int(&[("site", "a")], 5)]),
                gauge("iis.uptime", vec![int(&[], 60)]),
                counter("Web Service (*)/Total Post Requests", CUMULATIVE, vec![int(&[("site", "a")], 2)]),
            ],
        );
        assert_eq!(
            output,
            vec![
                gauge("iis.uptime", vec![int(&[], 60)]),
                counter(
                    "iis.requests",
                    CUMULATIVE,
                    vec![
                        int(&[("site", "a"), ("http_method", "delete")], 1),
                        int(&[("site", "a"), ("http_method", "get")], 5),
                        int(&[("site", "a"), ("http_method", "post")], 2),
                    ]
                ),
            ]
        );
    }

    #[test]
    fn combine_without_capture_groups_merges_the_points_that_agree_by_aggregation_type() {
        let p = processor(
            r"
transforms:
  - include: '^disk\.(?:read|write)\.ops$'
    match_type: regexp
    action: combine
    new_name: disk.ops
    aggregation_type: sum",
        );
        let output = run(
            &p,
            vec![
                counter("disk.read.ops", CUMULATIVE, vec![int(&[("device", "sda")], 3)]),
                counter("disk.write.ops", CUMULATIVE, vec![int(&[("device", "sda")], 4)]),
            ],
        );
        assert_eq!(output, vec![counter("disk.ops", CUMULATIVE, vec![int(&[("device", "sda")], 7)])]);
    }

    #[test]
    fn combine_leaves_metrics_with_different_units_as_they_are() {
        let p = processor(
            "transforms: [{include: '^latency\\.', match_type: regexp, action: combine, new_name: latency, aggregation_type: max}]",
        );
        let input = vec![
            Metric {
                unit: "ms".to_string(),
                ..gauge("latency.p50", vec![int(&[], 3)])
            },
            Metric {
                unit: "s".to_string(),
                ..gauge("latency.p99", vec![int(&[], 1)])
            },
        ];
        assert_eq!(run(&p, input.clone()), input);
    }

    #[test]
    fn add_update_and_delete_label_edit_the_points_of_the_metric() {
        let p = processor(
            r"
transforms:
  - include: system.cpu.usage
    action: update
    operations:
      - action: update_label
        label: state
        new_label: cpu.state
        value_actions:
          - {value: idle, new_value: '-'}
      - action: add_label
        new_label: host
        new_value: web-1
      - action: delete_label_value
        label: cpu.state
        label_value: steal",
        );
        let output = run(
            &p,
            vec![gauge(
                "system.cpu.usage",
                vec![
                    int(&[("state", "idle"), ("cpu", "0")], 10),
                    int(&[("state", "user"), ("cpu", "0")], 5),
                    int(&[("state", "steal"), ("cpu", "0")], 1),
                    int(&[("cpu", "1"), ("host", "db-2")], 3),
                ],
            )],
        );
        assert_eq!(
            output,
            vec![gauge(
                "system.cpu.usage",
                vec![
                    int(&[("cpu.state", "-"), ("cpu", "0"), ("host", "web-1")], 10),
                    int(&[("cpu.state", "user"), ("cpu", "0"), ("host", "web-1")], 5),
                    int(&[("cpu", "1"), ("host", "db-2")], 3),
                ]
            )]
        );
    }

    #[test]
    fn a_metric_emptied_by_delete_label_value_goes_with_its_scope_and_resource() {
        let p = processor(
            "transforms: [{include: cpu, action: update, operations: [{action: delete_label_value, label: state, label_value: idle}]}]",
        );
        let mut data = fixtures::metrics(vec![("api", vec![gauge("cpu", vec![int(&[("state", "idle")], 1)])])]);
        p.process(&mut data);
        assert_eq!(data, ExportMetricsServiceRequest::default());
    }

    #[test]
    fn update_with_match_labels_only_some_points_meet_edits_those_points_but_not_the_metric() {
        let p = processor(
            r"
transforms:
  - include: requests
    action: update
    new_name: requests.renamed
    experimental_match_labels: {env: prod}
    operations:
      - action: add_label
        new_label: tier
        new_value: gold
      - action: update_label
        label: env
        value_actions: [{value: prod, new_value: production}]",
        );
        assert_eq!(
            run(
                &p,
                vec![gauge("requests", vec![int(&[("env", "prod")], 1), int(&[("env", "dev")], 2)])]
            ),
            vec![gauge("requests", vec![int(&[("env", "production")], 1), int(&[("env", "dev")], 2)])],
            "not every point matches: no rename, no add_label; update_label on the matching point"
        );
        assert_eq!(
            run(&p, vec![gauge("requests", vec![int(&[("env", "prod")], 1)])]),
            vec![gauge("requests.renamed", vec![int(&[("env", "production"), ("tier", "gold")], 1)])]
        );
    }

    #[test]
    fn aggregate_labels_sum_keeps_the_label_set_and_adds_up_with_the_earliest_start() {
        let p = processor(
            r"
transforms:
  - include: system.cpu.time
    action: update
    operations:
      - action: aggregate_labels
        label_set: [state]
        aggregation_type: sum",
        );
        let points = || {
            vec![
                started(100, int(&[("cpu", "0"), ("state", "user")], 10)),
                started(50, int(&[("cpu", "1"), ("state", "user")], 20)),
                started(100, int(&[("cpu", "0"), ("state", "idle")], 30)),
                started(50, int(&[("cpu", "1"), ("state", "idle")], 40)),
            ]
        };
        assert_eq!(
            run(&p, vec![counter("system.cpu.time", CUMULATIVE, points())]),
            vec![counter(
                "system.cpu.time",
                CUMULATIVE,
                vec![
                    started(50, int(&[("state", "user")], 30)),
                    started(50, int(&[("state", "idle")], 70)),
                ]
            )]
        );
        // Delta points with different start times cover different intervals: they stay apart.
        let delta = AggregationTemporality::Delta as i32;
        assert_eq!(
            run(&p, vec![counter("system.cpu.time", delta, points())]),
            vec![counter(
                "system.cpu.time",
                delta,
                vec![
                    started(100, int(&[("state", "user")], 10)),
                    started(50, int(&[("state", "user")], 20)),
                    started(100, int(&[("state", "idle")], 30)),
                    started(50, int(&[("state", "idle")], 40)),
                ]
            )]
        );
    }

    /// The points of gauge `g` aggregated over every label with `aggregation_type`.
    fn aggregated(aggregation_type: &str, points: Vec<NumberDataPoint>) -> Vec<Metric> {
        let p = processor(&format!(
            "transforms: [{{include: g, action: update, operations: [{{action: aggregate_labels, label_set: [], aggregation_type: {aggregation_type}}}]}}]"
        ));
        run(&p, vec![gauge("g", points)])
    }

    #[test]
    fn aggregate_labels_mean_truncates_integers_and_divides_floats() {
        let ints = vec![int(&[("k", "a")], 1), int(&[("k", "b")], 2), int(&[("k", "c")], 4)];
        assert_eq!(aggregated("mean", ints), vec![gauge("g", vec![int(&[], 2)])], "7 / 3 truncated");
        let doubles = vec![double(&[("k", "a")], 1.0), double(&[("k", "b")], 2.0), double(&[("k", "c")], 4.5)];
        assert_eq!(aggregated("mean", doubles), vec![gauge("g", vec![double(&[], 2.5)])]);
    }

    #[test]
    fn aggregation_types_min_max_count_and_median() {
        let ints = || vec![int(&[("k", "a")], 4), int(&[("k", "b")], 1), int(&[("k", "c")], 2)];
        for (aggregation_type, expected) in [("sum", 7), ("min", 1), ("max", 4), ("count", 3), ("median", 2)] {
            assert_eq!(
                aggregated(aggregation_type, ints()),
                vec![gauge("g", vec![int(&[], expected)])],
                "{aggregation_type}"
            );
        }
        let even = vec![
            double(&[("k", "a")], 7.0),
            double(&[("k", "b")], 1.0),
            double(&[("k", "c")], 4.0),
            double(&[("k", "d")], 2.0),
        ];
        assert_eq!(aggregated("median", even), vec![gauge("g", vec![double(&[], 3.0)])]);
        assert_eq!(
            aggregated("count", vec![int(&[("k", "a")], 9)]),
            vec![gauge("g", vec![int(&[], 1)])],
            "a lone point counts as one"
        );
    }

    #[test]
    fn aggregating_histograms_adds_counts_sums_and_buckets_whatever_the_aggregation_type() {
        let p = processor(
            r"
transforms:
  - include: http.server.duration
    action: update
    operations:
      - action: aggregate_labels
        label_set: [route]
        aggregation_type: max",
        );
        let output = run(
            &p,
            vec![histogram(
                "http.server.duration",
                vec![
                    hist(&[("route", "/a"), ("pod", "1")], 2, 30.0, vec![1, 1, 0], 5.0, 25.0),
                    hist(&[("route", "/a"), ("pod", "2")], 3, 300.0, vec![0, 2, 1], 20.0, 150.0),
                    hist(&[("route", "/b"), ("pod", "1")], 1, 7.0, vec![1, 0, 0], 7.0, 7.0),
                    hist(&[("route", "/a"), ("pod", "3")], 0, 0.0, vec![0, 0, 0], 0.0, 0.0),
                ],
            )],
        );
        assert_eq!(
            output,
            vec![histogram(
                "http.server.duration",
                vec![
                    hist(&[("route", "/a")], 5, 330.0, vec![1, 3, 1], 5.0, 150.0),
                    hist(&[("route", "/b")], 1, 7.0, vec![1, 0, 0], 7.0, 7.0),
                ]
            )],
            "the empty point of pod 3 adds nothing, not even its min of 0"
        );
    }

    #[test]
    fn aggregate_label_values_merges_the_listed_values_into_new_value() {
        let p = processor(
            r"
transforms:
  - include: system.memory.usage
    action: update
    operations:
      - action: aggregate_label_values
        label: state
        aggregated_values: [slab_reclaimable, slab_unreclaimable]
        new_value: slab
        aggregation_type: sum",
        );
        let output = run(
            &p,
            vec![gauge(
                "system.memory.usage",
                vec![
                    int(&[("state", "used")], 100),
                    int(&[("state", "slab_reclaimable")], 10),
                    int(&[("state", "slab_unreclaimable")], 5),
                ],
            )],
        );
        assert_eq!(
            output,
            vec![gauge(
                "system.memory.usage",
                vec![int(&[("state", "used")], 100), int(&[("state", "slab")], 15)]
            )]
        );
    }

    #[test]
    fn toggle_scalar_data_type_turns_integers_into_floats_and_floats_into_truncated_integers() {
        let p = processor("transforms: [{include: g, action: update, operations: [{action: toggle_scalar_data_type}]}]");
        assert_eq!(
            run(&p, vec![gauge("g", vec![int(&[("k", "a")], 3), double(&[("k", "b")], 2.7)])]),
            vec![gauge("g", vec![double(&[("k", "a")], 3.0), int(&[("k", "b")], 2)])]
        );
    }

    #[test]
    fn experimental_scale_value_multiplies_numbers_and_histogram_sums_extremes_and_bounds() {
        let p = processor(
            r"
transforms:
  - include: '^(cpu\.seconds|latency)$'
    match_type: regexp
    action: update
    operations:
      - action: experimental_scale_value
        experimental_scale: 1000",
        );
        let output = run(
            &p,
            vec![
                gauge("cpu.seconds", vec![double(&[], 1.5), int(&[], 2)]),
                histogram("latency", vec![hist(&[], 2, 30.0, vec![1, 1, 0], 5.0, 25.0)]),
            ],
        );
        let scaled = HistogramDataPoint {
            explicit_bounds: vec![10_000.0, 100_000.0],
            ..hist(&[], 2, 30_000.0, vec![1, 1, 0], 5_000.0, 25_000.0)
        };
        assert_eq!(
            output,
            vec![
                gauge("cpu.seconds", vec![double(&[], 1500.0), int(&[], 2000)]),
                histogram("latency", vec![scaled]),
            ]
        );
    }

    #[test]
    fn group_moves_the_matching_metrics_to_a_resource_with_the_group_labels() {
        let p = processor(
            r"
transforms:
  - include: '^k8s\.pod\.'
    match_type: regexp
    action: group
    group_resource_labels: {resource.type: k8s.pod}",
        );
        let pod = gauge("k8s.pod.cpu", vec![int(&[], 1)]);
        let container = gauge("container.cpu", vec![int(&[], 2)]);
        let mut data = fixtures::metrics(vec![("api", vec![pod.clone(), container.clone()])]);
        p.process(&mut data);
        let mut expected = fixtures::metrics(vec![("api", vec![container]), ("api", vec![pod])]);
        if let Some(resource) = expected.resource_metrics[1].resource.as_mut() {
            resource.attributes.push(kv("resource.type", "k8s.pod"));
        }
        assert_eq!(data, expected);
    }

    #[test]
    fn defaults_are_the_collectors() {
        assert!(config("{}").transforms.is_empty());
        assert!(config("transforms: []").transforms.is_empty());
        let parsed = config("transforms: [{include: a, action: update}]");
        let transform = &parsed.transforms[0];
        assert!(matches!(&transform.filter.include, NameMatch::Strict(name) if name == "a"));
        assert!(transform.filter.match_labels.is_empty());
        assert_eq!(transform.action, Action::Update);
        assert_eq!(transform.new_name, "");
        assert_eq!(transform.aggregation_type, None);
        assert_eq!(transform.submatch_case, None);
        assert!(transform.operations.is_empty());
    }

    #[test]
    fn config_errors_have_paths_and_say_what_to_write() {
        let errors = config_errors(
            r"
transforms:
  - metric_name: old
    action: rename
  - include: '('
    match_type: regexp
    action: combine
  - include: a
    action: insert
    operations:
      - action: scale_value
      - action: aggregate_labels
        label_set: [x]
      - action: add_label
        new_label: l
  - include: b
    action: update
    submatch_case: title
    operations:
      - {action: update_label}
      - {action: experimental_scale_value, experimental_scale: 0}
      - {action: aggregate_label_values, label: s, aggregated_values: [], new_value: n, aggregation_type: average}
      - {action: delete_label_value, label: s}
      - {action: reticulate}",
        );
        let at = "processors.metricstransform.transforms";
        assert!(
            errors
                .get(3)
                .is_some_and(|e| e.starts_with(&format!("{at}[1].include: not a valid regular expression"))),
            "{errors:#?}"
        );
        let expected = [
            format!("{at}[0].metric_name: the Collector renamed this key; write include: <metric name>"),
            format!("{at}[0].include: missing; name the metric to transform (a regular expression with match_type: regexp)"),
            format!("{at}[0].action: expected update, insert, combine or group, got 'rename'"),
            format!("{at}[1].new_name: required with action combine; name the combined metric"),
            format!("{at}[1].aggregation_type: required with action combine; expected sum, mean, min, max, count or median"),
            format!(
                "{at}[2].operations[0].action: the Collector names this operation experimental_scale_value; write action: \
                 experimental_scale_value"
            ),
            format!(
                "{at}[2].operations[1].aggregation_type: required with action aggregate_labels; expected sum, mean, min, max, \
                 count or median"
            ),
            format!("{at}[2].operations[2].new_value: required with action add_label; give the value of the label to add"),
            format!("{at}[2].new_name: required with action insert; name the copy to insert"),
            format!("{at}[3].submatch_case: expected lower or upper, got 'title'"),
            format!("{at}[3].operations[0].label: required with action update_label; name the label to update"),
            format!("{at}[3].operations[1].experimental_scale: expected a finite number other than 0, got 0"),
            format!(
                "{at}[3].operations[2].aggregated_values: required with action aggregate_label_values; list the label values to \
                 merge into new_value"
            ),
            format!("{at}[3].operations[2].aggregation_type: expected sum, mean, min, max, count or median, got 'average'"),
            format!(
                "{at}[3].operations[3].label_value: required with action delete_label_value; give the label value whose points to \
                 delete ('' for an empty one)"
            ),
            format!(
                "{at}[3].operations[4].action: unknown operation 'reticulate' (expected one of: add_label, update_label, \
                 delete_label_value, toggle_scalar_data_type, experimental_scale_value, aggregate_labels, aggregate_label_values)"
            ),
        ];
        let without_regex: Vec<&String> = errors.iter().enumerate().filter(|(i, _)| *i != 3).map(|(_, e)| e).collect();
        assert_eq!(without_regex, expected.iter().collect::<Vec<_>>());

        assert_eq!(
            config_errors(
                "transforms: [{include: a, action: group, operations: [{action: toggle_scalar_data_type, labels: x}]}]\nextra: 1"
            ),
            [
                "processors.metricstransform.extra: unknown key (expected one of: transforms)",
                "processors.metricstransform.transforms[0].operations[0].labels: unknown key (expected one of: action, label, \
                 new_label, label_set, aggregation_type, aggregated_values, new_value, value_actions, experimental_scale, \
                 label_value)",
                "processors.metricstransform.transforms[0].group_resource_labels: required with action group; give the resource \
                 attributes of the group, like {source: kubelet}",
            ]
        );
    }

    #[test]
    fn the_testdata_example_parses_and_transforms_a_golden_payload() {
        let mut value: Value = serde_yaml_ng::from_str(include_str!("testdata/metricstransform.yaml")).unwrap();
        let mut errors = Vec::new();
        // As a config file is read: `$$` is a literal `$`.
        crate::config::env::expand(&mut value, "", &|_: &str| None::<String>, &mut errors);
        let (id, body) = value.as_mapping().unwrap().iter().next().unwrap();
        let parsed = parse(
            &mut Parser::collecting(&mut errors),
            body,
            &format!("processors.{}", id.as_str().unwrap()),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let p = MetricsTransformProcessor::new(&ComponentId::parse("metricstransform").unwrap(), &parsed);

        let output = run(
            &p,
            vec![
                gauge("system.cpu.time", vec![double(&[("cpu", "0")], 1.5)]),
                counter("Web Service (*)/Total Get Requests", CUMULATIVE, vec![int(&[("site", "a")], 5)]),
                counter("Web Service (*)/Total Delete Requests", CUMULATIVE, vec![int(&[("site", "a")], 1)]),
                gauge(
                    "system.memory.usage",
                    vec![
                        int(&[("state", "used")], 100),
                        int(&[("state", "slab_reclaimable")], 10),
                        int(&[("state", "slab_unreclaimable")], 5),
                        int(&[("state", "inactive")], 7),
                    ],
                ),
            ],
        );
        let collector = format!("otelbox {}", env!("CARGO_PKG_VERSION"));
        assert_eq!(
            output,
            vec![
                gauge("system.processor.time.stat", vec![double(&[("cpu", "0")], 1.5)]),
                gauge(
                    "system.memory.usage",
                    vec![int(&[("memory.state", "used")], 100), int(&[("memory.state", "slab")], 15)]
                ),
                gauge(
                    "system.processor.time.ms",
                    vec![double(&[("cpu", "0"), ("collector", collector.as_str())], 1500.0)]
                ),
                counter(
                    "iis.requests",
                    CUMULATIVE,
                    vec![
                        int(&[("site", "a"), ("http_method", "get")], 5),
                        int(&[("site", "a"), ("http_method", "delete")], 1),
                    ]
                ),
            ]
        );
    }

    #[test]
    fn it_runs_in_metrics_pipelines_only() {
        let yaml = "receivers:\n  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:4317 } } }\n\
                    processors:\n  metricstransform: {}\n\
                    exporters:\n  otelbox: {}\n\
                    service:\n  pipelines:\n\
                    \x20   metrics: { receivers: [otlp], processors: [metricstransform], exporters: [otelbox] }\n\
                    \x20   logs: { receivers: [otlp], processors: [metricstransform], exporters: [otelbox] }\n";
        assert_eq!(
            fixtures::config_errors(yaml),
            ["service.pipelines.logs.processors[0]: processor \"metricstransform\" does not handle logs: it handles only metrics"]
        );
    }
}
