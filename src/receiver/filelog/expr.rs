//! The expressions of the filelog operators (`if`, a router route's `expr`, `EXPR(...)` values):
//! the subset of expr-lang (github.com/expr-lang/expr), which the Collector's stanza operators
//! evaluate, that configs use, with its semantics.
//!
//! - variables `body` (and `$`, the body too), `attributes`, `resource`; any other name is nil, as
//!   the Collector compiles with undefined variables allowed (`timestamp` is refused: otelbox has no
//!   time values in expressions);
//! - members `a.b`, `a["b.c"]`, `a[0]` (negative from the end) and optional chaining `a?.b`,
//!   `a?.["b"]`: a missing key is nil; a member of nil is an error unless reached through `?.`,
//!   which makes the whole chain nil;
//! - literals: strings in `"..."`, `'...'` (with Go's escapes) or backquotes (raw), integers,
//!   floats, `true`, `false`, `nil`, arrays `[1, "a"]`;
//! - `==` `!=` (numbers compare across integer and float; nil equals only nil), `<` `>` `<=` `>=`
//!   (numbers or strings; `1 < x < 3` chains as in expr-lang), `and` `&&` `or` `||` (short-circuit,
//!   the left side must be a bool), `not` `!`, `matches "regex"`, `contains`, `startsWith`,
//!   `endsWith` (nil on either side is false; anything but strings an error), `not matches` and the
//!   like, `in` (an array element or a map key), `??` (the right side when the left is nil),
//!   `+` `-` `*` `/` `%`, `cond ? a : b`, parentheses;
//! - functions `env("NAME")`, `len`, `lower`, `upper`, `trim`, `hasPrefix`, `hasSuffix`, `string`,
//!   `int`, `float`.
//!
//! Precedence and associativity are expr-lang's: `or` 10, `and` 15, comparisons and `matches`,
//! `contains`, `in`... 20 (so `body matches "x" == true` is `(body matches "x") == true`), `+ -` 30,
//! `* / %` 60, `??` 500; the unary `not` and `!` take an operand of precedence 50 (`not a == b` is
//! `(not a) == b`), unary `-` and `+` 90.

use super::operators::Entry;
use serde_json::{Map, Value as Json};
use std::borrow::Cow;

/// A compiled expression.
#[derive(Clone, Debug)]
pub struct Expr {
    source: String,
    node: Node,
}

