//! Tests of the tail_sampling processor: the canonical agent config end to end on a generated mix,
//! the Collector-compatible hash, every policy type and combination, the memory bounds, late spans,
//! shutdown, and config errors with their paths.

use super::buffer::{split_by_trace, DecisionCache, Limits};
use super::*;
use crate::config::{Config, ConfigErrors, Kind};
use crate::pdata::TraceId;
use crate::pipeline::ack::{AckReceiver, AckToken};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

// ---------------------------------------------------------------------------
// Helpers

/// What the sampler sends on; refuses everything when `refuse` is set.
#[derive(Default)]
struct Recorder {
    requests: std::sync::Mutex<Vec<ExportTraceServiceRequest>>,
    refuse: AtomicBool,
    shut_down: AtomicBool,
}

impl Consumer<ExportTraceServiceRequest> for Recorder {
    fn consume(&self, envelope: Envelope<ExportTraceServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            if self.refuse.load(Ordering::Relaxed) {
                let error = PipelineError::retryable("full");
                envelope.fail(&error);
                return Err(error);
            }
            assert!(envelope.acks.is_empty(), "kept traces go on unacknowledged");
            self.requests.lock().unwrap().push(envelope.data);
            Ok(())
        })
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.shut_down.store(true, Ordering::Relaxed);
        Box::pin(async {})
    }
}

impl Recorder {
    fn spans(&self) -> Vec<Span> {
        let requests = self.requests.lock().unwrap();
        requests
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| ss.spans.clone())
            .collect()
    }
    /// Spans sent on, per trace.
    fn by_trace(&self) -> BTreeMap<TraceId, usize> {
        let mut counts = BTreeMap::new();
        for span in self.spans() {
            *counts.entry(TraceId::from_bytes(&span.trace_id).unwrap()).or_default() += 1;
        }
        counts
    }
    fn span_count(&self) -> usize {
        self.spans().len()
    }
}

fn id(n: u128) -> TraceId {
    TraceId(n.to_be_bytes())
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string(text: &str) -> any_value::Value {
    any_value::Value::StringValue(text.into())
}

const T0: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;

fn span(trace: TraceId, span_no: u64, start_ms: u64, end_ms: u64) -> Span {
    Span {
        trace_id: trace.0.to_vec(),
        span_id: (span_no + 1).to_be_bytes().to_vec(),
        name: format!("op-{span_no}"),
        start_time_unix_nano: T0 + start_ms * MS,
        end_time_unix_nano: T0 + end_ms * MS,
        ..Default::default()
    }
}

fn with_status(mut span: Span, code: StatusCode) -> Span {
    span.status = Some(Status {
        code: code as i32,
        message: String::new(),
    });
    span
}

fn with_attributes(mut span: Span, attributes: Vec<KeyValue>) -> Span {
    span.attributes = attributes;
    span
}

fn resource_spans(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", string(service))],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "tests".into(),
                ..Default::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![resource_spans(service, spans)],
    }
}

/// A full config around one tail_sampling body (indented under `tail_sampling:`).
fn full_config(body: &str) -> String {
    let body: String = body.lines().map(|line| format!("    {line}\n")).collect();
    format!(
        "receivers:\n  otlp: {{ protocols: {{ http: {{}} }} }}\nprocessors:\n  tail_sampling:\n{body}exporters:\n  otelbox: {{}}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [tail_sampling]\n      exporters: [otelbox]\n"
    )
}

fn settings_of(config: &Config) -> TailSamplingConfig {
    let id = ComponentId {
        kind: "tail_sampling".into(),
        name: None,
    };
    config
        .component(Kind::Processor, &id)
        .expect("tail_sampling")
        .settings
        .get::<TailSamplingConfig>()
        .clone()
}

fn parse_settings(body: &str) -> TailSamplingConfig {
    match crate::components::parse_config(&full_config(body)) {
        Ok(config) => settings_of(&config),
        Err(errors) => panic!("{errors}"),
    }
}

fn parse_errors(body: &str) -> Vec<String> {
    match crate::components::parse_config(&full_config(body)) {
        Ok(_) => panic!("expected errors"),
        Err(ConfigErrors(errors)) => errors,
    }
}

fn component_id() -> ComponentId {
    ComponentId {
        kind: "tail_sampling".into(),
        name: None,
    }
}

fn sampler(settings: &TailSamplingConfig) -> (TailSampler, Arc<Recorder>, Arc<ComponentCounters>) {
    let recorder = Arc::new(Recorder::default());
    let counters = ComponentCounters::detached("processor/tail_sampling");
    let sampler = TailSampler::new(&component_id(), settings, recorder.clone(), counters.clone());
    (sampler, recorder, counters)
}

fn sampler_with_limits(settings: &TailSamplingConfig, limits: Limits) -> (TailSampler, Arc<Recorder>, Arc<ComponentCounters>) {
    let recorder = Arc::new(Recorder::default());
    let counters = ComponentCounters::detached("processor/tail_sampling");
    let sampler = TailSampler::with_limits(&component_id(), settings, limits, recorder.clone(), counters.clone());
    (sampler, recorder, counters)
}

async fn send(sampler: &TailSampler, data: ExportTraceServiceRequest) -> (Result<(), PipelineError>, AckReceiver) {
    let (ack, rx) = AckToken::new();
    let result = sampler.consume(Envelope::new(data, ack)).await;
    (result, rx)
}

/// The sender's answer, which must already be there.
fn answered(mut rx: AckReceiver) -> Result<(), PipelineError> {
    rx.try_recv().expect("answered without waiting for a decision")
}

fn dropped(counters: &ComponentCounters) -> u64 {
    counters.dropped.load(Ordering::Relaxed)
}

/// Evaluates one policy on a trace made of `spans` under one resource with `resource_attributes`.
fn decide(policy: &mut Policy, spans: Vec<Span>, resource_attributes: Vec<KeyValue>) -> Decision {
    decide_at(policy, spans, resource_attributes, Instant::now())
}

fn decide_at(policy: &mut Policy, spans: Vec<Span>, resource_attributes: Vec<KeyValue>, now: Instant) -> Decision {
    let trace = spans.first().map_or(id(1), |s| TraceId::from_bytes(&s.trace_id).unwrap());
    let span_count = spans.len();
    let mut batches = vec![resource_spans("svc", spans)];
    if let Some(resource) = batches[0].resource.as_mut() {
        resource.attributes.extend(resource_attributes);
    }
    let mut view = TraceView {
        id: trace,
        span_count,
        batches: &mut batches,
    };
    policy.evaluate(&mut view, now).expect("evaluates")
}

/// The policies of a `policies:` YAML list (parsed through the whole config).
fn policies(list: &str) -> Vec<Policy> {
    parse_settings(&format!("policies:\n{list}")).policies
}

fn one_policy(yaml: &str) -> Policy {
    let mut all = policies(&format!("  - {yaml}"));
    assert_eq!(all.len(), 1);
    all.remove(0)
}

use Decision::{Dropped, NotSampled, Sampled};

// ---------------------------------------------------------------------------
// The canonical agent config

const CANONICAL: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:4317 }
processors:
  tail_sampling:
    decision_wait: 10s
    num_traces: 50000
    policies:
      - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
      - { name: slow, type: latency, latency: { threshold_ms: 8000 } }
      - { name: sample-rest, type: probabilistic, probabilistic: { sampling_percentage: 5 } }
  batch: {}
exporters:
  otelbox: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [tail_sampling, batch]
      exporters: [otelbox]
"#;

struct Generated {
    id: TraceId,
    spans: Vec<Span>,
    has_error: bool,
    slow: bool,
}

