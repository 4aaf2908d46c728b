//! Instrumentation lint over stored spans: problems in how services are instrumented (missing
//! service.name, orphan spans, end before start, duplicate span ids, clock skew, late asynchronous ends, high-cardinality names, oversized
//! attributes). Looks at the most recent spans only, so it stays cheap on a large store.

use super::rows::decode_attributes;
use super::schema::span_of_trace;
use super::StoreError;
use crate::pdata::hex_id;
use rusqlite::Connection;

/// How many of the newest spans a lint pass examines.
const WINDOW: i64 = 200_000;
/// Distinct span names per service above which names are probably carrying ids.
const MAX_NAMES_PER_SERVICE: i64 = 100;
/// Attribute values longer than this are reported.
const MAX_ATTRIBUTE_BYTES: usize = 4096;
/// A child may start this much before / end this much after its parent before it counts as skew.
const SKEW_TOLERANCE_NS: i64 = 1_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub trace_id: String,
    pub span_id: String,
    pub service: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub count: i64,
    pub examples: Vec<Example>,
}

fn examples(conn: &Connection, sql: &str, floor: i64) -> rusqlite::Result<(i64, Vec<Example>)> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([floor], |r| {
        Ok(Example {
            trace_id: hex_id(&r.get::<_, Vec<u8>>(0)?),
            span_id: hex_id(&r.get::<_, Vec<u8>>(1)?),
            service: r.get(2)?,
            name: r.get(3)?,
        })
    })?;
    let all: Vec<Example> = rows.collect::<Result<_, _>>()?;
    Ok((all.len() as i64, all.into_iter().take(3).collect()))
}

/// Run every rule; rules with nothing to report are left out.
pub fn lint(conn: &Connection) -> Result<Vec<Finding>, StoreError> {
    lint_scoped(conn, &LintScope::default())
}

/// Traces one lint pass looks at at most when scoped to the traces of a filter.
const MAX_SCOPED_TRACES: usize = 10_000;

/// Which of the newest spans a lint pass looks at: those starting in `range` (`otelbox lint
/// --since`), and those of the traces with a span matching `traces` (the API's `trace_has`: one
/// test's traces; the first `MAX_SCOPED_TRACES` of them).
#[derive(Clone, Debug, Default)]
pub struct LintScope {
    pub range: Option<super::read::TimeRange>,
    pub traces: Option<super::sql::SqlFilter>,
}

