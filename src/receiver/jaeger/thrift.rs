//! Jaeger's thrift wire formats, decoded with the `thrift` crate's protocols: the agent's UDP
//! datagrams (one `Agent.emitBatch` message, compact protocol on 6831, binary on 6832) and the
//! collector's HTTP body (a bare `Batch` in the binary protocol). Required fields are required, as
//! in Jaeger's generated Go code: a span without its ids or times fails the whole batch.
//!
//! What a batch takes once decoded is counted as it is decoded, and decoding stops past `limit`
//! bytes: lengths and counts on the wire are capped by the message's size, so a small message
//! cannot claim a large allocation.

use super::model::{Batch, JaegerSpan, Log, Process, RefKind, SpanRef, Tag, TagValue};
use thrift::protocol::{TBinaryInputProtocol, TCompactInputProtocol, TFieldIdentifier, TInputProtocol, TType};
use thrift::TConfiguration;

/// The two thrift protocols Jaeger's agent ports speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Compact,
    Binary,
}

/// Decodes an agent datagram: an `emitBatch` message (CALL or ONEWAY: the Collector takes either).
pub fn decode_agent_message(message: &[u8], protocol: Protocol, limit: u64) -> Result<(Batch, u64), String> {
    let mut reader = Reader::new(message, protocol, limit);
    let header = reader.input.read_message_begin().map_err(wire)?;
    match header.name.as_str() {
        "emitBatch" => {}
        "emitZipkinBatch" => {
            return Err("Zipkin spans over the Jaeger agent protocol are not supported; send Jaeger batches (emitBatch)".into())
        }
        other => return Err(format!("unknown agent method '{}'; expected emitBatch", truncate(other))),
    }
    // The arguments: field 1 is the batch.
    let mut batch = None;
    reader.input.read_struct_begin().map_err(wire)?;
    loop {
        let field = reader.input.read_field_begin().map_err(wire)?;
        match (field.field_type, field.id) {
            (TType::Stop, _) => break,
            (TType::Struct, Some(1)) => batch = Some(reader.batch()?),
            (other, _) => reader.input.skip(other).map_err(wire)?,
        }
        reader.input.read_field_end().map_err(wire)?;
    }
    reader.input.read_struct_end().map_err(wire)?;
    let batch = batch.ok_or("emitBatch without its batch argument")?;
    Ok((batch, reader.cost))
}

/// Decodes the collector's HTTP body: one `Batch` in the binary protocol.
pub fn decode_batch(body: &[u8], limit: u64) -> Result<(Batch, u64), String> {
    let mut reader = Reader::new(body, Protocol::Binary, limit);
    let batch = reader.batch()?;
    Ok((batch, reader.cost))
}

struct Reader<'a> {
    input: Box<dyn TInputProtocol + 'a>,
    /// Decoded bytes so far (the structs and their heap parts), at most `limit`.
    cost: u64,
    limit: u64,
}

fn wire(error: thrift::Error) -> String {
    format!("not a valid Jaeger thrift message: {error}")
}

fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Checks that every required field (bit `id` of `required`) was seen.
fn require(struct_name: &str, seen: u32, required: &[(i16, &str)]) -> Result<(), String> {
    match required.iter().find(|(id, _)| seen & (1 << id) == 0) {
        Some((_, name)) => Err(format!("{struct_name}.{name} is required but missing")),
        None => Ok(()),
    }
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], protocol: Protocol, limit: u64) -> Self {
        // No string or list can be longer than the message holding it.
        let config = TConfiguration::builder()
            .max_string_size(Some(bytes.len()))
            .max_container_size(Some(bytes.len()))
            .max_recursion_depth(Some(64))
            .build()
            .unwrap_or_default();
        let input: Box<dyn TInputProtocol + 'a> = match protocol {
            Protocol::Compact => Box::new(TCompactInputProtocol::with_config(bytes, config)),
            // Non-strict: old clients' message headers have no version word (Go reads both).
            Protocol::Binary => Box::new(TBinaryInputProtocol::with_config(bytes, false, config)),
        };
        Reader { input, cost: 0, limit }
    }

    fn charge(&mut self, bytes: usize) -> Result<(), String> {
        self.cost += bytes as u64;
        if self.cost > self.limit {
            return Err(format!(
                "the batch would take more than {} MiB of memory once decoded; send smaller batches",
                self.limit >> 20
            ));
        }
        Ok(())
    }

    fn field(&mut self) -> Result<TFieldIdentifier, String> {
        self.input.read_field_begin().map_err(wire)
    }

    fn string(&mut self) -> Result<String, String> {
        let text = self.input.read_string().map_err(wire)?;
        self.charge(text.len())?;
        Ok(text)
    }

    fn list<T>(&mut self, element: TType, mut read: impl FnMut(&mut Self) -> Result<T, String>) -> Result<Vec<T>, String> {
        let header = self.input.read_list_begin().map_err(wire)?;
        if header.element_type != element && header.size > 0 {
            return Err(format!(
                "not a valid Jaeger thrift message: a list of {:?} where {element:?} was expected",
                header.element_type
            ));
        }
        let mut items = Vec::new();
        for _ in 0..header.size {
            self.charge(size_of::<T>())?;
            items.push(read(self)?);
        }
        self.input.read_list_end().map_err(wire)?;
        Ok(items)
    }

    fn batch(&mut self) -> Result<Batch, String> {
        self.charge(size_of::<Batch>())?;
        let mut batch = Batch::default();
        let mut seen = 0u32;
        self.input.read_struct_begin().map_err(wire)?;
        loop {
            let field = self.field()?;
            match (field.field_type, field.id) {
                (TType::Stop, _) => break,
                (TType::Struct, Some(1)) => {
                    batch.process = Some(self.process()?);
                    seen |= 1 << 1;
                }
                (TType::List, Some(2)) => {
                    batch.spans = self.list(TType::Struct, Self::span)?;
                    seen |= 1 << 2;
                }
                (other, _) => self.input.skip(other).map_err(wire)?,
            }
            self.input.read_field_end().map_err(wire)?;
        }
        self.input.read_struct_end().map_err(wire)?;
        require("Batch", seen, &[(1, "process"), (2, "spans")])?;
        Ok(batch)
    }

    fn process(&mut self) -> Result<Process, String> {
        let mut process = Process::default();
        let mut seen = 0u32;
        self.input.read_struct_begin().map_err(wire)?;
        loop {
            let field = self.field()?;
            match (field.field_type, field.id) {
                (TType::Stop, _) => break,
                (TType::String, Some(1)) => {
                    process.service_name = self.string()?;
                    seen |= 1 << 1;
                }
                (TType::List, Some(2)) => process.tags = Some(self.list(TType::Struct, Self::tag)?),
                (other, _) => self.input.skip(other).map_err(wire)?,
            }
            self.input.read_field_end().map_err(wire)?;
        }
        self.input.read_struct_end().map_err(wire)?;
        require("Process", seen, &[(1, "serviceName")])?;
        Ok(process)
    }

    fn span(&mut self) -> Result<JaegerSpan, String> {
        let (mut trace_low, mut trace_high, mut span_id, mut parent) = (0i64, 0i64, 0i64, 0i64);
        let (mut start_micros, mut duration_micros) = (0i64, 0i64);
        let mut span = JaegerSpan::default();
        let mut seen = 0u32;
        self.input.read_struct_begin().map_err(wire)?;
        loop {
            let field = self.field()?;
            let id = field.id.unwrap_or(0);
            match (field.field_type, id) {
                (TType::Stop, _) => break,
                (TType::I64, 1) => trace_low = self.input.read_i64().map_err(wire)?,
                (TType::I64, 2) => trace_high = self.input.read_i64().map_err(wire)?,
                (TType::I64, 3) => span_id = self.input.read_i64().map_err(wire)?,
                (TType::I64, 4) => parent = self.input.read_i64().map_err(wire)?,
                (TType::String, 5) => span.operation_name = self.string()?,
                (TType::List, 6) => span.references = self.list(TType::Struct, Self::reference)?,
                (TType::I32, 7) => span.flags = self.input.read_i32().map_err(wire)? as u32,
                (TType::I64, 8) => start_micros = self.input.read_i64().map_err(wire)?,
                (TType::I64, 9) => duration_micros = self.input.read_i64().map_err(wire)?,
                (TType::List, 10) => span.tags = self.list(TType::Struct, Self::tag)?,
                (TType::List, 11) => span.logs = self.list(TType::Struct, Self::log)?,
                (other, _) => {
                    self.input.skip(other).map_err(wire)?;
                    self.input.read_field_end().map_err(wire)?;
                    continue;
                }
            }
            if (1..=11).contains(&id) {
                seen |= 1 << id;
            }
            self.input.read_field_end().map_err(wire)?;
        }
        self.input.read_struct_end().map_err(wire)?;
        require(
            "Span",
            seen,
            &[
                (1, "traceIdLow"),
                (2, "traceIdHigh"),
                (3, "spanId"),
                (4, "parentSpanId"),
                (5, "operationName"),
                (7, "flags"),
                (8, "startTime"),
                (9, "duration"),
            ],
        )?;
        span.trace_id = trace_id(trace_high, trace_low);
        span.span_id = span_id as u64;
        span.parent_span_id = parent as u64;
        // Microseconds, wrapping as the Collector's unsigned arithmetic does.
        span.start_unix_nano = (start_micros as u64).wrapping_mul(1000);
        span.end_unix_nano = (start_micros.wrapping_add(duration_micros) as u64).wrapping_mul(1000);
        Ok(span)
    }

    fn reference(&mut self) -> Result<SpanRef, String> {
        let (mut kind, mut low, mut high, mut span_id) = (0i32, 0i64, 0i64, 0i64);
        let mut seen = 0u32;
        self.input.read_struct_begin().map_err(wire)?;
        loop {
            let field = self.field()?;
            let id = field.id.unwrap_or(0);
            match (field.field_type, id) {
                (TType::Stop, _) => break,
                (TType::I32, 1) => kind = self.input.read_i32().map_err(wire)?,
                (TType::I64, 2) => low = self.input.read_i64().map_err(wire)?,
                (TType::I64, 3) => high = self.input.read_i64().map_err(wire)?,
                (TType::I64, 4) => span_id = self.input.read_i64().map_err(wire)?,
                (other, _) => {
                    self.input.skip(other).map_err(wire)?;
                    self.input.read_field_end().map_err(wire)?;
                    continue;
                }
            }
            seen |= 1 << id;
            self.input.read_field_end().map_err(wire)?;
        }
        self.input.read_struct_end().map_err(wire)?;
        require(
            "SpanRef",
            seen,
            &[(1, "refType"), (2, "traceIdLow"), (3, "traceIdHigh"), (4, "spanId")],
        )?;
        Ok(SpanRef {
            kind: match kind {
                0 => RefKind::ChildOf,
                1 => RefKind::FollowsFrom,
                other => RefKind::Other(other),
            },
            trace_id: trace_id(high, low),
            span_id: span_id as u64,
        })
    }

    fn log(&mut self) -> Result<Log, String> {
        let mut timestamp = 0i64;
        let mut fields = Vec::new();
        let mut seen = 0u32;
        self.input.read_struct_begin().map_err(wire)?;
        loop {
            let field = self.field()?;
            match (field.field_type, field.id) {
                (TType::Stop, _) => break,
                (TType::I64, Some(1)) => {
                    timestamp = self.input.read_i64().map_err(wire)?;
                    seen |= 1 << 1;
                }
                (TType::List, Some(2)) => {
                    fields = self.list(TType::Struct, Self::tag)?;
                    seen |= 1 << 2;
                }
                (other, _) => self.input.skip(other).map_err(wire)?,
            }
            self.input.read_field_end().map_err(wire)?;
        }
        self.input.read_struct_end().map_err(wire)?;
        require("Log", seen, &[(1, "timestamp"), (2, "fields")])?;
        Ok(Log {
            unix_nano: (timestamp as u64).wrapping_mul(1000),
            fields,
        })
    }

    fn tag(&mut self) -> Result<Tag, String> {
        let mut key = String::new();
        let mut kind = None;
        let (mut text, mut double, mut boolean, mut long, mut binary) = (String::new(), 0f64, false, 0i64, Vec::new());
        let mut seen = 0u32;
        self.input.read_struct_begin().map_err(wire)?;
        loop {
            let field = self.field()?;
            match (field.field_type, field.id) {
                (TType::Stop, _) => break,
                (TType::String, Some(1)) => {
                    key = self.string()?;
                    seen |= 1 << 1;
                }
                (TType::I32, Some(2)) => {
                    kind = Some(self.input.read_i32().map_err(wire)?);
                    seen |= 1 << 2;
                }
                (TType::String, Some(3)) => text = self.string()?,
                (TType::Double, Some(4)) => double = self.input.read_double().map_err(wire)?,
                (TType::Bool, Some(5)) => boolean = self.input.read_bool().map_err(wire)?,
                (TType::I64, Some(6)) => long = self.input.read_i64().map_err(wire)?,
                (TType::String, Some(7)) => {
                    binary = self.input.read_bytes().map_err(wire)?;
                    self.charge(binary.len())?;
                }
                (other, _) => self.input.skip(other).map_err(wire)?,
            }
            self.input.read_field_end().map_err(wire)?;
        }
        self.input.read_struct_end().map_err(wire)?;
        require("Tag", seen, &[(1, "key"), (2, "vType")])?;
        let value = match kind.unwrap_or(0) {
            0 => TagValue::Str(text),
            1 => TagValue::Double(double),
            2 => TagValue::Bool(boolean),
            3 => TagValue::Long(long),
            4 => TagValue::Binary(binary),
            // Go's String() of an enum value outside the list.
            _ => TagValue::Unknown("<UNSET>".into()),
        };
        Ok(Tag { key, value })
    }
}

fn trace_id(high: i64, low: i64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&high.to_be_bytes());
    id[8..].copy_from_slice(&low.to_be_bytes());
    id
}