/// 4,000 traces of 1-20 spans: about 10% with an ERROR span, 10% longer than 8 s, 5% both, the
/// rest ordinary (shorter than 8 s, statuses OK or UNSET). Services are spread over the spans.
fn generate(rng: &mut SmallRng, count: usize) -> Vec<Generated> {
    (0..count)
        .map(|i| {
            let mut bytes = [0u8; 16];
            rng.fill(&mut bytes[..]);
            bytes[0] |= 1;
            let trace = TraceId(bytes);
            let kind = rng.random_range(0..20);
            let (has_error, slow) = (matches!(kind, 0 | 1 | 4), matches!(kind, 2..=4));
            // Whole-millisecond durations, never within a millisecond of the 8 s threshold.
            let duration_ms = if slow {
                rng.random_range(8_001..20_000)
            } else {
                rng.random_range(1..7_999)
            };
            let start = i as u64;
            let n = rng.random_range(1..=20u64);
            let error_span = rng.random_range(0..n);
            let spans = (0..n)
                .map(|s| {
                    // The root spans the whole trace; children sit inside it.
                    let (from, to) = if s == 0 {
                        (start, start + duration_ms)
                    } else {
                        let a = rng.random_range(start..start + duration_ms);
                        (a, rng.random_range(a..=start + duration_ms))
                    };
                    let code = if has_error && s == error_span {
                        StatusCode::Error
                    } else if rng.random_bool(0.5) {
                        StatusCode::Ok
                    } else {
                        StatusCode::Unset
                    };
                    let mut span = with_status(span(trace, s, from, to), code);
                    span.name = format!("svc-{}/op-{s}", s % 3);
                    span
                })
                .collect();
            Generated {
                id: trace,
                spans,
                has_error,
                slow,
            }
        })
        .collect()
}

