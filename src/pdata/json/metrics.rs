//! OTLP/JSON for metrics: resource metrics down to the five data point types and their exemplars, both ways.

use super::common::{
    attributes, boolean, dec_resource, dec_scope, decode_with, double, enc_key_value, enc_list, enc_resource, enc_scope, enumeration,
    f64_json, field, field_or_default, int32, int64, k, list, obj, one_of, put, put_f64, put_hex, put_i32, put_list, put_opt_f64, put_str,
    put_u32, put_u64, span_id, string, trace_id, u64_string, uint32, uint64, R,
};
use super::JsonError;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point, summary_data_point, AggregationTemporality, Exemplar,
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use serde_json::{Map, Value};
use serde_json_borrow::Value as J;

pub(super) fn decode(body: &[u8]) -> Result<ExportMetricsServiceRequest, JsonError> {
    decode_with(body, |o| {
        Ok(ExportMetricsServiceRequest {
            resource_metrics: list(o, k::RESOURCE_METRICS, dec_resource_metrics)?,
        })
    })
}

pub(super) fn encode(req: &ExportMetricsServiceRequest) -> Value {
    let mut m = Map::new();
    put(&mut m, k::RESOURCE_METRICS, enc_list(&req.resource_metrics, enc_resource_metrics));
    Value::Object(m)
}

// Decoders, one per message.

