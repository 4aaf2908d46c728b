//! Connectors between pipelines through the real binary: the routing connector sends error spans to
//! a second backend (a file here) and one service's spans through a forward connector, the rest to
//! the store; a cycle of connectors is refused before anything starts.

mod common;
use std::time::{Duration, Instant};

fn config(dir: &std::path::Path) -> String {
    format!(
        r#"
receivers:
  otlp: {{ protocols: {{ http: {{}} }} }}
exporters:
  otelbox: {{}}
  file/errors: {{ path: {errors}, flush_interval: 100ms }}
connectors:
  routing:
    default_pipelines: [traces/store]
    table:
      - context: span
        condition: status.code == STATUS_CODE_ERROR
        pipelines: [traces/errors]
      - statement: route() where attributes["service.name"] == "payments"
        pipelines: [traces/payments]
  forward: {{}}
service:
  pipelines:
    traces/in: {{ receivers: [otlp], exporters: [routing] }}
    traces/errors: {{ receivers: [routing], exporters: [file/errors] }}
    traces/payments: {{ receivers: [routing], exporters: [forward] }}
    traces/store: {{ receivers: [routing, forward], exporters: [otelbox] }}
"#,
        errors = dir.join("errors.jsonl").display()
    )
}

#[test]
fn routing_sends_error_spans_to_their_own_backend_and_the_rest_to_the_store() {
    let dir = common::temp_dir("connectors");
    let file = dir.join("otelbox.yaml");
    std::fs::write(&file, config(&dir)).unwrap();
    let otelbox = common::Box::start(&["--memory", "--config", file.to_str().unwrap()]);

    // checkout: 4 spans, the second failed; payments: 3 spans through the forward connector.
    let mut checkout = common::trace_request("checkout", "route-1", 1, 4);
    checkout.resource_spans[0].scope_spans[0].spans[1].status = Some(opentelemetry_proto::tonic::trace::v1::Status {
        code: 2,
        ..Default::default()
    });
    for request in [checkout, common::trace_request("payments", "route-1", 2, 3)] {
        let response = otelbox.post("/v1/traces", "application/x-protobuf", common::encode(&request));
        assert_eq!(response.status().as_u16(), 200, "{}", otelbox.log_text());
    }
    assert_eq!(
        otelbox.stored_spans(),
        6,
        "every span but the failed one is stored, acked only once committed"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let errors = loop {
        let text = std::fs::read_to_string(dir.join("errors.jsonl")).unwrap_or_default();
        if text.lines().count() >= 1 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<serde_json::Value> = errors.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = lines
        .iter()
        .flat_map(|l| l["resourceSpans"].as_array().unwrap())
        .flat_map(|rs| rs["scopeSpans"].as_array().unwrap())
        .flat_map(|ss| ss["spans"].as_array().unwrap())
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["op-1"], "only the failed span went to the errors backend");
    let (_, payments) = otelbox.get_json("/api/v1/spans?q=service%20%3D%20%22payments%22&limit=10");
    assert_eq!(
        payments["spans"].as_array().unwrap().len(),
        3,
        "payments came through the forward connector"
    );
}

#[test]
fn a_cycle_of_connectors_is_refused_before_anything_starts() {
    let dir = common::temp_dir("connector-cycle");
    let file = dir.join("cycle.yaml");
    std::fs::write(
        &file,
        r#"
receivers: { otlp: { protocols: { http: {} } } }
exporters: { otelbox: {} }
connectors: { forward/a: {}, forward/b: {} }
service:
  pipelines:
    traces/in: { receivers: [otlp, forward/b], exporters: [forward/a] }
    traces/loop: { receivers: [forward/a], exporters: [forward/b, otelbox] }
"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args(["config", "validate", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("service.pipelines: the pipelines and connectors form a cycle")
            && stderr.contains("traces/in -> forward/a -> traces/loop -> forward/b -> traces/in"),
        "{stderr}"
    );
}
