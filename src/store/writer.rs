//! The single writer thread: owns the write connection, commits in groups (everything queued, up to
//! a bound, goes into one transaction), settles acks only after the commit, and runs retention in
//! small chunks between groups so deletes never stall ingest for long.

use super::retention::Retention;
use super::rows::RowBatch;
use super::StoreStats;
use crate::pipeline::ack::AckToken;
use crate::pipeline::PipelineError;
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

pub enum WriterMessage {
    Write {
        rows: RowBatch,
        acks: Vec<AckToken>,
    },
    /// Wakes the writer for retention when no data arrives.
    Tick,
    Shutdown(oneshot::Sender<()>),
}

/// Highest committed row ids; live tails wait on changes of this.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Committed {
    pub span_id: i64,
    pub log_id: i64,
    pub point_id: i64,
}

/// Rows per transaction at most; bigger groups amortise the commit, smaller ones bound latency.
const GROUP_MAX_ROWS: usize = 64 * 1024;

pub struct Writer {
    conn: Connection,
    resource_ids: HashMap<i64, i64>,
    scope_ids: HashMap<i64, i64>,
    stream_ids: HashMap<i64, i64>,
    retention: Retention,
    stats: Arc<StoreStats>,
    committed: watch::Sender<Committed>,
}

struct TraceSummary {
    start: i64,
    end: i64,
    spans: i64,
    errors: i64,
    root: Option<(String, String)>,
}

impl Writer {
    pub fn new(conn: Connection, retention: Retention, stats: Arc<StoreStats>, committed: watch::Sender<Committed>) -> Self {
        Writer {
            conn,
            resource_ids: HashMap::new(),
            scope_ids: HashMap::new(),
            stream_ids: HashMap::new(),
            retention,
            stats,
            committed,
        }
    }

    pub fn run(mut self, mut rx: mpsc::Receiver<WriterMessage>) {
        let mut last_retention = Instant::now();
        while let Some(message) = rx.blocking_recv() {
            let mut group = Vec::new();
            let mut rows = 0;
            let mut shutdown = None;
            let mut next = Some(message);
            while let Some(message) = next.take() {
                match message {
                    WriterMessage::Write { rows: batch, acks } => {
                        rows += batch.row_count();
                        group.push((batch, acks));
                    }
                    WriterMessage::Tick => {}
                    WriterMessage::Shutdown(done) => {
                        shutdown = Some(done);
                        break;
                    }
                }
                if rows < GROUP_MAX_ROWS {
                    next = rx.try_recv().ok();
                }
            }
            if !group.is_empty() {
                self.commit_group(group);
            }
            if let Some(done) = shutdown {
                self.close();
                let _ = done.send(());
                return;
            }
            if last_retention.elapsed() >= Duration::from_millis(500) || self.retention.needs_room(&self.conn) {
                last_retention = Instant::now();
                self.retention.step(&self.conn, &self.stats);
            }
        }
        self.close();
    }

    fn close(&mut self) {
        // A checkpoint leaves the main file complete, so a copy of it alone is a backup.
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;");
    }

