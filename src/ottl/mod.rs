//! The OTTL subset used by the filter, transform and tail_sampling processors: a parser with
//! column errors, a typed tree, and an evaluator over OTLP spans, logs, metrics, data points,
//! resources and instrumentation scopes.
//!
//! Grammar (lowest precedence first):
//! ```text
//! statement  = editor "(" [value {"," value}] ")" ["where" condition]
//! condition  = and_expr {"or" and_expr}
//! and_expr   = unary {"and" unary}
//! unary      = {"not"} (comparison | bool | converter | "(" condition ")")
//! comparison = value ("==" | "!=" | "<" | "<=" | ">" | ">=") value
//! value      = term {("+" | "-") term};  term = factor {("*" | "/") factor}
//! factor     = path | string | ["-"] int | ["-"] float | true | false | nil | ENUM
//!            | converter | "[" [value {"," value}] "]" | "(" value ")"
//! path       = ident {"." ident} {"[" string | int "]"}
//! ```
//! A path may start with a context name, as the Collector accepts: a prefix naming the current
//! context is the same as none (`span.name` is `name` in the span context), and others name what
//! the item belongs to (`resource.attributes`, `instrumentation_scope.name` or `scope.name`,
//! `metric.type` of a data point, `span.name` of a span event). The scope context (an
//! instrumentation scope: `name`, `version`, `attributes`, `dropped_attributes_count`,
//! `schema_url`, and its resource read-only) answers to both `scope.` and
//! `instrumentation_scope.`; the item contexts read only `instrumentation_scope.name` of their
//! scope. `infer_contexts` picks the context of statements written without one from these
//! prefixes.
//!
//! Everything that can be checked without data is checked at parse time: paths against the
//! context, function names and arity, argument kinds, regexes and literal durations. What is
//! left for run time (a type error in arithmetic, indexing a string) is an `OttlError` the
//! caller handles according to its `error_mode`.
//!
//! Semantics: a missing key is `nil`, so `attributes["k"] == nil` tests absence; values of
//! different types are unequal and unordered (`!=` is true, every other comparison false);
//! ints and floats compare as numbers; `Duration("8s")` is an int of nanoseconds, so
//! `end_time_unix_nano - start_time_unix_nano > Duration("8s")` works; enums are ints.
//!
//! Every context has `cache` (also `<context>.cache`): a map private to one item while one block
//! of statements runs over it, read and written like attributes. The caller lends it with
//! `WithCache`; without one it reads as an empty map and cannot be written. A context reads no
//! other context's cache (`resource.cache` is refused in the log context). `ParseJSON` turns a
//! JSON object into a map and an array into a list, every number a float, as the Collector does.

mod ast;
mod contexts;
mod eval;
mod functions;
mod infer;
mod lexer;
mod parser;
mod paths;
mod semconv_name;
mod value;

#[cfg(test)]
mod tests;

pub use ast::{
    BoolExpr, Call, CompareOp, Converter, Editor, Key, MathOp, MathStep, MergeStrategy, Path, Pattern, ReplaceMode, Replacement,
    StringFunction, ValueExpr, ValueKind,
};
pub use contexts::{
    DataPointContext, LogContext, MetricContext, MetricFacts, ResourceContext, ScopeContext, SpanContext, SpanEventContext, WithResource,
};
pub use eval::{FieldMut, FieldRef, TransformContext, WithCache};
pub use infer::infer_contexts;
pub use paths::{Container, Context, Field};
pub use value::{parse_duration, Value};

use std::fmt;

/// Longest accepted statement or condition, in chars; bounds the parse work.
pub const MAX_INPUT_CHARS: usize = 65_536;
/// Deepest accepted nesting of parentheses, brackets, calls and `not` (and keys on a path);
/// bounds the recursion of the parser and the evaluator.
pub const MAX_DEPTH: usize = 64;

/// A parse or evaluation error; `column` is 1-based and counted in chars.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct OttlError {
    pub column: usize,
    pub message: String,
}

fn err(column: usize, message: impl Into<String>) -> OttlError {
    OttlError {
        column,
        message: message.into(),
    }
}

/// A parsed condition (a filter's drop rule, a tail-sampling `ottl_condition`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    expr: BoolExpr,
    context: Context,
    text: String,
}

/// A parsed statement: an editor and an optional `where` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    editor: Editor,
    condition: Option<BoolExpr>,
    context: Context,
    text: String,
}

/// Parses a condition whose paths belong to `context`.
pub fn parse_condition(text: &str, context: Context) -> Result<Condition, OttlError> {
    let expr = parser::condition(text, context)?;
    Ok(Condition {
        expr,
        context,
        text: text.to_string(),
    })
}

/// Parses `editor(args) [where condition]` whose paths belong to `context`.
pub fn parse_statement(text: &str, context: Context) -> Result<Statement, OttlError> {
    let (editor, condition) = parser::statement(text, context)?;
    Ok(Statement {
        editor,
        condition,
        context,
        text: text.to_string(),
    })
}

/// Data of one context must not meet a tree parsed for another: its paths would not exist.
fn check_context(parsed_for: Context, ctx: &dyn TransformContext) -> Result<(), OttlError> {
    if ctx.context() == parsed_for {
        return Ok(());
    }
    Err(err(
        1,
        format!("parsed for the {parsed_for} context but evaluated on {} data", ctx.context()),
    ))
}

impl Condition {
    pub fn expr(&self) -> &BoolExpr {
        &self.expr
    }

    pub fn context(&self) -> Context {
        self.context
    }

    pub fn evaluate(&self, ctx: &dyn TransformContext) -> Result<bool, OttlError> {
        check_context(self.context, ctx)?;
        eval::eval_bool(&self.expr, ctx)
    }
}

impl Statement {
    pub fn editor(&self) -> &Editor {
        &self.editor
    }

    pub fn condition(&self) -> Option<&BoolExpr> {
        self.condition.as_ref()
    }

    pub fn context(&self) -> Context {
        self.context
    }

    /// Runs the editor when the `where` condition holds (or there is none).
    pub fn execute(&self, ctx: &mut dyn TransformContext) -> Result<(), OttlError> {
        check_context(self.context, &*ctx)?;
        if let Some(condition) = &self.condition {
            if !eval::eval_bool(condition, &*ctx)? {
                return Ok(());
            }
        }
        functions::run_editor(&self.editor, ctx)
    }
}

/// The source text, as written.
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
