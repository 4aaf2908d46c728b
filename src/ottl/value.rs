//! The values OTTL computes with, their conversion from and to OTLP `AnyValue`, and the
//! comparison and arithmetic rules.

use super::ast::{CompareOp, MathOp};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use std::cmp::Ordering;

/// A typed value. `Nil` is absence: a missing key reads as `Nil`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    /// Entries in their OTLP order (a `KeyValueList` is a list, not a hash map).
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The type as messages name it: "cannot add a string and an int".
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Double(_) => "a float",
            Value::Str(_) => "a string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// An absent `AnyValue` (a key without a value) is nil.
    pub fn from_any(value: Option<&AnyValue>) -> Value {
        value.map_or(Value::Nil, Value::from)
    }

    pub fn from_key_values(kvs: &[KeyValue]) -> Value {
        Value::Map(kvs.iter().map(|kv| (kv.key.clone(), Value::from_any(kv.value.as_ref()))).collect())
    }

    /// A map value as attributes; anything else is refused with the type it had.
    pub fn into_key_values(self) -> Result<Vec<KeyValue>, String> {
        match self {
            Value::Map(entries) => Ok(entries.into_iter().map(|(k, v)| key_value(k, v)).collect()),
            other => Err(format!("expected a map, got {}", other.type_name())),
        }
    }

    /// The text of a scalar as the `String` converter and `Concat` render it; nil has none.
    /// Floats print in plain decimal (Go's 'f' format), bytes as lowercase hex, lists and maps as JSON.
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Value::Nil => return None,
            Value::Str(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Double(x) => x.to_string(),
            Value::Bytes(b) => hex::encode(b),
            Value::List(_) | Value::Map(_) => self.to_json().to_string(),
        })
    }

    fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => J::from(*n),
            Value::Double(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Bytes(b) => J::String(hex::encode(b)),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

/// OTTL's `ParseJSON`: a JSON object becomes a map, an array a list; inside them strings,
/// bools and null become strings, bools and nil, and every number a float, as the Collector
/// reads JSON numbers (float64). Any other document (a bare string or number) is refused.
pub(super) fn parse_json(text: &str) -> Result<Value, String> {
    use serde_json::Value as J;
    match serde_json::from_str::<J>(text) {
        Ok(document @ (J::Object(_) | J::Array(_))) => Ok(from_json(document)),
        Ok(J::Null) => Err("ParseJSON: expected a JSON object or array, got null".to_string()),
        Ok(J::Bool(_)) => Err("ParseJSON: expected a JSON object or array, got a boolean".to_string()),
        Ok(J::Number(_)) => Err("ParseJSON: expected a JSON object or array, got a number".to_string()),
        Ok(J::String(_)) => Err("ParseJSON: expected a JSON object or array, got a string".to_string()),
        Err(e) => Err(format!("ParseJSON: the text is not valid JSON ({e})")),
    }
}

fn from_json(json: serde_json::Value) -> Value {
    use serde_json::Value as J;
    match json {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => n.as_f64().map_or(Value::Nil, Value::Double),
        J::String(s) => Value::Str(s),
        J::Array(items) => Value::List(items.into_iter().map(from_json).collect()),
        J::Object(entries) => Value::Map(entries.into_iter().map(|(k, v)| (k, from_json(v))).collect()),
    }
}

/// `Value::type_name` of an OTLP value, without converting it.
pub(super) fn any_type_name(value: &any_value::Value) -> &'static str {
    use any_value::Value as V;
    match value {
        V::StringValue(_) => "a string",
        V::BoolValue(_) => "a bool",
        V::IntValue(_) => "an int",
        V::DoubleValue(_) => "a float",
        V::BytesValue(_) => "bytes",
        V::ArrayValue(_) => "a list",
        V::KvlistValue(_) => "a map",
        V::StringValueStrindex(_) => "nil",
    }
}

pub(super) fn key_value(key: String, value: Value) -> KeyValue {
    KeyValue {
        key,
        value: Some(value.into()),
        ..Default::default()
    }
}

