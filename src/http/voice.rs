//! `POST /v1/voice/twilio`: the webhook of a Twilio phone number (DESIGN.md §10). The call
//! is the conversation `(voice client, "voice", CallSid)`; the keypad dialog of §9 runs on
//! it and its answers go back as TwiML. Only requests Twilio signed are served. Twilio
//! plays "an application error has occurred" on any 5xx, so what goes wrong inside is an
//! apology and a hang-up instead.
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::extract::checked_address;
use crate::app::AppState;
use crate::config::{ValidConfig, VoiceConfig};
use crate::dialog::{Answer, Input, Message};
use crate::domain::clients::ClientError;
use crate::domain::{Address, Auth, ConversationState, FlowError, FlowName, Locale};
use crate::voice::call::{self, CallParams};
use crate::voice::signature;
use crate::voice::twiml::{self, VoiceResponse};

pub fn router() -> Router<Arc<AppState>> {
    // A TwiML answer may follow a login: no cache may keep it.
    let no_store = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Router::new()
        .route("/v1/voice/twilio", post(webhook))
        .route("/v1/voice/twilio/status", post(status))
        .layer(no_store)
}

/// The form parameters of a Twilio Voice request that doorman reads. Twilio sends more
/// (AccountSid, Caller, Direction, ...); every one of them is covered by the signature.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // documentation only: the handler reads the signed pairs
struct TwilioVoiceParams {
    /// The call: its conversation id on channel `voice`.
    CallSid: String,
    /// The caller. Never where a code goes, unless it is the record's own phone.
    From: Option<String>,
    To: Option<String>,
    /// The keys typed in a `<Gather>`; absent on the call's first request.
    Digits: Option<String>,
    /// `ringing`, `in-progress`, ... or a final `completed`, `busy`, `failed`, `no-answer`, `canceled`.
    CallStatus: Option<String>,
}

#[utoipa::path(post, path = "/v1/voice/twilio", tag = "voice",
    params(("X-Twilio-Signature" = String, Header, description = "base64 HMAC-SHA1 of server.public_url + path + query and the sorted parameters, keyed with the Twilio auth token"),
        ("silence" = Option<String>, Query, description = "`1` on the Redirect that follows a Gather nobody typed into")),
    request_body(content = TwilioVoiceParams, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "TwiML: a Gather asking for the identifier or the code; on success Say + Redirect to [voice] next_url; on failure Say + Hangup. A final CallStatus gets an empty Response.", content_type = "text/xml", body = String),
        (status = 400, description = "invalid_request: no CallSid, so not a Twilio Voice request"),
        (status = 403, description = "invalid_signature: X-Twilio-Signature missing or wrong; nothing was done"),
        (status = 404, description = "not_found: no [voice] section is configured"),
        (status = 413, description = "the body is larger than server.max_body_bytes")))]
async fn webhook(State(app): State<Arc<AppState>>, call: SignedByTwilio) -> Result<Twiml, ApiError> {
    let (voice, address) = call_of(&app.auth.config, &call.params)?;
    // The number's status callback may point here too.
    if call.params.call_has_ended() {
        end_call(&app.auth, &address).await;
        return Ok(Twiml(VoiceResponse::Empty));
    }
    let input = call::input(call.silence, call.params.digits.as_deref(), voice.max_silences);
    Ok(Twiml(match converse(&app, voice, &address, input).await {
        Ok(answer) => call::twiml(&answer, voice, public_url(&app.auth.config)),
        Err(fault) => {
            tracing::error!(call = %address.external_id, error = %fault, "keypad dialog failed; the caller hears an apology");
            apology(&app.auth, voice)
        }
    }))
}

#[utoipa::path(post, path = "/v1/voice/twilio/status", tag = "voice",
    params(("X-Twilio-Signature" = String, Header, description = "as for /v1/voice/twilio, over this URL")),
    request_body(content = TwilioVoiceParams, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "an empty TwiML Response. A final CallStatus kills a code still pending and forgets the dialog; a session signed in during the call stays for the phonebot", content_type = "text/xml", body = String),
        (status = 400, description = "invalid_request: no CallSid or no CallStatus"),
        (status = 403, description = "invalid_signature"),
        (status = 404, description = "not_found: no [voice] section is configured")))]
