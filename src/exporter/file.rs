//! The `file` exporter: appends each batch to a file as one OTLP/JSON `Export*ServiceRequest` per
//! line (the Collector's file exporter format, which `otelbox import` reads back), or with
//! `format: proto` as length-prefixed protobuf messages (4 bytes, big-endian, then the message).
//!
//! `compression: zstd` compresses each batch on its own, as the Collector's file exporter does
//! (its default, message-level compression): the encoded batch (OTLP/JSON without a newline, or
//! protobuf) becomes one complete zstd frame, and every frame is length-prefixed whatever the
//! format, since compressed JSON cannot be split at newlines. A reader takes a 4-byte big-endian
//! length, that many bytes, decompresses them as one zstd frame and decodes the JSON or protobuf
//! ([`read_records`]; `otelbox import` reads such files of JSON records). The file as a whole is
//! not a `.zst` stream (the Collector's `exporter.file.nativeCompression` gate, alpha, is not
//! followed). As in the Collector, `compression` cannot be combined with `append`.
//!
//! Optional size rotation renames the full file to `name-2006-01-02T15-04-05.000.ext` (the
//! Collector's lumberjack naming; UTC, or the host's local time with `rotation.localtime: true`)
//! and prunes old backups. Every record is written whole into one file, so each backup of a
//! compressed file is readable on its own.
//!
//! One writer thread owns the file: batches reach it through a bounded queue (a full queue is a
//! retryable refusal), are encoded and written there, and their acks commit once the bytes have
//! been handed to the OS. A failed write is cut off again, so the file never holds half a record,
//! and the batch is refused retryably. Every `flush_interval` the file is also synced to disk.

use crate::config::{ComponentId, Parser};
use crate::extension::StorageDir;
use crate::pipeline::ack::AckToken;
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError};
use crate::telemetry::{ComponentCounters, PerSignal};
use futures::future::BoxFuture;
use serde_yaml_ng::{Mapping, Value};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How each batch is encoded in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FileFormat {
    /// One OTLP/JSON export request per line (length-prefixed instead when compressed).
    #[default]
    Json,
    /// Each protobuf-encoded export request preceded by its length (4 bytes, big-endian).
    Proto,
}

/// How each encoded batch is compressed (`compression`; the Collector has zstd only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileCompression {
    /// Each batch one complete zstd frame, length-prefixed.
    Zstd,
}

/// The zstd level: the Collector's encoder runs at its default speed, which is zstd's level 3.
const ZSTD_LEVEL: i32 = 3;

/// The magic number every zstd frame begins with.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// When the file is rotated and which backups are kept (lumberjack's rules, as in the Collector).
#[derive(Clone, Debug, PartialEq)]
pub struct Rotation {
    /// The file is rotated before a write would take it past this size (`max_megabytes`, 100 MiB).
    pub max_bytes: u64,
    /// Backups older than this many days are removed (0: any age is kept).
    pub max_days: u64,
    /// At most this many backups are kept, the newest (0: all).
    pub max_backups: u64,
    /// Backup names carry the host's local time instead of UTC.
    pub localtime: bool,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_bytes: DEFAULT_MAX_MEGABYTES * MIB,
            max_days: 0,
            max_backups: 100,
            localtime: false,
        }
    }
}

const MIB: u64 = 1024 * 1024;
const DEFAULT_MAX_MEGABYTES: u64 = 100;

#[derive(Clone, Debug, PartialEq)]
pub struct FileExporterConfig {
    pub path: PathBuf,
    pub format: FileFormat,
    /// None: written as encoded.
    pub compression: Option<FileCompression>,
    /// Keep what the file holds at start-up (otherwise it is truncated, as in the Collector).
    pub append: bool,
    pub rotation: Option<Rotation>,
    /// How often written data is synced to disk. Every batch reaches the OS before it is
    /// acknowledged; this bounds what a power loss can take.
    pub flush_interval: Duration,
    /// Create the file's directory when it does not exist.
    pub create_directory: bool,
}

impl Default for FileExporterConfig {
    fn default() -> Self {
        FileExporterConfig {
            path: PathBuf::new(),
            format: FileFormat::Json,
            compression: None,
            append: false,
            rotation: None,
            flush_interval: Duration::from_secs(1),
            create_directory: false,
        }
    }
}

/// Collector settings otelbox does not implement: named in the error rather than "unknown key".
const COLLECTOR_ONLY: [(&str, &str); 3] = [
    ("group_by", "write one file per exporter instead"),
    ("encoding", "use format: json or format: proto"),
    ("directory_permissions", "create the directory beforehand, or use create_directory"),
];

