//! The filelog receiver: the Collector's contrib `filelogreceiver`. It polls the files its
//! `include` globs match, reads the complete lines added since the last poll, makes each line (or
//! multiline record) a log record through its operators, and sends each poll as one logs request.
//!
//! ```yaml
//! filelog:
//!   include: [/var/log/app/*.log]   # required; `*`, `?`, `[...]` within a name, `**` across directories
//!   exclude: [/var/log/app/*.gz]
//!   start_at: end                   # or beginning; files found at the first poll only
//!   poll_interval: 200ms
//!   include_file_name: true         # attribute log.file.name
//!   include_file_path: false        # attribute log.file.path
//!   encoding: utf-8
//!   multiline: { line_start_pattern: '^\d{4}-' }   # or line_end_pattern
//!   force_flush_period: 500ms       # a multiline record with nothing after it is sent after this
//!   max_log_size: 1MiB
//!   storage: file_storage           # where offsets are kept
//!   attributes: { team: a }
//!   resource: { service.name: app }
//!   operators: [{ type: json_parser, timestamp: { parse_from: attributes.time, layout_type: gotime, layout: '2006-01-02T15:04:05Z07:00' } }]
//! ```
//! The operators are the Collector's stanza operators (see `operators`): `json_parser`,
//! `regex_parser` (with the embedded `timestamp`, `severity`, `trace`, `scope_name` blocks and
//! `body`), `container` (docker, cri-o and containerd lines, partial CRI lines joined, k8s metadata
//! from `/var/log/pods/...` paths: set `include_file_path: true`), `time_parser`,
//! `severity_parser`, `trace_parser`, `scope_name_parser`, `router`, `noop`, `move`, `copy`, `add`
//! and `remove`, linked by `id` and `output`, with `if` and `on_error` (see `expr` for the
//! expressions). Kubernetes pod logs, as Grafana's otel-lgtm examples read them:
//! ```yaml
//! filelog:
//!   include: [/var/log/pods/*/*/*.log]
//!   include_file_path: true
//!   operators:
//!     - { id: container-parser, type: container }
//!     - { id: router, type: router, routes: [{ output: json_parser, expr: 'body matches "^\\{"' }] }
//!     - { id: json_parser, type: json_parser, body: attributes.message, timestamp: { parse_from: attributes.ts, layout_type: epoch, layout: ms } }
//!     - { type: move, if: 'attributes.mdc?.service != nil', from: attributes.mdc.service, to: resource["service.name"] }
//! ```
//! Each file is known by its fingerprint (its first `FINGERPRINT_BYTES` bytes, as the Collector)
//! and the offset read up to, so a file renamed by rotation is read on from where it was and a
//! new file at the old path from its start. The offsets advance only once the pipeline has
//! committed the poll's request, and are then written to `receiver_filelog_<id>.json` in the
//! `storage` extension's directory (without `storage`: `<user data dir>/otelbox/filelog`), so a
//! restart reads nothing twice and loses nothing. A refused poll is read again at the next one.

pub mod container;
pub mod expr;
pub mod operators;

use crate::config::{ComponentId, Parser, Settings};
use crate::net::Stop;
use crate::pdata::now_ns;
use crate::pipeline::SignalConsumers;
use crate::receiver::{ingest, Endpoint, Intake, Receiver, ReceiverFactory, ReceiverHost};
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use operators::{Entry, Pipeline, PipelineState};
use serde_json::{Map, Value as Json};
use serde_yaml_ng::Value;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Collector's `poll_interval` default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The Collector's `max_log_size` default.
pub const DEFAULT_MAX_LOG_SIZE: usize = 1024 * 1024;
/// The Collector's `force_flush_period` default.
pub const DEFAULT_FORCE_FLUSH_PERIOD: Duration = Duration::from_millis(500);
/// How many first bytes of a file identify it (the Collector's `fingerprint_size` default).
pub const FINGERPRINT_BYTES: usize = 1000;
/// The most one poll reads of one file; the rest is read by the next polls.
const MAX_READ_PER_POLL: usize = 4 * 1024 * 1024;
/// Files remembered that no poll has seen for this many polls are forgotten.
const FORGET_AFTER_POLLS: u64 = 1000;
/// How long a request already handed to the pipeline may take to be committed once stopping.
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StartAt {
    Beginning,
    End,
}

#[derive(Clone, Debug)]
pub enum Multiline {
    None,
    LineStart(regex::Regex),
    LineEnd(regex::Regex),
}

/// A `filelog` receiver's settings.
#[derive(Clone, Debug)]
pub struct FileLogConfig {
    pub include: Vec<Glob>,
    pub exclude: Vec<Glob>,
    pub start_at: StartAt,
    pub poll_interval: Duration,
    pub include_file_name: bool,
    pub include_file_path: bool,
    pub multiline: Multiline,
    pub force_flush_period: Duration,
    pub max_log_size: usize,
    pub storage: Option<ComponentId>,
    pub attributes: Map<String, Json>,
    pub resource: Map<String, Json>,
    pub operators: Pipeline,
}

impl Default for FileLogConfig {
    fn default() -> Self {
        FileLogConfig {
            include: Vec::new(),
            exclude: Vec::new(),
            start_at: StartAt::End,
            poll_interval: DEFAULT_POLL_INTERVAL,
            include_file_name: true,
            include_file_path: false,
            multiline: Multiline::None,
            force_flush_period: DEFAULT_FORCE_FLUSH_PERIOD,
            max_log_size: DEFAULT_MAX_LOG_SIZE,
            storage: None,
            attributes: Map::new(),
            resource: Map::new(),
            operators: Pipeline::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Globs

/// A path glob: `*` and `?` within one path element, `[...]` a class, `**` any directories.
#[derive(Clone, Debug)]
pub struct Glob {
    pub pattern: String,
    regex: regex::Regex,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let absolute = if Path::new(pattern).is_absolute() {
            pattern.to_string()
        } else {
            let cwd = std::env::current_dir().map_err(|e| format!("cannot resolve a relative glob ({e})"))?;
            format!("{}/{pattern}", cwd.display())
        };
        let mut re = String::from("^");
        let chars: Vec<char> = absolute.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    if chars.get(i + 2) == Some(&'/') {
                        re.push_str("(?:.*/)?");
                        i += 3;
                    } else {
                        re.push_str(".*");
                        i += 2;
                    }
                    continue;
                }
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                '[' => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|c| *c == ']')
                        .ok_or_else(|| format!("'{pattern}': a [ is not closed"))?;
                    let class: String = chars[i + 1..i + 1 + close].iter().collect();
                    let class = class.strip_prefix('!').map(|c| format!("^{c}")).unwrap_or(class);
                    re.push('[');
                    re.push_str(&class.replace('\\', "\\\\"));
                    re.push(']');
                    i += close + 2;
                    continue;
                }
                c => re.push_str(&regex::escape(&c.to_string())),
            }
            i += 1;
        }
        re.push('$');
        let regex = regex::Regex::new(&re).map_err(|e| format!("'{pattern}' is not a valid glob ({e})"))?;
        Ok(Glob { pattern: absolute, regex })
    }

    pub fn matches(&self, path: &Path) -> bool {
        path.to_str().is_some_and(|p| self.regex.is_match(p))
    }

    /// The directory before the first wildcard, and whether the rest may descend (`**`) or how
    /// many levels it spans.
    fn walk_root(&self) -> (PathBuf, Option<usize>) {
        let mut root = PathBuf::from("/");
        let parts: Vec<&str> = self.pattern.split('/').filter(|p| !p.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            if part.contains(['*', '?', '[']) {
                let rest = &parts[i..];
                let depth = if rest.iter().any(|p| p.contains("**")) {
                    None
                } else {
                    Some(rest.len())
                };
                return (root, depth);
            }
            root.push(part);
        }
        // No wildcard: the file itself.
        (root, Some(0))
    }
}

