//! Aggregates over a time window for the overview pages: per-service and per-operation rates, errors
//! and exact duration percentiles, the service dependency graph, and LLM-agent runs. Window scans walk
//! the window's rows (found through the time index, `blocks`) newest stored first and stop after a
//! fixed number of spans, so a wide window stays cheap.

use super::read::TimeRange;
use super::schema::span_in_trace;
use super::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

/// The most spans one window aggregate reads: the newest this many spans of the window, whatever the
/// store holds, so the cost of a request does not grow with the window. A window holding more is
/// answered from its newest part and marked `sampled`.
pub const MAX_SCAN: usize = 200_000;

/// The busiest operations listed per service (high-cardinality span names would otherwise make the
/// answer as long as the scan).
pub const MAX_OPERATIONS: usize = 100;

/// Parents outside the scanned spans (the window's edge, or spans that never arrived) are looked up
/// by id at most this many times per dependency query.
pub const MAX_PARENT_LOOKUPS: usize = 5_000;

const STATUS_ERROR: i32 = 2;

/// Exact duration percentiles (nearest rank) in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub p50_ns: i64,
    pub p95_ns: i64,
    pub p99_ns: i64,
}

impl Percentiles {
    /// Sorts `durations` in place.
    fn of(durations: &mut [i64]) -> Self {
        durations.sort_unstable();
        Percentiles {
            p50_ns: nearest_rank(durations, 50),
            p95_ns: nearest_rank(durations, 95),
            p99_ns: nearest_rank(durations, 99),
        }
    }
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `p`% of the values
/// at or below it (0 for no values).
pub fn nearest_rank(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[derive(Clone, Debug, PartialEq)]
pub struct OperationStats {
    pub name: String,
    pub kind: i32,
    pub spans: i64,
    pub errors: i64,
    pub durations: Percentiles,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceStats {
    pub name: String,
    pub spans: i64,
    pub errors: i64,
    pub durations: Percentiles,
    /// The busiest first, at most `MAX_OPERATIONS`.
    pub operations: Vec<OperationStats>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceStatsReport {
    /// By name.
    pub services: Vec<ServiceStats>,
    /// The window held more spans than the scan takes: the figures are of its newest spans only.
    pub sampled: bool,
    /// Where the time the figures cover starts: the window's start, or the oldest aggregated span's
    /// start when sampled.
    pub covered_from_ns: i64,
}

/// `resources.id` -> service name, looked up as ids turn up.
#[derive(Default)]
struct ServiceNames(HashMap<i64, String>);

impl ServiceNames {
    fn get(&mut self, conn: &Connection, id: i64) -> rusqlite::Result<&str> {
        Ok(match self.0.entry(id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert(
                conn.prepare_cached("SELECT service FROM resources WHERE id = ?1")?
                    .query_row([id], |r| r.get(0))?,
            ),
        })
    }
}

#[derive(Default)]
struct Acc {
    spans: i64,
    errors: i64,
    durations: Vec<i64>,
}

/// The spans of a window aggregate: the `max_scan` starting latest in `range`, plus one more when
/// the window holds more (so the caller can mark its answer `sampled`).
fn window_scan<T>(
    conn: &Connection,
    columns: &str,
    range: TimeRange,
    max_scan: usize,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    start_of: impl Fn(&T) -> (i64, i64),
) -> rusqlite::Result<Vec<T>> {
    super::blocks::latest_starting(conn, columns, "1", &[], range, max_scan + 1, map, start_of)
}

/// Rates, errors and duration percentiles per service and per operation (name and kind) of the spans
/// that start in the window; at most `max_scan` of them, the newest.
pub fn service_stats(conn: &Connection, range: TimeRange, max_scan: usize) -> Result<ServiceStatsReport, StoreError> {
    // (resource, kind, name, start, end, status) of the newest spans.
    let spans = window_scan(
        conn,
        "s.resource_id, s.kind, s.name, s.start_ns, s.end_ns, s.status_code, s.id",
        range,
        max_scan,
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i32>(5)?,
                r.get::<_, i64>(6)?,
            ))
        },
        |s| (s.3, s.6),
    )?;
    let sampled = spans.len() > max_scan;
    // (resource, kind) -> name -> figures.
    let mut groups: HashMap<(i64, i32), HashMap<String, Acc>> = HashMap::new();
    let mut oldest = range.start;
    for (resource, kind, name, start, end, status, _) in spans.into_iter().take(max_scan) {
        oldest = start;
        let acc = groups.entry((resource, kind)).or_default().entry(name).or_default();
        acc.spans += 1;
        acc.errors += i64::from(status == STATUS_ERROR);
        acc.durations.push(end.saturating_sub(start));
    }
    // Resources of one service (several hosts or versions) fold into it.
    let mut names = ServiceNames::default();
    let mut services: BTreeMap<String, HashMap<(String, i32), Acc>> = BTreeMap::new();
    for ((resource, kind), ops) in groups {
        let service = services.entry(names.get(conn, resource)?.to_string()).or_default();
        for (name, acc) in ops {
            let into = service.entry((name, kind)).or_default();
            into.spans += acc.spans;
            into.errors += acc.errors;
            into.durations.extend(acc.durations);
        }
    }
    let services = services
        .into_iter()
        .map(|(name, ops)| {
            let mut all = Vec::with_capacity(ops.values().map(|a| a.durations.len()).sum());
            let mut operations: Vec<OperationStats> = ops
                .into_iter()
                .map(|((name, kind), mut acc)| {
                    all.extend_from_slice(&acc.durations);
                    OperationStats {
                        name,
                        kind,
                        spans: acc.spans,
                        errors: acc.errors,
                        durations: Percentiles::of(&mut acc.durations),
                    }
                })
                .collect();
            operations.sort_by(|a, b| b.spans.cmp(&a.spans).then_with(|| a.name.cmp(&b.name)).then(a.kind.cmp(&b.kind)));
            let (spans, errors) = operations.iter().fold((0, 0), |(s, e), o| (s + o.spans, e + o.errors));
            operations.truncate(MAX_OPERATIONS);
            ServiceStats {
                name,
                spans,
                errors,
                durations: Percentiles::of(&mut all),
                operations,
            }
        })
        .collect();
    Ok(ServiceStatsReport {
        services,
        sampled,
        covered_from_ns: if sampled { oldest } else { range.start },
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyEdge {
    pub parent: String,
    pub child: String,
    /// Child spans whose parent span is in the other service.
    pub calls: i64,
    /// Those of them with error status.
    pub errors: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependencies {
    /// Most calls first.
    pub edges: Vec<DependencyEdge>,
    /// Not every span of the window was looked at (more than the scan takes, or too many parents
    /// outside it to look up).
    pub sampled: bool,
}

type SpanKey = ([u8; 16], [u8; 8]);

fn fixed<const N: usize>(bytes: Option<&[u8]>) -> Option<[u8; N]> {
    bytes.and_then(|b| b.try_into().ok())
}

/// Calls between services: a child span starting in the window (at most `max_scan`, the newest)
/// whose parent span, in the same trace, belongs to another service.
pub fn dependencies(conn: &Connection, range: TimeRange, max_scan: usize) -> Result<Dependencies, StoreError> {
    // (trace id, span id, parent span id, resource, status) of the newest spans.
    #[allow(clippy::type_complexity)] // one row of the scan
    let spans: Vec<(Option<[u8; 16]>, Option<[u8; 8]>, Option<[u8; 8]>, i64, i32, i64, i64)> = window_scan(
        conn,
        "s.trace_id, s.span_id, s.parent_span_id, s.resource_id, s.status_code, s.start_ns, s.id",
        range,
        max_scan,
        |r| {
            Ok((
                fixed::<16>(r.get_ref(0)?.as_blob().ok()),
                fixed::<8>(r.get_ref(1)?.as_blob().ok()),
                fixed::<8>(r.get_ref(2)?.as_blob_or_null().ok().flatten()),
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        },
        |s| (s.5, s.6),
    )?;
    let mut sampled = spans.len() > max_scan;
    // Every scanned span's resource by id, and the children to resolve against it.
    let mut resource_of: HashMap<SpanKey, Option<i64>> = HashMap::new();
    let mut children: Vec<(SpanKey, i64, bool)> = Vec::new();
    for (trace, span, parent, resource, status, _, _) in spans.into_iter().take(max_scan) {
        let (Some(trace), Some(span)) = (trace, span) else {
            continue;
        };
        resource_of.insert((trace, span), Some(resource));
        if let Some(parent) = parent {
            children.push(((trace, parent), resource, status == STATUS_ERROR));
        }
    }
    let mut lookup = conn.prepare_cached(&format!(
        "SELECT s.resource_id FROM spans s WHERE {} AND s.span_id = ?2 LIMIT 1",
        span_in_trace("s", "?1")
    ))?;
    let mut lookups = 0usize;
    let mut calls: HashMap<(i64, i64), (i64, i64)> = HashMap::new();
    for (parent, child_resource, error) in children {
        let parent_resource = match resource_of.get(&parent) {
            Some(known) => *known,
            None if lookups < MAX_PARENT_LOOKUPS => {
                lookups += 1;
                let found = lookup
                    .query_row(params![&parent.0[..], &parent.1[..]], |r| r.get::<_, i64>(0))
                    .optional()?;
                resource_of.insert(parent, found);
                found
            }
            None => {
                sampled = true;
                None
            }
        };
        match parent_resource {
            Some(p) if p != child_resource => {
                let edge = calls.entry((p, child_resource)).or_default();
                edge.0 += 1;
                edge.1 += i64::from(error);
            }
            _ => {}
        }
    }
    let mut names = ServiceNames::default();
    let mut by_service: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for ((parent, child), (n, errors)) in calls {
        let parent = names.get(conn, parent)?.to_string();
        let child = names.get(conn, child)?.to_string();
        if parent != child {
            let edge = by_service.entry((parent, child)).or_default();
            edge.0 += n;
            edge.1 += errors;
        }
    }
    let mut edges: Vec<DependencyEdge> = by_service
        .into_iter()
        .map(|((parent, child), (calls, errors))| DependencyEdge {
            parent,
            child,
            calls,
            errors,
        })
        .collect();
    edges.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| a.parent.cmp(&b.parent))
            .then_with(|| a.child.cmp(&b.child))
    });
    Ok(Dependencies { edges, sampled })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!(nearest_rank(&values, 50), 50);
        assert_eq!(nearest_rank(&values, 95), 95);
        assert_eq!(nearest_rank(&values, 99), 99);
        assert_eq!(nearest_rank(&[7], 99), 7);
        assert_eq!(nearest_rank(&[1, 2, 3], 50), 2);
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), 2);
        assert_eq!(nearest_rank(&[], 50), 0);
    }
}
