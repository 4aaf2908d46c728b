//! The single writer thread: owns the write connection, commits in groups (everything queued, up to
//! a bound, goes into one transaction), reports each write's outcome only after the commit, and runs retention in
//! small chunks between groups so deletes never stall ingest for long.
//!
//! A group that fails (a full disk, `SQLITE_FULL`, or an IO error) is rolled back whole and every
//! ack of it fails as retryable, so the senders retry; nothing of it is visible and no counter
//! moves. The writer keeps running and the next group simply tries again, so writes succeed by
//! themselves once space returns.
//!
//! With a size cap (`--max-db-size`), the disk lowers the cap when it is nearly full: live data may
//! grow only into the free space beyond a reserve (`Space`), so retention deletes the oldest data
//! and the file stops growing before the disk is full; the reserve leaves SQLite room for its WAL
//! and checkpoints, which deleting needs too. A `SQLITE_FULL` anyway (or the `--memory` limit)
//! caps the size at what the database holds then. Without a cap, nothing is deleted for space.

use super::blocks::{self, InsertedSpans};
use super::codec::BlobCodec;
use super::resource_attrs::ResourceAttrHashes;
use super::retention::Retention;
use super::retention::{Arrivals, Sweep};
use super::rows::{LlmRow, RowBatch, SpanRow};
use super::schema::{wal_checkpoint_pages, SPAN_BUCKET_SHIFT};
use super::StoreStats;
use super::{packing, packs};
use super::{WriteDone, WriteRefused};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;

/// A map hashed by foldhash's seeded fast hasher.
type FoldHashMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

pub enum WriterMessage {
    Write {
        rows: RowBatch,
        done: WriteDone,
    },
    /// Wakes the writer for retention when no data arrives.
    Tick,
    Shutdown(oneshot::Sender<()>),
    /// Tests only (`Store::set_max_page_count`): cap the database's pages to simulate a full disk.
    #[doc(hidden)]
    MaxPageCount(u64, oneshot::Sender<rusqlite::Result<u64>>),
    /// Tests only (`Store::backdate_arrivals`).
    #[doc(hidden)]
    BackdateArrivals(Duration, oneshot::Sender<rusqlite::Result<()>>),
    /// Pack every complete range waiting (`Store::pack_waiting`); answers with the spans packed.
    PackWaiting(oneshot::Sender<rusqlite::Result<u64>>),
}

/// Control messages end a group: what was queued before them is committed first.
enum Control {
    Shutdown(oneshot::Sender<()>),
    MaxPageCount(u64, oneshot::Sender<rusqlite::Result<u64>>),
    BackdateArrivals(Duration, oneshot::Sender<rusqlite::Result<()>>),
    PackWaiting(oneshot::Sender<rusqlite::Result<u64>>),
}

/// Highest committed row ids; live tails wait on changes of this.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Committed {
    pub span_id: i64,
    pub log_id: i64,
    pub point_id: i64,
}

/// Rows per transaction at most. Bigger groups amortise the commit, but every sender in a group
/// waits for its commit, and meanwhile the writer has nothing queued: with 8,192 rows, the acks of
/// one group let its senders send again while the next group commits (scripts/bench ingest over
/// 16 connections on one machine: 118k, 118k and 90k spans/s against 93k with 65,536-row groups).
pub const GROUP_MAX_ROWS: usize = 8 * 1024;
/// Free pages below this many bytes are left for the next rows to reuse (`Writer::vacuum_due`).
const VACUUM_MIN_FREE: i64 = 1 << 20;
/// Bytes of free pages returned per idle step: a few milliseconds of moving pages.
const VACUUM_STEP_BYTES: u64 = 4 << 20;
/// Back-to-back retention steps (no data waiting) between the writer's own WAL checkpoints: a
/// few MiB of WAL each time, instead of one long checkpoint at the next group's commit.
const IDLE_STEPS_PER_CHECKPOINT: u32 = 4;

pub struct Writer {
    conn: Connection,
    resource_ids: HashMap<i64, i64>,
    /// Shared with the store's readers: told of each resource before it commits.
    resource_attrs: Arc<ResourceAttrHashes>,
    scope_ids: HashMap<i64, i64>,
    stream_ids: HashMap<i64, i64>,
    retention: Retention,
    stats: Arc<StoreStats>,
    committed: watch::Sender<Committed>,
    /// Set while groups fail, to log the first failure, then a reminder now and then, then the recovery.
    failing: Option<Failing>,
    space: Space,
    last_retention_warning: Option<Instant>,
    /// WAL pages between automatic checkpoints (`wal_checkpoint_pages`): with a size cap, the WAL
    /// may hold this much besides the live data.
    wal_pages: i64,
    page_size: u64,
    /// When rows arrived, for retention by age.
    arrivals: Arrivals,
    /// Retention's sweep for unused resources and scopes.
    sweep: Sweep,
    /// Series per (metric name, resource id) known to be stored, for `MAX_SERIES_PER_METRIC`.
    series_counts: HashMap<(String, i64), i64>,
    freer: Freer,
    /// Attribute compression: the writer saves each new dictionary before any blob uses it.
    codec: Arc<BlobCodec>,
}

/// Frees committed batches on a thread of its own. A group holds hundreds of thousands of small
/// allocations (names, attribute blobs, LLM rows); freeing them on the writer thread took about 7%
/// of its time (perf, `bench-sqlite`), time the writer now spends on the next group.
struct Freer {
    batches: Option<std::sync::mpsc::SyncSender<Vec<RowBatch>>>,
}

impl Freer {
    fn spawn() -> Freer {
        // Two groups in flight at most: a freer that falls behind slows the writer rather than
        // letting freed memory pile up.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<RowBatch>>(2);
        let lower = crate::priority::below_this_thread();
        let spawned = std::thread::Builder::new().name("otelbox-free".into()).spawn(move || {
            lower();
            for batches in receiver {
                drop(batches);
            }
        });
        Freer {
            batches: spawned.ok().map(|_| sender),
        }
    }

    /// Hand the batches over (or free them here if the thread could not start).
    fn free(&self, batches: Vec<RowBatch>) {
        if let Some(sender) = &self.batches {
            let _ = sender.send(batches);
        }
    }
}

/// Series one metric may have per resource; points of further series go to the metric's overflow
/// series (attribute `otel.metric.overflow = true`) and are counted. 2,000 is the OpenTelemetry
/// SDKs' default cardinality limit, and the overflow series is their convention: a metric with a
/// made-up label value per point would otherwise add a series per point.
pub const MAX_SERIES_PER_METRIC: i64 = 2000;

/// What the disk allows the size cap to be. `retention.max_bytes` is the smallest of the user's
/// cap, the disk's headroom and the size at the last `SQLITE_FULL`; with no user cap it stays off.
struct Space {
    /// The cap the user set.
    configured: Option<u64>,
    /// The database file, to watch its filesystem (not for `--memory`).
    db_path: Option<PathBuf>,
    /// The database size when a write failed with `SQLITE_FULL`; lifted when the disk has room again.
    full_cap: Option<u64>,
    /// The disk (not the user's cap) limits the size now; for logging the change.
    limited: bool,
    /// The WAL takes more than half the reserve: checkpoint after each retention step, since the
    /// automatic checkpoints come only every `wal_pages` of WAL, which a small disk may not have.
    checkpoint_often: bool,
    last_check: Option<Instant>,
}

struct Failing {
    since: Instant,
    groups: u64,
    last_logged: Instant,
}

