//! How much memory a request body takes once decoded, estimated before decoding it, so that a small
//! body that decodes into a huge request is refused up front (issue 19, "amplification": 16 MiB of
//! empty `ResourceSpans`, `0a 00` repeated, decode with prost to about 850 MiB).
//!
//! Protobuf bodies are walked field by field with a small table of which fields are sub-messages and
//! which are packed numbers, charging what prost will allocate for each. JSON bodies are counted byte
//! by byte: the `serde_json::Value` tree the OTLP/JSON decoder builds first, then the structs made from
//! it. Both are linear in the body, allocate nothing and never panic, and both round up, never down.
//!
//! The protobuf walk returns `Err` only for a body prost refuses too: the caller then lets the decoder
//! answer, so a body the walk refused but prost decoded would skip the budget altogether. The tests
//! check this on every prefix and many corruptions of real requests.

use crate::receiver::jaeger::proto as jaeger;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

/// What a protobuf body is, to walk it with the right message schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    Traces,
    Metrics,
    Logs,
    /// Jaeger's `api_v2` `PostSpansRequest` (the jaeger receiver's gRPC port).
    JaegerSpans,
}

/// Upper estimate of the heap + struct bytes prost takes to decode `body` as the request message of
/// `schema` (ExportTraceServiceRequest / ExportMetricsServiceRequest / ExportLogsServiceRequest;
/// the zipkin receiver takes JSON only). Err(message) when the wire format is malformed (the caller then lets the
/// real decoder produce its usual error, so the message only needs to be short).
pub fn protobuf_decoded_bytes(schema: Schema, body: &[u8]) -> Result<u64, String> {
    let request = match schema {
        Schema::Traces => MessageType::TracesRequest,
        Schema::Metrics => MessageType::MetricsRequest,
        Schema::Logs => MessageType::LogsRequest,
        Schema::JaegerSpans => MessageType::JaegerRequest,
    };
    let decoded = request.struct_bytes() + heap_bytes(request, body, RECURSION_LIMIT)?;
    // A Jaeger request lives three times: as decoded, as the shared model, and as OTLP.
    Ok(if schema == Schema::JaegerSpans {
        decoded.saturating_mul(3)
    } else {
        decoded
    })
}

/// Upper estimate of the memory a JSON body takes while decoded (OTLP/JSON and Zipkin JSON).
pub fn json_decoded_bytes(body: &[u8]) -> u64 {
    let shape = JsonShape::of(body);
    // A Zipkin body is a list of spans, an OTLP one an object; each decoder refuses the other's shape
    // (the OTLP one only after building its tree, which is counted either way).
    let zipkin_list = body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    shape.tree_bytes() + shape.decoded_bytes(zipkin_list)
}

// ---------------------------------------------------------------------------------------------
// Protobuf: the messages and what each of their fields costs.

/// prost's `RECURSION_LIMIT`: a message nested deeper than this is refused by prost, and by the walk
/// at exactly the same depth (the walk must never refuse what prost decodes).
const RECURSION_LIMIT: u32 = 100;

/// How deep unknown groups may nest. prost allows at most 100 levels (each level spends one of its
/// recursion budget), so this never refuses a group prost skips.
const GROUP_NESTING_LIMIT: u32 = 100;

/// A decoded Zipkin span (from JSON). The receiver's `ZipkinSpan` is private to `zipkin::decode`
/// (about 344 bytes today: ids, name, kind, two endpoints with IP addresses, annotation and tag
/// lists); this leaves it room to grow.
const ZIPKIN_SPAN_BYTES: usize = 512;

/// The messages the walk knows; every other field is `FieldKind::Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MessageType {
    TracesRequest,
    ResourceSpans,
    ScopeSpans,
    Span,
    SpanEvent,
    SpanLink,
    Status,
    MetricsRequest,
    ResourceMetrics,
    ScopeMetrics,
    Metric,
    Gauge,
    Sum,
    Histogram,
    ExponentialHistogram,
    Summary,
    NumberDataPoint,
    HistogramDataPoint,
    ExponentialHistogramDataPoint,
    Buckets,
    SummaryDataPoint,
    ValueAtQuantile,
    Exemplar,
    LogsRequest,
    ResourceLogs,
    ScopeLogs,
    LogRecord,
    Resource,
    EntityRef,
    InstrumentationScope,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    JaegerRequest,
    JaegerBatch,
    JaegerSpan,
    JaegerSpanRef,
    JaegerProcess,
    JaegerLog,
    JaegerKeyValue,
}

/// How a field of a known message is stored once decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldKind {
    /// A singular sub-message (`Option<T>` or a oneof variant): stored inside its parent's struct, so
    /// only its own heap parts cost more. (None of the generated types boxes a sub-message.)
    Inline(MessageType),
    /// A repeated sub-message: one more `T` in a `Vec<T>`, plus its heap parts.
    Repeated(MessageType),
    /// `repeated string`: one more `String` in a `Vec<String>`, plus its bytes.
    RepeatedString,
    /// `repeated uint64` (packed varints, at least one byte each) decoded into a `Vec<u64>`.
    PackedVarints,
    /// `repeated fixed64` / `repeated double` (8 bytes each) decoded into a `Vec<u64>` / `Vec<f64>`.
    PackedFixed64,
    /// A scalar, string or bytes field, or one the table does not know (prost skips those).
    Other,
}

