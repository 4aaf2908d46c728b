//! The typed syntax tree the parser builds: conditions, values, paths, converters and editors.
//!
//! `and`/`or` chains and arithmetic at one precedence level are flat lists, so a long chain
//! never makes the tree (and the recursion that walks it) deep; only parentheses, `not`,
//! lists and calls nest, and the parser bounds those.

use super::paths::Field;
use super::value::Value;
use std::fmt;

/// Something that is true or false.
#[derive(Debug, Clone, PartialEq)]
pub enum BoolExpr {
    Const(bool),
    /// True when any term is; evaluated left to right, stopping at the first true one.
    Or(Vec<BoolExpr>),
    /// True when every term is; stops at the first false one.
    And(Vec<BoolExpr>),
    Not(Box<BoolExpr>),
    Compare {
        left: ValueExpr,
        op: CompareOp,
        right: ValueExpr,
    },
    /// A converter that returns a boolean (`IsMatch`, `IsRootSpan`).
    Converter(Call),
}

/// Something that evaluates to a `Value`.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueExpr {
    Literal(Value),
    Path(Path),
    Converter(Call),
    List(Vec<ValueExpr>),
    /// `first op operand op operand ...`, all of one precedence level, folded left to right.
    Math {
        first: Box<ValueExpr>,
        rest: Vec<MathStep>,
    },
}

/// One `op operand` of an arithmetic chain.
#[derive(Debug, Clone, PartialEq)]
pub struct MathStep {
    pub op: MathOp,
    /// Where the operator is, for runtime errors such as a division by zero.
    pub column: usize,
    pub operand: ValueExpr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// A field of the context and the keys into it: `resource.attributes["service.name"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub field: Field,
    pub keys: Vec<Key>,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Str(String),
    Index(usize),
}

/// A converter call and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub converter: Converter,
    pub column: usize,
}

/// The converters: functions that compute a value and change nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Converter {
    IsMatch {
        target: Box<ValueExpr>,
        pattern: Pattern,
    },
    /// A Go-style duration string (`"1h30m"`, `"500ms"`) to integer nanoseconds.
    Duration(Box<ValueExpr>),
    Int(Box<ValueExpr>),
    String(Box<ValueExpr>),
    Concat {
        values: Box<ValueExpr>,
        delimiter: Box<ValueExpr>,
    },
    IsRootSpan,
}

/// The editors: a statement's action on the data.
#[derive(Debug, Clone, PartialEq)]
pub enum Editor {
    Set {
        target: Path,
        value: ValueExpr,
    },
    DeleteKey {
        target: Path,
        key: String,
    },
    DeleteMatchingKeys {
        target: Path,
        pattern: Pattern,
    },
    KeepKeys {
        target: Path,
        keys: Vec<String>,
    },
    ReplacePattern {
        target: Path,
        pattern: Pattern,
        replacement: String,
    },
    ReplaceAllPatterns {
        target: Path,
        mode: ReplaceMode,
        pattern: Pattern,
        replacement: String,
    },
    /// Cut every string value of the map to at most `limit` bytes, at a character boundary.
    TruncateAll {
        target: Path,
        limit: usize,
    },
    /// Keep at most `limit` entries, the `priority_keys` first.
    Limit {
        target: Path,
        limit: usize,
        priority_keys: Vec<String>,
    },
}

/// What `replace_all_patterns` rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceMode {
    Key,
    Value,
}

/// A regex compiled at parse time; equal when written the same.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Converter {
    pub fn name(&self) -> &'static str {
        match self {
            Converter::IsMatch { .. } => "IsMatch",
            Converter::Duration(_) => "Duration",
            Converter::Int(_) => "Int",
            Converter::String(_) => "String",
            Converter::Concat { .. } => "Concat",
            Converter::IsRootSpan => "IsRootSpan",
        }
    }

    pub(super) fn returns_bool(&self) -> bool {
        matches!(self, Converter::IsMatch { .. } | Converter::IsRootSpan)
    }

    /// Whether the result may be used in arithmetic (`Int` may also return nil).
    pub(super) fn returns_int(&self) -> bool {
        matches!(self, Converter::Duration(_) | Converter::Int(_))
    }

    /// What the converter returns, for messages.
    pub(super) fn returns(&self) -> &'static str {
        match self {
            Converter::IsMatch { .. } | Converter::IsRootSpan => "a boolean",
            Converter::Duration(_) | Converter::Int(_) => "an int",
            Converter::String(_) | Converter::Concat { .. } => "a string",
        }
    }
}

impl Editor {
    pub fn name(&self) -> &'static str {
        match self {
            Editor::Set { .. } => "set",
            Editor::DeleteKey { .. } => "delete_key",
            Editor::DeleteMatchingKeys { .. } => "delete_matching_keys",
            Editor::KeepKeys { .. } => "keep_keys",
            Editor::ReplacePattern { .. } => "replace_pattern",
            Editor::ReplaceAllPatterns { .. } => "replace_all_patterns",
            Editor::TruncateAll { .. } => "truncate_all",
            Editor::Limit { .. } => "limit",
        }
    }
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

impl MathOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MathOp::Add => "+",
            MathOp::Sub => "-",
            MathOp::Mul => "*",
            MathOp::Div => "/",
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.field.as_str())?;
        for key in &self.keys {
            match key {
                Key::Str(k) => write!(f, "[{k:?}]")?,
                Key::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

impl Path {
    /// Whether the path can name a map (for the map editors): an attribute map itself, or a
    /// key inside a map or body, whose value may be a map at run time.
    pub(super) fn may_be_map(&self) -> bool {
        self.field.container().is_some()
    }
}
