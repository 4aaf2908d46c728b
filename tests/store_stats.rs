//! The overview aggregates against a real store, without a socket: service figures of entry spans
//! (rates over the time the data covers, error counts, exact percentiles, spans by kind), the
//! dependency graph with its severities and cycles, and LLM runs, checked against numbers known up
//! front.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use otelbox::gen::Generator;
use otelbox::pdata::{find_attribute, hex_id, SignalData};
use otelbox::store::llm::RunQuery;
use otelbox::store::read::TimeRange;
use otelbox::store::retention::Retention;
use otelbox::store::rows::flatten_traces;
use otelbox::store::sql::{compile_text, Target};
use otelbox::store::stats::{self, Percentiles};
use otelbox::store::{Location, Store, StoreConfig};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const MS: u64 = 1_000_000;

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", any_value::Value::StringValue(service.into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A span of trace `trace` with id `id` (and parent `parent`, 0 for a root).
#[allow(clippy::too_many_arguments)] // every case in one readable line
fn span(trace: u64, id: u64, parent: u64, name: &str, kind: i32, start: u64, duration: u64, error: bool) -> Span {
    let mut trace_id = [1u8; 16];
    trace_id[8..].copy_from_slice(&trace.to_be_bytes());
    Span {
        trace_id: trace_id.to_vec(),
        span_id: (id | 1 << 60).to_be_bytes().to_vec(),
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            (parent | 1 << 60).to_be_bytes().to_vec()
        },
        name: name.into(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        status: error.then(|| Status {
            code: 2,
            message: "failed".into(),
        }),
        ..Default::default()
    }
}

async fn store() -> Arc<Store> {
    Store::open(StoreConfig {
        location: Location::Memory,
        retention: Retention::default(),
        durable_sync: false,
    })
    .unwrap()
}

async fn write(store: &Store, req: ExportTraceServiceRequest) {
    store.write_committed(flatten_traces(req)).await.unwrap();
}

fn now() -> u64 {
    otelbox::gen::now_ns()
}

fn since(t: u64) -> TimeRange {
    TimeRange {
        start: t as i64,
        end: i64::MAX,
    }
}

