//! Sending the request upstream over pooled keep-alive connections. The request body
//! is read whole (bounded) before anything goes upstream, so that a body cut off,
//! malformed or stalled is refused as the client's fault and the upstream never gets a
//! truncated request; a request without a body pays nothing for that. The answer must
//! start within the service's timeout (a dead upstream is a 502 and a slow one a 504),
//! and streams back; one that stalls for that long is cut off: never a hang. Both bounds
//! are one recycled timer (`server::timers`), armed for the body only when it has to wait.
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, Response};
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_http::timeout::{TimeoutBody, TimeoutError};

use super::error::ProxyError;
use crate::server::timers::Deadline;

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
        let mut deadline = Deadline::after(timeout);
        let mut sent = std::pin::pin!(super::pool::send(request));
        let answer = std::future::poll_fn(|cx| match sent.as_mut().poll(cx) {
            Poll::Ready(answer) => Poll::Ready(Some(answer)),
            Poll::Pending => deadline.poll_expired(cx).map(|()| None),
        });
        match answer.await {
            None => Err(ProxyError::UpstreamTimeout { service: service.to_string() }),
            Some(Ok(response)) => {
                Ok(response.map(|body| Body::new(Unstalled { body, deadline, timeout, waiting: false })))
            }
            Some(Err(cause)) => Err(ProxyError::UpstreamUnavailable { service: service.to_string(), cause }),
        }
    }
}

/// An answer's body that fails once it has waited `timeout` for a frame, like
/// `tower_http`'s `TimeoutBody`, but on the request's deadline and only when it waits: a
/// body whose frames are there when asked for (the usual small answer) touches no timer.
struct Unstalled<B> {
    body: B,
    deadline: Deadline,
    timeout: Duration,
    /// Whether the deadline is set for the frame being waited for.
    waiting: bool,
}

#[derive(Debug)]
struct Stalled;

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the upstream's answer stalled for the service's timeout")
    }
}

impl std::error::Error for Stalled {}

impl<B> http_body::Body for Unstalled<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.waiting = false;
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        if !this.waiting {
            this.waiting = true;
            this.deadline.reset(tokio::time::Instant::now() + this.timeout);
        }
        match this.deadline.poll_expired(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Stalled.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
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
