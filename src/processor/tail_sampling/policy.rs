//! Tail-sampling policies: parsing each policy type from the config, and evaluating a buffered trace.
//!
//! A `Policy` is both the validated settings and the evaluation state some types need (a token
//! bucket, per-second counters, a memo of regex matches). The config holds them fresh; each sampler
//! evaluates its own clone, so two pipelines using the same processor id do not share budgets.
//!
//! Decisions follow the Collector's tailsamplingprocessor as of its current version: a policy says
//! `Sampled`, `NotSampled` or (only a `drop` policy) `Dropped`; a failed evaluation does not vote.
//! `invert_match` yields a plain decision on the negated condition (sampled when no resource and no
//! span matches); the Collector's older "inverted" decisions that vetoed other policies were removed
//! there (feature gate `disableinvertdecisions`, stable since v0.152), and otelbox never had them:
//! use a `drop` policy to veto.
//!
//! Like the Collector, a policy may carry the settings block of another type (`type: latency` with
//! a `string_attribute: {...}` too, as templated configs do): the Collector decodes every block its
//! position allows and reads only the one of `type`. otelbox accepts the blocks of the types a
//! position allows, checks that each is a mapping, and ignores them.

use crate::config::Parser;
use crate::ottl::{self, Condition, SpanContext, SpanEventContext};
use crate::pdata::{find_attribute, TraceId};
use crate::processor::ErrorMode;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde_yaml_ng::{Mapping, Value};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// What one policy says about a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Sampled,
    NotSampled,
    /// Only from a `drop` policy: the trace is not kept, whatever the other policies say.
    Dropped,
}

/// A trace as the policies see it: its id, how many spans it has, and its spans under their
/// resources and scopes (mutable only because the OTTL contexts take spans by `&mut`).
pub struct TraceView<'a> {
    pub id: TraceId,
    pub span_count: usize,
    pub batches: &'a mut [ResourceSpans],
}

/// One configured policy: its name (for logs and the composite's allocations) and its rule.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: String,
    pub rule: Rule,
}

#[derive(Clone, Debug)]
pub enum Rule {
    AlwaysSample,
    /// Trace duration (latest end - earliest start, whole milliseconds) >= threshold and, when an
    /// upper bound is set, <= it.
    Latency {
        threshold_ms: u64,
        upper_threshold_ms: Option<u64>,
    },
    /// Some span's status code is one of these (OTLP values: UNSET 0, OK 1, ERROR 2).
    StatusCode {
        codes: Vec<i32>,
    },
    /// The salted FNV-1a hash of the trace id is at most `threshold` (the Collector's scheme).
    Probabilistic {
        threshold: u64,
        salt: String,
    },
    StringAttribute {
        key: String,
        matcher: StringMatcher,
        invert_match: bool,
    },
    /// Int attributes (and doubles, compared as numbers) within [min, max]; an absent bound is open.
    NumericAttribute {
        key: String,
        min: i64,
        max: i64,
        invert_match: bool,
    },
    BooleanAttribute {
        key: String,
        value: bool,
        invert_match: bool,
    },
    RateLimiting(TokenBucket),
    /// A token bucket of bytes: a trace passes when its protobuf size fits, and then takes it.
    BytesLimiting(TokenBucket),
    /// Span count within [min, max]; no max when `None`.
    SpanCount {
        min: u64,
        max: Option<u64>,
    },
    OttlCondition {
        error_mode: ErrorMode,
        span: Vec<Condition>,
        spanevent: Vec<Condition>,
    },
    /// Some span's W3C tracestate (a valid one) gives `key` one of `values`.
    TraceState {
        key: String,
        values: HashSet<String>,
    },
    /// Sampled when every sub-policy samples.
    And(Vec<Policy>),
    /// Sampled when the sub-policy does not sample, and the other way round.
    Not(Box<Policy>),
    /// Dropped when every sub-policy samples (and then nothing else can keep the trace).
    Drop(Vec<Policy>),
    Composite(Composite),
}

// ---------------------------------------------------------------------------
// The probabilistic hash (kept identical to the Collector's, so both keep the same traces)

/// The salt the Collector uses when `hash_salt` is empty.
pub const DEFAULT_HASH_SALT: &str = "default-hash-seed";

/// 64-bit FNV-1a over the salt's bytes followed by the trace id's 16 bytes.
pub fn trace_id_hash(salt: &str, id: &TraceId) -> u64 {
    crate::hash::fnv1a_64(&[salt.as_bytes(), &id.0])
}

/// The hash bound for a percentage: `u64::MAX * (percentage / 100)`, computed as the Collector does
/// (the float ratio times u64::MAX rounded to a 64-bit mantissa, nearest even, then truncated), so a
/// trace id is kept here exactly when the Collector keeps it.
pub fn probabilistic_threshold(percentage: f64) -> u64 {
    let ratio = percentage / 100.0;
    if ratio.is_nan() || ratio <= 0.0 {
        return 0;
    }
    if ratio >= 1.0 {
        return u64::MAX;
    }
    // ratio = mantissa * 2^exponent exactly (a positive, normal or subnormal f64 below 1).
    let bits = ratio.to_bits();
    let raw_exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = u128::from(bits & ((1 << 52) - 1));
    let (mantissa, exponent) = if raw_exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), raw_exponent - 1075)
    };
    // The exact product needs at most 64 + 53 bits; round it to 64 significant bits.
    let product = u128::from(u64::MAX) * mantissa;
    let significant = 128 - product.leading_zeros() as i32;
    let excess = (significant - 64).max(0);
    let mut rounded = product >> excess;
    if excess > 0 {
        let remainder = product & ((1u128 << excess) - 1);
        let half = 1u128 << (excess - 1);
        if remainder > half || (remainder == half && rounded & 1 == 1) {
            rounded += 1;
        }
    }
    // value = rounded * 2^(exponent + excess); below 1.0 * u64::MAX, so the shift is to the right.
    let shift = -(exponent + excess);
    if shift <= 0 {
        return u64::MAX;
    }
    if shift >= 128 {
        return 0;
    }
    u64::try_from(rounded >> shift).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------
