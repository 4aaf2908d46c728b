//! Golden traces (`otelbox run --golden FILE`): the structure of a run's traces, recorded in a
//! readable file (`--update-golden`) and compared with later runs as an aligned diff.
//!
//! A trace's *shape* is a canonical tree of its spans: service, name, kind, status code, the
//! sorted attribute KEYS (values only for keys listed in `keep_values`), and the children in a
//! canonical order (by name, then service, then shape), so spans whose order varies among
//! siblings never cause a diff (order is what `A then B` assertions are for). Sibling spans of
//! the same shape (loops, retries) are one entry with a `repeat` count; traces of the same shape
//! are one entry with a `count`. Both are ranges (`3`, `1..4`, `2..`): recording several traces
//! whose repeats differ records the range seen, a hand-written range is kept by later updates
//! while it still holds, and `tolerance` widens every range by that much on both sides (it never
//! makes a span or a shape optional: write `repeat: 0..N` or `count: 0..N` for that). Every span
//! also gets a duration budget, max(recorded x `budget_factor`, recorded + `budget_slack`), checked
//! as "at most" in a case of its own, apart from the structure.
//!
//! Traces are matched to recorded shapes by their root (service and name): equal shapes first,
//! then the closest. Each recorded shape is one case (`golden: checkout/POST /orders`) whose
//! failure is a unified diff with paths (`checkout/POST /orders > payments/charge`); the spans of
//! two trees are aligned the same way (equal subtrees first, then the closest span of the same
//! service and name). A span whose parent never arrived starts a tree of its own.

use super::eval::{fmt_ns, Outcome};
use crate::api::wire::{self, routes, SpanKind, StatusCode};
use crate::client::{ApiClient, ClientError};
use crate::hash::Fnv64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The file format's version.
pub const VERSION: u32 = 1;
/// Spans deeper than this below their root are left out (which also keeps a file's nesting
/// within what the YAML and JSON parsers accept).
const MAX_DEPTH: usize = 48;
/// Diff lines shown per case at most.
const MAX_LINES: usize = 200;
/// Spans over budget listed per case at most.
const LISTED_OVER_BUDGET: usize = 10;
/// Sibling pairs weighed for the closest match at most; beyond, they pair in canonical order.
const MAX_WEIGHED_PAIRS: usize = 10_000;
/// Kept attribute values are cut to this many characters.
const MAX_VALUE_CHARS: usize = 200;
/// Spans per API request (the API's largest page).
const PAGE: usize = 10_000;

const HEADER: &str = "# Golden traces of `otelbox run --golden FILE`: the structure of the traces a run sends.\n\
# Rewrite it from a run with `otelbox run --golden FILE --update-golden -- CMD` (options are kept).\n";

/// A count or a range of counts: `3`, `1..4`, `2..` (no upper bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    pub min: u64,
    pub max: Option<u64>,
}

impl Count {
    pub const ONE: Count = Count { min: 1, max: Some(1) };

    pub fn exact(n: u64) -> Count {
        Count { min: n, max: Some(n) }
    }
    fn one() -> Count {
        Count::ONE
    }
    fn is_one(&self) -> bool {
        *self == Count::ONE
    }
    /// The range covering both.
    fn union(self, other: Count) -> Count {
        Count {
            min: self.min.min(other.min),
            max: match (self.max, other.max) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            },
        }
    }
    /// The range of the sum of one count of each.
    fn plus(self, other: Count) -> Count {
        Count {
            min: self.min.saturating_add(other.min),
            max: match (self.max, other.max) {
                (Some(a), Some(b)) => Some(a.saturating_add(b)),
                _ => None,
            },
        }
    }
    /// Whether every count of `seen` is in this range widened by `tolerance` on both sides.
    fn admits(self, seen: Count, tolerance: u64) -> bool {
        let low = seen.min.saturating_add(tolerance) >= self.min;
        let high = match (self.max, seen.max) {
            (None, _) => true,
            (Some(max), Some(s)) => s <= max.saturating_add(tolerance),
            (Some(_), None) => false,
        };
        low && high
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(max) if max == self.min => write!(f, "{max}"),
            Some(max) => write!(f, "{}..{max}", self.min),
            None => write!(f, "{}..", self.min),
        }
    }
}

impl std::str::FromStr for Count {
    type Err = String;
    fn from_str(text: &str) -> Result<Count, String> {
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("expected a count like 3, 1..4 or 2.., got '{text}'"))
        };
        match text.trim().split_once("..") {
            None => number(text).map(Count::exact),
            Some((low, high)) => {
                let min = if low.trim().is_empty() { 0 } else { number(low)? };
                let max = if high.trim().is_empty() { None } else { Some(number(high)?) };
                if max.is_some_and(|m| m < min) {
                    return Err(format!("'{text}': the upper bound is below the lower one"));
                }
                Ok(Count { min, max })
            }
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.max {
            Some(max) if max == self.min => s.serialize_u64(max),
            _ => s.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Count::exact(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// `250ms`, `2s`: whole milliseconds (whole seconds when they are), microseconds below that.
fn duration_text(d: Duration) -> String {
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}us", d.as_micros())
    } else if d.as_millis() >= 1000 && d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A duration in a file: text like `50ms`, or a number of seconds.
struct DurationValue(Duration);

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DurationValue, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Seconds(f64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) => crate::units::parse_duration(&t)
                .map(DurationValue)
                .map_err(serde::de::Error::custom),
            Raw::Seconds(s) if s.is_finite() && (0.0..1e12).contains(&s) => Ok(DurationValue(Duration::from_secs_f64(s))),
            Raw::Seconds(s) => Err(serde::de::Error::custom(format!("duration {s} is out of range"))),
        }
    }
}

mod duration_serde {
    use super::*;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&duration_text(*d))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        DurationValue::deserialize(d).map(|v| v.0)
    }
}

mod opt_duration_serde {
    use super::*;
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&duration_text(*d)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<DurationValue>::deserialize(d).map(|v| v.map(|v| v.0))
    }
}

/// The `options:` of a golden file. Patterns are exact, or end in `*` for a prefix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Attribute keys left out of the shapes (volatile ones: `thread.id`, `net.sock.*`).
    pub ignore_attributes: Vec<String>,
    /// Attribute keys whose values are part of the shape (`http.route`, `http.response.status_code`).
    pub keep_values: Vec<String>,
    /// Spans left out with their subtrees, by name or `service/name`; a trace whose root is left
    /// out is left out whole (health checks, background jobs).
    pub ignore_spans: Vec<String>,
    /// How far a trace count or repeat count may be outside its recorded range.
    pub tolerance: u64,
    /// Budgets recorded: max(duration x budget_factor, duration + budget_slack).
    pub budget_factor: f64,
    #[serde(with = "duration_serde")]
    pub budget_slack: Duration,
    /// Whether budgets are checked (a failed one fails the run).
    pub check_budgets: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ignore_attributes: Vec::new(),
            keep_values: Vec::new(),
            ignore_spans: Vec::new(),
            tolerance: 0,
            budget_factor: 2.0,
            budget_slack: Duration::from_millis(50),
            check_budgets: true,
        }
    }
}