#[derive(Clone, Debug)]
enum Node {
    Literal(Json),
    Variable(Variable),
    /// `object.property`, `object[property]`; `optional` for `?.`.
    Member {
        object: Box<Node>,
        property: Box<Node>,
        optional: bool,
    },
    /// Where an optional chain ends: a nil met at a `?.` inside makes this nil.
    Chain(Box<Node>),
    Not(Box<Node>),
    Negate(Box<Node>),
    Plus(Box<Node>),
    Binary {
        op: BinaryOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    /// `matches` with a literal pattern, compiled once.
    MatchesConst {
        left: Box<Node>,
        regex: regex::Regex,
    },
    Conditional {
        condition: Box<Node>,
        then: Box<Node>,
        otherwise: Box<Node>,
    },
    Call {
        function: Function,
        args: Vec<Node>,
    },
    Array(Vec<Node>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Variable {
    Body,
    Attributes,
    Resource,
    /// An undefined name: nil.
    Undefined,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum BinaryOp {
    Or,
    And,
    Equal,
    NotEqual,
    Less,
    Greater,
    LessEqual,
    GreaterEqual,
    In,
    Matches,
    Contains,
    StartsWith,
    EndsWith,
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Coalesce,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Function {
    Env,
    Len,
    Lower,
    Upper,
    Trim,
    HasPrefix,
    HasSuffix,
    String,
    Int,
    Float,
}

impl Function {
    fn named(name: &str) -> Option<(Function, usize)> {
        Some(match name {
            "env" => (Function::Env, 1),
            "len" => (Function::Len, 1),
            "lower" => (Function::Lower, 1),
            "upper" => (Function::Upper, 1),
            "trim" => (Function::Trim, 1),
            "hasPrefix" => (Function::HasPrefix, 2),
            "hasSuffix" => (Function::HasSuffix, 2),
            "string" => (Function::String, 1),
            "int" => (Function::Int, 1),
            "float" => (Function::Float, 1),
            _ => return None,
        })
    }
}

/// expr-lang's binary operators: (token, precedence, operator).
fn binary_operator(token: &Token) -> Option<(u16, BinaryOp)> {
    let (Token::Operator(text) | Token::Word(text)) = token else {
        return None;
    };
    Some(match text.as_str() {
        "or" | "||" => (10, BinaryOp::Or),
        "and" | "&&" => (15, BinaryOp::And),
        "==" => (20, BinaryOp::Equal),
        "!=" => (20, BinaryOp::NotEqual),
        "<" => (20, BinaryOp::Less),
        ">" => (20, BinaryOp::Greater),
        "<=" => (20, BinaryOp::LessEqual),
        ">=" => (20, BinaryOp::GreaterEqual),
        "in" => (20, BinaryOp::In),
        "matches" => (20, BinaryOp::Matches),
        "contains" => (20, BinaryOp::Contains),
        "startsWith" => (20, BinaryOp::StartsWith),
        "endsWith" => (20, BinaryOp::EndsWith),
        "+" => (30, BinaryOp::Add),
        "-" => (30, BinaryOp::Subtract),
        "*" => (60, BinaryOp::Multiply),
        "/" => (60, BinaryOp::Divide),
        "%" => (60, BinaryOp::Modulo),
        "??" => (500, BinaryOp::Coalesce),
        _ => return None,
    })
}

/// The comparisons expr-lang chains (`1 < x < 3` is `1 < x && x < 3`).
fn chains(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Less | BinaryOp::Greater | BinaryOp::LessEqual | BinaryOp::GreaterEqual
    )
}

/// The operators `not` may precede (`not in`, `not matches`, ...).
fn negatable(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::In | BinaryOp::Matches | BinaryOp::Contains | BinaryOp::StartsWith | BinaryOp::EndsWith
    )
}

// ---------------------------------------------------------------------------------------------
// Lexing

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Identifier(String),
    /// `and`, `or`, `not`, `in`, `matches`, `contains`, `startsWith`, `endsWith`.
    Word(String),
    Operator(String),
    Str(String),
    Integer(i64),
    Float(f64),
    Eof,
}

const WORDS: &[&str] = &["and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"];

fn lex(source: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) && !after_value(&tokens)) {
            let start = i;
            if c == '0' && matches!(chars.get(i + 1), Some('x') | Some('X')) {
                i += 2;
                while i < chars.len() && (chars[i].is_ascii_hexdigit() || chars[i] == '_') {
                    i += 1;
                }
                let text: String = chars[start + 2..i].iter().filter(|c| **c != '_').collect();
                let value = i64::from_str_radix(&text, 16).map_err(|e| format!("invalid hex literal ({e})"))?;
                tokens.push(Token::Integer(value));
                continue;
            }
            let mut float = false;
            while i < chars.len() {
                let d = chars[i];
                if d.is_ascii_digit() || d == '_' {
                    i += 1;
                } else if d == '.' && !float && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()) {
                    float = true;
                    i += 1;
                } else if (d == 'e' || d == 'E')
                    && (chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
                        || (matches!(chars.get(i + 1), Some('+') | Some('-')) && chars.get(i + 2).is_some_and(|n| n.is_ascii_digit())))
                {
                    float = true;
                    i += 2;
                } else {
                    break;
                }
            }
            let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            if float {
                tokens.push(Token::Float(
                    text.parse().map_err(|e| format!("invalid float literal '{text}' ({e})"))?,
                ));
            } else {
                tokens.push(Token::Integer(
                    text.parse().map_err(|e| format!("invalid integer literal '{text}' ({e})"))?,
                ));
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if WORDS.contains(&word.as_str()) {
                tokens.push(Token::Word(word));
            } else {
                tokens.push(Token::Identifier(word));
            }
            continue;
        }
        if c == '"' || c == '\'' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            if i >= chars.len() {
                return Err("a string literal is not terminated".into());
            }
            let raw: String = chars[start + 1..i].iter().collect();
            tokens.push(Token::Str(unescape(&raw)?));
            i += 1;
            continue;
        }
        if c == '`' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i] != '`' {
                i += 1;
            }
            if i >= chars.len() {
                return Err("a raw string literal is not terminated".into());
            }
            tokens.push(Token::Str(chars[start..i].iter().collect()));
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        if ["==", "!=", "<=", ">=", "&&", "||", "??", "?."].contains(&two.as_str()) {
            tokens.push(Token::Operator(two));
            i += 2;
            continue;
        }
        if "<>!+-*/%?:.,()[]".contains(c) {
            tokens.push(Token::Operator(c.to_string()));
            i += 1;
            continue;
        }
        return Err(format!("unexpected character '{c}'"));
    }
    tokens.push(Token::Eof);
    Ok(tokens)
}

/// Whether the last token ends a value (so a following `.5` is a member access, not a number).
fn after_value(tokens: &[Token]) -> bool {
    matches!(
        tokens.last(),
        Some(Token::Identifier(_)) | Some(Token::Str(_)) | Some(Token::Integer(_)) | Some(Token::Float(_))
    ) || matches!(tokens.last(), Some(Token::Operator(o)) if o == ")" || o == "]")
}

