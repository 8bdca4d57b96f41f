//! `/playground` (DESIGN.md §9): a chat page that drives the login dialog, and the three
//! endpoints it calls. The page holds no secret: the server talks to the dialog as the
//! playground's client. For development only, so every route answers only a browser on
//! this machine (a loopback peer, a loopback `Host`, no proxy in between), and only
//! console deliveries are ever shown. Merged into the router only with
//! `[playground] enabled = true`.
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::extract::{Json, Query, checked_address};
use super::messages::MessageBody;
use crate::app::AppState;
use crate::config::{Config, Provider};
use crate::delivery::Delivered;
use crate::dialog::Answer;
use crate::domain::Client;

const PAGE: &str = include_str!("../../assets/playground.html");

/// The page runs under a policy that allows its one inline script and style by hash
/// and nothing from elsewhere; hashed once, not per request.
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_str(&csp_for(PAGE)).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
});

pub fn router() -> Router<Arc<AppState>> {
    LazyLock::force(&CSP);
    // The answers carry tokens and codes: no cache may keep them.
    let no_store = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Router::new()
        .route("/playground", get(page))
        .route("/playground/api/info", get(info))
        .route("/playground/api/messages", post(message))
        .route("/playground/api/deliveries", get(deliveries))
        .route_layer(axum::middleware::from_fn(local_only))
        .layer(no_store)
}

#[utoipa::path(get, path = "/playground", tag = "playground",
    responses(
        (status = 200, description = "the playground page (only with [playground] enabled)", content_type = "text/html"),
        (status = 403, description = "access_denied: not a browser on this machine")))]
async fn page() -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        (header::CONTENT_SECURITY_POLICY, CSP.clone()),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ];
    (headers, PAGE).into_response()
}

/// Who the page talks as, and what it may try.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Info {
    /// The playground's client (never its secret).
    pub client: String,
    /// The client's first flow: the one the dialog uses.
    pub flow: Option<String>,
    /// Chat, and the keypad of a call.
    pub channels: Vec<&'static str>,
    pub code_length: u32,
    /// A proxy route bound to one claim, `{param}` left in: what a signed-in person can ask for.
    pub proxy_example: Option<String>,
}

#[utoipa::path(get, path = "/playground/api/info", tag = "playground",
    responses((status = 200, description = "who the page talks as", body = Info), (status = 403, description = "access_denied: not a browser on this machine")))]
async fn info(State(app): State<Arc<AppState>>) -> Result<axum::Json<Info>, ApiError> {
    let config = &app.auth.config;
    let client = playground_client(config)?;
    Ok(axum::Json(Info {
        client: client.id,
        flow: client.flows.into_iter().next(),
        channels: vec!["whatsapp", "voice"],
        code_length: config.otp.length,
        proxy_example: proxy_example(config),
    }))
}

/// A message of the dialog API, with the conversation it belongs to in the body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaygroundMessage {
    /// `whatsapp` for the chat, `voice` for the keypad.
    pub channel: String,
    /// The conversation id on that channel.
    pub conversation: String,
    pub text: Option<String>,
    pub digits: Option<String>,
    pub flow: Option<String>,
    pub locale: Option<String>,
    pub intent: Option<String>,
}

#[utoipa::path(post, path = "/playground/api/messages", tag = "playground", operation_id = "playground_message",
    request_body(content = PlaygroundMessage, description = "what POST /v1/conversations/{channel}/{id}/messages takes, plus channel and conversation"),
    responses(
        (status = 200, description = "the dialog's answer, as POST /v1/conversations/{channel}/{id}/messages gives it", body = Answer),
        (status = 400, description = "invalid_request"),
        (status = 403, description = "access_denied: not a browser on this machine")))]
async fn message(
    State(app): State<Arc<AppState>>,
    Json(body): Json<PlaygroundMessage>,
) -> Result<axum::Json<Answer>, ApiError> {
    let client = playground_client(&app.auth.config)?;
    let address = checked_address(&client.id, body.channel, body.conversation)?;
    let message = MessageBody {
        text: body.text,
        digits: body.digits,
        flow: body.flow,
        locale: body.locale,
        intent: body.intent,
        silence: false,
    };
    Ok(axum::Json(app.dialogs.respond(&app.auth, &client, &address, message.try_into()?).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// The conversation id.
    conversation: String,
    /// Only this channel's deliveries.
    channel: Option<String>,
}

#[utoipa::path(get, path = "/playground/api/deliveries", tag = "playground", params(DeliveriesQuery),
    responses(
        (status = 200, description = "the console deliveries of the conversation, oldest first", body = Vec<Delivered>),
        (status = 403, description = "access_denied: not a browser on this machine")))]
async fn deliveries(State(app): State<Arc<AppState>>, Query(q): Query<DeliveriesQuery>) -> axum::Json<Vec<Delivered>> {
    let delivery = &app.auth.config.delivery;
    let kept = app.auth.deliveries.outbox().map(|o| o.of(q.channel.as_deref(), &q.conversation)).unwrap_or_default();
    // Only console deliveries reach the outbox; checked again so that no provider's code can show.
    axum::Json(kept.into_iter().filter(|d| d.method.provider(delivery) == Provider::Console).collect())
}

/// `[playground] client`, else the first configured client (the configuration check
/// makes sure there is one).
fn playground_client(config: &Config) -> Result<Client, ApiError> {
    let declared = match &config.playground.client {
        Some(id) => config.clients.iter().find(|c| &c.id == id),
        None => config.clients.first(),
    };
    declared
        .map(|c| Client { id: c.id.clone(), flows: c.flows.clone(), scopes: c.scopes.clone() })
        .ok_or_else(|| ApiError::Internal("the playground has no client".into()))
}

