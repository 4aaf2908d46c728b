//! The filelog receiver's operators (the Collector's stanza operators): parsers that turn a line
//! into fields, a timestamp, a severity, trace ids and a scope name; the `container` parser; the
//! moves, copies, additions and removals of fields; and the `router`. An entry is the line being
//! built into a log record, held as JSON values until it is made an OTLP `LogRecord`.
//!
//! As in the Collector, the operators form a graph: each has an `id` (by default its type; a second
//! operator of a type without an `id` becomes `move1`, `move2`, ...) and sends its entries to the
//! operators its `output` names, by default the next one in the list (the last one: out of the
//! receiver). A `router` sends each entry to the `output` of its first route whose `expr` is true,
//! else to its `default`, else drops it. Every operator but the router may have an `if`
//! expression (an entry it is false for passes unchanged) and an `on_error`: `send` (the default:
//! the entry goes on as it is, with a warning) `send_quiet`, `drop` or `drop_quiet`.

use super::container::{ContainerFormat, ContainerParser};
use super::expr::{Expr, ExprString};
use crate::config::Parser;
use serde_json::{Map, Value as Json};
use serde_yaml_ng::{Mapping, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A log record being built: the body, attributes and resource as JSON values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    pub body: Json,
    pub attributes: Map<String, Json>,
    pub resource: Map<String, Json>,
    /// Unix nanoseconds, from a time parser.
    pub timestamp: Option<u64>,
    pub severity_number: i32,
    pub severity_text: String,
    /// From a trace parser: the bytes its hex gave (made 16, 8 and 1 bytes in the record).
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    pub trace_flags: Vec<u8>,
    /// From a scope name parser: the record's instrumentation scope.
    pub scope_name: String,
}

/// Where a value lives in an entry: `body`, `body.key`, `attributes.key`, `attributes["a.b"]`,
/// `attributes.mdc["service.name"]`, `resource["service.name"]`; an empty path is the whole body
/// or map.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Body(Vec<String>),
    Attributes(Vec<String>),
    Resource(Vec<String>),
}

impl Field {
    pub fn parse(text: &str) -> Result<Field, String> {
        let text = text.trim();
        let (root, rest) = match text.find(['.', '[']) {
            Some(i) => (&text[..i], &text[i..]),
            None => (text, ""),
        };
        let mut keys = Vec::new();
        let mut rest = rest;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                let quote = after
                    .chars()
                    .next()
                    .filter(|c| *c == '"' || *c == '\'')
                    .ok_or_else(|| format!("'{text}': strings in brackets must be surrounded by quotes"))?;
                let inner = &after[1..];
                let close = inner
                    .find(quote)
                    .ok_or_else(|| format!("'{text}': a bracketed key is not closed"))?;
                keys.push(inner[..close].to_string());
                rest = inner[close + 1..]
                    .strip_prefix(']')
                    .ok_or_else(|| format!("'{text}': expected ] after a bracketed key"))?;
            } else if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                if end == 0 {
                    return Err(format!("'{text}': an empty key"));
                }
                keys.push(after[..end].to_string());
                rest = &after[end..];
            } else {
                return Err(format!("'{text}': expected .key or [\"key\"]"));
            }
        }
        match root {
            "body" => Ok(Field::Body(keys)),
            "attributes" => Ok(Field::Attributes(keys)),
            "resource" => Ok(Field::Resource(keys)),
            _ => Err(format!(
                "'{text}' is not a field: expected body, body.key, attributes.key or resource.key"
            )),
        }
    }

    pub fn get<'e>(&self, entry: &'e Entry) -> Option<&'e Json> {
        let (start, keys): (Option<&Json>, &[String]) = match self {
            Field::Body(keys) => (Some(&entry.body), keys),
            Field::Attributes(keys) => return get_in_map(&entry.attributes, keys),
            Field::Resource(keys) => return get_in_map(&entry.resource, keys),
        };
        let mut at = start?;
        for key in keys {
            at = at.as_object()?.get(key)?;
        }
        Some(at)
    }

    /// Sets the field as the Collector does: the maps on the way are made (a value that is not a
    /// map is replaced by one), and a map value is merged into the map at the field.
    pub fn set(&self, entry: &mut Entry, value: Json) -> Result<(), String> {
        match self {
            Field::Body(keys) => {
                if keys.is_empty() && !value.is_object() {
                    entry.body = value;
                    return Ok(());
                }
                if !entry.body.is_object() {
                    entry.body = Json::Object(Map::new());
                }
                let Json::Object(map) = &mut entry.body else { unreachable!() };
                set_map_field(map, keys, value, "body")
            }
            Field::Attributes(keys) => set_map_field(&mut entry.attributes, keys, value, "attributes"),
            Field::Resource(keys) => set_map_field(&mut entry.resource, keys, value, "resource"),
        }
    }

    pub fn remove(&self, entry: &mut Entry) -> Option<Json> {
        match self {
            Field::Body(keys) if keys.is_empty() => Some(std::mem::replace(&mut entry.body, Json::Null)),
            Field::Body(keys) => match &mut entry.body {
                Json::Object(map) => remove_in_map(map, keys),
                _ => None,
            },
            Field::Attributes(keys) if keys.is_empty() => Some(Json::Object(std::mem::take(&mut entry.attributes))),
            Field::Attributes(keys) => remove_in_map(&mut entry.attributes, keys),
            Field::Resource(keys) if keys.is_empty() => Some(Json::Object(std::mem::take(&mut entry.resource))),
            Field::Resource(keys) => remove_in_map(&mut entry.resource, keys),
        }
    }
}

fn get_in_map<'m>(map: &'m Map<String, Json>, keys: &[String]) -> Option<&'m Json> {
    let (first, rest) = keys.split_first()?;
    let mut at = map.get(first)?;
    for key in rest {
        at = at.as_object()?.get(key)?;
    }
    Some(at)
}

/// The map at `keys` under `map`, made (or replacing what is not a map) on the way.
fn nested_map<'m>(mut map: &'m mut Map<String, Json>, keys: &[String]) -> &'m mut Map<String, Json> {
    for key in keys {
        let slot = map.entry(key.clone()).or_insert_with(|| Json::Object(Map::new()));
        if !slot.is_object() {
            *slot = Json::Object(Map::new());
        }
        let Json::Object(inner) = slot else { unreachable!() };
        map = inner;
    }
    map
}

fn set_map_field(map: &mut Map<String, Json>, keys: &[String], value: Json, root: &str) -> Result<(), String> {
    match value {
        Json::Object(values) => {
            nested_map(map, keys).extend(values);
            Ok(())
        }
        other => match keys.split_last() {
            Some((last, parents)) => {
                nested_map(map, parents).insert(last.clone(), other);
                Ok(())
            }
            None => Err(format!("cannot set the {root} root to {other}")),
        },
    }
}

fn remove_in_map(map: &mut Map<String, Json>, keys: &[String]) -> Option<Json> {
    let (last, parents) = keys.split_last()?;
    let mut at = map;
    for key in parents {
        at = at.get_mut(key)?.as_object_mut()?;
    }
    at.remove(last)
}

/// What to do with an entry an operator fails on (`on_error`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OnError {
    /// `send` (the default) and `send_quiet`: the entry goes on as it is.
    Send { quiet: bool },
    /// `drop` and `drop_quiet`: the entry is dropped.
    Drop { quiet: bool },
}

/// Where an operator sends entries: another operator (its index) or out of the receiver.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    Operator(usize),
    Out,
}

/// A configured operator.
#[derive(Clone, Debug)]
pub struct Operator {
    pub id: String,
    pub kind: OperatorKind,
    pub on_error: OnError,
    /// `if`: entries it is false for pass unchanged.
    pub condition: Option<Expr>,
    /// Where its entries go (a router's go by its routes).
    pub outputs: Vec<Target>,
    /// How many entries it failed on, to warn at the 1st, 10th, 100th... failure, not at each.
    failures: Arc<AtomicU64>,
}

#[derive(Clone, Debug)]
pub enum OperatorKind {
    Json { fields: ParserFields, parse_ints: bool },
    Regex { regex: regex::Regex, fields: ParserFields },
    Container(Box<ContainerParser>),
    Time(TimeParser),
    Severity(SeverityParser),
    Trace(TraceParser),
    ScopeName(Field),
    Router(Vec<Route>),
    Noop,
    Move { from: Field, to: Field },
    Copy { from: Field, to: Field },
    Add { field: Field, value: AddValue },
    Remove { field: Field },
}

/// An `add` value: a literal, or an `EXPR(...)` evaluated per entry.
#[derive(Clone, Debug)]
pub enum AddValue {
    Literal(Json),
    Expr(Expr),
}

/// A router route: entries its `expr` is true for get its `attributes` and go to its outputs.
#[derive(Clone, Debug)]
pub struct Route {
    pub expr: Expr,
    pub attributes: Vec<(String, ExprString)>,
    pub outputs: Vec<Target>,
}

/// What every parser has: where it reads from and writes to, the field that becomes the body, and
/// the embedded `timestamp`, `severity`, `trace` and `scope_name` blocks applied after it parses.
#[derive(Clone, Debug)]
pub struct ParserFields {
    pub parse_from: Field,
    pub parse_to: Field,
    pub body: Option<Field>,
    pub timestamp: Option<TimeParser>,
    pub severity: Option<SeverityParser>,
    pub trace: Option<TraceParser>,
    pub scope_name: Option<Field>,
}

