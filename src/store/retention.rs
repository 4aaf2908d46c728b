//! Retention by age and by size, run by the writer thread in small time-boxed steps so deletes
//! never hold up ingest for long. Size is kept under a low-water mark below the cap, so freed
//! pages are reused and the file stops growing at about the cap.

use super::packed::{spans_in_id_order, OLDEST_SPAN_ID};
use super::packing;
use super::rows::{attr_hashes, decode_attributes};
use super::schema::span_in_trace;
use super::StoreStats;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Rows per delete chunk: a step sizes each chunk by the rate its earlier chunks ran at, so the
/// last chunk ends near the budget instead of overrunning it (500 spans take from a few ms to
/// tens of ms, depending on how much of the file is cached).
const MAX_CHUNK: i64 = 500;
const FIRST_CHUNK: i64 = 100;
const MIN_CHUNK: i64 = 20;
/// What one step aims to spend deleting (the writer does nothing else meanwhile). The checks are
/// between chunks, so the deleting ends within about one chunk of this; the commit comes on top,
/// and writing the step's pages to the WAL once took 71 ms after 41 ms of deleting (scripts/bench
/// retention, bench-results/retention.log). The target is 100 ms for the whole step.
const STEP_BUDGET: Duration = Duration::from_millis(25);
/// Start deleting when live data passes this fraction of the cap.
const LOW_WATER: f64 = 0.90;

#[derive(Clone, Debug, Default)]
pub struct Retention {
    pub max_age: Option<Duration>,
    pub max_bytes: Option<u64>,
}

