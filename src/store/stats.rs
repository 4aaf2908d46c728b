//! Aggregates over a time window for the overview pages: per-service request figures (rate, errors
//! and exact duration percentiles of the spans a service serves) and per-operation figures, and the
//! service dependency graph with its error severities and cycles. Window scans walk
//! the window's rows (found through the time index, `blocks`) newest stored first and stop after a
//! fixed number of spans, so a wide window stays cheap.

use super::read::TimeRange;
use super::schema::span_of_trace;
use super::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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

/// A service's figures are of the spans it serves (Jaeger SPM's and Grafana's RED figures, the
/// Aspire dashboard's requests): these kinds, SERVER and CONSUMER.
const ENTRY_KINDS: [i32; 2] = [2, 5];

/// The least time a rate is taken over: a burst of spans within a second is not a huge rate.
pub const MIN_COVERED_NS: i64 = 60_000_000_000;

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

/// Which of a service's spans its request figures (count, errors, percentiles) are taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Its entry spans, SERVER and CONSUMER: the requests and messages it handles.
    Entry,
    /// It has no entry spans in the window: its root spans, of any kind (a batch job, a CLI run, an
    /// agent started in-process).
    Root,
    /// Neither entry nor root spans (only the inner parts of traces that started elsewhere arrived):
    /// all its spans.
    All,
}

/// Spans and errors of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCount {
    pub spans: i64,
    pub errors: i64,
}

/// A service's spans by kind. UNSPECIFIED counts as INTERNAL (what the OTLP spec lets receivers
/// assume), so the five add up to all its spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCounts {
    pub server: KindCount,
    pub client: KindCount,
    pub internal: KindCount,
    pub producer: KindCount,
    pub consumer: KindCount,
}

