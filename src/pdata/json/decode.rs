//! OTLP/JSON decoding as serde_json reads the body: each message is filled member by member, with
//! no tree of the document in between, and a refused value is reported with its JSON path.
//!
//! A message says which members it has and how each is decoded ([`message!`]); the codecs here
//! turn one JSON value into one Rust value (a string, an id, an integer, a list, a message). The
//! leniencies are those of proto3 JSON readers, applied the same way everywhere:
//! - lowerCamelCase and snake_case keys, camelCase winning when both are given;
//! - integers as numbers or strings, enums as numbers or names, doubles also as "NaN"/"Infinity";
//! - `null` as absent, and a member given twice keeping its last value;
//! - unknown members skipped, by serde_json's loop rather than recursion, so deep nesting there
//!   costs no stack. Known members nest at most 128 levels (serde_json's recursion limit).

use super::common::F;
use super::JsonError;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// Decodes one whole body as message `M`: nothing may follow it but whitespace.
pub(super) fn decode<M: Message>(body: &[u8]) -> Result<M, JsonError> {
    // One check of the whole body is several times cheaper than serde_json's check of each string
    // on its own, which it skips when reading a `str`.
    let text = std::str::from_utf8(body).map_err(|e| JsonError::Syntax(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let mut cx = Cx::default();
    let mut reader = serde_json::Deserializer::from_str(text);
    let decoded = Msg::<M>::decode(&mut reader, &mut cx).and_then(|message| reader.end().map(|()| message));
    decoded.map_err(|error| match cx.refusal.take() {
        Some(refusal) => refusal.into_json_error(),
        None => JsonError::Syntax(error.to_string()),
    })
}

// ---------------------------------------------------------------------------------------------
// Refusals and their paths.

enum Seg {
    Key(&'static str),
    Index(usize),
}

struct Refusal {
    /// Innermost step first: the path is collected while the error unwinds.
    path: Vec<Seg>,
    message: String,
}

impl Refusal {
    fn into_json_error(self) -> JsonError {
        let mut path = String::new();
        for seg in self.path.iter().rev() {
            match seg {
                Seg::Key(key) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Seg::Index(i) => {
                    path.push('[');
                    path.push_str(&i.to_string());
                    path.push(']');
                }
            }
        }
        if path.is_empty() {
            path.push('$');
        }
        JsonError::Invalid {
            path,
            message: self.message,
        }
    }
}

/// What the codecs share while serde_json reads: why a value was refused, and where.
///
/// serde_json's error type cannot carry a path, so a refusal is kept here and serde_json is handed
/// a placeholder error to unwind with. An error with no refusal here is serde_json's own (syntax,
/// end of input, nesting too deep).
#[derive(Default)]
pub(super) struct Cx {
    refusal: Option<Refusal>,
}

impl Cx {
    fn refuse<E: de::Error>(&mut self, message: String) -> E {
        self.refusal = Some(Refusal { path: Vec::new(), message });
        E::custom("refused")
    }

    fn expected<E: de::Error>(&mut self, what: &str, got: &str) -> E {
        self.refuse(format!("expected {what}, got {got}"))
    }

    /// Adds one step to the path of a refusal unwinding through it.
    fn at(&mut self, seg: Seg) {
        if let Some(refusal) = &mut self.refusal {
            refusal.path.push(seg);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Codecs: one JSON value to one Rust value.

/// Decodes one JSON value. `null` is the codec's to judge: as a member, [`Member`] treats it as
/// absent before any codec sees it; as a list item it is refused like any other wrong type.
pub(super) trait Codec {
    type Out;
    fn decode<'de, D: Deserializer<'de>>(d: D, cx: &mut Cx) -> Result<Self::Out, D::Error>;
}

/// A list of `C`'s values (a JSON array).
pub(super) struct List<C>(PhantomData<C>);

/// A message (a JSON object).
pub(super) struct Msg<M>(PhantomData<M>);

/// A protobuf enum: its number or its name (`SPAN_KIND_SERVER`); unknown numbers are kept.
pub(super) struct Enum<E>(PhantomData<E>);

/// What [`Enum`] needs to know of a protobuf enum.
pub(super) trait ProtoEnum {
    /// Its name in error messages ("span kind").
    const WHAT: &'static str;
    fn number_of(name: &str) -> Option<i32>;
}

impl<E: ProtoEnum> Codec for Enum<E> {
    type Out = i32;
    fn decode<'de, D: Deserializer<'de>>(d: D, cx: &mut Cx) -> Result<i32, D::Error> {
        scalar(d, cx, |v| match v {
            Scalar::Str(s) => E::number_of(&s)
                .or_else(|| s.parse::<i32>().ok())
                .ok_or_else(|| format!("unknown {} {}", E::WHAT, snippet(&s))),
            Scalar::U64(_) | Scalar::I64(_) | Scalar::F64(_) => integer(v, "int32"),
            other => Err(expected("an enum name or number", &other)),
        })
    }
}

/// Declares scalar codecs: a unit struct each, decoding through a conversion of [`Scalar`].
macro_rules! scalar_codecs {
    ($($(#[$doc:meta])* $name:ident -> $out:ty = $convert:expr;)+) => {$(
        $(#[$doc])*
        pub(super) struct $name;
        impl Codec for $name {
            type Out = $out;
            fn decode<'de, D: Deserializer<'de>>(d: D, cx: &mut Cx) -> Result<$out, D::Error> {
                scalar(d, cx, $convert)
            }
        }
    )+};
}

scalar_codecs! {
    /// A string.
    Str -> String = |v| match v {
        Scalar::Str(s) => Ok(s.into_owned()),
        other => Err(expected("a string", &other)),
    };
    /// A boolean.
    Bool -> bool = |v| match v {
        Scalar::Bool(b) => Ok(b),
        other => Err(expected("a boolean", &other)),
    };
    /// A uint64, as a number or a string (proto3 JSON writes 64-bit integers as strings).
    Uint64 -> u64 = |v| integer(v, "uint64");
    /// An int64, as a number or a string.
    Int64 -> i64 = |v| integer(v, "int64");
    /// A uint32, as a number or a string.
    Uint32 -> u32 = |v| integer(v, "uint32");
    /// An int32, as a number or a string.
    Int32 -> i32 = |v| integer(v, "int32");
    /// A double: a number, "NaN", "Infinity", "-Infinity" or a numeric string.
    Double -> f64 = double;
    /// A trace id in hex (OTLP/JSON's rule, not proto3 JSON's base64); "" is no id.
    TraceId -> Vec<u8> = |v| hex_id(v, 16, "trace id");
    /// A span id in hex; "" is no id.
    SpanId -> Vec<u8> = |v| hex_id(v, 8, "span id");
    /// Bytes in base64, padded or not, in the standard or the URL-safe alphabet.
    Base64 -> Vec<u8> = base64;
}

/// Any JSON value that is not decoded member by member: a codec's raw material.
pub(super) enum Scalar<'de> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'de, str>),
    /// An array where a scalar was wanted; its contents were skipped.
    Array,
    /// An object where a scalar was wanted; its contents were skipped.
    Object,
}

impl Scalar<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::U64(_) | Scalar::I64(_) | Scalar::F64(_) => "a number",
            Scalar::Str(_) => "a string",
            Scalar::Array => "an array",
            Scalar::Object => "an object",
        }
    }
}

fn expected(what: &str, got: &Scalar) -> String {
    format!("expected {what}, got {}", got.kind())
}

fn scalar<'de, D: Deserializer<'de>, T>(d: D, cx: &mut Cx, convert: impl FnOnce(Scalar<'de>) -> Result<T, String>) -> Result<T, D::Error> {
    let value = d.deserialize_any(ScalarVisitor)?;
    convert(value).map_err(|message| cx.refuse(message))
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(b))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::U64(n))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::I64(n))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::F64(n))
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(s)))
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Scalar<'de>, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

