//! Turns stored metric points into chart series: time buckets of `step`, grouping by an attribute,
//! counters as per-second rates, histograms as quantiles / averages / counts or their bucket counts
//! per step (a heatmap), and the exemplars the points carry (the one of highest value per step).

use super::read::StreamPoints;
use super::rows::{METRIC_EXP_HISTOGRAM, METRIC_HISTOGRAM, METRIC_SUM, METRIC_SUMMARY};
use crate::pdata::json::any_value_to_plain;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, Exemplar as OtlpExemplar, ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint, SummaryDataPoint,
};
use prost::Message;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Agg {
    Avg,
    Sum,
    Min,
    Max,
    Last,
    Rate,
    Count,
    /// How much a counter counted in the bucket (PromQL's `increase`): a cumulative series' rises
    /// between its points (a reset counts from zero), a delta series' points added up; a histogram's
    /// observations.
    Increase,
    Quantile(f64),
    /// A histogram's bucket counts per step (a heatmap); the points are the observation counts.
    Buckets,
}

impl Agg {
    pub fn parse(text: &str) -> Result<Agg, String> {
        Ok(match text {
            "avg" => Agg::Avg,
            "sum" => Agg::Sum,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "last" => Agg::Last,
            "rate" => Agg::Rate,
            "count" => Agg::Count,
            "increase" => Agg::Increase,
            "p50" => Agg::Quantile(0.5),
            "p90" => Agg::Quantile(0.9),
            "p95" => Agg::Quantile(0.95),
            "p99" => Agg::Quantile(0.99),
            "buckets" => Agg::Buckets,
            other => {
                return Err(format!(
                    "unknown agg '{other}'; use avg, sum, min, max, last, rate, count, increase, p50, p90, p95, p99 or buckets"
                ))
            }
        })
    }
    pub fn name(self) -> String {
        match self {
            Agg::Avg => "avg".into(),
            Agg::Sum => "sum".into(),
            Agg::Min => "min".into(),
            Agg::Max => "max".into(),
            Agg::Last => "last".into(),
            Agg::Rate => "rate".into(),
            Agg::Count => "count".into(),
            Agg::Increase => "increase".into(),
            Agg::Quantile(q) => format!("p{}", (q * 100.0).round()),
            Agg::Buckets => "buckets".into(),
        }
    }
    /// What a chart of this metric type shows unless asked otherwise.
    pub fn default_for(kind: i32, monotonic: bool) -> Agg {
        match kind {
            METRIC_SUM if monotonic => Agg::Rate,
            METRIC_HISTOGRAM | METRIC_EXP_HISTOGRAM | METRIC_SUMMARY => Agg::Quantile(0.95),
            _ => Agg::Avg,
        }
    }
}

/// An explicit-bucket distribution: `counts[i]` observations at or below `bounds[i]` (the last is +Inf).
#[derive(Clone, Debug, Default)]
struct Distribution {
    bounds: Vec<f64>,
    counts: Vec<f64>,
    sum: f64,
    count: f64,
}