fn matches_any(patterns: &[String], text: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => text.starts_with(prefix),
        None => p == text,
    })
}

impl Options {
    fn ignores_attribute(&self, key: &str) -> bool {
        matches_any(&self.ignore_attributes, key)
    }
    fn keeps_value(&self, key: &str) -> bool {
        matches_any(&self.keep_values, key) && !self.ignores_attribute(key)
    }
    fn ignores_span(&self, service: &str, name: &str) -> bool {
        !self.ignore_spans.is_empty()
            && (matches_any(&self.ignore_spans, name) || matches_any(&self.ignore_spans, &format!("{service}/{name}")))
    }
}

/// One span of a run, as a budget check sees it.
#[derive(Clone, Debug, Default, PartialEq)]
struct Observed {
    duration_ns: i64,
    trace_id: String,
}

fn internal() -> SpanKind {
    SpanKind::Internal
}

fn unset() -> StatusCode {
    StatusCode::Unset
}

/// A span of a shape, with its children.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub service: String,
    pub name: String,
    #[serde(default = "internal")]
    pub kind: SpanKind,
    #[serde(default = "unset")]
    pub status: StatusCode,
    /// How many siblings of this shape (1 when absent).
    #[serde(default = "Count::one", skip_serializing_if = "Count::is_one")]
    pub repeat: Count,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_duration_serde")]
    pub budget: Option<Duration>,
    /// Sorted keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
    /// The values of the keys in `keep_values`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
    /// The shape's identity (its subtree, counts and budgets aside).
    #[serde(skip)]
    key: String,
    /// A hash of this span's own properties (the closest-match measure).
    #[serde(skip)]
    local: u64,
    /// The run's spans this node stands for.
    #[serde(skip)]
    observed: Vec<Observed>,
}

/// The traces of one shape.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// `service/name` of the root, for the reader (the tree is what counts).
    #[serde(default)]
    pub root: String,
    pub count: Count,
    pub span: Node,
}

fn current_version() -> u32 {
    VERSION
}

/// A golden file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Golden {
    #[serde(default = "current_version")]
    pub version: u32,
    #[serde(default)]
    pub options: Options,
    #[serde(default)]
    pub shapes: Vec<Shape>,
}

fn label(node: &Node) -> String {
    format!("{}/{}", node.service, node.name)
}

fn join(parent: &str, node: &Node) -> String {
    if parent.is_empty() {
        label(node)
    } else {
        format!("{parent} > {}", label(node))
    }
}

fn value_text(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars().take(MAX_VALUE_CHARS).collect()
}

fn fnv_text(h: &mut Fnv64, text: &str) {
    h.write(&(text.len() as u64).to_le_bytes()).write(text.as_bytes());
}

fn local_hash(n: &Node) -> u64 {
    let mut h = Fnv64::new();
    for text in [n.service.as_str(), n.name.as_str(), n.kind.as_str(), n.status.as_str()] {
        fnv_text(&mut h, text);
    }
    h.write(&(n.attributes.len() as u64).to_le_bytes());
    for a in &n.attributes {
        fnv_text(&mut h, a);
    }
    h.write(&(n.values.len() as u64).to_le_bytes());
    for (k, v) in &n.values {
        fnv_text(&mut h, k);
        fnv_text(&mut h, v);
    }
    h.finish()
}

fn identity(n: &Node) -> String {
    use sha2::{Digest, Sha256};
    fn feed(h: &mut Sha256, text: &str) {
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    let mut h = Sha256::new();
    for text in [n.service.as_str(), n.name.as_str(), n.kind.as_str(), n.status.as_str()] {
        feed(&mut h, text);
    }
    h.update((n.attributes.len() as u64).to_le_bytes());
    for a in &n.attributes {
        feed(&mut h, a);
    }
    h.update((n.values.len() as u64).to_le_bytes());
    for (k, v) in &n.values {
        feed(&mut h, k);
        feed(&mut h, v);
    }
    h.update((n.children.len() as u64).to_le_bytes());
    for c in &n.children {
        feed(&mut h, &c.key);
    }
    hex::encode(h.finalize())
}

fn canonical_order(a: &Node, b: &Node) -> Ordering {
    (a.name.as_str(), a.service.as_str(), a.key.as_str()).cmp(&(b.name.as_str(), b.service.as_str(), b.key.as_str()))
}

/// Merges another node of the same shape into `into` (another instance: ranges widen).
fn absorb(into: &mut Node, other: Node) {
    into.repeat = into.repeat.union(other.repeat);
    into.observed.extend(other.observed);
    for (a, b) in into.children.iter_mut().zip(other.children) {
        absorb(a, b);
    }
}

/// Merges a sibling of the same shape into `into` (one more of them: counts add).
fn add_sibling(into: &mut Node, other: Node) {
    let repeat = into.repeat.plus(other.repeat);
    absorb(into, other);
    into.repeat = repeat;
}

/// Sorts the children canonically (after finishing them), merges same-shape siblings when
/// `collapse` (a run's trees; a file's are taken as written), and computes the identity.
fn finish(node: &mut Node, collapse: bool) {
    for child in &mut node.children {
        finish(child, collapse);
    }
    node.children.sort_by(canonical_order);
    if collapse {
        let mut merged: Vec<Node> = Vec::with_capacity(node.children.len());
        for child in std::mem::take(&mut node.children) {
            let same = merged.last().is_some_and(|last| last.key == child.key);
            match merged.last_mut() {
                Some(last) if same => add_sibling(last, child),
                _ => merged.push(child),
            }
        }
        node.children = merged;
    }
    node.local = local_hash(node);
    node.key = identity(node);
}

impl Node {
    fn of_span(span: &wire::Span, options: &Options) -> Node {
        let mut attributes: Vec<String> = span.attributes.keys().filter(|k| !options.ignores_attribute(k)).cloned().collect();
        attributes.sort();
        let values = span
            .attributes
            .iter()
            .filter(|(k, _)| options.keeps_value(k))
            .map(|(k, v)| (k.clone(), value_text(v)))
            .collect();
        Node {
            service: span.service.clone(),
            name: span.name.clone(),
            kind: span.kind,
            status: span.status.code,
            repeat: Count::ONE,
            budget: None,
            attributes,
            values,
            children: Vec::new(),
            key: String::new(),
            local: 0,
            observed: vec![Observed {
                duration_ns: span.duration_ns,
                trace_id: span.trace_id.clone(),
            }],
        }
    }
}

/// The span trees of one trace: one per span without a parent in it.
fn trees_of(spans: &[&wire::Span], options: &Options) -> Vec<Node> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        index.entry(s.span_id.as_str()).or_insert(i);
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match index.get(s.parent_span_id.as_str()) {
            Some(&p) if !s.parent_span_id.is_empty() && p != i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    // Each span is in one child list at most and roots in none: the walk from the roots visits
    // each span once, and spans on a parent cycle (never reached) are left out.
    fn build(spans: &[&wire::Span], children: &[Vec<usize>], i: usize, depth: usize, options: &Options) -> Option<Node> {
        let s = spans[i];
        if options.ignores_span(&s.service, &s.name) {
            return None;
        }
        let mut node = Node::of_span(s, options);
        if depth < MAX_DEPTH {
            node.children = children[i]
                .iter()
                .filter_map(|&c| build(spans, children, c, depth + 1, options))
                .collect();
        }
        Some(node)
    }
    roots.into_iter().filter_map(|r| build(spans, &children, r, 0, options)).collect()
}

fn sort_shapes(shapes: &mut [Shape]) {
    shapes.sort_by(|a, b| {
        (
            a.span.service.as_str(),
            a.span.name.as_str(),
            std::cmp::Reverse(a.count.min),
            a.span.key.as_str(),
        )
            .cmp(&(
                b.span.service.as_str(),
                b.span.name.as_str(),
                std::cmp::Reverse(b.count.min),
                b.span.key.as_str(),
            ))
    });
}

/// The shapes of a run's spans (any order, any number of traces), budgets not yet set.
pub fn shapes_of(spans: &[wire::Span], options: &Options) -> Vec<Shape> {
    let mut traces: BTreeMap<&str, Vec<&wire::Span>> = BTreeMap::new();
    for s in spans {
        traces.entry(s.trace_id.as_str()).or_default().push(s);
    }
    let mut groups: HashMap<String, (Node, u64)> = HashMap::new();
    for spans in traces.values() {
        for mut tree in trees_of(spans, options) {
            finish(&mut tree, true);
            match groups.entry(tree.key.clone()) {
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    let (node, n) = e.get_mut();
                    absorb(node, tree);
                    *n += 1;
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert((tree, 1));
                }
            }
        }
    }
    let mut shapes: Vec<Shape> = groups
        .into_values()
        .map(|(span, n)| Shape {
            root: label(&span),
            count: Count::exact(n),
            span,
        })
        .collect();
    sort_shapes(&mut shapes);
    shapes
}

