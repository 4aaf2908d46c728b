//! The probabilistic_sampler processor: keeps a share of traces and log records, decided by a
//! hash of the trace id, so every span of a trace gets the same decision (the Collector's
//! probabilisticsamplerprocessor in its `hash_seed` mode).
//!
//! ```yaml
//! probabilistic_sampler:
//!   sampling_percentage: 25      # required, 0 to 100
//!   hash_seed: 22                # u32; the same seed everywhere gives the same decisions
//!   mode: hash_seed              # the only mode otelbox runs
//!   fail_closed: true            # drop items without randomness (an empty trace id)
//!   attribute_source: traceID    # logs: traceID (default) | record
//!   from_attribute: request.id   # logs: attribute hashed when there is no trace id, or always with record
//!   sampling_priority: priority  # logs: attribute holding a percentage that replaces sampling_percentage
//! ```
//! The decision is the Collector's, bit for bit: FNV-1a (32 bits) over the seed's four
//! little-endian bytes then the trace id, its low 14 bits a bucket in 0..16384, kept when the
//! bucket is below `uint32(float32(percentage) * 163.84)` (computed in f32 and truncated, as
//! the Collector does). So otelbox and Collectors with the same seed and percentage keep the same
//! traces.
//!
//! A span's `sampling.priority` attribute overrides the decision: 0 drops, a positive number
//! keeps (int, double or numeric string, as the OpenTracing convention the Collector follows).
//! For log records the override is the attribute named by `sampling_priority`, read as a
//! percentage (0 drops). Dropped items are removed from the payload; `Inline` counts them.
//!
//! Left out, on purpose: the OTEP 235 `proportional` and `equalizing` modes (refused at load), and
//! the `ot=th:..;rv:..` tracestate / `sampling.threshold` attributes the Collector writes onto
//! what it keeps (otelbox forwards kept items unchanged). Metrics pass through untouched.

use crate::config::{ComponentId, Parser};
use crate::hash::fnv1a_32;
use crate::ottl::Value as OttlValue;
use crate::pdata::find_attribute;
use crate::pipeline::ItemProcessor;
use crate::pipeline::PipelineError;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use serde_yaml_ng::Value;
use std::borrow::Cow;

crate::item_processor_factory!(Factory, "probabilistic_sampler", parse, ProbabilisticSampler::new);

/// 14-bit hash buckets, as the Collector's hash_seed mode.
const HASH_BUCKETS: u32 = 1 << 14;
/// Buckets per percent: the Collector's `percentageScaleFactor`, applied in f32.
const BUCKETS_PER_PERCENT: f32 = 163.84;

/// What a log record's randomness is hashed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttributeSource {
    /// The trace id, falling back to `from_attribute` when the record has none.
    #[default]
    TraceId,
    /// `from_attribute` only.
    Record,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProbabilisticSamplerConfig {
    pub sampling_percentage: f32,
    pub hash_seed: u32,
    pub fail_closed: bool,
    pub attribute_source: AttributeSource,
    pub from_attribute: Option<String>,
    pub sampling_priority: Option<String>,
}