#[tokio::test]
async fn service_stats_have_the_known_error_rate_and_exact_percentiles() {
    let s = store().await;
    let t0 = now() - 60_000 * MS;
    // api: "GET /a" (server) lasts 1..=100 ms, every 10th fails; "query" (client) 20 times 1 s, none fail.
    let mut spans: Vec<Span> = (1..=100)
        .map(|i| span(i, i, 0, "GET /a", 2, t0 + i * MS, i * MS, i % 10 == 0))
        .collect();
    spans.extend((1..=20).map(|i| span(1000 + i, 1, 0, "query", 3, t0 + i * MS, 1000 * MS, false)));
    write(&s, request("api", spans)).await;
    write(&s, request("worker", vec![span(5000, 1, 0, "job", 1, t0, 7 * MS, true)])).await;
    // Before the window: not counted.
    write(
        &s,
        request("api", vec![span(6000, 1, 0, "GET /a", 2, t0 - 3_600_000 * MS, 5 * MS, true)]),
    )
    .await;

    let range = since(t0 - 1000 * MS);
    let report = s.read(move |c| stats::service_stats(c, range, stats::MAX_SCAN)).await.unwrap();
    assert!(!report.sampled);
    assert_eq!(report.starts, Some((t0 as i64, (t0 + 100 * MS) as i64)));
    let names: Vec<&str> = report.services.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["api", "worker"], "services by name");
    let api = &report.services[0];
    // Its requests are its server spans: the client spans are counted, but not in the figures.
    assert_eq!(api.basis, stats::Basis::Entry);
    assert_eq!((api.spans, api.requests, api.errors), (120, 100, 10));
    assert_eq!(
        (api.by_kind.server, api.by_kind.client),
        (
            stats::KindCount { spans: 100, errors: 10 },
            stats::KindCount { spans: 20, errors: 0 }
        )
    );
    // 100 durations, 1..=100 ms: ranks 50, 95 and 99 (the 1 s client spans are not requests).
    assert_eq!(
        api.durations,
        Percentiles {
            p50_ns: 50 * MS as i64,
            p95_ns: 95 * MS as i64,
            p99_ns: 99 * MS as i64
        }
    );
    let ops: Vec<(&str, i32, i64, i64)> = api
        .operations
        .iter()
        .map(|o| (o.name.as_str(), o.kind, o.spans, o.errors))
        .collect();
    assert_eq!(ops, [("GET /a", 2, 100, 10), ("query", 3, 20, 0)], "busiest operation first");
    assert_eq!(
        api.operations[0].durations,
        Percentiles {
            p50_ns: 50 * MS as i64,
            p95_ns: 95 * MS as i64,
            p99_ns: 99 * MS as i64
        }
    );
    let worker = &report.services[1];
    // No entry span: its root span (an internal one) is its request.
    assert_eq!(worker.basis, stats::Basis::Root);
    assert_eq!(
        (worker.spans, worker.requests, worker.errors, worker.durations.p99_ns),
        (1, 1, 1, 7 * MS as i64)
    );

    // A scan cap smaller than the window: the newest spans only, and where they start.
    let report = s.read(move |c| stats::service_stats(c, range, 30)).await.unwrap();
    assert!(report.sampled);
    assert_eq!(report.services.iter().map(|x| x.spans).sum::<i64>(), 30);
    // The newest 30 starts are t0 + 71..=100 ms (the "GET /a" spans 71..=100).
    assert_eq!(report.starts, Some(((t0 + 71 * MS) as i64, (t0 + 100 * MS) as i64)));
    assert_eq!(report.services[0].operations[0].errors, 3, "70 is out; 80, 90, 100 are in");
    assert_eq!((report.services[0].requests, report.services[0].errors), (30, 3));
}

