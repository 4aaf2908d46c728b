//! Server behaviour end to end: a taken port is a one-line error naming the flag, live tails see
//! new data, and the operational endpoints answer.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

#[test]
fn a_port_in_use_is_a_clear_error_naming_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args([
            "up",
            "--memory",
            "--grpc-port",
            &port.to_string(),
            "--http-port",
            &free_port().to_string(),
            "--ui-port",
            &free_port().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("already in use") && stderr.contains("--grpc-port") && stderr.contains(&port.to_string()),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn live_tail_streams_a_log_sent_after_connecting() {
    let b = Box::start(&["--memory"]);
    let response = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/stream/logs?q=body%20~%20tailme", b.api))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        b.post(
            "/v1/logs",
            "application/x-protobuf",
            encode(&log_request("tail", "ignore this one"))
        )
        .status(),
        200
    );
    assert_eq!(
        b.post(
            "/v1/logs",
            "application/x-protobuf",
            encode(&log_request("tail", "please tailme now"))
        )
        .status(),
        200
    );
    let mut reader = BufReader::new(response);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(data) = line.strip_prefix("data:") {
            let log: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
            assert_eq!(log["body"], "please tailme now", "the filter applies to the tail");
            assert_eq!(log["service"], "tail");
            return;
        }
    }
    panic!("no event within 10 s");
}

