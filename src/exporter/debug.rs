//! The `debug` exporter: prints what reaches it to stderr in the Collector's debug exporter format.
//! `basic` prints one summary line per batch, `normal` adds one line per span, log record or data
//! point, and `detailed` dumps every resource, scope and item with all their fields and attributes.
//! The Collector's zap sampler is kept (`sampling_initial` batches a second per signal, then every
//! `sampling_thereafter`-th), so a busy pipeline does not drown the terminal.

use super::UtcTime;
use crate::config::{ComponentId, Parser};
use crate::pdata::json::any_value_to_plain;
use crate::pdata::{Signal, SignalData};
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError};
use crate::telemetry::PerSignal;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{exemplar, metric, number_data_point, Exemplar, Metric, NumberDataPoint};
use serde_yaml_ng::Value;
use std::any::Any;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much the exporter prints (the Collector's `verbosity`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    #[default]
    Basic,
    Normal,
    Detailed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DebugExporterConfig {
    pub verbosity: Verbosity,
    /// Batches printed per signal in each second before sampling starts.
    pub sampling_initial: u64,
    /// After those, every this-many-th batch of the second is printed (0: none).
    pub sampling_thereafter: u64,
}

impl Default for DebugExporterConfig {
    /// The Collector's defaults: basic, and a sampler that lets everything through.
    fn default() -> Self {
        DebugExporterConfig {
            verbosity: Verbosity::Basic,
            sampling_initial: 2,
            sampling_thereafter: 1,
        }
    }
}

crate::exporter_factory!(Factory, "debug", parse, DebugExporter::new);

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> DebugExporterConfig {
    let mut config = DebugExporterConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["verbosity", "sampling_initial", "sampling_thereafter"], path);
    if let Some(v) = body.get("verbosity") {
        let at = format!("{path}.verbosity");
        if let Some(text) = p.string(v, &at) {
            match text.to_ascii_lowercase().as_str() {
                "basic" => config.verbosity = Verbosity::Basic,
                "normal" => config.verbosity = Verbosity::Normal,
                "detailed" => config.verbosity = Verbosity::Detailed,
                _ => p.error(&at, format!("expected basic, normal or detailed, got '{text}'")),
            }
        }
    }
    if let Some(v) = body.get("sampling_initial") {
        config.sampling_initial = p
            .unsigned(v, &format!("{path}.sampling_initial"))
            .unwrap_or(config.sampling_initial);
    }
    if let Some(v) = body.get("sampling_thereafter") {
        config.sampling_thereafter = p
            .unsigned(v, &format!("{path}.sampling_thereafter"))
            .unwrap_or(config.sampling_thereafter);
    }
    config
}

pub struct DebugExporter {
    printer: Arc<Printer>,
    counters: PerSignal,
}

/// What the blocking print step needs; shared with it through an `Arc`.
struct Printer {
    id: String,
    config: DebugExporterConfig,
    out: Mutex<Box<dyn Write + Send>>,
    /// Per signal: the start of the current one-second window and the batches seen in it.
    windows: Mutex<[(Option<Instant>, u64); 3]>,
}

impl DebugExporter {
    /// `data_dir` is where a persistent sending queue lives (None: an in-memory box).
    pub fn new(id: &ComponentId, config: &DebugExporterConfig, _data_dir: Option<&Path>, counters: PerSignal) -> anyhow::Result<Self> {
        Ok(DebugExporter::with_output(id, config, counters, Box::new(std::io::stderr())))
    }

    fn with_output(id: &ComponentId, config: &DebugExporterConfig, counters: PerSignal, out: Box<dyn Write + Send>) -> Self {
        DebugExporter {
            printer: Arc::new(Printer {
                id: id.to_string(),
                config: config.clone(),
                out: Mutex::new(out),
                windows: Mutex::new([(None, 0); 3]),
            }),
            counters,
        }
    }
}

impl Printer {
    /// The zap sampler's rule: within each second, the first `sampling_initial` batches of a signal
    /// are printed, then every `sampling_thereafter`-th.
    fn sample(&self, signal: Signal, now: Instant) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let (start, seen) = &mut windows[signal_index(signal)];
        if start.is_none_or(|s| now.duration_since(s) >= Duration::from_secs(1)) {
            *start = Some(now);
            *seen = 0;
        }
        *seen += 1;
        let (initial, thereafter) = (self.config.sampling_initial, self.config.sampling_thereafter);
        *seen <= initial || (thereafter > 0 && (*seen - initial) % thereafter == 0)
    }

    /// Debug output is best effort, as in the Collector: a closed stderr does not fail the data.
    fn print<T: PipelineData>(&self, data: &T) {
        let text = render(&self.id, self.config.verbosity, data);
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

fn signal_index(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

impl<T: PipelineData> Consumer<T> for DebugExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let printer = self.printer.clone();
        let counters = self.counters.get(T::SIGNAL).clone();
        Box::pin(async move {
            let Envelope { data, acks } = envelope;
            let items = data.item_count();
            if printer.sample(T::SIGNAL, Instant::now()) {
                // A detailed dump of a large batch, written to a slow terminal or pipe, takes longer
                // than a tokio worker may be blocked.
                if tokio::task::spawn_blocking(move || printer.print(&data)).await.is_err() {
                    let error = PipelineError::retryable("internal error while printing in the debug exporter; retry later");
                    Envelope::<T> { data: T::default(), acks }.fail(&error);
                    return Err(error);
                }
            }
            counters.record_sent(items);
            Envelope::<T> { data: T::default(), acks }.commit();
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        let printer = self.printer.clone();
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(move || {
                let _ = printer.out.lock().unwrap_or_else(|e| e.into_inner()).flush();
            })
            .await;
        })
    }
}

