//! Reading packed spans: the `packed_spans` virtual table, and the `spans` view that unions it with
//! the span rows, so queries read both without knowing which spans are packed.
//!
//! Every connection of a store gets the view (`attach`): a TEMP view named `spans` hides the table
//! `main.spans` from unqualified names, so the store's queries (and a user's SQL) read rows and
//! packs alike, while writes name `main.spans` and fail loudly if they forget to. SQLite flattens
//! the union into each query, which pushes the query's conditions into both sides: the rows keep
//! using their indexes, and the virtual table gets the row-id and trace-id conditions
//! (`best_index`), from which it picks the packs to decode.
//!
//! Packs never change once written (the writer packs a range only when no row can join it, and
//! retention drops old spans by raising `span_packing.floor` instead of rewriting a pack), so each
//! connection keeps the last few decoded packs; which packs exist is always asked of SQLite, in the
//! statement's own snapshot.

use super::packs::{self, Pack};
use super::schema::SPAN_BUCKET_SHIFT;
use rusqlite::types::ValueRef;
use rusqlite::vtab::{Context, Filters, IndexConstraintOp, IndexFlags, IndexInfo, Module, VTab, VTabConfig, VTabConnection, VTabCursor};
use rusqlite::{ffi, Connection, OptionalExtension};
use std::borrow::Cow;
use std::ffi::{c_int, CStr};
use std::sync::{Arc, Mutex};

/// The columns of `main.spans`, in its order; the view and the virtual table have the same.
pub const SPAN_COLUMNS: &str =
    "id, trace_id, span_id, parent_span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code, attrs, extra";
/// The virtual table's declaration: the same types as `main.spans`, which SQLite needs to flatten
/// the union (both sides' columns must have the same affinity).
const DECLARATION: &CStr = c"CREATE TABLE x(id INTEGER, trace_id BLOB, span_id BLOB, parent_span_id BLOB, name TEXT, kind INTEGER, \
    resource_id INTEGER, scope_id INTEGER, start_ns INTEGER, end_ns INTEGER, status_code INTEGER, attrs BLOB, extra BLOB)";
const COLUMN_ID: c_int = 0;
const COLUMN_TRACE_ID: c_int = 1;
/// Decoded packs each connection keeps: a trace's spans usually lie in one or two packs, a time
/// window's in consecutive ones. About 300 KiB each on the agent workload; packs of spans with large
/// attributes (whole LLM prompts) take far more, so the bytes are bounded too (the newest pack is
/// always kept): five connections hold 80 MiB at most.
const CACHED_PACKS: usize = 8;
const CACHED_BYTES: usize = 16 << 20;

/// SQL: the lowest span row id stored, rows and packs alike (NULL when there is none). `min(id)`
/// over the view would read all of it: SQLite takes a minimum over a union row by row. A macro, so
/// `schema::ALL_SPAN_BUCKETS` can `concat!` it.
#[macro_export]
macro_rules! oldest_span_id_sql {
    () => {
        "(SELECT min(id) FROM (SELECT min(id) AS id FROM main.spans UNION ALL SELECT * FROM (SELECT id FROM packed_spans WHERE id >= 0 ORDER BY id LIMIT 1)))"
    };
}
/// SQL: the highest span row id stored (NULL when there is none).
#[macro_export]
macro_rules! newest_span_id_sql {
    () => {
        "(SELECT max(id) FROM (SELECT max(id) AS id FROM main.spans UNION ALL SELECT * FROM (SELECT id FROM packed_spans WHERE id >= 0 ORDER BY id DESC LIMIT 1)))"
    };
}
pub const OLDEST_SPAN_ID: &str = oldest_span_id_sql!();
pub const NEWEST_SPAN_ID: &str = newest_span_id_sql!();