#[test]
fn health_readiness_and_prometheus_metrics() {
    let b = Box::start(&["--memory"]);
    assert_eq!(b.client.get(format!("{}/healthz", b.api)).send().unwrap().status(), 200);
    assert_eq!(b.client.get(format!("{}/readyz", b.api)).send().unwrap().status(), 200);
    assert_eq!(
        b.post("/v1/traces", "application/x-protobuf", encode(&trace_request("m", "X", 1, 2)))
            .status(),
        200
    );
    let text = b.client.get(format!("{}/metrics", b.api)).send().unwrap().text().unwrap();
    assert!(
        text.contains("otelbox_receiver_accepted_items_total{signal=\"traces\"} 2"),
        "{text}"
    );
    let (status, body) = b.get_json("/api/v1/nope");
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

/// DNS rebinding: a web page that points its own name at 127.0.0.1 sends that name as the Host.
/// Loopback listeners (UI/API and OTLP/HTTP) refuse it before any handler runs, store nothing, and
/// serve localhost, loopback addresses and the names given with --allowed-host.
#[test]
fn dns_rebinding_a_foreign_host_name_is_refused_on_loopback_listeners() {
    let b = common::Box::start(&["--memory", "--allowed-host", "otelbox.internal"]);
    let with_host = |url: String, host: &str| b.client.get(url).header("host", host).send().unwrap();
    let read = with_host(format!("{}/api/v1/spans", b.api), "evil.example:4319");
    assert_eq!(read.status(), 403, "a rebound name cannot read");
    assert!(read.text().unwrap().contains("--allowed-host"), "the refusal says what to do");
    let send = b
        .client
        .post(format!("{}/v1/traces", b.http))
        .header("host", "evil.example")
        .header("content-type", "application/x-protobuf")
        .body(common::encode(&common::trace_request("svc", "rebound", 1, 2)))
        .send()
        .unwrap();
    assert_eq!(send.status(), 403, "a rebound name cannot send");
    assert_eq!(b.stored_spans(), 0, "and nothing was stored");
    for host in ["localhost:4319", "127.0.0.1", "[::1]:4319", "otelbox.internal:4319"] {
        assert_eq!(with_host(format!("{}/api/v1/spans", b.api), host).status(), 200, "{host}");
    }
}

/// Search through the API (issue 23): conditions across a trace's spans, totals past the page,
/// sorting, full-text words in any order, a warning for a key nothing has, and a trace link in a
/// span search explained.
#[test]
fn search_relates_spans_counts_past_the_page_and_explains_empty_answers() {
    let b = Box::start(&["--memory"]);
    for n in 1..=3 {
        let r = b.post("/v1/traces", "application/x-protobuf", encode(&trace_request("shop", "R1", n, 3)));
        assert_eq!(r.status(), 200);
    }
    let r = b.post(
        "/v1/logs",
        "application/x-protobuf",
        encode(&log_request("shop", "upstream timeout after 30s")),
    );
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while (b.stored_spans() < 9 || b.stored_logs() < 1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let get = |path: &str, params: &[(&str, &str)]| -> (u16, serde_json::Value) {
        let r = b.client.get(format!("{}{path}", b.api)).query(params).send().unwrap();
        (r.status().as_u16(), r.json().unwrap())
    };
    let listed = |answer: &serde_json::Value, key: &str| answer[key].as_array().map_or(0, Vec::len);

    // op-1 and op-2 are children of op-0 in each of the three traces.
    let (status, answer) = get("/api/v1/traces", &[("q", r#"name = "op-0" -> name = "op-2""#)]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!((listed(&answer, "traces"), answer["total"].as_i64()), (3, Some(3)), "{answer}");
    let (_, answer) = get("/api/v1/traces", &[("q", r#"name = "op-2" -> name = "op-0""#)]);
    assert_eq!((listed(&answer, "traces"), answer["total"].as_i64()), (0, Some(0)), "{answer}");
    assert!(answer.get("warnings").is_none(), "every key exists: {answer}");
    let (_, answer) = get("/api/v1/traces", &[("q", r#"name = "op-1" then name = "op-2""#)]);
    assert_eq!(listed(&answer, "traces"), 3, "{answer}");
    // The page holds one; the total says three; sorting is over every match.
    let (_, answer) = get(
        "/api/v1/traces",
        &[("q", "run_id = R1"), ("limit", "1"), ("sort", "duration"), ("total", "true")],
    );
    assert_eq!((listed(&answer, "traces"), answer["total"].as_i64()), (1, Some(3)), "{answer}");
    assert_eq!(answer["total_capped"], false);
    let (_, answer) = get("/api/v1/traces", &[("q", "run_id = R1"), ("limit", "1")]);
    assert!(answer.get("total").is_none(), "a full page is counted when asked: {answer}");
    let (status, answer) = get("/api/v1/traces", &[("sort", "sideways")]);
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("duration"), "{answer}");
    let (_, answer) = get("/api/v1/spans", &[("q", "run_id = R1"), ("limit", "2"), ("total", "1")]);
    assert_eq!((listed(&answer, "spans"), answer["total"].as_i64()), (2, Some(9)), "{answer}");

    // A key nothing has: the empty answer says so, with the key meant.
    let (status, answer) = get("/api/v1/spans", &[("q", "run_i = R1")]);
    assert_eq!(status, 200);
    assert_eq!(listed(&answer, "spans"), 0);
    let warning = answer["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains("`run_i`") && warning.contains("did you mean `run_id`?"),
        "{answer}"
    );
    // A span search takes one condition, and says where links belong.
    let (status, answer) = get("/api/v1/spans", &[("q", "name = a -> name = b")]);
    assert_eq!(status, 400);
    assert!(answer["error"]["message"].as_str().unwrap().contains("trace search"), "{answer}");

    // Full text: every word in any order, prefixes.
    for q in [r#"body ~ "timeout upstream""#, "body ~ upstr*", r#"body ~ '"upstream timeout"'"#] {
        let (status, answer) = get("/api/v1/logs", &[("q", q)]);
        assert_eq!(status, 200, "{q}: {answer}");
        assert_eq!((listed(&answer, "logs"), answer["total"].as_i64()), (1, Some(1)), "{q}: {answer}");
    }
    let (_, answer) = get("/api/v1/logs", &[("q", r#"body ~ '"timeout upstream"'"#)]);
    assert_eq!(listed(&answer, "logs"), 0, "a phrase keeps its order: {answer}");
}

/// The chart endpoints the UI draws from: the log histogram counts what the log search finds per
/// step and severity, and a histogram's series carries its bucket counts and its exemplars.
#[test]
fn log_histogram_and_metric_buckets_with_exemplars() {
    let b = Box::start(&["--memory"]);
    let now = now_ns();
    let log = |service: &str, severity: i32, body: &str| {
        serde_json::json!({"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeLogs": [{"logRecords": [{"timeUnixNano": now.to_string(), "severityNumber": severity, "body": {"stringValue": body}}]}]
        }]})
    };
    for (service, severity, body) in [("shop", 13, "slow cart"), ("shop", 17, "cart failed"), ("other", 17, "cart failed")] {
        let r = b.post(
            "/v1/logs",
            "application/json",
            log(service, severity, body).to_string().into_bytes(),
        );
        assert_eq!(r.status(), 200);
    }
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let metrics = serde_json::json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeMetrics": [{"metrics": [
            {"name": "cart.duration", "unit": "s", "histogram": {"aggregationTemporality": 1, "dataPoints": [{
                "timeUnixNano": now.to_string(), "startTimeUnixNano": (now - 10_000_000_000).to_string(),
                "count": "3", "sum": 2.5, "bucketCounts": ["1", "2", "0"], "explicitBounds": [0.5, 1.0],
                "exemplars": [{"timeUnixNano": now.to_string(), "asDouble": 0.9, "traceId": trace_id, "spanId": "b7ad6b7169203331"}]
            }]}},
            {"name": "cart.size", "gauge": {"dataPoints": [{"timeUnixNano": now.to_string(), "asInt": "3"}]}}
        ]}]
    }]});
    let r = b.post("/v1/metrics", "application/json", metrics.to_string().into_bytes());
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.stored_logs() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }

    let (status, answer) = b.get_json("/api/v1/logs/histogram?since=1h&service=shop&q=body%20~%20cart");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["total"], 2, "{answer}");
    let sum = |class: &str| {
        answer["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["counts"][class].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!((sum("warn"), sum("error")), (1, 1), "{answer}");
    let step = answer["step_ns"].as_i64().unwrap();
    assert_eq!(step, 60_000_000_000, "an hour in about 60 steps: a minute each");
    let starts: Vec<i64> = answer["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["start_unix_nano"].as_i64().unwrap())
        .collect();
    assert!(
        starts.iter().all(|s| s % step == 0) && starts.windows(2).all(|w| w[1] - w[0] == step),
        "{starts:?}"
    );
    // It counts what the list finds.
    let (_, logs) = b.get_json("/api/v1/logs?since=1h&service=shop&q=body%20~%20cart&total=true");
    assert_eq!(logs["total"], answer["total"], "{logs}");
    let (status, answer) = b.get_json("/api/v1/logs/histogram?since=1h&step=1ms");
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("at most"), "{answer}");

    let (status, answer) = b.get_json("/api/v1/metrics/cart.duration/series?since=1h&agg=buckets");
    assert_eq!(status, 200, "{answer}");
    let series = &answer["series"][0];
    assert_eq!(series["buckets"]["bounds"], serde_json::json!([0.5, 1.0]), "{answer}");
    assert_eq!(series["buckets"]["counts"], serde_json::json!([[1.0, 2.0, 0.0]]), "{answer}");
    assert_eq!(series["exemplars"][0]["trace_id"], trace_id, "{answer}");
    assert_eq!(series["exemplars"][0]["span_id"], "b7ad6b7169203331", "{answer}");
    assert_eq!(series["exemplars"][0]["value"], 0.9, "{answer}");
    let (status, answer) = b.get_json("/api/v1/metrics/cart.size/series?since=1h&agg=buckets");
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("no buckets"), "{answer}");
}
