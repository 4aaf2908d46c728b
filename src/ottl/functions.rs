//! The editors and converters: their signatures (checked by the parser) and what they do.

use super::ast::{Call, Converter, Editor, MergeStrategy, Path, ReplaceMode, Replacement, StringFunction, ValueKind};
use super::eval::{eval_value, get_path, map_mut, set_path, TransformContext};
use super::lexer::truncate;
use super::paths::Field;
use super::value::{key_value, parse_duration, parse_json, Value};
use super::{err, OttlError};
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{Gauge, Metric, Sum};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// A function's name and parameters; the first `required` parameters must be given.
pub(super) struct Signature {
    pub name: &'static str,
    pub params: &'static [&'static str],
    pub required: usize,
}

impl Signature {
    /// "2 arguments: set(target, value)", for arity messages.
    pub fn arity(&self) -> String {
        let count = match (self.required, self.params.len()) {
            (0, 0) => "no arguments".to_string(),
            (1, 1) => "1 argument".to_string(),
            (r, n) if r == n => format!("{n} arguments"),
            (r, n) => format!("{r} to {n} arguments"),
        };
        let required = self.params[..self.required].join(", ");
        let optional: String = self.params[self.required..].iter().map(|p| format!("[, {p}]")).collect();
        format!("{count}: {}({required}{optional})", self.name)
    }
}

