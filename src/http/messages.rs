//! `POST /v1/conversations/{channel}/{id}/messages`: doorman holds the login dialog
//! (DESIGN.md §9). Whatever the person gets wrong is a 200 with a reply; only what the
//! bot gets wrong is an error.
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::routing::post;
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::extract::{Conversation, ConversationPath, Json};
use crate::app::AppState;
use crate::dialog::{Answer, Input, Message};
use crate::domain::{FlowError, FlowName, Locale};

/// A message longer than any answer to "what is your employee number?" is not one.
pub const MAX_TEXT_BYTES: usize = 4096;
const MAX_DIGITS: usize = 64;
const MAX_INTENT_CHARS: usize = 128;

pub fn router() -> Router<Arc<AppState>> {
    // Answers carry tokens once the person is signed in: no cache may keep them.
    let no_store = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Router::new().route("/v1/conversations/{channel}/{id}/messages", post(message)).layer(no_store)
}

/// What the person said (`text`, or `digits` from a keypad), and for the dialog: the
/// flow (default: the client's first), the locale and what was asked before login.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// What the person wrote; empty starts (or repeats) the dialog. At most 4096 bytes.
    #[schema(max_length = 4096)]
    pub text: Option<String>,
    /// Keypad keys, e.g. `4721#`; `*` asks for a new code. At most 64.
    #[schema(max_length = 64)]
    pub digits: Option<String>,
    /// A flow the client may use (default: its first).
    #[schema(max_length = 64)]
    pub flow: Option<String>,
    /// A language tag for the replies, like `en` or `es-ES`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,35}$")]
    pub locale: Option<String>,
    /// What the person asked for before login, returned as the redirect after it: 1 to
    /// 128 characters, no control characters.
    #[schema(pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]{1,128}$")]
    pub intent: Option<String>,
    /// A keypad prompt timed out with nothing typed (an IVR's "no input"). After
    /// `[voice] max_silences` (default 2) in a row the dialog ends and the code dies.
    #[serde(default)]
    pub silence: bool,
}

/// Silences in a row a keypad dialog repeats its question for, without `[voice]`.
const DEFAULT_MAX_SILENCES: u32 = 2;

impl TryFrom<MessageBody> for Message {
    type Error = FlowError;

    fn try_from(body: MessageBody) -> Result<Self, FlowError> {
        let invalid = |m: &str| FlowError::InvalidRequest(m.into());
        let input = match (body.text, body.digits) {
            (None, None) if body.silence => Input::Silence { max: DEFAULT_MAX_SILENCES },
            _ if body.silence => return Err(invalid("a silence carries no text or digits")),
            (Some(_), Some(_)) => return Err(invalid("send text or digits, not both")),
            (Some(text), None) if text.len() > MAX_TEXT_BYTES => {
                return Err(invalid("text must be at most 4096 bytes"));
            }
            (_, Some(digits)) if digits.len() > MAX_DIGITS => return Err(invalid("digits must be at most 64 keys")),
            (_, Some(digits)) => Input::Digits(digits),
            (text, None) => Input::Text(text.unwrap_or_default()),
        };
        if let Some(intent) = &body.intent
            && (intent.is_empty() || intent.chars().count() > MAX_INTENT_CHARS || intent.chars().any(char::is_control))
        {
            return Err(invalid("intent must have 1 to 128 printable characters"));
        }
        Ok(Message {
            input,
            flow: body.flow.map(FlowName::parse).transpose()?,
            locale: body.locale.map(Locale::parse).transpose()?,
            intent: body.intent,
        })
    }
}

#[utoipa::path(post, path = "/v1/conversations/{channel}/{id}/messages", tag = "dialog", operation_id = "conversation_message",
    params(ConversationPath), security(("basic" = [])),
    request_body(content = MessageBody, description = "{\"text\"} or {\"digits\"}, with optional flow, locale and intent"),
    responses(
        (status = 200, description = "the dialog's answer: state, step, replies, expect, outcome, redirect, and the token fields once signed in", body = Answer),
        (status = 400, description = "invalid_request: a bad channel or id, a malformed body, both text and digits, text over 4096 bytes, silence with text or digits"),
        (status = 401, description = "invalid_client: missing or wrong Basic credentials (WWW-Authenticate: Basic)"),
        (status = 403, description = "flow_not_allowed"),
        (status = 404, description = "unknown_flow"),
        (status = 413, description = "invalid_request: the body is larger than server.max_body_bytes"),
        (status = 415, description = "invalid_request: the body is not declared as application/json")))]
async fn message(
    State(app): State<Arc<AppState>>,
    c: Conversation,
    Json(body): Json<MessageBody>,
) -> Result<axum::Json<Answer>, ApiError> {
    Ok(axum::Json(app.dialogs.respond(&app.auth, &c.client, &c.address, body.try_into()?).await?))
}