impl From<&AnyValue> for Value {
    fn from(any: &AnyValue) -> Value {
        use any_value::Value as V;
        match &any.value {
            None => Value::Nil,
            Some(V::StringValue(s)) => Value::Str(s.clone()),
            Some(V::BoolValue(b)) => Value::Bool(*b),
            Some(V::IntValue(n)) => Value::Int(*n),
            Some(V::DoubleValue(x)) => Value::Double(*x),
            Some(V::BytesValue(b)) => Value::Bytes(b.clone()),
            Some(V::ArrayValue(a)) => Value::List(a.values.iter().map(Value::from).collect()),
            Some(V::KvlistValue(l)) => Value::from_key_values(&l.values),
            // An index into a profile's string table, which this context does not have.
            Some(V::StringValueStrindex(_)) => Value::Nil,
        }
    }
}

impl From<Value> for AnyValue {
    fn from(value: Value) -> AnyValue {
        use any_value::Value as V;
        let value = match value {
            Value::Nil => None,
            Value::Bool(b) => Some(V::BoolValue(b)),
            Value::Int(n) => Some(V::IntValue(n)),
            Value::Double(x) => Some(V::DoubleValue(x)),
            Value::Str(s) => Some(V::StringValue(s)),
            Value::Bytes(b) => Some(V::BytesValue(b)),
            Value::List(items) => Some(V::ArrayValue(ArrayValue {
                values: items.into_iter().map(AnyValue::from).collect(),
            })),
            Value::Map(entries) => Some(V::KvlistValue(KeyValueList {
                values: entries.into_iter().map(|(k, v)| key_value(k, v)).collect(),
            })),
        };
        AnyValue { value }
    }
}

/// How two values relate, before an operator looks at it.
enum Relation {
    /// Numbers, strings, bytes: every operator applies.
    Ordered(Ordering),
    /// Nil, bools, lists, maps: only `==` and `!=` are meaningful; the rest are false.
    EqualityOnly { equal: bool },
    /// Different types, or a NaN: `!=` is true, everything else false.
    Unrelated,
}

fn relate(left: &Value, right: &Value) -> Relation {
    use Value::*;
    let ordered = |o: Option<Ordering>| o.map_or(Relation::Unrelated, Relation::Ordered);
    match (left, right) {
        (Int(a), Int(b)) => Relation::Ordered(a.cmp(b)),
        // Mixed numbers compare as floats, as OTTL does: 1 == 1.0.
        (Int(a), Double(b)) => ordered((*a as f64).partial_cmp(b)),
        (Double(a), Int(b)) => ordered(a.partial_cmp(&(*b as f64))),
        (Double(a), Double(b)) => ordered(a.partial_cmp(b)),
        (Str(a), Str(b)) => Relation::Ordered(a.cmp(b)),
        (Bytes(a), Bytes(b)) => Relation::Ordered(a.cmp(b)),
        (Nil, Nil) => Relation::EqualityOnly { equal: true },
        (Bool(a), Bool(b)) => Relation::EqualityOnly { equal: a == b },
        (List(a), List(b)) => Relation::EqualityOnly { equal: a == b },
        (Map(a), Map(b)) => Relation::EqualityOnly { equal: a == b },
        _ => Relation::Unrelated,
    }
}

/// OTTL comparison: never an error. Mismatched types are unequal and unordered.
pub fn compare(op: CompareOp, left: &Value, right: &Value) -> bool {
    match relate(left, right) {
        Relation::Ordered(o) => match op {
            CompareOp::Eq => o == Ordering::Equal,
            CompareOp::Ne => o != Ordering::Equal,
            CompareOp::Lt => o == Ordering::Less,
            CompareOp::Le => o != Ordering::Greater,
            CompareOp::Gt => o == Ordering::Greater,
            CompareOp::Ge => o != Ordering::Less,
        },
        Relation::EqualityOnly { equal } => match op {
            CompareOp::Eq => equal,
            CompareOp::Ne => !equal,
            _ => false,
        },
        Relation::Unrelated => op == CompareOp::Ne,
    }
}