impl ParserFields {
    fn new(parse_from: Field, parse_to: Field) -> ParserFields {
        ParserFields {
            parse_from,
            parse_to,
            body: None,
            timestamp: None,
            severity: None,
            trace: None,
            scope_name: None,
        }
    }

    /// The raw value to parse.
    fn value<'e>(&self, entry: &'e Entry) -> Result<&'e Json, String> {
        self.parse_from
            .get(entry)
            .ok_or_else(|| "Entry is missing the expected parse_from field.".to_string())
    }

    /// After parsing, as the Collector's `ParseWith`: the parsed value to `parse_to`, the `body`
    /// field to the body, then every embedded parser, reporting the first that failed.
    pub fn finish(&self, entry: &mut Entry, parsed: Json) -> Result<(), String> {
        self.parse_to.set(entry, parsed).map_err(|e| format!("set parse_to: {e}"))?;
        if let Some(body) = &self.body {
            if let Some(value) = body.get(entry).cloned() {
                entry.body = value;
            }
        }
        let time = self.timestamp.as_ref().map(|t| t.apply(entry)).unwrap_or(Ok(()));
        let severity = self.severity.as_ref().map(|s| s.apply(entry)).unwrap_or(Ok(()));
        let trace = self.trace.as_ref().map(|t| t.apply(entry)).unwrap_or(Ok(()));
        let scope = self.scope_name.as_ref().map(|f| scope_name(f, entry)).unwrap_or(Ok(()));
        time.map_err(|e| format!("time parser: {e}"))?;
        severity.map_err(|e| format!("severity parser: {e}"))?;
        trace.map_err(|e| format!("trace parser: {e}"))?;
        scope.map_err(|e| format!("scope_name parser: {e}"))
    }
}

/// The trace parser: hex trace id, span id and flags, each from its field (by default
/// `body.trace_id`, `body.span_id`, `body.trace_flags`); a missing field leaves the id empty.
#[derive(Clone, Debug)]
pub struct TraceParser {
    pub trace_id: Field,
    pub span_id: Field,
    pub trace_flags: Field,
}

impl TraceParser {
    fn apply(&self, entry: &mut Entry) -> Result<(), String> {
        let mut errors = Vec::new();
        let mut decode = |field: &Field, name: &str| -> Vec<u8> {
            let text = match field.get(entry) {
                None => return Vec::new(),
                Some(Json::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            hex::decode(&text).unwrap_or_else(|e| {
                errors.push(format!("{name}: {e}"));
                Vec::new()
            })
        };
        let trace_id = decode(&self.trace_id, "trace_id");
        let span_id = decode(&self.span_id, "span_id");
        let trace_flags = decode(&self.trace_flags, "trace_flags");
        entry.trace_id = trace_id;
        entry.span_id = span_id;
        entry.trace_flags = trace_flags;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("Error decoding traces for logs ({})", errors.join("; ")))
        }
    }
}

fn scope_name(field: &Field, entry: &mut Entry) -> Result<(), String> {
    let name = match field.get(entry) {
        Some(Json::String(s)) => s.clone(),
        Some(_) => return Err("parse_from field does not contain a string".into()),
        None => return Err("log entry does not have the expected parse_from field".into()),
    };
    entry.scope_name = name;
    Ok(())
}

pub const OPERATOR_TYPES: &[&str] = &[
    "json_parser",
    "regex_parser",
    "container",
    "time_parser",
    "severity_parser",
    "trace_parser",
    "scope_name_parser",
    "router",
    "noop",
    "move",
    "copy",
    "add",
    "remove",
];

// ---------------------------------------------------------------------------------------------
// The pipeline

/// The operators, their outputs resolved; entries enter at the first.
#[derive(Clone, Debug, Default)]
pub struct Pipeline {
    pub operators: Vec<Operator>,
}

/// What a pipeline holds between polls: CRI partial lines waiting for their last part.
#[derive(Clone, Debug, Default)]
pub struct PipelineState {
    pending: Vec<Pending>,
}

impl PipelineState {
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// The parts of one file's partial CRI line so far, at one container operator.
#[derive(Clone, Debug)]
struct Pending {
    operator: usize,
    source: String,
    /// The first part, which the joined line is sent as (the Collector's `overwrite_with: oldest`).
    base: Entry,
    joined: String,
    since: Instant,
}

/// The Collector's recombine `force_flush_period` default: a partial line waits this long at most.
const RECOMBINE_FORCE_FLUSH: Duration = Duration::from_secs(5);
/// The Collector's recombine `max_sources` default.
const RECOMBINE_MAX_SOURCES: usize = 1000;

/// What an operator did with an entry.
enum Step<'p> {
    /// To the operator's outputs (none: dropped or held).
    Emit(Vec<Entry>),
    /// To these targets (a router's route).
    Route(Box<Entry>, &'p [Target]),
}

impl Pipeline {
    pub fn is_empty(&self) -> bool {
        self.operators.is_empty()
    }

    /// Runs a poll's entries through the operators; what comes out of the last ones is returned.
    /// Partial CRI lines wait in `state` for their last part (at most `RECOMBINE_FORCE_FLUSH`,
    /// counted at the polls).
    pub fn run(&self, state: &mut PipelineState, entries: Vec<Entry>) -> Vec<Entry> {
        if self.operators.is_empty() {
            return entries;
        }
        let mut out = Vec::new();
        self.flush(state, false, &mut out);
        for entry in entries {
            self.process(state, Target::Operator(0), entry, &mut out);
        }
        out
    }

    /// Sends on every partial line still waiting (at shutdown).
    pub fn flush_all(&self, state: &mut PipelineState) -> Vec<Entry> {
        let mut out = Vec::new();
        self.flush(state, true, &mut out);
        out
    }

    fn flush(&self, state: &mut PipelineState, all: bool, out: &mut Vec<Entry>) {
        let (due, waiting): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut state.pending)
            .into_iter()
            .partition(|p| all || p.since.elapsed() >= RECOMBINE_FORCE_FLUSH);
        state.pending = waiting;
        for pending in due {
            let operator = pending.operator;
            let entry = joined(pending);
            self.emit(state, operator, vec![entry], out);
        }
    }

    fn emit(&self, state: &mut PipelineState, operator: usize, entries: Vec<Entry>, out: &mut Vec<Entry>) {
        let targets = self.operators[operator].outputs.clone();
        for entry in entries {
            fan_out(&targets, entry, &mut |target, entry| self.process(state, target, entry, out));
        }
    }

    fn process(&self, state: &mut PipelineState, start: Target, entry: Entry, out: &mut Vec<Entry>) {
        let mut stack = vec![(start, entry)];
        while let Some((target, entry)) = stack.pop() {
            let index = match target {
                Target::Out => {
                    out.push(entry);
                    continue;
                }
                Target::Operator(index) => index,
            };
            let operator = &self.operators[index];
            // Pushed in reverse, so the first output is processed first.
            let mut next: Vec<(Target, Entry)> = Vec::new();
            match self.step(index, entry, state) {
                Step::Emit(entries) => {
                    for entry in entries {
                        fan_out(&operator.outputs, entry, &mut |t, e| next.push((t, e)));
                    }
                }
                Step::Route(entry, targets) => fan_out(targets, *entry, &mut |t, e| next.push((t, e))),
            }
            stack.extend(next.into_iter().rev());
        }
    }

    fn step<'p>(&'p self, index: usize, mut entry: Entry, state: &mut PipelineState) -> Step<'p> {
        let operator = &self.operators[index];
        if let OperatorKind::Router(routes) = &operator.kind {
            for route in routes {
                match route.expr.eval_bool(&entry) {
                    Ok(true) => {
                        for (key, value) in &route.attributes {
                            match value.render(&entry) {
                                Ok(text) => {
                                    entry.attributes.insert(key.clone(), Json::String(text));
                                }
                                Err(error) => {
                                    operator.warn(&format!("failed to label entry: {error}"));
                                    return Step::Emit(Vec::new());
                                }
                            }
                        }
                        return Step::Route(Box::new(entry), &route.outputs);
                    }
                    Ok(false) => {}
                    Err(error) => operator.warn(&format!("running the route expression '{}': {error}", route.expr.source())),
                }
            }
            // Matched by no route: dropped, as the Collector's router does.
            return Step::Emit(Vec::new());
        }
        if let Some(condition) = &operator.condition {
            match condition.eval_bool(&entry) {
                Ok(true) => {}
                Ok(false) => return Step::Emit(vec![entry]),
                Err(error) => return operator.failed(entry, format!("running if expr: {error}")),
            }
        }
        if let OperatorKind::Container(parser) = &operator.kind {
            return match parser.parse(&mut entry, &operator.id) {
                Ok(false) => Step::Emit(vec![entry]),
                Ok(true) => Step::Emit(recombine(state, index, parser.max_log_size, entry)),
                Err(error) => operator.failed(entry, error),
            };
        }
        match operator.kind.apply(&mut entry) {
            Ok(()) => Step::Emit(vec![entry]),
            Err(error) => operator.failed(entry, error),
        }
    }
}

/// Hands `entry` to each target, a copy to all but the last.
fn fan_out(targets: &[Target], entry: Entry, each: &mut dyn FnMut(Target, Entry)) {
    if let Some((last, rest)) = targets.split_last() {
        for target in rest {
            each(*target, entry.clone());
        }
        each(*last, entry);
    }
}