/// A trace the way instrumented services send it: an entry span per request, and inside it client,
/// internal and producer spans of the same service, whose durations and failures are not the
/// service's. `shop` serves 60 requests over five minutes of an hour's window.
#[tokio::test]
async fn service_figures_are_of_entry_spans_at_the_rate_of_the_time_covered() {
    let s = store().await;
    let t0 = now() - 30 * 60_000 * MS;
    let mut shop = Vec::new();
    let mut mailer = Vec::new();
    for i in 0..60u64 {
        let (trace, start) = (100 + i, t0 + i * 5_000 * MS);
        // The request: 10..=600 ms, every 20th fails.
        shop.push(span(trace, 1, 0, "GET /cart", 2, start, (i + 1) * 10 * MS, i % 20 == 0));
        // Its database call is slow and fails half the time, the rendering is internal, the
        // event it publishes is a producer span; one span has no kind at all.
        shop.push(span(trace, 2, 1, "SELECT cart", 3, start + MS, 5_000 * MS, i % 2 == 0));
        shop.push(span(trace, 3, 1, "render", 1, start + 2 * MS, 2 * MS, true));
        shop.push(span(trace, 4, 1, "publish order", 4, start + 3 * MS, MS, false));
        shop.push(span(trace, 5, 3, "template", 0, start + 3 * MS, MS, false));
        // The consumer handles the message: its entry span.
        mailer.push(span(trace, 6, 4, "process order", 5, start + 4 * MS, 30 * MS, i % 4 == 0));
        mailer.push(span(trace, 7, 6, "smtp send", 3, start + 5 * MS, 20 * MS, false));
    }
    write(&s, request("shop", shop)).await;
    write(&s, request("mailer", mailer)).await;
    // A batch job: one root internal span with internal children, no server spans.
    write(
        &s,
        request(
            "nightly",
            vec![
                span(900, 1, 0, "reindex", 1, t0, 8_000 * MS, false),
                span(900, 2, 1, "reindex.batch", 1, t0 + MS, 1_000 * MS, true),
                span(900, 3, 1, "reindex.batch", 1, t0 + 2 * MS, 1_000 * MS, true),
            ],
        ),
    )
    .await;
    // A library's spans inside a trace that started elsewhere: neither entry nor root spans.
    write(
        &s,
        request(
            "plugin",
            vec![
                span(901, 2, 1, "plugin.load", 1, t0 + MS, 4 * MS, false),
                span(901, 3, 2, "plugin.fetch", 3, t0 + 2 * MS, 2 * MS, true),
            ],
        ),
    )
    .await;

    let (range, at) = (since(now() - 3_600_000 * MS), now() as i64);
    let report = s.read(move |c| stats::service_stats(c, range, stats::MAX_SCAN)).await.unwrap();
    let by_name: HashMap<&str, &stats::ServiceStats> = report.services.iter().map(|x| (x.name.as_str(), x)).collect();

    let shop = by_name["shop"];
    assert_eq!(shop.basis, stats::Basis::Entry);
    assert_eq!(
        (shop.spans, shop.requests, shop.errors),
        (300, 60, 3),
        "GET /cart only: requests 0, 20 and 40 failed"
    );
    assert_eq!(
        shop.durations,
        Percentiles {
            p50_ns: 300 * MS as i64,
            p95_ns: 570 * MS as i64,
            p99_ns: 600 * MS as i64
        },
        "10..=600 ms: the 5 s database calls are not requests"
    );
    let k = shop.by_kind;
    let counts = |c: stats::KindCount| (c.spans, c.errors);
    assert_eq!(
        [
            counts(k.server),
            counts(k.client),
            counts(k.internal),
            counts(k.producer),
            counts(k.consumer)
        ],
        [(60, 3), (60, 30), (120, 60), (60, 0), (0, 0)],
        "unspecified counts as internal"
    );
    let select = shop.operations.iter().find(|o| o.name == "SELECT cart").unwrap();
    assert_eq!(
        (select.kind, select.spans, select.errors),
        (3, 60, 30),
        "operations keep their own figures"
    );

    let mailer = by_name["mailer"];
    assert_eq!(mailer.basis, stats::Basis::Entry, "consumer spans are entry spans");
    assert_eq!((mailer.spans, mailer.requests, mailer.errors), (120, 60, 15));
    assert_eq!(mailer.durations.p99_ns, 30 * MS as i64);

    let nightly = by_name["nightly"];
    assert_eq!(nightly.basis, stats::Basis::Root);
    assert_eq!((nightly.spans, nightly.requests, nightly.errors), (3, 1, 0));
    assert_eq!(nightly.durations.p50_ns, 8_000 * MS as i64);

    let plugin = by_name["plugin"];
    assert_eq!(plugin.basis, stats::Basis::All);
    assert_eq!((plugin.spans, plugin.requests, plugin.errors), (2, 2, 1));

    // The data covers t0 to the last span start (the last request's smtp call, 59 * 5 s + 5 ms later).
    let last = (t0 + 59 * 5_000 * MS + 5 * MS) as i64;
    assert_eq!(report.starts, Some((t0 as i64, last)));
    let covered = report.covered_ns(range, at);
    assert_eq!(covered, last - t0 as i64, "five minutes of data in an hour's window");
    let answer = otelbox::api::convert::service_stats(&report, covered as f64 / 1e9);
    let shop = answer.services.iter().find(|x| x.name == "shop").unwrap();
    assert!(
        (shop.rate_per_s - 60.0 / (covered as f64 / 1e9)).abs() < 1e-9,
        "{}",
        shop.rate_per_s
    );
    assert!(
        shop.rate_per_s > 0.19,
        "about 60 requests in 295 s, not in 3600 s: {}",
        shop.rate_per_s
    );
    assert_eq!(shop.error_pct, 5.0);
    assert_eq!(shop.basis, otelbox::api::wire::StatsBasis::Entry);
    assert_eq!(shop.by_kind.client.errors, 30);
    assert_eq!((answer.covered_from_unix_nano, answer.covered_to_unix_nano), (t0 as i64, last));

    // A ten-minute window ending with a burst of spans 5 ms long: rates per minute at least, not per
    // 5 ms; a window shorter than a minute is all it covers.
    let ten_minutes = TimeRange {
        start: (t0 - 600_000 * MS) as i64,
        end: (t0 + 10 * MS) as i64,
    };
    let burst = s
        .read(move |c| stats::service_stats(c, ten_minutes, stats::MAX_SCAN))
        .await
        .unwrap();
    assert_eq!(burst.starts, Some((t0 as i64, (t0 + 5 * MS) as i64)));
    assert_eq!(burst.covered_ns(ten_minutes, at), stats::MIN_COVERED_NS);
    let short = TimeRange {
        start: (t0 - 20_000 * MS) as i64,
        end: (t0 + 10 * MS) as i64,
    };
    assert_eq!(burst.covered_ns(short, at), (20_000 + 10) * MS as i64);
}