// Stateful pieces

/// A token bucket (of spans, or of bytes): refills at `rate` per second up to its capacity (by
/// default twice the rate, the Collector's burst), starts full; a trace passes when all of its
/// amount fits, and then takes it. An amount above the capacity never passes, as with the
/// Collector's `rate.Limiter`.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    pub fn new(per_second: u64) -> Self {
        Self::with_capacity(per_second, per_second.saturating_mul(2))
    }

    pub fn with_capacity(per_second: u64, capacity: u64) -> Self {
        TokenBucket {
            rate: per_second as f64,
            capacity: capacity as f64,
            tokens: capacity as f64,
            last: None,
        }
    }

    fn take(&mut self, amount: usize, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        }
        self.last = Some(now);
        let wanted = amount as f64;
        if wanted <= self.tokens {
            self.tokens -= wanted;
            true
        } else {
            false
        }
    }
}

/// Exact values, or regular expressions (unanchored, as in the Collector) with a bounded memo of
/// results per attribute value (`cache_max_size`).
#[derive(Clone, Debug)]
pub enum StringMatcher {
    Exact(HashSet<String>),
    Regex {
        patterns: Vec<regex::Regex>,
        memo: HashMap<String, bool>,
        memo_size: usize,
    },
}

/// Values longer than this are matched but not memoized, so the memo's memory stays small.
const MEMO_MAX_VALUE_CHARS: usize = 256;

impl StringMatcher {
    fn matches(&mut self, text: &str) -> bool {
        match self {
            StringMatcher::Exact(values) => values.contains(text),
            StringMatcher::Regex { patterns, memo, memo_size } => {
                if let Some(known) = memo.get(text) {
                    return *known;
                }
                let matched = patterns.iter().any(|p| p.is_match(text));
                if *memo_size > 0 && text.len() <= MEMO_MAX_VALUE_CHARS {
                    if memo.len() >= *memo_size {
                        memo.clear();
                    }
                    memo.insert(text.to_string(), matched);
                }
                matched
            }
        }
    }
}

/// Sub-policies tried in order; the first that samples decides, within its share of spans per
/// second and the total. Counts restart every second.
#[derive(Clone, Debug)]
pub struct Composite {
    pub max_total_spans_per_second: u64,
    pub subs: Vec<CompositeSub>,
    used_total: u64,
    window_start: Option<Instant>,
}

#[derive(Clone, Debug)]
pub struct CompositeSub {
    pub policy: Policy,
    /// Spans per second this sub-policy may keep (the total bounds it too).
    pub allocated: u64,
    used: u64,
}

impl Composite {
    fn evaluate(&mut self, trace: &mut TraceView<'_>, now: Instant) -> Result<Decision, String> {
        let new_window = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= Duration::from_secs(1));
        if new_window {
            self.window_start = Some(now);
            self.used_total = 0;
            for sub in &mut self.subs {
                sub.used = 0;
            }
        }
        let spans = trace.span_count as u64;
        for sub in &mut self.subs {
            if sub.policy.evaluate(trace, now)? != Decision::Sampled {
                continue;
            }
            let sub_after = sub.used.saturating_add(spans);
            let total_after = self.used_total.saturating_add(spans);
            if sub_after <= sub.allocated && total_after <= self.max_total_spans_per_second {
                sub.used = sub_after;
                self.used_total = total_after;
                return Ok(Decision::Sampled);
            }
            // Over budget: not sampled, and nothing is taken, so a smaller trace may still fit.
            return Ok(Decision::NotSampled);
        }
        Ok(Decision::NotSampled)
    }
}

// ---------------------------------------------------------------------------
// Evaluation

fn sampled_if(condition: bool) -> Decision {
    if condition {
        Decision::Sampled
    } else {
        Decision::NotSampled
    }
}

/// Whether any resource's or span's attributes satisfy `matches`.
fn any_attributes(batches: &[ResourceSpans], mut matches: impl FnMut(&[KeyValue]) -> bool) -> bool {
    for batch in batches {
        if batch.resource.as_ref().is_some_and(|r| matches(&r.attributes)) {
            return true;
        }
        for scope in &batch.scope_spans {
            for span in &scope.spans {
                if matches(&span.attributes) {
                    return true;
                }
            }
        }
    }
    false
}

fn spans(batches: &[ResourceSpans]) -> impl Iterator<Item = &Span> {
    batches.iter().flat_map(|b| &b.scope_spans).flat_map(|s| &s.spans)
}

