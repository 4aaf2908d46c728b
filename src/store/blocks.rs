//! The span time index: `span_blocks`, one row per run of consecutive span row ids with the
//! earliest and latest start time among them (a block-range index, like PostgreSQL's BRIN).
//!
//! A B-tree on every span's start time cost the writer a third of its time (scripts/bench:
//! `bench-sqlite --sql "DROP INDEX spans_start"`), while spans arrive nearly in time order anyway.
//! So time windows are found through the blocks instead: the few blocks whose start times overlap
//! the window give row-id ranges, and queries scan those rows by row id. The writer extends the
//! newest block with each write group until it holds `BLOCK_ROWS` rows, so a block costs one row
//! update per commit and the table stays small (a row per 4,096 spans).

use super::read::TimeRange;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};

/// A block is closed once it holds this many rows; the next write group starts a new one.
pub const BLOCK_ROWS: i64 = 4096;

/// Span rows `first..=last` (some may have been deleted since) and their start times' bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanBlock {
    pub first: i64,
    pub last: i64,
    pub min_start: i64,
    pub max_start: i64,
}

impl SpanBlock {
    /// Add rows `first..=last` starting between `min_start` and `max_start`.
    fn extend(&mut self, last: i64, min_start: i64, max_start: i64) {
        self.last = self.last.max(last);
        self.min_start = self.min_start.min(min_start);
        self.max_start = self.max_start.max(max_start);
    }
}

/// The spans a write group inserted: rows `first..=last`, starting between `min_start` and `max_start`.
#[derive(Clone, Copy, Debug)]
pub struct InsertedSpans {
    pub first: i64,
    pub last: i64,
    pub min_start: i64,
    pub max_start: i64,
}

impl InsertedSpans {
    /// None yet (`record` then does nothing).
    pub fn none() -> Self {
        InsertedSpans {
            first: i64::MAX,
            last: i64::MIN,
            min_start: i64::MAX,
            max_start: i64::MIN,
        }
    }

    pub fn add(&mut self, rowid: i64, start_ns: i64) {
        self.first = self.first.min(rowid);
        self.last = self.last.max(rowid);
        self.min_start = self.min_start.min(start_ns);
        self.max_start = self.max_start.max(start_ns);
    }
}

