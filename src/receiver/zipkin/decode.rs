//! Zipkin v2 JSON to typed spans, decoded with serde straight from the body's bytes (no JSON tree
//! in between), every problem named by its place in the body: `spans[3].traceId: expected 16 or
//! 32 hex characters, got 'xyz'`.
//!
//! Each field is read with `deserialize_any` through a `Shape`, so a value of the wrong kind is
//! refused as "expected a string, got a number" rather than in serde's own words; unknown fields
//! are ignored.

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Number;
use serde_path_to_error::Segment;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;

/// One Zipkin v2 span, validated.
#[derive(Debug, Default)]
pub(super) struct ZipkinSpan {
    /// Empty when absent (removed later as invalid, like an OTLP span without ids).
    pub(super) trace_id: Vec<u8>,
    pub(super) id: Vec<u8>,
    pub(super) parent_id: Option<[u8; 8]>,
    pub(super) name: String,
    pub(super) kind: Option<String>,
    pub(super) timestamp_micros: Option<u64>,
    pub(super) duration_micros: u64,
    pub(super) local: Endpoint,
    pub(super) remote: Endpoint,
    pub(super) annotations: Vec<(u64, String)>,
    /// In key order.
    pub(super) tags: Vec<(String, String)>,
    pub(super) debug: bool,
    pub(super) shared: bool,
}

/// A span's `localEndpoint` or `remoteEndpoint`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Endpoint {
    #[serde(deserialize_with = "service_name")]
    pub(super) service_name: Option<String>,
    // An address that does not parse is left out, as zipkin-go does.
    #[serde(deserialize_with = "ip")]
    pub(super) ipv4: Option<IpAddr>,
    #[serde(deserialize_with = "ip")]
    pub(super) ipv6: Option<IpAddr>,
    #[serde(deserialize_with = "port")]
    pub(super) port: Option<u64>,
}

/// A span as the JSON has it; `into_span` checks what needs the whole span.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct SpanJson {
    #[serde(deserialize_with = "trace_id")]
    trace_id: Vec<u8>,
    #[serde(deserialize_with = "span_id")]
    id: Vec<u8>,
    #[serde(deserialize_with = "span_id")]
    parent_id: Vec<u8>,
    #[serde(deserialize_with = "text")]
    name: Option<String>,
    #[serde(deserialize_with = "text")]
    kind: Option<String>,
    #[serde(deserialize_with = "micros")]
    timestamp: Option<u64>,
    #[serde(deserialize_with = "micros")]
    duration: Option<u64>,
    #[serde(deserialize_with = "endpoint")]
    local_endpoint: Endpoint,
    #[serde(deserialize_with = "endpoint")]
    remote_endpoint: Endpoint,
    #[serde(deserialize_with = "annotations")]
    annotations: Vec<AnnotationJson>,
    #[serde(deserialize_with = "tags")]
    tags: Vec<(String, String)>,
    #[serde(deserialize_with = "flag")]
    debug: bool,
    #[serde(deserialize_with = "flag")]
    shared: bool,
    /// Zipkin v1 only: there at all means a v1 span.
    #[serde(deserialize_with = "present")]
    binary_annotations: bool,
}

/// One of a span's `annotations`: an event at a time.
#[derive(Deserialize)]
struct AnnotationJson {
    #[serde(default, deserialize_with = "micros")]
    timestamp: Option<u64>,
    #[serde(deserialize_with = "string")]
    value: String,
    /// Zipkin v1 only: there at all means a v1 span.
    #[serde(default, deserialize_with = "present")]
    endpoint: bool,
}

/// Decodes a Zipkin v2 JSON list of spans.
pub(super) fn spans(body: &[u8]) -> Result<Vec<ZipkinSpan>, String> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let Spans(spans) = serde_path_to_error::deserialize::<_, Spans>(&mut json).map_err(|e| message(&e))?;
    json.end().map_err(|e| format!("body is not valid JSON: {e}"))?;
    Ok(spans)
}

