//! `/oauth/token`, `/oauth/introspect` and `/oauth/revoke` for standard OAuth clients.
//! Clients authenticate with `client_secret_basic` or `client_secret_post`.
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::extract::checked_address;
use super::extract::{FormOrJson, basic_credentials};
use crate::app::AppState;
use crate::domain::grants::GrantError;
use crate::domain::{Client, ConversationState};

pub const OTP_GRANT: &str = "urn:doorman:params:oauth:grant-type:otp";
pub const GRANT_TYPES: &[&str] = &["client_credentials", "refresh_token", OTP_GRANT];

pub fn router() -> Router<Arc<AppState>> {
    let no_store = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let no_cache = SetResponseHeaderLayer::overriding(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/introspect", post(introspect))
        .route("/oauth/revoke", post(revoke))
        .layer(no_store)
        .layer(no_cache)
}

/// Every parameter the three endpoints read. Unknown parameters are ignored, as
/// RFC 6749 §3.1 asks.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct OAuthParams {
    grant_type: Option<String>,
    scope: Option<String>,
    refresh_token: Option<String>,
    /// OTP grant: `channel:id` of the conversation.
    conversation: Option<String>,
    /// OTP grant: the code the person received.
    code: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// introspect / revoke: the token.
    token: Option<String>,
    /// Accepted and not needed: doorman tells its token kinds apart itself.
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

/// RFC 6749 §5.1.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

const MAX_PARAM_CHARS: usize = 4096;

#[utoipa::path(post, path = "/oauth/token", tag = "oauth", operation_id = "oauth_token", security(("basic" = []), ()),
    request_body(description = "form-encoded as RFC 6749 asks, or JSON; client_secret_post puts client_id and client_secret here",
        content((super::openapi::TokenForm = "application/x-www-form-urlencoded"), (super::openapi::TokenForm = "application/json"))),
    responses(
        (status = 200, description = "RFC 6749 §5.1", body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant (an OTP grant's own code in reason), invalid_scope, unauthorized_client, unsupported_grant_type"),
        (status = 401, description = "invalid_client: missing or wrong client credentials (WWW-Authenticate: Basic)"),
        (status = 413, description = "invalid_request: the body is larger than server.max_body_bytes"),
        (status = 415, description = "invalid_request: the body is neither form-encoded nor JSON")))]
pub async fn token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    FormOrJson(params): FormOrJson<OAuthParams>,
) -> Result<axum::Json<TokenResponse>, ApiError> {
    let client = authenticate(&app, &headers, &params).await?;
    let grant_type = required(&params.grant_type, "grant_type")?;
    let response = match grant_type {
        "client_credentials" => {
            let issued = app.auth.client_token(&client, params.scope.as_deref()).await?;
            TokenResponse {
                access_token: issued.access_token,
                token_type: "Bearer",
                expires_in: issued.expires_in,
                refresh_token: None,
                scope: Some(issued.scope),
            }
        }
        "refresh_token" => {
            let state = app.auth.refresh(&client, required(&params.refresh_token, "refresh_token")?).await?;
            token_response(state)?
        }
        OTP_GRANT => {
            let conversation = required(&params.conversation, "conversation")?;
            let (channel, id) = conversation
                .split_once(':')
                .ok_or_else(|| ApiError::InvalidRequest("conversation must be channel:id".into()))?;
            let address = checked_address(&client.id, channel.to_string(), id.to_string())?;
            let code = required(&params.code, "code")?;
            let state = app.auth.verify(&client, &address, code).await.map_err(GrantError::Flow)?;
            token_response(state)?
        }
        _ => return Err(ApiError::UnsupportedGrantType),
    };
    Ok(axum::Json(response))
}

fn token_response(state: ConversationState) -> Result<TokenResponse, ApiError> {
    match state {
        ConversationState::Authenticated { tokens: Some(t), .. } => Ok(TokenResponse {
            access_token: t.access_token,
            token_type: t.token_type,
            expires_in: t.expires_in,
            refresh_token: t.refresh_token,
            scope: None,
        }),
        _ => Err(ApiError::Internal("a grant succeeded without tokens".into())),
    }
}

