//! Integrity of the on-disk store: a scan of the WAL against SQLite's own checksums (cheap enough
//! for every start-up), and the full read-only check behind `otelbox check` (the WAL, `PRAGMA
//! integrity_check`, the schema version, the live row counts).

use super::schema::{self, SchemaError, SCHEMA_VERSION};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// The WAL format (https://www.sqlite.org/fileformat2.html#walformat), read as SQLite's recovery
// (`walIndexRecover` and `walDecodeFrame` in sqlite3.c) reads it.
const WAL_HEADER_BYTES: u64 = 32;
const FRAME_HEADER_BYTES: usize = 24;
/// With the low bit clear; a set low bit means the checksum words are big-endian.
const WAL_MAGIC: u32 = 0x377f_0682;
const WAL_FORMAT_VERSION: u32 = 3_007_000;
const MAX_PAGE_SIZE: u32 = 65_536;

/// The scan is bound by copying and checksumming, so it reads in large blocks.
const READ_BUFFER_BYTES: usize = 256 << 10;
/// A running box restarts its WAL after a checkpoint, writing new salts over the header and new
/// frames over the old: a scan that saw the header change goes again.
const SCAN_ATTEMPTS: usize = 3;
/// `PRAGMA integrity_check` lines shown in the report; the rest are counted.
const INTEGRITY_LINES_SHOWN: usize = 10;
/// The tables whose live row counts the writer and retention keep in `row_counts`, with the noun
/// the report uses.
const COUNTED_TABLES: [(&str, &str); 3] = [("spans", "spans"), ("logs", "logs"), ("metric_points", "metric points")];

/// SQLite's WAL of a database file: its name with `-wal` appended.
pub fn wal_file(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Why SQLite disregards a whole WAL on account of its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    BadMagic(u32),
    BadPageSize(u32),
    BadChecksum,
    /// A format SQLite does not know: it refuses to open the database instead of ignoring the WAL.
    UnknownVersion(u32),
}

impl fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderProblem::BadMagic(magic) => write!(f, "magic number {magic:#010x}, not {WAL_MAGIC:#010x} or {:#010x}", WAL_MAGIC | 1),
            HeaderProblem::BadPageSize(size) => write!(f, "page size {size}, not a power of two from 512 to {MAX_PAGE_SIZE}"),
            HeaderProblem::BadChecksum => write!(f, "its checksum does not match"),
            HeaderProblem::UnknownVersion(version) => write!(f, "format version {version}, not {WAL_FORMAT_VERSION}"),
        }
    }
}

/// What a WAL holds, and what SQLite's recovery will make of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalScan {
    /// The file's size when scanned.
    pub bytes: u64,
    /// The page size the header states.
    pub page_size: u32,
    /// Set when SQLite disregards the whole WAL because of its header; the counts below are then 0.
    pub header_problem: Option<HeaderProblem>,
    /// Whole frames in the file (SQLite ignores a partly written last frame too).
    pub frames_total: u64,
    /// The frames SQLite replays: up to the last commit frame before the first invalid frame.
    pub valid_frames: u64,
    /// Transactions those frames commit.
    pub committed_transactions: u64,
    /// The first frame (from 1) that fails its checksum or does not carry the header's salts.
    pub first_invalid_frame: Option<u64>,
    /// Frames after the first invalid one that carry this WAL's salts, up to the last commit
    /// frame among them: committed data the checksum chain no longer reaches.
    pub frames_after_damage: u64,
    /// The commit frames among them: committed transactions SQLite will drop without a word.
    pub transactions_after_damage: u64,
}

impl WalScan {
    /// Committed transactions SQLite will drop: ones after a frame that fails its checksum, or a
    /// whole WAL disregarded for its header. An invalid frame with no commit after it is the torn
    /// tail of a write cut short by a crash, or frames left from before a checkpoint: normal.
    /// (So are leftovers of an unfinished write partly overwritten by a later run: they carry the
    /// current salts, but never a commit.)
    pub fn is_damaged(&self) -> bool {
        self.header_problem.is_some() || self.transactions_after_damage > 0
    }
}

