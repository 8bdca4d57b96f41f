use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{DeliveryError, OtpMessage, Sender};
use crate::config::{Secret, WebhookConfig};

/// The bot platform delivers the code itself: a signed POST of the whole message.
pub struct WebhookSender {
    http: reqwest::Client,
    url: String,
    secret: Secret,
}

impl WebhookSender {
    pub fn new(config: &WebhookConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("delivery.webhook: {e}"))?;
        Ok(Self { http, url: config.url.clone(), secret: config.secret.clone() })
    }
}

pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait::async_trait]
impl Sender for WebhookSender {
    async fn send(&self, m: &OtpMessage) -> Result<(), DeliveryError> {
        let body = json!({
            "challenge_id": m.challenge_id,
            "method": m.method,
            "destination": m.destination,
            "code": m.code,
            "message": m.message,
            "locale": m.locale,
            "expires_at": crate::clock::rfc3339(m.expires_at),
            "conversation": {"channel": m.channel, "id": m.conversation_id},
        })
        .to_string();
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-doorman-signature", signature(self.secret.expose().as_bytes(), body.as_bytes()))
            .body(body)
            .send()
            .await
            // Only the error kind: reqwest's text can carry the URL, never the code, but
            // keep provider details out of anything a client might see.
            .map_err(|e| {
                DeliveryError::Unreachable(if e.is_timeout() { "timeout".into() } else { "connection failed".into() })
            })?;
        if response.status().is_success() { Ok(()) } else { Err(DeliveryError::Rejected(response.status().as_u16())) }
    }
}
