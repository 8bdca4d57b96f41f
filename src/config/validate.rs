//! Cross-checks that serde cannot express: names that must refer to each other, bounds.
use std::collections::HashSet;

use super::{Config, ConfigError, Provider};
use crate::delivery::DeliveryTarget;

/// Claims every token carries; a flow may not copy a record field over them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "sid",
    "roles",
    "amr",
    "acr",
    "auth_time",
    "channel",
    "flow",
    "scope",
];

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(err("server.listen", "expected an address like 127.0.0.1:8080"));
        }
        if !(4..=10).contains(&self.otp.length) {
            return Err(err("otp.length", "must be between 4 and 10 digits"));
        }
        for (key, value) in [
            ("otp.max_attempts", self.otp.max_attempts),
            ("otp.max_sends", self.otp.max_sends),
            ("otp.max_failures_per_record", self.otp.max_failures_per_record),
        ] {
            if value == 0 {
                return Err(err(key, "must be at least 1"));
            }
        }
        for (key, value) in [
            ("otp.ttl", self.otp.ttl),
            ("tokens.access_ttl", self.tokens.access_ttl),
            ("sessions.idle_timeout", self.sessions.idle_timeout),
            ("sessions.max_lifetime", self.sessions.max_lifetime),
        ] {
            if value.is_zero() {
                return Err(err(key, "must be longer than zero"));
            }
        }
        unique_names("directories", self.directories.iter().map(|d| d.name.as_str()))?;
        unique_names("flows", self.flows.iter().map(|f| f.name.as_str()))?;
        unique_names("clients", self.clients.iter().map(|c| c.id.as_str()))?;
        for (i, directory) in self.directories.iter().enumerate() {
            if directory.identifiers.is_empty() {
                return Err(err(format!("directories[{i}].identifiers"), "name at least one field"));
            }
        }
        for (i, flow) in self.flows.iter().enumerate() {
            let key = |field: &str| format!("flows[{i}].{field}");
            let directory = self.directory(&flow.directory).ok_or_else(|| {
                err(key("directory"), format!("no directory named `{}` is configured", flow.directory))
            })?;
            if !directory.identifiers.contains(&flow.identify_by) {
                return Err(err(
                    key("identify_by"),
                    format!("`{}` is not one of directory `{}`'s identifiers", flow.identify_by, directory.name),
                ));
            }
            for target in &flow.delivery {
                let parsed: DeliveryTarget = target.parse().map_err(|e: String| err(key("delivery"), e))?;
                if parsed.method.provider(&self.delivery) == Provider::Webhook && self.delivery.webhook.is_none() {
                    return Err(err(
                        "delivery.webhook",
                        "webhook delivery is selected but [delivery.webhook] is missing",
                    ));
                }
            }
            if flow.require_otp && flow.delivery.is_empty() {
                return Err(err(key("delivery"), "a flow that requires an OTP needs at least one delivery method"));
            }
            if let Some(claim) = flow.claims.iter().find(|c| RESERVED_CLAIMS.contains(&c.as_str())) {
                return Err(err(key("claims"), format!("`{claim}` is a reserved token claim")));
            }
            if flow.max_identify_attempts == 0 {
                return Err(err(key("max_identify_attempts"), "must be at least 1"));
            }
        }
        for (i, client) in self.clients.iter().enumerate() {
            if let Some(flow) = client.flows.iter().find(|f| self.flow(f).is_none()) {
                return Err(err(format!("clients[{i}].flows"), format!("no flow named `{flow}` is configured")));
            }
        }
        for (name, provider) in [
            ("delivery.sms", self.delivery.sms),
            ("delivery.whatsapp", self.delivery.whatsapp),
            ("delivery.email", self.delivery.email),
        ] {
            if matches!(provider, Provider::Twilio | Provider::Smtp) {
                return Err(err(name, "this provider is not available in this build; use console or webhook"));
            }
        }
        Ok(())
    }
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::invalid(key, message)
}

fn unique_names<'a>(section: &str, names: impl Iterator<Item = &'a str>) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, name) in names.enumerate() {
        if name.is_empty() || name.len() > 64 {
            return Err(ConfigError::invalid(format!("{section}[{i}]"), "a name must have 1 to 64 characters"));
        }
        if !seen.insert(name) {
            return Err(ConfigError::invalid(format!("{section}[{i}]"), format!("`{name}` is defined twice")));
        }
    }
    Ok(())
}