impl Policy {
    /// This policy's decision on `trace`; `Err` when it could not decide (an OTTL error under
    /// `error_mode: propagate`), which the Collector counts as an evaluation error and ignores.
    pub fn evaluate(&mut self, trace: &mut TraceView<'_>, now: Instant) -> Result<Decision, String> {
        let decision = match &mut self.rule {
            Rule::AlwaysSample => Decision::Sampled,
            Rule::Latency {
                threshold_ms,
                upper_threshold_ms,
            } => {
                let (start, end) = spans(trace.batches).fold((u64::MAX, 0), |(start, end), span| {
                    (start.min(span.start_time_unix_nano), end.max(span.end_time_unix_nano))
                });
                let duration_ms = end.saturating_sub(start) / 1_000_000;
                sampled_if(duration_ms >= *threshold_ms && upper_threshold_ms.is_none_or(|upper| duration_ms <= upper))
            }
            Rule::StatusCode { codes } => {
                sampled_if(spans(trace.batches).any(|span| codes.contains(&span.status.as_ref().map_or(0, |s| s.code))))
            }
            Rule::Probabilistic { threshold, salt } => sampled_if(trace_id_hash(salt, &trace.id) <= *threshold),
            Rule::StringAttribute {
                key,
                matcher,
                invert_match,
            } => {
                let matched = any_attributes(trace.batches, |attributes| {
                    match find_attribute(attributes, key).and_then(|v| v.value.as_ref()) {
                        Some(any_value::Value::StringValue(text)) => matcher.matches(text),
                        _ => false,
                    }
                });
                sampled_if(matched != *invert_match)
            }
            Rule::NumericAttribute {
                key,
                min,
                max,
                invert_match,
            } => {
                let matched = any_attributes(trace.batches, |attributes| {
                    match find_attribute(attributes, key).and_then(|v| v.value.as_ref()) {
                        Some(any_value::Value::IntValue(n)) => (*min..=*max).contains(n),
                        Some(any_value::Value::DoubleValue(x)) => (*min as f64..=*max as f64).contains(x),
                        _ => false,
                    }
                });
                sampled_if(matched != *invert_match)
            }
            Rule::BooleanAttribute { key, value, invert_match } => {
                let matched = any_attributes(
                    trace.batches,
                    |attributes| matches!(find_attribute(attributes, key).and_then(|v| v.value.as_ref()), Some(any_value::Value::BoolValue(b)) if b == value),
                );
                sampled_if(matched != *invert_match)
            }
            Rule::RateLimiting(bucket) => sampled_if(bucket.take(trace.span_count, now)),
            Rule::BytesLimiting(bucket) => sampled_if(bucket.take(encoded_size(trace.batches), now)),
            Rule::SpanCount { min, max } => {
                let count = trace.span_count as u64;
                sampled_if(count >= *min && max.is_none_or(|max| count <= max))
            }
            Rule::OttlCondition {
                error_mode,
                span,
                spanevent,
            } => ottl_decision(&self.name, *error_mode, span, spanevent, trace.batches)?,
            Rule::TraceState { key, values } => sampled_if(
                spans(trace.batches).any(|span| trace_state_value(&span.trace_state, key).is_some_and(|value| values.contains(value))),
            ),
            Rule::And(subs) => {
                let mut decision = Decision::Sampled;
                for sub in subs {
                    if sub.evaluate(trace, now)? != Decision::Sampled {
                        decision = Decision::NotSampled;
                        break;
                    }
                }
                decision
            }
            Rule::Not(sub) => match sub.evaluate(trace, now)? {
                Decision::Sampled => Decision::NotSampled,
                Decision::NotSampled => Decision::Sampled,
                Decision::Dropped => Decision::Dropped,
            },
            Rule::Drop(subs) => {
                let mut decision = Decision::Dropped;
                for sub in subs {
                    if sub.evaluate(trace, now)? != Decision::Sampled {
                        decision = Decision::NotSampled;
                        break;
                    }
                }
                decision
            }
            Rule::Composite(composite) => composite.evaluate(trace, now)?,
        };
        Ok(decision)
    }
}

/// The trace's size as the Collector measures it for `bytes_limiting`: its batches encoded as
/// one OTLP `TracesData` (the same bytes as an export request of them).
fn encoded_size(batches: &[ResourceSpans]) -> usize {
    prost::encoding::message::encoded_len_repeated(1, batches)
}

/// The value of `key` in a W3C tracestate, when the whole tracestate is valid (as the Collector
/// parses it, with OpenTelemetry Go's rules: at most 32 members, no key twice, empty members and
/// surrounding blanks skipped); None otherwise.
fn trace_state_value<'a>(trace_state: &'a str, key: &str) -> Option<&'a str> {
    const MAX_MEMBERS: usize = 32;
    let mut found = None;
    let mut keys: Vec<&str> = Vec::new();
    for member in trace_state.split(',').filter(|m| !m.is_empty()) {
        let (member_key, value) = member.split_once('=')?;
        let member_key = member_key.trim_start_matches([' ', '\t']);
        let value = value.trim_end_matches([' ', '\t']);
        if !valid_trace_state_key(member_key) || !valid_trace_state_value(value) || keys.contains(&member_key) {
            return None;
        }
        keys.push(member_key);
        if keys.len() > MAX_MEMBERS {
            return None;
        }
        if member_key == key {
            found = Some(value);
        }
    }
    found
}

