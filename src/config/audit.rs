//! `[audit]`: how the audit trail is written and kept (DESIGN.md §12).
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// How long the proxy counts its decisions before writing them out: what a crash of
    /// doorman can lose of them. Every other event is committed before it is answered.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// `doorman audit prune` without `--before` or `--older-than` deletes events older
    /// than this. None keeps every event.
    #[serde(default, with = "humantime_serde")]
    pub retention: Option<Duration>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { flush_interval: Duration::from_secs(1), retention: None }
    }
}

impl AuditConfig {
    /// A one-line reason if the values cannot work, for `Config::validate`.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        if self.flush_interval.is_zero() || self.flush_interval > Duration::from_secs(60) {
            return Some(("audit.flush_interval", "must be between 1ms and 60s"));
        }
        if self.retention.is_some_and(|r| r < Duration::from_secs(24 * 3600)) {
            return Some(("audit.retention", "must be at least 1 day"));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        let parsed: AuditConfig = toml::from_str("flush_interval = \"250ms\"\nretention = \"90days\"\n").unwrap();
        assert_eq!(parsed.flush_interval, Duration::from_millis(250));
        assert_eq!(parsed.retention, Some(Duration::from_secs(90 * 24 * 3600)));
        assert_eq!(parsed.problem(), None);
        assert_eq!(AuditConfig::default().problem(), None);
        let zero = AuditConfig { flush_interval: Duration::ZERO, retention: None };
        assert_eq!(zero.problem().map(|p| p.0), Some("audit.flush_interval"));
        let short = AuditConfig { retention: Some(Duration::from_secs(60)), ..AuditConfig::default() };
        assert_eq!(short.problem().map(|p| p.0), Some("audit.retention"));
        assert!(toml::from_str::<AuditConfig>("flush = \"1s\"").is_err());
    }
}