impl fmt::Display for WalScan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.header_problem, self.first_invalid_frame) {
            (Some(problem @ HeaderProblem::UnknownVersion(_)), _) => {
                write!(f, "the WAL header has {problem}: SQLite refuses to open the database with it")
            }
            (Some(problem), _) => write!(
                f,
                "the WAL header is damaged ({problem}): SQLite ignores the whole WAL ({} bytes) and every transaction in it",
                thousands(self.bytes)
            ),
            (None, Some(frame)) if self.is_damaged() => write!(
                f,
                "the WAL is damaged at frame {} of {}: {} ({} frames) after it cannot be recovered; SQLite keeps the {} before it",
                thousands(frame),
                thousands(self.frames_total),
                count(self.transactions_after_damage, "committed transaction"),
                thousands(self.frames_after_damage),
                count(self.committed_transactions, "transaction"),
            ),
            (None, _) => {
                write!(
                    f,
                    "the WAL holds {} ({} frames), all intact",
                    count(self.committed_transactions, "committed transaction"),
                    thousands(self.valid_frames)
                )?;
                let unfinished = self.frames_total - self.valid_frames;
                if unfinished > 0 {
                    write!(
                        f,
                        "; the {} frames after them finish no transaction (a write cut short, or frames from before a checkpoint), as is normal",
                        thousands(unfinished)
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Reads a WAL the way SQLite's recovery does, before SQLite does: a frame counts when it carries
/// the header's salts and its checksum continues the chain from the header through every frame
/// before it; recovery replays up to the last commit frame before the first frame that does not.
/// Streams the file (one frame in memory). `None` when there is no WAL or it holds no frame.
pub fn scan_wal(wal_path: &Path) -> io::Result<Option<WalScan>> {
    for _ in 0..SCAN_ATTEMPTS {
        let file = match File::open(wal_path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let bytes = file.metadata()?.len();
        // SQLite does not even read a WAL that is no longer than its header.
        if bytes <= WAL_HEADER_BYTES {
            return Ok(None);
        }
        match scan_once(&file, bytes) {
            Ok((scan, header)) => {
                if header_unchanged(&file, &header)? {
                    return Ok(Some(scan));
                }
            }
            // Cut short by a running box's checkpoint, which truncates the WAL.
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {}
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::other(format!(
        "the WAL changed during each of {SCAN_ATTEMPTS} scans (otelbox is writing to it); run the check again"
    )))
}

/// The header fields a frame is checked against.
struct WalHeader {
    big_endian_checksums: bool,
    page_size: u32,
    salts: [u8; 8],
    checksum: (u32, u32),
}

/// One pass over the first `bytes` of the WAL; returns the header it read along with the scan.
fn scan_once(file: &File, bytes: u64) -> io::Result<(WalScan, [u8; WAL_HEADER_BYTES as usize])> {
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    let mut raw_header = [0u8; WAL_HEADER_BYTES as usize];
    reader.read_exact(&mut raw_header)?;
    let mut scan = WalScan {
        bytes,
        page_size: be32(&raw_header, 8),
        header_problem: None,
        frames_total: 0,
        valid_frames: 0,
        committed_transactions: 0,
        first_invalid_frame: None,
        frames_after_damage: 0,
        transactions_after_damage: 0,
    };
    let header = match parse_header(&raw_header) {
        Ok(header) => header,
        Err(problem) => {
            scan.header_problem = Some(problem);
            return Ok((scan, raw_header));
        }
    };
    let frame_bytes = FRAME_HEADER_BYTES as u64 + u64::from(header.page_size);
    scan.frames_total = (bytes - WAL_HEADER_BYTES) / frame_bytes;
    let mut frame = vec![0u8; frame_bytes as usize];
    let mut chain = header.checksum;
    let mut salted_since_invalid = 0;
    for number in 1..=scan.frames_total {
        if scan.first_invalid_frame.is_none() {
            reader.read_exact(&mut frame)?;
            let (frame_header, page) = frame.split_at(FRAME_HEADER_BYTES);
            let big_endian = header.big_endian_checksums;
            let sum = wal_checksum(big_endian, page, wal_checksum(big_endian, &frame_header[..8], chain));
            if of_this_wal(frame_header, &header) && sum == (be32(frame_header, 16), be32(frame_header, 20)) {
                chain = sum;
                if be32(frame_header, 4) != 0 {
                    scan.valid_frames = number;
                    scan.committed_transactions += 1;
                }
            } else {
                scan.first_invalid_frame = Some(number);
            }
        } else {
            // The chain is broken, so checksums prove nothing more: only the salts and commit
            // marks in the frame headers are read, and the pages skipped.
            let mut frame_header = [0u8; FRAME_HEADER_BYTES];
            reader.read_exact(&mut frame_header)?;
            reader.seek_relative(i64::from(header.page_size))?;
            if of_this_wal(&frame_header, &header) {
                salted_since_invalid += 1;
                if be32(&frame_header, 4) != 0 {
                    scan.frames_after_damage = salted_since_invalid;
                    scan.transactions_after_damage += 1;
                }
            }
        }
    }
    Ok((scan, raw_header))
}

fn parse_header(raw: &[u8; WAL_HEADER_BYTES as usize]) -> Result<WalHeader, HeaderProblem> {
    let magic = be32(raw, 0);
    if magic & !1 != WAL_MAGIC {
        return Err(HeaderProblem::BadMagic(magic));
    }
    let page_size = be32(raw, 8);
    if !page_size.is_power_of_two() || !(512..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(HeaderProblem::BadPageSize(page_size));
    }
    let big_endian_checksums = magic & 1 == 1;
    let checksum = wal_checksum(big_endian_checksums, &raw[..24], (0, 0));
    if checksum != (be32(raw, 24), be32(raw, 28)) {
        return Err(HeaderProblem::BadChecksum);
    }
    let version = be32(raw, 4);
    if version != WAL_FORMAT_VERSION {
        return Err(HeaderProblem::UnknownVersion(version));
    }
    let mut salts = [0u8; 8];
    salts.copy_from_slice(&raw[16..24]);
    Ok(WalHeader {
        big_endian_checksums,
        page_size,
        salts,
        checksum,
    })
}

/// A frame header written for this WAL: the header's salts, and a page number (never 0).
fn of_this_wal(frame_header: &[u8], header: &WalHeader) -> bool {
    frame_header[8..16] == header.salts && be32(frame_header, 0) != 0
}

/// SQLite's WAL checksum over `bytes` (a multiple of 8 long), continuing from `seed`.
fn wal_checksum(big_endian: bool, bytes: &[u8], seed: (u32, u32)) -> (u32, u32) {
    let (mut s0, mut s1) = seed;
    for pair in bytes.chunks_exact(8) {
        let (first, second) = ([pair[0], pair[1], pair[2], pair[3]], [pair[4], pair[5], pair[6], pair[7]]);
        let (x0, x1) = if big_endian {
            (u32::from_be_bytes(first), u32::from_be_bytes(second))
        } else {
            (u32::from_le_bytes(first), u32::from_le_bytes(second))
        };
        s0 = s0.wrapping_add(x0).wrapping_add(s1);
        s1 = s1.wrapping_add(x1).wrapping_add(s0);
    }
    (s0, s1)
}

/// The big-endian 32-bit field at `at` (every WAL header field is big-endian).
fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Whether the WAL still starts with `header`: a restart rewrites it with new salts.
fn header_unchanged(mut file: &File, header: &[u8; WAL_HEADER_BYTES as usize]) -> io::Result<bool> {
    let mut now = [0u8; WAL_HEADER_BYTES as usize];
    file.seek(SeekFrom::Start(0))?;
    match file.read_exact(&mut now) {
        Ok(()) => Ok(now == *header),
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(err) => Err(err),
    }
}

/// Copies a damaged WAL next to it as `<name>.damaged-<unix seconds>` (e.g.
/// `otelbox.db-wal.damaged-1764806400`), so the evidence outlives SQLite's recovery and the
/// writes after it; returns the copy's path.
pub fn preserve_damaged_wal(wal_path: &Path) -> io::Result<PathBuf> {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let mut name = wal_path.as_os_str().to_owned();
    name.push(format!(".damaged-{seconds}"));
    let copy = PathBuf::from(name);
    std::fs::copy(wal_path, &copy)?;
    File::open(&copy)?.sync_all()?;
    Ok(copy)
}

/// At start-up, before SQLite opens (and so recovers) the database at `db_path`: scans its WAL
/// and, when SQLite would drop committed transactions, keeps a copy of the WAL and logs an error
/// naming them. Start-up goes on either way, with what SQLite recovers: what precedes the damage
/// is sound, and refusing to start would stop ingest as well. Returns whether the WAL was damaged,
/// for `checkpoint_recovered_wal` once the database is open.
///
/// Cost: one sequential read and checksum of the WAL. The writer checkpoints it every
/// `schema::wal_checkpoint_pages` (64 MiB at most; the size-cap benchmark saw 99 MiB), and 64 MiB
/// from the page cache take about 20 ms (the same loop in C, -O2, on a 2-core AMD EPYC VM), well
/// inside the 1 s start-up target. SQLite's recovery then reads the same WAL from the cache this
/// read filled. No WAL (after a clean stop) costs one failed open.
pub fn preserve_and_report_wal_damage(db_path: &Path) -> bool {
    let wal = wal_file(db_path);
    let scan = match scan_wal(&wal) {
        Ok(Some(scan)) if scan.is_damaged() => scan,
        Ok(_) => return false,
        Err(err) => {
            tracing::warn!(
                wal = %wal.display(),
                error = %err,
                "cannot read the WAL to check it before opening the database; starting without the check"
            );
            return false;
        }
    };
    let data_dir = db_path.parent().unwrap_or(Path::new("."));
    match preserve_damaged_wal(&wal) {
        Ok(copy) => tracing::error!(
            lost_transactions = scan.transactions_after_damage,
            copy = %copy.display(),
            "{}; otelbox starts with what SQLite recovers. The damaged WAL is kept as {}; `otelbox check {}` checks the whole database",
            scan,
            copy.display(),
            data_dir.display()
        ),
        Err(err) => tracing::error!(
            lost_transactions = scan.transactions_after_damage,
            "{}; otelbox starts with what SQLite recovers. A copy of the damaged WAL could not be kept ({}); `otelbox check {}` checks the whole database",
            scan,
            err,
            data_dir.display()
        ),
    }
    true
}

/// After a damaged WAL was kept and the database opened: copies what SQLite recovered into the
/// database and empties the WAL. Left in place, the damaged frames would stay behind the frames
/// written from now on, and the next start after a crash would report them again.
pub fn checkpoint_recovered_wal(conn: &Connection) {
    if let Err(err) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(error = %err, "cannot checkpoint the recovered WAL; the next start may report the same damage again");
    }
}

/// Why `check_database` could not check.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("no database at {path}; give the data directory `otelbox up` uses (its --data-dir)")]
    NoDatabase { path: String },
    #[error("cannot read the WAL {path}: {detail}; run the check as the user otelbox runs as")]
    Wal { path: String, detail: String },
    #[error(
        "cannot read the database {path}: {detail}; run the check as the user otelbox runs as (SQLite also needs to create {path}-shm when it is missing)"
    )]
    Read { path: String, detail: String },
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Fine, with what was found (may be empty).
    Ok(String),
    Problem(String),
    /// Skipped, with why (an earlier problem, or nothing to check).
    NotChecked(String),
}

impl Finding {
    pub fn is_problem(&self) -> bool {
        matches!(self, Finding::Problem(_))
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Ok(found) if found.is_empty() => write!(f, "ok"),
            Finding::Ok(found) => write!(f, "ok: {found}"),
            Finding::Problem(problem) => write!(f, "PROBLEM: {problem}"),
            Finding::NotChecked(why) => write!(f, "not checked: {why}"),
        }
    }
}

/// What `otelbox check` found.
#[derive(Debug)]
pub struct CheckReport {
    pub database: PathBuf,
    /// The WAL as it was before SQLite opened the database; `None` when there was none.
    pub wal: Option<WalScan>,
    pub integrity: Finding,
    pub schema: Finding,
    pub row_counts: Finding,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.findings().iter().all(|(_, finding)| !finding.is_problem())
    }

