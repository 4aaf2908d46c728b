//! `otelbox gen`: send realistic agent telemetry to an OTLP endpoint, as a demo or as load.
//!
//! Where it sends comes from the flags, else from the variables an OpenTelemetry SDK reads (the ones
//! `otelbox up` prints): `OTEL_EXPORTER_OTLP_ENDPOINT` and `OTEL_EXPORTER_OTLP_PROTOCOL` (and their
//! per-signal forms), `OTEL_EXPORTER_OTLP_HEADERS` (an ingest token) and
//! `OTEL_EXPORTER_OTLP_CERTIFICATE` (the CA of an https:// box), with the client certificate and key
//! variables for mTLS. With `--count` it sends exactly that many items.

use crate::gen::{keep_points, now_ns, Generator};
use crate::pdata::SignalData;
use crate::tls::ClientTlsSettings;
use clap::{Args, ValueEnum};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenSignal {
    Traces,
    Logs,
    Metrics,
}

impl GenSignal {
    /// As in the per-signal variables: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    fn env_name(self) -> &'static str {
        match self {
            GenSignal::Traces => "TRACES",
            GenSignal::Logs => "LOGS",
            GenSignal::Metrics => "METRICS",
        }
    }

    fn path(self) -> &'static str {
        match self {
            GenSignal::Traces => "/v1/traces",
            GenSignal::Logs => "/v1/logs",
            GenSignal::Metrics => "/v1/metrics",
        }
    }

    /// What `--count` counts.
    fn items(self) -> &'static str {
        match self {
            GenSignal::Traces => "spans",
            GenSignal::Logs => "log records",
            GenSignal::Metrics => "metric points",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    #[value(name = "http/json")]
    HttpJson,
    #[value(name = "grpc")]
    Grpc,
}

impl Protocol {
    /// The value of `OTEL_EXPORTER_OTLP_PROTOCOL`.
    fn parse(text: &str) -> Option<Protocol> {
        match text.trim() {
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            "http/json" => Some(Protocol::HttpJson),
            "grpc" => Some(Protocol::Grpc),
            _ => None,
        }
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox gen traces --count 1000\n  otelbox gen logs --rate 200 --duration 30s\n  otelbox gen metrics --duration 30s --rate 20   # a scrape of 20 points a second\n  otelbox gen traces --rate 0 --count 1000000 --concurrency 4   # as fast as possible (load)\n  otelbox run --assert 'name =~ \"^execute_tool \"' -- otelbox gen traces --count 200\n\nWithout --endpoint and --protocol, gen reads OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL\n(and their _TRACES_/_LOGS_/_METRICS_ forms) as an SDK does, else it sends to http://127.0.0.1:4318\n(gRPC: 4317). It always sends OTEL_EXPORTER_OTLP_HEADERS, and trusts OTEL_EXPORTER_OTLP_CERTIFICATE\n(with OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY for mTLS) for an https:// endpoint.\n\nData: LLM-agent runs of agent-api calling tools-svc (9 to 29 spans each); `gen logs` sends the log\nrecords of such runs, each inside the span it names, and the spans of those runs too (they are not\ncounted); `gen metrics` sends 20 points a scrape: counters, an up-down counter, gauges and two histograms."
)]
pub struct GenArgs {
    /// What to send
    #[arg(value_enum)]
    pub signal: GenSignal,
    /// OTLP endpoint: the HTTP base URL (…:4318) or, with --protocol grpc, the gRPC one (…:4317)
    /// [default: OTEL_EXPORTER_OTLP_ENDPOINT, else http://127.0.0.1:4318, or :4317 for grpc]
    #[arg(long)]
    pub endpoint: Option<String>,
    /// OTLP protocol [default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf]
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// Exactly this many items (spans, log records or metric points); 0 = until --duration ends
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// Items per second across all connections; 0 = as fast as the box accepts
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Stop after this long (e.g. 30s, 5m); default: until --count is reached, or 10s
    #[arg(long, value_parser = crate::units::parse_duration)]
    pub duration: Option<Duration>,
    /// Items per export request (spans or log records; a metrics request is one scrape)
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Concurrent connections
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Seed for the generator (same seed, same data)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the summary as JSON (for scripts/bench)
    #[arg(long)]
    pub json: bool,
    /// Make (and encode) every request before sending, so that the sending phase, which the
    /// summary times, costs the machine little CPU besides the box's own (load tests; needs --count)
    #[arg(long)]
    pub prepare: bool,
}

/// Where and how to send: the flags, else the OTLP exporter variables.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub protocol: Protocol,
    /// Per signal (traces, logs, metrics): the URL an HTTP request goes to, or the gRPC endpoint.
    pub traces: String,
    pub logs: String,
    pub metrics: String,
    /// Sent with every request (`OTEL_EXPORTER_OTLP_HEADERS`, e.g. `Authorization=Bearer ...`).
    pub headers: Vec<(String, String)>,
    /// For https:// endpoints: the CA to trust, and a client certificate.
    pub tls: ClientTlsSettings,
}

