//! The one place where errors become HTTP responses, in the RFC 6749 shape
//! `{"error", "error_description", ...extra}`. Internal details are logged, never sent.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::faults::ServerFault;
use crate::domain::FlowError;
use crate::domain::admin::AdminError;
use crate::domain::clients::ClientError;
use crate::domain::grants::GrantError;
use crate::proxy::error::ProxyError;

/// `Retry-After` of a 503 `temporarily_unavailable` (the database did not answer), in seconds.
const RETRY_WHEN_UNAVAILABLE: u64 = 5;

/// The body of every refusal, as [`ApiError::into_response`] writes it: the one error
/// schema of `/openapi.json`.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"error": "invalid_code", "error_description": "the code is wrong", "attempts_remaining": 2}))]
#[allow(dead_code)] // documentation only: the body is built field by field below
pub struct ErrorBody {
    /// The machine-readable code: `invalid_request`, `invalid_client`, `invalid_code`, ...
    error: String,
    /// What went wrong, for a person; never internals.
    error_description: String,
    /// `unknown_identifier`, `invalid_code`, `too_many_attempts`: guesses left.
    attempts_remaining: Option<u32>,
    /// An OTP grant refused with `invalid_grant`: the conversation step's own code.
    reason: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request itself is malformed.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401 with `WWW-Authenticate: Basic`: missing or wrong client credentials.
    #[error("client authentication failed")]
    InvalidClient,
    /// 403 `access_denied`: not from where this endpoint answers (the playground off loopback).
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: no such endpoint.
    #[error("no such endpoint")]
    NotFound,
    /// 405
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// 413: the body is larger than `server.max_body_bytes`.
    #[error("request body is too large")]
    PayloadTooLarge,
    /// 414: the request target is longer than the server reads.
    #[error("the request target is too long")]
    UriTooLong,
    /// 431: more header fields, or more bytes of them, than the server reads.
    #[error("the request headers are too large")]
    HeadersTooLarge,
    /// 415: the body is not declared as JSON.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 403 `invalid_signature`: a webhook (Twilio's `X-Twilio-Signature`) that is unsigned or
    /// signed with another key, for another URL or other parameters.
    #[error("the request signature is missing or does not match")]
    InvalidSignature,
    /// Conversation steps: status per variant below.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// 401 `invalid_token` with `WWW-Authenticate: Bearer`: the admin token is missing or wrong.
    #[error("{0}")]
    AdminUnauthorized(&'static str),
    /// Operator requests: 400 `invalid_request`, 404 `not_found`, 409 `conflict`.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// 400 `unsupported_grant_type`.
    #[error("grant_type must be client_credentials, refresh_token or urn:doorman:params:oauth:grant-type:otp")]
    UnsupportedGrantType,
    /// 400 `invalid_grant`, `invalid_scope` or `unauthorized_client`. A refused OTP grant
    /// is `invalid_grant` with the flow's own code in `reason` (and its extra fields).
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// The proxy's refusals and upstream failures: status per variant in `proxy_status`.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// 500: the client store failed (a rejected client is `InvalidClient`).
    #[error("checking client credentials failed")]
    Clients(#[source] ClientError),
    /// 500 for what no lower layer names (a panic, a lost task), with its detail.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Rejected => ApiError::InvalidClient,
            other => ApiError::Clients(other),
        }
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, Map<String, Value>) {
        use FlowError as F;
        let none = Map::new();
        match self {
            ApiError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request", none),
            ApiError::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client", none),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "access_denied", none),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", none),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", none),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", none),
            ApiError::UriTooLong => (StatusCode::URI_TOO_LONG, "invalid_request", none),
            ApiError::HeadersTooLarge => (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "invalid_request", none),
            ApiError::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request", none),
            ApiError::InvalidSignature => (StatusCode::FORBIDDEN, "invalid_signature", none),
            ApiError::Internal(_) | ApiError::Clients(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", none),
            ApiError::Flow(flow) => flow_parts(flow),
            ApiError::Proxy(proxy) => (proxy_status(proxy), proxy.code(), none),
            ApiError::AdminUnauthorized(_) => (StatusCode::UNAUTHORIZED, "invalid_token", none),
            ApiError::Admin(AdminError::Invalid(_) | AdminError::Unconfigured(_)) => {
                (StatusCode::BAD_REQUEST, "invalid_request", none)
            }
            ApiError::Admin(AdminError::NotFound(_)) => (StatusCode::NOT_FOUND, "not_found", none),
            ApiError::Admin(AdminError::Conflict(_)) => (StatusCode::CONFLICT, "conflict", none),
            ApiError::Admin(AdminError::Store(_) | AdminError::Hash(_)) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "server_error", none)
            }
            ApiError::UnsupportedGrantType => (StatusCode::BAD_REQUEST, "unsupported_grant_type", none),
            ApiError::Grant(GrantError::InvalidGrant(_)) => (StatusCode::BAD_REQUEST, "invalid_grant", none),
            ApiError::Grant(GrantError::InvalidScope(_)) => (StatusCode::BAD_REQUEST, "invalid_scope", none),
            ApiError::Grant(GrantError::UnauthorizedClient(_) | GrantError::Flow(F::FlowNotAllowed)) => {
                (StatusCode::BAD_REQUEST, "unauthorized_client", none)
            }
            ApiError::Grant(GrantError::Flow(flow)) => match flow_parts(flow) {
                (status, code, extra) if status.is_server_error() || matches!(flow, F::InvalidRequest(_)) => {
                    (status, code, extra)
                }
                (_, code, mut extra) => {
                    extra.insert("reason".into(), json!(code));
                    (StatusCode::BAD_REQUEST, "invalid_grant", extra)
                }
            },
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Flow(flow) | ApiError::Grant(GrantError::Flow(flow)) => flow_retry_after(flow),
            _ => None,
        }
    }
}