/// Record the group's spans in the newest block, or in a new one when the newest is full. Runs in
/// the group's transaction, so a rolled-back group leaves the blocks as they were.
pub fn record(tx: &Connection, inserted: InsertedSpans) -> rusqlite::Result<()> {
    if inserted.last < inserted.first {
        return Ok(());
    }
    let newest = tx
        .prepare_cached("SELECT first_id, last_id, min_start, max_start FROM span_blocks ORDER BY first_id DESC LIMIT 1")?
        .query_row([], block_from_row)
        .optional()?;
    let block = match newest {
        Some(mut block) if block.last - block.first + 1 < BLOCK_ROWS && block.last < inserted.first => {
            block.extend(inserted.last, inserted.min_start, inserted.max_start);
            block
        }
        _ => SpanBlock {
            first: inserted.first,
            last: inserted.last,
            min_start: inserted.min_start,
            max_start: inserted.max_start,
        },
    };
    tx.prepare_cached("INSERT OR REPLACE INTO span_blocks(first_id, last_id, min_start, max_start) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![block.first, block.last, block.min_start, block.max_start])?;
    Ok(())
}

fn block_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SpanBlock> {
    Ok(SpanBlock {
        first: r.get(0)?,
        last: r.get(1)?,
        min_start: r.get(2)?,
        max_start: r.get(3)?,
    })
}

/// The blocks holding spans that may start in `range`, in row order.
pub fn overlapping(conn: &Connection, range: TimeRange) -> rusqlite::Result<Vec<SpanBlock>> {
    let blocks = conn
        .prepare_cached(
            "SELECT first_id, last_id, min_start, max_start FROM span_blocks WHERE max_start >= ?1 AND min_start <= ?2 ORDER BY first_id",
        )?
        .query_map(params![range.start, range.end], block_from_row)?
        .collect();
    blocks
}

/// Row-id ranges covering these blocks (in row order), neighbours merged: spans arriving in time
/// order make a recent window one range.
pub fn id_ranges(blocks: &[SpanBlock]) -> Vec<(i64, i64)> {
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for block in blocks {
        match ranges.last_mut() {
            Some(last) if block.first <= last.1 + 1 => last.1 = last.1.max(block.last),
            _ => ranges.push((block.first, block.last)),
        }
    }
    ranges
}

/// SQL condition (with its parameters) restricting span alias `s` to the rows that may start in
/// `range`: `1` for the whole time line, `0` when no block overlaps it.
pub fn id_condition(conn: &Connection, range: TimeRange) -> rusqlite::Result<(String, Vec<Value>)> {
    if range == TimeRange::ALL {
        return Ok(("1".into(), Vec::new()));
    }
    let ranges = id_ranges(&overlapping(conn, range)?);
    if ranges.is_empty() {
        return Ok(("0".into(), Vec::new()));
    }
    let sql = vec!["s.id BETWEEN ? AND ?"; ranges.len()].join(" OR ");
    let params = ranges
        .into_iter()
        .flat_map(|(lo, hi)| [Value::Integer(lo), Value::Integer(hi)])
        .collect();
    Ok((format!("({sql})"), params))
}

/// The `limit` rows of `spans s` matching `condition` that start latest in `range`, latest first
/// (ties: the later row first), each made by `map` from the columns `columns`; `start_of` gives a
/// made row's (start, row id) back.
///
/// Walks the blocks from the latest start times down, taking each block's best matches, and stops
/// once no block left can hold a row starting later than the `limit`-th found: with spans arriving
/// in time order, the blocks the answer lies in and a neighbour or two.
#[allow(clippy::too_many_arguments)] // the pieces of one query
pub fn latest_starting<T>(
    conn: &Connection,
    columns: &str,
    condition: &str,
    condition_params: &[Value],
    range: TimeRange,
    limit: usize,
    mut map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    start_of: impl Fn(&T) -> (i64, i64),
) -> rusqlite::Result<Vec<T>> {
    let mut blocks = overlapping(conn, range)?;
    blocks.sort_by_key(|b| std::cmp::Reverse(b.max_start));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {columns} FROM spans s WHERE s.id BETWEEN ? AND ? AND ({condition}) AND s.start_ns BETWEEN ? AND ?
         ORDER BY s.start_ns DESC, s.id DESC LIMIT ?"
    ))?;
    let mut found: Vec<T> = Vec::new();
    for block in blocks {
        if limit == 0 || (found.len() >= limit && start_of(&found[limit - 1]).0 > block.max_start) {
            break;
        }
        let mut params = vec![Value::Integer(block.first), Value::Integer(block.last)];
        params.extend(condition_params.iter().cloned());
        params.extend([Value::Integer(range.start), Value::Integer(range.end), Value::Integer(limit as i64)]);
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut more = Vec::new();
        while let Some(row) = rows.next()? {
            more.push(map(row)?);
        }
        found = merge_latest_first(found, more, &start_of, limit);
    }
    Ok(found)
}