impl Target {
    fn url(&self, signal: GenSignal) -> &str {
        match signal {
            GenSignal::Traces => &self.traces,
            GenSignal::Logs => &self.logs,
            GenSignal::Metrics => &self.metrics,
        }
    }
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs separated by commas, values percent-encoded.
fn parse_headers(text: &str, variable: &str) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        // Never the value in a message: it is usually a credential.
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{variable}: expected key=value pairs separated by commas"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("{variable}: a header without a name"));
        }
        headers.push((
            key.to_ascii_lowercase(),
            percent_encoding::percent_decode_str(value.trim()).decode_utf8_lossy().into_owned(),
        ));
    }
    Ok(headers)
}

/// The flags, else the SDK variables `env` finds, else the defaults: flags win, one setting at a time.
/// The protocol and the security settings are the sent signal's (`gen logs` sends its runs' spans
/// the same way).
pub fn resolve_target(
    signal: GenSignal,
    endpoint: Option<&str>,
    protocol: Option<Protocol>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, String> {
    let var = |name: &str| env(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    // The per-signal variable first, then the general one.
    let either = |suffix: &str| {
        let specific = format!("OTEL_EXPORTER_OTLP_{}_{suffix}", signal.env_name());
        let general = format!("OTEL_EXPORTER_OTLP_{suffix}");
        var(&specific)
            .map(|v| (specific, v))
            .or_else(|| var(&general).map(|v| (general, v)))
    };
    let protocol = match protocol {
        Some(p) => p,
        None => match either("PROTOCOL") {
            Some((name, value)) => {
                Protocol::parse(&value).ok_or_else(|| format!("{name}={value}: expected grpc, http/protobuf or http/json"))?
            }
            None => Protocol::HttpProtobuf,
        },
    };
    let grpc = protocol == Protocol::Grpc;
    let default_base = if grpc { "http://127.0.0.1:4317" } else { "http://127.0.0.1:4318" };
    let general = endpoint
        .map(str::to_string)
        .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
        .unwrap_or_else(|| default_base.to_string());
    let for_signal = |s: GenSignal| {
        // A per-signal endpoint is used as it is (an HTTP one is the whole URL), as SDKs do; the
        // general one is a base URL that HTTP extends with the signal's path.
        let specific = endpoint
            .is_none()
            .then(|| var(&format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", s.env_name())))
            .flatten();
        match specific {
            Some(url) => url,
            None if grpc => general.clone(),
            None => format!("{}{}", general.trim_end_matches('/'), s.path()),
        }
    };
    let mut headers = Vec::new();
    for name in [
        "OTEL_EXPORTER_OTLP_HEADERS".to_string(),
        format!("OTEL_EXPORTER_OTLP_{}_HEADERS", signal.env_name()),
    ] {
        if let Some(text) = var(&name) {
            for (key, value) in parse_headers(&text, &name)? {
                // The per-signal variable's value of a header replaces the general one's.
                headers.retain(|(k, _): &(String, String)| *k != key);
                headers.push((key, value));
            }
        }
    }
    let client_cert = either("CLIENT_CERTIFICATE");
    let client_key = either("CLIENT_KEY");
    let client_cert = match (client_cert, client_key) {
        (Some((_, cert)), Some((_, key))) => Some((PathBuf::from(cert), PathBuf::from(key))),
        (None, None) => None,
        (Some((name, _)), None) | (None, Some((name, _))) => {
            return Err(format!(
                "{name} is set without its pair: mTLS needs both OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY"
            ))
        }
    };
    Ok(Target {
        protocol,
        traces: for_signal(GenSignal::Traces),
        logs: for_signal(GenSignal::Logs),
        metrics: for_signal(GenSignal::Metrics),
        headers,
        tls: ClientTlsSettings {
            ca_file: either("CERTIFICATE").map(|(_, file)| PathBuf::from(file)),
            client_cert,
            ..Default::default()
        },
    })
}

#[derive(Default)]
struct Totals {
    items: AtomicU64,
    /// `gen logs`: the spans of the runs the log records belong to.
    extra_spans: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
    bytes: AtomicU64,
}

pub fn run(args: GenArgs) -> anyhow::Result<i32> {
    let target = match resolve_target(args.signal, args.endpoint.as_deref(), args.protocol, &|name: &str| {
        std::env::var(name).ok()
    }) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("otelbox gen: {e}");
            return Ok(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_async(args, target))
}

/// The generator seed of a worker: `gen logs` draws other runs than `gen traces` with the same
/// seed, since it sends their spans too (a span already stored keeps its first copy, so runs shared
/// with `gen traces` would leave the log records outside their spans' times).
fn worker_seed(seed: u64, worker: usize, signal: GenSignal) -> u64 {
    let base = seed.wrapping_mul(1000).wrapping_add(worker as u64);
    match signal {
        GenSignal::Logs => base ^ 0x6c6f_6773_0000_0000,
        _ => base,
    }
}

async fn run_async(args: GenArgs, target: Target) -> anyhow::Result<i32> {
    let duration = args.duration.or(if args.count == 0 { Some(Duration::from_secs(10)) } else { None });
    if args.prepare && args.count == 0 {
        anyhow::bail!("--prepare needs --count: it makes every request before sending");
    }
    let (urls, senders) = match Urls::of(&target) {
        Ok(urls) => match Senders::new(&target, args.signal) {
            Ok(senders) => (urls, Arc::new(senders)),
            Err(e) => {
                eprintln!("otelbox gen: {e:#}");
                return Ok(2);
            }
        },
        Err(e) => {
            eprintln!("otelbox gen: {e:#}");
            return Ok(2);
        }
    };
    let totals = Arc::new(Totals::default());
    let metric_start = now_ns();
    let workers_n = args.concurrency.max(1);
    let mut makers: Vec<RequestMaker> = (0..workers_n)
        .map(|worker| RequestMaker {
            generator: Generator::new(worker_seed(args.seed, worker, args.signal)),
            signal: args.signal,
            protocol: target.protocol,
            batch: args.batch.max(1),
            metric_start,
            tick: 0,
            // --count shared out exactly: the first workers take one more of what does not divide.
            left: (args.count > 0).then(|| args.count / workers_n as u64 + u64::from((worker as u64) < args.count % workers_n as u64)),
            pending_spans: ExportTraceServiceRequest::default(),
            pending_logs: ExportLogsServiceRequest::default(),
            urls: urls.clone(),
        })
        .collect();
    let mut queues: Vec<Option<std::collections::VecDeque<Vec<Outgoing>>>> = (0..workers_n).map(|_| None).collect();
    if args.prepare {
        for (maker, queue) in makers.iter_mut().zip(&mut queues) {
            let mut prepared = std::collections::VecDeque::new();
            while let Some(requests) = maker.next() {
                prepared.push_back(requests);
            }
            *queue = Some(prepared);
        }
    }
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);
    let args = Arc::new(args);
    let mut workers = Vec::new();
    for (maker, queue) in makers.into_iter().zip(queues) {
        let (args, totals, senders) = (args.clone(), totals.clone(), senders.clone());
        workers.push(tokio::spawn(async move {
            send_loop(maker, queue, &args, &senders, &totals, deadline, started).await
        }));
    }
    let mut first_error = None;
    for w in workers {
        if let Ok(Err(e)) = w.await {
            first_error.get_or_insert(e);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let items = totals.items.load(Ordering::Relaxed);
    let failures = totals.failures.load(Ordering::Relaxed);
    let extra_spans = totals.extra_spans.load(Ordering::Relaxed);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "signal": format!("{:?}", args.signal).to_lowercase(), "items": items, "extra_spans": extra_spans,
                "requests": totals.requests.load(Ordering::Relaxed),
                "retries": totals.retries.load(Ordering::Relaxed), "failures": failures, "bytes": totals.bytes.load(Ordering::Relaxed),
                "elapsed_s": elapsed, "items_per_s": items as f64 / elapsed.max(1e-9),
            })
        );
    } else {
        let with = if extra_spans > 0 {
            format!(" (with the {extra_spans} spans of their runs)")
        } else {
            String::new()
        };
        println!(
            "sent {items} {}{with} in {} requests to {} over {elapsed:.2}s ({:.0}/s); {} retried, {failures} failed",
            args.signal.items(),
            totals.requests.load(Ordering::Relaxed),
            target.url(args.signal),
            items as f64 / elapsed.max(1e-9),
            totals.retries.load(Ordering::Relaxed)
        );
    }
    if let Some(e) = first_error {
        eprintln!("otelbox gen: {e:#}");
        return Ok(2);
    }
    Ok(if failures > 0 { 1 } else { 0 })
}

enum Body {
    Proto(Vec<u8>),
    Json(Vec<u8>),
}

/// One export request, generated and encoded, ready to send (and to send again on a retry).
enum Request {
    Http {
        url: reqwest::Url,
        body: Body,
    },
    /// A protobuf export request for the signal's service; encoded once, when it is made, as an
    /// SDK's exporter encodes a batch once however often it retries it.
    Grpc {
        signal: GenSignal,
        body: bytes::Bytes,
    },
}

/// A request and what it carries: `items` of the signal asked for, and, for `gen logs`, the spans
/// of their runs (`extra_spans`, not counted by --count or --rate).
struct Outgoing {
    request: Request,
    items: u64,
    extra_spans: u64,
}

/// The HTTP URL of each signal (unused over gRPC).
#[derive(Clone)]
struct Urls {
    traces: Option<reqwest::Url>,
    logs: Option<reqwest::Url>,
    metrics: Option<reqwest::Url>,
}

impl Urls {
    fn of(target: &Target) -> anyhow::Result<Urls> {
        if target.protocol == Protocol::Grpc {
            return Ok(Urls {
                traces: None,
                logs: None,
                metrics: None,
            });
        }
        let parse = |text: &str| reqwest::Url::parse(text).map_err(|e| anyhow::anyhow!("the OTLP endpoint {text} is not a URL: {e}"));
        Ok(Urls {
            traces: Some(parse(&target.traces)?),
            logs: Some(parse(&target.logs)?),
            metrics: Some(parse(&target.metrics)?),
        })
    }
}

/// Makes the requests of one worker.
struct RequestMaker {
    generator: Generator,
    signal: GenSignal,
    protocol: Protocol,
    batch: usize,
    metric_start: u64,
    tick: u64,
    /// The items this worker still has to send (with --count), else None (until --duration ends).
    left: Option<u64>,
    /// With --count, runs are cut so that every request holds exactly its items: the rest of the
    /// run in progress waits here for the next request.
    pending_spans: ExportTraceServiceRequest,
    pending_logs: ExportLogsServiceRequest,
    urls: Urls,
}

impl RequestMaker {
    /// The next requests (for `gen logs`, the spans of the runs first), or None when this worker has
    /// sent its share of --count.
    fn next(&mut self) -> Option<Vec<Outgoing>> {
        let want = match self.left {
            Some(0) => return None,
            Some(left) => left.min(self.batch as u64) as usize,
            None => self.batch,
        };
        let out = match self.signal {
            GenSignal::Traces => {
                let spans = self.spans(want);
                let items = spans.item_count() as u64;
                vec![Outgoing {
                    request: self.traces_request(spans),
                    items,
                    extra_spans: 0,
                }]
            }
            GenSignal::Logs => {
                let (logs, spans) = self.logs(want);
                let mut out = Vec::new();
                if spans.item_count() > 0 {
                    let extra_spans = spans.item_count() as u64;
                    out.push(Outgoing {
                        request: self.traces_request(spans),
                        items: 0,
                        extra_spans,
                    });
                }
                let items = logs.item_count() as u64;
                out.push(Outgoing {
                    request: self.logs_request(logs),
                    items,
                    extra_spans: 0,
                });
                out
            }
            GenSignal::Metrics => {
                // One scrape per request, its points cut to what is left of --count.
                let mut scrape = self.generator.metrics_request(self.metric_start, self.tick);
                self.tick += 1;
                if let Some(left) = self.left {
                    keep_points(&mut scrape, left as usize);
                }
                let items = scrape.item_count() as u64;
                vec![Outgoing {
                    request: self.metrics_request(scrape),
                    items,
                    extra_spans: 0,
                }]
            }
        };
        if let Some(left) = &mut self.left {
            *left -= out.iter().map(|o| o.items).sum::<u64>().min(*left);
        }
        Some(out)
    }

    /// What is left of the run in progress when --duration ends before --count: sent, so that no
    /// trace stays incomplete.
    fn flush(&mut self) -> Option<Vec<Outgoing>> {
        let spans = std::mem::take(&mut self.pending_spans);
        let logs = std::mem::take(&mut self.pending_logs);
        let mut out = Vec::new();
        if spans.item_count() > 0 {
            let items = spans.item_count() as u64;
            out.push(Outgoing {
                request: self.traces_request(spans),
                items,
                extra_spans: 0,
            });
        }
        if logs.item_count() > 0 {
            let items = logs.item_count() as u64;
            out.push(Outgoing {
                request: self.logs_request(logs),
                items,
                extra_spans: 0,
            });
        }
        (!out.is_empty()).then_some(out)
    }

    /// `want` spans of agent runs, in order. Without --count, whole runs (a request may hold a few
    /// more); with it exactly `want`, a run that does not fit going on in the next request, and the
    /// last run of this worker cut to what is left (`Run::keep_spans`), so every trace is complete.
    fn spans(&mut self, want: usize) -> ExportTraceServiceRequest {
        let mut out = ExportTraceServiceRequest::default();
        loop {
            let have = out.item_count();
            if have >= want {
                return out;
            }
            if self.pending_spans.item_count() == 0 {
                let mut run = self.generator.agent_run(now_ns());
                if let Some(left) = self.left {
                    run.keep_spans(left as usize - have);
                }
                self.pending_spans = run.traces;
            }
            if self.left.is_some() {
                SignalData::merge(&mut out, self.pending_spans.split_off_items(want - have));
            } else {
                SignalData::merge(&mut out, std::mem::take(&mut self.pending_spans));
            }
        }
    }

    /// `want` log records of agent runs, and the spans of the runs they start (see `spans`).
    fn logs(&mut self, want: usize) -> (ExportLogsServiceRequest, ExportTraceServiceRequest) {
        let mut out = ExportLogsServiceRequest::default();
        let mut spans = ExportTraceServiceRequest::default();
        loop {
            let have = out.item_count();
            if have >= want {
                return (out, spans);
            }
            if self.pending_logs.item_count() == 0 {
                let mut run = self.generator.agent_run(now_ns());
                if let Some(left) = self.left {
                    run.keep_logs(left as usize - have);
                }
                self.pending_logs = run.logs;
                SignalData::merge(&mut spans, run.traces);
            }
            if self.left.is_some() {
                SignalData::merge(&mut out, self.pending_logs.split_off_items(want - have));
            } else {
                SignalData::merge(&mut out, std::mem::take(&mut self.pending_logs));
            }
        }
    }

    fn http(&self, url: Option<&reqwest::Url>, proto: impl FnOnce() -> Vec<u8>, json: impl FnOnce() -> serde_json::Value) -> Request {
        let url = url.cloned().expect("HTTP URLs are set for the HTTP protocols");
        let body = if self.protocol == Protocol::HttpJson {
            Body::Json(json().to_string().into_bytes())
        } else {
            Body::Proto(proto())
        };
        Request::Http { url, body }
    }

    fn traces_request(&self, r: ExportTraceServiceRequest) -> Request {
        if self.protocol == Protocol::Grpc {
            return Request::Grpc {
                signal: GenSignal::Traces,
                body: r.encode_to_vec().into(),
            };
        }
        self.http(
            self.urls.traces.as_ref(),
            || r.encode_to_vec(),
            || crate::pdata::json::encode_traces(&r),
        )
    }

    fn logs_request(&self, r: ExportLogsServiceRequest) -> Request {
        if self.protocol == Protocol::Grpc {
            return Request::Grpc {
                signal: GenSignal::Logs,
                body: r.encode_to_vec().into(),
            };
        }
        self.http(
            self.urls.logs.as_ref(),
            || r.encode_to_vec(),
            || crate::pdata::json::encode_logs(&r),
        )
    }

    fn metrics_request(&self, r: ExportMetricsServiceRequest) -> Request {
        if self.protocol == Protocol::Grpc {
            return Request::Grpc {
                signal: GenSignal::Metrics,
                body: r.encode_to_vec().into(),
            };
        }
        self.http(
            self.urls.metrics.as_ref(),
            || r.encode_to_vec(),
            || crate::pdata::json::encode_metrics(&r),
        )
    }
}

/// What every request carries and where it goes: the headers (as HTTP headers and as gRPC
/// metadata), checked once at the start.
struct Senders {
    target: Target,
    signal: GenSignal,
    headers: http::HeaderMap,
    metadata: MetadataMap,
}

impl Senders {
    fn new(target: &Target, signal: GenSignal) -> anyhow::Result<Senders> {
        let mut headers = http::HeaderMap::new();
        let mut metadata = MetadataMap::new();
        for (key, value) in &target.headers {
            // Never the value in an error: it is usually a credential.
            let name = http::HeaderName::from_bytes(key.as_bytes()).map_err(|_| anyhow::anyhow!("header {key}: not a valid name"))?;
            let mut header = http::HeaderValue::from_str(value).map_err(|_| anyhow::anyhow!("header {key}: its value is not valid"))?;
            header.set_sensitive(true);
            headers.append(name, header);
            if target.protocol == Protocol::Grpc {
                let key_meta = tonic::metadata::MetadataKey::<tonic::metadata::Ascii>::from_bytes(key.as_bytes())
                    .map_err(|_| anyhow::anyhow!("header {key}: not a valid gRPC metadata name"))?;
                let mut value_meta = tonic::metadata::AsciiMetadataValue::try_from(value.as_str())
                    .map_err(|_| anyhow::anyhow!("header {key}: its value is not valid gRPC metadata (visible ASCII only)"))?;
                value_meta.set_sensitive(true);
                metadata.append(key_meta, value_meta);
            }
        }
        Ok(Senders {
            target: target.clone(),
            signal,
            headers,
            metadata,
        })
    }
}

/// One worker's connections (each worker has its own, as separate SDK processes would): the HTTP
/// client (plain, or TLS for https://), or gRPC clients of the signals it sends.
struct Connections {
    http: Option<crate::net::HttpClient>,
    traces: Option<GrpcClient>,
    logs: Option<GrpcClient>,
    metrics: Option<GrpcClient>,
}

type GrpcClient = tonic::client::Grpc<Channel>;

impl Connections {
    async fn open(senders: &Senders) -> anyhow::Result<Connections> {
        let target = &senders.target;
        let mut connections = Connections {
            http: None,
            traces: None,
            logs: None,
            metrics: None,
        };
        if target.protocol != Protocol::Grpc {
            let https = [&target.traces, &target.logs, &target.metrics]
                .iter()
                .any(|u| u.starts_with("https://"));
            connections.http = Some(crate::net::HttpClient::new(&target.tls, https, Duration::from_secs(10))?);
            return Ok(connections);
        }
        let signal = senders.signal;
        let needs = |s: GenSignal| signal == s || (signal == GenSignal::Logs && s == GenSignal::Traces);
        if needs(GenSignal::Traces) {
            connections.traces = Some(tonic::client::Grpc::new(grpc_channel(&target.traces, &target.tls).await?));
        }
        if needs(GenSignal::Logs) {
            connections.logs = Some(tonic::client::Grpc::new(grpc_channel(&target.logs, &target.tls).await?));
        }
        if needs(GenSignal::Metrics) {
            connections.metrics = Some(tonic::client::Grpc::new(grpc_channel(&target.metrics, &target.tls).await?));
        }
        Ok(connections)
    }

    /// The gRPC client of a signal's service, and the path of its Export method.
    fn grpc(&mut self, signal: GenSignal) -> Option<(&mut GrpcClient, &'static str)> {
        match signal {
            GenSignal::Traces => self
                .traces
                .as_mut()
                .map(|c| (c, "/opentelemetry.proto.collector.trace.v1.TraceService/Export")),
            GenSignal::Logs => self
                .logs
                .as_mut()
                .map(|c| (c, "/opentelemetry.proto.collector.logs.v1.LogsService/Export")),
            GenSignal::Metrics => self
                .metrics
                .as_mut()
                .map(|c| (c, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")),
        }
    }
}

/// A connected gRPC channel; over TLS for an https:// endpoint.
async fn grpc_channel(endpoint: &str, tls: &ClientTlsSettings) -> anyhow::Result<Channel> {
    let mut builder = Channel::from_shared(endpoint.to_string()).map_err(|e| anyhow::anyhow!("invalid endpoint {endpoint}: {e}"))?;
    if endpoint.starts_with("https://") {
        let read = |path: &std::path::Path, what: &str| {
            std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read the {what} {}: {e}", path.display()))
        };
        let ca = match &tls.ca_file {
            Some(file) => read(file, "OTEL_EXPORTER_OTLP_CERTIFICATE")?,
            None => match crate::tls::system_ca_bundle() {
                Some(bundle) => read(bundle, "system CA bundle")?,
                None => anyhow::bail!("an https:// endpoint needs a CA to trust: set OTEL_EXPORTER_OTLP_CERTIFICATE"),
            },
        };
        let mut config = tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(ca));
        if let Some((cert, key)) = &tls.client_cert {
            config = config.identity(tonic::transport::Identity::from_pem(
                read(cert, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE")?,
                read(key, "OTEL_EXPORTER_OTLP_CLIENT_KEY")?,
            ));
        }
        builder = builder.tls_config(config).map_err(|e| anyhow::anyhow!("TLS setup failed: {e}"))?;
    }
    builder
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach {endpoint}: {e}; is otelbox up?"))
}

async fn send_loop(
    mut maker: RequestMaker,
    mut prepared: Option<std::collections::VecDeque<Vec<Outgoing>>>,
    args: &GenArgs,
    senders: &Senders,
    totals: &Totals,
    deadline: Option<Instant>,
    started: Instant,
) -> anyhow::Result<()> {
    let per_worker_rate = if args.rate > 0.0 {
        Some(args.rate / args.concurrency.max(1) as f64)
    } else {
        None
    };
    let mut connections = Connections::open(senders).await?;
    let mut sent_here = 0u64;
    loop {
        let requests = if deadline.is_some_and(|d| Instant::now() >= d) {
            match maker.flush() {
                Some(rest) => rest,
                None => return Ok(()),
            }
        } else {
            let next = match prepared.as_mut() {
                Some(queue) => queue.pop_front(),
                None => maker.next(),
            };
            match next {
                Some(requests) => requests,
                None => return Ok(()),
            }
        };
        for outgoing in requests {
            let Outgoing {
                request,
                items,
                extra_spans,
            } = outgoing;
            match request {
                Request::Http { url, body } => {
                    send_http(connections.http.as_ref(), &senders.headers, &url, body, totals, items, extra_spans).await?
                }
                Request::Grpc { signal, body } => {
                    send_grpc(connections.grpc(signal), body, &senders.metadata, totals, items, extra_spans).await?
                }
            }
            sent_here += items;
        }
        pace(per_worker_rate, sent_here, started).await;
    }
}

/// Sleep so that this worker's items stay at or below its share of --rate.
async fn pace(rate: Option<f64>, sent: u64, started: Instant) {
    if let Some(rate) = rate {
        let due = Duration::from_secs_f64(sent as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
}

/// How long one attempt may take to be answered.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// POST with retries on the retryable answers (429/502/503/504), honouring Retry-After.
async fn send_http(
    client: Option<&crate::net::HttpClient>,
    headers: &http::HeaderMap,
    url: &reqwest::Url,
    body: Body,
    totals: &Totals,
    items: u64,
    extra_spans: u64,
) -> anyhow::Result<()> {
    let client = client.ok_or_else(|| anyhow::anyhow!("no HTTP client"))?;
    let (content_type, bytes) = match body {
        Body::Proto(b) => ("application/x-protobuf", b),
        Body::Json(b) => ("application/json", b),
    };
    let size = bytes.len() as u64;
    let bytes = bytes::Bytes::from(bytes);
    let mut headers = headers.clone();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    for attempt in 0..20u64 {
        totals.requests.fetch_add(1, Ordering::Relaxed);
        let answer = match tokio::time::timeout(ATTEMPT_TIMEOUT, client.post(url, &headers, bytes.clone(), 4096)).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer in {} s", ATTEMPT_TIMEOUT.as_secs())),
        };
        match answer {
            Ok(a) if (200..300).contains(&a.status) => {
                totals.items.fetch_add(items, Ordering::Relaxed);
                totals.extra_spans.fetch_add(extra_spans, Ordering::Relaxed);
                totals.bytes.fetch_add(size, Ordering::Relaxed);
                return Ok(());
            }
            Ok(a) if [429, 502, 503, 504].contains(&a.status) => {
                totals.retries.fetch_add(1, Ordering::Relaxed);
                let wait = a
                    .headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_millis((wait * 1000).min(5000) + 50 * attempt)).await;
            }
            Ok(a) => {
                totals.failures.fetch_add(1, Ordering::Relaxed);
                let text = String::from_utf8_lossy(&a.body);
                let hint = if a.status == 401 {
                    " (an ingest token is required: export OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer <token>\")"
                } else {
                    ""
                };
                anyhow::bail!("{url} answered {}: {}{hint}", a.status, text.chars().take(300).collect::<String>());
            }
            Err(e) if attempt < 3 => {
                totals.retries.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, "send failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                totals.failures.fetch_add(1, Ordering::Relaxed);
                anyhow::bail!("cannot reach {url}: {e}; is otelbox up?");
            }
        }
    }
    totals.failures.fetch_add(1, Ordering::Relaxed);
    anyhow::bail!("{url} kept refusing (retryable) after 20 attempts")
}

async fn send_grpc(
    client: Option<(&mut GrpcClient, &'static str)>,
    body: bytes::Bytes,
    metadata: &MetadataMap,
    totals: &Totals,
    items: u64,
    extra_spans: u64,
) -> anyhow::Result<()> {
    let (client, path) = client.ok_or_else(|| anyhow::anyhow!("no gRPC client"))?;
    let path = http::uri::PathAndQuery::from_static(path);
    for attempt in 0..20u64 {
        totals.requests.fetch_add(1, Ordering::Relaxed);
        let mut call = tonic::Request::new(body.clone());
        *call.metadata_mut() = metadata.clone();
        client
            .ready()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the gRPC endpoint: {e}; is otelbox up?"))?;
        match client.unary(call, path.clone(), EncodedCodec).await {
            Ok(_) => {
                totals.items.fetch_add(items, Ordering::Relaxed);
                totals.extra_spans.fetch_add(extra_spans, Ordering::Relaxed);
                totals.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                return Ok(());
            }
            Err(status) if status.code() == tonic::Code::Unavailable || status.code() == tonic::Code::ResourceExhausted => {
                totals.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1000 + 50 * attempt)).await;
            }
            Err(status) => {
                totals.failures.fetch_add(1, Ordering::Relaxed);
                anyhow::bail!("export refused: {} {}", status.code(), status.message());
            }
        }
    }
    totals.failures.fetch_add(1, Ordering::Relaxed);
    anyhow::bail!("export kept being refused (retryable) after 20 attempts")
}

/// gRPC's codec for bodies already encoded as protobuf. The answer's body is skipped: an export
/// response carries only an optional partial-success note, which `gen` does not report.
#[derive(Clone, Copy)]
struct EncodedCodec;

impl tonic::codec::Codec for EncodedCodec {
    type Encode = bytes::Bytes;
    type Decode = ();
    type Encoder = EncodedCodec;
    type Decoder = EncodedCodec;

    fn encoder(&mut self) -> EncodedCodec {
        EncodedCodec
    }
    fn decoder(&mut self) -> EncodedCodec {
        EncodedCodec
    }
}

impl tonic::codec::Encoder for EncodedCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, body: bytes::Bytes, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut as _;
        dst.put_slice(&body);
        Ok(())
    }
}

