//! The HTTP layer: one module per area, each with its own router, merged here.
pub mod admin;
pub mod conversations;
pub mod error;
pub mod extract;
pub mod faults;
pub mod messages;
pub mod oauth;
pub mod openapi;
pub mod playground;
pub mod proxy;
pub mod voice;
pub mod well_known;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::AppState;
use error::ApiError;

pub fn router(state: Arc<AppState>) -> Router {
    let max_body = state.auth.config.server.max_body_bytes;
    // Off by default, and then not routed at all: /playground is a plain 404.
    let playground = match state.auth.config.playground.enabled {
        true => playground::router(),
        false => Router::new(),
    };
    let logged = Router::new()
        .merge(well_known::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(oauth::router())
        .merge(admin::router())
        .merge(openapi::router())
        .merge(voice::router())
        .merge(playground)
        .layer(axum::middleware::from_fn(faults::log_server_faults));
    Router::new()
        .merge(logged)
        .merge(proxy::router())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_| -> Response {
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        .with_state(state)
}
