//! Evaluation: the `TransformContext` trait that lends a context's fields, reading and writing
//! paths through it, and computing conditions and values.

use super::ast::{BoolExpr, Key, Path, ValueExpr};
use super::functions::call_converter;
use super::paths::{Context, Field};
use super::value::{any_type_name, arithmetic, compare, Value};
use super::{err, OttlError};
use crate::pdata::find_attribute;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::metrics::v1::Metric;

/// A field as a context lends it for reading.
pub enum FieldRef<'a> {
    /// A scalar field, already converted (`name`, `kind`, `trace_id.string`).
    Value(Value),
    /// An attribute map, lent so `attributes["k"]` reads one entry without copying the rest.
    Map(&'a [KeyValue]),
    /// An `AnyValue` field (a log body); None when unset.
    Any(Option<&'a AnyValue>),
}

/// A container field as a context lends it for writing.
pub enum FieldMut<'a> {
    Map(&'a mut Vec<KeyValue>),
    Any(&'a mut Option<AnyValue>),
}

/// Access to the fields of one item (a span with its resource and scope, a log record, ...).
/// The evaluator handles keys, nil and types; an implementation only maps fields to data.
/// Errors are messages; the evaluator adds the column of the path.
pub trait TransformContext {
    /// Which context this is; statements parsed for another context are refused.
    fn context(&self) -> Context;
    /// Reads a field.
    fn get(&self, field: Field) -> Result<FieldRef<'_>, String>;
    /// Writes a scalar field, checking the value's type.
    fn set(&mut self, field: Field, value: Value) -> Result<(), String>;
    /// Lends a container field (`Field::container()` is Some) for writing.
    fn get_mut(&mut self, field: Field) -> Result<FieldMut<'_>, String>;
    /// The whole metric, for the editors that reshape it (`convert_sum_to_gauge`); None
    /// outside the metric context.
    fn metric_mut(&mut self) -> Option<&mut Metric> {
        None
    }
    /// The whole span, for the editors that read many of its fields at once
    /// (`set_semconv_span_name`); None outside the span context.
    fn span_mut(&mut self) -> Option<&mut opentelemetry_proto::tonic::trace::v1::Span> {
        None
    }
    /// The item's cache (`cache`, `cache["k"]`); None where the caller keeps none, which reads
    /// as an empty map and cannot be written. `WithCache` lends one.
    fn cache(&self) -> Option<&[KeyValue]> {
        None
    }
    fn cache_mut(&mut self) -> Option<&mut Vec<KeyValue>> {
        None
    }
}

/// A context with the cache of the item it runs on: a map private to the item while one block
/// of statements runs over it, so a statement can leave values there for the next ones
/// (`merge_maps(cache, ParseJSON(body), "upsert")`, then `set(attributes["x"], cache["x"])`).
/// The transform processor makes an empty one for each item and block.
pub struct WithCache<'a, C: ?Sized> {
    pub inner: &'a mut C,
    pub cache: &'a mut Vec<KeyValue>,
}

impl<C: TransformContext + ?Sized> TransformContext for WithCache<'_, C> {
    fn context(&self) -> Context {
        self.inner.context()
    }

    fn get(&self, field: Field) -> Result<FieldRef<'_>, String> {
        self.inner.get(field)
    }

    fn set(&mut self, field: Field, value: Value) -> Result<(), String> {
        self.inner.set(field, value)
    }

    fn get_mut(&mut self, field: Field) -> Result<FieldMut<'_>, String> {
        self.inner.get_mut(field)
    }

    fn metric_mut(&mut self) -> Option<&mut Metric> {
        self.inner.metric_mut()
    }

    fn span_mut(&mut self) -> Option<&mut opentelemetry_proto::tonic::trace::v1::Span> {
        self.inner.span_mut()
    }

    fn cache(&self) -> Option<&[KeyValue]> {
        Some(self.cache.as_slice())
    }

    fn cache_mut(&mut self) -> Option<&mut Vec<KeyValue>> {
        Some(&mut *self.cache)
    }
}

/// A field for reading: the cache from `cache()`, the rest from `get`.
fn lend(ctx: &dyn TransformContext, field: Field) -> Result<FieldRef<'_>, String> {
    match field {
        Field::Cache => Ok(FieldRef::Map(ctx.cache().unwrap_or(&[]))),
        other => ctx.get(other),
    }
}

/// A container field for writing: the cache from `cache_mut()`, the rest from `get_mut`.
fn lend_mut(ctx: &mut dyn TransformContext, field: Field) -> Result<FieldMut<'_>, String> {
    let context = ctx.context();
    match field {
        Field::Cache => ctx.cache_mut().map(FieldMut::Map).ok_or_else(|| {
            format!("cache cannot be written here: only the transform processor's statements keep a cache per {context} item")
        }),
        other => ctx.get_mut(other),
    }
}