const fn signature(name: &'static str, params: &'static [&'static str]) -> Signature {
    Signature {
        name,
        params,
        required: params.len(),
    }
}

/// A function whose last parameters may be left out.
const fn optional(name: &'static str, params: &'static [&'static str], required: usize) -> Signature {
    Signature { name, params, required }
}

/// The editors, with the Collector's parameter names and order. A parameter named `function`
/// takes a converter name without a call (`SHA256`).
pub(super) const EDITORS: &[Signature] = &[
    signature("set", &["target", "value"]),
    signature("delete_key", &["target", "key"]),
    signature("delete_matching_keys", &["target", "pattern"]),
    signature("keep_keys", &["target", "keys"]),
    signature("keep_matching_keys", &["target", "pattern"]),
    optional(
        "replace_pattern",
        &["target", "regex", "replacement", "function", "replacementFormat"],
        3,
    ),
    optional(
        "replace_all_patterns",
        &["target", "mode", "regex", "replacement", "function", "replacementFormat"],
        4,
    ),
    optional(
        "replace_match",
        &["target", "pattern", "replacement", "function", "replacementFormat"],
        3,
    ),
    optional(
        "replace_all_matches",
        &["target", "pattern", "replacement", "function", "replacementFormat"],
        3,
    ),
    signature("merge_maps", &["target", "source", "strategy"]),
    optional("flatten", &["target", "prefix", "depth", "resolveConflicts"], 1),
    optional("truncate_all", &["target", "limit", "utf8_safe", "truncation_marker"], 2),
    optional("limit", &["target", "limit", "priority_keys"], 2),
    signature("convert_sum_to_gauge", &[]),
    signature("convert_gauge_to_sum", &["aggregation_temporality", "is_monotonic"]),
    optional("set_semconv_span_name", &["semconvVersion", "originalSpanNameAttribute"], 1),
];

pub(super) const CONVERTERS: &[Signature] = &[
    signature("IsMatch", &["target", "pattern"]),
    signature("Duration", &["duration"]),
    signature("Int", &["value"]),
    signature("Double", &["value"]),
    signature("String", &["value"]),
    signature("Concat", &["values", "delimiter"]),
    signature("Split", &["target", "delimiter"]),
    optional("Substring", &["target", "start", "length", "utf8_safe"], 3),
    signature("ToLowerCase", &["target"]),
    signature("ToUpperCase", &["target"]),
    signature("Len", &["target"]),
    signature("SHA256", &["value"]),
    signature("UUID", &[]),
    signature("IsMap", &["value"]),
    signature("IsString", &["value"]),
    signature("IsInt", &["value"]),
    signature("IsDouble", &["value"]),
    signature("IsBool", &["value"]),
    signature("IsList", &["value"]),
    signature("IsRootSpan", &[]),
    signature("ParseJSON", &["target"]),
];

pub(super) fn find(table: &'static [Signature], name: &str) -> Option<&'static Signature> {
    table.iter().find(|s| s.name == name)
}

pub(super) fn names(table: &[Signature]) -> String {
    table.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------
// Converters

pub(super) fn call_converter(call: &Call, ctx: &dyn TransformContext) -> Result<Value, OttlError> {
    let fail = |message: String| err(call.column, message);
    match &call.converter {
        // Like OTTL's string-like getters: scalars match on their text, nil never matches.
        Converter::IsMatch { target, pattern } => {
            let text = eval_value(target, ctx)?.to_text();
            Ok(Value::Bool(text.is_some_and(|t| pattern.0.is_match(&t))))
        }
        Converter::Duration(arg) => match eval_value(arg, ctx)? {
            Value::Str(s) => parse_duration(&s).map(Value::Int).ok_or_else(|| {
                fail(format!(
                    "Duration: expected a duration such as \"500ms\" or \"1h30m\", got {:?}",
                    truncate(&s)
                ))
            }),
            other => Err(fail(format!("Duration expects a string, got {}", other.type_name()))),
        },
        Converter::Int(arg) => Ok(to_int(eval_value(arg, ctx)?)),
        Converter::Double(arg) => Ok(to_double(eval_value(arg, ctx)?)),
        Converter::String(arg) => Ok(eval_value(arg, ctx)?.to_text().map_or(Value::Nil, Value::Str)),
        Converter::Concat { values, delimiter } => {
            let Value::Str(delimiter) = eval_value(delimiter, ctx)? else {
                return Err(fail("Concat expects a string delimiter".to_string()));
            };
            match eval_value(values, ctx)? {
                Value::List(items) => Ok(Value::Str(concat(&items, &delimiter))),
                other => Err(fail(format!("Concat expects a list of values, got {}", other.type_name()))),
            }
        }
        Converter::Split { target, delimiter } => {
            let text = expect_string(eval_value(target, ctx)?, "Split").map_err(fail)?;
            Ok(Value::List(split(&text, delimiter).into_iter().map(Value::Str).collect()))
        }
        Converter::Substring {
            target,
            start,
            length,
            utf8_safe,
        } => {
            let text = expect_string(eval_value(target, ctx)?, "Substring").map_err(fail)?;
            let start = expect_int(eval_value(start, ctx)?, "the start of Substring").map_err(fail)?;
            let length = expect_int(eval_value(length, ctx)?, "the length of Substring").map_err(fail)?;
            substring(&text, start, length, *utf8_safe).map(Value::Str).map_err(fail)
        }
        Converter::OfString { function, target } => {
            let text = expect_string(eval_value(target, ctx)?, function.name()).map_err(fail)?;
            Ok(Value::Str(function.apply(&text)))
        }
        Converter::Len(target) => match eval_value(target, ctx)? {
            Value::Str(text) => Ok(Value::Int(length_of(text.len()))),
            Value::List(items) => Ok(Value::Int(length_of(items.len()))),
            Value::Map(entries) => Ok(Value::Int(length_of(entries.len()))),
            other => Err(fail(format!("Len expects a string, list or map, got {}", other.type_name()))),
        },
        Converter::IsKind { kind, target } => Ok(Value::Bool(is_kind(*kind, &eval_value(target, ctx)?))),
        Converter::Uuid => Ok(Value::Str(uuid_v4())),
        Converter::IsRootSpan => match ctx.get(Field::ParentSpanId).map_err(fail)? {
            super::eval::FieldRef::Value(Value::Str(parent)) => Ok(Value::Bool(parent.is_empty())),
            _ => Err(fail("IsRootSpan needs the span's parent_span_id".to_string())),
        },
        Converter::ParseJson(target) => {
            let text = expect_string(eval_value(target, ctx)?, "ParseJSON").map_err(fail)?;
            parse_json(&text).map_err(fail)
        }
    }
}

/// The string a string converter works on; anything else (nil included) is an error, as in OTTL.
fn expect_string(value: Value, converter: &str) -> Result<String, String> {
    match value {
        Value::Str(text) => Ok(text),
        other => Err(format!("{converter} expects a string, got {}", other.type_name())),
    }
}

fn expect_int(value: Value, what: &str) -> Result<i64, String> {
    match value {
        Value::Int(n) => Ok(n),
        other => Err(format!("{what} must be an int, got {}", other.type_name())),
    }
}

fn length_of(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

impl StringFunction {
    pub(super) fn apply(self, text: &str) -> String {
        match self {
            StringFunction::ToLowerCase => text.to_lowercase(),
            StringFunction::ToUpperCase => text.to_uppercase(),
            StringFunction::Sha256 => hex::encode(Sha256::digest(text.as_bytes())),
        }
    }
}

/// OTTL's `Double`: ints widen, bools are 0/1, decimal strings parse; anything else is nil.
fn to_double(value: Value) -> Value {
    match value {
        Value::Double(x) => Value::Double(x),
        Value::Int(n) => Value::Double(n as f64),
        Value::Bool(b) => Value::Double(if b { 1.0 } else { 0.0 }),
        Value::Str(s) => s.parse::<f64>().map_or(Value::Nil, Value::Double),
        _ => Value::Nil,
    }
}

fn is_kind(kind: ValueKind, value: &Value) -> bool {
    match kind {
        ValueKind::Map => matches!(value, Value::Map(_)),
        ValueKind::String => matches!(value, Value::Str(_)),
        ValueKind::Int => matches!(value, Value::Int(_)),
        ValueKind::Double => matches!(value, Value::Double(_)),
        ValueKind::Bool => matches!(value, Value::Bool(_)),
        ValueKind::List => matches!(value, Value::List(_)),
    }
}

/// Go's `strings.Split`: an empty delimiter splits after each character.
fn split(text: &str, delimiter: &str) -> Vec<String> {
    if delimiter.is_empty() {
        return text.chars().map(String::from).collect();
    }
    text.split(delimiter).map(str::to_string).collect()
}

/// `length` bytes from byte `start`. A cut inside a multi-byte character is an error, or with
/// `utf8_safe` moves inward to the nearest boundary (so the result may be shorter).
fn substring(text: &str, start: i64, length: i64, utf8_safe: bool) -> Result<String, String> {
    if start < 0 {
        return Err(format!("Substring: the start cannot be negative, got {start}"));
    }
    if length <= 0 {
        return Err(format!("Substring: the length must be positive, got {length}"));
    }
    let end = start
        .checked_add(length)
        .filter(|end| usize::try_from(*end).is_ok_and(|end| end <= text.len()));
    let (Some(end), Ok(start)) = (end, usize::try_from(start)) else {
        return Err(format!(
            "Substring: start {start} + length {length} is past the end of the {}-byte string",
            text.len()
        ));
    };
    let mut end = usize::try_from(end).unwrap_or(text.len());
    let mut start = start;
    if utf8_safe {
        while !text.is_char_boundary(start) {
            start += 1;
        }
        while end > start && !text.is_char_boundary(end) {
            end -= 1;
        }
        // Both ends inside one character: nothing whole is left.
        end = end.max(start);
    }
    match text.get(start..end) {
        Some(part) => Ok(part.to_string()),
        None => Err(format!(
            "Substring: bytes {start}..{end} would cut a multi-byte character; pass true as utf8_safe to cut at the nearest character"
        )),
    }
}

/// A random version-4 UUID in its usual text form.
fn uuid_v4() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// OTTL's `Int`: floats truncate, bools are 0/1, decimal strings parse; anything else is nil.
fn to_int(value: Value) -> Value {
    // The f64 range that truncates into i64 without saturating.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match value {
        Value::Int(n) => Value::Int(n),
        Value::Double(x) if x.is_finite() && x > -LIMIT - 1.0 && x < LIMIT => Value::Int(x as i64),
        Value::Bool(b) => Value::Int(i64::from(b)),
        Value::Str(s) => s.parse().map_or(Value::Nil, Value::Int),
        _ => Value::Nil,
    }
}

/// Nil elements print as `<nil>`, as OTTL's Concat does, so the position stays visible.
fn concat(items: &[Value], delimiter: &str) -> String {
    let texts: Vec<String> = items.iter().map(|v| v.to_text().unwrap_or_else(|| "<nil>".to_string())).collect();
    texts.join(delimiter)
}

// ---------------------------------------------------------------------------
// Editors

pub(super) fn run_editor(editor: &Editor, ctx: &mut dyn TransformContext) -> Result<(), OttlError> {
    match editor {
        Editor::Set { target, value } => {
            let value = eval_value(value, &*ctx)?;
            // OTTL: setting nil (say, a missing attribute) does nothing.
            if value == Value::Nil {
                return Ok(());
            }
            set_path(ctx, target, value)
        }
        Editor::DeleteKey { target, key } => with_map(ctx, target, |map| map.retain(|kv| kv.key != *key)),
        Editor::DeleteMatchingKeys { target, pattern } => with_map(ctx, target, |map| map.retain(|kv| !pattern.0.is_match(&kv.key))),
        Editor::KeepKeys { target, keys } => with_map(ctx, target, |map| map.retain(|kv| keys.contains(&kv.key))),
        Editor::KeepMatchingKeys { target, pattern } => with_map(ctx, target, |map| map.retain(|kv| pattern.0.is_match(&kv.key))),
        Editor::ReplacePattern {
            target,
            pattern,
            replacement,
        } => {
            // Only strings are rewritten; another type is left alone, as in OTTL.
            let Value::Str(text) = get_path(&*ctx, target)? else {
                return Ok(());
            };
            match replace_regex(&pattern.0, &text, replacement) {
                Cow::Owned(replaced) => set_path(ctx, target, Value::Str(replaced)),
                Cow::Borrowed(_) => Ok(()),
            }
        }
        Editor::ReplaceAllPatterns {
            target,
            mode,
            pattern,
            replacement,
        } => with_map(ctx, target, |map| match mode {
            ReplaceMode::Value => replace_in_values(map, &pattern.0, replacement),
            ReplaceMode::Key => replace_in_keys(map, &pattern.0, replacement),
        }),
        Editor::ReplaceMatch {
            target,
            pattern,
            replacement,
        } => match get_path(&*ctx, target)? {
            Value::Str(text) if pattern.0.is_match(&text) => set_path(ctx, target, Value::Str(replacement.whole())),
            _ => Ok(()),
        },
        Editor::ReplaceAllMatches {
            target,
            pattern,
            replacement,
        } => with_map(ctx, target, |map| {
            let whole = replacement.whole();
            for kv in map {
                if let Some(s) = string_value_mut(kv).filter(|s| pattern.0.is_match(s)) {
                    s.clone_from(&whole);
                }
            }
        }),
        Editor::MergeMaps { target, source, strategy } => {
            let source = match eval_value(source, &*ctx)? {
                Value::Map(entries) => entries,
                other => {
                    return Err(err(
                        target.column,
                        format!("merge_maps expects a map as the source, got {}", other.type_name()),
                    ))
                }
            };
            with_map(ctx, target, |map| merge_maps(map, source, *strategy))
        }
        Editor::Flatten { target, prefix, depth } => with_map(ctx, target, |map| {
            let nested: Vec<(String, Value)> = std::mem::take(map)
                .into_iter()
                .map(|kv| (kv.key, Value::from_any(kv.value.as_ref())))
                .collect();
            let mut flat = Vec::with_capacity(nested.len());
            flatten_into(&mut flat, prefix, nested, 0, depth.unwrap_or(usize::MAX));
            *map = flat.into_iter().map(|(k, v)| key_value(k, v)).collect();
        }),
        Editor::TruncateAll { target, limit, marker } => with_map(ctx, target, |map| truncate_all(map, *limit, marker)),
        Editor::Limit {
            target,
            limit,
            priority_keys,
        } => with_map(ctx, target, |map| limit_entries(map, *limit, priority_keys)),
        Editor::SetSemconvSpanName { original_name_attribute } => {
            let context = ctx.context();
            let span = ctx
                .span_mut()
                .ok_or_else(|| err(1, format!("{} needs a span, but runs on {context} data", editor.name())))?;
            super::semconv_name::rename(span, original_name_attribute.as_deref());
            Ok(())
        }
        Editor::ConvertSumToGauge => {
            let metric = metric_of(ctx, editor)?;
            if let Some(Data::Sum(sum)) = &mut metric.data {
                let data_points = std::mem::take(&mut sum.data_points);
                metric.data = Some(Data::Gauge(Gauge { data_points }));
            }
            Ok(())
        }
        Editor::ConvertGaugeToSum {
            aggregation_temporality,
            is_monotonic,
        } => {
            let metric = metric_of(ctx, editor)?;
            if let Some(Data::Gauge(gauge)) = &mut metric.data {
                let data_points = std::mem::take(&mut gauge.data_points);
                metric.data = Some(Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: *aggregation_temporality,
                    is_monotonic: *is_monotonic,
                }));
            }
            Ok(())
        }
    }
}

/// The metric a metric editor reshapes; the parser allows these editors in the metric
/// context only, so another context here is a caller's mistake, reported rather than ignored.
fn metric_of<'a>(ctx: &'a mut dyn TransformContext, editor: &Editor) -> Result<&'a mut Metric, OttlError> {
    let context = ctx.context();
    ctx.metric_mut()
        .ok_or_else(|| err(1, format!("{} needs a metric, but runs on {context} data", editor.name())))
}

