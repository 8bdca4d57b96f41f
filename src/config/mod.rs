//! Typed configuration: embedded defaults, then the TOML file, then `DOORMAN_` env vars.
//! Every problem is reported with the dotted name of the key it concerns.
mod audit;
mod delivery;
mod load;
mod secret;
mod services;
mod telemetry;
mod validate;
mod voice;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::texts::Texts;

pub use audit::AuditConfig;
pub use delivery::{Delivery, Limits, Provider, SmtpConfig, TwilioConfig, TwilioVerifyConfig, WebhookConfig};
pub use load::{ConfigError, load};
pub use secret::Secret;
pub use services::{Inject, RouteConfig, ServiceConfig, TokenMode};
pub use telemetry::{LogConfig, LogFormat, MetricsConfig};
pub use voice::{VoiceConfig, VoiceOf};

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
    pub dialog: DialogConfig,
    pub playground: Playground,
    pub audit: AuditConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    /// The phonebot keypad over Twilio Voice; off without this section.
    pub voice: Option<VoiceConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialogConfig {
    /// A folder of `<locale>.toml` files overriding the built-in texts, key by key.
    pub texts_dir: Option<std::path::PathBuf>,
    /// How long the `terms_url` check may take before the login goes to `terms_intent`.
    #[serde(with = "humantime_serde")]
    pub terms_timeout: Duration,
}

