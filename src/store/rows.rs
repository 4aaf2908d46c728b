//! Flattening OTLP payloads into rows, done on a blocking worker before the writer thread sees
//! them, so the single writer spends its time in SQLite only. Resources and scopes are deduplicated
//! by a stable hash of their encoding; attribute hashes feed the equality-search index.

use crate::pdata::service_name;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, Metric};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;

pub struct ResourceRow {
    pub hash: i64,
    pub service: String,
    pub schema_url: String,
    pub body: Vec<u8>,
}

pub struct ScopeRow {
    pub hash: i64,
    pub name: String,
    pub version: String,
    pub schema_url: String,
    pub body: Vec<u8>,
}

pub struct SpanRow {
    /// Index into `RowBatch::resources` / `scopes`.
    pub resource: usize,
    pub scope: usize,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
    pub name: String,
    pub kind: i32,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status_code: i32,
    pub attrs: Option<Vec<u8>>,
    pub extra: Option<Vec<u8>>,
    pub attr_hashes: Vec<i64>,
    /// The span normalized when it speaks an LLM convention (`crate::llm`): a row of `llm_spans`.
    pub llm: Option<Box<LlmRow>>,
}

/// What `llm_spans` keeps of an LLM or agent span: the normalized fields runs, sessions and models are
/// aggregated from, compactly (codes for the operation and the dialects, the response model only when it
/// differs). Messages are not kept here; the run page normalizes its spans again to read them.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmRow {
    pub operation: crate::llm::Operation,
    pub error: bool,
    pub provider: Option<String>,
    /// The request model, else the response model.
    pub model: Option<String>,
    /// Only when it differs from `model`.
    pub response_model: Option<String>,
    pub tokens: crate::llm::TokenUsage,
    pub cost_usd: Option<f64>,
    /// `CostSource::encode`d.
    pub cost_source: Option<String>,
    pub agent: Option<String>,
    pub session: Option<String>,
    pub user_id: Option<String>,
    pub tool: Option<String>,
    /// FNV-1a of the tool call's arguments as sent: repeated identical calls have equal hashes.
    pub tool_arguments_hash: Option<i64>,
    /// `Dialect::bit`s of the dialects recognised.
    pub dialects: i64,
}

/// Where a stored cost came from: the attribute the instrumentation reported it in, or the price table it
/// was computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CostSource {
    Reported { key: String },
    Computed { table: String },
}

/// The shipped table's name, left out of stored labels (`@2026-12-05` is `otelbox-prices 2026-12-05`).
const SHIPPED_TABLE_PREFIX: &str = "otelbox-prices ";

impl CostSource {
    /// As `llm_spans.cost_source` keeps it: the reported attribute as is (no attribute starts with `@`),
    /// a computing table as `@` and its label (`@2026-12-05`, `@2026-12-05 + config`).
    pub fn encode(&self) -> String {
        match self {
            CostSource::Reported { key } => key.clone(),
            CostSource::Computed { table } => format!("@{}", table.strip_prefix(SHIPPED_TABLE_PREFIX).unwrap_or(table)),
        }
    }

    pub fn decode(stored: &str) -> CostSource {
        match stored.strip_prefix('@') {
            Some(label) if label.starts_with(|c: char| c.is_ascii_digit()) => CostSource::Computed {
                table: format!("{SHIPPED_TABLE_PREFIX}{label}"),
            },
            Some(label) => CostSource::Computed { table: label.to_string() },
            None => CostSource::Reported { key: stored.to_string() },
        }
    }
}