fn at(column: usize) -> impl Fn(String) -> OttlError {
    move |message| err(column, message)
}

pub(super) fn eval_bool(expr: &BoolExpr, ctx: &dyn TransformContext) -> Result<bool, OttlError> {
    match expr {
        BoolExpr::Const(b) => Ok(*b),
        BoolExpr::Or(terms) => {
            for term in terms {
                if eval_bool(term, ctx)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        BoolExpr::And(terms) => {
            for term in terms {
                if !eval_bool(term, ctx)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        BoolExpr::Not(inner) => Ok(!eval_bool(inner, ctx)?),
        BoolExpr::Compare { left, op, right } => Ok(compare(*op, &eval_value(left, ctx)?, &eval_value(right, ctx)?)),
        BoolExpr::Converter(call) => match call_converter(call, ctx)? {
            Value::Bool(b) => Ok(b),
            other => Err(err(
                call.column,
                format!("{} returned {}, not a boolean", call.converter.name(), other.type_name()),
            )),
        },
    }
}

pub(super) fn eval_value(expr: &ValueExpr, ctx: &dyn TransformContext) -> Result<Value, OttlError> {
    match expr {
        ValueExpr::Literal(v) => Ok(v.clone()),
        ValueExpr::Path(path) => get_path(ctx, path),
        ValueExpr::Converter(call) => call_converter(call, ctx),
        ValueExpr::List(items) => items
            .iter()
            .map(|item| eval_value(item, ctx))
            .collect::<Result<_, _>>()
            .map(Value::List),
        ValueExpr::Math { first, rest } => {
            let mut acc = eval_value(first, ctx)?;
            for step in rest {
                let operand = eval_value(&step.operand, ctx)?;
                acc = arithmetic(step.op, &acc, &operand).map_err(at(step.column))?;
            }
            Ok(acc)
        }
    }
}

// ---------------------------------------------------------------------------
// Reading paths

/// A path's value; a missing key anywhere along it is nil.
pub(super) fn get_path(ctx: &dyn TransformContext, path: &Path) -> Result<Value, OttlError> {
    let fail = at(path.column);
    match lend(ctx, path.field).map_err(&fail)? {
        FieldRef::Value(v) if path.keys.is_empty() => Ok(v),
        FieldRef::Value(v) => Err(fail(format!("{} is {}, which takes no key", path.field, v.type_name()))),
        FieldRef::Map(kvs) => match path.keys.split_first() {
            None => Ok(Value::from_key_values(kvs)),
            Some((Key::Str(key), rest)) => descend(find_attribute(kvs, key), rest).map(Value::from_any).map_err(fail),
            Some((Key::Index(i), _)) => Err(fail(format!("{} is a map; index it with a string key, not [{i}]", path.field))),
        },
        FieldRef::Any(value) => descend(value, &path.keys).map(Value::from_any).map_err(fail),
    }
}

/// Follows `keys` into nested maps and lists. Missing keys and unset values give None;
/// indexing a scalar, or a list past its end, is an error.
fn descend<'a>(mut current: Option<&'a AnyValue>, keys: &[Key]) -> Result<Option<&'a AnyValue>, String> {
    use any_value::Value as V;
    for key in keys {
        let Some(inner) = current.and_then(|v| v.value.as_ref()) else {
            return Ok(None);
        };
        current = match (key, inner) {
            (Key::Str(k), V::KvlistValue(list)) => find_attribute(&list.values, k),
            (Key::Index(i), V::ArrayValue(list)) => Some(list.values.get(*i).ok_or_else(|| out_of_range(*i, list.values.len()))?),
            (key, other) => return Err(cannot_index(key, other)),
        };
    }
    Ok(current)
}

fn out_of_range(index: usize, len: usize) -> String {
    format!("index {index} is out of range for a list of {len}")
}

fn cannot_index(key: &Key, value: &any_value::Value) -> String {
    let found = any_type_name(value);
    match key {
        Key::Str(k) => format!("cannot look up [{k:?}] in {found}; only maps have string keys"),
        Key::Index(i) => format!("cannot index [{i}] into {found}; only lists have indexes"),
    }
}

// ---------------------------------------------------------------------------
// Writing paths

/// Writes `value` at `path`, creating the maps a key path passes through.
pub(super) fn set_path(ctx: &mut dyn TransformContext, path: &Path, value: Value) -> Result<(), OttlError> {
    let fail = at(path.column);
    if path.field.container().is_none() {
        return ctx.set(path.field, value).map_err(fail);
    }
    match lend_mut(ctx, path.field).map_err(&fail)? {
        FieldMut::Map(kvs) => match path.keys.split_first() {
            None => {
                *kvs = value.into_key_values().map_err(|e| fail(format!("{}: {e}", path.field)))?;
                Ok(())
            }
            Some((Key::Str(key), rest)) => set_in(entry_mut(kvs, key), rest, value).map_err(fail),
            Some((Key::Index(i), _)) => Err(fail(format!("{} is a map; index it with a string key, not [{i}]", path.field))),
        },
        FieldMut::Any(slot) => set_in(slot.get_or_insert_with(AnyValue::default), &path.keys, value).map_err(fail),
    }
}

/// The value slot of `key`, appended (unset) when missing.
fn entry_mut<'a>(kvs: &'a mut Vec<KeyValue>, key: &str) -> &'a mut AnyValue {
    let index = match kvs.iter().position(|kv| kv.key == key) {
        Some(i) => i,
        None => {
            kvs.push(KeyValue {
                key: key.to_string(),
                ..Default::default()
            });
            kvs.len() - 1
        }
    };
    kvs[index].value.get_or_insert_with(AnyValue::default)
}

