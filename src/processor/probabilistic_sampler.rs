//! The probabilistic_sampler processor: keeps a share of traces and log records, decided by a
//! hash of the trace id (`hash_seed`), or by the trace's OTEP 235 randomness and sampling
//! threshold (`equalizing`, `proportional`), so every span of a trace gets the same decision (the
//! Collector's probabilisticsamplerprocessor).
//!
//! ```yaml
//! probabilistic_sampler:
//!   sampling_percentage: 25      # required, 0 to 100
//!   mode: hash_seed              # hash_seed (default) | equalizing | proportional
//!   hash_seed: 22                # hash_seed: u32; the same seed everywhere gives the same decisions
//!   sampling_precision: 4        # equalizing, proportional: hex digits of the threshold written, 1 to 14
//!   fail_closed: true            # drop items whose randomness is missing or whose sampling data is invalid
//!   attribute_source: traceID    # logs, hash_seed: traceID (default) | record
//!   from_attribute: request.id   # logs, hash_seed: attribute hashed when there is no trace id, or always with record
//!   sampling_priority: priority  # logs: attribute holding a percentage that replaces sampling_percentage
//! ```
//! `hash_seed`. The decision is the Collector's, bit for bit: FNV-1a (32 bits) over the seed's four
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
//! Left out of `hash_seed`, on purpose: the `ot=th:..;rv:..` tracestate / `sampling.threshold`
//! and `sampling.randomness` attributes the Collector writes onto what it keeps (otelbox forwards
//! kept items unchanged), and its refusal of items that already carry them.
//!
//! `equalizing` and `proportional` (OTEP 235, the Collector's `pkg/sampling` semantics). An item's
//! randomness is the `rv` of the `ot` member of a span's W3C tracestate (a log record's
//! `sampling.randomness` attribute), else the last 56 bits of its trace id; its incoming threshold
//! the `th` there (`sampling.threshold`). The item is kept when threshold <= randomness, with the
//! threshold: `equalizing`, the configured probability's, or the incoming one when that is
//! higher; `proportional`, the incoming probability times the configured one (below 2^-56:
//! nothing). Thresholds are rounded to `sampling_precision` hex digits (more near 0% and 100%), as
//! the Collector rounds them. A kept span gets the new `th` in its tracestate (the `ot` member
//! first, the other vendors' after, as the Collector rewrites it), a kept log record a
//! `sampling.threshold` attribute; a `th` is never lowered. An invalid tracestate or sampling
//! attribute, a missing randomness, or an incoming `th` the randomness does not pass (then
//! cleared) is an error: `fail_closed` drops the item, otherwise it is kept with `th:0`. A span's
//! `sampling.priority` then forces the threshold (0 never, positive always); a log record's
//! `sampling_priority` attribute, a percentage above 0 and at most 100, replaces it. `hash_seed`,
//! `attribute_source` and `from_attribute` are not read in these modes. Metrics pass through
//! untouched.

use crate::config::{ComponentId, Parser};
use crate::hash::fnv1a_32;
use crate::ottl::Value as OttlValue;
use crate::pdata::find_attribute;
use crate::pipeline::ItemProcessor;
use crate::pipeline::PipelineError;
use consistent::{Randomness, RecordCarrier, Threshold, TraceState, ALL_PROBABILITIES, ALWAYS, MIN_PROBABILITY, NEVER};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
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

/// How the sampler decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The FNV hash of the trace id (or of a log record attribute) against 16384 buckets.
    #[default]
    HashSeed,
    /// OTEP 235: the configured threshold, or the item's own when that is higher.
    Equalizing,
    /// OTEP 235: the item's probability times the configured one.
    Proportional,
}

/// The Collector's default `sampling_precision`.
const DEFAULT_PRECISION: u32 = 4;

#[derive(Clone, Debug, PartialEq)]
pub struct ProbabilisticSamplerConfig {
    pub sampling_percentage: f32,
    pub mode: Mode,
    pub hash_seed: u32,
    /// Hex digits of the thresholds the OTEP 235 modes compute (1 to 14; more near 0% and 100%).
    pub sampling_precision: u32,
    pub fail_closed: bool,
    pub attribute_source: AttributeSource,
    pub from_attribute: Option<String>,
    pub sampling_priority: Option<String>,
}