/// Expected edges of generated runs, counted straight from the requests.
fn expected_edges(requests: &[ExportTraceServiceRequest]) -> BTreeMap<(String, String), (i64, i64)> {
    let mut service_of = HashMap::new();
    let mut spans = Vec::new();
    for req in requests {
        for rs in &req.resource_spans {
            let service = otelbox::pdata::service_name(rs.resource.as_ref());
            for sp in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
                service_of.insert((sp.trace_id.clone(), sp.span_id.clone()), service.clone());
                spans.push((service.clone(), sp.clone()));
            }
        }
    }
    let mut edges = BTreeMap::new();
    for (service, sp) in spans {
        if let Some(parent) = service_of.get(&(sp.trace_id.clone(), sp.parent_span_id.clone())) {
            if *parent != service {
                let e: &mut (i64, i64) = edges.entry((parent.clone(), service)).or_default();
                e.0 += 1;
                e.1 += i64::from(sp.status.as_ref().is_some_and(|st| st.code == 2));
            }
        }
    }
    edges
}

#[tokio::test]
async fn dependencies_count_the_calls_between_services() {
    let s = store().await;
    let mut g = Generator::new(11);
    // An hour ago: out of the narrow window further down.
    let end = now() - 3_600_000 * MS;
    let runs: Vec<ExportTraceServiceRequest> = (0..30).map(|i| g.agent_run(end - i * 10 * MS).traces).collect();
    for run in &runs {
        write(&s, run.clone()).await;
    }
    let expected = expected_edges(&runs);
    assert_eq!(expected.len(), 1, "the generator's one cross-service hop: {expected:?}");
    let (calls, errors) = expected[&("agent-api".to_string(), "tools-svc".to_string())];
    assert!(calls >= 60 && errors > 0, "{calls} calls, {errors} errors");

    let deps = s.read(|c| stats::dependencies(c, TimeRange::ALL, stats::MAX_SCAN)).await.unwrap();
    assert!(!deps.sampled);
    assert_eq!(deps.edges.len(), 1);
    let e = &deps.edges[0];
    assert_eq!(
        (e.parent.as_str(), e.child.as_str(), e.calls, e.errors),
        ("agent-api", "tools-svc", calls, errors)
    );

    // A parent that started before the window is still found (by id); a child whose parent never
    // arrived makes no edge; same-service children make none either.
    let t = now();
    write(
        &s,
        request("gateway", vec![span(77, 1, 0, "GET /", 2, t - 600_000 * MS, 700_000 * MS, false)]),
    )
    .await;
    write(
        &s,
        request(
            "billing",
            vec![
                span(77, 2, 1, "charge", 2, t, 5 * MS, true),
                span(77, 3, 2, "charge.db", 3, t, MS, false),
                span(77, 4, 99, "orphan", 2, t, MS, false),
            ],
        ),
    )
    .await;
    let deps = s
        .read(move |c| stats::dependencies(c, since(t - 1000 * MS), stats::MAX_SCAN))
        .await
        .unwrap();
    let edges: Vec<(&str, &str, i64, i64)> = deps
        .edges
        .iter()
        .map(|e| (e.parent.as_str(), e.child.as_str(), e.calls, e.errors))
        .collect();
    assert_eq!(edges, [("gateway", "billing", 1, 1)]);
}

