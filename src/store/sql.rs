//! Compiles a filter expression into a parameterised SQL condition over the `spans s` or `logs l`
//! table. User text only ever travels as bound parameters; the SQL text comes from this file.

use super::rows::{attr_hash, IndexValue, MAX_INDEXED_STRING};
use super::schema::{span_in_trace, ALL_SPAN_BUCKETS, TRACE_EXPR_USES};
use crate::pdata::{SpanId, TraceId};
use crate::query::filter::{self, CmpOp, Expr, Field, Literal};
use crate::query::text;
use crate::query::trace::{Link, TracePattern};
use crate::query::FilterError;
use rusqlite::types::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Spans,
    Logs,
    /// Metric streams (`metric_streams m`): name, service and point attributes.
    Metrics,
}

impl Target {
    fn alias(self) -> &'static str {
        match self {
            Target::Spans => "s",
            Target::Logs => "l",
            Target::Metrics => "m",
        }
    }
}

/// A SQL boolean condition plus its parameters (numbered `?` in order).
#[derive(Clone, Debug, PartialEq)]
pub struct SqlFilter {
    pub sql: String,
    pub params: Vec<Value>,
    /// True when every match must satisfy an indexed equality (attribute or id), so the matching
    /// set is small and can be collected first.
    pub selective: bool,
    /// Logs only: a full-text phrase every match must contain, taken out of `sql` so the query can
    /// be driven by the FTS5 index (newest stored match first, stopping at the limit).
    pub full_text: Option<String>,
}

impl SqlFilter {
    pub fn everything() -> Self {
        SqlFilter {
            sql: "1".into(),
            params: Vec::new(),
            selective: false,
            full_text: None,
        }
    }

    /// This filter and, in addition, only rows of `service`'s resources (the API's `service=`).
    pub fn and_service(mut self, service: String, target: Target) -> Self {
        let alias = if target == Target::Spans { "s" } else { "l" };
        self.sql = format!(
            "({}) AND {alias}.resource_id IN (SELECT id FROM resources WHERE service = ?)",
            self.sql
        );
        self.params.push(Value::Text(service));
        self
    }

    /// This filter and, in addition, only rows of traces that have a span matching `spans` (a
    /// filter compiled for `Target::Spans`): the API's `trace_has=`, one test's telemetry when
    /// `otelbox run --per-test` scopes assertions. Log records without a trace never match.
    pub fn and_in_traces_of(mut self, spans: SqlFilter, target: Target) -> Self {
        let alias = if target == Target::Spans { "s" } else { "l" };
        // Uncorrelated: SQLite runs the inner query once and probes its result; the inner `s`
        // shadows the outer one.
        self.sql = format!(
            "({}) AND {alias}.trace_id IN (SELECT s.trace_id FROM spans s WHERE {})",
            self.sql, spans.sql
        );
        self.params.extend(spans.params);
        self
    }
}

/// What the compiler may assume about the attributes of stored resources.
pub trait ResourceAttrs {
    /// Whether some stored resource may hold attribute `key` with a value of one of these
    /// attribute-index hashes (`attr_hash` of the key and value): false only when none does.
    fn may_hold(&self, key: &str, hashes: &[i64]) -> bool;
}

/// Assumes any resource may hold any value: always correct, and the choice when nothing is known
/// about the store (an equality then walks the time index instead of trusting the span index).
pub struct AnyResourceAttrs;

impl ResourceAttrs for AnyResourceAttrs {
    fn may_hold(&self, _: &str, _: &[i64]) -> bool {
        true
    }
}

/// Assumes no resource holds any attribute value: right only for data known to have no resource
/// attributes that filters test (tests), or to check the span-index-only plan.
pub struct NoResourceAttrs;

impl ResourceAttrs for NoResourceAttrs {
    fn may_hold(&self, _: &str, _: &[i64]) -> bool {
        false
    }
}

pub fn compile(expr: &Expr, target: Target, resources: &dyn ResourceAttrs) -> Result<SqlFilter, FilterError> {
    let ctx = Context { target, resources };
    let mut params = Vec::new();
    if target == Target::Logs {
        if let Some((words, rest)) = take_full_text(expr) {
            let query = fts_query(&words)?;
            let (sql, _) = match &rest {
                Some(rest) => compile_expr(rest, &ctx, &mut params)?,
                None => ("1".to_string(), false),
            };
            return Ok(SqlFilter {
                sql,
                params,
                selective: true,
                full_text: Some(query),
            });
        }
    }
    let (sql, selective) = compile_expr(expr, &ctx, &mut params)?;
    Ok(SqlFilter {
        sql,
        params,
        selective,
        full_text: None,
    })
}

/// Most words and phrases one `~` search may hold (each is a condition on every row looked at).
pub const MAX_SEARCH_TERMS: usize = 32;
/// Letters or digits a prefix search (`ti*`) needs before its `*`: one letter would read a large
/// part of the full-text index.
pub const MIN_PREFIX_CHARS: usize = 2;

/// The FTS5 query for the words of a `body ~` search (`query::text`): every word and quoted phrase
/// (`AND`), a `*` after a prefix. Each is an FTS5 string, so no user text is ever FTS5 syntax: inside
/// one only `"` is special, and it is doubled. The unicode61 tokenizer makes it case-insensitive
/// (and diacritic-insensitive) and splits words at anything but letters and digits.
pub fn fts_query(value: &Literal) -> Result<String, FilterError> {
    let terms = text::terms(&text_of(value));
    too_many_terms("body", terms.len())?;
    let mut parts = Vec::with_capacity(terms.len());
    for term in terms {
        // Control characters (a NUL would end the FTS5 string early) are never part of a word.
        let words: String = term.text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        // A term without a letter or digit holds no indexed word, and FTS5 would then match nothing
        // at all: leave it out.
        let Some(last) = words.split(|c: char| !c.is_alphanumeric()).rfind(|w| !w.is_empty()) else {
            continue;
        };
        if term.prefix && last.chars().count() < MIN_PREFIX_CHARS {
            return Err(FilterError::Semantic(format!(
                "body ~ {}*: a prefix needs at least {MIN_PREFIX_CHARS} letters or digits before '*'",
                term.text
            )));
        }
        let mut part = format!("\"{}\"", words.replace('"', "\"\""));
        if term.prefix {
            part.push_str(" *");
        }
        parts.push(part);
    }
    if parts.is_empty() {
        return Err(FilterError::Semantic(
            "body ~ needs a word to search for: letters or digits (punctuation separates words)".into(),
        ));
    }
    Ok(parts.join(" AND "))
}

