//! The words of a `~` search, as every text match of the filter language reads them: words
//! separated by spaces must all be there, in any order; `"a quoted phrase"` must be there as it
//! is; a word or phrase ending in `*` is a prefix (`time*` finds `timeout`). Case never matters.
//!
//! How each field applies them is the store's business (`store::sql`): log bodies through the
//! FTS5 index (whole words, punctuation separates them), every other field by substring.

/// One word or quoted phrase of a search text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The word or the phrase, without its quotes and its `*`.
    pub text: String,
    /// It was quoted: its words must appear together, in this order.
    pub phrase: bool,
    /// It ended in `*`: its last word may continue (`time*` finds `timeout`).
    pub prefix: bool,
}

/// The terms of `input`. A `"` opens a phrase up to the next `"` (or the end); anything else up to
/// a space or a `"` is a word. Empty terms (`""`, a lone `*`) are left out.
pub fn terms(input: &str) -> Vec<Term> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (text, phrase) = if c == '"' {
            let start = i + 1;
            let end = chars[start..].iter().position(|&c| c == '"').map_or(chars.len(), |n| start + n);
            i = (end + 1).min(chars.len());
            (chars[start..end].iter().collect::<String>(), true)
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' {
                i += 1;
            }
            (chars[start..i].iter().collect::<String>(), false)
        };
        // `*`s right after a phrase's closing quote, or ending a word.
        let mut prefix = false;
        let text = if phrase {
            while chars.get(i) == Some(&'*') {
                prefix = true;
                i += 1;
            }
            text
        } else {
            let core = text.trim_end_matches('*');
            prefix = core.len() < text.len();
            core.to_string()
        };
        if !text.trim().is_empty() {
            out.push(Term { text, phrase, prefix });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str) -> Term {
        Term {
            text: text.into(),
            phrase: false,
            prefix: false,
        }
    }

    #[test]
    fn words_phrases_and_prefixes() {
        assert_eq!(terms("upstream timeout"), [word("upstream"), word("timeout")]);
        assert_eq!(terms("  Timeout\tupstream "), [word("Timeout"), word("upstream")]);
        assert_eq!(
            terms(r#""upstream timeout" retry*"#),
            [
                Term {
                    text: "upstream timeout".into(),
                    phrase: true,
                    prefix: false
                },
                Term {
                    text: "retry".into(),
                    phrase: false,
                    prefix: true
                }
            ]
        );
        assert_eq!(
            terms(r#""connection ref"* x"#),
            [
                Term {
                    text: "connection ref".into(),
                    phrase: true,
                    prefix: true
                },
                word("x")
            ]
        );
        // An unclosed quote runs to the end; a word stops at a quote.
        assert_eq!(
            terms(r#"a"b c"#),
            [
                word("a"),
                Term {
                    text: "b c".into(),
                    phrase: true,
                    prefix: false
                }
            ]
        );
        // Punctuation stays in the word (the store decides what it means); `*` inside a word too.
        assert_eq!(terms("user_id=42 a*b"), [word("user_id=42"), word("a*b")]);
        assert!(terms(r#""" * ** "  ""#).is_empty());
        assert!(terms("").is_empty());
    }
}
