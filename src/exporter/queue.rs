//! The sending queue of the forwarding exporters: batches waiting to be delivered, bounded by
//! `queue_size` batches per signal. In a box with a data directory the queue is persistent: one
//! SQLite file per exporter, `<data dir>/queues/<exporter id>.db`, written before the batch is
//! acknowledged upstream ("accepted means committed"), so queued data survives restarts, crashes
//! and long outages of the destination. A batch leaves the file only once it has been delivered or
//! deliberately dropped; a batch in flight when otelbox stops is sent again on the next start
//! (at-least-once). An in-memory box keeps the queue in memory.
//!
//! Payloads are stored as encoded OTLP protobuf (`Export*ServiceRequest`), whatever the exporter's
//! wire format, so a queue written under one config can be sent under another. Only the index
//! (id, signal, item count) is held in memory; payloads are read back when a batch is sent.

use crate::config::{ComponentId, Parser};
use crate::pdata::Signal;
use crate::telemetry::PerSignal;
use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension};
use serde_yaml_ng::Value;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// `sending_queue`, with the Collector's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSettings {
    /// `false`: no queue; each batch is sent while the pipeline waits, and its acks carry the outcome.
    pub enabled: bool,
    /// Batches sent at once.
    pub num_consumers: usize,
    /// Batches held per signal at most; a full queue refuses new data retryably.
    pub queue_size: usize,
    /// A storage extension (`file_storage`) whose directory holds the queue instead of the box's
    /// data directory.
    pub storage: Option<ComponentId>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            storage: None,
        }
    }
}

/// Larger values are surely mistakes (a queue that large would never drain).
const MAX_QUEUE_SIZE: u64 = 1_000_000;
const MAX_CONSUMERS: u64 = 1000;

/// Parses `sending_queue` at `path` (absent: the defaults).
pub fn parse_queue(p: &mut Parser, value: Option<&Value>, path: &str) -> QueueSettings {
    let mut queue = QueueSettings::default();
    let Some(body) = p.mapping(value, path) else {
        return queue;
    };
    p.only_keys(body, &["enabled", "num_consumers", "queue_size", "storage"], path);
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
    if let Some(v) = body.get("queue_size") {
        match p.unsigned(v, &at("queue_size")) {
            Some(n) if !(1..=MAX_QUEUE_SIZE).contains(&n) => p.error(&at("queue_size"), format!("must be between 1 and {MAX_QUEUE_SIZE}")),
            Some(n) => queue.queue_size = n as usize,
            None => {}
        }
    }
    if let Some(v) = body.get("storage").filter(|v| !v.is_null()) {
        queue.storage = p
            .string(v, &at("storage"))
            .and_then(|text| ComponentId::parse(&text).map_err(|e| p.error(&at("storage"), e)).ok());
    }
    queue
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the sending queue is full ({capacity} {signal} batches waiting); retry later")]
    Full { capacity: usize, signal: &'static str },
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
    /// In memory for an in-memory queue; on disk (None here) for a persistent one.
    payload: Option<Bytes>,
}

#[derive(Default)]
struct State {
    pending: VecDeque<Entry>,
    /// Taken for sending, not yet removed: (signal, items) by id.
    in_flight: HashMap<i64, (Signal, usize)>,
    /// Batches per signal, pending or in flight (what `queue_size` bounds), plus pushes under way.
    occupancy: [usize; 3],
    next_memory_id: i64,
}

pub struct SendingQueue {
    /// The SQLite file of a persistent queue (None: in memory).
    disk: Option<(PathBuf, Arc<Mutex<Connection>>)>,
    state: Mutex<State>,
    capacity: usize,
    available: Notify,
    counters: PerSignal,
}

/// The file format version (`PRAGMA user_version`).
const QUEUE_SCHEMA_VERSION: i64 = 1;
const QUEUE_SCHEMA: &str = "CREATE TABLE batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    signal TEXT NOT NULL,
    items INTEGER NOT NULL,
    payload BLOB NOT NULL
)";

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

