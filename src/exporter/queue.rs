//! The sending queue of the forwarding exporters: batches waiting to be delivered, bounded per
//! signal by `queue_size` (batches, or items or bytes: see `sizer` below). In a box with a data
//! directory the queue is persistent, per exporter: a SQLite index, `<data dir>/queues/<exporter
//! id>.db`, and beside it a directory of payload files, `<exporter id>.payloads/`. A batch is
//! written there before it is acknowledged upstream ("accepted means committed"), so queued data
//! survives restarts, crashes and long outages of the destination. A batch leaves the files only
//! once it has been delivered or deliberately dropped; a batch in flight when otelbox stops is sent
//! again on the next start (at-least-once). An in-memory box keeps the queue in memory.
//!
//! Payloads are stored as encoded OTLP protobuf (`Export*ServiceRequest`), whatever the exporter's
//! wire format, so a queue written under one config can be sent under another. A small payload is
//! kept in its row; a large one (`PAYLOAD_FILE_MIN_BYTES`) in a file named by the batch's id,
//! written before the row that makes it part of the queue commits. Only the index (id, signal, item
//! count, size) and recent payloads (`RESIDENT_BYTES`) are held in memory.
//!
//! `sizer` says what `queue_size` counts, as in the Collector: batches as they were queued
//! (`requests`, the default), items, or encoded bytes. `batch` configures the sender's batching
//! (`sender::take_batch`), for which `next_of` hands out the following batches of one signal.

use crate::config::{ComponentId, Parser};
use crate::pdata::Signal;
use crate::telemetry::PerSignal;
use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension};
use serde_yaml_ng::Value;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// A queued entry as accepted: its row id on disk (None in memory) and, in memory, its payload.
type StoredEntry = (Option<i64>, Option<Bytes>);

/// `sending_queue`, with the Collector's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSettings {
    /// `false`: no queue; each batch is sent while the pipeline waits, and its acks carry the outcome.
    pub enabled: bool,
    /// Batches sent at once.
    pub num_consumers: usize,
    /// What `queue_size` counts.
    pub sizer: Sizer,
    /// How much the queue holds per signal at most, counted by `sizer`; a full queue refuses new
    /// data retryably.
    pub queue_size: usize,
    /// A storage extension (`file_storage`) whose directory holds the queue instead of the box's
    /// data directory.
    pub storage: Option<ComponentId>,
    /// `batch`: merge queued batches before sending them (None: each is sent as it was queued).
    pub batch: Option<BatchSettings>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            enabled: true,
            num_consumers: 10,
            sizer: Sizer::Requests,
            queue_size: 1000,
            storage: None,
            batch: None,
        }
    }
}

/// How a queue or a batch is measured (the Collector's `sizer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sizer {
    /// Batches as the pipeline handed them over.
    Requests,
    /// Spans, data points or log records.
    Items,
    /// Encoded OTLP protobuf bytes.
    Bytes,
}

impl Sizer {
    /// The size of a batch of `items` items whose encoding is `bytes` long.
    pub fn measure(self, items: usize, bytes: usize) -> u64 {
        match self {
            Sizer::Requests => 1,
            Sizer::Items => items as u64,
            Sizer::Bytes => bytes as u64,
        }
    }

    /// What the unit is called in messages.
    fn unit(self) -> &'static str {
        match self {
            Sizer::Requests => "batches",
            Sizer::Items => "items",
            Sizer::Bytes => "bytes",
        }
    }

    /// The largest `queue_size` taken: larger values are surely mistakes (a queue that large would
    /// never drain, or never fit in memory).
    fn max_queue_size(self) -> u64 {
        match self {
            Sizer::Requests => 1_000_000,
            Sizer::Items => 1_000_000_000,
            Sizer::Bytes => 1 << 40,
        }
    }
}

/// `sending_queue.batch`, the Collector's exporter-side batching, with its defaults (those of a
/// `batch: {}` section).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchSettings {
    /// How long a batch waits for `min_size` after it began.
    pub flush_timeout: Duration,
    /// Items or bytes (never requests).
    pub sizer: Sizer,
    /// A batch goes as soon as it holds this much.
    pub min_size: u64,
    /// The most a batch holds (0: no limit); larger envelopes are cut when queued.
    pub max_size: u64,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            flush_timeout: Duration::from_millis(200),
            sizer: Sizer::Items,
            min_size: 8192,
            max_size: 0,
        }
    }
}

const MAX_CONSUMERS: u64 = 1000;

/// Parses `sending_queue` at `path` (absent: the defaults).
pub fn parse_queue(p: &mut Parser, value: Option<&Value>, path: &str) -> QueueSettings {
    let mut queue = QueueSettings::default();
    let Some(body) = p.mapping(value, path) else {
        return queue;
    };
    p.only_keys(body, &["enabled", "num_consumers", "sizer", "queue_size", "storage", "batch"], path);
    let at = |key: &str| format!("{path}.{key}");
    if let Some(v) = body.get("enabled") {
        queue.enabled = p.boolean(v, &at("enabled")).unwrap_or(true);
    }
    if let Some(v) = body.get("num_consumers") {
        match p.unsigned(v, &at("num_consumers")) {
            Some(n) if !(1..=MAX_CONSUMERS).contains(&n) => p.error(&at("num_consumers"), format!("must be between 1 and {MAX_CONSUMERS}")),
            Some(n) => queue.num_consumers = n as usize,
            None => {}
        }
    }
    let explicit_sizer = body.get("sizer").and_then(|v| parse_sizer(p, v, &at("sizer")));
    queue.sizer = explicit_sizer.unwrap_or(Sizer::Requests);
    if let Some(v) = body.get("queue_size") {
        let max = queue.sizer.max_queue_size();
        match p.unsigned(v, &at("queue_size")) {
            Some(n) if !(1..=max).contains(&n) => p.error(&at("queue_size"), format!("must be between 1 and {max}")),
            Some(n) => queue.queue_size = usize::try_from(n).unwrap_or(usize::MAX),
            None => {}
        }
    }
    if let Some(v) = body.get("storage").filter(|v| !v.is_null()) {
        queue.storage = p
            .string(v, &at("storage"))
            .and_then(|text| ComponentId::parse(&text).map_err(|e| p.error(&at("storage"), e)).ok());
    }
    if let Some(v) = body.get("batch") {
        queue.batch = parse_batch(p, v, &at("batch"), explicit_sizer);
    }
    if let Some(batch) = queue.batch.as_ref().filter(|batch| batch.sizer == queue.sizer) {
        // As the Collector checks: the queue must be able to hold a batch that is due.
        if batch.min_size > queue.queue_size as u64 {
            p.error(
                &at("batch.min_size"),
                format!(
                    "must be at most queue_size ({}), or the queue could never hold a full batch",
                    queue.queue_size
                ),
            );
        }
    }
    queue
}

/// `requests`, `items` or `bytes`.
fn parse_sizer(p: &mut Parser, value: &Value, path: &str) -> Option<Sizer> {
    match p.string(value, path)?.as_str() {
        "requests" => Some(Sizer::Requests),
        "items" => Some(Sizer::Items),
        "bytes" => Some(Sizer::Bytes),
        other => {
            p.error(path, format!("expected requests, items or bytes, got '{other}'"));
            None
        }
    }
}

