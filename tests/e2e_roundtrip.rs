//! Storage is lossless: what an SDK sent comes back identical through the OTLP/JSON download, and
//! every metric type (gauge, sum, histogram, exponential histogram, summary) is stored and charted.

mod common;
use common::*;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::Status;

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

#[test]
fn a_stored_trace_downloads_as_the_identical_otlp() {
    let b = Box::start(&["--memory"]);
    let mut request = trace_request("lossless", "L1", 42, 3);
    request.resource_spans[0].schema_url = "https://opentelemetry.io/schemas/1.26.0".into();
    request.resource_spans[0].scope_spans[0].scope.as_mut().unwrap().version = "2.0".into();
    let span = &mut request.resource_spans[0].scope_spans[0].spans[1];
    use any_value::Value::*;
    span.attributes.extend([
        kv("b", BoolValue(true)),
        kv("i", IntValue(-7)),
        kv("d", DoubleValue(2.5)),
        kv("bytes", BytesValue(vec![0, 1, 255])),
        kv(
            "arr",
            ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                values: vec![
                    AnyValue { value: Some(IntValue(1)) },
                    AnyValue {
                        value: Some(StringValue("two".into())),
                    },
                ],
            }),
        ),
        kv(
            "map",
            KvlistValue(opentelemetry_proto::tonic::common::v1::KeyValueList {
                values: vec![kv("inner", DoubleValue(0.25))],
            }),
        ),
    ]);
    span.trace_state = "vendor=1".into();
    span.flags = 0x101;
    span.dropped_attributes_count = 2;
    span.events = vec![Event {
        time_unix_nano: span.start_time_unix_nano + 5,
        name: "retry".into(),
        attributes: vec![kv("attempt", IntValue(2))],
        dropped_attributes_count: 1,
    }];
    span.links = vec![Link {
        trace_id: vec![9; 16],
        span_id: vec![8; 8],
        trace_state: "x=y".into(),
        attributes: vec![kv("why", StringValue("caused by".into()))],
        ..Default::default()
    }];
    span.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    assert_eq!(b.post("/v1/traces", "application/x-protobuf", encode(&request)).status(), 200);

    let trace_id = hex::encode(&request.resource_spans[0].scope_spans[0].spans[0].trace_id);
    let r = b.client.get(format!("{}/api/v1/traces/{trace_id}/otlp", b.api)).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains(&trace_id));
    let downloaded = otelbox::pdata::json::decode_traces(&r.bytes().unwrap()).unwrap();
    let mut sent = request.resource_spans[0].clone();
    let mut got = downloaded.resource_spans[0].clone();
    sent.scope_spans[0].spans.sort_by_key(|s| s.start_time_unix_nano);
    got.scope_spans[0].spans.sort_by_key(|s| s.start_time_unix_nano);
    assert_eq!(got, sent, "the download is the trace exactly as sent");
}