/// A W3C tracestate key: `lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/")`, or
/// `tenant@system` with a tenant of at most 241 and a system of at most 14 such characters (the
/// tenant may start with a digit).
fn valid_trace_state_key(key: &str) -> bool {
    fn rest(bytes: &[u8]) -> bool {
        bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/'))
    }
    fn part(bytes: &[u8], max_rest: usize, digit_first: bool) -> bool {
        match bytes.split_first() {
            Some((first, others)) => {
                (first.is_ascii_lowercase() || (digit_first && first.is_ascii_digit())) && others.len() <= max_rest && rest(others)
            }
            None => false,
        }
    }
    match key.split_once('@') {
        None => part(key.as_bytes(), 255, false),
        Some((tenant, system)) => part(tenant.as_bytes(), 240, true) && part(system.as_bytes(), 13, false),
    }
}

/// A W3C tracestate value: 1 to 256 printable ASCII characters other than ',' and '=', not
/// ending in a space.
fn valid_trace_state_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    let printable = |b: &u8| (b' '..=b'~').contains(b) && !matches!(b, b',' | b'=');
    match bytes.split_last() {
        Some((last, others)) => bytes.len() <= 256 && *last != b' ' && printable(last) && others.iter().all(printable),
        None => false,
    }
}

/// Any span condition true on a span, or any span event condition true on one of its events.
fn ottl_decision(
    policy: &str,
    error_mode: ErrorMode,
    span_conditions: &[Condition],
    event_conditions: &[Condition],
    batches: &mut [ResourceSpans],
) -> Result<Decision, String> {
    let component = format!("tail_sampling policy \"{policy}\"");
    let holds = |condition: &Condition, result: Result<bool, ottl::OttlError>| -> Result<bool, String> {
        match result {
            Ok(value) => Ok(value),
            Err(error) => error_mode
                .handle(&component, condition, &error)
                .map(|()| false)
                .map_err(|e| e.to_string()),
        }
    };
    for batch in batches {
        let ResourceSpans { resource, scope_spans, .. } = batch;
        for scope_group in scope_spans {
            let ScopeSpans { scope, spans, .. } = scope_group;
            for span in spans {
                {
                    let context = SpanContext::new(span, resource.as_ref(), scope.as_ref());
                    for condition in span_conditions {
                        if holds(condition, condition.evaluate(&context))? {
                            return Ok(Decision::Sampled);
                        }
                    }
                }
                if event_conditions.is_empty() {
                    continue;
                }
                let Span { name, events, .. } = span;
                for event in events {
                    let context = SpanEventContext {
                        event,
                        span_name: name,
                        resource: resource.as_ref().map(Into::into),
                        scope: scope.as_ref(),
                    };
                    for condition in event_conditions {
                        if holds(condition, condition.evaluate(&context))? {
                            return Ok(Decision::Sampled);
                        }
                    }
                }
            }
        }
    }
    Ok(Decision::NotSampled)
}

/// The top-level policies, drop policies first (a `Dropped` ends the evaluation, as in the Collector).
pub struct PolicySet {
    policies: Vec<Policy>,
}

impl PolicySet {
    pub fn new(policies: &[Policy]) -> Self {
        let (drops, others): (Vec<Policy>, Vec<Policy>) = policies.iter().cloned().partition(|p| matches!(p.rule, Rule::Drop(_)));
        PolicySet {
            policies: drops.into_iter().chain(others).collect(),
        }
    }

    /// The final decision: any `Dropped` drops; else any `Sampled` keeps; else not kept. Every
    /// policy is evaluated (rate limits count every trace they see, as in the Collector).
    pub fn keep(&mut self, trace: &mut TraceView<'_>, now: Instant) -> bool {
        let mut sampled = false;
        for policy in &mut self.policies {
            match policy.evaluate(trace, now) {
                Ok(Decision::Dropped) => return false,
                Ok(Decision::Sampled) => sampled = true,
                Ok(Decision::NotSampled) => {}
                Err(error) => {
                    tracing::debug!(policy = %policy.name, trace_id = %trace.id, %error, "tail_sampling policy could not decide; it does not vote");
                }
            }
        }
        sampled
    }
}

// ---------------------------------------------------------------------------
// Parsing

/// The policy types every position accepts.
const LEAF_TYPES: [&str; 12] = [
    "always_sample",
    "latency",
    "status_code",
    "probabilistic",
    "string_attribute",
    "numeric_attribute",
    "boolean_attribute",
    "rate_limiting",
    "bytes_limiting",
    "span_count",
    "trace_state",
    "ottl_condition",
];
/// Combinations that also nest inside `and`, `not`, `drop` and `composite`.
const NESTED_COMBINATIONS: [&str; 2] = ["and", "not"];
/// Combinations only allowed in the top-level list (a drop decision and a rate budget belong to the whole processor).
const TOP_LEVEL_ONLY: [&str; 2] = ["drop", "composite"];
/// Bounds the recursion of parsing and evaluation.
const MAX_NESTING: usize = 8;

/// Where a policy sits, which decides the types it may have and whether it needs a name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    TopLevel,
    /// Inside `composite`: a name is required (allocations and `policy_order` refer to it).
    CompositeSub {
        depth: usize,
    },
    Nested {
        depth: usize,
    },
}

impl Position {
    fn depth(self) -> usize {
        match self {
            Position::TopLevel => 0,
            Position::CompositeSub { depth } | Position::Nested { depth } => depth,
        }
    }
}