/// `sending_queue.batch` at `path`: present (even empty or null) turns batching on. As in the
/// Collector, a batch section with settings but no `sizer` of its own follows `sending_queue.sizer`
/// when that is set (`queue_sizer`), and a batch is measured in items or bytes.
fn parse_batch(p: &mut Parser, value: &Value, path: &str, queue_sizer: Option<Sizer>) -> Option<BatchSettings> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(body, &["flush_timeout", "min_size", "max_size", "sizer"], path);
    let at = |key: &str| format!("{path}.{key}");
    let mut batch = BatchSettings::default();
    match body.get("sizer") {
        Some(v) => batch.sizer = parse_sizer(p, v, &at("sizer")).unwrap_or(batch.sizer),
        None if !body.is_empty() => batch.sizer = queue_sizer.unwrap_or(batch.sizer),
        None => {}
    }
    if batch.sizer == Sizer::Requests {
        p.error(
            &at("sizer"),
            "a batch is measured in items or bytes, not requests (without a sizer of its own it follows sending_queue.sizer)",
        );
        batch.sizer = Sizer::Items;
    }
    if let Some(v) = body.get("flush_timeout") {
        match p.duration(v, &at("flush_timeout")) {
            Some(d) if d.is_zero() => p.error(&at("flush_timeout"), "must be greater than 0"),
            Some(d) => batch.flush_timeout = d,
            None => {}
        }
    }
    if let Some(v) = body.get("min_size") {
        batch.min_size = p.unsigned(v, &at("min_size")).unwrap_or(batch.min_size);
    }
    if let Some(v) = body.get("max_size") {
        batch.max_size = p.unsigned(v, &at("max_size")).unwrap_or(batch.max_size);
    }
    if batch.max_size > 0 && batch.max_size < batch.min_size {
        p.error(
            &at("max_size"),
            format!("must be at least min_size ({}), or 0 for no limit", batch.min_size),
        );
    }
    Some(batch)
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the sending queue is full ({capacity} {signal} {unit} waiting); retry later")]
    Full {
        capacity: usize,
        signal: &'static str,
        unit: &'static str,
    },
    #[error("the data ({size} {unit}) is more than the whole sending queue holds ({capacity} {unit}); raise sending_queue.queue_size, or set sending_queue.batch.max_size to cut it")]
    TooLarge { size: u64, capacity: usize, unit: &'static str },
    #[error("cannot write the sending queue {path}: {detail}")]
    Storage { path: String, detail: String },
    #[error("{path} is not an otelbox sending queue ({detail}); move it away or choose another --data-dir")]
    Foreign { path: String, detail: String },
}

/// One batch taken from the queue for sending.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuedBatch {
    pub id: i64,
    pub signal: Signal,
    pub items: usize,
    /// Encoded OTLP protobuf.
    pub payload: Bytes,
}

/// A queued batch as the index knows it.
struct Entry {
    id: i64,
    signal: Signal,
    items: usize,
    /// The payload's length.
    bytes: usize,
    /// In memory for an in-memory queue; on disk (None here) for a persistent one.
    payload: Option<Bytes>,
}

/// What some batches of one signal take up, in every unit a sizer counts.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    batches: u64,
    items: u64,
    bytes: u64,
}

impl Usage {
    fn of(items: usize, bytes: usize) -> Usage {
        Usage {
            batches: 1,
            items: items as u64,
            bytes: bytes as u64,
        }
    }

    fn add(&mut self, other: Usage) {
        self.batches += other.batches;
        self.items += other.items;
        self.bytes += other.bytes;
    }

    fn remove(&mut self, other: Usage) {
        self.batches = self.batches.saturating_sub(other.batches);
        self.items = self.items.saturating_sub(other.items);
        self.bytes = self.bytes.saturating_sub(other.bytes);
    }

    fn measured(&self, sizer: Sizer) -> u64 {
        match sizer {
            Sizer::Requests => self.batches,
            Sizer::Items => self.items,
            Sizer::Bytes => self.bytes,
        }
    }
}

#[derive(Default)]
struct State {
    pending: VecDeque<Entry>,
    /// Taken for sending, not yet removed: (signal, items, bytes) by id.
    in_flight: HashMap<i64, (Signal, usize, usize)>,
    /// Per signal, what is pending or in flight (what `queue_size` bounds), plus pushes under way.
    occupancy: [Usage; 3],
    next_memory_id: i64,
    /// Bytes of a persistent queue's payloads also held in memory (`RESIDENT_BYTES`).
    resident: usize,
}

impl State {
    /// Whether a persistent queue's payload of `bytes` can also stay in memory; counted if so.
    fn hold_resident(&mut self, bytes: usize) -> bool {
        let room = self.resident + bytes <= RESIDENT_BYTES;
        if room {
            self.resident += bytes;
        }
        room
    }
}

/// A persistent queue keeps the payloads it writes in memory too, up to this many bytes, and sends
/// them from there: read back from the file only after a restart or beyond this. (Reading each batch
/// back took the connection the acknowledging writes wait for: scripts/bench forward.)
const RESIDENT_BYTES: usize = 64 << 20;
/// The index gives free pages back once the queue is empty and more than this is free: not at every
/// drain, which truncated and regrew it many times a second under load.
const VACUUM_FREE_BYTES: i64 = 16 << 20;
/// Payloads this large or larger go to a file of their own instead of their row. In a row, a
/// payload was written to SQLite's WAL and then again by the checkpoint, which also syncs the disk,
/// while the sender waited for its acknowledgement: a 4 MiB batch (the `batch` processor's 8,192
/// spans) cost about 25 ms that way against 2 for a file.
const PAYLOAD_FILE_MIN_BYTES: usize = 16 << 10;

/// A persistent queue's files.
struct Disk {
    /// The SQLite index (and the rows of small payloads).
    path: PathBuf,
    /// The directory of large payloads, one file per batch named by its id.
    payloads: PathBuf,
    index: Arc<Mutex<Index>>,
}

/// The index's connection and the id the next batch gets. Ids are handed out here, not by SQLite,
/// because a payload file is named by its batch's id before the row exists.
struct Index {
    conn: Connection,
    next_id: i64,
    /// Each write synced to the disk before it is acknowledged (`syncing_each_write`).
    fsync: bool,
}

pub struct SendingQueue {
    /// The files of a persistent queue (None: in memory).
    disk: Option<Disk>,
    state: Mutex<State>,
    capacity: usize,
    /// What `capacity` counts.
    sizer: Sizer,
    /// Wakes one worker waiting in `next` per queued batch.
    available: Notify,
    /// Wakes every worker waiting in `next_of` at each push.
    pushed: Notify,
    counters: PerSignal,
}

/// The index's format version (`PRAGMA user_version`). Version 1 kept every payload in its row;
/// version 2 added `file_bytes`, and opening a version 1 index upgrades it in place.
const QUEUE_SCHEMA_VERSION: i64 = 2;
/// `file_bytes`: NULL when the payload is the row's; else the payload is the file named by the id
/// in the payload directory, this long, and the row's `payload` is empty.
const QUEUE_SCHEMA: &str = "CREATE TABLE batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    signal TEXT NOT NULL,
    items INTEGER NOT NULL,
    payload BLOB NOT NULL,
    file_bytes INTEGER
)";
const QUEUE_SCHEMA_1_TO_2: &str = "ALTER TABLE batches ADD COLUMN file_bytes INTEGER";

