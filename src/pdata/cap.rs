//! Cutting long values for answers that must stay small: an API answer holds each value at most
//! `cap` bytes long, so a handful of spans with 15 MiB attributes cannot take gigabytes to answer.
//! Exports never cut (they page instead).

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};

/// Cut every string or bytes value inside `value` (arrays and maps included) longer than `cap`
/// bytes: a string keeps its first `cap` bytes (at a character boundary) followed by
/// `marker(total_len)`; a bytes value becomes that marker as a string. Returns whether anything was cut.
pub fn cap_value(value: &mut AnyValue, cap: usize, marker: &dyn Fn(usize) -> String) -> bool {
    match &mut value.value {
        Some(any_value::Value::StringValue(text)) if text.len() > cap => {
            let total = text.len();
            let mut end = cap;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            // A new string, not `truncate`: that would keep the whole value's allocation alive.
            let mut cut = String::with_capacity(end + 160);
            cut.push_str(&text[..end]);
            cut.push_str(&marker(total));
            *text = cut;
            true
        }
        Some(any_value::Value::BytesValue(bytes)) if bytes.len() > cap => {
            let total = bytes.len();
            value.value = Some(any_value::Value::StringValue(marker(total)));
            true
        }
        Some(any_value::Value::ArrayValue(array)) => {
            let mut cut = false;
            for item in &mut array.values {
                cut |= cap_value(item, cap, marker);
            }
            cut
        }
        Some(any_value::Value::KvlistValue(list)) => cap_attributes(&mut list.values, cap, marker),
        _ => false,
    }
}

/// `cap_value` on each attribute's value.
pub fn cap_attributes(attributes: &mut [KeyValue], cap: usize, marker: &dyn Fn(usize) -> String) -> bool {
    let mut cut = false;
    for kv in attributes {
        if let Some(value) = &mut kv.value {
            cut |= cap_value(value, cap, marker);
        }
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn string(text: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(text.into())),
        }
    }

    #[test]
    fn long_strings_and_bytes_are_cut_with_a_marker_at_any_depth_and_short_ones_kept() {
        let marker = |total: usize| format!("…[{total}]");
        let mut value = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![
                    KeyValue {
                        key: "short".into(),
                        value: Some(string("abc")),
                        ..Default::default()
                    },
                    KeyValue {
                        key: "nested".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::ArrayValue(ArrayValue {
                                values: vec![
                                    string("ééééé"),
                                    AnyValue {
                                        value: Some(any_value::Value::BytesValue(vec![7; 10])),
                                    },
                                ],
                            })),
                        }),
                        ..Default::default()
                    },
                ],
            })),
        };
        assert!(cap_value(&mut value, 5, &marker));
        let Some(any_value::Value::KvlistValue(list)) = &value.value else {
            panic!()
        };
        assert_eq!(list.values[0].value, Some(string("abc")));
        let Some(any_value::Value::ArrayValue(array)) = &list.values[1].value.as_ref().unwrap().value else {
            panic!()
        };
        // 5 bytes is two and a half 'é': cut at the character boundary.
        assert_eq!(array.values[0], string("éé…[10]"));
        assert_eq!(array.values[1], string("…[10]"));
        let mut short = string("abc");
        assert!(!cap_value(&mut short, 5, &marker));
    }
}