fn set_in(slot: &mut AnyValue, keys: &[Key], value: Value) -> Result<(), String> {
    let mut current = slot;
    for key in keys {
        current = child_or_insert(current, key)?;
    }
    *current = value.into();
    Ok(())
}

/// The child at `key`; an unset value becomes a map when a string key is written into it.
fn child_or_insert<'a>(parent: &'a mut AnyValue, key: &Key) -> Result<&'a mut AnyValue, String> {
    use any_value::Value as V;
    if let (None, Key::Index(i)) = (&parent.value, key) {
        return Err(out_of_range(*i, 0));
    }
    match (key, parent.value.get_or_insert_with(|| V::KvlistValue(KeyValueList::default()))) {
        (Key::Str(k), V::KvlistValue(list)) => Ok(entry_mut(&mut list.values, k)),
        (Key::Index(i), V::ArrayValue(list)) => {
            let len = list.values.len();
            list.values.get_mut(*i).ok_or_else(|| out_of_range(*i, len))
        }
        (key, other) => Err(cannot_index(key, other)),
    }
}

/// The map at `path` for the map editors; None when nothing is there.
pub(super) fn map_mut<'a>(ctx: &'a mut dyn TransformContext, path: &Path) -> Result<Option<&'a mut Vec<KeyValue>>, OttlError> {
    let fail = at(path.column);
    let target = match lend_mut(ctx, path.field).map_err(&fail)? {
        FieldMut::Map(kvs) => match path.keys.split_first() {
            None => return Ok(Some(kvs)),
            Some((Key::Str(key), rest)) => match kvs.iter_mut().find(|kv| kv.key == *key).and_then(|kv| kv.value.as_mut()) {
                Some(value) => descend_mut(value, rest).map_err(&fail)?,
                None => None,
            },
            Some((Key::Index(i), _)) => return Err(fail(format!("{} is a map; index it with a string key, not [{i}]", path.field))),
        },
        FieldMut::Any(slot) => match slot.as_mut() {
            Some(value) => descend_mut(value, &path.keys).map_err(&fail)?,
            None => None,
        },
    };
    match target.and_then(|v| v.value.as_mut()) {
        None => Ok(None),
        Some(any_value::Value::KvlistValue(list)) => Ok(Some(&mut list.values)),
        Some(other) => Err(fail(format!("{path} is {}, not a map", any_type_name(other)))),
    }
}

/// `descend` for writing: follows existing keys only, creating nothing.
fn descend_mut<'a>(value: &'a mut AnyValue, keys: &[Key]) -> Result<Option<&'a mut AnyValue>, String> {
    use any_value::Value as V;
    let mut current = value;
    for key in keys {
        current = match (key, current.value.as_mut()) {
            (_, None) => return Ok(None),
            (Key::Str(k), Some(V::KvlistValue(list))) => {
                match list.values.iter_mut().find(|kv| kv.key == *k).and_then(|kv| kv.value.as_mut()) {
                    Some(child) => child,
                    None => return Ok(None),
                }
            }
            (Key::Index(i), Some(V::ArrayValue(list))) => {
                let len = list.values.len();
                list.values.get_mut(*i).ok_or_else(|| out_of_range(*i, len))?
            }
            (key, Some(other)) => return Err(cannot_index(key, other)),
        };
    }
    Ok(Some(current))
}