/// How often a lasting write failure is logged again.
const FAILING_LOG_EVERY: Duration = Duration::from_secs(30);
/// Retry-After for a full disk without a size cap: space comes back only when someone frees it.
const FULL_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How often the free disk space is looked at.
const SPACE_CHECK_EVERY: Duration = Duration::from_millis(500);

struct TraceSummary {
    start: i64,
    end: i64,
    first_row: i64,
    last_row: i64,
    spans: i64,
    errors: i64,
    root: Option<(String, String)>,
}

impl Writer {
    pub fn new(
        conn: Connection,
        retention: Retention,
        stats: Arc<StoreStats>,
        committed: watch::Sender<Committed>,
        resource_attrs: Arc<ResourceAttrHashes>,
    ) -> Self {
        let page_size = conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0)).unwrap_or(4096) as u64;
        let wal_pages = wal_checkpoint_pages(retention.max_bytes, page_size);
        // Checkpoint every `wal_pages`; after one, the WAL file is cut back to that size. (Both
        // are no-ops for `--memory`, which has no WAL; on failure SQLite's defaults stay.)
        let _ = conn.pragma_update(None, "wal_autocheckpoint", wal_pages);
        let _ = conn.pragma_update(None, "journal_size_limit", wal_pages * page_size as i64);
        Writer {
            wal_pages,
            page_size,
            conn,
            resource_ids: HashMap::new(),
            resource_attrs,
            scope_ids: HashMap::new(),
            stream_ids: HashMap::new(),
            stats,
            committed,
            failing: None,
            space: Space {
                configured: retention.max_bytes,
                db_path: None,
                full_cap: None,
                limited: false,
                checkpoint_often: false,
                last_check: None,
            },
            retention,
            last_retention_warning: None,
            arrivals: Arrivals::default(),
            sweep: Sweep::default(),
            series_counts: HashMap::new(),
            freer: Freer::spawn(),
            codec: Arc::default(),
        }
    }

    /// Save the dictionaries this codec trains (the store's own codec, shared with its flatteners).
    pub fn with_codec(mut self, codec: Arc<BlobCodec>) -> Self {
        self.codec = codec;
        self
    }

    /// Watch the free space of the filesystem holding this database file (on-disk stores).
    pub fn watch_disk(mut self, db_path: PathBuf) -> Self {
        self.space.db_path = Some(db_path);
        self
    }

    pub fn run(mut self, mut rx: mpsc::Receiver<WriterMessage>) {
        let mut last_retention = Instant::now();
        // Over the size low-water mark with the last step having deleted something: room is made
        // back to back while no data waits, not only after groups and on the once-a-second tick.
        // Senders refused at the cap are waiting out their Retry-After meanwhile, so without this
        // the writer would idle and ingest at the cap would run at a fraction of the delete rate.
        let mut making_room = false;
        // Steps since a commit could checkpoint: they run with the automatic checkpoint off.
        let mut steps_unchecked = 0;
        // Complete ranges of span rows wait to be packed (`store::packing`): packed while nothing
        // else waits, one range at a time.
        let mut packing_due = packing::waiting(&self.conn).is_ok_and(|n| n > 0);
        loop {
            let message = if making_room || packing_due {
                match rx.try_recv() {
                    Ok(message) => message,
                    Err(mpsc::error::TryRecvError::Empty) if !making_room => {
                        packing_due = self.pack_step() || self.vacuum_step();
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Empty) => {
                        making_room = self.make_room(&mut last_retention) && self.retention.needs_room(&self.conn);
                        steps_unchecked += 1;
                        if steps_unchecked >= IDLE_STEPS_PER_CHECKPOINT || !making_room {
                            // No group commit comes to checkpoint the steps' WAL, which would
                            // otherwise grow past the cap's allowance; the writer is idle now.
                            steps_unchecked = 0;
                            let _ = self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                        }
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            } else {
                match rx.blocking_recv() {
                    Some(message) => message,
                    None => break,
                }
            };
            let mut group = Vec::new();
            let mut rows = 0;
            let mut control = None;
            let mut next = Some(message);
            while let Some(message) = next.take() {
                match message {
                    WriterMessage::Write { rows: batch, done } => {
                        rows += batch.row_count();
                        group.push((batch, done));
                    }
                    WriterMessage::Tick => {}
                    WriterMessage::Shutdown(done) => {
                        control = Some(Control::Shutdown(done));
                        break;
                    }
                    WriterMessage::MaxPageCount(pages, done) => {
                        control = Some(Control::MaxPageCount(pages, done));
                        break;
                    }
                    WriterMessage::BackdateArrivals(by, done) => {
                        control = Some(Control::BackdateArrivals(by, done));
                        break;
                    }
                    WriterMessage::PackWaiting(done) => {
                        control = Some(Control::PackWaiting(done));
                        break;
                    }
                }
                if rows < GROUP_MAX_ROWS {
                    next = rx.try_recv().ok();
                }
            }
            if !group.is_empty() {
                if self.at_cap() {
                    self.refuse_at_cap(group);
                } else {
                    self.commit_group(group);
                    steps_unchecked = 0;
                }
            }
            match control {
                Some(Control::Shutdown(done)) => {
                    self.close();
                    let _ = done.send(());
                    return;
                }
                Some(Control::MaxPageCount(pages, done)) => {
                    let _ = done.send(
                        self.conn
                            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get::<_, i64>(0))
                            .map(|n| n as u64),
                    );
                }
                Some(Control::BackdateArrivals(by, done)) => {
                    let by = by.as_nanos() as i64;
                    let _ = done.send(
                        self.conn
                            .execute(
                                "UPDATE arrivals SET opened_ns = opened_ns - ?1, received_ns = received_ns - ?1",
                                [by],
                            )
                            .map(|_| ()),
                    );
                }
                Some(Control::PackWaiting(done)) => {
                    let mut packed = 0;
                    let result = loop {
                        match packing::pack_next(&self.conn) {
                            Ok(Some(spans)) => packed += spans as u64,
                            Ok(None) => break Ok(packed),
                            // What was packed freed pages even so: a caller filling a full disk
                            // must learn of them.
                            Err(_) if packed > 0 => break Ok(packed),
                            Err(err) => break Err(err),
                        }
                    };
                    self.stats.spans_packed.fetch_add(packed, Ordering::Relaxed);
                    let _ = done.send(result);
                }
                None => {}
            }
            if self.space.last_check.is_none_or(|t| t.elapsed() >= SPACE_CHECK_EVERY) {
                self.adjust_cap();
            }
            let needs_room = self.retention.needs_room(&self.conn);
            let mut made_room = needs_room && self.make_room(&mut last_retention);
            if last_retention.elapsed() >= Duration::from_millis(500) {
                // Retention by age, and by size after a step that only packed.
                last_retention = Instant::now();
                made_room |= self.retention_step() > 0 && needs_room;
            }
            making_room = made_room;
            let waiting = packing::waiting(&self.conn).unwrap_or(0);
            if waiting > packing::BACKLOG_PACKS {
                // Data keeps the writer busy: pack a range between groups too. Packing takes about
                // two thirds of the time writing the rows did (2.8 µs a span, bench-load), so one
                // range per group of up to 8,192 rows costs ingest a tenth at most.
                self.pack_step();
            }
            packing_due = waiting > 0 || self.vacuum_due();
        }
        self.close();
    }

    /// Free pages worth giving back to the filesystem: more than `VACUUM_MIN_FREE` and a sixteenth
    /// of the pages in use. Fewer are reused by the next rows anyway. So are the pages retention
    /// frees in a store past half its size cap: giving them back would only make the file shrink and
    /// grow again with every round of retention.
    fn vacuum_due(&self) -> bool {
        let pragma = |name: &str| {
            self.conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0))
                .unwrap_or(0)
        };
        if pragma("auto_vacuum") != 2 {
            return false; // a store created before v9: its free pages are reused, never returned
        }
        let (pages, free) = (pragma("page_count"), pragma("freelist_count"));
        let near_cap = self.retention.max_bytes.is_some_and(|cap| pages as u64 * self.page_size > cap / 2);
        !near_cap && free * self.page_size as i64 > VACUUM_MIN_FREE && free * 16 > pages - free
    }

    /// Returns up to `VACUUM_STEP_PAGES` free pages to the filesystem; true if more are worth it.
    fn vacuum_step(&mut self) -> bool {
        if !self.vacuum_due() {
            return false;
        }
        let step = (VACUUM_STEP_BYTES / self.page_size.max(512)) as i64;
        // Each freed page moves a page from the end of the file into a free one: WAL to write, so
        // the automatic checkpoint stays on as for any commit.
        match self.conn.execute_batch(&format!("PRAGMA incremental_vacuum({step})")) {
            Ok(()) => true,
            Err(err) => {
                tracing::debug!(error = %err, "incremental vacuum failed");
                false
            }
        }
    }

    /// Packs one range of span rows; true if more may be waiting.
    fn pack_step(&mut self) -> bool {
        match packing::pack_next(&self.conn) {
            Ok(Some(spans)) => {
                self.stats.spans_packed.fetch_add(spans as u64, Ordering::Relaxed);
                true
            }
            Ok(None) => false,
            Err(err) => {
                self.end_leftover_transaction();
                if self.last_retention_warning.is_none_or(|t| t.elapsed() >= FAILING_LOG_EVERY) {
                    self.last_retention_warning = Some(Instant::now());
                    tracing::warn!(error = %err, "packing span rows failed; will retry");
                }
                false
            }
        }
    }

    /// One step of making room over the size low-water mark; returns whether it packed or deleted
    /// anything. Ranges waiting to be packed go before any data is deleted: packing a range frees
    /// about two thirds of its rows' pages (bytes a span: about 330 as rows, 115 packed) and loses
    /// nothing. At the cap, ingest otherwise outran packing, the store held mostly rows, and
    /// retention deleted three packed spans to make room for each new one (scripts/bench retention).
    fn make_room(&mut self, last_retention: &mut Instant) -> bool {
        if packing::waiting(&self.conn).is_ok_and(|n| n > 0) && self.pack_step() {
            return true;
        }
        *last_retention = Instant::now();
        self.retention_step() > 0
    }

    /// One retention step; returns the rows it deleted (0 when it failed, logged now and then).
    fn retention_step(&mut self) -> u64 {
        // The step's commit must not run the automatic checkpoint: copying up to 64 MiB of
        // WAL is ingest's cost, paid at the next group commit, not a retention stall.
        let _ = self.conn.pragma_update(None, "wal_autocheckpoint", 0);
        let stepped = self.retention.step(&self.conn, &self.stats, &mut self.sweep);
        let _ = self.conn.pragma_update(None, "wal_autocheckpoint", self.wal_pages);
        let expired = match stepped {
            Ok(stepped) => {
                if stepped.forgotten > 0 {
                    // Some cached ids may be gone: look them up (or insert them) afresh.
                    self.forget_cached_ids();
                }
                stepped.expired
            }
            Err(err) => {
                self.end_leftover_transaction();
                if self.last_retention_warning.is_none_or(|t| t.elapsed() >= FAILING_LOG_EVERY) {
                    self.last_retention_warning = Some(Instant::now());
                    tracing::warn!(error = %err, "retention step failed; will retry");
                }
                0
            }
        };
        if self.space.checkpoint_often {
            // Once complete, the next commit starts the WAL over instead of growing it.
            let _ = self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
        expired
    }

    fn forget_cached_ids(&mut self) {
        self.resource_ids.clear();
        self.scope_ids.clear();
        self.stream_ids.clear();
        self.series_counts.clear();
    }

    /// Live data plus the WAL's allowance have reached the size cap: retention has not kept pace
    /// with ingest. Writing on would grow the files past the cap, so groups are refused (retryably)
    /// until retention, which runs after every group meanwhile, has made room.
    fn at_cap(&self) -> bool {
        let Some(cap) = self.retention.max_bytes else {
            return false;
        };
        // At least 95% of the cap stays usable, above retention's low-water mark (90%), so that
        // retention's deletes always end a refusal.
        let wal_allowance = (self.wal_pages as u64 * self.page_size).min(cap / 20);
        super::retention::live_bytes(&self.conn).is_ok_and(|live| live as u64 + wal_allowance >= cap)
    }

    fn refuse_at_cap(&mut self, group: Vec<(RowBatch, WriteDone)>) {
        self.stats.refused_at_cap.fetch_add(1, Ordering::Relaxed);
        // Below the configured cap, the disk is what binds: say so, not which flag to raise.
        let reason = if self.space.limited {
            "storage is full (the disk has no more room for the database)"
        } else {
            "storage is at its size cap (--max-db-size)"
        };
        let refusal = WriteRefused {
            message: format!("{reason}: nothing of this request was stored; otelbox is deleting the oldest data to make room; retry later"),
            retry_after: Duration::from_secs(1),
        };
        for (_, done) in group {
            done(Err(refusal.clone()));
        }
    }

    /// Lower the size cap to what the disk allows, or restore it when space returns.
    fn adjust_cap(&mut self) {
        self.space.last_check = Some(Instant::now());
        let Some(configured) = self.space.configured else {
            return;
        };
        let mut cap = configured;
        let mut disk_note = None;
        let mut wal_over_half_reserve = false;
        let path = self.space.db_path.as_deref();
        if let Some((path, disk)) = path.and_then(|p| Some((p, disk_space(p)?))) {
            let reserve = disk_reserve(disk.total);
            if self.space.full_cap.is_some() && disk.free >= 2 * reserve {
                self.space.full_cap = None;
            }
            let database = database_bytes(&self.conn).unwrap_or(0);
            let file_len = |suffix: &str| {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                std::fs::metadata(name).map_or(0, |m| m.len())
            };
            cap = cap.min(disk_cap(database, file_len(""), disk.free, reserve));
            wal_over_half_reserve = file_len("-wal") > reserve / 2;
            disk_note = Some((disk.free, reserve));
        }
        let full_binds = self.space.full_cap.is_some_and(|full| full < cap);
        if let Some(full) = self.space.full_cap {
            cap = cap.min(full);
        }
        let limited = cap < configured;
        self.space.checkpoint_often = limited && wal_over_half_reserve;
        if limited != self.space.limited {
            self.space.limited = limited;
            let (free, reserve) = disk_note.unwrap_or((0, 0));
            if !limited {
                tracing::info!(cap_bytes = cap, "disk space is back: the configured size cap applies again");
            } else if full_binds {
                tracing::warn!(
                    cap_bytes = cap,
                    "the storage is full: the database is kept under cap_bytes, deleting the oldest data, until space returns"
                );
            } else {
                tracing::warn!(
                    cap_bytes = cap,
                    free_bytes = free,
                    reserve_bytes = reserve,
                    "the disk has less room than the size cap: the database is kept under cap_bytes, deleting the oldest data, so that reserve_bytes stay free"
                );
            }
        }
        self.retention.max_bytes = Some(cap);
    }

    /// A failed statement or commit normally leaves no transaction open (rusqlite rolls back on
    /// drop), but if that rollback itself failed the connection would stay inside the dead
    /// transaction and every later group would fail with it. Roll back again to be sure.
    fn end_leftover_transaction(&self) {
        if !self.conn.is_autocommit() {
            if let Err(err) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %err, "cannot roll back a failed storage transaction; will retry");
            }
        }
    }

    fn close(&mut self) {
        // A checkpoint leaves the main file complete, so a copy of it alone is a backup.
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;");
    }

    fn commit_group(&mut self, mut group: Vec<(RowBatch, WriteDone)>) {
        self.codec.save_trained(&self.conn);
        // Batches flattened before the first dictionary was saved: up to a few groups' worth
        // once per store, else they would stay plain for good.
        for (batch, _) in &mut group {
            self.codec.catch_up(batch);
        }
        let started = Instant::now();
        let result = self.insert_all(&group);
        let elapsed = started.elapsed();
        match result {
            Ok(committed) => {
                if let Some(failing) = self.failing.take() {
                    tracing::info!(
                        failed_groups = failing.groups,
                        after_secs = failing.since.elapsed().as_secs(),
                        "storage writes succeed again"
                    );
                }
                self.stats.commits.fetch_add(1, Ordering::Relaxed);
                self.stats.commit_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
                self.committed.send_if_modified(|c| {
                    let changed = *c != committed;
                    *c = committed;
                    changed
                });
                let mut batches = Vec::with_capacity(group.len());
                for (batch, done) in group {
                    done(Ok(()));
                    batches.push(batch);
                }
                self.freer.free(batches);
            }
            Err(err) => {
                self.end_leftover_transaction();
                // Ids handed out inside the failed transaction are gone with it.
                self.forget_cached_ids();
                self.arrivals.rolled_back();
                self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
                let full = err.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull);
                if full && self.space.configured.is_some() && self.space.full_cap.is_none() {
                    // What fits is what the database holds now: retention frees pages for the next writes.
                    self.space.full_cap = database_bytes(&self.conn).ok();
                    self.adjust_cap();
                }
                self.log_failure(&err, group.len());
                let refusal = if full {
                    let (advice, retry_after) = if self.space.configured.is_some() {
                        ("otelbox is deleting the oldest data to make room", Duration::from_secs(1))
                    } else {
                        ("free disk space on the box", FULL_RETRY_AFTER)
                    };
                    WriteRefused {
                        message: format!("storage is full ({err}): nothing of this request was stored; {advice}; retry later"),
                        retry_after,
                    }
                } else {
                    WriteRefused {
                        message: format!("storage write failed ({err}): nothing of this request was stored; retry later"),
                        retry_after: Duration::from_secs(1),
                    }
                };
                for (_, done) in group {
                    done(Err(refusal.clone()));
                }
            }
        }
    }

    /// The first failure in a row is an error in the log; while failures last, a reminder every
    /// `FAILING_LOG_EVERY`, so a full disk under load does not flood the log.
    fn log_failure(&mut self, err: &rusqlite::Error, requests: usize) {
        let now = Instant::now();
        match &mut self.failing {
            None => {
                tracing::error!(error = %err, requests, "storage write failed; the group was rolled back and its senders will retry");
                self.failing = Some(Failing {
                    since: now,
                    groups: 1,
                    last_logged: now,
                });
            }
            Some(failing) => {
                failing.groups += 1;
                if now.duration_since(failing.last_logged) >= FAILING_LOG_EVERY {
                    failing.last_logged = now;
                    tracing::error!(
                        error = %err,
                        failed_groups = failing.groups,
                        for_secs = now.duration_since(failing.since).as_secs(),
                        "storage writes still fail; their senders are told to retry"
                    );
                }
            }
        }
    }

    /// A writer on its own, for `commit_rows` (`bench-sqlite`, tests): no retention, and no readers
    /// waiting on its commits.
    pub fn standalone(conn: Connection) -> Self {
        let (committed, _) = watch::channel(Committed::default());
        Writer::new(
            conn,
            Retention::default(),
            Arc::new(StoreStats::default()),
            committed,
            Default::default(),
        )
    }

    /// Insert and commit one group, as the writer thread does, without acks (for `bench-sqlite`).
    pub fn commit_rows(&mut self, group: Vec<RowBatch>) -> rusqlite::Result<()> {
        self.codec.save_trained(&self.conn);
        let group: Vec<(RowBatch, WriteDone)> = group.into_iter().map(|b| (b, super::unreported())).collect();
        self.insert_all(&group)?;
        self.freer.free(group.into_iter().map(|(batch, _)| batch).collect());
        Ok(())
    }

    fn insert_all(&mut self, group: &[(RowBatch, WriteDone)]) -> rusqlite::Result<Committed> {
        let tx = self.conn.transaction()?;
        let mut committed = *self.committed.borrow();
        let (mut spans, mut logs, mut points) = (0i64, 0i64, 0i64);
        let mut duplicates = 0i64;
        let mut index_entries = Vec::new();
        for (batch, _) in group {
            let resources = intern_resources(&tx, &mut self.resource_ids, &self.resource_attrs, batch)?;
            let scopes = intern_scopes(&tx, &mut self.scope_ids, batch)?;
            if !batch.spans.is_empty() {
                // A block per batch at most, so blocks stay near `blocks::BLOCK_ROWS` however big the group.
                let mut inserted = InsertedSpans::none();
                let before = duplicates;
                let last = insert_spans(&tx, batch, &resources, &scopes, &mut index_entries, &mut inserted, &mut duplicates)?;
                committed.span_id = committed.span_id.max(last);
                blocks::record(&tx, inserted)?;
                spans += batch.spans.len() as i64 - (duplicates - before);
            }
            if !batch.logs.is_empty() {
                committed.log_id = insert_logs(&tx, batch, &resources, &scopes)?;
                logs += batch.logs.len() as i64;
            }
            if !batch.points.is_empty() {
                committed.point_id = insert_points(
                    &tx,
                    &mut self.stream_ids,
                    &mut self.series_counts,
                    &self.stats,
                    batch,
                    &resources,
                    &scopes,
                )?;
                points += batch.points.len() as i64;
            }
        }
        insert_index_entries(&tx, index_entries)?;
        let mut count = tx.prepare_cached("UPDATE row_counts SET n = n + ?2 WHERE tbl = ?1")?;
        count.execute(params!["spans", spans])?;
        count.execute(params!["logs", logs])?;
        count.execute(params!["metric_points", points])?;
        drop(count);
        self.arrivals.record(&tx, committed)?;
        tx.commit()?;
        self.arrivals.committed();
        self.stats.duplicate_spans.fetch_add(duplicates as u64, Ordering::Relaxed);
        self.stats.spans_written.fetch_add(spans as u64, Ordering::Relaxed);
        self.stats.logs_written.fetch_add(logs as u64, Ordering::Relaxed);
        self.stats.points_written.fetch_add(points as u64, Ordering::Relaxed);
        Ok(committed)
    }
}

