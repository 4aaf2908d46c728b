//! The `groupbyattrs` processor, as the Collector's: the attributes named in `keys` move from each
//! span, log record and metric data point to its resource (a copy of the record's resource with
//! those values set), and records whose resources are then the same are grouped under one resource
//! group, under their own scope; a metric appears once per resource and scope, with its points.
//! Records with none of the keys keep their resource. With no keys it only compacts: resource groups
//! with the same resource become one, and so do their scope groups and identical metrics. Nothing is
//! dropped: every record comes out once, in its order within its new group.
//!
//! Where the Collector compares less and keeps the first of what it merges, otelbox keeps apart what
//! merging would lose: resource groups also differ by their schema URL and the rest of their
//! resource (dropped attribute count, entity references), scope groups by the whole scope (its
//! attributes too) and schema URL, and metrics by everything but their points (description, unit,
//! metadata, temporality, monotonicity), not only by name and type.

use crate::config::{ComponentId, Parser};
use crate::pipeline::{ItemProcessor, PipelineError};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_yaml_ng::Value;
use std::collections::HashMap;

crate::item_processor_factory!(Factory, "groupbyattrs", parse, GroupByAttrsProcessor::new);

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupByAttrsConfig {
    /// The attribute names that move from records to their resource, as written (the Collector's
    /// default is none: compaction only).
    pub keys: Vec<String>,
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> GroupByAttrsConfig {
    let Some(body) = p.mapping(Some(value), path) else {
        return GroupByAttrsConfig::default();
    };
    p.only_keys(body, &["keys"], path);
    GroupByAttrsConfig {
        keys: p.string_list(body.get("keys"), &format!("{path}.keys")),
    }
}

pub struct GroupByAttrsProcessor {
    /// Distinct and non-empty, in the order written.
    keys: Vec<String>,
}

impl GroupByAttrsProcessor {
    /// As the Collector, skips empty key names and uses a repeated one once (with a warning).
    pub fn new(id: &ComponentId, config: &GroupByAttrsConfig) -> Self {
        let mut keys: Vec<String> = Vec::new();
        for key in config.keys.iter().filter(|key| !key.is_empty()) {
            if keys.contains(key) {
                tracing::warn!(processor = %id, %key, "groupbyattrs: a key is listed more than once; it is used once");
            } else {
                keys.push(key.clone());
            }
        }
        GroupByAttrsProcessor { keys }
    }

    /// Removes the grouping attributes a record has (the first of a repeated name) and returns
    /// them, in `keys` order.
    fn take_keys(&self, attributes: &mut Vec<KeyValue>) -> Vec<KeyValue> {
        self.keys
            .iter()
            .filter_map(|key| {
                let at = attributes.iter().position(|kv| kv.key == *key)?;
                Some(attributes.remove(at))
            })
            .collect()
    }

    /// Regroups the spans or log records of `input`.
    fn regroup<R>(&self, input: Vec<R>) -> Vec<R>
    where
        R: ResourceGroup,
        R::Item: Record,
    {
        let mut out = Regrouped::<R>::new();
        for mut group in input {
            let mut origin = Origin::take(&mut group);
            for mut scope in std::mem::take(group.scopes()) {
                let items = std::mem::take(R::items(&mut scope));
                let scope_identity = scope.encode_to_vec();
                let parts = partition(items, |attributes: &mut Vec<KeyValue>| {
                    out.group_for(&mut origin, self.take_keys(attributes))
                });
                for (to, items) in parts {
                    let at = out.scope_in(to, &scope, &scope_identity);
                    R::items(&mut out.groups[to].scopes()[at]).extend(items);
                }
            }
        }
        out.groups
    }

    /// Regroups the data points of `input`: each metric is cut by where its points go, and a part
    /// joins the same metric already under its resource and scope, if there is one.
    fn regroup_metrics(&self, input: Vec<ResourceMetrics>) -> Vec<ResourceMetrics> {
        let mut out = Regrouped::<ResourceMetrics>::new();
        // Per (resource group, scope group) of the output: a metric's identity -> its index there.
        let mut metrics_at: HashMap<(usize, usize), HashMap<Vec<u8>, usize>> = HashMap::new();
        for mut group in input {
            let mut origin = Origin::take(&mut group);
            for mut scope in std::mem::take(&mut group.scope_metrics) {
                let metrics = std::mem::take(&mut scope.metrics);
                let scope_identity = scope.encode_to_vec();
                for metric in metrics {
                    let (identity, parts) = split_metric(metric, |attributes: &mut Vec<KeyValue>| {
                        out.group_for(&mut origin, self.take_keys(attributes))
                    });
                    for (to, part) in parts {
                        let at = out.scope_in(to, &scope, &scope_identity);
                        let into = &mut out.groups[to].scope_metrics[at].metrics;
                        let index = metrics_at.entry((to, at)).or_default();
                        match index.get(&identity).copied() {
                            Some(same) => {
                                if let Err(part) = append_points(&mut into[same], part) {
                                    into.push(*part);
                                }
                            }
                            None => {
                                index.insert(identity.clone(), into.len());
                                into.push(part);
                            }
                        }
                    }
                }
            }
        }
        out.groups
    }
}

impl ItemProcessor for GroupByAttrsProcessor {
    fn process_traces(&self, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        data.resource_spans = self.regroup(std::mem::take(&mut data.resource_spans));
        Ok(())
    }

    fn process_metrics(&self, data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        data.resource_metrics = self.regroup_metrics(std::mem::take(&mut data.resource_metrics));
        Ok(())
    }

    fn process_logs(&self, data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        data.resource_logs = self.regroup(std::mem::take(&mut data.resource_logs));
        Ok(())
    }
}

/// A resource group type (ResourceSpans, ResourceLogs, ResourceMetrics), its scope groups and their
/// items (spans, log records, metrics).
trait ResourceGroup: Default {
    type Scope: Message + Clone;
    type Item;
    fn resource(&mut self) -> &mut Option<Resource>;
    fn schema_url(&mut self) -> &mut String;
    fn scopes(&mut self) -> &mut Vec<Self::Scope>;
    fn items(scope: &mut Self::Scope) -> &mut Vec<Self::Item>;
}

macro_rules! resource_group {
    ($resource:ty, $scopes:ident, $scope:ty, $items:ident, $item:ty) => {
        impl ResourceGroup for $resource {
            type Scope = $scope;
            type Item = $item;
            fn resource(&mut self) -> &mut Option<Resource> {
                &mut self.resource
            }
            fn schema_url(&mut self) -> &mut String {
                &mut self.schema_url
            }
            fn scopes(&mut self) -> &mut Vec<$scope> {
                &mut self.$scopes
            }
            fn items(scope: &mut $scope) -> &mut Vec<$item> {
                &mut scope.$items
            }
        }
    };
}
resource_group!(ResourceSpans, scope_spans, ScopeSpans, spans, Span);
resource_group!(ResourceLogs, scope_logs, ScopeLogs, log_records, LogRecord);
resource_group!(ResourceMetrics, scope_metrics, ScopeMetrics, metrics, Metric);

/// A record whose attributes may move to its resource: a span, a log record or a data point.
trait Record {
    fn attributes(&mut self) -> &mut Vec<KeyValue>;
}

macro_rules! record {
    ($($item:ty),*) => {
        $(impl Record for $item {
            fn attributes(&mut self) -> &mut Vec<KeyValue> {
                &mut self.attributes
            }
        })*
    };
}
record!(
    Span,
    LogRecord,
    NumberDataPoint,
    HistogramDataPoint,
    ExponentialHistogramDataPoint,
    SummaryDataPoint
);

/// A metric's data of one type: its points, and what every part of it keeps (temporality,
/// monotonicity).
trait MetricData: Clone {
    type Point: Record;
    fn points(&mut self) -> &mut Vec<Self::Point>;
    fn into_data(self) -> Data;
}

macro_rules! metric_data {
    ($($data:ident => $point:ty),*) => {
        $(impl MetricData for $data {
            type Point = $point;
            fn points(&mut self) -> &mut Vec<$point> {
                &mut self.data_points
            }
            fn into_data(self) -> Data {
                Data::$data(self)
            }
        })*
    };
}
metric_data!(
    Gauge => NumberDataPoint,
    Sum => NumberDataPoint,
    Histogram => HistogramDataPoint,
    ExponentialHistogram => ExponentialHistogramDataPoint,
    Summary => SummaryDataPoint
);

/// One input resource group's resource, and the output groups its records went to, by the
/// encoding of the attributes they moved (records mostly repeat a few values).
struct Origin {
    resource: Option<Resource>,
    schema_url: String,
    placed: HashMap<Vec<u8>, usize>,
}

impl Origin {
    fn take<R: ResourceGroup>(group: &mut R) -> Origin {
        Origin {
            resource: group.resource().take(),
            schema_url: std::mem::take(group.schema_url()),
            placed: HashMap::new(),
        }
    }
}

/// The regrouped payload being built: resource groups in the order first met, each found by what
/// it is.
struct Regrouped<R: ResourceGroup> {
    groups: Vec<R>,
    /// A group's `resource_identity` -> its index.
    by_identity: HashMap<Vec<u8>, usize>,
    /// Per group: a scope group's identity (its encoding without items) -> its index there.
    scopes: Vec<HashMap<Vec<u8>, usize>>,
}

impl<R: ResourceGroup> Regrouped<R> {
    fn new() -> Self {
        Regrouped {
            groups: Vec::new(),
            by_identity: HashMap::new(),
            scopes: Vec::new(),
        }
    }

    /// The index of the group of a record of `origin` that carried the grouping attributes
    /// `moved`: the group whose resource is `origin`'s with `moved` set, made when none is yet.
    fn group_for(&mut self, origin: &mut Origin, moved: Vec<KeyValue>) -> usize {
        let moved_key: Vec<u8> = moved.iter().flat_map(|kv| kv.encode_length_delimited_to_vec()).collect();
        if let Some(&group) = origin.placed.get(&moved_key) {
            return group;
        }
        let resource = with_moved(origin.resource.as_ref(), moved);
        let identity = resource_identity(resource.as_ref(), &origin.schema_url);
        let group = match self.by_identity.get(&identity).copied() {
            Some(group) => group,
            None => {
                let mut created = R::default();
                *created.resource() = resource;
                *created.schema_url() = origin.schema_url.clone();
                self.groups.push(created);
                self.scopes.push(HashMap::new());
                let group = self.groups.len() - 1;
                self.by_identity.insert(identity, group);
                group
            }
        };
        origin.placed.insert(moved_key, group);
        group
    }

    /// The index, in group `group`, of the scope group like `shell` (a scope group without items)
    /// whose identity is `identity`; a copy of `shell` is added when there is none yet.
    fn scope_in(&mut self, group: usize, shell: &R::Scope, identity: &[u8]) -> usize {
        if let Some(&at) = self.scopes[group].get(identity) {
            return at;
        }
        let scopes = self.groups[group].scopes();
        scopes.push(shell.clone());
        let at = scopes.len() - 1;
        self.scopes[group].insert(identity.to_vec(), at);
        at
    }
}

/// A copy of `origin` with `moved` set on it, replacing the value of an attribute it already has
/// (the Collector's new resource for a record).
fn with_moved(origin: Option<&Resource>, moved: Vec<KeyValue>) -> Option<Resource> {
    if moved.is_empty() {
        return origin.cloned();
    }
    let mut resource = origin.cloned().unwrap_or_default();
    for kv in moved {
        match resource.attributes.iter_mut().find(|existing| existing.key == kv.key) {
            Some(existing) => existing.value = kv.value,
            None => resource.attributes.push(kv),
        }
    }
    Some(resource)
}

/// What makes two resource groups one: their resources' attributes whatever their order (as the
/// Collector compares them), the rest of the resources, and the groups' schema URLs. An absent
/// resource is an empty one.
fn resource_identity(resource: Option<&Resource>, schema_url: &str) -> Vec<u8> {
    let empty = Resource::default();
    let resource = resource.unwrap_or(&empty);
    let mut attributes: Vec<&KeyValue> = resource.attributes.iter().collect();
    attributes.sort_by(|a, b| a.key.cmp(&b.key));
    let mut identity = Vec::new();
    identity.extend_from_slice(&(attributes.len() as u64).to_le_bytes());
    for kv in attributes {
        identity.extend(kv.encode_length_delimited_to_vec());
    }
    let rest = Resource {
        attributes: Vec::new(),
        ..resource.clone()
    };
    identity.extend(rest.encode_length_delimited_to_vec());
    identity.extend_from_slice(schema_url.as_bytes());
    identity
}

/// Splits `items` by the group `group_of` gives each (from its attributes, which it edits), keeping
/// their order; the parts in the order their groups were first met.
fn partition<T: Record>(items: Vec<T>, mut group_of: impl FnMut(&mut Vec<KeyValue>) -> usize) -> Vec<(usize, Vec<T>)> {
    let mut parts: Vec<(usize, Vec<T>)> = Vec::new();
    let mut part_of_group: HashMap<usize, usize> = HashMap::new();
    for mut item in items {
        let group = group_of(item.attributes());
        let at = *part_of_group.entry(group).or_insert_with(|| {
            parts.push((group, Vec::new()));
            parts.len() - 1
        });
        parts[at].1.push(item);
    }
    parts
}

/// A metric cut by the groups of its points: its identity (the encoding of the metric without
/// points) and a part per group. A metric without points stays whole in its resource's group.
fn split_metric(mut metric: Metric, mut group_of: impl FnMut(&mut Vec<KeyValue>) -> usize) -> (Vec<u8>, Vec<(usize, Metric)>) {
    let Some(data) = metric.data.take() else {
        let identity = metric.encode_to_vec();
        return (identity, vec![(group_of(&mut Vec::new()), metric)]);
    };
    match data {
        Data::Gauge(data) => split_points(&metric, data, group_of),
        Data::Sum(data) => split_points(&metric, data, group_of),
        Data::Histogram(data) => split_points(&metric, data, group_of),
        Data::ExponentialHistogram(data) => split_points(&metric, data, group_of),
        Data::Summary(data) => split_points(&metric, data, group_of),
    }
}

/// `split_metric` for one type of data: every part is `template` (the metric without its data)
/// with a copy of `data` holding that group's points.
fn split_points<D: MetricData>(
    template: &Metric,
    mut data: D,
    mut group_of: impl FnMut(&mut Vec<KeyValue>) -> usize,
) -> (Vec<u8>, Vec<(usize, Metric)>) {
    let points = std::mem::take(data.points());
    let with = |data: D| Metric {
        data: Some(data.into_data()),
        ..template.clone()
    };
    let identity = with(data.clone()).encode_to_vec();
    if points.is_empty() {
        return (identity, vec![(group_of(&mut Vec::new()), with(data))]);
    }
    let parts: Vec<(usize, Metric)> = partition(points, group_of)
        .into_iter()
        .map(|(group, points)| {
            let mut part = data.clone();
            *part.points() = points;
            (group, with(part))
        })
        .collect();
    (identity, parts)
}

/// Appends the points of `part` to `into`, a metric of the same identity; gives `part` back when
/// their types differ (which the identity rules out), so that nothing is lost either way.
fn append_points(into: &mut Metric, part: Metric) -> Result<(), Box<Metric>> {
    match (&mut into.data, part.data) {
        (Some(Data::Gauge(to)), Some(Data::Gauge(from))) => to.data_points.extend(from.data_points),
        (Some(Data::Sum(to)), Some(Data::Sum(from))) => to.data_points.extend(from.data_points),
        (Some(Data::Histogram(to)), Some(Data::Histogram(from))) => to.data_points.extend(from.data_points),
        (Some(Data::ExponentialHistogram(to)), Some(Data::ExponentialHistogram(from))) => to.data_points.extend(from.data_points),
        (Some(Data::Summary(to)), Some(Data::Summary(from))) => to.data_points.extend(from.data_points),
        (_, data) => return Err(Box::new(Metric { data, ..part })),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::{metric_point_count, SignalData};
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope};
    use opentelemetry_proto::tonic::metrics::v1::{number_data_point, AggregationTemporality};

    fn processor(keys: &[&str]) -> GroupByAttrsProcessor {
        let config = GroupByAttrsConfig {
            keys: keys.iter().map(|key| key.to_string()).collect(),
        };
        GroupByAttrsProcessor::new(&ComponentId::parse("groupbyattrs").unwrap(), &config)
    }

    fn text(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn texts(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
        pairs.iter().map(|(key, value)| text(key, value)).collect()
    }

    fn resource(pairs: &[(&str, &str)]) -> Option<Resource> {
        Some(Resource {
            attributes: texts(pairs),
            ..Default::default()
        })
    }

    fn scope(name: &str) -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: name.into(),
            version: "1.0".into(),
            ..Default::default()
        })
    }

    fn span(name: &str, attributes: &[(&str, &str)]) -> Span {
        Span {
            trace_id: vec![0x5b; 16],
            span_id: vec![1; 8],
            name: name.into(),
            attributes: texts(attributes),
            ..Default::default()
        }
    }

    fn spans(resource: Option<Resource>, scopes: Vec<(Option<InstrumentationScope>, Vec<Span>)>) -> ResourceSpans {
        ResourceSpans {
            resource,
            scope_spans: scopes
                .into_iter()
                .map(|(scope, spans)| ScopeSpans {
                    scope,
                    spans,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn log(body: &str, attributes: &[(&str, &str)]) -> LogRecord {
        LogRecord {
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body.into())),
            }),
            attributes: texts(attributes),
            ..Default::default()
        }
    }

    /// Attributes as sorted `key=value` texts.
    fn shown(attributes: &[KeyValue]) -> Vec<String> {
        let mut shown: Vec<String> = attributes
            .iter()
            .map(|kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => format!("{}={s}", kv.key),
                other => format!("{}={other:?}", kv.key),
            })
            .collect();
        shown.sort();
        shown
    }

    /// `name[the attributes left on the record]`.
    fn item(name: &str, attributes: &[KeyValue]) -> String {
        format!("{name}[{}]", shown(attributes).join(","))
    }

    type Rendered<'a> = Vec<(&'a Option<Resource>, Vec<(&'a Option<InstrumentationScope>, Vec<String>)>)>;

    /// A line per resource group (its attributes, sorted) and one per scope group: `  scope: items`.
    fn render(groups: Rendered<'_>) -> String {
        let mut out = String::new();
        for (resource, scopes) in groups {
            out.push_str(&resource.as_ref().map(|r| shown(&r.attributes).join(",")).unwrap_or_default());
            out.push('\n');
            for (scope, items) in scopes {
                let name = scope.as_ref().map_or("", |s| s.name.as_str());
                out.push_str(&format!("  {name}: {}\n", items.join(" ")));
            }
        }
        out
    }

    fn render_traces(data: &ExportTraceServiceRequest) -> String {
        render(
            data.resource_spans
                .iter()
                .map(|r| {
                    let scopes = r
                        .scope_spans
                        .iter()
                        .map(|s| (&s.scope, s.spans.iter().map(|x| item(&x.name, &x.attributes)).collect::<Vec<_>>()))
                        .collect::<Vec<_>>();
                    (&r.resource, scopes)
                })
                .collect::<Vec<_>>(),
        )
    }

    fn render_logs(data: &ExportLogsServiceRequest) -> String {
        let body = |log: &LogRecord| match log.body.as_ref().and_then(|b| b.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            other => format!("{other:?}"),
        };
        render(
            data.resource_logs
                .iter()
                .map(|r| {
                    let scopes = r
                        .scope_logs
                        .iter()
                        .map(|s| {
                            let items = s.log_records.iter().map(|x| item(&body(x), &x.attributes)).collect::<Vec<_>>();
                            (&s.scope, items)
                        })
                        .collect::<Vec<_>>();
                    (&r.resource, scopes)
                })
                .collect::<Vec<_>>(),
        )
    }

    fn kind(metric: &Metric) -> &'static str {
        match &metric.data {
            Some(Data::Gauge(_)) => "gauge",
            Some(Data::Sum(_)) => "sum",
            Some(Data::Histogram(_)) => "histogram",
            Some(Data::ExponentialHistogram(_)) => "exponential_histogram",
            Some(Data::Summary(_)) => "summary",
            None => "none",
        }
    }

    /// Metrics as `name:type:points`.
    fn render_metrics(data: &ExportMetricsServiceRequest) -> String {
        render(
            data.resource_metrics
                .iter()
                .map(|r| {
                    let scopes = r
                        .scope_metrics
                        .iter()
                        .map(|s| {
                            let items = s
                                .metrics
                                .iter()
                                .map(|m| format!("{}:{}:{}", m.name, kind(m), metric_point_count(m)))
                                .collect::<Vec<_>>();
                            (&s.scope, items)
                        })
                        .collect::<Vec<_>>();
                    (&r.resource, scopes)
                })
                .collect::<Vec<_>>(),
        )
    }

    /// Number points, one per host ("" for none), each also with `id=eth0`.
    fn number_points(hosts: &[&str]) -> Vec<NumberDataPoint> {
        hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let mut attributes = vec![text("id", "eth0")];
                if !host.is_empty() {
                    attributes.insert(0, text("host.name", host));
                }
                NumberDataPoint {
                    attributes,
                    time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                    value: Some(number_data_point::Value::AsInt(i as i64)),
                    ..Default::default()
                }
            })
            .collect()
    }

    fn gauge(name: &str, hosts: &[&str]) -> Metric {
        Metric {
            name: name.into(),
            data: Some(Data::Gauge(Gauge {
                data_points: number_points(hosts),
            })),
            ..Default::default()
        }
    }

    fn sum(name: &str, hosts: &[&str]) -> Metric {
        Metric {
            name: name.into(),
            unit: "{packet}".into(),
            data: Some(Data::Sum(Sum {
                data_points: number_points(hosts),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        }
    }

    fn metrics(resource: Option<Resource>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource,
                scope_metrics: vec![ScopeMetrics {
                    scope: scope("prom"),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn two_spans_with_different_host_names_from_one_resource_end_in_two_resources() {
        let mut data = ExportTraceServiceRequest {
            resource_spans: vec![spans(
                resource(&[("service.name", "checkout"), ("host.name", "localhost")]),
                vec![(
                    scope("golden"),
                    vec![
                        span("a", &[("host.name", "host-A"), ("http.route", "/a")]),
                        span("b", &[("http.route", "/b"), ("host.name", "host-B")]),
                        span("c", &[("http.route", "/c")]),
                        span("d", &[("host.name", "host-A")]),
                    ],
                )],
            )],
        };
        processor(&["host.name"]).process_traces(&mut data).unwrap();
        assert_eq!(
            render_traces(&data),
            "host.name=host-A,service.name=checkout\n  golden: a[http.route=/a] d[]\n\
             host.name=host-B,service.name=checkout\n  golden: b[http.route=/b]\n\
             host.name=localhost,service.name=checkout\n  golden: c[http.route=/c]\n"
        );
        assert_eq!(data.item_count(), 4, "nothing is dropped");
        for group in &data.resource_spans {
            assert_eq!(group.scope_spans[0].scope, scope("golden"), "the scope is kept whole");
        }
    }

    /// The Collector README's compaction example: with no keys, identical resources and scopes merge.
    #[test]
    fn compaction_merges_identical_resources_and_their_identical_scopes() {
        let localhost = || resource(&[("host.name", "localhost")]);
        let mut data = ExportTraceServiceRequest {
            resource_spans: vec![
                spans(
                    localhost(),
                    vec![
                        (scope("MyLibrary"), vec![span("1", &[])]),
                        (scope("OtherLibrary"), vec![span("2", &[])]),
                    ],
                ),
                spans(localhost(), vec![(scope("MyLibrary"), vec![span("3", &[])])]),
                spans(localhost(), vec![(scope("MyLibrary"), vec![span("4", &[])])]),
                spans(
                    resource(&[("host.name", "otherhost")]),
                    vec![(scope("MyLibrary"), vec![span("5", &[])])],
                ),
            ],
        };
        processor(&[]).process_traces(&mut data).unwrap();
        assert_eq!(
            render_traces(&data),
            "host.name=localhost\n  MyLibrary: 1[] 3[] 4[]\n  OtherLibrary: 2[]\n\
             host.name=otherhost\n  MyLibrary: 5[]\n"
        );
        assert_eq!(data.item_count(), 5);
    }

    #[test]
    fn a_record_whose_new_resource_is_another_groups_joins_it_whatever_the_attribute_order() {
        let mut data = ExportTraceServiceRequest {
            resource_spans: vec![
                spans(
                    resource(&[("service.name", "a"), ("host.name", "h1")]),
                    vec![(scope("s"), vec![span("x", &[])])],
                ),
                spans(
                    resource(&[("service.name", "a")]),
                    vec![(scope("s"), vec![span("y", &[("host.name", "h1")]), span("w", &[])])],
                ),
                spans(
                    resource(&[("host.name", "h1"), ("service.name", "a")]),
                    vec![(scope("s"), vec![span("z", &[])])],
                ),
            ],
        };
        processor(&["host.name"]).process_traces(&mut data).unwrap();
        assert_eq!(
            render_traces(&data),
            "host.name=h1,service.name=a\n  s: x[] y[] z[]\nservice.name=a\n  s: w[]\n"
        );
    }

    /// Merging these would lose a schema URL or a scope's attributes (the Collector keeps the first).
    #[test]
    fn groups_differing_in_schema_url_or_scope_attributes_stay_apart() {
        let url = "https://opentelemetry.io/schemas/1.26.0";
        let service = || resource(&[("service.name", "a")]);
        let tagged_scope = Some(InstrumentationScope {
            attributes: texts(&[("lib", "x")]),
            ..scope("s").unwrap()
        });
        let mut with_url = spans(service(), vec![(scope("s"), vec![span("1", &[])])]);
        with_url.schema_url = url.into();
        let mut data = ExportTraceServiceRequest {
            resource_spans: vec![
                with_url,
                spans(
                    service(),
                    vec![(scope("s"), vec![span("2", &[])]), (tagged_scope.clone(), vec![span("3", &[])])],
                ),
                spans(service(), vec![(scope("s"), vec![span("4", &[])])]),
            ],
        };
        processor(&[]).process_traces(&mut data).unwrap();
        assert_eq!(
            render_traces(&data),
            "service.name=a\n  s: 1[]\nservice.name=a\n  s: 2[] 4[]\n  s: 3[]\n"
        );
        assert_eq!(data.resource_spans[0].schema_url, url);
        assert_eq!(data.resource_spans[1].schema_url, "");
        assert_eq!(data.resource_spans[1].scope_spans[1].scope, tagged_scope);
    }

    #[test]
    fn log_records_move_every_key_they_have_and_keep_their_other_attributes() {
        let mut data = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(&[("service.name", "api")]),
                scope_logs: vec![ScopeLogs {
                    scope: scope("app"),
                    log_records: vec![
                        log("r1", &[("host.name", "h1"), ("level", "info"), ("container.id", "c1")]),
                        log("r2", &[("host.name", "h1")]),
                        log("r3", &[("container.id", "c1")]),
                        log("r4", &[("level", "debug")]),
                        log("r5", &[("container.id", "c1"), ("host.name", "h1")]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        processor(&["host.name", "container.id"]).process_logs(&mut data).unwrap();
        assert_eq!(
            render_logs(&data),
            "container.id=c1,host.name=h1,service.name=api\n  app: r1[level=info] r5[]\n\
             host.name=h1,service.name=api\n  app: r2[]\n\
             container.id=c1,service.name=api\n  app: r3[]\n\
             service.name=api\n  app: r4[level=debug]\n"
        );
        assert_eq!(data.item_count(), 5);
    }

    /// The Collector README's metrics example.
    #[test]
    fn metric_points_regroup_by_host_and_same_metrics_merge_unless_their_types_differ() {
        let mut data = metrics(
            resource(&[("host.name", "localhost"), ("source", "prom")]),
            vec![
                gauge("gauge-1", &["host-A", "host-A", "host-B"]),
                gauge("gauge-1", &["host-A", "host-A", "host-B"]),
                gauge("mixed-type", &["host-A", "host-A", "host-B"]),
                sum("mixed-type", &["host-A", "host-A"]),
                gauge("dont-move", &[""]),
            ],
        );
        let before = data.item_count();
        processor(&["host.name"]).process_metrics(&mut data).unwrap();
        assert_eq!(
            render_metrics(&data),
            "host.name=host-A,source=prom\n  prom: gauge-1:gauge:4 mixed-type:gauge:2 mixed-type:sum:2\n\
             host.name=host-B,source=prom\n  prom: gauge-1:gauge:2 mixed-type:gauge:1\n\
             host.name=localhost,source=prom\n  prom: dont-move:gauge:1\n"
        );
        assert_eq!(data.item_count(), before, "nothing is dropped");
        for metric in data.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
            let points = match &metric.data {
                Some(Data::Gauge(g)) => &g.data_points,
                Some(Data::Sum(s)) => &s.data_points,
                other => panic!("only gauges and sums went in, got {other:?}"),
            };
            for point in points {
                assert_eq!(shown(&point.attributes), ["id=eth0"], "host.name moved to the resource");
            }
        }
    }

    #[test]
    fn a_metrics_points_split_across_resources_keep_its_type_temporality_and_description() {
        let histogram_points: Vec<HistogramDataPoint> = ["host-A", "host-B", "host-A"]
            .iter()
            .map(|&host| HistogramDataPoint {
                attributes: texts(&[("host.name", host)]),
                count: 2,
                sum: Some(3.0),
                bucket_counts: vec![1, 1],
                explicit_bounds: vec![1.0],
                ..Default::default()
            })
            .collect();
        let histogram = Metric {
            name: "http.server.duration".into(),
            description: "Duration of HTTP server requests.".into(),
            unit: "ms".into(),
            data: Some(Data::Histogram(Histogram {
                data_points: histogram_points,
                aggregation_temporality: AggregationTemporality::Delta as i32,
            })),
            ..Default::default()
        };
        let mut data = metrics(
            resource(&[("service.name", "exporter")]),
            vec![histogram, sum("packets", &["host-B", "host-A"])],
        );
        processor(&["host.name"]).process_metrics(&mut data).unwrap();
        assert_eq!(
            render_metrics(&data),
            "host.name=host-A,service.name=exporter\n  prom: http.server.duration:histogram:2 packets:sum:1\n\
             host.name=host-B,service.name=exporter\n  prom: http.server.duration:histogram:1 packets:sum:1\n"
        );
        for group in &data.resource_metrics {
            let metrics = &group.scope_metrics[0].metrics;
            assert_eq!(metrics[0].description, "Duration of HTTP server requests.");
            assert_eq!(metrics[0].unit, "ms");
            match &metrics[0].data {
                Some(Data::Histogram(h)) => {
                    assert_eq!(h.aggregation_temporality, AggregationTemporality::Delta as i32);
                    assert!(h.data_points.iter().all(|p| p.attributes.is_empty() && p.explicit_bounds == [1.0]));
                }
                other => panic!("the histogram stays a histogram, got {other:?}"),
            }
            match &metrics[1].data {
                Some(Data::Sum(s)) => {
                    assert_eq!(s.aggregation_temporality, AggregationTemporality::Cumulative as i32);
                    assert!(s.is_monotonic);
                }
                other => panic!("the sum stays a monotonic cumulative sum, got {other:?}"),
            }
            assert_eq!(metrics[1].unit, "{packet}");
        }
        assert_eq!(data.item_count(), 5);
    }

    #[test]
    fn a_metric_without_points_stays_under_its_resource() {
        let mut data = metrics(
            resource(&[("service.name", "exporter")]),
            vec![sum("idle", &[]), gauge("load", &["host-A"])],
        );
        processor(&["host.name"]).process_metrics(&mut data).unwrap();
        assert_eq!(
            render_metrics(&data),
            "service.name=exporter\n  prom: idle:sum:0\nhost.name=host-A,service.name=exporter\n  prom: load:gauge:1\n"
        );
    }

    #[test]
    fn the_golden_payloads_keep_every_item_and_spans_move_http_route_to_their_resource() {
        use crate::exporter::sender::golden;
        let processor = processor(&["http.route"]);
        let mut traces = golden::traces();
        let mut metrics = golden::metrics();
        let mut logs = golden::logs();
        let counts = (traces.item_count(), metrics.item_count(), logs.item_count());
        processor.process_traces(&mut traces).unwrap();
        processor.process_metrics(&mut metrics).unwrap();
        processor.process_logs(&mut logs).unwrap();
        assert_eq!((traces.item_count(), metrics.item_count(), logs.item_count()), counts);
        assert_eq!(
            render_traces(&traces),
            "http.route=/cart,service.name=checkout\n  golden: GET /cart[] SELECT cart[]\n"
        );
        assert_eq!(metrics, golden::metrics(), "no point has the key: unchanged");
        assert_eq!(logs, golden::logs(), "no record has the key: unchanged");
    }

    #[test]
    fn empty_and_repeated_keys_are_used_once() {
        assert_eq!(
            processor(&["host.name", "", "host.name", "k8s.pod.name"]).keys,
            ["host.name", "k8s.pod.name"]
        );
    }

    #[test]
    fn keys_default_to_none_and_other_keys_are_errors_with_their_paths() {
        let mut errors = Vec::new();
        assert_eq!(
            parse(&mut Parser::collecting(&mut errors), &Value::Null, "processors.groupbyattrs"),
            GroupByAttrsConfig::default()
        );
        assert!(errors.is_empty(), "{errors:?}");

        let value: Value = serde_yaml_ng::from_str("keys: host.name\ngroup_by: [host.name]").unwrap();
        parse(&mut Parser::collecting(&mut errors), &value, "processors.groupbyattrs");
        assert_eq!(errors[0], "processors.groupbyattrs.group_by: unknown key (expected one of: keys)");
        assert!(errors[1].starts_with("processors.groupbyattrs.keys: expected a list"), "{errors:?}");
    }

    #[test]
    fn the_testdata_example_parses_without_errors() {
        let value: Value = serde_yaml_ng::from_str(include_str!("testdata/groupbyattrs.yaml")).unwrap();
        let mut errors = Vec::new();
        let mut parsed = Vec::new();
        for (id, section) in value.as_mapping().unwrap() {
            let path = format!("processors.{}", id.as_str().unwrap());
            parsed.push(parse(&mut Parser::collecting(&mut errors), section, &path));
        }
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            parsed,
            [GroupByAttrsConfig {
                keys: vec!["host.name".into()]
            }]
        );
    }
}
