//! The SQLite schema and its versioned migrations (tracked in `PRAGMA user_version`), plus the
//! connection settings every connection uses.

use rusqlite::Connection;

/// Each entry upgrades the schema from version `index` to `index + 1`. Append, never edit.
const MIGRATIONS: &[&str] = &[
    // v1: spans, traces, logs, metrics.
    r#"
    CREATE TABLE resources (
        id INTEGER PRIMARY KEY,
        hash INTEGER NOT NULL UNIQUE,      -- of the encoded Resource + schema url: dedup key
        service TEXT NOT NULL,
        schema_url TEXT NOT NULL,
        body BLOB NOT NULL                 -- encoded opentelemetry Resource
    );
    CREATE INDEX resources_service ON resources(service);
    CREATE TABLE scopes (
        id INTEGER PRIMARY KEY,
        hash INTEGER NOT NULL UNIQUE,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        schema_url TEXT NOT NULL,
        body BLOB NOT NULL                 -- encoded InstrumentationScope
    );
    CREATE TABLE spans (
        id INTEGER PRIMARY KEY AUTOINCREMENT, -- insertion order, never reused: tails and retention rely on it
        trace_id BLOB NOT NULL,
        span_id BLOB NOT NULL,
        parent_span_id BLOB,               -- NULL for a root span
        name TEXT NOT NULL,
        kind INTEGER NOT NULL,
        resource_id INTEGER NOT NULL,
        scope_id INTEGER NOT NULL,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        status_code INTEGER NOT NULL,
        attrs BLOB,                        -- encoded KeyValueList of the span attributes
        extra BLOB                         -- encoded Span holding the rest (events, links, status message, ...)
    );
    CREATE INDEX spans_trace ON spans(trace_id);
    CREATE INDEX spans_start ON spans(start_ns);
    CREATE INDEX spans_resource ON spans(resource_id, start_ns);
    -- attribute equality search: hash of (key, typed value) -> a span of a trace holding it; one
    -- entry per (trace, value) per write group, so searches find candidate traces, then check spans
    CREATE TABLE span_attr_index (
        h INTEGER NOT NULL,
        span_rowid INTEGER NOT NULL,
        PRIMARY KEY (h, span_rowid)
    ) WITHOUT ROWID;
    CREATE TABLE traces (
        trace_id BLOB PRIMARY KEY,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        span_count INTEGER NOT NULL,
        error_count INTEGER NOT NULL,
        root_service TEXT,
        root_name TEXT
    ) WITHOUT ROWID;
    CREATE INDEX traces_start ON traces(start_ns);
    CREATE TABLE service_stats (
        service TEXT PRIMARY KEY,
        spans INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        last_seen_ns INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time_ns INTEGER NOT NULL,          -- time, or observed time when time is unset
        observed_ns INTEGER NOT NULL,
        severity_number INTEGER NOT NULL,
        severity_text TEXT NOT NULL,
        body_text TEXT NOT NULL,           -- the body rendered as text: what full-text search sees
        trace_id BLOB,
        span_id BLOB,
        resource_id INTEGER NOT NULL,
        scope_id INTEGER NOT NULL,
        attrs BLOB,
        extra BLOB                         -- encoded LogRecord holding the rest (typed body, flags, ...)
    );
    CREATE INDEX logs_time ON logs(time_ns);
    CREATE INDEX logs_trace ON logs(trace_id) WHERE trace_id IS NOT NULL;
    CREATE INDEX logs_resource ON logs(resource_id, time_ns);
    CREATE VIRTUAL TABLE logs_fts USING fts5(body_text, content='', contentless_delete=1, tokenize='unicode61');
    CREATE TABLE metric_streams (
        id INTEGER PRIMARY KEY,
        hash INTEGER NOT NULL UNIQUE,
        name TEXT NOT NULL,
        type INTEGER NOT NULL,             -- 1 gauge, 2 sum, 3 histogram, 4 exponential histogram, 5 summary
        unit TEXT NOT NULL,
        description TEXT NOT NULL,
        monotonic INTEGER NOT NULL,
        temporality INTEGER NOT NULL,
        resource_id INTEGER NOT NULL,
        scope_id INTEGER NOT NULL,
        attrs BLOB,
        metadata BLOB                      -- encoded Metric without data: metadata attributes
    );
    CREATE INDEX metric_streams_name ON metric_streams(name);
    CREATE TABLE metric_points (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        stream_id INTEGER NOT NULL,
        time_ns INTEGER NOT NULL,
        start_ns INTEGER NOT NULL,
        value REAL,                        -- number points; count for histograms and summaries
        value_int INTEGER,                 -- set when a number point was an integer
        body BLOB                          -- encoded data point without attributes (histograms, exemplars, flags)
    );
    CREATE INDEX metric_points_stream ON metric_points(stream_id, time_ns);
    CREATE INDEX metric_points_time ON metric_points(time_ns);
    -- live row counts, kept by the writer and retention, so status never counts millions of rows
    CREATE TABLE row_counts (tbl TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO row_counts VALUES ('spans', 0), ('logs', 0), ('metric_points', 0);
    "#,
    // v2: bucketed span indexes. Both indexes on random keys (trace ids, attribute hashes) lead with
    // the span row id's bucket (`id >> 16`, 65,536 rows), so new entries go into the newest bucket
    // only: a commit dirties a few pages there instead of pages all over each index, which made
    // every commit (and checkpoint) rewrite most of both indexes, more the bigger the store
    // (scripts/bench). Lookups probe the buckets a trace's spans lie in, kept in `traces`.
    r#"
    ALTER TABLE traces ADD COLUMN first_span INTEGER;  -- lowest span row id of the trace seen
    ALTER TABLE traces ADD COLUMN last_span INTEGER;   -- highest
    UPDATE traces SET first_span = (SELECT min(id) FROM spans s WHERE s.trace_id = traces.trace_id),
                      last_span = (SELECT max(id) FROM spans s WHERE s.trace_id = traces.trace_id);
    CREATE INDEX spans_bucket_trace ON spans((id >> 16), trace_id);
    DROP INDEX spans_trace;
    CREATE TABLE span_attr_index_v2 (
        b INTEGER NOT NULL,                -- span_rowid >> 16
        h INTEGER NOT NULL,
        span_rowid INTEGER NOT NULL,
        PRIMARY KEY (b, h, span_rowid)
    ) WITHOUT ROWID;
    INSERT INTO span_attr_index_v2 SELECT span_rowid >> 16, h, span_rowid FROM span_attr_index;
    DROP TABLE span_attr_index;
    ALTER TABLE span_attr_index_v2 RENAME TO span_attr_index;
    "#,
    // v3: a block-range time index instead of B-trees over every span's start time and resource.
    // Those two indexes cost the writer 40% of its time (scripts/bench, `bench-sqlite --sql`);
    // time windows now go through `span_blocks` (store::blocks), service filters through the few
    // resources of a service and the trace lookups.
    r#"
    CREATE TABLE span_blocks (
        first_id INTEGER PRIMARY KEY,      -- span row ids first_id..=last_id (some may be deleted)
        last_id INTEGER NOT NULL,
        min_start INTEGER NOT NULL,        -- earliest start_ns among them
        max_start INTEGER NOT NULL         -- latest
    );
    INSERT INTO span_blocks SELECT min(id), max(id), min(start_ns), max(start_ns) FROM spans GROUP BY id >> 12;
    DROP INDEX spans_start;
    DROP INDEX spans_resource;
    "#,
    // v4: duplicate spans and arrival times.
    // - The bucketed trace index also holds the span id, so the writer finds a span already stored
    //   (same trace id and span id: a retry, an at-least-once queue, a file imported twice) with
    //   one index seek per bucket of its trace, and keeps the first copy.
    // - `arrivals` records when rows arrived, coarsely: every row up to these ids was received at
    //   or before `received_ns`. Retention by age counts from arrival, so data with old
    //   timestamps (an import, a sender with a wrong clock) lives the retention period from when
    //   otelbox received it. Rows already stored count as arrived at the upgrade.
    r#"
    CREATE INDEX spans_bucket_trace_span ON spans((id >> 16), trace_id, span_id);
    DROP INDEX spans_bucket_trace;
    CREATE TABLE arrivals (
        opened_ns INTEGER PRIMARY KEY,     -- when this row was started; a new one every ARRIVAL_INTERVAL
        received_ns INTEGER NOT NULL,      -- the latest commit it covers
        last_span INTEGER NOT NULL,        -- highest span, log and point row ids committed by then
        last_log INTEGER NOT NULL,
        last_point INTEGER NOT NULL
    );
    INSERT INTO arrivals
      SELECT CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER), CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER),
             (SELECT coalesce(max(id), 0) FROM spans), (SELECT coalesce(max(id), 0) FROM logs), (SELECT coalesce(max(id), 0) FROM metric_points);
    "#,
    // v5: resources, scopes and metric series are deleted once nothing uses them (retention).
    // Each resource and scope remembers the last span and log row that used it (row ids only
    // grow, so one older than the oldest row left is unused without scanning the rows); metric
    // series are found by their own resource and scope. Rows stored before count as used by the
    // newest rows, so they go with all of today's data at the latest.
    r#"
    ALTER TABLE resources ADD COLUMN last_span INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE resources ADD COLUMN last_log INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE scopes ADD COLUMN last_span INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE scopes ADD COLUMN last_log INTEGER NOT NULL DEFAULT 0;
    UPDATE resources SET last_span = (SELECT coalesce(max(id), 0) FROM spans), last_log = (SELECT coalesce(max(id), 0) FROM logs);
    UPDATE scopes SET last_span = (SELECT coalesce(max(id), 0) FROM spans), last_log = (SELECT coalesce(max(id), 0) FROM logs);
    CREATE INDEX metric_streams_resource ON metric_streams(resource_id);
    CREATE INDEX metric_streams_scope ON metric_streams(scope_id);
    "#,
    // v6: LLM and agent spans normalized at write time (`crate::llm`), whatever their dialect: one row
    // per such span, keyed by the span's row id, so a time window's rows are the same row-id ranges as
    // its spans' (`span_blocks`) and a trace's are found through the spans' trace index. No index of
    // its own (a random-key index cost the writer a third of its rate): runs, sessions and models
    // aggregate the window's rows, and a run id is found through the attribute index. Compact (every
    // byte here is per LLM span): what the span row has (trace, times, the raw `run_id`) is read from
    // it, codes for the operation and the dialects, the response model only when it differs. Spans
    // stored before are not normalized (the raw attributes are all still there).
    r#"
    CREATE TABLE llm_spans (
        id INTEGER PRIMARY KEY,          -- spans.id (its trace and times are the span's)
        operation INTEGER NOT NULL,      -- llm::Operation::code: agent, llm_call, embeddings, retrieval, tool, workflow, other
        error INTEGER NOT NULL,
        dialects INTEGER NOT NULL,       -- llm::Dialect::bit set
        provider TEXT,
        model TEXT,                      -- the request model, else the response model
        response_model TEXT,             -- only when it differs from model
        input_tokens INTEGER,            -- OTel's rule: includes cache reads and writes
        output_tokens INTEGER,           -- includes reasoning
        cache_read_tokens INTEGER,
        cache_creation_tokens INTEGER,
        reasoning_tokens INTEGER,
        cost_usd REAL,
        cost_source TEXT,                -- the reported attribute, or @<price table> (rows::CostSource)
        agent TEXT,
        session TEXT,
        user_id TEXT,
        tool TEXT,
        tool_arguments_hash INTEGER      -- FNV-1a of the call's arguments: repeated identical calls
    );
    "#,
    // v7: attribute blobs compressed with dictionaries trained on the store's own data
    // (`store::codec`); rows written before stay plain and read as before. Attribute index keys cut
    // to 32 bits (`rows::attr_hash`): 4 bytes stored instead of 8.
    r#"
    CREATE TABLE span_attr_index_v7 (
        b INTEGER NOT NULL,
        h INTEGER NOT NULL,
        span_rowid INTEGER NOT NULL,
        PRIMARY KEY (b, h, span_rowid)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO span_attr_index_v7 SELECT b, h & 4294967295, span_rowid FROM span_attr_index;
    DROP TABLE span_attr_index;
    ALTER TABLE span_attr_index_v7 RENAME TO span_attr_index;
    CREATE TABLE blob_dicts (
        id INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,           -- codec::BlobKind: 1 span attributes, 2 log attributes
        created_ns INTEGER NOT NULL,
        dict BLOB NOT NULL               -- a zstd dictionary; compressed blobs name its zstd id
    );
    "#,
    // v8: a leaner trace index. The key holds the first 8 bytes of the trace id and the first 4 of
    // the span id instead of all 24 (dbstat on the bench's agent workload: 40 bytes per span down to
    // 24). Lookups name the same prefixes (`span_in_trace`, `span_of_trace`) and compare the whole
    // ids on the rows they reach: a prefix shared by chance costs a row read, never a wrong answer.
    r#"
    CREATE INDEX spans_trace_key ON spans((id >> 16), substr(trace_id, 1, 8), substr(span_id, 1, 4));
    DROP INDEX spans_bucket_trace_span;
    "#,
    // v9: span packs (`store::packs`). Complete ranges of 1,024 span rows move into one compressed
    // pack each (about 30 bytes a span instead of 160 with the trace index); reads see them through
    // the `spans` view every connection creates (`store::packed`). Row ids stay: the attribute
    // index, `llm_spans`, `traces` and `span_blocks` keep pointing at the same spans. Existing rows
    // are packed from the oldest on, while the writer is idle.
    r#"
    CREATE TABLE span_packs (
        pack INTEGER PRIMARY KEY,        -- span row ids pack << 10 up to the next pack's
        spans INTEGER NOT NULL,
        body BLOB NOT NULL               -- packs::encode
    );
    -- a trace's packs, found as its rows are (`span_in_trace`): by the bucket (pack >> 6 = id >> 16)
    -- and the first 8 bytes of the trace id; the whole id is compared on the decoded spans
    CREATE TABLE span_pack_traces (
        b INTEGER NOT NULL,
        tkey BLOB NOT NULL,
        pack INTEGER NOT NULL,
        PRIMARY KEY (b, tkey, pack)
    ) WITHOUT ROWID;
    CREATE TABLE span_packing (
        floor INTEGER NOT NULL,          -- packed spans below this row id were deleted by retention
        next_pack INTEGER NOT NULL       -- the next range to pack
    );
    INSERT INTO span_packing VALUES (0, 0);
    "#,
];

/// Span rows per bucket of the bucketed indexes is `1 << SPAN_BUCKET_SHIFT`; the number is also
/// in the v2 migration's index expression, which queries must repeat exactly to use the index.
pub const SPAN_BUCKET_SHIFT: u32 = 16;

/// How many times `span_in_trace` evaluates its `trace` expression: the number of copies of the
/// trace id a caller binds when it passes a positional `?`.
pub const TRACE_EXPR_USES: usize = 3;

/// SQL condition: span `span` (a table alias) belongs to the trace `trace` (an SQL expression such
/// as `?1` or `t.trace_id`, evaluated `TRACE_EXPR_USES` times), looked up through `spans_trace_key`
/// in the buckets between the trace's first and last span rows. The index holds a prefix of the
/// trace id, written here exactly as in the v8 migration so that SQLite uses it; the whole id is
/// compared on the row.
pub fn span_in_trace(span: &str, trace: &str) -> String {
    format!(
        "({span}.id >> 16) IN (WITH RECURSIVE k(b, last) AS (SELECT first_span >> 16, last_span >> 16 FROM traces WHERE trace_id = {trace} \
         UNION ALL SELECT b + 1, last FROM k WHERE b < last) SELECT b FROM k) \
         AND substr({span}.trace_id, 1, 8) = substr({trace}, 1, 8) AND {span}.trace_id = {trace}"
    )
}

/// SQL condition: span `span` is the one with span id `span_id` (an SQL expression, evaluated
/// twice) in the trace `trace` (as in `span_in_trace`): one seek of `spans_trace_key` per bucket,
/// through its span id prefix, instead of a read of every span of the trace.
pub fn span_of_trace(span: &str, trace: &str, span_id: &str) -> String {
    format!(
        "{} AND substr({span}.span_id, 1, 4) = substr({span_id}, 1, 4) AND {span}.span_id = {span_id}",
        span_in_trace(span, trace)
    )
}

/// SQL list of every span bucket in use, for probing `span_attr_index` (leading column `b`).
/// The ends come from the rows and the packs apart (`packed::OLDEST_SPAN_ID`): a `min(id)` over the
/// `spans` view would read every span.
pub const ALL_SPAN_BUCKETS: &str = concat!(
    "(WITH RECURSIVE k(b, last) AS (SELECT ",
    crate::oldest_span_id_sql!(),
    " >> 16, ",
    crate::newest_span_id_sql!(),
    " >> 16 UNION ALL SELECT b + 1, last FROM k WHERE b < last) SELECT b FROM k)"
);

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Tables every otelbox database has had since v1: a database with a schema version but without
/// these was written by another program. Later migrations may add tables, never remove these.
const V1_TABLES: &[&str] = &[
    "resources",
    "scopes",
    "spans",
    "span_attr_index",
    "traces",
    "service_stats",
    "logs",
    "logs_fts",
    "metric_streams",
    "metric_points",
    "row_counts",
];

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("the database was written by a newer otelbox (schema v{found}, this build knows v{known})")]
    TooNew { found: i64, known: i64 },
    /// Another program's SQLite database: it has tables, but not otelbox's.
    #[error("a SQLite database of another program (it has tables {})", list_tables(tables))]
    Foreign { tables: Vec<String> },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// At most five names, then how many more.
