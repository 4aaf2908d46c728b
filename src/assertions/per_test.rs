//! Per-test scope (`otelbox run --per-test[=ATTR]`): every assertion is evaluated once per test,
//! over that test's traces only, and reported as "TEST :: ASSERTION" in a JUnit testsuite per test.
//!
//! A test is a distinct value of the attribute ATTR (default `test.name`), set on the test's root
//! span (so everything the test does is in its trace), on its resource (one process per test), or
//! copied from baggage onto every span. A test's traces are those with a span carrying its value:
//! the client's `in_traces_of` scope, which every search of the evaluation then carries.

use super::eval::{self, Outcome};
use super::Assertion;
use crate::api::wire::{self, routes};
use crate::client::{ApiClient, ClientError};
use crate::query::filter::{self, CmpOp, Expr, Field, Literal};
use serde_json::Value;
use std::time::Duration;

/// The attribute `--per-test` reads unless told another.
pub const DEFAULT_ATTRIBUTE: &str = "test.name";

/// Spans read per page while collecting the tests, and pages at most.
const PAGE: usize = 10_000;
const MAX_PAGES: usize = 100;

/// One test: its name (the attribute's value) and the filter matching its spans.
#[derive(Clone, Debug, PartialEq)]
pub struct TestCase {
    pub name: String,
    pub filter: String,
}

/// The attribute `--per-test` names, as a filter field: an attribute key (a bare key also finds a
/// resource attribute, as filters do) or `resource.KEY`.
pub fn attribute(text: &str) -> Result<Field, String> {
    let complain = || format!("--per-test: '{text}' is not an attribute key; use one like test.name or resource.test.name");
    match filter::parse(&format!("has({})", text.trim())) {
        Ok(Some(Expr::Has(field @ (Field::Attribute(_) | Field::Resource(_))))) => Ok(field),
        _ => Err(complain()),
    }
}

/// The value of `field` on a span: a bare key in its attributes, then in its resource.
fn value_of<'a>(field: &Field, span: &'a wire::Span) -> Option<&'a Value> {
    match field {
        Field::Attribute(key) => span.attributes.get(key).or_else(|| span.resource.get(key)),
        Field::Resource(key) => span.resource.get(key),
        _ => None,
    }
}

/// A test of a value: its name and the filter `FIELD = VALUE` (None for values no filter compares
/// with, such as arrays).
fn test_case(field: &Field, value: &Value) -> Option<TestCase> {
    let (name, literal) = match value {
        Value::String(s) => (s.clone(), Literal::Str(s.clone())),
        Value::Bool(b) => (b.to_string(), Literal::Word(b.to_string())),
        Value::Number(n) => match n.as_i64() {
            Some(i) => (i.to_string(), Literal::Int(i)),
            None => (n.to_string(), Literal::Float(n.as_f64().filter(|f| f.is_finite())?)),
        },
        _ => return None,
    };
    let expr = Expr::Compare {
        field: field.clone(),
        op: CmpOp::Eq,
        value: literal,
    };
    Some(TestCase {
        name,
        filter: expr.to_string(),
    })
}