impl LlmRow {
    /// The row of a normalized span, its cost computed from `prices` when none was reported.
    pub fn new(llm: crate::llm::LlmSpan, prices: &crate::llm::prices::PriceTable) -> LlmRow {
        let model = llm.request_model.clone().or_else(|| llm.response_model.clone());
        let (cost_usd, cost_source) = match &llm.reported_cost {
            Some(reported) => (
                Some(reported.usd),
                Some(CostSource::Reported {
                    key: reported.key.to_string(),
                }),
            ),
            // The response names the exact snapshot billed; the request may name an alias.
            None => match [&llm.response_model, &llm.request_model]
                .into_iter()
                .flatten()
                .find_map(|model| prices.cost(model, &llm.tokens))
            {
                Some(cost) => (Some(cost.usd), Some(CostSource::Computed { table: cost.table })),
                None => (None, None),
            },
        };
        LlmRow {
            operation: llm.operation,
            error: llm.outcome != crate::llm::Outcome::Ok,
            provider: llm.provider,
            response_model: llm.response_model.filter(|response| Some(response) != model.as_ref()),
            model,
            tokens: llm.tokens,
            cost_usd,
            cost_source: cost_source.map(|source| source.encode()),
            agent: llm.agent_name,
            session: llm.conversation_id,
            user_id: llm.user_id,
            tool_arguments_hash: llm
                .tool
                .as_ref()
                .and_then(|tool| tool.arguments.as_ref())
                .map(|arguments| crate::hash::fnv1a_64(&[arguments.as_bytes()]) as i64),
            tool: llm.tool.map(|tool| tool.name),
            dialects: llm.dialects.iter().fold(0, |bits, d| bits | d.bit()),
        }
    }
}

pub struct LogRow {
    pub resource: usize,
    pub scope: usize,
    pub time_ns: i64,
    pub observed_ns: i64,
    pub severity_number: i32,
    pub severity_text: String,
    pub body_text: String,
    pub trace_id: Option<Vec<u8>>,
    pub span_id: Option<Vec<u8>>,
    pub attrs: Option<Vec<u8>>,
    pub extra: Option<Vec<u8>>,
}

#[derive(Clone)]
pub struct StreamRow {
    pub hash: i64,
    pub resource: usize,
    pub scope: usize,
    pub name: String,
    pub kind: i32,
    pub unit: String,
    pub description: String,
    pub monotonic: bool,
    pub temporality: i32,
    pub attrs: Option<Vec<u8>>,
    pub metadata: Option<Vec<u8>>,
}

pub struct PointRow {
    /// Index into `RowBatch::streams`.
    pub stream: usize,
    pub time_ns: i64,
    pub start_ns: i64,
    pub value: Option<f64>,
    pub value_int: Option<i64>,
    pub body: Option<Vec<u8>>,
}

/// Everything one write carries; the writer inserts it in one transaction with others.
#[derive(Default)]
pub struct RowBatch {
    pub resources: Vec<ResourceRow>,
    pub scopes: Vec<ScopeRow>,
    pub spans: Vec<SpanRow>,
    pub logs: Vec<LogRow>,
    pub streams: Vec<StreamRow>,
    pub points: Vec<PointRow>,
    /// Some attribute blob was left plain because its kind had no dictionary yet (`codec`): the
    /// writer compresses it if one is saved before the batch is written.
    pub awaiting_dictionary: bool,
}

impl RowBatch {
    pub fn row_count(&self) -> usize {
        self.spans.len() + self.logs.len() + self.points.len()
    }
}

/// The persisted hashes (resources, scopes, the attribute index) as SQLite's signed integers.
struct Fnv(crate::hash::Fnv64);

impl Fnv {
    fn new() -> Self {
        Fnv(crate::hash::Fnv64::new())
    }
    fn write(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.write(bytes);
        self
    }
    fn finish(&self) -> i64 {
        self.0.finish() as i64
    }
}

/// Longest string value that is put into the attribute index (longer ones are still searchable by scan).
pub const MAX_INDEXED_STRING: usize = 256;

/// A typed value as the attribute index and the filter compiler both see it.
#[derive(Clone, Debug, PartialEq)]
pub enum IndexValue<'a> {
    Str(&'a str),
    Int(i64),
    Double(f64),
    Bool(bool),
}

/// The attribute index's key for (key, typed value): 32 bits of FNV-1a 64. The index only finds
/// candidates that the exact check then confirms, so a collision costs a wasted check; stored as 4
/// bytes instead of 8, the index is 8 bytes a span smaller (schema v7).
pub fn attr_hash(key: &str, value: &IndexValue<'_>) -> i64 {
    let mut h = Fnv::new();
    h.write(key.as_bytes()).write(&[0xff]);
    match value {
        IndexValue::Str(s) => h.write(b"s").write(s.as_bytes()),
        IndexValue::Int(i) => h.write(b"i").write(&i.to_le_bytes()),
        IndexValue::Double(d) => h.write(b"d").write(&d.to_bits().to_le_bytes()),
        IndexValue::Bool(b) => h.write(if *b { b"bt" } else { b"bf" }),
    };
    h.finish() & 0xffff_ffff
}

