//! Environment substitution in config text, the Collector's way: `${env:NAME}`, `${NAME}` and
//! `${env:NAME:-default}` are replaced, `$$` is a literal `$`, and a bare `$NAME` is left alone.

/// Replaces every reference in `text` using `lookup`; an unset variable without a default becomes
/// empty, as in the Collector. An unterminated `${` is an error with its line.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(body) = tail.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                let line = text[..text.len() - tail.len()].matches('\n').count() + 1;
                return Err(format!("line {line}: unterminated '${{' (write $$ for a literal $)"));
            };
            let reference = &body[..end];
            let name_and_default = reference.strip_prefix("env:").unwrap_or(reference);
            let (name, default) = match name_and_default.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (name_and_default, None),
            };
            let value = lookup(name.trim()).filter(|v| !v.is_empty()).or(default.map(str::to_string));
            out.push_str(&value.unwrap_or_default());
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("collector.local".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn every_form_of_reference() {
        assert_eq!(substitute("a: ${env:HOST}:4317", env).unwrap(), "a: collector.local:4317");
        assert_eq!(substitute("a: ${HOST}", env).unwrap(), "a: collector.local");
        assert_eq!(substitute("a: ${env:MISSING:-fallback}", env).unwrap(), "a: fallback");
        assert_eq!(substitute("a: ${env:EMPTY:-fallback}", env).unwrap(), "a: fallback");
        assert_eq!(substitute("a: ${env:HOST:-fallback}", env).unwrap(), "a: collector.local");
        assert_eq!(substitute("a: ${MISSING}", env).unwrap(), "a: ");
        assert_eq!(substitute("cost: $$5 and $HOST", env).unwrap(), "cost: $5 and $HOST");
        assert!(substitute("a: 1\nb: ${env:HOST", env).unwrap_err().starts_with("line 2:"));
        assert!(substitute("a: 1\n${env:HOST", env).unwrap_err().starts_with("line 2:"));
    }
}
