//! Evaluating assertions against a box through its API. A failure says what was found instead,
//! including near misses: spans with the asserted name but other attributes.

use super::{Assertion, Bound, Check, Subject};
use crate::api::wire::{self, routes};
use crate::client::{ApiClient, ClientError};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub name: String,
    pub passed: bool,
    /// One line on success; what was found, and near misses, on failure.
    pub detail: String,
    pub elapsed: Duration,
}

/// Traces examined for descendant and order checks at most (the API's largest page): those having
/// spans matching both sides, newest first; a failure says when there were more.
const MAX_TRACES: usize = 1000;

fn spans_params(q: Option<String>, limit: usize) -> wire::SpansParams {
    wire::SpansParams {
        q,
        limit: Some(limit),
        ..Default::default()
    }
}

/// The `limit` longest spans matching `filter`.
fn longest_first(filter: String, limit: usize) -> wire::SpansParams {
    wire::SpansParams {
        sort: Some("duration".into()),
        ..spans_params(Some(filter), limit)
    }
}

async fn count(client: &ApiClient, subject: Subject, filter: &str) -> Result<i64, ClientError> {
    let r: wire::CountResponse = client
        .get(
            routes::COUNT,
            &wire::CountParams {
                signal: Some(subject.as_str().to_string()),
                q: Some(filter.to_string()),
                ..Default::default()
            },
        )
        .await?;
    Ok(r.count)
}

/// Evaluate once.
pub async fn evaluate(client: &ApiClient, assertion: &Assertion) -> Result<Outcome, ClientError> {
    let started = Instant::now();
    let (passed, detail) = match &assertion.check {
        Check::Count { subject, filter, bound } => {
            let n = count(client, *subject, filter).await?;
            if bound.holds(n) {
                (true, format!("{n} {} match `{filter}`", subject.as_str()))
            } else {
                let mut detail = format!("expected {} {} matching `{filter}`, found {n}", bound.describe(), subject.as_str());
                if n == 0 || matches!(bound, Bound::AtLeast(_)) {
                    detail.push_str(&near_misses(client, *subject, filter).await?);
                } else {
                    // Too many: which ones.
                    detail.push_str(&offenders(client, *subject, filter, n).await?);
                }
                (false, detail)
            }
        }
        Check::MaxDuration { filter, budget, bound } => {
            let n = count(client, Subject::Spans, filter).await?;
            let longest: wire::SpansResponse = client.get(routes::SPANS, &longest_first(filter.to_string(), 3)).await?;
            let over: Vec<&wire::Span> = longest.spans.iter().filter(|s| s.duration_ns > budget.as_nanos() as i64).collect();
            if !bound.holds(n) {
                (
                    false,
                    format!(
                        "expected {} spans matching `{filter}`, found {n}{}",
                        bound.describe(),
                        near_misses(client, Subject::Spans, filter).await?
                    ),
                )
            } else if let Some(worst) = over.first() {
                (
                    false,
                    format!(
                        "`{filter}`: {} took {}, over the {} budget (trace {})",
                        worst.name,
                        fmt_ns(worst.duration_ns),
                        fmt_ns(budget.as_nanos() as i64),
                        worst.trace_id
                    ),
                )
            } else {
                let max = longest.spans.first().map_or(0, |s| s.duration_ns);
                (
                    true,
                    format!(
                        "{n} spans match `{filter}`, the longest {} (budget {})",
                        fmt_ns(max),
                        fmt_ns(budget.as_nanos() as i64)
                    ),
                )
            }
        }
        Check::NoOrphans => {
            let lint: wire::LintResponse = client.get(routes::LINT, &()).await?;
            match lint.findings.iter().find(|f| f.rule == "orphan-span") {
                None => (true, "no span is missing its parent".into()),
                Some(f) => {
                    let examples: Vec<String> = f
                        .examples
                        .iter()
                        .map(|e| format!("{} ({}) in trace {}", e.name, e.service, e.trace_id))
                        .collect();
                    (
                        false,
                        format!("{} span(s) whose parent never arrived, e.g. {}", f.count, examples.join("; ")),
                    )
                }
            }
        }
        Check::Every {
            subject,
            selector,
            predicate,
        } => every_check(client, *subject, selector, predicate).await?,
        Check::Descendant { ancestor, descendant } => descendant_check(client, ancestor, descendant).await?,
        Check::Order { steps } => order_check(client, steps).await?,
        Check::Metric(check) => super::metrics::evaluate(client, check).await?,
    };
    Ok(Outcome {
        name: assertion.name.clone(),
        passed,
        detail,
        elapsed: started.elapsed(),
    })
}