/// The database's size in pages (including what is still only in the WAL).
fn database_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok((pages * size) as u64)
}

struct DiskSpace {
    /// Bytes an unprivileged process may still write.
    free: u64,
    total: u64,
}

#[cfg(unix)]
fn disk_space(path: &std::path::Path) -> Option<DiskSpace> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a properly sized out-parameter.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    let block = stat.f_frsize as u64;
    Some(DiskSpace {
        free: stat.f_bavail as u64 * block,
        total: stat.f_blocks as u64 * block,
    })
}

#[cfg(not(unix))]
fn disk_space(_path: &std::path::Path) -> Option<DiskSpace> {
    None
}

/// Free space left for SQLite's WAL and checkpoints on a nearly full disk: 256 MiB (four times the
/// WAL's checkpoint interval), or a twentieth of a small filesystem.
fn disk_reserve(total: u64) -> u64 {
    (total / 20).min(256 << 20)
}

/// The most the database may hold on this disk: what the main file already has room for plus the
/// free space beyond the reserve. Pages still only in the WAL count as not yet placed, since the
/// next checkpoint appends them to the main file.
fn disk_cap(database: u64, main_file: u64, free: u64, reserve: u64) -> u64 {
    database.min(main_file) + free.saturating_sub(reserve)
}