/// `policies`: at least one, each with a unique name.
pub fn parse_policies(p: &mut Parser, value: Option<&Value>, path: &str) -> Vec<Policy> {
    let entries = p.list(value, path);
    if entries.is_empty() && !matches!(value, Some(v) if !v.is_sequence() && !v.is_null()) {
        p.error(
            path,
            "needs at least one policy (e.g. { name: errors, type: status_code, status_code: { status_codes: [ERROR] } })",
        );
    }
    let mut names = HashSet::new();
    let mut policies = Vec::new();
    for (at, entry) in entries {
        check_unique_name(p, entry, &at, &mut names);
        policies.extend(parse_policy(p, entry, &at, Position::TopLevel));
    }
    policies
}

/// Reports a name already used among `names` (checked before the policy's own errors).
fn check_unique_name(p: &mut Parser, entry: &Value, path: &str, names: &mut HashSet<String>) {
    if let Some(name) = entry.get("name").and_then(Value::as_str).filter(|name| !name.is_empty()) {
        if !names.insert(name.to_string()) {
            p.error(&format!("{path}.name"), format!("duplicate policy name \"{name}\""));
        }
    }
}

fn parse_policy(p: &mut Parser, value: &Value, path: &str, position: Position) -> Option<Policy> {
    let body = p.mapping(Some(value), path)?;
    let name = match body.get("name") {
        Some(v) => p.string(v, &format!("{path}.name")),
        None => Some(String::new()),
    };
    if name.as_deref() == Some("") && !matches!(position, Position::Nested { .. }) {
        p.error(path, "name is required");
    }
    let mut allowed: Vec<&str> = LEAF_TYPES.iter().chain(&NESTED_COMBINATIONS).copied().collect();
    if position == Position::TopLevel {
        allowed.extend(TOP_LEVEL_ONLY);
    }
    let Some(kind_value) = body.get("type") else {
        p.error(path, format!("type is required (one of: {})", allowed.join(", ")));
        return None;
    };
    let kind = p.string(kind_value, &format!("{path}.type"))?;
    if TOP_LEVEL_ONLY.contains(&kind.as_str()) && position != Position::TopLevel {
        p.error(
            &format!("{path}.type"),
            format!("a {kind} policy is only allowed directly in the processor's policies"),
        );
        return None;
    }
    if !allowed.contains(&kind.as_str()) {
        p.error(
            &format!("{path}.type"),
            format!("unknown policy type \"{kind}\" (expected one of: {})", allowed.join(", ")),
        );
        return None;
    }
    let settings_key = if kind == "always_sample" { None } else { Some(kind.as_str()) };
    // The settings blocks of every type this position allows are known keys; those of other
    // types than `kind` are ignored, as in the Collector (see the module docs).
    let blocks = allowed.iter().copied().filter(|t| *t != "always_sample");
    let known: Vec<&str> = ["name", "type"].into_iter().chain(blocks.clone()).collect();
    p.only_keys(body, &known, path);
    for unused in blocks.filter(|t| Some(*t) != settings_key) {
        if let Some(block) = body.get(unused) {
            p.mapping(Some(block), &format!("{path}.{unused}"));
        }
    }
    let at = format!("{path}.{kind}");
    let settings = match settings_key {
        Some(key) => p.mapping(body.get(key), &at)?,
        None => body,
    };
    let rule = match kind.as_str() {
        "always_sample" => Some(Rule::AlwaysSample),
        "latency" => parse_latency(p, settings, &at),
        "status_code" => parse_status_code(p, settings, &at),
        "probabilistic" => parse_probabilistic(p, settings, &at),
        "string_attribute" => parse_string_attribute(p, settings, &at),
        "numeric_attribute" => parse_numeric_attribute(p, settings, &at),
        "boolean_attribute" => parse_boolean_attribute(p, settings, &at),
        "rate_limiting" => parse_rate_limiting(p, settings, &at),
        "bytes_limiting" => parse_bytes_limiting(p, settings, &at),
        "span_count" => parse_span_count(p, settings, &at),
        "trace_state" => parse_trace_state(p, settings, &at),
        "ottl_condition" => parse_ottl_condition(p, settings, &at),
        "and" | "drop" | "not" | "composite" if position.depth() >= MAX_NESTING => {
            p.error(&at, format!("policies nest at most {MAX_NESTING} levels deep"));
            None
        }
        "and" => parse_sub_list(p, settings, &at, "and_sub_policy", position).map(Rule::And),
        "drop" => parse_sub_list(p, settings, &at, "drop_sub_policy", position).map(Rule::Drop),
        "not" => parse_not(p, settings, &at, position),
        "composite" => parse_composite(p, settings, &at, position),
        _ => None,
    };
    Some(Policy {
        name: name.unwrap_or_default(),
        rule: rule?,
    })
}

/// A required key's value, or an error at the settings' path.
fn required<'v>(p: &mut Parser, settings: &'v Mapping, key: &str, path: &str, example: &str) -> Option<&'v Value> {
    let value = settings.get(key);
    if value.is_none() {
        p.error(path, format!("{key} is required (e.g. {key}: {example})"));
    }
    value
}

fn non_empty_key(p: &mut Parser, settings: &Mapping, path: &str) -> Option<String> {
    let value = required(p, settings, "key", path, "http.route")?;
    let key = p.string(value, &format!("{path}.key"))?;
    if key.is_empty() {
        p.error(&format!("{path}.key"), "must not be empty");
        return None;
    }
    Some(key)
}