impl Default for ProbabilisticSamplerConfig {
    fn default() -> Self {
        ProbabilisticSamplerConfig {
            sampling_percentage: 0.0,
            hash_seed: 0,
            fail_closed: true,
            attribute_source: AttributeSource::TraceId,
            from_attribute: None,
            sampling_priority: None,
        }
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> ProbabilisticSamplerConfig {
    let mut config = ProbabilisticSamplerConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(
        body,
        &[
            "sampling_percentage",
            "hash_seed",
            "mode",
            "fail_closed",
            "attribute_source",
            "from_attribute",
            "sampling_priority",
        ],
        path,
    );
    let at = |key: &str| format!("{path}.{key}");
    match body.get("sampling_percentage") {
        None => p.error(path, "sampling_percentage is required (0 to 100)"),
        Some(v) => {
            if let Some(percentage) = p.float(v, &at("sampling_percentage")) {
                match check_percentage(percentage) {
                    Ok(percentage) => config.sampling_percentage = percentage,
                    Err(message) => p.error(&at("sampling_percentage"), message),
                }
            }
        }
    }
    if let Some(v) = body.get("hash_seed") {
        if let Some(seed) = p.unsigned(v, &at("hash_seed")) {
            match u32::try_from(seed) {
                Ok(seed) => config.hash_seed = seed,
                Err(_) => p.error(&at("hash_seed"), format!("must fit in 32 bits (0 to {}), got {seed}", u32::MAX)),
            }
        }
    }
    if let Some(mode) = body.get("mode").and_then(|v| p.string(v, &at("mode"))) {
        match mode.as_str() {
            "hash_seed" => {}
            "proportional" | "equalizing" => p.error(
                &at("mode"),
                format!("mode \"{mode}\" is not supported by otelbox; use hash_seed (the Collector's FNV hash of the trace id)"),
            ),
            other => p.error(&at("mode"), format!("unknown mode '{other}' (expected hash_seed)")),
        }
    }
    if let Some(v) = body.get("fail_closed") {
        config.fail_closed = p.boolean(v, &at("fail_closed")).unwrap_or(true);
    }
    if let Some(source) = body.get("attribute_source").and_then(|v| p.string(v, &at("attribute_source"))) {
        match source.as_str() {
            "traceID" => config.attribute_source = AttributeSource::TraceId,
            "record" => config.attribute_source = AttributeSource::Record,
            other => p.error(&at("attribute_source"), format!("expected traceID or record, got '{other}'")),
        }
    }
    config.from_attribute = attribute_name(p, body.get("from_attribute"), &at("from_attribute"));
    config.sampling_priority = attribute_name(p, body.get("sampling_priority"), &at("sampling_priority"));
    if config.attribute_source == AttributeSource::Record && config.from_attribute.is_none() && body.get("from_attribute").is_none() {
        p.error(
            &at("attribute_source"),
            "record needs from_attribute: the log record attribute whose value is hashed",
        );
    }
    config
}

fn attribute_name(p: &mut Parser, value: Option<&Value>, path: &str) -> Option<String> {
    let name = p.string(value?, path)?;
    if name.is_empty() {
        p.error(path, "must not be empty: name a log record attribute");
        return None;
    }
    Some(name)
}

/// A configured percentage as the Collector's float32, refusing what it would not mean.
fn check_percentage(percentage: f64) -> Result<f32, String> {
    if !(0.0..=100.0).contains(&percentage) {
        return Err(format!("must be between 0 and 100, got {percentage}"));
    }
    let percentage = percentage as f32;
    if percentage > 0.0 && scaled_rate(percentage) == 0 {
        return Err(format!(
            "{percentage} keeps nothing: hash_seed sampling has {HASH_BUCKETS} buckets, so the smallest share it keeps is 0.0062; use 0 to drop everything"
        ));
    }
    Ok(percentage)
}

/// The hash bucket (0..16384) of `bytes` under `seed`: FNV-1a over the seed's little-endian
/// bytes, then the bytes.
pub fn hash_bucket(seed: u32, bytes: &[u8]) -> u32 {
    fnv1a_32(&[&seed.to_le_bytes(), bytes]) & (HASH_BUCKETS - 1)
}

/// How many of the 16384 buckets a percentage keeps: `uint32(pct * 163.84)` in f32, truncated,
/// exactly as the Collector computes it (so 10% is 1638 buckets and 33.33..% is 5461).
pub fn scaled_rate(percentage: f32) -> u32 {
    (percentage.clamp(0.0, 100.0) * BUCKETS_PER_PERCENT) as u32
}

/// A per-item override of the probabilistic decision.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Priority {
    Defer,
    Keep,
    Drop,
    /// A log record's own percentage.
    Percentage(f32),
}

/// The OpenTracing `sampling.priority` of a span: 0 drops, positive keeps, anything else defers.
fn span_priority(attributes: &[KeyValue]) -> Priority {
    use any_value::Value as V;
    let number = match find_attribute(attributes, "sampling.priority").and_then(|v| v.value.as_ref()) {
        Some(V::IntValue(n)) => *n as f64,
        Some(V::DoubleValue(x)) => *x,
        Some(V::StringValue(s)) => match s.trim().parse::<f64>() {
            Ok(x) => x,
            Err(_) => return Priority::Defer,
        },
        _ => return Priority::Defer,
    };
    if number == 0.0 {
        Priority::Drop
    } else if number > 0.0 {
        Priority::Keep
    } else {
        Priority::Defer
    }
}

/// The bytes a log record attribute contributes to the hash: a string's UTF-8, raw bytes, or
/// the text of another value (the Collector's `AsString`); None when there is nothing to hash.
fn attribute_bytes<'a>(attributes: &'a [KeyValue], key: &str) -> Option<Cow<'a, [u8]>> {
    let value = find_attribute(attributes, key)?;
    let bytes: Cow<'a, [u8]> = match value.value.as_ref()? {
        any_value::Value::StringValue(s) => Cow::Borrowed(s.as_bytes()),
        any_value::Value::BytesValue(b) => Cow::Borrowed(b),
        _ => Cow::Owned(OttlValue::from_any(Some(value)).to_text()?.into_bytes()),
    };
    (!bytes.is_empty()).then_some(bytes)
}