/// Integer arithmetic stays integer (overflow is an error); a float on either side makes it float.
pub fn arithmetic(op: MathOp, left: &Value, right: &Value) -> Result<Value, String> {
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => int_arithmetic(op, *a, *b).map(Value::Int),
        (Value::Int(a), Value::Double(b)) => float_arithmetic(op, *a as f64, *b),
        (Value::Double(a), Value::Int(b)) => float_arithmetic(op, *a, *b as f64),
        (Value::Double(a), Value::Double(b)) => float_arithmetic(op, *a, *b),
        _ => Err(format!(
            "cannot {} {} and {}; arithmetic needs ints or floats",
            verb(op),
            left.type_name(),
            right.type_name()
        )),
    }
}

fn verb(op: MathOp) -> &'static str {
    match op {
        MathOp::Add => "add",
        MathOp::Sub => "subtract",
        MathOp::Mul => "multiply",
        MathOp::Div => "divide",
    }
}

fn int_arithmetic(op: MathOp, a: i64, b: i64) -> Result<i64, String> {
    if op == MathOp::Div && b == 0 {
        return Err("division by zero".to_string());
    }
    let result = match op {
        MathOp::Add => a.checked_add(b),
        MathOp::Sub => a.checked_sub(b),
        MathOp::Mul => a.checked_mul(b),
        MathOp::Div => a.checked_div(b),
    };
    result.ok_or_else(|| format!("integer overflow in {a} {} {b}", op.as_str()))
}

fn float_arithmetic(op: MathOp, a: f64, b: f64) -> Result<Value, String> {
    if op == MathOp::Div && b == 0.0 {
        return Err("division by zero".to_string());
    }
    Ok(Value::Double(match op {
        MathOp::Add => a + b,
        MathOp::Sub => a - b,
        MathOp::Mul => a * b,
        MathOp::Div => a / b,
    }))
}

/// Go's `time.ParseDuration` to nanoseconds: an optional sign, then one or more
/// `<number><unit>` with units ns, us (µs), ms, s, m, h; "0" alone is zero. None when malformed
/// or out of the i64 range.
pub fn parse_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let (nanos, after) = duration_term(rest)?;
        total = total.checked_add(nanos)?;
        rest = after;
    }
    i64::try_from(if negative { -total } else { total }).ok()
}

