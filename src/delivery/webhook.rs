//! Code deliveries as a signed POST, under two signatures: doorman's own
//! `X-Doorman-Signature` (an HMAC of the body), and Standard Webhooks'
//! (<https://www.standardwebhooks.com>): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, which lets a
//! receiver reject a replayed delivery.
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
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
    /// The Standard Webhooks signing key.
    standard_key: Vec<u8>,
}

/// The Standard Webhooks key of the configured secret. A `whsec_<base64>` secret (the
/// spec's form) is the key its base64 holds; any other secret is the key as it is
/// written, so the receiver's secret is `whsec_` + the base64 of it.
pub fn standard_key(secret: &str) -> Result<Vec<u8>, String> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD
            .decode(encoded)
            .map_err(|_| "secret: a `whsec_` secret must be followed by standard base64".to_string()),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, the `webhook-signature` value.
pub fn standard_signature(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

impl WebhookSender {
    pub fn new(config: &WebhookConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("delivery.webhook: {e}"))?;
        let standard_key = standard_key(config.secret.expose()).map_err(|e| format!("delivery.webhook.{e}"))?;
        Ok(Self { http, url: config.url.clone(), secret: config.secret.clone(), standard_key })
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
        // One id per delivery: doorman does not retry, so a second POST with an id is a replay.
        let id = format!("msg_{}", crate::crypto::random_token(16));
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-doorman-signature", signature(self.secret.expose().as_bytes(), body.as_bytes()))
            .header("webhook-signature", standard_signature(&self.standard_key, &id, timestamp, body.as_bytes()))
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_key_is_the_whsec_base64_or_the_secret_itself() {
        assert_eq!(standard_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap().len(), 24);
        assert_eq!(standard_key("plain-secret").unwrap(), b"plain-secret");
        assert!(standard_key("whsec_not base64!").is_err());
    }

    #[test]
    fn the_standard_signature_matches_the_specs_example() {
        // The example of the Standard Webhooks specification (and of its libraries' tests).
        let key = standard_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            standard_signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