impl tonic::codec::Decoder for EncodedCodec {
    type Item = ();
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<()>, tonic::Status> {
        use bytes::Buf as _;
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name: &str| vars.get(name).cloned()
    }

    #[test]
    fn the_sdk_variables_are_defaults_and_flags_win() {
        let none = resolve_target(GenSignal::Traces, None, None, &env(&[])).unwrap();
        assert_eq!(none.protocol, Protocol::HttpProtobuf);
        assert_eq!(none.traces, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(none.logs, "http://127.0.0.1:4318/v1/logs");
        let grpc = resolve_target(GenSignal::Traces, None, Some(Protocol::Grpc), &env(&[])).unwrap();
        assert_eq!(grpc.traces, "http://127.0.0.1:4317", "gRPC's own default port");

        let vars = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://box:14318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://metrics:9000/custom/path"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20s3cret, x-team=agents"),
            ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-team=logs"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
        ]);
        let from_env = resolve_target(GenSignal::Logs, None, None, &vars).unwrap();
        assert_eq!(from_env.protocol, Protocol::HttpJson);
        assert_eq!(from_env.traces, "http://box:14318/v1/traces");
        assert_eq!(from_env.logs, "http://box:14318/v1/logs");
        assert_eq!(
            from_env.metrics, "http://metrics:9000/custom/path",
            "a per-signal endpoint is the whole URL"
        );
        assert_eq!(
            from_env.headers,
            vec![
                ("authorization".to_string(), "Bearer s3cret".to_string()),
                ("x-team".to_string(), "logs".to_string())
            ]
        );
        assert_eq!(from_env.tls.ca_file, Some(PathBuf::from("/etc/ca.pem")));

