//! The parsed form of an OTLP/JSON body that the decoders walk: strings and keys borrowed from the
//! body wherever they need no unescaping, objects as lists of members.
//!
//! `serde_json::Value` owns every key and string and keeps objects in B-tree maps: decoding a
//! 1,000-span body spent about 30% of its time allocating and freeing them (perf, scripts/bench
//! ingest over http/json). Members are few per object, so a list searched from the end (the last of
//! duplicate keys wins, as with serde_json) is as fast to look up. serde_json still does the parsing,
//! with its syntax errors and recursion limit.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A JSON value of the body.
#[derive(Debug, PartialEq)]
pub enum J<'a> {
    Null,
    Bool(bool),
    Number(Num),
    String(Cow<'a, str>),
    Array(Vec<J<'a>>),
    Object(Obj<'a>),
}

/// An object's members in body order.
#[derive(Debug, Default, PartialEq)]
pub struct Obj<'a>(Vec<(Cow<'a, str>, J<'a>)>);

impl<'a> Obj<'a> {
    /// The value of `key`; of the last member named so when there are several.
    pub fn get(&self, key: &str) -> Option<&J<'a>> {
        self.0.iter().rev().find(|(k, _)| k.as_ref() == key).map(|(_, v)| v)
    }
}

/// A JSON number as serde_json reads it: non-negative integers, negative ones, the rest as doubles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    PosInt(u64),
    NegInt(i64),
    Float(f64),
}

impl Num {
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Num::PosInt(u) => i64::try_from(u).ok(),
            Num::NegInt(i) => Some(i),
            Num::Float(_) => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Num::PosInt(u) => Some(u),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        Some(match *self {
            Num::PosInt(u) => u as f64,
            Num::NegInt(i) => i as f64,
            Num::Float(f) => f,
        })
    }
}

/// Written as serde_json writes numbers, so error messages read the same.
impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Num::PosInt(u) => write!(f, "{u}"),
            Num::NegInt(i) => write!(f, "{i}"),
            Num::Float(x) => match serde_json::Number::from_f64(x) {
                Some(n) => write!(f, "{n}"),
                None => write!(f, "{x}"),
            },
        }
    }
}

impl<'a> J<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            J::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            J::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&Vec<J<'a>>> {
        match self {
            J::Array(items) => Some(items),
            _ => None,
        }
    }
    pub fn as_object(&self) -> Option<&Obj<'a>> {
        match self {
            J::Object(o) => Some(o),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for J<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = J<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<J<'de>, E> {
        Ok(J::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<J<'de>, E> {
        Ok(J::Number(if i < 0 { Num::NegInt(i) } else { Num::PosInt(i as u64) }))
    }
    fn visit_u64<E>(self, u: u64) -> Result<J<'de>, E> {
        Ok(J::Number(Num::PosInt(u)))
    }
    fn visit_f64<E>(self, f: f64) -> Result<J<'de>, E> {
        Ok(J::Number(Num::Float(f)))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<J<'de>, E> {
        Ok(J::String(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<J<'de>, E> {
        Ok(J::String(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<J<'de>, E> {
        Ok(J::String(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<J<'de>, E> {
        Ok(J::Null)
    }
    fn visit_none<E>(self) -> Result<J<'de>, E> {
        Ok(J::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<J<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(J::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<J<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(J::Object(Obj(members)))
    }
}

/// An object key, borrowed from the body when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_keys_without_escapes_are_borrowed_and_escaped_ones_decoded() {
        let body = br#"{"plain": "text", "esc\u0061ped": "a\nb", "n": [1, -2, 2.5, 18446744073709551615], "t": true, "z": null}"#;
        let value: J = serde_json::from_slice(body).unwrap();
        let o = value.as_object().unwrap();
        assert!(matches!(o.get("plain"), Some(J::String(Cow::Borrowed("text")))));
        assert_eq!(o.get("escaped").and_then(J::as_str), Some("a\nb"));
        let numbers = o.get("n").and_then(J::as_array).unwrap();
        assert_eq!(
            numbers
                .iter()
                .map(|n| match n {
                    J::Number(n) => n.to_string(),
                    _ => unreachable!(),
                })
                .collect::<Vec<_>>(),
            ["1", "-2", "2.5", "18446744073709551615"]
        );
        assert_eq!(o.get("t").and_then(J::as_bool), Some(true));
        assert_eq!(o.get("z"), Some(&J::Null));
        assert_eq!(o.get("missing"), None);
    }

    #[test]
    fn the_last_of_duplicate_keys_wins_as_with_serde_json() {
        let value: J = serde_json::from_slice(br#"{"a": 1, "a": 2}"#).unwrap();
        assert_eq!(value.as_object().unwrap().get("a"), Some(&J::Number(Num::PosInt(2))));
        let reference: serde_json::Value = serde_json::from_slice(br#"{"a": 1, "a": 2}"#).unwrap();
        assert_eq!(reference["a"], 2);
    }

    #[test]
    fn syntax_errors_and_the_recursion_limit_are_serde_jsons() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(serde_json::from_str::<J>(&deep)
            .unwrap_err()
            .to_string()
            .contains("recursion limit"));
        assert!(serde_json::from_slice::<J>(b"{\"a\": }").is_err());
    }
}