fn too_many_terms(field: &str, terms: usize) -> Result<(), FilterError> {
    if terms > MAX_SEARCH_TERMS {
        return Err(FilterError::Semantic(format!(
            "{field} ~ takes at most {MAX_SEARCH_TERMS} words; quote a phrase (\"...\") to search for a longer text"
        )));
    }
    Ok(())
}

/// A `body ~ "..."` that every match must satisfy (the expression itself or a term of its top-level
/// `and` chain): its search text, and the rest of the expression without it.
fn take_full_text(expr: &Expr) -> Option<(Literal, Option<Expr>)> {
    match expr {
        Expr::Compare {
            field: Field::Body,
            op: CmpOp::FullText,
            value,
        } => Some((value.clone(), None)),
        Expr::And(a, b) => {
            if let Some((phrase, rest)) = take_full_text(a) {
                let rest = match rest {
                    Some(r) => Expr::And(Box::new(r), b.clone()),
                    None => (**b).clone(),
                };
                return Some((phrase, Some(rest)));
            }
            let (phrase, rest) = take_full_text(b)?;
            let rest = match rest {
                Some(r) => Expr::And(a.clone(), Box::new(r)),
                None => (**a).clone(),
            };
            Some((phrase, Some(rest)))
        }
        _ => None,
    }
}

struct Context<'a> {
    target: Target,
    resources: &'a dyn ResourceAttrs,
}

fn compile_expr(expr: &Expr, ctx: &Context, params: &mut Vec<Value>) -> Result<(String, bool), FilterError> {
    Ok(match expr {
        Expr::And(a, b) => {
            let (a, sa) = compile_expr(a, ctx, params)?;
            let (b, sb) = compile_expr(b, ctx, params)?;
            (format!("({a} AND {b})"), sa || sb)
        }
        Expr::Or(a, b) => {
            let (a, sa) = compile_expr(a, ctx, params)?;
            let (b, sb) = compile_expr(b, ctx, params)?;
            (format!("({a} OR {b})"), sa && sb)
        }
        Expr::Not(inner) => {
            let (inner, _) = compile_expr(inner, ctx, params)?;
            (format!("(NOT coalesce({inner}, 0))"), false)
        }
        Expr::Has(field) => (compile_has(field, ctx.target, params)?, false),
        Expr::Compare { field, op, value } => compile_compare(field, *op, value, ctx, params)?,
    })
}

fn text_of(value: &Literal) -> String {
    match value {
        Literal::Str(s) | Literal::Word(s) => s.clone(),
        Literal::Int(i) | Literal::DurationNs(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
    }
}

fn sql_value(value: &Literal) -> Value {
    match value {
        Literal::Str(s) | Literal::Word(s) => Value::Text(s.clone()),
        Literal::Int(i) | Literal::DurationNs(i) => Value::Integer(*i),
        Literal::Float(f) => Value::Real(*f),
    }
}

fn op_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "IS NOT",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Regex | CmpOp::NotRegex | CmpOp::FullText => {
            unreachable!("handled by text_condition")
        }
    }
}

/// `expr op ?` for a column-like SQL expression, including regex and text matches. `expr`'s own
/// parameters must be the last ones in `params`.
fn condition(expr: &str, op: CmpOp, value: Value, params: &mut Vec<Value>) -> String {
    if op == CmpOp::FullText {
        let text = match value {
            Value::Text(t) => t,
            Value::Integer(i) => i.to_string(),
            Value::Real(f) => f.to_string(),
            _ => String::new(),
        };
        return substring_terms(expr, &text, params);
    }
    params.push(value);
    match op {
        CmpOp::Regex => format!("coalesce({expr} REGEXP ?, 0)"),
        CmpOp::NotRegex => format!("(NOT coalesce({expr} REGEXP ?, 0))"),
        CmpOp::FullText => format!("coalesce(instr(lower({expr}), lower(?)) > 0, 0)"),
        _ => format!("{expr} {} ?", op_sql(op)),
    }
}

/// `~` on any field but the log body: every word and quoted phrase of the search (`query::text`) is
/// in the value, anywhere (a substring, so a prefix `time*` is the substring `time`), ignoring ASCII
/// case. `expr` is repeated per word, with its parameters (the last ones in `params`).
fn substring_terms(expr: &str, text: &str, params: &mut Vec<Value>) -> String {
    let mut words: Vec<String> = text::terms(text).into_iter().map(|t| t.text).collect();
    if words.is_empty() {
        // Nothing but quotes and stars: the text as it is.
        words.push(text.to_string());
    }
    let own = expr.matches('?').count();
    let expr_params: Vec<Value> = params[params.len() - own..].to_vec();
    let mut parts = Vec::with_capacity(words.len());
    for (i, word) in words.into_iter().enumerate() {
        if i > 0 {
            params.extend(expr_params.iter().cloned());
        }
        params.push(Value::Text(word));
        parts.push(format!("coalesce(instr(lower({expr}), lower(?)) > 0, 0)"));
    }
    if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        format!("({})", parts.join(" AND "))
    }
}

fn text_ops_only(field: &str, op: CmpOp, value: &Literal) -> Result<(), FilterError> {
    if matches!(op, CmpOp::Regex | CmpOp::NotRegex | CmpOp::FullText) && !matches!(value, Literal::Str(_) | Literal::Word(_)) {
        return Err(FilterError::Semantic(format!(
            "{field}: regex and text matches need a string value"
        )));
    }
    if op == CmpOp::FullText {
        too_many_terms(field, text::terms(&text_of(value)).len())?;
    }
    Ok(())
}

