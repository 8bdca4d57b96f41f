//! Cross-checks that serde cannot express: names that must refer to each other, bounds.
use std::collections::HashSet;

use super::{Config, ConfigError, Provider, TwilioConfig};
use crate::delivery::{SmtpSender, address};

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
        let public_url = self.server.public_url.parse::<axum::http::Uri>().ok();
        if !public_url.is_some_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some()) {
            return Err(err("server.public_url", "expected an http(s) URL like https://auth.example.com"));
        }
        if !(4..=10).contains(&self.otp.length) {
            return Err(err("otp.length", "must be between 4 and 10 digits"));
        }
        for (key, value) in [
            ("otp.max_attempts", self.otp.max_attempts),
            ("otp.max_sends", self.otp.max_sends),
            ("otp.max_failures_per_record", self.otp.max_failures_per_record),
            ("otp.max_consecutive_failures", self.otp.max_consecutive_failures),
        ] {
            if value == 0 {
                return Err(err(key, "must be at least 1"));
            }
        }
        if self.otp.max_record_lockout < self.otp.record_lockout {
            return Err(err("otp.max_record_lockout", "must be at least otp.record_lockout"));
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
                if target.method.provider(&self.delivery) == Provider::Webhook && self.delivery.webhook.is_none() {
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
            if flow.twilio_verify && self.delivery.twilio.as_ref().is_none_or(|t| t.verify.is_none()) {
                return Err(err(key("twilio_verify"), "needs [delivery.twilio.verify] with the Verify service_sid"));
            }
            if flow.max_identify_attempts == 0 {
                return Err(err(key("max_identify_attempts"), "must be at least 1"));
            }
        }
        for (i, client) in self.clients.iter().enumerate() {
            if let Some(problem) = crate::domain::clients::client_id_problem(&client.id) {
                return Err(err(format!("clients[{i}].id"), format!("`{}`: {problem}", client.id)));
            }
            if let Some(flow) = client.flows.iter().find(|f| self.flow(f).is_none()) {
                return Err(err(format!("clients[{i}].flows"), format!("no flow named `{flow}` is configured")));
            }
        }
        self.validate_delivery()?;
        self.validate_dialog()?;
        if let Some((key, why)) = self.audit.problem() {
            return Err(err(key, why));
        }
        // Route templates, bindings, overlaps and audiences: the proxy compiles the same table.
        crate::proxy::routes::Services::compile(&self.services, &self.tokens.audience)
            .map_err(|(key, message)| err(key, message))?;
        Ok(())
    }
}

