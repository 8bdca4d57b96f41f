//! Getting a code to a person. Each method (sms, whatsapp, email) is carried by one
//! provider behind the [`Sender`] trait, so tests and new providers plug in the same way.
pub mod address;
mod console;
mod masking;
mod smtp;
mod twilio;
mod twilio_verify;
pub mod webhook;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use crate::clock::Millis;
use crate::config::{Config, Provider};
pub use address::{country_code, normalize as normalize_address};
pub use console::{ConsoleSender, Delivered, Outbox};
pub use masking::mask;
pub use smtp::SmtpSender;
pub use twilio::TwilioSender;
pub use twilio_verify::TwilioVerify;
pub use webhook::{WebhookSender, signature as webhook_signature};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
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

/// `method:record_field` from a flow's `delivery` list, parsed when the configuration
/// loads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
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

impl TryFrom<String> for DeliveryTarget {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
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
    /// The localized text with the code, and the subject line for e-mail.
    pub message: String,
    pub subject: String,
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
    /// The provider's own error code (Twilio's `code`, an SMTP reply code).
    #[error("provider refused the message with code {code}")]
    Provider { code: i64 },
}

impl DeliveryError {
    pub fn provider_code(&self) -> Option<i64> {
        match self {
            DeliveryError::Provider { code } => Some(*code),
            _ => None,
        }
    }
}

#[async_trait::async_trait]
pub trait Sender: Send + Sync {
    async fn send(&self, message: &OtpMessage) -> Result<(), DeliveryError>;
}

/// The sender for each method, built once from the configuration, plus what changes
/// how a code is made: Twilio Verify and the QA test codes.
#[derive(Clone)]
pub struct Deliveries {
    senders: HashMap<Method, Arc<dyn Sender>>,
    verify: Option<Arc<TwilioVerify>>,
    /// Canonical destination → fixed code.
    test_codes: Arc<HashMap<String, String>>,
    /// What console delivery sent lately, kept for the playground when it is on.
    outbox: Option<Arc<Outbox>>,
}

/// How many console deliveries the playground can show, all conversations together.
const OUTBOX_CAPACITY: usize = 200;

impl Deliveries {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let delivery = &config.delivery;
        let outbox = config.playground.enabled.then(|| Arc::new(Outbox::new(OUTBOX_CAPACITY)));
        let console: Arc<dyn Sender> = Arc::new(ConsoleSender::new(outbox.clone()));
        let webhook: Option<Arc<dyn Sender>> = match &delivery.webhook {
            Some(w) => Some(Arc::new(WebhookSender::new(w)?)),
            None => None,
        };
        let twilio: Option<Arc<dyn Sender>> = match &delivery.twilio {
            Some(t) => Some(Arc::new(TwilioSender::new(t)?)),
            None => None,
        };
        let smtp: Option<Arc<dyn Sender>> = match &delivery.smtp {
            Some(s) => Some(Arc::new(SmtpSender::new(s).map_err(|e| format!("delivery.smtp.{e}"))?)),
            None => None,
        };
        let mut senders = HashMap::new();
        for method in [Method::Sms, Method::Whatsapp, Method::Email] {
            let (sender, section) = match method.provider(delivery) {
                Provider::Console => (Some(console.clone()), ""),
                Provider::Webhook => (webhook.clone(), "webhook"),
                Provider::Twilio => (twilio.clone(), "twilio"),
                Provider::Smtp => (smtp.clone(), "smtp"),
            };
            senders.insert(method, sender.ok_or_else(|| format!("delivery.{section}: missing"))?);
        }
        let verify = match &delivery.twilio {
            Some(t) => TwilioVerify::new(t)?.map(Arc::new),
            None => None,
        };
        let test_codes = delivery
            .test_codes
            .iter()
            .filter_map(|(to, code)| address::normalize_any(to).map(|to| (to, code.clone())))
            .collect();
        Ok(Self { senders, verify, test_codes: Arc::new(test_codes), outbox })
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

    /// The console deliveries kept for the playground (only when it is enabled). Only
    /// the methods whose provider is console reach it: no other provider's code is shown.
    pub fn outbox(&self) -> Option<&Outbox> {
        self.outbox.as_deref()
    }

    /// Twilio Verify, when configured.
    pub fn verify(&self) -> Option<&TwilioVerify> {
        self.verify.as_deref()
    }

    /// The fixed QA code for a canonical destination, if it has one.
    pub fn test_code(&self, destination: &str) -> Option<&str> {
        self.test_codes.get(destination).map(String::as_str)
    }
}