fn slot(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

fn signal_named(name: &str) -> Option<Signal> {
    Signal::ALL.into_iter().find(|s| s.as_str() == name)
}

/// The queue file of an exporter: its id with every character outside `[A-Za-z0-9_.-]` written as
/// `%XX`, so different ids never share a file (`otlp/a` is `otlp%2Fa.db`).
pub fn queue_path(data_dir: &Path, exporter_id: &str) -> PathBuf {
    let mut name = String::new();
    for byte in exporter_id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' || (byte == b'.' && !name.is_empty()) {
            name.push(byte as char);
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    data_dir.join("queues").join(format!("{name}.db"))
}

/// The directory of a queue's large payloads: beside its index, `otlp.db` has `otlp.payloads/`.
fn payload_dir(index_path: &Path) -> PathBuf {
    index_path.with_extension("payloads")
}

/// A payload's file name: its batch's id.
fn payload_file(payloads: &Path, id: i64) -> PathBuf {
    payloads.join(id.to_string())
}

/// What the oldest waiting batch of a signal is to a batch being put together (`take_oldest_of`).
enum Oldest {
    Taken(Entry),
    /// It would make the batch too large; it stays queued.
    TooLarge,
    NoneWaiting,
}

impl SendingQueue {
    /// An in-memory queue holding `capacity` batches per signal (see `measured_in`).
    pub fn in_memory(capacity: usize, counters: PerSignal) -> SendingQueue {
        SendingQueue {
            disk: None,
            state: Mutex::new(State::default()),
            capacity,
            sizer: Sizer::Requests,
            available: Notify::new(),
            pushed: Notify::new(),
            counters,
        }
    }

    /// Opens (or creates) the persistent queue at `path`, with what an earlier run left in it queued
    /// first. Refuses a file that is not an otelbox queue, before writing anything to it.
    pub fn open(path: &Path, capacity: usize, counters: PerSignal) -> Result<SendingQueue, QueueError> {
        let display = path.display().to_string();
        let storage = |e: &dyn std::fmt::Display| QueueError::Storage {
            path: display.clone(),
            detail: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| storage(&e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| storage(&e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(|e| storage(&e))?;
        check_owner(&conn).map_err(|detail| QueueError::Foreign {
            path: display.clone(),
            detail,
        })?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| storage(&e))?;
        if version < QUEUE_SCHEMA_VERSION {
            if version == 0 {
                // Before the first table: a file that can shrink again after an outage's backlog
                // of small batches drained.
                conn.pragma_update(None, "auto_vacuum", "INCREMENTAL").map_err(|e| storage(&e))?;
            }
            let tx = conn.transaction().map_err(|e| storage(&e))?;
            tx.execute_batch(if version == 0 { QUEUE_SCHEMA } else { QUEUE_SCHEMA_1_TO_2 })
                .map_err(|e| storage(&e))?;
            tx.pragma_update(None, "user_version", QUEUE_SCHEMA_VERSION)
                .map_err(|e| storage(&e))?;
            tx.commit().map_err(|e| storage(&e))?;
        }
        let payloads = payload_dir(path);
        std::fs::create_dir_all(&payloads).map_err(|e| storage(&e))?;
        // WAL + synchronous=NORMAL, like the store: a committed batch survives a crash or kill -9.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| storage(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| storage(&e))?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(|e| storage(&e))?;

        let mut state = State::default();
        let mut in_files = std::collections::HashSet::new();
        {
            let mut select = conn
                .prepare("SELECT id, signal, items, coalesce(file_bytes, length(payload)), file_bytes IS NOT NULL FROM batches ORDER BY id")
                .map_err(|e| storage(&e))?;
            let rows = select
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, bool>(4)?,
                    ))
                })
                .map_err(|e| storage(&e))?;
            for row in rows {
                let (id, signal, items, bytes, in_file) = row.map_err(|e| storage(&e))?;
                if in_file {
                    in_files.insert(id);
                }
                let Some(signal) = signal_named(&signal) else {
                    return Err(QueueError::Foreign {
                        path: display.clone(),
                        detail: format!("batch {id} has the unknown signal '{signal}'"),
                    });
                };
                let items = usize::try_from(items).unwrap_or(0);
                let bytes = usize::try_from(bytes).unwrap_or(0);
                state.occupancy[slot(signal)].add(Usage::of(items, bytes));
                counters.get(signal).record_queued(items);
                state.pending.push_back(Entry {
                    id,
                    signal,
                    items,
                    bytes,
                    payload: None,
                });
            }
        }
        // A payload file without its row: written by a push whose row never committed (otelbox
        // stopped in between), or left by a delete cut short. Neither was acknowledged as queued.
        for file in std::fs::read_dir(&payloads).map_err(|e| storage(&e))? {
            let file = file.map_err(|e| storage(&e))?;
            let id = file.file_name().to_str().and_then(|name| name.parse::<i64>().ok());
            if id.is_some_and(|id| !in_files.contains(&id)) {
                std::fs::remove_file(file.path()).map_err(|e| storage(&e))?;
            }
        }
        // Past every id the index has seen, AUTOINCREMENT's record included, so no id comes back.
        let last_id: i64 = conn
            .query_row(
                "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'batches'), 0), coalesce((SELECT max(id) FROM batches), 0))",
                [],
                |r| r.get(0),
            )
            .map_err(|e| storage(&e))?;
        let index = Index {
            conn,
            next_id: last_id + 1,
            fsync: false,
        };
        Ok(SendingQueue {
            disk: Some(Disk {
                path: path.to_path_buf(),
                payloads,
                index: Arc::new(Mutex::new(index)),
            }),
            state: Mutex::new(state),
            capacity,
            sizer: Sizer::Requests,
            available: Notify::new(),
            pushed: Notify::new(),
            counters,
        })
    }

    /// The same queue with its capacity counted by `sizer` (`sending_queue.sizer`; by default
    /// batches).
    pub fn measured_in(mut self, sizer: Sizer) -> SendingQueue {
        self.sizer = sizer;
        self
    }

    /// The same queue syncing each write to the disk before it acknowledges it: the payload files,
    /// their directory, and the index's commits (SQLite's `synchronous=FULL`). What it acknowledged
    /// then survives the machine losing power too, not only otelbox crashing, at the price of a
    /// few syncs per batch. `file_storage`'s `fsync: true`; no-op for an in-memory queue.
    pub fn syncing_each_write(self) -> Result<SendingQueue, QueueError> {
        if let Some(disk) = &self.disk {
            let mut index = disk.index.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            index
                .conn
                .pragma_update(None, "synchronous", "FULL")
                .map_err(|e| QueueError::Storage {
                    path: disk.path.display().to_string(),
                    detail: e.to_string(),
                })?;
            index.fsync = true;
        }
        Ok(self)
    }

    pub fn is_persistent(&self) -> bool {
        self.disk.is_some()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the index half-updated in a way that matters
        // more than stopping the exporter would, so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Batches waiting or in flight.
    pub fn len(&self) -> usize {
        self.state().occupancy.iter().map(|usage| usage.batches as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a batch; when this returns `Ok` the batch is durably queued (committed to the file of a
    /// persistent queue). A full queue (for this signal) refuses at once.
    pub async fn push(&self, signal: Signal, items: usize, payload: Bytes) -> Result<(), QueueError> {
        self.push_all(signal, vec![(items, payload)]).await
    }

    /// Adds batches of one signal, given as (items, payload), together: when this returns `Ok` all
    /// are durably queued (in one transaction of a persistent queue); on `Err` none is. A queue
    /// without room for all of them refuses at once, and data larger than the whole queue for good.
    pub async fn push_all(&self, signal: Signal, batches: Vec<(usize, Bytes)>) -> Result<(), QueueError> {
        let mut added = Usage::default();
        for (items, payload) in &batches {
            added.add(Usage::of(*items, payload.len()));
        }
        {
            let mut state = self.state();
            let wanted = added.measured(self.sizer);
            if wanted > self.capacity as u64 {
                return Err(QueueError::TooLarge {
                    size: wanted,
                    capacity: self.capacity,
                    unit: self.sizer.unit(),
                });
            }
            let used = state.occupancy[slot(signal)].measured(self.sizer);
            if used + wanted > self.capacity as u64 {
                return Err(QueueError::Full {
                    capacity: self.capacity,
                    signal: signal.as_str(),
                    unit: self.sizer.unit(),
                });
            }
            state.occupancy[slot(signal)].add(added); // reserved while the write runs
        }
        // If the caller's future is dropped mid-write (a sender hung up), the reservation is given
        // back; rows the write still commits are sent at the next start (at-least-once).
        let mut reservation = Reservation {
            queue: self,
            signal,
            usage: added,
            armed: true,
        };
        let sizes: Vec<(usize, usize)> = batches.iter().map(|(items, payload)| (*items, payload.len())).collect();
        // For a persistent queue, the payloads to keep in memory as well (cheap: shared buffers).
        let copies: Vec<Bytes> = match self.disk {
            Some(_) => batches.iter().map(|(_, payload)| payload.clone()).collect(),
            None => Vec::new(),
        };
        let stored: Result<Vec<StoredEntry>, QueueError> = match &self.disk {
            None => Ok(batches.into_iter().map(|(_, payload)| (None, Some(payload))).collect()),
            Some(disk) => {
                let index = disk.index.clone();
                let payloads = disk.payloads.clone();
                let path = disk.path.display().to_string();
                tokio::task::spawn_blocking(move || {
                    let mut index = index.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    write_batches(&mut index, &payloads, signal, &batches).map_err(|detail| QueueError::Storage {
                        path: path.clone(),
                        detail,
                    })
                })
                .await
                .unwrap_or_else(|e| {
                    Err(QueueError::Storage {
                        path: String::new(),
                        detail: format!("the write did not finish: {e}"),
                    })
                })
            }
        };
        reservation.armed = false;
        let mut state = self.state();
        match stored {
            Ok(stored) => {
                let mut copies = copies.into_iter();
                for ((id, payload), (items, bytes)) in stored.into_iter().zip(sizes) {
                    let copy = copies.next();
                    let mut payload = payload; // an in-memory queue's; None for a persistent one
                    if payload.is_none() && state.hold_resident(bytes) {
                        payload = copy;
                    }
                    let id = id.unwrap_or_else(|| {
                        state.next_memory_id += 1;
                        state.next_memory_id
                    });
                    state.pending.push_back(Entry {
                        id,
                        signal,
                        items,
                        bytes,
                        payload,
                    });
                    self.counters.get(signal).record_queued(items);
                    self.available.notify_one();
                }
                drop(state);
                self.pushed.notify_waiters();
                Ok(())
            }
            Err(e) => {
                state.occupancy[slot(signal)].remove(added);
                Err(e)
            }
        }
    }

    /// The oldest waiting batch, waiting for one if the queue is empty. It stays queued (and counts
    /// against the capacity) until `remove`.
    pub async fn next(&self) -> Result<QueuedBatch, QueueError> {
        loop {
            let Some(entry) = self.take_oldest() else {
                self.available.notified().await;
                continue;
            };
            if let Some(batch) = self.load(entry).await? {
                return Ok(batch);
            }
        }
    }

    /// For a batch being put together (`sender::take_batch`): the oldest waiting batch of `signal`,
    /// waiting for one to be queued until `deadline`. None at the deadline, or when that batch is
    /// larger than `fits` (given its items and bytes) allows; it then stays queued. Taken like `next`.
    pub async fn next_of(
        &self,
        signal: Signal,
        fits: impl Fn(usize, usize) -> bool,
        deadline: tokio::time::Instant,
    ) -> Result<Option<QueuedBatch>, QueueError> {
        loop {
            // Registered before looking, so a push right after the look still wakes the wait below.
            let pushed = self.pushed.notified();
            match self.take_oldest_of(signal, &fits) {
                Oldest::Taken(entry) => match self.load(entry).await? {
                    Some(batch) => return Ok(Some(batch)),
                    None => continue,
                },
                Oldest::TooLarge => return Ok(None),
                Oldest::NoneWaiting => {}
            }
            tokio::select! {
                _ = pushed => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(None),
            }
        }
    }

    /// Moves the oldest waiting batch to in flight.
    fn take_oldest(&self) -> Option<Entry> {
        let mut state = self.state();
        let entry = state.pending.pop_front()?;
        state.in_flight.insert(entry.id, (entry.signal, entry.items, entry.bytes));
        Some(entry)
    }

    /// Moves the oldest waiting batch of `signal` to in flight, if it `fits`.
    fn take_oldest_of(&self, signal: Signal, fits: &dyn Fn(usize, usize) -> bool) -> Oldest {
        let mut state = self.state();
        let Some(position) = state.pending.iter().position(|entry| entry.signal == signal) else {
            return Oldest::NoneWaiting;
        };
        let (items, bytes) = (state.pending[position].items, state.pending[position].bytes);
        if !fits(items, bytes) {
            return Oldest::TooLarge;
        }
        let Some(entry) = state.pending.remove(position) else {
            return Oldest::NoneWaiting;
        };
        state.in_flight.insert(entry.id, (entry.signal, entry.items, entry.bytes));
        Oldest::Taken(entry)
    }

    /// The batch of an entry taken for sending, its payload read back from the file of a persistent
    /// queue. None when the file no longer has it (cannot happen unless someone edited the file): it
    /// is forgotten. On `Err` it stays in the file (and counted) for the next start.
    async fn load(&self, entry: Entry) -> Result<Option<QueuedBatch>, QueueError> {
        let payload = match (entry.payload, &self.disk) {
            (Some(payload), Some(_)) => {
                let mut state = self.state();
                state.resident = state.resident.saturating_sub(entry.bytes);
                payload
            }
            (Some(payload), None) => payload,
            (None, None) => Bytes::new(), // an in-memory entry always has its payload
            (None, Some(disk)) => {
                let index = disk.index.clone();
                let payloads = disk.payloads.clone();
                let path = disk.path.display().to_string();
                let (id, bytes) = (entry.id, entry.bytes);
                let read = tokio::task::spawn_blocking(move || read_payload(&index, &payloads, id, bytes)).await;
                match read.map_err(|e| e.to_string()).and_then(|r| r) {
                    Ok(Some(payload)) => payload,
                    Ok(None) => {
                        // Only a crash of the machine (not of otelbox) between the payload's write
                        // and its reaching the disk, or a hand on the files, loses a payload.
                        tracing::warn!(queue = %path, batch = id, items = entry.items, "a queued batch's payload is missing or cut short; it is dropped");
                        self.forget(id);
                        let _ = self.delete_row(id, false).await;
                        return Ok(None);
                    }
                    Err(e) => {
                        return Err(QueueError::Storage {
                            path,
                            detail: format!("cannot read batch {id}: {e}"),
                        })
                    }
                }
            }
        };
        Ok(Some(QueuedBatch {
            id: entry.id,
            signal: entry.signal,
            items: entry.items,
            payload,
        }))
    }

    /// Forgets a batch taken with `next` (delivered or dropped), freeing its place.
    /// The in-memory place is freed even when the delete fails: the batch is finished either way, and
    /// a row left in the file is only sent again at the next start (at-least-once).
    pub async fn remove(&self, id: i64) -> Result<(), QueueError> {
        self.forget(id);
        let now_empty = self.is_empty();
        self.delete_row(id, now_empty).await
    }

    /// Deletes a batch's row; once the queue is empty, gives a large free list back to the file
    /// system.
    async fn delete_row(&self, id: i64, now_empty: bool) -> Result<(), QueueError> {
        if let Some(disk) = &self.disk {
            let index = disk.index.clone();
            let file = payload_file(&disk.payloads, id);
            let path = disk.path.display().to_string();
            tokio::task::spawn_blocking(move || {
                let index = index.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let conn = &index.conn;
                conn.execute("DELETE FROM batches WHERE id = ?1", [id])?;
                // After the row: a file whose row is gone is removed at the next start anyway.
                match std::fs::remove_file(&file) {
                    Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                        tracing::debug!(file = %file.display(), error = %err, "cannot remove a delivered batch's payload file")
                    }
                    _ => {}
                }
                if now_empty {
                    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
                    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
                    if free * page > VACUUM_FREE_BYTES {
                        // A backlog is gone: give its pages back to the file system. The pragma
                        // frees a page per step: step it to the end.
                        let mut vacuum = conn.prepare("PRAGMA incremental_vacuum")?;
                        let mut steps = vacuum.query([])?;
                        while steps.next()?.is_some() {}
                    }
                }
                Ok::<_, rusqlite::Error>(())
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|detail| QueueError::Storage { path, detail })?;
        }
        Ok(())
    }

    fn forget(&self, id: i64) {
        let mut state = self.state();
        if let Some((signal, items, bytes)) = state.in_flight.remove(&id) {
            state.occupancy[slot(signal)].remove(Usage::of(items, bytes));
            drop(state);
            self.counters.get(signal).record_dequeued(items);
        }
    }

    /// Puts a batch taken with `next` back at the front (it could not be read or sent now).
    pub fn put_back(&self, batch: QueuedBatch) {
        let mut state = self.state();
        if let Some((_, _, bytes)) = state.in_flight.remove(&batch.id) {
            // A persistent queue keeps it in memory while there is room, like a new one.
            let keep = !self.is_persistent() || state.hold_resident(bytes);
            let payload = keep.then_some(batch.payload);
            state.pending.push_front(Entry {
                id: batch.id,
                signal: batch.signal,
                items: batch.items,
                bytes,
                payload,
            });
            drop(state);
            self.available.notify_one();
        }
    }

    /// Empties an in-memory queue at shutdown; returns what was lost, as (signal, items) per batch.
    /// A persistent queue keeps everything for the next start and returns nothing.
    pub fn abandon(&self) -> Vec<(Signal, usize)> {
        if self.is_persistent() {
            return Vec::new();
        }
        let mut state = self.state();
        let mut lost: Vec<(Signal, usize)> = state.pending.drain(..).map(|e| (e.signal, e.items)).collect();
        lost.extend(state.in_flight.drain().map(|(_, (signal, items, _))| (signal, items)));
        state.occupancy = [Usage::default(); 3];
        drop(state);
        for (signal, items) in &lost {
            self.counters.get(*signal).record_dequeued(*items);
        }
        lost
    }

    pub fn path(&self) -> Option<&Path> {
        self.disk.as_ref().map(|disk| disk.path.as_path())
    }
}

/// Writes batches of one signal to a persistent queue: the large payloads to their files first,
/// then every row in one transaction, whose commit is what queues them all. Returns their ids. On
/// an error none is queued, and the files written for them are removed again.
fn write_batches(index: &mut Index, payloads: &Path, signal: Signal, batches: &[(usize, Bytes)]) -> Result<Vec<StoredEntry>, String> {
    let first_id = index.next_id;
    index.next_id += batches.len() as i64; // never handed out again, whatever happens below
    let mut files = Vec::new();
    let written = (|| {
        for (offset, (_, payload)) in batches.iter().enumerate() {
            if payload.len() >= PAYLOAD_FILE_MIN_BYTES {
                let file = payload_file(payloads, first_id + offset as i64);
                files.push(file.clone());
                write_payload(&file, payload, index.fsync).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            }
        }
        if index.fsync && !files.is_empty() {
            // The files' names are in the directory's own data, synced apart from theirs.
            std::fs::File::open(payloads)
                .and_then(|dir| dir.sync_all())
                .map_err(|e| format!("cannot sync {}: {e}", payloads.display()))?;
        }
        let tx = index.conn.transaction().map_err(|e| e.to_string())?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO batches (id, signal, items, payload, file_bytes) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(|e| e.to_string())?;
            for (offset, (items, payload)) in batches.iter().enumerate() {
                let in_file = payload.len() >= PAYLOAD_FILE_MIN_BYTES;
                let (row_payload, file_bytes) = if in_file {
                    (&[][..], Some(payload.len() as i64))
                } else {
                    (payload.as_ref(), None)
                };
                insert
                    .execute(params![
                        first_id + offset as i64,
                        signal.as_str(),
                        *items as i64,
                        row_payload,
                        file_bytes
                    ])
                    .map_err(|e| e.to_string())?;
            }
        }
        tx.commit().map_err(|e| e.to_string())
    })();
    match written {
        Ok(()) => Ok((0..batches.len()).map(|offset| (Some(first_id + offset as i64), None)).collect()),
        Err(err) => {
            for file in files {
                let _ = std::fs::remove_file(file);
            }
            Err(err)
        }
    }
}

fn write_payload(file: &Path, payload: &[u8], fsync: bool) -> std::io::Result<()> {
    if !fsync {
        return std::fs::write(file, payload);
    }
    let mut out = std::fs::File::create(file)?;
    std::io::Write::write_all(&mut out, payload)?;
    out.sync_data()
}

/// A queued batch's payload read back: from its file, or from its row. None when it is gone, or
/// its file is shorter or longer than the row says.
fn read_payload(index: &Mutex<Index>, payloads: &Path, id: i64, bytes: usize) -> Result<Option<Bytes>, String> {
    if bytes >= PAYLOAD_FILE_MIN_BYTES {
        // In a file, unless the index is of version 1, which kept every payload in its row.
        let file = payload_file(payloads, id);
        match std::fs::read(&file) {
            Ok(payload) => return Ok((payload.len() == bytes).then(|| Bytes::from(payload))),
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(format!("{}: {err}", file.display())),
            Err(_) => {}
        }
    }
    let index = index.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let row = index
        .conn
        .query_row("SELECT payload, file_bytes IS NOT NULL FROM batches WHERE id = ?1", [id], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?))
        })
        .optional()
        .map_err(|e| e.to_string())?;
    // A row whose payload is in a file that is gone has lost it.
    Ok(row.and_then(|(payload, in_file)| (!in_file).then(|| Bytes::from(payload))))
}

