//! Extractors whose rejections are [`ApiError`]s, so every bad input gets the same
//! JSON error shape.
mod path;
pub mod printable;
mod rejection;

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::app::AppState;
use crate::domain::{Address, Client};

/// `axum::Json` with our error shape.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await.map_err(rejection::json)?;
        Ok(Json(value))
    }
}

/// `axum::extract::Path` with our error shape, the parameters checked as sent first.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        path::check_raw_params(parts)?;
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await.map_err(rejection::path)?;
        Ok(Path(value))
    }
}

/// `{channel}/{id}` of a conversation URL.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConversationPath {
    /// The conversation's channel: whatsapp, sms, email, voice, web, ...
    #[param(pattern = "^[a-z0-9_-]{1,32}$")]
    pub channel: String,
    /// The conversation id on the channel (a phone number, an address, a call id):
    /// 1 to 256 printable characters (no control or format characters such as U+202E or
    /// U+FEFF, no line or paragraph separators), percent-encoded. Every `%` starts a
    /// two-hex-digit escape, and the decoded bytes are UTF-8.
    #[param(schema_with = printable::conversation_id_schema, required = true)]
    pub id: String,
}

/// The conversation a bot acts on: the bot, authenticated, and the checked address of
/// one of its conversations. One rejection shape for both.
pub struct Conversation {
    pub client: Client,
    pub address: Address,
}

impl FromRequestParts<Arc<AppState>> for Conversation {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let BotClient(client) = BotClient::from_request_parts(parts, state).await?;
        let Path(path) = Path::<ConversationPath>::from_request_parts(parts, state).await?;
        let address = checked_address(&client.id, path.channel, path.id)?;
        Ok(Self { client, address })
    }
}

/// The address checks, also for a conversation named outside the path (the OTP grant).
pub(super) fn checked_address(client_id: &str, channel: String, id: String) -> Result<Address, ApiError> {
    let address = Address::checked(client_id, channel, id).map_err(|e| ApiError::InvalidRequest(e.into()))?;
    match printable::first_unprintable(&address.external_id) {
        Some(c) => Err(ApiError::InvalidRequest(format!(
            "conversation id must have 1 to 256 printable characters: U+{:04X} is a format or separator character",
            c as u32
        ))),
        None => Ok(address),
    }
}

/// The bot client, authenticated with HTTP Basic `client_id:client_secret`.
pub struct BotClient(pub Client);

impl FromRequestParts<Arc<AppState>> for BotClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let (id, secret) = basic_credentials(&parts.headers)?.ok_or(ApiError::InvalidClient)?;
        let client = state.clients.authenticate(&id, &secret, state.auth.clock.as_ref()).await?;
        Ok(BotClient(client))
    }
}

/// `Authorization: Basic` that cannot be read: bad base64, no `:`, a broken escape.
#[derive(Debug)]
pub struct MalformedBasic;

impl From<MalformedBasic> for ApiError {
    fn from(_: MalformedBasic) -> Self {
        ApiError::InvalidClient
    }
}

/// The `client_id` and `client_secret` of an `Authorization: Basic` header, or `None`
/// without one. RFC 6749 §2.3.1: both are form-urlencoded before they are joined, so
/// `hr%2Dbot` is `hr-bot` and `+` is a space. A value that needs no encoding (every id
/// and secret doorman generates) reads the same either way.
pub(super) fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, MalformedBasic> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    if encoded.len() > 1024 {
        return Err(MalformedBasic);
    }
    let decoded = STANDARD.decode(encoded.trim()).ok().and_then(|d| String::from_utf8(d).ok()).ok_or(MalformedBasic)?;
    let (id, secret) = decoded.split_once(':').ok_or(MalformedBasic)?;
    Ok(Some((form_decoded(id)?, form_decoded(secret)?)))
}

/// `application/x-www-form-urlencoded` decoding of one value, strict: a `%` must start
/// two hex digits, and the bytes must be UTF-8.
fn form_decoded(value: &str) -> Result<String, MalformedBasic> {
    let bytes = value.as_bytes();
    let well_formed = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(i, _)| bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    if !well_formed {
        return Err(MalformedBasic);
    }
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().map(|v| v.into_owned()).map_err(|_| MalformedBasic)
}

/// An OAuth request body: form-encoded (RFC 6749) or JSON, chosen by `Content-Type`.
pub struct FormOrJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for FormOrJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match mime.as_str() {
            "application/x-www-form-urlencoded" => axum::Form::<T>::from_request(req, state)
                .await
                .map(|axum::Form(value)| FormOrJson(value))
                .map_err(rejection::form),
            "application/json" => Json::<T>::from_request(req, state).await.map(|Json(value)| FormOrJson(value)),
            _ => Err(ApiError::UnsupportedMediaType),
        }
    }
}

/// `axum::extract::Query` with our error shape.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await.map_err(rejection::query)?;
        Ok(Query(value))
    }
}

/// The operator, authenticated with `Authorization: Bearer <[admin] token>`. Without a
/// configured token every admin call is refused.
pub struct Operator;

impl FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let Some(expected) = state.auth.config.admin.token.as_ref() else {
            return Err(ApiError::AdminUnauthorized("the admin API is disabled: no [admin] token is configured"));
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(ApiError::AdminUnauthorized("send Authorization: Bearer <admin token>"))?;
        // Equal-length digests, compared in constant time: neither content nor length leaks.
        let same: bool = subtle::ConstantTimeEq::ct_eq(
            &Sha256::digest(presented.as_bytes())[..],
            &Sha256::digest(expected.expose().as_bytes())[..],
        )
        .into();
        if same { Ok(Operator) } else { Err(ApiError::AdminUnauthorized("wrong admin token")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> Result<Option<(String, String)>, MalformedBasic> {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode(raw));
        headers.insert(header::AUTHORIZATION, value.parse().expect("header value"));
        basic_credentials(&headers)
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let pair = |id: &str, secret: &str| Some((id.to_string(), secret.to_string()));
        assert_eq!(basic("hr%2Dbot:s%5F1%2B2").unwrap(), pair("hr-bot", "s_1+2"));
        assert_eq!(basic("hr-bot:a+b%20c").unwrap(), pair("hr-bot", "a b c"));
        assert_eq!(basic("%C3%B1:x").unwrap(), pair("ñ", "x"));
        assert_eq!(basic("id:pass:word").unwrap(), pair("id", "pass:word"));
        for broken in ["hr%2:x", "id:%zz", "id:50%", "%FF:x", "no-colon"] {
            assert!(basic(broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn other_schemes_are_not_basic() {
        let mut headers = HeaderMap::new();
        assert!(basic_credentials(&headers).unwrap().is_none());
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(basic_credentials(&headers).unwrap().is_none());
        headers.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(basic_credentials(&headers).is_err());
    }
}