/// Spans shuffled across requests of up to 150 spans, each request with one resource per service.
fn into_requests(rng: &mut SmallRng, spans: Vec<Span>) -> Vec<ExportTraceServiceRequest> {
    let mut spans = spans;
    spans.shuffle(rng);
    spans
        .chunks(150)
        .map(|chunk| {
            let mut by_service: BTreeMap<String, Vec<Span>> = BTreeMap::new();
            for span in chunk {
                let service = span.name.split('/').next().unwrap().to_string();
                by_service.entry(service).or_default().push(span.clone());
            }
            ExportTraceServiceRequest {
                resource_spans: by_service
                    .into_iter()
                    .map(|(service, spans)| resource_spans(&service, spans))
                    .collect(),
            }
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn canonical_agent_config_keeps_errors_slow_traces_and_five_percent_of_the_rest() {
    let config = crate::components::parse_config(CANONICAL).unwrap();
    let settings = settings_of(&config);
    assert_eq!((settings.decision_wait, settings.num_traces), (Duration::from_secs(10), 50_000));
    let (sampler, recorder, counters) = sampler(&settings);

    let mut rng = SmallRng::seed_from_u64(2024);
    let traces = generate(&mut rng, 4_000);
    // Expected independently of the policies: the generator's labels, and the hash (tested
    // against known values below) for the 5%.
    let threshold = probabilistic_threshold(5.0);
    let expected: BTreeMap<TraceId, usize> = traces
        .iter()
        .filter(|t| t.has_error || t.slow || trace_id_hash(DEFAULT_HASH_SALT, &t.id) <= threshold)
        .map(|t| (t.id, t.spans.len()))
        .collect();
    let by_hash_only = traces
        .iter()
        .filter(|t| !t.has_error && !t.slow && expected.contains_key(&t.id))
        .count();
    let (errors, slow) = (
        traces.iter().filter(|t| t.has_error).count(),
        traces.iter().filter(|t| t.slow).count(),
    );
    assert!(
        (400..=800).contains(&errors) && (400..=800).contains(&slow),
        "{errors} errors, {slow} slow"
    );
    assert!(
        (80..=250).contains(&by_hash_only),
        "about 5% of ~2,800 ordinary traces, got {by_hash_only}"
    );

    let all_spans: Vec<Span> = traces.iter().flat_map(|t| t.spans.clone()).collect();
    let total_spans = all_spans.len();
    for data in into_requests(&mut rng, all_spans) {
        let (result, rx) = send(&sampler, data).await;
        result.unwrap();
        answered(rx).expect("acknowledged once held");
    }
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(recorder.span_count(), 0, "nothing is decided before decision_wait");

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        recorder.by_trace(),
        expected,
        "exactly the expected traces, each with all its spans"
    );
    let kept_spans: usize = expected.values().sum();
    assert_eq!(dropped(&counters), (total_spans - kept_spans) as u64);
    // Every span is still under its own service's resource.
    for rs in recorder.requests.lock().unwrap().iter().flat_map(|r| &r.resource_spans) {
        let service = crate::pdata::service_name(rs.resource.as_ref());
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            assert!(span.name.starts_with(&format!("{service}/")), "{} under {service}", span.name);
        }
    }

    // Late spans follow their trace's decision at once, without waiting again.
    let kept: Vec<&Generated> = traces.iter().filter(|t| expected.contains_key(&t.id)).take(50).collect();
    let not_kept: Vec<&Generated> = traces.iter().filter(|t| !expected.contains_key(&t.id)).take(50).collect();
    let late: Vec<Span> = kept.iter().chain(&not_kept).map(|t| span(t.id, 100, 0, 1)).collect();
    let before = recorder.span_count();
    let (result, rx) = send(&sampler, request("svc-0", late)).await;
    result.unwrap();
    answered(rx).unwrap();
    let late_out: BTreeSet<TraceId> = recorder.spans()[before..]
        .iter()
        .map(|s| TraceId::from_bytes(&s.trace_id).unwrap())
        .collect();
    assert_eq!(late_out, kept.iter().map(|t| t.id).collect::<BTreeSet<_>>());
    assert_eq!(dropped(&counters), (total_spans - kept_spans + 50) as u64);
    assert_eq!(sampler.buffer().waiting_spans(), 0, "late spans of decided traces do not wait");
}

#[tokio::test(start_paused = true)]
async fn golden_output_of_the_canonical_config() {
    let settings = settings_of(&crate::components::parse_config(CANONICAL).unwrap());
    let (sampler, recorder, _) = sampler(&settings);
    let threshold = probabilistic_threshold(5.0);
    let lucky = (2..).map(id).find(|t| trace_id_hash(DEFAULT_HASH_SALT, t) <= threshold).unwrap();
    let unlucky = (2..).map(id).find(|t| trace_id_hash(DEFAULT_HASH_SALT, t) > threshold).unwrap();
    let (error, slow) = (id(0xe001), id(0x5105));
    for t in [error, slow, lucky, unlucky] {
        assert!(t == lucky || trace_id_hash(DEFAULT_HASH_SALT, &t) > threshold);
    }
    let input = ExportTraceServiceRequest {
        resource_spans: vec![
            resource_spans(
                "api",
                vec![
                    with_status(span(error, 1, 0, 30), StatusCode::Error),
                    span(slow, 2, 0, 8_000),
                    span(lucky, 3, 0, 5),
                    span(unlucky, 4, 0, 5),
                ],
            ),
            resource_spans("db", vec![span(error, 5, 10, 20), span(unlucky, 6, 1, 2)]),
        ],
    };
    let (result, _) = send(&sampler, input).await;
    result.unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    let expected = ExportTraceServiceRequest {
        resource_spans: vec![
            resource_spans("api", vec![with_status(span(error, 1, 0, 30), StatusCode::Error)]),
            resource_spans("db", vec![span(error, 5, 10, 20)]),
            resource_spans("api", vec![span(slow, 2, 0, 8_000)]),
            resource_spans("api", vec![span(lucky, 3, 0, 5)]),
        ],
    };
    assert_eq!(*recorder.requests.lock().unwrap(), vec![expected]);
}

// ---------------------------------------------------------------------------
// The probabilistic hash

#[test]
fn the_probabilistic_hash_and_threshold_match_known_values() {
    // Computed with an independent implementation (Python: FNV-1a 64 over salt + id bytes, and
    // Go's big.Float arithmetic for u64::MAX * ratio), i.e. what the Collector computes.
    let ids = [
        ("0102030405060708090a0b0c0d0e0f10", 15838989281584434349, 6466422796093388406),
        ("00000000000000000000000000000001", 16254957729900898954, 7959616958859997177),
        ("4bf92f3577b34da6a3ce929d0e0e4736", 11908981664384643253, 15940483454982611258),
        ("ffffffffffffffffffffffffffffffff", 1711019809656077869, 8348242308961502774),
    ];
    for (hex, default_salt, my_salt) in ids {
        let trace = TraceId::parse_hex(hex).unwrap();
        assert_eq!(trace_id_hash(DEFAULT_HASH_SALT, &trace), default_salt, "{hex}");
        assert_eq!(trace_id_hash("my-salt", &trace), my_salt, "{hex}");
    }
    let thresholds = [
        (5.0, 922337203685477631),
        (10.0, 1844674407370955263),
        (0.1, 18446744073709551),
        (33.3, 6142765776545279999),
        (50.0, 9223372036854775807),
        (100.0, u64::MAX),
        (0.0, 0),
    ];
    for (percentage, threshold) in thresholds {
        assert_eq!(probabilistic_threshold(percentage), threshold, "{percentage}%");
    }
}

#[test]
fn probabilistic_policy_uses_the_hash_and_its_salt() {
    let mut none = one_policy("{ name: p, type: probabilistic, probabilistic: { sampling_percentage: 0 } }");
    let mut all = one_policy("{ name: p, type: probabilistic, probabilistic: { sampling_percentage: 100 } }");
    let mut some = one_policy("{ name: p, type: probabilistic, probabilistic: { sampling_percentage: 10 } }");
    let mut salted = one_policy("{ name: p, type: probabilistic, probabilistic: { sampling_percentage: 10, hash_salt: my-salt } }");
    let threshold = probabilistic_threshold(10.0);
    let (mut kept, mut kept_salted) = (BTreeSet::new(), BTreeSet::new());
    for n in 1..=2_000u128 {
        let trace = id(n * 7919);
        let spans = || vec![span(trace, 0, 0, 1)];
        assert_eq!(decide(&mut none, spans(), vec![]), NotSampled);
        assert_eq!(decide(&mut all, spans(), vec![]), Sampled);
        let expected = trace_id_hash(DEFAULT_HASH_SALT, &trace) <= threshold;
        assert_eq!(decide(&mut some, spans(), vec![]) == Sampled, expected);
        if expected {
            kept.insert(trace);
        }
        if decide(&mut salted, spans(), vec![]) == Sampled {
            kept_salted.insert(trace);
        }
    }
    assert!((120..=280).contains(&kept.len()), "about 10% of 2,000: {}", kept.len());
    assert!((120..=280).contains(&kept_salted.len()));
    assert_ne!(kept, kept_salted, "another salt keeps other traces");
}

// ---------------------------------------------------------------------------
// Each policy type

#[test]
fn always_sample() {
    let mut policy = one_policy("{ name: all, type: always_sample }");
    assert_eq!(decide(&mut policy, vec![span(id(1), 0, 0, 1)], vec![]), Sampled);
}

#[test]
fn latency_measures_the_whole_trace_with_an_inclusive_threshold_and_optional_upper_bound() {
    let mut slow = one_policy("{ name: slow, type: latency, latency: { threshold_ms: 8000 } }");
    let t = id(1);
    assert_eq!(decide(&mut slow, vec![span(t, 0, 0, 7_999)], vec![]), NotSampled);
    assert_eq!(decide(&mut slow, vec![span(t, 0, 0, 8_000)], vec![]), Sampled);
    // Two 5 s spans, 9 s from the first start to the last end.
    assert_eq!(
        decide(&mut slow, vec![span(t, 0, 0, 5_000), span(t, 1, 4_000, 9_000)], vec![]),
        Sampled
    );
    let mut band = one_policy("{ name: band, type: latency, latency: { threshold_ms: 5000, upper_threshold_ms: 10000 } }");
    assert_eq!(decide(&mut band, vec![span(t, 0, 0, 4_999)], vec![]), NotSampled);
    assert_eq!(decide(&mut band, vec![span(t, 0, 0, 10_000)], vec![]), Sampled);
    // A short child inside does not make a long trace fit under the upper bound.
    assert_eq!(
        decide(&mut band, vec![span(t, 0, 0, 10_001), span(t, 1, 10, 20)], vec![]),
        NotSampled
    );
}

#[test]
fn status_code_looks_for_any_span_with_one_of_the_codes() {
    let mut errors = one_policy("{ name: e, type: status_code, status_code: { status_codes: [ERROR] } }");
    let t = id(1);
    let ok = || with_status(span(t, 0, 0, 1), StatusCode::Ok);
    assert_eq!(decide(&mut errors, vec![ok(), span(t, 1, 0, 1)], vec![]), NotSampled);
    assert_eq!(
        decide(&mut errors, vec![ok(), with_status(span(t, 1, 0, 1), StatusCode::Error)], vec![]),
        Sampled
    );
    let mut unset = one_policy("{ name: u, type: status_code, status_code: { status_codes: [UNSET, OK] } }");
    assert_eq!(decide(&mut unset, vec![span(t, 0, 0, 1)], vec![]), Sampled, "no status is UNSET");
    assert_eq!(
        decide(&mut unset, vec![with_status(span(t, 0, 0, 1), StatusCode::Error)], vec![]),
        NotSampled
    );
}

#[test]
fn string_attribute_matches_span_and_resource_values_exactly_or_by_regex_and_inverts() {
    let t = id(1);
    let on_span = |value: any_value::Value| vec![with_attributes(span(t, 0, 0, 1), vec![kv("http.route", value)])];
    let mut exact = one_policy("{ name: s, type: string_attribute, string_attribute: { key: http.route, values: [/health, /ready] } }");
    assert_eq!(decide(&mut exact, on_span(string("/ready")), vec![]), Sampled);
    assert_eq!(decide(&mut exact, on_span(string("/ready/x")), vec![]), NotSampled);
    assert_eq!(decide(&mut exact, on_span(any_value::Value::IntValue(1)), vec![]), NotSampled);
    assert_eq!(
        decide(&mut exact, vec![span(t, 0, 0, 1)], vec![kv("http.route", string("/health"))]),
        Sampled,
        "resource attributes count too"
    );

    let mut regex = one_policy(
        "{ name: s, type: string_attribute, string_attribute: { key: http.route, values: ['^/api/', health], enabled_regex_matching: true, cache_max_size: 2 } }",
    );
    assert_eq!(decide(&mut regex, on_span(string("/api/users")), vec![]), Sampled);
    assert_eq!(
        decide(&mut regex, on_span(string("/healthz")), vec![]),
        Sampled,
        "unanchored, as in the Collector"
    );
    assert_eq!(decide(&mut regex, on_span(string("/v1/api/")), vec![]), NotSampled);
    let Rule::StringAttribute {
        matcher: policy::StringMatcher::Regex { memo, .. },
        ..
    } = &regex.rule
    else {
        panic!()
    };
    assert!(memo.len() <= 2, "the match memo is bounded by cache_max_size");

    let mut inverted =
        one_policy("{ name: s, type: string_attribute, string_attribute: { key: http.route, values: [/health], invert_match: true } }");
    assert_eq!(decide(&mut inverted, on_span(string("/users")), vec![]), Sampled);
    assert_eq!(
        decide(&mut inverted, vec![span(t, 0, 0, 1)], vec![]),
        Sampled,
        "no such attribute at all"
    );
    let mixed = vec![
        with_attributes(span(t, 0, 0, 1), vec![kv("http.route", string("/users"))]),
        with_attributes(span(t, 1, 0, 1), vec![kv("http.route", string("/health"))]),
    ];
    assert_eq!(
        decide(&mut inverted, mixed, vec![]),
        NotSampled,
        "one matching span is enough to not sample"
    );
}

#[test]
fn numeric_attribute_checks_a_range_on_spans_and_resources() {
    let t = id(1);
    let code = |n: any_value::Value| vec![with_attributes(span(t, 0, 0, 1), vec![kv("http.status_code", n)])];
    let int = any_value::Value::IntValue;
    let mut range =
        one_policy("{ name: n, type: numeric_attribute, numeric_attribute: { key: http.status_code, min_value: 500, max_value: 599 } }");
    assert_eq!(decide(&mut range, code(int(500)), vec![]), Sampled);
    assert_eq!(decide(&mut range, code(int(599)), vec![]), Sampled);
    assert_eq!(decide(&mut range, code(int(600)), vec![]), NotSampled);
    assert_eq!(decide(&mut range, code(any_value::Value::DoubleValue(503.5)), vec![]), Sampled);
    assert_eq!(
        decide(&mut range, code(string("503")), vec![]),
        NotSampled,
        "strings are not numbers"
    );
    assert_eq!(
        decide(&mut range, vec![span(t, 0, 0, 1)], vec![kv("http.status_code", int(502))]),
        Sampled
    );
    let mut at_least = one_policy("{ name: n, type: numeric_attribute, numeric_attribute: { key: http.status_code, min_value: 400 } }");
    assert_eq!(decide(&mut at_least, code(int(i64::MAX)), vec![]), Sampled);
    assert_eq!(decide(&mut at_least, code(int(399)), vec![]), NotSampled);
    let mut inverted = one_policy(
        "{ name: n, type: numeric_attribute, numeric_attribute: { key: http.status_code, max_value: 399, invert_match: true } }",
    );
    assert_eq!(decide(&mut inverted, code(int(500)), vec![]), Sampled);
    assert_eq!(decide(&mut inverted, code(int(200)), vec![]), NotSampled);
}

#[test]
fn boolean_attribute_compares_and_inverts() {
    let t = id(1);
    let flag = |b: bool| {
        vec![with_attributes(
            span(t, 0, 0, 1),
            vec![kv("app.force_sample", any_value::Value::BoolValue(b))],
        )]
    };
    let mut forced = one_policy("{ name: b, type: boolean_attribute, boolean_attribute: { key: app.force_sample, value: true } }");
    assert_eq!(decide(&mut forced, flag(true), vec![]), Sampled);
    assert_eq!(decide(&mut forced, flag(false), vec![]), NotSampled);
    assert_eq!(decide(&mut forced, vec![span(t, 0, 0, 1)], vec![]), NotSampled);
    assert_eq!(
        decide(
            &mut forced,
            vec![span(t, 0, 0, 1)],
            vec![kv("app.force_sample", any_value::Value::BoolValue(true))]
        ),
        Sampled
    );
    let mut inverted =
        one_policy("{ name: b, type: boolean_attribute, boolean_attribute: { key: app.force_sample, value: true, invert_match: true } }");
    assert_eq!(decide(&mut inverted, flag(true), vec![]), NotSampled);
    assert_eq!(decide(&mut inverted, flag(false), vec![]), Sampled);
}

#[test]
fn rate_limiting_is_a_token_bucket_of_spans() {
    let mut limit = one_policy("{ name: r, type: rate_limiting, rate_limiting: { spans_per_second: 10 } }");
    let t = id(1);
    let trace = |n: u64| (0..n).map(|s| span(t, s, 0, 1)).collect::<Vec<_>>();
    let start = Instant::now();
    // The bucket holds two seconds' worth (20) and starts full.
    assert_eq!(decide_at(&mut limit, trace(15), vec![], start), Sampled);
    assert_eq!(decide_at(&mut limit, trace(10), vec![], start), NotSampled, "5 left");
    assert_eq!(decide_at(&mut limit, trace(5), vec![], start), Sampled);
    let later = start + Duration::from_millis(1_500);
    assert_eq!(decide_at(&mut limit, trace(16), vec![], later), NotSampled, "15 refilled");
    assert_eq!(decide_at(&mut limit, trace(15), vec![], later), Sampled);
    let much_later = later + Duration::from_secs(60);
    assert_eq!(
        decide_at(&mut limit, trace(21), vec![], much_later),
        NotSampled,
        "never more than the burst"
    );
    assert_eq!(decide_at(&mut limit, trace(20), vec![], much_later), Sampled);
}

#[test]
fn bytes_limiting_is_a_token_bucket_of_the_traces_protobuf_bytes() {
    let t = id(1);
    let trace = || (0..3).map(|s| span(t, s, 0, 1)).collect::<Vec<_>>();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![resource_spans("svc", trace())],
    };
    let size = prost::Message::encoded_len(&request) as u64;
    let mut limit = one_policy(&format!(
        "{{ name: b, type: bytes_limiting, bytes_limiting: {{ bytes_per_second: {size} }} }}"
    ));
    let start = Instant::now();
    // The bucket holds two seconds' worth (two such traces) and starts full.
    assert_eq!(decide_at(&mut limit, trace(), vec![], start), Sampled);
    assert_eq!(decide_at(&mut limit, trace(), vec![], start), Sampled);
    assert_eq!(decide_at(&mut limit, trace(), vec![], start), NotSampled, "empty");
    let later = start + Duration::from_secs(1);
    assert_eq!(
        decide_at(&mut limit, trace(), vec![], later),
        Sampled,
        "a second refills one trace's bytes"
    );
    let mut small = one_policy(&format!(
        "{{ name: b, type: bytes_limiting, bytes_limiting: {{ bytes_per_second: {size}, burst_capacity: {} }} }}",
        size - 1
    ));
    let much_later = start + Duration::from_secs(60);
    assert_eq!(
        decide_at(&mut small, trace(), vec![], much_later),
        NotSampled,
        "a trace larger than the burst capacity never passes"
    );
}

