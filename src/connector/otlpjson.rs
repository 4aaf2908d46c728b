//! The otlpjson connector (the Collector's otlpjsonconnector): takes log records whose body is an
//! OTLP/JSON export request, a line as the Collector's file exporter or an SDK's file exporter
//! writes it (read by `filelog`, say), and emits the traces, metrics and logs those requests hold
//! into the pipelines it is a receiver in. It has no settings.
//!
//! ```yaml
//! receivers:  { filelog: { include: [/var/log/otel/*.jsonl] } }
//! connectors: { otlpjson: {} }
//! service:
//!   pipelines:
//!     logs/raw:    { receivers: [filelog],  exporters: [otlpjson] }
//!     traces/otlp: { receivers: [otlpjson], exporters: [otelbox] }
//!     metrics/otlp: { receivers: [otlpjson], exporters: [otelbox] }
//!     logs/otlp:   { receivers: [otlpjson], exporters: [otelbox] }
//! ```
//!
//! As the Collector: a body is read as its text (a string as it is, a map as its JSON with the keys
//! sorted, as pdata's `AsString`; any other body cannot be a request). Its signal is told by how it
//! starts, `{"resourceSpans": [`, `{"resourceMetrics": [` or `{"resourceLogs": [` (JSON whitespace
//! allowed around the key and colon, nothing before the brace), and it is decoded as that signal
//! only. A record whose body is no such request, or fails to decode, is dropped with a warning; one
//! holding a signal no pipeline of this connector takes is dropped silently (the Collector builds no
//! connector for that signal, so nothing reads it). The connector takes logs only.
//!
//! Each payload's requests of one signal are merged and sent as one payload, with the sender's ack
//! (the Collector hands each record's request on by itself, and ignores a refusal downstream:
//! here a refusal is the sender's, so the data is retried rather than lost). Counted under the
//! connector's logs counters: `sent`, the spans, data points and log records its pipelines took;
//! `dropped`, the log records that carried nothing it could emit, and the items of decoded requests
//! that a receiver would refuse too (a span without its ids, values nested too deep), which are
//! dropped with a warning.

use crate::config::{ComponentId, ComponentType, Parser, Settings};
use crate::connector::{ConnectorFactory, ConnectorOutput};
use crate::pdata::json::{self, any_value_to_plain};
use crate::pdata::{Signal, SignalData};
use crate::pipeline::ack::AckToken;
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError, SharedConsumer, SignalConsumers};
use crate::telemetry::{ComponentCounters, PerSignal};
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use serde_yaml_ng::Value;
use std::borrow::Cow;
use std::sync::Arc;

pub struct Factory;

impl ComponentType for Factory {
    fn type_name(&self) -> &'static str {
        "otlpjson"
    }
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Logs]
    }
    fn output_signals(&self) -> &'static [Signal] {
        &Signal::ALL
    }
    fn parse(&self, p: &mut Parser, value: &Value, path: &str) -> Settings {
        // The Collector's config is an empty struct.
        if !value.is_null() {
            if let Some(body) = p.mapping(Some(value), path) {
                p.only_keys(body, &[], path);
            }
        }
        Settings::new(())
    }
}

impl ConnectorFactory for Factory {
    fn build(
        &self,
        id: &ComponentId,
        _settings: &Settings,
        output: &ConnectorOutput,
        counters: &PerSignal,
    ) -> anyhow::Result<SignalConsumers> {
        let all = output.all();
        let connector = OtlpJsonConnector {
            id: id.to_string(),
            traces: all.traces,
            metrics: all.metrics,
            logs: all.logs,
            counters: counters.logs.clone(),
        };
        Ok(SignalConsumers {
            logs: Some(Arc::new(connector)),
            ..Default::default()
        })
    }
}

pub struct OtlpJsonConnector {
    id: String,
    /// The heads of the pipelines it feeds, per signal (None: no pipeline of that signal).
    traces: Option<SharedConsumer<ExportTraceServiceRequest>>,
    metrics: Option<SharedConsumer<ExportMetricsServiceRequest>>,
    logs: Option<SharedConsumer<ExportLogsServiceRequest>>,
    /// Its logs counters: what it sent of what it took, and the records it dropped.
    counters: Arc<ComponentCounters>,
}