fn enum_number(field: &Field, value: &Literal) -> Result<i64, FilterError> {
    if let Literal::Int(i) = value {
        return Ok(*i);
    }
    let word = text_of(value).to_ascii_lowercase();
    let names: &[(&str, i64)] = match field {
        Field::Kind => &[
            ("unspecified", 0),
            ("internal", 1),
            ("server", 2),
            ("client", 3),
            ("producer", 4),
            ("consumer", 5),
        ],
        Field::Status => &[("unset", 0), ("ok", 1), ("error", 2)],
        _ => &[
            ("trace", 1),
            ("debug", 5),
            ("info", 9),
            ("warn", 13),
            ("warning", 13),
            ("error", 17),
            ("fatal", 21),
        ],
    };
    names.iter().find(|(n, _)| *n == word).map(|(_, v)| *v).ok_or_else(|| {
        let expected: Vec<_> = names.iter().map(|(n, _)| *n).collect();
        FilterError::Semantic(format!("unknown value '{word}'; expected one of {}", expected.join(", ")))
    })
}

fn ordering_only(name: &str, op: CmpOp) -> Result<(), FilterError> {
    if matches!(op, CmpOp::Regex | CmpOp::NotRegex | CmpOp::FullText) {
        return Err(FilterError::Semantic(format!("{name} takes = != < <= > >=, not a text match")));
    }
    Ok(())
}

fn signal_mismatch(field: &str, target: Target) -> FilterError {
    match target {
        Target::Metrics => FilterError::Semantic(format!(
            "'{field}' does not apply to metrics; metric filters use name, service and attributes"
        )),
        Target::Spans => FilterError::Semantic(format!(
            "'{field}' applies to logs; span filters use name, status, kind, duration and attributes"
        )),
        Target::Logs => FilterError::Semantic(format!(
            "'{field}' applies to spans; log filters use severity, body, service, trace_id and attributes"
        )),
    }
}

/// The typed value of an attribute: the item's own attribute, else its resource's.
fn attribute_value(key: &str, target: Target, params: &mut Vec<Value>) -> String {
    let a = target.alias();
    params.push(Value::Text(key.to_string()));
    params.push(Value::Text(key.to_string()));
    format!("coalesce(otelbox_attr({a}.attrs, ?), (SELECT otelbox_attr(r.body, ?) FROM resources r WHERE r.id = {a}.resource_id))")
}

/// Hashes an equality literal may match in the attribute index (a bare `500` may be an int or a double).
fn index_hashes(key: &str, value: &Literal) -> Vec<i64> {
    match value {
        Literal::Str(s) => vec![attr_hash(key, &IndexValue::Str(s))],
        Literal::Word(w) => {
            let mut hashes = vec![attr_hash(key, &IndexValue::Str(w))];
            match w.as_str() {
                "true" => hashes.push(attr_hash(key, &IndexValue::Bool(true))),
                "false" => hashes.push(attr_hash(key, &IndexValue::Bool(false))),
                _ => {}
            }
            hashes
        }
        Literal::Int(i) | Literal::DurationNs(i) => {
            vec![attr_hash(key, &IndexValue::Int(*i)), attr_hash(key, &IndexValue::Double(*i as f64))]
        }
        Literal::Float(f) => {
            let mut hashes = vec![attr_hash(key, &IndexValue::Double(*f))];
            if f.fract() == 0.0 && f.abs() < 9e15 {
                hashes.push(attr_hash(key, &IndexValue::Int(*f as i64)));
            }
            hashes
        }
    }
}