/// What to answer for a body that did not decode: its place in the body (`spans[0].traceId`,
/// nothing for the body as a whole) and the problem.
fn message(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = error.inner();
    if !inner.is_data() {
        return format!("body is not valid JSON: {inner}");
    }
    // serde_json adds the line and column; the place in the body says more.
    let text = inner.to_string();
    let position = format!(" at line {} column {}", inner.line(), inner.column());
    let text = text.strip_suffix(&position).unwrap_or(&text);
    let mut at = String::new();
    for segment in error.path() {
        match segment {
            Segment::Seq { index } => at.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => at.push_str(&format!(".{key}")),
            Segment::Unknown => at.push_str(".?"),
        }
    }
    if at.is_empty() {
        text.to_string()
    } else {
        format!("spans{at}: {text}")
    }
}

impl SpanJson {
    /// The typed span, or why this is not a Zipkin v2 span.
    fn into_span(self) -> Result<ZipkinSpan, String> {
        if self.binary_annotations || self.annotations.iter().any(|a| a.endpoint) {
            return Err(
                "this is a Zipkin v1 span (binaryAnnotations or annotation endpoints); send Zipkin v2 JSON to /api/v2/spans".into(),
            );
        }
        // A parent equal to the span itself or all zeros means none (as the Collector reads it).
        let parent_id: Option<[u8; 8]> = if self.parent_id.iter().any(|b| *b != 0) && self.parent_id != self.id {
            self.parent_id.try_into().ok()
        } else {
            None
        };
        Ok(ZipkinSpan {
            trace_id: self.trace_id,
            id: self.id,
            parent_id,
            name: self.name.unwrap_or_default(),
            kind: self.kind.as_deref().map(str::to_ascii_uppercase),
            timestamp_micros: self.timestamp,
            duration_micros: self.duration.unwrap_or(0),
            local: self.local_endpoint,
            remote: self.remote_endpoint,
            annotations: self.annotations.into_iter().map(|a| (a.timestamp.unwrap_or(0), a.value)).collect(),
            tags: self.tags,
            debug: self.debug,
            shared: self.shared,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The shapes: what each kind of JSON value becomes, and the message for any other kind.

/// A value of one expected kind. Each method takes the JSON value of its kind; the defaults refuse
/// it as "expected <EXPECTED>, got a number" (the words of the receiver's first, hand-written
/// decoder).
trait Shape<'de>: Sized {
    /// What is expected, as in "expected a string".
    const EXPECTED: &'static str;

    fn null<E: Error>() -> Result<Self, E> {
        Err(wrong(Self::EXPECTED, "null"))
    }

    fn boolean<E: Error>(_: bool) -> Result<Self, E> {
        Err(wrong(Self::EXPECTED, "a boolean"))
    }

    fn number<E: Error>(_: Number) -> Result<Self, E> {
        Err(wrong(Self::EXPECTED, "a number"))
    }

    fn string<E: Error>(_: &str) -> Result<Self, E> {
        Err(wrong(Self::EXPECTED, "a string"))
    }

    fn list<A: SeqAccess<'de>>(_: A) -> Result<Self, A::Error> {
        Err(wrong(Self::EXPECTED, "a list"))
    }

    fn object<A: MapAccess<'de>>(_: A) -> Result<Self, A::Error> {
        Err(wrong(Self::EXPECTED, "an object"))
    }
}

fn wrong<E: Error>(expected: &str, got: &str) -> E {
    E::custom(format_args!("expected {expected}, got {got}"))
}

/// Reads a `T` from whatever JSON value comes next (as a visitor, and as a seed for list elements
/// and map values).
struct Shaped<T>(PhantomData<T>);

impl<'de, T: Shape<'de>> Visitor<'de> for Shaped<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(T::EXPECTED)
    }

    fn visit_unit<E: Error>(self) -> Result<T, E> {
        T::null()
    }

    fn visit_bool<E: Error>(self, value: bool) -> Result<T, E> {
        T::boolean(value)
    }

    fn visit_u64<E: Error>(self, value: u64) -> Result<T, E> {
        T::number(value.into())
    }

    fn visit_i64<E: Error>(self, value: i64) -> Result<T, E> {
        T::number(value.into())
    }

    fn visit_f64<E: Error>(self, value: f64) -> Result<T, E> {
        // JSON has no NaN or infinity.
        T::number(Number::from_f64(value).ok_or_else(|| E::custom("expected a finite number"))?)
    }

    fn visit_str<E: Error>(self, value: &str) -> Result<T, E> {
        T::string(value)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::list(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::object(map)
    }
}