impl MessageType {
    /// The size of the decoded struct: what one more element of a `Vec` of it takes.
    fn struct_bytes(self) -> u64 {
        use MessageType as M;
        let bytes = match self {
            M::TracesRequest => size_of::<ExportTraceServiceRequest>(),
            M::ResourceSpans => size_of::<ResourceSpans>(),
            M::ScopeSpans => size_of::<ScopeSpans>(),
            M::Span => size_of::<Span>(),
            M::SpanEvent => size_of::<span::Event>(),
            M::SpanLink => size_of::<span::Link>(),
            M::Status => size_of::<Status>(),
            M::MetricsRequest => size_of::<ExportMetricsServiceRequest>(),
            M::ResourceMetrics => size_of::<ResourceMetrics>(),
            M::ScopeMetrics => size_of::<ScopeMetrics>(),
            M::Metric => size_of::<Metric>(),
            M::Gauge => size_of::<Gauge>(),
            M::Sum => size_of::<Sum>(),
            M::Histogram => size_of::<Histogram>(),
            M::ExponentialHistogram => size_of::<ExponentialHistogram>(),
            M::Summary => size_of::<Summary>(),
            M::NumberDataPoint => size_of::<NumberDataPoint>(),
            M::HistogramDataPoint => size_of::<HistogramDataPoint>(),
            M::ExponentialHistogramDataPoint => size_of::<ExponentialHistogramDataPoint>(),
            M::Buckets => size_of::<Buckets>(),
            M::SummaryDataPoint => size_of::<SummaryDataPoint>(),
            M::ValueAtQuantile => size_of::<ValueAtQuantile>(),
            M::Exemplar => size_of::<Exemplar>(),
            M::LogsRequest => size_of::<ExportLogsServiceRequest>(),
            M::ResourceLogs => size_of::<ResourceLogs>(),
            M::ScopeLogs => size_of::<ScopeLogs>(),
            M::LogRecord => size_of::<LogRecord>(),
            M::Resource => size_of::<Resource>(),
            M::EntityRef => size_of::<EntityRef>(),
            M::InstrumentationScope => size_of::<InstrumentationScope>(),
            M::KeyValue => size_of::<KeyValue>(),
            M::AnyValue => size_of::<AnyValue>(),
            M::ArrayValue => size_of::<ArrayValue>(),
            M::KeyValueList => size_of::<KeyValueList>(),
            M::JaegerRequest => size_of::<jaeger::PostSpansRequest>(),
            M::JaegerBatch => size_of::<jaeger::Batch>(),
            M::JaegerSpan => size_of::<jaeger::Span>(),
            M::JaegerSpanRef => size_of::<jaeger::SpanRef>(),
            M::JaegerProcess => size_of::<jaeger::Process>(),
            M::JaegerLog => size_of::<jaeger::Log>(),
            M::JaegerKeyValue => size_of::<jaeger::KeyValue>(),
        };
        bytes as u64
    }

    /// Field numbers as in the generated opentelemetry-proto code.
    fn field(self, number: u32) -> FieldKind {
        use FieldKind::{Inline, PackedFixed64, PackedVarints, Repeated, RepeatedString};
        use MessageType as M;
        match (self, number) {
            (M::TracesRequest, 1) => Repeated(M::ResourceSpans),
            (M::ResourceSpans, 1) => Inline(M::Resource),
            (M::ResourceSpans, 2) => Repeated(M::ScopeSpans),
            (M::ScopeSpans, 1) => Inline(M::InstrumentationScope),
            (M::ScopeSpans, 2) => Repeated(M::Span),
            (M::Span, 9) => Repeated(M::KeyValue),
            (M::Span, 11) => Repeated(M::SpanEvent),
            (M::Span, 13) => Repeated(M::SpanLink),
            (M::Span, 15) => Inline(M::Status),
            (M::SpanEvent, 3) | (M::SpanLink, 4) => Repeated(M::KeyValue),

            (M::MetricsRequest, 1) => Repeated(M::ResourceMetrics),
            (M::ResourceMetrics, 1) => Inline(M::Resource),
            (M::ResourceMetrics, 2) => Repeated(M::ScopeMetrics),
            (M::ScopeMetrics, 1) => Inline(M::InstrumentationScope),
            (M::ScopeMetrics, 2) => Repeated(M::Metric),
            (M::Metric, 5) => Inline(M::Gauge),
            (M::Metric, 7) => Inline(M::Sum),
            (M::Metric, 9) => Inline(M::Histogram),
            (M::Metric, 10) => Inline(M::ExponentialHistogram),
            (M::Metric, 11) => Inline(M::Summary),
            (M::Metric, 12) => Repeated(M::KeyValue),
            (M::Gauge, 1) | (M::Sum, 1) => Repeated(M::NumberDataPoint),
            (M::Histogram, 1) => Repeated(M::HistogramDataPoint),
            (M::ExponentialHistogram, 1) => Repeated(M::ExponentialHistogramDataPoint),
            (M::Summary, 1) => Repeated(M::SummaryDataPoint),
            (M::NumberDataPoint, 5) => Repeated(M::Exemplar),
            (M::NumberDataPoint, 7) => Repeated(M::KeyValue),
            (M::HistogramDataPoint, 6 | 7) => PackedFixed64,
            (M::HistogramDataPoint, 8) => Repeated(M::Exemplar),
            (M::HistogramDataPoint, 9) => Repeated(M::KeyValue),
            (M::ExponentialHistogramDataPoint, 1) => Repeated(M::KeyValue),
            (M::ExponentialHistogramDataPoint, 8 | 9) => Inline(M::Buckets),
            (M::ExponentialHistogramDataPoint, 11) => Repeated(M::Exemplar),
            (M::Buckets, 2) => PackedVarints,
            (M::SummaryDataPoint, 6) => Repeated(M::ValueAtQuantile),
            (M::SummaryDataPoint, 7) => Repeated(M::KeyValue),
            (M::Exemplar, 7) => Repeated(M::KeyValue),

            (M::LogsRequest, 1) => Repeated(M::ResourceLogs),
            (M::ResourceLogs, 1) => Inline(M::Resource),
            (M::ResourceLogs, 2) => Repeated(M::ScopeLogs),
            (M::ScopeLogs, 1) => Inline(M::InstrumentationScope),
            (M::ScopeLogs, 2) => Repeated(M::LogRecord),
            (M::LogRecord, 5) => Inline(M::AnyValue),
            (M::LogRecord, 6) => Repeated(M::KeyValue),

            (M::Resource, 1) => Repeated(M::KeyValue),
            (M::Resource, 3) => Repeated(M::EntityRef),
            (M::EntityRef, 3 | 4) => RepeatedString,
            (M::InstrumentationScope, 3) => Repeated(M::KeyValue),
            (M::KeyValue, 2) => Inline(M::AnyValue),
            (M::AnyValue, 5) => Inline(M::ArrayValue),
            (M::AnyValue, 6) => Inline(M::KeyValueList),
            (M::ArrayValue, 1) => Repeated(M::AnyValue),
            (M::KeyValueList, 1) => Repeated(M::KeyValue),

            // Jaeger api_v2 (timestamps and durations hold scalars only: `Other` bounds them).
            (M::JaegerRequest, 1) => Inline(M::JaegerBatch),
            (M::JaegerBatch, 1) => Repeated(M::JaegerSpan),
            (M::JaegerBatch, 2) | (M::JaegerSpan, 10) => Inline(M::JaegerProcess),
            (M::JaegerSpan, 4) => Repeated(M::JaegerSpanRef),
            (M::JaegerSpan, 8) | (M::JaegerProcess, 2) | (M::JaegerLog, 2) => Repeated(M::JaegerKeyValue),
            (M::JaegerSpan, 9) => Repeated(M::JaegerLog),
            (M::JaegerSpan, 12) => RepeatedString,

            _ => FieldKind::Other,
        }
    }
}

