//! `otelbox run --report FILE.html`: one self-contained HTML file to keep as a CI artifact. It holds
//! the run (command, exit code, durations, counts, services), the assertions (failures first, each
//! linked to the traces its message names), the trace list, and a trace viewer (a waterfall of the
//! spans, their attributes, events and status, and the trace's logs).
//!
//! The page is `assets/report.html`; the data goes into it as JSON in a
//! `<script type="application/json">` element, with every `<`, `>` and `&` escaped (`\u003c`...), so
//! no `</script>` or `<!--` in telemetry can end the element. The page builds its DOM with
//! `textContent` only, under a Content-Security-Policy that allows its own script and style (by
//! hash) and nothing else: no network, no inline event handler, even if markup got in.
//!
//! What is embedded is capped (`LIMITS`): every trace a failed assertion names, then the newest
//! traces, within a span budget (the longest spans of a trace over the per-trace cap), values cut;
//! the page says so.

use crate::api::wire;
use crate::assertions::eval::Outcome;
use crate::client::{ApiClient, ClientError};
use base64::Engine;
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const TEMPLATE: &str = include_str!("../../assets/report.html");
const FAVICON: &str = include_str!("../../assets/favicon.svg");
const DATA_PLACEHOLDER: &str = "__OTELBOX_REPORT_DATA__";
const CSP_PLACEHOLDER: &str = "__OTELBOX_REPORT_CSP__";
const FAVICON_PLACEHOLDER: &str = "__OTELBOX_REPORT_FAVICON__";
const SCRIPT_OPEN: &str = "<script id=\"report-app\">";
const STYLE_OPEN: &str = "<style id=\"report-style\">";
/// Characters of an assertion's message kept (near misses can list long attribute maps).
const DETAIL_CHARS: usize = 20_000;

/// How much of a run a report holds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Limits {
    /// The newest traces listed.
    pub traces: usize,
    /// Traces named by failed assertions, listed (and given their spans) first.
    pub failed_traces: usize,
    /// Spans embedded in all.
    pub spans: usize,
    /// Spans embedded per trace: the longest ones of a larger trace.
    pub spans_per_trace: usize,
    /// Log records per trace (the newest).
    pub logs_per_trace: usize,
    pub attributes_per_span: usize,
    pub events_per_span: usize,
    pub links_per_span: usize,
    /// Characters kept of a string value (attribute, log body, name, status message).
    pub value_chars: usize,
}

/// A few thousand spans stay quick in a browser and keep the file to a few MB.
pub const LIMITS: Limits = Limits {
    traces: 200,
    failed_traces: 50,
    spans: 10_000,
    spans_per_trace: 5_000,
    logs_per_trace: 200,
    attributes_per_span: 128,
    events_per_span: 64,
    links_per_span: 32,
    value_chars: 2_000,
};

/// What `otelbox run` knows of the command.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub command: Vec<String>,
    pub exit_code: i32,
    /// From starting the command to its exit.
    pub command_time: Duration,
    /// The whole run so far: the box, the command, the settling, the checks.
    pub total_time: Duration,
}

/// Write the report of a run to `path`: fetch what it shows from the box, render, write.
pub async fn write(client: &ApiClient, path: &Path, run: &RunInfo, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let checked: Vec<Checked> = outcomes.iter().map(Checked::from).collect();
    let failed_ids = failed_trace_ids(&checked, LIMITS.failed_traces);
    let fetched = fetch(client, &failed_ids, &LIMITS).await?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let data = build(run, &checked, fetched, &LIMITS, now_ms);
    std::fs::write(path, render(&data)).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// Points each failed outcome at its entry in the report, so the JUnit failure says where to look.
pub fn note_in_failures(outcomes: &mut [Outcome], path: &Path) {
    for (i, o) in outcomes.iter_mut().enumerate() {
        if !o.passed {
            o.detail.push_str(&format!("\n    report: {}#assertion-{}", path.display(), i + 1));
        }
    }
}

/// An assertion's outcome, as the report shows it.
#[derive(Clone, Debug)]
struct Checked {
    name: String,
    passed: bool,
    detail: String,
    elapsed: Duration,
}

impl From<&Outcome> for Checked {
    fn from(o: &Outcome) -> Checked {
        Checked {
            name: o.name.clone(),
            passed: o.passed,
            detail: o.detail.clone(),
            elapsed: o.elapsed,
        }
    }
}

/// The trace ids a text names (32 lowercase hex characters standing alone), in order, once each.
fn trace_ids_in(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        let hex = token.len() == 32 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if hex && token.bytes().any(|b| b != b'0') && !out.iter().any(|t| t == token) {
            out.push(token.to_string());
        }
    }
    out
}