/// SQL: `columns` (which must include `id`) of the spans matching `condition`, oldest first or
/// newest first, at most `limit` (an SQL expression, such as a parameter): each side of the view
/// scanned in order up to the limit, and the two merged. `ORDER BY id LIMIT n` over the view itself
/// reads every pack: SQLite merges a union's sides in order, but does not tell a virtual table
/// which order its side is wanted in, and so sorts all of it first.
pub fn spans_in_id_order(columns: &str, condition: &str, newest_first: bool, limit: &str) -> String {
    let order = if newest_first { "DESC" } else { "ASC" };
    format!(
        "SELECT {columns} FROM (SELECT * FROM (SELECT {columns} FROM main.spans WHERE {condition} ORDER BY id {order} LIMIT {limit}) \
         UNION ALL SELECT * FROM (SELECT {columns} FROM packed_spans WHERE {condition} ORDER BY id {order} LIMIT {limit})) \
         ORDER BY id {order} LIMIT {limit}"
    )
}

thread_local! {
    static PACKS_DECODED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Packs this thread has decoded (read from the database, not found in a connection's cache): the
/// tests' measure of whether a query reads only the packs it needs.
pub fn packs_decoded_on_this_thread() -> u64 {
    PACKS_DECODED.with(|n| n.get())
}

/// Registers `packed_spans` on this connection and creates the `spans` view over it and the rows.
/// Needs the current schema (run after `schema::migrate`).
pub fn attach(conn: &Connection) -> rusqlite::Result<()> {
    const MODULE: Module<PackedSpans> = Module::eponymous_only_module();
    conn.create_module(c"packed_spans", &MODULE, None)?;
    conn.execute_batch(&format!(
        "CREATE TEMP VIEW IF NOT EXISTS spans AS SELECT {SPAN_COLUMNS} FROM main.spans UNION ALL SELECT {SPAN_COLUMNS} FROM packed_spans"
    ))
}

/// What a scan is narrowed by: bits of `idx_num`, and the order of `filter`'s arguments.
mod plan {
    pub const ID_EQ: i32 = 1;
    pub const ID_GT: i32 = 2;
    pub const ID_GE: i32 = 4;
    pub const ID_LT: i32 = 8;
    pub const ID_LE: i32 = 16;
    pub const TRACE_EQ: i32 = 32;
    /// Rows come out newest first (ORDER BY id DESC); oldest first otherwise.
    pub const DESCENDING: i32 = 64;
    pub const CONSTRAINTS: [i32; 6] = [ID_EQ, ID_GT, ID_GE, ID_LT, ID_LE, TRACE_EQ];
}

#[repr(C)]
struct PackedSpans {
    /// Base class; must come first.
    base: ffi::sqlite3_vtab,
    /// The connection this table belongs to (not owned): packs are read through it.
    conn: Connection,
    cache: Mutex<Vec<(i64, Arc<Pack>)>>,
}

unsafe impl<'vtab> VTab<'vtab> for PackedSpans {
    type Aux = ();
    type Cursor = PackedSpansCursor<'vtab>;

    fn connect(
        db: &mut VTabConnection,
        _aux: Option<&()>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        db.config(VTabConfig::Innocuous)?;
        // SAFETY: the handle outlives the table (SQLite disconnects virtual tables before it
        // closes), and this `Connection` does not close it. Statements it caches are finalized when
        // the table is disconnected, which SQLite does before checking for unfinalized statements.
        let conn = unsafe { Connection::from_handle(db.handle()) }?;
        Ok((
            Cow::Borrowed(DECLARATION),
            PackedSpans {
                base: ffi::sqlite3_vtab::default(),
                conn,
                cache: Mutex::new(Vec::new()),
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        let mut chosen: [Option<usize>; 6] = [None; 6];
        for (i, constraint) in info.constraints().enumerate() {
            if !constraint.is_usable() {
                continue;
            }
            let on_id = constraint.column() == COLUMN_ID || constraint.column() < 0;
            let slot = match constraint.operator() {
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ if on_id => 0,
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GT if on_id => 1,
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GE if on_id => 2,
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LT if on_id => 3,
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LE if on_id => 4,
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ if constraint.column() == COLUMN_TRACE_ID => 5,
                _ => continue,
            };
            chosen[slot].get_or_insert(i);
        }
        let mut idx_num = 0;
        let mut argument = 0;
        for (slot, constraint) in chosen.iter().enumerate() {
            if let Some(constraint) = constraint {
                argument += 1;
                idx_num |= plan::CONSTRAINTS[slot];
                // Not omitted: SQLite checks every condition again on what comes out, so a scan
                // only has to return a superset (a bound of another type narrows nothing).
                info.constraint_usage(*constraint).set_argv_index(argument);
            }
        }
        // Row ids are unique: ordered by id first, the rest of the ORDER BY cannot matter.
        let by_id = info
            .order_bys()
            .next()
            .filter(|o| o.column() == COLUMN_ID || o.column() < 0)
            .map(|o| o.is_order_by_desc());
        if let Some(descending) = by_id {
            info.set_order_by_consumed(true);
            if descending {
                idx_num |= plan::DESCENDING;
            }
        }
        let (rows, cost) = if idx_num & plan::ID_EQ != 0 {
            info.set_idx_flags(IndexFlags::SQLITE_INDEX_SCAN_UNIQUE);
            (1, 5.0)
        } else if idx_num & plan::TRACE_EQ != 0 {
            (30, 200.0)
        } else {
            let lower = idx_num & (plan::ID_GT | plan::ID_GE) != 0;
            let upper = idx_num & (plan::ID_LT | plan::ID_LE) != 0;
            match (lower, upper) {
                (true, true) => (4_000, 8_000.0),
                (true, false) | (false, true) => (1_000_000, 2_000_000.0),
                (false, false) => (10_000_000, 20_000_000.0),
            }
        };
        info.set_estimated_rows(rows);
        info.set_estimated_cost(cost);
        info.set_idx_num(idx_num);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<PackedSpansCursor<'vtab>> {
        Ok(PackedSpansCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            table: self,
            packs: Vec::new(),
            next_pack: 0,
            range: None,
            current: None,
            position: 0,
            lower: i64::MIN,
            upper: i64::MAX,
            trace: None,
            descending: false,
        })
    }
}

impl PackedSpans {
    /// Pack `pack`, decoded, from the cache or the database. The caller learnt from SQLite, in
    /// this statement's snapshot, that the pack exists; its content never changes.
    fn pack(&self, pack: i64) -> rusqlite::Result<Option<Arc<Pack>>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = cache.iter().position(|(p, _)| *p == pack) {
            let entry = cache.remove(at);
            let decoded = entry.1.clone();
            cache.push(entry);
            return Ok(Some(decoded));
        }
        let body: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT body FROM span_packs WHERE pack = ?1")?
            .query_row([pack], |r| r.get(0))
            .optional()?;
        let Some(body) = body else {
            return Ok(None);
        };
        let decoded = Arc::new(Pack::decode(&body).map_err(|e| rusqlite::Error::ModuleError(format!("pack {pack}: {e}")))?);
        PACKS_DECODED.with(|n| n.set(n.get() + 1));
        cache.push((pack, decoded.clone()));
        let mut bytes: usize = cache.iter().map(|(_, p)| p.heap_bytes()).sum();
        while cache.len() > 1 && (cache.len() > CACHED_PACKS || bytes > CACHED_BYTES) {
            bytes -= cache.remove(0).1.heap_bytes();
        }
        Ok(Some(decoded))
    }

    /// The lowest span row id retention has left: packed spans below it are deleted.
    fn floor(&self) -> rusqlite::Result<i64> {
        self.conn
            .prepare_cached("SELECT floor FROM span_packing")?
            .query_row([], |r| r.get(0))
            .optional()
            .map(|f| f.unwrap_or(0))
    }

    /// The first pack from `from` on towards `to` (down when `descending`), one seek of
    /// `span_packs`. A scan lists its packs one at a time: listing them all up front read every leaf
    /// page of `span_packs`, which hold the packs' bodies (100 ms and more at 10 million spans).
    fn pack_from(&self, from: i64, to: i64, descending: bool) -> rusqlite::Result<Option<i64>> {
        let sql = if descending {
            "SELECT pack FROM span_packs WHERE pack <= ?1 AND pack >= ?2 ORDER BY pack DESC LIMIT 1"
        } else {
            "SELECT pack FROM span_packs WHERE pack >= ?1 AND pack <= ?2 ORDER BY pack LIMIT 1"
        };
        self.conn.prepare_cached(sql)?.query_row([from, to], |r| r.get(0)).optional()
    }

    /// Packs holding spans of this trace between these row ids, oldest first: through the trace's
    /// buckets (`traces.first_span`, `last_span`) and the pack trace index, as `schema::span_in_trace`
    /// does for rows.
    fn packs_of_trace(&self, trace_id: &[u8], lower: i64, upper: i64) -> rusqlite::Result<Vec<i64>> {
        let rows: Option<(Option<i64>, Option<i64>)> = self
            .conn
            .prepare_cached("SELECT first_span, last_span FROM traces WHERE trace_id = ?1")?
            .query_row([trace_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((Some(first), Some(last))) = rows else {
            return Ok(Vec::new());
        };
        let key = &trace_id[..trace_id.len().min(8)];
        let mut stmt = self
            .conn
            .prepare_cached("SELECT pack FROM span_pack_traces WHERE b = ?1 AND tkey = ?2 AND pack BETWEEN ?3 AND ?4")?;
        let mut packs = Vec::new();
        for bucket in (first.max(lower) >> SPAN_BUCKET_SHIFT)..=(last.min(upper) >> SPAN_BUCKET_SHIFT) {
            let found = stmt.query_map(rusqlite::params![bucket, key, packs::pack_of(lower), packs::pack_of(upper)], |r| {
                r.get::<_, i64>(0)
            })?;
            for pack in found {
                packs.push(pack?);
            }
        }
        debug_assert!(packs.is_sorted(), "buckets and packs within them come in order");
        Ok(packs)
    }
}

#[repr(C)]
struct PackedSpansCursor<'vtab> {
    /// Base class; must come first.
    base: ffi::sqlite3_vtab_cursor,
    table: &'vtab PackedSpans,
    /// The packs to read, in the order rows come out, when a trace named them.
    packs: Vec<i64>,
    next_pack: usize,
    /// Otherwise the packs between these (the next one to look from, the last), found one by one.
    range: Option<(i64, i64)>,
    current: Option<Arc<Pack>>,
    /// Index of the current span in `current`.
    position: usize,
    /// Row ids outside these (inclusive) bounds are skipped.
    lower: i64,
    upper: i64,
    trace: Option<Vec<u8>>,
    descending: bool,
}

impl PackedSpansCursor<'_> {
    /// The current span passes every condition the scan was given.
    fn matches(&self) -> bool {
        let Some(pack) = &self.current else {
            return false;
        };
        let id = pack.id(self.position);
        id >= self.lower && id <= self.upper && self.trace.as_deref().is_none_or(|t| pack.trace_id(self.position) == t)
    }

    /// Moves to the next span of the scan's order, loading packs as needed; `first` starts a pack.
    fn step(&mut self, mut first: bool) -> rusqlite::Result<()> {
        loop {
            if let Some(pack) = &self.current {
                if first {
                    first = false;
                    // Straight to the first span within the bounds (ids are in order): a lookup by
                    // row id reads one span, not a walk through the pack.
                    let position = if self.descending {
                        pack.position_after(self.upper).checked_sub(1)
                    } else {
                        Some(pack.position_after(self.lower.saturating_sub(1))).filter(|p| *p < pack.len())
                    };
                    let Some(position) = position else {
                        self.current = None;
                        continue;
                    };
                    self.position = position;
                } else if self.descending {
                    if self.position == 0 {
                        self.current = None;
                        continue;
                    }
                    self.position -= 1;
                } else {
                    if self.position + 1 >= pack.len() {
                        self.current = None;
                        continue;
                    }
                    self.position += 1;
                }
                if self.matches() {
                    return Ok(());
                }
                continue;
            }
            let pack = match &mut self.range {
                Some((from, to)) => {
                    let Some(pack) = self.table.pack_from(*from, *to, self.descending)? else {
                        return Ok(());
                    };
                    *from = if self.descending { pack - 1 } else { pack + 1 };
                    pack
                }
                None => {
                    let Some(&pack) = self.packs.get(self.next_pack) else {
                        return Ok(());
                    };
                    self.next_pack += 1;
                    pack
                }
            };
            self.current = self.table.pack(pack)?;
            first = true;
        }
    }
}

/// An integer bound from a constraint's value: `None` when it is not a number, so it narrows nothing.
fn bound(value: ValueRef<'_>, round_up: bool) -> Option<i64> {
    match value {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Real(f) if f.is_finite() => {
            let rounded = if round_up { f.ceil() } else { f.floor() };
            Some(rounded.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        }
        _ => None,
    }
}

unsafe impl VTabCursor for PackedSpansCursor<'_> {
    fn filter(&mut self, idx_num: c_int, _idx_str: Option<&str>, args: &Filters<'_>) -> rusqlite::Result<()> {
        self.current = None;
        self.packs.clear();
        self.next_pack = 0;
        self.range = None;
        self.trace = None;
        self.descending = idx_num & plan::DESCENDING != 0;
        self.lower = self.table.floor()?;
        self.upper = i64::MAX;
        let mut empty = false;
        let mut values = args.iter();
        for constraint in plan::CONSTRAINTS {
            if idx_num & constraint == 0 {
                continue;
            }
            let Some(value) = values.next() else {
                break;
            };
            if value == ValueRef::Null {
                empty = true; // nothing equals or compares with NULL
                continue;
            }
            match constraint {
                plan::ID_EQ => match value {
                    ValueRef::Integer(id) => {
                        self.lower = self.lower.max(id);
                        self.upper = self.upper.min(id);
                    }
                    // A real that is not a whole number equals no row id; text or a blob compares
                    // by SQLite's rules, checked again on the way out.
                    ValueRef::Real(f) if f.fract() != 0.0 => empty = true,
                    ValueRef::Real(f) => {
                        self.lower = self.lower.max(f as i64);
                        self.upper = self.upper.min(f as i64);
                    }
                    _ => {}
                },
                plan::ID_GT => {
                    if let Some(b) = bound(value, false) {
                        self.lower = self.lower.max(b.saturating_add(1));
                    }
                }
                plan::ID_GE => {
                    if let Some(b) = bound(value, true) {
                        self.lower = self.lower.max(b);
                    }
                }
                plan::ID_LT => {
                    if let Some(b) = bound(value, true) {
                        self.upper = self.upper.min(b.saturating_sub(1));
                    }
                }
                plan::ID_LE => {
                    if let Some(b) = bound(value, false) {
                        self.upper = self.upper.min(b);
                    }
                }
                plan::TRACE_EQ => match value {
                    ValueRef::Blob(t) => self.trace = Some(t.to_vec()),
                    _ => empty = true, // trace ids are blobs: text or a number equals none
                },
                _ => {}
            }
        }
        if empty || self.lower > self.upper {
            return Ok(());
        }
        let (first, last) = (packs::pack_of(self.lower), packs::pack_of(self.upper));
        match &self.trace {
            Some(trace) => {
                self.packs = self.table.packs_of_trace(trace, self.lower, self.upper)?;
                if self.descending {
                    self.packs.reverse();
                }
            }
            None if self.descending => self.range = Some((last, first)),
            None => self.range = Some((first, last)),
        }
        self.step(true)
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.step(false)
    }

    fn eof(&self) -> bool {
        self.current.is_none()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let Some(pack) = &self.current else {
            return ctx.set_result(rusqlite::types::Null);
        };
        let span = pack.span(self.position);
        match i {
            0 => ctx.set_result(span.id),
            1 => ctx.set_result(span.trace_id),
            2 => ctx.set_result(span.span_id),
            3 => ctx.set_result(span.parent_span_id),
            4 => ctx.set_result(span.name),
            5 => ctx.set_result(span.kind),
            6 => ctx.set_result(span.resource_id),
            7 => ctx.set_result(span.scope_id),
            8 => ctx.set_result(span.start_ns),
            9 => ctx.set_result(span.end_ns),
            10 => ctx.set_result(span.status_code),
            11 => ctx.set_result(span.attrs),
            12 => ctx.set_result(span.extra),
            _ => ctx.set_result(rusqlite::types::Null),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.current.as_ref().map_or(0, |p| p.id(self.position)))
    }
}