impl Distribution {
    fn add(&mut self, other: &Distribution) {
        if self.counts.is_empty() && self.count == 0.0 {
            *self = other.clone();
            return;
        }
        // Differing bounds (e.g. an exponential histogram whose offset moved) cannot be merged
        // bucket by bucket; the quantiles then come from the first distribution of the cell.
        if self.bounds == other.bounds && self.counts.len() == other.counts.len() {
            for (a, b) in self.counts.iter_mut().zip(&other.counts) {
                *a += b;
            }
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    /// Linear interpolation inside the bucket holding the q-th observation (as Prometheus does).
    fn quantile(&self, q: f64) -> Option<f64> {
        let total: f64 = self.counts.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut seen = 0.0;
        for (i, c) in self.counts.iter().enumerate() {
            if seen + c >= rank && *c > 0.0 {
                let lower = if i == 0 {
                    0f64.min(self.bounds.first().copied().unwrap_or(0.0))
                } else {
                    self.bounds.get(i - 1).copied().unwrap_or(0.0)
                };
                let upper = match self.bounds.get(i) {
                    Some(u) => *u,
                    None => return Some(lower), // the +Inf bucket: report its lower bound
                };
                return Some(lower + (upper - lower) * ((rank - seen) / c));
            }
            seen += c;
        }
        self.bounds.last().copied()
    }
}

fn histogram_distribution(p: &HistogramDataPoint) -> Distribution {
    Distribution {
        bounds: p.explicit_bounds.clone(),
        counts: p.bucket_counts.iter().map(|c| *c as f64).collect(),
        sum: p.sum.unwrap_or(0.0),
        count: p.count as f64,
    }
}

/// Positive buckets of an exponential histogram as explicit bounds (the zero bucket first).
fn exponential_distribution(p: &ExponentialHistogramDataPoint) -> Distribution {
    let base = 2f64.powf(2f64.powi(-p.scale));
    let mut bounds = vec![0.0];
    let mut counts = vec![p.zero_count as f64];
    if let Some(positive) = &p.positive {
        // The first positive bucket starts at base^offset, not at zero.
        bounds.push(base.powi(positive.offset));
        counts.push(0.0);
        for (k, c) in positive.bucket_counts.iter().enumerate() {
            bounds.push(base.powi(positive.offset + k as i32 + 1));
            counts.push(*c as f64);
        }
    }
    counts.push(0.0);
    Distribution {
        bounds,
        counts,
        sum: p.sum.unwrap_or(0.0),
        count: p.count as f64,
    }
}

#[derive(Clone, Debug, Default)]
struct Cell {
    sum: f64,
    n: f64,
    min: f64,
    max: f64,
    last: f64,
    dist: Option<Distribution>,
}

impl Cell {
    fn add(&mut self, v: f64) {
        if self.n == 0.0 {
            self.min = v;
            self.max = v;
        }
        self.sum += v;
        self.n += 1.0;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.last = v;
    }
}

/// The label set a stream contributes to: the `group_by` value, or all its attributes + service;
/// none for `Some("")` (every stream in one series).
fn labels(stream: &StreamPoints, group_by: Option<&str>) -> Map<String, Value> {
    let mut labels = Map::new();
    match group_by {
        Some("") => {}
        Some(key) => {
            let value = stream
                .attributes
                .iter()
                .chain(&stream.resource.resource.attributes)
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.as_ref())
                .map(any_value_to_plain)
                .unwrap_or(Value::Null);
            labels.insert(key.to_string(), value);
        }
        None => {
            labels.insert("service.name".into(), Value::String(stream.resource.service.clone()));
            for kv in &stream.attributes {
                if let Some(v) = &kv.value {
                    labels.insert(kv.key.clone(), any_value_to_plain(v));
                }
            }
        }
    }
    labels
}

/// A measurement an SDK kept with a point, with the trace and span it was made in.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredExemplar {
    pub time_ns: i64,
    pub value: f64,
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
}

/// A histogram series' bucket counts per point: `counts[i][j]` observations of the i-th point in
/// the bucket at or below `bounds[j]` (the last bucket, one past `bounds`, is +Inf).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BucketCounts {
    pub bounds: Vec<f64>,
    pub counts: Vec<Vec<f64>>,
}

/// One output series: its labels, its `(time bucket start, value)` points, the exemplar of highest
/// value in each time bucket, and (`Agg::Buckets`) the bucket counts behind each point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComputedSeries {
    pub labels: Map<String, Value>,
    pub points: Vec<(i64, f64)>,
    pub exemplars: Vec<StoredExemplar>,
    pub buckets: Option<BucketCounts>,
}

type Cells = BTreeMap<i64, Cell>;

/// The best exemplar per time bucket (the highest value: the slow request, the big payload).
type Exemplars = BTreeMap<i64, StoredExemplar>;

/// Keeps `exemplars` of a point at `point_ns` that fall in `[start, end]` and name a trace and span.
fn keep_exemplars(exemplars: &[OtlpExemplar], point_ns: i64, start: i64, end: i64, step: i64, into: &mut Exemplars) {
    for e in exemplars {
        let value = match e.value {
            Some(exemplar::Value::AsDouble(d)) if d.is_finite() => d,
            Some(exemplar::Value::AsInt(i)) => i as f64,
            _ => continue,
        };
        let linked = e.trace_id.len() == 16 && e.span_id.len() == 8 && e.trace_id.iter().any(|b| *b != 0);
        let time_ns = if e.time_unix_nano > 0 { e.time_unix_nano as i64 } else { point_ns };
        if !linked || time_ns < start || time_ns > end {
            continue;
        }
        let bucket = (time_ns - start) / step;
        if into.get(&bucket).is_none_or(|kept| kept.value < value) {
            into.insert(
                bucket,
                StoredExemplar {
                    time_ns,
                    value,
                    trace_id: e.trace_id.clone(),
                    span_id: e.span_id.clone(),
                },
            );
        }
    }
}