/// The container operator's recombining of CRI lines: a line tagged `F` ends the line its file's
/// waiting `P` parts began (the parts' bodies joined, sent as the first part); a `P` part waits,
/// unless the joined body is over `max_log_size`.
fn recombine(state: &mut PipelineState, operator: usize, max_log_size: usize, entry: Entry) -> Vec<Entry> {
    let last = entry.attributes.get("logtag").and_then(Json::as_str) == Some("F");
    let source = match entry.attributes.get("log.file.path") {
        Some(Json::String(path)) if !path.is_empty() => path.clone(),
        _ => "DefaultSourceIdentifier".to_string(),
    };
    let text = match &entry.body {
        Json::String(s) => s.clone(),
        _ => String::new(),
    };
    let mut out = Vec::new();
    let found = state.pending.iter().position(|p| p.operator == operator && p.source == source);
    let at = match found {
        Some(i) => {
            state.pending[i].joined.push_str(&text);
            i
        }
        None => {
            if last {
                // A whole line: nothing to join.
                return vec![entry];
            }
            if state.pending.iter().filter(|p| p.operator == operator).count() >= RECOMBINE_MAX_SOURCES {
                let (flushed, kept): (Vec<Pending>, Vec<Pending>) =
                    std::mem::take(&mut state.pending).into_iter().partition(|p| p.operator == operator);
                state.pending = kept;
                out.extend(flushed.into_iter().map(joined));
            }
            state.pending.push(Pending {
                operator,
                source,
                base: entry,
                joined: text,
                since: Instant::now(),
            });
            state.pending.len() - 1
        }
    };
    if last || (max_log_size > 0 && state.pending[at].joined.len() > max_log_size) {
        out.push(joined(state.pending.remove(at)));
    }
    out
}

fn joined(pending: Pending) -> Entry {
    let mut entry = pending.base;
    entry.body = Json::String(pending.joined);
    entry
}

impl Operator {
    /// `on_error`: the entry goes on or is dropped, with a warning unless quiet.
    fn failed(&self, entry: Entry, error: String) -> Step<'static> {
        match self.on_error {
            OnError::Send { quiet } | OnError::Drop { quiet } if !quiet => self.warn(&error),
            _ => tracing::debug!(operator = %self.id, %error, "filelog: an operator failed on an entry"),
        }
        match self.on_error {
            OnError::Send { .. } => Step::Emit(vec![entry]),
            OnError::Drop { .. } => Step::Emit(Vec::new()),
        }
    }

    /// Warns at the 1st, 10th, 100th... failure of this operator.
    fn warn(&self, error: &str) {
        let count = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let digits = count.to_string();
        if digits.starts_with('1') && digits[1..].bytes().all(|b| b == b'0') {
            tracing::warn!(operator = %self.id, failures = count, %error, "filelog: an operator failed on an entry");
        }
    }
}

impl OperatorKind {
    fn apply(&self, entry: &mut Entry) -> Result<(), String> {
        match self {
            OperatorKind::Json { fields, parse_ints } => {
                let parsed = match fields.value(entry)? {
                    Json::String(text) => {
                        serde_json::from_str::<Map<String, Json>>(text).map_err(|e| format!("json_parser: not a JSON object ({e})"))?
                    }
                    other => return Err(format!("type {} cannot be parsed as JSON", kind_name(other))),
                };
                let mut parsed = Json::Object(parsed);
                if !parse_ints {
                    // As the Collector (without parse_ints): every JSON number is a float.
                    floats(&mut parsed);
                }
                fields.finish(entry, parsed)
            }
            OperatorKind::Regex { regex, fields } => {
                let text = match fields.value(entry)? {
                    Json::String(s) => s.clone(),
                    other => return Err(format!("type '{}' cannot be parsed as regex", kind_name(other))),
                };
                let captures = regex
                    .captures(&text)
                    .ok_or_else(|| format!("regex pattern does not match '{}'", truncated(&text)))?;
                let mut values = Map::new();
                for name in regex.capture_names().flatten() {
                    if let Some(m) = captures.name(name) {
                        values.insert(name.to_string(), Json::String(m.as_str().to_string()));
                    }
                }
                fields.finish(entry, Json::Object(values))
            }
            OperatorKind::Time(parser) => parser.apply(entry),
            OperatorKind::Severity(parser) => parser.apply(entry),
            OperatorKind::Trace(parser) => parser.apply(entry),
            OperatorKind::ScopeName(field) => scope_name(field, entry),
            // Handled by the pipeline.
            OperatorKind::Router(_) | OperatorKind::Container(_) | OperatorKind::Noop => Ok(()),
            OperatorKind::Move { from, to } => {
                let value = from
                    .remove(entry)
                    .ok_or_else(|| format!("move: field does not exist: {}", field_text(from)))?;
                to.set(entry, value)
            }
            OperatorKind::Copy { from, to } => {
                let value = from
                    .get(entry)
                    .cloned()
                    .ok_or_else(|| format!("copy: from field does not exist in entry: {}", field_text(from)))?;
                to.set(entry, value)
            }
            OperatorKind::Add { field, value } => {
                let value = match value {
                    AddValue::Literal(value) => value.clone(),
                    AddValue::Expr(expr) => expr.eval(entry)?,
                };
                field.set(entry, value)
            }
            OperatorKind::Remove { field } => field
                .remove(entry)
                .map(|_| ())
                .ok_or_else(|| format!("remove: field does not exist: {}", field_text(field))),
        }
    }
}

/// Every number in `value` as a float.
fn floats(value: &mut Json) {
    match value {
        Json::Number(n) if !n.is_f64() => {
            if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                *n = f;
            }
        }
        Json::Array(items) => items.iter_mut().for_each(floats),
        Json::Object(map) => map.values_mut().for_each(floats),
        _ => {}
    }
}

/// A field as the Collector writes it: `attributes.a.b`, or `attributes["a.b"]` when a key has a dot.
fn field_text(field: &Field) -> String {
    let (root, keys) = match field {
        Field::Body(keys) => ("body", keys),
        Field::Attributes(keys) => ("attributes", keys),
        Field::Resource(keys) => ("resource", keys),
    };
    if keys.iter().any(|k| k.contains('.')) {
        keys.iter().fold(root.to_string(), |s, k| format!("{s}['{k}']"))
    } else {
        keys.iter().fold(root.to_string(), |s, k| format!("{s}.{k}"))
    }
}

fn kind_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "<nil>",
        Json::Bool(_) => "bool",
        Json::Number(_) => "float64",
        Json::String(_) => "string",
        Json::Array(_) => "[]interface {}",
        Json::Object(_) => "map[string]interface {}",
    }
}

fn truncated(text: &str) -> &str {
    match text.char_indices().nth(80) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

// ---------------------------------------------------------------------------------------------
// Time

#[derive(Clone, Debug)]
pub struct TimeParser {
    pub parse_from: Field,
    pub layout: Layout,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    /// strptime and gotime layouts, both read into the same directives.
    Pattern(Vec<Directive>),
    Epoch(EpochUnit),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EpochUnit {
    S,
    Ms,
    Us,
    Ns,
    /// `s.ms`, `s.us`, `s.ns`: seconds with a fraction.
    SFraction,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Directive {
    Literal(char),
    Year,
    Year2,
    Month,
    MonthName,
    Day,
    DaySpaced,
    Hour,
    Hour12,
    Minute,
    Second,
    /// Fraction digits after a literal dot (any count).
    Fraction,
    /// Go's `.999`: a dot or comma and fraction digits, or nothing.
    OptionalFraction,
    AmPm,
    /// `+hhmm`, `+hh:mm` or `Z`.
    Offset,
    /// A zone name: only UTC, GMT and Z are known (offset 0).
    ZoneName,
    WeekdayName,
    UnixSeconds,
}

impl TimeParser {
    fn apply(&self, entry: &mut Entry) -> Result<(), String> {
        let value = self
            .parse_from
            .get(entry)
            .cloned()
            .ok_or_else(|| "time_parser: the field to parse from does not exist".to_string())?;
        let nanos = match (&self.layout, &value) {
            // As the Collector: an integer as it is, a float (JSON numbers, which json_parser
            // makes floats) printed with the unit's precision.
            (Layout::Epoch(unit), Json::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(i), _) => epoch_nanos(*unit, &i.to_string())?,
                (None, Some(f)) if *unit == EpochUnit::SFraction => epoch_nanos(*unit, &format!("{f:.9}"))?,
                (None, Some(f)) => epoch_nanos(*unit, &format!("{f:.0}"))?,
                (None, None) => return Err(format!("time_parser: '{n}' is not an epoch time")),
            },
            (Layout::Epoch(unit), Json::String(s)) => epoch_nanos(*unit, s)?,
            (Layout::Pattern(directives), Json::String(s)) => parse_time(directives, s)?,
            (_, other) => return Err(format!("time_parser: cannot parse a time from {other}")),
        };
        entry.timestamp = Some(nanos);
        Ok(())
    }
}

fn epoch_nanos(unit: EpochUnit, text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("time_parser: '{text}' is not an epoch time");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let scale = match unit {
        EpochUnit::S | EpochUnit::SFraction => 1_000_000_000,
        EpochUnit::Ms => 1_000_000,
        EpochUnit::Us => 1_000,
        EpochUnit::Ns => 1,
    };
    let mut nanos = whole.checked_mul(scale).ok_or_else(bad)?;
    if !fraction.is_empty() {
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
        let frac: u64 = digits.parse().map_err(|_| bad())?;
        nanos += frac * scale / 1_000_000_000;
    }
    Ok(nanos)
}

/// Reads a strptime layout: `%Y %y %m %b %h %B %d %e %H %I %M %S %L %f %N %p %z %Z %a %A %s %%`.
pub fn strptime(layout: &str) -> Result<Vec<Directive>, String> {
    let mut out = Vec::new();
    let mut chars = layout.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(Directive::Literal(c));
            continue;
        }
        let d = chars.next().ok_or("a layout may not end with %")?;
        out.push(match d {
            'Y' => Directive::Year,
            'y' => Directive::Year2,
            'm' => Directive::Month,
            'b' | 'h' | 'B' => Directive::MonthName,
            'd' => Directive::Day,
            'e' => Directive::DaySpaced,
            'H' => Directive::Hour,
            'I' => Directive::Hour12,
            'M' => Directive::Minute,
            'S' => Directive::Second,
            'L' | 'f' | 'N' => Directive::Fraction,
            'p' => Directive::AmPm,
            'z' => Directive::Offset,
            'Z' => Directive::ZoneName,
            'a' | 'A' => Directive::WeekdayName,
            's' => Directive::UnixSeconds,
            '%' => Directive::Literal('%'),
            other => return Err(format!("the directive %{other} is not supported")),
        });
    }
    Ok(out)
}