crate::exporter_factory!(Factory, "file", parse, FileExporter::new);

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> FileExporterConfig {
    let mut config = FileExporterConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let mut supported = Mapping::new();
    for (key, value) in body {
        match COLLECTOR_ONLY.iter().find(|(name, _)| key.as_str() == Some(name)) {
            Some((name, instead)) => p.error(
                &format!("{path}.{name}"),
                format!("is not supported by otelbox's file exporter; {instead}"),
            ),
            None => {
                supported.insert(key.clone(), value.clone());
            }
        }
    }
    p.only_keys(
        &supported,
        &[
            "path",
            "format",
            "compression",
            "append",
            "rotation",
            "flush_interval",
            "create_directory",
        ],
        path,
    );
    match body.get("path") {
        None => p.error(path, "path is required (the file to write)"),
        Some(v) => {
            let at = format!("{path}.path");
            match p.string(v, &at) {
                Some(text) if text.trim().is_empty() => p.error(&at, "must not be empty"),
                Some(text) => config.path = PathBuf::from(text),
                None => {}
            }
        }
    }
    if let Some(v) = body.get("format") {
        let at = format!("{path}.format");
        match p.string(v, &at).as_deref() {
            Some("json") => config.format = FileFormat::Json,
            Some("proto") => config.format = FileFormat::Proto,
            Some(other) => p.error(&at, format!("expected json or proto, got '{other}'")),
            None => {}
        }
    }
    if let Some(v) = body.get("compression") {
        let at = format!("{path}.compression");
        // As in the Collector, an empty value means no compression.
        if !v.is_null() {
            match p.string(v, &at).as_deref() {
                Some("") => {}
                Some("zstd") => config.compression = Some(FileCompression::Zstd),
                Some(other) => p.error(
                    &at,
                    format!("expected zstd (the only compression of the Collector's file exporter), got '{other}'"),
                ),
                None => {}
            }
        }
    }
    if let Some(v) = body.get("append") {
        config.append = p.boolean(v, &format!("{path}.append")).unwrap_or(false);
    }
    if let Some(v) = body.get("create_directory") {
        config.create_directory = p.boolean(v, &format!("{path}.create_directory")).unwrap_or(false);
    }
    if let Some(v) = body.get("flush_interval") {
        // As in the Collector, 0 means the default.
        match p.duration(v, &format!("{path}.flush_interval")) {
            Some(d) if !d.is_zero() => config.flush_interval = d,
            _ => {}
        }
    }
    // A `rotation:` key, even empty, turns rotation on with the defaults.
    if let Some(v) = body.get("rotation") {
        config.rotation = rotation(p, v, &format!("{path}.rotation"));
        if config.append {
            p.error(
                &format!("{path}.append"),
                "cannot be combined with rotation (a rotated file is always appended to)",
            );
        }
    }
    if config.append && config.compression.is_some() {
        p.error(
            &format!("{path}.append"),
            "cannot be combined with compression (the Collector refuses both at once)",
        );
    }
    config
}

fn rotation(p: &mut Parser, value: &Value, path: &str) -> Option<Rotation> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(body, &["max_megabytes", "max_days", "max_backups", "localtime"], path);
    let mut rotation = Rotation::default();
    if let Some(v) = body.get("max_megabytes") {
        let at = format!("{path}.max_megabytes");
        match p.unsigned(v, &at) {
            // lumberjack: 0 is the default size.
            Some(0) => {}
            Some(mib) if mib > 1 << 30 => p.error(&at, "is too large"),
            Some(mib) => rotation.max_bytes = mib * MIB,
            None => {}
        }
    }
    if let Some(v) = body.get("max_days") {
        rotation.max_days = p.unsigned(v, &format!("{path}.max_days")).unwrap_or(0);
    }
    if let Some(v) = body.get("max_backups") {
        rotation.max_backups = p.unsigned(v, &format!("{path}.max_backups")).unwrap_or(rotation.max_backups);
    }
    if let Some(v) = body.get("localtime") {
        rotation.localtime = p.boolean(v, &format!("{path}.localtime")).unwrap_or(false);
    }
    Some(rotation)
}

/// Batches the writer thread holds at most; beyond that, senders are told to retry.
const QUEUE_BATCHES: usize = 16;

pub struct FileExporter {
    format: FileFormat,
    compression: Option<FileCompression>,
    path: PathBuf,
    /// Taken at shutdown: the writer thread ends when the queue closes.
    queue: Mutex<Option<SyncSender<Job>>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    counters: PerSignal,
}

enum Job {
    Write {
        encode: Box<dyn FnOnce() -> Result<Vec<u8>, String> + Send>,
        items: usize,
        acks: Vec<AckToken>,
        counters: Arc<ComponentCounters>,
    },
    /// Sync to disk, then answer.
    Sync(tokio::sync::oneshot::Sender<()>),
}

impl FileExporter {
    /// `queue_dir` is where a persistent sending queue lives (None: an in-memory box); the file
    /// exporter writes its `path` (relative to the working directory, as in the Collector).
    pub fn new(
        id: &ComponentId,
        config: &FileExporterConfig,
        _queue_dir: Option<StorageDir<'_>>,
        counters: PerSignal,
    ) -> anyhow::Result<Self> {
        let path = config.path.clone();
        if config.create_directory {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| anyhow::anyhow!("exporter {id}: cannot create the directory {}: {e}", dir.display()))?;
            }
        }
        let keep = config.append || config.rotation.is_some();
        let file = open(&path, keep).map_err(|e| anyhow::anyhow!("exporter {id}: cannot open {} for writing: {e}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let writer = Writer {
            id: id.to_string(),
            path: path.clone(),
            file,
            size,
            rotation: config.rotation.clone(),
            unsynced: false,
            local_offset: crate::calendar::local_offset_seconds,
        };
        writer.prune_backups();
        let (queue, jobs) = sync_channel(QUEUE_BATCHES);
        let flush_interval = config.flush_interval;
        let worker = std::thread::Builder::new()
            .name(format!("otelbox-{id}"))
            .spawn(move || writer.run(jobs, flush_interval))
            .map_err(|e| anyhow::anyhow!("exporter {id}: cannot start its writer thread: {e}"))?;
        Ok(FileExporter {
            format: config.format,
            compression: config.compression,
            path,
            queue: Mutex::new(Some(queue)),
            worker: Mutex::new(Some(worker)),
            counters,
        })
    }
}