/// What one payload's log records held.
#[derive(Default)]
struct Extracted {
    traces: Option<ExportTraceServiceRequest>,
    metrics: Option<ExportMetricsServiceRequest>,
    logs: Option<ExportLogsServiceRequest>,
    /// Records whose body is not an OTLP/JSON export request.
    not_requests: usize,
    /// Records whose body starts as a request but does not decode, and the first reason.
    undecodable: usize,
    first_error: Option<String>,
    /// Records holding a request of a signal no pipeline of the connector takes.
    unrouted: usize,
    /// Items of decoded requests that otelbox refuses at ingest (ids, nesting), and the first reason.
    invalid: usize,
    first_invalid: Option<String>,
}

impl Extracted {
    fn dropped(&self) -> usize {
        self.not_requests + self.undecodable + self.unrouted + self.invalid
    }

    /// Counts what `remove_invalid` took out of a decoded request.
    fn note_invalid(&mut self, removed: Option<(usize, String)>) {
        if let Some((items, why)) = removed {
            self.invalid += items;
            self.first_invalid.get_or_insert(why);
        }
    }
}

/// Adds a decoded request to what the payload emits of its signal.
fn put<T: SignalData>(slot: &mut Option<T>, data: T) {
    match slot {
        Some(all) => all.merge(data),
        None => *slot = Some(data),
    }
}

/// A body as the Collector reads it (pdata's `AsString`): a string as it is, a map as its JSON (keys
/// sorted, as Go's encoder writes a map); None for a body whose text cannot start with `{`.
pub fn body_text(body: Option<&AnyValue>) -> Option<Cow<'_, str>> {
    match body?.value.as_ref()? {
        any_value::Value::StringValue(text) => Some(Cow::Borrowed(text)),
        any_value::Value::KvlistValue(_) => serde_json::to_string(&any_value_to_plain(body?)).ok().map(Cow::Owned),
        _ => None,
    }
}

/// The signal of an OTLP/JSON export request, told as the Collector tells it (its regular
/// expressions `^\{\s*"resourceSpans"\s*:\s*\[` and the like): the first key, and its list.
pub fn classify(text: &str) -> Option<Signal> {
    // Go's `\s`: tab, newline, form feed, carriage return, space.
    fn skip_space(text: &str) -> &str {
        text.trim_start_matches([' ', '\t', '\n', '\r', '\x0c'])
    }
    let rest = skip_space(text.strip_prefix('{')?).strip_prefix('"')?;
    let (signal, rest) = [
        (Signal::Traces, "resourceSpans\""),
        (Signal::Metrics, "resourceMetrics\""),
        (Signal::Logs, "resourceLogs\""),
    ]
    .into_iter()
    .find_map(|(signal, key)| rest.strip_prefix(key).map(|rest| (signal, rest)))?;
    let rest = skip_space(skip_space(rest).strip_prefix(':')?);
    rest.starts_with('[').then_some(signal)
}

impl OtlpJsonConnector {
    fn takes(&self, signal: Signal) -> bool {
        match signal {
            Signal::Traces => self.traces.is_some(),
            Signal::Metrics => self.metrics.is_some(),
            Signal::Logs => self.logs.is_some(),
        }
    }

