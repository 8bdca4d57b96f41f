//! Twilio Verify v2: Twilio makes, sends and checks the code. doorman still counts
//! attempts, sends and lockouts itself, and stores no code.
use serde_json::Value;

use super::twilio::TwilioApi;
use super::{DeliveryError, Method};
use crate::config::TwilioConfig;

/// Twilio's "resource not found": the verification expired, was approved, or ran out
/// of Twilio's own attempts. For doorman that is simply a wrong code.
const NOT_FOUND: i64 = 20404;

pub struct TwilioVerify {
    api: TwilioApi,
    verifications_url: String,
    check_url: String,
}

impl TwilioVerify {
    /// `None` when the configuration has no `[delivery.twilio.verify]`.
    pub fn new(config: &TwilioConfig) -> Result<Option<Self>, String> {
        let Some(verify) = &config.verify else {
            return Ok(None);
        };
        let service = format!("{}/v2/Services/{}", verify.base_url.trim_end_matches('/'), verify.service_sid);
        Ok(Some(Self {
            api: TwilioApi::new(config)?,
            verifications_url: format!("{service}/Verifications"),
            check_url: format!("{service}/VerificationCheck"),
        }))
    }

    /// Starts (or, for the same number, re-sends) a verification.
    pub async fn start(&self, method: Method, to: &str, locale: &str) -> Result<(), DeliveryError> {
        let form = [("To", to), ("Channel", method.as_str()), ("Locale", locale)];
        self.api.post(&self.verifications_url, &form).await.map(drop)
    }

    /// Whether Twilio approves `code` for `to`.
    pub async fn check(&self, to: &str, code: &str) -> Result<bool, DeliveryError> {
        match self.api.post(&self.check_url, &[("To", to), ("Code", code)]).await {
            Ok(body) => Ok(body.get("status").and_then(Value::as_str) == Some("approved")),
            Err(DeliveryError::Provider { code: NOT_FOUND, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