/// The traces the failed assertions name, in order, at most `max`.
fn failed_trace_ids(checked: &[Checked], max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in checked.iter().filter(|c| !c.passed) {
        for id in trace_ids_in(&c.detail) {
            if out.len() < max && !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

#[derive(Clone, Debug, Default, Serialize)]
struct Counts {
    traces: i64,
    spans: i64,
    logs: i64,
    /// Metric names.
    metrics: i64,
    metric_points: i64,
}

/// A listed trace as fetched.
#[derive(Clone, Debug)]
struct FetchedTrace {
    summary: wire::TraceSummary,
    failed_assertion: bool,
    /// `None`: listed without its spans (over the span budget).
    spans: Option<Vec<wire::Span>>,
    logs: Vec<wire::LogRecord>,
    /// More log records carry its id than `logs` holds.
    more_logs: bool,
}

#[derive(Clone, Debug, Default)]
struct Fetched {
    counts: Counts,
    services: Vec<wire::Service>,
    /// Failed assertions' traces first, then the newest.
    traces: Vec<FetchedTrace>,
}

/// How many spans of each listed trace (by span count, in list order) to embed, 0 for none: each
/// trace up to `spans_per_trace`, while the total stays within `spans`.
fn plan(span_counts: &[i64], limits: &Limits) -> Vec<usize> {
    let mut left = limits.spans;
    span_counts
        .iter()
        .map(|&n| {
            let give = (n.max(0) as usize).min(limits.spans_per_trace).min(left);
            left -= give;
            give
        })
        .collect()
}

/// The `n` longest spans (a larger trace keeps its outline: parents outlast their children).
fn keep_longest(spans: &mut Vec<wire::Span>, n: usize) {
    if spans.len() > n {
        spans.sort_by(|a, b| b.duration_ns.cmp(&a.duration_ns).then(a.start_unix_nano.cmp(&b.start_unix_nano)));
        spans.truncate(n);
    }
}

async fn count(client: &ApiClient, signal: &str) -> Result<i64, ClientError> {
    let r: wire::CountResponse = client
        .get(
            wire::routes::COUNT,
            &wire::CountParams {
                signal: Some(signal.to_string()),
                ..Default::default()
            },
        )
        .await?;
    Ok(r.count)
}

async fn fetch(client: &ApiClient, failed_ids: &[String], limits: &Limits) -> Result<Fetched, ClientError> {
    let status: wire::StatusResponse = client.get(wire::routes::STATUS, &()).await?;
    let metrics: wire::MetricsResponse = client.get(wire::routes::METRICS, &()).await?;
    let counts = Counts {
        traces: count(client, "traces").await?,
        spans: count(client, "spans").await?,
        logs: count(client, "logs").await?,
        metrics: metrics.metrics.len() as i64,
        metric_points: status.storage.metric_points,
    };
    let services: wire::ServicesResponse = client.get(wire::routes::SERVICES, &()).await?;
    let newest: wire::TracesResponse = client
        .get(
            wire::routes::TRACES,
            &wire::TracesParams {
                limit: Some(limits.traces.clamp(1, 1000)),
                ..Default::default()
            },
        )
        .await?;
    let mut listed: Vec<(wire::TraceSummary, bool)> = Vec::new();
    for id in failed_ids {
        let found = match newest.traces.iter().find(|t| t.trace_id == *id) {
            Some(t) => Some(t.clone()),
            None => {
                let r: wire::TracesResponse = client
                    .get(
                        wire::routes::TRACES,
                        &wire::TracesParams {
                            q: Some(format!("trace_id = {id}")),
                            limit: Some(1),
                            ..Default::default()
                        },
                    )
                    .await?;
                r.traces.into_iter().next()
            }
        };
        if let Some(t) = found {
            listed.push((t, true));
        }
    }
    for t in newest.traces {
        if !failed_ids.contains(&t.trace_id) {
            listed.push((t, false));
        }
    }
    let counts_in_order: Vec<i64> = listed.iter().map(|(t, _)| t.span_count).collect();
    let embed = plan(&counts_in_order, limits);
    let results: Vec<Result<FetchedTrace, ClientError>> = futures::stream::iter(listed.into_iter().zip(embed))
        .map(|((summary, failed), n)| fetch_trace(client, summary, failed, n, limits))
        .buffered(4)
        .collect()
        .await;
    Ok(Fetched {
        counts,
        services: services.services,
        traces: results.into_iter().collect::<Result<_, _>>()?,
    })
}

/// One listed trace: `n` of its spans (all of them, or the longest), and its newest logs.
async fn fetch_trace(
    client: &ApiClient,
    summary: wire::TraceSummary,
    failed_assertion: bool,
    n: usize,
    limits: &Limits,
) -> Result<FetchedTrace, ClientError> {
    let mut out = FetchedTrace {
        summary,
        failed_assertion,
        spans: None,
        logs: Vec::new(),
        more_logs: false,
    };
    if n == 0 {
        return Ok(out);
    }
    let id = out.summary.trace_id.clone();
    let mut spans = if n as i64 >= out.summary.span_count {
        match client.get::<wire::TraceResponse, _>(&wire::routes::trace(&id), &()).await {
            Ok(t) => t.spans,
            // Gone since it was listed (it cannot be, in a run's box; but never fail a report on it).
            Err(ClientError::Api { status: 404, .. }) => return Ok(out),
            Err(e) => return Err(e),
        }
    } else {
        let r: wire::SpansResponse = client
            .get(
                wire::routes::SPANS,
                &wire::SpansParams {
                    q: Some(format!("trace_id = {id}")),
                    sort: Some("duration".into()),
                    limit: Some(n.min(10_000)),
                    ..Default::default()
                },
            )
            .await?;
        r.spans
    };
    keep_longest(&mut spans, n);
    out.spans = Some(spans);
    let logs: wire::LogsResponse = client
        .get(
            wire::routes::LOGS,
            &wire::LogsParams {
                trace_id: Some(id),
                limit: Some((limits.logs_per_trace + 1).min(10_000)),
                ..Default::default()
            },
        )
        .await?;
    out.logs = logs.logs;
    out.more_logs = out.logs.len() > limits.logs_per_trace;
    Ok(out)
}

// ---- the embedded JSON ---------------------------------------------------------------------------

#[derive(Debug, Serialize)]
struct ReportData {
    /// The shape of this JSON, for whoever reads it from a kept file.
    format: u32,
    version: &'static str,
    generated_unix_ms: i64,
    run: RunJson,
    counts: Counts,
    services: Vec<ServiceJson>,
    /// Failed first, then in the order given.
    assertions: Vec<AssertionJson>,
    traces: Vec<TraceJson>,
    /// Span resources, each once; spans point into it.
    resources: Vec<Map<String, Value>>,
    limits: Limits,
    omitted: Omitted,
}

#[derive(Debug, Serialize)]
struct RunJson {
    command: Vec<String>,
    /// The command as a shell would take it.
    command_line: String,
    exit_code: i32,
    command_ms: f64,
    total_ms: f64,
    /// `passed`, `failed` (an assertion) or `command failed` (a non-zero exit).
    outcome: &'static str,
}

#[derive(Debug, Serialize)]
struct ServiceJson {
    name: String,
    spans: i64,
    errors: i64,
}

#[derive(Debug, Serialize)]
struct AssertionJson {
    /// 1-based, in the order checked: the page's `#assertion-N`.
    index: usize,
    name: String,
    passed: bool,
    detail: String,
    elapsed_ms: f64,
    trace_ids: Vec<String>,
}

#[derive(Debug, Serialize)]
struct TraceJson {
    trace_id: String,
    root_service: String,
    root_name: String,
    start_unix_ms: f64,
    duration_ns: i64,
    span_count: i64,
    error_count: i64,
    services: Vec<String>,
    failed_assertion: bool,
    embedded: bool,
    spans: Vec<SpanJson>,
    /// Spans of the trace not in `spans`.
    spans_omitted: i64,
    /// Oldest first.
    logs: Vec<LogJson>,
    logs_omitted: bool,
}

/// Times are nanoseconds from the trace's first embedded span (they fit a JavaScript number).
#[derive(Debug, Serialize)]
struct SpanJson {
    id: String,
    parent: String,
    name: String,
    kind: &'static str,
    service: String,
    start: i64,
    duration: i64,
    status: &'static str,
    status_message: String,
    scope: String,
    resource: usize,
    attributes: Map<String, Value>,
    attributes_omitted: usize,
    events: Vec<EventJson>,
    events_omitted: usize,
    links: Vec<LinkJson>,
}

#[derive(Debug, Serialize)]
struct EventJson {
    name: String,
    t: i64,
    attributes: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct LinkJson {
    trace_id: String,
    span_id: String,
    attributes: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct LogJson {
    t: i64,
    severity: String,
    severity_number: i32,
    event_name: String,
    service: String,
    span_id: String,
    /// The body as text (JSON for a structured one).
    body: String,
    attributes: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct Omitted {
    /// Traces of the run not listed.
    traces: i64,
    /// Spans of the run not embedded.
    spans: i64,
}

/// `text`, cut to `max` characters with a note of how long it was.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}… [cut at {max} of {} characters]", &text[..at], text.chars().count()),
    }
}

/// A value with its strings cut and its arrays and maps limited to `max_items` entries.
fn cut_value(value: Value, max_chars: usize, max_items: usize) -> Value {
    match value {
        Value::String(s) => Value::String(cut(&s, max_chars)),
        Value::Array(items) => {
            let total = items.len();
            let mut out: Vec<Value> = items
                .into_iter()
                .take(max_items)
                .map(|v| cut_value(v, max_chars, max_items))
                .collect();
            if total > max_items {
                out.push(Value::String(format!("… and {} more", total - max_items)));
            }
            Value::Array(out)
        }
        Value::Object(map) => Value::Object(capped_map(map, max_chars, max_items).0),
        other => other,
    }
}

/// The first `max_items` entries of a map, values cut, and how many were left out.
fn capped_map(map: Map<String, Value>, max_chars: usize, max_items: usize) -> (Map<String, Value>, usize) {
    let total = map.len();
    let out = map
        .into_iter()
        .take(max_items)
        .map(|(k, v)| (cut(&k, max_chars), cut_value(v, max_chars, max_items)))
        .collect();
    (out, total.saturating_sub(max_items))
}

/// Resources, each once.
#[derive(Default)]
struct Resources {
    list: Vec<Map<String, Value>>,
    index: HashMap<String, usize>,
}

impl Resources {
    fn add(&mut self, resource: Map<String, Value>, limits: &Limits) -> usize {
        let key = Value::Object(resource.clone()).to_string();
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        self.list
            .push(capped_map(resource, limits.value_chars, limits.attributes_per_span).0);
        self.index.insert(key, self.list.len() - 1);
        self.list.len() - 1
    }
}

fn command_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn span_json(s: wire::Span, t0: i64, limits: &Limits, resources: &mut Resources) -> SpanJson {
    let (attributes, attributes_omitted) = capped_map(s.attributes, limits.value_chars, limits.attributes_per_span);
    let events_omitted = s.events.len().saturating_sub(limits.events_per_span);
    let events = s
        .events
        .into_iter()
        .take(limits.events_per_span)
        .map(|e| EventJson {
            name: cut(&e.name, limits.value_chars),
            t: e.time_unix_nano.saturating_sub(t0),
            attributes: capped_map(e.attributes, limits.value_chars, limits.attributes_per_span).0,
        })
        .collect();
    let links = s
        .links
        .into_iter()
        .take(limits.links_per_span)
        .map(|l| LinkJson {
            trace_id: cut(&l.trace_id, 64),
            span_id: cut(&l.span_id, 64),
            attributes: capped_map(l.attributes, limits.value_chars, limits.attributes_per_span).0,
        })
        .collect();
    let scope = if s.scope.version.is_empty() {
        s.scope.name
    } else {
        format!("{} {}", s.scope.name, s.scope.version)
    };
    SpanJson {
        id: cut(&s.span_id, 64),
        parent: cut(&s.parent_span_id, 64),
        name: cut(&s.name, limits.value_chars),
        kind: s.kind.as_str(),
        service: cut(&s.service, limits.value_chars),
        start: s.start_unix_nano.saturating_sub(t0),
        duration: s.duration_ns,
        status: s.status.code.as_str(),
        status_message: cut(&s.status.message, limits.value_chars),
        scope: cut(&scope, limits.value_chars),
        resource: resources.add(s.resource, limits),
        attributes,
        attributes_omitted,
        events,
        events_omitted,
        links,
    }
}

fn log_json(l: wire::LogRecord, t0: i64, limits: &Limits) -> LogJson {
    let time = if l.time_unix_nano != 0 {
        l.time_unix_nano
    } else {
        l.observed_time_unix_nano
    };
    let body = match &l.body {
        Value::String(s) => cut(s, limits.value_chars),
        Value::Null => String::new(),
        other => cut(&other.to_string(), limits.value_chars),
    };
    LogJson {
        t: time.saturating_sub(t0),
        severity: cut(&l.severity_text, 64),
        severity_number: l.severity_number,
        event_name: cut(&l.event_name, limits.value_chars),
        service: cut(&l.service, limits.value_chars),
        span_id: cut(&l.span_id, 64),
        body,
        attributes: capped_map(l.attributes, limits.value_chars, limits.attributes_per_span).0,
    }
}

/// The report's data, within `limits` (whatever was fetched).
fn build(run: &RunInfo, checked: &[Checked], fetched: Fetched, limits: &Limits, generated_unix_ms: i64) -> ReportData {
    let any_failed = checked.iter().any(|c| !c.passed);
    let mut assertions: Vec<AssertionJson> = checked
        .iter()
        .enumerate()
        .map(|(i, c)| AssertionJson {
            index: i + 1,
            name: cut(&c.name, limits.value_chars),
            passed: c.passed,
            detail: cut(&c.detail, DETAIL_CHARS),
            elapsed_ms: c.elapsed.as_secs_f64() * 1e3,
            trace_ids: trace_ids_in(&c.detail),
        })
        .collect();
    assertions.sort_by_key(|a| a.passed);

    let mut resources = Resources::default();
    let mut budget = limits.spans;
    let mut embedded_spans: i64 = 0;
    let mut traces = Vec::new();
    for t in fetched.traces {
        let s = t.summary;
        let mut spans = t.spans.unwrap_or_default();
        keep_longest(&mut spans, limits.spans_per_trace.min(budget));
        budget -= spans.len();
        embedded_spans += spans.len() as i64;
        let embedded = !spans.is_empty();
        let t0 = spans.iter().map(|s| s.start_unix_nano).min().unwrap_or(s.start_unix_nano);
        let mut logs = if embedded { t.logs } else { Vec::new() };
        let logs_omitted = t.more_logs || logs.len() > limits.logs_per_trace;
        // The newest ones, shown oldest first.
        logs.sort_by_key(|l| std::cmp::Reverse(l.time_unix_nano));
        logs.truncate(limits.logs_per_trace);
        logs.reverse();
        let span_count = s.span_count.max(spans.len() as i64);
        traces.push(TraceJson {
            spans_omitted: span_count - spans.len() as i64,
            spans: spans.into_iter().map(|sp| span_json(sp, t0, limits, &mut resources)).collect(),
            logs: logs.into_iter().map(|l| log_json(l, t0, limits)).collect(),
            logs_omitted: embedded && logs_omitted,
            trace_id: s.trace_id,
            root_service: cut(&s.root_service, limits.value_chars),
            root_name: cut(&s.root_name, limits.value_chars),
            start_unix_ms: s.start_unix_nano as f64 / 1e6,
            duration_ns: s.duration_ns,
            span_count,
            error_count: s.error_count,
            services: s.services.iter().take(50).map(|x| cut(x, limits.value_chars)).collect(),
            failed_assertion: t.failed_assertion,
            embedded,
        });
    }
    let omitted = Omitted {
        traces: (fetched.counts.traces - traces.len() as i64).max(0),
        spans: (fetched.counts.spans - embedded_spans).max(0),
    };
    ReportData {
        format: 1,
        version: env!("CARGO_PKG_VERSION"),
        generated_unix_ms,
        run: RunJson {
            command: run.command.clone(),
            command_line: command_line(&run.command),
            exit_code: run.exit_code,
            command_ms: run.command_time.as_secs_f64() * 1e3,
            total_ms: run.total_time.as_secs_f64() * 1e3,
            outcome: if run.exit_code != 0 {
                "command failed"
            } else if any_failed {
                "failed"
            } else {
                "passed"
            },
        },
        counts: fetched.counts,
        services: fetched
            .services
            .into_iter()
            .map(|s| ServiceJson {
                name: cut(&s.name, limits.value_chars),
                spans: s.spans,
                errors: s.errors,
            })
            .collect(),
        assertions,
        traces,
        resources: resources.list,
        limits: *limits,
        omitted,
    }
}

// ---- the page ------------------------------------------------------------------------------------

/// JSON that can sit inside a `<script>` element: `<`, `>` and `&` occur only inside JSON strings,
/// where their `\u` escapes mean the same; so no `</script>`, `<!--` or `]]>` survives. U+2028 and
/// U+2029 are escaped as well, for any reader that takes the text as JavaScript.
fn embed_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The text of the template's element that starts with `open` (its closing tag is `close`).
fn element_text(open: &str, close: &str) -> &'static str {
    let start = TEMPLATE.find(open).map(|i| i + open.len()).unwrap_or(0);
    let end = TEMPLATE[start..].find(close).map_or(start, |i| start + i);
    &TEMPLATE[start..end]
}

fn csp_hash(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// The page's Content-Security-Policy: its own script and style, a data: icon, nothing else.
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(element_text(SCRIPT_OPEN, "</script>")),
        csp_hash(element_text(STYLE_OPEN, "</style>"))
    )
}

fn render(data: &ReportData) -> String {
    // Maps and numbers only: serialising cannot fail.
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_string());
    let favicon = format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(FAVICON.trim().as_bytes())
    );
    TEMPLATE
        .replacen(CSP_PLACEHOLDER, &content_security_policy(), 1)
        .replacen(FAVICON_PLACEHOLDER, &favicon, 1)
        // Last, so nothing in the data is taken for a placeholder.
        .replacen(DATA_PLACEHOLDER, &embed_json(&json), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE_A: &str = "0af7651916cd43dd8448eb211c80319c";
    const TRACE_B: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const HOSTILE: &str = "</script><img src=x onerror=alert(1)>";

    fn span(trace: &str, id: &str, parent: &str, name: &str, start: i64, duration: i64) -> wire::Span {
        wire::Span {
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: name.into(),
            kind: wire::SpanKind::Server,
            service: "shop".into(),
            start_unix_nano: start,
            end_unix_nano: start + duration,
            duration_ns: duration,
            status: wire::SpanStatus {
                code: wire::StatusCode::Unset,
                message: String::new(),
            },
            attributes: Map::new(),
            resource: Map::new(),
            scope: wire::Scope {
                name: "shop.checkout".into(),
                version: "1.0.0".into(),
            },
            events: Vec::new(),
            links: Vec::new(),
        }
    }

    fn summary(trace: &str, span_count: i64) -> wire::TraceSummary {
        wire::TraceSummary {
            trace_id: trace.into(),
            root_service: "shop".into(),
            root_name: "checkout".into(),
            start_unix_nano: 1_700_000_000_000_000_000,
            duration_ns: 20_000_000,
            span_count,
            error_count: 0,
            services: vec!["shop".into()],
        }
    }

    fn log(trace: &str, span: &str, body: &str, time: i64) -> wire::LogRecord {
        wire::LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: time,
            severity_number: 17,
            severity_text: "ERROR".into(),
            event_name: String::new(),
            body: Value::String(body.into()),
            service: "shop".into(),
            trace_id: trace.into(),
            span_id: span.into(),
            attributes: Map::new(),
            resource: Map::new(),
        }
    }

    fn run_info(exit_code: i32) -> RunInfo {
        RunInfo {
            command: vec!["python3".into(), "app under test.py".into()],
            exit_code,
            command_time: Duration::from_millis(120),
            total_time: Duration::from_millis(2500),
        }
    }

    fn checked(name: &str, passed: bool, detail: &str) -> Checked {
        Checked {
            name: name.into(),
            passed,
            detail: detail.into(),
            elapsed: Duration::from_millis(3),
        }
    }

    /// The JSON embedded in a rendered page, parsed back.
    fn embedded(html: &str) -> Value {
        let open = "<script type=\"application/json\" id=\"report-data\">";
        let start = html.find(open).expect("the data element") + open.len();
        let end = start + html[start..].find("</script>").expect("its end");
        serde_json::from_str(&html[start..end]).expect("valid JSON")
    }

    fn hostile_report() -> String {
        let t0 = 1_700_000_000_000_000_000;
        let mut root = span(TRACE_A, "b7ad6b7169203331", "", HOSTILE, t0, 20_000_000);
        root.service = "\"><svg onload=alert(2)>".into();
        root.attributes
            .insert("note".into(), Value::String("<!--<script>alert(3)</script>".into()));
        root.attributes
            .insert("http.url".into(), Value::String("https://evil.example/x.png".into()));
        root.resource
            .insert("service.name".into(), Value::String("</title><script>alert(4)</script>".into()));
        root.status = wire::SpanStatus {
            code: wire::StatusCode::Error,
            message: "</SCRIPT ><iframe src=//evil.example>".into(),
        };
        root.events.push(wire::SpanEvent {
            name: "exception".into(),
            time_unix_nano: t0 + 5,
            attributes: Map::new(),
        });
        let child = span(
            TRACE_A,
            "00f067aa0ba902b7",
            "b7ad6b7169203331",
            "charge",
            t0 + 1_000_000,
            10_000_000,
        );
        let fetched = Fetched {
            counts: Counts {
                traces: 1,
                spans: 2,
                logs: 1,
                metrics: 0,
                metric_points: 0,
            },
            services: vec![wire::Service {
                name: "<b>shop</b>".into(),
                spans: 2,
                errors: 1,
                last_seen_unix_nano: t0,
            }],
            traces: vec![FetchedTrace {
                summary: summary(TRACE_A, 2),
                failed_assertion: true,
                spans: Some(vec![root, child]),
                logs: vec![log(TRACE_A, "b7ad6b7169203331", "</script><script>alert(5)</script>", t0 + 2)],
                more_logs: false,
            }],
        };
        let checks = [
            checked("name = \"checkout\"", true, "1 spans match"),
            checked(
                HOSTILE,
                false,
                &format!("expected at least 1 spans matching `{HOSTILE}`\n    near misses: trace {TRACE_A}"),
            ),
        ];
        render(&build(&run_info(1), &checks, fetched, &LIMITS, 1_700_000_000_000))
    }

    #[test]
    fn the_template_has_each_placeholder_once_and_no_network_reference() {
        for placeholder in [DATA_PLACEHOLDER, CSP_PLACEHOLDER, FAVICON_PLACEHOLDER, SCRIPT_OPEN, STYLE_OPEN] {
            assert_eq!(TEMPLATE.matches(placeholder).count(), 1, "{placeholder}");
        }
        for word in [
            "http://",
            "https://",
            "@import",
            "url(",
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!TEMPLATE.contains(word), "the template has {word}");
        }
        assert!(element_text(SCRIPT_OPEN, "</script>").contains("JSON.parse"));
        assert!(element_text(STYLE_OPEN, "</style>").contains("--bg"));
    }

    #[test]
    fn one_file_with_no_network_urls_in_src_or_href() {
        let html = hostile_report();
        assert_eq!(html.matches("<html").count(), 1);
        assert_eq!(html.matches("<script").count(), 2, "the data and the app");
        assert_eq!(html.matches("</script>").count(), 2);
        assert_eq!(html.matches("<style").count(), 1);
        // The data element holds no `<` (so no markup, see the next test); outside it, no attribute
        // may point anywhere: no http(s), no scheme-relative `//host`.
        let open = "<script type=\"application/json\" id=\"report-data\">";
        let start = html.find(open).unwrap() + open.len();
        let end = start + html[start..].find("</script>").unwrap();
        assert!(!html[start..end].contains('<'));
        let outside = format!("{}{}", &html[..start], &html[end..]);
        let url_attr = regex::Regex::new(r#"(?i)\b(?:src|href|action|srcset|poster)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//"#).unwrap();
        assert!(url_attr.find(&outside).is_none(), "{:?}", url_attr.find(&outside));
        assert!(!outside.contains("http://") && !outside.contains("https://"));
        let link_tags = html.matches("<link").count();
        assert_eq!(link_tags, 1, "only the icon");
        assert!(html.contains("href=\"data:image/svg+xml;base64,"));
        for placeholder in [DATA_PLACEHOLDER, CSP_PLACEHOLDER, FAVICON_PLACEHOLDER] {
            assert!(!html.contains(placeholder));
        }
        // The policy names the script and style by hash and allows nothing to load.
        let csp = content_security_policy();
        assert!(html.contains(&csp));
        assert!(csp.starts_with("default-src 'none'; script-src 'sha256-"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        let script = element_text(SCRIPT_OPEN, "</script>");
        assert!(html.contains(script) && csp.contains(&csp_hash(script)));
    }

    #[test]
    fn hostile_telemetry_is_escaped_in_the_json_and_comes_back_whole() {
        let html = hostile_report();
        // Nothing from the data can close the element or open markup.
        assert_eq!(html.to_ascii_lowercase().matches("</script").count(), 2);
        for markup in ["<img", "<svg", "<iframe", "<!--", "<b>", "<script>alert"] {
            assert!(!html.contains(markup), "{markup} is in the page");
        }
        assert!(html.contains(r"\u003c/script\u003e\u003cimg src=x onerror=alert(1)\u003e"));
        let data = embedded(&html);
        let trace = &data["traces"][0];
        assert_eq!(trace["trace_id"], TRACE_A);
        let root = trace["spans"].as_array().unwrap().iter().find(|s| s["parent"] == "").unwrap();
        assert_eq!(root["name"], HOSTILE);
        assert_eq!(root["service"], "\"><svg onload=alert(2)>");
        assert_eq!(root["attributes"]["note"], "<!--<script>alert(3)</script>");
        assert_eq!(root["status"], "error");
        assert_eq!(trace["logs"][0]["body"], "</script><script>alert(5)</script>");
        assert_eq!(
            data["resources"][root["resource"].as_u64().unwrap() as usize]["service.name"],
            "</title><script>alert(4)</script>"
        );
        // Failures first, pointing at their trace; times relative to the trace.
        assert_eq!(data["assertions"][0]["passed"], false);
        assert_eq!(data["assertions"][0]["index"], 2);
        assert_eq!(data["assertions"][0]["name"], HOSTILE);
        assert_eq!(data["assertions"][0]["trace_ids"][0], TRACE_A);
        assert_eq!(data["run"]["outcome"], "command failed");
        assert_eq!(data["run"]["command_line"], "python3 'app under test.py'");
        assert_eq!(root["start"], 0);
        assert_eq!(root["events"][0]["t"], 5);
    }

    #[test]
    fn embedded_json_escapes_every_angle_bracket_and_ampersand() {
        let json = serde_json::to_string(&serde_json::json!({"k": "a</b>&<!--\u{2028}"})).unwrap();
        let embedded = embed_json(&json);
        assert!(!embedded.contains('<') && !embedded.contains('>') && !embedded.contains('&'));
        let back: Value = serde_json::from_str(&embedded).unwrap();
        assert_eq!(back["k"], "a</b>&<!--\u{2028}");
    }

    #[test]
    fn the_span_budget_goes_to_failed_traces_first_then_the_newest() {
        let limits = Limits {
            spans: 10,
            spans_per_trace: 4,
            ..LIMITS
        };
        assert_eq!(plan(&[6, 3, 6, 6, 1], &limits), vec![4, 3, 3, 0, 0]);
        assert_eq!(plan(&[0, 2], &limits), vec![0, 2]);
    }

    #[test]
    fn data_is_capped() {
        let limits = Limits {
            traces: 3,
            failed_traces: 1,
            spans: 7,
            spans_per_trace: 4,
            logs_per_trace: 2,
            attributes_per_span: 2,
            events_per_span: 1,
            links_per_span: 1,
            value_chars: 5,
        };
        let t0 = 1_000;
        let trace = |id: &str, n: i64| {
            let mut spans: Vec<wire::Span> = (0..n)
                .map(|i| {
                    span(
                        id,
                        &format!("{i:016x}"),
                        if i == 0 { "" } else { "0000000000000000" },
                        "step",
                        t0 + i,
                        100 - i,
                    )
                })
                .collect();
            for k in 0..5 {
                spans[0].attributes.insert(format!("k{k}"), Value::String("a long value".into()));
            }
            spans[0].events = (0..3)
                .map(|i| wire::SpanEvent {
                    name: format!("e{i}"),
                    time_unix_nano: t0 + i,
                    attributes: Map::new(),
                })
                .collect();
            FetchedTrace {
                summary: summary(id, n),
                failed_assertion: false,
                spans: Some(spans),
                logs: (0..5).map(|i| log(id, "", &format!("log {i}"), t0 + i)).collect(),
                more_logs: false,
            }
        };
        let fetched = Fetched {
            counts: Counts {
                traces: 10,
                spans: 100,
                ..Counts::default()
            },
            services: Vec::new(),
            traces: vec![trace(TRACE_A, 6), trace(TRACE_B, 6)],
        };
        let data = build(&run_info(0), &[], fetched, &limits, 0);
        let a = &data.traces[0];
        assert_eq!((a.spans.len(), a.spans_omitted), (4, 2));
        // The longest four: the first four (durations 100, 99, 98, 97).
        assert!(a.spans.iter().all(|s| s.duration >= 97));
        let root = a.spans.iter().find(|s| s.parent.is_empty()).unwrap();
        assert_eq!((root.attributes.len(), root.attributes_omitted), (2, 3));
        assert_eq!(root.attributes["k0"], "a lon… [cut at 5 of 12 characters]");
        assert_eq!((root.events.len(), root.events_omitted), (1, 2));
        assert_eq!(a.logs.len(), 2);
        assert!(a.logs_omitted);
        assert_eq!(a.logs[0].body, "log 3", "the newest, oldest first");
        // Three spans left of the budget of seven.
        let b = &data.traces[1];
        assert_eq!((b.spans.len(), b.spans_omitted, b.embedded), (3, 3, true));
        assert_eq!((data.omitted.traces, data.omitted.spans), (8, 93));
        assert_eq!(data.run.outcome, "passed");
        // A trace over budget is listed without spans or logs.
        let fetched = Fetched {
            traces: vec![trace(TRACE_A, 4), trace(TRACE_B, 4)],
            ..Fetched::default()
        };
        let data = build(&run_info(0), &[], fetched, &Limits { spans: 4, ..limits }, 0);
        assert!(data.traces[0].embedded && !data.traces[1].embedded);
        assert!(data.traces[1].spans.is_empty() && data.traces[1].logs.is_empty());
        let html = render(&data);
        assert!(html.len() < 60_000, "{}", html.len());
    }

    #[test]
    fn trace_ids_are_read_from_messages() {
        let text = format!(
            "trace {TRACE_A}; e.g. x (svc) in trace {TRACE_B}, again {TRACE_A}, not 00000000000000000000000000000000 or {TRACE_A}ff"
        );
        assert_eq!(trace_ids_in(&text), vec![TRACE_A.to_string(), TRACE_B.to_string()]);
        let checks = [checked("ok", true, TRACE_B), checked("bad", false, &text)];
        assert_eq!(failed_trace_ids(&checks, 1), vec![TRACE_A.to_string()]);
    }
}