/// Reads a Go reference-time layout (`2006-01-02T15:04:05.000Z07:00`).
pub fn gotime(layout: &str) -> Result<Vec<Directive>, String> {
    const TOKENS: &[(&str, Directive)] = &[
        ("2006", Directive::Year),
        ("Z07:00", Directive::Offset),
        ("-07:00", Directive::Offset),
        ("Z0700", Directive::Offset),
        ("-0700", Directive::Offset),
        ("January", Directive::MonthName),
        ("Monday", Directive::WeekdayName),
        ("Jan", Directive::MonthName),
        ("Mon", Directive::WeekdayName),
        ("MST", Directive::ZoneName),
        ("01", Directive::Month),
        ("02", Directive::Day),
        ("_2", Directive::DaySpaced),
        ("15", Directive::Hour),
        ("03", Directive::Hour12),
        ("04", Directive::Minute),
        ("05", Directive::Second),
        ("06", Directive::Year2),
        ("PM", Directive::AmPm),
    ];
    let mut out = Vec::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        // A fraction: a dot or comma followed by 0s (required) or 9s (optional).
        if let Some(after) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
            let nines = after.bytes().take_while(|b| *b == b'9').count();
            if nines > 0 && !after[nines..].starts_with(|c: char| c.is_ascii_digit()) {
                out.push(Directive::OptionalFraction);
                rest = &after[nines..];
                continue;
            }
            let digits = after.bytes().take_while(|b| *b == b'0').count();
            if digits > 0 && !after[digits..].starts_with(|c: char| c.is_ascii_digit()) {
                out.push(Directive::Literal(rest.chars().next().unwrap_or('.')));
                out.push(Directive::Fraction);
                rest = &after[digits..];
                continue;
            }
        }
        for (token, directive) in TOKENS {
            if let Some(after) = rest.strip_prefix(token) {
                out.push(directive.clone());
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(Directive::Literal(c));
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// Parses `text` by the directives into Unix nanoseconds (UTC unless the text has an offset).
pub fn parse_time(directives: &[Directive], text: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("time_parser: '{}' does not match the layout ({why})", truncated(text));
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) = (1970i64, 1i64, 1i64, 0i64, 0i64, 0i64);
    let (mut nanos, mut offset_seconds, mut pm) = (0i64, 0i64, None::<bool>);
    let mut unix: Option<i64> = None;
    let mut s = text.as_bytes();
    fn number(s: &mut &[u8], max: usize) -> Option<i64> {
        let n = s.iter().take(max).take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let value = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
        *s = &s[n..];
        Some(value)
    }
    fn letters<'t>(s: &mut &'t [u8]) -> &'t [u8] {
        let n = s.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let (word, rest) = s.split_at(n);
        *s = rest;
        word
    }
    fn fraction(s: &mut &[u8]) -> Option<i64> {
        let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let digits: String = s[..n].iter().map(|b| *b as char).chain(std::iter::repeat('0')).take(9).collect();
        *s = &s[n..];
        digits.parse().ok()
    }
    let starts_fraction = |s: &[u8]| s.len() >= 2 && matches!(s[0], b'.' | b',') && s[1].is_ascii_digit();
    for (i, directive) in directives.iter().enumerate() {
        match directive {
            Directive::Literal(c) => {
                let mut buf = [0u8; 4];
                let lit = c.encode_utf8(&mut buf).as_bytes();
                s = s.strip_prefix(lit).ok_or_else(|| bad(&format!("expected '{c}'")))?;
            }
            Directive::Year => year = number(&mut s, 4).ok_or_else(|| bad("year"))?,
            Directive::Year2 => year = 2000 + number(&mut s, 2).ok_or_else(|| bad("year"))?,
            Directive::Month => month = number(&mut s, 2).ok_or_else(|| bad("month"))?,
            Directive::MonthName => {
                let word = String::from_utf8_lossy(letters(&mut s)).to_ascii_lowercase();
                let index = MONTHS.iter().position(|m| word.starts_with(m)).ok_or_else(|| bad("month name"))?;
                month = index as i64 + 1;
            }
            Directive::Day => day = number(&mut s, 2).ok_or_else(|| bad("day"))?,
            Directive::DaySpaced => {
                if s.first() == Some(&b' ') {
                    s = &s[1..];
                }
                day = number(&mut s, 2).ok_or_else(|| bad("day"))?
            }
            Directive::Hour | Directive::Hour12 => hour = number(&mut s, 2).ok_or_else(|| bad("hour"))?,
            Directive::Minute => minute = number(&mut s, 2).ok_or_else(|| bad("minute"))?,
            Directive::Second => {
                second = number(&mut s, 2).ok_or_else(|| bad("second"))?;
                // As Go: a fraction after the seconds is read even when the layout has none.
                let layout_has_fraction = matches!(directives.get(i + 1), Some(Directive::OptionalFraction))
                    || (matches!(directives.get(i + 1), Some(Directive::Literal('.')) | Some(Directive::Literal(',')))
                        && matches!(directives.get(i + 2), Some(Directive::Fraction)));
                if !layout_has_fraction && starts_fraction(s) {
                    s = &s[1..];
                    nanos = fraction(&mut s).ok_or_else(|| bad("fraction"))?;
                }
            }
            Directive::Fraction => nanos = fraction(&mut s).ok_or_else(|| bad("fraction"))?,
            Directive::OptionalFraction => {
                if starts_fraction(s) {
                    s = &s[1..];
                    nanos = fraction(&mut s).ok_or_else(|| bad("fraction"))?;
                }
            }
            Directive::AmPm => {
                let word = String::from_utf8_lossy(letters(&mut s)).to_ascii_lowercase();
                pm = Some(match word.as_str() {
                    "am" => false,
                    "pm" => true,
                    _ => return Err(bad("AM or PM")),
                });
            }
            Directive::Offset => {
                if let Some(rest) = s.strip_prefix(b"Z") {
                    s = rest;
                } else {
                    let sign = match s.first() {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return Err(bad("zone offset")),
                    };
                    s = &s[1..];
                    let hours = number(&mut s, 2).ok_or_else(|| bad("zone offset"))?;
                    if s.first() == Some(&b':') {
                        s = &s[1..];
                    }
                    let minutes = number(&mut s, 2).unwrap_or(0);
                    offset_seconds = sign * (hours * 3600 + minutes * 60);
                }
            }
            Directive::ZoneName => {
                let word = String::from_utf8_lossy(letters(&mut s)).to_ascii_uppercase();
                if !matches!(word.as_str(), "UTC" | "GMT" | "Z") {
                    return Err(bad("only the zone names UTC and GMT are known; use an offset like +0200"));
                }
            }
            Directive::WeekdayName => {
                letters(&mut s);
            }
            Directive::UnixSeconds => {
                let negative = s.first() == Some(&b'-');
                if negative {
                    s = &s[1..];
                }
                let value = number(&mut s, 19).ok_or_else(|| bad("unix seconds"))?;
                unix = Some(if negative { -value } else { value });
            }
        }
    }
    if !s.is_empty() {
        return Err(bad("text left over"));
    }
    if let Some(pm) = pm {
        hour = match (pm, hour) {
            (false, 12) => 0,
            (true, h) if h < 12 => h + 12,
            (_, h) => h,
        };
    }
    let seconds = match unix {
        Some(seconds) => seconds,
        None => {
            if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
                return Err(bad("a field is out of range"));
            }
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds
        }
    };
    if seconds < 0 {
        return Err(bad("before 1970"));
    }
    Ok(seconds as u64 * 1_000_000_000 + nanos as u64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------------
// Severity

#[derive(Clone, Debug)]
pub struct SeverityParser {
    pub parse_from: Field,
    /// The configured `mapping`, checked before the default names.
    pub mapping: Vec<(SeverityMatch, i32)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SeverityMatch {
    /// Compared case-insensitively.
    Text(String),
    Range(i64, i64),
}

/// The names `mapping` keys may have, with their severity numbers (`error2` is 18, ...).
pub fn severity_number_of(name: &str) -> Option<i32> {
    let name = name.to_ascii_lowercase();
    let split = name.find(|c: char| c.is_ascii_digit()).unwrap_or(name.len());
    let (level, step) = name.split_at(split);
    let base = match level {
        "trace" => 1,
        "debug" => 5,
        "info" => 9,
        "warn" => 13,
        "error" => 17,
        "fatal" => 21,
        _ => return None,
    };
    let step: i32 = if step.is_empty() { 1 } else { step.parse().ok()? };
    (1..=4).contains(&step).then_some(base + step - 1)
}

/// The names every severity parser knows, as the Collector's default preset.
fn default_severity(text: &str) -> Option<i32> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "warning" => Some(13),
        "err" => Some(17),
        "critical" | "crit" | "emerg" | "emergency" | "alert" => Some(21),
        "information" | "notice" => Some(9),
        other => severity_number_of(other),
    }
}