fn compile_compare(
    field: &Field,
    op: CmpOp,
    value: &Literal,
    ctx: &Context,
    params: &mut Vec<Value>,
) -> Result<(String, bool), FilterError> {
    let target = ctx.target;
    let a = target.alias();
    Ok(match field {
        Field::Service => {
            text_ops_only("service", op, value)?;
            let inner = condition("service", op, sql_value(value), params);
            (format!("{a}.resource_id IN (SELECT id FROM resources WHERE {inner})"), false)
        }
        Field::Name => {
            if target == Target::Logs {
                return Err(signal_mismatch("name", target));
            }
            text_ops_only("name", op, value)?;
            (condition(&format!("{a}.name"), op, sql_value(value), params), false)
        }
        Field::Kind | Field::Status => {
            let name = if *field == Field::Kind { "kind" } else { "status" };
            if target != Target::Spans {
                return Err(signal_mismatch(name, target));
            }
            ordering_only(name, op)?;
            let column = if *field == Field::Kind { "s.kind" } else { "s.status_code" };
            (condition(column, op, Value::Integer(enum_number(field, value)?), params), false)
        }
        Field::Duration => {
            if target != Target::Spans {
                return Err(signal_mismatch("duration", target));
            }
            ordering_only("duration", op)?;
            let ns = match value {
                Literal::DurationNs(n) | Literal::Int(n) => *n,
                Literal::Float(f) => *f as i64,
                _ => return Err(FilterError::Semantic("duration needs a duration like 250ms, 2s or 1m".into())),
            };
            (condition("(s.end_ns - s.start_ns)", op, Value::Integer(ns), params), false)
        }
        Field::TraceId | Field::SpanId if target == Target::Metrics => return Err(signal_mismatch("trace_id/span_id", target)),
        Field::TraceId | Field::SpanId => {
            let (name, column) = if *field == Field::TraceId {
                ("trace_id", "trace_id")
            } else {
                ("span_id", "span_id")
            };
            let text = text_of(value);
            let bytes = if *field == Field::TraceId {
                TraceId::parse_hex(&text).map(|t| t.0.to_vec())
            } else {
                SpanId::parse_hex(&text).map(|s| s.0.to_vec())
            };
            let bytes = bytes.ok_or_else(|| FilterError::Semantic(format!("{name} must be a hex id, got '{text}'")))?;
            match op {
                CmpOp::Eq if target == Target::Spans && *field == Field::TraceId => {
                    // Through the bucketed trace index: the id is bound once per use.
                    params.extend(std::iter::repeat_n(Value::Blob(bytes), TRACE_EXPR_USES));
                    (span_in_trace(a, "?"), true)
                }
                CmpOp::Eq => (condition(&format!("{a}.{column}"), op, Value::Blob(bytes), params), true),
                CmpOp::Ne => (condition(&format!("{a}.{column}"), op, Value::Blob(bytes), params), false),
                _ => return Err(FilterError::Semantic(format!("{name} takes = or !="))),
            }
        }
        Field::Severity => {
            if target != Target::Logs {
                return Err(signal_mismatch("severity", target));
            }
            ordering_only("severity", op)?;
            let low = enum_number(field, value)?;
            // A named level covers its four numbers (WARN = 13..16), as OTLP defines them.
            let high = if matches!(value, Literal::Int(_)) { low } else { low + 3 };
            let sql = match op {
                CmpOp::Eq => format!("l.severity_number BETWEEN {low} AND {high}"),
                CmpOp::Ne => format!("l.severity_number NOT BETWEEN {low} AND {high}"),
                CmpOp::Gt => format!("l.severity_number > {high}"),
                CmpOp::Ge => format!("l.severity_number >= {low}"),
                CmpOp::Lt => format!("l.severity_number < {low}"),
                _ => format!("l.severity_number <= {high}"),
            };
            (sql, false)
        }
        Field::Body => {
            if target != Target::Logs {
                return Err(signal_mismatch("body", target));
            }
            text_ops_only("body", op, value)?;
            if op == CmpOp::FullText {
                params.push(Value::Text(fts_query(value)?));
                ("l.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)".to_string(), true)
            } else {
                (condition("l.body_text", op, sql_value(value), params), false)
            }
        }
        Field::StatusMessage => {
            if target != Target::Spans {
                return Err(signal_mismatch("status.message", target));
            }
            text_ops_only("status.message", op, value)?;
            (condition("otelbox_status_message(s.extra)", op, sql_value(value), params), false)
        }
        Field::ScopeName | Field::ScopeVersion => {
            let (name, column) = if *field == Field::ScopeName {
                ("scope.name", "name")
            } else {
                ("scope.version", "version")
            };
            text_ops_only(name, op, value)?;
            let inner = condition(column, op, sql_value(value), params);
            (format!("{a}.scope_id IN (SELECT id FROM scopes WHERE {inner})"), false)
        }
        Field::EventName => match target {
            Target::Spans => {
                text_ops_only("event_name", op, value)?;
                (event_condition("otelbox_event_names(s.extra)", op, value, params), false)
            }
            Target::Logs => {
                text_ops_only("event_name", op, value)?;
                (condition("otelbox_log_event_name(l.extra)", op, sql_value(value), params), false)
            }
            Target::Metrics => return Err(signal_mismatch("event_name", target)),
        },
        Field::Event(key) => {
            if target != Target::Spans {
                // Log records and metric points have no events: the attribute named so.
                return compile_compare(&Field::Attribute(format!("event.{key}")), op, value, ctx, params);
            }
            text_ops_only(&format!("event.{key}"), op, value)?;
            params.push(Value::Text(key.clone()));
            (event_condition("otelbox_event_values(s.extra, ?)", op, value, params), false)
        }
        Field::Resource(key) => {
            text_ops_only(key, op, value)?;
            params.push(Value::Text(key.clone()));
            let bool_word = matches!(value, Literal::Word(w) if w == "true" || w == "false");
            let inner = if bool_word && op == CmpOp::Eq {
                equality("otelbox_attr(body, ?)", value, true, params)
            } else {
                numeric_guard("otelbox_attr(body, ?)", op, value, params)
            };
            let sql = if op == CmpOp::Ne {
                // Missing counts as not equal: resources without the key match too.
                format!("{a}.resource_id NOT IN (SELECT id FROM resources WHERE otelbox_attr(body, ?) = ?)")
            } else {
                format!("{a}.resource_id IN (SELECT id FROM resources WHERE {inner})")
            };
            if op == CmpOp::Ne {
                params.truncate(params.len() - 2);
                params.push(Value::Text(key.clone()));
                params.push(sql_value(value));
            }
            (sql, false)
        }
        Field::Llm(name) => {
            if target != Target::Spans {
                return Err(signal_mismatch(&format!("llm.{name}"), target));
            }
            if *name == "text" {
                return Ok((message_text(op, value, params)?, false));
            }
            if *name == "run_id" {
                // Not kept in llm_spans: the span's own attribute, as sent or JSON-encoded (MLflow).
                return run_id_compare(op, value, ctx, params);
            }
            let column = llm_column(name);
            if filter::LLM_NUMBER_FIELDS.contains(name) {
                ordering_only(&format!("llm.{name}"), op)?;
            } else {
                text_ops_only(&format!("llm.{name}"), op, value)?;
            }
            let cond = match *name {
                // Stored as codes: the names compare by equality only.
                "dialect" | "operation" => {
                    let text = text_of(value);
                    let code = if *name == "dialect" {
                        crate::llm::Dialect::from_name(&text).map(|d| d.bit())
                    } else {
                        crate::llm::Operation::from_name(&text).map(|o| o.code())
                    };
                    let Some(code) = code.filter(|_| matches!(op, CmpOp::Eq | CmpOp::Ne)) else {
                        return Err(FilterError::Semantic(llm_names_error(name)));
                    };
                    params.push(Value::Integer(code));
                    let equal = if *name == "dialect" {
                        format!("({column} & ?) != 0")
                    } else {
                        format!("{column} = ?")
                    };
                    if op == CmpOp::Eq {
                        equal
                    } else {
                        format!("NOT {equal}")
                    }
                }
                _ => condition(column, op, sql_value(value), params),
            };
            (format!("EXISTS (SELECT 1 FROM llm_spans l WHERE l.id = s.id AND {cond})"), false)
        }
        Field::Attribute(key) => {
            text_ops_only(key, op, value)?;
            let bool_word = matches!(value, Literal::Word(w) if w == "true" || w == "false");
            let indexable = !matches!(value, Literal::Str(s) | Literal::Word(s) if s.len() > MAX_INDEXED_STRING);
            if op == CmpOp::Eq && target == Target::Spans && indexable {
                // Indexed path: candidate traces through span_attr_index, then the exact check on
                // each of their spans (through the bucketed trace index).
                let hashes = index_hashes(key, value);
                let through_resource = ctx.resources.may_hold(key, &hashes);
                let placeholders = vec!["?"; hashes.len()].join(", ");
                params.extend(hashes.into_iter().map(Value::Integer));
                params.push(Value::Text(key.clone()));
                let span_match = equality("otelbox_attr(x.attrs, ?)", value, bool_word, params);
                let own = format!(
                    "s.id IN (SELECT x.id FROM traces ct JOIN spans x ON {of_trace} \
                         WHERE ct.trace_id IN (SELECT c.trace_id FROM spans c WHERE c.id IN \
                           (SELECT span_rowid FROM span_attr_index WHERE b IN {ALL_SPAN_BUCKETS} AND h IN ({placeholders}))) AND {span_match})",
                    of_trace = span_in_trace("x", "ct.trace_id"),
                );
                if !through_resource {
                    return Ok((own, true));
                }
                // Spans without the key whose resource holds the value match too. Such a resource
                // usually stands for many spans (`deployment.environment = prod`), and spans have no
                // resource index (schema v3), so this is no longer a few matches to collect first:
                // the query walks the time index and checks each span, the span part being one
                // row-id set computed once.
                params.push(Value::Text(key.clone()));
                params.push(Value::Text(key.clone()));
                let resource_match = equality("otelbox_attr(r.body, ?)", value, bool_word, params);
                let sql = format!(
                    "({own} OR (otelbox_attr(s.attrs, ?) IS NULL AND s.resource_id IN (SELECT r.id FROM resources r WHERE {resource_match})))"
                );
                (sql, false)
            } else {
                let v = attribute_value(key, target, params);
                if bool_word && matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    let eq = equality(&v, value, true, params);
                    let sql = if op == CmpOp::Eq { eq } else { format!("(NOT coalesce({eq}, 0))") };
                    (sql, false)
                } else {
                    (numeric_guard(&v, op, value, params), false)
                }
            }
        }
    })
}

