//! Read queries: trace search and lookup, spans, logs, services, metrics and counts. Results are
//! OTLP-shaped (spans, log records, resources, scopes); the API decides how they look as JSON.

use super::rows::{decode_attributes, rebuild_log, rebuild_span};
use super::schema::{span_in_trace, span_of_trace, TRACE_EXPR_USES};
use super::sql::{SqlFilter, TraceFilter};
use super::StoreError;
use crate::query::trace::Link;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct StoredResource {
    pub id: i64,
    pub service: String,
    pub resource: Resource,
    pub schema_url: String,
}

#[derive(Clone, Debug)]
pub struct StoredScope {
    pub id: i64,
    pub scope: InstrumentationScope,
    pub schema_url: String,
}

#[derive(Clone, Debug)]
pub struct StoredSpan {
    pub row_id: i64,
    pub span: Span,
    pub resource: Arc<StoredResource>,
    pub scope: Arc<StoredScope>,
}

#[derive(Clone, Debug)]
pub struct StoredLog {
    pub row_id: i64,
    pub time_ns: i64,
    pub record: LogRecord,
    pub resource: Arc<StoredResource>,
    pub scope: Arc<StoredScope>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TraceSummary {
    pub trace_id: Vec<u8>,
    pub root_service: String,
    pub root_name: String,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    pub services: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSummary {
    pub name: String,
    pub spans: i64,
    pub errors: i64,
    pub last_seen_ns: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub spans: i64,
    pub logs: i64,
    pub metric_points: i64,
    pub traces: i64,
    pub bytes: i64,
    /// Span rows in complete ranges the writer has yet to pack (`packing`).
    pub spans_to_pack: i64,
}

/// A time window in unix nanoseconds, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeRange {
    pub start: i64,
    pub end: i64,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange {
        start: i64::MIN,
        end: i64::MAX,
    };
}

/// Resolves resource and scope ids once per query.
#[derive(Default)]
pub struct Lookup {
    resources: HashMap<i64, Arc<StoredResource>>,
    scopes: HashMap<i64, Arc<StoredScope>>,
}

impl Lookup {
    pub fn resource(&mut self, conn: &Connection, id: i64) -> rusqlite::Result<Arc<StoredResource>> {
        if let Some(r) = self.resources.get(&id) {
            return Ok(r.clone());
        }
        let (service, schema_url, body): (String, String, Vec<u8>) = conn
            .prepare_cached("SELECT service, schema_url, body FROM resources WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        let stored = Arc::new(StoredResource {
            id,
            service,
            resource: Resource::decode(body.as_slice()).unwrap_or_default(),
            schema_url,
        });
        self.resources.insert(id, stored.clone());
        Ok(stored)
    }
    pub fn scope(&mut self, conn: &Connection, id: i64) -> rusqlite::Result<Arc<StoredScope>> {
        if let Some(s) = self.scopes.get(&id) {
            return Ok(s.clone());
        }
        let (schema_url, body): (String, Vec<u8>) = conn
            .prepare_cached("SELECT schema_url, body FROM scopes WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let stored = Arc::new(StoredScope {
            id,
            scope: InstrumentationScope::decode(body.as_slice()).unwrap_or_default(),
            schema_url,
        });
        self.scopes.insert(id, stored.clone());
        Ok(stored)
    }
}

/// Values longer than this are cut in `Values::Capped` reads: 4 parallel answers of 100 spans
/// with a 15 MiB attribute each took the process to 6 GiB when every value came whole.
pub const MAX_ANSWER_VALUE_BYTES: usize = 64 * 1024;
/// Stored bytes (attribute and detail blobs) after which a `Values::WholePage` read stops: an
/// export page holds at most about this much besides its last row, so its OTLP/JSON line (two to
/// three times that) stays well inside what `otelbox import` may send back in one request.
pub const PAGE_BYTES: usize = 2 << 20;

/// How much of the stored values a read returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    /// Values over `MAX_ANSWER_VALUE_BYTES` cut, with a marker saying where the whole value is
    /// (API answers, the UI, live tails): one answer stays small however big the values.
    Capped,
    /// Every value whole (the OTLP download of one trace).
    Whole,
    /// Every value whole, rows up to `PAGE_BYTES` of them (export pages, which continue after
    /// the last row returned).
    WholePage,
}

/// The marker after a span attribute cut for an answer: the API path that has it whole.
fn span_attribute_marker(trace_id: &[u8], span_id: &[u8], key: &str) -> impl Fn(usize) -> String {
    let path = format!(
        "/api/v1/traces/{}/spans/{}/attributes/{}",
        crate::pdata::hex_id(trace_id),
        crate::pdata::hex_id(span_id),
        utf8_percent_encode_path(key)
    );
    move |total| format!("… [cut by otelbox at {MAX_ANSWER_VALUE_BYTES} of {total} bytes; GET {path} returns it whole]")
}

/// The marker after any other value cut for an answer (events, links, log bodies and attributes).
fn export_marker(total: usize) -> String {
    format!("… [cut by otelbox at {MAX_ANSWER_VALUE_BYTES} of {total} bytes; `otelbox export` and /api/v1/export have it whole]")
}

