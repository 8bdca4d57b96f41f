//! How doorman reports on itself: logs ([`logs`]) and Prometheus metrics ([`metrics`]).
pub mod access;
mod histogram;
pub mod logs;
pub mod metrics;
mod pool;
pub mod shard;

pub use histogram::LatencyHistogram;
pub use metrics::{Metrics, ProxyMetrics};