impl Default for DialogConfig {
    fn default() -> Self {
        Self { texts_dir: None, terms_timeout: Duration::from_secs(3) }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Playground {
    /// Serves `GET /playground`, a chat page that logs in as `client`. For development:
    /// it answers only to loopback peers, and shows codes only with console delivery.
    pub enabled: bool,
    /// The bot client the page talks as; defaults to the first configured client.
    pub client: Option<String>,
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
    /// How long a client may take to send a request head, counted from when the
    /// connection waits for one (so it also bounds an idle keep-alive connection).
    #[serde(with = "humantime_serde")]
    pub request_header_timeout: Duration,
    /// How long a request body may go without sending a byte.
    #[serde(with = "humantime_serde")]
    pub request_body_timeout: Duration,
    /// How long a connection may go without a byte read or written before it is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// After SIGTERM/SIGINT, how long open requests may finish before their connections close.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Open connections, over all peers; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Open connections from one IP address; one more is closed as soon as it is accepted.
    pub max_connections_per_ip: usize,
}

impl Server {
    /// A one-line reason if the values cannot work, for `Config::validated`.
    fn problem(&self) -> Option<(&'static str, &'static str)> {
        let timeouts = [
            ("server.request_header_timeout", self.request_header_timeout),
            ("server.request_body_timeout", self.request_body_timeout),
            ("server.idle_timeout", self.idle_timeout),
        ];
        if let Some((key, _)) = timeouts.iter().find(|(_, t)| t.is_zero()) {
            return Some((key, "must be longer than zero"));
        }
        if self.max_connections == 0 {
            return Some(("server.max_connections", "must be at least 1"));
        }
        if self.max_connections_per_ip == 0 || self.max_connections_per_ip > self.max_connections {
            return Some(("server.max_connections_per_ip", "must be between 1 and server.max_connections"));
        }
        None
    }
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 16 * 1024,
            trusted_proxies: Vec::new(),
            request_header_timeout: Duration::from_secs(10),
            request_body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
            max_connections: 10_000,
            max_connections_per_ip: 1_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    pub url: String,
    /// How long a request waits for a database connection (or, on SQLite, for another
    /// process's write lock) before it is answered 503 `temporarily_unavailable`.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

impl Default for Database {
    fn default() -> Self {
        Self { url: "sqlite://doorman.db?mode=rwc".into(), acquire_timeout: Duration::from_secs(2) }
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
    /// The first lockout of a record; each following one doubles, up to `max_record_lockout`.
    #[serde(with = "humantime_serde")]
    pub record_lockout: Duration,
    #[serde(with = "humantime_serde")]
    pub max_record_lockout: Duration,
    /// Failed codes in a row (across lockouts) after which the record's code login stays
    /// locked until an operator unlocks it (NIST SP 800-63B-4: at most 100).
    pub max_consecutive_failures: u32,
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
            max_record_lockout: Duration::from_secs(24 * 3600),
            max_consecutive_failures: 100,
            pepper: None,
            default_locale: "en".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    pub token: Option<Secret>,
    /// Largest bulk import body (`POST .../records`), in bytes. It is read as a stream,
    /// so this bounds the work, not the memory.
    pub max_import_bytes: u64,
}

impl Default for Admin {
    fn default() -> Self {
        Self { token: None, max_import_bytes: 256 * 1024 * 1024 }
    }
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
    /// The dialog (DESIGN.md §9): what an identifier looks like inside a message.
    #[serde(default)]
    pub identifier_format: crate::dialog::format::IdentifierFormat,
    /// What the dialog calls the identifier, per language: `{ en = "employee number" }`.
    #[serde(default)]
    pub identifier_label: BTreeMap<String, String>,
    /// Answers that hold no identifier before the dialog gives up.
    #[serde(default = "three")]
    pub max_identifier_prompts: u32,
    /// Offer the conversation's own number when it is the phone of exactly one record.
    #[serde(default)]
    pub offer_channel_number: bool,
    /// `GET {terms_url}?subject=...` after a login: 200 means the terms are accepted.
    #[serde(default)]
    pub terms_url: Option<WebUrl>,
    /// Where a login goes when the terms are not accepted (404, an error, a timeout).
    #[serde(default)]
    pub terms_intent: Option<String>,
    /// Where a login goes when the person asked for nothing before it.
    #[serde(default)]
    pub after_login_intent: Option<String>,
}

impl FlowConfig {
    /// A flow with every optional key at its default (embedding code and tests).
    pub fn new(name: &str, directory: &str, identify_by: &str) -> Self {
        Self {
            name: name.into(),
            directory: directory.into(),
            identify_by: identify_by.into(),
            require_otp: true,
            delivery: Vec::new(),
            claims: Vec::new(),
            max_identify_attempts: 3,
            lockout: fifteen_minutes(),
            conceal_unknown: false,
            fallback: false,
            twilio_verify: false,
            identifier_format: Default::default(),
            identifier_label: BTreeMap::new(),
            max_identifier_prompts: 3,
            offer_channel_number: false,
            terms_url: None,
            terms_intent: None,
            after_login_intent: None,
        }
    }

    /// The identifier's name in `language` (its base language, then English), else the
    /// field's name with spaces: `employee_number` is "employee number".
    pub fn identifier_label(&self, language: &str) -> String {
        let base = language.split(['-', '_']).next().unwrap_or(language);
        [language, base, "en"]
            .iter()
            .find_map(|l| self.identifier_label.get(*l))
            .cloned()
            .unwrap_or_else(|| self.identify_by.replace('_', " "))
    }
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

/// An absolute http(s) URL, parsed when the configuration loads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct WebUrl(reqwest::Url);

impl WebUrl {
    pub fn url(&self) -> &reqwest::Url {
        &self.0
    }
}

impl TryFrom<String> for WebUrl {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match reqwest::Url::parse(&s) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(Self(url)),
            _ => Err(format!("`{s}` is not an absolute http(s) URL")),
        }
    }
}

impl std::str::FromStr for WebUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::try_from(s.to_string())
    }
}

/// A configuration that passed every check of [`Config::validated`]. Only the loader
/// and that method make one, so what is built from it (the application state) trusts it.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    config: Config,
    /// The built-in texts with `[dialog] texts_dir`'s overrides, checked.
    pub texts: Texts,
}

impl std::ops::Deref for ValidConfig {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.config
    }
}

impl Config {
    /// Runs the cross-checks that serde cannot express and loads the text overrides.
    pub fn validated(self) -> Result<ValidConfig, ConfigError> {
        self.validate()?;
        if let Some((key, why)) = self.server.problem().or_else(|| self.metrics.problem()) {
            return Err(ConfigError::invalid(key, why));
        }
        let texts = Texts::load(self.dialog.texts_dir.as_deref())
            .map_err(|e| ConfigError::invalid("dialog.texts_dir", e.to_string()))?;
        Ok(ValidConfig { config: self, texts })
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
