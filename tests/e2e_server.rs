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