/// The regular files the includes match and no exclude does, sorted.
pub fn find_files(include: &[Glob], exclude: &[Glob]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for glob in include {
        let (root, depth) = glob.walk_root();
        walk(&root, depth, &mut |path| {
            if glob.matches(path) && !exclude.iter().any(|e| e.matches(path)) {
                found.push(path.to_path_buf());
            }
        });
    }
    found.sort();
    found.dedup();
    found
}

fn walk(path: &Path, depth: Option<usize>, visit: &mut dyn FnMut(&Path)) {
    let Ok(meta) = std::fs::metadata(path) else { return };
    if meta.is_file() {
        visit(path);
        return;
    }
    if !meta.is_dir() || depth == Some(0) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else { return };
    for entry in entries.flatten() {
        let child = entry.path();
        // Symlinked directories are not followed (they could loop); symlinked files are read.
        let is_link_dir = entry.file_type().is_ok_and(|t| t.is_symlink()) && child.is_dir();
        if !is_link_dir {
            walk(&child, depth.map(|d| d - 1), visit);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Config

fn parse_globs(p: &mut Parser, value: Option<&Value>, at: &str) -> Vec<Glob> {
    let patterns = p.string_list(value, at);
    patterns
        .iter()
        .enumerate()
        .filter_map(|(i, pattern)| Glob::new(pattern).map_err(|e| p.error(&format!("{at}[{i}]"), e)).ok())
        .collect()
}

fn parse_static_map(p: &mut Parser, value: Option<&Value>, at: &str) -> Map<String, Json> {
    let mut map = Map::new();
    for (key, value) in p.entries(value, at) {
        match serde_json::to_value(value) {
            Ok(json) => {
                map.insert(key, json);
            }
            Err(e) => p.error(&format!("{at}.{key}"), format!("cannot be a log value ({e})")),
        }
    }
    map
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> FileLogConfig {
    let mut config = FileLogConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(
        body,
        &[
            "include",
            "exclude",
            "start_at",
            "poll_interval",
            "include_file_name",
            "include_file_path",
            "encoding",
            "multiline",
            "force_flush_period",
            "max_log_size",
            "storage",
            "attributes",
            "resource",
            "operators",
        ],
        path,
    );
    config.include = parse_globs(p, body.get("include"), &format!("{path}.include"));
    if body.get("include").is_none() {
        p.error(
            path,
            "include is required (the globs of the files to read, like /var/log/app/*.log)",
        );
    }
    config.exclude = parse_globs(p, body.get("exclude"), &format!("{path}.exclude"));
    if let Some(v) = body.get("start_at") {
        let at = format!("{path}.start_at");
        match p.string(v, &at).as_deref() {
            Some("end") => config.start_at = StartAt::End,
            Some("beginning") => config.start_at = StartAt::Beginning,
            Some(other) => p.error(&at, format!("expected end or beginning, got '{other}'")),
            None => {}
        }
    }
    for (key, slot) in [
        ("poll_interval", &mut config.poll_interval),
        ("force_flush_period", &mut config.force_flush_period),
    ] {
        if let Some(v) = body.get(key) {
            let at = format!("{path}.{key}");
            match p.duration(v, &at) {
                Some(d) if d.is_zero() && key == "poll_interval" => p.error(&at, "must be greater than 0, like 200ms"),
                Some(d) => *slot = d,
                None => {}
            }
        }
    }
    for (key, slot) in [
        ("include_file_name", &mut config.include_file_name),
        ("include_file_path", &mut config.include_file_path),
    ] {
        if let Some(b) = body.get(key).and_then(|v| p.boolean(v, &format!("{path}.{key}"))) {
            *slot = b;
        }
    }
    if let Some(v) = body.get("encoding") {
        let at = format!("{path}.encoding");
        if let Some(encoding) = p.string(v, &at) {
            if !matches!(encoding.to_ascii_lowercase().as_str(), "utf-8" | "utf8" | "") {
                p.error(
                    &at,
                    format!("the encoding '{encoding}' is not supported by otelbox yet; only utf-8 is"),
                );
            }
        }
    }
    if let Some(v) = body.get("multiline") {
        let at = format!("{path}.multiline");
        if let Some(m) = p.mapping(Some(v), &at) {
            p.only_keys(m, &["line_start_pattern", "line_end_pattern", "omit_pattern"], &at);
            let start = m
                .get("line_start_pattern")
                .and_then(|v| p.regex(v, &format!("{at}.line_start_pattern")));
            let end = m
                .get("line_end_pattern")
                .and_then(|v| p.regex(v, &format!("{at}.line_end_pattern")));
            config.multiline = match (start, end) {
                (Some(_), Some(_)) => {
                    p.error(&at, "give line_start_pattern or line_end_pattern, not both");
                    Multiline::None
                }
                (Some(re), None) => Multiline::LineStart(re),
                (None, Some(re)) => Multiline::LineEnd(re),
                (None, None) => Multiline::None,
            };
            if let Some(omit) = m.get("omit_pattern").and_then(|v| p.boolean(v, &format!("{at}.omit_pattern"))) {
                if omit {
                    p.error(&format!("{at}.omit_pattern"), "omit_pattern: true is not supported by otelbox yet");
                }
            }
        }
    }
    if let Some(v) = body.get("max_log_size") {
        let at = format!("{path}.max_log_size");
        match p.size(v, &at) {
            Some(0) => p.error(&at, "must be greater than 0, like 1MiB"),
            Some(n) => config.max_log_size = n.min(MAX_READ_PER_POLL as u64 / 2) as usize,
            None => {}
        }
    }
    if let Some(v) = body.get("storage") {
        let at = format!("{path}.storage");
        if let Some(text) = p.string(v, &at) {
            match ComponentId::parse(&text) {
                Ok(id) => config.storage = Some(id),
                Err(e) => p.error(&at, e),
            }
        }
    }
    config.attributes = parse_static_map(p, body.get("attributes"), &format!("{path}.attributes"));
    config.resource = parse_static_map(p, body.get("resource"), &format!("{path}.resource"));
    config.operators = operators::parse_operators(p, body.get("operators"), &format!("{path}.operators"));
    config
}

// ---------------------------------------------------------------------------------------------
// Splitting what was read into records

/// The records in `data` (read from a file's offset) and how many bytes they consume. A trailing
/// partial line waits for its newline (unless longer than `max`, then it is cut); with a
/// multiline pattern, the last record of complete lines waits for what ends it unless `flush`.
pub fn split_records(data: &[u8], multiline: &Multiline, max: usize, flush: bool) -> (Vec<String>, usize) {
    let mut records = Vec::new();
    let mut consumed = 0;
    // Complete lines, with the offset after each.
    let mut lines: Vec<(String, usize)> = Vec::new();
    let mut start = 0;
    while let Some(newline) = data[start..].iter().position(|b| *b == b'\n') {
        let mut line = &data[start..start + newline];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        lines.push((String::from_utf8_lossy(line).into_owned(), start + newline + 1));
        start += newline + 1;
    }
    let cut = |text: String| -> String {
        if text.len() <= max {
            return text;
        }
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_string()
    };
    match multiline {
        Multiline::None => {
            for (line, end) in lines {
                records.push(cut(line));
                consumed = end;
            }
        }
        Multiline::LineStart(re) => {
            let mut current: Option<Vec<String>> = None;
            for (line, end) in lines {
                if re.is_match(&line) {
                    if let Some(record) = current.take() {
                        records.push(cut(record.join("\n")));
                        consumed = line_start(data, end);
                    }
                }
                current.get_or_insert_with(Vec::new).push(line);
            }
            if let Some(record) = current {
                if flush {
                    records.push(cut(record.join("\n")));
                    consumed = start;
                }
            }
        }
        Multiline::LineEnd(re) => {
            let mut current: Vec<String> = Vec::new();
            for (line, end) in lines {
                let ends = re.is_match(&line);
                current.push(line);
                if ends {
                    records.push(cut(std::mem::take(&mut current).join("\n")));
                    consumed = end;
                }
            }
            if flush && !current.is_empty() {
                records.push(cut(current.join("\n")));
                consumed = start;
            }
        }
    }
    // A partial line longer than a record may be: cut, so the file does not stall.
    if consumed == start && data.len() - start >= max && matches!(multiline, Multiline::None) {
        records.push(cut(String::from_utf8_lossy(&data[start..start + max]).into_owned()));
        consumed = start + max;
    }
    (records, consumed)
}

/// The offset where the line ending just before `end` begins.
fn line_start(data: &[u8], end: usize) -> usize {
    data[..end - 1].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
}

// ---------------------------------------------------------------------------------------------
// Files and offsets

/// A file the receiver knows: its fingerprint and how far it is read (committed).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Known {
    /// Hex of the first bytes.
    pub fingerprint: String,
    pub offset: u64,
    pub path: PathBuf,
    #[serde(skip)]
    last_poll: u64,
    /// The file size at which a pending multiline record was first seen, and when.
    #[serde(skip)]
    pending_since: Option<(u64, Instant)>,
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct OffsetsFile {
    files: Vec<Known>,
}

/// What one poll read: the records, and the offsets to commit once they are.
pub struct PollRead {
    pub entries: Vec<Entry>,
    /// (fingerprint, new fingerprint, new offset, path)
    advances: Vec<(String, String, u64, PathBuf)>,
}

/// The files known and the offsets file; polled on the blocking pool.
pub struct Tracker {
    config: Arc<FileLogConfig>,
    known: Vec<Known>,
    polls: u64,
    /// No offsets were restored and no poll ran yet: `start_at` applies to the files found.
    first_poll: bool,
    offsets_file: Option<PathBuf>,
    /// What the operators hold between polls (partial container lines), as of the last committed
    /// poll, and as the poll waiting for its commit left it.
    operators_state: PipelineState,
    uncommitted_state: Option<PipelineState>,
}

impl Tracker {
    pub fn new(config: Arc<FileLogConfig>, offsets_file: Option<PathBuf>) -> Tracker {
        let mut known = Vec::new();
        if let Some(file) = &offsets_file {
            match std::fs::read(file) {
                Ok(bytes) => match serde_json::from_slice::<OffsetsFile>(&bytes) {
                    Ok(saved) => known = saved.files,
                    Err(e) => {
                        tracing::warn!(file = %file.display(), error = %e, "filelog: the offsets file is unreadable; starting afresh")
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(file = %file.display(), error = %e, "filelog: cannot read the offsets file"),
            }
        }
        Tracker {
            config,
            first_poll: known.is_empty(),
            known,
            polls: 0,
            offsets_file,
            operators_state: PipelineState::default(),
            uncommitted_state: None,
        }
    }

    /// Reads what the matching files have added since their committed offsets.
    pub fn poll(&mut self) -> PollRead {
        self.polls += 1;
        let first_poll = std::mem::replace(&mut self.first_poll, false);
        let mut read = PollRead {
            entries: Vec::new(),
            advances: Vec::new(),
        };
        let mut seen_this_poll: Vec<usize> = Vec::new();
        let mut lines: Vec<Entry> = Vec::new();
        for path in find_files(&self.config.include, &self.config.exclude) {
            let Ok(mut file) = std::fs::File::open(&path) else { continue };
            let Ok(size) = file.metadata().map(|m| m.len()) else { continue };
            let mut head = vec![0u8; FINGERPRINT_BYTES.min(size as usize)];
            if file.read_exact(&mut head).is_err() || head.is_empty() {
                continue; // empty files are not told apart yet
            }
            let fingerprint = hex::encode(&head);
            // The longest known fingerprint this file starts with.
            let found = self
                .known
                .iter()
                .enumerate()
                .filter(|(_, k)| !k.fingerprint.is_empty() && fingerprint.starts_with(&k.fingerprint))
                .max_by_key(|(_, k)| k.fingerprint.len())
                .map(|(i, _)| i);
            let is_new = found.is_none();
            let index = match found {
                // A copy of a file already read this poll (copy rotation): skipped.
                Some(i) if seen_this_poll.contains(&i) => continue,
                Some(i) => i,
                None => {
                    let offset = if first_poll && self.config.start_at == StartAt::End {
                        size
                    } else {
                        0
                    };
                    self.known.push(Known {
                        fingerprint: fingerprint.clone(),
                        offset,
                        path: path.clone(),
                        last_poll: self.polls,
                        pending_since: None,
                    });
                    self.known.len() - 1
                }
            };
            seen_this_poll.push(index);
            let known = &mut self.known[index];
            known.last_poll = self.polls;
            known.path = path.clone();
            let mut offset = known.offset;
            if offset > size {
                offset = 0; // truncated in place
            }
            if offset == size {
                if is_new || offset != known.offset || known.fingerprint != fingerprint {
                    read.advances.push((known.fingerprint.clone(), fingerprint, offset, path));
                }
                continue;
            }
            let want = ((size - offset) as usize).min(MAX_READ_PER_POLL);
            let mut data = vec![0u8; want];
            if file.seek(SeekFrom::Start(offset)).is_err() || file.read_exact(&mut data).is_err() {
                continue;
            }
            let max = self.config.max_log_size;
            let (mut records, mut consumed) = split_records(&data, &self.config.multiline, max, false);
            let waiting = consumed < data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            if waiting && !matches!(self.config.multiline, Multiline::None) {
                match known.pending_since {
                    Some((at_size, since)) if at_size == size && since.elapsed() >= self.config.force_flush_period => {
                        (records, consumed) = split_records(&data, &self.config.multiline, max, true);
                        known.pending_since = None;
                    }
                    Some((at_size, _)) if at_size == size => {}
                    _ => known.pending_since = Some((size, Instant::now())),
                }
            } else {
                known.pending_since = None;
            }
            let known_fingerprint = known.fingerprint.clone();
            for record in records {
                lines.push(self.entry(record, &path));
            }
            read.advances.push((known_fingerprint, fingerprint, offset + consumed as u64, path));
        }
        let polls = self.polls;
        self.known.retain(|k| polls - k.last_poll < FORGET_AFTER_POLLS);
        // The operators run on the poll's lines together, from the state of the last committed
        // poll, so a poll read again runs as the first time.
        let mut state = self.operators_state.clone();
        read.entries = self.config.operators.run(&mut state, lines);
        self.uncommitted_state = Some(state);
        read
    }

    /// The partial container lines the operators still hold, sent on as they are (at shutdown).
    pub fn flush_pending(&mut self) -> Vec<Entry> {
        self.config.operators.flush_all(&mut self.operators_state)
    }

    /// A line as it enters the operators.
    fn entry(&self, line: String, path: &Path) -> Entry {
        let mut entry = Entry {
            body: Json::String(line),
            attributes: self.config.attributes.clone(),
            resource: self.config.resource.clone(),
            ..Default::default()
        };
        if self.config.include_file_name {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            entry.attributes.insert("log.file.name".into(), Json::String(name));
        }
        if self.config.include_file_path {
            entry
                .attributes
                .insert("log.file.path".into(), Json::String(path.to_string_lossy().into_owned()));
        }
        entry
    }

    /// Moves the offsets on once the poll's request is committed, and saves them.
    pub fn commit(&mut self, advances: Vec<(String, String, u64, PathBuf)>) {
        if let Some(state) = self.uncommitted_state.take() {
            self.operators_state = state;
        }
        for (old, new, offset, path) in advances {
            if let Some(known) = self.known.iter_mut().find(|k| k.fingerprint == old) {
                known.fingerprint = new;
                known.offset = offset;
                known.path = path;
            }
        }
        self.save();
    }

    fn save(&self) {
        let Some(file) = &self.offsets_file else { return };
        let saved = OffsetsFile { files: self.known.clone() };
        let temporary = file.with_extension("json.tmp");
        let written = serde_json::to_vec(&saved)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&temporary, bytes))
            .and_then(|()| std::fs::rename(&temporary, file));
        if let Err(e) = written {
            tracing::warn!(file = %file.display(), error = %e, "filelog: cannot save the offsets");
        }
    }

    pub fn known(&self) -> &[Known] {
        &self.known
    }
}

// ---------------------------------------------------------------------------------------------
// To OTLP

fn any_value(value: Json) -> AnyValue {
    use any_value::Value as V;
    let value = match value {
        Json::Null => return AnyValue { value: None },
        Json::Bool(b) => V::BoolValue(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => V::StringValue(s),
        Json::Array(items) => V::ArrayValue(ArrayValue {
            values: items.into_iter().map(any_value).collect(),
        }),
        Json::Object(map) => V::KvlistValue(KeyValueList { values: key_values(map) }),
    };
    AnyValue { value: Some(value) }
}

fn key_values(map: Map<String, Json>) -> Vec<KeyValue> {
    map.into_iter()
        .map(|(key, value)| KeyValue {
            key,
            value: Some(any_value(value)),
            ..Default::default()
        })
        .collect()
}

/// `bytes` made `N` long, as the Collector's converter copies trace and span ids.
fn fixed<const N: usize>(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0u8; N];
    let n = bytes.len().min(N);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

/// One request: a ResourceLogs per distinct resource, in it a ScopeLogs per scope name (empty
/// unless a scope name parser set one).
pub fn to_request(entries: Vec<Entry>, observed_ns: u64) -> ExportLogsServiceRequest {
    type Scopes = Vec<(String, Vec<LogRecord>)>;
    let mut groups: Vec<(Map<String, Json>, Scopes)> = Vec::new();
    for entry in entries {
        let record = LogRecord {
            time_unix_nano: entry.timestamp.unwrap_or(0),
            observed_time_unix_nano: observed_ns,
            severity_number: entry.severity_number,
            severity_text: entry.severity_text,
            body: Some(any_value(entry.body)),
            attributes: key_values(entry.attributes),
            trace_id: fixed::<16>(&entry.trace_id),
            span_id: fixed::<8>(&entry.span_id),
            flags: entry.trace_flags.first().map_or(0, |f| u32::from(*f)),
            ..Default::default()
        };
        let scopes = match groups.iter_mut().position(|(resource, _)| *resource == entry.resource) {
            Some(i) => &mut groups[i].1,
            None => {
                groups.push((entry.resource, Vec::new()));
                &mut groups.last_mut().expect("just pushed").1
            }
        };
        match scopes.iter_mut().find(|(name, _)| *name == entry.scope_name) {
            Some((_, records)) => records.push(record),
            None => scopes.push((entry.scope_name, vec![record])),
        }
    }
    ExportLogsServiceRequest {
        resource_logs: groups
            .into_iter()
            .map(|(resource, scopes)| ResourceLogs {
                resource: Some(Resource {
                    attributes: key_values(resource),
                    ..Default::default()
                }),
                scope_logs: scopes
                    .into_iter()
                    .map(|(name, log_records)| ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name,
                            ..Default::default()
                        }),
                        log_records,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// The receiver

pub struct Factory;
crate::component_type!(Factory, "filelog", &[crate::pdata::Signal::Logs], parse);

/// Where offsets are kept without a `storage` extension.
pub fn default_offsets_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "otelbox").map(|d| d.data_dir().join("filelog"))
}

/// The offsets file of receiver `id` in `dir`.
pub fn offsets_file(dir: &Path, id: &ComponentId) -> PathBuf {
    let name: String = id
        .to_string()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("receiver_filelog_{name}.json"))
}

impl ReceiverFactory for Factory {
    fn build<'a>(
        &'a self,
        host: &'a ReceiverHost,
        id: &'a ComponentId,
        settings: &'a Settings,
        heads: SignalConsumers,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let config: &FileLogConfig = settings.get();
            let dir = match &config.storage {
                Some(storage) => Some(host.extensions.storage(storage).map(|storage| storage.directory.to_path_buf()).ok_or_else(|| {
                    anyhow::anyhow!(
                        "receivers.{id}.storage: \"{storage}\" is not a running storage extension (configure a file_storage and list it in service.extensions)"
                    )
                })?),
                None => default_offsets_dir(),
            };
            let offsets = match dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir).map_err(|e| {
                        anyhow::anyhow!(
                            "receivers.{id}: cannot create {} for the read offsets ({e}); name a file_storage extension in storage",
                            dir.display()
                        )
                    })?;
                    Some(offsets_file(&dir, id))
                }
                None => {
                    tracing::warn!(receiver = %id, "no data directory: read offsets are kept in memory only");
                    None
                }
            };
            Ok(Box::new(FileLogReceiver {
                id: id.clone(),
                config: Arc::new(config.clone()),
                intake: host.intake(&heads, crate::receiver::DEFAULT_MAX_REQUEST_BYTES),
                offsets,
            }) as Box<dyn Receiver>)
        })
    }
}