fn dec_resource_metrics(v: &J) -> R<ResourceMetrics> {
    let o = obj(v)?;
    Ok(ResourceMetrics {
        resource: field(o, k::RESOURCE, dec_resource)?,
        scope_metrics: list(o, k::SCOPE_METRICS, dec_scope_metrics)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_scope_metrics(v: &J) -> R<ScopeMetrics> {
    let o = obj(v)?;
    Ok(ScopeMetrics {
        scope: field(o, k::SCOPE, dec_scope)?,
        metrics: list(o, k::METRICS, dec_metric)?,
        schema_url: field_or_default(o, k::SCHEMA_URL, string)?,
    })
}

fn dec_metric(v: &J) -> R<Metric> {
    use metric::Data;
    let o = obj(v)?;
    let mut slot = None;
    one_of(&mut slot, k::GAUGE, field(o, k::GAUGE, |v| dec_gauge(v).map(Data::Gauge))?)?;
    one_of(&mut slot, k::SUM, field(o, k::SUM, |v| dec_sum(v).map(Data::Sum))?)?;
    one_of(
        &mut slot,
        k::HISTOGRAM,
        field(o, k::HISTOGRAM, |v| dec_histogram(v).map(Data::Histogram))?,
    )?;
    one_of(
        &mut slot,
        k::EXPONENTIAL_HISTOGRAM,
        field(o, k::EXPONENTIAL_HISTOGRAM, |v| {
            dec_exp_histogram(v).map(Data::ExponentialHistogram)
        })?,
    )?;
    one_of(&mut slot, k::SUMMARY, field(o, k::SUMMARY, |v| dec_summary(v).map(Data::Summary))?)?;
    Ok(Metric {
        name: field_or_default(o, k::NAME, string)?,
        description: field_or_default(o, k::DESCRIPTION, string)?,
        unit: field_or_default(o, k::UNIT, string)?,
        metadata: attributes(o, k::METADATA)?,
        data: slot.map(|(_, d)| d),
    })
}

fn dec_gauge(v: &J) -> R<Gauge> {
    let o = obj(v)?;
    Ok(Gauge {
        data_points: list(o, k::DATA_POINTS, dec_number_point)?,
    })
}

fn dec_sum(v: &J) -> R<Sum> {
    let o = obj(v)?;
    Ok(Sum {
        data_points: list(o, k::DATA_POINTS, dec_number_point)?,
        aggregation_temporality: field_or_default(o, k::AGGREGATION_TEMPORALITY, temporality)?,
        is_monotonic: field_or_default(o, k::IS_MONOTONIC, boolean)?,
    })
}

fn dec_histogram(v: &J) -> R<Histogram> {
    let o = obj(v)?;
    Ok(Histogram {
        data_points: list(o, k::DATA_POINTS, dec_histogram_point)?,
        aggregation_temporality: field_or_default(o, k::AGGREGATION_TEMPORALITY, temporality)?,
    })
}

fn dec_exp_histogram(v: &J) -> R<ExponentialHistogram> {
    let o = obj(v)?;
    Ok(ExponentialHistogram {
        data_points: list(o, k::DATA_POINTS, dec_exp_histogram_point)?,
        aggregation_temporality: field_or_default(o, k::AGGREGATION_TEMPORALITY, temporality)?,
    })
}

fn dec_summary(v: &J) -> R<Summary> {
    let o = obj(v)?;
    Ok(Summary {
        data_points: list(o, k::DATA_POINTS, dec_summary_point)?,
    })
}

fn dec_number_point(v: &J) -> R<NumberDataPoint> {
    use number_data_point::Value as V;
    let o = obj(v)?;
    let mut slot = None;
    one_of(&mut slot, k::AS_DOUBLE, field(o, k::AS_DOUBLE, |v| double(v).map(V::AsDouble))?)?;
    one_of(&mut slot, k::AS_INT, field(o, k::AS_INT, |v| int64(v).map(V::AsInt))?)?;
    Ok(NumberDataPoint {
        attributes: attributes(o, k::ATTRIBUTES)?,
        start_time_unix_nano: field_or_default(o, k::START_TIME_UNIX_NANO, uint64)?,
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        exemplars: list(o, k::EXEMPLARS, dec_exemplar)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
        value: slot.map(|(_, v)| v),
    })
}

fn dec_histogram_point(v: &J) -> R<HistogramDataPoint> {
    let o = obj(v)?;
    Ok(HistogramDataPoint {
        attributes: attributes(o, k::ATTRIBUTES)?,
        start_time_unix_nano: field_or_default(o, k::START_TIME_UNIX_NANO, uint64)?,
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        count: field_or_default(o, k::COUNT, uint64)?,
        sum: field(o, k::SUM, double)?,
        bucket_counts: list(o, k::BUCKET_COUNTS, uint64)?,
        explicit_bounds: list(o, k::EXPLICIT_BOUNDS, double)?,
        exemplars: list(o, k::EXEMPLARS, dec_exemplar)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
        min: field(o, k::MIN, double)?,
        max: field(o, k::MAX, double)?,
    })
}

fn dec_exp_histogram_point(v: &J) -> R<ExponentialHistogramDataPoint> {
    let o = obj(v)?;
    Ok(ExponentialHistogramDataPoint {
        attributes: attributes(o, k::ATTRIBUTES)?,
        start_time_unix_nano: field_or_default(o, k::START_TIME_UNIX_NANO, uint64)?,
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        count: field_or_default(o, k::COUNT, uint64)?,
        sum: field(o, k::SUM, double)?,
        scale: field_or_default(o, k::SCALE, int32)?,
        zero_count: field_or_default(o, k::ZERO_COUNT, uint64)?,
        positive: field(o, k::POSITIVE, dec_buckets)?,
        negative: field(o, k::NEGATIVE, dec_buckets)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
        exemplars: list(o, k::EXEMPLARS, dec_exemplar)?,
        min: field(o, k::MIN, double)?,
        max: field(o, k::MAX, double)?,
        zero_threshold: field_or_default(o, k::ZERO_THRESHOLD, double)?,
    })
}

fn dec_buckets(v: &J) -> R<exponential_histogram_data_point::Buckets> {
    let o = obj(v)?;
    Ok(exponential_histogram_data_point::Buckets {
        offset: field_or_default(o, k::OFFSET, int32)?,
        bucket_counts: list(o, k::BUCKET_COUNTS, uint64)?,
    })
}

fn dec_summary_point(v: &J) -> R<SummaryDataPoint> {
    let o = obj(v)?;
    Ok(SummaryDataPoint {
        attributes: attributes(o, k::ATTRIBUTES)?,
        start_time_unix_nano: field_or_default(o, k::START_TIME_UNIX_NANO, uint64)?,
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        count: field_or_default(o, k::COUNT, uint64)?,
        sum: field_or_default(o, k::SUM, double)?,
        quantile_values: list(o, k::QUANTILE_VALUES, dec_quantile)?,
        flags: field_or_default(o, k::FLAGS, uint32)?,
    })
}

fn dec_quantile(v: &J) -> R<summary_data_point::ValueAtQuantile> {
    let o = obj(v)?;
    Ok(summary_data_point::ValueAtQuantile {
        quantile: field_or_default(o, k::QUANTILE, double)?,
        value: field_or_default(o, k::VALUE, double)?,
    })
}

fn dec_exemplar(v: &J) -> R<Exemplar> {
    use exemplar::Value as V;
    let o = obj(v)?;
    let mut slot = None;
    one_of(&mut slot, k::AS_DOUBLE, field(o, k::AS_DOUBLE, |v| double(v).map(V::AsDouble))?)?;
    one_of(&mut slot, k::AS_INT, field(o, k::AS_INT, |v| int64(v).map(V::AsInt))?)?;
    Ok(Exemplar {
        filtered_attributes: attributes(o, k::FILTERED_ATTRIBUTES)?,
        time_unix_nano: field_or_default(o, k::TIME_UNIX_NANO, uint64)?,
        span_id: field_or_default(o, k::SPAN_ID, span_id)?,
        trace_id: field_or_default(o, k::TRACE_ID, trace_id)?,
        value: slot.map(|(_, v)| v),
    })
}

fn temporality(v: &J) -> R<i32> {
    enumeration(v, "aggregation temporality", |s| {
        AggregationTemporality::from_str_name(s).map(|e| e as i32)
    })
}

// Encoders, one per message.

fn enc_resource_metrics(rm: &ResourceMetrics) -> Value {
    let mut m = Map::new();
    if let Some(r) = &rm.resource {
        put(&mut m, k::RESOURCE, enc_resource(r));
    }
    put_list(&mut m, k::SCOPE_METRICS, &rm.scope_metrics, enc_scope_metrics);
    put_str(&mut m, k::SCHEMA_URL, &rm.schema_url);
    Value::Object(m)
}

fn enc_scope_metrics(sm: &ScopeMetrics) -> Value {
    let mut m = Map::new();
    if let Some(s) = &sm.scope {
        put(&mut m, k::SCOPE, enc_scope(s));
    }
    put_list(&mut m, k::METRICS, &sm.metrics, enc_metric);
    put_str(&mut m, k::SCHEMA_URL, &sm.schema_url);
    Value::Object(m)
}

fn enc_metric(mt: &Metric) -> Value {
    use metric::Data;
    let mut m = Map::new();
    put_str(&mut m, k::NAME, &mt.name);
    put_str(&mut m, k::DESCRIPTION, &mt.description);
    put_str(&mut m, k::UNIT, &mt.unit);
    put_list(&mut m, k::METADATA, &mt.metadata, enc_key_value);
    match &mt.data {
        None => {}
        Some(Data::Gauge(g)) => {
            let mut d = Map::new();
            put_list(&mut d, k::DATA_POINTS, &g.data_points, enc_number_point);
            put(&mut m, k::GAUGE, Value::Object(d));
        }
        Some(Data::Sum(s)) => {
            let mut d = Map::new();
            put_list(&mut d, k::DATA_POINTS, &s.data_points, enc_number_point);
            put_i32(&mut d, k::AGGREGATION_TEMPORALITY, s.aggregation_temporality);
            if s.is_monotonic {
                put(&mut d, k::IS_MONOTONIC, Value::Bool(true));
            }
            put(&mut m, k::SUM, Value::Object(d));
        }
        Some(Data::Histogram(h)) => {
            let mut d = Map::new();
            put_list(&mut d, k::DATA_POINTS, &h.data_points, enc_histogram_point);
            put_i32(&mut d, k::AGGREGATION_TEMPORALITY, h.aggregation_temporality);
            put(&mut m, k::HISTOGRAM, Value::Object(d));
        }
        Some(Data::ExponentialHistogram(h)) => {
            let mut d = Map::new();
            put_list(&mut d, k::DATA_POINTS, &h.data_points, enc_exp_histogram_point);
            put_i32(&mut d, k::AGGREGATION_TEMPORALITY, h.aggregation_temporality);
            put(&mut m, k::EXPONENTIAL_HISTOGRAM, Value::Object(d));
        }
        Some(Data::Summary(s)) => {
            let mut d = Map::new();
            put_list(&mut d, k::DATA_POINTS, &s.data_points, enc_summary_point);
            put(&mut m, k::SUMMARY, Value::Object(d));
        }
    }
    Value::Object(m)
}

fn enc_number_point(p: &NumberDataPoint) -> Value {
    use number_data_point::Value as V;
    let mut m = Map::new();
    put_list(&mut m, k::ATTRIBUTES, &p.attributes, enc_key_value);
    put_u64(&mut m, k::START_TIME_UNIX_NANO, p.start_time_unix_nano);
    put_u64(&mut m, k::TIME_UNIX_NANO, p.time_unix_nano);
    match p.value {
        None => {}
        Some(V::AsDouble(d)) => put(&mut m, k::AS_DOUBLE, f64_json(d)),
        Some(V::AsInt(i)) => put(&mut m, k::AS_INT, Value::String(i.to_string())),
    }
    put_list(&mut m, k::EXEMPLARS, &p.exemplars, enc_exemplar);
    put_u32(&mut m, k::FLAGS, p.flags);
    Value::Object(m)
}

fn enc_histogram_point(p: &HistogramDataPoint) -> Value {
    let mut m = Map::new();
    put_list(&mut m, k::ATTRIBUTES, &p.attributes, enc_key_value);
    put_u64(&mut m, k::START_TIME_UNIX_NANO, p.start_time_unix_nano);
    put_u64(&mut m, k::TIME_UNIX_NANO, p.time_unix_nano);
    put_u64(&mut m, k::COUNT, p.count);
    put_opt_f64(&mut m, k::SUM, p.sum);
    put_list(&mut m, k::BUCKET_COUNTS, &p.bucket_counts, u64_string);
    put_list(&mut m, k::EXPLICIT_BOUNDS, &p.explicit_bounds, |b| f64_json(*b));
    put_list(&mut m, k::EXEMPLARS, &p.exemplars, enc_exemplar);
    put_u32(&mut m, k::FLAGS, p.flags);
    put_opt_f64(&mut m, k::MIN, p.min);
    put_opt_f64(&mut m, k::MAX, p.max);
    Value::Object(m)
}

fn enc_exp_histogram_point(p: &ExponentialHistogramDataPoint) -> Value {
    let mut m = Map::new();
    put_list(&mut m, k::ATTRIBUTES, &p.attributes, enc_key_value);
    put_u64(&mut m, k::START_TIME_UNIX_NANO, p.start_time_unix_nano);
    put_u64(&mut m, k::TIME_UNIX_NANO, p.time_unix_nano);
    put_u64(&mut m, k::COUNT, p.count);
    put_opt_f64(&mut m, k::SUM, p.sum);
    put_i32(&mut m, k::SCALE, p.scale);
    put_u64(&mut m, k::ZERO_COUNT, p.zero_count);
    if let Some(b) = &p.positive {
        put(&mut m, k::POSITIVE, enc_buckets(b));
    }
    if let Some(b) = &p.negative {
        put(&mut m, k::NEGATIVE, enc_buckets(b));
    }
    put_u32(&mut m, k::FLAGS, p.flags);
    put_list(&mut m, k::EXEMPLARS, &p.exemplars, enc_exemplar);
    put_opt_f64(&mut m, k::MIN, p.min);
    put_opt_f64(&mut m, k::MAX, p.max);
    put_f64(&mut m, k::ZERO_THRESHOLD, p.zero_threshold);
    Value::Object(m)
}

fn enc_buckets(b: &exponential_histogram_data_point::Buckets) -> Value {
    let mut m = Map::new();
    put_i32(&mut m, k::OFFSET, b.offset);
    put_list(&mut m, k::BUCKET_COUNTS, &b.bucket_counts, u64_string);
    Value::Object(m)
}

fn enc_summary_point(p: &SummaryDataPoint) -> Value {
    let mut m = Map::new();
    put_list(&mut m, k::ATTRIBUTES, &p.attributes, enc_key_value);
    put_u64(&mut m, k::START_TIME_UNIX_NANO, p.start_time_unix_nano);
    put_u64(&mut m, k::TIME_UNIX_NANO, p.time_unix_nano);
    put_u64(&mut m, k::COUNT, p.count);
    put_f64(&mut m, k::SUM, p.sum);
    put_list(&mut m, k::QUANTILE_VALUES, &p.quantile_values, |q| {
        let mut qm = Map::new();
        put_f64(&mut qm, k::QUANTILE, q.quantile);
        put_f64(&mut qm, k::VALUE, q.value);
        Value::Object(qm)
    });
    put_u32(&mut m, k::FLAGS, p.flags);
    Value::Object(m)
}

fn enc_exemplar(e: &Exemplar) -> Value {
    use exemplar::Value as V;
    let mut m = Map::new();
    put_list(&mut m, k::FILTERED_ATTRIBUTES, &e.filtered_attributes, enc_key_value);
    put_u64(&mut m, k::TIME_UNIX_NANO, e.time_unix_nano);
    match e.value {
        None => {}
        Some(V::AsDouble(d)) => put(&mut m, k::AS_DOUBLE, f64_json(d)),
        Some(V::AsInt(i)) => put(&mut m, k::AS_INT, Value::String(i.to_string())),
    }
    put_hex(&mut m, k::SPAN_ID, &e.span_id);
    put_hex(&mut m, k::TRACE_ID, &e.trace_id);
    Value::Object(m)
}