    fn commit_group(&mut self, group: Vec<(RowBatch, Vec<AckToken>)>) {
        let started = Instant::now();
        let result = self.insert_all(&group);
        let elapsed = started.elapsed();
        match result {
            Ok(committed) => {
                self.stats.commits.fetch_add(1, Ordering::Relaxed);
                self.stats.commit_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
                self.committed.send_if_modified(|c| {
                    let changed = *c != committed;
                    *c = committed;
                    changed
                });
                for (_, acks) in group {
                    for ack in acks {
                        ack.commit();
                    }
                }
            }
            Err(err) => {
                // Ids handed out inside the failed transaction are gone with it.
                self.resource_ids.clear();
                self.scope_ids.clear();
                self.stream_ids.clear();
                self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %err, "storage write failed; the senders will retry");
                let refusal = PipelineError::retryable(format!("storage write failed: {err}; retry later"));
                for (_, acks) in group {
                    for ack in acks {
                        ack.fail(refusal.clone());
                    }
                }
            }
        }
    }

    /// Insert and commit one group, as the writer thread does, without acks (for `bench-sqlite`).
    pub fn commit_rows(&mut self, group: Vec<RowBatch>) -> rusqlite::Result<()> {
        let group: Vec<(RowBatch, Vec<AckToken>)> = group.into_iter().map(|b| (b, Vec::new())).collect();
        self.insert_all(&group).map(|_| ())
    }

    fn insert_all(&mut self, group: &[(RowBatch, Vec<AckToken>)]) -> rusqlite::Result<Committed> {
        let tx = self.conn.transaction()?;
        let mut committed = *self.committed.borrow();
        let (mut spans, mut logs, mut points) = (0i64, 0i64, 0i64);
        for (batch, _) in group {
            let resources = intern_resources(&tx, &mut self.resource_ids, batch)?;
            let scopes = intern_scopes(&tx, &mut self.scope_ids, batch)?;
            if !batch.spans.is_empty() {
                committed.span_id = insert_spans(&tx, batch, &resources, &scopes)?;
                spans += batch.spans.len() as i64;
            }
            if !batch.logs.is_empty() {
                committed.log_id = insert_logs(&tx, batch, &resources, &scopes)?;
                logs += batch.logs.len() as i64;
            }
            if !batch.points.is_empty() {
                committed.point_id = insert_points(&tx, &mut self.stream_ids, batch, &resources, &scopes)?;
                points += batch.points.len() as i64;
            }
        }
        let mut count = tx.prepare_cached("UPDATE row_counts SET n = n + ?2 WHERE tbl = ?1")?;
        count.execute(params!["spans", spans])?;
        count.execute(params!["logs", logs])?;
        count.execute(params!["metric_points", points])?;
        drop(count);
        tx.commit()?;
        self.stats.spans_written.fetch_add(spans as u64, Ordering::Relaxed);
        self.stats.logs_written.fetch_add(logs as u64, Ordering::Relaxed);
        self.stats.points_written.fetch_add(points as u64, Ordering::Relaxed);
        Ok(committed)
    }
}

fn intern_resources(tx: &Connection, cache: &mut HashMap<i64, i64>, batch: &RowBatch) -> rusqlite::Result<Vec<i64>> {
    batch
        .resources
        .iter()
        .map(|r| {
            if let Some(id) = cache.get(&r.hash) {
                return Ok(*id);
            }
            tx.prepare_cached(
                "INSERT INTO resources(hash, service, schema_url, body) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(hash) DO NOTHING",
            )?
            .execute(params![r.hash, r.service, r.schema_url, r.body])?;
            let id: i64 = tx
                .prepare_cached("SELECT id FROM resources WHERE hash = ?1")?
                .query_row([r.hash], |row| row.get(0))?;
            cache.insert(r.hash, id);
            Ok(id)
        })
        .collect()
}

fn intern_scopes(tx: &Connection, cache: &mut HashMap<i64, i64>, batch: &RowBatch) -> rusqlite::Result<Vec<i64>> {
    batch
        .scopes
        .iter()
        .map(|s| {
            if let Some(id) = cache.get(&s.hash) {
                return Ok(*id);
            }
            tx.prepare_cached(
                "INSERT INTO scopes(hash, name, version, schema_url, body) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(hash) DO NOTHING",
            )?
            .execute(params![s.hash, s.name, s.version, s.schema_url, s.body])?;
            let id: i64 = tx
                .prepare_cached("SELECT id FROM scopes WHERE hash = ?1")?
                .query_row([s.hash], |row| row.get(0))?;
            cache.insert(s.hash, id);
            Ok(id)
        })
        .collect()
}

