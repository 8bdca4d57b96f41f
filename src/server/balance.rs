//! How connections are spread over the worker threads. Every worker accepts on the one
//! listening socket, and whichever the kernel wakes first takes the connection; with a
//! few long-lived keep-alive connections (a bot's pool, or wrk's 4) that can leave one
//! core serving all of them while the other idles. So a worker that accepted a
//! connection keeps it only if no other worker serves fewer; otherwise it hands it, still
//! unread, to the worker with the fewest. Accepting is once per connection, never per
//! request: the hand-off costs a request nothing. (`SO_REUSEPORT` per worker was the
//! other candidate; it spreads by a hash of the addresses, which for 4 connections on 2
//! workers puts 3 or 4 on one worker more often than not.)
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use tokio::sync::mpsc;

use super::limits::Permit;
use crate::telemetry::shard::Padded;

/// A connection accepted by one worker, to be served by another.
pub struct Handoff {
    pub stream: std::net::TcpStream,
    pub peer: SocketAddr,
    pub permit: Permit,
    pub slot: Slot,
}

pub struct Balance {
    open: Box<[Padded<AtomicUsize>]>,
    inboxes: Box<[mpsc::UnboundedSender<Handoff>]>,
}

/// A connection's place in its worker's count, given up when it is dropped.
pub struct Slot {
    balance: Arc<Balance>,
    worker: usize,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.balance.open[self.worker].0.fetch_sub(1, Relaxed);
    }
}

impl Balance {
    /// One inbox per worker, to pass to [`Balance::place`]'s callers.
    pub fn new(workers: usize) -> (Arc<Self>, Vec<mpsc::UnboundedReceiver<Handoff>>) {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::unbounded_channel()).unzip();
        let open = (0..workers).map(|_| Padded(AtomicUsize::new(0))).collect();
        (Arc::new(Self { open, inboxes: senders.into() }), receivers)
    }

    /// Where a connection accepted by worker `me` is served: `me`, unless another
    /// worker serves fewer connections. The slot counts it there.
    pub fn place(self: &Arc<Self>, me: usize) -> (usize, Slot) {
        let count = |w: usize| self.open[w].0.load(Relaxed);
        let least = (0..self.open.len()).min_by_key(|&w| (count(w), w != me)).unwrap_or(me);
        let worker = if count(least) < count(me) { least } else { me };
        self.open[worker].0.fetch_add(1, Relaxed);
        (worker, Slot { balance: self.clone(), worker })
    }

    /// Hands a connection to `worker`; it is closed if that worker has stopped.
    pub fn hand_off(&self, worker: usize, handoff: Handoff) {
        let _ = self.inboxes[worker].send(handoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_go_to_the_least_busy_worker() {
        let (balance, _inboxes) = Balance::new(2);
        let (first, a) = balance.place(0);
        let (second, b) = balance.place(0);
        let (third, _c) = balance.place(1);
        assert_eq!((first, second, third), (0, 1, 1));
        drop((a, b));
        assert_eq!(balance.place(1).0, 0);
    }
}