/// An ordering against a number only matches numbers: SQLite sorts every TEXT above every number,
/// so `code >= 500` would otherwise match the string "200".
fn numeric_guard(expr: &str, op: CmpOp, value: &Literal, params: &mut Vec<Value>) -> String {
    let numeric = matches!(value, Literal::Int(_) | Literal::Float(_) | Literal::DurationNs(_));
    let ordering = matches!(op, CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le);
    let cond = condition(expr, op, sql_value(value), params);
    if numeric && ordering {
        // `expr` appears twice, so its key parameters are bound twice, in order.
        let key_params: Vec<Value> = params[params.len() - 1 - expr.matches('?').count()..params.len() - 1].to_vec();
        let value_param = params.pop().expect("condition pushed the value");
        params.extend(key_params);
        params.push(value_param);
        format!("(typeof({expr}) IN ('integer', 'real') AND {cond})")
    } else {
        cond
    }
}

/// A comparison with the values of a JSON array (one per event of the span, from
/// `otelbox_event_values` or `otelbox_event_names`, whose own parameters are already in `params`):
/// true when some value matches. `!=` and `!~` hold when no value matches, so a span without such an
/// event matches them, as a span without an attribute matches `key != value`. A scan of the spans
/// the query walks (events are not in the attribute index).
fn event_condition(array: &str, op: CmpOp, value: &Literal, params: &mut Vec<Value>) -> String {
    let positive = match op {
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::NotRegex => CmpOp::Regex,
        other => other,
    };
    let bool_word = matches!(value, Literal::Word(w) if w == "true" || w == "false");
    let cond = if bool_word && positive == CmpOp::Eq {
        equality("e.value", value, true, params)
    } else {
        numeric_guard("e.value", positive, value, params)
    };
    let exists = format!("EXISTS (SELECT 1 FROM json_each({array}) e WHERE {cond})");
    if positive == op {
        exists
    } else {
        format!("(NOT {exists})")
    }
}

/// `expr = value`, where a bare true/false also matches the boolean attribute (stored as 1/0).
fn equality(expr: &str, value: &Literal, bool_word: bool, params: &mut Vec<Value>) -> String {
    if bool_word {
        let as_int = i64::from(text_of(value) == "true");
        params.push(sql_value(value));
        params.push(Value::Integer(as_int));
        format!("{expr} IN (?, ?)")
    } else {
        params.push(sql_value(value));
        format!("{expr} = ?")
    }
}

fn compile_has(field: &Field, target: Target, params: &mut Vec<Value>) -> Result<String, FilterError> {
    let a = target.alias();
    Ok(match field {
        Field::Attribute(key) => {
            let v = attribute_value(key, target, params);
            format!("{v} IS NOT NULL")
        }
        Field::Resource(key) => {
            params.push(Value::Text(key.clone()));
            format!("{a}.resource_id IN (SELECT id FROM resources WHERE otelbox_attr(body, ?) IS NOT NULL)")
        }
        Field::Llm(name) if target != Target::Spans => return Err(signal_mismatch(&format!("llm.{name}"), target)),
        Field::Llm("text") => "EXISTS (SELECT 1 FROM llm_spans l WHERE l.id = s.id)".to_string(),
        Field::Llm("run_id") => format!("{} IS NOT NULL", attribute_value("run_id", target, params)),
        Field::Llm(name) => format!(
            "EXISTS (SELECT 1 FROM llm_spans l WHERE l.id = s.id AND {} IS NOT NULL)",
            llm_column(name)
        ),
        Field::TraceId | Field::SpanId if target == Target::Metrics => return Err(signal_mismatch("trace_id/span_id", target)),
        Field::TraceId => format!("{a}.trace_id IS NOT NULL"),
        Field::SpanId => format!("{a}.span_id IS NOT NULL"),
        Field::StatusMessage if target != Target::Spans => return Err(signal_mismatch("status.message", target)),
        Field::StatusMessage => "otelbox_status_message(s.extra) IS NOT NULL".to_string(),
        Field::ScopeName => format!("{a}.scope_id IN (SELECT id FROM scopes WHERE name != '')"),
        Field::ScopeVersion => format!("{a}.scope_id IN (SELECT id FROM scopes WHERE version != '')"),
        Field::EventName => match target {
            Target::Spans => "otelbox_event_names(s.extra) IS NOT NULL".to_string(),
            Target::Logs => "otelbox_log_event_name(l.extra) IS NOT NULL".to_string(),
            Target::Metrics => return Err(signal_mismatch("event_name", target)),
        },
        Field::Event(key) if target != Target::Spans => return compile_has(&Field::Attribute(format!("event.{key}")), target, params),
        Field::Event(key) => {
            params.push(Value::Text(key.clone()));
            "otelbox_event_values(s.extra, ?) IS NOT NULL".to_string()
        }
        _ => "1".to_string(),
    })
}