    fn wal_finding(&self) -> Finding {
        match &self.wal {
            None => Finding::Ok("no WAL, nothing to replay".into()),
            Some(scan) if scan.is_damaged() => Finding::Problem(format!(
                "{scan}. The next `otelbox up` keeps a copy of the WAL and starts with what SQLite recovers"
            )),
            Some(scan) => Finding::Ok(scan.to_string()),
        }
    }

    fn findings(&self) -> [(&'static str, Finding); 4] {
        [
            ("wal", self.wal_finding()),
            ("integrity", self.integrity.clone()),
            ("schema", self.schema.clone()),
            ("row counts", self.row_counts.clone()),
        ]
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "checked {}", self.database.display())?;
        let findings = self.findings();
        for (label, finding) in &findings {
            let text = finding.to_string();
            let mut lines = text.lines();
            writeln!(f, "  {label:<11}{}", lines.next().unwrap_or(""))?;
            for line in lines {
                writeln!(f, "  {:<11}  {line}", "")?;
            }
        }
        match findings.iter().filter(|(_, finding)| finding.is_problem()).count() {
            0 => writeln!(f, "no problems found"),
            problems => writeln!(f, "{} found", count(problems as u64, "problem")),
        }
    }
}

/// The full check behind `otelbox check`, which only reads: the WAL is scanned before SQLite
/// sees it, then the database is opened read-only (SQLite's recovery then happens in memory, and
/// nothing is checkpointed) for `PRAGMA integrity_check`, the schema version and the row counts.
/// Takes about as long as reading the whole database; safe on a running box.
pub fn check_database(db_path: &Path) -> Result<CheckReport, CheckError> {
    let path = db_path.display().to_string();
    if !db_path.is_file() {
        return Err(CheckError::NoDatabase { path });
    }
    let wal_path = wal_file(db_path);
    let wal = scan_wal(&wal_path).map_err(|err| CheckError::Wal {
        path: wal_path.display().to_string(),
        detail: err.to_string(),
    })?;
    let cannot_read = |err: rusqlite::Error| CheckError::Read {
        path: path.clone(),
        detail: err.to_string(),
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(db_path, flags).map_err(cannot_read)?;
    // A read-only connection cannot checkpoint anyway; this one must not even try.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(cannot_read)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(cannot_read)?;

    let integrity = damage_is_a_finding(integrity(&conn)).map_err(cannot_read)?;
    let (schema, has_otelbox_tables) = match schema_version(&conn) {
        Ok(checked) => checked,
        Err(err) => (damage_is_a_finding(Err(err)).map_err(cannot_read)?, false),
    };
    let row_counts = if has_otelbox_tables {
        damage_is_a_finding(row_counts(&conn)).map_err(cannot_read)?
    } else if schema.is_problem() {
        Finding::NotChecked("they need a readable otelbox schema".into())
    } else {
        Finding::NotChecked("no tables yet".into())
    };
    Ok(CheckReport {
        database: db_path.to_path_buf(),
        wal,
        integrity,
        schema,
        row_counts,
    })
}

/// Damage SQLite ran into is what the check looks for, so it is a problem found; any other
/// failure (locks, IO, permissions) means the check could not run.
fn damage_is_a_finding(checked: rusqlite::Result<Finding>) -> rusqlite::Result<Finding> {
    match checked {
        Err(err)
            if matches!(
                err.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ) =>
        {
            Ok(Finding::Problem(format!("SQLite stopped: {err}")))
        }
        checked => checked,
    }
}

fn integrity(conn: &Connection) -> rusqlite::Result<Finding> {
    let mut statement = conn.prepare("PRAGMA integrity_check")?;
    let lines = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    if lines.len() == 1 && lines[0] == "ok" {
        return Ok(Finding::Ok(String::new()));
    }
    let mut text = format!("SQLite reports {}:", count(lines.len() as u64, "problem"));
    for line in lines.iter().take(INTEGRITY_LINES_SHOWN) {
        text.push('\n');
        text.push_str(line);
    }
    if lines.len() > INTEGRITY_LINES_SHOWN {
        text.push_str(&format!("\nand {} more", thousands((lines.len() - INTEGRITY_LINES_SHOWN) as u64)));
    }
    Ok(Finding::Problem(text))
}

/// The schema's finding, and whether otelbox's tables are there to count.
fn schema_version(conn: &Connection) -> rusqlite::Result<(Finding, bool)> {
    match schema::check_owner(conn) {
        Ok(()) => {}
        Err(SchemaError::TooNew { found, known }) => {
            let problem = format!("v{found}, newer than this build's v{known}: check it with the otelbox that wrote it");
            return Ok((Finding::Problem(problem), false));
        }
        Err(SchemaError::Foreign { tables }) => {
            let problem = format!("not an otelbox database: it has tables {}", schema::list_tables(&tables));
            return Ok((Finding::Problem(problem), false));
        }
        Err(SchemaError::Sql(err)) => return Err(err),
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let finding = if version == 0 {
        Finding::Ok("empty, otelbox has not created its tables yet".into())
    } else if version < SCHEMA_VERSION {
        Finding::Ok(format!("v{version}; the next `otelbox up` migrates it to v{SCHEMA_VERSION}"))
    } else {
        Finding::Ok(format!("v{version}"))
    };
    Ok((finding, version > 0))
}

/// `row_counts` against `count(*)` of each table it counts.
fn row_counts(conn: &Connection) -> rusqlite::Result<Finding> {
    // One snapshot for both sides: a running box commits in between.
    let snapshot = conn.unchecked_transaction()?;
    // Packed spans count as spans (schema v9): through the same view the store reads them by.
    let packs: i64 = snapshot.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'span_packs'", [], |row| row.get(0))?;
    if packs > 0 {
        super::packed::attach(&snapshot)?;
    }
    let mut counted = Vec::new();
    let mut wrong = Vec::new();
    for (table, noun) in COUNTED_TABLES {
        let rows: i64 = snapshot.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))?;
        let recorded: Option<i64> = snapshot
            .query_row("SELECT n FROM row_counts WHERE tbl = ?1", [table], |row| row.get(0))
            .optional()?;
        match recorded {
            Some(n) if n == rows => counted.push(format!("{} {noun}", thousands(rows))),
            Some(n) => wrong.push(format!(
                "row_counts records {} {noun}, the table holds {}",
                thousands(n),
                thousands(rows)
            )),
            None => wrong.push(format!("row_counts has no entry for {table}, which holds {} rows", thousands(rows))),
        }
    }
    Ok(if wrong.is_empty() {
        Finding::Ok(counted.join(", "))
    } else {
        Finding::Problem(format!("{} (the counts status and /metrics show are off)", wrong.join("; ")))
    })
}

