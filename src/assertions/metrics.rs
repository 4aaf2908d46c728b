//! Metric assertions: one value of a metric over the window (an `otelbox run`'s whole data, or
//! `otelbox assert --since`), across the series matching a filter, compared with limits; or that
//! the metric has a point at all.
//!
//! Compact: `metric(NAME).VALUE OP LIMIT [where FILTER]` and `metric(NAME) exists [where FILTER]`.
//! File: `metric: NAME`, `where`, `value` and `min` / `max` / `equals`.
//!
//! The box computes each series' value over the whole window (one step spanning it). Across the
//! matching series, `sum`, `count`, `rate` and `last` add up (every order created, the requests per
//! second of every route, the depth of every queue matched), `min` is the smallest and `max` the
//! largest, and `avg` and the percentiles are of every point or observation together (histograms'
//! buckets added before the quantile is read), not an average of per-series figures.

use super::{split_outside_quotes, valid_filter};
use crate::api::wire::{self, routes, MetricType};
use crate::client::{ApiClient, ClientError};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// Which value of a metric is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricValue {
    /// Each series' latest point (a cumulative counter's total, a gauge's current level).
    Last,
    /// What a counter counted in the window; a histogram's observed values added up.
    Sum,
    /// A counter's increase per second.
    Rate,
    Avg,
    Min,
    Max,
    /// How many observations a histogram holds.
    Count,
    P50,
    P90,
    P95,
    P99,
}

const VALUES: [MetricValue; 11] = [
    MetricValue::Last,
    MetricValue::Sum,
    MetricValue::Rate,
    MetricValue::Avg,
    MetricValue::Min,
    MetricValue::Max,
    MetricValue::Count,
    MetricValue::P50,
    MetricValue::P90,
    MetricValue::P95,
    MetricValue::P99,
];

impl MetricValue {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricValue::Last => "last",
            MetricValue::Sum => "sum",
            MetricValue::Rate => "rate",
            MetricValue::Avg => "avg",
            MetricValue::Min => "min",
            MetricValue::Max => "max",
            MetricValue::Count => "count",
            MetricValue::P50 => "p50",
            MetricValue::P90 => "p90",
            MetricValue::P95 => "p95",
            MetricValue::P99 => "p99",
        }
    }

    pub fn parse(text: &str) -> Result<MetricValue, String> {
        VALUES
            .iter()
            .copied()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| format!("unknown metric value '{text}'; use last, sum, rate, avg, min, max, count, p50, p90, p95 or p99"))
    }

    fn is_percentile(self) -> bool {
        matches!(self, MetricValue::P50 | MetricValue::P90 | MetricValue::P95 | MetricValue::P99)
    }

    /// The box's aggregation (`agg=`) giving this value of one series over the window.
    fn agg(self, kind: MetricType) -> &'static str {
        match self {
            // A counter's points are running totals (or deltas): what it counted is their increase.
            MetricValue::Sum if kind == MetricType::Sum => "increase",
            other => other.as_str(),
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
            Op::Ne => "!=",
        }
    }

    /// Equality allows for rounding (a sum of fractions, an interpolated quantile).
    pub fn holds(self, found: f64, limit: f64) -> bool {
        let equal = (found - limit).abs() <= 1e-9 * found.abs().max(limit.abs()).max(1.0);
        match self {
            Op::Lt => found < limit && !equal,
            Op::Le => found < limit || equal,
            Op::Gt => found > limit && !equal,
            Op::Ge => found > limit || equal,
            Op::Eq => equal,
            Op::Ne => !equal,
        }
    }
}

/// `OP rest` split at its leading operator.
fn split_op(text: &str) -> Option<(Op, &str)> {
    const OPS: [(&str, Op); 7] = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
    ];
    OPS.iter()
        .find_map(|(text_op, op)| text.strip_prefix(text_op).map(|rest| (*op, rest)))
}

/// A limit as written: a number in the metric's unit, or a duration converted to it.
#[derive(Clone, Debug, PartialEq)]
pub enum Limit {
    Number(f64),
    Duration(Duration),
}

