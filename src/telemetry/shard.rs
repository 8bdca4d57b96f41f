//! Per-thread shards for counters the proxy's hot path bumps. Two worker threads adding
//! to one atomic make its cache line move between the cores on every request; each
//! thread adding to its own copy (read back summed) keeps the line in its core's cache.
//! A thread's shard is fixed for its life; threads beyond [`SHARDS`] share, which stays
//! correct (the shards are atomics), only slower.
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

pub const SHARDS: usize = 8;

/// Aligned (and so padded) to two cache lines: neighbouring shards never share one,
/// whichever of the usual line sizes and prefetch pairs the CPU has.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Padded<T>(pub T);

/// This thread's shard, in `0..SHARDS`.
pub fn index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    INDEX.with(|i| *i)
}

/// `SHARDS` copies of a `T`, one per thread slot.
#[derive(Debug)]
pub struct Sharded<T>(Box<[Padded<T>; SHARDS]>);

impl<T: Default> Default for Sharded<T> {
    fn default() -> Self {
        Self(Box::new(std::array::from_fn(|_| Padded::default())))
    }
}

impl<T> Sharded<T> {
    /// This thread's copy.
    pub fn local(&self) -> &T {
        &self.0[index()].0
    }

    /// Every copy, to read them summed.
    pub fn all(&self) -> impl Iterator<Item = &T> {
        self.0.iter().map(|p| &p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn every_thread_adds_to_the_sum() {
        let counts: std::sync::Arc<Sharded<AtomicU64>> = Default::default();
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let counts = counts.clone();
                std::thread::spawn(move || (0..100).for_each(|_| _ = counts.local().fetch_add(1, Relaxed)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(counts.all().map(|c| c.load(Relaxed)).sum::<u64>(), 1200);
    }
}