/// A key as one URL path segment.
fn utf8_percent_encode_path(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn cap_span(span: &mut Span) {
    use crate::pdata::cap::{cap_attributes, cap_value};
    for kv in &mut span.attributes {
        if let Some(value) = &mut kv.value {
            let marker = span_attribute_marker(&span.trace_id, &span.span_id, &kv.key);
            cap_value(value, MAX_ANSWER_VALUE_BYTES, &marker);
        }
    }
    for event in &mut span.events {
        cap_attributes(&mut event.attributes, MAX_ANSWER_VALUE_BYTES, &export_marker);
    }
    for link in &mut span.links {
        cap_attributes(&mut link.attributes, MAX_ANSWER_VALUE_BYTES, &export_marker);
    }
}

fn cap_log(record: &mut LogRecord) {
    use crate::pdata::cap::{cap_attributes, cap_value};
    if let Some(body) = &mut record.body {
        cap_value(body, MAX_ANSWER_VALUE_BYTES, &export_marker);
    }
    cap_attributes(&mut record.attributes, MAX_ANSWER_VALUE_BYTES, &export_marker);
}

/// Rows of a `WholePage` read so far, and their stored bytes: stop after `PAGE_BYTES`.
fn page_full(values: Values, bytes: usize) -> bool {
    values == Values::WholePage && bytes > PAGE_BYTES
}

const SPAN_COLUMNS: &str = "s.id, s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.start_ns, s.end_ns, s.status_code, s.attrs, s.extra, s.resource_id, s.scope_id";

fn span_from_row(conn: &Connection, lookup: &mut Lookup, row: &Row<'_>, values: Values) -> rusqlite::Result<StoredSpan> {
    let attrs: Option<Vec<u8>> = row.get(9)?;
    let extra: Option<Vec<u8>> = row.get(10)?;
    let mut span = rebuild_span(
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        attrs.as_deref(),
        extra.as_deref(),
    );
    if values == Values::Capped {
        cap_span(&mut span);
    }
    Ok(StoredSpan {
        row_id: row.get(0)?,
        span,
        resource: lookup.resource(conn, row.get(11)?)?,
        scope: lookup.scope(conn, row.get(12)?)?,
    })
}

/// The spans whose row ids `sql` selects (its only column), in its order. Queries select ids and the
/// rows are read one by one: a query that sorts rows with their blobs holds every blob in SQLite's
/// sorter (4 answers of 40 spans with a 15 MiB attribute took 5 GiB that way), and a value is only
/// cut once read.
fn collect_spans(conn: &Connection, sql: &str, params: Vec<Value>, values: Values) -> Result<Vec<StoredSpan>, StoreError> {
    let ids: Vec<i64> = conn
        .prepare_cached(sql)?
        .query_map(params_from_iter(params), |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    spans_by_id(conn, &ids, values)
}

/// These span rows, in this order (rows deleted meanwhile are left out).
fn spans_by_id(conn: &Connection, ids: &[i64], values: Values) -> Result<Vec<StoredSpan>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {SPAN_COLUMNS} FROM spans s WHERE s.id = ?1"))?;
    let mut lookup = Lookup::default();
    let mut out = Vec::with_capacity(ids.len());
    let mut bytes = 0;
    for id in ids {
        let mut rows = stmt.query([id])?;
        let Some(row) = rows.next()? else { continue };
        bytes += blob_len(row, 9)? + blob_len(row, 10)?;
        out.push(span_from_row(conn, &mut lookup, row, values)?);
        if page_full(values, bytes) {
            break;
        }
    }
    Ok(out)
}

/// The stored size of a blob column, without copying it.
fn blob_len(row: &Row<'_>, column: usize) -> rusqlite::Result<usize> {
    Ok(match row.get_ref(column)? {
        rusqlite::types::ValueRef::Blob(blob) => blob.len(),
        _ => 0,
    })
}

/// All spans of a trace, ordered by start time.
pub fn trace_spans(conn: &Connection, trace_id: &[u8], values: Values) -> Result<Vec<StoredSpan>, StoreError> {
    let sql = format!(
        "SELECT s.id FROM spans s WHERE {} ORDER BY s.start_ns, s.id",
        span_in_trace("s", "?1")
    );
    collect_spans(conn, &sql, vec![Value::Blob(trace_id.to_vec())], values)
}

/// Spans matching the filter, newest (latest start) first. A selective filter collects its few
/// matches through the attribute index and sorts them; any other walks the time index
/// (`blocks::latest_starting`), usually a block or two of a few thousand rows.
pub fn search_spans(conn: &Connection, filter: &SqlFilter, range: TimeRange, limit: usize) -> Result<Vec<StoredSpan>, StoreError> {
    if filter.selective {
        let sql = format!(
            "SELECT s.id FROM spans s WHERE ({}) AND s.start_ns BETWEEN ? AND ? ORDER BY s.start_ns DESC, s.id DESC LIMIT ?",
            filter.sql
        );
        let mut params = filter.params.clone();
        params.extend([Value::Integer(range.start), Value::Integer(range.end), Value::Integer(limit as i64)]);
        return collect_spans(conn, &sql, params, Values::Capped);
    }
    let latest = super::blocks::latest_starting(
        conn,
        "s.start_ns, s.id",
        &filter.sql,
        &filter.params,
        range,
        limit,
        |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
        |&start_and_id| start_and_id,
    )?;
    let ids: Vec<i64> = latest.into_iter().map(|(_, id)| id).collect();
    spans_by_id(conn, &ids, Values::Capped)
}

/// The newest spans matching the filter (`search_spans`), or the longest (`slowest_spans`), and how
/// many match in all (as `search_traces_counted`).
pub fn search_spans_counted(
    conn: &Connection,
    filter: &SqlFilter,
    range: TimeRange,
    limit: usize,
    longest_first: bool,
    count: bool,
) -> Result<(Vec<StoredSpan>, Option<Total>), StoreError> {
    let spans = if longest_first {
        slowest_spans(conn, filter, range, limit)?
    } else {
        search_spans(conn, filter, range, limit)?
    };
    let total = page_total(spans.len(), limit, count, || {
        let (window, mut params) = span_window(conn, filter, range)?;
        params.extend(filter.params.iter().cloned());
        params.extend([
            Value::Integer(range.start),
            Value::Integer(range.end),
            Value::Integer(TOTAL_CAP + 1),
        ]);
        let sql = format!(
            "SELECT 1 FROM spans s WHERE {window} AND ({}) AND s.start_ns BETWEEN ? AND ? LIMIT ?",
            filter.sql
        );
        count_rows(conn, &sql, params, TOTAL_CAP)
    })?;
    Ok((spans, total))
}

/// Spans committed after row `after`, oldest first (values capped).
pub fn spans_after(conn: &Connection, filter: &SqlFilter, after: i64, upto: i64, limit: usize) -> Result<Vec<StoredSpan>, StoreError> {
    spans_in_order(conn, filter, after, upto, limit, Values::Capped, Take::Oldest)
}

/// The last `limit` spans committed in (after, upto], oldest first (live tails: values capped).
pub fn newest_spans_after(
    conn: &Connection,
    filter: &SqlFilter,
    after: i64,
    upto: i64,
    limit: usize,
) -> Result<Vec<StoredSpan>, StoreError> {
    spans_in_order(conn, filter, after, upto, limit, Values::Capped, Take::Newest)
}

/// Which end of a range of rows a limited read takes.
#[derive(Clone, Copy, PartialEq)]
enum Take {
    Oldest,
    Newest,
}

impl Take {
    fn order(self) -> &'static str {
        match self {
            Take::Oldest => "",
            Take::Newest => " DESC",
        }
    }
}

