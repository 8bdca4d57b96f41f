//! What `GET /metrics` shows (DESIGN.md §11), in Prometheus text format. Labels are
//! route templates, configured names and fixed codes: never an identifier, a phone, a
//! code, a token or a subject. Domain counters are derived in one place, from the audit
//! events as they are committed ([`Metrics::committed`]).
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use super::histogram::LatencyHistogram;
use super::pool::PoolGauges;
use super::shard::Sharded;
use crate::config::Config;
use crate::store::Store;
use crate::store::audit::{AuditEvent, AuditObserver};

type Labels = Vec<(&'static str, String)>;

/// A label value that is not one of the configured names becomes this.
const OTHER: &str = "other";

pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    request_seconds: Family<Labels, LatencyHistogram>,
    pub proxy: ProxyMetrics,
    pub connections: ConnectionMetrics,
    upstream_seconds: Series<LatencyHistogram>,
    logins: Family<Labels, Counter>,
    codes: Family<Labels, Counter>,
    verify_failures: Family<Labels, Counter>,
    lockouts: Family<Labels, Counter>,
    proxy_decisions: Family<Labels, Counter>,
    audit_events: Family<Labels, Counter>,
    pool: PoolGauges,
    flows: HashSet<String>,
    services: HashSet<String>,
}

/// Open connections, and those refused for `server.max_connections` (`server`) or
/// `server.max_connections_per_ip` (`peer`).
#[derive(Clone, Default)]
pub struct ConnectionMetrics {
    pub open: Gauge,
    pub refused_total: Counter,
    pub refused_peer: Counter,
}

/// The proxy's requests, counted with atomics alone: the hot path takes no lock,
/// formats no label and allocates nothing for them.
#[derive(Clone, Default)]
pub struct ProxyMetrics {
    statuses: StatusCounters,
    seconds: LatencyHistogram,
}

impl ProxyMetrics {
    pub fn observe(&self, status: StatusCode, elapsed: Duration) {
        self.statuses.0.local()[usize::from(status.as_u16() - 100) % STATUSES].fetch_add(1, Relaxed);
        self.seconds.observe(elapsed);
    }
}

const STATUSES: usize = 500;

/// Series whose handles live elsewhere (each service's upstream histogram), adopted
/// at start-up and read at scrape time.
#[derive(Debug)]
struct Series<M>(Arc<RwLock<Vec<(Labels, M)>>>);

impl<M> Default for Series<M> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<M> Clone for Series<M> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<M: TypedMetric> TypedMetric for Series<M> {
    const TYPE: MetricType = M::TYPE;
}

impl<M: EncodeMetric + TypedMetric> EncodeMetric for Series<M> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, metric) in self.0.read().unwrap_or_else(|e| e.into_inner()).iter() {
            metric.encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        M::TYPE
    }
}

/// One counter per status code 100..=599, shown only once it counted something; one
/// set per thread shard (`shard`), summed when read.
#[derive(Debug, Clone, Default)]
struct StatusCounters(Arc<Sharded<Statuses>>);

#[derive(Debug)]
struct Statuses([AtomicU64; STATUSES]);

impl Default for Statuses {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl std::ops::Index<usize> for Statuses {
    type Output = AtomicU64;
    fn index(&self, i: usize) -> &AtomicU64 {
        &self.0[i]
    }
}

impl TypedMetric for StatusCounters {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for StatusCounters {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for offset in 0..STATUSES {
            let count = self.0.all().map(|shard| shard[offset].load(Relaxed)).sum::<u64>();
            if count > 0 {
                let labels = [("status", (offset + 100).to_string())];
                encoder
                    .encode_family(&labels)?
                    .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&count, None)?;
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

impl Metrics {
    pub fn new(config: &Config) -> Arc<Self> {
        let mut registry = Registry::with_prefix("doorman");
        let metrics = Self {
            requests: Family::default(),
            request_seconds: Family::default(),
            proxy: ProxyMetrics::default(),
            connections: ConnectionMetrics::default(),
            upstream_seconds: Series::default(),
            logins: Family::default(),
            codes: Family::default(),
            verify_failures: Family::default(),
            lockouts: Family::default(),
            proxy_decisions: Family::default(),
            audit_events: Family::default(),
            pool: PoolGauges::default(),
            flows: config.flows.iter().map(|f| f.name.clone()).collect(),
            services: config.services.iter().map(|s| s.name.clone()).collect(),
            registry: Registry::default(),
        };
        let m = &metrics;
        registry.register(
            "http_requests",
            "Requests by route template, method and status (the proxy's apart)",
            m.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Request latency by route template",
            m.request_seconds.clone(),
        );
        registry.register("proxy_requests", "Proxy requests by status", m.proxy.statuses.clone());
        registry.register(
            "proxy_request_duration_seconds",
            "Proxy request latency, upstream included",
            m.proxy.seconds.clone(),
        );
        registry.register(
            "proxy_upstream_duration_seconds",
            "Time until the upstream's response head, by service",
            m.upstream_seconds.clone(),
        );
        registry.register(
            "proxy_decisions",
            "Proxy decisions by service and outcome (allowed or the refusal's code)",
            m.proxy_decisions.clone(),
        );
        registry.register("logins", "Login steps by flow and outcome", m.logins.clone());
        registry.register(
            "codes",
            "One-time codes by delivery method and outcome (sent, failed, limited)",
            m.codes.clone(),
        );
        registry.register("verify_failures", "Refused codes by reason", m.verify_failures.clone());
        registry.register("lockouts", "Lockouts by what was locked (identifier or record)", m.lockouts.clone());
        registry.register("audit_events", "Committed audit events by kind", m.audit_events.clone());
        m.pool.register(&mut registry);
        registry.register("open_connections", "Open client connections", m.connections.open.clone());
        let refused = Series::default();
        refused.0.write().unwrap_or_else(|e| e.into_inner()).extend([
            (vec![("cap", "server".to_string())], m.connections.refused_total.clone()),
            (vec![("cap", "peer".to_string())], m.connections.refused_peer.clone()),
        ]);
        registry.register(
            "connections_refused",
            "Connections closed at once for a cap (server.max_connections*)",
            refused,
        );
        Arc::new(Self { registry, ..metrics })
    }