impl Limit {
    pub fn parse(text: &str) -> Result<Limit, String> {
        let t = text.trim();
        if let Ok(n) = t.parse::<f64>() {
            return if n.is_finite() {
                Ok(Limit::Number(n))
            } else {
                Err(format!("'{t}' is not a finite number"))
            };
        }
        crate::units::parse_duration(t)
            .map(Limit::Duration)
            .map_err(|_| format!("expected a number or a duration (like 3, 0.5 or 500ms), got '{t}'"))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub op: Op,
    pub limit: Limit,
    /// The limit as written (`500ms`), for messages.
    pub text: String,
}

/// A value of the metric and the comparisons it must pass (all of them).
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub value: MetricValue,
    pub comparisons: Vec<Comparison>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricCheck {
    pub metric: String,
    /// Which series count: a filter on their attributes, service and resource; empty for all.
    pub filter: String,
    /// `None`: the metric has a point in a matching series (`exists`).
    pub expect: Option<Expectation>,
}

impl MetricCheck {
    /// The compact form of this check (the default name of an assertion file's metric entry).
    pub fn describe(&self) -> String {
        let name = if self.metric.contains(|c: char| c == ')' || c.is_whitespace()) {
            format!("\"{}\"", self.metric)
        } else {
            self.metric.clone()
        };
        let mut out = format!("metric({name})");
        match &self.expect {
            None => out.push_str(" exists"),
            Some(e) => {
                let parts: Vec<String> = e.comparisons.iter().map(|c| format!("{} {}", c.op.as_str(), c.text)).collect();
                out.push_str(&format!(".{} {}", e.value.as_str(), parts.join(" and ")));
            }
        }
        if !self.filter.is_empty() {
            out.push_str(&format!(" where {}", self.filter));
        }
        out
    }
}

/// `metric(NAME)[.VALUE OP LIMIT | exists][ where FILTER]`; `None` when `body` is another form.
pub(super) fn parse_compact(body: &str) -> Option<Result<MetricCheck, String>> {
    let rest = body.strip_prefix("metric")?.trim_start().strip_prefix('(')?;
    Some(parse_call(rest))
}

fn parse_call(rest: &str) -> Result<MetricCheck, String> {
    let rest = rest.trim_start();
    let (metric, tail) = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let inner = &rest[1..];
            let end = inner.find(q).ok_or("metric(: the quoted name is not closed")?;
            let tail = inner[end + 1..]
                .trim_start()
                .strip_prefix(')')
                .ok_or("metric(\"NAME\": expected ) after the name")?;
            (inner[..end].to_string(), tail)
        }
        _ => {
            let close = rest.find(')').ok_or("metric(NAME: expected ) after the name")?;
            (rest[..close].trim().to_string(), &rest[close + 1..])
        }
    };
    if metric.is_empty() {
        return Err("metric(): give the metric's name, like metric(http.server.request.duration)".into());
    }
    // ` where ` outside quotes starts the filter (padded: `metric(x) where ...` has no comparison).
    let padded = format!(" {tail} ");
    let parts = split_outside_quotes(&padded, " where ");
    let (comparison, filter) = if parts.len() >= 2 {
        let comparison = parts[0];
        let filter = padded[comparison.len() + " where ".len()..].trim();
        if filter.is_empty() {
            return Err(format!(
                "metric({metric}) ... where: give a filter after where, like where queue = \"orders\""
            ));
        }
        (comparison.trim().to_string(), valid_filter(filter)?)
    } else {
        (tail.trim().to_string(), String::new())
    };
    let expect = if comparison.is_empty() || comparison == "exists" {
        None
    } else {
        Some(parse_expectation(&metric, &comparison)?)
    };
    Ok(MetricCheck { metric, filter, expect })
}

/// `.VALUE OP LIMIT`.
fn parse_expectation(metric: &str, text: &str) -> Result<Expectation, String> {
    let Some(rest) = text.strip_prefix('.') else {
        return Err(format!(
            "after metric({metric}) expected .VALUE OP LIMIT (like .p95 < 500ms or .sum >= 3), exists, or where FILTER; got '{text}'"
        ));
    };
    let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    let value = MetricValue::parse(&rest[..end])?;
    let comparison = rest[end..].trim();
    let Some((op, limit)) = split_op(comparison) else {
        return Err(format!(
            "metric({metric}).{} needs a comparison, like < 500ms or >= 3; got '{comparison}'",
            value.as_str()
        ));
    };
    let text = limit.trim().to_string();
    let limit = Limit::parse(&text).map_err(|e| format!("after {}: {e}", op.as_str()))?;
    Ok(Expectation {
        value,
        comparisons: vec![Comparison { op, limit, text }],
    })
}

/// A value of an assertion file's `min`, `max` or `equals`: a number, or text such as `500ms`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Scalar {
    /// As a bound of a count (a whole number).
    pub(super) fn whole(&self, key: &str) -> Result<i64, String> {
        let complain = || format!("{key}: expected a whole number of matches (fractions and durations are for metric entries)");
        match self {
            Scalar::Int(n) => Ok(*n),
            Scalar::Text(t) => t.trim().parse().map_err(|_| complain()),
            Scalar::Float(_) => Err(complain()),
        }
    }

    fn limit(&self, key: &str) -> Result<Limit, String> {
        match self {
            Scalar::Int(n) => Ok(Limit::Number(*n as f64)),
            Scalar::Float(f) => Ok(Limit::Number(*f)),
            Scalar::Text(t) => Limit::parse(t).map_err(|e| format!("{key}: {e}")),
        }
    }

    fn text(&self) -> String {
        match self {
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Text(t) => t.trim().to_string(),
        }
    }
}

/// An assertion file's metric entry: `min` is `>=`, `max` is `<=`, `equals` is `=`.
pub(super) fn from_file(
    metric: &str,
    filter: Option<&str>,
    value: Option<&str>,
    min: Option<&Scalar>,
    max: Option<&Scalar>,
    equals: Option<&Scalar>,
) -> Result<MetricCheck, String> {
    let metric = metric.trim();
    if metric.is_empty() {
        return Err("metric: give the metric's name".into());
    }
    let filter = match filter {
        Some(f) if !f.trim().is_empty() => valid_filter(f)?,
        _ => String::new(),
    };
    if equals.is_some() && (min.is_some() || max.is_some()) {
        return Err("equals cannot be combined with min or max".into());
    }
    let mut comparisons = Vec::new();
    for (key, op, scalar) in [("min", Op::Ge, min), ("max", Op::Le, max), ("equals", Op::Eq, equals)] {
        if let Some(s) = scalar {
            comparisons.push(Comparison {
                op,
                limit: s.limit(key)?,
                text: s.text(),
            });
        }
    }
    let value = value.map(str::trim).filter(|v| !v.is_empty() && *v != "exists");
    let expect = match (value, comparisons.is_empty()) {
        (None, true) => None,
        (Some(v), false) => Some(Expectation {
            value: MetricValue::parse(v).map_err(|e| format!("value: {e}"))?,
            comparisons,
        }),
        (Some(v), true) => return Err(format!("value: {v} needs min, max or equals to compare it with")),
        (None, false) => {
            return Err(
                "min, max and equals need value: which value of the metric to compare (last, sum, rate, avg, min, max, count, p50, p90, p95 or p99)"
                    .into(),
            )
        }
    };
    Ok(MetricCheck {
        metric: metric.to_string(),
        filter,
        expect,
    })
}