fn spans_in_order(
    conn: &Connection,
    filter: &SqlFilter,
    after: i64,
    upto: i64,
    limit: usize,
    values: Values,
    take: Take,
) -> Result<Vec<StoredSpan>, StoreError> {
    let sql = format!(
        "SELECT s.id FROM spans s WHERE s.id > ? AND s.id <= ? AND ({}) ORDER BY s.id{} LIMIT ?",
        filter.sql,
        take.order()
    );
    let mut params = vec![Value::Integer(after), Value::Integer(upto)];
    params.extend(filter.params.iter().cloned());
    params.push(Value::Integer(limit as i64));
    let mut spans = collect_spans(conn, &sql, params, values)?;
    if take == Take::Newest {
        spans.reverse();
    }
    Ok(spans)
}

#[derive(Clone, Debug, Default)]
pub struct TraceQuery {
    pub service: Option<String>,
    pub min_duration_ns: Option<i64>,
    pub max_duration_ns: Option<i64>,
    /// More span filters the trace must satisfy, each by some span of its own (not necessarily the
    /// span that matches the main filter).
    pub also_matching: Vec<SqlFilter>,
    /// The order of the list, applied to every matching trace before the limit.
    pub sort: TraceSort,
    /// A trace search relating spans (`A -> B`, `A then B`): checked on the spans of each trace
    /// that has a span matching each step (the main filter and `also_matching` must hold the steps,
    /// which narrow the candidates through the indexes). A pattern of `&&` only needs no check.
    pub pattern: Option<TraceFilter>,
}

/// The order of a trace list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TraceSort {
    /// Latest start first.
    #[default]
    Newest,
    /// Longest first.
    Longest,
    /// Shortest first.
    Shortest,
    /// Most spans first.
    MostSpans,
    /// Most error spans first.
    MostErrors,
}

impl TraceSort {
    /// The API's `sort=` names: `time` (the default), `duration`, `shortest`, `spans`, `errors`.
    pub const NAMES: &'static str = "time, duration, shortest, spans or errors";

    pub fn parse(text: &str) -> Option<TraceSort> {
        Some(match text {
            "" | "time" | "newest" => TraceSort::Newest,
            "duration" | "longest" => TraceSort::Longest,
            "shortest" => TraceSort::Shortest,
            "spans" => TraceSort::MostSpans,
            "errors" => TraceSort::MostErrors,
            _ => return None,
        })
    }

    /// `ORDER BY` over `traces t`. Only the default walks the start-time index and stops at the
    /// limit; the others rank every trace that matches in the window, then take the first ones.
    fn order_by(self) -> &'static str {
        match self {
            TraceSort::Newest => "t.start_ns DESC",
            TraceSort::Longest => "(t.end_ns - t.start_ns) DESC, t.start_ns DESC",
            TraceSort::Shortest => "(t.end_ns - t.start_ns) ASC, t.start_ns DESC",
            TraceSort::MostSpans => "t.span_count DESC, t.start_ns DESC",
            TraceSort::MostErrors => "t.error_count DESC, t.start_ns DESC",
        }
    }
}

/// How many items a search matches in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Total {
    pub count: i64,
    /// Counting stopped (at the cap, or after `COUNT_BUDGET`): `count` match, and maybe more.
    pub capped: bool,
}

impl Total {
    fn exact(count: usize) -> Total {
        Total {
            count: count as i64,
            capped: false,
        }
    }

    /// `n` counted with `cap + 1` as the limit.
    fn up_to(n: i64, cap: i64) -> Total {
        if n > cap {
            Total { count: cap, capped: true }
        } else {
            Total { count: n, capped: false }
        }
    }
}

/// Matches a list search counts at most to say how many there are in all ("10,000 or more").
/// A page with room holds every match, so only a full page is counted, and only when asked.
pub const TOTAL_CAP: i64 = 10_000;
/// The same for trace searches relating spans (`->`, `then`), which read each candidate's spans.
pub const PATTERN_TOTAL_CAP: i64 = 1_000;
/// Longest a count past the page may take: then the matches counted so far are a lower bound. A
/// count walks what the page walked and on, up to the cap: with matches on every trace that is
/// quick, with rare ones it is the whole window.
pub const COUNT_BUDGET: Duration = Duration::from_millis(250);

/// The total of a search whose page of `limit` came back with `shown` items: exact when the page
/// has room, else `count()` when counting was asked for.
fn page_total(
    shown: usize,
    limit: usize,
    count: bool,
    counter: impl FnOnce() -> Result<Total, StoreError>,
) -> Result<Option<Total>, StoreError> {
    if shown < limit {
        Ok(Some(Total::exact(shown)))
    } else if count {
        counter().map(Some)
    } else {
        Ok(None)
    }
}

/// Counts the rows `sql` yields, one per match (its last parameter limits them to `cap + 1`),
/// stopping after `COUNT_BUDGET`.
fn count_rows(conn: &Connection, sql: &str, params: Vec<Value>, cap: i64) -> Result<Total, StoreError> {
    let started = Instant::now();
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut n: i64 = 0;
    while rows.next()?.is_some() {
        n += 1;
        if n > cap {
            return Ok(Total { count: cap, capped: true });
        }
        if started.elapsed() > COUNT_BUDGET {
            return Ok(Total { count: n, capped: true });
        }
    }
    Ok(Total { count: n, capped: false })
}

const TRACE_COLUMNS: &str = "t.trace_id, t.start_ns, t.end_ns, t.span_count, t.error_count, t.root_service, t.root_name";

fn trace_row(r: &Row<'_>) -> rusqlite::Result<TraceRow> {
    let start: i64 = r.get(1)?;
    let end: i64 = r.get(2)?;
    Ok((r.get(0)?, start, end - start, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

/// Traces with at least one span matching the filter, in `query.sort`'s order (newest first by
/// default). A selective filter collects the few matching traces through the index; otherwise
/// traces are walked newest first and each is checked with the trace-id index, stopping at `limit`.
pub fn search_traces(
    conn: &Connection,
    filter: &SqlFilter,
    query: &TraceQuery,
    range: TimeRange,
    limit: usize,
) -> Result<Vec<TraceSummary>, StoreError> {
    Ok(find_traces(conn, filter, query, range, limit, false)?.0)
}

/// `search_traces`, and how many traces match in all: exact when the page has room; for a full
/// page counted when `count` (up to `TOTAL_CAP`, or `PATTERN_TOTAL_CAP` for a pattern relating
/// spans, within `COUNT_BUDGET`), else None.
pub fn search_traces_counted(
    conn: &Connection,
    filter: &SqlFilter,
    query: &TraceQuery,
    range: TimeRange,
    limit: usize,
    count: bool,
) -> Result<(Vec<TraceSummary>, Option<Total>), StoreError> {
    find_traces(conn, filter, query, range, limit, count)
}

/// The conditions on `traces t` every match meets, and their parameters.
fn trace_conditions(filter: &SqlFilter, query: &TraceQuery, range: TimeRange) -> (String, Vec<Value>) {
    let mut conditions = vec!["t.start_ns BETWEEN ? AND ?".to_string()];
    let mut params = vec![Value::Integer(range.start), Value::Integer(range.end)];
    if let Some(min) = query.min_duration_ns {
        conditions.push("t.end_ns - t.start_ns >= ?".into());
        params.push(Value::Integer(min));
    }
    if let Some(max) = query.max_duration_ns {
        conditions.push("t.end_ns - t.start_ns <= ?".into());
        params.push(Value::Integer(max));
    }
    if let Some(service) = &query.service {
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM spans s2 WHERE {} AND s2.resource_id IN (SELECT id FROM resources WHERE service = ?))",
            span_in_trace("s2", "t.trace_id")
        ));
        params.push(Value::Text(service.clone()));
    }
    for filter in std::iter::once(filter).chain(&query.also_matching) {
        if filter.sql == "1" {
            continue;
        }
        if filter.selective {
            conditions.push(format!("t.trace_id IN (SELECT s.trace_id FROM spans s WHERE {})", filter.sql));
        } else {
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM spans s WHERE {} AND ({}))",
                span_in_trace("s", "t.trace_id"),
                filter.sql
            ));
        }
        params.extend(filter.params.iter().cloned());
    }
    (conditions.join(" AND "), params)
}