/// The hashes to index for these attributes (scalar values only).
pub fn attr_hashes(attributes: &[KeyValue]) -> Vec<i64> {
    attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) if s.len() <= MAX_INDEXED_STRING => IndexValue::Str(s),
                any_value::Value::IntValue(i) => IndexValue::Int(*i),
                any_value::Value::DoubleValue(d) => IndexValue::Double(*d),
                any_value::Value::BoolValue(b) => IndexValue::Bool(*b),
                _ => return None,
            };
            Some(attr_hash(&kv.key, &value))
        })
        .collect()
}

fn nanos(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

pub fn encode_attributes(attributes: Vec<KeyValue>) -> Option<Vec<u8>> {
    (!attributes.is_empty()).then(|| KeyValueList { values: attributes }.encode_to_vec())
}

/// The attributes of a stored blob, plain or compressed (`codec`).
pub fn decode_attributes(blob: Option<&[u8]>) -> Vec<KeyValue> {
    blob.and_then(super::codec::plain)
        .and_then(|b| KeyValueList::decode(b.as_ref()).ok())
        .map(|l| l.values)
        .unwrap_or_default()
}

/// Deduplicates resources and scopes within one batch (the writer dedups across batches).
#[derive(Default)]
struct Interner {
    resources: std::collections::HashMap<i64, usize>,
    scopes: std::collections::HashMap<i64, usize>,
}

impl Interner {
    fn resource(&mut self, batch: &mut RowBatch, resource: Option<&Resource>, schema_url: &str) -> usize {
        let body = resource.map(Message::encode_to_vec).unwrap_or_default();
        let hash = Fnv::new().write(&body).write(&[0xff]).write(schema_url.as_bytes()).finish();
        *self.resources.entry(hash).or_insert_with(|| {
            batch.resources.push(ResourceRow {
                hash,
                service: service_name(resource),
                schema_url: schema_url.to_string(),
                body,
            });
            batch.resources.len() - 1
        })
    }
    fn scope(&mut self, batch: &mut RowBatch, scope: Option<&InstrumentationScope>, schema_url: &str) -> usize {
        let body = scope.map(Message::encode_to_vec).unwrap_or_default();
        let hash = Fnv::new().write(&body).write(&[0xff]).write(schema_url.as_bytes()).finish();
        *self.scopes.entry(hash).or_insert_with(|| {
            batch.scopes.push(ScopeRow {
                hash,
                name: scope.map(|s| s.name.clone()).unwrap_or_default(),
                version: scope.map(|s| s.version.clone()).unwrap_or_default(),
                schema_url: schema_url.to_string(),
                body,
            });
            batch.scopes.len() - 1
        })
    }
}

/// Spans must have passed `SignalData::remove_invalid` (valid ids); anything else is skipped. LLM spans
/// are costed from the shipped price table.
pub fn flatten_traces(request: ExportTraceServiceRequest) -> RowBatch {
    flatten_traces_priced(request, crate::llm::prices::PriceTable::builtin())
}

/// [`flatten_traces`] with the price table a config made.
pub fn flatten_traces_priced(request: ExportTraceServiceRequest, prices: &crate::llm::prices::PriceTable) -> RowBatch {
    let mut batch = RowBatch::default();
    let mut interner = Interner::default();
    for rs in request.resource_spans {
        let resource = interner.resource(&mut batch, rs.resource.as_ref(), &rs.schema_url);
        let resource_attributes = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        for ss in rs.scope_spans {
            let scope = interner.scope(&mut batch, ss.scope.as_ref(), &ss.schema_url);
            batch.spans.reserve(ss.spans.len());
            for span in ss.spans {
                let llm = crate::llm::normalize_span_fields(&span, resource_attributes).map(|llm| Box::new(LlmRow::new(llm, prices)));
                if let Some(mut row) = span_row(span, resource, scope) {
                    row.llm = llm;
                    batch.spans.push(row);
                }
            }
        }
    }
    // Grouped by trace: the trace-id index then takes its inserts in order, a page at a time.
    batch.spans.sort_by_key(|a| a.trace_id);
    batch
}

fn span_row(mut span: Span, resource: usize, scope: usize) -> Option<SpanRow> {
    let trace_id: [u8; 16] = span.trace_id.as_slice().try_into().ok()?;
    let span_id: [u8; 8] = span.span_id.as_slice().try_into().ok()?;
    let parent_span_id = span.parent_span_id.as_slice().try_into().ok().filter(|p| *p != [0u8; 8]);
    let attributes = std::mem::take(&mut span.attributes);
    let attr_hashes = attr_hashes(&attributes);
    let status = span.status.take().unwrap_or_default();
    // What is left over goes into `extra`; the columns hold the rest.
    let rest = Span {
        trace_state: std::mem::take(&mut span.trace_state),
        flags: span.flags,
        dropped_attributes_count: span.dropped_attributes_count,
        events: std::mem::take(&mut span.events),
        dropped_events_count: span.dropped_events_count,
        links: std::mem::take(&mut span.links),
        dropped_links_count: span.dropped_links_count,
        status: (!status.message.is_empty()).then(|| Status {
            message: status.message.clone(),
            code: 0,
        }),
        ..Default::default()
    };
    let extra = rest.encode_to_vec();
    Some(SpanRow {
        resource,
        scope,
        trace_id,
        span_id,
        parent_span_id,
        name: span.name,
        kind: span.kind,
        start_ns: nanos(span.start_time_unix_nano),
        end_ns: nanos(span.end_time_unix_nano),
        status_code: status.code,
        attrs: encode_attributes(attributes),
        extra: (!extra.is_empty()).then_some(extra),
        attr_hashes,
        llm: None,
    })
}

/// Rebuild the OTLP span from its columns and blobs (the inverse of `span_row`).
#[allow(clippy::too_many_arguments)]
pub fn rebuild_span(
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Option<Vec<u8>>,
    name: String,
    kind: i32,
    start_ns: i64,
    end_ns: i64,
    status_code: i32,
    attrs: Option<&[u8]>,
    extra: Option<&[u8]>,
) -> Span {
    let mut span = extra.and_then(|b| Span::decode(b).ok()).unwrap_or_default();
    let message = span.status.take().map(|s| s.message).unwrap_or_default();
    span.trace_id = trace_id;
    span.span_id = span_id;
    span.parent_span_id = parent_span_id.unwrap_or_default();
    span.name = name;
    span.kind = kind;
    span.start_time_unix_nano = start_ns as u64;
    span.end_time_unix_nano = end_ns as u64;
    span.attributes = decode_attributes(attrs);
    if status_code != 0 || !message.is_empty() {
        span.status = Some(Status {
            message,
            code: status_code,
        });
    }
    span
}

/// The text full-text search sees for a log body: strings as they are, anything else as JSON.
pub fn body_text(body: Option<&AnyValue>) -> String {
    match body.and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        None => String::new(),
        Some(_) => body
            .map(|b| crate::pdata::json::any_value_to_plain(b).to_string())
            .unwrap_or_default(),
    }
}

