//! `/v1/conversations/{channel}/{id}`: the bot's view of one conversation.
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::extract::{BotClient, Json};
use crate::app::AppState;
use crate::delivery::Method;
use crate::domain::{ConversationState, IdentifyRequest};
use crate::store::conversations::Address;

const MAX_FLOW_CHARS: usize = 64;
const MAX_LOCALE_CHARS: usize = 35;

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

/// The conversation address, checked: channels are short lowercase names, ids are
/// printable and bounded.
fn address(client: &BotClient, (channel, id): (String, String)) -> Result<Address, ApiError> {
    address_for(&client.0.id, channel, id)
}

/// The same checks for a conversation named outside the path (the OTP grant).
pub(super) fn address_for(client_id: &str, channel: String, id: String) -> Result<Address, ApiError> {
    Address::checked(client_id, channel, id).map_err(|e| ApiError::InvalidRequest(e.into()))
}

#[utoipa::path(get, path = "/v1/conversations/{channel}/{id}", tag = "conversations", params(("channel" = String, Path, description = "whatsapp, sms, email, voice, web, ..."), ("id" = String, Path, description = "the conversation id on the channel, percent-encoded")), security(("basic" = [])),
    responses((status = 200, description = "the state object, without tokens"), (status = 401, description = "invalid_client")))]
async fn state(State(app): State<Arc<AppState>>, client: BotClient, Path(path): Path<(String, String)>) -> Reply {
    let address = address(&client, path)?;
    Ok(axum::Json(app.auth.state(&address).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentifyBody {
    flow: String,
    identifier: String,
    locale: Option<String>,
    method: Option<String>,
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/identify", tag = "conversations", params(("channel" = String, Path, description = "whatsapp, sms, email, voice, web, ..."), ("id" = String, Path, description = "the conversation id on the channel, percent-encoded")), security(("basic" = [])),
    request_body(content = Object, description = "{\"flow\", \"identifier\", \"locale\"?}"),
    responses((status = 200, description = "pending, or authenticated with tokens when the flow needs no OTP"), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422), (status = 429), (status = 502)))]
async fn identify(
    State(app): State<Arc<AppState>>,
    client: BotClient,
    Path(path): Path<(String, String)>,
    Json(body): Json<IdentifyBody>,
) -> Reply {
    let address = address(&client, path)?;
    if body.flow.len() > MAX_FLOW_CHARS {
        return Err(ApiError::InvalidRequest("flow name is too long".into()));
    }
    if body.locale.as_ref().is_some_and(|l| {
        l.len() > MAX_LOCALE_CHARS || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return Err(ApiError::InvalidRequest("locale must be a language tag like en or es-ES".into()));
    }
    let method = match body.method.as_deref().map(str::parse::<Method>) {
        Some(Err(_)) => return Err(ApiError::InvalidRequest("method must be sms, whatsapp or email".into())),
        Some(Ok(m)) => Some(m),
        None => None,
    };
    let request = IdentifyRequest { flow: body.flow, identifier: body.identifier, locale: body.locale, method };
    Ok(axum::Json(app.auth.identify(&client.0, &address, request).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    code: String,
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/verify", tag = "conversations", params(("channel" = String, Path, description = "whatsapp, sms, email, voice, web, ..."), ("id" = String, Path, description = "the conversation id on the channel, percent-encoded")), security(("basic" = [])),
    request_body(content = Object, description = "{\"code\"}"),
    responses((status = 200, description = "authenticated, with tokens"), (status = 401), (status = 409), (status = 422), (status = 429)))]
async fn verify(
    State(app): State<Arc<AppState>>,
    client: BotClient,
    Path(path): Path<(String, String)>,
    Json(body): Json<VerifyBody>,
) -> Reply {
    let address = address(&client, path)?;
    Ok(axum::Json(app.auth.verify(&client.0, &address, &body.code).await?))
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/resend", tag = "conversations", params(("channel" = String, Path, description = "whatsapp, sms, email, voice, web, ..."), ("id" = String, Path, description = "the conversation id on the channel, percent-encoded")), security(("basic" = [])),
    responses((status = 200, description = "pending, with a new code"), (status = 401), (status = 409), (status = 429), (status = 502)))]
async fn resend(State(app): State<Arc<AppState>>, client: BotClient, Path(path): Path<(String, String)>) -> Reply {
    let address = address(&client, path)?;
    Ok(axum::Json(app.auth.resend(&client.0, &address).await?))
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/token", tag = "conversations", params(("channel" = String, Path, description = "whatsapp, sms, email, voice, web, ..."), ("id" = String, Path, description = "the conversation id on the channel, percent-encoded")), security(("basic" = [])),
    responses((status = 200, description = "authenticated, with a fresh access token"), (status = 401), (status = 409)))]
async fn token(State(app): State<Arc<AppState>>, client: BotClient, Path(path): Path<(String, String)>) -> Reply {
    let address = address(&client, path)?;
    Ok(axum::Json(app.auth.token(&address).await?))
}

#[utoipa::path(delete, path = "/v1/conversations/{channel}/{id}", tag = "conversations", params(("channel" = String, Path, description = "whatsapp, sms, email, voice, web, ..."), ("id" = String, Path, description = "the conversation id on the channel, percent-encoded")), security(("basic" = [])),
    responses((status = 204, description = "challenge cancelled, session ended"), (status = 401)))]
async fn cancel(
    State(app): State<Arc<AppState>>,
    client: BotClient,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let address = address(&client, path)?;
    app.auth.cancel(&address).await?;
    Ok(StatusCode::NO_CONTENT)
}
