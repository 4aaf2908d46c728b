//! Realistic demo and load data: LLM-agent runs (model calls with token counts, tool calls with
//! retries and errors, slow runs) calling HTTP services, with logs correlated to spans and metrics.
//! Used by `otelbox gen` and as the load generator of `scripts/bench`.

use crate::pdata::SignalData;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}
fn s(key: &str, v: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}
fn i(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            s("service.name", service),
            s("service.version", "1.4.2"),
            s("deployment.environment", "dev"),
            s("telemetry.sdk.language", "python"),
        ],
        ..Default::default()
    }
}

fn scope(name: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.into(),
        version: "0.9.0".into(),
        ..Default::default()
    })
}

const MODELS: [&str; 3] = ["gpt-4o", "claude-sonnet-4", "llama-3.1-70b"];
const TOOLS: [&str; 5] = ["search_web", "read_file", "run_sql", "send_email", "fetch_url"];
const ROUTES: [&str; 4] = ["/api/search", "/api/documents/{id}", "/api/query", "/api/mail"];

pub use crate::pdata::now_ns;

/// Deterministic for a seed, so benchmarks and tests are repeatable.
pub struct Generator {
    rng: SmallRng,
    run_counter: u64,
    /// The cumulative values of the metrics (counters, histograms) since the first scrape.
    metrics: Option<MetricsState>,
}