#[test]
fn trace_state_samples_a_trace_where_a_span_s_valid_tracestate_has_a_listed_value() {
    let mut policy = one_policy("{ name: ts, type: trace_state, trace_state: { key: vendor, values: [gold, silver] } }");
    let t = id(1);
    let with_state = |state: &str| {
        let mut span = span(t, 0, 0, 1);
        span.trace_state = state.into();
        span
    };
    let cases = [
        ("vendor=gold", Sampled),
        ("ot=th:8, vendor=silver ", Sampled),
        ("rojo=00f067aa0ba902b7,vendor=bronze", NotSampled),
        ("vendor=gold,vendor=silver", NotSampled),
        ("Vendor=gold", NotSampled),
        ("vendor=gold,x", NotSampled),
        ("", NotSampled),
    ];
    for (state, expected) in cases {
        assert_eq!(decide(&mut policy, vec![with_state(state)], vec![]), expected, "{state:?}");
    }
    let two = vec![with_state("vendor=bronze"), with_state("acme@vendor=x,vendor=gold")];
    assert_eq!(decide(&mut policy, two, vec![]), Sampled, "any span of the trace");
}

#[test]
fn policies_may_carry_the_settings_blocks_of_other_types_as_in_the_collector() {
    let policy = one_policy(
        "{ name: slow, type: latency, latency: { threshold_ms: 100 }, string_attribute: { key: k, values: [v] }, composite: {} }",
    );
    assert!(matches!(
        policy.rule,
        Rule::Latency {
            threshold_ms: 100,
            upper_threshold_ms: None
        }
    ));
    let leaves = "latency, status_code, probabilistic, string_attribute, numeric_attribute, boolean_attribute, rate_limiting, \
                  bytes_limiting, span_count, trace_state, ottl_condition, and, not";
    let errors = parse_errors(
        r#"policies:
  - { name: a, type: always_sample, latency: 5 }
  - { name: b, type: and, and: { and_sub_policy: [ { name: x, type: always_sample, composite: {} } ] } }
  - { name: c, type: latency, latency: {}, colour: red }
"#,
    );
    let p = "processors.tail_sampling.policies";
    assert_eq!(
        errors,
        [
            format!("{p}[0].latency: expected a mapping, got a number"),
            format!("{p}[1].and.and_sub_policy[0].composite: unknown key (expected one of: name, type, {leaves})"),
            format!("{p}[2].colour: unknown key (expected one of: name, type, {leaves}, drop, composite)"),
        ]
    );
}