impl Retention {
    /// Over the size low-water mark: the writer then runs a step after every commit, not only
    /// twice a second, so deletion keeps pace with ingest at the cap.
    pub fn needs_room(&self, conn: &Connection) -> bool {
        match self.max_bytes {
            Some(max) => live_bytes(conn).map(|b| b > (max as f64 * LOW_WATER) as i64).unwrap_or(false),
            None => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Table {
    Spans,
    Logs,
    Points,
}

impl Retention {
    /// One time-boxed step in one transaction: one commit, however many chunks fit in the budget.
    /// The expired count moves only after the commit, so a step rolled back (a full disk) changes
    /// no counter. An error is for the caller to report; the next step simply tries again.
    /// Returns the rows deleted, and whether resources, scopes or metric series went with them (the
    /// writer then forgets the ids it has cached).
    pub fn step(&self, conn: &Connection, stats: &StoreStats, sweep: &mut Sweep) -> rusqlite::Result<Stepped> {
        let started = Instant::now();
        let mut deleting = Duration::ZERO;
        let mut swept = *sweep;
        let result = conn.unchecked_transaction().and_then(|tx| {
            let stepped = self.step_inner(&tx, started, &mut swept)?;
            deleting = started.elapsed();
            tx.commit()?;
            Ok(stepped)
        });
        if result.is_ok() {
            *sweep = swept;
        }
        let micros = started.elapsed().as_micros() as u64;
        if micros > 100_000 {
            // Over the promise (scripts/bench retention): where the time went, for OTELBOX_LOG=debug.
            tracing::debug!(
                total_ms = micros / 1000,
                deleting_ms = deleting.as_millis() as u64,
                rows = result.as_ref().map_or(0, |s| s.expired),
                "a long retention step"
            );
        }
        stats.retention_micros.fetch_add(micros, Ordering::Relaxed);
        stats.retention_step_max_micros.fetch_max(micros, Ordering::Relaxed);
        if let Ok(stepped) = &result {
            stats.rows_expired.fetch_add(stepped.expired, Ordering::Relaxed);
            stats.unreferenced_removed.fetch_add(stepped.forgotten, Ordering::Relaxed);
        }
        result
    }

    fn step_inner(&self, conn: &Connection, started: Instant, sweep: &mut Sweep) -> rusqlite::Result<Stepped> {
        let mut expired = 0;
        let mut forgotten = 0;
        let mut chunks = Chunks::new(started);
        if let Some(max_age) = self.max_age {
            let cutoff = now_ns().saturating_sub(max_age.as_nanos() as i64);
            if let Some(arrived) = arrived_before(conn, cutoff)? {
                for table in [Table::Spans, Table::Logs, Table::Points] {
                    while let Some(limit) = chunks.next_limit() {
                        let (rows, series) = delete_oldest(conn, table, arrived.last_id(table), limit)?;
                        if rows == 0 {
                            break;
                        }
                        expired += chunks.deleted(rows);
                        forgotten += series;
                    }
                }
            }
        }
        let mut over_target = false;
        if let Some(max_bytes) = self.max_bytes {
            let target = (max_bytes as f64 * LOW_WATER) as i64;
            let (rows, series) = delete_oldest_until(conn, target, &mut chunks)?;
            expired += rows;
            forgotten += series;
            over_target = live_bytes(conn)? > target;
        }
        if expired > 0 {
            super::blocks::trim(conn)?;
            trim_arrivals(conn)?;
        }
        // Resources and scopes are swept while data goes, and while the store is over its size
        // target with nothing left to delete: otherwise they would outlive every row using them,
        // and a flood of made-up resources would keep the size cap exceeded for ever.
        if expired > 0 || over_target {
            forgotten += sweep.step(conn)?;
        }
        Ok(Stepped { expired, forgotten })
    }
}

/// What one retention step did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stepped {
    /// Span, log and point rows deleted.
    pub expired: u64,
    /// Metric series, resources and scopes deleted because no row uses them any more.
    pub forgotten: u64,
}

/// Rows of `resources` and `scopes` looked at per step for being unused.
const SWEEP_ROWS: i64 = 500;

/// A sweep through `resources` and `scopes` for rows no span, log or metric series uses any more,
/// `SWEEP_ROWS` of each per step from where the last step stopped, so a step stays cheap however
/// many there are. The writer keeps it; a rolled-back step leaves it where it was.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sweep {
    resource: i64,
    scope: i64,
}

impl Sweep {
    /// Delete the unused among the next rows of both tables; returns how many.
    fn step(&mut self, conn: &Connection) -> rusqlite::Result<u64> {
        let first = |sql: &str| conn.prepare_cached(sql)?.query_row([], |r| r.get::<_, i64>(0));
        let oldest_span = first(&format!("SELECT coalesce({OLDEST_SPAN_ID}, 9223372036854775807)"))?;
        let oldest_log = first("SELECT coalesce(min(id), 9223372036854775807) FROM logs")?;
        let mut forgotten = 0;
        for (table, cursor, series_column) in [
            ("resources", &mut self.resource, "resource_id"),
            ("scopes", &mut self.scope, "scope_id"),
        ] {
            let rows: Vec<(i64, i64, i64)> = conn
                .prepare_cached(&format!(
                    "SELECT id, last_span, last_log FROM {table} WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))?
                .query_map(params![*cursor, SWEEP_ROWS], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            // From the start again once through.
            *cursor = if (rows.len() as i64) < SWEEP_ROWS {
                0
            } else {
                rows.last().map_or(0, |r| r.0)
            };
            let mut forget = conn.prepare_cached(&format!(
                "DELETE FROM {table} WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM metric_streams WHERE {series_column} = ?1)"
            ))?;
            for (id, last_span, last_log) in rows {
                // Row ids only grow: one whose last span and log are older than the oldest left has none.
                if last_span < oldest_span && last_log < oldest_log {
                    forgotten += forget.execute([id])? as u64;
                }
            }
        }
        Ok(forgotten)
    }
}

/// Delete the oldest rows across all signals until live data is at most `target` bytes, nothing is
/// left, or the step budget is spent. Returns the rows deleted, and the metric series that went.
fn delete_oldest_until(conn: &Connection, target: i64, chunks: &mut Chunks) -> rusqlite::Result<(u64, u64)> {
    let mut deleted = 0;
    let mut forgotten = 0;
    while let Some(limit) = chunks.next_limit() {
        if live_bytes(conn)? <= target {
            break;
        }
        let Some(table) = oldest_table(conn)? else {
            break;
        };
        let (rows, series) = delete_oldest(conn, table, i64::MAX, limit)?;
        deleted += chunks.deleted(rows);
        forgotten += series;
    }
    Ok((deleted, forgotten))
}

/// The chunks of one step: how much budget is left, and how fast this step has deleted so far.
struct Chunks {
    started: Instant,
    rows: usize,
}

impl Chunks {
    fn new(started: Instant) -> Self {
        Chunks { started, rows: 0 }
    }

    /// Rows for the next chunk, or None when the budget is spent. The first chunk is small (a
    /// cold cache can make a chunk of spans ten times slower); each later one is sized to take
    /// at most half of what is left at this step's rate so far, so the step ends near the budget.
    fn next_limit(&self) -> Option<i64> {
        let spent = self.started.elapsed();
        let left = STEP_BUDGET.checked_sub(spent)?;
        if self.rows == 0 {
            return Some(FIRST_CHUNK);
        }
        let rows_per_sec = self.rows as f64 / spent.as_secs_f64().max(1e-6);
        Some(((rows_per_sec * left.as_secs_f64() / 2.0) as i64).clamp(MIN_CHUNK, MAX_CHUNK))
    }

    /// Count one chunk's deleted rows.
    fn deleted(&mut self, rows: u64) -> u64 {
        self.rows += rows as usize;
        rows
    }
}

/// Bytes in pages that hold data (the file minus its free list). The writer asks twice per group
/// (`at_cap`, `needs_room`), so the statements are cached rather than prepared each time.
pub fn live_bytes(conn: &Connection) -> rusqlite::Result<i64> {
    let pragma = |sql: &str| conn.prepare_cached(sql)?.query_row([], |r| r.get::<_, i64>(0));
    Ok((pragma("PRAGMA page_count")? - pragma("PRAGMA freelist_count")?) * pragma("PRAGMA page_size")?)
}

/// How finely arrival times are kept: one `arrivals` row per interval, so a row may outlive its
/// retention period by up to this much, and the table holds a row per minute of the period.
const ARRIVAL_INTERVAL_NS: i64 = 60_000_000_000;

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as i64
}

/// When rows arrived, recorded by the writer in each group's transaction (table `arrivals`).
/// Retention by age counts from arrival, not from the data's own timestamps: an import of last
/// month's file, the OTLP specification's examples from 2018 or a sender with a wrong clock would
/// otherwise be acknowledged and deleted at once.
#[derive(Debug, Default)]
pub struct Arrivals {
    /// The row commits extend, until it is `ARRIVAL_INTERVAL_NS` old.
    open: Option<i64>,
    /// A row inserted in the transaction not yet committed.
    pending: Option<i64>,
}

impl Arrivals {
    /// Note in the group's transaction that every row up to `committed` has arrived by now.
    pub fn record(&mut self, tx: &Connection, committed: super::writer::Committed) -> rusqlite::Result<()> {
        let now = now_ns();
        if let Some(opened) = self.open.filter(|&opened| (opened..opened + ARRIVAL_INTERVAL_NS).contains(&now)) {
            tx.prepare_cached(
                "UPDATE arrivals SET received_ns = max(received_ns, ?2), last_span = max(last_span, ?3),
                 last_log = max(last_log, ?4), last_point = max(last_point, ?5) WHERE opened_ns = ?1",
            )?
            .execute(params![opened, now, committed.span_id, committed.log_id, committed.point_id])?;
            return Ok(());
        }
        // A new row, after the newest even if the clock went back: rows stay in arrival order.
        let newest: Option<i64> = tx
            .prepare_cached("SELECT max(opened_ns) FROM arrivals")?
            .query_row([], |r| r.get(0))?;
        let opened = newest.map_or(now, |newest| now.max(newest + 1));
        tx.prepare_cached("INSERT INTO arrivals(opened_ns, received_ns, last_span, last_log, last_point) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![
                opened,
                now.max(opened),
                committed.span_id,
                committed.log_id,
                committed.point_id
            ])?;
        self.pending = Some(opened);
        Ok(())
    }

    /// The group's transaction committed: a row it inserted is the one to extend.
    pub fn committed(&mut self) {
        if let Some(opened) = self.pending.take() {
            self.open = Some(opened);
        }
    }

    /// The group's transaction rolled back, and a row it inserted with it.
    pub fn rolled_back(&mut self) {
        self.pending = None;
    }
}

/// The newest arrival row received before `cutoff`: its rows, and all before them, are older.
struct Arrived {
    last_span: i64,
    last_log: i64,
    last_point: i64,
}

impl Arrived {
    fn last_id(&self, table: Table) -> i64 {
        match table {
            Table::Spans => self.last_span,
            Table::Logs => self.last_log,
            Table::Points => self.last_point,
        }
    }
}

fn arrived_before(conn: &Connection, cutoff: i64) -> rusqlite::Result<Option<Arrived>> {
    conn.prepare_cached("SELECT last_span, last_log, last_point FROM arrivals WHERE received_ns < ?1 ORDER BY opened_ns DESC LIMIT 1")?
        .query_row([cutoff], |r| {
            Ok(Arrived {
                last_span: r.get(0)?,
                last_log: r.get(1)?,
                last_point: r.get(2)?,
            })
        })
        .optional()
}

/// The table whose oldest row arrived first: size retention keeps the newest data across all
/// signals, by arrival as age retention does (data with old timestamps is not deleted first).
fn oldest_table(conn: &Connection) -> rusqlite::Result<Option<Table>> {
    let candidates = [
        (
            Table::Spans,
            format!("SELECT {OLDEST_SPAN_ID}"),
            "SELECT opened_ns FROM arrivals WHERE last_span >= ?1 ORDER BY opened_ns LIMIT 1",
        ),
        (
            Table::Logs,
            "SELECT min(id) FROM logs".to_string(),
            "SELECT opened_ns FROM arrivals WHERE last_log >= ?1 ORDER BY opened_ns LIMIT 1",
        ),
        (
            Table::Points,
            "SELECT min(id) FROM metric_points".to_string(),
            "SELECT opened_ns FROM arrivals WHERE last_point >= ?1 ORDER BY opened_ns LIMIT 1",
        ),
    ];
    let mut best: Option<(Table, i64)> = None;
    for (table, oldest_row, arrival) in candidates {
        let Some(oldest) = conn.prepare_cached(&oldest_row)?.query_row([], |r| r.get::<_, Option<i64>>(0))? else {
            continue;
        };
        // Every row is covered by an arrival row written in its transaction; i64::MIN if not.
        let arrived = conn
            .prepare_cached(arrival)?
            .query_row([oldest], |r| r.get::<_, i64>(0))
            .optional()?
            .unwrap_or(i64::MIN);
        if best.is_none_or(|(_, t)| arrived < t) {
            best = Some((table, arrived));
        }
    }
    Ok(best.map(|(t, _)| t))
}

/// Forget arrival rows that cover only deleted rows, so the table stays as small as the data.
fn trim_arrivals(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "DELETE FROM arrivals WHERE last_span < coalesce({OLDEST_SPAN_ID}, 9223372036854775807)
           AND last_log < (SELECT coalesce(min(id), 9223372036854775807) FROM logs)
           AND last_point < (SELECT coalesce(min(id), 9223372036854775807) FROM metric_points)
           AND opened_ns < (SELECT max(opened_ns) FROM arrivals)"
    ))?
    .execute([])?;
    Ok(())
}