/// The first GET route whose one path parameter is bound to a claim.
fn proxy_example(config: &Config) -> Option<String> {
    config.services.iter().find_map(|service| {
        service
            .routes
            .iter()
            .find(|r| {
                let params: Vec<&str> = r.path.split('/').filter(|s| s.starts_with('{')).collect();
                r.methods.iter().any(|m| m.eq_ignore_ascii_case("GET"))
                    && params.len() == 1
                    && r.bind.contains_key(params[0].trim_matches(|c| c == '{' || c == '}'))
            })
            .map(|r| format!("/v1/proxy/{}/{}", service.name, r.path.trim_start_matches('/')))
    })
}

/// `default-src 'none'` with the page's inline `<script>` and `<style>` pinned by their
/// SHA-256, as tests/playground/mock_server.py computes it.
fn csp_for(page: &str) -> String {
    let digest = |tag: &str| {
        let body = page
            .split_once(&format!("<{tag}>"))
            .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
            .map_or("", |(body, _)| body);
        format!("'sha256-{}'", STANDARD.encode(Sha256::digest(body.as_bytes())))
    };
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; connect-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'",
        digest("script"),
        digest("style")
    )
}

async fn local_only(request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
    let host = host.or_else(|| request.uri().authority().map(|a| a.to_string()));
    match local_visitor(peer, host.as_deref(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(reason) => ApiError::Forbidden(reason).into_response(),
    }
}

/// A browser on this machine: a loopback peer, not relayed by a proxy (which would
/// make every visitor look local), asking for a loopback host name (a DNS-rebinding page
/// names its own), and, when it says where it comes from, coming from a loopback page.
pub(crate) fn local_visitor(peer: Option<IpAddr>, host: Option<&str>, headers: &HeaderMap) -> Result<(), &'static str> {
    if !peer.is_some_and(|ip| ip.to_canonical().is_loopback()) {
        return Err("the playground answers only on this machine (a loopback address)");
    }
    let relayed = ["forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip"];
    if relayed.iter().any(|h| headers.contains_key(*h)) {
        return Err("the playground does not answer through a proxy");
    }
    if !host.is_some_and(loopback_host) {
        return Err("the playground answers only to http://127.0.0.1, http://[::1] or http://localhost");
    }
    let origin = headers.get(header::ORIGIN).map(|o| o.to_str().unwrap_or(""));
    let from_loopback =
        |o: &str| o.strip_prefix("http://").or_else(|| o.strip_prefix("https://")).is_some_and(loopback_host);
    if origin.is_some_and(|o| !from_loopback(o)) {
        return Err("the playground answers only its own page");
    }
    Ok(())
}

/// `localhost`, `127.0.0.1` or `[::1]`, with or without a port.
fn loopback_host(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or("", |(ip, _)| ip),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn only_a_browser_on_this_machine_is_a_visitor() {
        let local: Option<IpAddr> = Some([127, 0, 0, 1].into());
        let none = HeaderMap::new();
        assert!(local_visitor(local, Some("127.0.0.1:8080"), &none).is_ok());
        assert!(local_visitor(Some("::1".parse().unwrap()), Some("[::1]:8080"), &none).is_ok());
        assert!(local_visitor(Some("::ffff:127.0.0.1".parse().unwrap()), Some("localhost"), &none).is_ok());
        assert!(local_visitor(local, Some("localhost:8080"), &headers(&[("origin", "http://localhost:8080")])).is_ok());

        assert!(local_visitor(None, Some("127.0.0.1"), &none).is_err(), "no peer address: refused");
        assert!(local_visitor(Some([192, 168, 1, 9].into()), Some("127.0.0.1"), &none).is_err());
        assert!(local_visitor(Some([10, 0, 0, 1].into()), Some("10.0.0.1:8080"), &none).is_err());
        assert!(local_visitor(local, Some("127.0.0.1"), &headers(&[("x-forwarded-for", "203.0.113.9")])).is_err());
        assert!(local_visitor(local, Some("127.0.0.1"), &headers(&[("forwarded", "for=203.0.113.9")])).is_err());
        assert!(local_visitor(local, Some("evil.example:8080"), &none).is_err(), "DNS rebinding");
        assert!(local_visitor(local, Some("localhost.evil.example"), &none).is_err());
        assert!(local_visitor(local, None, &none).is_err());
        assert!(local_visitor(local, Some("127.0.0.1"), &headers(&[("origin", "https://evil.example")])).is_err());
        assert!(local_visitor(local, Some("127.0.0.1"), &headers(&[("origin", "null")])).is_err());
    }

    #[test]
    fn the_policy_pins_the_one_inline_script_and_style() {
        assert_eq!(PAGE.matches("<script").count(), 1, "one inline script, covered by the hash");
        assert_eq!(PAGE.matches("<style").count(), 1, "one inline style, covered by the hash");
        let script = PAGE.split_once("<script>").unwrap().1.split_once("</script>").unwrap().0;
        let policy = csp_for(PAGE);
        let hash = STANDARD.encode(Sha256::digest(script.as_bytes()));
        assert!(policy.contains(&format!("script-src 'sha256-{hash}';")), "{policy}");
        assert!(!policy.contains(&STANDARD.encode(Sha256::digest(b""))), "no tag was missed: {policy}");
        assert!(policy.starts_with("default-src 'none';"));
    }
}
