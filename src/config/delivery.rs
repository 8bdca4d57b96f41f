//! `[delivery.*]`: which provider carries each method, the providers' settings, the
//! abuse limits and the QA test codes.
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::Secret;

/// Which provider carries each delivery method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[default]
    Console,
    Webhook,
    Twilio,
    Smtp,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    pub sms: Provider,
    pub whatsapp: Provider,
    pub email: Provider,
    pub webhook: Option<WebhookConfig>,
    pub twilio: Option<TwilioConfig>,
    pub smtp: Option<SmtpConfig>,
    pub limits: Limits,
    /// QA destinations (E.164 phone or e-mail) → the code that verifies for them.
    /// Nothing is sent to them.
    pub test_codes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: Secret,
    #[serde(default = "ten_seconds", with = "humantime_serde")]
    pub timeout: Duration,
}

/// SMS and WhatsApp through Twilio's Messages API, optionally Twilio Verify v2.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: Secret,
    /// E.164 sender for SMS; or use `messaging_service_sid`.
    pub sms_from: Option<String>,
    /// E.164 WhatsApp sender, without the `whatsapp:` prefix.
    pub whatsapp_from: Option<String>,
    /// Sends through a Messaging Service instead of a fixed `From`.
    pub messaging_service_sid: Option<String>,
    /// An approved WhatsApp authentication template (`HX...`); the code is variable `1`.
    pub whatsapp_content_sid: Option<String>,
    #[serde(default = "twilio_api")]
    pub base_url: String,
    #[serde(default = "ten_seconds", with = "humantime_serde")]
    pub timeout: Duration,
    /// Twilio Verify v2, for flows with `twilio_verify = true`.
    pub verify: Option<TwilioVerifyConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioVerifyConfig {
    /// The Verify service (`VA...`).
    pub service_sid: String,
    #[serde(default = "twilio_verify_api")]
    pub base_url: String,
}

/// E-mail through an SMTP server. `url` is `smtp://host:port` (plain),
/// `smtp://host:port?tls=required` (STARTTLS) or `smtps://host:port` (TLS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub url: String,
    /// The sender mailbox, e.g. `Doorman <no-reply@example.com>`.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    #[serde(default = "ten_seconds", with = "humantime_serde")]
    pub timeout: Duration,
}

/// Guards against SMS pumping and runaway cost, counted in the database so that they
/// hold across replicas.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub per_destination_per_hour: u32,
    pub global_per_hour: u32,
    /// Country calling codes (`"34"`, `"1"`) that sms and whatsapp may reach; empty = any.
    pub allowed_country_codes: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Self { per_destination_per_hour: 5, global_per_hour: 1000, allowed_country_codes: Vec::new() }
    }
}

pub(super) fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}

fn twilio_api() -> String {
    "https://api.twilio.com".into()
}

fn twilio_verify_api() -> String {
    "https://verify.twilio.com".into()
}

#[cfg(test)]
mod tests {
    use super::super::load::from_str;

    /// The `[delivery]` section of DESIGN.md §4, with its secrets written inline.
    const DESIGN: &str = r#"
[delivery]
sms = "twilio"
whatsapp = "twilio"
email = "smtp"
[delivery.twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "token"
sms_from = "+15005550006"
whatsapp_from = "+14155238886"
base_url = "https://api.twilio.com"
[delivery.smtp]
url = "smtp://127.0.0.1:2525"
from = "Doorman <no-reply@example.com>"
[delivery.limits]
per_destination_per_hour = 5
global_per_hour = 1000
allowed_country_codes = ["34", "1"]
[delivery.test_codes]
"+34600000000" = "123456"
"#;

    #[test]
    fn the_design_example_is_accepted_and_typed() {
        let config = from_str(DESIGN).unwrap();
        let twilio = config.delivery.twilio.clone().unwrap();
        assert_eq!(twilio.timeout.as_secs(), 10);
        assert!(twilio.verify.is_none());
        assert_eq!(config.delivery.limits.allowed_country_codes, ["34", "1"]);
        assert_eq!(config.delivery.smtp.clone().unwrap().from, "Doorman <no-reply@example.com>");
    }

    #[test]
    fn each_mistake_is_reported_with_its_key() {
        for (change, key) in [
            (("sms = \"twilio\"", "sms = \"smtp\""), "delivery.sms"),
            (("email = \"smtp\"", "email = \"twilio\""), "delivery.email"),
            (
                ("account_sid = \"AC0123456789abcdef0123456789abcdef\"", "account_sid = \"AC1\""),
                "delivery.twilio.account_sid",
            ),
            (("sms_from = \"+15005550006\"", "sms_from = \"15005550006\""), "delivery.twilio.sms_from"),
            (("sms_from = \"+15005550006\"", ""), "delivery.twilio.sms_from"),
            (("base_url = \"https://api.twilio.com\"", "base_url = \"api.twilio.com\""), "delivery.twilio.base_url"),
            (("url = \"smtp://127.0.0.1:2525\"", "url = \"imap://127.0.0.1\""), "delivery.smtp.url"),
            (("from = \"Doorman <no-reply@example.com>\"", "from = \"nobody\""), "delivery.smtp.from"),
            (
                ("per_destination_per_hour = 5", "per_destination_per_hour = 0"),
                "delivery.limits.per_destination_per_hour",
            ),
            (("[\"34\", \"1\"]", "[\"+34\"]"), "delivery.limits.allowed_country_codes"),
            (("\"+34600000000\" = \"123456\"", "\"+34600000000\" = \"12345\""), "delivery.test_codes"),
            (("\"+34600000000\" = \"123456\"", "\"QA phone\" = \"123456\""), "delivery.test_codes"),
            (("global_per_hour = 1000", "global_per_hour = 1000\nburst = 3"), "delivery.limits"),
        ] {
            let text = DESIGN.replacen(change.0, change.1, 1);
            assert_ne!(text, DESIGN, "{change:?} changed nothing");
            let err = from_str(&text).unwrap_err().to_string();
            assert!(err.starts_with(key), "{change:?}: {err}");
        }
        let without_smtp = DESIGN.replacen("[delivery.smtp]", "[delivery.unused]", 1);
        assert!(from_str(&without_smtp).unwrap_err().to_string().starts_with("delivery"));
    }
}
