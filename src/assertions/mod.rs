//! Telemetry assertions for CI: what can be asserted (counts, descendants, order, orphans,
//! duration budgets), the compact `--assert` syntax, the YAML assertion file, their evaluation
//! against a box's API, and JUnit reports.

pub mod eval;
pub mod golden;
pub mod junit;
pub mod metrics;
pub mod per_test;

use crate::query::filter;
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Spans,
    Logs,
    Traces,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Spans => "spans",
            Subject::Logs => "logs",
            Subject::Traces => "traces",
        }
    }
    pub fn parse(text: &str) -> Result<Subject, String> {
        match text {
            "spans" | "span" => Ok(Subject::Spans),
            "logs" | "log" => Ok(Subject::Logs),
            "traces" | "trace" => Ok(Subject::Traces),
            other => Err(format!("unknown signal '{other}'; use spans, logs or traces")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    AtLeast(i64),
    AtMost(i64),
    Exactly(i64),
    Between(i64, i64),
}

impl Bound {
    pub fn holds(self, n: i64) -> bool {
        match self {
            Bound::AtLeast(m) => n >= m,
            Bound::AtMost(m) => n <= m,
            Bound::Exactly(m) => n == m,
            Bound::Between(a, b) => (a..=b).contains(&n),
        }
    }
    pub fn describe(self) -> String {
        match self {
            Bound::AtLeast(m) => format!("at least {m}"),
            Bound::AtMost(m) => format!("at most {m}"),
            Bound::Exactly(m) => format!("exactly {m}"),
            Bound::Between(a, b) => format!("between {a} and {b}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// How many spans, log records or traces match a filter.
    Count { subject: Subject, filter: String, bound: Bound },
    /// Some trace has a span matching `ancestor` with a descendant matching `descendant`.
    Descendant { ancestor: String, descendant: String },
    /// Some trace has spans matching each step, starting in this order.
    Order { steps: Vec<String> },
    /// No span's parent is missing.
    NoOrphans,
    /// The number of matching spans is within `bound`, and none takes longer than the budget.
    MaxDuration { filter: String, budget: Duration, bound: Bound },
    /// Every item matching `selector` (at least one) satisfies `predicate` (Tracetest's core form).
    Every {
        subject: Subject,
        selector: String,
        predicate: String,
    },
    /// A value of a metric over the window, across the series matching a filter (or that it exists).
    Metric(metrics::MetricCheck),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Assertion {
    pub name: String,
    pub check: Check,
}

/// Split `text` at `sep` where it is not inside quotes.
fn split_outside_quotes<'a>(text: &'a str, sep: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let (mut start, mut quote, mut escaped) = (0, None::<char>, false);
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == '"' || c == '\'' {
            quote = Some(c);
        } else if text[i..].starts_with(sep) {
            parts.push(&text[start..i]);
            i += sep.len();
            start = i;
            continue;
        }
        i += c.len_utf8();
    }
    parts.push(&text[start..]);
    parts
}

/// Check that a filter parses, with the column of any error.
fn valid_filter(text: &str) -> Result<String, String> {
    filter::parse(text).map_err(|e| format!("in `{}`: {e}", text.trim()))?;
    Ok(text.trim().to_string())
}

fn parse_bound(op: &str, n: &str) -> Result<Bound, String> {
    let n: i64 = n
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number after {op}, got '{}'", n.trim()))?;
    Ok(match op {
        "==" | "=" => Bound::Exactly(n),
        ">=" => Bound::AtLeast(n),
        ">" => Bound::AtLeast(n + 1),
        "<=" => Bound::AtMost(n),
        "<" => Bound::AtMost(n - 1),
        other => return Err(format!("unknown comparison '{other}'; use == >= > <= <")),
    })
}

/// `name(inner) OP rest`: the inner text, the operator and the rest.
fn call_with_comparison<'a>(text: &'a str, name: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let rest = text.strip_prefix(name)?.trim_start().strip_prefix('(')?;
    let close = rest.rfind(')')?;
    let (inner, tail) = (&rest[..close], rest[close + 1..].trim());
    for op in [">=", "<=", "==", ">", "<", "="] {
        if let Some(value) = tail.strip_prefix(op) {
            return Some((inner, op, value));
        }
    }
    None
}

/// `every(SELECTOR): PREDICATE` split into its two filters.
fn every_parts(body: &str) -> Option<(&str, &str)> {
    let inner = body.strip_prefix("every(")?;
    // The `)` that closes `every(`: the first `):` outside quotes.
    let parts = split_outside_quotes(inner, "):");
    (parts.len() >= 2).then(|| {
        let selector = parts[0];
        (selector, &inner[selector.len() + 2..])
    })
}

/// The compact `--assert` forms:
/// `EXPR` (at least one span), `logs: EXPR`, `traces: EXPR`, `count(EXPR) >= N`,
/// `max_duration(EXPR) <= 2s`, `A -> B` (descendant), `A then B then C` (order), `no orphans`,
/// `every(SELECTOR): PREDICATE`.
pub fn parse_compact(text: &str, subject: Subject, bound: Bound) -> Result<Assertion, String> {
    let name = text.trim().to_string();
    let mut body = text.trim();
    let mut subject = subject;
    for (prefix, s) in [("spans:", Subject::Spans), ("logs:", Subject::Logs), ("traces:", Subject::Traces)] {
        if let Some(rest) = body.strip_prefix(prefix) {
            subject = s;
            body = rest.trim();
        }
    }
    let check = if matches!(body, "no orphans" | "no_orphans" | "no-orphans") {
        Check::NoOrphans
    } else if let Some(metric) = metrics::parse_compact(body) {
        Check::Metric(metric?)
    } else if let Some((selector, predicate)) = every_parts(body) {
        Check::Every {
            subject,
            selector: valid_filter(selector)?,
            predicate: valid_filter(predicate)?,
        }
    } else if let Some((inner, op, n)) = call_with_comparison(body, "count") {
        Check::Count {
            subject,
            filter: valid_filter(inner)?,
            bound: parse_bound(op, n)?,
        }
    } else if let Some((inner, op, budget)) = call_with_comparison(body, "max_duration") {
        if !matches!(op, "<=" | "<") {
            return Err(format!("max_duration takes <= or <, got {op}"));
        }
        let budget = crate::units::parse_duration(budget.trim())?;
        Check::MaxDuration {
            filter: valid_filter(inner)?,
            budget,
            bound,
        }
    } else if split_outside_quotes(body, "->").len() == 2 {
        let parts = split_outside_quotes(body, "->");
        Check::Descendant {
            ancestor: valid_filter(parts[0])?,
            descendant: valid_filter(parts[1])?,
        }
    } else if split_outside_quotes(body, " then ").len() >= 2 {
        let steps = split_outside_quotes(body, " then ")
            .into_iter()
            .map(valid_filter)
            .collect::<Result<_, _>>()?;
        Check::Order { steps }
    } else {
        Check::Count {
            subject,
            filter: valid_filter(body)?,
            bound,
        }
    };
    Ok(Assertion { name, check })
}

/// One entry of an assertion file (YAML).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    name: Option<String>,
    #[serde(default)]
    signal: Option<String>,
    #[serde(rename = "where")]
    filter: Option<String>,
    count: Option<i64>,
    // Whole numbers for counts; metric entries also take fractions and durations (`500ms`).
    min: Option<metrics::Scalar>,
    max: Option<metrics::Scalar>,
    max_duration: Option<String>,
    descendant: Option<DescendantEntry>,
    order: Option<Vec<String>>,
    #[serde(default)]
    no_orphans: bool,
    every: Option<EveryEntry>,
    #[serde(rename = "assert")]
    compact: Option<String>,
    metric: Option<String>,
    value: Option<String>,
    equals: Option<metrics::Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EveryEntry {
    selector: String,
    predicate: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DescendantEntry {
    ancestor: String,
    descendant: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssertionFile {
    assertions: Vec<FileEntry>,
}

/// Parse an assertion file; every problem is reported, each with its entry's path.
pub fn parse_file(yaml: &str) -> Result<Vec<Assertion>, Vec<String>> {
    let file: AssertionFile = serde_yaml_ng::from_str(yaml).map_err(|e| vec![format!("assertion file: {e}")])?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, entry) in file.assertions.into_iter().enumerate() {
        let path = format!("assertions[{i}]");
        match entry_to_assertion(entry, i) {
            Ok(a) => out.push(a),
            Err(e) => errors.push(format!("{path}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// An assertion file's metric entry: `metric`, and `where`, `value`, `min` / `max` / `equals`.
fn metric_entry(e: &FileEntry, metric: &str) -> Result<Assertion, String> {
    let others = [
        ("signal", e.signal.is_some()),
        ("count", e.count.is_some()),
        ("max_duration", e.max_duration.is_some()),
        ("descendant", e.descendant.is_some()),
        ("order", e.order.is_some()),
        ("no_orphans", e.no_orphans),
        ("every", e.every.is_some()),
        ("assert", e.compact.is_some()),
    ];
    if let Some((key, _)) = others.iter().find(|(_, set)| *set) {
        return Err(format!(
            "{key} does not go with metric (a metric entry takes name, metric, where, value and min, max or equals)"
        ));
    }
    let check = metrics::from_file(
        metric,
        e.filter.as_deref(),
        e.value.as_deref(),
        e.min.as_ref(),
        e.max.as_ref(),
        e.equals.as_ref(),
    )?;
    Ok(Assertion {
        name: e.name.clone().unwrap_or_else(|| check.describe()),
        check: Check::Metric(check),
    })
}

fn entry_to_assertion(e: FileEntry, index: usize) -> Result<Assertion, String> {
    if let Some(metric) = &e.metric {
        return metric_entry(&e, metric);
    }
    if e.value.is_some() || e.equals.is_some() {
        return Err("value and equals go with metric".into());
    }
    let subject = e.signal.as_deref().map(Subject::parse).transpose()?.unwrap_or(Subject::Spans);
    let has_budget = e.max_duration.is_some();
    let kinds = [
        e.compact.is_some(),
        e.descendant.is_some(),
        e.order.is_some(),
        e.no_orphans,
        e.filter.is_some(),
        e.every.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err("give exactly one of: where, assert, descendant, order, no_orphans, every".into());
    }
    let min = e.min.as_ref().map(|m| m.whole("min")).transpose()?;
    let max = e.max.as_ref().map(|m| m.whole("max")).transpose()?;
    let bound = match (e.count, min, max) {
        (Some(n), None, None) => Bound::Exactly(n),
        (None, Some(a), Some(b)) => Bound::Between(a, b),
        (None, Some(a), None) => Bound::AtLeast(a),
        (None, None, Some(b)) => Bound::AtMost(b),
        (None, None, None) => Bound::AtLeast(1),
        _ => return Err("count cannot be combined with min or max".into()),
    };
    let mut assertion = if let Some(text) = &e.compact {
        parse_compact(text, subject, bound)?
    } else if let Some(d) = e.descendant {
        Assertion {
            name: String::new(),
            check: Check::Descendant {
                ancestor: valid_filter(&d.ancestor)?,
                descendant: valid_filter(&d.descendant)?,
            },
        }
    } else if let Some(steps) = e.order {
        if steps.len() < 2 {
            return Err("order needs at least two steps".into());
        }
        Assertion {
            name: String::new(),
            check: Check::Order {
                steps: steps.iter().map(|s| valid_filter(s)).collect::<Result<_, _>>()?,
            },
        }
    } else if e.no_orphans {
        Assertion {
            name: String::new(),
            check: Check::NoOrphans,
        }
    } else if let Some(every) = e.every {
        Assertion {
            name: String::new(),
            check: Check::Every {
                subject,
                selector: valid_filter(&every.selector).map_err(|m| format!("every.selector: {m}"))?,
                predicate: valid_filter(&every.predicate).map_err(|m| format!("every.predicate: {m}"))?,
            },
        }
    } else {
        let filter = valid_filter(e.filter.as_deref().unwrap_or_default())?;
        match e.max_duration {
            Some(budget) => {
                let budget = crate::units::parse_duration(&budget).map_err(|m| format!("max_duration: {m}"))?;
                Assertion {
                    name: String::new(),
                    check: Check::MaxDuration { filter, budget, bound },
                }
            }
            None => Assertion {
                name: String::new(),
                check: Check::Count { subject, filter, bound },
            },
        }
    };
    if has_budget && !matches!(assertion.check, Check::MaxDuration { .. }) {
        return Err("max_duration goes with where".into());
    }
    assertion.name = e.name.unwrap_or_else(|| {
        if assertion.name.is_empty() {
            format!("assertion {}", index + 1)
        } else {
            assertion.name.clone()
        }
    });
    Ok(assertion)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_forms() {
        let p = |t| parse_compact(t, Subject::Spans, Bound::AtLeast(1)).unwrap().check;
        assert_eq!(
            p(r#"name = "checkout""#),
            Check::Count {
                subject: Subject::Spans,
                filter: r#"name = "checkout""#.into(),
                bound: Bound::AtLeast(1)
            }
        );
        assert_eq!(
            p("logs: severity >= error"),
            Check::Count {
                subject: Subject::Logs,
                filter: "severity >= error".into(),
                bound: Bound::AtLeast(1)
            }
        );
        assert_eq!(
            p("count(status = error) == 0"),
            Check::Count {
                subject: Subject::Spans,
                filter: "status = error".into(),
                bound: Bound::Exactly(0)
            }
        );
        assert_eq!(
            p("count(name = a) > 2"),
            Check::Count {
                subject: Subject::Spans,
                filter: "name = a".into(),
                bound: Bound::AtLeast(3)
            }
        );
        assert_eq!(
            p("max_duration(name = a) <= 2s"),
            Check::MaxDuration {
                filter: "name = a".into(),
                budget: Duration::from_secs(2),
                bound: Bound::AtLeast(1)
            }
        );
        assert_eq!(
            p("name = agent -> name =~ \"^tool\""),
            Check::Descendant {
                ancestor: "name = agent".into(),
                descendant: "name =~ \"^tool\"".into()
            }
        );
        assert_eq!(
            p("name = a then name = b then name = c"),
            Check::Order {
                steps: vec!["name = a".into(), "name = b".into(), "name = c".into()]
            }
        );
        assert_eq!(p("no orphans"), Check::NoOrphans);
        assert_eq!(
            p("every(name = \"charge\"): duration < 2s and http.status_code = 200"),
            Check::Every {
                subject: Subject::Spans,
                selector: "name = \"charge\"".into(),
                predicate: "duration < 2s and http.status_code = 200".into(),
            }
        );
        // separators inside quotes are text
        assert!(matches!(p(r#"name = "a -> b""#), Check::Count { .. }));
    }

    #[test]
    fn bad_filters_are_reported_with_the_column() {
        let err = parse_compact("count(duration >) == 1", Subject::Spans, Bound::AtLeast(1)).unwrap_err();
        assert!(err.contains("column"), "{err}");
    }

    #[test]
    fn assertion_files_report_every_error_with_its_path() {
        let yaml = r#"
assertions:
  - name: checkout works
    where: 'name = "checkout" and status != error'
    count: 1
    max_duration: 2s
  - name: agents call tools
    descendant: { ancestor: 'name = agent', descendant: 'name =~ "^tool"' }
  - no_orphans: true
  - where: 'duration >'
  - where: 'a = 1'
    descendant: { ancestor: 'x = 1', descendant: 'y = 2' }
"#;
        let errors = parse_file(yaml).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("assertions[3]") && errors[0].contains("column"), "{errors:?}");
        assert!(errors[1].starts_with("assertions[4]"), "{errors:?}");
        let ok = parse_file(&yaml.lines().take(9).collect::<Vec<_>>().join("\n")).unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].name, "checkout works");
        assert!(matches!(ok[0].check, Check::MaxDuration { .. }));
        assert_eq!(ok[2].check, Check::NoOrphans);
    }
}
