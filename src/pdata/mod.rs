//! OTLP data as it travels through the pipeline: typed ids, the three signal payloads and the
//! operations the pipeline needs on them (counting, merging, splitting, validating). No IO here.

pub mod cap;
pub mod json;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use std::fmt;

/// A 16-byte trace id; the all-zero id is invalid in OTLP.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id; the all-zero id is invalid in OTLP.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    pub fn from_bytes(bytes: &[u8]) -> Option<TraceId> {
        let id: [u8; 16] = bytes.try_into().ok()?;
        (id != [0; 16]).then_some(TraceId(id))
    }
    pub fn parse_hex(text: &str) -> Option<TraceId> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(text, &mut id).ok()?;
        (id != [0; 16]).then_some(TraceId(id))
    }
}

impl SpanId {
    pub fn from_bytes(bytes: &[u8]) -> Option<SpanId> {
        let id: [u8; 8] = bytes.try_into().ok()?;
        (id != [0; 8]).then_some(SpanId(id))
    }
    pub fn parse_hex(text: &str) -> Option<SpanId> {
        let mut id = [0u8; 8];
        hex::decode_to_slice(text, &mut id).ok()?;
        (id != [0; 8]).then_some(SpanId(id))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}
impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// Lowercase hex of an id field, "" for an empty one (the API's convention).
pub fn hex_id(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The wall clock as OTLP stamps it: nanoseconds since the Unix epoch (0 before it).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The three OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
    /// What one item of this signal is called in OTLP partial-success answers and in counters.
    pub fn item_name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "metric_points",
            Signal::Logs => "logs",
        }
    }
}

/// The operations the generic pipeline (batching, limiting, fan-out) needs on a signal payload.
pub trait SignalData: Default + Clone + Send + Sync + 'static {
    const SIGNAL: Signal;
    /// Spans, data points or log records contained.
    fn item_count(&self) -> usize;
    /// Append `other`'s resource groups to `self`.
    fn merge(&mut self, other: Self);
    /// Move at most `max_items` items out of `self` into a new payload, keeping resource and scope.
    fn split_off_items(&mut self, max_items: usize) -> Self;
    /// Remove items with invalid ids (OTLP requires 16-byte trace and 8-byte span ids); returns how
    /// many were removed and why, for a partial-success answer.
    fn remove_invalid(&mut self) -> Option<(usize, String)>;
}

/// How deep attribute and body values may nest (a scalar is 1, an array or map of scalars 2). OTLP/JSON
/// spends about four JSON levels per level (`{"kvlistValue":{"values":[{"key":..,"value":..}]}}`) and
/// JSON decoders stop at 128 (serde_json's limit, which otelbox's own decoder keeps), so a deeper
/// value could be stored but never exported, downloaded or imported again: it is refused at ingest.
pub const MAX_VALUE_DEPTH: usize = 24;

/// How deep `value` nests, counting no further than `MAX_VALUE_DEPTH + 1`.
pub fn value_depth(value: &AnyValue) -> usize {
    fn depth(value: &AnyValue, level: usize) -> usize {
        if level > MAX_VALUE_DEPTH {
            return level;
        }
        match &value.value {
            Some(any_value::Value::ArrayValue(array)) => array.values.iter().map(|v| depth(v, level + 1)).max().unwrap_or(level),
            Some(any_value::Value::KvlistValue(list)) => list
                .values
                .iter()
                .filter_map(|kv| kv.value.as_ref())
                .map(|v| depth(v, level + 1))
                .max()
                .unwrap_or(level),
            _ => level,
        }
    }
    depth(value, 1)
}

/// The first attribute nesting deeper than `MAX_VALUE_DEPTH`, as a reason to refuse its item.
fn too_deep(attributes: &[KeyValue]) -> Option<String> {
    attributes.iter().find_map(|kv| {
        let depth = kv.value.as_ref().map_or(0, value_depth);
        (depth > MAX_VALUE_DEPTH).then(|| {
            format!(
                "attribute '{}' nests values more than {MAX_VALUE_DEPTH} levels deep, the most otelbox keeps so that all it stores fits through OTLP/JSON",
                kv.key
            )
        })
    })
}