/// The text printed for one batch: the summary line, then the per-item text at `normal` and
/// `detailed`.
fn render<T: PipelineData>(id: &str, verbosity: Verbosity, data: &T) -> String {
    let data = data as &dyn Any;
    let quoted_id = serde_json::Value::from(id).to_string();
    let summary = |message: &str, signal: &str, counts: &[(&str, usize)]| {
        let counts: String = counts.iter().map(|(name, n)| format!(", \"{name}\": {n}")).collect();
        format!(
            "{message}\t{{\"otelcol.component.id\": {quoted_id}, \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"{signal}\"{counts}}}\n"
        )
    };
    if let Some(traces) = data.downcast_ref::<ExportTraceServiceRequest>() {
        let counts = [("resource spans", traces.resource_spans.len()), ("spans", traces.item_count())];
        let mut out = summary("Traces", "traces", &counts);
        match verbosity {
            Verbosity::Basic => {}
            Verbosity::Normal => normal_traces(&mut out, traces),
            Verbosity::Detailed => detailed_traces(&mut out, traces),
        }
        out
    } else if let Some(metrics) = data.downcast_ref::<ExportMetricsServiceRequest>() {
        let metric_count = metrics
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .map(|s| s.metrics.len())
            .sum();
        let counts = [
            ("resource metrics", metrics.resource_metrics.len()),
            ("metrics", metric_count),
            ("data points", metrics.item_count()),
        ];
        let mut out = summary("Metrics", "metrics", &counts);
        match verbosity {
            Verbosity::Basic => {}
            Verbosity::Normal => normal_metrics(&mut out, metrics),
            Verbosity::Detailed => detailed_metrics(&mut out, metrics),
        }
        out
    } else if let Some(logs) = data.downcast_ref::<ExportLogsServiceRequest>() {
        let counts = [("resource logs", logs.resource_logs.len()), ("log records", logs.item_count())];
        let mut out = summary("Logs", "logs", &counts);
        match verbosity {
            Verbosity::Basic => {}
            Verbosity::Normal => normal_logs(&mut out, logs),
            Verbosity::Detailed => detailed_logs(&mut out, logs),
        }
        out
    } else {
        String::new()
    }
}

// ---------------------------------------------------------------------------------------------
// Values and times as the Collector (Go) prints them.

/// pcommon's value type names.
fn value_type(value: Option<&AnyValue>) -> &'static str {
    use any_value::Value as V;
    match value.and_then(|v| v.value.as_ref()) {
        None => "Empty",
        Some(V::StringValue(_)) => "Str",
        Some(V::BoolValue(_)) => "Bool",
        Some(V::IntValue(_)) => "Int",
        Some(V::DoubleValue(_)) => "Double",
        Some(V::ArrayValue(_)) => "Slice",
        Some(V::KvlistValue(_)) => "Map",
        Some(V::BytesValue(_)) => "Bytes",
        Some(V::StringValueStrindex(_)) => "Int",
    }
}

/// pcommon's `Value.AsString`: strings raw, numbers plain, maps and slices as JSON, bytes base64.
fn value_string(value: Option<&AnyValue>) -> String {
    use any_value::Value as V;
    let Some(v) = value else { return String::new() };
    match &v.value {
        None => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => go_float_plain(*d),
        Some(V::StringValueStrindex(i)) => i.to_string(),
        Some(V::ArrayValue(_) | V::KvlistValue(_) | V::BytesValue(_)) => match any_value_to_plain(v) {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        },
    }
}

/// `Str(value)`, `Int(3)`, ...: how the detailed output shows an attribute value.
fn typed_value(value: Option<&AnyValue>) -> String {
    format!("{}({})", value_type(value), value_string(value))
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
fn go_float_plain(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{f}")
    }
}

/// Go's `%v` for a float64: the shortest form, with an exponent below 1e-4 and from 1e21.
fn go_float_v(f: f64) -> String {
    let magnitude = f.abs();
    if !f.is_finite() || f == 0.0 || (1e-4..1e21).contains(&magnitude) {
        return go_float_plain(f);
    }
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(digits) => ('-', digits),
        None => ('+', exponent),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// Go's `%f`.
fn go_float_f(f: f64) -> String {
    if f.is_finite() {
        format!("{f:.6}")
    } else {
        go_float_plain(f)
    }
}

/// A UTC `time.Time` as Go prints it: `2020-02-11 20:26:12.000000321 +0000 UTC`.
fn go_time(unix_nanos: u64) -> String {
    let t = UtcTime::from_unix_nanos(unix_nanos);
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    if t.nanos > 0 {
        let fraction = format!("{:09}", t.nanos);
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// An id in hex; an empty or all-zero id prints as nothing, as pcommon's ids do.
fn id_hex(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| *b == 0) {
        String::new()
    } else {
        hex::encode(bytes)
    }
}

// ---------------------------------------------------------------------------------------------
// `normal`: a line per resource and scope, then one per item.

fn plain_attributes(attributes: &[KeyValue]) -> Vec<String> {
    attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, value_string(kv.value.as_ref())))
        .collect()
}

/// ` k=v k2=v2`, or nothing.
fn plain_attributes_suffix(attributes: &[KeyValue]) -> String {
    plain_attributes(attributes).iter().map(|a| format!(" {a}")).collect()
}

fn resource_suffix(schema_url: &str, attributes: &[KeyValue]) -> String {
    let schema = if schema_url.is_empty() {
        String::new()
    } else {
        format!(" [{schema_url}]")
    };
    schema + &plain_attributes_suffix(attributes)
}

fn scope_suffix(scope: Option<&InstrumentationScope>, schema_url: &str) -> String {
    let (name, version) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
    let mut details = name.to_string();
    if !version.is_empty() {
        details.push('@');
        details.push_str(version);
    }
    if !schema_url.is_empty() {
        if !details.is_empty() {
            details.push(' ');
        }
        details.push_str(&format!("[{schema_url}]"));
    }
    let details = if details.is_empty() { details } else { format!(" {details}") };
    details + &plain_attributes_suffix(scope.map_or(&[], |s| &s.attributes))
}