/// Go's (and expr-lang's) escapes in a quoted string; an unknown escape is an error.
fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or("a string may not end with \\")?;
        match e {
            'a' => out.push('\u{07}'),
            'b' => out.push('\u{08}'),
            'f' => out.push('\u{0C}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{0B}'),
            '\\' | '\'' | '"' | '`' | '?' => out.push(e),
            'x' | 'X' | 'u' | 'U' => {
                let n = match e {
                    'u' => 4,
                    'U' => 8,
                    _ => 2,
                };
                let hex: String = chars.by_ref().take(n).collect();
                let code = u32::from_str_radix(&hex, 16).map_err(|_| format!("invalid escape \\{e}{hex}"))?;
                out.push(char::from_u32(code).ok_or_else(|| format!("invalid escape \\{e}{hex}"))?);
            }
            '0'..='3' => {
                let rest: String = chars.by_ref().take(2).collect();
                let code = u32::from_str_radix(&format!("{e}{rest}"), 8).map_err(|_| "invalid octal escape".to_string())?;
                out.push(char::from_u32(code).ok_or("invalid octal escape")?);
            }
            other => {
                return Err(format!(
                    "unknown escape \\{other} in a string (write \\\\{other} for a regular expression's \\{other})"
                ))
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parsing

struct ExprParser {
    tokens: Vec<Token>,
    at: usize,
}

impl ExprParser {
    fn current(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn peek(&self, ahead: usize) -> &Token {
        &self.tokens[(self.at + ahead).min(self.tokens.len() - 1)]
    }

    fn next(&mut self) {
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
    }

    fn is_operator(&self, op: &str) -> bool {
        matches!(self.current(), Token::Operator(o) if o == op)
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.is_operator(op) {
            self.next();
            Ok(())
        } else {
            Err(format!("expected '{op}', got {}", describe(self.current())))
        }
    }

    fn expression(&mut self, precedence: u16) -> Result<Node, String> {
        let mut left = self.primary()?;
        loop {
            let mut negate = false;
            let mut token = self.current().clone();
            if token == Token::Word("not".into()) {
                match binary_operator(self.peek(1)) {
                    Some((p, op)) if negatable(op) => {
                        if p < precedence {
                            break;
                        }
                        negate = true;
                        self.next();
                        token = self.current().clone();
                    }
                    _ => return Err(format!("unexpected {} after not", describe(self.peek(1)))),
                }
            }
            let Some((p, op)) = binary_operator(&token) else { break };
            if p < precedence {
                break;
            }
            self.next();
            if chains(op) {
                left = self.comparison(left, op, p)?;
                continue;
            }
            let right = self.expression(p + 1)?;
            left = binary(op, left, right)?;
            if negate {
                left = Node::Not(Box::new(left));
            }
        }
        if precedence == 0 && self.is_operator("?") {
            self.next();
            let (then, otherwise) = if self.is_operator(":") {
                // `a ?: b`: expr-lang makes it `a ? a : b`.
                self.next();
                (left.clone(), self.expression(0)?)
            } else {
                let then = self.expression(0)?;
                self.expect(":")?;
                (then, self.expression(0)?)
            };
            left = Node::Conditional {
                condition: Box::new(left),
                then: Box::new(then),
                otherwise: Box::new(otherwise),
            };
        }
        Ok(left)
    }

    /// `a < b < c`: `a < b && b < c`.
    fn comparison(&mut self, mut left: Node, mut op: BinaryOp, precedence: u16) -> Result<Node, String> {
        let mut root: Option<Node> = None;
        loop {
            let comparator = self.expression(precedence + 1)?;
            let compared = binary(op, left, comparator.clone())?;
            root = Some(match root {
                None => compared,
                Some(earlier) => Node::Binary {
                    op: BinaryOp::And,
                    left: Box::new(earlier),
                    right: Box::new(compared),
                },
            });
            left = comparator;
            match binary_operator(self.current()) {
                Some((_, next)) if chains(next) => {
                    op = next;
                    self.next();
                }
                _ => break,
            }
        }
        Ok(root.expect("at least one comparison"))
    }

    fn primary(&mut self) -> Result<Node, String> {
        let token = self.current().clone();
        let unary = match &token {
            Token::Word(w) if w == "not" => Some(50),
            Token::Operator(o) if o == "!" => Some(50),
            Token::Operator(o) if o == "-" || o == "+" => Some(90),
            _ => None,
        };
        if let Some(precedence) = unary {
            self.next();
            let operand = Box::new(self.expression(precedence)?);
            let node = match &token {
                Token::Operator(o) if o == "-" => Node::Negate(operand),
                Token::Operator(o) if o == "+" => Node::Plus(operand),
                _ => Node::Not(operand),
            };
            return self.postfix(node);
        }
        if self.is_operator("(") {
            self.next();
            let inner = self.expression(0)?;
            self.expect(")")?;
            return self.postfix(inner);
        }
        let node = match token {
            Token::Identifier(name) => {
                self.next();
                match name.as_str() {
                    "true" => return Ok(Node::Literal(Json::Bool(true))),
                    "false" => return Ok(Node::Literal(Json::Bool(false))),
                    "nil" => return Ok(Node::Literal(Json::Null)),
                    _ => {}
                }
                if self.is_operator("(") {
                    let Some((function, arity)) = Function::named(&name) else {
                        return Err(format!(
                            "the function {name}() is not supported by otelbox yet (it has env, len, lower, upper, trim, hasPrefix, hasSuffix, string, int, float)"
                        ));
                    };
                    self.next();
                    let mut args = Vec::new();
                    while !self.is_operator(")") {
                        args.push(self.expression(0)?);
                        if !self.is_operator(")") {
                            self.expect(",")?;
                        }
                    }
                    self.next();
                    if args.len() != arity {
                        return Err(format!("{name}() takes {arity} argument(s), got {}", args.len()));
                    }
                    Node::Call { function, args }
                } else {
                    Node::Variable(match name.as_str() {
                        "body" | "$" => Variable::Body,
                        "attributes" => Variable::Attributes,
                        "resource" => Variable::Resource,
                        "timestamp" => {
                            return Err(
                                "the variable timestamp is not supported by otelbox yet (only body, attributes and resource)".into(),
                            )
                        }
                        _ => Variable::Undefined,
                    })
                }
            }
            Token::Integer(n) => {
                self.next();
                Node::Literal(Json::from(n))
            }
            Token::Float(f) => {
                self.next();
                Node::Literal(Json::from(f))
            }
            Token::Str(s) => {
                self.next();
                Node::Literal(Json::String(s))
            }
            Token::Operator(o) if o == "[" => {
                self.next();
                let mut items = Vec::new();
                while !self.is_operator("]") {
                    items.push(self.expression(0)?);
                    if !self.is_operator("]") {
                        self.expect(",")?;
                    }
                }
                self.next();
                Node::Array(items)
            }
            other => return Err(format!("unexpected {}", describe(&other))),
        };
        self.postfix(node)
    }

    /// `.name`, `?.name`, `[index]`, `?.[index]` after a value, as expr-lang chains them.
    fn postfix(&mut self, mut node: Node) -> Result<Node, String> {
        loop {
            let optional = self.is_operator("?.");
            if self.is_operator(".") || optional {
                self.next();
                if optional && self.is_operator("[") {
                    node = self.index(node, true)?;
                    continue;
                }
                let name = match self.current() {
                    Token::Identifier(name) | Token::Word(name) => name.clone(),
                    other => return Err(format!("expected a name after '.', got {}", describe(other))),
                };
                self.next();
                if self.is_operator("(") {
                    return Err(format!("method calls (.{name}()) are not supported by otelbox yet"));
                }
                let (inner, was_chain) = match node {
                    Node::Chain(inner) => (*inner, true),
                    other => (other, false),
                };
                node = Node::Member {
                    object: Box::new(inner),
                    property: Box::new(Node::Literal(Json::String(name))),
                    optional,
                };
                if was_chain || optional {
                    node = Node::Chain(Box::new(node));
                }
            } else if self.is_operator("[") {
                node = self.index(node, false)?;
            } else {
                return Ok(node);
            }
        }
    }

    fn index(&mut self, node: Node, optional: bool) -> Result<Node, String> {
        self.expect("[")?;
        if self.is_operator(":") {
            return Err("slices ([a:b]) are not supported by otelbox yet".into());
        }
        let property = self.expression(0)?;
        if self.is_operator(":") {
            return Err("slices ([a:b]) are not supported by otelbox yet".into());
        }
        self.expect("]")?;
        let member = Node::Member {
            object: Box::new(node),
            property: Box::new(property),
            optional,
        };
        Ok(if optional { Node::Chain(Box::new(member)) } else { member })
    }
}

fn binary(op: BinaryOp, left: Node, right: Node) -> Result<Node, String> {
    if op == BinaryOp::Matches {
        if let Node::Literal(Json::String(pattern)) = &right {
            let regex = regex::Regex::new(pattern).map_err(|e| format!("invalid regular expression \"{pattern}\": {e}"))?;
            return Ok(Node::MatchesConst {
                left: Box::new(left),
                regex,
            });
        }
    }
    Ok(Node::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    })
}

fn describe(token: &Token) -> String {
    match token {
        Token::Identifier(s) => format!("'{s}'"),
        Token::Word(s) | Token::Operator(s) => format!("'{s}'"),
        Token::Str(s) => format!("the string \"{s}\""),
        Token::Integer(n) => format!("the number {n}"),
        Token::Float(f) => format!("the number {f}"),
        Token::Eof => "the end of the expression".to_string(),
    }
}

impl Expr {
    /// Compiles an expression (the text of `if`, `expr`, or inside `EXPR(...)`).
    pub fn parse(source: &str) -> Result<Expr, String> {
        let tokens = lex(source)?;
        let mut parser = ExprParser { tokens, at: 0 };
        if parser.current() == &Token::Eof {
            return Err("the expression is empty".into());
        }
        let node = parser.expression(0)?;
        if parser.current() != &Token::Eof {
            return Err(format!("unexpected {}", describe(parser.current())));
        }
        Ok(Expr {
            source: source.to_string(),
            node,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The value of the expression for `entry`.
    pub fn eval(&self, entry: &Entry) -> Result<Json, String> {
        match eval(&self.node, entry) {
            Ok(value) => Ok(value.into_json()),
            Err(Fault::ChainNil) => Ok(Json::Null),
            Err(Fault::Error(e)) => Err(e),
        }
    }

    /// The value of a condition, which must be a bool (expr-lang's `AsBool`).
    pub fn eval_bool(&self, entry: &Entry) -> Result<bool, String> {
        match self.eval(entry)? {
            Json::Bool(b) => Ok(b),
            other => Err(format!("expected bool, but got {}", type_name(&other))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// A value while evaluating: borrowed from the entry where possible.
enum Val<'e> {
    Ref(&'e Json),
    Map(&'e Map<String, Json>),
    Owned(Json),
}

impl<'e> Val<'e> {
    fn json(&self) -> Cow<'_, Json> {
        match self {
            Val::Ref(j) => Cow::Borrowed(*j),
            Val::Owned(j) => Cow::Borrowed(j),
            Val::Map(m) => Cow::Owned(Json::Object((*m).clone())),
        }
    }

    fn into_json(self) -> Json {
        match self {
            Val::Ref(j) => j.clone(),
            Val::Owned(j) => j,
            Val::Map(m) => Json::Object(m.clone()),
        }
    }

    fn is_nil(&self) -> bool {
        match self {
            Val::Ref(j) => j.is_null(),
            Val::Owned(j) => j.is_null(),
            Val::Map(_) => false,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Val::Ref(Json::String(s)) => Some(s.as_str()),
            Val::Owned(Json::String(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Val::Ref(Json::Bool(b)) | Val::Owned(Json::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::Map(_) => "map[string]interface {}",
            other => type_name(&other.json()),
        }
    }
}

enum Fault {
    /// A nil met at `?.`: the chain is nil.
    ChainNil,
    Error(String),
}

impl From<String> for Fault {
    fn from(e: String) -> Fault {
        Fault::Error(e)
    }
}

/// Go's names of the types, as expr-lang's errors show them.
fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "<nil>",
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_f64() => "float64",
        Json::Number(_) => "int",
        Json::String(_) => "string",
        Json::Array(_) => "[]interface {}",
        Json::Object(_) => "map[string]interface {}",
    }
}

fn eval<'e>(node: &Node, entry: &'e Entry) -> Result<Val<'e>, Fault> {
    Ok(match node {
        Node::Literal(value) => Val::Owned(value.clone()),
        Node::Variable(Variable::Body) => Val::Ref(&entry.body),
        Node::Variable(Variable::Attributes) => Val::Map(&entry.attributes),
        Node::Variable(Variable::Resource) => Val::Map(&entry.resource),
        Node::Variable(Variable::Undefined) => Val::Owned(Json::Null),
        Node::Chain(inner) => match eval(inner, entry) {
            Err(Fault::ChainNil) => Val::Owned(Json::Null),
            other => other?,
        },
        Node::Member {
            object,
            property,
            optional,
        } => {
            let object = eval(object, entry)?;
            if *optional && object.is_nil() {
                return Err(Fault::ChainNil);
            }
            let property = eval(property, entry)?.into_json();
            fetch(object, &property)?
        }
        Node::Not(operand) => {
            let value = eval(operand, entry)?;
            match value.as_bool() {
                Some(b) => Val::Owned(Json::Bool(!b)),
                None => return Err(Fault::Error(format!("invalid operation: not {}", value.type_name()))),
            }
        }
        Node::Negate(operand) => {
            let value = eval(operand, entry)?.into_json();
            match value {
                Json::Number(n) => match n.as_i64() {
                    Some(i) => Val::Owned(Json::from(-i)),
                    None => Val::Owned(number(-n.as_f64().unwrap_or(0.0))),
                },
                other => return Err(Fault::Error(format!("invalid operation: -{}", type_name(&other)))),
            }
        }
        Node::Plus(operand) => {
            let value = eval(operand, entry)?;
            if !matches!(&*value.json(), Json::Number(_)) {
                return Err(Fault::Error(format!("invalid operation: +{}", value.type_name())));
            }
            value
        }
        Node::MatchesConst { left, regex } => {
            let value = eval(left, entry)?;
            if value.is_nil() {
                return Ok(Val::Owned(Json::Bool(false)));
            }
            match value.as_str() {
                Some(s) => Val::Owned(Json::Bool(regex.is_match(s))),
                None => return Err(Fault::Error(format!("invalid operation: {} matches string", value.type_name()))),
            }
        }
        Node::Binary { op, left, right } => return binary_eval(*op, left, right, entry),
        Node::Conditional {
            condition,
            then,
            otherwise,
        } => {
            let value = eval(condition, entry)?;
            match value.as_bool() {
                Some(true) => eval(then, entry)?,
                Some(false) => eval(otherwise, entry)?,
                None => return Err(Fault::Error(format!("non-bool {} used as a condition", value.type_name()))),
            }
        }
        Node::Call { function, args } => {
            let mut values = Vec::with_capacity(args.len());
            for arg in args {
                values.push(eval(arg, entry)?.into_json());
            }
            Val::Owned(call(*function, values)?)
        }
        Node::Array(items) => {
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                values.push(eval(item, entry)?.into_json());
            }
            Val::Owned(Json::Array(values))
        }
    })
}

/// expr-lang's `runtime.Fetch`: a map key (missing: nil), an array index; anything else is an error.
fn fetch<'e>(object: Val<'e>, property: &Json) -> Result<Val<'e>, Fault> {
    let cannot = |object: &Val<'_>| Fault::Error(format!("cannot fetch {} from {}", display(property), object.type_name()));
    match object {
        Val::Map(map) => Ok(match property.as_str().and_then(|key| map.get(key)) {
            Some(value) => Val::Ref(value),
            None if property.is_string() || property.is_null() => Val::Owned(Json::Null),
            None => return Err(cannot(&Val::Map(map))),
        }),
        Val::Ref(Json::Object(map)) => Ok(match property.as_str().and_then(|key| map.get(key)) {
            Some(value) => Val::Ref(value),
            None if property.is_string() || property.is_null() => Val::Owned(Json::Null),
            None => return Err(cannot(&Val::Ref(&Json::Null))),
        }),
        Val::Owned(Json::Object(mut map)) => match property.as_str() {
            Some(key) => Ok(Val::Owned(map.remove(key).unwrap_or(Json::Null))),
            None => Err(Fault::Error(format!("cannot fetch {} from map", display(property)))),
        },
        Val::Ref(Json::Array(items)) => Ok(Val::Ref(&items[array_index(items.len(), property)?])),
        Val::Owned(Json::Array(mut items)) => {
            let i = array_index(items.len(), property)?;
            Ok(Val::Owned(items.swap_remove(i)))
        }
        other => Err(cannot(&other)),
    }
}

fn array_index(len: usize, property: &Json) -> Result<usize, Fault> {
    let Some(index) = property.as_i64() else {
        return Err(Fault::Error(format!("cannot use {} as an array index", display(property))));
    };
    let resolved = if index < 0 { len as i64 + index } else { index };
    if resolved < 0 || resolved >= len as i64 {
        return Err(Fault::Error(format!("index out of range: {index} (array length is {len})")));
    }
    Ok(resolved as usize)
}

fn display(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => "<nil>".to_string(),
        other => other.to_string(),
    }
}

fn number(f: f64) -> Json {
    serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null)
}

fn binary_eval<'e>(op: BinaryOp, left: &Node, right: &Node, entry: &'e Entry) -> Result<Val<'e>, Fault> {
    let bool_val = |b: bool| -> Result<Val<'e>, Fault> { Ok(Val::Owned(Json::Bool(b))) };
    match op {
        BinaryOp::Or | BinaryOp::And => {
            let l = eval(left, entry)?;
            let Some(b) = l.as_bool() else {
                return Err(Fault::Error(format!(
                    "invalid operation: {} {} (the left side of and/or must be a bool)",
                    l.type_name(),
                    if op == BinaryOp::Or { "or" } else { "and" }
                )));
            };
            if (op == BinaryOp::Or) == b {
                return bool_val(b);
            }
            eval(right, entry)
        }
        BinaryOp::Coalesce => {
            let l = eval(left, entry)?;
            if l.is_nil() {
                eval(right, entry)
            } else {
                Ok(l)
            }
        }
        _ => {
            let l = eval(left, entry)?;
            let r = eval(right, entry)?;
            match op {
                BinaryOp::Equal => bool_val(equal(&l.json(), &r.json())),
                BinaryOp::NotEqual => bool_val(!equal(&l.json(), &r.json())),
                BinaryOp::Less | BinaryOp::Greater | BinaryOp::LessEqual | BinaryOp::GreaterEqual => {
                    let ordering = compare(&l.json(), &r.json())
                        .ok_or_else(|| Fault::Error(format!("invalid operation: {} {} {}", l.type_name(), symbol(op), r.type_name())))?;
                    bool_val(match op {
                        BinaryOp::Less => ordering == std::cmp::Ordering::Less,
                        BinaryOp::Greater => ordering == std::cmp::Ordering::Greater,
                        BinaryOp::LessEqual => ordering != std::cmp::Ordering::Greater,
                        _ => ordering != std::cmp::Ordering::Less,
                    })
                }
                BinaryOp::Matches | BinaryOp::Contains | BinaryOp::StartsWith | BinaryOp::EndsWith => {
                    if l.is_nil() || r.is_nil() {
                        return bool_val(false);
                    }
                    let (Some(a), Some(b)) = (l.as_str(), r.as_str()) else {
                        return Err(Fault::Error(format!(
                            "invalid operation: {} {} {}",
                            l.type_name(),
                            symbol(op),
                            r.type_name()
                        )));
                    };
                    bool_val(match op {
                        BinaryOp::Matches => regex::Regex::new(b)
                            .map_err(|e| Fault::Error(format!("invalid regular expression \"{b}\": {e}")))?
                            .is_match(a),
                        BinaryOp::Contains => a.contains(b),
                        BinaryOp::StartsWith => a.starts_with(b),
                        _ => a.ends_with(b),
                    })
                }
                BinaryOp::In => match (&*l.json(), &r) {
                    (needle, Val::Map(map)) => bool_val(needle.as_str().is_some_and(|k| map.contains_key(k))),
                    (needle, other) => match &*other.json() {
                        Json::Array(items) => bool_val(items.iter().any(|item| equal(needle, item))),
                        Json::Object(map) => bool_val(needle.as_str().is_some_and(|k| map.contains_key(k))),
                        _ => Err(Fault::Error(format!("operator \"in\" not defined on {}", other.type_name()))),
                    },
                },
                _ => arithmetic(op, &l.json(), &r.json()).map(Val::Owned),
            }
        }
    }
}

fn symbol(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Less => "<",
        BinaryOp::Greater => ">",
        BinaryOp::LessEqual => "<=",
        BinaryOp::GreaterEqual => ">=",
        BinaryOp::Matches => "matches",
        BinaryOp::Contains => "contains",
        BinaryOp::StartsWith => "startsWith",
        BinaryOp::EndsWith => "endsWith",
        BinaryOp::Add => "+",
        BinaryOp::Subtract => "-",
        BinaryOp::Multiply => "*",
        BinaryOp::Divide => "/",
        BinaryOp::Modulo => "%",
        _ => "?",
    }
}

