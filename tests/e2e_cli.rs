//! The CLI against real boxes: export then import gives identical API answers; assert, wait,
//! query, lint and import exit with the documented codes and say what they found.

mod common;
use common::*;
use std::process::Command;

fn otelbox(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args(args)
        .env_remove("OTELBOX_SERVER")
        .output()
        .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every API answer that must survive a round trip, in a stable order.
fn answers(b: &Box, window: &str) -> Vec<serde_json::Value> {
    let sorted = |mut v: serde_json::Value, key: &str, by: &[&str]| {
        if let Some(items) = v[key].as_array_mut() {
            items.sort_by_key(|i| by.iter().map(|k| i[*k].to_string()).collect::<Vec<_>>());
        }
        v
    };
    vec![
        sorted(b.get_json("/api/v1/traces?limit=1000").1, "traces", &["trace_id"]),
        sorted(b.get_json("/api/v1/spans?limit=10000").1, "spans", &["trace_id", "span_id"]),
        sorted(b.get_json("/api/v1/logs?limit=10000").1, "logs", &["time_unix_nano", "body"]),
        b.get_json("/api/v1/metrics").1,
        b.get_json(&format!(
            "/api/v1/metrics/gen_ai.client.token.usage/series?{window}&agg=last&step=1s"
        ))
        .1,
        b.get_json(&format!(
            "/api/v1/metrics/gen_ai.client.operation.duration/series?{window}&agg=p95&step=1s"
        ))
        .1,
        b.get_json("/api/v1/services").1,
    ]
}

#[test]
fn export_then_import_gives_identical_answers() {
    let a = Box::start(&["--memory"]);
    for (signal, count) in [("traces", "300"), ("logs", "100"), ("metrics", "12")] {
        let out = otelbox(&[
            "gen",
            signal,
            "--endpoint",
            &a.http,
            "--count",
            count,
            "--rate",
            "0",
            "--batch",
            "50",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let file = temp_dir("export").join("all.jsonl");
    let out = otelbox(&["export", "-o", file.to_str().unwrap(), "--server", &a.api]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.lines().count() >= 3);
    assert!(
        text.lines().all(|l| l.starts_with("{\"resource")),
        "one OTLP/JSON export request per line"
    );

    let b = Box::start(&["--memory"]);
    let out = otelbox(&["import", file.to_str().unwrap(), "--endpoint", &b.http]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Series buckets are aligned to the window's start: one fixed window for both boxes.
    let now = now_ns() as i64;
    let window = format!("start={}&end={}", now - 600_000_000_000, now + 60_000_000_000);
    let (before, after) = (answers(&a, &window), answers(&b, &window));
    assert!(before[1]["spans"].as_array().unwrap().len() >= 300);
    for (x, y) in before.iter().zip(&after) {
        assert_eq!(x, y);
    }
}

#[test]
fn a_bad_import_file_imports_nothing_and_names_the_line() {
    let b = Box::start(&["--memory"]);
    let dir = temp_dir("badimport");
    let file = dir.join("bad.jsonl");
    let good = otelbox::pdata::json::encode_traces(&trace_request("svc", "R", 1, 2)).to_string();
    std::fs::write(
        &file,
        format!("{good}\n{{\"resourceSpans\": [{{\"scopeSpans\": [{{\"spans\": [{{\"traceId\": \"xyz\"}}]}}]}}]}}\n"),
    )
    .unwrap();
    let out = otelbox(&["import", file.to_str().unwrap(), "--endpoint", &b.http]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("bad.jsonl:2") && stderr(&out).contains("traceId"),
        "{}",
        stderr(&out)
    );
    assert_eq!(b.stored_spans(), 0, "the good first line was not sent either");
}

#[test]
fn assert_wait_query_and_lint_exit_codes() {
    let b = Box::start(&["--memory"]);
    assert_eq!(
        b.post(
            "/v1/traces",
            "application/x-protobuf",
            encode(&trace_request("checkout", "R1", 1, 3))
        )
        .status(),
        200
    );
    let mut orphan = trace_request("checkout", "R2", 2, 2);
    orphan.resource_spans[0].scope_spans[0].spans.remove(0); // the root never arrives
    assert_eq!(b.post("/v1/traces", "application/x-protobuf", encode(&orphan)).status(), 200);

    let ok = otelbox(&["assert", "run_id = R1", "--count", "3", "--server", &b.api]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let fail = otelbox(&["assert", "run_id = R9", "--server", &b.api]);
    assert_eq!(fail.status.code(), Some(1));
    assert!(stderr(&fail).contains("found 0"), "{}", stderr(&fail));
    let orphans = otelbox(&["assert", "no orphans", "--server", &b.api]);
    assert_eq!(orphans.status.code(), Some(1));
    assert!(stderr(&orphans).contains("parent never arrived"), "{}", stderr(&orphans));
    let usage = otelbox(&["assert", "duration >", "--server", &b.api]);
    assert_eq!(usage.status.code(), Some(2));
    let unreachable = otelbox(&["assert", "run_id = R1", "--server", &format!("http://127.0.0.1:{}", free_port())]);
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(stderr(&unreachable).contains("cannot reach otelbox"), "{}", stderr(&unreachable));

    let waited = otelbox(&[
        "wait",
        "--spans",
        "3",
        "--where",
        "run_id = R1",
        "--idle",
        "300ms",
        "--timeout",
        "10s",
        "--server",
        &b.api,
    ]);
    assert_eq!(waited.status.code(), Some(0), "{}", stderr(&waited));
    let timed_out = otelbox(&[
        "wait",
        "--spans",
        "99",
        "--where",
        "run_id = R1",
        "--timeout",
        "500ms",
        "--server",
        &b.api,
    ]);
    assert_eq!(timed_out.status.code(), Some(1));
    assert!(stderr(&timed_out).contains("3 of 99"), "{}", stderr(&timed_out));

    let table = otelbox(&["query", "spans", "--where", "run_id = R1", "--server", &b.api]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("START  ") && text.lines().count() == 4, "{text}");
    // The start time is local and compact: today's spans show the clock only (hh:mm:ss.mmm; just
    // after midnight, yesterday's the date too).
    let first = text.lines().nth(1).unwrap();
    let clock = first.split_whitespace().next().unwrap().as_bytes();
    let today = clock.len() == 12 && clock[2] == b':' && clock[8] == b'.';
    let other_day = clock.len() == 10 && clock[4] == b'-' && clock[7] == b'-';
    assert!(today || other_day, "{text}");
    let jsonl = otelbox(&["query", "traces", "--format", "jsonl", "--server", &b.api]);
    assert_eq!(String::from_utf8_lossy(&jsonl.stdout).lines().count(), 2);

    let lint = otelbox(&["lint", "--server", &b.api]);
    assert_eq!(lint.status.code(), Some(0), "orphans are warnings");
    assert!(String::from_utf8_lossy(&lint.stdout).contains("orphan-span"));
    let strict = otelbox(&["lint", "--strict", "--server", &b.api]);
    assert_eq!(strict.status.code(), Some(1));
}

/// `A -> B` and `A then B` look at every trace holding both sides, not at the newest 25 with A:
/// with 31 traces of `checkout` and only the oldest one charging, both hold (they failed before,
/// saying 25 traces had no descendant).
#[test]
fn descendant_and_order_assertions_find_the_one_qualifying_trace_among_many() {
    use opentelemetry_proto::tonic::trace::v1::Span;
    let b = Box::start(&["--memory"]);
    let now = now_ns();
    for t in 0..31u64 {
        let mut request = trace_request("shop", "R", t + 1, 1);
        let spans = &mut request.resource_spans[0].scope_spans[0].spans;
        spans[0].name = "checkout".into();
        // Newer traces start later; only the oldest one charges, inside its checkout.
        spans[0].start_time_unix_nano = now + t * 1_000_000;
        spans[0].end_time_unix_nano = now + t * 1_000_000 + 900_000;
        if t == 0 {
            let root = spans[0].clone();
            spans.push(Span {
                span_id: vec![0xcc; 8],
                parent_span_id: root.span_id.clone(),
                name: "charge".into(),
                start_time_unix_nano: root.start_time_unix_nano + 100_000,
                end_time_unix_nano: root.start_time_unix_nano + 200_000,
                ..root
            });
        }
        assert_eq!(b.post("/v1/traces", "application/x-protobuf", encode(&request)).status(), 200);
    }
    for assertion in ["name = checkout -> name = charge", "name = checkout then name = charge"] {
        let out = otelbox(&["assert", assertion, "--server", &b.api]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{assertion}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
    }
    let missing = otelbox(&["assert", "name = checkout -> name = refund", "--server", &b.api]);
    assert_eq!(missing.status.code(), Some(1));
    let said = String::from_utf8_lossy(&missing.stdout).to_string() + &stderr(&missing);
    assert!(said.contains("none has a span matching `name = refund`"), "{said}");
}

/// A failed "at most" names what it found: each offending span with its service, trace and the
/// attribute values the expression used, the newest 10, then how many more (it said only "found
/// 12" before).
#[test]
fn a_failed_at_most_assertion_lists_the_offending_spans_and_their_values() {
    let b = Box::start(&["--memory"]);
    for t in 0..12u64 {
        let mut request = trace_request("payments", "R", t + 1, 1);
        let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
        span.name = "charge".into();
        span.attributes.push(string_kv("http.route", "/charge"));
        span.status = Some(opentelemetry_proto::tonic::trace::v1::Status {
            code: 2,
            message: "declined".into(),
        });
        assert_eq!(b.post("/v1/traces", "application/x-protobuf", encode(&request)).status(), 200);
    }
    let out = otelbox(&[
        "assert",
        "count(status = error and http.route = \"/charge\") <= 0",
        "--server",
        &b.api,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &stderr(&out);
    assert!(said.contains("found 12"), "{said}");
    assert!(said.contains("charge (payments) trace "), "{said}");
    assert!(said.contains("http.route=/charge"), "the values the expression used: {said}");
    assert!(said.contains("and 2 more"), "{said}");
    assert_eq!(said.matches("charge (payments) trace ").count(), 10, "{said}");

    // every(SELECTOR): PREDICATE holds when each selected span satisfies it, and names each violation.
    let holds = otelbox(&["assert", "every(name = charge): status = error", "--server", &b.api]);
    assert_eq!(holds.status.code(), Some(0), "{}", String::from_utf8_lossy(&holds.stdout));
    let fails = otelbox(&["assert", "every(name = charge): http.route = \"/pay\"", "--server", &b.api]);
    assert_eq!(fails.status.code(), Some(1));
    let said = String::from_utf8_lossy(&fails.stdout).to_string() + &stderr(&fails);
    assert!(said.contains("12 of 12 spans matching `name = charge` do not satisfy"), "{said}");
    assert!(said.contains("http.route=/charge"), "each violation with its actual value: {said}");
    let nothing = otelbox(&["assert", "every(name = refund): status = ok", "--server", &b.api]);
    assert_eq!(nothing.status.code(), Some(1), "a selector matching nothing fails");
}

/// `otelbox run --lint error|warn|off` fails the run on lint findings of that severity, each a
/// failed JUnit case: an orphan span (a warning) fails `warn` only, a span without service.name
/// (an error) fails `error` too.
#[test]
fn run_lint_gates_fail_on_findings_of_their_severity() {
    let dir = temp_dir("lintgate");
    let now = now_ns();
    let line = |service: Option<&str>, parent: &str| {
        let resource = match service {
            Some(s) => format!(r#"{{"attributes":[{{"key":"service.name","value":{{"stringValue":"{s}"}}}}]}}"#),
            None => "{}".to_string(),
        };
        format!(
            r#"{{"resourceSpans":[{{"resource":{resource},"scopeSpans":[{{"spans":[{{"traceId":"{:032x}","spanId":"00000000000000aa","parentSpanId":"{parent}","name":"op","startTimeUnixNano":"{now}","endTimeUnixNano":"{}"}}]}}]}}]}}"#,
            now,
            now + 1000
        )
    };
    let orphan = dir.join("orphan.jsonl");
    std::fs::write(&orphan, line(Some("svc"), "00000000000000bb") + "\n").unwrap();
    let nameless = dir.join("nameless.jsonl");
    std::fs::write(&nameless, line(None, "") + "\n").unwrap();
    let run = |gate: &str, file: &std::path::Path| {
        let report = dir.join(format!("{gate}.xml"));
        let script = format!(
            "{} import {} --endpoint \"$OTEL_EXPORTER_OTLP_ENDPOINT\"",
            env!("CARGO_BIN_EXE_otelbox"),
            file.display()
        );
        let out = otelbox(&[
            "run",
            "--quiet",
            "--idle",
            "300ms",
            "--lint",
            gate,
            "--junit",
            report.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ]);
        (out.status.code(), std::fs::read_to_string(report).unwrap_or_default(), stderr(&out))
    };
    assert_eq!(run("off", &orphan).0, Some(0));
    assert_eq!(run("error", &orphan).0, Some(0), "an orphan is a warning");
    let (code, junit, said) = run("warn", &orphan);
    assert_eq!(code, Some(1), "{said}");
    assert!(junit.contains("lint: orphan-span"), "{junit}");
    let (code, junit, said) = run("error", &nameless);
    assert_eq!(code, Some(1), "{said}");
    assert!(junit.contains("lint: missing-service-name"), "{junit}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The command gets short SDK export delays unless it set its own, and a run in which nothing
/// arrived says what to check.
#[test]
fn run_gives_short_export_delays_and_explains_an_empty_run() {
    let out = otelbox(&[
        "run",
        "--quiet",
        "--idle",
        "200ms",
        "--",
        "sh",
        "-c",
        "echo delays=$OTEL_BSP_SCHEDULE_DELAY/$OTEL_BLRP_SCHEDULE_DELAY/$OTEL_METRIC_EXPORT_INTERVAL",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("delays=200/200/1000"), "{:?}", out);
    assert!(stderr(&out).contains("no telemetry arrived"), "{}", stderr(&out));
    let own = Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args([
            "run",
            "--quiet",
            "--idle",
            "200ms",
            "--protocol",
            "http/json",
            "--",
            "sh",
            "-c",
            "echo delay=$OTEL_BSP_SCHEDULE_DELAY",
        ])
        .env("OTEL_BSP_SCHEDULE_DELAY", "5000")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&own.stdout).contains("delay=5000"),
        "the caller's value wins"
    );
    assert!(
        stderr(&own).contains("http/json, which the Python SDK does not implement"),
        "{}",
        stderr(&own)
    );
}

/// `otelbox assert --since 5m` looks only at the last five minutes: a span from two hours ago
/// satisfies the assertion without it and not with it.
#[test]
fn assert_since_limits_the_assertion_to_recent_telemetry() {
    let b = Box::start(&["--memory"]);
    let mut request = trace_request("svc", "R", 1, 1);
    let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
    span.name = "nightly".into();
    span.start_time_unix_nano -= 2 * 3600 * 1_000_000_000;
    span.end_time_unix_nano -= 2 * 3600 * 1_000_000_000;
    assert_eq!(b.post("/v1/traces", "application/x-protobuf", encode(&request)).status(), 200);
    assert_eq!(otelbox(&["assert", "name = nightly", "--server", &b.api]).status.code(), Some(0));
    let recent = otelbox(&["assert", "name = nightly", "--since", "5m", "--server", &b.api]);
    assert_eq!(recent.status.code(), Some(1), "{}", String::from_utf8_lossy(&recent.stdout));
    assert_eq!(
        otelbox(&["assert", "name = nightly", "--since", "soon", "--server", &b.api])
            .status
            .code(),
        Some(2)
    );
}

/// The API's `trace_has` scope (what `otelbox run --per-test` evaluates each test's assertions
/// through) and `/traces/incomplete` (what `otelbox wait --complete` polls), and the CLI over them.
#[test]
fn trace_scope_and_incomplete_traces() {
    let b = Box::start(&["--memory"]);
    // Trace 1 (run_id A) is complete; trace 2 (run_id B) lacks its root, which two spans name.
    let complete = trace_request("svc", "A", 1, 3);
    let mut partial = trace_request("svc", "B", 2, 3);
    partial.resource_spans[0].scope_spans[0].spans.remove(0);
    for request in [&complete, &partial] {
        assert_eq!(b.post("/v1/traces", "application/x-protobuf", encode(request)).status(), 200);
    }
    let count = |query: &str| b.get_json(&format!("/api/v1/count?{query}")).1["count"].as_i64().unwrap();
    assert_eq!(count("q=name%20%3D%20%22op-1%22"), 2);
    assert_eq!(count("q=name%20%3D%20%22op-1%22&trace_has=run_id%20%3D%20A"), 1);
    assert_eq!(count("signal=traces&trace_has=run_id%20%3D%20B"), 1);
    assert_eq!(count("trace_has=run_id%20%3D%20C"), 0);
    let (status, body) = b.get_json("/api/v1/spans?trace_has=duration%20%3E");
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("trace_has: "), "{body}");
    let (_, spans) = b.get_json("/api/v1/spans?trace_has=run_id%20%3D%20B");
    assert_eq!(spans["spans"].as_array().unwrap().len(), 2);

    let (status, incomplete) = b.get_json("/api/v1/traces/incomplete");
    assert_eq!(status, 200, "{incomplete}");
    assert_eq!(incomplete["incomplete"], 1, "{incomplete}");
    let trace = &incomplete["traces"][0];
    assert_eq!(trace["trace_id"], "00000000000000020000000000000001");
    assert_eq!(trace["has_root"], false);
    assert_eq!(trace["missing_parents"][0]["parent_span_id"], "0000000000200001");
    assert_eq!(trace["missing_parents"][0]["children"], 2);
    assert_eq!(b.get_json("/api/v1/traces/incomplete?q=run_id%20%3D%20A").1["incomplete"], 0);

    // Lint scoped to each trace: the orphans are trace 2's.
    let orphans = |query: &str| {
        let (_, lint) = b.get_json(&format!("/api/v1/lint?{query}"));
        lint["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "orphan-span")
            .map(|f| f["count"].as_i64().unwrap())
    };
    assert_eq!(orphans("trace_has=run_id%20%3D%20B"), Some(2));
    assert_eq!(orphans("trace_has=run_id%20%3D%20A"), None);
    assert_eq!(orphans("since=1h"), Some(2));

    let waited = otelbox(&["wait", "--complete", "--timeout", "500ms", "--server", &b.api]);
    assert_eq!(waited.status.code(), Some(1), "{}", stderr(&waited));
    for expected in [
        "1 trace(s) still incomplete:",
        "trace 00000000000000020000000000000001: no root span yet",
        "parent 0000000000200001 missing; waiting on it: op-1 (svc, span 0000000000200002), op-2 (svc, span 0000000000200003)",
    ] {
        assert!(stderr(&waited).contains(expected), "{expected}: {}", stderr(&waited));
    }
    let complete = otelbox(&["wait", "--complete", "--where", "run_id = A", "--timeout", "5s", "--server", &b.api]);
    assert_eq!(complete.status.code(), Some(0), "{}", stderr(&complete));
    let lint = otelbox(&["lint", "--since", "1h", "--server", &b.api]);
    assert!(String::from_utf8_lossy(&lint.stdout).contains("[orphan-span] 2:"), "{lint:?}");
}

/// `otelbox export traces`, as the README's backup section writes it, is `--signal traces`.
#[test]
fn export_takes_the_signal_as_a_word() {
    let b = Box::start(&["--memory"]);
    assert_eq!(
        b.post("/v1/traces", "application/x-protobuf", encode(&trace_request("svc", "R1", 1, 3)))
            .status(),
        200
    );
    assert_eq!(
        b.post("/v1/logs", "application/x-protobuf", encode(&log_request("svc", "hello")))
            .status(),
        200
    );
    let file = temp_dir("export-word").join("traces.jsonl");
    let out = otelbox(&["export", "traces", "-o", file.to_str().unwrap(), "--server", &b.api]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.is_empty() && text.lines().all(|l| l.starts_with("{\"resourceSpans\"")),
        "only traces: {text}"
    );
    let both = otelbox(&["export", "traces", "--signal", "logs", "--server", &b.api]);
    assert_eq!(both.status.code(), Some(2), "one way of naming the signal at a time");
    let wrong = otelbox(&["export", "spans", "--server", &b.api]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("expected traces, logs, metrics or all"),
        "{}",
        stderr(&wrong)
    );
}

/// `otelbox gen` with the OTLP variables `otelbox up` prints, as an SDK: an exact --count of each
/// signal, over HTTP or gRPC, with the ingest token of OTEL_EXPORTER_OTLP_HEADERS.
fn gen_with(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otelbox"));
    command.arg("gen").args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.envs(envs.iter().copied()).output().unwrap()
}

#[test]
fn gen_sends_where_the_sdk_variables_point_and_exactly_its_count() {
    let b = Box::start(&["--memory", "--ingest-token", "gen-token"]);
    let http = [("OTEL_EXPORTER_OTLP_ENDPOINT", b.http.as_str())];
    let refused = gen_with(&["traces", "--count", "10", "--rate", "0"], &http);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("401") && stderr(&refused).contains("OTEL_EXPORTER_OTLP_HEADERS"),
        "{}",
        stderr(&refused)
    );

    let token = ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer gen-token");
    let out = gen_with(&["traces", "--count", "137", "--rate", "0", "--batch", "25"], &[http[0], token]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sent 137 spans"));
    assert_eq!(b.stored_spans(), 137, "--count is exact");

    let grpc = format!("http://127.0.0.1:{}", b.grpc_port);
    let out = gen_with(
        &["logs", "--count", "61", "--rate", "0"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", grpc.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            token,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b.stored_logs(), 61, "--count is exact over gRPC too");

    let out = gen_with(&["metrics", "--count", "45", "--rate", "0"], &[http[0], token]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b.get_json("/api/v1/status").1["storage"]["metric_points"], 45);
    let (_, metrics) = b.get_json("/api/v1/metrics");
    assert!(metrics["metrics"].as_array().unwrap().len() >= 4, "a realistic handful: {metrics}");
    // Over gRPC each request is encoded once, when it is made, and its bytes are counted.
    let out = gen_with(
        &["metrics", "--count", "12", "--rate", "0", "--json"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", grpc.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            token,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii_end().rsplit(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(summary["items"], 12, "{summary}");
    assert!(summary["bytes"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(b.get_json("/api/v1/status").1["storage"]["metric_points"], 57);

    // Each generated log record lies inside the span it names, and that span was sent too.
    let (_, logs) = b.get_json("/api/v1/logs?limit=20");
    let logs = logs["logs"].as_array().unwrap().clone();
    assert!(!logs.is_empty());
    for log in &logs {
        let (status, trace) = b.get_json(&format!("/api/v1/traces/{}", log["trace_id"].as_str().unwrap()));
        assert_eq!(status, 200, "the trace of {log}");
        let span = trace["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["span_id"] == log["span_id"])
            .unwrap_or_else(|| panic!("the span of {log}"));
        let start = span["start_unix_nano"].as_i64().unwrap();
        let end = start + span["duration_ns"].as_i64().unwrap();
        let at = log["time_unix_nano"].as_i64().unwrap();
        assert!(start <= at && at <= end, "log at {at} outside its span {start}..{end}");
    }
}

/// Log lines written to a file (journald, a redirect) carry no ANSI colour codes.
#[test]
fn up_writes_no_colour_codes_into_a_log_file() {
    let b = Box::start(&["--memory"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.log_text().contains("ready") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log = b.log_text();
    assert!(log.contains("ready"), "{log}");
    assert!(!log.contains('\u{1b}'), "escape codes in a file: {log:?}");
}

/// With tokens on, the banner says what to export without showing a token.
#[test]
fn the_banner_says_which_headers_to_export_and_shows_no_token() {
    let b = Box::start(&["--memory", "--ingest-token", "s3cret-ingest", "--api-token", "s3cret-api"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.log_text().contains("Ctrl-C stops it") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let banner = b.log_text();
    assert!(
        banner.contains("export OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer <ingest token>\""),
        "{banner}"
    );
    assert!(banner.contains("export OTELBOX_API_TOKEN=<api token>"), "{banner}");
    assert!(!banner.contains("s3cret"), "a token in the banner: {banner}");
}