fn intern_resources(
    tx: &Connection,
    cache: &mut HashMap<i64, i64>,
    resource_attrs: &ResourceAttrHashes,
    batch: &RowBatch,
) -> rusqlite::Result<Vec<i64>> {
    batch
        .resources
        .iter()
        .map(|r| {
            if let Some(id) = cache.get(&r.hash) {
                return Ok(*id);
            }
            // Before the commit: a query compiled in between may only over-estimate.
            resource_attrs.add(&r.body);
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

/// Spans of a batch already stored (or earlier in the batch), by trace id and span id: the first
/// copy is kept, later ones are dropped. A trace new to the store costs one lookup of its summary
/// row; a span of a stored trace one index seek per bucket its trace's rows lie in (usually one).
struct StoredSpans<'a> {
    /// Per trace of the batch: the span row ids it had before the batch, if any.
    traces: HashMap<[u8; 16], Option<(i64, i64)>, fnv::FnvBuildHasher>,
    /// FNV, not SipHash: ids are already random, and this is hashed once per span.
    in_batch: std::collections::HashSet<([u8; 16], [u8; 8]), fnv::FnvBuildHasher>,
    find_trace: rusqlite::CachedStatement<'a>,
    find_span: rusqlite::CachedStatement<'a>,
    find_packed_span: rusqlite::CachedStatement<'a>,
    /// Spans below this row id may be packed (`store::packing`).
    packed_below: i64,
}

impl<'a> StoredSpans<'a> {
    fn new(tx: &'a Connection, spans: usize) -> rusqlite::Result<Self> {
        Ok(StoredSpans {
            traces: HashMap::default(),
            in_batch: std::collections::HashSet::with_capacity_and_hasher(spans, Default::default()),
            find_trace: tx.prepare_cached("SELECT first_span, last_span FROM traces WHERE trace_id = ?1")?,
            find_span: tx.prepare_cached(
                "SELECT 1 FROM main.spans WHERE (id >> 16) = ?1 AND substr(trace_id, 1, 8) = substr(?2, 1, 8) \
                 AND substr(span_id, 1, 4) = substr(?3, 1, 4) AND trace_id = ?2 AND span_id = ?3",
            )?,
            find_packed_span: tx.prepare_cached("SELECT 1 FROM packed_spans WHERE trace_id = ?1 AND span_id = ?2")?,
            packed_below: packs::ids_of(packing::progress(tx)?.next_pack).start,
        })
    }

    /// This span (trace id and span id) is stored already, or came earlier in the batch.
    fn holds(&mut self, span: &SpanRow) -> rusqlite::Result<bool> {
        if !self.in_batch.insert((span.trace_id, span.span_id)) {
            return Ok(true);
        }
        let rows = match self.traces.get(&span.trace_id) {
            Some(rows) => *rows,
            None => {
                let rows = self
                    .find_trace
                    .query_row([&span.trace_id[..]], |r| {
                        Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
                    })
                    .optional()?
                    .and_then(|(first, last)| first.zip(last));
                self.traces.insert(span.trace_id, rows);
                rows
            }
        };
        let Some((first, last)) = rows else {
            return Ok(false);
        };
        for bucket in (first >> SPAN_BUCKET_SHIFT)..=(last >> SPAN_BUCKET_SHIFT) {
            if self.find_span.exists(params![bucket, &span.trace_id[..], &span.span_id[..]])? {
                return Ok(true);
            }
        }
        // A trace with spans old enough to be packed: its packs, decoded (the connection keeps
        // the last few, and a trace's spans lie in one or two).
        if first < self.packed_below && self.find_packed_span.exists(params![&span.trace_id[..], &span.span_id[..]])? {
            return Ok(true);
        }
        Ok(false)
    }
}

/// Returns the last inserted span row id. Index entries go to `index_entries` (hash, span row id),
/// the rows and their start times to `inserted` (for the time index, `blocks`); spans stored
/// already are skipped and counted in `duplicates`.
fn insert_spans(
    tx: &Connection,
    batch: &RowBatch,
    resources: &[i64],
    scopes: &[i64],
    index_entries: &mut Vec<(i64, i64)>,
    inserted: &mut InsertedSpans,
    duplicates: &mut i64,
) -> rusqlite::Result<i64> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO main.spans(trace_id, span_id, parent_span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code, attrs, extra)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    // Sized up front: growing these maps span by span cost the writer 4% of its time (callgrind).
    // foldhash: seeded per process like SipHash, so senders cannot choose colliding trace ids, but
    // several times faster on these short keys (SipHash was 3% of the writer's time).
    let mut traces: FoldHashMap<[u8; 16], TraceSummary> = FoldHashMap::with_capacity_and_hasher(batch.spans.len(), Default::default());
    // One index entry per (trace, value): the latest span holding it (retention deletes it last).
    let attr_hashes = batch.spans.iter().map(|s| s.attr_hashes.len()).sum();
    let mut latest: FoldHashMap<([u8; 16], i64), i64> = FoldHashMap::with_capacity_and_hasher(attr_hashes, Default::default());
    let mut services: FoldHashMap<usize, (i64, i64, i64)> =
        FoldHashMap::with_capacity_and_hasher(batch.resources.len(), Default::default());
    // LLM rows are inserted after the spans, many to a statement (`insert_llm_rows`).
    let mut llm_rows: Vec<(i64, &LlmRow)> = Vec::new();
    let mut stored = StoredSpans::new(tx, batch.spans.len())?;
    let mut users = Vec::with_capacity(batch.spans.len());
    let mut last = 0;
    for span in &batch.spans {
        if stored.holds(span)? {
            *duplicates += 1;
            continue;
        }
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
        let rowid = tx.last_insert_rowid();
        last = rowid;
        users.push((span.resource, span.scope, rowid));
        if let Some(llm) = &span.llm {
            llm_rows.push((rowid, llm));
        }
        inserted.add(rowid, span.start_ns);
        for h in &span.attr_hashes {
            latest.insert((span.trace_id, *h), rowid);
        }
        let is_error = i64::from(span.status_code == 2);
        let summary = traces.entry(span.trace_id).or_insert(TraceSummary {
            start: span.start_ns,
            end: span.end_ns,
            first_row: rowid,
            last_row: rowid,
            spans: 0,
            errors: 0,
            root: None,
        });
        summary.start = summary.start.min(span.start_ns);
        summary.end = summary.end.max(span.end_ns);
        summary.last_row = rowid;
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
    index_entries.extend(latest.into_iter().map(|((_, h), rowid)| (h, rowid)));
    insert_llm_rows(tx, &llm_rows)?;
    mark_used(tx, "last_span", resources, scopes, &users)?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count, root_service, root_name, first_span, last_span)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT(trace_id) DO UPDATE SET start_ns = min(start_ns, excluded.start_ns), end_ns = max(end_ns, excluded.end_ns),
           first_span = coalesce(first_span, excluded.first_span), last_span = excluded.last_span,
           span_count = span_count + excluded.span_count, error_count = error_count + excluded.error_count,
           root_service = coalesce(excluded.root_service, root_service), root_name = coalesce(excluded.root_name, root_name)",
    )?;
    for (trace_id, t) in &traces {
        let (root_service, root_name) = t.root.clone().unzip();
        upsert.execute(params![
            &trace_id[..],
            t.start,
            t.end,
            t.spans,
            t.errors,
            root_service,
            root_name,
            t.first_row,
            t.last_row
        ])?;
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

/// Note the last row (`column`: `last_span` or `last_log`) each resource and scope of a batch was
/// used by, from `(resource, scope, row id)` in row order: retention's sweep forgets those no row
/// uses any more. An update per resource and scope of the batch.
fn mark_used(tx: &Connection, column: &str, resources: &[i64], scopes: &[i64], users: &[(usize, usize, i64)]) -> rusqlite::Result<()> {
    let mut last_of_resource: HashMap<usize, i64> = HashMap::new();
    let mut last_of_scope: HashMap<usize, i64> = HashMap::new();
    for &(resource, scope, rowid) in users {
        last_of_resource.insert(resource, rowid);
        last_of_scope.insert(scope, rowid);
    }
    let mut resource = tx.prepare_cached(&format!("UPDATE resources SET {column} = ?2 WHERE id = ?1"))?;
    for (index, rowid) in last_of_resource {
        resource.execute(params![resources[index], rowid])?;
    }
    let mut scope = tx.prepare_cached(&format!("UPDATE scopes SET {column} = ?2 WHERE id = ?1"))?;
    for (index, rowid) in last_of_scope {
        scope.execute(params![scopes[index], rowid])?;
    }
    Ok(())
}

/// The columns of an `llm_spans` row as the writer binds them.
const LLM_COLUMNS: &str = "id, operation, error, dialects, provider, model, response_model, input_tokens, output_tokens, \
     cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, cost_source, agent, session, user_id, tool, tool_arguments_hash";
const LLM_COLUMN_COUNT: usize = 19;
/// Rows per `INSERT INTO llm_spans` statement: one statement per row cost the writer a third more than
/// the rows themselves (statement set-up and a B-tree descent each).
const LLM_ROWS_PER_INSERT: usize = 32;

fn llm_insert_sql(rows: usize) -> String {
    let row = format!("({})", vec!["?"; LLM_COLUMN_COUNT].join(", "));
    format!("INSERT INTO llm_spans({LLM_COLUMNS}) VALUES {}", vec![row; rows].join(", "))
}

/// An `llm_spans` row's values, borrowing its text (no copy on the writer thread).
fn llm_row_values(rowid: i64, llm: &LlmRow) -> [ToSqlOutput<'_>; LLM_COLUMN_COUNT] {
    let int = |n: i64| ToSqlOutput::Owned(Value::Integer(n));
    let null = || ToSqlOutput::Owned(Value::Null);
    fn text(v: &Option<String>) -> ToSqlOutput<'_> {
        v.as_deref().map_or(ToSqlOutput::Owned(Value::Null), |t| {
            ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes()))
        })
    }
    let count = |n: Option<u64>| n.map_or_else(null, |n| int(i64::try_from(n).unwrap_or(i64::MAX)));
    [
        int(rowid),
        int(llm.operation.code()),
        int(i64::from(llm.error)),
        int(llm.dialects),
        text(&llm.provider),
        text(&llm.model),
        text(&llm.response_model),
        count(llm.tokens.input),
        count(llm.tokens.output),
        count(llm.tokens.cache_read),
        count(llm.tokens.cache_creation),
        count(llm.tokens.reasoning),
        llm.cost_usd.map_or_else(null, |usd| ToSqlOutput::Owned(Value::Real(usd))),
        text(&llm.cost_source),
        text(&llm.agent),
        text(&llm.session),
        text(&llm.user_id),
        text(&llm.tool),
        llm.tool_arguments_hash.map_or_else(null, int),
    ]
}