#[test]
fn trace_state_and_bytes_limiting_config_errors() {
    let errors = parse_errors(
        r#"policies:
  - { name: s, type: trace_state, trace_state: { key: Vendor, values: ["", ok, "a b "] } }
  - { name: t, type: trace_state, trace_state: { key: vendor, values: [] } }
  - { name: b, type: bytes_limiting, bytes_limiting: { burst_capacity: 10 } }
"#,
    );
    let p = "processors.tail_sampling.policies";
    let not_a_value = "is not a tracestate value: 1 to 256 printable ASCII characters other than ',' and '=', not ending in a space";
    assert_eq!(
        errors,
        [
            format!(
                "{p}[0].trace_state.key: \"Vendor\" is not a tracestate key (lowercase letters, digits and _-*/, starting with \
                 a letter; or tenant@system)"
            ),
            format!("{p}[0].trace_state.values[0]: {not_a_value}"),
            format!("{p}[0].trace_state.values[2]: {not_a_value}"),
            format!("{p}[1].trace_state.values: must list at least one value"),
            format!("{p}[2].bytes_limiting: bytes_per_second is required (e.g. bytes_per_second: 1048576)"),
        ]
    );
}

#[test]
fn yaml_integers_written_with_underscores_are_read_as_go_s_yaml_reads_them() {
    let settings = parse_settings(
        "num_traces: 100_000\ndecision_cache: { sampled_cache_size: 1_000_000 }\npolicies: [ { name: b, type: bytes_limiting, bytes_limiting: { bytes_per_second: 1_048_576 } } ]",
    );
    assert_eq!((settings.num_traces, settings.sampled_cache_size), (100_000, 1_000_000));
    let mut errors = Vec::new();
    let mut p = Parser::collecting(&mut errors);
    let text = |s: &str| Value::String(s.into());
    assert_eq!(p.integer(&text("-1_500"), "a"), Some(-1_500));
    assert_eq!(p.integer(&text("+2_000"), "b"), Some(2_000));
    assert_eq!(p.unsigned(&text("100_000"), "c"), Some(100_000));
    assert_eq!(p.unsigned(&text("1__000"), "d"), Some(1_000), "Go's YAML drops every underscore");
    assert_eq!(p.size(&text("10_000_000"), "e"), Some(10_000_000));
    assert_eq!(p.size(&text("64MiB"), "f"), Some(64 << 20));
    assert_eq!(p.unsigned(&text("-5_000"), "g"), None);
    assert_eq!(p.integer(&text("0_755"), "h"), None, "Go would read the digits as octal");
    assert_eq!(p.integer(&text("_100"), "i"), None);
    assert_eq!(p.integer(&text("1_000.5"), "j"), None);
    assert_eq!(
        errors,
        [
            "g: expected a non-negative integer, got a string",
            "h: expected an integer, got a string",
            "i: expected an integer, got a string",
            "j: expected an integer, got a string",
        ]
    );
}

#[test]
fn span_count_checks_min_and_max() {
    let mut count = one_policy("{ name: c, type: span_count, span_count: { min_spans: 2, max_spans: 3 } }");
    let t = id(1);
    let trace = |n: u64| (0..n).map(|s| span(t, s, 0, 1)).collect::<Vec<_>>();
    let decisions: Vec<Decision> = (1..=4).map(|n| decide(&mut count, trace(n), vec![])).collect();
    assert_eq!(decisions, [NotSampled, Sampled, Sampled, NotSampled]);
    let mut at_least = one_policy("{ name: c, type: span_count, span_count: { min_spans: 2 } }");
    assert_eq!(decide(&mut at_least, trace(1_000), vec![]), Sampled);
}

#[test]
fn ottl_condition_on_spans_and_span_events_with_error_modes() {
    let t = id(1);
    let mut policy = one_policy(
        r#"{ name: o, type: ottl_condition, ottl_condition: { span: ['attributes["http.route"] == "/checkout" and resource.attributes["service.name"] == "svc"'], spanevent: ['name == "exception"'] } }"#,
    );
    let route = |r: &str| with_attributes(span(t, 0, 0, 1), vec![kv("http.route", string(r))]);
    assert_eq!(decide(&mut policy, vec![route("/home")], vec![]), NotSampled);
    assert_eq!(decide(&mut policy, vec![route("/home"), route("/checkout")], vec![]), Sampled);
    let mut with_event = route("/home");
    with_event.events = vec![Event {
        name: "exception".into(),
        ..Default::default()
    }];
    assert_eq!(decide(&mut policy, vec![with_event], vec![]), Sampled);

    // `attributes["n"] + 1` fails at run time on a string; the second condition would sample.
    let conditions = r#"span: ['attributes["n"] + 1 > 0', 'name == "op-0"']"#;
    let failing = || vec![with_attributes(span(t, 0, 0, 1), vec![kv("n", string("x"))])];
    let mut propagate = one_policy(&format!("{{ name: o, type: ottl_condition, ottl_condition: {{ {conditions} }} }}"));
    let mut view_batches = vec![resource_spans("svc", failing())];
    let mut view = TraceView {
        id: t,
        span_count: 1,
        batches: &mut view_batches,
    };
    let error = propagate.evaluate(&mut view, Instant::now()).unwrap_err();
    assert!(error.contains("cannot add"), "{error}");
    for mode in ["ignore", "silent"] {
        let mut lenient = one_policy(&format!(
            "{{ name: o, type: ottl_condition, ottl_condition: {{ error_mode: {mode}, {conditions} }} }}"
        ));
        assert_eq!(
            decide(&mut lenient, failing(), vec![]),
            Sampled,
            "{mode}: the failing condition counts as false"
        );
    }
}

// ---------------------------------------------------------------------------
// Combinations

#[test]
fn and_not_and_drop_combine_sub_policies() {
    let t = id(1);
    let error_on = |service: &str| {
        let spans = vec![with_status(span(t, 0, 0, 1), StatusCode::Error)];
        (spans, vec![kv("deployment.environment", string(service))])
    };
    let mut and = one_policy(
        "{ name: a, type: and, and: { and_sub_policy: [ { name: prod, type: string_attribute, string_attribute: { key: deployment.environment, values: [prod] } }, { name: e, type: status_code, status_code: { status_codes: [ERROR] } } ] } }",
    );
    let (spans, resource) = error_on("prod");
    assert_eq!(decide(&mut and, spans, resource), Sampled);
    let (spans, resource) = error_on("dev");
    assert_eq!(decide(&mut and, spans, resource), NotSampled);

    let mut not = one_policy(
        "{ name: n, type: not, not: { not_sub_policy: { name: e, type: status_code, status_code: { status_codes: [ERROR] } } } }",
    );
    assert_eq!(decide(&mut not, vec![span(t, 0, 0, 1)], vec![]), Sampled);
    let (spans, resource) = error_on("prod");
    assert_eq!(decide(&mut not, spans, resource), NotSampled);

    let mut drop = one_policy(
        "{ name: d, type: drop, drop: { drop_sub_policy: [ { name: probe, type: string_attribute, string_attribute: { key: http.route, values: [/health] } }, { type: not, not: { not_sub_policy: { type: status_code, status_code: { status_codes: [ERROR] } } } } ] } }",
    );
    let probe = |code: StatusCode| {
        vec![with_status(
            with_attributes(span(t, 0, 0, 1), vec![kv("http.route", string("/health"))]),
            code,
        )]
    };
    assert_eq!(decide(&mut drop, probe(StatusCode::Ok), vec![]), Dropped, "a successful probe");
    assert_eq!(
        decide(&mut drop, probe(StatusCode::Error), vec![]),
        NotSampled,
        "a failing probe is not dropped"
    );
}