/// Delete the oldest rows of `table`, at most `limit` of them and none after row id `last`, inside
/// the caller's transaction; returns how many, and how many metric series went with their last points.
fn delete_oldest(tx: &Connection, table: Table, last: i64, limit: i64) -> rusqlite::Result<(u64, u64)> {
    let mut forgotten = 0;
    let oldest_ids = |sql: &str| -> rusqlite::Result<Vec<i64>> {
        let mut stmt = tx.prepare_cached(sql)?;
        let ids = stmt.query_map(params![last, limit], |r| r.get(0))?.collect();
        ids
    };
    let deleted = match table {
        Table::Spans => delete_oldest_spans(tx, last, limit)?,
        Table::Logs => {
            let ids = oldest_ids("SELECT id FROM logs WHERE id <= ?1 ORDER BY id LIMIT ?2")?;
            let mut row = tx.prepare_cached("DELETE FROM logs WHERE id = ?1")?;
            let mut fts = tx.prepare_cached("DELETE FROM logs_fts WHERE rowid = ?1")?;
            for id in &ids {
                row.execute([id])?;
                fts.execute([id])?;
            }
            ids.len()
        }
        Table::Points => {
            let ids = oldest_ids("SELECT id FROM metric_points WHERE id <= ?1 ORDER BY id LIMIT ?2")?;
            let mut row = tx.prepare_cached("DELETE FROM metric_points WHERE id = ?1 RETURNING stream_id")?;
            let mut streams = HashSet::new();
            for id in &ids {
                if let Some(stream) = row.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
                    streams.insert(stream);
                }
            }
            // A series whose last point went is forgotten: with one made-up label value per point,
            // series would otherwise outgrow the points and keep the size cap exceeded for ever.
            let mut forget = tx.prepare_cached(
                "DELETE FROM metric_streams WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM metric_points WHERE stream_id = ?1)",
            )?;
            for stream in streams {
                forgotten += forget.execute([stream])? as u64;
            }
            ids.len()
        }
    };
    let name = match table {
        Table::Spans => "spans",
        Table::Logs => "logs",
        Table::Points => "metric_points",
    };
    tx.prepare_cached("UPDATE row_counts SET n = n - ?2 WHERE tbl = ?1")?
        .execute(params![name, deleted as i64])?;
    Ok((deleted as u64, forgotten))
}

