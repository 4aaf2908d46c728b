//! SQLite storage: one writer thread that commits in groups, a pool of read connections used off
//! the async runtime, retention, and the read queries the API and CLI need.

pub mod blocks;
pub mod check;
pub mod codec;
pub mod functions;
pub mod incomplete;
pub mod keys;
pub mod lint;
pub mod llm;
pub mod packed;
pub mod packing;
pub mod packs;
pub mod read;
mod readers;
pub mod resource_attrs;
pub mod retention;
pub mod rows;
pub mod schema;
pub mod series;
pub mod sql;
pub mod stats;
pub mod writer;

use resource_attrs::ResourceAttrHashes;
use retention::Retention;
use rows::RowBatch;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use writer::{Committed, Writer, WriterMessage};

/// Where the database lives.
#[derive(Clone, Debug, PartialEq)]
pub enum Location {
    /// `<data-dir>/otelbox.db` (plus its WAL files).
    Disk(PathBuf),
    /// An in-process database: nothing touches the disk.
    Memory,
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub location: Location,
    pub retention: Retention,
    /// synchronous=FULL: commits also survive power loss (slower). Default NORMAL survives crashes.
    pub durable_sync: bool,
}

/// Counters the writer keeps; read by /metrics and /api/v1/status.
#[derive(Default)]
pub struct StoreStats {
    pub commits: AtomicU64,
    pub commit_micros: AtomicU64,
    pub write_errors: AtomicU64,
    /// Write groups refused (retryably) because live data and WAL were at the size cap.
    pub refused_at_cap: AtomicU64,
    pub spans_written: AtomicU64,
    /// Span rows moved into packs (`packing`).
    pub spans_packed: AtomicU64,
    pub logs_written: AtomicU64,
    pub points_written: AtomicU64,
    /// Spans not stored because a span with the same trace id and span id was (the first copy is kept).
    pub duplicate_spans: AtomicU64,
    /// Metric points stored in their metric's overflow series: the metric had
    /// `writer::MAX_SERIES_PER_METRIC` series for its resource already.
    pub overflow_points: AtomicU64,
    /// Metric series, resources and scopes deleted by retention once no row used them.
    pub unreferenced_removed: AtomicU64,
    pub rows_expired: AtomicU64,
    pub retention_micros: AtomicU64,
    /// The longest single retention step: how long deletes held up the writer at most.
    pub retention_step_max_micros: AtomicU64,
}

// The start-up errors carry the SQLite message as text, not as a `source`: `main` prints the error
// chain, and the message already says everything once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {detail}; check the path and its permissions, or choose another --data-dir")]
    Open { path: String, detail: String },
    /// Not a SQLite file at all, or a damaged one.
    #[error("{path} is not an otelbox database ({detail}); move it away or choose another --data-dir")]
    NotADatabase { path: String, detail: String },
    /// Another program's SQLite database.
    #[error("{path} is a SQLite database but not otelbox's (it has tables {tables}); move it away or choose another --data-dir")]
    Foreign { path: String, tables: String },
    #[error(
        "{path} was written by a newer otelbox (schema v{found}, this build knows v{known}); upgrade otelbox or choose another --data-dir"
    )]
    TooNew { path: String, found: i64, known: i64 },
    #[error("query failed: {0}")]
    Query(#[from] rusqlite::Error),
    #[error("otelbox is shutting down")]
    Closed,
    #[error("cannot start the storage writer thread: {0}")]
    Thread(String),
}

impl StoreError {
    /// A start-up failure on the database at `path`, with advice matching its cause.
    fn at_open(path: &str, err: rusqlite::Error) -> StoreError {
        let path = path.to_string();
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => StoreError::NotADatabase {
                path,
                detail: err.to_string(),
            },
            _ => StoreError::Open {
                path,
                detail: err.to_string(),
            },
        }
    }

    fn from_schema(path: &str, err: schema::SchemaError) -> StoreError {
        match err {
            schema::SchemaError::TooNew { found, known } => StoreError::TooNew {
                path: path.to_string(),
                found,
                known,
            },
            schema::SchemaError::Foreign { tables } => StoreError::Foreign {
                path: path.to_string(),
                tables: schema::list_tables(&tables),
            },
            schema::SchemaError::Sql(err) => StoreError::at_open(path, err),
        }
    }
}

/// Why rows were not stored; always worth retrying (the store was full, at its cap, failing or
/// shutting down), after `retry_after`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct WriteRefused {
    pub message: String,
    pub retry_after: Duration,
}