pub struct FileLogReceiver {
    id: ComponentId,
    config: Arc<FileLogConfig>,
    intake: Intake,
    offsets: Option<PathBuf>,
}

impl Receiver for FileLogReceiver {
    /// A file reader listens nowhere.
    fn endpoints(&self) -> Vec<Endpoint> {
        Vec::new()
    }

    fn targets(&self) -> Vec<String> {
        self.config.include.iter().map(|glob| glob.pattern.clone()).collect()
    }

    fn start(self: Box<Self>, stop: &Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        Ok(vec![tokio::spawn(run(*self, stop.clone()))])
    }
}

/// Polls every `poll_interval` until `stop`: reads on the blocking pool, sends what was read as
/// one request, and commits the offsets once the pipeline has.
async fn run(receiver: FileLogReceiver, stop: Stop) {
    let FileLogReceiver {
        id,
        config,
        intake,
        offsets,
    } = receiver;
    tracing::info!(receiver = %id, include = ?config.include.iter().map(|g| &g.pattern).collect::<Vec<_>>(), "reading log files");
    let tracker = Arc::new(Mutex::new(Tracker::new(config.clone(), offsets)));
    let mut ticks = tokio::time::interval(config.poll_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = stop.wait() => break,
            _ = ticks.tick() => {}
        }
        let polling = {
            let tracker = tracker.clone();
            tokio::task::spawn_blocking(move || tracker.lock().unwrap_or_else(|e| e.into_inner()).poll())
        };
        let read = tokio::select! {
            biased;
            _ = stop.wait() => break,
            read = polling => match read {
                Ok(read) => read,
                Err(error) => {
                    tracing::warn!(receiver = %id, %error, "a poll of the log files failed");
                    continue;
                }
            },
        };
        let PollRead { entries, advances } = read;
        // Entries without advances: partial container lines sent after waiting; the operators'
        // state moves on with the commit too.
        let to_commit = !advances.is_empty() || !entries.is_empty();
        let outcome = if entries.is_empty() {
            Some(Ok(()))
        } else {
            let ingesting = ingest(&intake, to_request(entries, now_ns()));
            tokio::pin!(ingesting);
            let outcome = tokio::select! {
                biased;
                outcome = &mut ingesting => Some(outcome.map(|_| ())),
                _ = stop.wait() => tokio::time::timeout(STOP_GRACE, &mut ingesting).await.ok().map(|o| o.map(|_| ())),
            };
            outcome
        };
        match outcome {
            Some(Ok(())) => {
                if to_commit {
                    let tracker = tracker.clone();
                    let _ = tokio::task::spawn_blocking(move || tracker.lock().unwrap_or_else(|e| e.into_inner()).commit(advances)).await;
                }
            }
            // Counted by `ingest`; the offsets stay, so the next poll reads the same lines again.
            Some(Err(error)) => tracing::warn!(receiver = %id, %error, "the logs pipeline refused a poll; it is read again"),
            None => {
                tracing::warn!(receiver = %id, "stopping before the last poll was committed; it is read again at the next start");
                break;
            }
        }
    }
    // Partial container lines still waiting for their end are sent as they are, as the Collector
    // does when it stops (their offsets are committed already).
    let pending = {
        let tracker = tracker.clone();
        tokio::task::spawn_blocking(move || tracker.lock().unwrap_or_else(|e| e.into_inner()).flush_pending()).await
    };
    if let Ok(pending) = pending {
        if !pending.is_empty() {
            let sent = tokio::time::timeout(STOP_GRACE, ingest(&intake, to_request(pending, now_ns()))).await;
            if !matches!(sent, Ok(Ok(_))) {
                tracing::warn!(receiver = %id, "stopping: partial container lines waiting for their end were not sent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::SignalData;
    use crate::pipeline::{Consumer, Envelope, PipelineError};
    use std::io::Write;

    fn parse_yaml(yaml: &str) -> (FileLogConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "receivers.filelog");
        (config, errors)
    }

    fn config_for(dir: &Path, extra: &str) -> Arc<FileLogConfig> {
        let (config, errors) = parse_yaml(&format!("include: ['{}/*.log']\nstart_at: beginning\n{extra}", dir.display()));
        assert!(errors.is_empty(), "{errors:?}");
        Arc::new(config)
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    fn bodies(read: &PollRead) -> Vec<String> {
        read.entries
            .iter()
            .map(|e| e.body.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Polls and commits at once, as an accepting pipeline does.
    fn poll_committed(tracker: &mut Tracker) -> Vec<String> {
        let read = tracker.poll();
        let lines = bodies(&read);
        tracker.commit(read.advances);
        lines
    }

    #[test]
    fn the_collectors_defaults_apply_when_only_include_is_given() {
        let (config, errors) = parse_yaml("include: [/var/log/*.log]");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.start_at, StartAt::End);
        assert_eq!(config.poll_interval, Duration::from_millis(200));
        assert!(config.include_file_name && !config.include_file_path);
        assert_eq!(config.max_log_size, 1024 * 1024);
        assert!(matches!(config.multiline, Multiline::None));
        assert!(config.storage.is_none());
    }

    #[test]
    fn config_mistakes_are_errors_with_their_path() {
        let (_, errors) = parse_yaml("start_at: middle\nencoding: utf-16le\noperators: [{ type: csv_parser }]");
        let all = errors.join("\n");
        assert!(all.contains("receivers.filelog: include is required"), "{all}");
        assert!(all.contains("receivers.filelog.start_at: expected end or beginning"), "{all}");
        assert!(all.contains("'utf-16le' is not supported"), "{all}");
        assert!(all.contains("\"csv_parser\" is not supported"), "{all}");
    }

    #[test]
    fn the_testdata_example_parses() {
        let file: Value = serde_yaml_ng::from_str(include_str!("../testdata/filelog.yaml")).unwrap();
        for (name, value) in file.as_mapping().unwrap() {
            let mut errors = Vec::new();
            let config = parse(
                &mut Parser::collecting(&mut errors),
                value,
                &format!("receivers.{}", name.as_str().unwrap()),
            );
            assert!(errors.is_empty(), "{name:?}: {errors:?}");
            assert!(!config.include.is_empty());
        }
    }

    #[test]
    fn globs_match_names_within_a_directory_and_double_star_across_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        for file in ["x.log", "y.txt", "a/z.log", "a/b/w.log", "a/b/skip.log"] {
            std::fs::write(root.join(file), "line\n").unwrap();
        }
        let glob = |p: &str| Glob::new(&format!("{}/{p}", root.display())).unwrap();
        let names =
            |found: Vec<PathBuf>| -> Vec<String> { found.iter().map(|p| p.strip_prefix(root).unwrap().display().to_string()).collect() };
        assert_eq!(names(find_files(&[glob("*.log")], &[])), ["x.log"]);
        assert_eq!(
            names(find_files(&[glob("**/*.log")], &[glob("**/skip.log")])),
            ["a/b/w.log", "a/z.log", "x.log"]
        );
        assert_eq!(names(find_files(&[glob("?/*.log")], &[])), ["a/z.log"]);
        assert!(glob("[xy].*").matches(&root.join("y.txt")));
    }

    #[test]
    fn a_partial_line_waits_for_its_newline() {
        let (records, consumed) = split_records(b"one\r\ntwo\nthr", &Multiline::None, 100, false);
        assert_eq!((records, consumed), (vec!["one".to_string(), "two".to_string()], 9));
        let (records, consumed) = split_records(b"abcdefgh", &Multiline::None, 5, false);
        assert_eq!(
            (records, consumed),
            (vec!["abcde".to_string()], 5),
            "a line over max_log_size is cut"
        );
    }

    #[test]
    fn multiline_records_start_or_end_at_their_pattern_and_the_last_waits_until_flushed() {
        let start = Multiline::LineStart(regex::Regex::new(r"^\d{4}").unwrap());
        let data = b"2024 first\n  at a\n  at b\n2024 second\n  at c\n";
        let (records, consumed) = split_records(data, &start, 1000, false);
        assert_eq!(records, ["2024 first\n  at a\n  at b"]);
        assert_eq!(consumed, 25, "the second record waits");
        let (records, consumed) = split_records(&data[consumed..], &start, 1000, true);
        assert_eq!((records, consumed), (vec!["2024 second\n  at c".to_string()], data.len() - 25));

        let end = Multiline::LineEnd(regex::Regex::new(r";$").unwrap());
        let (records, consumed) = split_records(b"a\nb;\nc\n", &end, 1000, false);
        assert_eq!((records, consumed), (vec!["a\nb".to_string() + ";"], 5));
    }

    #[test]
    fn a_multiline_record_with_nothing_after_it_is_sent_after_force_flush_period() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_for(dir.path(), "multiline: { line_start_pattern: '^start' }\nforce_flush_period: 0s");
        let mut tracker = Tracker::new(config, None);
        append(&dir.path().join("a.log"), "start 1\n more\nstart 2\n");
        assert_eq!(poll_committed(&mut tracker), ["start 1\n more"]);
        assert_eq!(
            poll_committed(&mut tracker),
            ["start 2"],
            "flushed once unchanged for force_flush_period"
        );
    }

    #[test]
    fn json_and_regex_parsers_set_attributes_timestamp_and_severity() {
        let dir = tempfile::tempdir().unwrap();
        let (config, errors) = parse_yaml(&format!(
            r#"
include: ['{}/*.log']
start_at: beginning
include_file_path: true
operators:
  - type: json_parser
    timestamp: {{ parse_from: attributes.ts, layout_type: epoch, layout: s }}
    severity: {{ parse_from: attributes.level }}
    on_error: send_quiet
  - type: regex_parser
    regex: '^(?P<day>\S+) (?P<level>[A-Z]+) (?P<msg>.*)$'
    timestamp: {{ parse_from: attributes.day, layout: '%Y-%m-%d' }}
    severity: {{ parse_from: attributes.level, mapping: {{ error: OOPS }} }}
    on_error: send_quiet
"#,
            dir.path().display()
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let mut tracker = Tracker::new(Arc::new(config), None);
        let path = dir.path().join("app.log");
        append(
            &path,
            "{\"ts\": 1700000000, \"level\": \"warn\", \"user\": \"ann\"}\n2023-11-14 OOPS disk full\n",
        );
        let read = tracker.poll();
        assert_eq!(read.entries.len(), 2);
        let json = &read.entries[0];
        assert_eq!(json.timestamp, Some(1_700_000_000_000_000_000));
        assert_eq!((json.severity_number, json.severity_text.as_str()), (13, "warn"));
        assert_eq!(json.attributes["user"], "ann");
        assert_eq!(json.attributes["log.file.name"], "app.log");
        assert_eq!(json.attributes["log.file.path"], path.display().to_string().as_str());
        assert!(json.body.as_str().unwrap().starts_with('{'), "the body keeps the line");
        let regex = &read.entries[1];
        assert_eq!(regex.timestamp, Some(1_699_920_000_000_000_000));
        assert_eq!((regex.severity_number, regex.severity_text.as_str()), (17, "OOPS"));
        assert_eq!(regex.attributes["msg"], "disk full");
        let request = to_request(read.entries, 5);
        assert_eq!(request.item_count(), 2);
        let record = &request.resource_logs[0].scope_logs[0].log_records[1];
        assert_eq!((record.observed_time_unix_nano, record.severity_number), (5, 17));
    }

    #[test]
    fn lines_appended_between_polls_are_read_once_and_start_at_end_skips_old_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "old\n");
        let (config, _) = parse_yaml(&format!("include: ['{}/*.log']", dir.path().display()));
        let mut tracker = Tracker::new(Arc::new(config), None);
        assert!(poll_committed(&mut tracker).is_empty(), "start_at: end");
        append(&path, "one\ntw");
        assert_eq!(poll_committed(&mut tracker), ["one"]);
        append(&path, "o\nthree\n");
        assert_eq!(poll_committed(&mut tracker), ["two", "three"]);
        assert!(poll_committed(&mut tracker).is_empty());
    }

    #[test]
    fn an_uncommitted_poll_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut tracker = Tracker::new(config_for(dir.path(), ""), None);
        append(&dir.path().join("a.log"), "one\n");
        assert_eq!(bodies(&tracker.poll()), ["one"]);
        assert_eq!(poll_committed(&mut tracker), ["one"], "refused: read again");
        assert!(poll_committed(&mut tracker).is_empty());
    }

    #[test]
    fn a_file_renamed_by_rotation_is_not_read_twice_and_the_new_file_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut tracker = Tracker::new(config_for(dir.path(), ""), None);
        let path = dir.path().join("app.log");
        append(&path, "first generation line 1\n");
        assert_eq!(poll_committed(&mut tracker), ["first generation line 1"]);
        append(&path, "first generation line 2\n");
        // Rotated: renamed to a name the glob still matches, a new file at the old path.
        std::fs::rename(&path, dir.path().join("app.1.log")).unwrap();
        append(&path, "second generation line 1\n");
        let mut lines = poll_committed(&mut tracker);
        lines.sort();
        assert_eq!(lines, ["first generation line 2", "second generation line 1"]);
        assert!(poll_committed(&mut tracker).is_empty());
    }

    #[test]
    fn after_a_restart_the_persisted_offsets_read_nothing_twice_and_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let offsets = offsets_file(state.path(), &ComponentId::parse("filelog/app").unwrap());
        let path = dir.path().join("app.log");
        append(&path, "before 1\nbefore 2\n");
        let mut tracker = Tracker::new(config_for(dir.path(), ""), Some(offsets.clone()));
        assert_eq!(poll_committed(&mut tracker), ["before 1", "before 2"]);
        append(&path, "while stopped\n");
        drop(tracker);
        assert!(offsets.exists());
        let mut restarted = Tracker::new(config_for(dir.path(), ""), Some(offsets));
        assert_eq!(poll_committed(&mut restarted), ["while stopped"]);
    }

    /// The `filelog` sections of Grafana's otel-lgtm Kubernetes examples (json-logging-otlp and
    /// json-logging-logback), verbatim.
    const LGTM_OTLP_JSON_LOGS: &str = r##"include:
  - /var/log/pods/*/*/*.log