fn find_traces(
    conn: &Connection,
    filter: &SqlFilter,
    query: &TraceQuery,
    range: TimeRange,
    limit: usize,
    count: bool,
) -> Result<(Vec<TraceSummary>, Option<Total>), StoreError> {
    let (conditions, params) = trace_conditions(filter, query, range);
    let order = query.sort.order_by();
    if let Some(pattern) = query.pattern.as_ref().filter(|p| p.links.iter().any(|l| *l != Link::Also)) {
        return traces_by_pattern(conn, &conditions, params, order, pattern, limit, count);
    }
    let sql = format!("SELECT {TRACE_COLUMNS} FROM traces t WHERE {conditions} ORDER BY {order} LIMIT ?");
    let mut list_params = params.clone();
    list_params.push(Value::Integer(limit as i64));
    let rows: Vec<TraceRow> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(list_params), trace_row)?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(summary_of(conn, row)?);
    }
    let total = page_total(out.len(), limit, count, || {
        let mut count_params = params;
        count_params.push(Value::Integer(TOTAL_CAP + 1));
        count_rows(
            conn,
            &format!("SELECT 1 FROM traces t WHERE {conditions} LIMIT ?"),
            count_params,
            TOTAL_CAP,
        )
    })?;
    Ok((out, total))
}

/// Traces meeting `conditions` (which hold every step of `pattern`) whose spans relate as the
/// pattern says, in `order`: candidates are read in that order and checked one by one until the
/// page is full (and, when counting, until `PATTERN_TOTAL_CAP` is passed).
fn traces_by_pattern(
    conn: &Connection,
    conditions: &str,
    params: Vec<Value>,
    order: &str,
    pattern: &TraceFilter,
    limit: usize,
    count: bool,
) -> Result<(Vec<TraceSummary>, Option<Total>), StoreError> {
    let sql = format!("SELECT {TRACE_COLUMNS} FROM traces t WHERE {conditions} ORDER BY {order}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let stop_at = if count {
        (PATTERN_TOTAL_CAP + 1).max(limit as i64)
    } else {
        limit as i64
    };
    let mut out = Vec::new();
    let mut matched: i64 = 0;
    let mut out_of_time = false;
    let mut counting_since = None;
    while matched < stop_at {
        // Past the page, counting is on a budget.
        if counting_since.is_some_and(|since: Instant| since.elapsed() > COUNT_BUDGET) {
            out_of_time = true;
            break;
        }
        let Some(row) = rows.next()? else { break };
        let trace = trace_row(row)?;
        if !pattern_holds(conn, &trace.0, pattern)? {
            continue;
        }
        matched += 1;
        if out.len() < limit {
            out.push(summary_of(conn, trace)?);
            if out.len() == limit {
                counting_since = Some(Instant::now());
            }
        }
    }
    let total = if out.len() < limit {
        Some(Total::exact(out.len()))
    } else if !count {
        None
    } else if out_of_time {
        Some(Total {
            count: matched,
            capped: true,
        })
    } else {
        Some(Total::up_to(matched, PATTERN_TOTAL_CAP))
    };
    Ok((out, total))
}

/// One span of a trace as a pattern sees it: ids, start, and which steps' conditions it meets.
#[derive(Clone, Debug, PartialEq)]
pub struct PatternSpan {
    pub span_id: Vec<u8>,
    pub parent: Option<Vec<u8>>,
    pub start_ns: i64,
    pub matches: Vec<bool>,
}