pub fn flatten_logs(request: ExportLogsServiceRequest) -> RowBatch {
    let mut batch = RowBatch::default();
    let mut interner = Interner::default();
    for rl in request.resource_logs {
        let resource = interner.resource(&mut batch, rl.resource.as_ref(), &rl.schema_url);
        for sl in rl.scope_logs {
            let scope = interner.scope(&mut batch, sl.scope.as_ref(), &sl.schema_url);
            for mut log in sl.log_records {
                let attributes = std::mem::take(&mut log.attributes);
                let time = if log.time_unix_nano != 0 {
                    log.time_unix_nano
                } else {
                    log.observed_time_unix_nano
                };
                let rest = LogRecord {
                    time_unix_nano: log.time_unix_nano,
                    body: log.body.take(),
                    dropped_attributes_count: log.dropped_attributes_count,
                    flags: log.flags,
                    event_name: std::mem::take(&mut log.event_name),
                    ..Default::default()
                };
                let extra = rest.encode_to_vec();
                batch.logs.push(LogRow {
                    resource,
                    scope,
                    time_ns: nanos(time),
                    observed_ns: nanos(log.observed_time_unix_nano),
                    severity_number: log.severity_number,
                    body_text: body_text(rest.body.as_ref()),
                    severity_text: log.severity_text,
                    trace_id: (!log.trace_id.is_empty()).then_some(log.trace_id),
                    span_id: (!log.span_id.is_empty()).then_some(log.span_id),
                    attrs: encode_attributes(attributes),
                    extra: (!extra.is_empty()).then_some(extra),
                });
            }
        }
    }
    batch
}

