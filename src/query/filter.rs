//! Filter language shared by the UI search box, CLI `--where`, `assert` and the API's `q=`: parser to an AST and canonical printer.
//!
//! Grammar (lowest precedence first):
//! ```text
//! or_expr   := and_expr ("or" and_expr)*
//! and_expr  := not_expr ("and" not_expr)*
//! not_expr  := "not"* primary
//! primary   := "(" or_expr ")" | "has" "(" field ")" | field op value
//! field     := service | name | kind | status | duration | trace_id | span_id | severity | body
//!            | status.message | scope.name | scope.version | event_name
//!            | event.<key> | event["key"] | resource.<key> | resource["key"] | attr["key"]
//!            | <bare attribute key>
//! op        := = | != | > | >= | < | <= | =~ | !~ | ~
//! ```
//! `and`/`or` chains are left-associative. The parser validates values per field and
//! normalises them (enum names lower-cased, ids lower-cased hex, `duration` integers to
//! nanoseconds) so the SQL compiler only sees well-formed literals. A bare value may end in `*`
//! (`body ~ time*`: a word prefix, see `query::text`).

use std::fmt;

/// Longest accepted filter, in chars; bounds the work per request and the AST size.
pub const MAX_INPUT_CHARS: usize = 4096;
/// Deepest accepted nesting of parentheses and `not`.
pub const MAX_DEPTH: usize = 64;

const OPERATORS: &str = "= != > >= < <= =~ !~ ~";
const STATUS_NAMES: [&str; 3] = ["unset", "ok", "error"];
const KIND_NAMES: [&str; 6] = ["unspecified", "internal", "server", "client", "producer", "consumer"];
const SEVERITY_NAMES: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];
/// Duration units, largest first (the printer picks the largest exact one).
const DURATION_UNITS: [(&str, i64); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Has(Field),
    Compare { field: Field, op: CmpOp, value: Literal },
}

/// What a condition looks at: a well-known column or an attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    Service,
    Name,
    Kind,
    Status,
    Duration,
    TraceId,
    SpanId,
    Severity,
    Body,
    /// `status.message`: the span's status description. Spans only.
    StatusMessage,
    /// `scope.name` and `scope.version`: the instrumentation scope that made the item.
    ScopeName,
    ScopeVersion,
    /// `event_name`: on spans, the name of one of its events (`exception`); on log records, OTLP's
    /// `event_name` (`gen_ai.user.message`).
    EventName,
    /// `event.<key>`: an attribute of one of the span's events (`event.exception.type`), stored
    /// without the prefix. On log records (which have no events) it is the attribute `event.<key>`.
    Event(String),
    /// Resource attribute key (without the `resource.` prefix).
    Resource(String),
    /// Span / log record attribute key.
    Attribute(String),
    /// A field of the span normalized as LLM telemetry, whatever its dialect (`llm.model`, `llm.agent`,
    /// ...: one of `LLM_FIELDS`, stored without the prefix). Spans only.
    Llm(&'static str),
}

/// The normalized LLM fields the filter language offers as `llm.<name>`: the text ones, then the numeric.
/// Other `llm.*` keys (OpenInference's `llm.model_name`, `llm.token_count.prompt`) stay attributes.
/// `llm.text` is the messages' content, searched with `~` only.
pub const LLM_TEXT_FIELDS: &[&str] = &[
    "model",
    "provider",
    "agent",
    "operation",
    "tool",
    "session",
    "user",
    "run_id",
    "dialect",
    "text",
];
pub const LLM_NUMBER_FIELDS: &[&str] = &["input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens", "cost"];

impl Expr {
    /// The conditions of a top-level `and` chain (`a and (b or c) and d` is `a`, `b or c`, `d`); any
    /// other expression is its own only condition.
    pub fn into_conjuncts(self) -> Vec<Expr> {
        match self {
            Expr::And(a, b) => {
                let mut all = a.into_conjuncts();
                all.extend(b.into_conjuncts());
                all
            }
            other => vec![other],
        }
    }
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
    /// `~` full-text match
    FullText,
}

/// A comparison's right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Quoted string, escapes resolved.
    Str(String),
    /// Bare word (also the normalised form of status/kind/severity names and ids).
    Word(String),
    Int(i64),
    /// Always finite.
    Float(f64),
    /// Non-negative nanoseconds.
    DurationNs(i64),
}

/// Why a filter did not parse; `column` is 1-based and counted in chars.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

fn err(column: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        column,
        message: message.into(),
    }
}

/// Parse an expression; an empty or all-whitespace input is Ok(None) (matches everything).
pub fn parse(input: &str) -> Result<Option<Expr>, ParseError> {
    if input.chars().nth(MAX_INPUT_CHARS).is_some() {
        return Err(err(
            MAX_INPUT_CHARS + 1,
            format!("filter too long; expected at most {MAX_INPUT_CHARS} characters"),
        ));
    }
    let chars: Vec<char> = input.chars().collect();
    let toks = lex(&chars)?;
    if toks.is_empty() {
        return Ok(None);
    }
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        depth: 0,
        end_col: chars.len() + 1,
    };
    let expr = p.parse_or()?;
    if let Some(t) = p.peek() {
        let message = match t.tok {
            Tok::RParen => "unexpected ')' without a matching '('".to_string(),
            _ => format!(
                "unexpected {} after a complete expression; join conditions with 'and' or 'or'",
                describe(Some(t))
            ),
        };
        return Err(err(t.col, message));
    }
    Ok(Some(expr))
}

// ---------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A run of operator chars; validated by the parser so `=>` gets a precise message.
    Op(String),
    Str(String),
    /// A run of bare-word chars: field name, keyword or unquoted value.
    Word(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    col: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | ':')
}

fn is_op_char(c: char) -> bool {
    matches!(c, '=' | '!' | '<' | '>' | '~')
}

fn lex(chars: &[char]) -> Result<Vec<Token>, ParseError> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '"' | '\'' => {
                let (s, next) = lex_string(chars, i)?;
                out.push(Token { tok: Tok::Str(s), col });
                i = next;
                continue;
            }
            c if is_op_char(c) || is_word_char(c) => {
                let class: fn(char) -> bool = if is_op_char(c) { is_op_char } else { is_word_char };
                let start = i;
                while chars.get(i).is_some_and(|&c| class(c)) {
                    i += 1;
                }
                // A word may end in `*`s: a prefix search (`body ~ time*`).
                if !is_op_char(c) {
                    while chars.get(i) == Some(&'*') {
                        i += 1;
                    }
                }
                let text: String = chars[start..i].iter().collect();
                out.push(Token {
                    tok: if is_op_char(c) { Tok::Op(text) } else { Tok::Word(text) },
                    col,
                });
                continue;
            }
            '&' | '|' => return Err(err(col, format!("unexpected character '{c}'; join conditions with 'and' or 'or'"))),
            _ => {
                return Err(err(
                    col,
                    format!(
                        "unexpected character {}; expected a field, value, operator or parenthesis",
                        quote_char(c)
                    ),
                ))
            }
        };
        out.push(Token { tok, col });
        i += 1;
    }
    Ok(out)
}