/// One step spanning any window, so each series has one value over all of it: 15000 weeks (about
/// 290 years, as far as `i64` nanoseconds reach; `units::parse_duration` takes it).
const WHOLE_WINDOW: &str = "15000w";
/// Series listed in a failure, and names listed when a metric is missing; the rest are counted.
const LISTED: usize = 10;
/// Metrics the run summary lists.
const SUMMARY_METRICS: usize = 15;

/// The window of the series requests: the client's scope (`--since`, one test's), else everything
/// the box holds (the endpoint's own default is the last hour, shorter than a long test run).
fn window(client: &ApiClient) -> wire::WindowParams {
    if client.scopes_time() {
        wire::WindowParams::default()
    } else {
        wire::WindowParams {
            start: Some("0".into()),
            ..Default::default()
        }
    }
}

/// A metric name as one URL path segment.
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn series_params(client: &ApiClient, filter: &str, agg: &str, merge: bool) -> wire::SeriesParams {
    wire::SeriesParams {
        q: (!filter.is_empty()).then(|| filter.to_string()),
        step: Some(WHOLE_WINDOW.into()),
        agg: Some(agg.into()),
        merge: merge.then(|| "true".to_string()),
        window: window(client),
        ..Default::default()
    }
}

/// The series of the metric matching the check's filter, each with the value `agg` gives over the
/// window (`merge`: all of them as one series); `Err` with a failure's detail when none matches or
/// the box refused the filter.
async fn fetch(client: &ApiClient, check: &MetricCheck, agg: &str, merge: bool) -> Result<Result<Vec<wire::Series>, String>, ClientError> {
    let path = routes::metric_series(&encode_segment(&check.metric));
    match client
        .get::<wire::SeriesResponse, _>(&path, &series_params(client, &check.filter, agg, merge))
        .await
    {
        Ok(r) => Ok(Ok(r.series)),
        Err(ClientError::Api { status: 404, .. }) => Ok(Err(no_series_match(client, check).await)),
        Err(ClientError::Api {
            status: 400..=499,
            message,
        }) => Ok(Err(format!("metric {}: the box refused the request: {message}", check.metric))),
        Err(e) => Err(e),
    }
}

/// What a failure says when no series of the metric matches the filter: the series it has.
async fn no_series_match(client: &ApiClient, check: &MetricCheck) -> String {
    if check.filter.is_empty() {
        return format!("metric {} has no series", check.metric);
    }
    let mut detail = format!("no series of {} matches `{}`", check.metric, check.filter);
    let path = routes::metric_series(&encode_segment(&check.metric));
    // Best effort: the failure stands without the list.
    if let Ok(all) = client
        .get::<wire::SeriesResponse, _>(&path, &series_params(client, "", "count", false))
        .await
    {
        detail.push_str(&format!("; its {} series:", all.series.len()));
        for s in all.series.iter().take(LISTED) {
            detail.push_str(&format!("\n      {}", labels_text(&s.labels)));
        }
        if all.series.len() > LISTED {
            detail.push_str(&format!("\n      and {} more", all.series.len() - LISTED));
        }
    }
    detail
}

/// Evaluate a metric check once: passed, and what was found.
pub(super) async fn evaluate(client: &ApiClient, check: &MetricCheck) -> Result<(bool, String), ClientError> {
    let catalogue: wire::MetricsResponse = client.get(routes::METRICS, &wire::FilterParams::default()).await?;
    let Some(info) = catalogue.metrics.iter().find(|m| m.name == check.metric) else {
        return Ok((false, missing(&check.metric, &catalogue.metrics)));
    };
    let (kind, unit) = (info.kind, info.unit.as_str());
    let Some(expect) = &check.expect else {
        return exists(client, check).await;
    };
    if let Err(why) = applies(expect.value, kind) {
        return Ok((false, format!("{} is a {kind}: {why}", check.metric)));
    }
    let mut limits = Vec::with_capacity(expect.comparisons.len());
    for c in &expect.comparisons {
        match limit_value(&c.limit, unit, expect.value, &check.metric) {
            Ok(v) => limits.push(v),
            Err(why) => return Ok((false, why)),
        }
    }
    let what = subject(check, expect.value);
    let series = match fetch(client, check, expect.value.agg(kind), false).await? {
        Ok(s) => s,
        Err(detail) => return Ok((false, detail)),
    };
    let found: Vec<(String, Option<f64>)> = series
        .iter()
        .map(|s| (labels_text(&s.labels), s.points.last().map(|p| p.1)))
        .collect();
    let values: Vec<f64> = found.iter().filter_map(|f| f.1).collect();
    if values.is_empty() {
        let mut detail = format!(
            "{what}: no value in the window ({} series, none with a point to compute it from)",
            found.len()
        );
        if expect.value == MetricValue::Rate {
            detail.push_str(
                "; a rate needs two points of a cumulative series, and a short program may export once (at exit): assert on sum instead",
            );
        }
        return Ok((false, detail));
    }
    let total: f64 = match expect.value {
        MetricValue::Last | MetricValue::Sum | MetricValue::Count | MetricValue::Rate => values.iter().sum(),
        MetricValue::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        MetricValue::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        _ if values.len() == 1 => values[0],
        // Averages and percentiles of every point or observation together: the box merges.
        _ => match fetch(client, check, expect.value.agg(kind), true).await? {
            Ok(merged) => match merged.first().and_then(|s| s.points.last()) {
                Some(p) => p.1,
                None => return Ok((false, format!("{what}: no value in the window"))),
            },
            Err(detail) => return Ok((false, detail)),
        },
    };
    let held = expect.comparisons.iter().zip(&limits).all(|(c, l)| c.op.holds(total, *l));
    let expected = comparisons_text(expect, &limits, unit);
    let shown = value_text(total, unit, expect.value);
    let over = if found.len() > 1 {
        format!(" over {} series", found.len())
    } else {
        String::new()
    };
    if held {
        return Ok((true, format!("{what} is {shown}{over} ({expected})")));
    }
    let mut detail = format!("expected {what} {expected}, found {shown}{over}");
    // The offenders first: the largest values when the limit is an upper one, else the smallest.
    let failed = expect
        .comparisons
        .iter()
        .zip(&limits)
        .find(|(c, l)| !c.op.holds(total, **l))
        .map_or(Op::Le, |(c, _)| c.op);
    let mut listed = found.clone();
    listed.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) if matches!(failed, Op::Gt | Op::Ge) => x.total_cmp(&y),
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    detail.push_str(&format!("\n    {} of each series:", expect.value.as_str()));
    for (labels, value) in listed.iter().take(LISTED) {
        let v = match value {
            Some(v) => value_text(*v, unit, expect.value),
            None => "no value".to_string(),
        };
        detail.push_str(&format!("\n      {v}  {labels}"));
    }
    if listed.len() > LISTED {
        detail.push_str(&format!("\n      and {} more", listed.len() - LISTED));
    }
    Ok((false, detail))
}

