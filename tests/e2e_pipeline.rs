//! A configured pipeline through the real binary: processors run in order, what a filter drops is
//! acknowledged to the sender but counted, and every stage's counters show on `/api/v1/status` and
//! `/metrics`. The OTLP receiver has a name (`otlp/in`): a named receiver feeds its pipelines too.

mod common;

const CONFIG: &str = r#"
processors:
  filter/ops: { traces: { span: ['name == "op-1"'] } }
  attributes/tag: { actions: [ { key: env, value: test, action: insert } ] }
  batch/quick: { timeout: 10ms }
exporters:
  otelbox: {}
receivers:
  otlp/in: { protocols: { grpc: {}, http: {} } }
service:
  pipelines:
    traces: { receivers: [otlp/in], processors: [filter/ops, attributes/tag, batch/quick], exporters: [otelbox] }
"#;

fn component<'a>(status: &'a serde_json::Value, pipeline: &str, component: &str) -> &'a serde_json::Value {
    status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["pipeline"] == pipeline && c["component"] == component)
        .unwrap_or_else(|| panic!("no {pipeline} {component} in {status}"))
}

#[test]
fn processors_run_in_order_and_every_stage_is_counted() {
    let dir = common::temp_dir("pipeline");
    let file = dir.join("config.yaml");
    std::fs::write(&file, CONFIG).unwrap();
    let b = common::Box::start(&["--memory", "--config", file.to_str().unwrap()]);
    let answer = b.post(
        "/v1/traces",
        "application/x-protobuf",
        common::encode(&common::trace_request("svc", "run-1", 1, 3)),
    );
    assert_eq!(
        answer.status().as_u16(),
        200,
        "a span dropped on purpose is still a success for the sender"
    );
    assert_eq!(b.stored_spans(), 2, "op-1 was filtered out");

    let (_, trace) = b.get_json("/api/v1/traces/00000000000000010000000000000001");
    let text = trace.to_string();
    assert!(!text.contains("\"op-1\""), "{text}");
    assert!(text.contains("\"env\""), "the attributes processor ran after the filter: {text}");

    let (_, status) = b.get_json("/api/v1/status");
    let filter = component(&status, "traces", "processor/filter/ops");
    assert_eq!(
        (filter["received"].as_u64(), filter["sent"].as_u64(), filter["dropped"].as_u64()),
        (Some(3), Some(2), Some(1))
    );
    let tag = component(&status, "traces", "processor/attributes/tag");
    assert_eq!(
        (tag["received"].as_u64(), tag["sent"].as_u64(), tag["dropped"].as_u64()),
        (Some(2), Some(2), Some(0))
    );
    let batch = component(&status, "traces", "processor/batch/quick");
    assert_eq!((batch["received"].as_u64(), batch["sent"].as_u64()), (Some(2), Some(2)));
    let storage = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "exporter/otelbox" && c["signal"] == "traces")
        .expect("the storage exporter is counted");
    assert_eq!((storage["received"].as_u64(), storage["sent"].as_u64()), (Some(2), Some(2)));
    assert_eq!(status["ingest"]["dropped"]["spans"].as_u64(), Some(1));

    let metrics = b.client.get(format!("{}/metrics", b.api)).send().unwrap().text().unwrap();
    for line in [
        "otelbox_component_items_total{pipeline=\"traces\",component=\"processor/filter/ops\",signal=\"traces\",outcome=\"dropped\"} 1",
        "otelbox_component_items_total{pipeline=\"traces\",component=\"processor/filter/ops\",signal=\"traces\",outcome=\"received\"} 3",
        "otelbox_processor_dropped_items_total{signal=\"traces\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing `{line}` in:\n{metrics}");
    }
}