include_file_path: true
operators:
  - id: container-parser
    type: container
"##;
    const LGTM_JSON_LOGBACK: &str = r##"include:
  - /var/log/pods/*/*/*.log
include_file_path: true
operators:
  - id: container-parser
    type: container
  - id: router
    type: router
    routes:
      - output: json_parser
        expr: 'body matches "\\{[^{}]*\\}" == true'
  - id: json_parser
    type: json_parser
    on_error: drop_quiet
    body: attributes.formattedMessage
    timestamp:
      parse_from: attributes.timestamp
      layout_type: 'epoch'
      layout: 'ms'
    severity:
      parse_from: attributes.level
    trace:
      trace_id:
        parse_from: attributes.mdc.trace_id
      span_id:
        parse_from: attributes.mdc.span_id
      trace_flags:
        parse_from: attributes.mdc.trace_flags
    scope_name:
      parse_from: attributes.loggerName
  - id: move_service_namespace
    type: move
    if: 'attributes.mdc["service.namespace"] != nil'
    from: attributes.mdc["service.namespace"]
    to: resource["service.namespace"]
  - id: move_service_name
    type: move
    from: attributes.mdc["service.name"]
    to: resource["service.name"]
  - id: move_service_version
    type: move
    from: attributes.mdc["service.version"]
    to: resource["service.version"]
  - id: move_service_instance_id
    type: move
    if: 'attributes.mdc["service.instance.id"] != nil'
    from: attributes.mdc["service.instance.id"]
    to: resource["service.instance.id"]
  - id: move_deployment_environment
    type: move
    if: 'attributes.mdc["deployment.environment"] != nil'
    from: attributes.mdc["deployment.environment"]
    to: resource["deployment.environment"]
  - id: move_thread_name
    type: move
    from: attributes.threadName
    to: attributes["thread.name"]
  - id: move_throwable_class_name
    type: move
    if: "attributes.throwable?.className != nil"
    from: attributes.throwable.className
    to: attributes["exception.type"]
  - id: move_throwable_message
    type: move
    if: "attributes.throwable?.message != nil"
    from: attributes.throwable.message
    to: attributes["exception.message"]
  # FIXME "stepArray" is a json array eroding the visualization in Loki
  # [{ "className": "a.b.C", "methodName": "do", "fileName": "C.java", "lineNumber": 123},...]
  # It would help if logBack had a raw toString of the stack trace
  - id: move_throwable_stack_trace
    type: move
    if: "attributes.throwable?.stepArray != nil"
    from: attributes.throwable.stepArray
    to: attributes["exception.stacktrace"]
  - id: remove_throwable
    type: remove
    field: attributes.throwable
  - id: remove_logger_name
    type: remove
    field: attributes.loggerName
  - id: remove_timestamp
    type: remove
    field: attributes.timestamp
  - id: remove_observed_timestamp
    type: remove
    field: attributes["observed.timestamp"]
  - id: remove_level
    type: remove
    field: attributes.level
  - id: remove_detected_level
    type: remove
    field: attributes["detected.level"]
  - id: remove_mdc
    type: remove
    field: attributes.mdc
  - id: remove_context
    type: remove
    field: attributes.context
  - id: remove_formattedMessage
    type: remove
    field: attributes.formattedMessage
  - id: remove_logtag
    type: remove
    field: attributes.logtag
  - id: remove_file
    type: remove
    field: attributes["log.file.path"]
  - id: remove_filename
    type: remove
    field: attributes["log.file.name"]
  - id: remove_stream
    type: remove
    field: attributes["log.iostream"]
  - id: remove_time
    type: remove
    field: attributes.time