/// Runs `edit` on the map at `target`; a missing map is nothing to edit.
fn with_map(ctx: &mut dyn TransformContext, target: &Path, edit: impl FnOnce(&mut Vec<KeyValue>)) -> Result<(), OttlError> {
    if let Some(map) = map_mut(ctx, target)? {
        edit(map);
    }
    Ok(())
}

fn string_value_mut(kv: &mut KeyValue) -> Option<&mut String> {
    match kv.value.as_mut()?.value.as_mut()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

impl Replacement {
    /// The replacement for a whole value (`replace_match`): the text, through the function and
    /// format when given.
    fn whole(&self) -> String {
        match self.function {
            Some(function) => self.formatted(function.apply(&self.text)),
            None => self.text.clone(),
        }
    }

    fn formatted(&self, result: String) -> String {
        match &self.format {
            Some(format) => format.replacen("%s", &result, 1),
            None => result,
        }
    }
}

/// Every match of `pattern` in `text` replaced; `$1` and `${name}` in the replacement refer to
/// the match's groups. With a function, each expanded replacement goes through it (and the
/// format) before it is put in.
fn replace_regex<'t>(pattern: &regex::Regex, text: &'t str, replacement: &Replacement) -> Cow<'t, str> {
    let Some(function) = replacement.function else {
        return pattern.replace_all(text, replacement.text.as_str());
    };
    pattern.replace_all(text, |groups: &regex::Captures<'_>| {
        let mut expanded = String::new();
        groups.expand(&replacement.text, &mut expanded);
        replacement.formatted(function.apply(&expanded))
    })
}

