//! axum integration: [`Claims`] as an extractor, refusals in doorman's error shape
//! (`{"error", "error_description"}`, DESIGN.md §5), and role guards as middleware.
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::claims::Claims;
use crate::error::VerifyError;
use crate::verifier::Verifier;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// 401 `invalid_token`: no `Authorization: Bearer` header.
    MissingToken,
    /// 401 `invalid_token`, or 503 `temporarily_unavailable` when the issuer's keys
    /// cannot be fetched.
    InvalidToken(VerifyError),
    /// 403 `insufficient_role`
    InsufficientRole,
    /// 403 `forbidden_resource`: the resource is someone else's.
    ForbiddenResource,
}

impl Rejection {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Rejection::MissingToken => {
                (StatusCode::UNAUTHORIZED, "invalid_token", "send Authorization: Bearer <access token>".into())
            }
            Rejection::InvalidToken(e @ VerifyError::KeysUnavailable(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", e.to_string())
            }
            Rejection::InvalidToken(e) => (StatusCode::UNAUTHORIZED, "invalid_token", e.to_string()),
            Rejection::InsufficientRole => {
                (StatusCode::FORBIDDEN, "insufficient_role", "the token lacks a role this resource requires".into())
            }
            Rejection::ForbiddenResource => {
                (StatusCode::FORBIDDEN, "forbidden_resource", "this resource belongs to someone else".into())
            }
        }
    }
}

impl From<VerifyError> for Rejection {
    fn from(e: VerifyError) -> Self {
        Rejection::InvalidToken(e)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let (status, error, description) = self.parts();
        let mut response = (status, Json(json!({"error": error, "error_description": description}))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3; the description is ours and never holds a quote or backslash.
            let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
            let value = HeaderValue::from_str(&challenge)
                .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"invalid_token\""));
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

async fn authenticate(parts: &Parts, verifier: &Verifier) -> Result<Claims, Rejection> {
    // Already checked by a guard in front of the handler.
    if let Some(claims) = parts.extensions.get::<Claims>() {
        return Ok(claims.clone());
    }
    let token = bearer(&parts.headers).ok_or(Rejection::MissingToken)?;
    Ok(verifier.verify(token).await?)
}

/// The validated claims of the request's bearer token; any state holding a
/// [`Verifier`] (`FromRef`) will do.
impl<S> FromRequestParts<S> for Claims
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        authenticate(parts, &Verifier::from_ref(state)).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Any,
}

/// Roles a route requires: every one of them, or at least one.
#[derive(Debug, Clone)]
pub struct RoleGuard {
    mode: Mode,
    roles: Arc<[String]>,
}

impl RoleGuard {
    pub fn all_of<R: Into<String>>(roles: impl IntoIterator<Item = R>) -> Self {
        Self { mode: Mode::All, roles: roles.into_iter().map(Into::into).collect() }
    }

    pub fn any_of<R: Into<String>>(roles: impl IntoIterator<Item = R>) -> Self {
        Self { mode: Mode::Any, roles: roles.into_iter().map(Into::into).collect() }
    }

    pub fn check(&self, claims: &Claims) -> Result<(), Rejection> {
        let roles: Vec<&str> = self.roles.iter().map(String::as_str).collect();
        match self.mode {
            Mode::All => claims.require_all_roles(&roles),
            Mode::Any => claims.require_any_role(&roles),
        }
    }
}

/// A verifier and a guard: the state of [`enforce`].
#[derive(Clone)]
pub struct Guarded {
    pub verifier: Verifier,
    pub guard: RoleGuard,
}

impl Guarded {
    pub fn new(verifier: Verifier, guard: RoleGuard) -> Self {
        Self { verifier, guard }
    }
}

/// Middleware: refuses requests whose token is invalid or lacks the guard's roles, and
/// hands the claims on to the handler's [`Claims`] extractor.
///
/// `router.route_layer(axum::middleware::from_fn_with_state(Guarded::new(verifier, RoleGuard::any_of(["hr"])), enforce))`
pub async fn enforce(State(guarded): State<Guarded>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let checked = match authenticate(&parts, &guarded.verifier).await {
        Ok(claims) => guarded.guard.check(&claims).map(|()| claims),
        Err(rejection) => Err(rejection),
    };
    match checked {
        Ok(claims) => {
            parts.extensions.insert(claims);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(rejection) => rejection.into_response(),
    }
}