impl SeverityParser {
    fn apply(&self, entry: &mut Entry) -> Result<(), String> {
        let value = self
            .parse_from
            .get(entry)
            .cloned()
            .ok_or_else(|| "severity_parser: the field to parse from does not exist".to_string())?;
        let text = match &value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        let number = text.trim().parse::<i64>().ok();
        let found = self
            .mapping
            .iter()
            .find(|(m, _)| match m {
                SeverityMatch::Text(t) => t.eq_ignore_ascii_case(text.trim()),
                SeverityMatch::Range(min, max) => number.is_some_and(|n| (*min..=*max).contains(&n)),
            })
            .map(|(_, n)| *n)
            .or_else(|| default_severity(&text));
        entry.severity_text = text;
        entry.severity_number = found.unwrap_or(0);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Config

fn field(p: &mut Parser, body: &Mapping, key: &str, default: Option<&str>, at: &str) -> Option<Field> {
    let path = format!("{at}.{key}");
    let text = match body.get(key) {
        Some(v) => p.string(v, &path)?,
        None => match default {
            Some(d) => d.to_string(),
            None => {
                p.error(at, format!("{key} is required"));
                return None;
            }
        },
    };
    Field::parse(&text).map_err(|e| p.error(&path, e)).ok()
}

/// `output: id` or `output: [id, ...]`.
fn string_or_list(p: &mut Parser, value: Option<&Value>, at: &str) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        other => p.string_list(other, at),
    }
}

fn expression(p: &mut Parser, value: &Value, at: &str) -> Option<Expr> {
    let text = p.string(value, at)?;
    Expr::parse(&text)
        .map_err(|e| p.error(at, format!("failed to compile expression '{text}': {e}")))
        .ok()
}

/// The keys of every operator but the router.
const TRANSFORMER_KEYS: &[&str] = &["type", "id", "output", "on_error", "if"];
/// The keys every parser adds.
const PARSER_KEYS: &[&str] = &["parse_from", "parse_to", "body", "timestamp", "severity", "trace", "scope_name"];

/// An operator as read, before the outputs are resolved.
struct Read {
    at: String,
    kind_type: String,
    output_ids: Vec<String>,
    /// A router's routes' (and `default`'s) output ids, with their paths.
    route_output_ids: Vec<(Vec<String>, String)>,
    operator: Operator,
}

