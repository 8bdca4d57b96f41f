//! Sending the request upstream over pooled keep-alive connections. Bodies stream
//! both ways; the request body is bounded; the answer must start within the service's
//! timeout (a dead upstream is a 502 and a slow one a 504), and a body that stalls for
//! that long in either direction is cut off: never a hang.
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::{LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower_http::timeout::TimeoutBody;

use super::error::ProxyError;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The upstream client. Each thread keeps its own connection pool: doorman serves on
/// one single-threaded runtime per core, and a connection used by the thread that
/// opened it never hands a request or an answer to another thread.
#[derive(Default)]
pub struct Upstreams;

thread_local! {
    static CLIENT: Client<Connector, Body> = client();
}

fn client() -> Client<Connector, Body> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_platform_verifier()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(1024)
        .build(connector)
}

impl Upstreams {
    /// Sends `request` to `service`'s upstream (the name is for the error messages).
    pub async fn send(
        &self,
        service: &str,
        request: Request<Body>,
        timeout: Duration,
    ) -> Result<Response<Body>, ProxyError> {
        let client = CLIENT.with(Client::clone);
        match tokio::time::timeout(timeout, client.request(request)).await {
            Err(_) => Err(ProxyError::UpstreamTimeout { service: service.to_string() }),
            Ok(Ok(response)) => Ok(response.map(|body| Body::new(TimeoutBody::new(timeout, body)))),
            Ok(Err(e)) if is_body_limit(&e) => Err(ProxyError::BodyTooLarge),
            Ok(Err(cause)) => Err(ProxyError::UpstreamUnavailable { service: service.to_string(), cause }),
        }
    }
}

/// The client's body, cut off with an error once it passes `max` bytes or stalls for
/// `idle`.
pub fn bounded(body: Body, max: usize, idle: Duration) -> Body {
    // Most proxied calls are GETs without a body: they need no timer and no limit.
    if http_body::Body::is_end_stream(&body) {
        return body;
    }
    Body::new(TimeoutBody::new(idle, Limited::new(body, max)))
}

fn is_body_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}
