//! Attribute tables: key, value (always as text, never as HTML) and a copy button per row; with
//! `on_pick`, a scalar value is a button that adds `key = value` to the page's search (and `≠` one
//! that excludes it). A set with more than `SHOWN_AT_FIRST` attributes shows that many and a button
//! for the rest: a span with 100,000 attributes took 39 s to open when every row was drawn at once.

use super::CopyButton;
use crate::format;
use leptos::prelude::*;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Rows drawn before "show all" is pressed.
pub const SHOWN_AT_FIRST: usize = 200;

#[component]
pub fn AttrTable(
    attrs: Map<String, Value>,
    #[prop(optional, into)] empty: Option<String>,
    /// `(key, value, exclude)` when a value is picked as a search condition.
    #[prop(optional)]
    on_pick: Option<Callback<(String, Value, bool)>>,
) -> impl IntoView {
    if attrs.is_empty() {
        let note = empty.unwrap_or_else(|| "none".into());
        return view! { <p class="muted small">{note}</p> }.into_any();
    }
    let total = attrs.len();
    let attrs: Arc<Vec<(String, Value)>> = Arc::new(attrs.into_iter().collect());
    let show_all = RwSignal::new(false);
    let rows = {
        let attrs = attrs.clone();
        move || {
            let shown = if show_all.get() { total } else { SHOWN_AT_FIRST };
            attrs
                .iter()
                .take(shown)
                .map(|(key, value)| row(key.clone(), value, on_pick))
                .collect_view()
        }
    };
    let more = move || {
        (total > SHOWN_AT_FIRST && !show_all.get()).then(|| {
            let label = format!(
                "show all {} attributes ({} more)",
                format::count(total as i64),
                format::count((total - SHOWN_AT_FIRST) as i64)
            );
            view! { <button class="ghost show-all" on:click=move |_| show_all.set(true)>{label}</button> }
        })
    };
    view! {
        <table class="attrs"><tbody>{rows}</tbody></table>
        {more}
    }
    .into_any()
}

fn row(key: String, value: &Value, on_pick: Option<Callback<(String, Value, bool)>>) -> impl IntoView {
    let text = format::value(value);
    let typed = match value {
        Value::String(_) => "str",
        Value::Number(n) if n.is_f64() => "double",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
        Value::Null => "empty",
    };
    // JSON (a map, a list, or a string holding one) is shown indented, so it can be read.
    let pretty = json_shown(value);
    view! {
        <tr>
            <td class="attr-key">{key.clone()}</td>
            <td class="attr-value">
                <span class="attr-type">{typed}</span>
                {match (pretty, on_pick) {
                    (Some(indented), _) => view! { <pre class="attr-json">{indented}</pre> }.into_any(),
                    (None, Some(pick)) if !value.is_null() => view! { <PickValue key=key.clone() value=value.clone() text=text.clone() pick=pick/> }.into_any(),
                    (None, _) => view! { <span>{text.clone()}</span> }.into_any(),
                }}
            </td>
            <td class="attr-copy"><CopyButton text=text/></td>
        </tr>
    }
}

/// A value that adds `key = value` to the search when clicked, with a `≠` button beside it that
/// adds `key != value`.
#[component]
pub fn PickValue(key: String, value: Value, text: String, pick: Callback<(String, Value, bool)>) -> impl IntoView {
    let (k2, v2) = (key.clone(), value.clone());
    view! {
        <button class="attr-pick" title=format!("search for {key} = this value") on:click=move |ev| {
            ev.stop_propagation();
            pick.run((key.clone(), value.clone(), false));
        }>{text}</button>
        <button class="attr-exclude" title="leave records with this value out" on:click=move |ev| {
            ev.stop_propagation();
            pick.run((k2.clone(), v2.clone(), true));
        }>"≠"</button>
    }
}

/// The value as indented JSON when it is a map or a list, or a string that parses as one (LLM
/// messages, tool arguments); None for everything else, shown as it is.
fn json_shown(value: &Value) -> Option<String> {
    let parsed;
    let json = match value {
        Value::Object(_) | Value::Array(_) => value,
        Value::String(text) => {
            let trimmed = text.trim_start();
            if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
                return None;
            }
            parsed = serde_json::from_str::<Value>(text).ok()?;
            if !(parsed.is_object() || parsed.is_array()) {
                return None;
            }
            &parsed
        }
        _ => return None,
    };
    serde_json::to_string_pretty(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_indented_and_other_values_are_not() {
        assert_eq!(
            json_shown(&Value::String(r#"{"n":[1,2],"role":"user"}"#.into())).unwrap(),
            "{\n  \"n\": [\n    1,\n    2\n  ],\n  \"role\": \"user\"\n}"
        );
        assert!(json_shown(&Value::String("{not json".into())).is_none());
        assert!(json_shown(&Value::String("plain text".into())).is_none());
        assert!(json_shown(&Value::String("42".into())).is_none());
        assert!(json_shown(&serde_json::json!({"a": 1})).is_some());
    }
}