impl Default for ProbabilisticSamplerConfig {
    fn default() -> Self {
        ProbabilisticSamplerConfig {
            sampling_percentage: 0.0,
            mode: Mode::HashSeed,
            hash_seed: 0,
            sampling_precision: DEFAULT_PRECISION,
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
            "sampling_precision",
        ],
        path,
    );
    let at = |key: &str| format!("{path}.{key}");
    let mut percentage = None;
    match body.get("sampling_percentage") {
        None => p.error(path, "sampling_percentage is required (0 to 100)"),
        Some(v) => {
            if let Some(value) = p.float(v, &at("sampling_percentage")) {
                match check_percentage(value) {
                    Ok(value) => percentage = Some(value),
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
            // Empty is the Collector's "unset", which is hash_seed.
            "hash_seed" | "" => config.mode = Mode::HashSeed,
            "equalizing" => config.mode = Mode::Equalizing,
            "proportional" => config.mode = Mode::Proportional,
            other => p.error(
                &at("mode"),
                format!("unknown mode '{other}' (expected hash_seed, equalizing or proportional)"),
            ),
        }
    }
    if let Some(v) = body.get("sampling_precision") {
        if let Some(digits) = p.integer(v, &at("sampling_precision")) {
            match u32::try_from(digits).ok().filter(|digits| (1..=14).contains(digits)) {
                Some(digits) => config.sampling_precision = digits,
                None => p.error(
                    &at("sampling_precision"),
                    format!("must be between 1 and 14 (hex digits of the sampling threshold), got {digits}"),
                ),
            }
        }
    }
    if let Some(percentage) = percentage {
        match check_smallest_share(percentage, config.mode) {
            Ok(()) => config.sampling_percentage = percentage,
            Err(message) => p.error(&at("sampling_percentage"), message),
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
    let hashes_logs = config.mode == Mode::HashSeed;
    if hashes_logs
        && config.attribute_source == AttributeSource::Record
        && config.from_attribute.is_none()
        && body.get("from_attribute").is_none()
    {
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

/// A configured percentage as the Collector's float32.
fn check_percentage(percentage: f64) -> Result<f32, String> {
    if !(0.0..=100.0).contains(&percentage) {
        return Err(format!("must be between 0 and 100, got {percentage}"));
    }
    Ok(percentage as f32)
}

/// Refuses a percentage above 0 that `mode` cannot keep anything at: below one of 16384 hash
/// buckets, or below 2^-56 (the Collector's smallest sampling probability).
fn check_smallest_share(percentage: f32, mode: Mode) -> Result<(), String> {
    if percentage <= 0.0 {
        return Ok(());
    }
    match mode {
        Mode::HashSeed if scaled_rate(percentage) == 0 => Err(format!(
            "{percentage} keeps nothing: hash_seed sampling has {HASH_BUCKETS} buckets, so the smallest share it keeps is 0.0062; use 0 to drop everything"
        )),
        Mode::Equalizing | Mode::Proportional if f64::from(percentage) / 100.0 < MIN_PROBABILITY => Err(format!(
            "{percentage} is below the smallest sampling probability (2^-56) of the {} mode; use 0 to drop everything",
            if mode == Mode::Equalizing { "equalizing" } else { "proportional" }
        )),
        _ => Ok(()),
    }
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
    /// Buckets kept at the configured percentage (`hash_seed`).
    rate: u32,
    /// The rule of the OTEP 235 modes; None in `hash_seed`.
    consistent: Option<Consistent>,
}

/// How an OTEP 235 mode picks an item's threshold (the Collector's samplers of that name).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Consistent {
    /// At 0%: nothing, unless by priority (and whatever the mode).
    Never,
    /// The configured threshold, or the item's own when that is higher.
    Equalizing(Threshold),
    /// The item's probability (1 without a threshold) times `ratio`.
    Proportional { ratio: f64 },
}

impl Consistent {
    fn for_config(config: &ProbabilisticSamplerConfig) -> Option<Consistent> {
        if config.mode == Mode::HashSeed {
            return None;
        }
        if config.sampling_percentage <= 0.0 {
            return Some(Consistent::Never);
        }
        // The Collector's float32 percentage, widened before dividing; the smallest share is
        // refused at load, and raised here all the same, as the Collector does.
        let ratio = (f64::from(config.sampling_percentage) / 100.0).clamp(MIN_PROBABILITY, 1.0);
        Some(if config.mode == Mode::Equalizing {
            Consistent::Equalizing(Threshold::from_probability(ratio, config.sampling_precision).unwrap_or(ALWAYS))
        } else {
            Consistent::Proportional { ratio }
        })
    }

    /// The threshold for an item that arrived with `incoming` (its `th`, when it has one).
    fn threshold(self, incoming: Option<Threshold>, precision: u32) -> Threshold {
        match self {
            Consistent::Never => NEVER,
            Consistent::Equalizing(configured) => match incoming {
                Some(own) if configured < own => own,
                _ => configured,
            },
            Consistent::Proportional { ratio } => {
                let probability = incoming.map_or(1.0, Threshold::probability) * ratio;
                // Below the smallest probability: not sampled, as in the Collector.
                Threshold::from_probability(probability, precision).unwrap_or(NEVER)
            }
        }
    }
}

impl ProbabilisticSampler {
    pub fn new(_id: &ComponentId, config: &ProbabilisticSamplerConfig) -> Self {
        ProbabilisticSampler {
            config: config.clone(),
            rate: scaled_rate(config.sampling_percentage),
            consistent: Consistent::for_config(config),
        }
    }

    /// The threshold of an item the OTEP 235 modes could not judge.
    fn failure_threshold(&self) -> Threshold {
        if self.config.fail_closed {
            NEVER
        } else {
            ALWAYS
        }
    }

    /// OTEP 235 on one span: its randomness (the tracestate's `rv`, else the trace id's last 56
    /// bits) and incoming `th`, the mode's threshold, the `sampling.priority` override; a kept
    /// span gets the threshold into its tracestate.
    fn keep_span_consistently(&self, rule: Consistent, span: &mut Span) -> bool {
        let (state, parsed) = TraceState::parse(&span.trace_state);
        let (randomness, mut carrier, mut failed) = match rule {
            // A stand-in randomness, compared only when a priority or fail_closed: false sets the threshold.
            Consistent::Never => (Some(ALL_PROBABILITIES), Some(state), !parsed),
            _ if !parsed => (None, None, true),
            _ => {
                let randomness = state.ot.randomness().or_else(|| Randomness::from_trace_id(&span.trace_id));
                (randomness, Some(state), false)
            }
        };
        if !failed {
            failed = match randomness {
                None => true,
                Some(randomness) => carrier
                    .as_mut()
                    .is_some_and(|state| state.ot.clear_inconsistent_threshold(randomness)),
            };
        }
        let threshold = if failed {
            self.failure_threshold()
        } else {
            let incoming = carrier.as_ref().and_then(|state| state.ot.threshold());
            rule.threshold(incoming, self.config.sampling_precision)
        };
        let threshold = match span_priority(&span.attributes) {
            Priority::Drop => NEVER,
            Priority::Keep => ALWAYS,
            _ => threshold,
        };
        let sampled = threshold.should_sample(randomness.unwrap_or(ALL_PROBABILITIES));
        if sampled {
            if let Some(mut state) = carrier {
                state.ot.raise_threshold(threshold);
                span.trace_state = state.serialize();
            }
        }
        sampled
    }

    /// OTEP 235 on one log record: as for a span, with the `sampling.randomness` and
    /// `sampling.threshold` attributes in place of the tracestate, and the `sampling_priority`
    /// attribute as a percentage that replaces the threshold.
    fn keep_log_consistently(&self, rule: Consistent, log: &mut LogRecord) -> bool {
        let (record, parsed) = RecordCarrier::read(&log.attributes);
        let (randomness, mut carrier, mut failed) = match rule {
            Consistent::Never => (Some(ALL_PROBABILITIES), Some(record), !parsed),
            _ if !parsed => (None, None, true),
            _ => {
                let randomness = record.randomness.or_else(|| Randomness::from_trace_id(&log.trace_id));
                (randomness, Some(record), false)
            }
        };
        if !failed {
            failed = match (randomness, carrier.as_mut()) {
                (None, _) => true,
                (Some(randomness), Some(record)) if record.threshold.is_some_and(|own| !own.should_sample(randomness)) => {
                    record.threshold = None;
                    log.attributes.retain(|kv| kv.key != consistent::THRESHOLD_ATTRIBUTE);
                    true
                }
                _ => false,
            };
        }
        let threshold = if failed {
            self.failure_threshold()
        } else {
            let incoming = carrier.as_ref().and_then(|record| record.threshold);
            rule.threshold(incoming, self.config.sampling_precision)
        };
        let threshold = self.log_priority_threshold(log).unwrap_or(threshold);
        let sampled = threshold.should_sample(randomness.unwrap_or(ALL_PROBABILITIES));
        if sampled {
            if let Some(record) = carrier {
                if record.threshold.is_none_or(|own| threshold >= own) {
                    put_text(&mut log.attributes, consistent::THRESHOLD_ATTRIBUTE, threshold.tvalue());
                }
            }
        }
        sampled
    }

    /// The OTEP 235 modes' reading of the `sampling_priority` attribute: a percentage whose
    /// probability (above 0, at most 1) replaces the threshold; anything else leaves it.
    fn log_priority_threshold(&self, log: &LogRecord) -> Option<Threshold> {
        use any_value::Value as V;
        let key = self.config.sampling_priority.as_deref()?;
        let percentage = match find_attribute(&log.attributes, key)?.value.as_ref()? {
            V::DoubleValue(x) => *x,
            V::IntValue(n) => *n as f64,
            _ => return None,
        };
        if percentage == 0.0 {
            return None;
        }
        Threshold::from_probability(percentage / 100.0, self.config.sampling_precision)
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
                match self.consistent {
                    Some(rule) => scope_spans.spans.retain_mut(|span| self.keep_span_consistently(rule, span)),
                    None => scope_spans.spans.retain(|span| {
                        let bucket = valid_trace_id(&span.trace_id).map(|id| self.bucket(id));
                        self.keep(bucket, span_priority(&span.attributes))
                    }),
                }
            }
            resource_spans.scope_spans.retain(|s| !s.spans.is_empty());
        }
        data.resource_spans.retain(|r| !r.scope_spans.is_empty());
        Ok(())
    }

    fn process_logs(&self, data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        for resource_logs in &mut data.resource_logs {
            for scope_logs in &mut resource_logs.scope_logs {
                match self.consistent {
                    Some(rule) => scope_logs.log_records.retain_mut(|log| self.keep_log_consistently(rule, log)),
                    None => scope_logs.log_records.retain(|log| self.keep_log(log)),
                }
            }
            resource_logs.scope_logs.retain(|s| !s.log_records.is_empty());
        }
        data.resource_logs.retain(|r| !r.scope_logs.is_empty());
        Ok(())
    }
}

/// Sets string attribute `key`, in place when present, else at the end (pdata's `PutStr`).
fn put_text(attributes: &mut Vec<KeyValue>, key: &str, text: String) {
    let value = Some(AnyValue {
        value: Some(any_value::Value::StringValue(text)),
    });
    match attributes.iter().position(|kv| kv.key == key) {
        Some(i) => attributes[i].value = value,
        None => attributes.push(KeyValue {
            key: key.to_string(),
            value,
            ..Default::default()
        }),
    }
}

/// OTEP 235 consistent probability sampling as the Collector's `pkg/sampling` implements it:
/// 56-bit thresholds and randomness, the `ot` member of the W3C tracestate that carries them on
/// spans, and the attributes that carry them on log records.
mod consistent {
    use crate::pdata::find_attribute;
    use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};

    /// 2^56: the number of randomness values, and the threshold that samples nothing.
    const MAX_ADJUSTED_COUNT: u64 = 1 << 56;
    /// Hex digits of a 56-bit value.
    const HEX_DIGITS: usize = 14;
    /// The smallest sampling probability, 2^-56.
    pub const MIN_PROBABILITY: f64 = 1.0 / (MAX_ADJUSTED_COUNT as f64);
    /// The log record attributes that stand for a span's `th` and `rv`.
    pub const THRESHOLD_ATTRIBUTE: &str = "sampling.threshold";
    const RANDOMNESS_ATTRIBUTE: &str = "sampling.randomness";

    /// How many of the 2^56 randomness values are rejected: an item is kept when its randomness
    /// is at least the threshold.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Threshold(u64);

    pub const ALWAYS: Threshold = Threshold(0);
    pub const NEVER: Threshold = Threshold(MAX_ADJUSTED_COUNT);

    /// 56 random bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Randomness(u64);

    /// The randomness every threshold but `NEVER` passes.
    pub const ALL_PROBABILITIES: Randomness = Randomness(MAX_ADJUSTED_COUNT - 1);

    /// Go's `math.Frexp` exponent: e with x = m * 2^e and m in [0.5, 1), for a positive finite x.
    fn binary_exponent(x: f64) -> i32 {
        if x == 0.0 || !x.is_finite() {
            return 0;
        }
        let biased = ((x.to_bits() >> 52) & 0x7ff) as i32;
        if biased == 0 {
            // Subnormal: scale into the normal range first.
            return binary_exponent(x * 2f64.powi(54)) - 54;
        }
        biased - 1022
    }

    fn is_hex(text: &str) -> bool {
        text.bytes().all(|b| b.is_ascii_hexdigit())
    }

    impl Threshold {
        pub fn should_sample(self, randomness: Randomness) -> bool {
            self.0 <= randomness.0
        }

        pub fn probability(self) -> f64 {
            MAX_ADJUSTED_COUNT.saturating_sub(self.0) as f64 / MAX_ADJUSTED_COUNT as f64
        }

        /// The `th` text: "0" samples everything, empty nothing, otherwise the 14 hex digits without
        /// their trailing zeros.
        pub fn tvalue(self) -> String {
            match self {
                ALWAYS => "0".to_string(),
                Threshold(rejected) if rejected >= MAX_ADJUSTED_COUNT => String::new(),
                Threshold(rejected) => format!("{rejected:014x}").trim_end_matches('0').to_string(),
            }
        }

        /// A `th` text: 1 to 14 hex digits, the omitted trailing ones zeros.
        pub fn from_tvalue(text: &str) -> Option<Threshold> {
            if text.is_empty() || text.len() > HEX_DIGITS || !is_hex(text) {
                return None;
            }
            let rejected = u64::from_str_radix(text, 16).ok()?;
            Some(Threshold(rejected << (4 * (HEX_DIGITS - text.len()))))
        }

        /// The Collector's `ProbabilityToThresholdWithPrecision`: the threshold of `fraction`
        /// (2^-56 to 1, else None) rounded to `precision` hex digits (0: all 14), with a digit
        /// more for each leading `0` or `f` the exact threshold has.
        pub fn from_probability(fraction: f64, precision: u32) -> Option<Threshold> {
            if !(MIN_PROBABILITY..=1.0).contains(&fraction) {
                return None;
            }
            if fraction == 1.0 {
                return Some(ALWAYS);
            }
            let all = HEX_DIGITS as i32;
            let precision = if precision == 0 {
                all
            } else {
                precision.min(HEX_DIGITS as u32) as i32
            };
            let leading = |x: f64| binary_exponent(x) / -4;
            let precision = (precision + leading(fraction)).max(precision + leading(1.0 - fraction)).min(all);
            let accepted = (fraction * MAX_ADJUSTED_COUNT as f64).round() as u64;
            let mut rejected = MAX_ADJUSTED_COUNT - accepted.min(MAX_ADJUSTED_COUNT);
            let shift = 4 * (all - precision);
            if shift > 0 {
                let shift = shift as u32;
                rejected += 1 << (shift - 1);
                rejected = (rejected >> shift) << shift;
            }
            Some(Threshold(rejected))
        }
    }

    impl Randomness {
        /// An `rv` text: exactly 14 hex digits.
        pub fn from_rvalue(text: &str) -> Option<Randomness> {
            if text.len() != HEX_DIGITS || !is_hex(text) {
                return None;
            }
            u64::from_str_radix(text, 16).ok().map(Randomness)
        }

        /// The last 56 bits of a trace id (the W3C random bits); None without a trace id (empty,
        /// all zeros, or not 16 bytes).
        pub fn from_trace_id(id: &[u8]) -> Option<Randomness> {
            let id: &[u8; 16] = id.try_into().ok()?;
            if id.iter().all(|b| *b == 0) {
                return None;
            }
            let low: [u8; 8] = id[8..].try_into().ok()?;
            Some(Randomness(u64::from_be_bytes(low) & (MAX_ADJUSTED_COUNT - 1)))
        }
    }

    /// The `ot` member of a tracestate: `rv` and `th` (each with its text as received), and its
    /// other fields in order.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct OtelState {
        randomness: Option<(String, Randomness)>,
        threshold: Option<(String, Threshold)>,
        others: Vec<(String, String)>,
    }

    /// A W3C tracestate: its `ot` member and the other vendors' members in order.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct TraceState {
        pub ot: OtelState,
        others: Vec<(String, String)>,
    }