fn normal_traces(out: &mut String, traces: &ExportTraceServiceRequest) {
    for (i, resource_spans) in traces.resource_spans.iter().enumerate() {
        let attributes = resource_spans.resource.as_ref().map_or(&[][..], |r| &r.attributes);
        let _ = writeln!(
            out,
            "ResourceTraces #{i}{}",
            resource_suffix(&resource_spans.schema_url, attributes)
        );
        for (j, scope_spans) in resource_spans.scope_spans.iter().enumerate() {
            let _ = writeln!(
                out,
                "ScopeTraces #{j}{}",
                scope_suffix(scope_spans.scope.as_ref(), &scope_spans.schema_url)
            );
            for span in &scope_spans.spans {
                let _ = writeln!(
                    out,
                    "{} {} {}{}",
                    span.name,
                    id_hex(&span.trace_id),
                    id_hex(&span.span_id),
                    plain_attributes_suffix(&span.attributes)
                );
            }
        }
    }
}

fn normal_logs(out: &mut String, logs: &ExportLogsServiceRequest) {
    for (i, resource_logs) in logs.resource_logs.iter().enumerate() {
        let attributes = resource_logs.resource.as_ref().map_or(&[][..], |r| &r.attributes);
        let _ = writeln!(out, "ResourceLog #{i}{}", resource_suffix(&resource_logs.schema_url, attributes));
        for (j, scope_logs) in resource_logs.scope_logs.iter().enumerate() {
            let _ = writeln!(
                out,
                "ScopeLog #{j}{}",
                scope_suffix(scope_logs.scope.as_ref(), &scope_logs.schema_url)
            );
            for record in &scope_logs.log_records {
                let _ = writeln!(
                    out,
                    "{} {}",
                    value_string(record.body.as_ref()),
                    plain_attributes(&record.attributes).join(" ")
                );
            }
        }
    }
}

fn normal_metrics(out: &mut String, metrics: &ExportMetricsServiceRequest) {
    for (i, resource_metrics) in metrics.resource_metrics.iter().enumerate() {
        let attributes = resource_metrics.resource.as_ref().map_or(&[][..], |r| &r.attributes);
        let _ = writeln!(
            out,
            "ResourceMetrics #{i}{}",
            resource_suffix(&resource_metrics.schema_url, attributes)
        );
        for (j, scope_metrics) in resource_metrics.scope_metrics.iter().enumerate() {
            let _ = writeln!(
                out,
                "ScopeMetrics #{j}{}",
                scope_suffix(scope_metrics.scope.as_ref(), &scope_metrics.schema_url)
            );
            for m in &scope_metrics.metrics {
                normal_metric(out, m);
            }
        }
    }
}

/// One line per data point: `name{k=v,k2=v2} value`.
fn normal_metric(out: &mut String, m: &Metric) {
    let mut line = |attributes: &[KeyValue], value: String| {
        let _ = writeln!(out, "{}{{{}}} {value}", m.name, plain_attributes(attributes).join(","));
    };
    let optional = |name: &str, v: Option<f64>| v.map_or(String::new(), |v| format!(" {name}={}", go_float_v(v)));
    match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.iter().for_each(|p| line(&p.attributes, number_value(p))),
        Some(metric::Data::Sum(s)) => s.data_points.iter().for_each(|p| line(&p.attributes, number_value(p))),
        Some(metric::Data::Histogram(h)) => {
            for p in &h.data_points {
                let mut value = format!("count={}", p.count);
                value += &optional("sum", p.sum);
                value += &optional("min", p.min);
                value += &optional("max", p.max);
                for (i, count) in p.bucket_counts.iter().enumerate() {
                    match p.explicit_bounds.get(i) {
                        Some(bound) => value += &format!(" le{}={count}", go_float_v(*bound)),
                        None => value += &format!(" {count}"),
                    }
                }
                line(&p.attributes, value);
            }
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            for p in &h.data_points {
                let mut value = format!("count={}", p.count);
                value += &optional("sum", p.sum);
                value += &optional("min", p.min);
                value += &optional("max", p.max);
                let factor = std::f64::consts::LN_2 * 2f64.powi(-p.scale);
                if let Some(negative) = &p.negative {
                    for (j, count) in negative.bucket_counts.iter().enumerate().rev() {
                        let index = f64::from(negative.offset) + j as f64;
                        value += &format!(" le{}={count}", go_float_v(-(index * factor).exp()));
                    }
                }
                if p.zero_count != 0 {
                    value += &format!(" zero={}", p.zero_count);
                }
                if let Some(positive) = &p.positive {
                    for (j, count) in positive.bucket_counts.iter().enumerate() {
                        let index = f64::from(positive.offset) + j as f64;
                        value += &format!(" le{}={count}", go_float_v(((index + 1.0) * factor).exp()));
                    }
                }
                line(&p.attributes, value);
            }
        }
        Some(metric::Data::Summary(s)) => {
            for p in &s.data_points {
                let mut value = format!("count={} sum={}", p.count, go_float_f(p.sum));
                for q in &p.quantile_values {
                    value += &format!(" q{}={}", go_float_v(q.quantile), go_float_v(q.value));
                }
                line(&p.attributes, value);
            }
        }
        None => {}
    }
}