/// `metric(NAME) exists`: some matching series has a point in the window.
async fn exists(client: &ApiClient, check: &MetricCheck) -> Result<(bool, String), ClientError> {
    let series = match fetch(client, check, "count", false).await? {
        Ok(s) => s,
        Err(detail) => return Ok((false, detail)),
    };
    let matching = if check.filter.is_empty() {
        String::new()
    } else {
        format!(" matching `{}`", check.filter)
    };
    let with_points = series.iter().filter(|s| !s.points.is_empty()).count();
    if with_points > 0 {
        Ok((true, format!("{} has {with_points} series{matching} with data", check.metric)))
    } else {
        Ok((
            false,
            format!(
                "{} has {} series{matching}, but none has a point in the window",
                check.metric,
                series.len()
            ),
        ))
    }
}

/// `p95 of NAME where `FILTER``.
fn subject(check: &MetricCheck, value: MetricValue) -> String {
    let mut out = format!("{} of {}", value.as_str(), check.metric);
    if !check.filter.is_empty() {
        out.push_str(&format!(" where `{}`", check.filter));
    }
    out
}

/// Whether `value` means something for a metric of this type; why not, and what does.
fn applies(value: MetricValue, kind: MetricType) -> Result<(), String> {
    use MetricValue as V;
    let allowed: &[MetricValue] = match kind {
        MetricType::Histogram | MetricType::ExponentialHistogram => &[V::Count, V::Sum, V::Avg, V::P50, V::P90, V::P95, V::P99],
        MetricType::Summary => &[V::Avg, V::P50, V::P90, V::P95, V::P99],
        MetricType::Sum => &[V::Sum, V::Last, V::Rate, V::Avg, V::Min, V::Max],
        MetricType::Gauge | MetricType::Unknown => &[V::Last, V::Avg, V::Min, V::Max],
    };
    if allowed.contains(&value) {
        return Ok(());
    }
    let why = if value.is_percentile() {
        "percentiles need a histogram's buckets"
    } else if value == V::Count {
        "count is how many observations a histogram holds (what a counter counted is sum)"
    } else if value == V::Sum && matches!(kind, MetricType::Gauge | MetricType::Unknown) {
        "a gauge's samples do not add up to a total"
    } else {
        "a distribution has no single value per point"
    };
    let names: Vec<&str> = allowed.iter().map(|v| v.as_str()).collect();
    Err(format!("{} does not apply ({why}); use {}", value.as_str(), names.join(", ")))
}

/// Nanoseconds per unit, for the time units of the semantic conventions (UCUM); whole numbers, so
/// a duration converts exactly where it can (500ms is 0.5 s and 500 ms).
fn nanos_per(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "min" => 6e10,
        "h" => 3.6e12,
        "d" => 8.64e13,
        _ => return None,
    })
}

/// A limit in the metric's unit: durations are converted to its time unit.
fn limit_value(limit: &Limit, unit: &str, value: MetricValue, metric: &str) -> Result<f64, String> {
    match limit {
        Limit::Number(n) => Ok(*n),
        Limit::Duration(_) if value == MetricValue::Count => Err(format!(
            "count of {metric} is a number of observations: give a plain number, not a duration"
        )),
        Limit::Duration(d) => match nanos_per(unit) {
            Some(per) => Ok(d.as_nanos() as f64 / per),
            None if unit.is_empty() => Err(format!(
                "{metric} has no unit, so a duration cannot be converted to it: give a plain number"
            )),
            None => Err(format!(
                "{metric} is measured in '{unit}', not in time: give a plain number instead of a duration"
            )),
        },
    }
}

/// The unit as shown after a number: none for dimensionless ones (`1`, `{request}`).
fn shown_unit(unit: &str) -> &str {
    if unit == "1" || (unit.starts_with('{') && unit.ends_with('}')) {
        ""
    } else {
        unit
    }
}