/// A resource group (ResourceSpans, ResourceLogs) and its scope groups, for the generic walks below.
trait ResourceGroup: Clone {
    type Scope: ScopeGroup;
    fn scopes(&mut self) -> &mut Vec<Self::Scope>;
    fn scope_list(&self) -> &[Self::Scope];
}

/// A scope group (ScopeSpans, ScopeLogs) and its items (spans, log records).
trait ScopeGroup: Clone {
    type Item;
    fn items(&mut self) -> &mut Vec<Self::Item>;
    fn item_list(&self) -> &[Self::Item];
}

macro_rules! nesting {
    ($resource:ty, $scopes:ident, $scope:ty, $items:ident, $item:ty) => {
        impl ResourceGroup for $resource {
            type Scope = $scope;
            fn scopes(&mut self) -> &mut Vec<$scope> {
                &mut self.$scopes
            }
            fn scope_list(&self) -> &[$scope] {
                &self.$scopes
            }
        }
        impl ScopeGroup for $scope {
            type Item = $item;
            fn items(&mut self) -> &mut Vec<$item> {
                &mut self.$items
            }
            fn item_list(&self) -> &[$item] {
                &self.$items
            }
        }
    };
}
nesting!(ResourceSpans, scope_spans, ScopeSpans, spans, Span);
nesting!(ResourceLogs, scope_logs, ScopeLogs, log_records, LogRecord);

fn count_items<R: ResourceGroup>(groups: &[R]) -> usize {
    groups.iter().flat_map(|r| r.scope_list()).map(|s| s.item_list().len()).sum()
}

/// Move at most `max_items` items from the front of `groups`, keeping each item's resource and scope.
fn split_off_groups<R: ResourceGroup>(groups: &mut Vec<R>, max_items: usize) -> Vec<R> {
    let mut budget = max_items;
    let mut out = drain_front(groups, |g| {
        spend(&mut budget, g.scope_list().iter().map(|s| s.item_list().len()).sum())
    });
    if let Some(first) = groups.first_mut().filter(|_| budget > 0) {
        // Split inside this resource: whole scopes first, then part of one scope.
        let mut part = first.clone();
        part.scopes().clear();
        let whole = drain_front(first.scopes(), |s| spend(&mut budget, s.item_list().len()));
        part.scopes().extend(whole);
        if let Some(scope) = first.scopes().first_mut().filter(|_| budget > 0) {
            let mut piece = scope.clone();
            *piece.items() = scope.items().drain(..budget).collect();
            part.scopes().push(piece);
        }
        out.push(part);
    }
    out
}

/// Takes `items` from `budget` when they fit in it (and it is not spent).
fn spend(budget: &mut usize, items: usize) -> bool {
    let fits = *budget > 0 && items <= *budget;
    if fits {
        *budget -= items;
    }
    fits
}

/// Moves out the longest prefix of `items` that `take` accepts, in one drain. Taking them one at a
/// time with `remove(0)` was quadratic in their number: one export of 185,000 single-span resource
/// groups held the batch processor for a minute.
fn drain_front<T>(items: &mut Vec<T>, mut take: impl FnMut(&T) -> bool) -> Vec<T> {
    let n = items.iter().take_while(|item| take(item)).count();
    items.drain(..n).collect()
}

/// Drop the items `problem` objects to; returns how many and the first reason, in `what`'s words.
fn remove_items<R: ResourceGroup>(
    groups: &mut [R],
    what: &str,
    problem: impl Fn(&<R::Scope as ScopeGroup>::Item) -> Option<String>,
) -> Option<(usize, String)> {
    let mut removed = 0;
    let mut reason = None;
    for group in groups {
        for scope in group.scopes() {
            scope.items().retain(|item| match problem(item) {
                Some(p) => {
                    removed += 1;
                    reason.get_or_insert(p);
                    false
                }
                None => true,
            });
        }
    }
    reason.map(|r| (removed, format!("{removed} {what} rejected; first: {r}")))
}