/// Rebuild the OTLP log record (the inverse of `flatten_logs`).
#[allow(clippy::too_many_arguments)]
pub fn rebuild_log(
    observed_ns: i64,
    severity_number: i32,
    severity_text: String,
    trace_id: Option<Vec<u8>>,
    span_id: Option<Vec<u8>>,
    attrs: Option<&[u8]>,
    extra: Option<&[u8]>,
) -> LogRecord {
    let mut log = extra.and_then(|b| LogRecord::decode(b).ok()).unwrap_or_default();
    log.observed_time_unix_nano = observed_ns as u64;
    log.severity_number = severity_number;
    log.severity_text = severity_text;
    log.trace_id = trace_id.unwrap_or_default();
    log.span_id = span_id.unwrap_or_default();
    log.attributes = decode_attributes(attrs);
    log
}

pub const METRIC_GAUGE: i32 = 1;
pub const METRIC_SUM: i32 = 2;
pub const METRIC_HISTOGRAM: i32 = 3;
pub const METRIC_EXP_HISTOGRAM: i32 = 4;
pub const METRIC_SUMMARY: i32 = 5;

pub fn flatten_metrics(request: ExportMetricsServiceRequest) -> RowBatch {
    let mut batch = RowBatch::default();
    let mut interner = Interner::default();
    let mut streams = std::collections::HashMap::new();
    for rm in request.resource_metrics {
        let resource = interner.resource(&mut batch, rm.resource.as_ref(), &rm.schema_url);
        for sm in rm.scope_metrics {
            let scope = interner.scope(&mut batch, sm.scope.as_ref(), &sm.schema_url);
            for metric in sm.metrics {
                flatten_metric(&mut batch, &mut streams, resource, scope, metric);
            }
        }
    }
    batch
}