/// The group's `llm_spans` rows, `LLM_ROWS_PER_INSERT` to a statement and the rest one by one.
fn insert_llm_rows(tx: &Connection, rows: &[(i64, &LlmRow)]) -> rusqlite::Result<()> {
    let chunks = rows.chunks_exact(LLM_ROWS_PER_INSERT);
    let remainder = chunks.remainder();
    if chunks.len() > 0 {
        let mut insert_many = tx.prepare_cached(&llm_insert_sql(LLM_ROWS_PER_INSERT))?;
        for chunk in chunks {
            insert_many.execute(rusqlite::params_from_iter(
                chunk.iter().flat_map(|(rowid, llm)| llm_row_values(*rowid, llm)),
            ))?;
        }
    }
    let mut insert_one = tx.prepare_cached(&llm_insert_sql(1))?;
    for (rowid, llm) in remainder {
        insert_one.execute(rusqlite::params_from_iter(llm_row_values(*rowid, llm)))?;
    }
    Ok(())
}

/// The attribute index entries of a whole group, sorted by (bucket, hash, row): neighbouring inserts
/// touch neighbouring index pages, once per group rather than once per request. They go in
/// `INDEX_ROWS_PER_INSERT` to a statement: one statement walks the B-tree from where its previous row
/// went, where one statement per row starts each insert from the root. (This and `insert_spans`'
/// maps sized up front: 14% fewer writer instructions, callgrind on `bench-sqlite`.)
fn insert_index_entries(tx: &Connection, entries: Vec<(i64, i64)>) -> rusqlite::Result<()> {
    let mut entries: Vec<(i64, i64, i64)> = entries
        .into_iter()
        .map(|(h, rowid)| (rowid >> SPAN_BUCKET_SHIFT, h, rowid))
        .collect();
    entries.sort_unstable();
    let chunks = entries.chunks_exact(INDEX_ROWS_PER_INSERT);
    let remainder = chunks.remainder();
    if chunks.len() > 0 {
        let mut insert_many = tx.prepare_cached(&index_insert_sql(INDEX_ROWS_PER_INSERT))?;
        for chunk in chunks {
            let values = chunk.iter().flat_map(|&(bucket, h, rowid)| [bucket, h, rowid]);
            insert_many.execute(rusqlite::params_from_iter(values))?;
        }
    }
    let mut insert_one = tx.prepare_cached(&index_insert_sql(1))?;
    for &(bucket, h, rowid) in remainder {
        insert_one.execute(params![bucket, h, rowid])?;
    }
    Ok(())
}

