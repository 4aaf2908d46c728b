//! Conditions across the spans of a trace, for trace searches (`/api/v1/traces?q=`): span filters
//! joined by `&&` (the trace also has a span matching the next one), `->` (a span matching the next
//! one is a descendant of a span matching the previous one, as in the `A -> B` assertion) and
//! `then` (a span matching the next one starts no earlier than one matching the previous one, as in
//! `A then B`). They bind looser than `and`/`or` and read left to right:
//!
//! ```text
//! service = frontend -> service = payment and status = error
//! name = "POST /checkout" then name = charge then name = "send email"
//! name = agent -> name =~ "^tool\." && llm.model = gpt-4o
//! ```
//!
//! A text without them is one span filter, exactly as `filter::parse` reads it.

use super::filter::{self, Expr, ParseError, MAX_INPUT_CHARS};
use std::fmt;

/// Most conditions one pattern may chain (each is checked on every span of every candidate trace).
pub const MAX_STEPS: usize = 8;

/// How one condition of a pattern relates to the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// `&&`: the trace also has a span matching it (the same span or another).
    Also,
    /// `->`: a span matching it is a descendant (child, grandchild, ...) of a span matching the
    /// previous condition.
    Descendant,
    /// `then`: a span matching it starts no earlier than a span matching the previous condition.
    Then,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Also => "&&",
            Link::Descendant => "->",
            Link::Then => "then",
        }
    }
}

/// Span conditions and how each relates to the one before: `links[i]` joins `steps[i]` and
/// `steps[i + 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TracePattern {
    pub steps: Vec<Expr>,
    pub links: Vec<Link>,
}

impl TracePattern {
    /// Whether a trace's spans must be related (`->`, `then`), not only present (`&&`).
    pub fn is_structural(&self) -> bool {
        self.links.iter().any(|l| *l != Link::Also)
    }
}

impl fmt::Display for TracePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                write!(f, " {} ", self.links[i - 1].as_str())?;
            }
            write!(f, "{step}")?;
        }
        Ok(())
    }
}

fn err(column: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        column,
        message: message.into(),
    }
}

/// A link found in the text: what it is, where it starts (char index) and how many chars it takes.
struct Found {
    link: Link,
    at: usize,
    len: usize,
}