fn replace_in_values(map: &mut [KeyValue], pattern: &regex::Regex, replacement: &Replacement) {
    for kv in map {
        if let Some(s) = string_value_mut(kv) {
            if let Cow::Owned(replaced) = replace_regex(pattern, s, replacement) {
                *s = replaced;
            }
        }
    }
}

/// Renames keys; when a new name collides with another key, the later entry wins, as a
/// sequence of puts into a map would have it.
fn replace_in_keys(map: &mut Vec<KeyValue>, pattern: &regex::Regex, replacement: &Replacement) {
    for kv in map.iter_mut() {
        if let Cow::Owned(renamed) = replace_regex(pattern, &kv.key, replacement) {
            kv.key = renamed;
        }
    }
    keep_last_of_each_key(map);
}

fn keep_last_of_each_key(map: &mut Vec<KeyValue>) {
    let mut i = 0;
    while i < map.len() {
        if map[i + 1..].iter().any(|later| later.key == map[i].key) {
            map.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Puts `value` at `key`: in place when the key exists, else appended.
fn put(map: &mut Vec<(String, Value)>, key: String, value: Value) {
    match map.iter_mut().find(|(k, _)| *k == key) {
        Some((_, slot)) => *slot = value,
        None => map.push((key, value)),
    }
}

fn merge_maps(target: &mut Vec<KeyValue>, source: Vec<(String, Value)>, strategy: MergeStrategy) {
    for (key, value) in source {
        match (target.iter_mut().find(|kv| kv.key == key), strategy) {
            (Some(existing), MergeStrategy::Update | MergeStrategy::Upsert) => existing.value = Some(value.into()),
            (None, MergeStrategy::Insert | MergeStrategy::Upsert) => target.push(key_value(key, value)),
            _ => {}
        }
    }
}

/// OTTL's `flatten`: a nested map's entries move up as `outer.inner`, a list's items as
/// `list.0`, `list.1`, until `max_depth` levels; a later key overwrites an earlier one.
fn flatten_into(flat: &mut Vec<(String, Value)>, prefix: &str, entries: Vec<(String, Value)>, depth: usize, max_depth: usize) {
    for (key, value) in entries {
        let key = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
        match value {
            Value::Map(inner) if depth < max_depth => flatten_into(flat, &key, inner, depth + 1, max_depth),
            Value::List(items) if depth < max_depth => {
                let indexed = items.into_iter().enumerate().map(|(i, item)| (i.to_string(), item)).collect();
                flatten_into(flat, &key, indexed, depth + 1, max_depth);
            }
            other => put(flat, key, other),
        }
    }
}

/// Cuts string values to at most `limit` bytes, backing off to a character boundary so the
/// result stays valid UTF-8; a cut value ends with `marker`, which counts toward the limit.
fn truncate_all(map: &mut [KeyValue], limit: usize, marker: &str) {
    for kv in map {
        if let Some(s) = string_value_mut(kv) {
            if s.len() > limit {
                let mut cut = limit.saturating_sub(marker.len());
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                s.push_str(marker);
            }
        }
    }
}

/// Keeps the priority keys that are present, then the first other entries in order, up to
/// `limit` entries in all (OTTL's `limit`).
fn limit_entries(map: &mut Vec<KeyValue>, limit: usize, priority_keys: &[String]) {
    if map.len() <= limit {
        return;
    }
    let mut kept = priority_keys.iter().filter(|k| map.iter().any(|kv| kv.key == **k)).count();
    map.retain(|kv| {
        if priority_keys.contains(&kv.key) {
            return true;
        }
        if kept < limit {
            kept += 1;
            return true;
        }
        false
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arity_texts() {
        assert_eq!(find(EDITORS, "set").unwrap().arity(), "2 arguments: set(target, value)");
        assert_eq!(
            find(EDITORS, "limit").unwrap().arity(),
            "2 to 3 arguments: limit(target, limit[, priority_keys])"
        );
        assert_eq!(find(CONVERTERS, "IsRootSpan").unwrap().arity(), "no arguments: IsRootSpan()");
        assert_eq!(find(CONVERTERS, "Int").unwrap().arity(), "1 argument: Int(value)");
    }

    #[test]
    fn int_conversion() {
        assert_eq!(to_int(Value::Double(-2.9)), Value::Int(-2));
        assert_eq!(to_int(Value::Double(1e300)), Value::Nil);
        assert_eq!(to_int(Value::Double(f64::NAN)), Value::Nil);
        assert_eq!(to_int(Value::Bool(true)), Value::Int(1));
        assert_eq!(to_int(Value::Str("42".into())), Value::Int(42));
        assert_eq!(to_int(Value::Str("4x".into())), Value::Nil);
        assert_eq!(to_int(Value::Nil), Value::Nil);
    }
}