fn number_value(p: &NumberDataPoint) -> String {
    match p.value {
        Some(number_data_point::Value::AsInt(i)) => i.to_string(),
        Some(number_data_point::Value::AsDouble(d)) => go_float_v(d),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// `detailed`: everything, in the Collector's otlptext layout.

/// Builds the detailed text; mirrors the Collector's `dataBuffer`.
struct Dump<'a>(&'a mut String);

impl Dump<'_> {
    fn line(&mut self, text: impl AsRef<str>) {
        self.0.push_str(text.as_ref());
        self.0.push('\n');
    }

    /// `    Name           : value` (the label padded to 15).
    fn field(&mut self, label: &str, value: impl std::fmt::Display) {
        self.line(format!("    {label:<15}: {value}"));
    }

    /// A header, then `     -> key: Type(value)` lines; a header holding `->` indents them under it.
    fn attributes(&mut self, header: &str, attributes: &[KeyValue]) {
        if attributes.is_empty() {
            return;
        }
        self.line(format!("{header}:"));
        let prefix = match header.split_once("->") {
            Some((indent, _)) => format!("{indent}     ->"),
            None => "     ->".to_string(),
        };
        for kv in attributes {
            self.line(format!("{prefix} {}: {}", kv.key, typed_value(kv.value.as_ref())));
        }
    }

    fn scope(&mut self, scope: Option<&InstrumentationScope>) {
        let (name, version) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
        self.line(format!("InstrumentationScope {name} {version}"));
        self.attributes("InstrumentationScope attributes", scope.map_or(&[], |s| &s.attributes));
    }

    fn exemplars(&mut self, exemplars: &[Exemplar]) {
        if exemplars.is_empty() {
            return;
        }
        self.line("Exemplars:");
        for (i, e) in exemplars.iter().enumerate() {
            self.line(format!("Exemplar #{i}"));
            self.line(format!("     -> Trace ID: {}", id_hex(&e.trace_id)));
            self.line(format!("     -> Span ID: {}", id_hex(&e.span_id)));
            self.line(format!("     -> Timestamp: {}", go_time(e.time_unix_nano)));
            match e.value {
                Some(exemplar::Value::AsInt(v)) => self.line(format!("     -> Value: {v}")),
                Some(exemplar::Value::AsDouble(v)) => self.line(format!("     -> Value: {}", go_float_f(v))),
                None => {}
            }
            self.attributes("     -> FilteredAttributes", &e.filtered_attributes);
        }
    }

    fn times(&mut self, start: u64, time: u64) {
        self.line(format!("StartTimestamp: {}", go_time(start)));
        self.line(format!("Timestamp: {}", go_time(time)));
    }

    fn optional(&mut self, label: &str, value: Option<f64>) {
        if let Some(v) = value {
            self.line(format!("{label}: {}", go_float_f(v)));
        }
    }
}

fn span_kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "Internal",
        2 => "Server",
        3 => "Client",
        4 => "Producer",
        5 => "Consumer",
        _ => "Unspecified",
    }
}

fn status_code_name(code: i32) -> &'static str {
    match code {
        1 => "Ok",
        2 => "Error",
        _ => "Unset",
    }
}

fn temporality_name(temporality: i32) -> &'static str {
    match temporality {
        1 => "Delta",
        2 => "Cumulative",
        _ => "Unspecified",
    }
}

/// plog's `SeverityNumber.String()`.
fn severity_name(number: i32) -> String {
    const BASES: [&str; 6] = ["Trace", "Debug", "Info", "Warn", "Error", "Fatal"];
    match number {
        1..=24 => {
            let base = BASES[((number - 1) / 4) as usize];
            match (number - 1) % 4 {
                0 => base.to_string(),
                step => format!("{base}{}", step + 1),
            }
        }
        0 => "Unspecified".into(),
        other => format!("SeverityNumber({other})"),
    }
}

fn detailed_traces(out: &mut String, traces: &ExportTraceServiceRequest) {
    let mut d = Dump(out);
    for (i, resource_spans) in traces.resource_spans.iter().enumerate() {
        d.line(format!("ResourceSpans #{i}"));
        d.line(format!("Resource SchemaURL: {}", resource_spans.schema_url));
        d.attributes(
            "Resource attributes",
            resource_spans.resource.as_ref().map_or(&[], |r| &r.attributes),
        );
        for (j, scope_spans) in resource_spans.scope_spans.iter().enumerate() {
            d.line(format!("ScopeSpans #{j}"));
            d.line(format!("ScopeSpans SchemaURL: {}", scope_spans.schema_url));
            d.scope(scope_spans.scope.as_ref());
            for (k, span) in scope_spans.spans.iter().enumerate() {
                d.line(format!("Span #{k}"));
                d.field("Trace ID", id_hex(&span.trace_id));
                d.field("Parent ID", id_hex(&span.parent_span_id));
                d.field("ID", id_hex(&span.span_id));
                d.field("Name", &span.name);
                d.field("Kind", span_kind_name(span.kind));
                if !span.trace_state.is_empty() {
                    d.field("TraceState", &span.trace_state);
                }
                d.field("Start time", go_time(span.start_time_unix_nano));
                d.field("End time", go_time(span.end_time_unix_nano));
                let status = span.status.clone().unwrap_or_default();
                d.field("Status code", status_code_name(status.code));
                d.field("Status message", &status.message);
                d.field("DroppedAttributesCount", span.dropped_attributes_count);
                d.field("DroppedEventsCount", span.dropped_events_count);
                d.field("DroppedLinksCount", span.dropped_links_count);
                d.attributes("Attributes", &span.attributes);
                if !span.events.is_empty() {
                    d.line("Events:");
                    for (e, event) in span.events.iter().enumerate() {
                        d.line(format!("SpanEvent #{e}"));
                        d.line(format!("     -> Name: {}", event.name));
                        d.line(format!("     -> Timestamp: {}", go_time(event.time_unix_nano)));
                        d.line(format!("     -> DroppedAttributesCount: {}", event.dropped_attributes_count));
                        d.attributes("     -> Attributes:", &event.attributes);
                    }
                }
                if !span.links.is_empty() {
                    d.line("Links:");
                    for (l, link) in span.links.iter().enumerate() {
                        d.line(format!("SpanLink #{l}"));
                        d.line(format!("     -> Trace ID: {}", id_hex(&link.trace_id)));
                        d.line(format!("     -> ID: {}", id_hex(&link.span_id)));
                        d.line(format!("     -> TraceState: {}", link.trace_state));
                        d.line(format!("     -> DroppedAttributesCount: {}", link.dropped_attributes_count));
                        d.attributes("     -> Attributes:", &link.attributes);
                    }
                }
            }
        }
    }
}