/// `n` with a comma between groups of three digits: 1,234,567.
fn thousands(n: impl Into<i128>) -> String {
    let n = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        text.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// "1 problem", "3 problems".
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", thousands(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    /// A copy of a WAL-mode database (4 KiB pages) whose WAL holds exactly `transactions`
    /// committed transactions of three rows each, taken while the connection was open: closing it
    /// would checkpoint the WAL into the database and delete it.
    struct WalStore {
        _dir: TempDir,
        db: PathBuf,
    }

    fn wal_store(transactions: usize) -> WalStore {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.db");
        let conn = Connection::open(&live).unwrap();
        // Emptied once the table exists, the WAL then holds only the transactions below.
        conn.execute_batch(
            "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t(x BLOB); PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
        for _ in 0..transactions {
            conn.execute_batch("INSERT INTO t VALUES (randomblob(3000)), (randomblob(3000)), (randomblob(3000))")
                .unwrap();
        }
        let db = dir.path().join("copy.db");
        std::fs::copy(&live, &db).unwrap();
        std::fs::copy(wal_file(&live), wal_file(&db)).unwrap();
        drop(conn);
        WalStore { _dir: dir, db }
    }

    fn frame_bytes(wal: &[u8]) -> usize {
        be32(wal, 8) as usize + FRAME_HEADER_BYTES
    }

    /// Whether each whole frame of a WAL commits a transaction.
    fn commit_marks(wal: &[u8]) -> Vec<bool> {
        wal[WAL_HEADER_BYTES as usize..]
            .chunks_exact(frame_bytes(wal))
            .map(|frame| be32(frame, 4) != 0)
            .collect()
    }

    /// Where frame `number` (from 1) starts.
    fn frame_offset(wal: &[u8], number: usize) -> usize {
        WAL_HEADER_BYTES as usize + (number - 1) * frame_bytes(wal)
    }

    /// Flips a byte in the page of a frame past the middle of the WAL that commits nothing, so
    /// its transaction's commit frame and more follow it. Returns the frame's number and the
    /// commit marks of all frames.
    fn damage_a_middle_frame(db: &Path) -> (usize, Vec<bool>) {
        let path = wal_file(db);
        let mut wal = std::fs::read(&path).unwrap();
        let commits = commit_marks(&wal);
        let bad = (commits.len() / 2..commits.len()).find(|&index| !commits[index]).unwrap() + 1;
        let at = frame_offset(&wal, bad) + FRAME_HEADER_BYTES + 100;
        wal[at] ^= 0x01;
        std::fs::write(&path, &wal).unwrap();
        (bad, commits)
    }

    /// The rows SQLite sees once it has recovered the WAL: what the scan predicts must match it.
    fn rows_after_recovery(db: &Path) -> u64 {
        let conn = Connection::open(db).unwrap();
        conn.query_row("SELECT count(*) FROM t", [], |row| row.get::<_, i64>(0)).unwrap() as u64
    }

    #[test]
    fn an_intact_wal_replays_every_committed_transaction() {
        let store = wal_store(10);
        let scan = scan_wal(&wal_file(&store.db)).unwrap().unwrap();
        assert!(!scan.is_damaged(), "{scan}");
        assert_eq!(scan.page_size, 4096);
        assert_eq!(scan.committed_transactions, 10);
        assert_eq!(scan.valid_frames, scan.frames_total);
        assert_eq!(scan.first_invalid_frame, None);
        assert!(!preserve_and_report_wal_damage(&store.db), "an intact WAL is not copied");
        assert_eq!(rows_after_recovery(&store.db), 30);
    }

    #[test]
    fn a_flipped_byte_mid_wal_is_damage_naming_the_committed_transactions_after_it() {
        let store = wal_store(10);
        let (bad, commits) = damage_a_middle_frame(&store.db);
        let scan = scan_wal(&wal_file(&store.db)).unwrap().unwrap();
        let commits_before = commits[..bad - 1].iter().filter(|&&commit| commit).count() as u64;
        let last_commit = commits.iter().rposition(|&commit| commit).unwrap() + 1;
        assert!(scan.is_damaged(), "{scan}");
        assert_eq!(scan.first_invalid_frame, Some(bad as u64));
        assert_eq!(scan.committed_transactions, commits_before);
        assert_eq!(scan.transactions_after_damage, 10 - commits_before);
        assert_eq!(scan.frames_after_damage, (last_commit - bad) as u64);
        assert!(
            scan.to_string().starts_with(&format!("the WAL is damaged at frame {bad} of ")),
            "{scan}"
        );
        // SQLite agrees, silently: it keeps only the transactions before the damage.
        assert_eq!(rows_after_recovery(&store.db), 3 * commits_before);
    }

    #[test]
    fn a_wal_cut_inside_its_last_frame_is_an_unfinished_write_not_damage() {
        let store = wal_store(10);
        let path = wal_file(&store.db);
        let wal = std::fs::read(&path).unwrap();
        let frames = commit_marks(&wal).len();
        let torn = frame_offset(&wal, frames) + frame_bytes(&wal) / 2;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(torn as u64)
            .unwrap();
        let scan = scan_wal(&path).unwrap().unwrap();
        assert!(!scan.is_damaged(), "{scan}");
        assert_eq!(scan.frames_total, frames as u64 - 1);
        assert_eq!(scan.committed_transactions, 9);
        assert_eq!(scan.frames_after_damage, 0);
        assert_eq!(rows_after_recovery(&store.db), 27);
    }

    #[test]
    fn a_bad_last_frame_is_an_unfinished_write_not_damage() {
        let store = wal_store(10);
        let path = wal_file(&store.db);
        let mut wal = std::fs::read(&path).unwrap();
        let frames = commit_marks(&wal).len();
        let at = frame_offset(&wal, frames) + FRAME_HEADER_BYTES + 100;
        wal[at] ^= 0x01;
        std::fs::write(&path, &wal).unwrap();
        let scan = scan_wal(&path).unwrap().unwrap();
        assert!(!scan.is_damaged(), "{scan}");
        assert_eq!(scan.first_invalid_frame, Some(frames as u64));
        assert_eq!(scan.committed_transactions, 9);
        assert_eq!(rows_after_recovery(&store.db), 27);
    }

    #[test]
    fn a_wal_header_failing_its_checksum_loses_the_whole_wal() {
        let store = wal_store(10);
        let path = wal_file(&store.db);
        let mut wal = std::fs::read(&path).unwrap();
        wal[16] ^= 0x01; // salt-1
        std::fs::write(&path, &wal).unwrap();
        let scan = scan_wal(&path).unwrap().unwrap();
        assert_eq!(scan.header_problem, Some(HeaderProblem::BadChecksum));
        assert!(scan.is_damaged(), "{scan}");
        assert_eq!(rows_after_recovery(&store.db), 0);
    }

    #[test]
    fn no_wal_or_an_empty_one_has_nothing_to_scan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("otelbox.db-wal");
        assert_eq!(scan_wal(&path).unwrap(), None);
        File::create(&path).unwrap();
        assert_eq!(scan_wal(&path).unwrap(), None);
    }

    #[test]
    fn a_damaged_wal_is_copied_aside_before_sqlite_recovers_it() {
        let store = wal_store(10);
        damage_a_middle_frame(&store.db);
        let damaged = std::fs::read(wal_file(&store.db)).unwrap();
        assert!(preserve_and_report_wal_damage(&store.db));
        let copies: Vec<PathBuf> = std::fs::read_dir(store.db.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.to_string_lossy().contains("copy.db-wal.damaged-"))
            .collect();
        assert_eq!(copies.len(), 1, "{copies:?}");
        assert_eq!(std::fs::read(&copies[0]).unwrap(), damaged);
    }

    /// A copy of an otelbox store holding two spans, taken while the writer's connection was open
    /// (so with its WAL); `sql` runs last, to spoil something.
    fn otelbox_store(sql: &str) -> (TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.db");
        let mut conn = Connection::open(&live).unwrap();
        schema::configure_writer(&conn, true, false).unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        schema::migrate(&mut conn).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO spans(trace_id, span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code)
               VALUES (x'01', x'01', 'a', 0, 1, 1, 1, 2, 0), (x'01', x'02', 'b', 0, 1, 1, 1, 2, 0);
             UPDATE row_counts SET n = 2 WHERE tbl = 'spans';
             {sql}"
        ))
        .unwrap();
        let db = dir.path().join("otelbox.db");
        std::fs::copy(&live, &db).unwrap();
        std::fs::copy(wal_file(&live), wal_file(&db)).unwrap();
        drop(conn);
        (dir, db)
    }

    #[test]
    fn an_intact_store_passes_every_check() {
        let (_dir, db) = otelbox_store("");
        let report = check_database(&db).unwrap();
        assert!(report.is_ok(), "{report}");
        assert!(report.wal.as_ref().is_some_and(|scan| scan.committed_transactions > 0), "{report}");
        assert_eq!(report.integrity, Finding::Ok(String::new()));
        assert_eq!(report.schema, Finding::Ok(format!("v{SCHEMA_VERSION}")));
        assert_eq!(report.row_counts, Finding::Ok("2 spans, 0 logs, 0 metric points".into()));
    }

    #[test]
    fn a_damaged_btree_page_fails_the_integrity_check() {
        let (_dir, db) = otelbox_store("");
        // Checkpointed and closed: the damage is in the database file itself.
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        drop(conn);
        let mut bytes = std::fs::read(&db).unwrap();
        let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
            1 => 65_536,
            size => usize::from(size),
        };
        assert!(bytes.len() >= 3 * page_size);
        // Page 3 is the root of one of the schema's first b-trees; 0x55 is no page type.
        bytes[2 * page_size..3 * page_size].fill(0x55);
        std::fs::write(&db, &bytes).unwrap();
        let report = check_database(&db).unwrap();
        assert!(!report.is_ok(), "{report}");
        assert!(report.integrity.is_problem(), "{report}");
    }

    #[test]
    fn row_counts_that_disagree_with_their_tables_are_a_problem() {
        let (_dir, db) = otelbox_store("UPDATE row_counts SET n = 7 WHERE tbl = 'logs';");
        let report = check_database(&db).unwrap();
        assert!(!report.is_ok(), "{report}");
        assert!(
            matches!(&report.row_counts, Finding::Problem(text) if text.contains("records 7 logs, the table holds 0")),
            "{report}"
        );
    }

    #[test]
    fn a_directory_without_a_database_cannot_be_checked() {
        let dir = tempfile::tempdir().unwrap();
        let checked = check_database(&dir.path().join("otelbox.db"));
        assert!(matches!(checked, Err(CheckError::NoDatabase { .. })), "{checked:?}");
    }

    #[test]
    fn counts_are_grouped_in_thousands() {
        assert_eq!(thousands(0u64), "0");
        assert_eq!(thousands(999u64), "999");
        assert_eq!(thousands(1_234u64), "1,234");
        assert_eq!(thousands(1_234_567u64), "1,234,567");
        assert_eq!(thousands(-1_000i64), "-1,000");
    }
}