/// Refuses a file otelbox must not write to: not SQLite, a newer queue format, or another program's
/// database. An empty file or a database without tables is a fresh queue. Only reads.
fn check_owner(conn: &Connection) -> Result<(), String> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    if version > QUEUE_SCHEMA_VERSION {
        return Err(format!(
            "written by a newer otelbox (format {version}, this one knows {QUEUE_SCHEMA_VERSION})"
        ));
    }
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| e.to_string())?;
    let ours = if version == 0 { tables.is_empty() } else { tables == ["batches"] };
    if ours {
        Ok(())
    } else {
        Err(format!("it has the tables {}", tables.join(", ")))
    }
}

/// Queue room reserved by `push_all` while its write runs; released if the push is abandoned.
struct Reservation<'a> {
    queue: &'a SendingQueue,
    signal: Signal,
    usage: Usage,
    armed: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.queue.state().occupancy[slot(self.signal)].remove(self.usage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(yaml: &str) -> (QueueSettings, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let settings = parse_queue(&mut Parser::collecting(&mut errors), Some(&value), "exporters.otlp.sending_queue");
        (settings, errors)
    }

    fn queued(counters: &PerSignal, signal: Signal) -> u64 {
        counters.get(signal).queued.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[test]
    fn queue_settings_parse_with_defaults_and_errors_at_their_paths() {
        assert_eq!(parse("{}"), (QueueSettings::default(), vec![]));
        assert_eq!(
            parse("{enabled: false, num_consumers: 2, queue_size: 5, storage: file_storage}"),
            (
                QueueSettings {
                    enabled: false,
                    num_consumers: 2,
                    queue_size: 5,
                    storage: Some(ComponentId::parse("file_storage").unwrap()),
                    ..QueueSettings::default()
                },
                vec![]
            )
        );
        let (_, errors) = parse("{num_consumers: 0, queue_size: -1, blocking: true}");
        assert_eq!(
            errors,
            vec![
                "exporters.otlp.sending_queue.blocking: unknown key (expected one of: enabled, num_consumers, sizer, queue_size, storage, batch)",
                "exporters.otlp.sending_queue.num_consumers: must be between 1 and 1000",
                "exporters.otlp.sending_queue.queue_size: expected a non-negative integer, got a number",
            ]
        );
        let (_, errors) = parse("{queue_size: 0}");
        assert_eq!(
            errors,
            vec!["exporters.otlp.sending_queue.queue_size: must be between 1 and 1000000"]
        );
    }

    #[test]
    fn batch_settings_parse_with_the_collectors_defaults_and_sizer_rules() {
        let (settings, errors) = parse("{batch: {}}");
        assert_eq!((settings.batch, errors), (Some(BatchSettings::default()), vec![]));
        assert_eq!(
            BatchSettings::default(),
            BatchSettings {
                flush_timeout: Duration::from_millis(200),
                sizer: Sizer::Items,
                min_size: 8192,
                max_size: 0,
            }
        );
        assert_eq!(parse("{batch: null}").0.batch, Some(BatchSettings::default()));
        assert_eq!(parse("{queue_size: 10}").0.batch, None, "no batch section, no batching");
        assert_eq!(
            parse("{sizer: items, queue_size: 100000, batch: {flush_timeout: 1s, min_size: 1000, max_size: 5000}}"),
            (
                QueueSettings {
                    sizer: Sizer::Items,
                    queue_size: 100_000,
                    batch: Some(BatchSettings {
                        flush_timeout: Duration::from_secs(1),
                        sizer: Sizer::Items,
                        min_size: 1000,
                        max_size: 5000,
                    }),
                    ..QueueSettings::default()
                },
                vec![]
            )
        );
        // Without a sizer of its own a batch with settings follows the queue's; an empty one does not.
        let (settings, _) = parse("{sizer: bytes, queue_size: 50000000, batch: {min_size: 1000000}}");
        assert_eq!(settings.batch.map(|b| b.sizer), Some(Sizer::Bytes));
        let (settings, errors) = parse("{sizer: requests, batch: {}}");
        assert_eq!((settings.batch.map(|b| b.sizer), errors), (Some(Sizer::Items), vec![]));
        let (settings, _) = parse("{sizer: items, queue_size: 10000, batch: {sizer: bytes, min_size: 100000}}");
        assert_eq!(settings.batch.map(|b| (b.sizer, b.min_size)), Some((Sizer::Bytes, 100_000)));

        let (_, errors) = parse("{sizer: pages, batch: {flush_timeout: 0s, min_size: 10, max_size: 5, partition: {}}}");
        assert_eq!(
            errors,
            vec![
                "exporters.otlp.sending_queue.sizer: expected requests, items or bytes, got 'pages'",
                "exporters.otlp.sending_queue.batch.partition: unknown key (expected one of: flush_timeout, min_size, max_size, sizer)",
                "exporters.otlp.sending_queue.batch.flush_timeout: must be greater than 0",
                "exporters.otlp.sending_queue.batch.max_size: must be at least min_size (10), or 0 for no limit",
            ]
        );
        let (_, errors) = parse("{sizer: requests, batch: {flush_timeout: 1s}}");
        assert_eq!(
            errors,
            vec!["exporters.otlp.sending_queue.batch.sizer: a batch is measured in items or bytes, not requests (without a sizer of its own it follows sending_queue.sizer)"]
        );
        let (_, errors) = parse("{sizer: items, queue_size: 100, batch: {min_size: 1000, max_size: -1}}");
        assert_eq!(
            errors,
            vec![
                "exporters.otlp.sending_queue.batch.max_size: expected a non-negative integer, got a number",
                "exporters.otlp.sending_queue.batch.min_size: must be at most queue_size (100), or the queue could never hold a full batch",
            ]
        );
        let (_, errors) = parse("{sizer: items, queue_size: 2000000000, batch: 5}");
        assert_eq!(
            errors,
            vec![
                "exporters.otlp.sending_queue.queue_size: must be between 1 and 1000000000",
                "exporters.otlp.sending_queue.batch: expected a mapping, got a number",
            ]
        );
    }

    #[tokio::test]
    async fn a_queue_measured_in_items_refuses_what_does_not_fit_and_what_never_could() {
        let counters = PerSignal::detached("x");
        let queue = SendingQueue::in_memory(10, counters.clone()).measured_in(Sizer::Items);
        queue.push(Signal::Logs, 6, Bytes::from_static(b"a")).await.unwrap();
        let full = queue.push(Signal::Logs, 5, Bytes::from_static(b"b")).await.unwrap_err();
        assert_eq!(full.to_string(), "the sending queue is full (10 logs items waiting); retry later");
        queue.push(Signal::Logs, 4, Bytes::from_static(b"c")).await.unwrap();
        let too_large = queue.push(Signal::Traces, 11, Bytes::from_static(b"d")).await.unwrap_err();
        assert_eq!(
            too_large.to_string(),
            "the data (11 items) is more than the whole sending queue holds (10 items); raise sending_queue.queue_size, or set sending_queue.batch.max_size to cut it"
        );
        let taken = queue.next().await.unwrap();
        queue.remove(taken.id).await.unwrap();
        queue.push(Signal::Logs, 6, Bytes::from_static(b"e")).await.unwrap();
        assert_eq!(queued(&counters, Signal::Logs), 10);

        let by_bytes = SendingQueue::in_memory(8, PerSignal::detached("x")).measured_in(Sizer::Bytes);
        by_bytes.push(Signal::Traces, 100, Bytes::from_static(b"12345")).await.unwrap();
        assert!(matches!(
            by_bytes.push(Signal::Traces, 1, Bytes::from_static(b"6789")).await,
            Err(QueueError::Full {
                capacity: 8,
                unit: "bytes",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn push_all_queues_every_part_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = queue_path(dir.path(), "otlp");
        let counters = PerSignal::detached("x");
        let queue = SendingQueue::open(&path, 3, counters.clone()).unwrap();
        let parts = |n: usize| (0..n).map(|i| (i + 1, Bytes::from(vec![b'p'; i + 1]))).collect::<Vec<_>>();
        queue.push_all(Signal::Metrics, parts(2)).await.unwrap();
        assert!(matches!(
            queue.push_all(Signal::Metrics, parts(2)).await,
            Err(QueueError::Full { .. })
        ));
        assert_eq!(
            (queue.len(), queued(&counters, Signal::Metrics)),
            (2, 3),
            "nothing of the refused push"
        );
        drop(queue);
        let reopened = SendingQueue::open(&path, 3, PerSignal::detached("x")).unwrap();
        let (first, second) = (reopened.next().await.unwrap(), reopened.next().await.unwrap());
        assert_eq!((first.items, first.payload.len(), second.items, second.payload.len()), (1, 1, 2, 2));
    }

    #[tokio::test]
    async fn a_persistent_queue_sends_what_it_just_wrote_from_memory_and_reads_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = queue_path(dir.path(), "otlp");
        let queue = SendingQueue::open(&path, 10, PerSignal::detached("x")).unwrap();
        queue.push(Signal::Traces, 1, Bytes::from_static(b"first")).await.unwrap();
        queue.push(Signal::Traces, 1, Bytes::from_static(b"second")).await.unwrap();
        // Emptied behind the queue's back: a batch sent from memory does not notice.
        let other = Connection::open(&path).unwrap();
        other.execute("UPDATE batches SET payload = x'00'", []).unwrap();
        let first = queue.next().await.unwrap();
        assert_eq!(first.payload, Bytes::from_static(b"first"), "sent from memory");
        assert_eq!(queue.state().resident, b"second".len(), "only the waiting batch is held");
        queue.put_back(first);
        assert_eq!(queue.state().resident, b"first".len() + b"second".len());
        drop(queue);
        // After a restart, the file is what counts.
        let reopened = SendingQueue::open(&path, 10, PerSignal::detached("x")).unwrap();
        assert_eq!(reopened.next().await.unwrap().payload, Bytes::from_static(&[0]));
    }

    #[tokio::test]
    async fn an_emptied_queue_gives_a_large_free_list_back_and_keeps_a_small_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = queue_path(dir.path(), "otlp");
        let queue = SendingQueue::open(&path, 10_000, PerSignal::detached("x")).unwrap();
        // Payloads small enough for their rows, 512 at a time.
        let small = || (0..512).map(|_| (1, Bytes::from(vec![7u8; 8 << 10]))).collect::<Vec<_>>();
        let drain = || async {
            while !queue.is_empty() {
                let batch = queue.next().await.unwrap();
                queue.remove(batch.id).await.unwrap();
            }
        };
        // 4 MiB: well under the threshold, so the file keeps its pages for the next batches.
        queue.push_all(Signal::Traces, small()).await.unwrap();
        drain().await;
        let conn = Connection::open(&path).unwrap();
        let free = |conn: &Connection| conn.query_row("PRAGMA freelist_count", [], |r| r.get::<_, i64>(0)).unwrap();
        assert!(free(&conn) > 0, "a small free list is kept");
        // 40 MiB queued, then delivered: the free list is given back.
        for _ in 0..10 {
            queue.push_all(Signal::Traces, small()).await.unwrap();
        }
        drain().await;
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        assert!(
            free(&conn) * page <= VACUUM_FREE_BYTES,
            "free pages: {} of {page} bytes",
            free(&conn)
        );
    }

    /// The payload files in a queue's payload directory, by name.
    fn payload_files(path: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(payload_dir(path))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `fsync: true` reaches SQLite (FULL, where the default NORMAL does not sync each commit in
    /// WAL mode) and the payload files, which are then written by the syncing path and read back.
    #[tokio::test]
    async fn a_queue_syncing_each_write_commits_with_full_synchronous_and_keeps_its_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = queue_path(dir.path(), "otlp");
        let synchronous = |queue: &SendingQueue| -> i64 {
            let index = queue.disk.as_ref().unwrap().index.lock().unwrap();
            index.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap()
        };
        let plain = SendingQueue::open(&path, 10, PerSignal::detached("x")).unwrap();
        assert_eq!(synchronous(&plain), 1, "NORMAL by default");
        drop(plain);
        let queue = SendingQueue::open(&path, 10, PerSignal::detached("x"))
            .unwrap()
            .syncing_each_write()
            .unwrap();
        assert_eq!(synchronous(&queue), 2, "FULL");
        let large = Bytes::from(vec![7u8; PAYLOAD_FILE_MIN_BYTES * 2]);
        let small = Bytes::from_static(b"small");
        queue.push(Signal::Traces, 3, large.clone()).await.unwrap();
        queue.push(Signal::Logs, 1, small.clone()).await.unwrap();
        assert_eq!(payload_files(&path).len(), 1);
        drop(queue);
        let reopened = SendingQueue::open(&path, 10, PerSignal::detached("x")).unwrap();
        assert_eq!(reopened.next().await.unwrap().payload, large);
        assert_eq!(reopened.next().await.unwrap().payload, small);
        assert!(SendingQueue::in_memory(1, PerSignal::detached("x")).syncing_each_write().is_ok());
    }

    #[tokio::test]
    async fn a_large_payload_is_written_once_to_its_own_file_and_leaves_with_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = queue_path(dir.path(), "otlp");
        let queue = SendingQueue::open(&path, 10, PerSignal::detached("x")).unwrap();
        let large = Bytes::from((0..PAYLOAD_FILE_MIN_BYTES + 5).map(|i| i as u8).collect::<Vec<u8>>());
        let small = Bytes::from(vec![1u8; PAYLOAD_FILE_MIN_BYTES - 1]);
        queue.push(Signal::Traces, 8, large.clone()).await.unwrap();
        queue.push(Signal::Traces, 2, small.clone()).await.unwrap();
        let conn = Connection::open(&path).unwrap();
        let rows: Vec<(i64, i64, Option<i64>)> = conn
            .prepare("SELECT id, length(payload), file_bytes FROM batches ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let (large_id, small_id) = (rows[0].0, rows[1].0);
        assert_eq!(
            rows,
            vec![(large_id, 0, Some(large.len() as i64)), (small_id, small.len() as i64, None)],
            "the large payload is not in its row, the small one is"
        );
        assert_eq!(payload_files(&path), vec![large_id.to_string()]);
        assert_eq!(std::fs::read(payload_dir(&path).join(large_id.to_string())).unwrap(), large);
        drop(queue);

        // After a restart both are read back, from the file and from the row.
        let reopened = SendingQueue::open(&path, 10, PerSignal::detached("x")).unwrap();
        let first = reopened.next().await.unwrap();
        assert_eq!((first.id, first.items, &first.payload), (large_id, 8, &large));
        let second = reopened.next().await.unwrap();
        assert_eq!((second.id, &second.payload), (small_id, &small));
        reopened.remove(first.id).await.unwrap();
        assert!(payload_files(&path).is_empty(), "delivered: its file is gone");
        reopened.remove(second.id).await.unwrap();
        drop(reopened);
        // Ids are never handed out twice, even once the index is empty.
        let again = SendingQueue::open(&path, 10, PerSignal::detached("x")).unwrap();
        again.push(Signal::Logs, 1, large.clone()).await.unwrap();
        assert!(again.next().await.unwrap().id > small_id);
    }

    #[tokio::test]
    async fn payload_files_without_a_committed_row_are_removed_and_rows_without_their_file_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = queue_path(dir.path(), "otlp");
        let queue = SendingQueue::open(&path, 10, PerSignal::detached("x")).unwrap();
        let large = |byte: u8| Bytes::from(vec![byte; PAYLOAD_FILE_MIN_BYTES]);
        queue.push(Signal::Traces, 1, large(1)).await.unwrap();
        queue.push(Signal::Traces, 2, large(2)).await.unwrap();
        queue.push(Signal::Traces, 3, large(3)).await.unwrap();
        drop(queue);
        let files = payload_files(&path);
        // A push that stopped before its row committed left a file; one batch's file was cut
        // short and another's lost (a machine that crashed before they reached the disk).
        std::fs::write(payload_dir(&path).join("999"), b"never acknowledged").unwrap();
        std::fs::write(payload_dir(&path).join(&files[0]), b"cut short").unwrap();
        std::fs::remove_file(payload_dir(&path).join(&files[1])).unwrap();

        let counters = PerSignal::detached("x");
        let reopened = SendingQueue::open(&path, 10, counters.clone()).unwrap();
        assert_eq!(
            payload_files(&path),
            [files[0].clone(), files[2].clone()],
            "the file without a row is gone"
        );
        let survivor = reopened.next().await.unwrap();
        assert_eq!((survivor.items, survivor.payload), (3, large(3)), "the damaged batches are skipped");
        assert_eq!(reopened.len(), 1, "only the survivor is left, in flight");
        assert_eq!(queued(&counters, Signal::Traces), 3, "the damaged batches no longer count");
        let rows: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM batches", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1, "their rows are deleted");
    }

    #[tokio::test]
    async fn an_index_of_the_first_format_is_upgraded_and_its_rows_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = queue_path(dir.path(), "otlp");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let large = vec![9u8; PAYLOAD_FILE_MIN_BYTES * 2];
        {
            // What otelbox wrote before payload files: every payload in its row.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE batches (id INTEGER PRIMARY KEY AUTOINCREMENT, signal TEXT NOT NULL, items INTEGER NOT NULL, payload BLOB NOT NULL);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
            conn.execute("INSERT INTO batches (signal, items, payload) VALUES ('logs', 4, ?1)", [&large])
                .unwrap();
        }
        let queue = SendingQueue::open(&path, 10, PerSignal::detached("x")).unwrap();
        let old = queue.next().await.unwrap();
        assert_eq!((old.signal, old.items, old.payload.as_ref()), (Signal::Logs, 4, large.as_slice()));
        queue.push(Signal::Logs, 1, Bytes::from(large.clone())).await.unwrap();
        assert_eq!(payload_files(&path).len(), 1, "new batches use files");
        queue.remove(old.id).await.unwrap();
        drop(queue);
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, QUEUE_SCHEMA_VERSION);
    }

    #[tokio::test]
    async fn next_of_takes_the_signals_next_batch_while_it_fits_and_waits_until_the_deadline() {
        let queue = Arc::new(SendingQueue::in_memory(10, PerSignal::detached("x")));
        queue.push(Signal::Logs, 2, Bytes::from_static(b"logs 1")).await.unwrap();
        queue.push(Signal::Traces, 3, Bytes::from_static(b"traces 1")).await.unwrap();
        queue.push(Signal::Logs, 5, Bytes::from_static(b"logs 2")).await.unwrap();
        let soon = || tokio::time::Instant::now() + Duration::from_millis(50);
        let first = queue.next().await.unwrap();
        assert_eq!(first.payload, Bytes::from_static(b"logs 1"));
        let too_large = queue.next_of(Signal::Logs, |items, _| items <= 4, soon()).await.unwrap();
        assert_eq!(too_large, None, "logs 2 does not fit");
        let fits = queue.next_of(Signal::Logs, |items, _| items <= 5, soon()).await.unwrap().unwrap();
        assert_eq!(fits.payload, Bytes::from_static(b"logs 2"), "past the traces batch");

        let started = tokio::time::Instant::now();
        assert_eq!(queue.next_of(Signal::Logs, |_, _| true, soon()).await.unwrap(), None);
        assert!(started.elapsed() >= Duration::from_millis(40), "waited for the deadline");

        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                queue.next_of(Signal::Logs, |_, _| true, deadline).await.unwrap()
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.push(Signal::Logs, 1, Bytes::from_static(b"logs 3")).await.unwrap();
        let arrived = tokio::time::timeout(Duration::from_secs(2), waiting).await.unwrap().unwrap();
        assert_eq!(
            arrived.map(|b| b.payload),
            Some(Bytes::from_static(b"logs 3")),
            "a push wakes the wait"
        );
        assert_eq!(queue.next().await.unwrap().payload, Bytes::from_static(b"traces 1"));
    }

    #[test]
    fn queue_files_are_named_after_the_exporter_without_collisions() {
        let dir = Path::new("/data");
        assert_eq!(queue_path(dir, "otlp"), PathBuf::from("/data/queues/otlp.db"));
        assert_eq!(queue_path(dir, "otlp/a"), PathBuf::from("/data/queues/otlp%2Fa.db"));
        assert_eq!(queue_path(dir, "otlphttp/a_b.c"), PathBuf::from("/data/queues/otlphttp%2Fa_b.c.db"));
        assert_ne!(queue_path(dir, "otlp/a/b"), queue_path(dir, "otlp/a%2Fb"));
        assert_eq!(queue_path(dir, "otlp/../../x"), PathBuf::from("/data/queues/otlp%2F..%2F..%2Fx.db"));
    }

    #[tokio::test]
    async fn a_persistent_queue_survives_reopening_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = queue_path(dir.path(), "otlp/up");
        let counters = PerSignal::detached("exporter/otlp/up");
        let queue = SendingQueue::open(&path, 10, counters.clone()).unwrap();
        queue.push(Signal::Traces, 3, Bytes::from_static(b"first")).await.unwrap();
        queue.push(Signal::Logs, 2, Bytes::from_static(b"second")).await.unwrap();
        queue.push(Signal::Traces, 4, Bytes::from_static(b"third")).await.unwrap();
        assert_eq!(queued(&counters, Signal::Traces), 7);
        // Taken but not removed (otelbox stopped mid-send): it is sent again after a restart.
        let taken = queue.next().await.unwrap();
        assert_eq!(taken.payload, Bytes::from_static(b"first"));
        let delivered = queue.next().await.unwrap();
        queue.remove(delivered.id).await.unwrap();
        drop(queue);

        let counters = PerSignal::detached("exporter/otlp/up");
        let reopened = SendingQueue::open(&path, 10, counters.clone()).unwrap();
        assert_eq!(reopened.len(), 2);
        assert_eq!((queued(&counters, Signal::Traces), queued(&counters, Signal::Logs)), (7, 0));
        let first = reopened.next().await.unwrap();
        assert_eq!(
            (first.signal, first.items, first.payload.as_ref()),
            (Signal::Traces, 3, b"first".as_ref())
        );
        let third = reopened.next().await.unwrap();
        assert_eq!(
            (third.signal, third.items, third.payload.as_ref()),
            (Signal::Traces, 4, b"third".as_ref())
        );
        reopened.remove(first.id).await.unwrap();
        reopened.remove(third.id).await.unwrap();
        assert!(reopened.is_empty());
        assert_eq!(queued(&counters, Signal::Traces), 0);
        drop(reopened);
        assert!(SendingQueue::open(&path, 10, PerSignal::detached("x")).unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_per_signal_until_a_batch_leaves() {
        let counters = PerSignal::detached("exporter/otlp");
        let queue = SendingQueue::in_memory(2, counters.clone());
        queue.push(Signal::Traces, 1, Bytes::from_static(b"a")).await.unwrap();
        queue.push(Signal::Traces, 1, Bytes::from_static(b"b")).await.unwrap();
        let err = queue.push(Signal::Traces, 1, Bytes::from_static(b"c")).await.unwrap_err();
        assert_eq!(err.to_string(), "the sending queue is full (2 traces batches waiting); retry later");
        queue
            .push(Signal::Logs, 1, Bytes::from_static(b"logs have their own room"))
            .await
            .unwrap();
        let taken = queue.next().await.unwrap();
        assert!(
            queue.push(Signal::Traces, 1, Bytes::from_static(b"c")).await.is_err(),
            "in flight still counts"
        );
        queue.remove(taken.id).await.unwrap();
        queue.push(Signal::Traces, 1, Bytes::from_static(b"c")).await.unwrap();
        assert_eq!(queued(&counters, Signal::Traces), 2);
    }

    #[tokio::test]
    async fn a_persistent_full_queue_refuses_too() {
        let dir = tempfile::tempdir().unwrap();
        let queue = SendingQueue::open(&queue_path(dir.path(), "otlp"), 1, PerSignal::detached("x")).unwrap();
        queue.push(Signal::Metrics, 5, Bytes::from_static(b"a")).await.unwrap();
        assert!(matches!(
            queue.push(Signal::Metrics, 5, Bytes::from_static(b"b")).await,
            Err(QueueError::Full { capacity: 1, .. })
        ));
    }

    #[tokio::test]
    async fn next_waits_for_a_push() {
        let queue = Arc::new(SendingQueue::in_memory(5, PerSignal::detached("x")));
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        queue.push(Signal::Logs, 1, Bytes::from_static(b"x")).await.unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
        assert_eq!(batch.payload, Bytes::from_static(b"x"));
    }

    #[tokio::test]
    async fn put_back_and_abandon_an_in_memory_queue() {
        let counters = PerSignal::detached("x");
        let queue = SendingQueue::in_memory(5, counters.clone());
        queue.push(Signal::Logs, 2, Bytes::from_static(b"a")).await.unwrap();
        queue.push(Signal::Logs, 3, Bytes::from_static(b"b")).await.unwrap();
        let a = queue.next().await.unwrap();
        queue.put_back(a.clone());
        assert_eq!(queue.next().await.unwrap(), a, "put back at the front");
        let mut lost = queue.abandon();
        lost.sort_by_key(|(_, items)| *items);
        assert_eq!(lost, vec![(Signal::Logs, 2), (Signal::Logs, 3)]);
        assert_eq!(queued(&counters, Signal::Logs), 0);
        assert!(queue.is_empty());
    }

    #[test]
    fn another_programs_database_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = queue_path(dir.path(), "otlp");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE customers (id INTEGER)")
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = SendingQueue::open(&path, 10, PerSignal::detached("x")).err().unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is not an otelbox sending queue (it has the tables customers); move it away or choose another --data-dir",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);

        std::fs::write(&path, b"this is not a database at all, just some text that is long enough").unwrap();
        assert!(matches!(
            SendingQueue::open(&path, 10, PerSignal::detached("x")),
            Err(QueueError::Foreign { .. })
        ));
    }
}