/// `llm.run_id` as the `run_id` attribute of some span (any span: the plain scheme's run root speaks no
/// LLM convention), also matching MLflow's JSON-encoded value on equality.
fn run_id_compare(op: CmpOp, value: &Literal, ctx: &Context, params: &mut Vec<Value>) -> Result<(String, bool), FilterError> {
    let compare = |value: Literal| Expr::Compare {
        field: Field::Attribute("run_id".into()),
        op,
        value,
    };
    let expr = match (op, value) {
        (CmpOp::Eq, Literal::Str(text) | Literal::Word(text)) => Expr::Or(
            Box::new(compare(Literal::Str(text.clone()))),
            Box::new(compare(Literal::Str(serde_json::Value::String(text.clone()).to_string()))),
        ),
        _ => compare(value.clone()),
    };
    compile_expr(&expr, ctx, params)
}

/// What `llm.dialect` and `llm.operation` accept.
fn llm_names_error(field: &str) -> String {
    let names: Vec<&str> = if field == "dialect" {
        crate::llm::Dialect::ALL.iter().map(|d| d.as_str()).collect()
    } else {
        crate::llm::Operation::ALL.iter().map(|o| o.as_str()).collect()
    };
    format!("llm.{field} takes = or != and one of {}", names.join(", "))
}

/// Words a `llm.text ~` search takes at most.
const MAX_TEXT_WORDS: usize = 8;

/// `llm.text ~ "words"`: an LLM span whose content holds every word, in any order, ignoring ASCII case,
/// wherever its convention put it: its attributes (`gen_ai.input.messages`, flattened messages, tool
/// arguments and results), its events (`gen_ai.content.*`), or its log records (per-message events). A
/// scan of the spans the query walks, not an index.
fn message_text(op: CmpOp, value: &Literal, params: &mut Vec<Value>) -> Result<String, FilterError> {
    if op != CmpOp::FullText {
        return Err(FilterError::Semantic(
            "llm.text takes ~ (words of the messages, in any order): llm.text ~ \"refund policy\"".into(),
        ));
    }
    let text = text_of(value).to_lowercase();
    // Words and quoted phrases (`query::text`); a prefix is its substring.
    let words: Vec<String> = text::terms(&text).into_iter().map(|t| t.text).take(MAX_TEXT_WORDS).collect();
    if words.is_empty() {
        return Err(FilterError::Semantic("llm.text ~ needs a word to look for".into()));
    }
    let mut conditions = Vec::with_capacity(words.len());
    for word in words {
        params.extend([Value::Text(word.clone()), Value::Text(word.clone()), Value::Text(word)]);
        conditions.push(
            "(instr(lower(CAST(otelbox_plain(s.attrs) AS TEXT)), ?) > 0 OR instr(lower(CAST(s.extra AS TEXT)), ?) > 0 \
             OR EXISTS (SELECT 1 FROM logs g WHERE g.trace_id = s.trace_id AND g.span_id = s.span_id AND instr(lower(g.body_text), ?) > 0))",
        );
    }
    Ok(format!(
        "(EXISTS (SELECT 1 FROM llm_spans l WHERE l.id = s.id) AND {})",
        conditions.join(" AND ")
    ))
}

/// The `llm_spans` column (alias `l`) of a normalized LLM field (`filter::LLM_TEXT_FIELDS` and
/// `LLM_NUMBER_FIELDS`).
fn llm_column(name: &str) -> &'static str {
    match name {
        "model" => "l.model",
        "provider" => "l.provider",
        "agent" => "l.agent",
        "operation" => "l.operation",
        "tool" => "l.tool",
        "session" => "l.session",
        "user" => "l.user_id",
        "dialect" => "l.dialects",
        "input_tokens" => "l.input_tokens",
        "output_tokens" => "l.output_tokens",
        "cache_read_tokens" => "l.cache_read_tokens",
        "reasoning_tokens" => "l.reasoning_tokens",
        "cost" => "l.cost_usd",
        other => unreachable!("llm.{other} is not a field the parser accepts"),
    }
}

/// A trace search's span conditions, each compiled for spans, and how each relates to the one
/// before (`query::trace`): what `read::search_traces` checks on the spans of every candidate trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceFilter {
    pub steps: Vec<SqlFilter>,
    pub links: Vec<Link>,
}

pub fn compile_trace(pattern: &TracePattern, resources: &dyn ResourceAttrs) -> Result<TraceFilter, FilterError> {
    Ok(TraceFilter {
        steps: pattern
            .steps
            .iter()
            .map(|step| compile(step, Target::Spans, resources))
            .collect::<Result<_, _>>()?,
        links: pattern.links.clone(),
    })
}

/// Parse and compile in one step; `None` input or an empty expression matches everything.
/// `resources` is the store's `resource_attrs()` (or `AnyResourceAttrs` when there is no store).
pub fn compile_text(text: Option<&str>, target: Target, resources: &dyn ResourceAttrs) -> Result<SqlFilter, FilterError> {
    let expr = match text {
        Some(t) => filter::parse(t)?,
        None => None,
    };
    match expr {
        Some(e) => compile(&e, target, resources),
        None => Ok(SqlFilter::everything()),
    }
}

#[cfg(test)]
mod tests {
    use super::compile_text;
    use super::*;

