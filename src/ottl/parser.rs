//! Recursive-descent parser from tokens to the typed tree. Paths are checked against the
//! context, functions by name and arity, regexes compiled; every error names its column.
//!
//! Precedence, lowest first: `or`, `and`, `not`, comparison, `+ -`, `* /`, primary. A
//! parenthesis can hold a condition or a value, so sub-expressions are parsed as either and
//! checked where they are used (an `and` operand must be a condition, a `+` operand a value).

use super::ast::{
    BoolExpr, Call, CompareOp, Converter, Editor, Key, MathOp, MathStep, MergeStrategy, Path, Pattern, ReplaceMode, Replacement,
    StringFunction, ValueExpr, ValueKind,
};
use super::functions::{find, names, Signature, CONVERTERS, EDITORS};
use super::lexer::{describe, lex, truncate, Tok, Token};
use super::paths::{enum_value, is_writable, lookup, Container, Context, Field, ENUMS, ENUM_FAMILIES};
use super::value::{parse_duration, parse_json, Value};
use super::{err, OttlError, MAX_DEPTH, MAX_INPUT_CHARS};

/// Parses a whole condition.
pub(super) fn condition(text: &str, context: Context) -> Result<BoolExpr, OttlError> {
    let chars = checked_chars(text)?;
    let toks = lex(&chars)?;
    if toks.is_empty() {
        return Err(err(1, "expected a condition, found end of input"));
    }
    let mut p = Parser::new(&toks, chars.len(), context);
    let parsed = p.parse_or()?;
    let expr = parsed.into_condition("")?;
    p.expect_end_of_condition()?;
    Ok(expr)
}

/// Parses a whole statement: `editor(args) [where condition]`.
pub(super) fn statement(text: &str, context: Context) -> Result<(Editor, Option<BoolExpr>), OttlError> {
    let chars = checked_chars(text)?;
    let toks = lex(&chars)?;
    let mut p = Parser::new(&toks, chars.len(), context);
    let editor = p.parse_editor()?;
    if !p.peek_keyword("where") {
        return match p.peek() {
            None => Ok((editor, None)),
            Some(t) => Err(err(
                t.col,
                format!(
                    "expected 'where' or end of input after {}(...), found {}",
                    editor.name(),
                    describe(Some(t))
                ),
            )),
        };
    }
    p.pos += 1;
    let parsed = p.parse_or()?;
    let condition = parsed.into_condition(" after 'where'")?;
    p.expect_end_of_condition()?;
    Ok((editor, Some(condition)))
}

fn checked_chars(text: &str) -> Result<Vec<char>, OttlError> {
    if text.chars().nth(MAX_INPUT_CHARS).is_some() {
        return Err(err(
            MAX_INPUT_CHARS + 1,
            format!("text too long; expected at most {MAX_INPUT_CHARS} characters"),
        ));
    }
    Ok(text.chars().collect())
}

/// A sub-expression before its use decides whether it must be a condition or a value.
enum Expr {
    Bool(BoolExpr),
    Value(ValueExpr),
}

struct Parsed {
    expr: Expr,
    col: usize,
}

impl Parsed {
    /// Turns a parsed operand into a condition: a comparison, `true`/`false`, a boolean
    /// converter, or a combination of those.
    fn into_condition(self, place: &str) -> Result<BoolExpr, OttlError> {
        match self.expr {
            Expr::Bool(b) => Ok(b),
            Expr::Value(ValueExpr::Literal(Value::Bool(b))) => Ok(BoolExpr::Const(b)),
            Expr::Value(ValueExpr::Converter(call)) if call.converter.returns_bool() => Ok(BoolExpr::Converter(call)),
            Expr::Value(ValueExpr::Converter(call)) => Err(err(
                self.col,
                format!(
                    "expected a condition{place}, found {}(...), which returns {}",
                    call.converter.name(),
                    call.converter.returns()
                ),
            )),
            Expr::Value(v) => Err(err(
                self.col,
                format!(
                    "expected a condition{place}, found {}; compare it with ==, !=, <, <=, > or >=",
                    describe_value(&v)
                ),
            )),
        }
    }

    fn into_value(self, place: &str) -> Result<ValueExpr, OttlError> {
        match self.expr {
            Expr::Value(v) => Ok(v),
            Expr::Bool(_) => Err(err(self.col, format!("expected a value{place}, found a condition"))),
        }
    }

    /// An arithmetic operand; operands that can never be numbers are refused here rather
    /// than on every evaluation.
    fn into_number(self, place: &str) -> Result<ValueExpr, OttlError> {
        let col = self.col;
        let value = self.into_value(place)?;
        let never_a_number = match &value {
            ValueExpr::Literal(v) => !matches!(v, Value::Int(_) | Value::Double(_)),
            ValueExpr::List(_) => true,
            ValueExpr::Converter(call) => !call.converter.returns_number(),
            ValueExpr::Path(_) | ValueExpr::Math { .. } => false,
        };
        if never_a_number {
            return Err(err(col, format!("expected a number{place}, found {}", describe_value(&value))));
        }
        Ok(value)
    }
}

/// A function argument and where it starts.
struct Arg {
    value: ValueExpr,
    col: usize,
    /// A bare converter name passed as a function (`replace_pattern(..., SHA256)`); `value`
    /// is then nil.
    function: Option<String>,
}

struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    /// Current nesting of parentheses, brackets, calls and `not`; bounds the recursion.
    depth: usize,
    end_col: usize,
    context: Context,
}