impl KindCounts {
    fn add(&mut self, kind: i32, spans: i64, errors: i64) {
        let into = match kind {
            2 => &mut self.server,
            3 => &mut self.client,
            4 => &mut self.producer,
            5 => &mut self.consumer,
            _ => &mut self.internal,
        };
        into.spans += spans;
        into.errors += errors;
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceStats {
    pub name: String,
    /// The spans `requests`, `errors` and `durations` are of.
    pub basis: Basis,
    /// Spans on the basis: the service's requests.
    pub requests: i64,
    /// Those of them with error status.
    pub errors: i64,
    /// Of the requests.
    pub durations: Percentiles,
    /// Every span of the service, any kind.
    pub spans: i64,
    pub by_kind: KindCounts,
    /// The busiest first, at most `MAX_OPERATIONS`; each of every span of its name and kind.
    pub operations: Vec<OperationStats>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceStatsReport {
    /// By name.
    pub services: Vec<ServiceStats>,
    /// The window held more spans than the scan takes: the figures are of its newest spans only.
    pub sampled: bool,
    /// The earliest and the latest start of the aggregated spans (`None`: no spans in the window).
    pub starts: Option<(i64, i64)>,
}

impl ServiceStatsReport {
    /// The nanoseconds the figures cover, what rates are per: see [`covered_ns`] (0 for no spans).
    pub fn covered_ns(&self, range: TimeRange, now_ns: i64) -> i64 {
        self.starts.map_or(0, |(first, last)| covered_ns(range, now_ns, first, last))
    }
}

/// The time spans starting from `first` to `last` in `range` cover, at `now_ns`: from the first
/// start to the last, at least a minute (`MIN_COVERED_NS`) but never more than the window holds up
/// to now (or up to the last start, for spans stamped ahead of this clock). Data that arrived during
/// one minute of a one-hour window is a rate per that minute, not per hour; a window sampled down to
/// its newest spans covers the time of those.
pub fn covered_ns(range: TimeRange, now_ns: i64, first: i64, last: i64) -> i64 {
    let window = range.end.min(now_ns.max(last)).saturating_sub(range.start).max(0);
    last.saturating_sub(first).max(MIN_COVERED_NS.min(window))
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

impl Acc {
    fn add(&mut self, error: bool, duration: i64) {
        self.spans += 1;
        self.errors += i64::from(error);
        self.durations.push(duration);
    }

    fn merge(&mut self, other: &Acc) {
        self.spans += other.spans;
        self.errors += other.errors;
        self.durations.extend_from_slice(&other.durations);
    }
}

/// One service's spans while scanning: per operation (name and kind), and its root spans apart.
#[derive(Default)]
struct ServiceAcc {
    operations: HashMap<(String, i32), Acc>,
    roots: Acc,
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

/// Request figures per service and figures per operation (name and kind) of the spans that start in
/// the window; at most `max_scan` of them, the newest. A service's requests are its entry spans
/// (SERVER and CONSUMER), or its root spans when it has none, or all its spans when it has neither
/// (`Basis`); its spans are counted by kind besides.
pub fn service_stats(conn: &Connection, range: TimeRange, max_scan: usize) -> Result<ServiceStatsReport, StoreError> {
    // (resource, kind, name, start, end, status, id, root) of the newest spans.
    let spans = window_scan(
        conn,
        "s.resource_id, s.kind, s.name, s.start_ns, s.end_ns, s.status_code, s.id, s.parent_span_id IS NULL",
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
                r.get::<_, bool>(7)?,
            ))
        },
        |s| (s.3, s.6),
    )?;
    let sampled = spans.len() > max_scan;
    // Resources of one service (several hosts or versions) fold into it: resource -> index in
    // `services`, and service name -> index.
    let mut names = ServiceNames::default();
    let mut index_of: HashMap<i64, usize> = HashMap::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut services: Vec<(String, ServiceAcc)> = Vec::new();
    let mut starts: Option<(i64, i64)> = None;
    for (resource, kind, name, start, end, status, _, root) in spans.into_iter().take(max_scan) {
        starts = Some(starts.map_or((start, start), |(first, last)| (first.min(start), last.max(start))));
        let i = match index_of.get(&resource) {
            Some(&i) => i,
            None => {
                let service = names.get(conn, resource)?.to_string();
                let i = *by_name.entry(service.clone()).or_insert_with(|| {
                    services.push((service, ServiceAcc::default()));
                    services.len() - 1
                });
                index_of.insert(resource, i);
                i
            }
        };
        let acc = &mut services[i].1;
        let (error, duration) = (status == STATUS_ERROR, end.saturating_sub(start));
        acc.operations.entry((name, kind)).or_default().add(error, duration);
        if root {
            acc.roots.add(error, duration);
        }
    }
    services.sort_by(|a, b| a.0.cmp(&b.0));
    let services = services.into_iter().map(|(name, acc)| service_figures(name, acc)).collect();
    Ok(ServiceStatsReport { services, sampled, starts })
}

/// A service's figures from its scanned spans.
fn service_figures(name: String, acc: ServiceAcc) -> ServiceStats {
    let mut by_kind = KindCounts::default();
    let mut entry = Acc::default();
    let mut all = Acc::default();
    let mut operations: Vec<OperationStats> = acc
        .operations
        .into_iter()
        .map(|((name, kind), mut op)| {
            by_kind.add(kind, op.spans, op.errors);
            all.merge(&op);
            if ENTRY_KINDS.contains(&kind) {
                entry.merge(&op);
            }
            OperationStats {
                name,
                kind,
                spans: op.spans,
                errors: op.errors,
                durations: Percentiles::of(&mut op.durations),
            }
        })
        .collect();
    operations.sort_by(|a, b| b.spans.cmp(&a.spans).then_with(|| a.name.cmp(&b.name)).then(a.kind.cmp(&b.kind)));
    operations.truncate(MAX_OPERATIONS);
    let spans = all.spans;
    let (basis, mut requests) = if entry.spans > 0 {
        (Basis::Entry, entry)
    } else if acc.roots.spans > 0 {
        (Basis::Root, acc.roots)
    } else {
        (Basis::All, all)
    };
    ServiceStats {
        name,
        basis,
        requests: requests.spans,
        errors: requests.errors,
        durations: Percentiles::of(&mut requests.durations),
        spans,
        by_kind,
        operations,
    }
}

/// How an edge's error rate reads against [`WARN_ERROR_PCT`] and [`ERROR_ERROR_PCT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Below `WARN_ERROR_PCT` of its calls failed (none, or the odd one of thousands).
    Ok,
    /// At least `WARN_ERROR_PCT`, below `ERROR_ERROR_PCT`.
    Warn,
    /// At least `ERROR_ERROR_PCT`.
    Error,
}

/// An edge with at least this percentage of failed calls is `Severity::Warn`.
pub const WARN_ERROR_PCT: f64 = 1.0;
/// An edge with at least this percentage of failed calls is `Severity::Error`.
pub const ERROR_ERROR_PCT: f64 = 5.0;

/// The percentage (0-100) of `calls` that failed; 0 for no calls.
pub fn error_pct(errors: i64, calls: i64) -> f64 {
    if calls > 0 {
        errors as f64 * 100.0 / calls as f64
    } else {
        0.0
    }
}

/// The severity of an edge with `errors` failures in `calls`: below 1% ok, below 5% warn, else error.
pub fn severity(calls: i64, errors: i64) -> Severity {
    let pct = error_pct(errors, calls);
    if pct >= ERROR_ERROR_PCT {
        Severity::Error
    } else if pct >= WARN_ERROR_PCT {
        Severity::Warn
    } else {
        Severity::Ok
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyEdge {
    pub parent: String,
    pub child: String,
    /// Child spans whose parent span is in the other service.
    pub calls: i64,
    /// Those of them with error status.
    pub errors: i64,
    /// `errors` of `calls` against the thresholds.
    pub severity: Severity,
    /// Both services lie on one cycle of calls (one strongly connected component of the graph).
    pub in_cycle: bool,
    /// The edge closes a cycle: it leads back to a service the calls came through (a back edge of a
    /// depth-first walk that starts from the services nobody calls, then from the rest, by name).
    /// Without the back edges the graph has no cycles, so callers can be laid out before callees.
    pub back: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependencies {
    /// Most calls first.
    pub edges: Vec<DependencyEdge>,
    /// Services that call each other in a cycle: one list per strongly connected component of more
    /// than one service, each by name, the lists by their first name.
    pub cycles: Vec<Vec<String>>,
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
        "SELECT s.resource_id FROM spans s WHERE {} LIMIT 1",
        span_of_trace("s", "?1", "?2")
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
            severity: severity(calls, errors),
            in_cycle: false,
            back: false,
        })
        .collect();
    edges.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| a.parent.cmp(&b.parent))
            .then_with(|| a.child.cmp(&b.child))
    });
    let cycles = mark_cycles(&mut edges);
    Ok(Dependencies { edges, cycles, sampled })
}

