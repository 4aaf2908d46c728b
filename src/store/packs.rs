//! Span packs: the spans of one aligned range of span row ids, encoded column by column and
//! compressed as one zstd frame.
//!
//! A span row costs about 160 bytes with its trace index entry on the agent workload, most of it
//! ids, times, names and SQLite's record and cell headers, and its attributes compress poorly one
//! row at a time (docs/span-blocks.md). The same spans as a pack of `PACK_SPANS` take about 30:
//! repeated trace ids, names, resources and attribute keys become back-references within the frame.
//! The writer packs a range once it is complete and no longer the newest (`pack_range`); reads see
//! packed spans through the `packed_spans` virtual table (`store::packed`), unioned with the rows
//! under the name `spans`, so every query keeps its SQL and its row ids.
//!
//! A pack's plain bytes: a format version, the span count, the first row id, the earliest start,
//! the distinct trace ids and names, then one section per column in span order: row id deltas,
//! trace and name indexes, span ids, parents, kind, status, resource and scope ids, start (from
//! the earliest), duration, attributes and the rest (`extra`). Attributes are stored plain
//! (`codec::plain`): the frame compresses them better than each blob's own dictionary did.

use prost::encoding::{decode_varint, encode_varint};
use std::collections::HashMap;
use std::ops::Range;

/// Span row ids per pack is `1 << PACK_SHIFT`: pack `p` holds ids `p << PACK_SHIFT` up to the next
/// pack's first. 1,024 spans make a frame of about 28 KiB (27.3 bytes a span on the agent
/// workload, 28.4 at 128 and 27.9 at 256, scripts/estimate-span-blocks' figures for ranges), and a
/// point lookup decodes the whole frame (a fraction of a millisecond).
pub const PACK_SHIFT: u32 = 10;
pub const PACK_SPANS: i64 = 1 << PACK_SHIFT;
/// Packs per bucket of the span indexes (`schema::SPAN_BUCKET_SHIFT`): the pack trace index leads
/// with the same bucket as the span rows' trace index, so one trace lookup reads the same buckets.
pub const PACK_BUCKET_SHIFT: u32 = super::schema::SPAN_BUCKET_SHIFT - PACK_SHIFT;
const VERSION: u64 = 1;
/// zstd level 6: 25.8 bytes a span on the agent workload against 27.9 at the default level 3, for
/// 0.52 instead of 0.15 µs a span (python-zstandard on a bench store's packs); level 9 gained 0.3
/// more for 0.72 µs, level 12 0.5 for 1.5 µs. Packing runs while the writer is idle.
const LEVEL: i32 = 6;
/// A frame claiming more plain bytes than this is damaged (1,024 spans of the largest requests the
/// receivers take would not reach it).
const MAX_PLAIN: usize = 1 << 30;

/// The pack holding span row `id`.
pub fn pack_of(id: i64) -> i64 {
    id >> PACK_SHIFT
}

/// The span row ids pack `pack` covers.
pub fn ids_of(pack: i64) -> Range<i64> {
    pack << PACK_SHIFT..(pack + 1) << PACK_SHIFT
}

