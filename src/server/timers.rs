//! Deadlines on recycled tokio timers. A tokio `Sleep` costs, the first time it waits, a
//! lock of the runtime's timer driver and an insertion into its wheel, and as much again
//! to take it out when it is dropped; moving the deadline of one still in the wheel to a
//! *later* instant is one compare-and-swap (the wheel catches up when the old deadline
//! comes). A proxied request waits on two deadlines (its head from the client, the answer
//! from the upstream): with timers taken from a stack per thread when a wait begins and
//! given back when its deadline is dropped, the steady state inserts and removes none.
//!
//! A spare keeps the waker of its last wait until it is taken again: if nothing takes it
//! before its old deadline, that task is woken once and finds nothing to do.
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Spares kept per thread: about the waits a thread has at its busiest.
const MAX_SPARES: usize = 256;

/// A point in time to wait for. The timer is taken on the first wait that has to wait,
/// and goes back to this thread's spares when the deadline is dropped.
pub struct Deadline {
    at: Instant,
    timer: Option<Timer>,
}

struct Timer {
    sleep: Pin<Box<Sleep>>,
    /// The runtime whose driver holds the timer: a spare is reused only on that runtime.
    runtime: tokio::runtime::Id,
}

thread_local! {
    static SPARES: RefCell<Vec<Timer>> = const { RefCell::new(Vec::new()) };
}

impl Deadline {
    pub fn after(timeout: Duration) -> Self {
        Self::at(Instant::now() + timeout)
    }

    pub fn at(at: Instant) -> Self {
        Self { at, timer: None }
    }

    /// Moves the deadline; moving it later is nearly free.
    pub fn reset(&mut self, at: Instant) {
        self.at = at;
        if let Some(timer) = &mut self.timer {
            timer.sleep.as_mut().reset(at);
        }
    }

    /// Ready once the deadline has passed.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let timer = match &mut self.timer {
            Some(timer) => timer,
            None => self.timer.insert(take(self.at)),
        };
        timer.sleep.as_mut().poll(cx)
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            // Past the thread's end (its locals gone) the timer is simply dropped.
            let _ = SPARES.try_with(|spares| {
                let mut spares = spares.borrow_mut();
                if spares.len() < MAX_SPARES {
                    spares.push(timer);
                }
            });
        }
    }
}

/// A spare of this runtime moved to `at`, or a new timer.
fn take(at: Instant) -> Timer {
    let runtime = tokio::runtime::Handle::current().id();
    let spare = SPARES.with_borrow_mut(Vec::pop).filter(|spare| spare.runtime == runtime);
    match spare {
        Some(mut spare) => {
            spare.sleep.as_mut().reset(at);
            spare
        }
        None => Timer { sleep: Box::pin(tokio::time::sleep_until(at)), runtime },
    }
}

/// hyper's timer (the request head's deadline) on recycled timers.
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperTimer;

struct Wait(Deadline);

impl Future for Wait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().0.poll_expired(cx)
    }
}

impl hyper::rt::Sleep for Wait {}

impl hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Wait(Deadline::after(duration)))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Wait(Deadline::at(deadline.into())))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        match sleep.as_mut().downcast_mut_pin::<Wait>() {
            Some(wait) => wait.get_mut().0.reset(new_deadline.into()),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits on `deadline` and says how long that took.
    async fn waited(deadline: &mut Deadline) -> Duration {
        let started = Instant::now();
        std::future::poll_fn(|cx| deadline.poll_expired(cx)).await;
        started.elapsed()
    }

    fn started(deadline: &mut Deadline) {
        let pending = deadline.poll_expired(&mut Context::from_waker(std::task::Waker::noop()));
        assert!(pending.is_pending());
    }

    #[tokio::test]
    async fn a_recycled_timer_keeps_the_deadline_it_is_given() {
        // A spare in the wheel for 5 s serves a wait of 50 ms: it comes at 50 ms.
        let mut long = Deadline::after(Duration::from_secs(5));
        started(&mut long);
        drop(long);
        let mut short = Deadline::after(Duration::from_millis(50));
        let took = waited(&mut short).await;
        assert!((Duration::from_millis(50)..Duration::from_secs(2)).contains(&took), "{took:?}");
        drop(short);

        // A spare in the wheel for 100 ms serves a wait of 300 ms: not cut short at 100 ms.
        let mut soon = Deadline::after(Duration::from_millis(100));
        started(&mut soon);
        drop(soon);
        let mut later = Deadline::after(Duration::from_millis(300));
        let took = waited(&mut later).await;
        assert!(took >= Duration::from_millis(300), "{took:?}");
    }
}
