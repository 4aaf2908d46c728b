//! Splits OTTL text into tokens, each with its 1-based column (counted in chars).

use super::ast::{CompareOp, MathOp};
use super::{err, OttlError};
use crate::query::filter::quote_char;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A name: path segment, keyword, enum, converter or editor.
    Ident(String),
    /// A double-quoted string, escapes resolved.
    Str(String),
    /// Digits only; the parser applies a leading '-' before converting, so i64::MIN is writable.
    Int(String),
    /// Digits with a fraction or exponent, as written.
    Float(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Compare(CompareOp),
    Math(MathOp),
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub tok: Tok,
    pub col: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

pub(super) fn lex(chars: &[char]) -> Result<Vec<Token>, OttlError> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (tok, next) = match c {
            '"' => {
                let (s, next) = lex_string(chars, i)?;
                (Tok::Str(s), next)
            }
            c if c.is_ascii_digit() => lex_number(chars, i)?,
            c if is_ident_start(c) => {
                let end = scan(chars, i, is_ident_char);
                (Tok::Ident(chars[i..end].iter().collect()), end)
            }
            _ => lex_symbol(chars, i)?,
        };
        out.push(Token { tok, col });
        i = next;
    }
    Ok(out)
}

/// The index of the first char from `start` that is not in the class.
fn scan(chars: &[char], start: usize, class: fn(char) -> bool) -> usize {
    let mut i = start;
    while chars.get(i).is_some_and(|&c| class(c)) {
        i += 1;
    }
    i
}

fn lex_symbol(chars: &[char], i: usize) -> Result<(Tok, usize), OttlError> {
    let c = chars[i];
    let next = chars.get(i + 1).copied();
    let col = i + 1;
    let two = |tok| Ok((tok, i + 2));
    let one = |tok| Ok((tok, i + 1));
    match (c, next) {
        ('=', Some('=')) => two(Tok::Compare(CompareOp::Eq)),
        ('!', Some('=')) => two(Tok::Compare(CompareOp::Ne)),
        ('<', Some('=')) => two(Tok::Compare(CompareOp::Le)),
        ('>', Some('=')) => two(Tok::Compare(CompareOp::Ge)),
        ('<', _) => one(Tok::Compare(CompareOp::Lt)),
        ('>', _) => one(Tok::Compare(CompareOp::Gt)),
        ('+', _) => one(Tok::Math(MathOp::Add)),
        ('-', _) => one(Tok::Math(MathOp::Sub)),
        ('*', _) => one(Tok::Math(MathOp::Mul)),
        ('/', _) => one(Tok::Math(MathOp::Div)),
        ('(', _) => one(Tok::LParen),
        (')', _) => one(Tok::RParen),
        ('[', _) => one(Tok::LBracket),
        (']', _) => one(Tok::RBracket),
        (',', _) => one(Tok::Comma),
        ('.', _) => one(Tok::Dot),
        ('=', _) => Err(err(col, "unexpected '='; compare with '=='")),
        ('!', _) => Err(err(col, "unexpected '!'; negate a condition with 'not', compare with '!='")),
        ('&', _) => Err(err(col, "unexpected '&'; join conditions with 'and'")),
        ('|', _) => Err(err(col, "unexpected '|'; join conditions with 'or'")),
        ('\'', _) => Err(err(col, "unexpected single quote; strings are written in double quotes")),
        _ => Err(err(
            col,
            format!(
                "unexpected character {}; expected a path, value, operator or parenthesis",
                quote_char(c)
            ),
        )),
    }
}

/// `digits [. digits] [e [+-] digits]`; a letter right after the number is an error, since
/// `500ms` unquoted is a common slip for `Duration("500ms")`.
fn lex_number(chars: &[char], start: usize) -> Result<(Tok, usize), OttlError> {
    let digit = |c: char| c.is_ascii_digit();
    let mut i = scan(chars, start, digit);
    let mut is_float = false;
    if chars.get(i) == Some(&'.') {
        if !chars.get(i + 1).copied().is_some_and(digit) {
            return Err(err(i + 2, "expected digits after the decimal point"));
        }
        i = scan(chars, i + 1, digit);
        is_float = true;
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(i + 1), Some('+' | '-')));
        if chars.get(i + 1 + sign).copied().is_some_and(digit) {
            i = scan(chars, i + 1 + sign, digit);
            is_float = true;
        }
    }
    if let Some(&c) = chars.get(i).filter(|&&c| is_ident_char(c)) {
        return Err(err(
            i + 1,
            format!("unexpected '{c}' after a number; quote text, and write durations as Duration(\"500ms\")"),
        ));
    }
    let text: String = chars[start..i].iter().collect();
    Ok((if is_float { Tok::Float(text) } else { Tok::Int(text) }, i))
}