impl SendingQueue {
    /// An in-memory queue.
    pub fn in_memory(capacity: usize, counters: PerSignal) -> SendingQueue {
        SendingQueue {
            disk: None,
            state: Mutex::new(State::default()),
            capacity,
            available: Notify::new(),
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
        if version == 0 {
            // Before the first table: lets the file shrink again after an outage's backlog drained.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL").map_err(|e| storage(&e))?;
            let tx = conn.transaction().map_err(|e| storage(&e))?;
            tx.execute_batch(QUEUE_SCHEMA).map_err(|e| storage(&e))?;
            tx.pragma_update(None, "user_version", QUEUE_SCHEMA_VERSION)
                .map_err(|e| storage(&e))?;
            tx.commit().map_err(|e| storage(&e))?;
        }
        // WAL + synchronous=NORMAL, like the store: a committed batch survives a crash or kill -9.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| storage(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| storage(&e))?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(|e| storage(&e))?;

        let mut state = State::default();
        {
            let mut select = conn
                .prepare("SELECT id, signal, items FROM batches ORDER BY id")
                .map_err(|e| storage(&e))?;
            let rows = select
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
                .map_err(|e| storage(&e))?;
            for row in rows {
                let (id, signal, items) = row.map_err(|e| storage(&e))?;
                let Some(signal) = signal_named(&signal) else {
                    return Err(QueueError::Foreign {
                        path: display.clone(),
                        detail: format!("batch {id} has the unknown signal '{signal}'"),
                    });
                };
                let items = usize::try_from(items).unwrap_or(0);
                state.occupancy[slot(signal)] += 1;
                counters.get(signal).record_queued(items);
                state.pending.push_back(Entry {
                    id,
                    signal,
                    items,
                    payload: None,
                });
            }
        }
        Ok(SendingQueue {
            disk: Some((path.to_path_buf(), Arc::new(Mutex::new(conn)))),
            state: Mutex::new(state),
            capacity,
            available: Notify::new(),
            counters,
        })
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
        self.state().occupancy.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a batch; when this returns `Ok` the batch is durably queued (committed to the file of a
    /// persistent queue). A full queue (for this signal) refuses at once.
    pub async fn push(&self, signal: Signal, items: usize, payload: Bytes) -> Result<(), QueueError> {
        {
            let mut state = self.state();
            if state.occupancy[slot(signal)] >= self.capacity {
                return Err(QueueError::Full {
                    capacity: self.capacity,
                    signal: signal.as_str(),
                });
            }
            state.occupancy[slot(signal)] += 1; // reserved while the write runs
        }
        // If the caller's future is dropped mid-write (a sender hung up), the reservation is given
        // back; a row the write still commits is sent at the next start (at-least-once).
        let mut reservation = Reservation {
            queue: self,
            signal,
            armed: true,
        };
        let stored = match &self.disk {
            None => Ok((None, Some(payload))),
            Some((path, conn)) => {
                let conn = conn.clone();
                let path = path.display().to_string();
                tokio::task::spawn_blocking(move || {
                    let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    conn.execute(
                        "INSERT INTO batches (signal, items, payload) VALUES (?1, ?2, ?3)",
                        params![signal.as_str(), items as i64, payload.as_ref()],
                    )
                    .map(|_| (Some(conn.last_insert_rowid()), None))
                    .map_err(|e| QueueError::Storage {
                        path: path.clone(),
                        detail: e.to_string(),
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
            Ok((id, payload)) => {
                let id = id.unwrap_or_else(|| {
                    state.next_memory_id += 1;
                    state.next_memory_id
                });
                state.pending.push_back(Entry {
                    id,
                    signal,
                    items,
                    payload,
                });
                drop(state);
                self.counters.get(signal).record_queued(items);
                self.available.notify_one();
                Ok(())
            }
            Err(e) => {
                state.occupancy[slot(signal)] -= 1;
                Err(e)
            }
        }
    }

    /// The oldest waiting batch, waiting for one if the queue is empty. It stays queued (and counts
    /// against the capacity) until `remove`.
    pub async fn next(&self) -> Result<QueuedBatch, QueueError> {
        loop {
            let entry = {
                let mut state = self.state();
                let entry = state.pending.pop_front();
                if let Some(entry) = &entry {
                    state.in_flight.insert(entry.id, (entry.signal, entry.items));
                }
                entry
            };
            let Some(entry) = entry else {
                self.available.notified().await;
                continue;
            };
            let payload = match (entry.payload, &self.disk) {
                (Some(payload), _) => payload,
                (None, None) => Bytes::new(), // an in-memory entry always has its payload
                (None, Some((path, conn))) => {
                    let conn = conn.clone();
                    let path = path.display().to_string();
                    let id = entry.id;
                    let read = tokio::task::spawn_blocking(move || {
                        let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                        conn.query_row("SELECT payload FROM batches WHERE id = ?1", [id], |r| r.get::<_, Vec<u8>>(0))
                            .optional()
                    })
                    .await;
                    match read.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string())) {
                        Ok(Some(payload)) => Bytes::from(payload),
                        Ok(None) => {
                            // Not in the file (cannot happen unless someone edited it): forget it.
                            self.forget(id);
                            continue;
                        }
                        // It stays in the file (and counted) for the next start.
                        Err(e) => {
                            return Err(QueueError::Storage {
                                path,
                                detail: format!("cannot read batch {id}: {e}"),
                            })
                        }
                    }
                }
            };
            return Ok(QueuedBatch {
                id: entry.id,
                signal: entry.signal,
                items: entry.items,
                payload,
            });
        }
    }

    /// Forgets a batch taken with `next` (delivered or dropped), freeing its place.
    /// The in-memory place is freed even when the delete fails: the batch is finished either way, and
    /// a row left in the file is only sent again at the next start (at-least-once).
    pub async fn remove(&self, id: i64) -> Result<(), QueueError> {
        let deleted = self.delete_row(id).await;
        self.forget(id);
        deleted
    }

    async fn delete_row(&self, id: i64) -> Result<(), QueueError> {
        if let Some((path, conn)) = &self.disk {
            let conn = conn.clone();
            let path = path.display().to_string();
            tokio::task::spawn_blocking(move || {
                let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                conn.execute("DELETE FROM batches WHERE id = ?1", [id])?;
                let left: i64 = conn.query_row("SELECT count(*) FROM batches", [], |r| r.get(0))?;
                if left == 0 {
                    // The backlog is gone: give its pages back to the file system.
                    conn.execute_batch("PRAGMA incremental_vacuum")?;
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
        if let Some((signal, items)) = state.in_flight.remove(&id) {
            state.occupancy[slot(signal)] -= 1;
            drop(state);
            self.counters.get(signal).record_dequeued(items);
        }
    }

    /// Puts a batch taken with `next` back at the front (it could not be read or sent now).
    pub fn put_back(&self, batch: QueuedBatch) {
        let mut state = self.state();
        if state.in_flight.remove(&batch.id).is_some() {
            let payload = (!self.is_persistent()).then_some(batch.payload);
            state.pending.push_front(Entry {
                id: batch.id,
                signal: batch.signal,
                items: batch.items,
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
        lost.extend(state.in_flight.drain().map(|(_, batch)| batch));
        state.occupancy = [0; 3];
        drop(state);
        for (signal, items) in &lost {
            self.counters.get(*signal).record_dequeued(*items);
        }
        lost
    }

    pub fn path(&self) -> Option<&Path> {
        self.disk.as_ref().map(|(path, _)| path.as_path())
    }
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

/// A queue place reserved by `push` while its write runs; released if the push is abandoned.
struct Reservation<'a> {
    queue: &'a SendingQueue,
    signal: Signal,
    armed: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.queue.state().occupancy[slot(self.signal)] -= 1;
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
                },
                vec![]
            )
        );
        let (_, errors) = parse("{num_consumers: 0, queue_size: -1, blocking: true}");
        assert_eq!(
            errors,
            vec![
                "exporters.otlp.sending_queue.blocking: unknown key (expected one of: enabled, num_consumers, queue_size, storage)",
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