/// The heap bytes prost allocates for the fields of one `message` (its struct is counted by whoever
/// holds it). `depth_left` mirrors prost's `DecodeContext`: a sub-message needs it above zero.
fn heap_bytes(message: MessageType, mut input: &[u8], depth_left: u32) -> Result<u64, String> {
    let mut heap = 0;
    let mut vecs = VecGrowth::default();
    while !input.is_empty() {
        let (number, wire_type) = read_key(&mut input)?;
        heap += match message.field(number) {
            FieldKind::Inline(child) => sub_message_heap(&mut input, wire_type, child, depth_left)?,
            FieldKind::Repeated(child) => {
                sub_message_heap(&mut input, wire_type, child, depth_left)? + vecs.push(number, 1, child.struct_bytes())
            }
            FieldKind::RepeatedString => {
                let len = skip_value(&mut input, wire_type, number, GROUP_NESTING_LIMIT)?;
                string_heap(len) + vecs.push(number, 1, size_of::<String>() as u64)
            }
            kind @ (FieldKind::PackedVarints | FieldKind::PackedFixed64) => {
                let len = skip_value(&mut input, wire_type, number, GROUP_NESTING_LIMIT)?;
                let elements = match (wire_type, kind) {
                    (WireType::Len, FieldKind::PackedVarints) => len,
                    (WireType::Len, _) => len.div_ceil(8),
                    // One element sent unpacked.
                    _ => 1,
                };
                vecs.push(number, elements, 8)
            }
            // Unknown fields are skipped by prost, so 0 would be exact for them; their payload is a
            // safe bound that needs no list of every scalar field.
            FieldKind::Other => string_heap(skip_value(&mut input, wire_type, number, GROUP_NESTING_LIMIT)?),
        };
    }
    Ok(heap)
}

/// Reads a sub-message's payload and walks it, refusing it exactly as prost's `message::merge` does.
fn sub_message_heap(input: &mut &[u8], wire_type: WireType, child: MessageType, depth_left: u32) -> Result<u64, String> {
    if wire_type != WireType::Len {
        return Err(format!("{child:?} is not length-delimited"));
    }
    if depth_left == 0 {
        return Err(format!("messages nested deeper than {RECURSION_LIMIT}"));
    }
    let len = read_varint(input)?;
    let payload = take(input, len)?;
    heap_bytes(child, payload, depth_left - 1)
}

/// A string or bytes field of `len` bytes: prost reserves `len` in an empty `Vec<u8>`, and a first
/// allocation is at least 8 bytes (RawVec's minimum for 1-byte elements).
fn string_heap(len: u64) -> u64 {
    if len == 0 {
        0
    } else {
        len.max(8)
    }
}

/// The `Vec`s of one message: prost pushes repeated elements one by one, and a `Vec` doubles its
/// capacity when full, so it holds at most 2 slots per element. Its first allocation is 4 slots
/// (RawVec's minimum for elements up to 1 KiB): the first push into each field pays 2 more.
#[derive(Default)]
struct VecGrowth {
    /// Bit n: field n has had an element in this message.
    fields_seen: u64,
}

impl VecGrowth {
    /// Bytes for `elements` more elements of `element_bytes` each in field `number`.
    fn push(&mut self, number: u32, elements: u64, element_bytes: u64) -> u64 {
        let first_allocation = match 1u64.checked_shl(number) {
            Some(bit) => {
                let first = (self.fields_seen & bit) == 0;
                self.fields_seen |= bit;
                first
            }
            // No known repeated field is numbered 64 or more: charge as if first, to stay above.
            None => true,
        };
        let slots = 2 * elements + if first_allocation { 2 } else { 0 };
        slots * element_bytes
    }
}

// ---------------------------------------------------------------------------------------------
// Protobuf wire format, read as prost reads it.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WireType {
    Varint,
    Fixed64,
    Len,
    StartGroup,
    EndGroup,
    Fixed32,
}

/// A field's number and wire type, refused where prost's `decode_key` refuses it.
fn read_key(input: &mut &[u8]) -> Result<(u32, WireType), String> {
    let key = read_varint(input)?;
    if key > u64::from(u32::MAX) {
        return Err("field key out of range".into());
    }
    let wire_type = match key & 7 {
        0 => WireType::Varint,
        1 => WireType::Fixed64,
        2 => WireType::Len,
        3 => WireType::StartGroup,
        4 => WireType::EndGroup,
        5 => WireType::Fixed32,
        other => return Err(format!("wire type {other} does not exist")),
    };
    let number = (key >> 3) as u32;
    if number == 0 {
        return Err("field number 0".into());
    }
    Ok((number, wire_type))
}

/// A varint of at most 10 bytes. prost also refuses a 10th byte above 1; accepting it here only
/// makes the walk more lenient than prost, never stricter.
fn read_varint(input: &mut &[u8]) -> Result<u64, String> {
    let bytes = *input;
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte < 0x80 {
            *input = &bytes[index + 1..];
            return Ok(value);
        }
    }
    let problem = if bytes.len() < 10 {
        "truncated varint"
    } else {
        "varint longer than 10 bytes"
    };
    Err(problem.into())
}

/// The next `len` bytes.
fn take<'a>(input: &mut &'a [u8], len: u64) -> Result<&'a [u8], String> {
    let bytes = *input;
    let len = usize::try_from(len)
        .ok()
        .filter(|len| *len <= bytes.len())
        .ok_or("length past the end of the message")?;
    let (head, rest) = bytes.split_at(len);
    *input = rest;
    Ok(head)
}