fn set_budgets(node: &mut Node, options: &Options) {
    let longest = node.observed.iter().map(|o| o.duration_ns.max(0)).max().unwrap_or(0) as f64;
    let ns = (longest * options.budget_factor).max(longest + options.budget_slack.as_nanos() as f64);
    node.budget = Some(Duration::from_millis((ns / 1e6).ceil().max(1.0) as u64));
    for child in &mut node.children {
        set_budgets(child, options);
    }
}

/// Keeps what the previous file said of a node while it still holds: hand-widened ranges, and
/// budgets the new durations fit in (so an update of an unchanged run changes nothing).
fn carry_over_node(old: &Node, new: &mut Node) {
    if old.repeat.admits(new.repeat, 0) {
        new.repeat = old.repeat;
    }
    if let (Some(budget), Some(longest)) = (old.budget, new.observed.iter().map(|o| o.duration_ns).max()) {
        if longest <= budget.as_nanos() as i64 {
            new.budget = Some(budget);
        }
    }
    for (o, n) in old.children.iter().zip(new.children.iter_mut()) {
        carry_over_node(o, n);
    }
}

/// A golden file of a run's spans. `previous` (the file being rewritten) lends its options and,
/// for unchanged shapes, its ranges and budgets while they still hold.
pub fn record(spans: &[wire::Span], previous: Option<&Golden>) -> Golden {
    let options = previous.map(|g| g.options.clone()).unwrap_or_default();
    let mut shapes = shapes_of(spans, &options);
    let old: HashMap<&str, &Shape> = previous
        .map(|g| g.shapes.iter().map(|s| (s.span.key.as_str(), s)).collect::<HashMap<&str, &Shape>>())
        .unwrap_or_default();
    for shape in &mut shapes {
        set_budgets(&mut shape.span, &options);
        if let Some(prev) = old.get(shape.span.key.as_str()) {
            if prev.count.admits(shape.count, 0) {
                shape.count = prev.count;
            }
            carry_over_node(&prev.span, &mut shape.span);
        }
    }
    Golden {
        version: VERSION,
        options,
        shapes,
    }
}