#[test]
fn drop_beats_sampled_and_nothing_sampled_is_not_kept() {
    let all = policies(
        "  - { name: keep-all, type: always_sample }\n  - { name: no-probes, type: drop, drop: { drop_sub_policy: [ { name: probe, type: string_attribute, string_attribute: { key: http.route, values: [/health] } } ] } }",
    );
    let mut set = PolicySet::new(&all);
    let t = id(1);
    let mut decide_set = |spans: Vec<Span>| {
        let mut batches = vec![resource_spans("svc", spans)];
        let mut view = TraceView {
            id: t,
            span_count: 1,
            batches: &mut batches,
        };
        set.keep(&mut view, Instant::now())
    };
    assert!(decide_set(vec![span(t, 0, 0, 1)]));
    assert!(!decide_set(vec![with_attributes(
        span(t, 0, 0, 1),
        vec![kv("http.route", string("/health"))]
    )]));

    let none = policies("  - { name: e, type: status_code, status_code: { status_codes: [ERROR] } }");
    let mut set = PolicySet::new(&none);
    let mut batches = vec![resource_spans("svc", vec![span(t, 0, 0, 1)])];
    let mut view = TraceView {
        id: t,
        span_count: 1,
        batches: &mut batches,
    };
    assert!(!set.keep(&mut view, Instant::now()));
}

#[test]
fn composite_allocates_spans_per_second_in_policy_order() {
    let yaml = |order: &str| {
        format!(
            "{{ name: c, type: composite, composite: {{ max_total_spans_per_second: 100, policy_order: [{order}], composite_sub_policy: [ {{ name: vip, type: string_attribute, string_attribute: {{ key: tier, values: [vip] }} }}, {{ name: rest, type: always_sample }} ], rate_allocation: [ {{ policy: vip, percent: 50 }} ] }} }}"
        )
    };
    let t = id(1);
    let trace = |tier: &str| {
        (0..20)
            .map(|s| with_attributes(span(t, s, 0, 1), vec![kv("tier", string(tier))]))
            .collect::<Vec<_>>()
    };
    let start = Instant::now();
    let mut composite = one_policy(&yaml("vip, rest"));
    let vip: Vec<Decision> = (0..3).map(|_| decide_at(&mut composite, trace("vip"), vec![], start)).collect();
    assert_eq!(
        vip,
        [Sampled, Sampled, NotSampled],
        "vip may keep 50 spans a second: the third 20 do not fit"
    );
    let rest: Vec<Decision> = (0..4).map(|_| decide_at(&mut composite, trace("std"), vec![], start)).collect();
    assert_eq!(rest, [Sampled, Sampled, Sampled, NotSampled], "the rest fills the total of 100");
    let next_second = start + Duration::from_secs(1);
    assert_eq!(
        decide_at(&mut composite, trace("vip"), vec![], next_second),
        Sampled,
        "counts restart every second"
    );

    // With `rest` first, vip traces are kept by `rest` (up to the total) before vip's share applies.
    let mut reordered = one_policy(&yaml("rest, vip"));
    let vip: Vec<Decision> = (0..6).map(|_| decide_at(&mut reordered, trace("vip"), vec![], start)).collect();
    assert_eq!(vip, [Sampled, Sampled, Sampled, Sampled, Sampled, NotSampled]);
}

// ---------------------------------------------------------------------------
// The sampler: timing, bounds, late spans, shutdown

const ERRORS_ONLY: &str = "decision_wait: 10s\npolicies:\n  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }";

fn error_trace(t: TraceId, spans: u64) -> ExportTraceServiceRequest {
    let mut list: Vec<Span> = (0..spans).map(|s| span(t, s, 0, 1)).collect();
    list[0] = with_status(list[0].clone(), StatusCode::Error);
    request("svc", list)
}

fn ok_trace(t: TraceId, spans: u64) -> ExportTraceServiceRequest {
    request("svc", (0..spans).map(|s| span(t, s, 0, 1)).collect())
}

#[tokio::test(start_paused = true)]
async fn a_trace_is_decided_decision_wait_after_its_first_span() {
    let (sampler, recorder, counters) = sampler(&parse_settings(ERRORS_ONLY));
    let (a, b) = (id(0xa), id(0xb));
    send(&sampler, ok_trace(a, 1)).await.0.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    // b starts 5 s later; a's error span arrives before a's deadline and counts.
    send(&sampler, error_trace(b, 2)).await.0.unwrap();
    send(&sampler, error_trace(a, 1)).await.0.unwrap();
    tokio::time::sleep(Duration::from_millis(4_999)).await;
    assert_eq!(recorder.span_count(), 0);
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(recorder.by_trace(), BTreeMap::from([(a, 2)]), "a at 10 s; b waits until 15 s");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(recorder.by_trace(), BTreeMap::from([(a, 2), (b, 2)]));
    assert_eq!(dropped(&counters), 0);
    assert_eq!(counters.queued.load(Ordering::Relaxed), 0, "nothing waits any more");
}

#[tokio::test(start_paused = true)]
async fn num_traces_pushes_out_the_oldest_trace_deciding_it_early() {
    let settings = parse_settings(&format!("num_traces: 2\n{ERRORS_ONLY}"));
    let (sampler, recorder, counters) = sampler(&settings);
    let (a, b, c, d) = (id(0xa), id(0xb), id(0xc), id(0xd));
    send(&sampler, error_trace(a, 3)).await.0.unwrap();
    send(&sampler, ok_trace(b, 2)).await.0.unwrap();
    assert_eq!(recorder.span_count(), 0);
    send(&sampler, ok_trace(c, 1)).await.0.unwrap();
    assert_eq!(
        recorder.by_trace(),
        BTreeMap::from([(a, 3)]),
        "a was pushed out by c and decided at once"
    );
    send(&sampler, error_trace(d, 1)).await.0.unwrap();
    assert_eq!(dropped(&counters), 2, "b was pushed out by d: not sampled");
    assert_eq!(sampler.buffer().held_traces(), 2);
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(recorder.by_trace(), BTreeMap::from([(a, 3), (d, 1)]));
    assert_eq!(dropped(&counters), 3);
    // Decided traces hold the slots now; a new one pushes out the decided c, deciding nothing.
    send(&sampler, ok_trace(id(0xe), 1)).await.0.unwrap();
    assert_eq!((recorder.span_count(), dropped(&counters)), (4, 3));
    // a was forgotten (no decision cache): its late span starts a new trace, as in the Collector.
    send(&sampler, ok_trace(a, 1)).await.0.unwrap();
    assert_eq!(sampler.buffer().waiting_spans(), 2);
}