fn open(path: &Path, keep: bool) -> std::io::Result<File> {
    let mut file = OpenOptions::new().write(true).create(true).truncate(!keep).open(path)?;
    file.seek(SeekFrom::End(0))?;
    Ok(file)
}

/// One batch as written to the file, as the Collector's file exporter writes it: the OTLP/JSON
/// line, or (with `format: proto` or any compression) the encoded and possibly compressed batch
/// after its 4-byte big-endian length.
fn encode<T: PipelineData>(data: &T, format: FileFormat, compression: Option<FileCompression>) -> Result<Vec<u8>, String> {
    let encoded = match format {
        FileFormat::Json => serde_json::to_vec(&data.to_otlp_json()).map_err(|e| format!("cannot encode OTLP/JSON: {e}"))?,
        FileFormat::Proto => data.encode_to_vec(),
    };
    let payload = match compression {
        None if format == FileFormat::Json => {
            let mut line = encoded;
            line.push(b'\n');
            return Ok(line);
        }
        None => encoded,
        // One complete frame per batch, as the Collector's `EncodeAll`.
        Some(FileCompression::Zstd) => {
            zstd::bulk::compress(&encoded, ZSTD_LEVEL).map_err(|e| format!("cannot compress a batch with zstd: {e}"))?
        }
    };
    let length = u32::try_from(payload.len()).map_err(|_| "a batch is larger than 4 GiB".to_string())?;
    let mut framed = Vec::with_capacity(4 + payload.len());
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(&payload);
    Ok(framed)
}

/// Splits what the exporter wrote with `format: proto` or with `compression` into its batches,
/// each decompressed with `compression`: what the Collector's readers do (a 4-byte big-endian
/// length, that many bytes, then a one-shot zstd decode). The batches are OTLP/JSON (without a
/// newline) or protobuf, as the file's `format` was. A record cut off at the end is an error.
pub fn read_records(bytes: &[u8], compression: Option<FileCompression>) -> Result<Vec<Vec<u8>>, String> {
    let mut records = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = records.len() + 1;
        let Some(prefix) = rest.get(..4) else {
            return Err(format!(
                "record {n} is cut off: {} byte(s) where its 4-byte length belongs",
                rest.len()
            ));
        };
        let length = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let Some(payload) = length.checked_add(4).and_then(|end| rest.get(4..end)) else {
            return Err(format!(
                "record {n} is cut off: its length says {length} byte(s), {} remain",
                rest.len() - 4
            ));
        };
        let record = match compression {
            None => payload.to_vec(),
            Some(FileCompression::Zstd) => zstd::decode_all(payload).map_err(|e| format!("record {n} is not zstd-compressed data: {e}"))?,
        };
        records.push(record);
        rest = &rest[4 + length..];
    }
    Ok(records)
}

fn fail(acks: Vec<AckToken>, error: &PipelineError) {
    for ack in acks {
        ack.fail(error.clone());
    }
}

impl<T: PipelineData> Consumer<T> for FileExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let Envelope { data, acks } = envelope;
        let counters = self.counters.get(T::SIGNAL).clone();
        let items = data.item_count();
        let format = self.format;
        let compression = self.compression;
        let job = Job::Write {
            encode: Box::new(move || encode(&data, format, compression)),
            items,
            acks,
            counters: counters.clone(),
        };
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let refused = match queue {
            None => Some((
                job,
                format!("the file exporter for {} has shut down; retry later", self.path.display()),
            )),
            Some(queue) => match queue.try_send(job) {
                Ok(()) => {
                    counters.queued.fetch_add(items as u64, Ordering::Relaxed);
                    None
                }
                Err(TrySendError::Full(job)) => Some((
                    job,
                    format!(
                        "otelbox is busy: the file exporter's queue for {} is full; retry later",
                        self.path.display()
                    ),
                )),
                Err(TrySendError::Disconnected(job)) => Some((
                    job,
                    format!("the file exporter for {} has stopped; retry later", self.path.display()),
                )),
            },
        };
        let result = match refused {
            None => Ok(()),
            Some((job, message)) => {
                let error = PipelineError::retryable(message);
                if let Job::Write { acks, .. } = job {
                    fail(acks, &error);
                }
                Err(error)
            }
        };
        Box::pin(async move { result })
    }

    /// Syncs the file to disk and stops the writer thread (called once, through the traces side).
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
            let worker = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(queue) = queue {
                let (done, synced) = tokio::sync::oneshot::channel();
                // `send` waits while the queue is full: off the async workers.
                let _ = tokio::task::spawn_blocking(move || queue.send(Job::Sync(done))).await;
                let _ = synced.await;
            }
            if let Some(worker) = worker {
                let _ = tokio::task::spawn_blocking(move || worker.join()).await;
            }
        })
    }
}

/// The writer thread's state: the open file and its size.
struct Writer {
    id: String,
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Option<Rotation>,
    /// Written since the last sync to disk.
    unsynced: bool,
    /// The host's offset from UTC in seconds at a Unix time (`calendar::local_offset_seconds`; a
    /// fixed one in tests), for backup names with `rotation.localtime`.
    local_offset: fn(i64) -> i64,
}