impl SignalData for ExportTraceServiceRequest {
    const SIGNAL: Signal = Signal::Traces;
    fn item_count(&self) -> usize {
        count_items(&self.resource_spans)
    }
    fn merge(&mut self, other: Self) {
        self.resource_spans.extend(other.resource_spans);
    }
    fn split_off_items(&mut self, max_items: usize) -> Self {
        ExportTraceServiceRequest {
            resource_spans: split_off_groups(&mut self.resource_spans, max_items),
        }
    }
    fn remove_invalid(&mut self) -> Option<(usize, String)> {
        remove_items(&mut self.resource_spans, "span(s)", |span| {
            if TraceId::from_bytes(&span.trace_id).is_none() {
                Some(format!(
                    "span '{}': trace id must be 16 non-zero bytes, got {}",
                    span.name,
                    span.trace_id.len()
                ))
            } else if SpanId::from_bytes(&span.span_id).is_none() {
                Some(format!(
                    "span '{}': span id must be 8 non-zero bytes, got {}",
                    span.name,
                    span.span_id.len()
                ))
            } else if !span.parent_span_id.is_empty() && span.parent_span_id.len() != 8 {
                Some(format!(
                    "span '{}': parent span id must be empty or 8 bytes, got {}",
                    span.name,
                    span.parent_span_id.len()
                ))
            } else if let Some((i, link)) = span
                .links
                .iter()
                .enumerate()
                .find(|(_, l)| l.trace_id.len() != 16 || l.span_id.len() != 8)
            {
                Some(format!(
                    "span '{}': links[{i}] must have a 16-byte trace id and an 8-byte span id, got {} and {}",
                    span.name,
                    link.trace_id.len(),
                    link.span_id.len()
                ))
            } else {
                too_deep(&span.attributes)
                    .or_else(|| span.events.iter().find_map(|e| too_deep(&e.attributes)))
                    .or_else(|| span.links.iter().find_map(|l| too_deep(&l.attributes)))
                    .map(|reason| format!("span '{}': {reason}", span.name))
            }
        })
    }
}

impl SignalData for ExportLogsServiceRequest {
    const SIGNAL: Signal = Signal::Logs;
    fn item_count(&self) -> usize {
        count_items(&self.resource_logs)
    }
    fn merge(&mut self, other: Self) {
        self.resource_logs.extend(other.resource_logs);
    }
    fn split_off_items(&mut self, max_items: usize) -> Self {
        ExportLogsServiceRequest {
            resource_logs: split_off_groups(&mut self.resource_logs, max_items),
        }
    }
    fn remove_invalid(&mut self) -> Option<(usize, String)> {
        remove_items(&mut self.resource_logs, "log record(s)", |log| {
            if !log.trace_id.is_empty() && log.trace_id.len() != 16 {
                Some(format!(
                    "log record: trace id must be empty or 16 bytes, got {}",
                    log.trace_id.len()
                ))
            } else if !log.span_id.is_empty() && log.span_id.len() != 8 {
                Some(format!("log record: span id must be empty or 8 bytes, got {}", log.span_id.len()))
            } else if log.body.as_ref().is_some_and(|b| value_depth(b) > MAX_VALUE_DEPTH) {
                Some(format!(
                    "log record: its body nests values more than {MAX_VALUE_DEPTH} levels deep, the most otelbox keeps so that all it stores fits through OTLP/JSON"
                ))
            } else {
                too_deep(&log.attributes).map(|reason| format!("log record: {reason}"))
            }
        })
    }
}

/// Number of data points in one metric, whatever its type.
pub fn metric_point_count(metric: &Metric) -> usize {
    match &metric.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(e)) => e.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