        let flags = resolve_target(GenSignal::Logs, Some("http://other:4318"), Some(Protocol::HttpProtobuf), &vars).unwrap();
        assert_eq!(flags.protocol, Protocol::HttpProtobuf);
        assert_eq!(flags.logs, "http://other:4318/v1/logs");
        assert_eq!(flags.metrics, "http://other:4318/v1/metrics", "--endpoint wins over every variable");
        assert_eq!(flags.headers.len(), 2, "headers still come from the environment");

        let bad = resolve_target(GenSignal::Traces, None, None, &env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")]));
        assert!(bad.unwrap_err().contains("OTEL_EXPORTER_OTLP_PROTOCOL=thrift"));
        let half = resolve_target(GenSignal::Traces, None, None, &env(&[("OTEL_EXPORTER_OTLP_CLIENT_KEY", "k.pem")]));
        assert!(half.unwrap_err().contains("OTEL_EXPORTER_OTLP_CLIENT_KEY is set without its pair"));
        let secret = resolve_target(
            GenSignal::Traces,
            None,
            None,
            &env(&[("OTEL_EXPORTER_OTLP_HEADERS", "novalue-s3cret")]),
        );
        assert!(!secret.unwrap_err().contains("s3cret"), "a header value is never shown");
    }

    fn maker(signal: GenSignal, count: u64, batch: usize) -> RequestMaker {
        RequestMaker {
            generator: Generator::new(worker_seed(1, 0, signal)),
            signal,
            protocol: Protocol::Grpc,
            batch,
            metric_start: now_ns(),
            tick: 0,
            left: Some(count),
            pending_spans: Default::default(),
            pending_logs: Default::default(),
            urls: Urls {
                traces: None,
                logs: None,
                metrics: None,
            },
        }
    }

