//! The editors and converters: their signatures (checked by the parser) and what they do.

use super::ast::{Call, Converter, Editor, ReplaceMode};
use super::eval::{eval_value, get_path, map_mut, set_path, TransformContext};
use super::lexer::truncate;
use super::paths::Field;
use super::value::{parse_duration, Value};
use super::{err, OttlError};
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
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

pub(super) const EDITORS: &[Signature] = &[
    signature("set", &["target", "value"]),
    signature("delete_key", &["target", "key"]),
    signature("delete_matching_keys", &["target", "pattern"]),
    signature("keep_keys", &["target", "keys"]),
    signature("replace_pattern", &["target", "regex", "replacement"]),
    signature("replace_all_patterns", &["target", "mode", "regex", "replacement"]),
    signature("truncate_all", &["target", "limit"]),
    Signature {
        name: "limit",
        params: &["target", "limit", "priority_keys"],
        required: 2,
    },
];

pub(super) const CONVERTERS: &[Signature] = &[
    signature("IsMatch", &["target", "pattern"]),
    signature("Duration", &["duration"]),
    signature("Int", &["value"]),
    signature("String", &["value"]),
    signature("Concat", &["values", "delimiter"]),
    signature("IsRootSpan", &[]),
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
        Converter::IsRootSpan => match ctx.get(Field::ParentSpanId).map_err(fail)? {
            super::eval::FieldRef::Value(Value::Str(parent)) => Ok(Value::Bool(parent.is_empty())),
            _ => Err(fail("IsRootSpan needs the span's parent_span_id".to_string())),
        },
    }
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
        Editor::ReplacePattern {
            target,
            pattern,
            replacement,
        } => {
            // Only strings are rewritten; another type is left alone, as in OTTL.
            let Value::Str(text) = get_path(&*ctx, target)? else {
                return Ok(());
            };
            match pattern.0.replace_all(&text, replacement.as_str()) {
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
        Editor::TruncateAll { target, limit } => with_map(ctx, target, |map| truncate_all(map, *limit)),
        Editor::Limit {
            target,
            limit,
            priority_keys,
        } => with_map(ctx, target, |map| limit_entries(map, *limit, priority_keys)),
    }
}

/// Runs `edit` on the map at `target`; a missing map is nothing to edit.
fn with_map(ctx: &mut dyn TransformContext, target: &super::ast::Path, edit: impl FnOnce(&mut Vec<KeyValue>)) -> Result<(), OttlError> {
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

fn replace_in_values(map: &mut [KeyValue], pattern: &regex::Regex, replacement: &str) {
    for kv in map {
        if let Some(s) = string_value_mut(kv) {
            if let Cow::Owned(replaced) = pattern.replace_all(s, replacement) {
                *s = replaced;
            }
        }
    }
}

/// Renames keys; when a new name collides with another key, the later entry wins, as a
/// sequence of puts into a map would have it.
fn replace_in_keys(map: &mut Vec<KeyValue>, pattern: &regex::Regex, replacement: &str) {
    for kv in map.iter_mut() {
        if let Cow::Owned(renamed) = pattern.replace_all(&kv.key, replacement) {
            kv.key = renamed;
        }
    }
    let mut i = 0;
    while i < map.len() {
        if map[i + 1..].iter().any(|later| later.key == map[i].key) {
            map.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Cuts string values to at most `limit` bytes, backing off to a character boundary so the
/// result stays valid UTF-8.
fn truncate_all(map: &mut [KeyValue], limit: usize) {
    for kv in map {
        if let Some(s) = string_value_mut(kv) {
            if s.len() > limit {
                let mut cut = limit;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
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
