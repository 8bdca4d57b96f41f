//! A latency histogram that records with two relaxed atomic adds: no lock and no
//! allocation, so the proxy's hot path can afford it. Buckets are fixed (seconds), and
//! each thread adds to its own shard of them (`shard`): no cache line shared by cores.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

use super::shard::Sharded;

/// Upper bounds in seconds: sub-millisecond proxy hops up to slow database requests.
const BOUNDS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default)]
struct Counts {
    /// One per bound, then the `+Inf` bucket.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

/// Clones share their counts: a handle taken at start-up records into the registered series.
#[derive(Debug, Clone, Default)]
pub struct LatencyHistogram(Arc<Sharded<Counts>>);

impl LatencyHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = BOUNDS.iter().position(|bound| seconds <= *bound).unwrap_or(BOUNDS.len());
        let counts = self.0.local();
        counts.buckets[bucket].fetch_add(1, Relaxed);
        counts.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // Per bucket, not cumulative: the encoder adds them up.
        let summed = |i: usize| self.0.all().map(|c| c.buckets[i].load(Relaxed)).sum::<u64>();
        let buckets: Vec<(f64, u64)> =
            BOUNDS.iter().chain([&f64::INFINITY]).enumerate().map(|(i, b)| (*b, summed(i))).collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.0.all().map(|c| c.sum_nanos.load(Relaxed)).sum::<u64>() as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