/// Most buckets a heatmap row set has; finer distributions are merged pairwise down to it.
const MAX_HEATMAP_BUCKETS: usize = 80;

/// The cells' distributions on one set of bounds: the union of theirs (identical for explicit
/// histograms, shifting for exponential ones), a bucket's count going where its upper bound falls.
fn bucket_counts(dists: &[Option<&Distribution>]) -> BucketCounts {
    let mut bounds: Vec<f64> = dists
        .iter()
        .flatten()
        .flat_map(|d| d.bounds.iter().copied())
        .filter(|b| b.is_finite())
        .collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    let mut counts: Vec<Vec<f64>> = dists
        .iter()
        .map(|d| {
            let mut row = vec![0.0; bounds.len() + 1];
            for (i, c) in d.map(|d| d.counts.as_slice()).unwrap_or_default().iter().enumerate() {
                let target = match d.and_then(|d| d.bounds.get(i)) {
                    Some(upper) => bounds.partition_point(|b| b < upper),
                    None => bounds.len(),
                };
                row[target.min(bounds.len())] += c;
            }
            row
        })
        .collect();
    while bounds.len() > MAX_HEATMAP_BUCKETS {
        // Keep every second bound: each new bucket is two old ones.
        bounds = bounds.iter().skip(1).step_by(2).copied().collect();
        for row in &mut counts {
            *row = row.chunks(2).map(|pair| pair.iter().sum()).collect();
            row.resize(bounds.len() + 1, 0.0);
        }
    }
    BucketCounts { bounds, counts }
}