pub fn list_tables(tables: &[String]) -> String {
    let mut text = tables.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if tables.len() > 5 {
        text.push_str(&format!(" and {} more", tables.len() - 5));
    }
    text
}

/// Refuse a file otelbox must not write to, before anything writes to it (the writer settings
/// alone would switch a foreign database to WAL): a newer otelbox schema, or a SQLite database of
/// another program. An empty file, or a database without tables, is a fresh store. A file that is
/// not SQLite at all fails here with `SQLITE_NOTADB` or `SQLITE_CORRUPT`. Only reads.
pub fn check_owner(conn: &Connection) -> Result<(), SchemaError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(SchemaError::TooNew {
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let ours = if version == 0 {
        // Migrations set the version in the transaction that creates the tables.
        tables.is_empty()
    } else {
        V1_TABLES.iter().all(|t| tables.iter().any(|have| have == t))
    };
    if ours {
        Ok(())
    } else {
        // Name what is not ours first: that is what the user recognises.
        let (mut theirs, mine): (Vec<String>, Vec<String>) = tables.into_iter().partition(|t| !is_otelbox_table(t));
        theirs.extend(mine);
        Err(SchemaError::Foreign { tables: theirs })
    }
}

fn is_otelbox_table(name: &str) -> bool {
    V1_TABLES.contains(&name)
        || name.starts_with("logs_fts_")
        || matches!(
            name,
            "span_blocks" | "arrivals" | "llm_spans" | "blob_dicts" | "span_packs" | "span_pack_traces" | "span_packing"
        )
}

/// Bring the database to the current schema version, one transaction per migration.
pub fn migrate(conn: &mut Connection) -> Result<(), SchemaError> {
    check_owner(conn)?;
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// WAL between the automatic checkpoints of the write connection, at most (`wal_checkpoint_pages`).
pub const WAL_CHECKPOINT_BYTES: u64 = 64 << 20;

/// Pages of WAL between automatic checkpoints (in the commit path): 64 MiB, or a 32nd of a size
/// cap, so the WAL stays a small part of what the cap allows. A checkpoint copies each page once
/// however often commits rewrote it, so a longer interval copies less per span (16 MiB: 45k
/// spans/s, 64 MiB: 53k, scripts/bench ingest). A separate PASSIVE checkpointer was tried and let
/// the WAL grow without bound under sustained writes.
pub fn wal_checkpoint_pages(cap: Option<u64>, page_size: u64) -> i64 {
    let bytes = cap.map_or(WAL_CHECKPOINT_BYTES, |cap| (cap / 32).min(WAL_CHECKPOINT_BYTES));
    (bytes / page_size.max(512)).max(16) as i64
}

/// Settings for the one write connection. WAL + synchronous=NORMAL: a commit survives a process
/// crash (kill -9); `synchronous=FULL` (durable_sync) also survives power loss, at some speed.
pub fn configure_writer(conn: &Connection, on_disk: bool, durable_sync: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // 16 KiB pages: shallower B-trees and fewer splits for the random index inserts (+17% on the
    // SQLite limit, scripts/bench). Takes effect only for a new database, so it must come first.
    conn.pragma_update(None, "page_size", 16 * 1024)?;
    // Packing (`store::packing`) frees the pages of the rows it packs; with incremental vacuum the
    // writer gives them back to the filesystem while idle (`Writer::vacuum_step`), so a burst of
    // ingest does not leave the file twice its data. Also only for a new database.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    if on_disk {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // The checkpoint interval and the WAL's size limit depend on the size cap: `Writer::new`.
        conn.pragma_update(None, "synchronous", if durable_sync { "FULL" } else { "NORMAL" })?;
    } else {
        conn.pragma_update(None, "journal_mode", "MEMORY")?;
        conn.pragma_update(None, "synchronous", "OFF")?;
    }
    conn.pragma_update(None, "cache_size", -64 * 1024)?; // 64 MiB
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The writer prepares some 40 statements (inserts, upserts, retention): keep all of them, where
    // rusqlite's default of 16 would re-parse some every group.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

pub fn configure_reader(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "cache_size", -16 * 1024)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_checkpoints_at_a_32nd_of_the_cap_and_at_most_64_mib() {
        const MIB: u64 = 1 << 20;
        assert_eq!(wal_checkpoint_pages(None, 16 * 1024), 4096);
        assert_eq!(wal_checkpoint_pages(Some(2048 * MIB), 16 * 1024), 4096);
        assert_eq!(wal_checkpoint_pages(Some(320 * MIB), 16 * 1024), 640);
        assert_eq!(wal_checkpoint_pages(None, 4096), 16384, "64 MiB of an older store's 4 KiB pages");
        assert_eq!(wal_checkpoint_pages(Some(MIB), 16 * 1024), 16, "never fewer than 16 pages");
    }

    /// A v2 store's spans get time blocks of 4,096 row ids each, and lose the two B-trees the
    /// blocks replace.
    #[test]
    fn a_v2_store_migrates_to_the_block_time_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            "INSERT INTO spans(id, trace_id, span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code)
               VALUES (1, x'01', x'01', 'a', 0, 1, 1, 30, 31, 0), (4095, x'01', x'02', 'b', 0, 1, 1, 10, 11, 0),
                      (4096, x'02', x'03', 'c', 0, 1, 1, 50, 51, 0), (9000, x'02', x'04', 'd', 0, 1, 1, 40, 41, 0);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let blocks: Vec<(i64, i64, i64, i64)> = conn
            .prepare("SELECT first_id, last_id, min_start, max_start FROM span_blocks ORDER BY first_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(blocks, [(1, 4095, 10, 30), (4096, 4096, 50, 50), (9000, 9000, 40, 40)]);
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('spans_start', 'spans_resource')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
    }

    /// A v1 store (spans indexed by trace id, an unbucketed attribute index) migrates to v2 with
    /// its traces' row ranges filled in and every entry moved to its bucket, and stays searchable.
    #[test]
    fn a_v1_store_migrates_to_bucketed_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO spans(id, trace_id, span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code)
               VALUES (3, x'01', x'01', 'a', 0, 1, 1, 1, 2, 0), (70000, x'02', x'02', 'b', 0, 1, 1, 1, 2, 0),
                      (140000, x'01', x'03', 'c', 0, 1, 1, 1, 2, 0);
             INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count) VALUES (x'01', 1, 2, 2, 0), (x'02', 1, 2, 1, 0);
             INSERT INTO span_attr_index(h, span_rowid) VALUES (42, 140000), (42, 70000);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let range: (i64, i64) = conn
            .query_row("SELECT first_span, last_span FROM traces WHERE trace_id = x'01'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(range, (3, 140000));
        let names: Vec<String> = conn
            .prepare(&format!(
                "SELECT s.name FROM spans s WHERE {} ORDER BY s.id",
                span_in_trace("s", "x'01'")
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(names, ["a", "c"]);
        let entries: Vec<(i64, i64)> = conn
            .prepare(&format!(
                "SELECT b, span_rowid FROM span_attr_index WHERE b IN {ALL_SPAN_BUCKETS} AND h = 42 ORDER BY b"
            ))
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(entries, [(1, 70000), (2, 140000)]);
        // The lookups use the bucketed index, not a scan of the spans.
        let plan: Vec<String> = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT s.name FROM spans s WHERE {}",
                span_in_trace("s", "?1")
            ))
            .unwrap()
            .query_map([b"x".to_vec()], |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(plan.iter().any(|p| p.contains("USING INDEX spans_trace_key")), "{plan:?}");
    }
}