async fn status(State(app): State<Arc<AppState>>, call: SignedByTwilio) -> Result<Twiml, ApiError> {
    let (_, address) = call_of(&app.auth.config, &call.params)?;
    if call.params.call_status.is_none() {
        return Err(ApiError::InvalidRequest("CallStatus is missing: this is not a Twilio status callback".into()));
    }
    if call.params.call_has_ended() {
        end_call(&app.auth, &address).await;
    }
    Ok(Twiml(VoiceResponse::Empty))
}

/// The `[voice]` settings and the call's conversation.
fn call_of<'c>(config: &'c ValidConfig, params: &CallParams) -> Result<(&'c VoiceConfig, Address), ApiError> {
    let voice = config.voice.as_ref().ok_or(ApiError::NotFound)?;
    let sid = params
        .call_sid
        .clone()
        .ok_or_else(|| ApiError::InvalidRequest("CallSid is missing: this is not a Twilio Voice request".into()))?;
    Ok((voice, checked_address(&voice.client, "voice".into(), sid)?))
}

#[derive(Debug, thiserror::Error)]
enum CallFault {
    #[error("the [voice] client `{0}` does not exist or is disabled")]
    NoClient(String),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Flow(#[from] FlowError),
}

async fn converse(app: &AppState, voice: &VoiceConfig, address: &Address, input: Input) -> Result<Answer, CallFault> {
    let client = app.clients.by_id(&voice.client).await?.ok_or_else(|| CallFault::NoClient(voice.client.clone()))?;
    let message = Message {
        input,
        flow: voice.flow.clone().map(FlowName::parse).transpose()?,
        locale: Some(Locale::parse(voice.locale.clone())?),
        intent: None,
    };
    Ok(app.dialogs.respond(&app.auth, &client, address, message).await?)
}

/// Nothing is left alive after a call: a code still pending dies with the dialog's notes.
/// A session signed in during the call stays: the phonebot at `next_url` fetches its token
/// after the Redirect, and may still be doing so when Twilio reports the call completed.
async fn end_call(auth: &Auth, address: &Address) {
    let ended = async {
        if !matches!(auth.state(address).await?, ConversationState::Authenticated { .. }) {
            auth.cancel(address).await?;
        }
        auth.forget_dialog(address).await
    };
    if let Err(e) = ended.await {
        tracing::error!(call = %address.external_id, error = %e, "could not clean up after a call");
    }
}

/// Said when the dialog cannot go on, in the call's language.
fn apology(auth: &Auth, voice: &VoiceConfig) -> VoiceResponse {
    let language = auth.texts().language([Some(voice.locale.as_str())], &auth.config.otp.default_locale);
    let texts: Vec<String> = ["voice.error", "voice.goodbye"]
        .iter()
        .map(|key| auth.texts().render(&language, key, Some("voice"), &[]))
        .collect();
    VoiceResponse::SayAndHangUp { speech: call::speech(texts.iter().map(String::as_str), voice, &language) }
}

fn public_url(config: &ValidConfig) -> &str {
    config.server.public_url.trim_end_matches('/')
}

/// A request Twilio signed, with the parameters doorman reads.
struct SignedByTwilio {
    params: CallParams,
    silence: bool,
}

impl FromRequest<Arc<AppState>> for SignedByTwilio {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let config = &state.auth.config;
        let voice = config.voice.as_ref().ok_or(ApiError::NotFound)?;
        // Config validation guarantees one of the two.
        let token = voice
            .auth_token
            .as_ref()
            .or_else(|| config.delivery.twilio.as_ref().map(|t| &t.auth_token))
            .ok_or(ApiError::NotFound)?;
        // Twilio signs the URL it called: the public origin, then the path and query as sent.
        let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}{path_and_query}", public_url(config));
        let silence = call::is_silence(req.uri().query());
        let presented = req.headers().get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        // Bounded by server.max_body_bytes (DefaultBodyLimit) like every body.
        let body = Bytes::from_request(req, state).await.map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::InvalidRequest(rejection.body_text()),
        })?;
        // Twilio signs form parameters only; another body signs as none.
        let pairs: Vec<(String, String)> =
            if is_form { form_urlencoded::parse(&body).into_owned().collect() } else { Vec::new() };
        if !signature::is_valid(token.expose().as_bytes(), &url, &pairs, &presented) {
            tracing::warn!(url = %url, "refused a Twilio webhook whose X-Twilio-Signature does not match");
            return Err(ApiError::InvalidSignature);
        }
        Ok(Self { params: CallParams::from_pairs(&pairs), silence })
    }
}

/// A TwiML document.
struct Twiml(VoiceResponse);

impl IntoResponse for Twiml {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"))], twiml::render(&self.0)).into_response()
    }
}