/// An id with information in it: OTLP's "no trace id" is empty or all zeros.
fn valid_trace_id(trace_id: &[u8]) -> Option<&[u8]> {
    trace_id.iter().any(|b| *b != 0).then_some(trace_id)
}

pub struct ProbabilisticSampler {
    config: ProbabilisticSamplerConfig,
    /// Buckets kept at the configured percentage.
    rate: u32,
}

impl ProbabilisticSampler {
    pub fn new(_id: &ComponentId, config: &ProbabilisticSamplerConfig) -> Self {
        ProbabilisticSampler {
            config: config.clone(),
            rate: scaled_rate(config.sampling_percentage),
        }
    }

    /// The decision for an item whose hash bucket is `bucket` (None: no randomness to hash).
    /// At 0% nothing is kept, whatever `fail_closed` says, as in the Collector.
    fn keep(&self, bucket: Option<u32>, priority: Priority) -> bool {
        match (priority, bucket) {
            (Priority::Drop, _) => false,
            (Priority::Keep, _) => true,
            (Priority::Percentage(percentage), Some(bucket)) => bucket < scaled_rate(percentage),
            (Priority::Percentage(percentage), None) => scaled_rate(percentage) > 0,
            (Priority::Defer, _) if self.rate == 0 => false,
            (Priority::Defer, Some(bucket)) => bucket < self.rate,
            (Priority::Defer, None) => !self.config.fail_closed,
        }
    }

    fn bucket(&self, bytes: &[u8]) -> u32 {
        hash_bucket(self.config.hash_seed, bytes)
    }

    fn keep_log(&self, log: &LogRecord) -> bool {
        let from_trace = match self.config.attribute_source {
            AttributeSource::TraceId => valid_trace_id(&log.trace_id).map(|id| self.bucket(id)),
            AttributeSource::Record => None,
        };
        let bucket = from_trace.or_else(|| {
            let key = self.config.from_attribute.as_deref()?;
            attribute_bytes(&log.attributes, key).map(|bytes| self.bucket(&bytes))
        });
        self.keep(bucket, self.log_priority(log))
    }