"##;

    #[test]
    fn the_otel_lgtm_kubernetes_filelog_sections_parse() {
        for section in [LGTM_OTLP_JSON_LOGS, LGTM_JSON_LOGBACK] {
            let (config, errors) = parse_yaml(section);
            assert!(errors.is_empty(), "{errors:?}");
            assert!(config.include_file_path);
            assert_eq!(config.operators.operators[0].id, "container-parser");
        }
        let (config, _) = parse_yaml(LGTM_JSON_LOGBACK);
        assert_eq!(config.operators.operators.len(), 26);
    }

    /// A pod's log directory under `dir`, as the kubelet lays them out.
    fn pod_dir(dir: &Path, container: &str) -> PathBuf {
        let path = dir
            .join("pods/shop_checkout-6f7d8_3f2a9c1e-8b7d-4c2e-9f1a-0123456789ab")
            .join(container);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    fn k8s_resource(container: &str, restart: &str) -> Map<String, Json> {
        serde_json::json!({
            "k8s.namespace.name": "shop",
            "k8s.pod.name": "checkout-6f7d8",
            "k8s.pod.uid": "3f2a9c1e-8b7d-4c2e-9f1a-0123456789ab",
            "k8s.container.name": container,
            "k8s.container.restart_count": restart,
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn the_container_operator_reads_docker_crio_and_containerd_lines_with_pod_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let (config, errors) = parse_yaml(&format!(
            "include: ['{}/pods/*/*/*.log']\nstart_at: beginning\ninclude_file_path: true\noperators: [{{ id: container-parser, type: container }}]",
            dir.path().display()
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let mut tracker = Tracker::new(Arc::new(config), None);
        let docker = pod_dir(dir.path(), "docker").join("0.log");
        append(
            &docker,
            "{\"log\":\"docker says hi\\n\",\"stream\":\"stdout\",\"time\":\"2024-03-30T08:31:20.545192187Z\"}\n",
        );
        // CRI-O writes times with the node's offset; a line cut by the runtime is tagged P.
        let crio = pod_dir(dir.path(), "crio").join("1.log");
        append(
            &crio,
            "2024-04-13T07:59:37.505201169-05:00 stderr P first part, \n2024-04-13T07:59:37.505301169-05:00 stderr F second part\n",
        );
        let containerd = pod_dir(dir.path(), "containerd").join("2.log");
        append(&containerd, "2023-06-22T10:27:25.813799277Z stdout F containerd line\n");
        let read = tracker.poll();
        let mut entries = read.entries;
        tracker.commit(read.advances);
        assert_eq!(entries.len(), 3, "the partial line is joined with its end: {entries:#?}");
        entries.sort_by_key(|e| e.resource["k8s.container.name"].as_str().unwrap_or_default().to_string());
        let [containerd_entry, crio_entry, docker_entry] = &entries[..] else {
            unreachable!()
        };

        assert_eq!(docker_entry.body, "docker says hi\n", "the log as docker wrote it");
        assert_eq!(docker_entry.timestamp, Some(1_711_787_480_545_192_187));
        assert_eq!(docker_entry.resource, k8s_resource("docker", "0"));
        let attributes: Vec<&str> = docker_entry.attributes.keys().map(String::as_str).collect();
        assert_eq!(
            attributes,
            ["log.file.name", "log.file.path", "log.iostream"],
            "time and stream are moved"
        );
        assert_eq!(docker_entry.attributes["log.iostream"], "stdout");
        assert_eq!(docker_entry.attributes["log.file.path"], docker.display().to_string().as_str());

        assert_eq!(crio_entry.body, "first part, second part");
        assert_eq!(crio_entry.timestamp, Some(1_713_013_177_505_201_169), "the first part's time");
        assert_eq!(crio_entry.attributes["log.iostream"], "stderr");
        assert_eq!(crio_entry.attributes["logtag"], "P");
        assert_eq!(crio_entry.resource, k8s_resource("crio", "1"));

        assert_eq!(containerd_entry.body, "containerd line");
        assert_eq!(containerd_entry.timestamp, Some(1_687_429_645_813_799_277));
        assert_eq!(containerd_entry.attributes["logtag"], "F");
        assert_eq!(containerd_entry.resource, k8s_resource("containerd", "2"));

        // Without log.file.path the metadata cannot be had: an error, the entry sent on (on_error: send).
        let (config, _) = parse_yaml(&format!(
            "include: ['{}/pods/*/*/*.log']\nstart_at: beginning\noperators: [{{ type: container }}]",
            dir.path().display()
        ));
        let read = Tracker::new(Arc::new(config), None).poll();
        assert_eq!(read.entries.len(), 4, "each line sent on as the error left it, the partial one too");
        assert!(read.entries.iter().all(|e| e.resource.is_empty()));
    }

    #[test]
    fn a_partial_container_line_waits_for_its_end_in_a_later_poll_unless_the_poll_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (config, errors) = parse_yaml(&format!(
            "include: ['{}/pods/*/*/*.log']\nstart_at: beginning\ninclude_file_path: true\noperators: [{{ type: container }}]",
            dir.path().display()
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let mut tracker = Tracker::new(Arc::new(config), None);
        let log = pod_dir(dir.path(), "app").join("0.log");
        append(&log, "2024-05-01T10:00:00Z stdout P begins \n");
        assert!(poll_committed(&mut tracker).is_empty(), "held");
        append(&log, "2024-05-01T10:00:00Z stdout F ends\n");
        assert_eq!(bodies(&tracker.poll()), ["begins ends"], "a refused poll...");
        assert_eq!(
            poll_committed(&mut tracker),
            ["begins ends"],
            "...runs again from the committed state"
        );
        append(&log, "2024-05-01T10:00:01Z stdout P never ends\n");
        assert!(poll_committed(&mut tracker).is_empty());
        assert_eq!(
            tracker.flush_pending().iter().map(|e| e.body.clone()).collect::<Vec<_>>(),
            ["never ends"],
            "sent as it is at shutdown"
        );
    }

    #[test]
    fn the_otel_lgtm_logback_operators_make_an_otlp_record_of_a_logback_json_line() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = LGTM_JSON_LOGBACK.replace("/var/log/pods/*/*/*.log", &format!("'{}/pods/*/*/*.log'", dir.path().display()));
        let (config, errors) = parse_yaml(&format!("{yaml}start_at: beginning\n"));
        assert!(errors.is_empty(), "{errors:?}");
        let mut tracker = Tracker::new(Arc::new(config), None);
        // logback's JsonEncoder, one line per event, through containerd.
        let failed = r#"{"sequenceNumber":42,"timestamp":1714557600123,"nanoseconds":123456789,"level":"WARN","threadName":"http-nio-8080-exec-1","loggerName":"com.example.shop.CheckoutController","context":{"name":"default","birthdate":1714557000000,"properties":{}},"mdc":{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","trace_flags":"01","service.name":"checkout","service.namespace":"shop","service.version":"1.4.2","deployment.environment":"prod"},"message":"Payment for order {} failed","throwable":{"className":"java.lang.IllegalStateException","message":"card declined","stepArray":[{"className":"com.example.shop.PaymentService","methodName":"charge","fileName":"PaymentService.java","lineNumber":87}]},"formattedMessage":"Payment for order 1234 failed","arguments":["1234"]}"#;
        let started = r#"{"sequenceNumber":1,"timestamp":1714557599000,"nanoseconds":0,"level":"INFO","threadName":"main","loggerName":"com.example.shop.App","context":{"name":"default","birthdate":1714557000000,"properties":{}},"mdc":{"service.name":"checkout","service.version":"1.4.2"},"message":"Started","formattedMessage":"Started"}"#;
        let log = pod_dir(dir.path(), "checkout").join("0.log");
        append(
            &log,
            &format!(
                "2024-05-01T10:00:00.124Z stdout F {failed}\n2024-05-01T10:00:00.200Z stdout F Spring banner, not JSON\n2024-05-01T09:59:59.001Z stdout F {started}\n"
            ),
        );
        let read = tracker.poll();
        assert_eq!(read.entries.len(), 2, "the router drops what is not JSON");
        let entry = &read.entries[0];
        assert_eq!(entry.body, "Payment for order 1234 failed");
        assert_eq!(entry.timestamp, Some(1_714_557_600_123_000_000));
        assert_eq!((entry.severity_number, entry.severity_text.as_str()), (13, "WARN"));
        assert_eq!(hex::encode(&entry.trace_id), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(hex::encode(&entry.span_id), "b7ad6b7169203331");
        assert_eq!(entry.trace_flags, [1]);
        assert_eq!(entry.scope_name, "com.example.shop.CheckoutController");
        let mut resource = k8s_resource("checkout", "0");
        for (key, value) in [
            ("service.name", "checkout"),
            ("service.namespace", "shop"),
            ("service.version", "1.4.2"),
            ("deployment.environment", "prod"),
        ] {
            resource.insert(key.into(), Json::from(value));
        }
        assert_eq!(entry.resource, resource);
        let expected = serde_json::json!({
            "sequenceNumber": 42.0,
            "nanoseconds": 123456789.0,
            "message": "Payment for order {} failed",
            "arguments": ["1234"],
            "thread.name": "http-nio-8080-exec-1",
            "exception.type": "java.lang.IllegalStateException",
            "exception.message": "card declined",
            "exception.stacktrace": [{"className": "com.example.shop.PaymentService", "methodName": "charge", "fileName": "PaymentService.java", "lineNumber": 87.0}],
        });
        assert_eq!(Json::Object(entry.attributes.clone()), expected);

        let started = &read.entries[1];
        assert_eq!(started.body, "Started");
        assert_eq!((started.severity_number, started.scope_name.as_str()), (9, "com.example.shop.App"));
        assert!(started.trace_id.is_empty() && started.span_id.is_empty());
        assert!(!started.resource.contains_key("service.namespace"), "moved only if present");
        assert_eq!(started.resource["service.name"], "checkout");
        assert_eq!(started.attributes["thread.name"], "main");
        assert!(!started.attributes.contains_key("exception.type"));

        let request = to_request(read.entries, 7);
        assert_eq!(request.resource_logs.len(), 2, "the two records' resources differ");
        let scope_logs = &request.resource_logs[0].scope_logs[0];
        assert_eq!(scope_logs.scope.as_ref().unwrap().name, "com.example.shop.CheckoutController");
        let record = &scope_logs.log_records[0];
        assert_eq!(hex::encode(&record.trace_id), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!((hex::encode(&record.span_id).as_str(), record.flags), ("b7ad6b7169203331", 1));
        assert_eq!(record.time_unix_nano, 1_714_557_600_123_000_000);
        let started_record = &request.resource_logs[1].scope_logs[0].log_records[0];
        assert!(started_record.trace_id.is_empty(), "no trace id: none in the record");
    }

    /// Hands every request to a channel and commits it.
    struct Capture(tokio::sync::mpsc::UnboundedSender<ExportLogsServiceRequest>);
    impl Consumer<ExportLogsServiceRequest> for Capture {
        fn consume(&self, envelope: Envelope<ExportLogsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            let _ = self.0.send(envelope.data.clone());
            envelope.commit();
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_poll_is_one_logs_request_and_offsets_go_to_the_storage_extension() {
        use crate::extension::{file_storage, ExtensionFactory, Extensions};
        let dir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let storage_id = ComponentId::parse("file_storage").unwrap();
        let storage = file_storage::Factory
            .build(
                &storage_id,
                &Settings::new(file_storage::FileStorageConfig {
                    directory: state.path().to_path_buf(),
                    create_directory: false,
                    fsync: false,
                }),
            )
            .unwrap();
        let extensions = Extensions::start(vec![(storage_id, storage)]).await.unwrap();
        let host = ReceiverHost {
            stats: Default::default(),
            admission: Arc::new(crate::receiver::Admission::new(None)),
            ingest_tokens: Default::default(),
            tls: None,
            extensions: Arc::new(extensions),
            allowed_hosts: Default::default(),
        };
        let (mut config, errors) = parse_yaml(&format!(
            "include: ['{}/*.log']\nstart_at: beginning\npoll_interval: 20ms\nstorage: file_storage",
            dir.path().display()
        ));
        assert!(errors.is_empty(), "{errors:?}");
        config.resource.insert("service.name".into(), Json::from("app"));
        append(&dir.path().join("a.log"), "one\ntwo\n");
        let (send, mut received) = tokio::sync::mpsc::unbounded_channel();
        let heads = SignalConsumers {
            traces: None,
            metrics: None,
            logs: Some(Arc::new(Capture(send))),
        };
        let id = ComponentId::parse("filelog").unwrap();
        let receiver = Factory.build(&host, &id, &Settings::new(config), heads).await.unwrap();
        assert!(receiver.endpoints().is_empty(), "a file reader listens nowhere");
        let (stop, stopped) = Stop::new();
        let tasks = receiver.start(&stopped).unwrap();
        let request = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(request.item_count(), 2, "both lines in one request");
        let saved = offsets_file(state.path(), &id);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&saved).is_ok_and(|t| t.contains("\"offset\":8")) {
            assert!(Instant::now() < deadline, "offsets saved after the commit");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop.send(true);
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .expect("stops promptly")
                .unwrap();
        }
    }
}
