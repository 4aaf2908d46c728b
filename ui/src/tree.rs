//! A trace's spans as a tree in display order (depth-first, children by start time), with the
//! subtree extent of every row (for collapsing) and the critical path. Pure data: no UI here.

use crate::wire::Span;
use std::collections::{HashMap, HashSet};

/// One row of the waterfall: the index of its span in the trace's span list, and how deep it sits.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub span: usize,
    pub depth: usize,
    /// The row index just past this row's subtree: rows `i+1 .. subtree_end` are its descendants.
    pub subtree_end: usize,
    pub has_children: bool,
    /// The row index of its parent row (None for a root).
    pub parent: Option<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    pub rows: Vec<Row>,
    pub start_ns: i64,
    pub end_ns: i64,
    /// Indexes (into the span list) of the spans on the critical path.
    pub critical: HashSet<usize>,
}

/// Builds the display tree. Spans whose parent is missing from the trace (not arrived yet, or
/// dropped) become roots, so every span is shown exactly once.
pub fn build(spans: &[Span]) -> Tree {
    let by_id: HashMap<&str, usize> = spans.iter().enumerate().map(|(i, s)| (s.span_id.as_str(), i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        match by_id.get(span.parent_span_id.as_str()) {
            Some(&parent) if !span.parent_span_id.is_empty() && parent != i => children[parent].push(i),
            _ => roots.push(i),
        }
    }
    let by_start = |list: &mut Vec<usize>| list.sort_by_key(|&i| (spans[i].start_unix_nano, spans[i].end_unix_nano));
    by_start(&mut roots);
    for list in children.iter_mut() {
        by_start(list);
    }

    let mut rows: Vec<Row> = Vec::with_capacity(spans.len());
    let mut visited = vec![false; spans.len()];
    walk(&roots, &children, &mut visited, &mut rows);
    // Spans caught in a parent cycle (bad data) have no root: show them anyway, each once.
    let stranded: Vec<usize> = (0..spans.len()).filter(|&i| !visited[i]).collect();
    walk(&stranded, &children, &mut visited, &mut rows);

    let start_ns = spans.iter().map(|s| s.start_unix_nano).min().unwrap_or(0);
    let end_ns = spans.iter().map(|s| s.end_unix_nano).max().unwrap_or(start_ns).max(start_ns);
    let mut critical = HashSet::new();
    if let Some(&root) = roots.iter().max_by_key(|&&r| spans[r].end_unix_nano - spans[r].start_unix_nano) {
        critical_path(spans, &children, root, &mut critical);
    }
    Tree {
        rows,
        start_ns,
        end_ns,
        critical,
    }
}

/// Appends the subtrees under `roots` in depth-first order. Iterative: a 10,000-deep chain must not
/// overflow the wasm stack.
fn walk(roots: &[usize], children: &[Vec<usize>], visited: &mut [bool], rows: &mut Vec<Row>) {
    // (span, depth, parent row, closing)
    let mut stack: Vec<(usize, usize, Option<usize>, bool)> = roots.iter().rev().map(|&r| (r, 0, None, false)).collect();
    let mut open: Vec<usize> = Vec::new(); // rows whose subtree is still being emitted
    while let Some((span, depth, parent, closing)) = stack.pop() {
        if closing {
            let row = open.pop().expect("balanced walk");
            rows[row].subtree_end = rows.len();
            continue;
        }
        if std::mem::replace(&mut visited[span], true) {
            continue;
        }
        let row = rows.len();
        open.push(row);
        rows.push(Row {
            span,
            depth,
            subtree_end: 0,
            has_children: !children[span].is_empty(),
            parent,
        });
        stack.push((span, depth, parent, true));
        for &child in children[span].iter().rev() {
            stack.push((child, depth + 1, Some(row), false));
        }
    }
}

/// The chain of spans that decided the trace's duration: from a span, walk back from its end through
/// the child that finished last, then the child that finished last before that one started, and so on.
fn critical_path(spans: &[Span], children: &[Vec<usize>], root: usize, out: &mut HashSet<usize>) {
    let mut work = vec![root];
    while let Some(span) = work.pop() {
        if !out.insert(span) {
            continue;
        }
        let mut by_end = children[span].clone();
        by_end.sort_by_key(|&c| std::cmp::Reverse(spans[c].end_unix_nano));
        let mut cursor = spans[span].end_unix_nano;
        for child in by_end {
            if spans[child].end_unix_nano <= cursor {
                work.push(child);
                cursor = spans[child].start_unix_nano;
            }
        }
    }
}

/// The rows to show, given the collapsed rows (by row index): a collapsed row hides its subtree.
pub fn visible(rows: &[Row], collapsed: &HashSet<usize>) -> Vec<usize> {
    let mut out = Vec::with_capacity(rows.len());
    let mut i = 0;
    while i < rows.len() {
        out.push(i);
        i = if collapsed.contains(&i) {
            rows[i].subtree_end.max(i + 1)
        } else {
            i + 1
        };
    }
    out
}

/// The row indexes of a row's ancestors, nearest first.
pub fn ancestors(rows: &[Row], row: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = rows.get(row).and_then(|r| r.parent);
    while let Some(parent) = at {
        out.push(parent);
        at = rows[parent].parent;
    }
    out
}

/// Spans for the unit tests of the pure trace modules.
#[cfg(test)]
pub(crate) mod testing {
    use crate::wire::{Scope, Span, SpanKind, SpanStatus, StatusCode};

    /// A span of service `svc` named like its id.
    pub fn span(id: &str, parent: &str, start: i64, end: i64) -> Span {
        named("svc", id, id, parent, start, end)
    }

    pub fn named(service: &str, name: &str, id: &str, parent: &str, start: i64, end: i64) -> Span {
        Span {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: name.into(),
            kind: SpanKind::Internal,
            service: service.into(),
            start_unix_nano: start,
            end_unix_nano: end,
            duration_ns: end - start,
            status: SpanStatus {
                code: StatusCode::Unset,
                message: String::new(),
            },
            attributes: Default::default(),
            resource: Default::default(),
            scope: Scope {
                name: String::new(),
                version: String::new(),
            },
            events: vec![],
            links: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::testing::span;

    #[test]
    fn depth_first_by_start_with_orphans_as_roots() {
        let spans = vec![
            span("c2", "root", 50, 90),
            span("root", "", 0, 100),
            span("c1", "root", 10, 40),
            span("g1", "c1", 15, 30),
            span("orphan", "gone", 60, 70),
        ];
        let tree = build(&spans);
        let order: Vec<&str> = tree.rows.iter().map(|r| spans[r.span].span_id.as_str()).collect();
        assert_eq!(order, ["root", "c1", "g1", "c2", "orphan"]);
        let depths: Vec<usize> = tree.rows.iter().map(|r| r.depth).collect();
        assert_eq!(depths, [0, 1, 2, 1, 0]);
        assert_eq!(tree.rows[0].subtree_end, 4);
        assert_eq!(tree.rows[1].subtree_end, 3);
        assert_eq!((tree.start_ns, tree.end_ns), (0, 100));
        let parents: Vec<Option<usize>> = tree.rows.iter().map(|r| r.parent).collect();
        assert_eq!(parents, [None, Some(0), Some(1), Some(0), None]);
        assert_eq!(ancestors(&tree.rows, 2), vec![1, 0]);
    }

    #[test]
    fn collapsing_hides_the_subtree_only() {
        let spans = vec![
            span("root", "", 0, 100),
            span("c1", "root", 10, 40),
            span("g1", "c1", 15, 30),
            span("c2", "root", 50, 90),
        ];
        let tree = build(&spans);
        assert_eq!(visible(&tree.rows, &HashSet::from([1])), vec![0, 1, 3]);
        assert_eq!(visible(&tree.rows, &HashSet::from([0])), vec![0]);
    }

    #[test]
    fn critical_path_follows_the_last_finishing_children() {
        // root 0..100: a 0..30 then b 35..95 (b ends last; a ends before b starts) and c 40..60 (overlaps b).
        let spans = vec![
            span("root", "", 0, 100),
            span("a", "root", 0, 30),
            span("b", "root", 35, 95),
            span("c", "root", 40, 60),
        ];
        let tree = build(&spans);
        let names: HashSet<&str> = tree.critical.iter().map(|&i| spans[i].span_id.as_str()).collect();
        assert_eq!(names, HashSet::from(["root", "a", "b"]));
    }

    #[test]
    fn a_deep_chain_and_a_cycle_do_not_break_the_walk() {
        let mut spans = vec![span("0", "", 0, 10_000)];
        for i in 1..10_000 {
            spans.push(span(&i.to_string(), &(i - 1).to_string(), i, 10_000));
        }
        assert_eq!(build(&spans).rows.len(), 10_000);
        let cycle = vec![span("a", "b", 0, 1), span("b", "a", 0, 1)];
        assert_eq!(build(&cycle).rows.len(), 2, "spans in a parent cycle are still shown, once each");
    }
}