/// Parses the `operators` list into the pipeline: ids, `output`s (by default the next operator)
/// and router routes resolved, as the Collector builds its operator graph. Every unknown type is
/// refused by name.
pub fn parse_operators(p: &mut Parser, value: Option<&Value>, path: &str) -> Pipeline {
    let mut read: Vec<Read> = Vec::new();
    for (at, item) in p.list(value, path) {
        let Some(body) = p.mapping(Some(item), &at) else { continue };
        let Some(kind) = body.get("type").and_then(|v| p.string(v, &format!("{at}.type"))) else {
            if body.get("type").is_none() {
                p.error(&at, format!("type is required (one of: {})", OPERATOR_TYPES.join(", ")));
            }
            continue;
        };
        let id = match body.get("id") {
            Some(v) => p.string(v, &format!("{at}.id")).unwrap_or_else(|| kind.clone()),
            None => kind.clone(),
        };
        let on_error = match body.get("on_error").and_then(|v| p.string(v, &format!("{at}.on_error"))).as_deref() {
            None | Some("send") => OnError::Send { quiet: false },
            Some("send_quiet") => OnError::Send { quiet: true },
            Some("drop") => OnError::Drop { quiet: false },
            Some("drop_quiet") => OnError::Drop { quiet: true },
            Some(other) => {
                p.error(
                    &format!("{at}.on_error"),
                    format!("expected send, send_quiet, drop or drop_quiet, got '{other}'"),
                );
                OnError::Send { quiet: false }
            }
        };
        let condition = body.get("if").and_then(|v| expression(p, v, &format!("{at}.if")));
        let output_ids = string_or_list(p, body.get("output"), &format!("{at}.output"));
        let keys = |extra: &[&'static str]| -> Vec<&'static str> { TRANSFORMER_KEYS.iter().chain(extra).copied().collect() };
        let parser_keys =
            |extra: &[&'static str]| -> Vec<&'static str> { TRANSFORMER_KEYS.iter().chain(PARSER_KEYS).chain(extra).copied().collect() };
        let mut route_output_ids = Vec::new();
        let parsed = match kind.as_str() {
            "json_parser" => {
                p.only_keys(body, &parser_keys(&["parse_ints"]), &at);
                let parse_ints = body
                    .get("parse_ints")
                    .and_then(|v| p.boolean(v, &format!("{at}.parse_ints")))
                    .unwrap_or(false);
                parse_fields(p, body, &at).map(|fields| OperatorKind::Json { fields, parse_ints })
            }
            "regex_parser" => {
                p.only_keys(body, &parser_keys(&["regex", "cache"]), &at);
                let regex = match body.get("regex") {
                    Some(v) => p.regex(v, &format!("{at}.regex")),
                    None => {
                        p.error(&at, "regex is required (with named groups like (?P<level>\\w+))");
                        None
                    }
                };
                if let Some(cache) = body.get("cache") {
                    // A cache of results: an optimization otelbox does without.
                    let cache_at = format!("{at}.cache");
                    if let Some(m) = p.mapping(Some(cache), &cache_at) {
                        p.only_keys(m, &["size"], &cache_at);
                    }
                }
                match (regex, parse_fields(p, body, &at)) {
                    (Some(regex), Some(fields)) => Some(OperatorKind::Regex { regex, fields }),
                    _ => None,
                }
            }
            "container" => {
                p.only_keys(body, &parser_keys(&["format", "add_metadata_from_filepath", "max_log_size"]), &at);
                let format_at = format!("{at}.format");
                let format = match body.get("format").map(|v| p.string(v, &format_at)) {
                    None | Some(None) => None,
                    Some(Some(name)) if name.is_empty() => None,
                    Some(Some(name)) => {
                        let format = ContainerFormat::named(&name);
                        if format.is_none() {
                            p.error(&format_at, format!("expected docker, crio or containerd, got '{name}'"));
                        }
                        format
                    }
                };
                let add_metadata = body
                    .get("add_metadata_from_filepath")
                    .and_then(|v| p.boolean(v, &format!("{at}.add_metadata_from_filepath")))
                    .unwrap_or(true);
                let max_log_size = body
                    .get("max_log_size")
                    .and_then(|v| p.size(v, &format!("{at}.max_log_size")))
                    .map_or(super::container::DEFAULT_MAX_LOG_SIZE, |n| n as usize);
                parse_fields(p, body, &at)
                    .map(|fields| OperatorKind::Container(Box::new(ContainerParser::new(format, add_metadata, max_log_size, fields))))
            }
            "time_parser" => {
                p.only_keys(body, &keys(&["parse_from", "layout_type", "layout", "location"]), &at);
                parse_time_parser(p, body, &at).map(OperatorKind::Time)
            }
            "severity_parser" => {
                p.only_keys(body, &keys(&["parse_from", "mapping", "preset"]), &at);
                parse_severity_parser(p, body, &at).map(OperatorKind::Severity)
            }
            "trace_parser" => {
                p.only_keys(body, &keys(&["trace_id", "span_id", "trace_flags"]), &at);
                parse_trace_parser(p, body, &at).map(OperatorKind::Trace)
            }
            "scope_name_parser" => {
                p.only_keys(body, &keys(&["parse_from"]), &at);
                field(p, body, "parse_from", None, &at).map(OperatorKind::ScopeName)
            }
            "noop" => {
                p.only_keys(body, &keys(&[]), &at);
                Some(OperatorKind::Noop)
            }
            "router" => {
                p.only_keys(body, &["type", "id", "routes", "default"], &at);
                let mut routes = Vec::new();
                for (route_at, item) in p.list(body.get("routes"), &format!("{at}.routes")) {
                    let Some(route) = p.mapping(Some(item), &route_at) else { continue };
                    p.only_keys(route, &["output", "expr", "attributes"], &route_at);
                    let expr = match route.get("expr") {
                        Some(v) => expression(p, v, &format!("{route_at}.expr")),
                        None => {
                            p.error(&route_at, "expr is required (like 'body matches \"^\\\\{\"')");
                            None
                        }
                    };
                    let output_at = format!("{route_at}.output");
                    if route.get("output").is_none() {
                        p.error(&route_at, "output is required (the id of the operator matching entries go to)");
                    }
                    let outputs = string_or_list(p, route.get("output"), &output_at);
                    let mut attributes = Vec::new();
                    let attributes_at = format!("{route_at}.attributes");
                    for (key, value) in p.entries(route.get("attributes"), &attributes_at) {
                        let value_at = format!("{attributes_at}.{key}");
                        if let Some(text) = p.string(value, &value_at) {
                            match ExprString::parse(&text) {
                                Ok(rendered) => attributes.push((key, rendered)),
                                Err(e) => p.error(&value_at, e),
                            }
                        }
                    }
                    if let Some(expr) = expr {
                        routes.push(Route {
                            expr,
                            attributes,
                            outputs: Vec::new(),
                        });
                        route_output_ids.push((outputs, output_at));
                    }
                }
                if let Some(v) = body.get("default") {
                    let default_at = format!("{at}.default");
                    let outputs = string_or_list(p, Some(v), &default_at);
                    routes.push(Route {
                        expr: Expr::parse("true").expect("a valid expression"),
                        attributes: Vec::new(),
                        outputs: Vec::new(),
                    });
                    route_output_ids.push((outputs, default_at));
                }
                Some(OperatorKind::Router(routes))
            }
            "move" | "copy" => {
                p.only_keys(body, &keys(&["from", "to"]), &at);
                match (field(p, body, "from", None, &at), field(p, body, "to", None, &at)) {
                    (Some(from), Some(to)) if kind == "move" => Some(OperatorKind::Move { from, to }),
                    (Some(from), Some(to)) => Some(OperatorKind::Copy { from, to }),
                    _ => None,
                }
            }
            "add" => {
                p.only_keys(body, &keys(&["field", "value"]), &at);
                let value_at = format!("{at}.value");
                let value = match body.get("value") {
                    None => {
                        p.error(&at, "value is required");
                        None
                    }
                    Some(Value::String(s)) if super::expr::whole_expr(s).is_some() => {
                        let source = super::expr::whole_expr(s).unwrap_or_default();
                        Expr::parse(source)
                            .map(AddValue::Expr)
                            .map_err(|e| p.error(&value_at, format!("failed to compile expression '{source}': {e}")))
                            .ok()
                    }
                    Some(v) => serde_json::to_value(v)
                        .map(AddValue::Literal)
                        .map_err(|e| p.error(&value_at, format!("cannot be a log value ({e})")))
                        .ok(),
                };
                match (field(p, body, "field", None, &at), value) {
                    (Some(field), Some(value)) => Some(OperatorKind::Add { field, value }),
                    _ => None,
                }
            }
            "remove" => {
                p.only_keys(body, &keys(&["field"]), &at);
                field(p, body, "field", None, &at).map(|field| OperatorKind::Remove { field })
            }
            other => {
                p.error(
                    &format!("{at}.type"),
                    format!(
                        "the operator type \"{other}\" is not supported by otelbox yet (it has: {})",
                        OPERATOR_TYPES.join(", ")
                    ),
                );
                None
            }
        };
        // An operator that did not parse (its errors are reported) still holds its place and id,
        // so the outputs naming it resolve.
        read.push(Read {
            at,
            kind_type: kind,
            output_ids,
            route_output_ids,
            operator: Operator {
                id,
                kind: parsed.unwrap_or(OperatorKind::Noop),
                on_error,
                condition,
                outputs: Vec::new(),
                failures: Arc::new(AtomicU64::new(0)),
            },
        });
    }
    link(p, &mut read, path);
    Pipeline {
        operators: read.into_iter().map(|r| r.operator).collect(),
    }
}

/// Names operators as the Collector (a second `move` without an id is `move1`, ...), checks the
/// ids are unique, resolves the outputs (by default the next operator, the last's out of the
/// receiver) and refuses cycles.
fn link(p: &mut Parser, read: &mut [Read], path: &str) {
    let mut seen_types: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for i in 0..read.len() {
        if read[i].operator.id != read[i].kind_type {
            continue;
        }
        let kind = read[i].kind_type.clone();
        let count = seen_types.entry(kind.clone()).or_insert(0);
        if *count == 0 {
            *count = 1;
            continue;
        }
        let mut id = format!("{kind}{count}");
        while read.iter().any(|r| r.operator.id == id) {
            *count += 1;
            id = format!("{kind}{count}");
        }
        *count += 1;
        read[i].operator.id = id;
    }
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, r) in read.iter().enumerate() {
        if index.contains_key(&r.operator.id) {
            p.error(
                &r.at,
                format!(
                    "an operator with id '{}' already exists (give each operator a unique type or id)",
                    r.operator.id
                ),
            );
        } else {
            index.insert(r.operator.id.clone(), i);
        }
    }
    fn resolve(p: &mut Parser, index: &std::collections::HashMap<String, usize>, ids: &[String], at: &str) -> Vec<Target> {
        ids.iter()
            .filter_map(|id| match index.get(id) {
                Some(i) => Some(Target::Operator(*i)),
                None => {
                    p.error(at, format!("the operator '{id}' does not exist (the ids are: {})", ids_of(index)));
                    None
                }
            })
            .collect()
    }
    let count = read.len();
    for (i, r) in read.iter_mut().enumerate() {
        let Read {
            at,
            output_ids,
            route_output_ids,
            operator,
            ..
        } = r;
        if let OperatorKind::Router(routes) = &mut operator.kind {
            for (route, (ids, ids_at)) in routes.iter_mut().zip(route_output_ids.iter()) {
                route.outputs = resolve(p, &index, ids.as_slice(), ids_at.as_str());
            }
        } else if !output_ids.is_empty() {
            operator.outputs = resolve(p, &index, output_ids.as_slice(), format!("{at}.output").as_str());
        } else if i + 1 < count {
            operator.outputs = vec![Target::Operator(i + 1)];
        } else {
            operator.outputs = vec![Target::Out];
        }
    }
    // Cycles: a depth-first search over the outputs.
    let edges: Vec<Vec<usize>> = read
        .iter()
        .map(|r| {
            let mut targets: Vec<Target> = r.operator.outputs.clone();
            if let OperatorKind::Router(routes) = &r.operator.kind {
                targets.extend(routes.iter().flat_map(|route| route.outputs.iter().copied()));
            }
            targets
                .into_iter()
                .filter_map(|t| match t {
                    Target::Operator(i) => Some(i),
                    Target::Out => None,
                })
                .collect()
        })
        .collect();
    // 0: not visited, 1: on the current path, 2: done.
    let mut state = vec![0u8; read.len()];
    let mut trail: Vec<usize> = Vec::new();
    fn visit(node: usize, edges: &[Vec<usize>], state: &mut [u8], trail: &mut Vec<usize>) -> Option<Vec<usize>> {
        state[node] = 1;
        trail.push(node);
        for &next in &edges[node] {
            if state[next] == 1 {
                let start = trail.iter().position(|n| *n == next).unwrap_or(0);
                let mut cycle = trail[start..].to_vec();
                cycle.push(next);
                return Some(cycle);
            }
            if state[next] == 0 {
                if let Some(cycle) = visit(next, edges, state, trail) {
                    return Some(cycle);
                }
            }
        }
        trail.pop();
        state[node] = 2;
        None
    }
    for start in 0..read.len() {
        if state[start] == 0 {
            if let Some(cycle) = visit(start, &edges, &mut state, &mut trail) {
                let names: Vec<&str> = cycle.iter().map(|i| read[*i].operator.id.as_str()).collect();
                p.error(
                    path,
                    format!(
                        "the operators have a circular dependency ({}); connect them in an acyclic line",
                        names.join(" -> ")
                    ),
                );
                return;
            }
        }
    }
}

fn ids_of(index: &std::collections::HashMap<String, usize>) -> String {
    let mut ids: Vec<(&usize, &String)> = index.iter().map(|(id, i)| (i, id)).collect();
    ids.sort();
    ids.into_iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>().join(", ")
}

/// A parser's common keys: `parse_from`, `parse_to`, `body` and the embedded blocks.
fn parse_fields(p: &mut Parser, body: &Mapping, at: &str) -> Option<ParserFields> {
    let parse_from = field(p, body, "parse_from", Some("body"), at);
    let parse_to = field(p, body, "parse_to", Some("attributes"), at);
    let body_field = body.get("body").map(|_| field(p, body, "body", None, at));
    if body_field.is_some() && parse_to == Some(Field::Body(Vec::new())) {
        p.error(
            &format!("{at}.parse_to"),
            "`parse_to: body` is not allowed when `body` is configured",
        );
    }
    let mut timestamp = None;
    if let Some(v) = body.get("timestamp") {
        let path = format!("{at}.timestamp");
        if let Some(inner) = p.mapping(Some(v), &path) {
            p.only_keys(inner, &["parse_from", "layout_type", "layout", "location"], &path);
            timestamp = parse_time_parser(p, inner, &path);
        }
    }
    let mut severity = None;
    if let Some(v) = body.get("severity") {
        let path = format!("{at}.severity");
        if let Some(inner) = p.mapping(Some(v), &path) {
            p.only_keys(inner, &["parse_from", "mapping", "preset"], &path);
            severity = parse_severity_parser(p, inner, &path);
        }
    }
    let mut trace = None;
    if let Some(v) = body.get("trace") {
        let path = format!("{at}.trace");
        if let Some(inner) = p.mapping(Some(v), &path) {
            p.only_keys(inner, &["trace_id", "span_id", "trace_flags"], &path);
            trace = parse_trace_parser(p, inner, &path);
        }
    }
    let mut scope_name = None;
    if let Some(v) = body.get("scope_name") {
        let path = format!("{at}.scope_name");
        if let Some(inner) = p.mapping(Some(v), &path) {
            p.only_keys(inner, &["parse_from"], &path);
            scope_name = field(p, inner, "parse_from", None, &path);
        }
    }
    let mut fields = ParserFields::new(parse_from?, parse_to?);
    fields.body = match body_field {
        Some(parsed) => Some(parsed?),
        None => None,
    };
    fields.timestamp = timestamp;
    fields.severity = severity;
    fields.trace = trace;
    fields.scope_name = scope_name;
    Some(fields)
}

/// `trace_id`, `span_id`, `trace_flags`, each `{ parse_from }` (by default `body.trace_id`, ...).
fn parse_trace_parser(p: &mut Parser, body: &Mapping, at: &str) -> Option<TraceParser> {
    fn part(p: &mut Parser, body: &Mapping, at: &str, key: &str, default: &str) -> Option<Field> {
        let path = format!("{at}.{key}");
        match body.get(key) {
            None => Field::parse(default).ok(),
            Some(v) => {
                let inner = p.mapping(Some(v), &path)?;
                p.only_keys(inner, &["parse_from"], &path);
                field(p, inner, "parse_from", Some(default), &path)
            }
        }
    }
    let trace_id = part(p, body, at, "trace_id", "body.trace_id");
    let span_id = part(p, body, at, "span_id", "body.span_id");
    let trace_flags = part(p, body, at, "trace_flags", "body.trace_flags");
    Some(TraceParser {
        trace_id: trace_id?,
        span_id: span_id?,
        trace_flags: trace_flags?,
    })
}

fn parse_time_parser(p: &mut Parser, body: &Mapping, at: &str) -> Option<TimeParser> {
    let parse_from = field(p, body, "parse_from", None, at);
    let layout_type = match body.get("layout_type") {
        Some(v) => p.string(v, &format!("{at}.layout_type"))?,
        None => "strptime".to_string(),
    };
    if let Some(v) = body.get("location") {
        if let Some(location) = p.string(v, &format!("{at}.location")) {
            if !matches!(location.as_str(), "UTC" | "GMT" | "Etc/UTC") {
                p.error(
                    &format!("{at}.location"),
                    format!("only UTC is supported by otelbox yet, got '{location}'; put the offset in the layout (%z)"),
                );
            }
        }
    }
    let layout_text = body.get("layout").and_then(|v| p.string(v, &format!("{at}.layout")));
    let layout_at = format!("{at}.layout");
    let layout = match layout_type.as_str() {
        "epoch" => {
            let unit = match layout_text.as_deref() {
                Some("s") => EpochUnit::S,
                Some("ms") => EpochUnit::Ms,
                Some("us") => EpochUnit::Us,
                Some("ns") => EpochUnit::Ns,
                Some("s.ms") | Some("s.us") | Some("s.ns") => EpochUnit::SFraction,
                other => {
                    p.error(&layout_at, format!("expected s, ms, us, ns, s.ms, s.us or s.ns, got {other:?}"));
                    return None;
                }
            };
            Layout::Epoch(unit)
        }
        "strptime" | "gotime" => {
            let Some(text) = layout_text else {
                p.error(at, "layout is required");
                return None;
            };
            let directives = if layout_type == "gotime" { gotime(&text) } else { strptime(&text) };
            Layout::Pattern(directives.map_err(|e| p.error(&layout_at, e)).ok()?)
        }
        other => {
            p.error(
                &format!("{at}.layout_type"),
                format!("expected strptime, gotime or epoch, got '{other}'"),
            );
            return None;
        }
    };
    Some(TimeParser {
        parse_from: parse_from?,
        layout,
    })
}

fn parse_severity_parser(p: &mut Parser, body: &Mapping, at: &str) -> Option<SeverityParser> {
    let parse_from = field(p, body, "parse_from", None, at);
    if let Some(v) = body.get("preset") {
        if let Some(preset) = p.string(v, &format!("{at}.preset")) {
            if preset != "default" {
                p.error(
                    &format!("{at}.preset"),
                    format!("only the default preset is supported, got '{preset}'"),
                );
            }
        }
    }
    let mut mapping = Vec::new();
    let mapping_at = format!("{at}.mapping");
    for (name, value) in p.entries(body.get("mapping"), &mapping_at) {
        let entry_at = format!("{mapping_at}.{name}");
        let Some(number) = severity_number_of(&name) else {
            p.error(
                &entry_at,
                "unknown severity: expected trace, debug, info, warn, error or fatal, optionally with 2 to 4 (error2)",
            );
            continue;
        };
        let values: Vec<&Value> = match value {
            Value::Sequence(items) => items.iter().collect(),
            one => vec![one],
        };
        for value in values {
            match value {
                Value::String(s) => mapping.push((status_class(s).unwrap_or_else(|| SeverityMatch::Text(s.clone())), number)),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => mapping.push((SeverityMatch::Range(i, i), number)),
                    None => p.error(&entry_at, format!("expected an integer, got {n}")),
                },
                Value::Mapping(range) => {
                    let min = range.get("min").and_then(|v| v.as_i64());
                    let max = range.get("max").and_then(|v| v.as_i64());
                    match (min, max) {
                        (Some(min), Some(max)) => mapping.push((SeverityMatch::Range(min, max), number)),
                        _ => p.error(&entry_at, "a range needs integer min and max"),
                    }
                }
                _ => p.error(&entry_at, "expected a string, an integer, a list or {min, max}"),
            }
        }
    }
    Some(SeverityParser {
        parse_from: parse_from?,
        mapping,
    })
}