/// a -> b -> c -> a, entered from a gateway, 200 times: each hop a client span in the caller and a
/// server span in the callee. The edges are graded by their error rates (the callee's server span
/// failing), marked as a cycle, and the edge back to a is the one that closes it.
#[tokio::test]
async fn a_cycle_of_calls_is_marked_and_edges_are_graded_by_error_rate() {
    let s = store().await;
    let t0 = now() - 60_000 * MS;
    let mut by_service: BTreeMap<&str, Vec<Span>> = BTreeMap::new();
    for i in 0..200u64 {
        let (trace, t) = (i + 1, t0 + i * MS);
        let mut add = |service: &'static str, sp: Span| by_service.entry(service).or_default().push(sp);
        add("gateway", span(trace, 1, 0, "GET /", 2, t, 50 * MS, false));
        add("gateway", span(trace, 2, 1, "call a", 3, t, 40 * MS, false));
        add("a", span(trace, 3, 2, "a.serve", 2, t, 40 * MS, false));
        add("a", span(trace, 4, 3, "call b", 3, t, 30 * MS, false));
        // 1 in 200 fails: 0.5%, ok.
        add("b", span(trace, 5, 4, "b.serve", 2, t, 30 * MS, i == 7));
        add("b", span(trace, 6, 5, "call c", 3, t, 20 * MS, false));
        // 4 in 200: 2%, warn.
        add("c", span(trace, 7, 6, "c.serve", 2, t, 20 * MS, i % 50 == 0));
        add("c", span(trace, 8, 7, "call a", 3, t, 10 * MS, false));
        // 20 in 200: 10%, error.
        add("a", span(trace, 9, 8, "a.callback", 2, t, 10 * MS, i % 10 == 0));
    }
    for (service, spans) in by_service {
        write(&s, request(service, spans)).await;
    }
    let deps = s.read(|c| stats::dependencies(c, TimeRange::ALL, stats::MAX_SCAN)).await.unwrap();
    let edges: Vec<_> = deps
        .edges
        .iter()
        .map(|e| {
            (
                e.parent.as_str(),
                e.child.as_str(),
                e.calls,
                e.errors,
                e.severity,
                e.in_cycle,
                e.back,
            )
        })
        .collect();
    use stats::Severity as Sev;
    assert_eq!(
        edges,
        [
            ("a", "b", 200, 1, Sev::Ok, true, false),
            ("b", "c", 200, 4, Sev::Warn, true, false),
            ("c", "a", 200, 20, Sev::Error, true, true),
            ("gateway", "a", 200, 0, Sev::Ok, false, false),
        ],
        "most calls first, then by name"
    );
    assert_eq!(deps.cycles, [["a", "b", "c"]]);

    // Over the API's shapes: the fields the map draws by.
    let answer = otelbox::api::convert::dependencies(&deps);
    let back: Vec<(&str, &str)> = answer
        .edges
        .iter()
        .filter(|e| e.back)
        .map(|e| (e.parent.as_str(), e.child.as_str()))
        .collect();
    assert_eq!(back, [("c", "a")]);
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(json["edges"][1]["severity"], "warn");
    assert_eq!(json["edges"][1]["error_pct"], 2.0);
    assert_eq!(json["edges"][2]["severity"], "error");
    assert_eq!(json["edges"][3]["in_cycle"], false);
    assert_eq!(json["cycles"], serde_json::json!([["a", "b", "c"]]));
    assert_eq!(json["thresholds"], serde_json::json!({"warn_pct": 1.0, "error_pct": 5.0}));
    // An answer without the new fields (an older server) still reads, as ok edges off any cycle.
    let old: otelbox::api::wire::DependenciesResponse = serde_json::from_value(serde_json::json!({
        "edges": [{"parent": "a", "child": "b", "calls": 3, "errors": 1}],
        "sampled": false
    }))
    .unwrap();
    assert_eq!(old.edges[0].severity, otelbox::api::wire::EdgeSeverity::Ok);
    assert!(!old.edges[0].back && old.cycles.is_empty());
}