/// Whether the spans of one trace satisfy `pattern`: every step's condition evaluated once per
/// span in SQL (through the trace index), the relations in Rust (`pattern_matches`).
fn pattern_holds(conn: &Connection, trace_id: &[u8], pattern: &TraceFilter) -> Result<bool, StoreError> {
    let flags: Vec<String> = pattern
        .steps
        .iter()
        .map(|step| format!("CASE WHEN ({}) THEN 1 ELSE 0 END", step.sql))
        .collect();
    let sql = format!(
        "SELECT s.span_id, s.parent_span_id, s.start_ns, {} FROM spans s WHERE {}",
        flags.join(", "),
        span_in_trace("s", "?")
    );
    let mut params: Vec<Value> = pattern.steps.iter().flat_map(|step| step.params.iter().cloned()).collect();
    params.extend(std::iter::repeat_n(Value::Blob(trace_id.to_vec()), TRACE_EXPR_USES));
    let steps = pattern.steps.len();
    let spans: Vec<PatternSpan> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(params), |r| {
            Ok(PatternSpan {
                span_id: r.get(0)?,
                parent: r.get(1)?,
                start_ns: r.get(2)?,
                matches: (0..steps)
                    .map(|i| r.get::<_, i64>(3 + i).map(|m| m != 0))
                    .collect::<rusqlite::Result<_>>()?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(pattern_matches(&spans, &pattern.links))
}

/// Whether some spans `x0, x1, ...` of one trace meet the steps in turn (`x_i` matches step `i`),
/// each related to the one before by its link: `&&` anything, `->` a proper descendant, `then` a
/// start no earlier. Read right to left: the spans that can end the pattern from step `i` on are
/// the matches of step `i` related to some of those from step `i + 1` on, so every relation is
/// checked against a set, never pairs, and each span's ancestors are walked once.
pub fn pattern_matches(spans: &[PatternSpan], links: &[Link]) -> bool {
    let steps = links.len() + 1;
    if spans.iter().any(|s| s.matches.len() != steps) {
        return false;
    }
    let index: HashMap<&[u8], usize> = spans.iter().enumerate().map(|(i, s)| (s.span_id.as_slice(), i)).collect();
    let parent_of = |i: usize| spans[i].parent.as_deref().and_then(|p| index.get(p)).copied();
    let mut next: Vec<usize> = (0..spans.len()).filter(|&i| spans[i].matches[steps - 1]).collect();
    for step in (0..steps - 1).rev() {
        if next.is_empty() {
            return false;
        }
        let candidates = (0..spans.len()).filter(|&i| spans[i].matches[step]);
        next = match links[step] {
            Link::Also => candidates.collect(),
            Link::Then => {
                let latest = next.iter().map(|&i| spans[i].start_ns).max().unwrap_or(i64::MIN);
                candidates.filter(|&i| spans[i].start_ns <= latest).collect()
            }
            Link::Descendant => {
                // Every proper ancestor of the spans in `next`. A walk stops at a span already
                // marked, whose ancestors are then marked too, so a parent cycle ends as well.
                let mut ancestor = vec![false; spans.len()];
                for &i in &next {
                    let mut current = parent_of(i);
                    while let Some(a) = current {
                        if ancestor[a] {
                            break;
                        }
                        ancestor[a] = true;
                        current = parent_of(a);
                    }
                }
                candidates.filter(|&i| ancestor[i]).collect()
            }
        };
    }
    !next.is_empty()
}

/// A `traces` row as read: id, start, duration, span and error counts, root service and name.
type TraceRow = (Vec<u8>, i64, i64, i64, i64, Option<String>, Option<String>);

fn summary_of(conn: &Connection, row: TraceRow) -> rusqlite::Result<TraceSummary> {
    let (trace_id, start_ns, duration_ns, span_count, error_count, root_service, root_name) = row;
    let services = trace_services(conn, &trace_id)?;
    // A trace whose root has not arrived (yet) is shown by its earliest span.
    let (root_service, root_name) = match (root_service, root_name) {
        (Some(s), Some(n)) => (s, n),
        _ => earliest_span(conn, &trace_id)?.unwrap_or_default(),
    };
    Ok(TraceSummary {
        trace_id,
        root_service,
        root_name,
        start_ns,
        duration_ns,
        span_count,
        error_count,
        services,
    })
}

/// One trace's summary, if it is stored.
pub fn trace_summary(conn: &Connection, trace_id: &[u8]) -> Result<Option<TraceSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT trace_id, start_ns, end_ns - start_ns, span_count, error_count, root_service, root_name FROM traces WHERE trace_id = ?1",
    )?;
    let row: Option<TraceRow> = stmt
        .query_row([trace_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .optional()?;
    Ok(row.map(|row| summary_of(conn, row)).transpose()?)
}

fn trace_services(conn: &Connection, trace_id: &[u8]) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT DISTINCT r.service FROM resources r WHERE r.id IN (SELECT s.resource_id FROM spans s WHERE {}) ORDER BY r.service",
        span_in_trace("s", "?1")
    ))?;
    let services = stmt.query_map([trace_id], |r| r.get(0))?.collect();
    services
}

fn earliest_span(conn: &Connection, trace_id: &[u8]) -> rusqlite::Result<Option<(String, String)>> {
    conn.prepare_cached(&format!(
        "SELECT r.service, s.name FROM spans s JOIN resources r ON r.id = s.resource_id WHERE {} ORDER BY s.start_ns LIMIT 1",
        span_in_trace("s", "?1")
    ))?
    .query_row([trace_id], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()
}

pub fn services(conn: &Connection) -> Result<Vec<ServiceSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.service, coalesce(ss.spans, 0), coalesce(ss.errors, 0), coalesce(ss.last_seen_ns, 0)
         FROM (SELECT DISTINCT service FROM resources) r LEFT JOIN service_stats ss ON ss.service = r.service ORDER BY r.service",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ServiceSummary {
            name: r.get(0)?,
            spans: r.get(1)?,
            errors: r.get(2)?,
            last_seen_ns: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn counts(conn: &Connection) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    let mut stmt = conn.prepare_cached("SELECT tbl, n FROM row_counts")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (table, n) = row?;
        match table.as_str() {
            "spans" => counts.spans = n,
            "logs" => counts.logs = n,
            "metric_points" => counts.metric_points = n,
            _ => {}
        }
    }
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    counts.bytes = pages * size;
    counts.spans_to_pack = super::packing::waiting(conn)? * super::packs::PACK_SPANS;
    Ok(counts)
}

const LOG_COLUMNS: &str = "l.id, l.time_ns, l.observed_ns, l.severity_number, l.severity_text, l.trace_id, l.span_id, l.attrs, l.extra, l.resource_id, l.scope_id";