fn detailed_logs(out: &mut String, logs: &ExportLogsServiceRequest) {
    let mut d = Dump(out);
    for (i, resource_logs) in logs.resource_logs.iter().enumerate() {
        d.line(format!("ResourceLog #{i}"));
        d.line(format!("Resource SchemaURL: {}", resource_logs.schema_url));
        d.attributes(
            "Resource attributes",
            resource_logs.resource.as_ref().map_or(&[], |r| &r.attributes),
        );
        for (j, scope_logs) in resource_logs.scope_logs.iter().enumerate() {
            d.line(format!("ScopeLogs #{j}"));
            d.line(format!("ScopeLogs SchemaURL: {}", scope_logs.schema_url));
            d.scope(scope_logs.scope.as_ref());
            for (k, record) in scope_logs.log_records.iter().enumerate() {
                d.line(format!("LogRecord #{k}"));
                d.line(format!("ObservedTimestamp: {}", go_time(record.observed_time_unix_nano)));
                d.line(format!("Timestamp: {}", go_time(record.time_unix_nano)));
                d.line(format!("SeverityText: {}", record.severity_text));
                d.line(format!(
                    "SeverityNumber: {}({})",
                    severity_name(record.severity_number),
                    record.severity_number
                ));
                if !record.event_name.is_empty() {
                    d.line(format!("EventName: {}", record.event_name));
                }
                d.line(format!("Body: {}", typed_value(record.body.as_ref())));
                d.attributes("Attributes", &record.attributes);
                d.line(format!("Trace ID: {}", id_hex(&record.trace_id)));
                d.line(format!("Span ID: {}", id_hex(&record.span_id)));
                d.line(format!("Flags: {}", record.flags));
            }
        }
    }
}

fn detailed_metrics(out: &mut String, metrics: &ExportMetricsServiceRequest) {
    let mut d = Dump(out);
    for (i, resource_metrics) in metrics.resource_metrics.iter().enumerate() {
        d.line(format!("ResourceMetrics #{i}"));
        d.line(format!("Resource SchemaURL: {}", resource_metrics.schema_url));
        d.attributes(
            "Resource attributes",
            resource_metrics.resource.as_ref().map_or(&[], |r| &r.attributes),
        );
        for (j, scope_metrics) in resource_metrics.scope_metrics.iter().enumerate() {
            d.line(format!("ScopeMetrics #{j}"));
            d.line(format!("ScopeMetrics SchemaURL: {}", scope_metrics.schema_url));
            d.scope(scope_metrics.scope.as_ref());
            for (k, m) in scope_metrics.metrics.iter().enumerate() {
                d.line(format!("Metric #{k}"));
                detailed_metric(&mut d, m);
            }
        }
    }
}

