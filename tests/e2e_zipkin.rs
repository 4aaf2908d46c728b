//! The zipkin receiver through the real binary: a config that lists it in a traces pipeline next to
//! otlp makes otelbox listen on its endpoint; Zipkin v2 JSON posted there is answered 202 and reads
//! back from the trace API with its services, kinds, attributes, events and status; a bad body is
//! answered 400 and stores nothing.

mod common;

const SPANS: &str = r#"[
  {
    "traceId": "5af7183fb1d4cf5f",
    "id": "6b221d5bc9e6496c",
    "name": "get /api",
    "kind": "CLIENT",
    "timestamp": 1556604172355000,
    "duration": 3000,
    "localEndpoint": { "serviceName": "frontend", "ipv4": "192.168.99.2" },
    "remoteEndpoint": { "serviceName": "backend", "ipv4": "192.168.99.1", "port": 3306 },
    "annotations": [ { "timestamp": 1556604172355500, "value": "wire send" } ],
    "tags": { "http.method": "GET", "http.path": "/api", "error": "upstream timed out" }
  },
  {
    "traceId": "5af7183fb1d4cf5f",
    "id": "352bff9a74ca9ad2",
    "parentId": "6b221d5bc9e6496c",
    "name": "get /api",
    "timestamp": 1556604172355737,
    "duration": 1431,
    "kind": "SERVER",
    "localEndpoint": { "serviceName": "backend", "ipv4": "192.168.99.1", "port": 3306 },
    "remoteEndpoint": { "ipv4": "172.19.0.2", "port": 58648 },
    "tags": { "http.method": "GET", "http.path": "/api" }
  }
]"#;

fn start_with_zipkin() -> (common::Box, String, std::path::PathBuf) {
    let dir = common::temp_dir("zipkin");
    let port = common::free_port();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc: {{endpoint: 127.0.0.1:4317}}\n      http: {{endpoint: 127.0.0.1:4318}}\n  zipkin:\n    endpoint: 127.0.0.1:{port}\nexporters:\n  otelbox: {{}}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp, zipkin]\n      exporters: [otelbox]\n"
        ),
    )
    .unwrap();
    let b = common::Box::start(&["--memory", "--config", config.to_str().unwrap()]);
    (b, format!("http://127.0.0.1:{port}/api/v2/spans"), dir)
}

#[test]
fn zipkin_spans_are_stored_and_read_back_as_otlp_spans() {
    let (b, zipkin, dir) = start_with_zipkin();
    let response = b
        .client
        .post(&zipkin)
        .header("content-type", "application/json")
        .body(SPANS)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 202, "{}", response.text().unwrap_or_default());

    // Accepted means committed: the trace is there at once, under the left-padded 128-bit id.
    let (status, trace) = b.get_json("/api/v1/traces/00000000000000005af7183fb1d4cf5f");
    assert_eq!(status, 200, "{trace}");
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2, "{trace}");
    let span = |id: &str| {
        spans
            .iter()
            .find(|s| s["span_id"] == id)
            .unwrap_or_else(|| panic!("no span {id}: {trace}"))
    };

    let client = span("6b221d5bc9e6496c");
    assert_eq!(client["service"], "frontend");
    assert_eq!(client["kind"], "client");
    assert_eq!(client["parent_span_id"], "");
    assert_eq!(client["start_unix_nano"], 1_556_604_172_355_000_000i64);
    assert_eq!(client["duration_ns"], 3_000_000);
    assert_eq!(client["status"]["code"], "error");
    assert_eq!(client["status"]["message"], "upstream timed out");
    assert_eq!(client["attributes"]["http.method"], "GET");
    assert_eq!(client["attributes"]["net.host.ip"], "192.168.99.2");
    assert_eq!(client["attributes"]["peer.service"], "backend");
    assert_eq!(client["attributes"]["net.peer.ip"], "192.168.99.1");
    assert_eq!(client["attributes"]["net.peer.port"], 3306);
    assert_eq!(client["events"][0]["name"], "wire send");
    assert_eq!(client["events"][0]["time_unix_nano"], 1_556_604_172_355_500_000i64);

    let server = span("352bff9a74ca9ad2");
    assert_eq!(server["service"], "backend");
    assert_eq!(server["resource"]["service.name"], "backend");
    assert_eq!(server["kind"], "server");
    assert_eq!(server["parent_span_id"], "6b221d5bc9e6496c");
    assert_eq!(server["duration_ns"], 1_431_000);
    assert_eq!(server["status"]["code"], "unset");
    assert_eq!(server["attributes"]["http.path"], "/api");
    assert_eq!(server["attributes"]["net.host.port"], 3306);
    assert_eq!(server["attributes"]["net.peer.ip"], "172.19.0.2");
    assert_eq!(server["attributes"]["net.peer.port"], 58648);
    assert_eq!(b.stored_spans(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_zipkin_body_gets_400_and_stores_nothing() {
    let (b, zipkin, dir) = start_with_zipkin();
    let bad_id = SPANS.replacen("5af7183fb1d4cf5f", "not-a-hex-id", 1);
    for (body, expected) in [
        (
            bad_id.as_str(),
            "spans[0].traceId: expected 16 or 32 hex characters, got 'not-a-hex-id'",
        ),
        ("{\"not\": \"a list\"}", "expected a JSON list of Zipkin v2 spans, got an object"),
        ("[{", "body is not valid JSON"),
    ] {
        let response = b
            .client
            .post(&zipkin)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let message = response.text().unwrap();
        assert!(message.starts_with(expected), "{message}");
    }
    // The valid second span of the first body was not stored either: the whole body is refused.
    assert_eq!(b.stored_spans(), 0);
    let (status, _) = b.get_json("/api/v1/traces/00000000000000005af7183fb1d4cf5f");
    assert_eq!(status, 404);
    let _ = std::fs::remove_dir_all(dir);
}

/// A valid Zipkin body of empty spans (`[{},{},...]`) decodes to hundreds of times its size: its
/// decoded size is estimated first and refused for good.
#[test]
fn an_amplified_zipkin_body_is_refused_before_decoding() {
    let (b, zipkin, dir) = start_with_zipkin();
    let mut body = String::from("[");
    body.push_str(&"{},".repeat(2 << 20));
    body.push_str("{}]");
    let response = b
        .client
        .post(&zipkin)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert!(response.text().unwrap().contains("once decoded"));
    assert_eq!(b.stored_spans(), 0);
    let _ = std::fs::remove_dir_all(dir);
}