    /// The `sampling_priority` attribute as a percentage: 0 drops, positive replaces the
    /// configured percentage (100 and above keep), anything else defers.
    fn log_priority(&self, log: &LogRecord) -> Priority {
        use any_value::Value as V;
        let Some(key) = self.config.sampling_priority.as_deref() else {
            return Priority::Defer;
        };
        let percentage = match find_attribute(&log.attributes, key).and_then(|v| v.value.as_ref()) {
            Some(V::IntValue(n)) => *n as f64,
            Some(V::DoubleValue(x)) => *x,
            _ => return Priority::Defer,
        };
        if percentage == 0.0 {
            Priority::Drop
        } else if percentage > 0.0 {
            Priority::Percentage(percentage.min(100.0) as f32)
        } else {
            Priority::Defer
        }
    }
}

impl ItemProcessor for ProbabilisticSampler {
    fn process_traces(&self, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        for resource_spans in &mut data.resource_spans {
            for scope_spans in &mut resource_spans.scope_spans {
                scope_spans.spans.retain(|span| {
                    let bucket = valid_trace_id(&span.trace_id).map(|id| self.bucket(id));
                    self.keep(bucket, span_priority(&span.attributes))
                });
            }
            resource_spans.scope_spans.retain(|s| !s.spans.is_empty());
        }
        data.resource_spans.retain(|r| !r.scope_spans.is_empty());
        Ok(())
    }

    fn process_logs(&self, data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        for resource_logs in &mut data.resource_logs {
            for scope_logs in &mut resource_logs.scope_logs {
                scope_logs.log_records.retain(|log| self.keep_log(log));
            }
            resource_logs.scope_logs.retain(|s| !s.log_records.is_empty());
        }
        data.resource_logs.retain(|r| !r.scope_logs.is_empty());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::filter::fixtures::*;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use opentelemetry_proto::tonic::trace::v1::Span;

    /// The spec's keys in a full config: traces by trace id, logs by a record attribute.
    const EXAMPLE: &str = r#"
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:4317 } } }
processors:
  probabilistic_sampler:
    sampling_percentage: 25
    hash_seed: 22
    mode: hash_seed
  probabilistic_sampler/logs:
    sampling_percentage: 25
    hash_seed: 22
    attribute_source: record
    from_attribute: request.id
    sampling_priority: priority
    fail_closed: true
exporters:
  otelbox: {}
service:
  pipelines:
    traces: { receivers: [otlp], processors: [probabilistic_sampler], exporters: [otelbox] }
    logs: { receivers: [otlp], processors: [probabilistic_sampler/logs], exporters: [otelbox] }