/// The log records whose row ids `sql` selects (its only column), in its order, read one by one
/// (see `collect_spans`).
fn collect_logs(conn: &Connection, sql: &str, params: Vec<Value>, values: Values) -> Result<Vec<StoredLog>, StoreError> {
    let ids: Vec<i64> = conn
        .prepare_cached(sql)?
        .query_map(params_from_iter(params), |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare_cached(&format!("SELECT {LOG_COLUMNS} FROM logs l WHERE l.id = ?1"))?;
    let mut lookup = Lookup::default();
    let mut out = Vec::new();
    let mut bytes = 0;
    for id in ids {
        let mut rows = stmt.query([id])?;
        let Some(row) = rows.next()? else { continue };
        let attrs: Option<Vec<u8>> = row.get(7)?;
        let extra: Option<Vec<u8>> = row.get(8)?;
        bytes += attrs.as_ref().map_or(0, Vec::len) + extra.as_ref().map_or(0, Vec::len);
        let mut record = rebuild_log(
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
            attrs.as_deref(),
            extra.as_deref(),
        );
        if values == Values::Capped {
            cap_log(&mut record);
        }
        out.push(StoredLog {
            row_id: row.get(0)?,
            time_ns: row.get(1)?,
            record,
            resource: lookup.resource(conn, row.get(9)?)?,
            scope: lookup.scope(conn, row.get(10)?)?,
        });
        if page_full(values, bytes) {
            break;
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    pub service: Option<String>,
    pub trace_id: Option<Vec<u8>>,
    pub span_id: Option<Vec<u8>>,
}

/// Log records matching the filter, newest first.
pub fn search_logs(
    conn: &Connection,
    filter: &SqlFilter,
    query: &LogQuery,
    range: TimeRange,
    limit: usize,
) -> Result<Vec<StoredLog>, StoreError> {
    let (from, conditions, mut params) = log_conditions(filter, query, range);
    params.push(Value::Integer(limit as i64));
    // Driven by FTS5, the newest stored matches come first and the scan stops at the limit.
    let order = if filter.full_text.is_some() {
        "f.rowid DESC"
    } else {
        "l.time_ns DESC, l.id DESC"
    };
    let sql = format!("SELECT l.id FROM {from} WHERE {conditions} ORDER BY {order} LIMIT ?");
    let mut logs = collect_logs(conn, &sql, params, Values::Capped)?;
    logs.sort_by(|a, b| b.time_ns.cmp(&a.time_ns).then(b.row_id.cmp(&a.row_id)));
    Ok(logs)
}

/// `search_logs`, and how many records match in all (as `search_traces_counted`: exact when the
/// page has room, counted up to `TOTAL_CAP` when `count`).
pub fn search_logs_counted(
    conn: &Connection,
    filter: &SqlFilter,
    query: &LogQuery,
    range: TimeRange,
    limit: usize,
    count: bool,
) -> Result<(Vec<StoredLog>, Option<Total>), StoreError> {
    let logs = search_logs(conn, filter, query, range, limit)?;
    let total = page_total(logs.len(), limit, count, || {
        let (from, conditions, mut params) = log_conditions(filter, query, range);
        params.push(Value::Integer(TOTAL_CAP + 1));
        count_rows(conn, &format!("SELECT 1 FROM {from} WHERE {conditions} LIMIT ?"), params, TOTAL_CAP)
    })?;
    Ok((logs, total))
}

/// Log records matching a search in one time step, by severity class: `[unset, trace, debug,
/// info, warn, error, fatal]` (OTLP severity numbers 1-4, 5-8, ... 21-24; anything else unset).
pub type SeverityCounts = [i64; 7];

/// The log records `search_logs` would match in `range`, counted per `step` (steps start at
/// multiples of it) and severity class: `(step start, counts)` for the steps holding any, oldest
/// first. One grouped scan, through the FTS5 index when the filter has a full-text search.
pub fn log_histogram(
    conn: &Connection,
    filter: &SqlFilter,
    query: &LogQuery,
    range: TimeRange,
    step: i64,
) -> Result<Vec<(i64, SeverityCounts)>, StoreError> {
    let step = step.max(1);
    let (from, conditions, where_params) = log_conditions(filter, query, range);
    let sql = format!(
        "SELECT l.time_ns / ?1 AS b, CASE WHEN l.severity_number BETWEEN 1 AND 24 THEN (l.severity_number + 3) / 4 ELSE 0 END AS c, \
         count(*) FROM {from} WHERE {conditions} GROUP BY b, c ORDER BY b"
    );
    // `?1` is the step; the conditions' anonymous parameters number on from 2.
    let mut params = vec![Value::Integer(step)];
    params.extend(where_params);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut out: Vec<(i64, SeverityCounts)> = Vec::new();
    while let Some(row) = rows.next()? {
        let (bucket, class, n): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let start = bucket.saturating_mul(step);
        if out.last().is_none_or(|(t, _)| *t != start) {
            out.push((start, [0; 7]));
        }
        if let Some((_, counts)) = out.last_mut() {
            counts[class.clamp(0, 6) as usize] += n;
        }
    }
    Ok(out)
}

/// The `FROM` clause of a log search, its conditions joined, and their parameters.
fn log_conditions(filter: &SqlFilter, query: &LogQuery, range: TimeRange) -> (&'static str, String, Vec<Value>) {
    let (from, mut conditions, mut params) = log_source(filter);
    conditions.extend([format!("({})", filter.sql), "l.time_ns BETWEEN ? AND ?".to_string()]);
    params.extend(filter.params.iter().cloned());
    params.extend([Value::Integer(range.start), Value::Integer(range.end)]);
    if let Some(service) = &query.service {
        conditions.push("l.resource_id IN (SELECT id FROM resources WHERE service = ?)".into());
        params.push(Value::Text(service.clone()));
    }
    if let Some(trace_id) = &query.trace_id {
        conditions.push("l.trace_id = ?".into());
        params.push(Value::Blob(trace_id.clone()));
    }
    if let Some(span_id) = &query.span_id {
        conditions.push("l.span_id = ?".into());
        params.push(Value::Blob(span_id.clone()));
    }
    (from, conditions.join(" AND "), params)
}

/// The `FROM` clause of a logs query and the conditions it brings: the FTS5 index joined in
/// front when the filter has a full-text phrase every match must contain.
fn log_source(filter: &SqlFilter) -> (&'static str, Vec<String>, Vec<Value>) {
    match &filter.full_text {
        Some(phrase) => (
            "logs_fts f JOIN logs l ON l.id = f.rowid",
            vec!["f.logs_fts MATCH ?".to_string()],
            vec![Value::Text(phrase.clone())],
        ),
        None => ("logs l", Vec::new(), Vec::new()),
    }
}

/// Log records committed after row `after`, oldest first (values capped).
pub fn logs_after(conn: &Connection, filter: &SqlFilter, after: i64, upto: i64, limit: usize) -> Result<Vec<StoredLog>, StoreError> {
    logs_in_order(conn, filter, after, upto, limit, Values::Capped, Take::Oldest)
}

/// The last `limit` log records committed in (after, upto], oldest first (live tails).
pub fn newest_logs_after(conn: &Connection, filter: &SqlFilter, after: i64, upto: i64, limit: usize) -> Result<Vec<StoredLog>, StoreError> {
    logs_in_order(conn, filter, after, upto, limit, Values::Capped, Take::Newest)
}

fn logs_in_order(
    conn: &Connection,
    filter: &SqlFilter,
    after: i64,
    upto: i64,
    limit: usize,
    values: Values,
    take: Take,
) -> Result<Vec<StoredLog>, StoreError> {
    let (from, mut conditions, mut params) = log_source(filter);
    let id = if filter.full_text.is_some() { "f.rowid" } else { "l.id" };
    conditions.extend([format!("{id} > ?"), format!("{id} <= ?"), format!("({})", filter.sql)]);
    params.extend([Value::Integer(after), Value::Integer(upto)]);
    params.extend(filter.params.iter().cloned());
    let sql = format!(
        "SELECT l.id FROM {from} WHERE {} ORDER BY {id}{} LIMIT ?",
        conditions.join(" AND "),
        take.order()
    );
    params.push(Value::Integer(limit as i64));
    let mut logs = collect_logs(conn, &sql, params, values)?;
    if take == Take::Newest {
        logs.reverse();
    }
    Ok(logs)
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricInfo {
    pub name: String,
    pub kind: i32,
    pub unit: String,
    pub description: String,
    pub series: i64,
}

pub fn list_metrics(conn: &Connection, filter: &SqlFilter) -> Result<Vec<MetricInfo>, StoreError> {
    let sql = format!(
        "SELECT m.name, m.type, max(m.unit), max(m.description), count(*) FROM metric_streams m WHERE {} GROUP BY m.name, m.type ORDER BY m.name",
        filter.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(filter.params.iter()), |r| {
        Ok(MetricInfo {
            name: r.get(0)?,
            kind: r.get(1)?,
            unit: r.get(2)?,
            description: r.get(3)?,
            series: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One metric stream (a metric's points with one attribute set) and its points in a range.
#[derive(Clone, Debug)]
pub struct StreamPoints {
    pub stream_id: i64,
    pub kind: i32,
    pub monotonic: bool,
    pub temporality: i32,
    pub attributes: Vec<KeyValue>,
    pub resource: Arc<StoredResource>,
    pub points: Vec<PointRecord>,
}

#[derive(Clone, Debug)]
pub struct PointRecord {
    pub time_ns: i64,
    pub start_ns: i64,
    pub value: Option<f64>,
    pub value_int: Option<i64>,
    pub body: Option<Vec<u8>>,
}

pub fn metric_streams(conn: &Connection, name: &str, filter: &SqlFilter, range: TimeRange) -> Result<Vec<StreamPoints>, StoreError> {
    let sql = format!(
        "SELECT m.id, m.type, m.monotonic, m.temporality, m.attrs, m.resource_id FROM metric_streams m WHERE m.name = ? AND ({}) ORDER BY m.id",
        filter.sql
    );
    let mut params = vec![Value::Text(name.to_string())];
    params.extend(filter.params.iter().cloned());
    let mut stmt = conn.prepare_cached(&sql)?;
    #[allow(clippy::type_complexity)] // one row of the query just above
    let streams: Vec<(i64, i32, bool, i32, Option<Vec<u8>>, i64)> = stmt
        .query_map(params_from_iter(params), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut lookup = Lookup::default();
    let mut points_stmt = conn.prepare_cached(
        "SELECT time_ns, start_ns, value, value_int, body FROM metric_points WHERE stream_id = ?1 AND time_ns BETWEEN ?2 AND ?3 ORDER BY time_ns",
    )?;
    let mut out = Vec::with_capacity(streams.len());
    for (stream_id, kind, monotonic, temporality, attrs, resource_id) in streams {
        let points = points_stmt
            .query_map(rusqlite::params![stream_id, range.start, range.end], |r| {
                Ok(PointRecord {
                    time_ns: r.get(0)?,
                    start_ns: r.get(1)?,
                    value: r.get(2)?,
                    value_int: r.get(3)?,
                    body: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        out.push(StreamPoints {
            stream_id,
            kind,
            monotonic,
            temporality,
            attributes: decode_attributes(attrs.as_deref()),
            resource: lookup.resource(conn, resource_id)?,
            points,
        });
    }
    Ok(out)
}

/// How many spans, log records or traces match a filter (`target` picks spans or logs; traces
/// count distinct trace ids of matching spans).
pub fn count(conn: &Connection, filter: &SqlFilter, target: CountTarget, range: TimeRange) -> Result<i64, StoreError> {
    let window = match target {
        CountTarget::Logs => ("1".to_string(), Vec::new()),
        CountTarget::Spans | CountTarget::Traces => span_window(conn, filter, range)?,
    };
    let sql = match target {
        CountTarget::Spans => format!(
            "SELECT count(*) FROM spans s WHERE {} AND ({}) AND s.start_ns BETWEEN ? AND ?",
            window.0, filter.sql
        ),
        CountTarget::Traces => format!(
            "SELECT count(DISTINCT s.trace_id) FROM spans s WHERE {} AND ({}) AND s.start_ns BETWEEN ? AND ?",
            window.0, filter.sql
        ),
        CountTarget::Logs => {
            let (from, conditions, _) = log_source(filter);
            let fts = conditions.first().map(|c| format!("{c} AND ")).unwrap_or_default();
            format!(
                "SELECT count(*) FROM {from} WHERE {fts}({}) AND l.time_ns BETWEEN ? AND ?",
                filter.sql
            )
        }
    };
    let mut params = if target == CountTarget::Logs {
        log_source(filter).2
    } else {
        window.1
    };
    params.extend(filter.params.iter().cloned());
    params.extend([Value::Integer(range.start), Value::Integer(range.end)]);
    Ok(conn.prepare_cached(&sql)?.query_row(params_from_iter(params), |r| r.get(0))?)
}

/// The row ranges of span alias `s` that may start in `range` (`blocks::id_condition`), or `1`
/// for a selective filter, whose few matches the attribute index finds faster.
fn span_window(conn: &Connection, filter: &SqlFilter, range: TimeRange) -> rusqlite::Result<(String, Vec<Value>)> {
    if filter.selective {
        return Ok(("1".into(), Vec::new()));
    }
    super::blocks::id_condition(conn, range)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountTarget {
    Spans,
    Traces,
    Logs,
}

/// The longest spans matching the filter.
pub fn slowest_spans(conn: &Connection, filter: &SqlFilter, range: TimeRange, limit: usize) -> Result<Vec<StoredSpan>, StoreError> {
    let (window, mut params) = span_window(conn, filter, range)?;
    let sql = format!(
        "SELECT s.id FROM spans s WHERE {window} AND ({}) AND s.start_ns BETWEEN ? AND ? ORDER BY (s.end_ns - s.start_ns) DESC, s.id DESC LIMIT ?",
        filter.sql
    );
    params.extend(filter.params.iter().cloned());
    params.extend([Value::Integer(range.start), Value::Integer(range.end), Value::Integer(limit as i64)]);
    collect_spans(conn, &sql, params, Values::Capped)
}

/// Spans in insertion order after row `after`, values whole, at most `limit` rows and about
/// `PAGE_BYTES` of stored values (export pages).
pub fn spans_page(conn: &Connection, filter: &SqlFilter, after: i64, limit: usize) -> Result<Vec<StoredSpan>, StoreError> {
    spans_in_order(conn, filter, after, i64::MAX, limit, Values::WholePage, Take::Oldest)
}

/// Log records in insertion order after row `after`, values whole (export pages, as `spans_page`).
pub fn logs_page(conn: &Connection, filter: &SqlFilter, after: i64, limit: usize) -> Result<Vec<StoredLog>, StoreError> {
    logs_in_order(conn, filter, after, i64::MAX, limit, Values::WholePage, Take::Oldest)
}

/// One attribute of one span, whole (what a capped answer's marker points at); None when the span
/// or the key is not stored.
pub fn span_attribute(conn: &Connection, trace_id: &[u8], span_id: &[u8], key: &str) -> Result<Option<AnyValue>, StoreError> {
    let sql = format!("SELECT s.attrs FROM spans s WHERE {} LIMIT 1", span_of_trace("s", "?1", "?2"));
    let attrs: Option<Option<Vec<u8>>> = conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params![trace_id, span_id], |r| r.get(0))
        .optional()?;
    Ok(attrs.and_then(|attrs| {
        decode_attributes(attrs.as_deref())
            .into_iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value)
    }))
}

/// A metric stream's identity, as an exporter needs it to rebuild the `Metric`.
#[derive(Clone, Debug)]
pub struct StreamInfo {
    pub name: String,
    pub kind: i32,
    pub unit: String,
    pub description: String,
    pub monotonic: bool,
    pub temporality: i32,
    pub attributes: Vec<KeyValue>,
    pub metadata: Option<Vec<u8>>,
    pub resource: Arc<StoredResource>,
    pub scope: Arc<StoredScope>,
}

/// Metric points in insertion order after row `after`, each with its stream (export pages).
pub fn points_page(conn: &Connection, after: i64, limit: usize) -> Result<Vec<(i64, Arc<StreamInfo>, PointRecord)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, p.stream_id, p.time_ns, p.start_ns, p.value, p.value_int, p.body FROM metric_points p WHERE p.id > ?1 ORDER BY p.id LIMIT ?2",
    )?;
    let rows: Vec<(i64, i64, PointRecord)> = stmt
        .query_map(rusqlite::params![after, limit as i64], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                PointRecord {
                    time_ns: r.get(2)?,
                    start_ns: r.get(3)?,
                    value: r.get(4)?,
                    value_int: r.get(5)?,
                    body: r.get(6)?,
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut lookup = Lookup::default();
    let mut streams: HashMap<i64, Arc<StreamInfo>> = HashMap::new();
    let mut stream_stmt = conn.prepare_cached(
        "SELECT name, type, unit, description, monotonic, temporality, attrs, metadata, resource_id, scope_id FROM metric_streams WHERE id = ?1",
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, stream_id, point) in rows {
        let stream =
            match streams.get(&stream_id) {
                Some(s) => s.clone(),
                None => {
                    #[allow(clippy::type_complexity)] // one row of the select above
                let (name, kind, unit, description, monotonic, temporality, attrs, metadata, resource_id, scope_id): (
                    String,
                    i32,
                    String,
                    String,
                    bool,
                    i32,
                    Option<Vec<u8>>,
                    Option<Vec<u8>>,
                    i64,
                    i64,
                ) = stream_stmt.query_row([stream_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
                })?;
                    let info = Arc::new(StreamInfo {
                        name,
                        kind,
                        unit,
                        description,
                        monotonic,
                        temporality,
                        attributes: decode_attributes(attrs.as_deref()),
                        metadata,
                        resource: lookup.resource(conn, resource_id)?,
                        scope: lookup.scope(conn, scope_id)?,
                    });
                    streams.insert(stream_id, info.clone());
                    info
                }
            };
        out.push((id, stream, point));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A span `id` under `parent` starting at `start`, meeting the steps marked `x` in `steps`.
    fn span(id: u8, parent: Option<u8>, start: i64, steps: &str) -> PatternSpan {
        PatternSpan {
            span_id: vec![id],
            parent: parent.map(|p| vec![p]),
            start_ns: start,
            matches: steps.chars().map(|c| c == 'x').collect(),
        }
    }

    #[test]
    fn descendants_order_and_presence_across_a_trace() {
        use Link::*;
        // 1 ── 2 ── 3
        //  └── 4
        let tree = |marks: [&str; 4]| {
            vec![
                span(1, None, 10, marks[0]),
                span(2, Some(1), 20, marks[1]),
                span(3, Some(2), 30, marks[2]),
                span(4, Some(1), 15, marks[3]),
            ]
        };
        // A -> B: B under A, not beside it, not A itself.
        assert!(pattern_matches(&tree(["x.", ".x", "..", ".."]), &[Descendant]));
        assert!(pattern_matches(&tree(["x.", "..", ".x", ".."]), &[Descendant]), "a grandchild");
        assert!(!pattern_matches(&tree(["..", "x.", "..", ".x"]), &[Descendant]), "a sibling");
        assert!(
            !pattern_matches(&tree([".x", "x.", "..", ".."]), &[Descendant]),
            "the other way round"
        );
        assert!(!pattern_matches(&tree(["xx", "..", "..", ".."]), &[Descendant]), "not itself");
        // A then B: B starts no earlier than some A.
        assert!(pattern_matches(&tree(["..", ".x", "..", "x."]), &[Then]), "4 (15) then 2 (20)");
        assert!(!pattern_matches(&tree(["..", "x.", "..", ".x"]), &[Then]), "2 (20) then 4 (15)");
        assert!(pattern_matches(&tree(["xx", "..", "..", ".."]), &[Then]), "one span may be both");
        // A && B: both somewhere.
        assert!(pattern_matches(&tree([".x", "..", "..", "x."]), &[Also]));
        assert!(!pattern_matches(&tree(["x.", "..", "..", ".."]), &[Also]));
        // Chains read left to right: 1 -> 2 -> 3, and 1 -> (4 then 3).
        assert!(pattern_matches(&tree(["x..", ".x.", "..x", "..."]), &[Descendant, Descendant]));
        assert!(!pattern_matches(&tree(["x..", "..x", ".x.", "..."]), &[Descendant, Descendant]));
        assert!(pattern_matches(&tree(["x..", "...", "..x", ".x."]), &[Descendant, Then]));
        assert!(
            !pattern_matches(&tree(["...", "x..", "..x", ".x."]), &[Descendant, Then]),
            "4 is not under 2"
        );
        // A parent cycle (malformed ids) ends.
        let cycle = vec![span(1, Some(2), 0, "x."), span(2, Some(1), 0, ".x")];
        assert!(pattern_matches(&cycle, &[Descendant]));
        let cycle = vec![span(1, Some(2), 0, ".."), span(2, Some(1), 0, ".x")];
        assert!(!pattern_matches(&cycle, &[Descendant]));
    }
}