fn int(sp: &Span, key: &str) -> i64 {
    match find_attribute(&sp.attributes, key).and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::IntValue(i)) => *i,
        _ => 0,
    }
}

fn text(sp: &Span, key: &str) -> Option<String> {
    match find_attribute(&sp.attributes, key).and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn all_spans(req: &ExportTraceServiceRequest) -> impl Iterator<Item = &Span> {
    req.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans)
}

/// A run as the API shows it: the trace and the totals flattened.
#[derive(Debug)]
struct Run {
    trace: otelbox::store::read::TraceSummary,
    run_id: String,
    agent: String,
    models: Vec<String>,
    llm_calls: i64,
    input_tokens: i64,
    output_tokens: i64,
    tool_calls: i64,
    tool_errors: i64,
    tools: Vec<otelbox::store::llm::ToolUsage>,
}

fn runs_of(c: &rusqlite::Connection, query: RunQuery, range: TimeRange, limit: usize) -> Result<Vec<Run>, otelbox::store::StoreError> {
    Ok(
        otelbox::store::llm::llm_runs(c, &otelbox::store::sql::AnyResourceAttrs, &query, range, limit)?
            .into_iter()
            .map(|run| {
                let t = run.totals;
                Run {
                    trace: run.trace,
                    run_id: t.run_id.unwrap_or_default(),
                    agent: t.agent.unwrap_or_default(),
                    models: t.models.into_iter().collect(),
                    llm_calls: t.llm_calls,
                    input_tokens: t.tokens.input,
                    output_tokens: t.tokens.output,
                    tool_calls: t.tool_calls,
                    tool_errors: t.tool_errors,
                    tools: t.tools,
                }
            })
            .collect(),
    )
}