impl Config {
    fn validate_delivery(&self) -> Result<(), ConfigError> {
        let delivery = &self.delivery;
        for (name, provider, allowed) in [
            ("delivery.sms", delivery.sms, [Provider::Console, Provider::Webhook, Provider::Twilio]),
            ("delivery.whatsapp", delivery.whatsapp, [Provider::Console, Provider::Webhook, Provider::Twilio]),
            ("delivery.email", delivery.email, [Provider::Console, Provider::Webhook, Provider::Smtp]),
        ] {
            if !allowed.contains(&provider) {
                return Err(err(name, format!("this method cannot use that provider; use one of {allowed:?}")));
            }
            let section = match provider {
                Provider::Webhook if delivery.webhook.is_none() => "webhook",
                Provider::Twilio if delivery.twilio.is_none() => "twilio",
                Provider::Smtp if delivery.smtp.is_none() => "smtp",
                _ => continue,
            };
            return Err(err(
                format!("delivery.{section}"),
                format!("{name} uses it but [delivery.{section}] is missing"),
            ));
        }
        if let Some(webhook) = &delivery.webhook {
            crate::delivery::webhook::standard_key(webhook.secret.expose())
                .map_err(|e| err("delivery.webhook.secret", e.trim_start_matches("secret: ")))?;
        }
        if let Some(twilio) = &delivery.twilio {
            self.validate_twilio(twilio)?;
        }
        if let Some(smtp) = &delivery.smtp {
            SmtpSender::new(smtp).map_err(|e| match e.split_once(": ") {
                Some((field, message)) => err(format!("delivery.smtp.{field}"), message),
                None => err("delivery.smtp", e),
            })?;
        }
        let limits = &delivery.limits;
        if limits.per_destination_per_hour == 0 {
            return Err(err("delivery.limits.per_destination_per_hour", "must be at least 1"));
        }
        if limits.global_per_hour == 0 {
            return Err(err("delivery.limits.global_per_hour", "must be at least 1"));
        }
        if let Some(code) = limits
            .allowed_country_codes
            .iter()
            .find(|c| c.is_empty() || c.len() > 3 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(err(
                "delivery.limits.allowed_country_codes",
                format!("`{code}` is not a calling code like \"34\""),
            ));
        }
        let length = self.otp.length as usize;
        for (to, code) in &delivery.test_codes {
            let key = format!("delivery.test_codes.\"{to}\"");
            if address::normalize_any(to).is_none() {
                return Err(err(key, "not an E.164 phone number (+...) or an e-mail address"));
            }
            if code.len() != length || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(key, format!("the code must be {length} digits (otp.length)")));
            }
        }
        Ok(())
    }

    fn validate_twilio(&self, twilio: &TwilioConfig) -> Result<(), ConfigError> {
        let sid_ok = |sid: &str, prefix: &str| {
            sid.len() == 34 && sid.starts_with(prefix) && sid[2..].bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !sid_ok(&twilio.account_sid, "AC") {
            return Err(err("delivery.twilio.account_sid", "expected AC followed by 32 characters"));
        }
        for (key, url) in [
            ("delivery.twilio.base_url", Some(&twilio.base_url)),
            ("delivery.twilio.verify.base_url", twilio.verify.as_ref().map(|v| &v.base_url)),
        ] {
            if url.is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://"))) {
                return Err(err(key, "expected an http(s) URL"));
            }
        }
        for (key, from) in
            [("delivery.twilio.sms_from", &twilio.sms_from), ("delivery.twilio.whatsapp_from", &twilio.whatsapp_from)]
        {
            let e164 = |f: &str| {
                f.strip_prefix('+')
                    .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
            };
            if from.as_deref().is_some_and(|f| !e164(f)) {
                return Err(err(key, "expected an E.164 number like +15005550006"));
            }
        }
        for (method, name, from) in [
            (Provider::Twilio == self.delivery.sms, "sms_from", &twilio.sms_from),
            (Provider::Twilio == self.delivery.whatsapp, "whatsapp_from", &twilio.whatsapp_from),
        ] {
            if method && from.is_none() && twilio.messaging_service_sid.is_none() {
                return Err(err(format!("delivery.twilio.{name}"), "set it, or messaging_service_sid"));
            }
        }
        if let Some(verify) = &twilio.verify
            && !sid_ok(&verify.service_sid, "VA")
        {
            return Err(err("delivery.twilio.verify.service_sid", "expected VA followed by 32 characters"));
        }
        Ok(())
    }
}

impl Config {
    /// The dialog's flow keys, the playground and `[voice]`: names that must exist.
    fn validate_dialog(&self) -> Result<(), ConfigError> {
        for (i, flow) in self.flows.iter().enumerate() {
            let key = |field: &str| format!("flows[{i}].{field}");
            if flow.max_identifier_prompts == 0 {
                return Err(err(key("max_identifier_prompts"), "must be at least 1"));
            }
        }
        let client_flows = |id: &str| self.clients.iter().find(|c| c.id == id).map(|c| &c.flows);
        if let Some(client) = &self.playground.client
            && client_flows(client).is_none()
        {
            return Err(err("playground.client", format!("no client `{client}` is configured in [[clients]]")));
        }
        if self.playground.enabled && self.clients.is_empty() {
            return Err(err("playground.client", "the playground talks as a client: configure one in [[clients]]"));
        }
        let Some(voice) = &self.voice else {
            return Ok(());
        };
        voice.check().map_err(|(key, message)| err(key, message))?;
        let flows = client_flows(&voice.client)
            .ok_or_else(|| err("voice.client", format!("no client `{}` is configured in [[clients]]", voice.client)))?;
        match &voice.flow {
            Some(flow) if !flows.contains(flow) => {
                return Err(err("voice.flow", format!("client `{}` may not use flow `{flow}`", voice.client)));
            }
            None if flows.is_empty() => return Err(err("voice.client", "the client has no flows")),
            _ => {}
        }
        if voice.auth_token.is_none() && self.delivery.twilio.is_none() {
            return Err(err("voice.auth_token", "set it, or [delivery.twilio] auth_token"));
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