    /// The text before the first `separator` and the rest after it (all of it and nothing
    /// without one), as the Collector's scanner cuts.
    fn cut(text: &str, separator: char) -> (&str, &str) {
        text.split_once(separator).unwrap_or((text, ""))
    }

    fn valid_key_chars(text: &str) -> bool {
        text.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/'))
    }

    /// A W3C tracestate key's syntax (its sizes are checked while scanning).
    fn valid_w3c_key(key: &str) -> bool {
        let starts = |text: &str, digit_too: bool| {
            text.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || (digit_too && b.is_ascii_digit()))
        };
        match key.split_once('@') {
            Some((tenant, system)) => {
                starts(tenant, true) && starts(system, false) && valid_key_chars(&tenant[1..]) && valid_key_chars(&system[1..])
            }
            None => starts(key, false) && valid_key_chars(&key[1..]),
        }
    }

    /// A W3C tracestate value: 1 to 256 characters from ' ' to '~' but ',' and '=', the last not
    /// a space.
    fn valid_w3c_value(value: &str) -> bool {
        let allowed = |b: &u8| (b' '..=b'~').contains(b) && !matches!(b, b',' | b'=');
        match value.as_bytes().split_last() {
            Some((last, others)) => value.len() <= 256 && *last != b' ' && allowed(last) && others.iter().all(allowed),
            None => false,
        }
    }

    fn valid_w3c(input: &str) -> bool {
        let mut rest = input;
        while !rest.is_empty() {
            let (member, after) = cut(rest, ',');
            rest = after;
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            match member.split_once('=') {
                Some((key, value)) if !key.is_empty() => {
                    if !valid_w3c_key(key) || !valid_w3c_value(value) {
                        return false;
                    }
                }
                _ => return false,
            }
        }
        true
    }

    /// The `ot` value's syntax: `key:value` fields joined by ';', keys of lowercase letters and
    /// digits starting with a letter, values of letters, digits, '.', '_' and '-'.
    fn valid_otel(input: &str) -> bool {
        if input.is_empty() || input.ends_with(';') {
            return false;
        }
        input.split(';').all(|member| match member.split_once(':') {
            Some((key, value)) => {
                key.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                    && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            }
            None => false,
        })
    }

    impl OtelState {
        /// Parses an `ot` value; false on an error, the state then holding the fields that did
        /// parse (an invalid `rv` or `th` is left out).
        fn parse(input: &str) -> (OtelState, bool) {
            let mut state = OtelState::default();
            if input.len() > 256 || !valid_otel(input) {
                return (state, false);
            }
            let mut ok = true;
            for member in input.split(';') {
                let (key, value) = cut(member, ':');
                match key {
                    "rv" => {
                        state.randomness = Randomness::from_rvalue(value).map(|r| (value.to_string(), r));
                        ok &= state.randomness.is_some();
                    }
                    "th" => {
                        state.threshold = Threshold::from_tvalue(value).map(|t| (value.to_string(), t));
                        ok &= state.threshold.is_some();
                    }
                    _ => state.others.push((key.to_string(), value.to_string())),
                }
            }
            (state, ok)
        }

        pub fn randomness(&self) -> Option<Randomness> {
            self.randomness.as_ref().map(|(_, randomness)| *randomness)
        }

        pub fn threshold(&self) -> Option<Threshold> {
            self.threshold.as_ref().map(|(_, threshold)| *threshold)
        }

        /// Clears a `th` that `randomness` does not pass (the item should not have been
        /// sampled); true when it did.
        pub fn clear_inconsistent_threshold(&mut self, randomness: Randomness) -> bool {
            let inconsistent = self.threshold().is_some_and(|own| !own.should_sample(randomness));
            if inconsistent {
                self.threshold = None;
            }
            inconsistent
        }

        /// Sets `th`, unless that would raise the probability the item already states.
        pub fn raise_threshold(&mut self, threshold: Threshold) {
            if self.threshold().is_some_and(|own| own > threshold) {
                return;
            }
            let text = threshold.tvalue();
            self.threshold = (!text.is_empty()).then_some((text, threshold));
        }

        fn is_empty(&self) -> bool {
            self.randomness.is_none() && self.threshold.is_none() && self.others.is_empty()
        }

        fn serialize(&self) -> String {
            let mut fields = Vec::new();
            if let Some((text, _)) = &self.randomness {
                fields.push(format!("rv:{text}"));
            }
            if let Some((text, _)) = &self.threshold {
                fields.push(format!("th:{text}"));
            }
            fields.extend(self.others.iter().map(|(key, value)| format!("{key}:{value}")));
            fields.join(";")
        }
    }

    impl TraceState {
        /// Parses a tracestate as the Collector does: false on an error, the state then holding
        /// what was read (nothing when the syntax is invalid; the members before a 32nd).
        pub fn parse(input: &str) -> (TraceState, bool) {
            const MAX_LENGTH: usize = 1024;
            const MAX_MEMBERS: usize = 32;
            let mut state = TraceState::default();
            if input.is_empty() {
                return (state, true);
            }
            if input.len() > MAX_LENGTH || !valid_w3c(input) {
                return (state, false);
            }
            let mut ok = true;
            let mut rest = input;
            let mut members = 0;
            while !rest.is_empty() {
                // As the Collector counts: every piece between commas, empty ones too, and the
                // 32nd is an error.
                members += 1;
                if members >= MAX_MEMBERS {
                    return (state, false);
                }
                let (member, after) = cut(rest, ',');
                rest = after;
                let member = member.trim_matches([' ', '\t']);
                let Some((key, value)) = member.split_once('=') else { continue };
                let oversized = key.len() > 256
                    || key
                        .split_once('@')
                        .is_some_and(|(tenant, system)| tenant.len() > 241 || system.len() > 14);
                if oversized {
                    ok = false;
                } else if key == "ot" {
                    let (ot, ot_ok) = OtelState::parse(value);
                    state.ot = ot;
                    ok &= ot_ok;
                } else {
                    state.others.push((key.to_string(), value.to_string()));
                }
            }
            (state, ok)
        }

        /// The tracestate text: the `ot` member first (when it has a field), then the others.
        pub fn serialize(&self) -> String {
            let ot = (!self.ot.is_empty()).then(|| format!("ot={}", self.ot.serialize()));
            let others = self.others.iter().map(|(key, value)| format!("{key}={value}"));
            let members: Vec<String> = ot.into_iter().chain(others).collect();
            members.join(",")
        }
    }

    /// A log record's sampling attributes (strings; anything else is absent).
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    pub struct RecordCarrier {
        pub threshold: Option<Threshold>,
        pub randomness: Option<Randomness>,
    }

    impl RecordCarrier {
        /// Reads `sampling.threshold` and `sampling.randomness`; false when one is invalid (it is
        /// then left out).
        pub fn read(attributes: &[KeyValue]) -> (RecordCarrier, bool) {
            let text = |key: &str| match find_attribute(attributes, key).and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(text)) if !text.is_empty() => Some(text.as_str()),
                _ => None,
            };
            let threshold_text = text(THRESHOLD_ATTRIBUTE);
            let randomness_text = text(RANDOMNESS_ATTRIBUTE);
            let carrier = RecordCarrier {
                threshold: threshold_text.and_then(Threshold::from_tvalue),
                randomness: randomness_text.and_then(Randomness::from_rvalue),
            };
            let ok = threshold_text.is_none() == carrier.threshold.is_none() && randomness_text.is_none() == carrier.randomness.is_none();
            (carrier, ok)
        }
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
                 fail_closed, attribute_source, from_attribute, sampling_priority, sampling_precision)",
                "processors.probabilistic_sampler.sampling_percentage: must be between 0 and 100, got 150",
                "processors.probabilistic_sampler.hash_seed: must fit in 32 bits (0 to 4294967295), got 5000000000",
                "processors.probabilistic_sampler.fail_closed: expected true or false, got a string",
                "processors.probabilistic_sampler.attribute_source: expected traceID or record, got 'span'",
                "processors.probabilistic_sampler.from_attribute: must not be empty: name a log record attribute",
            ]
        );
        let errors = config_errors(&full_config(
            "probabilistic_sampler/a",
            "    attribute_source: record\n    mode: fast\n    sampling_precision: 15",
        ));
        assert_eq!(
            errors,
            [
                "processors.probabilistic_sampler/a: sampling_percentage is required (0 to 100)",
                "processors.probabilistic_sampler/a.mode: unknown mode 'fast' (expected hash_seed, equalizing or proportional)",
                "processors.probabilistic_sampler/a.sampling_precision: must be between 1 and 14 (hex digits of the sampling \
                 threshold), got 15",
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

    #[test]
    fn the_consistent_modes_load_with_their_precision_and_no_bucket_limit() {
        let yaml = full_config(
            "probabilistic_sampler/consistent",
            "    sampling_percentage: 0.005\n    mode: proportional\n    sampling_precision: 6\n    attribute_source: record",
        );
        let (_, loaded) = settings(&yaml, "probabilistic_sampler/consistent");
        let config: &ProbabilisticSamplerConfig = loaded.get();
        assert_eq!(
            (config.mode, config.sampling_precision, config.sampling_percentage),
            (Mode::Proportional, 6, 0.005)
        );
        let yaml = full_config("probabilistic_sampler", "    sampling_percentage: 10\n    mode: equalizing");
        let (_, loaded) = settings(&yaml, "probabilistic_sampler");
        let config: &ProbabilisticSamplerConfig = loaded.get();
        assert_eq!(
            (config.mode, config.sampling_precision),
            (Mode::Equalizing, 4),
            "4 digits by default"
        );
        let errors = config_errors(&full_config(
            "probabilistic_sampler",
            "    sampling_percentage: 1e-16\n    mode: equalizing\n    sampling_precision: 0",
        ));
        assert_eq!(
            errors,
            [
                "processors.probabilistic_sampler.sampling_precision: must be between 1 and 14 (hex digits of the sampling \
                 threshold), got 0",
                "processors.probabilistic_sampler.sampling_percentage: 0.0000000000000001 is below the smallest sampling \
                 probability (2^-56) of the equalizing mode; use 0 to drop everything",
            ]
        );
    }

    /// The Collector's vectors for `ProbabilityToThresholdWithPrecision` and `TValue`.
    #[test]
    fn thresholds_round_to_their_precision_as_the_collector_s() {
        let tvalue = |probability: f64, precision: u32| Threshold::from_probability(probability, precision).map(|t| t.tvalue());
        let thirds = [1.0 / 3.0, 2.0 / 3.0, 1.0].map(|p| tvalue(p, 3));
        assert_eq!(thirds, [Some("aab".to_string()), Some("555".to_string()), Some("0".to_string())]);
        assert_eq!(tvalue(1.0 / 3.0, 0).as_deref(), Some("aaaaaaaaaaaaac"));
        let cases: [(f64, &[&str]); 4] = [
            (
                1.0 - f64::from(0x0456_789a) / 2f64.powi(28),
                &["456789a", "45678a", "45679", "4568", "456", "45", "4"],
            ),
            (
                1.0 - f64::from(0x0456_789a) / 2f64.powi(40),
                &["000456789a", "00045678a", "00045679", "0004568", "000456", "00045", "0004"],
            ),
            (
                1.0 - 0x0007_89ab_cdef_u64 as f64 / 2f64.powi(40),
                &[
                    "0789abcdef",
                    "0789abcdf",
                    "0789abce",
                    "0789abd",
                    "0789ac",
                    "0789b",
                    "078a",
                    "079",
                    "08",
                ],
            ),
            (
                1.0 - f64::from(0x1234_5678) / 2f64.powi(32),
                &["12345678", "1234568", "123456", "12345", "1234", "123", "12", "1"],
            ),
        ];
        for (probability, expected) in cases {
            for tv in expected {
                // The precision counts significant digits, not leading zeros.
                let precision = tv.trim_start_matches('0').len() as u32;
                assert_eq!(tvalue(probability, precision).as_deref(), Some(*tv), "{probability} at {precision}");
            }
        }
        let tiny: Vec<String> = [1.0, 2.0, 3.0, 4.0, 8.0, 16.0]
            .map(|n| tvalue(n * MIN_PROBABILITY, 3).unwrap())
            .to_vec();
        assert_eq!(
            tiny,
            [
                "ffffffffffffff",
                "fffffffffffffe",
                "fffffffffffffd",
                "fffffffffffffc",
                "fffffffffffff8",
                "fffffffffffff"
            ]
        );
        assert_eq!(tvalue(MIN_PROBABILITY / 2.0, 4), None, "below 2^-56");
        assert_eq!(Threshold::from_tvalue("8").map(Threshold::probability), Some(0.5));
        assert_eq!(Threshold::from_tvalue("abababababababab"), None, "more than 14 digits");
    }

    const DEFAULT_TRACE: &str = "fefefefefefefefefe80000000000000";
    const IMPROBABLE_TRACE: &str = "111111111111111111ffffffffffffff";

    fn consistent(mode: Mode, percentage: f32, precision: u32) -> ProbabilisticSamplerConfig {
        ProbabilisticSamplerConfig {
            mode,
            sampling_precision: precision,
            fail_closed: false,
            ..at(percentage)
        }
    }

    /// The span's tracestate after sampling it alone, None when it was dropped.
    fn sample_span(config: ProbabilisticSamplerConfig, trace: &str, tracestate: &str, attributes: Vec<KeyValue>) -> Option<String> {
        let mut one = span(trace, "op", attributes);
        one.trace_state = tracestate.to_string();
        let mut data = traces(vec![("api", vec![one])]);
        sampler(config).process_traces(&mut data).unwrap();
        let kept = data.resource_spans.first()?.scope_spans.first()?.spans.first()?;
        Some(kept.trace_state.clone())
    }

    /// The Collector's consistent-sampling cases (`Test_tracesamplerprocessor_TraceState`): a span
    /// with a trace id and a tracestate, kept or not, and the tracestate it leaves with, in
    /// each mode. Its precision 0 (all 14 digits) is written 14 here.
    #[test]
    fn consistent_modes_decide_and_write_the_tracestate_as_the_collector_does() {
        type Case = (
            &'static str,
            f32,
            u32,
            &'static str,
            &'static str,
            Option<i64>,
            Option<&'static str>,
            Option<&'static str>,
        );
        let cases: [Case; 24] = [
            ("100 percent", 100.0, 14, DEFAULT_TRACE, "", None, Some("ot=th:0"), Some("ot=th:0")),
            ("50 percent", 50.0, 14, DEFAULT_TRACE, "", None, Some("ot=th:8"), Some("ot=th:8")),
            (
                "25 percent sampled",
                25.0,
                14,
                "ddddddddddddddddddc0000000000000",
                "",
                None,
                Some("ot=th:c"),
                Some("ot=th:c"),
            ),
            (
                "25 percent unsampled",
                25.0,
                14,
                "ddddddddddddddddddb0000000000000",
                "",
                None,
                None,
                None,
            ),
            (
                "1 percent",
                1.0,
                14,
                DEFAULT_TRACE,
                "ot=rv:FD70A3D70A3D71",
                None,
                Some("ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"),
                Some("ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"),
            ),
            (
                "1 percent, precision 4",
                1.0,
                4,
                DEFAULT_TRACE,
                "ot=rv:FD70A3D70A3D71",
                None,
                Some("ot=rv:FD70A3D70A3D71;th:fd70a"),
                Some("ot=rv:FD70A3D70A3D71;th:fd70a"),
            ),
            (
                "1 percent, precision 3",
                1.0,
                3,
                DEFAULT_TRACE,
                "ot=rv:FD70A3D70A3D71",
                None,
                None,
                None,
            ),
            (
                "1 percent not sampled",
                1.0,
                14,
                DEFAULT_TRACE,
                "ot=rv:FD70A3D70A3D70",
                None,
                None,
                None,
            ),
            ("49 percent", 49.0, 14, DEFAULT_TRACE, "", None, None, None),
            (
                "1 percent by rv",
                1.0,
                14,
                DEFAULT_TRACE,
                "ot=rv:fd70B000000000",
                None,
                Some("ot=rv:fd70B000000000;th:fd70a3d70a3d71"),
                Some("ot=rv:fd70B000000000;th:fd70a3d70a3d71"),
            ),
            (
                "1 percent by trace id",
                1.0,
                4,
                "a0a0a0a0a0a0a0a0a0fe000000000000",
                "",
                None,
                Some("ot=th:fd70a"),
                Some("ot=th:fd70a"),
            ),
            (
                "sampled by priority",
                1.0,
                14,
                DEFAULT_TRACE,
                "",
                Some(2),
                Some("ot=th:0"),
                Some("ot=th:0"),
            ),
            ("not sampled by priority", 99.0, 14, DEFAULT_TRACE, "", Some(0), None, None),
            (
                "incoming 50 percent",
                50.0,
                14,
                DEFAULT_TRACE,
                "ot=rv:90000000000000;th:80000000000000",
                None,
                Some("ot=rv:90000000000000;th:8"),
                None,
            ),
            ("incoming 50 at 25 percent", 25.0, 14, DEFAULT_TRACE, "ot=th:8", None, None, None),
            (
                "incoming 50 at 25 percent sampled",
                25.0,
                14,
                "ffffffffffffffffffffffffffffffff",
                "ot=th:8",
                None,
                Some("ot=th:c"),
                Some("ot=th:e"),
            ),
            (
                "equalizing against proportional",
                50.0,
                14,
                DEFAULT_TRACE,
                "ot=rv:c0000000000000;th:8",
                None,
                Some("ot=rv:c0000000000000;th:8"),
                Some("ot=rv:c0000000000000;th:c"),
            ),
            (
                "inconsistent arriving threshold",
                100.0,
                14,
                DEFAULT_TRACE,
                "ot=rv:40000000000000;th:8",
                None,
                Some("ot=rv:40000000000000;th:0"),
                Some("ot=rv:40000000000000;th:0"),
            ),
            (
                "40 percent, precision 3",
                40.0,
                3,
                DEFAULT_TRACE,
                "ot=rv:a0000000000000",
                None,
                Some("ot=rv:a0000000000000;th:99a"),
                Some("ot=rv:a0000000000000;th:99a"),
            ),
            (
                "incoming 50 at 40 percent, precision 6",
                40.0,
                6,
                "a0a0a0a0a0a0a0a0a0d0000000000000",
                "ot=th:8",
                None,
                Some("ot=th:99999a"),
                Some("ot=th:cccccd"),
            ),
            (
                "incoming 50 at 40 percent, partly",
                40.0,
                3,
                "a0a0a0a0a0a0a0a0a0b0000000000000",
                "ot=th:8",
                None,
                Some("ot=th:99a"),
                None,
            ),
            (
                "tiny probability",
                100.0 / 16384.0,
                14,
                IMPROBABLE_TRACE,
                "ot=th:fffc",
                None,
                Some("ot=th:fffc"),
                Some("ot=th:fffffff"),
            ),
            (
                "almost 100 percent",
                99.99992,
                10,
                IMPROBABLE_TRACE,
                "",
                None,
                Some("ot=th:00000cccccccd"),
                Some("ot=th:00000cccccccd"),
            ),
            (
                "probability underflow",
                0.0625,
                14,
                IMPROBABLE_TRACE,
                "ot=th:fffffffffffff8",
                None,
                Some("ot=th:fffffffffffff8"),
                None,
            ),
        ];
        for (name, percentage, precision, trace, tracestate, priority, equalizing, proportional) in cases {
            let attributes: Vec<KeyValue> = priority.map(|p| kv_int("sampling.priority", p)).into_iter().collect();
            for (mode, expected) in [(Mode::Equalizing, equalizing), (Mode::Proportional, proportional)] {
                let got = sample_span(consistent(mode, percentage, precision), trace, tracestate, attributes.clone());
                assert_eq!(got.as_deref(), expected, "{name} ({mode:?})");
            }
        }
    }

    /// The Collector's `Test_tracesamplerprocessor_TraceStateErrors`: at 100%, fail_closed drops
    /// what has no randomness, an invalid `rv` or `th`, or a `th` its randomness does not pass;
    /// failing open keeps them, an invalid tracestate untouched and an inconsistent `th` as 0.
    #[test]
    fn consistent_modes_fail_closed_or_open_on_bad_sampling_data() {
        let cases = [
            ("0".repeat(32), "", None),
            (DEFAULT_TRACE.to_string(), "ot=rv:abababababababab", Some("ot=rv:abababababababab")),
            (DEFAULT_TRACE.to_string(), "ot=th:abababababababab", Some("ot=th:abababababababab")),
            (DEFAULT_TRACE.to_string(), "ot=th:-1", Some("ot=th:-1")),
            ("ffffffffffffffffff70000000000000".to_string(), "ot=th:8", Some("ot=th:0")),
            (
                DEFAULT_TRACE.to_string(),
                "ot=th:8;rv:70000000000000",
                Some("ot=rv:70000000000000;th:0"),
            ),
        ];
        for mode in [Mode::Equalizing, Mode::Proportional] {
            for (trace, tracestate, open) in &cases {
                let closed = ProbabilisticSamplerConfig {
                    fail_closed: true,
                    ..consistent(mode, 100.0, 4)
                };
                assert_eq!(
                    sample_span(closed, trace, tracestate, vec![]),
                    None,
                    "{tracestate:?} ({mode:?}) fails closed"
                );
                let kept = sample_span(consistent(mode, 100.0, 4), trace, tracestate, vec![]);
                assert_eq!(
                    kept.as_deref(),
                    Some(open.unwrap_or("ot=th:0")),
                    "{tracestate:?} ({mode:?}) fails open"
                );
            }
        }
    }

    #[test]
    fn the_rewritten_tracestate_puts_ot_first_and_keeps_the_other_vendors() {
        let got = sample_span(
            consistent(Mode::Equalizing, 100.0, 4),
            DEFAULT_TRACE,
            "rojo=00f067aa0ba902b7 , ot=th:8;p:x ,,congo=t61rcWkgMzE",
            vec![],
        );
        assert_eq!(got.as_deref(), Some("ot=th:8;p:x,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
        let at_zero = sample_span(consistent(Mode::Proportional, 0.0, 4), DEFAULT_TRACE, "rojo=1", vec![]);
        assert_eq!(at_zero, None, "0% keeps nothing");
        let by_priority = sample_span(
            consistent(Mode::Proportional, 0.0, 4),
            DEFAULT_TRACE,
            "rojo=1",
            vec![kv_int("sampling.priority", 1)],
        );
        assert_eq!(by_priority.as_deref(), Some("ot=th:0,rojo=1"), "but priority does");
    }

    #[test]
    fn consistent_modes_sample_log_records_by_their_sampling_attributes_and_trace_id() {
        // Randomness 0xce929d0e0e4736 passes 50%; 0x48eb211c80319c does not.
        const PASSING: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
        const FAILING: &str = "0af7651916cd43dd8448eb211c80319c";
        let sampler = sampler(ProbabilisticSamplerConfig {
            mode: Mode::Equalizing,
            sampling_priority: Some("priority".into()),
            ..at(50.0)
        });
        let record = |trace: &str, body: &str, attributes: Vec<KeyValue>| {
            let mut record = log(9, body, attributes);
            record.trace_id = hex::decode(trace).unwrap();
            record
        };
        let with_threshold = |mut record: LogRecord, tvalue: &str| {
            record.attributes.push(kv("sampling.threshold", tvalue));
            record
        };
        let own_threshold = vec![kv("sampling.threshold", "c"), kv("sampling.randomness", "d0000000000000")];
        let mut data = logs(vec![(
            "api",
            vec![
                record(PASSING, "by trace id", vec![]),
                record(FAILING, "dropped", vec![]),
                record("", "by randomness", vec![kv("sampling.randomness", "c0000000000000")]),
                record("", "own threshold", own_threshold.clone()),
                record("", "no randomness, fail_closed", vec![]),
                record(FAILING, "priority 100", vec![kv_int("priority", 100)]),
                record(PASSING, "priority 0 changes nothing", vec![kv_int("priority", 0)]),
                record(PASSING, "bad threshold, fail_closed", vec![kv("sampling.threshold", "xyz")]),
            ],
        )]);
        sampler.process_logs(&mut data).unwrap();
        let expected = logs(vec![(
            "api",
            vec![
                with_threshold(record(PASSING, "by trace id", vec![]), "8"),
                with_threshold(record("", "by randomness", vec![kv("sampling.randomness", "c0000000000000")]), "8"),
                record("", "own threshold", own_threshold),
                with_threshold(record(FAILING, "priority 100", vec![kv_int("priority", 100)]), "0"),
                with_threshold(record(PASSING, "priority 0 changes nothing", vec![kv_int("priority", 0)]), "8"),
            ],
        )]);
        assert_eq!(data, expected);
    }
}
