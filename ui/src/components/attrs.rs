//! Attribute tables: key, value (always as text, never as HTML) and a copy button per row.

use super::CopyButton;
use crate::format;
use leptos::prelude::*;
use serde_json::{Map, Value};

#[component]
pub fn AttrTable(attrs: Map<String, Value>, #[prop(optional, into)] empty: Option<String>) -> impl IntoView {
    if attrs.is_empty() {
        let note = empty.unwrap_or_else(|| "none".into());
        return view! { <p class="muted small">{note}</p> }.into_any();
    }
    let rows = attrs
        .into_iter()
        .map(|(key, value)| {
            let text = format::value(&value);
            let typed = match value {
                Value::String(_) => "str",
                Value::Number(ref n) if n.is_f64() => "double",
                Value::Number(_) => "int",
                Value::Bool(_) => "bool",
                Value::Array(_) => "array",
                Value::Object(_) => "map",
                Value::Null => "empty",
            };
            view! {
                <tr>
                    <td class="attr-key">{key}</td>
                    <td class="attr-value"><span class="attr-type">{typed}</span>{text.clone()}</td>
                    <td class="attr-copy"><CopyButton text=text/></td>
                </tr>
            }
        })
        .collect_view();
    view! { <table class="attrs"><tbody>{rows}</tbody></table> }.into_any()
}