fn flatten_metric(
    batch: &mut RowBatch,
    streams: &mut std::collections::HashMap<i64, usize>,
    resource: usize,
    scope: usize,
    mut metric: Metric,
) {
    let Some(data) = metric.data.take() else {
        return;
    };
    let (kind, monotonic, temporality) = match &data {
        Data::Gauge(_) => (METRIC_GAUGE, false, 0),
        Data::Sum(s) => (METRIC_SUM, s.is_monotonic, s.aggregation_temporality),
        Data::Histogram(h) => (METRIC_HISTOGRAM, false, h.aggregation_temporality),
        Data::ExponentialHistogram(e) => (METRIC_EXP_HISTOGRAM, false, e.aggregation_temporality),
        Data::Summary(_) => (METRIC_SUMMARY, false, 0),
    };
    let metadata = Metric {
        metadata: std::mem::take(&mut metric.metadata),
        ..Default::default()
    }
    .encode_to_vec();
    let resource_hash = batch.resources[resource].hash;
    let scope_hash = batch.scopes[scope].hash;
    // One stream per (resource, scope, metric identity, point attributes).
    let mut stream_for = |batch: &mut RowBatch, attributes: Vec<KeyValue>| -> usize {
        let attrs = encode_attributes(attributes);
        let hash = Fnv::new()
            .write(&resource_hash.to_le_bytes())
            .write(&scope_hash.to_le_bytes())
            .write(metric.name.as_bytes())
            .write(&[0xff, kind as u8, monotonic as u8, temporality as u8])
            .write(metric.unit.as_bytes())
            .write(&[0xff])
            .write(metric.description.as_bytes())
            .write(&[0xff])
            .write(attrs.as_deref().unwrap_or_default())
            .write(&metadata)
            .finish();
        *streams.entry(hash).or_insert_with(|| {
            batch.streams.push(StreamRow {
                hash,
                resource,
                scope,
                name: metric.name.clone(),
                kind,
                unit: metric.unit.clone(),
                description: metric.description.clone(),
                monotonic,
                temporality,
                attrs,
                metadata: (!metadata.is_empty()).then(|| metadata.clone()),
            });
            batch.streams.len() - 1
        })
    };
    match data {
        Data::Gauge(opentelemetry_proto::tonic::metrics::v1::Gauge { data_points })
        | Data::Sum(opentelemetry_proto::tonic::metrics::v1::Sum { data_points, .. }) => {
            for mut p in data_points {
                let stream = stream_for(batch, std::mem::take(&mut p.attributes));
                let (value, value_int) = match &p.value {
                    Some(number_data_point::Value::AsDouble(d)) => (Some(*d), None),
                    Some(number_data_point::Value::AsInt(i)) => (Some(*i as f64), Some(*i)),
                    None => (None, None),
                };
                let (time_ns, start_ns) = (nanos(p.time_unix_nano), nanos(p.start_time_unix_nano));
                // Only exemplars, flags or a NaN (SQLite stores NaN as NULL) need the body; plain
                // points stay two numbers.
                let body = (!p.exemplars.is_empty() || p.flags != 0 || value.is_some_and(f64::is_nan)).then(|| {
                    p.time_unix_nano = 0;
                    p.start_time_unix_nano = 0;
                    p.encode_to_vec()
                });
                batch.points.push(PointRow {
                    stream,
                    time_ns,
                    start_ns,
                    value,
                    value_int,
                    body,
                });
            }
        }
        Data::Histogram(h) => {
            for mut p in h.data_points {
                let stream = stream_for(batch, std::mem::take(&mut p.attributes));
                let (time_ns, start_ns) = (nanos(p.time_unix_nano), nanos(p.start_time_unix_nano));
                batch.points.push(PointRow {
                    stream,
                    time_ns,
                    start_ns,
                    value: Some(p.count as f64),
                    value_int: None,
                    body: Some(p.encode_to_vec()),
                });
            }
        }
        Data::ExponentialHistogram(e) => {
            for mut p in e.data_points {
                let stream = stream_for(batch, std::mem::take(&mut p.attributes));
                let (time_ns, start_ns) = (nanos(p.time_unix_nano), nanos(p.start_time_unix_nano));
                batch.points.push(PointRow {
                    stream,
                    time_ns,
                    start_ns,
                    value: Some(p.count as f64),
                    value_int: None,
                    body: Some(p.encode_to_vec()),
                });
            }
        }
        Data::Summary(s) => {
            for mut p in s.data_points {
                let stream = stream_for(batch, std::mem::take(&mut p.attributes));
                let (time_ns, start_ns) = (nanos(p.time_unix_nano), nanos(p.start_time_unix_nano));
                batch.points.push(PointRow {
                    stream,
                    time_ns,
                    start_ns,
                    value: Some(p.count as f64),
                    value_int: None,
                    body: Some(p.encode_to_vec()),
                });
            }
        }
    }
}

/// Rebuild a gauge or sum data point (the inverse of `flatten_metric`).
pub fn rebuild_number_point(
    time_ns: i64,
    start_ns: i64,
    value: Option<f64>,
    value_int: Option<i64>,
    body: Option<&[u8]>,
    attributes: Vec<KeyValue>,
) -> opentelemetry_proto::tonic::metrics::v1::NumberDataPoint {
    let mut point = body
        .and_then(|b| opentelemetry_proto::tonic::metrics::v1::NumberDataPoint::decode(b).ok())
        .unwrap_or_default();
    if point.value.is_none() {
        point.value = match (value_int, value) {
            (Some(i), _) => Some(number_data_point::Value::AsInt(i)),
            (None, Some(d)) => Some(number_data_point::Value::AsDouble(d)),
            (None, None) => None,
        };
    }
    point.attributes = attributes;
    point.time_unix_nano = time_ns as u64;
    point.start_time_unix_nano = start_ns as u64;
    point
}

#[cfg(test)]
mod tests {
    use super::CostSource;

    #[test]
    fn a_stored_cost_source_reads_back_as_written() {
        for source in [
            CostSource::Reported {
                key: "gen_ai.usage.cost".into(),
            },
            CostSource::Computed {
                table: "otelbox-prices 2026-12-05".into(),
            },
            CostSource::Computed {
                table: "otelbox-prices 2026-12-05 + config".into(),
            },
            CostSource::Computed {
                table: "my-table 2026-01-01".into(),
            },
        ] {
            assert_eq!(CostSource::decode(&source.encode()), source);
        }
        // The shipped table's name is not repeated in every row.
        let shipped = CostSource::Computed {
            table: "otelbox-prices 2026-12-05".into(),
        };
        assert_eq!(shipped.encode(), "@2026-12-05");
    }
}