#[utoipa::path(post, path = "/oauth/introspect", tag = "oauth", operation_id = "oauth_introspect", security(("basic" = []), ()),
    request_body(description = "form-encoded as RFC 6749 asks, or JSON; client_secret_post puts client_id and client_secret here",
        content((super::openapi::TokenHintForm = "application/x-www-form-urlencoded"), (super::openapi::TokenHintForm = "application/json"))),
    responses(
        (status = 200, description = "RFC 7662: the token's claims with active: true, or exactly {\"active\": false}", body = super::openapi::Introspection),
        (status = 400, description = "invalid_request: no token, or two client authentication methods"),
        (status = 401, description = "invalid_client: missing or wrong client credentials (WWW-Authenticate: Basic)"),
        (status = 413, description = "invalid_request: the body is larger than server.max_body_bytes"),
        (status = 415, description = "invalid_request: the body is neither form-encoded nor JSON")))]
pub async fn introspect(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<FormOrJson<OAuthParams>, ApiError>,
) -> Result<axum::Json<Value>, ApiError> {
    let params = token_body(body)?;
    let client = authenticate(&app, &headers, &params).await?;
    let token = required(&params.token, "token")?;
    let answer = app.auth.introspect(&client, token).await?;
    Ok(axum::Json(answer.unwrap_or_else(|| json!({"active": false}))))
}

#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth", operation_id = "oauth_revoke", security(("basic" = []), ()),
    request_body(description = "form-encoded as RFC 6749 asks, or JSON; client_secret_post puts client_id and client_secret here",
        content((super::openapi::TokenHintForm = "application/x-www-form-urlencoded"), (super::openapi::TokenHintForm = "application/json"))),
    responses(
        (status = 200, description = "RFC 7009: revoked, or not this client's token (nothing is told): an empty object", body = super::openapi::RevokeResponse),
        (status = 400, description = "invalid_request: no token, or two client authentication methods"),
        (status = 401, description = "invalid_client: missing or wrong client credentials (WWW-Authenticate: Basic)"),
        (status = 413, description = "invalid_request: the body is larger than server.max_body_bytes"),
        (status = 415, description = "invalid_request: the body is neither form-encoded nor JSON")))]
pub async fn revoke(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<FormOrJson<OAuthParams>, ApiError>,
) -> Result<axum::Json<Value>, ApiError> {
    let params = token_body(body)?;
    let client = authenticate(&app, &headers, &params).await?;
    app.auth.revoke(&client, required(&params.token, "token")?).await?;
    Ok(axum::Json(json!({})))
}

/// RFC 7009 §2.1 and RFC 7662 §2.1: a request without a form body is `invalid_request`,
/// not a media-type error, so standard clients see the error they expect.
fn token_body(body: Result<FormOrJson<OAuthParams>, ApiError>) -> Result<OAuthParams, ApiError> {
    match body {
        Ok(FormOrJson(params)) => Ok(params),
        Err(ApiError::UnsupportedMediaType) => Err(ApiError::InvalidRequest(
            "send the token in an application/x-www-form-urlencoded body: token=...".into(),
        )),
        Err(other) => Err(other),
    }
}

/// `client_secret_basic` or `client_secret_post`, never both (RFC 6749 §2.3).
async fn authenticate(app: &AppState, headers: &HeaderMap, params: &OAuthParams) -> Result<Client, ApiError> {
    let (id, secret) = match (basic_credentials(headers)?, &params.client_id, &params.client_secret) {
        (Some(_), _, Some(_)) => {
            return Err(ApiError::InvalidRequest("use one client authentication method, not two".into()));
        }
        (Some((id, _)), Some(posted), None) if *posted != id => {
            return Err(ApiError::InvalidRequest("client_id differs from the authenticated client".into()));
        }
        (Some(basic), _, None) => basic,
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        _ => return Err(ApiError::InvalidClient),
    };
    Ok(app.clients.authenticate(&id, &secret, app.auth.clock.as_ref()).await?)
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    match value.as_deref() {
        Some(v) if !v.is_empty() && v.len() <= MAX_PARAM_CHARS => Ok(v),
        Some(v) if !v.is_empty() => Err(ApiError::InvalidRequest(format!("{name} is too long"))),
        _ => Err(ApiError::InvalidRequest(format!("{name} is required"))),
    }
}