/// `2xx` .. `5xx`: the HTTP status classes the Collector's mapping accepts.
fn status_class(text: &str) -> Option<SeverityMatch> {
    let digit = text.strip_suffix("xx")?.parse::<i64>().ok().filter(|d| (1..=5).contains(d))?;
    Some(SeverityMatch::Range(digit * 100, digit * 100 + 99))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pipeline(yaml: &str) -> Pipeline {
        let (pipeline, errors) = pipeline_with_errors(yaml);
        assert!(errors.is_empty(), "{errors:?}");
        pipeline
    }

    fn pipeline_with_errors(yaml: &str) -> (Pipeline, Vec<String>) {
        let mut errors = Vec::new();
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let pipeline = parse_operators(&mut Parser::collecting(&mut errors), Some(&value), "ops");
        (pipeline, errors)
    }

    fn run(pipeline: &Pipeline, entries: Vec<Entry>) -> Vec<Entry> {
        pipeline.run(&mut PipelineState::default(), entries)
    }

    fn with_body(body: Json) -> Entry {
        Entry {
            body,
            ..Default::default()
        }
    }

    #[test]
    fn fields_parse_dotted_and_bracketed_keys() {
        assert_eq!(Field::parse("body").unwrap(), Field::Body(vec![]));
        assert_eq!(
            Field::parse("attributes[\"http.method\"].x").unwrap(),
            Field::Attributes(vec!["http.method".into(), "x".into()])
        );
        assert_eq!(
            Field::parse("attributes.mdc[\"service.name\"]").unwrap(),
            Field::Attributes(vec!["mdc".into(), "service.name".into()])
        );
        assert_eq!(
            Field::parse("resource['it\"s.a.key']").unwrap(),
            Field::Resource(vec!["it\"s.a.key".into()])
        );
        assert_eq!(Field::parse("resource.host").unwrap(), Field::Resource(vec!["host".into()]));
        assert!(Field::parse("foo.bar").is_err());
        assert!(Field::parse("attributes[x]").is_err());
    }

    #[test]
    fn setting_a_map_merges_it_as_the_collector_does() {
        let mut entry = Entry::default();
        entry.attributes.insert("m".into(), json!({"a": 1}));
        Field::parse("attributes.m").unwrap().set(&mut entry, json!({"b": 2})).unwrap();
        assert_eq!(entry.attributes["m"], json!({"a": 1, "b": 2}));
        Field::parse("attributes.m.a.deep").unwrap().set(&mut entry, json!(3)).unwrap();
        assert_eq!(
            entry.attributes["m"],
            json!({"a": {"deep": 3}, "b": 2}),
            "a value on the way is replaced"
        );
        assert!(Field::parse("attributes").unwrap().set(&mut entry, json!(1)).is_err());
    }

    #[test]
    fn strptime_and_gotime_layouts_read_the_same_instant() {
        let expected = 1_700_000_000_123_000_000u64; // 2023-11-14T22:13:20.123Z
        let s = strptime("%Y-%m-%dT%H:%M:%S.%L%z").unwrap();
        assert_eq!(parse_time(&s, "2023-11-14T23:13:20.123+0100").unwrap(), expected);
        let g = gotime("2006-01-02T15:04:05.000Z07:00").unwrap();
        assert_eq!(parse_time(&g, "2023-11-14T22:13:20.123Z").unwrap(), expected);
        let b = strptime("%d/%b/%Y:%H:%M:%S %z").unwrap();
        assert_eq!(parse_time(&b, "14/Nov/2023:22:13:20 +0000").unwrap(), 1_700_000_000_000_000_000);
        assert!(parse_time(&s, "not a time").is_err());
        assert_eq!(
            epoch_nanos(EpochUnit::SFraction, "1700000000.5").unwrap(),
            1_700_000_000_500_000_000
        );
        assert_eq!(epoch_nanos(EpochUnit::Ms, "1700000000123").unwrap(), 1_700_000_000_123_000_000);
    }

    #[test]
    fn go_nines_make_the_fraction_optional_and_seconds_take_an_unlisted_fraction() {
        let nines = gotime("2006-01-02T15:04:05.999999999Z07:00").unwrap();
        assert_eq!(parse_time(&nines, "2023-11-14T22:13:20Z").unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(
            parse_time(&nines, "2023-11-14T23:13:20.123456789+01:00").unwrap(),
            1_700_000_000_123_456_789
        );
        let plain = gotime("2006-01-02 15:04:05").unwrap();
        assert_eq!(parse_time(&plain, "2023-11-14 22:13:20.5").unwrap(), 1_700_000_000_500_000_000);
    }

    #[test]
    fn epoch_numbers_parsed_as_floats_keep_their_instant() {
        let parser = TimeParser {
            parse_from: Field::parse("attributes.t").unwrap(),
            layout: Layout::Epoch(EpochUnit::Ms),
        };
        let mut entry = Entry::default();
        entry.attributes.insert("t".into(), json!(1_700_000_000_123.0));
        parser.apply(&mut entry).unwrap();
        assert_eq!(entry.timestamp, Some(1_700_000_000_123_000_000));
    }

    #[test]
    fn severity_mapping_comes_before_the_default_names() {
        let parser = SeverityParser {
            parse_from: Field::Attributes(vec!["level".into()]),
            mapping: vec![(SeverityMatch::Text("oops".into()), 17), (status_class("5xx").unwrap(), 21)],
        };
        for (level, number) in [("OOPS", 17), ("503", 21), ("WARNING", 13), ("info", 9), ("whatever", 0)] {
            let mut entry = Entry::default();
            entry.attributes.insert("level".into(), Json::String(level.into()));
            parser.apply(&mut entry).unwrap();
            assert_eq!((entry.severity_number, entry.severity_text.as_str()), (number, level));
        }
    }

    #[test]
    fn move_copy_add_remove_edit_the_entry() {
        let operators = pipeline(
            r#"
- { type: move, from: attributes.a, to: resource.a }
- { type: copy, from: resource.a, to: body.copy }
- { type: add, field: attributes.env, value: prod }
- { type: add, field: attributes.doubled, value: 'EXPR(resource.a * 2)' }
- { type: remove, field: attributes.gone }
"#,
        );
        let mut entry = Entry::default();
        entry.attributes.insert("a".into(), Json::from(1));
        entry.attributes.insert("gone".into(), Json::from(2));
        let out = run(&operators, vec![entry]);
        assert_eq!(out.len(), 1);
        let entry = &out[0];
        assert_eq!(entry.resource.get("a"), Some(&Json::from(1)));
        assert_eq!(entry.body, json!({"copy": 1}));
        assert_eq!(entry.attributes, json!({"env": "prod", "doubled": 2}).as_object().unwrap().clone());
    }

    #[test]
    fn an_unknown_operator_is_refused_by_name() {
        let (_, errors) = pipeline_with_errors("[{ type: csv_parser }, { type: regex_parser }]");
        assert!(errors.iter().any(|e| e.contains("\"csv_parser\" is not supported")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("ops[1]: regex is required")), "{errors:?}");
    }

    #[test]
    fn operators_get_ids_by_type_and_outputs_must_name_them() {
        let ops = pipeline("[{ type: noop }, { type: noop }, { type: noop, id: mine }, { type: noop }]");
        let ids: Vec<&str> = ops.operators.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["noop", "noop1", "mine", "noop2"]);
        assert_eq!(ops.operators[3].outputs, [Target::Out]);
        let (_, errors) = pipeline_with_errors("[{ type: noop, output: nowhere }, { type: noop, id: x }, { type: noop, id: x }]");
        assert!(
            errors
                .iter()
                .any(|e| e.contains("ops[0].output: the operator 'nowhere' does not exist")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("ops[2]: an operator with id 'x' already exists")),
            "{errors:?}"
        );
        let (_, errors) = pipeline_with_errors("[{ type: noop, id: a }, { type: noop, id: b, output: a }]");
        assert!(errors.iter().any(|e| e.contains("circular dependency (a -> b -> a)")), "{errors:?}");
    }

    #[test]
    fn a_router_sends_each_entry_by_its_first_true_route_else_default_else_drops_it() {
        let ops = pipeline(
            r#"
- type: router
  routes:
    - output: json
      expr: 'body matches "^\\{"'
      attributes: { route: 'json-EXPR(attributes.app)' }
    - output: [plain, copy]
      expr: 'attributes.app == "web"'
  default: fallback
- { id: json, type: json_parser, output: done }
- { id: plain, type: add, field: attributes.kind, value: plain, output: done }
- { id: copy, type: add, field: attributes.kind, value: copy, output: done }
- { id: fallback, type: add, field: attributes.kind, value: fallback }
- { id: done, type: noop }
"#,
        );
        let entry = |body: &str, app: &str| {
            let mut e = with_body(Json::String(body.into()));
            e.attributes.insert("app".into(), Json::String(app.into()));
            e
        };
        let out = run(&ops, vec![entry("{\"n\": 1}", "api"), entry("hello", "web"), entry("hello", "db")]);
        let kinds: Vec<(Json, Json)> = out
            .iter()
            .map(|e| {
                (
                    e.attributes.get("kind").cloned().unwrap_or(Json::Null),
                    e.attributes.get("route").cloned().unwrap_or(Json::Null),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (Json::Null, json!("json-api")),
                (json!("plain"), Json::Null),
                (json!("copy"), Json::Null),
                (json!("fallback"), Json::Null)
            ]
        );
        assert_eq!(out[0].attributes["n"], json!(1.0), "json numbers are floats without parse_ints");

        let no_default = pipeline("[{ type: router, routes: [{ output: x, expr: 'body == \"keep\"' }] }, { id: x, type: noop }]");
        let out = run(&no_default, vec![with_body(json!("keep")), with_body(json!("drop"))]);
        assert_eq!(
            out.iter().map(|e| e.body.clone()).collect::<Vec<_>>(),
            [json!("keep")],
            "unmatched entries are dropped"
        );
    }

    #[test]
    fn if_skips_the_operator_and_on_error_sends_or_drops() {
        let ops = pipeline(
            r#"
- { type: add, field: attributes.big, value: true, if: 'attributes.size > 100' }
- { type: move, from: attributes.missing, to: attributes.x }
- { type: remove, field: attributes.missing, on_error: drop_quiet, if: 'attributes.missing?.nope == nil && attributes.size < 10' }
"#,
        );
        let entry = |size: i64| {
            let mut e = Entry::default();
            e.attributes.insert("size".into(), Json::from(size));
            e
        };
        let out = run(&ops, vec![entry(500), entry(50), entry(5)]);
        assert_eq!(out.len(), 2, "the last entry fails remove and is dropped");
        assert_eq!(out[0].attributes.get("big"), Some(&Json::Bool(true)));
        assert_eq!(out[1].attributes.get("big"), None, "if was false: unchanged");
        // An `if` that fails to evaluate is an error of the operator: `send` lets the entry on.
        let failing = pipeline("[{ type: add, field: attributes.x, value: 1, if: 'attributes.size.deeper == 1' }]");
        assert_eq!(run(&failing, vec![entry(1)])[0].attributes.get("x"), None);
    }

    #[test]
    fn embedded_blocks_set_body_timestamp_severity_trace_and_scope() {
        let ops = pipeline(
            r#"
- type: json_parser
  parse_ints: true
  body: attributes.msg
  timestamp: { parse_from: attributes.ts, layout_type: epoch, layout: s }
  severity: { parse_from: attributes.lvl }
  trace:
    trace_id: { parse_from: attributes.t }
    span_id: { parse_from: attributes.s }
  scope_name: { parse_from: attributes.logger }
"#,
        );
        let line = r#"{"msg":"hi","ts":1700000000,"lvl":"WARN","t":"0af7651916cd43dd8448eb211c80319c","s":"b7ad6b7169203331","logger":"a.B","n":3}"#;
        let out = run(&ops, vec![with_body(Json::String(line.into()))]);
        let e = &out[0];
        assert_eq!(e.body, json!("hi"));
        assert_eq!(e.timestamp, Some(1_700_000_000_000_000_000));
        assert_eq!((e.severity_number, e.severity_text.as_str()), (13, "WARN"));
        assert_eq!(hex::encode(&e.trace_id), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(hex::encode(&e.span_id), "b7ad6b7169203331");
        assert!(e.trace_flags.is_empty(), "body.trace_flags is absent");
        assert_eq!(e.scope_name, "a.B");
        assert_eq!(e.attributes["n"], json!(3), "parse_ints keeps integers");

        // A failing embedded parser does not stop the others; the error is the operator's.
        let ops = pipeline(
            r#"
- type: json_parser
  on_error: drop
  timestamp: { parse_from: attributes.nope, layout_type: epoch, layout: s }
  severity: { parse_from: attributes.lvl }
"#,
        );
        assert!(run(&ops, vec![with_body(json!("{\"lvl\":\"error\"}"))]).is_empty());
        let (_, errors) = pipeline_with_errors("[{ type: json_parser, body: attributes.m, parse_to: body }]");
        assert!(errors.iter().any(|e| e.contains("`parse_to: body` is not allowed")), "{errors:?}");
    }

    #[test]
    fn container_cri_partial_lines_are_joined_across_runs_and_flushed_when_due() {
        let ops = pipeline("[{ type: container, add_metadata_from_filepath: false }]");
        let line = |tag: &str, text: &str, file: &str| {
            let mut e = with_body(Json::String(format!("2024-04-13T07:59:37.505201169Z stdout {tag} {text}")));
            e.attributes.insert("log.file.path".into(), Json::String(file.into()));
            e
        };
        let mut state = PipelineState::default();
        let out = ops.run(
            &mut state,
            vec![line("P", "first ", "a"), line("F", "whole", "b"), line("P", "half ", "a")],
        );
        assert_eq!(out.iter().map(|e| e.body.clone()).collect::<Vec<_>>(), [json!("whole")]);
        assert!(!state.is_empty());
        let out = ops.run(&mut state, vec![line("F", "end", "a")]);
        assert_eq!(out[0].body, json!("first half end"));
        assert_eq!(out[0].attributes["logtag"], json!("P"), "sent as its first part, as the Collector");
        assert!(state.is_empty());
        ops.run(&mut state, vec![line("P", "cut", "a")]);
        assert_eq!(ops.flush_all(&mut state)[0].body, json!("cut"));
    }
}
