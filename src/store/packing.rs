//! Packing spans: the writer turns complete ranges of span rows into packs (`store::packs`), and
//! retention drops packed spans. The read side is `store::packed`.
//!
//! A range is packed once no row can join it (row ids only grow) and `ROW_PACKS` newer ranges are
//! complete too, so a trace's latest spans, which its late spans and duplicate checks look for, are
//! usually still rows. The writer packs while it has nothing else to do, a range at a time, and
//! between groups when the backlog is long (`Packing::step`). The rows go in the same transaction
//! that writes the pack, so a span is always in exactly one of the two.

use super::codec;
use super::packs::{self, SpanValues, PACK_BUCKET_SHIFT};
use rusqlite::{params, Connection, OptionalExtension};

/// Complete ranges left as rows behind the newest: 2,048 spans, where a trace's late spans and
/// their duplicate checks find the recent spans of their trace without decoding a pack.
pub const ROW_PACKS: i64 = 2;
/// Complete ranges waiting beyond which the writer packs between groups too, not only when idle:
/// about a quarter of a million spans.
pub const BACKLOG_PACKS: i64 = 256;

/// Packing's bookkeeping (`span_packing`): the lowest live packed span and the next range to pack.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    pub floor: i64,
    pub next_pack: i64,
}

pub fn progress(conn: &Connection) -> rusqlite::Result<Progress> {
    conn.prepare_cached("SELECT floor, next_pack FROM span_packing")?
        .query_row([], |r| {
            Ok(Progress {
                floor: r.get(0)?,
                next_pack: r.get(1)?,
            })
        })
        .optional()
        .map(Option::unwrap_or_default)
}

/// Ranges complete and waiting to be packed: all but the newest `ROW_PACKS` below the highest span
/// row id ever given (`sqlite_sequence`, which deleted rows do not lower).
pub fn waiting(conn: &Connection) -> rusqlite::Result<i64> {
    let highest: i64 = conn
        .prepare_cached("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'spans'), 0)")?
        .query_row([], |r| r.get(0))?;
    let complete = packs::pack_of(highest + 1); // packs below this one are complete
    Ok((complete - ROW_PACKS - progress(conn)?.next_pack).max(0))
}

/// Packs the next complete range, in a transaction of its own; returns the spans packed, or None
/// when no range is waiting.
pub fn pack_next(conn: &Connection) -> rusqlite::Result<Option<usize>> {
    if waiting(conn)? == 0 {
        return Ok(None);
    }
    let tx = conn.unchecked_transaction()?;
    let pack = progress(&tx)?.next_pack;
    let packed = pack_range(&tx, pack)?;
    tx.execute("UPDATE span_packing SET next_pack = ?1", [pack + 1])?;
    tx.commit()?;
    Ok(Some(packed))
}

/// A span row as read for packing.
struct RowValues {
    id: i64,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Option<Vec<u8>>,
    name: String,
    kind: i64,
    resource_id: i64,
    scope_id: i64,
    start_ns: i64,
    end_ns: i64,
    status_code: i64,
    attrs: Option<Vec<u8>>,
    extra: Option<Vec<u8>>,
}