/// Status, `error` code and extra fields of each conversation-step refusal.
fn flow_parts(flow: &FlowError) -> (StatusCode, &'static str, Map<String, Value>) {
    use FlowError as F;
    let extra = |key: &str, value: u32| Map::from_iter([(key.to_string(), json!(value))]);
    let none = Map::new();
    match flow {
        F::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request", none),
        F::UnknownFlow => (StatusCode::NOT_FOUND, "unknown_flow", none),
        F::FlowNotAllowed => (StatusCode::FORBIDDEN, "flow_not_allowed", none),
        F::NoPendingChallenge => (StatusCode::CONFLICT, "no_pending_challenge", none),
        F::AlreadyAuthenticated => (StatusCode::CONFLICT, "already_authenticated", none),
        F::NotAuthenticated => (StatusCode::CONFLICT, "not_authenticated", none),
        F::UnknownIdentifier { attempts_remaining } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "unknown_identifier", extra("attempts_remaining", *attempts_remaining))
        }
        F::InvalidCode { attempts_remaining } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code", extra("attempts_remaining", *attempts_remaining))
        }
        F::ExpiredCode => (StatusCode::UNPROCESSABLE_ENTITY, "expired_code", none),
        F::TooManyAttempts => (StatusCode::UNPROCESSABLE_ENTITY, "too_many_attempts", extra("attempts_remaining", 0)),
        F::NoDeliveryMethod => (StatusCode::UNPROCESSABLE_ENTITY, "no_delivery_method", none),
        F::Locked { .. } | F::LockedUntilUnlocked => (StatusCode::TOO_MANY_REQUESTS, "locked", none),
        F::TooManySends => (StatusCode::TOO_MANY_REQUESTS, "too_many_sends", none),
        F::ResendTooSoon { .. } => (StatusCode::TOO_MANY_REQUESTS, "resend_too_soon", none),
        F::DeliveryFailed => (StatusCode::BAD_GATEWAY, "delivery_failed", none),
        F::DestinationNotAllowed => (StatusCode::UNPROCESSABLE_ENTITY, "destination_not_allowed", none),
        F::DestinationLimit { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_sends", none),
        F::SendBudgetExhausted { .. } => (StatusCode::TOO_MANY_REQUESTS, "send_budget_exhausted", none),
        F::Store(_) | F::Hash(_) | F::Signing(_) | F::Encoding(_) | F::Audit(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error", none)
        }
    }
}

fn proxy_status(error: &ProxyError) -> StatusCode {
    use ProxyError as P;
    match error {
        P::InvalidPath(_) | P::InvalidHeader(_) | P::InvalidBody(_) => StatusCode::BAD_REQUEST,
        P::MissingCredentials | P::InvalidToken(_) | P::InvalidClient | P::NotAuthenticated => StatusCode::UNAUTHORIZED,
        P::InsufficientRole | P::ForbiddenResource => StatusCode::FORBIDDEN,
        P::UnknownService | P::NoRoute => StatusCode::NOT_FOUND,
        P::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        P::UpstreamUnavailable { .. } => StatusCode::BAD_GATEWAY,
        P::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        P::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn flow_retry_after(flow: &FlowError) -> Option<u64> {
    match flow {
        FlowError::Locked { retry_after }
        | FlowError::ResendTooSoon { retry_after }
        | FlowError::DestinationLimit { retry_after }
        | FlowError::SendBudgetExhausted { retry_after } => Some(*retry_after),
        _ => None,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (mut status, mut code, mut body) = self.parts();
        let unavailable = status.is_server_error() && crate::store::unavailable(&self);
        if unavailable {
            (status, code) = (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
        }
        let fault = status.is_server_error().then(|| ServerFault::of(&self));
        // A failing upstream is named (its message holds the service, not the cause);
        // every other server error is described only in the log.
        let upstream = matches!(
            self,
            ApiError::Proxy(ProxyError::UpstreamUnavailable { .. } | ProxyError::UpstreamTimeout { .. })
        );
        let description = match fault {
            Some(_) if unavailable => "the database is unavailable; try again shortly".to_string(),
            Some(_) if !upstream => "the server could not complete the request".to_string(),
            _ => self.to_string(),
        };
        body.insert("error".into(), json!(code));
        body.insert("error_description".into(), json!(description));
        let mut response = (status, axum::Json(Value::Object(body))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if matches!(self, ApiError::AdminUnauthorized(_)) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"doorman-admin\""));
        } else if matches!(self, ApiError::Proxy(ProxyError::InvalidToken(_) | ProxyError::MissingCredentials)) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"doorman\", error=\"invalid_token\""),
            );
        } else if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"doorman\""));
        }
        if let Some(seconds) = self.retry_after().or(unavailable.then_some(RETRY_WHEN_UNAVAILABLE)) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(fault) = fault {
            response.extensions_mut().insert(fault);
        }
        response
    }
}