/// Skips one value as prost's `skip_field` does; the payload length of a length-delimited one.
fn skip_value(input: &mut &[u8], wire_type: WireType, number: u32, groups_left: u32) -> Result<u64, String> {
    match wire_type {
        WireType::Varint => read_varint(input).map(|_| 0),
        WireType::Fixed64 => take(input, 8).map(|_| 0),
        WireType::Fixed32 => take(input, 4).map(|_| 0),
        WireType::Len => {
            let len = read_varint(input)?;
            take(input, len)?;
            Ok(len)
        }
        // An unknown group is skipped by prost, not refused: refusing it would let a body skip the
        // budget. Its content is dropped, so it costs nothing.
        WireType::StartGroup => {
            if groups_left == 0 {
                return Err(format!("groups nested deeper than {GROUP_NESTING_LIMIT}"));
            }
            skip_group(input, number, groups_left - 1).map(|()| 0)
        }
        WireType::EndGroup => Err("end of a group that did not start".into()),
    }
}

/// Skips a group's fields up to its end tag, which must carry the group's own number.
fn skip_group(input: &mut &[u8], number: u32, groups_left: u32) -> Result<(), String> {
    loop {
        let (inner, wire_type) = read_key(input)?;
        if wire_type == WireType::EndGroup {
            return if inner == number {
                Ok(())
            } else {
                Err("group ended by another field's tag".into())
            };
        }
        skip_value(input, wire_type, inner, groups_left)?;
    }
}

// ---------------------------------------------------------------------------------------------
// JSON: the serde_json tree (OTLP/JSON decodes a `serde_json::Value` first, see
// `pdata::json::common::decode_with`) and the structs made from it.

/// One JSON value in the tree, inline in its parent's `Vec` or map node.
const JSON_VALUE_BYTES: u64 = size_of::<serde_json::Value>() as u64;

/// Entries a std `BTreeMap` node holds at most (2B - 1 with B = 6). serde_json's `Map` is a
/// `BTreeMap<String, Value>` here: its `preserve_order` feature is off.
const BTREE_NODE_ENTRIES: usize = 11;

/// A leaf node: 11 keys and values, the parent pointer, the index in the parent and the length.
const BTREE_LEAF_BYTES: u64 = (BTREE_NODE_ENTRIES * (size_of::<String>() + size_of::<serde_json::Value>()) + 16) as u64;

/// An internal node: a leaf and 12 child pointers.
const BTREE_INTERNAL_BYTES: u64 = BTREE_LEAF_BYTES + (BTREE_NODE_ENTRIES as u64 + 1) * 8;

/// Every node but the root holds at least 5 entries, so an object of n > 11 entries has at most
/// 1 + (n - 1) / 5 nodes: a leaf plus this per entry covers them (632 + 146n >= 728 + 145.6(n - 1)).
const BTREE_BYTES_PER_ENTRY: u64 = BTREE_INTERNAL_BYTES.div_ceil(5);

/// The largest struct a JSON object in a list may become (an element of a `Vec`); objects that are a
/// field's value are stored inline in their parent and cost no struct of their own.
const LARGEST_OTLP_STRUCT: u64 = largest(&[
    size_of::<ResourceSpans>(),
    size_of::<ScopeSpans>(),
    size_of::<Span>(),
    size_of::<span::Event>(),
    size_of::<span::Link>(),
    size_of::<ResourceMetrics>(),
    size_of::<ScopeMetrics>(),
    size_of::<Metric>(),
    size_of::<NumberDataPoint>(),
    size_of::<HistogramDataPoint>(),
    size_of::<ExponentialHistogramDataPoint>(),
    size_of::<SummaryDataPoint>(),
    size_of::<ValueAtQuantile>(),
    size_of::<Exemplar>(),
    size_of::<ResourceLogs>(),
    size_of::<ScopeLogs>(),
    size_of::<LogRecord>(),
    size_of::<EntityRef>(),
    size_of::<KeyValue>(),
    size_of::<AnyValue>(),
]);

const fn largest(sizes: &[usize]) -> u64 {
    let mut max = 0;
    let mut index = 0;
    while index < sizes.len() {
        if sizes[index] > max {
            max = sizes[index];
        }
        index += 1;
    }
    max as u64
}

/// What one pass over a JSON body counts, outside strings unless said otherwise.
#[derive(Default, Debug)]
#[cfg_attr(test, derive(PartialEq))]
struct JsonShape {
    /// Objects that are the body or an element of a list: each becomes a struct in a `Vec`.
    element_objects: u64,
    /// Objects with at least one entry: each has a B-tree node in the tree.
    filled_objects: u64,
    /// Object entries (`:`).
    entries: u64,
    /// Lists (`[`).
    lists: u64,
    /// Commas: with `lists`, a bound on the number of list elements.
    commas: u64,
    /// Bytes inside strings, escapes included.
    string_bytes: u64,
}

/// What the shape scan remembers between structural bytes outside strings.
#[derive(Default)]
struct Structure {
    /// The last structural byte: an object after a `:` is a field's value, not a list element.
    previous: u8,
    /// The first `:` after a `{` is that object's first entry: a key comes before any nested value.
    object_awaits_entry: bool,
}

impl Structure {
    /// Counts one byte outside strings (other than the quote that opens one).
    fn count(&mut self, shape: &mut JsonShape, byte: u8) {
        match byte {
            b'{' => {
                if self.previous != b':' {
                    shape.element_objects += 1;
                }
                self.object_awaits_entry = true;
            }
            b'}' => self.object_awaits_entry = false,
            b':' => {
                shape.entries += 1;
                if self.object_awaits_entry {
                    shape.filled_objects += 1;
                    self.object_awaits_entry = false;
                }
            }
            b'[' => shape.lists += 1,
            b',' => shape.commas += 1,
            b']' => {}
            // Whitespace, numbers, literals.
            _ => return,
        }
        self.previous = byte;
    }
}