    /// Every item of every request, by signal: spans, log records, metric points.
    fn drain(mut m: RequestMaker) -> (Vec<ExportTraceServiceRequest>, Vec<ExportLogsServiceRequest>, u64, u64) {
        let (mut traces, mut logs, mut points, mut counted) = (Vec::new(), Vec::new(), 0, 0);
        while let Some(requests) = m.next() {
            for o in requests {
                counted += o.items;
                match o.request {
                    Request::Grpc {
                        signal: GenSignal::Traces,
                        body,
                    } => traces.push(ExportTraceServiceRequest::decode(body).unwrap()),
                    Request::Grpc {
                        signal: GenSignal::Logs,
                        body,
                    } => logs.push(ExportLogsServiceRequest::decode(body).unwrap()),
                    Request::Grpc {
                        signal: GenSignal::Metrics,
                        body,
                    } => points += ExportMetricsServiceRequest::decode(body).unwrap().item_count() as u64,
                    Request::Http { .. } => unreachable!(),
                }
            }
        }
        (traces, logs, points, counted)
    }

    #[test]
    fn count_is_exact_and_every_trace_complete() {
        for (count, batch) in [(1, 100), (7, 3), (100, 100), (1234, 100), (2000, 7)] {
            let (traces, _, _, counted) = drain(maker(GenSignal::Traces, count, batch));
            let spans: Vec<_> = traces
                .iter()
                .flat_map(|r| &r.resource_spans)
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
                .collect();
            assert_eq!((spans.len() as u64, counted), (count, count), "--count {count} --batch {batch}");
            assert!(traces.iter().all(|r| r.item_count() <= batch), "no request over --batch");
            let ids: std::collections::HashSet<&[u8]> = spans.iter().map(|s| s.span_id.as_slice()).collect();
            assert!(
                spans
                    .iter()
                    .all(|s| s.parent_span_id.is_empty() || ids.contains(s.parent_span_id.as_slice())),
                "every parent was sent: no trace is left incomplete"
            );
        }
    }

    #[test]
    fn logs_come_with_the_spans_they_lie_in() {
        let (traces, logs, _, counted) = drain(maker(GenSignal::Logs, 501, 100));
        let records: Vec<_> = logs
            .iter()
            .flat_map(|r| &r.resource_logs)
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .collect();
        assert_eq!((records.len(), counted), (501, 501));
        let spans: HashMap<&[u8], _> = traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| (s.span_id.as_slice(), s))
            .collect();
        for log in records {
            let span = spans.get(log.span_id.as_slice()).expect("the span of each log record is sent too");
            assert!(span.start_time_unix_nano <= log.time_unix_nano && log.time_unix_nano <= span.end_time_unix_nano);
        }
        assert_ne!(
            worker_seed(1, 0, GenSignal::Logs),
            worker_seed(1, 0, GenSignal::Traces),
            "other runs than gen traces sends"
        );
    }

    #[test]
    fn metric_points_are_exact_too() {
        let (_, _, points, counted) = drain(maker(GenSignal::Metrics, 47, 100));
        assert_eq!((points, counted), (47, 47));
    }
}
