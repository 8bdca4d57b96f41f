//! The access log: one `info` line per request with its method, route template (never
//! the path, whose segments may be a person's), status, latency and request id.
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use tracing::Span;

/// The proxy's one route: its requests are logged by the proxy handler, off the
/// layers that every other route goes through.
pub const PROXY_ROUTE: &str = "/v1/proxy/{service}/{*path}";

/// A route that matched nothing (404, 405).
pub const UNMATCHED: &str = "unmatched";

const MAX_REQUEST_ID_CHARS: usize = 128;

pub fn span(method: &Method, route: &str, request_id: &str) -> Span {
    tracing::info_span!("request", %method, route, request_id)
}

pub fn served(status: StatusCode, latency: Duration) {
    tracing::info!(target: "doorman::access", status = status.as_u16(), latency_ms = latency.as_secs_f64() * 1e3, "served");
}

/// The `X-Request-Id` a request carries (set by the request-id layer when it came
/// without one), if it is short text.
pub fn request_id(headers: &HeaderMap) -> &str {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).filter(|v| v.len() <= MAX_REQUEST_ID_CHARS).unwrap_or("-")
}