/// Two runs sorted latest first, merged and cut to `limit`: linear, as blocks come one by one.
fn merge_latest_first<T>(a: Vec<T>, b: Vec<T>, start_of: &impl Fn(&T) -> (i64, i64), limit: usize) -> Vec<T> {
    if a.is_empty() || b.is_empty() {
        let mut one = if a.is_empty() { b } else { a };
        one.truncate(limit);
        return one;
    }
    let mut out = Vec::with_capacity((a.len() + b.len()).min(limit));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while out.len() < limit {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => start_of(x) >= start_of(y),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}

/// After retention: forget blocks whose rows are all gone, and narrow the oldest remaining block
/// to the rows it still has, so time windows do not cover what is gone.
pub fn trim(tx: &Connection) -> rusqlite::Result<()> {
    let oldest_span: Option<i64> = tx.query_row(&format!("SELECT {}", super::packed::OLDEST_SPAN_ID), [], |r| r.get(0))?;
    let Some(oldest_span) = oldest_span else {
        tx.execute("DELETE FROM span_blocks", [])?;
        return Ok(());
    };
    tx.prepare_cached("DELETE FROM span_blocks WHERE last_id < ?1")?
        .execute([oldest_span])?;
    // The earliest start as `ORDER BY .. LIMIT 1`, not `min()`: SQLite flattens that into the rows
    // and the packs of the `spans` view with the block's bounds, where an aggregate over the view,
    // correlated with the block, read every pack (store::packed).
    tx.prepare_cached(
        "UPDATE span_blocks SET min_start = coalesce(
           (SELECT s.start_ns FROM spans s WHERE s.id BETWEEN span_blocks.first_id AND span_blocks.last_id ORDER BY s.start_ns LIMIT 1),
           min_start)
         WHERE first_id = (SELECT max(first_id) FROM span_blocks WHERE first_id <= ?1)",
    )?
    .execute([oldest_span])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The latest starts across blocks whose time ranges overlap, as one index over all rows would give.
    #[test]
    fn the_latest_starting_rows_are_exact_across_overlapping_blocks() {
        let conn = store();
        // Three blocks of 100 rows; starts interleave across them and one late straggler sits in the first.
        let mut starts = Vec::new();
        for id in 1..=300i64 {
            let start = if id == 42 { 10_000 } else { (id % 100) * 10 + id / 100 };
            starts.push((start, id));
            conn.execute(
                "INSERT INTO main.spans(id, trace_id, span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code)
                 VALUES (?1, x'01', x'01', 'a', 0, 1, 1, ?2, ?2, ?3)",
                params![id, start, id % 3],
            )
            .unwrap();
        }
        for first in [1, 101, 201] {
            let block: Vec<i64> = starts
                .iter()
                .filter(|(_, id)| (first..first + 100).contains(id))
                .map(|s| s.0)
                .collect();
            let (min, max) = (*block.iter().min().unwrap(), *block.iter().max().unwrap());
            conn.execute(
                "INSERT INTO span_blocks VALUES (?1, ?2, ?3, ?4)",
                params![first, first + 99, min, max],
            )
            .unwrap();
        }
        for (range, limit, condition) in [
            (TimeRange::ALL, 7, "1"),
            (TimeRange { start: 100, end: 900 }, 25, "1"),
            (TimeRange { start: 0, end: 2000 }, 40, "s.status_code = 1"),
            (TimeRange::ALL, 1000, "1"),
        ] {
            let got = latest_starting(
                &conn,
                "s.start_ns, s.id",
                condition,
                &[],
                range,
                limit,
                |r| Ok((r.get(0)?, r.get(1)?)),
                |t| *t,
            )
            .unwrap();
            let mut want: Vec<(i64, i64)> = starts
                .iter()
                .copied()
                .filter(|(start, id)| (range.start..=range.end).contains(start) && (condition == "1" || id % 3 == 1))
                .collect();
            want.sort_by(|a, b| b.cmp(a));
            want.truncate(limit);
            assert_eq!(got, want, "{range:?} limit {limit} where {condition}");
        }
    }

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        conn
    }

    fn blocks(conn: &Connection) -> Vec<SpanBlock> {
        overlapping(
            conn,
            TimeRange {
                start: i64::MIN,
                end: i64::MAX,
            },
        )
        .unwrap()
    }

    fn inserted(first: i64, last: i64, min_start: i64, max_start: i64) -> InsertedSpans {
        InsertedSpans {
            first,
            last,
            min_start,
            max_start,
        }
    }

    #[test]
    fn groups_extend_the_newest_block_until_it_is_full() {
        let conn = store();
        record(&conn, inserted(1, 1000, 50, 60)).unwrap();
        record(&conn, inserted(1001, 4000, 40, 70)).unwrap();
        assert_eq!(
            blocks(&conn),
            [SpanBlock {
                first: 1,
                last: 4000,
                min_start: 40,
                max_start: 70
            }]
        );
        // 4,000 rows: still room, so it grows past the bound once; the group after starts a new block.
        record(&conn, inserted(4001, 6000, 80, 90)).unwrap();
        record(&conn, inserted(6001, 6010, 95, 99)).unwrap();
        assert_eq!(
            blocks(&conn),
            [
                SpanBlock {
                    first: 1,
                    last: 6000,
                    min_start: 40,
                    max_start: 90
                },
                SpanBlock {
                    first: 6001,
                    last: 6010,
                    min_start: 95,
                    max_start: 99
                },
            ]
        );
        record(&conn, InsertedSpans::none()).unwrap();
        assert_eq!(blocks(&conn).len(), 2, "a group without spans records nothing");
    }

    #[test]
    fn a_window_finds_the_overlapping_blocks_as_merged_row_ranges() {
        let conn = store();
        for (i, (min, max)) in [(0, 10), (10, 20), (20, 30), (5, 100)].into_iter().enumerate() {
            let first = i as i64 * BLOCK_ROWS + 1;
            record(&conn, inserted(first, first + BLOCK_ROWS - 1, min, max)).unwrap();
        }
        let window = |start, end| id_ranges(&overlapping(&conn, TimeRange { start, end }).unwrap());
        assert_eq!(
            window(12, 18),
            [(BLOCK_ROWS + 1, 2 * BLOCK_ROWS), (3 * BLOCK_ROWS + 1, 4 * BLOCK_ROWS)]
        );
        assert_eq!(window(0, 100), [(1, 4 * BLOCK_ROWS)]);
        assert_eq!(window(101, 200), []);
        let (sql, params) = id_condition(&conn, TimeRange { start: 101, end: 200 }).unwrap();
        assert_eq!((sql.as_str(), params.len()), ("0", 0));
        let (sql, params) = id_condition(&conn, TimeRange { start: 12, end: 18 }).unwrap();
        assert_eq!((sql.as_str(), params.len()), ("(s.id BETWEEN ? AND ? OR s.id BETWEEN ? AND ?)", 4));
        assert_eq!(
            id_condition(&conn, TimeRange { start: 25, end: 26 }).unwrap().0,
            "(s.id BETWEEN ? AND ?)"
        );
        assert_eq!(id_condition(&conn, TimeRange::ALL).unwrap().0, "1");
    }

    #[test]
    fn trimming_drops_emptied_blocks_and_narrows_the_oldest() {
        let conn = store();
        conn.execute_batch(
            "INSERT INTO main.spans(id, trace_id, span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code)
               VALUES (5000, x'01', x'01', 'a', 0, 1, 1, 70, 71, 0), (9000, x'01', x'02', 'b', 0, 1, 1, 90, 91, 0);",
        )
        .unwrap();
        record(&conn, inserted(1, 4096, 10, 20)).unwrap();
        record(&conn, inserted(4097, 8192, 5, 80)).unwrap();
        record(&conn, inserted(8193, 9000, 90, 90)).unwrap();
        trim(&conn).unwrap();
        assert_eq!(
            blocks(&conn),
            [
                SpanBlock {
                    first: 4097,
                    last: 8192,
                    min_start: 70,
                    max_start: 80
                },
                SpanBlock {
                    first: 8193,
                    last: 9000,
                    min_start: 90,
                    max_start: 90
                },
            ]
        );
        conn.execute("DELETE FROM main.spans", []).unwrap();
        trim(&conn).unwrap();
        assert_eq!(blocks(&conn), []);
    }
}
