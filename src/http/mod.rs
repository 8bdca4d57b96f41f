//! The HTTP layer: one module per area, each with its own router, merged here.
pub mod admin;
pub mod conversations;
pub mod edge;
pub mod error;
pub mod extract;
pub mod faults;
pub mod messages;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod playground;
pub mod proxy;
pub mod voice;
pub mod well_known;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::app::AppState;
use crate::telemetry::access;
use edge::BodyLimits;
use error::ApiError;

pub fn router(state: Arc<AppState>) -> Router {
    let max_body = state.auth.config.server.max_body_bytes;
    // Off by default, and then not routed at all: /playground is a plain 404.
    let playground = match state.auth.config.playground.enabled {
        true => playground::router(),
        false => Router::new(),
    };
    let metrics = match state.auth.config.metrics.enabled {
        true => metrics::router(),
        false => Router::new(),
    };
    // Every route but the proxy's: each layer here costs a request a boxed future,
    // which the proxy's hot path does without (it logs and counts itself).
    let logged = Router::new()
        .merge(well_known::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(oauth::router())
        .merge(admin::router())
        .merge(openapi::router())
        .merge(voice::router())
        .merge(playground)
        .merge(metrics)
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(faults::log_server_faults))
        .layer(axum::middleware::from_fn_with_state(
            // The one route whose bodies may be larger than `server.max_body_bytes`.
            BodyLimits {
                default: max_body,
                larger: Arc::new([(admin::IMPORT_ROUTE, state.auth.config.admin.max_import_bytes)]),
            },
            edge::refuse_oversized,
        ))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), edge::count_requests))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let route = request.extensions().get::<MatchedPath>().map_or(access::UNMATCHED, |m| m.as_str());
                    access::span(request.method(), route, access::request_id(request.headers()))
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _: &Span| {
                    access::served(response.status(), latency)
                })
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(edge::NewRequestId));
    Router::new()
        .merge(logged)
        .merge(proxy::router())
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_| -> Response {
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        .with_state(state)
}
