//! SMS and WhatsApp through Twilio's Messages API, written on reqwest (rustls) rather
//! than a Twilio crate: the README says why.
use serde_json::{Value, json};

use super::{DeliveryError, Method, OtpMessage, Sender};
use crate::config::{Secret, TwilioConfig};

/// A form POST to Twilio with the account's Basic auth. Shared by Messages and Verify.
#[derive(Clone)]
pub(super) struct TwilioApi {
    http: reqwest::Client,
    account_sid: String,
    auth_token: Secret,
}

impl TwilioApi {
    pub(super) fn new(config: &TwilioConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("delivery.twilio: {e}"))?;
        Ok(Self { http, account_sid: config.account_sid.clone(), auth_token: config.auth_token.clone() })
    }

    /// One POST, never retried: a retry after a timeout could deliver a second code.
    /// Twilio's error JSON (`code`, `message`, `more_info`, `status`) becomes
    /// [`DeliveryError::Provider`] with the code only; the text stays out of replies.
    pub(super) async fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<Value, DeliveryError> {
        let response = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(form)
            .send()
            .await
            .map_err(|e| {
                DeliveryError::Unreachable(if e.is_timeout() { "timeout" } else { "connection failed" }.into())
            })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        match body.get("code").and_then(Value::as_i64) {
            Some(code) => Err(DeliveryError::Provider { code }),
            None => Err(DeliveryError::Rejected(status.as_u16())),
        }
    }
}

pub struct TwilioSender {
    api: TwilioApi,
    messages_url: String,
    sms_from: Option<String>,
    whatsapp_from: Option<String>,
    messaging_service_sid: Option<String>,
    whatsapp_content_sid: Option<String>,
}

impl TwilioSender {
    pub fn new(config: &TwilioConfig) -> Result<Self, String> {
        Ok(Self {
            api: TwilioApi::new(config)?,
            messages_url: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                config.base_url.trim_end_matches('/'),
                config.account_sid
            ),
            sms_from: config.sms_from.clone(),
            whatsapp_from: config.whatsapp_from.clone(),
            messaging_service_sid: config.messaging_service_sid.clone(),
            whatsapp_content_sid: config.whatsapp_content_sid.clone(),
        })
    }
}

/// WhatsApp addresses carry the channel prefix on both ends.
fn channel_address(method: Method, e164: &str) -> String {
    match method {
        Method::Whatsapp => format!("whatsapp:{e164}"),
        Method::Sms | Method::Email => e164.to_string(),
    }
}

#[async_trait::async_trait]
impl Sender for TwilioSender {
    async fn send(&self, m: &OtpMessage) -> Result<(), DeliveryError> {
        let to = channel_address(m.method, &m.destination);
        let from = match m.method {
            Method::Whatsapp => self.whatsapp_from.as_deref(),
            _ => self.sms_from.as_deref(),
        }
        .map(|f| channel_address(m.method, f));
        let mut form = vec![("To", to.as_str())];
        match (&self.messaging_service_sid, &from) {
            (Some(service), _) => form.push(("MessagingServiceSid", service)),
            (None, Some(from)) => form.push(("From", from)),
            (None, None) => return Err(DeliveryError::Unreachable("no sender configured".into())),
        }
        // Business-initiated WhatsApp messages need an approved template; an
        // authentication template takes the code as its variable 1.
        let variables = json!({"1": m.code}).to_string();
        match (m.method, &self.whatsapp_content_sid) {
            (Method::Whatsapp, Some(content)) => {
                form.push(("ContentSid", content));
                form.push(("ContentVariables", &variables));
            }
            _ => form.push(("Body", &m.message)),
        }
        self.api.post(&self.messages_url, &form).await.map(drop)
    }
}