/// Marks the edges on cycles (`in_cycle`) and those closing one (`back`); returns the services of
/// each cycle.
pub fn mark_cycles(edges: &mut [DependencyEdge]) -> Vec<Vec<String>> {
    // Services by name, so every walk below goes in name order.
    let names: Vec<String> = edges
        .iter()
        .flat_map(|e| [e.parent.as_str(), e.child.as_str()])
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .map(str::to_string)
        .collect();
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let ends: Vec<(usize, usize)> = edges.iter().map(|e| (index[e.parent.as_str()], index[e.child.as_str()])).collect();
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for &(from, to) in &ends {
        adj[from].push(to);
    }
    for targets in &mut adj {
        targets.sort_unstable();
        targets.dedup();
    }
    let component = components(&adj);
    let back = back_edges(&adj);
    for (edge, &(from, to)) in edges.iter_mut().zip(&ends) {
        edge.in_cycle = component[from] == component[to];
        edge.back = back.contains(&(from, to));
    }
    let mut members: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (node, name) in names.iter().enumerate() {
        members.entry(component[node]).or_default().push(name.clone());
    }
    let mut cycles: Vec<Vec<String>> = members.into_values().filter(|m| m.len() > 1).collect();
    cycles.sort();
    cycles
}

/// Each node's strongly connected component (Tarjan's algorithm, without recursion) in a graph
/// given as the targets of each node's edges.
fn components(adj: &[Vec<usize>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let n = adj.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut component = vec![UNSEEN; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let (mut next_index, mut next_component) = (0usize, 0usize);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        // The walk's path: each node with the position of its next edge.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&(v, i)) = path.last() {
            if let Some(&w) = adj[v].get(i) {
                let top = path.len() - 1;
                path[top].1 += 1;
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    path.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                path.pop();
                if let Some(&(parent, _)) = path.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component[w] = next_component;
                        if w == v {
                            break;
                        }
                    }
                    next_component += 1;
                }
            }
        }
    }
    component
}