    #[test]
    fn user_text_is_never_in_the_sql() {
        let f = compile_text(
            Some(r#"name = "x'; DROP TABLE spans; --" and run_id = "R1""#),
            Target::Spans,
            &NoResourceAttrs,
        )
        .unwrap();
        assert!(!f.sql.contains("DROP"), "{}", f.sql);
        assert!(f.params.contains(&Value::Text("x'; DROP TABLE spans; --".into())));
        assert!(f.selective);
    }

    #[test]
    fn or_with_an_unindexed_side_is_not_selective() {
        let f = compile_text(Some(r#"run_id = "R1" or duration > 1s"#), Target::Spans, &NoResourceAttrs).unwrap();
        assert!(!f.selective);
    }

    #[test]
    fn an_equality_a_resource_may_hold_is_not_selective() {
        // Many spans may match through one resource: walk the time index rather than collect.
        let f = compile_text(Some("deployment.environment = prod"), Target::Spans, &AnyResourceAttrs).unwrap();
        assert!(!f.selective);
        assert!(f.sql.contains("resources r"), "{}", f.sql);
        assert_eq!(f.sql.matches('?').count(), f.params.len(), "{}", f.sql);
        let f = compile_text(Some("run_id = R1"), Target::Spans, &NoResourceAttrs).unwrap();
        assert!(f.selective);
        assert!(!f.sql.contains("resources r"), "{}", f.sql);
        // An `and` with a selective term (the trace id) still collects first.
        let f = compile_text(
            Some("deployment.environment = prod and trace_id = 4bf92f3577b34da6a3ce929d0e0e4736"),
            Target::Spans,
            &AnyResourceAttrs,
        )
        .unwrap();
        assert!(f.selective);
    }

    #[test]
    fn signal_specific_fields_are_checked() {
        let err = compile_text(Some("severity >= warn"), Target::Spans, &NoResourceAttrs).unwrap_err();
        assert!(err.to_string().contains("applies to logs"), "{err}");
        let err = compile_text(Some("duration > 1s"), Target::Logs, &NoResourceAttrs).unwrap_err();
        assert!(err.to_string().contains("applies to spans"), "{err}");
        let err = compile_text(Some("status = broken"), Target::Spans, &NoResourceAttrs).unwrap_err();
        assert!(err.to_string().contains("unset"), "{err}");
    }

    #[test]
    fn placeholders_match_parameters() {
        for text in [
            r#"run_id = "R1""#,
            "flag = true",
            "flag != false",
            "resource.deployment.environment != prod",
            "resource.deployment.environment = prod",
            "http.response.status_code >= 500 or not has(user.id)",
            r#"service = a and name =~ "^tool\." and kind = server and status = error"#,
            "trace_id = 4bf92f3577b34da6a3ce929d0e0e4736",
        ] {
            for resources in [&NoResourceAttrs as &dyn ResourceAttrs, &AnyResourceAttrs] {
                let f = compile_text(Some(text), Target::Spans, resources).unwrap();
                assert_eq!(f.sql.matches('?').count(), f.params.len(), "{text}: {}", f.sql);
            }
        }
        for text in [r#"severity >= warn and body ~ "timeout""#, "user.id = 7", "has(resource.host.name)"] {
            let f = compile_text(Some(text), Target::Logs, &NoResourceAttrs).unwrap();
            assert_eq!(f.sql.matches('?').count(), f.params.len(), "{text}: {}", f.sql);
        }
    }

    /// `trace_has`: only the rows of traces with a span matching the scope (one test's traces).
    #[test]
    fn scoping_to_the_traces_of_a_span_filter() {
        use crate::store::read::{count, CountTarget, TimeRange};
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO resources(id, hash, service, schema_url, body) VALUES (1, 1, 'svc', '', x'');
             INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count, first_span, last_span)
               VALUES (x'01', 100, 400, 2, 0, 1, 2), (x'02', 100, 400, 2, 0, 3, 4);
             INSERT INTO main.spans(id, trace_id, span_id, parent_span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code) VALUES
               (1, x'01', x'0a', NULL, 'test a', 0, 1, 1, 100, 400, 0),
               (2, x'01', x'0b', x'0a', 'work', 0, 1, 1, 150, 390, 0),
               (3, x'02', x'0c', NULL, 'test b', 0, 1, 1, 100, 400, 0),
               (4, x'02', x'0d', x'0c', 'work', 0, 1, 1, 150, 390, 0);",
        )
        .unwrap();
        let scoped = |q: &str, test: &str| {
            let scope = compile_text(Some(&format!("name = \"{test}\"")), Target::Spans, &NoResourceAttrs).unwrap();
            let f = compile_text(Some(q), Target::Spans, &NoResourceAttrs)
                .unwrap()
                .and_in_traces_of(scope, Target::Spans);
            assert_eq!(f.sql.matches('?').count(), f.params.len(), "{}", f.sql);
            count(&conn, &f, CountTarget::Spans, TimeRange::ALL).unwrap()
        };
        assert_eq!(scoped("name = work", "test a"), 1);
        assert_eq!(scoped("duration > 0", "test b"), 2);
        assert_eq!(scoped("name = work", "test c"), 0);
    }

    #[test]
    fn full_text_is_every_word_phrase_and_prefix_as_fts5_strings() {
        let fts = |q: &str| {
            compile_text(Some(q), Target::Logs, &NoResourceAttrs).map(|f| f.full_text.expect("a top-level search drives the query"))
        };
        assert_eq!(fts(r#"body ~ "upstream timeout""#).unwrap(), r#""upstream" AND "timeout""#);
        assert_eq!(
            fts(r#"body ~ '"upstream timeout" retr*'"#).unwrap(),
            r#""upstream timeout" AND "retr" *"#
        );
        assert_eq!(fts("severity >= warn and body ~ time*").unwrap(), r#""time" *"#);
        // User text is never FTS5 syntax: every term is an FTS5 string.
        assert_eq!(fts(r#"body ~ 'a"b OR c* NEAR(d)'"#).unwrap(), r#""a" AND "b OR c* NEAR(d)""#);
        assert_eq!(
            fts("body ~ \"x\u{0}y !! -\"").unwrap(),
            r#""x y""#,
            "no control chars; no wordless terms"
        );
        let long = format!("body ~ \"{}\"", vec!["w"; MAX_SEARCH_TERMS + 1].join(" "));
        for (q, message) in [
            (r#"body ~ "!! --""#, "needs a word"),
            ("body ~ a*", "at least 2"),
            (long.as_str(), "at most 32 words"),
        ] {
            let e = fts(q).unwrap_err().to_string();
            assert!(e.contains(message), "{q}: {e}");
        }
        // Inside `or` the same query is a parameter of the subquery form.
        let f = compile_text(Some(r#"body ~ "a b" or severity >= error"#), Target::Logs, &NoResourceAttrs).unwrap();
        assert!(f.full_text.is_none());
        assert_eq!(
            f.sql,
            "(l.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?) OR l.severity_number >= 17)"
        );
        assert_eq!(f.params, [Value::Text(r#""a" AND "b""#.into())]);
    }

    #[test]
    fn text_matches_on_other_fields_need_every_word() {
        let text = |s: &str| Value::Text(s.into());
        let f = compile_text(Some(r#"name ~ "Timeout upstream""#), Target::Spans, &NoResourceAttrs).unwrap();
        assert_eq!(
            f.sql,
            "(coalesce(instr(lower(s.name), lower(?)) > 0, 0) AND coalesce(instr(lower(s.name), lower(?)) > 0, 0))"
        );
        assert_eq!(f.params, [text("Timeout"), text("upstream")]);
        // A phrase is one substring, a prefix its substring.
        let f = compile_text(Some(r#"name ~ '"GET /api" v2*'"#), Target::Spans, &NoResourceAttrs).unwrap();
        assert_eq!(f.params, [text("GET /api"), text("v2")]);
        // An attribute's lookup (its two key parameters) is repeated for each word.
        let f = compile_text(Some(r#"http.url ~ "api v2""#), Target::Spans, &NoResourceAttrs).unwrap();
        let key = text("http.url");
        assert_eq!(f.params, [key.clone(), key.clone(), text("api"), key.clone(), key, text("v2")]);
        assert_eq!(f.sql.matches('?').count(), f.params.len(), "{}", f.sql);
        let f = compile_text(Some(r#"resource.host ~ "a b""#), Target::Logs, &NoResourceAttrs).unwrap();
        assert_eq!(f.params, [text("host"), text("a"), text("host"), text("b")]);
        // One word: one condition, as before.
        let f = compile_text(Some("name ~ tool"), Target::Spans, &NoResourceAttrs).unwrap();
        assert_eq!(f.sql, "coalesce(instr(lower(s.name), lower(?)) > 0, 0)");
        let e = compile_text(
            Some(&format!("name ~ \"{}\"", vec!["w"; MAX_SEARCH_TERMS + 1].join(" "))),
            Target::Spans,
            &NoResourceAttrs,
        )
        .unwrap_err();
        assert!(e.to_string().contains("name ~ takes at most 32 words"), "{e}");
    }

    #[test]
    fn events_scopes_and_status_messages_compile_to_their_lookups() {
        let text = |s: &str| Value::Text(s.into());
        let c = |q: &str, target| compile_text(Some(q), target, &NoResourceAttrs).unwrap();
        let events = "json_each(otelbox_event_values(s.extra, ?)) e";
        let f = c("event.exception.type = ValueError", Target::Spans);
        assert_eq!(f.sql, format!("EXISTS (SELECT 1 FROM {events} WHERE e.value = ?)"));
        assert_eq!(f.params, [text("exception.type"), text("ValueError")]);
        let f = c("event.exception.type != ValueError", Target::Spans);
        assert_eq!(f.sql, format!("(NOT EXISTS (SELECT 1 FROM {events} WHERE e.value = ?))"));
        let f = c("event.retries >= 2", Target::Spans);
        assert_eq!(
            f.sql,
            format!("EXISTS (SELECT 1 FROM {events} WHERE (typeof(e.value) IN ('integer', 'real') AND e.value >= ?))")
        );
        assert_eq!(f.params, [text("retries"), Value::Integer(2)]);
        let f = c("has(event.exception.type)", Target::Spans);
        assert_eq!(f.sql, "otelbox_event_values(s.extra, ?) IS NOT NULL");
        let f = c("event_name = exception", Target::Spans);
        assert_eq!(
            f.sql,
            "EXISTS (SELECT 1 FROM json_each(otelbox_event_names(s.extra)) e WHERE e.value = ?)"
        );
        let f = c("event_name = gen_ai.user.message", Target::Logs);
        assert_eq!(f.sql, "otelbox_log_event_name(l.extra) = ?");
        // Log records have no events: `event.<key>` is their attribute of that name.
        let f = c("event.domain = browser", Target::Logs);
        assert_eq!(f.params[0], text("event.domain"));
        let f = c("scope.name = io.x and scope.version != 1", Target::Spans);
        assert_eq!(
            f.sql,
            "(s.scope_id IN (SELECT id FROM scopes WHERE name = ?) AND s.scope_id IN (SELECT id FROM scopes WHERE version IS NOT ?))"
        );
        assert_eq!(f.params, [text("io.x"), text("1")]);
        let f = c("status.message ~ refused", Target::Spans);
        assert_eq!(f.sql, "coalesce(instr(lower(otelbox_status_message(s.extra)), lower(?)) > 0, 0)");
        for (q, target) in [("status.message ~ x", Target::Logs), ("event_name = x", Target::Metrics)] {
            assert!(compile_text(Some(q), target, &NoResourceAttrs).is_err(), "{q}");
        }
        // SQLite takes every form, with its parameters, over the real schema and functions.
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        super::super::functions::register(&conn).unwrap();
        for (q, target, from) in [
            (
                "event.exception.type = x or event.n > 2.5 or event.ok = true or event.x =~ \"^a\"",
                Target::Spans,
                "spans s",
            ),
            (
                "event.x !~ a or event.x ~ \"a b*\" or not has(event.x) or event_name != y",
                Target::Spans,
                "spans s",
            ),
            (
                "scope.name ~ a and scope.version =~ b and has(scope.name) and status.message != c",
                Target::Spans,
                "spans s",
            ),
            (
                "event_name = a and has(event_name) and scope.name = b and event.k = 1",
                Target::Logs,
                "logs l",
            ),
            ("scope.name = a and has(scope.version)", Target::Metrics, "metric_streams m"),
        ] {
            let f = compile_text(Some(q), target, &NoResourceAttrs).unwrap();
            assert_eq!(f.sql.matches('?').count(), f.params.len(), "{q}: {}", f.sql);
            let n: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM {from} WHERE {}", f.sql),
                    rusqlite::params_from_iter(f.params.iter()),
                    |r| r.get(0),
                )
                .unwrap_or_else(|e| panic!("{q}: {e}\n{}", f.sql));
            assert_eq!(n, 0);
        }
    }
}