"#;

    fn sampler_from(yaml: &str, id: &str) -> ProbabilisticSampler {
        let (id, settings) = settings(yaml, id);
        ProbabilisticSampler::new(&id, settings.get())
    }

    fn sampler(config: ProbabilisticSamplerConfig) -> ProbabilisticSampler {
        let id = ComponentId {
            kind: "probabilistic_sampler".into(),
            name: None,
        };
        ProbabilisticSampler::new(&id, &config)
    }

    fn at(percentage: f32) -> ProbabilisticSamplerConfig {
        ProbabilisticSamplerConfig {
            sampling_percentage: percentage,
            ..Default::default()
        }
    }

    fn double(value: f64) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::DoubleValue(value)),
        }
    }

    // Buckets under seed 22 (checked against an independent FNV-1a): 4bf9.. 12395, 0af7.. 414,
    // 5b8e.. 3273, a3ce.. 8703; req-1 823, req-2 1226, req-4 15192, req-5 15595, req-6 15998.
    // At 25% the first 4096 buckets are kept.
    const DROPPED_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const KEPT_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    const KEPT_TRACE_2: &str = "5b8efff798038103d269b633813fc60c";
    const DROPPED_TRACE_2: &str = "a3ce929d0e0e47364bf92f3577b34da6";

    #[test]
    fn hashing_matches_the_collector() {
        // FNV-1a reference vectors.
        assert_eq!(fnv1a_32(&[]), 0x811c_9dc5);
        assert_eq!(fnv1a_32(&[b"a"]), 0xe40c_292c);
        assert_eq!(fnv1a_32(&[b"foo", b"bar"]), 0xbf9c_f968);
        // The Collector's TestEmptyHashFunction: seed 0 over no bytes, and over 16 zero bytes.
        assert_eq!(hash_bucket(0, &[]), 0x3515);
        assert_eq!(hash_bucket(0, &[0; 16]), 0x2455);
        // Its HashSeedTraceState test: 10% and 33.33..% reject thresholds encode as e668 and
        // aaac (14 bits shifted into 16), so 1638 and 5461 buckets are kept.
        assert_eq!(scaled_rate(10.0), 1638);
        assert_eq!(scaled_rate(100.0 / 3.0), 5461);
        assert_eq!((HASH_BUCKETS - scaled_rate(10.0)) << 2, 0xe668);
        assert_eq!((HASH_BUCKETS - scaled_rate(100.0 / 3.0)) << 2, 0xaaac);
        assert_eq!(
            [scaled_rate(0.0), scaled_rate(25.0), scaled_rate(50.0), scaled_rate(100.0)],
            [0, 4096, 8192, 16384]
        );
        // The seed goes first, little-endian.
        let id = hex::decode(KEPT_TRACE).unwrap();
        assert_eq!(hash_bucket(22, &id), fnv1a_32(&[&[22, 0, 0, 0], &id]) & 0x3fff);
        assert_eq!(hash_bucket(22, &id), 414);
        assert_eq!(hash_bucket(22, &hex::decode(DROPPED_TRACE).unwrap()), 12395);
    }

    #[test]
    fn example_samples_traces_by_trace_id_with_priority_overrides() {
        let sampler = sampler_from(EXAMPLE, "probabilistic_sampler");
        let priority = |value: AnyValue| vec![kv_any("sampling.priority", value)];
        let kept = [
            span(KEPT_TRACE, "GET /b", vec![]),
            span(KEPT_TRACE, "db", vec![]),
            span(DROPPED_TRACE_2, "GET /d", priority(text("1"))),
        ];
        let mut data = traces(vec![
            (
                "api",
                vec![
                    span(DROPPED_TRACE, "GET /a", vec![]),
                    kept[0].clone(),
                    kept[1].clone(),
                    span(KEPT_TRACE_2, "GET /c", vec![kv_int("sampling.priority", 0)]),
                    kept[2].clone(),
                    span("", "no trace id", vec![]),
                ],
            ),
            ("worker", vec![span(DROPPED_TRACE, "job", vec![])]),
        ]);
        sampler.process_traces(&mut data).unwrap();
        assert_eq!(data, traces(vec![("api", kept.to_vec())]));
    }

    #[test]
    fn example_samples_logs_by_record_attribute_with_priority_percentages() {
        let sampler = sampler_from(EXAMPLE, "probabilistic_sampler/logs");
        let request = |id: &str, extra: Vec<KeyValue>| {
            let mut attributes = vec![kv("request.id", id)];
            attributes.extend(extra);
            log(9, id, attributes)
        };
        let mut traced = request("req-4", vec![]);
        traced.trace_id = hex::decode(KEPT_TRACE).unwrap();
        let kept = [
            request("req-1", vec![]),
            request("req-5", vec![kv_int("priority", 100)]),
            request("req-6", vec![kv_any("priority", double(99.0))]),
        ];
        let mut data = logs(vec![(
            "api",
            vec![
                kept[0].clone(),
                request("req-4", vec![]),
                log(9, "no request id", vec![]),
                kept[1].clone(),
                request("req-2", vec![kv_int("priority", 0)]),
                request("req-6", vec![kv_int("priority", 50)]),
                kept[2].clone(),
                traced,
            ],
        )]);
        sampler.process_logs(&mut data).unwrap();
        assert_eq!(data, logs(vec![("api", kept.to_vec())]));
    }

    /// xorshift64*: reproducible ids for the statistical tests.
    struct Ids(u64);
    impl Ids {
        fn next(&mut self) -> Vec<u8> {
            let mut word = || {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
            };
            [word().to_be_bytes(), word().to_be_bytes()].concat()
        }
    }

    #[test]
    fn keeps_the_configured_share_of_ten_thousand_traces() {
        for seed in [0, 22, 4312] {
            let sampler = sampler(ProbabilisticSamplerConfig {
                hash_seed: seed,
                ..at(25.0)
            });
            let mut ids = Ids(0x9e37_79b9_7f4a_7c15 ^ u64::from(seed));
            let spans: Vec<Span> = (0..10_000)
                .map(|i| span(&hex::encode(ids.next()), &format!("s{i}"), vec![]))
                .collect();
            let mut data = traces(vec![("api", spans)]);
            sampler.process_traces(&mut data).unwrap();
            let kept = data.resource_spans.first().map_or(0, |r| r.scope_spans[0].spans.len());
            assert!((2300..=2700).contains(&kept), "seed {seed}: kept {kept} of 10000 at 25%");
        }
    }

    #[test]
    fn every_span_of_a_trace_gets_the_same_decision_across_resources_and_payloads() {
        let sampler = sampler(ProbabilisticSamplerConfig { hash_seed: 7, ..at(40.0) });
        let mut ids = Ids(42);
        let trace_ids: Vec<String> = (0..500).map(|_| hex::encode(ids.next())).collect();
        let payload = |services: [&str; 2]| {
            traces(
                services
                    .iter()
                    .map(|service| (*service, trace_ids.iter().map(|t| span(t, service, vec![])).collect()))
                    .collect(),
            )
        };
        let (mut first, mut second) = (payload(["api", "db"]), payload(["worker", "cache"]));
        sampler.process_traces(&mut first).unwrap();
        sampler.process_traces(&mut second).unwrap();
        let mut kept: std::collections::BTreeMap<Vec<u8>, usize> = Default::default();
        for data in [&first, &second] {
            for span in data.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
                *kept.entry(span.trace_id.clone()).or_default() += 1;
            }
        }
        assert!(kept.values().all(|n| *n == 4), "all four spans of a kept trace: {kept:?}");
        let expected = trace_ids
            .iter()
            .filter(|t| hash_bucket(7, &hex::decode(t).unwrap()) < scaled_rate(40.0))
            .count();
        assert_eq!(kept.len(), expected);
        assert!((150..=250).contains(&expected), "{expected} of 500 at 40%");
    }

    #[test]
    fn fail_closed_decides_items_without_randomness() {
        let no_trace_id = || traces(vec![("api", vec![span("", "a", vec![]), span(&"0".repeat(32), "b", vec![])])]);
        let mut data = no_trace_id();
        sampler(at(25.0)).process_traces(&mut data).unwrap();
        assert_eq!(data, ExportTraceServiceRequest::default(), "fail_closed is the default");

        let open = |percentage| ProbabilisticSamplerConfig {
            fail_closed: false,
            ..at(percentage)
        };
        let mut data = no_trace_id();
        sampler(open(25.0)).process_traces(&mut data).unwrap();
        assert_eq!(data, no_trace_id(), "fail_closed: false keeps them");
        let mut data = no_trace_id();
        sampler(open(0.0)).process_traces(&mut data).unwrap();
        assert_eq!(data, ExportTraceServiceRequest::default(), "but 0% keeps nothing");
    }

    #[test]
    fn sampling_priority_of_any_numeric_type_overrides_spans() {
        let cases = [
            (text("1"), 0.0, true),
            (text("0.5"), 0.0, true),
            (double(2.0), 0.0, true),
            (text("0.0"), 100.0, false),
            (double(0.0), 100.0, false),
            (text("-1"), 100.0, true),
            (text("NaN"), 0.0, false),
            (text("high"), 100.0, true),
        ];
        for (value, percentage, kept) in cases {
            let input = traces(vec![(
                "api",
                vec![span(DROPPED_TRACE, "a", vec![kv_any("sampling.priority", value.clone())])],
            )]);
            let mut data = input.clone();
            sampler(at(percentage)).process_traces(&mut data).unwrap();
            assert_eq!(data == input, kept, "{value:?} at {percentage}%");
        }
    }

    #[test]
    fn logs_hash_the_trace_id_and_fall_back_to_the_attribute() {
        let sampler = sampler(ProbabilisticSamplerConfig {
            hash_seed: 22,
            from_attribute: Some("request.id".into()),
            ..at(25.0)
        });
        let with_trace = |trace: &str, request: &str| {
            let mut record = log(9, request, vec![kv("request.id", request)]);
            record.trace_id = hex::decode(trace).unwrap();
            record
        };
        let kept = [with_trace(KEPT_TRACE, "req-4"), with_trace("", "req-1")];
        let mut data = logs(vec![(
            "api",
            vec![
                kept[0].clone(),
                with_trace(DROPPED_TRACE, "req-1"),
                kept[1].clone(),
                with_trace("", "req-4"),
                log(9, "nothing to hash", vec![kv("request.id", "")]),
            ],
        )]);
        sampler.process_logs(&mut data).unwrap();
        assert_eq!(data, logs(vec![("api", kept.to_vec())]));
    }

    #[test]
    fn metrics_pass_through() {
        let input = metrics(vec![("api", vec![gauge("cpu", vec![point(vec![], 1)])])]);
        let mut data: ExportMetricsServiceRequest = input.clone();
        sampler(at(0.0)).process_metrics(&mut data).unwrap();
        assert_eq!(data, input);
    }

    #[test]
    fn config_errors_name_their_key() {
        let errors = config_errors(&full_config(
            "probabilistic_sampler",
            "    sampling_percentage: 150\n    hash_seed: 5000000000\n    mode: proportional\n    attribute_source: span\n    \
             fail_closed: maybe\n    from_attribute: \"\"\n    sample_rate: 3",
        ));
        assert_eq!(
            errors,
            [
                "processors.probabilistic_sampler.sample_rate: unknown key (expected one of: sampling_percentage, hash_seed, mode, \
                 fail_closed, attribute_source, from_attribute, sampling_priority)",
                "processors.probabilistic_sampler.sampling_percentage: must be between 0 and 100, got 150",
                "processors.probabilistic_sampler.hash_seed: must fit in 32 bits (0 to 4294967295), got 5000000000",
                "processors.probabilistic_sampler.mode: mode \"proportional\" is not supported by otelbox; use hash_seed (the \
                 Collector's FNV hash of the trace id)",
                "processors.probabilistic_sampler.fail_closed: expected true or false, got a string",
                "processors.probabilistic_sampler.attribute_source: expected traceID or record, got 'span'",
                "processors.probabilistic_sampler.from_attribute: must not be empty: name a log record attribute",
            ]
        );
        let errors = config_errors(&full_config(
            "probabilistic_sampler/a",
            "    attribute_source: record\n    mode: fast",
        ));
        assert_eq!(
            errors,
            [
                "processors.probabilistic_sampler/a: sampling_percentage is required (0 to 100)",
                "processors.probabilistic_sampler/a.mode: unknown mode 'fast' (expected hash_seed)",
                "processors.probabilistic_sampler/a.attribute_source: record needs from_attribute: the log record attribute whose value \
                 is hashed",
            ]
        );
        let errors = config_errors(&full_config("probabilistic_sampler/b", "    sampling_percentage: 0.005"));
        assert_eq!(
            errors,
            [
                "processors.probabilistic_sampler/b.sampling_percentage: 0.005 keeps nothing: hash_seed sampling has 16384 buckets, \
              so the smallest share it keeps is 0.0062; use 0 to drop everything"
            ]
        );
        let errors = config_errors(&full_config("probabilistic_sampler/c", "    sampling_percentage: -1"));
        assert_eq!(
            errors,
            ["processors.probabilistic_sampler/c.sampling_percentage: must be between 0 and 100, got -1"]
        );
    }
}