impl SignalData for ExportMetricsServiceRequest {
    const SIGNAL: Signal = Signal::Metrics;
    fn item_count(&self) -> usize {
        self.resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(metric_point_count)
            .sum()
    }
    fn merge(&mut self, other: Self) {
        self.resource_metrics.extend(other.resource_metrics);
    }
    /// Metrics split at metric granularity: a metric is never cut, so a batch may exceed the
    /// budget by one metric's points (the Collector splits points; bounded either way).
    fn split_off_items(&mut self, max_items: usize) -> Self {
        let mut budget = max_items;
        let whole = drain_front(&mut self.resource_metrics, |r| {
            spend(
                &mut budget,
                r.scope_metrics.iter().flat_map(|s| &s.metrics).map(metric_point_count).sum(),
            )
        });
        let mut out = ExportMetricsServiceRequest { resource_metrics: whole };
        if let Some(first) = self.resource_metrics.first_mut().filter(|_| budget > 0) {
            let mut part = first.clone();
            part.scope_metrics.clear();
            // Whole metrics while the budget lasts (the last one may exceed it); the scopes emptied
            // are a prefix, since only running out of budget leaves one partly taken.
            let mut emptied = 0;
            for scope in first.scope_metrics.iter_mut() {
                if budget == 0 {
                    break;
                }
                let mut piece = scope.clone();
                piece.metrics = drain_front(&mut scope.metrics, |m| {
                    let take = budget > 0;
                    budget = budget.saturating_sub(metric_point_count(m).max(1));
                    take
                });
                if scope.metrics.is_empty() {
                    emptied += 1;
                }
                part.scope_metrics.push(piece);
            }
            first.scope_metrics.drain(..emptied);
            out.resource_metrics.push(part);
        }
        out
    }
    fn remove_invalid(&mut self) -> Option<(usize, String)> {
        let mut removed = 0;
        let mut reason = String::new();
        for rm in &mut self.resource_metrics {
            for sm in &mut rm.scope_metrics {
                sm.metrics.retain(|m| {
                    let problem = if m.name.is_empty() {
                        Some("metric without a name".to_string())
                    } else if m.data.is_none() {
                        Some(format!(
                            "metric '{}' has no data (gauge, sum, histogram, exponential histogram or summary)",
                            m.name
                        ))
                    } else {
                        bad_exemplar_ids(m)
                    };
                    match problem {
                        Some(p) => {
                            removed += metric_point_count(m).max(1);
                            if reason.is_empty() {
                                reason = p;
                            }
                            false
                        }
                        None => true,
                    }
                });
            }
        }
        (removed > 0).then(|| (removed, format!("{removed} data point(s) rejected; first: {reason}")))
    }
}

/// An exemplar's ids must be empty or OTLP's lengths (16 and 8 bytes), or the point could not be
/// written back as OTLP/JSON.
fn bad_exemplar_ids(metric: &opentelemetry_proto::tonic::metrics::v1::Metric) -> Option<String> {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let exemplars: Vec<&opentelemetry_proto::tonic::metrics::v1::Exemplar> = match metric.data.as_ref()? {
        Data::Gauge(g) => g.data_points.iter().flat_map(|p| &p.exemplars).collect(),
        Data::Sum(s) => s.data_points.iter().flat_map(|p| &p.exemplars).collect(),
        Data::Histogram(h) => h.data_points.iter().flat_map(|p| &p.exemplars).collect(),
        Data::ExponentialHistogram(h) => h.data_points.iter().flat_map(|p| &p.exemplars).collect(),
        Data::Summary(_) => Vec::new(),
    };
    let bad = exemplars
        .iter()
        .find(|e| !matches!(e.trace_id.len(), 0 | 16) || !matches!(e.span_id.len(), 0 | 8))?;
    Some(format!(
        "metric '{}': an exemplar's trace id must be empty or 16 bytes and its span id empty or 8 bytes, got {} and {}",
        metric.name,
        bad.trace_id.len(),
        bad.span_id.len()
    ))
}

/// The `service.name` of a resource, or OTLP's documented fallback.
pub fn service_name(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| find_attribute(&r.attributes, "service.name"))
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "unknown_service".to_string())
}

