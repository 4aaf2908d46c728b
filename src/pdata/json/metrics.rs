//! OTLP/JSON for metrics: resource metrics down to the five data point types and their exemplars, both ways.

use super::common::{
    enc_key_value, enc_list, enc_resource, enc_scope, f64_json, k, put, put_f64, put_hex, put_i32, put_list, put_opt_f64, put_str, put_u32,
    put_u64, u64_string, Attributes,
};
use super::decode::{self, Bool, Double, Enum, Int32, Int64, List, Msg, ProtoEnum, SpanId, Str, TraceId, Uint32, Uint64};
use super::JsonError;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point, summary_data_point, AggregationTemporality, Exemplar,
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Value};

pub(super) fn decode(body: &[u8]) -> Result<ExportMetricsServiceRequest, JsonError> {
    decode::decode(body)
}

pub(super) fn encode(req: &ExportMetricsServiceRequest) -> Value {
    let mut m = Map::new();
    put(&mut m, k::RESOURCE_METRICS, enc_list(&req.resource_metrics, enc_resource_metrics));
    Value::Object(m)
}

// Decoders, one per message.

message!(ExportMetricsServiceRequest {
    RESOURCE_METRICS => |m, v| v.put::<List<Msg<ResourceMetrics>>>(&mut m.resource_metrics),
});

message!(ResourceMetrics {
    RESOURCE => |m, v| v.put_some::<Msg<Resource>>(&mut m.resource),
    SCOPE_METRICS => |m, v| v.put::<List<Msg<ScopeMetrics>>>(&mut m.scope_metrics),
    SCHEMA_URL => |m, v| v.put::<Str>(&mut m.schema_url),
});

message!(ScopeMetrics {
    SCOPE => |m, v| v.put_some::<Msg<InstrumentationScope>>(&mut m.scope),
    METRICS => |m, v| v.put::<List<Msg<Metric>>>(&mut m.metrics),
    SCHEMA_URL => |m, v| v.put::<Str>(&mut m.schema_url),
});

message!(Metric {
    NAME => |m, v| v.put::<Str>(&mut m.name),
    DESCRIPTION => |m, v| v.put::<Str>(&mut m.description),
    UNIT => |m, v| v.put::<Str>(&mut m.unit),
    METADATA => |m, v| v.put::<Attributes>(&mut m.metadata),
    #[one_of] GAUGE => |m, v| v.put_variant::<Msg<Gauge>, _>(&mut m.data, metric::Data::Gauge),
    #[one_of] SUM => |m, v| v.put_variant::<Msg<Sum>, _>(&mut m.data, metric::Data::Sum),
    #[one_of] HISTOGRAM => |m, v| v.put_variant::<Msg<Histogram>, _>(&mut m.data, metric::Data::Histogram),
    #[one_of] EXPONENTIAL_HISTOGRAM => |m, v| {
        v.put_variant::<Msg<ExponentialHistogram>, _>(&mut m.data, metric::Data::ExponentialHistogram)
    },
    #[one_of] SUMMARY => |m, v| v.put_variant::<Msg<Summary>, _>(&mut m.data, metric::Data::Summary),
});

message!(Gauge {
    DATA_POINTS => |m, v| v.put::<List<Msg<NumberDataPoint>>>(&mut m.data_points),
});

message!(Sum {
    DATA_POINTS => |m, v| v.put::<List<Msg<NumberDataPoint>>>(&mut m.data_points),
    AGGREGATION_TEMPORALITY => |m, v| v.put::<Enum<AggregationTemporality>>(&mut m.aggregation_temporality),
    IS_MONOTONIC => |m, v| v.put::<Bool>(&mut m.is_monotonic),
});

message!(Histogram {
    DATA_POINTS => |m, v| v.put::<List<Msg<HistogramDataPoint>>>(&mut m.data_points),
    AGGREGATION_TEMPORALITY => |m, v| v.put::<Enum<AggregationTemporality>>(&mut m.aggregation_temporality),
});

message!(ExponentialHistogram {
    DATA_POINTS => |m, v| v.put::<List<Msg<ExponentialHistogramDataPoint>>>(&mut m.data_points),
    AGGREGATION_TEMPORALITY => |m, v| v.put::<Enum<AggregationTemporality>>(&mut m.aggregation_temporality),
});

message!(Summary {
    DATA_POINTS => |m, v| v.put::<List<Msg<SummaryDataPoint>>>(&mut m.data_points),
});