impl Writer {
    fn run(mut self, jobs: std::sync::mpsc::Receiver<Job>, flush_interval: Duration) {
        let mut last_sync = Instant::now();
        loop {
            let wait = flush_interval.saturating_sub(last_sync.elapsed());
            match jobs.recv_timeout(wait) {
                Ok(Job::Write {
                    encode,
                    items,
                    acks,
                    counters,
                }) => {
                    counters.queued.fetch_sub(items as u64, Ordering::Relaxed);
                    match encode().map_err(PipelineError::permanent).and_then(|bytes| self.write(&bytes)) {
                        Ok(()) => {
                            counters.record_sent(items);
                            for ack in acks {
                                ack.commit();
                            }
                        }
                        Err(error) => fail(acks, &error),
                    }
                }
                Ok(Job::Sync(done)) => {
                    self.sync();
                    last_sync = Instant::now();
                    let _ = done.send(());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.sync();
                    return;
                }
            }
            if last_sync.elapsed() >= flush_interval {
                self.sync();
                last_sync = Instant::now();
            }
        }
    }

    fn sync(&mut self) {
        if std::mem::take(&mut self.unsynced) {
            if let Err(e) = self.file.sync_data() {
                tracing::warn!(exporter = %self.id, path = %self.path.display(), "cannot sync the file to disk: {e}");
            }
        }
    }

    /// Writes one encoded batch whole, or not at all: a failed write is truncated away again.
    fn write(&mut self, bytes: &[u8]) -> Result<(), PipelineError> {
        if let Some(rotation) = &self.rotation {
            if self.size > 0 && self.size.saturating_add(bytes.len() as u64) > rotation.max_bytes {
                self.rotate().map_err(|e| self.refusal("rotate", e))?;
            }
        }
        let written = self.file.write_all(bytes).and_then(|()| self.file.flush());
        match written {
            Ok(()) => {
                self.size += bytes.len() as u64;
                self.unsynced = true;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.size);
                let _ = self.file.seek(SeekFrom::Start(self.size));
                Err(self.refusal("write to", e))
            }
        }
    }

    fn refusal(&self, what: &str, error: std::io::Error) -> PipelineError {
        PipelineError::retryable(format!(
            "the file exporter {} cannot {what} {}: {error}; retry later",
            self.id,
            self.path.display()
        ))
    }

    /// Renames the file to a timestamped backup, starts a new one and prunes old backups.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.sync();
        let backup = self.free_backup_name();
        std::fs::rename(&self.path, &backup)?;
        self.file = open(&self.path, false)?;
        self.size = 0;
        self.prune_backups();
        Ok(())
    }

    /// `dir/name-2006-01-02T15-04-05.000.ext` for now.
    fn free_backup_name(&self) -> PathBuf {
        self.backup_name_at(unix_nanos_now())
    }

    /// `dir/name-2006-01-02T15-04-05.000.ext` for this time, one millisecond later while that
    /// name is taken.
    fn backup_name_at(&self, mut unix_nanos: u64) -> PathBuf {
        let (dir, prefix, extension) = split_name(&self.path);
        loop {
            let candidate = dir.join(format!("{prefix}-{}{extension}", self.stamp(unix_nanos)));
            if !candidate.exists() {
                return candidate;
            }
            unix_nanos += 1_000_000;
        }
    }

    /// The backup timestamp of a time: UTC, or the host's local time with `rotation.localtime`
    /// (its offset at that time, so daylight saving time is followed).
    fn stamp(&self, unix_nanos: u64) -> String {
        let localtime = self.rotation.as_ref().is_some_and(|r| r.localtime);
        let offset = if localtime {
            (self.local_offset)((unix_nanos / 1_000_000_000) as i64)
        } else {
            0
        };
        backup_timestamp(unix_nanos, offset)
    }

    /// Removes backups beyond `max_backups` (oldest first) and older than `max_days`. Only files
    /// named exactly like this exporter's backups are considered.
    fn prune_backups(&self) {
        let Some(rotation) = &self.rotation else { return };
        let (dir, prefix, extension) = split_name(&self.path);
        let listing_dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir.as_path()
        };
        let Ok(entries) = std::fs::read_dir(listing_dir) else { return };
        let mut backups: Vec<(String, PathBuf)> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let stamp = name.strip_prefix(&format!("{prefix}-"))?.strip_suffix(&extension)?;
                is_backup_timestamp(stamp).then(|| (stamp.to_string(), entry.path()))
            })
            .collect();
        // The timestamps sort as text; newest first.
        backups.sort_by(|a, b| b.0.cmp(&a.0));
        // With `localtime` the cutoff is local time too, so both sides of the comparison read the
        // same clock (lumberjack parses local names as UTC, off by the offset).
        let cutoff = (rotation.max_days > 0)
            .then(|| self.stamp(unix_nanos_now().saturating_sub(rotation.max_days.saturating_mul(86_400_000_000_000))));
        for (i, (stamp, path)) in backups.iter().enumerate() {
            let too_many = rotation.max_backups > 0 && i as u64 >= rotation.max_backups;
            let too_old = cutoff.as_ref().is_some_and(|cutoff| stamp < cutoff);
            if too_many || too_old {
                if let Err(e) = std::fs::remove_file(path) {
                    tracing::warn!(exporter = %self.id, path = %path.display(), "cannot remove an old backup: {e}");
                }
            }
        }
    }
}

/// (directory, file name without extension, extension with its dot), as lumberjack splits them.
fn split_name(path: &Path) -> (PathBuf, String, String) {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.rfind('.') {
        Some(dot) => (dir, name[..dot].to_string(), name[dot..].to_string()),
        None => (dir, name, String::new()),
    }
}

