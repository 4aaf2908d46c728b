//! The redaction processor through the real binary: spans and logs carrying e-mail addresses, card
//! numbers, API keys and passwords are sent over OTLP/HTTP (protobuf and JSON) to a box whose traces
//! and logs pipelines redact, and nothing read back through the API (trace view, OTLP download,
//! log list, exports, attribute and full-text search) contains a secret; the masks are there instead.

mod common;
use common::*;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::Event;
use serde_json::json;

const CONFIG: &str = r#"
receivers:
  otlp: { protocols: { grpc: {}, http: {} } }
processors:
  redaction:
    allow_all_keys: true
    blocked_values:
      - '[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}'   # e-mail
      - '\b(?:\d[ -]?){13,16}\b'                            # card numbers
      - '\b(?:sk|pk|api|key)[-_][A-Za-z0-9_-]{16,}\b'        # API keys
    blocked_key_patterns: ['.*(password|secret|token).*']
    summary: info
exporters:
  otelbox: {}
service:
  pipelines:
    traces: { receivers: [otlp], processors: [redaction], exporters: [otelbox] }
    logs: { receivers: [otlp], processors: [redaction], exporters: [otelbox] }
"#;

/// Every secret sent below; none may come back from any read path.
const SECRETS: &[&str] = &[
    "ops-team@example.com",
    "alice@example.com",
    "4111 1111 1111 1111",
    "4111111111111111",
    "sk-proj_abcdefghijklmnop1234",
    "hunter2",
    "carol@example.net",
    "dave@example.com",
    "5500 0000 0000 0004",
    "api_0123456789abcdefXYZ",
    "tok-9f8e7d6c5b4a",
    "erin@example.com",
    "correct horse battery staple",
    "pk_live_ABCDEFGHIJKLMNOP",
];

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} contains the secret {secret:?}:\n{text}");
    }
}

#[test]
fn secrets_in_spans_and_logs_never_reach_the_store() {
    let dir = temp_dir("redaction");
    let config = dir.join("otelbox.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let b = Box::start(&["--memory", "--config", config.to_str().unwrap()]);

    use any_value::Value::IntValue;
    let mut traces = trace_request("checkout", "R1", 7, 1);
    traces.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .push(string_kv("deployment.owner", "ops-team@example.com"));
    let span = &mut traces.resource_spans[0].scope_spans[0].spans[0];
    span.attributes.extend([
        string_kv("user.email", "alice@example.com"),
        string_kv("payment.card", "4111 1111 1111 1111"),
        kv("card.number", IntValue(4111111111111111)),
        string_kv("llm.api_key", "sk-proj_abcdefghijklmnop1234"),
        string_kv("db.password", "hunter2"),
        string_kv("http.route", "/pay"),
    ]);
    span.events.push(Event {
        time_unix_nano: span.start_time_unix_nano + 10,
        name: "exception".into(),
        attributes: vec![string_kv("exception.message", "login failed for carol@example.net")],
        ..Default::default()
    });
    let trace_id = hex::encode(&span.trace_id);
    assert_eq!(b.post("/v1/traces", "application/x-protobuf", encode(&traces)).status(), 200);

    let mut logs = log_request(
        "checkout",
        "payment by dave@example.com with card 5500 0000 0000 0004, key api_0123456789abcdefXYZ",
    );
    logs.resource_logs[0].scope_logs[0].log_records[0]
        .attributes
        .extend([string_kv("session.token", "tok-9f8e7d6c5b4a"), kv("user.id", IntValue(42))]);
    assert_eq!(b.post("/v1/logs", "application/x-protobuf", encode(&logs)).status(), 200);
    let string = |s: &str| json!({ "stringValue": s });
    let map_body = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": string("checkout")}]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": now_ns().to_string(),
            "severityNumber": 9,
            "body": {"kvlistValue": {"values": [
                {"key": "event", "value": string("signup")},
                {"key": "user", "value": {"kvlistValue": {"values": [{"key": "email", "value": string("erin@example.com")}]}}},
                {"key": "password", "value": string("correct horse battery staple")},
                {"key": "items", "value": {"arrayValue": {"values": [string("pk_live_ABCDEFGHIJKLMNOP"), string("ok")]}}}
            ]}}
        }]}]
    }]});
    assert_eq!(
        b.post("/v1/logs", "application/json", map_body.to_string().into_bytes()).status(),
        200
    );

    let text = |path: &str| -> String {
        let response = b.client.get(format!("{}{path}", b.api)).send().unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.text().unwrap()
    };

    let trace_text = text(&format!("/api/v1/traces/{trace_id}"));
    assert_no_secret("the trace view", &trace_text);
    let trace: serde_json::Value = serde_json::from_str(&trace_text).unwrap();
    let span = &trace["spans"][0];
    for key in ["user.email", "payment.card", "card.number", "llm.api_key", "db.password"] {
        assert_eq!(span["attributes"][key], "****", "{key} in {span}");
    }
    assert_eq!(span["attributes"]["http.route"], "/pay", "what is not secret is kept");
    assert_eq!(span["attributes"]["redaction.masked.count"], 5);
    assert_eq!(span["resource"]["deployment.owner"], "****");
    assert_eq!(span["events"][0]["attributes"]["exception.message"], "login failed for ****");

    assert_no_secret("the OTLP download", &text(&format!("/api/v1/traces/{trace_id}/otlp")));
    assert_no_secret("the trace export", &text("/api/v1/export/traces"));

    let logs_text = text("/api/v1/logs?limit=100");
    assert_no_secret("the log list", &logs_text);
    let logs: serde_json::Value = serde_json::from_str(&logs_text).unwrap();
    let records = logs["logs"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{logs}");
    let string_record = records.iter().find(|r| r["body"].is_string()).expect("the string body");
    assert_eq!(string_record["body"], "payment by **** with card ****, key ****");
    assert_eq!(string_record["attributes"]["session.token"], "****");
    assert_eq!(string_record["attributes"]["user.id"], 42);
    assert_eq!(string_record["attributes"]["redaction.body.masked.count"], 1);
    let map_record = records.iter().find(|r| !r["body"].is_string()).expect("the map body");
    let body = map_record["body"].to_string();
    for mask in [
        r#""email":"****""#,
        r#""password":"****""#,
        r#"["****","ok"]"#,
        r#""event":"signup""#,
    ] {
        assert!(body.contains(mask), "missing {mask} in {body}");
    }
    assert_eq!(map_record["attributes"]["redaction.body.masked.count"], 3);
    assert_no_secret("the log export", &text("/api/v1/export/logs"));

    let (_, found) = b.get_json("/api/v1/spans?q=user.email%20%3D%20%22alice%40example.com%22");
    assert_eq!(found["spans"], json!([]), "the attribute index holds no secret");
    let (_, found) = b.get_json("/api/v1/spans?q=user.email%20%3D%20%22****%22");
    assert_eq!(found["spans"].as_array().unwrap().len(), 1, "the mask is indexed instead");
    let (_, found) = b.get_json("/api/v1/logs?q=body%20~%20%22dave%22");
    assert_eq!(found["logs"], json!([]), "the full-text index holds no secret");
    assert_no_secret("otelbox's own log", &b.log_text());
}