impl<'de, T: Shape<'de>> DeserializeSeed<'de> for Shaped<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_any(self)
    }
}

fn read<'de, T: Shape<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_any(Shaped::<T>(PhantomData))
}

/// The body: a list of spans.
struct Spans(Vec<ZipkinSpan>);

impl<'de> Deserialize<'de> for Spans {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read(deserializer)
    }
}

impl<'de> Shape<'de> for Spans {
    const EXPECTED: &'static str = "a JSON list of Zipkin v2 spans";

    fn list<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut spans = Vec::new();
        while let Some(span) = seq.next_element_seed(Shaped::<ZipkinSpan>(PhantomData))? {
            spans.push(span);
        }
        Ok(Spans(spans))
    }

    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        // Read to its end first, so that a body that is not JSON at all says so.
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(wrong(Self::EXPECTED, "an object"))
    }
}

impl<'de> Shape<'de> for ZipkinSpan {
    const EXPECTED: &'static str = "a span object";

    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        SpanJson::deserialize(MapAccessDeserializer::new(map))?
            .into_span()
            .map_err(A::Error::custom)
    }
}

/// Absent or null is no endpoint.
impl<'de> Shape<'de> for Endpoint {
    const EXPECTED: &'static str = "an object";

    fn null<E: Error>() -> Result<Self, E> {
        Ok(Endpoint::default())
    }

    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        Endpoint::deserialize(MapAccessDeserializer::new(map))
    }
}

/// Absent or null is no annotations.
impl<'de> Shape<'de> for Vec<AnnotationJson> {
    const EXPECTED: &'static str = "a list";

    fn null<E: Error>() -> Result<Self, E> {
        Ok(Vec::new())
    }

    fn list<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut annotations = Vec::new();
        while let Some(annotation) = seq.next_element_seed(Shaped::<AnnotationJson>(PhantomData))? {
            annotations.push(annotation);
        }
        Ok(annotations)
    }
}

impl<'de> Shape<'de> for AnnotationJson {
    const EXPECTED: &'static str = "an object";

    fn object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        AnnotationJson::deserialize(MapAccessDeserializer::new(map))
    }
}

/// Tags in key order (the last of repeated keys counts); a null value is no tag.
struct Tags(Vec<(String, String)>);

impl<'de> Shape<'de> for Tags {
    const EXPECTED: &'static str = "an object";

    fn null<E: Error>() -> Result<Self, E> {
        Ok(Tags(Vec::new()))
    }

    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut tags = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let TagValue(value) = map.next_value_seed(Shaped::<TagValue>(PhantomData))?;
            tags.insert(key, value);
        }
        let tags = tags.into_iter().filter_map(|(key, value)| value.map(|value| (key, value)));
        Ok(Tags(tags.collect()))
    }
}

/// Zipkin tags are strings; numbers and booleans some clients send are kept as text.
struct TagValue(Option<String>);

impl<'de> Shape<'de> for TagValue {
    const EXPECTED: &'static str = "a string";

    fn null<E: Error>() -> Result<Self, E> {
        Ok(TagValue(None))
    }

    fn boolean<E: Error>(value: bool) -> Result<Self, E> {
        Ok(TagValue(Some(value.to_string())))
    }

    fn number<E: Error>(value: Number) -> Result<Self, E> {
        Ok(TagValue(Some(value.to_string())))
    }

    fn string<E: Error>(value: &str) -> Result<Self, E> {
        Ok(TagValue(Some(value.to_string())))
    }
}

/// A string, or null for none.
impl<'de> Shape<'de> for Option<String> {
    const EXPECTED: &'static str = "a string";

    fn null<E: Error>() -> Result<Self, E> {
        Ok(None)
    }

