//! Time as the application sees it. Tests drive a [`ManualClock`] instead of sleeping.
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds.
pub type Millis = i64;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as Millis)
    }
}

/// A clock that moves only when told to; starts at the real current time so that
/// tokens it stamps are also valid for outside validators.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new() -> Self {
        Self(AtomicI64::new(SystemClock.now()))
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(millis(by), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn millis(d: Duration) -> Millis {
    d.as_millis().min(i64::MAX as u128) as Millis
}

/// Whole seconds from `now` until `deadline`, rounded up, never negative.
pub fn seconds_until(now: Millis, deadline: Millis) -> u64 {
    ((deadline - now).max(0) as u64).div_ceil(1000)
}

pub fn rfc3339(at: Millis) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(at.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}
