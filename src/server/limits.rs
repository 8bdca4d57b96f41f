//! Caps on open connections, over all peers and per peer. A connection over a cap is
//! closed as soon as it is accepted: under a flood, answering costs more than refusing,
//! and a client sees the close at once rather than a timeout.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::telemetry::metrics::ConnectionMetrics;

pub struct ConnectionLimits {
    max_total: usize,
    max_per_peer: usize,
    total: AtomicUsize,
    /// Taken once per connection, never per request.
    per_peer: Mutex<HashMap<IpAddr, usize>>,
    open: Gauge,
    refused_total: Counter,
    refused_peer: Counter,
}

/// Holds a connection's place under both caps until it is dropped.
pub struct Permit {
    limits: Arc<ConnectionLimits>,
    peer: IpAddr,
}

impl ConnectionLimits {
    pub fn new(max_total: usize, max_per_peer: usize, metrics: &ConnectionMetrics) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_peer,
            total: AtomicUsize::new(0),
            per_peer: Mutex::default(),
            open: metrics.open.clone(),
            refused_total: metrics.refused_total.clone(),
            refused_peer: metrics.refused_peer.clone(),
        })
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= self.max_total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            self.refused_total.inc();
            return None;
        }
        let peer = peer_of(ip);
        let mut per_peer = self.per_peer.lock().unwrap_or_else(|e| e.into_inner());
        let open = per_peer.entry(peer).or_insert(0);
        if *open >= self.max_per_peer {
            drop(per_peer);
            self.total.fetch_sub(1, Ordering::AcqRel);
            self.refused_peer.inc();
            return None;
        }
        *open += 1;
        self.open.inc();
        Some(Permit { limits: self.clone(), peer })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut per_peer = self.limits.per_peer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = per_peer.get_mut(&self.peer) {
            *open -= 1;
            if *open == 0 {
                per_peer.remove(&self.peer);
            }
        }
        drop(per_peer);
        self.limits.total.fetch_sub(1, Ordering::AcqRel);
        self.limits.open.dec();
    }
}

/// One peer: an IPv4 address, or an IPv6 /64 (what one subscriber usually holds, so
/// a peer cannot get around the cap by rotating addresses inside it).
fn peer_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_peer: usize) -> Arc<ConnectionLimits> {
        ConnectionLimits::new(total, per_peer, &ConnectionMetrics::default())
    }

    #[test]
    fn a_peer_gets_its_share_and_its_places_come_back() {
        let limits = limits(10, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let (first, _second) = (limits.admit(a).unwrap(), limits.admit(a).unwrap());
        assert!(limits.admit(a).is_none());
        assert!(limits.admit("192.0.2.2".parse().unwrap()).is_some());
        drop(first);
        assert!(limits.admit(a).is_some());
    }

    #[test]
    fn the_total_cap_holds_over_peers() {
        let limits = limits(2, 2);
        let _held = [limits.admit("192.0.2.1".parse().unwrap()), limits.admit("192.0.2.2".parse().unwrap())];
        assert!(limits.admit("192.0.2.3".parse().unwrap()).is_none());
    }

    #[test]
    fn an_ipv6_64_is_one_peer() {
        let limits = limits(10, 1);
        let _held = limits.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert!(limits.admit("2001:db8::ffff:1".parse().unwrap()).is_none());
        assert!(limits.admit("2001:db8:0:1::1".parse().unwrap()).is_some());
    }
}
