//! Find in trace: which spans a typed text matches (case-insensitive, in the name, service, span id,
//! attribute keys and values), in the waterfall's order. Pure data.

use crate::tree::Tree;
use crate::wire::Span;
use serde_json::Value;

/// The rows (indexes into `tree.rows`, in display order) whose span matches `text`; none for blank text.
pub fn find(spans: &[Span], tree: &Tree, text: &str) -> Vec<usize> {
    let needle = text.trim().to_lowercase();
    if needle.is_empty() {
        return Vec::new();
    }
    tree.rows
        .iter()
        .enumerate()
        .filter(|(_, row)| matches(&spans[row.span], &needle))
        .map(|(i, _)| i)
        .collect()
}

/// Whether the span contains `needle` (already lowercase).
pub fn matches(span: &Span, needle: &str) -> bool {
    let has = |text: &str| text.to_lowercase().contains(needle);
    has(&span.name)
        || has(&span.service)
        || span.span_id.contains(needle)
        || span.attributes.iter().any(|(key, value)| has(key) || value_has(value, needle))
}

fn value_has(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s.to_lowercase().contains(needle),
        Value::Array(items) => items.iter().any(|v| value_has(v, needle)),
        Value::Object(fields) => fields
            .iter()
            .any(|(k, v)| k.to_lowercase().contains(needle) || value_has(v, needle)),
        other => other.to_string().contains(needle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{build, testing::named};
    use serde_json::json;

    #[test]
    fn finds_names_services_ids_and_attributes_in_display_order() {
        let mut spans = vec![
            named("checkout", "POST /pay", "00aa", "", 0, 100),
            named("billing", "charge card", "00bb", "00aa", 10, 20),
            named("db", "select", "00cc", "00aa", 30, 40),
        ];
        spans[2].attributes.insert("db.statement".into(), json!("SELECT * FROM Cards"));
        spans[2].attributes.insert("rows".into(), json!(42));
        let tree = build(&spans);
        assert_eq!(find(&spans, &tree, "CARD"), vec![1, 2], "name and attribute value, any case");
        assert_eq!(find(&spans, &tree, "billing"), vec![1]);
        assert_eq!(find(&spans, &tree, "00cc"), vec![2]);
        assert_eq!(find(&spans, &tree, "db.stat"), vec![2], "attribute key");
        assert_eq!(find(&spans, &tree, "42"), vec![2], "a number's text");
        assert_eq!(find(&spans, &tree, "  "), Vec::<usize>::new());
    }
}
