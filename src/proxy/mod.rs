//! The proxy: `ANY /v1/proxy/{service}/{*path}`. A request passes only if its token is
//! valid and its session alive, a route matches, the caller has every role the route
//! requires and every bound path parameter is the caller's own. The upstream receives
//! a token it can trust and none of the client's credentials or identity headers.
pub mod audit;
pub mod credentials;
pub mod error;
mod exchange;
mod forward;
pub mod headers;
mod inject;
pub mod path;
mod pool;
pub mod routes;
mod template;
mod upstream_path;

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response};

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Auth, ClientAuth};
use crate::store::audit::AuditLog;
use crate::telemetry::Metrics;
use audit::ProxyAudit;
use credentials::{Caller, Credentials, Presented};
use error::ProxyError;
use exchange::Exchange;
use forward::Upstreams;
use headers::{Origin, X_REQUEST_ID};
use path::CanonicalPath;
use routes::{Route, Service, Services};

pub struct Proxy {
    services: Services,
    credentials: Credentials,
    exchange: Exchange,
    upstreams: Upstreams,
    pub audit: Arc<ProxyAudit>,
    trusted_proxies: Vec<ipnet::IpNet>,
    public_host: HeaderValue,
}

/// One request for the proxy, taken apart by the HTTP layer.
pub struct ProxyRequest {
    pub service: String,
    /// The raw, still percent-encoded path after the service name.
    pub path: String,
    /// What the request presented, or why its credentials could not be read: refused
    /// and audited here like any other bad credential.
    pub presented: Result<Presented, ProxyError>,
    pub peer: IpAddr,
    pub request: Request<Body>,
}

impl Proxy {
    pub fn new(config: &Config, log: AuditLog, clock: Arc<dyn Clock>, metrics: &Metrics) -> Result<Self, String> {
        let services = Services::compile(&config.services, &config.tokens.audience)
            .map_err(|(key, message)| format!("{key}: {message}"))?;
        for service in services.iter() {
            metrics.adopt_upstream(&service.name, service.upstream_seconds.clone());
        }
        Ok(Self {
            services,
            credentials: Credentials::default(),
            exchange: Exchange::default(),
            upstreams: Upstreams,
            audit: ProxyAudit::start(log, clock, config.audit.flush_interval),
            trusted_proxies: config.server.trusted_proxies.clone(),
            public_host: public_host(config)?,
        })
    }

    pub async fn handle(
        &self,
        auth: &Auth,
        clients: &ClientAuth,
        request: ProxyRequest,
    ) -> Result<Response<Body>, ProxyError> {
        let service = self.services.get(&request.service).ok_or(ProxyError::UnknownService)?;
        let caller = match request.presented {
            Ok(presented) => self.credentials.caller(presented, auth, clients).await,
            Err(unreadable) => Err(unreadable),
        };
        let caller = match caller {
            Ok(caller) => caller,
            Err(e) => {
                self.audit.denied(&service.name, e.code(), None);
                return Err(e);
            }
        };
        match self.authorize(service, request.path, request.request, &caller, auth, request.peer).await {
            Ok((route, upstream_request, request_id)) => {
                self.audit.allowed(&service.name, &route.label, &caller);
                let sent = std::time::Instant::now();
                let response = self.upstreams.send(&service.name, upstream_request, service.timeout).await;
                service.upstream_seconds.observe(sent.elapsed());
                let mut response = response?;
                headers::clean_response_headers(response.headers_mut());
                response.headers_mut().insert(X_REQUEST_ID.clone(), request_id);
                Ok(response)
            }
            Err(e) => {
                self.audit.denied(&service.name, e.code(), Some(&caller));
                Err(e)
            }
        }
    }

    /// Deny by default: the route, the roles and the bindings; then the request the
    /// upstream receives, and its request id.
    async fn authorize<'a>(
        &self,
        service: &'a Service,
        raw_path: String,
        request: Request<Body>,
        caller: &Caller,
        auth: &Auth,
        peer: IpAddr,
    ) -> Result<(&'a Route, Request<Body>, HeaderValue), ProxyError> {
        let path = CanonicalPath::parse(&raw_path)?;
        let (route, captures) = service.route(request.method(), &path)?;
        if !route.roles.iter().all(|role| caller.claims.roles.contains(role)) {
            return Err(ProxyError::InsufficientRole);
        }
        for (param, claim) in &route.bind {
            let bound = captures.get(param).map(path::decoded);
            if caller.claims.claim(claim).is_none_or(|own| bound.as_deref() != Some(own)) {
                return Err(ProxyError::ForbiddenResource);
            }
        }
        let origin = Origin {
            peer,
            trusted: self.trusted_proxies.iter().any(|net| net.contains(&peer)),
            public_host: self.public_host.clone(),
        };
        let (parts, body) = request.into_parts();
        let (headers, request_id) = headers::upstream_headers(&parts.headers, &origin, route.inject.header_name())?;
        let token = self.exchange.token_for(caller, route.token, &service.audience, auth)?;
        let target = inject::Target {
            service,
            route,
            path: &path,
            captures: &captures,
            claims: &caller.claims,
            token: &token.text,
            bearer: token.bearer.as_ref(),
        };
        let uri = target.uri(parts.uri.query().unwrap_or(""))?;
        let request = target.request(parts.method, uri, headers, body).await?;
        Ok((route, request, request_id))
    }
}

/// The host (and port) of `server.public_url`, for `X-Forwarded-Host`.
fn public_host(config: &Config) -> Result<HeaderValue, String> {
    let url: axum::http::Uri = config.issuer().parse().map_err(|_| "server.public_url: not a URL".to_string())?;
    let authority = url.authority().ok_or("server.public_url: names no host")?;
    HeaderValue::from_str(authority.as_str()).map_err(|e| format!("server.public_url: {e}"))
}
