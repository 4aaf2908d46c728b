//! The structural diff of two traces (Jaeger's trace comparison): spans are matched by their path, the
//! service and operation of every span from the root down, so repeats of a call under the same parent
//! (a loop, retries) fold into one row that counts them on each side. Pure data.

use crate::tree::Tree;
use crate::wire::{Span, StatusCode};
use std::collections::HashMap;

/// A change beyond this share of A's duration is coloured slower or faster.
pub const THRESHOLD_PCT: f64 = 10.0;

/// What one side has at a path: how many spans, their summed duration, how many failed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Side {
    pub count: usize,
    pub total_ns: i64,
    pub errors: usize,
}

/// One path of the merged tree, in display order (depth-first).
#[derive(Clone, Debug, PartialEq)]
pub struct DiffRow {
    pub depth: usize,
    pub service: String,
    pub name: String,
    pub a: Side,
    pub b: Side,
    /// The row index just past this row's subtree (for hiding unchanged subtrees and folding).
    pub subtree_end: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Only B has spans at this path.
    Added,
    /// Only A has spans at this path.
    Removed,
    Slower,
    Faster,
    Same,
}

impl DiffRow {
    pub fn delta_ns(&self) -> i64 {
        self.b.total_ns - self.a.total_ns
    }

    /// The change in percent of A's duration (None when A took no time).
    pub fn delta_pct(&self) -> Option<f64> {
        (self.a.total_ns > 0).then(|| self.delta_ns() as f64 / self.a.total_ns as f64 * 100.0)
    }

    pub fn change(&self) -> Change {
        match (self.a.count, self.b.count) {
            (0, _) => Change::Added,
            (_, 0) => Change::Removed,
            _ => match self.delta_pct() {
                Some(pct) if pct >= THRESHOLD_PCT => Change::Slower,
                Some(pct) if pct <= -THRESHOLD_PCT => Change::Faster,
                None if self.delta_ns() > 0 => Change::Slower,
                _ => Change::Same,
            },
        }
    }

    /// Whether the row differs at all: a side missing, repeats, errors or time beyond the threshold.
    pub fn differs(&self) -> bool {
        self.change() != Change::Same || self.a.count != self.b.count || self.a.errors != self.b.errors
    }
}

struct Node<'a> {
    service: &'a str,
    name: &'a str,
    children: Vec<usize>,
    a: Side,
    b: Side,
    /// When the path first starts, from its trace's start: siblings are shown in this order.
    first_offset: i64,
}

/// Merges the two span trees by path and lists the paths depth-first.
pub fn compare<'a>(a: (&'a [Span], &Tree), b: (&'a [Span], &Tree)) -> Vec<DiffRow> {
    // Node 0 is a virtual root above the traces' roots.
    let mut nodes = vec![Node {
        service: "",
        name: "",
        children: Vec::new(),
        a: Side::default(),
        b: Side::default(),
        first_offset: 0,
    }];
    let mut index: HashMap<(usize, &'a str, &'a str), usize> = HashMap::new();
    for (side_is_a, (spans, tree)) in [(true, a), (false, b)] {
        let mut node_of_row = Vec::with_capacity(tree.rows.len());
        for row in &tree.rows {
            let span = &spans[row.span];
            let parent = row.parent.map_or(0, |p| node_of_row[p]);
            let offset = span.start_unix_nano - tree.start_ns;
            let node = *index.entry((parent, span.service.as_str(), span.name.as_str())).or_insert_with(|| {
                nodes.push(Node {
                    service: &span.service,
                    name: &span.name,
                    children: Vec::new(),
                    a: Side::default(),
                    b: Side::default(),
                    first_offset: offset,
                });
                let id = nodes.len() - 1;
                nodes[parent].children.push(id);
                id
            });
            let entry = &mut nodes[node];
            // Paths A has are placed by A's times; B's only by B's.
            if side_is_a || entry.a.count == 0 {
                entry.first_offset = entry.first_offset.min(offset);
            }
            let side = if side_is_a { &mut entry.a } else { &mut entry.b };
            side.count += 1;
            side.total_ns += span.duration_ns.max(0);
            side.errors += usize::from(span.status.code == StatusCode::Error);
            node_of_row.push(node);
        }
    }
    for i in 0..nodes.len() {
        let mut children = std::mem::take(&mut nodes[i].children);
        children.sort_by_key(|&c| nodes[c].first_offset);
        nodes[i].children = children;
    }

    // Depth-first, iteratively (deep traces), recording where each subtree ends.
    let mut rows: Vec<DiffRow> = Vec::with_capacity(nodes.len() - 1);
    let mut stack: Vec<(usize, usize, bool)> = nodes[0].children.iter().rev().map(|&c| (c, 0, false)).collect();
    let mut open: Vec<usize> = Vec::new();
    while let Some((node, depth, closing)) = stack.pop() {
        if closing {
            if let Some(row) = open.pop() {
                rows[row].subtree_end = rows.len();
            }
            continue;
        }
        let n = &nodes[node];
        open.push(rows.len());
        rows.push(DiffRow {
            depth,
            service: n.service.to_string(),
            name: n.name.to_string(),
            a: n.a,
            b: n.b,
            subtree_end: 0,
        });
        stack.push((node, depth, true));
        for &child in n.children.iter().rev() {
            stack.push((child, depth + 1, false));
        }
    }
    rows
}