/// Returns the last inserted span row id.
fn insert_spans(tx: &Connection, batch: &RowBatch, resources: &[i64], scopes: &[i64]) -> rusqlite::Result<i64> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO spans(trace_id, span_id, parent_span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code, attrs, extra)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let mut index = tx.prepare_cached("INSERT OR IGNORE INTO span_attr_index(h, span_rowid) VALUES (?1, ?2)")?;
    let mut traces: HashMap<[u8; 16], TraceSummary> = HashMap::new();
    // One index entry per (trace, value): the latest span holding it (retention deletes it last).
    let mut index_entries: HashMap<([u8; 16], i64), i64> = HashMap::new();
    let mut services: HashMap<usize, (i64, i64, i64)> = HashMap::new();
    let mut last = 0;
    for span in &batch.spans {
        insert.execute(params![
            &span.trace_id[..],
            &span.span_id[..],
            span.parent_span_id.as_ref().map(|p| &p[..]),
            span.name,
            span.kind,
            resources[span.resource],
            scopes[span.scope],
            span.start_ns,
            span.end_ns,
            span.status_code,
            span.attrs,
            span.extra,
        ])?;
        last = tx.last_insert_rowid();
        for h in &span.attr_hashes {
            index_entries.insert((span.trace_id, *h), last);
        }
        let is_error = i64::from(span.status_code == 2);
        let summary = traces.entry(span.trace_id).or_insert(TraceSummary {
            start: span.start_ns,
            end: span.end_ns,
            spans: 0,
            errors: 0,
            root: None,
        });
        summary.start = summary.start.min(span.start_ns);
        summary.end = summary.end.max(span.end_ns);
        summary.spans += 1;
        summary.errors += is_error;
        if span.parent_span_id.is_none() {
            summary.root = Some((batch.resources[span.resource].service.clone(), span.name.clone()));
        }
        let service = services.entry(span.resource).or_insert((0, 0, 0));
        service.0 += 1;
        service.1 += is_error;
        service.2 = service.2.max(span.end_ns);
    }
    // Sorted by hash: neighbouring inserts touch neighbouring index pages.
    let mut entries: Vec<(i64, i64)> = index_entries.into_iter().map(|((_, h), rowid)| (h, rowid)).collect();
    entries.sort_unstable();
    for (h, rowid) in entries {
        index.execute(params![h, rowid])?;
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count, root_service, root_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(trace_id) DO UPDATE SET start_ns = min(start_ns, excluded.start_ns), end_ns = max(end_ns, excluded.end_ns),
           span_count = span_count + excluded.span_count, error_count = error_count + excluded.error_count,
           root_service = coalesce(excluded.root_service, root_service), root_name = coalesce(excluded.root_name, root_name)",
    )?;
    for (trace_id, t) in &traces {
        let (root_service, root_name) = t.root.clone().unzip();
        upsert.execute(params![&trace_id[..], t.start, t.end, t.spans, t.errors, root_service, root_name])?;
    }
    let mut stats = tx.prepare_cached(
        "INSERT INTO service_stats(service, spans, errors, last_seen_ns) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(service) DO UPDATE SET spans = spans + excluded.spans, errors = errors + excluded.errors, last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)",
    )?;
    for (resource, (n, errors, last_seen)) in &services {
        stats.execute(params![batch.resources[*resource].service, n, errors, last_seen])?;
    }
    Ok(last)
}

fn insert_logs(tx: &Connection, batch: &RowBatch, resources: &[i64], scopes: &[i64]) -> rusqlite::Result<i64> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO logs(time_ns, observed_ns, severity_number, severity_text, body_text, trace_id, span_id, resource_id, scope_id, attrs, extra)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut fts = tx.prepare_cached("INSERT INTO logs_fts(rowid, body_text) VALUES (?1, ?2)")?;
    let mut last = 0;
    for log in &batch.logs {
        insert.execute(params![
            log.time_ns,
            log.observed_ns,
            log.severity_number,
            log.severity_text,
            log.body_text,
            log.trace_id,
            log.span_id,
            resources[log.resource],
            scopes[log.scope],
            log.attrs,
            log.extra,
        ])?;
        last = tx.last_insert_rowid();
        if !log.body_text.is_empty() {
            fts.execute(params![last, log.body_text])?;
        }
    }
    Ok(last)
}

fn insert_points(
    tx: &Connection,
    cache: &mut HashMap<i64, i64>,
    batch: &RowBatch,
    resources: &[i64],
    scopes: &[i64],
) -> rusqlite::Result<i64> {
    let mut stream_ids = Vec::with_capacity(batch.streams.len());
    for s in &batch.streams {
        if let Some(id) = cache.get(&s.hash) {
            stream_ids.push(*id);
            continue;
        }
        tx.prepare_cached(
            "INSERT INTO metric_streams(hash, name, type, unit, description, monotonic, temporality, resource_id, scope_id, attrs, metadata)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(hash) DO NOTHING",
        )?
        .execute(params![s.hash, s.name, s.kind, s.unit, s.description, s.monotonic, s.temporality, resources[s.resource], scopes[s.scope], s.attrs, s.metadata])?;
        let id: i64 = tx
            .prepare_cached("SELECT id FROM metric_streams WHERE hash = ?1")?
            .query_row([s.hash], |r| r.get(0))?;
        cache.insert(s.hash, id);
        stream_ids.push(id);
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO metric_points(stream_id, time_ns, start_ns, value, value_int, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut last = 0;
    for p in &batch.points {
        insert.execute(params![stream_ids[p.stream], p.time_ns, p.start_ns, p.value, p.value_int, p.body])?;
        last = tx.last_insert_rowid();
    }
    Ok(last)
}