/// One generated agent run: its spans (grouped by service) and its correlated logs, each log
/// record stamped inside the span it names.
pub struct Run {
    pub traces: ExportTraceServiceRequest,
    pub logs: ExportLogsServiceRequest,
    pub run_id: String,
    /// The tool calls that failed for good (no retry after them): they make the run an error.
    failed_tools: Vec<Vec<u8>>,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: SmallRng::seed_from_u64(seed),
            run_counter: 0,
            metrics: None,
        }
    }

    fn id<const N: usize>(&mut self) -> Vec<u8> {
        let mut id = [0u8; N];
        self.rng.fill(&mut id[..]);
        id[0] |= 1; // never all-zero
        id.to_vec()
    }

    /// An agent run ending at about `end_ns`: about 8-16 spans over two services.
    pub fn agent_run(&mut self, end_ns: u64) -> Run {
        self.run_counter += 1;
        let run_id = format!("run-{:08x}-{}", self.rng.random::<u32>(), self.run_counter);
        let trace_id = self.id::<16>();
        let slow = self.rng.random_bool(0.02);
        let steps = self.rng.random_range(2..=4);
        let total_ms: u64 = if slow {
            self.rng.random_range(8_000..20_000)
        } else {
            self.rng.random_range(800..4_000)
        };
        let start = end_ns.saturating_sub(total_ms * 1_000_000);
        let root_id = self.id::<8>();
        let model = MODELS[self.rng.random_range(0..MODELS.len())];
        let mut agent_spans = Vec::new();
        let mut tool_spans = Vec::new();
        let mut logs = Vec::new();
        let mut failed_tools = Vec::new();
        let step_ns = total_ms * 1_000_000 / steps as u64;
        for step in 0..steps {
            let t0 = start + step as u64 * step_ns;
            let llm_end = t0 + step_ns / 2;
            let (input_tokens, output_tokens) = (self.rng.random_range(200..6000), self.rng.random_range(20..900));
            agent_spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: self.id::<8>(),
                parent_span_id: root_id.clone(),
                name: format!("chat {model}"),
                kind: span::SpanKind::Client as i32,
                start_time_unix_nano: t0,
                end_time_unix_nano: llm_end,
                attributes: vec![
                    s("gen_ai.operation.name", "chat"),
                    s("gen_ai.system", provider_of(model)),
                    s("gen_ai.request.model", model),
                    i("gen_ai.usage.input_tokens", input_tokens),
                    i("gen_ai.usage.output_tokens", output_tokens),
                    s("run_id", run_id.clone()),
                ],
                ..Default::default()
            });
            let tool = TOOLS[self.rng.random_range(0..TOOLS.len())];
            let attempts = if self.rng.random_bool(0.1) { 2 } else { 1 };
            for attempt in 1..=attempts {
                let tool_id = self.id::<8>();
                let error = (attempt < attempts) || self.rng.random_bool(0.03);
                if error && attempt == attempts {
                    failed_tools.push(tool_id.clone());
                }
                let t1 = llm_end + (attempt as u64 - 1) * step_ns / 8;
                let t2 = t1 + step_ns / 4;
                // The tool's log record: after its HTTP call returned (1 ms before the tool span
                // ends), inside the tool span it names.
                let logged_at = t2 - 500_000;
                agent_spans.push(Span {
                    trace_id: trace_id.clone(),
                    span_id: tool_id.clone(),
                    parent_span_id: root_id.clone(),
                    name: format!("execute_tool {tool}"),
                    kind: span::SpanKind::Internal as i32,
                    start_time_unix_nano: t1,
                    end_time_unix_nano: t2,
                    attributes: vec![
                        s("gen_ai.operation.name", "execute_tool"),
                        s("gen_ai.tool.name", tool),
                        s("gen_ai.tool.call.id", format!("call_{}", hex::encode(&tool_id[..4]))),
                        i("retry.attempt", attempt),
                        s("run_id", run_id.clone()),
                    ],
                    status: error.then(|| Status {
                        code: 2,
                        message: format!("{tool} failed: upstream timeout"),
                    }),
                    events: if error {
                        vec![span::Event {
                            time_unix_nano: logged_at,
                            name: "exception".into(),
                            attributes: vec![
                                s("exception.type", "TimeoutError"),
                                s("exception.message", "upstream timeout after 5s"),
                            ],
                            ..Default::default()
                        }]
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                });
                // A failure that is retried is a warning; the last attempt failing is an error.
                let (severity_number, severity_text) = match (error, attempt < attempts) {
                    (false, _) => (9, "INFO"),
                    (true, true) => (13, "WARN"),
                    (true, false) => (17, "ERROR"),
                };
                logs.push(LogRecord {
                    time_unix_nano: logged_at,
                    observed_time_unix_nano: logged_at,
                    severity_number,
                    severity_text: severity_text.into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(if error && attempt < attempts {
                            format!("tool {tool} failed on attempt {attempt}: upstream timeout; retrying")
                        } else if error {
                            format!("tool {tool} failed on attempt {attempt}: upstream timeout")
                        } else {
                            format!("tool {tool} returned {} results", self.rng.random_range(1..40))
                        })),
                    }),
                    attributes: vec![s("run_id", run_id.clone()), s("gen_ai.tool.name", tool)],
                    trace_id: trace_id.clone(),
                    span_id: tool_id.clone(),
                    ..Default::default()
                });
                // The tool calls an HTTP service: a client span here, a server span there.
                let route = ROUTES[self.rng.random_range(0..ROUTES.len())];
                let client_id = self.id::<8>();
                let code = if error { 503 } else { 200 };
                agent_spans.push(Span {
                    trace_id: trace_id.clone(),
                    span_id: client_id.clone(),
                    parent_span_id: tool_id,
                    name: format!("GET {route}"),
                    kind: span::SpanKind::Client as i32,
                    start_time_unix_nano: t1 + 1_000_000,
                    end_time_unix_nano: t2 - 1_000_000,
                    attributes: vec![
                        s("http.request.method", "GET"),
                        s("url.full", format!("http://tools:8080{route}")),
                        i("http.response.status_code", code),
                    ],
                    status: error.then(|| Status {
                        code: 2,
                        message: String::new(),
                    }),
                    ..Default::default()
                });
                tool_spans.push(Span {
                    trace_id: trace_id.clone(),
                    span_id: self.id::<8>(),
                    parent_span_id: client_id,
                    name: format!("GET {route}"),
                    kind: span::SpanKind::Server as i32,
                    start_time_unix_nano: t1 + 2_000_000,
                    end_time_unix_nano: t2 - 2_000_000,
                    attributes: vec![
                        s("http.request.method", "GET"),
                        s("http.route", route),
                        i("http.response.status_code", code),
                    ],
                    status: error.then(|| Status {
                        code: 2,
                        message: String::new(),
                    }),
                    ..Default::default()
                });
            }
        }
        agent_spans.insert(
            0,
            Span {
                trace_id: trace_id.clone(),
                span_id: root_id,
                name: "invoke_agent research-assistant".into(),
                kind: span::SpanKind::Server as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + total_ms * 1_000_000,
                attributes: vec![
                    s("gen_ai.operation.name", "invoke_agent"),
                    s("gen_ai.agent.name", "research-assistant"),
                    s("run_id", run_id.clone()),
                    s("user.id", format!("user-{}", self.rng.random_range(1..50))),
                ],
                status: (!failed_tools.is_empty()).then(|| Status {
                    code: 2,
                    message: "agent run failed".into(),
                }),
                ..Default::default()
            },
        );
        let traces = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(resource("agent-api")),
                    scope_spans: vec![ScopeSpans {
                        scope: scope("agent.sdk"),
                        spans: agent_spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ResourceSpans {
                    resource: Some(resource("tools-svc")),
                    scope_spans: vec![ScopeSpans {
                        scope: scope("http.server"),
                        spans: tool_spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        };
        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(resource("agent-api")),
                scope_logs: vec![ScopeLogs {
                    scope: scope("agent.sdk"),
                    log_records: logs,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        Run {
            traces,
            logs,
            run_id,
            failed_tools,
        }
    }

    /// A request of whole runs holding at least `min_spans` spans.
    pub fn traces_request(&mut self, min_spans: usize) -> ExportTraceServiceRequest {
        let mut request = ExportTraceServiceRequest::default();
        let now = now_ns();
        while request.item_count() < min_spans {
            request.merge(self.agent_run(now).traces);
        }
        request
    }

    pub fn logs_request(&mut self, min_logs: usize) -> ExportLogsServiceRequest {
        let mut request = ExportLogsServiceRequest::default();
        let now = now_ns();
        while request.item_count() < min_logs.max(1) {
            request.merge(self.agent_run(now).logs);
        }
        request
    }

    /// One scrape of the two services' metrics, `POINTS_PER_SCRAPE` points (see `metrics_request_at`).
    pub fn metrics_request(&mut self, start_ns: u64, tick: u64) -> ExportMetricsServiceRequest {
        self.metrics_request_at(start_ns, now_ns(), tick)
    }

    /// The scrape number `tick` of processes that started at `start_ns`, taken at `now`:
    /// `POINTS_PER_SCRAPE` points. The agent (`agent-api`): `gen_ai.client.token.usage`, a counter
    /// per model and token type; `gen_ai.client.operation.duration`, a histogram per model in the
    /// GenAI conventions' buckets; `process.cpu.utilization`, a gauge. The tool service
    /// (`tools-svc`): `http.server.request.duration`, a histogram per route and status code in the
    /// HTTP conventions' buckets; `http.server.active_requests`, an up-down counter per route; its
    /// own `process.cpu.utilization`. Counters and histograms are cumulative since the generator's
    /// first scrape and grow by what each scrape observed (latencies drawn from a log-normal
    /// distribution per model and route; the load swells and ebbs with `tick`), so the same seed
    /// gives the same values.
    pub fn metrics_request_at(&mut self, start_ns: u64, now: u64, tick: u64) -> ExportMetricsServiceRequest {
        let mut state = self.metrics.take().unwrap_or_else(MetricsState::new);
        let load = 1.0 + 0.5 * (tick as f64 / 8.0).sin();
        let point = |attributes: Vec<KeyValue>, value: number_data_point::Value| NumberDataPoint {
            attributes,
            start_time_unix_nano: start_ns,
            time_unix_nano: now,
            value: Some(value),
            ..Default::default()
        };
        let histogram = |attributes: Vec<KeyValue>, series: &Buckets, bounds: &[f64]| HistogramDataPoint {
            attributes,
            start_time_unix_nano: start_ns,
            time_unix_nano: now,
            count: series.count,
            sum: Some(series.sum),
            bucket_counts: series.counts.clone(),
            explicit_bounds: bounds.to_vec(),
            min: (series.count > 0).then_some(series.min),
            max: (series.count > 0).then_some(series.max),
            ..Default::default()
        };

        // The agent: its model calls in this interval, their latencies and tokens.
        let mut token_points = Vec::new();
        let mut latency_points = Vec::new();
        for (m, model) in MODELS.iter().enumerate() {
            let (median_s, calls_per_scrape) = MODEL_CALLS[m];
            let calls = self.observations(calls_per_scrape, load);
            for _ in 0..calls {
                let seconds = self.log_normal(median_s, 0.6);
                state.model_latency[m].observe(&GEN_AI_DURATION_BOUNDS, seconds);
                state.tokens[m][0] += self.rng.random_range(200..6000);
                state.tokens[m][1] += self.rng.random_range(20..900);
            }
            let model_attributes = || {
                vec![
                    s("gen_ai.operation.name", "chat"),
                    s("gen_ai.system", provider_of(model)),
                    s("gen_ai.request.model", *model),
                ]
            };
            for (t, token_type) in ["input", "output"].into_iter().enumerate() {
                let mut attributes = model_attributes();
                attributes.push(s("gen_ai.token.type", token_type));
                token_points.push(point(attributes, number_data_point::Value::AsInt(state.tokens[m][t])));
            }
            latency_points.push(histogram(model_attributes(), &state.model_latency[m], &GEN_AI_DURATION_BOUNDS));
        }

        // The tool service: the requests it served in this interval, and those in flight now.
        let mut request_points = Vec::new();
        for (k, (route, code, median_s, per_scrape)) in HTTP_SERIES.iter().enumerate() {
            let requests = self.observations(*per_scrape, load);
            for _ in 0..requests {
                let seconds = self.log_normal(*median_s, 0.7);
                state.http_latency[k].observe(&HTTP_DURATION_BOUNDS, seconds);
            }
            let attributes = vec![
                s("http.request.method", "GET"),
                s("http.route", *route),
                i("http.response.status_code", *code),
                s("url.scheme", "http"),
            ];
            request_points.push(histogram(attributes, &state.http_latency[k], &HTTP_DURATION_BOUNDS));
        }
        let mut active_points = Vec::new();
        for (r, route) in ROUTES.iter().enumerate() {
            state.active[r] = (state.active[r] + self.rng.random_range(-3..=3)).clamp(0, 40);
            let attributes = vec![s("http.request.method", "GET"), s("http.route", *route), s("url.scheme", "http")];
            active_points.push(point(attributes, number_data_point::Value::AsInt(state.active[r])));
        }
        let agent_cpu = self.rng.random_range(0.15..0.6) * load.min(1.4);
        let tools_cpu = self.rng.random_range(0.05..0.35) * load.min(1.4);
        self.metrics = Some(state);

        let cumulative = AggregationTemporality::Cumulative as i32;
        let cpu = |utilization: f64| Metric {
            name: "process.cpu.utilization".into(),
            unit: "1".into(),
            description: "share of the CPU the process used since the last scrape".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![point(vec![s("cpu.mode", "user")], number_data_point::Value::AsDouble(utilization))],
            })),
            ..Default::default()
        };
        let resource_metrics = |service: &str, scope_name: &str, metrics: Vec<Metric>| ResourceMetrics {
            resource: Some(resource(service)),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(scope_name),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![
                resource_metrics(
                    "agent-api",
                    "agent.sdk",
                    vec![
                        Metric {
                            name: "gen_ai.client.token.usage".into(),
                            unit: "{token}".into(),
                            description: "tokens used by model calls".into(),
                            data: Some(metric::Data::Sum(Sum {
                                data_points: token_points,
                                aggregation_temporality: cumulative,
                                is_monotonic: true,
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "gen_ai.client.operation.duration".into(),
                            unit: "s".into(),
                            description: "model call duration".into(),
                            data: Some(metric::Data::Histogram(Histogram {
                                data_points: latency_points,
                                aggregation_temporality: cumulative,
                            })),
                            ..Default::default()
                        },
                        cpu(agent_cpu),
                    ],
                ),
                resource_metrics(
                    "tools-svc",
                    "http.server",
                    vec![
                        Metric {
                            name: "http.server.request.duration".into(),
                            unit: "s".into(),
                            description: "duration of HTTP server requests".into(),
                            data: Some(metric::Data::Histogram(Histogram {
                                data_points: request_points,
                                aggregation_temporality: cumulative,
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "http.server.active_requests".into(),
                            unit: "{request}".into(),
                            description: "HTTP server requests in flight".into(),
                            data: Some(metric::Data::Sum(Sum {
                                data_points: active_points,
                                aggregation_temporality: cumulative,
                                is_monotonic: false,
                            })),
                            ..Default::default()
                        },
                        cpu(tools_cpu),
                    ],
                ),
            ],
        }
    }

    /// How many observations a series gets in one scrape: about `per_scrape` times the load.
    fn observations(&mut self, per_scrape: u32, load: f64) -> u32 {
        let mean = per_scrape as f64 * load;
        let spread = (mean / 3.0).max(1.0);
        (mean + self.rng.random_range(-spread..spread)).round().max(0.0) as u32
    }

    /// A log-normal latency with this median (seconds) and shape; the normal deviate is the sum of
    /// twelve uniform ones (Irwin-Hall), which is close enough and needs no extra crate.
    fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        let z: f64 = (0..12).map(|_| self.rng.random::<f64>()).sum::<f64>() - 6.0;
        median * (sigma * z).exp()
    }
}

fn provider_of(model: &str) -> &'static str {
    if model.starts_with("gpt") {
        "openai"
    } else if model.starts_with("claude") {
        "anthropic"
    } else {
        "meta"
    }
}

/// Data points in one `metrics_request`: 10 of the agent's, 10 of the tool service's.
pub const POINTS_PER_SCRAPE: usize = 20;

/// `gen_ai.client.operation.duration`'s buckets (seconds): the GenAI semantic conventions' advice.
const GEN_AI_DURATION_BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// `http.server.request.duration`'s buckets (seconds): the HTTP semantic conventions' advice.
const HTTP_DURATION_BOUNDS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
/// Per model (as `MODELS`): the median latency of a call in seconds, and calls per scrape.
const MODEL_CALLS: [(f64, u32); 3] = [(1.2, 8), (2.0, 5), (0.6, 3)];
/// The tool service's request series: route, status code, median latency in seconds, requests per
/// scrape. The 503s are upstream timeouts.
const HTTP_SERIES: [(&str, i64, f64, u32); 5] = [
    ("/api/search", 200, 0.08, 30),
    ("/api/documents/{id}", 200, 0.02, 40),
    ("/api/query", 200, 0.15, 15),
    ("/api/mail", 200, 0.3, 5),
    ("/api/query", 503, 4.0, 1),
];

/// One cumulative histogram series.
#[derive(Clone)]
struct Buckets {
    counts: Vec<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Buckets {
    fn new(bounds: usize) -> Buckets {
        Buckets {
            counts: vec![0; bounds + 1],
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Counts `value` in the bucket whose upper bound is the first at or above it (OTLP's `le`).
    fn observe(&mut self, bounds: &[f64], value: f64) {
        let bucket = bounds.iter().position(|b| value <= *b).unwrap_or(bounds.len());
        self.counts[bucket] += 1;
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
}

/// What the demo services have counted since their first scrape.
struct MetricsState {
    /// Per model, input and output tokens.
    tokens: [[i64; 2]; 3],
    model_latency: Vec<Buckets>,
    http_latency: Vec<Buckets>,
    /// Requests in flight per route (an up-down counter's level).
    active: [i64; 4],
}

impl MetricsState {
    fn new() -> MetricsState {
        MetricsState {
            tokens: [[0; 2]; 3],
            model_latency: vec![Buckets::new(GEN_AI_DURATION_BOUNDS.len()); MODELS.len()],
            http_latency: vec![Buckets::new(HTTP_DURATION_BOUNDS.len()); HTTP_SERIES.len()],
            active: [6, 9, 3, 1],
        }
    }
}

/// Keeps the first `max` data points of `request` (resource, scope and metric order), dropping what
/// is left empty: the last, partial scrape of `otelbox gen metrics --count N`.
pub fn keep_points(request: &mut ExportMetricsServiceRequest, max: usize) {
    fn keep<T>(points: &mut Vec<T>, left: &mut usize) {
        points.truncate(*left);
        *left -= points.len();
    }
    let mut left = max;
    for resource in &mut request.resource_metrics {
        for scope in &mut resource.scope_metrics {
            for metric in &mut scope.metrics {
                match &mut metric.data {
                    Some(metric::Data::Gauge(g)) => keep(&mut g.data_points, &mut left),
                    Some(metric::Data::Sum(x)) => keep(&mut x.data_points, &mut left),
                    Some(metric::Data::Histogram(h)) => keep(&mut h.data_points, &mut left),
                    Some(metric::Data::ExponentialHistogram(e)) => keep(&mut e.data_points, &mut left),
                    Some(metric::Data::Summary(x)) => keep(&mut x.data_points, &mut left),
                    None => {}
                }
            }
            scope.metrics.retain(|m| crate::pdata::metric_point_count(m) > 0);
        }
        resource.scope_metrics.retain(|s| !s.metrics.is_empty());
    }
    request.resource_metrics.retain(|r| !r.scope_metrics.is_empty());
}

impl Run {
    /// Cuts the run to at most `max` spans (the root always stays), for the last run of `otelbox gen
    /// traces --count N`, which must fit exactly: the leaf span that starts last goes first, so what
    /// is left is still one tree. The log records of the spans that go, go too, and the root stays an
    /// error only while a tool call that failed for good is left.
    pub fn keep_spans(&mut self, max: usize) {
        let max = max.max(1);
        let mut removed: Vec<Vec<u8>> = Vec::new();
        while self.traces.item_count() > max {
            let parents: std::collections::HashSet<&[u8]> = self
                .traces
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
                .map(|span| span.parent_span_id.as_slice())
                .collect();
            let mut latest: Option<(u64, usize, usize, usize)> = None;
            for (r, resource) in self.traces.resource_spans.iter().enumerate() {
                for (s, scope) in resource.scope_spans.iter().enumerate() {
                    for (i, span) in scope.spans.iter().enumerate() {
                        let leaf = !span.parent_span_id.is_empty() && !parents.contains(span.span_id.as_slice());
                        if leaf && latest.is_none_or(|(start, ..)| span.start_time_unix_nano >= start) {
                            latest = Some((span.start_time_unix_nano, r, s, i));
                        }
                    }
                }
            }
            let Some((_, r, s, i)) = latest else {
                break;
            };
            removed.push(self.traces.resource_spans[r].scope_spans[s].spans.remove(i).span_id);
        }
        if removed.is_empty() {
            return;
        }
        for resource in &mut self.traces.resource_spans {
            resource.scope_spans.retain(|s| !s.spans.is_empty());
        }
        self.traces.resource_spans.retain(|r| !r.scope_spans.is_empty());
        for resource in &mut self.logs.resource_logs {
            for scope in &mut resource.scope_logs {
                scope.log_records.retain(|log| !removed.contains(&log.span_id));
            }
            resource.scope_logs.retain(|s| !s.log_records.is_empty());
        }
        self.logs.resource_logs.retain(|r| !r.scope_logs.is_empty());
        self.failed_tools.retain(|id| !removed.contains(id));
        if self.failed_tools.is_empty() {
            for span in self
                .traces
                .resource_spans
                .iter_mut()
                .flat_map(|r| &mut r.scope_spans)
                .flat_map(|s| &mut s.spans)
                .filter(|span| span.parent_span_id.is_empty())
            {
                span.status = None;
            }
        }
    }

    /// Keeps the first `max` log records (in time order): the last run of `otelbox gen logs --count N`.
    pub fn keep_logs(&mut self, max: usize) {
        if self.logs.item_count() > max {
            self.logs = self.logs.split_off_items(max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn spans(request: &ExportTraceServiceRequest) -> impl Iterator<Item = &Span> {
        request.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans)
    }
    fn records(request: &ExportLogsServiceRequest) -> impl Iterator<Item = &LogRecord> {
        request
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
    }

    #[test]
    fn runs_are_valid_and_deterministic() {
        let mut a = Generator::new(7);
        let mut b = Generator::new(7);
        let run = a.agent_run(now_ns());
        assert_eq!(run.run_id, b.agent_run(now_ns()).run_id);
        let mut traces = run.traces.clone();
        assert!(traces.remove_invalid().is_none(), "generated spans have valid ids");
        assert!(traces.item_count() >= 8);
        let roots = spans(&traces).filter(|s| s.parent_span_id.is_empty()).count();
        assert_eq!(roots, 1);
        assert!(run.logs.item_count() >= 2);
    }

    /// Every log record names a span of its run and is stamped inside it (the issue: they came
    /// seconds after their spans ended).
    #[test]
    fn log_records_lie_inside_the_spans_they_name() {
        let mut g = Generator::new(3);
        for _ in 0..50 {
            let run = g.agent_run(now_ns());
            let by_id: HashMap<&[u8], &Span> = spans(&run.traces).map(|s| (s.span_id.as_slice(), s)).collect();
            for log in records(&run.logs) {
                let span = by_id
                    .get(log.span_id.as_slice())
                    .expect("the span a log record names is in its run");
                assert_eq!(log.trace_id, span.trace_id);
                assert!(
                    span.start_time_unix_nano <= log.time_unix_nano && log.time_unix_nano <= span.end_time_unix_nano,
                    "log at {} outside its span {}..{}",
                    log.time_unix_nano,
                    span.start_time_unix_nano,
                    span.end_time_unix_nano
                );
            }
        }
    }

    #[test]
    fn a_run_cut_to_n_spans_is_still_one_tree() {
        let mut g = Generator::new(11);
        for max in 1..=20 {
            let mut run = g.agent_run(now_ns());
            let before = run.traces.item_count();
            run.keep_spans(max);
            assert_eq!(run.traces.item_count(), before.min(max));
            let ids: std::collections::HashSet<&[u8]> = spans(&run.traces).map(|s| s.span_id.as_slice()).collect();
            let roots = spans(&run.traces).filter(|s| s.parent_span_id.is_empty()).count();
            assert_eq!(roots, 1, "the root stays");
            assert!(
                spans(&run.traces).all(|s| s.parent_span_id.is_empty() || ids.contains(s.parent_span_id.as_slice())),
                "no span lost its parent"
            );
            assert!(
                records(&run.logs).all(|l| ids.contains(l.span_id.as_slice())),
                "no log names a removed span"
            );
            let root_failed = spans(&run.traces).any(|s| s.parent_span_id.is_empty() && s.status.as_ref().is_some_and(|st| st.code == 2));
            assert_eq!(root_failed, !run.failed_tools.is_empty());
            run.keep_logs(1);
            assert!(run.logs.item_count() <= 1);
        }
    }

    #[test]
    fn requests_reach_the_requested_size() {
        let mut g = Generator::new(1);
        assert!(g.traces_request(1000).item_count() >= 1000);
        assert_eq!(g.metrics_request(now_ns(), 0).item_count(), POINTS_PER_SCRAPE);
        let mut scrape = g.metrics_request(now_ns(), 1);
        keep_points(&mut scrape, 13);
        assert_eq!(scrape.item_count(), 13);
        let mut scrape = g.metrics_request(now_ns(), 2);
        keep_points(&mut scrape, 0);
        assert!(scrape.resource_metrics.is_empty());
    }

    fn histograms(request: &ExportMetricsServiceRequest) -> Vec<(&str, &HistogramDataPoint)> {
        request
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .filter_map(|m| match &m.data {
                Some(metric::Data::Histogram(h)) => Some(h.data_points.iter().map(move |p| (m.name.as_str(), p))),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// A counter, an up-down counter, gauges and two histograms with their own buckets; cumulative
    /// values only grow; the same seed gives the same values.
    #[test]
    fn metrics_are_a_realistic_handful_and_deterministic() {
        let (start, now) = (1_700_000_000_000_000_000u64, 1_700_000_060_000_000_000u64);
        let mut a = Generator::new(5);
        let mut b = Generator::new(5);
        let first = a.metrics_request_at(start, now, 0);
        assert_eq!(first, b.metrics_request_at(start, now, 0), "deterministic for a seed");
        let kinds: Vec<(&str, &str)> = first
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| {
                let kind = match &m.data {
                    Some(metric::Data::Sum(sum)) if sum.is_monotonic => "counter",
                    Some(metric::Data::Sum(_)) => "updowncounter",
                    Some(metric::Data::Gauge(_)) => "gauge",
                    Some(metric::Data::Histogram(_)) => "histogram",
                    _ => "other",
                };
                (m.name.as_str(), kind)
            })
            .collect();
        for expected in [
            ("gen_ai.client.token.usage", "counter"),
            ("gen_ai.client.operation.duration", "histogram"),
            ("http.server.request.duration", "histogram"),
            ("http.server.active_requests", "updowncounter"),
            ("process.cpu.utilization", "gauge"),
        ] {
            assert!(kinds.contains(&expected), "{expected:?} in {kinds:?}");
        }
        let hist = histograms(&first);
        let model = hist.iter().find(|(n, _)| *n == "gen_ai.client.operation.duration").unwrap().1;
        let http = hist.iter().find(|(n, _)| *n == "http.server.request.duration").unwrap().1;
        assert_ne!(model.explicit_bounds, http.explicit_bounds, "two bucket layouts");
        for (_, p) in &hist {
            assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
            assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
        }
        let distinct: std::collections::HashSet<Vec<u64>> = hist.iter().map(|(_, p)| p.bucket_counts.clone()).collect();
        assert!(distinct.len() >= 4, "the series differ: {distinct:?}");
        let second = a.metrics_request_at(start, now + 10_000_000_000, 1);
        for ((_, p1), (_, p2)) in hist.iter().zip(histograms(&second)) {
            assert!(p2.count >= p1.count && p2.bucket_counts.iter().zip(&p1.bucket_counts).all(|(x, y)| x >= y));
        }
    }
}