/// One span as the `spans` table holds it, attributes plain.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanValues<'a> {
    pub id: i64,
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub parent_span_id: Option<&'a [u8]>,
    pub name: &'a str,
    pub kind: i64,
    pub resource_id: i64,
    pub scope_id: i64,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status_code: i64,
    pub attrs: Option<&'a [u8]>,
    pub extra: Option<&'a [u8]>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("span pack: {0}")]
    Damaged(&'static str),
    #[error("span pack: zstd: {0}")]
    Zstd(#[from] std::io::Error),
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Byte strings with an absent value: 0 for none, else the length plus one, then the bytes.
fn put_optional(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => encode_varint(0, out),
        Some(v) => {
            encode_varint(v.len() as u64 + 1, out);
            out.extend_from_slice(v);
        }
    }
}

/// Encodes spans of one pack, in row id order, into a compressed frame.
pub fn encode(spans: &[SpanValues<'_>]) -> Result<Vec<u8>, PackError> {
    let Some(first) = spans.first() else {
        return Err(PackError::Damaged("a pack needs at least one span"));
    };
    let base_start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let mut traces: HashMap<&[u8], u64> = HashMap::new();
    let mut trace_list: Vec<&[u8]> = Vec::new();
    let mut names: HashMap<&str, u64> = HashMap::new();
    let mut name_list: Vec<&str> = Vec::new();
    // Sections, one per column; short ones first so the long attribute section comes last.
    let mut ids = Vec::new();
    let mut trace_index = Vec::new();
    let mut name_index = Vec::new();
    let mut small = Vec::new();
    let mut times = Vec::new();
    let mut span_ids = Vec::new();
    let mut parents = Vec::new();
    let mut attrs = Vec::new();
    let mut extra = Vec::new();
    let mut previous_id = first.id;
    for span in spans {
        encode_varint((span.id - previous_id) as u64, &mut ids);
        previous_id = span.id;
        let trace = *traces.entry(span.trace_id).or_insert_with(|| {
            trace_list.push(span.trace_id);
            trace_list.len() as u64 - 1
        });
        encode_varint(trace, &mut trace_index);
        let name = *names.entry(span.name).or_insert_with(|| {
            name_list.push(span.name);
            name_list.len() as u64 - 1
        });
        encode_varint(name, &mut name_index);
        encode_varint(zigzag(span.kind), &mut small);
        encode_varint(zigzag(span.status_code), &mut small);
        encode_varint(zigzag(span.resource_id), &mut small);
        encode_varint(zigzag(span.scope_id), &mut small);
        encode_varint(zigzag(span.start_ns.wrapping_sub(base_start)), &mut times);
        encode_varint(zigzag(span.end_ns.wrapping_sub(span.start_ns)), &mut times);
        put_optional(&mut span_ids, Some(span.span_id));
        put_optional(&mut parents, span.parent_span_id);
        put_optional(&mut attrs, span.attrs);
        put_optional(&mut extra, span.extra);
    }
    let mut plain = Vec::with_capacity(64 + ids.len() + attrs.len() + extra.len() + spans.len() * 40);
    encode_varint(VERSION, &mut plain);
    encode_varint(spans.len() as u64, &mut plain);
    encode_varint(zigzag(first.id), &mut plain);
    encode_varint(zigzag(base_start), &mut plain);
    encode_varint(trace_list.len() as u64, &mut plain);
    for t in &trace_list {
        put_optional(&mut plain, Some(t));
    }
    encode_varint(name_list.len() as u64, &mut plain);
    for n in &name_list {
        put_optional(&mut plain, Some(n.as_bytes()));
    }
    for section in [ids, trace_index, name_index, small, times, span_ids, parents, attrs, extra] {
        encode_varint(section.len() as u64, &mut plain);
        plain.extend_from_slice(&section);
    }
    let mut frame = Vec::with_capacity(plain.len() / 4 + 16);
    encode_varint(plain.len() as u64, &mut frame);
    frame.extend_from_slice(&zstd::bulk::compress(&plain, LEVEL)?);
    Ok(frame)
}

/// A decoded pack: the plain bytes and, per span, where its values are.
#[derive(Debug)]
pub struct Pack {
    plain: Vec<u8>,
    traces: Vec<Range<usize>>,
    /// Validated once when decoded: `span` is called for every column SQLite reads.
    names: Vec<Box<str>>,
    spans: Vec<PackedSpan>,
}

#[derive(Debug, Clone)]
struct PackedSpan {
    id: i64,
    trace: u32,
    name: u32,
    kind: i64,
    status_code: i64,
    resource_id: i64,
    scope_id: i64,
    start_ns: i64,
    end_ns: i64,
    span_id: Range<usize>,
    parent: Option<Range<usize>>,
    attrs: Option<Range<usize>>,
    extra: Option<Range<usize>>,
}

/// Reads a pack's plain bytes, keeping positions relative to the whole buffer.
struct Reader<'a> {
    all: &'a [u8],
    at: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, PackError> {
        let mut rest = &self.all[self.at..self.end];
        let before = rest.len();
        let v = decode_varint(&mut rest).map_err(|_| PackError::Damaged("a bad number"))?;
        self.at += before - rest.len();
        Ok(v)
    }
    fn count(&mut self) -> Result<usize, PackError> {
        let n = self.varint()?;
        // Nothing in a pack counts more than its bytes: a larger count is damage, not an allocation.
        if n > (self.end - self.at) as u64 + 1 {
            return Err(PackError::Damaged("a count larger than the pack"));
        }
        Ok(n as usize)
    }
    fn bytes(&mut self, len: usize) -> Result<Range<usize>, PackError> {
        if len > self.end - self.at {
            return Err(PackError::Damaged("a value runs past its section"));
        }
        self.at += len;
        Ok(self.at - len..self.at)
    }
    fn optional(&mut self) -> Result<Option<Range<usize>>, PackError> {
        match self.varint()? {
            0 => Ok(None),
            n => self.bytes(n as usize - 1).map(Some),
        }
    }
    /// The next section, as a reader of its own.
    fn section(&mut self) -> Result<Reader<'a>, PackError> {
        let len = self.count()?;
        let range = self.bytes(len)?;
        Ok(Reader {
            all: self.all,
            at: range.start,
            end: range.end,
        })
    }
}

