//! `GET /metrics`: Prometheus text format, routed only when `[metrics] enabled`, and
//! answered only to `Authorization: Bearer <[metrics] token>`. The token is its own
//! (not the admin token): a scraper's credential should open nothing but the counts.
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::app::AppState;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/metrics", get(metrics))
}

#[utoipa::path(get, path = "/metrics", tag = "operations", security(("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text format (served only when [metrics] enabled; 404 otherwise)", content_type = "text/plain"),
        (status = 401, description = "invalid_token: the [metrics] token is missing or wrong")))]
pub(super) async fn metrics(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let expected = app.auth.config.metrics.token.as_ref().map(|t| t.expose().as_bytes()).unwrap_or_default();
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().as_bytes());
    if expected.is_empty() || !presented.is_some_and(|token| bool::from(token.ct_eq(expected))) {
        return Err(ApiError::AdminUnauthorized("GET /metrics needs Authorization: Bearer <[metrics] token>"));
    }
    let mut response = app.metrics.render().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    Ok(response)
}
