//! The spanmetrics connector through the real binary: spans sent over OTLP/HTTP become RED metrics
//! (`traces.span.metrics.calls` and `.duration`) that the metrics API lists and charts, so the
//! connector's flushes reach the store through the metrics pipeline.

mod common;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
receivers:
  otlp: { protocols: { grpc: {}, http: {} } }
processors:
  batch: { timeout: 10ms }
exporters:
  otelbox: {}
connectors:
  spanmetrics:
    metrics_flush_interval: 1s
    dimensions: [ { name: run_id } ]
service:
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [otelbox, spanmetrics] }
    metrics: { receivers: [otlp, spanmetrics], processors: [batch], exporters: [otelbox] }
"#;

/// `(service.name, span.name)` -> the latest calls value, from the chart API's raw values.
fn latest_calls(otelbox: &common::Box) -> Vec<(String, String, f64)> {
    let (status, body) = otelbox.get_json("/api/v1/metrics/traces.span.metrics.calls/series?since=5m&agg=last");
    if status != 200 {
        return Vec::new();
    }
    let mut out: Vec<(String, String, f64)> = body["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let value = s["points"].as_array().unwrap().last().unwrap()[1].as_f64().unwrap();
            let label = |key: &str| s["labels"][key].as_str().unwrap_or_default().to_string();
            assert_eq!(label("span.kind"), "SPAN_KIND_SERVER", "{s}");
            assert_eq!(label("status.code"), "STATUS_CODE_UNSET", "{s}");
            assert_eq!(label("run_id"), "red-1", "a configured dimension: {s}");
            (label("service.name"), label("span.name"), value)
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

#[test]
fn spans_become_red_metrics_that_the_metrics_api_serves() {
    let dir = common::temp_dir("spanmetrics");
    let file = dir.join("otelbox.yaml");
    std::fs::write(&file, CONFIG).unwrap();
    let otelbox = common::Box::start(&["--memory", "--config", file.to_str().unwrap()]);

    for (service, trace_no, spans) in [("checkout", 1, 3), ("checkout", 2, 2), ("payments", 3, 1)] {
        let body = common::encode(&common::trace_request(service, "red-1", trace_no, spans));
        let response = otelbox.post("/v1/traces", "application/x-protobuf", body);
        assert_eq!(response.status().as_u16(), 200);
    }
    let expected = vec![
        ("checkout".to_string(), "op-0".to_string(), 2.0),
        ("checkout".to_string(), "op-1".to_string(), 2.0),
        ("checkout".to_string(), "op-2".to_string(), 1.0),
        ("payments".to_string(), "op-0".to_string(), 1.0),
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        seen = latest_calls(&otelbox);
        if seen == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        seen,
        expected,
        "the calls per service and span name, flushed every second\n{}",
        otelbox.log_text()
    );

    let (_, listed) = otelbox.get_json("/api/v1/metrics");
    let metric = |name: &str| {
        listed["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is listed: {listed}"))
    };
    let calls = metric("traces.span.metrics.calls");
    assert_eq!((calls["type"].as_str(), calls["series"].as_i64()), (Some("sum"), Some(4)));
    let duration = metric("traces.span.metrics.duration");
    assert_eq!(
        (duration["type"].as_str(), duration["unit"].as_str(), duration["series"].as_i64()),
        (Some("histogram"), Some("ms"), Some(4))
    );

    // Every span lasted 1 ms, so the median duration of every series is within the first bucket.
    let (status, body) = otelbox.get_json("/api/v1/metrics/traces.span.metrics.duration/series?since=5m&agg=p50&group_by=service.name");
    assert_eq!(status, 200, "{body}");
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{body}");
    for s in series {
        let p50 = s["points"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p[1].as_f64())
            .next_back()
            .unwrap();
        assert!(p50 > 0.0 && p50 <= 2.0, "p50 {p50} ms in {s}");
    }
}