impl<'a> Parser<'a> {
    fn new(toks: &'a [Token], char_count: usize, context: Context) -> Self {
        Parser {
            toks,
            pos: 0,
            depth: 0,
            end_col: char_count + 1,
            context,
        }
    }

    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    fn col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.col)
    }

    fn peek_is(&self, tok: &Tok) -> bool {
        self.peek().is_some_and(|t| &t.tok == tok)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Ident(w), .. }) if w == keyword)
    }

    fn enter(&mut self, col: usize) -> Result<(), OttlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                col,
                format!("expression nested too deeply; expected at most {MAX_DEPTH} levels of parentheses, brackets, calls and 'not'"),
            ));
        }
        Ok(())
    }

    fn expect_end_of_condition(&self) -> Result<(), OttlError> {
        match self.peek() {
            None => Ok(()),
            Some(Token { tok: Tok::RParen, col }) => Err(err(*col, "unexpected ')' without a matching '('")),
            Some(t) => Err(err(
                t.col,
                format!(
                    "unexpected {} after a complete condition; join conditions with 'and' or 'or'",
                    describe(Some(t))
                ),
            )),
        }
    }

    // -----------------------------------------------------------------------
    // Conditions

    fn parse_or(&mut self) -> Result<Parsed, OttlError> {
        self.parse_chain("or", Self::parse_and, BoolExpr::Or)
    }

    fn parse_and(&mut self) -> Result<Parsed, OttlError> {
        self.parse_chain("and", Self::parse_not, BoolExpr::And)
    }

    /// `term {keyword term}` as one flat node, so long chains do not deepen the tree.
    fn parse_chain(
        &mut self,
        keyword: &str,
        parse_term: fn(&mut Self) -> Result<Parsed, OttlError>,
        build: fn(Vec<BoolExpr>) -> BoolExpr,
    ) -> Result<Parsed, OttlError> {
        let first = parse_term(self)?;
        if !self.peek_keyword(keyword) {
            return Ok(first);
        }
        let col = first.col;
        let place = format!(" on each side of '{keyword}'");
        let mut terms = vec![first.into_condition(&place)?];
        while self.peek_keyword(keyword) {
            self.pos += 1;
            let term = parse_term(self)?;
            terms.push(term.into_condition(&place)?);
        }
        Ok(Parsed {
            expr: Expr::Bool(build(terms)),
            col,
        })
    }

    fn parse_not(&mut self) -> Result<Parsed, OttlError> {
        // A run of `not`s is read in a loop but still counts toward the depth limit, because
        // the tree it builds is walked recursively.
        let start = self.col();
        let mut nots = 0;
        while self.peek_keyword("not") {
            self.enter(self.col())?;
            self.pos += 1;
            nots += 1;
        }
        let inner = self.parse_comparison()?;
        if nots == 0 {
            return Ok(inner);
        }
        self.depth -= nots;
        let mut expr = inner.into_condition(" after 'not'")?;
        for _ in 0..nots {
            expr = BoolExpr::Not(Box::new(expr));
        }
        Ok(Parsed {
            expr: Expr::Bool(expr),
            col: start,
        })
    }

    fn peek_compare(&self) -> Option<(CompareOp, usize)> {
        match self.peek() {
            Some(Token {
                tok: Tok::Compare(op),
                col,
            }) => Some((*op, *col)),
            _ => None,
        }
    }

    fn parse_comparison(&mut self) -> Result<Parsed, OttlError> {
        let left = self.parse_additive()?;
        let Some((op, _)) = self.peek_compare() else {
            return Ok(left);
        };
        let col = left.col;
        let left = left.into_value(&format!(" before '{}'", op.as_str()))?;
        self.pos += 1;
        let right = self.parse_additive()?;
        let right = right.into_value(&format!(" after '{}'", op.as_str()))?;
        if let Some((_, chained)) = self.peek_compare() {
            return Err(err(chained, "comparisons do not chain; join them with 'and'"));
        }
        Ok(Parsed {
            expr: Expr::Bool(BoolExpr::Compare { left, op, right }),
            col,
        })
    }

    // -----------------------------------------------------------------------
    // Values

    fn parse_additive(&mut self) -> Result<Parsed, OttlError> {
        self.parse_math_level([MathOp::Add, MathOp::Sub], Self::parse_multiplicative)
    }

    fn parse_multiplicative(&mut self) -> Result<Parsed, OttlError> {
        self.parse_math_level([MathOp::Mul, MathOp::Div], Self::parse_primary)
    }

    fn peek_math(&self, ops: [MathOp; 2]) -> Option<(MathOp, usize)> {
        match self.peek() {
            Some(Token { tok: Tok::Math(op), col }) if ops.contains(op) => Some((*op, *col)),
            _ => None,
        }
    }

    /// `operand {op operand}` for the two operators of one precedence level, as one flat node.
    fn parse_math_level(
        &mut self,
        ops: [MathOp; 2],
        parse_operand: fn(&mut Self) -> Result<Parsed, OttlError>,
    ) -> Result<Parsed, OttlError> {
        let first = parse_operand(self)?;
        let Some((op, _)) = self.peek_math(ops) else {
            return Ok(first);
        };
        let col = first.col;
        let first = first.into_number(&format!(" before '{}'", op.as_str()))?;
        let mut rest = Vec::new();
        while let Some((op, column)) = self.peek_math(ops) {
            self.pos += 1;
            let operand = parse_operand(self)?;
            let operand = operand.into_number(&format!(" after '{}'", op.as_str()))?;
            rest.push(MathStep { op, column, operand });
        }
        Ok(Parsed {
            expr: Expr::Value(ValueExpr::Math {
                first: Box::new(first),
                rest,
            }),
            col,
        })
    }

    fn parse_primary(&mut self) -> Result<Parsed, OttlError> {
        let Some(t) = self.peek() else {
            return Err(self.expected_operand());
        };
        let col = t.col;
        let literal = |v: Value| Parsed {
            expr: Expr::Value(ValueExpr::Literal(v)),
            col,
        };
        match &t.tok {
            Tok::LParen => self.parse_group(col),
            Tok::LBracket => {
                let items = self.parse_list(col)?;
                Ok(Parsed {
                    expr: Expr::Value(ValueExpr::List(items)),
                    col,
                })
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ok(literal(Value::Str(s.clone())))
            }
            Tok::Int(digits) => {
                self.pos += 1;
                Ok(literal(Value::Int(parse_int(digits, false, col)?)))
            }
            Tok::Float(text) => {
                self.pos += 1;
                Ok(literal(Value::Double(parse_float(text, false, col)?)))
            }
            Tok::Math(MathOp::Sub) => {
                self.pos += 1;
                let number = self.parse_negative_number(col)?;
                Ok(literal(number))
            }
            Tok::Ident(name) => self.parse_name(name, col),
            _ => Err(self.expected_operand()),
        }
    }

    /// "expected a value after '==', found end of input", naming what came before.
    fn expected_operand(&self) -> OttlError {
        let found = describe(self.peek());
        let previous = self.pos.checked_sub(1).and_then(|i| self.toks.get(i));
        let message = match previous {
            None => format!("expected a condition, found {found}"),
            Some(Token { tok: Tok::Ident(w), .. }) if matches!(w.as_str(), "and" | "or" | "not" | "where") => {
                format!("expected a condition after '{w}', found {found}")
            }
            Some(Token { tok: Tok::LParen, .. }) => format!("expected a condition or value after '(', found {found}"),
            Some(prev) => format!("expected a value after {}, found {found}", describe(Some(prev))),
        };
        err(self.col(), message)
    }

    fn parse_group(&mut self, open: usize) -> Result<Parsed, OttlError> {
        self.enter(open)?;
        self.pos += 1;
        let inner = self.parse_or()?;
        if !self.peek_is(&Tok::RParen) {
            return Err(err(
                self.col(),
                format!("expected ')' to close '(' at column {open}, found {}", describe(self.peek())),
            ));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Parsed {
            expr: inner.expr,
            col: open,
        })
    }

    fn parse_list(&mut self, open: usize) -> Result<Vec<ValueExpr>, OttlError> {
        self.enter(open)?;
        self.pos += 1;
        let mut items = Vec::new();
        if !self.peek_is(&Tok::RBracket) {
            loop {
                let item = self.parse_additive()?;
                items.push(item.into_value(" in a list")?);
                if self.peek_is(&Tok::Comma) {
                    self.pos += 1;
                    continue;
                }
                if self.peek_is(&Tok::RBracket) {
                    break;
                }
                return Err(err(
                    self.col(),
                    format!(
                        "expected ',' or ']' in the list opened at column {open}, found {}",
                        describe(self.peek())
                    ),
                ));
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(items)
    }

    /// After a '-' where a value starts: only a number literal may follow.
    fn parse_negative_number(&mut self, minus: usize) -> Result<Value, OttlError> {
        let value = match self.peek().map(|t| &t.tok) {
            Some(Tok::Int(digits)) => Value::Int(parse_int(digits, true, minus)?),
            Some(Tok::Float(text)) => Value::Double(parse_float(text, true, minus)?),
            _ => {
                return Err(err(
                    self.col(),
                    format!("expected a number after '-', found {}", describe(self.peek())),
                ))
            }
        };
        self.pos += 1;
        Ok(value)
    }

    /// An identifier in value position: keyword literal, converter call, enum or path.
    fn parse_name(&mut self, name: &'a str, col: usize) -> Result<Parsed, OttlError> {
        let next_is_paren = matches!(self.toks.get(self.pos + 1), Some(Token { tok: Tok::LParen, .. }));
        if next_is_paren {
            return self.parse_converter(name, col);
        }
        let literal = match name {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            "nil" => Some(Value::Nil),
            "and" | "or" | "not" | "where" => return Err(self.expected_operand()),
            _ => None,
        };
        if let Some(v) = literal {
            self.pos += 1;
            return Ok(Parsed {
                expr: Expr::Value(ValueExpr::Literal(v)),
                col,
            });
        }
        if find(CONVERTERS, name).is_some() {
            self.pos += 1;
            return Err(err(
                self.col(),
                format!("expected '(' after the converter {name}, found {}", describe(self.peek())),
            ));
        }
        if is_enum_name(name) {
            self.pos += 1;
            let value = enum_literal(name, col)?;
            return Ok(Parsed {
                expr: Expr::Value(ValueExpr::Literal(value)),
                col,
            });
        }
        let path = self.parse_path(name, col)?;
        Ok(Parsed {
            expr: Expr::Value(ValueExpr::Path(path)),
            col,
        })
    }

    // -----------------------------------------------------------------------
    // Paths

    fn parse_path(&mut self, first: &str, col: usize) -> Result<Path, OttlError> {
        self.pos += 1;
        let mut text = first.to_string();
        while self.peek_is(&Tok::Dot) {
            match self.toks.get(self.pos + 1) {
                Some(Token {
                    tok: Tok::Ident(segment), ..
                }) => {
                    text.push('.');
                    text.push_str(segment);
                    self.pos += 2;
                }
                other => {
                    let at = other.map_or(self.end_col, |t| t.col);
                    return Err(err(at, format!("expected a name after '.', found {}", describe(other))));
                }
            }
        }
        let spec = lookup(self.context, &text).map_err(|message| err(col, message))?;
        let keys = self.parse_keys(spec.field)?;
        Ok(Path {
            field: spec.field,
            keys,
            column: col,
        })
    }

    fn parse_keys(&mut self, field: Field) -> Result<Vec<Key>, OttlError> {
        let mut keys = Vec::new();
        while self.peek_is(&Tok::LBracket) {
            let open = self.col();
            let Some(container) = field.container() else {
                return Err(err(open, format!("{field} is not a map or list, so it takes no [key]")));
            };
            if keys.len() == MAX_DEPTH {
                return Err(err(open, format!("too many keys; expected at most {MAX_DEPTH}")));
            }
            self.pos += 1;
            let first_of_map = keys.is_empty() && container == Container::Map;
            let key = match self.peek() {
                Some(Token { tok: Tok::Str(s), .. }) => Key::Str(s.clone()),
                Some(Token { tok: Tok::Int(_), col }) if first_of_map => {
                    return Err(err(
                        *col,
                        format!("expected a string key such as {field}[\"http.route\"]; attribute keys are strings"),
                    ))
                }
                Some(Token {
                    tok: Tok::Int(digits),
                    col,
                }) => Key::Index(
                    digits
                        .parse()
                        .map_err(|_| err(*col, format!("index {} is out of range", truncate(digits))))?,
                ),
                other => {
                    return Err(err(
                        self.col(),
                        format!("expected a string key or an index after '[', found {}", describe(other)),
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
            keys.push(key);
        }
        Ok(keys)
    }

    // -----------------------------------------------------------------------
    // Calls

    /// `(arg, ...)` for a function whose name was just read; checks the arity.
    fn parse_args(&mut self, signature: &Signature) -> Result<Vec<Arg>, OttlError> {
        let name = signature.name;
        if !self.peek_is(&Tok::LParen) {
            return Err(err(
                self.col(),
                format!("expected '(' after {name}, found {}", describe(self.peek())),
            ));
        }
        self.enter(self.col())?;
        self.pos += 1;
        let mut args = Vec::new();
        if !self.peek_is(&Tok::RParen) {
            loop {
                let col = self.col();
                let arg = match self.bare_function_name(signature.params.get(args.len()).copied()) {
                    Some(function) => Arg {
                        value: ValueExpr::Literal(Value::Nil),
                        col,
                        function: Some(function),
                    },
                    None => {
                        let parsed = self.parse_additive()?;
                        let value = parsed.into_value(&format!(" as argument {} of {name}", args.len() + 1))?;
                        Arg {
                            value,
                            col,
                            function: None,
                        }
                    }
                };
                if args.len() == signature.params.len() {
                    return Err(err(col, format!("too many arguments; {name} expects {}", signature.arity())));
                }
                args.push(arg);
                if self.peek_is(&Tok::Comma) {
                    self.pos += 1;
                    continue;
                }
                if self.peek_is(&Tok::RParen) {
                    break;
                }
                let found = describe(self.peek());
                let message = if args.len() == signature.params.len() {
                    format!("expected ')' after the arguments of {name}, found {found}")
                } else {
                    format!("expected ',' or ')' after argument {} of {name}, found {found}", args.len())
                };
                return Err(err(self.col(), message));
            }
        }
        let close = self.col();
        self.pos += 1;
        self.depth -= 1;
        if args.len() < signature.required {
            return Err(err(close, format!("{name} expects {}; got {}", signature.arity(), args.len())));
        }
        Ok(args)
    }

    /// For a `function` parameter, a converter name written without a call (`SHA256`),
    /// consumed; the parameter's other forms are parsed as values and refused later.
    fn bare_function_name(&mut self, param: Option<&str>) -> Option<String> {
        if param != Some("function") {
            return None;
        }
        let Some(Token { tok: Tok::Ident(name), .. }) = self.peek() else {
            return None;
        };
        let ends = matches!(
            self.toks.get(self.pos + 1),
            Some(Token {
                tok: Tok::Comma | Tok::RParen,
                ..
            })
        );
        if !ends {
            return None;
        }
        self.pos += 1;
        Some(name.clone())
    }

    fn parse_converter(&mut self, name: &str, col: usize) -> Result<Parsed, OttlError> {
        let Some(signature) = find(CONVERTERS, name) else {
            let message = if find(EDITORS, name).is_some() {
                format!(
                    "{name} is an editor, which changes data; a condition or value can only call the converters {}",
                    names(CONVERTERS)
                )
            } else {
                format!("unknown converter '{}'; expected one of {}", truncate(name), names(CONVERTERS))
            };
            return Err(err(col, message));
        };
        self.pos += 1;
        let args = self.parse_args(signature)?;
        let converter = self.build_converter(signature, col, args)?;
        Ok(Parsed {
            expr: Expr::Value(ValueExpr::Converter(Call { converter, column: col })),
            col,
        })
    }

    fn build_converter(&self, signature: &Signature, col: usize, args: Vec<Arg>) -> Result<Converter, OttlError> {
        let mut args = Args::new(signature, col, args);
        Ok(match signature.name {
            "IsMatch" => Converter::IsMatch {
                target: Box::new(args.next()?.value),
                pattern: regex_arg(args.next()?, "the pattern of IsMatch")?,
            },
            "Duration" => {
                let arg = args.next()?;
                check_duration_literal(&arg)?;
                Converter::Duration(Box::new(arg.value))
            }
            "Int" => Converter::Int(Box::new(args.next()?.value)),
            "Double" => Converter::Double(Box::new(args.next()?.value)),
            "String" => Converter::String(Box::new(args.next()?.value)),
            "Concat" => {
                let values = args.next()?;
                if let ValueExpr::Literal(_) = values.value {
                    return Err(err(
                        values.col,
                        format!(
                            "expected a list such as [\"a\", attributes[\"b\"]] as the values of Concat, found {}",
                            describe_value(&values.value)
                        ),
                    ));
                }
                let delimiter = args.next()?;
                if matches!(delimiter.value, ValueExpr::Literal(ref v) if !matches!(v, Value::Str(_))) {
                    return Err(err(
                        delimiter.col,
                        format!(
                            "expected a string as the delimiter of Concat, found {}",
                            describe_value(&delimiter.value)
                        ),
                    ));
                }
                Converter::Concat {
                    values: Box::new(values.value),
                    delimiter: Box::new(delimiter.value),
                }
            }
            "Split" => Converter::Split {
                target: Box::new(string_valued(args.next()?, "the target of Split")?),
                delimiter: string_arg(args.next()?, "the delimiter of Split")?,
            },
            "Substring" => {
                let target = string_valued(args.next()?, "the target of Substring")?;
                let start = checked_literal(
                    args.next()?,
                    "a non-negative integer",
                    "the start of Substring",
                    |v| matches!(v, Value::Int(n) if *n >= 0),
                )?;
                let length = checked_literal(
                    args.next()?,
                    "a positive integer",
                    "the length of Substring",
                    |v| matches!(v, Value::Int(n) if *n > 0),
                )?;
                let utf8_safe = match args.optional() {
                    Some(arg) => bool_arg(arg, "utf8_safe of Substring")?,
                    None => false,
                };
                Converter::Substring {
                    target: Box::new(target),
                    start: Box::new(start),
                    length: Box::new(length),
                    utf8_safe,
                }
            }
            "ToLowerCase" | "ToUpperCase" | "SHA256" => {
                let Some(function) = StringFunction::from_name(signature.name) else {
                    return Err(err(col, format!("converter {} is not implemented", signature.name)));
                };
                let target = string_valued(args.next()?, &format!("the argument of {}", signature.name))?;
                Converter::OfString {
                    function,
                    target: Box::new(target),
                }
            }
            "Len" => {
                let target = checked_literal(args.next()?, "a string, list or map", "the argument of Len", |v| {
                    matches!(v, Value::Str(_) | Value::List(_) | Value::Map(_))
                })?;
                Converter::Len(Box::new(target))
            }
            "IsMap" | "IsString" | "IsInt" | "IsDouble" | "IsBool" | "IsList" => {
                let Some(kind) = ValueKind::from_converter_name(signature.name) else {
                    return Err(err(col, format!("converter {} is not implemented", signature.name)));
                };
                Converter::IsKind {
                    kind,
                    target: Box::new(args.next()?.value),
                }
            }
            "UUID" => Converter::Uuid,
            "ParseJSON" => {
                let arg = args.next()?;
                let arg_col = arg.col;
                let target = string_valued(arg, "the target of ParseJSON")?;
                // A literal is parsed now, so malformed JSON fails at start-up, not on every item.
                if let ValueExpr::Literal(Value::Str(text)) = &target {
                    parse_json(text).map_err(|message| err(arg_col, message))?;
                }
                Converter::ParseJson(Box::new(target))
            }
            "IsRootSpan" if self.context == Context::Span => Converter::IsRootSpan,
            "IsRootSpan" => {
                return Err(err(
                    col,
                    format!("IsRootSpan() needs a span; it is not available in the {} context", self.context),
                ))
            }
            other => return Err(err(col, format!("converter {other} is not implemented"))),
        })
    }

    // -----------------------------------------------------------------------
    // Statements

    fn parse_editor(&mut self) -> Result<Editor, OttlError> {
        let Some(Token {
            tok: Tok::Ident(name),
            col,
        }) = self.peek()
        else {
            return Err(err(
                self.col(),
                format!("expected an editor such as set(...), found {}", describe(self.peek())),
            ));
        };
        let Some(signature) = find(EDITORS, name) else {
            let message = if find(CONVERTERS, name).is_some() {
                format!(
                    "{name} is a converter; a statement starts with one of the editors {}",
                    names(EDITORS)
                )
            } else {
                format!("unknown editor '{}'; expected one of {}", truncate(name), names(EDITORS))
            };
            return Err(err(*col, message));
        };
        self.pos += 1;
        let args = self.parse_args(signature)?;
        self.build_editor(signature, *col, args)
    }

    fn build_editor(&self, signature: &Signature, col: usize, args: Vec<Arg>) -> Result<Editor, OttlError> {
        let name = signature.name;
        let mut args = Args::new(signature, col, args);
        let map_target = |arg: Arg| self.target(arg, name, true);
        if matches!(name, "convert_sum_to_gauge" | "convert_gauge_to_sum") && self.context != Context::Metric {
            return Err(err(
                col,
                format!(
                    "{name} changes the type of a metric, so it runs in the metric context only, not the {} context; \
                     write its condition with metric.* paths",
                    self.context
                ),
            ));
        }
        if name == "set_semconv_span_name" && self.context != Context::Span {
            return Err(err(
                col,
                format!(
                    "{name} renames spans, so it runs in the span context only, not the {} context",
                    self.context
                ),
            ));
        }
        Ok(match name {
            "set" => Editor::Set {
                target: self.target(args.next()?, name, false)?,
                value: args.next()?.value,
            },
            "delete_key" => Editor::DeleteKey {
                target: map_target(args.next()?)?,
                key: string_arg(args.next()?, "the key of delete_key")?,
            },
            "delete_matching_keys" => Editor::DeleteMatchingKeys {
                target: map_target(args.next()?)?,
                pattern: regex_arg(args.next()?, "the pattern of delete_matching_keys")?,
            },
            "keep_keys" => Editor::KeepKeys {
                target: map_target(args.next()?)?,
                keys: string_list_arg(args.next()?, "the keys of keep_keys")?,
            },
            "keep_matching_keys" => Editor::KeepMatchingKeys {
                target: map_target(args.next()?)?,
                pattern: regex_arg(args.next()?, "the pattern of keep_matching_keys")?,
            },
            "replace_pattern" => Editor::ReplacePattern {
                target: self.target(args.next()?, name, false)?,
                pattern: regex_arg(args.next()?, "the pattern of replace_pattern")?,
                replacement: replacement_args(&mut args, name)?,
            },
            "replace_all_patterns" => Editor::ReplaceAllPatterns {
                target: map_target(args.next()?)?,
                mode: mode_arg(args.next()?)?,
                pattern: regex_arg(args.next()?, "the pattern of replace_all_patterns")?,
                replacement: replacement_args(&mut args, name)?,
            },
            "replace_match" => Editor::ReplaceMatch {
                target: self.target(args.next()?, name, false)?,
                pattern: glob_arg(args.next()?, "the pattern of replace_match")?,
                replacement: replacement_args(&mut args, name)?,
            },
            "replace_all_matches" => Editor::ReplaceAllMatches {
                target: map_target(args.next()?)?,
                pattern: glob_arg(args.next()?, "the pattern of replace_all_matches")?,
                replacement: replacement_args(&mut args, name)?,
            },
            "merge_maps" => Editor::MergeMaps {
                target: map_target(args.next()?)?,
                source: checked_literal(args.next()?, "a map such as attributes", "the source of merge_maps", |v| {
                    matches!(v, Value::Map(_))
                })?,
                strategy: strategy_arg(args.next()?)?,
            },
            "flatten" => {
                let target = map_target(args.next()?)?;
                let prefix = match args.optional() {
                    Some(arg) => string_arg(arg, "the prefix of flatten")?,
                    None => String::new(),
                };
                let depth = match args.optional() {
                    Some(arg) => Some(count_arg(arg, "the depth of flatten")?),
                    None => None,
                };
                if let Some(arg) = args.optional() {
                    let arg_col = arg.col;
                    if bool_arg(arg, "resolveConflicts of flatten")? {
                        return Err(err(
                            arg_col,
                            "flatten's resolveConflicts is not supported; leave it out or pass false \
                             (a later key overwrites an earlier one)",
                        ));
                    }
                }
                Editor::Flatten { target, prefix, depth }
            }
            "truncate_all" => {
                let target = map_target(args.next()?)?;
                let limit_arg = args.next()?;
                let limit_col = limit_arg.col;
                let limit = count_arg(limit_arg, "the limit of truncate_all")?;
                // Strings here are always valid UTF-8, so every cut is at a character boundary;
                // utf8_safe is accepted for compatibility.
                if let Some(arg) = args.optional() {
                    bool_arg(arg, "utf8_safe of truncate_all")?;
                }
                let marker = match args.optional() {
                    Some(arg) => string_arg(arg, "the truncation marker of truncate_all")?,
                    None => String::new(),
                };
                if marker.len() > limit {
                    return Err(err(
                        limit_col,
                        format!(
                            "limit {limit} is shorter than the {}-byte truncation marker; expected a limit of at least {}",
                            marker.len(),
                            marker.len()
                        ),
                    ));
                }
                Editor::TruncateAll { target, limit, marker }
            }
            "limit" => {
                let target = map_target(args.next()?)?;
                let limit_arg = args.next()?;
                let limit_col = limit_arg.col;
                let limit = count_arg(limit_arg, "the limit of limit")?;
                let priority_keys = match args.optional() {
                    Some(arg) => string_list_arg(arg, "the priority keys of limit")?,
                    None => Vec::new(),
                };
                if limit < priority_keys.len() {
                    return Err(err(
                        limit_col,
                        format!(
                            "limit {limit} is less than the {} priority keys; expected at least {}",
                            priority_keys.len(),
                            priority_keys.len()
                        ),
                    ));
                }
                Editor::Limit {
                    target,
                    limit,
                    priority_keys,
                }
            }
            "convert_sum_to_gauge" => Editor::ConvertSumToGauge,
            "set_semconv_span_name" => {
                let version_arg = args.next()?;
                let version_col = version_arg.col;
                let version = string_arg(version_arg, "the semantic conventions version of set_semconv_span_name")?;
                if !super::semconv_name::SUPPORTED_VERSIONS.contains(&version.as_str()) {
                    return Err(err(
                        version_col,
                        format!(
                            "unsupported semantic conventions version {version:?}; set_semconv_span_name supports {}",
                            super::semconv_name::SUPPORTED_VERSIONS.join(", ")
                        ),
                    ));
                }
                let original_name_attribute = match args.optional() {
                    Some(arg) => {
                        let arg_col = arg.col;
                        let key = string_arg(arg, "the original span name attribute of set_semconv_span_name")?;
                        if key.is_empty() {
                            return Err(err(arg_col, "the original span name attribute cannot be an empty string"));
                        }
                        Some(key)
                    }
                    None => None,
                };
                Editor::SetSemconvSpanName { original_name_attribute }
            }
            "convert_gauge_to_sum" => Editor::ConvertGaugeToSum {
                aggregation_temporality: temporality_arg(args.next()?)?,
                is_monotonic: bool_arg(args.next()?, "is_monotonic of convert_gauge_to_sum")?,
            },
            other => return Err(err(col, format!("editor {other} is not implemented"))),
        })
    }

    /// An editor's first argument: a writable path of this context (a map for map editors).
    fn target(&self, arg: Arg, editor: &str, needs_map: bool) -> Result<Path, OttlError> {
        let ValueExpr::Path(path) = arg.value else {
            return Err(err(
                arg.col,
                format!("expected a path as the target of {editor}, found {}", describe_value(&arg.value)),
            ));
        };
        if needs_map && !path.may_be_map() {
            return Err(err(
                arg.col,
                format!("expected a map such as attributes as the target of {editor}, found {path}, which is not a map"),
            ));
        }
        if !is_writable(self.context, path.field) {
            return Err(err(arg.col, format!("{} is read-only in the {} context", path.field, self.context)));
        }
        Ok(path)
    }
}

/// Hands out a call's arguments in order; arity was checked, so running out is a bug
/// reported as an error rather than a panic.
struct Args {
    args: std::vec::IntoIter<Arg>,
    name: &'static str,
    col: usize,
}

impl Args {
    fn new(signature: &Signature, col: usize, args: Vec<Arg>) -> Self {
        Args {
            args: args.into_iter(),
            name: signature.name,
            col,
        }
    }

    fn next(&mut self) -> Result<Arg, OttlError> {
        self.args
            .next()
            .ok_or_else(|| err(self.col, format!("{} is missing an argument", self.name)))
    }

    fn optional(&mut self) -> Option<Arg> {
        self.args.next()
    }
}

fn parse_int(digits: &str, negative: bool, col: usize) -> Result<i64, OttlError> {
    let text = if negative { format!("-{digits}") } else { digits.to_string() };
    text.parse()
        .map_err(|_| err(col, format!("integer {} is out of range; ints are 64-bit", truncate(&text))))
}

fn parse_float(text: &str, negative: bool, col: usize) -> Result<f64, OttlError> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(if negative { -x } else { x }),
        _ => Err(err(col, format!("number {} is out of range", truncate(text)))),
    }
}

/// Enums are written in capitals: `SPAN_KIND_SERVER`.
fn is_enum_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn enum_literal(name: &str, col: usize) -> Result<Value, OttlError> {
    if let Some(v) = enum_value(name) {
        return Ok(Value::Int(v));
    }
    let lower = name.to_ascii_lowercase();
    if matches!(lower.as_str(), "and" | "or" | "not" | "where" | "true" | "false" | "nil") {
        return Err(err(col, format!("keywords are lowercase; write '{lower}'")));
    }
    let message = match ENUM_FAMILIES.iter().find(|f| name.starts_with(*f)) {
        Some(family) => {
            let members: Vec<&str> = ENUMS.iter().map(|(n, _)| *n).filter(|n| n.starts_with(family)).collect();
            format!("unknown enum '{}'; expected one of {}", truncate(name), members.join(", "))
        }
        None => format!(
            "unknown enum '{}'; expected a name starting with {}",
            truncate(name),
            ENUM_FAMILIES.join(", ")
        ),
    };
    Err(err(col, message))
}

/// How a value expression is named in messages.
fn describe_value(v: &ValueExpr) -> String {
    match v {
        ValueExpr::Literal(Value::Str(s)) => format!("string {:?}", truncate(s)),
        ValueExpr::Literal(Value::Int(n)) => n.to_string(),
        ValueExpr::Literal(Value::Double(x)) => x.to_string(),
        ValueExpr::Literal(Value::Bool(b)) => b.to_string(),
        ValueExpr::Literal(other) => other.type_name().to_string(),
        ValueExpr::Path(p) => format!("the path {p}"),
        ValueExpr::Converter(call) => format!("{}(...), which returns {}", call.converter.name(), call.converter.returns()),
        ValueExpr::List(_) => "a list".to_string(),
        ValueExpr::Math { .. } => "an arithmetic expression".to_string(),
    }
}

fn string_arg(arg: Arg, what: &str) -> Result<String, OttlError> {
    match arg.value {
        ValueExpr::Literal(Value::Str(s)) => Ok(s),
        other => Err(err(
            arg.col,
            format!("expected a string as {what}, found {}", describe_value(&other)),
        )),
    }
}

fn regex_arg(arg: Arg, what: &str) -> Result<Pattern, OttlError> {
    let col = arg.col;
    let text = string_arg(arg, what)?;
    regex::Regex::new(&text).map(Pattern).map_err(|e| {
        err(
            col,
            format!("expected a valid regular expression as {what}: {}", regex_error_line(&e)),
        )
    })
}

/// The informative line of a regex error (syntax errors are multi-line with a caret diagram).
fn regex_error_line(e: &regex::Error) -> String {
    let s = e.to_string();
    s.lines()
        .find_map(|l| l.trim().strip_prefix("error:").map(|m| m.trim().to_string()))
        .or_else(|| s.lines().next().map(str::to_string))
        .unwrap_or_default()
}

fn string_list_arg(arg: Arg, what: &str) -> Result<Vec<String>, OttlError> {
    let expected = |found: &str| {
        err(
            arg.col,
            format!("expected a list of strings such as [\"a\", \"b\"] as {what}, found {found}"),
        )
    };
    let ValueExpr::List(items) = &arg.value else {
        return Err(expected(&describe_value(&arg.value)));
    };
    items
        .iter()
        .map(|item| match item {
            ValueExpr::Literal(Value::Str(s)) => Ok(s.clone()),
            other => Err(expected(&format!("a list holding {}", describe_value(other)))),
        })
        .collect()
}

fn count_arg(arg: Arg, what: &str) -> Result<usize, OttlError> {
    match arg.value {
        ValueExpr::Literal(Value::Int(n)) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        other => Err(err(
            arg.col,
            format!("expected a non-negative integer as {what}, found {}", describe_value(&other)),
        )),
    }
}

fn mode_arg(arg: Arg) -> Result<ReplaceMode, OttlError> {
    match &arg.value {
        ValueExpr::Literal(Value::Str(s)) if s == "key" => Ok(ReplaceMode::Key),
        ValueExpr::Literal(Value::Str(s)) if s == "value" => Ok(ReplaceMode::Value),
        other => Err(err(
            arg.col,
            format!(
                "expected \"key\" or \"value\" as the mode of replace_all_patterns, found {}",
                describe_value(other)
            ),
        )),
    }
}

/// A literal duration is checked now, so a typo fails at start-up, not on every span.
fn check_duration_literal(arg: &Arg) -> Result<(), OttlError> {
    match &arg.value {
        ValueExpr::Literal(Value::Str(s)) if parse_duration(s).is_some() => Ok(()),
        ValueExpr::Literal(v) => Err(err(
            arg.col,
            format!(
                "expected a duration such as \"500ms\", \"1.5s\" or \"1h30m\", found {}",
                describe_value(&ValueExpr::Literal(v.clone()))
            ),
        )),
        _ => Ok(()),
    }
}

/// A value argument; a literal that can never be `expected` is refused now rather than on
/// every evaluation. Paths, converters and arithmetic are checked when they are evaluated.
fn checked_literal(arg: Arg, expected: &str, what: &str, accepts: fn(&Value) -> bool) -> Result<ValueExpr, OttlError> {
    let refused = match &arg.value {
        ValueExpr::Literal(v) => !accepts(v),
        ValueExpr::List(_) => !accepts(&Value::List(Vec::new())),
        ValueExpr::Path(_) | ValueExpr::Converter(_) | ValueExpr::Math { .. } => false,
    };
    if refused {
        return Err(err(
            arg.col,
            format!("expected {expected} as {what}, found {}", describe_value(&arg.value)),
        ));
    }
    Ok(arg.value)
}

fn string_valued(arg: Arg, what: &str) -> Result<ValueExpr, OttlError> {
    checked_literal(arg, "a string", what, |v| matches!(v, Value::Str(_)))
}

fn bool_arg(arg: Arg, what: &str) -> Result<bool, OttlError> {
    match arg.value {
        ValueExpr::Literal(Value::Bool(b)) => Ok(b),
        other => Err(err(
            arg.col,
            format!("expected true or false as {what}, found {}", describe_value(&other)),
        )),
    }
}

/// `replacement[, function[, replacementFormat]]` of the replace editors.
fn replacement_args(args: &mut Args, editor: &str) -> Result<Replacement, OttlError> {
    let text = string_arg(args.next()?, &format!("the replacement of {editor}"))?;
    let function = match args.optional() {
        Some(arg) => Some(function_arg(arg, editor)?),
        None => None,
    };
    let format = match args.optional() {
        Some(arg) => Some(format_arg(arg, editor)?),
        None => None,
    };
    Ok(Replacement { text, function, format })
}

/// A converter named without a call, as the replace editors take it: `SHA256`.
fn function_arg(arg: Arg, editor: &str) -> Result<StringFunction, OttlError> {
    let Some(name) = &arg.function else {
        return Err(err(
            arg.col,
            format!(
                "expected a converter name without parentheses, such as SHA256, as the function of {editor}, found {}",
                describe_value(&arg.value)
            ),
        ));
    };
    StringFunction::from_name(name).ok_or_else(|| {
        err(
            arg.col,
            format!(
                "expected SHA256, ToLowerCase or ToUpperCase as the function of {editor}, found '{}'",
                truncate(name)
            ),
        )
    })
}

/// A format with exactly one `%s`, which the function's result replaces: `"k8s.%s"`.
fn format_arg(arg: Arg, editor: &str) -> Result<String, OttlError> {
    let col = arg.col;
    let format = string_arg(arg, &format!("the replacement format of {editor}"))?;
    if format.matches("%s").count() != 1 || format.matches('%').count() != 1 {
        return Err(err(
            col,
            format!(
                "expected a replacement format with one %s and no other %, such as \"k8s.%s\", found {:?}",
                truncate(&format)
            ),
        ));
    }
    Ok(format)
}

/// A glob as `replace_match` takes it, compiled to an anchored regex.
fn glob_arg(arg: Arg, what: &str) -> Result<Pattern, OttlError> {
    let col = arg.col;
    let text = string_arg(arg, what)?;
    glob_regex(&text).map(Pattern).map_err(|message| {
        err(
            col,
            format!("expected a valid glob pattern such as \"/user/*/list/*\" as {what}: {message}"),
        )
    })
}

/// A glob to an anchored regex: `*` any text, `?` one character, `[abc]`, `[a-z]` and
/// `[!abc]` sets, `{a,b}` alternatives, `\x` the character x, anything else itself.
pub(super) fn glob_regex(glob: &str) -> Result<regex::Regex, String> {
    let mut out = String::from("^(?s:");
    let mut chars = glob.chars();
    let mut open_braces = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => match chars.next() {
                Some(escaped) => out.push_str(&regex::escape(escaped.encode_utf8(&mut [0; 4]))),
                None => return Err("it ends with a lone '\\'".to_string()),
            },
            '[' => {
                out.push('[');
                let mut first = true;
                loop {
                    match chars.next() {
                        None => return Err("a '[' is not closed by ']'".to_string()),
                        Some(']') if !first => break,
                        Some('!' | '^') if first => out.push('^'),
                        Some('-') if !first => out.push('-'),
                        Some(member) => out.push_str(&regex::escape(member.encode_utf8(&mut [0; 4]))),
                    }
                    first = false;
                }
                out.push(']');
            }
            '{' => {
                open_braces += 1;
                out.push_str("(?:");
            }
            ',' if open_braces > 0 => out.push('|'),
            '}' if open_braces > 0 => {
                open_braces -= 1;
                out.push(')');
            }
            other => out.push_str(&regex::escape(other.encode_utf8(&mut [0; 4]))),
        }
    }
    if open_braces > 0 {
        return Err("a '{' is not closed by '}'".to_string());
    }
    out.push_str(")$");
    regex::Regex::new(&out).map_err(|e| regex_error_line(&e))
}

fn strategy_arg(arg: Arg) -> Result<MergeStrategy, OttlError> {
    match &arg.value {
        ValueExpr::Literal(Value::Str(s)) if s == "insert" => Ok(MergeStrategy::Insert),
        ValueExpr::Literal(Value::Str(s)) if s == "update" => Ok(MergeStrategy::Update),
        ValueExpr::Literal(Value::Str(s)) if s == "upsert" => Ok(MergeStrategy::Upsert),
        other => Err(err(
            arg.col,
            format!(
                "expected \"insert\", \"update\" or \"upsert\" as the strategy of merge_maps, found {}",
                describe_value(other)
            ),
        )),
    }
}

/// `"delta"` or `"cumulative"`, as OTLP numbers them.
fn temporality_arg(arg: Arg) -> Result<i32, OttlError> {
    match &arg.value {
        ValueExpr::Literal(Value::Str(s)) if s == "delta" => Ok(1),
        ValueExpr::Literal(Value::Str(s)) if s == "cumulative" => Ok(2),
        other => Err(err(
            arg.col,
            format!(
                "expected \"cumulative\" or \"delta\" as the aggregation temporality of convert_gauge_to_sum, found {}",
                describe_value(other)
            ),
        )),
    }
}