message!(NumberDataPoint {
    ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.attributes),
    START_TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.start_time_unix_nano),
    TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.time_unix_nano),
    EXEMPLARS => |m, v| v.put::<List<Msg<Exemplar>>>(&mut m.exemplars),
    FLAGS => |m, v| v.put::<Uint32>(&mut m.flags),
    #[one_of] AS_DOUBLE => |m, v| v.put_variant::<Double, _>(&mut m.value, number_data_point::Value::AsDouble),
    #[one_of] AS_INT => |m, v| v.put_variant::<Int64, _>(&mut m.value, number_data_point::Value::AsInt),
});

message!(HistogramDataPoint {
    ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.attributes),
    START_TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.start_time_unix_nano),
    TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.time_unix_nano),
    COUNT => |m, v| v.put::<Uint64>(&mut m.count),
    SUM => |m, v| v.put_some::<Double>(&mut m.sum),
    BUCKET_COUNTS => |m, v| v.put::<List<Uint64>>(&mut m.bucket_counts),
    EXPLICIT_BOUNDS => |m, v| v.put::<List<Double>>(&mut m.explicit_bounds),
    EXEMPLARS => |m, v| v.put::<List<Msg<Exemplar>>>(&mut m.exemplars),
    FLAGS => |m, v| v.put::<Uint32>(&mut m.flags),
    MIN => |m, v| v.put_some::<Double>(&mut m.min),
    MAX => |m, v| v.put_some::<Double>(&mut m.max),
});

message!(ExponentialHistogramDataPoint {
    ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.attributes),
    START_TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.start_time_unix_nano),
    TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.time_unix_nano),
    COUNT => |m, v| v.put::<Uint64>(&mut m.count),
    SUM => |m, v| v.put_some::<Double>(&mut m.sum),
    SCALE => |m, v| v.put::<Int32>(&mut m.scale),
    ZERO_COUNT => |m, v| v.put::<Uint64>(&mut m.zero_count),
    POSITIVE => |m, v| v.put_some::<Msg<exponential_histogram_data_point::Buckets>>(&mut m.positive),
    NEGATIVE => |m, v| v.put_some::<Msg<exponential_histogram_data_point::Buckets>>(&mut m.negative),
    FLAGS => |m, v| v.put::<Uint32>(&mut m.flags),
    EXEMPLARS => |m, v| v.put::<List<Msg<Exemplar>>>(&mut m.exemplars),
    MIN => |m, v| v.put_some::<Double>(&mut m.min),
    MAX => |m, v| v.put_some::<Double>(&mut m.max),
    ZERO_THRESHOLD => |m, v| v.put::<Double>(&mut m.zero_threshold),
});

message!(exponential_histogram_data_point::Buckets {
    OFFSET => |m, v| v.put::<Int32>(&mut m.offset),
    BUCKET_COUNTS => |m, v| v.put::<List<Uint64>>(&mut m.bucket_counts),
});

message!(SummaryDataPoint {
    ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.attributes),
    START_TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.start_time_unix_nano),
    TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.time_unix_nano),
    COUNT => |m, v| v.put::<Uint64>(&mut m.count),
    SUM => |m, v| v.put::<Double>(&mut m.sum),
    QUANTILE_VALUES => |m, v| v.put::<List<Msg<summary_data_point::ValueAtQuantile>>>(&mut m.quantile_values),
    FLAGS => |m, v| v.put::<Uint32>(&mut m.flags),
});

message!(summary_data_point::ValueAtQuantile {
    QUANTILE => |m, v| v.put::<Double>(&mut m.quantile),
    VALUE => |m, v| v.put::<Double>(&mut m.value),
});

message!(Exemplar {
    FILTERED_ATTRIBUTES => |m, v| v.put::<Attributes>(&mut m.filtered_attributes),
    TIME_UNIX_NANO => |m, v| v.put::<Uint64>(&mut m.time_unix_nano),
    SPAN_ID => |m, v| v.put::<SpanId>(&mut m.span_id),
    TRACE_ID => |m, v| v.put::<TraceId>(&mut m.trace_id),
    #[one_of] AS_DOUBLE => |m, v| v.put_variant::<Double, _>(&mut m.value, exemplar::Value::AsDouble),
    #[one_of] AS_INT => |m, v| v.put_variant::<Int64, _>(&mut m.value, exemplar::Value::AsInt),
});

impl ProtoEnum for AggregationTemporality {
    const WHAT: &'static str = "aggregation temporality";
    fn number_of(name: &str) -> Option<i32> {
        Self::from_str_name(name).map(|e| e as i32)
    }
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