fn detailed_metric(d: &mut Dump<'_>, m: &Metric) {
    let data_type = match &m.data {
        None => "Empty",
        Some(metric::Data::Gauge(_)) => "Gauge",
        Some(metric::Data::Sum(_)) => "Sum",
        Some(metric::Data::Histogram(_)) => "Histogram",
        Some(metric::Data::ExponentialHistogram(_)) => "ExponentialHistogram",
        Some(metric::Data::Summary(_)) => "Summary",
    };
    d.line("Descriptor:");
    d.line(format!("     -> Name: {}", m.name));
    d.line(format!("     -> Description: {}", m.description));
    d.line(format!("     -> Unit: {}", m.unit));
    d.line(format!("     -> DataType: {data_type}"));
    d.attributes("     -> Metadata", &m.metadata);
    let number_points = |d: &mut Dump<'_>, points: &[NumberDataPoint]| {
        for (i, p) in points.iter().enumerate() {
            d.line(format!("NumberDataPoints #{i}"));
            d.attributes("Data point attributes", &p.attributes);
            d.times(p.start_time_unix_nano, p.time_unix_nano);
            match p.value {
                Some(number_data_point::Value::AsInt(v)) => d.line(format!("Value: {v}")),
                Some(number_data_point::Value::AsDouble(v)) => d.line(format!("Value: {}", go_float_f(v))),
                None => {}
            }
            d.exemplars(&p.exemplars);
        }
    };
    match &m.data {
        None => {}
        Some(metric::Data::Gauge(g)) => number_points(d, &g.data_points),
        Some(metric::Data::Sum(s)) => {
            d.line(format!("     -> IsMonotonic: {}", s.is_monotonic));
            d.line(format!(
                "     -> AggregationTemporality: {}",
                temporality_name(s.aggregation_temporality)
            ));
            number_points(d, &s.data_points);
        }
        Some(metric::Data::Histogram(h)) => {
            d.line(format!(
                "     -> AggregationTemporality: {}",
                temporality_name(h.aggregation_temporality)
            ));
            for (i, p) in h.data_points.iter().enumerate() {
                d.line(format!("HistogramDataPoints #{i}"));
                d.attributes("Data point attributes", &p.attributes);
                d.times(p.start_time_unix_nano, p.time_unix_nano);
                d.line(format!("Count: {}", p.count));
                d.optional("Sum", p.sum);
                d.optional("Min", p.min);
                d.optional("Max", p.max);
                for (b, bound) in p.explicit_bounds.iter().enumerate() {
                    d.line(format!("ExplicitBounds #{b}: {}", go_float_f(*bound)));
                }
                for (b, count) in p.bucket_counts.iter().enumerate() {
                    d.line(format!("Buckets #{b}, Count: {count}"));
                }
                d.exemplars(&p.exemplars);
            }
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            d.line(format!(
                "     -> AggregationTemporality: {}",
                temporality_name(h.aggregation_temporality)
            ));
            for (i, p) in h.data_points.iter().enumerate() {
                d.line(format!("ExponentialHistogramDataPoints #{i}"));
                d.attributes("Data point attributes", &p.attributes);
                d.times(p.start_time_unix_nano, p.time_unix_nano);
                d.line(format!("Count: {}", p.count));
                d.optional("Sum", p.sum);
                d.optional("Min", p.min);
                d.optional("Max", p.max);
                let factor = std::f64::consts::LN_2 * 2f64.powi(-p.scale);
                if let Some(negative) = &p.negative {
                    for (j, count) in negative.bucket_counts.iter().enumerate().rev() {
                        let index = f64::from(negative.offset) + j as f64;
                        let (lower, upper) = ((index * factor).exp(), ((index + 1.0) * factor).exp());
                        d.line(format!("Bucket [{}, {}), Count: {count}", go_float_f(-upper), go_float_f(-lower)));
                    }
                }
                if p.zero_count != 0 {
                    d.line(format!("Bucket [0, 0], Count: {}", p.zero_count));
                }
                if let Some(positive) = &p.positive {
                    for (j, count) in positive.bucket_counts.iter().enumerate() {
                        let index = f64::from(positive.offset) + j as f64;
                        let (lower, upper) = ((index * factor).exp(), ((index + 1.0) * factor).exp());
                        d.line(format!("Bucket ({}, {}], Count: {count}", go_float_f(lower), go_float_f(upper)));
                    }
                }
                d.exemplars(&p.exemplars);
            }
        }
        Some(metric::Data::Summary(s)) => {
            for (i, p) in s.data_points.iter().enumerate() {
                d.line(format!("SummaryDataPoints #{i}"));
                d.attributes("Data point attributes", &p.attributes);
                d.times(p.start_time_unix_nano, p.time_unix_nano);
                d.line(format!("Count: {}", p.count));
                d.line(format!("Sum: {}", go_float_f(p.sum)));
                for (q, value) in p.quantile_values.iter().enumerate() {
                    d.line(format!(
                        "QuantileValue #{q}: Quantile {}, Value {}",
                        go_float_f(value.quantile),
                        go_float_f(value.value)
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Kind;
    use crate::pipeline::ack::AckToken;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{Gauge, Histogram, HistogramDataPoint, ResourceMetrics, ScopeMetrics, Sum};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

    /// Collects what the exporter prints.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn kv(key: &str, value: V) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn resource() -> Option<Resource> {
        Some(Resource {
            attributes: vec![kv("service.name", V::StringValue("checkout".into()))],
            ..Default::default()
        })
    }

    const T0: u64 = 1_581_452_772_000_000_000; // 2020-02-11 20:26:12 UTC

    fn golden_traces() -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(),
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "io.opentelemetry.http".into(),
                        version: "1.2.0".into(),
                        ..Default::default()
                    }),
                    spans: vec![
                        Span {
                            trace_id: (1..=16).collect(),
                            span_id: (0x11..=0x18).collect(),
                            parent_span_id: vec![0xaa; 8],
                            name: "GET /cart".into(),
                            kind: 2,
                            start_time_unix_nano: T0 + 321,
                            end_time_unix_nano: T0 + 1_000_000_789,
                            attributes: vec![
                                kv("http.method", V::StringValue("GET".into())),
                                kv("http.status_code", V::IntValue(500)),
                            ],
                            events: vec![Event {
                                time_unix_nano: T0 + 500_000_000,
                                name: "exception".into(),
                                attributes: vec![kv("exception.message", V::StringValue("out of stock".into()))],
                                dropped_attributes_count: 0,
                            }],
                            status: Some(Status {
                                code: 2,
                                message: "boom".into(),
                            }),
                            ..Default::default()
                        },
                        Span {
                            trace_id: (1..=16).collect(),
                            span_id: (0x21..=0x28).collect(),
                            parent_span_id: (0x11..=0x18).collect(),
                            name: "SELECT cart".into(),
                            kind: 3,
                            start_time_unix_nano: T0 + 100_000_000,
                            end_time_unix_nano: T0 + 200_000_000,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
            }],
        }
    }

    fn golden_metrics() -> ExportMetricsServiceRequest {
        let number = |value, attributes| NumberDataPoint {
            attributes,
            time_unix_nano: T0,
            value: Some(value),
            ..Default::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource(),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "meter".into(),
                        ..Default::default()
                    }),
                    metrics: vec![
                        Metric {
                            name: "queue.depth".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: vec![number(
                                    number_data_point::Value::AsInt(7),
                                    vec![kv("queue", V::StringValue("orders".into()))],
                                )],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "requests".into(),
                            unit: "1".into(),
                            data: Some(metric::Data::Sum(Sum {
                                data_points: vec![number(number_data_point::Value::AsDouble(12.5), vec![])],
                                aggregation_temporality: 2,
                                is_monotonic: true,
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "latency".into(),
                            unit: "ms".into(),
                            data: Some(metric::Data::Histogram(Histogram {
                                data_points: vec![HistogramDataPoint {
                                    time_unix_nano: T0,
                                    count: 3,
                                    sum: Some(60.0),
                                    min: Some(5.0),
                                    max: Some(40.0),
                                    bucket_counts: vec![1, 2, 0],
                                    explicit_bounds: vec![10.0, 50.0],
                                    ..Default::default()
                                }],
                                aggregation_temporality: 1,
                            })),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn golden_logs() -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        time_unix_nano: T0,
                        severity_number: 17,
                        severity_text: "ERROR".into(),
                        body: Some(AnyValue {
                            value: Some(V::StringValue("payment failed".into())),
                        }),
                        attributes: vec![kv("order.id", V::IntValue(42))],
                        flags: 1,
                        trace_id: (1..=16).collect(),
                        span_id: (0x11..=0x18).collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn exporter(config: &DebugExporterConfig) -> (DebugExporter, Captured, PerSignal) {
        let captured = Captured::default();
        let counters = PerSignal::detached("exporter/debug");
        let id = ComponentId {
            kind: "debug".into(),
            name: None,
        };
        let exporter = DebugExporter::with_output(&id, config, counters.clone(), Box::new(captured.clone()));
        (exporter, captured, counters)
    }

    /// Sends one batch and checks that its ack was committed.
    async fn send<T: PipelineData>(exporter: &DebugExporter, data: T) {
        let (ack, committed) = AckToken::new();
        exporter.consume(Envelope::new(data, ack)).await.unwrap();
        assert_eq!(committed.await.unwrap(), Ok(()));
    }

    fn lines(lines: &[&str]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    fn config_of(yaml: &str) -> DebugExporterConfig {
        let config = crate::components::parse_config(yaml).unwrap();
        config.settings_of::<DebugExporterConfig>(Kind::Exporter, "debug")[0].1.clone()
    }

    const TRACES_SUMMARY: &str = "Traces\t{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"traces\", \"resource spans\": 1, \"spans\": 2}";

    #[tokio::test]
    async fn the_collector_example_prints_a_detailed_dump() {
        let config = config_of(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:4318
exporters:
  debug:
    verbosity: detailed
    sampling_initial: 5
    sampling_thereafter: 200
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"#,
        );
        assert_eq!(
            config,
            DebugExporterConfig {
                verbosity: Verbosity::Detailed,
                sampling_initial: 5,
                sampling_thereafter: 200
            }
        );
        let (exporter, captured, counters) = exporter(&config);
        send(&exporter, golden_traces()).await;
        let expected = lines(&[
            TRACES_SUMMARY,
            "ResourceSpans #0",
            "Resource SchemaURL: https://opentelemetry.io/schemas/1.21.0",
            "Resource attributes:",
            "     -> service.name: Str(checkout)",
            "ScopeSpans #0",
            "ScopeSpans SchemaURL: ",
            "InstrumentationScope io.opentelemetry.http 1.2.0",
            "Span #0",
            "    Trace ID       : 0102030405060708090a0b0c0d0e0f10",
            "    Parent ID      : aaaaaaaaaaaaaaaa",
            "    ID             : 1112131415161718",
            "    Name           : GET /cart",
            "    Kind           : Server",
            "    Start time     : 2020-02-11 20:26:12.000000321 +0000 UTC",
            "    End time       : 2020-02-11 20:26:13.000000789 +0000 UTC",
            "    Status code    : Error",
            "    Status message : boom",
            "    DroppedAttributesCount: 0",
            "    DroppedEventsCount: 0",
            "    DroppedLinksCount: 0",
            "Attributes:",
            "     -> http.method: Str(GET)",
            "     -> http.status_code: Int(500)",
            "Events:",
            "SpanEvent #0",
            "     -> Name: exception",
            "     -> Timestamp: 2020-02-11 20:26:12.5 +0000 UTC",
            "     -> DroppedAttributesCount: 0",
            "     -> Attributes::",
            "          -> exception.message: Str(out of stock)",
            "Span #1",
            "    Trace ID       : 0102030405060708090a0b0c0d0e0f10",
            "    Parent ID      : 1112131415161718",
            "    ID             : 2122232425262728",
            "    Name           : SELECT cart",
            "    Kind           : Client",
            "    Start time     : 2020-02-11 20:26:12.1 +0000 UTC",
            "    End time       : 2020-02-11 20:26:12.2 +0000 UTC",
            "    Status code    : Unset",
            "    Status message : ",
            "    DroppedAttributesCount: 0",
            "    DroppedEventsCount: 0",
            "    DroppedLinksCount: 0",
        ]);
        assert_eq!(captured.text(), expected);
        assert_eq!(counters.traces.sent.load(Ordering::Relaxed), 2);
    }

    use std::sync::atomic::Ordering;

    #[tokio::test]
    async fn basic_prints_one_line_per_batch_by_default() {
        let config = config_of(
            "receivers: {otlp: {protocols: {http: {}}}}\nexporters: {debug/quiet: {}}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [debug/quiet]}}}",
        );
        assert_eq!(config, DebugExporterConfig::default());
        let (exporter, captured, counters) = exporter(&config);
        send(&exporter, golden_traces()).await;
        send(&exporter, golden_metrics()).await;
        send(&exporter, golden_logs()).await;
        let expected = lines(&[
            TRACES_SUMMARY,
            "Metrics\t{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"metrics\", \"resource metrics\": 1, \"metrics\": 3, \"data points\": 3}",
            "Logs\t{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"logs\", \"resource logs\": 1, \"log records\": 1}",
        ]);
        assert_eq!(captured.text(), expected);
        assert_eq!(counters.traces.sent.load(Ordering::Relaxed), 2);
        assert_eq!(counters.metrics.sent.load(Ordering::Relaxed), 3);
        assert_eq!(counters.logs.sent.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn normal_prints_one_line_per_item() {
        let config = DebugExporterConfig {
            verbosity: Verbosity::Normal,
            ..Default::default()
        };
        let (exporter, captured, _) = exporter(&config);
        send(&exporter, golden_traces()).await;
        send(&exporter, golden_metrics()).await;
        send(&exporter, golden_logs()).await;
        let text = captured.text();
        let body: Vec<&str> = text.lines().filter(|l| !l.contains("otelcol.component.id")).collect();
        assert_eq!(
            body,
            [
                "ResourceTraces #0 [https://opentelemetry.io/schemas/1.21.0] service.name=checkout",
                "ScopeTraces #0 io.opentelemetry.http@1.2.0",
                "GET /cart 0102030405060708090a0b0c0d0e0f10 1112131415161718 http.method=GET http.status_code=500",
                "SELECT cart 0102030405060708090a0b0c0d0e0f10 2122232425262728",
                "ResourceMetrics #0 service.name=checkout",
                "ScopeMetrics #0 meter",
                "queue.depth{queue=orders} 7",
                "requests{} 12.5",
                "latency{} count=3 sum=60 min=5 max=40 le10=1 le50=2 0",
                "ResourceLog #0 service.name=checkout",
                "ScopeLog #0",
                "payment failed order.id=42",
            ]
        );
    }

    #[tokio::test]
    async fn detailed_dumps_metrics_and_logs() {
        let config = DebugExporterConfig {
            verbosity: Verbosity::Detailed,
            ..Default::default()
        };
        let (exporter, captured, _) = exporter(&config);
        send(&exporter, golden_logs()).await;
        let text = captured.text();
        let expected = lines(&[
            "ResourceLog #0",
            "Resource SchemaURL: ",
            "Resource attributes:",
            "     -> service.name: Str(checkout)",
            "ScopeLogs #0",
            "ScopeLogs SchemaURL: ",
            "InstrumentationScope  ",
            "LogRecord #0",
            "ObservedTimestamp: 1970-01-01 00:00:00 +0000 UTC",
            "Timestamp: 2020-02-11 20:26:12 +0000 UTC",
            "SeverityText: ERROR",
            "SeverityNumber: Error(17)",
            "Body: Str(payment failed)",
            "Attributes:",
            "     -> order.id: Int(42)",
            "Trace ID: 0102030405060708090a0b0c0d0e0f10",
            "Span ID: 1112131415161718",
            "Flags: 1",
        ]);
        assert_eq!(text.split_once('\n').unwrap().1, expected);

        let (exporter, captured, _) = self::exporter(&config);
        send(&exporter, golden_metrics()).await;
        let text = captured.text();
        let expected = lines(&[
            "ResourceMetrics #0",
            "Resource SchemaURL: ",
            "Resource attributes:",
            "     -> service.name: Str(checkout)",
            "ScopeMetrics #0",
            "ScopeMetrics SchemaURL: ",
            "InstrumentationScope meter ",
            "Metric #0",
            "Descriptor:",
            "     -> Name: queue.depth",
            "     -> Description: ",
            "     -> Unit: ",
            "     -> DataType: Gauge",
            "NumberDataPoints #0",
            "Data point attributes:",
            "     -> queue: Str(orders)",
            "StartTimestamp: 1970-01-01 00:00:00 +0000 UTC",
            "Timestamp: 2020-02-11 20:26:12 +0000 UTC",
            "Value: 7",
            "Metric #1",
            "Descriptor:",
            "     -> Name: requests",
            "     -> Description: ",
            "     -> Unit: 1",
            "     -> DataType: Sum",
            "     -> IsMonotonic: true",
            "     -> AggregationTemporality: Cumulative",
            "NumberDataPoints #0",
            "StartTimestamp: 1970-01-01 00:00:00 +0000 UTC",
            "Timestamp: 2020-02-11 20:26:12 +0000 UTC",
            "Value: 12.500000",
            "Metric #2",
            "Descriptor:",
            "     -> Name: latency",
            "     -> Description: ",
            "     -> Unit: ms",
            "     -> DataType: Histogram",
            "     -> AggregationTemporality: Delta",
            "HistogramDataPoints #0",
            "StartTimestamp: 1970-01-01 00:00:00 +0000 UTC",
            "Timestamp: 2020-02-11 20:26:12 +0000 UTC",
            "Count: 3",
            "Sum: 60.000000",
            "Min: 5.000000",
            "Max: 40.000000",
            "ExplicitBounds #0: 10.000000",
            "ExplicitBounds #1: 50.000000",
            "Buckets #0, Count: 1",
            "Buckets #1, Count: 2",
            "Buckets #2, Count: 0",
        ]);
        assert_eq!(text.split_once('\n').unwrap().1, expected);
    }

    #[test]
    fn sampling_prints_the_initial_batches_then_every_nth_each_second() {
        let config = DebugExporterConfig {
            sampling_initial: 1,
            sampling_thereafter: 2,
            ..Default::default()
        };
        let (exporter, _, _) = exporter(&config);
        let t0 = Instant::now();
        let printed: Vec<bool> = (0..5).map(|_| exporter.printer.sample(Signal::Traces, t0)).collect();
        assert_eq!(printed, [true, false, true, false, true]);
        assert!(exporter.printer.sample(Signal::Logs, t0), "each signal has its own window");
        assert!(
            exporter.printer.sample(Signal::Traces, t0 + Duration::from_secs(1)),
            "a new second starts over"
        );
    }

    #[tokio::test]
    async fn sampled_out_batches_are_still_acknowledged_and_counted() {
        let config = DebugExporterConfig {
            sampling_initial: 0,
            sampling_thereafter: 0,
            ..Default::default()
        };
        let (exporter, captured, counters) = exporter(&config);
        send(&exporter, golden_traces()).await;
        assert_eq!(captured.text(), "");
        assert_eq!(counters.traces.sent.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn values_print_as_the_collector_prints_them() {
        use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
        let typed = |v: V| typed_value(Some(&AnyValue { value: Some(v) }));
        assert_eq!(typed(V::DoubleValue(1.5)), "Double(1.5)");
        assert_eq!(typed(V::BoolValue(true)), "Bool(true)");
        assert_eq!(typed(V::BytesValue(vec![1, 2, 3])), "Bytes(AQID)");
        assert_eq!(
            typed(V::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(V::IntValue(1))
                }]
            })),
            "Slice([1])"
        );
        assert_eq!(
            typed(V::KvlistValue(KeyValueList {
                values: vec![kv("b", V::StringValue("x".into())), kv("a", V::IntValue(2))]
            })),
            "Map({\"a\":2,\"b\":\"x\"})"
        );
        assert_eq!(typed_value(None), "Empty()");
        assert_eq!(go_float_v(1e21), "1e+21");
        assert_eq!(go_float_v(0.00001), "1e-05");
        assert_eq!(go_float_v(100.1), "100.1");
        assert_eq!(go_float_f(f64::INFINITY), "+Inf");
        assert_eq!(severity_name(9), "Info");
        assert_eq!(severity_name(10), "Info2");
        assert_eq!(severity_name(24), "Fatal4");
    }

    #[test]
    fn config_errors_name_their_paths() {
        let errors = crate::components::parse_config(
            r#"
receivers: {otlp: {protocols: {http: {}}}}
exporters:
  debug:
    verbosity: loud
    sampling_initial: -1
    use_internal_logger: true
service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
"#,
        )
        .unwrap_err();
        assert_eq!(
            errors.0,
            [
                "exporters.debug.use_internal_logger: unknown key (expected one of: verbosity, sampling_initial, sampling_thereafter)",
                "exporters.debug.verbosity: expected basic, normal or detailed, got 'loud'",
                "exporters.debug.sampling_initial: expected a non-negative integer, got a number",
            ]
        );
        let errors = crate::components::parse_config(
            "receivers: {otlp: {protocols: {http: {}}}}\nexporters: {debug: [basic]}\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}",
        )
        .unwrap_err();
        assert_eq!(errors.0, ["exporters.debug: expected a mapping, got a list"]);
    }
}
