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

#[utoipa::path(get, path = "/v1/conversations/{channel}/{id}", tag = "conversations", params(ConversationPath), security(("basic" = [])),
    responses((status = 200, description = "the state object, without tokens"), (status = 401, description = "invalid_client")))]
async fn state(State(app): State<Arc<AppState>>, c: Conversation) -> Reply {
    Ok(axum::Json(app.auth.state(&c.address).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentifyBody {
    flow: String,
    identifier: String,
    locale: Option<String>,
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

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/identify", tag = "conversations", params(ConversationPath), security(("basic" = [])),
    request_body(content = Object, description = "{\"flow\", \"identifier\", \"locale\"?}"),
    responses((status = 200, description = "pending, or authenticated with tokens when the flow needs no OTP"), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422), (status = 429), (status = 502)))]
async fn identify(State(app): State<Arc<AppState>>, c: Conversation, Json(body): Json<IdentifyBody>) -> Reply {
    Ok(axum::Json(app.auth.identify(&c.client, &c.address, body.try_into()?).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    code: String,
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/verify", tag = "conversations", params(ConversationPath), security(("basic" = [])),
    request_body(content = Object, description = "{\"code\"}"),
    responses((status = 200, description = "authenticated, with tokens"), (status = 401), (status = 409), (status = 422), (status = 429)))]
async fn verify(State(app): State<Arc<AppState>>, c: Conversation, Json(body): Json<VerifyBody>) -> Reply {
    Ok(axum::Json(app.auth.verify(&c.client, &c.address, &body.code).await?))
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/resend", tag = "conversations", params(ConversationPath), security(("basic" = [])),
    responses((status = 200, description = "pending, with a new code"), (status = 401), (status = 409), (status = 429), (status = 502)))]
async fn resend(State(app): State<Arc<AppState>>, c: Conversation) -> Reply {
    Ok(axum::Json(app.auth.resend(&c.client, &c.address).await?))
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/token", tag = "conversations", params(ConversationPath), security(("basic" = [])),
    responses((status = 200, description = "authenticated, with a fresh access token"), (status = 401), (status = 409)))]
async fn token(State(app): State<Arc<AppState>>, c: Conversation) -> Reply {
    Ok(axum::Json(app.auth.token(&c.address).await?))
}

#[utoipa::path(delete, path = "/v1/conversations/{channel}/{id}", tag = "conversations", params(ConversationPath), security(("basic" = [])),
    responses((status = 204, description = "challenge cancelled, session ended"), (status = 401)))]
async fn cancel(State(app): State<Arc<AppState>>, c: Conversation) -> Result<StatusCode, ApiError> {
    app.auth.cancel(&c.address).await?;
    Ok(StatusCode::NO_CONTENT)
}