/// Quotes input text for an error message without echoing megabytes of it.
fn snippet(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}...", &s[..i]),
        None => format!("{s:?}"),
    }
}

/// Largest magnitude an integral double may have before we refuse it outright (2^64).
const INT_LIMIT: f64 = 18_446_744_073_709_551_616.0;

fn integral_f64(f: f64) -> Option<i128> {
    // The cast is exact: f is integral and well inside i128.
    (f.is_finite() && f.fract() == 0.0 && f.abs() <= INT_LIMIT).then_some(f as i128)
}

/// Any protobuf integer type: an integral JSON number or a string holding one (proto3 JSON).
fn integer<T: TryFrom<i128>>(v: Scalar, type_name: &str) -> Result<T, String> {
    let wide = match v {
        Scalar::U64(n) => i128::from(n),
        Scalar::I64(n) => i128::from(n),
        Scalar::F64(f) => integral_f64(f).ok_or_else(|| {
            // serde_json's own spelling of the number, as the input had it.
            let shown = serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string());
            format!("expected an integer, got {shown}")
        })?,
        Scalar::Str(s) => s
            .parse::<i128>()
            .ok()
            .or_else(|| s.parse::<f64>().ok().and_then(integral_f64))
            .ok_or_else(|| format!("expected an integer, got {}", snippet(&s)))?,
        other => return Err(expected("an integer (number or string)", &other)),
    };
    T::try_from(wide).map_err(|_| format!("{wide} is out of range for {type_name}"))
}