#[tokio::test(start_paused = true)]
async fn decision_caches_remember_decisions_after_the_trace_is_gone() {
    let settings = parse_settings(&format!(
        "num_traces: 1\ndecision_cache: {{ sampled_cache_size: 10, non_sampled_cache_size: 10 }}\n{ERRORS_ONLY}"
    ));
    let (sampler, recorder, counters) = sampler(&settings);
    let (kept, not_kept) = (id(0xa), id(0xb));
    send(&sampler, error_trace(kept, 1)).await.0.unwrap();
    send(&sampler, ok_trace(not_kept, 1)).await.0.unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(recorder.by_trace(), BTreeMap::from([(kept, 1)]));
    assert_eq!(sampler.buffer().cached_decisions(), (1, 1));
    assert_eq!(
        sampler.buffer().held_traces(),
        0,
        "cached decisions free their slots, as in the Collector"
    );
    // Push both out of any slot, then send late spans.
    send(&sampler, ok_trace(id(0xc), 1)).await.0.unwrap();
    send(&sampler, ok_trace(kept, 2)).await.0.unwrap();
    send(&sampler, ok_trace(not_kept, 2)).await.0.unwrap();
    assert_eq!(recorder.by_trace(), BTreeMap::from([(kept, 3)]), "forwarded at once");
    assert_eq!(dropped(&counters), 3, "b's first span and its two late ones");
    assert_eq!(sampler.buffer().waiting_spans(), 1, "only c waits");
}

#[test]
fn the_decision_cache_is_a_bounded_lru() {
    let mut cache = DecisionCache::new(2);
    cache.put(id(1));
    cache.put(id(2));
    assert!(cache.hit(&id(1)));
    cache.put(id(3));
    assert!(cache.hit(&id(1)) && cache.hit(&id(3)));
    assert!(!cache.hit(&id(2)), "the least recently used went");
    assert_eq!(cache.len(), 2);
    let mut off = DecisionCache::new(0);
    off.put(id(1));
    assert!(!off.hit(&id(1)));
}

#[tokio::test(start_paused = true)]
async fn a_full_span_budget_refuses_retryably_and_changes_nothing() {
    let limits = Limits {
        num_traces: 100,
        max_buffered_spans: 10,
        max_spans_per_trace: 1_000,
    };
    let (sampler, recorder, _) = sampler_with_limits(&parse_settings(ERRORS_ONLY), limits);
    send(&sampler, error_trace(id(1), 8)).await.0.unwrap();
    let (result, rx) = send(&sampler, ok_trace(id(2), 5)).await;
    let error = result.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert_eq!(
        error.to_string(),
        "otelbox is busy: tail_sampling would hold 13 spans awaiting decisions, more than its limit of 10; retry later"
    );
    assert_eq!(answered(rx).unwrap_err(), error, "the sender's ack says so too");
    {
        let buffer = sampler.buffer();
        assert_eq!((buffer.waiting_spans(), buffer.held_traces()), (8, 1), "nothing changed");
    }
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(recorder.span_count(), 8);
    // Room again; and with nothing waiting, even a request larger than the budget is taken.
    send(&sampler, ok_trace(id(2), 5)).await.0.unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    send(&sampler, error_trace(id(3), 30)).await.0.unwrap();
    assert_eq!(sampler.buffer().waiting_spans(), 30);
}

#[tokio::test(start_paused = true)]
async fn a_trace_reaching_the_per_trace_limit_is_decided_at_once() {
    let limits = Limits {
        num_traces: 100,
        max_buffered_spans: 1_000,
        max_spans_per_trace: 5,
    };
    let (sampler, recorder, _) = sampler_with_limits(&parse_settings(ERRORS_ONLY), limits);
    let t = id(7);
    send(&sampler, error_trace(t, 3)).await.0.unwrap();
    assert_eq!(recorder.span_count(), 0);
    send(&sampler, ok_trace(t, 3)).await.0.unwrap();
    assert_eq!(recorder.span_count(), 6, "decided at 6 spans, without waiting");
    send(&sampler, ok_trace(t, 2)).await.0.unwrap();
    assert_eq!(recorder.span_count(), 8, "later spans follow the decision");
    assert_eq!(sampler.buffer().waiting_spans(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_decides_and_forwards_everything_waiting() {
    let (sampler, recorder, counters) = sampler(&parse_settings(ERRORS_ONLY));
    let (a, b) = (id(0xa), id(0xb));
    send(&sampler, error_trace(a, 2)).await.0.unwrap();
    send(&sampler, ok_trace(b, 3)).await.0.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    sampler.shutdown().await;
    assert_eq!(recorder.by_trace(), BTreeMap::from([(a, 2)]));
    assert_eq!(dropped(&counters), 3);
    assert!(
        recorder.shut_down.load(Ordering::Relaxed),
        "the next stage is shut down after the flush"
    );
    let (result, rx) = send(&sampler, error_trace(id(0xc), 1)).await;
    assert!(result.unwrap_err().is_retryable(), "nothing is taken after shutdown");
    assert!(answered(rx).is_err());
}

#[tokio::test(start_paused = true)]
async fn kept_traces_the_next_stage_refuses_are_counted_as_dropped() {
    let (sampler, recorder, counters) = sampler(&parse_settings(ERRORS_ONLY));
    recorder.refuse.store(true, Ordering::Relaxed);
    let (result, rx) = send(&sampler, error_trace(id(1), 4)).await;
    result.unwrap();
    answered(rx).unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(dropped(&counters), 4);
}

#[tokio::test(start_paused = true)]
async fn spans_without_a_valid_trace_id_are_dropped_and_counted() {
    let (sampler, recorder, counters) = sampler(&parse_settings(ERRORS_ONLY));
    let mut bad = span(id(1), 0, 0, 1);
    bad.trace_id = vec![1, 2, 3];
    let mut zero = span(id(1), 1, 0, 1);
    zero.trace_id = vec![0; 16];
    send(&sampler, request("svc", vec![bad, zero])).await.0.unwrap();
    assert_eq!((dropped(&counters), sampler.buffer().held_traces()), (2, 0));
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(recorder.span_count(), 0);
}

#[test]
fn requests_are_split_by_trace_keeping_resources_and_scopes() {
    let (a, b) = (id(0xa), id(0xb));
    let scope = |name: &str, spans: Vec<Span>| ScopeSpans {
        scope: Some(InstrumentationScope {
            name: name.into(),
            ..Default::default()
        }),
        spans,
        schema_url: format!("{name}-schema"),
    };
    let data = ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", string("api"))],
                    ..Default::default()
                }),
                scope_spans: vec![
                    scope("http", vec![span(a, 1, 0, 1), span(b, 2, 0, 1), span(a, 3, 0, 1)]),
                    scope("db", vec![span(a, 4, 0, 1)]),
                ],
                schema_url: "api-schema".into(),
            },
            resource_spans("worker", vec![span(b, 5, 0, 1)]),
        ],
    };
    let (parts, invalid) = split_by_trace(data);
    assert_eq!(invalid, 0);
    /// Per resource: its service and, per scope, the scope name and span names.
    type Shape = Vec<(String, Vec<(String, Vec<String>)>)>;
    let summary: Vec<(TraceId, usize, Shape)> = parts
        .iter()
        .map(|part| {
            let batches = part
                .batches
                .iter()
                .map(|rs| {
                    let scopes = rs
                        .scope_spans
                        .iter()
                        .map(|ss| {
                            let name = ss.scope.as_ref().unwrap().name.clone();
                            (name, ss.spans.iter().map(|s| s.name.clone()).collect())
                        })
                        .collect();
                    (crate::pdata::service_name(rs.resource.as_ref()), scopes)
                })
                .collect();
            (part.id, part.spans, batches)
        })
        .collect();
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        vec![
            (
                a,
                3,
                vec![(
                    "api".to_string(),
                    vec![("http".to_string(), names(&["op-1", "op-3"])), ("db".to_string(), names(&["op-4"]))]
                )]
            ),
            (
                b,
                2,
                vec![
                    ("api".to_string(), vec![("http".to_string(), names(&["op-2"]))]),
                    ("worker".to_string(), vec![("tests".to_string(), names(&["op-5"]))]),
                ]
            ),
        ]
    );
    assert_eq!(parts[0].batches[0].schema_url, "api-schema");
    assert_eq!(parts[0].batches[0].scope_spans[1].schema_url, "db-schema");
}

