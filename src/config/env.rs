//! Environment substitution in config values, the Collector's way: `${env:NAME}`, `${NAME}` and
//! `${env:NAME:-default}` are replaced, `$$` is a literal `$`, and a bare `$NAME` is left alone.
//! It works on the parsed YAML's string values, never on the text: a variable holding ` #`, a
//! newline or `key: value` stays inside its value instead of cutting it or adding keys, and an
//! unset variable leaves valid YAML behind. A value that is one reference and nothing else takes
//! the type its text has in YAML (`${env:PORT}` can be a number), as in the Collector.

use serde_yaml_ng::Value;

/// Expands every string value under `value` (mapping keys are left as written); an unterminated
/// `${` is an error with the value's path.
pub fn expand(value: &mut Value, path: &str, lookup: &dyn Fn(&str) -> Option<String>, errors: &mut Vec<String>) {
    match value {
        Value::String(text) if text.contains('$') => match substitute(text, lookup) {
            Ok(expanded) => {
                let whole_reference = text.starts_with("${") && text.ends_with('}') && text.matches("${").count() == 1;
                *value = match serde_yaml_ng::from_str::<Value>(&expanded) {
                    Ok(typed @ (Value::Bool(_) | Value::Number(_))) if whole_reference => typed,
                    _ => Value::String(expanded),
                };
            }
            Err(message) => errors.push(format!("{path}: {message}")),
        },
        Value::Mapping(mapping) => {
            for (key, item) in mapping.iter_mut() {
                let key = key.as_str().map_or_else(|| format!("{key:?}"), str::to_string);
                let child = if path.is_empty() { key } else { format!("{path}.{key}") };
                expand(item, &child, lookup, errors);
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                expand(item, &format!("{path}[{index}]"), lookup, errors);
            }
        }
        Value::Tagged(tagged) => expand(&mut tagged.value, path, lookup, errors),
        _ => {}
    }
}

/// Replaces every reference in one value's `text` using `lookup`; an unset variable without a
/// default becomes empty, as in the Collector. An unterminated `${` is an error.
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
                return Err("unterminated '${' (write $$ for a literal $)".to_string());
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

/// The values under `value` that reference variables `lookup` does not set (and that have no
/// default), as (path, names): errors at those paths are explained by them (an empty endpoint is
/// more often an unset variable than a typo).
pub fn unset_references(value: &Value, path: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    collect_unset(value, path, lookup, &mut found);
    found
}

fn collect_unset(value: &Value, path: &str, lookup: &dyn Fn(&str) -> Option<String>, found: &mut Vec<(String, Vec<String>)>) {
    match value {
        Value::String(text) if text.contains("${") => {
            let names: Vec<String> = references(text)
                .into_iter()
                .filter(|(name, has_default)| !has_default && lookup(name).is_none_or(|v| v.is_empty()))
                .map(|(name, _)| name)
                .collect();
            if !names.is_empty() {
                found.push((path.to_string(), names));
            }
        }
        Value::Mapping(mapping) => {
            for (key, item) in mapping {
                let key = key.as_str().map_or_else(|| format!("{key:?}"), str::to_string);
                let child = if path.is_empty() { key } else { format!("{path}.{key}") };
                collect_unset(item, &child, lookup, found);
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                collect_unset(item, &format!("{path}[{index}]"), lookup, found);
            }
        }
        Value::Tagged(tagged) => collect_unset(&tagged.value, path, lookup, found),
        _ => {}
    }
}

/// The variables a value references, with whether each has a `:-` default (`$$` is no reference).
fn references(text: &str) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$$") {
            rest = after;
        } else if let Some(body) = tail.strip_prefix("${") {
            let Some(end) = body.find('}') else { break };
            let reference = &body[..end];
            let name_and_default = reference.strip_prefix("env:").unwrap_or(reference);
            let (name, has_default) = match name_and_default.split_once(":-") {
                Some((name, _)) => (name, true),
                None => (name_and_default, false),
            };
            found.push((name.trim().to_string(), has_default));
            rest = &body[end + 1..];
        } else {
            rest = &tail[1..];
        }
    }
    found
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
    fn unset_references_are_found_with_their_paths() {
        let value: Value = serde_yaml_ng::from_str(
            "receivers:\n  otlp:\n    endpoint: ${env:OTEL_HOST}:${env:PORT:-4317}\n    other: ${HOST} $${NOT}\n    list: [a, '${MISSING}', '${EMPTY}']",
        )
        .unwrap();
        assert_eq!(
            unset_references(&value, "", &env),
            [
                ("receivers.otlp.endpoint".to_string(), vec!["OTEL_HOST".to_string()]),
                ("receivers.otlp.list[1]".to_string(), vec!["MISSING".to_string()]),
                ("receivers.otlp.list[2]".to_string(), vec!["EMPTY".to_string()]),
            ]
        );
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
        assert!(substitute("${env:HOST", env).unwrap_err().starts_with("unterminated"));
    }

    fn expanded(yaml: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Value, Vec<String>> {
        let mut value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        expand(&mut value, "", lookup, &mut errors);
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(errors)
        }
    }

    /// Values that would have broken or rewritten the YAML when substituted into the text stay
    /// inside their value: unset variables, ` #`, newlines with `key: value`.
    #[test]
    fn variables_are_expanded_inside_values_and_cannot_add_keys() {
        let hostile = |name: &str| match name {
            "ACTION" => Some("insert\nkey: x\naction: delete".to_string()),
            "NOTE" => Some("a # not a comment".to_string()),
            "PORT" => Some("4317".to_string()),
            _ => None,
        };
        let value = expanded(
            "endpoint: ${env:HOST}:${env:PORT}\nport: ${env:PORT}\nname: port-${env:PORT}\nactions:\n  - key: k\n    action: ${env:ACTION}\nnote: ${NOTE}\n${env:KEY}: kept\ncost: $$5",
            &hostile,
        )
        .unwrap();
        assert_eq!(value["endpoint"], Value::String(":4317".into()), "unset variables leave valid YAML");
        assert_eq!(value["port"], Value::Number(4317.into()), "a whole reference takes its YAML type");
        assert_eq!(value["name"], Value::String("port-4317".into()));
        let action = &value["actions"][0];
        assert_eq!(action["action"], Value::String("insert\nkey: x\naction: delete".into()));
        assert_eq!(action.as_mapping().unwrap().len(), 2, "no key was added");
        assert_eq!(value["note"], Value::String("a # not a comment".into()));
        assert_eq!(value["${env:KEY}"], Value::String("kept".into()), "keys are not expanded");
        assert_eq!(value["cost"], Value::String("$5".into()));
        let errors = expanded("a:\n  b: [x, \"${env:HOST\"]", &hostile).unwrap_err();
        assert_eq!(errors, ["a.b[1]: unterminated '${' (write $$ for a literal $)"]);
    }
}