/// A character for an error message: quoted, or as `U+XXXX` when it would not show.
pub(crate) fn quote_char(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("'{c}'")
    }
}

/// Lex a string starting at the quote at `start`; returns the value and the index after it.
/// `\\`, `\n`, `\t` and an escaped own quote are escapes; any other `\x` keeps the backslash
/// so regexes like `"^tool\."` need no double escaping.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let quote = chars[start];
    let unterminated = || err(start + 1, "unterminated string");
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        let c = *chars.get(i).ok_or_else(unterminated)?;
        i += 1;
        if c == quote {
            return Ok((s, i));
        }
        if c != '\\' {
            s.push(c);
            continue;
        }
        match *chars.get(i).ok_or_else(unterminated)? {
            n if n == quote || n == '\\' => s.push(n),
            'n' => s.push('\n'),
            't' => s.push('\t'),
            // Not an escape: keep the backslash, the next char is read normally.
            _ => {
                s.push('\\');
                continue;
            }
        }
        i += 1;
    }
}

/// How a token is named in messages.
fn describe(t: Option<&Token>) -> String {
    let Some(t) = t else {
        return "end of input".to_string();
    };
    match &t.tok {
        Tok::LParen => "'('".to_string(),
        Tok::RParen => "')'".to_string(),
        Tok::LBracket => "'['".to_string(),
        Tok::RBracket => "']'".to_string(),
        Tok::Op(s) | Tok::Word(s) => format!("'{}'", truncate(s)),
        Tok::Str(s) => format!("string {}", quote_str(&truncate(s))),
    }
}

/// Shorten user text echoed in messages.
fn truncate(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().nth(MAX).is_some() {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    } else {
        s.to_string()
    }
}

