//! Typed configuration: embedded defaults, then the TOML file, then `DOORMAN_` env vars.
//! Every problem is reported with the dotted name of the key it concerns.
mod delivery;
mod load;
mod secret;
mod services;
mod validate;

use std::time::Duration;

use serde::Deserialize;

pub use delivery::{Delivery, Limits, Provider, SmtpConfig, TwilioConfig, TwilioVerifyConfig, WebhookConfig};
pub use load::{ConfigError, load};
pub use secret::Secret;
pub use services::{Inject, RouteConfig, ServiceConfig, TokenMode};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub database: Database,
    pub keys: Keys,
    pub tokens: Tokens,
    pub sessions: Sessions,
    pub otp: Otp,
    pub admin: Admin,
    pub clients: Vec<ClientConfig>,
    pub directories: Vec<DirectoryConfig>,
    pub flows: Vec<FlowConfig>,
    pub delivery: Delivery,
    pub services: Vec<ServiceConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: std::net::SocketAddr,
    /// The JWT issuer (`iss`) and the base of the metadata documents.
    pub public_url: String,
    /// Largest request body accepted, in bytes (the proxy has its own, per service).
    pub max_body_bytes: usize,
    /// Addresses or CIDR ranges of reverse proxies in front of doorman. Only their
    /// `X-Forwarded-*` headers are believed and passed on to proxied services.
    #[serde(deserialize_with = "services::ip_ranges")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 16 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    pub url: String,
}

impl Default for Database {
    fn default() -> Self {
        Self { url: "sqlite://doorman.db?mode=rwc".into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Algorithm {
    ES256,
    RS256,
    EdDSA,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keys {
    pub dir: String,
    pub algorithm: Algorithm,
}

impl Default for Keys {
    fn default() -> Self {
        Self { dir: "keys".into(), algorithm: Algorithm::ES256 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tokens {
    #[serde(with = "humantime_serde")]
    pub access_ttl: Duration,
    pub audience: String,
    pub refresh_tokens: bool,
}

impl Default for Tokens {
    fn default() -> Self {
        Self { access_ttl: Duration::from_secs(300), audience: "doorman".into(), refresh_tokens: true }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sessions {
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub max_lifetime: Duration,
}

impl Default for Sessions {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(30 * 60), max_lifetime: Duration::from_secs(24 * 3600) }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Otp {
    pub length: u32,
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    pub max_attempts: u32,
    pub max_sends: u32,
    #[serde(with = "humantime_serde")]
    pub resend_cooldown: Duration,
    pub max_failures_per_record: u32,
    #[serde(with = "humantime_serde")]
    pub record_lockout: Duration,
    pub pepper: Option<Secret>,
    /// Language of the code message when neither the request nor the record names one.
    pub default_locale: String,
}

impl Default for Otp {
    fn default() -> Self {
        Self {
            length: 6,
            ttl: Duration::from_secs(300),
            max_attempts: 3,
            max_sends: 3,
            resend_cooldown: Duration::from_secs(30),
            max_failures_per_record: 10,
            record_lockout: Duration::from_secs(15 * 60),
            pepper: None,
            default_locale: "en".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    pub token: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub id: String,
    pub secret: Secret,
    #[serde(default)]
    pub flows: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    pub name: String,
    pub identifiers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    pub name: String,
    pub directory: String,
    pub identify_by: String,
    #[serde(default = "yes")]
    pub require_otp: bool,
    /// `method:record_field`, in order of preference.
    #[serde(default)]
    pub delivery: Vec<crate::delivery::DeliveryTarget>,
    #[serde(default)]
    pub claims: Vec<String>,
    #[serde(default = "three")]
    pub max_identify_attempts: u32,
    #[serde(default = "fifteen_minutes", with = "humantime_serde")]
    pub lockout: Duration,
    #[serde(default)]
    pub conceal_unknown: bool,
    /// When a provider fails, try the flow's next delivery method the record has.
    #[serde(default)]
    pub fallback: bool,
    /// Twilio Verify v2 owns the code for this flow's sms and whatsapp methods.
    #[serde(default)]
    pub twilio_verify: bool,
}

fn yes() -> bool {
    true
}
fn three() -> u32 {
    3
}
fn fifteen_minutes() -> Duration {
    Duration::from_secs(15 * 60)
}

/// A configuration that passed every check of [`Config::validated`]. Only the loader
/// and that method make one, so what is built from it (the application state) trusts it.
#[derive(Debug, Clone)]
pub struct ValidConfig(Config);

impl std::ops::Deref for ValidConfig {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.0
    }
}

impl Config {
    /// Runs the cross-checks that serde cannot express.
    pub fn validated(self) -> Result<ValidConfig, ConfigError> {
        self.validate()?;
        Ok(ValidConfig(self))
    }

    /// The issuer, spelled one way everywhere (`iss` in tokens, `issuer` in metadata):
    /// `public_url` without a trailing slash.
    pub fn issuer(&self) -> &str {
        self.server.public_url.trim_end_matches('/')
    }

    pub fn directory(&self, name: &str) -> Option<&DirectoryConfig> {
        self.directories.iter().find(|d| d.name == name)
    }

    pub fn flow(&self, name: &str) -> Option<&FlowConfig> {
        self.flows.iter().find(|f| f.name == name)
    }
}
