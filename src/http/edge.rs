//! What every request passes before any handler: a head that says one thing (RFC 9112
//! §3.2: exactly one valid `Host`; one `Authorization`), bounded sizes answered in the
//! error shape of DESIGN §5, a declared body over the route's limit refused before a
//! byte of it is read, and the per-request metrics of every route but the proxy's.
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestId, RequestId};

use super::error::ApiError;
use crate::telemetry::Metrics;
use crate::telemetry::access::UNMATCHED;

/// Longest request target answered; hyper itself refuses past 64 KiB, with an empty 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header fields answered; hyper's own limit (then an empty 431) is set above it.
pub const MAX_HEADERS: usize = 100;
/// Most bytes of header names and values answered.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The refusal a request head earns, if any. Runs for every request, the proxy's
/// included: it only reads the head, and allocates nothing unless it refuses.
pub fn refuse_head<B>(request: &axum::http::Request<B>) -> Option<ApiError> {
    let uri_bytes = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return Some(ApiError::UriTooLong);
    }
    let headers = request.headers();
    let header_bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return Some(ApiError::HeadersTooLarge);
    }
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if request.version() == Version::HTTP_11 => {
            return Some(ApiError::InvalidRequest("an HTTP/1.1 request needs a Host header".into()));
        }
        (Some(_), Some(_)) => return Some(ApiError::InvalidRequest("send one Host header, not several".into())),
        (Some(host), None) if !is_authority(host) => {
            return Some(ApiError::InvalidRequest("the Host header is not a host and port".into()));
        }
        _ => {}
    }
    if headers.get_all(header::AUTHORIZATION).iter().nth(1).is_some() {
        return Some(ApiError::InvalidRequest("send one Authorization header, not several".into()));
    }
    None
}

/// `uri-host [":" port]` (RFC 9112 §3.2, RFC 3986 §3.2.2): no path, query, user info
/// or white space. Empty is allowed for a target without an authority.
fn is_authority(host: &HeaderValue) -> bool {
    host.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:[]".contains(b))
}

/// The body limits of the routes: every route takes `default` bytes but those listed.
#[derive(Clone)]
pub struct BodyLimits {
    pub default: usize,
    pub larger: Arc<[(&'static str, u64)]>,
}

impl BodyLimits {
    fn of(&self, route: Option<&str>) -> u64 {
        route
            .and_then(|r| self.larger.iter().find(|(path, _)| *path == r))
            .map_or(self.default as u64, |(_, limit)| *limit)
    }
}

/// A `Content-Length` over the route's limit is 413 at once: the body is never read.
/// (A body without a length is cut at the limit as it arrives, by `DefaultBodyLimit`.)
pub async fn refuse_oversized(State(limits): State<BodyLimits>, request: Request, next: Next) -> Response {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let limit = limits.of(request.extensions().get::<MatchedPath>().map(MatchedPath::as_str));
    if declared.is_some_and(|length| length > limit) {
        return ApiError::PayloadTooLarge.into_response();
    }
    next.run(request).await
}

/// Requests by route template, method and status, and their latency.
pub async fn count_requests(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    metrics.observe_request(route, &method, response.status(), started.elapsed());
    response
}

/// A new request id where a request came without one, for its log line and its answer.
#[derive(Clone, Copy)]
pub struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&crate::crypto::random_token(9)).ok().map(RequestId::new)
    }
}