// ---------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    /// Current nesting of parentheses and `not`; recursion is bounded by this.
    depth: usize,
    end_col: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    fn col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.col)
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn peek_is(&self, tok: &Tok) -> bool {
        self.peek().is_some_and(|t| &t.tok == tok)
    }

    fn enter(&mut self, col: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                col,
                format!("expression nested too deeply; expected at most {MAX_DEPTH} levels of parentheses and 'not'"),
            ));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.parse_and()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let rhs = self.parse_and()?;
            lhs = Expr::Or(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn parse_and(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.parse_not()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let rhs = self.parse_not()?;
            lhs = Expr::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn parse_not(&mut self) -> Result<Expr, ParseError> {
        // A run of `not`s is consumed iteratively; it still counts toward the depth limit
        // because the resulting tree is walked recursively downstream.
        let mut nots = 0;
        while self.peek_keyword("not") {
            self.enter(self.col())?;
            self.pos += 1;
            nots += 1;
        }
        let mut e = self.parse_primary()?;
        self.depth -= nots;
        for _ in 0..nots {
            e = Expr::Not(Box::new(e));
        }
        Ok(e)
    }

    fn parse_primary(&mut self) -> Result<Expr, ParseError> {
        let Some(t) = self.peek() else {
            return Err(err(self.end_col, "expected a field name, found end of input"));
        };
        match &t.tok {
            Tok::LParen => {
                self.enter(t.col)?;
                self.pos += 1;
                let e = self.parse_or()?;
                if !self.peek_is(&Tok::RParen) {
                    return Err(err(self.col(), format!("expected ')' to close '(' at column {}", t.col)));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(e)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("has") => {
                self.pos += 1;
                if !self.peek_is(&Tok::LParen) {
                    return Err(err(
                        self.col(),
                        format!("expected '(' after 'has', found {}", describe(self.peek())),
                    ));
                }
                self.pos += 1;
                let field = self.parse_field()?;
                if !self.peek_is(&Tok::RParen) {
                    return Err(err(
                        self.col(),
                        format!("expected ')' to close 'has(' at column {}, found {}", t.col, describe(self.peek())),
                    ));
                }
                self.pos += 1;
                Ok(Expr::Has(field))
            }
            _ => {
                let field = self.parse_field()?;
                let op = self.parse_op(&field)?;
                let value = self.parse_value(&field, op)?;
                Ok(Expr::Compare { field, op, value })
            }
        }
    }

    fn parse_field(&mut self) -> Result<Field, ParseError> {
        let t = self.peek();
        let expected = || err(self.col(), format!("expected a field name, found {}", describe(t)));
        let Some(Token { tok: Tok::Word(w), col }) = t else {
            return Err(expected());
        };
        if is_keyword(w) {
            return Err(expected());
        }
        self.pos += 1;
        if (w == "attr" || w == "resource" || w == "event") && self.peek_is(&Tok::LBracket) {
            let open = self.col();
            self.pos += 1;
            let key = match self.peek() {
                Some(Token {
                    tok: Tok::Str(k) | Tok::Word(k),
                    col,
                }) => {
                    if k.is_empty() {
                        return Err(err(*col, "expected a non-empty key"));
                    }
                    k.clone()
                }
                other => {
                    return Err(err(
                        self.col(),
                        format!("expected a quoted key after '{w}[', found {}", describe(other)),
                    ))
                }
            };
            self.pos += 1;
            if !self.peek_is(&Tok::RBracket) {
                return Err(err(
                    self.col(),
                    format!("expected ']' to close '[' at column {open}, found {}", describe(self.peek())),
                ));
            }
            self.pos += 1;
            return Ok(match w.as_str() {
                "attr" => Field::Attribute(key),
                "event" => Field::Event(key),
                _ => Field::Resource(key),
            });
        }
        if w.contains('*') {
            return Err(err(
                *col,
                format!(
                    "expected a field name, found '{}'; '*' ends a search word (body ~ time*), and odd keys are quoted as attr[\"key\"]",
                    truncate(w)
                ),
            ));
        }
        Ok(match w.as_str() {
            "service" => Field::Service,
            "name" => Field::Name,
            "kind" => Field::Kind,
            "status" => Field::Status,
            "duration" => Field::Duration,
            "trace_id" => Field::TraceId,
            "span_id" => Field::SpanId,
            "severity" => Field::Severity,
            "body" => Field::Body,
            "status.message" => Field::StatusMessage,
            "scope.name" => Field::ScopeName,
            "scope.version" => Field::ScopeVersion,
            "event_name" => Field::EventName,
            _ if llm_field(w).is_some() => Field::Llm(llm_field(w).expect("checked")),
            _ => {
                if let Some(key) = w.strip_prefix("event.") {
                    if key.is_empty() {
                        return Err(err(*col, "expected an event attribute key after 'event.'"));
                    }
                    Field::Event(key.to_string())
                } else if let Some(key) = w.strip_prefix("resource.") {
                    if key.is_empty() {
                        return Err(err(*col, "expected a resource attribute key after 'resource.'"));
                    }
                    Field::Resource(key.to_string())
                } else if w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    Field::Attribute(w.clone())
                } else {
                    return Err(err(
                        *col,
                        format!("expected a field name, found '{}'; quote odd keys as attr[\"key\"]", truncate(w)),
                    ));
                }
            }
        })
    }

    fn parse_op(&mut self, field: &Field) -> Result<CmpOp, ParseError> {
        let Some(Token { tok: Tok::Op(raw), col }) = self.peek() else {
            return Err(err(
                self.col(),
                format!(
                    "expected an operator after '{field}', found {}; expected one of {OPERATORS}",
                    describe(self.peek())
                ),
            ));
        };
        let op =
            CmpOp::from_str(raw).ok_or_else(|| err(*col, format!("unknown operator '{}'; expected one of {OPERATORS}", truncate(raw))))?;
        let ordering = matches!(op, CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le);
        if ordering && matches!(field, Field::Status | Field::Kind | Field::TraceId | Field::SpanId) {
            return Err(err(*col, format!("'{op}' does not apply to {field}; expected = != =~ !~ or ~")));
        }
        self.pos += 1;
        Ok(op)
    }

    fn parse_value(&mut self, field: &Field, op: CmpOp) -> Result<Literal, ParseError> {
        let t = self.peek();
        let (text, quoted, col) = match t {
            Some(Token { tok: Tok::Str(s), col }) => (s, true, *col),
            Some(Token { tok: Tok::Word(w), col }) if !is_value_keyword(w) => (w, false, *col),
            _ => {
                return Err(err(self.col(), format!("expected a value after '{op}', found {}", describe(t))));
            }
        };
        self.pos += 1;
        let raw = || {
            if quoted {
                Literal::Str(text.clone())
            } else {
                Literal::Word(text.clone())
            }
        };
        let got = || {
            format!(
                "got {}",
                if quoted {
                    quote_str(&truncate(text))
                } else {
                    format!("'{}'", truncate(text))
                }
            )
        };
        match op {
            CmpOp::Regex | CmpOp::NotRegex => {
                regex::Regex::new(text).map_err(|e| {
                    err(
                        col,
                        format!("expected a valid regular expression after '{op}': {}", regex_error_line(&e)),
                    )
                })?;
                return Ok(raw());
            }
            CmpOp::FullText => {
                // An empty FTS match is an SQLite error, so reject it here.
                if text.trim().is_empty() {
                    return Err(err(col, "expected non-empty search text after '~'"));
                }
                return Ok(raw());
            }
            _ => {}
        }
        let lower = text.to_ascii_lowercase();
        let int = || {
            if quoted {
                None
            } else {
                text.parse::<i64>().ok()
            }
        };
        match field {
            Field::Status => {
                if STATUS_NAMES.contains(&lower.as_str()) {
                    Ok(Literal::Word(lower))
                } else {
                    Err(err(col, format!("status must be one of unset, ok, error; {}", got())))
                }
            }
            Field::Kind => {
                if KIND_NAMES.contains(&lower.as_str()) {
                    Ok(Literal::Word(lower))
                } else if let Some(n @ 0..=5) = int() {
                    Ok(Literal::Int(n))
                } else {
                    Err(err(
                        col,
                        format!(
                            "kind must be one of unspecified, internal, server, client, producer, consumer or a number 0..5; {}",
                            got()
                        ),
                    ))
                }
            }
            Field::Severity => {
                let name = if lower == "warning" { "warn".to_string() } else { lower };
                if SEVERITY_NAMES.contains(&name.as_str()) {
                    Ok(Literal::Word(name))
                } else if let Some(n @ 1..=24) = int() {
                    Ok(Literal::Int(n))
                } else {
                    Err(err(
                        col,
                        format!(
                            "severity must be one of trace, debug, info, warn, error, fatal or a number 1..24; {}",
                            got()
                        ),
                    ))
                }
            }
            Field::Duration => {
                let lit = if quoted {
                    None
                } else {
                    Some(classify(text).map_err(|m| err(col, m))?)
                };
                match lit {
                    Some(Literal::DurationNs(n)) => Ok(Literal::DurationNs(n)),
                    // Bare integers are nanoseconds; one representation keeps the SQL side simple.
                    Some(Literal::Int(n)) if n >= 0 => Ok(Literal::DurationNs(n)),
                    _ => Err(err(
                        col,
                        format!(
                            "duration must be a duration like 250ms, 1.5s, 2m or an integer number of nanoseconds; {}",
                            got()
                        ),
                    )),
                }
            }
            Field::TraceId | Field::SpanId => {
                let (name, len) = if *field == Field::TraceId {
                    ("trace_id", 32)
                } else {
                    ("span_id", 16)
                };
                if text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(Literal::Word(lower))
                } else {
                    Err(err(col, format!("{name} must be {len} hex characters; {}", got())))
                }
            }
            // Text columns: keep bare values verbatim ("1.50" stays "1.50").
            Field::Service
            | Field::Name
            | Field::Body
            | Field::StatusMessage
            | Field::ScopeName
            | Field::ScopeVersion
            | Field::EventName => Ok(raw()),
            Field::Llm(name) if LLM_NUMBER_FIELDS.contains(name) => match classify(text) {
                Ok(lit @ (Literal::Int(_) | Literal::Float(_))) if !quoted => Ok(lit),
                _ => Err(err(col, format!("llm.{name} is a number; {}", got()))),
            },
            Field::Llm(_) => Ok(raw()),
            Field::Resource(_) | Field::Attribute(_) | Field::Event(_) => {
                if quoted {
                    Ok(raw())
                } else {
                    classify(text).map_err(|m| err(col, m))
                }
            }
        }
    }
}

/// The normalized LLM field `word` names (`llm.model` is `model`), if any.
fn llm_field(word: &str) -> Option<&'static str> {
    let name = word.strip_prefix("llm.")?;
    LLM_TEXT_FIELDS
        .iter()
        .chain(LLM_NUMBER_FIELDS)
        .copied()
        .find(|field| *field == name)
}