/// The edges that close a cycle: the back edges of a depth-first walk that starts from the nodes
/// without incoming edges, then from the others, each in index order. Removing them leaves no cycle.
fn back_edges(adj: &[Vec<usize>]) -> HashSet<(usize, usize)> {
    let n = adj.len();
    let mut incoming = vec![0usize; n];
    for targets in adj {
        for &to in targets {
            incoming[to] += 1;
        }
    }
    let order: Vec<usize> = (0..n)
        .filter(|&v| incoming[v] == 0)
        .chain((0..n).filter(|&v| incoming[v] > 0))
        .collect();
    // 0: not reached, 1: on the walk's path, 2: done.
    let mut state = vec![0u8; n];
    let mut back = HashSet::new();
    for root in order {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&(v, i)) = path.last() {
            if let Some(&w) = adj[v].get(i) {
                let top = path.len() - 1;
                path[top].1 += 1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        path.push((w, 0));
                    }
                    1 => {
                        back.insert((v, w));
                    }
                    _ => {}
                }
            } else {
                state[v] = 2;
                path.pop();
            }
        }
    }
    back
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

    #[test]
    fn covered_time_runs_from_the_first_start_to_the_last_at_least_a_minute_within_the_window() {
        const S: i64 = 1_000_000_000;
        let hour = TimeRange { start: 0, end: 3600 * S };
        let now = 3600 * S;
        assert_eq!(covered_ns(hour, now, 100 * S, 700 * S), 600 * S, "ten minutes of data");
        assert_eq!(covered_ns(hour, now, 100 * S, 110 * S), 60 * S, "at least a minute");
        assert_eq!(covered_ns(hour, now, 5 * S, 5 * S), 60 * S, "one span");
        let half_minute = TimeRange { start: 0, end: 30 * S };
        assert_eq!(covered_ns(half_minute, now, S, 2 * S), 30 * S, "never more than the window");
        // An open window ends now: 20 s into it, a minute of it has not happened yet.
        let open = TimeRange {
            start: now - 20 * S,
            end: i64::MAX,
        };
        assert_eq!(covered_ns(open, now, now - 10 * S, now - 5 * S), 20 * S);
        assert_eq!(covered_ns(TimeRange::ALL, now, 0, 10 * S), 60 * S);
    }

    #[test]
    fn edge_severity_thresholds() {
        assert_eq!(severity(1000, 0), Severity::Ok);
        assert_eq!(severity(1000, 1), Severity::Ok, "0.1% is not red");
        assert_eq!(severity(1000, 9), Severity::Ok);
        assert_eq!(severity(100, 1), Severity::Warn, "1% warns");
        assert_eq!(severity(1000, 49), Severity::Warn);
        assert_eq!(severity(20, 1), Severity::Error, "5% is an error");
        assert_eq!(severity(3, 3), Severity::Error);
        assert_eq!(severity(0, 0), Severity::Ok);
        assert_eq!(error_pct(1, 8), 12.5);
    }

    fn edge(parent: &str, child: &str) -> DependencyEdge {
        DependencyEdge {
            parent: parent.into(),
            child: child.into(),
            calls: 1,
            errors: 0,
            severity: Severity::Ok,
            in_cycle: false,
            back: false,
        }
    }

    /// (parent, child, in_cycle, back) of each edge.
    fn marks(edges: &[DependencyEdge]) -> Vec<(&str, &str, bool, bool)> {
        edges
            .iter()
            .map(|e| (e.parent.as_str(), e.child.as_str(), e.in_cycle, e.back))
            .collect()
    }

    #[test]
    fn cycles_are_found_and_closed_by_one_back_edge() {
        // gateway -> a -> b -> c -> a, and c -> db outside the cycle.
        let mut edges = vec![
            edge("gateway", "a"),
            edge("a", "b"),
            edge("b", "c"),
            edge("c", "a"),
            edge("c", "db"),
        ];
        let cycles = mark_cycles(&mut edges);
        assert_eq!(cycles, [["a", "b", "c"]]);
        assert_eq!(
            marks(&edges),
            [
                ("gateway", "a", false, false),
                ("a", "b", true, false),
                ("b", "c", true, false),
                ("c", "a", true, true),
                ("c", "db", false, false),
            ]
        );
        // Entered at b instead: the edge back to b closes the cycle.
        let mut edges = vec![edge("gateway", "b"), edge("a", "b"), edge("b", "c"), edge("c", "a")];
        mark_cycles(&mut edges);
        let back: Vec<(&str, &str)> = edges
            .iter()
            .filter(|e| e.back)
            .map(|e| (e.parent.as_str(), e.child.as_str()))
            .collect();
        assert_eq!(back, [("a", "b")]);
        // No entry at all: the walk starts at the first name.
        let mut edges = vec![edge("x", "y"), edge("y", "x"), edge("p", "q"), edge("q", "r")];
        let cycles = mark_cycles(&mut edges);
        assert_eq!(cycles, [["x", "y"]]);
        assert_eq!(
            marks(&edges),
            [
                ("x", "y", true, false),
                ("y", "x", true, true),
                ("p", "q", false, false),
                ("q", "r", false, false),
            ]
        );
        assert!(mark_cycles(&mut []).is_empty());
    }

    #[test]
    fn dropping_the_back_edges_leaves_no_cycle() {
        // Every service calls every other: one cycle of five, and what is left after the back edges
        // can be ordered (each service's callers before it).
        let names = ["a", "b", "c", "d", "e"];
        let mut edges: Vec<DependencyEdge> = names
            .iter()
            .flat_map(|p| names.iter().filter(move |c| *c != p).map(move |c| edge(p, c)))
            .collect();
        let cycles = mark_cycles(&mut edges);
        assert_eq!(cycles, [names.to_vec()]);
        assert!(edges.iter().all(|e| e.in_cycle));
        let mut left: Vec<&DependencyEdge> = edges.iter().filter(|e| !e.back).collect();
        let mut placed: Vec<&str> = Vec::new();
        while placed.len() < names.len() {
            let next: &str = names
                .iter()
                .copied()
                .find(|n| !placed.contains(n) && !left.iter().any(|e| e.child == *n))
                .expect("a service without callers left: no cycle");
            placed.push(next);
            left.retain(|e| e.parent != next);
        }
    }
}
