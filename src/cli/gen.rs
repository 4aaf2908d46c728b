//! `otelbox gen`: send realistic agent telemetry to an OTLP endpoint, as a demo or as load.

use crate::gen::{now_ns, Generator};
use crate::pdata::SignalData;
use clap::{Args, ValueEnum};
use prost::Message;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenSignal {
    Traces,
    Logs,
    Metrics,
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

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox gen traces --count 1000\n  otelbox gen logs --rate 200 --duration 30s\n  otelbox gen traces --rate 0 --count 1000000 --concurrency 4   # as fast as possible (load)"
)]
pub struct GenArgs {
    /// What to send
    #[arg(value_enum)]
    pub signal: GenSignal,
    /// OTLP endpoint: the HTTP base URL (…:4318) or, with --protocol grpc, the gRPC one (…:4317)
    #[arg(long, default_value = "http://127.0.0.1:4318")]
    pub endpoint: String,
    #[arg(long, value_enum, default_value = "http/protobuf")]
    pub protocol: Protocol,
    /// Items to send (spans, log records or metric points); 0 = until --duration ends
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// Items per second across all connections; 0 = as fast as the box accepts
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Stop after this long (e.g. 30s, 5m); default: until --count is reached, or 10s
    #[arg(long, value_parser = crate::units::parse_duration)]
    pub duration: Option<Duration>,
    /// Items per export request
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Concurrent connections
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Seed for the generator (same seed, same data shapes)
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

#[derive(Default)]
struct Totals {
    items: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
    bytes: AtomicU64,
}

pub fn run(args: GenArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: GenArgs) -> anyhow::Result<i32> {
    let duration = args.duration.or(if args.count == 0 { Some(Duration::from_secs(10)) } else { None });
    if args.prepare && args.count == 0 {
        anyhow::bail!("--prepare needs --count: it makes every request before sending");
    }
    let totals = Arc::new(Totals::default());
    let budget = Arc::new(AtomicU64::new(if args.count == 0 { u64::MAX } else { args.count }));
    let metric_start = now_ns();
    let workers_n = args.concurrency.max(1);
    let mut makers: Vec<RequestMaker> = (0..workers_n)
        .map(|worker| RequestMaker {
            generator: Generator::new(args.seed.wrapping_mul(1000).wrapping_add(worker as u64)),
            signal: args.signal,
            protocol: args.protocol,
            batch: args.batch as u64,
            metric_start,
            tick: 0,
        })
        .collect();
    // Round-robin, so every worker gets its share of the budget.
    let mut queues: Vec<Option<std::collections::VecDeque<(Request, u64)>>> = (0..workers_n).map(|_| None).collect();
    if args.prepare {
        for queue in &mut queues {
            *queue = Some(Default::default());
        }
        'fill: loop {
            for (maker, queue) in makers.iter_mut().zip(&mut queues) {
                match maker.next(&budget) {
                    Some(request) => queue.as_mut().expect("prepared").push_back(request),
                    None => break 'fill,
                }
            }
        }
    }
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);
    let args = Arc::new(args);
    let mut workers = Vec::new();
    for (maker, queue) in makers.into_iter().zip(queues) {
        let (args, totals, budget) = (args.clone(), totals.clone(), budget.clone());
        workers.push(tokio::spawn(async move {
            send_loop(maker, queue, &args, &totals, &budget, deadline, started).await
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
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "signal": format!("{:?}", args.signal).to_lowercase(), "items": items, "requests": totals.requests.load(Ordering::Relaxed),
                "retries": totals.retries.load(Ordering::Relaxed), "failures": failures, "bytes": totals.bytes.load(Ordering::Relaxed),
                "elapsed_s": elapsed, "items_per_s": items as f64 / elapsed.max(1e-9),
            })
        );
    } else {
        println!(
            "sent {items} {:?} items in {} requests over {elapsed:.2}s ({:.0}/s); {} retried, {failures} failed",
            args.signal,
            totals.requests.load(Ordering::Relaxed),
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

/// Take up to `want` items from the shared budget.
fn take(budget: &AtomicU64, want: u64) -> u64 {
    let mut current = budget.load(Ordering::Relaxed);
    loop {
        let n = current.min(want);
        if n == 0 {
            return 0;
        }
        match budget.compare_exchange(current, current - n, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return n,
            Err(actual) => current = actual,
        }
    }
}

enum Body {
    Proto(Vec<u8>),
    Json(Vec<u8>),
}

/// One export request, generated and (for HTTP) encoded, ready to send.
enum Request {
    Http { path: &'static str, body: Body },
    GrpcTraces(ExportTraceServiceRequest),
    GrpcLogs(ExportLogsServiceRequest),
    GrpcMetrics(ExportMetricsServiceRequest),
}

/// Makes the requests of one worker: each takes its items from the shared budget.
struct RequestMaker {
    generator: Generator,
    signal: GenSignal,
    protocol: Protocol,
    batch: u64,
    metric_start: u64,
    tick: u64,
}

impl RequestMaker {
    /// The next request and its item count, or None when the budget is spent.
    fn next(&mut self, budget: &AtomicU64) -> Option<(Request, u64)> {
        let n = take(budget, self.batch);
        if n == 0 {
            return None;
        }
        let grpc = self.protocol == Protocol::Grpc;
        let json = self.protocol == Protocol::HttpJson;
        let http = |path, proto: Vec<u8>, json_body: Option<serde_json::Value>| Request::Http {
            path,
            body: match json_body {
                Some(j) => Body::Json(j.to_string().into_bytes()),
                None => Body::Proto(proto),
            },
        };
        Some(match self.signal {
            GenSignal::Traces => {
                // Whole runs: a request may carry a few more spans than asked for.
                let r = self.generator.traces_request(n as usize);
                let c = r.item_count() as u64;
                if grpc {
                    (Request::GrpcTraces(r), c)
                } else if json {
                    (http("/v1/traces", Vec::new(), Some(crate::pdata::json::encode_traces(&r))), c)
                } else {
                    (http("/v1/traces", r.encode_to_vec(), None), c)
                }
            }
            GenSignal::Logs => {
                let r = self.generator.logs_request(n as usize);
                let c = r.item_count() as u64;
                if grpc {
                    (Request::GrpcLogs(r), c)
                } else if json {
                    (http("/v1/logs", Vec::new(), Some(crate::pdata::json::encode_logs(&r))), c)
                } else {
                    (http("/v1/logs", r.encode_to_vec(), None), c)
                }
            }
            GenSignal::Metrics => {
                let r = self.generator.metrics_request(self.metric_start, self.tick);
                self.tick += 1;
                let c = r.item_count() as u64;
                if grpc {
                    (Request::GrpcMetrics(r), c)
                } else if json {
                    (http("/v1/metrics", Vec::new(), Some(crate::pdata::json::encode_metrics(&r))), c)
                } else {
                    (http("/v1/metrics", r.encode_to_vec(), None), c)
                }
            }
        })
    }
}

async fn send_loop(
    mut maker: RequestMaker,
    mut prepared: Option<std::collections::VecDeque<(Request, u64)>>,
    args: &GenArgs,
    totals: &Totals,
    budget: &AtomicU64,
    deadline: Option<Instant>,
    started: Instant,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let base = args.endpoint.trim_end_matches('/').to_string();
    let mut grpc = if args.protocol == Protocol::Grpc {
        Some(GrpcClients::connect(&base).await?)
    } else {
        None
    };
    let per_worker_rate = if args.rate > 0.0 {
        Some(args.rate / args.concurrency.max(1) as f64)
    } else {
        None
    };
    let mut sent_here = 0u64;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(());
        }
        let next = match prepared.as_mut() {
            Some(queue) => queue.pop_front(),
            None => maker.next(budget),
        };
        let Some((request, count)) = next else {
            return Ok(());
        };
        match request {
            Request::Http { path, body } => send_http(&http, &format!("{base}{path}"), body, totals, count).await?,
            Request::GrpcTraces(r) => send_grpc_traces(grpc.as_mut().map(|g| &mut g.traces), r, totals, count).await?,
            Request::GrpcLogs(r) => send_grpc_logs(grpc.as_mut().map(|g| &mut g.logs), r, totals, count).await?,
            Request::GrpcMetrics(r) => send_grpc_metrics(grpc.as_mut().map(|g| &mut g.metrics), r, totals, count).await?,
        }
        sent_here += count;
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

/// POST with retries on the retryable answers (429/502/503/504), honouring Retry-After.
async fn send_http(http: &reqwest::Client, url: &str, body: Body, totals: &Totals, count: u64) -> anyhow::Result<()> {
    let (content_type, bytes) = match body {
        Body::Proto(b) => ("application/x-protobuf", b),
        Body::Json(b) => ("application/json", b),
    };
    for attempt in 0..20 {
        totals.requests.fetch_add(1, Ordering::Relaxed);
        let response = http.post(url).header("content-type", content_type).body(bytes.clone()).send().await;
        match response {
            Ok(r) if r.status().is_success() => {
                totals.items.fetch_add(count, Ordering::Relaxed);
                totals.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                return Ok(());
            }
            Ok(r) if [429, 502, 503, 504].contains(&r.status().as_u16()) => {
                totals.retries.fetch_add(1, Ordering::Relaxed);
                let wait = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_millis((wait * 1000).min(5000) + 50 * attempt)).await;
            }
            Ok(r) => {
                totals.failures.fetch_add(1, Ordering::Relaxed);
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                anyhow::bail!("{url} answered {status}: {}", text.chars().take(300).collect::<String>());
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

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tonic::transport::Channel;

struct GrpcClients {
    traces: TraceServiceClient<Channel>,
    logs: LogsServiceClient<Channel>,
    metrics: MetricsServiceClient<Channel>,
}

impl GrpcClients {
    async fn connect(endpoint: &str) -> anyhow::Result<GrpcClients> {
        let channel = Channel::from_shared(endpoint.to_string())?
            .connect()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {endpoint}: {e}; is otelbox up?"))?;
        Ok(GrpcClients {
            traces: TraceServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20),
            logs: LogsServiceClient::new(channel.clone()),
            metrics: MetricsServiceClient::new(channel),
        })
    }
}

macro_rules! grpc_sender {
    ($name:ident, $client:ty, $req:ty) => {
        async fn $name(client: Option<&mut $client>, request: $req, totals: &Totals, count: u64) -> anyhow::Result<()> {
            let client = client.ok_or_else(|| anyhow::anyhow!("no gRPC client"))?;
            for attempt in 0..20u64 {
                totals.requests.fetch_add(1, Ordering::Relaxed);
                match client.export(request.clone()).await {
                    Ok(_) => {
                        totals.items.fetch_add(count, Ordering::Relaxed);
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
    };
}
grpc_sender!(send_grpc_traces, TraceServiceClient<Channel>, ExportTraceServiceRequest);
grpc_sender!(send_grpc_logs, LogsServiceClient<Channel>, ExportLogsServiceRequest);
grpc_sender!(send_grpc_metrics, MetricsServiceClient<Channel>, ExportMetricsServiceRequest);
