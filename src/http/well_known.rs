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
        .route("/healthz", get(|| async { StatusCode::OK }))
        .route("/readyz", get(ready))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/.well-known/openid-configuration", get(metadata))
}

async fn ready(State(app): State<Arc<AppState>>) -> StatusCode {
    if app.auth.store.ping().await { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }
}

async fn jwks(State(app): State<Arc<AppState>>) -> Response {
    let mut response = axum::Json(app.auth.keys.jwks()).into_response();
    // Short enough that a rotation reaches validators quickly.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

async fn metadata(State(app): State<Arc<AppState>>) -> axum::Json<Value> {
    let issuer = app.auth.config.issuer();
    let algorithm = format!("{:?}", app.auth.keys.signer().algorithm);
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": [],
        "access_token_signing_alg_values_supported": [algorithm],
        "acr_values_supported": ["loa1", "loa2"],
    }))
}