pub fn find_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One export of many single-span resource groups (185,000 took a minute, quadratic in their
    /// number) is split in one pass: every group lands in exactly one batch, in order, and each
    /// batch holds exactly the budget but the last.
    #[test]
    fn one_export_of_many_resource_groups_splits_in_order_with_exact_budgets() {
        let groups = 20_000;
        let mut request = ExportTraceServiceRequest {
            resource_spans: (0..groups)
                .map(|i| ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![Span {
                            name: i.to_string(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        };
        let mut names = Vec::new();
        let mut batches = 0;
        while request.item_count() > 0 {
            let batch = request.split_off_items(8192);
            assert!(
                batch.item_count() == 8192 || request.item_count() == 0,
                "a full batch unless the last"
            );
            names.extend(batch.resource_spans.iter().map(|r| r.scope_spans[0].spans[0].name.clone()));
            batches += 1;
        }
        assert_eq!(batches, 3);
        assert_eq!(names, (0..groups).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    /// A span whose one attribute nests maps `depth` levels deep (maps cost OTLP/JSON the most
    /// levels: four per level).
    fn deep_span(depth: usize) -> ExportTraceServiceRequest {
        let mut value = AnyValue {
            value: Some(any_value::Value::StringValue("leaf".into())),
        };
        for _ in 1..depth {
            value = AnyValue {
                value: Some(any_value::Value::KvlistValue(
                    opentelemetry_proto::tonic::common::v1::KeyValueList {
                        values: vec![KeyValue {
                            key: "k".into(),
                            value: Some(value),
                            ..Default::default()
                        }],
                    },
                )),
            };
        }
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: "deep".into(),
                        attributes: vec![KeyValue {
                            key: "nested".into(),
                            value: Some(value),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// Export round trip: a value too deep for OTLP/JSON (47 levels were accepted, then broke the
    /// export) is refused at ingest as a partial success, and the deepest accepted one encodes to
    /// OTLP/JSON that decodes back to the same request.
    #[test]
    fn export_round_trip_a_value_too_deep_for_otlp_json_is_refused_and_the_deepest_kept_one_round_trips() {
        let mut too_deep = deep_span(47);
        let (rejected, message) = too_deep.remove_invalid().expect("refused");
        assert_eq!((rejected, too_deep.item_count()), (1, 0));
        assert!(message.contains("'nested' nests values more than 24 levels"), "{message}");

        let mut deepest = deep_span(MAX_VALUE_DEPTH);
        assert_eq!(deepest.remove_invalid(), None, "the deepest allowed value is kept");
        let text = json::encode_traces(&deepest).to_string();
        let again = json::decode_traces(text.as_bytes()).expect("what otelbox keeps, OTLP/JSON carries back in");
        assert_eq!(again, deepest);
    }

    fn spans(n: usize) -> ExportTraceServiceRequest {
        let span = |i: usize| Span {
            trace_id: vec![1; 16],
            span_id: vec![(i % 250) as u8 + 1; 8],
            name: format!("s{i}"),
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![
                    ScopeSpans {
                        spans: (0..n / 2).map(span).collect(),
                        ..Default::default()
                    },
                    ScopeSpans {
                        spans: (n / 2..n).map(span).collect(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn split_off_moves_exactly_the_budget_and_keeps_order() {
        let mut req = spans(10);
        let first = req.split_off_items(7);
        assert_eq!(first.item_count(), 7);
        assert_eq!(req.item_count(), 3);
        let names: Vec<_> = first.resource_spans[0]
            .scope_spans
            .iter()
            .flat_map(|s| &s.spans)
            .map(|s| s.name.clone())
            .collect();
        assert_eq!(names, ["s0", "s1", "s2", "s3", "s4", "s5", "s6"]);
    }

    #[test]
    fn invalid_ids_are_removed_with_a_reason() {
        let mut req = spans(4);
        req.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1; 15];
        req.resource_spans[0].scope_spans[1].spans[1].span_id = vec![0; 8];
        let (n, why) = req.remove_invalid().unwrap();
        assert_eq!(n, 2);
        assert!(why.contains("trace id must be 16"), "{why}");
        assert_eq!(req.item_count(), 2);
    }

    #[test]
    fn ids_parse_and_print_lowercase_hex() {
        let t = TraceId::parse_hex("4BF92F3577B34DA6A3CE929D0E0E4736").unwrap();
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(TraceId::parse_hex("00000000000000000000000000000000").is_none());
        assert!(SpanId::parse_hex("00f067aa0ba902b").is_none());
    }
}