fn flag(p: &mut Parser, settings: &Mapping, key: &str, path: &str) -> bool {
    settings
        .get(key)
        .and_then(|v| p.boolean(v, &format!("{path}.{key}")))
        .unwrap_or(false)
}

fn parse_latency(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(settings, &["threshold_ms", "upper_threshold_ms"], path);
    let mut number = |key: &str| match settings.get(key) {
        Some(v) => p.unsigned(v, &format!("{path}.{key}")).ok_or(()),
        None => Ok(0),
    };
    let (threshold_ms, upper) = (number("threshold_ms"), number("upper_threshold_ms"));
    let (threshold_ms, upper) = (threshold_ms.ok()?, upper.ok()?);
    if upper != 0 && upper < threshold_ms {
        p.error(
            &format!("{path}.upper_threshold_ms"),
            "must be 0 (no upper bound) or at least threshold_ms",
        );
        return None;
    }
    Some(Rule::Latency {
        threshold_ms,
        upper_threshold_ms: (upper != 0).then_some(upper),
    })
}

fn parse_status_code(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(settings, &["status_codes"], path);
    let at = format!("{path}.status_codes");
    let listed = required(p, settings, "status_codes", path, "[ERROR]")?;
    let names = p.string_list(Some(listed), &at);
    if names.is_empty() {
        p.error(&at, "must list at least one of OK, ERROR, UNSET");
        return None;
    }
    let mut codes = Vec::new();
    let mut valid = true;
    for (i, name) in names.iter().enumerate() {
        match name.as_str() {
            "UNSET" => codes.push(0),
            "OK" => codes.push(1),
            "ERROR" => codes.push(2),
            other => {
                p.error(
                    &format!("{at}[{i}]"),
                    format!("unknown status code \"{other}\" (expected OK, ERROR or UNSET)"),
                );
                valid = false;
            }
        }
    }
    valid.then_some(Rule::StatusCode { codes })
}

fn parse_probabilistic(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(settings, &["sampling_percentage", "hash_salt"], path);
    let salt = match settings.get("hash_salt") {
        Some(v) => p.string(v, &format!("{path}.hash_salt")),
        None => Some(String::new()),
    };
    let at = format!("{path}.sampling_percentage");
    let value = required(p, settings, "sampling_percentage", path, "5")?;
    let percentage = p.float(value, &at)?;
    if !(0.0..=100.0).contains(&percentage) {
        p.error(&at, format!("must be between 0 and 100, got {percentage}"));
        return None;
    }
    let salt = salt?;
    Some(Rule::Probabilistic {
        threshold: probabilistic_threshold(percentage),
        salt: if salt.is_empty() { DEFAULT_HASH_SALT.to_string() } else { salt },
    })
}

/// The Collector's default size of the regex match memo.
const DEFAULT_REGEX_CACHE_SIZE: u64 = 128;

fn parse_string_attribute(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(
        settings,
        &["key", "values", "enabled_regex_matching", "cache_max_size", "invert_match"],
        path,
    );
    let key = non_empty_key(p, settings, path);
    let regex = flag(p, settings, "enabled_regex_matching", path);
    let invert_match = flag(p, settings, "invert_match", path);
    let memo_size = match settings.get("cache_max_size") {
        Some(v) => p.unsigned(v, &format!("{path}.cache_max_size")),
        None => Some(DEFAULT_REGEX_CACHE_SIZE),
    };
    let at = format!("{path}.values");
    let values = settings.get("values");
    let list = p.list(values, &at);
    if list.is_empty() && values.is_none_or(|v| v.is_sequence() || v.is_null()) {
        p.error(&at, "must list at least one value");
        return None;
    }
    let matcher = if regex {
        let patterns: Vec<Option<regex::Regex>> = list.iter().map(|(at, v)| p.regex(v, at)).collect();
        StringMatcher::Regex {
            patterns: patterns.into_iter().collect::<Option<Vec<_>>>()?,
            memo: HashMap::new(),
            memo_size: usize::try_from(memo_size?).unwrap_or(usize::MAX),
        }
    } else {
        let values: Vec<Option<String>> = list.iter().map(|(at, v)| p.string(v, at)).collect();
        StringMatcher::Exact(values.into_iter().collect::<Option<HashSet<_>>>()?)
    };
    Some(Rule::StringAttribute {
        key: key?,
        matcher,
        invert_match,
    })
}

fn parse_numeric_attribute(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(settings, &["key", "min_value", "max_value", "invert_match"], path);
    let key = non_empty_key(p, settings, path);
    let invert_match = flag(p, settings, "invert_match", path);
    let mut bound = |name: &str| settings.get(name).map(|v| p.integer(v, &format!("{path}.{name}")));
    let (min, max) = (bound("min_value"), bound("max_value"));
    if min.is_none() && max.is_none() {
        p.error(path, "min_value, max_value or both are required");
        return None;
    }
    let min = min.unwrap_or(Some(i64::MIN))?;
    let max = max.unwrap_or(Some(i64::MAX))?;
    if min > max {
        p.error(&format!("{path}.max_value"), "must be at least min_value");
        return None;
    }
    Some(Rule::NumericAttribute {
        key: key?,
        min,
        max,
        invert_match,
    })
}

