//! Public documents: health, JWKS and RFC 8414 metadata.
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::app::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/.well-known/openid-configuration", get(openid_configuration))
}

#[utoipa::path(get, path = "/healthz", tag = "public", responses((status = 200, description = "the process is up")))]
async fn health() -> StatusCode {
    StatusCode::OK
}

/// A load balancer's probe wants an answer, not a wait: a database that does not
/// answer within this long counts as down.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(900);

#[utoipa::path(get, path = "/readyz", tag = "public",
    responses((status = 200, description = "the database answers"), (status = 503, description = "it does not, within a second")))]
async fn ready(State(app): State<Arc<AppState>>) -> StatusCode {
    if app.auth.store.ping(READY_WITHIN).await { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "public", responses((status = 200, description = "RFC 7517 key set", body = super::openapi::Jwks)))]
async fn jwks(State(app): State<Arc<AppState>>) -> Response {
    let mut response = axum::Json(app.auth.keys.jwks()).into_response();
    // Short enough that a rotation reaches validators quickly.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// RFC 8414: what this server serves, nothing more. There is no authorization
/// endpoint (no browser redirects), so no response types.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "public",
    responses((status = 200, description = "RFC 8414 metadata", body = super::openapi::ServerMetadata)))]
async fn metadata(State(app): State<Arc<AppState>>) -> axum::Json<Value> {
    let issuer = app.auth.config.issuer();
    let algorithm = format!("{:?}", app.auth.keys.signer().algorithm);
    let client_auth = ["client_secret_basic", "client_secret_post"];
    let mut scopes: Vec<&str> =
        app.auth.config.clients.iter().flat_map(|c| c.scopes.iter().map(String::as_str)).collect();
    scopes.sort_unstable();
    scopes.dedup();
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "token_endpoint_auth_methods_supported": client_auth,
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "introspection_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "revocation_endpoint_auth_methods_supported": client_auth,
        "grant_types_supported": super::oauth::GRANT_TYPES,
        "response_types_supported": [],
        "scopes_supported": scopes,
        "access_token_signing_alg_values_supported": [algorithm],
        "acr_values_supported": ["loa1", "loa2"],
        "service_documentation": format!("{issuer}/openapi.json"),
    }))
}

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "public",
    responses((status = 200, description = "the same document as /.well-known/oauth-authorization-server", body = super::openapi::ServerMetadata)))]
async fn openid_configuration(state: State<Arc<AppState>>) -> axum::Json<Value> {
    metadata(state).await
}