/// The rows to show when only differences are wanted: a differing row, and the ancestors that lead to
/// one (so every shown row keeps its place in the tree).
pub fn differing(rows: &[DiffRow]) -> Vec<usize> {
    let mut keep = vec![false; rows.len()];
    let mut path: Vec<usize> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        path.truncate(row.depth);
        if row.differs() {
            keep[i] = true;
            for &ancestor in &path {
                keep[ancestor] = true;
            }
        }
        path.push(i);
    }
    (0..rows.len()).filter(|&i| keep[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{build, testing::named};

    fn diff(a: &[Span], b: &[Span]) -> Vec<DiffRow> {
        compare((a, &build(a)), (b, &build(b)))
    }

    fn label(row: &DiffRow) -> String {
        format!("{}{}:{}", "  ".repeat(row.depth), row.service, row.name)
    }

    #[test]
    fn matches_by_path_and_marks_added_and_removed_rows() {
        let a = vec![
            named("api", "GET /order", "r", "", 0, 100),
            named("db", "select", "s", "r", 10, 30),
            named("cache", "get", "c", "r", 40, 50),
        ];
        let b = vec![
            named("api", "GET /order", "r", "", 0, 150),
            named("db", "select", "s", "r", 10, 60),
            named("billing", "charge", "x", "r", 70, 140),
        ];
        let rows = diff(&a, &b);
        let labels: Vec<String> = rows.iter().map(label).collect();
        assert_eq!(labels, ["api:GET /order", "  db:select", "  cache:get", "  billing:charge"]);
        let changes: Vec<Change> = rows.iter().map(DiffRow::change).collect();
        assert_eq!(changes, [Change::Slower, Change::Slower, Change::Removed, Change::Added]);
        assert_eq!(rows[1].delta_ns(), 30);
        assert_eq!(rows[1].delta_pct(), Some(150.0));
        assert_eq!(rows[0].subtree_end, 4);
    }

    #[test]
    fn repeats_under_one_parent_fold_into_one_row_with_counts() {
        let a = vec![named("agent", "run", "r", "", 0, 100), named("llm", "chat", "c1", "r", 0, 10)];
        let mut b = vec![named("agent", "run", "r", "", 0, 100)];
        for i in 0..3 {
            b.push(named("llm", "chat", &format!("c{i}"), "r", i * 20, i * 20 + 10));
        }
        let rows = diff(&a, &b);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].a.count, rows[1].b.count), (1, 3));
        assert_eq!((rows[1].a.total_ns, rows[1].b.total_ns), (10, 30));
        assert!(rows[1].differs());
        assert!(!rows[0].differs(), "the root took the same time");
        assert_eq!(differing(&rows), vec![0, 1], "the root leads to the differing row");
    }

    #[test]
    fn the_same_operation_under_different_parents_is_two_paths() {
        // A cycle between services: a -> b -> a; the inner a is its own path.
        let a = vec![
            named("a", "op", "1", "", 0, 100),
            named("b", "op", "2", "1", 10, 90),
            named("a", "op", "3", "2", 20, 80),
        ];
        let rows = diff(&a, &a);
        assert_eq!(rows.iter().map(|r| r.depth).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(rows.iter().all(|r| r.change() == Change::Same));
        assert_eq!(differing(&rows), Vec::<usize>::new());
    }
}