    fn extract(&self, request: &ExportLogsServiceRequest) -> Extracted {
        let mut out = Extracted::default();
        let records = request
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records);
        for record in records {
            let body = body_text(record.body.as_ref());
            let Some((signal, text)) = body.and_then(|text| classify(&text).map(|signal| (signal, text))) else {
                out.not_requests += 1;
                continue;
            };
            if !self.takes(signal) {
                out.unrouted += 1;
                continue;
            }
            // What a receiver refuses (a span without its ids, values nested too deep) is dropped here too.
            let decoded = match signal {
                Signal::Traces => json::decode_traces(text.as_bytes()).map(|mut data| {
                    out.note_invalid(data.remove_invalid());
                    put(&mut out.traces, data)
                }),
                Signal::Metrics => json::decode_metrics(text.as_bytes()).map(|mut data| {
                    out.note_invalid(data.remove_invalid());
                    put(&mut out.metrics, data)
                }),
                Signal::Logs => json::decode_logs(text.as_bytes()).map(|mut data| {
                    out.note_invalid(data.remove_invalid());
                    put(&mut out.logs, data)
                }),
            };
            if let Err(error) = decoded {
                out.undecodable += 1;
                out.first_error
                    .get_or_insert_with(|| format!("could not extract {} from OTLP/JSON: {error}", signal.as_str()));
            }
        }
        out
    }

    fn report(&self, extracted: &Extracted) {
        if extracted.not_requests > 0 {
            tracing::warn!(
                connector = %self.id,
                records = extracted.not_requests,
                "log records whose body is not an OTLP/JSON export request (a line starting {{\"resourceSpans\":[, {{\"resourceMetrics\":[ or {{\"resourceLogs\":[) were dropped"
            );
        }
        if let Some(first) = &extracted.first_error {
            tracing::warn!(
                connector = %self.id,
                records = extracted.undecodable,
                first = %first,
                "log records holding an OTLP/JSON request that does not decode were dropped"
            );
        }
        if let Some(first) = &extracted.first_invalid {
            tracing::warn!(
                connector = %self.id,
                items = extracted.invalid,
                first = %first,
                "items of OTLP/JSON requests that otelbox refuses at ingest were dropped"
            );
        }
        if extracted.unrouted > 0 {
            tracing::debug!(
                connector = %self.id,
                records = extracted.unrouted,
                "log records holding a signal no pipeline of this connector takes were dropped"
            );
        }
    }

    /// Sends one signal's requests, if any, with pieces of the sender's acks; counts what was taken.
    async fn send<T: PipelineData>(
        &self,
        consumer: Option<&SharedConsumer<T>>,
        data: Option<T>,
        acks: &[AckToken],
        first_error: &mut Option<PipelineError>,
    ) {
        let (Some(consumer), Some(data)) = (consumer, data) else {
            return;
        };
        let items = data.item_count();
        let envelope = Envelope {
            data,
            acks: acks.iter().map(AckToken::split).collect(),
        };
        match consumer.consume(envelope).await {
            Ok(()) => self.counters.record_sent(items),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
}

impl Consumer<ExportLogsServiceRequest> for OtlpJsonConnector {
    fn consume(&self, envelope: Envelope<ExportLogsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            let Envelope { data, acks } = envelope;
            let extracted = self.extract(&data);
            drop(data);
            self.report(&extracted);
            self.counters.record_dropped(extracted.dropped());
            let mut first_error = None;
            self.send(self.traces.as_ref(), extracted.traces, &acks, &mut first_error).await;
            self.send(self.metrics.as_ref(), extracted.metrics, &acks, &mut first_error).await;
            self.send(self.logs.as_ref(), extracted.logs, &acks, &mut first_error).await;
            // The pieces sent settle the sender's ack; what was dropped is done with.
            for ack in acks {
                ack.commit();
            }
            first_error.map_or(Ok(()), Err)
        })
    }
}

/// Log records carrying the exporters' golden traces, metrics and logs as OTLP/JSON lines, for the
/// compliance test (which feeds every connector) and the unit tests.
#[cfg(test)]
pub(crate) fn golden_input() -> ExportLogsServiceRequest {
    use crate::exporter::sender::golden;
    let lines = [
        json::encode_traces(&golden::traces()).to_string(),
        json::encode_metrics(&golden::metrics()).to_string(),
        json::encode_logs(&golden::logs()).to_string(),
    ];
    lines_as_logs(&lines.iter().map(String::as_str).collect::<Vec<_>>())
}

