//! One client connection, served by hyper with the timeouts of `[server]`: a request
//! head must arrive within `request_header_timeout` (hyper's timer, on `timers`), a body may not
//! stall for `request_body_timeout`, and a connection that moves no byte for
//! `idle_timeout` is closed. On shutdown an idle connection closes at once and a busy
//! one after its current response.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, header};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use super::io::Counted;
use super::limits::Permit;
use crate::app::AppState;
use crate::http::edge::{MAX_HEADERS, refuse_head};
use crate::http::error::ApiError;

/// What a worker's connections share.
pub struct Requests {
    pub router: Router,
    pub state: Arc<AppState>,
    /// The runtime that owns the database pools and the audit writer.
    pub main: tokio::runtime::Handle,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
}

pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    permit: Permit,
    requests: Arc<Requests>,
    mut stopping: watch::Receiver<bool>,
) {
    let (io, mut idle) = Counted::new(stream);
    let idle_timeout = requests.idle_timeout;
    let mut builder = http1::Builder::new();
    // Above doorman's own limit, so that most oversized heads get the JSON 431.
    builder.timer(super::timers::HyperTimer).header_read_timeout(requests.header_timeout).max_headers(MAX_HEADERS * 2);
    let watch = idle.watch();
    let service = hyper::service::service_fn(move |request| {
        let requests = requests.clone();
        let answering = watch.answering();
        async move {
            let response = requests.answer(request, peer).await;
            drop(answering);
            Ok::<_, Infallible>(response)
        }
    });
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(error = %e, "connection closed");
                }
                break;
            }
            _ = stopping.wait_for(|stop| *stop), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            () = idle.expired(idle_timeout) => {
                tracing::debug!("closing a connection idle for server.idle_timeout");
                break;
            }
        }
    }
    drop(permit);
}

impl Requests {
    async fn answer(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        if let Some(refusal) = refuse_head(&request) {
            let mut response = refusal.into_response();
            // The rest of what such a client sends cannot be trusted to frame a next request.
            response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            return response;
        }
        let on_this_thread = stays_on_connection_thread(&request);
        if on_this_thread && crate::http::proxy::is_route(request.uri().path()) {
            // Straight to the proxy: no router, no layers, no boxed futures on the hot
            // path. The proxy bounds, counts and logs its requests itself; a panic is
            // the 500 the router's CatchPanicLayer would answer.
            let request = request.map(Body::new);
            return match catch_unwind(crate::http::proxy::answer(&self.state, peer, request)).await {
                Some(response) => response,
                None => ApiError::Internal("handler panicked".into()).into_response(),
            };
        }
        // The proxy bounds its bodies itself, with each service's timeout.
        let mut request = if request.uri().path().starts_with(PROXY_PREFIX) {
            request.map(Body::new)
        } else {
            request.map(|body| Body::new(TimeoutBody::new(self.body_timeout, body)))
        };
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = self.router.clone();
        if on_this_thread {
            return router.oneshot(request).await.unwrap_or_else(|never| match never {});
        }
        match self.main.spawn(router.oneshot(request)).await {
            Ok(response) => response.unwrap_or_else(|never| match never {}),
            Err(e) => ApiError::Internal(e.to_string()).into_response(),
        }
    }
}

const PROXY_PREFIX: &str = "/v1/proxy/";

/// A proxy request with a Bearer token needs no database: it is served where it
/// arrived. Conversation mode fetches tokens, and every other endpoint uses the store.
fn stays_on_connection_thread<B>(request: &Request<B>) -> bool {
    request.uri().path().starts_with(PROXY_PREFIX)
        && request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().get(..7))
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
}

/// `future`'s output, or `None` if polling it panicked.
async fn catch_unwind<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Some(output)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(None),
        }
    })
    .await
}
