//! `[log]` and `[metrics]`: how doorman reports on itself (DESIGN.md §11).
use serde::Deserialize;

use super::Secret;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event; coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line, for a log shipper.
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// `GET /metrics` is off unless enabled, and then answers only the scraper holding
/// `token`: counts of logins, lockouts and refusals tell an attacker how an attack goes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// The Bearer token Prometheus sends (`authorization.credentials_file`).
    pub token: Option<Secret>,
}

/// The shortest metrics token accepted: it guards a public endpoint.
const MIN_TOKEN_CHARS: usize = 16;

impl MetricsConfig {
    /// A one-line reason if the values cannot work, for `Config::validate`.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        match (&self.token, self.enabled) {
            (None, true) => Some(("metrics.token", "is required when metrics.enabled = true")),
            (Some(token), _) if token.expose().len() < MIN_TOKEN_CHARS => {
                Some(("metrics.token", "must be at least 16 characters"))
            }
            _ => None,
        }
    }
}