impl Pack {
    pub fn decode(frame: &[u8]) -> Result<Pack, PackError> {
        let mut header = frame;
        let plain_len = decode_varint(&mut header).map_err(|_| PackError::Damaged("no length"))? as usize;
        if plain_len > MAX_PLAIN {
            return Err(PackError::Damaged("a length beyond any pack"));
        }
        let plain = zstd::bulk::decompress(header, plain_len)?;
        if plain.len() != plain_len {
            return Err(PackError::Damaged("shorter than its length"));
        }
        let mut r = Reader {
            all: &plain,
            at: 0,
            end: plain.len(),
        };
        if r.varint()? != VERSION {
            return Err(PackError::Damaged("an unknown format version"));
        }
        let n = r.count()?;
        let first_id = unzigzag(r.varint()?);
        let base_start = unzigzag(r.varint()?);
        let mut traces = Vec::new();
        for _ in 0..r.count()? {
            traces.push(r.optional()?.ok_or(PackError::Damaged("a missing trace id"))?);
        }
        let mut names = Vec::new();
        for _ in 0..r.count()? {
            let name = r.optional()?.ok_or(PackError::Damaged("a missing name"))?;
            let name = std::str::from_utf8(&plain[name]).map_err(|_| PackError::Damaged("a name that is not UTF-8"))?;
            names.push(Box::from(name));
        }
        let mut ids = r.section()?;
        let mut trace_index = r.section()?;
        let mut name_index = r.section()?;
        let mut small = r.section()?;
        let mut times = r.section()?;
        let mut span_ids = r.section()?;
        let mut parents = r.section()?;
        let mut attrs = r.section()?;
        let mut extra = r.section()?;
        let mut spans = Vec::with_capacity(n);
        let mut id = first_id;
        for _ in 0..n {
            id = id.wrapping_add(ids.varint()? as i64);
            let trace = trace_index.varint()?;
            let name = name_index.varint()?;
            if trace >= traces.len() as u64 || name >= names.len() as u64 {
                return Err(PackError::Damaged("an index past its table"));
            }
            let kind = unzigzag(small.varint()?);
            let status_code = unzigzag(small.varint()?);
            let resource_id = unzigzag(small.varint()?);
            let scope_id = unzigzag(small.varint()?);
            let start_ns = base_start.wrapping_add(unzigzag(times.varint()?));
            let end_ns = start_ns.wrapping_add(unzigzag(times.varint()?));
            spans.push(PackedSpan {
                id,
                trace: trace as u32,
                name: name as u32,
                kind,
                status_code,
                resource_id,
                scope_id,
                start_ns,
                end_ns,
                span_id: span_ids.optional()?.ok_or(PackError::Damaged("a missing span id"))?,
                parent: parents.optional()?,
                attrs: attrs.optional()?,
                extra: extra.optional()?,
            });
        }
        Ok(Pack {
            plain,
            traces,
            names,
            spans,
        })
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Row id of span `i` (spans are in row id order).
    pub fn id(&self, i: usize) -> i64 {
        self.spans[i].id
    }

    /// The position of the first span whose row id is above `id` (the count of those at or below it).
    pub fn position_after(&self, id: i64) -> usize {
        self.spans.partition_point(|s| s.id <= id)
    }

    pub fn trace_id(&self, i: usize) -> &[u8] {
        &self.plain[self.traces[self.spans[i].trace as usize].clone()]
    }

    pub fn span(&self, i: usize) -> SpanValues<'_> {
        let s = &self.spans[i];
        let slice = |r: &Range<usize>| &self.plain[r.clone()];
        SpanValues {
            id: s.id,
            trace_id: self.trace_id(i),
            span_id: slice(&s.span_id),
            parent_span_id: s.parent.as_ref().map(slice),
            // Checked to be UTF-8 when decoded.
            name: &self.names[s.name as usize],
            kind: s.kind,
            resource_id: s.resource_id,
            scope_id: s.scope_id,
            start_ns: s.start_ns,
            end_ns: s.end_ns,
            status_code: s.status_code,
            attrs: s.attrs.as_ref().map(slice),
            extra: s.extra.as_ref().map(slice),
        }
    }

