//! `ANY /v1/proxy/{service}/{*path}`: takes the request apart (service, raw path,
//! credentials, peer address) and hands it to [`crate::proxy::Proxy`].
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use percent_encoding::percent_decode_str;

use super::error::ApiError;
use super::extract::basic_credentials;
use crate::app::AppState;
use crate::proxy::ProxyRequest;
use crate::proxy::credentials::Presented;
use crate::proxy::error::ProxyError;
use crate::proxy::headers::CONVERSATION_HEADER;
use crate::telemetry::access;

const PREFIX: &str = "/v1/proxy/";

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/proxy/{service}/{*path}", any(proxy))
}

#[utoipa::path(method(get, post, put, delete, patch), path = "/v1/proxy/{service}/{path}", tag = "proxy",
    params(("service" = String, Path, description = "a [[services]] name"), ("path" = String, Path, description = "the path on that service; any method a route allows")),
    security(("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "the upstream's answer, whatever its status"),
        (status = 400, description = "invalid_request: an ambiguous path (`..`, `%2e`, `%2f`, `%5c`, `;`, `//`, NUL) or a header only doorman may set"),
        (status = 401, description = "invalid_token, invalid_client or not_authenticated"),
        (status = 403, description = "insufficient_role or forbidden_resource"),
        (status = 404, description = "unknown_service or no_route"),
        (status = 413, description = "the body is larger than the service's max_body_bytes"),
        (status = 502, description = "bad_gateway: the upstream could not be reached"),
        (status = 504, description = "upstream_timeout")))]
async fn proxy(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    Ok(answer(&app, peer, request).await)
}

/// Whether the router's proxy route matches `path`: `/v1/proxy/{service}/{*path}`, a
/// service segment and a rest that are not empty. A Bearer request on such a path is
/// answered by [`answer`] straight from the connection (`server`), never entering the
/// router or its layers; any other path under the prefix goes through the router.
pub fn is_route(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(service, rest)| !service.is_empty() && !rest.is_empty())
}

/// One proxy request, answered, counted and logged: what the router's route does, and
/// what the connection calls directly for a Bearer request.
pub async fn answer(app: &AppState, peer: SocketAddr, request: Request) -> Response<Body> {
    let started = std::time::Instant::now();
    let rest = request.uri().path().strip_prefix(PREFIX).unwrap_or_default();
    let (service, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, ""),
    };
    let service = percent_decode_str(service).decode_utf8_lossy().into_owned();
    let path = path.to_string();
    let presented = presented(request.headers());
    let method = request.method().clone();
    let request = ProxyRequest { service, path, presented, peer: peer.ip(), request };
    let response = match app.proxy.handle(&app.auth, &app.clients, request).await {
        Ok(response) => response,
        Err(refusal) => {
            let mut response = ApiError::from(refusal).into_response();
            // The route template, not the path: its values may be a person's.
            super::faults::log_fault_of(&method, access::PROXY_ROUTE, None, &mut response);
            response
        }
    };
    // Atomics only: no lock, no label formatting, no allocation (README, Metrics).
    let elapsed = started.elapsed();
    app.metrics.proxy.observe(response.status(), elapsed);
    if tracing::enabled!(target: "doorman::access", tracing::Level::INFO) {
        access::span(&method, access::PROXY_ROUTE, access::request_id(response.headers()))
            .in_scope(|| access::served(response.status(), elapsed));
    }
    response
}

/// A Bearer token, or Basic client credentials with `X-Doorman-Conversation: channel/id`.
fn presented(headers: &HeaderMap) -> Result<Presented, ProxyError> {
    let Some(authorization) = headers.get(header::AUTHORIZATION) else {
        return Ok(Presented::Nothing);
    };
    let text = authorization.to_str().unwrap_or("");
    if let Some((scheme, token)) = text.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return Ok(Presented::Bearer(token.trim().into()));
    }
    let (client_id, secret) =
        basic_credentials(headers).map_err(|_| ProxyError::InvalidClient)?.ok_or(ProxyError::MissingCredentials)?;
    let conversation = headers.get(CONVERSATION_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(|| {
        ProxyError::InvalidHeader(format!("Basic credentials need an {CONVERSATION_HEADER}: channel/id header"))
    })?;
    let (channel, id) = conversation.split_once('/').ok_or_else(|| {
        ProxyError::InvalidHeader(format!("{CONVERSATION_HEADER} is `channel/id`, the id percent-encoded"))
    })?;
    let id = percent_decode_str(id)
        .decode_utf8()
        .map_err(|_| ProxyError::InvalidHeader("the conversation id is not UTF-8".into()))?;
    Ok(Presented::Conversation { client_id, secret, channel: channel.to_string(), id: id.into_owned() })
}