fn normalize(node: &mut Node, options: &Options) {
    node.attributes.retain(|k| !options.ignores_attribute(k));
    node.attributes.sort();
    node.attributes.dedup();
    node.values.retain(|k, _| options.keeps_value(k));
    node.children.retain(|c| !options.ignores_span(&c.service, &c.name));
    for child in &mut node.children {
        normalize(child, options);
    }
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// A golden file's text (JSON when `json`, else YAML), its options applied to its shapes.
pub fn parse(text: &str, json: bool) -> Result<Golden, String> {
    let mut golden: Golden = if json {
        serde_json::from_str(text).map_err(|e| e.to_string())?
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
    };
    if golden.version > VERSION {
        return Err(format!(
            "version {} is newer than this otelbox understands ({VERSION})",
            golden.version
        ));
    }
    if !golden.options.budget_factor.is_finite() || golden.options.budget_factor < 1.0 {
        return Err(format!(
            "options.budget_factor must be 1 or more, got {}",
            golden.options.budget_factor
        ));
    }
    let options = golden.options.clone();
    golden.shapes.retain(|s| !options.ignores_span(&s.span.service, &s.span.name));
    for shape in &mut golden.shapes {
        normalize(&mut shape.span, &options);
        finish(&mut shape.span, false);
        shape.root = label(&shape.span);
    }
    Ok(golden)
}

/// A golden file's text: YAML with a comment on top, or JSON.
pub fn render(golden: &Golden, json: bool) -> Result<String, String> {
    if json {
        serde_json::to_string_pretty(golden).map(|t| t + "\n").map_err(|e| e.to_string())
    } else {
        serde_yaml_ng::to_string(golden)
            .map(|t| format!("{HEADER}{t}"))
            .map_err(|e| e.to_string())
    }
}

pub fn load(path: &Path) -> Result<Golden, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read golden file {}: {e}", path.display()))?;
    parse(&text, is_json(path)).map_err(|e| format!("golden file {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Comparison

/// The lines of one case's diff, with what they count.
#[derive(Default)]
struct Diff {
    lines: Vec<String>,
    added: usize,
    missing: usize,
    changed: usize,
    counts: usize,
    unrecorded: u64,
}

impl Diff {
    fn header(&mut self, text: String) {
        self.lines.push(text);
    }
    fn push(&mut self, sign: char, path: &str, what: &str) {
        self.lines.push(format!("{sign} {path}  {what}"));
    }
    fn is_clean(&self) -> bool {
        self.added + self.missing + self.changed + self.counts == 0 && self.unrecorded == 0
    }
}

/// A span and its subtree, described.
fn describe(n: &Node) -> String {
    let mut out = format!("kind={} status={}", n.kind, n.status);
    if !n.repeat.is_one() {
        out.push_str(&format!(" repeated x{}", n.repeat));
    }
    if !n.attributes.is_empty() {
        let shown: Vec<&str> = n.attributes.iter().take(8).map(String::as_str).collect();
        let more = if n.attributes.len() > 8 {
            format!(", +{} more", n.attributes.len() - 8)
        } else {
            String::new()
        };
        out.push_str(&format!(" attributes=[{}{more}]", shown.join(", ")));
    }
    for (k, v) in &n.values {
        out.push_str(&format!(" {k}={v}"));
    }
    out
}

fn subtree(diff: &mut Diff, sign: char, parent: &str, node: &Node) {
    let path = join(parent, node);
    diff.push(sign, &path, &describe(node));
    for child in &node.children {
        subtree(diff, sign, &path, child);
    }
}

/// How different two subtrees are: the spans (own properties) one has and the other lacks.
fn distance(a: &Node, b: &Node) -> u64 {
    fn tally(n: &Node, sign: i64, counts: &mut HashMap<u64, i64>) {
        *counts.entry(n.local).or_default() += sign;
        for c in &n.children {
            tally(c, sign, counts);
        }
    }
    let mut counts = HashMap::new();
    tally(a, 1, &mut counts);
    tally(b, -1, &mut counts);
    counts.values().map(|v| v.unsigned_abs()).sum()
}

/// Pairs recorded items with this run's: equal keys first, then the closest `allowed` pairs
/// (greedily by `cost`). The pair of each recorded item, and which of this run's were taken.
fn pair_up(
    golden: &[&str],
    current: &[&str],
    allowed: impl Fn(usize, usize) -> bool,
    cost: impl Fn(usize, usize) -> u64,
) -> (Vec<Option<usize>>, Vec<bool>) {
    let mut paired: Vec<Option<usize>> = vec![None; golden.len()];
    let mut taken = vec![false; current.len()];
    let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (ci, k) in current.iter().enumerate().rev() {
        by_key.entry(*k).or_default().push(ci);
    }
    for (gi, k) in golden.iter().enumerate() {
        if let Some(ci) = by_key.get_mut(k).and_then(Vec::pop) {
            paired[gi] = Some(ci);
            taken[ci] = true;
        }
    }
    let open_g: Vec<usize> = (0..golden.len()).filter(|&gi| paired[gi].is_none()).collect();
    let open_c: Vec<usize> = (0..current.len()).filter(|&ci| !taken[ci]).collect();
    if open_g.len().saturating_mul(open_c.len()) <= MAX_WEIGHED_PAIRS {
        let mut candidates = Vec::new();
        for &gi in &open_g {
            for &ci in &open_c {
                if allowed(gi, ci) {
                    candidates.push((cost(gi, ci), gi, ci));
                }
            }
        }
        candidates.sort_unstable();
        for (_, gi, ci) in candidates {
            if paired[gi].is_none() && !taken[ci] {
                paired[gi] = Some(ci);
                taken[ci] = true;
            }
        }
    } else {
        for &gi in &open_g {
            if let Some(&ci) = open_c.iter().find(|&&ci| !taken[ci] && allowed(gi, ci)) {
                paired[gi] = Some(ci);
                taken[ci] = true;
            }
        }
    }
    (paired, taken)
}

/// Aligned spans: the path, the recorded node and this run's.
type Aligned<'a> = Vec<(String, &'a Node, &'a Node)>;

/// The aligned diff of a recorded span and this run's (same service and name), then of their children.
fn compare_nodes<'a>(g: &'a Node, c: &'a Node, parent: &str, tolerance: u64, diff: &mut Diff, aligned: &mut Aligned<'a>) {
    let path = join(parent, g);
    let mut changed = false;
    let mut both = |diff: &mut Diff, was: String, now: String| {
        diff.push('-', &path, &was);
        diff.push('+', &path, &now);
        changed = true;
    };
    if g.kind != c.kind {
        both(diff, format!("kind={}", g.kind), format!("kind={}", c.kind));
    }
    if g.status != c.status {
        both(diff, format!("status={}", g.status), format!("status={}", c.status));
    }
    if !g.repeat.admits(c.repeat, tolerance) {
        both(diff, format!("repeated x{}", g.repeat), format!("repeated x{}", c.repeat));
    }
    let (g_keys, c_keys): (HashSet<&String>, HashSet<&String>) = (g.attributes.iter().collect(), c.attributes.iter().collect());
    for key in g.attributes.iter().filter(|k| !c_keys.contains(k)) {
        diff.push('-', &path, &format!("attribute {key}"));
        changed = true;
    }
    for key in c.attributes.iter().filter(|k| !g_keys.contains(k)) {
        diff.push('+', &path, &format!("attribute {key}"));
        changed = true;
    }
    let value_keys: std::collections::BTreeSet<&String> = g.values.keys().chain(c.values.keys()).collect();
    for key in value_keys {
        let (was, now) = (g.values.get(key), c.values.get(key));
        if was != now {
            if let Some(v) = was {
                diff.push('-', &path, &format!("value {key}={v}"));
            }
            if let Some(v) = now {
                diff.push('+', &path, &format!("value {key}={v}"));
            }
            changed = true;
        }
    }
    if changed {
        diff.changed += 1;
    }
    aligned.push((path.clone(), g, c));
    let g_keys: Vec<&str> = g.children.iter().map(|n| n.key.as_str()).collect();
    let c_keys: Vec<&str> = c.children.iter().map(|n| n.key.as_str()).collect();
    let (paired, taken) = pair_up(
        &g_keys,
        &c_keys,
        |gi, ci| g.children[gi].service == c.children[ci].service && g.children[gi].name == c.children[ci].name,
        |gi, ci| distance(&g.children[gi], &c.children[ci]),
    );
    for (gi, pair) in paired.iter().enumerate() {
        let child = &g.children[gi];
        match pair {
            Some(ci) => compare_nodes(child, &c.children[*ci], &path, tolerance, diff, aligned),
            // Written as optional (`repeat: 0..N`): fine.
            None if child.repeat.min == 0 => {}
            None => {
                subtree(diff, '-', &path, child);
                diff.missing += 1;
            }
        }
    }
    for (ci, child) in c.children.iter().enumerate() {
        if !taken[ci] {
            subtree(diff, '+', &path, child);
            diff.added += 1;
        }
    }
}

fn outcome(name: String, passed: bool, detail: String) -> Outcome {
    Outcome {
        name,
        passed,
        detail,
        elapsed: Duration::ZERO,
    }
}

fn structure_detail(diff: &Diff, source: &str) -> String {
    let mut what = Vec::new();
    if diff.added > 0 {
        what.push(format!("{} span(s) added", diff.added));
    }
    if diff.missing > 0 {
        what.push(format!("{} span(s) missing", diff.missing));
    }
    if diff.changed > 0 {
        what.push(format!("{} span(s) changed", diff.changed));
    }
    if diff.counts > 0 {
        what.push("trace count changed".to_string());
    }
    if diff.unrecorded > 0 {
        what.push(format!("{} trace(s) of a shape not recorded", diff.unrecorded));
    }
    let mut out = format!(
        "{} (if that is intended, rewrite the file with --update-golden)\n--- {source}\n+++ this run",
        what.join(", ")
    );
    for line in diff.lines.iter().take(MAX_LINES) {
        out.push('\n');
        out.push_str(line);
    }
    if diff.lines.len() > MAX_LINES {
        out.push_str(&format!("\n... and {} more line(s)", diff.lines.len() - MAX_LINES));
    }
    out
}

fn budget_outcome(label: &str, aligned: &Aligned<'_>) -> Outcome {
    let mut checked = 0usize;
    let mut over: Vec<(f64, String)> = Vec::new();
    for (path, g, c) in aligned {
        let Some(budget) = g.budget else { continue };
        let limit = budget.as_nanos() as i64;
        for o in &c.observed {
            checked += 1;
            if o.duration_ns > limit {
                over.push((
                    o.duration_ns as f64 / limit.max(1) as f64,
                    format!(
                        "{path} took {}, over its {} budget (trace {})",
                        fmt_ns(o.duration_ns),
                        duration_text(budget),
                        o.trace_id
                    ),
                ));
            }
        }
    }
    let name = format!("golden budget: {label}");
    if over.is_empty() {
        let detail = if checked == 0 {
            "no span of this shape to check".to_string()
        } else {
            format!("{checked} span(s) within their recorded budgets")
        };
        return outcome(name, true, detail);
    }
    over.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut detail = format!(
        "{} of {checked} span(s) took longer than their recorded budget (the structure is checked apart)",
        over.len()
    );
    for (_, line) in over.iter().take(LISTED_OVER_BUDGET) {
        detail.push('\n');
        detail.push_str(line);
    }
    if over.len() > LISTED_OVER_BUDGET {
        detail.push_str(&format!("\nand {} more", over.len() - LISTED_OVER_BUDGET));
    }
    outcome(name, false, detail)
}

/// What each recorded shape's cases are called after `golden: `: its root, numbered when a
/// root has several shapes.
fn case_labels(shapes: &[Shape]) -> Vec<String> {
    shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let same: Vec<usize> = (0..shapes.len())
                .filter(|&j| shapes[j].span.service == s.span.service && shapes[j].span.name == s.span.name)
                .collect();
            if same.len() > 1 {
                let n = same.iter().position(|&j| j == i).unwrap_or(0) + 1;
                format!("{} #{n}", label(&s.span))
            } else {
                label(&s.span)
            }
        })
        .collect()
}

