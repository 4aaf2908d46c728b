//! The context of statements and conditions written without one, inferred like the Collector
//! does from the context names their paths start with (`span.attributes`, `resource.attributes`).

use super::lexer::{lex, Tok};
use super::paths::{readable_prefixes, Context};

/// The Collector's order of preference: the most specific context a path names wins.
const PRIORITY: [Context; 7] = [
    Context::Log,
    Context::DataPoint,
    Context::Metric,
    Context::SpanEvent,
    Context::Span,
    Context::Scope,
    Context::Resource,
];

/// Whether `context` reads the paths of the context `named` (its own, or those of what its item
/// belongs to: every item reads its scope and resource, the scope its resource).
fn reads(context: Context, named: Context) -> bool {
    named == context || readable_prefixes(context).contains(&named.as_str())
}

/// The contexts to try, in order, for `texts` (statements and conditions) written without a
/// `context`: the first in which they all parse is theirs. `allowed` are the contexts of their
/// section, `defaults` the ones tried when no path names a context (the signal's item contexts).
///
/// As in the Collector, the most specific context a path names comes first (log, datapoint,
/// metric, spanevent, span, scope, resource), so `set(scope.attributes["a"], "b")` edits scopes;
/// then the other allowed contexts that can read every named path, most specific first:
/// `convert_sum_to_gauge() where resource.attributes["a"] == "b"` cannot run on a resource, so it
/// runs on metrics. Paths without a prefix, which the Collector
/// refuses in such statements, keep otelbox's reading of them as the item's own: when there are
/// any, the defaults that can read every named path are tried first.
pub fn infer_contexts(texts: &[&str], allowed: &[Context], defaults: &[Context]) -> Vec<Context> {
    let (hints, unprefixed) = path_hints(texts);
    if hints.is_empty() {
        return defaults.to_vec();
    }
    let reads_all = |context: Context| hints.iter().all(|named| reads(context, *named));
    if unprefixed {
        let fitting: Vec<Context> = defaults.iter().copied().filter(|c| reads_all(*c)).collect();
        if !fitting.is_empty() {
            return fitting;
        }
    }
    let Some(first) = PRIORITY
        .into_iter()
        .find(|c| hints.contains(c) && allowed.contains(c) && reads_all(*c))
    else {
        // Paths of a context the section does not have: the parser says what does not fit.
        return defaults.to_vec();
    };
    let mut candidates = vec![first];
    candidates.extend(PRIORITY.into_iter().filter(|c| *c != first && allowed.contains(c) && reads_all(*c)));
    candidates
}

/// The contexts the paths of `texts` name by their first segment (`scope` and
/// `instrumentation_scope` both name the scope context), and whether any path names none.
fn path_hints(texts: &[&str]) -> (Vec<Context>, bool) {
    let mut hints = Vec::new();
    let mut unprefixed = false;
    for text in texts {
        let chars: Vec<char> = text.chars().collect();
        // A text that does not lex parses in no context; the parser reports why.
        let Ok(tokens) = lex(&chars) else {
            continue;
        };
        for (i, token) in tokens.iter().enumerate() {
            let Tok::Ident(name) = &token.tok else {
                continue;
            };
            let previous = i.checked_sub(1).and_then(|p| tokens.get(p)).map(|t| &t.tok);
            let next = tokens.get(i + 1).map(|t| &t.tok);
            let starts_path = !matches!(previous, Some(Tok::Dot)) && !matches!(next, Some(Tok::LParen)) && !is_word(name);
            if !starts_path {
                continue;
            }
            let prefixed = matches!(next, Some(Tok::Dot));
            match name.as_str() {
                "instrumentation_scope" if prefixed => hints.push(Context::Scope),
                first if prefixed => match PRIORITY.into_iter().find(|c| c.as_str() == first) {
                    Some(context) => hints.push(context),
                    None => unprefixed = true,
                },
                _ => unprefixed = true,
            }
        }
    }
    (hints, unprefixed)
}

/// Names that are not paths: keywords, literals, enums, and converters passed by name
/// (`SHA256`), which are capitals like enums.
fn is_word(name: &str) -> bool {
    matches!(name, "and" | "or" | "not" | "where" | "true" | "false" | "nil") || name.starts_with(|c: char| c.is_ascii_uppercase())
}
