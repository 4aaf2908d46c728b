//! The base-2 exponential histogram the servicegraph and spanmetrics connectors record durations in
//! when configured for exponential buckets, as the Collector's connectors do with the
//! `go-expohisto` library: it starts at the finest scale (20) and lowers the scale just enough to
//! hold every value seen in at most `max_size` buckets; zero goes to the zero bucket; the point
//! carries count, sum, min and max (when anything was counted), and scale 0 when only zeros were
//! counted, as the library reports.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint;

/// The finest and coarsest scales of exponential histograms (those of the Collector's library).
pub(super) const MAX_SCALE: i32 = 20;
pub(super) const MIN_SCALE: i32 = -10;
/// The Collector's library's default bucket count (`structure.DefaultMaxSize`), also what a
/// `max_size` of 0 means there.
pub(super) const DEFAULT_MAX_SIZE: usize = 160;
/// The library's smallest and largest bucket counts (`structure.MinSize`, `structure.MaximumMaxSize`).
pub(super) const MIN_MAX_SIZE: u64 = 2;
pub(super) const MAX_MAX_SIZE: u64 = 16_384;

/// A base-2 exponential histogram of non-negative values (OTLP's exponential histogram point) with
/// at most `max_size` buckets: it starts at the finest scale and lowers the scale just enough to
/// hold every value seen whenever one falls outside what `max_size` buckets can hold.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ExponentialBuckets {
    max_size: usize,
    scale: i32,
    zero_count: u64,
    /// The bucket index of `counts[0]`.
    offset: i32,
    counts: Vec<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl ExponentialBuckets {
    pub(super) fn new(max_size: usize) -> ExponentialBuckets {
        ExponentialBuckets {
            max_size: max_size.max(2),
            scale: MAX_SCALE,
            zero_count: 0,
            offset: 0,
            counts: Vec::new(),
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    pub(super) fn observe(&mut self, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if value < f64::MIN_POSITIVE {
            self.zero_count += 1;
            return;
        }
        let mut index = bucket_index(value, self.scale);
        if self.counts.is_empty() {
            self.offset = index;
            self.counts.push(1);
            return;
        }
        let last = self.offset + self.counts.len() as i32 - 1;
        let low = i64::from(self.offset.min(index));
        let high = i64::from(last.max(index));
        let mut change: i32 = 0;
        while (high >> change) - (low >> change) + 1 > self.max_size as i64 && self.scale - change > MIN_SCALE {
            change += 1;
        }
        if change > 0 {
            self.downscale(change);
            index >>= change;
        }
        if index < self.offset {
            let mut grown = vec![0; (self.offset - index) as usize];
            grown.extend_from_slice(&self.counts);
            self.counts = grown;
            self.offset = index;
        } else if (index - self.offset) as usize >= self.counts.len() {
            self.counts.resize((index - self.offset) as usize + 1, 0);
        }
        self.counts[(index - self.offset) as usize] += 1;
    }

    /// Lowers the scale by `change`: every 2^change neighbouring buckets become one.
    fn downscale(&mut self, change: i32) {
        self.scale -= change;
        if self.counts.is_empty() {
            return;
        }
        let offset = self.offset >> change;
        let last = (self.offset + self.counts.len() as i32 - 1) >> change;
        let mut counts = vec![0u64; (last - offset + 1) as usize];
        for (i, n) in self.counts.iter().enumerate() {
            counts[(((self.offset + i as i32) >> change) - offset) as usize] += *n;
        }
        self.offset = offset;
        self.counts = counts;
    }

    /// The OTLP point of what was counted (no exemplars; the caller adds its own).
    pub(super) fn point(&self, attributes: Vec<KeyValue>, start: u64, time: u64) -> ExponentialHistogramDataPoint {
        ExponentialHistogramDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: time,
            count: self.count,
            sum: Some(self.sum),
            // With no bucket in use the scale says nothing; the Collector's library reports 0.
            scale: if self.count == self.zero_count { 0 } else { self.scale },
            zero_count: self.zero_count,
            positive: Some(Buckets {
                offset: self.offset,
                bucket_counts: self.counts.clone(),
            }),
            negative: Some(Buckets::default()),
            min: (self.count > 0).then_some(self.min),
            max: (self.count > 0).then_some(self.max),
            ..Default::default()
        }
    }
}

/// The index of the bucket holding `value` (positive and normal) at `scale`: bucket `i` holds
/// (2^(i/2^scale), 2^((i+1)/2^scale)]. Exact for powers of two and at scales up to 0.
fn bucket_index(value: f64, scale: i32) -> i32 {
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let power_of_two = bits & ((1u64 << 52) - 1) == 0;
    match (power_of_two, scale >= 0) {
        // 2^e is the upper bound of its bucket.
        (true, true) => (exponent << scale) - 1,
        (true, false) => (exponent - 1) >> -scale,
        (false, false) => exponent >> -scale,
        (false, true) => (value.log2() * f64::powi(2.0, scale)).ceil() as i32 - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_buckets_lower_their_scale_just_enough_to_hold_every_value_in_max_size_buckets() {
        assert_eq!(bucket_index(1.5, 1), 1, "(2^(1/2), 2]");
        assert_eq!(bucket_index(3.0, 0), 1, "(2, 4]");
        assert_eq!(bucket_index(3.0, -1), 0, "(1, 4]");
        assert_eq!(bucket_index(0.25, 0), -3, "(1/8, 1/4]: a power of two is its bucket's upper bound");
        assert_eq!(bucket_index(4.0, -1), 0, "(1, 4]");

        let mut h = ExponentialBuckets::new(2);
        h.observe(1.0);
        assert_eq!((h.scale, h.offset), (MAX_SCALE, -1));
        assert_eq!(h.counts, [1]);
        h.observe(4.0);
        assert_eq!((h.scale, h.offset), (-1, -1));
        assert_eq!(h.counts, [1, 1], "(1/4, 1] and (1, 4]");
        h.observe(0.0);
        assert_eq!((h.zero_count, h.count, h.sum, h.min, h.max), (1, 3, 5.0, 0.0, 4.0));

        let mut h = ExponentialBuckets::new(160);
        let values: Vec<f64> = (1..=5000).map(|ms| f64::from(ms) / 1000.0).collect();
        for value in &values {
            h.observe(*value);
        }
        assert!(h.counts.len() <= 160);
        assert_eq!(h.counts.iter().sum::<u64>(), 5000);
        let held = h.offset..h.offset + h.counts.len() as i32;
        for value in &values {
            assert!(held.contains(&bucket_index(*value, h.scale)), "{value} is in a bucket held");
        }
        let finer = bucket_index(5.0, h.scale + 1) - bucket_index(0.001, h.scale + 1) + 1;
        assert!(finer > 160, "one scale finer would need {finer} buckets");
    }

    #[test]
    fn the_point_reports_scale_0_with_no_bucket_in_use_as_the_collectors_library_does() {
        let mut h = ExponentialBuckets::new(DEFAULT_MAX_SIZE);
        let empty = h.point(Vec::new(), 1, 2);
        assert_eq!((empty.count, empty.scale, empty.min, empty.max), (0, 0, None, None));
        h.observe(0.0);
        h.observe(0.0);
        let zeros = h.point(Vec::new(), 1, 2);
        assert_eq!((zeros.count, zeros.zero_count, zeros.scale), (2, 2, 0));
        assert_eq!((zeros.min, zeros.max, zeros.sum), (Some(0.0), Some(0.0), Some(0.0)));
        h.observe(1.0);
        let point = h.point(Vec::new(), 1, 2);
        assert_eq!((point.count, point.zero_count, point.scale), (3, 2, MAX_SCALE));
        assert_eq!(
            point.positive,
            Some(Buckets {
                offset: -1,
                bucket_counts: vec![1]
            })
        );
        assert_eq!(point.negative, Some(Buckets::default()));
        assert_eq!((point.start_time_unix_nano, point.time_unix_nano), (1, 2));
    }
}