fn unix_nanos_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `2006-01-02T15-04-05.000` at `offset_seconds` from UTC (0: UTC), as Go formats the time.
fn backup_timestamp(unix_nanos: u64, offset_seconds: i64) -> String {
    let shift = offset_seconds.unsigned_abs().saturating_mul(1_000_000_000);
    let shifted = if offset_seconds >= 0 {
        unix_nanos.saturating_add(shift)
    } else {
        unix_nanos.saturating_sub(shift)
    };
    let t = super::UtcTime::from_unix_nanos(shifted);
    format!(
        "{:04}-{:02}-{:02}T{:02}-{:02}-{:02}.{:03}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.nanos / 1_000_000
    )
}

fn is_backup_timestamp(text: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd-dd-dd.ddd";
    text.len() == SHAPE.len()
        && text
            .bytes()
            .zip(SHAPE)
            .all(|(c, shape)| if *shape == b'd' { c.is_ascii_digit() } else { c == *shape })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Kind;
    use crate::pdata::json;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn service(name: &str) -> Option<Resource> {
        Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(name.into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    fn traces(name: &str) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: service("checkout"),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: (1..=16).collect(),
                        span_id: (1..=8).collect(),
                        name: name.into(),
                        kind: 2,
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_000_250_000_000,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn logs() -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: service("checkout"),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000,
                        severity_number: 9,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("paid".into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn id(text: &str) -> ComponentId {
        ComponentId {
            kind: "file".into(),
            name: text.split_once('/').map(|(_, n)| n.to_string()),
        }
    }

    fn config_of(yaml: &str) -> FileExporterConfig {
        let config = crate::components::parse_config(yaml).unwrap_or_else(|e| panic!("no file exporter: {e}"));
        config.settings_of::<FileExporterConfig>(Kind::Exporter, "file")[0].1.clone()
    }

    fn full_config(exporter: &str) -> String {
        format!(
            "receivers: {{otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:4318}}}}}}}}\nexporters:\n{exporter}\nservice:\n  pipelines:\n    traces: {{receivers: [otlp], exporters: [file]}}\n    logs: {{receivers: [otlp], exporters: [file]}}\n"
        )
    }

    /// Sends one batch; returns how its ack settled.
    async fn send<T: PipelineData>(exporter: &FileExporter, data: T) -> Result<(), PipelineError> {
        let (ack, committed) = AckToken::new();
        exporter.consume(Envelope::new(data, ack)).await?;
        committed.await.unwrap()
    }

    fn sent(counters: &PerSignal) -> (u64, u64) {
        (
            counters.traces.sent.load(Ordering::Relaxed),
            counters.logs.sent.load(Ordering::Relaxed),
        )
    }

    #[tokio::test]
    async fn the_example_writes_otlp_json_lines_that_import_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("telemetry.jsonl");
        let config = config_of(&full_config(&format!(
            "  file:\n    path: {}\n    format: json\n    flush_interval: 5s",
            path.display()
        )));
        assert_eq!(
            config,
            FileExporterConfig {
                path: path.clone(),
                flush_interval: Duration::from_secs(5),
                ..Default::default()
            }
        );
        let counters = PerSignal::detached("exporter/file");
        let exporter = FileExporter::new(&id("file"), &config, None, counters.clone()).unwrap();
        send(&exporter, traces("GET /cart")).await.unwrap();
        send(&exporter, logs()).await.unwrap();
        // Acknowledged means handed to the OS: readable now, without waiting for the flush interval.
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeSpans":[{"spans":[{"endTimeUnixNano":"1700000000250000000","kind":2,"name":"GET /cart","spanId":"0102030405060708","startTimeUnixNano":"1700000000000000000","traceId":"0102030405060708090a0b0c0d0e0f10"}]}]}]}"#,
                r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"paid"},"severityNumber":9,"timeUnixNano":"1700000000000000000"}]}]}]}"#,
            ]
        );
        // The lines are what `otelbox import` sends: they decode back to the exact input.
        assert_eq!(json::decode_traces(lines[0].as_bytes()).unwrap(), traces("GET /cart"));
        assert_eq!(json::decode_logs(lines[1].as_bytes()).unwrap(), logs());
        assert_eq!(sent(&counters), (1, 1));
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
        let err = send(&exporter, traces("late")).await.unwrap_err();
        assert!(err.is_retryable() && err.to_string().contains("shut down"), "{err}");
    }

    #[tokio::test]
    async fn the_file_is_truncated_at_start_unless_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, "old line\n").unwrap();
        let config = FileExporterConfig {
            path: path.clone(),
            append: true,
            ..Default::default()
        };
        let exporter = FileExporter::new(&id("file"), &config, None, PerSignal::detached("f")).unwrap();
        send(&exporter, traces("a")).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("old line\n{\"resourceSpans\""), "{text}");
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;

        let config = FileExporterConfig { append: false, ..config };
        let exporter = FileExporter::new(&id("file"), &config, None, PerSignal::detached("f")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        send(&exporter, traces("b")).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[tokio::test]
    async fn proto_writes_length_prefixed_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let config = config_of(&full_config(&format!("  file:\n    path: {}\n    format: proto", path.display())));
        assert_eq!(config.format, FileFormat::Proto);
        let exporter = FileExporter::new(&id("file"), &config, None, PerSignal::detached("f")).unwrap();
        send(&exporter, traces("a")).await.unwrap();
        send(&exporter, traces("b")).await.unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut rest = &bytes[..];
        let mut names = Vec::new();
        while !rest.is_empty() {
            let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let request = <ExportTraceServiceRequest as prost::Message>::decode(&rest[4..4 + length]).unwrap();
            names.push(request.resource_spans[0].scope_spans[0].spans[0].name.clone());
            rest = &rest[4 + length..];
        }
        assert_eq!(names, ["a", "b"]);
    }

    #[tokio::test]
    async fn rotation_renames_full_files_and_keeps_max_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        let line_length = encode(&traces("x"), FileFormat::Json, None).unwrap().len() as u64;
        let config = FileExporterConfig {
            path: path.clone(),
            // Two lines fit, the third rotates.
            rotation: Some(Rotation {
                max_bytes: 2 * line_length,
                max_days: 0,
                max_backups: 2,
                localtime: false,
            }),
            ..Default::default()
        };
        let exporter = FileExporter::new(&id("file"), &config, None, PerSignal::detached("f")).unwrap();
        for name in ["1", "2", "3", "4", "5", "6", "7"] {
            send(&exporter, traces(name)).await.unwrap();
        }
        let names_in = |file: &Path| -> Vec<String> {
            std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .map(|l| {
                    json::decode_traces(l.as_bytes()).unwrap().resource_spans[0].scope_spans[0].spans[0]
                        .name
                        .clone()
                })
                .collect()
        };
        assert_eq!(names_in(&path), ["7"]);
        let mut backups: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p != &path)
            .collect();
        backups.sort();
        assert_eq!(backups.len(), 2, "{backups:?}");
        for backup in &backups {
            let name = backup.file_name().unwrap().to_str().unwrap();
            let stamp = name.strip_prefix("spans-").and_then(|n| n.strip_suffix(".jsonl")).unwrap();
            assert!(is_backup_timestamp(stamp), "{name}");
        }
        assert_eq!(names_in(&backups[0]), ["3", "4"]);
        assert_eq!(names_in(&backups[1]), ["5", "6"]);
    }

    #[tokio::test]
    async fn rotation_removes_backups_older_than_max_days_and_appends_to_the_current_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        let old = dir.path().join("spans-2001-01-01T00-00-00.000.jsonl");
        let recent = dir.path().join(format!(
            "spans-{}.jsonl",
            backup_timestamp(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64,
                0
            )
        ));
        let unrelated = dir.path().join("spans-notes.jsonl");
        for file in [&old, &recent, &unrelated, &path] {
            std::fs::write(file, "kept\n").unwrap();
        }
        let config = config_of(&full_config(&format!(
            "  file:\n    path: {}\n    rotation:\n      max_megabytes: 10\n      max_days: 3\n      max_backups: 3",
            path.display()
        )));
        assert_eq!(
            config.rotation,
            Some(Rotation {
                max_bytes: 10 * MIB,
                max_days: 3,
                max_backups: 3,
                localtime: false,
            })
        );
        let exporter = FileExporter::new(&id("file"), &config, None, PerSignal::detached("f")).unwrap();
        assert!(!old.exists(), "older than max_days");
        assert!(recent.exists() && unrelated.exists());
        send(&exporter, traces("a")).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("kept\n{"), "a rotated file is appended to: {text}");
        // An empty `rotation:` turns rotation on with the Collector's defaults.
        let config = config_of(&full_config(&format!("  file:\n    path: {}\n    rotation:", path.display())));
        assert_eq!(config.rotation, Some(Rotation::default()));
    }

    #[tokio::test]
    async fn a_failed_write_is_refused_retryably() {
        let config = FileExporterConfig {
            path: PathBuf::from("/dev/full"),
            ..Default::default()
        };
        let counters = PerSignal::detached("f");
        let exporter = FileExporter::new(&id("file"), &config, None, counters.clone()).unwrap();
        let err = send(&exporter, traces("a")).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(
            err.to_string().starts_with("the file exporter file cannot write to /dev/full: "),
            "{err}"
        );
        assert_eq!(sent(&counters), (0, 0));
    }

    #[test]
    fn a_file_that_cannot_be_opened_fails_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("out.json");
        let config = FileExporterConfig {
            path: path.clone(),
            ..Default::default()
        };
        let err = FileExporter::new(&id("file/x"), &config, None, PerSignal::detached("f"))
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with(&format!("exporter file/x: cannot open {} for writing:", path.display())),
            "{err}"
        );
        let config = FileExporterConfig {
            create_directory: true,
            ..config
        };
        FileExporter::new(&id("file/x"), &config, None, PerSignal::detached("f")).unwrap();
        assert!(path.exists());
    }

    #[tokio::test]
    async fn a_full_queue_is_a_retryable_refusal() {
        // A writer thread that never takes a job: the queue fills up.
        let (queue, _jobs) = sync_channel(1);
        let exporter = FileExporter {
            format: FileFormat::Json,
            compression: None,
            path: PathBuf::from("out.json"),
            queue: Mutex::new(Some(queue)),
            worker: Mutex::new(None),
            counters: PerSignal::detached("f"),
        };
        let (ack, _first) = AckToken::new();
        exporter.consume(Envelope::new(traces("a"), ack)).await.unwrap();
        let (ack, second) = AckToken::new();
        let err = exporter.consume(Envelope::new(traces("b"), ack)).await.unwrap_err();
        assert!(
            err.is_retryable() && err.to_string().contains("queue for out.json is full"),
            "{err}"
        );
        assert_eq!(second.await.unwrap(), Err(err));
    }

    #[test]
    fn config_errors_name_their_paths() {
        let errors = crate::components::parse_config(&full_config(
            "  file:\n    format: csv\n    compression: gzip\n    append: true\n    rotation:\n      localtime: 1\n      max_days: soon\n    flush_every: 1s\n    flush_interval: 1",
        ))
        .unwrap_err();
        assert_eq!(
            errors.0,
            [
                "exporters.file.flush_every: unknown key (expected one of: path, format, compression, append, rotation, flush_interval, create_directory)",
                "exporters.file: path is required (the file to write)",
                "exporters.file.format: expected json or proto, got 'csv'",
                "exporters.file.compression: expected zstd (the only compression of the Collector's file exporter), got 'gzip'",
                "exporters.file.flush_interval: expected a duration like 200ms or 5s, got a number",
                "exporters.file.rotation.max_days: expected a non-negative integer, got a string",
                "exporters.file.rotation.localtime: expected true or false, got a number",
                "exporters.file.append: cannot be combined with rotation (a rotated file is always appended to)",
            ]
        );
        let errors = crate::components::parse_config(&full_config("  file:\n    path: ''\n    group_by: {enabled: true}")).unwrap_err();
        assert_eq!(
            errors.0,
            [
                "exporters.file.group_by: is not supported by otelbox's file exporter; write one file per exporter instead",
                "exporters.file.path: must not be empty",
            ]
        );
        // As in the Collector's Validate: a compressed file is never appended to.
        let errors = crate::components::parse_config(&full_config("  file:\n    path: out.bin\n    compression: zstd\n    append: true"))
            .unwrap_err();
        assert_eq!(
            errors.0,
            ["exporters.file.append: cannot be combined with compression (the Collector refuses both at once)"]
        );
    }

    #[test]
    fn compression_and_localtime_parse_as_in_the_collector_readme() {
        // The contrib README's `file/3` example.
        let config = config_of(&full_config(
            "  file:\n    path: ./filename\n    rotation:\n      max_megabytes: 10\n      max_days: 3\n      max_backups: 3\n      localtime: true\n    format: proto\n    compression: zstd",
        ));
        assert_eq!(
            config,
            FileExporterConfig {
                path: PathBuf::from("./filename"),
                format: FileFormat::Proto,
                compression: Some(FileCompression::Zstd),
                rotation: Some(Rotation {
                    max_bytes: 10 * MIB,
                    max_days: 3,
                    max_backups: 3,
                    localtime: true,
                }),
                ..Default::default()
            }
        );
        // An empty compression is none, as in the Collector; localtime: false is UTC.
        let config = config_of(&full_config(
            "  file:\n    path: out.json\n    compression: ''\n    rotation: {localtime: false}",
        ));
        assert_eq!(config.compression, None);
        assert_eq!(config.rotation, Some(Rotation::default()));
        let config = config_of(&full_config("  file:\n    path: out.json\n    compression:"));
        assert_eq!(config.compression, None);
    }

    #[test]
    fn the_testdata_examples_parse() {
        let value: Value = serde_yaml_ng::from_str(include_str!("testdata/file.yaml")).unwrap();
        let mut errors = Vec::new();
        let plain = parse(&mut Parser::collecting(&mut errors), value.get("file").unwrap(), "exporters.file");
        let compressed = parse(
            &mut Parser::collecting(&mut errors),
            value.get("file/compressed").unwrap(),
            "exporters.file/compressed",
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!((plain.format, plain.compression), (FileFormat::Json, None));
        assert_eq!(compressed.compression, Some(FileCompression::Zstd));
        assert!(compressed.rotation.is_some_and(|r| r.localtime));
    }

    /// The Collector's reader: a 4-byte big-endian length, that many bytes, one zstd frame.
    fn frames(bytes: &[u8]) -> Vec<&[u8]> {
        let mut frames = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            frames.push(&rest[4..4 + length]);
            rest = &rest[4 + length..];
        }
        frames
    }

    #[tokio::test]
    async fn zstd_json_writes_each_batch_as_a_length_prefixed_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("telemetry.bin");
        let config = config_of(&full_config(&format!(
            "  file:\n    path: {}\n    compression: zstd",
            path.display()
        )));
        assert_eq!((config.format, config.compression), (FileFormat::Json, Some(FileCompression::Zstd)));
        let counters = PerSignal::detached("exporter/file");
        let exporter = FileExporter::new(&id("file"), &config, None, counters.clone()).unwrap();
        send(&exporter, traces("GET /cart")).await.unwrap();
        send(&exporter, logs()).await.unwrap();
        send(&exporter, traces("POST /pay")).await.unwrap();
        assert_eq!(sent(&counters), (2, 1));
        let bytes = std::fs::read(&path).unwrap();
        let frames = frames(&bytes);
        assert_eq!(frames.len(), 3, "one record per batch");
        for frame in &frames {
            assert_eq!(frame[..4], ZSTD_MAGIC, "each record is one complete zstd frame");
        }
        // Each frame decodes on its own to the batch's OTLP/JSON, without a newline (the
        // Collector's marshaller output), and that decodes back to the exact input.
        let decoded: Vec<Vec<u8>> = frames.iter().map(|f| zstd::decode_all(*f).unwrap()).collect();
        assert_eq!(
            decoded[0],
            serde_json::to_vec(&traces("GET /cart").to_otlp_json()).unwrap(),
            "{}",
            String::from_utf8_lossy(&decoded[0])
        );
        assert_eq!(json::decode_traces(&decoded[0]).unwrap(), traces("GET /cart"));
        assert_eq!(json::decode_logs(&decoded[1]).unwrap(), logs());
        assert_eq!(json::decode_traces(&decoded[2]).unwrap(), traces("POST /pay"));
        // read_records is the same reader.
        assert_eq!(read_records(&bytes, Some(FileCompression::Zstd)).unwrap(), decoded);
    }

    #[tokio::test]
    async fn zstd_proto_records_decode_back_batch_by_batch_across_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.pb");
        let record = encode(&traces("1"), FileFormat::Proto, Some(FileCompression::Zstd)).unwrap().len() as u64;
        let config = FileExporterConfig {
            path: path.clone(),
            format: FileFormat::Proto,
            compression: Some(FileCompression::Zstd),
            // Two records fit, a third rotates (with room for a byte more or less per record).
            rotation: Some(Rotation {
                max_bytes: 2 * record + record / 2,
                max_backups: 10,
                ..Default::default()
            }),
            ..Default::default()
        };
        let exporter = FileExporter::new(&id("file"), &config, None, PerSignal::detached("f")).unwrap();
        let names = ["1", "2", "3", "4", "5"];
        for name in names {
            send(&exporter, traces(name)).await.unwrap();
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p != &path)
            .collect();
        files.sort();
        assert_eq!(files.len(), 2, "{files:?}");
        files.push(path.clone());
        let mut seen = Vec::new();
        for file in &files {
            // Every file, backups included, holds whole records.
            let bytes = std::fs::read(file).unwrap();
            let records = read_records(&bytes, Some(FileCompression::Zstd)).unwrap();
            assert_eq!(records.len(), if file == &path { 1 } else { 2 }, "{}", file.display());
            for (raw, frame) in records.iter().zip(frames(&bytes)) {
                assert_eq!(frame[..4], ZSTD_MAGIC);
                let request = <ExportTraceServiceRequest as prost::Message>::decode(raw.as_slice()).unwrap();
                seen.push(request);
            }
        }
        assert_eq!(seen, names.map(traces));
    }

    #[test]
    fn read_records_names_a_cut_off_or_corrupt_record() {
        let mut bytes = encode(&logs(), FileFormat::Json, Some(FileCompression::Zstd)).unwrap();
        let whole = bytes.len();
        bytes.extend_from_slice(&[0, 0]);
        assert_eq!(
            read_records(&bytes, Some(FileCompression::Zstd)).unwrap_err(),
            "record 2 is cut off: 2 byte(s) where its 4-byte length belongs"
        );
        bytes.truncate(whole - 1);
        assert_eq!(
            read_records(&bytes, Some(FileCompression::Zstd)).unwrap_err(),
            format!("record 1 is cut off: its length says {} byte(s), {} remain", whole - 4, whole - 5)
        );
        let framed_proto = encode(&logs(), FileFormat::Proto, None).unwrap();
        let err = read_records(&framed_proto, Some(FileCompression::Zstd)).unwrap_err();
        assert!(err.starts_with("record 1 is not zstd-compressed data: "), "{err}");
        // Uncompressed, the same reader splits `format: proto` files.
        let records = read_records(&framed_proto, None).unwrap();
        assert_eq!(records, [prost::Message::encode_to_vec(&logs())]);
    }

    #[test]
    fn backup_names_use_utc_or_the_local_offset() {
        // 2023-11-14T22:13:20.123Z
        let at = 1_700_000_000_123_000_000;
        assert_eq!(backup_timestamp(at, 0), "2023-11-14T22-13-20.123");
        assert_eq!(backup_timestamp(at, 2 * 3600 + 30 * 60), "2023-11-15T00-43-20.123");
        assert_eq!(backup_timestamp(at, -5 * 3600), "2023-11-14T17-13-20.123");
        assert!(is_backup_timestamp(&backup_timestamp(at, 14 * 3600)));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        let writer = |localtime: bool| Writer {
            id: "file".into(),
            path: path.clone(),
            file: open(&path, true).unwrap(),
            size: 0,
            rotation: Some(Rotation {
                localtime,
                ..Default::default()
            }),
            unsynced: false,
            // The offset of the time asked about: +02:00 at this instant, else 0.
            local_offset: |unix_seconds| if unix_seconds == 1_700_000_000 { 7200 } else { 0 },
        };
        let name = |p: PathBuf| p.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(name(writer(false).backup_name_at(at)), "spans-2023-11-14T22-13-20.123.jsonl");
        let local = writer(true);
        assert_eq!(name(local.backup_name_at(at)), "spans-2023-11-15T00-13-20.123.jsonl");
        // A taken name moves on by a millisecond, in local time too.
        std::fs::write(dir.path().join("spans-2023-11-15T00-13-20.123.jsonl"), "").unwrap();
        assert_eq!(name(local.backup_name_at(at)), "spans-2023-11-15T00-13-20.124.jsonl");
        // Without rotation settings asking for it, the offset is never consulted.
        let utc = Writer {
            rotation: None,
            ..writer(true)
        };
        assert_eq!(utc.stamp(at), "2023-11-14T22-13-20.123");
    }

    #[test]
    fn the_host_offset_comes_from_localtime_r() {
        // Whatever TZ the tests run in: a real offset, within UTC-12..UTC+14.
        for t in [0, 1_700_000_000, 1_720_000_000] {
            let offset = crate::calendar::local_offset_seconds(t);
            assert!((-12 * 3600..=14 * 3600).contains(&offset), "{offset}");
        }
    }
}
