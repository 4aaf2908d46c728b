//! The `file` exporter: appends each batch to a file as one OTLP/JSON `Export*ServiceRequest` per
//! line (the Collector's file exporter format, which `otelbox import` reads back), or with
//! `format: proto` as length-prefixed protobuf messages. Optional size rotation renames the full file
//! to `name-2006-01-02T15-04-05.000.ext` (the Collector's lumberjack naming) and prunes old backups.
//!
//! One writer thread owns the file: batches reach it through a bounded queue (a full queue is a
//! retryable refusal), are encoded and written there, and their acks commit once the bytes have
//! been handed to the OS. A failed write is cut off again, so the file never holds half a line, and
//! the batch is refused retryably. Every `flush_interval` the file is also synced to disk.

use crate::config::{ComponentId, Parser};
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
    /// One OTLP/JSON export request per line.
    #[default]
    Json,
    /// Each protobuf-encoded export request preceded by its length (4 bytes, big-endian).
    Proto,
}

/// When the file is rotated and which backups are kept (lumberjack's rules, as in the Collector).
#[derive(Clone, Debug, PartialEq)]
pub struct Rotation {
    /// The file is rotated before a write would take it past this size (`max_megabytes`, 100 MiB).
    pub max_bytes: u64,
    /// Backups older than this many days are removed (0: any age is kept).
    pub max_days: u64,
    /// At most this many backups are kept, the newest (0: all).
    pub max_backups: u64,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_bytes: DEFAULT_MAX_MEGABYTES * MIB,
            max_days: 0,
            max_backups: 100,
        }
    }
}

const MIB: u64 = 1024 * 1024;
const DEFAULT_MAX_MEGABYTES: u64 = 100;

#[derive(Clone, Debug, PartialEq)]
pub struct FileExporterConfig {
    pub path: PathBuf,
    pub format: FileFormat,
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
            append: false,
            rotation: None,
            flush_interval: Duration::from_secs(1),
            create_directory: false,
        }
    }
}

/// Collector settings otelbox does not implement: named in the error rather than "unknown key".
const COLLECTOR_ONLY: [(&str, &str); 4] = [
    (
        "compression",
        "otelbox writes files uncompressed; compress rotated backups afterwards",
    ),
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
        &["path", "format", "append", "rotation", "flush_interval", "create_directory"],
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
        let at = format!("{path}.localtime");
        if p.boolean(v, &at) == Some(true) {
            p.error(&at, "otelbox names backups by UTC time only; remove localtime or set it to false");
        }
    }
    Some(rotation)
}

/// Batches the writer thread holds at most; beyond that, senders are told to retry.
const QUEUE_BATCHES: usize = 16;

pub struct FileExporter {
    format: FileFormat,
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
    /// `data_dir` is where a persistent sending queue lives (None: an in-memory box); the file
    /// exporter writes its `path` (relative to the working directory, as in the Collector).
    pub fn new(id: &ComponentId, config: &FileExporterConfig, _data_dir: Option<&Path>, counters: PerSignal) -> anyhow::Result<Self> {
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

fn encode<T: PipelineData>(data: &T, format: FileFormat) -> Result<Vec<u8>, String> {
    match format {
        FileFormat::Json => {
            let mut line = serde_json::to_vec(&data.to_otlp_json()).map_err(|e| format!("cannot encode OTLP/JSON: {e}"))?;
            line.push(b'\n');
            Ok(line)
        }
        FileFormat::Proto => {
            let message = data.encode_to_vec();
            let length = u32::try_from(message.len()).map_err(|_| "a batch is larger than 4 GiB".to_string())?;
            let mut framed = Vec::with_capacity(4 + message.len());
            framed.extend_from_slice(&length.to_be_bytes());
            framed.extend_from_slice(&message);
            Ok(framed)
        }
    }
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
        let job = Job::Write {
            encode: Box::new(move || encode(&data, format)),
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

    /// `dir/name-2006-01-02T15-04-05.000.ext`, one millisecond later while that name is taken.
    fn free_backup_name(&self) -> PathBuf {
        let (dir, prefix, extension) = split_name(&self.path);
        let mut nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        loop {
            let candidate = dir.join(format!("{prefix}-{}{extension}", backup_timestamp(nanos)));
            if !candidate.exists() {
                return candidate;
            }
            nanos += 1_000_000;
        }
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
        let cutoff = (rotation.max_days > 0).then(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            backup_timestamp(now.saturating_sub(rotation.max_days.saturating_mul(86_400_000_000_000)))
        });
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

/// `2006-01-02T15-04-05.000` in UTC.
fn backup_timestamp(unix_nanos: u64) -> String {
    let t = super::UtcTime::from_unix_nanos(unix_nanos);
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
        let line_length = encode(&traces("x"), FileFormat::Json).unwrap().len() as u64;
        let config = FileExporterConfig {
            path: path.clone(),
            // Two lines fit, the third rotates.
            rotation: Some(Rotation {
                max_bytes: 2 * line_length,
                max_days: 0,
                max_backups: 2,
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
                    .as_nanos() as u64
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
                max_backups: 3
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
            "  file:\n    format: csv\n    compression: zstd\n    append: true\n    rotation:\n      localtime: true\n      max_days: soon\n    flush_every: 1s\n    flush_interval: 1",
        ))
        .unwrap_err();
        assert_eq!(
            errors.0,
            [
                "exporters.file.compression: is not supported by otelbox's file exporter; otelbox writes files uncompressed; compress rotated backups afterwards",
                "exporters.file.flush_every: unknown key (expected one of: path, format, append, rotation, flush_interval, create_directory)",
                "exporters.file: path is required (the file to write)",
                "exporters.file.format: expected json or proto, got 'csv'",
                "exporters.file.flush_interval: expected a duration like 200ms or 5s, got a number",
                "exporters.file.rotation.max_days: expected a non-negative integer, got a string",
                "exporters.file.rotation.localtime: otelbox names backups by UTC time only; remove localtime or set it to false",
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
    }
}