/// expr-lang's `runtime.Equal`: numbers across integer and float, strings, bools, nil only with
/// nil, and otherwise deep equality.
pub fn equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

/// Numbers with numbers, strings with strings; anything else has no order.
fn compare(a: &Json, b: &Json) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => Some(i.cmp(&j)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Json::String(x), Json::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn arithmetic(op: BinaryOp, a: &Json, b: &Json) -> Result<Json, Fault> {
    let invalid = || Fault::Error(format!("invalid operation: {} {} {}", type_name(a), symbol(op), type_name(b)));
    if let (BinaryOp::Add, Json::String(x), Json::String(y)) = (op, a, b) {
        return Ok(Json::String(format!("{x}{y}")));
    }
    let (Json::Number(x), Json::Number(y)) = (a, b) else {
        return Err(invalid());
    };
    if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
        match op {
            BinaryOp::Add => return Ok(i.checked_add(j).map(Json::from).unwrap_or_else(|| number(i as f64 + j as f64))),
            BinaryOp::Subtract => return Ok(i.checked_sub(j).map(Json::from).unwrap_or_else(|| number(i as f64 - j as f64))),
            BinaryOp::Multiply => return Ok(i.checked_mul(j).map(Json::from).unwrap_or_else(|| number(i as f64 * j as f64))),
            BinaryOp::Modulo => {
                if j == 0 {
                    return Err(Fault::Error("integer divide by zero".into()));
                }
                return Ok(Json::from(i % j));
            }
            _ => {}
        }
    }
    let (Some(f), Some(g)) = (x.as_f64(), y.as_f64()) else {
        return Err(invalid());
    };
    Ok(match op {
        BinaryOp::Add => number(f + g),
        BinaryOp::Subtract => number(f - g),
        BinaryOp::Multiply => number(f * g),
        BinaryOp::Divide => number(f / g),
        BinaryOp::Modulo => return Err(invalid()),
        _ => return Err(invalid()),
    })
}