/// What deleting a span needs to know of it.
struct OldSpan {
    id: i64,
    trace_id: Vec<u8>,
    error: bool,
    attrs: Option<Vec<u8>>,
    resource_id: i64,
}

/// Deleting the oldest spans also removes their index entries and keeps the trace and service
/// summaries true; returns how many went. The chunk's spans are read in one ordered scan of each
/// side of the `spans` view (`packed::spans_in_id_order`): the oldest ids asked of the view itself
/// decoded every pack in every chunk, and held retention at the cap to a sixteenth of its speed
/// (scripts/bench retention). Rows and packed spans alike then go by their id range.
fn delete_oldest_spans(tx: &Connection, last: i64, limit: i64) -> rusqlite::Result<usize> {
    let spans: Vec<OldSpan> = tx
        .prepare_cached(&spans_in_id_order(
            "id, trace_id, status_code, attrs, resource_id",
            "id <= ?1",
            false,
            "?2",
        ))?
        .query_map(params![last, limit], |r| {
            Ok(OldSpan {
                id: r.get(0)?,
                trace_id: r.get(1)?,
                error: r.get::<_, i64>(2)? == 2,
                attrs: r.get(3)?,
                resource_id: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let (Some(first), Some(newest)) = (spans.first().map(|s| s.id), spans.last().map(|s| s.id)) else {
        return Ok(0);
    };
    let deleted = spans.len();
    let mut service_of = tx.prepare_cached("SELECT service FROM resources WHERE id = ?1")?;
    let mut unindex = tx.prepare_cached("DELETE FROM span_attr_index WHERE b = ?2 >> 16 AND h = ?1 AND span_rowid = ?2")?;
    let mut traces: HashMap<Vec<u8>, (i64, i64)> = HashMap::new();
    let mut services: HashMap<String, (i64, i64)> = HashMap::new();
    // A chunk's spans share a few resources: their services are looked up once each.
    let mut services_by_resource: HashMap<i64, String> = HashMap::new();
    // Index entries that pointed at a deleted span, by trace.
    let mut orphaned: HashMap<Vec<u8>, Vec<i64>> = HashMap::new();
    for span in spans {
        for h in attr_hashes(&decode_attributes(span.attrs.as_deref())) {
            if unindex.execute(params![h, span.id])? > 0 {
                orphaned.entry(span.trace_id.clone()).or_default().push(h);
            }
        }
        let error = i64::from(span.error);
        let t = traces.entry(span.trace_id).or_default();
        t.0 += 1;
        t.1 += error;
        let service = match services_by_resource.get(&span.resource_id) {
            Some(service) => service.clone(),
            None => {
                let service: String = service_of
                    .query_row([span.resource_id], |r| r.get(0))
                    .optional()?
                    .unwrap_or_default();
                services_by_resource.insert(span.resource_id, service.clone());
                service
            }
        };
        let s = services.entry(service).or_default();
        s.0 += 1;
        s.1 += error;
    }
    // Every span from `first` to `newest` is one of these: rows go by their range, and packed spans
    // below `newest` are hidden from now on (their packs go once wholly below it).
    tx.prepare_cached("DELETE FROM main.spans WHERE id >= ?1 AND id <= ?2")?
        .execute([first, newest])?;
    tx.prepare_cached("DELETE FROM llm_spans WHERE id >= ?1 AND id <= ?2")?
        .execute([first, newest])?;
    packing::drop_through(tx, newest)?;
    // Counts move by the deleted amounts. Most traces go whole; only a partly deleted one has its
    // times and root recomputed from what remains (the subqueries are the expensive part).
    let mut decrement =
        tx.prepare_cached("UPDATE traces SET span_count = span_count - ?2, error_count = error_count - ?3 WHERE trace_id = ?1")?;
    let mut drop_trace = tx.prepare_cached("DELETE FROM traces WHERE trace_id = ?1 AND span_count <= 0")?;
    let mut partial = HashSet::new();
    for (trace_id, (n, errors)) in traces {
        decrement.execute(params![trace_id, n, errors])?;
        if drop_trace.execute([&trace_id])? == 0 {
            partial.insert(trace_id);
        }
    }
    // An orphaned entry moves to a surviving span of its trace: the index marks candidate traces,
    // so any span of the trace can carry it. A trace deleted whole has none, and its entries just
    // go. The survivor is the trace's newest span, found once per trace: mostly `last_span`
    // (retention deletes the oldest first), else by the trace lookup. Per entry, the lookup was
    // a third of the writer's time at the size cap (perf, scripts/bench retention).
    let mut newest_known = tx.prepare_cached("SELECT s.id FROM traces t JOIN spans s ON s.id = t.last_span WHERE t.trace_id = ?1")?;
    let mut newest_found = tx.prepare_cached(&format!(
        "SELECT s.id FROM spans s WHERE {} ORDER BY s.id DESC LIMIT 1",
        span_in_trace("s", "?1")
    ))?;
    let mut reindex = tx.prepare_cached("INSERT OR IGNORE INTO span_attr_index(b, h, span_rowid) VALUES (?2 >> 16, ?1, ?2)")?;
    for (trace_id, hashes) in orphaned {
        if !partial.contains(&trace_id) {
            continue;
        }
        let survivor = match newest_known.query_row([&trace_id], |r| r.get::<_, i64>(0)).optional()? {
            Some(id) => Some(id),
            None => newest_found.query_row([&trace_id], |r| r.get::<_, i64>(0)).optional()?,
        };
        if let Some(id) = survivor {
            for h in hashes {
                reindex.execute(params![h, id])?;
            }
        }
    }
    // `ORDER BY .. LIMIT 1` rather than `min()` and `max()`: SQLite flattens it into the rows and the
    // packs of the `spans` view (an aggregate over the view may read every pack, store::packed).
    let of_trace = span_in_trace("s", "?1");
    let mut recompute = tx.prepare_cached(&format!(
        "UPDATE traces SET
           start_ns = coalesce((SELECT s.start_ns FROM spans s WHERE {of_trace} ORDER BY s.start_ns LIMIT 1), start_ns),
           end_ns = coalesce((SELECT s.end_ns FROM spans s WHERE {of_trace} ORDER BY s.end_ns DESC LIMIT 1), end_ns),
           root_name = (SELECT s.name FROM spans s WHERE {of_trace} AND s.parent_span_id IS NULL LIMIT 1),
           root_service = (SELECT r.service FROM spans s JOIN resources r ON r.id = s.resource_id
                           WHERE {of_trace} AND s.parent_span_id IS NULL LIMIT 1)
                  WHERE trace_id = ?1"
    ))?;
    for trace_id in partial {
        recompute.execute([trace_id])?;
    }
    let mut update_service = tx.prepare_cached("UPDATE service_stats SET spans = spans - ?2, errors = errors - ?3 WHERE service = ?1")?;
    let mut drop_service = tx.prepare_cached("DELETE FROM service_stats WHERE service = ?1 AND spans <= 0")?;
    for (service, (n, errors)) in services {
        update_service.execute(params![service, n, errors])?;
        drop_service.execute([service])?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::packed::packs_decoded_on_this_thread;
    use crate::store::packing::tests::store_with_spans;

    /// Deleting packed spans decodes each pack once, however many chunks and steps it takes: a
    /// statement that scanned the `spans` view (a correlated `min()`, a lookup the view cannot push
    /// into the packs) would decode every pack past the connections' cache, in every chunk.
    #[test]
    fn retention_reads_each_pack_once() {
        let conn = store_with_spans(45_000);
        while packing::pack_next(&conn).unwrap().is_some() {}
        let packs = conn
            .query_row("SELECT count(*) FROM span_packs", [], |r| r.get::<_, i64>(0))
            .unwrap() as u64;
        assert!(packs > 30, "more packs ({packs}) than a connection caches");
        let retention = Retention {
            max_age: None,
            max_bytes: Some(1), // everything must go
        };
        let (stats, mut sweep) = (StoreStats::default(), Sweep::default());
        let decoded_before = packs_decoded_on_this_thread();
        let mut steps = 0;
        while conn
            .query_row("SELECT count(*) FROM span_packs", [], |r| r.get::<_, i64>(0))
            .unwrap()
            > 0
        {
            retention.step(&conn, &stats, &mut sweep).unwrap();
            steps += 1;
            assert!(steps < 10_000, "retention stopped deleting");
        }
        let decoded = packs_decoded_on_this_thread() - decoded_before;
        assert!(steps > 1, "the deleting took several steps");
        // Each pack once for its spans, and perhaps once more when a later statement of the step
        // looks at the oldest one left after the cache moved on.
        assert!(decoded <= 2 * packs, "{decoded} packs decoded to delete {packs} in {steps} steps");
        let packed_left: i64 = conn
            .query_row("SELECT count(*) FROM packed_spans WHERE id >= 0", [], |r| r.get(0))
            .unwrap();
        assert_eq!(packed_left, 0);
    }

    /// Chunks shrink to what fits half the time left at the rate seen so far, and stop at the budget.
    #[test]
    fn chunks_are_sized_to_end_the_step_near_its_budget() {
        let at = |spent_ms: u64| Instant::now() - Duration::from_millis(spent_ms);
        assert_eq!(Chunks::new(at(0)).next_limit(), Some(FIRST_CHUNK));
        // 300 rows in 15 ms is 20 rows/ms; 10 ms left, half of it: 100 rows (fewer if the test is slow).
        let chunks = Chunks {
            started: at(15),
            rows: 300,
        };
        assert!((80..=100).contains(&chunks.next_limit().unwrap()), "{:?}", chunks.next_limit());
        // Fast deletes are capped, slow ones floored.
        assert_eq!(
            Chunks {
                started: at(1),
                rows: 100_000
            }
            .next_limit(),
            Some(MAX_CHUNK)
        );
        assert_eq!(Chunks { started: at(15), rows: 1 }.next_limit(), Some(MIN_CHUNK));
        assert_eq!(Chunks { started: at(30), rows: 1 }.next_limit(), None);
    }
}
