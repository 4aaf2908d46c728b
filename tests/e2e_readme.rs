//! The README's examples against the demo data, through the real binary: every filter of "The
//! filter language", every query of the tour (on `otelbox gen`'s data and the tour's `curl` span),
//! and the CI examples' assertions (`otelbox run ... -- otelbox gen`, which also shows that `gen`
//! sends where `run` points it). An example that finds nothing in the demo data fails here.

mod common;
use common::*;
use std::process::Command;

const README: &str = include_str!("../README.md");

/// The OTLP variables a developer's shell may hold (`otelbox up` tells them to export these):
/// the tests choose their own.
const OTEL_VARIABLES: [&str; 8] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTELBOX_SERVER",
];

fn otelbox(args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otelbox"));
    command.args(args);
    for name in OTEL_VARIABLES {
        command.env_remove(name);
    }
    command.output().unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The text of the first fenced block (any language) after `marker`.
fn block_after(marker: &str) -> &'static str {
    let at = README.find(marker).unwrap_or_else(|| panic!("the README has `{marker}`"));
    let rest = &README[at..];
    let open = rest.find("```").expect("a fenced block follows");
    let body = &rest[open..];
    let body = &body[body.find('\n').unwrap() + 1..];
    &body[..body.find("```").expect("the block ends")]
}

/// Every `--assert '...'` of a block.
fn asserts(block: &str) -> Vec<String> {
    block
        .split("--assert '")
        .skip(1)
        .map(|rest| rest[..rest.find('\'').unwrap()].to_string())
        .collect()
}

fn gen(b: &Box, signal: &str, count: &str) {
    let out = otelbox(&["gen", signal, "--endpoint", &b.http, "--count", count, "--rate", "0"]);
    assert!(out.status.success(), "gen {signal}: {}", stderr(&out));
}

/// The span the tour sends with `curl`: checkout's `GET /cart`, run_id R123, an error.
fn send_tour_span(b: &Box) {
    let now = now_ns();
    let body = serde_json::json!({
        "resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
          "scopeSpans": [{"spans": [{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7",
            "name": "GET /cart", "kind": 2, "startTimeUnixNano": now.to_string(), "endTimeUnixNano": (now + 250_000_000).to_string(),
            "attributes": [{"key": "run_id", "value": {"stringValue": "R123"}}], "status": {"code": 2, "message": "boom"}}]}]}]
    });
    let r = b.post("/v1/traces", "application/json", body.to_string().into_bytes());
    assert_eq!(r.status(), 200);
}

/// How many items an API answer lists (traces, spans, logs, metrics or series).
fn listed(answer: &serde_json::Value) -> usize {
    ["traces", "spans", "logs", "metrics", "series"]
        .iter()
        .filter_map(|key| answer[*key].as_array())
        .map(Vec::len)
        .sum()
}

fn demo_box() -> Box {
    let b = Box::start(&["--memory"]);
    gen(&b, "traces", "600");
    gen(&b, "logs", "200");
    gen(&b, "metrics", "100");
    send_tour_span(&b);
    b
}

#[test]
fn every_filter_of_the_filter_language_finds_demo_data() {
    let b = demo_box();
    let block = block_after("## The filter language");
    let filters: Vec<&str> = block
        .lines()
        .map(|line| line.split("  #").next().unwrap().trim())
        .filter(|line| !line.is_empty())
        .collect();
    assert!(filters.len() >= 6, "{block}");
    for filter in filters {
        let signal = if filter.contains("severity") || filter.contains("body") {
            "logs"
        } else {
            "spans"
        };
        let r = b
            .client
            .get(format!("{}/api/v1/{signal}", b.api))
            .query(&[("q", filter), ("limit", "5")])
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{filter}");
        let answer: serde_json::Value = r.json().unwrap();
        assert!(
            listed(&answer) > 0,
            "the README's filter `{filter}` finds no {signal} in the demo data: {answer}"
        );
    }
}

#[test]
fn every_query_of_the_tour_finds_demo_data() {
    let b = demo_box();
    let block = block_after("**4. Query it.**");
    let mut checked = 0;
    for line in block.lines().filter(|l| l.starts_with("curl ")) {
        let url = line.split('\'').nth(1).expect("a quoted URL");
        // The live tail streams; its filter is checked as a search of the same logs.
        let url = url.replace("/api/v1/stream/logs", "/api/v1/logs");
        let url = url.replace("http://127.0.0.1:4319", &b.api);
        let mut request = b.client.get(&url);
        if let Some(q) = line.split("--data-urlencode 'q=").nth(1) {
            request = request.query(&[("q", &q[..q.find('\'').unwrap()])]);
        }
        let r = request.send().unwrap();
        assert_eq!(r.status(), 200, "{line}");
        let answer: serde_json::Value = r.json().unwrap();
        assert!(listed(&answer) > 0, "the tour's `{line}` finds nothing: {answer}");
        checked += 1;
    }
    assert!(checked >= 6, "{block}");
}

/// The first CI example holds on the demo data, with `otelbox gen` as the command under test.
#[test]
fn the_ci_example_passes_on_the_demo_data() {
    let block = block_after("## In CI: telemetry assertions");
    let expressions = asserts(block);
    assert_eq!(expressions.len(), 3, "{block}");
    let mut args: Vec<&str> = vec!["run"];
    for e in &expressions {
        args.extend(["--assert", e.as_str()]);
    }
    args.extend([
        "--idle",
        "500ms",
        "--",
        env!("CARGO_BIN_EXE_otelbox"),
        "gen",
        "traces",
        "--count",
        "300",
        "--rate",
        "0",
    ]);
    let out = otelbox(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sent 300 spans"),
        "gen found the box by OTEL_EXPORTER_OTLP_ENDPOINT: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The metric assertions and the assertion file hold on the demo's traces, logs and metrics.
#[test]
fn the_metric_assertions_and_the_assertion_file_pass_on_the_demo_data() {
    let metric_block = block_after("names similar ones");
    let expressions = asserts(metric_block);
    assert_eq!(expressions.len(), 2, "{metric_block}");
    let file = temp_dir("readme-assertions").join("telemetry.yaml");
    std::fs::write(&file, block_after("An assertion file (`--assertions telemetry.yaml`")).unwrap();
    let bin = env!("CARGO_BIN_EXE_otelbox");
    let script = format!(
        "'{bin}' gen traces --count 300 --rate 0 && '{bin}' gen logs --count 50 --rate 0 && '{bin}' gen metrics --count 100 --rate 0"
    );
    let mut args: Vec<&str> = vec!["run", "--assertions", file.to_str().unwrap()];
    for e in &expressions {
        args.extend(["--assert", e.as_str()]);
    }
    args.extend(["--idle", "500ms", "--", "sh", "-c", script.as_str()]);
    let out = otelbox(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