    fn string<E: Error>(value: &str) -> Result<Self, E> {
        Ok(Some(value.to_string()))
    }
}

/// A string that must be there.
impl<'de> Shape<'de> for String {
    const EXPECTED: &'static str = "a string";

    fn string<E: Error>(value: &str) -> Result<Self, E> {
        Ok(value.to_string())
    }
}

/// `debug` and `shared`: null is false.
impl<'de> Shape<'de> for bool {
    const EXPECTED: &'static str = "true or false";

    fn null<E: Error>() -> Result<Self, E> {
        Ok(false)
    }

    fn boolean<E: Error>(value: bool) -> Result<Self, E> {
        Ok(value)
    }
}

/// A hex id of `BYTES` bytes; null is an empty id.
struct HexId<const BYTES: usize>(Vec<u8>);

impl<'de, const BYTES: usize> Shape<'de> for HexId<BYTES> {
    const EXPECTED: &'static str = "a string";

    fn null<E: Error>() -> Result<Self, E> {
        Ok(HexId(Vec::new()))
    }

    fn string<E: Error>(value: &str) -> Result<Self, E> {
        hex_id(value, BYTES).map(HexId).map_err(E::custom)
    }
}

/// Up to `2 * bytes` hex digits, left-padded with zeros (zipkin-go reads 64-bit trace ids and
/// shorter ids this way); "" is an empty id.
fn hex_id(text: &str, bytes: usize) -> Result<Vec<u8>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let expected = if bytes == 16 {
        "16 or 32 hex characters"
    } else {
        "16 hex characters"
    };
    if text.len() > bytes * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("expected {expected}, got '{}'", shorten(text)));
    }
    let padded = format!("{text:0>width$}", width = bytes * 2);
    hex::decode(padded).map_err(|e| e.to_string())
}

/// At most 40 characters of user text in an error message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Microseconds: a non-negative integer (a whole-valued float is accepted too); null is none.
struct Micros(Option<u64>);

impl<'de> Shape<'de> for Micros {
    const EXPECTED: &'static str = "a number of microseconds";

    fn null<E: Error>() -> Result<Self, E> {
        Ok(Micros(None))
    }

    fn number<E: Error>(value: Number) -> Result<Self, E> {
        match (value.as_u64(), value.as_f64()) {
            (Some(v), _) => Ok(Micros(Some(v))),
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Ok(Micros(Some(f as u64))),
            _ => Err(E::custom(format_args!(
                "expected a non-negative whole number of microseconds, got {value}"
            ))),
        }
    }
}

/// A port: a number from 1 to 65535; any other number (or null) is no port.
struct Port(Option<u64>);

impl<'de> Shape<'de> for Port {
    const EXPECTED: &'static str = "a number";

    fn null<E: Error>() -> Result<Self, E> {
        Ok(Port(None))
    }

    fn number<E: Error>(value: Number) -> Result<Self, E> {
        Ok(Port(value.as_u64().filter(|p| *p > 0 && *p <= 65_535)))
    }
}

// ---------------------------------------------------------------------------------------------
// The fields' `deserialize_with` functions.

fn trace_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    read::<HexId<16>, D>(deserializer).map(|id| id.0)
}

fn span_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    read::<HexId<8>, D>(deserializer).map(|id| id.0)
}

fn micros<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    read::<Micros, D>(deserializer).map(|micros| micros.0)
}

fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    read(deserializer)
}

fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    read(deserializer)
}

fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    read(deserializer)
}

fn endpoint<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Endpoint, D::Error> {
    read(deserializer)
}

fn annotations<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<AnnotationJson>, D::Error> {
    read(deserializer)
}

fn tags<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, String)>, D::Error> {
    read::<Tags, D>(deserializer).map(|tags| tags.0)
}

/// An empty service name is none.
fn service_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(text(deserializer)?.filter(|name| !name.is_empty()))
}

fn ip<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<IpAddr>, D::Error> {
    Ok(text(deserializer)?.and_then(|address| address.parse().ok()))
}

fn port<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    read::<Port, D>(deserializer).map(|port| port.0)
}

/// True for a field that is there at all, whatever its value.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}
