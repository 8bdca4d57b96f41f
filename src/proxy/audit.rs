//! `proxy.allowed` and `proxy.denied` events, off the hot path: requests only bump a
//! counter; once a second each (session, service, route or reason) seen becomes one
//! event with its count, written through the audit log in one batch. A crash loses
//! at most the decisions of the last interval. Each thread counts into its own shard
//! (`telemetry::shard`), whose lock only the once-a-second flush ever contends.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::credentials::Caller;
use crate::clock::Clock;
use crate::store::audit::{AuditEvent, AuditLog};
use crate::telemetry::shard::Sharded;

#[derive(Hash, PartialEq, Eq)]
struct Key {
    kind: &'static str,
    service: Arc<str>,
    /// The route's label for `proxy.allowed`, the refusal's code for `proxy.denied`.
    what: Arc<str>,
    sid: Option<String>,
}

struct Tally {
    count: u64,
    client_id: Option<String>,
    subject: Option<String>,
}

pub struct ProxyAudit {
    tallies: Sharded<Mutex<HashMap<Key, Tally>>>,
    log: AuditLog,
    clock: Arc<dyn Clock>,
}

impl ProxyAudit {
    /// Counts decisions and writes them out every `flush_interval` (`[audit]`).
    pub fn start(log: AuditLog, clock: Arc<dyn Clock>, flush_interval: Duration) -> Arc<Self> {
        let audit = Arc::new(Self { tallies: Sharded::default(), log, clock });
        let weak = Arc::downgrade(&audit);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(flush_interval);
            loop {
                ticks.tick().await;
                match weak.upgrade() {
                    Some(audit) => audit.flush().await,
                    None => return,
                }
            }
        });
        audit
    }

    pub fn allowed(&self, service: &Arc<str>, route: &Arc<str>, caller: &Caller) {
        self.count("proxy.allowed", service, route.clone(), Some(caller));
    }

    pub fn denied(&self, service: &Arc<str>, reason: &'static str, caller: Option<&Caller>) {
        self.count("proxy.denied", service, Arc::from(reason), caller);
    }

    fn count(&self, kind: &'static str, service: &Arc<str>, what: Arc<str>, caller: Option<&Caller>) {
        let key = Key { kind, service: service.clone(), what, sid: caller.map(|c| c.claims.sid.clone()) };
        let mut tallies = self.tallies.local().lock().expect("lock");
        tallies
            .entry(key)
            .or_insert_with(|| Tally {
                count: 0,
                client_id: caller.map(|c| c.claims.client_id.clone()),
                subject: caller.map(|c| c.claims.sub.clone()),
            })
            .count += 1;
    }

    /// Hands every counted event to the audit log and returns once they are committed,
    /// all in one batch.
    pub async fn flush(&self) {
        let mut tallies: HashMap<Key, Tally> = HashMap::new();
        for shard in self.tallies.all() {
            for (key, tally) in std::mem::take(&mut *shard.lock().expect("lock")) {
                let count = tally.count;
                tallies.entry(key).and_modify(|t| t.count += count).or_insert(tally);
            }
        }
        let events = tallies
            .into_iter()
            .map(|(key, tally)| {
                let label = if key.kind == "proxy.allowed" { "route" } else { "reason" };
                AuditEvent {
                    kind: key.kind,
                    client_id: tally.client_id,
                    subject: tally.subject,
                    conversation: None,
                    detail: json!({"service": &*key.service, label: &*key.what, "sid": key.sid, "count": tally.count}),
                }
            })
            .collect();
        if let Err(e) = self.log.record_all(events, self.clock.now()).await {
            tracing::warn!(error = %e, "proxy audit events are lost");
        }
    }
}