/// Six significant digits, without trailing zeros.
fn fmt_number(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let decimals = (5 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A found value with its unit (and as a duration when the unit is time and not milliseconds).
fn value_text(v: f64, unit: &str, value: MetricValue) -> String {
    let n = fmt_number(v);
    let u = shown_unit(unit);
    match value {
        MetricValue::Count => n,
        MetricValue::Rate if u.is_empty() => format!("{n}/s"),
        MetricValue::Rate => format!("{n} {u}/s"),
        _ if u.is_empty() => n,
        _ => {
            let mut out = format!("{n} {u}");
            if let Some(per) = nanos_per(u).filter(|_| u != "ms" && v > 0.0) {
                out.push_str(&format!(" ({})", super::eval::fmt_ns((v * per) as i64)));
            }
            out
        }
    }
}

/// `< 500ms (0.5 s)`, `>= 1 and <= 5`: each limit as written, durations also in the metric's unit.
fn comparisons_text(expect: &Expectation, limits: &[f64], unit: &str) -> String {
    let parts: Vec<String> = expect
        .comparisons
        .iter()
        .zip(limits)
        .map(|(c, l)| {
            let written_unit = c.text.trim_start_matches(|ch: char| ch.is_ascii_digit() || ch == '.').trim();
            match c.limit {
                Limit::Duration(_) if written_unit != unit => format!("{} {} ({} {unit})", c.op.as_str(), c.text, fmt_number(*l)),
                _ => format!("{} {}", c.op.as_str(), c.text),
            }
        })
        .collect();
    parts.join(" and ")
}

/// `key=value key=value`: a series' labels (service and attributes), cut at 200 characters.
fn labels_text(labels: &Map<String, Value>) -> String {
    if labels.is_empty() {
        return "(no attributes)".into();
    }
    let text = labels
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ");
    if text.chars().count() > 200 {
        text.chars().take(200).collect::<String>() + "..."
    } else {
        text
    }
}

/// A failure for a metric the box does not have: similar names, or what it has.
fn missing(name: &str, metrics: &[wire::Metric]) -> String {
    if metrics.is_empty() {
        return format!(
            "no metric named \"{name}\": the box holds no metrics at all; does the program set up a MeterProvider \
             exporting OTLP (OTEL_METRICS_EXPORTER=otlp), and shut it down at exit so it exports?"
        );
    }
    let mut names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    names.dedup();
    let similar = similar_names(name, &names);
    if !similar.is_empty() {
        return format!("no metric named \"{name}\"; similar names: {}", similar.join(", "));
    }
    let mut out = format!(
        "no metric named \"{name}\"; the box has {} metric(s): {}",
        names.len(),
        names.iter().take(LISTED).copied().collect::<Vec<_>>().join(", ")
    );
    if names.len() > LISTED {
        out.push_str(&format!(" and {} more", names.len() - LISTED));
    }
    out
}

/// Names close to `wanted`, closest first (at most five): within an edit distance of a third of
/// its length, or one containing the other; `_` and `-` read as `.` and case is ignored, so a
/// Prometheus-style name finds its OpenTelemetry one.
fn similar_names<'a>(wanted: &str, names: &[&'a str]) -> Vec<&'a str> {
    let norm = |s: &str| s.to_lowercase().replace(['_', '-'], ".");
    let w = norm(wanted);
    let mut scored: Vec<(usize, &'a str)> = names
        .iter()
        .filter_map(|n| {
            let c = norm(n);
            let d = edit_distance(&w, &c);
            let contained = w.len() >= 3 && c.len() >= 3 && (c.contains(&w) || w.contains(&c));
            (d <= (w.chars().count() / 3).max(2) || contained).then_some((d, *n))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, n)| n).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The run summary's metric lines: each metric with its type and series (the first 15).
pub fn summary_lines(metrics: &[wire::Metric]) -> String {
    if metrics.is_empty() {
        return String::new();
    }
    let mut out = String::from("  metrics:\n");
    for m in metrics.iter().take(SUMMARY_METRICS) {
        out.push_str(&format!("    {:<36} {:<22} {:>4} series\n", m.name, m.kind.as_str(), m.series));
    }
    if metrics.len() > SUMMARY_METRICS {
        out.push_str(&format!("    and {} more\n", metrics.len() - SUMMARY_METRICS));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assertions::{parse_compact as compact, parse_file, Assertion, Bound, Check, Subject};

    fn metric(text: &str) -> MetricCheck {
        match compact(text, Subject::Spans, Bound::AtLeast(1)).unwrap().check {
            Check::Metric(m) => m,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn one(value: MetricValue, op: Op, limit: Limit, text: &str) -> Option<Expectation> {
        Some(Expectation {
            value,
            comparisons: vec![Comparison {
                op,
                limit,
                text: text.into(),
            }],
        })
    }

    #[test]
    fn compact_metric_forms() {
        assert_eq!(
            metric("metric(http.server.request.duration).p95 < 500ms"),
            MetricCheck {
                metric: "http.server.request.duration".into(),
                filter: String::new(),
                expect: one(MetricValue::P95, Op::Lt, Limit::Duration(Duration::from_millis(500)), "500ms"),
            }
        );
        assert_eq!(
            metric(r#"metric(queue.depth).last >= 1 where queue = "orders""#),
            MetricCheck {
                metric: "queue.depth".into(),
                filter: r#"queue = "orders""#.into(),
                expect: one(MetricValue::Last, Op::Ge, Limit::Number(1.0), "1"),
            }
        );
        assert_eq!(
            metric("metric(orders.created).sum = 3").expect,
            one(MetricValue::Sum, Op::Eq, Limit::Number(3.0), "3")
        );
        assert_eq!(
            metric("metric(requests).rate > 0.5").expect,
            one(MetricValue::Rate, Op::Gt, Limit::Number(0.5), "0.5")
        );
        let exists = metric(r#"metric(jobs.done) exists where job = "nightly""#);
        assert_eq!((exists.expect, exists.filter.as_str()), (None, r#"job = "nightly""#));
        assert_eq!(metric("metric(jobs.done)").expect, None);
        assert_eq!(metric("metric( jobs.done ) where job = x").filter, "job = x");
        // Quoted names; `where` inside the filter's quotes is text.
        let quoted = metric(r#"metric("odd name)").max != 2 where note = "where it was""#);
        assert_eq!(quoted.metric, "odd name)");
        assert_eq!(quoted.filter, r#"note = "where it was""#);
        assert_eq!(quoted.describe(), r#"metric("odd name)").max != 2 where note = "where it was""#);
        assert_eq!(
            metric("metric(queue.depth).last >= 1 where queue = orders").describe(),
            "metric(queue.depth).last >= 1 where queue = orders"
        );
        // The assertion's name is the text as written.
        let a: Assertion = compact("metric(a).sum = 3", Subject::Spans, Bound::AtLeast(1)).unwrap();
        assert_eq!(a.name, "metric(a).sum = 3");
    }

    #[test]
    fn bad_metric_forms_say_what_is_expected() {
        let err = |t: &str| compact(t, Subject::Spans, Bound::AtLeast(1)).unwrap_err();
        assert!(
            err("metric(a).p42 < 1").contains("p50, p90, p95 or p99"),
            "{}",
            err("metric(a).p42 < 1")
        );
        assert!(err("metric(a).p95").contains("needs a comparison"));
        assert!(err("metric(a).p95 < soon").contains("a number or a duration"));
        assert!(err("metric(a) < 3").contains(".VALUE OP LIMIT"));
        assert!(err("metric(a").contains("expected )"));
        assert!(err("metric().sum = 1").contains("give the metric's name"));
        assert!(err("metric(a) exists where").contains("give a filter"));
        assert!(err("metric(a).sum = 1 where duration >").contains("column"));
    }

    #[test]
    fn metric_entries_of_an_assertion_file() {
        let yaml = r#"
assertions:
  - name: checkout is fast
    metric: http.server.request.duration
    where: 'http.route = "/checkout"'
    value: p95
    max: 500ms
  - metric: orders.created
    value: sum
    equals: 3
  - metric: queue.depth
    value: last
    min: 0.5
    max: 10
  - metric: jobs.done
    where: 'job = "nightly"'
  - name: spans still count
    where: 'name = "checkout"'
    min: 1
    max: "2"
"#;
        let list = parse_file(yaml).unwrap();
        assert_eq!(list.len(), 5);
        assert_eq!(list[0].name, "checkout is fast");
        assert_eq!(
            list[0].check,
            Check::Metric(MetricCheck {
                metric: "http.server.request.duration".into(),
                filter: r#"http.route = "/checkout""#.into(),
                expect: one(MetricValue::P95, Op::Le, Limit::Duration(Duration::from_millis(500)), "500ms"),
            })
        );
        // Unnamed metric entries are named by their compact form.
        assert_eq!(list[1].name, "metric(orders.created).sum = 3");
        assert_eq!(list[2].name, "metric(queue.depth).last >= 0.5 and <= 10");
        assert_eq!(list[3].name, r#"metric(jobs.done) exists where job = "nightly""#);
        assert_eq!(
            list[4].check,
            Check::Count {
                subject: Subject::Spans,
                filter: r#"name = "checkout""#.into(),
                bound: Bound::Between(1, 2)
            }
        );

        let errors = parse_file(
            r#"
assertions:
  - metric: a
    value: p95
  - metric: a
    max: 3
  - metric: a
    value: sum
    equals: 1
    min: 0
  - metric: a
    count: 3
  - where: 'name = x'
    max: 2s
  - where: 'name = x'
    value: sum
"#,
        )
        .unwrap_err();
        assert_eq!(errors.len(), 6, "{errors:?}");
        assert!(
            errors[0].starts_with("assertions[0]") && errors[0].contains("needs min, max or equals"),
            "{errors:?}"
        );
        assert!(errors[1].contains("need value"), "{errors:?}");
        assert!(errors[2].contains("equals cannot be combined"), "{errors:?}");
        assert!(errors[3].contains("count does not go with metric"), "{errors:?}");
        assert!(errors[4].contains("max: expected a whole number"), "{errors:?}");
        assert!(errors[5].contains("go with metric"), "{errors:?}");
    }

    #[test]
    fn comparisons_and_units() {
        assert!(Op::Eq.holds(0.1 + 0.2, 0.3));
        assert!(Op::Le.holds(0.1 + 0.2, 0.3) && !Op::Lt.holds(0.1 + 0.2, 0.3));
        assert!(Op::Gt.holds(3.0, 2.0) && !Op::Gt.holds(2.0, 2.0) && Op::Ne.holds(2.0, 3.0));
        let half = Limit::Duration(Duration::from_millis(500));
        assert_eq!(limit_value(&half, "s", MetricValue::P95, "m"), Ok(0.5));
        assert_eq!(limit_value(&half, "ms", MetricValue::P95, "m"), Ok(500.0));
        assert!(limit_value(&half, "By", MetricValue::P95, "m")
            .unwrap_err()
            .contains("'By', not in time"));
        assert!(limit_value(&half, "", MetricValue::P95, "m").unwrap_err().contains("no unit"));
        assert!(limit_value(&half, "ms", MetricValue::Count, "m").is_err());
        assert_eq!(fmt_number(242.49999999999997), "242.5");
        assert_eq!(fmt_number(3.0), "3");
        assert_eq!(fmt_number(0.000123456789), "0.000123457");
        assert_eq!(value_text(0.25, "s", MetricValue::P95), "0.25 s (250.0ms)");
        assert_eq!(value_text(3.0, "{order}", MetricValue::Sum), "3");
        assert_eq!(value_text(1.5, "{request}", MetricValue::Rate), "1.5/s");
        assert_eq!(encode_segment("a b/c.d_e"), "a%20b%2Fc.d_e");
    }

    #[test]
    fn values_that_do_not_fit_the_type_say_what_does() {
        let err = applies(MetricValue::P95, MetricType::Sum).unwrap_err();
        assert!(
            err.contains("percentiles need a histogram") && err.contains("use sum, last, rate"),
            "{err}"
        );
        assert!(applies(MetricValue::Sum, MetricType::Gauge).unwrap_err().contains("do not add up"));
        assert!(applies(MetricValue::Count, MetricType::Sum)
            .unwrap_err()
            .contains("what a counter counted is sum"));
        assert!(applies(MetricValue::Last, MetricType::Histogram).is_err());
        assert!(applies(MetricValue::P99, MetricType::ExponentialHistogram).is_ok());
    }

    #[test]
    fn similar_names_find_typos_and_other_spellings() {
        let names = ["orders.created", "http.server.request.duration", "queue.depth", "process.cpu.time"];
        assert_eq!(similar_names("orders.create", &names), ["orders.created"]);
        assert_eq!(
            similar_names("http_server_request_duration", &names),
            ["http.server.request.duration"]
        );
        assert_eq!(similar_names("orders", &names), ["orders.created"]);
        assert!(similar_names("jobs.done", &names).is_empty());
        let metrics: Vec<wire::Metric> = names
            .iter()
            .map(|n| wire::Metric {
                name: n.to_string(),
                kind: MetricType::Gauge,
                unit: String::new(),
                description: String::new(),
                series: 1,
            })
            .collect();
        assert!(missing("jobs.done", &metrics).contains("the box has 4 metric(s): orders.created,"));
        assert!(missing("jobs.done", &[]).contains("no metrics at all"));
        assert!(summary_lines(&metrics).contains("queue.depth"));
    }
}

/// Evaluation against a real box: an in-memory one started in-process as `otelbox run` starts it,
/// fed OTLP metrics over HTTP.
#[cfg(test)]
mod box_tests {
    use super::*;
    use crate::assertions::{eval, parse_compact, Bound, Subject};
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
        ScopeMetrics, Sum,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use prost::Message;

    fn attr(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn number(key: &str, value: &str, start: u64, time: u64, v: f64) -> NumberDataPoint {
        NumberDataPoint {
            attributes: vec![attr(key, value)],
            start_time_unix_nano: start,
            time_unix_nano: time,
            value: Some(number_data_point::Value::AsDouble(v)),
            ..Default::default()
        }
    }

    fn histogram(route: &str, start: u64, time: u64, counts: Vec<u64>, sum: f64) -> HistogramDataPoint {
        HistogramDataPoint {
            attributes: vec![attr("http.route", route)],
            start_time_unix_nano: start,
            time_unix_nano: time,
            count: counts.iter().sum(),
            sum: Some(sum),
            bucket_counts: counts,
            explicit_bounds: vec![100.0, 250.0, 500.0],
            ..Default::default()
        }
    }

    /// A counter `orders.created` (web: 2 then 5, app: 1, all counted since a minute ago), a
    /// gauge `queue.depth` (orders: 4 then 2, refunds: 0) and a histogram `checkout.duration` in
    /// ms (/a: 2 observations in (100, 250], sum 350; /b: 1 above 500, 900).
    fn request() -> ExportMetricsServiceRequest {
        let now = crate::pdata::now_ns();
        let (start, t1, t2) = (now - 60_000_000_000, now - 30_000_000_000, now - 10_000_000_000);
        let cumulative = AggregationTemporality::Cumulative as i32;
        let metrics = vec![
            Metric {
                name: "orders.created".into(),
                unit: "{order}".into(),
                data: Some(metric::Data::Sum(Sum {
                    data_points: vec![
                        number("order.kind", "web", start, t1, 2.0),
                        number("order.kind", "web", start, t2, 5.0),
                        number("order.kind", "app", start, t2, 1.0),
                    ],
                    aggregation_temporality: cumulative,
                    is_monotonic: true,
                })),
                ..Default::default()
            },
            Metric {
                name: "queue.depth".into(),
                unit: "{message}".into(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![
                        number("queue", "orders", 0, t1, 4.0),
                        number("queue", "orders", 0, t2, 2.0),
                        number("queue", "refunds", 0, t2, 0.0),
                    ],
                })),
                ..Default::default()
            },
            Metric {
                name: "checkout.duration".into(),
                unit: "ms".into(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: vec![
                        histogram("/a", start, t2, vec![0, 2, 0, 0], 350.0),
                        histogram("/b", start, t2, vec![0, 0, 0, 1], 900.0),
                    ],
                    aggregation_temporality: cumulative,
                })),
                ..Default::default()
            },
        ];
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![attr("service.name", "shop")],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    async fn check(client: &ApiClient, text: &str) -> eval::Outcome {
        let assertion = parse_compact(text, Subject::Spans, Bound::AtLeast(1)).unwrap();
        eval::evaluate(client, &assertion).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metric_assertions_against_a_box() {
        let mut config = crate::config::Config::builtin(&crate::components::REGISTRY);
        let _ = crate::receiver::otlp::override_endpoints(&mut config, None, Some(0), Some(0));
        let options = crate::app::BoxOptions {
            location: crate::store::Location::Memory,
            ui: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            config,
            retention: crate::store::retention::Retention::default(),
            durable_sync: false,
            security: Default::default(),
        };
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::app::run(
            options,
            async {
                let _ = stop_rx.await;
            },
            move |addrs| {
                let _ = ready_tx.send(addrs.clone());
            },
        ));
        let addrs = ready_rx.await.expect("the box starts");
        let client = ApiClient::new(&format!("http://{}", addrs.ui));

        // Before any metric arrives.
        let none = check(&client, "metric(orders.created).sum = 6").await;
        assert!(!none.passed && none.detail.contains("no metrics at all"), "{}", none.detail);

        let sent = reqwest::Client::new()
            .post(format!(
                "http://{}/v1/metrics",
                addrs.http.expect("the built-in config listens on HTTP")
            ))
            .header("content-type", "application/x-protobuf")
            .body(request().encode_to_vec())
            .send()
            .await
            .unwrap();
        assert!(sent.status().is_success(), "{}", sent.status());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let status: wire::StatusResponse = client.get(routes::STATUS, &()).await.unwrap();
            if status.storage.metric_points >= 8 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the points were not stored: {status:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let pass = |o: &eval::Outcome| assert!(o.passed, "{}: {}", o.name, o.detail);
        // Counters: what each series counted in the window, added across series (web 5 + app 1).
        let orders = check(&client, "metric(orders.created).sum = 6").await;
        pass(&orders);
        assert!(
            orders.detail.contains("sum of orders.created is 6 over 2 series"),
            "{}",
            orders.detail
        );
        pass(&check(&client, r#"metric(orders.created).sum = 5 where order.kind = "web""#).await);
        pass(&check(&client, "metric(orders.created).last = 6").await);
        // Web counted twice, 2 then 5: a rate over its 20 s between them; app has one point only.
        pass(&check(&client, "metric(orders.created).rate > 0.1").await);
        // Gauges: the latest level of each series, added; min and max over every point.
        pass(&check(&client, r#"metric(queue.depth).last >= 1 where queue = "orders""#).await);
        pass(&check(&client, "metric(queue.depth).max = 4").await);
        pass(&check(&client, "metric(queue.depth).min = 0").await);
        pass(&check(&client, r#"metric(queue.depth) exists where queue = "refunds""#).await);
        // Histograms: the buckets of every series together (the per-series p50 of /b is 500).
        let median = check(&client, "metric(checkout.duration).p50 < 0.3s").await;
        pass(&median);
        assert!(
            median.detail.contains("212.5 ms over 2 series (< 0.3s (300 ms))"),
            "{}",
            median.detail
        );
        pass(&check(&client, "metric(checkout.duration).count = 3").await);
        pass(&check(&client, "metric(checkout.duration).sum = 1250").await);
        pass(&check(&client, "metric(checkout.duration).avg > 400ms").await);

        // Failures explain themselves.
        let slow = check(&client, "metric(checkout.duration).p95 < 400ms").await;
        assert!(!slow.passed);
        assert!(
            slow.detail
                .starts_with("expected p95 of checkout.duration < 400ms, found 500 ms over 2 series"),
            "{}",
            slow.detail
        );
        // The worst series first.
        let b = slow.detail.find("500 ms  http.route=/b").expect("series /b listed");
        let a = slow.detail.find("242.5 ms  http.route=/a").expect("series /a listed");
        assert!(b < a, "{}", slow.detail);

        let few = check(&client, "metric(orders.created).sum >= 10").await;
        assert!(!few.passed && few.detail.contains("found 6 over 2 series"), "{}", few.detail);
        assert!(few.detail.contains("order.kind=app"), "{}", few.detail);

        let typo = check(&client, "metric(orders.create) exists").await;
        assert!(
            !typo.passed && typo.detail.contains("similar names: orders.created"),
            "{}",
            typo.detail
        );

        let nowhere = check(&client, r#"metric(queue.depth).last >= 1 where queue = "payments""#).await;
        assert!(!nowhere.passed, "{}", nowhere.detail);
        assert!(
            nowhere
                .detail
                .contains(r#"no series of queue.depth matches `queue = "payments"`; its 2 series:"#)
                && nowhere.detail.contains("queue=refunds"),
            "{}",
            nowhere.detail
        );

        let wrong = check(&client, "metric(queue.depth).p95 < 1").await;
        assert!(
            !wrong.passed && wrong.detail.contains("queue.depth is a gauge: p95 does not apply"),
            "{}",
            wrong.detail
        );

        let unit = check(&client, "metric(orders.created).sum < 5s").await;
        assert!(!unit.passed && unit.detail.contains("not in time"), "{}", unit.detail);

        let refused = check(&client, "metric(queue.depth).last > 0 where duration > 1s").await;
        assert!(!refused.passed && refused.detail.contains("refused"), "{}", refused.detail);

        // `otelbox assert --since`: a window that holds none of the points.
        let recent = ApiClient::new(&format!("http://{}", addrs.ui)).scoped_to("1s");
        let stale = check(&recent, "metric(queue.depth) exists").await;
        assert!(
            !stale.passed && stale.detail.contains("none has a point in the window"),
            "{}",
            stale.detail
        );

        let _ = stop_tx.send(());
        let _ = server.await;
    }
}
