//! Getting a code to a person. Each method (sms, whatsapp, email) is carried by one
//! provider behind the [`Sender`] trait, so tests and new providers plug in the same way.
mod console;
mod masking;
mod messages;
mod webhook;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use crate::clock::Millis;
use crate::config::{Config, Provider};
pub use console::ConsoleSender;
pub use masking::mask;
pub use messages::{Messages, language_of};
pub use webhook::{WebhookSender, signature as webhook_signature};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Sms,
    Whatsapp,
    Email,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Sms => "sms",
            Method::Whatsapp => "whatsapp",
            Method::Email => "email",
        }
    }

    pub fn provider(self, delivery: &crate::config::Delivery) -> Provider {
        match self {
            Method::Sms => delivery.sms,
            Method::Whatsapp => delivery.whatsapp,
            Method::Email => delivery.email,
        }
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sms" => Ok(Method::Sms),
            "whatsapp" => Ok(Method::Whatsapp),
            "email" => Ok(Method::Email),
            other => Err(format!("unknown delivery method `{other}` (sms, whatsapp, email)")),
        }
    }
}

/// `method:record_field` from a flow's `delivery` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTarget {
    pub method: Method,
    pub field: String,
}

impl FromStr for DeliveryTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (method, field) = s.split_once(':').ok_or_else(|| format!("`{s}` is not `method:record_field`"))?;
        if field.is_empty() {
            return Err(format!("`{s}` names no record field"));
        }
        Ok(Self { method: method.parse()?, field: field.to_string() })
    }
}

/// Everything a provider needs to deliver one code.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OtpMessage {
    pub challenge_id: String,
    pub method: Method,
    /// The full address from the record, never from the request.
    pub destination: String,
    pub code: String,
    pub message: String,
    pub locale: String,
    pub expires_at: Millis,
    pub channel: String,
    pub conversation_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("provider answered {0}")]
    Rejected(u16),
    #[error("provider unreachable: {0}")]
    Unreachable(String),
}

#[async_trait::async_trait]
pub trait Sender: Send + Sync {
    async fn send(&self, message: &OtpMessage) -> Result<(), DeliveryError>;
}

/// The sender for each method, built once from the configuration.
#[derive(Clone)]
pub struct Deliveries {
    senders: HashMap<Method, Arc<dyn Sender>>,
}

impl Deliveries {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let console: Arc<dyn Sender> = Arc::new(ConsoleSender);
        let webhook: Option<Arc<dyn Sender>> = match &config.delivery.webhook {
            Some(w) => Some(Arc::new(WebhookSender::new(w)?)),
            None => None,
        };
        let mut senders = HashMap::new();
        for method in [Method::Sms, Method::Whatsapp, Method::Email] {
            let sender = match method.provider(&config.delivery) {
                Provider::Console => console.clone(),
                Provider::Webhook => webhook.clone().ok_or("delivery.webhook: missing")?,
                Provider::Twilio | Provider::Smtp => {
                    return Err(format!("delivery.{}: provider not available", method.as_str()));
                }
            };
            senders.insert(method, sender);
        }
        Ok(Self { senders })
    }

    /// Replaces the sender of one method (tests, embedding applications).
    pub fn with_sender(mut self, method: Method, sender: Arc<dyn Sender>) -> Self {
        self.senders.insert(method, sender);
        self
    }

    pub fn uses_console(config: &Config) -> bool {
        [Method::Sms, Method::Whatsapp, Method::Email].iter().any(|m| m.provider(&config.delivery) == Provider::Console)
    }

    pub async fn send(&self, message: &OtpMessage) -> Result<(), DeliveryError> {
        match self.senders.get(&message.method) {
            Some(sender) => sender.send(message).await,
            None => Err(DeliveryError::Unreachable("no sender".into())),
        }
    }
}
