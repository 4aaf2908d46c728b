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
    metric, number_data_point, AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
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
}

/// One generated agent run: its spans (grouped by service) and its correlated logs.
pub struct Run {
    pub traces: ExportTraceServiceRequest,
    pub logs: ExportLogsServiceRequest,
    pub run_id: String,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: SmallRng::seed_from_u64(seed),
            run_counter: 0,
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
        let mut failed = false;
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
                    s(
                        "gen_ai.system",
                        if model.starts_with("gpt") {
                            "openai"
                        } else if model.starts_with("claude") {
                            "anthropic"
                        } else {
                            "meta"
                        },
                    ),
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
                failed |= error && attempt == attempts;
                let t1 = llm_end + (attempt as u64 - 1) * step_ns / 8;
                let t2 = t1 + step_ns / 4;
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
                            time_unix_nano: t2,
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
                logs.push(LogRecord {
                    time_unix_nano: t2,
                    observed_time_unix_nano: t2,
                    severity_number: if error { 17 } else { 9 },
                    severity_text: if error { "ERROR" } else { "INFO" }.into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(if error {
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
                status: failed.then(|| Status {
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
        Run { traces, logs, run_id }
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

    /// One scrape of the agent's metrics: token counter, request-duration histogram, per model.
    pub fn metrics_request(&mut self, start_ns: u64, tick: u64) -> ExportMetricsServiceRequest {
        self.metrics_request_at(start_ns, now_ns(), tick)
    }

    /// The scrape number `tick` of a process that started at `start_ns`, taken at `now`.
    pub fn metrics_request_at(&mut self, start_ns: u64, now: u64, tick: u64) -> ExportMetricsServiceRequest {
        let mut token_points = Vec::new();
        let mut duration_points = Vec::new();
        for (m, model) in MODELS.iter().enumerate() {
            let tokens = (tick as i64 + 1) * (1000 + 500 * m as i64) + self.rng.random_range(0..300);
            token_points.push(NumberDataPoint {
                attributes: vec![s("gen_ai.request.model", *model)],
                start_time_unix_nano: start_ns,
                time_unix_nano: now,
                value: Some(number_data_point::Value::AsInt(tokens)),
                ..Default::default()
            });
            let bounds = vec![100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0];
            let n = (tick + 1) * 20;
            let counts = vec![
                n / 10,
                n / 5,
                n / 4,
                n / 4,
                n / 10,
                n / 20,
                n - (n / 10 + n / 5 + n / 4 + n / 4 + n / 10 + n / 20),
            ];
            duration_points.push(HistogramDataPoint {
                attributes: vec![s("gen_ai.request.model", *model)],
                start_time_unix_nano: start_ns,
                time_unix_nano: now,
                count: n,
                sum: Some(n as f64 * 900.0),
                bucket_counts: counts,
                explicit_bounds: bounds,
                ..Default::default()
            });
        }
        let cumulative = AggregationTemporality::Cumulative as i32;
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource("agent-api")),
                scope_metrics: vec![ScopeMetrics {
                    scope: scope("agent.sdk"),
                    metrics: vec![
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
                            unit: "ms".into(),
                            description: "model call duration".into(),
                            data: Some(metric::Data::Histogram(Histogram {
                                data_points: duration_points,
                                aggregation_temporality: cumulative,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_valid_and_deterministic() {
        let mut a = Generator::new(7);
        let mut b = Generator::new(7);
        let run = a.agent_run(now_ns());
        assert_eq!(run.run_id, b.agent_run(now_ns()).run_id);
        let mut traces = run.traces.clone();
        assert!(traces.remove_invalid().is_none(), "generated spans have valid ids");
        assert!(traces.item_count() >= 8);
        let roots = traces
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .filter(|s| s.parent_span_id.is_empty())
            .count();
        assert_eq!(roots, 1);
        assert!(run.logs.item_count() >= 2);
    }

    #[test]
    fn requests_reach_the_requested_size() {
        let mut g = Generator::new(1);
        assert!(g.traces_request(1000).item_count() >= 1000);
        assert!(g.metrics_request(now_ns(), 0).item_count() == 6);
    }
}