/// The tests whose spans are stored, in the order they started.
pub async fn tests(client: &ApiClient, field: &Field) -> Result<Vec<TestCase>, ClientError> {
    // (test, its earliest span's start)
    let mut found: Vec<(TestCase, i64)> = Vec::new();
    let mut end: Option<i64> = None;
    for _ in 0..MAX_PAGES {
        let page: wire::SpansResponse = client
            .get(
                routes::SPANS,
                &wire::SpansParams {
                    q: Some(Expr::Has(field.clone()).to_string()),
                    limit: Some(PAGE),
                    window: wire::WindowParams {
                        end: end.map(|e| e.to_string()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await?;
        for span in &page.spans {
            let Some(test) = value_of(field, span).and_then(|v| test_case(field, v)) else {
                continue;
            };
            match found.iter_mut().find(|(t, _)| *t == test) {
                Some((_, start)) => *start = (*start).min(span.start_unix_nano),
                None => found.push((test, span.start_unix_nano)),
            }
        }
        // Newest first: the next page ends where this one did (its oldest start, inclusive).
        let oldest = page.spans.iter().map(|s| s.start_unix_nano).min();
        if page.spans.len() < PAGE || oldest.is_none() || oldest == end {
            break;
        }
        end = oldest;
    }
    found.sort_by_key(|(_, start)| *start);
    Ok(found.into_iter().map(|(test, _)| test).collect())
}

/// Every assertion evaluated over each test's traces, test after test (in `tests`' order), each
/// outcome named "TEST :: ASSERTION".
pub async fn evaluate(client: &ApiClient, tests: &[TestCase], assertions: &[Assertion]) -> Result<Vec<Outcome>, ClientError> {
    let mut outcomes = Vec::new();
    for test in tests {
        let scoped = client.clone().in_traces_of(&test.filter);
        for assertion in assertions {
            let mut outcome = eval::evaluate(&scoped, assertion).await?;
            outcome.name = format!("{} :: {}", test.name, outcome.name);
            outcomes.push(outcome);
        }
    }
    Ok(outcomes)
}

/// The JUnit report of a run: with `tests` (a `--per-test` run), a testsuite per test holding the
/// first `per_test` outcomes each (what `evaluate` returned, in order, at the front of `outcomes`),
/// and the rest (lint gates, golden traces, ...) in a testsuite "run"; without, one testsuite "run".
pub fn render_junit(tests: Option<&[TestCase]>, per_test: usize, outcomes: &[Outcome]) -> String {
    let Some(tests) = tests else {
        return super::junit::render("run", outcomes);
    };
    let scoped = (tests.len() * per_test).min(outcomes.len());
    let mut suites: Vec<(String, Vec<Outcome>)> = Vec::new();
    if per_test > 0 {
        for (test, chunk) in tests.iter().zip(outcomes[..scoped].chunks(per_test)) {
            suites.push((test.name.clone(), chunk.to_vec()));
        }
    }
    if scoped < outcomes.len() || suites.is_empty() {
        suites.push(("run".to_string(), outcomes[scoped..].to_vec()));
    }
    super::junit::render_suites(&suites)
}

/// The failed outcome when `--per-test` found no test at all.
pub fn no_tests(attribute: &str) -> Outcome {
    Outcome {
        name: format!("per-test: tests named by {attribute}"),
        passed: false,
        detail: format!(
            "no span has the attribute {attribute}, so no assertion was checked: set it on each test's root span \
             (docs/ci/pytest-conftest.py, docs/ci/node-test-example.mjs), or name another with --per-test=ATTR"
        ),
        elapsed: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_attribute_is_an_attribute_key() {
        assert_eq!(attribute("test.name"), Ok(Field::Attribute("test.name".into())));
        assert_eq!(attribute("resource.test.name"), Ok(Field::Resource("test.name".into())));
        assert_eq!(attribute(r#"attr["test name"]"#), Ok(Field::Attribute("test name".into())));
        for bad in ["name", "service", "duration", "", "a b", "test.name = 1"] {
            assert!(attribute(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_value_makes_a_filter_that_parses_back() {
        let field = Field::Attribute("test.name".into());
        let case = test_case(&field, &json!("tests/test_shop.py::test_refund[\"quoted\" \\ case]")).unwrap();
        assert_eq!(case.name, "tests/test_shop.py::test_refund[\"quoted\" \\ case]");
        match filter::parse(&case.filter).unwrap().unwrap() {
            Expr::Compare {
                field: f,
                op: CmpOp::Eq,
                value: Literal::Str(s),
            } => assert_eq!((f, s.as_str()), (field.clone(), case.name.as_str())),
            other => panic!("{other:?}"),
        }
        assert_eq!(test_case(&field, &json!(7)).unwrap().filter, "test.name = 7");
        assert_eq!(test_case(&field, &json!(true)).unwrap().filter, "test.name = true");
        assert!(test_case(&field, &json!(["a"])).is_none());
        let field = Field::Attribute("test name".into());
        assert_eq!(test_case(&field, &json!("t")).unwrap().filter, r#"attr["test name"] = "t""#);
    }

    #[test]
    fn the_junit_report_has_a_suite_per_test_then_the_run() {
        let outcome = |name: &str, passed: bool| Outcome {
            name: name.into(),
            passed,
            detail: "d".into(),
            elapsed: Duration::ZERO,
        };
        let tests = [
            TestCase {
                name: "test_ok".into(),
                filter: r#"test.name = "test_ok""#.into(),
            },
            TestCase {
                name: "test_bad".into(),
                filter: r#"test.name = "test_bad""#.into(),
            },
        ];
        let outcomes = [
            outcome("test_ok :: a", true),
            outcome("test_ok :: b", true),
            outcome("test_bad :: a", true),
            outcome("test_bad :: b", false),
            outcome("lint: orphan-span", false),
        ];
        let xml = render_junit(Some(&tests[..]), 2, &outcomes);
        let suites: Vec<&str> = xml
            .lines()
            .filter_map(|l| l.trim().strip_prefix("<testsuite name=\""))
            .map(|l| &l[..l.find('"').unwrap()])
            .collect();
        assert_eq!(suites, ["test_ok", "test_bad", "run"]);
        assert!(xml.contains("<testsuite name=\"test_bad\" tests=\"2\" failures=\"1\""), "{xml}");
        // Without --per-test: one suite, as before.
        assert_eq!(render_junit(None, 2, &outcomes), super::super::junit::render("run", &outcomes));
        // No test found: the run's suite alone.
        assert_eq!(
            render_junit(Some(&[] as &[TestCase]), 2, &outcomes[4..])
                .matches("<testsuite ")
                .count(),
            1
        );
    }
}