fn call(function: Function, args: Vec<Json>) -> Result<Json, Fault> {
    let string_arg = |i: usize, name: &str| -> Result<String, Fault> {
        match &args[i] {
            Json::String(s) => Ok(s.clone()),
            other => Err(Fault::Error(format!("{name}() expects a string, got {}", type_name(other)))),
        }
    };
    Ok(match function {
        Function::Env => Json::String(std::env::var(string_arg(0, "env")?).unwrap_or_default()),
        Function::Len => match &args[0] {
            Json::String(s) => Json::from(s.len() as i64),
            Json::Array(items) => Json::from(items.len() as i64),
            Json::Object(map) => Json::from(map.len() as i64),
            other => return Err(Fault::Error(format!("invalid argument for len (type {})", type_name(other)))),
        },
        Function::Lower => Json::String(string_arg(0, "lower")?.to_lowercase()),
        Function::Upper => Json::String(string_arg(0, "upper")?.to_uppercase()),
        Function::Trim => Json::String(string_arg(0, "trim")?.trim().to_string()),
        Function::HasPrefix => Json::Bool(string_arg(0, "hasPrefix")?.starts_with(&string_arg(1, "hasPrefix")?)),
        Function::HasSuffix => Json::Bool(string_arg(0, "hasSuffix")?.ends_with(&string_arg(1, "hasSuffix")?)),
        Function::String => match &args[0] {
            Json::String(s) => Json::String(s.clone()),
            Json::Null => Json::String("<nil>".into()),
            other => Json::String(other.to_string()),
        },
        Function::Int => match &args[0] {
            Json::Number(n) => match n.as_i64() {
                Some(i) => Json::from(i),
                None => Json::from(n.as_f64().unwrap_or(0.0) as i64),
            },
            Json::String(s) => Json::from(s.trim().parse::<i64>().map_err(|e| Fault::Error(format!("int(\"{s}\"): {e}")))?),
            other => return Err(Fault::Error(format!("invalid operation: int({})", type_name(other)))),
        },
        Function::Float => match &args[0] {
            Json::Number(n) => number(n.as_f64().unwrap_or(0.0)),
            Json::String(s) => number(s.trim().parse::<f64>().map_err(|e| Fault::Error(format!("float(\"{s}\"): {e}")))?),
            other => return Err(Fault::Error(format!("invalid operation: float({})", type_name(other)))),
        },
    })
}