/// Moves the rows of range `pack` into a pack; returns how many. A row whose values are not of the
/// types otelbox writes (another program edited the file) leaves the whole range as rows.
fn pack_range(tx: &Connection, pack: i64) -> rusqlite::Result<usize> {
    let ids = packs::ids_of(pack);
    let mut select = tx.prepare_cached(
        "SELECT id, trace_id, span_id, parent_span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code, attrs, extra
         FROM main.spans WHERE id >= ?1 AND id < ?2 ORDER BY id",
    )?;
    let read = select
        .query_map([ids.start, ids.end], |r| {
            Ok(RowValues {
                id: r.get(0)?,
                trace_id: r.get(1)?,
                span_id: r.get(2)?,
                parent_span_id: r.get(3)?,
                name: r.get(4)?,
                kind: r.get(5)?,
                resource_id: r.get(6)?,
                scope_id: r.get(7)?,
                start_ns: r.get(8)?,
                end_ns: r.get(9)?,
                status_code: r.get(10)?,
                attrs: r.get(11)?,
                extra: r.get(12)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>();
    let rows = match read {
        Ok(rows) => rows,
        Err(rusqlite::Error::InvalidColumnType(..) | rusqlite::Error::FromSqlConversionFailure(..)) => return Ok(0),
        Err(err) => return Err(err),
    };
    if rows.is_empty() {
        return Ok(0);
    }
    // Attributes go in plain: the pack's frame compresses them together.
    #[allow(clippy::type_complexity)] // per row: no attributes, or the plain bytes if they decode
    let plain_attrs: Vec<Option<Option<std::borrow::Cow<'_, [u8]>>>> = rows.iter().map(|r| r.attrs.as_deref().map(codec::plain)).collect();
    if plain_attrs.iter().any(|a| matches!(a, Some(None))) {
        return Ok(0); // a blob whose dictionary is gone: leave it as it is
    }
    let spans: Vec<SpanValues<'_>> = rows
        .iter()
        .zip(&plain_attrs)
        .map(|(r, attrs)| SpanValues {
            id: r.id,
            trace_id: &r.trace_id,
            span_id: &r.span_id,
            parent_span_id: r.parent_span_id.as_deref(),
            name: &r.name,
            kind: r.kind,
            resource_id: r.resource_id,
            scope_id: r.scope_id,
            start_ns: r.start_ns,
            end_ns: r.end_ns,
            status_code: r.status_code,
            attrs: attrs.as_ref().and_then(|a| a.as_deref()),
            extra: r.extra.as_deref(),
        })
        .collect();
    let body = packs::encode(&spans).map_err(|e| rusqlite::Error::ModuleError(e.to_string()))?;
    tx.prepare_cached("INSERT INTO span_packs(pack, spans, body) VALUES (?1, ?2, ?3)")?
        .execute(params![pack, spans.len() as i64, body])?;
    let mut index = tx.prepare_cached("INSERT OR IGNORE INTO span_pack_traces(b, tkey, pack) VALUES (?1, substr(?2, 1, 8), ?3)")?;
    let mut seen = std::collections::HashSet::new();
    for span in &spans {
        if seen.insert(span.trace_id) {
            index.execute(params![pack >> PACK_BUCKET_SHIFT, span.trace_id, pack])?;
        }
    }
    tx.prepare_cached("DELETE FROM main.spans WHERE id >= ?1 AND id < ?2")?
        .execute([ids.start, ids.end])?;
    Ok(spans.len())
}

/// Retention deleted every span up to `last` (the oldest first, so none older is left): packed
/// spans below it are hidden from now on, and packs entirely below it go with their index entries.
pub fn drop_through(tx: &Connection, last: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE span_packing SET floor = max(floor, ?1)")?
        .execute([last + 1])?;
    let first_kept = packs::pack_of(last + 1);
    tx.prepare_cached("DELETE FROM span_packs WHERE pack < ?1")?.execute([first_kept])?;
    tx.prepare_cached("DELETE FROM span_pack_traces WHERE b <= ?1 AND pack < ?2")?
        .execute([first_kept >> PACK_BUCKET_SHIFT, first_kept])?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::{packed, schema};

    /// An in-memory store of `n` span rows, ten to a trace, with their trace summaries.
    pub(crate) fn store_with_spans(n: i64) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::migrate(&mut conn).unwrap();
        packed::attach(&conn).unwrap();
        let mut insert = conn
            .prepare(
                "INSERT INTO main.spans(trace_id, span_id, parent_span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code, attrs)
                 VALUES (?1, ?2, NULL, ?3, 1, 1, 1, ?4, ?5, 0, x'0a00')",
            )
            .unwrap();
        for i in 0..n {
            let mut trace = [7u8; 16];
            trace[..8].copy_from_slice(&(i / 10).to_le_bytes());
            insert
                .execute(params![
                    &trace[..],
                    &(i as u64).to_be_bytes()[..],
                    format!("op {}", i % 7),
                    i * 1000,
                    i * 1000 + 50
                ])
                .unwrap();
            if i % 10 == 0 {
                conn.execute(
                    "INSERT OR IGNORE INTO traces(trace_id, start_ns, end_ns, span_count, error_count, first_span, last_span) VALUES (?1, 0, 0, 0, 0, ?2, ?2)",
                    params![&trace[..], i + 1],
                )
                .unwrap();
            }
            conn.execute("UPDATE traces SET last_span = ?2 WHERE trace_id = ?1", params![&trace[..], i + 1])
                .unwrap();
        }
        drop(insert);
        conn
    }

    fn all_spans(conn: &Connection) -> Vec<(i64, Vec<u8>, String, i64)> {
        conn.prepare("SELECT id, trace_id, name, end_ns FROM spans WHERE id > 0 ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn packing_moves_spans_without_changing_what_queries_see() {
        let conn = store_with_spans(7000);
        let before = all_spans(&conn);
        let mut packed_spans = 0;
        while let Some(n) = pack_next(&conn).unwrap() {
            packed_spans += n;
        }
        // Ids 1..=7000: ranges 0..=5 are complete, the newest 2 of them stay rows.
        assert_eq!(packed_spans, 1023 + 3 * 1024);
        let rows: i64 = conn.query_row("SELECT count(*) FROM main.spans", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 7000 - 4095);
        assert_eq!(all_spans(&conn), before);
        // Each access path of the virtual table gives what the rows gave.
        let by_id: String = conn.query_row("SELECT name FROM spans WHERE id = 500", [], |r| r.get(0)).unwrap();
        assert_eq!(by_id, before[499].2);
        let mut trace = vec![7u8; 16]; // spans 501..=510
        trace[..8].copy_from_slice(&50i64.to_le_bytes());
        let mut of_trace: Vec<i64> = conn
            .prepare(&format!("SELECT s.id FROM spans s WHERE {}", schema::span_in_trace("s", "?1")))
            .unwrap()
            .query_map([&trace], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        of_trace.sort();
        assert_eq!(of_trace, (501..=510).collect::<Vec<i64>>());
        let newest_first: Vec<i64> = conn
            .prepare("SELECT id FROM spans WHERE id BETWEEN 1020 AND 1030 ORDER BY id DESC")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(newest_first, (1020..=1030).rev().collect::<Vec<i64>>());
    }

    #[test]
    fn dropped_packed_spans_are_gone_from_every_query() {
        let conn = store_with_spans(7000);
        while pack_next(&conn).unwrap().is_some() {}
        drop_through(&conn, 1500).unwrap();
        let left: i64 = conn.query_row("SELECT count(*) FROM spans WHERE id > 0", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 5500);
        let oldest: i64 = conn
            .query_row("SELECT id FROM spans WHERE id > 0 ORDER BY id LIMIT 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(oldest, 1501);
        let packs: i64 = conn.query_row("SELECT count(*) FROM span_packs", [], |r| r.get(0)).unwrap();
        assert_eq!(packs, 3, "the first pack went whole");
        let gone: Option<String> = conn
            .query_row("SELECT name FROM spans WHERE id = 1000", [], |r| r.get(0))
            .optional()
            .unwrap();
        assert_eq!(gone, None);
    }

    /// The oldest or newest few spans, asked through `packed::spans_in_id_order`, are what the view
    /// in row-id order gives, and cost a pack or two, where the view sorted every pack first.
    #[test]
    fn the_first_spans_in_id_order_read_only_their_packs() {
        let conn = store_with_spans(45_000);
        while pack_next(&conn).unwrap().is_some() {}
        conn.execute("DELETE FROM main.spans WHERE id > 44_990", []).unwrap(); // rows and packs both hold some
        let ids = |sql: &str, limit: i64| -> (Vec<i64>, u64) {
            let before = packed::packs_decoded_on_this_thread();
            let ids = conn
                .prepare(sql)
                .unwrap()
                .query_map([limit], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            (ids, packed::packs_decoded_on_this_thread() - before)
        };
        for (newest_first, order) in [(false, "ASC"), (true, "DESC")] {
            for limit in [1, 100, 2000, 50_000] {
                let (fast, decoded) = ids(&packed::spans_in_id_order("id", "id >= 0", newest_first, "?1"), limit);
                let (slow, _) = ids(&format!("SELECT id FROM spans WHERE id >= 0 ORDER BY id {order} LIMIT ?1"), limit);
                assert_eq!(fast, slow, "{order} {limit}");
                let packs_returned = fast
                    .iter()
                    .filter(|&&id| id <= 41 * 1024)
                    .map(|&id| packs::pack_of(id))
                    .collect::<std::collections::HashSet<_>>();
                assert!(
                    decoded <= packs_returned.len() as u64 + 1,
                    "{decoded} packs decoded for {order} {limit}"
                );
            }
        }
    }

    /// Every form of row-id condition SQLite hands the virtual table (bounds of other types, reals
    /// between ids, `IN` lists, either order) gives over packs exactly what it gave over rows.
    #[test]
    fn every_kind_of_row_id_condition_reads_packs_as_rows() {
        let conn = store_with_spans(7000);
        let conditions = [
            "id > 1000.5",
            "id >= 1000",
            "id < 5",
            "id <= 5.5",
            "id = 1000.0",
            "id = 1000.5",
            "id = '1000'",
            "id IN (3, 1500, 2000, 6999)",
            "id BETWEEN 1020 AND 1030",
            "id > 2040 AND id < 2060 AND id > 2050",
            "id > 'x'",
            "id = NULL",
            "id IS NULL",
            "id >= -5 AND id < 3",
            "trace_id = x'00'",
            "trace_id = 'text'",
        ];
        let answer = |conn: &Connection, condition: &str, order: &str| -> Vec<i64> {
            conn.prepare(&format!("SELECT id FROM spans WHERE {condition} ORDER BY id {order}"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let before: Vec<_> = conditions
            .iter()
            .flat_map(|c| [answer(&conn, c, "ASC"), answer(&conn, c, "DESC")])
            .collect();
        while pack_next(&conn).unwrap().is_some() {}
        let after: Vec<_> = conditions
            .iter()
            .flat_map(|c| [answer(&conn, c, "ASC"), answer(&conn, c, "DESC")])
            .collect();
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            assert_eq!(a, b, "{} {}", conditions[i / 2], ["ASC", "DESC"][i % 2]);
        }
        assert!(before.iter().any(|ids| ids.len() > 5), "the conditions select something");
    }
}