/// The cases of a comparison: per recorded shape its structure (`golden: ROOT`) and, unless
/// switched off, its budgets (`golden budget: ROOT`); per root not recorded, a failed case.
/// `source` names the file in the diff.
pub fn compare(golden: &Golden, current: &[Shape], source: &str) -> Vec<Outcome> {
    let options = &golden.options;
    let tolerance = options.tolerance;
    let labels = case_labels(&golden.shapes);
    let mut outcomes = Vec::new();
    let mut roots: Vec<(&str, &str)> = Vec::new();
    let mut known: HashSet<(&str, &str)> = HashSet::new();
    for s in golden.shapes.iter().chain(current) {
        let root = (s.span.service.as_str(), s.span.name.as_str());
        if known.insert(root) {
            roots.push(root);
        }
    }
    for root in roots {
        let is_root = |s: &&Shape| s.span.service == root.0 && s.span.name == root.1;
        let root_label = format!("{}/{}", root.0, root.1);
        let g: Vec<usize> = (0..golden.shapes.len()).filter(|&i| is_root(&&golden.shapes[i])).collect();
        let c: Vec<&Shape> = current.iter().filter(is_root).collect();
        if g.is_empty() {
            let mut diff = Diff::default();
            for shape in &c {
                diff.header(format!("@@ {root_label}: {} trace(s) of a shape not recorded @@", shape.count));
                diff.push('+', &root_label, &format!("traces={}", shape.count));
                subtree(&mut diff, '+', "", &shape.span);
                diff.unrecorded += shape.count.min.max(1);
            }
            outcomes.push(outcome(
                format!("golden: {root_label} (not recorded)"),
                false,
                structure_detail(&diff, source),
            ));
            continue;
        }
        let g_keys: Vec<&str> = g.iter().map(|&i| golden.shapes[i].span.key.as_str()).collect();
        let c_keys: Vec<&str> = c.iter().map(|s| s.span.key.as_str()).collect();
        let (paired, taken) = pair_up(
            &g_keys,
            &c_keys,
            |_, _| true,
            |gi, ci| distance(&golden.shapes[g[gi]].span, &c[ci].span),
        );
        // This run's other shapes of the root, each shown against the closest recorded one.
        let mut extras: Vec<Vec<usize>> = vec![Vec::new(); g.len()];
        for ci in (0..c.len()).filter(|&ci| !taken[ci]) {
            let closest = (0..g.len())
                .min_by_key(|&gi| distance(&golden.shapes[g[gi]].span, &c[ci].span))
                .unwrap_or(0);
            extras[closest].push(ci);
        }
        for (gi, &index) in g.iter().enumerate() {
            let shape = &golden.shapes[index];
            let mut diff = Diff::default();
            let mut aligned: Aligned<'_> = Vec::new();
            let mut arrived = 0;
            match paired[gi] {
                Some(ci) => {
                    let now = c[ci];
                    arrived = now.count.min;
                    diff.header(format!(
                        "@@ {root_label}: {} trace(s) recorded, {} arrived @@",
                        shape.count, now.count
                    ));
                    if !shape.count.admits(now.count, tolerance) {
                        diff.push('-', &root_label, &format!("traces={}", shape.count));
                        diff.push('+', &root_label, &format!("traces={}", now.count));
                        diff.counts += 1;
                    }
                    compare_nodes(&shape.span, &now.span, "", tolerance, &mut diff, &mut aligned);
                }
                None if shape.count.min == 0 => {}
                None => {
                    diff.header(format!("@@ {root_label}: no trace of this shape arrived @@"));
                    diff.push('-', &root_label, &format!("traces={}", shape.count));
                    diff.counts += 1;
                    subtree(&mut diff, '-', "", &shape.span);
                }
            }
            for &ci in &extras[gi] {
                let other = c[ci];
                diff.header(format!(
                    "@@ {root_label}: {} trace(s) of a shape not recorded, against the recorded one @@",
                    other.count
                ));
                diff.push('+', &root_label, &format!("traces={} (another shape)", other.count));
                diff.unrecorded += other.count.min.max(1);
                compare_nodes(&shape.span, &other.span, "", tolerance, &mut diff, &mut aligned);
            }
            let passed = diff.is_clean();
            let detail = if passed {
                format!("{arrived} trace(s) of the recorded shape")
            } else {
                structure_detail(&diff, source)
            };
            outcomes.push(outcome(format!("golden: {}", labels[index]), passed, detail));
            if options.check_budgets {
                outcomes.push(budget_outcome(&labels[index], &aligned));
            }
        }
    }
    outcomes
}