fn double(v: Scalar) -> Result<f64, String> {
    match v {
        Scalar::U64(n) => Ok(n as f64),
        Scalar::I64(n) => Ok(n as f64),
        Scalar::F64(f) => Ok(f),
        Scalar::Str(s) => match s.as_ref() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            // Rust also parses "inf"/"nan" and overflows to infinity: only the above count.
            _ => s
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| format!("expected a double, got {}", snippet(&s))),
        },
        other => Err(expected("a double (number or string)", &other)),
    }
}

fn hex_id(v: Scalar, bytes: usize, what: &str) -> Result<Vec<u8>, String> {
    let Scalar::Str(s) = v else {
        return Err(expected("a hex string", &v));
    };
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let chars = s.chars().count();
    if chars != bytes * 2 {
        return Err(format!("expected {} hex characters for a {what}, got {chars}", bytes * 2));
    }
    hex::decode(s.as_bytes()).map_err(|_| format!("invalid hex in {what}: {}", snippet(&s)))
}

const B64_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const B64_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn base64(v: Scalar) -> Result<Vec<u8>, String> {
    let Scalar::Str(s) = v else {
        return Err(expected("a base64 string", &v));
    };
    B64_STD
        .decode(s.as_bytes())
        .or_else(|_| B64_URL.decode(s.as_bytes()))
        .map_err(|e| format!("invalid base64: {e}"))
}

/// Implements a visitor's refusal of every JSON type but the one it wants: `$what` ("an array").
macro_rules! refuse_other_types {
    ($what:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(self.0.expected($what, "null"))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(self.0.expected($what, "a boolean"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(self.0.expected($what, "a number"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(self.0.expected($what, "a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(self.0.expected($what, "a number"))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(self.0.expected($what, "a string"))
        }
    };
}

impl<C: Codec> Codec for List<C> {
    type Out = Vec<C::Out>;
    fn decode<'de, D: Deserializer<'de>>(d: D, cx: &mut Cx) -> Result<Vec<C::Out>, D::Error> {
        d.deserialize_any(ListVisitor::<C>(cx, PhantomData))
    }
}

struct ListVisitor<'c, C>(&'c mut Cx, PhantomData<C>);

impl<'de, C: Codec> Visitor<'de> for ListVisitor<'_, C> {
    type Value = Vec<C::Out>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }
    refuse_other_types!("an array");
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.0.expected("an array", "an object"))
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut items = Vec::new();
        loop {
            match seq.next_element_seed(Item::<C>(self.0, PhantomData)) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(items),
                Err(e) => {
                    self.0.at(Seg::Index(items.len()));
                    return Err(e);
                }
            }
        }
    }
}

/// One item of a list: decoded by its codec, `null` included.
struct Item<'c, C>(&'c mut Cx, PhantomData<C>);