/// The links of `chars` outside quotes and parentheses. `->` and `&&` inside parentheses are an
/// error (they join whole conditions); `then` there is just a word.
fn find_links(chars: &[char]) -> Result<Vec<Found>, ParseError> {
    let mut out = Vec::new();
    let (mut quote, mut depth) = (None::<char>, 0usize);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            // The lexer's escapes: a backslash before the quote or another backslash.
            if c == '\\' && matches!(chars.get(i + 1), Some(&n) if n == q || n == '\\') {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        let symbol = match (c, chars.get(i + 1)) {
            ('-', Some(&'>')) => Some(Link::Descendant),
            ('&', Some(&'&')) => Some(Link::Also),
            _ => None,
        };
        match (c, symbol) {
            ('"' | '\'', _) => quote = Some(c),
            ('(', _) => depth += 1,
            (')', _) => depth = depth.saturating_sub(1),
            (_, Some(link)) if depth > 0 => {
                return Err(err(
                    i + 1,
                    format!(
                        "'{}' joins whole conditions on spans of a trace; it cannot be inside parentheses",
                        link.as_str()
                    ),
                ));
            }
            (_, Some(link)) => {
                out.push(Found { link, at: i, len: 2 });
                i += 2;
                continue;
            }
            _ if depth == 0 && is_then(chars, i) => {
                out.push(Found {
                    link: Link::Then,
                    at: i,
                    len: 4,
                });
                i += 4;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(out)
}

/// `then` as a word of its own at `i`, not a value (`x = then`).
fn is_then(chars: &[char], i: usize) -> bool {
    let word: String = chars[i..].iter().take(4).collect();
    if !word.eq_ignore_ascii_case("then") {
        return false;
    }
    let before_ok = i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == ')';
    let after_ok = chars.get(i + 4).is_none_or(|c| c.is_whitespace() || *c == '(');
    let after_operator = chars[..i]
        .iter()
        .rev()
        .copied()
        .find(|c| !c.is_whitespace())
        .is_some_and(|c| matches!(c, '=' | '!' | '<' | '>' | '~'));
    before_ok && after_ok && !after_operator
}

/// Whether `input` relates spans of a trace (has `->`, `&&` or `then` between conditions): what a
/// span or log search, which takes one filter, explains rather than failing on the symbol.
pub fn has_links(input: &str) -> bool {
    let chars: Vec<char> = input.chars().collect();
    chars.len() <= MAX_INPUT_CHARS && find_links(&chars).is_ok_and(|links| !links.is_empty())
}

/// Parse a trace search; an empty or all-whitespace input is Ok(None) (every trace). Error
/// columns count from the start of the whole input.
pub fn parse(input: &str) -> Result<Option<TracePattern>, ParseError> {
    if input.chars().nth(MAX_INPUT_CHARS).is_some() {
        return Err(err(
            MAX_INPUT_CHARS + 1,
            format!("filter too long; expected at most {MAX_INPUT_CHARS} characters"),
        ));
    }
    let chars: Vec<char> = input.chars().collect();
    let links = find_links(&chars)?;
    if links.is_empty() {
        return Ok(filter::parse(input)?.map(|e| TracePattern {
            steps: vec![e],
            links: Vec::new(),
        }));
    }
    // Steps are one more than links.
    if links.len() >= MAX_STEPS {
        let extra = &links[MAX_STEPS - 1];
        return Err(err(
            extra.at + 1,
            format!("too many conditions; a trace search relates at most {MAX_STEPS}"),
        ));
    }
    let mut steps = Vec::with_capacity(links.len() + 1);
    let mut start = 0;
    for (i, end) in links.iter().map(|l| l.at).chain([chars.len()]).enumerate() {
        let text: String = chars[start..end].iter().collect();
        let step = filter::parse(&text).map_err(|e| err(start + e.column, e.message))?;
        let Some(step) = step else {
            let message = match (i.checked_sub(1).map(|p| &links[p]), links.get(i)) {
                (Some(before), _) => format!("expected a span condition after '{}'", before.link.as_str()),
                (None, Some(after)) => format!("expected a span condition before '{}'", after.link.as_str()),
                (None, None) => unreachable!("there is a link"),
            };
            // Point at the end of the gap (the next link, or the end of the input).
            return Err(err(end + 1, message));
        };
        steps.push(step);
        if let Some(link) = links.get(i) {
            start = link.at + link.len;
        }
    }
    Ok(Some(TracePattern {
        steps,
        links: links.iter().map(|l| l.link).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> TracePattern {
        match parse(s) {
            Ok(Some(t)) => t,
            other => panic!("{s:?} -> {other:?}"),
        }
    }

    fn perr(s: &str) -> String {
        match parse(s) {
            Err(e) => e.to_string(),
            Ok(v) => panic!("{s:?} parsed to {v:?}"),
        }
    }

    #[test]
    fn one_filter_is_one_step() {
        let t = p("service = a and status = error");
        assert_eq!(t.steps.len(), 1);
        assert!(t.links.is_empty() && !t.is_structural());
        assert_eq!(parse("  "), Ok(None));
        // Inside quotes, and as values, the link words are text.
        assert_eq!(p(r#"name = "a -> b && c then d""#).steps.len(), 1);
        assert_eq!(p("x = then").steps.len(), 1);
        assert_eq!(p("(x = then)").steps.len(), 1);
        assert_eq!(p(r#"name = "it\"s -> x""#).steps.len(), 1);
    }

    #[test]
    fn links_split_whole_conditions() {
        let t = p(r#"service = frontend -> service = payment and status = error"#);
        assert_eq!(t.links, [Link::Descendant]);
        assert_eq!(t.steps[1].to_string(), "service = payment and status = error");
        assert!(t.is_structural());
        let t = p("name = a then name = b THEN name = c");
        assert_eq!(t.links, [Link::Then, Link::Then]);
        let t = p("name = a&&name = b -> (kind = client or kind = server)");
        assert_eq!(t.links, [Link::Also, Link::Descendant]);
        assert_eq!(t.steps[2].to_string(), "kind = client or kind = server");
        assert!(!p("a = 1 && b = 2").is_structural());
        // The canonical form reads back.
        for text in [
            "name = agent -> name =~ \"^tool\\.\" && llm.model = gpt-4o",
            "a = 1 then b = 2 -> c = 3",
            "x = then -> y = \"->\"",
        ] {
            let t = p(text);
            assert_eq!(parse(&t.to_string()), Ok(Some(t.clone())), "{text}");
        }
    }

    #[test]
    fn errors_point_into_the_whole_text() {
        assert_eq!(perr("a = 1 -> b >"), "column 13: expected a value after '>', found end of input");
        assert_eq!(perr("a = 1 ->   "), "column 12: expected a span condition after '->'");
        assert_eq!(perr("-> a = 1"), "column 1: expected a span condition before '->'");
        assert_eq!(perr("a = 1 && && b = 2"), "column 10: expected a span condition after '&&'");
        assert_eq!(
            perr("(a = 1 -> b = 2)"),
            "column 8: '->' joins whole conditions on spans of a trace; it cannot be inside parentheses"
        );
        let many = ["a = 1"; MAX_STEPS + 1].join(" -> ");
        assert!(perr(&many).contains("at most 8"), "{}", perr(&many));
        assert!(has_links("a = 1 -> b = 2") && has_links("a = 1 then b = 2"));
        assert!(!has_links("a = 1 and b = 2") && !has_links("(a -> b)"));
    }
}
