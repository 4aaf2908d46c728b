//! A trace's statistics (Jaeger's Trace Statistics): every span's self time, and per service or per
//! service and operation the span count, total and self time, average, min, max and errors. Pure data.

use crate::tree::Tree;
use crate::wire::{Span, StatusCode};
use std::collections::HashMap;

/// Each span's self time (indexed like the span list): its duration minus the union of its children's
/// intervals, each clipped to the span. Children that overlap each other or outlive their parent
/// (async work) therefore never make it negative or count twice.
pub fn self_times(spans: &[Span], tree: &Tree) -> Vec<i64> {
    let mut child_intervals: Vec<Vec<(i64, i64)>> = vec![Vec::new(); spans.len()];
    for row in &tree.rows {
        if let Some(parent_row) = row.parent {
            let child = &spans[row.span];
            child_intervals[tree.rows[parent_row].span].push((child.start_unix_nano, child.end_unix_nano));
        }
    }
    spans
        .iter()
        .zip(child_intervals)
        .map(|(span, intervals)| {
            let own = (span.end_unix_nano - span.start_unix_nano).max(0);
            (own - covered(span.start_unix_nano, span.end_unix_nano, intervals)).max(0)
        })
        .collect()
}

/// How much of `start..end` the intervals cover together.
fn covered(start: i64, end: i64, mut intervals: Vec<(i64, i64)>) -> i64 {
    intervals.sort_unstable();
    let (mut total, mut reached) = (0, start);
    for (from, to) in intervals {
        let (from, to) = (from.max(reached), to.min(end));
        if to > from {
            total += to - from;
            reached = to;
        }
    }
    total
}

/// What the rows of the statistics are per.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    Service,
    Operation,
}

/// One row of the statistics: a service, or a service's operation (span name).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupStats {
    pub service: String,
    /// Empty when grouped by service.
    pub operation: String,
    pub count: usize,
    pub errors: usize,
    pub total_ns: i64,
    pub self_ns: i64,
    pub min_ns: i64,
    pub max_ns: i64,
}

impl GroupStats {
    pub fn avg_ns(&self) -> i64 {
        self.total_ns / self.count.max(1) as i64
    }

    pub fn self_avg_ns(&self) -> i64 {
        self.self_ns / self.count.max(1) as i64
    }
}

/// The statistics rows, in order of first appearance (the page sorts them).
pub fn group(spans: &[Span], self_ns: &[i64], grouping: Grouping) -> Vec<GroupStats> {
    let mut at: HashMap<(&str, &str), usize> = HashMap::new();
    let mut rows: Vec<GroupStats> = Vec::new();
    for (span, &own) in spans.iter().zip(self_ns) {
        let operation = match grouping {
            Grouping::Service => "",
            Grouping::Operation => span.name.as_str(),
        };
        let duration = span.duration_ns.max(0);
        let index = *at.entry((span.service.as_str(), operation)).or_insert_with(|| {
            rows.push(GroupStats {
                service: span.service.clone(),
                operation: operation.to_string(),
                count: 0,
                errors: 0,
                total_ns: 0,
                self_ns: 0,
                min_ns: i64::MAX,
                max_ns: 0,
            });
            rows.len() - 1
        });
        let row = &mut rows[index];
        row.count += 1;
        row.errors += usize::from(span.status.code == StatusCode::Error);
        row.total_ns += duration;
        row.self_ns += own;
        row.min_ns = row.min_ns.min(duration);
        row.max_ns = row.max_ns.max(duration);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::testing::named;

    #[test]
    fn self_time_subtracts_the_union_of_children_clipped_to_the_span() {
        // root 0..100 with a 10..40 and b 30..60 (overlapping); b's child c 35..80 outlives b.
        let spans = vec![
            named("api", "root", "root", "", 0, 100),
            named("api", "a", "a", "root", 10, 40),
            named("db", "b", "b", "root", 30, 60),
            named("db", "c", "c", "b", 35, 80),
        ];
        let tree = crate::tree::build(&spans);
        assert_eq!(self_times(&spans, &tree), vec![50, 30, 5, 45]);
    }

    #[test]
    fn groups_by_service_or_operation() {
        let mut spans = vec![
            named("api", "GET", "r", "", 0, 100),
            named("db", "query", "q1", "r", 10, 20),
            named("db", "query", "q2", "r", 30, 60),
            named("db", "connect", "c", "r", 60, 65),
        ];
        spans[2].status.code = StatusCode::Error;
        let tree = crate::tree::build(&spans);
        let own = self_times(&spans, &tree);
        let by_operation = group(&spans, &own, Grouping::Operation);
        let query = by_operation.iter().find(|g| g.operation == "query").unwrap();
        assert_eq!(
            (
                query.count,
                query.errors,
                query.total_ns,
                query.min_ns,
                query.max_ns,
                query.avg_ns()
            ),
            (2, 1, 40, 10, 30, 20)
        );
        let by_service = group(&spans, &own, Grouping::Service);
        assert_eq!(by_service.len(), 2);
        let api = &by_service[0];
        assert_eq!((api.service.as_str(), api.count, api.self_ns), ("api", 1, 55));
        assert_eq!(by_service[1].count, 3);
    }
}
