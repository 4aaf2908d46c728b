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