#[tokio::test]
async fn llm_runs_sum_their_spans_and_filter_by_run_id_and_q() {
    let s = store().await;
    let mut g = Generator::new(5);
    let end = now();
    // Oldest first, 30 s apart: newest first means reverse order.
    let runs: Vec<_> = (0..10).rev().map(|i| g.agent_run(end - i * 30_000 * MS)).collect();
    for run in &runs {
        write(&s, run.traces.clone()).await;
    }
    // A plain HTTP trace is not an LLM run.
    write(&s, request("web", vec![span(42, 1, 0, "GET /", 2, end - 5 * MS, MS, false)])).await;

    let found = s.read(move |c| runs_of(c, RunQuery::default(), TimeRange::ALL, 50)).await.unwrap();
    assert_eq!(found.len(), runs.len(), "every generated run and nothing else");
    for (run, expected) in found.iter().zip(runs.iter().rev()) {
        let spans: Vec<&Span> = all_spans(&expected.traces).collect();
        let op = |sp: &&&Span, name: &str| text(sp, "gen_ai.operation.name").as_deref() == Some(name);
        assert_eq!(run.run_id, expected.run_id, "newest first");
        assert_eq!(hex_id(&run.trace.trace_id), hex_id(&spans[0].trace_id));
        assert_eq!(run.trace.span_count, expected.traces.item_count() as i64);
        assert_eq!(run.agent, "research-assistant");
        assert_eq!(run.trace.root_name, "invoke_agent research-assistant");
        assert_eq!(
            run.input_tokens,
            spans.iter().map(|sp| int(sp, "gen_ai.usage.input_tokens")).sum::<i64>()
        );
        assert_eq!(
            run.output_tokens,
            spans.iter().map(|sp| int(sp, "gen_ai.usage.output_tokens")).sum::<i64>()
        );
        assert!(run.input_tokens > 0);
        assert_eq!(run.llm_calls, spans.iter().filter(|sp| op(sp, "chat")).count() as i64);
        let tools: Vec<&&Span> = spans.iter().filter(|sp| op(sp, "execute_tool")).collect();
        assert_eq!(run.tool_calls, tools.len() as i64);
        assert_eq!(
            run.tool_errors,
            tools.iter().filter(|sp| sp.status.as_ref().is_some_and(|st| st.code == 2)).count() as i64
        );
        assert_eq!(run.tools.iter().map(|t| t.calls).sum::<i64>(), run.tool_calls);
        let model = spans.iter().find_map(|sp| text(sp, "gen_ai.request.model")).unwrap();
        assert_eq!(run.models, [model]);
    }

    // run_id: exactly that run.
    let wanted = runs[2].run_id.clone();
    let id = wanted.clone();
    // Through the partial index of run ids in llm_spans.
    let one = s
        .read(move |c| {
            runs_of(
                c,
                RunQuery {
                    run_id: Some(id.clone()),
                    ..Default::default()
                },
                TimeRange::ALL,
                50,
            )
        })
        .await
        .unwrap();
    assert_eq!(one.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), [wanted.as_str()]);
    let none = s
        .read(|c| {
            runs_of(
                c,
                RunQuery {
                    run_id: Some("run-nope".into()),
                    ..Default::default()
                },
                TimeRange::ALL,
                50,
            )
        })
        .await
        .unwrap();
    assert!(none.is_empty());

    // q: a run qualifies when any of its spans matches (here a span of the other service).
    let with_failed_tool: Vec<String> = runs
        .iter()
        .rev()
        .filter(|r| {
            r.traces
                .resource_spans
                .iter()
                .filter(|rs| otelbox::pdata::service_name(rs.resource.as_ref()) == "tools-svc")
                .flat_map(|rs| rs.scope_spans.iter().flat_map(|ss| &ss.spans))
                .any(|sp| sp.status.as_ref().is_some_and(|st| st.code == 2))
        })
        .map(|r| r.run_id.clone())
        .collect();
    let filter = compile_text(Some("service = tools-svc and status = error"), Target::Spans, &*s.resource_attrs()).unwrap();
    assert!(
        !with_failed_tool.is_empty() && with_failed_tool.len() < runs.len(),
        "{with_failed_tool:?}"
    );
    let matched = s
        .read(move |c| {
            runs_of(
                c,
                RunQuery {
                    filters: vec![filter],
                    ..Default::default()
                },
                TimeRange::ALL,
                50,
            )
        })
        .await
        .unwrap();
    assert_eq!(matched.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>(), with_failed_tool);

    // limit and window.
    let two = s.read(|c| runs_of(c, RunQuery::default(), TimeRange::ALL, 2)).await.unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(two[0].run_id, runs[9].run_id);
    let recent = s
        .read(move |c| runs_of(c, RunQuery::default(), since(end - 25_000 * MS), 50))
        .await
        .unwrap();
    assert_eq!(recent.len(), 1, "only the newest run starts in the last 25 s");
}

