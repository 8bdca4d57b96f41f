//! `/v1/conversations/{channel}/{id}`: the bot's view of one conversation.
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::extract::{Conversation, ConversationPath, Json};
use crate::app::AppState;
use crate::delivery::Method;
use crate::domain::{ConversationState, FlowError, FlowName, Identifier, IdentifyRequest, Locale};

pub fn router() -> Router<Arc<AppState>> {
    // State objects carry tokens: no cache may keep them.
    let no_store = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Router::new()
        .route("/v1/conversations/{channel}/{id}", get(state).delete(cancel))
        .route("/v1/conversations/{channel}/{id}/identify", post(identify))
        .route("/v1/conversations/{channel}/{id}/verify", post(verify))
        .route("/v1/conversations/{channel}/{id}/resend", post(resend))
        .route("/v1/conversations/{channel}/{id}/token", post(token))
        .layer(no_store)
}

type Reply = Result<axum::Json<ConversationState>, ApiError>;

#[utoipa::path(get, path = "/v1/conversations/{channel}/{id}", tag = "conversations", operation_id = "get_conversation",
    params(ConversationPath), security(("basic" = [])),
    responses(
        (status = 200, description = "the state object, without tokens", body = ConversationState),
        (status = 400, description = "invalid_request: a bad channel or id"),
        (status = 401, description = "invalid_client: missing or wrong Basic credentials (WWW-Authenticate: Basic)")))]
async fn state(State(app): State<Arc<AppState>>, c: Conversation) -> Reply {
    Ok(axum::Json(app.auth.state(&c.address).await?))
}

/// Who the person says they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"flow": "payroll", "identifier": "4721", "locale": "es"}))]
struct IdentifyBody {
    /// A flow the client may use.
    #[schema(max_length = 64)]
    flow: String,
    /// As the person typed it: spaces, dashes, dots and a keypad's trailing `#` are
    /// dropped and letters upper-cased; 1 to 128 printable characters remain.
    #[schema(min_length = 1)]
    identifier: String,
    /// A language tag for the messages, like `en` or `es-ES`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,35}$")]
    locale: Option<String>,
    /// Where the code goes, when the record has more than one way.
    #[schema(value_type = Option<Method>)]
    method: Option<String>,
}

impl TryFrom<IdentifyBody> for IdentifyRequest {
    type Error = FlowError;

    fn try_from(body: IdentifyBody) -> Result<Self, FlowError> {
        let method = match body.method.as_deref().map(str::parse::<Method>) {
            Some(Err(_)) => return Err(FlowError::InvalidRequest("method must be sms, whatsapp or email".into())),
            Some(Ok(m)) => Some(m),
            None => None,
        };
        Ok(IdentifyRequest {
            flow: FlowName::parse(body.flow)?,
            locale: body.locale.map(Locale::parse).transpose()?,
            identifier: Identifier::parse(&body.identifier)?,
            method,
        })
    }
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/identify", tag = "conversations", operation_id = "identify",
    params(ConversationPath), security(("basic" = [])), request_body = IdentifyBody,
    responses(
        (status = 200, description = "pending, or authenticated with tokens when the flow needs no OTP", body = ConversationState),
        (status = 400, description = "invalid_request: a bad channel or id, or a malformed body"),
        (status = 401, description = "invalid_client: missing or wrong Basic credentials (WWW-Authenticate: Basic)"),
        (status = 403, description = "flow_not_allowed: the client may not use this flow"),
        (status = 404, description = "unknown_flow"),
        (status = 409, description = "already_authenticated"),
        (status = 413, description = "invalid_request: the body is larger than server.max_body_bytes"),
        (status = 415, description = "invalid_request: the body is not declared as application/json"),
        (status = 422, description = "unknown_identifier (with attempts_remaining), no_delivery_method, destination_not_allowed"),
        (status = 429, description = "locked, too_many_sends, send_budget_exhausted (with Retry-After)"),
        (status = 502, description = "delivery_failed: the code could not be sent")))]
async fn identify(State(app): State<Arc<AppState>>, c: Conversation, Json(body): Json<IdentifyBody>) -> Reply {
    Ok(axum::Json(app.auth.identify(&c.client, &c.address, body.try_into()?).await?))
}

/// The code the person received.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
struct VerifyBody {
    /// `[otp] length` digits (6 unless configured); spaces and dashes are ignored.
    #[schema(pattern = "^[0-9 -]{1,64}$")]
    code: String,
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/verify", tag = "conversations", operation_id = "verify",
    params(ConversationPath), security(("basic" = [])), request_body = VerifyBody,
    responses(
        (status = 200, description = "authenticated, with tokens", body = ConversationState),
        (status = 400, description = "invalid_request: a bad channel or id, a malformed body, or a code that is not all digits of the right length"),
        (status = 401, description = "invalid_client: missing or wrong Basic credentials (WWW-Authenticate: Basic)"),
        (status = 409, description = "no_pending_challenge, already_authenticated"),
        (status = 413, description = "invalid_request: the body is larger than server.max_body_bytes"),
        (status = 415, description = "invalid_request: the body is not declared as application/json"),
        (status = 422, description = "invalid_code (with attempts_remaining), expired_code, too_many_attempts"),
        (status = 429, description = "locked (with Retry-After)")))]
async fn verify(State(app): State<Arc<AppState>>, c: Conversation, Json(body): Json<VerifyBody>) -> Reply {
    Ok(axum::Json(app.auth.verify(&c.client, &c.address, &body.code).await?))
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/resend", tag = "conversations", operation_id = "resend",
    params(ConversationPath), security(("basic" = [])),
    responses(
        (status = 200, description = "pending, with a new code (the old one is dead)", body = ConversationState),
        (status = 400, description = "invalid_request: a bad channel or id"),
        (status = 401, description = "invalid_client: missing or wrong Basic credentials (WWW-Authenticate: Basic)"),
        (status = 409, description = "no_pending_challenge"),
        (status = 422, description = "no_delivery_method, destination_not_allowed"),
        (status = 429, description = "too_many_sends, resend_too_soon, send_budget_exhausted (with Retry-After)"),
        (status = 502, description = "delivery_failed: the code could not be sent")))]
async fn resend(State(app): State<Arc<AppState>>, c: Conversation) -> Reply {
    Ok(axum::Json(app.auth.resend(&c.client, &c.address).await?))
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/token", tag = "conversations", operation_id = "conversation_token",
    params(ConversationPath), security(("basic" = [])),
    responses(
        (status = 200, description = "authenticated, with a fresh access token", body = ConversationState),
        (status = 400, description = "invalid_request: a bad channel or id"),
        (status = 401, description = "invalid_client: missing or wrong Basic credentials (WWW-Authenticate: Basic)"),
        (status = 409, description = "not_authenticated")))]
async fn token(State(app): State<Arc<AppState>>, c: Conversation) -> Reply {
    Ok(axum::Json(app.auth.token(&c.address).await?))
}

#[utoipa::path(delete, path = "/v1/conversations/{channel}/{id}", tag = "conversations", operation_id = "cancel_conversation",
    params(ConversationPath), security(("basic" = [])),
    responses(
        (status = 204, description = "challenge cancelled, session ended"),
        (status = 400, description = "invalid_request: a bad channel or id"),
        (status = 401, description = "invalid_client: missing or wrong Basic credentials (WWW-Authenticate: Basic)")))]
async fn cancel(State(app): State<Arc<AppState>>, c: Conversation) -> Result<StatusCode, ApiError> {
    app.auth.cancel(&c.address).await?;
    Ok(StatusCode::NO_CONTENT)
}
