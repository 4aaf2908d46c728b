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
    Double(Box<ValueExpr>),
    String(Box<ValueExpr>),
    Concat {
        values: Box<ValueExpr>,
        delimiter: Box<ValueExpr>,
    },
    Split {
        target: Box<ValueExpr>,
        delimiter: String,
    },
    /// `length` bytes from byte `start`; with `utf8_safe` both ends move inward to a
    /// character boundary instead of failing.
    Substring {
        target: Box<ValueExpr>,
        start: Box<ValueExpr>,
        length: Box<ValueExpr>,
        utf8_safe: bool,
    },
    /// `ToLowerCase`, `ToUpperCase`, `SHA256`: a string to a string.
    OfString {
        function: StringFunction,
        target: Box<ValueExpr>,
    },
    /// The length of a string (in bytes), a list or a map.
    Len(Box<ValueExpr>),
    /// `IsMap`, `IsString`, `IsInt`, `IsDouble`, `IsBool`, `IsList`.
    IsKind {
        kind: ValueKind,
        target: Box<ValueExpr>,
    },
    /// A random (version 4) UUID.
    Uuid,
    IsRootSpan,
    /// A JSON object to a map, an array to a list.
    ParseJson(Box<ValueExpr>),
}

/// The converters from a string to a string, which the replace editors also take as their
/// `function` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringFunction {
    ToLowerCase,
    ToUpperCase,
    Sha256,
}

/// What the `Is*` converters test for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Map,
    String,
    Int,
    Double,
    Bool,
    List,
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
    KeepMatchingKeys {
        target: Path,
        pattern: Pattern,
    },
    ReplacePattern {
        target: Path,
        pattern: Pattern,
        replacement: Replacement,
    },
    ReplaceAllPatterns {
        target: Path,
        mode: ReplaceMode,
        pattern: Pattern,
        replacement: Replacement,
    },
    /// Replace the whole string when it matches a glob (`pattern` is the glob as a regex).
    ReplaceMatch {
        target: Path,
        pattern: Pattern,
        replacement: Replacement,
    },
    /// `ReplaceMatch` on every string value of a map.
    ReplaceAllMatches {
        target: Path,
        pattern: Pattern,
        replacement: Replacement,
    },
    MergeMaps {
        target: Path,
        source: ValueExpr,
        strategy: MergeStrategy,
    },
    /// Move the entries of nested maps (and lists) to the top, keys joined with '.'.
    Flatten {
        target: Path,
        prefix: String,
        /// How many levels to flatten; None is all.
        depth: Option<usize>,
    },
    /// Cut every string value of the map to at most `limit` bytes, at a character boundary,
    /// ending with `marker` when cut (the marker counts toward the limit).
    TruncateAll {
        target: Path,
        limit: usize,
        marker: String,
    },
    /// Keep at most `limit` entries, the `priority_keys` first.
    Limit {
        target: Path,
        limit: usize,
        priority_keys: Vec<String>,
    },
    ConvertSumToGauge,
    /// Renames a span as its semantic conventions name it (HTTP, RPC, database, messaging),
    /// keeping the old name in `original_name_attribute` when given and different.
    SetSemconvSpanName {
        original_name_attribute: Option<String>,
    },
    ConvertGaugeToSum {
        /// As OTLP numbers it: 1 delta, 2 cumulative.
        aggregation_temporality: i32,
        is_monotonic: bool,
    },
}

/// What `replace_all_patterns` rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceMode {
    Key,
    Value,
}

/// How `merge_maps` treats a key both maps have, or only the source has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    /// Add the source's new keys only.
    Insert,
    /// Overwrite the target's existing keys only.
    Update,
    /// Both.
    Upsert,
}