fn parse_boolean_attribute(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(settings, &["key", "value", "invert_match"], path);
    let key = non_empty_key(p, settings, path);
    let invert_match = flag(p, settings, "invert_match", path);
    let value = required(p, settings, "value", path, "true").and_then(|v| p.boolean(v, &format!("{path}.value")));
    Some(Rule::BooleanAttribute {
        key: key?,
        value: value?,
        invert_match,
    })
}

fn positive(p: &mut Parser, settings: &Mapping, key: &str, path: &str, example: &str) -> Option<u64> {
    let at = format!("{path}.{key}");
    let value = required(p, settings, key, path, example)?;
    match p.unsigned(value, &at)? {
        0 => {
            p.error(&at, "must be greater than 0");
            None
        }
        n => Some(n),
    }
}

fn parse_rate_limiting(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(settings, &["spans_per_second"], path);
    let spans_per_second = positive(p, settings, "spans_per_second", path, "100")?;
    Some(Rule::RateLimiting(TokenBucket::new(spans_per_second)))
}

/// `bytes_per_second` (required) and `burst_capacity` (0 or absent: twice the rate).
fn parse_bytes_limiting(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(settings, &["bytes_per_second", "burst_capacity"], path);
    let bytes_per_second = positive(p, settings, "bytes_per_second", path, "1048576");
    let burst_capacity = match settings.get("burst_capacity") {
        Some(v) => p.unsigned(v, &format!("{path}.burst_capacity")),
        None => Some(0),
    };
    let (bytes_per_second, burst_capacity) = (bytes_per_second?, burst_capacity?);
    let capacity = if burst_capacity > 0 {
        burst_capacity
    } else {
        bytes_per_second.saturating_mul(2)
    };
    Some(Rule::BytesLimiting(TokenBucket::with_capacity(bytes_per_second, capacity)))
}

/// `key` and `values`: exact values of one tracestate key.
fn parse_trace_state(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(settings, &["key", "values"], path);
    let key_at = format!("{path}.key");
    let key = required(p, settings, "key", path, "vendor").and_then(|v| p.string(v, &key_at));
    let key = key.filter(|key| {
        let valid = valid_trace_state_key(key);
        if !valid {
            p.error(
                &key_at,
                format!(
                    "\"{key}\" is not a tracestate key (lowercase letters, digits and _-*/, starting with a letter; or \
                     tenant@system)"
                ),
            );
        }
        valid
    });
    let values_at = format!("{path}.values");
    let listed = required(p, settings, "values", path, "[value1, value2]")?;
    let values = p.string_list(Some(listed), &values_at);
    if values.is_empty() {
        if listed.is_sequence() || listed.is_null() {
            p.error(&values_at, "must list at least one value");
        }
        return None;
    }
    let mut valid = true;
    for (i, value) in values.iter().enumerate() {
        // The Collector skips these silently; they could never match.
        let problem = if !valid_trace_state_value(value) {
            Some("is not a tracestate value: 1 to 256 printable ASCII characters other than ',' and '=', not ending in a space")
        } else if key.as_ref().is_some_and(|key| key.len() + value.len() >= 256) {
            Some("is too long: a tracestate entry (key=value) has at most 256 characters")
        } else {
            None
        };
        if let Some(problem) = problem {
            p.error(&format!("{values_at}[{i}]"), problem);
            valid = false;
        }
    }
    let key = key?;
    valid.then(|| Rule::TraceState {
        key,
        values: values.into_iter().collect(),
    })
}

fn parse_span_count(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(settings, &["min_spans", "max_spans"], path);
    let mut count = |key: &str| match settings.get(key) {
        Some(v) => p.unsigned(v, &format!("{path}.{key}")).ok_or(()),
        None => Ok(0),
    };
    let (min, max) = (count("min_spans"), count("max_spans"));
    let (min, max) = (min.ok()?, max.ok()?);
    if max != 0 && max < min {
        p.error(&format!("{path}.max_spans"), "must be 0 (no maximum) or at least min_spans");
        return None;
    }
    Some(Rule::SpanCount {
        min,
        max: (max != 0).then_some(max),
    })
}

fn parse_ottl_condition(p: &mut Parser, settings: &Mapping, path: &str) -> Option<Rule> {
    p.only_keys(settings, &["error_mode", "span", "spanevent"], path);
    let error_mode = match settings.get("error_mode") {
        None => Some(ErrorMode::default()),
        Some(v) => {
            let at = format!("{path}.error_mode");
            p.string(v, &at).and_then(|text| {
                let mode = ErrorMode::parse(&text);
                if mode.is_none() {
                    p.error(&at, format!("expected propagate, ignore or silent, got '{text}'"));
                }
                mode
            })
        }
    };
    let mut conditions = |key: &str, context: ottl::Context| -> Option<Vec<Condition>> {
        let at = format!("{path}.{key}");
        let texts = p.string_list(settings.get(key), &at);
        let parsed: Vec<Option<Condition>> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                ottl::parse_condition(text, context)
                    .map_err(|e| p.error(&format!("{at}[{i}]"), e))
                    .ok()
            })
            .collect();
        parsed.into_iter().collect()
    };
    let span = conditions("span", ottl::Context::Span);
    let spanevent = conditions("spanevent", ottl::Context::SpanEvent);
    let (span, spanevent) = (span?, spanevent?);
    if span.is_empty() && spanevent.is_empty() {
        p.error(path, "needs at least one span or spanevent condition");
        return None;
    }
    Some(Rule::OttlCondition {
        error_mode: error_mode?,
        span,
        spanevent,
    })
}