    /// The database whose pool `GET /metrics` reports.
    pub fn watch_pool(&self, store: &Store) {
        self.pool.watch(store);
    }

    /// Shows the histogram a service's upstream round trips are recorded in (at start-up).
    pub fn adopt_upstream(&self, service: &str, histogram: LatencyHistogram) {
        let labels = vec![("service", self.service(service))];
        self.upstream_seconds.0.write().unwrap_or_else(|e| e.into_inner()).push((labels, histogram));
    }

    /// Counts one request of a route other than the proxy's.
    pub fn observe_request(&self, route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
        let method = match *method {
            Method::GET
            | Method::POST
            | Method::PUT
            | Method::DELETE
            | Method::PATCH
            | Method::HEAD
            | Method::OPTIONS => method.as_str(),
            _ => OTHER,
        };
        let labels =
            vec![("route", route.to_string()), ("method", method.to_string()), ("status", status.as_u16().to_string())];
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&vec![("route", route.to_string())]).observe(elapsed);
    }

    /// The text `GET /metrics` answers.
    pub fn render(&self) -> String {
        self.pool.refresh();
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    fn flow(&self, event: &AuditEvent) -> String {
        let flow = event.detail["flow"].as_str().unwrap_or_default();
        if self.flows.contains(flow) { flow.to_string() } else { OTHER.to_string() }
    }

    fn service(&self, name: &str) -> String {
        if self.services.contains(name) { name.to_string() } else { OTHER.to_string() }
    }
}

/// Delivery methods as the audit detail spells them; anything else is `other`.
fn method_of(event: &AuditEvent) -> String {
    let method = event.detail["method"].as_str().unwrap_or_default();
    match method {
        "sms" | "whatsapp" | "email" | "voice" => method.to_string(),
        _ => OTHER.to_string(),
    }
}

impl AuditObserver for Metrics {
    fn committed(&self, event: &AuditEvent) {
        self.audit_events.get_or_create(&vec![("kind", event.kind.to_string())]).inc();
        let login = |outcome: &str| vec![("flow", self.flow(event)), ("outcome", outcome.to_string())];
        let code = |outcome: &str| vec![("method", method_of(event)), ("outcome", outcome.to_string())];
        let reason = |reason: &str| vec![("reason", reason.to_string())];
        let scope = |scope: &str| vec![("scope", scope.to_string())];
        let (family, labels, by) = match event.kind {
            "authenticated" => (&self.logins, login("authenticated"), 1),
            "identify.matched" => (&self.logins, login("identified"), 1),
            "identify.unknown" => (&self.logins, login("unknown_identifier"), 1),
            "identify.locked" => (&self.logins, login("locked"), 1),
            "identify.record_locked" => (&self.logins, login("record_locked"), 1),
            "code.no_delivery_method" => (&self.logins, login("no_delivery_method"), 1),
            "code.sent" => (&self.codes, code("sent"), 1),
            "code.send_failed" => (&self.codes, code("failed"), 1),
            "code.limited" => (&self.codes, code("limited"), 1),
            "code.failed" => (&self.verify_failures, reason("wrong_code"), 1),
            "code.expired" => (&self.verify_failures, reason("expired"), 1),
            "code.locked" => (&self.verify_failures, reason("too_many_attempts"), 1),
            "lockout.identify" => (&self.lockouts, scope("identifier"), 1),
            "lockout.record" => (&self.lockouts, scope("record"), 1),
            "proxy.allowed" | "proxy.denied" => {
                let service = self.service(event.detail["service"].as_str().unwrap_or_default());
                let outcome = match event.kind {
                    "proxy.allowed" => "allowed".to_string(),
                    // A refusal's code: a fixed word from `ProxyError::code`.
                    _ => event.detail["reason"].as_str().filter(|r| is_code(r)).unwrap_or(OTHER).to_string(),
                };
                let count = event.detail["count"].as_u64().unwrap_or(1);
                (&self.proxy_decisions, vec![("service", service), ("outcome", outcome)], count)
            }
            _ => return,
        };
        family.get_or_create(&labels).inc_by(by);
    }
}

/// `snake_case` words only: what an error code looks like, and nothing a person typed.
fn is_code(text: &str) -> bool {
    !text.is_empty() && text.len() <= 40 && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}