/// Runs instrumented the OpenInference way, the MLflow way (every value JSON-encoded) and with the
/// plain keys of agent-tracing guides are runs too, with their agents, models, tokens, tool calls and
/// failures: only `gen_ai.operation.name` was recognised before, so none of them was listed.
#[tokio::test]
async fn runs_in_other_dialects_are_runs_with_their_tools_and_failures() {
    use any_value::Value::{IntValue, StringValue};
    let s = store().await;
    let end = now();
    let with = |mut sp: Span, attributes: Vec<KeyValue>| {
        sp.attributes = attributes;
        sp
    };
    let text = |k: &str, v: &str| kv(k, StringValue(v.into()));
    let int = |k: &str, v: i64| kv(k, IntValue(v));
    // OpenInference: an agent, an LLM call, a tool that fails.
    write(
        &s,
        request(
            "oi-app",
            vec![
                with(
                    span(101, 1, 0, "agent", 1, end - 50 * MS, 40 * MS, false),
                    vec![text("openinference.span.kind", "AGENT"), text("agent.name", "planner")],
                ),
                with(
                    span(101, 2, 1, "ChatCompletion", 1, end - 45 * MS, 10 * MS, false),
                    vec![
                        text("openinference.span.kind", "LLM"),
                        text("llm.model_name", "gpt-4o"),
                        int("llm.token_count.prompt", 120),
                        int("llm.token_count.completion", 30),
                    ],
                ),
                with(
                    span(101, 3, 1, "read_file", 1, end - 30 * MS, 5 * MS, true),
                    vec![text("openinference.span.kind", "TOOL"), text("tool.name", "read_file")],
                ),
            ],
        ),
    )
    .await;
    // MLflow: values JSON-encoded, the run id too.
    write(
        &s,
        request(
            "mlflow-app",
            vec![
                with(
                    span(102, 1, 0, "agent", 1, end - 40 * MS, 30 * MS, false),
                    vec![text("mlflow.spanType", "\"AGENT\""), text("run_id", "R-mlflow")],
                ),
                with(
                    span(102, 2, 1, "search", 1, end - 35 * MS, 5 * MS, false),
                    vec![text("mlflow.spanType", "\"TOOL\"")],
                ),
            ],
        ),
    )
    .await;
    // Plain keys: a tool marked only by tool.name and tool.status, and an LLM call by llm.*.
    write(
        &s,
        request(
            "plain-app",
            vec![
                with(
                    span(103, 1, 0, "run", 1, end - 30 * MS, 20 * MS, false),
                    vec![text("run_id", "R-plain")],
                ),
                with(
                    span(103, 2, 1, "call model", 1, end - 28 * MS, 5 * MS, false),
                    vec![
                        text("llm.provider", "openai"),
                        text("llm.model", "gpt-4o-mini"),
                        int("llm.tokens_in", 50),
                        int("llm.tokens_out", 7),
                    ],
                ),
                with(
                    span(103, 3, 1, "tool", 1, end - 20 * MS, 5 * MS, false),
                    vec![text("tool.name", "send_mail"), text("tool.status", "error")],
                ),
            ],
        ),
    )
    .await;
    let runs = s.read(move |c| runs_of(c, RunQuery::default(), TimeRange::ALL, 50)).await.unwrap();
    assert_eq!(runs.len(), 3, "{runs:?}");
    let by_service = |service: &str| runs.iter().find(|r| r.trace.root_service == service).unwrap();
    let oi = by_service("oi-app");
    assert_eq!((oi.agent.as_str(), oi.models.clone()), ("planner", vec!["gpt-4o".to_string()]));
    assert_eq!((oi.llm_calls, oi.input_tokens, oi.output_tokens), (1, 120, 30));
    assert_eq!((oi.tool_calls, oi.tool_errors), (1, 1));
    let mlflow = by_service("mlflow-app");
    assert_eq!(mlflow.run_id, "R-mlflow");
    assert_eq!((mlflow.tool_calls, mlflow.tool_errors), (1, 0));
    let plain = by_service("plain-app");
    assert_eq!(plain.run_id, "R-plain");
    assert_eq!((plain.llm_calls, plain.input_tokens, plain.output_tokens), (1, 50, 7));
    assert_eq!((plain.tool_calls, plain.tool_errors), (1, 1));
    assert_eq!(plain.tools[0].name, "send_mail");
}