/// Evaluate until it passes or `wait` runs out (polling), then report the last result.
pub async fn evaluate_with_wait(client: &ApiClient, assertion: &Assertion, wait: Duration) -> Result<Outcome, ClientError> {
    let deadline = Instant::now() + wait;
    let started = Instant::now();
    loop {
        let mut outcome = evaluate(client, assertion).await?;
        if outcome.passed || Instant::now() >= deadline {
            outcome.elapsed = started.elapsed();
            return Ok(outcome);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn fmt_ns(ns: i64) -> String {
    match ns {
        n if n >= 1_000_000_000 => format!("{:.2}s", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1}ms", n as f64 / 1e6),
        n => format!("{:.1}µs", n as f64 / 1e3),
    }
}

/// Every item matching `selector` satisfies `predicate`: the violations are the items matching the
/// selector and not the predicate, each listed with the values the expressions looked at.
async fn every_check(client: &ApiClient, subject: Subject, selector: &str, predicate: &str) -> Result<(bool, String), ClientError> {
    let selected = count(client, subject, selector).await?;
    if selected == 0 {
        return Ok((
            false,
            format!(
                "no {} match the selector `{selector}`, so `{predicate}` was checked on nothing{}",
                subject.as_str(),
                near_misses(client, subject, selector).await?
            ),
        ));
    }
    let violating = format!("({selector}) and not ({predicate})");
    let violations = count(client, subject, &violating).await?;
    if violations == 0 {
        return Ok((
            true,
            format!("all {selected} {} matching `{selector}` satisfy `{predicate}`", subject.as_str()),
        ));
    }
    Ok((
        false,
        format!(
            "{violations} of {selected} {} matching `{selector}` do not satisfy `{predicate}`{}",
            subject.as_str(),
            offenders(client, subject, &violating, violations).await?
        ),
    ))
}

/// Items listed when an assertion found too many; the rest are counted.
const LISTED_OFFENDERS: usize = 10;

/// The items matching `filter` (newest first, at most `LISTED_OFFENDERS` of the `found`), each
/// with the values the expression looked at: what a failed "at most" or "exactly" points at.
async fn offenders(client: &ApiClient, subject: Subject, filter: &str, found: i64) -> Result<String, ClientError> {
    let fields = fields_used(filter);
    let mut out = String::new();
    let listed = match subject {
        Subject::Logs => {
            let logs: wire::LogsResponse = client
                .get(
                    routes::LOGS,
                    &wire::LogsParams {
                        q: Some(filter.to_string()),
                        limit: Some(LISTED_OFFENDERS),
                        ..Default::default()
                    },
                )
                .await?;
            for l in &logs.logs {
                let body: String = l.body.to_string().chars().take(120).collect();
                out.push_str(&format!("\n      [{}] {} {body}", l.severity_text, l.service));
                if !l.trace_id.is_empty() {
                    out.push_str(&format!(" (trace {})", l.trace_id));
                }
                out.push_str(&used_values(&fields, &l.attributes, &l.resource));
            }
            logs.logs.len()
        }
        _ => {
            let spans: wire::SpansResponse = client
                .get(routes::SPANS, &spans_params(Some(filter.to_string()), LISTED_OFFENDERS))
                .await?;
            for sp in &spans.spans {
                out.push_str(&format!(
                    "\n      {} ({}) trace {} status={} duration={}",
                    sp.name,
                    sp.service,
                    sp.trace_id,
                    sp.status.code,
                    fmt_ns(sp.duration_ns)
                ));
                out.push_str(&used_values(&fields, &sp.attributes, &sp.resource));
            }
            spans.spans.len()
        }
    };
    if listed == 0 {
        return Ok(String::new());
    }
    let mut head = format!("\n    the {} found:", subject.as_str());
    if found > listed as i64 {
        out.push_str(&format!("\n      and {} more", found - listed as i64));
        head = format!("\n    the newest {listed} of them:");
    }
    Ok(head + &out)
}

/// The attribute and resource keys an expression compares or tests, in order of appearance.
fn fields_used(filter: &str) -> Vec<crate::query::filter::Field> {
    use crate::query::filter::{Expr, Field};
    fn walk(e: &Expr, out: &mut Vec<Field>) {
        match e {
            Expr::And(a, b) | Expr::Or(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Expr::Not(a) => walk(a, out),
            Expr::Has(field) | Expr::Compare { field, .. } => {
                if matches!(field, Field::Attribute(_) | Field::Resource(_)) && !out.contains(field) {
                    out.push(field.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(Some(e)) = crate::query::filter::parse(filter) {
        walk(&e, &mut out);
    }
    out
}

/// ` key=value` for each attribute the expression used (a bare key falls back to the resource,
/// as the filter does), `key=(none)` when the item lacks it.
fn used_values(
    fields: &[crate::query::filter::Field],
    attributes: &serde_json::Map<String, serde_json::Value>,
    resource: &serde_json::Map<String, serde_json::Value>,
) -> String {
    use crate::query::filter::Field;
    let mut out = String::new();
    for field in fields {
        let (key, value) = match field {
            Field::Attribute(key) => (key.as_str(), attributes.get(key).or_else(|| resource.get(key))),
            Field::Resource(key) => (key.as_str(), resource.get(key)),
            _ => continue,
        };
        let shown = value.map_or("(none)".to_string(), |v| match v {
            serde_json::Value::String(text) => text.chars().take(80).collect(),
            other => other.to_string(),
        });
        out.push_str(&format!(" {key}={shown}"));
    }
    out
}

/// The span name an expression asks for, if it has a plain `name = X` comparison.
fn asserted_name(filter: &str) -> Option<String> {
    fn find(e: &crate::query::filter::Expr) -> Option<String> {
        use crate::query::filter::{CmpOp, Expr, Field, Literal};
        match e {
            Expr::Compare {
                field: Field::Name,
                op: CmpOp::Eq,
                value: Literal::Str(s) | Literal::Word(s),
            } => Some(s.clone()),
            Expr::And(a, b) => find(a).or_else(|| find(b)),
            _ => None,
        }
    }
    crate::query::filter::parse(filter).ok().flatten().as_ref().and_then(find)
}

/// What came closest: spans with the asserted name (and their attributes), or the latest items.
async fn near_misses(client: &ApiClient, subject: Subject, filter: &str) -> Result<String, ClientError> {
    let mut out = String::new();
    if subject == Subject::Logs {
        let logs: wire::LogsResponse = client
            .get(
                routes::LOGS,
                &wire::LogsParams {
                    limit: Some(5),
                    ..Default::default()
                },
            )
            .await?;
        if !logs.logs.is_empty() {
            out.push_str("\n    latest log records:");
            for l in &logs.logs {
                out.push_str(&format!(
                    "\n      [{}] {}: {}",
                    l.severity_text,
                    l.service,
                    l.body.to_string().chars().take(120).collect::<String>()
                ));
            }
        }
        return Ok(out);
    }
    if let Some(name) = asserted_name(filter) {
        let same: wire::SpansResponse = client
            .get(
                routes::SPANS,
                &spans_params(Some(format!("name = \"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))), 5),
            )
            .await?;
        if same.spans.is_empty() {
            out.push_str(&format!("\n    no span is named \"{name}\""));
        } else {
            out.push_str(&format!("\n    near misses: spans named \"{name}\" that did not match:"));
            for s in &same.spans {
                out.push_str(&format!(
                    "\n      {} status={} duration={} trace {} attributes={}",
                    s.service,
                    s.status.code,
                    fmt_ns(s.duration_ns),
                    s.trace_id,
                    serde_json::Value::Object(s.attributes.clone())
                ));
            }
            return Ok(out);
        }
    }
    let recent: wire::SpansResponse = client.get(routes::SPANS, &spans_params(None, 5)).await?;
    if recent.spans.is_empty() {
        out.push_str("\n    the box holds no spans at all: is the SDK pointed at it (OTEL_EXPORTER_OTLP_ENDPOINT)?");
    } else {
        out.push_str("\n    latest spans:");
        for s in &recent.spans {
            out.push_str(&format!(
                "\n      {} {} status={} duration={} trace {}",
                s.service,
                s.name,
                s.status.code,
                fmt_ns(s.duration_ns),
                s.trace_id
            ));
        }
    }
    Ok(out)
}

/// Trace ids (newest first, at most `limit`) with a span matching `filter` and, when given, a
/// span matching `also` (the same span or another).
async fn traces_with(client: &ApiClient, filter: &str, also: Option<&str>, limit: usize) -> Result<Vec<String>, ClientError> {
    let r: wire::TracesResponse = client
        .get(
            routes::TRACES,
            &wire::TracesParams {
                q: Some(filter.to_string()),
                also: also.map(str::to_string),
                limit: Some(limit),
                ..Default::default()
            },
        )
        .await?;
    Ok(r.traces.into_iter().map(|t| t.trace_id).collect())
}

/// What a failure says when the candidates filled `MAX_TRACES`: the older ones were not checked.
fn partial_note(candidates: usize) -> String {
    if candidates >= MAX_TRACES {
        format!(" (only the newest {MAX_TRACES} such traces were checked; older ones were not)")
    } else {
        String::new()
    }
}

async fn spans_in_trace(client: &ApiClient, trace_id: &str, filter: &str) -> Result<Vec<wire::Span>, ClientError> {
    let r: wire::SpansResponse = client
        .get(
            routes::SPANS,
            &spans_params(Some(format!("trace_id = {trace_id} and ({filter})")), 10_000),
        )
        .await?;
    Ok(r.spans)
}

async fn descendant_check(client: &ApiClient, ancestor: &str, descendant: &str) -> Result<(bool, String), ClientError> {
    if traces_with(client, ancestor, None, 1).await?.is_empty() {
        return Ok((
            false,
            format!(
                "no span matches the ancestor `{ancestor}`{}",
                near_misses(client, Subject::Spans, ancestor).await?
            ),
        ));
    }
    // Only traces holding both can qualify: a suite of many tests hitting one endpoint has many
    // traces with the ancestor, and the one with the descendant may be the oldest.
    let traces = traces_with(client, ancestor, Some(descendant), MAX_TRACES).await?;
    if traces.is_empty() {
        return Ok((
            false,
            format!("traces have a span matching `{ancestor}`, but none has a span matching `{descendant}`"),
        ));
    }
    for trace_id in &traces {
        let ancestors: HashSet<String> = spans_in_trace(client, trace_id, ancestor)
            .await?
            .into_iter()
            .map(|s| s.span_id)
            .collect();
        let descendants = spans_in_trace(client, trace_id, descendant).await?;
        if descendants.is_empty() {
            continue;
        }
        let trace: wire::TraceResponse = client.get(&routes::trace(trace_id), &()).await?;
        let parent: HashMap<String, String> = trace.spans.iter().map(|s| (s.span_id.clone(), s.parent_span_id.clone())).collect();
        for d in &descendants {
            // Walk up the parents (bounded: a malformed trace may have a cycle).
            let mut current = d.parent_span_id.clone();
            for _ in 0..trace.spans.len() {
                if ancestors.contains(&current) {
                    return Ok((
                        true,
                        format!("trace {trace_id}: {} is a descendant of a span matching `{ancestor}`", d.name),
                    ));
                }
                match parent.get(&current) {
                    Some(p) if !p.is_empty() => current = p.clone(),
                    _ => break,
                }
            }
        }
    }
    Ok((
        false,
        format!(
            "{} trace(s) have spans matching `{ancestor}` and `{descendant}`, but in none is the second a descendant of the first{}",
            traces.len(),
            partial_note(traces.len())
        ),
    ))
}

async fn order_check(client: &ApiClient, steps: &[String]) -> Result<(bool, String), ClientError> {
    if traces_with(client, &steps[0], None, 1).await?.is_empty() {
        return Ok((
            false,
            format!(
                "no span matches the first step `{}`{}",
                steps[0],
                near_misses(client, Subject::Spans, &steps[0]).await?
            ),
        ));
    }
    // Traces holding the first two steps (every step must be there; two narrow enough).
    let traces = traces_with(client, &steps[0], steps.get(1).map(String::as_str), MAX_TRACES).await?;
    if traces.is_empty() {
        return Ok((
            false,
            format!(
                "no trace has spans matching both `{}` and `{}`",
                steps[0],
                steps.get(1).map_or("", String::as_str)
            ),
        ));
    }
    let mut closest = String::new();
    for trace_id in &traces {
        let mut previous = i64::MIN;
        let mut ok = true;
        for (i, step) in steps.iter().enumerate() {
            let spans = spans_in_trace(client, trace_id, step).await?;
            // The earliest match of this step that starts no earlier than the previous step.
            match spans.iter().map(|s| s.start_unix_nano).filter(|t| *t >= previous).min() {
                Some(t) => previous = t,
                None => {
                    if closest.is_empty() {
                        closest = format!(
                            "; in trace {trace_id} step {} `{step}` {}",
                            i + 1,
                            if spans.is_empty() { "never happened" } else { "happened too early" }
                        );
                    }
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            return Ok((true, format!("trace {trace_id} has all {} steps in order", steps.len())));
        }
    }
    Ok((
        false,
        format!("no trace runs the steps in order{closest}{}", partial_note(traces.len())),
    ))
}