impl LintScope {
    /// The SQL condition on spans `s` (to follow another), with no parameters: the numbers and ids
    /// go in as literals this code makes (integers, hex blobs), so every rule keeps its own `?N`.
    fn condition(&self, conn: &Connection) -> Result<String, StoreError> {
        let mut sql = String::new();
        if let Some(range) = self.range {
            // Only the bounded sides: i64::MIN is no integer literal in SQL.
            if range.start > i64::MIN {
                sql.push_str(&format!(" AND s.start_ns >= {}", range.start));
            }
            if range.end < i64::MAX {
                sql.push_str(&format!(" AND s.start_ns <= {}", range.end));
            }
        }
        if let Some(filter) = &self.traces {
            let mut stmt = conn.prepare(&format!("SELECT DISTINCT s.trace_id FROM spans s WHERE {} LIMIT ?", filter.sql))?;
            let mut params = filter.params.clone();
            params.push(rusqlite::types::Value::Integer(MAX_SCOPED_TRACES as i64));
            let ids: Vec<Vec<u8>> = stmt
                .query_map(rusqlite::params_from_iter(params), |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            if ids.is_empty() {
                sql.push_str(" AND 0");
            } else {
                let list: Vec<String> = ids.iter().map(|id| format!("x'{}'", hex_id(id))).collect();
                sql.push_str(&format!(" AND s.trace_id IN ({})", list.join(", ")));
            }
        }
        Ok(sql)
    }
}

/// `lint` over the spans of `scope` only.
pub fn lint_scoped(conn: &Connection, scope: &LintScope) -> Result<Vec<Finding>, StoreError> {
    let scope = scope.condition(conn)?;
    let max_id: i64 = conn.query_row(&format!("SELECT coalesce({}, 0)", super::packed::NEWEST_SPAN_ID), [], |r| r.get(0))?;
    let floor = max_id - WINDOW;
    let select = "SELECT s.trace_id, s.span_id, r.service, s.name FROM spans s JOIN resources r ON r.id = s.resource_id";
    let mut findings = Vec::new();
    let mut rule = |rule: &'static str, severity: &'static str, message: &str, sql: String| -> Result<(), StoreError> {
        let (count, examples) = examples(conn, &sql, floor)?;
        if count > 0 {
            findings.push(Finding {
                rule,
                severity,
                message: message.to_string(),
                count,
                examples,
            });
        }
        Ok(())
    };
    rule(
        "missing-service-name",
        "error",
        "spans without a service.name resource attribute (set OTEL_SERVICE_NAME)",
        format!("{select} WHERE s.id > ?1{scope} AND r.service = 'unknown_service' LIMIT 1000"),
    )?;
    rule(
        "orphan-span",
        "warning",
        "spans whose parent never arrived (lost export, or context propagated from an uninstrumented caller)",
        format!(
            "{select} WHERE s.id > ?1{scope} AND s.parent_span_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM spans p WHERE {}) LIMIT 1000",
            span_of_trace("p", "s.trace_id", "s.parent_span_id")
        ),
    )?;
    rule(
        "end-before-start",
        "error",
        "spans that end before they start",
        format!("{select} WHERE s.id > ?1{scope} AND s.end_ns < s.start_ns LIMIT 1000"),
    )?;
    rule(
        "duplicate-span-id",
        "warning",
        "spans stored more than once with the same trace id and span id (written before otelbox kept the first copy only); \
         a sender that re-exports spans (retries, forked processes) would otherwise show them twice",
        format!(
            "{select} WHERE s.id > ?1{scope} AND EXISTS (SELECT 1 FROM spans d WHERE {} AND d.id < s.id) LIMIT 1000",
            span_of_trace("d", "s.trace_id", "s.span_id")
        ),
    )?;
    // A parent stored twice is a duplicate, named by the rule above, not skew against either copy.
    let skew_or_late = |condition: &str| {
        format!(
            "{select} JOIN spans p ON {}
             WHERE s.id > ?1{scope} AND ({condition})
             AND NOT EXISTS (SELECT 1 FROM spans d WHERE {} AND d.id <> p.id) LIMIT 1000",
            span_of_trace("p", "s.trace_id", "s.parent_span_id"),
            span_of_trace("d", "s.trace_id", "p.span_id")
        )
    };
    let tolerance = SKEW_TOLERANCE_NS;
    rule(
        "clock-skew",
        "warning",
        "child spans starting outside their parent's time span (clock skew between hosts, or a parent ended too early)",
        skew_or_late(&format!(
            "s.start_ns < p.start_ns - {tolerance} OR s.start_ns > p.end_ns + {tolerance}"
        )),
    )?;
    // Starting inside the parent and ending after it is not skew: the parent did not wait.
    rule(
        "ends-after-parent",
        "warning",
        "child spans that start inside their parent but end after it (asynchronous work the parent did not wait for: \
         fine for fire-and-forget, a bug where the parent should have waited)",
        skew_or_late(&format!(
            "s.start_ns BETWEEN p.start_ns - {tolerance} AND p.end_ns + {tolerance} AND s.end_ns > p.end_ns + {tolerance}"
        )),
    )?;
    // High-cardinality names: many distinct names in one service.
    let mut stmt = conn.prepare(&format!(
        "SELECT r.service, count(DISTINCT s.name) AS n FROM spans s JOIN resources r ON r.id = s.resource_id
         WHERE s.id > ?1{scope} GROUP BY r.service HAVING n > ?2 ORDER BY n DESC"
    ))?;
    let services: Vec<(String, i64)> = stmt
        .query_map([floor, MAX_NAMES_PER_SERVICE], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (service, n) in services {
        let mut names = conn.prepare(&format!(
            "SELECT DISTINCT s.name FROM spans s JOIN resources r ON r.id = s.resource_id WHERE s.id > ?1{scope} AND r.service = ?2 LIMIT 3"
        ))?;
        let examples = names
            .query_map(rusqlite::params![floor, service], |r| {
                Ok(Example {
                    trace_id: String::new(),
                    span_id: String::new(),
                    service: service.clone(),
                    name: r.get(0)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        findings.push(Finding {
            rule: "high-cardinality-span-names",
            severity: "warning",
            message: format!("service {service} uses {n} distinct span names; put ids and parameters in attributes, not names"),
            count: n,
            examples,
        });
    }
    // Oversized attribute values: a cheap length filter in SQL, the exact check here.
    let mut stmt = conn.prepare(&format!(
        "SELECT s.trace_id, s.span_id, r.service, s.name, s.attrs FROM spans s JOIN resources r ON r.id = s.resource_id
         WHERE s.id > ?1{scope} AND otelbox_plain_length(s.attrs) > ?2 LIMIT 1000"
    ))?;
    let mut rows = stmt.query(rusqlite::params![floor, MAX_ATTRIBUTE_BYTES as i64])?;
    let (mut count, mut found) = (0, Vec::new());
    let mut keys = std::collections::BTreeSet::new();
    while let Some(row) = rows.next()? {
        let attrs: Option<Vec<u8>> = row.get(4)?;
        let big: Vec<String> = decode_attributes(attrs.as_deref())
            .into_iter()
            .filter(|kv| {
                kv.value
                    .as_ref()
                    .map(|v| prost::Message::encoded_len(v) > MAX_ATTRIBUTE_BYTES)
                    .unwrap_or(false)
            })
            .map(|kv| kv.key)
            .collect();
        if !big.is_empty() {
            count += 1;
            keys.extend(big);
            if found.len() < 3 {
                found.push(Example {
                    trace_id: hex_id(&row.get::<_, Vec<u8>>(0)?),
                    span_id: hex_id(&row.get::<_, Vec<u8>>(1)?),
                    service: row.get(2)?,
                    name: row.get(3)?,
                });
            }
        }
    }
    if count > 0 {
        let keys: Vec<String> = keys.into_iter().take(5).collect();
        findings.push(Finding {
            rule: "oversized-attribute",
            severity: "warning",
            message: format!(
                "attribute values over {MAX_ATTRIBUTE_BYTES} bytes ({}); truncate them or record them as events or logs",
                keys.join(", ")
            ),
            count,
            examples: found,
        });
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spans stored twice (before deduplication, or by an older otelbox) are named as duplicates,
    /// and a child of a duplicated parent is not called clock skew.
    #[test]
    fn lint_names_duplicate_span_ids_and_not_clock_skew() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        super::super::functions::register(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO resources(id, hash, service, schema_url, body) VALUES (1, 1, 'svc', '', x'');
             INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count, first_span, last_span)
               VALUES (x'01', 100, 400, 3, 0, 1, 3);
             INSERT INTO main.spans(id, trace_id, span_id, parent_span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code) VALUES
               (1, x'01', x'0a', NULL, 'parent', 0, 1, 1, 100, 200, 0),
               (2, x'01', x'0a', NULL, 'parent', 0, 1, 1, 100, 400, 0),
               (3, x'01', x'0b', x'0a', 'child', 0, 1, 1, 150, 390, 0);",
        )
        .unwrap();
        let findings = lint(&conn).unwrap();
        let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["duplicate-span-id"], "{findings:?}");
        assert_eq!(findings[0].count, 1);
        assert_eq!(findings[0].examples[0].name, "parent");
    }

    /// A child starting before its parent is clock skew; one starting inside it and ending after
    /// is asynchronous work the parent did not wait for, named apart.
    #[test]
    fn a_late_asynchronous_end_is_not_called_clock_skew() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        super::super::functions::register(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO resources(id, hash, service, schema_url, body) VALUES (1, 1, 'svc', '', x'');
             INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count, first_span, last_span)
               VALUES (x'01', 0, 900000000, 3, 0, 1, 3);
             INSERT INTO main.spans(id, trace_id, span_id, parent_span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code) VALUES
               (1, x'01', x'0a', NULL, 'request', 0, 1, 1, 100000000, 200000000, 0),
               (2, x'01', x'0b', x'0a', 'send email', 0, 1, 1, 150000000, 900000000, 0),
               (3, x'01', x'0c', x'0a', 'skewed', 0, 1, 1, 10000000, 120000000, 0);",
        )
        .unwrap();
        let findings = lint(&conn).unwrap();
        let named = |rule: &str| {
            findings
                .iter()
                .find(|f| f.rule == rule)
                .map(|f| f.examples.iter().map(|e| e.name.clone()).collect::<Vec<_>>())
        };
        assert_eq!(named("clock-skew"), Some(vec!["skewed".to_string()]));
        assert_eq!(named("ends-after-parent"), Some(vec!["send email".to_string()]));
    }

    /// `otelbox lint --since` and the API's `trace_has`: only the spans of the window, or of the
    /// traces with a matching span, are linted.
    #[test]
    fn a_scoped_lint_looks_at_the_window_or_the_traces_only() {
        use crate::store::read::TimeRange;
        use crate::store::sql::{compile_text, NoResourceAttrs, Target};
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        super::super::functions::register(&conn).unwrap();
        // An orphan in each trace: an old one in trace 01, a recent one in trace 02.
        conn.execute_batch(
            "INSERT INTO resources(id, hash, service, schema_url, body) VALUES (1, 1, 'svc', '', x'');
             INSERT INTO traces(trace_id, start_ns, end_ns, span_count, error_count, first_span, last_span)
               VALUES (x'01', 100, 400, 2, 0, 1, 2), (x'02', 5000, 5400, 2, 0, 3, 4);
             INSERT INTO main.spans(id, trace_id, span_id, parent_span_id, name, kind, resource_id, scope_id, start_ns, end_ns, status_code) VALUES
               (1, x'01', x'0a', NULL, 'test old', 0, 1, 1, 100, 400, 0),
               (2, x'01', x'0b', x'ff', 'old orphan', 0, 1, 1, 150, 390, 0),
               (3, x'02', x'0c', NULL, 'test new', 0, 1, 1, 5000, 5400, 0),
               (4, x'02', x'0d', x'fe', 'new orphan', 0, 1, 1, 5050, 5390, 0);",
        )
        .unwrap();
        let orphans = |scope: LintScope| -> Vec<String> {
            lint_scoped(&conn, &scope)
                .unwrap()
                .into_iter()
                .filter(|f| f.rule == "orphan-span")
                .flat_map(|f| f.examples.into_iter().map(|e| e.name))
                .collect()
        };
        assert_eq!(orphans(LintScope::default()).len(), 2);
        let recent = LintScope {
            range: Some(TimeRange {
                start: 1000,
                end: i64::MAX,
            }),
            traces: None,
        };
        assert_eq!(orphans(recent), ["new orphan"]);
        let of_test = |name: &str| LintScope {
            range: None,
            traces: Some(compile_text(Some(&format!("name = \"{name}\"")), Target::Spans, &NoResourceAttrs).unwrap()),
        };
        assert_eq!(orphans(of_test("test old")), ["old orphan"]);
        assert!(orphans(of_test("no such test")).is_empty());
    }
}