// ---------------------------------------------------------------------------
// Config

#[test]
fn defaults_and_every_key() {
    let settings = parse_settings("policies: [ { name: all, type: always_sample } ]");
    assert_eq!(
        (
            settings.decision_wait,
            settings.num_traces,
            settings.expected_new_traces_per_sec,
            settings.sampled_cache_size,
            settings.non_sampled_cache_size
        ),
        (Duration::from_secs(30), 50_000, 0, 0, 0)
    );
    let settings = parse_settings(
        "decision_wait: 2s\nnum_traces: 100\nexpected_new_traces_per_sec: 10\ndecision_cache: { sampled_cache_size: 1000, non_sampled_cache_size: 2000 }\npolicies: [ { name: all, type: always_sample } ]",
    );
    assert_eq!(
        (
            settings.decision_wait,
            settings.num_traces,
            settings.expected_new_traces_per_sec,
            settings.sampled_cache_size,
            settings.non_sampled_cache_size
        ),
        (Duration::from_secs(2), 100, 10, 1000, 2000)
    );
}

#[test]
fn config_errors_are_reported_with_their_paths() {
    let errors = parse_errors(
        r#"decision_wait: 0s
num_traces: 0
decision_cache: { sampled_cache_size: -1, other: 1 }
sample_on_first_match: true
policies:
  - { type: always_sample }
  - { name: a, type: latency, latency: { threshold_ms: 100, upper_threshold_ms: 50 } }
  - { name: a, type: status_code, status_code: { status_codes: [ERROR, FAILED] } }
  - { name: c, type: probabilistic, probabilistic: { sampling_percentage: 101 } }
  - { name: d, type: string_attribute, string_attribute: { key: k, values: ["("], enabled_regex_matching: true } }
  - { name: e, type: numeric_attribute, numeric_attribute: { key: k } }
  - { name: f, type: boolean_attribute, string_attribute: { key: k, value: true } }
  - { name: g, type: rate_limiting, rate_limiting: { spans_per_second: 0 } }
  - { name: h, type: span_count, span_count: { min_spans: 5, max_spans: 2 } }
  - { name: i, type: ottl_condition, ottl_condition: { error_mode: loud, span: ['attributes["x"] == ', 'name == "ok"'], spanevent: ['nope == 1'] } }
  - { name: j, type: and, and: { and_sub_policy: [ { name: x, type: drop, drop: {} } ] } }
  - { name: k, type: not, not: {} }
  - { name: l, type: composite, composite: { max_total_spans_per_second: 100, policy_order: [p1], composite_sub_policy: [ { name: p1, type: always_sample }, { type: always_sample } ] } }
  - { name: m, type: sometimes }
  - { name: n, type: status_code }
"#,
    );
    let p = "processors.tail_sampling";
    let expected = [
        format!("{p}.sample_on_first_match: unknown key (expected one of: decision_wait, num_traces, expected_new_traces_per_sec, decision_cache, policies)"),
        format!("{p}.decision_wait: must be greater than 0"),
        format!("{p}.decision_cache.other: unknown key (expected one of: sampled_cache_size, non_sampled_cache_size)"),
        format!("{p}.decision_cache.sampled_cache_size: expected a non-negative integer, got a number"),
        format!("{p}.num_traces: must be greater than 0"),
        format!("{p}.policies[0]: name is required"),
        format!("{p}.policies[1].latency.upper_threshold_ms: must be 0 (no upper bound) or at least threshold_ms"),
        format!("{p}.policies[2].name: duplicate policy name \"a\""),
        format!("{p}.policies[2].status_code.status_codes[1]: unknown status code \"FAILED\" (expected OK, ERROR or UNSET)"),
        format!("{p}.policies[3].probabilistic.sampling_percentage: must be between 0 and 100, got 101"),
        format!("{p}.policies[4].string_attribute.values[0]: not a valid regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group"),
        format!("{p}.policies[5].numeric_attribute: min_value, max_value or both are required"),
        format!("{p}.policies[6].boolean_attribute: key is required (e.g. key: http.route)"),
        format!("{p}.policies[6].boolean_attribute: value is required (e.g. value: true)"),
        format!("{p}.policies[7].rate_limiting.spans_per_second: must be greater than 0"),
        format!("{p}.policies[8].span_count.max_spans: must be 0 (no maximum) or at least min_spans"),
        format!("{p}.policies[9].ottl_condition.error_mode: expected propagate, ignore or silent, got 'loud'"),
        format!("{p}.policies[9].ottl_condition.span[0]: column 20: expected a value after '==', found end of input"),
        format!("{p}.policies[9].ottl_condition.spanevent[0]: column 1: unknown path 'nope' in the spanevent context; expected one of name, time_unix_nano, attributes[...], span.name, resource.attributes[...], resource.dropped_attributes_count, instrumentation_scope.name"),
        format!("{p}.policies[10].and.and_sub_policy[0].type: a drop policy is only allowed directly in the processor's policies"),
        format!("{p}.policies[11].not: not_sub_policy is required (e.g. not_sub_policy: {{ name: ..., type: ... }})"),
        format!("{p}.policies[12].composite.composite_sub_policy[1]: name is required"),
        format!("{p}.policies[13].type: unknown policy type \"sometimes\" (expected one of: always_sample, latency, status_code, probabilistic, string_attribute, numeric_attribute, boolean_attribute, rate_limiting, bytes_limiting, span_count, trace_state, ottl_condition, and, not, drop, composite)"),
        format!("{p}.policies[14].status_code: status_codes is required (e.g. status_codes: [ERROR])"),
    ];
    assert_eq!(errors, expected);
}

#[test]
fn composite_config_errors() {
    let errors = parse_errors(
        r#"policies:
  - name: c
    type: composite
    composite:
      max_total_spans_per_second: 100
      policy_order: [p1, nope, p1]
      composite_sub_policy:
        - { name: p1, type: always_sample }
        - { name: p2, type: always_sample }
      rate_allocation:
        - { policy: p1, percent: 60 }
        - { policy: p2, percent: 50 }
        - { policy: p3, percent: 10 }
        - { policy: p2, percent: 101 }
"#,
    );
    let p = "processors.tail_sampling.policies[0].composite";
    assert_eq!(
        errors,
        [
            format!("{p}.policy_order[1]: \"nope\" is not one of the composite_sub_policy names"),
            format!("{p}.policy_order[2]: \"p1\" is listed twice"),
            format!("{p}.rate_allocation[2].policy: \"p3\" is not one of the composite_sub_policy names"),
            format!("{p}.rate_allocation[3].percent: must be at most 100"),
            format!("{p}.rate_allocation: the percents add up to 110, more than 100"),
        ]
    );
}

#[test]
fn policies_are_required_and_tail_sampling_only_handles_traces() {
    assert_eq!(
        parse_errors("decision_wait: 5s"),
        ["processors.tail_sampling.policies: needs at least one policy (e.g. { name: errors, type: status_code, status_code: { status_codes: [ERROR] } })"]
    );
    let yaml = full_config("policies: [ { name: all, type: always_sample } ]").replace("    traces:\n", "    logs:\n");
    assert_eq!(
        crate::components::parse_config(&yaml).unwrap_err().0,
        ["service.pipelines.logs.processors[0]: processor \"tail_sampling\" does not handle logs: it handles only traces"]
    );
}