/// A string starting at the quote at `start`; returns the value and the index after it.
/// `\"`, `\\`, `\n`, `\t` and `\r` are escapes; any other `\x` keeps its backslash, so a
/// regex may be written `"^tool\."` as well as OTTL's usual `"^tool\\."`.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), OttlError> {
    let unterminated = || err(start + 1, "unterminated string; expected a closing '\"'");
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        let c = *chars.get(i).ok_or_else(unterminated)?;
        i += 1;
        if c == '"' {
            return Ok((s, i));
        }
        if c != '\\' {
            s.push(c);
            continue;
        }
        match *chars.get(i).ok_or_else(unterminated)? {
            '"' => s.push('"'),
            '\\' => s.push('\\'),
            'n' => s.push('\n'),
            't' => s.push('\t'),
            'r' => s.push('\r'),
            // Not an escape: keep the backslash and read the next char normally.
            _ => {
                s.push('\\');
                continue;
            }
        }
        i += 1;
    }
}

/// How a token is named in messages.
pub(super) fn describe(token: Option<&Token>) -> String {
    let Some(t) = token else {
        return "end of input".to_string();
    };
    match &t.tok {
        Tok::Ident(s) | Tok::Int(s) | Tok::Float(s) => format!("'{}'", truncate(s)),
        Tok::Str(s) => format!("string {:?}", truncate(s)),
        Tok::LParen => "'('".to_string(),
        Tok::RParen => "')'".to_string(),
        Tok::LBracket => "'['".to_string(),
        Tok::RBracket => "']'".to_string(),
        Tok::Comma => "','".to_string(),
        Tok::Dot => "'.'".to_string(),
        Tok::Compare(op) => format!("'{}'", op.as_str()),
        Tok::Math(op) => format!("'{}'", op.as_str()),
    }
}

/// Shortens user text echoed in messages.
pub(super) fn truncate(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().nth(MAX).is_some() {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<(Tok, usize)> {
        let chars: Vec<char> = text.chars().collect();
        lex(&chars).unwrap().into_iter().map(|t| (t.tok, t.col)).collect()
    }

    fn lex_err(text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        lex(&chars).unwrap_err().to_string()
    }

    #[test]
    fn tokens_and_columns() {
        use Tok::*;
        assert_eq!(
            toks(r#"attributes["k"] >= 1.5e3 and x!=-2"#),
            [
                (Ident("attributes".into()), 1),
                (LBracket, 11),
                (Str("k".into()), 12),
                (RBracket, 15),
                (Compare(CompareOp::Ge), 17),
                (Float("1.5e3".into()), 20),
                (Ident("and".into()), 26),
                (Ident("x".into()), 30),
                (Compare(CompareOp::Ne), 31),
                (Math(MathOp::Sub), 33),
                (Int("2".into()), 34),
            ]
        );
    }

    #[test]
    fn string_escapes() {
        assert_eq!(toks(r#""a\"b\\c\nd\te\.f""#), [(Tok::Str("a\"b\\c\nd\te\\.f".into()), 1)]);
        assert_eq!(toks(r#""^\\d+$""#), [(Tok::Str(r"^\d+$".into()), 1)]);
    }

    #[test]
    fn lexical_errors() {
        assert_eq!(lex_err(r#"name == "abc"#), "column 9: unterminated string; expected a closing '\"'");
        assert_eq!(
            lex_err(r#"name == "abc\"#),
            "column 9: unterminated string; expected a closing '\"'"
        );
        assert_eq!(lex_err("a = 1"), "column 3: unexpected '='; compare with '=='");
        assert_eq!(
            lex_err("x > 500ms"),
            "column 8: unexpected 'm' after a number; quote text, and write durations as Duration(\"500ms\")"
        );
        assert_eq!(lex_err("x > 1."), "column 7: expected digits after the decimal point");
        assert_eq!(
            lex_err("'a'"),
            "column 1: unexpected single quote; strings are written in double quotes"
        );
        assert_eq!(lex_err("a && b"), "column 3: unexpected '&'; join conditions with 'and'");
        assert_eq!(
            lex_err("é == 1"),
            "column 1: unexpected character 'é'; expected a path, value, operator or parenthesis"
        );
        assert_eq!(
            lex_err("x\u{1}"),
            "column 2: unexpected character U+0001; expected a path, value, operator or parenthesis"
        );
    }
}