fn nested(position: Position) -> Position {
    Position::Nested {
        depth: position.depth() + 1,
    }
}

fn parse_sub_list(p: &mut Parser, settings: &Mapping, path: &str, key: &str, position: Position) -> Option<Vec<Policy>> {
    p.only_keys(settings, &[key], path);
    let at = format!("{path}.{key}");
    let listed = required(p, settings, key, path, "[...]")?;
    let entries = p.list(Some(listed), &at);
    if entries.is_empty() {
        p.error(&at, "needs at least one policy");
        return None;
    }
    let subs: Vec<Option<Policy>> = entries
        .iter()
        .map(|(at, value)| parse_policy(p, value, at, nested(position)))
        .collect();
    subs.into_iter().collect()
}

fn parse_not(p: &mut Parser, settings: &Mapping, path: &str, position: Position) -> Option<Rule> {
    p.only_keys(settings, &["not_sub_policy"], path);
    let sub = required(p, settings, "not_sub_policy", path, "{ name: ..., type: ... }")?;
    let sub = parse_policy(p, sub, &format!("{path}.not_sub_policy"), nested(position))?;
    Some(Rule::Not(Box::new(sub)))
}

fn parse_composite(p: &mut Parser, settings: &Mapping, path: &str, position: Position) -> Option<Rule> {
    p.only_keys(
        settings,
        &[
            "max_total_spans_per_second",
            "policy_order",
            "composite_sub_policy",
            "rate_allocation",
        ],
        path,
    );
    let max_total = positive(p, settings, "max_total_spans_per_second", path, "1000");
    let subs_at = format!("{path}.composite_sub_policy");
    let listed = required(p, settings, "composite_sub_policy", path, "[...]")?;
    let entries = p.list(Some(listed), &subs_at);
    if entries.is_empty() {
        p.error(&subs_at, "needs at least one policy");
        return None;
    }
    let depth = position.depth() + 1;
    let mut names = HashSet::new();
    let parsed: Vec<Option<Policy>> = entries
        .iter()
        .map(|(at, value)| {
            check_unique_name(p, value, at, &mut names);
            parse_policy(p, value, at, Position::CompositeSub { depth })
        })
        .collect();
    let mut subs: Vec<Policy> = parsed.into_iter().collect::<Option<Vec<_>>>()?;
    let max_total = max_total?;

    // policy_order: these first, in this order; the others after, as listed.
    let order_at = format!("{path}.policy_order");
    let order = p.string_list(settings.get("policy_order"), &order_at);
    let mut ordered = Vec::new();
    for (i, name) in order.iter().enumerate() {
        match subs.iter().position(|s| &s.name == name) {
            Some(index) => ordered.push(subs.remove(index)),
            None if ordered.iter().any(|s: &Policy| &s.name == name) => {
                p.error(&format!("{order_at}[{i}]"), format!("\"{name}\" is listed twice"));
            }
            None => p.error(
                &format!("{order_at}[{i}]"),
                format!("\"{name}\" is not one of the composite_sub_policy names"),
            ),
        }
    }
    ordered.append(&mut subs);

    // rate_allocation: a percent of the total per named sub-policy (0 = an equal share); a
    // sub-policy without one may use whatever the total leaves.
    let allocation_at = format!("{path}.rate_allocation");
    let equal_share = max_total / ordered.len() as u64;
    let mut allocated: HashMap<String, u64> = HashMap::new();
    let mut percent_sum = 0;
    for (at, entry) in p.list(settings.get("rate_allocation"), &allocation_at) {
        let Some(entry) = p.mapping(Some(entry), &at) else { continue };
        p.only_keys(entry, &["policy", "percent"], &at);
        let name = required(p, entry, "policy", &at, "my-sub-policy").and_then(|v| p.string(v, &format!("{at}.policy")));
        let percent = match entry.get("percent") {
            Some(v) => p.unsigned(v, &format!("{at}.percent")),
            None => Some(0),
        };
        let (Some(name), Some(percent)) = (name, percent) else { continue };
        if percent > 100 {
            p.error(&format!("{at}.percent"), "must be at most 100");
            continue;
        }
        if !ordered.iter().any(|s| s.name == name) {
            p.error(
                &format!("{at}.policy"),
                format!("\"{name}\" is not one of the composite_sub_policy names"),
            );
            continue;
        }
        percent_sum += percent;
        let spans = if percent == 0 {
            equal_share
        } else {
            u64::try_from(u128::from(max_total) * u128::from(percent) / 100).unwrap_or(u64::MAX)
        };
        if allocated.insert(name.clone(), spans).is_some() {
            p.error(&format!("{at}.policy"), format!("\"{name}\" has two allocations"));
        }
    }
    if percent_sum > 100 {
        p.error(&allocation_at, format!("the percents add up to {percent_sum}, more than 100"));
        return None;
    }
    let subs = ordered
        .into_iter()
        .map(|policy| CompositeSub {
            allocated: allocated.get(&policy.name).copied().unwrap_or(max_total),
            policy,
            used: 0,
        })
        .collect();
    Some(Rule::Composite(Composite {
        max_total_spans_per_second: max_total,
        subs,
        used_total: 0,
        window_start: None,
    }))
}