/// One log record per line, its body the line, as filelog reads a file.
#[cfg(test)]
pub(crate) fn lines_as_logs(lines: &[&str]) -> ExportLogsServiceRequest {
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: lines
                    .iter()
                    .map(|line| LogRecord {
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(line.to_string())),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::parse_config;
    use crate::exporter::sender::golden;
    use opentelemetry_proto::tonic::common::v1::{KeyValue, KeyValueList};
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point;
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;

    /// A pipeline head that keeps what it is sent and commits it, or refuses everything.
    struct Sink<T> {
        taken: Mutex<Vec<T>>,
        refuse: bool,
    }

    impl<T> Sink<T> {
        fn new(refuse: bool) -> Arc<Sink<T>> {
            Arc::new(Sink {
                taken: Mutex::new(Vec::new()),
                refuse,
            })
        }
        fn taken(&self) -> Vec<T>
        where
            T: Clone,
        {
            self.taken.lock().unwrap().clone()
        }
    }

    impl<T: SignalData> Consumer<T> for Sink<T> {
        fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
            if self.refuse {
                let error = PipelineError::retryable("the pipeline is full");
                envelope.fail(&error);
                return Box::pin(async move { Err(error) });
            }
            self.taken.lock().unwrap().push(envelope.data.clone());
            envelope.commit();
            Box::pin(async { Ok(()) })
        }
    }

    struct Harness {
        input: SharedConsumer<ExportLogsServiceRequest>,
        traces: Arc<Sink<ExportTraceServiceRequest>>,
        metrics: Arc<Sink<ExportMetricsServiceRequest>>,
        logs: Arc<Sink<ExportLogsServiceRequest>>,
        counters: PerSignal,
    }

    /// The connector as the topology builds it, feeding one pipeline of each signal in `feeds`.
    fn harness_with(feeds: &[Signal], refuse: bool) -> Harness {
        let traces: Arc<Sink<ExportTraceServiceRequest>> = Sink::new(refuse);
        let metrics: Arc<Sink<ExportMetricsServiceRequest>> = Sink::new(refuse);
        let logs: Arc<Sink<ExportLogsServiceRequest>> = Sink::new(refuse);
        let mut pipelines = Vec::new();
        for signal in feeds {
            let mut heads = SignalConsumers::default();
            match signal {
                Signal::Traces => heads.traces = Some(traces.clone() as SharedConsumer<ExportTraceServiceRequest>),
                Signal::Metrics => heads.metrics = Some(metrics.clone() as SharedConsumer<ExportMetricsServiceRequest>),
                Signal::Logs => heads.logs = Some(logs.clone() as SharedConsumer<ExportLogsServiceRequest>),
            }
            pipelines.push((format!("{}/otlp", signal.as_str()), heads));
        }
        let counters = PerSignal::detached("connector/otlpjson");
        let id = ComponentId::parse("otlpjson").unwrap();
        let inputs = Factory
            .build(&id, &Settings::new(()), &ConnectorOutput { pipelines }, &counters)
            .unwrap();
        assert!(inputs.traces.is_none() && inputs.metrics.is_none(), "it takes logs only");
        Harness {
            input: inputs.logs.expect("it takes logs"),
            traces,
            metrics,
            logs,
            counters,
        }
    }

    fn harness() -> Harness {
        harness_with(&Signal::ALL, false)
    }

    impl Harness {
        /// Feeds one payload; the consume result and the sender's final outcome.
        async fn feed(&self, data: ExportLogsServiceRequest) -> (Result<(), PipelineError>, Result<(), PipelineError>) {
            let (ack, committed) = AckToken::new();
            let result = self.input.consume(Envelope::new(data, ack)).await;
            (result, committed.await.unwrap())
        }

        fn counted(&self) -> (u64, u64) {
            let logs = &self.counters.logs;
            (logs.sent.load(Ordering::Relaxed), logs.dropped.load(Ordering::Relaxed))
        }
    }

    /// A traces request as the Collector's file exporter writes it (the connector's own testdata).
    const TRACES_LINE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"resource-attr","value":{"stringValue":"resource-attr-val-1"}}]},"scopeSpans":[{"scope":{},"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"1112131415161718","traceState":"ot=th:0","parentSpanId":"","name":"operationA","startTimeUnixNano":"1581452772000000321","endTimeUnixNano":"1581452773000000789","droppedAttributesCount":1,"events":[{"timeUnixNano":"1581452773000000123","name":"event-with-attr","attributes":[{"key":"span-event-attr","value":{"stringValue":"span-event-attr-val"}}],"droppedAttributesCount":2},{"timeUnixNano":"1581452773000000123","name":"event","droppedAttributesCount":2}],"droppedEventsCount":1,"status":{"message":"status-cancelled","code":2}}]}]}]}"#;

    /// A metrics request with whitespace where the Collector's expression allows it.
    const METRICS_LINE: &str = r#"{ "resourceMetrics" : [{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},"scopeMetrics":[{"scope":{"name":"meter"},"metrics":[{"name":"gauge-int","unit":"1","gauge":{"dataPoints":[{"attributes":[{"key":"label-1","value":{"stringValue":"label-value-1"}}],"startTimeUnixNano":"1581452772000000321","timeUnixNano":"1581452773000000789","asInt":"123"},{"timeUnixNano":"1581452773000000789","asInt":"456"}]}}]}]}]}"#;

    /// A logs request, as an SDK's file exporter writes it.
    const LOGS_LINE: &str = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeLogs":[{"scope":{"name":"app"},"logRecords":[{"timeUnixNano":"1700000000000000001","severityNumber":17,"severityText":"ERROR","body":{"stringValue":"payment failed"},"traceId":"5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b","spanId":"0101010101010101"}]}]}]}"#;

    /// The Collector's invalid metric: an int that is not one.
    const BAD_METRICS_LINE: &str =
        r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"gauge-int","gauge":{"dataPoints":[{"asInt":"notAndInt123"}]}}]}]}]}"#;

    fn string_attribute(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_request_is_told_by_its_first_key_and_list_as_the_collectors_expressions() {
        assert_eq!(classify(TRACES_LINE), Some(Signal::Traces));
        assert_eq!(classify(METRICS_LINE), Some(Signal::Metrics));
        assert_eq!(classify(LOGS_LINE), Some(Signal::Logs));
        assert_eq!(classify("{\n\t\"resourceLogs\"\r\n:\x0c[]}"), Some(Signal::Logs), "Go's \\s");
        assert_eq!(classify(" {\"resourceSpans\":[]}"), None, "nothing before the brace");
        assert_eq!(classify("{\"resourceSpans\":{}}"), None, "a list");
        assert_eq!(classify("{\"resource_spans\":[]}"), None, "lowerCamelCase only, as the Collector");
        assert_eq!(classify("{\"schemaUrl\":\"\",\"resourceSpans\":[]}"), None, "the first key");
        assert_eq!(classify("{\"resourceSpansX\":[]}"), None);
        assert_eq!(classify("{\u{a0}\"resourceSpans\":[]}"), None, "no Unicode spaces");
        assert_eq!(classify("cart 1 is slow"), None);
        assert_eq!(classify(""), None);
    }

    #[test]
    fn a_map_body_is_read_as_its_json_and_other_bodies_are_no_request() {
        let text = |value: any_value::Value| body_text(Some(&AnyValue { value: Some(value) })).map(|t| t.into_owned());
        assert_eq!(text(any_value::Value::StringValue("{}".into())).as_deref(), Some("{}"));
        let map = any_value::Value::KvlistValue(KeyValueList {
            values: vec![string_attribute("z", "last"), string_attribute("resourceLogs", "x")],
        });
        assert_eq!(
            text(map).as_deref(),
            Some(r#"{"resourceLogs":"x","z":"last"}"#),
            "keys sorted, as Go writes a map"
        );
        assert_eq!(text(any_value::Value::IntValue(1)), None);
        assert_eq!(text(any_value::Value::BytesValue(b"{\"resourceLogs\":[]}".to_vec())), None);
        assert_eq!(body_text(None), None);
    }

    #[tokio::test]
    async fn each_record_s_request_goes_to_the_pipelines_of_its_signal() {
        let h = harness();
        let input = lines_as_logs(&[TRACES_LINE, METRICS_LINE, LOGS_LINE, "cart 1 is slow"]);
        let (result, outcome) = h.feed(input).await;
        assert_eq!((result, outcome), (Ok(()), Ok(())), "accepted and settled");

        let traces = h.traces.taken();
        assert_eq!(traces.len(), 1);
        let resource = &traces[0].resource_spans[0];
        assert_eq!(
            resource.resource.as_ref().unwrap().attributes,
            [string_attribute("resource-attr", "resource-attr-val-1")]
        );
        let span = &resource.scope_spans[0].spans[0];
        assert_eq!(span.name, "operationA");
        assert_eq!(hex::encode(&span.trace_id), "0102030405060708090a0b0c0d0e0f10");
        assert_eq!(hex::encode(&span.span_id), "1112131415161718");
        assert_eq!(span.trace_state, "ot=th:0");
        assert_eq!(
            (span.start_time_unix_nano, span.end_time_unix_nano),
            (1581452772000000321, 1581452773000000789)
        );
        assert_eq!(span.dropped_attributes_count, 1);
        assert_eq!(span.events.len(), 2);
        assert_eq!(
            span.events[0].attributes,
            [string_attribute("span-event-attr", "span-event-attr-val")]
        );
        assert_eq!(span.dropped_events_count, 1);
        let status = span.status.as_ref().unwrap();
        assert_eq!((status.code, status.message.as_str()), (2, "status-cancelled"));

        let metrics = h.metrics.taken();
        assert_eq!(metrics.len(), 1);
        let metric = &metrics[0].resource_metrics[0].scope_metrics[0].metrics[0];
        assert_eq!((metric.name.as_str(), metric.unit.as_str()), ("gauge-int", "1"));
        let Some(Data::Gauge(gauge)) = &metric.data else {
            panic!("a gauge")
        };
        let values: Vec<_> = gauge.data_points.iter().map(|p| p.value.as_ref()).collect();
        assert_eq!(
            values,
            [
                Some(&number_data_point::Value::AsInt(123)),
                Some(&number_data_point::Value::AsInt(456))
            ]
        );

        let logs = h.logs.taken();
        assert_eq!(logs.len(), 1);
        let record = &logs[0].resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!((record.severity_number, record.severity_text.as_str()), (17, "ERROR"));
        assert_eq!(
            record.body.as_ref().and_then(|b| b.value.clone()),
            Some(any_value::Value::StringValue("payment failed".into()))
        );
        assert_eq!(hex::encode(&record.trace_id), "5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b");

        assert_eq!(
            h.counted(),
            (1 + 2 + 1, 1),
            "one span, two points and one record sent; the garbage line dropped"
        );
    }

    #[tokio::test]
    async fn the_requests_of_one_signal_in_a_payload_are_sent_as_one_and_round_trip() {
        let h = harness();
        let (result, outcome) = h.feed(golden_input()).await;
        assert_eq!((result, outcome), (Ok(()), Ok(())));
        assert_eq!(
            h.traces.taken(),
            [golden::traces()],
            "what the file exporter writes comes back as it was"
        );
        assert_eq!(h.metrics.taken(), [golden::metrics()]);
        assert_eq!(h.logs.taken(), [golden::logs()]);
        let twice = lines_as_logs(&[TRACES_LINE, TRACES_LINE]);
        h.feed(twice).await.0.unwrap();
        let traces = h.traces.taken();
        assert_eq!(traces.len(), 2, "the second payload is one more");
        assert_eq!(traces[1].resource_spans.len(), 2, "its two requests' resources merged");
    }

    #[tokio::test]
    async fn a_request_that_does_not_decode_is_dropped_and_the_rest_goes_on() {
        let h = harness();
        let (result, outcome) = h.feed(lines_as_logs(&[BAD_METRICS_LINE, METRICS_LINE])).await;
        assert_eq!((result, outcome), (Ok(()), Ok(())), "a bad record does not fail the payload");
        let metrics = h.metrics.taken();
        assert_eq!(metrics.len(), 1);
        assert_eq!(metrics[0].resource_metrics.len(), 1, "only the good request");
        assert_eq!(h.counted(), (2, 1));
    }

    #[tokio::test]
    async fn items_a_receiver_would_refuse_are_dropped_as_a_receiver_drops_them() {
        let h = harness();
        let no_trace_id = TRACES_LINE.replace("\"traceId\":\"0102030405060708090a0b0c0d0e0f10\"", "\"traceId\":\"\"");
        let (result, outcome) = h.feed(lines_as_logs(&[no_trace_id.as_str(), TRACES_LINE])).await;
        assert_eq!((result, outcome), (Ok(()), Ok(())));
        let traces = h.traces.taken();
        let spans: usize = traces.iter().map(SignalData::item_count).sum();
        assert_eq!(spans, 1, "the span without a trace id is dropped, the valid one goes on");
        assert_eq!(h.counted(), (1, 1));
    }

    #[tokio::test]
    async fn garbage_only_emits_nothing_and_is_committed() {
        let h = harness();
        let mut input = lines_as_logs(&["cart 1 is slow", "{\"resource_spans\":[]}", ""]);
        input.resource_logs[0].scope_logs[0].log_records[2].body = None;
        let (result, outcome) = h.feed(input).await;
        assert_eq!(
            (result, outcome),
            (Ok(()), Ok(())),
            "dropped, not refused: the sender does not retry it"
        );
        assert!(h.traces.taken().is_empty() && h.metrics.taken().is_empty() && h.logs.taken().is_empty());
        assert_eq!(h.counted(), (0, 3));
    }

    #[tokio::test]
    async fn a_map_body_holding_a_request_is_read_as_the_collector_reads_it() {
        let h = harness();
        let value: serde_json::Value = serde_json::from_str(LOGS_LINE).unwrap();
        let mut input = lines_as_logs(&[""]);
        input.resource_logs[0].scope_logs[0].log_records[0].body = Some(plain_to_any(&value));
        h.feed(input).await.0.unwrap();
        let logs = h.logs.taken();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].resource_logs[0].scope_logs[0].log_records[0].severity_text, "ERROR");
    }

    /// Plain JSON as an AnyValue (objects as maps), as a JSON parser of a log pipeline leaves a body.
    fn plain_to_any(value: &serde_json::Value) -> AnyValue {
        use opentelemetry_proto::tonic::common::v1::ArrayValue;
        let value = match value {
            serde_json::Value::Null => None,
            serde_json::Value::Bool(b) => Some(any_value::Value::BoolValue(*b)),
            serde_json::Value::Number(n) => Some(match n.as_i64() {
                Some(i) => any_value::Value::IntValue(i),
                None => any_value::Value::DoubleValue(n.as_f64().unwrap_or_default()),
            }),
            serde_json::Value::String(s) => Some(any_value::Value::StringValue(s.clone())),
            serde_json::Value::Array(items) => Some(any_value::Value::ArrayValue(ArrayValue {
                values: items.iter().map(plain_to_any).collect(),
            })),
            serde_json::Value::Object(map) => Some(any_value::Value::KvlistValue(KeyValueList {
                values: map
                    .iter()
                    .map(|(key, value)| KeyValue {
                        key: key.clone(),
                        value: Some(plain_to_any(value)),
                        ..Default::default()
                    })
                    .collect(),
            })),
        };
        AnyValue { value }
    }

    #[tokio::test]
    async fn a_signal_no_pipeline_takes_is_dropped_silently() {
        let h = harness_with(&[Signal::Traces], false);
        let (result, outcome) = h.feed(lines_as_logs(&[TRACES_LINE, METRICS_LINE, LOGS_LINE])).await;
        assert_eq!((result, outcome), (Ok(()), Ok(())));
        assert_eq!(h.traces.taken().len(), 1);
        assert!(h.metrics.taken().is_empty() && h.logs.taken().is_empty());
        assert_eq!(h.counted(), (1, 2));
    }

    #[tokio::test]
    async fn a_refusal_downstream_is_the_senders_so_the_data_is_retried_not_lost() {
        let h = harness_with(&Signal::ALL, true);
        let (result, outcome) = h.feed(lines_as_logs(&[TRACES_LINE, LOGS_LINE])).await;
        let error = result.expect_err("refused");
        assert!(error.is_retryable(), "{error}");
        assert_eq!(outcome, Err(error), "the sender's ack carries it");
        assert_eq!(h.counted(), (0, 0), "nothing sent, nothing dropped: the sender keeps it");
    }

    #[test]
    fn it_takes_logs_and_makes_every_signal_and_has_no_settings() {
        let config = "receivers: {otlp: {protocols: {http: {}}}}\nexporters: {debug: {}}\nconnectors: {otlpjson: {}}\n\
            service:\n  pipelines:\n    logs/raw: {receivers: [otlp], exporters: [otlpjson]}\n\
            \x20   traces/otlp: {receivers: [otlpjson], exporters: [debug]}\n\
            \x20   metrics/otlp: {receivers: [otlpjson], exporters: [debug]}\n\
            \x20   logs/otlp: {receivers: [otlpjson], exporters: [debug]}\n";
        parse_config(config).expect("logs to traces, metrics and logs");
        parse_config(&config.replace("otlpjson: {}", "otlpjson: null")).expect("no settings");
        let from_traces = config.replace("logs/raw", "traces/raw");
        assert!(parse_config(&from_traces).is_err(), "it takes logs only");
        let with_key = config.replace("otlpjson: {}", "otlpjson: {mode: x}");
        let errors = parse_config(&with_key).expect_err("no keys").to_string();
        assert!(errors.contains("connectors.otlpjson.mode: unknown key"), "{errors}");
    }

    #[test]
    fn the_testdata_example_has_no_settings() {
        let file: Value = serde_yaml_ng::from_str(include_str!("testdata/otlpjson.yaml")).unwrap();
        let section = file.get("otlpjson").expect("the example configures otlpjson");
        let mut errors = Vec::new();
        Factory.parse(&mut Parser::collecting(&mut errors), section, "connectors.otlpjson");
        assert!(errors.is_empty(), "{errors:?}");
    }
}