/// Words that can never be a field (they start or join conditions).
fn is_keyword(w: &str) -> bool {
    ["and", "or", "not", "has"].iter().any(|k| w.eq_ignore_ascii_case(k))
}

/// Words that can never be a bare value (`has` is fine there).
fn is_value_keyword(w: &str) -> bool {
    ["and", "or", "not"].iter().any(|k| w.eq_ignore_ascii_case(k))
}

/// The informative line of a regex error (syntax errors are multi-line with a caret diagram).
fn regex_error_line(e: &regex::Error) -> String {
    let s = e.to_string();
    s.lines()
        .find_map(|l| l.trim().strip_prefix("error:").map(|m| m.trim().to_string()))
        .or_else(|| s.lines().next().map(str::to_string))
        .unwrap_or_default()
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Classify an unquoted value: integer, float, duration or plain word.
fn classify(w: &str) -> Result<Literal, String> {
    let unsigned = w.strip_prefix('-').unwrap_or(w);
    if all_digits(unsigned) {
        return w
            .parse::<i64>()
            .map(Literal::Int)
            .map_err(|_| format!("integer '{}' out of range; quote it to compare as text", truncate(w)));
    }
    if let Some((a, b)) = unsigned.split_once('.') {
        if all_digits(a) && all_digits(b) {
            return match w.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Literal::Float(f)),
                _ => Err(format!("number '{}' out of range; quote it to compare as text", truncate(w))),
            };
        }
    }
    if let Some(ns) = parse_duration(w)? {
        return Ok(Literal::DurationNs(ns));
    }
    Ok(Literal::Word(w.to_string()))
}

/// `<digits>[.<digits>]<unit>` to nanoseconds (fraction truncated to whole ns).
/// Ok(None) when `w` is not shaped like a duration.
fn parse_duration(w: &str) -> Result<Option<i64>, String> {
    // Two-letter units first so "5ms" is not read as "5m" + "s".
    for suffix in ["ns", "us", "ms", "h", "m", "s"] {
        let Some(num) = w.strip_suffix(suffix) else {
            continue;
        };
        let Some(&(_, mult)) = DURATION_UNITS.iter().find(|(u, _)| *u == suffix) else {
            continue;
        };
        let (int_part, frac) = match num.split_once('.') {
            Some((a, b)) => (a, b),
            None => (num, ""),
        };
        if !all_digits(int_part) || (num.contains('.') && !all_digits(frac)) {
            continue;
        }
        let out_of_range = || format!("duration '{}' out of range", truncate(w));
        let mut whole: i128 = 0;
        for b in int_part.bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(b - b'0')))
                .ok_or_else(out_of_range)?;
        }
        // Fraction as an 18-digit fixed-point number; finer digits cannot change whole ns.
        let mut scaled: i128 = 0;
        for i in 0..18 {
            let d = frac.as_bytes().get(i).map_or(0, |b| i128::from(b - b'0'));
            scaled = scaled * 10 + d;
        }
        let mult = i128::from(mult);
        let total = whole
            .checked_mul(mult)
            .and_then(|v| v.checked_add(scaled * mult / 1_000_000_000_000_000_000))
            .ok_or_else(out_of_range)?;
        return i64::try_from(total).map(Some).map_err(|_| out_of_range());
    }
    Ok(None)
}

// ---------------------------------------------------------------------------
// Printing

impl CmpOp {
    /// The operator as written in the language.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Regex => "=~",
            CmpOp::NotRegex => "!~",
            CmpOp::FullText => "~",
        }
    }

    fn from_str(s: &str) -> Option<CmpOp> {
        Some(match s {
            "=" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            "=~" => CmpOp::Regex,
            "!~" => CmpOp::NotRegex,
            "~" => CmpOp::FullText,
            _ => return None,
        })
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Keys that are fields, not attributes. The UI keeps a copy (`ui/src/pages/logs.rs`, FIELD_NAMES).
const BUILTIN_FIELDS: &[&str] = &[
    "service",
    "name",
    "kind",
    "status",
    "duration",
    "trace_id",
    "span_id",
    "severity",
    "body",
    "status.message",
    "scope.name",
    "scope.version",
    "event_name",
];

/// Whether an attribute key can be printed bare and read back as the same `Attribute`.
fn is_bare_attribute(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(is_word_char)
        && !BUILTIN_FIELDS.contains(&k)
        && llm_field(k).is_none()
        && !k.starts_with("resource.")
        && !k.starts_with("event.")
        && k != "attr"
        && k != "resource"
        && k != "event"
        // A trace search reads a bare `then` between conditions as a link (`query::trace`).
        && !k.eq_ignore_ascii_case("then")
        && !is_keyword(k)
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Field::Service => "service",
            Field::Name => "name",
            Field::Kind => "kind",
            Field::Status => "status",
            Field::Duration => "duration",
            Field::TraceId => "trace_id",
            Field::SpanId => "span_id",
            Field::Severity => "severity",
            Field::Body => "body",
            Field::StatusMessage => "status.message",
            Field::ScopeName => "scope.name",
            Field::ScopeVersion => "scope.version",
            Field::EventName => "event_name",
            Field::Event(k) if !k.is_empty() && k.chars().all(is_word_char) => return write!(f, "event.{k}"),
            Field::Event(k) => return write!(f, "event[{}]", quote_str(k)),
            Field::Resource(k) if !k.is_empty() && k.chars().all(is_word_char) => return write!(f, "resource.{k}"),
            Field::Resource(k) => return write!(f, "resource[{}]", quote_str(k)),
            Field::Attribute(k) if is_bare_attribute(k) => k,
            Field::Attribute(k) => return write!(f, "attr[{}]", quote_str(k)),
            Field::Llm(name) => return write!(f, "llm.{name}"),
        };
        f.write_str(name)
    }
}

/// Whether a word value prints bare and reads back as the same word: word chars, then perhaps
/// `*`s (a prefix search), and not a keyword that ends a value.
fn is_bare_word(w: &str) -> bool {
    let core = w.trim_end_matches('*');
    !core.is_empty() && core.chars().all(is_word_char) && !is_value_keyword(w)
}

