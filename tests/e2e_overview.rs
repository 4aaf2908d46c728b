//! The overview endpoints over HTTP: service stats, dependencies and LLM runs answer in their JSON
//! shapes with the numbers of the data sent, default to the last hour, and reject bad parameters
//! with a JSON 400.

mod common;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use otelbox::gen::Generator;
use otelbox::pdata::{find_attribute, SignalData};

fn send(b: &Box, req: &ExportTraceServiceRequest) {
    assert_eq!(b.post("/v1/traces", "application/x-protobuf", encode(req)).status(), 200);
}

fn spans_of<'a>(
    req: &'a ExportTraceServiceRequest,
    service: &'a str,
) -> impl Iterator<Item = &'a opentelemetry_proto::tonic::trace::v1::Span> {
    req.resource_spans
        .iter()
        .filter(move |rs| otelbox::pdata::service_name(rs.resource.as_ref()) == service)
        .flat_map(|rs| rs.scope_spans.iter().flat_map(|ss| &ss.spans))
}

fn is_error(span: &opentelemetry_proto::tonic::trace::v1::Span) -> bool {
    span.status.as_ref().is_some_and(|s| s.code == 2)
}

/// A service's requests as the API defines them: its server and consumer spans, else its root
/// spans, else all its spans; with the basis's name.
fn requests_of<'a>(
    req: &'a ExportTraceServiceRequest,
    service: &'a str,
) -> (&'static str, Vec<&'a opentelemetry_proto::tonic::trace::v1::Span>) {
    let entry: Vec<_> = spans_of(req, service).filter(|s| s.kind == 2 || s.kind == 5).collect();
    if !entry.is_empty() {
        return ("entry", entry);
    }
    let roots: Vec<_> = spans_of(req, service).filter(|s| s.parent_span_id.is_empty()).collect();
    if !roots.is_empty() {
        return ("root", roots);
    }
    ("all", spans_of(req, service).collect())
}