/// The replacement of the replace editors: the text (which may refer to regex groups as `$1`),
/// then optionally a converter applied to it and a format with one `%s` for the result:
/// `replace_pattern(name, "^kube_(\w+)", "$1", SHA256, "k8s.%s")`.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    pub text: String,
    pub function: Option<StringFunction>,
    /// Only with a function, as in OTTL.
    pub format: Option<String>,
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
            Converter::Double(_) => "Double",
            Converter::String(_) => "String",
            Converter::Concat { .. } => "Concat",
            Converter::Split { .. } => "Split",
            Converter::Substring { .. } => "Substring",
            Converter::OfString { function, .. } => function.name(),
            Converter::Len(_) => "Len",
            Converter::IsKind { kind, .. } => kind.converter_name(),
            Converter::Uuid => "UUID",
            Converter::IsRootSpan => "IsRootSpan",
            Converter::ParseJson(_) => "ParseJSON",
        }
    }

    pub(super) fn returns_bool(&self) -> bool {
        matches!(self, Converter::IsMatch { .. } | Converter::IsKind { .. } | Converter::IsRootSpan)
    }

    /// Whether the result may be used in arithmetic (`Int` and `Double` may also return nil).
    pub(super) fn returns_number(&self) -> bool {
        matches!(
            self,
            Converter::Duration(_) | Converter::Int(_) | Converter::Double(_) | Converter::Len(_)
        )
    }

    /// What the converter returns, for messages.
    pub(super) fn returns(&self) -> &'static str {
        match self {
            Converter::IsMatch { .. } | Converter::IsKind { .. } | Converter::IsRootSpan => "a boolean",
            Converter::Duration(_) | Converter::Int(_) | Converter::Len(_) => "an int",
            Converter::Double(_) => "a float",
            Converter::Split { .. } => "a list",
            Converter::ParseJson(_) => "a map or a list",
            Converter::String(_)
            | Converter::Concat { .. }
            | Converter::Substring { .. }
            | Converter::OfString { .. }
            | Converter::Uuid => "a string",
        }
    }
}

impl StringFunction {
    pub fn name(self) -> &'static str {
        match self {
            StringFunction::ToLowerCase => "ToLowerCase",
            StringFunction::ToUpperCase => "ToUpperCase",
            StringFunction::Sha256 => "SHA256",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<StringFunction> {
        [StringFunction::ToLowerCase, StringFunction::ToUpperCase, StringFunction::Sha256]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

impl ValueKind {
    pub fn converter_name(self) -> &'static str {
        match self {
            ValueKind::Map => "IsMap",
            ValueKind::String => "IsString",
            ValueKind::Int => "IsInt",
            ValueKind::Double => "IsDouble",
            ValueKind::Bool => "IsBool",
            ValueKind::List => "IsList",
        }
    }

    pub(super) fn from_converter_name(name: &str) -> Option<ValueKind> {
        [
            ValueKind::Map,
            ValueKind::String,
            ValueKind::Int,
            ValueKind::Double,
            ValueKind::Bool,
            ValueKind::List,
        ]
        .into_iter()
        .find(|k| k.converter_name() == name)
    }
}

impl Editor {
    pub fn name(&self) -> &'static str {
        match self {
            Editor::Set { .. } => "set",
            Editor::DeleteKey { .. } => "delete_key",
            Editor::DeleteMatchingKeys { .. } => "delete_matching_keys",
            Editor::KeepKeys { .. } => "keep_keys",
            Editor::KeepMatchingKeys { .. } => "keep_matching_keys",
            Editor::ReplacePattern { .. } => "replace_pattern",
            Editor::ReplaceAllPatterns { .. } => "replace_all_patterns",
            Editor::ReplaceMatch { .. } => "replace_match",
            Editor::ReplaceAllMatches { .. } => "replace_all_matches",
            Editor::MergeMaps { .. } => "merge_maps",
            Editor::Flatten { .. } => "flatten",
            Editor::TruncateAll { .. } => "truncate_all",
            Editor::Limit { .. } => "limit",
            Editor::ConvertSumToGauge => "convert_sum_to_gauge",
            Editor::SetSemconvSpanName { .. } => "set_semconv_span_name",
            Editor::ConvertGaugeToSum { .. } => "convert_gauge_to_sum",
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