/// Double-quote `s` so the lexer reads it back unchanged. A backslash is doubled only where
/// the lexer would otherwise see an escape, so regexes print as typed (`"^tool\."`).
fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => {
                let next = it.peek().copied();
                let escapes = matches!(next, None | Some('\\' | '"' | 'n' | 't' | '\n' | '\t'));
                out.push_str(if escapes { "\\\\" } else { "\\" });
            }
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => f.write_str(&quote_str(s)),
            Literal::Word(w) if is_bare_word(w) => f.write_str(w),
            Literal::Word(w) => f.write_str(&quote_str(w)),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Float(x) => {
                // `{}` prints 2.0 as "2", which would read back as an integer.
                let s = x.to_string();
                if s.contains('.') || !x.is_finite() {
                    f.write_str(&s)
                } else {
                    write!(f, "{s}.0")
                }
            }
            Literal::DurationNs(0) => f.write_str("0s"),
            Literal::DurationNs(n) => {
                let (unit, mult) = DURATION_UNITS.iter().find(|(_, m)| n % m == 0).copied().unwrap_or(("ns", 1));
                write!(f, "{}{unit}", n / mult)
            }
        }
    }
}

impl fmt::Display for Expr {
    /// Canonical form: single spaces, lower-case keywords, parentheses only where needed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn child(f: &mut fmt::Formatter<'_>, e: &Expr, paren: bool) -> fmt::Result {
            if paren {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        }
        match self {
            Expr::Or(a, b) => {
                child(f, a, false)?;
                f.write_str(" or ")?;
                child(f, b, matches!(**b, Expr::Or(..)))
            }
            Expr::And(a, b) => {
                child(f, a, matches!(**a, Expr::Or(..)))?;
                f.write_str(" and ")?;
                child(f, b, matches!(**b, Expr::Or(..) | Expr::And(..)))
            }
            Expr::Not(e) => {
                f.write_str("not ")?;
                child(f, e, matches!(**e, Expr::Or(..) | Expr::And(..)))
            }
            Expr::Has(field) => write!(f, "has({field})"),
            Expr::Compare { field, op, value } => write!(f, "{field} {op} {value}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLES: [&str; 12] = [
        "service = checkout and status = error",
        r#"duration > 500ms and name =~ "^tool\.""#,
        r#"run_id = "R123""#,
        "http.response.status_code >= 500 or not has(user.id)",
        "resource.deployment.environment != prod",
        r#"severity >= warn and body ~ "timeout""#,
        r#"attr["a b"] = 1 and resource["k 2"] = x"#,
        "(kind = server or kind = client) and not (status = ok)",
        "gen_ai.usage.input_tokens > 1000",
        "trace_id = 4bf92f3577b34da6a3ce929d0e0e4736",
        r#"name !~ "health" and duration <= 2.5s"#,
        r#"body ~ "connection refused""#,
    ];

    fn p(s: &str) -> Expr {
        match parse(s) {
            Ok(Some(e)) => e,
            other => panic!("{s:?} -> {other:?}"),
        }
    }

    #[test]
    fn a_top_level_and_chain_splits_into_its_conditions_and_nothing_else_does() {
        let parts: Vec<String> = p("a = 1 and (b = 2 or c = 3) and not d = 4")
            .into_conjuncts()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert_eq!(p("a = 1 or b = 2").into_conjuncts().len(), 1);
        assert_eq!(p("not (a = 1 and b = 2)").into_conjuncts().len(), 1);
    }

    fn perr(s: &str) -> String {
        match parse(s) {
            Err(e) => e.to_string(),
            Ok(v) => panic!("{s:?} parsed to {v:?}"),
        }
    }

    fn cmp(field: Field, op: CmpOp, value: Literal) -> Expr {
        Expr::Compare { field, op, value }
    }
    fn and(a: Expr, b: Expr) -> Expr {
        Expr::And(Box::new(a), Box::new(b))
    }
    fn or(a: Expr, b: Expr) -> Expr {
        Expr::Or(Box::new(a), Box::new(b))
    }
    fn not(a: Expr) -> Expr {
        Expr::Not(Box::new(a))
    }
    fn word(s: &str) -> Literal {
        Literal::Word(s.into())
    }
    fn attr(s: &str) -> Field {
        Field::Attribute(s.into())
    }
    fn a_eq(k: &str, v: i64) -> Expr {
        cmp(attr(k), CmpOp::Eq, Literal::Int(v))
    }

    #[test]
    fn all_examples_parse_and_round_trip() {
        for s in EXAMPLES {
            let e = p(s);
            let printed = e.to_string();
            assert_eq!(parse(&printed), Ok(Some(e)), "{s:?} printed as {printed:?}");
        }
    }

    #[test]
    fn examples_exact_ast() {
        use CmpOp::*;
        assert_eq!(
            p(EXAMPLES[0]),
            and(cmp(Field::Service, Eq, word("checkout")), cmp(Field::Status, Eq, word("error")))
        );
        assert_eq!(
            p(EXAMPLES[1]),
            and(
                cmp(Field::Duration, Gt, Literal::DurationNs(500_000_000)),
                cmp(Field::Name, Regex, Literal::Str(r"^tool\.".into()))
            )
        );
        assert_eq!(p(EXAMPLES[2]), cmp(attr("run_id"), Eq, Literal::Str("R123".into())));
        assert_eq!(
            p(EXAMPLES[3]),
            or(
                cmp(attr("http.response.status_code"), Ge, Literal::Int(500)),
                not(Expr::Has(attr("user.id")))
            )
        );
        assert_eq!(
            p(EXAMPLES[4]),
            cmp(Field::Resource("deployment.environment".into()), Ne, word("prod"))
        );
        assert_eq!(
            p(EXAMPLES[5]),
            and(
                cmp(Field::Severity, Ge, word("warn")),
                cmp(Field::Body, FullText, Literal::Str("timeout".into()))
            )
        );
        assert_eq!(
            p(EXAMPLES[6]),
            and(
                cmp(attr("a b"), Eq, Literal::Int(1)),
                cmp(Field::Resource("k 2".into()), Eq, word("x"))
            )
        );
        assert_eq!(
            p(EXAMPLES[7]),
            and(
                or(cmp(Field::Kind, Eq, word("server")), cmp(Field::Kind, Eq, word("client"))),
                not(cmp(Field::Status, Eq, word("ok")))
            )
        );
        assert_eq!(p(EXAMPLES[8]), cmp(attr("gen_ai.usage.input_tokens"), Gt, Literal::Int(1000)));
        assert_eq!(p(EXAMPLES[9]), cmp(Field::TraceId, Eq, word("4bf92f3577b34da6a3ce929d0e0e4736")));
        assert_eq!(
            p(EXAMPLES[10]),
            and(
                cmp(Field::Name, NotRegex, Literal::Str("health".into())),
                cmp(Field::Duration, Le, Literal::DurationNs(2_500_000_000))
            )
        );
        assert_eq!(
            p(EXAMPLES[11]),
            cmp(Field::Body, FullText, Literal::Str("connection refused".into()))
        );
    }

    #[test]
    fn empty_is_none() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse(" \t\n "), Ok(None));
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(p("a=1 or b=2 and c=3"), or(a_eq("a", 1), and(a_eq("b", 2), a_eq("c", 3))));
        assert_eq!(p("a=1 and b=2 or c=3"), or(and(a_eq("a", 1), a_eq("b", 2)), a_eq("c", 3)));
        assert_eq!(p("not a=1 and b=2"), and(not(a_eq("a", 1)), a_eq("b", 2)));
        assert_eq!(p("a=1 and b=2 and c=3"), and(and(a_eq("a", 1), a_eq("b", 2)), a_eq("c", 3)));
        assert_eq!(p("a=1 and (b=2 and c=3)"), and(a_eq("a", 1), and(a_eq("b", 2), a_eq("c", 3))));
        assert_eq!(p("NOT not a=1"), not(not(a_eq("a", 1))));
        assert_eq!(
            p("a=1 OR b=2 AnD Has(c)"),
            or(a_eq("a", 1), and(a_eq("b", 2), Expr::Has(attr("c"))))
        );
    }

    #[test]
    fn display_is_canonical() {
        assert_eq!(p("a=1 and (b=2 or c=3)").to_string(), "a = 1 and (b = 2 or c = 3)");
        assert_eq!(p("not (a=1 or b=2)").to_string(), "not (a = 1 or b = 2)");
        assert_eq!(p("not (a=1)").to_string(), "not a = 1");
        assert_eq!(
            p(r#"name =~ "^tool\." and x = 'it\'s'"#).to_string(),
            r#"name =~ "^tool\." and x = "it's""#
        );
        assert_eq!(p("duration > 1.5s").to_string(), "duration > 1500ms");
        assert_eq!(p("duration > 90m").to_string(), "duration > 90m");
        assert_eq!(p("duration > 120m").to_string(), "duration > 2h");
        assert_eq!(p("x = 2.0").to_string(), "x = 2.0");
        assert_eq!(p(r#"attr["service"] = x"#).to_string(), r#"attr["service"] = x"#);
        assert_eq!(p(r#"attr["and"] = x"#).to_string(), r#"attr["and"] = x"#);
        assert_eq!(p(r#"resource["a.b"] = x"#).to_string(), "resource.a.b = x");
        assert_eq!(p("x = 'and'").to_string(), r#"x = "and""#);
    }

    #[test]
    fn literals() {
        let val = |s: &str| match p(&format!("x = {s}")) {
            Expr::Compare { value, .. } => value,
            e => panic!("{e:?}"),
        };
        assert_eq!(val("-42"), Literal::Int(-42));
        assert_eq!(val("1.25"), Literal::Float(1.25));
        assert_eq!(val("-0.5"), Literal::Float(-0.5));
        assert_eq!(val("250ms"), Literal::DurationNs(250_000_000));
        assert_eq!(val("2s"), Literal::DurationNs(2_000_000_000));
        assert_eq!(val("1m"), Literal::DurationNs(60_000_000_000));
        assert_eq!(val("1h"), Literal::DurationNs(3_600_000_000_000));
        assert_eq!(val("100us"), Literal::DurationNs(100_000));
        assert_eq!(val("10ns"), Literal::DurationNs(10));
        assert_eq!(val("true"), word("true"));
        assert_eq!(val("1e5"), word("1e5"));
        assert_eq!(val("a/b:c-d"), word("a/b:c-d"));
        assert_eq!(val(r#""a\"b\\c\nd\te\q""#), Literal::Str("a\"b\\c\nd\te\\q".into()));
        assert_eq!(val(r#"'a\'b"c'"#), Literal::Str("a'b\"c".into()));
        assert_eq!(val("has"), word("has"));
        // Text columns keep bare values verbatim.
        assert_eq!(p("service = 1.50"), cmp(Field::Service, CmpOp::Eq, word("1.50")));
    }

    #[test]
    fn field_normalisation() {
        use CmpOp::*;
        assert_eq!(p("status = ERROR"), cmp(Field::Status, Eq, word("error")));
        assert_eq!(p("status != 'Ok'"), cmp(Field::Status, Ne, word("ok")));
        assert_eq!(p("kind = Server"), cmp(Field::Kind, Eq, word("server")));
        assert_eq!(p("kind = 2"), cmp(Field::Kind, Eq, Literal::Int(2)));
        assert_eq!(p("severity >= WARNING"), cmp(Field::Severity, Ge, word("warn")));
        assert_eq!(p("severity < 17"), cmp(Field::Severity, Lt, Literal::Int(17)));
        assert_eq!(p("duration > 500"), cmp(Field::Duration, Gt, Literal::DurationNs(500)));
        assert_eq!(p("span_id = '00F067AA0BA902B7'"), cmp(Field::SpanId, Eq, word("00f067aa0ba902b7")));
        // All-digit ids are ids, not integers.
        assert_eq!(p("span_id = 1234567890123456"), cmp(Field::SpanId, Eq, word("1234567890123456")));
        assert_eq!(p("status =~ 'err|ok'"), cmp(Field::Status, Regex, Literal::Str("err|ok".into())));
        assert_eq!(p("name ~ tool"), cmp(Field::Name, FullText, word("tool")));
        assert_eq!(p("has(service)"), Expr::Has(Field::Service));
        assert_eq!(p("has(resource.host.name)"), Expr::Has(Field::Resource("host.name".into())));
        assert_eq!(p("has(attr['x y'])"), Expr::Has(attr("x y")));
        assert_eq!(p("Service = x"), cmp(attr("Service"), Eq, word("x")));
    }

    #[test]
    fn events_scope_status_and_prefix_words() {
        use CmpOp::*;
        let event = |k: &str| Field::Event(k.into());
        assert_eq!(
            p("event.exception.type = ValueError"),
            cmp(event("exception.type"), Eq, word("ValueError"))
        );
        assert_eq!(p("has(event.exception.type)"), Expr::Has(event("exception.type")));
        assert_eq!(p(r#"event["odd key"] > 2"#), cmp(event("odd key"), Gt, Literal::Int(2)));
        assert_eq!(p("event_name = exception"), cmp(Field::EventName, Eq, word("exception")));
        assert_eq!(
            p("scope.name = io.opentelemetry.jdbc and scope.version = 1.2"),
            and(
                cmp(Field::ScopeName, Eq, word("io.opentelemetry.jdbc")),
                cmp(Field::ScopeVersion, Eq, word("1.2"))
            )
        );
        assert_eq!(
            p(r#"status.message ~ "connection refused""#),
            cmp(Field::StatusMessage, FullText, Literal::Str("connection refused".into()))
        );
        // Other scope.* keys stay attributes; attr[...] reaches the keys the fields shadow.
        assert_eq!(p("scope.other = 1"), a_eq("scope.other", 1));
        assert_eq!(p(r#"attr["event.x"] = 1"#), a_eq("event.x", 1));
        for text in [
            r#"attr["event.x"] = 1"#,
            r#"attr["status.message"] = 1"#,
            r#"attr["event_name"] = 1"#,
            r#"attr["then"] = 1"#,
            r#"event["a b"] = 1"#,
            "event.exception.type = x",
            "has(event_name) and scope.name != a and not has(status.message)",
        ] {
            assert_eq!(p(text).to_string(), text);
        }
        // A bare word may end in `*`: a prefix search.
        assert_eq!(p("body ~ time*"), cmp(Field::Body, FullText, word("time*")));
        assert_eq!(p("body ~ time** and x = 1").to_string(), "body ~ time** and x = 1");
        assert_eq!(p(r#"body ~ "time*""#), cmp(Field::Body, FullText, Literal::Str("time*".into())));
        assert_eq!(
            perr("time* = 1"),
            r#"column 1: expected a field name, found 'time*'; '*' ends a search word (body ~ time*), and odd keys are quoted as attr["key"]"#
        );
        assert_eq!(
            perr("body ~ *"),
            "column 8: unexpected character '*'; expected a field, value, operator or parenthesis"
        );
        assert_eq!(perr("event. = 1"), "column 1: expected an event attribute key after 'event.'");
    }

    #[test]
    fn spec_error_messages() {
        assert_eq!(
            perr("http.status_code>="),
            "column 19: expected a value after '>=', found end of input"
        );
        assert_eq!(perr(") = 1"), "column 1: expected a field name, found ')'");
        assert_eq!(
            perr("status => ok"),
            "column 8: unknown operator '=>'; expected one of = != > >= < <= =~ !~ ~"
        );
        assert_eq!(perr(r#"status = "ok"#), "column 10: unterminated string");
        assert_eq!(perr("(status=ok x"), "column 12: expected ')' to close '(' at column 1");
        assert_eq!(
            perr("status= broken"),
            "column 9: status must be one of unset, ok, error; got 'broken'"
        );
        assert_eq!(
            perr("a=1 foo"),
            "column 5: unexpected 'foo' after a complete expression; join conditions with 'and' or 'or'"
        );
    }

    #[test]
    fn other_error_messages() {
        let e = perr(r#"name =~ "(""#);
        assert!(e.starts_with("column 9: expected a valid regular expression after '=~': "), "{e}");
        assert!(e.contains("unclosed group"), "{e}");
        assert_eq!(perr("body ~ ("), "column 8: expected a value after '~', found '('");
        assert_eq!(perr("body ~ ''"), "column 8: expected non-empty search text after '~'");
        assert_eq!(
            perr("kind = 9"),
            "column 8: kind must be one of unspecified, internal, server, client, producer, consumer or a number 0..5; got '9'"
        );
        assert_eq!(
            perr("severity = 25"),
            "column 12: severity must be one of trace, debug, info, warn, error, fatal or a number 1..24; got '25'"
        );
        assert_eq!(
            perr("duration > fast"),
            "column 12: duration must be a duration like 250ms, 1.5s, 2m or an integer number of nanoseconds; got 'fast'"
        );
        assert_eq!(perr("trace_id = abc"), "column 12: trace_id must be 32 hex characters; got 'abc'");
        assert_eq!(perr("span_id = 'xyz'"), "column 11: span_id must be 16 hex characters; got \"xyz\"");
        assert_eq!(
            perr("status > ok"),
            "column 8: '>' does not apply to status; expected = != =~ !~ or ~"
        );
        assert_eq!(
            perr("service checkout"),
            "column 9: expected an operator after 'service', found 'checkout'; expected one of = != > >= < <= =~ !~ ~"
        );
        assert_eq!(perr("a = 1 and"), "column 10: expected a field name, found end of input");
        assert_eq!(perr("a = 1 and or"), "column 11: expected a field name, found 'or'");
        assert_eq!(perr("a = and"), "column 5: expected a value after '=', found 'and'");
        assert_eq!(perr("has x"), "column 5: expected '(' after 'has', found 'x'");
        assert_eq!(perr("a = 1)"), "column 6: unexpected ')' without a matching '('");
        assert_eq!(
            perr("a = 1 && b = 2"),
            "column 7: unexpected character '&'; join conditions with 'and' or 'or'"
        );
        assert_eq!(
            perr("x = 99999999999999999999"),
            "column 5: integer '99999999999999999999' out of range; quote it to compare as text"
        );
        assert_eq!(
            perr("resource. = 1"),
            "column 1: expected a resource attribute key after 'resource.'"
        );
        assert_eq!(perr("attr[''] = 1"), "column 6: expected a non-empty key");
        assert_eq!(perr("attr['a' = 1"), "column 10: expected ']' to close '[' at column 5, found '='");
        assert!(perr("1abc = 2").starts_with("column 1: expected a field name, found '1abc'"));
    }

    #[test]
    fn depth_and_length_limits() {
        let nest = |n: usize| format!("{}a=1{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nest(MAX_DEPTH)).is_ok());
        let e = parse(&nest(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(e.column, MAX_DEPTH + 1);
        assert!(e.message.starts_with("expression nested too deeply"), "{e}");
        assert!(parse(&format!("{}a=1", "not ".repeat(MAX_DEPTH))).is_ok());
        let e = parse(&format!("{}a=1", "not ".repeat(MAX_DEPTH + 1))).unwrap_err();
        assert!(e.message.starts_with("expression nested too deeply"), "{e}");
        let e = parse(&format!("{}a=1", "(not ".repeat(40))).unwrap_err();
        assert!(e.message.starts_with("expression nested too deeply"), "{e}");
        // Long flat chains are fine and print back.
        // Canonical form already, so the printed text fits the length limit too.
        let chain = vec!["a = 1"; 455].join(" or ");
        assert!(chain.len() <= MAX_INPUT_CHARS);
        let e = p(&chain);
        assert_eq!(e.to_string(), chain);
        assert_eq!(parse(&e.to_string()), Ok(Some(e)));
        let long = format!("x = \"{}\"", "a".repeat(MAX_INPUT_CHARS));
        assert_eq!(perr(&long), "column 4097: filter too long; expected at most 4096 characters");
        assert!(parse(&" ".repeat(MAX_INPUT_CHARS)).unwrap().is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5ns"), Ok(Some(1)));
        assert_eq!(parse_duration("0.000000001s"), Ok(Some(1)));
        assert_eq!(parse_duration("2562047h"), Ok(Some(2_562_047 * 3_600_000_000_000)));
        assert!(parse_duration("2562048h").is_err());
        assert!(parse_duration(&"9".repeat(100)).unwrap().is_none());
        assert!(parse_duration(&format!("{}s", "9".repeat(100))).is_err());
        assert_eq!(parse_duration("1.s"), Ok(None));
        assert_eq!(parse_duration(".5s"), Ok(None));
        assert_eq!(parse_duration("ms"), Ok(None));
        for n in [0, 1, 999, 1_000, 1_500_000_000, 60_000_000_000, i64::MAX] {
            let s = Literal::DurationNs(n).to_string();
            assert_eq!(parse_duration(&s), Ok(Some(n)), "{s}");
        }
    }

    #[test]
    fn string_quoting_round_trips() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        let alphabet = ['\\', '"', '\'', 'n', 't', '\n', '\t', 'a', '.', ' ', 'é'];
        for _ in 0..3000 {
            let len = rng.below(8);
            let s: String = (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect();
            let e = cmp(attr("x"), CmpOp::Eq, Literal::Str(s.clone()));
            assert_eq!(parse(&e.to_string()), Ok(Some(e.clone())), "{s:?} -> {e}");
            let k = cmp(Field::Resource(format!("k{s}")), CmpOp::Eq, Literal::Int(1));
            assert_eq!(parse(&k.to_string()), Ok(Some(k.clone())), "{k}");
        }
    }

    #[test]
    fn floats_round_trip() {
        for x in [0.1, 2.0, -0.0, 1e21, 1e-7, f64::MAX, f64::MIN_POSITIVE, 123456.789] {
            let e = cmp(attr("x"), CmpOp::Gt, Literal::Float(x));
            assert_eq!(parse(&e.to_string()), Ok(Some(e.clone())), "{e}");
        }
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_inputs_never_panic_and_round_trip() {
        const TOKENS: &[&str] = &[
            "service",
            "name",
            "kind",
            "status",
            "duration",
            "trace_id",
            "span_id",
            "severity",
            "body",
            "resource.",
            "resource",
            "attr",
            "http.status_code",
            "x",
            "_k",
            "and",
            "or",
            "not",
            "has",
            "AND",
            "Not",
            "(",
            ")",
            "[",
            "]",
            "=",
            "!=",
            ">",
            ">=",
            "<",
            "<=",
            "=~",
            "!~",
            "~",
            "!",
            "=>",
            "\"",
            "'",
            "\\",
            "\"a b\"",
            "'c'",
            r#""^tool\.""#,
            "\"(\"",
            "500ms",
            "1.5s",
            "2h",
            "-3",
            "42",
            "0.5",
            "99999999999999999999",
            "error",
            "ok",
            "server",
            "warn",
            "24",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            "prod",
            "true",
            "-",
            ".",
            ":",
            "/",
            " ",
            " ",
            "\t",
            "\n",
            "é",
            "&",
            "\0",
            "🙂",
        ];
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut parsed = 0;
        for _ in 0..5000 {
            let n = rng.below(14);
            let mut s = String::new();
            for _ in 0..n {
                s.push_str(TOKENS[rng.below(TOKENS.len())]);
                if rng.below(3) > 0 {
                    s.push(' ');
                }
            }
            if let Ok(Some(e)) = parse(&s) {
                parsed += 1;
                let printed = e.to_string();
                assert_eq!(parse(&printed), Ok(Some(e)), "{s:?} printed as {printed:?}");
            }
        }
        // Also well-formed-ish conditions so the round trip is exercised often.
        const FIELDS: &[&str] = &[
            "service",
            "name",
            "kind",
            "status",
            "duration",
            "severity",
            "body",
            "trace_id",
            "resource.host.name",
            "attr['a b']",
            "user.id",
            "has(x)",
        ];
        const OPS: &[&str] = &["=", "!=", ">", ">=", "<", "<=", "=~", "!~", "~"];
        const VALUES: &[&str] = &[
            "ok",
            "error",
            "server",
            "2",
            "warn",
            "250ms",
            "1.5",
            "-7",
            "'t\\.x'",
            "word",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "\"a\\\"b\"",
        ];
        for _ in 0..3000 {
            let mut s = String::new();
            for i in 0..rng.below(6) + 1 {
                if i > 0 {
                    s.push_str([" and ", " or ", " and not "][rng.below(3)]);
                }
                if rng.below(4) == 0 {
                    s.push('(');
                }
                let f = FIELDS[rng.below(FIELDS.len())];
                s.push_str(f);
                if !f.starts_with("has") {
                    s.push_str(&format!(" {} {}", OPS[rng.below(OPS.len())], VALUES[rng.below(VALUES.len())]));
                }
            }
            s.push_str(&")".repeat(s.matches('(').count() - s.matches(')').count()));
            if let Ok(Some(e)) = parse(&s) {
                parsed += 1;
                let printed = e.to_string();
                assert_eq!(parse(&printed), Ok(Some(e)), "{s:?} printed as {printed:?}");
            }
        }
        assert!(parsed > 500, "only {parsed} random inputs parsed");
        // Arbitrary chars, including multi-byte ones, at the size limit.
        for _ in 0..200 {
            let s: String = (0..rng.below(MAX_INPUT_CHARS + 2))
                .map(|_| char::from_u32(rng.below(0x300) as u32).unwrap_or('x'))
                .collect();
            let _ = parse(&s);
        }
    }
}