impl JsonShape {
    fn of(body: &[u8]) -> JsonShape {
        let mut shape = JsonShape::default();
        let mut structure = Structure::default();
        let mut at = 0;
        while at < body.len() {
            let byte = body[at];
            at += 1;
            if byte != b'"' {
                structure.count(&mut shape, byte);
                continue;
            }
            // Strings are most of an OTLP body (ids, keys, values): jump from one quote or
            // backslash to the next, which memchr finds many bytes at a time.
            let start = at;
            loop {
                match memchr::memchr2(b'"', b'\\', body.get(at..).unwrap_or_default()) {
                    Some(offset) if body[at + offset] == b'\\' => at += offset + 2,
                    Some(offset) => {
                        at += offset;
                        break;
                    }
                    None => {
                        at = body.len();
                        break;
                    }
                }
            }
            // The string's bytes, escapes included; an escape cut off at the end of the body
            // counts only what is there.
            at = at.min(body.len());
            shape.string_bytes += (at - start) as u64;
            at += 1; // the closing quote
        }
        shape
    }

    /// Every list element but the first follows a comma (commas between entries only add to it).
    fn list_elements(&self) -> u64 {
        self.commas + self.lists
    }

    /// The `serde_json::Value` tree.
    fn tree_bytes(&self) -> u64 {
        // Lists are `Vec<Value>` filled by push: 2 slots per element, 2 more per list (first allocation of 4).
        let lists = 2 * (self.list_elements() + self.lists) * JSON_VALUE_BYTES;
        let objects = self.filled_objects * BTREE_LEAF_BYTES + self.entries * BTREE_BYTES_PER_ENTRY;
        // Keys and strings are copied exactly; serde_json's scratch buffer for strings with escapes
        // is at most the longest string.
        let strings = 2 * self.string_bytes;
        JSON_VALUE_BYTES + lists + objects + strings
    }