/// Rows per multi-row attribute index insert: 3 parameters each, far below SQLite's 32766 limit.
const INDEX_ROWS_PER_INSERT: usize = 128;

fn index_insert_sql(rows: usize) -> String {
    let values = vec!["(?, ?, ?)"; rows].join(", ");
    format!("INSERT OR IGNORE INTO span_attr_index(b, h, span_rowid) VALUES {values}")
}

fn insert_logs(tx: &Connection, batch: &RowBatch, resources: &[i64], scopes: &[i64]) -> rusqlite::Result<i64> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO logs(time_ns, observed_ns, severity_number, severity_text, body_text, trace_id, span_id, resource_id, scope_id, attrs, extra)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut fts = tx.prepare_cached("INSERT INTO logs_fts(rowid, body_text) VALUES (?1, ?2)")?;
    let mut users = Vec::with_capacity(batch.logs.len());
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
        users.push((log.resource, log.scope, last));
        if !log.body_text.is_empty() {
            fts.execute(params![last, log.body_text])?;
        }
    }
    mark_used(tx, "last_log", resources, scopes, &users)?;
    Ok(last)
}

/// The id of a series stored already, by its hash.
fn stored_series(tx: &Connection, hash: i64) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT id FROM metric_streams WHERE hash = ?1")?
        .query_row([hash], |r| r.get(0))
        .optional()
}

