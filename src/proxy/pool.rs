//! Upstream keep-alive connections, one pool per thread. doorman serves each client
//! connection on one single-threaded runtime (`server`), so a pool that belongs to the
//! thread needs no lock and no atomic: checking a connection out is popping it off a
//! stack, giving it back is pushing it, when the answer's body has been read to its end.
//!
//! A connection is reused only when hyper says it is ready for the next request; a
//! request that a reused connection could not even start (the upstream had just closed
//! it) is sent again once, on a new connection, as hyper-util's pool does. A connection
//! idle for [`IDLE`] is closed when it would next be checked out, and one whose upstream
//! closed it is dropped the same way.
use std::cell::RefCell;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, Response, Uri, header};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use tower::Service as _;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
type Sender = SendRequest<Body>;

/// An idle connection is not reused after this long (hyper-util's `pool_idle_timeout`).
const IDLE: Duration = Duration::from_secs(60);
/// Idle connections kept per upstream; a connection given back past this is closed.
const MAX_IDLE: usize = 1024;

struct Idle {
    sender: Sender,
    since: Instant,
}

/// The idle connections of one upstream (`scheme://authority`), and the `Host` header
/// its requests carry, made once rather than per request.
struct Upstream {
    key: Arc<str>,
    host: Option<HeaderValue>,
    idle: Vec<Idle>,
}

#[derive(Default)]
struct Pool {
    /// A handful of upstreams at most: a linear search beats hashing the key.
    upstreams: Vec<Upstream>,
}

impl Pool {
    /// The idle connections of `key` (an answer may be read on another thread of the
    /// main runtime than the one that asked for it: its connection is kept there).
    fn idle(&mut self, key: &Arc<str>) -> &mut Vec<Idle> {
        let at = match self.upstreams.iter().position(|u| u.key == *key) {
            Some(at) => at,
            None => {
                self.upstreams.push(Upstream { key: key.clone(), host: None, idle: Vec::new() });
                self.upstreams.len() - 1
            }
        };
        &mut self.upstreams[at].idle
    }

    /// The key and `Host` header of the upstream at `scheme://authority` of `uri`.
    fn upstream(&mut self, uri: &Uri, scheme: &str, authority: &str) -> Result<(Arc<str>, HeaderValue), Error> {
        let is = |key: &str| key.strip_prefix(scheme).and_then(|rest| rest.strip_prefix("://")) == Some(authority);
        let at = match self.upstreams.iter().position(|u| is(&u.key)) {
            Some(at) => at,
            None => {
                let key = format!("{scheme}://{authority}").into();
                self.upstreams.push(Upstream { key, host: None, idle: Vec::new() });
                self.upstreams.len() - 1
            }
        };
        let upstream = &mut self.upstreams[at];
        let host = match &upstream.host {
            Some(host) => host.clone(),
            None => upstream.host.insert(host_header(uri)?).clone(),
        };
        Ok((upstream.key.clone(), host))
    }
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::default();
    static CONNECTOR: Connector = connector();
}

fn connector() -> Connector {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_platform_verifier()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}

/// Sends `request` (absolute URI) and returns the answer, whose body gives its
/// connection back to this thread's pool once read to the end.
pub async fn send(mut request: Request<Body>) -> Result<Response<Pooled>, Error> {
    let uri = std::mem::take(request.uri_mut());
    let (scheme, authority) = match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => (scheme, authority),
        _ => return Err("the upstream URL has no scheme or host".into()),
    };
    let (key, host) = POOL.with_borrow_mut(|pool| pool.upstream(&uri, scheme, authority.as_str()))?;
    if !request.headers().contains_key(header::HOST) {
        request.headers_mut().insert(header::HOST, host);
    }
    *request.uri_mut() = uri.path_and_query().map_or_else(|| Uri::from_static("/"), |p| Uri::from(p.clone()));
    if let Some(mut sender) = checkout(&key).await {
        match sender.try_send_request(request).await {
            Ok(response) => return Ok(pooled(response, sender, key)),
            // Not a byte of it reached the upstream: it goes again, on a new connection.
            Err(mut e) => match e.take_message() {
                Some(unsent) => request = unsent,
                None => return Err(e.into_error().into()),
            },
        }
    }
    let mut sender = connect(&uri).await?;
    let response = sender.send_request(request).await?;
    Ok(pooled(response, sender, key))
}

/// The most recently used connection that is ready for a request, if any.
async fn checkout(key: &Arc<str>) -> Option<Sender> {
    loop {
        let idle = POOL.with_borrow_mut(|pool| pool.idle(key).pop())?;
        if idle.sender.is_closed() || idle.since.elapsed() > IDLE {
            continue;
        }
        let mut sender = idle.sender;
        // Ready at once, but for a connection whose last answer ended a moment ago and
        // whose task has not yet seen it.
        if sender.ready().await.is_ok() {
            return Some(sender);
        }
    }
}

fn checkin(key: &Arc<str>, sender: Sender) {
    if sender.is_closed() {
        return;
    }
    POOL.with_borrow_mut(|pool| {
        let idle = pool.idle(key);
        if idle.len() < MAX_IDLE {
            idle.push(Idle { sender, since: Instant::now() });
        }
    });
}

async fn connect(uri: &Uri) -> Result<Sender, Error> {
    let mut connector = CONNECTOR.with(Connector::clone);
    std::future::poll_fn(|cx| connector.poll_ready(cx)).await?;
    let io = connector.call(uri.clone()).await?;
    let (sender, connection) = http1::handshake(io).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "upstream connection closed");
        }
    });
    Ok(sender)
}

/// `host[:port]`, the port only when it is not the scheme's default (as hyper-util sets it).
fn host_header(uri: &Uri) -> Result<HeaderValue, Error> {
    let host = uri.host().unwrap_or_default();
    let default_port = match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    let value = match uri.port_u16() {
        Some(port) if Some(port) != default_port => HeaderValue::from_str(&format!("{host}:{port}")),
        _ => HeaderValue::from_str(host),
    };
    Ok(value?)
}

fn pooled(response: Response<Incoming>, sender: Sender, key: Arc<str>) -> Response<Pooled> {
    response.map(|body| {
        let mut body = Pooled { body, back: Some((sender, key)) };
        body.give_back_at_end();
        body
    })
}

/// An answer's body; at its end, its connection goes back to the pool. Dropped before
/// its end, it closes the connection (hyper cannot reuse one with an unread answer).
pub struct Pooled {
    body: Incoming,
    back: Option<(Sender, Arc<str>)>,
}

impl Pooled {
    fn give_back_at_end(&mut self) {
        if http_body::Body::is_end_stream(&self.body) {
            self.give_back();
        }
    }

    fn give_back(&mut self) {
        if let Some((sender, key)) = self.back.take() {
            checkin(&key, sender);
        }
    }
}

impl http_body::Body for Pooled {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Ok(_))) => self.give_back_at_end(),
            Poll::Ready(Some(Err(_))) => self.back = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
