//! Traces that are not complete yet: a stored span names a parent that is not stored (the root, or
//! a span in between, has not arrived, or was lost). What `otelbox wait --complete` polls.

use super::read::TimeRange;
use super::schema::span_of_trace;
use super::sql::SqlFilter;
use super::StoreError;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension};

/// Spans with a missing parent examined at most per call (the oldest first).
const MAX_ROWS: usize = 10_000;
/// Spans listed at most per missing parent.
const MAX_WAITING: usize = 5;

#[derive(Clone, Debug, PartialEq)]
pub struct WaitingSpan {
    pub span_id: Vec<u8>,
    pub name: String,
    pub service: String,
}

/// A parent span some stored spans name, and that is not stored.
#[derive(Clone, Debug, PartialEq)]
pub struct MissingParent {
    pub parent_span_id: Vec<u8>,
    /// How many stored spans name it.
    pub children: i64,
    /// The first `MAX_WAITING` of them.
    pub waiting: Vec<WaitingSpan>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IncompleteTrace {
    pub trace_id: Vec<u8>,
    /// Whether a span without a parent (the root) is stored.
    pub has_root: bool,
    pub missing: Vec<MissingParent>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Incomplete {
    /// Incomplete traces found in all (within `MAX_ROWS` spans with a missing parent).
    pub total: i64,
    /// The first `limit` of them, oldest first.
    pub traces: Vec<IncompleteTrace>,
}

/// Incomplete traces among those with a span matching `filter` (every trace for a filter that
/// matches everything), counting spans that start in `range`.
pub fn incomplete_traces(conn: &Connection, filter: &SqlFilter, range: TimeRange, limit: usize) -> Result<Incomplete, StoreError> {
    let mut params = vec![Value::Integer(range.start), Value::Integer(range.end)];
    let scope = if filter.sql == "1" {
        String::new()
    } else {
        params.extend(filter.params.iter().cloned());
        format!(" AND s.trace_id IN (SELECT s.trace_id FROM spans s WHERE {})", filter.sql)
    };
    params.push(Value::Integer(MAX_ROWS as i64));
    let sql = format!(
        "SELECT s.trace_id, s.parent_span_id, s.span_id, s.name, r.service FROM spans s JOIN resources r ON r.id = s.resource_id
         WHERE s.parent_span_id IS NOT NULL AND s.start_ns BETWEEN ? AND ?{scope}
         AND NOT EXISTS (SELECT 1 FROM spans p WHERE {})
         ORDER BY s.id LIMIT ?",
        span_of_trace("p", "s.trace_id", "s.parent_span_id")
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(params), |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            WaitingSpan {
                span_id: r.get(2)?,
                name: r.get(3)?,
                service: r.get(4)?,
            },
        ))
    })?;
    let mut all: Vec<IncompleteTrace> = Vec::new();
    for row in rows {
        let (trace_id, parent, span) = row?;
        let index = match all.iter().position(|t| t.trace_id == trace_id) {
            Some(i) => i,
            None => {
                all.push(IncompleteTrace {
                    trace_id,
                    has_root: false,
                    missing: Vec::new(),
                });
                all.len() - 1
            }
        };
        let trace = &mut all[index];
        match trace.missing.iter_mut().find(|m| m.parent_span_id == parent) {
            Some(m) => {
                m.children += 1;
                if m.waiting.len() < MAX_WAITING {
                    m.waiting.push(span);
                }
            }
            None => trace.missing.push(MissingParent {
                parent_span_id: parent,
                children: 1,
                waiting: vec![span],
            }),
        }
    }
    let total = all.len() as i64;
    all.truncate(limit);
    let mut root = conn.prepare_cached("SELECT root_name IS NOT NULL FROM traces WHERE trace_id = ?1")?;
    for trace in &mut all {
        trace.has_root = root
            .query_row([&trace.trace_id], |r| r.get::<_, bool>(0))
            .optional()?
            .unwrap_or(false);
    }
    Ok(Incomplete { total, traces: all })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::{compile_text, NoResourceAttrs, Target};

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        // Trace 01: complete. Trace 02: the root (0c) has not arrived; two spans wait on it, and
        // one on 0f, lost in between. Trace 03: its root arrived, a span in between did not.
        conn.execute_batch(
            "INSERT INTO resources(id, hash, service, schema_url, body) VALUES (1, 1, 'svc', '', x'');
             INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count, root_service, root_name, first_span, last_span)
               VALUES (x'01', 100, 400, 2, 0, 'svc', 'root', 1, 2), (x'02', 100, 400, 3, 0, NULL, NULL, 3, 5),
                      (x'03', 100, 400, 2, 0, 'svc', 'root', 6, 7);
             INSERT INTO main.spans(id, trace_id, span_id, parent_span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code) VALUES
               (1, x'01', x'0a', NULL, 'root', 0, 1, 1, 100, 400, 0),
               (2, x'01', x'0b', x'0a', 'child', 0, 1, 1, 150, 390, 0),
               (3, x'02', x'0d', x'0c', 'a', 0, 1, 1, 150, 390, 0),
               (4, x'02', x'0e', x'0c', 'b', 0, 1, 1, 150, 390, 0),
               (5, x'02', x'10', x'0f', 'c', 0, 1, 1, 150, 390, 0),
               (6, x'03', x'1a', NULL, 'root', 0, 1, 1, 100, 400, 0),
               (7, x'03', x'1c', x'1b', 'leaf', 0, 1, 1, 150, 390, 0);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn traces_with_a_missing_parent_name_it_and_the_spans_waiting_on_it() {
        let conn = store();
        let found = incomplete_traces(&conn, &SqlFilter::everything(), TimeRange::ALL, 10).unwrap();
        assert_eq!(found.total, 2);
        let ids: Vec<&[u8]> = found.traces.iter().map(|t| t.trace_id.as_slice()).collect();
        assert_eq!(ids, [&[2u8][..], &[3u8][..]]);
        let second = &found.traces[0];
        assert!(!second.has_root);
        assert_eq!(second.missing.len(), 2);
        assert_eq!(second.missing[0].parent_span_id, vec![0x0c]);
        assert_eq!(second.missing[0].children, 2);
        let names: Vec<&str> = second.missing[0].waiting.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(found.traces[1].has_root);
        assert_eq!(found.traces[1].missing[0].waiting[0].name, "leaf");
        // The limit cuts the list, not the total.
        let first = incomplete_traces(&conn, &SqlFilter::everything(), TimeRange::ALL, 1).unwrap();
        assert_eq!((first.total, first.traces.len()), (2, 1));
    }

    #[test]
    fn a_filter_picks_the_traces_examined() {
        let conn = store();
        let only = |q: &str| {
            let filter = compile_text(Some(q), Target::Spans, &NoResourceAttrs).unwrap();
            incomplete_traces(&conn, &filter, TimeRange::ALL, 10).unwrap().total
        };
        assert_eq!(only("name = child"), 0);
        assert_eq!(only("name = leaf"), 1);
        assert_eq!(only("name = root"), 1);
    }
}
