//! The proxy, driven through the real router in front of an upstream that echoes
//! exactly what reached it.
mod attacks;
mod bodies;
mod conversation_mode;
mod edge_cases;
mod forwarding;
mod refusals;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use doorman::clock::Clock;
use doorman::config::{Config, Inject, RouteConfig, ServiceConfig, TokenMode};
use serde_json::{Value, json};

use crate::helpers::*;

/// An upstream API that answers every request with what it received.
#[derive(Clone)]
pub struct Upstream {
    pub url: String,
    hits: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move |request: Request| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                echo(request).await
            }
        });
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = connections.clone();
        let listener = axum::serve::ListenerExt::tap_io(listener, move |_| {
            accepted.fetch_add(1, Ordering::SeqCst);
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Upstream { url, hits, connections }
    }

    /// How many connections doorman opened to it.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// How many requests reached it.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn echo(request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.uri.path().starts_with("/slow") {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    if parts.uri.path().starts_with("/stall") {
        // Headers and a first chunk, then nothing, ever.
        let first = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"{\"partial\":"))]);
        let body = axum::body::Body::from_stream(futures::StreamExt::chain(first, futures::stream::pending()));
        return Response::new(body);
    }
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &parts.headers {
        headers.entry(name.to_string()).or_default().push(value.to_str().unwrap_or("?").to_string());
    }
    let seen = json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    let mut response = axum::Json(seen).into_response();
    // Hop-by-hop headers, and one that Connection names: none may reach the client.
    let h = response.headers_mut();
    h.insert("connection", HeaderValue::from_static("x-internal-trace"));
    h.insert("x-internal-trace", HeaderValue::from_static("secret"));
    h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
    h.insert("x-upstream", HeaderValue::from_static("payroll"));
    response
}

pub fn route(methods: &[&str], path: &str) -> RouteConfig {
    RouteConfig {
        methods: methods.iter().map(|m| m.to_string()).collect(),
        path: path.into(),
        roles: vec!["view_own_payroll".into()],
        bind: BTreeMap::from([("employee_number".into(), "employee_number".into())]),
        inject: Inject::Authorization,
        token: TokenMode::Exchange,
        upstream_path: None,
    }
}

/// The `payroll` service of DESIGN.md §4, plus routes for each way of injecting.
pub fn payroll_service(upstream: &str) -> ServiceConfig {
    let with = |mut r: RouteConfig, f: &dyn Fn(&mut RouteConfig)| {
        f(&mut r);
        r
    };
    ServiceConfig {
        name: "payroll".into(),
        upstream: upstream.into(),
        audience: Some("payroll-api".into()),
        timeout: Duration::from_secs(2),
        max_body_bytes: 1024,
        routes: vec![
            route(&["GET"], "/employees/{employee_number}/payslips/{month}"),
            with(route(&["POST"], "/employees/{employee_number}/requests"), &|r| r.token = TokenMode::Forward),
            with(route(&["GET"], "/employees/{employee_number}/header"), &|r| {
                r.inject = Inject::Header("x-user-token".into())
            }),
            with(route(&["GET"], "/employees/{employee_number}/query"), &|r| r.inject = Inject::Query("auth".into())),
            with(route(&["POST", "PUT"], "/employees/{employee_number}/forms"), &|r| {
                r.inject = Inject::Json("/auth/token".into())
            }),
            with(route(&["GET"], "/legacy/{employee_number}"), &|r| {
                r.inject = Inject::None;
                r.upstream_path = Some("/old/payslip?emp={claim.employee_number}&auth={authtoken}".into());
            }),
            with(route(&["GET"], "/admin/{*rest}"), &|r| {
                r.roles = vec!["payroll_admin".into()];
                r.bind.clear();
            }),
            with(route(&["GET"], "/public/{*rest}"), &|r| {
                r.roles.clear();
                r.bind.clear();
            }),
            with(route(&["GET"], "/slow/{employee_number}"), &|_| {}),
            with(route(&["GET"], "/stall/{employee_number}"), &|_| {}),
        ],
    }
}

pub fn with_proxy(config: &mut Config, upstream: &str) {
    config.services = vec![payroll_service(upstream)];
}

/// An app with the payroll service in front of `upstream`, and Ana logged in on
/// WhatsApp; returns her access token.
pub async fn proxied(upstream: &Upstream) -> (TestApp, String) {
    proxied_with(upstream, |_| {}).await
}

pub async fn proxied_with(upstream: &Upstream, adjust: impl FnOnce(&mut Config)) -> (TestApp, String) {
    let url = upstream.url.clone();
    let app = spawn_app_with(|c| {
        with_proxy(c, &url);
        adjust(c);
    })
    .await;
    app.add_ana().await;
    let login = app.login("+34600000001").await;
    (app, login["access_token"].as_str().unwrap().to_string())
}

impl TestApp {
    pub fn proxy_url(&self, path: &str) -> String {
        format!("{}/v1/proxy/payroll{path}", self.url)
    }

    pub async fn proxy_get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http.get(self.proxy_url(path)).bearer_auth(token).send().await.unwrap()
    }

    /// `proxy.allowed` / `proxy.denied` events (flushed), as JSON details.
    pub async fn proxy_events(&self, kind: &str) -> Vec<Value> {
        self.state.flush_audit().await;
        let events = self.state.auth.store.query_audit(&Default::default(), 1000).await.unwrap();
        events
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| serde_json::from_str(&e.detail.to_string()).unwrap())
            .collect()
    }
}

/// What the upstream saw, from a 200 answer.
pub async fn seen(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "the request should have been forwarded");
    response.json().await.unwrap()
}

pub fn header<'a>(seen: &'a Value, name: &str) -> Option<&'a str> {
    seen["headers"][name][0].as_str()
}

/// A body sent in chunks, with no Content-Length.
pub fn chunked(parts: Vec<String>) -> reqwest::Body {
    let frames = parts.into_iter().map(|p| Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::from(p))));
    reqwest::Body::wrap(http_body_util::StreamBody::new(futures::stream::iter(frames)))
}

/// A token's claims, read without checking anything: for asserting on what the
/// upstream received.
pub fn claims_unverified(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Sends a request over a raw TCP connection exactly as written (an HTTP client library
/// would normalize the path first): `head` is the request line and headers, to which
/// `Host` and `Connection: close` are added, then `body`. Returns the status and the
/// whole answer.
pub async fn raw(app: &TestApp, head: &str, body: &[u8]) -> (u16, String) {
    raw_then(app, head, body, false).await
}

/// [`raw`], then the client half-closes: it will send nothing more.
pub async fn raw_then_close(app: &TestApp, head: &str, body: &[u8]) -> (u16, String) {
    raw_then(app, head, body, true).await
}

async fn raw_then(app: &TestApp, head: &str, body: &[u8], half_close: bool) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.url.trim_start_matches("http://")).await.unwrap();
    stream.write_all(format!("{head}\r\nHost: doorman.test\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut answer = Vec::new();
    // Bounded, so a server that wrongly waits for more body cannot hang the suite.
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"));
    (status, text)
}
