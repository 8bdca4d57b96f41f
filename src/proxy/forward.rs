//! Sending the request upstream over pooled keep-alive connections. The request body
//! is read whole (bounded) before anything goes upstream, so that a body cut off,
//! malformed or stalled is refused as the client's fault and the upstream never gets a
//! truncated request; a request without a body pays nothing for that. The answer must
//! start within the service's timeout (a dead upstream is a 502 and a slow one a 504),
//! and streams back; one that stalls for that long is cut off: never a hang.
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_http::timeout::{TimeoutBody, TimeoutError};

use super::error::ProxyError;

/// The upstream client: each thread keeps its own connection pool (`pool`). doorman
/// serves on one single-threaded runtime per core, and a connection used by the thread
/// that opened it never hands a request or an answer to another thread.
#[derive(Default)]
pub struct Upstreams;

impl Upstreams {
    /// Sends `request` to `service`'s upstream (the name is for the error messages).
    pub async fn send(
        &self,
        service: &str,
        request: Request<Body>,
        timeout: Duration,
    ) -> Result<Response<Body>, ProxyError> {
        match tokio::time::timeout(timeout, super::pool::send(request)).await {
            Err(_) => Err(ProxyError::UpstreamTimeout { service: service.to_string() }),
            Ok(Ok(response)) => Ok(response.map(|body| Body::new(TimeoutBody::new(timeout, body)))),
            Ok(Err(cause)) => Err(ProxyError::UpstreamUnavailable { service: service.to_string(), cause }),
        }
    }
}

/// The client's whole body, at most `max` bytes, each part arriving within `idle`.
pub async fn read_body(body: Body, max: usize, idle: Duration) -> Result<Bytes, ProxyError> {
    // Most proxied calls are GETs without a body: they need no timer, no limit and no buffer.
    if http_body::Body::is_end_stream(&body) {
        return Ok(Bytes::new());
    }
    match TimeoutBody::new(idle, Limited::new(body, max)).collect().await {
        // One frame (the usual small body) becomes the Bytes without a copy.
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if is::<LengthLimitError>(&*e) => Err(ProxyError::BodyTooLarge),
        Err(e) if is::<TimeoutError>(&*e) => Err(ProxyError::InvalidBody("the request body stalled".into())),
        Err(_) => Err(ProxyError::InvalidBody("the request body is cut off or malformed".into())),
    }
}

fn is<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<E>() {
            return true;
        }
        source = e.source();
    }
    false
}