    /// Heap bytes held, for the readers' cache budget.
    pub fn heap_bytes(&self) -> usize {
        self.plain.capacity()
            + self.spans.capacity() * std::mem::size_of::<PackedSpan>()
            + self.traces.len() * 16
            + self.names.iter().map(|n| n.len() + 16).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: i64, trace: u8, name: &'static str) -> SpanValues<'static> {
        let trace_id: &'static [u8] = Box::leak(vec![trace; 16].into_boxed_slice());
        let span_id: &'static [u8] = Box::leak(id.to_be_bytes().to_vec().into_boxed_slice());
        SpanValues {
            id,
            trace_id,
            span_id,
            parent_span_id: (id % 3 != 0).then_some(&b"\x01\x02\x03\x04\x05\x06\x07\x08"[..]),
            name,
            kind: id % 5,
            resource_id: 7 + id % 2,
            scope_id: -1,
            start_ns: 1_700_000_000_000_000_000 + id * 1000,
            end_ns: 1_700_000_000_000_000_000 + id * 1000 - (id % 2) * 5_000_000,
            status_code: id % 3,
            attrs: (id % 4 != 0).then_some(&b"\x0a\x05hello"[..]),
            extra: (id % 2 == 0).then_some(&b""[..]),
        }
    }

    #[test]
    fn every_column_reads_back_as_written() {
        let spans: Vec<_> = [3, 4, 9, 10, 1000, 1023]
            .into_iter()
            .map(|id| {
                span(
                    1024 + id,
                    (id % 3) as u8,
                    ["chat gpt-4o", "execute_tool search", ""][(id % 3) as usize],
                )
            })
            .collect();
        let pack = Pack::decode(&encode(&spans).unwrap()).unwrap();
        assert_eq!(pack.len(), spans.len());
        for (i, expected) in spans.iter().enumerate() {
            assert_eq!(&pack.span(i), expected);
            assert_eq!(pack.id(i), expected.id);
        }
    }

    #[test]
    fn a_damaged_pack_is_an_error_not_a_panic() {
        let spans: Vec<_> = (0..50).map(|id| span(id, 1, "x")).collect();
        let frame = encode(&spans).unwrap();
        // Every truncation and a flipped byte at every position: errors or (for a flip the frame
        // survives) some decoded pack, never a panic or a huge allocation.
        for cut in 0..frame.len() {
            let _ = Pack::decode(&frame[..cut]);
        }
        let mut header = &frame[..];
        decode_varint(&mut header).unwrap();
        let mut plain = zstd::bulk::decompress(header, 1 << 20).unwrap();
        for at in 0..plain.len() {
            plain[at] ^= 0xff;
            let mut damaged = Vec::new();
            encode_varint(plain.len() as u64, &mut damaged);
            damaged.extend(zstd::bulk::compress(&plain, 1).unwrap());
            let _ = Pack::decode(&damaged);
            plain[at] ^= 0xff;
        }
        assert!(Pack::decode(&[]).is_err());
        assert!(Pack::decode(&[0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
    }
}