/// Told once whether a write was committed, on the writer thread: keep it short.
pub type WriteDone = Box<dyn FnOnce(Result<(), WriteRefused>) + Send>;

/// A `WriteDone` for writes nobody waits on (loading a store for a benchmark).
pub fn unreported() -> WriteDone {
    Box::new(|_| {})
}

/// Writer queue depth in row batches; when full, exporters wait and the batch queue backs up.
const WRITER_QUEUE: usize = 8;
const READERS: usize = 4;

pub struct Store {
    location: Location,
    db_path: String,
    writer_tx: mpsc::Sender<WriterMessage>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: readers::Readers,
    committed: watch::Receiver<Committed>,
    resource_attrs: Arc<ResourceAttrHashes>,
    codec: Arc<codec::BlobCodec>,
    pub stats: Arc<StoreStats>,
}

static MEMORY_DB_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Store {
    /// Open (creating and migrating as needed) and start the writer thread.
    pub fn open(config: StoreConfig) -> Result<Arc<Store>, StoreError> {
        let (uri, flags) = match &config.location {
            Location::Disk(path) => (
                path.display().to_string(),
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            ),
            Location::Memory => {
                // memdb with a name starting with '/' is shared by this process's connections.
                let n = MEMORY_DB_COUNTER.fetch_add(1, Ordering::Relaxed);
                (
                    format!("file:/otelbox-{}-{n}?vfs=memdb", std::process::id()),
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_URI,
                )
            }
        };
        let on_disk = matches!(config.location, Location::Disk(_));
        let open_err = |err| StoreError::at_open(&uri, err);
        // Before SQLite opens the database: its recovery drops whatever follows a damaged WAL frame without a word.
        let wal_was_damaged = match &config.location {
            Location::Disk(path) => check::preserve_and_report_wal_damage(path),
            Location::Memory => false,
        };
        let mut conn = Connection::open_with_flags(&uri, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(open_err)?;
        // Before anything writes: the writer settings alone would turn another program's database to WAL.
        schema::check_owner(&conn).map_err(|err| StoreError::from_schema(&uri, err))?;
        schema::configure_writer(&conn, on_disk, config.durable_sync).map_err(open_err)?;
        if wal_was_damaged {
            check::checkpoint_recovered_wal(&conn);
        }
        schema::migrate(&mut conn).map_err(|err| StoreError::from_schema(&uri, err))?;
        functions::register(&conn).map_err(open_err)?;
        packed::attach(&conn).map_err(open_err)?;

        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader_flags = if on_disk { OpenFlags::SQLITE_OPEN_READ_ONLY } else { flags };
            let reader = Connection::open_with_flags(&uri, reader_flags | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(open_err)?;
            schema::configure_reader(&reader).map_err(open_err)?;
            functions::register(&reader).map_err(open_err)?;
            packed::attach(&reader).map_err(open_err)?;
            readers.push(reader);
        }

        // From the thread opening the store, so they keep its priority (`crate::priority`).
        let readers = readers::Readers::start(readers).map_err(|e| StoreError::Thread(e.to_string()))?;
        let stats = Arc::new(StoreStats::default());
        let initial = current_ids(&conn).map_err(open_err)?;
        let resource_attrs = Arc::new(ResourceAttrHashes::load(&conn).map_err(open_err)?);
        let codec = Arc::new(codec::BlobCodec::load(&conn).map_err(open_err)?);
        let (committed_tx, committed) = watch::channel(initial);
        let (writer_tx, writer_rx) = mpsc::channel(WRITER_QUEUE);
        let mut writer =
            Writer::new(conn, config.retention.clone(), stats.clone(), committed_tx, resource_attrs.clone()).with_codec(codec.clone());
        if let Location::Disk(path) = &config.location {
            writer = writer.watch_disk(path.clone());
        }
        let thread = std::thread::Builder::new()
            .name("otelbox-writer".into())
            .spawn(move || writer.run(writer_rx))
            .map_err(|e| StoreError::Thread(e.to_string()))?;

        // Retention also runs when no data arrives.
        let ticker = writer_tx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if ticker.send(WriterMessage::Tick).await.is_err() {
                    break;
                }
            }
        });

        Ok(Arc::new(Store {
            location: config.location,
            db_path: uri,
            writer_tx,
            writer_thread: Mutex::new(Some(thread)),
            readers,
            committed,
            resource_attrs,
            codec,
            stats,
        }))
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn display_path(&self) -> &str {
        match self.location {
            Location::Memory => ":memory:",
            Location::Disk(_) => &self.db_path,
        }
    }

    /// Queue rows for the writer; `done` is told the outcome after the commit (or the refusal).
    /// Waits while the queue is full. `Err` (shutting down) has told `done` too.
    pub async fn write(&self, rows: RowBatch, done: WriteDone) -> Result<(), WriteRefused> {
        self.writer_tx.send(WriterMessage::Write { rows, done }).await.map_err(|rejected| {
            let refusal = WriteRefused {
                message: "otelbox is shutting down; retry later".into(),
                retry_after: Duration::from_secs(1),
            };
            if let WriterMessage::Write { done, .. } = rejected.0 {
                done(Err(refusal.clone()));
            }
            refusal
        })
    }

    /// Writes rows and waits for their commit: the outcome `write`'s `done` would be told.
    pub async fn write_committed(&self, rows: RowBatch) -> Result<(), WriteRefused> {
        let (tx, rx) = oneshot::channel();
        self.write(
            rows,
            Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        )
        .await?;
        rx.await.unwrap_or_else(|_| {
            Err(WriteRefused {
                message: "otelbox is shutting down; retry later".into(),
                retry_after: Duration::from_secs(1),
            })
        })
    }

    /// Tests only: cap the database at `pages` pages (`PRAGMA max_page_count` on the writer
    /// connection), so a test fills the store as a full disk would (`SQLITE_FULL`) without root or
    /// a small filesystem; a larger value is space returning. Applied after what is already queued
    /// has been committed. Returns the cap now in force (SQLite never sets it below the current
    /// size). No flag or environment variable reaches it, and it lasts until the store closes.
    #[doc(hidden)]
    pub async fn set_max_page_count(&self, pages: u64) -> Result<u64, StoreError> {
        let (done, wait) = oneshot::channel();
        self.writer_tx
            .send(WriterMessage::MaxPageCount(pages, done))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(wait.await.map_err(|_| StoreError::Closed)??)
    }

    /// Tests only: every row stored so far counts as having arrived `by` earlier, so retention by
    /// age (which counts from arrival) can be tested without waiting. Returns once done.
    #[doc(hidden)]
    pub async fn backdate_arrivals(&self, by: std::time::Duration) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.writer_tx
            .send(WriterMessage::BackdateArrivals(by, done))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(wait.await.map_err(|_| StoreError::Closed)??)
    }

    /// Packs every complete range of span rows waiting (`packing`) now, after what is queued; the
    /// writer otherwise packs them while idle. Returns the spans packed, also when a later range
    /// could not be (a full disk): an error only when none could. For `bench-load`, whose stores are
    /// queried as a box that has run a while would hold them, and for tests.
    pub async fn pack_waiting(&self) -> Result<u64, StoreError> {
        let (done, wait) = oneshot::channel();
        self.writer_tx
            .send(WriterMessage::PackWaiting(done))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(wait.await.map_err(|_| StoreError::Closed)??)
    }

    /// Compresses attribute blobs before they are written (`codec`): the flatteners use it.
    pub fn codec(&self) -> &codec::BlobCodec {
        &self.codec
    }

    /// What stored resources hold, for compiling filters (`sql::compile_text`).
    pub fn resource_attrs(&self) -> Arc<ResourceAttrHashes> {
        self.resource_attrs.clone()
    }

    /// Changes whenever a commit added rows (live tails wait on it).
    pub fn committed(&self) -> watch::Receiver<Committed> {
        self.committed.clone()
    }

    /// Run a read on one of the store's read connections, off the async workers (`readers`).
    pub async fn read<R, F>(self: &Arc<Self>, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        self.readers.run(f).await
    }

    /// Flush what the writer holds, checkpoint and stop it.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.writer_tx.send(WriterMessage::Shutdown(done)).await.is_ok() {
            let _ = wait.await;
        }
        let thread = self.writer_thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn current_ids(conn: &Connection) -> rusqlite::Result<Committed> {
    let max = |table: &str| conn.query_row(&format!("SELECT coalesce(max(id), 0) FROM {table}"), [], |r| r.get::<_, i64>(0));
    Ok(Committed {
        span_id: conn.query_row(&format!("SELECT coalesce({}, 0)", packed::NEWEST_SPAN_ID), [], |r| r.get(0))?,
        log_id: max("logs")?,
        point_id: max("metric_points")?,
    })
}

/// The database file inside a data directory.
pub fn db_file(data_dir: &Path) -> PathBuf {
    data_dir.join("otelbox.db")
}