#[test]
fn every_metric_type_is_stored_and_charted() {
    let b = Box::start(&["--memory"]);
    let t = now_ns();
    let start = t - 60_000_000_000;
    let body = serde_json::json!({"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "metrics-e2e"}}]},
    "scopeMetrics": [{"metrics": [
      {"name": "queue.depth", "unit": "1", "gauge": {"dataPoints": [{"timeUnixNano": (t - 1_000_000_000).to_string(), "asInt": "4"}, {"timeUnixNano": t.to_string(), "asDouble": 6.0}]}},
      {"name": "requests", "sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE", "isMonotonic": true, "dataPoints": [
          {"startTimeUnixNano": start.to_string(), "timeUnixNano": (t - 10_000_000_000u64).to_string(), "asInt": "100"},
          {"startTimeUnixNano": start.to_string(), "timeUnixNano": t.to_string(), "asInt": "150"}]}},
      {"name": "latency", "unit": "ms", "histogram": {"aggregationTemporality": 1, "dataPoints": [{"startTimeUnixNano": start.to_string(), "timeUnixNano": t.to_string(),
          "count": "10", "sum": 300.0, "bucketCounts": ["0", "10", "0"], "explicitBounds": [10.0, 50.0]}]}},
      {"name": "latency.exp", "exponentialHistogram": {"aggregationTemporality": 1, "dataPoints": [{"startTimeUnixNano": start.to_string(), "timeUnixNano": t.to_string(),
          "count": "4", "sum": 10.0, "scale": 0, "zeroCount": "0", "positive": {"offset": 1, "bucketCounts": ["4"]}}]}},
      {"name": "rpc.summary", "summary": {"dataPoints": [{"timeUnixNano": t.to_string(), "count": "5", "sum": 50.0,
          "quantileValues": [{"quantile": 0.5, "value": 9.0}, {"quantile": 0.99, "value": 20.0}]}]}}
    ]}]}]});
    assert_eq!(
        b.post("/v1/metrics", "application/json", body.to_string().into_bytes()).status(),
        200
    );

    let (_, list) = b.get_json("/api/v1/metrics");
    let types: std::collections::BTreeMap<String, String> = list["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["type"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(types["queue.depth"], "gauge");
    assert_eq!(types["requests"], "sum");
    assert_eq!(types["latency"], "histogram");
    assert_eq!(types["latency.exp"], "exponential_histogram");
    assert_eq!(types["rpc.summary"], "summary");

    let last = |name: &str, agg: &str| -> f64 {
        let (status, series) = b.get_json(&format!("/api/v1/metrics/{name}/series?since=5m&agg={agg}"));
        assert_eq!(status, 200, "{series}");
        series["series"][0]["points"]
            .as_array()
            .unwrap()
            .last()
            .unwrap_or_else(|| panic!("{name}: no points: {series}"))[1]
            .as_f64()
            .unwrap()
    };
    assert_eq!(last("queue.depth", "last"), 6.0);
    assert!((last("requests", "rate") - 5.0).abs() < 0.01, "50 more requests over 10 s is 5/s");
    assert!((10.0..=50.0).contains(&last("latency", "p50")), "p50 inside the (10, 50] bucket");
    assert_eq!(last("latency", "count"), 10.0);
    assert!(
        (2.0..=4.0).contains(&last("latency.exp", "p50")),
        "scale 0, offset 1: the (2, 4] bucket"
    );
    assert_eq!(last("rpc.summary", "p50"), 9.0);
    assert_eq!(last("rpc.summary", "avg"), 10.0);
}

/// An answer holds each value at most 64 KiB long, with a marker naming the path that returns it
/// whole; that path and the export give it whole. 40 spans with a 256 KiB attribute each are
/// answered with about 2.6 MiB instead of 10, and the export splits them into pages of about
/// 2 MiB of stored values, losing nothing.
#[test]
fn answers_cut_long_values_and_point_to_them_while_exports_keep_them_whole() {
    let b = Box::start(&["--memory"]);
    let long: String = "0123456789abcdef".repeat(1 << 14); // 256 KiB
    let mut request = trace_request("big", "B1", 77, 40);
    for span in &mut request.resource_spans[0].scope_spans[0].spans {
        span.attributes.push(string_kv("prompt", &long));
    }
    assert_eq!(
        b.post("/v1/traces", "application/x-protobuf", encode(&request)).status().as_u16(),
        200
    );

    let answer = b
        .client
        .get(format!("{}/api/v1/spans?limit=100&q=service.name%20%3D%20big", b.api))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(answer.len() < 40 * 70 * 1024, "{} bytes", answer.len());
    let spans: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let spans = spans["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 40);
    let cut = spans[0]["attributes"]["prompt"].as_str().unwrap();
    assert!(cut.starts_with(&long[..65536]) && cut.len() < 66 * 1024, "{}", &cut[65536..]);
    let path = cut.split("GET ").nth(1).unwrap().split(' ').next().unwrap();
    assert!(path.ends_with("/attributes/prompt"), "{path}");
    let whole = b.client.get(format!("{}{path}", b.api)).send().unwrap();
    assert_eq!(whole.status().as_u16(), 200);
    assert_eq!(whole.text().unwrap(), long, "the marker's path returns the value whole");

    let export = b
        .client
        .get(format!("{}/api/v1/export/traces", b.api))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let lines: Vec<&str> = export.lines().collect();
    assert!(
        lines.len() >= 4,
        "pages of about 2 MiB, not one line of 10 MiB: {} lines",
        lines.len()
    );
    let mut exported = 0;
    for line in lines {
        let page: serde_json::Value = serde_json::from_str(line).unwrap();
        for span in page["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap() {
            let prompt = span["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|kv| kv["key"] == "prompt")
                .unwrap();
            assert_eq!(prompt["value"]["stringValue"].as_str().unwrap().len(), long.len());
            exported += 1;
        }
    }
    assert_eq!(exported, 40, "the export holds every span whole");
}
