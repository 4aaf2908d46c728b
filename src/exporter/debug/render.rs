//! The text the debug exporter prints for a batch: the one-line summary (`basic`), a line per item
//! (`normal`) and the full otlptext dump (`detailed`), with values and times as the Collector prints them.

use super::Verbosity;
use crate::exporter::UtcTime;
use crate::pdata::json::any_value_to_plain;
use crate::pdata::SignalData;
use crate::pipeline::PipelineData;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{exemplar, metric, number_data_point, Exemplar, Metric, NumberDataPoint};
use std::any::Any;
use std::fmt::Write as _;

/// The text printed for one batch: the summary line, then the per-item text at `normal` and
/// `detailed`.
pub(super) fn render<T: PipelineData>(id: &str, verbosity: Verbosity, data: &T) -> String {
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
pub(super) fn typed_value(value: Option<&AnyValue>) -> String {
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
pub(super) fn go_float_v(f: f64) -> String {
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
pub(super) fn go_float_f(f: f64) -> String {
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
pub(super) fn severity_name(number: i32) -> String {
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