#[test]
fn overview_endpoints_answer_with_the_numbers_of_the_data_sent() {
    let b = Box::start(&["--memory"]);
    let mut g = Generator::new(21);
    let now = now_ns();
    // 30 s apart: longer than any run, so start order is end order.
    let runs: Vec<_> = (0..8).map(|i| g.agent_run(now - i * 30_000_000_000)).collect();
    let mut all = ExportTraceServiceRequest::default();
    for run in &runs {
        send(&b, &run.traces);
        all.merge(run.traces.clone());
    }
    // Two hours old: outside the default window of every overview endpoint.
    send(&b, &g.agent_run(now - 2 * 3600 * 1_000_000_000).traces);

    let (status, body) = b.get_json("/api/v1/services/stats");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sampled"], false);
    // Rates are per second of the time the data covers (the first to the last span start of the
    // last hour, the default window), not of the hour.
    let starts: Vec<i64> = all
        .resource_spans
        .iter()
        .flat_map(|rs| rs.scope_spans.iter().flat_map(|ss| &ss.spans))
        .map(|s| s.start_time_unix_nano as i64)
        .collect();
    let (first, last) = (*starts.iter().min().unwrap(), *starts.iter().max().unwrap());
    assert_eq!(
        (body["covered_from_unix_nano"].as_i64(), body["covered_to_unix_nano"].as_i64()),
        (Some(first), Some(last))
    );
    let window_s = body["window_s"].as_f64().unwrap();
    assert!(((last - first) as f64 / 1e9 - window_s).abs() < 1e-6, "{window_s}");
    assert!(
        window_s > 150.0 && window_s < 300.0,
        "eight runs 30 s apart, not the hour: {window_s}"
    );
    let services = body["services"].as_array().unwrap();
    let names: Vec<&str> = services.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["agent-api", "tools-svc"]);
    for service in services {
        let name = service["name"].as_str().unwrap();
        let spans = spans_of(&all, name).count() as i64;
        let (basis, requests) = requests_of(&all, name);
        let errors = requests.iter().filter(|s| is_error(s)).count() as i64;
        let requests = requests.len() as i64;
        assert_eq!(basis, "entry", "both serve requests: {name}");
        assert_eq!(service["basis"], basis, "{name}");
        assert_eq!(service["spans"], spans, "{name}");
        assert_eq!(service["requests"], requests, "{name}");
        assert_eq!(service["errors"], errors, "{name}");
        let by_kind = &service["by_kind"];
        let kind_sum: i64 = ["server", "client", "internal", "producer", "consumer"]
            .iter()
            .map(|k| by_kind[k]["spans"].as_i64().unwrap())
            .sum();
        assert_eq!(kind_sum, spans, "{name}: {by_kind}");
        let rate = service["rate_per_s"].as_f64().unwrap();
        assert!((rate - requests as f64 / window_s).abs() < 1e-9, "{name}: {rate}");
        let pct = service["error_pct"].as_f64().unwrap();
        assert!((pct - errors as f64 * 100.0 / requests as f64).abs() < 1e-9, "{name}: {pct}");
        let (p50, p95, p99) = (
            service["p50_ns"].as_i64().unwrap(),
            service["p95_ns"].as_i64().unwrap(),
            service["p99_ns"].as_i64().unwrap(),
        );
        assert!(0 < p50 && p50 <= p95 && p95 <= p99, "{service}");
        let ops = service["operations"].as_array().unwrap();
        assert_eq!(ops.iter().map(|o| o["spans"].as_i64().unwrap()).sum::<i64>(), spans);
        assert!(
            ops.windows(2).all(|w| w[0]["spans"].as_i64() >= w[1]["spans"].as_i64()),
            "busiest first"
        );
        for key in ["name", "kind", "errors", "rate_per_s", "error_pct", "p50_ns", "p95_ns", "p99_ns"] {
            assert!(ops[0].get(key).is_some(), "operation field {key}: {}", ops[0]);
        }
    }
    let agent = &services[0]["operations"].as_array().unwrap();
    let root = agent.iter().find(|o| o["name"] == "invoke_agent research-assistant").unwrap();
    assert_eq!((root["kind"].as_str(), root["spans"].as_i64()), (Some("server"), Some(8)));
    // agent-api's requests are its eight agent runs, not its chat and tool spans.
    assert_eq!(services[0]["requests"], 8);

    let (status, body) = b.get_json("/api/v1/dependencies");
    assert_eq!(status, 200, "{body}");
    let calls = spans_of(&all, "tools-svc").count() as i64;
    let errors = spans_of(&all, "tools-svc").filter(|s| is_error(s)).count() as i64;
    let pct = errors as f64 * 100.0 / calls as f64;
    let severity = if pct >= 5.0 {
        "error"
    } else if pct >= 1.0 {
        "warn"
    } else {
        "ok"
    };
    assert_eq!(
        body,
        serde_json::json!({
            "edges": [{
                "parent": "agent-api", "child": "tools-svc", "calls": calls, "errors": errors,
                "error_pct": pct, "severity": severity, "in_cycle": false, "back": false
            }],
            "cycles": [],
            "thresholds": {"warn_pct": 1.0, "error_pct": 5.0},
            "sampled": false
        })
    );

    let (status, body) = b.get_json("/api/v1/llm/runs");
    assert_eq!(status, 200, "{body}");
    let listed: Vec<&str> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(listed, expected, "the runs of the last hour, newest first");
    let wanted = &runs[3];
    let (status, body) = b.get_json(&format!("/api/v1/llm/runs?run_id={}", wanted.run_id));
    assert_eq!(status, 200, "{body}");
    let found = body["runs"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{body}");
    let run = &found[0];
    let token_sum = |key: &str| -> i64 {
        spans_of(&wanted.traces, "agent-api")
            .filter_map(|s| match find_attribute(&s.attributes, key)?.value.as_ref()? {
                any_value::Value::IntValue(i) => Some(*i),
                _ => None,
            })
            .sum()
    };
    assert_eq!(run["run_id"], wanted.run_id.as_str());
    assert_eq!(run["agent"], "research-assistant");
    assert_eq!(run["root_service"], "agent-api");
    assert_eq!(run["span_count"], wanted.traces.item_count() as i64);
    assert_eq!(run["input_tokens"], token_sum("gen_ai.usage.input_tokens"));
    assert_eq!(run["output_tokens"], token_sum("gen_ai.usage.output_tokens"));
    assert_eq!(run["models"].as_array().unwrap().len(), 1);
    assert_eq!(run["trace_id"].as_str().unwrap().len(), 32);
    for key in [
        "start_unix_nano",
        "duration_ns",
        "error_count",
        "llm_calls",
        "tool_calls",
        "tool_errors",
        "tools",
    ] {
        assert!(run.get(key).is_some(), "run field {key}: {run}");
    }
    let (_, body) = b.get_json("/api/v1/llm/runs?limit=2&q=service%20%3D%20agent-api");
    assert_eq!(body["runs"].as_array().unwrap().len(), 2);
    // An explicit window: runs 1 and 2 start in it (each starts within 20 s before its end).
    let s = 1_000_000_000i64;
    let window = format!("start={}&end={}", now as i64 - 85 * s, now as i64 - 25 * s);
    let (status, body) = b.get_json(&format!("/api/v1/llm/runs?{window}"));
    assert_eq!(status, 200, "{body}");
    let listed: Vec<&str> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [runs[1].run_id.as_str(), runs[2].run_id.as_str()]);
    let (_, body) = b.get_json(&format!("/api/v1/services/stats?{window}"));
    assert_eq!(body["window_s"], 60.0);
    let (_, body) = b.get_json("/api/v1/llm/runs?since=3h");
    assert_eq!(body["runs"].as_array().unwrap().len(), 9, "a wider window includes the old run");
}

#[test]
fn overview_endpoints_reject_bad_parameters_with_json_errors() {
    let b = Box::start(&["--memory"]);
    for path in ["/api/v1/services/stats", "/api/v1/dependencies", "/api/v1/llm/runs"] {
        let (status, body) = b.get_json(&format!("{path}?since=soon"));
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{path}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("since"), "{path}: {body}");
        let (status, body) = b.get_json(&format!("{path}?start=yesterday"));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{path}: {body}"
        );
        let (status, body) = b.get_json(&format!("{path}?start=20&end=10"));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{path}: {body}"
        );
    }
    let (status, body) = b.get_json("/api/v1/llm/runs?q=duration%20%3E");
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_filter")), "{body}");
    assert_eq!(body["error"]["column"], 11, "a syntax error carries its column for the UI: {body}");
    // A malformed query string is a JSON error too, not axum's plain-text rejection.
    for path in ["/api/v1/traces?limit=abc", "/api/v1/logs?limit=-1", "/api/v1/llm/runs?limit=many"] {
        let (status, body) = b.get_json(path);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{path}: {body}"
        );
    }
    for limit in ["0", "501"] {
        let (status, body) = b.get_json(&format!("/api/v1/llm/runs?limit={limit}"));
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")), "{body}");
    }
    let (status, body) = b.get_json("/api/v1/services/stats");
    assert_eq!(status, 200);
    assert_eq!(body["services"], serde_json::json!([]), "an empty store has no services");
}