const DURATION_UNITS: [(&str, i128); 8] = [
    // Two-letter units first so "5ms" is not read as "5m" then "s".
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// One `<digits>[.<digits>]<unit>` at the start of `text`: its nanoseconds and the rest.
fn duration_term(text: &str) -> Option<(i128, &str)> {
    let digits_end = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let whole_len = digits_end(text);
    let (whole, after_whole) = text.split_at(whole_len);
    let (fraction, after_number) = match after_whole.strip_prefix('.') {
        Some(f) => f.split_at(digits_end(f)),
        None => ("", after_whole),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let (unit, mult) = DURATION_UNITS.iter().find(|(u, _)| after_number.starts_with(u))?;
    let mut nanos: i128 = 0;
    for d in whole.bytes() {
        nanos = nanos.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
    }
    nanos = nanos.checked_mul(*mult)?;
    // The fraction as an 18-digit fixed-point number; finer digits cannot change whole ns.
    let mut scaled: i128 = 0;
    for i in 0..18 {
        scaled = scaled * 10 + fraction.as_bytes().get(i).map_or(0, |d| i128::from(d - b'0'));
    }
    nanos = nanos.checked_add(scaled * mult / 1_000_000_000_000_000_000)?;
    Some((nanos, &after_number[unit.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::Str(text.to_string())
    }

    #[test]
    fn any_value_round_trips() {
        let value = Value::Map(vec![
            ("s".into(), s("x")),
            ("b".into(), Value::Bool(true)),
            ("i".into(), Value::Int(-3)),
            ("d".into(), Value::Double(1.5)),
            ("y".into(), Value::Bytes(vec![1, 255])),
            ("l".into(), Value::List(vec![Value::Int(1), s("two")])),
            ("n".into(), Value::Nil),
        ]);
        let any = AnyValue::from(value.clone());
        assert_eq!(Value::from(&any), value);
        assert_eq!(Value::from_any(None), Value::Nil);
        assert_eq!(Value::from(&AnyValue::default()), Value::Nil);
    }

    #[test]
    fn comparisons_follow_the_type_rules() {
        use CompareOp::*;
        let all = [Eq, Ne, Lt, Le, Gt, Ge];
        let holds = |l: &Value, r: &Value| -> Vec<CompareOp> { all.into_iter().filter(|op| compare(*op, l, r)).collect() };
        assert_eq!(holds(&Value::Int(1), &Value::Int(2)), [Ne, Lt, Le]);
        assert_eq!(holds(&Value::Int(2), &Value::Double(2.0)), [Eq, Le, Ge]);
        assert_eq!(holds(&Value::Double(2.5), &Value::Int(2)), [Ne, Gt, Ge]);
        assert_eq!(holds(&s("a"), &s("b")), [Ne, Lt, Le]);
        // Mismatched types: only != holds.
        assert_eq!(holds(&s("1"), &Value::Int(1)), [Ne]);
        assert_eq!(holds(&Value::Bool(true), &Value::Int(1)), [Ne]);
        assert_eq!(holds(&Value::Nil, &s("")), [Ne]);
        assert_eq!(holds(&Value::Nil, &Value::Int(0)), [Ne]);
        // Equality-only types.
        assert_eq!(holds(&Value::Nil, &Value::Nil), [Eq]);
        assert_eq!(holds(&Value::Bool(true), &Value::Bool(false)), [Ne]);
        assert_eq!(holds(&Value::List(vec![Value::Int(1)]), &Value::List(vec![Value::Int(1)])), [Eq]);
        assert_eq!(holds(&Value::Double(f64::NAN), &Value::Double(f64::NAN)), [Ne]);
    }

    #[test]
    fn arithmetic_keeps_ints_and_promotes_floats() {
        use MathOp::*;
        assert_eq!(arithmetic(Add, &Value::Int(2), &Value::Int(3)), Ok(Value::Int(5)));
        assert_eq!(arithmetic(Div, &Value::Int(7), &Value::Int(2)), Ok(Value::Int(3)));
        assert_eq!(arithmetic(Mul, &Value::Int(2), &Value::Double(1.5)), Ok(Value::Double(3.0)));
        assert_eq!(arithmetic(Sub, &Value::Double(1.0), &Value::Int(3)), Ok(Value::Double(-2.0)));
        assert_eq!(arithmetic(Div, &Value::Int(1), &Value::Int(0)), Err("division by zero".into()));
        assert_eq!(
            arithmetic(Div, &Value::Double(1.0), &Value::Double(0.0)),
            Err("division by zero".into())
        );
        assert_eq!(
            arithmetic(Add, &Value::Int(i64::MAX), &Value::Int(1)),
            Err("integer overflow in 9223372036854775807 + 1".into())
        );
        assert_eq!(
            arithmetic(Div, &Value::Int(i64::MIN), &Value::Int(-1)).map_err(|e| e.starts_with("integer overflow")),
            Err(true)
        );
        assert_eq!(
            arithmetic(Add, &s("a"), &Value::Int(1)),
            Err("cannot add a string and an int; arithmetic needs ints or floats".into())
        );
        assert_eq!(
            arithmetic(Sub, &Value::Nil, &Value::Int(1)),
            Err("cannot subtract nil and an int; arithmetic needs ints or floats".into())
        );
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("8s"), Some(8_000_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_duration("-2us"), Some(-2_000));
        assert_eq!(parse_duration("3µs"), Some(3_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("10ns"), Some(10));
        assert_eq!(parse_duration("2562047h"), Some(2_562_047 * 3_600_000_000_000));
        for bad in ["", "5", "ms", "1x", "1.s.", "-", "2562048h", "1s2", &"9".repeat(60), "1e3s", "."] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn text_rendering() {
        assert_eq!(Value::Double(100.0).to_text().as_deref(), Some("100"));
        assert_eq!(Value::Double(0.25).to_text().as_deref(), Some("0.25"));
        assert_eq!(Value::Bytes(vec![0xab, 1]).to_text().as_deref(), Some("ab01"));
        assert_eq!(Value::Nil.to_text(), None);
        let map = Value::Map(vec![("a".into(), Value::List(vec![Value::Int(1), Value::Nil]))]);
        assert_eq!(map.to_text().as_deref(), Some(r#"{"a":[1,null]}"#));
    }
}