// ---------------------------------------------------------------------------------------------
// `otelbox run --golden`

/// Every span the box holds: pages of the API's largest size, newest first, each ending where
/// the previous one did (spans already seen are skipped), until a page is not full.
pub async fn fetch_spans(client: &ApiClient) -> Result<Vec<wire::Span>, ClientError> {
    let mut out = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut end: Option<i64> = None;
    loop {
        let page: wire::SpansResponse = client
            .get(
                routes::SPANS,
                &wire::SpansParams {
                    limit: Some(PAGE),
                    window: wire::WindowParams {
                        end: end.map(|e| e.to_string()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await?;
        let full = page.spans.len() >= PAGE;
        let Some(oldest) = page.spans.iter().map(|s| s.start_unix_nano).min() else {
            break;
        };
        let mut fresh = 0;
        for s in page.spans {
            if seen.insert((s.trace_id.clone(), s.span_id.clone())) {
                out.push(s);
                fresh += 1;
            }
        }
        if !full {
            break;
        }
        // More spans may start at `oldest`; a page with nothing new moves past it.
        end = Some(if fresh == 0 { oldest.saturating_sub(1) } else { oldest });
    }
    Ok(out)
}

/// Before the command runs: the file must exist unless `update`, and parse when it does.
pub fn check_before_run(path: Option<&Path>, update: bool) -> Result<(), String> {
    let Some(path) = path else { return Ok(()) };
    if !path.exists() {
        return if update {
            Ok(())
        } else {
            Err(format!(
                "golden file {} does not exist; create it with --update-golden",
                path.display()
            ))
        };
    }
    load(path).map(|_| ())
}

/// After the command: the cases of comparing the run's traces with the golden file at `path`,
/// or with `update`, the file rewritten from them (not when the command failed) and one passing
/// case per shape recorded.
pub async fn run_outcomes(client: &ApiClient, path: Option<&Path>, update: bool, child_code: i32) -> anyhow::Result<Vec<Outcome>> {
    let Some(path) = path else { return Ok(Vec::new()) };
    let started = Instant::now();
    let spans = fetch_spans(client).await?;
    if update {
        let previous = if path.exists() {
            Some(load(path).map_err(anyhow::Error::msg)?)
        } else {
            None
        };
        if child_code != 0 {
            eprintln!(
                "otelbox run: not updating {}: the command failed (exit code {child_code})",
                path.display()
            );
            return Ok(Vec::new());
        }
        let golden = record(&spans, previous.as_ref());
        let text = render(&golden, is_json(path)).map_err(anyhow::Error::msg)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        let traces: u64 = golden.shapes.iter().map(|s| s.count.min).sum();
        eprintln!(
            "otelbox run: wrote {}: {} shape(s) of {traces} trace(s)",
            path.display(),
            golden.shapes.len()
        );
        let labels = case_labels(&golden.shapes);
        return Ok(golden
            .shapes
            .iter()
            .zip(labels)
            .map(|(s, l)| outcome(format!("golden: {l}"), true, format!("recorded {} trace(s) of this shape", s.count)))
            .collect());
    }
    let golden = load(path).map_err(anyhow::Error::msg)?;
    let current = shapes_of(&spans, &golden.options);
    let mut outcomes = compare(&golden, &current, &path.display().to_string());
    if let Some(first) = outcomes.first_mut() {
        first.elapsed = started.elapsed();
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A span of trace `trace`: `id` under `parent` ("" for a root), of service `shop`.
    fn span(trace: &str, id: &str, parent: &str, name: &str, attributes: &[&str], ms: i64) -> wire::Span {
        let start = 1_700_000_000_000_000_000i64 + id.len() as i64;
        wire::Span {
            trace_id: trace.to_string(),
            span_id: id.to_string(),
            parent_span_id: parent.to_string(),
            name: name.to_string(),
            kind: if parent.is_empty() { SpanKind::Server } else { SpanKind::Internal },
            service: "shop".to_string(),
            start_unix_nano: start,
            end_unix_nano: start + ms * 1_000_000,
            duration_ns: ms * 1_000_000,
            status: wire::SpanStatus {
                code: StatusCode::Unset,
                message: String::new(),
            },
            attributes: attributes
                .iter()
                .map(|k| (k.to_string(), serde_json::Value::String(format!("v-{k}"))))
                .collect(),
            resource: serde_json::Map::new(),
            scope: wire::Scope {
                name: "test".into(),
                version: String::new(),
            },
            events: Vec::new(),
            links: Vec::new(),
        }
    }

    /// checkout > (charge > bank, reserve), per trace.
    fn checkout(trace: &str) -> Vec<wire::Span> {
        vec![
            span(trace, "a", "", "checkout", &["order.id"], 30),
            span(trace, "b", "a", "charge", &["payment.provider"], 10),
            span(trace, "c", "b", "bank", &[], 5),
            span(trace, "d", "a", "reserve", &["sku"], 3),
        ]
    }

    fn golden_of(spans: &[wire::Span]) -> Golden {
        // Through the file, as a later run sees it.
        let text = render(&record(spans, None), false).unwrap();
        parse(&text, false).unwrap()
    }

    fn check(golden: &Golden, spans: &[wire::Span]) -> Vec<Outcome> {
        compare(golden, &shapes_of(spans, &golden.options), "golden.yaml")
    }

    fn structure(outcomes: &[Outcome]) -> &Outcome {
        outcomes.iter().find(|o| o.name.starts_with("golden: ")).unwrap()
    }

    #[test]
    fn the_file_is_readable_yaml_and_round_trips() {
        let recorded = record(&checkout("t1"), None);
        let text = render(&recorded, false).unwrap();
        assert!(text.starts_with("# Golden traces"), "{text}");
        for line in [
            "root: shop/checkout",
            "count: 1",
            "name: charge",
            "kind: server",
            "status: unset",
            "- payment.provider",
            "budget: 60ms",
            "budget_slack: 50ms",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        let again = parse(&text, false).unwrap();
        assert_eq!(render(&again, false).unwrap(), text);
        let json = render(&recorded, true).unwrap();
        let from_json = parse(&json, true).unwrap();
        assert_eq!(from_json.shapes[0].span.key, again.shapes[0].span.key);
    }

    #[test]
    fn an_identical_run_passes() {
        let golden = golden_of(&checkout("t1"));
        let outcomes = check(&golden, &checkout("t2"));
        assert_eq!(outcomes.len(), 2, "{outcomes:?}");
        assert!(outcomes.iter().all(|o| o.passed), "{outcomes:?}");
        assert_eq!(outcomes[0].name, "golden: shop/checkout");
        assert_eq!(outcomes[1].name, "golden budget: shop/checkout");
        assert_eq!(outcomes[0].detail, "1 trace(s) of the recorded shape");
    }

    #[test]
    fn reordered_siblings_and_spans_pass() {
        let golden = golden_of(&checkout("t1"));
        let mut spans = checkout("t2");
        spans.reverse();
        // reserve now starts before charge
        spans[0].start_unix_nano -= 1_000_000_000;
        assert!(check(&golden, &spans).iter().all(|o| o.passed));
    }

    #[test]
    fn a_missing_span_is_a_diff_with_its_path() {
        let golden = golden_of(&checkout("t1"));
        let spans: Vec<wire::Span> = checkout("t2").into_iter().filter(|s| s.name != "bank").collect();
        let outcomes = check(&golden, &spans);
        let o = structure(&outcomes);
        assert!(!o.passed);
        assert!(o.detail.starts_with("1 span(s) missing"), "{}", o.detail);
        assert!(o.detail.contains("--- golden.yaml\n+++ this run"), "{}", o.detail);
        assert!(
            o.detail
                .contains("- shop/checkout > shop/charge > shop/bank  kind=internal status=unset"),
            "{}",
            o.detail
        );
        // The rest aligned: no other line.
        assert_eq!(
            o.detail.lines().filter(|l| l.starts_with("- ") || l.starts_with("+ ")).count(),
            1,
            "{}",
            o.detail
        );
    }

    #[test]
    fn an_added_span_with_its_subtree() {
        let golden = golden_of(&checkout("t1"));
        let mut spans = checkout("t2");
        spans.push(span("t2", "e", "a", "refund", &["refund.reason"], 2));
        spans.push(span("t2", "ff", "e", "notify", &[], 1));
        let o = structure(&check(&golden, &spans)).clone();
        assert!(!o.passed);
        assert!(o.detail.starts_with("1 span(s) added"), "{}", o.detail);
        assert!(
            o.detail
                .contains("+ shop/checkout > shop/refund  kind=internal status=unset attributes=[refund.reason]"),
            "{}",
            o.detail
        );
        assert!(
            o.detail.contains("+ shop/checkout > shop/refund > shop/notify  kind=internal"),
            "{}",
            o.detail
        );
    }

    #[test]
    fn a_new_attribute_key_and_a_removed_one() {
        let golden = golden_of(&checkout("t1"));
        let mut spans = checkout("t2");
        spans[1].attributes.insert("payment.error".into(), serde_json::json!("declined"));
        spans[3].attributes.remove("sku");
        let o = structure(&check(&golden, &spans)).clone();
        assert!(!o.passed);
        assert!(o.detail.starts_with("2 span(s) changed"), "{}", o.detail);
        assert!(
            o.detail.contains("+ shop/checkout > shop/charge  attribute payment.error"),
            "{}",
            o.detail
        );
        assert!(o.detail.contains("- shop/checkout > shop/reserve  attribute sku"), "{}", o.detail);
    }

    #[test]
    fn a_status_change_and_a_kind_change() {
        let golden = golden_of(&checkout("t1"));
        let mut spans = checkout("t2");
        spans[1].status.code = StatusCode::Error;
        spans[2].kind = SpanKind::Client;
        let o = structure(&check(&golden, &spans)).clone();
        assert!(!o.passed);
        for line in [
            "- shop/checkout > shop/charge  status=unset",
            "+ shop/checkout > shop/charge  status=error",
            "- shop/checkout > shop/charge > shop/bank  kind=internal",
            "+ shop/checkout > shop/charge > shop/bank  kind=client",
        ] {
            assert!(o.detail.contains(line), "{line} missing from {}", o.detail);
        }
    }

    fn with_retries(trace: &str, retries: usize) -> Vec<wire::Span> {
        let mut spans = vec![span(trace, "r", "", "checkout", &[], 20)];
        for i in 0..retries {
            spans.push(span(trace, &format!("x{i}"), "r", "attempt", &[], 2));
        }
        spans
    }

    #[test]
    fn repeated_siblings_are_one_entry_with_a_count() {
        let golden = golden_of(&with_retries("t1", 3));
        let text = render(&golden, false).unwrap();
        assert!(text.contains("repeat: 3"), "{text}");
        assert_eq!(golden.shapes[0].span.children.len(), 1);
        assert!(check(&golden, &with_retries("t2", 3)).iter().all(|o| o.passed));
        let o = structure(&check(&golden, &with_retries("t2", 4))).clone();
        assert!(!o.passed);
        assert!(o.detail.contains("- shop/checkout > shop/attempt  repeated x3"), "{}", o.detail);
        assert!(o.detail.contains("+ shop/checkout > shop/attempt  repeated x4"), "{}", o.detail);
        // A tolerance of 1 admits 2..4.
        let mut tolerant = golden.clone();
        tolerant.options.tolerance = 1;
        assert!(check(&tolerant, &with_retries("t2", 4)).iter().all(|o| o.passed));
        assert!(!structure(&check(&tolerant, &with_retries("t2", 5))).passed);
        // ... but never makes a span optional.
        assert!(!structure(&check(&tolerant, &with_retries("t2", 0))).passed);
    }

    #[test]
    fn traces_differing_in_repeats_record_a_range() {
        let mut spans = with_retries("t1", 1);
        spans.extend(with_retries("t2", 3));
        let golden = golden_of(&spans);
        assert_eq!(golden.shapes.len(), 1);
        assert_eq!(golden.shapes[0].count, Count::exact(2));
        assert_eq!(golden.shapes[0].span.children[0].repeat, Count { min: 1, max: Some(3) });
        assert!(render(&golden, false).unwrap().contains("repeat: 1..3"));
        assert!(check(&golden, &{
            let mut s = with_retries("t3", 2);
            s.extend(with_retries("t4", 2));
            s
        })
        .iter()
        .all(|o| o.passed));
    }

    #[test]
    fn a_trace_count_change() {
        let mut spans = checkout("t1");
        spans.extend(checkout("t2"));
        let golden = golden_of(&spans);
        let o = structure(&check(&golden, &checkout("t3"))).clone();
        assert!(!o.passed);
        assert!(o.detail.starts_with("trace count changed"), "{}", o.detail);
        assert!(
            o.detail.contains("- shop/checkout  traces=2\n+ shop/checkout  traces=1"),
            "{}",
            o.detail
        );
    }

    #[test]
    fn a_budget_exceeded_is_its_own_case() {
        let golden = golden_of(&checkout("t1"));
        // charge took 10 ms: its budget is max(20ms, 60ms).
        assert_eq!(golden.shapes[0].span.children[0].budget, Some(Duration::from_millis(60)));
        let mut spans = checkout("t2");
        spans[1].duration_ns = 75_000_000;
        let outcomes = check(&golden, &spans);
        assert!(structure(&outcomes).passed, "{outcomes:?}");
        let budget = outcomes.iter().find(|o| o.name == "golden budget: shop/checkout").unwrap();
        assert!(!budget.passed);
        assert!(
            budget
                .detail
                .contains("shop/checkout > shop/charge took 75.0ms, over its 60ms budget (trace t2)"),
            "{}",
            budget.detail
        );
        let mut relaxed = golden.clone();
        relaxed.options.check_budgets = false;
        let outcomes = check(&relaxed, &spans);
        assert_eq!(outcomes.len(), 1);
        assert!(outcomes[0].passed);
    }

    #[test]
    fn a_shape_not_recorded_and_a_shape_gone() {
        let golden = golden_of(&checkout("t1"));
        let mut spans = vec![span("t9", "h", "", "health", &[], 1)];
        let outcomes = check(&golden, &spans);
        let gone = structure(&outcomes);
        assert!(!gone.passed);
        assert!(gone.detail.contains("- shop/checkout  traces=1"), "{}", gone.detail);
        let new = outcomes.iter().find(|o| o.name == "golden: shop/health (not recorded)").unwrap();
        assert!(!new.passed);
        assert!(new.detail.contains("+ shop/health  kind=server"), "{}", new.detail);
        // ignore_spans leaves it out.
        let mut ignoring = golden.clone();
        ignoring.options.ignore_spans = vec!["shop/health".into()];
        spans.extend(checkout("t2"));
        assert!(check(&ignoring, &spans).iter().all(|o| o.passed));
    }

    #[test]
    fn another_shape_of_a_recorded_root_is_shown_against_it() {
        let golden = golden_of(&checkout("t1"));
        let mut spans = checkout("t2");
        let mut other = checkout("t3");
        other[1].status.code = StatusCode::Error;
        spans.extend(other);
        let o = structure(&check(&golden, &spans)).clone();
        assert!(!o.passed);
        assert!(o.detail.contains("1 trace(s) of a shape not recorded"), "{}", o.detail);
        assert!(o.detail.contains("+ shop/checkout > shop/charge  status=error"), "{}", o.detail);
    }

    #[test]
    fn options_ignore_keys_keep_values_and_optional_spans() {
        let mut golden = golden_of(&checkout("t1"));
        golden.options.ignore_attributes = vec!["payment.*".into()];
        let text = render(&golden, false).unwrap();
        let golden = parse(&text, false).unwrap();
        let mut spans = checkout("t2");
        spans[1].attributes.clear();
        spans[1].attributes.insert("payment.other".into(), serde_json::json!(1));
        assert!(check(&golden, &spans).iter().all(|o| o.passed));

        let mut keeping = golden.clone();
        keeping.options.keep_values = vec!["order.id".into()];
        let recorded = record(&checkout("t1"), Some(&keeping));
        assert_eq!(
            recorded.shapes[0].span.values.get("order.id").map(String::as_str),
            Some("v-order.id")
        );
        let keeping = parse(&render(&recorded, false).unwrap(), false).unwrap();
        let mut spans = checkout("t2");
        spans[0].attributes.insert("order.id".into(), serde_json::json!("B-2"));
        let o = structure(&check(&keeping, &spans)).clone();
        assert!(o.detail.contains("- shop/checkout  value order.id=v-order.id"), "{}", o.detail);
        assert!(o.detail.contains("+ shop/checkout  value order.id=B-2"), "{}", o.detail);

        let text = render(&record(&checkout("t1"), None), false)
            .unwrap()
            .replace("name: bank\n", "name: bank\n        repeat: 0..1\n");
        let optional = parse(&text, false).unwrap();
        let spans: Vec<wire::Span> = checkout("t2").into_iter().filter(|s| s.name != "bank").collect();
        assert!(check(&optional, &spans).iter().all(|o| o.passed), "{text}");
    }

    #[test]
    fn an_update_keeps_budgets_and_ranges_that_still_hold() {
        let first = golden_of(&checkout("t1"));
        let mut faster = checkout("t2");
        faster[1].duration_ns = 1_000_000;
        let second = record(&faster, Some(&first));
        assert_eq!(render(&second, false).unwrap(), render(&first, false).unwrap());
        let mut slower = checkout("t3");
        slower[1].duration_ns = 100_000_000;
        let third = record(&slower, Some(&first));
        assert_eq!(third.shapes[0].span.children[0].budget, Some(Duration::from_millis(200)));
    }

    #[test]
    fn orphans_start_their_own_tree_and_counts_parse() {
        let spans = vec![span("t1", "a", "", "checkout", &[], 5), span("t1", "b", "zz", "late", &[], 5)];
        let shapes = shapes_of(&spans, &Options::default());
        assert_eq!(shapes.len(), 2);
        assert_eq!("1..4".parse::<Count>().unwrap(), Count { min: 1, max: Some(4) });
        assert_eq!("2..".parse::<Count>().unwrap().to_string(), "2..");
        assert_eq!("7".parse::<Count>().unwrap(), Count::exact(7));
        assert!("4..1".parse::<Count>().is_err());
        assert!(parse(
            "version: 1\nshapes:\n- count: 1\n  span: {service: a, name: b, kindd: server}\n",
            false
        )
        .is_err());
    }
}