fn insert_points(
    tx: &Connection,
    cache: &mut HashMap<i64, i64>,
    series_counts: &mut HashMap<(String, i64), i64>,
    stats: &super::StoreStats,
    batch: &RowBatch,
    resources: &[i64],
    scopes: &[i64],
) -> rusqlite::Result<i64> {
    let mut stream_ids = Vec::with_capacity(batch.streams.len());
    let mut overflowing = vec![false; batch.streams.len()];
    let mut insert_series = tx.prepare_cached(
        "INSERT INTO metric_streams(hash, name, type, unit, description, monotonic, temporality, resource_id, scope_id, attrs, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT(hash) DO NOTHING",
    )?;
    for (index, s) in batch.streams.iter().enumerate() {
        if let Some(id) = cache.get(&s.hash) {
            stream_ids.push(*id);
            continue;
        }
        let resource_id = resources[s.resource];
        let id = match stored_series(tx, s.hash)? {
            Some(id) => id,
            None => {
                let key = (s.name.clone(), resource_id);
                let count = match series_counts.get_mut(&key) {
                    Some(count) => count,
                    None => {
                        let stored: i64 = tx
                            .prepare_cached("SELECT count(*) FROM metric_streams WHERE name = ?1 AND resource_id = ?2")?
                            .query_row(params![s.name, resource_id], |r| r.get(0))?;
                        series_counts.entry(key).or_insert(stored)
                    }
                };
                if *count < MAX_SERIES_PER_METRIC {
                    *count += 1;
                    insert_series.execute(params![
                        s.hash,
                        s.name,
                        s.kind,
                        s.unit,
                        s.description,
                        s.monotonic,
                        s.temporality,
                        resource_id,
                        scopes[s.scope],
                        s.attrs,
                        s.metadata
                    ])?;
                    stored_series(tx, s.hash)?.expect("inserted above")
                } else {
                    overflowing[index] = true;
                    let overflow = overflow_series(s, batch);
                    insert_series.execute(params![
                        overflow.hash,
                        s.name,
                        s.kind,
                        s.unit,
                        s.description,
                        s.monotonic,
                        s.temporality,
                        resource_id,
                        scopes[s.scope],
                        overflow.attrs,
                        s.metadata
                    ])?;
                    stored_series(tx, overflow.hash)?.expect("inserted above")
                }
            }
        };
        cache.insert(s.hash, id);
        stream_ids.push(id);
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO metric_points(stream_id, time_ns, start_ns, value, value_int, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut last = 0;
    let mut overflowed = 0;
    for p in &batch.points {
        insert.execute(params![stream_ids[p.stream], p.time_ns, p.start_ns, p.value, p.value_int, p.body])?;
        overflowed += u64::from(overflowing[p.stream]);
        last = tx.last_insert_rowid();
    }
    // Counted before the commit: a rolled-back group over-counts, which a counter of overflow may.
    stats.overflow_points.fetch_add(overflowed, Ordering::Relaxed);
    Ok(last)
}

/// The overflow series of a series' metric: same resource, scope and metric, attributes
/// `otel.metric.overflow = true` only.
fn overflow_series(series: &super::rows::StreamRow, batch: &RowBatch) -> super::rows::StreamRow {
    let attrs = super::rows::encode_attributes(vec![opentelemetry_proto::tonic::common::v1::KeyValue {
        key: "otel.metric.overflow".into(),
        value: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
            value: Some(opentelemetry_proto::tonic::common::v1::any_value::Value::BoolValue(true)),
        }),
        ..Default::default()
    }]);
    let mut hash = crate::hash::Fnv64::new();
    hash.write(b"otel.metric.overflow\xff");
    hash.write(&batch.resources[series.resource].hash.to_le_bytes());
    hash.write(&batch.scopes[series.scope].hash.to_le_bytes());
    hash.write(series.name.as_bytes());
    hash.write(&[0xff, series.kind as u8, series.monotonic as u8, series.temporality as u8]);
    hash.write(series.unit.as_bytes());
    super::rows::StreamRow {
        hash: hash.finish() as i64,
        attrs,
        ..series.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_cap_stops_growth_at_the_reserve() {
        const MIB: u64 = 1 << 20;
        // Plenty of room: far above any realistic cap.
        assert_eq!(disk_cap(100 * MIB, 100 * MIB, 10_000 * MIB, 64 * MIB), 10_036 * MIB);
        // At the reserve: the database stays the size it is.
        assert_eq!(disk_cap(100 * MIB, 100 * MIB, 64 * MIB, 64 * MIB), 100 * MIB);
        assert_eq!(disk_cap(100 * MIB, 100 * MIB, 10 * MIB, 64 * MIB), 100 * MIB);
        // 30 MiB still in the WAL will take 30 MiB of the free space at the next checkpoint.
        assert_eq!(disk_cap(130 * MIB, 100 * MIB, 94 * MIB, 64 * MIB), 130 * MIB);
        assert_eq!(disk_reserve(4 * MIB), 4 * MIB / 20);
        assert_eq!(disk_reserve(500_000 * MIB), 256 * MIB);
    }

    /// At the size cap (live data plus the WAL's allowance), a group is refused retryably and
    /// nothing of it is stored; below it, groups are written.
    #[tokio::test]
    async fn a_group_at_the_size_cap_is_refused_retryably_and_stores_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        let live = super::super::retention::live_bytes(&conn).unwrap() as u64;
        let (committed, _rx) = watch::channel(Committed::default());
        let stats = Arc::new(StoreStats::default());
        let request = crate::gen::Generator::new(1).traces_request(10);
        let retention = |cap| Retention {
            max_bytes: Some(cap),
            ..Default::default()
        };
        let mut writer = Writer::new(conn, retention(live + live / 30), stats.clone(), committed, Default::default());
        assert!(writer.at_cap(), "the allowance (a 20th of the cap here) does not fit");
        let (tx, done) = oneshot::channel();
        let report: WriteDone = Box::new(move |outcome| {
            let _ = tx.send(outcome);
        });
        writer.refuse_at_cap(vec![(super::super::rows::flatten_traces(request.clone()), report)]);
        match done.await.unwrap() {
            Err(WriteRefused { message, retry_after }) => {
                assert!(message.starts_with("storage is at its size cap"), "{message}");
                assert_eq!(retry_after, Duration::from_secs(1));
            }
            other => panic!("expected a retryable refusal, got {other:?}"),
        }
        let spans: i64 = writer.conn.query_row("SELECT count(*) FROM spans", [], |r| r.get(0)).unwrap();
        assert_eq!((spans, stats.refused_at_cap.load(Ordering::Relaxed)), (0, 1));

        // A full disk lowered the cap below the configured one: the refusal names the disk, the
        // way a refused commit on a full disk does, not a flag that would not help.
        writer.space.limited = true;
        let (tx, done) = oneshot::channel();
        let report: WriteDone = Box::new(move |outcome| {
            let _ = tx.send(outcome);
        });
        writer.refuse_at_cap(vec![(super::super::rows::flatten_traces(request), report)]);
        match done.await.unwrap() {
            Err(WriteRefused { message, .. }) => assert!(message.starts_with("storage is full"), "{message}"),
            other => panic!("expected a retryable refusal, got {other:?}"),
        }
        writer.retention.max_bytes = Some(live * 100);
        assert!(!writer.at_cap());
    }

    /// Over the size low-water mark, the writer packs the ranges waiting to be packed before it
    /// deletes anything: packing frees most of a range's pages and loses no data.
    #[test]
    fn over_the_size_target_waiting_ranges_are_packed_before_anything_is_deleted() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        let (committed, _rx) = watch::channel(Committed::default());
        let stats = Arc::new(StoreStats::default());
        let mut writer = Writer::new(conn, Retention::default(), stats.clone(), committed, Default::default());
        let mut generator = crate::gen::Generator::new(1);
        for _ in 0..8 {
            let batch = super::super::rows::flatten_traces(generator.traces_request(1_000));
            writer.commit_rows(vec![batch]).unwrap();
        }
        let count = |w: &Writer, sql: &str| w.conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        let spans = count(&writer, "SELECT count(*) FROM spans");
        let waiting = packing::waiting(&writer.conn).unwrap();
        assert!(waiting >= 3, "{spans} spans leave {waiting} ranges waiting");
        // A cap the store stays over however much is packed: room must be made.
        writer.retention.max_bytes = Some(1);
        assert!(writer.retention.needs_room(&writer.conn));
        let mut last_retention = Instant::now();
        for _ in 0..waiting {
            assert!(writer.make_room(&mut last_retention));
            assert_eq!(stats.rows_expired.load(Ordering::Relaxed), 0, "nothing deleted while a range waits");
        }
        assert_eq!(packing::waiting(&writer.conn).unwrap(), 0);
        assert_eq!(count(&writer, "SELECT count(*) FROM spans"), spans, "packing kept every span");
        assert!(count(&writer, "SELECT count(*) FROM span_packs") >= waiting);
        // Then, still over the target, the oldest spans go.
        assert!(writer.make_room(&mut last_retention));
        assert!(stats.rows_expired.load(Ordering::Relaxed) > 0);
        assert!(count(&writer, "SELECT count(*) FROM spans") < spans);
    }

    /// The batches flattened while the first dictionary was being trained and saved (a group's
    /// worth or more in a busy box) are written compressed, not left plain for good.
    #[test]
    fn batches_flattened_before_the_first_dictionary_are_written_compressed() {
        use super::super::codec::{plain as decode, BlobKind};
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        let codec = Arc::new(BlobCodec::default());
        let mut writer = Writer::standalone(conn).with_codec(codec.clone());
        let mut generator = crate::gen::Generator::new(3);
        let mut group = Vec::new();
        let mut plain = Vec::new();
        // Enough blobs to train a dictionary, all flattened before the writer saves it.
        while plain.len() < 6000 {
            let mut batch = super::super::rows::flatten_traces(generator.traces_request(500));
            plain.extend(batch.spans.iter().map(|s| s.attrs.clone()));
            codec.compress_batch(&mut batch);
            assert!(batch.awaiting_dictionary);
            group.push((batch, super::super::unreported()));
        }
        assert!(!codec.is_active(BlobKind::SpanAttrs), "trained, not yet saved");
        writer.commit_group(group);
        assert!(codec.is_active(BlobKind::SpanAttrs));
        let stored: Vec<Option<Vec<u8>>> = writer
            .conn
            .prepare("SELECT attrs FROM spans ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(stored.len(), plain.len());
        let blobs = stored.iter().flatten().count();
        let compressed = stored
            .iter()
            .flatten()
            .filter(|b| decode(b).is_some_and(|p| p.len() > b.len()))
            .count();
        assert!(compressed * 10 > blobs * 9, "{compressed} of {blobs} compressed");
        for (stored, plain) in stored.iter().zip(&plain) {
            let decoded = stored.as_deref().and_then(decode).map(|p| p.into_owned());
            assert_eq!(&decoded, plain, "every blob decodes to what was sent");
        }
    }

    /// The multi-row index inserts store exactly one entry per (trace, attribute value) of a group,
    /// full chunks and the remainder alike, each in its span's bucket.
    #[test]
    fn a_group_stores_every_llm_row_with_its_span_in_full_chunks_and_the_remainder() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        let mut writer = Writer::standalone(conn);
        let batch = super::super::rows::flatten_traces(crate::gen::Generator::new(7).traces_request(400));
        // (span id, model, tool) of every span the batch normalized.
        let mut expected: Vec<(Vec<u8>, Option<String>, Option<String>)> = batch
            .spans
            .iter()
            .filter_map(|s| s.llm.as_ref().map(|l| (s.span_id.to_vec(), l.model.clone(), l.tool.clone())))
            .collect();
        assert!(
            expected.len() > 2 * LLM_ROWS_PER_INSERT && !expected.len().is_multiple_of(LLM_ROWS_PER_INSERT),
            "{}",
            expected.len()
        );
        writer.commit_rows(vec![batch]).unwrap();
        let mut stored: Vec<(Vec<u8>, Option<String>, Option<String>)> = writer
            .conn
            .prepare("SELECT s.span_id, l.model, l.tool FROM llm_spans l JOIN spans s ON s.id = l.id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        expected.sort();
        stored.sort();
        assert_eq!(stored, expected, "each row keyed by its own span's row id");
    }

    #[test]
    fn a_group_indexes_each_trace_and_value_once_in_full_chunks_and_the_remainder() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        let mut writer = Writer::standalone(conn);
        let batch = super::super::rows::flatten_traces(crate::gen::Generator::new(7).traces_request(400));
        let expected: std::collections::HashSet<([u8; 16], i64)> = batch
            .spans
            .iter()
            .flat_map(|s| s.attr_hashes.iter().map(|h| (s.trace_id, *h)))
            .collect();
        assert!(
            expected.len() > 2 * INDEX_ROWS_PER_INSERT && !expected.len().is_multiple_of(INDEX_ROWS_PER_INSERT),
            "{}",
            expected.len()
        );
        writer.commit_rows(vec![batch]).unwrap();
        let stored: std::collections::HashSet<([u8; 16], i64)> = writer
            .conn
            .prepare(&format!(
                "SELECT s.trace_id, i.h FROM span_attr_index i JOIN spans s ON s.id = i.span_rowid WHERE i.b = i.span_rowid >> {SPAN_BUCKET_SHIFT}"
            ))
            .unwrap()
            .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?.try_into().unwrap(), r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let rows: i64 = writer
            .conn
            .query_row("SELECT count(*) FROM span_attr_index", [], |r| r.get(0))
            .unwrap();
        assert_eq!((rows as usize, stored), (expected.len(), expected));
    }

    #[test]
    fn the_free_space_of_this_filesystem_is_known() {
        let space = disk_space(&std::env::temp_dir()).expect("statvfs");
        assert!(space.total > 0 && space.free <= space.total);
    }
}