// ---------------------------------------------------------------------------------------------
// EXPR(...) strings

/// A string with embedded `EXPR(...)` parts (a router route's `attributes` values), rendered per
/// entry; each part must give a string.
#[derive(Clone, Debug)]
pub struct ExprString {
    literals: Vec<String>,
    exprs: Vec<Expr>,
}

impl ExprString {
    /// Splits as the Collector's `ExprStringConfig.Build`: from each `EXPR(` to the last `)` before
    /// the next `EXPR(` (or the end).
    pub fn parse(text: &str) -> Result<ExprString, String> {
        const START: &str = "EXPR(";
        let mut literals = Vec::new();
        let mut exprs = Vec::new();
        let mut from = 0;
        loop {
            let Some(found) = text[from..].find(START) else {
                literals.push(text[from..].to_string());
                break;
            };
            let start = from + found;
            let search_end = text[start + START.len()..]
                .find(START)
                .map_or(text.len(), |next| start + START.len() + next);
            let Some(close) = text[start..search_end].rfind(')') else {
                literals.push(text[from..].to_string());
                break;
            };
            let end = start + close;
            literals.push(text[from..start].to_string());
            exprs.push(Expr::parse(&text[start + START.len()..end]).map_err(|e| format!("compile embedded expression: {e}"))?);
            from = end + 1;
            if from > text.len() {
                literals.push(String::new());
                break;
            }
        }
        Ok(ExprString { literals, exprs })
    }