impl<'de, C: Codec> DeserializeSeed<'de> for Item<'_, C> {
    type Value = C::Out;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<C::Out, D::Error> {
        C::decode(d, self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Messages, member by member.

/// A protobuf message as OTLP/JSON has it; implemented by [`message!`].
pub(super) trait Message: Default {
    /// Its fields' JSON names; a field's place here is its index (at most 64 fields).
    const FIELDS: &'static [F];
    /// The fields of its oneof, one bit per index: at most one of them may be given.
    const ONE_OF: u64;
    /// Decodes field `index` from the member's value; true if it was set (not `null`).
    fn decode_field<'de, A: MapAccess<'de>>(&mut self, index: usize, member: &mut Member<'_, A>) -> Result<bool, A::Error>;
}

/// Declares how a message's members decode, one line a field, in the order of its fields:
/// `KEY => |message, member| member.put::<Codec>(&mut message.field)`, with `#[one_of]` before
/// each field of its oneof. `KEY` names the field's entry in `common::k`.
macro_rules! message {
    ($message:ty { $($(#[$one_of:ident])? $key:ident => $setter:expr),+ $(,)? }) => {
        impl $crate::pdata::json::decode::Message for $message {
            const FIELDS: &'static [$crate::pdata::json::common::F] = &[$($crate::pdata::json::common::k::$key),+];
            const ONE_OF: u64 = $crate::pdata::json::decode::one_of_mask(&[$(one_of_flag!($($one_of)?)),+]);
            fn decode_field<'de, A: serde::de::MapAccess<'de>>(
                &mut self,
                index: usize,
                member: &mut $crate::pdata::json::decode::Member<'_, A>,
            ) -> Result<bool, A::Error> {
                let setters: &[fn(&mut Self, &mut $crate::pdata::json::decode::Member<'_, A>) -> Result<bool, A::Error>] =
                    &[$($setter),+];
                setters[index](self, member)
            }
        }
    };
}

/// Whether a line of [`message!`] is marked `#[one_of]`.
macro_rules! one_of_flag {
    () => {
        false
    };
    (one_of) => {
        true
    };
}

/// [`Message::ONE_OF`] from one flag a field; also where a message with too many fields fails to compile.
pub(super) const fn one_of_mask(flags: &[bool]) -> u64 {
    assert!(flags.len() <= 64, "a message's fields are tracked by the bits of a u64");
    let mut mask = 0;
    let mut i = 0;
    while i < flags.len() {
        if flags[i] {
            mask |= 1 << i;
        }
        i += 1;
    }
    mask
}

/// The value of the member being read, handed to a message's setter.
pub(super) struct Member<'a, A> {
    map: &'a mut A,
    cx: &'a mut Cx,
}

impl<'de, A: MapAccess<'de>> Member<'_, A> {
    fn value<C: Codec>(&mut self) -> Result<Option<C::Out>, A::Error> {
        self.map.next_value_seed(Nullable::<C>(self.cx, PhantomData))
    }

    /// Sets a plain field; `null` leaves it as it was.
    pub(super) fn put<C: Codec>(&mut self, field: &mut C::Out) -> Result<bool, A::Error> {
        Ok(self.value::<C>()?.map(|value| *field = value).is_some())
    }

    /// Sets an optional (message) field; `null` leaves it as it was.
    pub(super) fn put_some<C: Codec>(&mut self, field: &mut Option<C::Out>) -> Result<bool, A::Error> {
        Ok(self.value::<C>()?.map(|value| *field = Some(value)).is_some())
    }

    /// Sets a oneof to one of its variants; `null` leaves it as it was.
    pub(super) fn put_variant<C: Codec, V>(&mut self, field: &mut Option<V>, variant: fn(C::Out) -> V) -> Result<bool, A::Error> {
        Ok(self.value::<C>()?.map(|value| *field = Some(variant(value))).is_some())
    }
}

/// A member's value, where `null` means absent.
struct Nullable<'c, C>(&'c mut Cx, PhantomData<C>);

impl<'de, C: Codec> DeserializeSeed<'de> for Nullable<'_, C> {
    type Value = Option<C::Out>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, C: Codec> Visitor<'de> for Nullable<'_, C> {
    type Value = Option<C::Out>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        C::decode(d, self.0).map(Some)
    }
}

impl<M: Message> Codec for Msg<M> {
    type Out = M;
    fn decode<'de, D: Deserializer<'de>>(d: D, cx: &mut Cx) -> Result<M, D::Error> {
        d.deserialize_any(MessageVisitor::<M>(cx, PhantomData))
    }
}

struct MessageVisitor<'c, M>(&'c mut Cx, PhantomData<M>);

impl<'de, M: Message> Visitor<'de> for MessageVisitor<'_, M> {
    type Value = M;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    refuse_other_types!("an object");
    fn visit_seq<S: SeqAccess<'de>>(self, _: S) -> Result<M, S::Error> {
        Err(self.0.expected("an object", "an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<M, A::Error> {
        let cx = self.0;
        let mut message = M::default();
        // One bit a field: given with a value, and given under its camelCase name.
        let (mut given, mut given_in_camel_case) = (0u64, 0u64);
        while let Some(key) = map.next_key_seed(FieldKey(M::FIELDS))? {
            let Some((index, camel_case)) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let bit = 1u64 << index;
            if !camel_case && given_in_camel_case & bit != 0 {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let decoded = message.decode_field(
                index,
                &mut Member {
                    map: &mut map,
                    cx: &mut *cx,
                },
            );
            let set = decoded.inspect_err(|_| cx.at(Seg::Key(M::FIELDS[index].0)))?;
            if !set {
                continue;
            }
            given |= bit;
            if camel_case {
                given_in_camel_case |= bit;
            }
            let rivals = given & M::ONE_OF & !bit;
            if M::ONE_OF & bit != 0 && rivals != 0 {
                // Named in the message's field order, whatever order the body had.
                let rival = rivals.trailing_zeros() as usize;
                let (first, second) = (index.min(rival), index.max(rival));
                return Err(cx.refuse(format!(
                    "both {} and {} are set, expected only one",
                    M::FIELDS[first].0,
                    M::FIELDS[second].0
                )));
            }
        }
        Ok(message)
    }
}

/// A member's key, looked up among a message's fields: `(index, camelCase?)`, or `None` when the
/// message has no such field.
struct FieldKey(&'static [F]);

impl<'de> DeserializeSeed<'de> for FieldKey {
    type Value = Option<(usize, bool)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldKey {
    type Value = Option<(usize, bool)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        let fields = self.0;
        Ok(fields
            .iter()
            .position(|f| f.0 == key)
            .map(|i| (i, true))
            .or_else(|| fields.iter().position(|f| f.1 == key).map(|i| (i, false))))
    }
}