    /// The structs decoded from the tree (OTLP) or straight from the body (Zipkin, which has no tree).
    fn decoded_bytes(&self, zipkin_list: bool) -> u64 {
        let (element_struct, entry_struct) = if zipkin_list {
            // Spans and annotations are list elements; tags become (key, value) pairs in a Vec.
            (
                LARGEST_OTLP_STRUCT.max(ZIPKIN_SPAN_BYTES as u64),
                size_of::<(String, String)>() as u64,
            )
        } else {
            (LARGEST_OTLP_STRUCT, 0)
        };
        // As in the tree: 2 slots per element, 2 more per list.
        let structs = 2 * (self.element_objects + self.lists) * element_struct;
        // Numbers in lists (bucketCounts, explicitBounds) become 8-byte elements.
        let numbers = 2 * (self.list_elements() + self.lists) * 8;
        let zipkin_tags = 2 * self.entries * entry_struct;
        // Strings are copied once more; hex ids and base64 decode to fewer bytes.
        structs + numbers + zipkin_tags + self.string_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{now_ns, Generator};
    use crate::pdata::json::{decode_logs, decode_metrics, decode_traces, encode_logs, encode_metrics, encode_traces};
    use opentelemetry_proto::tonic::common::v1::any_value;
    use opentelemetry_proto::tonic::metrics::v1::{exemplar, metric, number_data_point};
    use prost::Message;

    /// What a decoded value really holds on the heap, by capacity (its own struct not included).
    trait Heap {
        fn heap(&self) -> usize;
    }

    impl Heap for u8 {
        fn heap(&self) -> usize {
            0
        }
    }

    impl Heap for u64 {
        fn heap(&self) -> usize {
            0
        }
    }

    impl Heap for f64 {
        fn heap(&self) -> usize {
            0
        }
    }

    impl Heap for String {
        fn heap(&self) -> usize {
            self.capacity()
        }
    }

    impl<T: Heap> Heap for Vec<T> {
        fn heap(&self) -> usize {
            self.capacity() * size_of::<T>() + self.iter().map(T::heap).sum::<usize>()
        }
    }

    impl<T: Heap> Heap for Option<T> {
        fn heap(&self) -> usize {
            self.as_ref().map_or(0, T::heap)
        }
    }

    macro_rules! heap_of_fields {
        ($($type:ty => $($field:ident),*;)*) => {
            $(impl Heap for $type {
                fn heap(&self) -> usize {
                    0 $(+ self.$field.heap())*
                }
            })*
        };
    }

    heap_of_fields! {
        ExportTraceServiceRequest => resource_spans;
        ResourceSpans => resource, scope_spans, schema_url;
        ScopeSpans => scope, spans, schema_url;
        Span => trace_id, span_id, trace_state, parent_span_id, name, attributes, events, links, status;
        span::Event => name, attributes;
        span::Link => trace_id, span_id, trace_state, attributes;
        Status => message;
        ExportMetricsServiceRequest => resource_metrics;
        ResourceMetrics => resource, scope_metrics, schema_url;
        ScopeMetrics => scope, metrics, schema_url;
        NumberDataPoint => attributes, exemplars;
        HistogramDataPoint => attributes, bucket_counts, explicit_bounds, exemplars;
        ExponentialHistogramDataPoint => attributes, positive, negative, exemplars;
        Buckets => bucket_counts;
        SummaryDataPoint => attributes, quantile_values;
        ValueAtQuantile => ;
        Exemplar => filtered_attributes, span_id, trace_id;
        ExportLogsServiceRequest => resource_logs;
        ResourceLogs => resource, scope_logs, schema_url;
        ScopeLogs => scope, log_records, schema_url;
        LogRecord => severity_text, body, attributes, trace_id, span_id, event_name;
        Resource => attributes, entity_refs;
        EntityRef => schema_url, r#type, id_keys, description_keys;
        InstrumentationScope => name, version, attributes;
        KeyValue => key, value;
    }

    impl Heap for AnyValue {
        fn heap(&self) -> usize {
            use any_value::Value as V;
            match &self.value {
                Some(V::StringValue(text)) => text.heap(),
                Some(V::BytesValue(bytes)) => bytes.heap(),
                Some(V::ArrayValue(array)) => array.values.heap(),
                Some(V::KvlistValue(list)) => list.values.heap(),
                _ => 0,
            }
        }
    }

    impl Heap for Metric {
        fn heap(&self) -> usize {
            let data = match &self.data {
                Some(metric::Data::Gauge(gauge)) => gauge.data_points.heap(),
                Some(metric::Data::Sum(sum)) => sum.data_points.heap(),
                Some(metric::Data::Histogram(histogram)) => histogram.data_points.heap(),
                Some(metric::Data::ExponentialHistogram(histogram)) => histogram.data_points.heap(),
                Some(metric::Data::Summary(summary)) => summary.data_points.heap(),
                None => 0,
            };
            self.name.heap() + self.description.heap() + self.unit.heap() + self.metadata.heap() + data
        }
    }

    fn real_bytes<T: Heap>(decoded: &T) -> u64 {
        (size_of::<T>() + decoded.heap()) as u64
    }

    /// Checks that the estimate for `request`'s encoding covers what prost really allocates, and
    /// returns it divided by the body's length.
    fn estimate_and_check<T: Message + Default + Heap>(schema: Schema, request: &T, what: &str) -> f64 {
        let body = request.encode_to_vec();
        let estimate = protobuf_decoded_bytes(schema, &body).expect("a valid body has an estimate");
        let real = real_bytes(&T::decode(&body[..]).expect("prost decodes its own encoding"));
        let ratio = estimate as f64 / body.len() as f64;
        eprintln!(
            "{what}: body {} B, decoded {real} B, estimate {estimate} B = {ratio:.2}x the body, {:.2}x the decoded size",
            body.len(),
            estimate as f64 / real as f64
        );
        assert!(estimate >= real, "{what}: estimate {estimate} below the decoded {real} bytes");
        ratio
    }

    fn attribute(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn every_value_kind() -> Vec<KeyValue> {
        use any_value::Value as V;
        vec![
            attribute("s", V::StringValue("a".into())),
            attribute("b", V::BoolValue(true)),
            attribute("i", V::IntValue(-1)),
            attribute("d", V::DoubleValue(0.5)),
            attribute("bytes", V::BytesValue(vec![1, 2, 3])),
            attribute(
                "array",
                V::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(V::StringValue("x".into())),
                        },
                        AnyValue::default(),
                    ],
                }),
            ),
            attribute(
                "map",
                V::KvlistValue(KeyValueList {
                    values: vec![attribute("inner", V::IntValue(1)), KeyValue::default()],
                }),
            ),
        ]
    }

    fn resource_with_entities() -> Resource {
        Resource {
            attributes: every_value_kind(),
            dropped_attributes_count: 0,
            entity_refs: vec![EntityRef {
                schema_url: "u".into(),
                r#type: "service".into(),
                id_keys: vec!["service.name".into(), "a".into(), String::new()],
                description_keys: vec!["x".into()],
            }],
        }
    }

    fn scope() -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: "scope".into(),
            version: "1".into(),
            attributes: every_value_kind(),
            dropped_attributes_count: 0,
        })
    }

    fn rich_trace() -> ExportTraceServiceRequest {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            parent_span_id: vec![3; 8],
            trace_state: "k=v".into(),
            name: "GET /".into(),
            kind: 2,
            attributes: every_value_kind(),
            events: vec![
                span::Event {
                    name: "e".into(),
                    attributes: every_value_kind(),
                    ..Default::default()
                };
                3
            ],
            links: vec![span::Link {
                trace_id: vec![4; 16],
                span_id: vec![5; 8],
                attributes: every_value_kind(),
                ..Default::default()
            }],
            status: Some(Status {
                message: "failed".into(),
                code: 2,
            }),
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource_with_entities()),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans: vec![span; 5],
                    schema_url: "u".into(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn rich_logs() -> ExportLogsServiceRequest {
        let record = LogRecord {
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: every_value_kind(),
                })),
            }),
            attributes: every_value_kind(),
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            event_name: "e".into(),
            ..Default::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(resource_with_entities()),
                scope_logs: vec![ScopeLogs {
                    scope: scope(),
                    log_records: vec![record; 4],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn every_metric_kind() -> ExportMetricsServiceRequest {
        let exemplars = vec![Exemplar {
            filtered_attributes: every_value_kind(),
            span_id: vec![1; 8],
            trace_id: vec![2; 16],
            value: Some(exemplar::Value::AsDouble(1.5)),
            ..Default::default()
        }];
        let number_point = NumberDataPoint {
            attributes: every_value_kind(),
            exemplars: exemplars.clone(),
            value: Some(number_data_point::Value::AsInt(7)),
            ..Default::default()
        };
        let metric_of = |name: &str, data: metric::Data| Metric {
            name: name.into(),
            description: "d".into(),
            unit: "1".into(),
            metadata: every_value_kind(),
            data: Some(data),
        };
        let metrics = vec![
            metric_of(
                "gauge",
                metric::Data::Gauge(Gauge {
                    data_points: vec![number_point.clone()],
                }),
            ),
            metric_of(
                "sum",
                metric::Data::Sum(Sum {
                    data_points: vec![number_point; 3],
                    aggregation_temporality: 2,
                    is_monotonic: true,
                }),
            ),
            metric_of(
                "histogram",
                metric::Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        attributes: every_value_kind(),
                        bucket_counts: vec![1; 100],
                        explicit_bounds: vec![0.5; 99],
                        exemplars: exemplars.clone(),
                        sum: Some(1.0),
                        min: Some(0.0),
                        max: Some(2.0),
                        ..Default::default()
                    }],
                    aggregation_temporality: 1,
                }),
            ),
            metric_of(
                "exponential",
                metric::Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        attributes: every_value_kind(),
                        // 1-byte varints: the worst case of packed varints.
                        positive: Some(Buckets {
                            offset: -3,
                            bucket_counts: vec![1; 1000],
                        }),
                        negative: Some(Buckets {
                            offset: 0,
                            bucket_counts: vec![300; 5],
                        }),
                        exemplars,
                        ..Default::default()
                    }],
                    aggregation_temporality: 2,
                }),
            ),
            metric_of(
                "summary",
                metric::Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint {
                        attributes: every_value_kind(),
                        quantile_values: vec![
                            ValueAtQuantile { quantile: 0.5, value: 1.0 },
                            ValueAtQuantile {
                                quantile: 0.99,
                                value: 2.0,
                            },
                        ],
                        count: 2,
                        sum: 3.0,
                        ..Default::default()
                    }],
                }),
            ),
        ];
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource_with_entities()),
                scope_metrics: vec![ScopeMetrics {
                    scope: scope(),
                    metrics,
                    schema_url: "u".into(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    #[test]
    fn one_empty_resource_spans_costs_the_first_allocation_of_its_vec() {
        let estimate = protobuf_decoded_bytes(Schema::Traces, &[0x0a, 0x00]).unwrap();
        let expected = size_of::<ExportTraceServiceRequest>() + 4 * size_of::<ResourceSpans>();
        assert_eq!(estimate, expected as u64);
        assert_eq!(
            protobuf_decoded_bytes(Schema::Traces, &[]).unwrap(),
            size_of::<ExportTraceServiceRequest>() as u64
        );
    }

    #[test]
    fn empty_resource_spans_are_charged_their_decoded_size() {
        let body = [0x0a_u8, 0x00].repeat(1_000_000);
        let estimate = protobuf_decoded_bytes(Schema::Traces, &body).unwrap();
        eprintln!(
            "1,000,000 empty ResourceSpans: {:.1}x the body",
            estimate as f64 / body.len() as f64
        );
        assert!(estimate >= 40 * body.len() as u64, "{estimate} for {} bytes", body.len());

        let body = [0x0a_u8, 0x00].repeat(100_000);
        let real = real_bytes(&ExportTraceServiceRequest::decode(&body[..]).unwrap());
        assert!(protobuf_decoded_bytes(Schema::Traces, &body).unwrap() >= real);

        for schema in [Schema::Metrics, Schema::Logs] {
            let estimate = protobuf_decoded_bytes(schema, &[0x0a_u8, 0x00].repeat(1000)).unwrap();
            assert!(estimate >= 40 * 2000, "{schema:?}: {estimate}");
        }
    }

    #[test]
    fn empty_json_objects_are_charged_their_decoded_size() {
        let objects = vec!["{}"; 1_000_000].join(",");
        for body in [format!("{{\"resourceSpans\":[{objects}]}}"), format!("[{objects}]")] {
            let estimate = json_decoded_bytes(body.as_bytes());
            eprintln!("{}...: {:.1}x the body", &body[..20], estimate as f64 / body.len() as f64);
            assert!(estimate >= 40 * body.len() as u64, "{estimate} for {} bytes", body.len());
        }
    }

    #[test]
    fn realistic_requests_are_bounded_above_without_absurd_margins() {
        let mut generator = Generator::new(1);
        let ratios = [
            estimate_and_check(Schema::Traces, &generator.traces_request(2000), "traces"),
            estimate_and_check(Schema::Logs, &generator.logs_request(2000), "logs"),
            estimate_and_check(Schema::Metrics, &generator.metrics_request(now_ns(), 1_000_000_000), "metrics"),
        ];
        for ratio in ratios {
            assert!((1.0..=12.0).contains(&ratio), "estimate is {ratio:.2}x the body");
        }
    }

    #[test]
    fn every_message_kind_is_bounded_above() {
        estimate_and_check(Schema::Traces, &rich_trace(), "every trace message");
        estimate_and_check(Schema::Logs, &rich_logs(), "every log message");
        estimate_and_check(Schema::Metrics, &every_metric_kind(), "every metric kind");
    }

    fn check_json<T: Heap>(what: &str, json: &[u8], decoded: T, protobuf_estimate: u64) {
        let estimate = json_decoded_bytes(json);
        let real = real_bytes(&decoded);
        eprintln!(
            "{what} as JSON: body {} B, estimate {estimate} B = {:.2}x the body, {:.2}x the protobuf estimate",
            json.len(),
            estimate as f64 / json.len() as f64,
            estimate as f64 / protobuf_estimate as f64
        );
        assert!(
            estimate >= protobuf_estimate,
            "{what}: {estimate} below the protobuf estimate {protobuf_estimate}"
        );
        assert!(estimate >= real, "{what}: {estimate} below the decoded structs' {real} bytes");
    }

    #[test]
    fn json_estimate_covers_the_same_request_decoded_from_protobuf() {
        let mut generator = Generator::new(1);

        let traces = generator.traces_request(2000);
        let json = serde_json::to_vec(&encode_traces(&traces)).unwrap();
        let protobuf = protobuf_decoded_bytes(Schema::Traces, &traces.encode_to_vec()).unwrap();
        check_json("traces", &json, decode_traces(&json).unwrap(), protobuf);

        let logs = generator.logs_request(2000);
        let json = serde_json::to_vec(&encode_logs(&logs)).unwrap();
        let protobuf = protobuf_decoded_bytes(Schema::Logs, &logs.encode_to_vec()).unwrap();
        check_json("logs", &json, decode_logs(&json).unwrap(), protobuf);

        let metrics = every_metric_kind();
        let json = serde_json::to_vec(&encode_metrics(&metrics)).unwrap();
        let protobuf = protobuf_decoded_bytes(Schema::Metrics, &metrics.encode_to_vec()).unwrap();
        check_json("every metric kind", &json, decode_metrics(&json).unwrap(), protobuf);
    }

    /// The shape scan with strings walked byte by byte, as before they were skipped with memchr:
    /// the oracle for the string skipping.
    fn shape_byte_by_byte(body: &[u8]) -> JsonShape {
        let mut shape = JsonShape::default();
        let mut structure = Structure::default();
        let (mut in_string, mut escaped) = (false, false);
        for &byte in body {
            if in_string {
                if escaped {
                    escaped = false;
                } else if byte == b'\\' {
                    escaped = true;
                } else if byte == b'"' {
                    in_string = false;
                    continue;
                }
                shape.string_bytes += 1;
            } else if byte == b'"' {
                in_string = true;
            } else {
                structure.count(&mut shape, byte);
            }
        }
        shape
    }

    #[test]
    fn the_shape_scan_counts_what_a_byte_by_byte_scan_counts() {
        let mut bodies: Vec<Vec<u8>> = [
            &br#"{"key":"abcdefgh"}"#[..],
            br#"{"key":"{[,:}]\"","list":[{"a":1},{"b":"\\"},[]]}"#,
            br#"{"cut":"escape at the end\"#,
            br#"{"cut":"no closing quote"#,
            br#"["\\\\","\\\"",""]"#,
            b"\"",
            b"\\",
            b"",
        ]
        .iter()
        .map(|body| body.to_vec())
        .collect();
        bodies.push(serde_json::to_vec(&encode_traces(&Generator::new(3).traces_request(50))).unwrap());
        for body in &bodies {
            assert_eq!(JsonShape::of(body), shape_byte_by_byte(body), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn json_structure_inside_strings_is_not_counted() {
        let plain = json_decoded_bytes(br#"{"key":"abcdefgh"}"#);
        let tricky = json_decoded_bytes(br#"{"key":"{[,:}]\""}"#);
        assert_eq!(plain, tricky);
    }

    #[test]
    fn malformed_bodies_are_refused_only_where_prost_refuses_them_too() {
        let malformed: &[(&str, &[u8])] = &[
            ("truncated key", &[0x8a]),
            ("missing length", &[0x0a]),
            ("truncated length", &[0x0a, 0x80]),
            ("length past the end", &[0x0a, 0x05, 0x00]),
            ("length past the end of its sub-message", &[0x0a, 0x02, 0x12, 0x05]),
            ("group wire type on a message field", &[0x0b, 0x0c]),
            ("group wire type on a nested message field", &[0x0a, 0x02, 0x0b, 0x0c]),
            ("varint on a message field", &[0x08, 0x01]),
            ("end of a group that did not start", &[0x14]),
            ("unterminated unknown group", &[0x13]),
            ("unknown group ended by another field", &[0x13, 0x1c]),
            ("wire type 7", &[0x0f]),
            ("field number 0", &[0x00, 0x00]),
            (
                "varint of 11 bytes",
                &[0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for (what, body) in malformed {
            assert!(protobuf_decoded_bytes(Schema::Traces, body).is_err(), "{what}");
            assert!(ExportTraceServiceRequest::decode(*body).is_err(), "prost decodes {what}");
        }
    }

    #[test]
    fn unknown_fields_and_groups_are_skipped_as_prost_skips_them() {
        // Field 2 is unknown to ExportTraceServiceRequest: a group holding a group, a varint, a
        // fixed64 and a string; then the amplification.
        let mut body = vec![0x13, 0x1b, 0x1c, 0x14, 0x10, 0x05, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x01, b'x'];
        body.extend([0x0a_u8, 0x00].repeat(100_000));
        let decoded = ExportTraceServiceRequest::decode(&body[..]).expect("prost skips unknown fields");
        assert_eq!(decoded.resource_spans.len(), 100_000);
        let estimate = protobuf_decoded_bytes(Schema::Traces, &body).expect("skipped too");
        assert!(estimate >= real_bytes(&decoded));
        assert!(estimate >= 40 * body.len() as u64);
    }

    fn nested_attribute(levels: usize) -> KeyValue {
        let mut attribute = KeyValue {
            key: "leaf".into(),
            ..Default::default()
        };
        for _ in 0..levels {
            attribute = KeyValue {
                key: "k".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::KvlistValue(KeyValueList { values: vec![attribute] })),
                }),
                ..Default::default()
            };
        }
        attribute
    }

    #[test]
    fn nesting_is_refused_exactly_where_prost_refuses_it() {
        let mut refusals = Vec::new();
        // The span's attribute is 4 messages deep, each level 3 more: 79 to 124 deep.
        for levels in 25..=40 {
            let span = Span {
                attributes: vec![nested_attribute(levels)],
                ..Default::default()
            };
            let request = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![span],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            let body = request.encode_to_vec();
            let refused = protobuf_decoded_bytes(Schema::Traces, &body).is_err();
            let refused_by_prost = ExportTraceServiceRequest::decode(&body[..]).is_err();
            assert_eq!(refused, refused_by_prost, "{levels} levels");
            refusals.push(refused);
        }
        assert!(refusals.contains(&true) && refusals.contains(&false));
    }

    /// Every prefix and many one-byte corruptions of `body`: no panic, no refusal of a body prost
    /// decodes, and an estimate above what prost allocates for those it does.
    fn check_corruptions<T: Message + Default + Heap>(schema: Schema, body: &[u8]) {
        let check = |bytes: &[u8]| match (protobuf_decoded_bytes(schema, bytes), T::decode(bytes)) {
            (Err(message), Ok(_)) => panic!("{schema:?}: refused ({message}) a {}-byte body prost decodes", bytes.len()),
            (Ok(estimate), Ok(decoded)) => {
                let real = real_bytes(&decoded);
                assert!(estimate >= real, "{schema:?}: estimate {estimate} below the decoded {real} bytes");
            }
            _ => {}
        };
        for end in 0..=body.len() {
            check(&body[..end]);
        }
        let mut corrupted = body.to_vec();
        for at in 0..body.len() {
            for flip in [0x80, 0x07, 0xff] {
                corrupted[at] ^= flip;
                check(&corrupted[..]);
                corrupted[at] ^= flip;
            }
        }
    }

    #[test]
    fn prefixes_and_corruptions_never_panic_nor_refuse_what_prost_decodes() {
        let mut generator = Generator::new(3);
        check_corruptions::<ExportTraceServiceRequest>(Schema::Traces, &generator.traces_request(1).encode_to_vec());
        check_corruptions::<ExportTraceServiceRequest>(Schema::Traces, &rich_trace().encode_to_vec());
        check_corruptions::<ExportLogsServiceRequest>(Schema::Logs, &rich_logs().encode_to_vec());
        check_corruptions::<ExportMetricsServiceRequest>(Schema::Metrics, &generator.metrics_request(now_ns(), 3).encode_to_vec());
        check_corruptions::<ExportMetricsServiceRequest>(Schema::Metrics, &every_metric_kind().encode_to_vec());
    }

    #[test]
    fn estimates_grow_linearly_with_the_body() {
        let request = Generator::new(1).traces_request(1000);
        let body = request.encode_to_vec();
        // Concatenated protobuf messages decode as one with both lists.
        let twice = [body.as_slice(), body.as_slice()].concat();
        let growth =
            protobuf_decoded_bytes(Schema::Traces, &twice).unwrap() as f64 / protobuf_decoded_bytes(Schema::Traces, &body).unwrap() as f64;
        assert!(
            (1.95..=2.05).contains(&growth),
            "protobuf: doubling the body multiplied the estimate by {growth:.3}"
        );

        let merged = ExportTraceServiceRequest::decode(&twice[..]).unwrap();
        let json_once = serde_json::to_vec(&encode_traces(&request)).unwrap();
        let json_twice = serde_json::to_vec(&encode_traces(&merged)).unwrap();
        let growth = json_decoded_bytes(&json_twice) as f64 / json_decoded_bytes(&json_once) as f64;
        assert!(
            (1.95..=2.05).contains(&growth),
            "JSON: doubling the body multiplied the estimate by {growth:.3}"
        );
    }
}