    pub fn render(&self, entry: &Entry) -> Result<String, String> {
        let mut out = String::new();
        for (i, expr) in self.exprs.iter().enumerate() {
            out.push_str(&self.literals[i]);
            match expr.eval(entry).map_err(|e| format!("render embedded expression: {e}"))? {
                Json::String(s) => out.push_str(&s),
                other => return Err(format!("embedded expression returned non-string {}", display(&other))),
            }
        }
        out.push_str(self.literals.last().map(String::as_str).unwrap_or(""));
        Ok(out)
    }
}

/// An `add` value `EXPR(...)` (the whole value): its expression.
pub fn whole_expr(text: &str) -> Option<&str> {
    text.strip_prefix("EXPR(")?.strip_suffix(')')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> Entry {
        let mut entry = Entry {
            body: json!("{\"a\": 1} trailing"),
            ..Default::default()
        };
        entry.attributes = json!({
            "level": "error",
            "code": 503.0,
            "log.file.path": "/var/log/x.log",
            "mdc": {"service.name": "shop", "n": 2},
            "list": ["a", "b"]
        })
        .as_object()
        .unwrap()
        .clone();
        entry.resource = json!({"service.name": "checkout"}).as_object().unwrap().clone();
        entry
    }

    fn check(source: &str) -> Result<bool, String> {
        Expr::parse(source)?.eval_bool(&entry())
    }

    #[test]
    fn the_corpus_expressions_evaluate_as_in_the_collector() {
        // The YAML single-quoted `"\\{[^{}]*\\}"` is the regex \{[^{}]*\}.
        assert_eq!(check(r#"body matches "\\{[^{}]*\\}" == true"#), Ok(true));
        assert_eq!(check(r#"attributes.mdc["service.name"] != nil"#), Ok(true));
        assert_eq!(check(r#"attributes.mdc["service.namespace"] != nil"#), Ok(false));
        assert_eq!(check("attributes.throwable?.className != nil"), Ok(false));
        assert!(check("attributes.throwable.className != nil")
            .unwrap_err()
            .contains("cannot fetch className"));
        assert_eq!(check("attributes.throwable?.a.b.c == nil"), Ok(true), "the whole chain is nil");
    }

    #[test]
    fn operators_follow_expr_lang() {
        assert_eq!(check(r#"attributes.level == "error" and attributes.code >= 500"#), Ok(true));
        assert_eq!(check(r#"attributes.code == 503 && !(attributes.level == "info")"#), Ok(true));
        assert_eq!(check(r#"not (attributes.level in ["info", "debug"])"#), Ok(true));
        assert_eq!(check(r#"attributes.level not in ["info", "debug"]"#), Ok(true));
        assert_eq!(check(r#"attributes["log.file.path"] endsWith ".log" || false"#), Ok(true));
        assert_eq!(
            check(r#"attributes.level startsWith "err" and attributes.level contains "rr""#),
            Ok(true)
        );
        assert_eq!(check(r#"attributes.missing matches "x""#), Ok(false), "nil matches nothing");
        assert_eq!(check(r#"500 < attributes.code < 600"#), Ok(true), "chained");
        assert_eq!(check(r#"resource["service.name"] == "checkout""#), Ok(true));
        assert_eq!(check(r#"(attributes.nope ?? "x") == "x""#), Ok(true));
        assert_eq!(check(r#"attributes.list[-1] == "b" && len(attributes.list) == 2"#), Ok(true));
        assert_eq!(check(r#"attributes.mdc.n * 2 + 1 == 5"#), Ok(true));
        assert_eq!(check(r#"upper(attributes.level) == "ERROR" ? true : false"#), Ok(true));
        assert_eq!(check(r#"$ startsWith "{""#), Ok(true));
        assert!(check(r#"attributes.level"#).unwrap_err().contains("expected bool"));
        assert!(check(r#"attributes.code and true"#).is_err());
        assert!(check(r#"attributes.code < "a""#).unwrap_err().contains("invalid operation"));
        assert!(Expr::parse(r#"body matches "\{""#).unwrap_err().contains("unknown escape"));
        assert!(Expr::parse("timestamp > 0").is_err());
        assert!(Expr::parse("nope(1)").unwrap_err().contains("nope()"));
        std::env::set_var("OTELBOX_EXPR_TEST", "error");
        assert_eq!(check(r#"attributes.level == env("OTELBOX_EXPR_TEST")"#), Ok(true));
    }

    #[test]
    fn expr_strings_render_their_parts() {
        let s = ExprString::parse(r#"lvl-EXPR(attributes.level)-EXPR(resource["service.name"])!"#).unwrap();
        assert_eq!(s.render(&entry()).unwrap(), "lvl-error-checkout!");
        assert_eq!(ExprString::parse("plain").unwrap().render(&entry()).unwrap(), "plain");
        assert!(ExprString::parse("EXPR(attributes.code)").unwrap().render(&entry()).is_err());
        assert_eq!(whole_expr("EXPR(body)"), Some("body"));
    }
}
