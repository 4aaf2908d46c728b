//! The loadbalancing exporter through the real binary: a front box balances over two backend boxes
//! by trace id, and every trace lands whole on exactly one of them (the tier of boxes in front of a
//! larger backend that the issue describes).

mod common;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TRACES: u64 = 24;
const SPANS_PER_TRACE: usize = 3;

/// trace id -> span count, as one box stores them.
fn stored_traces(otelbox: &common::Box) -> BTreeMap<String, i64> {
    let (_, body) = otelbox.get_json("/api/v1/traces?limit=500&since=1h");
    body["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["trace_id"].as_str().unwrap().to_string(), t["span_count"].as_i64().unwrap()))
        .collect()
}

#[test]
fn every_trace_lands_whole_on_exactly_one_backend() {
    let (a, b) = (common::Box::start(&["--memory"]), common::Box::start(&["--memory"]));
    let dir = common::temp_dir("loadbalancing");
    let config = dir.join("front.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
receivers:
  otlp: {{ protocols: {{ http: {{}} }} }}
exporters:
  loadbalancing:
    routing_key: traceID
    protocol:
      otlp: {{ tls: {{ insecure: true }}, timeout: 5s }}
    resolver:
      static: {{ hostnames: ["127.0.0.1:{}", "127.0.0.1:{}"] }}
service:
  pipelines:
    traces: {{ receivers: [otlp], exporters: [loadbalancing] }}
"#,
            a.grpc_port, b.grpc_port
        ),
    )
    .unwrap();
    let front = common::Box::start(&["--memory", "--config", config.to_str().unwrap()]);

    // Each request holds two traces, so the exporter has to split requests, not only route them.
    for pair in 0..TRACES / 2 {
        let mut request = common::trace_request("checkout", "lb-1", pair * 2 + 1, SPANS_PER_TRACE);
        let second = common::trace_request("checkout", "lb-1", pair * 2 + 2, SPANS_PER_TRACE);
        request.resource_spans[0].scope_spans[0]
            .spans
            .extend(second.resource_spans[0].scope_spans[0].spans.clone());
        let response = front.post("/v1/traces", "application/x-protobuf", common::encode(&request));
        assert_eq!(response.status().as_u16(), 200, "{}", front.log_text());
    }

    let expected = TRACES as i64 * SPANS_PER_TRACE as i64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while a.stored_spans() + b.stored_spans() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (on_a, on_b) = (stored_traces(&a), stored_traces(&b));
    assert_eq!(
        a.stored_spans() + b.stored_spans(),
        expected,
        "every span delivered once\n{}",
        front.log_text()
    );
    assert_eq!(
        on_a.len() + on_b.len(),
        TRACES as usize,
        "every trace on one box: {on_a:?} {on_b:?}"
    );
    assert!(on_a.keys().all(|id| !on_b.contains_key(id)), "no trace on both boxes");
    assert!(
        on_a.values().chain(on_b.values()).all(|n| *n == SPANS_PER_TRACE as i64),
        "each trace whole: {on_a:?} {on_b:?}"
    );
    assert!(
        !on_a.is_empty() && !on_b.is_empty(),
        "both backends get traces: {} and {}",
        on_a.len(),
        on_b.len()
    );
}