/// Buckets `[start, end]` by `step` and aggregates; returns the series per group (`group_by`
/// `Some("")`: one group of every stream, unlabelled).
pub fn compute(streams: &[StreamPoints], start: i64, end: i64, step: i64, group_by: Option<&str>, agg: Agg) -> Vec<ComputedSeries> {
    let step = step.max(1);
    let bucket_of = |t: i64| (t.saturating_sub(start)) / step;
    // Keyed by the labels' JSON text.
    let mut groups: BTreeMap<String, (Map<String, Value>, Cells, Exemplars)> = BTreeMap::new();
    for stream in streams {
        let labels = labels(stream, group_by);
        let key = Value::Object(labels.clone()).to_string();
        // Per-stream cells first (a rate is per series), then merged into the group.
        let mut cells: BTreeMap<i64, Cell> = BTreeMap::new();
        let mut exemplars = Exemplars::new();
        let cumulative = stream.temporality != 1;
        let mut previous: Option<(i64, f64, i64, Option<Distribution>)> = None;
        for p in &stream.points {
            if p.time_ns < start || p.time_ns > end {
                continue;
            }
            let bucket = bucket_of(p.time_ns);
            let dist = match stream.kind {
                METRIC_HISTOGRAM => p.body.as_deref().and_then(|b| HistogramDataPoint::decode(b).ok()).map(|h| {
                    keep_exemplars(&h.exemplars, p.time_ns, start, end, step, &mut exemplars);
                    histogram_distribution(&h)
                }),
                METRIC_EXP_HISTOGRAM => p
                    .body
                    .as_deref()
                    .and_then(|b| ExponentialHistogramDataPoint::decode(b).ok())
                    .map(|e| {
                        keep_exemplars(&e.exemplars, p.time_ns, start, end, step, &mut exemplars);
                        exponential_distribution(&e)
                    }),
                METRIC_SUMMARY => None,
                _ => {
                    // A number point keeps a body only for exemplars, flags or a NaN.
                    if let Some(n) = p.body.as_deref().and_then(|b| NumberDataPoint::decode(b).ok()) {
                        keep_exemplars(&n.exemplars, p.time_ns, start, end, step, &mut exemplars);
                    }
                    None
                }
            };
            // NaN points are stored as NULL: they carry no value and are skipped.
            let value = match (p.value, stream.kind) {
                (Some(v), _) => v,
                (None, METRIC_HISTOGRAM | METRIC_EXP_HISTOGRAM | METRIC_SUMMARY) => 0.0,
                (None, _) => continue,
            };
            match (stream.kind, agg) {
                (METRIC_SUMMARY, _) => {
                    let Some(s) = p.body.as_deref().and_then(|b| SummaryDataPoint::decode(b).ok()) else {
                        continue;
                    };
                    let v = match agg {
                        Agg::Quantile(q) => s
                            .quantile_values
                            .iter()
                            .min_by(|a, b| (a.quantile - q).abs().total_cmp(&(b.quantile - q).abs()))
                            .map(|v| v.value),
                        Agg::Count => Some(s.count as f64),
                        _ => (s.count > 0).then(|| s.sum / s.count as f64),
                    };
                    if let Some(v) = v {
                        cells.entry(bucket).or_default().add(v);
                    }
                }
                (METRIC_HISTOGRAM | METRIC_EXP_HISTOGRAM, _) => {
                    let Some(mut dist) = dist else { continue };
                    // Cumulative histograms: the bucket's own observations are the difference.
                    if cumulative && stream.kind == METRIC_HISTOGRAM {
                        if let Some((_, _, prev_start, Some(prev))) = &previous {
                            if *prev_start == p.start_ns && prev.bounds == dist.bounds && dist.count >= prev.count {
                                let delta = Distribution {
                                    bounds: dist.bounds.clone(),
                                    counts: dist.counts.iter().zip(&prev.counts).map(|(a, b)| (a - b).max(0.0)).collect(),
                                    sum: dist.sum - prev.sum,
                                    count: dist.count - prev.count,
                                };
                                previous = Some((p.time_ns, value, p.start_ns, Some(dist)));
                                dist = delta;
                            } else {
                                previous = Some((p.time_ns, value, p.start_ns, Some(dist.clone())));
                            }
                        } else {
                            previous = Some((p.time_ns, value, p.start_ns, Some(dist.clone())));
                            if p.start_ns < start {
                                continue; // history from before the window: only a baseline
                            }
                        }
                    }
                    let cell = cells.entry(bucket).or_default();
                    match &mut cell.dist {
                        Some(d) => d.add(&dist),
                        None => cell.dist = Some(dist),
                    }
                }
                (_, Agg::Increase) => {
                    if !cumulative {
                        cells.entry(bucket).or_default().add(value);
                    } else if let Some((_, v0, s0, _)) = previous {
                        // A drop is a reset only for monotonic counters (or a new start time).
                        let reset = s0 != p.start_ns || (stream.monotonic && value < v0);
                        cells.entry(bucket).or_default().add(if reset { value } else { value - v0 });
                        previous = Some((p.time_ns, value, p.start_ns, None));
                    } else {
                        // A counter that started inside the window counted from zero; one that
                        // started before has only a baseline here (as cumulative histograms do).
                        let counted = stream.kind == METRIC_SUM && p.start_ns > 0 && p.start_ns >= start;
                        cells.entry(bucket).or_default().add(if counted { value } else { 0.0 });
                        previous = Some((p.time_ns, value, p.start_ns, None));
                    }
                }
                (_, Agg::Rate) => {
                    if cumulative {
                        if let Some((t0, v0, s0, _)) = previous {
                            let dt = (p.time_ns - t0) as f64 / 1e9;
                            if dt > 0.0 {
                                // A drop is a reset only for monotonic counters (or a new start time).
                                let reset = s0 != p.start_ns || (stream.monotonic && value < v0);
                                let delta = if reset { value } else { value - v0 };
                                cells.entry(bucket).or_default().add(delta / dt);
                            }
                        }
                        previous = Some((p.time_ns, value, p.start_ns, None));
                    } else {
                        let dt = (p.time_ns - p.start_ns) as f64 / 1e9;
                        if p.start_ns > 0 && dt > 0.0 {
                            cells.entry(bucket).or_default().add(value / dt);
                        }
                    }
                }
                _ => cells.entry(bucket).or_default().add(value),
            }
        }
        let group = groups.entry(key).or_insert_with(|| (labels, BTreeMap::new(), Exemplars::new()));
        for (bucket, e) in exemplars {
            if group.2.get(&bucket).is_none_or(|kept| kept.value < e.value) {
                group.2.insert(bucket, e);
            }
        }
        for (bucket, cell) in cells {
            let target = group.1.entry(bucket).or_default();
            if let Some(d) = cell.dist {
                match &mut target.dist {
                    Some(t) => t.add(&d),
                    None => target.dist = Some(d),
                }
                continue;
            }
            // Rates add up across series; other aggregations combine the raw samples.
            let per_series = match agg {
                Agg::Rate => cell.sum / cell.n.max(1.0),
                _ => f64::NAN,
            };
            if per_series.is_nan() {
                if target.n == 0.0 {
                    target.min = cell.min;
                    target.max = cell.max;
                }
                target.sum += cell.sum;
                target.n += cell.n;
                target.min = target.min.min(cell.min);
                target.max = target.max.max(cell.max);
                target.last = cell.last;
            } else {
                target.sum += per_series;
                target.n = 1.0;
            }
        }
    }
    groups
        .into_values()
        .map(|(labels, cells, exemplars)| {
            let mut points = Vec::with_capacity(cells.len());
            let mut dists = Vec::new();
            for (bucket, cell) in &cells {
                let t = start.saturating_add(bucket.saturating_mul(step));
                let v = match (&cell.dist, agg) {
                    (Some(d), Agg::Quantile(q)) => d.quantile(q),
                    (Some(d), Agg::Count | Agg::Increase | Agg::Buckets) => Some(d.count),
                    (Some(d), Agg::Sum) => Some(d.sum),
                    (Some(d), _) => (d.count > 0.0).then(|| d.sum / d.count),
                    (None, Agg::Rate | Agg::Sum | Agg::Increase) => Some(cell.sum),
                    (None, Agg::Min) => Some(cell.min),
                    (None, Agg::Max) => Some(cell.max),
                    (None, Agg::Last) => Some(cell.last),
                    (None, Agg::Count) => Some(cell.n),
                    (None, _) => Some(cell.sum / cell.n.max(1.0)),
                };
                if let Some(v) = v.filter(|v| v.is_finite()) {
                    points.push((t, v));
                    dists.push(cell.dist.as_ref());
                }
            }
            let buckets = (agg == Agg::Buckets).then(|| bucket_counts(&dists));
            ComputedSeries {
                labels,
                points,
                exemplars: exemplars.into_values().collect(),
                buckets,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_inside_the_bucket() {
        let d = Distribution {
            bounds: vec![10.0, 20.0],
            counts: vec![0.0, 10.0, 0.0],
            sum: 150.0,
            count: 10.0,
        };
        assert_eq!(d.quantile(0.5), Some(15.0));
        assert_eq!(d.quantile(1.0), Some(20.0));
    }

    #[test]
    fn agg_names_round_trip() {
        for name in ["avg", "rate", "count", "p50", "p95", "p99"] {
            assert_eq!(Agg::parse(name).unwrap().name(), name);
        }
        assert!(Agg::parse("median").is_err());
    }
}

#[cfg(test)]
mod more_tests {
    use super::*;
    use crate::store::read::{PointRecord, StoredResource, StreamPoints};
    use crate::store::rows::METRIC_GAUGE;
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
    use std::sync::Arc;

    fn stream(kind: i32, monotonic: bool, points: Vec<PointRecord>) -> StreamPoints {
        let resource = Arc::new(StoredResource {
            id: 1,
            service: "s".into(),
            resource: Default::default(),
            schema_url: String::new(),
        });
        StreamPoints {
            stream_id: 1,
            kind,
            monotonic,
            temporality: 2,
            attributes: Vec::new(),
            resource,
            points,
        }
    }

    fn point(t: i64, v: Option<f64>, body: Option<Vec<u8>>) -> PointRecord {
        PointRecord {
            time_ns: t,
            start_ns: 1,
            value: v,
            value_int: None,
            body,
        }
    }

    #[test]
    fn up_down_counters_can_have_negative_rates() {
        let s = stream(
            METRIC_SUM,
            false,
            vec![point(10_000_000_000, Some(10.0), None), point(20_000_000_000, Some(5.0), None)],
        );
        let out = compute(&[s], 0, 30_000_000_000, 30_000_000_000, None, Agg::Rate);
        assert_eq!(out[0].points, vec![(0, -0.5)]);
    }

    #[test]
    fn a_monotonic_drop_is_a_reset() {
        let s = stream(
            METRIC_SUM,
            true,
            vec![point(10_000_000_000, Some(10.0), None), point(20_000_000_000, Some(5.0), None)],
        );
        let out = compute(&[s], 0, 30_000_000_000, 30_000_000_000, None, Agg::Rate);
        assert_eq!(out[0].points, vec![(0, 0.5)]);
    }

    #[test]
    fn increase_counts_what_a_counter_counted_in_the_window() {
        let t = |s: i64| s * 1_000_000_000;
        let whole = |streams: &[StreamPoints], start: i64| compute(streams, start, t(100), t(1000), None, Agg::Increase)[0].points.clone();
        // Started inside the window (start_ns 1): counted from zero.
        let cumulative = stream(
            METRIC_SUM,
            true,
            vec![point(t(10), Some(10.0), None), point(t(20), Some(15.0), None)],
        );
        assert_eq!(whole(std::slice::from_ref(&cumulative), 0), vec![(0, 15.0)]);
        // Started before the window: the first point is only a baseline.
        assert_eq!(whole(std::slice::from_ref(&cumulative), 5), vec![(5, 5.0)]);
        // A monotonic drop is a reset: counting starts again from zero.
        let reset = stream(
            METRIC_SUM,
            true,
            vec![point(t(10), Some(10.0), None), point(t(20), Some(4.0), None)],
        );
        assert_eq!(whole(std::slice::from_ref(&reset), 0), vec![(0, 14.0)]);
        // Delta points add up.
        let mut delta = stream(METRIC_SUM, true, vec![point(t(10), Some(3.0), None), point(t(20), Some(4.0), None)]);
        delta.temporality = 1;
        assert_eq!(whole(std::slice::from_ref(&delta), 0), vec![(0, 7.0)]);
        assert_eq!(Agg::parse("increase").unwrap().name(), "increase");
    }

    #[test]
    fn an_empty_group_by_key_merges_every_stream() {
        use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
        let labelled = |queue: &str, v: f64| {
            let mut s = stream(METRIC_GAUGE, false, vec![point(1, Some(v), None)]);
            s.attributes = vec![KeyValue {
                key: "queue".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(queue.into())),
                }),
                ..Default::default()
            }];
            s
        };
        let streams = [labelled("a", 2.0), labelled("b", 5.0)];
        assert_eq!(compute(&streams, 0, 10, 10, None, Agg::Max).len(), 2);
        let merged = compute(&streams, 0, 10, 10, Some(""), Agg::Max);
        assert_eq!(merged.len(), 1);
        assert!(merged[0].labels.is_empty());
        assert_eq!(merged[0].points, vec![(0, 5.0)]);
    }

    #[test]
    fn nan_gauge_points_are_skipped_not_zero() {
        let s = stream(METRIC_GAUGE, false, vec![point(1, Some(4.0), None), point(2, None, None)]);
        let out = compute(&[s], 0, 10, 10, None, Agg::Avg);
        assert_eq!(out[0].points, vec![(0, 4.0)]);
    }

    #[test]
    fn exponential_quantiles_start_at_the_first_bucket_bound() {
        // scale 0: base 2; offset 3: the only bucket is (8, 16].
        let p = ExponentialHistogramDataPoint {
            count: 10,
            scale: 0,
            positive: Some(Buckets {
                offset: 3,
                bucket_counts: vec![10],
            }),
            ..Default::default()
        };
        let d = exponential_distribution(&p);
        let median = d.quantile(0.5).unwrap();
        assert!((8.0..=16.0).contains(&median), "{median}");
    }

    #[test]
    fn malformed_histograms_do_not_panic() {
        let bad = HistogramDataPoint {
            count: 5,
            bucket_counts: vec![0, 5, 0, 0],
            explicit_bounds: vec![],
            ..Default::default()
        };
        let s = stream(METRIC_HISTOGRAM, false, vec![point(1, Some(5.0), Some(bad.encode_to_vec()))]);
        for agg in [Agg::Quantile(0.5), Agg::Count, Agg::Avg] {
            let _ = compute(std::slice::from_ref(&s), 0, 10, 10, None, agg);
        }
    }

    fn exemplar(t: u64, v: f64, trace: u8) -> OtlpExemplar {
        OtlpExemplar {
            time_unix_nano: t,
            value: Some(exemplar::Value::AsDouble(v)),
            trace_id: vec![trace; 16],
            span_id: vec![trace; 8],
            ..Default::default()
        }
    }

    #[test]
    fn exemplars_keep_the_highest_per_step_and_need_a_trace() {
        let body = |exemplars: Vec<OtlpExemplar>| {
            NumberDataPoint {
                exemplars,
                ..Default::default()
            }
            .encode_to_vec()
        };
        let mut unlinked = exemplar(3, 99.0, 0);
        unlinked.trace_id.clear();
        let s = stream(
            METRIC_GAUGE,
            false,
            vec![
                point(2, Some(1.0), Some(body(vec![exemplar(2, 5.0, 1), exemplar(2, 7.0, 2), unlinked]))),
                point(12, Some(1.0), Some(body(vec![exemplar(12, 3.0, 3)]))),
                point(25, Some(1.0), Some(body(vec![exemplar(99, 3.0, 4)]))), // past the window's end
            ],
        );
        let out = compute(&[s], 0, 30, 10, None, Agg::Avg);
        let kept: Vec<(i64, f64, u8)> = out[0].exemplars.iter().map(|e| (e.time_ns, e.value, e.trace_id[0])).collect();
        assert_eq!(kept, vec![(2, 7.0, 2), (12, 3.0, 3)]);
        assert_eq!(out[0].buckets, None);
    }

    #[test]
    fn buckets_are_counted_per_step_on_one_set_of_bounds() {
        let histogram = |counts: Vec<u64>, bounds: Vec<f64>| {
            HistogramDataPoint {
                count: counts.iter().sum(),
                bucket_counts: counts,
                explicit_bounds: bounds,
                exemplars: vec![exemplar(1, 0.5, 9)],
                ..Default::default()
            }
            .encode_to_vec()
        };
        let mut s = stream(
            METRIC_HISTOGRAM,
            false,
            vec![
                point(1, Some(3.0), Some(histogram(vec![1, 2, 0], vec![1.0, 2.0]))),
                point(11, Some(4.0), Some(histogram(vec![0, 1, 3], vec![1.0, 2.0]))),
                point(21, Some(2.0), Some(histogram(vec![2, 0], vec![5.0]))),
            ],
        );
        s.temporality = 1; // delta: each point its own observations
        let out = compute(&[s], 0, 30, 10, None, Agg::Buckets);
        assert_eq!(out[0].points, vec![(0, 3.0), (10, 4.0), (20, 2.0)]);
        let buckets = out[0].buckets.clone().unwrap();
        assert_eq!(buckets.bounds, vec![1.0, 2.0, 5.0]);
        assert_eq!(
            buckets.counts,
            vec![vec![1.0, 2.0, 0.0, 0.0], vec![0.0, 1.0, 0.0, 3.0], vec![0.0, 0.0, 2.0, 0.0]]
        );
        assert_eq!(out[0].exemplars.len(), 1);
        assert_eq!(Agg::parse("buckets").unwrap(), Agg::Buckets);
    }

    #[test]
    fn fine_distributions_are_merged_down_to_a_readable_heatmap() {
        let d = Distribution {
            bounds: (1..=200).map(f64::from).collect(),
            counts: vec![1.0; 201],
            sum: 0.0,
            count: 201.0,
        };
        let b = bucket_counts(&[Some(&d)]);
        assert!(b.bounds.len() <= MAX_HEATMAP_BUCKETS, "{}", b.bounds.len());
        assert_eq!(b.counts[0].len(), b.bounds.len() + 1);
        assert_eq!(b.counts[0].iter().sum::<f64>(), 201.0);
    }
}
